/* Promises: settle, then, adopt, all; reference counting with iterative teardown.
 *
 * A pending promise keeps its waiting reactions in a FIFO list of REACTION jobs; settling splices
 * the whole list onto the microtask queue (each job then holds a reference to the promise whose
 * result it reads). A job holds its chained promise, so the user may drop every intermediate
 * link of a chain. The last unref puts a promise on a per-thread dead list that is emptied by a
 * loop, never by recursion, so freeing a 100,000-link pending chain uses constant stack. */
#include "promise_internal.h"

#define PROMISE_MAGIC 0x50524f4du /* "PROM" */
#define PROMISE_POOL_CAP 1024

/* P_HANDLED: a reaction was ever attached (then, adopt, all). P_LISTED: on the pending
 * unhandled list. P_REPORTED: reported as an unhandled rejection. */
enum { P_CHAINED = 1u, P_RESOLVED = 2u, P_HANDLED = 4u, P_LISTED = 8u, P_REPORTED = 16u };

struct uvotel_promise_list_s {
  uint32_t refs;
  size_t n;
  struct {
    void *value;
    const uvotel_value_ops_t *ops;
  } e[];
};

struct uvotel_promise_s {
  uint32_t magic;
  uint32_t refs;
  uint8_t state;
  uint8_t flags;
  uvotel__jobq_t *owner;
  const uvotel_value_ops_t *ops; /* for values given to resolve/reject and returned by reactions */
  void *value;                   /* the result once settled, held with value_ops */
  const uvotel_value_ops_t *value_ops;
  uvotel__job_t *rx_head, *rx_tail; /* reactions waiting for the result */
  size_t rx_n;
  uvotel_promise_list_t *list; /* uvotel_promise_all: values collected so far */
  size_t remaining;
  uvotel_promise_t *next;                /* pool and dead list */
  uvotel_promise_t *rej_next, *rej_prev; /* the unhandled or late-handled rejection list */
  uvotel_resource_t res;
};

/* ---- values ---- */

static inline void v_retain(const uvotel_value_ops_t *ops, void *v) {
  if (ops != NULL && ops->retain != NULL) ops->retain(v);
}
static inline void v_release(const uvotel_value_ops_t *ops, void *v) {
  if (ops != NULL && ops->release != NULL) ops->release(v);
}

static void list_release_fn(void *v);
static void list_retain_fn(void *v) {
  ((uvotel_promise_list_t *)v)->refs++;
}

UVOTEL__API const uvotel_value_ops_t uvotel_promise_list_ops = {.retain = list_retain_fn,
                                                                .release = list_release_fn};

static void list_release_fn(void *v) {
  uvotel_promise_list_t *l = v;
  if (--l->refs != 0) return;
  for (size_t i = 0; i < l->n; i++) v_release(l->e[i].ops, l->e[i].value);
  uvotel_free(l);
}

UVOTEL__API size_t uvotel_promise_list_size(const uvotel_promise_list_t *l) {
  return l ? l->n : 0;
}

UVOTEL__API void *uvotel_promise_list_get(const uvotel_promise_list_t *l, size_t i) {
  return l != NULL && i < l->n ? l->e[i].value : NULL;
}

/* ---- allocation, references, teardown ---- */

static inline int live(const uvotel_promise_t *p) {
  return p != NULL && p->magic == PROMISE_MAGIC;
}

/* 0, or the error for a call on p from this thread. */
static inline int check(const uvotel_promise_t *p) {
  if (!live(p)) return UVOTEL_EINVAL;
  if (p->owner != &uvotel__jobq) return UVOTEL_EBUSY;
  return 0;
}

