/* Tracing hot paths:
 *   1. span start + 4 attributes + end through a batch processor with a discarding exporter
 *   2. the same for a non-sampled span (always_off)
 *   3. the attribute-count sweep: start + 0 / 4 / 16 / 64 integer attributes + end (the growth
 *      must be linear: 64 attributes <= 1 us)
 *   4. OTLP/JSON encoding of finished spans (the file exporter's work), spans/s
 * Rows 1-3 and the raw baseline run interleaved, ROUNDS times; min / median / max printed.
 * Usage: bench_trace [ops per round] [spans]   ("spans": rows 1-3 only)
 *        bench_trace OPS only ROW   one row, no rounds, for instruction counts:
 *          valgrind --tool=callgrind --toggle-collect=run_only bench_trace 40000 only 4
 *          (ROW: 4, lit, nonsampled, sweep0, sweep4, sweep16, sweep64; instructions per span =
 *          the collected total / OPS; the pool and arenas are warmed first, outside run_only)
 *   BENCH_TRACE_PROC=simple: a simple processor instead of the batch one. Each span is
 *   released at its end and the next start reuses its slot, so an only-mode count is the warm
 *   path's and the same every run (with the batch processor most of the run's slots are new,
 *   their arrays still growing, and how many depends on when the export threads ran)
 *   BENCH_TRACE_PREALLOC=none: providers fill their span pool on demand instead of at creation
 *   (the "first 4096 spans" row then shows what the lazy fill costs)
 * Each is printed next to a raw baseline measured in the same process: for spans, the work an
 * uninstrumented program does for the same operation (two clock reads and four stores into a
 * record), and beside it the same with the two reads of the time-stamp counter the SDK takes
 * (the floor of any span with a start and an end time: on virtual machines each costs tens of
 * cycles); for encoding, copying the encoded bytes. W3C extract/inject is benchmarked with the
 * propagation code. Build with -DCMAKE_BUILD_TYPE=Release.
 *
 * The loop the spans are ended on holds a referenced handle (as an application's listening
 * socket would), so uv_run(UV_RUN_NOWAIT) polls: the batch processor's handles are unreferenced
 * and a loop with nothing else would return at once, its exports never collected, so nearly
 * every span would be dropped and the rows would time the drop path. Each span row counts the
 * spans offered and those dropped while it ran (delivered = offered - dropped), and its time
 * includes releasing the delivered spans: the loop that collects the export results is this
 * thread's, so the row is the application thread's whole cost per exported span. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uvotel.h>
#include <uvotel/exporters/file.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#define HAVE_TSC 1
#endif

/* Thread CPU time: the machine is shared, and time spent descheduled is not the code's. Each
 * measurement is repeated and the best run kept. */
static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
#define REPEAT 1

static int discard(void *self, const uvotel_span_data_t *const *spans, size_t n, uint64_t t) {
  (void)self, (void)spans, (void)n, (void)t;
  return 0;
}
static const uvotel_span_exporter_ops_t g_discard = {.export_spans = discard};

typedef struct raw_rec_s {
  uint64_t start, end;
  const char *k1;
  int64_t v2;
  double v3;
  int v4;
} raw_rec_t;

static volatile uint64_t g_sink;

static uint64_t raw_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double bench_raw(long iters) {
  raw_rec_t r;
  double best = 1e30;
  for (int rep = 0; rep < REPEAT; rep++) {
    double t0 = now_s();
    for (long i = 0; i < iters; i++) {
      r.start = raw_now();
      r.k1 = "GET";
      r.v2 = i;
      r.v3 = 1.5;
      r.v4 = 1;
      r.end = raw_now();
      g_sink += r.end - r.start + (uint64_t)r.v2;
    }
    double ns = (now_s() - t0) * 1e9 / (double)iters;
    if (ns < best) best = ns;
  }
  return best;
}

