/* A plain libuv DNS responder and its clients in one process on 127.0.0.1 (no uvotel header,
 * not linked with uvotel), for test_preload_dns. Two modes:
 *
 *   dns_prog [udp]  The client socket sends four queries with uv_udp_send (A example.com id
 *                   0x1111, MX missing.example 0x3333, A ignored.example 0x5555 that the
 *                   responder never answers, and a truncated one 0x4444 whose name is cut)
 *                   plus one with uv_udp_try_send (AAAA example.com 0x2222), a datagram that
 *                   is not DNS and an unsolicited response (QR set, 0x7777); a second, connected
 *                   socket sends TXT example.com 0x6666. The responder answers every datagram
 *                   of at least 12 bytes without QR (copying it, QR set; NXDOMAIN for
 *                   missing.example) except ignored.example, from the receive callback. The
 *                   clients print the ids and rcodes they get back; after five answers
 *                   everything is closed (the query to ignored.example still unanswered).
 *   dns_prog tcp    DNS over TCP (2-byte length before each message): a client connection
 *                   writes three queries (A 0x1111, AAAA 0x2222, MX missing.example 0x3333) in
 *                   two writes split inside the second query's length prefix; the server
 *                   frames what it reads, answers each query (NXDOMAIN for missing.example)
 *                   and writes the answers of one read in two writes split in the middle. A
 *                   second connection writes a malformed stream (a length of 3); the server
 *                   drops it. The client prints the answers' ids and rcodes.
 *   dns_prog tcpfail DNS over TCP writes that fail: a client writes two queries (A and AAAA
 *                   reset.example) in one write and resets the connection; the server answers
 *                   both in one write when its read sees the reset, which fails. A second
 *                   client asks A refused.example; the server shuts its side down, then writes
 *                   the answer, which libuv refuses at once (UV_EPIPE). A third client shuts
 *                   down and then writes its query (A clientrefused.example): refused too.
 *   dns_prog refused A connected UDP socket sends a query (A refused.example 0x0909) to a port
 *                   nothing listens on; the kernel's ECONNREFUSED reaches its receive callback
 *                   (as dig saw it), which prints it and closes the socket. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;

typedef struct sreq_s {
  uv_udp_send_t req;
  char data[512];
} sreq_t;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

/* header (id, RD, 1 question) + name + type + class IN */
static size_t query(unsigned char *m, unsigned id, const char *const *labels, unsigned qtype) {
  size_t n = 0;
  const unsigned char h[12] = {id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(m, h, 12);
  n = 12;
  for (; *labels != NULL; labels++) {
    size_t l = strlen(*labels);
    m[n++] = (unsigned char)l;
    memcpy(m + n, *labels, l);
    n += l;
  }
  m[n++] = 0;
  m[n++] = (unsigned char)(qtype >> 8);
  m[n++] = (unsigned char)qtype;
  m[n++] = 0;
  m[n++] = 1;
  return n;
}

/* needle (n bytes) occurs in hay (len bytes); memmem is a GNU extension, and the
 * uv_redirect.h build includes <string.h> before this file could ask for it */
static int has(const char *hay, size_t len, const char *needle, size_t n) {
  for (size_t i = 0; i + n <= len; i++) {
    if (memcmp(hay + i, needle, n) == 0) return 1;
  }
  return 0;
}

/* The answer to a query: the same bytes with QR set, NXDOMAIN for missing.example. */
static void answer(char *out, const char *q, size_t n) {
  memcpy(out, q, n);
  out[2] = (char)(out[2] | 0x80);
  out[3] = (char)(has(q, n, "\7missing", 8) ? 3 : 0);
}

static const char *const ex[] = {"example", "com", NULL};
static const char *const missing[] = {"missing", "example", NULL};
static const char *const ignored[] = {"ignored", "example", NULL};

/* ---- UDP ---- */

static uv_udp_t server, client, conn_client;
static int answers;

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

static void on_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread >= 12 && addr != NULL && !(buf->base[2] & 0x80) &&
      !has(buf->base, (size_t)nread, "\7ignored", 8)) {
    sreq_t *r = calloc(1, sizeof *r);
    answer(r->data, buf->base, (size_t)nread);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)nread);
    uv_udp_send(&r->req, h, &b, 1, addr, on_sent);
  }
  free(buf->base);
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)addr;
  (void)flags;
  if (nread >= 12) {
    printf("%s answer id %02x%02x rcode %d\n", h == &conn_client ? "connected" : "udp",
           (unsigned char)buf->base[0], (unsigned char)buf->base[1], buf->base[3] & 0xf);
    if (++answers == 5) {
      uv_close((uv_handle_t *)&client, NULL);
      uv_close((uv_handle_t *)&conn_client, NULL);
      uv_close((uv_handle_t *)&server, NULL);
    }
  }
  free(buf->base);
}

