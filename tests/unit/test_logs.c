/* The logs signal: provider, loggers, records (fields, limits, trace context), processors,
 * exporters (memory, console, OTLP/JSON lines byte-exact, protobuf), the environment, and the
 * bad input of every public function. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/logs.h>

#include "counting_alloc.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_log_exporter_t *mem;
  uvotel_logger_provider_t *p;
  uvotel_logger_t *l;
  long live0;
} fx_t;

static uvotel_logger_provider_t *mem_provider(fx_t *f, const uvotel_log_limits_t *lim,
                                              uint32_t max_records) {
  f->mem = uvotel_memory_log_exporter_create(0);
  uvotel_log_processor_t *pr =
      uvotel_simple_log_processor_create(uvotel_memory_log_exporter_exporter(f->mem));
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  o.loop = &f->loop;
  o.max_records = max_records;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  if (lim != NULL) o.limits = *lim;
  return uvotel_logger_provider_create(&o);
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->p = mem_provider(f, NULL, 0);
  assert_non_null(f->p);
  f->l = uvotel_logger_get(f->p, "test", "1.0");
  assert_non_null(f->l);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  uvotel_logger_provider_free(f->p);
  uvotel_memory_log_exporter_free(f->mem);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

static const uvotel_log_data_t *rec(fx_t *f, size_t i) {
  const uvotel_log_data_t *d = uvotel_memory_log_exporter_get(f->mem, i);
  assert_non_null(d);
  return d;
}

/* ---- records ---- */

static void test_log_fields(void **state) {
  fx_t *f = *state;
  uint64_t before = (uint64_t)time(NULL) * 1000000000ull;
  assert_int_equal(uvotel_log(f->l, UVOTEL_SEVERITY_INFO, "hello %s %d", "world", 42), 0);
  const uvotel_log_data_t *d = rec(f, 0);
  assert_string_equal(d->body.u.s, "hello world 42");
  assert_int_equal(d->body.type, UVOTEL_VALUE_STRING);
  assert_int_equal(d->body.len, 14);
  assert_int_equal(d->severity, 9);
  assert_string_equal(d->severity_text, "INFO");
  assert_true(d->time_unix_ns >= before - 1000000000ull);
  assert_int_equal(d->time_unix_ns, d->observed_unix_ns);
  assert_true(uvotel_trace_id_is_zero(&d->trace_id)); /* no span current */
  assert_int_equal(d->trace_flags, 0);
  assert_string_equal(d->scope->name, "test");
  assert_string_equal(d->scope->version, "1.0");
  assert_ptr_equal(d->resource, uvotel_logger_provider_resource(f->p));
  assert_int_equal(d->n_attrs, 0);
  /* a long message goes beyond the inline storage */
  char big[3000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(uvotel_log(f->l, UVOTEL_SEVERITY_WARN + 1, "%s|", big), 0);
  d = rec(f, 1);
  assert_int_equal(d->body.len, sizeof big);
  assert_int_equal(d->body.u.s[sizeof big - 1], '|');
  assert_string_equal(d->severity_text, "WARN2");
  uvotel_log_counters_t c;
  assert_int_equal(uvotel_logger_provider_counters(f->p, &c), 0);
  assert_int_equal(c.emitted, 2);
  assert_int_equal(c.exported, 2);
}

static void test_log_current_span(void **state) {
  fx_t *f = *state;
  uvotel_tracer_provider_options_t to = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  to.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *tp = uvotel_tracer_provider_create(&to);
  uvotel_span_t *s = uvotel_span_start(uvotel_tracer_get(tp, "t", NULL), "op", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(s, &sc), 0);
  uvotel_log(f->l, UVOTEL_SEVERITY_ERROR, "inside");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_log(f->l, UVOTEL_SEVERITY_ERROR, "outside");
  uvotel_span_context_t ctx = uvotel_span_context(s);
  const uvotel_log_data_t *d = rec(f, 0);
  assert_memory_equal(d->trace_id.bytes, ctx.trace_id.bytes, 16);
  assert_memory_equal(d->span_id.bytes, ctx.span_id.bytes, 8);
  assert_int_equal(d->trace_flags, ctx.flags);
  assert_true(d->trace_flags & UVOTEL_TRACE_FLAG_SAMPLED);
  assert_true(uvotel_trace_id_is_zero(&rec(f, 1)->trace_id));
  /* an explicit context wins over the current span; an invalid one means none */
  uvotel_span_context_t given;
  memset(&given, 0, sizeof given);
  given.trace_id.bytes[0] = 0xab;
  given.span_id.bytes[7] = 0xcd;
  assert_int_equal(uvotel_span_enter(s, &sc), 0);
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.context = &given;
  uvotel_log_emit(f->l, &r);
  memset(&given, 0, sizeof given);
  uvotel_log_emit(f->l, &r);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(rec(f, 2)->trace_id.bytes[0], 0xab);
  assert_int_equal(rec(f, 2)->span_id.bytes[7], 0xcd);
  assert_true(uvotel_trace_id_is_zero(&rec(f, 3)->trace_id));
  uvotel_span_end(s);
  uvotel_tracer_provider_free(tp);
}

static void test_log_structured(void **state) {
  fx_t *f = *state;
  const char *tags[] = {"a", "b"};
  int64_t nums[] = {1, -2, 3};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("http.method", "GET"),
                                UVOTEL_ATTR_INT("n", 7),
                                UVOTEL_ATTR_BOOL("ok", true),
                                UVOTEL_ATTR_DOUBLE("ratio", 0.5),
                                UVOTEL_ATTR_STR_ARRAY("tags", tags, 2),
                                UVOTEL_ATTR_INT_ARRAY("nums", nums, 3),
                                UVOTEL_ATTR_INT("n", 8)}; /* later duplicate replaces */
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.severity = UVOTEL_SEVERITY_DEBUG;
  r.severity_text = "dbg";
  r.body.type = UVOTEL_VALUE_INT;
  r.body.u.i = -5;
  r.attrs = attrs;
  r.n_attrs = 7;
  r.time_unix_ns = 1000;
  r.observed_unix_ns = 2000;
  assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  const uvotel_log_data_t *d = rec(f, 0);
  assert_int_equal(d->severity, 5);
  assert_string_equal(d->severity_text, "dbg");
  assert_int_equal(d->body.type, UVOTEL_VALUE_INT);
  assert_int_equal(d->body.u.i, -5);
  assert_int_equal(d->time_unix_ns, 1000);
  assert_int_equal(d->observed_unix_ns, 2000);
  assert_int_equal(d->n_attrs, 6);
  assert_string_equal(d->attrs[0].key, "http.method");
  assert_string_equal(d->attrs[0].value.u.s, "GET");
  assert_int_equal(d->attrs[0].value.len, 3);
  assert_int_equal(d->attrs[1].value.u.i, 8);
  assert_string_equal(d->attrs[4].value.u.sa[1], "b");
  assert_int_equal(d->attrs[5].value.u.ia[1], -2);
  assert_int_equal(d->dropped_attributes, 0);
  /* a string body with an explicit length (not NUL-terminated) */
  uvotel_log_record_options_t r2 = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r2.body.type = UVOTEL_VALUE_STRING;
  r2.body.u.s = "abcdef";
  r2.body.len = 3;
  r2.flags = UVOTEL_LOG_BODY_LEN;
  assert_int_equal(uvotel_log_emit(f->l, &r2), 0);
  d = rec(f, 1);
  assert_string_equal(d->body.u.s, "abc");
  assert_string_equal(d->severity_text, ""); /* UNSPECIFIED */
  assert_int_equal(d->time_unix_ns, 0);      /* not set */
  assert_true(d->observed_unix_ns > 0);      /* now */
  /* many attributes: beyond the inline array, kept for reuse */
  uvotel_attribute_t many[40];
  char keys[40][8];
  for (int i = 0; i < 40; i++) {
    snprintf(keys[i], sizeof keys[i], "k%d", i);
    uvotel_attribute_t a = UVOTEL_ATTR_INT(keys[i], i);
    many[i] = a;
  }
  assert_int_equal(uvotel_log_attrs(f->l, UVOTEL_SEVERITY_INFO, many, 40, "many"), 0);
  d = rec(f, 2);
  assert_int_equal(d->n_attrs, 40);
  assert_string_equal(d->attrs[39].key, "k39");
  assert_int_equal(d->attrs[39].value.u.i, 39);
}

