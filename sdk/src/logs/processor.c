/* Log exporter and processor objects, the exporter registry, the simple and batch processors.
 * The batch processor is the record side of the export pipeline the batch span processor uses
 * (sdk/src/pipeline/): its own export threads, never libuv's pool. */
#include "../pipeline/pipeline_internal.h"
#include "../pipeline/simple_internal.h"
#include "logs_internal.h"

/* ---- exporters: the shared object (../pipeline/exporter.c) ---- */

#define X(e) ((uvotel__exp_t *)(e))
#define ITEMS(recs) ((const void *const *)(recs))

UVOTEL__API uvotel_log_exporter_t *uvotel_log_exporter_create(const uvotel_log_exporter_ops_t *ops,
                                                              void *self) {
  return (uvotel_log_exporter_t *)uvotel__exp_create(UVOTEL__EXP_LOGS, ops, self);
}

UVOTEL__API int uvotel_log_exporter_export(uvotel_log_exporter_t *e,
                                           const uvotel_log_data_t *const *recs, size_t n,
                                           uint64_t timeout_ms) {
  return uvotel__exp_export(X(e), ITEMS(recs), n, timeout_ms);
}

UVOTEL__API int uvotel_log_exporter_export_async(uvotel_log_exporter_t *e,
                                                 const uvotel_log_data_t *const *recs, size_t n,
                                                 uint64_t timeout_ms,
                                                 const uvotel_export_completion_t *completion) {
  return uvotel__exp_export_async(X(e), ITEMS(recs), n, timeout_ms, completion);
}

UVOTEL__API int uvotel_log_exporter_force_flush(uvotel_log_exporter_t *e, uint64_t timeout_ms) {
  return uvotel__exp_force_flush(X(e), timeout_ms);
}

UVOTEL__API int uvotel_log_exporter_shutdown(uvotel_log_exporter_t *e, uint64_t timeout_ms) {
  return uvotel__exp_shutdown(X(e), timeout_ms);
}

UVOTEL__API void *uvotel_log_exporter_self(const uvotel_log_exporter_t *e) {
  return e != NULL ? e->x.self : NULL;
}

UVOTEL__API void uvotel_log_exporter_free(uvotel_log_exporter_t *e) {
  uvotel__exp_free(X(e));
}

/* ---- registry (exporter_internal.h: no allocation, it runs in library constructors) ---- */

static uvotel__registry_t g_reg = UVOTEL__REGISTRY_INIT;

UVOTEL__API int uvotel_log_exporter_register(const char *name, uvotel_log_exporter_factory_fn fn,
                                             void *arg) {
  return uvotel__registry_put(&g_reg, name, (uvotel__reg_fn)fn, arg);
}

UVOTEL__API uvotel_log_exporter_t *uvotel_log_exporter_create_by_name(const char *name) {
  if (name == NULL) return NULL;
  void *arg = NULL;
  uvotel_log_exporter_factory_fn fn =
      (uvotel_log_exporter_factory_fn)uvotel__registry_get(&g_reg, name, &arg);
  if (fn == NULL) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOENT,
                "no log exporter \"%s\" registered (is libuvotel_exporters linked?)", name);
    return NULL;
  }
  return fn(name, arg);
}

/* ---- processor objects ---- */

UVOTEL__API uvotel_log_processor_t *uvotel_log_processor_create(
    const uvotel_log_processor_ops_t *ops, void *self) {
  if (ops == NULL || ops->on_emit == NULL) return NULL;
  uvotel_log_processor_t *p = uvotel_malloc(sizeof *p);
  if (p == NULL) {
    if (ops->free != NULL) ops->free(self);
    return NULL;
  }
  p->ops = ops;
  p->self = self;
  p->shut = 0;
  return p;
}

