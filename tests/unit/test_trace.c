/* Tracing SDK: provider, spans, limits, samplers, processors, current span, environment. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>
#include <uvotel/uv.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

/* diagnostics capture */
static char g_diag_last[512];
static int g_diag_n;
static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)level, (void)code, (void)arg;
  g_diag_n++;
  snprintf(g_diag_last, sizeof g_diag_last, "%s", msg);
}

static uvotel_tracer_provider_t *simple_provider(fx_t *f, uvotel_sampler_t *sampler,
                                                 const uvotel_span_limits_t *limits) {
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.sampler = sampler;
  o.loop = &f->loop;
  if (limits != NULL) o.limits = *limits;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "test.scope", "1.2.3");
  return f->p;
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var(); /* the process-wide variable: created once, before counting */
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  g_diag_n = 0;
  g_diag_last[0] = '\0';
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->p != NULL) uvotel_tracer_provider_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* close the batch processors' handles */
  uvotel_memory_exporter_free(f->mem);
  uvotel_loop_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_ERROR);
  free(f);
  return 0;
}

static int zero_id8(const uvotel_span_id_t *id) {
  return uvotel_span_id_is_zero(id);
}

/* ---- ids ---- */

static void test_ids(void **state) {
  (void)state;
  uvotel_trace_id_t a, b;
  uvotel_span_id_t s;
  uvotel_random_trace_id(&a);
  uvotel_random_trace_id(&b);
  uvotel_random_span_id(&s);
  assert_false(uvotel_trace_id_is_zero(&a));
  assert_false(zero_id8(&s));
  assert_memory_not_equal(a.bytes, b.bytes, 16);
  char hex[33], shex[17];
  uvotel_trace_id_t fixed;
  for (int i = 0; i < 16; i++) fixed.bytes[i] = (uint8_t)(i * 17);
  assert_string_equal(uvotel_trace_id_to_hex(&fixed, hex), "00112233445566778899aabbccddeeff");
  uvotel_span_id_t sf = {{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3}};
  assert_string_equal(uvotel_span_id_to_hex(&sf, shex), "deadbeef00010203");
  assert_string_equal(uvotel_trace_id_to_hex(NULL, hex), "00000000000000000000000000000000");
  assert_null(uvotel_span_id_to_hex(&sf, NULL));
  assert_true(uvotel_trace_id_is_zero(NULL));
  assert_true(uvotel_span_id_is_zero(NULL));
  uvotel_span_context_t sc;
  memset(&sc, 0, sizeof sc);
  assert_false(uvotel_span_context_is_valid(&sc));
  assert_false(uvotel_span_context_is_valid(NULL));
  sc.trace_id = a;
  assert_false(uvotel_span_context_is_valid(&sc));
  sc.span_id = s;
  assert_true(uvotel_span_context_is_valid(&sc));
  uvotel_random_trace_id(NULL); /* no crash */
  uvotel_random_span_id(NULL);
  assert_string_equal(uvotel_span_kind_name(UVOTEL_SPAN_KIND_SERVER), "SERVER");
  assert_string_equal(uvotel_span_kind_name((uvotel_span_kind_t)77), "UNSPECIFIED");
  assert_string_equal(uvotel_status_code_name(UVOTEL_STATUS_ERROR), "ERROR");
  assert_string_equal(uvotel_status_code_name((uvotel_status_code_t)9), "UNSPECIFIED");
}

/* An id generator that returns zeros first: the SDK must never hand out a zero id. */
static int g_zero_calls;
static void zero_trace(void *self, uvotel_trace_id_t *out) {
  (void)self;
  g_zero_calls++;
  memset(out, 0, sizeof *out);
}
static void seq_span(void *self, uvotel_span_id_t *out) {
  uint64_t *n = self;
  memset(out, 0, sizeof *out);
  out->bytes[7] = (uint8_t)++ * n;
}
static const uvotel_id_generator_ops_t g_zero_gen = {.trace_id = zero_trace, .span_id = seq_span};

static void test_id_generator(void **state) {
  fx_t *f = *state;
  uint64_t counter = 0;
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.id_generator = &g_zero_gen;
  o.id_generator_self = &counter;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "x", NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "s", NULL);
  uvotel_span_context_t sc = uvotel_span_context(s);
  assert_true(uvotel_span_context_is_valid(&sc));
  assert_true(g_zero_calls >= 1);
  assert_int_equal(sc.span_id.bytes[7], 1);
  assert_int_equal(sc.flags & UVOTEL_TRACE_FLAG_RANDOM, 0); /* generator is not random */
  uvotel_span_end(s);
  assert_true(g_diag_n > 0);
}

/* ---- spans ---- */

static void test_span_basic(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  assert_non_null(f->t);
  assert_ptr_equal(uvotel_tracer_get(f->p, "test.scope", "1.2.3"), f->t);
  assert_ptr_not_equal(uvotel_tracer_get(f->p, "test.scope", "2"), f->t);
  assert_ptr_equal(uvotel_tracer_get_provider(f->t), f->p);
  assert_string_equal(uvotel_tracer_scope(f->t)->name, "test.scope");

  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("http.method", "GET"),
                                UVOTEL_ATTR_INT("http.status_code", 200)};
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  so.attrs = attrs;
  so.n_attrs = 2;
  so.start_unix_ns = 1000;
  uvotel_span_t *root = uvotel_span_start(f->t, "GET /", &so);
  assert_true(uvotel_span_is_recording(root));
  assert_null(uvotel_span_data(root)); /* open */
  uvotel_span_context_t rc = uvotel_span_context(root);
  assert_true(rc.flags & UVOTEL_TRACE_FLAG_SAMPLED);
  assert_true(rc.flags & UVOTEL_TRACE_FLAG_RANDOM);

  uvotel_span_t *child =
      uvotel_span_start(f->t, "child", &(uvotel_span_options_t){.parent_span = root});
  uvotel_span_set_attribute_bool(child, "b", true);
  uvotel_span_set_attribute_double(child, "d", 2.5);
  uvotel_span_update_name(child, "renamed");
  uvotel_span_end_at(child, 5000);
  uvotel_span_set_status(root, UVOTEL_STATUS_ERROR, "boom");
  uvotel_span_end_at(root, 500); /* before start: clamped */

  assert_int_equal(uvotel_memory_exporter_count(f->mem), 2);
  const uvotel_span_data_t *dc = uvotel_memory_exporter_get(f->mem, 0);
  const uvotel_span_data_t *dr = uvotel_memory_exporter_get(f->mem, 1);
  assert_string_equal(uvotel_span_data_name(dc), "renamed");
  assert_string_equal(uvotel_span_data_name(dr), "GET /");
  assert_ptr_equal(uvotel_memory_exporter_find(f->mem, "GET /"), dr);
  assert_null(uvotel_memory_exporter_find(f->mem, "nope"));
  uvotel_span_context_t cc = uvotel_span_data_context(dc);
  assert_memory_equal(cc.trace_id.bytes, rc.trace_id.bytes, 16);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(dc);
  assert_memory_equal(pid.bytes, rc.span_id.bytes, 8);
  uvotel_span_id_t rpid = uvotel_span_data_parent_span_id(dr);
  assert_true(zero_id8(&rpid));
  assert_int_equal(uvotel_span_data_parent_is_remote(dc), 0);
  assert_int_equal(uvotel_span_data_kind(dr), UVOTEL_SPAN_KIND_SERVER);
  assert_int_equal(uvotel_span_data_kind(dc), UVOTEL_SPAN_KIND_INTERNAL);
  assert_int_equal(uvotel_span_data_start_unix_ns(dr), 1000);
  assert_int_equal(uvotel_span_data_end_unix_ns(dr), 1000);
  assert_true(uvotel_span_data_start_unix_ns(dc) > 1000000000000000000ull); /* now */
  assert_int_equal(uvotel_span_data_end_unix_ns(dc), 5000 < uvotel_span_data_start_unix_ns(dc)
                                                         ? uvotel_span_data_start_unix_ns(dc)
                                                         : 5000);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(dr, &n);
  assert_int_equal(n, 2);
  assert_string_equal(a[0].key, "http.method");
  assert_int_equal(a[0].value.type, UVOTEL_VALUE_STRING);
  assert_string_equal(a[0].value.u.s, "GET");
  assert_int_equal(a[0].value.len, 3);
  assert_int_equal(a[1].value.u.i, 200);
  a = uvotel_span_data_attributes(dc, &n);
  assert_int_equal(n, 2);
  assert_true(a[0].value.u.b);
  assert_true(a[1].value.u.d == 2.5);
  const char *desc;
  assert_int_equal(uvotel_span_data_status(dr, &desc), UVOTEL_STATUS_ERROR);
  assert_string_equal(desc, "boom");
  assert_int_equal(uvotel_span_data_status(dc, NULL), UVOTEL_STATUS_UNSET);
  assert_true(uvotel_span_data_is_sampled(dr));
  assert_ptr_equal(uvotel_span_data_scope(dr), uvotel_tracer_scope(f->t));
  assert_ptr_equal(uvotel_span_data_resource(dr), uvotel_tracer_provider_resource(f->p));
  assert_null(uvotel_span_data_trace_state(dr));
  assert_null(uvotel_span_data_events(dr, &n));
  assert_int_equal(n, 0);

  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(f->p, &c), 0);
  assert_int_equal(c.started, 2);
  assert_int_equal(c.ended, 2);
  assert_int_equal(c.exported, 2);
  assert_int_equal(c.misuse, 0);
  assert_int_equal(uvotel_tracer_provider_counters(NULL, &c), UVOTEL_EINVAL);
  assert_int_equal(uvotel_tracer_provider_counters(f->p, NULL), UVOTEL_EINVAL);
}

