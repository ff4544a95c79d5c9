/* The per-thread next-tick and microtask queues and their drain.
 *
 * Both queues are intrusive FIFO lists of pooled jobs, so queueing allocates nothing in steady
 * state. The drain is Node's processTicksAndRejections: every tick, then V8's RunMicrotasks
 * (every microtask, those queued meanwhile included), repeated until both are empty. It is
 * iterative: a job that queues jobs never makes the drain recurse, so a 100,000-link promise
 * chain runs at constant stack depth. */
#include "promise_internal.h"

UVOTEL__TLS uvotel__jobq_t uvotel__jobq;

#define JOB_POOL_CAP 1024

uvotel__job_t *uvotel__job_alloc(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  uvotel__job_t *j = q->free_jobs;
  if (j != NULL) {
    q->free_jobs = j->next;
    q->free_jobs_n--;
  } else {
    j = uvotel_malloc(sizeof *j);
    if (j == NULL) return NULL;
    uvotel__tls_register(&uvotel__tls); /* thread exit frees the pools */
  }
  j->next = NULL;
  return j;
}

void uvotel__job_free(uvotel__job_t *j) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (q->free_jobs_n < JOB_POOL_CAP) {
    j->next = q->free_jobs;
    q->free_jobs = j;
    q->free_jobs_n++;
  } else {
    uvotel_free(j);
  }
}

/* A job queued where no callback return will drain it (top level, a raw libuv callback) asks the
 * thread's most recent loop for a check-phase drain (a no-op when it is armed already). */
static inline void note_queued(uvotel__jobq_t *q) {
  if (UVOTEL__UNLIKELY(uvotel__tls.hot.exec_id == 0 && !q->draining)) (void)uvotel__loop_arm_jobs();
}

void uvotel__mt_append(uvotel__job_t *first, uvotel__job_t *last, size_t n) {
  uvotel__jobq_t *q = &uvotel__jobq;
  last->next = NULL;
  if (q->mt_tail != NULL) {
    q->mt_tail->next = first;
  } else {
    q->mt_head = first;
  }
  q->mt_tail = last;
  uvotel__tls.hot.jobs_n += n;
  note_queued(q);
}

static int queue_job(int kind, const char *type, uvotel_job_cb cb, void *arg) {
  if (cb == NULL) return UVOTEL_EINVAL;
  uvotel__job_t *j = uvotel__job_alloc();
  if (j == NULL) return UVOTEL_ENOMEM;
  j->kind = kind;
  j->u.q.cb = cb;
  j->u.q.arg = arg;
  /* Cannot fail: the arguments are valid. init fires here, trigger = execution id, and the
   * resource captures the current context for the callback. */
  (void)uvotel_resource_init(&j->u.q.res, type, 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel__set_tracking(); /* wrapped callbacks must enter/exit so that their return drains */
  if (kind == JOB_TICK) {
    uvotel__jobq_t *q = &uvotel__jobq;
    if (q->tick_tail != NULL) {
      q->tick_tail->next = j;
    } else {
      q->tick_head = j;
    }
    q->tick_tail = j;
    uvotel__tls.hot.jobs_n++;
    note_queued(q);
  } else {
    uvotel__mt_append(j, j, 1);
  }
  return 0;
}

UVOTEL__API int uvotel_next_tick(uvotel_job_cb cb, void *arg) {
  return queue_job(JOB_TICK, "TickObject", cb, arg);
}

UVOTEL__API int uvotel_queue_microtask(uvotel_job_cb cb, void *arg) {
  return queue_job(JOB_MICROTASK, "Microtask", cb, arg);
}

static void run_plain(uvotel__job_t *j) {
  uvotel_callback_scope_t cs;
  if (uvotel_resource_enter(&j->u.q.res, &cs) == 0) {
    j->u.q.cb(j->u.q.arg);
    uvotel_resource_exit(&cs);
  } else {
    j->u.q.cb(j->u.q.arg);
  }
  (void)uvotel_resource_emit_destroy(&j->u.q.res);
  uvotel__job_free(j);
}

static void run_job(uvotel__job_t *j) {
  switch (j->kind) {
    case JOB_TICK:
    case JOB_MICROTASK:
      run_plain(j);
      break;
    case JOB_REACTION:
      uvotel__run_reaction(j);
      break;
    case JOB_REJECTIONS:
      uvotel__run_rejections(j);
      break;
    default:
      uvotel__run_thenable(j);
      break;
  }
}

void uvotel__jobs_drain(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (q->draining || uvotel__tls.hot.in_hook) return;
  q->draining = 1;
  do {
    uvotel__job_t *j;
    while ((j = q->tick_head) != NULL) {
      q->tick_head = j->next;
      if (q->tick_head == NULL) q->tick_tail = NULL;
      uvotel__tls.hot.jobs_n--;
      run_job(j);
    }
    while ((j = q->mt_head) != NULL) {
      q->mt_head = j->next;
      if (q->mt_head == NULL) q->mt_tail = NULL;
      uvotel__tls.hot.jobs_n--;
      run_job(j);
    }
  } while (uvotel__tls.hot.jobs_n != 0);
  q->draining = 0;
}

UVOTEL__API int uvotel_drain_microtasks(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (uvotel__tls.hot.exec_id != 0 || q->draining || uvotel__tls.hot.in_hook) return UVOTEL_EBUSY;
  if (uvotel__tls.hot.jobs_n != 0) uvotel__jobs_drain();
  return 0;
}

UVOTEL__API size_t uvotel_pending_microtasks(void) {
  return uvotel__tls.hot.jobs_n;
}

static void jobs_thread_cleanup(uvotel__tls_t *t) {
  (void)t;
  uvotel__jobq_t *q = &uvotel__jobq;
  uvotel__promises_cleanup();
  while (q->free_jobs != NULL) {
    uvotel__job_t *j = q->free_jobs;
    q->free_jobs = j->next;
    uvotel_free(j);
  }
  q->free_jobs_n = 0;
}

__attribute__((constructor)) static void promise_layer_register(void) {
  uvotel__tls_layer_cleanup(UVOTEL__LAYER_PROMISE, jobs_thread_cleanup);
  uvotel__tls_jobs_register(uvotel__jobs_drain);
}
