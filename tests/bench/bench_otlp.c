/* bench_otlp: spans (name + 4 attributes) ended on the application's loop thread, through the
 * batch span processor and the OTLP/HTTP exporter (http/protobuf, no compression), to a discard
 * receiver on loopback in its own process (tests/bench/discard_receiver.c: counts spans by
 * walking the protobuf, no decoding; its CPU is reported apart), so the figures rank the SDK.
 *
 * Modes (every round builds a fresh provider, processor and exporter on a fresh loop; the
 * receiver lives for the whole run):
 *   burst      N spans made as fast as the loop thread can (CHUNK per uv_idle turn, so the
 *              processor's handles get their turn), with the default drop policy and, in the
 *              interleaved round beside it, with back-pressure (block_timeout_ms);
 *   sustained  R spans/s offered for T s, paced on the loop (a 1 ms uv_timer makes the spans due
 *              by then: R x elapsed, so a late tick catches up), the default drop policy;
 *   encode     the exporter's direct encoder on 512 finished spans beside the protobuf-c
 *              reference (both checked to give the same bytes), for two shapes of span
 *              (shape=attr4: name + 4 attributes; shape=http: an HTTP SERVER span with a
 *              remote parent and 10 attributes; shape=httpd: the same with the keys borrowed
 *              as the detector sets them; shape=both, the default: attr4 and http; shape=all:
 *              the three), gzip on top, and
 *              the direct encoder over spans not in the caches;
 *   encode-ir  a small deterministic driver for instruction counts under callgrind (see
 *              bench_encode_ir): shape=attr4 (default), http or httpd, batches=20, ref=1 for
 *              protobuf-c.
 * Every pipeline row reports offered, delivered (counted by the receiver) and dropped (never
 * delivered alone), the rates over the round's wall time (first span to the last answer), and
 * CPU per offered span by stage: the span calls on the application thread (thread CPU), the
 * rest of the loop thread (dispatch, timers), the processor's export threads ("uvotel-bsp":
 * hand-off, encoding, span release), the exporter's thread ("uvotel-otlp": curl, HTTP) and the
 * receiver process. Min / median / max over the rounds.
 *
 * Usage: bench_otlp [burst|sustained|all|encode|encode-ir] [key=value ...]
 *   spans=1000000 rate=1000000 seconds=10 rounds=5 block=1000 (ms, back-pressure rounds)
 *   exports=2 (max_concurrent_exports, and the exporter's max_concurrent) batch=512
 *   queue=65536 delay=100 (schedule delay, ms)
 * `all` (the default) runs the burst pair and then sustained. Exit 0 when every round of the
 * sustained mode and every back-pressure round delivered all it offered, 2 otherwise.
 * Build with -DCMAKE_BUILD_TYPE=Release for numbers; quote `uptime` beside them. */
#define _GNU_SOURCE
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "otlp_internal.h"
#include "otlp_pbc_encode.h"
#include "uvotel.h"
#include "uvotel/exporters/otlp_http.h"

#ifndef DISCARD_RECEIVER_BIN
#define DISCARD_RECEIVER_BIN "discard_receiver"
#endif

#define CHUNK 1024
#define BATCH 512

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

static void make_span(uvotel_tracer_t *t, size_t i) {
  uvotel_span_t *s = uvotel_span_start(t, "GET /api/items", NULL);
  uvotel_span_set_attribute_str(s, "http.method", "GET");
  uvotel_span_set_attribute_int(s, "http.status_code", 200);
  uvotel_span_set_attribute_str(s, "http.route", "/api/items");
  uvotel_span_set_attribute_int(s, "item.index", (int64_t)i);
  uvotel_span_end(s);
}

/* The spans the encode rows encode, by shape:
 *   attr4  make_span's spans: name "GET /api/items" + 4 attributes (2 strings, 2 ints), INTERNAL,
 *          a local root;
 *   http   what issue 12's HTTP server detector makes for a request (instrumentation/src/http.c):
 *          SERVER span named "GET" with a remote parent (an extracted traceparent) and 10
 *          attributes, 7 strings and 3 ints, handed to span start (so their keys are copied
 *          into each span);
 *   httpd  the same span with its keys borrowed, as the detector leaves them with a sampler
 *          that does not read start attributes (the default): set after start with the _static
 *          setters here, through one bulk call of prepared keys in the detector; either way the
 *          keys are literals, one address per key in every span, which the encoder's per-batch
 *          key table relies on. */
