/* The responder half of dns_mmsg_prog (plain libuv, no uvotel header): as BIND 9's netmgr
 * does, one loop per worker thread, each with a UDP socket made with UV_UDP_RECVMMSG, so
 * one receive can deliver several datagrams (callbacks flagged UV_UDP_MMSG_CHUNK, then one with
 * nread 0 and UV_UDP_MMSG_FREE returning the buffer); each query is answered from the receive
 * callback with uv_udp_send of two buffers (a rewritten header, then the rest of the query).
 * Built as a shared library for the plain program, so its libuv calls come from a library other
 * than the executable (named: libisc). Names containing "nx" get NXDOMAIN. */
#include "dns_mmsg_responder.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MMSG_BUF (16 * 65536) /* room for 16 datagrams per receive */

typedef struct worker_s {
  uv_loop_t loop;
  uv_udp_t udp;
  uv_check_t done; /* closes the socket once every query is answered, outside a receive */
  uv_thread_t thread;
  int expect, answered, sent, chunked;
} worker_t;

typedef struct reply_s {
  uv_udp_send_t req;
  char head[12];
  char *rest; /* the receive buffer's bytes after the header, copied */
} reply_t;

static worker_t g_workers[RESPONDER_MAX];
static int g_n;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  buf->base = malloc(MMSG_BUF);
  buf->len = MMSG_BUF;
}

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  reply_t *r = (reply_t *)req;
  ((worker_t *)req->handle->data)->sent++;
  free(r->rest);
  free(r);
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  worker_t *w = h->data;
  if (flags & UV_UDP_MMSG_CHUNK) w->chunked = 1;
  if (nread > 12 && addr != NULL && !(buf->base[2] & 0x80)) {
    reply_t *r = calloc(1, sizeof *r);
    memcpy(r->head, buf->base, 12);
    r->head[2] = (char)(r->head[2] | 0x80);
    int nx = 0;
    for (ssize_t i = 12; i + 1 < nread; i++) nx |= buf->base[i] == 'n' && buf->base[i + 1] == 'x';
    r->head[3] = (char)(nx ? 3 : 0);
    r->rest = malloc((size_t)nread - 12);
    memcpy(r->rest, buf->base + 12, (size_t)nread - 12);
    uv_buf_t b[2] = {uv_buf_init(r->head, 12), uv_buf_init(r->rest, (unsigned)nread - 12)};
    uv_udp_send(&r->req, h, b, 2, addr, on_sent);
    w->answered++;
  }
  /* the buffer is the program's to free unless it is a chunk of a larger one */
  if (!(flags & UV_UDP_MMSG_CHUNK)) free(buf->base);
}

static void on_check(uv_check_t *c) {
  worker_t *w = c->data;
  if (w->sent < w->expect) return; /* every answer out: none cancelled by the close */
  uv_close((uv_handle_t *)&w->udp, NULL);
  uv_close((uv_handle_t *)c, NULL);
}

static void worker_main(void *arg) {
  worker_t *w = arg;
  uv_check_init(&w->loop, &w->done);
  w->done.data = w;
  uv_check_start(&w->done, on_check);
  uv_udp_recv_start(&w->udp, on_alloc, on_recv);
  uv_run(&w->loop, UV_RUN_DEFAULT);
}

int responder_bind(int n, int expect, int *ports) {
  if (n < 1 || n > RESPONDER_MAX) return -1;
  g_n = n;
  for (int i = 0; i < n; i++) {
    worker_t *w = &g_workers[i];
    memset(w, 0, sizeof *w);
    w->expect = expect;
    if (uv_loop_init(&w->loop) != 0) return -1;
    if (uv_udp_init_ex(&w->loop, &w->udp, AF_INET | UV_UDP_RECVMMSG) != 0) return -1;
    w->udp.data = w;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (uv_udp_bind(&w->udp, (const struct sockaddr *)&a, 0) != 0) return -1;
    int len = sizeof a;
    if (uv_udp_getsockname(&w->udp, (struct sockaddr *)&a, &len) != 0) return -1;
    ports[i] = ntohs(a.sin_port);
  }
  return 0;
}

int responder_run(void) {
  for (int i = 0; i < g_n; i++) {
    if (uv_thread_create(&g_workers[i].thread, worker_main, &g_workers[i]) != 0) return -1;
  }
  return 0;
}

int responder_join(int *answered, int *chunked) {
  int rc = 0;
  for (int i = 0; i < g_n; i++) {
    uv_thread_join(&g_workers[i].thread);
    answered[i] = g_workers[i].answered;
    chunked[i] = g_workers[i].chunked;
    rc |= uv_loop_close(&g_workers[i].loop);
  }
  return rc;
}