static unsigned char q[8][300];
static uv_udp_send_t creq[8];

static int run_udp(void) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_udp_init(loop, &server);
  if (uv_udp_bind(&server, (const struct sockaddr *)&a, 0) != 0) return 1;
  int len = sizeof a;
  uv_udp_getsockname(&server, (struct sockaddr *)&a, &len);
  uv_udp_recv_start(&server, alloc_cb, on_server_recv);
  uv_udp_init(loop, &client);
  struct sockaddr_in c;
  uv_ip4_addr("127.0.0.1", 0, &c);
  uv_udp_bind(&client, (const struct sockaddr *)&c, 0);
  uv_udp_recv_start(&client, alloc_cb, on_client_recv);
  size_t n[8];
  n[0] = query(q[0], 0x1111, ex, 1);
  n[1] = query(q[1], 0x3333, missing, 15);
  n[2] = query(q[2], 0x5555, ignored, 1);
  n[3] = query(q[3], 0x4444, ex, 1) - 10; /* the name cut after "\7exam" */
  memcpy(q[4], "not dns", 7);
  n[4] = 7;
  n[5] = query(q[5], 0x7777, ex, 1);
  q[5][2] |= 0x80; /* a response nobody asked for: the responder ignores it */
  for (int i = 0; i < 6; i++) {
    uv_buf_t b = uv_buf_init((char *)q[i], (unsigned)n[i]);
    uv_udp_send(&creq[i], &client, &b, 1, (const struct sockaddr *)&a, NULL);
  }
  n[6] = query(q[6], 0x2222, ex, 28);
  uv_buf_t b = uv_buf_init((char *)q[6], (unsigned)n[6]);
  if (uv_udp_try_send(&client, &b, 1, (const struct sockaddr *)&a) < 0) {
    uv_udp_send(&creq[6], &client, &b, 1, (const struct sockaddr *)&a, NULL);
  }
  uv_udp_init(loop, &conn_client);
  if (uv_udp_connect(&conn_client, (const struct sockaddr *)&a) != 0) return 1;
  uv_udp_recv_start(&conn_client, alloc_cb, on_client_recv);
  n[7] = query(q[7], 0x6666, ex, 16);
  b = uv_buf_init((char *)q[7], (unsigned)n[7]);
  uv_udp_send(&creq[7], &conn_client, &b, 1, NULL, NULL);
  return 0;
}

/* ---- TCP ---- */

typedef struct sconn_s {
  uv_tcp_t tcp;
  char in[4096];
  size_t nin;
} sconn_t;

typedef struct wreq_s {
  uv_write_t req;
  char data[];
} wreq_t;

