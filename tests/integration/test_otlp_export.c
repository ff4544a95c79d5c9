/* Spans end to end: tracer provider -> batch span processor -> OTLP/HTTP exporter -> the
 * loopback receiver, which decodes every body with protobuf-c. 10,000 spans arrive exactly once
 * with their parent links, attributes, events, status, resource and scope; delivery survives
 * 3x503, 429 + Retry-After: 1 and a receiver that starts late, and 10,000 spans with the first
 * four requests refused with 503 arrive exactly once; a receiver that never answers
 * makes shutdown return at its deadline with the losses counted and memory bounded; gzip bodies
 * decode; 400 is not retried; OTEL_TRACES_EXPORTER=otlp selects the exporter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "counting_alloc.h"
#include "otlp_receiver.h"
#include "uvotel.h"
#include "uvotel/exporters/otlp_http.h"

typedef struct fx_s {
  uv_loop_t loop;
  long live0;
  otlp_receiver_t *rx;
  uvotel_tracer_provider_t *p;
  uvotel_span_exporter_t *exp; /* borrowed: owned by the processor */
  char url[128];
} fx_t;

static int setup(void **state) {
  static fx_t fx;
  memset(&fx, 0, sizeof fx);
  fx.live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&fx.loop), 0);
  *state = &fx;
  return 0;
}

static void close_provider(fx_t *fx) {
  if (fx->p == NULL) return;
  uvotel_tracer_provider_free(fx->p);
  fx->p = NULL;
  fx->exp = NULL;
  uv_run(&fx->loop, UV_RUN_DEFAULT); /* the processor's handles close, then it frees */
}

static int teardown(void **state) {
  fx_t *fx = *state;
  close_provider(fx);
  otlp_receiver_stop(fx->rx);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, fx->live0);
  return 0;
}

static void make_provider(fx_t *fx, uvotel_otlp_http_options_t *o, uint32_t queue) {
  o->endpoint = fx->url;
  o->use_env = 0;
  if (o->retry_initial_ms == 0) o->retry_initial_ms = 20;
  if (o->retry_max_ms == 0) o->retry_max_ms = 100;
  assert_int_equal(uvotel_otlp_http_exporter_create(o, &fx->exp), 0);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &fx->loop;
  bo.max_queue_size = queue;
  bo.max_export_batch_size = 512;
  bo.schedule_delay_ms = 20;
  bo.export_timeout_ms = 5000;
  bo.max_concurrent_exports = 2;
  uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(fx->exp, &bo);
  assert_non_null(bp);
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", "otlp-test"),
                              UVOTEL_ATTR_STR("deployment.environment", "ci")};
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.resource_attrs = res;
  po.n_resource_attrs = 2;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &fx->loop;
  po.max_spans = 65536;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  fx->p = uvotel_tracer_provider_create(&po);
  assert_non_null(fx->p);
}

static void start_rx(fx_t *fx, const otlp_receiver_faults_t *f) {
  assert_int_equal(otlp_receiver_start(&fx->rx, 0, f), 0);
  otlp_receiver_url(fx->rx, fx->url, sizeof fx->url);
}

/* ---- the 10,000-span workload and its check ---- */

#define ROOTS 1000
#define CHILDREN 9
#define TOTAL (ROOTS * (1 + CHILDREN))

typedef struct expect_s {
  uint8_t span_id[8];
  uint8_t parent_id[8]; /* zero for roots */
  uint8_t trace_id[16];
  int64_t n;
  int seen;
} expect_t;

static expect_t g_expect[TOTAL];

static int cmp_expect(const void *a, const void *b) {
  return memcmp(((const expect_t *)a)->span_id, ((const expect_t *)b)->span_id, 8);
}

