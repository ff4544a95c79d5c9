/* OTLP encoding of finished spans: the body decodes with protobuf-c into the same data, grouped
 * by resource then scope; ids are raw 16/8 bytes, flags carry the W3C flags and the remote bits,
 * every attribute type (arrays too), events, links and status survive; and encoding allocates a
 * bounded number of blocks whatever the batch size (no per-span allocation).
 *
 * The direct encoder (exporters/otlp/encode.c) is compared byte for byte with the protobuf-c
 * reference (tests/support/otlp_pbc_encode.c) over every field and value type, boundary
 * lengths, and a seeded random mix; invalid UTF-8 in every string position is repaired to
 * U+FFFD in both the protobuf and the OTLP/JSON encoders, and the other spans survive. Byte
 * arrays, kvlists (nested, empty) and empty values: byte for byte in every attribute position,
 * and exact OTLP/JSON (base64 with padding, kvlistValue, {}), UTF-8 repaired inside kvlists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../exporters/src/encoding.h"
#include "counting_alloc.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_internal.h"
#include "otlp_pbc_encode.h"
#include "uvotel.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/exporters/otlp_http.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req_t;
typedef Opentelemetry__Proto__Trace__V1__Span span_t;
typedef Opentelemetry__Proto__Common__V1__AnyValue any_t;

static long g_live0;

static int setup(void **state) {
  (void)state;
  g_live0 = counting_alloc_stats().live;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live0);
  return 0;
}

static uvotel_tracer_provider_t *provider(uvotel_memory_exporter_t *m, const char *service) {
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(m));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", service)};
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.resource_attrs = res;
  po.n_resource_attrs = 1;
  po.processors = &sp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  return p;
}

static const any_t *attr(Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n,
                         const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[i]->key, key) == 0) return kv[i]->value;
  return NULL;
}

static const span_t *find(const req_t *q, const char *name) {
  for (size_t i = 0; i < q->n_resource_spans; i++)
    for (size_t j = 0; j < q->resource_spans[i]->n_scope_spans; j++)
      for (size_t k = 0; k < q->resource_spans[i]->scope_spans[j]->n_spans; k++)
        if (strcmp(q->resource_spans[i]->scope_spans[j]->spans[k]->name, name) == 0)
          return q->resource_spans[i]->scope_spans[j]->spans[k];
  return NULL;
}

static void test_roundtrip_grouping_and_fields(void **state) {
  (void)state;
  uvotel_memory_exporter_t *m = uvotel_memory_exporter_create(0);
  uvotel_tracer_provider_t *pa = provider(m, "svc-a"), *pb = provider(m, "svc-b");
  uvotel_tracer_t *s1 = uvotel_tracer_get(pa, "s1", "1.0"), *s2 = uvotel_tracer_get(pa, "s2", NULL);
  uvotel_tracer_t *s3 = uvotel_tracer_get(pb, "s3", "3.0");

  /* a remote parent, as an extracted traceparent would give */
  uvotel_span_context_t remote = {{{0}}, {{0}}, UVOTEL_TRACE_FLAG_SAMPLED, 1, NULL};
  for (int i = 0; i < 16; i++) remote.trace_id.bytes[i] = (uint8_t)(0x10 + i);
  for (int i = 0; i < 8; i++) remote.span_id.bytes[i] = (uint8_t)(0xa0 + i);
  uvotel_trace_state_t *ts = NULL;
  assert_int_equal(uvotel_trace_state_parse("vendor=abc,other=1", 18, &ts), 0);
  remote.trace_state = ts;
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  so.parent_context = &remote;
  uvotel_link_t link = {remote, NULL, 0, 0};
  uvotel_attribute_t link_attr[] = {UVOTEL_ATTR_STR("link.why", "batch")};
  link.attrs = link_attr;
  link.n_attrs = 1;
  so.links = &link;
  so.n_links = 1;
  uvotel_span_t *a = uvotel_span_start(s1, "alpha", &so);
  const char *strs[] = {"x", "y"};
  const bool bools[] = {true, false};
  const int64_t ints[] = {1, -2, 3};
  const double dbls[] = {0.25};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("s", "text"),
                                UVOTEL_ATTR_BOOL("b", true),
                                UVOTEL_ATTR_INT("i", -42),
                                UVOTEL_ATTR_DOUBLE("d", 1.5),
                                UVOTEL_ATTR_STR_ARRAY("sa", strs, 2),
                                UVOTEL_ATTR_BOOL_ARRAY("ba", bools, 2),
                                UVOTEL_ATTR_INT_ARRAY("ia", ints, 3),
                                UVOTEL_ATTR_DOUBLE_ARRAY("da", dbls, 1)};
  uvotel_span_set_attributes(a, attrs, sizeof attrs / sizeof attrs[0]);
  uvotel_attribute_t ev_attr[] = {UVOTEL_ATTR_INT("ev.n", 7)};
  uvotel_span_add_event_at(a, "ev", 123456789, ev_attr, 1);
  uvotel_span_set_status(a, UVOTEL_STATUS_OK, "ignored with OK");

  uvotel_span_options_t co = UVOTEL_SPAN_OPTIONS_INIT;
  co.parent_span = a;
  uvotel_span_t *b = uvotel_span_start(s2, "beta", &co);
  uvotel_span_set_status(b, UVOTEL_STATUS_ERROR, "bad thing");
  uvotel_span_t *c = uvotel_span_start(s3, "gamma", NULL);
  uvotel_span_t *d = uvotel_span_start(s1, "delta", NULL);
  uvotel_span_context_t a_ctx = uvotel_span_context(a);
  uvotel_span_end(b);
  uvotel_span_end(c);
  uvotel_span_end(d);
  uvotel_span_end(a);
  assert_int_equal(uvotel_memory_exporter_count(m), 4);
  const uvotel_span_data_t *spans[4];
  for (size_t i = 0; i < 4; i++) spans[i] = uvotel_memory_exporter_get(m, i);

  uint8_t *body;
  size_t len;
  assert_int_equal(uvotel_otlp_http_encode(spans, 4, &body, &len), 0);
  req_t *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, len, body);
  assert_non_null(q);
  /* two resources in first-seen order: svc-a (scopes s2, s1), svc-b (s3) */
  assert_int_equal(q->n_resource_spans, 2);
  const any_t *sn = attr(q->resource_spans[0]->resource->attributes,
                         q->resource_spans[0]->resource->n_attributes, "service.name");
  assert_string_equal(sn->string_value, "svc-a");
  assert_int_equal(q->resource_spans[0]->n_scope_spans, 2);
  assert_string_equal(q->resource_spans[0]->scope_spans[0]->scope->name, "s2");
  assert_string_equal(q->resource_spans[0]->scope_spans[0]->scope->version, "");
  assert_string_equal(q->resource_spans[0]->scope_spans[1]->scope->name, "s1");
  assert_string_equal(q->resource_spans[0]->scope_spans[1]->scope->version, "1.0");
  assert_int_equal(q->resource_spans[0]->scope_spans[1]->n_spans, 2);
  assert_int_equal(q->resource_spans[1]->n_scope_spans, 1);
  assert_string_equal(q->resource_spans[1]->scope_spans[0]->scope->name, "s3");

  const span_t *sa = find(q, "alpha");
  assert_non_null(sa);
  assert_int_equal(sa->trace_id.len, 16);
  assert_memory_equal(sa->trace_id.data, remote.trace_id.bytes, 16);
  assert_int_equal(sa->span_id.len, 8);
  assert_memory_equal(sa->span_id.data, a_ctx.span_id.bytes, 8);
  assert_int_equal(sa->parent_span_id.len, 8);
  assert_memory_equal(sa->parent_span_id.data, remote.span_id.bytes, 8);
  assert_int_equal(sa->flags & 0x1, 1);
  assert_int_equal(sa->flags & 0x300, 0x300); /* remote parent, and known to be */
  assert_int_equal(sa->kind, 2);
  assert_true(sa->end_time_unix_nano >= sa->start_time_unix_nano);
  assert_string_equal(attr(sa->attributes, sa->n_attributes, "s")->string_value, "text");
  assert_int_equal(attr(sa->attributes, sa->n_attributes, "b")->bool_value, 1);
  assert_int_equal(attr(sa->attributes, sa->n_attributes, "i")->int_value, -42);
  assert_true(attr(sa->attributes, sa->n_attributes, "d")->double_value == 1.5);
  const any_t *arr = attr(sa->attributes, sa->n_attributes, "sa");
  assert_int_equal(arr->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE);
  assert_int_equal(arr->array_value->n_values, 2);
  assert_string_equal(arr->array_value->values[1]->string_value, "y");
  arr = attr(sa->attributes, sa->n_attributes, "ba");
  assert_int_equal(arr->array_value->values[0]->bool_value, 1);
  arr = attr(sa->attributes, sa->n_attributes, "ia");
  assert_int_equal(arr->array_value->n_values, 3);
  assert_int_equal(arr->array_value->values[1]->int_value, -2);
  arr = attr(sa->attributes, sa->n_attributes, "da");
  assert_true(arr->array_value->values[0]->double_value == 0.25);
  assert_int_equal(sa->n_events, 1);
  assert_string_equal(sa->events[0]->name, "ev");
  assert_int_equal(sa->events[0]->time_unix_nano, 123456789);
  assert_int_equal(sa->events[0]->attributes[0]->value->int_value, 7);
  assert_int_equal(sa->n_links, 1);
  assert_memory_equal(sa->links[0]->trace_id.data, remote.trace_id.bytes, 16);
  assert_memory_equal(sa->links[0]->span_id.data, remote.span_id.bytes, 8);
  assert_int_equal(sa->links[0]->flags, 0x301);
  assert_string_equal(sa->links[0]->attributes[0]->value->string_value, "batch");
  assert_non_null(sa->status);
  assert_int_equal(sa->status->code, 1);
  assert_string_equal(sa->status->message, ""); /* a description is kept only with ERROR */

  const span_t *sb = find(q, "beta");
  assert_memory_equal(sb->parent_span_id.data, a_ctx.span_id.bytes, 8);
  assert_int_equal(sb->flags & 0x300, 0x100); /* local parent */
  assert_int_equal(sb->kind, 1);
  assert_int_equal(sb->status->code, 2);
  assert_string_equal(sb->status->message, "bad thing");
  const span_t *sc = find(q, "gamma");
  assert_int_equal(sc->parent_span_id.len, 0); /* a root */
  assert_null(sc->status);                     /* UNSET: no Status message at all */

  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q, NULL);
  uvotel_free(body);
  uvotel_tracer_provider_free(pa);
  uvotel_tracer_provider_free(pb);
  uvotel_trace_state_release(ts);
  uvotel_memory_exporter_free(m);
}

