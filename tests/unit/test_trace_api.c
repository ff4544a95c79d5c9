/* Smaller pieces of the trace API: record_exception, Tracer.Enabled, instrumentation-scope
 * attributes, and a ParentBased description of any length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "uvotel.h"
#include "uvotel/exporters/memory.h"

typedef struct fx_s {
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
} fx_t;

static fx_t g;

static uvotel_tracer_provider_t *provider(uvotel_sampler_t *sampler, int with_proc) {
  uvotel_span_processor_t *proc = NULL;
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  if (with_proc) {
    g.mem = uvotel_memory_exporter_create(0);
    proc = uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(g.mem));
    o.processors = &proc;
    o.n_processors = 1;
  }
  o.sampler = sampler;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  assert_non_null(p);
  return p;
}

static int setup(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  g.p = provider(NULL, 1);
  g.t = uvotel_tracer_get(g.p, "test", "1");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uvotel_tracer_provider_shutdown(g.p, 100);
  uvotel_tracer_provider_free(g.p);
  uvotel_memory_exporter_free(g.mem);
  return 0;
}

static const char *ev_attr(const uvotel_event_t *e, const char *key) {
  for (size_t i = 0; i < e->n_attrs; i++) {
    if (strcmp(e->attrs[i].key, key) == 0) return e->attrs[i].value.u.s;
  }
  return NULL;
}

static void test_record_exception(void **state) {
  (void)state;
  uvotel_span_t *s = uvotel_span_start(g.t, "op", NULL);
  uvotel_span_record_exception(s, "ECONNRESET", "connection reset by peer", "at read()\n", 0);
  uvotel_span_record_exception(s, NULL, "only a message", NULL, UVOTEL_EXCEPTION_SET_STATUS);
  uint64_t misuse0 = uvotel_trace_misuse_total();
  uvotel_span_record_exception(s, NULL, "", NULL, 0);    /* neither: misuse */
  uvotel_span_record_exception(s, "T", "m", NULL, 0x80); /* unknown flag: misuse */
  assert_int_equal(uvotel_trace_misuse_total(), misuse0 + 2);
  uvotel_span_end(s);
  assert_int_equal(uvotel_memory_exporter_count(g.mem), 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(g.mem, 0);
  size_t n;
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  assert_int_equal(n, 2);
  assert_string_equal(ev[0].name, "exception");
  assert_int_equal(ev[0].n_attrs, 3);
  assert_string_equal(ev_attr(&ev[0], "exception.type"), "ECONNRESET");
  assert_string_equal(ev_attr(&ev[0], "exception.message"), "connection reset by peer");
  assert_string_equal(ev_attr(&ev[0], "exception.stacktrace"), "at read()\n");
  assert_int_equal(ev[1].n_attrs, 1);
  assert_null(ev_attr(&ev[1], "exception.type"));
  const char *desc;
  assert_int_equal(uvotel_span_data_status(d, &desc), UVOTEL_STATUS_ERROR);
  assert_string_equal(desc, "only a message");
  /* a NULL span is misuse too, never a crash */
  uvotel_span_record_exception(NULL, "T", "m", NULL, 0);
}

static void test_tracer_enabled(void **state) {
  (void)state;
  assert_true(uvotel_tracer_enabled(g.t));
  assert_false(uvotel_tracer_enabled(NULL));
  uvotel_tracer_provider_t *off = provider(uvotel_sampler_always_off(), 0);
  assert_false(uvotel_tracer_enabled(uvotel_tracer_get(off, "x", NULL)));
  uvotel_tracer_provider_free(off);
  uvotel_tracer_provider_t *none = provider(NULL, 0); /* no processor: nothing would export */
  assert_false(uvotel_tracer_enabled(uvotel_tracer_get(none, "x", NULL)));
  uvotel_tracer_provider_free(none);
  assert_int_equal(uvotel_tracer_provider_shutdown(g.p, 100), 0);
  assert_false(uvotel_tracer_enabled(g.t)); /* asked again: shut down now */
}

