/* OTLP encoding of finished spans: the body decodes with protobuf-c into the same data, grouped
 * by resource then scope; ids are raw 16/8 bytes, flags carry the W3C flags and the remote bits,
 * every attribute type (arrays too), events, links and status survive; and encoding allocates a
 * bounded number of blocks whatever the batch size (no per-span allocation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "counting_alloc.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "uvotel.h"
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

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_roundtrip_grouping_and_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bounded_allocations, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
