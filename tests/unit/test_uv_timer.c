/* Wrappers for timers ("Timeout"), check ("Immediate") and idle ("IDLE") handles, and
 * uvotel_close: event sequences, context at registration, destroy exactly once, the side table
 * returning to its baseline, zero allocations per callback. */
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
#include "uv_timer_fixture.h"

static long g_live_at_start;

static void close_cb_log(uv_handle_t *h) {
  (void)h;
  trace_log_line(&F->log, "closed in ctx %s", (const char *)uvotel_var_get(F->var));
}

/* ---- timers ---- */

static void once_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "cb ctx=%s exec=%llu", (const char *)uvotel_var_get(F->var),
                 (unsigned long long)(uvotel_execution_async_id() - (uint64_t)(uintptr_t)t->data));
}

static void test_timeout_sequence_and_context(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2; /* so %2 is the timer's id */
  uv_timer_init(&f->loop, &f->t1);
  f->t1.data = (void *)(uintptr_t)b; /* the callback prints exec id - b: 2 */
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"A", &s);
  assert_int_equal(uvotel_timer_start(&f->t1, once_cb, 1, 0), 0);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_ptr_equal(f->t1.data, (void *)(uintptr_t)b); /* data untouched */
  uvotel_var_enter(f->var, (void *)"C", &s);
  uvotel_close((uv_handle_t *)&f->t1, close_cb_log);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\nbefore %2\ncb ctx=A exec=2\nafter %2\ndestroy %2\nclosed in ctx C\n", b);
}

static void repeat_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "tick %d ctx=%s", ++F->count, (const char *)uvotel_var_get(F->var));
  if (F->count == 3) uvotel_timer_stop(t);
}

static void test_interval_is_one_resource(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"I", &s);
  uvotel_timer_start(&f->t1, repeat_cb, 1, 1);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  expect_log(
      "init %2 Timeout 1\nbefore %2\ntick 1 ctx=I\nafter %2\nbefore %2\ntick 2 ctx=I\n"
      "after %2\nbefore %2\ntick 3 ctx=I\nafter %2\ndestroy %2\n",
      b);
}

static const char *const rearm_ctx[] = {"r1", "r2"};

static void restart_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "fired %d ctx=%s", ++F->count, (const char *)uvotel_var_get(F->var));
  if (F->count < 3) {
    /* Re-armed from its own callback, in a new context: the same Timeout goes on. */
    uvotel_scope_t s;
    uvotel_var_enter(F->var, (void *)rearm_ctx[F->count - 1], &s);
    uvotel_timer_start(t, restart_cb, 0, 0);
    uvotel_scope_exit(&s);
  }
}

static void other_restart_cb(uv_timer_t *t) {
  (void)t;
  trace_log_line(&F->log, "other");
  uvotel_timer_start(&F->t1, once_cb, 1, 0); /* restart t1 from elsewhere: new resource */
}

static void test_rearm_in_own_callback_continues(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"r0", &s);
  uvotel_timer_start(&f->t1, restart_cb, 0, 0);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\nbefore %2\nfired 1 ctx=r0\nafter %2\nbefore %2\nfired 2 ctx=r1\n"
      "after %2\nbefore %2\nfired 3 ctx=r2\nafter %2\ndestroy %2\n",
      b);
  /* Restarting a running timer from another timer's callback ends it and begins a new one. */
  F->log.len = 0;
  uv_timer_init(&f->loop, &f->t2);
  f->t1.data = (void *)(uintptr_t)(b + 2);
  uvotel_timer_start(&f->t1, once_cb, 1000, 0);
  uvotel_timer_start(&f->t2, other_restart_cb, 0, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->t2, NULL);
  expect_log(
      "init %3 Timeout 1\ninit %4 Timeout 1\nbefore %4\nother\ninit %5 Timeout %4\n"
      "after %4\ndestroy %3\ndestroy %4\nbefore %5\ncb ctx=(null) exec=3\nafter %5\n"
      "destroy %5\n",
      b);
}

static void test_stop_and_close_destroy_once(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uv_timer_init(&f->loop, &f->t2);
  uvotel_timer_start(&f->t1, once_cb, 1000, 0);
  assert_int_equal(uvotel_timer_stop(&f->t1), 0);
  assert_int_equal(uvotel_timer_stop(&f->t1), 0); /* stopped: nothing more */
  uvotel_timer_start(&f->t2, once_cb, 1000, 0);
  uvotel_timer_start(&f->t2, once_cb, 1000, 0); /* restart a running timer: new resource */
  uvotel_close((uv_handle_t *)&f->t2, NULL);    /* closing an active timer destroys it */
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\ninit %3 Timeout 1\ninit %4 Timeout 1\ndestroy %2\ndestroy %3\n"
      "destroy %4\n",
      b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

static void again_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "again %d", ++F->count);
  if (F->count == 1) {
    assert_int_equal(uvotel_timer_again(t), 0); /* running repeating timer: same resource */
  } else {
    uvotel_timer_stop(t);
  }
}

