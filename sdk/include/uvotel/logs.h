/* uvotel logs, the application API: logger provider, loggers per instrumentation scope, and
 * log records stamped with the current span's trace id, span id and flags. Processors and
 * exporters -- what SDK plug-ins are written against -- are in uvotel/logs_sdk.h.
 *
 * The OpenTelemetry logs data model and SDK specification are the contract: a record has a
 * timestamp and an observed timestamp (Unix ns), a severity number (1..24) and text, a body (a
 * string, or any scalar/array value), typed attributes (uvotel_attribute_t, as on spans) and the
 * trace context of the span that was current when it was emitted.
 *
 * Records are pooled like spans: emitting takes a slot from the provider's pool, fills it (the
 * body and attributes are copied into the slot's own storage, which is kept across reuse) and
 * hands it to the processors; the slot returns to the pool when the last reference goes. In
 * steady state emitting a record allocates nothing. A record that finds the pool empty (every
 * slot queued or held) is dropped and counted, never waited for.
 *
 * Threads. A provider and its loggers may be used from any thread; the trace context comes from
 * the calling thread's current context (uvotel_current_span), so a record emitted inside an
 * instrumented callback carries that callback's span.
 *
 * Misuse never crashes: a NULL logger or format, a bad attribute, a severity out of range are
 * counted no-ops (or clamped) and reported through diagnostics. */
#ifndef UVOTEL_LOGS_H
#define UVOTEL_LOGS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "uvotel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Severity numbers (OTLP SeverityNumber; never change). Each range has four steps, e.g.
 * UVOTEL_SEVERITY_INFO .. UVOTEL_SEVERITY_INFO + 3 is INFO, INFO2, INFO3, INFO4. */
typedef enum uvotel_severity_e {
  UVOTEL_SEVERITY_UNSPECIFIED = 0,
  UVOTEL_SEVERITY_TRACE = 1,
  UVOTEL_SEVERITY_DEBUG = 5,
  UVOTEL_SEVERITY_INFO = 9,
  UVOTEL_SEVERITY_WARN = 13,
  UVOTEL_SEVERITY_ERROR = 17,
  UVOTEL_SEVERITY_FATAL = 21
} uvotel_severity_t;

#define UVOTEL_SEVERITY_MAX 24

/* The short name of a severity number: "TRACE", "TRACE2", ... "FATAL4"; "" for UNSPECIFIED and
 * numbers out of range. Static string. Thread: any. */
const char *uvotel_severity_name(int severity);

/* Parse a level word, case-insensitively: trace, debug, info, notice (INFO2), warn, warning,
 * error, err, crit/critical (FATAL), alert (FATAL2), emerg/emergency/fatal/panic (FATAL3..),
 * and the short names above. n: length of word. Returns the severity, or 0 when unknown.
 * Thread: any. */
int uvotel_severity_parse(const char *word, size_t n);

typedef struct uvotel_logger_provider_s uvotel_logger_provider_t;
typedef struct uvotel_logger_s uvotel_logger_t;
typedef struct uvotel_log_processor_s uvotel_log_processor_t;

/* What a record keeps; the rest is dropped and counted (dropped_attributes of the record).
 * attribute_value_length truncates string attribute values (and each string of a string array)
 * to that many Unicode characters without splitting a UTF-8 sequence. As the specification
 * says, the limits apply to attributes only, never to the body. */
typedef struct uvotel_log_limits_s {
  uint32_t attribute_count;        /* 128; OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT */
  uint32_t attribute_value_length; /* unlimited; OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT */
} uvotel_log_limits_t;

#define UVOTEL_LOG_LIMITS_INIT \
  { 128, UVOTEL_LIMIT_UNLIMITED }

/* Provider options.
 * Resource: tracer_provider's (borrowed: that provider must outlive this one) when given, so
 *   spans and records of a process carry the same resource; else built by the tracer
 *   provider's rules (SDK defaults, OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME, then
 *   resource_attrs; flags UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE / NO_ENV_RESOURCE apply).
 * Processors: each owned (also when create fails). None given: the embedded default, a batch
 *   processor on `loop` with the "file" log exporter (uvotel-logs.jsonl), unless
 *   UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER.
 * max_records: pool capacity (records alive at once: queued in processors or held by
 *   exporters); beyond it records are dropped and counted (pool_exhausted). 0: 8192. */