static void test_bounded_allocations(void **state) {
  (void)state;
  uvotel_memory_exporter_t *m = uvotel_memory_exporter_create(0);
  uvotel_tracer_provider_t *p = provider(m, "svc");
  uvotel_tracer_t *t = uvotel_tracer_get(p, "s", "1");
  for (int i = 0; i < 1000; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "op", NULL);
    uvotel_span_set_attribute_str(s, "k", "v");
    uvotel_span_set_attribute_int(s, "n", i);
    uvotel_span_end(s);
  }
  const uvotel_span_data_t *spans[1000];
  for (size_t i = 0; i < 1000; i++) spans[i] = uvotel_memory_exporter_get(m, i);
  size_t before = counting_alloc_stats().allocs;
  uint8_t *body;
  size_t len;
  assert_int_equal(uvotel_otlp_http_encode(spans, 1000, &body, &len), 0);
  size_t allocs = counting_alloc_stats().allocs - before;
  assert_true(allocs <= 4); /* arena blocks and the body, never one per span */
  uvotel_free(body);
  /* out of memory: an error, nothing leaked */
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel_otlp_http_encode(spans, 1000, &body, &len), UVOTEL_ENOMEM);
  counting_alloc_fail_after(1, 1);
  assert_int_equal(uvotel_otlp_http_encode(spans, 1000, &body, &len), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(m);
}

/* ---- byte for byte against protobuf-c ---- */

static void expect_same_bytes(const uvotel_span_data_t *const *spans, size_t n) {
  uint8_t *a = NULL, *b = NULL;
  size_t an = 0, bn = 0;
  assert_int_equal(uvotel_otlp_http_encode(spans, n, &a, &an), 0);
  assert_int_equal(otlp_pbc_encode(spans, n, &b, &bn), 0);
  size_t i = 0;
  while (i < an && i < bn && a[i] == b[i]) i++;
  if (i != an || an != bn) {
    print_error("direct encoder differs from protobuf-c at byte %zu (lengths %zu / %zu)\n", i, an,
                bn);
  }
  assert_int_equal(an, bn);
  assert_memory_equal(a, b, an);
  /* with the exporter's recycled scratch, twice (the second reuses the first one's stack) */
  uvotel__otlp_block_cache_t *cache = NULL;
  assert_int_equal(uvotel__otlp_block_cache_create(&cache), 0);
  for (int round = 0; round < 2; round++) {
    uint8_t *c = NULL;
    size_t cn = 0;
    assert_int_equal(uvotel__otlp_encode(spans, n, cache, &c, &cn), 0);
    assert_int_equal(cn, bn);
    assert_memory_equal(c, b, cn);
    uvotel_free(c);
  }
  /* held (what the exporter sends): the same bytes in the scratch buffer itself, with the
   * cache (its second round reuses the first one's buffer) and without */
  uvotel__otlp_block_cache_t *caches[2] = {cache, NULL};
  for (int round = 0; round < 3; round++) {
    uint8_t *c = NULL;
    size_t cn = 0;
    uvotel__otlp_scratch_t *hold = NULL;
    /* the reused buffer overwritten first: every byte of the body must be written anew */
    uvotel__otlp_block_cache_fill(cache, round == 0 ? 0x00 : 0xa5);
    assert_int_equal(uvotel__otlp_encode_held(spans, n, caches[round / 2], &c, &cn, &hold), 0);
    assert_non_null(hold);
    assert_int_equal(cn, bn);
    assert_memory_equal(c, b, cn);
    uvotel__otlp_scratch_release(hold);
  }
  uvotel__otlp_block_cache_free(cache);
  uvotel_free(a);
  uvotel_free(b);
}

typedef struct batch_s {
  uvotel_memory_exporter_t *m;
  const uvotel_span_data_t *spans[512];
  size_t n;
} batch_t;

static void collect(batch_t *b) {
  b->n = uvotel_memory_exporter_count(b->m);
  assert_true(b->n <= 512);
  for (size_t i = 0; i < b->n; i++) b->spans[i] = uvotel_memory_exporter_get(b->m, i);
}

static uvotel_tracer_provider_t *provider_lim(uvotel_memory_exporter_t *m, const char *service,
                                              const char *schema, uint32_t attr_limit) {
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(m));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", service),
                              UVOTEL_ATTR_INT("res.int", 0), UVOTEL_ATTR_BOOL("res.b", false)};
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.resource_attrs = res;
  po.n_resource_attrs = 3;
  po.resource_schema_url = schema;
  po.processors = &sp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  po.limits.attribute_count = attr_limit;
  po.limits.event_count = 3;
  po.limits.link_count = 2;
  po.limits.event_attribute_count = 2;
  po.limits.link_attribute_count = 1;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  return p;
}

