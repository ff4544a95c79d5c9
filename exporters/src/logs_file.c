/* The log file exporter: OTLP/JSON, one ExportLogsServiceRequest per line. */
#include <stdlib.h>
#include <string.h>

#include "exporters_internal.h"
#include "uvotel/exporters/logs.h"

static void put_str(ubuf_t *b, const char *s) {
  uvotel__json_string(b, s, strlen(s));
}

static void put_record(ubuf_t *b, const uvotel_log_data_t *d) {
  ubuf_putc(b, '{');
  int first = 1;
  if (d->time_unix_ns != 0) {
    ubuf_puts(b, "\"timeUnixNano\":\"");
    ubuf_u64(b, d->time_unix_ns);
    ubuf_putc(b, '"');
    first = 0;
  }
  ubuf_puts(b, first ? "\"observedTimeUnixNano\":\"" : ",\"observedTimeUnixNano\":\"");
  ubuf_u64(b, d->observed_unix_ns);
  ubuf_putc(b, '"');
  if (d->severity != 0) {
    ubuf_puts(b, ",\"severityNumber\":");
    ubuf_u64(b, (uint64_t)d->severity);
  }
  if (d->severity_text[0] != '\0') {
    ubuf_puts(b, ",\"severityText\":");
    put_str(b, d->severity_text);
  }
  if (d->body.type != UVOTEL_VALUE_NONE) {
    ubuf_puts(b, ",\"body\":");
    uvotel__json_value(b, &d->body);
  }
  uvotel__json_attrs(b, d->attrs, d->n_attrs, d->dropped_attributes, 0);
  if (d->trace_flags != 0) {
    ubuf_puts(b, ",\"flags\":");
    ubuf_u64(b, d->trace_flags);
  }
  if (!uvotel_trace_id_is_zero(&d->trace_id)) {
    ubuf_puts(b, ",\"traceId\":");
    uvotel__json_hex(b, d->trace_id.bytes, 16);
    ubuf_puts(b, ",\"spanId\":");
    uvotel__json_hex(b, d->span_id.bytes, 8);
  }
  ubuf_putc(b, '}');
}

static void put_scope(ubuf_t *b, const uvotel_instrumentation_scope_t *sc) {
  ubuf_puts(b, "{\"scope\":{");
  int f = 1;
  if (sc->name[0] != '\0') {
    ubuf_puts(b, "\"name\":");
    put_str(b, sc->name);
    f = 0;
  }
  if (sc->version[0] != '\0') {
    ubuf_puts(b, f ? "\"version\":" : ",\"version\":");
    put_str(b, sc->version);
    f = 0;
  }
  uvotel__json_attrs(b, sc->attrs, sc->n_attrs, 0, f);
  ubuf_puts(b, "},\"logRecords\":[");
}

/* Group by resource, then scope (pointer identity), keeping first-seen order. */
static int encode(const uvotel_log_data_t *const *recs, size_t n, ubuf_t *b) {
  uint8_t stack_done[1024];
  uint8_t *done = n <= sizeof stack_done ? stack_done : uvotel_calloc(n, 1);
  if (done == NULL) return UVOTEL_ENOMEM;
  memset(done, 0, n);
  b->len = 0;
  ubuf_puts(b, "{\"resourceLogs\":[");
  int first_res = 1;
  for (size_t i = 0; i < n; i++) {
    if (done[i]) continue;
    const uvotel_trace_resource_t *res = recs[i]->resource;
    if (!first_res) ubuf_putc(b, ',');
    first_res = 0;
    ubuf_puts(b, "{\"resource\":{");
    if (res != NULL) uvotel__json_attrs(b, res->attrs, res->n_attrs, res->dropped_attributes, 1);
    ubuf_puts(b, "},\"scopeLogs\":[");
    int first_scope = 1;
    for (size_t k = i; k < n; k++) {
      if (done[k] || recs[k]->resource != res) continue;
      const uvotel_instrumentation_scope_t *sc = recs[k]->scope;
      if (!first_scope) ubuf_putc(b, ',');
      first_scope = 0;
      put_scope(b, sc);
      int first_rec = 1;
      for (size_t m = k; m < n; m++) {
        if (done[m] || recs[m]->resource != res || recs[m]->scope != sc) continue;
        if (!first_rec) ubuf_putc(b, ',');
        first_rec = 0;
        put_record(b, recs[m]);
        done[m] = 1;
      }
      ubuf_putc(b, ']');
      if (sc->schema_url[0] != '\0') {
        ubuf_puts(b, ",\"schemaUrl\":");
        put_str(b, sc->schema_url);
      }
      ubuf_putc(b, '}');
    }
    ubuf_putc(b, ']');
    if (res != NULL && res->schema_url[0] != '\0') {
      ubuf_puts(b, ",\"schemaUrl\":");
      put_str(b, res->schema_url);
    }
    ubuf_putc(b, '}');
  }
  ubuf_puts(b, "]}");
  if (done != stack_done) uvotel_free(done);
  return b->failed ? UVOTEL_ENOMEM : 0;
}

UVOTEL__API int uvotel_otlp_json_encode_logs(const uvotel_log_data_t *const *recs, size_t n,
                                             char **buf, size_t *cap, size_t *len) {
  if (buf == NULL || cap == NULL || len == NULL || (recs == NULL && n > 0)) return UVOTEL_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (recs[i] == NULL || recs[i]->scope == NULL) return UVOTEL_EINVAL;
  }
  ubuf_t b = {*buf, 0, *cap, 0};
  int rc = encode(recs, n, &b);
  *buf = b.p;
  *cap = b.cap;
  *len = rc == 0 ? b.len : 0;
  return rc;
}

/* ---- the exporter: the file sink of file.c ---- */

static int file_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                       uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel__file_sink_t *f = self;
  int rc = uvotel__file_begin(f);
  return rc != 0 ? rc : uvotel__file_end(f, encode(recs, n, &f->buf));
}

static const uvotel_log_exporter_ops_t g_file_ops = {.export_logs = file_export,
                                                     .force_flush = uvotel__file_flush,
                                                     .shutdown = uvotel__file_shutdown,
                                                     .free = uvotel__file_free};

UVOTEL__API uvotel_log_exporter_t *uvotel_file_log_exporter_create(
    const uvotel_file_log_exporter_options_t *opts) {
  static const uvotel_file_log_exporter_options_t defaults = UVOTEL_FILE_LOG_EXPORTER_OPTIONS_INIT;
  if (opts == NULL) opts = &defaults;
  /* (read with getenv before: the same, an empty variable meaning unset either way) */
  uvotel__file_sink_t *f = uvotel__file_sink_create(
      "log file exporter", NULL, opts->path, "OTEL_EXPORTER_FILE_LOGS_PATH",
      UVOTEL_FILE_LOG_EXPORTER_DEFAULT_PATH, opts->truncate, opts->fsync);
  return f != NULL ? uvotel_log_exporter_create(&g_file_ops, f) : NULL;
}
