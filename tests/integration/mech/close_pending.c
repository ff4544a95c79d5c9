/* A program that closes a handle, frees the state its close callback would use, and calls
 * uv_loop_close without running the loop again -- as a resolver does at SIGTERM: it gets
 * UV_EBUSY and exits. uvotel must not run the loop (and with it the close callback) behind its
 * back. Plain libuv: built as is, with uv_redirect.h, and run under the preload. Prints the
 * same lines every way. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <uv.h>

typedef struct state_s {
  int magic;
} state_t;

static uv_loop_t g_loop;
static uv_timer_t g_timer;
static state_t *g_state;

static void on_closed(uv_handle_t *h) {
  (void)h;
  /* Freed before uv_loop_close: running this now is the bug the program cannot survive. */
  printf("close callback ran\n");
  fflush(stdout);
  abort();
}

static void on_timer(uv_timer_t *t) {
  (void)t;
}

int main(void) {
  alarm(20);
  if (uv_loop_init(&g_loop) != 0) return 1;
  g_state = malloc(sizeof *g_state);
  g_state->magic = 42;
  uv_timer_init(&g_loop, &g_timer);
  uv_timer_start(&g_timer, on_timer, 1, 0);
  printf("run %d\n", uv_run(&g_loop, UV_RUN_DEFAULT));
  uv_close((uv_handle_t *)&g_timer, on_closed);
  free(g_state);
  int rc = uv_loop_close(&g_loop);
  printf("loop close %s\n", rc == UV_EBUSY ? "EBUSY" : rc == 0 ? "0" : uv_err_name(rc));
  printf("alive %d\n", uv_loop_alive(&g_loop));
  return 0;
}
