/* The simple span processor: each sampled span exported on the ending thread. */
#include "trace_internal.h"

/* ---- simple processor ---- */

typedef struct simple_s {
  uvotel_span_exporter_t *exp;
  atomic_uint_fast64_t received, dropped, exported, failed, batches;
  atomic_uint_fast64_t reported; /* dropped + failed said by the last flush/shutdown */
  atomic_int shut;
} simple_t;

static void simple_on_end(void *self, const uvotel_span_data_t *d) {
  simple_t *s = self;
  if (!uvotel_span_data_is_sampled(d)) return;
  atomic_fetch_add(&s->received, 1);
  if (atomic_load(&s->shut)) {
    atomic_fetch_add(&s->dropped, 1);
    return;
  }
  atomic_fetch_add(&s->batches, 1);
  int rc = uvotel_span_exporter_export(s->exp, &d, 1, 30000);
  if (rc == 0) {
    atomic_fetch_add(&s->exported, 1);
  } else if (rc == UVOTEL_EBUSY) {
    atomic_fetch_add(&s->dropped, 1); /* the exporter's queue was full */
  } else {
    atomic_fetch_add(&s->failed, 1);
    static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
    uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, rc, "simple span processor: export failed");
  }
}
/* rc, or UVOTEL_EIO (said with the count) when spans were lost since the previous call. */
static int simple_report(simple_t *s, const char *what, int rc) {
  uint64_t lost = atomic_load(&s->dropped) + atomic_load(&s->failed);
  uint64_t prev = atomic_exchange(&s->reported, lost);
  if (lost == prev) return rc;
  uvotel_diag(UVOTEL_DIAG_WARN, rc != 0 ? rc : UVOTEL_EIO,
              "simple span processor: %s: %llu span(s) not delivered since the last flush", what,
              (unsigned long long)(lost - prev));
  return rc != 0 ? rc : UVOTEL_EIO;
}
static int simple_flush(void *self, uint64_t timeout_ms) {
  simple_t *s = self;
  return simple_report(s, "force_flush", uvotel_span_exporter_force_flush(s->exp, timeout_ms));
}
static int simple_shutdown(void *self, uint64_t timeout_ms) {
  simple_t *s = self;
  atomic_store(&s->shut, 1);
  return simple_report(s, "shutdown", uvotel_span_exporter_shutdown(s->exp, timeout_ms));
}
static void simple_free(void *self) {
  simple_t *s = self;
  uvotel_span_exporter_free(s->exp);
  uvotel_free(s);
}
static void simple_counters(void *self, uvotel_span_processor_counters_t *out) {
  simple_t *s = self;
  out->received = atomic_load(&s->received);
  out->dropped = atomic_load(&s->dropped);
  out->exported = atomic_load(&s->exported);
  out->failed = atomic_load(&s->failed);
  out->batches = atomic_load(&s->batches);
}
static const uvotel_span_processor_ops_t g_simple_ops = {.on_end = simple_on_end,
                                                         .force_flush = simple_flush,
                                                         .shutdown = simple_shutdown,
                                                         .free = simple_free,
                                                         .counters = simple_counters};

UVOTEL__API uvotel_span_processor_t *uvotel_simple_span_processor_create(
    uvotel_span_exporter_t *exporter) {
  if (exporter == NULL) return NULL;
  simple_t *s = uvotel_calloc(1, sizeof *s);
  if (s == NULL) {
    uvotel_span_exporter_free(exporter);
    return NULL;
  }
  s->exp = exporter;
  return uvotel_span_processor_create(&g_simple_ops, s);
}
