/* Encoding of finished spans into an OTLP ExportTraceServiceRequest, written directly from the
 * span data in one pass (no intermediate message tree, no protobuf runtime, no measuring pass).
 *
 * Spans are grouped once (src/groups.c: resource -> scope -> spans, shared with the OTLP/JSON
 * encoder). Then one walk over the groups, last field and last element first, writes the body
 * from the end of a scratch buffer towards its start (pbw.h): every nested message's contents
 * are in place before its header, so each length is known when its tag + length prefix is
 * written, each string is measured (strlen, UTF-8 check) and copied once, and nothing is
 * walked twice. The finished bytes are copied once into an exactly sized body; the scratch
 * buffer goes back to the exporter's cache (a warm buffer, no growth in steady state).
 *
 * The output is what protobuf-c packs for the same message: fields in field-number order,
 * proto3 defaults (0, "", empty bytes) omitted except in the AnyValue oneof, sub-messages
 * always written once set, minimal varints (tests/unit/test_otlp_encode.c compares the two
 * byte for byte).
 *
 * Invalid UTF-8 (OTLP strings must be UTF-8; a collector rejects the whole request otherwise)
 * is repaired: each ill-formed subpart becomes U+FFFD (src/utf8.c), in every string the request
 * holds. Short ASCII strings are checked while they are copied; anything else goes through the
 * full check, and the repairing path only when that check fails. Thread: any (runs on the batch
 * processor's export thread). */
#include <string.h>

#include "../src/encoding.h"
#include "otlp_internal.h"
#include "pbw.h"
#include "uvotel/propagation.h"
#include "uvotel/trace_sdk.h"

#define FLAGS_HAS_IS_REMOTE 0x100u
#define FLAGS_IS_REMOTE 0x200u

/* ---- scratch buffers recycled through the exporter's cache ---- */

#define CACHE_MAX 8
#define SCRATCH_KEEP_MAX (16u << 20) /* bytes; larger buffers are freed after use */

typedef struct scratch_s {
  struct scratch_s *next;
  size_t cap;
  uint8_t *buf;
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
    uvotel_free(s->buf);
    uvotel_free(s);
  }
  uv_mutex_destroy(&c->mu);
  uvotel_free(c);
}

/* A scratch buffer from the cache, a new one, or (no cache) `local`, which lives on the
 * caller's stack. NULL when out of memory. */
static scratch_t *scratch_get(uvotel__otlp_block_cache_t *c, scratch_t *local) {
  if (c == NULL) {
    memset(local, 0, sizeof *local);
    return local;
  }
  uv_mutex_lock(&c->mu);
  scratch_t *s = c->free;
  if (s != NULL) {
    c->free = s->next;
    c->n--;
  }
  uv_mutex_unlock(&c->mu);
  if (s == NULL) s = uvotel_calloc(1, sizeof *s);
  return s;
}

static void scratch_put(uvotel__otlp_block_cache_t *c, scratch_t *s) {
  if (s == NULL) return;
  if (c == NULL) { /* the caller's local one */
    uvotel_free(s->buf);
    return;
  }
  if (s->cap <= SCRATCH_KEEP_MAX) {
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
  uvotel_free(s->buf);
  uvotel_free(s);
}

/* ---- strings ---- */

/* Copy n bytes to dst; 1 when they are known to be ASCII (then valid UTF-8), 0 when they still
 * need the full check. Up to 16 bytes in at most two overlapping loads and stores each (no call,
 * no loop); longer strings: memcpy, checked by the caller. */
static inline int copy_ascii(uint8_t *dst, const char *src, size_t n) {
  uint64_t acc;
  if (n >= 8) {
    if (n > 16) {
      memcpy(dst, src, n);
      return 0;
    }
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + n - 8, 8);
    memcpy(dst, &a, 8);
    memcpy(dst + n - 8, &b, 8);
    acc = a | b;
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + n - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
    acc = a | b;
  } else if (n >= 2) {
    uint16_t a, b;
    memcpy(&a, src, 2);
    memcpy(&b, src + n - 2, 2);
    memcpy(dst, &a, 2);
    memcpy(dst + n - 2, &b, 2);
    acc = (uint64_t)(a | b);
  } else if (n == 1) {
    dst[0] = (uint8_t)src[0];
    acc = (uint8_t)src[0];
  } else {
    return 1;
  }
  return (acc & 0x8080808080808080ull) == 0;
}

