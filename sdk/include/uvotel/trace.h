/* uvotel tracing: OpenTelemetry-style tracer provider, tracers, spans, samplers, processors and
 * exporters. The current span is an async-context variable, so it follows every instrumented
 * callback.
 *
 * The OpenTelemetry trace API and SDK specifications are the contract for behaviour; this header
 * fixes the C names. Layering (as in opentelemetry-cpp): the application talks to tracers and
 * spans; a provider owns a sampler, span limits, an id generator and span processors; processors
 * hand finished spans to exporters. Samplers, processors, exporters and id generators are ops
 * tables plus a `self` pointer, so users can plug their own.
 *
 * Spans are pooled: starting a span takes a slot from the provider's pool and ending it hands
 * the slot to the processors; the slot returns to the pool when the last reference goes (the
 * application's, the batch queue's, an exporter's, a context's). In steady state starting,
 * filling and ending a span allocates nothing.
 *
 * Threads. A provider, its tracers and its spans may be used from any thread (the loop thread,
 * or thread-pool work callbacks that see the submitter's context); one span should be mutated
 * by one thread at a time. Reference counts are atomic. Finished span data (uvotel_span_data_t)
 * is immutable and may be read on any thread, e.g. by an exporter encoding on the thread pool.
 *
 * Misuse never crashes: NULL spans, calls on an ended span and ending twice are no-ops, counted
 * in the provider's counters (misuse) and reported to the diagnostics callback. */
#ifndef UVOTEL_TRACE_H
#define UVOTEL_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "uvotel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Span context
 * ------------------------------------------------------------------------------------------- */

typedef struct uvotel_trace_id_s {
  uint8_t bytes[16];
} uvotel_trace_id_t;

typedef struct uvotel_span_id_s {
  uint8_t bytes[8];
} uvotel_span_id_t;

/* W3C trace flags. */
#define UVOTEL_TRACE_FLAG_SAMPLED 0x01u
#define UVOTEL_TRACE_FLAG_RANDOM 0x02u /* W3C Trace Context Level 2 */

/* W3C tracestate: an immutable, reference-counted list of key=value members (see
 * uvotel/propagation.h for parsing, building and serialising it). */
typedef struct uvotel_trace_state_s uvotel_trace_state_t;

/* A span context. Valid when neither id is all zero. `trace_state` is borrowed from whatever
 * handed the context out (a span, or the result of an extract) and may be NULL. */
typedef struct uvotel_span_context_s {
  uvotel_trace_id_t trace_id;
  uvotel_span_id_t span_id;
  uint8_t flags;
  uint8_t is_remote;
  const uvotel_trace_state_t *trace_state;
} uvotel_span_context_t;

/* 1 when neither id of sc is all zero, else 0 (also for NULL). Thread: any. */
int uvotel_span_context_is_valid(const uvotel_span_context_t *sc);

/* 1 when the trace id / span id is all zero. Thread: any. */
int uvotel_trace_id_is_zero(const uvotel_trace_id_t *id);
int uvotel_span_id_is_zero(const uvotel_span_id_t *id);

/* Lowercase hex of an id into out (33 / 17 bytes, NUL-terminated). Returns out.
 * Thread: any. Alloc: none. */
char *uvotel_trace_id_to_hex(const uvotel_trace_id_t *id, char out[33]);
char *uvotel_span_id_to_hex(const uvotel_span_id_t *id, char out[17]);

/* ---------------------------------------------------------------------------------------------
 * Attributes
 * ------------------------------------------------------------------------------------------- */

/* Attribute value types. Numbers are fixed (never reordered). */
typedef enum uvotel_value_type_e {
  UVOTEL_VALUE_NONE = 0, /* an empty value (never stored on spans) */
  UVOTEL_VALUE_STRING = 1,
  UVOTEL_VALUE_BOOL = 2,
  UVOTEL_VALUE_INT = 3, /* int64 */
  UVOTEL_VALUE_DOUBLE = 4,
  UVOTEL_VALUE_STRING_ARRAY = 5,
  UVOTEL_VALUE_BOOL_ARRAY = 6,
  UVOTEL_VALUE_INT_ARRAY = 7,
  UVOTEL_VALUE_DOUBLE_ARRAY = 8
} uvotel_value_type_t;

/* A typed attribute value. `len`: byte length of a STRING (not counting the NUL), or the element
 * count of an array.
 *
 * Input (the application hands values in): strings are NUL-terminated and `len` is ignored for
 * STRING (strlen is used); strings inside a STRING_ARRAY are NUL-terminated; arrays have `len`
 * elements. Everything is copied.
 *
 * Output (uvotel_span_data_* accessors): every string is NUL-terminated AND `len` is exact, so
 * an encoder can use either; strings inside STRING_ARRAY are NUL-terminated (use strlen). The
 * memory belongs to the span data and lives as long as a reference to it. */
typedef struct uvotel_value_s {
  uvotel_value_type_t type;
  uint32_t len;
  union {
    const char *s;
    bool b;
    int64_t i;
    double d;
    const char *const *sa;
    const bool *ba;
    const int64_t *ia;
    const double *da;
  } u;
} uvotel_value_t;

/* key = value. Input: key NUL-terminated, copied. Output: key NUL-terminated, owned by the span
 * data. An attribute with a NULL or empty key, or type NONE, is ignored (counted as misuse). */
typedef struct uvotel_attribute_s {
  const char *key;
  uvotel_value_t value;
} uvotel_attribute_t;

/* Initialisers for literal attribute arrays:
 *   uvotel_attribute_t a[] = {UVOTEL_ATTR_STR("http.method", "GET"), UVOTEL_ATTR_INT("n", 3)}; */
#define UVOTEL_ATTR_STR(k, v)   \
  {                             \
    (k), {                      \
      UVOTEL_VALUE_STRING, 0, { \
        .s = (v)                \
      }                         \
    }                           \
  }
