/* Promises, next-tick and microtasks (uvotel/promise.h): Node 20's event order for the seeds'
 * examples, the drain rules of seed 004, context propagation, value ownership, misuse, a
 * 100,000-link chain at constant stack depth, zero allocations in steady state and no leaks.
 *
 * The Node-order tests print our events in node-trace.js's format (ids renumbered from 2 in the
 * order they appear, as in a fresh Node process) and compare with what
 * `node /work/shared/tools/node-trace.js X.js` printed for the JavaScript in each comment. Node
 * reports no promise destroys (it would at garbage collection); ours come when the last
 * reference goes, delivered in the check phase, and are the only lines added to Node's text. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uvotel.h"
#include "uvotel/uv.h"

static long g_live_at_start;

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((int)(intptr_t)(p))

/* ---- node-trace formatting of a trace_log ---- */

typedef struct idmap_s {
  unsigned long long from[512], to[512];
  int depth[512];
  int n;
} idmap_t;

static int idx_of(idmap_t *m, unsigned long long id) {
  for (int i = 0; i < m->n; i++) {
    if (m->from[i] == id) return i;
  }
  assert_true(m->n < 512);
  m->from[m->n] = id;
  m->to[m->n] = (unsigned long long)m->n + 2;
  m->depth[m->n] = 1;
  return m->n++;
}

static const char *ctor_of(const char *type) {
  if (strcmp(type, "PROMISE") == 0) return "Promise";
  if (strcmp(type, "TickObject") == 0) return "Object";
  if (strcmp(type, "Microtask") == 0) return "AsyncResource";
  return type;
}

/* Rewrite "#<id>" in user lines with the renumbered id. */
static void map_user_line(idmap_t *m, const char *line, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = line; *p && o + 24 < cap; p++) {
    if (*p == '#') {
      char *end;
      unsigned long long id = strtoull(p + 1, &end, 10);
      o += (size_t)snprintf(out + o, cap - o, "%llu", id == 1 ? 1 : m->to[idx_of(m, id)]);
      p = end - 1;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

/* Caller frees. */
static char *node_format(const char *text) {
  idmap_t *m = calloc(1, sizeof *m);
  size_t cap = strlen(text) * 4 + 256, o = 0;
  char *out = malloc(cap);
  out[0] = '\0';
  const char *p = text;
  while (*p) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    char line[600];
    if (len >= sizeof line) len = sizeof line - 1;
    memcpy(line, p, len);
    line[len] = '\0';
    p += len + (nl ? 1 : 0);
    unsigned long long id, trig;
    char type[64], ev[16];
    char buf[700];
    if (sscanf(line, "init %llu %63s %llu", &id, type, &trig) == 3) {
      int i = idx_of(m, id);
      int d = trig == 1 ? 0 : m->depth[idx_of(m, trig)];
      m->depth[i] = d + 1;
      snprintf(buf, sizeof buf,
               "%*s(asyncId: %llu) INIT (%s) (triggerAsyncId=%llu) (resource=%s)\n",
               4 * m->depth[i], "", m->to[i], type, trig == 1 ? 1 : m->to[idx_of(m, trig)],
               ctor_of(type));
    } else if (sscanf(line, "%15s %llu", ev, &id) == 2 &&
               (!strcmp(ev, "before") || !strcmp(ev, "after") || !strcmp(ev, "destroy") ||
                !strcmp(ev, "resolve"))) {
      int i = idx_of(m, id);
      const char *name = !strcmp(ev, "before")    ? "BEFORE"
                         : !strcmp(ev, "after")   ? "AFTER"
                         : !strcmp(ev, "destroy") ? "DESTROY"
                                                  : "PROMISE_RESOLVE";
      snprintf(buf, sizeof buf, "%*s(asyncId: %llu) %s\n", 4 * m->depth[i], "", m->to[i], name);
    } else {
      char mapped[600];
      map_user_line(m, line, mapped, sizeof mapped);
      snprintf(buf, sizeof buf, "%s\n", mapped);
    }
    size_t bl = strlen(buf);
    assert_true(o + bl < cap);
    memcpy(out + o, buf, bl + 1);
    o += bl;
  }
  free(m);
  return out;
}

/* ---- fixture: a loop with uvotel attached and a recording hook ---- */

typedef struct fx_s {
  uv_loop_t loop;
  trace_log_t log;
} fx_t;

static fx_t *F;

static int setup(void **state) {
  static fx_t f;
  memset(&f, 0, sizeof f);
  F = &f;
  assert_int_equal(uv_loop_init(&f.loop), 0);
  assert_int_equal(uvotel_loop_init(&f.loop), 0);
  trace_log_start(&f.log);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  trace_log_free(&f->log);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_pending_microtasks(), 0);
  assert_int_equal(uvotel_loop_close(&f->loop), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  return 0;
}

/* Top-level code done: drain as Node does after the main module, then run the loop (which
 * delivers destroys in its check phase), and compare with Node's text. */
static void finish_and_expect(const char *want) {
  assert_int_equal(uvotel_drain_microtasks(), 0);
  uv_run(&F->loop, UV_RUN_DEFAULT);
  char *got = node_format(trace_log_text(&F->log));
  if (strcmp(got, want) != 0) fprintf(stderr, "---- got\n%s---- want\n%s", got, want);
  assert_string_equal(got, want);
  free(got);
}

static uvotel_reaction_t log_value(void *value, void *arg) {
  (void)arg;
  trace_log_line(&F->log, "%d", I(value));
  return uvotel_reaction_value(NULL);
}

/* new Promise(resolve => { resolve(123); }).then(data => { log(data); });  (seed 001) */
static void test_node_seed001_new_promise(void **state) {
  (void)state;
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  assert_int_equal(uvotel_promise_resolve(p, V(123)), 0);
  uvotel_promise_t *c = uvotel_promise_then(p, log_value, NULL, NULL);
  assert_non_null(c);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "        (asyncId: 3) BEFORE\n"
      "123\n"
      "        (asyncId: 3) PROMISE_RESOLVE\n"
      "        (asyncId: 3) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 3) DESTROY\n");
}

