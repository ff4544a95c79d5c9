/* uvotel tracing, the application API: tracer provider, tracers, spans, attributes and the
 * current span. The current span is an async-context variable, so it follows every instrumented
 * callback. Samplers, span processors, span exporters, id generators and finished span data --
 * what SDK plug-ins are written against -- are in uvotel/trace_sdk.h; diagnostics in
 * uvotel/diag.h. The umbrella header uvotel.h includes all three.
 *
 * The OpenTelemetry trace API and SDK specifications are the contract for behaviour; this header
 * fixes the C names. Layering (as in opentelemetry-cpp): the application talks to tracers and
 * spans; a provider owns a sampler, span limits, an id generator and span processors; processors
 * hand finished spans to exporters.
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
#include "uvotel/diag.h"

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
  UVOTEL_VALUE_NONE = 0, /* an empty value (OTLP: an AnyValue with no field set) */
  UVOTEL_VALUE_STRING = 1,
  UVOTEL_VALUE_BOOL = 2,
  UVOTEL_VALUE_INT = 3, /* int64 */
  UVOTEL_VALUE_DOUBLE = 4,
  UVOTEL_VALUE_STRING_ARRAY = 5,
  UVOTEL_VALUE_BOOL_ARRAY = 6,
  UVOTEL_VALUE_INT_ARRAY = 7,
  UVOTEL_VALUE_DOUBLE_ARRAY = 8,
  UVOTEL_VALUE_BYTES = 9,  /* a byte array: u.bytes, len bytes */
  UVOTEL_VALUE_KVLIST = 10 /* a map: u.kv, len entries (key = value, values of any type) */
} uvotel_value_type_t;

struct uvotel_attribute_s;

/* At most this many KVLIST values nested within each other in one attribute; an attribute with
 * deeper nesting is dropped (counted in the span's dropped attributes). */
#define UVOTEL_VALUE_MAX_DEPTH 8

/* A typed attribute value. `len`: byte length of a STRING (not counting the NUL), or the element
 * count of an array.
 *
 * Input (the application hands values in): strings are NUL-terminated and `len` is ignored for
 * STRING (strlen is used); strings inside a STRING_ARRAY are NUL-terminated; arrays have `len`
 * elements. BYTES: `len` bytes at u.bytes (may be NULL only when len is 0). KVLIST: `len`
 * entries at u.kv (NULL only when len is 0); entry keys follow the attribute key rules, a bad
 * entry (NULL/empty key, NULL data with len > 0) makes the whole attribute invalid (misuse);
 * nesting is bounded by UVOTEL_VALUE_MAX_DEPTH; duplicate keys inside a KVLIST are kept as given.
 * NONE is a valid empty value. Everything is copied: the caller's buffers may be freed as soon as
 * the call returns. The attribute value-length limit truncates STRINGs by characters and BYTES
 * by bytes, and applies to every string inside a KVLIST.
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
    const uint8_t *bytes;
    const struct uvotel_attribute_s *kv;
  } u;
} uvotel_value_t;

/* key = value. Input: key NUL-terminated, copied. Output: key NUL-terminated, owned by the span
 * data. An attribute with a NULL or empty key, an unknown type, or NULL data with len > 0 is
 * ignored (counted as misuse). Type NONE is an empty value and is stored. */
typedef struct uvotel_attribute_s {
  const char *key;
  uvotel_value_t value;
} uvotel_attribute_t;

/* Initialisers for literal attribute arrays:
 *   uvotel_attribute_t a[] = {UVOTEL_ATTR_STR("http.method", "GET"), UVOTEL_ATTR_INT("n", 3)}; */
