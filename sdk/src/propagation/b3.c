/* Zipkin B3 propagation (openzipkin/b3-propagation), as the OpenTelemetry propagators
 * specification profiles it: "b3" injects the single `b3` header, "b3multi" the X-B3-* headers;
 * both extract either form, the single header first.
 *
 * Rules kept here (the format's own, stricter where it says "lower-hex"):
 *   - trace id: 16 or 32 lower-hex characters (16 are left-padded with zeros to 128 bits);
 *     span id: 16 lower-hex characters; neither all zero.
 *   - single header: {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]], state 1, 0 or d;
 *     a header that is only a sampling state carries no ids, so it gives no parent.
 *   - multi header: X-B3-Sampled 1/0 (and the legacy true/false), X-B3-Flags: 1 is debug.
 *   - debug implies sampled; an absent sampling state is a deferred decision, which a W3C-shaped
 *     span context can only carry as "not sampled" (what OpenTelemetry Java and JS do too).
 *   - inject never sends X-B3-ParentSpanId nor the debug flag (OpenTelemetry's profile). */
#include <stdio.h>

#include "propagation_internal.h"

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* n lower-hex characters (n even) into n/2 bytes; 0 on success. */
static int lower_hex_decode(const char *s, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i += 2) {
    int hi = hex_nibble(s[i]), lo = hex_nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return -1;
    out[i / 2] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

static int parse_trace_id(const char *s, size_t n, uvotel_trace_id_t *out) {
  memset(out, 0, sizeof *out);
  if (n == 32) return lower_hex_decode(s, 32, out->bytes);
  if (n == 16) return lower_hex_decode(s, 16, out->bytes + 8);
  return -1;
}

static int parse_span_id(const char *s, size_t n, uvotel_span_id_t *out) {
  return n == 16 ? lower_hex_decode(s, 16, out->bytes) : -1;
}

static int ids_valid(const uvotel_span_context_t *sc) {
  return !uvotel_trace_id_is_zero(&sc->trace_id) && !uvotel_span_id_is_zero(&sc->span_id);
}

UVOTEL__API int uvotel_b3_single_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__trim_ows(&s, &len);
  const char *end = s + len, *dash = memchr(s, '-', len);
  if (dash == NULL) return UVOTEL_EPARSE; /* no ids: at most a bare sampling state */
  uvotel_span_context_t sc = {0};
  if (parse_trace_id(s, (size_t)(dash - s), &sc.trace_id) != 0) return UVOTEL_EPARSE;
  const char *p = dash + 1;
  if (end - p < 16 || parse_span_id(p, 16, &sc.span_id) != 0) return UVOTEL_EPARSE;
  p += 16;
  if (p < end) {
    /* -{SamplingState} */
    if (end - p < 2 || p[0] != '-') return UVOTEL_EPARSE;
    char st = p[1];
    if (st == '1' || st == 'd') {
      sc.flags = UVOTEL_TRACE_FLAG_SAMPLED;
    } else if (st != '0') {
      return UVOTEL_EPARSE;
    }
    p += 2;
    if (p < end) {
      /* -{ParentSpanId}: checked, not kept */
      uvotel_span_id_t parent;
      if (end - p != 17 || p[0] != '-' || parse_span_id(p + 1, 16, &parent) != 0) {
        return UVOTEL_EPARSE;
      }
    }
  }
  if (!ids_valid(&sc)) return UVOTEL_EPARSE;
  sc.is_remote = 1;
  *out = sc;
  return 0;
}

/* The single value of a header, trimmed; 0 when absent or repeated. */
static int one_value(void *carrier, const uvotel_carrier_getter_t *g, const char *name,
                     const char **s, size_t *len) {
  uvotel_str_t v[2];
  if (g->get(carrier, name, v, 2) != 1 || v[0].ptr == NULL) return 0;
  *s = v[0].ptr;
  *len = v[0].len;
  uvotel__trim_ows(s, len);
  return 1;
}

static int value_is(const char *s, size_t len, const char *w) {
  return strlen(w) == len && memcmp(s, w, len) == 0;
}