static uvotel_reaction_t log_ids(void *value, void *arg) {
  (void)value;
  (void)arg;
  trace_log_line(&F->log, "asyncId #%llu triggerId #%llu",
                 (unsigned long long)uvotel_execution_async_id(),
                 (unsigned long long)uvotel_trigger_async_id());
  return uvotel_reaction_value(NULL);
}

/* Promise.resolve(123).then(() => log(`asyncId ${executionAsyncId()} triggerId ${...}`)); */
static void test_node_seed001_promise_resolve(void **state) {
  (void)state;
  uvotel_promise_t *p = uvotel_promise_resolved(V(123), NULL);
  uvotel_promise_t *c = uvotel_promise_then(p, log_ids, NULL, NULL);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "        (asyncId: 3) BEFORE\n"
      "asyncId 3 triggerId 2\n"
      "        (asyncId: 3) PROMISE_RESOLVE\n"
      "        (asyncId: 3) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 3) DESTROY\n");
}

static uvotel_reaction_t chain_r1(void *value, void *arg) {
  (void)arg;
  trace_log_line(&F->log, "r1 %d eid #%llu", I(value),
                 (unsigned long long)uvotel_execution_async_id());
  return uvotel_reaction_value(V(I(value) + 1));
}
static uvotel_reaction_t chain_r2(void *value, void *arg) {
  (void)arg;
  trace_log_line(&F->log, "r2 %d eid #%llu", I(value),
                 (unsigned long long)uvotel_execution_async_id());
  uvotel_promise_t *q = uvotel_promise_create(NULL);
  uvotel_promise_resolve(q, V(I(value) * 10));
  return uvotel_reaction_promise(q);
}
static uvotel_reaction_t chain_r3(void *value, void *arg) {
  (void)arg;
  trace_log_line(&F->log, "r3 %d eid #%llu", I(value),
                 (unsigned long long)uvotel_execution_async_id());
  return uvotel_reaction_value(NULL);
}

/* const p = Promise.resolve(1);
 * p.then(v => { log(...); return v + 1; })
 *  .then(v => { log(...); return new Promise(r => r(v * 10)); })
 *  .then(v => { log(...); });
 * log('top');
 * A reaction returning a promise: the chained promise adopts it through V8's two jobs. */
static void test_node_chain_with_adoption(void **state) {
  (void)state;
  uvotel_promise_t *p = uvotel_promise_resolved(V(1), NULL);
  uvotel_promise_t *c1 = uvotel_promise_then(p, chain_r1, NULL, NULL);
  uvotel_promise_t *c2 = uvotel_promise_then(c1, chain_r2, NULL, NULL);
  uvotel_promise_t *c3 = uvotel_promise_then(c2, chain_r3, NULL, NULL);
  trace_log_line(&F->log, "top");
  assert_int_equal(uvotel_promise_state(c3), UVOTEL_PROMISE_PENDING);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c1);
  uvotel_promise_unref(c2);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(uvotel_promise_state(c3), UVOTEL_PROMISE_FULFILLED);
  uvotel_promise_unref(c3);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "            (asyncId: 4) INIT (PROMISE) (triggerAsyncId=3) (resource=Promise)\n"
      "                (asyncId: 5) INIT (PROMISE) (triggerAsyncId=4) (resource=Promise)\n"
      "top\n"
      "        (asyncId: 3) BEFORE\n"
      "r1 1 eid 3\n"
      "        (asyncId: 3) PROMISE_RESOLVE\n"
      "        (asyncId: 3) AFTER\n"
      "            (asyncId: 4) BEFORE\n"
      "r2 2 eid 4\n"
      "                (asyncId: 6) INIT (PROMISE) (triggerAsyncId=4) (resource=Promise)\n"
      "                (asyncId: 6) PROMISE_RESOLVE\n"
      "            (asyncId: 4) AFTER\n"
      "            (asyncId: 4) BEFORE\n"
      "                    (asyncId: 7) INIT (PROMISE) (triggerAsyncId=6) (resource=Promise)\n"
      "            (asyncId: 4) AFTER\n"
      "                    (asyncId: 7) BEFORE\n"
      "            (asyncId: 4) PROMISE_RESOLVE\n"
      "                    (asyncId: 7) PROMISE_RESOLVE\n"
      "                    (asyncId: 7) AFTER\n"
      "                (asyncId: 5) BEFORE\n"
      "r3 20 eid 5\n"
      "                (asyncId: 5) PROMISE_RESOLVE\n"
      "                (asyncId: 5) AFTER\n"
      /* ours: destroys as the last references go */
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 3) DESTROY\n"
      "                (asyncId: 6) DESTROY\n"
      "                    (asyncId: 7) DESTROY\n"
      "            (asyncId: 4) DESTROY\n"
      "                (asyncId: 5) DESTROY\n");
}

static void log_job(void *arg) {
  trace_log_line(&F->log, "%s", (const char *)arg);
}
static void tick1(void *arg) {
  (void)arg;
  trace_log_line(&F->log, "tick eid #%llu", (unsigned long long)uvotel_execution_async_id());
  assert_int_equal(uvotel_queue_microtask(log_job, "mt2"), 0);
  assert_int_equal(uvotel_next_tick(log_job, "tick2"), 0);
}
static void mt1(void *arg) {
  (void)arg;
  trace_log_line(&F->log, "mt eid #%llu", (unsigned long long)uvotel_execution_async_id());
  assert_int_equal(uvotel_next_tick(log_job, "tick3"), 0);
}

