/* bench_otlp: 1,000,000 spans (name + 4 attributes) ended on the application thread, through
 * the batch span processor (queue 65,536, batches of 512) and the OTLP/HTTP exporter, to the
 * loopback OTLP receiver (its own thread, decoding every body with protobuf-c).
 *
 * The producer runs as the application would on an event loop: inside loop callbacks (a
 * uv_idle_t making CHUNK spans per turn), so the processor's handles get their turn between
 * chunks. Reported:
 *   - spans/s delivered (first span started -> last span decoded by the receiver),
 *   - spans dropped (processor queue full, exporter refusals, failures),
 *   - application-thread ns per span (only the start + 4 attributes + end calls), beside the
 *     same calls on a non-recording span (sampler always_off: the raw cost of the API) and the
 *     ratio,
 *   - bytes per span on the wire (uncompressed protobuf body bytes / spans),
 *   - encoding alone: the exporter's direct encoder on 512 finished spans beside the protobuf-c
 *     reference encoder (what the exporter used before), min/median/max ns per span over
 *     interleaved rounds and their ratio, and gzip on top of it.
 * Usage: bench_otlp [spans] [null]   |   bench_otlp encode (the encoding rows only)
 * Build with -DCMAKE_BUILD_TYPE=Release for numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "otlp_internal.h"
#include "otlp_pbc_encode.h"
#include "otlp_receiver.h"
#include "uvotel.h"
#include "uvotel/exporters/otlp_http.h"

#define CHUNK 1024
#define BATCH 512
#define QUEUE 65536

static uint64_t now_ns(void) {
  return uv_hrtime();
}

/* CPU time of the calling thread: what the span calls cost the application thread, without
 * the time it spent preempted by the exporter, the receiver and everything else on the box. */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct prod_s {
  uvotel_tracer_t *tracer;
  size_t total, done;
  uint64_t app_ns;  /* wall time inside the span calls only */
  uint64_t app_cpu; /* thread CPU time inside the span calls */
  uv_idle_t idle;
} prod_t;

static void make_span(uvotel_tracer_t *t, size_t i) {
  uvotel_span_t *s = uvotel_span_start(t, "GET /api/items", NULL);
  uvotel_span_set_attribute_str(s, "http.method", "GET");
  uvotel_span_set_attribute_int(s, "http.status_code", 200);
  uvotel_span_set_attribute_str(s, "http.route", "/api/items");
  uvotel_span_set_attribute_int(s, "item.index", (int64_t)i);
  uvotel_span_end(s);
}

static void on_idle(uv_idle_t *h) {
  prod_t *p = h->data;
  size_t n = p->total - p->done < CHUNK ? p->total - p->done : CHUNK;
  uint64_t t0 = now_ns(), c0 = cpu_ns();
  for (size_t i = 0; i < n; i++) make_span(p->tracer, p->done + i);
  p->app_ns += now_ns() - t0;
  p->app_cpu += cpu_ns() - c0;
  p->done += n;
  if (p->done == p->total) uv_idle_stop(h);
}

static void run_producer(uv_loop_t *loop, prod_t *p) {
  uv_idle_init(loop, &p->idle);
  p->idle.data = p;
  uv_idle_start(&p->idle, on_idle);
  /* Run until every span is made; the processor's handles are unreferenced, so the loop would
   * stop once the idle handle stops: keep turning it while exports complete. */
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&p->idle, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
}

/* A processor that keeps the first BATCH finished spans, for the encoding-only measurement. */
typedef struct keep_s {
  const uvotel_span_data_t *spans[BATCH];
  size_t n;
} keep_t;

static void keep_on_end(void *self, const uvotel_span_data_t *d) {
  keep_t *k = self;
  if (k->n < BATCH) k->spans[k->n++] = uvotel_span_data_retain(d);
}

static const uvotel_span_processor_ops_t k_keep_ops = {NULL, keep_on_end, NULL, NULL, NULL, NULL};

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define ENC_ROUNDS 7

