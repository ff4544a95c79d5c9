/* No-code log capture: tests/support/plain_syslog_prog (plain libuv, syslog and stderr, not
 * linked with uvotel) under libuvotel_preload.so with UVOTEL_LOGS=all writes exactly what it
 * writes without it, and its syslog calls and stderr lines become log records correlated with
 * the span current in the callback that logged (the SERVER "tcp accept" span of the
 * connection): in the OTLP/JSON lines file, and over OTLP/HTTP to the loopback receiver. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "otlp_receiver.h"
#include "preload_util.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_preload_logs.d"
#define SPANS TMPDIR "/spans.jsonl"
#define LOGS TMPDIR "/logs.jsonl"

/* Run the program with extra environment entries; its stdout and stderr into *out / *err. */
static int run(const char *const *extra_env, char **out, char **err) {
  char *argv[] = {(char *)PLAIN_SYSLOG_PROG, NULL};
  static const char *const drop[] = {"ASAN_OPTIONS=", NULL};
  char *envp[256];
  prun_env(envp, drop, extra_env);
  *err = NULL;
  return prun_capture(argv, envp, 0, out, err);
}

static const char *str(json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  return v != NULL ? json_string_value(v) : "";
}

static json_t *by_body(json_t *recs, const char *body) {
  size_t i;
  json_t *r;
  json_array_foreach(recs, i, r) {
    if (strcmp(str(json_object_get(r, "body"), "stringValue"), body) == 0) return r;
  }
  return NULL;
}

static const char *attr(json_t *r, const char *key) {
  return span_attr(r, key); /* records' attributes have the spans' shape */
}

static long sev(json_t *r) {
  return (long)json_integer_value(json_object_get(r, "severityNumber"));
}

static const char *k_env_common[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_LOGS=all",
                                     "UVOTEL_INSTRUMENT=all", "OTEL_SERVICE_NAME=plainsys",
                                     "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0",
                                     /* uvotel's own info lines ("sending spans to ...") would
                                      * be added to stderr: the comparison is of the program's */
                                     "OTEL_LOG_LEVEL=warn"};

static void test_syslog_and_stderr_to_file(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(SPANS);
  unlink(LOGS);
  char *out0, *err0, *out1, *err1;
  assert_int_equal(run(NULL, &out0, &err0), 0);
  assert_non_null(strstr(out0, "server read 4\n"));
  const char *env[16];
  size_t n = 0;
  for (size_t i = 0; i < sizeof k_env_common / sizeof k_env_common[0]; i++)
    env[n++] = k_env_common[i];
  env[n++] = "OTEL_TRACES_EXPORTER=file";
  env[n++] = "OTEL_EXPORTER_FILE_PATH=" SPANS;
  env[n++] = "OTEL_LOGS_EXPORTER=file";
  env[n++] = "OTEL_EXPORTER_FILE_LOGS_PATH=" LOGS;
  env[n] = NULL;
  assert_int_equal(run(env, &out1, &err1), 0);
  /* what the program writes reaches its destinations unchanged */
  assert_string_equal(out1, out0);
  assert_string_equal(err1, err0);
  assert_string_equal(err0, "error: handled 4 bytes\npartial line\n[WARN] shutting down\n");
  free(out0), free(err0), free(out1), free(err1);

  json_t *spans = otlp_json_items(SPANS, "resourceSpans", "scopeSpans", "spans", 0);
  json_t *recs = otlp_json_items(LOGS, "resourceLogs", "scopeLogs", "logRecords", 0);
  assert_non_null(spans);
  assert_non_null(recs);
  json_t *acc = NULL;
  size_t i;
  json_t *sp;
  json_array_foreach(spans, i, sp) {
    if (strcmp(str(sp, "name"), "tcp accept") == 0) acc = sp;
  }
  assert_non_null(acc);

  json_t *r = by_body(recs, "request of 4 bytes: No such file or directory");
  assert_non_null(r);
  assert_int_equal(sev(r), 13);
  assert_string_equal(str(r, "severityText"), "warning");
  assert_string_equal(attr(r, "syslog.ident"), "plainsys");
  assert_string_equal(attr(r, "syslog.facility"), "3"); /* LOG_DAEMON */
  assert_string_equal(str(r, "traceId"), str(acc, "traceId"));
  assert_string_equal(str(r, "spanId"), str(acc, "spanId"));

  r = by_body(recs, "error: handled 4 bytes");
  assert_non_null(r);
  assert_int_equal(sev(r), 17);
  assert_string_equal(attr(r, "log.iostream"), "stderr");
  assert_string_equal(str(r, "spanId"), str(acc, "spanId"));

  r = by_body(recs, "partial line"); /* two writes, one record */
  assert_non_null(r);
  assert_int_equal(sev(r), 0);
  assert_string_equal(str(r, "spanId"), str(acc, "spanId"));

  r = by_body(recs, "timer fired"); /* no span current in the timer callback */
  assert_non_null(r);
  assert_int_equal(sev(r), 17);
  assert_string_equal(str(r, "severityText"), "err");
  assert_null(json_object_get(r, "traceId"));

  r = by_body(recs, "[WARN] shutting down");
  assert_non_null(r);
  assert_int_equal(sev(r), 13);
  assert_int_equal(json_array_size(recs), 5);
  json_decref(spans);
  json_decref(recs);
}

