/* Unhandled rejections: the order of tests/node/rejection.js under Node 20 (its log lines, the
 * hook events left out):
 *   end of script / b caught / unhandledRejection a / unhandledRejection c /
 *   unhandledRejection d / c caught late / rejectionHandled
 * then the default diagnostic, the count, handlers attached through adopt and all, and the
 * destroy timing of promises handled in time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uvotel.h"
#include "uvotel/uv.h"

static trace_log_t g_log;
static uv_loop_t g_loop;
static long g_live0;

static int setup(void **state) {
  (void)state;
  g_live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  memset(&g_log, 0, sizeof g_log);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uvotel_promise_on_rejection(NULL, NULL);
  (void)uvotel_loop_close(&g_loop);
  assert_int_equal(uv_loop_close(&g_loop), 0);
  trace_log_free(&g_log);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live0);
  return 0;
}

static void on_rejection(uvotel_rejection_event_t ev, uvotel_promise_t *p, void *reason,
                         void *arg) {
  (void)arg;
  if (ev == UVOTEL_REJECTION_UNHANDLED) {
    trace_log_line(&g_log, "unhandledRejection %s", (const char *)reason);
  } else {
    assert_int_equal(uvotel_promise_state(p), UVOTEL_PROMISE_REJECTED);
    trace_log_line(&g_log, "rejectionHandled");
  }
}

static uvotel_reaction_t caught(void *value, void *arg) {
  (void)value;
  trace_log_line(&g_log, "%s", (const char *)arg);
  return uvotel_reaction_value(NULL);
}

static uvotel_reaction_t throw_d(void *value, void *arg) {
  (void)value, (void)arg;
  return uvotel_reaction_error("d");
}

static uvotel_promise_t *g_c;
static uv_timer_t g_timer;

static void late_catch(uv_timer_t *t) {
  (void)t;
  uvotel_promise_unref(uvotel_promise_then(g_c, NULL, caught, "c caught late"));
  uvotel_promise_unref(g_c);
  uvotel_close((uv_handle_t *)&g_timer, NULL);
}

static void test_node_order(void **state) {
  (void)state;
  uvotel_promise_on_rejection(on_rejection, NULL);
  uint64_t n0 = uvotel_promise_unhandled_rejections();
  uvotel_promise_t *a = uvotel_promise_rejected("a", NULL);
  uvotel_promise_t *b = uvotel_promise_rejected("b", NULL);
  uvotel_promise_unref(uvotel_promise_then(b, NULL, caught, "b caught"));
  g_c = uvotel_promise_rejected("c", NULL);
  assert_int_equal(uv_timer_init(&g_loop, &g_timer), 0);
  assert_int_equal(uvotel_timer_start(&g_timer, late_catch, 10, 0), 0);
  uvotel_promise_t *r = uvotel_promise_resolved(NULL, NULL);
  uvotel_promise_unref(uvotel_promise_then(r, throw_d, NULL, NULL));
  trace_log_line(&g_log, "end of script");
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(uv_run(&g_loop, UV_RUN_DEFAULT), 0);
  assert_string_equal(trace_log_text(&g_log),
                      "end of script\n"
                      "b caught\n"
                      "unhandledRejection a\n"
                      "unhandledRejection c\n"
                      "unhandledRejection d\n"
                      "c caught late\n"
                      "rejectionHandled\n");
  assert_int_equal(uvotel_promise_unhandled_rejections(), n0 + 3);
  uvotel_promise_unref(a);
  uvotel_promise_unref(b);
  uvotel_promise_unref(r);
}

static char g_diag[512];
static int g_diags;
static void capture(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  if (level == UVOTEL_DIAG_WARN && strstr(msg, "promise") != NULL) {
    snprintf(g_diag, sizeof g_diag, "%s", msg);
    g_diags++;
  }
}

/* No callback: a warning through the diagnostics, once per rejection. */
static void test_default_diagnostic(void **state) {
  (void)state;
  g_diags = 0;
  uvotel_diag_set_handler(capture, NULL, UVOTEL_DIAG_WARN);
  uvotel_promise_t *p = uvotel_promise_rejected("x", NULL);
  char want[160];
  snprintf(want, sizeof want, "promise %llu was rejected",
           (unsigned long long)uvotel_promise_async_id(p));
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(g_diags, 1);
  assert_non_null(strstr(g_diag, want));
  /* handled later: the second warning */
  uvotel_promise_unref(uvotel_promise_then(p, NULL, caught, "late"));
  trace_log_start(&g_log);
  trace_log_stop(&g_log);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(g_diags, 2);
  assert_non_null(strstr(g_diag, "handled asynchronously"));
  uvotel_promise_unref(p);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_ERROR);
}

