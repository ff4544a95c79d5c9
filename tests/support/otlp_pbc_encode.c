/* The reference OTLP encoder for tests and benchmarks: finished spans -> protobuf-c message
 * structs (in an arena, pointing at the span data's strings) -> protobuf_c_message_pack. This
 * was the exporter's encoder before exporters/otlp/encode.c wrote the bytes directly; it stays
 * as the independent reference the direct encoder is compared with byte for byte
 * (tests/unit/test_otlp_encode.c) and timed against (tests/bench/bench_otlp.c). It does not
 * repair invalid UTF-8. Thread: any. */
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_pbc_encode.h"
#include "uvotel/alloc.h"
#include "uvotel/errno.h"
#include "uvotel/propagation.h"
#include "uvotel/trace_sdk.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;
typedef Opentelemetry__Proto__Common__V1__KeyValue kv_t;
typedef Opentelemetry__Proto__Common__V1__ArrayValue arr_t;
typedef Opentelemetry__Proto__Common__V1__KeyValueList kvl_t;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope scope_t;
typedef Opentelemetry__Proto__Resource__V1__Resource res_t;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans rspans_t;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans sspans_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Event event_t;
typedef Opentelemetry__Proto__Trace__V1__Span__Link link_t;
typedef Opentelemetry__Proto__Trace__V1__Status status_t;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req_t;

#define FLAGS_HAS_IS_REMOTE 0x100u
#define FLAGS_IS_REMOTE 0x200u

/* ---- arena: a chain of blocks, freed at once ---- */

#define BLOCK_SIZE (512 * 1024)

typedef struct block_s {
  struct block_s *next;
  size_t used, cap;
  max_align_t data[];
} block_t;

typedef struct arena_s {
  block_t *head;
} arena_t;