static void test_bytes_every_field_and_value(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *pa = provider_lim(b.m, "svc-a", "https://opentelemetry.io/s/1.2", 6);
  uvotel_tracer_provider_t *pb = provider_lim(b.m, "", NULL, 128);
  uvotel_tracer_t *t1 = uvotel_tracer_get_with_schema(pa, "lib.one", "1.2.3", "https://x/scope");
  uvotel_tracer_t *t2 = uvotel_tracer_get(pa, NULL, NULL); /* empty name and version */
  const int64_t scope_ints[] = {3, -3};
  uvotel_attribute_t t3_attrs[] = {UVOTEL_ATTR_STR("t3.s", "x"), UVOTEL_ATTR_INT("t3.i", 0),
                                   UVOTEL_ATTR_INT_ARRAY("t3.ia", scope_ints, 2)};
  uvotel_tracer_t *t3 = uvotel_tracer_get_with_attributes(pb, "lib.three", NULL, NULL, t3_attrs, 3);
  assert_non_null(t3);
  /* scope attributes (one of each type, NONE too) and a resource dropped count: the SDK has no
   * API that sets them yet, the encoders still must write them */
  uvotel_instrumentation_scope_t *scope1 =
      (uvotel_instrumentation_scope_t *)uvotel_tracer_scope(t1);
  uvotel_attribute_t scope_attrs[] = {UVOTEL_ATTR_STR("scope.s", "v"),
                                      UVOTEL_ATTR_STR("scope.empty", ""),
                                      UVOTEL_ATTR_DOUBLE("scope.d", -0.0),
                                      {"scope.none", {UVOTEL_VALUE_NONE, 0, {.s = NULL}}}};
  scope_attrs[1].value.len = 0;
  scope_attrs[0].value.len = 1;
  scope1->attrs = scope_attrs;
  scope1->n_attrs = 4;
  uvotel_trace_resource_t *resb = (uvotel_trace_resource_t *)uvotel_tracer_provider_resource(pb);
  resb->dropped_attributes = 7;

  uvotel_span_context_t remote = {{{0}}, {{0}}, UVOTEL_TRACE_FLAG_SAMPLED, 1, NULL};
  for (int i = 0; i < 16; i++) remote.trace_id.bytes[i] = (uint8_t)(0xf0 + i);
  for (int i = 0; i < 8; i++) remote.span_id.bytes[i] = (uint8_t)(0x80 + i);
  uvotel_trace_state_t *ts = NULL;
  assert_int_equal(uvotel_trace_state_parse("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 39, &ts), 0);
  remote.trace_state = ts;

  /* every kind, every status, with and without parents */
  const uvotel_span_kind_t kinds[] = {UVOTEL_SPAN_KIND_INTERNAL, UVOTEL_SPAN_KIND_SERVER,
                                      UVOTEL_SPAN_KIND_CLIENT, UVOTEL_SPAN_KIND_PRODUCER,
                                      UVOTEL_SPAN_KIND_CONSUMER};
  const char *strs[] = {"", "x", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"};
  const bool bools[] = {false, true};
  const int64_t ints[] = {0, -1, INT64_MIN, INT64_MAX, 127, 128};
  const double dbls[] = {0.0, -0.0, 1e308, -1.5};
  uvotel_span_t *root = NULL;
  for (int k = 0; k < 5; k++) {
    uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
    so.kind = kinds[k];
    if (k == 1) so.parent_context = &remote;
    if (k >= 2) so.parent_span = root;
    uvotel_link_t links[3];
    uvotel_attribute_t link_attrs[] = {UVOTEL_ATTR_STR("l.a", "1"), UVOTEL_ATTR_INT("l.b", 0)};
    for (int l = 0; l < 3; l++) {
      links[l].context = remote;
      links[l].context.is_remote = (uint8_t)(l & 1);
      links[l].context.trace_state = l == 0 ? ts : NULL;
      links[l].attrs = l == 2 ? NULL : link_attrs;
      links[l].n_attrs = l == 2 ? 0 : 2; /* limit 1: one dropped */
      links[l].dropped_attributes = 0;
    }
    if (k == 3) {
      so.links = links;
      so.n_links = 3; /* limit 2: one dropped */
    }
    uvotel_tracer_t *t = k == 4 ? t2 : t1;
    uvotel_span_t *s = uvotel_span_start(t, k == 0 ? "root" : k == 4 ? "" : "child", &so);
    if (k == 0) root = s;
    uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("s", "text"),
                                  UVOTEL_ATTR_STR("s.empty", ""),
                                  UVOTEL_ATTR_BOOL("b.false", false),
                                  UVOTEL_ATTR_INT("i.zero", 0),
                                  UVOTEL_ATTR_DOUBLE("d.zero", 0.0),
                                  UVOTEL_ATTR_STR_ARRAY("sa", strs, 3),
                                  UVOTEL_ATTR_BOOL_ARRAY("ba", bools, 2),
                                  UVOTEL_ATTR_INT_ARRAY("ia", ints, 6),
                                  UVOTEL_ATTR_DOUBLE_ARRAY("da", dbls, 4),
                                  UVOTEL_ATTR_STR_ARRAY("sa.empty", strs, 0)};
    /* k: how many of them (limit 6 on pa: the rest dropped) */
    size_t na = k == 2 ? 0 : (size_t)(k == 0 ? 10 : 5 + k);
    uvotel_span_set_attributes(s, attrs, na);
    if (k == 1) {
      uvotel_span_set_attribute_int(s, "i", INT64_MIN);
      uvotel_span_set_attribute_double(s, "d", 3.25);
      uvotel_span_set_attribute_bool(s, "b", true);
    }
    if (k == 0 || k == 3) {
      uvotel_attribute_t ev_attrs[] = {UVOTEL_ATTR_STR("e.a", "x"), UVOTEL_ATTR_INT("e.b", 9),
                                       UVOTEL_ATTR_BOOL("e.c", true)};
      uvotel_span_add_event_at(s, "ev.first", 1, ev_attrs, 3); /* limit 2: one dropped */
      uvotel_span_add_event(s, "", NULL, 0);
      uvotel_span_add_event_at(s, "ev.third", 18446744073709551615ull, ev_attrs, 1);
      uvotel_span_add_event(s, "ev.dropped", NULL, 0); /* limit 3 */
    }
    if (k == 1) uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, "");
    if (k == 2) uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, "broken \xc3\xa9");
    if (k == 3) uvotel_span_set_status(s, UVOTEL_STATUS_OK, NULL);
    if (k != 0) uvotel_span_end(s);
  }
  uvotel_span_end(root);
  /* a span of the other provider and of a third scope, and one started and ended at chosen
   * times (start 0 is "now"; an explicit end) */
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.start_unix_ns = 1;
  uvotel_span_t *s = uvotel_span_start(t3, "other", &so);
  uvotel_span_end_at(s, 2);
  s = uvotel_span_start(t1, "again", NULL); /* back to the first group */
  uvotel_span_end(s);
  collect(&b);
  assert_int_equal(b.n, 7);
  expect_same_bytes(b.spans, b.n);
  expect_same_bytes(b.spans, 1);
  expect_same_bytes(b.spans + 3, 4);
  expect_same_bytes(b.spans, 0);

  scope1->attrs = NULL;
  scope1->n_attrs = 0;
  resb->dropped_attributes = 0;
  uvotel_tracer_provider_free(pa);
  uvotel_tracer_provider_free(pb);
  uvotel_trace_state_release(ts);
  uvotel_memory_exporter_free(b.m);
}

/* Lengths around every varint boundary (1, 2, 3 bytes), for strings and for whole messages. */
static void test_bytes_length_boundaries(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider_lim(b.m, "svc", NULL, 128);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "s", "1");
  static char big[70001];
  memset(big, 'a', sizeof big - 1);
  const size_t lens[] = {0, 1, 100, 126, 127, 128, 129, 16382, 16383, 16384, 16385, 70000};
  for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
    big[lens[i]] = '\0';
    uvotel_span_t *s = uvotel_span_start(t, big, NULL);
    uvotel_span_set_attribute_str(s, big[0] ? big : "k", big);
    big[lens[i]] = 'a';
    uvotel_span_end(s);
  }
  /* a span with the most attributes the limit keeps (128) and many events */
  uvotel_span_t *s = uvotel_span_start(t, "wide", NULL);
  for (int i = 0; i < 200; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%03d", i);
    uvotel_span_set_attribute_int(s, k, i);
  }
  for (int i = 0; i < 3; i++) uvotel_span_add_event(s, "e", NULL, 0);
  uvotel_span_end(s);
  collect(&b);
  expect_same_bytes(b.spans, b.n);
  for (size_t i = 0; i < b.n; i++) expect_same_bytes(b.spans + i, 1);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng % n);
}

