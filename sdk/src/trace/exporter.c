/* Span exporter objects (the serialising wrapper around an ops table) and the registry of
 * exporter factories by name. */
#include "../pipeline/exporter_internal.h"
#include "trace_internal.h"

/* ---- exporters: the shared object (../pipeline/exporter.c) ---- */

#define X(e) ((uvotel__exp_t *)(e))
#define ITEMS(spans) ((const void *const *)(spans))

UVOTEL__API uvotel_span_exporter_t *uvotel_span_exporter_create(
    const uvotel_span_exporter_ops_t *ops, void *self) {
  return (uvotel_span_exporter_t *)uvotel__exp_create(UVOTEL__EXP_SPANS, ops, self);
}

UVOTEL__API int uvotel_span_exporter_export(uvotel_span_exporter_t *e,
                                            const uvotel_span_data_t *const *spans, size_t n,
                                            uint64_t timeout_ms) {
  return uvotel__exp_export(X(e), ITEMS(spans), n, timeout_ms);
}

UVOTEL__API int uvotel_span_exporter_export_async(uvotel_span_exporter_t *e,
                                                  const uvotel_span_data_t *const *spans, size_t n,
                                                  uint64_t timeout_ms,
                                                  const uvotel_export_completion_t *completion) {
  return uvotel__exp_export_async(X(e), ITEMS(spans), n, timeout_ms, completion);
}

UVOTEL__API int uvotel_span_exporter_force_flush(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  return uvotel__exp_force_flush(X(e), timeout_ms);
}

UVOTEL__API int uvotel_span_exporter_shutdown(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  return uvotel__exp_shutdown(X(e), timeout_ms);
}

UVOTEL__API void *uvotel_span_exporter_self(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->x.self : NULL;
}

UVOTEL__API unsigned uvotel_span_exporter_flags(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->x.flags : 0;
}

UVOTEL__API void uvotel_span_exporter_free(uvotel_span_exporter_t *e) {
  uvotel__exp_free(X(e));
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