static void test_log_limits(void **state) {
  fx_t *f = *state;
  uvotel_logger_provider_free(f->p);
  uvotel_memory_log_exporter_free(f->mem);
  uvotel_log_limits_t lim = {2, 3};
  f->p = mem_provider(f, &lim, 0);
  f->l = uvotel_logger_get(f->p, "test", NULL);
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("a", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
                                UVOTEL_ATTR_STR("b", "12345"), UVOTEL_ATTR_STR("c", "x")};
  assert_int_equal(uvotel_log_attrs(f->l, UVOTEL_SEVERITY_INFO, attrs, 3, "%s", "\xc3\xa9tait"), 0);
  const uvotel_log_data_t *d = rec(f, 0);
  assert_int_equal(d->n_attrs, 2);
  assert_int_equal(d->dropped_attributes, 1);
  assert_string_equal(d->attrs[0].value.u.s, "\xc3\xa9\xc3\xa9\xc3\xa9"); /* 3 characters */
  assert_int_equal(d->attrs[0].value.len, 6);
  assert_string_equal(d->attrs[1].value.u.s, "123");
  assert_string_equal(d->body.u.s, "\xc3\xa9tait"); /* bodies are not limited */
  assert_int_equal(d->body.len, 6);
  uvotel_log_limits_t got = uvotel_logger_provider_limits(f->p);
  assert_int_equal(got.attribute_count, 2);
  assert_int_equal(uvotel_logger_provider_limits(NULL).attribute_count, 128);
}

/* Records held by an exporter use up the pool; beyond max_records emits are refused and
 * counted, and the slots come back when released. */
static void test_log_pool_exhausted(void **state) {
  fx_t *f = *state;
  uvotel_logger_provider_free(f->p);
  uvotel_memory_log_exporter_free(f->mem);
  f->p = mem_provider(f, NULL, 300); /* rounded up to whole chunks of 256 */
  f->l = uvotel_logger_get(f->p, "test", NULL);
  int rc = 0;
  size_t ok = 0;
  for (int i = 0; i < 600; i++) {
    rc = uvotel_log(f->l, UVOTEL_SEVERITY_INFO, "r%d", i);
    if (rc == 0) ok++;
  }
  assert_int_equal(rc, UVOTEL_ENOMEM);
  assert_int_equal(ok, 512);
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(f->p, &c);
  assert_int_equal(c.pool_exhausted, 88);
  uvotel_memory_log_exporter_reset(f->mem);
  assert_int_equal(uvotel_log(f->l, UVOTEL_SEVERITY_INFO, "again"), 0);
}

/* ---- zero allocations in steady state ---- */

static atomic_size_t g_counted;
static int count_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                        uint64_t timeout_ms) {
  (void)self, (void)recs, (void)timeout_ms;
  g_counted += n;
  return 0;
}
static const uvotel_log_exporter_ops_t k_count_ops = {.export_logs = count_export};

static void test_log_zero_alloc(void **state) {
  fx_t *f = *state;
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_export_batch_size = 64;
  bo.max_queue_size = 16384; /* no drops while an export is in flight */
  uvotel_log_processor_t *procs[2] = {
      uvotel_simple_log_processor_create(uvotel_log_exporter_create(&k_count_ops, NULL)),
      uvotel_batch_log_processor_create(uvotel_log_exporter_create(&k_count_ops, NULL), &bo)};
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = procs;
  o.n_processors = 2;
  o.max_records = 20000;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  uvotel_logger_t *l = uvotel_logger_get(p, "hot", NULL);
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("user", "alice"), UVOTEL_ATTR_INT("n", 1)};
  g_counted = 0;
  for (int round = 0; round < 2; round++) {
    counting_alloc_stats_t a0 = counting_alloc_stats();
    for (int i = 0; i < 10000; i++) {
      assert_int_equal(uvotel_log_attrs(l, UVOTEL_SEVERITY_INFO, attrs, 2, "request %d done", i),
                       0);
      /* export completions come back; the first round lets the queue fill, so the pool grows
       * to its high-water mark */
      if (round == 1 && i % 64 == 63) uv_run(&f->loop, UV_RUN_NOWAIT);
    }
    /* emitting allocates nothing once warm (the first round warms up: pool slots, export
     * jobs); force_flush, which blocks the loop, may add export jobs */
    counting_alloc_stats_t a1 = counting_alloc_stats();
    if (round == 1) assert_int_equal(a1.allocs - a0.allocs, 0);
    assert_int_equal(uvotel_logger_provider_force_flush(p, 5000), 0);
    uv_run(&f->loop, UV_RUN_NOWAIT);
  }
  assert_int_equal(g_counted, 40000);
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(p, &c);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(c.exported, 40000);
  assert_int_equal(uvotel_logger_provider_shutdown(p, 1000), 0);
  uvotel_logger_provider_free(p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* ---- batch processor: a dead exporter, a full queue ---- */

static uv_sem_t g_block;
static int g_blocking;
static int failing_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                          uint64_t timeout_ms) {
  (void)self, (void)recs, (void)n, (void)timeout_ms;
  if (g_blocking) uv_sem_wait(&g_block);
  return UVOTEL_EIO;
}
static const uvotel_log_exporter_ops_t k_fail_ops = {.export_logs = failing_export};