/* A seeded random mix of providers, scopes, attribute types and sizes, events, links, status. */
static void test_bytes_random_batches(void **state) {
  (void)state;
  for (int round = 0; round < 20; round++) {
    batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
    uvotel_tracer_provider_t *ps[3];
    uvotel_tracer_t *ts[6];
    for (int i = 0; i < 3; i++) {
      ps[i] = provider_lim(b.m, i == 0 ? "a" : i == 1 ? "b" : "c", i == 2 ? "u" : NULL, 16);
      ts[2 * i] = uvotel_tracer_get(ps[i], "x", "1");
      ts[2 * i + 1] = uvotel_tracer_get_with_schema(ps[i], "y", NULL, "sch");
    }
    static const char *words[] = {"",
                                  "a",
                                  "GET",
                                  "/api/items/12345",
                                  "\xc3\xa9t\xc3\xa9",
                                  "a fairly long value that needs more than one hundred and "
                                  "twenty-eight bytes of payload so that its length prefix takes "
                                  "two bytes on the wire ..."};
    size_t n = 1 + rnd(200);
    for (size_t i = 0; i < n; i++) {
      uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
      so.kind = (uvotel_span_kind_t)rnd(6);
      uvotel_span_t *s = uvotel_span_start(ts[rnd(6)], words[rnd(6)], &so);
      uint32_t na = rnd(20);
      for (uint32_t a = 0; a < na; a++) {
        char key[8];
        snprintf(key, sizeof key, "k%u", rnd(24));
        switch (rnd(8)) {
          case 0:
            uvotel_span_set_attribute_str(s, key, words[rnd(6)]);
            break;
          case 1:
            uvotel_span_set_attribute_int(s, key, (int64_t)(g_rng >> rnd(64)) * (rnd(2) ? -1 : 1));
            break;
          case 2:
            uvotel_span_set_attribute_double(s, key, (double)rnd(1000) / 7.0);
            break;
          case 3:
            uvotel_span_set_attribute_bool(s, key, rnd(2));
            break;
          default: {
            const int64_t ia[] = {(int64_t)rnd(300), -5, 0};
            uvotel_attribute_t at = UVOTEL_ATTR_INT_ARRAY(key, ia, rnd(4));
            if (rnd(2)) {
              at.value.type = UVOTEL_VALUE_STRING_ARRAY;
              at.value.u.sa = words + rnd(3);
            }
            uvotel_span_set_attribute(s, &at);
          }
        }
      }
      for (uint32_t e = rnd(4); e > 0; e--) {
        uvotel_attribute_t ea[] = {UVOTEL_ATTR_STR("w", words[rnd(6)])};
        uvotel_span_add_event(s, words[rnd(6)], ea, rnd(2));
      }
      if (rnd(3) == 0) {
        uvotel_link_t l = {uvotel_span_context(s), NULL, 0, 0};
        uvotel_span_add_link(s, &l);
      }
      uint32_t st = rnd(3);
      if (st) uvotel_span_set_status(s, (uvotel_status_code_t)st, words[rnd(6)]);
      uvotel_span_end(s);
    }
    collect(&b);
    expect_same_bytes(b.spans, b.n);
    for (int i = 0; i < 3; i++) uvotel_tracer_provider_free(ps[i]);
    uvotel_memory_exporter_free(b.m);
  }
}

/* Bad input, and out of memory at each of the encoder's allocations. */
static void test_encode_errors(void **state) {
  (void)state;
  uint8_t *body = (uint8_t *)1;
  size_t len = 1;
  const uvotel_span_data_t *none[1] = {NULL};
  assert_int_equal(uvotel_otlp_http_encode(NULL, 1, &body, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode(none, 1, &body, &len), UVOTEL_EINVAL);
  assert_null(body);
  assert_int_equal(len, 0);
  assert_int_equal(uvotel_otlp_http_encode(none, 0, NULL, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode(none, 0, &body, NULL), UVOTEL_EINVAL);
  /* an empty batch: an empty request (0 bytes), as protobuf-c packs it */
  assert_int_equal(uvotel_otlp_http_encode(NULL, 0, &body, &len), 0);
  assert_int_equal(len, 0);
  uvotel_free(body);

  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider_lim(b.m, "svc", NULL, 128);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "s", "1");
  for (int i = 0; i < 300; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "op", NULL);
    uvotel_span_set_attribute_str(s, "k", "v");
    for (int k = 0; k < (i == 299 ? 120 : 1); k++) { /* the last one outgrows the first stack */
      char key[8];
      snprintf(key, sizeof key, "a%d", k);
      uvotel_span_set_attribute_int(s, key, k);
    }
    uvotel_span_end(s);
  }
  collect(&b);
  int failures_seen = 0;
  for (long k = 0; k < 10; k++) {
    counting_alloc_fail_after(k, 1);
    int rc = uvotel_otlp_http_encode(b.spans, b.n, &body, &len);
    counting_alloc_fail_after(0, 0);
    if (rc == 0) {
      uvotel_free(body);
      break;
    }
    assert_int_equal(rc, UVOTEL_ENOMEM);
    failures_seen++;
  }
  assert_true(failures_seen >= 4); /* groups, scratch, stack, its growth, body */
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* A held body (uvotel__otlp_encode_held, what the exporter hands its transport) is the
 * caller's until released: encoding other batches with the same cache meanwhile takes other
 * buffers and leaves it intact; once released, its buffer is the next batch's (no allocation
 * but the grouping's), and a buffer released beyond the cache's size is freed. Bad input and
 * out of memory return nothing held and leak nothing (the teardown counts live blocks). */
static void test_held_body_owned_until_release(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider(b.m, "svc");
  uvotel_tracer_t *t = uvotel_tracer_get(p, "held", "1");
  for (int i = 0; i < 40; i++) {
    uvotel_span_t *s = uvotel_span_start(t, i < 20 ? "first" : "second", NULL);
    uvotel_span_set_attribute_int(s, "i", i);
    uvotel_span_set_attribute_str(s, "half", i < 20 ? "first half" : "second half");
    uvotel_span_end(s);
  }
  collect(&b);
  uint8_t *ref[2];
  size_t ref_n[2];
  for (int k = 0; k < 2; k++)
    assert_int_equal(otlp_pbc_encode(b.spans + 20 * k, 20, &ref[k], &ref_n[k]), 0);
  assert_true(ref_n[0] != ref_n[1] || memcmp(ref[0], ref[1], ref_n[0]) != 0);

  uvotel__otlp_block_cache_t *cache = NULL;
  assert_int_equal(uvotel__otlp_block_cache_create(&cache), 0);
  uint8_t *body[12];
  size_t len[12];
  uvotel__otlp_scratch_t *hold[12];
  /* more held at once than the cache keeps (8) */
  for (int k = 0; k < 12; k++) {
    assert_int_equal(
        uvotel__otlp_encode_held(b.spans + 20 * (k % 2), 20, cache, &body[k], &len[k], &hold[k]),
        0);
    for (int j = 0; j <= k; j++) {
      assert_int_equal(len[j], ref_n[j % 2]);
      assert_memory_equal(body[j], ref[j % 2], len[j]);
    }
  }
  for (int k = 0; k < 12; k++) uvotel__otlp_scratch_release(hold[k]);
  /* 8 kept: the next 8 batches take them without allocating a buffer */
  for (int k = 0; k < 8; k++) {
    size_t a0 = counting_alloc_stats().allocs;
    assert_int_equal(
        uvotel__otlp_encode_held(b.spans + 20 * (k % 2), 20, cache, &body[k], &len[k], &hold[k]),
        0);
    assert_int_equal(counting_alloc_stats().allocs - a0, 1); /* the grouping's block */
    assert_memory_equal(body[k], ref[k % 2], len[k]);
  }
  size_t a0 = counting_alloc_stats().allocs;
  assert_int_equal(uvotel__otlp_encode_held(b.spans, 20, cache, &body[8], &len[8], &hold[8]), 0);
  assert_true(counting_alloc_stats().allocs - a0 >= 3); /* grouping, scratch, its buffer */
  for (int k = 0; k <= 8; k++) uvotel__otlp_scratch_release(hold[k]);

  /* bad input and out of memory: nothing held */
  uvotel__otlp_scratch_t *h = (uvotel__otlp_scratch_t *)1;
  uint8_t *o = (uint8_t *)1;
  size_t on = 1;
  const uvotel_span_data_t *none[1] = {NULL};
  assert_int_equal(uvotel__otlp_encode_held(none, 1, cache, &o, &on, &h), UVOTEL_EINVAL);
  assert_null(h);
  assert_null(o);
  assert_int_equal(on, 0);
  assert_int_equal(uvotel__otlp_encode_held(b.spans, 1, cache, &o, &on, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel__otlp_encode_held(b.spans, 1, cache, NULL, &on, &h), UVOTEL_EINVAL);
  for (int nocache = 0; nocache < 2; nocache++) {
    int failures = 0;
    for (long k = 0; k < 8; k++) {
      counting_alloc_fail_after(k, 1);
      h = (uvotel__otlp_scratch_t *)1;
      int rc = uvotel__otlp_encode_held(b.spans, 20, nocache ? NULL : cache, &o, &on, &h);
      counting_alloc_fail_after(0, 0);
      if (rc == 0) {
        uvotel__otlp_scratch_release(h);
        break;
      }
      assert_int_equal(rc, UVOTEL_ENOMEM);
      assert_null(h);
      assert_null(o);
      failures++;
    }
    /* the cache has 8 warm buffers: only the grouping can fail; without it the scratch, its
     * buffer and the buffer's growth too */
    if (nocache)
      assert_true(failures >= 3);
    else
      assert_int_equal(failures, 1);
  }
  uvotel__otlp_scratch_release(NULL); /* a no-op */
  uvotel__otlp_block_cache_free(cache);
  uvotel_free(ref[0]);
  uvotel_free(ref[1]);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* The writer fills its scratch buffer from the end and grows it when a write does not fit
 * (tests/unit: a batch of one span starts with about 1 kB): spans much larger than that, with
 * long strings in every place a string goes (name, attribute keys and values, kvlist members,
 * string arrays, event names and their attributes, link attributes and trace state, status
 * message), so the buffer grows inside every kind of write. Byte for byte against protobuf-c,
 * alone (fresh scratch each time) and together, with and without the exporter's cache. */
static void test_bytes_growth_everywhere(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider(b.m, "svc");
  uvotel_tracer_t *t = uvotel_tracer_get(p, "grow", "1");
  static char fill[5001];
  for (size_t i = 0; i < sizeof fill - 1; i++) fill[i] = (char)('a' + i % 26);
  uvotel_trace_state_t *ts = NULL;
  char tsv[300];
  snprintf(tsv, sizeof tsv, "k1=%.200s,k2=v", fill);
  assert_int_equal(uvotel_trace_state_parse(tsv, strlen(tsv), &ts), 0);
  const size_t sizes[] = {30, 200, 1500, 5000};
  for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
    size_t len = sizes[z];
    char saved = fill[len];
    fill[len] = '\0';
    uvotel_span_context_t remote = {{{0}}, {{0}}, UVOTEL_TRACE_FLAG_SAMPLED, 1, ts};
    memset(remote.trace_id.bytes, 0x5a, 16);
    memset(remote.span_id.bytes, 0xa5, 8);
    uvotel_attribute_t la[] = {UVOTEL_ATTR_STR("link.s", fill), UVOTEL_ATTR_INT("link.i", -7)};
    uvotel_link_t links[4];
    for (int l = 0; l < 4; l++) {
      links[l].context = remote;
      links[l].attrs = la;
      links[l].n_attrs = 2;
      links[l].dropped_attributes = 0;
    }
    uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
    so.parent_context = &remote;
    so.links = links;
    so.n_links = 4;
    so.kind = UVOTEL_SPAN_KIND_CLIENT;
    uvotel_span_t *s = uvotel_span_start(t, fill, &so);
    for (int i = 0; i < 20; i++) {
      char key[48];
      snprintf(key, sizeof key, "attr.%02d.%.30s", i, fill);
      uvotel_span_set_attribute_str(s, key, fill);
      snprintf(key, sizeof key, "int.%02d", i);
      uvotel_span_set_attribute_int(s, key, (int64_t)i * -1000003);
    }
    uvotel_span_set_attribute_str(s, fill, "the key is the long one");
    const char *sa[] = {fill, "", fill};
    uvotel_attribute_t arr = UVOTEL_ATTR_STR_ARRAY("sa", sa, 3);
    uvotel_span_set_attribute(s, &arr);
    uvotel_attribute_t inner[] = {UVOTEL_ATTR_STR("in.s", fill), UVOTEL_ATTR_DOUBLE("in.d", 2.5)};
    uvotel_attribute_t kvl = {"kv", {UVOTEL_VALUE_KVLIST, 2, {.kv = inner}}};
    uvotel_span_set_attribute(s, &kvl);
    uvotel_attribute_t ea[] = {UVOTEL_ATTR_STR("ev.s", fill), UVOTEL_ATTR_BOOL("ev.b", true)};
    for (int e = 0; e < 6; e++) uvotel_span_add_event_at(s, fill, 1000 + (uint64_t)e, ea, 2);
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, fill);
    uvotel_span_end(s);
    fill[len] = saved;
  }
  /* and many small spans after them, in the same batch */
  for (int i = 0; i < 100; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "small", NULL);
    uvotel_span_set_attribute_int(s, "i", i);
    uvotel_span_end(s);
  }
  collect(&b);
  assert_int_equal(b.n, 104);
  for (size_t i = 0; i < 4; i++) expect_same_bytes(b.spans + i, 1);
  expect_same_bytes(b.spans, b.n);
  expect_same_bytes(b.spans + 3, b.n - 3);
  uvotel_trace_state_release(ts);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* Pack a decoded request again with protobuf-c: what the direct encoder wrote must be exactly
 * protobuf-c's canonical bytes for what it decodes to (a check that works where the reference
 * encoder cannot be run on the same spans: it does not repair UTF-8). */
