/* The file exporter: OTLP/JSON, one ExportTraceServiceRequest per line. Grouping and UTF-8
 * repair are shared with the protobuf encoder (encoding.h): invalid UTF-8 becomes U+FFFD. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "exporters_internal.h"
#include "uvotel/exporters/file.h"

/* ---- JSON pieces ---- */

static void put_json_string(ubuf_t *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (ubuf_reserve(b, n + 2) != 0) return;
  ubuf_putc(b, '"');
  size_t start = 0, i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0x80) {
      /* a valid UTF-8 sequence passes; each ill-formed subpart becomes one U+FFFD */
      size_t len = uvotel__utf8_seq_len(s + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
      ubuf_put(b, s + start, i - start);
      ubuf_put(b, "\\ufffd", 6);
      i += uvotel__utf8_bad_len(s + i, n - i);
      start = i;
      continue;
    }
    ubuf_put(b, s + start, i - start);
    switch (c) {
      case '"':
        ubuf_put(b, "\\\"", 2);
        break;
      case '\\':
        ubuf_put(b, "\\\\", 2);
        break;
      case '\n':
        ubuf_put(b, "\\n", 2);
        break;
      case '\r':
        ubuf_put(b, "\\r", 2);
        break;
      case '\t':
        ubuf_put(b, "\\t", 2);
        break;
      default: {
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        ubuf_put(b, e, 6);
      }
    }
    i++;
    start = i;
  }
  ubuf_put(b, s + start, n - start);
  ubuf_putc(b, '"');
}

static void put_str(ubuf_t *b, const char *s) {
  put_json_string(b, s, strlen(s));
}

static void put_hex(ubuf_t *b, const uint8_t *bytes, size_t n) {
  static const char hex[] = "0123456789abcdef";
  char tmp[34];
  tmp[0] = '"';
  for (size_t i = 0; i < n; i++) {
    tmp[1 + 2 * i] = hex[bytes[i] >> 4];
    tmp[2 + 2 * i] = hex[bytes[i] & 15];
  }
  tmp[1 + 2 * n] = '"';
  ubuf_put(b, tmp, 2 * n + 2);
}

static void put_double(ubuf_t *b, double d) {
  if (isnan(d)) {
    ubuf_puts(b, "\"NaN\"");
  } else if (isinf(d)) {
    ubuf_puts(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  } else {
    ubuf_printf(b, "%.17g", d);
  }
}

static void put_scalar(ubuf_t *b, uvotel_value_type_t t, const uvotel_value_t *v, size_t i) {
  switch (t) {
    case UVOTEL_VALUE_STRING:
      ubuf_puts(b, "{\"stringValue\":");
      if (v->type == UVOTEL_VALUE_STRING) {
        put_json_string(b, v->u.s, v->len);
      } else {
        put_str(b, v->u.sa[i]);
      }
      break;
    case UVOTEL_VALUE_BOOL:
      ubuf_puts(b, "{\"boolValue\":");
      ubuf_puts(b, (v->type == UVOTEL_VALUE_BOOL ? v->u.b : v->u.ba[i]) ? "true" : "false");
      break;
    case UVOTEL_VALUE_INT:
      ubuf_puts(b, "{\"intValue\":\"");
      ubuf_i64(b, v->type == UVOTEL_VALUE_INT ? v->u.i : v->u.ia[i]);
      ubuf_putc(b, '"');
      break;
    case UVOTEL_VALUE_DOUBLE:
      ubuf_puts(b, "{\"doubleValue\":");
      put_double(b, v->type == UVOTEL_VALUE_DOUBLE ? v->u.d : v->u.da[i]);
      break;
    default:
      ubuf_putc(b, '{');
      break;
  }
  ubuf_putc(b, '}');
}

/* RFC 4648 standard base64 with padding, quoted (OTLP/JSON bytesValue). */
static void put_base64(ubuf_t *b, const uint8_t *p, size_t n) {
  static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  ubuf_putc(b, '"');
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
    char q[4] = {tab[w >> 18], tab[(w >> 12) & 63], tab[(w >> 6) & 63], tab[w & 63]};
    ubuf_put(b, q, 4);
  }
  if (i < n) {
    uint32_t w = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
    char q[4] = {tab[w >> 18], tab[(w >> 12) & 63], i + 1 < n ? tab[(w >> 6) & 63] : '=', '='};
    ubuf_put(b, q, 4);
  }
  ubuf_putc(b, '"');
}

