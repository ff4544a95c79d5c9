/* The HTTP/1.x client side's cost (issue 12): one loop, a plain (unwrapped) server answering
 * each request head with a fixed 200, and a keep-alive client sending N requests one after the
 * other over loopback, the next from the read callback that completes the previous response.
 * Variants, interleaved over rounds on a fresh connection each:
 *   raw   the client with raw uv_* calls
 *   net   the client through the wrappers, automatic spans on for `net` only (one tcp connect
 *         span per round; the writes and reads take the wrapped path, no HTTP parsing)
 *   http  the same with `http` on: a CLIENT span per request (simple processor, an exporter
 *         that only counts), traceparent inserted into every request (new buffer list)
 * Printed per variant: loop-thread CPU ns per request (user + system, so the syscalls of both
 * ends are in it) min / median / max over the rounds, and the ratio of the medians to raw.
 *   bench_http_client [requests per round (20000)] [rounds (7)]
 * Build with -DCMAKE_BUILD_TYPE=Release for numbers. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

#define MAX_ROUNDS 32

static const char k_req[] = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n";
static const char k_resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

typedef struct ops_s {
  const char *name;
  int (*init)(uv_loop_t *, uv_tcp_t *);
  int (*connect)(uv_connect_t *, uv_tcp_t *, const struct sockaddr *, uv_connect_cb);
  int (*read_start)(uv_stream_t *, uv_alloc_cb, uv_read_cb);
  int (*write)(uv_write_t *, uv_stream_t *, const uv_buf_t[], unsigned int, uv_write_cb);
  void (*close)(uv_handle_t *, uv_close_cb);
  unsigned cats;
} ops_t;

static void raw_close(uv_handle_t *h, uv_close_cb cb) {
  uv_close(h, cb);
}

static const ops_t k_ops[] = {
    {"raw", uv_tcp_init, uv_tcp_connect, uv_read_start, uv_write, raw_close, 0},
    {"net", uvotel_tcp_init, uvotel_tcp_connect, uvotel_read_start, uvotel_write, uvotel_close,
     UVOTEL_INSTRUMENT_NET},
    {"http", uvotel_tcp_init, uvotel_tcp_connect, uvotel_read_start, uvotel_write, uvotel_close,
     UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP},
};
#define NOPS (sizeof k_ops / sizeof k_ops[0])

typedef struct run_s {
  const ops_t *ops;
  uv_loop_t loop;
  uv_tcp_t server, sconn, client;
  uv_connect_t conn;
  uv_write_t creq[4], sreq[4]; /* a request's write may complete after its response */
  unsigned cw, sw;
  char sbuf[4096], cbuf[4096];
  size_t slen, clen;
  long todo, done;
} run_t;

static run_t g;
static char g_rbuf[65536];
static size_t g_exported;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  *buf = uv_buf_init(g_rbuf, sizeof g_rbuf);
}

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static void send_req(void) {
  uv_buf_t b = uv_buf_init((char *)k_req, sizeof k_req - 1);
  g.ops->write(&g.creq[g.cw++ % 4], (uv_stream_t *)&g.client, &b, 1, NULL);
}

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n < 0) {
    uv_close((uv_handle_t *)s, on_closed);
    return;
  }
  memcpy(g.sbuf + g.slen, buf->base, (size_t)n);
  g.slen += (size_t)n;
  for (;;) { /* a request ends at its blank line (it is longer with inserted headers) */
    char *end = memmem(g.sbuf, g.slen, "\r\n\r\n", 4);
    if (end == NULL) break;
    size_t hl = (size_t)(end - g.sbuf) + 4;
    memmove(g.sbuf, g.sbuf + hl, g.slen - hl);
    g.slen -= hl;
    uv_buf_t b = uv_buf_init((char *)k_resp, sizeof k_resp - 1);
    uv_write(&g.sreq[g.sw++ % 4], s, &b, 1, NULL);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  (void)status;
  uv_tcp_init(srv->loop, &g.sconn);
  uv_accept(srv, (uv_stream_t *)&g.sconn);
  uv_read_start((uv_stream_t *)&g.sconn, alloc_cb, on_server_read);
  uv_close((uv_handle_t *)srv, on_closed);
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n < 0) return;
  g.clen += (size_t)n;
  while (g.clen >= sizeof k_resp - 1) {
    g.clen -= sizeof k_resp - 1;
    if (++g.done == g.todo) {
      g.ops->close((uv_handle_t *)s, on_closed);
      return;
    }
    send_req();
  }
}

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  if (status != 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    exit(1);
  }
  g.ops->read_start((uv_stream_t *)&g.client, alloc_cb, on_client_read);
  send_req();
}

