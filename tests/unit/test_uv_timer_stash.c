/* How timer.c reaches a firing handle's state without a side-table lookup (the thread's firing
 * handle), and the context scope that skips counting when the resource's context is already
 * current: what a program keeps in its handle is untouched (u.fd, u.reserved, data), a
 * callback touching another handle or a nested loop's handles is not mistaken for its own, and
 * a callback that destroys its own resource keeps a valid context. Exact event sequences, as
 * test_uv_timer; each was checked against main's build before this branch's change. */
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

static const char *ctx_now(void) {
  const char *v = uvotel_var_get(F->var);
  return v != NULL ? v : "-";
}

/* ---- the bytes a program may read stay as they were ---- */

static void fd_probe_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "fired fd=%d", t->u.fd);
}

static void check_probe_cb(uv_check_t *h) {
  trace_log_line(&F->log, "check fd=%d", h->u.fd);
  uvotel_check_stop(h);
  uv_idle_stop(&F->idle);
}

static void noop_idle(uv_idle_t *h) {
  (void)h;
}

static void test_handle_fields_a_program_reads_unchanged(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uv_check_init(&f->loop, &f->check);
  uv_idle_init(&f->loop, &f->idle);
  /* what libuv left in u.fd and reserved[0..1] (the part of `u` that overlaps u.fd) */
  void *timer_u[2] = {f->t1.u.reserved[0], f->t1.u.reserved[1]};
  void *check_u[2] = {f->check.u.reserved[0], f->check.u.reserved[1]};
  f->t1.data = (void *)&f->count;
  f->check.data = (void *)&f->inner_count;
  int fd = f->t1.u.fd;
  assert_int_equal(uvotel_timer_start(&f->t1, fd_probe_cb, 0, 0), 0);
  assert_int_equal(uvotel_check_start(&f->check, check_probe_cb), 0);
  uv_idle_start(&f->idle, noop_idle);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_ptr_equal(f->t1.u.reserved[0], timer_u[0]);
  assert_ptr_equal(f->t1.u.reserved[1], timer_u[1]);
  assert_ptr_equal(f->check.u.reserved[0], check_u[0]);
  assert_ptr_equal(f->check.u.reserved[1], check_u[1]);
  assert_ptr_equal(f->t1.data, (void *)&f->count);
  assert_ptr_equal(f->check.data, (void *)&f->inner_count);
  /* the handle reports what libuv says: inactive, not closing */
  assert_int_equal(uv_is_active((uv_handle_t *)&f->t1), 0);
  assert_int_equal(uv_is_active((uv_handle_t *)&f->check), 0);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uv_close((uv_handle_t *)&f->idle, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  char want[512];
  snprintf(want, sizeof want,
           "init %%2 Timeout 1\ninit %%3 Immediate 1\nbefore %%2\nfired fd=%d\nafter %%2\n"
           "destroy %%2\nbefore %%3\ncheck fd=%d\nafter %%3\ndestroy %%3\n",
           fd, f->check.u.fd);
  expect_log(want, b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- a program's own data in u.reserved survives ----
 * Programs do keep their own pointers in a handle's u.reserved words (seen in public code on
 * process and stream handles): the wrappers must never write them. */

static void *const g_mark[4] = {(void *)&g_mark[0], (void *)&g_mark[1], (void *)&g_mark[2],
                                (void *)&g_mark[3]};

static void assert_marked(const uv_handle_t *h) {
  for (int i = 0; i < 4; i++) assert_ptr_equal(h->u.reserved[i], g_mark[i]);
}

static void mark(uv_handle_t *h) {
  for (int i = 0; i < 4; i++) h->u.reserved[i] = g_mark[i];
}

static void marked_timer_cb(uv_timer_t *t) {
  assert_marked((uv_handle_t *)t);
  trace_log_line(&F->log, "timer ctx=%s", ctx_now());
  if (++F->count < 2) uvotel_timer_start(t, marked_timer_cb, 0, 0);
}

static void marked_check_cb(uv_check_t *h) {
  assert_marked((uv_handle_t *)h);
  trace_log_line(&F->log, "check ctx=%s", ctx_now());
  uvotel_check_stop(h);
  uv_idle_stop(&F->idle);
}

static void marked_idle_cb(uv_idle_t *h) {
  assert_marked((uv_handle_t *)h);
  uvotel_idle_stop(h);
}

static void test_program_data_in_reserved_survives(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uv_check_init(&f->loop, &f->check);
  uv_idle_init(&f->loop, &f->idle);
  uv_idle_t idle2;
  uv_idle_init(&f->loop, &idle2);
  mark((uv_handle_t *)&f->t1);
  mark((uv_handle_t *)&f->check);
  mark((uv_handle_t *)&idle2);
  uvotel_scope_t s;
  uvotel_var_enter(f->var, (void *)"G", &s);
  assert_int_equal(uvotel_timer_start(&f->t1, marked_timer_cb, 0, 0), 0);
  assert_int_equal(uvotel_check_start(&f->check, marked_check_cb), 0);
  assert_int_equal(uvotel_idle_start(&idle2, marked_idle_cb), 0);
  uvotel_scope_exit(&s);
  uv_idle_start(&f->idle, noop_idle);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_marked((uv_handle_t *)&f->t1);
  assert_marked((uv_handle_t *)&f->check);
  assert_marked((uv_handle_t *)&idle2);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->check, NULL);
  uvotel_close((uv_handle_t *)&idle2, NULL);
  uv_close((uv_handle_t *)&f->idle, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\ninit %3 Immediate 1\ninit %4 IDLE 1\nbefore %2\ntimer ctx=G\n"
      "after %2\nbefore %2\ntimer ctx=G\nafter %2\nbefore %4\nafter %4\ndestroy %2\n"
      "destroy %4\nbefore %3\ncheck ctx=G\nafter %3\ndestroy %3\n",
      b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- a callback starting another handle is not re-arming its own ---- */

static void other_cb(uv_timer_t *t) {
  (void)t;
  trace_log_line(&F->log, "t2 ctx=%s", ctx_now());
}

static void starts_other_cb(uv_timer_t *t) {
  (void)t;
  trace_log_line(&F->log, "t1");
  uvotel_scope_t s;
  uvotel_var_enter(F->var, (void *)"in-t1", &s);
  uvotel_timer_start(&F->t2, other_cb, 0, 0); /* t2 is running: a new Timeout */
  uvotel_timer_stop(t);                       /* its own, from the callback */
  uvotel_timer_start(t, other_cb, 5, 0);      /* stopped, then started: a new Timeout */
  uvotel_scope_exit(&s);
}

static void test_callback_touching_other_handles(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uv_timer_init(&f->loop, &f->t2);
  assert_int_equal(uvotel_timer_start(&f->t2, other_cb, 1000, 0), 0);
  assert_int_equal(uvotel_timer_start(&f->t1, starts_other_cb, 0, 0), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->t2, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\ninit %3 Timeout 1\nbefore %3\nt1\ninit %4 Timeout %3\n"
      "init %5 Timeout %3\nafter %3\nbefore %4\nt2 ctx=in-t1\nafter %4\ndestroy %2\n"
      "destroy %3\ndestroy %4\nbefore %5\nt2 ctx=in-t1\nafter %5\ndestroy %5\n",
      b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- a nested loop run inside a callback ---- */

static void inner_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "inner %d", ++F->inner_count);
  if (F->inner_count < 2) uvotel_timer_start(t, inner_cb, 0, 0); /* its own: same Timeout */
}

static void outer_cb(uv_timer_t *t) {
  trace_log_line(&F->log, "outer %d", ++F->count);
  if (F->count == 1) {
    uv_timer_init(&F->inner, &F->ti);
    uvotel_timer_start(&F->ti, inner_cb, 0, 0);
    uv_run(&F->inner, UV_RUN_DEFAULT);
    /* back in the outer callback: re-arming its own handle still continues its Timeout */
    uvotel_timer_start(t, outer_cb, 0, 0);
  }
}

static void test_nested_loop_in_callback(void **state) {
  fixture_t *f = *state;
  uvotel_async_id_t b = next_id() - 2;
  uv_loop_init(&f->inner);
  uv_timer_init(&f->loop, &f->t1);
  assert_int_equal(uvotel_timer_start(&f->t1, outer_cb, 0, 0), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uvotel_close((uv_handle_t *)&f->ti, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_run(&f->inner, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_loop_close(&f->inner), 0);
  assert_int_equal(uv_loop_close(&f->inner), 0);
  /* The inner loop becomes this thread's delivery loop while it runs (it is the loop the thread
   * turned to), so the inner Timeout's destroy comes in its check phase, inside outer 1. */
  expect_log(
      "init %2 Timeout 1\nbefore %2\nouter 1\ninit %3 Timeout %2\nbefore %3\ninner 1\n"
      "after %3\nbefore %3\ninner 2\nafter %3\ndestroy %3\nafter %2\nbefore %2\nouter 2\n"
      "after %2\ndestroy %2\n",
      b);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- the context scope that does not count ----
 * A variable whose value counts its retains and releases: the mapping holding it releases it
 * when the mapping dies, so the counts show whether a mapping was freed early or leaked. */
static int g_retains, g_releases;

static void val_retain(void *v) {
  (void)v;
  g_retains++;
}

static void val_release(void *v) {
  (void)v;
  g_releases++;
}

static const uvotel_value_ops_t counted_ops = {val_retain, val_release};
static uvotel_var_t *g_counted;

static void destroys_itself_cb(uv_timer_t *t) {
  /* The resource captured the mapping that is current at the top level (the same pointer), so
   * the scope did not count it: destroying the resource drops the resource's reference, and
   * the mapping must still be alive (held by the top-level scope). */
  uvotel_timer_stop(t);
  trace_log_line(&F->log, "after stop value=%s live=%d", (const char *)uvotel_var_get(g_counted),
                 g_retains - g_releases);
  uvotel_scope_t s;
  uvotel_var_enter(g_counted, (void *)"inner", &s);
  trace_log_line(&F->log, "entered value=%s", (const char *)uvotel_var_get(g_counted));
  uvotel_scope_exit(&s);
  trace_log_line(&F->log, "exited value=%s live=%d", (const char *)uvotel_var_get(g_counted),
                 g_retains - g_releases);
}

static void test_callback_destroying_its_resource_in_current_context(void **state) {
  fixture_t *f = *state;
  g_retains = g_releases = 0;
  g_counted = uvotel_var_create("counted", NULL, &counted_ops);
  uvotel_async_id_t b = next_id() - 2;
  uv_timer_init(&f->loop, &f->t1);
  uvotel_scope_t s;
  uvotel_var_enter(g_counted, (void *)"top", &s);
  assert_int_equal(uvotel_timer_start(&f->t1, destroys_itself_cb, 0, 0), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* inside the scope: the timer's context is current */
  assert_string_equal((const char *)uvotel_var_get(g_counted), "top");
  assert_int_equal(g_retains - g_releases, 1); /* the top-level mapping, nothing else */
  uvotel_scope_exit(&s);
  assert_int_equal(g_retains - g_releases, 0);
  assert_null(uvotel_var_get(g_counted));
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  expect_log(
      "init %2 Timeout 1\nbefore %2\nafter stop value=top live=1\nentered value=inner\n"
      "exited value=top live=1\nafter %2\ndestroy %2\n",
      b);
  uvotel_var_free(g_counted);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

static void count_cb(uv_timer_t *t) {
  if (++F->count < 10000) uvotel_timer_start(t, count_cb, 0, 0);
  if (F->count == 5000) uvotel_timer_stop(t); /* its resource ends inside the callback */
  if (F->count == 5000) uvotel_timer_start(t, count_cb, 0, 0);
}

/* Many callbacks in the current context, re-armed, stopped and restarted from inside: every
 * mapping the callbacks saw is released once the scope and the timer are gone. */
static void test_uncounted_scope_balances(void **state) {
  fixture_t *f = *state;
  g_retains = g_releases = 0;
  g_counted = uvotel_var_create("counted", NULL, &counted_ops);
  uv_timer_init(&f->loop, &f->t1);
  uvotel_scope_t s;
  uvotel_var_enter(g_counted, (void *)"top", &s);
  assert_int_equal(uvotel_timer_start(&f->t1, count_cb, 0, 0), 0);
  size_t allocs = counting_alloc_stats().allocs;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(F->count, 10000);
  assert_int_equal(counting_alloc_stats().allocs, allocs);
  assert_int_equal(g_retains - g_releases, 1);
  uvotel_scope_exit(&s);
  assert_int_equal(g_retains - g_releases, 0);
  uvotel_close((uv_handle_t *)&f->t1, NULL);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_var_free(g_counted);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handle_fields_a_program_reads_unchanged, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_program_data_in_reserved_survives, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback_touching_other_handles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nested_loop_in_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback_destroying_its_resource_in_current_context,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_uncounted_scope_balances, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