static void expect_canonical(const uint8_t *body, size_t len, req_t **out) {
  req_t *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, len, body);
  assert_non_null(q);
  size_t n =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(q);
  assert_int_equal(n, len);
  uint8_t *again = uvotel_malloc(n ? n : 1);
  assert_non_null(again);
  assert_int_equal(
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(q, again), n);
  assert_memory_equal(again, body, len);
  uvotel_free(again);
  *out = q;
}

/* Attribute keys and string values of every length the inline paths treat apart (0-1, 2-3,
 * 4-7, 8-16, 17-32, over 32), with a valid two-byte character or an invalid byte at the start,
 * middle and end, beside a plain ASCII twin: the strings the inline ASCII test sends to the full
 * check come out unchanged when valid and repaired when not, in keys and in values, and every
 * body is protobuf-c's canonical packing of what it decodes to. */
static void test_utf8_string_size_classes(void **state) {
  (void)state;
  static const char *const inserts[] = {"\xc3\xa9", "\xff"};
  for (int kind = 0; kind < 2; kind++) {
    for (size_t len = 1; len <= 40; len++) {
      batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
      uvotel_tracer_provider_t *p = provider(b.m, "svc");
      uvotel_tracer_t *t = uvotel_tracer_get(p, "u", NULL);
      const size_t at[] = {0, len / 2, len - 1};
      char strs[3][48], want[3][64];
      size_t want_len[3];
      for (int k = 0; k < 3; k++) {
        memset(strs[k], 'a' + k, len);
        strs[k][len] = '\0';
        size_t ins = strlen(inserts[kind]);
        size_t pos = at[k] + ins <= len ? at[k] : len >= ins ? len - ins : at[k];
        if (pos + ins <= len)
          memcpy(strs[k] + pos, inserts[kind], ins);
        else
          strs[k][pos] = inserts[kind][0]; /* len 1: a truncated sequence */
        want_len[k] = uvotel__utf8_repair(want[k], strs[k], len);
        want[k][want_len[k]] = '\0';
      }
      /* one attribute per span (with len 1 the three strings are the same key) */
      char plain[48];
      memset(plain, 'z', len);
      plain[len] = '\0';
      uvotel_attribute_t one[5] = {
          UVOTEL_ATTR_STR(strs[0], "plain"),      /* a bad key */
          UVOTEL_ATTR_STR("v1", strs[1]),         /* a bad value */
          UVOTEL_ATTR_STR(strs[2], strs[2]),      /* both */
          UVOTEL_ATTR_INT(strs[1], (int64_t)len), /* a bad key, an int value */
          UVOTEL_ATTR_STR(plain, plain)};         /* the ASCII twin */
      for (int k = 0; k < 5; k++) {
        uvotel_span_t *s = uvotel_span_start(t, "span", NULL);
        uvotel_span_set_attributes(s, &one[k], 1);
        uvotel_span_end(s);
      }
      collect(&b);
      assert_int_equal(b.n, 5);
      uint8_t *body = NULL;
      size_t blen = 0;
      assert_int_equal(uvotel_otlp_http_encode(b.spans, b.n, &body, &blen), 0);
      req_t *q = NULL;
      expect_canonical(body, blen, &q);
      span_t **x = q->resource_spans[0]->scope_spans[0]->spans;
      for (int k = 0; k < 5; k++) assert_int_equal(x[k]->n_attributes, 1);
      assert_string_equal(x[0]->attributes[0]->key, want[0]);
      assert_string_equal(x[0]->attributes[0]->value->string_value, "plain");
      assert_string_equal(x[1]->attributes[0]->key, "v1");
      assert_string_equal(x[1]->attributes[0]->value->string_value, want[1]);
      assert_string_equal(x[2]->attributes[0]->key, want[2]);
      assert_string_equal(x[2]->attributes[0]->value->string_value, want[2]);
      assert_string_equal(x[3]->attributes[0]->key, want[1]);
      assert_int_equal(x[3]->attributes[0]->value->int_value, (int64_t)len);
      assert_string_equal(x[4]->attributes[0]->key, plain);
      assert_string_equal(x[4]->attributes[0]->value->string_value, plain);
      /* valid input: exactly what protobuf-c packs for the same spans */
      int valid = 1;
      for (int k = 0; k < 3; k++) valid &= uvotel__utf8_valid_prefix(strs[k], len) == len;
      assert_int_equal(valid, kind == 0 && len >= 2); /* len 1: \xc3 alone, truncated */
      if (valid) expect_same_bytes(b.spans, b.n);
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q,
                                                                                              NULL);
      uvotel_free(body);
      uvotel_tracer_provider_free(p);
      uvotel_memory_exporter_free(b.m);
    }
  }
}