static uv_tcp_t listener, tclient, bclient;
static uv_connect_t tconn_req, bconn_req;
static int tanswers, closed;
static char cin[4096];
static size_t ncin;

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void write_copy(uv_stream_t *s, const char *data, size_t n) {
  wreq_t *w = malloc(sizeof *w + n);
  memcpy(w->data, data, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  uv_write(&w->req, s, &b, 1, on_written);
}

static void on_closed(uv_handle_t *h) {
  if (h != (uv_handle_t *)&tclient && h != (uv_handle_t *)&bclient &&
      h != (uv_handle_t *)&listener) {
    free(h);
  }
  if (++closed == 4) uv_close((uv_handle_t *)&listener, NULL);
}

static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  sconn_t *c = (sconn_t *)s;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_closed);
  } else if (nread > 0 && c->nin + (size_t)nread <= sizeof c->in) {
    memcpy(c->in + c->nin, buf->base, (size_t)nread);
    c->nin += (size_t)nread;
    char out[4096];
    size_t nout = 0, off = 0;
    int bad = 0;
    while (c->nin - off >= 2) {
      size_t l = (size_t)(unsigned char)c->in[off] << 8 | (unsigned char)c->in[off + 1];
      if (l < 12) {
        bad = 1;
        break;
      }
      if (c->nin - off < 2 + l) break;
      out[nout] = c->in[off];
      out[nout + 1] = c->in[off + 1];
      answer(out + nout + 2, c->in + off + 2, l);
      nout += 2 + l;
      off += 2 + l;
    }
    memmove(c->in, c->in + off, c->nin - off);
    c->nin -= off;
    if (nout > 0) {
      write_copy(s, out, nout / 2);
      write_copy(s, out + nout / 2, nout - nout / 2);
    }
    if (bad) {
      printf("server: dropped a malformed stream\n");
      uv_close((uv_handle_t *)s, on_closed);
    }
  }
  free(buf->base);
}

static void on_connection(uv_stream_t *l, int status) {
  if (status != 0) return;
  sconn_t *c = calloc(1, sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0) {
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_server_read);
  }
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0 && ncin + (size_t)nread <= sizeof cin) {
    memcpy(cin + ncin, buf->base, (size_t)nread);
    ncin += (size_t)nread;
    size_t off = 0;
    while (ncin - off >= 2) {
      size_t l = (size_t)(unsigned char)cin[off] << 8 | (unsigned char)cin[off + 1];
      if (ncin - off < 2 + l) break;
      printf("tcp answer id %02x%02x rcode %d\n", (unsigned char)cin[off + 2],
             (unsigned char)cin[off + 3], cin[off + 5] & 0xf);
      off += 2 + l;
      tanswers++;
    }
    memmove(cin, cin + off, ncin - off);
    ncin -= off;
    if (tanswers == 3) uv_close((uv_handle_t *)s, on_closed);
  } else if (nread < 0) {
    uv_close((uv_handle_t *)s, on_closed);
  }
  free(buf->base);
}

static void on_connect(uv_connect_t *req, int status) {
  if (status != 0) return;
  static unsigned char m[1024];
  size_t n = 0;
  static const unsigned ids[] = {0x1111, 0x2222, 0x3333}, types[] = {1, 28, 15};
  for (int i = 0; i < 3; i++) {
    size_t l = query(m + n + 2, ids[i], i == 2 ? missing : ex, types[i]);
    m[n] = (unsigned char)(l >> 8);
    m[n + 1] = (unsigned char)l;
    n += 2 + l;
  }
  size_t cut = (size_t)m[1] + 2 + 1; /* inside the second query's length prefix */
  write_copy(req->handle, (char *)m, cut);
  write_copy(req->handle, (char *)m + cut, n - cut);
  uv_read_start(req->handle, alloc_cb, on_client_read);
}

static void on_bad_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) {
    printf("malformed stream closed by the server\n");
    uv_close((uv_handle_t *)s, on_closed);
  }
  free(buf->base);
}

static void on_bad_connect(uv_connect_t *req, int status) {
  if (status != 0) return;
  write_copy(req->handle, "\0\3abc", 5);
  uv_read_start(req->handle, alloc_cb, on_bad_read);
}

static int run_tcp(void) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &listener);
  if (uv_tcp_bind(&listener, (const struct sockaddr *)&a, 0) != 0) return 1;
  if (uv_listen((uv_stream_t *)&listener, 8, on_connection) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&listener, (struct sockaddr *)&a, &len);
  uv_tcp_init(loop, &tclient);
  uv_tcp_connect(&tconn_req, &tclient, (const struct sockaddr *)&a, on_connect);
  uv_tcp_init(loop, &bclient);
  uv_tcp_connect(&bconn_req, &bclient, (const struct sockaddr *)&a, on_bad_connect);
  return 0;
}