/* clang-format off */
#define UVOTEL_ATTR_STR(k, v)                 {(k), {UVOTEL_VALUE_STRING, 0, {.s = (v)}}}
#define UVOTEL_ATTR_BOOL(k, v)                {(k), {UVOTEL_VALUE_BOOL, 0, {.b = (v)}}}
#define UVOTEL_ATTR_INT(k, v)                 {(k), {UVOTEL_VALUE_INT, 0, {.i = (v)}}}
#define UVOTEL_ATTR_DOUBLE(k, v)              {(k), {UVOTEL_VALUE_DOUBLE, 0, {.d = (v)}}}
#define UVOTEL_ATTR_STR_ARRAY(k, arr, n)      {(k), {UVOTEL_VALUE_STRING_ARRAY, (n), {.sa = (arr)}}}
#define UVOTEL_ATTR_BOOL_ARRAY(k, arr, n)     {(k), {UVOTEL_VALUE_BOOL_ARRAY, (n), {.ba = (arr)}}}
#define UVOTEL_ATTR_INT_ARRAY(k, arr, n)      {(k), {UVOTEL_VALUE_INT_ARRAY, (n), {.ia = (arr)}}}
#define UVOTEL_ATTR_DOUBLE_ARRAY(k, arr, n)   {(k), {UVOTEL_VALUE_DOUBLE_ARRAY, (n), {.da = (arr)}}}
#define UVOTEL_ATTR_BYTES(k, p, n)            {(k), {UVOTEL_VALUE_BYTES, (n), {.bytes = (p)}}}
#define UVOTEL_ATTR_KVLIST(k, kvs, n)         {(k), {UVOTEL_VALUE_KVLIST, (n), {.kv = (kvs)}}}
#define UVOTEL_ATTR_EMPTY(k)                  {(k), {UVOTEL_VALUE_NONE, 0, {.i = 0}}}
/* clang-format on */

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
/* Plugs for the SDK (uvotel/trace_sdk.h defines the ops table). */
typedef struct uvotel_id_generator_ops_s uvotel_id_generator_ops_t;

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
 * attribute_value_length truncates string values (and each string of a string array or of a
 * KVLIST, at any depth) to that many Unicode characters (never splitting a UTF-8 sequence), and
 * BYTES values to that many bytes. */
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
 * Tracer provider
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE 0x1u /* skip the SDK default resource attributes */
#define UVOTEL_PROVIDER_NO_ENV_RESOURCE \
  0x2u /* ignore OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES */
#define UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER 0x4u /* no processors means none, not the default */
#define UVOTEL_PROVIDER_NO_DETECTORS 0x8u        /* run no resource detector (uvotel/trace_sdk.h) */

/* Provider options.
 * Resource: the SDK default (service.name = unknown_service:<executable>, telemetry.sdk.name
 *   "uvotel", telemetry.sdk.language "c", telemetry.sdk.version, process.pid, host.name), then
 *   the resource detectors (service.instance.id, process.*, process.runtime.*, os.*,
 *   host.arch, container.id; see uvotel/trace_sdk.h), then OTEL_RESOURCE_ATTRIBUTES and
 *   OTEL_SERVICE_NAME, then resource_attrs: later keys win. NO_DEFAULT_RESOURCE also skips the
 *   detectors.
 * Sampler: owned; NULL means parentbased_always_on.
 * Processors: each owned (also when create fails). None given: the embedded default, a batch
 *   processor on `loop` with the "file" exporter (uvotel-traces.jsonl), unless
 *   UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER.
 * max_spans: pool capacity (spans alive at once: open, queued or held); beyond it starts return
 *   a non-recording span and count pool_exhausted. 0: 65536.
 * prealloc_spans: span slots made ready at creation (the slot with room for 8 attributes and
 *   256 bytes of strings inline, touched: 768 bytes each), so the first spans cost what later
 *   ones do; beyond them the pool grows on demand. Counted in chunks of 256 slots (rounded up).
 *   0: 4096 (at most max_spans);
 *   UVOTEL_PREALLOC_NONE: none (all on demand). Out of memory here is said (warn) and the pool
 *   grows on demand. */
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
  /* Resource detectors to run, by name, comma-separated ("none": none). NULL: the
   * OTEL_RESOURCE_DETECTORS variable, and when that is unset every registered detector. */
  const char *resource_detectors;
  uint32_t prealloc_spans; /* 0: 4096 (at most max_spans); UVOTEL_PREALLOC_NONE: none */
} uvotel_tracer_provider_options_t;

#define UVOTEL_PREALLOC_NONE UINT32_MAX

#define UVOTEL_TRACER_PROVIDER_OPTIONS_INIT \
  { NULL, 0, NULL, NULL, NULL, 0, UVOTEL_SPAN_LIMITS_INIT, NULL, NULL, NULL, 0, 0, NULL, 0 }

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
 *                             name; a name given twice is used once); unset: otlp when any
 *                             OTEL_EXPORTER_OTLP_*ENDPOINT variable is set, else file (the
 *                             embedded default, when no collector is configured at all). Each
 *                             exporter gets its own batch processor (console: a simple one).
 *   OTEL_PROPAGATORS          tracecontext, baggage, b3, b3multi, jaeger, none (any case);
 *                             other names (xray, ottrace, unknown ones) are refused with an
 *                             error naming them, nothing substituted.
 *                             The result is kept (uvotel_tracer_provider_propagators) and made
 *                             the global propagator (uvotel_propagator_global: what a NULL
 *                             propagator means) until this provider is freed.
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

