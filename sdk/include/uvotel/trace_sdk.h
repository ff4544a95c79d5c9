/* uvotel tracing SDK interface: what those who write samplers, span processors, span exporters
 * and id generators build against. Applications that only start spans need uvotel/trace.h;
 * the umbrella header uvotel.h includes both.
 *
 * Every plug is an ops table plus a `self` pointer (opentelemetry-cpp's seams): samplers
 * (should_sample / description), processors (on_start / on_end / force_flush / shutdown),
 * exporters (export / force_flush / shutdown), id generators. Exporters read finished spans only
 * through the uvotel_span_data_* accessors at the end of this header.
 *
 * Fill every ops table with designated initializers
 *     static const uvotel_span_processor_ops_t ops = {.on_end = my_on_end, .free = my_free};
 * never positionally: tables only grow at the end (the processor's free_async was appended),
 * members left out are NULL or 0, which is what "not implemented" means here, and a
 * positional initializer written against an older header no longer names every member
 * (-Wextra warns: -Wmissing-field-initializers). */
#ifndef UVOTEL_TRACE_SDK_H
#define UVOTEL_TRACE_SDK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "uvotel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Id generator
 * ------------------------------------------------------------------------------------------- */

/* Produces trace and span ids. The SDK retries while a result is all zero (at most a few times,
 * then falls back to its own generator), so ids are never invalid. Called on any thread that
 * starts spans: must be thread-safe. */
struct uvotel_id_generator_ops_s {
  void (*trace_id)(void *self, uvotel_trace_id_t *out);
  void (*span_id)(void *self, uvotel_span_id_t *out);
  /* 1 when the rightmost 7 bytes of trace ids are random (sets the W3C Level 2 random flag on
   * new traces). */
  int random_trace_ids;
};

/* The built-in generator: a per-thread xoshiro256** seeded from getrandom(2), never all zero,
 * random trace ids. Fill ids directly (useful for tests and custom generators).
 * Thread: any. Alloc: none. */
void uvotel_random_trace_id(uvotel_trace_id_t *out);
void uvotel_random_span_id(uvotel_span_id_t *out);

/* ---------------------------------------------------------------------------------------------
 * Resource detectors
 * ------------------------------------------------------------------------------------------- */

/* What a detector hands each attribute to (copied; borrowed for the call). */
typedef void (*uvotel_resource_emit_fn)(void *ctx, const uvotel_attribute_t *attr);

/* A resource detector: `detect` emits attributes about the environment. Called while a provider
 * is created, on the creating thread; it must not block for long (no network). Built in, in
 * this order: "service_instance" (service.instance.id, a random UUID per provider),
 * "process" (process.executable.name/path, process.command_args: at most 64 arguments of at
 * most 256 bytes), "runtime" (process.runtime.name "libuv", .version, .description), "os"
 * (os.type, os.version, os.description), "host" (host.name, host.arch), "container"
 * (container.id from /proc/self/cgroup or mountinfo, when there is one).
 * The struct only grows: set size to sizeof(uvotel_resource_detector_t). */
typedef struct uvotel_resource_detector_s {
  size_t size;
  const char *name; /* borrowed; no commas */
  void (*detect)(void *self, uvotel_resource_emit_fn emit, void *ctx);
  void *self;
} uvotel_resource_detector_t;

/* Add d to the detectors OTEL_RESOURCE_DETECTORS can name (replacing one of the same name,
 * built-ins included); by default every registered detector runs, in registration order.
 * The struct is copied, its name and self borrowed. NULL d, a size smaller than this header's,
 * no name or detect: UVOTEL_EINVAL; more than 32: UVOTEL_ERANGE. Thread: any. */
int uvotel_resource_detector_register(const uvotel_resource_detector_t *d);

/* The container id in a /proc/<pid>/cgroup or mountinfo text: the last run of exactly 64
 * lowercase hex digits; into out (NUL-terminated). None: UVOTEL_ENOENT; NULL text or out:
 * UVOTEL_EINVAL. Thread: any. */