static void test_timer_again(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  assert_int_equal(uvotel_timer_again(&f->t1), UV_EINVAL); /* never started: libuv's error */
  uvotel_timer_start(&f->t1, again_cb, 1, 1);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  /* Stopped repeating timer: again starts a new resource. */
  assert_int_equal(uvotel_timer_again(&f->t1), 0);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\nbefore %2\nagain 1\nafter %2\nbefore %2\nagain 2\nafter %2\n"
      "destroy %2\ninit %3 Timeout 1\ndestroy %3\n",
      b);
}

static void close_self_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "closing self");
  uvotel_close((uv_handle_t *)t, close_cb_log);
}

static void test_close_inside_own_callback(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"R", &s);
  uvotel_timer_start(&f->t1, close_self_cb, 1, 1);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  /* the close callback runs inside the timer's resource (as Node's), then the destroy */
  expect_log(
      "init %2 Timeout 1\nbefore %2\nclosing self\nafter %2\nbefore %2\nclosed in ctx R\n"
      "after %2\ndestroy %2\n",
      b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

static void plain_idle(uv_idle_t *h);

static void test_failing_start_tracks_nothing(void **state) {
  fixture_t *f = *state;
  uv_timer_init(&f->loop, &f->t1);
  size_t before = uvotel_uv_tracked();
  assert_int_equal(uvotel_timer_start(&f->t1, NULL, 1, 0), UV_EINVAL);
  assert_int_equal(uvotel_check_start(NULL, NULL), UV_EINVAL);
  assert_int_equal(uvotel_timer_start(NULL, once_cb, 1, 0), UV_EINVAL);
  assert_int_equal(uvotel_timer_stop(NULL), UV_EINVAL);
  assert_int_equal(uvotel_timer_again(NULL), UV_EINVAL);
  assert_int_equal(uvotel_check_stop(NULL), UV_EINVAL);
  assert_int_equal(uvotel_idle_start(NULL, plain_idle), UV_EINVAL);
  assert_int_equal(uvotel_idle_stop(NULL), UV_EINVAL);
  uvotel_close(NULL, NULL);
  uv_check_init(&f->loop, &f->check);
  assert_int_equal(uvotel_check_start(&f->check, NULL), UV_EINVAL);
  uv_idle_init(&f->loop, &f->idle);
  assert_int_equal(uvotel_idle_start(&f->idle, NULL), UV_EINVAL);
  assert_int_equal(uvotel_uv_tracked(), before);
  assert_string_equal(trace_log_text(&f->log), "");
  /* Handles never seen by a wrapper pass straight to uv_close. */
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uvotel_close((uv_handle_t *)&f->idle, NULL);
}

/* ---- check and idle ---- */

static void check_cb(uv_check_t *h) {
  trace_log_line(&F->log, "immediate ctx=%s", (const char *)uvotel_var_get(F->var));
  uvotel_check_stop(h);
  uv_idle_stop(&F->idle);
}

static void plain_idle(uv_idle_t *h) {
  (void)h;
}

static void test_check_is_immediate(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_check_init(&f->loop, &f->check);
  uv_idle_init(&f->loop, &f->idle);
  uv_idle_start(&f->idle, plain_idle); /* raw: keeps poll from blocking */
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"K", &s);
  assert_int_equal(uvotel_check_start(&f->check, check_cb), 0);
  assert_int_equal(uvotel_check_start(&f->check, check_cb), 0); /* started: no-op */
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uv_close((uv_handle_t *)&f->idle, NULL);
  expect_log("init %2 Immediate 1\nbefore %2\nimmediate ctx=K\nafter %2\ndestroy %2\n", b);
}

static void idle_cb(uv_idle_t *h) {
  trace_log_line(&F->log, "idle %d ctx=%s", ++F->count, (const char *)uvotel_var_get(F->var));
  if (F->count == 2) uvotel_idle_stop(h);
}

static void test_idle_lifecycle(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_idle_init(&f->loop, &f->idle);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"D", &s);
  uvotel_idle_start(&f->idle, idle_cb);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_idle_stop(&f->idle), 0);
  uvotel_close((uv_handle_t *)&f->idle, NULL);
  expect_log(
      "init %2 IDLE 1\nbefore %2\nidle 1 ctx=D\nafter %2\nbefore %2\nidle 2 ctx=D\nafter %2\n"
      "destroy %2\n",
      b);
}

/* The implicit forms (what uv_redirect.h and the preload map uv_idle_start and uv_check_start
 * onto): the same resource and events, the callback in the root context. */
