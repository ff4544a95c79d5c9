/* The exporter object parts and the factory registry both signals share
 * (exporter_internal.h). */
#include "exporter_internal.h"

void uvotel__exp_init(uvotel__exp_t *e, void *self, unsigned flags,
                      int (*force_flush)(void *, uint64_t), int (*shutdown)(void *, uint64_t),
                      void (*free_self)(void *)) {
  e->self = self;
  e->flags = flags;
  atomic_init(&e->shut, 0);
  pthread_mutex_init(&e->mu, NULL);
  e->force_flush = force_flush;
  e->shutdown = shutdown;
  e->free = free_self;
}

int uvotel__exp_force_flush(uvotel__exp_t *e, uint64_t timeout_ms) {
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->force_flush == NULL) return 0;
  uvotel__exp_lock(e);
  int rc = e->force_flush(e->self, timeout_ms);
  uvotel__exp_unlock(e);
  return rc;
}

int uvotel__exp_shutdown(uvotel__exp_t *e, uint64_t timeout_ms) {
  if (atomic_exchange(&e->shut, 1)) return UVOTEL_ESHUTDOWN;
  if (e->shutdown == NULL) return 0;
  uvotel__exp_lock(e);
  int rc = e->shutdown(e->self, timeout_ms);
  uvotel__exp_unlock(e);
  return rc;
}

void uvotel__exp_destroy(uvotel__exp_t *e) {
  if (!atomic_load(&e->shut)) uvotel__exp_shutdown(e, 0);
  if (e->free != NULL) e->free(e->self);
  pthread_mutex_destroy(&e->mu);
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
