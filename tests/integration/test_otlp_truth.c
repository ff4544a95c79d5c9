/* Issue 13, "nothing lost silently": one test per observation of the truth/defaults part.
 *   1  counters and return codes tell the truth: a closed port loses 1000 spans, shutdown says
 *      so and the counters say failed=1000 exported=0, also for a provider from the environment;
 *   5  an OTLP endpoint in the environment selects the OTLP exporter (no trace file), the first
 *      export says where spans go; nothing configured: the file;
 *   6  http/json is sent as OTLP/JSON; grpc and grpc:// are refused by name; otlp,otlp delivers
 *      once; OTEL_PROPAGATORS reaches the NULL-propagator path; xray (not implemented) is refused
 * by name; OTEL_BSP_EXPORT_TIMEOUT bounds an export; 7  trace-demo against a receiver answering 503
 * three times delivers every span and says so; 8  flush/shutdown deliver while four blocking work
 * items hold every libuv pool thread, and exporting never starts libuv's pool. Everything on
 * 127.0.0.1; each test its own loop, closed at teardown. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "otlp_receiver.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/exporters/otlp_http.h"

/* ---- diagnostics captured ---- */

static uv_mutex_t g_diag_mu;
static char g_diag[32768];
static size_t g_diag_len;

static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  uv_mutex_lock(&g_diag_mu);
  int n = snprintf(g_diag + g_diag_len, sizeof g_diag - g_diag_len, "[%d] %s\n", (int)level, msg);
  if (n > 0 && g_diag_len + (size_t)n < sizeof g_diag) g_diag_len += (size_t)n;
  uv_mutex_unlock(&g_diag_mu);
}

/* 1 when a captured message at `level` or more severe contains `needle`. */
static int said(uvotel_diag_level_t level, const char *needle) {
  uv_mutex_lock(&g_diag_mu);
  int found = 0;
  for (char *line = g_diag; !found && line < g_diag + g_diag_len;) {
    char *nl = strchr(line, '\n');
    if (nl == NULL) break;
    *nl = '\0';
    int lv = atoi(line + 1);
    found = lv <= (int)level && strstr(line, needle) != NULL;
    *nl = '\n';
    line = nl + 1;
  }
  uv_mutex_unlock(&g_diag_mu);
  return found;
}

/* ---- fixture ---- */

static const char *const k_vars[] = {"OTEL_TRACES_EXPORTER",
                                     "OTEL_EXPORTER_OTLP_ENDPOINT",
                                     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                     "OTEL_EXPORTER_OTLP_PROTOCOL",
                                     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                                     "OTEL_EXPORTER_OTLP_TIMEOUT",
                                     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                                     "OTEL_BSP_EXPORT_TIMEOUT",
                                     "OTEL_BSP_SCHEDULE_DELAY",
                                     "OTEL_PROPAGATORS",
                                     "OTEL_EXPORTER_FILE_PATH",
                                     "OTEL_SDK_DISABLED",
                                     "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT"};

typedef struct fx_s {
  uv_loop_t loop;
  otlp_receiver_t *rx;
  uvotel_tracer_provider_t *p;
  char url[128];
  char dir[64]; /* a scratch working directory */
  char cwd[1024];
} fx_t;

static int setup(void **state) {
  static fx_t fx;
  memset(&fx, 0, sizeof fx);
  for (size_t i = 0; i < sizeof k_vars / sizeof *k_vars; i++) unsetenv(k_vars[i]);
  assert_int_equal(uv_loop_init(&fx.loop), 0);
  uv_mutex_lock(&g_diag_mu);
  g_diag_len = 0;
  g_diag[0] = '\0';
  uv_mutex_unlock(&g_diag_mu);
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  assert_non_null(getcwd(fx.cwd, sizeof fx.cwd));
  snprintf(fx.dir, sizeof fx.dir, "/tmp/uvotel-truth-XXXXXX");
  assert_non_null(mkdtemp(fx.dir));
  assert_int_equal(chdir(fx.dir), 0);
  *state = &fx;
  return 0;
}