/* ---- TCP writes that fail (tcpfail) ---- */

typedef struct fconn_s {
  uv_tcp_t tcp;
  char in[512];
  size_t nin;
  uv_write_t w;
  uv_shutdown_t sh;
  char out[512];
  int refused; /* it answered with a refused write */
} fconn_t;

static uv_tcp_t flistener, fc[3];
static uv_connect_t fcreq[3];
static uv_write_t fcw[3];
static uv_shutdown_t fcsh;
static unsigned char fq[3][300];
static int fclosed;

static void on_fclosed(uv_handle_t *h) {
  if (h != (uv_handle_t *)&fc[0] && h != (uv_handle_t *)&fc[1] && h != (uv_handle_t *)&fc[2]) {
    free(h);
  }
  if (++fclosed == 6) uv_close((uv_handle_t *)&flistener, NULL);
}

/* The answers of every complete query in c->in, framed, into c->out; returns their length. */
static size_t fanswers(fconn_t *c) {
  size_t off = 0, n = 0;
  while (c->nin - off >= 2) {
    size_t l = (size_t)(unsigned char)c->in[off] << 8 | (unsigned char)c->in[off + 1];
    if (l < 12 || c->nin - off < 2 + l) break;
    c->out[n] = c->in[off];
    c->out[n + 1] = c->in[off + 1];
    answer(c->out + n + 2, c->in + off + 2, l);
    n += 2 + l;
    off += 2 + l;
  }
  return n;
}

static void on_freset_written(uv_write_t *req, int status) {
  printf("server: answers to a reset peer %s\n", status < 0 ? "failed" : "sent");
  uv_close((uv_handle_t *)req->handle, on_fclosed);
}

static void on_fshut(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

static void on_fread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  fconn_t *c = (fconn_t *)s;
  if (nread > 0 && c->nin + (size_t)nread <= sizeof c->in) {
    memcpy(c->in + c->nin, buf->base, (size_t)nread);
    c->nin += (size_t)nread;
    size_t n;
    if (has(c->in, c->nin, "\7refused", 8) && (n = fanswers(c)) > 0) {
      uv_shutdown(&c->sh, s, on_fshut);
      uv_buf_t b = uv_buf_init(c->out, (unsigned)n);
      printf("server: refused write %s\n", uv_err_name(uv_write(&c->w, s, &b, 1, NULL)));
      c->refused = 1;
    }
  } else if (nread < 0) {
    size_t n = c->refused ? 0 : fanswers(c);
    uv_read_stop(s);
    if (n > 0) { /* the reset peer's queries: answered in one write, which fails */
      uv_buf_t b = uv_buf_init(c->out, (unsigned)n);
      uv_write(&c->w, s, &b, 1, on_freset_written);
    } else {
      uv_close((uv_handle_t *)s, on_fclosed);
    }
  }
  free(buf->base);
}

static void on_fconnection(uv_stream_t *l, int status) {
  if (status != 0) return;
  fconn_t *c = calloc(1, sizeof *c);
  uv_tcp_init(loop, &c->tcp);
  if (uv_accept(l, (uv_stream_t *)&c->tcp) == 0) {
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_fread);
  }
}

static void on_fc_wrote(uv_write_t *req, int status) {
  (void)status;
  uv_tcp_close_reset((uv_tcp_t *)req->handle, on_fclosed); /* client 0: reset */
}

static void on_fc_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) uv_close((uv_handle_t *)s, on_fclosed);
  free(buf->base);
}

static void on_fc_shut(uv_shutdown_t *req, int status) {
  (void)status;
  uv_close((uv_handle_t *)req->handle, on_fclosed);
}

static const char *const resetn[] = {"reset", "example", NULL};
static const char *const refusedn[] = {"refused", "example", NULL};
static const char *const crefusedn[] = {"clientrefused", "example", NULL};

