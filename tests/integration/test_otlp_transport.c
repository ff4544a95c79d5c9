/* The OTLP/HTTP transport against the loopback receiver: delivery over kept-alive
 * connections, retries (503, 429 + Retry-After, dropped connections, a receiver that starts
 * late), what is not retried (400, garbage), partial success, gzip, the bounded queue and a
 * receiver that never answers. Bodies are built here with the same protobuf-c code, so these
 * tests exercise the transport alone; test_otlp_export covers spans end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "uvotel/version.h"
#include <uv.h>

#include "counting_alloc.h"
#include "otlp_internal.h"
#include "otlp_receiver.h"

/* ---- diagnostics recorder ---- */

static uv_mutex_t g_diag_mu;
static char g_diag[8192];

static void diag_cb(void *arg, uvotel_otlp_diag_level_t level, const char *msg) {
  (void)arg;
  (void)level;
  uv_mutex_lock(&g_diag_mu);
  size_t l = strlen(g_diag);
  snprintf(g_diag + l, sizeof g_diag - l, "%s\n", msg);
  uv_mutex_unlock(&g_diag_mu);
}

static int diag_has(const char *needle) {
  uv_mutex_lock(&g_diag_mu);
  int r = strstr(g_diag, needle) != NULL;
  uv_mutex_unlock(&g_diag_mu);
  return r;
}

/* ---- jobs whose body carries n spans numbered first..first+n-1 ---- */

typedef struct test_job_s {
  uvotel__otlp_job_t job;
  uint32_t first;
} test_job_t;

static int encode_test(uvotel__otlp_job_t *job, const uvotel__otlp_config_t *cfg) {
  (void)cfg;
  test_job_t *tj = (test_job_t *)job;
  size_t n = job->n_spans;
  Opentelemetry__Proto__Trace__V1__Span *spans = calloc(n, sizeof *spans);
  Opentelemetry__Proto__Trace__V1__Span **sp = calloc(n, sizeof *sp);
  uint8_t *ids = calloc(n, 24);
  for (size_t i = 0; i < n; i++) {
    opentelemetry__proto__trace__v1__span__init(&spans[i]);
    uint32_t no = tj->first + (uint32_t)i;
    memset(ids + 24 * i, 0xab, 16);
    memcpy(ids + 24 * i + 16, &no, 4);
    memset(ids + 24 * i + 20, 0xcd, 4);
    spans[i].trace_id.data = ids + 24 * i;
    spans[i].trace_id.len = 16;
    spans[i].span_id.data = ids + 24 * i + 16;
    spans[i].span_id.len = 8;
    spans[i].name = (char *)"test-span";
    spans[i].start_time_unix_nano = 1000 + no;
    spans[i].end_time_unix_nano = 2000 + no;
    sp[i] = &spans[i];
  }
  Opentelemetry__Proto__Trace__V1__ScopeSpans ss =
      OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
  ss.n_spans = n;
  ss.spans = sp;
  Opentelemetry__Proto__Trace__V1__ScopeSpans *ssp = &ss;
  Opentelemetry__Proto__Trace__V1__ResourceSpans rs =
      OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
  rs.n_scope_spans = 1;
  rs.scope_spans = &ssp;
  Opentelemetry__Proto__Trace__V1__ResourceSpans *rsp = &rs;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest req =
      OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
  req.n_resource_spans = 1;
  req.resource_spans = &rsp;
  size_t sz =
      opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
          &req);
  job->body = uvotel_malloc(sz);
  job->body_len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
      &req, job->body);
  free(spans);
  free(sp);
  free(ids);
  return 0;
}

static void release_test(uvotel__otlp_job_t *job) {
  uvotel_free(job);
}

static test_job_t *make_job(uint32_t first, size_t n) {
  test_job_t *tj = uvotel_calloc(1, sizeof *tj);
  tj->job.encode = encode_test;
  tj->job.release = release_test;
  tj->job.n_spans = n;
  tj->first = first;
  return tj;
}