static void test_batch_dead_exporter(void **state) {
  fx_t *f = *state;
  uv_sem_init(&g_block, 0);
  g_blocking = 1;
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_queue_size = 100;
  bo.max_export_batch_size = 10;
  uvotel_log_processor_t *pr =
      uvotel_batch_log_processor_create(uvotel_log_exporter_create(&k_fail_ops, NULL), &bo);
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  o.max_records = 256;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  uvotel_logger_t *l = uvotel_logger_get(p, "dead", NULL);
  counting_alloc_stats_t a0 = counting_alloc_stats();
  for (int i = 0; i < 5000; i++) uvotel_log(l, UVOTEL_SEVERITY_INFO, "r%d", i);
  counting_alloc_stats_t a1 = counting_alloc_stats();
  /* bounded: one export in flight (10 records), 100 queued; the rest dropped, never waited */
  assert_true(a1.live - a0.live <= 4);
  uvotel_log_processor_counters_t pc;
  uvotel_log_processor_counters(pr, &pc);
  assert_int_equal(pc.received, 5000);
  assert_int_equal(pc.queued + pc.in_flight * 10 + pc.dropped, 5000);
  assert_true(pc.dropped >= 4890);
  g_blocking = 0;
  for (int i = 0; i < 10; i++) uv_sem_post(&g_block);
  assert_int_equal(uvotel_logger_provider_force_flush(p, 5000), 0);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(p, &c);
  assert_int_equal(c.failed + c.dropped, 5000);
  assert_int_equal(c.exported, 0);
  assert_true(c.failed >= 100);
  uvotel_logger_provider_free(p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uv_sem_destroy(&g_block);
}

/* Records emitted from another thread reach the batch processor (async wake-up). */
static uvotel_logger_t *g_thread_logger;
static void thread_main(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) uvotel_log(g_thread_logger, UVOTEL_SEVERITY_INFO, "t%d", i);
  uvotel_thread_cleanup();
}

static void test_batch_threads(void **state) {
  fx_t *f = *state;
  uvotel_memory_log_exporter_t *m = uvotel_memory_log_exporter_create(0);
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_export_batch_size = 100;
  uvotel_log_processor_t *pr =
      uvotel_batch_log_processor_create(uvotel_memory_log_exporter_exporter(m), &bo);
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  g_thread_logger = uvotel_logger_get(p, "threads", NULL);
  uv_thread_t th[2];
  for (int i = 0; i < 2; i++) uv_thread_create(&th[i], thread_main, NULL);
  for (int i = 0; i < 2; i++) uv_thread_join(&th[i]);
  assert_int_equal(uvotel_logger_provider_shutdown(p, 5000), 0);
  assert_int_equal(uvotel_memory_log_exporter_count(m), 2000);
  uvotel_logger_provider_free(p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_memory_log_exporter_free(m);
}

/* ---- OTLP/JSON, byte-exact ---- */

static uvotel_logger_provider_t *fixed_provider(uvotel_memory_log_exporter_t **m) {
  *m = uvotel_memory_log_exporter_create(0);
  uvotel_log_processor_t *pr =
      uvotel_simple_log_processor_create(uvotel_memory_log_exporter_exporter(*m));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", "svc")};
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  o.resource_attrs = res;
  o.n_resource_attrs = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE | UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  return uvotel_logger_provider_create(&o);
}

static void emit_fixed(uvotel_logger_provider_t *p) {
  uvotel_logger_t *a = uvotel_logger_get(p, "a", "1");
  uvotel_logger_t *b = uvotel_logger_get(p, "b", NULL);
  uvotel_span_context_t sc;
  memset(&sc, 0, sizeof sc);
  for (int i = 0; i < 16; i++) sc.trace_id.bytes[i] = (uint8_t)(i + 1);
  for (int i = 0; i < 8; i++) sc.span_id.bytes[i] = (uint8_t)(0xa0 + i);
  sc.flags = 1;
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("k", "v\"\n"), UVOTEL_ATTR_INT("n", -3)};
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.severity = UVOTEL_SEVERITY_ERROR;
  r.body.type = UVOTEL_VALUE_STRING;
  r.body.u.s = "boom";
  r.attrs = attrs;
  r.n_attrs = 2;
  r.time_unix_ns = 1700000000000000001ull;
  r.observed_unix_ns = 1700000000000000002ull;
  r.context = &sc;
  assert_int_equal(uvotel_log_emit(a, &r), 0);
  uvotel_log_record_options_t r2 = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r2.observed_unix_ns = 5;
  memset(&sc, 0, sizeof sc);
  r2.context = &sc;
  assert_int_equal(uvotel_log_emit(b, &r2), 0);
  r.n_attrs = 0;
  r.severity = UVOTEL_SEVERITY_INFO;
  r.severity_text = "note";
  r.body.u.s = "second";
  assert_int_equal(uvotel_log_emit(a, &r), 0);
}

static const char k_expected_json[] =
    "{\"resourceLogs\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
    "\"stringValue\":\"svc\"}}]},\"scopeLogs\":[{\"scope\":{\"name\":\"a\",\"version\":\"1\"},"
    "\"logRecords\":[{\"timeUnixNano\":\"1700000000000000001\",\"observedTimeUnixNano\":"
    "\"1700000000000000002\",\"severityNumber\":17,\"severityText\":\"ERROR\",\"body\":{"
    "\"stringValue\":\"boom\"},\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":"
    "\"v\\\"\\n\"}},{\"key\":\"n\",\"value\":{\"intValue\":\"-3\"}}],\"flags\":1,\"traceId\":"
    "\"0102030405060708090a0b0c0d0e0f10\",\"spanId\":\"a0a1a2a3a4a5a6a7\"},{\"timeUnixNano\":"
    "\"1700000000000000001\",\"observedTimeUnixNano\":\"1700000000000000002\","
    "\"severityNumber\":9,\"severityText\":\"note\",\"body\":{\"stringValue\":\"second\"}}]},{"
    "\"scope\":{\"name\":\"b\"},\"logRecords\":[{"
    "\"observedTimeUnixNano\":\"5\"}]}]}]}";

static void collect(uvotel_memory_log_exporter_t *m, const uvotel_log_data_t **recs, size_t n) {
  assert_int_equal(uvotel_memory_log_exporter_count(m), n);
  for (size_t i = 0; i < n; i++) recs[i] = uvotel_memory_log_exporter_get(m, i);
}

