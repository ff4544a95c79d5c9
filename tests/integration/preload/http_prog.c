/* A plain libuv HTTP/1.1 server (no uvotel header, not linked with uvotel) and its clients, in
 * one process on 127.0.0.1, for test_preload_http. The server answers each request (found by
 * its blank line and Content-Length) with the request's path as the body: /fail gives 500,
 * /chunked a chunked body, a HEAD no body; it answers keep-alive requests from an fs callback
 * registered in the read callback, and writes some responses in two uv_write calls. Clients:
 *   A  keep-alive: 3 requests, each sent once the previous response arrived
 *   B  pipelined: 4 requests in one write
 *   C  malformed: a header line without a colon (the server does not care and answers)
 * Every request carries traceparent 00-<TRACE>-<id>-01 (ids 01..07, C: 08). Each client prints
 * what it received when its connection ends; stdout is the same with or without uvotel.
 *
 * `http_prog connstat` is the same with an fs stat of /nonexistent.uvotel/conn started in each
 * connection callback (a span made under the connection's accept span, under uvotel).
 * `http_prog adopt` makes each client's connection with plain sockets and hands both ends to
 * libuv with uv_tcp_open (the same requests and output); `http_prog pipeadopt` the same over
 * unix socket pairs adopted with uv_pipe_open.
 * `http_prog client` runs other clients instead (see client_mode): requests without a
 * traceparent to /echo/..., which the server answers with the request head it received, so each
 * client can tell whether its request arrived as written ("exact") or with propagation header
 * lines added and nothing else changed ("inserted", with the traceparent it got), on stderr;
 * stdout says only "ok" per request, the same with or without uvotel. /fwd makes the server
 * ask itself for /echo/leaf from its read callback (an outgoing request made while serving). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem (the uv_redirect.h build defines it on the command line) */
#endif
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

static uv_loop_t *loop;
static uv_tcp_t server;
static int port;
static int clients_done, nclients = 3;

/* ---- server ---- */

typedef struct sconn_s {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe; /* pipeadopt */
  };
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
  char data[4096];
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

/* 200 with body[0 .. n) (client mode: /echo/ answers the request head it got). */
static void respond_body(sconn_t *c, const char *body, size_t n, int close) {
  char hdr[256];
  int hn = snprintf(hdr, sizeof hdr, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", n,
                    close ? "Connection: close\r\n" : "");
  put(c, hdr, (size_t)hn, 0);
  put(c, body, n, close);
}

/* /fwd: the server asks itself for /echo/leaf on a new connection, from its read callback, and
 * answers /fwd with the whole leaf response as the body. */
typedef struct fwd_s {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t w;
  sconn_t *c;
  int close;
  char got[4096];
  size_t len;
} fwd_t;

static const char k_leaf[] =
    "GET /echo/leaf HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

static void on_fwd_closed(uv_handle_t *h) {
  free(h->data);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void on_fwd_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  fwd_t *f = s->data;
  if (nread > 0 && f->len + (size_t)nread <= sizeof f->got) {
    memcpy(f->got + f->len, buf->base, (size_t)nread);
    f->len += (size_t)nread;
  } else if (nread < 0) {
    respond_body(f->c, f->got, f->len, f->close);
    uv_close((uv_handle_t *)s, on_fwd_closed);
  }
  free(buf->base);
}

static void on_fwd_connect(uv_connect_t *req, int status) {
  fwd_t *f = req->data;
  if (status != 0) {
    fprintf(stderr, "fwd connect: %s\n", uv_strerror(status));
    exit(1);
  }
  uv_read_start((uv_stream_t *)&f->tcp, alloc_cb, on_fwd_read);
  uv_buf_t b = uv_buf_init((char *)k_leaf, sizeof k_leaf - 1);
  uv_write(&f->w, (uv_stream_t *)&f->tcp, &b, 1, NULL);
}

