/* Until a hook is enabled or a context value set, the wrappers pass straight through: libuv
 * behaves as without uvotel, nothing is tracked or allocated. Then tracking starts for what is
 * registered afterwards. (Tracking is sticky per process, so this is its own program.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uvotel.h"
#include "uvotel/uv.h"

static int g_fired;
static uv_timer_t *g_seen;

static void cb(uv_timer_t *t) {
  g_fired++;
  g_seen = t;
}

static void test_pass_through_then_tracking(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  counting_alloc_stats_t before = counting_alloc_stats();
  assert_int_equal(uvotel_tracking(), 0);
  assert_int_equal(uvotel_timer_start(&t, cb, 0, 0), 0);
  assert_ptr_equal(t.timer_cb, cb); /* the raw callback: no trampoline */
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g_fired, 1);
  assert_ptr_equal(g_seen, &t);
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_int_equal(counting_alloc_stats().allocs, before.allocs);
  /* Enabling a hook starts tracking for what is registered from then on. */
  trace_log_t log;
  trace_log_start(&log);
  assert_int_equal(uvotel_tracking(), 1);
  assert_int_equal(uvotel_timer_start(&t, cb, 0, 0), 0);
  assert_int_equal(uvotel_uv_tracked(), 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(g_fired, 2);
  assert_non_null(strstr(trace_log_text(&log), "before"));
  uvotel_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  trace_log_free(&log);
  uvotel_loop_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, 0);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pass_through_then_tracking),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
