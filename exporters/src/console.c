/* The console exporter: a readable block per span. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "exporters_internal.h"
#include "uvotel/exporters/console.h"

static void put_value(ubuf_t *b, const uvotel_value_t *v) {
  switch (v->type) {
    case UVOTEL_VALUE_STRING:
      ubuf_printf(b, "\"%s\"", v->u.s);
      return;
    case UVOTEL_VALUE_BOOL:
      ubuf_puts(b, v->u.b ? "true" : "false");
      return;
    case UVOTEL_VALUE_INT:
      ubuf_i64(b, v->u.i);
      return;
    case UVOTEL_VALUE_DOUBLE:
      ubuf_printf(b, "%g", v->u.d);
      return;
    case UVOTEL_VALUE_NONE:
      ubuf_puts(b, "(empty)");
      return;
    case UVOTEL_VALUE_BYTES:
      ubuf_printf(b, "bytes(%" PRIu32 ")[", v->len);
      for (uint32_t i = 0; i < v->len; i++) ubuf_printf(b, "%02x", v->u.bytes[i]);
      ubuf_putc(b, ']');
      return;
    case UVOTEL_VALUE_KVLIST:
      ubuf_putc(b, '{');
      for (uint32_t i = 0; i < v->len; i++) {
        ubuf_printf(b, "%s%s = ", i ? ", " : "", v->u.kv[i].key);
        put_value(b, &v->u.kv[i].value);
      }
      ubuf_putc(b, '}');
      return;
    default:
      break;
  }
  ubuf_putc(b, '[');
  for (uint32_t i = 0; i < v->len; i++) {
    if (i) ubuf_puts(b, ", ");
    switch (v->type) {
      case UVOTEL_VALUE_STRING_ARRAY:
        ubuf_printf(b, "\"%s\"", v->u.sa[i]);
        break;
      case UVOTEL_VALUE_BOOL_ARRAY:
        ubuf_puts(b, v->u.ba[i] ? "true" : "false");
        break;
      case UVOTEL_VALUE_INT_ARRAY:
        ubuf_i64(b, v->u.ia[i]);
        break;
      case UVOTEL_VALUE_DOUBLE_ARRAY:
        ubuf_printf(b, "%g", v->u.da[i]);
        break;
      default:
        break;
    }
  }
  ubuf_putc(b, ']');
}

static void put_attr_list(ubuf_t *b, const uvotel_attribute_t *a, size_t n) {
  if (n == 0) return;
  ubuf_puts(b, " {");
  for (size_t i = 0; i < n; i++) {
    ubuf_printf(b, "%s%s = ", i ? ", " : "", a[i].key);
    put_value(b, &a[i].value);
  }
  ubuf_putc(b, '}');
}

static void format_span(ubuf_t *b, const uvotel_span_data_t *d) {
  char tid[33], sid[17], pid[17];
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  uint64_t start = uvotel_span_data_start_unix_ns(d), end = uvotel_span_data_end_unix_ns(d);
  ubuf_printf(b, "span \"%s\" %s %.3f ms\n", uvotel_span_data_name(d),
              uvotel_span_kind_name(uvotel_span_data_kind(d)), (double)(end - start) / 1e6);
  ubuf_printf(b, "  trace_id %s  span_id %s  flags %02x\n",
              uvotel_trace_id_to_hex(&sc.trace_id, tid), uvotel_span_id_to_hex(&sc.span_id, sid),
              sc.flags);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  if (!uvotel_span_id_is_zero(&parent)) {
    ubuf_printf(b, "  parent   %s%s\n", uvotel_span_id_to_hex(&parent, pid),
                uvotel_span_data_parent_is_remote(d) ? " (remote)" : "");
  } else {
    ubuf_puts(b, "  parent   (root)\n");
  }
  if (sc.trace_state != NULL) {
    ubuf_printf(b, "  state    %s\n", uvotel_trace_state_str(sc.trace_state, NULL));
  }
  time_t secs = (time_t)(start / 1000000000u);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char ts[32];
  strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  ubuf_printf(b, "  start    %s.%09" PRIu64 "Z\n", ts, start % 1000000000u);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  for (size_t i = 0; i < n; i++) {
    ubuf_printf(b, "  attr     %s = ", a[i].key);
    put_value(b, &a[i].value);
    ubuf_putc(b, '\n');
  }
  if (uvotel_span_data_dropped_attributes(d)) {
    ubuf_printf(b, "  dropped  %u attributes\n", uvotel_span_data_dropped_attributes(d));
  }
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  for (size_t i = 0; i < n; i++) {
    ubuf_printf(b, "  event    +%.3f ms \"%s\"",
                (double)(int64_t)(ev[i].time_unix_ns - start) / 1e6, ev[i].name);
    put_attr_list(b, ev[i].attrs, ev[i].n_attrs);
    ubuf_putc(b, '\n');
  }
  const uvotel_link_t *l = uvotel_span_data_links(d, &n);
  for (size_t i = 0; i < n; i++) {
    ubuf_printf(b, "  link     %s/%s", uvotel_trace_id_to_hex(&l[i].context.trace_id, tid),
                uvotel_span_id_to_hex(&l[i].context.span_id, sid));
    put_attr_list(b, l[i].attrs, l[i].n_attrs);
    ubuf_putc(b, '\n');
  }
  const char *msg;
  uvotel_status_code_t code = uvotel_span_data_status(d, &msg);
  if (code != UVOTEL_STATUS_UNSET) {
    ubuf_printf(b, "  status   %s%s%s%s\n", uvotel_status_code_name(code), msg[0] ? " \"" : "", msg,
                msg[0] ? "\"" : "");
  }
  const uvotel_instrumentation_scope_t *scope = uvotel_span_data_scope(d);
  ubuf_printf(b, "  scope    %s%s%s\n", scope->name, scope->version[0] ? " " : "", scope->version);
}

UVOTEL__API int uvotel_console_format_span(const uvotel_span_data_t *d, char *buf, size_t cap) {
  if (d == NULL || (buf == NULL && cap > 0)) return UVOTEL_EINVAL;
  ubuf_t b = {NULL, 0, 0, 0};
  format_span(&b, d);
  if (b.failed) {
    uvotel_free(b.p);
    return UVOTEL_ENOMEM;
  }
  if (cap > 0) {
    size_t k = b.len < cap - 1 ? b.len : cap - 1;
    memcpy(buf, b.p, k);
    buf[k] = '\0';
  }
  int len = (int)b.len;
  uvotel_free(b.p);
  return len;
}

uvotel__console_t *uvotel__console_create(FILE *stream) {
  uvotel__console_t *c = uvotel_calloc(1, sizeof *c);
  if (c != NULL) c->stream = stream;
  return c;
}

ubuf_t *uvotel__console_begin(uvotel__console_t *c) {
  c->buf.len = 0;
  c->buf.failed = 0;
  return &c->buf;
}

int uvotel__console_end(uvotel__console_t *c) {
  if (c->buf.failed) return UVOTEL_ENOMEM;
  FILE *out = c->stream != NULL ? c->stream : stdout;
  if (fwrite(c->buf.p, 1, c->buf.len, out) != c->buf.len) return UVOTEL_EIO;
  fflush(out);
  return 0;
}

void uvotel__console_free(void *self) {
  uvotel__console_t *c = self;
  uvotel_free(c->buf.p);
  uvotel_free(c);
}

static int console_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                          uint64_t timeout_ms) {
  (void)timeout_ms;
  ubuf_t *b = uvotel__console_begin(self);
  for (size_t i = 0; i < n; i++) format_span(b, spans[i]);
  return uvotel__console_end(self);
}

static const uvotel_span_exporter_ops_t g_console_ops = {.export_spans = console_export,
                                                         .free = uvotel__console_free};

UVOTEL__API uvotel_span_exporter_t *uvotel_console_exporter_create(
    const uvotel_console_exporter_options_t *opts) {
  uvotel__console_t *c = uvotel__console_create(opts != NULL ? opts->stream : NULL);
  if (c == NULL) return NULL;
  return uvotel_span_exporter_create(&g_console_ops, c);
}

/* For the log console exporter (logs_console.c): the same attribute list. */
void uvotel__console_attrs(ubuf_t *b, const uvotel_attribute_t *a, size_t n) {
  put_attr_list(b, a, n);
}
void uvotel__console_value(ubuf_t *b, const uvotel_value_t *v) {
  put_value(b, v);
}