static void produce(fx_t *fx, size_t roots, size_t children, int record) {
  uvotel_tracer_t *tr = uvotel_tracer_get(fx->p, "otlp.test", "1.2.3");
  size_t k = 0;
  for (size_t r = 0; r < roots; r++) {
    uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
    so.kind = UVOTEL_SPAN_KIND_SERVER;
    so.flags = UVOTEL_SPAN_ROOT;
    uvotel_span_t *root = uvotel_span_start(tr, "root", &so);
    uvotel_span_set_attribute_int(root, "n", (int64_t)k);
    uvotel_span_set_attribute_str(root, "role", "root");
    uvotel_span_context_t rc = uvotel_span_context(root);
    if (record) {
      memcpy(g_expect[k].span_id, rc.span_id.bytes, 8);
      memset(g_expect[k].parent_id, 0, 8);
      memcpy(g_expect[k].trace_id, rc.trace_id.bytes, 16);
      g_expect[k].n = (int64_t)k;
    }
    k++;
    for (size_t c = 0; c < children; c++) {
      uvotel_span_options_t co = UVOTEL_SPAN_OPTIONS_INIT;
      co.kind = UVOTEL_SPAN_KIND_CLIENT;
      co.parent_span = root;
      uvotel_span_t *ch = uvotel_span_start(tr, "child", &co);
      uvotel_span_set_attribute_int(ch, "n", (int64_t)k);
      uvotel_span_set_attribute_str(ch, "role", "child");
      uvotel_span_set_attribute_double(ch, "ratio", 0.5);
      uvotel_span_set_attribute_bool(ch, "ok", c % 2 == 0);
      if (c == 0) {
        uvotel_attribute_t ea[] = {UVOTEL_ATTR_STR("why", "because")};
        uvotel_span_add_event(ch, "something", ea, 1);
        uvotel_span_set_status(ch, UVOTEL_STATUS_ERROR, "it broke");
      }
      if (record) {
        uvotel_span_context_t cc = uvotel_span_context(ch);
        memcpy(g_expect[k].span_id, cc.span_id.bytes, 8);
        memcpy(g_expect[k].parent_id, rc.span_id.bytes, 8);
        memcpy(g_expect[k].trace_id, rc.trace_id.bytes, 16);
        g_expect[k].n = (int64_t)k;
      }
      k++;
      uvotel_span_end(ch);
    }
    uvotel_span_end(root);
  }
}

typedef struct check_s {
  size_t total, bad_parent, bad_attr, dup, unknown, bad_resource, bad_scope, events, errors;
} check_t;

static const Opentelemetry__Proto__Common__V1__AnyValue *attr(
    Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(kv[i]->key, key) == 0) return kv[i]->value;
  return NULL;
}

static void check_fn(void *arg, const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                     const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                     const Opentelemetry__Proto__Trace__V1__Span *sp) {
  check_t *c = arg;
  c->total++;
  const Opentelemetry__Proto__Common__V1__AnyValue *sn =
      rs->resource ? attr(rs->resource->attributes, rs->resource->n_attributes, "service.name")
                   : NULL;
  if (sn == NULL || strcmp(sn->string_value, "otlp-test") != 0) c->bad_resource++;
  if (ss->scope == NULL || strcmp(ss->scope->name, "otlp.test") != 0 ||
      strcmp(ss->scope->version, "1.2.3") != 0)
    c->bad_scope++;
  if (sp->span_id.len != 8 || sp->trace_id.len != 16) {
    c->unknown++;
    return;
  }
  expect_t key;
  memcpy(key.span_id, sp->span_id.data, 8);
  expect_t *e = bsearch(&key, g_expect, TOTAL, sizeof key, cmp_expect);
  if (e == NULL) {
    c->unknown++;
    return;
  }
  if (e->seen++) c->dup++;
  static const uint8_t zero[8];
  int is_root = memcmp(e->parent_id, zero, 8) == 0;
  if (memcmp(sp->trace_id.data, e->trace_id, 16) != 0) c->bad_parent++;
  if (is_root ? sp->parent_span_id.len != 0
              : (sp->parent_span_id.len != 8 || memcmp(sp->parent_span_id.data, e->parent_id, 8)))
    c->bad_parent++;
  const Opentelemetry__Proto__Common__V1__AnyValue *n = attr(sp->attributes, sp->n_attributes, "n");
  const Opentelemetry__Proto__Common__V1__AnyValue *role =
      attr(sp->attributes, sp->n_attributes, "role");
  if (n == NULL || n->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE ||
      n->int_value != e->n || role == NULL ||
      strcmp(role->string_value, is_root ? "root" : "child") != 0 ||
      strcmp(sp->name, is_root ? "root" : "child") != 0 || sp->kind != (is_root ? 2 : 3) ||
      sp->end_time_unix_nano < sp->start_time_unix_nano || sp->start_time_unix_nano == 0 ||
      (sp->flags & 0x01) != 1 || (sp->flags & 0x100) == 0)
    c->bad_attr++;
  if (!is_root) {
    const Opentelemetry__Proto__Common__V1__AnyValue *r =
        attr(sp->attributes, sp->n_attributes, "ratio");
    const Opentelemetry__Proto__Common__V1__AnyValue *ok =
        attr(sp->attributes, sp->n_attributes, "ok");
    if (r == NULL || r->double_value != 0.5 || ok == NULL ||
        ok->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE)
      c->bad_attr++;
  }
  if (sp->n_events == 1 && strcmp(sp->events[0]->name, "something") == 0 &&
      sp->events[0]->n_attributes == 1 &&
      strcmp(sp->events[0]->attributes[0]->value->string_value, "because") == 0)
    c->events++;
  if (sp->status != NULL && sp->status->code == 2 && strcmp(sp->status->message, "it broke") == 0)
    c->errors++;
}

