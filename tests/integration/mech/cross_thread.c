/* A loop set up on one thread and run on another, as a multi-threaded server sets up each
 * worker's loop on the main thread: the main thread initialises the loop, an async handle, a
 * timer and a listening TCP server, then a worker thread runs the loop; a third thread sends
 * to the async handle. On the worker, the timer connects a client to the server, which echoes
 * one message back. Plain libuv: built as is, with uv_redirect.h, and run under the preload.
 * Prints the same lines every way. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

static uv_loop_t g_loop;
static uv_async_t g_async;
static uv_timer_t g_timer;
static uv_tcp_t g_server, g_accepted, g_client;
static uv_connect_t g_conn;
static uv_write_t g_w1, g_w2;
static uv_fs_t g_fs;
static struct sockaddr_in g_addr;
static int g_async_runs, g_timer_runs, g_echoed, g_fs_done, g_closed;
static pthread_mutex_t g_send_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_async_closed; /* under g_send_mu: no send after the close */
static char g_sbuf[64], g_cbuf[64];

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_closed++;
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)n;
  b->base = h == (uv_handle_t *)&g_accepted ? g_sbuf : g_cbuf;
  b->len = sizeof g_sbuf;
}

static void finish(void) {
  pthread_mutex_lock(&g_send_mu);
  g_async_closed = 1;
  pthread_mutex_unlock(&g_send_mu);
  uv_close((uv_handle_t *)&g_async, on_closed);
  uv_close((uv_handle_t *)&g_client, on_closed);
  uv_close((uv_handle_t *)&g_accepted, on_closed);
  uv_close((uv_handle_t *)&g_server, on_closed);
  uv_close((uv_handle_t *)&g_timer, on_closed);
}

static void client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  (void)s;
  if (nread > 0 && memcmp(b->base, "ping", 4) == 0) {
    g_echoed = 1;
    if (g_async_runs > 0 && g_fs_done) finish();
  }
}

static void written(uv_write_t *w, int status) {
  (void)w;
  if (status != 0) abort();
}

static void server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  if (nread <= 0) return;
  uv_buf_t out = uv_buf_init(b->base, (unsigned)nread);
  uv_write(&g_w2, s, &out, 1, written);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status != 0) abort();
  uv_tcp_init(&g_loop, &g_accepted);
  uv_accept(server, (uv_stream_t *)&g_accepted);
  uv_read_start((uv_stream_t *)&g_accepted, alloc_cb, server_read);
}

static void connected(uv_connect_t *req, int status) {
  (void)req;
  if (status != 0) abort();
  uv_buf_t b = uv_buf_init("ping", 4);
  uv_write(&g_w1, (uv_stream_t *)&g_client, &b, 1, written);
  uv_read_start((uv_stream_t *)&g_client, alloc_cb, client_read);
}

static void fs_done(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
  g_fs_done = 1;
  if (g_async_runs > 0 && g_echoed) finish();
}

static void on_timer(uv_timer_t *t) {
  (void)t;
  g_timer_runs++;
  uv_tcp_init(&g_loop, &g_client);
  uv_tcp_connect(&g_conn, &g_client, (struct sockaddr *)&g_addr, connected);
  uv_fs_stat(&g_loop, &g_fs, "/", fs_done);
}

static void on_async(uv_async_t *a) {
  (void)a;
  if (g_async_runs++ == 0 && g_echoed && g_fs_done) finish();
}

static void *run_loop(void *arg) {
  (void)arg;
  uv_run(&g_loop, UV_RUN_DEFAULT);
  return NULL;
}

static void *sender(void *arg) {
  (void)arg;
  for (;;) {
    pthread_mutex_lock(&g_send_mu);
    int closed = g_async_closed;
    if (!closed) uv_async_send(&g_async);
    pthread_mutex_unlock(&g_send_mu);
    if (closed) return NULL;
    usleep(1000);
  }
}

int main(void) {
  alarm(20); /* a hang is a failure, not a stuck test */
  if (uv_loop_init(&g_loop) != 0) return 1;
  uv_async_init(&g_loop, &g_async, on_async);
  uv_timer_init(&g_loop, &g_timer);
  uv_timer_start(&g_timer, on_timer, 10, 0);
  uv_tcp_init(&g_loop, &g_server);
  uv_ip4_addr("127.0.0.1", 0, &g_addr);
  uv_tcp_bind(&g_server, (struct sockaddr *)&g_addr, 0);
  if (uv_listen((uv_stream_t *)&g_server, 8, on_conn) != 0) return 1;
  int len = sizeof g_addr;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&g_addr, &len);
  pthread_t worker, send_thread;
  pthread_create(&worker, NULL, run_loop, NULL);
  pthread_create(&send_thread, NULL, sender, NULL);
  pthread_join(worker, NULL);
  pthread_join(send_thread, NULL);
  printf("timer runs %d\n", g_timer_runs);
  printf("async ran %s\n", g_async_runs > 0 ? "yes" : "no");
  printf("echoed %d\n", g_echoed);
  printf("fs done %d\n", g_fs_done);
  printf("closed %d\n", g_closed);
  printf("loop close %d\n", uv_loop_close(&g_loop));
  return 0;
}
