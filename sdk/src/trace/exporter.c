/* Span exporter objects (the serialising wrapper around an ops table) and the registry of
 * exporter factories by name. */
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
  e->self = self;
  e->flags = ops->flags;
  atomic_init(&e->shut, 0);
  pthread_mutex_init(&e->mu, NULL);
  return e;
}

static inline void exp_lock(uvotel_span_exporter_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_lock(&e->mu);
}
static inline void exp_unlock(uvotel_span_exporter_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_unlock(&e->mu);
}

UVOTEL__API int uvotel_span_exporter_export(uvotel_span_exporter_t *e,
                                            const uvotel_span_data_t *const *spans, size_t n,
                                            uint64_t timeout_ms) {
  if (e == NULL || (spans == NULL && n != 0)) return UVOTEL_EINVAL;
  if (n == 0) return 0;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  exp_lock(e);
  int rc = e->ops->export_spans(e->self, spans, n, timeout_ms);
  exp_unlock(e);
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
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->ops->export_async == NULL) {
    exp_lock(e);
    int rc = e->ops->export_spans(e->self, spans, n, timeout_ms);
    exp_unlock(e);
    completion->done(completion->arg, rc, 0);
    return 0;
  }
  /* The lock covers the hand-over only: delivery runs in the exporter's background. */
  exp_lock(e);
  int rc = e->ops->export_async(e->self, spans, n, timeout_ms, completion);
  exp_unlock(e);
  return rc;
}

UVOTEL__API int uvotel_span_exporter_force_flush(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->ops->force_flush == NULL) return 0;
  exp_lock(e);
  int rc = e->ops->force_flush(e->self, timeout_ms);
  exp_unlock(e);
  return rc;
}

UVOTEL__API int uvotel_span_exporter_shutdown(uvotel_span_exporter_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_exchange(&e->shut, 1)) return UVOTEL_ESHUTDOWN;
  if (e->ops->shutdown == NULL) return 0;
  exp_lock(e);
  int rc = e->ops->shutdown(e->self, timeout_ms);
  exp_unlock(e);
  return rc;
}

UVOTEL__API void *uvotel_span_exporter_self(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->self : NULL;
}

UVOTEL__API unsigned uvotel_span_exporter_flags(const uvotel_span_exporter_t *e) {
  return e != NULL ? e->flags : 0;
}

UVOTEL__API void uvotel_span_exporter_free(uvotel_span_exporter_t *e) {
  if (e == NULL) return;
  if (!atomic_load(&e->shut)) uvotel_span_exporter_shutdown(e, 0);
  if (e->ops->free != NULL) e->ops->free(e->self);
  pthread_mutex_destroy(&e->mu);
  uvotel_free(e);
}

/* ---- exporter registry (no allocation: registration may run in a library constructor,
 * before the application installs its allocator) ---- */

#define REG_MAX 32
typedef struct reg_s {
  char name[32];
  uvotel_span_exporter_factory_fn fn;
  void *arg;
} reg_t;
static reg_t g_reg[REG_MAX];
static size_t g_reg_n;
static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;

UVOTEL__API int uvotel_span_exporter_register(const char *name, uvotel_span_exporter_factory_fn fn,
                                              void *arg) {
  if (name == NULL || fn == NULL || name[0] == '\0' || strlen(name) >= sizeof g_reg[0].name) {
    return UVOTEL_EINVAL;
  }
  pthread_mutex_lock(&g_reg_mu);
  size_t i = 0;
  while (i < g_reg_n && !uvotel_env_name_eq(g_reg[i].name, strlen(g_reg[i].name), name)) i++;
  if (i == g_reg_n) {
    if (g_reg_n == REG_MAX) {
      pthread_mutex_unlock(&g_reg_mu);
      return UVOTEL_ERANGE;
    }
    g_reg_n++;
    strcpy(g_reg[i].name, name);
  }
  g_reg[i].fn = fn;
  g_reg[i].arg = arg;
  pthread_mutex_unlock(&g_reg_mu);
  return 0;
}

static uvotel_span_exporter_factory_fn lookup(const char *name, void **arg) {
  uvotel_span_exporter_factory_fn fn = NULL;
  pthread_mutex_lock(&g_reg_mu);
  for (size_t i = 0; i < g_reg_n; i++) {
    if (uvotel_env_name_eq(g_reg[i].name, strlen(g_reg[i].name), name)) {
      fn = g_reg[i].fn;
      *arg = g_reg[i].arg;
    }
  }
  pthread_mutex_unlock(&g_reg_mu);
  return fn;
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
