/* Async handles: ASYNC resources, the sender's context across threads, coalescing, close. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static void closed_cb(uv_handle_t *h) {
  (void)h;
  trace_log_line(&g_log, "closed ctx=%s", (const char *)uvotel_var_get(g_var));
}

/* ---- sends from the loop thread coalesce: the first sender's context wins ---- */

static void coalesce_cb(uv_async_t *h) {
  trace_log_line(&g_log, "async cb ctx=%s", (const char *)uvotel_var_get(g_var));
  assert_ptr_equal(uvotel_execution_async_resource(), h);
  uvotel_close((uv_handle_t *)h, closed_cb); /* closed inside its own callback */
}

static void test_coalesced_first_sender(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_async_t a;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "init", &sc), 0);
  assert_int_equal(uvotel_async_init(g_loop, &a, coalesce_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_var_enter(g_var, "first", &sc), 0);
  assert_int_equal(uvotel_async_send(&a), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_var_enter(g_var, "second", &sc), 0);
  assert_int_equal(uvotel_async_send(&a), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 ASYNC 1\n"
               "before 2\n"
               "async cb ctx=first\n"
               "after 2\n"
               "before 2\n"
               "closed ctx=first\n"
               "after 2\n"
               "destroy 2\n");
}

/* ---- a send with nothing pending to take runs in the context of uvotel_async_init ---- */

static int g_runs;
static void plain_cb(uv_async_t *h) {
  trace_log_line(&g_log, "async cb ctx=%s", (const char *)uvotel_var_get(g_var));
  if (++g_runs == 2) uvotel_close((uv_handle_t *)h, NULL);
}

static void test_send_context_then_init_context(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_async_t a;
  uvotel_scope_t sc;
  g_runs = 0;
  assert_int_equal(uvotel_var_enter(g_var, "init", &sc), 0);
  assert_int_equal(uvotel_async_init(g_loop, &a, plain_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_async_send(&a), 0); /* empty context: runs in the empty context */
  assert_int_not_equal(uv_run(g_loop, UV_RUN_ONCE), 0); /* the handle is still open */
  assert_int_equal(uv_async_send(&a), 0); /* raw send: no sender context, the init context */
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 ASYNC 1\n"
               "before 2\n"
               "async cb ctx=(null)\n"
               "after 2\n"
               "before 2\n"
               "async cb ctx=init\n"
               "after 2\n"
               "destroy 2\n");
}

/* ---- sends from other threads, each in its own context (TSan) ---- */

#define THREADS 4
#define SENDS 200

static struct {
  uv_async_t async;
  uv_sem_t ack;
  int received[THREADS];
  int bad;
  int total;
} g_x;

static int g_ids[THREADS];

static void cross_cb(uv_async_t *h) {
  (void)h;
  int *id = uvotel_var_get(g_var);
  if (id == NULL || *id < 0 || *id >= THREADS) {
    g_x.bad++;
  } else {
    g_x.received[*id]++;
  }
  g_x.total++;
  if (g_x.total == THREADS * SENDS) uvotel_close((uv_handle_t *)&g_x.async, NULL);
  uv_sem_post(&g_x.ack);
}

static void *send_in_context(void *arg) {
  (void)arg;
  assert_int_equal(uvotel_async_send(&g_x.async), 0);
  return NULL;
}

static uv_mutex_t g_turn; /* one sender at a time, so no send coalesces with another */

static void sender(void *arg) {
  int *id = arg;
  for (int i = 0; i < SENDS; i++) {
    uv_mutex_lock(&g_turn);
    uvotel_var_run(g_var, id, send_in_context, NULL);
    uv_sem_wait(&g_x.ack);
    uv_mutex_unlock(&g_turn);
  }
  uvotel_thread_cleanup();
}

static void test_cross_thread_context(void **state) {
  (void)state;
  memset(&g_x, 0, sizeof g_x);
  assert_int_equal(uv_sem_init(&g_x.ack, 0), 0);
  assert_int_equal(uv_mutex_init(&g_turn), 0);
  assert_int_equal(uvotel_async_init(g_loop, &g_x.async, cross_cb), 0);
  uv_thread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    g_ids[i] = i;
    assert_int_equal(uv_thread_create(&th[i], sender, &g_ids[i]), 0);
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  for (int i = 0; i < THREADS; i++) assert_int_equal(uv_thread_join(&th[i]), 0);
  assert_int_equal(g_x.bad, 0);
  for (int i = 0; i < THREADS; i++) assert_int_equal(g_x.received[i], SENDS);
  uv_sem_destroy(&g_x.ack);
  uv_mutex_destroy(&g_turn);
}

