/* Span processor objects: the wrapper around an ops table, and the generic asynchronous free
 * the provider waits for. The built-in processors are processor_simple.c and
 * processor_batch.c. */
#include "trace_internal.h"

/* ---- processor objects ---- */

UVOTEL__API uvotel_span_processor_t *uvotel_span_processor_create(
    const uvotel_span_processor_ops_t *ops, void *self) {
  if (ops == NULL || ops->on_end == NULL) return NULL;
  uvotel_span_processor_t *p = uvotel_malloc(sizeof *p);
  if (p == NULL) {
    if (ops->free_async != NULL)
      ops->free_async(self, NULL, NULL);
    else if (ops->free != NULL)
      ops->free(self);
    return NULL;
  }
  p->ops = ops;
  p->self = self;
  p->shut = 0;
  return p;
}

UVOTEL__API int uvotel_span_processor_force_flush(uvotel_span_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  return p->ops->force_flush != NULL ? p->ops->force_flush(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_span_processor_shutdown(uvotel_span_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  p->shut = 1;
  return p->ops->shutdown != NULL ? p->ops->shutdown(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_span_processor_counters(const uvotel_span_processor_t *p,
                                               uvotel_span_processor_counters_t *out) {
  if (p == NULL || out == NULL) return UVOTEL_EINVAL;
  memset(out, 0, sizeof *out);
  if (p->ops->counters != NULL) p->ops->counters(p->self, out);
  return 0;
}

/* The generic asynchronous free: a processor with free_async finishes in its own time (handles
 * to close, exports to wait for) and says so through done; one without it is freed here and
 * done is called at once. The wrapper object goes now either way: free_async gets only self. */
void uvotel__span_processor_free_then(uvotel_span_processor_t *p, void (*done)(void *arg),
                                      void *arg) {
  if (p == NULL) {
    if (done != NULL) done(arg);
    return;
  }
  if (!p->shut) uvotel_span_processor_shutdown(p, 0);
  const uvotel_span_processor_ops_t *ops = p->ops;
  void *self = p->self;
  uvotel_free(p);
  if (ops->free_async != NULL) {
    ops->free_async(self, done, arg);
    return;
  }
  if (ops->free != NULL) ops->free(self);
  if (done != NULL) done(arg);
}

UVOTEL__API void uvotel_span_processor_free(uvotel_span_processor_t *p) {
  uvotel__span_processor_free_then(p, NULL, NULL);
}