static int multi_parse(void *carrier, const uvotel_carrier_getter_t *g,
                       uvotel_span_context_t *out) {
  const char *s;
  size_t len;
  uvotel_span_context_t sc = {0};
  if (!one_value(carrier, g, "x-b3-traceid", &s, &len) || parse_trace_id(s, len, &sc.trace_id)) {
    return UVOTEL_EPARSE;
  }
  if (!one_value(carrier, g, "x-b3-spanid", &s, &len) || parse_span_id(s, len, &sc.span_id)) {
    return UVOTEL_EPARSE;
  }
  if (one_value(carrier, g, "x-b3-sampled", &s, &len)) {
    if (value_is(s, len, "1") || value_is(s, len, "true")) {
      sc.flags = UVOTEL_TRACE_FLAG_SAMPLED;
    } else if (!value_is(s, len, "0") && !value_is(s, len, "false")) {
      return UVOTEL_EPARSE;
    }
  }
  if (one_value(carrier, g, "x-b3-flags", &s, &len) && value_is(s, len, "1")) {
    sc.flags = UVOTEL_TRACE_FLAG_SAMPLED; /* debug implies accept */
  }
  if (!ids_valid(&sc)) return UVOTEL_EPARSE;
  sc.is_remote = 1;
  *out = sc;
  return 0;
}

static int b3_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                      uvotel_extracted_t *x) {
  (void)self;
  uvotel_span_context_t sc;
  const char *s;
  size_t len;
  int ok = one_value(carrier, g, "b3", &s, &len) && uvotel_b3_single_parse(s, len, &sc) == 0;
  if (!ok) ok = multi_parse(carrier, g, &sc) == 0;
  if (!ok) return 0; /* malformed or absent: not an error, nothing extracted */
  uvotel_trace_state_release(x->span_context.trace_state);
  x->span_context = sc; /* B3 has no tracestate */
  return 0;
}

static int b3_single_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                            void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self, (void)bg;
  if (!uvotel_span_context_is_valid(sc)) return 0;
  char tid[33], sid[17], buf[32 + 1 + 16 + 2 + 1];
  int n = snprintf(buf, sizeof buf, "%s-%s-%c", uvotel_trace_id_to_hex(&sc->trace_id, tid),
                   uvotel_span_id_to_hex(&sc->span_id, sid),
                   (sc->flags & UVOTEL_TRACE_FLAG_SAMPLED) ? '1' : '0');
  return setter->set(carrier, "b3", buf, (size_t)n);
}

static int b3_multi_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                           void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self, (void)bg;
  if (!uvotel_span_context_is_valid(sc)) return 0;
  char tid[33], sid[17];
  uvotel_trace_id_to_hex(&sc->trace_id, tid);
  uvotel_span_id_to_hex(&sc->span_id, sid);
  int rc = setter->set(carrier, "x-b3-traceid", tid, 32);
  if (rc >= 0) rc = setter->set(carrier, "x-b3-spanid", sid, 16);
  if (rc >= 0) {
    rc = setter->set(carrier, "x-b3-sampled", (sc->flags & UVOTEL_TRACE_FLAG_SAMPLED) ? "1" : "0",
                     1);
  }
  return rc;
}

static const char *const single_fields[] = {"b3"};
static const char *const multi_fields[] = {"x-b3-traceid", "x-b3-spanid", "x-b3-sampled"};

static size_t single_fields_fn(void *self, const char *const **names) {
  (void)self;
  *names = single_fields;
  return 1;
}

static size_t multi_fields_fn(void *self, const char *const **names) {
  (void)self;
  *names = multi_fields;
  return 3;
}

const uvotel_propagator_ops_t uvotel__b3_single_ops = {
    .inject = b3_single_inject, .extract = b3_extract, .fields = single_fields_fn};
const uvotel_propagator_ops_t uvotel__b3_multi_ops = {
    .inject = b3_multi_inject, .extract = b3_extract, .fields = multi_fields_fn};
