/* Local exporters: memory, console, file (OTLP/JSON lines) and the provider's default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/console.h>
#include <uvotel/exporters/file.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
  char dir[256];
} fx_t;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  snprintf(f->dir, sizeof f->dir, "%s/exp-test-XXXXXX", UVOTEL_BINARY_DIR);
  assert_non_null(mkdtemp(f->dir));
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->p != NULL) uvotel_tracer_provider_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_memory_exporter_free(f->mem);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static void mem_provider(fx_t *f) {
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_attribute_t ra[] = {UVOTEL_ATTR_STR("service.name", "svc")};
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.resource_attrs = ra;
  o.n_resource_attrs = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE | UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "lib", "0.9");
}

/* One span with every kind of field, with fixed ids and times. */
static uint64_t g_ids;
static void fixed_trace(void *self, uvotel_trace_id_t *out) {
  (void)self;
  for (int i = 0; i < 16; i++) out->bytes[i] = (uint8_t)(0x10 + i);
}
static void fixed_span(void *self, uvotel_span_id_t *out) {
  (void)self;
  memset(out, 0, sizeof *out);
  out->bytes[0] = 0xab;
  out->bytes[7] = (uint8_t)++g_ids;
}
static const uvotel_id_generator_ops_t g_fixed = {
    .trace_id = fixed_trace, .span_id = fixed_span, .random_trace_ids = 1};

static void rich_spans(fx_t *f) {
  g_ids = 0;
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_attribute_t ra[] = {UVOTEL_ATTR_STR("service.name", "svc")};
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.resource_attrs = ra;
  o.n_resource_attrs = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE | UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  o.id_generator = &g_fixed;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "lib", "0.9");
  uvotel_tracer_t *t2 = uvotel_tracer_get(f->p, "other", NULL);
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  so.start_unix_ns = 1700000000000000000ull;
  uvotel_span_t *root = uvotel_span_start(f->t, "GET \"/x\"\n", &so);
  const char *tags[] = {"a", "b\\"};
  int64_t nums[] = {-9007199254740993ll, 2};
  double ds[] = {0.5};
  bool bs[] = {true, false};
  uvotel_attribute_t attrs[] = {
      UVOTEL_ATTR_STR("s", "v\x01"),         UVOTEL_ATTR_INT("i", 42),
      UVOTEL_ATTR_DOUBLE("d", 1.25),         UVOTEL_ATTR_BOOL("b", true),
      UVOTEL_ATTR_STR_ARRAY("sa", tags, 2),  UVOTEL_ATTR_INT_ARRAY("ia", nums, 2),
      UVOTEL_ATTR_DOUBLE_ARRAY("da", ds, 1), UVOTEL_ATTR_BOOL_ARRAY("ba", bs, 2),
      UVOTEL_ATTR_STR("bad-utf8", "x\xff")};
  uvotel_span_set_attributes(root, attrs, sizeof attrs / sizeof attrs[0]);
  uvotel_attribute_t ea[] = {UVOTEL_ATTR_STR("exception.type", "E")};
  uvotel_span_add_event_at(root, "exception", 1700000000000000500ull, ea, 1);
  uvotel_span_set_status(root, UVOTEL_STATUS_ERROR, "boom");
  so.kind = UVOTEL_SPAN_KIND_CLIENT;
  so.parent_span = root;
  uvotel_span_t *child = uvotel_span_start(t2, "child", &so);
  uvotel_link_t link = {uvotel_span_context(root), ea, 1, 0};
  uvotel_span_add_link(child, &link);
  uvotel_span_end_at(child, 1700000000000002000ull);
  uvotel_span_end_at(root, 1700000000000003000ull);
}

static char *encode_all(fx_t *f, size_t *len) {
  const uvotel_span_data_t *spans[8];
  size_t n = uvotel_memory_exporter_count(f->mem);
  for (size_t i = 0; i < n; i++) spans[i] = uvotel_memory_exporter_get(f->mem, i);
  char *buf = NULL;
  size_t cap = 0;
  assert_int_equal(uvotel_otlp_json_encode(spans, n, &buf, &cap, len), 0);
  return buf;
}