#define UVOTEL_ATTR_BOOL(k, v) \
  {                            \
    (k), {                     \
      UVOTEL_VALUE_BOOL, 0, {  \
        .b = (v)               \
      }                        \
    }                          \
  }
#define UVOTEL_ATTR_INT(k, v) \
  {                           \
    (k), {                    \
      UVOTEL_VALUE_INT, 0, {  \
        .i = (v)              \
      }                       \
    }                         \
  }
#define UVOTEL_ATTR_DOUBLE(k, v) \
  {                              \
    (k), {                       \
      UVOTEL_VALUE_DOUBLE, 0, {  \
        .d = (v)                 \
      }                          \
    }                            \
  }
#define UVOTEL_ATTR_STR_ARRAY(k, arr, n) \
  {                                      \
    (k), {                               \
      UVOTEL_VALUE_STRING_ARRAY, (n), {  \
        .sa = (arr)                      \
      }                                  \
    }                                    \
  }
#define UVOTEL_ATTR_BOOL_ARRAY(k, arr, n) \
  {                                       \
    (k), {                                \
      UVOTEL_VALUE_BOOL_ARRAY, (n), {     \
        .ba = (arr)                       \
      }                                   \
    }                                     \
  }
#define UVOTEL_ATTR_INT_ARRAY(k, arr, n) \
  {                                      \
    (k), {                               \
      UVOTEL_VALUE_INT_ARRAY, (n), {     \
        .ia = (arr)                      \
      }                                  \
    }                                    \
  }
#define UVOTEL_ATTR_DOUBLE_ARRAY(k, arr, n) \
  {                                         \
    (k), {                                  \
      UVOTEL_VALUE_DOUBLE_ARRAY, (n), {     \
        .da = (arr)                         \
      }                                     \
    }                                       \
  }

/* ---------------------------------------------------------------------------------------------
 * Enumerations (numbers are the OTLP ones and never change)
 * ------------------------------------------------------------------------------------------- */

typedef enum uvotel_span_kind_e {
  UVOTEL_SPAN_KIND_UNSPECIFIED = 0, /* on input: INTERNAL */
  UVOTEL_SPAN_KIND_INTERNAL = 1,
  UVOTEL_SPAN_KIND_SERVER = 2,
  UVOTEL_SPAN_KIND_CLIENT = 3,
  UVOTEL_SPAN_KIND_PRODUCER = 4,
  UVOTEL_SPAN_KIND_CONSUMER = 5
} uvotel_span_kind_t;

typedef enum uvotel_status_code_e {
  UVOTEL_STATUS_UNSET = 0,
  UVOTEL_STATUS_OK = 1,
  UVOTEL_STATUS_ERROR = 2
} uvotel_status_code_t;

/* "INTERNAL", "SERVER", ... / "UNSET", "OK", "ERROR"; "UNSPECIFIED" for unknown values. */
const char *uvotel_span_kind_name(uvotel_span_kind_t kind);
const char *uvotel_status_code_name(uvotel_status_code_t code);

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

typedef enum uvotel_diag_level_e {
  UVOTEL_DIAG_ERROR = 1,
  UVOTEL_DIAG_WARN = 2,
  UVOTEL_DIAG_INFO = 3,
  UVOTEL_DIAG_DEBUG = 4
} uvotel_diag_level_t;

/* A diagnostics message: `code` is a UVOTEL_E* / libuv code or 0, `msg` a formatted,
 * NUL-terminated message borrowed for the duration of the call. Called on whatever thread hit
 * the problem (loop, pool), so it must be thread-safe and must not call back into tracing. */
typedef void (*uvotel_diag_cb)(uvotel_diag_level_t level, int code, const char *msg, void *arg);

/* Install the process-wide diagnostics callback and the most verbose level delivered (messages
 * above it are not even formatted). cb NULL restores the default: nothing is printed, unless the
 * environment variable OTEL_LOG_LEVEL is debug/info/warn/error, in which case messages up to
 * that level go to stderr. Thread: any (takes effect for later messages). */
void uvotel_diag_set_handler(uvotel_diag_cb cb, void *arg, uvotel_diag_level_t max_level);

/* Report through the diagnostics callback (printf-style). For exporters and processors written
 * against this header. Thread: any. Alloc: none (formats into a stack buffer, truncating). */
