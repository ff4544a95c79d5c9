/* The environment-variable carrier (uvotel/propagation.h): inject into a copy, extract, bad
 * input, and uvotel_tracer_provider_from_env making TRACEPARENT the parent of root spans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"

#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

static uvotel_span_context_t ctx(void) {
  uvotel_span_context_t sc;
  assert_int_equal(uvotel_traceparent_parse(TP, strlen(TP), &sc), 0);
  return sc;
}

static void inject_cases(void);

/* Twice: what the SDK sets up once on first use (a lazily made table, say) is not a leak; the
 * second round must leave the live count where the first left it. */
static void test_inject(void **state) {
  (void)state;
  inject_cases();
  long live0 = counting_alloc_stats().live;
  inject_cases();
  assert_int_equal(counting_alloc_stats().live, live0);
}

static void inject_cases(void) {
  char *env[] = {"A=1", "TRACEPARENT=old", "BAGGAGE=old", "TRACESTATE=old", "B=2", NULL};
  uvotel_span_context_t sc = ctx();
  char **out = NULL;
  assert_int_equal(uvotel_env_carrier_inject(env, &sc, NULL, &out), 0);
  assert_string_equal(out[0], "A=1");
  assert_string_equal(out[1], "B=2");
  assert_string_equal(out[2], "TRACEPARENT=" TP);
  assert_null(out[3]); /* no trace state, no baggage: none added, the old ones dropped */
  assert_ptr_equal(out[0], env[0]); /* borrowed */
  uvotel_env_carrier_free(out);
  /* with trace state and baggage */
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse("a=b,c=d", 7, &ts), 0);
  sc.trace_state = ts;
  uvotel_baggage_t *bg;
  assert_int_equal(uvotel_baggage_parse("k=v", 3, &bg), 0);
  assert_int_equal(uvotel_env_carrier_inject(env, &sc, bg, &out), 0);
  assert_string_equal(out[3], "TRACESTATE=a=b,c=d");
  assert_string_equal(out[4], "BAGGAGE=k=v");
  assert_null(out[5]);
  uvotel_env_carrier_free(out);
  uvotel_trace_state_release(ts);
  uvotel_baggage_release(bg);
  /* bad input */
  assert_int_equal(uvotel_env_carrier_inject(env, &sc, NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_carrier_inject(env, NULL, NULL, &out), UVOTEL_EINVAL);
  assert_null(out);
  uvotel_span_context_t zero;
  memset(&zero, 0, sizeof zero);
  assert_int_equal(uvotel_env_carrier_inject(env, &zero, NULL, &out), UVOTEL_EINVAL);
  counting_alloc_fail_after(0, 1);
  sc.trace_state = NULL;
  assert_int_equal(uvotel_env_carrier_inject(env, &sc, NULL, &out), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
  uvotel_env_carrier_free(NULL);
}

static void test_extract(void **state) {
  (void)state;
  uvotel_span_context_t sc;
  char *none[] = {"A=1", NULL};
  assert_int_equal(uvotel_env_carrier_extract(none, &sc), UVOTEL_ENOENT);
  char *bad[] = {"TRACEPARENT=00-zz", NULL};
  assert_int_equal(uvotel_env_carrier_extract(bad, &sc), UVOTEL_EPARSE);
  char *good[] = {"TRACEPARENT=" TP, "TRACESTATE=x=y", NULL};
  assert_int_equal(uvotel_env_carrier_extract(good, &sc), 0);
  assert_true(sc.is_remote);
  char buf[UVOTEL_TRACEPARENT_LEN + 1];
  assert_int_equal(uvotel_traceparent_format(&sc, buf), 0);
  assert_string_equal(buf, TP);
  size_t len;
  assert_non_null(sc.trace_state);
  assert_string_equal(uvotel_trace_state_str(sc.trace_state, &len), "x=y");
  uvotel_trace_state_release(sc.trace_state);
  char *bad_ts[] = {"TRACEPARENT=" TP, "TRACESTATE=,,=", NULL};
  assert_int_equal(uvotel_env_carrier_extract(bad_ts, &sc), 0); /* trace state dropped */
  assert_null(sc.trace_state);
  assert_int_equal(uvotel_env_carrier_extract(good, NULL), UVOTEL_EINVAL);
}

/* from_env: a root span gets the environment's context as its remote parent; an explicit
 * UVOTEL_SPAN_ROOT does not. */
static void test_provider_from_env_parent(void **state) {
  (void)state;
  setenv("TRACEPARENT", TP, 1);
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_from_env_with(&o);
  unsetenv("TRACEPARENT");
  unsetenv("OTEL_TRACES_EXPORTER");
  assert_non_null(p);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "t", "1");
  uvotel_span_end(uvotel_span_start(t, "root", NULL));
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.flags = UVOTEL_SPAN_ROOT;
  uvotel_span_end(uvotel_span_start(t, "new trace", &so));
  assert_int_equal(uvotel_memory_exporter_count(mem), 2);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(mem, 0);
  uvotel_span_context_t want = ctx();
  uvotel_span_context_t got = uvotel_span_data_context(d);
  assert_memory_equal(got.trace_id.bytes, want.trace_id.bytes, 16);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  assert_memory_equal(pid.bytes, want.span_id.bytes, 8);
  assert_true(uvotel_span_data_parent_is_remote(d));
  const uvotel_span_data_t *d2 = uvotel_memory_exporter_get(mem, 1);
  assert_false(uvotel_span_data_parent_is_remote(d2));
  got = uvotel_span_data_context(d2);
  assert_memory_not_equal(got.trace_id.bytes, want.trace_id.bytes, 16);
  (void)uvotel_tracer_provider_shutdown(p, 1000);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inject),
      cmocka_unit_test(test_extract),
      cmocka_unit_test(test_provider_from_env_parent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