typedef enum shape_e { SHAPE_ATTR4 = 0, SHAPE_HTTP = 1, SHAPE_HTTPD = 2 } shape_t;
static const char *const k_shape_names[] = {"4-attribute", "HTTP server",
                                            "HTTP server (borrowed keys)"};

/* request i's remote parent (an extracted traceparent) and path */
static void http_request_of(size_t i, uvotel_span_context_t *remote, char *path, size_t n) {
  uvotel_span_context_t r = {{{0}}, {{0}}, UVOTEL_TRACE_FLAG_SAMPLED, 1, NULL};
  for (int k = 0; k < 16; k++) r.trace_id.bytes[k] = (uint8_t)(0x4b + k + i);
  for (int k = 0; k < 8; k++) r.span_id.bytes[k] = (uint8_t)(0x10 + k + i);
  *remote = r;
  snprintf(path, n, "/api/items/%zu", i % 1000);
}

static void make_http_span(uvotel_tracer_t *t, size_t i) {
  uvotel_span_context_t remote;
  char path[32];
  http_request_of(i, &remote, path, sizeof path);
  uvotel_attribute_t a[] = {UVOTEL_ATTR_STR("http.request.method", "GET"),
                            UVOTEL_ATTR_STR("url.scheme", "http"),
                            UVOTEL_ATTR_STR("url.path", path),
                            UVOTEL_ATTR_STR("network.protocol.version", "1.1"),
                            UVOTEL_ATTR_STR("user_agent.original", "wrk/4.2.0"),
                            UVOTEL_ATTR_STR("client.address", "127.0.0.1"),
                            UVOTEL_ATTR_INT("client.port", 40000 + (int64_t)(i % 20000)),
                            UVOTEL_ATTR_STR("server.address", "127.0.0.1"),
                            UVOTEL_ATTR_INT("server.port", 8080)};
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.parent_context = &remote;
  o.attrs = a;
  o.n_attrs = sizeof a / sizeof a[0];
  uvotel_span_t *s = uvotel_span_start(t, "GET", &o);
  uvotel_span_set_attribute_int(s, "http.response.status_code", 200); /* set at the response */
  uvotel_span_end(s);
}

static void make_httpd_span(uvotel_tracer_t *t, size_t i) {
  uvotel_span_context_t remote;
  char path[32];
  http_request_of(i, &remote, path, sizeof path);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.parent_context = &remote;
  uvotel_span_t *s = uvotel_span_start(t, "GET", &o);
  UVOTEL_SPAN_SET_STR_LIT(s, "http.request.method", "GET");
  UVOTEL_SPAN_SET_STR_LIT(s, "url.scheme", "http");
  UVOTEL_SPAN_SET_STR_LIT(s, "url.path", path);
  UVOTEL_SPAN_SET_STR_LIT(s, "network.protocol.version", "1.1");
  UVOTEL_SPAN_SET_STR_LIT(s, "user_agent.original", "wrk/4.2.0");
  UVOTEL_SPAN_SET_STR_LIT(s, "client.address", "127.0.0.1");
  UVOTEL_SPAN_SET_INT_LIT(s, "client.port", 40000 + (int64_t)(i % 20000));
  UVOTEL_SPAN_SET_STR_LIT(s, "server.address", "127.0.0.1");
  UVOTEL_SPAN_SET_INT_LIT(s, "server.port", 8080);
  UVOTEL_SPAN_SET_INT_LIT(s, "http.response.status_code", 200); /* set at the response */
  uvotel_span_end(s);
}

