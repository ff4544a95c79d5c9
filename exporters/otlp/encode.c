/* Encoding of finished spans into an OTLP ExportTraceServiceRequest, written directly from the
 * span data (no intermediate message tree, no protobuf runtime).
 *
 * Spans are grouped once (src/groups.c: resource -> scope -> spans, shared with the OTLP/JSON
 * encoder). Then one walk over the groups runs twice:
 *   - measuring: every nested message reserves a slot on a stack of uint32 and, at its end,
 *     stores its size there; every NUL-terminated string stores its strlen; every string is
 *     checked for valid UTF-8;
 *   - writing: the same walk pops the sizes and lengths in the same order into an exactly sized
 *     body.
 * So each size is computed once, each string is measured once and copied once, and the output
 * is what protobuf-c packs for the same message: fields in field-number order, proto3 defaults
 * (0, "", empty bytes) omitted except in the AnyValue oneof, sub-messages always written once
 * set (tests/unit/test_otlp_encode.c compares the two byte for byte).
 *
 * Invalid UTF-8 (OTLP strings must be UTF-8; a collector rejects the whole request otherwise)
 * is repaired: each ill-formed subpart becomes U+FFFD (src/utf8.c), in every string the request
 * holds. The writing pass takes the slow, repairing path only when the measuring pass saw a bad
 * string. Thread: any (runs on the batch processor's export thread). */
#include <string.h>

#include "../src/encoding.h"
#include "otlp_internal.h"
#include "uvotel/propagation.h"
#include "uvotel/trace_sdk.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define FLAGS_HAS_IS_REMOTE 0x100u
#define FLAGS_IS_REMOTE 0x200u

/* wire types */
#define WT_VARINT 0u
#define WT_I64 1u
#define WT_LEN 2u
#define WT_I32 5u

/* ---- scratch: size stacks recycled through the exporter's cache ---- */

#define CACHE_MAX 8
#define SCRATCH_KEEP_MAX (1u << 20) /* entries; larger stacks are freed after use */

typedef struct scratch_s {
  struct scratch_s *next;
  size_t cap;
  uint32_t *st;
} scratch_t;

struct uvotel__otlp_block_cache_s {
  uv_mutex_t mu;
  scratch_t *free;
  size_t n;
};

int uvotel__otlp_block_cache_create(uvotel__otlp_block_cache_t **out) {
  uvotel__otlp_block_cache_t *c = uvotel_calloc(1, sizeof *c);
  if (c == NULL) return UVOTEL_ENOMEM;
  if (uv_mutex_init(&c->mu) != 0) {
    uvotel_free(c);
    return UVOTEL_ENOMEM;
  }
  *out = c;
  return 0;
}

void uvotel__otlp_block_cache_free(uvotel__otlp_block_cache_t *c) {
  if (c == NULL) return;
  while (c->free) {
    scratch_t *s = c->free;
    c->free = s->next;
    uvotel_free(s->st);
    uvotel_free(s);
  }
  uv_mutex_destroy(&c->mu);
  uvotel_free(c);
}

static scratch_t *scratch_get(uvotel__otlp_block_cache_t *c) {
  scratch_t *s = NULL;
  if (c != NULL) {
    uv_mutex_lock(&c->mu);
    s = c->free;
    if (s != NULL) {
      c->free = s->next;
      c->n--;
    }
    uv_mutex_unlock(&c->mu);
  }
  if (s == NULL) s = uvotel_calloc(1, sizeof *s);
  return s;
}

static void scratch_put(uvotel__otlp_block_cache_t *c, scratch_t *s) {
  if (s == NULL) return;
  if (c != NULL && s->cap <= SCRATCH_KEEP_MAX) {
    uv_mutex_lock(&c->mu);
    int keep = c->n < CACHE_MAX;
    if (keep) {
      s->next = c->free;
      c->free = s;
      c->n++;
    }
    uv_mutex_unlock(&c->mu);
    if (keep) return;
  }
  uvotel_free(s->st);
  uvotel_free(s);
}