/* A framed query into fq[i] + off; returns the bytes written. */
static size_t fquery(int i, size_t off, unsigned id, const char *const *name, unsigned type) {
  size_t l = query(fq[i] + off + 2, id, name, type);
  fq[i][off] = (unsigned char)(l >> 8);
  fq[i][off + 1] = (unsigned char)l;
  return 2 + l;
}

static void on_fconnect(uv_connect_t *req, int status) {
  if (status != 0) return;
  int i = (int)(req - fcreq);
  uv_buf_t b;
  if (i == 0) {
    size_t n = fquery(0, 0, 0x3131, resetn, 1);
    n += fquery(0, n, 0x3232, resetn, 28);
    b = uv_buf_init((char *)fq[0], (unsigned)n);
    uv_write(&fcw[0], req->handle, &b, 1, on_fc_wrote);
  } else if (i == 1) {
    b = uv_buf_init((char *)fq[1], (unsigned)fquery(1, 0, 0x4141, refusedn, 1));
    uv_write(&fcw[1], req->handle, &b, 1, NULL);
    uv_read_start(req->handle, alloc_cb, on_fc_read);
  } else {
    uv_shutdown(&fcsh, req->handle, on_fc_shut);
    b = uv_buf_init((char *)fq[2], (unsigned)fquery(2, 0, 0x5151, crefusedn, 1));
    printf("client: refused write %s\n", uv_err_name(uv_write(&fcw[2], req->handle, &b, 1, NULL)));
  }
}

static int run_tcpfail(void) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &flistener);
  if (uv_tcp_bind(&flistener, (const struct sockaddr *)&a, 0) != 0) return 1;
  if (uv_listen((uv_stream_t *)&flistener, 8, on_fconnection) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&flistener, (struct sockaddr *)&a, &len);
  for (int i = 0; i < 3; i++) {
    uv_tcp_init(loop, &fc[i]);
    uv_tcp_connect(&fcreq[i], &fc[i], (const struct sockaddr *)&a, on_fconnect);
  }
  return 0;
}

/* ---- a refused query ---- */

static uv_udp_t rsock;
static uv_udp_send_t rreq;

static void on_refused(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags) {
  (void)addr;
  (void)flags;
  if (nread < 0) {
    printf("refused: %s\n", uv_err_name((int)nread));
    uv_close((uv_handle_t *)h, NULL);
  }
  if (buf != NULL) free(buf->base);
}

static int run_refused(void) {
  uv_udp_t tmp;
  struct sockaddr_in dead;
  uv_ip4_addr("127.0.0.1", 0, &dead);
  uv_udp_init(loop, &tmp);
  if (uv_udp_bind(&tmp, (const struct sockaddr *)&dead, 0) != 0) return 1;
  int len = sizeof dead;
  uv_udp_getsockname(&tmp, (struct sockaddr *)&dead, &len);
  uv_close((uv_handle_t *)&tmp, NULL);
  uv_run(loop, UV_RUN_NOWAIT); /* the port is free again */
  uv_udp_init(loop, &rsock);
  if (uv_udp_connect(&rsock, (const struct sockaddr *)&dead) != 0) return 1;
  uv_udp_recv_start(&rsock, alloc_cb, on_refused);
  static const char *const refused[] = {"refused", "example", NULL};
  static unsigned char m[64];
  uv_buf_t b = uv_buf_init((char *)m, (unsigned)query(m, 0x0909, refused, 1));
  uv_udp_send(&rreq, &rsock, &b, 1, NULL, NULL);
  return 0;
}

int main(int argc, char **argv) {
  loop = uv_default_loop();
  const char *mode = argc > 1 ? argv[1] : "udp";
  int r = strcmp(mode, "tcp") == 0       ? run_tcp()
          : strcmp(mode, "tcpfail") == 0 ? run_tcpfail()
          : strcmp(mode, "refused") == 0 ? run_refused()
                                         : run_udp();
  if (r != 0) return 1;
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  printf("loop close %d\n", rc);
  return rc != 0;
}