typedef struct uvotel_logger_provider_options_s {
  const uvotel_attribute_t *resource_attrs;
  size_t n_resource_attrs;
  const char *resource_schema_url;
  uvotel_tracer_provider_t *tracer_provider;
  uvotel_log_processor_t *const *processors;
  size_t n_processors;
  uvotel_log_limits_t limits;
  uv_loop_t *loop; /* for the default processor; NULL: uv_default_loop() */
  uint32_t max_records;
  unsigned flags; /* UVOTEL_PROVIDER_* of uvotel/trace.h */
} uvotel_logger_provider_options_t;

#define UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT \
  { NULL, 0, NULL, NULL, NULL, 0, UVOTEL_LOG_LIMITS_INIT, NULL, 0, 0 }

/* Create a provider. opts NULL: all defaults. NULL when out of memory (what it was given is
 * freed) or when opts is malformed (n_processors > 0 with NULL processors, or a NULL entry;
 * UVOTEL_EINVAL through diagnostics). Thread: any. */
uvotel_logger_provider_t *uvotel_logger_provider_create(
    const uvotel_logger_provider_options_t *opts);

/* Create a provider configured from the environment:
 *   OTEL_SDK_DISABLED=true   records are never recorded (no processors)
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES (as the tracer provider)
 *   OTEL_LOGS_EXPORTER       comma list of otlp, console, file, none (and any registered log
 *                            exporter name); unset: otlp when OTEL_EXPORTER_OTLP_ENDPOINT or
 *                            OTEL_EXPORTER_OTLP_LOGS_ENDPOINT is set, else file
 *                            (uvotel-logs.jsonl). Each exporter gets its own batch processor
 *                            (console: a simple one).
 *   OTEL_BLRP_SCHEDULE_DELAY (1000), OTEL_BLRP_EXPORT_TIMEOUT (30000),
 *   OTEL_BLRP_MAX_QUEUE_SIZE (2048), OTEL_BLRP_MAX_EXPORT_BATCH_SIZE (512)
 *   OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT, OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT (falling
 *                            back to OTEL_ATTRIBUTE_COUNT_LIMIT / _VALUE_LENGTH_LIMIT)
 * A bad value is reported through diagnostics (UVOTEL_EPARSE) and the default used. Processors
 * run on uv_default_loop(). NULL only when out of memory. Thread: any. */
uvotel_logger_provider_t *uvotel_logger_provider_from_env(void);

/* As from_env, with `base` supplying the loop, the tracer provider whose resource to share,
 * extra resource attributes, max_records and flags; its processors (owned) come in addition to
 * those OTEL_LOGS_EXPORTER selects; environment limits override base's only when set. */
uvotel_logger_provider_t *uvotel_logger_provider_from_env_with(
    const uvotel_logger_provider_options_t *base);

/* Flush every processor within a shared deadline. 0, UVOTEL_ETIMEDOUT, or the first processor
 * error. NULL: UVOTEL_EINVAL. Thread: the processors' loop thread. */
int uvotel_logger_provider_force_flush(uvotel_logger_provider_t *p, uint64_t timeout_ms);

/* Shut down every processor (flushing first). Afterwards records are not recorded (counted
 * dropped). Twice: UVOTEL_ESHUTDOWN. NULL: UVOTEL_EINVAL. Thread: the processors' loop. */
int uvotel_logger_provider_shutdown(uvotel_logger_provider_t *p, uint64_t timeout_ms);

/* Free the provider, its loggers and processors (shutting down with a 0 ms deadline if not yet).
 * Records still held by an exporter keep the memory until released. NULL: no-op.
 * Thread: the processors' loop thread. */
void uvotel_logger_provider_free(uvotel_logger_provider_t *p);

/* The provider's resource (valid until free; the tracer provider's when shared). */
const uvotel_trace_resource_t *uvotel_logger_provider_resource(const uvotel_logger_provider_t *p);

/* The provider's limits. NULL: the defaults. Thread: any. */
uvotel_log_limits_t uvotel_logger_provider_limits(const uvotel_logger_provider_t *p);