static void forward(sconn_t *c, int close) {
  fwd_t *f = calloc(1, sizeof *f);
  f->c = c;
  f->close = close;
  uv_tcp_init(loop, &f->tcp);
  f->tcp.data = f;
  f->conn.data = f;
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", port, &a);
  uv_tcp_connect(&f->conn, &f->tcp, (const struct sockaddr *)&a, on_fwd_connect);
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
    char echoed[2048];
    size_t el = hl < sizeof echoed ? hl : sizeof echoed;
    memcpy(echoed, c->buf, el);
    memmove(c->buf, c->buf + hl + cl, c->len - hl - cl);
    c->len -= hl + cl;
    if (strncmp(path, "/echo/", 6) == 0) {
      respond_body(c, echoed, el, close);
    } else if (strcmp(path, "/fwd") == 0) {
      forward(c, close);
    } else if (strncmp(path, "/ka/", 4) == 0 || strcmp(path, "/fail") == 0) {
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

static int conn_stat; /* `http_prog connstat`: each connection callback stats a file */

static void on_conn_stat(uv_fs_t *r) {
  uv_fs_req_cleanup(r);
  free(r);
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
  if (conn_stat) {
    uv_fs_t *r = malloc(sizeof *r);
    if (uv_fs_stat(loop, r, "/nonexistent.uvotel/conn", on_conn_stat) != 0) free(r);
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_sread);
}

/* ---- clients ---- */

typedef struct client_s {
  const char *name;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe; /* pipeadopt */
  };
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
  if (++clients_done == nclients) uv_close((uv_handle_t *)&server, NULL);
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

/* `http_prog adopt`: each client's connection is made with plain sockets outside libuv (a
 * listening socket of its own, connect, accept) and both ends are handed to libuv with
 * uv_tcp_open: the server end reads first, the client end writes first. */
static void adopt_pipes(client_t *c) {
  int fd[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd) != 0) {
    perror("socketpair");
    exit(1);
  }
  sconn_t *sc = calloc(1, sizeof *sc);
  uv_pipe_init(loop, &sc->pipe, 0);
  sc->pipe.data = sc;
  uv_pipe_open(&sc->pipe, fd[1]);
  uv_read_start((uv_stream_t *)&sc->pipe, alloc_cb, on_sread);
  uv_pipe_open(&c->pipe, fd[0]);
  uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, on_cread);
  send_next(c, !c->keepalive);
}

static void adopt_pair(client_t *c) {
  struct sockaddr_in a;
  socklen_t al = sizeof a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  int l = socket(AF_INET, SOCK_STREAM, 0), cfd = socket(AF_INET, SOCK_STREAM, 0), sfd = -1;
  if (l < 0 || cfd < 0 || bind(l, (const struct sockaddr *)&a, sizeof a) != 0 ||
      listen(l, 1) != 0 || getsockname(l, (struct sockaddr *)&a, &al) != 0 ||
      connect(cfd, (const struct sockaddr *)&a, sizeof a) != 0 ||
      (sfd = accept(l, NULL, NULL)) < 0) {
    perror("adopt");
    exit(1);
  }
  close(l);
  sconn_t *sc = calloc(1, sizeof *sc);
  uv_tcp_init(loop, &sc->tcp);
  sc->tcp.data = sc;
  uv_tcp_open(&sc->tcp, sfd);
  uv_read_start((uv_stream_t *)&sc->tcp, alloc_cb, on_sread);
  uv_tcp_open(&c->tcp, cfd);
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_cread);
  send_next(c, !c->keepalive);
}

/* ---- client mode: requests without a traceparent, answered by /echo/ with their head ---- */

#define MAXW 6

typedef struct pclient_s {
  const char *name;
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t w[MAXW];
  const char *bufs[MAXW][3]; /* each write: up to 3 buffers (NULL-terminated) */
  int nw, sent, keepalive;   /* keepalive: a write once every earlier one has its response */
  char all[4096];            /* every byte written, in order */
  size_t nall;
  char got[16384];
  size_t len;
} pclient_t;

static pclient_t pclients[5];

/* The next message of s[0 .. n) at *off: head [*off, *off + *hl), then a Content-Length body;
 * 0 when it is not complete. */
static int next_msg(const char *s, size_t n, size_t *off, size_t *hl, size_t *bl) {
  const char *end = memmem(s + *off, n - *off, "\r\n\r\n", 4);
  if (end == NULL) return 0;
  *hl = (size_t)(end - (s + *off)) + 4;
  const char *clh = memmem(s + *off, *hl, "Content-Length: ", 16);
  *bl = clh != NULL ? strtoul(clh + 16, NULL, 10) : 0;
  return *off + *hl + *bl <= n;
}