static void test_attribute_types_and_limits(void **state) {
  fx_t *f = *state;
  uvotel_span_limits_t lim = UVOTEL_SPAN_LIMITS_INIT;
  lim.attribute_count = 3;
  lim.attribute_value_length = 4;
  lim.event_count = 2;
  lim.link_count = 1;
  lim.event_attribute_count = 1;
  lim.link_attribute_count = 1;
  simple_provider(f, NULL, &lim);
  uvotel_span_t *s = uvotel_span_start(f->t, "limits", NULL);
  const char *strs[] = {"abcdefgh", "xy"};
  int64_t ints[] = {1, -2, 3};
  uvotel_attribute_t arr = UVOTEL_ATTR_STR_ARRAY("sa", strs, 2);
  uvotel_span_set_attribute(s, &arr);
  uvotel_span_set_attribute_str(s, "utf8", "h\xc3\xa9llo"); /* 5 chars, 6 bytes -> "hél" + "l" */
  uvotel_attribute_t ia = UVOTEL_ATTR_INT_ARRAY("ia", ints, 3);
  uvotel_span_set_attribute(s, &ia);
  uvotel_span_set_attribute_int(s, "fourth", 4);  /* over the count limit */
  uvotel_span_set_attribute_str(s, "utf8", "ok"); /* replacing an existing key is allowed */
  uvotel_attribute_t bad = {"", {UVOTEL_VALUE_INT, 0, {.i = 1}}};
  uvotel_span_set_attribute(s, &bad);
  uvotel_attribute_t bad2 = {"k", {(uvotel_value_type_t)99, 0, {.i = 1}}};
  uvotel_span_set_attribute(s, &bad2);
  uvotel_span_set_attribute(s, NULL);
  uvotel_span_set_attribute_str(s, "nullvalue", NULL);
  uvotel_span_set_attribute_str(s, NULL, "v");
  uvotel_span_set_attributes(s, NULL, 2);

  uvotel_attribute_t ev_attrs[] = {UVOTEL_ATTR_STR("k1", "v1"), UVOTEL_ATTR_STR("k2", "v2")};
  uvotel_span_add_event(s, "e1", ev_attrs, 2);
  uvotel_span_add_event_at(s, NULL, 77, NULL, 0);
  uvotel_span_add_event(s, "e3", NULL, 0); /* over the event limit */
  uvotel_link_t link = {uvotel_span_context(s), ev_attrs, 2, 0};
  uvotel_span_add_link(s, &link);
  uvotel_span_add_link(s, &link); /* over the link limit */
  uvotel_span_add_link(s, NULL);
  uvotel_span_set_status(s, UVOTEL_STATUS_OK, "ignored description");
  uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, "too late: OK is final");
  uvotel_span_end(s);

  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 3);
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 1);
  assert_int_equal(a[0].value.type, UVOTEL_VALUE_STRING_ARRAY);
  assert_int_equal(a[0].value.len, 2);
  assert_string_equal(a[0].value.u.sa[0], "abcd");
  assert_string_equal(a[0].value.u.sa[1], "xy");
  assert_string_equal(a[1].key, "utf8");
  assert_string_equal(a[1].value.u.s, "ok");
  assert_int_equal(a[2].value.type, UVOTEL_VALUE_INT_ARRAY);
  assert_int_equal(a[2].value.u.ia[1], -2);
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  assert_int_equal(n, 2);
  assert_int_equal(uvotel_span_data_dropped_events(d), 1);
  assert_string_equal(ev[0].name, "e1");
  assert_int_equal(ev[0].n_attrs, 1);
  assert_int_equal(ev[0].dropped_attributes, 1);
  assert_string_equal(ev[1].name, "");
  assert_int_equal(ev[1].time_unix_ns, 77);
  const uvotel_link_t *l = uvotel_span_data_links(d, &n);
  assert_int_equal(n, 1);
  assert_int_equal(uvotel_span_data_dropped_links(d), 1);
  assert_int_equal(l[0].n_attrs, 1);
  assert_int_equal(l[0].dropped_attributes, 1);
  const char *desc;
  assert_int_equal(uvotel_span_data_status(d, &desc), UVOTEL_STATUS_OK);
  assert_string_equal(desc, "");

  /* truncation never splits a UTF-8 sequence */
  uvotel_span_t *s2 = uvotel_span_start(f->t, "utf8", NULL);
  uvotel_span_set_attribute_str(s2, "u", "h\xc3\xa9llo");
  uvotel_span_end(s2);
  a = uvotel_span_data_attributes(uvotel_memory_exporter_get(f->mem, 1), &n);
  assert_string_equal(a[0].value.u.s, "h\xc3\xa9ll");
  assert_int_equal(a[0].value.len, 5);

  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_true(c.misuse >= 6);
}

