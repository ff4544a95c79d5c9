/* The simple processor both signals share: each item exported on its own, synchronously, on
 * the thread that ended or emitted it, through the shared exporter object (exporter_internal.h),
 * with the counters (every item received ends exactly once in exported, dropped or failed).
 * The processors add their signal's on_end/on_emit and a table saying how losses are told; the
 * rest of their ops tables name these functions. */
#ifndef UVOTEL_SIMPLE_INTERNAL_H
#define UVOTEL_SIMPLE_INTERNAL_H

#include <stdatomic.h>

#include "exporter_internal.h"
#include "pipeline_internal.h"

/* How a signal's simple processor tells its losses. Static tables. */
typedef struct uvotel__simple_ops_s {
  const char *name; /* in messages: "simple span processor" */
  const char *item; /* "span": "%llu span(s) not delivered" */
  /* flush/shutdown return UVOTEL_EIO, and warn with the count, when items were lost since the
   * previous call (spans); 0: they return the exporter's result (records) */
  int loss_rc;
  /* an export refused with UVOTEL_EBUSY (the exporter's queue full) counts dropped; 0: failed */
  int busy_is_drop;
  /* export failures are warned about through this limit (shared by the signal's processors);
   * NULL: each one */
  uvotel_diag_limit_t *fail_limit;
  /* an item arrived after shutdown (dropped: the total so far); NULL: counted only */
  void (*after_shutdown)(uint64_t dropped);
} uvotel__simple_ops_t;

typedef struct uvotel__simple_s {
  const uvotel__simple_ops_t *ops;
  uvotel__exp_t *exp; /* owned */
  atomic_uint_fast64_t received, dropped, exported, failed, batches;
  atomic_uint_fast64_t reported; /* dropped + failed said by the last flush/shutdown */
  atomic_int shut;
} uvotel__simple_t;

/* A simple processor over exp (owned from here: freed on failure). NULL when out of memory.
 * Thread: any. */
uvotel__simple_t *uvotel__simple_create(const uvotel__simple_ops_t *ops, uvotel__exp_t *exp);
/* uvotel__simple_export's rare outcomes: an export failed (counted, warned); an item arrived
 * after shutdown (counted dropped, told through ops->after_shutdown). */
void uvotel__simple_failed(uvotel__simple_t *s, int rc);
void uvotel__simple_after_shutdown(uvotel__simple_t *s);

/* Export the item (a signal's data pointer, borrowed for the call) and count it. Inline in the
 * signals' on_end/on_emit: one call level less on every item. Thread: any. */
static inline void uvotel__simple_export(uvotel__simple_t *s, const void *item) {
  atomic_fetch_add(&s->received, 1);
  if (UVOTEL__UNLIKELY(atomic_load(&s->shut))) {
    uvotel__simple_after_shutdown(s);
    return;
  }
  atomic_fetch_add(&s->batches, 1);
  int rc = uvotel__exp_export(s->exp, &item, 1, 30000);
  if (UVOTEL__LIKELY(rc == 0)) {
    atomic_fetch_add(&s->exported, 1);
  } else if (rc == UVOTEL_EBUSY && s->ops->busy_is_drop) {
    atomic_fetch_add(&s->dropped, 1); /* the exporter's queue was full */
  } else {
    uvotel__simple_failed(s, rc);
  }
}
/* The processor ops (self: the simple processor). */
int uvotel__simple_flush(void *self, uint64_t timeout_ms);
int uvotel__simple_shutdown(void *self, uint64_t timeout_ms);
void uvotel__simple_free(void *self);
/* Counters, as the pipeline's (queued and in_flight 0): for UVOTEL__PIPE_COUNTERS_OP. */
void uvotel__simple_counters(void *self, uvotel__pipe_counters_t *out);

#endif
