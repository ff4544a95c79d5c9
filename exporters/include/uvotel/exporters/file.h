/* The file exporter: OTLP/JSON lines, one ExportTraceServiceRequest object per line, as the
 * OpenTelemetry Collector's file receiver (otlpjsonfile) reads them. The embedded default
 * exporter: with no configuration the provider writes uvotel-traces.jsonl in the working
 * directory.
 *
 * The encoding is the OTLP/JSON mapping of the protobuf messages: lowerCamelCase field names,
 * trace and span ids as lowercase hex, 64-bit integers (times, intValue) as decimal strings,
 * enums (kind, status code) as numbers, default values left out. */
#ifndef UVOTEL_EXPORTERS_FILE_H
#define UVOTEL_EXPORTERS_FILE_H

#include <stddef.h>

#include "uvotel/trace_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

#define UVOTEL_FILE_EXPORTER_DEFAULT_PATH "uvotel-traces.jsonl"

typedef struct uvotel_file_exporter_options_s {
  const char *path; /* NULL: OTEL_EXPORTER_FILE_PATH, else "uvotel-traces.jsonl"; copied */
  int truncate;     /* 1: truncate the file when opening; 0: append */
  int fsync;        /* 1: fdatasync after each batch (slow; for crash safety) */
} uvotel_file_exporter_options_t;

#define UVOTEL_FILE_EXPORTER_OPTIONS_INIT \
  { NULL, 0, 0 }

/* Create a file exporter. The file is opened on the first export (O_APPEND, so several
 * processes may share it: each line is written with one write call). NULL opts: defaults.
 * NULL only when out of memory. Thread: any. */
uvotel_span_exporter_t *uvotel_file_exporter_create(const uvotel_file_exporter_options_t *opts);

/* Encode n spans as one ExportTraceServiceRequest JSON object (no trailing newline), grouped
 * by resource and then by instrumentation scope in first-seen order (the same grouping as
 * uvotel_otlp_http_encode), into the growable buffer *buf of capacity *cap (both may start
 * NULL/0; grown with uvotel_realloc; the caller uvotel_frees *buf). *len gets the length; the
 * buffer is NUL-terminated. Invalid UTF-8 in any string becomes U+FFFD ("\ufffd", one per
 * ill-formed subpart). NULL buf/cap/len, NULL spans with n > 0 or a NULL entry: UVOTEL_EINVAL;
 * memory: UVOTEL_ENOMEM; over 65535 resource/scope groups: UVOTEL_ERANGE. Thread: any. Alloc:
 * the grouping (one block per call) and growing the buffer. */
int uvotel_otlp_json_encode(const uvotel_span_data_t *const *spans, size_t n, char **buf,
                            size_t *cap, size_t *len);

/* Register the "console", "file" and "otlp" exporter factories with the SDK
 * (uvotel_span_exporter_register). Done automatically when the shared library is loaded; call
 * it when linking the static library. Returns 0 or the registry's error. Thread: any. */
int uvotel_exporters_register(void);

#ifdef __cplusplus
}
#endif
#endif
