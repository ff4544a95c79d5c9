/* bench_dns: DNS over UDP on loopback, raw libuv vs the uvotel wrappers with the dns category
 * on (uvotel/uv_dns.h), in one process.
 *
 * 4 client/responder socket pairs x 5,000 round trips: the client sends a standard query
 * (A example.com, a new id each trip), the responder answers it from its receive callback
 * (the query with QR set), the client's receive callback sends the next. Instrumented, each
 * trip is one CLIENT span (the client's query, until the answer) and one SERVER span (the
 * responder's, until its answer's send completes): 40,000 spans per run, ended into a batch
 * processor with a discarding exporter on its own thread; offered (started) and delivered
 * (exported) are printed with the drops.
 *
 * Rounds alternate raw and instrumented back to back (raw first, then the reverse order next
 * round); printed: min / median / max of the wall time and of the loop thread's CPU time
 * (RUSAGE_THREAD, which other processes' load disturbs less), and the median over rounds of the
 * paired ratio raw/instrumented (1.00: as fast as raw). Usage: bench_dns [rounds [raw|dns]]
 * (default 7 rounds, both; naming one variant runs only it, for instruction counts:
 * valgrind --tool=callgrind bench_dns 1 raw; "wrap" runs the wrappers with no category on).
 * Build with -DCMAKE_BUILD_TYPE=Release; quote `uptime` with the figures. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv.h"
#include "uvotel/uv_dns.h"
#include "uvotel/uv_spans.h"

#define PAIRS 4
#define TRIPS 5000
#define MAX_ROUNDS 31

typedef struct ops_s {
  int (*udp_send)(uv_udp_send_t *, uv_udp_t *, const uv_buf_t[], unsigned int,
                  const struct sockaddr *, uv_udp_send_cb);
  int (*udp_recv_start)(uv_udp_t *, uv_alloc_cb, uv_udp_recv_cb);
  void (*close)(uv_handle_t *, uv_close_cb);
} ops_t;

static const ops_t RAW = {uv_udp_send, uv_udp_recv_start, uv_close};
static const ops_t WRAPPED = {uvotel_udp_send, uvotel_udp_recv_start, uvotel_close};
static const ops_t *op;
static uv_loop_t *loop;

typedef struct end_s {
  uv_udp_t u;
  uv_udp_send_t s;
  struct sockaddr_in peer;
  char out[64];
  size_t nout;
  char in[512];
  int trips, client;
} end_t;

static end_t g_end[2 * PAIRS];

static void die(const char *what, int err) {
  fprintf(stderr, "bench_dns: %s: %s\n", what, uv_strerror(err));
  exit(1);
}

/* A query for A example.com with this id. */
static size_t query(char *m, unsigned id) {
  static const char q[] = "\0\0\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1";
  memcpy(m, q, sizeof q - 1);
  m[0] = (char)(id >> 8);
  m[1] = (char)id;
  return sizeof q - 1;
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  end_t *e = (end_t *)h;
  *buf = uv_buf_init(e->in, sizeof e->in);
}

static void send_out(end_t *e) {
  uv_buf_t b = uv_buf_init(e->out, (unsigned)e->nout);
  int err = op->udp_send(&e->s, &e->u, &b, 1, (const struct sockaddr *)&e->peer, NULL);
  if (err) die("udp_send", err);
}

static void on_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags) {
  (void)addr, (void)flags;
  if (n < 12) return;
  end_t *e = (end_t *)h;
  if (e->client) {
    if (++e->trips == TRIPS) {
      op->close((uv_handle_t *)&e->u, NULL);
      op->close((uv_handle_t *)&g_end[(e - g_end) + PAIRS].u, NULL);
      return;
    }
    e->nout = query(e->out, (unsigned)e->trips);
  } else { /* the answer: the query with QR set */
    memcpy(e->out, buf->base, (size_t)n);
    e->out[2] = (char)(e->out[2] | 0x80);
    e->nout = (size_t)n;
  }
  send_out(e);
}

static void run(void) {
  memset(g_end, 0, sizeof g_end);
  for (int i = 0; i < 2 * PAIRS; i++) {
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_udp_init(loop, &g_end[i].u);
    int err = uv_udp_bind(&g_end[i].u, (const struct sockaddr *)&a, 0);
    if (err) die("bind", err);
    err = op->udp_recv_start(&g_end[i].u, on_alloc, on_recv);
    if (err) die("udp_recv_start", err);
  }
  for (int i = 0; i < PAIRS; i++) {
    end_t *c = &g_end[i], *s = &g_end[i + PAIRS];
    int len = sizeof c->peer;
    uv_udp_getsockname(&s->u, (struct sockaddr *)&c->peer, &len);
    len = sizeof s->peer;
    uv_udp_getsockname(&c->u, (struct sockaddr *)&s->peer, &len);
    c->client = 1;
    c->nout = query(c->out, 0);
    send_out(c);
  }
  uv_run(loop, UV_RUN_DEFAULT);
}