static void test_scope_attributes(void **state) {
  (void)state;
  uvotel_attribute_t a1[] = {UVOTEL_ATTR_STR("lib.kind", "db"), UVOTEL_ATTR_INT("lib.shard", 3)};
  uvotel_attribute_t a2[] = {UVOTEL_ATTR_STR("lib.kind", "db"), UVOTEL_ATTR_INT("lib.shard", 4)};
  uvotel_tracer_t *t1 = uvotel_tracer_get_with_attributes(g.p, "lib", "2", "https://s", a1, 2);
  assert_non_null(t1);
  assert_ptr_equal(uvotel_tracer_get_with_attributes(g.p, "lib", "2", "https://s", a1, 2), t1);
  uvotel_tracer_t *t2 = uvotel_tracer_get_with_attributes(g.p, "lib", "2", "https://s", a2, 2);
  assert_non_null(t2);
  assert_ptr_not_equal(t2, t1);
  uvotel_tracer_t *t0 = uvotel_tracer_get_with_schema(g.p, "lib", "2", "https://s");
  assert_ptr_not_equal(t0, t1);
  assert_int_equal(uvotel_tracer_scope(t0)->n_attrs, 0);
  uvotel_span_t *s = uvotel_span_start(t1, "op", NULL);
  uvotel_span_end(s);
  const uvotel_instrumentation_scope_t *sc =
      uvotel_span_data_scope(uvotel_memory_exporter_get(g.mem, 0));
  assert_string_equal(sc->name, "lib");
  assert_string_equal(sc->schema_url, "https://s");
  assert_int_equal(sc->n_attrs, 2);
  assert_string_equal(sc->attrs[0].key, "lib.kind");
  assert_string_equal(sc->attrs[0].value.u.s, "db");
  assert_int_equal(sc->attrs[1].value.u.i, 3);
  /* bad input */
  assert_null(uvotel_tracer_get_with_attributes(NULL, "lib", NULL, NULL, a1, 2));
  assert_null(uvotel_tracer_get_with_attributes(g.p, "lib", NULL, NULL, NULL, 2));
  uvotel_attribute_t bad[] = {UVOTEL_ATTR_STR("", "empty key")};
  uvotel_tracer_t *tb = uvotel_tracer_get_with_attributes(g.p, "lib", "3", NULL, bad, 1);
  assert_non_null(tb);
  assert_int_equal(uvotel_tracer_scope(tb)->n_attrs, 0); /* the invalid one ignored */
  assert_ptr_equal(uvotel_tracer_get_with_attributes(g.p, "lib", "3", NULL, bad, 1), tb);
}

static char g_long[400];
static void long_sample(void *self, const uvotel_sampling_params_t *p,
                        uvotel_sampling_result_t *o) {
  (void)self, (void)p;
  o->decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
}
static const char *long_desc(void *self) {
  (void)self;
  return g_long;
}
static const uvotel_sampler_ops_t long_ops = {.should_sample = long_sample,
                                              .description = long_desc};

static void test_parentbased_description_uncut(void **state) {
  (void)state;
  memset(g_long, 'x', sizeof g_long - 1);
  memcpy(g_long, "Mine{", 5);
  g_long[sizeof g_long - 2] = '}';
  uvotel_parent_based_options_t o = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  o.root = uvotel_sampler_create(&long_ops, NULL);
  uvotel_sampler_t *pb = uvotel_sampler_parent_based(&o);
  assert_non_null(pb);
  const char *d = uvotel_sampler_description(pb);
  assert_true(strlen(d) > sizeof g_long);
  assert_non_null(strstr(d, g_long));
  assert_non_null(strstr(d, "localParentNotSampled=AlwaysOffSampler}"));
  uvotel_sampler_free(pb);
}