static uvotel_promise_t *promise_new(const uvotel_value_ops_t *ops, uvotel_async_id_t trigger,
                                     unsigned flags) {
  uvotel__jobq_t *q = &uvotel__jobq;
  uvotel_promise_t *p = q->free_promises;
  if (p != NULL) {
    q->free_promises = p->next;
    q->free_promises_n--;
  } else {
    p = uvotel_malloc(sizeof *p);
    if (p == NULL) return NULL;
    uvotel__tls_register(&uvotel__tls);
  }
  p->magic = PROMISE_MAGIC;
  p->refs = 1;
  p->state = UVOTEL_PROMISE_PENDING;
  p->flags = (uint8_t)flags;
  p->owner = q;
  p->ops = ops;
  p->value = NULL;
  p->value_ops = NULL;
  p->rx_head = p->rx_tail = NULL;
  p->rx_n = 0;
  p->list = NULL;
  p->remaining = 0;
  p->next = NULL;
  p->rej_next = p->rej_prev = NULL;
  uvotel__set_tracking();
  /* init fires here (PROMISE, trigger = parent promise or execution id); the resource captures
   * the current context, which is then()'s context for a chained promise's reaction. */
  (void)uvotel_resource_init_owner(&p->res, "PROMISE", trigger, UVOTEL_RESOURCE_MANUAL_DESTROY, p);
  return p;
}

static void job_release(uvotel__job_t *j);
static void reap(void);

static inline void pref(uvotel_promise_t *p) {
  p->refs++;
}

static inline void punref(uvotel_promise_t *p) {
  if (p == NULL || --p->refs != 0) return;
  uvotel__jobq_t *q = &uvotel__jobq;
  p->next = q->dead;
  q->dead = p;
  if (!q->reaping) reap();
}

static void teardown(uvotel_promise_t *p) {
  uvotel__jobq_t *q = &uvotel__jobq;
  p->magic = 0;
  uvotel__job_t *j = p->rx_head;
  p->rx_head = p->rx_tail = NULL;
  while (j != NULL) {
    uvotel__job_t *next = j->next;
    job_release(j);
    j = next;
  }
  if (p->list != NULL) list_release_fn(p->list);
  p->list = NULL;
  if (p->state != UVOTEL_PROMISE_PENDING) v_release(p->value_ops, p->value);
  (void)uvotel_resource_emit_destroy(&p->res);
  if (q->free_promises_n < PROMISE_POOL_CAP) {
    p->next = q->free_promises;
    q->free_promises = p;
    q->free_promises_n++;
  } else {
    uvotel_free(p);
  }
}

static void reap(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  q->reaping = 1;
  while (q->dead != NULL) {
    uvotel_promise_t *p = q->dead;
    q->dead = p->next;
    teardown(p);
  }
  q->reaping = 0;
}

/* Drop everything a job holds and free it. */
static void job_release(uvotel__job_t *j) {
  if (j->kind == JOB_REACTION) {
    uvotel_promise_t *src = j->u.r.src, *derived = j->u.r.derived, *target = j->u.r.target;
    uvotel__job_free(j);
    punref(src);
    punref(derived);
    punref(target);
  } else {
    uvotel_promise_t *p = j->u.t.p, *other = j->u.t.other;
    uvotel__job_free(j);
    punref(p);
    punref(other);
  }
}

void uvotel__promises_cleanup(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  while (q->free_promises != NULL) {
    uvotel_promise_t *p = q->free_promises;
    q->free_promises = p->next;
    uvotel_free(p);
  }
  q->free_promises_n = 0;
}

UVOTEL__API int uvotel_promise_ref(uvotel_promise_t *p) {
  int err = check(p);
  if (err) return err;
  pref(p);
  return 0;
}

UVOTEL__API int uvotel_promise_unref(uvotel_promise_t *p) {
  int err = check(p);
  if (err) return err;
  punref(p);
  return 0;
}

/* ---- unhandled rejections ---- */

/* The rejection lists are doubly linked so that a promise that gets a handler leaves the
 * pending list at once, with the reference the list held: promises that are handled in time
 * are freed exactly when they would be without this bookkeeping. */
static void rej_append(uvotel_promise_t **head, uvotel_promise_t **tail, uvotel_promise_t *p) {
  pref(p);
  p->rej_next = NULL;
  p->rej_prev = *tail;
  if (*tail != NULL) {
    (*tail)->rej_next = p;
  } else {
    *head = p;
  }
  *tail = p;
}