static void test_otlp_json(void **state) {
  fx_t *f = *state;
  rich_spans(f);
  size_t len;
  char *json = encode_all(f, &len);
  assert_int_equal(strlen(json), len);
  /* the whole request, exactly: spans grouped by resource then scope, OTLP/JSON mapping */
  const char *want =
      "{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":{"
      "\"stringValue\":\"svc\"}}]},\"scopeSpans\":["
      "{\"scope\":{\"name\":\"other\"},\"spans\":[{\"traceId\":"
      "\"101112131415161718191a1b1c1d1e1f\","
      "\"spanId\":\"ab00000000000002\",\"parentSpanId\":\"ab00000000000001\",\"flags\":259,"
      "\"name\":\"child\",\"kind\":3,\"startTimeUnixNano\":\"1700000000000000000\","
      "\"endTimeUnixNano\":\"1700000000000002000\",\"links\":[{\"traceId\":"
      "\"101112131415161718191a1b1c1d1e1f\",\"spanId\":\"ab00000000000001\",\"attributes\":[{"
      "\"key\":\"exception.type\",\"value\":{\"stringValue\":\"E\"}}],\"flags\":259}]}]},"
      "{\"scope\":{\"name\":\"lib\",\"version\":\"0.9\"},\"spans\":[{\"traceId\":"
      "\"101112131415161718191a1b1c1d1e1f\",\"spanId\":\"ab00000000000001\",\"flags\":259,"
      "\"name\":\"GET \\\"/x\\\"\\n\",\"kind\":2,\"startTimeUnixNano\":\"1700000000000000000\","
      "\"endTimeUnixNano\":\"1700000000000003000\",\"attributes\":["
      "{\"key\":\"s\",\"value\":{\"stringValue\":\"v\\u0001\"}},"
      "{\"key\":\"i\",\"value\":{\"intValue\":\"42\"}},"
      "{\"key\":\"d\",\"value\":{\"doubleValue\":1.25}},"
      "{\"key\":\"b\",\"value\":{\"boolValue\":true}},"
      "{\"key\":\"sa\",\"value\":{\"arrayValue\":{\"values\":[{\"stringValue\":\"a\"},{"
      "\"stringValue\":\"b\\\\\"}]}}},"
      "{\"key\":\"ia\",\"value\":{\"arrayValue\":{\"values\":[{\"intValue\":\"-9007199254740993\"},"
      "{\"intValue\":\"2\"}]}}},"
      "{\"key\":\"da\",\"value\":{\"arrayValue\":{\"values\":[{\"doubleValue\":0.5}]}}},"
      "{\"key\":\"ba\",\"value\":{\"arrayValue\":{\"values\":[{\"boolValue\":true},{\"boolValue\":"
      "false}]}}},"
      "{\"key\":\"bad-utf8\",\"value\":{\"stringValue\":\"x\\ufffd\"}}],"
      "\"events\":[{\"timeUnixNano\":\"1700000000000000500\",\"name\":\"exception\","
      "\"attributes\":[{\"key\":\"exception.type\",\"value\":{\"stringValue\":\"E\"}}]}],"
      "\"status\":{\"message\":\"boom\",\"code\":2}}]}]}]}";
  assert_string_equal(json, want);
  uvotel_free(json);

  /* bad input */
  char *buf = NULL;
  size_t cap = 0;
  assert_int_equal(uvotel_otlp_json_encode(NULL, 1, &buf, &cap, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_json_encode(NULL, 0, NULL, &cap, &len), UVOTEL_EINVAL);
  const uvotel_span_data_t *nul[1] = {NULL};
  assert_int_equal(uvotel_otlp_json_encode(nul, 1, &buf, &cap, &len), UVOTEL_EINVAL);
  assert_int_equal(uvotel_otlp_json_encode(NULL, 0, &buf, &cap, &len), 0);
  assert_string_equal(buf, "{\"resourceSpans\":[]}");
  uvotel_free(buf);
}

static char *slurp(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) return NULL;
  static char data[1 << 16];
  size_t n = fread(data, 1, sizeof data - 1, fp);
  data[n] = '\0';
  fclose(fp);
  return data;
}

static void test_file_exporter(void **state) {
  fx_t *f = *state;
  char path[400];
  snprintf(path, sizeof path, "%s/out.jsonl", f->dir);
  uvotel_file_exporter_options_t fo = UVOTEL_FILE_EXPORTER_OPTIONS_INIT;
  fo.path = path;
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.max_export_batch_size = 2;
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_file_exporter_create(&fo), &bo);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "file", NULL);
  for (int i = 0; i < 5; i++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "line", NULL);
    uvotel_span_set_attribute_int(s, "i", i);
    uvotel_span_end(s);
  }
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 10000), 0);
  char *data = slurp(path);
  assert_non_null(data);
  int lines = 0;
  for (char *c = data; *c; c++) lines += *c == '\n';
  assert_int_equal(lines, 3); /* batches of 2, 2, 1: one request per line */
  assert_non_null(strstr(data, "{\"resourceSpans\":[{\"resource\":{\"attributes\":["));
  assert_non_null(strstr(data, "\"intValue\":\"4\""));
  assert_non_null(strstr(data, "\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"c\"}"));
  assert_non_null(strstr(data, "\"scope\":{\"name\":\"file\"}"));

  /* an unwritable path: export fails and is counted, never crashes */
  uvotel_file_exporter_options_t bad = UVOTEL_FILE_EXPORTER_OPTIONS_INIT;
  snprintf(path, sizeof path, "%s/no/such/dir/x.jsonl", f->dir);
  bad.path = path;
  uvotel_span_exporter_t *e = uvotel_file_exporter_create(&bad);
  uvotel_tracer_provider_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  mem_provider(f);
  uvotel_span_end(uvotel_span_start(f->t, "x", NULL));
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  assert_true(uvotel_span_exporter_export(e, &d, 1, 0) < 0);
  uvotel_span_exporter_free(e);
}