__attribute__((noinline, cold)) static void str_repaired(pbw_t *w, uint32_t field, const char *s,
                                                         size_t len) {
  size_t out = uvotel__utf8_repaired_len(s, len);
  if (!pbw_room(w, out + PBW_HDR_MAX)) return;
  w->p -= out;
  uvotel__utf8_repair((char *)w->p, s, len);
  pbw_varint(w, out);
  pbw_tag(w, field, PBW_LEN);
}

/* A string field of known byte length, written even when empty (the oneof member; callers
 * skip empty proto3 strings): valid UTF-8 copied as is, anything else repaired. */
static inline void str_body(pbw_t *w, uint32_t field, const char *s, size_t len) {
  if (!pbw_room(w, len + PBW_HDR_MAX)) return;
  uint8_t *dst = w->p - len;
  if (PBW_UNLIKELY(!copy_ascii(dst, s, len)) &&
      PBW_UNLIKELY(uvotel__utf8_valid_prefix(s, len) != len)) {
    str_repaired(w, field, s, len);
    return;
  }
  w->p = dst;
  pbw_varint(w, len);
  pbw_tag(w, field, PBW_LEN);
}

/* proto3 string field: omitted when empty (as protobuf-c does). */
static inline void str_field(pbw_t *w, uint32_t field, const char *s, size_t len) {
  if (len != 0) str_body(w, field, s, len);
}

/* A NUL-terminated string (NULL: ""); `always`: written even when empty (oneof members). */
static inline void cstr_field(pbw_t *w, uint32_t field, const char *s, int always) {
  if (s == NULL || s[0] == '\0') {
    if (always) str_body(w, field, "", 0);
    return;
  }
  str_body(w, field, s, strlen(s));
}

static inline uint64_t dbl_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

/* ---- common.v1: AnyValue, ArrayValue, KeyValue ---- */

static void any_value(pbw_t *w, uint32_t field, const uvotel_value_t *v);

/* One element of an ArrayValue: an AnyValue holding element i (ArrayValue.values = 1). */
static inline void array_elem(pbw_t *w, const uvotel_value_t *v, uint32_t i) {
  if (!pbw_room(w, PBW_HDR_MAX + PBW_FIXED64_FIELD_MAX + PBW_VARINT_FIELD_MAX)) return;
  size_t m = pbw_used(w);
  switch (v->type) {
    case UVOTEL_VALUE_STRING_ARRAY:
      cstr_field(w, 1, v->u.sa[i], 1);
      break;
    case UVOTEL_VALUE_BOOL_ARRAY:
      pbw_varint(w, v->u.ba[i] ? 1 : 0);
      pbw_tag(w, 2, PBW_VARINT);
      break;
    case UVOTEL_VALUE_INT_ARRAY:
      pbw_varint(w, (uint64_t)v->u.ia[i]);
      pbw_tag(w, 3, PBW_VARINT);
      break;
    default:
      pbw_fixed64(w, dbl_bits(v->u.da[i]));
      pbw_tag(w, 4, PBW_I64);
      break;
  }
  pbw_close(w, 1, m);
}

/* The contents of an AnyValue (its oneof member, written whenever set, zero or empty
 * included), then its header as `field`. */
static void any_value(pbw_t *w, uint32_t field, const uvotel_value_t *v) {
  if (!pbw_room(w, PBW_HDR_MAX + PBW_FIXED64_FIELD_MAX + PBW_VARINT_FIELD_MAX)) return;
  size_t m = pbw_used(w);
  switch (v->type) {
    case UVOTEL_VALUE_STRING:
      str_body(w, 1, v->u.s != NULL ? v->u.s : "", v->u.s != NULL ? v->len : 0);
      break;
    case UVOTEL_VALUE_BOOL:
      pbw_varint(w, v->u.b ? 1 : 0);
      pbw_tag(w, 2, PBW_VARINT);
      break;
    case UVOTEL_VALUE_INT:
      pbw_varint(w, (uint64_t)v->u.i);
      pbw_tag(w, 3, PBW_VARINT);
      break;
    case UVOTEL_VALUE_DOUBLE:
      pbw_fixed64(w, dbl_bits(v->u.d));
      pbw_tag(w, 4, PBW_I64);
      break;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t a = pbw_used(w);
      for (uint32_t i = v->len; i-- > 0;) array_elem(w, v, i);
      pbw_close(w, 5, a); /* AnyValue.array_value */
      break;
    }
    case UVOTEL_VALUE_BYTES:
      pbw_bytes_field(w, 7, v->u.bytes, v->len);
      break;
    case UVOTEL_VALUE_KVLIST: {
      /* KeyValueList{repeated KeyValue values = 1}; nesting was bounded when the value was
       * copied */
      size_t l = pbw_used(w);
      for (uint32_t i = v->len; i-- > 0;) {
        size_t kvm = pbw_used(w);
        any_value(w, 2, &v->u.kv[i].value);
        cstr_field(w, 1, v->u.kv[i].key, 0);
        pbw_close(w, 1, kvm);
      }
      pbw_close(w, 6, l); /* AnyValue.kvlist_value */
      break;
    }
    default:
      break; /* NONE: an empty AnyValue, as the data model allows */
  }
  pbw_close(w, field, m);
}

