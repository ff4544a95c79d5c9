/* The simple span processor: each sampled span exported on the ending thread. The processor is
 * the shared simple one (sdk/src/pipeline/simple.c); this is its span side. */
#include "../pipeline/simple_internal.h"
#include "trace_internal.h"

static uvotel_diag_limit_t g_fail_limit = UVOTEL_DIAG_LIMIT_INIT(5000);
static uvotel_diag_limit_t g_late_limit = UVOTEL_DIAG_LIMIT_INIT(5000);

/* A span ended after this processor's own shutdown: counted dropped, and said (rate-limited),
 * as the simple log processor says its late records. */
static void simple_spans_after_shutdown(uint64_t dropped) {
  uvotel_diag_limited(&g_late_limit, UVOTEL_DIAG_WARN, UVOTEL_ESHUTDOWN,
                      "simple span processor: %llu spans dropped so far (after shutdown)",
                      (unsigned long long)dropped);
}

static const uvotel__simple_ops_t g_simple_spans = {.name = "simple span processor",
                                                    .item = "span",
                                                    .loss_rc = 1,
                                                    .busy_is_drop = 1,
                                                    .fail_limit = &g_fail_limit,
                                                    .after_shutdown = simple_spans_after_shutdown};

static void simple_on_end(void *self, const uvotel_span_data_t *d) {
  if (uvotel_span_data_is_sampled(d)) uvotel__simple_export(self, d);
}

UVOTEL__COUNTERS_OP(simple_counters, uvotel_span_processor_counters_t, uvotel__simple_counters)

static const uvotel_span_processor_ops_t g_simple_ops = {.on_end = simple_on_end,
                                                         .force_flush = uvotel__simple_flush,
                                                         .shutdown = uvotel__simple_shutdown,
                                                         .free = uvotel__simple_free,
                                                         .counters = simple_counters};

UVOTEL__API uvotel_span_processor_t *uvotel_simple_span_processor_create(
    uvotel_span_exporter_t *exporter) {
  if (exporter == NULL) return NULL;
  uvotel__simple_t *s = uvotel__simple_create(&g_simple_spans, &exporter->x);
  return s != NULL ? uvotel_span_processor_create(&g_simple_ops, s) : NULL;
}