static void submit_n(uvotel__otlp_transport_t *t, int batches, size_t per) {
  for (int b = 0; b < batches; b++) {
    test_job_t *tj = make_job((uint32_t)(b * per), per);
    assert_int_equal(uvotel__otlp_transport_submit(t, &tj->job, 1000), 0);
  }
}

/* ---- fixture ---- */

typedef struct fx_s {
  long live0;
  otlp_receiver_t *rx;
  uvotel__otlp_transport_t *t;
  char url[128];
} fx_t;

static int setup(void **state) {
  static fx_t fx;
  memset(&fx, 0, sizeof fx);
  fx.live0 = counting_alloc_stats().live;
  g_diag[0] = '\0';
  *state = &fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  uvotel__otlp_transport_free(fx->t);
  otlp_receiver_stop(fx->rx);
  assert_int_equal(counting_alloc_stats().live, fx->live0);
  return 0;
}

static uvotel__otlp_transport_t *make_transport(const char *url, uvotel_otlp_http_options_t *o) {
  o->endpoint = url;
  o->use_env = 0;
  o->diag = diag_cb;
  if (o->retry_initial_ms == 0) o->retry_initial_ms = 20;
  if (o->retry_max_ms == 0) o->retry_max_ms = 100;
  uvotel__otlp_config_t cfg;
  assert_int_equal(uvotel__otlp_config_init(&cfg, o), 0);
  uvotel__otlp_transport_t *t = NULL;
  assert_int_equal(uvotel__otlp_transport_create(&cfg, &t), 0);
  return t;
}

static void start(fx_t *fx, const otlp_receiver_faults_t *f, uvotel_otlp_http_options_t *o) {
  assert_int_equal(otlp_receiver_start(&fx->rx, 0, f), 0);
  otlp_receiver_url(fx->rx, fx->url, sizeof fx->url);
  fx->t = make_transport(fx->url, o);
}

/* every span number 0..total-1 exactly once */
typedef struct seen_s {
  uint8_t *hits;
  size_t total, dup, bad;
} seen_t;

static void seen_fn(void *arg, const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                    const Opentelemetry__Proto__Trace__V1__Span *sp) {
  (void)rs;
  (void)ss;
  seen_t *s = arg;
  uint32_t no;
  if (sp->span_id.len != 8 || sp->trace_id.len != 16) {
    s->bad++;
    return;
  }
  memcpy(&no, sp->span_id.data + 0, 4);
  if (no >= s->total || sp->start_time_unix_nano != 1000 + no) {
    s->bad++;
    return;
  }
  if (s->hits[no]++) s->dup++;
}

static void assert_exactly_once(otlp_receiver_t *rx, size_t total) {
  seen_t s = {calloc(total, 1), total, 0, 0};
  otlp_receiver_foreach_span(rx, seen_fn, &s);
  for (size_t i = 0; i < total; i++) assert_int_equal(s.hits[i], 1);
  assert_int_equal(s.dup, 0);
  assert_int_equal(s.bad, 0);
  free(s.hits);
}

/* ---- tests ---- */

static void test_delivers_over_keepalive(void **state) {
  fx_t *fx = *state;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.headers = "x-tenant=acme,authorization=Bearer%20tok%2Cen";
  start(fx, NULL, &o);
  submit_n(fx->t, 40, 50);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  otlp_receiver_counts_t c = otlp_receiver_counts(fx->rx);
  assert_int_equal(c.spans, 2000);
  assert_int_equal(c.requests, 40);
  assert_true(c.connections <= 2); /* max_concurrent default: connections are reused */
  assert_exactly_once(fx->rx, 2000);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 40);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.spans_exported, 2000);
  assert_int_equal(st.batches_exported, 40);
  assert_int_equal(st.spans_failed, 0);
  assert_int_equal(st.bytes_sent, c.body_bytes);
  assert_int_equal(st.bytes_sent, st.bytes_uncompressed);
  char head[2048];
  otlp_receiver_last_head(fx->rx, head, sizeof head);
  assert_non_null(strstr(head, "POST /v1/traces HTTP/1.1"));
  assert_non_null(strstr(head, "Content-Type: application/x-protobuf"));
  assert_non_null(strstr(head, "x-tenant: acme"));
  assert_non_null(strstr(head, "authorization: Bearer tok,en"));
  assert_null(strstr(head, "Content-Encoding"));
  /* the OTLP exporter specification's recommended User-Agent */
  assert_non_null(strstr(head, "User-Agent: OTel-OTLP-Exporter-C/" UVOTEL_VERSION_STRING "\r\n"));
}