static void run_10000(fx_t *fx, int gzip, const otlp_receiver_faults_t *f) {
  start_rx(fx, f);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  if (gzip) o.compression = UVOTEL_OTLP_COMPRESSION_GZIP;
  make_provider(fx, &o, 16384);
  memset(g_expect, 0, sizeof g_expect);
  produce(fx, ROOTS, CHILDREN, 1);
  qsort(g_expect, TOTAL, sizeof g_expect[0], cmp_expect);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 20000), 0);
  otlp_receiver_counts_t rc = otlp_receiver_counts(fx->rx);
  assert_int_equal(rc.spans, TOTAL);
  assert_int_equal(rc.bad, 0);
  check_t c = {0};
  otlp_receiver_foreach_span(fx->rx, check_fn, &c);
  assert_int_equal(c.total, TOTAL);
  assert_int_equal(c.unknown, 0);
  assert_int_equal(c.dup, 0);
  assert_int_equal(c.bad_parent, 0);
  assert_int_equal(c.bad_attr, 0);
  assert_int_equal(c.bad_resource, 0);
  assert_int_equal(c.bad_scope, 0);
  assert_int_equal(c.events, ROOTS);
  assert_int_equal(c.errors, ROOTS);
  for (size_t i = 0; i < TOTAL; i++) assert_int_equal(g_expect[i].seen, 1);
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_exporter_stats(fx->exp, &st), 0);
  assert_int_equal(st.spans_exported, TOTAL);
  assert_int_equal(st.spans_failed + st.spans_dropped, 0);
  assert_int_equal(st.bytes_sent, rc.body_bytes);
  if (gzip) {
    assert_int_equal(rc.gzip, rc.requests);
    assert_true(st.bytes_sent < st.bytes_uncompressed);
  } else {
    assert_int_equal(rc.gzip, 0);
  }
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), 0);
}

static void test_10000_spans_exactly_once(void **state) {
  run_10000(*state, 0, NULL);
}
static void test_gzip_bodies_decode(void **state) {
  run_10000(*state, 1, NULL);
}
/* The exporter sends each body from its encoder's scratch buffer and gives the buffer back only
 * when the batch is done: batches retried after 503s, while the other batches are encoded and
 * sent, still arrive exactly once and intact. */
static void test_10000_spans_exactly_once_despite_503s(void **state) {
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 4;
  run_10000(*state, 0, &f);
}

/* Faults: 100 spans through the pipeline, then what the exporter counted. */
static uvotel_otlp_http_stats_t run_faulty(fx_t *fx, const otlp_receiver_faults_t *f,
                                           uint64_t flush_ms, int expect_flush) {
  start_rx(fx, f);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  make_provider(fx, &o, 4096);
  produce(fx, 10, 9, 0);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, flush_ms), expect_flush);
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_exporter_stats(fx->exp, &st), 0);
  return st;
}

static void test_delivered_despite_3x503(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 3;
  uvotel_otlp_http_stats_t st = run_faulty(fx, &f, 10000, 0);
  assert_int_equal(st.spans_exported, 100);
  assert_int_equal(st.retries, 3);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100);
}