static void put_value(ubuf_t *b, const uvotel_value_t *v) {
  uvotel_value_type_t el;
  switch (v->type) {
    case UVOTEL_VALUE_BYTES:
      ubuf_puts(b, "{\"bytesValue\":");
      put_base64(b, v->u.bytes, v->len);
      ubuf_putc(b, '}');
      return;
    case UVOTEL_VALUE_KVLIST:
      /* nesting was bounded when the value was copied */
      ubuf_puts(b, "{\"kvlistValue\":{");
      if (v->len > 0) {
        ubuf_puts(b, "\"values\":[");
        for (uint32_t i = 0; i < v->len; i++) {
          if (i) ubuf_putc(b, ',');
          ubuf_puts(b, "{\"key\":");
          put_str(b, v->u.kv[i].key);
          ubuf_puts(b, ",\"value\":");
          put_value(b, &v->u.kv[i].value);
          ubuf_putc(b, '}');
        }
        ubuf_putc(b, ']');
      }
      ubuf_puts(b, "}}");
      return;
    case UVOTEL_VALUE_STRING_ARRAY:
      el = UVOTEL_VALUE_STRING;
      break;
    case UVOTEL_VALUE_BOOL_ARRAY:
      el = UVOTEL_VALUE_BOOL;
      break;
    case UVOTEL_VALUE_INT_ARRAY:
      el = UVOTEL_VALUE_INT;
      break;
    case UVOTEL_VALUE_DOUBLE_ARRAY:
      el = UVOTEL_VALUE_DOUBLE;
      break;
    default:
      put_scalar(b, v->type, v, 0);
      return;
  }
  ubuf_puts(b, "{\"arrayValue\":{");
  if (v->len > 0) {
    ubuf_puts(b, "\"values\":[");
    for (uint32_t i = 0; i < v->len; i++) {
      if (i) ubuf_putc(b, ',');
      put_scalar(b, el, v, i);
    }
    ubuf_putc(b, ']');
  }
  ubuf_puts(b, "}}");
}

/* ,"attributes":[...] (nothing when empty), then droppedAttributesCount when non-zero. */
static void put_attrs(ubuf_t *b, const uvotel_attribute_t *a, size_t n, uint32_t dropped,
                      int first) {
  if (n > 0) {
    ubuf_puts(b, first ? "\"attributes\":[" : ",\"attributes\":[");
    for (size_t i = 0; i < n; i++) {
      if (i) ubuf_putc(b, ',');
      ubuf_puts(b, "{\"key\":");
      put_str(b, a[i].key);
      ubuf_puts(b, ",\"value\":");
      put_value(b, &a[i].value);
      ubuf_putc(b, '}');
    }
    ubuf_putc(b, ']');
    first = 0;
  }
  if (dropped) {
    ubuf_puts(b, first ? "\"droppedAttributesCount\":" : ",\"droppedAttributesCount\":");
    ubuf_u64(b, dropped);
  }
}

static void put_trace_state(ubuf_t *b, const uvotel_trace_state_t *ts) {
  if (ts == NULL) return;
  size_t len = 0;
  const char *s = uvotel_trace_state_str(ts, &len);
  if (s == NULL || len == 0) return;
  ubuf_puts(b, ",\"traceState\":");
  put_json_string(b, s, len);
}

