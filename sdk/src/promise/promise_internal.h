/* Private declarations of the job queues (next-tick, microtasks) and promises.
 *
 * The number of queued jobs lives in the thread-state block (uvotel__tls.hot.jobs_n), which the
 * hooks layer reads at the end of uvotel_resource_exit and drains through the hook this layer
 * registers (uvotel__tls_jobs_register): while both queues are empty that is the only cost the
 * queues add to an instrumented callback, and hooks.c needs nothing of this header. */
#ifndef UVOTEL_PROMISE_INTERNAL_H
#define UVOTEL_PROMISE_INTERNAL_H

#include "../hooks/hooks_internal.h"
#include "uvotel/promise.h"

typedef struct uvotel__job_s uvotel__job_t;

enum { JOB_TICK, JOB_MICROTASK, JOB_REACTION, JOB_THENABLE, JOB_REJECTIONS };
/* What a REACTION job does with its source promise's result. */
enum { RX_USER, RX_ADOPT, RX_ALL };

struct uvotel__job_s {
  uvotel__job_t *next;
  int kind;
  union {
    struct {
      uvotel_resource_t res;
      uvotel_job_cb cb;
      void *arg;
    } q; /* TICK, MICROTASK */
    struct {
      uvotel_promise_t *src;     /* ref held once queued (NULL while waiting in src's list) */
      uvotel_promise_t *derived; /* ref held */
      uvotel_promise_t *target;  /* ADOPT: the adopting promise; ALL: the all-promise; ref held */
      uvotel_promise_reaction_cb on_ok, on_err;
      void *arg;
      size_t index; /* ALL: slot in the list */
      int mode;
    } r; /* REACTION */
    struct {
      uvotel_promise_t *p;     /* the adopting promise, ref held */
      uvotel_promise_t *other; /* the adopted one, ref held */
    } t;                       /* THENABLE */
  } u;
};

typedef struct uvotel__jobq_s {
  int draining; /* (the count of jobs in both queues is uvotel__tls.hot.jobs_n) */
  uvotel__job_t *tick_head, *tick_tail;
  uvotel__job_t *mt_head, *mt_tail;
  uvotel__job_t *free_jobs;
  uint32_t free_jobs_n;
  uvotel_promise_t *free_promises;
  uint32_t free_promises_n;
  uvotel_promise_t *dead; /* promises whose last reference went, torn down iteratively */
  int reaping;
  /* Rejections to look at once the queues are empty (Node's pending unhandled rejections): each
   * list holds a reference to its promises, in the order they arrived. */
  uvotel_promise_t *unh_head, *unh_tail;         /* rejected with no handler yet */
  uvotel_promise_t *handled_head, *handled_tail; /* reported, then given a handler */
  int rejections_job_queued;
  uvotel_rejection_cb rejection_cb;
  void *rejection_arg;
  uint64_t unhandled_reported;
} uvotel__jobq_t;

extern UVOTEL__TLS uvotel__jobq_t uvotel__jobq;

/* Run both queues until empty (no-op while draining or inside a hook). */
void uvotel__jobs_drain(void);

/* queue.c for promise.c */
uvotel__job_t *uvotel__job_alloc(void);
void uvotel__job_free(uvotel__job_t *j);
/* Append a job (or a list of jobs first..last, count n) to the microtask queue. */
void uvotel__mt_append(uvotel__job_t *first, uvotel__job_t *last, size_t n);

/* promise.c for queue.c */
void uvotel__run_reaction(uvotel__job_t *j);
void uvotel__run_thenable(uvotel__job_t *j);
/* The JOB_REJECTIONS job: report unhandled / late-handled rejections once nothing else is
 * queued (requeues itself to the end otherwise). */
void uvotel__run_rejections(uvotel__job_t *j);
void uvotel__promises_cleanup(void);

#endif
