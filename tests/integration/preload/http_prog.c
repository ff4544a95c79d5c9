/* A plain libuv HTTP/1.1 server (no uvotel header, not linked with uvotel) and its clients, in
 * one process on 127.0.0.1, for test_preload_http. The server answers each request (found by
 * its blank line and Content-Length) with the request's path as the body: /fail gives 500,
 * /chunked a chunked body, a HEAD no body; it answers keep-alive requests from an fs callback
 * registered in the read callback, and writes some responses in two uv_write calls. Clients:
 *   A  keep-alive: 3 requests, each sent once the previous response arrived
 *   B  pipelined: 4 requests in one write
 *   C  malformed: a header line without a colon (the server does not care and answers)
 * Every request carries traceparent 00-<TRACE>-<id>-01 (ids 01..07, C: 08). Each client prints
 * what it received when its connection ends; stdout is the same with or without uvotel. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

static uv_loop_t *loop;
static uv_tcp_t server;
static int port;
static int clients_done;

/* ---- server ---- */

typedef struct sconn_s {
  uv_tcp_t tcp;
  char buf[65536];
  size_t len;
  int closing;
} sconn_t;

typedef struct sreq_s {
  uv_fs_t fs;
  sconn_t *c;
  char path[256];
  int head, close;
} sreq_t;

typedef struct wr_s {
  uv_write_t w;
  char data[1024];
  sconn_t *c;
  int close;
} wr_t;

static void on_sclose(uv_handle_t *h) {
  free(h->data);
}

static void on_written(uv_write_t *w, int status) {
  wr_t *wr = (wr_t *)w;
  (void)status;
  if (wr->close && !uv_is_closing((uv_handle_t *)&wr->c->tcp)) {
    uv_close((uv_handle_t *)&wr->c->tcp, on_sclose);
  }
  free(wr);
}

static void put(sconn_t *c, const char *data, size_t n, int close) {
  wr_t *wr = calloc(1, sizeof *wr);
  memcpy(wr->data, data, n);
  wr->c = c;
  wr->close = close;
  uv_buf_t b = uv_buf_init(wr->data, (unsigned)n);
  uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

static void respond(sconn_t *c, const char *path, int head, int close) {
  char hdr[512], body[300];
  if (strcmp(path, "/chunked") == 0) {
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nchun\r\n");
    put(c, hdr, (size_t)n, 0);
    put(c, "3\r\nked\r\n0\r\n\r\n", 13, close);
    return;
  }
  int status = strcmp(path, "/fail") == 0 ? 500 : 200;
  int bl = snprintf(body, sizeof body, "%s", path);
  int n = snprintf(hdr, sizeof hdr, "HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n", status,
                   status == 200 ? "OK" : "Internal Server Error", bl,
                   close ? "Connection: close\r\n" : "");
  if (head) {
    put(c, hdr, (size_t)n, close);
  } else {
    put(c, hdr, (size_t)n, 0); /* the head and the body in two writes */
    put(c, body, (size_t)bl, close);
  }
}

static void on_stat(uv_fs_t *fs) {
  sreq_t *r = (sreq_t *)fs;
  uv_fs_req_cleanup(fs);
  respond(r->c, r->path, r->head, r->close);
  free(r);
}

/* Handle every complete request in c->buf. */
static void serve(sconn_t *c) {
  for (;;) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (end == NULL) return;
    size_t hl = (size_t)(end - c->buf) + 4;
    size_t cl = 0;
    char *clh = memmem(c->buf, hl, "Content-Length: ", 16);
    if (clh != NULL) cl = strtoul(clh + 16, NULL, 10);
    if (c->len < hl + cl) return;
    char method[16] = "", path[256] = "";
    if (sscanf(c->buf, "%15s %255s", method, path) != 2) return;
    char *q = strchr(path, '?');
    if (q != NULL) *q = '\0';
    int close = memmem(c->buf, hl, "Connection: close", 17) != NULL;
    int head = strcmp(method, "HEAD") == 0;
    memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
    c->len -= hl + cl;
    if (strncmp(path, "/ka/", 4) == 0 || strcmp(path, "/fail") == 0) {
      sreq_t *r = calloc(1, sizeof *r);
      r->c = c;
      snprintf(r->path, sizeof r->path, "%s", path);
      r->head = head;
      r->close = close;
      char fpath[300];
      snprintf(fpath, sizeof fpath, "/nonexistent.uvotel%s", path);
      uv_fs_stat(loop, &r->fs, fpath, on_stat);
    } else {
      respond(c, path, head, close);
    }
  }
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void on_sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sconn_t *c = s->data;
  if (nread > 0 && c->len + (size_t)nread <= sizeof c->buf) {
    memcpy(c->buf + c->len, buf->base, (size_t)nread);
    c->len += (size_t)nread;
    serve(c);
  } else if (nread < 0 && !uv_is_closing((uv_handle_t *)s)) {
    uv_close((uv_handle_t *)s, on_sclose);
  }
  free(buf->base);
}