/* repeated KeyValue `field`: last first */
static void attrs(pbw_t *w, uint32_t field, const uvotel_attribute_t *a, size_t n) {
  for (size_t i = n; i-- > 0;) {
    size_t m = pbw_used(w);
    any_value(w, 2, &a[i].value);
    cstr_field(w, 1, a[i].key, 0);
    pbw_close(w, field, m);
  }
}

static void trace_state_field(pbw_t *w, uint32_t field, const uvotel_trace_state_t *ts) {
  if (ts == NULL) return;
  size_t len = 0;
  const char *s = uvotel_trace_state_str(ts, &len);
  if (s != NULL) str_field(w, field, s, len);
}

/* ---- trace.v1: Span ---- */

static void event(pbw_t *w, const uvotel_event_t *ev) {
  size_t m = pbw_used(w);
  if (!pbw_room(w, PBW_VARINT_FIELD_MAX)) return;
  pbw_varint_field(w, 4, ev->dropped_attributes);
  attrs(w, 3, ev->attrs, ev->n_attrs);
  cstr_field(w, 2, ev->name, 0);
  if (!pbw_room(w, PBW_FIXED64_FIELD_MAX)) return;
  pbw_fixed64_field(w, 1, ev->time_unix_ns);
  pbw_close(w, 11, m); /* Span.events */
}

static void link(pbw_t *w, const uvotel_link_t *lk) {
  size_t m = pbw_used(w);
  if (!pbw_room(w, PBW_FIXED32_FIELD_MAX + PBW_VARINT_FIELD_MAX)) return;
  pbw_fixed32_field(w, 6,
                    (uint32_t)lk->context.flags | FLAGS_HAS_IS_REMOTE |
                        (lk->context.is_remote ? FLAGS_IS_REMOTE : 0));
  pbw_varint_field(w, 5, lk->dropped_attributes);
  attrs(w, 4, lk->attrs, lk->n_attrs);
  trace_state_field(w, 3, lk->context.trace_state);
  pbw_bytes_field(w, 2, lk->context.span_id.bytes, 8);
  pbw_bytes_field(w, 1, lk->context.trace_id.bytes, 16);
  pbw_close(w, 13, m); /* Span.links */
}

/* the fixed-size fields written between two checks in span() */
#define SPAN_TAIL_MAX (PBW_FIXED32_FIELD_MAX + 3 * PBW_VARINT_FIELD_MAX)
#define SPAN_TIMES_MAX (2 * PBW_FIXED64_FIELD_MAX + PBW_VARINT_FIELD_MAX)

static void span(pbw_t *w, const uvotel_span_data_t *d) {
  size_t m = pbw_used(w);
  if (!pbw_room(w, SPAN_TAIL_MAX)) return;
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  int has_parent = !uvotel_span_id_is_zero(&parent);
  pbw_fixed32_field(w, 16,
                    (uint32_t)sc.flags | FLAGS_HAS_IS_REMOTE |
                        (has_parent && uvotel_span_data_parent_is_remote(d) ? FLAGS_IS_REMOTE : 0));
  const char *desc = NULL;
  uvotel_status_code_t code = uvotel_span_data_status(d, &desc);
  if (code != UVOTEL_STATUS_UNSET) {
    size_t sm = pbw_used(w);
    pbw_varint_field(w, 3, (uint64_t)code);
    if (code == UVOTEL_STATUS_ERROR) cstr_field(w, 2, desc, 0);
    pbw_close(w, 15, sm); /* Span.status */
    if (!pbw_room(w, SPAN_TAIL_MAX)) return;
  }
  pbw_varint_field(w, 14, uvotel_span_data_dropped_links(d));
  size_t n;
  const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
  for (size_t i = n; i-- > 0;) link(w, &lk[i]);
  if (!pbw_room(w, PBW_VARINT_FIELD_MAX)) return;
  pbw_varint_field(w, 12, uvotel_span_data_dropped_events(d));
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  for (size_t i = n; i-- > 0;) event(w, &ev[i]);
  if (!pbw_room(w, PBW_VARINT_FIELD_MAX)) return;
  pbw_varint_field(w, 10, uvotel_span_data_dropped_attributes(d));
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  attrs(w, 9, a, n);
  if (!pbw_room(w, SPAN_TIMES_MAX)) return;
  pbw_fixed64_field(w, 8, uvotel_span_data_end_unix_ns(d));
  pbw_fixed64_field(w, 7, uvotel_span_data_start_unix_ns(d));
  uvotel_span_kind_t kind = uvotel_span_data_kind(d);
  if (kind < UVOTEL_SPAN_KIND_INTERNAL || kind > UVOTEL_SPAN_KIND_CONSUMER) {
    kind = UVOTEL_SPAN_KIND_INTERNAL;
  }
  pbw_varint_field(w, 6, (uint64_t)kind);
  cstr_field(w, 5, uvotel_span_data_name(d), 0);
  if (has_parent) pbw_bytes_field(w, 4, parent.bytes, 8);
  trace_state_field(w, 3, sc.trace_state);
  pbw_bytes_field(w, 2, sc.span_id.bytes, 8);
  pbw_bytes_field(w, 1, sc.trace_id.bytes, 16);
  pbw_close(w, 2, m); /* ScopeSpans.spans */
}

