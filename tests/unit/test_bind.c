/* Bound callbacks (uvotel/bind.h) and the AsyncLocalStorage.exit / disable analogues
 * (uvotel_var_exit_run, uvotel_var_enter_unset, uvotel_var_disable). The event sequences are
 * those of tests/node/bind.js under node-trace.js. */
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

static uvotel_var_t *g_var;
static long g_live_at_start;
static trace_log_t *g_log;

static int setup(void **state) {
  (void)state;
  g_var = uvotel_var_create("store", "default", NULL);
  assert_non_null(g_var);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uvotel_var_free(g_var);
  uvotel_flush_destroys();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live_at_start);
  return 0;
}

static void *report(void *arg, void *call_arg) {
  const char *who = arg;
  if (g_log) {
    trace_log_line(g_log, "%s %s sees %s (exec %llu)", who, call_arg ? (char *)call_arg : "-",
                   (char *)uvotel_var_get(g_var), (unsigned long long)uvotel_execution_async_id());
  }
  return (void *)uvotel_var_get(g_var);
}

static void *make_listener(void *arg) {
  return uvotel_bind(report, arg, 0);
}

/* Snapshot.wrap / AsyncLocalStorage.bind: the call sees the bind-time context, then the caller's
 * context is back. */
static void test_bind_snapshot(void **state) {
  (void)state;
  uvotel_bound_t *b = uvotel_var_run(g_var, "conn-a", make_listener, "listener");
  assert_non_null(b);
  assert_string_equal(uvotel_var_get(g_var), "default");
  assert_string_equal(uvotel_bound_call(b, NULL), "conn-a");
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "conn-b", &sc), 0);
  assert_string_equal(uvotel_bound_call(b, NULL), "conn-a");
  assert_string_equal(uvotel_var_get(g_var), "conn-b");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_bound_free(b);
  /* bound at the top level: the root context, whatever the caller has */
  b = uvotel_bind(report, "top", 0);
  assert_non_null(b);
  assert_int_equal(uvotel_var_enter(g_var, "conn-c", &sc), 0);
  assert_string_equal(uvotel_bound_call(b, NULL), "default");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_bound_free(b);
}

/* Node's k_naive case: one emitter, listeners of two connections; without bind the listener
 * sees the emitter's context, with bind each sees its own connection. */
typedef struct conn_s {
  const char *name;
  uvotel_bound_t *bound;
} conn_t;

static void *register_conn(void *arg) {
  conn_t *c = arg;
  c->bound = uvotel_bind(report, (void *)c->name, 0);
  return NULL;
}

static void test_bind_k_naive(void **state) {
  (void)state;
  conn_t conns[2] = {{"conn-a", NULL}, {"conn-b", NULL}};
  for (int i = 0; i < 2; i++)
    uvotel_var_run(g_var, (void *)conns[i].name, register_conn, &conns[i]);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "emitter", &sc), 0);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 2; i++) {
      assert_string_equal(uvotel_bound_call(conns[i].bound, NULL), conns[i].name);
    }
  }
  assert_string_equal(uvotel_var_get(g_var), "emitter");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  for (int i = 0; i < 2; i++) uvotel_bound_free(conns[i].bound);
}

static void *make_resource_listener(void *arg) {
  return uvotel_bind(report, arg, UVOTEL_BIND_RESOURCE);
}

/* AsyncResource.bind(fn): tests/node/bind.js gives
 *   INIT (bound-anonymous-fn) (triggerAsyncId=1), then BEFORE/AFTER around each call. */
static void test_bind_resource_events(void **state) {
  (void)state;
  trace_log_t log;
  trace_log_start(&log);
  g_log = &log;
  uvotel_bound_t *b = uvotel_var_run(g_var, "conn-a", make_resource_listener, "listener");
  assert_non_null(b);
  trace_log_line(&log, "top sees %s", (char *)uvotel_var_get(g_var));
  uvotel_bound_call(b, "call1");
  uvotel_bound_call(b, "call2");
  uvotel_bound_free(b);
  uvotel_flush_destroys();
  g_log = NULL;
  trace_log_stop(&log);
  const char *text = trace_log_text(&log);
  /* the id is whatever the process gave; find it from the init line */
  unsigned long long id = 0;
  assert_int_equal(sscanf(text, "init %llu bound-anonymous-fn 1", &id), 1);
  char want[512];
  snprintf(want, sizeof want,
           "init %llu bound-anonymous-fn 1\n"
           "top sees default\n"
           "before %llu\n"
           "listener call1 sees conn-a (exec %llu)\n"
           "after %llu\n"
           "before %llu\n"
           "listener call2 sees conn-a (exec %llu)\n"
           "after %llu\n"
           "destroy %llu\n",
           id, id, id, id, id, id, id, id);
  assert_string_equal(text, want);
  trace_log_free(&log);
}

