/* uvotel logs SDK interface: what those who write log processors and log exporters build
 * against. Applications that only emit records need uvotel/logs.h.
 *
 * As for spans, every plug is an ops table plus a `self` pointer: processors (on_emit /
 * force_flush / shutdown), exporters (export / force_flush / shutdown). Exporters read finished
 * records through uvotel_log_data_t, a read-only view owned by the SDK.
 *
 * Fill the ops tables with designated initializers ({.on_emit = f, .shutdown = g}), never
 * positionally: they only grow at the end, as the span tables do (uvotel/trace_sdk.h), and
 * members left out must stay NULL or 0; a positional initializer written against an older
 * header misses the appended ones (-Wextra warns: -Wmissing-field-initializers). */
#ifndef UVOTEL_LOGS_SDK_H
#define UVOTEL_LOGS_SDK_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "uvotel/logs.h"
#include "uvotel/trace_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A finished log record (output only): immutable once processors see it, readable on any
 * thread, valid while a reference is held (the processor call, the export call, or
 * uvotel_log_data_retain). Every string is NUL-terminated and its `len` exact (as span data).
 * Members are only ever added at the end. */
typedef struct uvotel_log_data_s {
  uint64_t time_unix_ns;     /* 0: not set */
  uint64_t observed_unix_ns; /* never 0 */
  int severity;              /* 0..24 */
  const char *severity_text; /* "" when none */
  uvotel_value_t body;       /* type NONE: no body */
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  uint32_t dropped_attributes;
  uvotel_trace_id_t trace_id; /* all zero: no span was current */
  uvotel_span_id_t span_id;
  uint8_t trace_flags;
  const uvotel_trace_resource_t *resource;     /* the provider's; same pointer per provider */
  const uvotel_instrumentation_scope_t *scope; /* the logger's; same pointer per logger */
} uvotel_log_data_t;

/* Keep / drop a reference to a finished record. Thread: any (atomic). retain returns d; NULL:
 * no-op. */
const uvotel_log_data_t *uvotel_log_data_retain(const uvotel_log_data_t *d);
void uvotel_log_data_release(const uvotel_log_data_t *d);

/* ---------------------------------------------------------------------------------------------
 * Log exporters
 * ------------------------------------------------------------------------------------------- */

typedef struct uvotel_log_exporter_s uvotel_log_exporter_t;

/* As uvotel_span_exporter_ops_t (uvotel/trace_sdk.h), for records. "Exported" means delivered
 * (accepted by the receiver, written for a file), never merely queued.
 * export_logs: export n >= 1 records synchronously, 0 or a negative code (the records count as
 *   failed); pointers valid until it returns. Called on the batch processor's own export
 *   thread (never libuv's pool), on the emitting thread by the simple processor.
 * export_async (may be NULL): take the batch (encode it before returning: the pointers are valid
 *   until then) and report the outcome through completion->done exactly once, on any thread
 *   (uvotel_export_completion_t: result 0 with `rejected` records refused, or non-zero: all
 *   failed). A non-zero return refuses the batch (done is not called; UVOTEL_EBUSY counts the
 *   records dropped, anything else failed). The batch processor prefers it: its export thread
 *   then only encodes, and never waits for the network.
 * force_flush, shutdown, free may be NULL. flags: UVOTEL_EXPORTER_CONCURRENT.
 * Zero-initialise: the table only grows at the end. */
typedef struct uvotel_log_exporter_ops_s {
  int (*export_logs)(void *self, const uvotel_log_data_t *const *recs, size_t n,
                     uint64_t timeout_ms);
  int (*force_flush)(void *self, uint64_t timeout_ms);
  int (*shutdown)(void *self, uint64_t timeout_ms);
  void (*free)(void *self);
  unsigned flags;
  int (*export_async)(void *self, const uvotel_log_data_t *const *recs, size_t n,
                      uint64_t timeout_ms, const uvotel_export_completion_t *completion);
} uvotel_log_exporter_ops_t;