/* ---- the two-pass writer ---- */

typedef struct enc_s {
  int writing;
  int failed;   /* measuring: 1 the stack could not grow, 2 a size over 4 GiB */
  int bad_utf8; /* measuring saw a string that needs repair: writing repairs */
  size_t n;     /* measuring: bytes so far */
  uint8_t *p;   /* writing: cursor */
  scratch_t *sc;
  size_t top; /* measuring: entries pushed; writing: entries popped */
} enc_t;

static inline size_t vsize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

static inline void raw_varint(enc_t *e, uint64_t v) {
  if (!e->writing) {
    e->n += vsize(v);
    return;
  }
  uint8_t *p = e->p;
  while (v >= 0x80) {
    *p++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *p++ = (uint8_t)v;
  e->p = p;
}

static inline void key(enc_t *e, uint32_t field, uint32_t wt) {
  raw_varint(e, ((uint64_t)field << 3) | wt);
}

static inline void raw_bytes(enc_t *e, const void *s, size_t n) {
  if (!e->writing) {
    e->n += n;
    return;
  }
  memcpy(e->p, s, n);
  e->p += n;
}

static inline void raw_fixed64(enc_t *e, uint64_t v) {
  if (!e->writing) {
    e->n += 8;
    return;
  }
  for (int i = 0; i < 8; i++) e->p[i] = (uint8_t)(v >> (8 * i));
  e->p += 8;
}

static inline void raw_fixed32(enc_t *e, uint32_t v) {
  if (!e->writing) {
    e->n += 4;
    return;
  }
  for (int i = 0; i < 4; i++) e->p[i] = (uint8_t)(v >> (8 * i));
  e->p += 4;
}

/* measuring: reserve a stack entry holding v; returns its index (or SIZE_MAX on failure) */
static size_t push(enc_t *e, uint32_t v) {
  scratch_t *s = e->sc;
  if (UNLIKELY(e->top == s->cap)) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint32_t *ns = uvotel_realloc(s->st, cap * sizeof *ns);
    if (ns == NULL) {
      e->failed = 1;
      return SIZE_MAX;
    }
    s->st = ns;
    s->cap = cap;
  }
  s->st[e->top] = v;
  return e->top++;
}

static inline uint32_t pop(enc_t *e) {
  return e->sc->st[e->top++];
}

/* A length-delimited sub-message: begin writes its key (and, writing, its size); end closes it.
 * Proto3 sub-messages are written whenever they are set, even empty. */
static inline size_t begin(enc_t *e, uint32_t field) {
  key(e, field, WT_LEN);
  if (e->writing) {
    raw_varint(e, pop(e));
    return 0;
  }
  return push(e, (uint32_t)e->n); /* the start offset until end() */
}

static inline void end(enc_t *e, size_t mark) {
  if (e->writing || mark == SIZE_MAX) return;
  uint32_t *st = e->sc->st;
  size_t size = e->n - st[mark];
  if (size > UINT32_MAX) {
    e->failed = 2;
    return;
  }
  st[mark] = (uint32_t)size;
  e->n += vsize(size);
}

/* String payload of known byte length: key, length, bytes (repaired when needed). */
static void str_body(enc_t *e, uint32_t field, const char *s, size_t len) {
  key(e, field, WT_LEN);
  if (!e->writing) {
    size_t v = uvotel__utf8_valid_prefix(s, len);
    if (UNLIKELY(v != len)) {
      e->bad_utf8 = 1;
      len = v + uvotel__utf8_repaired_len(s + v, len - v);
    }
    e->n += vsize(len) + len;
    return;
  }
  if (UNLIKELY(e->bad_utf8)) {
    size_t out = uvotel__utf8_repaired_len(s, len);
    raw_varint(e, out);
    e->p += uvotel__utf8_repair((char *)e->p, s, len);
    return;
  }
  raw_varint(e, len);
  memcpy(e->p, s, len);
  e->p += len;
}