/* process.nextTick(() => { log(...); queueMicrotask(() => log('mt2'));
 *                          process.nextTick(() => log('tick2')); });
 * queueMicrotask(() => { log(...); process.nextTick(() => log('tick3')); });
 * log('top');
 * Ticks first, microtasks (including ones queued meanwhile) next, repeat: seed 004. */
static void test_node_tick_and_microtask_order(void **state) {
  (void)state;
  assert_int_equal(uvotel_next_tick(tick1, NULL), 0);
  assert_int_equal(uvotel_queue_microtask(mt1, NULL), 0);
  trace_log_line(&F->log, "top");
  assert_int_equal(uvotel_pending_microtasks(), 2);
  finish_and_expect(
      "    (asyncId: 2) INIT (TickObject) (triggerAsyncId=1) (resource=Object)\n"
      "    (asyncId: 3) INIT (Microtask) (triggerAsyncId=1) (resource=AsyncResource)\n"
      "top\n"
      "    (asyncId: 2) BEFORE\n"
      "tick eid 2\n"
      "        (asyncId: 4) INIT (Microtask) (triggerAsyncId=2) (resource=AsyncResource)\n"
      "        (asyncId: 5) INIT (TickObject) (triggerAsyncId=2) (resource=Object)\n"
      "    (asyncId: 2) AFTER\n"
      "        (asyncId: 5) BEFORE\n"
      "tick2\n"
      "        (asyncId: 5) AFTER\n"
      "    (asyncId: 3) BEFORE\n"
      "mt eid 3\n"
      "        (asyncId: 6) INIT (TickObject) (triggerAsyncId=3) (resource=Object)\n"
      "    (asyncId: 3) AFTER\n"
      "        (asyncId: 4) BEFORE\n"
      "mt2\n"
      "        (asyncId: 4) AFTER\n"
      "        (asyncId: 6) BEFORE\n"
      "tick3\n"
      "        (asyncId: 6) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 5) DESTROY\n"
      "    (asyncId: 3) DESTROY\n"
      "        (asyncId: 4) DESTROY\n"
      "        (asyncId: 6) DESTROY\n");
}

static uvotel_reaction_t log_tagged(void *value, void *arg) {
  trace_log_line(&F->log, "%s %d", (const char *)arg, I(value));
  return uvotel_reaction_value(NULL);
}

/* const a = Promise.resolve(1), b = new Promise(r => r(2));
 * Promise.all([a, b]).then(v => log('all ' + v)); */
static uvotel_reaction_t log_all(void *value, void *arg) {
  (void)arg;
  uvotel_promise_list_t *l = value;
  assert_int_equal(uvotel_promise_list_size(l), 2);
  trace_log_line(&F->log, "all %d,%d", I(uvotel_promise_list_get(l, 0)),
                 I(uvotel_promise_list_get(l, 1)));
  return uvotel_reaction_value(NULL);
}

static void test_node_promise_all(void **state) {
  (void)state;
  uvotel_promise_t *ps[2];
  ps[0] = uvotel_promise_resolved(V(1), NULL);
  ps[1] = uvotel_promise_create(NULL);
  uvotel_promise_resolve(ps[1], V(2));
  uvotel_promise_t *all = uvotel_promise_all(ps, 2);
  assert_non_null(all);
  uvotel_promise_t *c = uvotel_promise_then_ops(all, log_all, NULL, NULL, NULL);
  uvotel_promise_unref(ps[0]);
  uvotel_promise_unref(ps[1]);
  uvotel_promise_unref(all);
  uvotel_promise_unref(c);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "    (asyncId: 3) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 3) PROMISE_RESOLVE\n"
      "    (asyncId: 4) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "        (asyncId: 5) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "        (asyncId: 6) INIT (PROMISE) (triggerAsyncId=3) (resource=Promise)\n"
      "        (asyncId: 7) INIT (PROMISE) (triggerAsyncId=4) (resource=Promise)\n"
      "        (asyncId: 5) BEFORE\n"
      "        (asyncId: 5) PROMISE_RESOLVE\n"
      "        (asyncId: 5) AFTER\n"
      "        (asyncId: 6) BEFORE\n"
      "    (asyncId: 4) PROMISE_RESOLVE\n"
      "        (asyncId: 6) PROMISE_RESOLVE\n"
      "        (asyncId: 6) AFTER\n"
      "        (asyncId: 7) BEFORE\n"
      "all 1,2\n"
      "        (asyncId: 7) PROMISE_RESOLVE\n"
      "        (asyncId: 7) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 5) DESTROY\n"
      "    (asyncId: 3) DESTROY\n"
      "        (asyncId: 6) DESTROY\n"
      "    (asyncId: 4) DESTROY\n"
      "        (asyncId: 7) DESTROY\n");
}

/* const a = Promise.resolve(1); const p = new Promise(r => r(a)); p.then(v => log('v ' + v)); */
static void test_node_adopt(void **state) {
  (void)state;
  uvotel_promise_t *a = uvotel_promise_resolved(V(1), NULL);
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  assert_int_equal(uvotel_promise_adopt(p, a), 0);
  assert_int_equal(uvotel_promise_resolve(p, V(9)), UVOTEL_ESTATE); /* resolved, not settled */
  uvotel_promise_t *c = uvotel_promise_then(p, log_tagged, NULL, "v");
  uvotel_promise_unref(a);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "    (asyncId: 3) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "        (asyncId: 4) INIT (PROMISE) (triggerAsyncId=3) (resource=Promise)\n"
      "    (asyncId: 3) BEFORE\n"
      "        (asyncId: 5) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "    (asyncId: 3) AFTER\n"
      "        (asyncId: 5) BEFORE\n"
      "    (asyncId: 3) PROMISE_RESOLVE\n"
      "        (asyncId: 5) PROMISE_RESOLVE\n"
      "        (asyncId: 5) AFTER\n"
      "        (asyncId: 4) BEFORE\n"
      "v 1\n"
      "        (asyncId: 4) PROMISE_RESOLVE\n"
      "        (asyncId: 4) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 5) DESTROY\n"
      "    (asyncId: 3) DESTROY\n"
      "        (asyncId: 4) DESTROY\n");
}