static void test_misuse(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  /* NULL span everywhere: no crash, counted process-wide */
  uint64_t misuse0 = uvotel_trace_misuse_total();
  uvotel_span_set_attribute_str(NULL, "k", "v");
  uvotel_span_set_attribute_int(NULL, "k", 1);
  uvotel_span_set_attribute_double(NULL, "k", 1);
  uvotel_span_set_attribute_bool(NULL, "k", 1);
  uvotel_span_set_attribute(NULL, NULL);
  uvotel_span_set_attributes(NULL, NULL, 0);
  uvotel_span_add_event(NULL, "e", NULL, 0);
  uvotel_span_add_link(NULL, NULL);
  uvotel_span_set_status(NULL, UVOTEL_STATUS_OK, NULL);
  uvotel_span_update_name(NULL, "x");
  uvotel_span_end(NULL);
  assert_int_equal(uvotel_trace_misuse_total() - misuse0, 11);
  assert_false(uvotel_span_is_recording(NULL));
  uvotel_span_context_t z = uvotel_span_context(NULL);
  assert_false(uvotel_span_context_is_valid(&z));
  assert_null(uvotel_span_data(NULL));
  assert_null(uvotel_span_retain(NULL));
  uvotel_span_release(NULL);

  /* NULL tracer: a non-recording span, never NULL */
  uvotel_span_t *nr = uvotel_span_start(NULL, "x", NULL);
  assert_non_null(nr);
  assert_false(uvotel_span_is_recording(nr));
  uvotel_span_end(nr);
  assert_null(uvotel_tracer_get(NULL, "x", NULL));
  assert_null(uvotel_tracer_scope(NULL));
  assert_null(uvotel_tracer_get_provider(NULL));

  /* ended span: kept alive by an extra reference; calls are counted no-ops */
  uvotel_span_t *s = uvotel_span_start(f->t, "s", NULL);
  uvotel_span_retain(s);
  uvotel_span_end(s);
  assert_false(uvotel_span_is_recording(s));
  assert_non_null(uvotel_span_data(s));
  uvotel_span_end(s);
  uvotel_span_set_attribute_int(s, "late", 1);
  uvotel_span_add_event(s, "late", NULL, 0);
  uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, "late");
  uvotel_span_release(s);
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.misuse, 4);
  assert_int_equal(c.ended, 1);
  size_t n;
  uvotel_span_data_attributes(uvotel_memory_exporter_get(f->mem, 0), &n);
  assert_int_equal(n, 0);

  /* provider options misuse */
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.n_processors = 1;
  assert_null(uvotel_tracer_provider_create(&o));
  uvotel_span_processor_t *nullproc = NULL;
  o.processors = &nullproc;
  assert_null(uvotel_tracer_provider_create(&o));
  assert_int_equal(uvotel_tracer_provider_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_tracer_provider_shutdown(NULL, 0), UVOTEL_EINVAL);
  uvotel_tracer_provider_free(NULL);
  assert_null(uvotel_tracer_provider_resource(NULL));
  assert_string_equal(uvotel_tracer_provider_propagators(NULL), "");
  assert_null(uvotel_tracer_provider_sampler(NULL));
  assert_int_equal(uvotel_tracer_provider_limits(NULL).attribute_count, 128);
}

static void test_shutdown(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "before", NULL);
  uvotel_span_end(s);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 100), 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 100), 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 100), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 100), UVOTEL_ESHUTDOWN);
  assert_true(uvotel_memory_exporter_is_shutdown(f->mem));
  s = uvotel_span_start(f->t, "after", NULL);
  assert_false(uvotel_span_is_recording(s));
  uvotel_span_context_t after = uvotel_span_context(s);
  assert_true(uvotel_span_context_is_valid(&after)); /* still propagates */
  uvotel_span_end(s);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 1);
}

/* ---- current span ---- */

static void *run_fn(void *arg) {
  uvotel_span_t **out = arg;
  *out = uvotel_current_span();
  return arg;
}

static void test_current_span(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  assert_null(uvotel_current_span());
  uvotel_span_t *root = uvotel_span_start(f->t, "root", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(root, &sc), 0);
  assert_ptr_equal(uvotel_current_span(), root);
  uvotel_span_t *child = uvotel_span_start(f->t, "child", NULL); /* parent = current */
  uvotel_span_t *seen = NULL;
  assert_ptr_equal(uvotel_span_run(child, run_fn, &seen), &seen);
  assert_ptr_equal(seen, child);
  assert_ptr_equal(uvotel_current_span(), root);
  uvotel_span_options_t ro = UVOTEL_SPAN_OPTIONS_INIT;
  ro.flags = UVOTEL_SPAN_ROOT;
  uvotel_span_t *other = uvotel_span_start(f->t, "other-root", &ro);
  uvotel_span_end(other);
  uvotel_span_end(child);
  uvotel_span_end(root); /* the context still holds it */
  assert_ptr_equal(uvotel_current_span(), root);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_null(uvotel_current_span());
  assert_int_equal(uvotel_span_enter(root, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_span_run(root, NULL, NULL));
  /* entering NULL makes "no span" current */
  assert_int_equal(uvotel_span_enter(NULL, &sc), 0);
  assert_null(uvotel_current_span());
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_non_null(uvotel_span_var());

  const uvotel_span_data_t *dc = uvotel_memory_exporter_find(f->mem, "child");
  const uvotel_span_data_t *dr = uvotel_memory_exporter_find(f->mem, "root");
  const uvotel_span_data_t *dother = uvotel_memory_exporter_find(f->mem, "other-root");
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(dc);
  uvotel_span_context_t rc = uvotel_span_data_context(dr);
  assert_memory_equal(pid.bytes, rc.span_id.bytes, 8);
  pid = uvotel_span_data_parent_span_id(dother);
  assert_true(zero_id8(&pid));
  uvotel_span_context_t oc = uvotel_span_data_context(dother);
  assert_memory_not_equal(oc.trace_id.bytes, rc.trace_id.bytes, 16);
}

/* A span started inside a wrapped timer callback is a child of the span current when the timer
 * was registered. */
typedef struct timer_case_s {
  fx_t *f;
  uv_timer_t timer;
  uvotel_span_t *seen_current;
  int fired;
} timer_case_t;

static void on_timer(uv_timer_t *t) {
  timer_case_t *tc = (timer_case_t *)((char *)t - offsetof(timer_case_t, timer));
  tc->fired++;
  tc->seen_current = uvotel_current_span();
  uvotel_span_t *s = uvotel_span_start(tc->f->t, "in-timer", NULL);
  uvotel_span_end(s);
  uvotel_close((uv_handle_t *)t, NULL);
}

static void test_timer_child(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  timer_case_t tc = {.f = f};
  uv_timer_init(&f->loop, &tc.timer);
  uvotel_span_t *root = uvotel_span_start(f->t, "root", NULL);
  uvotel_scope_t sc;
  uvotel_span_enter(root, &sc);
  assert_int_equal(uvotel_timer_start(&tc.timer, on_timer, 1, 0), 0);
  uvotel_scope_exit(&sc);
  uvotel_span_end(root); /* ends before the timer fires; the timer's context keeps it */
  uvotel_span_t *unrelated = uvotel_span_start(f->t, "unrelated", NULL);
  uvotel_span_enter(unrelated, &sc); /* current at run time must not matter */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_scope_exit(&sc);
  uvotel_span_end(unrelated);
  assert_int_equal(tc.fired, 1);
  assert_ptr_equal(tc.seen_current, root);
  const uvotel_span_data_t *dt = uvotel_memory_exporter_find(f->mem, "in-timer");
  const uvotel_span_data_t *dr = uvotel_memory_exporter_find(f->mem, "root");
  assert_non_null(dt);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(dt);
  uvotel_span_context_t rc = uvotel_span_data_context(dr), tcx = uvotel_span_data_context(dt);
  assert_memory_equal(pid.bytes, rc.span_id.bytes, 8);
  assert_memory_equal(tcx.trace_id.bytes, rc.trace_id.bytes, 16);
}

static void test_wrap_context(void **state) {
  fx_t *f = *state;
  simple_provider(f, NULL, NULL);
  uvotel_span_context_t remote;
  memset(&remote, 0, sizeof remote);
  uvotel_random_trace_id(&remote.trace_id);
  uvotel_random_span_id(&remote.span_id);
  remote.flags = UVOTEL_TRACE_FLAG_SAMPLED | UVOTEL_TRACE_FLAG_RANDOM;
  remote.is_remote = 1;
  uvotel_span_t *w = uvotel_span_wrap_context(&remote);
  assert_false(uvotel_span_is_recording(w));
  uvotel_scope_t sc;
  uvotel_span_enter(w, &sc);
  uvotel_span_t *s = uvotel_span_start(f->t, "server", NULL);
  uvotel_scope_exit(&sc);
  uvotel_span_end(w);
  uvotel_span_end(s);
  /* explicit parent context */
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.parent_context = &remote;
  uvotel_span_end(uvotel_span_start(f->t, "explicit", &so));
  /* invalid wrapped context: root */
  uvotel_span_t *inv = uvotel_span_wrap_context(NULL);
  so.parent_span = inv;
  uvotel_span_end(uvotel_span_start(f->t, "root-from-invalid", &so));
  uvotel_span_end(inv);

  for (int i = 0; i < 2; i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, (size_t)i);
    uvotel_span_context_t c = uvotel_span_data_context(d);
    uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
    assert_memory_equal(c.trace_id.bytes, remote.trace_id.bytes, 16);
    assert_memory_equal(pid.bytes, remote.span_id.bytes, 8);
    assert_int_equal(uvotel_span_data_parent_is_remote(d), 1);
    assert_int_equal(c.is_remote, 0);
    assert_true(c.flags & UVOTEL_TRACE_FLAG_RANDOM);
  }
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 2);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  assert_true(zero_id8(&pid));
}

