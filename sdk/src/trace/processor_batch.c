/* The batch span processor: the span side of the export pipeline (sdk/src/pipeline/): on_end
 * puts sampled spans in its queue; the queue's consumer, the export threads, the counters, the
 * deadlines and fork handling are the pipeline's, shared with the batch log processor. */
#include "../pipeline/pipeline_internal.h"
#include "trace_internal.h"

/* ---- batch processor ---- */

typedef uvotel__pipe_t batch_t;

static void batch_on_end(void *self, const uvotel_span_data_t *d) {
  if (!(((const uvotel_span_t *)d)->ctx.flags & UVOTEL_TRACE_FLAG_SAMPLED)) return;
  uvotel__span_data_keep(d); /* the ender's reference when this is the last processor */
  int full;
  if (UVOTEL__UNLIKELY(uvotel__pipe_offer(self, d, &full) != 0)) uvotel_span_data_release(d);
}

/* ---- the span items, for the pipeline; the rest of the processor is the pipeline's ---- */

static void span_release_many(const void *const *items, size_t n) {
  uvotel__span_release_many((const uvotel_span_data_t *const *)items, n);
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