UVOTEL__API int uvotel_log_processor_force_flush(uvotel_log_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  return p->ops->force_flush != NULL ? p->ops->force_flush(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_log_processor_shutdown(uvotel_log_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  p->shut = 1;
  return p->ops->shutdown != NULL ? p->ops->shutdown(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_log_processor_counters(const uvotel_log_processor_t *p,
                                              uvotel_log_processor_counters_t *out) {
  if (p == NULL || out == NULL) return UVOTEL_EINVAL;
  memset(out, 0, sizeof *out);
  if (p->ops->counters != NULL) p->ops->counters(p->self, out);
  return 0;
}

UVOTEL__API void uvotel_log_processor_free(uvotel_log_processor_t *p) {
  if (p == NULL) return;
  if (!p->shut) uvotel_log_processor_shutdown(p, 0);
  if (p->ops->free != NULL) p->ops->free(p->self);
  uvotel_free(p);
}

/* Say a drop at WARN, rate-limited: a flood costs a line every few seconds, with the total. */
static void say_dropped(uint64_t n, const char *why) {
  static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
  uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, UVOTEL_EBUSY,
                      "log processor: %llu records dropped so far (%s)", (unsigned long long)n,
                      why);
}

/* ---- simple processor: the shared one (sdk/src/pipeline/simple.c), record side ---- */

static void simple_after_shutdown(uint64_t dropped) {
  say_dropped(dropped, "after shutdown");
}

/* loss_rc 0 and each failure said: as this processor always has. */
static const uvotel__simple_ops_t g_simple_logs = {.name = "simple log processor",
                                                   .item = "record",
                                                   .loss_rc = 0,
                                                   .busy_is_drop = 0,
                                                   .fail_limit = NULL,
                                                   .after_shutdown = simple_after_shutdown};

static void simple_on_emit(void *self, const uvotel_log_data_t *d) {
  uvotel__simple_export(self, d);
}

UVOTEL__COUNTERS_OP(simple_counters, uvotel_log_processor_counters_t, uvotel__simple_counters)

static const uvotel_log_processor_ops_t g_simple_ops = {.on_emit = simple_on_emit,
                                                        .force_flush = uvotel__simple_flush,
                                                        .shutdown = uvotel__simple_shutdown,
                                                        .free = uvotel__simple_free,
                                                        .counters = simple_counters};

UVOTEL__API uvotel_log_processor_t *uvotel_simple_log_processor_create(
    uvotel_log_exporter_t *exporter) {
  if (exporter == NULL) return NULL;
  uvotel__simple_t *s = uvotel__simple_create(&g_simple_logs, &exporter->x);
  return s != NULL ? uvotel_log_processor_create(&g_simple_ops, s) : NULL;
}

/* ---- batch processor: the record side of the export pipeline (sdk/src/pipeline/) ---- */

typedef uvotel__pipe_t batch_t;

/* Queue d, owning one reference to it (released here when it is dropped, and said). */
static void batch_take(batch_t *b, const uvotel_log_data_t *d) {
  int full;
  uint64_t dropped = uvotel__pipe_offer(b, d, &full);
  if (UVOTEL__LIKELY(dropped == 0)) return;
  uvotel_log_data_release(d);
  say_dropped(dropped, full ? "queue full: max_queue_size reached, the exporter is not keeping up"
                            : "after shutdown");
}

static void batch_on_emit(void *self, const uvotel_log_data_t *d) {
  batch_take(self, uvotel_log_data_retain(d));
}

/* ---- the record items, for the pipeline; the rest of the processor is the pipeline's ---- */

static void log_release_many(const void *const *items, size_t n) {
  uvotel__log_release_many((const uvotel_log_data_t *const *)items, n);
}

/* loss_rc 0: a flush that delivered what it could returns 0 (the records' counters and the
 * diagnostics say what was lost), as this processor always has. */
static const uvotel__pipe_ops_t g_log_items = {.name = "batch log processor",
                                               .item = "record",
                                               .thread_name = "uvotel-blrp",
                                               .loss_rc = 0,
                                               .release_many = log_release_many};

UVOTEL__COUNTERS_OP(batch_counters, uvotel_log_processor_counters_t, uvotel__pipe_counters)

static const uvotel_log_processor_ops_t g_batch_ops = {.on_emit = batch_on_emit,
                                                       .force_flush = uvotel__pipe_flush,
                                                       .shutdown = uvotel__pipe_shutdown,
                                                       .free = uvotel__pipe_free,
                                                       .counters = batch_counters};

UVOTEL__API uvotel_log_processor_t *uvotel_batch_log_processor_create(
    uvotel_log_exporter_t *exporter, const uvotel_batch_log_processor_options_t *opts) {
  static const uvotel_batch_log_processor_options_t defaults =
      UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  if (exporter == NULL) return NULL;
  if (opts == NULL) opts = &defaults;
  uvotel__pipe_options_t o = {.loop = opts->loop,
                              .max_queue_size = opts->max_queue_size,
                              .max_export_batch_size = opts->max_export_batch_size,
                              .schedule_delay_ms = opts->schedule_delay_ms,
                              .export_timeout_ms = opts->export_timeout_ms,
                              .max_concurrent_exports = 1,
                              .block_timeout_ms = 0};
  /* The creating thread may not be the loop's (the preload creates it in a constructor): the
   * pipeline learns the loop's thread in its first callback or flush. */
  batch_t *b = uvotel__pipe_create(&g_log_items, &exporter->x, &o, 0);
  if (b == NULL) return NULL;
  uvotel_log_processor_t *p = uvotel_log_processor_create(&g_batch_ops, b);
  return p;
}

int uvotel__log_is_batch(const uvotel_log_processor_t *p) {
  return p != NULL && p->ops == &g_batch_ops;
}

void uvotel__log_batch_adopt(uvotel_log_processor_t *p, const uvotel_log_data_t *d) {
  batch_take(p->self, d);
}