static void rej_unlink(uvotel_promise_t **head, uvotel_promise_t **tail, uvotel_promise_t *p) {
  if (p->rej_prev != NULL) {
    p->rej_prev->rej_next = p->rej_next;
  } else {
    *head = p->rej_next;
  }
  if (p->rej_next != NULL) {
    p->rej_next->rej_prev = p->rej_prev;
  } else {
    *tail = p->rej_prev;
  }
  p->rej_next = p->rej_prev = NULL;
}

/* Make sure the JOB_REJECTIONS job is queued; without memory for it the rejection is said at
 * once (it may still get a handler, so this is the only imprecise case). */
static int want_rejections_job(void) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (q->rejections_job_queued) return 0;
  uvotel__job_t *j = uvotel__job_alloc();
  if (j == NULL) return UVOTEL_ENOMEM;
  j->kind = JOB_REJECTIONS;
  q->rejections_job_queued = 1;
  uvotel__mt_append(j, j, 1);
  return 0;
}

static void report(uvotel_rejection_event_t ev, uvotel_promise_t *p) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (ev == UVOTEL_REJECTION_UNHANDLED) q->unhandled_reported++;
  if (q->rejection_cb != NULL) {
    q->rejection_cb(ev, p, p->value, q->rejection_arg);
  } else if (ev == UVOTEL_REJECTION_UNHANDLED) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ESTATE,
                "unhandled promise rejection: promise %llu was rejected and had no rejection "
                "handler when the microtask queue ran empty",
                (unsigned long long)p->res.id_);
  } else {
    uvotel_diag(UVOTEL_DIAG_WARN, 0,
                "promise rejection was handled asynchronously: promise %llu got a handler after "
                "it was reported unhandled",
                (unsigned long long)p->res.id_);
  }
}

static void track_unhandled(uvotel_promise_t *p) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (want_rejections_job() != 0) {
    p->flags |= P_REPORTED;
    report(UVOTEL_REJECTION_UNHANDLED, p);
    return;
  }
  p->flags |= P_LISTED;
  rej_append(&q->unh_head, &q->unh_tail, p);
}

/* A reaction is being attached to p (the caller holds a reference to p). */
static void mark_handled(uvotel_promise_t *p) {
  uvotel__jobq_t *q = &uvotel__jobq;
  int was_reported = (p->flags & (P_HANDLED | P_REPORTED)) == P_REPORTED;
  p->flags |= P_HANDLED;
  if (p->flags & P_LISTED) {
    p->flags &= (uint8_t)~P_LISTED;
    rej_unlink(&q->unh_head, &q->unh_tail, p);
    punref(p);
  }
  if (was_reported) {
    if (want_rejections_job() != 0) {
      report(UVOTEL_REJECTION_HANDLED, p);
      return;
    }
    rej_append(&q->handled_head, &q->handled_tail, p);
  }
}

void uvotel__run_rejections(uvotel__job_t *j) {
  uvotel__jobq_t *q = &uvotel__jobq;
  if (uvotel__tls.hot.jobs_n != 0) {
    /* Something is still queued (and may attach handlers): look again when it has run. */
    uvotel__mt_append(j, j, 1);
    return;
  }
  uvotel__job_free(j);
  q->rejections_job_queued = 0;
  uvotel_promise_t *unh = q->unh_head, *late = q->handled_head;
  q->unh_head = q->unh_tail = NULL;
  q->handled_head = q->handled_tail = NULL;
  while (unh != NULL) {
    uvotel_promise_t *p = unh, *next = p->rej_next;
    p->flags &= (uint8_t)~P_LISTED;
    p->flags |= P_REPORTED;
    p->rej_next = p->rej_prev = NULL;
    report(UVOTEL_REJECTION_UNHANDLED, p);
    punref(p);
    unh = next;
  }
  while (late != NULL) {
    uvotel_promise_t *p = late, *next = p->rej_next;
    p->rej_next = p->rej_prev = NULL;
    report(UVOTEL_REJECTION_HANDLED, p);
    punref(p);
    late = next;
  }
}