/* ---- the implicit form: callbacks in the root context, sends capture nothing ---- */

static void implicit_cb(uv_async_t *h) {
  trace_log_line(&g_log, "async cb ctx=%s", (const char *)uvotel_var_get(g_var));
  uvotel_close((uv_handle_t *)h, NULL);
}

static void test_implicit_root_context(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_async_t a;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "init", &sc), 0);
  assert_int_equal(uvotel_implicit_async_init(g_loop, &a, implicit_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_var_enter(g_var, "sender", &sc), 0);
  assert_int_equal(uvotel_async_send(&a), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 ASYNC 1\n"
               "before 2\n"
               "async cb ctx=(null)\n"
               "after 2\n"
               "destroy 2\n");
}

/* ---- a loop set up on this thread and run on another; sends from a third (TSan) ---- */

static struct {
  uv_async_t async;
  uv_timer_t timer;
  const char *timer_ctx, *async_ctx;
  int timer_runs, async_runs, closed;
} g_y;

static void y_closed(uv_handle_t *h) {
  (void)h;
  g_y.closed++;
}

static void y_timer(uv_timer_t *t) {
  g_y.timer_runs++;
  g_y.timer_ctx = uvotel_var_get(g_var);
  uvotel_close((uv_handle_t *)t, y_closed);
}

static void y_async(uv_async_t *a) {
  g_y.async_runs++;
  g_y.async_ctx = uvotel_var_get(g_var);
  uvotel_close((uv_handle_t *)a, y_closed);
}

static void y_run(void *arg) {
  (void)arg;
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  uvotel_thread_cleanup();
}

static void *y_send_in_context(void *arg) {
  (void)arg;
  assert_int_equal(uvotel_async_send(&g_y.async), 0);
  return NULL;
}

static void y_send(void *arg) {
  uvotel_var_run(g_var, arg, y_send_in_context, NULL);
  uvotel_thread_cleanup();
}

static void test_loop_run_on_another_thread(void **state) {
  (void)state;
  memset(&g_y, 0, sizeof g_y);
  trace_log_start(&g_log); /* tracking on; this thread's hook sees this thread's events */
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "set-up", &sc), 0);
  assert_int_equal(uvotel_async_init(g_loop, &g_y.async, y_async), 0);
  assert_int_equal(uv_timer_init(g_loop, &g_y.timer), 0);
  assert_int_equal(uvotel_timer_start(&g_y.timer, y_timer, 1, 0), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_uv_tracked(), 2);
  uv_thread_t runner, sender_th;
  assert_int_equal(uv_thread_create(&sender_th, y_send, (void *)"sender"), 0);
  assert_int_equal(uv_thread_join(&sender_th), 0); /* the send is pending before the run */
  assert_int_equal(uv_thread_create(&runner, y_run, NULL), 0);
  assert_int_equal(uv_thread_join(&runner), 0);
  /* Every callback ran, on the runner, in the context it should have. */
  assert_int_equal(g_y.timer_runs, 1);
  assert_int_equal(g_y.async_runs, 1);
  assert_int_equal(g_y.closed, 2);
  assert_string_equal(g_y.timer_ctx, "set-up");
  assert_string_equal(g_y.async_ctx, "sender");
  assert_int_equal(uvotel_uv_tracked(), 0);
  /* The loop is the runner's now: a destroy raised here must not arm its handles from this
   * thread; it is delivered at once. */
  uvotel_resource_t r;
  assert_int_equal(uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
  assert_int_equal(uvotel_pending_destroys(), 0);
  char want[64];
  snprintf(want, sizeof want, "destroy %llu\n", (unsigned long long)uvotel_resource_async_id(&r));
  assert_non_null(strstr(trace_log_text(&g_log), want));
}

static void test_bad_input(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_async_t a;
  /* a NULL callback is legal in libuv: passes through untracked */
  assert_int_equal(uvotel_async_init(g_loop, &a, NULL), 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_int_equal(uvotel_async_send(&a), 0);
  uvotel_close((uv_handle_t *)&a, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_string_equal(trace_log_text(&g_log), "");
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("async", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_coalesced_first_sender, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_context_then_init_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cross_thread_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_implicit_root_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loop_run_on_another_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