static double thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double run_once(const ops_t *ops, uvotel_tracer_t *tracer, long n) {
  memset(&g, 0, sizeof g);
  g.ops = ops;
  g.todo = n;
  if (ops->cats != 0) {
    uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
    o.tracer = tracer;
    o.categories = ops->cats;
    o.flags = UVOTEL_AUTO_SPANS_ROOTS;
    if (uvotel_auto_spans_enable(&o) != 0) abort();
  }
  uv_loop_init(&g.loop);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(&g.loop, &g.server);
  uv_tcp_bind(&g.server, (const struct sockaddr *)&a, 0);
  uv_listen((uv_stream_t *)&g.server, 4, on_connection);
  int len = sizeof a;
  uv_tcp_getsockname(&g.server, (struct sockaddr *)&a, &len);
  double t0 = thread_cpu_ns();
  ops->init(&g.loop, &g.client);
  ops->connect(&g.conn, &g.client, (const struct sockaddr *)&a, on_connect);
  uv_run(&g.loop, UV_RUN_DEFAULT);
  double t = thread_cpu_ns() - t0;
  if (g.done != n) {
    fprintf(stderr, "%s: %ld of %ld requests\n", ops->name, g.done, n);
    exit(1);
  }
  uvotel_auto_spans_disable();
  (void)uvotel_loop_close(&g.loop);
  if (uv_loop_close(&g.loop) != 0) abort();
  return t / (double)n;
}

static int export_count(void *self, const uvotel_span_data_t *const *spans, size_t n,
                        uint64_t timeout_ms) {
  (void)self, (void)spans, (void)timeout_ms;
  g_exported += n;
  return 0;
}

static const uvotel_span_exporter_ops_t k_count = {.export_spans = export_count};

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 20000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (n <= 0 || rounds <= 0 || rounds > MAX_ROUNDS) {
    fprintf(stderr, "usage: bench_http_client [requests (20000)] [rounds (7)]\n");
    return 2;
  }
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_span_exporter_create(&k_count, NULL));
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &proc;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *provider = uvotel_tracer_provider_create(&po);
  uvotel_tracer_t *tracer = uvotel_tracer_get(provider, "bench", "1");
  double t[NOPS][MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    for (size_t k = 0; k < NOPS; k++) t[k][r] = run_once(&k_ops[k], tracer, n);
  }
  printf("bench_http_client: %ld keep-alive requests per round, %d interleaved rounds\n", n,
         rounds);
  printf("loop-thread CPU ns per request (client + server, one thread): min / median / max\n");
  double base = 0;
  for (size_t k = 0; k < NOPS; k++) {
    qsort(t[k], (size_t)rounds, sizeof t[k][0], cmp);
    double med = t[k][rounds / 2];
    if (k == 0) base = med;
    printf("  %-5s %8.0f / %8.0f / %8.0f ns   x%.3f of raw (throughput %.3fx)\n", k_ops[k].name,
           t[k][0], med, t[k][rounds - 1], med / base, base / med);
  }
  long want = (long)rounds * (n + 2); /* http: n CLIENT spans; net and http: a tcp connect */
  printf("spans exported: %zu (want %ld)\n", g_exported, want);
  (void)uvotel_tracer_provider_shutdown(provider, 1000);
  uvotel_tracer_provider_free(provider);
  return g_exported == (size_t)want ? 0 : 1;
}