/* Adopting and Promise.all count as handlers; the promise that follows is what is reported, in
 * Node's order (tests/node/rejection_adopt_all.js): the all-promise first, since the thenable
 * job of the adoption runs before the reaction it queues. */
static void test_adopt_and_all(void **state) {
  (void)state;
  uvotel_promise_on_rejection(on_rejection, NULL);
  uvotel_promise_t *inner = uvotel_promise_rejected("inner", NULL);
  uvotel_promise_t *outer = uvotel_promise_create(NULL);
  assert_int_equal(uvotel_promise_adopt(outer, inner), 0);
  uvotel_promise_t *parts[2] = {uvotel_promise_rejected("part", NULL),
                                uvotel_promise_resolved(NULL, NULL)};
  uvotel_promise_t *all = uvotel_promise_all(parts, 2);
  assert_non_null(all);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_string_equal(trace_log_text(&g_log),
                      "unhandledRejection part\n"    /* all, rejected with the part's reason */
                      "unhandledRejection inner\n"); /* outer, with inner's reason */
  uvotel_promise_unref(inner);
  uvotel_promise_unref(outer);
  uvotel_promise_unref(parts[0]);
  uvotel_promise_unref(parts[1]);
  uvotel_promise_unref(all);
}

/* A rejection handled before the queues ran empty is never reported, and its promise is freed
 * (destroy queued) when the last reference goes, exactly as without the check. */
static void test_handled_in_time_changes_nothing(void **state) {
  (void)state;
  uvotel_promise_on_rejection(on_rejection, NULL);
  trace_log_start(&g_log);
  uvotel_promise_t *p = uvotel_promise_rejected("p", NULL);
  uvotel_promise_t *d = uvotel_promise_then(p, NULL, caught, "caught");
  uvotel_promise_unref(p);
  size_t before = uvotel_pending_destroys();
  uvotel_promise_unref(d);
  /* d is held by its job; p by the job too: nothing destroyed yet, nothing listed */
  assert_int_equal(uvotel_pending_destroys(), before);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  trace_log_stop(&g_log);
  const char *t = trace_log_text(&g_log);
  assert_null(strstr(t, "unhandledRejection"));
  assert_non_null(strstr(t, "caught"));
  uvotel_flush_destroys();
}

static void test_bad_input(void **state) {
  (void)state;
  uvotel_promise_on_rejection(NULL, NULL); /* the default again: always allowed */
  uint64_t n = uvotel_promise_unhandled_rejections();
  assert_int_equal(uvotel_promise_unhandled_rejections(), n);
  /* out of memory for the check job: the rejection is said at once, not lost */
  uvotel_promise_on_rejection(on_rejection, NULL);
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  uvotel_thread_cleanup(); /* no pooled job to fall back on */
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel_promise_reject(p, "oom"), 0);
  counting_alloc_fail_after(0, 0);
  assert_string_equal(trace_log_text(&g_log), "unhandledRejection oom\n");
  assert_int_equal(uvotel_promise_unhandled_rejections(), n + 1);
  uvotel_promise_unref(p);
  assert_int_equal(uvotel_drain_microtasks(), 0);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_node_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_diagnostic, setup, teardown),
      cmocka_unit_test_setup_teardown(test_adopt_and_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_handled_in_time_changes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