static void on_conn(uv_stream_t *srv, int status) {
  if (status != 0) return;
  sconn_t *c = calloc(1, sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    uv_close((uv_handle_t *)&c->tcp, on_sclose);
    return;
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_sread);
}

/* ---- clients ---- */

typedef struct client_s {
  const char *name;
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t w[8];
  const char *reqs[8];
  const char *expect[8]; /* keep-alive: the body that ends each response */
  int nreq, sent, keepalive;
  char got[8192];
  size_t len;
} client_t;

static client_t clients[3];

static void on_cclose(uv_handle_t *h) {
  (void)h;
  if (++clients_done == 3) uv_close((uv_handle_t *)&server, NULL);
}

static void send_next(client_t *c, int all) {
  while (c->sent < c->nreq) {
    uv_buf_t b = uv_buf_init((char *)c->reqs[c->sent], (unsigned)strlen(c->reqs[c->sent]));
    uv_write(&c->w[c->sent], (uv_stream_t *)&c->tcp, &b, 1, NULL);
    c->sent++;
    if (!all) return;
  }
}

static int count(const char *s, size_t n, const char *what) {
  int k = 0;
  size_t wl = strlen(what);
  for (const char *p = s; (p = memmem(p, n - (size_t)(p - s), what, wl)) != NULL; p += wl) k++;
  return k;
}

static void on_cread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  client_t *c = s->data;
  if (nread > 0) {
    if (c->len + (size_t)nread < sizeof c->got) {
      memcpy(c->got + c->len, buf->base, (size_t)nread);
      c->len += (size_t)nread;
    }
    /* keep-alive: the next request once every response sent so far has its body */
    const char *want = c->sent > 0 && c->expect[c->sent - 1] != NULL ? c->expect[c->sent - 1] : "";
    size_t wl = strlen(want);
    if (c->keepalive && count(c->got, c->len, "HTTP/1.1 ") == c->sent && c->len >= wl &&
        memcmp(c->got + c->len - wl, want, wl) == 0) {
      send_next(c, 0);
    }
  } else if (nread < 0) {
    printf("client %s got:\n%.*s\n--\n", c->name, (int)c->len, c->got);
    uv_close((uv_handle_t *)s, on_cclose);
  }
  free(buf->base);
}

static void on_connect(uv_connect_t *req, int status) {
  client_t *c = req->data;
  if (status != 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    exit(1);
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_cread);
  send_next(c, !c->keepalive);
}

#define TP(id) "traceparent: 00-" TRACE "-00000000000000" id "-01\r\n"
#define UA "User-Agent: uvtest/1\r\n"

int main(void) {
  loop = uv_default_loop();
  uv_tcp_init(loop, &server);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
  if (uv_listen((uv_stream_t *)&server, 16, on_conn) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);

  client_t *A = &clients[0], *B = &clients[1], *C = &clients[2];
  A->name = "A";
  A->keepalive = 1;
  A->reqs[0] = "GET /ka/1?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" TP("01") UA "\r\n";
  A->reqs[1] =
      "POST /ka/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n" TP("02") UA "Content-Length: 5\r\n\r\nhello";
  A->reqs[2] = "GET /fail HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" TP("03") UA "\r\n";
  A->nreq = 3;
  A->expect[0] = "/ka/1";
  A->expect[1] = "/ka/2";
  B->name = "B";
  B->reqs[0] = "GET /p/1 HTTP/1.1\r\nHost: 127.0.0.1\r\n" TP("04") UA "\r\n";
  B->reqs[1] = "HEAD /p/2 HTTP/1.1\r\nHost: 127.0.0.1\r\n" TP("05") UA "\r\n";
  B->reqs[2] = "PURGE /p/3 HTTP/1.1\r\nHost: 127.0.0.1\r\n" TP("06") UA "\r\n";
  B->reqs[3] =
      "GET /chunked HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" TP("07") UA "\r\n";
  B->nreq = 4;
  C->name = "C";
  C->reqs[0] = "GET /malformed HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" TP(
      "08") "No colon here\r\n\r\n";
  C->nreq = 1;
  for (int i = 0; i < 3; i++) {
    client_t *c = &clients[i];
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->conn.data = c;
    uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&a, on_connect);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  printf("loop close %d\n", rc);
  return rc != 0;
}