UVOTEL__API void uvotel_promise_on_rejection(uvotel_rejection_cb cb, void *arg) {
  uvotel__jobq_t *q = &uvotel__jobq;
  q->rejection_cb = cb;
  q->rejection_arg = arg;
}

UVOTEL__API uint64_t uvotel_promise_unhandled_rejections(void) {
  return uvotel__jobq.unhandled_reported;
}

/* ---- settling ---- */

/* Settle p with (value, ops): take the value, tell the hooks, queue the reactions. */
static void settle(uvotel_promise_t *p, void *value, const uvotel_value_ops_t *ops, int rejected) {
  p->state = rejected ? UVOTEL_PROMISE_REJECTED : UVOTEL_PROMISE_FULFILLED;
  p->flags |= P_RESOLVED;
  p->value = value;
  p->value_ops = ops;
  v_retain(ops, value);
  uvotel_emit_promise_resolve(&p->res);
  if (rejected && !(p->flags & P_HANDLED)) track_unhandled(p);
  if (p->rx_head != NULL) {
    for (uvotel__job_t *j = p->rx_head; j != NULL; j = j->next) {
      j->u.r.src = p;
      pref(p);
    }
    uvotel__job_t *first = p->rx_head, *last = p->rx_tail;
    size_t n = p->rx_n;
    p->rx_head = p->rx_tail = NULL;
    p->rx_n = 0;
    uvotel__mt_append(first, last, n);
  }
}

static int settle_api(uvotel_promise_t *p, void *value, int rejected) {
  int err = check(p);
  if (err) return err;
  if (p->flags & (P_RESOLVED | P_CHAINED)) return UVOTEL_ESTATE;
  settle(p, value, p->ops, rejected);
  return 0;
}

UVOTEL__API int uvotel_promise_resolve(uvotel_promise_t *p, void *value) {
  return settle_api(p, value, 0);
}

UVOTEL__API int uvotel_promise_reject(uvotel_promise_t *p, void *error) {
  return settle_api(p, error, 1);
}

UVOTEL__API uvotel_promise_t *uvotel_promise_resolved(void *value, const uvotel_value_ops_t *ops) {
  uvotel_promise_t *p = promise_new(ops, 0, 0);
  if (p != NULL) settle(p, value, ops, 0);
  return p;
}

UVOTEL__API uvotel_promise_t *uvotel_promise_rejected(void *error, const uvotel_value_ops_t *ops) {
  uvotel_promise_t *p = promise_new(ops, 0, 0);
  if (p != NULL) settle(p, error, ops, 1);
  return p;
}

UVOTEL__API uvotel_promise_t *uvotel_promise_create(const uvotel_value_ops_t *ops) {
  return promise_new(ops, 0, 0);
}

/* Queue the job that makes p follow other (V8's PromiseResolveThenableJob). Takes over one
 * reference to other; p is referenced here. */
static int adopt(uvotel_promise_t *p, uvotel_promise_t *other) {
  uvotel__job_t *j = uvotel__job_alloc();
  if (j == NULL) return UVOTEL_ENOMEM;
  j->kind = JOB_THENABLE;
  j->u.t.p = p;
  j->u.t.other = other;
  pref(p);
  p->flags |= P_RESOLVED;
  uvotel__mt_append(j, j, 1);
  return 0;
}

UVOTEL__API int uvotel_promise_adopt(uvotel_promise_t *p, uvotel_promise_t *other) {
  int err = check(p);
  if (err == 0) err = check(other);
  if (err) return err;
  if (p == other) return UVOTEL_EINVAL;
  if (p->flags & (P_RESOLVED | P_CHAINED)) return UVOTEL_ESTATE;
  pref(other);
  err = adopt(p, other);
  if (err) other->refs--; /* cannot reach 0: the caller holds one */
  return err;
}

