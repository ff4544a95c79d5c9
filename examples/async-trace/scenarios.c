/* Seed 000's scenarios: setTimeout, nested setTimeout, clearTimeout, setInterval, and a custom
 * async resource destroyed automatically (last reference dropped) or manually; plus
 * setImmediate. Timeouts are shorter than the seed's; the events are the same. */
#include <stddef.h>

#include <uvotel.h>
#include <uvotel/uv.h>

#include "scenarios.h"

static uv_timer_t timer_a, timer_b;

static void close_timers(uv_loop_t *loop) {
  (void)loop;
  uvotel_close((uv_handle_t *)&timer_a, NULL);
  if (timer_b.loop != NULL) uvotel_close((uv_handle_t *)&timer_b, NULL);
}

/* ---- timeout: setTimeout(() => log('timer callback'), 1000) ---- */

static void timeout_cb(uv_timer_t *t) {
  (void)t;
  scenario_log("timer callback");
}

static void run_timeout(uv_loop_t *loop) {
  uv_timer_init(loop, &timer_a);
  uvotel_timer_start(&timer_a, timeout_cb, 10, 0);
}

/* ---- nested-timeout ---- */

static void inner_cb(uv_timer_t *t) {
  (void)t;
  scenario_log("inner timer callback");
}

static void outer_cb(uv_timer_t *t) {
  scenario_log("outer timer callback");
  uv_timer_init(t->loop, &timer_b);
  uvotel_timer_start(&timer_b, inner_cb, 10, 0);
}

static void run_nested(uv_loop_t *loop) {
  uv_timer_init(loop, &timer_a);
  uvotel_timer_start(&timer_a, outer_cb, 10, 0);
}

/* ---- clear-timeout: clearTimeout(setTimeout(...)) ---- */

static void run_clear(uv_loop_t *loop) {
  uv_timer_init(loop, &timer_a);
  uvotel_timer_start(&timer_a, timeout_cb, 10, 0);
  uvotel_timer_stop(&timer_a);
}

/* ---- interval: setInterval, cleared after three runs ---- */

static int interval_count;

static void interval_cb(uv_timer_t *t) {
  scenario_log("callback executed");
  if (++interval_count >= 3) uvotel_timer_stop(t);
}

static void run_interval(uv_loop_t *loop) {
  uv_timer_init(loop, &timer_a);
  uvotel_timer_start(&timer_a, interval_cb, 10, 10);
}

/* ---- custom resources: class DBQuery extends AsyncResource ---- */

typedef struct dbquery_s {
  uvotel_resource_t res;
  const char *query;
} dbquery_t;

static dbquery_t dbquery;

static void *query_cb(void *arg) {
  (void)arg;
  scenario_log("query executed!");
  return NULL;
}

static void keepalive_cb(uv_timer_t *t) {
  (void)t; /* the seed's setTimeout(..., 9999999): never reached here */
}

/* The seed keeps the process alive with a long timer and is stopped from outside. Here the timer
 * is unreferenced: the loop stays up exactly while the destroy event is pending. */
static void start_keepalive(uv_loop_t *loop) {
  uv_timer_init(loop, &timer_a);
  uvotel_timer_start(&timer_a, keepalive_cb, 9999999, 0);
  uv_unref((uv_handle_t *)&timer_a);
}

static void run_auto_destroy(uv_loop_t *loop) {
  /* requireManualDestroy: false -> destroyed when the last reference goes ("collected"). */
  uvotel_resource_init(&dbquery.res, "DBQUERY", uvotel_execution_async_id(), 0);
  uvotel_resource_run(&dbquery.res, query_cb, NULL);
  uvotel_resource_unref(&dbquery.res); /* nothing refers to dbquery any more */
  start_keepalive(loop);
}

static void run_manual_destroy(uv_loop_t *loop) {
  uvotel_resource_init(&dbquery.res, "DBQUERY", uvotel_execution_async_id(),
                       UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_run(&dbquery.res, query_cb, NULL);
  uvotel_resource_emit_destroy(&dbquery.res); /* dbquery.destroy() */
  start_keepalive(loop);
}

/* ---- immediate: setImmediate(() => log('immediate callback')) ---- */

static uv_check_t check;
static uv_idle_t idle; /* as in Node: keeps poll from blocking while an immediate is pending */

static void idle_cb(uv_idle_t *h) {
  (void)h;
}

static void immediate_cb(uv_check_t *h) {
  scenario_log("immediate callback");
  uvotel_check_stop(h);
  uv_idle_stop(&idle);
}

static void run_immediate(uv_loop_t *loop) {
  uv_check_init(loop, &check);
  uv_idle_init(loop, &idle);
  uv_idle_start(&idle, idle_cb);
  uvotel_check_start(&check, immediate_cb);
}

static void close_immediate(uv_loop_t *loop) {
  (void)loop;
  uvotel_close((uv_handle_t *)&check, NULL);
  uv_close((uv_handle_t *)&idle, NULL);
}

const char *scenario_resource_name(void *resource) {
  if (resource == &dbquery.res) return "DBQuery";
  return NULL;
}

/* promise_scenarios.c */
void run_promise(uv_loop_t *loop);
void run_promise_resolve(uv_loop_t *loop);
void run_promise_chain(uv_loop_t *loop);
void run_microtasks(uv_loop_t *loop);

const scenario_t scenarios[] = {
    {"timeout", "setTimeout", run_timeout, close_timers},
    {"nested-timeout", "setTimeout inside a setTimeout callback", run_nested, close_timers},
    {"clear-timeout", "clearTimeout(setTimeout(...))", run_clear, close_timers},
    {"interval", "setInterval cleared after 3 runs", run_interval, close_timers},
    {"resource-auto-destroy", "AsyncResource destroyed when its last reference goes",
     run_auto_destroy, close_timers},
    {"resource-manual-destroy", "AsyncResource with requireManualDestroy + emitDestroy",
     run_manual_destroy, close_timers},
    {"immediate", "setImmediate", run_immediate, close_immediate},
    {"promise", "new Promise(resolve => resolve(123)).then(log) (seed 001)", run_promise, NULL},
    {"promise-resolve", "Promise.resolve(123).then(log ids) (seed 001)", run_promise_resolve, NULL},
    {"promise-chain", "a .then chain whose second reaction returns a promise", run_promise_chain,
     NULL},
    {"microtasks", "process.nextTick and queueMicrotask order (seed 004)", run_microtasks, NULL},
    {NULL, NULL, NULL, NULL},
};