static uvotel_reaction_t recover(void *value, void *arg) {
  (void)arg;
  trace_log_line(&F->log, "err %d", I(value));
  return uvotel_reaction_value(V(7));
}

/* Promise.reject(1).then(null, e => { log('err ' + e); return 7; }).then(v => log('v ' + v)); */
static void test_node_reject_recover(void **state) {
  (void)state;
  uvotel_promise_t *p = uvotel_promise_rejected(V(1), NULL);
  uvotel_promise_t *c1 = uvotel_promise_then(p, NULL, recover, NULL);
  uvotel_promise_t *c2 = uvotel_promise_then(c1, log_tagged, NULL, "v");
  uvotel_promise_unref(p);
  uvotel_promise_unref(c1);
  uvotel_promise_unref(c2);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "    (asyncId: 2) PROMISE_RESOLVE\n"
      "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "            (asyncId: 4) INIT (PROMISE) (triggerAsyncId=3) (resource=Promise)\n"
      "        (asyncId: 3) BEFORE\n"
      "err 1\n"
      "        (asyncId: 3) PROMISE_RESOLVE\n"
      "        (asyncId: 3) AFTER\n"
      "            (asyncId: 4) BEFORE\n"
      "v 7\n"
      "            (asyncId: 4) PROMISE_RESOLVE\n"
      "            (asyncId: 4) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 3) DESTROY\n"
      "            (asyncId: 4) DESTROY\n");
}

/* ---- drained after the outermost instrumented callback, before the loop moves on ---- */

static uvotel_resource_t g_inner;
static uv_timer_t g_timer, g_timer2;
static int g_counter;

static void *inner_run(void *arg) {
  (void)arg;
  trace_log_line(&F->log, "inner queues");
  uvotel_queue_microtask(log_job, "microtask");
  return NULL;
}