/* ---- then ---- */

/* Register a reaction job on p; returns the derived promise (one reference for the caller, one
 * held by the job) or NULL. */
static uvotel_promise_t *then_job(uvotel_promise_t *p, int mode, uvotel_promise_reaction_cb ok,
                                  uvotel_promise_reaction_cb err, void *arg,
                                  const uvotel_value_ops_t *ops, uvotel_promise_t *target,
                                  size_t index) {
  uvotel__job_t *j = uvotel__job_alloc();
  if (j == NULL) return NULL;
  uvotel_promise_t *d = promise_new(ops, p->res.id_, P_CHAINED);
  if (d != NULL) mark_handled(p);
  if (d == NULL) {
    uvotel__job_free(j);
    return NULL;
  }
  j->kind = JOB_REACTION;
  j->u.r.derived = d;
  pref(d);
  j->u.r.target = target;
  if (target != NULL) pref(target);
  j->u.r.on_ok = ok;
  j->u.r.on_err = err;
  j->u.r.arg = arg;
  j->u.r.index = index;
  j->u.r.mode = mode;
  if (p->state == UVOTEL_PROMISE_PENDING) {
    j->u.r.src = NULL;
    j->next = NULL;
    if (p->rx_tail != NULL) {
      p->rx_tail->next = j;
    } else {
      p->rx_head = j;
    }
    p->rx_tail = j;
    p->rx_n++;
  } else {
    j->u.r.src = p;
    pref(p);
    uvotel__mt_append(j, j, 1);
  }
  return d;
}

UVOTEL__API uvotel_promise_t *uvotel_promise_then_ops(uvotel_promise_t *p,
                                                      uvotel_promise_reaction_cb on_fulfilled,
                                                      uvotel_promise_reaction_cb on_rejected,
                                                      void *arg, const uvotel_value_ops_t *ops) {
  if (check(p) != 0) return NULL;
  return then_job(p, RX_USER, on_fulfilled, on_rejected, arg, ops, NULL, 0);
}

UVOTEL__API uvotel_promise_t *uvotel_promise_then(uvotel_promise_t *p,
                                                  uvotel_promise_reaction_cb on_fulfilled,
                                                  uvotel_promise_reaction_cb on_rejected,
                                                  void *arg) {
  if (check(p) != 0) return NULL;
  return then_job(p, RX_USER, on_fulfilled, on_rejected, arg, p->ops, NULL, 0);
}

/* Apply a user reaction's result to its derived promise d. */
static void apply_result(uvotel_promise_t *d, uvotel_reaction_t r) {
  switch (r.kind) {
    case UVOTEL_REACTION_VALUE:
      settle(d, r.ptr, d->ops, 0);
      break;
    case UVOTEL_REACTION_PROMISE: {
      uvotel_promise_t *other = r.ptr;
      if (other == NULL) {
        settle(d, NULL, d->ops, 0);
      } else if (other == d) {
        punref(other); /* the reference handed over; the job still holds d */
        settle(d, NULL, NULL, 1);
      } else if (check(other) != 0) {
        settle(d, NULL, NULL, 1); /* a freed or foreign promise: reject rather than crash */
      } else if (adopt(d, other) != 0) {
        punref(other);
        settle(d, NULL, NULL, 1); /* out of memory: reject rather than hang */
      }
      break;
    }
    default:
      settle(d, r.ptr, d->ops, 1);
      break;
  }
}