/* proto3 string field: omitted when empty (as protobuf-c does). */
static inline void str_field(enc_t *e, uint32_t field, const char *s, size_t len) {
  if (len != 0) str_body(e, field, s, len);
}

/* A NUL-terminated string: strlen once, while measuring; writing pops it. `always`: write even
 * when empty (oneof members). */
static inline void cstr_field(enc_t *e, uint32_t field, const char *s, int always) {
  if (s == NULL) s = "";
  if (!always && s[0] == '\0') return;
  size_t len;
  if (!e->writing) {
    len = strlen(s);
    if (push(e, (uint32_t)len) == SIZE_MAX) return;
    if (len > UINT32_MAX) e->failed = 2;
  } else {
    len = pop(e);
  }
  str_body(e, field, s, len);
}

static inline void varint_field(enc_t *e, uint32_t field, uint64_t v) {
  if (v == 0) return;
  key(e, field, WT_VARINT);
  raw_varint(e, v);
}

static inline void fixed64_field(enc_t *e, uint32_t field, uint64_t v) {
  if (v == 0) return;
  key(e, field, WT_I64);
  raw_fixed64(e, v);
}

static inline void fixed32_field(enc_t *e, uint32_t field, uint32_t v) {
  if (v == 0) return;
  key(e, field, WT_I32);
  raw_fixed32(e, v);
}

static inline void bytes_field(enc_t *e, uint32_t field, const uint8_t *b, size_t n) {
  if (n == 0) return;
  key(e, field, WT_LEN);
  raw_varint(e, n);
  raw_bytes(e, b, n);
}

static inline uint64_t dbl_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

/* ---- common.v1: AnyValue, ArrayValue, KeyValue ---- */

/* AnyValue's oneof members are written whenever set, zero or empty included. */
static void any_value(enc_t *e, uint32_t field, const uvotel_value_t *v) {
  size_t m = begin(e, field);
  switch (v->type) {
    case UVOTEL_VALUE_STRING:
      str_body(e, 1, v->u.s != NULL ? v->u.s : "", v->u.s != NULL ? v->len : 0);
      break;
    case UVOTEL_VALUE_BOOL:
      key(e, 2, WT_VARINT);
      raw_varint(e, v->u.b ? 1 : 0);
      break;
    case UVOTEL_VALUE_INT:
      key(e, 3, WT_VARINT);
      raw_varint(e, (uint64_t)v->u.i);
      break;
    case UVOTEL_VALUE_DOUBLE:
      key(e, 4, WT_I64);
      raw_fixed64(e, dbl_bits(v->u.d));
      break;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t a = begin(e, 5);
      for (uint32_t i = 0; i < v->len; i++) {
        size_t el = begin(e, 1);
        switch (v->type) {
          case UVOTEL_VALUE_STRING_ARRAY:
            cstr_field(e, 1, v->u.sa[i], 1);
            break;
          case UVOTEL_VALUE_BOOL_ARRAY:
            key(e, 2, WT_VARINT);
            raw_varint(e, v->u.ba[i] ? 1 : 0);
            break;
          case UVOTEL_VALUE_INT_ARRAY:
            key(e, 3, WT_VARINT);
            raw_varint(e, (uint64_t)v->u.ia[i]);
            break;
          default:
            key(e, 4, WT_I64);
            raw_fixed64(e, dbl_bits(v->u.da[i]));
            break;
        }
        end(e, el);
      }
      end(e, a);
      break;
    }
    case UVOTEL_VALUE_BYTES:
      key(e, 7, WT_LEN);
      raw_varint(e, v->len);
      if (v->len) raw_bytes(e, v->u.bytes, v->len);
      break;
    case UVOTEL_VALUE_KVLIST: {
      /* KeyValueList{repeated KeyValue values = 1}; nesting was bounded when the value was copied
       */
      size_t l = begin(e, 6);
      for (uint32_t i = 0; i < v->len; i++) {
        size_t kvm = begin(e, 1);
        cstr_field(e, 1, v->u.kv[i].key, 0);
        any_value(e, 2, &v->u.kv[i].value);
        end(e, kvm);
      }
      end(e, l);
      break;
    }
    default:
      break; /* NONE: an empty AnyValue, as the data model allows */
  }
  end(e, m);
}

