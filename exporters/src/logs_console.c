/* The console log exporter: one readable line per record. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "exporters_internal.h"
#include "uvotel/exporters/logs.h"

static void format_record(ubuf_t *b, const uvotel_log_data_t *d) {
  uint64_t t = d->time_unix_ns != 0 ? d->time_unix_ns : d->observed_unix_ns;
  time_t s = (time_t)(t / 1000000000u);
  struct tm tm;
  gmtime_r(&s, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  ubuf_printf(b, "%s.%06uZ %-6s", ts, (unsigned)(t % 1000000000u / 1000u),
              d->severity_text[0] != '\0' ? d->severity_text : "-");
  if (!uvotel_trace_id_is_zero(&d->trace_id)) {
    char th[33], sh[17];
    ubuf_printf(b, " trace=%s span=%s", uvotel_trace_id_to_hex(&d->trace_id, th),
                uvotel_span_id_to_hex(&d->span_id, sh));
  }
  ubuf_putc(b, ' ');
  if (d->body.type == UVOTEL_VALUE_STRING) {
    ubuf_put(b, d->body.u.s, d->body.len);
  } else if (d->body.type != UVOTEL_VALUE_NONE) {
    uvotel__console_value(b, &d->body);
  }
  uvotel__console_attrs(b, d->attrs, d->n_attrs);
  if (d->scope != NULL && d->scope->name[0] != '\0') ubuf_printf(b, " (%s)", d->scope->name);
  ubuf_putc(b, '\n');
}

static int console_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                          uint64_t timeout_ms) {
  (void)timeout_ms;
  ubuf_t *b = uvotel__console_begin(self);
  for (size_t i = 0; i < n; i++) format_record(b, recs[i]);
  return uvotel__console_end(self);
}

static const uvotel_log_exporter_ops_t g_console_ops = {.export_logs = console_export,
                                                        .free = uvotel__console_free};

UVOTEL__API uvotel_log_exporter_t *uvotel_console_log_exporter_create(
    const uvotel_console_log_exporter_options_t *opts) {
  uvotel__console_t *c = uvotel__console_create(opts != NULL ? opts->stream : NULL);
  if (c == NULL) return NULL;
  return uvotel_log_exporter_create(&g_console_ops, c);
}