/* asyncResource.bind(fn): an existing resource's scope and captured context. */
static void test_bind_to_resource(void **state) {
  (void)state;
  uvotel_resource_t r;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "at-init", &sc), 0);
  assert_int_equal(uvotel_resource_init(&r, "MyResource", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_bound_t *b = uvotel_bind_to_resource(&r, report, "res");
  assert_non_null(b);
  assert_string_equal(uvotel_bound_call(b, NULL), "at-init");
  uvotel_bound_free(b); /* the resource is the caller's: not destroyed */
  assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
}

static void *leave_open(void *arg, void *call_arg) {
  (void)call_arg;
  static uvotel_scope_t leaked;
  assert_int_equal(uvotel_var_enter(g_var, arg, &leaked), 0);
  return uvotel_var_get(g_var);
}

static void test_bind_closes_scopes(void **state) {
  (void)state;
  uvotel_bound_t *b = uvotel_bind(leave_open, "inner", 0);
  assert_string_equal(uvotel_bound_call(b, NULL), "inner");
  assert_string_equal(uvotel_var_get(g_var), "default");
  uvotel_bound_free(b);
  b = uvotel_bind(leave_open, "inner2", UVOTEL_BIND_RESOURCE);
  assert_string_equal(uvotel_bound_call(b, NULL), "inner2");
  assert_string_equal(uvotel_var_get(g_var), "default");
  uvotel_bound_free(b);
}

static void test_bind_bad_input(void **state) {
  (void)state;
  assert_null(uvotel_bind(NULL, NULL, 0));
  assert_null(uvotel_bind(report, NULL, 0x8));
  assert_null(uvotel_bind_to_resource(NULL, report, NULL));
  uvotel_resource_t r;
  assert_int_equal(uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_null(uvotel_bind_to_resource(&r, NULL, NULL));
  assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
  assert_null(uvotel_bound_call(NULL, NULL));
  uvotel_bound_free(NULL);
  /* out of memory: NULL, nothing leaked (teardown checks) */
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_bind(report, NULL, 0));
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_bind(report, NULL, UVOTEL_BIND_RESOURCE));
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_bind_to_resource(&r, report, NULL));
  counting_alloc_fail_after(0, 0);
}

/* ---- AsyncLocalStorage.exit / disable ---- */

static void *get_var(void *arg) {
  (void)arg;
  return uvotel_var_get(g_var);
}

static void *exit_inside(void *arg) {
  (void)arg;
  return uvotel_var_exit_run(g_var, get_var, NULL);
}

static void test_var_exit(void **state) {
  (void)state;
  /* tests/node/bind.js: als.run('x', () => als.exit(() => als.getStore())) is undefined; the C
   * variable's "undefined" is its default value, not NULL */
  assert_string_equal(uvotel_var_run(g_var, "x", exit_inside, NULL), "default");
  assert_string_equal(uvotel_var_exit_run(g_var, get_var, NULL), "default"); /* not set: same */
  /* other variables stay */
  uvotel_var_t *other = uvotel_var_create("other", NULL, NULL);
  uvotel_scope_t s1, s2, s3;
  assert_int_equal(uvotel_var_enter(other, "o", &s1), 0);
  assert_int_equal(uvotel_var_enter(g_var, "x", &s2), 0);
  assert_int_equal(uvotel_var_enter_unset(g_var, &s3), 0);
  assert_string_equal(uvotel_var_get(g_var), "default");
  assert_string_equal(uvotel_var_get(other), "o");
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();     /* a callback registered here */
  assert_int_equal(uvotel_scope_exit(&s2), UVOTEL_EINVAL); /* out of order: nothing changes */
  assert_int_equal(uvotel_scope_exit(&s3), 0);
  assert_string_equal(uvotel_var_get(g_var), "x");
  assert_string_equal(uvotel_snapshot_get(snap, g_var), "default");
  assert_string_equal(uvotel_snapshot_get(snap, other), "o");
  uvotel_snapshot_release(snap);
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  uvotel_var_free(other);
  /* bad input and out of memory */
  assert_null(uvotel_var_exit_run(NULL, get_var, NULL));
  assert_null(uvotel_var_exit_run(g_var, NULL, NULL));
  assert_int_equal(uvotel_var_enter_unset(NULL, &s1), UVOTEL_EINVAL);
  assert_int_equal(uvotel_var_enter_unset(g_var, NULL), UVOTEL_EINVAL);
  uvotel_var_t *third = uvotel_var_create("third", NULL, NULL);
  assert_int_equal(uvotel_var_enter(third, "t", &s1), 0);
  assert_int_equal(uvotel_var_enter(g_var, "x", &s2), 0);
  counting_alloc_fail_after(0, 1000);
  uvotel_thread_cleanup(); /* no pooled block to fall back on */
  assert_int_equal(uvotel_var_enter_unset(g_var, &s3), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
  assert_string_equal(uvotel_var_get(g_var), "x");
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  uvotel_var_free(third);
}

static int g_held; /* references the contexts hold on values of the counted variable */
static void count_retain(void *v) {
  (void)v;
  g_held++;
}
static void count_release(void *v) {
  (void)v;
  g_held--;
}
static const uvotel_value_ops_t counting_ops = {.retain = count_retain, .release = count_release};

static void test_var_disable(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("disabled", "dflt", &counting_ops);
  g_held = 0;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(v, "before", &sc), 0);
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  uvotel_var_disable(v);
  assert_string_equal(uvotel_var_get(v), "dflt");
  assert_string_equal(uvotel_snapshot_get(snap, v), "dflt");
  /* a later run/enter sets it again */
  uvotel_scope_t s2;
  assert_int_equal(uvotel_var_enter(v, "after", &s2), 0);
  assert_string_equal(uvotel_var_get(v), "after");
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_string_equal(uvotel_var_get(v), "dflt");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(g_held, 1); /* "before", still held by the snapshot's mapping */
  uvotel_snapshot_release(snap);
  assert_int_equal(g_held, 0);
  uvotel_var_disable(NULL);
  uvotel_var_free(v);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  g_live_at_start = counting_alloc_stats().live;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bind_snapshot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_k_naive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_resource_events, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_to_resource, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_closes_scopes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bind_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_var_exit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_var_disable, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