/* The same record with the time-stamp counter read twice (what the SDK's clock costs). */
static double bench_raw_tsc(long iters) {
#ifdef HAVE_TSC
  raw_rec_t r;
  double t0 = now_s();
  for (long i = 0; i < iters; i++) {
    r.start = __rdtsc();
    r.k1 = "GET";
    r.v2 = i;
    r.v3 = 1.5;
    r.v4 = 1;
    r.end = __rdtsc();
    g_sink += r.end - r.start + (uint64_t)r.v2;
  }
  return (now_s() - t0) * 1e9 / (double)iters;
#else
  return bench_raw(iters);
#endif
}

static void span_loop(uvotel_tracer_t *t, uv_loop_t *loop, long iters) {
  for (long i = 0; i < iters; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "GET /users", NULL);
    uvotel_span_set_attribute_str(s, "http.method", "GET");
    uvotel_span_set_attribute_int(s, "http.status_code", 200);
    uvotel_span_set_attribute_double(s, "load", 1.5);
    uvotel_span_set_attribute_bool(s, "cache.hit", true);
    uvotel_span_end(s);
    /* the application's loop iterating now and then: export completions come back here */
    if ((i & 255) == 255) uv_run(loop, UV_RUN_NOWAIT);
  }
}

/* The same span with the borrowed-key setters (literal keys: no strlen, no copy). */
static void span_loop_lit(uvotel_tracer_t *t, uv_loop_t *loop, long iters) {
  for (long i = 0; i < iters; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "GET /users", NULL);
    UVOTEL_SPAN_SET_STR_LIT(s, "http.method", "GET");
    UVOTEL_SPAN_SET_INT_LIT(s, "http.status_code", 200);
    UVOTEL_SPAN_SET_DOUBLE_LIT(s, "load", 1.5);
    UVOTEL_SPAN_SET_BOOL_LIT(s, "cache.hit", true);
    uvotel_span_end(s);
    if ((i & 255) == 255) uv_run(loop, UV_RUN_NOWAIT);
  }
}

/* The attribute-count sweep: start + n integer attributes (distinct keys) + end. */
static char g_keys[64][24];
static void sweep_loop(uvotel_tracer_t *t, uv_loop_t *loop, long iters, int n) {
  for (long i = 0; i < iters; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "op", NULL);
    for (int k = 0; k < n; k++) uvotel_span_set_attribute_int(s, g_keys[k], k);
    uvotel_span_end(s);
    if ((i & 255) == 255) uv_run(loop, UV_RUN_NOWAIT);
  }
}

typedef struct pipe_s {
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
} pipe_t;

/* only mode: a queue no run fills, so no span takes the drop path however the export threads
 * are scheduled (under callgrind they run seldom) and the instruction count is the same each run */
static size_t g_queue_size;