void uvotel__run_reaction(uvotel__job_t *j) {
  uvotel_promise_t *src = j->u.r.src, *d = j->u.r.derived, *target = j->u.r.target;
  int rejected = src->state == UVOTEL_PROMISE_REJECTED;
  uvotel_callback_scope_t cs;
  int entered = uvotel_resource_enter(&d->res, &cs) == 0;
  switch (j->u.r.mode) {
    case RX_USER: {
      uvotel_promise_reaction_cb cb = rejected ? j->u.r.on_err : j->u.r.on_ok;
      if (cb == NULL) {
        settle(d, src->value, src->value_ops, rejected);
      } else {
        apply_result(d, cb(src->value, j->u.r.arg));
      }
      break;
    }
    case RX_ADOPT:
      if (target->state == UVOTEL_PROMISE_PENDING) {
        settle(target, src->value, src->value_ops, rejected);
      }
      settle(d, NULL, NULL, 0);
      break;
    default: /* RX_ALL */
      if (target->state == UVOTEL_PROMISE_PENDING) {
        if (rejected) {
          settle(target, src->value, src->value_ops, 1);
        } else {
          uvotel_promise_list_t *l = target->list;
          l->e[j->u.r.index].value = src->value;
          l->e[j->u.r.index].ops = src->value_ops;
          v_retain(src->value_ops, src->value);
          if (--target->remaining == 0) {
            target->list = NULL;
            settle(target, l, &uvotel_promise_list_ops, 0);
            list_release_fn(l); /* settle retained it */
          }
        }
      }
      settle(d, NULL, NULL, 0);
      break;
  }
  if (entered) uvotel_resource_exit(&cs);
  job_release(j);
}

void uvotel__run_thenable(uvotel__job_t *j) {
  uvotel_promise_t *p = j->u.t.p, *other = j->u.t.other;
  uvotel_callback_scope_t cs;
  int entered = uvotel_resource_enter(&p->res, &cs) == 0;
  uvotel_promise_t *d = then_job(other, RX_ADOPT, NULL, NULL, NULL, NULL, p, 0);
  if (d != NULL) {
    punref(d); /* internal: only the job holds it */
  } else if (p->state == UVOTEL_PROMISE_PENDING) {
    settle(p, NULL, NULL, 1); /* out of memory: reject rather than hang */
  }
  if (entered) uvotel_resource_exit(&cs);
  job_release(j);
}

/* ---- all ---- */

UVOTEL__API uvotel_promise_t *uvotel_promise_all(uvotel_promise_t *const *ps, size_t n) {
  if (ps == NULL && n > 0) return NULL;
  for (size_t i = 0; i < n; i++) {
    if (check(ps[i]) != 0) return NULL;
  }
  if (n > (SIZE_MAX - sizeof(uvotel_promise_list_t)) / sizeof(((uvotel_promise_list_t *)0)->e[0])) {
    return NULL;
  }
  uvotel_promise_list_t *l =
      uvotel_calloc(1, sizeof *l + n * sizeof(((uvotel_promise_list_t *)0)->e[0]));
  if (l == NULL) return NULL;
  l->refs = 1;
  l->n = n;
  uvotel_promise_t *all = promise_new(&uvotel_promise_list_ops, 0, P_CHAINED);
  if (all == NULL) {
    uvotel_free(l);
    return NULL;
  }
  if (n == 0) {
    settle(all, l, &uvotel_promise_list_ops, 0);
    list_release_fn(l);
    return all;
  }
  all->list = l;
  all->remaining = n;
  for (size_t i = 0; i < n; i++) {
    uvotel_promise_t *d = then_job(ps[i], RX_ALL, NULL, NULL, NULL, NULL, all, i);
    if (d == NULL) {
      /* Out of memory part-way: the reactions already registered hold `all`; reject it so they
       * do nothing, and hand the caller NULL. */
      settle(all, NULL, NULL, 1);
      punref(all);
      return NULL;
    }
    punref(d);
  }
  return all;
}

/* ---- queries ---- */

UVOTEL__API int uvotel_promise_state(const uvotel_promise_t *p) {
  if (!live(p)) return UVOTEL_EINVAL;
  return p->state;
}

UVOTEL__API void *uvotel_promise_value(const uvotel_promise_t *p) {
  return live(p) && p->state != UVOTEL_PROMISE_PENDING ? p->value : NULL;
}

UVOTEL__API uvotel_async_id_t uvotel_promise_async_id(const uvotel_promise_t *p) {
  return live(p) ? p->res.id_ : 0;
}