/* ns per span of one encoder over the kept batch, `iters` times */
static double time_encode(int direct, const keep_t *keep, uvotel__otlp_block_cache_t *cache,
                          int iters, size_t *len_out) {
  uint8_t *body = NULL;
  size_t len = 0;
  uint64_t t0 = now_ns();
  for (int i = 0; i < iters; i++) {
    int rc = direct ? uvotel__otlp_encode(keep->spans, keep->n, cache, &body, &len)
                    : otlp_pbc_encode(keep->spans, keep->n, &body, &len);
    if (rc != 0) {
      fprintf(stderr, "encode failed: %d\n", rc);
      exit(1);
    }
    uvotel_free(body);
  }
  *len_out = len;
  return (double)(now_ns() - t0) / ((double)iters * (double)keep->n);
}

static void bench_encode(void) {
  keep_t keep = {{0}, 0};
  uvotel_span_processor_t *kp = uvotel_span_processor_create(&k_keep_ops, &keep);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &kp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "bench", "1.0");
  for (size_t i = 0; i < BATCH; i++) make_span(t, i);
  const int iters = 400;
  /* the exporter's own path: the direct encoder with its recycled scratch; beside it the
   * protobuf-c reference (the exporter's encoder before), rounds interleaved */
  uvotel__otlp_block_cache_t *cache = NULL;
  uvotel__otlp_block_cache_create(&cache);
  double d[ENC_ROUNDS], r[ENC_ROUNDS], ratio[ENC_ROUNDS];
  size_t len = 0, rlen = 0;
  time_encode(1, &keep, cache, 20, &len); /* warm up both */
  time_encode(0, &keep, cache, 20, &rlen);
  for (int k = 0; k < ENC_ROUNDS; k++) {
    d[k] = time_encode(1, &keep, cache, iters, &len);
    r[k] = time_encode(0, &keep, cache, iters, &rlen);
    ratio[k] = r[k] / d[k];
  }
  qsort(d, ENC_ROUNDS, sizeof d[0], cmp_double);
  qsort(r, ENC_ROUNDS, sizeof r[0], cmp_double);
  qsort(ratio, ENC_ROUNDS, sizeof ratio[0], cmp_double);
  printf(
      "encode only     : direct %.1f / %.1f / %.1f ns/span (min/median/max of %d rounds x %d "
      "batches of %zu), %.2f M spans/s at the median, %zu bytes per body (%.1f B/span)\n",
      d[0], d[ENC_ROUNDS / 2], d[ENC_ROUNDS - 1], ENC_ROUNDS, iters, keep.n,
      1e3 / d[ENC_ROUNDS / 2], len, (double)len / (double)keep.n);
  printf(
      "encode only     : protobuf-c reference %.1f / %.1f / %.1f ns/span (%zu bytes); "
      "reference / direct %.2f / %.2f / %.2fx%s\n",
      r[0], r[ENC_ROUNDS / 2], r[ENC_ROUNDS - 1], rlen, ratio[0], ratio[ENC_ROUNDS / 2],
      ratio[ENC_ROUNDS - 1], len == rlen ? "" : "  (BODY SIZES DIFFER)");
  uint8_t *body = NULL, *z = NULL;
  size_t zn = 0;
  uvotel__otlp_encode(keep.spans, keep.n, cache, &body, &len);
  uvotel__otlp_block_cache_free(cache);
  uint64_t t0 = now_ns();
  for (int i = 0; i < iters / 10; i++) {
    uvotel__otlp_gzip(body, len, &z, &zn);
    uvotel_free(z);
  }
  uint64_t gz = now_ns() - t0;
  printf("gzip only       : %.0f spans/s, %.1f MB/s in, level 1: %zu -> ~%zu bytes (%.1f B/span)\n",
         (double)(iters / 10) * (double)keep.n / (gz / 1e9),
         (double)len * (iters / 10) / (gz / 1e9) / 1e6, len, zn, (double)zn / (double)keep.n);
  uvotel_free(body);
  for (size_t i = 0; i < keep.n; i++) uvotel_span_data_release(keep.spans[i]);
  uvotel_tracer_provider_shutdown(p, 1000);
  uvotel_tracer_provider_free(p);
}

static uint64_t bench_raw(size_t total) {
  /* the same API calls on non-recording spans: what the application pays without export */
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.sampler = uvotel_sampler_always_off();
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE | UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "bench", "1.0");
  uint64_t t0 = cpu_ns();
  for (size_t i = 0; i < total; i++) make_span(t, i);
  uint64_t ns = cpu_ns() - t0;
  uvotel_tracer_provider_shutdown(p, 1000);
  uvotel_tracer_provider_free(p);
  return ns;
}