/* Wrap ops and self. ops borrowed. NULL ops or ops->export_logs: NULL (self not freed). Out of
 * memory: NULL after ops->free(self). Thread: any. Alloc: one block. */
uvotel_log_exporter_t *uvotel_log_exporter_create(const uvotel_log_exporter_ops_t *ops, void *self);

/* Call the ops (serialised unless CONCURRENT). After shutdown export returns UVOTEL_ESHUTDOWN
 * without calling. NULL exporter, or NULL recs with n > 0: UVOTEL_EINVAL; n == 0: 0.
 * Shutdown twice: UVOTEL_ESHUTDOWN. Thread: any. */
int uvotel_log_exporter_export(uvotel_log_exporter_t *e, const uvotel_log_data_t *const *recs,
                               size_t n, uint64_t timeout_ms);
int uvotel_log_exporter_force_flush(uvotel_log_exporter_t *e, uint64_t timeout_ms);
int uvotel_log_exporter_shutdown(uvotel_log_exporter_t *e, uint64_t timeout_ms);

/* Export asynchronously: export_async when the exporter has one, else export_logs followed at
 * once by completion->done on the calling thread. 0: done will be called exactly once;
 * non-zero: refused, done is not called (UVOTEL_ESHUTDOWN after shutdown, UVOTEL_EBUSY, the
 * exporter's error). NULL e, completion or done, or NULL recs with n > 0: UVOTEL_EINVAL; n == 0:
 * done(arg, 0, 0) at once. Thread: any. */
int uvotel_log_exporter_export_async(uvotel_log_exporter_t *e, const uvotel_log_data_t *const *recs,
                                     size_t n, uint64_t timeout_ms,
                                     const uvotel_export_completion_t *completion);

/* The self pointer given at create (NULL for NULL). Thread: any. */
void *uvotel_log_exporter_self(const uvotel_log_exporter_t *e);

/* Shut down (0 ms if not yet) and free an exporter not owned by a processor. NULL: no-op. */
void uvotel_log_exporter_free(uvotel_log_exporter_t *e);

/* Factories by name, for OTEL_LOGS_EXPORTER and the provider's default ("file").
 * libuvotel_exporters registers "console", "file" and "otlp" when loaded (and
 * uvotel_exporters_register() does it for static links). Registering a name again replaces
 * it. NULL/empty/overlong (>= 32) name or NULL fn: UVOTEL_EINVAL; more than 32 names:
 * UVOTEL_ERANGE. Thread: any. */
typedef uvotel_log_exporter_t *(*uvotel_log_exporter_factory_fn)(const char *name, void *arg);
int uvotel_log_exporter_register(const char *name, uvotel_log_exporter_factory_fn fn, void *arg);

/* Create through a registered factory. Unknown or NULL name: NULL (and a diagnostics message
 * for an unknown one). Thread: any. */
uvotel_log_exporter_t *uvotel_log_exporter_create_by_name(const char *name);

/* ---------------------------------------------------------------------------------------------
 * Log processors
 * ------------------------------------------------------------------------------------------- */

/* Counters of a processor (the built-in ones fill all). */
typedef struct uvotel_log_processor_counters_s {
  uint64_t received;  /* records handed to on_emit */
  uint64_t dropped;   /* not exported: queue full, or after shutdown */
  uint64_t exported;  /* exported successfully */
  uint64_t failed;    /* in an export that failed or timed out */
  uint64_t batches;   /* export calls made */
  uint64_t queued;    /* waiting in the queue now (batch) */
  uint64_t in_flight; /* exports running now */
} uvotel_log_processor_counters_t;

/* A log processor.
 * on_emit: a record was emitted; it is immutable; the pointer is valid for the call
 *   (uvotel_log_data_retain to keep it). Must not block. Thread: the emitting thread.
 * force_flush / shutdown: deliver what is pending within timeout_ms. May be NULL.
 * free: release self after shutdown. May be NULL.
 * counters: fill *out (zeroed before). May be NULL.
 * The table only grows at the end. */