/* ---- the request ---- */

static void request(pbw_t *w, const uvotel__span_groups_t *g) {
  for (size_t r = g->n_res; r-- > 0;) {
    const uvotel__res_group_t *rg = &g->res[r];
    const uvotel_trace_resource_t *res = rg->res;
    size_t rm = pbw_used(w);
    if (res != NULL) cstr_field(w, 3, res->schema_url, 0);
    for (uint32_t s = rg->first + rg->n; s-- > rg->first;) {
      const uvotel__scope_group_t *sg = &g->scopes[s];
      const uvotel_instrumentation_scope_t *scope = sg->scope;
      size_t sm = pbw_used(w);
      if (scope != NULL) cstr_field(w, 3, scope->schema_url, 0);
      for (uint32_t k = sg->first + sg->n; k-- > sg->first;) span(w, g->order[k]);
      size_t scm = pbw_used(w);
      if (scope != NULL) {
        attrs(w, 3, scope->attrs, scope->n_attrs);
        cstr_field(w, 2, scope->version, 0);
        cstr_field(w, 1, scope->name, 0);
      }
      pbw_close(w, 1, scm); /* ScopeSpans.scope */
      pbw_close(w, 2, sm);  /* ResourceSpans.scope_spans */
    }
    size_t resm = pbw_used(w);
    if (res != NULL) {
      if (pbw_room(w, PBW_VARINT_FIELD_MAX)) pbw_varint_field(w, 2, res->dropped_attributes);
      attrs(w, 1, res->attrs, res->n_attrs);
    }
    pbw_close(w, 1, resm); /* ResourceSpans.resource */
    pbw_close(w, 1, rm);   /* ExportTraceServiceRequest.resource_spans */
  }
}

/* The first scratch size when there is no buffer to reuse: about what a span with a few short
 * attributes takes; a batch that needs more grows the buffer (doubling, kept for next time). */
#define SCRATCH_PER_SPAN 64u
#define SCRATCH_BASE 1024u

int uvotel__otlp_encode(const uvotel_span_data_t *const *spans, size_t n,
                        uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n) {
  if ((spans == NULL && n > 0) || out == NULL || out_n == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  uvotel__span_groups_t g;
  int rc = uvotel__span_groups_build(&g, spans, n);
  if (rc != 0) return rc;
  scratch_t local;
  scratch_t *sc = scratch_get(cache, &local);
  rc = UVOTEL_ENOMEM;
  if (sc == NULL) goto done;
  if (sc->buf == NULL) {
    size_t cap = SCRATCH_BASE + SCRATCH_PER_SPAN * n;
    sc->buf = uvotel_malloc(cap);
    if (sc->buf == NULL) goto done;
    sc->cap = cap;
  }
  pbw_t w;
  pbw_init(&w, sc->buf, sc->cap);
  request(&w, &g);
  sc->buf = w.lo; /* grown or not, the writer's buffer is the scratch's */
  sc->cap = (size_t)(w.hi - w.lo);
  if (w.failed) goto done;
  if (pbw_used(&w) > UINT32_MAX) {
    rc = UVOTEL_ERANGE;
    goto done;
  }
  if (pbw_copy_out(&w, out, out_n) != 0) goto done;
  rc = 0;
done:
  scratch_put(cache, sc);
  uvotel__span_groups_free(&g);
  return rc;
}
