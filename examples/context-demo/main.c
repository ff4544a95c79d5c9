/* context-demo: seed 003's program in C.
 *
 * program() sets a global, schedules implicit() on a timer, and resets the global in a
 * finally-like step, so by the time the timer fires the global is gone. The same value set in an
 * async-context variable around the timer's registration is still there: the timer callback
 * runs in the context that was current when it was registered.
 *
 * Exit status 0 when that is what happened. */
#include <stdio.h>
#include <string.h>

#include <uvotel.h>
#include <uvotel/uv.h>

#include "chained.h"

typedef struct value_s {
  int key;
} value_t;

static const value_t *shared; /* the global of the seed */
static uvotel_var_t *als;     /* the AsyncLocalStorage / AsyncContext.Variable */
static uv_timer_t timer;
static int ok;

static void implicit(uv_timer_t *t) {
  (void)t;
  printf("\n--- Inside implicit function ---\n");
  const value_t *store = uvotel_var_get(als);
  printf("Value from the context variable: %s\n", store ? "{\"key\":123}" : "(none)");
  printf("Value of global 'shared' variable: %s\n", shared ? "{\"key\":123}" : "undefined");
  ok = store != NULL && store->key == 123 && shared == NULL;
  uvotel_close((uv_handle_t *)&timer, NULL);
}

static void *in_context(void *arg) {
  const value_t *store = uvotel_var_get(als);
  printf("[var_run] Store is set: {\"key\":%d}\n", store->key);
  uvotel_timer_start(&timer, implicit, 0, 0); /* setTimeout(implicit, 0) */
  (void)arg;
  return NULL;
}

static void program(uv_loop_t *loop) {
  static const value_t value = {123};
  printf("Inside program.\n");
  uv_timer_init(loop, &timer);
  /* try { */
  shared = &value;
  printf("[Try Block] Set global shared = {\"key\":%d}\n", shared->key);
  uvotel_var_run(als, (void *)&value, in_context, NULL);
  /* } finally { */
  printf("[Finally Block] Resetting global shared from {\"key\":%d} to undefined.\n", shared->key);
  shared = NULL;
  /* } */
  printf("Exiting program.\n");
}

int main(int argc, char **argv) {
  /* --chained: the same program with a promise chain (chained.c). */
  int chained = argc > 1 && strcmp(argv[1], "--chained") == 0;
  uv_loop_t loop;
  uv_loop_init(&loop);
  als = uvotel_var_create("store", NULL, NULL);
  if (als == NULL) return 1;
  if (chained) {
    ok = chained_demo(&loop, als);
  } else {
    program(&loop);
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  uvotel_loop_close(&loop);
  int rc = uv_loop_close(&loop);
  uvotel_var_free(als);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  printf("\n%s\n", ok ? "OK: the context variable survived the trip through the loop; the global "
                        "did not."
                      : "FAILED: the context variable was lost.");
  return ok && rc == 0 ? 0 : 1;
}
