/* A plain libuv HTTP server with no uvotel in it (no uvotel header, not linked with uvotel),
 * doing what http-service's GET /work does: read a file, resolve localhost, sleep 1 ms on a
 * timer, answer JSON. bench_http runs it bare and under libuvotel_preload.so.
 * Usage: plain_http_server --port N --file PATH; prints "listening on 127.0.0.1:PORT", and at
 * exit (SIGTERM) "requests R responses W write_errors E": requests parsed, responses whose write
 * completed, and writes that failed (bench_http compares R with the spans delivered). */
#include <fcntl.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

typedef struct conn_s {
  uv_tcp_t tcp;
  http_parser parser;
  int busy, closing, keep_alive;
  uv_fs_t fs;
  uv_file fd;
  char buf[4096];
  ssize_t nread;
  uv_getaddrinfo_t gai;
  uv_timer_t timer;
  uv_write_t w;
  char out[512];
} conn_t;

static uv_loop_t *g_loop;
static const char *g_file;
static uv_signal_t g_sig;
static uv_tcp_t g_server;
static unsigned long g_requests, g_responses, g_write_errors;

static void on_conn_closed(uv_handle_t *h) {
  free(h->data);
}

static void on_timer_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void conn_close(conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  c->timer.data = c;
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void on_written(uv_write_t *w, int status) {
  conn_t *c = w->data;
  c->busy = 0;
  if (status == 0)
    g_responses++;
  else
    g_write_errors++;
  if (status < 0 || !c->keep_alive) conn_close(c);
}

static void respond(conn_t *c) {
  char body[128];
  int bl = snprintf(body, sizeof body, "{\"bytes\":%zd}", c->nread);
  int n = snprintf(c->out, sizeof c->out,
                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                   "Connection: %s\r\n\r\n%s",
                   bl, c->keep_alive ? "keep-alive" : "close", body);
  uv_buf_t b = uv_buf_init(c->out, (unsigned)n);
  c->w.data = c;
  if (uv_write(&c->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) conn_close(c);
}

static void on_slept(uv_timer_t *t) {
  respond(t->data);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)status;
  conn_t *c = req->data;
  uv_freeaddrinfo(res);
  c->timer.data = c;
  uv_timer_start(&c->timer, on_slept, 1, 0);
}

static void on_fs_closed(uv_fs_t *req) {
  conn_t *c = req->data;
  uv_fs_req_cleanup(req);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  c->gai.data = c;
  uv_getaddrinfo(g_loop, &c->gai, on_resolved, "localhost", NULL, &hints);
}

static void on_fs_read(uv_fs_t *req) {
  conn_t *c = req->data;
  c->nread = req->result;
  uv_fs_req_cleanup(req);
  req->data = c;
  uv_fs_close(g_loop, &c->fs, c->fd, on_fs_closed);
}

static void on_fs_open(uv_fs_t *req) {
  conn_t *c = req->data;
  c->fd = (uv_file)req->result;
  uv_fs_req_cleanup(req);
  req->data = c;
  uv_buf_t b = uv_buf_init(c->buf, sizeof c->buf);
  uv_fs_read(g_loop, &c->fs, c->fd, &b, 1, 0, on_fs_read);
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  c->keep_alive = http_should_keep_alive(p);
  c->busy = 1;
  g_requests++;
  c->fs.data = c;
  uv_fs_open(g_loop, &c->fs, g_file, O_RDONLY, 0, on_fs_open);
  return 0;
}

static const http_parser_settings g_settings = {.on_message_complete = on_message_complete};

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (n < 0) {
    if (!c->busy)
      conn_close(c);
    else
      c->keep_alive = 0;
    return;
  }
  size_t done = http_parser_execute(&c->parser, &g_settings, buf->base, (size_t)n);
  if (done != (size_t)n) conn_close(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0) return;
  conn_t *c = calloc(1, sizeof *c);
  uv_tcp_init(g_loop, &c->tcp);
  uv_timer_init(g_loop, &c->timer);
  c->tcp.data = c;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  uv_close((uv_handle_t *)&g_server, NULL);
  uv_close((uv_handle_t *)s, NULL);
  uv_stop(g_loop);
}

int main(int argc, char **argv) {
  int port = 0;
  g_file = argv[0];
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--port") == 0) port = atoi(argv[i + 1]);
    if (strcmp(argv[i], "--file") == 0) g_file = argv[i + 1];
  }
  g_loop = uv_default_loop();
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uv_tcp_init(g_loop, &g_server);
  if (uv_tcp_bind(&g_server, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&g_server, 511, on_connection) != 0) {
    return 1;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&ss, &len);
  uv_signal_init(g_loop, &g_sig);
  uv_signal_start(&g_sig, on_signal, SIGTERM);
  printf("listening on 127.0.0.1:%d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
  fflush(stdout);
  uv_run(g_loop, UV_RUN_DEFAULT);
  printf("requests %lu responses %lu write_errors %lu\n", g_requests, g_responses, g_write_errors);
  fflush(stdout);
  return 0;
}
