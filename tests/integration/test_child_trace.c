/* Context into a child process: this process (the parent) spawns tests/support/child_span_prog
 * under a span with the "process" automatic spans on; both export over OTLP/HTTP to the same
 * loopback receiver. One trace: parent span -> "spawn child_span_prog" -> the child's root
 * span (its parent is the spawn span, remote). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_receiver.h"
#include "uvotel.h"
#include "uvotel/exporters/file.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

typedef struct seen_s {
  char name[64];
  uint8_t trace_id[16], span_id[8], parent[8];
  int has_parent;
} seen_t;

static seen_t g_seen[8];
static size_t g_nseen;

static void collect(void *arg, const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                    const Opentelemetry__Proto__Trace__V1__Span *span) {
  (void)arg, (void)rs, (void)ss;
  if (g_nseen >= 8) return;
  seen_t *s = &g_seen[g_nseen++];
  snprintf(s->name, sizeof s->name, "%s", span->name);
  if (span->trace_id.len == 16) memcpy(s->trace_id, span->trace_id.data, 16);
  if (span->span_id.len == 8) memcpy(s->span_id, span->span_id.data, 8);
  s->has_parent = span->parent_span_id.len == 8;
  if (s->has_parent) memcpy(s->parent, span->parent_span_id.data, 8);
}

static const seen_t *find(const char *name) {
  for (size_t i = 0; i < g_nseen; i++) {
    if (strcmp(g_seen[i].name, name) == 0) return &g_seen[i];
  }
  return NULL;
}

static int g_exit = -1;
static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  g_exit = sig != 0 ? 128 + sig : (int)status;
  uvotel_close((uv_handle_t *)p, NULL);
}

static void test_one_trace_across_processes(void **state) {
  (void)state;
  otlp_receiver_t *rx;
  assert_int_equal(otlp_receiver_start(&rx, 0, NULL), 0);
  char url[128];
  otlp_receiver_url(rx, url, sizeof url);
  /* both processes read these: the child inherits them through the carrier's env copy */
  setenv("OTEL_TRACES_EXPORTER", "otlp", 1);
  setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url, 1);
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
  setenv("OTEL_BSP_SCHEDULE_DELAY", "10", 1);
  unsetenv("TRACEPARENT");
  (void)uvotel_exporters_register();

  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = &loop;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_from_env_with(&base);
  assert_non_null(p);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "parent", "1");
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = t;
  o.categories = UVOTEL_INSTRUMENT_PROCESS;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);

  uvotel_span_t *root = uvotel_span_start(t, "parent work", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(root, &sc), 0);
  uv_process_t proc;
  uv_process_options_t po;
  memset(&po, 0, sizeof po);
  char *args[] = {CHILD_SPAN_PROG, NULL};
  po.file = CHILD_SPAN_PROG;
  po.args = args;
  po.exit_cb = on_exit_cb;
  uv_stdio_container_t stdio[3];
  memset(stdio, 0, sizeof stdio);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 1;
  stdio[2].data.fd = 2;
  po.stdio = stdio;
  po.stdio_count = 3;
  assert_int_equal(uvotel_spawn(&loop, &proc, &po), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_exit, 0);
  uvotel_span_end(root);
  uvotel_auto_spans_disable();
  assert_int_equal(uvotel_tracer_provider_shutdown(p, 5000), 0);
  uvotel_tracer_provider_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  (void)uvotel_loop_close(&loop);
  assert_int_equal(uv_loop_close(&loop), 0);

  assert_int_equal(otlp_receiver_wait_spans(rx, 3, 5000), 0);
  otlp_receiver_foreach_span(rx, collect, NULL);
  otlp_receiver_stop(rx);
  const seen_t *parent = find("parent work");
  const seen_t *spawn = find("spawn child_span_prog");
  const seen_t *child = find("child work");
  assert_non_null(parent);
  assert_non_null(spawn);
  assert_non_null(child);
  assert_int_equal(g_nseen, 3);
  /* one trace */
  assert_memory_equal(spawn->trace_id, parent->trace_id, 16);
  assert_memory_equal(child->trace_id, parent->trace_id, 16);
  /* parent -> spawn -> child's root span */
  assert_false(parent->has_parent);
  assert_true(spawn->has_parent);
  assert_memory_equal(spawn->parent, parent->span_id, 8);
  assert_true(child->has_parent);
  assert_memory_equal(child->parent, spawn->span_id, 8);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_one_trace_across_processes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