static void close_provider(fx_t *fx) {
  if (fx->p == NULL) return;
  uvotel_tracer_provider_free(fx->p);
  fx->p = NULL;
  uv_run(&fx->loop, UV_RUN_DEFAULT); /* the processors' handles close, then they free */
}

static int teardown(void **state) {
  fx_t *fx = *state;
  close_provider(fx);
  otlp_receiver_stop(fx->rx);
  fx->rx = NULL;
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_WARN);
  assert_int_equal(chdir(fx->cwd), 0);
  char path[128];
  snprintf(path, sizeof path, "%s/uvotel-traces.jsonl", fx->dir);
  unlink(path);
  rmdir(fx->dir);
  for (size_t i = 0; i < sizeof k_vars / sizeof *k_vars; i++) unsetenv(k_vars[i]);
  uvotel_thread_cleanup();
  return 0;
}

static void start_rx(fx_t *fx, const otlp_receiver_faults_t *f) {
  assert_int_equal(otlp_receiver_start(&fx->rx, 0, f), 0);
  snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d", otlp_receiver_port(fx->rx));
}

/* The receiver, named by OTEL_EXPORTER_OTLP_ENDPOINT. */
static void start_rx_env(fx_t *fx, const otlp_receiver_faults_t *f) {
  start_rx(fx, f);
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", fx->url, 1);
}

/* A provider from the environment on the fixture's loop (only the env's exporters). */
static void env_provider(fx_t *fx) {
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_from_env_with(&base);
  assert_non_null(fx->p);
}

/* A provider with one OTLP exporter in a batch processor. */
static void otlp_provider(fx_t *fx, const char *url, uint64_t otlp_timeout_ms) {
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.endpoint = url;
  o.use_env = 0;
  o.timeout_ms = otlp_timeout_ms;
  o.retry_initial_ms = 20;
  o.retry_max_ms = 100;
  uvotel_span_exporter_t *e = NULL;
  assert_int_equal(uvotel_otlp_http_exporter_create(&o, &e), 0);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &fx->loop;
  bo.max_queue_size = 4096;
  uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(e, &bo);
  assert_non_null(bp);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_create(&po);
  assert_non_null(fx->p);
}

static void produce(fx_t *fx, size_t n) {
  uvotel_tracer_t *tr = uvotel_tracer_get(fx->p, "truth.test", "1");
  for (size_t i = 0; i < n; i++) {
    uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
    so.flags = UVOTEL_SPAN_ROOT;
    uvotel_span_t *s = uvotel_span_start(tr, "op", &so);
    uvotel_span_set_attribute_int(s, "i", (int64_t)i);
    uvotel_span_end(s);
  }
}

static uvotel_trace_counters_t counters(fx_t *fx) {
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(fx->p, &c), 0);
  return c;
}

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

static int count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

/* ---- 8: libuv's pool is never started by exporting (first: nothing has used the pool) ---- */

static void test_export_does_not_start_the_pool(void **state) {
  fx_t *fx = *state;
  start_rx(fx, NULL);
  char url[160];
  snprintf(url, sizeof url, "%s/v1/traces", fx->url);
  otlp_provider(fx, url, 5000);
  int before = count_threads(); /* main, receiver, exporter, processor */
  produce(fx, 1000);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 1000);
  /* libuv's pool would add UV_THREADPOOL_SIZE (4) threads at its first use */
  assert_int_equal(count_threads(), before);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), 0);
}

/* ---- 1: a closed port ---- */

