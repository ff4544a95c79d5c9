/* Seed 001's promise scenarios (uvotel/promise.h), plus a chain and the next-tick / microtask
 * queues of seed 004. Each run() is the program's top level: like Node after the main module, it
 * drains the next-tick and microtask queues before returning to the loop. Node reports no
 * promise destroys (it would at garbage collection); ours come when a promise's last reference
 * goes, in the loop's check phase, and are the only lines Node's output does not have. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include <uvotel.h>

#include "scenarios.h"

#define V(x) ((void *)(intptr_t)(x))
#define I(p) ((int)(intptr_t)(p))

static void log_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_fmt(const char *fmt, ...) {
  char line[128];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  scenario_log(line);
}

/* ---- promise: new Promise(resolve => { resolve(123); }).then(data => { log(data); }) ---- */

static uvotel_reaction_t print_data(void *value, void *arg) {
  (void)arg;
  log_fmt("%d", I(value));
  return uvotel_reaction_value(NULL);
}

void run_promise(uv_loop_t *loop) {
  (void)loop;
  uvotel_promise_t *p = uvotel_promise_create(NULL);
  uvotel_promise_resolve(p, V(123)); /* the executor calls resolve(123) */
  uvotel_promise_t *c = uvotel_promise_then(p, print_data, NULL, NULL);
  /* The program keeps neither promise; the queued reaction holds what it needs. */
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  uvotel_drain_microtasks(); /* end of the main module */
}

/* ---- promise-resolve: Promise.resolve(123).then(() => log(`asyncId ... triggerId ...`)) ---- */

static uvotel_reaction_t print_ids(void *value, void *arg) {
  (void)value;
  (void)arg;
  log_fmt("asyncId %llu triggerId %llu", (unsigned long long)uvotel_execution_async_id(),
          (unsigned long long)uvotel_trigger_async_id());
  return uvotel_reaction_value(NULL);
}

void run_promise_resolve(uv_loop_t *loop) {
  (void)loop;
  uvotel_promise_t *p = uvotel_promise_resolved(V(123), NULL);
  uvotel_promise_t *c = uvotel_promise_then(p, print_ids, NULL, NULL);
  uvotel_promise_unref(p);
  uvotel_promise_unref(c);
  uvotel_drain_microtasks();
}

/* ---- promise-chain:
 *   Promise.resolve(1)
 *     .then(v => { log(`r1 ${v}`); return v + 1; })
 *     .then(v => { log(`r2 ${v}`); return new Promise(r => r(v * 10)); })
 *     .then(v => { log(`r3 ${v}`); });
 *   log('top');
 * The second reaction returns a promise, which the chained promise adopts (V8's two jobs). */

static uvotel_reaction_t r1(void *value, void *arg) {
  (void)arg;
  log_fmt("r1 %d eid %llu", I(value), (unsigned long long)uvotel_execution_async_id());
  return uvotel_reaction_value(V(I(value) + 1));
}

static uvotel_reaction_t r2(void *value, void *arg) {
  (void)arg;
  log_fmt("r2 %d eid %llu", I(value), (unsigned long long)uvotel_execution_async_id());
  uvotel_promise_t *q = uvotel_promise_create(NULL);
  uvotel_promise_resolve(q, V(I(value) * 10));
  return uvotel_reaction_promise(q); /* hands its reference to the chain */
}

static uvotel_reaction_t r3(void *value, void *arg) {
  (void)arg;
  log_fmt("r3 %d eid %llu", I(value), (unsigned long long)uvotel_execution_async_id());
  return uvotel_reaction_value(NULL);
}

void run_promise_chain(uv_loop_t *loop) {
  (void)loop;
  uvotel_promise_t *p = uvotel_promise_resolved(V(1), NULL);
  uvotel_promise_t *c1 = uvotel_promise_then(p, r1, NULL, NULL);
  uvotel_promise_t *c2 = uvotel_promise_then(c1, r2, NULL, NULL);
  uvotel_promise_t *c3 = uvotel_promise_then(c2, r3, NULL, NULL);
  scenario_log("top");
  uvotel_promise_unref(p);
  uvotel_promise_unref(c1);
  uvotel_promise_unref(c2);
  uvotel_promise_unref(c3);
  uvotel_drain_microtasks();
}

/* ---- microtasks:
 *   process.nextTick(() => { log('tick'); queueMicrotask(() => log('mt2'));
 *                            process.nextTick(() => log('tick2')); });
 *   queueMicrotask(() => { log('mt'); process.nextTick(() => log('tick3')); });
 *   log('top');
 * Every tick first, then every microtask, and again until both queues are empty (seed 004). */

static void say(void *arg) {
  scenario_log(arg);
}

static void tick(void *arg) {
  (void)arg;
  scenario_log("tick");
  uvotel_queue_microtask(say, "mt2");
  uvotel_next_tick(say, "tick2");
}

static void microtask(void *arg) {
  (void)arg;
  scenario_log("mt");
  uvotel_next_tick(say, "tick3");
}

void run_microtasks(uv_loop_t *loop) {
  (void)loop;
  uvotel_next_tick(tick, NULL);
  uvotel_queue_microtask(microtask, NULL);
  scenario_log("top");
  uvotel_drain_microtasks();
}