static void test_implicit_idle_runs_in_root_context(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_idle_init(&f->loop, &f->idle);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"D", &s);
  assert_int_equal(uvotel_implicit_idle_start(&f->idle, idle_cb), 0);
  assert_int_equal(uvotel_implicit_idle_start(&f->idle, idle_cb), 0); /* started: no-op */
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->idle, NULL);
  expect_log(
      "init %2 IDLE 1\nbefore %2\nidle 1 ctx=(null)\nafter %2\nbefore %2\n"
      "idle 2 ctx=(null)\nafter %2\ndestroy %2\n",
      b);
}

static void implicit_check_cb(uv_check_t *h) {
  trace_log_line(&F->log, "check ctx=%s", (const char *)uvotel_var_get(F->var));
  uvotel_check_stop(h);
  uv_idle_stop(&F->idle);
}

static void test_implicit_check_runs_in_root_context(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_check_init(&f->loop, &f->check);
  uv_idle_init(&f->loop, &f->idle);
  uv_idle_start(&f->idle, plain_idle); /* raw: keeps poll from blocking */
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"D", &s);
  assert_int_equal(uvotel_implicit_check_start(&f->check, implicit_check_cb), 0);
  uvotel_scope_exit(&s);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uv_close((uv_handle_t *)&f->idle, NULL);
  expect_log("init %2 Immediate 1\nbefore %2\ncheck ctx=(null)\nafter %2\ndestroy %2\n", b);
  /* bad input as for the explicit form */
  assert_int_equal(uvotel_implicit_check_start(NULL, implicit_check_cb), UV_EINVAL);
  assert_int_equal(uvotel_implicit_idle_start(NULL, idle_cb), UV_EINVAL);
}

/* ---- the side table and allocations ---- */

static void test_table_back_to_baseline(void **state) {
  fixture_t *f = *state;
  trace_log_stop(&f->log); /* 100k events would only fill the log */
  size_t base = uvotel_uv_tracked();
  size_t base_cap = uvotel_uv_table_capacity();
  enum { N = 100000, BATCH = 1000 };
  static uv_timer_t timers[BATCH];
  for (int round = 0; round < N / BATCH; round++) {
    for (int i = 0; i < BATCH; i++) {
      uv_timer_init(&f->loop, &timers[i]);
      uvotel_timer_start(&timers[i], once_cb, 1000, 0);
    }
    assert_int_equal(uvotel_uv_tracked(), base + BATCH);
    for (int i = 0; i < BATCH; i++) {
      uvotel_timer_stop(&timers[i]);
      uvotel_close((uv_handle_t *)&timers[i], NULL);
    }
    uv_run(&f->loop, UV_RUN_DEFAULT);
  }
  assert_int_equal(uvotel_uv_tracked(), base);
  assert_true(uvotel_uv_table_capacity() <= (base_cap > 64 ? base_cap : 64));
}

static void chain_cb(uv_timer_t *t) {
  if (++F->count < 20000) uvotel_timer_start(t, chain_cb, 0, 0);
}

static void chain_check_cb(uv_check_t *h) {
  if (++F->count >= 10000) {
    uvotel_check_stop(h);
    uv_idle_stop(&F->idle);
  }
}

static void test_zero_allocations_per_callback(void **state) {
  fixture_t *f = *state;
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"Z", &s);
  uv_timer_init(&f->loop, &f->t1);
  /* Warm up: pools, the destroy queue and the table reach their working size. */
  f->count = 0;
  uvotel_timer_start(&f->t1, chain_cb, 0, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  counting_alloc_stats_t before = counting_alloc_stats();
  f->count = 0;
  uvotel_timer_start(&f->t1, chain_cb, 0, 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  counting_alloc_stats_t after = counting_alloc_stats();
  assert_int_equal(f->count, 20000);
  assert_int_equal(after.allocs, before.allocs);
  assert_int_equal(after.reallocs, before.reallocs);
  /* The same for check handles (each run a loop iteration). */
  uv_check_init(&f->loop, &f->check);
  uv_idle_init(&f->loop, &f->idle);
  uv_idle_start(&f->idle, plain_idle);
  f->count = 0;
  uvotel_check_start(&f->check, chain_check_cb);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  before = counting_alloc_stats();
  uv_idle_start(&f->idle, plain_idle);
  f->count = 0;
  uvotel_check_start(&f->check, chain_check_cb);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  after = counting_alloc_stats();
  assert_int_equal(after.allocs, before.allocs);
  uvotel_scope_exit(&s);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uv_close((uv_handle_t *)&f->idle, NULL);
}

static void test_no_leaks(void **state) {
  (void)state;
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_int_equal(counting_alloc_stats().live, g_live_at_start);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  g_live_at_start = counting_alloc_stats().live;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_timeout_sequence_and_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interval_is_one_resource, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rearm_in_own_callback_continues, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stop_and_close_destroy_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timer_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_inside_own_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failing_start_tracks_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_check_is_immediate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_idle_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_implicit_idle_runs_in_root_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_implicit_check_runs_in_root_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_back_to_baseline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zero_allocations_per_callback, setup, teardown),
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