/* Encode spans[0..n) and check the body: protobuf-c's canonical packing of what it decodes to,
 * one resource and scope, the spans in order, and each span's attributes in order with their key
 * and string value as uvotel__utf8_repair makes them and their scalars unchanged. */
static void expect_repaired(const uvotel_span_data_t *const *spans, size_t n) {
  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(uvotel_otlp_http_encode(spans, n, &body, &len), 0);
  req_t *q = NULL;
  expect_canonical(body, len, &q);
  assert_int_equal(q->n_resource_spans, 1);
  assert_int_equal(q->resource_spans[0]->n_scope_spans, 1);
  assert_int_equal(q->resource_spans[0]->scope_spans[0]->n_spans, n);
  char fixed[512];
  for (size_t i = 0; i < n; i++) {
    const span_t *sp = q->resource_spans[0]->scope_spans[0]->spans[i];
    size_t na;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(spans[i], &na);
    assert_int_equal(sp->n_attributes, na);
    for (size_t j = 0; j < na; j++) {
      const Opentelemetry__Proto__Common__V1__KeyValue *kv = sp->attributes[j];
      size_t kn = strlen(a[j].key);
      assert_true(uvotel__utf8_repaired_len(a[j].key, kn) < sizeof fixed);
      fixed[uvotel__utf8_repair(fixed, a[j].key, kn)] = '\0';
      assert_string_equal(kv->key, fixed);
      const any_t *v = kv->value;
      switch (a[j].value.type) {
        case UVOTEL_VALUE_STRING:
          assert_int_equal(v->value_case,
                           OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
          assert_true(uvotel__utf8_repaired_len(a[j].value.u.s, a[j].value.len) < sizeof fixed);
          fixed[uvotel__utf8_repair(fixed, a[j].value.u.s, a[j].value.len)] = '\0';
          assert_string_equal(v->string_value, fixed);
          break;
        case UVOTEL_VALUE_INT:
          assert_int_equal(v->int_value, a[j].value.u.i);
          break;
        case UVOTEL_VALUE_BOOL:
          assert_int_equal(v->bool_value, a[j].value.u.b);
          break;
        case UVOTEL_VALUE_DOUBLE:
          assert_true(v->double_value == a[j].value.u.d);
          break;
        default:
          fail();
      }
    }
  }
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q, NULL);
  uvotel_free(body);
}

/* Keys set with the _static setters are borrowed: one address in every span of a batch, which
 * the encoder's per-batch key table relies on (each address measured, checked and encoded once,
 * then copied). Byte for byte against protobuf-c where every string is valid UTF-8, else every
 * key and value as repaired: borrowed keys of 1-12 and 25-36 bytes (keys
 * of up to 30 bytes, a key field of up to 32, are cached; 31 bytes and more take the plain path
 * every time), a key with
 * invalid UTF-8 (repaired in every span) and one with valid multi-byte UTF-8, with every fast
 * value type (strings of 0-130 bytes around the one-byte header boundaries, invalid UTF-8
 * values, negative ints, bools, doubles) on the same keys in turn; a batch with more distinct
 * borrowed keys than the table keeps; a batch whose first span's copied keys turn the table off
 * before the borrowed ones come (with invalid UTF-8); a batch of one span (every key seen once);
 * and the same key addresses in several batches in a row (the table is per batch). */
static void test_bytes_borrowed_keys(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider_lim(b.m, "svc", NULL, 128);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "borrow", "1");
  static char keys[64][48];
  for (int k = 0; k < 64; k++) {
    size_t n = k < 40 ? (size_t)k + 1 : 8 + (size_t)k % 5; /* 1..40, then 8..12 */
    for (size_t c = 0; c < n; c++) keys[k][c] = (char)('a' + (k * 7 + (int)c) % 26);
    if (k >= 40) keys[k][0] = (char)('0' + k % 10), keys[k][1] = (char)('0' + k / 10);
    keys[k][n] = '\0';
  }
  memcpy(keys[5], "k\xff\xfe.x", 6);                /* 6 bytes, invalid UTF-8 */
  memcpy(keys[9], "cl\xc3\xa9.\xe2\x82\xac.k", 10); /* 10 bytes, valid UTF-8 */
  static char val[131];
  for (int i = 0; i < 130; i++) val[i] = (char)('A' + i % 26);
  const size_t vlen[] = {0, 1, 7, 9, 16, 17, 32, 33, 100, 125, 126, 127, 128, 130};
  const size_t nv = sizeof vlen / sizeof vlen[0];
  char bad[] = "ok\xc3(bad";
  /* A: 120 spans, 24 keys (fewer than the table keeps) of 1..12 and 25..36 bytes with values
   * of every kind in turn; valid UTF-8 (the key with invalid bytes and the invalid value
   * replaced), then the same 120 with them */
  for (int i = 0; i < 240; i++) {
    int with_bad = i >= 120;
    uvotel_span_t *s = uvotel_span_start(t, "a", NULL);
    for (int k = 0; k < 36; k++) {
      if (k >= 12 && k < 24) continue;
      const char *key = k == 5 && !with_bad ? "k.ok.x" : keys[k];
      size_t kn = strlen(key);
      switch ((i + k) % 7) {
        case 0:
        case 1: {
          size_t n = vlen[(size_t)(i * 3 + k) % nv];
          char saved = val[n];
          val[n] = '\0';
          uvotel_span_set_attribute_str_static(s, key, kn, val);
          val[n] = saved;
          break;
        }
        case 2:
          uvotel_span_set_attribute_str_static(s, key, kn, with_bad ? bad : "ok-good");
          break;
        case 3:
          uvotel_span_set_attribute_int_static(s, key, kn, i % 2 ? -1 - i : 40000 + i);
          break;
        case 4:
          uvotel_span_set_attribute_bool_static(s, key, kn, i % 3 == 0);
          break;
        case 5:
          uvotel_span_set_attribute_double_static(s, key, kn, 0.25 * i);
          break;
        default:
          uvotel_span_set_attribute_str_static(s, key, kn, "v");
          break;
      }
    }
    uvotel_span_end(s);
  }
  /* B: 20 spans of 60 distinct keys, more than the table keeps */
  for (int i = 0; i < 20; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "b", NULL);
    for (int k = 0; k < 64; k++) {
      if (k % 16 == 15) continue;
      const char *key = k == 5 ? "k.ok.x" : keys[k];
      uvotel_span_set_attribute_int_static(s, key, strlen(key), i * k);
    }
    uvotel_span_end(s);
  }
  /* C: copied keys first (20 distinct, no repeat), then borrowed ones (some bad values) */
  uvotel_span_t *s0 = uvotel_span_start(t, "c0", NULL);
  for (int k = 0; k < 20; k++) {
    char key[16];
    snprintf(key, sizeof key, "copied.%d", k);
    uvotel_span_set_attribute_str(s0, key, "x");
  }
  uvotel_span_end(s0);
  for (int i = 0; i < 20; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "c", NULL);
    for (int k = 0; k < 12; k++)
      uvotel_span_set_attribute_str_static(s, keys[k], strlen(keys[k]), k % 2 ? bad : "val");
    uvotel_span_end(s);
  }
  /* D: one span */
  uvotel_span_t *s1 = uvotel_span_start(t, "d", NULL);
  for (int k = 0; k < 40; k++) {
    const char *key = k == 5 ? "k.ok.x" : keys[k];
    uvotel_span_set_attribute_str_static(s1, key, strlen(key), "once");
  }
  uvotel_span_end(s1);
  collect(&b);
  assert_int_equal(b.n, 2 * 120 + 20 + 21 + 1);
  /* valid UTF-8 everywhere: byte for byte against protobuf-c */
  expect_same_bytes(b.spans, 120);
  expect_same_bytes(b.spans + 240, 20);
  expect_same_bytes(b.spans + 281, 1);
  /* with invalid UTF-8 (the reference does not repair): every key and value as repaired */
  expect_repaired(b.spans + 120, 120);
  expect_repaired(b.spans, b.n);
  expect_repaired(b.spans + 260, 21);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* A borrowed key only has to stay unchanged while span data holding it lives: once a batch's
 * spans are gone the same address may hold another key. The encoder's key table is per batch,
 * so each round's keys (same addresses, new bytes and lengths) come out as they are now. */