static void attrs(enc_t *e, uint32_t field, const uvotel_attribute_t *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t m = begin(e, field);
    cstr_field(e, 1, a[i].key, 0);
    any_value(e, 2, &a[i].value);
    end(e, m);
  }
}

static void trace_state_field(enc_t *e, uint32_t field, const uvotel_trace_state_t *ts) {
  if (ts == NULL) return;
  size_t len = 0;
  const char *s = uvotel_trace_state_str(ts, &len);
  if (s != NULL) str_field(e, field, s, len);
}

/* ---- trace.v1: Span ---- */

static void span(enc_t *e, const uvotel_span_data_t *d) {
  size_t m = begin(e, 2); /* ScopeSpans.spans */
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  bytes_field(e, 1, sc.trace_id.bytes, 16);
  bytes_field(e, 2, sc.span_id.bytes, 8);
  trace_state_field(e, 3, sc.trace_state);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  int has_parent = !uvotel_span_id_is_zero(&parent);
  if (has_parent) bytes_field(e, 4, parent.bytes, 8);
  cstr_field(e, 5, uvotel_span_data_name(d), 0);
  uvotel_span_kind_t kind = uvotel_span_data_kind(d);
  if (kind < UVOTEL_SPAN_KIND_INTERNAL || kind > UVOTEL_SPAN_KIND_CONSUMER) {
    kind = UVOTEL_SPAN_KIND_INTERNAL;
  }
  varint_field(e, 6, (uint64_t)kind);
  fixed64_field(e, 7, uvotel_span_data_start_unix_ns(d));
  fixed64_field(e, 8, uvotel_span_data_end_unix_ns(d));
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  attrs(e, 9, a, n);
  varint_field(e, 10, uvotel_span_data_dropped_attributes(d));
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  for (size_t i = 0; i < n; i++) {
    size_t em = begin(e, 11);
    fixed64_field(e, 1, ev[i].time_unix_ns);
    cstr_field(e, 2, ev[i].name, 0);
    attrs(e, 3, ev[i].attrs, ev[i].n_attrs);
    varint_field(e, 4, ev[i].dropped_attributes);
    end(e, em);
  }
  varint_field(e, 12, uvotel_span_data_dropped_events(d));
  const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
  for (size_t i = 0; i < n; i++) {
    size_t lm = begin(e, 13);
    bytes_field(e, 1, lk[i].context.trace_id.bytes, 16);
    bytes_field(e, 2, lk[i].context.span_id.bytes, 8);
    trace_state_field(e, 3, lk[i].context.trace_state);
    attrs(e, 4, lk[i].attrs, lk[i].n_attrs);
    varint_field(e, 5, lk[i].dropped_attributes);
    fixed32_field(e, 6,
                  (uint32_t)lk[i].context.flags | FLAGS_HAS_IS_REMOTE |
                      (lk[i].context.is_remote ? FLAGS_IS_REMOTE : 0));
    end(e, lm);
  }
  varint_field(e, 14, uvotel_span_data_dropped_links(d));
  const char *desc = NULL;
  uvotel_status_code_t code = uvotel_span_data_status(d, &desc);
  if (code != UVOTEL_STATUS_UNSET) {
    size_t sm = begin(e, 15);
    if (code == UVOTEL_STATUS_ERROR) cstr_field(e, 2, desc, 0);
    varint_field(e, 3, (uint64_t)code);
    end(e, sm);
  }
  fixed32_field(e, 16,
                (uint32_t)sc.flags | FLAGS_HAS_IS_REMOTE |
                    (has_parent && uvotel_span_data_parent_is_remote(d) ? FLAGS_IS_REMOTE : 0));
  end(e, m);
}

/* ---- the request ---- */

