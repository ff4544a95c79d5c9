/* The common fixture of the libuv wrapper tests: a fresh loop per test, a trace log and a
 * context variable the test may set up, and a teardown that asserts everything was closed,
 * untracked and freed. Include after cmocka.h, counting_alloc.h and trace_log.h. */
#ifndef UVOTEL_TEST_UV_FIXTURE_H
#define UVOTEL_TEST_UV_FIXTURE_H

typedef struct fx_s {
  uv_loop_t loop;
  long live0;
} fx_t;

static trace_log_t g_log;
static uvotel_var_t *g_var;
static uv_loop_t *g_loop;

static int setup(void **state) {
  /* A fresh loop object per test: libuv's pool threads may still touch a closed loop's mutex
   * memory on their way out (ThreadSanitizer flags re-initialising it). */
  static fx_t fxs[32];
  static unsigned n;
  fx_t *fx = &fxs[n++ % 32];
  memset(fx, 0, sizeof *fx);
  fx->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  g_loop = &fx->loop;
  memset(&g_log, 0, sizeof g_log);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  trace_log_free(&g_log);
  (void)uvotel_loop_close(&fx->loop);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, fx->live0);
  return 0;
}

#endif