static void put_span(ubuf_t *b, const uvotel_span_data_t *d) {
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  ubuf_puts(b, "{\"traceId\":");
  put_hex(b, sc.trace_id.bytes, 16);
  ubuf_puts(b, ",\"spanId\":");
  put_hex(b, sc.span_id.bytes, 8);
  put_trace_state(b, sc.trace_state);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  if (!uvotel_span_id_is_zero(&parent)) {
    ubuf_puts(b, ",\"parentSpanId\":");
    put_hex(b, parent.bytes, 8);
  }
  /* Span.flags: trace flags in bits 0-7, bit 8 = "is_remote known", bit 9 = parent is remote */
  uint32_t flags = sc.flags | 0x100u | (uvotel_span_data_parent_is_remote(d) ? 0x200u : 0);
  ubuf_puts(b, ",\"flags\":");
  ubuf_u64(b, flags);
  ubuf_puts(b, ",\"name\":");
  put_str(b, uvotel_span_data_name(d));
  ubuf_puts(b, ",\"kind\":");
  ubuf_u64(b, (uint64_t)uvotel_span_data_kind(d));
  ubuf_puts(b, ",\"startTimeUnixNano\":\"");
  ubuf_u64(b, uvotel_span_data_start_unix_ns(d));
  ubuf_puts(b, "\",\"endTimeUnixNano\":\"");
  ubuf_u64(b, uvotel_span_data_end_unix_ns(d));
  ubuf_putc(b, '"');
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  put_attrs(b, a, n, uvotel_span_data_dropped_attributes(d), 0);
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  if (n > 0) {
    ubuf_puts(b, ",\"events\":[");
    for (size_t i = 0; i < n; i++) {
      if (i) ubuf_putc(b, ',');
      ubuf_puts(b, "{\"timeUnixNano\":\"");
      ubuf_u64(b, ev[i].time_unix_ns);
      ubuf_puts(b, "\",\"name\":");
      put_str(b, ev[i].name);
      put_attrs(b, ev[i].attrs, ev[i].n_attrs, ev[i].dropped_attributes, 0);
      ubuf_putc(b, '}');
    }
    ubuf_putc(b, ']');
  }
  if (uvotel_span_data_dropped_events(d)) {
    ubuf_puts(b, ",\"droppedEventsCount\":");
    ubuf_u64(b, uvotel_span_data_dropped_events(d));
  }
  const uvotel_link_t *l = uvotel_span_data_links(d, &n);
  if (n > 0) {
    ubuf_puts(b, ",\"links\":[");
    for (size_t i = 0; i < n; i++) {
      if (i) ubuf_putc(b, ',');
      ubuf_puts(b, "{\"traceId\":");
      put_hex(b, l[i].context.trace_id.bytes, 16);
      ubuf_puts(b, ",\"spanId\":");
      put_hex(b, l[i].context.span_id.bytes, 8);
      put_trace_state(b, l[i].context.trace_state);
      put_attrs(b, l[i].attrs, l[i].n_attrs, l[i].dropped_attributes, 0);
      ubuf_puts(b, ",\"flags\":");
      ubuf_u64(b, l[i].context.flags | 0x100u | (l[i].context.is_remote ? 0x200u : 0));
      ubuf_putc(b, '}');
    }
    ubuf_putc(b, ']');
  }
  if (uvotel_span_data_dropped_links(d)) {
    ubuf_puts(b, ",\"droppedLinksCount\":");
    ubuf_u64(b, uvotel_span_data_dropped_links(d));
  }
  const char *msg;
  uvotel_status_code_t code = uvotel_span_data_status(d, &msg);
  if (code != UVOTEL_STATUS_UNSET || msg[0] != '\0') {
    ubuf_puts(b, ",\"status\":{");
    int first = 1;
    if (msg[0] != '\0') {
      ubuf_puts(b, "\"message\":");
      put_str(b, msg);
      first = 0;
    }
    if (code != UVOTEL_STATUS_UNSET) {
      ubuf_puts(b, first ? "\"code\":" : ",\"code\":");
      ubuf_u64(b, (uint64_t)code);
    }
    ubuf_putc(b, '}');
  }
  ubuf_putc(b, '}');
}