/* uvotel__sampler_reads_attributes goes by what a sampler is, not by what its description
 * says: a user's sampler describing itself as "AlwaysOnSampler" may still read attributes. */
static const char *fake_on_desc(void *self) {
  (void)self;
  return "AlwaysOnSampler";
}
static const uvotel_sampler_ops_t fake_on_ops = {.should_sample = long_sample,
                                                 .description = fake_on_desc};

static void test_sampler_reads_attributes(void **state) {
  (void)state;
  assert_int_equal(uvotel__sampler_reads_attributes(NULL), 0);
  uvotel_sampler_t *own[] = {
      uvotel_sampler_always_on(), uvotel_sampler_always_off(), uvotel_sampler_traceidratio(0.25),
      uvotel_sampler_parentbased_always_on(), uvotel_sampler_parentbased_traceidratio(0.5)};
  for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
    assert_non_null(own[i]);
    assert_int_equal(uvotel__sampler_reads_attributes(own[i]), 0);
    uvotel_sampler_free(own[i]);
  }
  uvotel_sampler_t *fake = uvotel_sampler_create(&fake_on_ops, NULL);
  assert_string_equal(uvotel_sampler_description(fake), "AlwaysOnSampler");
  assert_int_equal(uvotel__sampler_reads_attributes(fake), 1);
  uvotel_sampler_free(fake);
  /* a user's delegate anywhere inside a parent-based one */
  uvotel_parent_based_options_t o = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  o.local_parent_not_sampled = uvotel_sampler_create(&fake_on_ops, NULL);
  uvotel_sampler_t *pb = uvotel_sampler_parent_based(&o);
  assert_non_null(pb);
  assert_int_equal(uvotel__sampler_reads_attributes(pb), 1);
  uvotel_sampler_free(pb);
}

static int g_drop_msgs;
static char g_drop_msg[512];
static void capture_debug(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  if (level == UVOTEL_DIAG_DEBUG && strstr(msg, "span limits dropped") != NULL) {
    g_drop_msgs++;
    snprintf(g_drop_msg, sizeof g_drop_msg, "%s", msg);
  }
}

/* Drops by the span limits are said at debug, once per interval for the process. */
static void test_limit_drops_said_at_debug(void **state) {
  (void)state;
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  o.limits.attribute_count = 1;
  o.limits.event_count = 0;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "limits", NULL);
  g_drop_msgs = 0;
  uvotel_diag_set_handler(capture_debug, NULL, UVOTEL_DIAG_DEBUG);
  uvotel_span_t *ok = uvotel_span_start(t, "fits", NULL);
  uvotel_span_set_attribute_int(ok, "a", 1);
  uvotel_span_end(ok);
  assert_int_equal(g_drop_msgs, 0); /* nothing dropped: nothing said */
  for (int i = 0; i < 3; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "too big", NULL);
    uvotel_span_set_attribute_int(s, "a", 1);
    uvotel_span_set_attribute_int(s, "b", 2);
    uvotel_span_add_event(s, "e", NULL, 0);
    uvotel_span_end(s);
  }
  assert_int_equal(g_drop_msgs, 1); /* the next two within the interval are counted, not said */
  assert_non_null(
      strstr(g_drop_msg, "\"too big\": the span limits dropped 1 attributes, 1 events"));
  /* at the default level nothing is even formatted */
  uvotel_diag_set_handler(capture_debug, NULL, UVOTEL_DIAG_INFO);
  uvotel_span_t *s = uvotel_span_start(t, "quiet", NULL);
  uvotel_span_add_event(s, "e", NULL, 0);
  uvotel_span_end(s);
  assert_int_equal(g_drop_msgs, 1);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_INFO);
  uvotel_tracer_provider_shutdown(p, 100);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_record_exception, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tracer_enabled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scope_attributes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parentbased_description_uncut, setup, teardown),
      cmocka_unit_test(test_sampler_reads_attributes),
      cmocka_unit_test(test_limit_drops_said_at_debug),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