/* ---- samplers ---- */

static uvotel_sampling_params_t params_for(const uvotel_trace_id_t *tid,
                                           const uvotel_span_context_t *parent) {
  uvotel_sampling_params_t p;
  memset(&p, 0, sizeof p);
  p.trace_id = *tid;
  p.parent = parent;
  p.name = "x";
  p.kind = UVOTEL_SPAN_KIND_INTERNAL;
  return p;
}

static void test_samplers(void **state) {
  (void)state;
  uvotel_trace_id_t tid;
  memset(&tid, 0, sizeof tid);
  uvotel_sampling_result_t r;
  uvotel_sampler_t *on = uvotel_sampler_always_on(), *off = uvotel_sampler_always_off();
  uvotel_sampling_params_t p = params_for(&tid, NULL);
  uvotel_sampler_should_sample(on, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE);
  uvotel_sampler_should_sample(off, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP);
  assert_string_equal(uvotel_sampler_description(on), "AlwaysOnSampler");
  assert_string_equal(uvotel_sampler_description(off), "AlwaysOffSampler");
  assert_string_equal(uvotel_sampler_description(NULL), "");
  uvotel_sampler_should_sample(NULL, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP);
  uvotel_sampler_should_sample(on, NULL, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP);
  uvotel_sampler_should_sample(on, &p, NULL);

  /* traceidratio: R = last 7 bytes, sampled iff R >= (1 - ratio) * 2^56 */
  uvotel_sampler_t *half = uvotel_sampler_traceidratio(0.5);
  assert_string_equal(uvotel_sampler_description(half), "TraceIdRatioBased{0.5}");
  tid.bytes[9] = 0x80; /* R = 2^55 exactly: sampled at 0.5 */
  p = params_for(&tid, NULL);
  uvotel_sampler_should_sample(half, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE);
  tid.bytes[9] = 0x7f;
  memset(tid.bytes + 10, 0xff, 6); /* R = 2^55 - 1: not sampled */
  tid.bytes[8] = 0xff;             /* byte 8 is not part of R */
  p = params_for(&tid, NULL);
  uvotel_sampler_should_sample(half, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP);
  uvotel_sampler_t *zero = uvotel_sampler_traceidratio(0), *one = uvotel_sampler_traceidratio(1);
  memset(tid.bytes, 0xff, 16);
  p = params_for(&tid, NULL);
  uvotel_sampler_should_sample(zero, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP);
  memset(tid.bytes, 0, 16);
  p = params_for(&tid, NULL);
  uvotel_sampler_should_sample(one, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE);
  /* monotone: over random ids, everything 0.25 samples is sampled at 0.5; rates are close */
  uvotel_sampler_t *quarter = uvotel_sampler_traceidratio(0.25);
  int n_half = 0, n_quarter = 0;
  for (int i = 0; i < 4000; i++) {
    uvotel_random_trace_id(&tid);
    p = params_for(&tid, NULL);
    uvotel_sampling_result_t rq, rh;
    uvotel_sampler_should_sample(quarter, &p, &rq);
    uvotel_sampler_should_sample(half, &p, &rh);
    if (rq.decision) assert_int_equal(rh.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE);
    n_quarter += rq.decision != 0;
    n_half += rh.decision != 0;
  }
  assert_in_range(n_quarter, 800, 1200);
  assert_in_range(n_half, 1800, 2200);
  /* out-of-range ratios are clamped and reported */
  int before = g_diag_n;
  uvotel_sampler_t *clamped = uvotel_sampler_traceidratio(7.0);
  assert_true(g_diag_n > before);
  assert_string_equal(uvotel_sampler_description(clamped), "TraceIdRatioBased{1}");

  /* parent based */
  uvotel_sampler_t *pb = uvotel_sampler_parentbased_always_off();
  uvotel_span_context_t parent;
  memset(&parent, 0, sizeof parent);
  uvotel_random_trace_id(&parent.trace_id);
  uvotel_random_span_id(&parent.span_id);
  p = params_for(&parent.trace_id, NULL);
  uvotel_sampler_should_sample(pb, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP); /* root: always_off */
  parent.flags = UVOTEL_TRACE_FLAG_SAMPLED;
  p = params_for(&parent.trace_id, &parent);
  uvotel_sampler_should_sample(pb, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE); /* local sampled parent */
  parent.flags = 0;
  parent.is_remote = 1;
  uvotel_sampler_should_sample(pb, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_DROP); /* remote unsampled parent */
  assert_non_null(strstr(uvotel_sampler_description(pb), "ParentBased{root=AlwaysOffSampler"));
  uvotel_parent_based_options_t po = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  po.remote_parent_not_sampled = uvotel_sampler_always_on();
  uvotel_sampler_t *pb2 = uvotel_sampler_parent_based(&po);
  uvotel_sampler_should_sample(pb2, &p, &r);
  assert_int_equal(r.decision, UVOTEL_SAMPLING_RECORD_AND_SAMPLE);
  uvotel_sampler_t *pb3 = uvotel_sampler_parent_based(NULL);
  uvotel_sampler_t *pbr = uvotel_sampler_parentbased_traceidratio(0.5);
  assert_non_null(strstr(uvotel_sampler_description(pbr), "TraceIdRatioBased{0.5}"));

  /* by name */
  uvotel_sampler_t *s = NULL;
  assert_int_equal(uvotel_sampler_from_name("always_on", NULL, &s), 0);
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("parentbased_always_on", NULL, &s), 0);
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("parentbased_always_off", NULL, &s), 0);
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("always_off", NULL, &s), 0);
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("traceidratio", "0.1", &s), 0);
  assert_string_equal(uvotel_sampler_description(s), "TraceIdRatioBased{0.1}");
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("parentbased_traceidratio", "abc", &s), UVOTEL_EPARSE);
  assert_non_null(strstr(uvotel_sampler_description(s), "TraceIdRatioBased{1}"));
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("traceidratio", "1.5", &s), UVOTEL_EPARSE);
  uvotel_sampler_free(s);
  assert_int_equal(uvotel_sampler_from_name("bogus", NULL, &s), UVOTEL_ENOTSUP);
  assert_null(s);
  assert_int_equal(uvotel_sampler_from_name(NULL, NULL, &s), UVOTEL_EINVAL);
  assert_int_equal(uvotel_sampler_from_name("always_on", NULL, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_sampler_create(NULL, NULL));

  uvotel_sampler_free(on);
  uvotel_sampler_free(off);
  uvotel_sampler_free(half);
  uvotel_sampler_free(zero);
  uvotel_sampler_free(one);
  uvotel_sampler_free(quarter);
  uvotel_sampler_free(clamped);
  uvotel_sampler_free(pb);
  uvotel_sampler_free(pb2);
  uvotel_sampler_free(pb3);
  uvotel_sampler_free(pbr);
  uvotel_sampler_free(NULL);
}

/* A user sampler: records only spans named "keep*", adds an attribute, RECORD_ONLY for "rec". */
static int g_sampler_freed;
static void my_sample(void *self, const uvotel_sampling_params_t *p, uvotel_sampling_result_t *o) {
  static const uvotel_attribute_t extra[] = {UVOTEL_ATTR_STR("sampler", "mine")};
  (void)self;
  if (strncmp(p->name, "keep", 4) == 0) {
    o->decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
    o->attrs = extra;
    o->n_attrs = 1;
  } else if (strcmp(p->name, "rec") == 0) {
    o->decision = UVOTEL_SAMPLING_RECORD_ONLY;
  }
}
static const char *my_desc(void *self) {
  (void)self;
  return "Mine";
}
static void my_free(void *self) {
  (void)self;
  g_sampler_freed++;
}
static const uvotel_sampler_ops_t g_my_ops = {
    .should_sample = my_sample, .description = my_desc, .free = my_free};