static void test_closed_port_says_failed(void **state) {
  fx_t *fx = *state;
  char url[160];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", otlp_receiver_free_port());
  otlp_provider(fx, url, 1000);
  produce(fx, 1000);
  int rc = uvotel_tracer_provider_shutdown(fx->p, 15000);
  assert_int_not_equal(rc, 0);
  uvotel_trace_counters_t c = counters(fx);
  assert_int_equal(c.received, 1000);
  assert_int_equal(c.failed, 1000);
  assert_int_equal(c.exported, 0);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(c.queued + c.in_flight, 0);
  /* said, with the count */
  assert_true(said(UVOTEL_DIAG_WARN, "shutdown: 1000 span(s) not delivered"));
  assert_true(said(UVOTEL_DIAG_ERROR, "given up"));
}

/* 1 + 5: a provider from the environment: the endpoint alone selects otlp, and the one counters
 * call has the truth. */
static void test_env_provider_counters(void **state) {
  fx_t *fx = *state;
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", otlp_receiver_free_port());
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url, 1);
  setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "500", 1);
  env_provider(fx);
  produce(fx, 300);
  assert_int_not_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  uvotel_trace_counters_t c = counters(fx);
  assert_int_equal(c.failed, 300);
  assert_int_equal(c.exported, 0);
  assert_false(file_exists("uvotel-traces.jsonl"));
  /* what was said is not said again: a later flush with nothing lost returns 0 */
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 1000), 0);
}

/* ---- 5: the default exporter ---- */

static void test_endpoint_means_otlp(void **state) {
  fx_t *fx = *state;
  start_rx_env(fx, NULL);
  env_provider(fx);
  produce(fx, 100);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100);
  assert_int_equal(counters(fx).exported, 100);
  assert_false(file_exists("uvotel-traces.jsonl"));
  char where[200];
  snprintf(where, sizeof where, "sending spans to %s/v1/traces", fx->url);
  assert_true(said(UVOTEL_DIAG_INFO, where));
}

static void test_traces_endpoint_means_otlp(void **state) {
  fx_t *fx = *state;
  start_rx(fx, NULL);
  char url[160];
  snprintf(url, sizeof url, "%s/v1/traces", fx->url);
  setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, 1);
  env_provider(fx);
  produce(fx, 10);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 10);
  assert_false(file_exists("uvotel-traces.jsonl"));
}

static void test_nothing_configured_means_file(void **state) {
  fx_t *fx = *state;
  env_provider(fx);
  produce(fx, 10);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 10000), 0);
  assert_int_equal(counters(fx).exported, 10);
  assert_true(file_exists("uvotel-traces.jsonl"));
  assert_true(said(UVOTEL_DIAG_INFO, "writing spans (OTLP/JSON lines) to uvotel-traces.jsonl"));
  char cwd[4096], where[4200];
  assert_non_null(getcwd(cwd, sizeof cwd));
  snprintf(where, sizeof where, "uvotel-traces.jsonl (in %s)", cwd); /* relative: where */
  assert_true(said(UVOTEL_DIAG_INFO, where));
}

/* ---- 6: options honoured or refused ---- */

static void test_http_json(void **state) {
  fx_t *fx = *state;
  start_rx_env(fx, NULL);
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json", 1);
  env_provider(fx);
  produce(fx, 700);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 10000), 0);
  otlp_receiver_counts_t rc = otlp_receiver_counts(fx->rx);
  assert_int_equal(rc.spans, 700);
  assert_int_equal(rc.json, rc.accepted); /* every body was OTLP/JSON */
  assert_int_equal(rc.bad, 0);
  assert_true(said(UVOTEL_DIAG_INFO, "(http/json)"));
}

static void test_grpc_refused(void **state) {
  fx_t *fx = *state;
  start_rx_env(fx, NULL);
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
  env_provider(fx);
  assert_true(said(UVOTEL_DIAG_ERROR, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc is refused"));
  produce(fx, 10);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 2000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).requests, 0); /* never sent as protobuf */
  close_provider(fx);

  unsetenv("OTEL_EXPORTER_OTLP_PROTOCOL");
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://127.0.0.1:4317", 1);
  env_provider(fx);
  assert_true(said(UVOTEL_DIAG_ERROR,
                   "OTEL_EXPORTER_OTLP_ENDPOINT=grpc://127.0.0.1:4317 is "
                   "refused"));
  assert_false(said(UVOTEL_DIAG_INFO, "localhost:4318"));
}

