/* Jaeger propagation: `uber-trace-id: {trace-id}:{span-id}:{parent-span-id}:{flags}` and
 * baggage as `uberctx-{key}: {url-encoded value}` headers (Jaeger's client format, which the
 * OpenTelemetry "jaeger" propagator reads and writes).
 *
 * Rules kept here:
 *   - trace id: 1 to 32 hex digits, span id and parent span id 1 to 16 (Jaeger omits leading
 *     zeros; either case), left-padded; trace id and span id not all zero; the parent is
 *     deprecated and only checked. flags: 1 or 2 hex digits, bit 0x01 = sampled (the debug bit
 *     0x02 is not kept: a W3C-shaped context has no place for it).
 *   - the value may arrive URL-encoded (':' as %3A, as clients that encode header values send
 *     it); any other '%' is malformed.
 *   - inject writes {32 hex}:{16 hex}:0:{1|0} and one uberctx- header per baggage member;
 *     extract reads uberctx- headers only through a getter with `keys`. */
#include <stdio.h>

#include "propagation_internal.h"

#define JAEGER_MAX_LEN 128 /* a longer uber-trace-id is malformed */

static int hex_val(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 1..cap*2 hex digits, right-aligned into out[cap] (left zero padding). */
static int hex_right(const char *s, size_t n, uint8_t *out, size_t cap) {
  if (n == 0 || n > 2 * cap) return -1;
  memset(out, 0, cap);
  for (size_t i = 0; i < n; i++) {
    int v = hex_val(s[n - 1 - i]);
    if (v < 0) return -1;
    out[cap - 1 - i / 2] |= (uint8_t)(i % 2 ? v << 4 : v);
  }
  return 0;
}

UVOTEL__API int uvotel_jaeger_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__trim_ows(&s, &len);
  if (len > JAEGER_MAX_LEN) return UVOTEL_EPARSE;
  char buf[JAEGER_MAX_LEN];
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '%') {
      if (i + 2 >= len || s[i + 1] != '3' || (s[i + 2] != 'A' && s[i + 2] != 'a')) {
        return UVOTEL_EPARSE;
      }
      buf[n++] = ':';
      i += 2;
    } else {
      buf[n++] = s[i];
    }
  }
  const char *part[4];
  size_t plen[4], k = 0;
  const char *p = buf, *end = buf + n;
  while (k < 4) {
    const char *c = memchr(p, ':', (size_t)(end - p));
    part[k] = p;
    plen[k] = (size_t)((c ? c : end) - p);
    k++;
    if (c == NULL) break;
    p = c + 1;
  }
  if (k != 4) return UVOTEL_EPARSE;
  plen[3] = (size_t)(end - part[3]); /* the flags run to the end: a fifth field is malformed */
  if (memchr(part[3], ':', plen[3]) != NULL) return UVOTEL_EPARSE;
  uvotel_span_context_t sc = {0};
  uvotel_span_id_t parent;
  uint8_t flags;
  if (hex_right(part[0], plen[0], sc.trace_id.bytes, 16) != 0 ||
      hex_right(part[1], plen[1], sc.span_id.bytes, 8) != 0 ||
      hex_right(part[2], plen[2], parent.bytes, 8) != 0 ||
      hex_right(part[3], plen[3], &flags, 1) != 0) {
    return UVOTEL_EPARSE;
  }
  if (uvotel_trace_id_is_zero(&sc.trace_id) || uvotel_span_id_is_zero(&sc.span_id)) {
    return UVOTEL_EPARSE;
  }
  sc.flags = flags & UVOTEL_TRACE_FLAG_SAMPLED;
  sc.is_remote = 1;
  *out = sc;
  return 0;
}

#define UBERCTX "uberctx-"
#define UBERCTX_LEN 8
#define JAEGER_MAX_BAGGAGE 64 /* uberctx- headers read at most */

/* Add one uberctx- header to *b: parse "key=value" as a one-member W3C baggage (so the value is
 * percent-decoded by the one decoder baggage has), then set it on the accumulated baggage.
 * Malformed members are skipped. */
static int add_member(uvotel_baggage_t **b, uvotel_str_t key, uvotel_str_t val) {
  char line[UVOTEL_BAGGAGE_MAX_BYTES];
  const char *v = val.ptr;
  size_t vl = val.len;
  uvotel__trim_ows(&v, &vl);
  int n = snprintf(line, sizeof line, "%.*s=%.*s", (int)key.len, key.ptr, (int)vl, v);
  if (n < 0 || (size_t)n >= sizeof line) return 0;
  uvotel_baggage_t *one = NULL;
  int rc = uvotel_baggage_parse(line, (size_t)n, &one);
  if (rc == UVOTEL_ENOMEM) return rc;
  uvotel_baggage_entry_t e;
  if (rc != 0 || uvotel_baggage_at(one, 0, &e) != 0) {
    uvotel_baggage_release(one);
    return 0;
  }
  char k[UVOTEL_BAGGAGE_MAX_BYTES], dv[UVOTEL_BAGGAGE_MAX_BYTES];
  snprintf(k, sizeof k, "%.*s", (int)e.key.len, e.key.ptr);
  snprintf(dv, sizeof dv, "%.*s", (int)e.value.len, e.value.ptr);
  uvotel_baggage_t *next = NULL;
  rc = uvotel_baggage_set(*b, k, dv, NULL, &next);
  uvotel_baggage_release(one);
  if (rc == UVOTEL_ENOMEM) return rc;
  if (rc == 0) {
    uvotel_baggage_release(*b);
    *b = next;
  }
  return 0;
}