static void make_shaped(shape_t shape, uvotel_tracer_t *t, size_t i) {
  if (shape == SHAPE_HTTP)
    make_http_span(t, i);
  else if (shape == SHAPE_HTTPD)
    make_httpd_span(t, i);
  else
    make_span(t, i);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* A processor that keeps the first BATCH finished spans, for the encoding-only measurement. */
typedef struct keep_s {
  const uvotel_span_data_t *spans[BATCH];
  size_t n;
  uvotel_tracer_provider_t *p;
} keep_t;

static void keep_on_end(void *self, const uvotel_span_data_t *d) {
  keep_t *k = self;
  if (k->n < BATCH) k->spans[k->n++] = uvotel_span_data_retain(d);
}

static const uvotel_span_processor_ops_t k_keep_ops = {.on_end = keep_on_end};

/* BATCH finished spans of one shape, from a provider with the SDK's default resource
 * (service.name and telemetry.sdk.*, no environment). */
static void keep_make(keep_t *keep, shape_t shape) {
  keep->n = 0;
  uvotel_span_processor_t *kp = uvotel_span_processor_create(&k_keep_ops, keep);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &kp;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  keep->p = uvotel_tracer_provider_create(&po);
  uvotel_tracer_t *t = uvotel_tracer_get(keep->p, "bench", "1.0");
  for (size_t i = 0; i < BATCH; i++) make_shaped(shape, t, i);
}

static void keep_free(keep_t *keep) {
  for (size_t i = 0; i < keep->n; i++) uvotel_span_data_release(keep->spans[i]);
  keep->n = 0;
  uvotel_tracer_provider_shutdown(keep->p, 1000);
  uvotel_tracer_provider_free(keep->p);
}

#define ENC_ROUNDS 7

/* thread-CPU ns per span of one encoder over the kept batch, `iters` times (CPU, not wall: the
 * box is shared) */
static double time_encode(int direct, const keep_t *keep, uvotel__otlp_block_cache_t *cache,
                          int iters, size_t *len_out) {
  uint8_t *body = NULL;
  size_t len = 0;
  uint64_t t0 = cpu_ns();
  for (int i = 0; i < iters; i++) {
    /* the direct encoder as the exporter runs it: the body stays in the scratch buffer, which
     * goes back to the cache when the request is done */
    uvotel__otlp_scratch_t *hold = NULL;
    int rc = direct ? uvotel__otlp_encode_held(keep->spans, keep->n, cache, &body, &len, &hold)
                    : otlp_pbc_encode(keep->spans, keep->n, &body, &len);
    if (rc != 0) {
      fprintf(stderr, "encode failed: %d\n", rc);
      exit(1);
    }
    if (direct)
      uvotel__otlp_scratch_release(hold);
    else
      uvotel_free(body);
  }
  *len_out = len;
  return (double)(cpu_ns() - t0) / ((double)iters * (double)keep->n);
}

/* 1 when both encoders produce the same bytes for the kept batch (what the rows compare) */
static int same_bytes(const keep_t *keep, uvotel__otlp_block_cache_t *cache) {
  uint8_t *a = NULL, *b = NULL;
  size_t an = 0, bn = 0;
  int ok = uvotel__otlp_encode(keep->spans, keep->n, cache, &a, &an) == 0 &&
           otlp_pbc_encode(keep->spans, keep->n, &b, &bn) == 0 && an == bn && memcmp(a, b, an) == 0;
  uvotel_free(a);
  uvotel_free(b);
  return ok;
}

static void bench_encode_shape(shape_t shape) {
  keep_t keep;
  keep_make(&keep, shape);
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
  const char *sh = k_shape_names[shape];
  printf(
      "encode only     : direct, %s spans %.1f / %.1f / %.1f ns/span thread CPU (min/median/max "
      "of %d rounds x %d batches of %zu), %.2f M spans/s at the median, %zu bytes per body "
      "(%.1f B/span)\n",
      sh, d[0], d[ENC_ROUNDS / 2], d[ENC_ROUNDS - 1], ENC_ROUNDS, iters, keep.n,
      1e3 / d[ENC_ROUNDS / 2], len, (double)len / (double)keep.n);
  printf(
      "encode only     : protobuf-c reference, %s spans %.1f / %.1f / %.1f ns/span (%zu bytes); "
      "reference / direct %.2f / %.2f / %.2fx%s\n",
      sh, r[0], r[ENC_ROUNDS / 2], r[ENC_ROUNDS - 1], rlen, ratio[0], ratio[ENC_ROUNDS / 2],
      ratio[ENC_ROUNDS - 1], same_bytes(&keep, cache) ? "" : "  (BODIES DIFFER)");
  if (shape == SHAPE_ATTR4) {
    uint8_t *body = NULL, *z = NULL;
    size_t zn = 0;
    uvotel__otlp_encode(keep.spans, keep.n, cache, &body, &len);
    uint64_t t0 = now_ns();
    for (int i = 0; i < iters / 10; i++) {
      uvotel__otlp_gzip(body, len, &z, &zn);
      uvotel_free(z);
    }
    uint64_t gz = now_ns() - t0;
    printf(
        "gzip only       : %.0f spans/s, %.1f MB/s in, level 1: %zu -> ~%zu bytes (%.1f B/span)\n",
        (double)(iters / 10) * (double)keep.n / (gz / 1e9),
        (double)len * (iters / 10) / (gz / 1e9) / 1e6, len, zn, (double)zn / (double)keep.n);
    uvotel_free(body);
  }
  uvotel__otlp_block_cache_free(cache);
  keep_free(&keep);
}

/* The driver to count instructions with (deterministic where the times are not):
 *   valgrind --tool=callgrind --toggle-collect=uvotel__otlp_encode_held \
 *     --toggle-collect=uvotel__otlp_scratch_release --callgrind-out-file=/dev/null \
 *     bench_otlp encode-ir shape=http batches=20
 * counts only what runs inside the direct encoder as the exporter runs it (the body held in the
 * scratch buffer, and the buffer's release; ref=1 and --toggle-collect=otlp_pbc_encode: inside
 * the protobuf-c reference instead, the body's allocation included); divide the total by the
 * spans printed. */
static int bench_encode_ir(shape_t shape, int batches, int ref) {
  keep_t keep;
  keep_make(&keep, shape);
  uvotel__otlp_block_cache_t *cache = NULL;
  uvotel__otlp_block_cache_create(&cache);
  size_t len = 0;
  time_encode(!ref, &keep, cache, 1, &len); /* the scratch grown once, as in steady state */
  time_encode(!ref, &keep, cache, batches, &len);
  printf("encode-ir: %s encoder, %s spans, %d batches x %zu spans = %zu spans, %zu bytes/body\n",
         ref ? "protobuf-c reference" : "direct", k_shape_names[shape], batches + 1, keep.n,
         (size_t)(batches + 1) * keep.n, len);
  uvotel__otlp_block_cache_free(cache);
  keep_free(&keep);
  return 0;
}

/* Encoding spans that are not in this core's caches, as on the export thread: 64k finished
 * spans (128 batches of 512), caches flushed by streaming 64 MiB before each round, every
 * batch encoded once per round; thread CPU per span. */
#define COLD_N 65536
typedef struct keep_all_s {
  const uvotel_span_data_t **spans;
  size_t n;
} keep_all_t;
static void keep_all_on_end(void *self, const uvotel_span_data_t *d) {
  keep_all_t *k = self;
  if (k->n < COLD_N) k->spans[k->n++] = uvotel_span_data_retain(d);
}
static const uvotel_span_processor_ops_t k_keep_all_ops = {.on_end = keep_all_on_end};

static void bench_encode_cold(void) {
  keep_all_t keep = {calloc(COLD_N, sizeof(void *)), 0};
  uvotel_span_processor_t *kp = uvotel_span_processor_create(&k_keep_all_ops, &keep);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &kp;
  po.n_processors = 1;
  po.max_spans = COLD_N + 1024;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "bench", "1.0");
  for (size_t i = 0; i < COLD_N; i++) make_span(t, i);
  uvotel__otlp_block_cache_t *cache = NULL;
  uvotel__otlp_block_cache_create(&cache);
  size_t flush_n = 64u << 20;
  volatile unsigned char *junk = malloc(flush_n);
  double v[ENC_ROUNDS];
  for (int r = 0; r < ENC_ROUNDS; r++) {
    for (size_t i = 0; i < flush_n; i += 64) junk[i] = (unsigned char)(junk[i] + 1);
    uint64_t c0 = cpu_ns();
    for (size_t b = 0; b + BATCH <= keep.n; b += BATCH) {
      uint8_t *body = NULL;
      size_t len = 0;
      uvotel__otlp_scratch_t *hold = NULL;
      if (uvotel__otlp_encode_held(keep.spans + b, BATCH, cache, &body, &len, &hold) != 0) exit(1);
      uvotel__otlp_scratch_release(hold);
    }
    v[r] = (double)(cpu_ns() - c0) / (double)keep.n;
  }
  qsort(v, ENC_ROUNDS, sizeof v[0], cmp_double);
  printf(
      "encode only     : direct, cold spans (%d spans, caches flushed per round) %.1f / %.1f / "
      "%.1f ns/span thread CPU (min/median/max of %d rounds)\n",
      COLD_N, v[0], v[ENC_ROUNDS / 2], v[ENC_ROUNDS - 1], ENC_ROUNDS);
  free((void *)junk);
  uvotel__otlp_block_cache_free(cache);
  for (size_t i = 0; i < keep.n; i++) uvotel_span_data_release(keep.spans[i]);
  free(keep.spans);
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

/* ---- the discard receiver process ---- */

typedef struct rx_s {
  pid_t pid;
  FILE *to, *from;
  int port;
} rx_t;

typedef struct rx_stats_s {
  unsigned long long spans, requests, bad, bytes, cpu_ns;
} rx_stats_t;

static int rx_start(rx_t *rx) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    execl(DISCARD_RECEIVER_BIN, "discard_receiver", (char *)NULL);
    perror("exec " DISCARD_RECEIVER_BIN);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  rx->pid = pid;
  rx->to = fdopen(in[1], "w");
  rx->from = fdopen(out[0], "r");
  if (fscanf(rx->from, " port %d", &rx->port) != 1) return -1;
  return 0;
}