static void test_retries_3x503(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 3;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.max_concurrent = 1;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 100);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 4);
  assert_int_equal(st.retries, 3);
  assert_int_equal(st.http_errors, 3);
  assert_int_equal(st.spans_exported, 100);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100);
  assert_exactly_once(fx->rx, 100);
}

static void test_retry_after_429(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 1;
  f.fail_status = 429;
  f.retry_after = "1";
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.max_concurrent = 1;
  start(fx, &f, &o);
  uint64_t t0 = uv_hrtime();
  submit_n(fx->t, 1, 10);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  /* the backoff alone would be ~20 ms: waiting a second means Retry-After was honoured */
  assert_true(ms >= 950);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 2);
  assert_int_equal(st.spans_exported, 10);
}

static void test_receiver_starts_late(void **state) {
  fx_t *fx = *state;
  int port = otlp_receiver_free_port();
  snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d/v1/traces", port);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.retry_initial_ms = 50;
  o.retry_max_ms = 200;
  fx->t = make_transport(fx->url, &o);
  submit_n(fx->t, 3, 20);
  uvotel_otlp_http_stats_t st;
  for (int i = 0; i < 200; i++) { /* until the first refused attempts happened */
    uvotel__otlp_transport_stats(fx->t, &st);
    if (st.transport_errors >= 2) break;
    uv_sleep(10);
  }
  assert_true(st.transport_errors >= 2);
  assert_int_equal(st.spans_exported, 0);
  assert_int_equal(otlp_receiver_start(&fx->rx, port, NULL), 0);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.spans_exported, 60);
  assert_true(st.retries >= 2);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 60);
}

static void test_never_answers_shutdown_deadline(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.never_answer = 1;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.timeout_ms = 30000;
  o.max_queue_batches = 4;
  start(fx, &f, &o);
  long live_before = counting_alloc_stats().live;
  int refused = 0;
  for (int b = 0; b < 10; b++) {
    test_job_t *tj = make_job((uint32_t)b * 25, 25);
    int rc = uvotel__otlp_transport_submit(fx->t, &tj->job, 0);
    if (rc != 0) {
      assert_int_equal(rc, UVOTEL_EBUSY);
      uvotel_free(tj);
      refused++;
    }
  }
  assert_int_equal(refused, 6); /* the queue holds 4 batches: memory stays bounded */
  assert_true(counting_alloc_stats().live - live_before < 64);
  assert_int_equal(otlp_receiver_wait_requests(fx->rx, 2, 5000), 0);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 100), UVOTEL_ETIMEDOUT);
  uint64_t t0 = uv_hrtime();
  assert_int_equal(uvotel__otlp_transport_shutdown(fx->t, 300), UVOTEL_ETIMEDOUT);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_true(ms < 1500);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.spans_dropped, 150);
  assert_int_equal(st.spans_failed, 100);
  assert_int_equal(st.spans_exported, 0);
  test_job_t *tj = make_job(0, 1);
  assert_int_equal(uvotel__otlp_transport_submit(fx->t, &tj->job, 0), UVOTEL_ESHUTDOWN);
  uvotel_free(tj);
  assert_int_equal(uvotel__otlp_transport_shutdown(fx->t, 0), UVOTEL_ESHUTDOWN);
}

static void test_gzip_bodies_decode(void **state) {
  fx_t *fx = *state;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.compression = UVOTEL_OTLP_COMPRESSION_GZIP;
  start(fx, NULL, &o);
  submit_n(fx->t, 5, 200);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  otlp_receiver_counts_t c = otlp_receiver_counts(fx->rx);
  assert_int_equal(c.gzip, 5);
  assert_int_equal(c.spans, 1000);
  assert_int_equal(c.bad, 0);
  assert_exactly_once(fx->rx, 1000);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_true(st.bytes_sent < st.bytes_uncompressed);
  assert_int_equal(st.bytes_sent, c.body_bytes);
}