static void *arena_alloc(arena_t *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  block_t *b = a->head;
  if (b == NULL || b->cap - b->used < n) {
    size_t cap = n > BLOCK_SIZE ? n : BLOCK_SIZE;
    b = uvotel_malloc(sizeof *b + cap);
    if (b == NULL) return NULL;
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  return p;
}

static void arena_free(arena_t *a) {
  block_t *b = a->head;
  while (b) {
    block_t *n = b->next;
    uvotel_free(b);
    b = n;
  }
  a->head = NULL;
}

#define NEW(a, T) ((T *)arena_alloc((a), sizeof(T)))
#define NEWN(a, T, n) ((T *)arena_alloc((a), sizeof(T) * ((n) != 0 ? (n) : 1)))

/* ---- attributes ---- */

static const any_t k_any_init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
static const kv_t k_kv_init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
static const arr_t k_arr_init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;

static int fill_array(arena_t *a, const uvotel_value_t *v, any_t *out) {
  arr_t *arr = NEW(a, arr_t);
  any_t *vals = NEWN(a, any_t, v->len);
  any_t **ptrs = NEWN(a, any_t *, v->len);
  if (arr == NULL || vals == NULL || ptrs == NULL) return -1;
  *arr = k_arr_init;
  for (uint32_t i = 0; i < v->len; i++) {
    vals[i] = k_any_init;
    switch (v->type) {
      case UVOTEL_VALUE_STRING_ARRAY:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        vals[i].string_value = (char *)(v->u.sa[i] ? v->u.sa[i] : "");
        break;
      case UVOTEL_VALUE_BOOL_ARRAY:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        vals[i].bool_value = v->u.ba[i];
        break;
      case UVOTEL_VALUE_INT_ARRAY:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        vals[i].int_value = v->u.ia[i];
        break;
      default:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        vals[i].double_value = v->u.da[i];
        break;
    }
    ptrs[i] = &vals[i];
  }
  arr->n_values = v->len;
  arr->values = ptrs;
  out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
  out->array_value = arr;
  return 0;
}

static int fill_attrs(arena_t *a, const uvotel_attribute_t *attrs, size_t n, kv_t ***out);

/* A KVLIST value as a KeyValueList (recursively through fill_attrs). */
static int fill_kvlist(arena_t *a, const uvotel_value_t *v, any_t *out) {
  kvl_t *l = NEW(a, kvl_t);
  if (l == NULL) return -1;
  static const kvl_t init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
  *l = init;
  if (fill_attrs(a, v->u.kv, v->len, &l->values) != 0) return -1;
  l->n_values = v->len;
  out->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
  out->kvlist_value = l;
  return 0;
}

/* Build n KeyValues; *out gets the pointer array. */
static int fill_attrs(arena_t *a, const uvotel_attribute_t *attrs, size_t n, kv_t ***out) {
  *out = NULL;
  if (n == 0) return 0;
  kv_t *kvs = NEWN(a, kv_t, n);
  any_t *vals = NEWN(a, any_t, n);
  kv_t **ptrs = NEWN(a, kv_t *, n);
  if (kvs == NULL || vals == NULL || ptrs == NULL) return -1;
  for (size_t i = 0; i < n; i++) {
    const uvotel_value_t *v = &attrs[i].value;
    kvs[i] = k_kv_init;
    vals[i] = k_any_init;
    kvs[i].key = (char *)(attrs[i].key ? attrs[i].key : "");
    kvs[i].value = &vals[i];
    switch (v->type) {
      case UVOTEL_VALUE_STRING:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        vals[i].string_value = (char *)(v->u.s ? v->u.s : "");
        break;
      case UVOTEL_VALUE_BOOL:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        vals[i].bool_value = v->u.b;
        break;
      case UVOTEL_VALUE_INT:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        vals[i].int_value = v->u.i;
        break;
      case UVOTEL_VALUE_DOUBLE:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        vals[i].double_value = v->u.d;
        break;
      case UVOTEL_VALUE_STRING_ARRAY:
      case UVOTEL_VALUE_BOOL_ARRAY:
      case UVOTEL_VALUE_INT_ARRAY:
      case UVOTEL_VALUE_DOUBLE_ARRAY:
        if (fill_array(a, v, &vals[i]) != 0) return -1;
        break;
      case UVOTEL_VALUE_BYTES:
        vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        vals[i].bytes_value.data = (uint8_t *)v->u.bytes;
        vals[i].bytes_value.len = v->len;
        break;
      case UVOTEL_VALUE_KVLIST:
        if (fill_kvlist(a, v, &vals[i]) != 0) return -1;
        break;
      default:
        break; /* NONE: an empty AnyValue, as the data model allows */
    }
    ptrs[i] = &kvs[i];
  }
  *out = ptrs;
  return 0;
}

/* ---- spans ---- */

static const span_t k_span_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
static const status_t k_status_init = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
static const event_t k_event_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
static const link_t k_link_init = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__LINK__INIT;

/* ids live next to the Span so one allocation serves both */
typedef struct span_box_s {
  span_t span;
  status_t status;
  uint8_t trace_id[16];
  uint8_t span_id[8];
  uint8_t parent_id[8];
} span_box_t;

static int fill_span(arena_t *a, const uvotel_span_data_t *d, span_box_t *b) {
  span_t *s = &b->span;
  *s = k_span_init;
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  memcpy(b->trace_id, sc.trace_id.bytes, 16);
  memcpy(b->span_id, sc.span_id.bytes, 8);
  s->trace_id.data = b->trace_id;
  s->trace_id.len = 16;
  s->span_id.data = b->span_id;
  s->span_id.len = 8;
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  int has_parent = !uvotel_span_id_is_zero(&parent);
  if (has_parent) {
    memcpy(b->parent_id, parent.bytes, 8);
    s->parent_span_id.data = b->parent_id;
    s->parent_span_id.len = 8;
  }
  s->flags = (uint32_t)sc.flags | FLAGS_HAS_IS_REMOTE |
             (has_parent && uvotel_span_data_parent_is_remote(d) ? FLAGS_IS_REMOTE : 0);
  /* The W3C tracestate, borrowed from the span (alive while the batch is). */
  if (sc.trace_state != NULL) s->trace_state = (char *)uvotel_trace_state_str(sc.trace_state, NULL);
  s->name = (char *)uvotel_span_data_name(d);
  if (s->name == NULL) s->name = (char *)"";
  uvotel_span_kind_t kind = uvotel_span_data_kind(d);
  s->kind =
      (Opentelemetry__Proto__Trace__V1__Span__SpanKind)(kind >= UVOTEL_SPAN_KIND_INTERNAL &&
                                                                kind <= UVOTEL_SPAN_KIND_CONSUMER
                                                            ? kind
                                                            : UVOTEL_SPAN_KIND_INTERNAL);
  s->start_time_unix_nano = uvotel_span_data_start_unix_ns(d);
  s->end_time_unix_nano = uvotel_span_data_end_unix_ns(d);

  size_t n;
  const uvotel_attribute_t *attrs = uvotel_span_data_attributes(d, &n);
  if (fill_attrs(a, attrs, n, &s->attributes) != 0) return -1;
  s->n_attributes = n;
  s->dropped_attributes_count = uvotel_span_data_dropped_attributes(d);

  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  if (n > 0) {
    event_t *es = NEWN(a, event_t, n);
    event_t **ep = NEWN(a, event_t *, n);
    if (es == NULL || ep == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
      es[i] = k_event_init;
      es[i].time_unix_nano = ev[i].time_unix_ns;
      es[i].name = (char *)(ev[i].name ? ev[i].name : "");
      if (fill_attrs(a, ev[i].attrs, ev[i].n_attrs, &es[i].attributes) != 0) return -1;
      es[i].n_attributes = ev[i].n_attrs;
      es[i].dropped_attributes_count = ev[i].dropped_attributes;
      ep[i] = &es[i];
    }
    s->events = ep;
    s->n_events = n;
  }
  s->dropped_events_count = uvotel_span_data_dropped_events(d);

  const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
  if (n > 0) {
    link_t *ls = NEWN(a, link_t, n);
    link_t **lp = NEWN(a, link_t *, n);
    uint8_t *ids = NEWN(a, uint8_t, 24 * n);
    if (ls == NULL || lp == NULL || ids == NULL) return -1;
    for (size_t i = 0; i < n; i++) {
      ls[i] = k_link_init;
      memcpy(ids + 24 * i, lk[i].context.trace_id.bytes, 16);
      memcpy(ids + 24 * i + 16, lk[i].context.span_id.bytes, 8);
      ls[i].trace_id.data = ids + 24 * i;
      ls[i].trace_id.len = 16;
      ls[i].span_id.data = ids + 24 * i + 16;
      ls[i].span_id.len = 8;
      if (lk[i].context.trace_state != NULL) {
        ls[i].trace_state = (char *)uvotel_trace_state_str(lk[i].context.trace_state, NULL);
      }
      ls[i].flags = (uint32_t)lk[i].context.flags | FLAGS_HAS_IS_REMOTE |
                    (lk[i].context.is_remote ? FLAGS_IS_REMOTE : 0);
      if (fill_attrs(a, lk[i].attrs, lk[i].n_attrs, &ls[i].attributes) != 0) return -1;
      ls[i].n_attributes = lk[i].n_attrs;
      ls[i].dropped_attributes_count = lk[i].dropped_attributes;
      lp[i] = &ls[i];
    }
    s->links = lp;
    s->n_links = n;
  }
  s->dropped_links_count = uvotel_span_data_dropped_links(d);

  const char *desc = NULL;
  uvotel_status_code_t code = uvotel_span_data_status(d, &desc);
  if (code != UVOTEL_STATUS_UNSET) {
    b->status = k_status_init;
    b->status.code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
    if (code == UVOTEL_STATUS_ERROR && desc != NULL) b->status.message = (char *)desc;
    s->status = &b->status;
  }
  return 0;
}

/* ---- grouping ---- */

typedef struct group_s {
  const uvotel_trace_resource_t *res;
  const uvotel_instrumentation_scope_t *scope;
  size_t n, fill;
  span_t **spans;
} group_t;

int otlp_pbc_encode(const uvotel_span_data_t *const *spans, size_t n, uint8_t **out,
                    size_t *out_n) {
  if ((spans == NULL && n > 0) || out == NULL || out_n == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  arena_t a = {NULL};
  int rc = UVOTEL_ENOMEM;
  size_t cap_groups = 8, n_groups = 0;
  group_t *groups = arena_alloc(&a, cap_groups * sizeof *groups);
  uint16_t *gid = NEWN(&a, uint16_t, n);
  span_box_t *boxes = NEWN(&a, span_box_t, n);
  if (groups == NULL || gid == NULL || boxes == NULL) goto done;

  /* pass 1: group (resource, scope) */
  size_t last = 0;
  for (size_t i = 0; i < n; i++) {
    if (spans[i] == NULL) {
      rc = UVOTEL_EINVAL;
      goto done;
    }
    const uvotel_trace_resource_t *r = uvotel_span_data_resource(spans[i]);
    const uvotel_instrumentation_scope_t *sc = uvotel_span_data_scope(spans[i]);
    size_t g = n_groups;
    if (n_groups > 0 && groups[last].res == r && groups[last].scope == sc) {
      g = last;
    } else {
      for (size_t j = 0; j < n_groups; j++)
        if (groups[j].res == r && groups[j].scope == sc) {
          g = j;
          break;
        }
    }
    if (g == n_groups) {
      if (n_groups == 65535) {
        rc = UVOTEL_ERANGE;
        goto done;
      }
      if (n_groups == cap_groups) {
        group_t *ng = arena_alloc(&a, 2 * cap_groups * sizeof *ng);
        if (ng == NULL) goto done;
        memcpy(ng, groups, n_groups * sizeof *ng);
        groups = ng;
        cap_groups *= 2;
      }
      groups[g].res = r;
      groups[g].scope = sc;
      groups[g].n = groups[g].fill = 0;
      n_groups++;
    }
    groups[g].n++;
    gid[i] = (uint16_t)g;
    last = g;
  }
  for (size_t j = 0; j < n_groups; j++) {
    groups[j].spans = NEWN(&a, span_t *, groups[j].n);
    if (groups[j].spans == NULL) goto done;
  }

  /* pass 2: spans */
  for (size_t i = 0; i < n; i++) {
    if (fill_span(&a, spans[i], &boxes[i]) != 0) goto done;
    group_t *g = &groups[gid[i]];
    g->spans[g->fill++] = &boxes[i].span;
  }

  /* pass 3: ResourceSpans per distinct resource, ScopeSpans per group */
  req_t req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  rspans_t **rsp = NEWN(&a, rspans_t *, n_groups);
  if (rsp == NULL) goto done;
  /* resources in first-seen order */
  const uvotel_trace_resource_t **res_of = NEWN(&a, const uvotel_trace_resource_t *, n_groups);
  size_t *ss_count = NEWN(&a, size_t, n_groups);
  if (res_of == NULL || ss_count == NULL) goto done;
  size_t n_res = 0;
  for (size_t j = 0; j < n_groups; j++) {
    size_t k;
    for (k = 0; k < n_res; k++)
      if (res_of[k] == groups[j].res) break;
    if (k == n_res) {
      res_of[n_res] = groups[j].res;
      ss_count[n_res] = 0;
      n_res++;
    }
    ss_count[k]++;
  }
  for (size_t k = 0; k < n_res; k++) {
    rspans_t *rs = NEW(&a, rspans_t);
    res_t *res = NEW(&a, res_t);
    sspans_t **ssp = NEWN(&a, sspans_t *, ss_count[k]);
    if (rs == NULL || res == NULL || ssp == NULL) goto done;
    opentelemetry__proto__trace__v1__resource_spans__init(rs);
    opentelemetry__proto__resource__v1__resource__init(res);
    const uvotel_trace_resource_t *r = res_of[k];
    if (r != NULL) {
      if (fill_attrs(&a, r->attrs, r->n_attrs, &res->attributes) != 0) goto done;
      res->n_attributes = r->n_attrs;
      res->dropped_attributes_count = r->dropped_attributes;
      if (r->schema_url) rs->schema_url = (char *)r->schema_url;
    }
    rs->resource = res;
    rs->scope_spans = ssp;
    for (size_t j = 0; j < n_groups; j++) {
      if (groups[j].res != r) continue;
      sspans_t *ss = NEW(&a, sspans_t);
      scope_t *sc = NEW(&a, scope_t);
      if (ss == NULL || sc == NULL) goto done;
      opentelemetry__proto__trace__v1__scope_spans__init(ss);
      opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
      const uvotel_instrumentation_scope_t *s = groups[j].scope;
      if (s != NULL) {
        if (s->name) sc->name = (char *)s->name;
        if (s->version) sc->version = (char *)s->version;
        if (fill_attrs(&a, s->attrs, s->n_attrs, &sc->attributes) != 0) goto done;
        sc->n_attributes = s->n_attrs;
        if (s->schema_url) ss->schema_url = (char *)s->schema_url;
      }
      ss->scope = sc;
      ss->spans = groups[j].spans;
      ss->n_spans = groups[j].n;
      ssp[rs->n_scope_spans++] = ss;
    }
    rsp[req.n_resource_spans++] = rs;
  }
  req.resource_spans = rsp;

  size_t sz =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
          &req);
  uint8_t *buf = uvotel_malloc(sz);
  if (buf == NULL) goto done;
  size_t got =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, buf);
  if (got != sz) {
    uvotel_free(buf);
    rc = UVOTEL_EIO;
    goto done;
  }
  *out = buf;
  *out_n = sz;
  rc = 0;
done:
  arena_free(&a);
  return rc;
}