static void request(enc_t *e, const uvotel__span_groups_t *g) {
  for (size_t r = 0; r < g->n_res; r++) {
    const uvotel__res_group_t *rg = &g->res[r];
    const uvotel_trace_resource_t *res = rg->res;
    size_t rm = begin(e, 1);   /* ExportTraceServiceRequest.resource_spans */
    size_t resm = begin(e, 1); /* ResourceSpans.resource */
    if (res != NULL) {
      attrs(e, 1, res->attrs, res->n_attrs);
      varint_field(e, 2, res->dropped_attributes);
    }
    end(e, resm);
    for (uint32_t s = rg->first; s < rg->first + rg->n; s++) {
      const uvotel__scope_group_t *sg = &g->scopes[s];
      const uvotel_instrumentation_scope_t *scope = sg->scope;
      size_t sm = begin(e, 2);  /* ResourceSpans.scope_spans */
      size_t scm = begin(e, 1); /* ScopeSpans.scope */
      if (scope != NULL) {
        cstr_field(e, 1, scope->name, 0);
        cstr_field(e, 2, scope->version, 0);
        attrs(e, 3, scope->attrs, scope->n_attrs);
      }
      end(e, scm);
      for (uint32_t k = sg->first; k < sg->first + sg->n; k++) span(e, g->order[k]);
      if (scope != NULL) cstr_field(e, 3, scope->schema_url, 0);
      end(e, sm);
    }
    if (res != NULL) cstr_field(e, 3, res->schema_url, 0);
    end(e, rm);
  }
}

/* The two passes, each compiled with everything inlined into it, so `writing` is a constant in
 * each and the measuring pass carries no writing code (and the other way round). Not under the
 * sanitizers: instrumenting the two huge flattened functions takes the compiler minutes. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define PASS_ATTR __attribute__((noinline))
#else
#define PASS_ATTR __attribute__((flatten, noinline))
#endif

PASS_ATTR static void measure_pass(enc_t *e, const uvotel__span_groups_t *g) {
  enc_t l = *e;
  l.writing = 0;
  request(&l, g);
  *e = l;
}

PASS_ATTR static void write_pass(enc_t *e, const uvotel__span_groups_t *g) {
  enc_t l = *e;
  l.writing = 1;
  request(&l, g);
  *e = l;
}

int uvotel__otlp_encode(const uvotel_span_data_t *const *spans, size_t n,
                        uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n) {
  if ((spans == NULL && n > 0) || out == NULL || out_n == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  uvotel__span_groups_t g;
  int rc = uvotel__span_groups_build(&g, spans, n);
  if (rc != 0) return rc;
  enc_t e;
  memset(&e, 0, sizeof e);
  e.sc = scratch_get(cache);
  rc = UVOTEL_ENOMEM;
  if (e.sc == NULL) goto done;
  /* a first guess of the stack's size: about 8 entries per span with 2 attributes */
  if (e.sc->cap < 16 * n + 64) {
    uvotel_free(e.sc->st);
    e.sc->cap = 16 * n + 64;
    e.sc->st = uvotel_malloc(e.sc->cap * sizeof *e.sc->st);
    if (e.sc->st == NULL) {
      e.sc->cap = 0;
      goto done;
    }
  }
  measure_pass(&e, &g);
  if (e.failed) {
    if (e.failed == 2) rc = UVOTEL_ERANGE;
    goto done;
  }
  size_t sz = e.n, pushed = e.top;
  uint8_t *buf = uvotel_malloc(sz != 0 ? sz : 1);
  if (buf == NULL) goto done;
  e.p = buf;
  e.top = 0;
  write_pass(&e, &g);
  if ((size_t)(e.p - buf) != sz || e.top != pushed) {
    uvotel_free(buf); /* the two passes disagreed: a bug, never sent */
    rc = UVOTEL_EIO;
    goto done;
  }
  *out = buf;
  *out_n = sz;
  rc = 0;
done:
  scratch_put(cache, e.sc);
  uvotel__span_groups_free(&g);
  return rc;
}