void uvotel_diag(uvotel_diag_level_t level, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------------------------------------
 * Objects
 * ------------------------------------------------------------------------------------------- */

typedef struct uvotel_tracer_provider_s uvotel_tracer_provider_t;
typedef struct uvotel_tracer_s uvotel_tracer_t;
typedef struct uvotel_span_s uvotel_span_t;
/* A finished span seen by processors and exporters: read-only, immutable, thread-safe. */
typedef struct uvotel_span_data_s uvotel_span_data_t;
typedef struct uvotel_sampler_s uvotel_sampler_t;
typedef struct uvotel_span_processor_s uvotel_span_processor_t;
typedef struct uvotel_span_exporter_s uvotel_span_exporter_t;

/* A link to another span (input to span start / add_link, output from span data).
 * Input: context copied (its trace_state retained), attributes copied; dropped_attributes
 * ignored.
 * Output: attrs owned by the span data; dropped_attributes = attributes beyond the limit. */
typedef struct uvotel_link_s {
  uvotel_span_context_t context;
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  uint32_t dropped_attributes;
} uvotel_link_t;

/* An event of a finished span (output only). */
typedef struct uvotel_event_s {
  const char *name; /* NUL-terminated */
  uint64_t time_unix_ns;
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  uint32_t dropped_attributes;
} uvotel_event_t;

/* The resource of a provider (output only): immutable, lives as long as the provider and at
 * least as long as any span data that points to it. The same pointer for every span of one
 * provider, so encoders may group by pointer. */
typedef struct uvotel_trace_resource_s {
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  uint32_t dropped_attributes;
  const char *schema_url; /* "" when none */
} uvotel_trace_resource_t;

/* The instrumentation scope of a tracer (output only): immutable, lives as long as the
 * provider. The same pointer for every span of one tracer. */
typedef struct uvotel_instrumentation_scope_s {
  const char *name;       /* "" when the tracer was created without a name */
  const char *version;    /* "" when none */
  const char *schema_url; /* "" when none */
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
} uvotel_instrumentation_scope_t;

/* ---------------------------------------------------------------------------------------------
 * Span limits
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_LIMIT_UNLIMITED UINT32_MAX

/* What a span keeps; the rest is dropped and counted (span data dropped_* accessors).
 * attribute_value_length truncates string values (and each string of a string array) to that
 * many Unicode characters (never splitting a UTF-8 sequence). */
typedef struct uvotel_span_limits_s {
  uint32_t attribute_count;        /* 128; OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT */
  uint32_t attribute_value_length; /* unlimited; OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT */
  uint32_t event_count;            /* 128; OTEL_SPAN_EVENT_COUNT_LIMIT */
  uint32_t link_count;             /* 128; OTEL_SPAN_LINK_COUNT_LIMIT */
  uint32_t event_attribute_count;  /* 128; OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT */
  uint32_t link_attribute_count;   /* 128; OTEL_LINK_ATTRIBUTE_COUNT_LIMIT */
} uvotel_span_limits_t;

#define UVOTEL_SPAN_LIMITS_INIT \
  { 128, UVOTEL_LIMIT_UNLIMITED, 128, 128, 128, 128 }

/* ---------------------------------------------------------------------------------------------
 * Id generator
 * ------------------------------------------------------------------------------------------- */

/* Produces trace and span ids. The SDK retries while a result is all zero (at most a few times,
 * then falls back to its own generator), so ids are never invalid. Called on any thread that
 * starts spans: must be thread-safe. */
typedef struct uvotel_id_generator_ops_s {
  void (*trace_id)(void *self, uvotel_trace_id_t *out);
  void (*span_id)(void *self, uvotel_span_id_t *out);
  /* 1 when the rightmost 7 bytes of trace ids are random (sets the W3C Level 2 random flag on
   * new traces). */
  int random_trace_ids;
} uvotel_id_generator_ops_t;

/* The built-in generator: a per-thread xoshiro256** seeded from getrandom(2), never all zero,
 * random trace ids. Fill ids directly (useful for tests and custom generators).
 * Thread: any. Alloc: none. */
void uvotel_random_trace_id(uvotel_trace_id_t *out);
void uvotel_random_span_id(uvotel_span_id_t *out);

/* ---------------------------------------------------------------------------------------------
 * Samplers
 * ------------------------------------------------------------------------------------------- */

typedef enum uvotel_sampling_decision_e {
  UVOTEL_SAMPLING_DROP = 0,             /* not recording, not sampled */
  UVOTEL_SAMPLING_RECORD_ONLY = 1,      /* recording (processors see it), not exported */
  UVOTEL_SAMPLING_RECORD_AND_SAMPLE = 2 /* recording and sampled */
} uvotel_sampling_decision_t;

/* What a sampler sees. All pointers are borrowed for the duration of should_sample. */
typedef struct uvotel_sampling_params_s {
  /* The parent's context; NULL for a root span. */
  const uvotel_span_context_t *parent;
  /* The trace id the span will have (the parent's, or a new one). */
  uvotel_trace_id_t trace_id;
  const char *name;
  uvotel_span_kind_t kind;
  const uvotel_attribute_t *attrs; /* attributes given at start */
  size_t n_attrs;
  const uvotel_link_t *links;
  size_t n_links;
} uvotel_sampling_params_t;

/* What a sampler decides. `attrs` are added to the span (copied at once, so they may point to
 * sampler memory). `trace_state` replaces the parent's trace state when `set_trace_state` is 1
 * (retained by the span). */
typedef struct uvotel_sampling_result_s {
  uvotel_sampling_decision_t decision;
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  int set_trace_state;
  const uvotel_trace_state_t *trace_state;
} uvotel_sampling_result_t;

/* A sampler. should_sample is called for every span start, on any thread, and must be
 * thread-safe and fast; out is zeroed (decision DROP) before the call. description returns a
 * static or self-owned string (e.g. "TraceIdRatioBased{0.25}"). free (may be NULL) releases
 * self when the sampler is freed. */
typedef struct uvotel_sampler_ops_s {
  void (*should_sample)(void *self, const uvotel_sampling_params_t *params,
                        uvotel_sampling_result_t *out);
  const char *(*description)(void *self);
  void (*free)(void *self);
} uvotel_sampler_ops_t;

/* Wrap an ops table and self in a sampler object. ops is borrowed (must outlive the sampler).
 * NULL ops or ops->should_sample: NULL. NULL also when out of memory.
 * Thread: any. Alloc: one block. */
uvotel_sampler_t *uvotel_sampler_create(const uvotel_sampler_ops_t *ops, void *self);

/* The built-in samplers (spec names). Each call returns a new object.
 * traceidratio: ratio outside [0, 1] or NaN is clamped (NaN: 0; reported through diagnostics).
 * The decision is the specification's consistent-probability rule (W3C Level 2 randomness): R is
 * the trace id's rightmost 7 bytes read as a big-endian 56-bit integer, the rejection threshold
 * is T = round((1 - ratio) * 2^56), and the span is sampled iff R >= T. So a trace sampled at
 * some ratio is sampled at every higher ratio, in every service using the rule.
 * NULL only when out of memory. Thread: any. */
uvotel_sampler_t *uvotel_sampler_always_on(void);
uvotel_sampler_t *uvotel_sampler_always_off(void);
uvotel_sampler_t *uvotel_sampler_traceidratio(double ratio);

/* ParentBased: the root sampler decides for root spans; otherwise the parent's sampled flag and
 * remoteness select one of four delegates. NULL delegates take the spec defaults (always_on for
 * sampled parents, always_off for unsampled ones). The parent-based sampler takes ownership of
 * every sampler passed in, even when it fails. */
typedef struct uvotel_parent_based_options_s {
  uvotel_sampler_t *root; /* NULL: always_on */
  uvotel_sampler_t *remote_parent_sampled;
  uvotel_sampler_t *remote_parent_not_sampled;
  uvotel_sampler_t *local_parent_sampled;
  uvotel_sampler_t *local_parent_not_sampled;
} uvotel_parent_based_options_t;

#define UVOTEL_PARENT_BASED_OPTIONS_INIT \
  { NULL, NULL, NULL, NULL, NULL }

uvotel_sampler_t *uvotel_sampler_parent_based(const uvotel_parent_based_options_t *opts);
/* parentbased_always_on / parentbased_always_off / parentbased_traceidratio shorthands. */
uvotel_sampler_t *uvotel_sampler_parentbased_always_on(void);
uvotel_sampler_t *uvotel_sampler_parentbased_always_off(void);
uvotel_sampler_t *uvotel_sampler_parentbased_traceidratio(double ratio);

/* Build a sampler from OTEL_TRACES_SAMPLER-style name and argument: always_on, always_off,
 * traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio
 * (arg: the ratio, default 1.0). Unknown name: UVOTEL_ENOTSUP; bad arg: UVOTEL_EPARSE (and
 * *out is the sampler with the default ratio); NULL name/out: UVOTEL_EINVAL.
 * Thread: any. */
int uvotel_sampler_from_name(const char *name, const char *arg, uvotel_sampler_t **out);

/* Ask a sampler directly (tests, composite samplers). NULL sampler or params: decision DROP. */
void uvotel_sampler_should_sample(uvotel_sampler_t *s, const uvotel_sampling_params_t *params,
                                  uvotel_sampling_result_t *out);

/* The sampler's description ("" for NULL). Borrowed from the sampler. Thread: any. */
const char *uvotel_sampler_description(const uvotel_sampler_t *s);

/* Free a sampler not handed to a provider or parent-based sampler. NULL: no-op. */
void uvotel_sampler_free(uvotel_sampler_t *s);

/* ---------------------------------------------------------------------------------------------
 * Span exporters
 * ------------------------------------------------------------------------------------------- */

/* The exporter may be called again while an earlier export is still running (from another pool
 * thread): the batch processor then runs up to max_concurrent_exports exports at once.
 * Without it, at most one export per exporter is in flight. */
#define UVOTEL_EXPORTER_CONCURRENT 0x1u

/* An exporter: turns batches of finished spans into output. The SDK serialises calls unless the
 * exporter sets UVOTEL_EXPORTER_CONCURRENT.
 *
 * export: encode and deliver n >= 1 spans. Synchronous: returns when done, 0 on success or a
 *   negative UVOTEL_E* / libuv code on failure (the spans count as failed). Called on a libuv
 *   pool thread by the batch processor, on the ending thread by the simple processor, or on
 *   whatever thread calls uvotel_span_exporter_export. It may block, but should give up after
 *   about timeout_ms (the processor's export timeout) and return UVOTEL_ETIMEDOUT. The span
 *   pointers and everything reachable from them are valid until export returns; to keep a span
 *   longer, uvotel_span_data_retain it. Must not call back into span start/end.
 * force_flush: deliver anything the exporter buffers; 0, or UVOTEL_ETIMEDOUT. May be NULL.
 * shutdown: flush and stop; later exports must fail with UVOTEL_ESHUTDOWN. May be NULL.
 * free: release self; called once, after shutdown, when no export is running. May be NULL.
 * flags: UVOTEL_EXPORTER_*.
 * The table only grows at the end; zero-initialise it so later members stay NULL. */
typedef struct uvotel_span_exporter_ops_s {
  int (*export_spans)(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms);
  int (*force_flush)(void *self, uint64_t timeout_ms);
  int (*shutdown)(void *self, uint64_t timeout_ms);
  void (*free)(void *self);
  unsigned flags;
} uvotel_span_exporter_ops_t;

/* Wrap an ops table and self in an exporter object. ops is borrowed (must outlive the
 * exporter). NULL ops or ops->export_spans: NULL (self is not freed). Out of memory: NULL, and
 * ops->free(self) is called so ownership is always taken. Thread: any. Alloc: one block. */
uvotel_span_exporter_t *uvotel_span_exporter_create(const uvotel_span_exporter_ops_t *ops,
                                                    void *self);

/* Call the exporter's ops (serialised against each other unless CONCURRENT). After shutdown,
 * export returns UVOTEL_ESHUTDOWN without calling the exporter. NULL exporter: UVOTEL_EINVAL;
 * n == 0: 0 without calling. Thread: any. */
int uvotel_span_exporter_export(uvotel_span_exporter_t *e, const uvotel_span_data_t *const *spans,
                                size_t n, uint64_t timeout_ms);
int uvotel_span_exporter_force_flush(uvotel_span_exporter_t *e, uint64_t timeout_ms);
int uvotel_span_exporter_shutdown(uvotel_span_exporter_t *e, uint64_t timeout_ms);

/* The self pointer and flags given at create (NULL / 0 for NULL). Thread: any. */
void *uvotel_span_exporter_self(const uvotel_span_exporter_t *e);
unsigned uvotel_span_exporter_flags(const uvotel_span_exporter_t *e);

/* Shut down (if not yet, with a 0 ms deadline) and free an exporter not owned by a processor.
 * NULL: no-op. Thread: any, when no export is running. */
void uvotel_span_exporter_free(uvotel_span_exporter_t *e);

/* Exporter factories by name, for OTEL_TRACES_EXPORTER and the provider's default ("file").
 * A factory creates an exporter configured from the environment (it reads its own
 * OTEL_EXPORTER_* variables), or returns NULL and reports why through diagnostics.
 * libuvotel_exporters registers "console" and "file" (and "otlp" once built) when it
 * is loaded, and uvotel_exporters_register() does it explicitly for static links.
 * Registering a name again replaces the factory. NULL name or fn: UVOTEL_EINVAL; more than 32
 * names: UVOTEL_ERANGE. Thread: any. */
typedef uvotel_span_exporter_t *(*uvotel_span_exporter_factory_fn)(const char *name, void *arg);
int uvotel_span_exporter_register(const char *name, uvotel_span_exporter_factory_fn fn, void *arg);

/* Create an exporter through a registered factory. Unknown name: NULL (and a diagnostics
 * message). Thread: any. */
uvotel_span_exporter_t *uvotel_span_exporter_create_by_name(const char *name);

/* ---------------------------------------------------------------------------------------------
 * Span processors
 * ------------------------------------------------------------------------------------------- */

/* Counters of a processor (the built-in ones fill all; a custom one whatever it knows). */
typedef struct uvotel_span_processor_counters_s {
  uint64_t received;  /* sampled spans handed to on_end */
  uint64_t dropped;   /* not exported: queue full, or arrived after shutdown */
  uint64_t exported;  /* exported successfully */
  uint64_t failed;    /* handed to an export that failed or timed out */
  uint64_t batches;   /* export calls made */
  uint64_t queued;    /* currently waiting in the queue (batch processor) */
  uint64_t in_flight; /* exports running now */
} uvotel_span_processor_counters_t;

/* A span processor.
 * on_start: a recording span was started (may add attributes to it). Thread: the starting
 *   thread. May be NULL.
 * on_end: a recording span ended; its data is now immutable. The pointer is valid for the
 *   call; uvotel_span_data_retain it to keep it (release on any thread). Must not block.
 *   Thread: the ending thread.
 * force_flush / shutdown: deliver what is pending, within timeout_ms; 0, UVOTEL_ETIMEDOUT, or
 *   an export error. May be NULL.
 * free: release self, after shutdown. May be NULL.
 * counters: fill *out (zeroed before the call). May be NULL.
 * The table only grows at the end. */
typedef struct uvotel_span_processor_ops_s {
  void (*on_start)(void *self, uvotel_span_t *span, const uvotel_span_context_t *parent);
  void (*on_end)(void *self, const uvotel_span_data_t *span);
  int (*force_flush)(void *self, uint64_t timeout_ms);
  int (*shutdown)(void *self, uint64_t timeout_ms);
  void (*free)(void *self);
  void (*counters)(void *self, uvotel_span_processor_counters_t *out);
} uvotel_span_processor_ops_t;

/* Wrap an ops table and self. ops is borrowed. NULL ops: NULL. Out of memory: NULL after
 * ops->free(self). Thread: any. */
uvotel_span_processor_t *uvotel_span_processor_create(const uvotel_span_processor_ops_t *ops,
                                                      void *self);

/* Simple processor: exports each sampled span synchronously in on_end, on the ending thread,
 * one span per export. For tests and debugging. Takes ownership of the exporter (freed with the
 * processor, or at once if creation fails). NULL exporter: NULL. Thread: any. */
uvotel_span_processor_t *uvotel_simple_span_processor_create(uvotel_span_exporter_t *exporter);

/* Batch processor options. Defaults are the specification's; the OTEL_BSP_* variables set them
 * in uvotel_tracer_provider_from_env. */
typedef struct uvotel_batch_span_processor_options_s {
  uv_loop_t *loop;         /* loop that runs the timer and export completions; NULL:
                              uv_default_loop() */
  uint32_t max_queue_size; /* 2048; OTEL_BSP_MAX_QUEUE_SIZE */
  uint32_t
      max_export_batch_size;  /* 512 (clamped to max_queue_size); OTEL_BSP_MAX_EXPORT_BATCH_SIZE */
  uint64_t schedule_delay_ms; /* 5000; OTEL_BSP_SCHEDULE_DELAY */
  uint64_t export_timeout_ms; /* 30000; OTEL_BSP_EXPORT_TIMEOUT */
  uint32_t max_concurrent_exports; /* 1; more only if the exporter is CONCURRENT */
} uvotel_batch_span_processor_options_t;

#define UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT \
  { NULL, 2048, 512, 5000, 30000, 1 }

/* Batch processor: on_end puts sampled spans in a bounded lock-free queue (never blocks; a full
 * queue drops the span and counts it). A batch of up to max_export_batch_size spans is handed
 * to the exporter when that many are queued or schedule_delay_ms passed since the last export;
 * the export call (encoding and delivery) runs on the libuv thread pool (uv_queue_work), at
 * most one at a time unless the exporter is CONCURRENT.
 *
 * force_flush / shutdown (Thread: the loop's thread, while the loop is not running a callback
 * of this processor) deliver everything queued in batches of at most max_export_batch_size,
 * each still on the pool, waiting for them, and return UVOTEL_ETIMEDOUT once the deadline
 * passes (exports still running then finish in the background and are counted when they do).
 * Its handles are unreferenced, so they never keep the loop alive; after shutdown the loop must
 * run once more (uv_run) to close them before uv_loop_close. Takes ownership of the exporter.
 * NULL exporter: NULL; bad options (max_queue_size 0, batch size 0): UVOTEL_EINVAL reported
 * and NULL. Thread: the loop's thread. Alloc: the queue, once. */
uvotel_span_processor_t *uvotel_batch_span_processor_create(
    uvotel_span_exporter_t *exporter, const uvotel_batch_span_processor_options_t *opts);

/* Call a processor's ops directly (tests, composite processors). NULL: no-op / UVOTEL_EINVAL.
 * Thread: as the ops. */
int uvotel_span_processor_force_flush(uvotel_span_processor_t *p, uint64_t timeout_ms);
int uvotel_span_processor_shutdown(uvotel_span_processor_t *p, uint64_t timeout_ms);

/* The processor's counters into *out (zeros where unknown). NULL p or out: UVOTEL_EINVAL.
 * Thread: any. */
int uvotel_span_processor_counters(const uvotel_span_processor_t *p,
                                   uvotel_span_processor_counters_t *out);

/* Shut down (0 ms deadline if not yet) and free a processor not owned by a provider. NULL:
 * no-op. */
void uvotel_span_processor_free(uvotel_span_processor_t *p);

/* ---------------------------------------------------------------------------------------------
 * Tracer provider
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE 0x1u /* skip the SDK default resource attributes */
#define UVOTEL_PROVIDER_NO_ENV_RESOURCE \
  0x2u /* ignore OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES */
#define UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER 0x4u /* no processors means none, not the default */

/* Provider options.
 * Resource: the SDK default (service.name = unknown_service:<executable>, telemetry.sdk.name
 *   "uvotel", telemetry.sdk.language "c", telemetry.sdk.version, process.pid, host.name), then
 *   OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, then resource_attrs: later keys win.
 * Sampler: owned; NULL means parentbased_always_on.
 * Processors: each owned (also when create fails). None given: the embedded default, a batch
 *   processor on `loop` with the "file" exporter (uvotel-traces.jsonl), unless
 *   UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER.
 * max_spans: pool capacity (spans alive at once: open, queued or held); beyond it starts return
 *   a non-recording span and count pool_exhausted. 0: 65536. */
typedef struct uvotel_tracer_provider_options_s {
  const uvotel_attribute_t *resource_attrs;
  size_t n_resource_attrs;
  const char *resource_schema_url;
  uvotel_sampler_t *sampler;
  uvotel_span_processor_t *const *processors;
  size_t n_processors;
  uvotel_span_limits_t limits;
  const uvotel_id_generator_ops_t *id_generator; /* NULL: built-in; borrowed */
  void *id_generator_self;
  uv_loop_t *loop; /* for the default processor; NULL: uv_default_loop() */
  uint32_t max_spans;
  unsigned flags; /* UVOTEL_PROVIDER_* */
} uvotel_tracer_provider_options_t;

#define UVOTEL_TRACER_PROVIDER_OPTIONS_INIT \
  { NULL, 0, NULL, NULL, NULL, 0, UVOTEL_SPAN_LIMITS_INIT, NULL, NULL, NULL, 0, 0 }

/* Create a provider. opts NULL: all defaults. Returns NULL when out of memory (what it was
 * given is freed) or when opts is malformed (n_processors > 0 with NULL processors, or a NULL
 * entry): UVOTEL_EINVAL through diagnostics. Thread: any. */
uvotel_tracer_provider_t *uvotel_tracer_provider_create(
    const uvotel_tracer_provider_options_t *opts);

/* Create a provider configured from the environment:
 *   OTEL_SDK_DISABLED=true    a provider whose spans never record (sampler always_off, no
 *                             processors)
 *   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES (k=v,k=v; percent-decoded)
 *   OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG
 *   OTEL_TRACES_EXPORTER      comma list of otlp, console, file, none (and any registered
 *                             name); unset: file (the embedded default). Each exporter
 *                             gets its own batch processor (console: a simple one).
 *   OTEL_PROPAGATORS          validated and kept (uvotel_tracer_provider_propagators)
 *   TRACEPARENT, TRACESTATE   the environment-variable carrier (uvotel_env_carrier_extract):
 *                             a valid TRACEPARENT becomes the remote parent of root spans
 *   OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_QUEUE_SIZE,
 *   OTEL_BSP_MAX_EXPORT_BATCH_SIZE
 *   OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT, OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
 *   OTEL_SPAN_EVENT_COUNT_LIMIT, OTEL_SPAN_LINK_COUNT_LIMIT, OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
 *   OTEL_LINK_ATTRIBUTE_COUNT_LIMIT, OTEL_ATTRIBUTE_COUNT_LIMIT,
 *   OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT (the OTEL_SPAN_* ones win over OTEL_ATTRIBUTE_*)
 * A bad value is reported through the diagnostics callback (UVOTEL_EPARSE) and the default is
 * used. Processors run on uv_default_loop(). NULL only when out of memory. Thread: any. */
uvotel_tracer_provider_t *uvotel_tracer_provider_from_env(void);

/* As from_env, with `base` supplying the loop, extra resource attributes, the id generator and
 * flags; environment values override base's sampler and limits only when set. base's sampler
 * and processors, when given, are used (and owned) as in create; its processors come in
 * addition to the exporters OTEL_TRACES_EXPORTER selects (file when unset). */
uvotel_tracer_provider_t *uvotel_tracer_provider_from_env_with(
    const uvotel_tracer_provider_options_t *base);

/* Flush every processor; the deadline is shared. 0, UVOTEL_ETIMEDOUT, or the first processor
 * error. NULL: UVOTEL_EINVAL. Thread: the processors' loop thread. */
int uvotel_tracer_provider_force_flush(uvotel_tracer_provider_t *p, uint64_t timeout_ms);

/* Shut down every processor (flushing first) within the deadline. Afterwards spans started from
 * this provider are non-recording. Twice: UVOTEL_ESHUTDOWN. NULL: UVOTEL_EINVAL.
 * Thread: the processors' loop thread. */
int uvotel_tracer_provider_shutdown(uvotel_tracer_provider_t *p, uint64_t timeout_ms);

/* Free the provider, its tracers, sampler and processors (shutting down first with a 0 ms
 * deadline if needed). Spans still open or held are abandoned: every span must be ended and
 * every context holding a span of this provider released before. NULL: no-op.
 * Thread: the processors' loop thread. */
void uvotel_tracer_provider_free(uvotel_tracer_provider_t *p);

/* The provider's resource (valid until free). Thread: any. */
const uvotel_trace_resource_t *uvotel_tracer_provider_resource(const uvotel_tracer_provider_t *p);

/* The propagators selected by OTEL_PROPAGATORS ("tracecontext,baggage" by default; "" for
 * none), normalised. Thread: any. */
const char *uvotel_tracer_provider_propagators(const uvotel_tracer_provider_t *p);

/* The provider's sampler (borrowed) and limits. Thread: any. */
const uvotel_sampler_t *uvotel_tracer_provider_sampler(const uvotel_tracer_provider_t *p);
uvotel_span_limits_t uvotel_tracer_provider_limits(const uvotel_tracer_provider_t *p);

/* Counters of a provider, summed over its processors where it says so. */
typedef struct uvotel_trace_counters_s {
  uint64_t started;        /* recording spans started */
  uint64_t ended;          /* recording spans ended */
  uint64_t non_recording;  /* spans started non-recording (sampler DROP, shutdown, pool) */
  uint64_t pool_exhausted; /* starts refused a slot (max_spans reached) */
  uint64_t misuse;         /* NULL span, call on an ended span, ending twice, bad attribute */
  uint64_t dropped;        /* processors: dropped */
  uint64_t exported;       /* processors: exported */
  uint64_t failed;         /* processors: failed */
} uvotel_trace_counters_t;

/* Read the counters. NULL p or out: UVOTEL_EINVAL. Thread: any. */
int uvotel_tracer_provider_counters(const uvotel_tracer_provider_t *p,
                                    uvotel_trace_counters_t *out);

/* Misuse seen anywhere in the process, including calls that name no provider (a NULL span):
 * the sum of every provider's misuse counter plus those. Thread: any. */
uint64_t uvotel_trace_misuse_total(void);

/* ---------------------------------------------------------------------------------------------
 * Tracers
 * ------------------------------------------------------------------------------------------- */

/* The tracer for an instrumentation scope: the same object for the same (name, version) pair,
 * owned by the provider. name/version copied; NULL means "". NULL p: NULL (and span start with a
 * NULL tracer gives a non-recording span). Out of memory: NULL.
 * Thread: any. Alloc: once per scope. */
uvotel_tracer_t *uvotel_tracer_get(uvotel_tracer_provider_t *p, const char *scope_name,
                                   const char *scope_version);

/* As uvotel_tracer_get, with a schema URL (part of the scope identity). */
uvotel_tracer_t *uvotel_tracer_get_with_schema(uvotel_tracer_provider_t *p, const char *scope_name,
                                               const char *scope_version, const char *schema_url);

/* The tracer's scope and provider. Thread: any. */
const uvotel_instrumentation_scope_t *uvotel_tracer_scope(const uvotel_tracer_t *t);
uvotel_tracer_provider_t *uvotel_tracer_get_provider(const uvotel_tracer_t *t);

/* ---------------------------------------------------------------------------------------------
 * Spans
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_SPAN_ROOT 0x1u /* ignore the current span: start a new trace */

/* Span start options.
 * Parent: parent_span if set, else parent_context if set (e.g. an extracted remote context;
 *   an invalid one means root), else the current span (uvotel_current_span) unless
 *   UVOTEL_SPAN_ROOT.
 * attrs / links: copied (subject to limits); samplers see them.
 * start_unix_ns: 0 means now (CLOCK_REALTIME). */
typedef struct uvotel_span_options_s {
  uvotel_span_kind_t kind;
  uvotel_span_t *parent_span;
  const uvotel_span_context_t *parent_context;
  const uvotel_attribute_t *attrs;
  size_t n_attrs;
  const uvotel_link_t *links;
  size_t n_links;
  uint64_t start_unix_ns;
  unsigned flags; /* UVOTEL_SPAN_* */
} uvotel_span_options_t;

#define UVOTEL_SPAN_OPTIONS_INIT \
  { UVOTEL_SPAN_KIND_INTERNAL, NULL, NULL, NULL, 0, NULL, 0, 0, 0 }

/* Start a span. Never NULL: not sampled, provider shut down, pool exhausted or NULL tracer give
 * a non-recording span. Unsampled and after-shutdown spans still get ids (so the trace
 * propagates); with a NULL tracer or an exhausted pool it is a shared static span with an
 * invalid context. name copied (NULL: ""). opts NULL: INTERNAL, parent = current span.
 * The caller holds one reference, which uvotel_span_end drops: end every span exactly once and
 * do not use the pointer afterwards (later calls through it are counted no-ops while the span's
 * slot is still held by something, e.g. a context or the batch queue).
 * Thread: any. Alloc: none in steady state. */
uvotel_span_t *uvotel_span_start(uvotel_tracer_t *t, const char *name,
                                 const uvotel_span_options_t *opts);

/* A non-recording span that only carries `sc` (e.g. an extracted remote context), so it can be
 * made current with uvotel_span_enter and become the parent of later spans. End it like any
 * span. NULL sc: a span with an invalid context. Never NULL (a static invalid span when out of
 * memory). Thread: any. Alloc: one small block. */
uvotel_span_t *uvotel_span_wrap_context(const uvotel_span_context_t *sc);

/* Set an attribute (replacing the value of an existing key). Strings are copied and truncated
 * to the value length limit; a new key beyond the count limit is dropped and counted.
 * No-op on a non-recording or ended span (the latter counted as misuse), or a NULL span/key.
 * Thread: any (one thread at a time per span). Alloc: none in steady state. */
void uvotel_span_set_attribute_str(uvotel_span_t *s, const char *key, const char *value);
void uvotel_span_set_attribute_int(uvotel_span_t *s, const char *key, int64_t value);
void uvotel_span_set_attribute_double(uvotel_span_t *s, const char *key, double value);
void uvotel_span_set_attribute_bool(uvotel_span_t *s, const char *key, bool value);
/* Any type, including arrays. */
void uvotel_span_set_attribute(uvotel_span_t *s, const uvotel_attribute_t *attr);
void uvotel_span_set_attributes(uvotel_span_t *s, const uvotel_attribute_t *attrs, size_t n);

/* Add an event now / at time_unix_ns (0: now), with n attributes (copied; beyond the event
 * attribute limit dropped and counted). Beyond the event limit the event is dropped and
 * counted. name NULL: "". Thread: any. Alloc: none in steady state. */
void uvotel_span_add_event(uvotel_span_t *s, const char *name, const uvotel_attribute_t *attrs,
                           size_t n);
void uvotel_span_add_event_at(uvotel_span_t *s, const char *name, uint64_t time_unix_ns,
                              const uvotel_attribute_t *attrs, size_t n);

/* Add a link after start (beyond the link limit dropped and counted). NULL link: no-op. */
void uvotel_span_add_link(uvotel_span_t *s, const uvotel_link_t *link);

/* Set the status. As the specification says: UNSET is ignored, OK is final (later calls
 * ignored), and the description is kept only with ERROR. description copied (may be NULL). */
void uvotel_span_set_status(uvotel_span_t *s, uvotel_status_code_t code, const char *description);

/* Rename the span. name copied. */
void uvotel_span_update_name(uvotel_span_t *s, const char *name);

/* End the span now / at end_unix_ns (0: now; earlier than the start is clamped to the start).
 * The span's data becomes immutable and goes to the processors; the caller's reference is
 * dropped. Twice, or NULL: no-op, counted as misuse. Thread: any. Alloc: none. */
void uvotel_span_end(uvotel_span_t *s);
void uvotel_span_end_at(uvotel_span_t *s, uint64_t end_unix_ns);

/* 1 while the span records (sampled or RECORD_ONLY, and not ended), else 0. NULL: 0.
 * Thread: any. */
int uvotel_span_is_recording(const uvotel_span_t *s);

/* The span's context (trace_state borrowed from the span). NULL: an all-zero context.
 * Thread: any. */
uvotel_span_context_t uvotel_span_context(const uvotel_span_t *s);

/* Take / drop an extra reference, to keep a span pointer valid past its end (e.g. to read its
 * context later). uvotel_span_retain returns s. NULL: no-op. Thread: any (atomic). */
uvotel_span_t *uvotel_span_retain(uvotel_span_t *s);
void uvotel_span_release(uvotel_span_t *s);

/* ---------------------------------------------------------------------------------------------
 * The current span (an async-context variable)
 * ------------------------------------------------------------------------------------------- */

/* The current span: the value of uvotel_span_var() in the current context, borrowed (valid as
 * long as the context holds it). NULL when there is none. Thread: any. Alloc: none. */
uvotel_span_t *uvotel_current_span(void);

/* Make s the current span until uvotel_scope_exit(out). The context holds a reference to s
 * (released when the last context holding it goes), so callbacks registered meanwhile see s
 * even after it ended. NULL s makes "no span" current. NULL out: UVOTEL_EINVAL;
 * memory: UVOTEL_ENOMEM. Thread: any. Alloc: none in steady state. */
int uvotel_span_enter(uvotel_span_t *s, uvotel_scope_t *out);

/* Run fn(arg) with s current; returns fn's result. NULL fn: NULL. Thread: any. */
void *uvotel_span_run(uvotel_span_t *s, void *(*fn)(void *arg), void *arg);

/* The context variable holding the current span (values: uvotel_span_t *, retained/released
 * with atomic span reference counts). For propagators and snapshots (uvotel_snapshot_get).
 * Created on first use; never NULL except out of memory. Thread: any. */
uvotel_var_t *uvotel_span_var(void);

/* ---------------------------------------------------------------------------------------------
 * Finished span data (for processors and exporters)
 * ------------------------------------------------------------------------------------------- */

/* Keep / drop a reference to finished span data. Thread: any (atomic). retain returns d. */
const uvotel_span_data_t *uvotel_span_data_retain(const uvotel_span_data_t *d);
void uvotel_span_data_release(const uvotel_span_data_t *d);

/* Read-only accessors. d must be non-NULL finished span data (what on_end and export get).
 * Everything returned is owned by d, immutable, NUL-terminated where it is a string, and valid
 * while a reference to d is held. Thread: any. Alloc: none. */
const char *uvotel_span_data_name(const uvotel_span_data_t *d);
uvotel_span_kind_t uvotel_span_data_kind(const uvotel_span_data_t *d);
/* trace id, span id, flags, is_remote = 0, and trace_state. */
uvotel_span_context_t uvotel_span_data_context(const uvotel_span_data_t *d);
/* The parent's span id (all zero for a root span) and whether the parent was remote. */
uvotel_span_id_t uvotel_span_data_parent_span_id(const uvotel_span_data_t *d);
int uvotel_span_data_parent_is_remote(const uvotel_span_data_t *d);
/* The span's tracestate (NULL: empty). Serialise it with uvotel_trace_state_str
 * (uvotel/propagation.h). */
const uvotel_trace_state_t *uvotel_span_data_trace_state(const uvotel_span_data_t *d);
uint64_t uvotel_span_data_start_unix_ns(const uvotel_span_data_t *d);
uint64_t uvotel_span_data_end_unix_ns(const uvotel_span_data_t *d);
/* Attributes in insertion order (*n gets the count; n may not be NULL). */
const uvotel_attribute_t *uvotel_span_data_attributes(const uvotel_span_data_t *d, size_t *n);
const uvotel_event_t *uvotel_span_data_events(const uvotel_span_data_t *d, size_t *n);
const uvotel_link_t *uvotel_span_data_links(const uvotel_span_data_t *d, size_t *n);
/* Status code; *description (may be NULL) gets its description ("" unless ERROR). */
uvotel_status_code_t uvotel_span_data_status(const uvotel_span_data_t *d, const char **description);
uint32_t uvotel_span_data_dropped_attributes(const uvotel_span_data_t *d);
uint32_t uvotel_span_data_dropped_events(const uvotel_span_data_t *d);
uint32_t uvotel_span_data_dropped_links(const uvotel_span_data_t *d);
/* 1 when sampled (the SAMPLED flag); RECORD_ONLY spans reach processors with 0. */
int uvotel_span_data_is_sampled(const uvotel_span_data_t *d);
const uvotel_trace_resource_t *uvotel_span_data_resource(const uvotel_span_data_t *d);
const uvotel_instrumentation_scope_t *uvotel_span_data_scope(const uvotel_span_data_t *d);

/* The data of an ended span (NULL while it is open, or for NULL / non-recording spans).
 * Borrowed like the span. Thread: any. */
const uvotel_span_data_t *uvotel_span_data(const uvotel_span_t *s);

#ifdef __cplusplus
}
#endif
#endif
