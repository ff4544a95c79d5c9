/* The exporter object both signals share: the self pointer, the ops table, the lock that
 * serialises calls of a non-CONCURRENT exporter and the shut flag, with every call of the
 * public contract (export, export_async, force_flush, shutdown, free); and the registry of
 * exporter factories by name. uvotel_span_exporter_t and uvotel_log_exporter_t are this object
 * (their only member), so the export pipeline calls it directly, whatever the signal. */
#ifndef UVOTEL_EXPORTER_INTERNAL_H
#define UVOTEL_EXPORTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../internal.h"

#include "uvotel/logs_sdk.h"
#include "uvotel/trace_sdk.h"

/* Which ops table an exporter object holds (the item type of its export calls). */
enum { UVOTEL__EXP_SPANS = 1, UVOTEL__EXP_LOGS = 2 };

typedef struct uvotel__exp_s {
  union {
    const uvotel_span_exporter_ops_t *span; /* kind UVOTEL__EXP_SPANS */
    const uvotel_log_exporter_ops_t *log;   /* kind UVOTEL__EXP_LOGS */
  } ops;
  void *self;
  unsigned flags; /* UVOTEL_EXPORTER_* */
  int kind;       /* UVOTEL__EXP_* */
  int has_async;  /* the ops have their own export_async */
  int lock_async; /* export_async's hand-over is serialised too (spans; logs never were) */
  atomic_int shut;
  pthread_mutex_t mu;
  int (*force_flush)(void *self, uint64_t timeout_ms); /* may be NULL */
  int (*shutdown)(void *self, uint64_t timeout_ms);    /* may be NULL */
  void (*free)(void *self);                            /* may be NULL */
} uvotel__exp_t;

/* A new exporter object over ops (the table of `kind`, borrowed) and self. NULL ops or no
 * export op: NULL (self not freed); out of memory: NULL after ops->free(self). Thread: any. */
uvotel__exp_t *uvotel__exp_create(int kind, const void *ops, void *self);

/* The public exporter contracts, for either signal (items: the kind's data pointers). NULL e,
 * or NULL items with n > 0: UVOTEL_EINVAL; n == 0: 0 without calling (export_async: done(arg,
 * 0, 0) at once); after shutdown: UVOTEL_ESHUTDOWN; shut down twice: UVOTEL_ESHUTDOWN. Calls
 * are serialised unless the exporter is CONCURRENT. Thread: any. */
int uvotel__exp_export(uvotel__exp_t *e, const void *const *items, size_t n, uint64_t timeout_ms);
int uvotel__exp_export_async(uvotel__exp_t *e, const void *const *items, size_t n,
                             uint64_t timeout_ms, const uvotel_export_completion_t *completion);
int uvotel__exp_force_flush(uvotel__exp_t *e, uint64_t timeout_ms);
int uvotel__exp_shutdown(uvotel__exp_t *e, uint64_t timeout_ms);
/* Shut down (0 ms) if not yet, free self, then the object. NULL: no-op. Thread: any, when no
 * export is running. */
void uvotel__exp_free(uvotel__exp_t *e);

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