static pipe_t pipe_open(uv_loop_t *loop, int sampled) {
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = loop;
  if (g_queue_size != 0) bo.max_queue_size = g_queue_size;
  /* BENCH_TRACE_PROC=simple: each span exported (discarded) and released as it ends, so the
   * next start reuses the same warm slot and an instruction count is the same every run */
  const char *proc = getenv("BENCH_TRACE_PROC");
  uvotel_span_exporter_t *ex = uvotel_span_exporter_create(&g_discard, NULL);
  uvotel_span_processor_t *bp = proc != NULL && strcmp(proc, "simple") == 0
                                    ? uvotel_simple_span_processor_create(ex)
                                    : uvotel_batch_span_processor_create(ex, &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = loop;
  o.sampler = sampled ? uvotel_sampler_always_on() : uvotel_sampler_always_off();
  /* BENCH_TRACE_PREALLOC=none: the pool fills on demand (what the first-spans row compares) */
  const char *pre = getenv("BENCH_TRACE_PREALLOC");
  if (pre != NULL && strcmp(pre, "none") == 0) o.prealloc_spans = UVOTEL_PREALLOC_NONE;
  pipe_t pp;
  pp.p = uvotel_tracer_provider_create(&o);
  pp.t = uvotel_tracer_get(pp.p, "bench", "1");
  return pp;
}

static uint64_t g_retired_started, g_retired_exported, g_retired_dropped, g_last_dropped;

static void pipe_close(uv_loop_t *loop, pipe_t *pp, const char *name) {
  uvotel_tracer_provider_force_flush(pp->p, 10000);
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(pp->p, &c);
  if (strcmp(name, "sampled") == 0) {
    c.started += g_retired_started;
    c.exported += g_retired_exported;
    c.dropped += g_retired_dropped;
  }
  printf("  %-10s pipeline: started %llu, exported %llu, dropped %llu\n", name,
         (unsigned long long)c.started, (unsigned long long)c.exported,
         (unsigned long long)c.dropped);
  uvotel_tracer_provider_shutdown(pp->p, 10000);
  uvotel_tracer_provider_free(pp->p);
  uv_run(loop, UV_RUN_DEFAULT);
}

/* Retire a pipeline without printing (the first-spans row's fresh ones); its counts go into the
 * sampled totals. */
static void pipe_close_quiet(uv_loop_t *loop, pipe_t *pp) {
  uvotel_tracer_provider_force_flush(pp->p, 10000);
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(pp->p, &c);
  g_retired_started += c.started;
  g_retired_exported += c.exported;
  g_retired_dropped += c.dropped;
  g_last_dropped = c.dropped;
  uvotel_tracer_provider_shutdown(pp->p, 10000);
  uvotel_tracer_provider_free(pp->p);
  uv_run(loop, UV_RUN_NOWAIT);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define ROUNDS 7
enum {
  ROW_RAW,
  ROW_TSC,
  ROW_4,
  ROW_4_LIT,
  ROW_FIRST,
  ROW_NONSAMPLED,
  ROW_A0,
  ROW_A4,
  ROW_A16,
  ROW_A64,
  N_ROWS
};
static const char *k_row_names[N_ROWS] = {"raw: 2 clock reads + 4 stores",
                                          "raw: 2 TSC reads + 4 stores (SDK's clock)",
                                          "span start+4 attrs+end, batch, discard",
                                          "  the same, keys borrowed (_LIT setters)",
                                          "  the first 4096 spans of a new provider",
                                          "non-sampled span start+4 attrs+end",
                                          "sweep: start + 0 int attrs + end",
                                          "sweep: start + 4 int attrs + end",
                                          "sweep: start + 16 int attrs + end",
                                          "sweep: start + 64 int attrs + end"};

static void bench_spans(uv_loop_t *loop, long iters) {
  for (int k = 0; k < 64; k++) snprintf(g_keys[k], sizeof g_keys[k], "app.attribute.%02d", k);
  /* an application's referenced handle: uv_run(NOWAIT) polls and collects export results */
  uv_async_t keep_alive;
  uv_async_init(loop, &keep_alive, NULL);
  pipe_t on = pipe_open(loop, 1), off = pipe_open(loop, 0);
  /* warm up: pool, arenas, export jobs */
  span_loop(on.t, loop, iters / 4);
  sweep_loop(on.t, loop, iters / 16, 64);
  span_loop(off.t, loop, iters / 4);
  uvotel_tracer_provider_force_flush(on.p, 10000);
  double ns[N_ROWS][ROUNDS], allocs[N_ROWS];
  uint64_t offered[N_ROWS], dropped[N_ROWS];
  memset(allocs, 0, sizeof allocs);
  memset(offered, 0, sizeof offered);
  memset(dropped, 0, sizeof dropped);
  static const int sweep_n[] = {0, 4, 16, 64};
  for (int r = 0; r < ROUNDS; r++) {
    for (int row = 0; row < N_ROWS; row++) {
      long it = row == ROW_A64 ? iters / 16 : row == ROW_A16 ? iters / 4 : iters;
      counting_alloc_stats_t a0 = counting_alloc_stats();
      double t0 = now_s();
      if (row == ROW_RAW || row == ROW_TSC) {
        ns[row][r] = row == ROW_RAW ? bench_raw(it) : bench_raw_tsc(it);
        continue;
      }
      uvotel_trace_counters_t c0, c1;
      uvotel_tracer_provider_counters(on.p, &c0);
      if (row == ROW_FIRST) {
        /* a fresh provider each round; only its first spans are timed (the pool is made ready
         * at creation, so they should cost what later ones do) */
        pipe_t fresh = pipe_open(loop, 1);
        uvotel_trace_counters_t f0, f1;
        uvotel_tracer_provider_counters(fresh.p, &f0);
        it = 4096;
        a0 = counting_alloc_stats();
        t0 = now_s();
        span_loop(fresh.t, loop, it);
        ns[row][r] = (now_s() - t0) * 1e9 / (double)it;
        counting_alloc_stats_t a1 = counting_alloc_stats();
        if (r == ROUNDS - 1) allocs[row] = (double)(a1.allocs - a0.allocs) / (double)it;
        uvotel_tracer_provider_counters(fresh.p, &f1);
        offered[row] += f1.received - f0.received;
        pipe_close_quiet(loop, &fresh);
        dropped[row] += g_last_dropped;
        continue;
      } else if (row == ROW_4) {
        span_loop(on.t, loop, it);
      } else if (row == ROW_4_LIT) {
        span_loop_lit(on.t, loop, it);
      } else if (row == ROW_NONSAMPLED) {
        span_loop(off.t, loop, it);
      } else {
        sweep_loop(on.t, loop, it, sweep_n[row - ROW_A0]);
      }
      ns[row][r] = (now_s() - t0) * 1e9 / (double)it;
      uvotel_tracer_provider_counters(on.p, &c1);
      if (row != ROW_NONSAMPLED) {
        offered[row] += c1.received - c0.received;
        dropped[row] += c1.dropped - c0.dropped;
      }
      counting_alloc_stats_t a1 = counting_alloc_stats();
      if (r == ROUNDS - 1) allocs[row] = (double)(a1.allocs - a0.allocs) / (double)it;
    }
  }
  double raw_med;
  {
    double tmp[ROUNDS];
    memcpy(tmp, ns[ROW_RAW], sizeof tmp);
    qsort(tmp, ROUNDS, sizeof tmp[0], cmp_d);
    raw_med = tmp[ROUNDS / 2];
  }
  printf(
      "spans: thread CPU ns per op, min / median / max of %d interleaved rounds (%ld ops; "
      "/4 for 16 attrs, /16 for 64)\n",
      ROUNDS, iters);
  for (int row = 0; row < N_ROWS; row++) {
    qsort(ns[row], ROUNDS, sizeof ns[row][0], cmp_d);
    printf("  %-42s %7.1f / %7.1f / %7.1f ns  ratio to raw %6.2fx  %.4f allocs/op",
           k_row_names[row], ns[row][0], ns[row][ROUNDS / 2], ns[row][ROUNDS - 1],
           ns[row][ROUNDS / 2] / raw_med, allocs[row]);
    if (offered[row] != 0) {
      printf("  offered %llu, dropped %llu (%.1f%%)", (unsigned long long)offered[row],
             (unsigned long long)dropped[row], 100.0 * (double)dropped[row] / (double)offered[row]);
    }
    printf("\n");
  }
  uv_close((uv_handle_t *)&keep_alive, NULL);
  pipe_close(loop, &on, "sampled");
  pipe_close(loop, &off, "unsampled");
}

static void bench_encode(uv_loop_t *loop) {
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.loop = loop;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "bench", "1");
  enum { N = 512 };
  for (int i = 0; i < N; i++) {
    uvotel_span_t *s = uvotel_span_start(t, "GET /users", NULL);
    uvotel_span_set_attribute_str(s, "http.method", "GET");
    uvotel_span_set_attribute_int(s, "http.status_code", 200);
    uvotel_span_set_attribute_double(s, "load", 1.5);
    uvotel_span_set_attribute_bool(s, "cache.hit", true);
    uvotel_span_end(s);
  }
  const uvotel_span_data_t *spans[N];
  for (int i = 0; i < N; i++) spans[i] = uvotel_memory_exporter_get(mem, (size_t)i);
  char *buf = NULL, *copy;
  size_t cap = 0, len = 0;
  uvotel_otlp_json_encode(spans, N, &buf, &cap, &len);
  copy = malloc(len + 1);
  int rounds = 400;
  double enc = 1e30;
  for (int rep = 0; rep < REPEAT; rep++) {
    double t0 = now_s();
    for (int r = 0; r < rounds; r++) uvotel_otlp_json_encode(spans, N, &buf, &cap, &len);
    if (now_s() - t0 < enc) enc = now_s() - t0;
  }
  double t0 = now_s();
  for (int r = 0; r < rounds; r++) {
    memcpy(copy, buf, len);
    g_sink += (uint64_t)copy[r % len];
  }
  double cp = now_s() - t0;
  double sps = (double)N * rounds / enc;
  printf("%-44s %8.0f spans/s  %.0f MB/s  %zu bytes/span  memcpy baseline ratio %.1fx\n",
         "OTLP/JSON encoding (4 attrs/span)", sps, (double)len * rounds / enc / 1e6, len / N,
         enc / (cp > 0 ? cp : 1e-9));
  free(copy);
  uvotel_free(buf);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
  uv_run(loop, UV_RUN_DEFAULT);
}

/* One row, once; run_only is the function callgrind collects (--toggle-collect=run_only). */
static void run_row(uvotel_tracer_t *t, uv_loop_t *loop, long iters, const char *row) {
  if (strcmp(row, "4") == 0 || strcmp(row, "nonsampled") == 0) {
    span_loop(t, loop, iters);
  } else if (strcmp(row, "lit") == 0) {
    span_loop_lit(t, loop, iters);
  } else if (strncmp(row, "sweep", 5) == 0) {
    sweep_loop(t, loop, iters, atoi(row + 5));
  }
}

/* Collected by callgrind: the row, then the flush that hands back every span it ended, so the
 * count includes releasing them all whenever the export threads ran. */
__attribute__((noinline)) static void run_only(uvotel_tracer_provider_t *p, uvotel_tracer_t *t,
                                               uv_loop_t *loop, long iters, const char *row) {
  run_row(t, loop, iters, row);
  uvotel_tracer_provider_force_flush(p, 10000);
  uv_run(loop, UV_RUN_NOWAIT);
}

static int bench_only(uv_loop_t *loop, long iters, const char *row) {
  static const char *const known[] = {"4",      "lit",     "nonsampled", "sweep0",
                                      "sweep4", "sweep16", "sweep64"};
  int ok = 0;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) ok |= strcmp(row, known[i]) == 0;
  if (!ok) {
    fprintf(stderr, "bench_trace: unknown row \"%s\"\n", row);
    return 2;
  }
  for (int k = 0; k < 64; k++) snprintf(g_keys[k], sizeof g_keys[k], "app.attribute.%02d", k);
  uv_async_t keep_alive;
  uv_async_init(loop, &keep_alive, NULL);
  g_queue_size = 65536;
  if (iters > 40000) {
    fprintf(stderr, "bench_trace: only mode takes at most 40000 ops (the queue holds 65536)\n");
    return 2;
  }
  pipe_t pp = pipe_open(loop, strcmp(row, "nonsampled") != 0);
  run_row(pp.t, loop, iters / 4, row); /* warm: pool, arenas */
  uvotel_tracer_provider_force_flush(pp.p, 10000);
  uv_run(loop, UV_RUN_NOWAIT);
  run_only(pp.p, pp.t, loop, iters, row);
  uv_close((uv_handle_t *)&keep_alive, NULL);
  pipe_close(loop, &pp, "only");
  return 0;
}

int main(int argc, char **argv) {
  counting_alloc_install();
  long iters = argc > 1 ? atol(argv[1]) : 1000000;
  uv_loop_t loop;
  uv_loop_init(&loop);
  if (argc > 3 && strcmp(argv[2], "only") == 0) {
    int rc = bench_only(&loop, iters, argv[3]);
    uv_loop_close(&loop);
    return rc;
  }
  bench_spans(&loop, iters);
  if (argc <= 2 || strcmp(argv[2], "spans") != 0) bench_encode(&loop);
  uv_loop_close(&loop);
  return 0;
}