static void timer_queues(uv_timer_t *t) {
  (void)t;
  trace_log_line(&F->log, "timer");
  assert_int_equal(uvotel_drain_microtasks(), UVOTEL_EBUSY); /* not inside a callback */
  uvotel_resource_init(&g_inner, "INNER", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_run(&g_inner, inner_run, NULL); /* its exit is not the outermost: no drain */
  uvotel_resource_emit_destroy(&g_inner);
  trace_log_line(&F->log, "timer returns");
}

/* setTimeout(() => { log('timer'); new AsyncResource('INNER').runInAsyncScope(() =>
 *   queueMicrotask(...)); log('timer returns'); }) — the microtask runs after the Timeout's
 * after hook, not after INNER's. */
static void test_drain_after_outermost_callback(void **state) {
  (void)state;
  uv_timer_init(&F->loop, &g_timer);
  assert_int_equal(uvotel_timer_start(&g_timer, timer_queues, 0, 0), 0);
  uv_run(&F->loop, UV_RUN_DEFAULT);
  uvotel_close((uv_handle_t *)&g_timer, NULL);
  finish_and_expect(
      "    (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
      "    (asyncId: 2) BEFORE\n"
      "timer\n"
      "        (asyncId: 3) INIT (INNER) (triggerAsyncId=2) (resource=INNER)\n"
      "        (asyncId: 3) BEFORE\n"
      "inner queues\n"
      "            (asyncId: 4) INIT (Microtask) (triggerAsyncId=3) (resource=AsyncResource)\n"
      "        (asyncId: 3) AFTER\n"
      "timer returns\n"
      "    (asyncId: 2) AFTER\n"
      "            (asyncId: 4) BEFORE\n"
      "microtask\n"
      "            (asyncId: 4) AFTER\n"
      "        (asyncId: 3) DESTROY\n"
      "            (asyncId: 4) DESTROY\n"
      "    (asyncId: 2) DESTROY\n");
}

/* A microtask that re-queues itself: Node's unbounded drain. */
static void requeue(void *arg) {
  (void)arg;
  if (++g_counter < 100000) assert_int_equal(uvotel_queue_microtask(requeue, NULL), 0);
}

static void timer_starts_requeue(uv_timer_t *t) {
  (void)t;
  g_counter = 0;
  uvotel_queue_microtask(requeue, NULL);
}

static void timer_checks_counter(uv_timer_t *t) {
  (void)t;
  /* Due in the same timers phase as the first: the loop had to wait for the whole chain. */
  assert_int_equal(g_counter, 100000);
  g_counter = -1;
}

static void test_self_requeue_starves_like_node(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  uv_timer_init(&F->loop, &g_timer);
  uv_timer_init(&F->loop, &g_timer2);
  uvotel_timer_start(&g_timer, timer_starts_requeue, 0, 0);
  uvotel_timer_start(&g_timer2, timer_checks_counter, 0, 0);
  uv_run(&F->loop, UV_RUN_DEFAULT);
  assert_int_equal(g_counter, -1);
  uvotel_close((uv_handle_t *)&g_timer, NULL);
  uvotel_close((uv_handle_t *)&g_timer2, NULL);
}

/* A raw (uninstrumented) libuv callback has no callback return to drain after: the loop's check
 * phase drains what it queued (the safety net), or it drains itself. */
static void raw_timer_queues(uv_timer_t *t) {
  (void)t;
  trace_log_line(&F->log, "raw timer");
  uvotel_queue_microtask(log_job, "microtask from raw callback");
}

static void raw_check(uv_check_t *c) {
  trace_log_line(&F->log, "user check");
  uv_check_stop(c);
}

static void test_raw_callback_safety_net(void **state) {
  (void)state;
  uv_check_t check;
  uv_check_init(&F->loop, &check);
  uv_check_start(&check, raw_check);
  uv_timer_init(&F->loop, &g_timer);
  uv_timer_start(&g_timer, raw_timer_queues, 0, 0); /* raw: not uvotel_timer_start */
  uv_run(&F->loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&g_timer, NULL);
  uv_close((uv_handle_t *)&check, NULL);
  /* Drained in the same iteration's check phase, before user check callbacks. */
  finish_and_expect(
      "raw timer\n"
      "    (asyncId: 2) INIT (Microtask) (triggerAsyncId=1) (resource=AsyncResource)\n"
      "    (asyncId: 2) BEFORE\n"
      "microtask from raw callback\n"
      "    (asyncId: 2) AFTER\n"
      "    (asyncId: 2) DESTROY\n"
      "user check\n");
}

/* ---- reactions never run inside resolve or then ---- */

static uvotel_reaction_t count_up(void *value, void *arg) {
  (void)arg;
  g_counter++;
  return uvotel_reaction_value(value);
}

static void test_reactions_are_queued(void **state) {
  (void)state;
  g_counter = 0;
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  uvotel_promise_t *c = uvotel_promise_then(p, count_up, NULL, NULL);
  assert_int_equal(uvotel_promise_resolve(p, V(5)), 0);
  assert_int_equal(g_counter, 0);
  assert_int_equal(uvotel_pending_microtasks(), 1);
  uvotel_promise_t *c2 = uvotel_promise_then(p, count_up, NULL, NULL); /* on a settled promise */
  /* ids: unique and increasing, the chained promises after their parent */
  assert_true(uvotel_promise_async_id(p) > 1);
  assert_true(uvotel_promise_async_id(c) > uvotel_promise_async_id(p));
  assert_true(uvotel_promise_async_id(c2) > uvotel_promise_async_id(c));
  assert_int_equal(g_counter, 0);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(g_counter, 2);
  assert_int_equal(uvotel_promise_state(c), UVOTEL_PROMISE_FULFILLED);
  assert_int_equal(I(uvotel_promise_value(c)), 5);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  uvotel_promise_unref(c2);
}

/* ---- reaction results: value, error, promise, pass-through ---- */

static uvotel_reaction_t throw_it(void *value, void *arg) {
  (void)value;
  return uvotel_reaction_error(arg);
}

static uvotel_promise_t *g_later;
static uvotel_reaction_t return_pending(void *value, void *arg) {
  (void)value;
  (void)arg;
  g_later = uvotel_promise_create(NULL);
  uvotel_promise_ref(g_later); /* one for us, one handed to the chain */
  return uvotel_reaction_promise(g_later);
}

static uvotel_promise_t *g_self;
static uvotel_reaction_t return_self(void *value, void *arg) {
  (void)value;
  (void)arg;
  uvotel_promise_ref(g_self);
  return uvotel_reaction_promise(g_self);
}

static void test_reaction_results(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  /* error: the chained promise rejects; a NULL handler passes it through. */
  uvotel_promise_t *p = uvotel_promise_resolved(V(1), NULL);
  uvotel_promise_t *c1 = uvotel_promise_then(p, throw_it, NULL, V(42));
  uvotel_promise_t *c2 = uvotel_promise_then(c1, count_up, NULL, NULL);
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(c1), UVOTEL_PROMISE_REJECTED);
  assert_int_equal(uvotel_promise_state(c2), UVOTEL_PROMISE_REJECTED);
  assert_int_equal(I(uvotel_promise_value(c2)), 42);
  uvotel_promise_unref(c1);
  uvotel_promise_unref(c2);
  /* a pending promise: the chain follows it when it settles later. */
  uvotel_promise_t *c3 = uvotel_promise_then(p, return_pending, NULL, NULL);
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(c3), UVOTEL_PROMISE_PENDING);
  uvotel_promise_reject(g_later, V(13));
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(c3), UVOTEL_PROMISE_REJECTED);
  assert_int_equal(I(uvotel_promise_value(c3)), 13);
  uvotel_promise_unref(g_later);
  uvotel_promise_unref(c3);
  /* returning the chained promise itself: rejected (JS: TypeError), no hang, no leak. */
  g_self = uvotel_promise_then(p, return_self, NULL, NULL);
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(g_self), UVOTEL_PROMISE_REJECTED);
  assert_null(uvotel_promise_value(g_self));
  uvotel_promise_unref(g_self);
  /* explicit adopt of a pending promise, which later fulfils */
  uvotel_promise_t *a = uvotel_promise_create(NULL), *b = uvotel_promise_create(NULL);
  assert_int_equal(uvotel_promise_adopt(a, b), 0);
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(a), UVOTEL_PROMISE_PENDING);
  uvotel_promise_resolve(b, V(77));
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(a), UVOTEL_PROMISE_FULFILLED);
  assert_int_equal(I(uvotel_promise_value(a)), 77);
  uvotel_promise_unref(a);
  uvotel_promise_unref(b);
  uvotel_promise_unref(p);
}

/* ---- Promise.all ---- */