static rx_stats_t rx_stats(rx_t *rx) {
  rx_stats_t s;
  memset(&s, 0, sizeof s);
  fputs("s\n", rx->to);
  fflush(rx->to);
  if (fscanf(rx->from, " spans %llu requests %llu bad %llu bytes %llu cpu_ns %llu", &s.spans,
             &s.requests, &s.bad, &s.bytes, &s.cpu_ns) != 5) {
    fprintf(stderr, "bench_otlp: the receiver did not answer\n");
    exit(1);
  }
  return s;
}

static void rx_stop(rx_t *rx) {
  fclose(rx->to);
  char line[256];
  while (fgets(line, sizeof line, rx->from) != NULL) {
  }
  fclose(rx->from);
  int st;
  waitpid(rx->pid, &st, 0);
}

/* ---- CPU of this process's threads by name (/proc/self/task/TID/stat, clock ticks) ---- */

typedef struct thr_cpu_s {
  uint64_t bsp, otlp, other; /* ns */
} thr_cpu_t;

static thr_cpu_t threads_cpu(pid_t main_tid) {
  thr_cpu_t c = {0, 0, 0};
  DIR *d = opendir("/proc/self/task");
  if (d == NULL) return c;
  long hz = sysconf(_SC_CLK_TCK);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' || atoi(e->d_name) == main_tid) continue;
    char path[300], buf[1024];
    snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *name = strchr(buf, '('), *close = strrchr(buf, ')');
    if (name == NULL || close == NULL) continue;
    unsigned long long ut = 0, stime = 0;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
     * stime */
    if (sscanf(close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stime) !=
        2) {
      continue;
    }
    uint64_t ns = (ut + stime) * (1000000000ull / (uint64_t)hz);
    if (strncmp(name + 1, "uvotel-bsp", 10) == 0)
      c.bsp += ns;
    else if (strncmp(name + 1, "uvotel-otlp", 11) == 0)
      c.otlp += ns;
    else
      c.other += ns;
  }
  closedir(d);
  return c;
}