static void test_key_table_is_per_batch(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider(b.m, "svc");
  uvotel_tracer_t *t = uvotel_tracer_get(p, "rounds", "1");
  static char kbuf[6][40];
  for (int round = 0; round < 4; round++) {
    for (int k = 0; k < 6; k++) {
      size_t n = 3 + (size_t)((k * 5 + round * 7) % 25);
      for (size_t c = 0; c < n; c++) kbuf[k][c] = (char)('a' + (round * 3 + k + (int)c) % 26);
      kbuf[k][n] = '\0';
    }
    for (int i = 0; i < 10; i++) {
      uvotel_span_t *s = uvotel_span_start(t, "r", NULL);
      for (int k = 0; k < 6; k++) {
        if (k % 2)
          uvotel_span_set_attribute_int_static(s, kbuf[k], strlen(kbuf[k]), round * 100 + i);
        else
          uvotel_span_set_attribute_str_static(s, kbuf[k], strlen(kbuf[k]), "value");
      }
      uvotel_span_end(s);
    }
    collect(&b);
    assert_int_equal(b.n, 10);
    expect_same_bytes(b.spans, b.n);
    expect_repaired(b.spans, b.n);
    uvotel_memory_exporter_reset(b.m); /* the round's spans released */
  }
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* ---- invalid UTF-8: repaired everywhere, nothing else lost ---- */

static void test_utf8_repair_table(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"plain", "plain"},
      {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"x\xff", "x\xef\xbf\xbd"},
      {"\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd"}, /* stray continuation bytes: one each */
      {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong lead C0/C1 */
      {"\xe0\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong 3-byte */
      {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
      {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
      {"\xe2\x82x", "\xef\xbf\xbdx"},   /* truncated: one maximal subpart */
      {"\xf0\x9f\x98", "\xef\xbf\xbd"}, /* truncated at the end */
      {"a\xf0\x9f\x98\xc3\xa9", "a\xef\xbf\xbd\xc3\xa9"},
      {"\xf5\xfe", "\xef\xbf\xbd\xef\xbf\xbd"},
      {"12345678\xc3", "12345678\xef\xbf\xbd"}, /* after the 8-byte ASCII path */
  };
  char out[64];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t n = strlen(cases[i].in), want = strlen(cases[i].out);
    assert_int_equal(uvotel__utf8_repaired_len(cases[i].in, n), want);
    assert_int_equal(uvotel__utf8_repair(out, cases[i].in, n), want);
    assert_memory_equal(out, cases[i].out, want);
    int valid = strcmp(cases[i].in, cases[i].out) == 0;
    assert_int_equal(uvotel__utf8_valid_prefix(cases[i].in, n) == n, valid);
  }
}

#define BAD "bad\xff\xc3"
#define FIXED "bad\xef\xbf\xbd\xef\xbf\xbd"

static int is_fixed(const char *s) {
  return s != NULL && strcmp(s, FIXED) == 0;
}

/* One span with invalid UTF-8 in every string it can carry, in a batch with good spans: the
 * protobuf body decodes with every string repaired and the good spans intact. */
static void test_utf8_every_position_protobuf_and_json(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(b.m));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", BAD), UVOTEL_ATTR_STR(BAD, "v")};
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.resource_attrs = res;
  po.n_resource_attrs = 2;
  po.resource_schema_url = BAD;
  po.processors = &sp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  uvotel_attribute_t scope_attrs[] = {UVOTEL_ATTR_STR(BAD, BAD)};
  uvotel_tracer_t *t = uvotel_tracer_get_with_attributes(p, BAD, BAD, BAD, scope_attrs, 1);
  assert_non_null(t);

  uvotel_span_t *good1 = uvotel_span_start(t, "good-1", NULL);
  uvotel_span_set_attribute_str(good1, "k", "fine \xc3\xa9");
  uvotel_span_end(good1);
  uvotel_link_t link = {uvotel_span_context(good1), NULL, 0, 0};
  uvotel_attribute_t link_attrs[] = {UVOTEL_ATTR_STR(BAD, BAD)};
  link.attrs = link_attrs;
  link.n_attrs = 1;
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.links = &link;
  so.n_links = 1;
  uvotel_span_t *s = uvotel_span_start(t, BAD, &so);
  const char *arr[] = {"ok", BAD};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR(BAD, BAD), UVOTEL_ATTR_STR_ARRAY("arr", arr, 2)};
  uvotel_span_set_attributes(s, attrs, 2);
  uvotel_attribute_t ev_attrs[] = {UVOTEL_ATTR_STR(BAD, BAD)};
  uvotel_span_add_event(s, BAD, ev_attrs, 1);
  uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, BAD);
  uvotel_span_end(s);
  uvotel_span_t *good2 = uvotel_span_start(t, "good-2", NULL);
  uvotel_span_end(good2);
  collect(&b);
  assert_int_equal(b.n, 3);

  uint8_t *body;
  size_t len;
  assert_int_equal(uvotel_otlp_http_encode(b.spans, b.n, &body, &len), 0);
  req_t *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, len, body);
  assert_non_null(q);
  assert_int_equal(q->n_resource_spans, 1);
  Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = q->resource_spans[0];
  assert_true(is_fixed(rs->schema_url));
  Opentelemetry__Proto__Common__V1__KeyValue **ra = rs->resource->attributes;
  size_t nra = rs->resource->n_attributes;
  assert_true(is_fixed(attr(ra, nra, "service.name")->string_value));
  assert_non_null(attr(ra, nra, FIXED)); /* the bad key, repaired */
  Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[0];
  assert_true(is_fixed(ss->schema_url));
  assert_true(is_fixed(ss->scope->name));
  assert_true(is_fixed(ss->scope->version));
  assert_true(is_fixed(ss->scope->attributes[0]->key));
  assert_true(is_fixed(ss->scope->attributes[0]->value->string_value));
  assert_int_equal(ss->n_spans, 3);
  assert_string_equal(ss->spans[0]->name, "good-1");
  assert_string_equal(ss->spans[0]->attributes[0]->value->string_value, "fine \xc3\xa9");
  assert_string_equal(ss->spans[2]->name, "good-2");
  const span_t *x = ss->spans[1];
  assert_true(is_fixed(x->name));
  assert_true(is_fixed(x->attributes[0]->key));
  assert_true(is_fixed(x->attributes[0]->value->string_value));
  assert_string_equal(x->attributes[1]->value->array_value->values[0]->string_value, "ok");
  assert_true(is_fixed(x->attributes[1]->value->array_value->values[1]->string_value));
  assert_true(is_fixed(x->events[0]->name));
  assert_true(is_fixed(x->events[0]->attributes[0]->key));
  assert_true(is_fixed(x->events[0]->attributes[0]->value->string_value));
  assert_true(is_fixed(x->links[0]->attributes[0]->key));
  assert_true(is_fixed(x->links[0]->attributes[0]->value->string_value));
  assert_true(is_fixed(x->status->message));
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q, NULL);
  uvotel_free(body);

  /* OTLP/JSON: every bad string became \ufffd escapes; nothing but ASCII left */
  char *json = NULL;
  size_t cap = 0, jlen = 0;
  assert_int_equal(uvotel_otlp_json_encode(b.spans, b.n, &json, &cap, &jlen), 0);
  size_t bad_count = 0;
  for (const char *q2 = json; (q2 = strstr(q2, "bad\\ufffd\\ufffd")) != NULL; q2++) bad_count++;
  /* resource: value, key, schema; scope: name, version, attr key, value, schema; span: name,
   * attr key, value, array element, event name, its key, value, link key, value, status */
  assert_int_equal(bad_count, 3 + 5 + 10);
  for (size_t i = 0; i < jlen; i++) {
    if ((unsigned char)json[i] >= 0x80) {
      /* only the valid "\xc3\xa9" of good-1 */
      assert_int_equal((unsigned char)json[i], 0xc3);
      assert_int_equal((unsigned char)json[i + 1], 0xa9);
      i++;
    }
  }
  uvotel_free(json);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* The OTLP/JSON encoder validates strictly too: overlong forms, surrogates and code points
 * above U+10FFFF are ill-formed (the lead-byte check it had before let them through). */
static void test_utf8_json_strict(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  uvotel_tracer_provider_t *p = provider_lim(b.m, "svc", NULL, 128);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "s", NULL);
  uvotel_span_t *s = uvotel_span_start(t, "\xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80|\xe2\x82x", NULL);
  uvotel_span_end(s);
  collect(&b);
  char *json = NULL;
  size_t cap = 0, len = 0;
  assert_int_equal(uvotel_otlp_json_encode(b.spans, b.n, &json, &cap, &len), 0);
  assert_non_null(strstr(json,
                         "\"name\":\"\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd|"
                         "\\ufffd\\ufffd\\ufffd\\ufffd|\\ufffdx\""));
  uvotel_free(json);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

/* Bytes (every base64 tail, a varint-boundary length), kvlists (nested, empty, holding every
 * type) and empty values in span, event, link, resource and scope attributes: byte for byte
 * against protobuf-c; the decoded request carries them; the JSON is exact. */