static void test_duplicate_exporter_names(void **state) {
  fx_t *fx = *state;
  start_rx_env(fx, NULL);
  setenv("OTEL_TRACES_EXPORTER", "otlp, otlp", 1);
  env_provider(fx);
  produce(fx, 100);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100); /* once, not twice */
  assert_int_equal(counters(fx).exported, 100);
  assert_true(said(UVOTEL_DIAG_WARN, "given twice"));
}

typedef struct carrier_s {
  int traceparent, baggage;
} carrier_t;

static int rec_set(void *carrier, const char *name, const char *value, size_t len) {
  (void)value, (void)len;
  carrier_t *c = carrier;
  if (strcmp(name, "traceparent") == 0) c->traceparent++;
  if (strcmp(name, "baggage") == 0) c->baggage++;
  return 0;
}

static void test_propagators_honoured_and_refused(void **state) {
  fx_t *fx = *state;
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  setenv("OTEL_PROPAGATORS", "baggage,xray", 1);
  env_provider(fx);
  assert_true(said(UVOTEL_DIAG_ERROR, "OTEL_PROPAGATORS=\"baggage,xray\": \"xray\" is refused"));
  assert_string_equal(uvotel_tracer_provider_propagators(fx->p), "baggage");
  /* the NULL-propagator path follows OTEL_PROPAGATORS: no traceparent for a current span */
  uvotel_tracer_t *tr = uvotel_tracer_get(fx->p, "t", NULL);
  uvotel_span_t *s = uvotel_span_start(tr, "current", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(s, &sc), 0);
  carrier_t car = {0, 0};
  uvotel_carrier_setter_t setter = {rec_set};
  assert_int_equal(uvotel_propagation_inject_current(NULL, &car, &setter), 0);
  assert_int_equal(car.traceparent, 0);
  uvotel_scope_exit(&sc);
  uvotel_span_end(s);
  close_provider(fx);
  /* tracecontext alone: traceparent, no baggage */
  car.traceparent = 0;
  setenv("OTEL_PROPAGATORS", "tracecontext", 1);
  env_provider(fx);
  tr = uvotel_tracer_get(fx->p, "t", NULL);
  s = uvotel_span_start(tr, "current", NULL);
  assert_int_equal(uvotel_span_enter(s, &sc), 0);
  assert_int_equal(uvotel_propagation_inject_current(NULL, &car, &setter), 0);
  assert_int_equal(car.traceparent, 1);
  uvotel_scope_exit(&sc);
  uvotel_span_end(s);
}

static void test_bsp_export_timeout_bounds_export(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.never_answer = 1;
  start_rx_env(fx, &f);
  setenv("OTEL_BSP_EXPORT_TIMEOUT", "300", 1); /* the OTLP timeout stays 10 s */
  env_provider(fx);
  produce(fx, 10);
  uint64_t t0 = uv_hrtime();
  int rc = uvotel_tracer_provider_force_flush(fx->p, 5000);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_int_not_equal(rc, 0);
  assert_true(ms >= 250);
  assert_true(ms < 2000);
  assert_int_equal(counters(fx).failed, 10);
}

/* ---- 7: trace-demo and a receiver answering 503 three times ---- */

static void test_trace_demo_survives_3x503(void **state) {
  fx_t *fx = *state;
  if (TRACE_DEMO_BIN[0] == '\0') skip();
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 3;
  start_rx(fx, &f);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "OTEL_EXPORTER_OTLP_ENDPOINT=%s %s 2>&1", fx->url, TRACE_DEMO_BIN);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char out[16384];
  size_t len = fread(out, 1, sizeof out - 1, p);
  out[len] = '\0';
  int status = pclose(p);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_non_null(strstr(out, "shutdown: success"));
  assert_non_null(strstr(out, "0 dropped, 0 failed"));
  assert_non_null(strstr(out, "spans delivered over OTLP/HTTP"));
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 8);
  /* 3 refused, then one accepted per signal: the spans, and trace-demo's log records (one per
   * operation, issue 16), which go to the same endpoint */
  assert_int_equal(otlp_receiver_counts(fx->rx).log_records, 5);
  assert_int_equal(otlp_receiver_counts(fx->rx).requests, 5);
  assert_false(file_exists("uvotel-traces.jsonl"));
}

