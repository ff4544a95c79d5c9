/* context-demo --chained: the same program with a promise chain (uvotel/promise.h).
 *
 * The JavaScript it mirrors (Node 20 prints the same lines):
 *
 *   let shared, resolveP;
 *   try {
 *     shared = { key: 123 };
 *     als.run({ key: 123 }, () => {
 *       new Promise((r) => { resolveP = r; })
 *         .then((v) => { log('step 1 sees', als.getStore());
 *                        return new Promise((r) => setTimeout(() => r(v + 1), 0)); })
 *         .then(implicit);
 *     });
 *   } finally { shared = undefined; }
 *   setTimeout(() => { log('resolver sees', als.getStore()); resolveP(1); }, 0);
 *
 * The promise is resolved from a timer registered outside the context, so its callback sees no
 * value; the reactions still see it, because a reaction runs in the context current when `then`
 * was called, not in the resolver's. The second step waits on a promise resolved by a timer that
 * the first reaction started, so the value also crosses a timer inside the chain. */
#include <stdint.h>
#include <stdio.h>

#include <uvotel.h>
#include <uvotel/uv.h>

#include "chained.h"

typedef struct value_s {
  int key;
} value_t;

static const value_t *shared;
static uvotel_var_t *als;
static uvotel_promise_t *to_resolve; /* resolveP */
static uvotel_promise_t *inner;      /* the promise step 1 returns */
static intptr_t inner_value;         /* v + 1 */
static uv_timer_t resolver_timer, inner_timer;
static int ok;

static const char *store_text(void) {
  const value_t *store = uvotel_var_get(als);
  return store != NULL && store->key == 123 ? "{\"key\":123}" : "undefined";
}

static void inner_timer_cb(uv_timer_t *t) {
  (void)t;
  uvotel_promise_resolve(inner, (void *)inner_value); /* r(v + 1) */
  uvotel_promise_unref(inner);
  inner = NULL;
  uvotel_close((uv_handle_t *)&inner_timer, NULL);
}

static uvotel_reaction_t step1(void *value, void *arg) {
  (void)arg;
  printf("step 1 sees %s\n", store_text());
  ok = uvotel_var_get(als) != NULL;
  /* return new Promise((r) => setTimeout(() => r(v + 1), 0)) */
  inner_value = (intptr_t)value + 1;
  inner = uvotel_promise_create(NULL);
  uvotel_promise_ref(inner); /* one for the timer, one handed to the chain */
  uv_timer_init(resolver_timer.loop, &inner_timer);
  uvotel_timer_start(&inner_timer, inner_timer_cb, 0, 0);
  return uvotel_reaction_promise(inner);
}

static uvotel_reaction_t implicit(void *value, void *arg) {
  (void)arg;
  printf("--- Inside implicit (end of the chain), value %d ---\n", (int)(intptr_t)value);
  printf("Value from the context variable: %s\n", store_text());
  printf("Value of global 'shared': %s\n", shared ? "{\"key\":123}" : "undefined");
  ok = ok && uvotel_var_get(als) != NULL && shared == NULL && (intptr_t)value == 2;
  return uvotel_reaction_value(NULL);
}

static void *in_context(void *arg) {
  (void)arg;
  to_resolve = uvotel_promise_create(NULL);
  uvotel_promise_t *c1 = uvotel_promise_then(to_resolve, step1, NULL, NULL);
  uvotel_promise_t *c2 = uvotel_promise_then(c1, implicit, NULL, NULL);
  uvotel_promise_unref(c1); /* the chain holds its links */
  uvotel_promise_unref(c2);
  return NULL;
}

static void resolver_cb(uv_timer_t *t) {
  (void)t;
  printf("resolver sees %s\n", store_text());
  uvotel_promise_resolve(to_resolve, (void *)1); /* resolveP(1) */
  uvotel_promise_unref(to_resolve);
  to_resolve = NULL;
  uvotel_close((uv_handle_t *)&resolver_timer, NULL);
  /* the reactions run when this callback returns, before the loop moves on */
}

int chained_demo(uv_loop_t *loop, uvotel_var_t *var) {
  static const value_t value = {123};
  als = var;
  ok = 0;
  /* try { */
  shared = &value;
  uvotel_var_run(als, (void *)&value, in_context, NULL);
  /* } finally { */
  shared = NULL;
  /* } */
  uv_timer_init(loop, &resolver_timer);
  uvotel_timer_start(&resolver_timer, resolver_cb, 0, 0);
  uvotel_drain_microtasks(); /* the end of the main module */
  uv_run(loop, UV_RUN_DEFAULT);
  return ok;
}
