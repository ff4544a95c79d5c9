/* tracestate blocks: extracting a request's tracestate and dropping it allocates nothing in
 * steady state (blocks recycled per thread); a thread that parses and exits leaves nothing
 * behind; a block released on a thread that never parses is freed there; large lists are not
 * cached; the C-string copy is made on first use, once, also when several threads ask at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>

#include "counting_alloc.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TS "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,vendor@tenant=abc"

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

static void test_extract_allocates_nothing_in_steady_state(void **state) {
  (void)state;
  uvotel_header_t h[2] = {{{"traceparent", 11}, {TP, sizeof TP - 1}},
                          {{"tracestate", 10}, {TS, sizeof TS - 1}}};
  uvotel_header_list_t req = {h, 2};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  /* the first one allocates the block; after that it is recycled */
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &req, &uvotel_header_getter, &x), 0);
  uvotel_extracted_reset(&x);
  size_t a0 = counting_alloc_stats().allocs;
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(
        uvotel_propagator_extract(uvotel_propagator_default(), &req, &uvotel_header_getter, &x), 0);
    assert_non_null(x.span_context.trace_state);
    size_t len;
    assert_string_equal(uvotel_trace_state_str(x.span_context.trace_state, &len), TS);
    uvotel_extracted_reset(&x);
  }
  assert_int_equal(counting_alloc_stats().allocs - a0, 0);
  /* several alive at once: up to the cache's size they are recycled as well */
  uvotel_trace_state_t *many[20];
  for (int i = 0; i < 20; i++)
    assert_int_equal(uvotel_trace_state_parse(TS, strlen(TS), &many[i]), 0);
  for (int i = 0; i < 20; i++) uvotel_trace_state_release(many[i]);
}

static void test_values_after_recycling(void **state) {
  (void)state;
  /* a recycled block must not show its previous list */
  uvotel_trace_state_t *a = NULL, *b = NULL;
  assert_int_equal(uvotel_trace_state_parse("aaaa=1111,bbbb=2222", 19, &a), 0);
  assert_string_equal(uvotel_trace_state_get(a, "bbbb", NULL), "2222");
  uvotel_trace_state_release(a);
  assert_int_equal(uvotel_trace_state_parse("k=v", 3, &b), 0);
  assert_int_equal(uvotel_trace_state_count(b), 1);
  assert_null(uvotel_trace_state_get(b, "bbbb", NULL));
  assert_string_equal(uvotel_trace_state_get(b, "k", NULL), "v");
  uvotel_str_t k, v;
  assert_int_equal(uvotel_trace_state_at(b, 0, &k, &v), 0);
  assert_int_equal(k.len, 1);
  assert_int_equal(k.ptr[1], '\0');
  assert_string_equal(v.ptr, "v");
  assert_string_equal(uvotel_trace_state_str(b, NULL), "k=v");
  uvotel_trace_state_release(b);
  /* a list larger than a cached block: allocated and freed exactly */
  char big[32 * 20];
  size_t n = 0;
  for (int i = 0; i < 32; i++)
    n += (size_t)snprintf(big + n, sizeof big - n, "%sk%02d=%012d", i ? "," : "", i, i);
  uvotel_trace_state_t *c = NULL;
  assert_int_equal(uvotel_trace_state_parse(big, n, &c), 0);
  assert_int_equal(uvotel_trace_state_count(c), 32);
  assert_string_equal(uvotel_trace_state_get(c, "k31", NULL), "000000000031");
  uvotel_trace_state_release(c);
}

typedef struct getter_arg_s {
  const uvotel_trace_state_t *ts;
  pthread_barrier_t *bar;
  int ok;
} getter_arg_t;

static void *getter_thread(void *p) {
  getter_arg_t *a = p;
  pthread_barrier_wait(a->bar);
  const char *v = uvotel_trace_state_get(a->ts, "rojo", NULL);
  const char *w = uvotel_trace_state_get(a->ts, "vendor@tenant", NULL);
  a->ok = v != NULL && strcmp(v, "00f067aa0ba902b7") == 0 && w != NULL && strcmp(w, "abc") == 0;
  return NULL;
}

/* The C-string copy is written once, by whichever thread asks first; the others see it whole. */
static void test_lazy_strings_across_threads(void **state) {
  (void)state;
  for (int round = 0; round < 50; round++) {
    uvotel_trace_state_t *ts = NULL;
    assert_int_equal(uvotel_trace_state_parse(TS, strlen(TS), &ts), 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 4);
    pthread_t th[4];
    getter_arg_t args[4];
    for (int i = 0; i < 4; i++) {
      args[i].ts = ts;
      args[i].bar = &bar;
      args[i].ok = 0;
      assert_int_equal(pthread_create(&th[i], NULL, getter_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
      pthread_join(th[i], NULL);
      assert_true(args[i].ok);
    }
    pthread_barrier_destroy(&bar);
    uvotel_trace_state_release(ts);
  }
}

static void *parse_and_exit(void *p) {
  (void)p;
  for (int i = 0; i < 4; i++) {
    uvotel_trace_state_t *ts = NULL;
    if (uvotel_trace_state_parse(TS, strlen(TS), &ts) == 0) uvotel_trace_state_release(ts);
  }
  return NULL; /* its cached block is freed when the thread exits */
}

static void *release_elsewhere(void *p) {
  uvotel_trace_state_release(p); /* this thread never parses: freed, not kept */
  return NULL;
}

static void test_threads_leave_nothing_behind(void **state) {
  (void)state;
  long live = counting_alloc_stats().live;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, parse_and_exit, NULL), 0);
  pthread_join(t, NULL);
  assert_int_equal(counting_alloc_stats().live, live);
  uvotel_trace_state_t *ts = NULL;
  assert_int_equal(uvotel_trace_state_parse(TS, strlen(TS), &ts), 0);
  live = counting_alloc_stats().live;
  assert_int_equal(pthread_create(&t, NULL, release_elsewhere, ts), 0);
  pthread_join(t, NULL);
  assert_int_equal(counting_alloc_stats().live, live - 1);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_extract_allocates_nothing_in_steady_state, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_values_after_recycling, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lazy_strings_across_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_threads_leave_nothing_behind, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
