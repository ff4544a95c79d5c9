/* Logs hot path: uvotel_log_attrs of a short message with 2 attributes through the batch log
 * processor (a discarding exporter on its export thread), against what an uninstrumented program
 * does for the same line: snprintf of the message and its two fields + write(2) to /dev/null.
 * Interleaved rounds in one process; min/median/max ns per record of the emitting thread's CPU
 * time (the machine is shared: time descheduled is not the code's), the ratio of the medians,
 * records offered and delivered (exported by the processor), and allocations in the measured
 * rounds (counting allocator). Build with -DCMAKE_BUILD_TYPE=Release.
 *
 *   bench_logs [records_per_round] [rounds]     (defaults 200000, 7) */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uvotel.h>

#include "counting_alloc.h"

static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static atomic_size_t g_delivered;
static int discard(void *self, const uvotel_log_data_t *const *recs, size_t n, uint64_t t) {
  (void)self, (void)recs, (void)t;
  atomic_fetch_add(&g_delivered, n);
  return 0;
}
static const uvotel_log_exporter_ops_t g_discard = {.export_logs = discard};

static double round_raw(int fd, long n) {
  char buf[256];
  double t0 = cpu_s();
  for (long i = 0; i < n; i++) {
    int len = snprintf(buf, sizeof buf, "INFO request %ld done user=%s n=%d\n", i, "alice", 1);
    if (write(fd, buf, (size_t)len) != len) abort();
  }
  return (cpu_s() - t0) * 1e9 / (double)n;
}

static double round_uvotel(uvotel_logger_t *l, uv_loop_t *loop, long n) {
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("user", "alice"), UVOTEL_ATTR_INT("n", 1)};
  double t0 = cpu_s();
  for (long i = 0; i < n; i++) {
    uvotel_log_attrs(l, UVOTEL_SEVERITY_INFO, attrs, 2, "request %ld done", i);
    /* the application's loop iterating now and then: export completions come back here */
    if ((i & 255) == 255) uv_run(loop, UV_RUN_NOWAIT);
  }
  return (cpu_s() - t0) * 1e9 / (double)n;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void stats(const char *name, double *v, int n, double *median) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  *median = v[n / 2];
  printf("  %-34s min %7.1f  median %7.1f  max %7.1f ns/record\n", name, v[0], v[n / 2], v[n - 1]);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 200000;
  int rounds = argc > 2 ? atoi(argv[2]) : 7;
  if (n <= 0 || rounds < 5 || rounds > 64) {
    fprintf(stderr, "usage: bench_logs [records_per_round > 0] [rounds 5..64]\n");
    return 2;
  }
  counting_alloc_install();
  int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &loop;
  uvotel_log_processor_t *pr =
      uvotel_batch_log_processor_create(uvotel_log_exporter_create(&g_discard, NULL), &bo);
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  uvotel_logger_t *l = uvotel_logger_get(p, "bench", NULL);

  /* a current span, as in a request handler: every record carries its ids */
  uvotel_tracer_provider_options_t to = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  to.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *tp = uvotel_tracer_provider_create(&to);
  uvotel_span_t *span = uvotel_span_start(uvotel_tracer_get(tp, "bench", NULL), "request", NULL);
  uvotel_scope_t sc;
  uvotel_span_enter(span, &sc);

  round_uvotel(l, &loop, n); /* warm-up: pool slots, record storage, export jobs */
  uvotel_logger_provider_force_flush(p, 10000);
  uv_run(&loop, UV_RUN_NOWAIT);
  atomic_store(&g_delivered, 0);
  uvotel_log_counters_t c0;
  uvotel_logger_provider_counters(p, &c0);

  double raw[64], inst[64];
  counting_alloc_stats_t a0 = counting_alloc_stats();
  for (int r = 0; r < rounds; r++) {
    raw[r] = round_raw(fd, n);
    inst[r] = round_uvotel(l, &loop, n);
  }
  counting_alloc_stats_t a1 = counting_alloc_stats();
  uvotel_logger_provider_force_flush(p, 10000);
  uv_run(&loop, UV_RUN_NOWAIT);
  uvotel_log_counters_t c1;
  uvotel_logger_provider_counters(p, &c1);

  printf("bench_logs: %ld records x %d interleaved rounds, a span current, 2 attributes\n", n,
         rounds);
  double mr, mi;
  stats("raw: snprintf + write(/dev/null)", raw, rounds, &mr);
  stats("uvotel_log_attrs -> batch", inst, rounds, &mi);
  printf("  ratio of medians uvotel/raw: %.2f\n", mi / mr);
  unsigned long long offered = (unsigned long long)n * (unsigned long long)rounds;
  printf("  offered %llu  delivered %llu  dropped %llu  pool exhausted %llu\n", offered,
         (unsigned long long)atomic_load(&g_delivered),
         (unsigned long long)(c1.dropped - c0.dropped),
         (unsigned long long)(c1.pool_exhausted - c0.pool_exhausted));
  printf("  allocations in measured rounds: %zu (%.4f per record)\n", a1.allocs - a0.allocs,
         (double)(a1.allocs - a0.allocs) / (double)offered);

  uvotel_scope_exit(&sc);
  uvotel_span_end(span);
  uvotel_logger_provider_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  uvotel_tracer_provider_free(tp);
  uv_loop_close(&loop);
  close(fd);
  return 0;
}