/* Counters of a provider. */
typedef struct uvotel_log_counters_s {
  uint64_t emitted;        /* records filled and handed to the processors */
  uint64_t pool_exhausted; /* records dropped: no free slot (max_records in use) */
  uint64_t after_shutdown; /* records dropped: provider shut down */
  uint64_t misuse;         /* NULL logger/format, bad attribute, severity out of range */
  uint64_t dropped;        /* processors: dropped (queue full, after shutdown) */
  uint64_t exported;       /* processors: exported */
  uint64_t failed;         /* processors: export failed */
} uvotel_log_counters_t;

/* Read the counters. NULL p or out: UVOTEL_EINVAL. Thread: any. */
int uvotel_logger_provider_counters(const uvotel_logger_provider_t *p, uvotel_log_counters_t *out);

/* The logger for an instrumentation scope: the same object for the same (name, version, schema)
 * owned by the provider. Strings copied; NULL means "". NULL p or out of memory: NULL (and
 * emitting through a NULL logger is a counted no-op). Thread: any. Alloc: once per scope. */
uvotel_logger_t *uvotel_logger_get(uvotel_logger_provider_t *p, const char *scope_name,
                                   const char *scope_version);
uvotel_logger_t *uvotel_logger_get_with_schema(uvotel_logger_provider_t *p, const char *scope_name,
                                               const char *scope_version, const char *schema_url);

/* The logger's scope (owned by the provider) and provider. NULL: NULL. Thread: any. */
const uvotel_instrumentation_scope_t *uvotel_logger_scope(const uvotel_logger_t *l);
uvotel_logger_provider_t *uvotel_logger_get_provider(const uvotel_logger_t *l);

/* 1 when a record of this severity from l would be recorded (a provider that is not shut down
 * and has a processor), else 0. Use it to skip building expensive attributes. Thread: any. */
int uvotel_logger_enabled(const uvotel_logger_t *l, int severity);

/* A structured record. Everything is copied.
 * body: type NONE for no body; a STRING body is NUL-terminated (len ignored) unless
 *   UVOTEL_LOG_BODY_LEN is set in flags, in which case body.len bytes are used.
 * severity_text NULL: the short name of severity ("" for UNSPECIFIED).
 * time_unix_ns 0: unset (exporters leave it out); observed_unix_ns 0: now.
 * context NULL: the current span's (none when no span is current); else that context. */
#define UVOTEL_LOG_BODY_LEN 0x1u

typedef struct uvotel_log_record_options_s {
  int severity; /* 0..24; out of range: UNSPECIFIED, counted as misuse */
  const char *severity_text;
  uvotel_value_t body;
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  uint64_t time_unix_ns;
  uint64_t observed_unix_ns;
  const uvotel_span_context_t *context;
  unsigned flags; /* UVOTEL_LOG_* */
} uvotel_log_record_options_t;

#define UVOTEL_LOG_RECORD_OPTIONS_INIT \
  { 0, NULL, {UVOTEL_VALUE_NONE, 0, {.s = NULL}}, NULL, 0, 0, 0, NULL, 0 }

/* Emit a structured record. 0 when handed to the processors; UVOTEL_EINVAL for a NULL logger
 * or record (counted misuse); UVOTEL_ENOMEM when the pool is exhausted (counted
 * pool_exhausted); UVOTEL_ESHUTDOWN after shutdown (counted). A provider without processors
 * accepts and discards (0). Thread: any. Alloc: none in steady state. */
int uvotel_log_emit(uvotel_logger_t *l, const uvotel_log_record_options_t *rec);

/* printf-style: the formatted message is the string body (formatted straight into the record's
 * storage, whatever its length). Timestamp and observed
 * timestamp are now; trace context is the current span's. Returns as uvotel_log_emit; NULL fmt:
 * UVOTEL_EINVAL. Thread: any. Alloc: none in steady state. */
int uvotel_log(uvotel_logger_t *l, int severity, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int uvotel_logv(uvotel_logger_t *l, int severity, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* printf-style with attributes (copied, subject to limits). */
int uvotel_log_attrs(uvotel_logger_t *l, int severity, const uvotel_attribute_t *attrs, size_t n,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#ifdef __cplusplus
}
#endif
#endif