static void test_delivered_despite_429_retry_after(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.fail_first_n = 1;
  f.fail_status = 429;
  f.retry_after = "1";
  uint64_t t0 = uv_hrtime();
  uvotel_otlp_http_stats_t st = run_faulty(fx, &f, 10000, 0);
  assert_true((uv_hrtime() - t0) / 1000000 >= 950);
  assert_int_equal(st.spans_exported, 100);
  assert_int_equal(st.retries, 1);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100);
}

static void test_400_not_retried(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.status_always = 400;
  /* the batch was rejected: the flush says so, and the pipeline's counters agree */
  uvotel_otlp_http_stats_t st = run_faulty(fx, &f, 10000, UVOTEL_EIO);
  assert_int_equal(st.retries, 0);
  assert_int_equal(st.requests, otlp_receiver_counts(fx->rx).requests);
  assert_int_equal(st.spans_failed, 100);
  assert_int_equal(st.spans_exported, 0);
  uvotel_trace_counters_t tc;
  assert_int_equal(uvotel_tracer_provider_counters(fx->p, &tc), 0);
  assert_int_equal(tc.failed, 100);
  assert_int_equal(tc.exported, 0);
}

static void test_receiver_starts_late(void **state) {
  fx_t *fx = *state;
  int port = otlp_receiver_free_port();
  snprintf(fx->url, sizeof fx->url, "http://127.0.0.1:%d/v1/traces", port);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.retry_initial_ms = 50;
  o.retry_max_ms = 200;
  make_provider(fx, &o, 4096);
  produce(fx, 10, 9, 0);
  /* the first attempts are refused: nobody listens yet */
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 300), UVOTEL_ETIMEDOUT);
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_exporter_stats(fx->exp, &st), 0);
  assert_true(st.transport_errors >= 1);
  assert_int_equal(st.spans_exported, 0);
  assert_int_equal(otlp_receiver_start(&fx->rx, port, NULL), 0);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  assert_int_equal(uvotel_otlp_http_exporter_stats(fx->exp, &st), 0);
  assert_int_equal(st.spans_exported, 100);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 100);
}

static void test_never_answering_receiver(void **state) {
  fx_t *fx = *state;
  otlp_receiver_faults_t f = {0};
  f.never_answer = 1;
  start_rx(fx, &f);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.max_queue_batches = 4;
  o.timeout_ms = 30000;
  make_provider(fx, &o, 4096);
  long live_before = counting_alloc_stats().live;
  produce(fx, 2000, 4, 0); /* 10,000 spans into a 4,096 queue and 4 exporter slots */
  long live_spans = counting_alloc_stats().live;
  uint64_t t0 = uv_hrtime();
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 500), UVOTEL_ETIMEDOUT);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_true(ms < 2000);
  /* memory bounded: the queue and the exporter's 4 pending bodies, not 10,000 spans' worth of
   * bodies (each body of 512 spans is one block) */
  /* memory bounded: once the spans are ended, waiting on a dead receiver costs the exporter
   * at most its 4 pending bodies (plus curl's buffers, outside the counting allocator); the
   * span slots themselves come from the provider's bounded pool (max_spans) */
  assert_true(counting_alloc_stats().live - live_spans < 64);
  assert_true(live_spans - live_before <= 65536);
  uvotel_trace_counters_t tc;
  assert_int_equal(uvotel_tracer_provider_counters(fx->p, &tc), 0);
  /* the processor's queue (4,096) overflowed; the exporter took at most 4 batches */
  assert_true(tc.dropped >= 10000 - 4096 - 6 * 512);
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_exporter_stats(fx->exp, &st), 0);
  assert_int_equal(st.spans_exported, 0);
  assert_true(st.requests >= 1);
  assert_int_equal(tc.ended, 10000);
  t0 = uv_hrtime();
  /* frees the exporter: it abandons its bodies and joins its thread. The processor first waits
   * for its in-flight exports, which wait for room in the exporter's full queue for at most 1 s
   * (a timed-out processor shutdown does not shut the exporter down to release them). */
  close_provider(fx);
  assert_true((uv_hrtime() - t0) / 1000000 < 2500);
}

