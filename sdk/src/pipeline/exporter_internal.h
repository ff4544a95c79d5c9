/* What the span and the log exporter objects share: the self pointer, the lock that serialises
 * calls of a non-CONCURRENT exporter, the shut flag and the ops that have the same shape for
 * both signals (force_flush, shutdown, free); and the registry of exporter factories by name.
 * The item-typed ops (export, export_async) stay in each signal's wrapper. */
#ifndef UVOTEL_EXPORTER_INTERNAL_H
#define UVOTEL_EXPORTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../internal.h"

typedef struct uvotel__exp_s {
  void *self;
  unsigned flags; /* UVOTEL_EXPORTER_* */
  atomic_int shut;
  pthread_mutex_t mu;
  int (*force_flush)(void *self, uint64_t timeout_ms); /* may be NULL */
  int (*shutdown)(void *self, uint64_t timeout_ms);    /* may be NULL */
  void (*free)(void *self);                            /* may be NULL */
} uvotel__exp_t;

void uvotel__exp_init(uvotel__exp_t *e, void *self, unsigned flags,
                      int (*force_flush)(void *, uint64_t), int (*shutdown)(void *, uint64_t),
                      void (*free_self)(void *));

static inline void uvotel__exp_lock(uvotel__exp_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_lock(&e->mu);
}
static inline void uvotel__exp_unlock(uvotel__exp_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_unlock(&e->mu);
}

/* The public force_flush / shutdown contracts (after shutdown: UVOTEL_ESHUTDOWN; twice shut
 * down: UVOTEL_ESHUTDOWN). Thread: any. */
int uvotel__exp_force_flush(uvotel__exp_t *e, uint64_t timeout_ms);
int uvotel__exp_shutdown(uvotel__exp_t *e, uint64_t timeout_ms);
/* Shut down (0 ms) if not yet, free self, release the lock. */
void uvotel__exp_destroy(uvotel__exp_t *e);

/* ---- factories by name: no allocation (registration may run in a library constructor,
 * before the application installs its allocator); names compared as uvotel_env_name_eq ---- */

typedef void (*uvotel__reg_fn)(void); /* the signal's factory type, cast back by the caller */

#define UVOTEL__REG_MAX 32
typedef struct uvotel__registry_s {
  struct {
    char name[32];
    uvotel__reg_fn fn;
    void *arg;
  } e[UVOTEL__REG_MAX];
  size_t n;
  pthread_mutex_t mu;
} uvotel__registry_t;

#define UVOTEL__REGISTRY_INIT \
  { .n = 0, .mu = PTHREAD_MUTEX_INITIALIZER }

/* Add or replace name. NULL/empty/overlong name or NULL fn: UVOTEL_EINVAL; full: UVOTEL_ERANGE. */
int uvotel__registry_put(uvotel__registry_t *r, const char *name, uvotel__reg_fn fn, void *arg);
/* The factory registered last under name (and its arg), or NULL. */
uvotel__reg_fn uvotel__registry_get(uvotel__registry_t *r, const char *name, void **arg);

#endif