/* No configuration at all: the provider writes uvotel-traces.jsonl in the working directory. */
static void test_default_file(void **state) {
  fx_t *f = *state;
  char cwd[512];
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(f->dir), 0);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "default", NULL);
  uvotel_span_end(uvotel_span_start(f->t, "to-the-default-file", NULL));
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 10000), 0);
  char *data = slurp(UVOTEL_FILE_EXPORTER_DEFAULT_PATH);
  assert_int_equal(chdir(cwd), 0);
  assert_non_null(data);
  assert_non_null(strstr(data, "\"name\":\"to-the-default-file\""));
  assert_int_equal(uvotel_exporters_register(), 0);
}

static void test_console(void **state) {
  fx_t *f = *state;
  rich_spans(f);
  const uvotel_span_data_t *root = uvotel_memory_exporter_get(f->mem, 1);
  char buf[2048];
  int n = uvotel_console_format_span(root, buf, sizeof buf);
  assert_true(n > 0 && (size_t)n < sizeof buf);
  assert_non_null(strstr(buf, "span \"GET \"/x\"\n\" SERVER 0.003 ms\n"));
  assert_non_null(
      strstr(buf, "trace_id 101112131415161718191a1b1c1d1e1f  span_id ab00000000000001"));
  assert_non_null(strstr(buf, "  parent   (root)\n"));
  assert_non_null(strstr(buf, "  start    2023-11-14T22:13:20.000000000Z\n"));
  assert_non_null(strstr(buf, "  attr     i = 42\n"));
  assert_non_null(strstr(buf, "  attr     sa = [\"a\", \"b\\\"]\n"));
  assert_non_null(strstr(buf, "  event    +0.001 ms \"exception\" {exception.type = \"E\"}\n"));
  assert_non_null(strstr(buf, "  status   ERROR \"boom\"\n"));
  assert_non_null(strstr(buf, "  scope    lib 0.9\n"));
  const uvotel_span_data_t *child = uvotel_memory_exporter_get(f->mem, 0);
  n = uvotel_console_format_span(child, buf, sizeof buf);
  assert_non_null(strstr(buf, "  parent   ab00000000000001\n"));
  assert_non_null(strstr(buf, "  link     101112131415161718191a1b1c1d1e1f/ab00000000000001"));
  /* truncation reports the needed size */
  char small[8];
  int need = uvotel_console_format_span(child, small, sizeof small);
  assert_int_equal(need, n);
  assert_int_equal(strlen(small), 7);
  assert_int_equal(uvotel_console_format_span(NULL, buf, sizeof buf), UVOTEL_EINVAL);
  assert_int_equal(uvotel_console_format_span(child, NULL, 5), UVOTEL_EINVAL);
  assert_int_equal(uvotel_console_format_span(child, NULL, 0), n);

  /* the exporter writes the same blocks to its stream */
  char path[400];
  snprintf(path, sizeof path, "%s/console.txt", f->dir);
  FILE *fp = fopen(path, "w");
  uvotel_console_exporter_options_t co = {fp};
  uvotel_span_exporter_t *e = uvotel_console_exporter_create(&co);
  const uvotel_span_data_t *both[2] = {child, root};
  assert_int_equal(uvotel_span_exporter_export(e, both, 2, 0), 0);
  uvotel_span_exporter_free(e);
  fclose(fp);
  char *data = slurp(path);
  assert_non_null(strstr(data, "span \"child\" CLIENT 0.002 ms\n"));
  assert_non_null(strstr(data, "  status   ERROR \"boom\"\n"));
}