/* ---- one pipeline round ---- */

typedef struct cfg_s {
  size_t spans;
  uint64_t rate, seconds;
  int rounds;
  uint64_t block_ms;
  unsigned exports, batch, queue;
  uint64_t delay_ms;
} cfg_t;

typedef struct round_s {
  uint64_t offered, delivered, dropped, failed;
  double wall_s, offer_s;          /* round wall time; time to offer the spans */
  double app, loop, bsp, otlp, rx; /* CPU ns per offered span */
  double app_wall;                 /* wall ns per span inside the span calls */
  int flush_rc;
} round_t;

typedef struct prod_s {
  uvotel_tracer_t *tracer;
  uint64_t total, done;
  uint64_t rate; /* 0: burst */
  uint64_t t0;
  uint64_t app_ns, app_cpu; /* inside the span calls: wall, thread CPU */
  uint64_t last_ns;         /* when the last span was made */
  uv_idle_t idle;
  uv_timer_t timer;
} prod_t;

static void produce(prod_t *p, uint64_t n) {
  uint64_t t0 = now_ns(), c0 = cpu_ns();
  for (uint64_t i = 0; i < n; i++) make_span(p->tracer, (size_t)(p->done + i));
  uint64_t t1 = now_ns();
  p->app_ns += t1 - t0;
  p->app_cpu += cpu_ns() - c0;
  p->done += n;
  p->last_ns = t1;
}