static int responses(const pclient_t *c) {
  size_t off = 0, hl, bl;
  int k = 0;
  while (next_msg(c->got, c->len, &off, &hl, &bl)) {
    off += hl + bl;
    k++;
  }
  return k;
}

static void psend(pclient_t *c) {
  while (c->sent < c->nw) {
    uv_buf_t b[3];
    unsigned n = 0;
    for (; n < 3 && c->bufs[c->sent][n] != NULL; n++) {
      b[n] = uv_buf_init((char *)c->bufs[c->sent][n], (unsigned)strlen(c->bufs[c->sent][n]));
      memcpy(c->all + c->nall, b[n].base, b[n].len);
      c->nall += b[n].len;
    }
    uv_write(&c->w[c->sent], (uv_stream_t *)&c->tcp, b, n, NULL);
    c->sent++;
    if (c->keepalive) return;
  }
}

/* A line of text[0 .. n) starting with name (case-insensitively): its value, or NULL. */
static const char *line_value(const char *text, size_t n, const char *name, int *vl) {
  size_t nl = strlen(name);
  for (const char *p = text; p < text + n;) {
    const char *e = memmem(p, (size_t)(text + n - p), "\r\n", 2);
    if (e == NULL) break;
    if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0) {
      *vl = (int)(e - p - (ptrdiff_t)nl);
      return p + nl;
    }
    p = e + 2;
  }
  return NULL;
}

/* got, less the propagation lines that sent does not have, equals sent. */
static int same_but_propagation(const char *sent, size_t sl, const char *got, size_t gl) {
  char keep[4096];
  size_t k = 0;
  for (const char *p = got; p < got + gl;) {
    const char *e = memmem(p, (size_t)(got + gl - p), "\r\n", 2);
    size_t ll = e != NULL ? (size_t)(e - p) + 2 : (size_t)(got + gl - p);
    int prop = strncasecmp(p, "traceparent:", 12) == 0 || strncasecmp(p, "tracestate:", 11) == 0 ||
               strncasecmp(p, "baggage:", 8) == 0;
    if ((!prop || memmem(sent, sl, p, ll) != NULL) && k + ll <= sizeof keep) {
      memcpy(keep + k, p, ll);
      k += ll;
    }
    p += ll;
  }
  return k == sl && memcmp(keep, sent, sl) == 0;
}

/* Pair each request written with its response: stdout says ok (the same with or without
 * uvotel); stderr says what the server got (exact, or inserted with which traceparent). */
static void report(const pclient_t *c) {
  size_t ro = 0, so = 0, rhl, rbl, shl, sbl;
  while (next_msg(c->all, c->nall, &ro, &rhl, &rbl) && next_msg(c->got, c->len, &so, &shl, &sbl)) {
    const char *rq = c->all + ro, *body = c->got + so + shl;
    char method[16] = "", path[128] = "";
    sscanf(rq, "%15s %127s", method, path);
    int ok;
    int vl;
    if (strcmp(path, "/fwd") == 0) {
      ok = memmem(body, sbl, "GET /echo/leaf", 14) != NULL;
      const char *v = line_value(body, sbl, "traceparent: ", &vl);
      if (v != NULL) fprintf(stderr, "leaf traceparent %.*s\n", vl, v);
      v = line_value(body, sbl, "baggage: ", &vl);
      if (v != NULL) fprintf(stderr, "leaf baggage %.*s\n", vl, v);
    } else if (sbl == rhl && memcmp(body, rq, rhl) == 0) {
      ok = 1;
      fprintf(stderr, "echo %s exact\n", path);
    } else {
      ok = same_but_propagation(rq, rhl, body, sbl);
      const char *v = line_value(body, sbl, "traceparent: ", &vl);
      fprintf(stderr, "echo %s %s %.*s\n", path, ok ? "inserted" : "changed", v ? vl : 0,
              v ? v : "");
    }
    printf("client %s %s %s %s\n", c->name, method, path, ok ? "ok" : "changed");
    ro += rhl + rbl;
    so += shl + sbl;
  }
}

