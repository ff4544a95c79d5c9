/* Span exporter objects (the serialising wrapper around an ops table) and the registry of
 * exporter factories by name. */
#include "../pipeline/exporter_internal.h"
#include "trace_internal.h"

/* ---- exporters ---- */

UVOTEL__API uvotel_span_exporter_t *uvotel_span_exporter_create(
    const uvotel_span_exporter_ops_t *ops, void *self) {
  if (ops == NULL || ops->export_spans == NULL) return NULL;
  uvotel_span_exporter_t *e = uvotel_malloc(sizeof *e);
  if (e == NULL) {
    if (ops->free != NULL) ops->free(self);
    return NULL;
  }
  e->ops = ops;
  uvotel__exp_init(&e->x, self, ops->flags, ops->force_flush, ops->shutdown, ops->free);
  return e;
}

UVOTEL__API int uvotel_span_exporter_export(uvotel_span_exporter_t *e,
                                            const uvotel_span_data_t *const *spans, size_t n,
                                            uint64_t timeout_ms) {
  if (e == NULL || (spans == NULL && n != 0)) return UVOTEL_EINVAL;
  if (n == 0) return 0;
  if (atomic_load(&e->x.shut)) return UVOTEL_ESHUTDOWN;
  uvotel__exp_lock(&e->x);
  int rc = e->ops->export_spans(e->x.self, spans, n, timeout_ms);
  uvotel__exp_unlock(&e->x);
  return rc;
}

UVOTEL__API int uvotel_span_exporter_export_async(uvotel_span_exporter_t *e,
                                                  const uvotel_span_data_t *const *spans, size_t n,
                                                  uint64_t timeout_ms,
                                                  const uvotel_export_completion_t *completion) {
  if (e == NULL || completion == NULL || completion->done == NULL || (spans == NULL && n != 0)) {
    return UVOTEL_EINVAL;
  }
  if (n == 0) {
    completion->done(completion->arg, 0, 0);
    return 0;
  }
  if (atomic_load(&e->x.shut)) return UVOTEL_ESHUTDOWN;
  if (e->ops->export_async == NULL) {
    uvotel__exp_lock(&e->x);
    int rc = e->ops->export_spans(e->x.self, spans, n, timeout_ms);
    uvotel__exp_unlock(&e->x);
    completion->done(completion->arg, rc, 0);
    return 0;
  }
  /* The lock covers the hand-over only: delivery runs in the exporter's background. */
  uvotel__exp_lock(&e->x);
  int rc = e->ops->export_async(e->x.self, spans, n, timeout_ms, completion);
  uvotel__exp_unlock(&e->x);
  return rc;
}

UVOTEL__API int uvotel_span_exporter_force_flush(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  return e != NULL ? uvotel__exp_force_flush(&e->x, timeout_ms) : UVOTEL_EINVAL;
}

UVOTEL__API int uvotel_span_exporter_shutdown(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  return e != NULL ? uvotel__exp_shutdown(&e->x, timeout_ms) : UVOTEL_EINVAL;
}

UVOTEL__API void *uvotel_span_exporter_self(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->x.self : NULL;
}

UVOTEL__API unsigned uvotel_span_exporter_flags(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->x.flags : 0;
}

UVOTEL__API void uvotel_span_exporter_free(uvotel_span_exporter_t *e) {
  if (e == NULL) return;
  uvotel__exp_destroy(&e->x);
  uvotel_free(e);
}

/* ---- exporter registry (exporter_internal.h) ---- */

static uvotel__registry_t g_reg = UVOTEL__REGISTRY_INIT;

UVOTEL__API int uvotel_span_exporter_register(const char *name, uvotel_span_exporter_factory_fn fn,
                                              void *arg) {
  return uvotel__registry_put(&g_reg, name, (uvotel__reg_fn)fn, arg);
}

static uvotel_span_exporter_factory_fn lookup(const char *name, void **arg) {
  return (uvotel_span_exporter_factory_fn)uvotel__registry_get(&g_reg, name, arg);
}

UVOTEL__API uvotel_span_exporter_t *uvotel_span_exporter_create_by_name(const char *name) {
  if (name == NULL) return NULL;
  void *arg = NULL;
  uvotel_span_exporter_factory_fn fn = lookup(name, &arg);
  /* Not registered: perhaps the linker dropped libuvotel_exporters (--as-needed); load it
   * (outside the lock: its constructor registers) and look again. */
  if (fn == NULL && uvotel__exporters_autoload()) fn = lookup(name, &arg);
  if (fn == NULL) {
    const char *why = uvotel__exporters_autoload_error();
    if (why[0] != '\0') {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOENT,
                  "no span exporter \"%s\" registered, and libuvotel_exporters could not be "
                  "loaded: %s",
                  name, why);
    } else {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOENT,
                  "no span exporter \"%s\" registered (libuvotel_exporters is loaded and does not "
                  "provide it)",
                  name);
    }
    return NULL;
  }
  return fn(name, arg);
}