static int extract_baggage(void *carrier, const uvotel_carrier_getter_t *g, uvotel_extracted_t *x) {
  if (g->keys == NULL) return 0;
  uvotel_str_t names[JAEGER_MAX_BAGGAGE];
  size_t nn = g->keys(carrier, names, JAEGER_MAX_BAGGAGE);
  if (nn > JAEGER_MAX_BAGGAGE) nn = JAEGER_MAX_BAGGAGE;
  uvotel_baggage_t *b = uvotel_baggage_retain(x->baggage);
  int rc = 0;
  for (size_t i = 0; i < nn && rc == 0; i++) {
    uvotel_str_t nm = names[i];
    if (nm.ptr == NULL || nm.len <= UBERCTX_LEN || strncasecmp(nm.ptr, UBERCTX, UBERCTX_LEN)) {
      continue;
    }
    char lower[256];
    if (nm.len >= sizeof lower) continue;
    for (size_t j = 0; j < nm.len; j++) {
      char c = nm.ptr[j];
      lower[j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    lower[nm.len] = '\0';
    uvotel_str_t v[2];
    if (g->get(carrier, lower, v, 2) != 1 || v[0].ptr == NULL) continue;
    uvotel_str_t key = {lower + UBERCTX_LEN, nm.len - UBERCTX_LEN};
    rc = add_member(&b, key, v[0]);
  }
  if (rc == 0 && b != x->baggage) {
    uvotel_baggage_release(x->baggage);
    x->baggage = b;
  } else {
    uvotel_baggage_release(b);
  }
  return rc;
}

static int jaeger_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                          uvotel_extracted_t *x) {
  (void)self;
  uvotel_str_t v[2];
  uvotel_span_context_t sc;
  if (g->get(carrier, "uber-trace-id", v, 2) == 1 && v[0].ptr != NULL &&
      uvotel_jaeger_parse(v[0].ptr, v[0].len, &sc) == 0) {
    uvotel_trace_state_release(x->span_context.trace_state);
    x->span_context = sc;
  }
  return extract_baggage(carrier, g, x);
}

static int is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

static int jaeger_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                         void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self;
  int rc = 0;
  if (uvotel_span_context_is_valid(sc)) {
    char tid[33], sid[17], buf[32 + 1 + 16 + 3 + 1 + 1];
    int n = snprintf(buf, sizeof buf, "%s:%s:0:%c", uvotel_trace_id_to_hex(&sc->trace_id, tid),
                     uvotel_span_id_to_hex(&sc->span_id, sid),
                     (sc->flags & UVOTEL_TRACE_FLAG_SAMPLED) ? '1' : '0');
    rc = setter->set(carrier, "uber-trace-id", buf, (size_t)n);
  }
  size_t n = uvotel_baggage_count(bg);
  for (size_t i = 0; i < n && rc >= 0; i++) {
    uvotel_baggage_entry_t e;
    if (uvotel_baggage_at(bg, i, &e) != 0) continue;
    char name[UBERCTX_LEN + 256], val[3 * UVOTEL_BAGGAGE_MAX_BYTES + 1];
    if (e.key.len >= 256 || e.value.len > UVOTEL_BAGGAGE_MAX_BYTES) continue;
    memcpy(name, UBERCTX, UBERCTX_LEN);
    for (size_t j = 0; j < e.key.len; j++) {
      char c = e.key.ptr[j];
      name[UBERCTX_LEN + j] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    name[UBERCTX_LEN + e.key.len] = '\0';
    size_t vl = 0;
    for (size_t j = 0; j < e.value.len; j++) {
      unsigned char c = (unsigned char)e.value.ptr[j];
      if (is_unreserved(c)) {
        val[vl++] = (char)c;
      } else {
        val[vl++] = '%';
        val[vl++] = "0123456789ABCDEF"[c >> 4];
        val[vl++] = "0123456789ABCDEF"[c & 15];
      }
    }
    val[vl] = '\0';
    rc = setter->set(carrier, name, val, vl);
  }
  return rc < 0 ? rc : 0;
}

static const char *const jaeger_fields[] = {"uber-trace-id"};

static size_t jaeger_fields_fn(void *self, const char *const **names) {
  (void)self;
  *names = jaeger_fields;
  return 1;
}

const uvotel_propagator_ops_t uvotel__jaeger_ops = {
    .inject = jaeger_inject, .extract = jaeger_extract, .fields = jaeger_fields_fn};