/* The console shows byte arrays as hex, kvlists as {k = v, ...} (nested) and empty values. */
static void test_console_new_values(void **state) {
  fx_t *f = *state;
  rich_spans(f);
  uvotel_attribute_t inner[] = {UVOTEL_ATTR_INT("i", 7), UVOTEL_ATTR_EMPTY("e")};
  uvotel_attribute_t m[] = {UVOTEL_ATTR_STR("s", "v"), UVOTEL_ATTR_KVLIST("in", inner, 2)};
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_BYTES("b", (const uint8_t *)"\x00\xab\xff", 3),
                                UVOTEL_ATTR_KVLIST("m", m, 2), UVOTEL_ATTR_EMPTY("none")};
  uvotel_span_t *s = uvotel_span_start(f->t, "values", NULL);
  uvotel_span_set_attributes(s, attrs, 3);
  uvotel_span_end(s);
  const uvotel_span_data_t *d =
      uvotel_memory_exporter_get(f->mem, uvotel_memory_exporter_count(f->mem) - 1);
  char buf[2048];
  int n = uvotel_console_format_span(d, buf, sizeof buf);
  assert_true(n > 0 && (size_t)n < sizeof buf);
  assert_non_null(strstr(buf, "  attr     b = bytes(3)[00abff]\n"));
  assert_non_null(strstr(buf, "  attr     m = {s = \"v\", in = {i = 7, e = (empty)}}\n"));
  assert_non_null(strstr(buf, "  attr     none = (empty)\n"));
}

/* f->mem (keeping up to max spans) behind a simple processor, f->p and f->t over it; the
 * processor (owned by f->p). */
static uvotel_span_processor_t *simple_memory_provider(fx_t *f, size_t max) {
  f->mem = uvotel_memory_exporter_create(max);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "m", NULL);
  return sp;
}

static void test_memory(void **state) {
  fx_t *f = *state;
  simple_memory_provider(f, 2);
  for (int i = 0; i < 3; i++) uvotel_span_end(uvotel_span_start(f->t, "s", NULL));
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 2);
  assert_int_equal(uvotel_memory_exporter_dropped(f->mem), 1);
  assert_int_equal(uvotel_memory_exporter_export_calls(f->mem), 3);
  assert_null(uvotel_memory_exporter_get(f->mem, 2));
  uvotel_memory_exporter_fail_next(f->mem, 1, UVOTEL_EIO);
  uvotel_span_end(uvotel_span_start(f->t, "fails", NULL));
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.failed, 1);
  assert_int_equal(c.exported, 3);
  uvotel_memory_exporter_reset(f->mem);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 0);
  uvotel_span_end(uvotel_span_start(f->t, "after-reset", NULL));
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 1);
  /* the store outlives the provider; its spans stay readable */
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_false(uvotel_memory_exporter_is_shutdown(NULL));
  assert_true(uvotel_memory_exporter_is_shutdown(f->mem));
  assert_string_equal(uvotel_span_data_name(uvotel_memory_exporter_get(f->mem, 0)), "after-reset");
  /* NULLs */
  assert_null(uvotel_memory_exporter_exporter(NULL));
  assert_int_equal(uvotel_memory_exporter_count(NULL), 0);
  assert_null(uvotel_memory_exporter_get(NULL, 0));
  assert_null(uvotel_memory_exporter_find(NULL, "x"));
  assert_null(uvotel_memory_exporter_find(f->mem, NULL));
  assert_int_equal(uvotel_memory_exporter_export_calls(NULL), 0);
  assert_int_equal(uvotel_memory_exporter_dropped(NULL), 0);
  uvotel_memory_exporter_fail_next(NULL, 1, 0);
  uvotel_memory_exporter_reset(NULL);
  uvotel_memory_exporter_free(NULL);
}