static void on_idle(uv_idle_t *h) {
  prod_t *p = h->data;
  uint64_t n = p->total - p->done < CHUNK ? p->total - p->done : CHUNK;
  produce(p, n);
  if (p->done == p->total) uv_idle_stop(h);
}

/* Paced: make the spans due by now (rate x elapsed), CHUNK at a time so a late tick that
 * catches up still lets the processor's handles run between chunks (one per tick). */
static void on_tick(uv_timer_t *h) {
  prod_t *p = h->data;
  uint64_t el = now_ns() - p->t0;
  uint64_t due = (uint64_t)((double)p->rate * (double)el / 1e9);
  if (due > p->total) due = p->total;
  uint64_t n = due > p->done ? due - p->done : 0;
  if (n > 8 * CHUNK) n = 8 * CHUNK;
  produce(p, n);
  if (p->done == p->total) uv_timer_stop(h);
}

static round_t run_round(rx_t *rx, const cfg_t *c, int sustained, uint64_t block_ms) {
  round_t r;
  memset(&r, 0, sizeof r);
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", rx->port);
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.endpoint = url;
  o.use_env = 0;
  o.compression = UVOTEL_OTLP_COMPRESSION_NONE;
  o.max_concurrent = c->exports;
  o.max_queue_batches = 64;
  uvotel_span_exporter_t *exp = NULL;
  if (uvotel_otlp_http_exporter_create(&o, &exp) != 0) exit(1);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &loop;
  bo.max_queue_size = c->queue;
  bo.max_export_batch_size = c->batch;
  bo.schedule_delay_ms = c->delay_ms;
  bo.max_concurrent_exports = c->exports;
  bo.block_timeout_ms = block_ms;
  uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(exp, &bo);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &loop;
  po.max_spans = c->queue * 2 + c->batch * (c->exports + 2);
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);

  prod_t prod;
  memset(&prod, 0, sizeof prod);
  prod.tracer = uvotel_tracer_get(p, "bench", "1.0");
  prod.total = sustained ? c->rate * c->seconds : c->spans;
  prod.rate = sustained ? c->rate : 0;
  pid_t tid = gettid();
  rx_stats_t rx0 = rx_stats(rx);
  thr_cpu_t th0 = threads_cpu(tid);
  uint64_t loop0 = cpu_ns();
  prod.t0 = now_ns();
  if (sustained) {
    uv_timer_init(&loop, &prod.timer);
    prod.timer.data = &prod;
    uv_timer_start(&prod.timer, on_tick, 1, 1);
  } else {
    uv_idle_init(&loop, &prod.idle);
    prod.idle.data = &prod;
    uv_idle_start(&prod.idle, on_idle);
  }
  /* The processor's handles are unreferenced: the loop runs while the producer does. */
  uv_run(&loop, UV_RUN_DEFAULT);
  r.flush_rc = uvotel_tracer_provider_force_flush(p, 60000);
  uint64_t t_end = now_ns();
  uint64_t loop_cpu = cpu_ns() - loop0;
  thr_cpu_t th1 = threads_cpu(tid);
  rx_stats_t rx1 = rx_stats(rx);
  uvotel_trace_counters_t tc;
  uvotel_tracer_provider_counters(p, &tc);
  uvotel_otlp_http_stats_t st;
  memset(&st, 0, sizeof st);
  uvotel_otlp_http_exporter_stats(exp, &st);

  r.offered = prod.done;
  r.delivered = rx1.spans - rx0.spans;
  r.dropped = tc.dropped + st.spans_dropped;
  r.failed = st.spans_failed;
  r.wall_s = (double)(t_end - prod.t0) / 1e9;
  r.offer_s = (double)(prod.last_ns - prod.t0) / 1e9;
  double n = (double)r.offered;
  r.app = (double)prod.app_cpu / n;
  r.app_wall = (double)prod.app_ns / n;
  r.loop = (double)(loop_cpu - prod.app_cpu) / n;
  r.bsp = (double)(th1.bsp - th0.bsp) / n;
  r.otlp = (double)(th1.otlp - th0.otlp) / n;
  r.rx = (double)(rx1.cpu_ns - rx0.cpu_ns) / n;
  if (rx1.bad != rx0.bad) fprintf(stderr, "bench_otlp: the receiver refused requests\n");

  if (sustained) {
    uv_close((uv_handle_t *)&prod.timer, NULL);
  } else {
    uv_close((uv_handle_t *)&prod.idle, NULL);
  }
  uvotel_tracer_provider_shutdown(p, 10000);
  uvotel_tracer_provider_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return r;
}