static void test_all(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  uvotel_promise_t *ps[3];
  for (int i = 0; i < 3; i++) ps[i] = uvotel_promise_create(NULL);
  uvotel_promise_t *all = uvotel_promise_all(ps, 3);
  assert_int_equal(uvotel_promise_resolve(all, NULL), UVOTEL_ESTATE); /* settled by inputs only */
  uvotel_promise_resolve(ps[2], V(30));
  uvotel_promise_resolve(ps[0], V(10));
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(all), UVOTEL_PROMISE_PENDING);
  uvotel_promise_resolve(ps[1], V(20));
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(all), UVOTEL_PROMISE_FULFILLED);
  uvotel_promise_list_t *l = uvotel_promise_value(all);
  assert_int_equal(uvotel_promise_list_size(l), 3);
  assert_int_equal(I(uvotel_promise_list_get(l, 0)), 10); /* input order, not settle order */
  assert_int_equal(I(uvotel_promise_list_get(l, 1)), 20);
  assert_int_equal(I(uvotel_promise_list_get(l, 2)), 30);
  assert_null(uvotel_promise_list_get(l, 3));
  assert_null(uvotel_promise_list_get(NULL, 0));
  assert_int_equal(uvotel_promise_list_size(NULL), 0);
  uvotel_promise_unref(all);
  for (int i = 0; i < 3; i++) uvotel_promise_unref(ps[i]);
  /* first rejection wins; later results are ignored */
  for (int i = 0; i < 3; i++) ps[i] = uvotel_promise_create(NULL);
  all = uvotel_promise_all(ps, 3);
  uvotel_promise_reject(ps[1], V(-2));
  uvotel_promise_reject(ps[0], V(-1));
  uvotel_drain_microtasks();
  assert_int_equal(uvotel_promise_state(all), UVOTEL_PROMISE_REJECTED);
  assert_int_equal(I(uvotel_promise_value(all)), -2);
  uvotel_promise_resolve(ps[2], V(3));
  uvotel_drain_microtasks();
  assert_int_equal(I(uvotel_promise_value(all)), -2);
  uvotel_promise_unref(all);
  for (int i = 0; i < 3; i++) uvotel_promise_unref(ps[i]);
  /* empty: fulfilled at once with an empty list */
  all = uvotel_promise_all(NULL, 0);
  assert_int_equal(uvotel_promise_state(all), UVOTEL_PROMISE_FULFILLED);
  assert_int_equal(uvotel_promise_list_size(uvotel_promise_value(all)), 0);
  uvotel_promise_unref(all);
}

/* ---- value ownership ---- */

typedef struct obj_s {
  int refs;
  int id;
} obj_t;
static void obj_retain(void *v) {
  ((obj_t *)v)->refs++;
}
static void obj_release(void *v) {
  ((obj_t *)v)->refs--;
}
static const uvotel_value_ops_t obj_ops = {.retain = obj_retain, .release = obj_release};

static obj_t g_made_obj = {1, 99};
static uvotel_reaction_t make_obj(void *value, void *arg) {
  (void)arg;
  assert_int_equal(((obj_t *)value)->refs, 3); /* the caller, p, and pass (ran first) */
  return uvotel_reaction_value(&g_made_obj);
}

static void test_value_ownership(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  obj_t a = {1, 1}, b = {1, 2}, e = {1, 3};
  uvotel_promise_t *p = uvotel_promise_create(&obj_ops);
  uvotel_promise_resolve(p, &a);
  assert_int_equal(a.refs, 2);
  assert_int_equal(uvotel_promise_resolve(p, &b), UVOTEL_ESTATE);
  assert_int_equal(b.refs, 1); /* nothing changed */
  assert_ptr_equal(uvotel_promise_value(p), &a);
  uvotel_promise_t *pass = uvotel_promise_then(p, NULL, NULL, NULL); /* pass-through */
  uvotel_promise_t *made = uvotel_promise_then(p, make_obj, NULL, NULL);
  uvotel_promise_t *q = uvotel_promise_rejected(&e, &obj_ops);
  uvotel_promise_t *ps[2] = {p, q};
  uvotel_promise_t *all = uvotel_promise_all(ps, 2);
  uvotel_drain_microtasks();
  assert_int_equal(a.refs, 4); /* the caller, p, pass and all's list of values so far */
  assert_int_equal(g_made_obj.refs, 2);
  assert_int_equal(e.refs, 3); /* the caller, q and all's rejection */
  uvotel_promise_unref(all);
  uvotel_promise_unref(q);
  assert_int_equal(e.refs, 1);
  assert_int_equal(a.refs, 3);
  uvotel_promise_unref(pass);
  uvotel_promise_unref(made);
  uvotel_promise_unref(p);
  assert_int_equal(a.refs, 1);
  assert_int_equal(g_made_obj.refs, 1);
  /* An all-list holds its values; retaining the list keeps them past the promise. */
  uvotel_promise_t *x = uvotel_promise_resolved(&b, &obj_ops);
  all = uvotel_promise_all(&x, 1);
  uvotel_drain_microtasks();
  uvotel_promise_list_t *l = uvotel_promise_value(all);
  uvotel_promise_list_ops.retain(l);
  uvotel_promise_unref(all);
  uvotel_promise_unref(x);
  assert_int_equal(b.refs, 2);
  assert_ptr_equal(uvotel_promise_list_get(l, 0), &b);
  uvotel_promise_list_ops.release(l);
  assert_int_equal(b.refs, 1);
}

/* ---- context ---- */

static uvotel_var_t *g_var;
static uvotel_reaction_t see_ctx(void *value, void *arg) {
  (void)value;
  (void)arg;
  trace_log_line(&F->log, "reaction sees %s", (const char *)uvotel_var_get(g_var));
  return uvotel_reaction_value(NULL);
}
static void job_sees_ctx(void *arg) {
  trace_log_line(&F->log, "%s sees %s", (const char *)arg, (const char *)uvotel_var_get(g_var));
}