/* The request: the grouping walk shared with the protobuf encoder (groups.c). */
static int encode(const uvotel_span_data_t *const *spans, size_t n, ubuf_t *b) {
  uvotel__span_groups_t g;
  int rc = uvotel__span_groups_build(&g, spans, n);
  if (rc != 0) return rc;
  b->len = 0;
  ubuf_puts(b, "{\"resourceSpans\":[");
  for (size_t r = 0; r < g.n_res; r++) {
    const uvotel_trace_resource_t *res = g.res[r].res;
    if (r) ubuf_putc(b, ',');
    ubuf_puts(b, "{\"resource\":{");
    put_attrs(b, res->attrs, res->n_attrs, res->dropped_attributes, 1);
    ubuf_puts(b, "},\"scopeSpans\":[");
    for (uint32_t k = g.res[r].first; k < g.res[r].first + g.res[r].n; k++) {
      const uvotel_instrumentation_scope_t *sc = g.scopes[k].scope;
      if (k != g.res[r].first) ubuf_putc(b, ',');
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
      put_attrs(b, sc->attrs, sc->n_attrs, 0, f);
      ubuf_puts(b, "},\"spans\":[");
      for (uint32_t m = g.scopes[k].first; m < g.scopes[k].first + g.scopes[k].n; m++) {
        if (m != g.scopes[k].first) ubuf_putc(b, ',');
        put_span(b, g.order[m]);
      }
      ubuf_putc(b, ']');
      if (sc->schema_url[0] != '\0') {
        ubuf_puts(b, ",\"schemaUrl\":");
        put_str(b, sc->schema_url);
      }
      ubuf_putc(b, '}');
    }
    ubuf_putc(b, ']');
    if (res->schema_url[0] != '\0') {
      ubuf_puts(b, ",\"schemaUrl\":");
      put_str(b, res->schema_url);
    }
    ubuf_putc(b, '}');
  }
  ubuf_puts(b, "]}");
  uvotel__span_groups_free(&g);
  return b->failed ? UVOTEL_ENOMEM : 0;
}

UVOTEL__API int uvotel_otlp_json_encode(const uvotel_span_data_t *const *spans, size_t n,
                                        char **buf, size_t *cap, size_t *len) {
  if (buf == NULL || cap == NULL || len == NULL) return UVOTEL_EINVAL;
  ubuf_t b = {*buf, 0, *cap, 0};
  int rc = encode(spans, n, &b);
  *buf = b.p;
  *cap = b.cap;
  *len = rc == 0 ? b.len : 0;
  return rc;
}

/* ---- the file sink both file exporters are (exporters_internal.h) ---- */