static void test_bytes_kvlist_empty_values(void **state) {
  (void)state;
  batch_t b = {uvotel_memory_exporter_create(0), {0}, 0};
  static uint8_t big[200];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
  const int64_t ints[] = {1, -2};
  uvotel_attribute_t leaf[] = {UVOTEL_ATTR_EMPTY("e")};
  uvotel_attribute_t mid[] = {UVOTEL_ATTR_KVLIST("n", leaf, 1), UVOTEL_ATTR_KVLIST("me", NULL, 0)};
  uvotel_attribute_t top[] = {UVOTEL_ATTR_STR("s", "v"),
                              UVOTEL_ATTR_INT("i", 1),
                              UVOTEL_ATTR_BOOL("b", false),
                              UVOTEL_ATTR_DOUBLE("d", 0.5),
                              UVOTEL_ATTR_INT_ARRAY("ia", ints, 2),
                              UVOTEL_ATTR_BYTES("by", (const uint8_t *)"\x01", 1),
                              UVOTEL_ATTR_KVLIST("mid", mid, 2)};
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(b.m));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", "svc"),
                              UVOTEL_ATTR_KVLIST("res.map", top, 7), UVOTEL_ATTR_EMPTY("res.none"),
                              UVOTEL_ATTR_BYTES("res.b", big, 3)};
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.resource_attrs = res;
  po.n_resource_attrs = 4;
  po.processors = &sp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  uvotel_attribute_t scope_attrs[] = {UVOTEL_ATTR_KVLIST("sc.map", mid, 2),
                                      UVOTEL_ATTR_BYTES("sc.b", NULL, 0),
                                      UVOTEL_ATTR_EMPTY("sc.e")};
  uvotel_tracer_t *t = uvotel_tracer_get_with_attributes(p, "lib", "1", NULL, scope_attrs, 3);
  assert_non_null(t);

  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_BYTES("b3", (const uint8_t *)"\x00\xff\x10", 3),
                                UVOTEL_ATTR_BYTES("b1", (const uint8_t *)"M", 1),
                                UVOTEL_ATTR_BYTES("b2", (const uint8_t *)"Ma", 2),
                                UVOTEL_ATTR_BYTES("b0", NULL, 0),
                                UVOTEL_ATTR_KVLIST("m", top, 7),
                                UVOTEL_ATTR_KVLIST("m0", NULL, 0),
                                UVOTEL_ATTR_EMPTY("none"),
                                UVOTEL_ATTR_BYTES("big", big, 200)};
  uvotel_link_t link = {{{{0}}, {{0}}, 0, 0, NULL}, attrs, 8, 0};
  for (int i = 0; i < 16; i++) link.context.trace_id.bytes[i] = (uint8_t)(i + 1);
  for (int i = 0; i < 8; i++) link.context.span_id.bytes[i] = (uint8_t)(i + 1);
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.links = &link;
  so.n_links = 1;
  uvotel_span_t *s = uvotel_span_start(t, "values", &so);
  uvotel_span_set_attributes(s, attrs, 8);
  uvotel_span_add_event(s, "ev", attrs, 8);
  uvotel_span_end(s);
  /* a small one for the exact JSON */
  uvotel_attribute_t bad[] = {UVOTEL_ATTR_STR("s", "v\xff"), UVOTEL_ATTR_INT("k\xc3", 1),
                              UVOTEL_ATTR_KVLIST("n", leaf, 1), UVOTEL_ATTR_KVLIST("me", NULL, 0)};
  uvotel_attribute_t small[] = {UVOTEL_ATTR_BYTES("b3", (const uint8_t *)"\x00\xff\x10", 3),
                                UVOTEL_ATTR_BYTES("b1", (const uint8_t *)"M", 1),
                                UVOTEL_ATTR_BYTES("b2", (const uint8_t *)"Ma", 2),
                                UVOTEL_ATTR_BYTES("b0", NULL, 0),
                                UVOTEL_ATTR_KVLIST("m", bad, 4),
                                UVOTEL_ATTR_EMPTY("none")};
  s = uvotel_span_start(t, "json", NULL);
  uvotel_span_set_attributes(s, small, 6);
  uvotel_span_end(s);
  collect(&b);
  assert_int_equal(b.n, 2);
  expect_same_bytes(b.spans, 1);
  /* the second span has ill-formed UTF-8 inside a kvlist (protobuf-c would copy it as is): the
   * direct encoder repairs keys and strings there too */
  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(uvotel_otlp_http_encode(b.spans + 1, 1, &body, &len), 0);
  req_t *q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
      NULL, len, body);
  assert_non_null(q);
  const span_t *sj = find(q, "json");
  const any_t *mj = attr(sj->attributes, sj->n_attributes, "m");
  assert_int_equal(mj->kvlist_value->n_values, 4);
  assert_string_equal(mj->kvlist_value->values[0]->value->string_value, "v\xef\xbf\xbd");
  assert_string_equal(mj->kvlist_value->values[1]->key, "k\xef\xbf\xbd");
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q, NULL);
  uvotel_free(body);

  /* decoded: the nesting and the bytes survive */
  assert_int_equal(uvotel_otlp_http_encode(b.spans, 1, &body, &len), 0);
  q = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(NULL, len,
                                                                                       body);
  assert_non_null(q);
  const span_t *sp0 = find(q, "values");
  assert_non_null(sp0);
  assert_int_equal(sp0->n_attributes, 8);
  const any_t *v = attr(sp0->attributes, sp0->n_attributes, "big");
  assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE);
  assert_int_equal(v->bytes_value.len, 200);
  assert_memory_equal(v->bytes_value.data, big, 200);
  v = attr(sp0->attributes, sp0->n_attributes, "none");
  assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
  v = attr(sp0->attributes, sp0->n_attributes, "m");
  assert_int_equal(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE);
  assert_int_equal(v->kvlist_value->n_values, 7);
  const any_t *m = attr(v->kvlist_value->values, 7, "mid");
  assert_int_equal(m->kvlist_value->n_values, 2);
  const any_t *n = attr(m->kvlist_value->values, 2, "n");
  assert_int_equal(n->kvlist_value->n_values, 1);
  assert_int_equal(n->kvlist_value->values[0]->value->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET);
  assert_int_equal(sp0->events[0]->n_attributes, 8);
  assert_int_equal(sp0->links[0]->n_attributes, 8);
  opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(q, NULL);
  uvotel_free(body);

  char *json = NULL;
  size_t cap = 0, jl = 0;
  assert_int_equal(uvotel_otlp_json_encode(b.spans + 1, 1, &json, &cap, &jl), 0);
  const char *want =
      "\"attributes\":[{\"key\":\"b3\",\"value\":{\"bytesValue\":\"AP8Q\"}},"
      "{\"key\":\"b1\",\"value\":{\"bytesValue\":\"TQ==\"}},"
      "{\"key\":\"b2\",\"value\":{\"bytesValue\":\"TWE=\"}},"
      "{\"key\":\"b0\",\"value\":{\"bytesValue\":\"\"}},"
      "{\"key\":\"m\",\"value\":{\"kvlistValue\":{\"values\":["
      "{\"key\":\"s\",\"value\":{\"stringValue\":\"v\\ufffd\"}},"
      "{\"key\":\"k\\ufffd\",\"value\":{\"intValue\":\"1\"}},"
      "{\"key\":\"n\",\"value\":{\"kvlistValue\":{\"values\":[{\"key\":\"e\",\"value\":{}}]}}},"
      "{\"key\":\"me\",\"value\":{\"kvlistValue\":{}}}]}}},"
      "{\"key\":\"none\",\"value\":{}}]";
  if (strstr(json, want) == NULL) print_error("json: %s\n", json);
  assert_non_null(strstr(json, want));
  /* resource and scope attributes in JSON too */
  assert_non_null(strstr(json, "{\"key\":\"res.none\",\"value\":{}}"));
  assert_non_null(strstr(json, "{\"key\":\"res.b\",\"value\":{\"bytesValue\":\"AAcO\"}}"));
  assert_non_null(strstr(json, "{\"key\":\"sc.b\",\"value\":{\"bytesValue\":\"\"}}"));
  uvotel_free(json);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(b.m);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip_grouping_and_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bounded_allocations, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_every_field_and_value, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_length_boundaries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_random_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_encode_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf8_repair_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf8_every_position_protobuf_and_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf8_json_strict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_kvlist_empty_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_growth_everywhere, setup, teardown),
      cmocka_unit_test_setup_teardown(test_held_body_owned_until_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_borrowed_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_table_is_per_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf8_string_size_classes, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
