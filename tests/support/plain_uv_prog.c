/* A plain libuv program that knows nothing of uvotel (no uvotel header, not linked with it):
 * reads a file, resolves localhost, talks to itself over loopback TCP and sleeps on a timer.
 * tests/integration/test_preload.c runs it with and without libuvotel_preload.so and compares
 * what it prints. Usage: plain_uv_prog FILE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static uv_loop_t *loop;
static uv_fs_t open_req, read_req, close_req;
static char fbuf[4096];
static uv_buf_t fiov;
static uv_getaddrinfo_t gai;
static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t w1, w2;
static uv_timer_t timer;
static char rbuf[256];

static void check(int rc, const char *what) {
  if (rc < 0) {
    fprintf(stderr, "%s: %s\n", what, uv_strerror(rc));
    exit(1);
  }
}

static void on_close_file(uv_fs_t *req) {
  printf("fs close %d\n", (int)req->result);
  uv_fs_req_cleanup(req);
}

static void on_read_file(uv_fs_t *req) {
  printf("fs read %s\n", req->result > 0 ? "some bytes" : "nothing");
  uv_fs_req_cleanup(req);
  check(uv_fs_close(loop, &close_req, (uv_file)open_req.result, on_close_file), "close");
}

static void on_open_file(uv_fs_t *req) {
  check((int)req->result, "open");
  printf("fs open ok\n");
  fiov = uv_buf_init(fbuf, sizeof fbuf);
  check(uv_fs_read(loop, &read_req, (uv_file)req->result, &fiov, 1, 0, on_read_file), "read");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  check(status, "getaddrinfo");
  char ip[64] = "";
  if (res != NULL && res->ai_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
  }
  printf("resolved localhost to %s\n", ip);
  uv_freeaddrinfo(res);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static void on_written(uv_write_t *req, int status) {
  (void)req;
  check(status, "write");
}

static void on_conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("server got %.*s\n", (int)n, buf->base);
    static uv_buf_t pong;
    pong = uv_buf_init("pong", 4);
    check(uv_write(&w2, s, &pong, 1, on_written), "write pong");
  } else if (n < 0) {
    uv_close((uv_handle_t *)s, on_closed);
    uv_close((uv_handle_t *)&server, on_closed);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  check(status, "connection");
  check(uv_tcp_init(loop, &conn), "tcp_init conn");
  check(uv_accept(srv, (uv_stream_t *)&conn), "accept");
  check(uv_read_start((uv_stream_t *)&conn, alloc_cb, on_conn_read), "read_start conn");
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    printf("client got %.*s\n", (int)n, buf->base);
    uv_close((uv_handle_t *)s, on_closed);
  }
}

static void on_connected(uv_connect_t *req, int status) {
  check(status, "connect");
  printf("connected\n");
  static uv_buf_t ping;
  ping = uv_buf_init("ping", 4);
  check(uv_write(&w1, req->handle, &ping, 1, on_written), "write ping");
  check(uv_read_start(req->handle, alloc_cb, on_client_read), "read_start client");
}

static void on_timer(uv_timer_t *t) {
  printf("timer fired\n");
  uv_close((uv_handle_t *)t, on_closed);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s FILE\n", argv[0]);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  loop = uv_default_loop();
  check(uv_fs_open(loop, &open_req, argv[1], UV_FS_O_RDONLY, 0, on_open_file), "open");
  uv_run(loop, UV_RUN_DEFAULT);
  uv_fs_req_cleanup(&open_req);

  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  check(uv_getaddrinfo(loop, &gai, on_resolved, "localhost", NULL, &hints), "getaddrinfo");
  uv_run(loop, UV_RUN_DEFAULT);

  struct sockaddr_in addr;
  check(uv_ip4_addr("127.0.0.1", 0, &addr), "ip4_addr");
  check(uv_tcp_init(loop, &server), "tcp_init");
  check(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0), "bind");
  check(uv_listen((uv_stream_t *)&server, 8, on_connection), "listen");
  struct sockaddr_storage ss;
  int len = sizeof ss;
  check(uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len), "getsockname");
  check(uv_tcp_init(loop, &client), "tcp_init client");
  check(uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&ss, on_connected),
        "connect");
  uv_run(loop, UV_RUN_DEFAULT);

  check(uv_timer_init(loop, &timer), "timer_init");
  check(uv_timer_start(&timer, on_timer, 1, 0), "timer_start");
  uv_run(loop, UV_RUN_DEFAULT);

  printf("loop close %d\n", uv_loop_close(loop));
  return 0;
}
