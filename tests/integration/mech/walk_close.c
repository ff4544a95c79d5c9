/* A program that, at exit, walks its loop and closes every handle it finds, as the Lua and
 * Python bindings do, then checks what uv_run and uv_loop_alive say. Handles uvotel adds must
 * not be seen (nor closed twice). Plain libuv: built as is, with uv_redirect.h, and run under
 * the preload. Prints the same lines every way. */
#include <stdio.h>
#include <unistd.h>

#include <uv.h>

static uv_loop_t g_loop;
static uv_timer_t g_timer;
static uv_check_t g_check;
static uv_idle_t g_idle;
static uv_fs_t g_fs;
static int g_walked, g_closed, g_fired;

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_closed++;
}

static void close_all(uv_handle_t *h, void *arg) {
  (void)arg;
  g_walked++;
  if (!uv_is_closing(h)) uv_close(h, on_closed);
}

static void on_timer(uv_timer_t *t) {
  (void)t;
  g_fired++;
}

static void on_check(uv_check_t *c) {
  uv_check_stop(c);
}

static void on_idle(uv_idle_t *i) {
  uv_idle_stop(i);
}

static void fs_done(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
}

int main(void) {
  alarm(20);
  if (uv_loop_init(&g_loop) != 0) return 1;
  uv_timer_init(&g_loop, &g_timer);
  uv_timer_start(&g_timer, on_timer, 1, 0);
  uv_check_init(&g_loop, &g_check);
  uv_check_start(&g_check, on_check);
  uv_idle_init(&g_loop, &g_idle);
  uv_idle_start(&g_idle, on_idle);
  uv_fs_stat(&g_loop, &g_fs, "/", fs_done);
  printf("run %d\n", uv_run(&g_loop, UV_RUN_DEFAULT));
  /* Nothing of the program's is active now. */
  printf("alive %d\n", uv_loop_alive(&g_loop));
  printf("nowait %d\n", uv_run(&g_loop, UV_RUN_NOWAIT));
  uv_walk(&g_loop, close_all, NULL);
  printf("walked %d\n", g_walked);
  printf("run %d\n", uv_run(&g_loop, UV_RUN_DEFAULT));
  printf("closed %d fired %d\n", g_closed, g_fired);
  g_walked = 0;
  uv_walk(&g_loop, close_all, NULL);
  printf("walked after %d\n", g_walked);
  printf("loop close %d\n", uv_loop_close(&g_loop));
  return 0;
}
