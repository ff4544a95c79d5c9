/* A plain libuv program that knows nothing of uvotel (no uvotel header, not linked with it) and
 * logs the way C daemons do: syslog(3) and lines on stderr. It serves one loopback TCP request
 * to itself; the server's read callback logs. tests/integration/test_preload_logs.c runs it with
 * and without libuvotel_preload.so (UVOTEL_LOGS=all) and compares what it writes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t wreq;
static uv_timer_t timer;
static char rbuf[256];

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", what, uv_strerror(rc));
    exit(1);
  }
}

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h, (void)s;
  *b = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n <= 0) {
    uv_close((uv_handle_t *)s, NULL);
    return;
  }
  errno = ENOENT;
  syslog(LOG_WARNING, "request of %zd bytes: %m", n); /* %m: errno's message */
  fprintf(stderr, "error: handled %zd bytes\n", n);
  (void)!write(2, "partial ", 8); /* one line in two writes */
  (void)!write(2, "line\n", 5);
  printf("server read %zd\n", n);
  uv_close((uv_handle_t *)s, NULL);
  uv_close((uv_handle_t *)&server, NULL);
}

static void on_connection(uv_stream_t *srv, int status) {
  check(status, "connection");
  check(uv_tcp_init(loop, &conn), "tcp init");
  check(uv_accept(srv, (uv_stream_t *)&conn), "accept");
  check(uv_read_start((uv_stream_t *)&conn, alloc_cb, on_server_read), "read");
}

static void on_written(uv_write_t *w, int status) {
  check(status, "write");
  uv_close((uv_handle_t *)w->handle, NULL);
}

static void on_connect(uv_connect_t *req, int status) {
  check(status, "connect");
  uv_buf_t b = uv_buf_init("ping", 4);
  check(uv_write(&wreq, req->handle, &b, 1, on_written), "write");
}

static void on_timer(uv_timer_t *t) {
  syslog(LOG_ERR, "timer fired"); /* no span is current here */
  uv_close((uv_handle_t *)t, NULL);
}

int main(void) {
  openlog("plainsys", LOG_PID, LOG_DAEMON);
  loop = uv_default_loop();
  check(uv_timer_init(loop, &timer), "timer init");
  check(uv_timer_start(&timer, on_timer, 1, 0), "timer start");
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  check(uv_tcp_init(loop, &server), "tcp init");
  check(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0), "bind");
  int len = sizeof addr;
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  check(uv_listen((uv_stream_t *)&server, 4, on_connection), "listen");
  check(uv_tcp_init(loop, &client), "tcp init");
  check(uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&addr, on_connect),
        "connect");
  uv_run(loop, UV_RUN_DEFAULT);
  fputs("[WARN] shutting down\n", stderr);
  closelog();
  printf("loop close %d\n", uv_loop_close(loop));
  return 0;
}