/* The simple span processor's loss rules (it shares its code with the simple log processor,
 * which has other rules: test_logs test_simple_log_losses): an export refused with UVOTEL_EBUSY
 * (the exporter's queue full) counts dropped, any other failure failed; force_flush returns
 * UVOTEL_EIO once after each loss, 0 when nothing was lost since; every span received is
 * exported, dropped or failed; after shutdown a span counts dropped. */
static char g_late_msg[256];

static void late_diag(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)arg;
  if (level == UVOTEL_DIAG_WARN && code == UVOTEL_ESHUTDOWN && strstr(msg, "after shutdown"))
    snprintf(g_late_msg, sizeof g_late_msg, "%s", msg);
}

static void test_simple_span_losses(void **state) {
  fx_t *f = *state;
  uvotel_span_processor_t *sp = simple_memory_provider(f, 0);
  uvotel_span_end(uvotel_span_start(f->t, "ok", NULL));
  assert_int_equal(uvotel_span_processor_force_flush(sp, 100), 0);
  uvotel_memory_exporter_fail_next(f->mem, 1, UVOTEL_EBUSY);
  uvotel_span_end(uvotel_span_start(f->t, "busy", NULL));
  uvotel_span_processor_counters_t c;
  assert_int_equal(uvotel_span_processor_counters(sp, &c), 0);
  assert_int_equal(c.dropped, 1);
  assert_int_equal(c.failed, 0);
  assert_int_equal(uvotel_span_processor_force_flush(sp, 100), UVOTEL_EIO);
  assert_int_equal(uvotel_span_processor_force_flush(sp, 100), 0);
  uvotel_memory_exporter_fail_next(f->mem, 1, UVOTEL_EIO);
  uvotel_span_end(uvotel_span_start(f->t, "fails", NULL));
  assert_int_equal(uvotel_span_processor_counters(sp, &c), 0);
  assert_int_equal(c.dropped, 1);
  assert_int_equal(c.failed, 1);
  assert_int_equal(uvotel_span_processor_force_flush(sp, 100), UVOTEL_EIO);
  uvotel_span_end(uvotel_span_start(f->t, "ok2", NULL));
  assert_int_equal(uvotel_span_processor_force_flush(sp, 100), 0);
  assert_int_equal(uvotel_span_processor_counters(sp, &c), 0);
  assert_int_equal(c.received, 4);
  assert_int_equal(c.exported, 2);
  assert_int_equal(c.batches, 4);
  assert_int_equal(c.received, c.exported + c.dropped + c.failed);
  assert_int_equal(c.queued, 0);
  assert_int_equal(c.in_flight, 0);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 2);
  /* after the processor's shutdown: counted dropped, not exported */
  uvotel_span_t *late = uvotel_span_start(f->t, "late", NULL);
  assert_int_equal(uvotel_span_processor_shutdown(sp, 100), 0);
  g_late_msg[0] = '\0';
  uvotel_diag_set_handler(late_diag, NULL, UVOTEL_DIAG_WARN);
  uvotel_span_end(late);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_WARN);
  /* said at the default level when it happens, not only counted */
  assert_non_null(strstr(g_late_msg, "simple span processor: 2 spans dropped so far"));
  assert_int_equal(uvotel_span_processor_counters(sp, &c), 0);
  assert_int_equal(c.received, 5);
  assert_int_equal(c.dropped, 2);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 2);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_otlp_json, setup, teardown),
      cmocka_unit_test_setup_teardown(test_file_exporter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_default_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_console, setup, teardown),
      cmocka_unit_test_setup_teardown(test_console_new_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_simple_span_losses, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