/* ---- 8: every pool thread busy with the application's work ---- */

static uv_sem_t g_release;

static void blocking_work(uv_work_t *req) {
  (void)req;
  uv_sem_wait(&g_release);
}

static void after_blocking(uv_work_t *req, int status) {
  (void)status;
  (*(int *)req->data)++;
}

static void test_busy_pool_does_not_block_export(void **state) {
  fx_t *fx = *state;
  start_rx(fx, NULL);
  char url[160];
  snprintf(url, sizeof url, "%s/v1/traces", fx->url);
  otlp_provider(fx, url, 5000);
  assert_int_equal(uv_sem_init(&g_release, 0), 0);
  uv_work_t work[4];
  int done = 0;
  for (int i = 0; i < 4; i++) {
    work[i].data = &done;
    assert_int_equal(uv_queue_work(&fx->loop, &work[i], blocking_work, after_blocking), 0);
  }
  produce(fx, 1000);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 5000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 1000);
  produce(fx, 1000);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 2000);
  assert_int_equal(counters(fx).exported, 2000);
  assert_int_equal(done, 0); /* the application's work is still holding the pool */
  for (int i = 0; i < 4; i++) uv_sem_post(&g_release);
  while (done < 4) uv_run(&fx->loop, UV_RUN_ONCE);
  uv_sem_destroy(&g_release);
}

/* ---- 4/6: queue overflow said once per interval, with the counts ---- */

static uv_sem_t g_unblock;
static int blocked_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                          uint64_t timeout_ms) {
  (void)self, (void)spans, (void)n, (void)timeout_ms;
  uv_sem_wait(&g_unblock);
  return 0;
}
static const uvotel_span_exporter_ops_t k_blocked_ops = {.export_spans = blocked_export};

static int count_said(const char *needle) {
  uv_mutex_lock(&g_diag_mu);
  int n = 0;
  for (const char *q = g_diag; (q = strstr(q, needle)) != NULL; q++) n++;
  uv_mutex_unlock(&g_diag_mu);
  return n;
}

static void keep_cb(uv_timer_t *t) {
  (void)t;
}

static void run_for(uv_loop_t *loop, uint64_t ms) {
  uv_timer_t keep;
  uv_timer_init(loop, &keep);
  uv_timer_start(&keep, keep_cb, ms, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
}

static void test_overflow_said_once_per_interval(void **state) {
  fx_t *fx = *state;
  assert_int_equal(uv_sem_init(&g_unblock, 0), 0);
  uvotel_span_exporter_t *e = uvotel_span_exporter_create(&k_blocked_ops, NULL);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &fx->loop;
  bo.max_queue_size = 10;
  bo.max_export_batch_size = 10;
  bo.schedule_delay_ms = 10;
  uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(e, &bo);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_create(&po);
  /* the 10th span hands a batch to the (stuck) exporter; 10 more fill the queue */
  produce(fx, 60);
  run_for(&fx->loop, 60);
  assert_int_equal(counters(fx).dropped, 40);
  assert_int_equal(count_said("dropped (queue full)"), 1);
  assert_true(said(UVOTEL_DIAG_WARN, "40 span(s) dropped (queue full)"));
  /* more drops within the interval: counted, not said again yet */
  produce(fx, 25);
  run_for(&fx->loop, 60);
  assert_int_equal(counters(fx).dropped, 65);
  assert_int_equal(count_said("dropped (queue full)"), 1);
  /* shutdown says what was lost and returns non-zero */
  for (int i = 0; i < 4; i++) uv_sem_post(&g_unblock);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), UVOTEL_EIO);
  assert_true(said(UVOTEL_DIAG_WARN, "shutdown: 65 span(s) not delivered (65 dropped, 0 failed"));
  uvotel_trace_counters_t c = counters(fx);
  assert_int_equal(c.exported, 20);
  assert_int_equal(c.exported + c.dropped + c.failed, c.received);
  close_provider(fx);
  uv_sem_destroy(&g_unblock);
}

