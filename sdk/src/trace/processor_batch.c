/* The batch span processor: the span side of the export pipeline (sdk/src/pipeline/): on_end
 * puts sampled spans in its queue; the queue's consumer, the export threads, the counters, the
 * deadlines and fork handling are the pipeline's, shared with the batch log processor. */
#include "../pipeline/pipeline_internal.h"
#include "trace_internal.h"

/* ---- batch processor ---- */

typedef uvotel__pipe_t batch_t;

static inline int batch_push(batch_t *b, const uvotel_span_data_t *d) {
  return uvotel__pipe_push(b, d);
}
static int batch_push_blocking(batch_t *b, const uvotel_span_data_t *d) {
  return uvotel__pipe_push_blocking(b, d);
}
static inline uint32_t busy(batch_t *b) {
  return uvotel__pipe_busy(b);
}
static void dispatch_full(batch_t *b) {
  uvotel__pipe_dispatch_full(b);
}

static void batch_on_end(void *self, const uvotel_span_data_t *d) {
  batch_t *b = self;
  if (!(((const uvotel_span_t *)d)->ctx.flags & UVOTEL_TRACE_FLAG_SAMPLED)) return;
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&b->shut, memory_order_acquire))) {
    /* Shut down: nothing will export it, and the wake-up handle may be closed. */
    atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->dropped_at_end, 1, memory_order_relaxed);
    return;
  }
  uvotel__span_data_keep(d); /* the ender's reference when this is the last processor */
  int c = batch_push(b, d);
  if (UVOTEL__UNLIKELY(c < 0) && b->o.block_timeout_ms > 0) c = batch_push_blocking(b, d);
  if (UVOTEL__UNLIKELY(c < 0)) {
    /* Full. On a loop that never polls nothing else would start the next export once the one
     * in flight is back: on the loop's thread, start it here, so the spans after this one find
     * room (as the log processor does). */
    uv_thread_t self_thread = uv_thread_self();
    if (uv_thread_equal(&self_thread, &b->loop_thread) && busy(b) == 0) dispatch_full(b);
    uvotel_span_data_release(d);
    atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->dropped_at_end, 1, memory_order_relaxed);
    if (b->o.block_timeout_ms > 0) {
      atomic_fetch_add_explicit(&b->dropped_blocked, 1, memory_order_relaxed);
    }
    return;
  }
  if (UVOTEL__UNLIKELY((uint32_t)c >= b->o.max_export_batch_size)) {
    /* On the loop's own thread hand the batch off at once, so a long callback ending many
     * spans does not fill the queue; from other threads wake the loop. */
    uv_thread_t self_thread = uv_thread_self();
    if (uv_thread_equal(&self_thread, &b->loop_thread)) {
      if (!atomic_load_explicit(&b->shut, memory_order_relaxed) &&
          (c % b->o.max_export_batch_size == 0 || busy(b) == 0)) {
        dispatch_full(b);
      }
    } else if (!atomic_exchange_explicit(&b->wake_pending, 1, memory_order_relaxed)) {
      uv_async_send(&b->async);
    }
  }
}

/* ---- the span items, for the pipeline; the rest of the processor is the pipeline's ---- */

static void span_release_many(const void *const *items, size_t n) {
  for (size_t i = 0; i < n; i++) uvotel_span_data_release(items[i]);
}

static const uvotel__pipe_ops_t g_span_items = {.name = "batch span processor",
                                                .item = "span",
                                                .thread_name = "uvotel-bsp",
                                                .loss_rc = 1,
                                                .release_many = span_release_many};

UVOTEL__COUNTERS_OP(batch_counters, uvotel_span_processor_counters_t, uvotel__pipe_counters)

static const uvotel_span_processor_ops_t g_batch_ops = {.on_end = batch_on_end,
                                                        .force_flush = uvotel__pipe_flush,
                                                        .shutdown = uvotel__pipe_shutdown,
                                                        .counters = batch_counters,
                                                        .free_async = uvotel__pipe_free_async};

UVOTEL__API uvotel_span_processor_t *uvotel_batch_span_processor_create(
    uvotel_span_exporter_t *exporter, const uvotel_batch_span_processor_options_t *opts) {
  static const uvotel_batch_span_processor_options_t defaults =
      UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  if (exporter == NULL) return NULL;
  if (opts == NULL) opts = &defaults;
  uvotel__pipe_options_t o = {.loop = opts->loop,
                              .max_queue_size = opts->max_queue_size,
                              .max_export_batch_size = opts->max_export_batch_size,
                              .schedule_delay_ms = opts->schedule_delay_ms,
                              .export_timeout_ms = opts->export_timeout_ms,
                              .max_concurrent_exports = opts->max_concurrent_exports,
                              .block_timeout_ms = opts->block_timeout_ms};
  batch_t *b = uvotel__pipe_create(&g_span_items, &exporter->x, &o, 1);
  if (b == NULL) return NULL;
  /* on failure, processor_create calls uvotel__pipe_free_async, which closes the handles */
  return uvotel_span_processor_create(&g_batch_ops, b);
}