/* The same records over OTLP/HTTP: protobuf, decoded by the receiver. */
typedef struct seen_s {
  size_t n, traced;
  uint8_t span_id[8];
} seen_t;

static void on_log(void *arg, const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl,
                   const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl,
                   const Opentelemetry__Proto__Logs__V1__LogRecord *rec) {
  (void)rl, (void)sl;
  seen_t *s = arg;
  s->n++;
  if (rec->span_id.len == 8) {
    if (s->traced > 0) assert_memory_equal(s->span_id, rec->span_id.data, 8); /* one span */
    memcpy(s->span_id, rec->span_id.data, 8);
    s->traced++;
  }
}

static void on_span(void *arg, const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                    const Opentelemetry__Proto__Trace__V1__Span *sp) {
  (void)rs, (void)ss;
  seen_t *s = arg;
  if (strcmp(sp->name, "tcp accept") == 0 && memcmp(sp->span_id.data, s->span_id, 8) == 0) {
    s->n = 1000; /* found */
  }
}

static void test_syslog_over_otlp(void **state) {
  (void)state;
  otlp_receiver_t *rx;
  assert_int_equal(otlp_receiver_start(&rx, 0, NULL), 0);
  char ep[128];
  snprintf(ep, sizeof ep, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d",
           otlp_receiver_port(rx));
  const char *env[16];
  size_t n = 0;
  for (size_t i = 0; i < sizeof k_env_common / sizeof k_env_common[0]; i++)
    env[n++] = k_env_common[i];
  env[n++] = ep;
  env[n++] = "OTEL_TRACES_EXPORTER=otlp";
  env[n++] = "OTEL_LOGS_EXPORTER=otlp";
  env[n] = NULL;
  char *out = NULL, *err = NULL;
  assert_int_equal(run(env, &out, &err), 0);
  assert_string_equal(err, "error: handled 4 bytes\npartial line\n[WARN] shutting down\n");
  free(out), free(err);
  assert_int_equal(otlp_receiver_wait_logs(rx, 5, 5000), 0);
  seen_t s;
  memset(&s, 0, sizeof s);
  otlp_receiver_foreach_log(rx, on_log, &s);
  assert_int_equal(s.n, 5);
  assert_int_equal(s.traced, 3);
  s.n = 0;
  otlp_receiver_foreach_span(rx, on_span, &s);
  assert_int_equal(s.n, 1000); /* the records' span is the exported "tcp accept" span */
  assert_int_equal(otlp_receiver_counts(rx).bad, 0);
  otlp_receiver_stop(rx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_syslog_and_stderr_to_file),
      cmocka_unit_test(test_syslog_over_otlp),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
