/* The global tracer provider: no-op until set, set/get, cleared when the provider is freed, and
 * read from other threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>

#include <cmocka.h>

#include "uvotel.h"
#include "uvotel/exporters/memory.h"

static uvotel_tracer_provider_t *make_provider(uvotel_memory_exporter_t **mem) {
  *mem = uvotel_memory_exporter_create(0);
  assert_non_null(*mem);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(*mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  assert_non_null(p);
  return p;
}

static void test_default_is_noop(void **state) {
  (void)state;
  uvotel_tracer_provider_t *g = uvotel_tracer_provider_global();
  assert_non_null(g);
  assert_true(uvotel_tracer_provider_is_noop(g));
  assert_ptr_equal(uvotel_tracer_provider_global(), g); /* one for the whole process */
  uvotel_tracer_t *t = uvotel_global_tracer("lib", "1.0");
  assert_non_null(t);
  assert_ptr_equal(uvotel_global_tracer("lib", "1.0"), t);
  uvotel_span_t *s = uvotel_span_start(t, "nothing", NULL);
  assert_non_null(s);
  assert_false(uvotel_span_is_recording(s));
  uvotel_span_end(s);
  assert_false(uvotel_tracer_provider_is_noop(NULL));
}

static void test_set_get_and_free_clears(void **state) {
  (void)state;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p = make_provider(&mem);
  assert_false(uvotel_tracer_provider_is_noop(p));
  assert_int_equal(uvotel_tracer_provider_set_global(p), 0);
  assert_ptr_equal(uvotel_tracer_provider_global(), p);
  uvotel_tracer_t *t = uvotel_global_tracer("lib", "1.0");
  assert_ptr_equal(uvotel_tracer_get_provider(t), p);
  uvotel_span_t *s = uvotel_span_start(t, "recorded", NULL);
  assert_true(uvotel_span_is_recording(s));
  uvotel_span_end(s);
  assert_int_equal(uvotel_memory_exporter_count(mem), 1);
  /* NULL restores the no-op provider */
  assert_int_equal(uvotel_tracer_provider_set_global(NULL), 0);
  assert_true(uvotel_tracer_provider_is_noop(uvotel_tracer_provider_global()));
  /* freeing the global provider clears it; freeing another one leaves it */
  uvotel_memory_exporter_t *mem2;
  uvotel_tracer_provider_t *other = make_provider(&mem2);
  assert_int_equal(uvotel_tracer_provider_set_global(p), 0);
  uvotel_tracer_provider_shutdown(other, 100);
  uvotel_tracer_provider_free(other);
  uvotel_memory_exporter_free(mem2);
  assert_ptr_equal(uvotel_tracer_provider_global(), p);
  uvotel_tracer_provider_shutdown(p, 100);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
  assert_true(uvotel_tracer_provider_is_noop(uvotel_tracer_provider_global()));
}

static void *read_global(void *arg) {
  uvotel_tracer_provider_t *want = arg;
  for (int i = 0; i < 10000; i++) {
    uvotel_tracer_provider_t *g = uvotel_tracer_provider_global();
    if (g != want && !uvotel_tracer_provider_is_noop(g)) return (void *)1;
  }
  return NULL;
}

static void test_other_threads(void **state) {
  (void)state;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p = make_provider(&mem);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, read_global, p), 0);
  for (int i = 0; i < 1000; i++) {
    uvotel_tracer_provider_set_global(i % 2 ? p : NULL);
  }
  void *bad;
  assert_int_equal(pthread_join(th, &bad), 0);
  assert_null(bad);
  uvotel_tracer_provider_set_global(NULL);
  uvotel_tracer_provider_shutdown(p, 100);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_is_noop),
      cmocka_unit_test(test_set_get_and_free_clears),
      cmocka_unit_test(test_other_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
