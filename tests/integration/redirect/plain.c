/* A plain libuv program: no uvotel in it. tests/CMakeLists.txt builds it twice, as is and with
 * `-include uvotel/uv_redirect.h` (the one-line instrumentation), and test_uv_redirect checks
 * that both print the same and that the second one raises events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static uv_loop_t loop;
static uv_timer_t timer;
static uv_check_t check;
static uv_idle_t idle;
static uv_fs_t fs_req;
static uv_getaddrinfo_t gai;
static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t w1, w2;
static uv_shutdown_t sd;
static uv_work_t work;
static uv_async_t async;
static uv_thread_t thread;
static const char *self;
static int work_result;
static char rbuf[256];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void closed(uv_handle_t *h) {
  printf("closed %s\n", uv_handle_type_name(h->type));
}

static void server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("server got %.*s\n", (int)n, buf->base);
    uv_buf_t b = uv_buf_init("pong", 4);
    uv_write(&w2, s, &b, 1, NULL);
  } else if (n == UV_EOF) {
    printf("server eof\n");
    uv_close((uv_handle_t *)s, closed);
    uv_close((uv_handle_t *)&server, closed);
  }
}

static void on_connection(uv_stream_t *s, int status) {
  printf("connection %d\n", status);
  uv_tcp_init(&loop, &conn);
  uv_accept(s, (uv_stream_t *)&conn);
  uv_read_start((uv_stream_t *)&conn, alloc_cb, server_read);
}

static void shutdown_cb(uv_shutdown_t *req, int status) {
  printf("shutdown %d\n", status);
  uv_close((uv_handle_t *)req->handle, closed);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("client got %.*s\n", (int)n, buf->base);
    uv_read_stop(s);
    uv_shutdown(&sd, s, shutdown_cb);
  }
}

static void write_cb(uv_write_t *req, int status) {
  (void)req;
  printf("write %d\n", status);
}

static void on_connect(uv_connect_t *req, int status) {
  printf("connected %d\n", status);
  uv_buf_t b = uv_buf_init("ping", 4);
  uv_write(&w1, req->handle, &b, 1, write_cb);
  uv_read_start(req->handle, alloc_cb, client_read);
}

static void start_tcp(void) {
  struct sockaddr_in addr, name;
  int len = sizeof name;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(&loop, &server);
  uv_tcp_bind(&server, (struct sockaddr *)&addr, 0);
  uv_listen((uv_stream_t *)&server, 8, on_connection);
  uv_tcp_getsockname(&server, (struct sockaddr *)&name, &len);
  uv_tcp_init(&loop, &client);
  uv_tcp_connect(&connect_req, &client, (struct sockaddr *)&name, on_connect);
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  printf("getaddrinfo %d\n", status);
  uv_freeaddrinfo(res);
  start_tcp();
}

static void stat_cb(uv_fs_t *req) {
  printf("stat %d size>0 %d\n", (int)req->result, req->statbuf.st_size > 0);
  uv_fs_req_cleanup(req);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  uv_getaddrinfo(&loop, &gai, gai_cb, "localhost", NULL, &hints);
}

static void work_cb(uv_work_t *req) {
  (void)req;
  work_result = 42;
}

static void after_work(uv_work_t *req, int status) {
  (void)req;
  printf("work %d %d\n", status, work_result);
}

static void async_cb(uv_async_t *h) {
  printf("async\n");
  uv_close((uv_handle_t *)h, closed);
}

static void sender(void *arg) {
  (void)arg;
  uv_async_send(&async);
}

static void check_cb(uv_check_t *h) {
  printf("check\n");
  uv_check_stop(h);
  uv_close((uv_handle_t *)h, closed);
}

static void idle_cb(uv_idle_t *h) {
  printf("idle\n");
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, closed);
}

static void timer_cb(uv_timer_t *h) {
  printf("timer\n");
  uv_close((uv_handle_t *)h, closed);
  uv_fs_stat(&loop, &fs_req, self, stat_cb);
}

int main(int argc, char **argv) {
  (void)argc;
  self = argv[0];
  setvbuf(stdout, NULL, _IONBF, 0);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &timer);
  uv_timer_start(&timer, timer_cb, 1, 0);
  uv_check_init(&loop, &check);
  uv_check_start(&check, check_cb);
  uv_idle_init(&loop, &idle);
  uv_idle_start(&idle, idle_cb);
  uv_queue_work(&loop, &work, work_cb, after_work);
  uv_async_init(&loop, &async, async_cb);
  uv_thread_create(&thread, sender, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_thread_join(&thread);
  printf("loop_close %d\n", uv_loop_close(&loop));
  return 0;
}