static void test_json_exact(void **state) {
  (void)state;
  uvotel_memory_log_exporter_t *m;
  uvotel_logger_provider_t *p = fixed_provider(&m);
  emit_fixed(p);
  const uvotel_log_data_t *recs[3];
  collect(m, recs, 3);
  char *buf = NULL;
  size_t cap = 0, len = 0;
  assert_int_equal(uvotel_otlp_json_encode_logs(recs, 3, &buf, &cap, &len), 0);
  assert_int_equal(len, strlen(k_expected_json));
  assert_string_equal(buf, k_expected_json);
  /* bad input */
  assert_int_equal(uvotel_otlp_json_encode_logs(recs, 3, NULL, &cap, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_json_encode_logs(NULL, 1, &buf, &cap, &len), UVOTEL_EINVAL);
  const uvotel_log_data_t *with_null[2] = {recs[0], NULL};
  assert_int_equal(uvotel_otlp_json_encode_logs(with_null, 2, &buf, &cap, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_json_encode_logs(recs, 0, &buf, &cap, &len), 0);
  assert_string_equal(buf, "{\"resourceLogs\":[]}");
  uvotel_free(buf);

  /* the file exporter writes the same object plus a newline */
  char path[] = "/tmp/uvotel-logs-test-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  uvotel_file_log_exporter_options_t fo = UVOTEL_FILE_LOG_EXPORTER_OPTIONS_INIT;
  fo.path = path;
  fo.truncate = 1;
  uvotel_log_exporter_t *fe = uvotel_file_log_exporter_create(&fo);
  assert_int_equal(uvotel_log_exporter_export(fe, recs, 3, 1000), 0);
  assert_int_equal(uvotel_log_exporter_export(fe, recs, 3, 1000), 0);
  assert_int_equal(uvotel_log_exporter_force_flush(fe, 1000), 0);
  uvotel_log_exporter_free(fe);
  FILE *fp = fopen(path, "r");
  static char got[8192];
  size_t gn = fread(got, 1, sizeof got - 1, fp);
  got[gn] = '\0';
  fclose(fp);
  unlink(path);
  char want[8192];
  snprintf(want, sizeof want, "%s\n%s\n", k_expected_json, k_expected_json);
  assert_string_equal(got, want);
  uvotel_logger_provider_free(p);
  uvotel_memory_log_exporter_free(m);
}

/* ---- OTLP protobuf: decoded by protobuf-c from our .proto files ---- */

/* The request decoded by protobuf-c, checked to be exactly what protobuf-c packs for it
 * (fields in ascending order, canonical varints): the same bytes as ours. */
static Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *decode_exact(
    const uint8_t *body, size_t len) {
  Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *q =
      opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(NULL, len,
                                                                                     body);
  assert_non_null(q);
  size_t n2 =
      opentelemetry__proto__collector__logs__v1__export_logs_service_request__get_packed_size(q);
  assert_int_equal(n2, len);
  uint8_t *again = malloc(n2);
  opentelemetry__proto__collector__logs__v1__export_logs_service_request__pack(q, again);
  assert_memory_equal(again, body, len);
  free(again);
  return q;
}

static void test_protobuf(void **state) {
  (void)state;
  uvotel_memory_log_exporter_t *m;
  uvotel_logger_provider_t *p = fixed_provider(&m);
  emit_fixed(p);
  const uvotel_log_data_t *recs[3];
  collect(m, recs, 3);
  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(uvotel_otlp_http_encode_logs(recs, 3, &body, &len), 0);
  Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *q = decode_exact(body, len);
  assert_int_equal(q->n_resource_logs, 1);
  Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = q->resource_logs[0];
  assert_int_equal(rl->resource->n_attributes, 1);
  assert_string_equal(rl->resource->attributes[0]->key, "service.name");
  assert_string_equal(rl->resource->attributes[0]->value->string_value, "svc");
  assert_int_equal(rl->n_scope_logs, 2);
  Opentelemetry__Proto__Logs__V1__ScopeLogs *a = rl->scope_logs[0], *b = rl->scope_logs[1];
  assert_string_equal(a->scope->name, "a");
  assert_string_equal(a->scope->version, "1");
  assert_int_equal(a->n_log_records, 2);
  Opentelemetry__Proto__Logs__V1__LogRecord *r0 = a->log_records[0];
  assert_int_equal(r0->time_unix_nano, 1700000000000000001ull);
  assert_int_equal(r0->observed_time_unix_nano, 1700000000000000002ull);
  assert_int_equal(r0->severity_number, 17);
  assert_string_equal(r0->severity_text, "ERROR");
  assert_string_equal(r0->body->string_value, "boom");
  assert_int_equal(r0->n_attributes, 2);
  assert_int_equal(r0->attributes[1]->value->int_value, -3);
  assert_int_equal(r0->flags, 1);
  assert_int_equal(r0->trace_id.len, 16);
  assert_int_equal(r0->trace_id.data[15], 16);
  assert_int_equal(r0->span_id.len, 8);
  assert_int_equal(r0->span_id.data[0], 0xa0);
  assert_string_equal(a->log_records[1]->body->string_value, "second");
  assert_int_equal(a->log_records[1]->trace_id.len, 0); /* an invalid context: none */
  assert_string_equal(b->scope->name, "b");
  assert_int_equal(b->log_records[0]->observed_time_unix_nano, 5);
  assert_int_equal(b->log_records[0]->trace_id.len, 0);
  assert_null(b->log_records[0]->body);
  opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(q, NULL);
  uvotel_free(body);
  assert_int_equal(uvotel_otlp_http_encode_logs(NULL, 1, &body, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode_logs(recs, 1, NULL, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_encode_logs(recs, 0, &body, &len), 0);
  assert_int_equal(len, 0);
  uvotel_free(body);
  uvotel_logger_provider_free(p);
  uvotel_memory_log_exporter_free(m);
}

/* Array and double bodies and attributes round-trip through protobuf. */
static void test_protobuf_values(void **state) {
  fx_t *f = *state;
  double ds[] = {1.5, -2.25};
  bool bs[] = {true, false};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_DOUBLE_ARRAY("d", ds, 2),
                                UVOTEL_ATTR_BOOL_ARRAY("b", bs, 2), UVOTEL_ATTR_STR("e", "")};
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.body.type = UVOTEL_VALUE_DOUBLE;
  r.body.u.d = 0.0;
  r.attrs = attrs;
  r.n_attrs = 3;
  assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  const uvotel_log_data_t *d = rec(f, 0);
  uint8_t *body;
  size_t len;
  assert_int_equal(uvotel_otlp_http_encode_logs(&d, 1, &body, &len), 0);
  Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *q =
      opentelemetry__proto__collector__logs__v1__export_logs_service_request__unpack(NULL, len,
                                                                                     body);
  assert_non_null(q);
  Opentelemetry__Proto__Logs__V1__LogRecord *lr =
      q->resource_logs[0]->scope_logs[0]->log_records[0];
  assert_int_equal(lr->body->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE);
  assert_int_equal(lr->attributes[0]->value->array_value->n_values, 2);
  assert_true(lr->attributes[0]->value->array_value->values[1]->double_value == -2.25);
  assert_int_equal(lr->attributes[1]->value->array_value->values[0]->bool_value, 1);
  assert_int_equal(lr->attributes[2]->value->value_case,
                   OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE);
  opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(q, NULL);
  uvotel_free(body);
}

/* Ill-formed UTF-8 in a log body, an attribute key or value, a string array element or the
 * severity text reaches the collector repaired, as in spans (each maximal ill-formed subpart
 * one U+FFFD), at the start, in the middle and at the end of a string; in the protobuf
 * encoding and in OTLP/JSON. Valid strings beside them stay byte for byte. */
#define FFFD "\xef\xbf\xbd"
static void test_utf8_repaired(void **state) {
  fx_t *f = *state;
  static const struct {
    const char *in, *want;
  } cases[] = {
      {"\xff"
       "abc",
       FFFD "abc"},                          /* a stray byte at the start */
      {"ab\xc3(d", "ab" FFFD "(d"},          /* a lead byte without its continuation, mid */
      {"abc\xe2\x82", "abc" FFFD},           /* a sequence cut short at the end */
      {"\x80\x80x", FFFD FFFD "x"},          /* two lone continuation bytes */
      {"\xed\xa0\x80!", FFFD FFFD FFFD "!"}, /* a surrogate: each byte a subpart */
      {"ok \xc3\xa9 \xe2\x82\xac", "ok \xc3\xa9 \xe2\x82\xac"}, /* valid: unchanged */
  };
  const size_t nc = sizeof cases / sizeof cases[0];
  for (size_t c = 0; c < nc; c++) {
    const char *arr[] = {"fine", cases[c].in};
    char key[32];
    snprintf(key, sizeof key, "k%s", cases[c].in);
    uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("s", cases[c].in), UVOTEL_ATTR_STR(key, "v"),
                                  UVOTEL_ATTR_STR_ARRAY("a", arr, 2)};
    uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
    r.severity = UVOTEL_SEVERITY_INFO;
    r.severity_text = cases[c].in;
    r.body.type = UVOTEL_VALUE_STRING;
    r.body.u.s = cases[c].in;
    r.attrs = attrs;
    r.n_attrs = 3;
    assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  }
  const uvotel_log_data_t *recs[sizeof cases / sizeof cases[0]];
  for (size_t c = 0; c < nc; c++) recs[c] = rec(f, c);

  uint8_t *body = NULL;
  size_t len = 0;
  assert_int_equal(uvotel_otlp_http_encode_logs(recs, nc, &body, &len), 0);
  Opentelemetry__Proto__Collector__Logs__V1__ExportLogsServiceRequest *q = decode_exact(body, len);
  Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = q->resource_logs[0]->scope_logs[0];
  assert_int_equal(sl->n_log_records, nc);
  for (size_t c = 0; c < nc; c++) {
    Opentelemetry__Proto__Logs__V1__LogRecord *lr = sl->log_records[c];
    char want_key[32];
    snprintf(want_key, sizeof want_key, "k%s", cases[c].want);
    assert_string_equal(lr->body->string_value, cases[c].want);
    assert_string_equal(lr->severity_text, cases[c].want);
    assert_int_equal(lr->n_attributes, 3);
    assert_string_equal(lr->attributes[0]->key, "s");
    assert_string_equal(lr->attributes[0]->value->string_value, cases[c].want);
    assert_string_equal(lr->attributes[1]->key, want_key);
    assert_string_equal(lr->attributes[1]->value->string_value, "v");
    Opentelemetry__Proto__Common__V1__ArrayValue *av = lr->attributes[2]->value->array_value;
    assert_int_equal(av->n_values, 2);
    assert_string_equal(av->values[0]->string_value, "fine");
    assert_string_equal(av->values[1]->string_value, cases[c].want);
  }
  opentelemetry__proto__collector__logs__v1__export_logs_service_request__free_unpacked(q, NULL);
  uvotel_free(body);

  /* OTLP/JSON: the same repair (JSON escapes U+FFFD as \ufffd) */
  char *buf = NULL;
  size_t cap = 0, jlen = 0;
  assert_int_equal(uvotel_otlp_json_encode_logs(&recs[0], 1, &buf, &cap, &jlen), 0);
  assert_non_null(strstr(buf, "\"body\":{\"stringValue\":\"\\ufffdabc\"}"));
  assert_non_null(strstr(buf, "\"severityText\":\"\\ufffdabc\""));
  assert_non_null(strstr(buf, "{\"key\":\"k\\ufffdabc\",\"value\":{\"stringValue\":\"v\"}}"));
  assert_null(memchr(buf, 0xff, jlen));
  uvotel_free(buf);
}
#undef FFFD

/* ---- console ---- */

static void test_console(void **state) {
  fx_t *f = *state;
  char *out = NULL;
  size_t outn = 0;
  FILE *s = open_memstream(&out, &outn);
  uvotel_console_log_exporter_options_t co = {s};
  uvotel_log_exporter_t *ce = uvotel_console_log_exporter_create(&co);
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_INT("n", 3)};
  uvotel_log_attrs(f->l, UVOTEL_SEVERITY_WARN, attrs, 1, "disk %s", "full");
  const uvotel_log_data_t *d = rec(f, 0);
  assert_int_equal(uvotel_log_exporter_export(ce, &d, 1, 100), 0);
  uvotel_log_exporter_free(ce);
  fclose(s);
  assert_non_null(strstr(out, "WARN   disk full {n = 3} (test)\n"));
  assert_int_equal(out[4], '-');
  free(out);
}

/* ---- the body formatter does what printf does ---- */

#define CHECK_FMT(f, ...)                                      \
  do {                                                         \
    char want[4096];                                           \
    snprintf(want, sizeof want, f, __VA_ARGS__);               \
    assert_int_equal(uvotel_log(fx->l, 9, f, __VA_ARGS__), 0); \
    assert_string_equal(rec(fx, idx)->body.u.s, want);         \
    assert_int_equal(rec(fx, idx)->body.len, strlen(want));    \
    idx++;                                                     \
  } while (0)

static void test_format(void **state) {
  fx_t *fx = *state;
  size_t idx = 0;
  char longs[600];
  memset(longs, 'y', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  const char *volatile nulv = NULL; /* opaque to the format checker */
  const char *nul = nulv;
  CHECK_FMT("%d %i %u %x", 0, INT32_MIN, -1, 0xbeefu);
  CHECK_FMT("%ld %lu %lld %llu", LONG_MIN, ULONG_MAX, LLONG_MIN, ULLONG_MAX);
  CHECK_FMT("%zu %zd %c%c %%%s", (size_t)SIZE_MAX, (ssize_t)-7, 'o', 'k', "!");
  CHECK_FMT("[%s] %s", nul, "");
  CHECK_FMT("%s|%s", longs, longs); /* beyond the inline storage: vsnprintf, grown */
  CHECK_FMT("%5d|%-3s|%.2f|%p", 42, "a", 1.0 / 3, (void *)fx); /* not fast: vsnprintf */
  CHECK_FMT("%lx %llx %s", 0xfffffffful, 0x123456789abcdefull, "end");
  CHECK_FMT("%s", "100%");
}

/* ---- severity ---- */

static void test_severity(void **state) {
  (void)state;
  assert_string_equal(uvotel_severity_name(0), "");
  assert_string_equal(uvotel_severity_name(1), "TRACE");
  assert_string_equal(uvotel_severity_name(24), "FATAL4");
  assert_string_equal(uvotel_severity_name(25), "");
  assert_string_equal(uvotel_severity_name(-1), "");
  assert_int_equal(uvotel_severity_parse("error", 5), 17);
  assert_int_equal(uvotel_severity_parse("WARNING", 7), 13);
  assert_int_equal(uvotel_severity_parse("Warn", 4), 13);
  assert_int_equal(uvotel_severity_parse("notice", 6), 10);
  assert_int_equal(uvotel_severity_parse("crit", 4), 21);
  assert_int_equal(uvotel_severity_parse("INFO3", 5), 11);
  assert_int_equal(uvotel_severity_parse("errorx", 6), 0);
  assert_int_equal(uvotel_severity_parse("err", 2), 0);
  assert_int_equal(uvotel_severity_parse(NULL, 3), 0);
  assert_int_equal(uvotel_severity_parse("info", 0), 0);
}

/* ---- environment ---- */

static void clear_env(void) {
  unsetenv("OTEL_LOGS_EXPORTER");
  unsetenv("OTEL_BLRP_SCHEDULE_DELAY");
  unsetenv("OTEL_BLRP_MAX_QUEUE_SIZE");
  unsetenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE");
  unsetenv("OTEL_BLRP_EXPORT_TIMEOUT");
  unsetenv("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT");
  unsetenv("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT");
  unsetenv("OTEL_ATTRIBUTE_COUNT_LIMIT");
  unsetenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT");
  unsetenv("OTEL_SERVICE_NAME");
  unsetenv("OTEL_SDK_DISABLED");
  unsetenv("OTEL_EXPORTER_FILE_LOGS_PATH");
}

static int g_diag_parse;
static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)level, (void)msg, (void)arg;
  if (code == UVOTEL_EPARSE || code == UVOTEL_EINVAL) g_diag_parse++;
}