/* Flush every processor; the deadline is shared. 0 only when every span ended before the call
 * (since the previous flush or shutdown) was delivered; otherwise UVOTEL_ETIMEDOUT (the deadline
 * passed first) or UVOTEL_EIO (spans failed or were dropped), and a warning says how many (the
 * counters have the totals). NULL: UVOTEL_EINVAL. Thread: the processors' loop thread. */
int uvotel_tracer_provider_force_flush(uvotel_tracer_provider_t *p, uint64_t timeout_ms);

/* Shut down every processor (flushing first) within the deadline. Afterwards spans started from
 * this provider are non-recording. Returns as force_flush: 0 only when nothing ended before it
 * was lost. Recording spans still open when the processors are shut down (started, never
 * ended: not exported) are counted (open_at_shutdown in the counters), warned about ("N spans
 * were still open at shutdown and were not exported") and make it return UVOTEL_EIO when
 * nothing else failed. Twice: UVOTEL_ESHUTDOWN. NULL: UVOTEL_EINVAL.
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

/* Counters of a provider, summed over its processors where it says so: the pipeline's
 * statistics for any provider, one built from the environment included. A span handed to a
 * processor is counted once: exported, dropped or failed (or still queued / in flight). With
 * several processors (OTEL_TRACES_EXPORTER=otlp,console) each counts its own copy of a span.
 * The struct only grows at the end. */
typedef struct uvotel_trace_counters_s {
  uint64_t started;        /* recording spans started */
  uint64_t ended;          /* recording spans ended */
  uint64_t non_recording;  /* spans started non-recording (sampler DROP, shutdown, pool) */
  uint64_t pool_exhausted; /* starts refused a slot (max_spans reached) */
  uint64_t misuse;         /* NULL span, call on an ended span, ending twice, bad attribute */
  uint64_t dropped;        /* processors: never handed to an exporter (queue full, after
                              shutdown, left at shutdown's deadline) */
  uint64_t exported;       /* processors: accepted by the receiver */
  uint64_t failed;         /* processors: rejected, given up after retries, timed out */
  uint64_t queued;         /* processors: waiting in a queue now */
  uint64_t in_flight;      /* processors: handed to an exporter, result not yet known */
  uint64_t received;       /* processors: sampled spans handed to them */
  /* Appended member (read only through the sized call below): recording spans started but not
   * ended when uvotel_tracer_provider_shutdown finished (started - ended at that moment; 0
   * before shutdown). They were not exported: shutdown warned "N spans were still open at
   * shutdown and were not exported" and returned UVOTEL_EIO. One ended later is also counted
   * in dropped (it arrives after shutdown). */
  uint64_t open_at_shutdown;
} uvotel_trace_counters_t;

/* Read the counters into out, size bytes of it: size is sizeof(uvotel_trace_counters_t) as the
 * caller compiled it, so a program built against an older header (a shorter struct) gets only
 * the fields it knows and nothing is written past them. uvotel_tracer_provider_counters(p, out)
 * is a macro passing this header's size. NULL p or out, or size below the first version's
 * (the 11 members up to received): UVOTEL_EINVAL. Thread: any. */
int uvotel_tracer_provider_counters_sized(const uvotel_tracer_provider_t *p,
                                          uvotel_trace_counters_t *out, size_t size);

/* The first version's entry point, kept for programs built before the struct grew: it fills
 * the 11 members up to received only (taking its address gets this one, not the macro). */
int uvotel_tracer_provider_counters(const uvotel_tracer_provider_t *p,
                                    uvotel_trace_counters_t *out);
#define uvotel_tracer_provider_counters(p, out) \
  uvotel_tracer_provider_counters_sized((p), (out), sizeof(uvotel_trace_counters_t))

/* Misuse seen anywhere in the process, including calls that name no provider (a NULL span):
 * the sum of every provider's misuse counter plus those. Thread: any. */
uint64_t uvotel_trace_misuse_total(void);

/* ---------------------------------------------------------------------------------------------
 * The global tracer provider
 * ------------------------------------------------------------------------------------------- */

/* Make p the process-wide provider that libraries use when nobody hands them one (the
 * OpenTelemetry API's global TracerProvider). p is borrowed: it stays the global one until
 * another is set, NULL is set, or p is freed (uvotel_tracer_provider_free clears it). Tracers
 * obtained before keep the provider they came from. The preload sets its provider here.
 * Returns 0. Thread: any. */
int uvotel_tracer_provider_set_global(uvotel_tracer_provider_t *p);

/* The global provider, or (none set) a no-op provider whose spans never record and whose
 * tracers are valid for the whole process. Never NULL. Thread: any. */