/* ---- the simple processor tells the truth as well ---- */

static int failing_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                          uint64_t timeout_ms) {
  (void)self, (void)spans, (void)n, (void)timeout_ms;
  return UVOTEL_EIO;
}
static const uvotel_span_exporter_ops_t k_failing_ops = {.export_spans = failing_export};

static void test_simple_processor_says_failed(void **state) {
  fx_t *fx = *state;
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_span_exporter_create(&k_failing_ops, NULL));
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &sp;
  po.n_processors = 1;
  po.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_create(&po);
  produce(fx, 3);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 1000), UVOTEL_EIO);
  assert_true(said(UVOTEL_DIAG_WARN, "force_flush: 3 span(s) not delivered"));
  assert_int_equal(count_said("simple span processor: export failed"), 1); /* rate-limited */
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 1000), 0);    /* said already */
  uvotel_trace_counters_t c = counters(fx);
  assert_int_equal(c.failed, 3);
  assert_int_equal(c.exported, 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 1000), 0);
}

/* ---- fork(): the inherited copy goes inert in the child, without hanging ---- */

/* ThreadSanitizer cannot start threads in a child forked from a threaded process. */
#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

static void test_fork_child_copy_inert(void **state) {
  fx_t *fx = *state;
  if (UNDER_TSAN) skip();
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  assert_non_null(mem);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &fx->loop;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_memory_exporter_exporter(mem), &bo);
  assert_non_null(bp);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_create(&po);
  assert_non_null(fx->p);
  produce(fx, 10);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 5000), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    /* the inherited copy is inert (main's fork rule): the child's spans on it are dropped,
     * counted and warned about, and neither flush nor shutdown waits for the parent's threads */
    produce(fx, 5);
    int rc = uvotel_tracer_provider_shutdown(fx->p, 5000);
    uvotel_trace_counters_t c;
    uvotel_tracer_provider_counters(fx->p, &c);
    _exit(rc == 0 && c.dropped == 5 && uvotel_memory_exporter_count(mem) == 10 &&
                  said(UVOTEL_DIAG_WARN, "used in a child after fork(): 5 queued spans")
              ? 0
              : 1);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  produce(fx, 3); /* the parent's processor goes on */
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 5000), 0);
  assert_int_equal(uvotel_memory_exporter_count(mem), 13);
  close_provider(fx);
  uvotel_memory_exporter_free(mem);
}

int main(void) {
  /* four pool threads, all of which test_busy_pool_does_not_block_export occupies */
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  uv_mutex_init(&g_diag_mu);
  const struct CMUnitTest tests[] = {
      /* first: nothing has started libuv's pool yet */
      cmocka_unit_test_setup_teardown(test_export_does_not_start_the_pool, setup, teardown),
      cmocka_unit_test_setup_teardown(test_closed_port_says_failed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_provider_counters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_endpoint_means_otlp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_traces_endpoint_means_otlp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nothing_configured_means_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_grpc_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicate_exporter_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_propagators_honoured_and_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bsp_export_timeout_bounds_export, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_demo_survives_3x503, setup, teardown),
      cmocka_unit_test_setup_teardown(test_busy_pool_does_not_block_export, setup, teardown),
      cmocka_unit_test_setup_teardown(test_overflow_said_once_per_interval, setup, teardown),
      cmocka_unit_test_setup_teardown(test_simple_processor_says_failed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fork_child_copy_inert, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