static const char *res_value(const uvotel_trace_resource_t *r, const char *key) {
  for (size_t i = 0; i < r->n_attrs; i++) {
    if (strcmp(r->attrs[i].key, key) == 0) return r->attrs[i].value.u.s;
  }
  return NULL;
}

static void test_env(void **state) {
  fx_t *f = *state;
  clear_env();
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  /* none: no processor, records accepted and discarded; limits from the environment */
  setenv("OTEL_LOGS_EXPORTER", "none", 1);
  setenv("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "3", 1);
  setenv("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "10", 1);
  setenv("OTEL_SERVICE_NAME", "env-svc", 1);
  uvotel_logger_provider_t *p = uvotel_logger_provider_from_env();
  assert_non_null(p);
  assert_int_equal(uvotel_logger_provider_limits(p).attribute_count, 3);
  assert_int_equal(uvotel_logger_provider_limits(p).attribute_value_length, 10);
  assert_string_equal(res_value(uvotel_logger_provider_resource(p), "service.name"), "env-svc");
  uvotel_logger_t *l = uvotel_logger_get(p, "x", NULL);
  assert_int_equal(uvotel_logger_enabled(l, UVOTEL_SEVERITY_INFO), 0);
  assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "dropped quietly"), 0);
  uvotel_logger_provider_free(p);

  /* bad values are said and the defaults used; the file exporter by default */
  char path[] = "/tmp/uvotel-logs-env-XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  unsetenv("OTEL_LOGS_EXPORTER");
  setenv("OTEL_EXPORTER_FILE_LOGS_PATH", path, 1);
  setenv("OTEL_BLRP_MAX_QUEUE_SIZE", "lots", 1);
  setenv("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "0", 1);
  setenv("OTEL_BLRP_SCHEDULE_DELAY", "10", 1);
  g_diag_parse = 0;
  uvotel_logger_provider_options_t base = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  base.loop = &f->loop;
  uvotel_tracer_provider_options_t to = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  to.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *tp = uvotel_tracer_provider_create(&to);
  base.tracer_provider = tp;
  p = uvotel_logger_provider_from_env_with(&base);
  assert_int_equal(g_diag_parse, 2);
  /* the resource is the tracer provider's */
  assert_ptr_equal(uvotel_logger_provider_resource(p), uvotel_tracer_provider_resource(tp));
  l = uvotel_logger_get(p, "x", NULL);
  assert_int_equal(uvotel_logger_enabled(l, UVOTEL_SEVERITY_INFO), 1);
  uvotel_log(l, UVOTEL_SEVERITY_INFO, "to the file");
  assert_int_equal(uvotel_logger_provider_force_flush(p, 5000), 0);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  uvotel_logger_provider_free(p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_tracer_provider_free(tp);
  FILE *fp = fopen(path, "r");
  char line[4096] = "";
  assert_non_null(fgets(line, sizeof line, fp));
  fclose(fp);
  unlink(path);
  assert_non_null(strstr(line, "\"body\":{\"stringValue\":\"to the file\"}"));
  assert_non_null(strstr(line, "{\"resourceLogs\":[{\"resource\":{\"attributes\":["));

  /* disabled */
  setenv("OTEL_SDK_DISABLED", "true", 1);
  p = uvotel_logger_provider_from_env();
  assert_int_equal(uvotel_logger_enabled(uvotel_logger_get(p, "x", NULL), 9), 0);
  uvotel_logger_provider_free(p);
  clear_env();
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_WARN);
}

/* ---- loggers ---- */

static void test_loggers(void **state) {
  fx_t *f = *state;
  assert_ptr_equal(uvotel_logger_get(f->p, "test", "1.0"), f->l);
  uvotel_logger_t *o = uvotel_logger_get(f->p, "test", NULL);
  assert_ptr_not_equal(o, f->l);
  uvotel_logger_t *s = uvotel_logger_get_with_schema(f->p, "test", "1.0", "https://s");
  assert_ptr_not_equal(s, f->l);
  assert_string_equal(uvotel_logger_scope(s)->schema_url, "https://s");
  assert_ptr_equal(uvotel_logger_get_provider(s), f->p);
  uvotel_logger_t *e = uvotel_logger_get(f->p, NULL, NULL);
  assert_string_equal(uvotel_logger_scope(e)->name, "");
  assert_null(uvotel_logger_get(NULL, "x", NULL));
  assert_null(uvotel_logger_scope(NULL));
  assert_null(uvotel_logger_get_provider(NULL));
  assert_int_equal(uvotel_logger_enabled(NULL, 9), 0);
  assert_int_equal(uvotel_logger_enabled(f->l, 9), 1);
}

/* ---- bad input of every public function ---- */

static int noop_export(void *self, const uvotel_log_data_t *const *recs, size_t n, uint64_t t) {
  (void)self, (void)recs, (void)n, (void)t;
  return 0;
}
static uvotel_log_exporter_t *bad_factory(const char *name, void *arg) {
  (void)name, (void)arg;
  return NULL;
}

static int g_async_calls, g_async_result;
static void async_done(void *arg, int result, size_t rejected) {
  (void)arg, (void)rejected;
  g_async_calls++;
  g_async_result = result;
}

static void test_bad_input(void **state) {
  fx_t *f = *state;
  va_list none;
  (void)none;
  assert_int_equal(uvotel_log(NULL, 9, "x"), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_attrs(NULL, 9, NULL, 0, "x"), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_emit(NULL, NULL), UVOTEL_EINVAL);
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  assert_int_equal(uvotel_log_emit(NULL, &r), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_emit(f->l, NULL), UVOTEL_EINVAL);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#pragma GCC diagnostic ignored "-Wformat"
  const char *nullfmt = NULL;
  assert_int_equal(uvotel_log(f->l, 9, nullfmt), UVOTEL_EINVAL);
#pragma GCC diagnostic pop
  /* severity out of range: UNSPECIFIED, counted */
  assert_int_equal(uvotel_log(f->l, 99, "x"), 0);
  assert_int_equal(rec(f, 0)->severity, 0);
  r.severity = -4;
  assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  assert_int_equal(rec(f, 1)->severity, 0);
  /* bad attributes and bodies are dropped, counted; the record still goes */
  uvotel_attribute_t bad[] = {{NULL, {UVOTEL_VALUE_INT, 0, {.i = 1}}},
                              {"", {UVOTEL_VALUE_INT, 0, {.i = 1}}},
                              {"t", {(uvotel_value_type_t)77, 0, {.i = 1}}},
                              {"s", {UVOTEL_VALUE_STRING, 0, {.s = NULL}}},
                              UVOTEL_ATTR_INT("good", 1)};
  assert_int_equal(uvotel_log_attrs(f->l, 9, bad, 5, "attrs"), 0);
  const uvotel_log_data_t *d = rec(f, 2);
  assert_int_equal(d->n_attrs, 1);
  assert_string_equal(d->attrs[0].key, "good");
  assert_int_equal(d->dropped_attributes, 1); /* the NULL string */
  assert_int_equal(uvotel_log_attrs(f->l, 9, NULL, 3, "null attrs"), 0);
  r.severity = 9;
  r.body.type = UVOTEL_VALUE_STRING;
  r.body.u.s = NULL;
  assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  assert_int_equal(rec(f, 4)->body.type, UVOTEL_VALUE_NONE);
  uvotel_log_counters_t c;
  assert_int_equal(uvotel_logger_provider_counters(f->p, &c), 0);
  assert_true(c.misuse >= 7);
  assert_true(uvotel_log_data_retain(NULL) == NULL);
  uvotel_log_data_release(NULL);

  /* provider functions */
  assert_int_equal(uvotel_logger_provider_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_logger_provider_shutdown(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_logger_provider_counters(NULL, &c), UVOTEL_EINVAL);
  assert_int_equal(uvotel_logger_provider_counters(f->p, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_logger_provider_resource(NULL));
  uvotel_logger_provider_free(NULL);
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.n_processors = 1;
  assert_null(uvotel_logger_provider_create(&o));
  uvotel_log_processor_t *procs[2] = {
      uvotel_simple_log_processor_create(uvotel_file_log_exporter_create(NULL)), NULL};
  o.processors = procs;
  o.n_processors = 2;
  assert_null(uvotel_logger_provider_create(&o)); /* the first is freed: no leak */

  /* shutdown: twice, and emits after */
  assert_int_equal(uvotel_logger_provider_shutdown(f->p, 100), 0);
  assert_int_equal(uvotel_logger_provider_shutdown(f->p, 100), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_log(f->l, 9, "late"), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_logger_enabled(f->l, 9), 0);
  uvotel_logger_provider_counters(f->p, &c);
  assert_int_equal(c.after_shutdown, 1);

  /* exporters */
  static const uvotel_log_exporter_ops_t no_export = {.export_logs = NULL};
  static const uvotel_log_exporter_ops_t ok_ops = {.export_logs = noop_export};
  assert_null(uvotel_log_exporter_create(NULL, NULL));
  assert_null(uvotel_log_exporter_create(&no_export, NULL));
  assert_int_equal(uvotel_log_exporter_export(NULL, NULL, 0, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_shutdown(NULL, 0), UVOTEL_EINVAL);
  assert_null(uvotel_log_exporter_self(NULL));
  uvotel_log_exporter_free(NULL);
  uvotel_log_exporter_t *e = uvotel_log_exporter_create(&ok_ops, f);
  assert_ptr_equal(uvotel_log_exporter_self(e), f);
  assert_int_equal(uvotel_log_exporter_export(e, NULL, 1, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_export(e, NULL, 0, 0), 0);
  assert_int_equal(uvotel_log_exporter_force_flush(e, 0), 0);
  assert_int_equal(uvotel_log_exporter_shutdown(e, 0), 0);
  assert_int_equal(uvotel_log_exporter_shutdown(e, 0), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_log_exporter_force_flush(e, 0), UVOTEL_ESHUTDOWN);
  d = rec(f, 0);
  assert_int_equal(uvotel_log_exporter_export(e, &d, 1, 0), UVOTEL_ESHUTDOWN);
  uvotel_log_exporter_free(e);

  /* asynchronous export: a synchronous exporter completes at once, on this thread */
  e = uvotel_log_exporter_create(&ok_ops, NULL);
  g_async_calls = 0;
  uvotel_export_completion_t comp = {async_done, NULL};
  d = rec(f, 0);
  assert_int_equal(uvotel_log_exporter_export_async(e, &d, 1, 100, &comp), 0);
  assert_int_equal(g_async_calls, 1);
  assert_int_equal(g_async_result, 0);
  assert_int_equal(uvotel_log_exporter_export_async(e, NULL, 0, 100, &comp), 0);
  assert_int_equal(g_async_calls, 2);
  assert_int_equal(uvotel_log_exporter_export_async(NULL, &d, 1, 100, &comp), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_export_async(e, &d, 1, 100, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_export_async(e, NULL, 1, 100, &comp), UVOTEL_EINVAL);
  uvotel_export_completion_t no_done = {NULL, NULL};
  assert_int_equal(uvotel_log_exporter_export_async(e, &d, 1, 100, &no_done), UVOTEL_EINVAL);
  uvotel_log_exporter_shutdown(e, 0);
  assert_int_equal(uvotel_log_exporter_export_async(e, &d, 1, 100, &comp), UVOTEL_ESHUTDOWN);
  assert_int_equal(g_async_calls, 2); /* refused: done never called */
  uvotel_log_exporter_free(e);

  /* registry */
  assert_int_equal(uvotel_log_exporter_register(NULL, bad_factory, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_register("", bad_factory, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_register("x", NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(
      uvotel_log_exporter_register("a-name-that-is-far-too-long-for-the-table", bad_factory, NULL),
      UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_exporter_register("bad", bad_factory, NULL), 0);
  assert_null(uvotel_log_exporter_create_by_name("bad"));
  assert_null(uvotel_log_exporter_create_by_name("never-registered"));
  assert_null(uvotel_log_exporter_create_by_name(NULL));
  uvotel_log_exporter_t *fe = uvotel_log_exporter_create_by_name("file");
  assert_non_null(fe);
  uvotel_log_exporter_free(fe);

  /* processors */
  static const uvotel_log_processor_ops_t no_emit = {.on_emit = NULL};
  assert_null(uvotel_log_processor_create(NULL, NULL));
  assert_null(uvotel_log_processor_create(&no_emit, NULL));
  assert_null(uvotel_simple_log_processor_create(NULL));
  assert_null(uvotel_batch_log_processor_create(NULL, NULL));
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.max_queue_size = 0;
  assert_null(uvotel_batch_log_processor_create(uvotel_log_exporter_create(&ok_ops, NULL), &bo));
  bo.max_queue_size = 8;
  bo.max_export_batch_size = 0;
  assert_null(uvotel_batch_log_processor_create(uvotel_log_exporter_create(&ok_ops, NULL), &bo));
  assert_int_equal(uvotel_log_processor_force_flush(NULL, 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_processor_shutdown(NULL, 0), UVOTEL_EINVAL);
  uvotel_log_processor_counters_t pc;
  assert_int_equal(uvotel_log_processor_counters(NULL, &pc), UVOTEL_EINVAL);
  uvotel_log_processor_free(NULL);
  uvotel_log_processor_t *sp =
      uvotel_simple_log_processor_create(uvotel_log_exporter_create(&ok_ops, NULL));
  assert_int_equal(uvotel_log_processor_counters(sp, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_log_processor_shutdown(sp, 0), 0);
  assert_int_equal(uvotel_log_processor_shutdown(sp, 0), UVOTEL_ESHUTDOWN);
  assert_int_equal(uvotel_log_processor_force_flush(sp, 0), UVOTEL_ESHUTDOWN);
  uvotel_log_processor_free(sp);

  /* memory exporter */
  assert_null(uvotel_memory_log_exporter_exporter(NULL));
  assert_int_equal(uvotel_memory_log_exporter_count(NULL), 0);
  assert_null(uvotel_memory_log_exporter_get(NULL, 0));
  assert_null(uvotel_memory_log_exporter_get(f->mem, 1000));
  assert_null(uvotel_memory_log_exporter_exporter(f->mem)); /* handed out already */
  assert_int_equal(uvotel_memory_log_exporter_export_calls(NULL), 0);
  assert_int_equal(uvotel_memory_log_exporter_dropped(NULL), 0);
  uvotel_memory_log_exporter_fail_next(NULL, 1, 0);
  uvotel_memory_log_exporter_reset(NULL);
  uvotel_memory_log_exporter_free(NULL);

  /* OTLP */
  assert_int_equal(uvotel_otlp_http_log_exporter_create(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_http_log_exporter_stats(NULL, NULL), UVOTEL_EINVAL);
  uvotel_otlp_http_options_t oo = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  oo.endpoint = "";
  uvotel_log_exporter_t *oe = NULL;
  assert_int_equal(uvotel_otlp_http_log_exporter_create(&oo, &oe), UVOTEL_EINVAL);
  assert_null(oe);
}

/* A memory exporter failing its exports: the simple processor counts them failed. */

/* The logs signal has its own attribute copy and does not take byte arrays, kvlists or empty
 * values yet: they are dropped and counted as misuse (attributes and body); the record goes. */
static void test_log_new_value_types_refused(void **state) {
  fx_t *f = *state;
  uvotel_log_counters_t c0, c1;
  assert_int_equal(uvotel_logger_provider_counters(f->p, &c0), 0);
  uvotel_attribute_t inner[] = {UVOTEL_ATTR_INT("i", 1)};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_BYTES("b", (const uint8_t *)"ab", 2),
                                UVOTEL_ATTR_KVLIST("m", inner, 1), UVOTEL_ATTR_EMPTY("e"),
                                UVOTEL_ATTR_INT("good", 1)};
  assert_int_equal(uvotel_log_attrs(f->l, 9, attrs, 4, "new types"), 0);
  const uvotel_log_data_t *d = rec(f, 0);
  assert_int_equal(d->n_attrs, 1);
  assert_string_equal(d->attrs[0].key, "good");
  assert_int_equal(uvotel_logger_provider_counters(f->p, &c1), 0);
  assert_int_equal(c1.misuse, c0.misuse + 3);
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.severity = 9;
  r.body.type = UVOTEL_VALUE_BYTES;
  r.body.len = 2;
  r.body.u.bytes = (const uint8_t *)"ab";
  assert_int_equal(uvotel_log_emit(f->l, &r), 0);
  assert_int_equal(rec(f, 1)->body.type, UVOTEL_VALUE_NONE);
  assert_int_equal(uvotel_logger_provider_counters(f->p, &c0), 0);
  assert_int_equal(c0.misuse, c1.misuse + 1);
}

static void test_simple_failures(void **state) {
  fx_t *f = *state;
  uvotel_memory_log_exporter_fail_next(f->mem, 2, UVOTEL_EIO);
  uvotel_log(f->l, 9, "a");
  uvotel_log(f->l, 9, "b");
  uvotel_log(f->l, 9, "c");
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(f->p, &c);
  assert_int_equal(c.failed, 2);
  assert_int_equal(c.exported, 1);
  assert_int_equal(uvotel_memory_log_exporter_count(f->mem), 1);
  assert_int_equal(uvotel_memory_log_exporter_export_calls(f->mem), 3);
}

/* The simple log processor's loss rules (the simple span processor shares its code, with
 * other rules: test_exporters test_simple_span_losses): every failed export counts failed,
 * UVOTEL_EBUSY too; force_flush returns the exporter's result (0), the loss being in the
 * counters and the diagnostics; a record emitted after shutdown counts dropped. */
static void test_simple_log_losses(void **state) {
  fx_t *f = *state;
  uvotel_memory_log_exporter_t *m = uvotel_memory_log_exporter_create(0);
  uvotel_log_processor_t *pr =
      uvotel_simple_log_processor_create(uvotel_memory_log_exporter_exporter(m));
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &pr;
  o.n_processors = 1;
  o.loop = &f->loop;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  uvotel_logger_t *l = uvotel_logger_get(p, "losses", NULL);
  uvotel_log(l, 9, "ok");
  uvotel_memory_log_exporter_fail_next(m, 1, UVOTEL_EBUSY);
  uvotel_log(l, 9, "busy");
  uvotel_log_processor_counters_t c;
  assert_int_equal(uvotel_log_processor_counters(pr, &c), 0);
  assert_int_equal(c.failed, 1);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(uvotel_log_processor_force_flush(pr, 100), 0);
  uvotel_memory_log_exporter_fail_next(m, 1, UVOTEL_EIO);
  uvotel_log(l, 9, "fails");
  assert_int_equal(uvotel_log_processor_counters(pr, &c), 0);
  assert_int_equal(c.failed, 2);
  assert_int_equal(c.exported, 1);
  assert_int_equal(uvotel_log_processor_force_flush(pr, 100), 0);
  /* the processor shut down, the provider not: the record reaches it and counts dropped */
  assert_int_equal(uvotel_log_processor_shutdown(pr, 100), 0);
  uvotel_log(l, 9, "late");
  assert_int_equal(uvotel_log_processor_counters(pr, &c), 0);
  assert_int_equal(c.received, 4);
  assert_int_equal(c.exported, 1);
  assert_int_equal(c.failed, 2);
  assert_int_equal(c.dropped, 1);
  assert_int_equal(c.batches, 3);
  assert_int_equal(c.received, c.exported + c.dropped + c.failed);
  assert_int_equal(c.queued, 0);
  assert_int_equal(c.in_flight, 0);
  assert_int_equal(uvotel_memory_log_exporter_count(m), 1);
  assert_int_equal(uvotel_memory_log_exporter_export_calls(m), 3);
  uvotel_logger_provider_free(p);
  uvotel_memory_log_exporter_free(m);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_log_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_current_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_structured, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_pool_exhausted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_zero_alloc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_dead_exporter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_exact, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protobuf, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protobuf_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_utf8_repaired, setup, teardown),
      cmocka_unit_test_setup_teardown(test_console, setup, teardown),
      cmocka_unit_test_setup_teardown(test_format, setup, teardown),
      cmocka_unit_test_setup_teardown(test_severity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_loggers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_simple_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(test_simple_log_losses, setup, teardown),
      cmocka_unit_test_setup_teardown(test_log_new_value_types_refused, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