static void test_400_not_retried(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.status_always = 400;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 7);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 1);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.batches_failed, 1);
  assert_int_equal(st.spans_failed, 7);
  assert_int_equal(otlp_receiver_counts(fx->rx).requests, 1);
  assert_true(diag_has("HTTP 400"));
}

static void test_garbage_answer_not_retried(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.garbage = 1;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 3);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 1);
  assert_int_equal(st.spans_failed, 3);
  assert_int_equal(st.transport_errors, 1);
}

static void test_dropped_connection_retried(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.drop_first_n = 2;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.max_concurrent = 1;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 30);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 3);
  assert_int_equal(st.transport_errors, 2);
  assert_int_equal(st.spans_exported, 30);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 30);
}

static void test_partial_success_reported(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.partial_rejected = 4;
  f.partial_message = "four spans too old";
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 10);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.spans_rejected, 4);
  assert_int_equal(st.spans_exported, 6);
  assert_int_equal(st.batches_exported, 1);
  assert_true(diag_has("4 span(s) rejected: four spans too old"));
}

static void test_slow_receiver(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.delay_ms = 150;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  start(fx, &f, &o);
  submit_n(fx->t, 4, 10);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.spans_exported, 40);
  assert_int_equal(st.retries, 0);
}

static void test_export_timeout_bounds_retries(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 1000000;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.timeout_ms = 400;
  start(fx, &f, &o);
  submit_n(fx->t, 1, 5);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.spans_failed, 5);
  assert_true(st.retries >= 2);
  assert_true(diag_has("export timeout")); /* next retry too late, or time up */
}

/* https:// goes through TLS: against the plain-HTTP receiver the handshake fails, which is
 * not a transient condition, so the batch fails at once (not retried). */
static void test_https_handshake_failure_not_retried(void **state) {
  fx_t *fx = *state;
  assert_int_equal(otlp_receiver_start(&fx->rx, 0, NULL), 0);
  snprintf(fx->url, sizeof fx->url, "https://127.0.0.1:%d/v1/traces", otlp_receiver_port(fx->rx));
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.certificate = UVOTEL_SOURCE_DIR "/no/such/ca.pem";
  fx->t = make_transport(fx->url, &o);
  submit_n(fx->t, 1, 2);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 10000), 0);
  uvotel_otlp_http_stats_t st;
  uvotel__otlp_transport_stats(fx->t, &st);
  assert_int_equal(st.requests, 1);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.transport_errors, 1);
  assert_int_equal(st.spans_failed, 2);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 0);
}

static void test_bad_arguments(void **state) {
  fx_t *fx = *state;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  start(fx, NULL, &o);
  assert_int_equal(uvotel__otlp_transport_submit(NULL, NULL, 0), UVOTEL_EINVAL);
  test_job_t *tj = make_job(0, 1);
  tj->job.release = NULL;
  assert_int_equal(uvotel__otlp_transport_submit(fx->t, &tj->job, 0), UVOTEL_EINVAL);
  uvotel_free(tj);
  assert_int_equal(uvotel__otlp_transport_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel__otlp_transport_shutdown(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel__otlp_transport_create(NULL, NULL), UVOTEL_EINVAL);
  uvotel__otlp_transport_free(NULL);
  uvotel__otlp_transport_stats(NULL, NULL);
  assert_int_equal(uvotel__otlp_transport_flush(fx->t, 1000), 0); /* nothing queued */
}

int main(void) {
  counting_alloc_install();
  uv_mutex_init(&g_diag_mu);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_delivers_over_keepalive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retries_3x503, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_after_429, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receiver_starts_late, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_answers_shutdown_deadline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gzip_bodies_decode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_400_not_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_garbage_answer_not_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dropped_connection_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_partial_success_reported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_receiver, setup, teardown),
      cmocka_unit_test_setup_teardown(test_export_timeout_bounds_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_https_handshake_failure_not_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