/* ---- reporting ---- */

#define MAX_ROUNDS 32

static void mmm(double *v, int n, double *out) {
  double t[MAX_ROUNDS];
  memcpy(t, v, sizeof(double) * (size_t)n);
  qsort(t, (size_t)n, sizeof t[0], cmp_double);
  out[0] = t[0];
  out[1] = t[n / 2];
  out[2] = t[n - 1];
}

static void row(const char *label, const char *unit, double *v, int n, const char *fmt) {
  double m[3];
  mmm(v, n, m);
  printf("  %-34s", label);
  printf(fmt, m[0]);
  printf(" / ");
  printf(fmt, m[1]);
  printf(" / ");
  printf(fmt, m[2]);
  printf(" %s\n", unit);
}

/* Print the rounds of one mode; 1 when every round delivered all it offered. */
static int report(const char *title, const round_t *r, int n) {
  double v[MAX_ROUNDS];
  int all = 1;
  printf("%s (min / median / max of %d rounds)\n", title, n);
  for (int i = 0; i < n; i++) {
    printf(
        "  round %d: offered %llu, delivered %llu, dropped %llu, failed %llu, flush rc %d, "
        "%.2f s to offer, %.2f s wall\n",
        i + 1, (unsigned long long)r[i].offered, (unsigned long long)r[i].delivered,
        (unsigned long long)r[i].dropped, (unsigned long long)r[i].failed, r[i].flush_rc,
        r[i].offer_s, r[i].wall_s);
    if (r[i].delivered != r[i].offered) all = 0;
  }
#define COL(expr) \
  for (int i = 0; i < n; i++) v[i] = (expr);
  COL((double)r[i].offered / r[i].offer_s / 1e6);
  row("offered rate", "M spans/s (while offering)", v, n, "%7.3f");
  COL((double)r[i].delivered / r[i].wall_s / 1e6);
  row("delivered rate", "M spans/s (first span to last answer)", v, n, "%7.3f");
  COL((double)r[i].dropped);
  row("dropped", "spans (processor queue + exporter refusals)", v, n, "%9.0f");
  COL(100.0 * (double)r[i].delivered / (double)r[i].offered);
  row("delivered / offered", "%", v, n, "%7.2f");
  COL(r[i].app);
  row("CPU: span calls (app thread)", "ns/span", v, n, "%7.1f");
  COL(r[i].app_wall);
  row("wall: span calls (app thread)", "ns/span (preemption and waiting included)", v, n, "%7.1f");
  COL(r[i].loop);
  row("CPU: rest of the loop thread", "ns/span", v, n, "%7.1f");
  COL(r[i].bsp);
  row("CPU: export threads (uvotel-bsp)", "ns/span", v, n, "%7.1f");
  COL(r[i].otlp);
  row("CPU: exporter thread (uvotel-otlp)", "ns/span", v, n, "%7.1f");
  COL(r[i].app + r[i].loop + r[i].bsp + r[i].otlp);
  row("CPU: SDK total (the four above)", "ns/span", v, n, "%7.1f");
  COL(r[i].rx);
  row("CPU: discard receiver (own process)", "ns/span", v, n, "%7.1f");
#undef COL
  return all;
}

static void load(void) {
  double l[3] = {0, 0, 0};
  if (getloadavg(l, 3) == 3) printf("load average: %.2f %.2f %.2f\n", l[0], l[1], l[2]);
}

static uint64_t arg_u64(int argc, char **argv, const char *key, uint64_t def) {
  size_t k = strlen(key);
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=') {
      return strtoull(argv[i] + k + 1, NULL, 10);
    }
  }
  return def;
}

static const char *arg_str(int argc, char **argv, const char *key, const char *def) {
  size_t k = strlen(key);
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=') return argv[i] + k + 1;
  }
  return def;
}

/* shape=attr4|http|httpd|both|all for the encode modes (both: attr4 and http); -1 for
 * anything else */