static void test_user_sampler(void **state) {
  fx_t *f = *state;
  g_sampler_freed = 0;
  simple_provider(f, uvotel_sampler_create(&g_my_ops, NULL), NULL);
  assert_string_equal(uvotel_sampler_description(uvotel_tracer_provider_sampler(f->p)), "Mine");
  uvotel_span_t *drop = uvotel_span_start(f->t, "drop", NULL);
  assert_false(uvotel_span_is_recording(drop));
  uvotel_span_context_t dc = uvotel_span_context(drop);
  assert_true(uvotel_span_context_is_valid(&dc)); /* still propagates */
  assert_int_equal(dc.flags & UVOTEL_TRACE_FLAG_SAMPLED, 0);
  uvotel_scope_t sc;
  uvotel_span_enter(drop, &sc);
  uvotel_span_t *keep = uvotel_span_start(f->t, "keep-child", NULL);
  uvotel_scope_exit(&sc);
  uvotel_span_t *rec = uvotel_span_start(f->t, "rec", NULL);
  assert_true(uvotel_span_is_recording(rec));
  uvotel_span_set_attribute_int(drop, "ignored", 1); /* non-recording: silent no-op */
  uvotel_span_end(rec);
  uvotel_span_end(keep);
  uvotel_span_end(drop);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 1); /* RECORD_ONLY is not exported */
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  uvotel_span_context_t kc = uvotel_span_data_context(d);
  assert_memory_equal(kc.trace_id.bytes, dc.trace_id.bytes, 16);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 1);
  assert_string_equal(a[0].value.u.s, "mine");
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.non_recording, 1);
  assert_int_equal(c.started, 2);
  assert_int_equal(c.misuse, 0);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_int_equal(g_sampler_freed, 1);
}

/* ---- processors ---- */

typedef struct rec_exp_s {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int block; /* export waits while set */
  size_t calls, spans, max_batch;
  int shut, flushed, freed;
} rec_exp_t;

static int rec_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  (void)spans, (void)timeout_ms;
  rec_exp_t *r = self;
  pthread_mutex_lock(&r->mu);
  while (r->block) pthread_cond_wait(&r->cond, &r->mu);
  r->calls++;
  r->spans += n;
  if (n > r->max_batch) r->max_batch = n;
  pthread_mutex_unlock(&r->mu);
  return 0;
}
static int rec_flush(void *self, uint64_t t) {
  (void)t;
  ((rec_exp_t *)self)->flushed++;
  return 0;
}
static int rec_shutdown(void *self, uint64_t t) {
  (void)t;
  ((rec_exp_t *)self)->shut++;
  return 0;
}
static void rec_free(void *self) {
  ((rec_exp_t *)self)->freed++;
}
static const uvotel_span_exporter_ops_t g_rec_ops = {.export_spans = rec_export,
                                                     .force_flush = rec_flush,
                                                     .shutdown = rec_shutdown,
                                                     .free = rec_free};

static size_t rec_spans(rec_exp_t *r) {
  pthread_mutex_lock(&r->mu);
  size_t n = r->spans;
  pthread_mutex_unlock(&r->mu);
  return n;
}

static void rec_unblock(rec_exp_t *r) {
  pthread_mutex_lock(&r->mu);
  r->block = 0;
  pthread_cond_broadcast(&r->cond);
  pthread_mutex_unlock(&r->mu);
}

static uvotel_span_processor_t *batch_provider(fx_t *f, rec_exp_t *r, uint32_t queue,
                                               uint32_t batch, uint64_t delay) {
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cond, NULL);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_queue_size = queue;
  bo.max_export_batch_size = batch;
  bo.schedule_delay_ms = delay;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_span_exporter_create(&g_rec_ops, r), &bo);
  assert_non_null(bp);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "batch", NULL);
  return bp;
}

static void start_end(fx_t *f, int n) {
  for (int i = 0; i < n; i++) uvotel_span_end(uvotel_span_start(f->t, "s", NULL));
}

static void test_batch_flush_in_batches(void **state) {
  fx_t *f = *state;
  rec_exp_t r = {0};
  uvotel_span_processor_t *bp = batch_provider(f, &r, 100, 7, 100000);
  start_end(f, 50);
  uvotel_span_processor_counters_t c;
  uvotel_span_processor_counters(bp, &c);
  assert_int_equal(c.received, 50);
  /* batch-size wake-ups have not run: the loop has not run */
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10000), 0);
  assert_int_equal(r.spans, 50);
  assert_int_equal(r.max_batch, 7); /* never one huge request */
  assert_int_equal(r.calls, 8);     /* ceil(50 / 7) */
  assert_int_equal(r.flushed, 1);
  uvotel_span_processor_counters(bp, &c);
  assert_int_equal(c.exported, 50);
  assert_int_equal(c.batches, 8);
  assert_int_equal(c.queued, 0);
  /* spans beyond the queue are dropped and counted, never blocking: with the exporter stuck in
   * the batch handed off at the 7th span, 100 more fill the queue and 13 are dropped */
  pthread_mutex_lock(&r.mu);
  r.block = 1;
  pthread_mutex_unlock(&r.mu);
  start_end(f, 120);
  uvotel_span_processor_counters(bp, &c);
  assert_int_equal(c.dropped, 13);
  assert_int_equal(c.in_flight, 1);
  uvotel_trace_counters_t tc;
  uvotel_tracer_provider_counters(f->p, &tc);
  assert_int_equal(tc.dropped, 13);
  rec_unblock(&r);
  /* 13 spans ended before shutdown were never delivered: shutdown says so */
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 10000), UVOTEL_EIO);
  assert_int_equal(r.spans, 157);
  assert_int_equal(r.shut, 1);
  uvotel_span_processor_counters(bp, &c);
  assert_int_equal(c.exported, 157);
  assert_int_equal(c.received, 170);
  assert_int_equal(c.exported + c.dropped + c.failed, c.received); /* nothing counted twice */
  start_end(f, 1); /* after shutdown: non-recording */
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.freed, 1);
}

static void keep_cb(uv_timer_t *t) {
  uv_timer_stop(t);
}

static void test_batch_size_and_delay_triggers(void **state) {
  fx_t *f = *state;
  rec_exp_t r = {0};
  uvotel_span_processor_t *bp = batch_provider(f, &r, 1000, 10, 20);
  (void)bp;
  /* The processor's handles are unreferenced; a referenced helper timer stands in for the
   * application's own work keeping the loop running. */
  uv_timer_t keep;
  uv_timer_init(&f->loop, &keep);
  uv_timer_start(&keep, keep_cb, 5000, 0);
  /* a full batch wakes the loop */
  start_end(f, 10);
  for (int i = 0; i < 1000 && rec_spans(&r) < 10; i++) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(rec_spans(&r), 10);
  /* a partial batch goes when the schedule delay passes */
  start_end(f, 3);
  for (int i = 0; i < 100000 && rec_spans(&r) < 13; i++) uv_run(&f->loop, UV_RUN_ONCE);
  assert_int_equal(rec_spans(&r), 13);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* the handle lives on this stack */
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), 0);
  /* r lives on this stack too: free the exporter (which writes r.freed) before returning */
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.freed, 1);
}