/* A do-nothing exporter: the same pipeline without encoding or HTTP ("null" mode), to separate
 * the SDK's share of the application-thread cost from the exporter's. */
static int null_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                       uint64_t timeout_ms) {
  (void)self, (void)spans, (void)timeout_ms;
  return n > 0 ? 0 : 0;
}
static const uvotel_span_exporter_ops_t k_null_ops = {.export_spans = null_export,
                                                      .flags = UVOTEL_EXPORTER_CONCURRENT};

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "encode") == 0) {
    bench_encode();
    return 0;
  }
  size_t total = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
  int null_mode = argc > 2 && strcmp(argv[2], "null") == 0;
  otlp_receiver_faults_t f;
  memset(&f, 0, sizeof f);
  f.discard = 1;
  otlp_receiver_t *rx;
  if (otlp_receiver_start(&rx, 0, &f) != 0) return 1;
  char url[128];
  otlp_receiver_url(rx, url, sizeof url);

  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.endpoint = url;
  o.use_env = 0;
  o.max_concurrent = 2;
  o.max_queue_batches = 64;
  uvotel_span_exporter_t *exp = NULL;
  if (null_mode)
    exp = uvotel_span_exporter_create(&k_null_ops, NULL);
  else if (uvotel_otlp_http_exporter_create(&o, &exp) != 0)
    return 1;
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &loop;
  bo.max_queue_size = QUEUE;
  bo.max_export_batch_size = BATCH;
  bo.schedule_delay_ms = 100;
  bo.max_concurrent_exports = 2;
  uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(exp, &bo);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &loop;
  po.max_spans = QUEUE * 2;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);

  prod_t prod;
  memset(&prod, 0, sizeof prod);
  prod.tracer = uvotel_tracer_get(p, "bench", "1.0");
  prod.total = total;
  uint64_t t0 = now_ns();
  run_producer(&loop, &prod);
  int frc = uvotel_tracer_provider_force_flush(p, 60000);
  uvotel_otlp_http_stats_t st;
  memset(&st, 0, sizeof st);
  uvotel_otlp_http_exporter_stats(exp, &st);
  otlp_receiver_wait_spans(rx, (size_t)st.spans_exported, 10000);
  uint64_t elapsed = now_ns() - t0;
  otlp_receiver_counts_t rc = otlp_receiver_counts(rx);
  uvotel_trace_counters_t tc;
  uvotel_tracer_provider_counters(p, &tc);
  uvotel_otlp_http_exporter_stats(exp, &st);
  if (null_mode) rc.spans = (size_t)tc.exported;

  uint64_t raw_ns = bench_raw(total);
  double app = (double)prod.app_ns / (double)total, raw = (double)raw_ns / (double)total;
  printf("spans           : %zu made, %zu delivered (receiver), force_flush rc=%d\n", total,
         rc.spans, frc);
  printf("delivered       : %.0f spans/s (%.3f s from first span to last decoded)\n",
         (double)rc.spans / (elapsed / 1e9), elapsed / 1e9);
  printf("dropped         : %llu (processor queue full %llu, exporter refused %llu, failed %llu)\n",
         (unsigned long long)(tc.dropped + st.spans_dropped + st.spans_failed),
         (unsigned long long)tc.dropped, (unsigned long long)st.spans_dropped,
         (unsigned long long)st.spans_failed);
  double app_cpu = (double)prod.app_cpu / (double)total;
  printf(
      "app thread      : %.1f ns/span CPU (%.1f wall, preemption included) recording+export"
      " vs %.1f ns/span CPU non-recording (ratio %.2f)\n",
      app_cpu, app, raw, raw > 0 ? app_cpu / raw : 0.0);
  printf(
      "wire            : %.1f bytes/span uncompressed (%llu bytes, %llu requests, %zu "
      "connections)\n",
      st.spans_exported ? (double)st.bytes_sent / (double)st.spans_exported : 0.0,
      (unsigned long long)st.bytes_sent, (unsigned long long)st.requests, rc.connections);
  bench_encode();

  uvotel_tracer_provider_shutdown(p, 10000);
  uvotel_tracer_provider_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  otlp_receiver_stop(rx);
  return rc.spans == total ? 0 : 2;
}
