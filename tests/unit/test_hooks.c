/* Async hooks: ids, the execution stack, hook registration and dispatch, custom resources, the
 * destroy queue and loop attachment. One test per rule of DESIGN.md "Async hooks". */
#include <pthread.h>
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

static long g_live_at_start;

/* Must run first: nothing else in this process has created a resource yet. */
static void test_top_level_and_first_id(void **state) {
  (void)state;
  assert_int_equal(uvotel_execution_async_id(), 1);
  assert_int_equal(uvotel_trigger_async_id(), 0);
  assert_null(uvotel_execution_async_resource());
  uvotel_resource_t r;
  assert_int_equal(uvotel_resource_init(&r, "FIRST", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_int_equal(uvotel_resource_async_id(&r), 2);
  assert_int_equal(uvotel_resource_trigger_async_id(&r), 1);
  uvotel_resource_t r2;
  assert_int_equal(uvotel_resource_init(&r2, "SECOND", 0, 0), 0);
  assert_int_equal(uvotel_resource_async_id(&r2), 3); /* ids increase */
  uvotel_resource_emit_destroy(&r);
  uvotel_resource_unref(&r2);
}

typedef struct nest_s {
  uvotel_resource_t *inner;
  uvotel_async_id_t seen_id, seen_trigger, seen_inner_trigger;
  void *seen_resource;
  trace_log_t *log;
} nest_t;

static void *inner_fn(void *arg) {
  nest_t *n = arg;
  trace_log_line(n->log, "inner runs as %llu", (unsigned long long)uvotel_execution_async_id());
  return NULL;
}

static void *outer_fn(void *arg) {
  nest_t *n = arg;
  n->seen_id = uvotel_execution_async_id();
  n->seen_trigger = uvotel_trigger_async_id();
  n->seen_resource = uvotel_execution_async_resource();
  /* A resource created here is triggered by the running one. */
  assert_int_equal(uvotel_resource_init(n->inner, "INNER", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  n->seen_inner_trigger = uvotel_resource_trigger_async_id(n->inner);
  uvotel_resource_run(n->inner, inner_fn, n);
  trace_log_line(n->log, "outer continues as %llu",
                 (unsigned long long)uvotel_execution_async_id());
  return (void *)0x1234;
}

static void test_trigger_and_nesting(void **state) {
  (void)state;
  trace_log_t log;
  trace_log_start(&log);
  uvotel_resource_t outer, inner;
  int owner;
  assert_int_equal(
      uvotel_resource_init_owner(&outer, "OUTER", 0, UVOTEL_RESOURCE_MANUAL_DESTROY, &owner), 0);
  nest_t n = {.inner = &inner, .log = &log};
  assert_ptr_equal(uvotel_resource_run(&outer, outer_fn, &n), (void *)0x1234);
  uvotel_async_id_t o = uvotel_resource_async_id(&outer), i = uvotel_resource_async_id(&inner);
  assert_int_equal(n.seen_id, o);
  assert_int_equal(n.seen_trigger, 1);
  assert_ptr_equal(n.seen_resource, &owner);
  assert_int_equal(n.seen_inner_trigger, o);
  /* Back at the top level. */
  assert_int_equal(uvotel_execution_async_id(), 1);
  assert_int_equal(uvotel_trigger_async_id(), 0);
  uvotel_resource_emit_destroy(&inner);
  uvotel_resource_emit_destroy(&outer);
  char want[512];
  snprintf(want, sizeof want,
           "init %llu OUTER 1\nbefore %llu\ninit %llu INNER %llu\nbefore %llu\n"
           "inner runs as %llu\nafter %llu\nouter continues as %llu\nafter %llu\n"
           "destroy %llu\ndestroy %llu\n",
           (unsigned long long)o, (unsigned long long)o, (unsigned long long)i,
           (unsigned long long)o, (unsigned long long)i, (unsigned long long)i,
           (unsigned long long)i, (unsigned long long)o, (unsigned long long)o,
           (unsigned long long)i, (unsigned long long)o);
  /* No loop attached on this thread: destroys are delivered at once. */
  assert_string_equal(trace_log_text(&log), want);
  trace_log_free(&log);
}

static void test_explicit_trigger(void **state) {
  (void)state;
  uvotel_resource_t r;
  assert_int_equal(uvotel_resource_init(&r, "T", 77, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_int_equal(uvotel_resource_trigger_async_id(&r), 77);
  uvotel_resource_emit_destroy(&r);
}

static void test_destroy_exactly_once(void **state) {
  (void)state;
  trace_log_t log;
  trace_log_start(&log);
  uvotel_resource_t m, a;
  uvotel_resource_init(&m, "M", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  assert_int_equal(uvotel_resource_emit_destroy(&m), 0);
  assert_int_equal(uvotel_resource_emit_destroy(&m), UVOTEL_ESTATE);
  uvotel_resource_unref(&m); /* no-op on manual */
  /* Automatic: refs, and the last unref destroys; more unrefs are no-ops. */
  uvotel_resource_init(&a, "A", 0, 0);
  uvotel_resource_ref(&a);
  uvotel_resource_unref(&a);
  assert_int_equal(uvotel_resource_emit_destroy(&a), 0); /* explicit destroy also allowed */
  uvotel_resource_unref(&a);
  uvotel_resource_unref(&a);
  assert_int_equal(uvotel_resource_emit_destroy(&a), UVOTEL_ESTATE);
  /* Running a destroyed resource runs nothing. */
  assert_null(uvotel_resource_run(&a, inner_fn, NULL));
  char want[256];
  uvotel_async_id_t mi = uvotel_resource_async_id(&m), ai = uvotel_resource_async_id(&a);
  snprintf(want, sizeof want, "init %llu M 1\ndestroy %llu\ninit %llu A 1\ndestroy %llu\n",
           (unsigned long long)mi, (unsigned long long)mi, (unsigned long long)ai,
           (unsigned long long)ai);
  assert_string_equal(trace_log_text(&log), want);
  trace_log_free(&log);
}

/* ---- order of hooks, and changes while dispatching ---- */

typedef struct order_s {
  trace_log_t *log;
  const char *name;
  uvotel_hook_t *other; /* enabled or disabled from this hook's before callback */
  int enable_other, disable_other, free_self;
  uvotel_hook_t *self;
} order_t;

static void order_before(uvotel_async_id_t id, void *arg) {
  order_t *o = arg;
  trace_log_line(o->log, "%s before %llu", o->name, (unsigned long long)id);
  if (o->enable_other) {
    assert_int_equal(uvotel_hook_enable(o->other), 0);
    o->enable_other = 0;
  }
  if (o->disable_other) {
    assert_int_equal(uvotel_hook_disable(o->other), 0);
    o->disable_other = 0;
  }
  if (o->free_self) {
    o->free_self = 0;
    uvotel_hook_free(o->self); /* deferred to the end of this dispatch */
  }
}

static void order_after(uvotel_async_id_t id, void *arg) {
  order_t *o = arg;
  trace_log_line(o->log, "%s after %llu", o->name, (unsigned long long)id);
}

static void *noop_fn(void *arg) {
  (void)arg;
  return NULL;
}

/* With no hook enabled, uvotel_resource_emit_destroy (inline from uvotel/fast.h) releases the
 * captured context once, exactly as the exported function: the value's release runs when the
 * last holder goes, a second destroy answers UVOTEL_ESTATE, NULL UVOTEL_EINVAL; the same through
 * the exported symbol. */
static int g_val_retains, g_val_releases;
static void val_retain(void *v) {
  (void)v;
  g_val_retains++;
}
static void val_release(void *v) {
  (void)v;
  g_val_releases++;
}
static const uvotel_value_ops_t g_val_ops = {val_retain, val_release};

static void test_destroy_without_hooks(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("d", NULL, &g_val_ops);
  assert_non_null(v);
  for (int exported = 0; exported < 2; exported++) {
    g_val_retains = g_val_releases = 0;
    uvotel_resource_t r, e;
    uvotel_scope_t sc;
    assert_int_equal(uvotel_var_enter(v, &g_val_retains, &sc), 0);
    assert_int_equal(uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
    assert_int_equal(uvotel_scope_exit(&sc), 0); /* the resource holds the mapping now */
    assert_int_equal(uvotel_resource_init(&e, "E", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
    assert_int_equal(g_val_releases, 0);
    if (exported) {
      assert_int_equal((uvotel_resource_emit_destroy)(&r), 0);
      assert_int_equal((uvotel_resource_emit_destroy)(&r), UVOTEL_ESTATE);
      assert_int_equal((uvotel_resource_emit_destroy)(&e), 0); /* the empty context */
    } else {
      assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
      assert_int_equal(uvotel_resource_emit_destroy(&r), UVOTEL_ESTATE);
      assert_int_equal(uvotel_resource_emit_destroy(&e), 0);
    }
    assert_int_equal(g_val_releases, g_val_retains);
    assert_true(g_val_releases >= 1);
    assert_int_equal(uvotel_resource_emit_destroy(NULL), UVOTEL_EINVAL);
    assert_int_equal(uvotel_resource_emit_destroy(&e), UVOTEL_ESTATE);
  }
  uvotel_var_free(v);
}

static void test_hooks_run_in_enable_order(void **state) {
  (void)state;
  trace_log_t log = {0};
  order_t a = {&log, "a", NULL, 0, 0, 0, NULL}, b = {&log, "b", NULL, 0, 0, 0, NULL};
  order_t c = {&log, "c", NULL, 0, 0, 0, NULL};
  uvotel_hook_callbacks_t cbs = {.before = order_before, .after = order_after};
  uvotel_hook_t *hb = uvotel_hook_create(&cbs, &b), *ha = uvotel_hook_create(&cbs, &a);
  uvotel_hook_t *hc = uvotel_hook_create(&cbs, &c);
  /* Enable order b, c, a: that is the call order, whatever the creation order. */
  assert_int_equal(uvotel_hook_enable(hb), 0);
  assert_int_equal(uvotel_hook_enable(hc), 0);
  assert_int_equal(uvotel_hook_enable(ha), 0);
  assert_int_equal(uvotel_hook_enable(ha), 0); /* enabling twice: no-op, no second call */
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_run(&r, noop_fn, NULL);
  char want[256];
  uvotel_async_id_t id = uvotel_resource_async_id(&r);
  snprintf(want, sizeof want,
           "b before %llu\nc before %llu\na before %llu\nb after %llu\nc after %llu\n"
           "a after %llu\n",
           (unsigned long long)id, (unsigned long long)id, (unsigned long long)id,
           (unsigned long long)id, (unsigned long long)id, (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  uvotel_resource_emit_destroy(&r);
  /* Disable the middle one: b, a remain in order. */
  assert_int_equal(uvotel_hook_disable(hc), 0);
  assert_int_equal(uvotel_hook_disable(hc), 0); /* disabling twice: no-op */
  log.len = 0;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_run(&r, noop_fn, NULL);
  id = uvotel_resource_async_id(&r);
  snprintf(want, sizeof want, "b before %llu\na before %llu\nb after %llu\na after %llu\n",
           (unsigned long long)id, (unsigned long long)id, (unsigned long long)id,
           (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  uvotel_resource_emit_destroy(&r);
  uvotel_hook_free(ha);
  uvotel_hook_free(hb);
  uvotel_hook_free(hc);
  trace_log_free(&log);
}

static void test_enable_disable_inside_callback(void **state) {
  (void)state;
  trace_log_t log = {0};
  order_t a = {&log, "a", NULL, 0, 0, 0, NULL}, b = {&log, "b", NULL, 0, 0, 0, NULL};
  uvotel_hook_callbacks_t cbs = {.before = order_before, .after = order_after};
  uvotel_hook_t *ha = uvotel_hook_create(&cbs, &a), *hb = uvotel_hook_create(&cbs, &b);
  a.other = hb;
  a.enable_other = 1;
  uvotel_hook_enable(ha);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_run(&r, noop_fn, NULL);
  uvotel_async_id_t id = uvotel_resource_async_id(&r);
  /* b, enabled during the before event, misses it but sees the after event. */
  char want[256];
  snprintf(want, sizeof want, "a before %llu\na after %llu\nb after %llu\n", (unsigned long long)id,
           (unsigned long long)id, (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  /* Now a disables b during before: b still gets that before (the event finishes with the
   * hooks it started with), not the after. */
  log.len = 0;
  a.disable_other = 1;
  uvotel_resource_run(&r, noop_fn, NULL);
  snprintf(want, sizeof want, "a before %llu\nb before %llu\na after %llu\n",
           (unsigned long long)id, (unsigned long long)id, (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  /* A hook freeing itself inside its own callback: deferred, then gone. */
  log.len = 0;
  a.free_self = 1;
  a.self = ha;
  uvotel_resource_run(&r, noop_fn, NULL);
  snprintf(want, sizeof want, "a before %llu\n", (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  uvotel_resource_emit_destroy(&r);
  uvotel_hook_free(hb);
  trace_log_free(&log);
}

/* ---- events raised inside a hook callback are not delivered ---- */

static uvotel_resource_t g_made_in_hook;
static int g_made;

static void reentrant_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                           void *resource, void *arg) {
  trace_log_t *log = arg;
  (void)resource;
  trace_log_line(log, "init %llu %s %llu", (unsigned long long)id, type,
                 (unsigned long long)trigger);
  if (!g_made) {
    g_made = 1;
    /* The hook does "I/O": makes and runs a resource. None of it may reach the hooks. */
    uvotel_resource_init(&g_made_in_hook, "INHOOK", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
    uvotel_resource_run(&g_made_in_hook, noop_fn, NULL);
    uvotel_resource_emit_destroy(&g_made_in_hook);
  }
}

static void log_before(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "before %llu", (unsigned long long)id);
}
static void log_destroy(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "destroy %llu", (unsigned long long)id);
}

static void test_no_events_from_inside_hooks(void **state) {
  (void)state;
  trace_log_t log = {0};
  uvotel_hook_callbacks_t cbs = {
      .init = reentrant_init, .before = log_before, .destroy = log_destroy};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, &log);
  uvotel_hook_enable(h);
  g_made = 0;
  uvotel_resource_t r;
  uvotel_resource_init(&r, "OUT", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  /* Also later: the resource made inside the hook stays invisible when run from outside. */
  assert_int_equal(uvotel_resource_emit_destroy(&g_made_in_hook), UVOTEL_ESTATE);
  uvotel_resource_t again;
  uvotel_resource_init(&again, "X", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&again);
  uvotel_resource_emit_destroy(&r);
  char want[256];
  uvotel_async_id_t id = uvotel_resource_async_id(&r), x = uvotel_resource_async_id(&again);
  snprintf(want, sizeof want, "init %llu OUT 1\ninit %llu X 1\ndestroy %llu\ndestroy %llu\n",
           (unsigned long long)id, (unsigned long long)x, (unsigned long long)x,
           (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  uvotel_hook_free(h);
  trace_log_free(&log);
}

/* ---- the destroy queue on a loop ---- */

static void test_destroy_deferred_to_check_phase(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uvotel_loop_init(&loop), 0);
  assert_int_equal(uvotel_loop_init(&loop), 0); /* idempotent */
  trace_log_t log;
  trace_log_start(&log);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  assert_int_equal(uvotel_pending_destroys(), 1);
  trace_log_line(&log, "emitted");
  /* Nothing else is on the loop: the pending destroy alone keeps it alive for one turn. */
  assert_int_equal(uv_loop_alive(&loop), 1);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_pending_destroys(), 0);
  assert_int_equal(uv_loop_alive(&loop), 0);
  char want[128];
  uvotel_async_id_t id = uvotel_resource_async_id(&r);
  snprintf(want, sizeof want, "init %llu R 1\nemitted\ndestroy %llu\n", (unsigned long long)id,
           (unsigned long long)id);
  assert_string_equal(trace_log_text(&log), want);
  trace_log_free(&log);
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static trace_log_t *g_check_log;

static void user_check_cb(uv_check_t *h) {
  trace_log_line(g_check_log, "user check");
  uvotel_check_stop(h);
  uvotel_close((uv_handle_t *)h, NULL);
}

static void test_destroys_before_user_check_callbacks(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_loop_init(&loop);
  trace_log_t log;
  trace_log_start(&log);
  g_check_log = &log;
  uv_check_t check;
  uv_check_init(&loop, &check);
  uv_timer_t keep; /* a check handle alone would let poll block: wake the loop */
  uv_timer_init(&loop, &keep);
  /* The user's check handle is started after ours was armed: libuv would run it first. */
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  uvotel_check_start(&check, user_check_cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  const char *text = trace_log_text(&log);
  const char *d = strstr(text, "destroy ");
  const char *u = strstr(text, "user check");
  assert_non_null(d);
  assert_non_null(u);
  assert_true(d < u);
  trace_log_free(&log);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uvotel_loop_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_loop_close_delivers_pending(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_loop_init(&loop);
  trace_log_t log;
  trace_log_start(&log);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  assert_null(strstr(trace_log_text(&log), "destroy"));
  assert_int_equal(uvotel_loop_close(&loop), 0); /* never ran the loop */
  assert_non_null(strstr(trace_log_text(&log), "destroy"));
  assert_int_equal(uvotel_pending_destroys(), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  trace_log_free(&log);
}

static void test_flush_destroys(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_loop_init(&loop);
  trace_log_t log;
  trace_log_start(&log);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  uvotel_flush_destroys();
  assert_non_null(strstr(trace_log_text(&log), "destroy"));
  assert_int_equal(uvotel_pending_destroys(), 0);
  trace_log_free(&log);
  uv_run(&loop, UV_RUN_DEFAULT); /* the armed handles disarm */
  uvotel_loop_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* With no destroy hook, destroys are not queued (as in Node). */
static void test_no_destroy_hook_no_queue(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_loop_init(&loop);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  assert_int_equal(uvotel_pending_destroys(), 0);
  assert_int_equal(uv_loop_alive(&loop), 0);
  uvotel_loop_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- promise_resolve, recapture ---- */

static void log_resolve(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "resolve %llu", (unsigned long long)id);
}

static void test_promise_resolve_event(void **state) {
  (void)state;
  trace_log_t log = {0};
  uvotel_hook_callbacks_t cbs = {.promise_resolve = log_resolve};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, &log);
  uvotel_hook_enable(h);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "PROMISE", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_emit_promise_resolve(&r);
  uvotel_emit_promise_resolve(NULL); /* no-op */
  uvotel_resource_emit_destroy(&r);
  uvotel_emit_promise_resolve(&r); /* destroyed: no-op */
  char want[64];
  snprintf(want, sizeof want, "resolve %llu\n", (unsigned long long)uvotel_resource_async_id(&r));
  assert_string_equal(trace_log_text(&log), want);
  uvotel_hook_free(h);
  trace_log_free(&log);
}

static void *get_var(void *arg) {
  return uvotel_var_get(arg);
}

static void test_resource_context_and_recapture(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t s;
  uvotel_resource_t r;
  assert_int_equal(uvotel_var_enter(v, (void *)"at-init", &s), 0);
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  assert_int_equal(uvotel_scope_exit(&s), 0);
  /* runInAsyncScope sees the context of the resource's creation. */
  assert_string_equal(uvotel_resource_run(&r, get_var, v), "at-init");
  assert_null(uvotel_var_get(v));
  uvotel_var_enter(v, (void *)"later", &s);
  assert_int_equal(uvotel_resource_recapture(&r), 0);
  assert_int_equal(uvotel_resource_recapture(&r), 0); /* same context: no-op */
  uvotel_scope_exit(&s);
  assert_string_equal(uvotel_resource_run(&r, get_var, v), "later");
  uvotel_resource_emit_destroy(&r);
  assert_int_equal(uvotel_resource_recapture(&r), UVOTEL_EINVAL);
  uvotel_var_free(v);
}

static void test_enter_exit_scope(void **state) {
  (void)state;
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_callback_scope_t cs;
  assert_int_equal(uvotel_resource_enter(&r, &cs), 0);
  assert_int_equal(uvotel_execution_async_id(), uvotel_resource_async_id(&r));
  /* A context scope left open inside the callback is closed by exit. */
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t leaked;
  uvotel_var_enter(v, (void *)"x", &leaked);
  uvotel_resource_exit(&cs);
  assert_int_equal(uvotel_execution_async_id(), 1);
  assert_null(uvotel_var_get(v));
  assert_int_equal(uvotel_scope_exit(&leaked), UVOTEL_EINVAL);
  uvotel_resource_exit(&cs); /* second exit: no-op */
  assert_int_equal(uvotel_execution_async_id(), 1);
  uvotel_resource_emit_destroy(&r);
  assert_int_equal(uvotel_resource_enter(&r, &cs), UVOTEL_EINVAL);
  uvotel_resource_exit(&cs); /* no-op after a failed enter */
  assert_int_equal(uvotel_execution_async_id(), 1);
  uvotel_var_free(v);
}

/* ---- bad input ---- */

static void test_bad_input(void **state) {
  (void)state;
  uvotel_resource_t r;
  memset(&r, 0, sizeof r);
  uvotel_callback_scope_t cs;
  assert_null(uvotel_hook_create(NULL, NULL));
  assert_int_equal(uvotel_hook_enable(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_hook_disable(NULL), UVOTEL_EINVAL);
  uvotel_hook_free(NULL);
  assert_int_equal(uvotel_resource_init(NULL, "X", 0, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_init(&r, NULL, 0, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_init(&r, "X", 0, 0x80), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_async_id(&r), 0); /* failed init left it unset */
  assert_null(uvotel_resource_run(NULL, noop_fn, NULL));
  assert_null(uvotel_resource_run(&r, noop_fn, NULL)); /* never initialised */
  assert_int_equal(uvotel_resource_emit_destroy(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_emit_destroy(&r), UVOTEL_ESTATE);
  uvotel_resource_ref(NULL);
  uvotel_resource_unref(NULL);
  assert_int_equal(uvotel_resource_async_id(NULL), 0);
  assert_int_equal(uvotel_resource_trigger_async_id(NULL), 0);
  assert_int_equal(uvotel_resource_recapture(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_enter(NULL, &cs), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_enter(&r, NULL), UVOTEL_EINVAL);
  uvotel_resource_exit(NULL);
  assert_int_equal(uvotel_loop_init(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_loop_close(NULL), UVOTEL_EINVAL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(uvotel_loop_close(&loop), UVOTEL_ENOENT); /* never attached */
  assert_int_equal(uv_loop_close(&loop), 0);
  /* init with a NULL resource run function */
  uvotel_resource_init(&r, "X", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  assert_null(uvotel_resource_run(&r, NULL, NULL));
  uvotel_resource_emit_destroy(&r);
}

/* ---- uvotel's handles are invisible; uvotel_loop_close never runs the loop ---- */

static void count_walk(uv_handle_t *h, void *arg) {
  (void)h;
  ++*(int *)arg;
}

static int g_close_cb_runs;
static void count_close(uv_handle_t *h) {
  (void)h;
  g_close_cb_runs++;
}

static void test_internal_handles_invisible(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(uvotel_loop_init(&loop), 0);
  trace_log_t log;
  trace_log_start(&log);
  int n = 0;
  uv_walk(&loop, count_walk, &n);
  assert_int_equal(n, 0);
  assert_int_equal(uv_loop_alive(&loop), 0);
  uvotel_resource_t r;
  uvotel_resource_init(&r, "R", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  assert_int_equal(uv_loop_alive(&loop), 1); /* the pending destroy */
  n = 0;
  uv_walk(&loop, count_walk, &n);
  assert_int_equal(n, 0); /* even while armed */
  /* Delivered in the check phase, which disarms at once: uv_run answers as without uvotel. */
  assert_int_equal(uv_run(&loop, UV_RUN_NOWAIT), 0);
  assert_int_equal(uvotel_pending_destroys(), 0);
  assert_int_equal(uv_loop_alive(&loop), 0);
  trace_log_free(&log);
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_loop_close_busy_changes_nothing(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  assert_int_equal(uvotel_loop_init(&loop), 0);
  int key = uvotel_loop_key_create(NULL);
  assert_true(key >= 0);
  int v = 7;
  assert_int_equal(uvotel_loop_set(&loop, key, &v), 0);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  /* An open handle: busy, as uv_loop_close says. */
  assert_int_equal(uvotel_loop_close(&loop), UV_EBUSY);
  assert_int_equal(uv_loop_close(&loop), UV_EBUSY);
  assert_ptr_equal(uvotel_loop_get(&loop, key), &v); /* still attached */
  /* A closing handle whose callback has not run: still busy, and the callback is not run. */
  g_close_cb_runs = 0;
  uv_close((uv_handle_t *)&t, count_close);
  assert_int_equal(uvotel_loop_close(&loop), UV_EBUSY);
  assert_int_equal(uvotel_uv_loop_close(&loop), UV_EBUSY);
  assert_int_equal(g_close_cb_runs, 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_close_cb_runs, 1);
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_null(uvotel_loop_get(&loop, key)); /* detached */
  assert_int_equal(uv_loop_close(&loop), 0);
}

/* ---- per-loop data for layered libraries ---- */

static int g_detached;
static void *g_detached_value;
static void on_detach(uv_loop_t *loop, void *value) {
  (void)loop;
  g_detached++;
  g_detached_value = value;
}

static void test_loop_data(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  int key = uvotel_loop_key_create(on_detach);
  assert_true(key >= 0);
  int v = 1;
  assert_int_equal(uvotel_loop_set(&loop, key, &v), UVOTEL_ENOENT); /* not attached */
  assert_null(uvotel_loop_get(&loop, key));
  assert_int_equal(uvotel_loop_init(&loop), 0);
  assert_null(uvotel_loop_get(&loop, key)); /* unset */
  assert_int_equal(uvotel_loop_set(&loop, key, &v), 0);
  assert_ptr_equal(uvotel_loop_get(&loop, key), &v);
  /* bad input */
  assert_int_equal(uvotel_loop_set(NULL, key, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_loop_set(&loop, -1, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_loop_set(&loop, 1000, &v), UVOTEL_EINVAL);
  assert_null(uvotel_loop_get(NULL, key));
  assert_null(uvotel_loop_get(&loop, -1));
  assert_null(uvotel_loop_get(&loop, 1000));
  /* the value is handed back once, at detach */
  g_detached = 0;
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_int_equal(g_detached, 1);
  assert_ptr_equal(g_detached_value, &v);
  assert_null(uvotel_loop_get(&loop, key));
  assert_int_equal(uv_loop_close(&loop), 0);
  /* keys run out (libuvotel_uv and this test hold some) */
  int last = 0;
  for (int i = 0; i < 8 && last >= 0; i++) last = uvotel_loop_key_create(NULL);
  assert_int_equal(last, UVOTEL_ENOMEM);
}

/* ---- UVOTEL_RESOURCE_ROOT_CONTEXT ---- */

static void *get_var_fn(void *arg) {
  return uvotel_var_get(arg);
}

static void test_root_context_flag(void **state) {
  (void)state;
  trace_log_t log;
  trace_log_start(&log);
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(v, "outer", &sc), 0);
  uvotel_resource_t r, plain;
  assert_int_equal(
      uvotel_resource_init(&r, "ROOTED", 0,
                           UVOTEL_RESOURCE_MANUAL_DESTROY | UVOTEL_RESOURCE_ROOT_CONTEXT),
      0);
  assert_int_equal(uvotel_resource_init(&plain, "PLAIN", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  assert_null(uvotel_resource_run(&r, get_var_fn, v)); /* root, though "outer" is current */
  assert_int_equal(uvotel_resource_recapture(&r), 0);  /* and stays so */
  assert_null(uvotel_resource_run(&r, get_var_fn, v));
  assert_string_equal(uvotel_resource_run(&plain, get_var_fn, v), "outer");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  /* hooks see it as any other resource */
  char want[256];
  uvotel_async_id_t id = uvotel_resource_async_id(&r), pid = uvotel_resource_async_id(&plain);
  uvotel_resource_emit_destroy(&r);
  uvotel_resource_emit_destroy(&plain);
  snprintf(want, sizeof want,
           "init %llu ROOTED 1\ninit %llu PLAIN 1\nbefore %llu\nafter %llu\nbefore %llu\n"
           "after %llu\nbefore %llu\nafter %llu\ndestroy %llu\ndestroy %llu\n",
           (unsigned long long)id, (unsigned long long)pid, (unsigned long long)id,
           (unsigned long long)id, (unsigned long long)id, (unsigned long long)id,
           (unsigned long long)pid, (unsigned long long)pid, (unsigned long long)id,
           (unsigned long long)pid);
  assert_string_equal(trace_log_text(&log), want);
  /* flags beyond the two: EINVAL */
  assert_int_equal(uvotel_resource_init(&r, "X", 0, 4u), UVOTEL_EINVAL);
  trace_log_free(&log);
  uvotel_var_free(v);
}

/* ---- threads: hooks are per thread ---- */

typedef struct thread_arg_s {
  uvotel_hook_t *hook;
  int enable_rc, disable_rc;
  uvotel_async_id_t exec_id;
  uvotel_async_id_t first_id;
} thread_arg_t;

static void *other_thread(void *p) {
  thread_arg_t *a = p;
  a->enable_rc = uvotel_hook_enable(a->hook);
  a->disable_rc = uvotel_hook_disable(a->hook);
  a->exec_id = uvotel_execution_async_id();
  uvotel_resource_t r;
  uvotel_resource_init(&r, "T", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  a->first_id = uvotel_resource_async_id(&r);
  uvotel_resource_emit_destroy(&r); /* not seen by the main thread's hook */
  uvotel_thread_cleanup();
  return NULL;
}

static void test_hooks_are_per_thread(void **state) {
  (void)state;
  trace_log_t log;
  trace_log_start(&log);
  thread_arg_t a = {.hook = log.hook};
  pthread_t th;
  pthread_create(&th, NULL, other_thread, &a);
  pthread_join(th, NULL);
  assert_int_equal(a.enable_rc, UVOTEL_EBUSY);
  assert_int_equal(a.disable_rc, UVOTEL_EBUSY);
  assert_int_equal(a.exec_id, 1); /* every thread starts at the top level */
  assert_true(a.first_id > 1);
  assert_string_equal(trace_log_text(&log), "");
  trace_log_free(&log);
}

static void test_no_leaks(void **state) {
  (void)state;
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live_at_start);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  g_live_at_start = counting_alloc_stats().live;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_top_level_and_first_id),
      cmocka_unit_test(test_trigger_and_nesting),
      cmocka_unit_test(test_explicit_trigger),
      cmocka_unit_test(test_destroy_exactly_once),
      cmocka_unit_test(test_destroy_without_hooks),
      cmocka_unit_test(test_hooks_run_in_enable_order),
      cmocka_unit_test(test_enable_disable_inside_callback),
      cmocka_unit_test(test_no_events_from_inside_hooks),
      cmocka_unit_test(test_destroy_deferred_to_check_phase),
      cmocka_unit_test(test_destroys_before_user_check_callbacks),
      cmocka_unit_test(test_loop_close_delivers_pending),
      cmocka_unit_test(test_flush_destroys),
      cmocka_unit_test(test_no_destroy_hook_no_queue),
      cmocka_unit_test(test_promise_resolve_event),
      cmocka_unit_test(test_resource_context_and_recapture),
      cmocka_unit_test(test_enter_exit_scope),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_internal_handles_invisible),
      cmocka_unit_test(test_loop_close_busy_changes_nothing),
      cmocka_unit_test(test_root_context_flag),
      cmocka_unit_test(test_hooks_are_per_thread),
      cmocka_unit_test(test_loop_data), /* last: it uses up the process's loop keys */
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