static int arg_shapes(int argc, char **argv, const char *def, int *first, int *last) {
  const char *s = arg_str(argc, argv, "shape", def);
  if (strcmp(s, "attr4") == 0) {
    *first = *last = SHAPE_ATTR4;
  } else if (strcmp(s, "http") == 0) {
    *first = *last = SHAPE_HTTP;
  } else if (strcmp(s, "httpd") == 0) {
    *first = *last = SHAPE_HTTPD;
  } else if (strcmp(s, "both") == 0) {
    *first = SHAPE_ATTR4;
    *last = SHAPE_HTTP;
  } else if (strcmp(s, "all") == 0) {
    *first = SHAPE_ATTR4;
    *last = SHAPE_HTTPD;
  } else {
    fprintf(stderr, "bench_otlp: shape=attr4|http|httpd|both|all, not %s\n", s);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 && strchr(argv[1], '=') == NULL ? argv[1] : "all";
  int first, last;
  if (strcmp(mode, "encode") == 0) {
    if (arg_shapes(argc, argv, "both", &first, &last) != 0) return 1;
    load();
    for (int sh = first; sh <= last; sh++) bench_encode_shape((shape_t)sh);
    bench_encode_cold();
    load();
    return 0;
  }
  if (strcmp(mode, "encode-ir") == 0) {
    if (arg_shapes(argc, argv, "attr4", &first, &last) != 0) return 1;
    int batches = (int)arg_u64(argc, argv, "batches", 20);
    int ref = (int)arg_u64(argc, argv, "ref", 0);
    for (int sh = first; sh <= last; sh++) bench_encode_ir((shape_t)sh, batches, ref);
    return 0;
  }
  if (strcmp(mode, "all") != 0 && strcmp(mode, "burst") != 0 && strcmp(mode, "sustained") != 0) {
    fprintf(stderr, "usage: bench_otlp [burst|sustained|all|encode|encode-ir] [key=value ...]\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  cfg_t c;
  c.spans = (size_t)arg_u64(argc, argv, "spans", 1000000);
  c.rate = arg_u64(argc, argv, "rate", 1000000);
  c.seconds = arg_u64(argc, argv, "seconds", 10);
  c.rounds = (int)arg_u64(argc, argv, "rounds", 5);
  c.block_ms = arg_u64(argc, argv, "block", 1000);
  c.exports = (unsigned)arg_u64(argc, argv, "exports", 2);
  c.batch = (unsigned)arg_u64(argc, argv, "batch", BATCH);
  c.queue = (unsigned)arg_u64(argc, argv, "queue", 65536);
  c.delay_ms = arg_u64(argc, argv, "delay", 100);
  if (c.rounds < 1 || c.rounds > MAX_ROUNDS) c.rounds = 5;
  rx_t rx;
  if (rx_start(&rx) != 0) {
    fprintf(stderr, "bench_otlp: cannot start %s\n", DISCARD_RECEIVER_BIN);
    return 1;
  }
  printf(
      "bench_otlp: batch processor (queue %u, batches of %u, %u export(s) in flight, delay "
      "%llu ms) -> OTLP/HTTP protobuf -> discard receiver (pid %d, port %d)\n",
      c.queue, c.batch, c.exports, (unsigned long long)c.delay_ms, (int)rx.pid, rx.port);
  load();
  int ok = 1;
  if (strcmp(mode, "sustained") != 0) {
    round_t drop[MAX_ROUNDS], block[MAX_ROUNDS];
    for (int i = 0; i < c.rounds; i++) {
      drop[i] = run_round(&rx, &c, 0, 0);
      block[i] = run_round(&rx, &c, 0, c.block_ms);
    }
    char t[160];
    snprintf(t, sizeof t, "burst of %zu spans, drop when full (the default)", c.spans);
    report(t, drop, c.rounds);
    snprintf(t, sizeof t, "burst of %zu spans, back-pressure (block_timeout_ms %llu)", c.spans,
             (unsigned long long)c.block_ms);
    ok &= report(t, block, c.rounds);
    load();
  }
  if (strcmp(mode, "burst") != 0) {
    round_t sus[MAX_ROUNDS];
    for (int i = 0; i < c.rounds; i++) sus[i] = run_round(&rx, &c, 1, 0);
    char t[160];
    snprintf(t, sizeof t, "sustained %.3f M spans/s offered for %llu s, drop when full",
             (double)c.rate / 1e6, (unsigned long long)c.seconds);
    ok &= report(t, sus, c.rounds);
    load();
  }
  uint64_t raw = bench_raw(c.spans);
  printf("non-recording span calls (the API's floor): %.1f ns/span CPU\n",
         (double)raw / (double)c.spans);
  rx_stop(&rx);
  return ok ? 0 : 2;
}