static void test_batch_timeout(void **state) {
  fx_t *f = *state;
  rec_exp_t r = {0};
  r.block = 1;
  uvotel_span_processor_t *bp = batch_provider(f, &r, 100, 5, 100000);
  start_end(f, 12);
  /* the exporter hangs: flush must give up at its deadline, not hang */
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 50), UVOTEL_ETIMEDOUT);
  uvotel_span_processor_counters_t c;
  uvotel_span_processor_counters(bp, &c);
  assert_int_equal(c.in_flight, 1); /* at most one export in flight */
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 50), UVOTEL_ETIMEDOUT);
  rec_unblock(&r);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT); /* the running export finishes, then everything is freed */
  assert_int_equal(r.freed, 1);
  assert_true(r.spans >= 5);
}

static void test_processor_objects(void **state) {
  (void)state;
  assert_null(uvotel_span_processor_create(NULL, NULL));
  assert_null(uvotel_simple_span_processor_create(NULL));
  assert_null(uvotel_batch_span_processor_create(NULL, NULL));
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.max_queue_size = 0;
  rec_exp_t r = {0};
  assert_null(uvotel_batch_span_processor_create(uvotel_span_exporter_create(&g_rec_ops, &r), &bo));
  assert_int_equal(r.freed, 1); /* ownership taken even on failure */
  assert_int_equal(uvotel_span_processor_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_span_processor_shutdown(NULL, 0), UVOTEL_EINVAL);
  uvotel_span_processor_counters_t c;
  assert_int_equal(uvotel_span_processor_counters(NULL, &c), UVOTEL_EINVAL);
  uvotel_span_processor_free(NULL);

  /* exporter objects */
  assert_null(uvotel_span_exporter_create(NULL, NULL));
  rec_exp_t r2 = {0};
  pthread_mutex_init(&r2.mu, NULL);
  pthread_cond_init(&r2.cond, NULL);
  uvotel_span_exporter_t *e = uvotel_span_exporter_create(&g_rec_ops, &r2);
  assert_ptr_equal(uvotel_span_exporter_self(e), &r2);
  assert_int_equal(uvotel_span_exporter_flags(e), 0);
  assert_int_equal(uvotel_span_exporter_export(e, NULL, 0, 0), 0);
  assert_int_equal(uvotel_span_exporter_export(e, NULL, 3, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_span_exporter_export(NULL, NULL, 0, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_span_exporter_force_flush(e, 0), 0);
  assert_int_equal(uvotel_span_exporter_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_span_exporter_shutdown(e, 0), 0);
  assert_int_equal(uvotel_span_exporter_shutdown(e, 0), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_span_exporter_shutdown(NULL, 0), UVOTEL_EINVAL);
  const uvotel_span_data_t *dummy[1] = {NULL};
  assert_int_equal(uvotel_span_exporter_export(e, dummy, 1, 0), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_span_exporter_force_flush(e, 0), UVOTEL_ESHUTDOWN);
  assert_null(uvotel_span_exporter_self(NULL));
  assert_int_equal(uvotel_span_exporter_flags(NULL), 0);
  uvotel_span_exporter_free(e);
  uvotel_span_exporter_free(NULL);
  assert_int_equal(r2.freed, 1);

  /* registry */
  assert_int_equal(uvotel_span_exporter_register(NULL, NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_span_exporter_register("a-name-that-is-far-too-long-to-fit-in-the-table",
                                                 (uvotel_span_exporter_factory_fn)1, NULL),
                   UVOTEL_EINVAL);
  assert_null(uvotel_span_exporter_create_by_name("no-such-exporter"));
  assert_null(uvotel_span_exporter_create_by_name(NULL));
}

/* ---- zero allocations in steady state ---- */

static int discard_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                          uint64_t t) {
  (void)self, (void)spans, (void)n, (void)t;
  return 0;
}
static const uvotel_span_exporter_ops_t g_discard_ops = {.export_spans = discard_export};

/* Deliver what is queued and wait until every export's completion has run on the loop, so the
 * number of spans alive at once (and so the pool's high-water mark) does not depend on how the
 * scheduler treats the pool threads. */
static void drain(fx_t *f) {
  if (f->p != NULL) uvotel_tracer_provider_force_flush(f->p, 10000);
  while (uv_run(&f->loop, UV_RUN_NOWAIT) != 0) {
  }
}

static void hot_loop(fx_t *f, int n) {
  for (int i = 0; i < n; i++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
    uvotel_span_set_attribute_str(s, "k1", "some value");
    uvotel_span_set_attribute_int(s, "k2", i);
    uvotel_span_set_attribute_double(s, "k3", 1.5);
    uvotel_span_set_attribute_bool(s, "k4", true);
    uvotel_span_end(s);
    if (i % 512 == 511) drain(f);
  }
}

static void test_zero_alloc(void **state) {
  fx_t *f = *state;
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_queue_size = 16384;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_span_exporter_create(&g_discard_ops, NULL), &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "hot", NULL);
  hot_loop(f, 10000); /* warm up: pool, arenas, jobs */
  drain(f);
  size_t before = counting_alloc_stats().allocs;
  hot_loop(f, 10000);
  size_t after = counting_alloc_stats().allocs;
  assert_int_equal(after - before, 0);
  /* non-sampled spans too */
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 10000), 0);
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.exported, 20000); /* warm-up + measured */
}

static void test_zero_alloc_nonsampled(void **state) {
  fx_t *f = *state;
  simple_provider(f, uvotel_sampler_always_off(), NULL);
  hot_loop(f, 1000);
  size_t before = counting_alloc_stats().allocs;
  hot_loop(f, 10000);
  assert_int_equal(counting_alloc_stats().allocs - before, 0);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 0);
}

/* ---- pool exhaustion and deferred free ---- */

static void test_pool_exhausted(void **state) {
  fx_t *f = *state;
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.max_spans = 1; /* one chunk of slots */
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "x", NULL);
  uvotel_span_t *open[300];
  int recording = 0;
  for (int i = 0; i < 300; i++) {
    open[i] = uvotel_span_start(f->t, "s", NULL);
    recording += uvotel_span_is_recording(open[i]);
  }
  assert_int_equal(recording, 256);
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.pool_exhausted, 44);
  for (int i = 0; i < 300; i++) uvotel_span_end(open[i]);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 256);
}

/* Spans run on pool threads too (work callbacks see the submitter's context). */
typedef struct mt_s {
  uv_work_t req[8];
  fx_t *f;
  uvotel_span_t *parent;
  uvotel_span_context_t seen[8];
} mt_t;

static void mt_work(uv_work_t *req) {
  mt_t *m = req->data;
  size_t k = (size_t)(req - m->req);
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.parent_span = m->parent;
  for (int i = 0; i < 500; i++) {
    uvotel_span_t *s = uvotel_span_start(m->f->t, "worker", &so);
    uvotel_span_set_attribute_int(s, "i", i);
    if (i == 0) m->seen[k] = uvotel_span_context(s);
    uvotel_span_end(s);
  }
}
static void mt_after(uv_work_t *req, int status) {
  (void)req, (void)status;
}

static void test_threads(void **state) {
  fx_t *f = *state;
  rec_exp_t r = {0};
  batch_provider(f, &r, 8192, 256, 100000);
  mt_t m = {.f = f};
  m.parent = uvotel_span_start(f->t, "parent", NULL);
  for (int i = 0; i < 8; i++) {
    m.req[i].data = &m;
    uv_queue_work(&f->loop, &m.req[i], mt_work, mt_after);
  }
  start_end(f, 2000);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_span_end(m.parent);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 10000), 0);
  assert_int_equal(r.spans, 8 * 500 + 2000 + 1);
  uvotel_span_context_t pc = uvotel_span_context(m.parent);
  (void)pc;
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.started, 6001);
  assert_int_equal(c.exported, 6001);
  assert_int_equal(c.dropped, 0);
  uvotel_tracer_provider_free(f->p); /* before r, on this stack, goes */
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.freed, 1);
}

/* ---- environment ---- */