static double wall(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double thread_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void timed(const ops_t *ops, double *t, double *cpu) {
  op = ops;
  double w0 = wall(), c0 = thread_cpu();
  run();
  *t = wall() - w0;
  *cpu = thread_cpu() - c0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void stats(const double *v, int n, double *lo, double *med, double *hi) {
  double s[MAX_ROUNDS];
  memcpy(s, v, sizeof *v * (size_t)n);
  qsort(s, (size_t)n, sizeof *s, cmp);
  *lo = s[0];
  *hi = s[n - 1];
  *med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static int discard(void *self, const uvotel_span_data_t *const *spans, size_t n, uint64_t t) {
  (void)self, (void)spans, (void)n, (void)t;
  return 0;
}
static const uvotel_span_exporter_ops_t g_discard = {.export_spans = discard};

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 7;
  if (rounds < 1 || rounds > MAX_ROUNDS) rounds = 7;
  int only = argc > 2 ? (strcmp(argv[2], "dns") == 0 ? 1 : 0) : -1; /* -1: both */
  int wrap_only = argc > 2 && strcmp(argv[2], "wrap") == 0;
  loop = uv_default_loop();
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = loop;
  bo.max_queue_size = 65536;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_span_exporter_create(&g_discard, NULL), &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = loop;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  if (p == NULL) die("provider", UV_ENOMEM);
  uvotel_auto_spans_options_t a = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  a.tracer = uvotel_tracer_get(p, "bench_dns", "1");
  a.categories = UVOTEL_INSTRUMENT_DNS;
  a.flags = UVOTEL_AUTO_SPANS_ROOTS; /* as under the preload: the client's queries are roots */
  if (uvotel_auto_spans_enable(&a) != 0) die("enable", UV_EINVAL);
  if (wrap_only) { /* the wrappers tracking everything, no category on: what DNS adds is the rest */
    uvotel_auto_spans_disable();
    only = 1;
  }

  double t[2][MAX_ROUNDS], c[2][MAX_ROUNDS], rt[MAX_ROUNDS], rc[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) {
    int first = r % 2; /* alternate the order */
    for (int k = 0; k < 2; k++) {
      int v = k ^ first;
      if (only >= 0 && v != only) {
        t[v][r] = c[v][r] = 1;
        continue;
      }
      timed(v ? &WRAPPED : &RAW, &t[v][r], &c[v][r]);
    }
    rt[r] = t[0][r] / t[1][r];
    rc[r] = c[0][r] / c[1][r];
  }
  uvotel_auto_spans_disable();
  int fl = uvotel_tracer_provider_force_flush(p, 10000);
  uvotel_trace_counters_t cnt;
  uvotel_tracer_provider_counters(p, &cnt);
  uvotel_dns_stats_t ds;
  uvotel_dns_stats(&ds);

  printf("bench_dns: %d rounds, %d pairs x %d query/answer round trips per run\n", rounds, PAIRS,
         TRIPS);
  printf("%-22s %10s %10s %10s\n", "", "min", "median", "max");
  const char *names[2] = {"raw", "dns spans"};
  for (int v = 0; v < 2; v++) {
    double lo, med, hi;
    stats(t[v], rounds, &lo, &med, &hi);
    printf("%-12s wall ms  %10.1f %10.1f %10.1f   (%.0f round trips/s median)\n", names[v],
           lo * 1e3, med * 1e3, hi * 1e3, PAIRS * TRIPS / med);
    stats(c[v], rounds, &lo, &med, &hi);
    printf("%-12s cpu ms   %10.1f %10.1f %10.1f\n", names[v], lo * 1e3, med * 1e3, hi * 1e3);
  }
  double lo, med, hi;
  stats(rt, rounds, &lo, &med, &hi);
  printf("ratio raw/dns  wall  %10.3f %10.3f %10.3f\n", lo, med, hi);
  stats(rc, rounds, &lo, &med, &hi);
  printf("ratio raw/dns  cpu   %10.3f %10.3f %10.3f\n", lo, med, hi);
  printf(
      "spans offered (started) %llu, delivered (exported) %llu, dropped %llu, failed %llu;"
      " flush %d\n",
      (unsigned long long)cnt.started, (unsigned long long)cnt.exported,
      (unsigned long long)cnt.dropped, (unsigned long long)cnt.failed, fl);
  printf("dns: client queries %llu answered %llu unanswered %llu evicted %llu\n",
         (unsigned long long)ds.client_queries, (unsigned long long)ds.client_answered,
         (unsigned long long)ds.client_unanswered, (unsigned long long)ds.client_evicted);
  (void)uvotel_tracer_provider_shutdown(p, 10000);
  uvotel_tracer_provider_free(p);
  uv_run(loop, UV_RUN_DEFAULT);
  (void)uvotel_loop_close(loop);
  return uv_loop_close(loop) != 0;
}
