/* uvotel log exporters: memory (tests), console (people), file (OTLP/JSON lines, one
 * ExportLogsServiceRequest per line: the embedded default, uvotel-logs.jsonl) and OTLP/HTTP
 * (POST {endpoint}/v1/logs, protobuf, optional gzip, the trace exporter's transport, retries
 * and statistics). libuvotel_exporters registers the factories "console", "file" and "otlp" for
 * OTEL_LOGS_EXPORTER when loaded. */
#ifndef UVOTEL_EXPORTERS_LOGS_H
#define UVOTEL_EXPORTERS_LOGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "uvotel/exporters/otlp_http.h"
#include "uvotel/logs_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- memory ---- */

typedef struct uvotel_memory_log_exporter_s uvotel_memory_log_exporter_t;

/* A memory exporter keeping up to max_records records (0: 65536; beyond: counted dropped).
 * The handle stays owned by the caller; uvotel_memory_log_exporter_exporter() gives the exporter
 * object to hand to a processor (which owns that object; the handle and its records stay valid
 * until uvotel_memory_log_exporter_free, which must come after the processor is freed).
 * NULL when out of memory. Thread: any. */
uvotel_memory_log_exporter_t *uvotel_memory_log_exporter_create(size_t max_records);
/* The exporter object (once; a second call returns NULL). NULL m: NULL. */
uvotel_log_exporter_t *uvotel_memory_log_exporter_exporter(uvotel_memory_log_exporter_t *m);
/* Records kept, the i-th (borrowed until reset/free; NULL out of range or NULL m), export calls
 * and records dropped. Thread: any. */
size_t uvotel_memory_log_exporter_count(const uvotel_memory_log_exporter_t *m);
const uvotel_log_data_t *uvotel_memory_log_exporter_get(const uvotel_memory_log_exporter_t *m,
                                                        size_t i);
size_t uvotel_memory_log_exporter_export_calls(const uvotel_memory_log_exporter_t *m);
size_t uvotel_memory_log_exporter_dropped(const uvotel_memory_log_exporter_t *m);
/* The next n exports fail with err (tests of failure counting). */
void uvotel_memory_log_exporter_fail_next(uvotel_memory_log_exporter_t *m, size_t n, int err);
/* Release every kept record. */
void uvotel_memory_log_exporter_reset(uvotel_memory_log_exporter_t *m);
/* Release the records and the handle. NULL: no-op. */
void uvotel_memory_log_exporter_free(uvotel_memory_log_exporter_t *m);

/* ---- console ---- */

typedef struct uvotel_console_log_exporter_options_s {
  FILE *stream; /* NULL: stdout. Borrowed. */
} uvotel_console_log_exporter_options_t;

#define UVOTEL_CONSOLE_LOG_EXPORTER_OPTIONS_INIT \
  { NULL }

/* One line per record: observed time (UTC, ISO 8601), severity, trace/span id (when any), body
 * and attributes. NULL when out of memory. Thread: any. */
uvotel_log_exporter_t *uvotel_console_log_exporter_create(
    const uvotel_console_log_exporter_options_t *opts);

/* ---- file (OTLP/JSON lines) ---- */

#define UVOTEL_FILE_LOG_EXPORTER_DEFAULT_PATH "uvotel-logs.jsonl"

typedef struct uvotel_file_log_exporter_options_s {
  const char *path; /* NULL: OTEL_EXPORTER_FILE_LOGS_PATH, else "uvotel-logs.jsonl"; copied */
  int truncate;     /* 1: truncate when opening; 0: append */
  int fsync;        /* 1: fdatasync after each batch */
} uvotel_file_log_exporter_options_t;

#define UVOTEL_FILE_LOG_EXPORTER_OPTIONS_INIT \
  { NULL, 0, 0 }

/* The file is opened on the first export (O_APPEND; one write per batch). NULL opts: defaults.
 * NULL only when out of memory. Thread: any. */
uvotel_log_exporter_t *uvotel_file_log_exporter_create(
    const uvotel_file_log_exporter_options_t *opts);

/* Encode n records as one ExportLogsServiceRequest OTLP/JSON object (no newline), grouped by
 * resource then scope, into *buf (capacity *cap; both may start NULL/0; grown with
 * uvotel_realloc; caller frees). Fields: timeUnixNano, observedTimeUnixNano (strings),
 * severityNumber, severityText, body, attributes, droppedAttributesCount, flags, traceId,
 * spanId (hex); defaults left out. NULL buf/cap/len, NULL recs with n > 0 or a NULL entry:
 * UVOTEL_EINVAL; memory: UVOTEL_ENOMEM. Thread: any. */
int uvotel_otlp_json_encode_logs(const uvotel_log_data_t *const *recs, size_t n, char **buf,
                                 size_t *cap, size_t *len);

/* ---- OTLP/HTTP ---- */

/* As uvotel_otlp_http_exporter_create (same options, transport, retries and statistics), for
 * logs: the endpoint is OTEL_EXPORTER_OTLP_LOGS_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT
 * + "/v1/logs", else http://localhost:4318/v1/logs; every OTEL_EXPORTER_OTLP_LOGS_* variable
 * (HEADERS, TIMEOUT, COMPRESSION, PROTOCOL, INSECURE, CERTIFICATE, CLIENT_KEY,
 * CLIENT_CERTIFICATE) wins over the general one, and no OTEL_EXPORTER_OTLP_TRACES_* value is
 * read. opts->endpoint, when set, is the full logs URL. http/protobuf bodies are encoded
 * directly from the records (no protobuf-c tree); http/json ones are the OTLP/JSON of
 * uvotel_otlp_json_encode_logs. Results are truthful: the batch processor's export_async call
 * encodes on the pool and returns; the receiver's answer (or the failure after retries) is what
 * counts a record exported or failed; a synchronous export waits for it. Errors as there.
 * Thread: any. */
int uvotel_otlp_http_log_exporter_create(const uvotel_otlp_http_options_t *opts,
                                         uvotel_log_exporter_t **out);

/* Statistics of an exporter made by uvotel_otlp_http_log_exporter_create (spans_* count
 * records). Other exporters or NULL: UVOTEL_EINVAL. */
int uvotel_otlp_http_log_exporter_stats(const uvotel_log_exporter_t *e,
                                        uvotel_otlp_http_stats_t *out);

/* Encode n records as one ExportLogsServiceRequest protobuf body (uncompressed); *body from
 * uvotel_malloc. Errors: UVOTEL_EINVAL (NULL out-pointers, NULL recs with n > 0, a NULL entry),
 * UVOTEL_ENOMEM. Thread: any. */
int uvotel_otlp_http_encode_logs(const uvotel_log_data_t *const *recs, size_t n, uint8_t **body,
                                 size_t *len);

/* Register the "console", "file" and "otlp" log exporter factories (done at load for the shared
 * library; uvotel_exporters_register() calls it too). Thread: any. */
int uvotel_log_exporters_register(void);

#ifdef __cplusplus
}
#endif
#endif