typedef struct uvotel_log_processor_ops_s {
  void (*on_emit)(void *self, const uvotel_log_data_t *rec);
  int (*force_flush)(void *self, uint64_t timeout_ms);
  int (*shutdown)(void *self, uint64_t timeout_ms);
  void (*free)(void *self);
  void (*counters)(void *self, uvotel_log_processor_counters_t *out);
} uvotel_log_processor_ops_t;

/* Wrap ops and self. ops borrowed. NULL ops or on_emit: NULL. Out of memory: NULL after
 * ops->free(self). Thread: any. */
uvotel_log_processor_t *uvotel_log_processor_create(const uvotel_log_processor_ops_t *ops,
                                                    void *self);

/* Simple processor: exports each record synchronously in on_emit on the emitting thread. For
 * tests, debugging and the console. Owns the exporter (freed at once if creation fails). NULL
 * exporter: NULL. Thread: any. */
uvotel_log_processor_t *uvotel_simple_log_processor_create(uvotel_log_exporter_t *exporter);

/* Batch processor options (the specification's defaults; OTEL_BLRP_* in from_env). */
typedef struct uvotel_batch_log_processor_options_s {
  uv_loop_t *loop;                /* timer and export completions; NULL: uv_default_loop() */
  uint32_t max_queue_size;        /* 2048 */
  uint32_t max_export_batch_size; /* 512 (clamped to max_queue_size) */
  uint64_t schedule_delay_ms;     /* 1000 */
  uint64_t export_timeout_ms;     /* 30000 */
} uvotel_batch_log_processor_options_t;

#define UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT \
  { NULL, 2048, 512, 1000, 30000 }

/* Batch processor: on_emit puts records in a bounded lock-free queue (never blocks; a full
 * queue drops the record and counts it; the first drop and every power of two after are said
 * at WARN through diagnostics). A batch goes to the exporter on the processor's own export
 * thread (never libuv's thread pool: flush makes progress while the application holds every
 * pool thread) when max_export_batch_size records are queued or schedule_delay_ms passed, one
 * export call at a time. The same pipeline as the batch span processor (counters, deadlines,
 * fork: see uvotel_batch_span_processor_create); a loop that never polls still exports full
 * batches once the processor knows the loop's thread (its first timer or wake-up callback, or
 * the first force_flush/shutdown, which must run on it).
 * force_flush / shutdown (Thread: the loop's, not from inside this processor's callbacks)
 * deliver everything queued and wait for it, returning UVOTEL_ETIMEDOUT at the deadline. Its
 * handles are unreferenced; after shutdown the loop must run once more (uv_run) to close them
 * before uv_loop_close. Owns the exporter. NULL exporter: NULL; max_queue_size or batch size 0:
 * UVOTEL_EINVAL reported and NULL (exporter freed). Thread: the loop's. Alloc: the queue, once;
 * per export job, once (recycled). */
uvotel_log_processor_t *uvotel_batch_log_processor_create(
    uvotel_log_exporter_t *exporter, const uvotel_batch_log_processor_options_t *opts);

/* Call a processor's ops (tests, composites). NULL: UVOTEL_EINVAL; twice shut down:
 * UVOTEL_ESHUTDOWN. */
int uvotel_log_processor_force_flush(uvotel_log_processor_t *p, uint64_t timeout_ms);
int uvotel_log_processor_shutdown(uvotel_log_processor_t *p, uint64_t timeout_ms);
int uvotel_log_processor_counters(const uvotel_log_processor_t *p,
                                  uvotel_log_processor_counters_t *out);

/* Shut down (0 ms if not yet) and free a processor not owned by a provider. NULL: no-op. */
void uvotel_log_processor_free(uvotel_log_processor_t *p);

#ifdef __cplusplus
}
#endif
#endif