static void test_context_rules(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  g_var = uvotel_var_create("req", "none", NULL);
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  uvotel_scope_t s;
  uvotel_var_enter(g_var, "at-then", &s);
  uvotel_promise_t *c = uvotel_promise_then(p, see_ctx, NULL, NULL);
  uvotel_next_tick(job_sees_ctx, "tick");
  uvotel_scope_exit(&s);
  uvotel_var_enter(g_var, "at-resolve", &s);
  uvotel_queue_microtask(job_sees_ctx, "microtask");
  uvotel_promise_resolve(p, NULL); /* resolve's context does not matter */
  uvotel_scope_exit(&s);
  uvotel_var_enter(g_var, "at-drain", &s);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_string_equal(uvotel_var_get(g_var), "at-drain"); /* restored */
  uvotel_scope_exit(&s);
  assert_string_equal(trace_log_text(&F->log),
                      "tick sees at-then\nmicrotask sees at-resolve\nreaction sees at-then\n");
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  uvotel_var_free(g_var);
}

/* ---- destroy when the last reference goes ---- */

static void test_destroy_on_last_unref(void **state) {
  (void)state;
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  uvotel_promise_ref(p);
  uvotel_promise_unref(p);
  assert_int_equal(uvotel_pending_destroys(), 0);
  uvotel_promise_t *c = uvotel_promise_then(p, count_up, NULL, NULL);
  uvotel_promise_unref(c); /* still held by p's waiting reaction */
  assert_int_equal(uvotel_pending_destroys(), 0);
  uvotel_promise_unref(p); /* p goes; the reaction can never run, so c goes too */
  assert_int_equal(uvotel_pending_destroys(), 2);
  finish_and_expect(
      "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
      "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
      "    (asyncId: 2) DESTROY\n"
      "        (asyncId: 3) DESTROY\n");
}

/* ---- 100,000 links: constant stack, every reaction once, nothing left ---- */

#define CHAIN 100000
static uintptr_t g_sp_min, g_sp_max;

static uvotel_reaction_t chain_link(void *value, void *arg) {
  (void)arg;
  char here;
  uintptr_t sp = (uintptr_t)&here;
  if (sp < g_sp_min) g_sp_min = sp;
  if (sp > g_sp_max) g_sp_max = sp;
  g_counter++;
  return uvotel_reaction_value(V(I(value) + 1));
}

static void test_long_chain_constant_stack(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  uvotel_thread_cleanup();
  long live0 = counting_alloc_stats().live;
  uvotel_promise_t *root = uvotel_promise_create(NULL);
  uvotel_promise_t *last = root;
  uvotel_promise_ref(root);
  for (int i = 0; i < CHAIN; i++) {
    uvotel_promise_t *next = uvotel_promise_then(last, chain_link, NULL, NULL);
    assert_non_null(next);
    uvotel_promise_unref(last); /* each link is held by its parent's waiting reaction */
    last = next;
  }
  g_counter = 0;
  g_sp_min = UINTPTR_MAX;
  g_sp_max = 0;
  uvotel_promise_resolve(root, V(0));
  assert_int_equal(g_counter, 0);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(g_counter, CHAIN);
  assert_int_equal(I(uvotel_promise_value(last)), CHAIN);
  /* Every reaction ran at the same depth: the drain never recursed. */
  assert_true(g_sp_max - g_sp_min < 256);
  uvotel_promise_unref(root);
  uvotel_promise_unref(last);
  /* Freeing a 100,000-link pending chain is iterative too (ASan's stack would not survive
   * recursion). */
  root = uvotel_promise_create(NULL);
  last = root;
  uvotel_promise_ref(root);
  for (int i = 0; i < CHAIN; i++) {
    uvotel_promise_t *next = uvotel_promise_then(last, chain_link, NULL, NULL);
    uvotel_promise_unref(last);
    last = next;
  }
  uvotel_promise_unref(last);
  uvotel_promise_unref(root);
  uvotel_promise_unref(root);
  assert_int_equal(uvotel_pending_microtasks(), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, live0);
}

/* ---- zero allocations in steady state ---- */

static void noop_job(void *arg) {
  (void)arg;
}

static void test_steady_state_allocates_nothing(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  for (int round = 0; round < 2; round++) {
    size_t before = counting_alloc_stats().allocs;
    for (int i = 0; i < 10000; i++) {
      uvotel_promise_t *p = uvotel_promise_create(NULL);
      uvotel_promise_t *c = uvotel_promise_then(p, count_up, NULL, NULL);
      uvotel_promise_t *c2 = uvotel_promise_then(c, count_up, NULL, NULL);
      uvotel_promise_resolve(p, V(i));
      uvotel_promise_unref(p);
      uvotel_promise_unref(c);
      uvotel_promise_unref(c2);
      uvotel_queue_microtask(noop_job, NULL);
      uvotel_next_tick(noop_job, NULL);
      uvotel_drain_microtasks();
    }
    /* round 0 fills the pools; round 1 must not allocate at all */
    if (round == 1) assert_int_equal(counting_alloc_stats().allocs - before, 0);
  }
}

/* ---- misuse ---- */

static void *other_thread(void *arg) {
  uvotel_promise_t *p = arg;
  assert_int_equal(uvotel_promise_resolve(p, NULL), UVOTEL_EBUSY);
  assert_int_equal(uvotel_promise_ref(p), UVOTEL_EBUSY);
  assert_null(uvotel_promise_then(p, count_up, NULL, NULL));
  uvotel_thread_cleanup();
  return NULL;
}