int uvotel_resource_parse_container_id(const char *text, size_t len, char out[65]);

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
 * self when the sampler is freed. Designated initializers (see the top of this header). */
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
 * (arg: the ratio, default 1.0); names compare ASCII case-insensitively. Unknown name:
 * UVOTEL_ENOTSUP; bad arg: UVOTEL_EPARSE (and
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

/* The exporter may be called again while an earlier export is still running (from another
 * thread, or with an asynchronous export not yet completed): the batch processor then runs up to
 * max_concurrent_exports exports at once.
 * Without it, at most one export per exporter is in flight. */
#define UVOTEL_EXPORTER_CONCURRENT 0x1u

/* How an asynchronous export reports its outcome (see export_async below). done(arg, result,
 * rejected) is called exactly once per export_async that returned 0, on any thread (typically
 * the exporter's own), possibly before export_async returns. result 0: the receiver accepted
 * the batch, except `rejected` spans it refused (OTLP partial success), which count as failed;
 * result non-zero (a UVOTEL_E* / libuv code): all n spans failed (rejected, or given up after
 * retries or at the export timeout). The struct is borrowed until done is called. */
typedef struct uvotel_export_completion_s {
  void (*done)(void *arg, int result, size_t rejected);
  void *arg;
} uvotel_export_completion_t;

/* An exporter: turns batches of finished spans into output. The SDK serialises calls unless the
 * exporter sets UVOTEL_EXPORTER_CONCURRENT.
 *
 * "Exported" means delivered: accepted by the receiver (written, for a file). Whichever entry
 * point the exporter offers, its result must say that, never merely "queued".
 *
 * export: encode and deliver n >= 1 spans. Synchronous: returns when done, 0 on success or a
 *   negative UVOTEL_E* / libuv code on failure (the spans count as failed). Called on the batch
 *   processor's own export thread (never libuv's thread pool), on the ending thread by the
 *   simple processor, or on whatever thread calls uvotel_span_exporter_export. It may block, but
 *   must give up after about timeout_ms (the processor's export timeout, OTEL_BSP_EXPORT_TIMEOUT)
 *   and return UVOTEL_ETIMEDOUT. The span
 *   pointers and everything reachable from them are valid until export returns; to keep a span
 *   longer, uvotel_span_data_retain it. Must not call back into span start/end.
 * export_async (may be NULL; appended member): the same batch, delivered in the background.
 *   Returns 0 when the exporter took the batch: it then calls completion->done exactly once when
 *   the outcome is known (within about timeout_ms). Returns non-zero when it refused the batch
 *   (done is never called; the spans count as failed, or as dropped for UVOTEL_EBUSY, "queue
 *   full"). The span pointers are valid until export_async returns: encode or retain them
 *   before. The batch processor prefers it over export, so deliveries overlap without a thread
 *   blocked per batch; the simple processor and uvotel_span_exporter_export use export.
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
  int (*export_async)(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms, const uvotel_export_completion_t *completion);
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

/* Export asynchronously: the exporter's export_async when it has one, else its synchronous
 * export followed at once by completion->done (on the calling thread). 0: completion->done will
 * be called exactly once; non-zero: refused, done is not called (UVOTEL_ESHUTDOWN after shutdown,
 * UVOTEL_EBUSY queue full, or the exporter's error). NULL e or completion (or its done):
 * UVOTEL_EINVAL; n == 0: done(arg, 0, 0) at once. Thread: any. */
int uvotel_span_exporter_export_async(uvotel_span_exporter_t *e,
                                      const uvotel_span_data_t *const *spans, size_t n,
                                      uint64_t timeout_ms,
                                      const uvotel_export_completion_t *completion);

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
 * Registering a name again replaces the factory. Names compare ASCII case-insensitively (the
 * specification's rule for enum values: OTEL_TRACES_EXPORTER=OTLP is otlp). NULL name or fn:
 * UVOTEL_EINVAL; more than 32 names: UVOTEL_ERANGE. Thread: any. */
typedef uvotel_span_exporter_t *(*uvotel_span_exporter_factory_fn)(const char *name, void *arg);
int uvotel_span_exporter_register(const char *name, uvotel_span_exporter_factory_fn fn, void *arg);

/* Create an exporter through a registered factory. Unknown name: NULL (and a diagnostics
 * message). Thread: any. */
uvotel_span_exporter_t *uvotel_span_exporter_create_by_name(const char *name);

/* ---------------------------------------------------------------------------------------------
 * Span processors
 * ------------------------------------------------------------------------------------------- */

/* Counters of a processor (the built-in ones fill all; a custom one whatever it knows). */
/* Each received span ends up in exactly one of exported, dropped, failed (or is still queued or
 * in flight): nothing is counted twice. */
typedef struct uvotel_span_processor_counters_s {
  uint64_t received;  /* sampled spans handed to on_end */
  uint64_t dropped;   /* never handed to an exporter: queue full (the processor's, or the
                         exporter's: UVOTEL_EBUSY), arrived after shutdown, or still queued when
                         shutdown's deadline passed */
  uint64_t exported;  /* accepted by the receiver (the export's result, when it is known) */
  uint64_t failed;    /* handed to an export that failed: rejected, given up after retries,
                         timed out, or abandoned at shutdown */
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
 * force_flush / shutdown: deliver what is pending, within timeout_ms; 0 only when every span
 *   it received was delivered; UVOTEL_ETIMEDOUT, or an error (UVOTEL_EIO for the built-ins) when
 *   some were not. May be NULL.
 * free: release self, after shutdown. May be NULL.
 * counters: fill *out (zeroed before the call). May be NULL.
 * free_async (may be NULL; appended member): used instead of free when set. Release self in the
 *   processor's own time (handles to close, exports to finish) and call done(arg) exactly once
 *   (on the thread that finishes it, possibly before free_async returns) when it no longer
 *   touches any span data: the provider keeps its span storage until then. done may be NULL.
 *   Thread: as free.
 * The table only grows at the end. */
typedef struct uvotel_span_processor_ops_s {
  void (*on_start)(void *self, uvotel_span_t *span, const uvotel_span_context_t *parent);
  void (*on_end)(void *self, const uvotel_span_data_t *span);
  int (*force_flush)(void *self, uint64_t timeout_ms);
  int (*shutdown)(void *self, uint64_t timeout_ms);
  void (*free)(void *self);
  void (*counters)(void *self, uvotel_span_processor_counters_t *out);
  void (*free_async)(void *self, void (*done)(void *arg), void *arg);
} uvotel_span_processor_ops_t;

/* Wrap an ops table and self. ops is borrowed. NULL ops: NULL. Out of memory: NULL after
 * ops->free(self) (free_async(self, NULL, NULL) when set). Thread: any. */
uvotel_span_processor_t *uvotel_span_processor_create(const uvotel_span_processor_ops_t *ops,
                                                      void *self);

/* Simple processor: exports each sampled span synchronously in on_end, on the ending thread,
 * one span per export (failures are warned about at most once per 5 s; force_flush and shutdown
 * return UVOTEL_EIO and warn with the count when spans were lost since the previous call). For
 * tests and debugging. Takes ownership of the exporter (freed with the processor, or at once if
 * creation fails). NULL exporter: NULL. Thread: any. */
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
  /* Back-pressure (appended member): 0 (the default) drops a span at once when the queue is
   * full; > 0 makes the span's end wait up to this many ms for room first (clamped to
   * export_timeout_ms), as Go's WithBlocking; UVOTEL_BSP_BLOCK_TIMEOUT (ms) sets it in
   * uvotel_tracer_provider_from_env. See the processor's Thread: rules below. */
  uint64_t block_timeout_ms;
} uvotel_batch_span_processor_options_t;

#define UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT \
  { NULL, 2048, 512, 5000, 30000, 1, 0 }

/* Batch processor: on_end puts sampled spans in a bounded lock-free queue (by default never
 * blocks; a full queue drops the span and counts it). A batch of up to max_export_batch_size spans
 * is handed to the exporter when that many are queued or schedule_delay_ms passed since the last
 * export. The export call (encoding and, for a synchronous exporter, delivery) runs on the
 * processor's own export thread(s), never on libuv's thread pool: flush and shutdown make progress
 * while the application keeps every pool thread busy, and a program that never used the pool does
 * not start it. At most one export call runs at a time unless the exporter is CONCURRENT (then up
 * to max_concurrent_exports, each on its own thread). For a synchronous exporter that is also
 * the number of batches in flight; an asynchronous one (export_async) returns once it has taken
 * the batch, so deliveries overlap up to its own queue's bound (up to 64 batches beyond those
 * being handed over). An export's result is counted when it is known: the exporter's
 * export_async completion, or export's return value. A batch's spans are released on the export
 * thread as soon as the export call returned, so the loop thread does no work per span after
 * handing a batch over.
 *
 * Losses are said through diagnostics (warn) at most once per 5 s (and per schedule delay)
 * with the counts since the last report: queue overflow, failed exports.
 *
 * Back-pressure (block_timeout_ms > 0, opt-in): a span ending on a full queue waits up to
 * block_timeout_ms for room before it is dropped (and then counted and said, "after waiting N
 * ms for room", like any drop). Thread: on the loop's own thread the waiting span end runs the
 * processor's dispatch itself (takes back finished exports, starts new ones on the export
 * threads), so the loop is never needed to free room and is blocked at most block_timeout_ms
 * per span end (its other callbacks wait that long: choose a bound the program can afford);
 * on any other thread it wakes the loop and sleeps until the loop takes spans from the queue,
 * so a loop that is not running (blocked elsewhere, or never run) means waiting the full bound.
 * After shutdown, or in a forked child, it does not wait. Spans end in order of their end
 * calls per thread; a waiting thread does not hold any lock other threads need.
 *
 * force_flush / shutdown (Thread: the loop's thread, while the loop is not running a callback
 * of this processor) deliver everything queued in batches of at most max_export_batch_size,
 * waiting for the results. They return 0 only when no span was lost since the previous
 * force_flush / shutdown (or creation): UVOTEL_ETIMEDOUT once the deadline passes with spans not
 * yet delivered, UVOTEL_EIO when spans failed or were dropped; in both cases a warning says how
 * many. At shutdown's deadline spans still queued are dropped and an exporter that can (an
 * asynchronous or concurrent one) is shut down at once, abandoning what it still holds (counted
 * failed); exports still running in a synchronous exporter finish in the background and are
 * counted when they do. Its handles are unreferenced, so they never keep the loop alive (except
 * while an abandoned export is still running after shutdown); after shutdown the loop must
 * run once more (uv_run) to close them before uv_loop_close. A loop that never polls (nothing
 * of the program's referenced, so uv_run returns at once) still exports: a span end on the
 * loop's thread that fills a batch hands it to an export thread and takes back finished ones
 * itself; what a partial batch holds goes at the next full batch, force_flush or shutdown.
 * Takes ownership of the exporter. NULL exporter: NULL; bad options (max_queue_size 0, batch
 * size 0): UVOTEL_EINVAL reported and NULL. Thread: the loop's thread. Alloc: the queue and
 * the export jobs of steady state, once. */
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
/* Start and end in Unix ns (end: 0 before the span ends, never before the start). A span keeps
 * raw clock ticks and these convert them when called (Thread: any), through a clock anchor
 * (TSC and CLOCK_REALTIME read together) re-taken about every second: a span's times are
 * consistent with each other (start, events and end use the anchor current at its start) and a
 * wall-clock step shows in spans started about a second after it. Without an invariant TSC the
 * anchor is the process's first provider creation plus CLOCK_MONOTONIC time (steps after it
 * are not followed).
 * Times given explicitly (start_unix_ns, uvotel_span_end_at) come back exactly as given. */
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

/* ---------------------------------------------------------------------------------------------
 * Internal to uvotel's own libraries (the instrumentation library's accept spans); not API, may
 * change without notice.
 * ------------------------------------------------------------------------------------------- */

/* 1 once a span was started with s (as a local span object: the current span or
 * options.parent_span) as its parent; a start from s's context alone (parent_context) is not
 * seen. NULL: 0. Thread: any. */
int uvotel__span_has_children(const uvotel_span_t *s);
/* End s (the caller's reference) without it ever becoming a span: no processor's on_end, not
 * counted as started, ended, received, exported or dropped. Returns 1. When a processor has an
 * on_start (it saw the start), or s is not recording, s is ended as uvotel_span_end would and
 * 0 is returned. NULL: 0. Thread: the thread that would end it. */
int uvotel__span_discard(uvotel_span_t *s);
/* 1 when s may read a span start's attributes (it is not built from uvotel's own samplers
 * alone), so they must be given at the start rather than set after it. NULL: 0. Thread: any. */
int uvotel__sampler_reads_attributes(const uvotel_sampler_t *s);

/* An attribute key prepared once for uvotel__span_set_attrs: the key (borrowed, as by the
 * _static setters: it must stay valid and unchanged while any span holding it lives), its byte
 * length, its hash, the hash's low 32 bits next to len (the span stores the two as one word) and
 * its bloom bit (every bit for an invalid key). len 0: not a valid key. Filled by
 * uvotel__attr_key_init only. */
typedef struct uvotel__attr_key_s {
  const char *key;
  uint32_t len;
  uint32_t hash32;
  uint64_t hash;
  uint64_t bloom;
} uvotel__attr_key_t;

/* Prepare *k for key (key_len bytes, key[key_len] its NUL: the _static setters' rule). 0, or
 * UVOTEL_EINVAL for a NULL k, a NULL or empty key or a wrong length (then k->len is 0 and
 * uvotel__span_set_attrs reports the entry as the setter would). Thread: any. Alloc: none. */
int uvotel__attr_key_init(uvotel__attr_key_t *k, const char *key, size_t key_len);

/* One entry for uvotel__span_set_attrs: a prepared key (never NULL) and a value of type STRING (u.s
 * and its byte length in len, no NUL among those bytes, which need not be NUL-terminated; u.s may
 * be NULL when len is 0: ""), INT, DOUBLE or BOOL (len ignored). */
typedef struct uvotel__attr_in_s {
  const uvotel__attr_key_t *key;
  uvotel_value_t value;
} uvotel__attr_in_t;

/* Set a[0..n) on s in order, leaving exactly the span data (attributes, their order, values,
 * truncation, dropped count, misuse counts) that the _static setter of each entry's type called
 * in the same order would leave, with a string value as the NUL-terminated copy of its bytes.
 * The entries that are the setters' common case (a new key, room below the count limit and the
 * linear range, a value within the length limit and the arena's current buffer) are appended in
 * one pass; the first one that is not, and every one after it, take the setters' own path. A
 * NULL a with n > 0 is misuse. Thread: the span's (as the setters). Alloc: as the setters. */
void uvotel__span_set_attrs(uvotel_span_t *s, const uvotel__attr_in_t *a, size_t n);
#ifdef __cplusplus
}
#endif
#endif