uvotel_tracer_provider_t *uvotel_tracer_provider_global(void);

/* uvotel_tracer_get(uvotel_tracer_provider_global(), scope_name, version). Thread: any. */
uvotel_tracer_t *uvotel_global_tracer(const char *scope_name, const char *version);

/* 1 when p is the no-op provider uvotel_tracer_provider_global returns while none is set.
 * Thread: any. */
int uvotel_tracer_provider_is_noop(const uvotel_tracer_provider_t *p);

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
/* As uvotel_tracer_get_with_schema, with attributes of the instrumentation scope (copied;
 * invalid ones ignored). The same name, version, schema URL and equal attributes in the same
 * order give the same tracer. NULL p, or NULL attrs with n_attrs > 0: NULL. Thread: any. */
uvotel_tracer_t *uvotel_tracer_get_with_attributes(uvotel_tracer_provider_t *p,
                                                   const char *scope_name,
                                                   const char *scope_version,
                                                   const char *schema_url,
                                                   const uvotel_attribute_t *attrs, size_t n_attrs);

/* OpenTelemetry's Tracer.Enabled: 0 when spans started now could not be recorded or exported
 * (the provider is shut down, has no processor, or samples nothing: always_off, as with
 * OTEL_SDK_DISABLED), so instrumentation can skip expensive work; 1 otherwise. Ask each time
 * (the answer changes at shutdown). NULL: 0. Thread: any. */
int uvotel_tracer_enabled(const uvotel_tracer_t *t);

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
 * start_unix_ns: 0 means now (the clock anchor's CLOCK_REALTIME plus the time since it: see
 *   uvotel_span_data_start_unix_ns); non-zero: kept exactly. */
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
/* The same with a borrowed key: key_len is strlen(key) and the key is NOT copied, so it must stay
 * valid and unchanged as long as any span data holding it lives (string literals, static
 * storage; a key freed earlier is read after it is freed). Values are copied as above. This
 * saves the key's strlen and copy: the UVOTEL_SPAN_SET_*_LIT macros pass a literal and its size.
 * Bad input (NULL span/key, key_len 0, key[key_len] not the key's NUL, NULL string value) is
 * ignored and counted as misuse. Thread: any (one thread at a time per span). Alloc: none in
 * steady state. */
void uvotel_span_set_attribute_str_static(uvotel_span_t *s, const char *key, size_t key_len,
                                          const char *value);
void uvotel_span_set_attribute_int_static(uvotel_span_t *s, const char *key, size_t key_len,
                                          int64_t value);
void uvotel_span_set_attribute_double_static(uvotel_span_t *s, const char *key, size_t key_len,
                                             double value);
void uvotel_span_set_attribute_bool_static(uvotel_span_t *s, const char *key, size_t key_len,
                                           bool value);
/* key must be a string literal ("" key "" refuses anything else at compile time). */
#define UVOTEL_SPAN_SET_STR_LIT(s, key, v) \
  uvotel_span_set_attribute_str_static((s), "" key "", sizeof(key) - 1, (v))
#define UVOTEL_SPAN_SET_INT_LIT(s, key, v) \
  uvotel_span_set_attribute_int_static((s), "" key "", sizeof(key) - 1, (v))
#define UVOTEL_SPAN_SET_DOUBLE_LIT(s, key, v) \
  uvotel_span_set_attribute_double_static((s), "" key "", sizeof(key) - 1, (v))
#define UVOTEL_SPAN_SET_BOOL_LIT(s, key, v) \
  uvotel_span_set_attribute_bool_static((s), "" key "", sizeof(key) - 1, (v))
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

/* Record an exception (an error) as the semantic conventions' "exception" event, with
 * exception.type, exception.message and exception.stacktrace (each copied; NULL or "" left
 * out; at least one of type and message is required). The specification leaves the status to
 * the caller; UVOTEL_EXCEPTION_SET_STATUS also sets ERROR with the message (or the type) as
 * the description, the common case for an error that ends the operation. Neither type nor
 * message, or unknown flags: nothing recorded, counted as misuse. Thread: as the span. */
#define UVOTEL_EXCEPTION_SET_STATUS 0x1u
void uvotel_span_record_exception(uvotel_span_t *s, const char *type, const char *message,
                                  const char *stacktrace, unsigned flags);

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

/* The data of an ended span (NULL while it is open, or for NULL / non-recording spans).
 * Borrowed like the span. Thread: any. */
const uvotel_span_data_t *uvotel_span_data(const uvotel_span_t *s);

#ifdef __cplusplus
}
#endif
#endif