static void clear_env(void) {
  static const char *vars[] = {"OTEL_SDK_DISABLED",
                               "OTEL_SERVICE_NAME",
                               "OTEL_RESOURCE_ATTRIBUTES",
                               "OTEL_TRACES_SAMPLER",
                               "OTEL_TRACES_SAMPLER_ARG",
                               "OTEL_TRACES_EXPORTER",
                               "OTEL_PROPAGATORS",
                               "OTEL_BSP_SCHEDULE_DELAY",
                               "OTEL_BSP_EXPORT_TIMEOUT",
                               "OTEL_BSP_MAX_QUEUE_SIZE",
                               "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
                               "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                               "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                               "OTEL_SPAN_EVENT_COUNT_LIMIT",
                               "OTEL_SPAN_LINK_COUNT_LIMIT",
                               "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
                               "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
                               "OTEL_ATTRIBUTE_COUNT_LIMIT",
                               "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
}

static const uvotel_value_t *res_get(const uvotel_tracer_provider_t *p, const char *key) {
  const uvotel_trace_resource_t *r = uvotel_tracer_provider_resource(p);
  for (size_t i = 0; i < r->n_attrs; i++) {
    if (strcmp(r->attrs[i].key, key) == 0) return &r->attrs[i].value;
  }
  return NULL;
}

static void test_default_resource(void **state) {
  fx_t *f = *state;
  clear_env();
  simple_provider(f, NULL, NULL);
  const uvotel_value_t *v = res_get(f->p, "service.name");
  assert_non_null(v);
  assert_string_equal(v->u.s, "unknown_service:test_trace");
  assert_string_equal(res_get(f->p, "telemetry.sdk.language")->u.s, "c");
  assert_string_equal(res_get(f->p, "telemetry.sdk.name")->u.s, "uvotel");
  assert_string_equal(res_get(f->p, "telemetry.sdk.version")->u.s, UVOTEL_VERSION_STRING);
  assert_int_equal(res_get(f->p, "process.pid")->u.i, (int64_t)getpid());
  assert_non_null(res_get(f->p, "host.name"));
  uvotel_tracer_provider_free(f->p);
  uvotel_memory_exporter_free(f->mem);
  /* options override the default; flags drop it */
  uvotel_attribute_t ra[] = {UVOTEL_ATTR_STR("service.name", "mine"),
                             UVOTEL_ATTR_STR("deployment.environment", "test")};
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.resource_attrs = ra;
  o.n_resource_attrs = 2;
  o.resource_schema_url = "https://opentelemetry.io/schemas/1.26.0";
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  f->mem = NULL;
  f->p = uvotel_tracer_provider_create(&o);
  assert_string_equal(res_get(f->p, "service.name")->u.s, "mine");
  assert_string_equal(uvotel_tracer_provider_resource(f->p)->schema_url,
                      "https://opentelemetry.io/schemas/1.26.0");
  uvotel_tracer_provider_free(f->p);
  o.flags |= UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE;
  o.n_resource_attrs = 0;
  f->p = uvotel_tracer_provider_create(&o);
  assert_int_equal(uvotel_tracer_provider_resource(f->p)->n_attrs, 0);
}

static void test_from_env(void **state) {
  fx_t *f = *state;
  clear_env();
  setenv("OTEL_SERVICE_NAME", "checkout", 1);
  setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=ignored, team=pay%20ments ,region=eu%2C1", 1);
  setenv("OTEL_TRACES_SAMPLER", "traceidratio", 1);
  setenv("OTEL_TRACES_SAMPLER_ARG", "0.25", 1);
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  setenv("OTEL_PROPAGATORS", "baggage, tracecontext,xray", 1);
  setenv("OTEL_ATTRIBUTE_COUNT_LIMIT", "7", 1);
  setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "9", 1);
  setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "33", 1);
  setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "3", 1);
  setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "4", 1);
  setenv("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", "5", 1);
  setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "6", 1);
  f->p = uvotel_tracer_provider_from_env();
  assert_non_null(f->p);
  assert_int_equal(g_diag_n, 1); /* xray is refused, by name */
  assert_string_equal(res_get(f->p, "service.name")->u.s, "checkout");
  assert_string_equal(res_get(f->p, "team")->u.s, "pay ments");
  assert_string_equal(res_get(f->p, "region")->u.s, "eu,1");
  assert_string_equal(uvotel_sampler_description(uvotel_tracer_provider_sampler(f->p)),
                      "TraceIdRatioBased{0.25}");
  assert_string_equal(uvotel_tracer_provider_propagators(f->p), "baggage,tracecontext");
  /* the global propagation path (a NULL propagator) follows OTEL_PROPAGATORS */
  assert_string_equal(uvotel_propagator_name(uvotel_propagator_global()), "composite");
  assert_ptr_not_equal(uvotel_propagator_global(), uvotel_propagator_default());
  uvotel_span_limits_t l = uvotel_tracer_provider_limits(f->p);
  assert_int_equal(l.attribute_count, 9);
  assert_int_equal(l.attribute_value_length, 33);
  assert_int_equal(l.event_count, 3);
  assert_int_equal(l.link_count, 4);
  assert_int_equal(l.event_attribute_count, 5);
  assert_int_equal(l.link_attribute_count, 6);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_ptr_equal(uvotel_propagator_global(), uvotel_propagator_default()); /* restored */

  /* bad values: reported, defaults used */
  clear_env();
  setenv("OTEL_SDK_DISABLED", "maybe", 1);
  setenv("OTEL_RESOURCE_ATTRIBUTES", "a=1,broken", 1);
  setenv("OTEL_TRACES_SAMPLER", "sometimes", 1);
  setenv("OTEL_TRACES_EXPORTER", "none,carrier-pigeon", 1);
  setenv("OTEL_PROPAGATORS", "tracecontext,smoke-signals", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "-5", 1);
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "12abc", 1);
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "99999999999999", 1);
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "", 1);
  setenv("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "many", 1);
  g_diag_n = 0;
  f->p = uvotel_tracer_provider_from_env();
  assert_non_null(f->p);
  assert_int_equal(g_diag_n, 9);   /* one per bad variable; the empty one counts as unset */
  assert_null(res_get(f->p, "a")); /* malformed: the whole value is discarded */
  assert_non_null(strstr(uvotel_sampler_description(uvotel_tracer_provider_sampler(f->p)),
                         "ParentBased{root=AlwaysOnSampler"));
  assert_string_equal(uvotel_tracer_provider_propagators(f->p), "tracecontext");
  assert_int_equal(uvotel_tracer_provider_limits(f->p).attribute_count, 128);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;

  /* disabled: nothing records */
  clear_env();
  setenv("OTEL_SDK_DISABLED", "TRUE", 1);
  setenv("OTEL_PROPAGATORS", "none", 1);
  f->p = uvotel_tracer_provider_from_env();
  f->t = uvotel_tracer_get(f->p, "x", NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "s", NULL);
  assert_false(uvotel_span_is_recording(s));
  uvotel_span_end(s);
  /* "none" is kept as "none" and selects no propagator (an empty string would mean default). */
  assert_string_equal(uvotel_tracer_provider_propagators(f->p), "none");
  uvotel_propagator_t *prop = NULL;
  assert_int_equal(
      uvotel_propagator_from_names(uvotel_tracer_provider_propagators(f->p), &prop, NULL), 0);
  assert_string_equal(uvotel_propagator_name(prop),
                      uvotel_propagator_name(uvotel_propagator_none()));
  uvotel_propagator_free(prop);
  clear_env();
}

/* ---- a user processor, the registry, schema scopes, diagnostics ---- */

typedef struct my_proc_s {
  int starts, ends, flushes, shutdowns, frees;
  char last_parent_hex[17];
} my_proc_t;