static void on_pread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pclient_t *c = s->data;
  if (nread > 0) {
    if (c->len + (size_t)nread < sizeof c->got) {
      memcpy(c->got + c->len, buf->base, (size_t)nread);
      c->len += (size_t)nread;
    }
    if (c->keepalive && responses(c) == c->sent) psend(c);
  } else if (nread < 0) {
    report(c);
    uv_close((uv_handle_t *)s, on_cclose);
  }
  free(buf->base);
}

static void on_pconnect(uv_connect_t *req, int status) {
  pclient_t *c = req->data;
  if (status != 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    exit(1);
  }
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_pread);
  psend(c);
}

#define H "Host: 127.0.0.1\r\n"
#define CLOSE "Connection: close\r\n"

/*   D  keep-alive: 3 requests (one with a body), each once the previous response arrived
 *   E  pipelined: 3 requests in one buffer of one write
 *   F  one request cut over three writes (its request line too), then one whose request line
 *      ends inside the second of two buffers
 *   G  a request that has its own traceparent (id ...aa)
 *   H  /fwd with a baggage header: the server asks itself for /echo/leaf while serving it */
static void client_mode(const struct sockaddr_in *a) {
  static const char *const w[5][MAXW][3] = {
      {{"GET /echo/d1 HTTP/1.1\r\n" H "\r\n"},
       {"POST /echo/d2 HTTP/1.1\r\n" H "Content-Length: 5\r\n\r\nhello"},
       {"GET /echo/d3 HTTP/1.1\r\n" H CLOSE "\r\n"}},
      {{"GET /echo/e1 HTTP/1.1\r\n" H "\r\nGET /echo/e2 HTTP/1.1\r\n" H
        "\r\nGET /echo/e3 HTTP/1.1\r\n" H CLOSE "\r\n"}},
      {{"GET /echo/f1 HT"},
       {"TP/1.1\r\n" H "User-Agent: uvtest/1\r\n"},
       {"\r\n"},
       {"GET /echo/f2 HTTP/1.1\r", "\n" H CLOSE "\r\n"}},
      {{"GET /echo/g1 HTTP/1.1\r\n" H "traceparent: 00-" TRACE "-00000000000000aa-01\r\n" CLOSE
        "\r\n"}},
      {{"GET /fwd HTTP/1.1\r\n" H "baggage: user=alice\r\n" CLOSE "\r\n"}},
  };
  static const char *const names[5] = {"D", "E", "F", "G", "H"};
  nclients = 5;
  for (int i = 0; i < 5; i++) {
    pclient_t *c = &pclients[i];
    c->name = names[i];
    c->keepalive = i == 0;
    for (int k = 0; k < MAXW && w[i][k][0] != NULL; k++) {
      memcpy(c->bufs[k], w[i][k], sizeof c->bufs[k]);
      c->nw++;
    }
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->conn.data = c;
    uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)a, on_pconnect);
  }
}

#define TP(id) "traceparent: 00-" TRACE "-00000000000000" id "-01\r\n"
#define UA "User-Agent: uvtest/1\r\n"

int main(int argc, char **argv) {
  loop = uv_default_loop();
  uv_tcp_init(loop, &server);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&server, (const struct sockaddr *)&a, 0);
  if (uv_listen((uv_stream_t *)&server, 16, on_conn) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
  port = ntohs(a.sin_port);

  if (argc > 1 && strcmp(argv[1], "client") == 0) {
    client_mode(&a);
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    printf("loop close %d\n", rc);
    return rc != 0;
  }
  conn_stat = argc > 1 && strcmp(argv[1], "connstat") == 0;
  int adopt = argc > 1 && strcmp(argv[1], "adopt") == 0;
  int pipes = argc > 1 && strcmp(argv[1], "pipeadopt") == 0;
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
    if (pipes) {
      uv_pipe_init(loop, &c->pipe, 0);
    } else {
      uv_tcp_init(loop, &c->tcp);
    }
    c->tcp.data = c;
    c->conn.data = c;
    if (pipes) {
      adopt_pipes(c);
    } else if (adopt) {
      adopt_pair(c);
    } else {
      uv_tcp_connect(&c->conn, &c->tcp, (const struct sockaddr *)&a, on_connect);
    }
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  printf("loop close %d\n", rc);
  return rc != 0;
}