static void test_from_env_selects_otlp(void **state) {
  fx_t *fx = *state;
  start_rx(fx, NULL);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", otlp_receiver_port(fx->rx));
  setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", base, 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "10", 1);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.loop = &fx->loop;
  fx->p = uvotel_tracer_provider_from_env_with(&po);
  unsetenv("OTEL_TRACES_EXPORTER");
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  unsetenv("OTEL_BSP_SCHEDULE_DELAY");
  assert_non_null(fx->p);
  produce(fx, 5, 1, 0);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 10);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), 0);
}

/* After fork() the child must not use the parent's exporter thread or connections: its
 * exporter refuses work and frees only memory; the parent's keeps delivering. */
static void test_fork_child_leaves_parent_alone(void **state) {
  fx_t *fx = *state;
  start_rx(fx, NULL);
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  make_provider(fx, &o, 4096);
  produce(fx, 2, 4, 0);
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int bad = 0;
    if (uvotel_span_exporter_force_flush(fx->exp, 100) != UVOTEL_ESTATE) bad |= 1;
    uvotel_otlp_http_stats_t st;
    if (uvotel_otlp_http_exporter_stats(fx->exp, &st) != 0 || st.spans_exported != 10) bad |= 2;
    if (uvotel_span_exporter_shutdown(fx->exp, 100) != 0) bad |= 4;
    _exit(bad);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  produce(fx, 2, 4, 0); /* the parent's exporter still works */
  assert_int_equal(uvotel_tracer_provider_force_flush(fx->p, 10000), 0);
  assert_int_equal(otlp_receiver_counts(fx->rx).spans, 20);
  assert_int_equal(uvotel_tracer_provider_shutdown(fx->p, 5000), 0);
}

static void test_public_api_bad_input(void **state) {
  fx_t *fx = *state;
  assert_int_equal(uvotel_otlp_http_exporter_create(NULL, NULL), UVOTEL_EINVAL);
  uvotel_span_exporter_t *e = NULL;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.use_env = 0;
  o.headers = "broken";
  assert_int_equal(uvotel_otlp_http_exporter_create(&o, &e), UVOTEL_EPARSE);
  assert_null(e);
  o.headers = NULL;
  o.endpoint = "gopher://x";
  assert_int_equal(uvotel_otlp_http_exporter_create(&o, &e), UVOTEL_EINVAL);
  o.endpoint = "http://127.0.0.1:9/v1/traces";
  assert_int_equal(uvotel_otlp_http_exporter_create(&o, &e), 0);
  assert_string_equal(uvotel_otlp_http_exporter_endpoint(e), "http://127.0.0.1:9/v1/traces");
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_exporter_stats(NULL, &st), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_exporter_stats(e, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_otlp_http_exporter_endpoint(NULL));
  assert_int_equal(uvotel_span_exporter_force_flush(e, 100), 0);
  assert_int_equal(uvotel_span_exporter_shutdown(e, 100), 0);
  assert_int_equal(uvotel_span_exporter_export(e, NULL, 0, 100), 0);
  uvotel_span_exporter_free(e);
  /* another exporter is not ours */
  e = uvotel_span_exporter_create_by_name("file");
  if (e != NULL) {
    assert_int_equal(uvotel_otlp_http_exporter_stats(e, &st), UVOTEL_EINVAL);
    uvotel_span_exporter_free(e);
  }
  uint8_t *body;
  size_t len;
  assert_int_equal(uvotel_otlp_http_encode(NULL, 1, &body, &len), UVOTEL_EINVAL);
  const uvotel_span_data_t *nul[1] = {NULL};
  assert_int_equal(uvotel_otlp_http_encode(nul, 1, &body, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode(nul, 1, NULL, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode(NULL, 0, &body, &len), 0); /* an empty request */
  uvotel_free(body);
  assert_int_equal(uvotel_otlp_http_exporter_register(), 0);
  (void)fx;
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_10000_spans_exactly_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gzip_bodies_decode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_10000_spans_exactly_once_despite_503s, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delivered_despite_3x503, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delivered_despite_429_retry_after, setup, teardown),
      cmocka_unit_test_setup_teardown(test_400_not_retried, setup, teardown),
      cmocka_unit_test_setup_teardown(test_receiver_starts_late, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_answering_receiver, setup, teardown),
      cmocka_unit_test_setup_teardown(test_from_env_selects_otlp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fork_child_leaves_parent_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_public_api_bad_input, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