static void mp_start(void *self, uvotel_span_t *span, const uvotel_span_context_t *parent) {
  my_proc_t *m = self;
  m->starts++;
  uvotel_span_set_attribute_str(span, "added.by", "processor");
  if (parent != NULL) uvotel_span_id_to_hex(&parent->span_id, m->last_parent_hex);
}
static void mp_end(void *self, const uvotel_span_data_t *d) {
  my_proc_t *m = self;
  m->ends++;
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_true(n >= 1);
  assert_string_equal(a[0].key, "added.by");
}
static int mp_flush(void *self, uint64_t t) {
  (void)t;
  ((my_proc_t *)self)->flushes++;
  return UVOTEL_EIO;
}
static int mp_shutdown(void *self, uint64_t t) {
  (void)t;
  ((my_proc_t *)self)->shutdowns++;
  return 0;
}
static void mp_free(void *self) {
  ((my_proc_t *)self)->frees++;
}
static void mp_counters(void *self, uvotel_span_processor_counters_t *out) {
  out->exported = (uint64_t)((my_proc_t *)self)->ends;
}
static const uvotel_span_processor_ops_t g_mp_ops = {.on_start = mp_start,
                                                     .on_end = mp_end,
                                                     .force_flush = mp_flush,
                                                     .shutdown = mp_shutdown,
                                                     .free = mp_free,
                                                     .counters = mp_counters};

static uvotel_span_exporter_t *my_factory(const char *name, void *arg) {
  (void)name;
  (*(int *)arg)++;
  return uvotel_span_exporter_create(&g_discard_ops, NULL);
}

static void test_user_processor(void **state) {
  fx_t *f = *state;
  my_proc_t m = {0};
  uvotel_span_processor_t *pr = uvotel_span_processor_create(&g_mp_ops, &m);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  f->p = uvotel_tracer_provider_create(&o);
  uvotel_tracer_t *t = uvotel_tracer_get_with_schema(f->p, "s", "1", "https://example.com/s");
  assert_string_equal(uvotel_tracer_scope(t)->schema_url, "https://example.com/s");
  assert_ptr_not_equal(t, uvotel_tracer_get(f->p, "s", "1"));
  assert_ptr_equal(t, uvotel_tracer_get_with_schema(f->p, "s", "1", "https://example.com/s"));
  uvotel_span_t *a = uvotel_span_start(t, "a", NULL);
  uvotel_scope_t sc;
  uvotel_span_enter(a, &sc);
  uvotel_span_t *b = uvotel_span_start(t, "b", NULL);
  uvotel_scope_exit(&sc);
  char hex[17];
  uvotel_span_context_t ac = uvotel_span_context(a);
  assert_string_equal(m.last_parent_hex, uvotel_span_id_to_hex(&ac.span_id, hex));
  uvotel_span_end(b);
  uvotel_span_end(a);
  assert_int_equal(m.starts, 2);
  assert_int_equal(m.ends, 2);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10), UVOTEL_EIO);
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.exported, 2);
  assert_int_equal(uvotel_span_processor_shutdown(pr, 0), 0);
  assert_int_equal(uvotel_span_processor_shutdown(pr, 0), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_span_processor_force_flush(pr, 0), UVOTEL_ESHUTDOWN);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_int_equal(m.shutdowns, 1);
  assert_int_equal(m.frees, 1);

  /* registry: a user factory by name, replaced on re-registration */
  int made = 0;
  assert_int_equal(uvotel_span_exporter_register("mine", my_factory, &made), 0);
  assert_int_equal(uvotel_span_exporter_register("mine", my_factory, &made), 0);
  uvotel_span_exporter_t *e = uvotel_span_exporter_create_by_name("mine");
  assert_non_null(e);
  assert_int_equal(made, 1);
  uvotel_span_exporter_free(e);

  /* diagnostics: delivered up to the level asked for, formatted */
  g_diag_n = 0;
  uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EIO, "hello %d", 42);
  assert_int_equal(g_diag_n, 1);
  assert_string_equal(g_diag_last, "hello 42");
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_ERROR);
  uvotel_diag(UVOTEL_DIAG_WARN, 0, "filtered");
  assert_int_equal(g_diag_n, 1);
  uvotel_diag(UVOTEL_DIAG_ERROR, 0, "%s", "kept");
  assert_int_equal(g_diag_n, 2);
}

/* Review fixes: a thread must not hoard the pool's free slots (another thread then found the
 * pool exhausted with slots free); ending a span after its provider is freed is a counted no-op,
 * not a crash; from_env_with owns every processor given, however many. */

static uvotel_tracer_t *g_pool_tracer;

static void *one_span_thread(void *arg) {
  (void)arg;
  uvotel_span_end(uvotel_span_start(g_pool_tracer, "b", NULL));
  return NULL;
}

static void pool_burst(uvotel_tracer_t *t, int n) {
  static uvotel_span_t *sp[2000];
  for (int i = 0; i < n; i++) sp[i] = uvotel_span_start(t, "x", NULL);
  for (int i = 0; i < n; i++) uvotel_span_end(sp[i]);
}

static void test_pool_shared_between_threads(void **state) {
  fx_t *f = *state;
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.flags |= UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  o.max_spans = 2048;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_create(&o);
  g_pool_tracer = uvotel_tracer_get(f->p, "t", NULL);
  pool_burst(g_pool_tracer, 2000);
  pthread_t th;
  pthread_create(&th, NULL, one_span_thread, NULL);
  pthread_join(th, NULL);
  pool_burst(g_pool_tracer, 2000);
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(f->p, &c), 0);
  assert_int_equal(c.pool_exhausted, 0);
}

static void test_end_after_provider_free(void **state) {
  fx_t *f = *state;
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_memory_exporter_exporter(f->mem), &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = &f->loop;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  uvotel_span_t *s = uvotel_span_start(uvotel_tracer_get(p, "t", NULL), "open", NULL);
  uvotel_tracer_provider_free(p);
  uvotel_span_end(s); /* forbidden order: must not crash */
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void test_batch_span_after_shutdown(void **state) {
  fx_t *f = *state;
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_memory_exporter_exporter(f->mem), &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_create(&o);
  uvotel_span_t *s = uvotel_span_start(uvotel_tracer_get(f->p, "t", NULL), "late", NULL);
  /* open at shutdown: not exported, so counted and said (EIO) */
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), UVOTEL_EIO);
  uvotel_trace_counters_t tc;
  assert_int_equal(uvotel_tracer_provider_counters(f->p, &tc), 0);
  assert_int_equal(tc.open_at_shutdown, 1);
  uvotel_span_end(s); /* after shutdown: counted as dropped, never queued */
  uvotel_span_processor_counters_t c;
  assert_int_equal(uvotel_span_processor_counters(bp, &c), 0);
  assert_int_equal(c.dropped, 1);
  assert_int_equal(c.queued, 0);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 0);
}

static void test_from_env_owns_every_processor(void **state) {
  fx_t *f = *state;
  enum { N = 10 };
  uvotel_memory_exporter_t *mems[N];
  uvotel_span_processor_t *procs[N];
  for (int i = 0; i < N; i++) {
    mems[i] = uvotel_memory_exporter_create(0);
    procs[i] = uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mems[i]));
  }
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = procs;
  o.n_processors = N;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_from_env_with(&o);
  clear_env();
  assert_non_null(f->p);
  uvotel_span_end(uvotel_span_start(uvotel_tracer_get(f->p, "t", NULL), "s", NULL));
  for (int i = 0; i < N; i++) assert_int_equal(uvotel_memory_exporter_count(mems[i]), 1);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  for (int i = 0; i < N; i++) uvotel_memory_exporter_free(mems[i]);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
      cmocka_unit_test_setup_teardown(test_id_generator, setup, teardown),
      cmocka_unit_test_setup_teardown(test_span_basic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_types_and_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_current_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_child, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrap_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_samplers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_sampler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_flush_in_batches, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_size_and_delay_triggers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_processor_objects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zero_alloc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zero_alloc_nonsampled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pool_exhausted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_resource, setup, teardown),
      cmocka_unit_test_setup_teardown(test_from_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_user_processor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pool_shared_between_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_end_after_provider_free, setup, teardown),
      cmocka_unit_test_setup_teardown(test_from_env_owns_every_processor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_span_after_shutdown, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