static void test_misuse(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  assert_int_equal(uvotel_promise_resolve(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_reject(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_adopt(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_ref(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_unref(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_state(NULL), UVOTEL_EINVAL);
  assert_null(uvotel_promise_value(NULL));
  assert_int_equal(uvotel_promise_async_id(NULL), 0);
  assert_null(uvotel_promise_then(NULL, count_up, NULL, NULL));
  assert_null(uvotel_promise_then_ops(NULL, count_up, NULL, NULL, NULL));
  assert_null(uvotel_promise_all(NULL, 2));
  assert_int_equal(uvotel_next_tick(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_queue_microtask(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_pending_microtasks(), 0);

  uvotel_promise_t *p = uvotel_promise_create(NULL);
  /* settle twice, either way round: the first result stays */
  assert_int_equal(uvotel_promise_resolve(p, V(1)), 0);
  assert_int_equal(uvotel_promise_resolve(p, V(2)), UVOTEL_ESTATE);
  assert_int_equal(uvotel_promise_reject(p, V(3)), UVOTEL_ESTATE);
  assert_int_equal(uvotel_promise_state(p), UVOTEL_PROMISE_FULFILLED);
  assert_int_equal(I(uvotel_promise_value(p)), 1);
  uvotel_promise_t *q = uvotel_promise_create(NULL);
  assert_int_equal(uvotel_promise_adopt(p, q), UVOTEL_ESTATE);
  assert_int_equal(uvotel_promise_adopt(q, q), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_state(q), UVOTEL_PROMISE_PENDING);
  /* a chained promise is settled by its reaction only */
  uvotel_promise_t *c = uvotel_promise_then(p, NULL, NULL, NULL);
  assert_int_equal(uvotel_promise_resolve(c, NULL), UVOTEL_ESTATE);
  assert_int_equal(uvotel_promise_reject(c, NULL), UVOTEL_ESTATE);
  assert_int_equal(uvotel_promise_adopt(c, q), UVOTEL_ESTATE);
  /* another thread's promise */
  pthread_t th;
  pthread_create(&th, NULL, other_thread, q);
  pthread_join(th, NULL);
  /* freed promises (memory still pooled): detected, nothing changes */
  uvotel_promise_unref(q);
  assert_int_equal(uvotel_promise_resolve(q, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_unref(q), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_ref(q), UVOTEL_EINVAL);
  assert_null(uvotel_promise_then(q, count_up, NULL, NULL));
  assert_int_equal(uvotel_promise_adopt(p, q), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_state(q), UVOTEL_EINVAL);
  assert_int_equal(uvotel_promise_async_id(q), 0);
  uvotel_promise_t *ps[2] = {p, q};
  assert_null(uvotel_promise_all(ps, 2));
  assert_int_equal(uvotel_drain_microtasks(), 0); /* c's pass-through reaction */
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
}

static void drain_inside(void *arg) {
  *(int *)arg = uvotel_drain_microtasks();
}

static int g_hook_drain_rc = 1;
static void init_drains(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                        void *resource, void *arg) {
  (void)id, (void)type, (void)trigger, (void)resource, (void)arg;
  g_hook_drain_rc = uvotel_drain_microtasks();
}

static void test_drain_refused_inside_job(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  int rc = 1;
  uvotel_queue_microtask(drain_inside, &rc);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(rc, UVOTEL_EBUSY);
  /* nor from a hook callback: the job queued by the event's cause stays queued */
  uvotel_hook_callbacks_t cbs = {.init = init_drains};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, NULL);
  uvotel_hook_enable(h);
  uvotel_queue_microtask(noop_job, NULL);
  uvotel_hook_free(h);
  assert_int_equal(g_hook_drain_rc, UVOTEL_EBUSY);
  assert_int_equal(uvotel_pending_microtasks(), 1);
  assert_int_equal(uvotel_drain_microtasks(), 0);
  assert_int_equal(uvotel_pending_microtasks(), 0);
}

/* ---- out of memory: NULL / ENOMEM and nothing half-made ---- */

static void test_out_of_memory(void **state) {
  (void)state;
  trace_log_stop(&F->log);
  uvotel_thread_cleanup(); /* empty the pools so the next calls allocate */
  long live0 = counting_alloc_stats().live;
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_promise_create(NULL));
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel_queue_microtask(noop_job, NULL), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel_next_tick(noop_job, NULL), UVOTEL_ENOMEM);
  assert_int_equal(uvotel_pending_microtasks(), 0);
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_promise_then(p, count_up, NULL, NULL)); /* the job */
  counting_alloc_fail_after(1, 1);
  assert_null(uvotel_promise_then(p, count_up, NULL, NULL)); /* the chained promise */
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_promise_all(&p, 1));
  counting_alloc_fail_after(0, 0);
  uvotel_promise_resolve(p, NULL);
  assert_int_equal(uvotel_pending_microtasks(), 0); /* no reaction was left registered */
  uvotel_promise_unref(p);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, live0);
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
      cmocka_unit_test_setup_teardown(test_node_seed001_new_promise, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_seed001_promise_resolve, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_chain_with_adoption, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_tick_and_microtask_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_promise_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_adopt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_node_reject_recover, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drain_after_outermost_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_self_requeue_starves_like_node, setup, teardown),
      cmocka_unit_test_setup_teardown(test_raw_callback_safety_net, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reactions_are_queued, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reaction_results, setup, teardown),
      cmocka_unit_test_setup_teardown(test_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_ownership, setup, teardown),
      cmocka_unit_test_setup_teardown(test_context_rules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_destroy_on_last_unref, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_chain_constant_stack, setup, teardown),
      cmocka_unit_test_setup_teardown(test_steady_state_allocates_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_misuse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_drain_refused_inside_job, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