uvotel__file_sink_t *uvotel__file_sink_create(const char *what, const char *items, const char *path,
                                              const char *env, const char *default_path,
                                              int truncate, int fsync) {
  if (path == NULL) path = uvotel_env_get(env);
  if (path == NULL || *path == '\0') path = default_path;
  uvotel__file_sink_t *f = uvotel_calloc(1, sizeof *f);
  if (f == NULL) return NULL;
  f->path = uvotel_strdup(path);
  if (f->path == NULL) {
    uvotel_free(f);
    return NULL;
  }
  f->what = what;
  f->announce = items;
  f->fd = -1;
  f->truncate = truncate;
  f->fsync = fsync;
  return f;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int uvotel__file_begin(uvotel__file_sink_t *f) {
  if (f->announce != NULL) {
    /* A relative path is relative to the working directory now, which may not be the one the
     * program started in (kresd chdirs to its rundir before its first libuv call): say it. */
    char cwd[4096];
    int rel = f->path[0] != '/' && getcwd(cwd, sizeof cwd) != NULL;
    uvotel_diag(UVOTEL_DIAG_INFO, 0, "%s: writing %s (OTLP/JSON lines) to %s%s%s%s", f->what,
                f->announce, f->path, rel ? " (in " : "", rel ? cwd : "", rel ? ")" : "");
    f->announce = NULL; /* once (exports are serialised) */
  }
  if (f->fd < 0) {
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (f->truncate ? O_TRUNC : 0);
    f->fd = open(f->path, flags, 0644);
    if (f->fd < 0) {
      int err = -errno;
      uvotel_diag(UVOTEL_DIAG_ERROR, err, "%s: cannot open %s", f->what, f->path);
      return err;
    }
  }
  f->buf.failed = 0;
  return 0;
}

int uvotel__file_end(uvotel__file_sink_t *f, int encode_rc) {
  if (encode_rc != 0) return encode_rc;
  ubuf_putc(&f->buf, '\n');
  if (f->buf.failed) return UVOTEL_ENOMEM;
  int rc = write_all(f->fd, f->buf.p, f->buf.len);
  if (rc == 0 && f->fsync) fdatasync(f->fd);
  if (rc != 0) uvotel_diag(UVOTEL_DIAG_ERROR, rc, "%s: write to %s failed", f->what, f->path);
  /* do not keep a huge buffer after an unusually large batch */
  if (f->buf.cap > (1u << 22)) {
    uvotel_free(f->buf.p);
    f->buf.p = NULL;
    f->buf.cap = 0;
  }
  return rc;
}

int uvotel__file_flush(void *self, uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel__file_sink_t *f = self;
  if (f->fd >= 0 && f->fsync) fdatasync(f->fd);
  return 0;
}

int uvotel__file_shutdown(void *self, uint64_t timeout_ms) {
  uvotel__file_sink_t *f = self;
  uvotel__file_flush(self, timeout_ms);
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  return 0;
}

void uvotel__file_free(void *self) {
  uvotel__file_sink_t *f = self;
  if (f->fd >= 0) close(f->fd);
  uvotel_free(f->buf.p);
  uvotel_free(f->path);
  uvotel_free(f);
}

/* ---- the exporter ---- */

static int file_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                       uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel__file_sink_t *f = self;
  int rc = uvotel__file_begin(f);
  return rc != 0 ? rc : uvotel__file_end(f, encode(spans, n, &f->buf));
}

static const uvotel_span_exporter_ops_t g_file_ops = {.export_spans = file_export,
                                                      .force_flush = uvotel__file_flush,
                                                      .shutdown = uvotel__file_shutdown,
                                                      .free = uvotel__file_free};

UVOTEL__API uvotel_span_exporter_t *uvotel_file_exporter_create(
    const uvotel_file_exporter_options_t *opts) {
  static const uvotel_file_exporter_options_t defaults = UVOTEL_FILE_EXPORTER_OPTIONS_INIT;
  if (opts == NULL) opts = &defaults;
  uvotel__file_sink_t *f =
      uvotel__file_sink_create("file exporter", "spans", opts->path, "OTEL_EXPORTER_FILE_PATH",
                               UVOTEL_FILE_EXPORTER_DEFAULT_PATH, opts->truncate, opts->fsync);
  return f != NULL ? uvotel_span_exporter_create(&g_file_ops, f) : NULL;
}

/* ---- the same JSON pieces for the logs encoder (logs_file.c) ---- */

void uvotel__json_string(ubuf_t *b, const char *s, size_t n) {
  put_json_string(b, s, n);
}
void uvotel__json_hex(ubuf_t *b, const uint8_t *bytes, size_t n) {
  put_hex(b, bytes, n);
}
void uvotel__json_value(ubuf_t *b, const uvotel_value_t *v) {
  put_value(b, v);
}
void uvotel__json_attrs(ubuf_t *b, const uvotel_attribute_t *a, size_t n, uint32_t dropped,
                        int first) {
  put_attrs(b, a, n, dropped, first);
}
