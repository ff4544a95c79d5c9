/* The exporter object and the factory registry both signals share (exporter_internal.h). */
#include "exporter_internal.h"

/* A member both ops tables have (same name, same type), from e's table. */
#define OPS(e, m) ((e)->kind == UVOTEL__EXP_SPANS ? (e)->ops.span->m : (e)->ops.log->m)

uvotel__exp_t *uvotel__exp_create(int kind, const void *ops, void *self) {
  if (ops == NULL || (kind != UVOTEL__EXP_SPANS && kind != UVOTEL__EXP_LOGS)) return NULL;
  uvotel__exp_t t = {.self = self, .kind = kind};
  if (kind == UVOTEL__EXP_SPANS) {
    t.ops.span = ops;
    if (t.ops.span->export_spans == NULL) return NULL;
    t.has_async = t.ops.span->export_async != NULL;
    t.lock_async = 1;
  } else {
    t.ops.log = ops;
    if (t.ops.log->export_logs == NULL) return NULL;
    t.has_async = t.ops.log->export_async != NULL;
    t.lock_async = 0;
  }
  t.flags = OPS(&t, flags);
  t.force_flush = OPS(&t, force_flush);
  t.shutdown = OPS(&t, shutdown);
  t.free = OPS(&t, free);
  uvotel__exp_t *e = uvotel_malloc(sizeof *e);
  if (e == NULL) {
    if (t.free != NULL) t.free(self);
    return NULL;
  }
  *e = t;
  atomic_init(&e->shut, 0);
  pthread_mutex_init(&e->mu, NULL);
  return e;
}

static void lock(uvotel__exp_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_lock(&e->mu);
}
static void unlock(uvotel__exp_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_unlock(&e->mu);
}

/* The kind's synchronous export op, under the lock. */
static int call_export(uvotel__exp_t *e, const void *const *items, size_t n, uint64_t timeout_ms) {
  lock(e);
  int rc = e->kind == UVOTEL__EXP_SPANS
               ? e->ops.span->export_spans(e->self, (const uvotel_span_data_t *const *)items, n,
                                           timeout_ms)
               : e->ops.log->export_logs(e->self, (const uvotel_log_data_t *const *)items, n,
                                         timeout_ms);
  unlock(e);
  return rc;
}

int uvotel__exp_export(uvotel__exp_t *e, const void *const *items, size_t n, uint64_t timeout_ms) {
  if (e == NULL || (items == NULL && n != 0)) return UVOTEL_EINVAL;
  if (n == 0) return 0;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  return call_export(e, items, n, timeout_ms);
}

int uvotel__exp_export_async(uvotel__exp_t *e, const void *const *items, size_t n,
                             uint64_t timeout_ms, const uvotel_export_completion_t *completion) {
  if (e == NULL || completion == NULL || completion->done == NULL || (items == NULL && n != 0)) {
    return UVOTEL_EINVAL;
  }
  if (n == 0) {
    completion->done(completion->arg, 0, 0);
    return 0;
  }
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (!e->has_async) {
    completion->done(completion->arg, call_export(e, items, n, timeout_ms), 0);
    return 0;
  }
  /* The lock covers the hand-over only: delivery runs in the exporter's background. */
  if (e->lock_async) lock(e);
  int rc = e->kind == UVOTEL__EXP_SPANS
               ? e->ops.span->export_async(e->self, (const uvotel_span_data_t *const *)items, n,
                                           timeout_ms, completion)
               : e->ops.log->export_async(e->self, (const uvotel_log_data_t *const *)items, n,
                                          timeout_ms, completion);
  if (e->lock_async) unlock(e);
  return rc;
}

int uvotel__exp_force_flush(uvotel__exp_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->force_flush == NULL) return 0;
  lock(e);
  int rc = e->force_flush(e->self, timeout_ms);
  unlock(e);
  return rc;
}

int uvotel__exp_shutdown(uvotel__exp_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_exchange(&e->shut, 1)) return UVOTEL_ESHUTDOWN;
  if (e->shutdown == NULL) return 0;
  lock(e);
  int rc = e->shutdown(e->self, timeout_ms);
  unlock(e);
  return rc;
}

void uvotel__exp_free(uvotel__exp_t *e) {
  if (e == NULL) return;
  if (!atomic_load(&e->shut)) uvotel__exp_shutdown(e, 0);
  if (e->free != NULL) e->free(e->self);
  pthread_mutex_destroy(&e->mu);
  uvotel_free(e);
}

int uvotel__registry_put(uvotel__registry_t *r, const char *name, uvotel__reg_fn fn, void *arg) {
  if (name == NULL || fn == NULL || name[0] == '\0' || strlen(name) >= sizeof r->e[0].name) {
    return UVOTEL_EINVAL;
  }
  pthread_mutex_lock(&r->mu);
  size_t i = 0;
  while (i < r->n && !uvotel_env_name_eq(r->e[i].name, strlen(r->e[i].name), name)) i++;
  if (i == r->n) {
    if (r->n == UVOTEL__REG_MAX) {
      pthread_mutex_unlock(&r->mu);
      return UVOTEL_ERANGE;
    }
    r->n++;
    strcpy(r->e[i].name, name);
  }
  r->e[i].fn = fn;
  r->e[i].arg = arg;
  pthread_mutex_unlock(&r->mu);
  return 0;
}

uvotel__reg_fn uvotel__registry_get(uvotel__registry_t *r, const char *name, void **arg) {
  uvotel__reg_fn fn = NULL;
  pthread_mutex_lock(&r->mu);
  for (size_t i = 0; i < r->n; i++) {
    if (uvotel_env_name_eq(r->e[i].name, strlen(r->e[i].name), name)) {
      fn = r->e[i].fn;
      *arg = r->e[i].arg;
    }
  }
  pthread_mutex_unlock(&r->mu);
  return fn;
}
