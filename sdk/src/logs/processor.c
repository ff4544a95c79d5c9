/* Log exporter and processor objects, the exporter registry, the simple and batch processors.
 * The batch processor has the span batch processor's shape (a bounded MPSC ring of references,
 * a timer and an async handle on the application's loop, exports on the thread pool); it is
 * its own code because records and span data are different types. */
#include <time.h>

#include "logs_internal.h"

/* ---- exporters ---- */

UVOTEL__API uvotel_log_exporter_t *uvotel_log_exporter_create(const uvotel_log_exporter_ops_t *ops,
                                                              void *self) {
  if (ops == NULL || ops->export_logs == NULL) return NULL;
  uvotel_log_exporter_t *e = uvotel_malloc(sizeof *e);
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

static inline void exp_lock(uvotel_log_exporter_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_lock(&e->mu);
}
static inline void exp_unlock(uvotel_log_exporter_t *e) {
  if (!(e->flags & UVOTEL_EXPORTER_CONCURRENT)) pthread_mutex_unlock(&e->mu);
}

UVOTEL__API int uvotel_log_exporter_export(uvotel_log_exporter_t *e,
                                           const uvotel_log_data_t *const *recs, size_t n,
                                           uint64_t timeout_ms) {
  if (e == NULL || (recs == NULL && n != 0)) return UVOTEL_EINVAL;
  if (n == 0) return 0;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  exp_lock(e);
  int rc = e->ops->export_logs(e->self, recs, n, timeout_ms);
  exp_unlock(e);
  return rc;
}

UVOTEL__API int uvotel_log_exporter_export_async(uvotel_log_exporter_t *e,
                                                 const uvotel_log_data_t *const *recs, size_t n,
                                                 uint64_t timeout_ms,
                                                 const uvotel_export_completion_t *completion) {
  if (e == NULL || completion == NULL || completion->done == NULL || (recs == NULL && n != 0)) {
    return UVOTEL_EINVAL;
  }
  if (n == 0) {
    completion->done(completion->arg, 0, 0);
    return 0;
  }
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->ops->export_async == NULL) {
    exp_lock(e);
    int rc = e->ops->export_logs(e->self, recs, n, timeout_ms);
    exp_unlock(e);
    completion->done(completion->arg, rc, 0);
    return 0;
  }
  return e->ops->export_async(e->self, recs, n, timeout_ms, completion);
}

UVOTEL__API int uvotel_log_exporter_force_flush(uvotel_log_exporter_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_load(&e->shut)) return UVOTEL_ESHUTDOWN;
  if (e->ops->force_flush == NULL) return 0;
  exp_lock(e);
  int rc = e->ops->force_flush(e->self, timeout_ms);
  exp_unlock(e);
  return rc;
}

UVOTEL__API int uvotel_log_exporter_shutdown(uvotel_log_exporter_t *e, uint64_t timeout_ms) {
  if (e == NULL) return UVOTEL_EINVAL;
  if (atomic_exchange(&e->shut, 1)) return UVOTEL_ESHUTDOWN;
  if (e->ops->shutdown == NULL) return 0;
  exp_lock(e);
  int rc = e->ops->shutdown(e->self, timeout_ms);
  exp_unlock(e);
  return rc;
}

UVOTEL__API void *uvotel_log_exporter_self(const uvotel_log_exporter_t *e) {
  return e != NULL ? e->self : NULL;
}

UVOTEL__API void uvotel_log_exporter_free(uvotel_log_exporter_t *e) {
  if (e == NULL) return;
  if (!atomic_load(&e->shut)) uvotel_log_exporter_shutdown(e, 0);
  if (e->ops->free != NULL) e->ops->free(e->self);
  pthread_mutex_destroy(&e->mu);
  uvotel_free(e);
}

/* ---- registry (no allocation: it runs in library constructors) ---- */

#define REG_MAX 32
typedef struct reg_s {
  char name[32];
  uvotel_log_exporter_factory_fn fn;
  void *arg;
} reg_t;
static reg_t g_reg[REG_MAX];
static size_t g_reg_n;
static pthread_mutex_t g_reg_mu = PTHREAD_MUTEX_INITIALIZER;

UVOTEL__API int uvotel_log_exporter_register(const char *name, uvotel_log_exporter_factory_fn fn,
                                             void *arg) {
  if (name == NULL || fn == NULL || name[0] == '\0' || strlen(name) >= sizeof g_reg[0].name) {
    return UVOTEL_EINVAL;
  }
  pthread_mutex_lock(&g_reg_mu);
  size_t i = 0;
  while (i < g_reg_n && strcmp(g_reg[i].name, name) != 0) i++;
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

UVOTEL__API uvotel_log_exporter_t *uvotel_log_exporter_create_by_name(const char *name) {
  if (name == NULL) return NULL;
  uvotel_log_exporter_factory_fn fn = NULL;
  void *arg = NULL;
  pthread_mutex_lock(&g_reg_mu);
  for (size_t i = 0; i < g_reg_n; i++) {
    if (strcmp(g_reg[i].name, name) == 0) {
      fn = g_reg[i].fn;
      arg = g_reg[i].arg;
    }
  }
  pthread_mutex_unlock(&g_reg_mu);
  if (fn == NULL) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOENT,
                "no log exporter \"%s\" registered (is libuvotel_exporters linked?)", name);
    return NULL;
  }
  return fn(name, arg);
}

/* ---- processor objects ---- */

UVOTEL__API uvotel_log_processor_t *uvotel_log_processor_create(
    const uvotel_log_processor_ops_t *ops, void *self) {
  if (ops == NULL || ops->on_emit == NULL) return NULL;
  uvotel_log_processor_t *p = uvotel_malloc(sizeof *p);
  if (p == NULL) {
    if (ops->free != NULL) ops->free(self);
    return NULL;
  }
  p->ops = ops;
  p->self = self;
  p->shut = 0;
  return p;
}

UVOTEL__API int uvotel_log_processor_force_flush(uvotel_log_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  return p->ops->force_flush != NULL ? p->ops->force_flush(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_log_processor_shutdown(uvotel_log_processor_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (p->shut) return UVOTEL_ESHUTDOWN;
  p->shut = 1;
  return p->ops->shutdown != NULL ? p->ops->shutdown(p->self, timeout_ms) : 0;
}

UVOTEL__API int uvotel_log_processor_counters(const uvotel_log_processor_t *p,
                                              uvotel_log_processor_counters_t *out) {
  if (p == NULL || out == NULL) return UVOTEL_EINVAL;
  memset(out, 0, sizeof *out);
  if (p->ops->counters != NULL) p->ops->counters(p->self, out);
  return 0;
}

UVOTEL__API void uvotel_log_processor_free(uvotel_log_processor_t *p) {
  if (p == NULL) return;
  if (!p->shut) uvotel_log_processor_shutdown(p, 0);
  if (p->ops->free != NULL) p->ops->free(p->self);
  uvotel_free(p);
}

/* Say a drop at WARN, rate-limited: a flood costs a line every few seconds, with the total. */
static void say_dropped(uint64_t n, const char *why) {
  static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
  uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, UVOTEL_EBUSY,
                      "log processor: %llu records dropped so far (%s)", (unsigned long long)n,
                      why);
}

/* ---- simple processor ---- */

typedef struct simple_s {
  uvotel_log_exporter_t *exp;
  atomic_uint_fast64_t received, dropped, exported, failed, batches;
  atomic_int shut;
} simple_t;

static void simple_on_emit(void *self, const uvotel_log_data_t *d) {
  simple_t *s = self;
  atomic_fetch_add(&s->received, 1);
  if (atomic_load(&s->shut)) {
    say_dropped(atomic_fetch_add(&s->dropped, 1) + 1, "after shutdown");
    return;
  }
  atomic_fetch_add(&s->batches, 1);
  int rc = uvotel_log_exporter_export(s->exp, &d, 1, 30000);
  if (rc == 0) {
    atomic_fetch_add(&s->exported, 1);
  } else {
    atomic_fetch_add(&s->failed, 1);
    uvotel_diag(UVOTEL_DIAG_WARN, rc, "simple log processor: export failed");
  }
}
static int simple_flush(void *self, uint64_t timeout_ms) {
  return uvotel_log_exporter_force_flush(((simple_t *)self)->exp, timeout_ms);
}
static int simple_shutdown(void *self, uint64_t timeout_ms) {
  simple_t *s = self;
  atomic_store(&s->shut, 1);
  return uvotel_log_exporter_shutdown(s->exp, timeout_ms);
}
static void simple_free(void *self) {
  simple_t *s = self;
  uvotel_log_exporter_free(s->exp);
  uvotel_free(s);
}
static void simple_counters(void *self, uvotel_log_processor_counters_t *out) {
  simple_t *s = self;
  out->received = atomic_load(&s->received);
  out->dropped = atomic_load(&s->dropped);
  out->exported = atomic_load(&s->exported);
  out->failed = atomic_load(&s->failed);
  out->batches = atomic_load(&s->batches);
}
static const uvotel_log_processor_ops_t g_simple_ops = {
    simple_on_emit, simple_flush, simple_shutdown, simple_free, simple_counters};

UVOTEL__API uvotel_log_processor_t *uvotel_simple_log_processor_create(
    uvotel_log_exporter_t *exporter) {
  if (exporter == NULL) return NULL;
  simple_t *s = uvotel_calloc(1, sizeof *s);
  if (s == NULL) {
    uvotel_log_exporter_free(exporter);
    return NULL;
  }
  s->exp = exporter;
  return uvotel_log_processor_create(&g_simple_ops, s);
}

/* ---- batch processor ---- */

typedef struct cell_s {
  atomic_size_t seq;
  const uvotel_log_data_t *d;
} cell_t;

typedef struct job_s {
  uv_work_t req;
  struct batch_s *b;
  struct job_s *next_free;
  size_t n;
  int rc;
  const uvotel_log_data_t *recs[];
} job_t;

typedef struct batch_s {
  uvotel_log_exporter_t *exp;
  uvotel_batch_log_processor_options_t o;
  uv_loop_t *loop;
  /* The thread running the loop, learnt in its first timer/async callback (a processor may be
   * created on another thread before the loop's thread starts, as the preload does). */
  uv_thread_t loop_thread;
  atomic_int loop_known;
  uv_async_t async;
  uv_timer_t timer;
  int handles_open;
  int free_pending;
  atomic_int shut;
  cell_t *ring;
  size_t mask;
  atomic_size_t enq;
  atomic_size_t deq; /* consumer (loop thread) only */
  atomic_int wake_pending;
  job_t *free_jobs;
  size_t outstanding; /* uv_queue_work'd, after_work not yet run */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  atomic_uint in_flight; /* changed under mu, read anywhere */
  uint64_t done_seq;     /* under mu */
  size_t async_n;        /* records of the asynchronous export in flight (at most one) */
  atomic_uint_fast64_t dropped, exported, failed, batches;
} batch_t;

static void batch_maybe_free(batch_t *b);
static void dispatch_full(batch_t *b);

static int batch_push(batch_t *b, const uvotel_log_data_t *d) {
  size_t pos = atomic_load_explicit(&b->enq, memory_order_relaxed);
  for (;;) {
    size_t used = pos - atomic_load_explicit(&b->deq, memory_order_acquire);
    if (used >= b->o.max_queue_size) return -1;
    if (atomic_compare_exchange_weak_explicit(&b->enq, &pos, pos + 1, memory_order_relaxed,
                                              memory_order_relaxed)) {
      break;
    }
  }
  cell_t *cell = &b->ring[pos & b->mask];
  while (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos) {
  }
  cell->d = d;
  atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
  return (int)(pos + 1 - atomic_load_explicit(&b->deq, memory_order_relaxed));
}

static const uvotel_log_data_t *batch_pop(batch_t *b) {
  size_t deq = atomic_load_explicit(&b->deq, memory_order_relaxed);
  cell_t *cell = &b->ring[deq & b->mask];
  if (atomic_load_explicit(&cell->seq, memory_order_acquire) != deq + 1) return NULL;
  const uvotel_log_data_t *d = cell->d;
  atomic_store_explicit(&cell->seq, deq + b->mask + 1, memory_order_release);
  atomic_store_explicit(&b->deq, deq + 1, memory_order_release);
  return d;
}

static size_t queued(batch_t *b) {
  return atomic_load(&b->enq) - atomic_load(&b->deq);
}

static uint32_t in_flight(batch_t *b) {
  return atomic_load(&b->in_flight);
}

/* Queue d, owning one reference to it (released here when it is dropped). */
static void batch_take(batch_t *b, const uvotel_log_data_t *d) {
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&b->shut, memory_order_acquire))) {
    uvotel_log_data_release(d);
    say_dropped(atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed) + 1,
                "after shutdown");
    return;
  }
  int c = batch_push(b, d);
  if (UVOTEL__UNLIKELY(c < 0)) {
    uvotel_log_data_release(d);
    say_dropped(atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed) + 1,
                "queue full: max_queue_size reached, the exporter is not keeping up");
    return;
  }
  if (UVOTEL__UNLIKELY((uint32_t)c >= b->o.max_export_batch_size)) {
    uv_thread_t me = uv_thread_self();
    if (atomic_load_explicit(&b->loop_known, memory_order_acquire) &&
        uv_thread_equal(&me, &b->loop_thread)) {
      if ((uint32_t)c % b->o.max_export_batch_size == 0 || in_flight(b) == 0) dispatch_full(b);
    } else if (!atomic_exchange_explicit(&b->wake_pending, 1, memory_order_relaxed)) {
      uv_async_send(&b->async);
    }
  }
}

static void batch_on_emit(void *self, const uvotel_log_data_t *d) {
  batch_take(self, uvotel_log_data_retain(d));
}

/* The outcome of one export: counted, and the in-flight slot freed. Any thread. */
static void export_finished(batch_t *b, size_t n, int result, size_t rejected) {
  static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
  if (rejected > n) rejected = n;
  if (result == 0) {
    atomic_fetch_add(&b->exported, n - rejected);
    atomic_fetch_add(&b->failed, rejected);
  } else if (result == UVOTEL_EBUSY) {
    atomic_fetch_add(&b->dropped, n); /* the exporter's queue was full: never handed over */
  } else {
    atomic_fetch_add(&b->failed, n);
  }
  if (result != 0 || rejected != 0) {
    uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, result,
                        "batch log processor: %zu of %zu records not delivered",
                        result != 0 ? n : rejected, n);
  }
  pthread_mutex_lock(&b->mu);
  b->in_flight--;
  b->done_seq++;
  pthread_cond_broadcast(&b->cond);
  pthread_mutex_unlock(&b->mu);
}

static void export_done(void *arg, int result, size_t rejected) {
  batch_t *b = arg;
  export_finished(b, b->async_n, result, rejected);
}

/* On the pool: the exporter encodes here; with export_async the delivery is reported later by
 * export_done (one export in flight, so one completion outstanding). */
static void job_work(uv_work_t *req) {
  job_t *j = (job_t *)req;
  batch_t *b = j->b;
  if (b->exp->ops->export_async != NULL) {
    b->async_n = j->n;
    uvotel_export_completion_t c = {export_done, b};
    j->rc = uvotel_log_exporter_export_async(b->exp, j->recs, j->n, b->o.export_timeout_ms, &c);
    if (j->rc != 0) export_finished(b, j->n, j->rc, 0);
    return;
  }
  j->rc = uvotel_log_exporter_export(b->exp, j->recs, j->n, b->o.export_timeout_ms);
  export_finished(b, j->n, j->rc, 0);
}

static void job_recycle(batch_t *b, job_t *j) {
  uvotel__log_release_many(j->recs, j->n);
  j->n = 0;
  j->next_free = b->free_jobs;
  b->free_jobs = j;
}

static void job_after(uv_work_t *req, int status) {
  job_t *j = (job_t *)req;
  batch_t *b = j->b;
  if (status != 0) job_work(req); /* never cancelled; keep the books straight anyway */
  job_recycle(b, j);
  b->outstanding--;
  if (b->free_pending) {
    batch_maybe_free(b);
    return;
  }
  if (!atomic_load_explicit(&b->shut, memory_order_relaxed)) dispatch_full(b);
}

/* Start one export of up to max_export_batch_size records. 0 started, 1 nothing to do,
 * negative error. Loop thread. */
static int dispatch_one(batch_t *b, int allow_alloc) {
  job_t *j = b->free_jobs;
  if (j == NULL) {
    if (!allow_alloc && b->outstanding >= 3) return 1;
    j = uvotel_malloc(sizeof(job_t) + sizeof(void *) * b->o.max_export_batch_size);
    if (j == NULL) return UVOTEL_ENOMEM;
    j->b = b;
    j->n = 0;
  } else {
    b->free_jobs = j->next_free;
  }
  size_t n = 0;
  const uvotel_log_data_t *d;
  while (n < b->o.max_export_batch_size && (d = batch_pop(b)) != NULL) j->recs[n++] = d;
  j->n = n;
  if (n == 0) {
    job_recycle(b, j);
    return 1;
  }
  atomic_fetch_add(&b->batches, 1);
  pthread_mutex_lock(&b->mu);
  b->in_flight++;
  pthread_mutex_unlock(&b->mu);
  if (uv_queue_work(b->loop, &j->req, job_work, job_after) != 0) {
    job_work(&j->req);
    job_recycle(b, j);
    return 0;
  }
  b->outstanding++;
  return 0;
}

static void dispatch_full(batch_t *b) {
  while (queued(b) >= b->o.max_export_batch_size && in_flight(b) == 0) {
    if (dispatch_one(b, 0) != 0) break;
  }
}

static void learn_loop_thread(batch_t *b) {
  if (!atomic_load_explicit(&b->loop_known, memory_order_relaxed)) {
    b->loop_thread = uv_thread_self();
    atomic_store_explicit(&b->loop_known, 1, memory_order_release);
  }
}

static void on_async(uv_async_t *a) {
  batch_t *b = a->data;
  learn_loop_thread(b);
  atomic_store(&b->wake_pending, 0);
  if (!atomic_load_explicit(&b->shut, memory_order_relaxed)) dispatch_full(b);
}

static void on_timer(uv_timer_t *t) {
  batch_t *b = t->data;
  learn_loop_thread(b);
  if (atomic_load_explicit(&b->shut, memory_order_relaxed)) return;
  if (queued(b) > 0 && in_flight(b) == 0) dispatch_one(b, 0);
}

static int wait_done(batch_t *b, uint64_t deadline_ms, uint64_t seq) {
  pthread_mutex_lock(&b->mu);
  int rc = 0;
  while (b->done_seq == seq && b->in_flight > 0) {
    uint64_t now = uvotel__mono_ms();
    if (now >= deadline_ms) {
      rc = UVOTEL_ETIMEDOUT;
      break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t left = deadline_ms - now;
    ts.tv_sec += (time_t)(left / 1000);
    ts.tv_nsec += (long)(left % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&b->cond, &b->mu, &ts);
  }
  pthread_mutex_unlock(&b->mu);
  return rc;
}

static int flush_until(batch_t *b, uint64_t deadline) {
  size_t target = atomic_load(&b->enq);
  for (;;) {
    pthread_mutex_lock(&b->mu);
    uint32_t inf = b->in_flight;
    uint64_t seq = b->done_seq;
    pthread_mutex_unlock(&b->mu);
    int pending = atomic_load(&b->deq) < target;
    if (!pending && inf == 0) return 0;
    if (uvotel__mono_ms() >= deadline) return UVOTEL_ETIMEDOUT;
    if (pending && inf == 0) {
      int rc = dispatch_one(b, 1);
      if (rc < 0) return rc;
      if (rc == 1) {
        struct timespec ts = {0, 50000}; /* a producer has not published its cell yet */
        nanosleep(&ts, NULL);
      }
      continue;
    }
    if (wait_done(b, deadline, seq) != 0) return UVOTEL_ETIMEDOUT;
  }
}

static int batch_flush(void *self, uint64_t timeout_ms) {
  batch_t *b = self;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = flush_until(b, deadline);
  if (rc != 0) return rc;
  uint64_t now = uvotel__mono_ms();
  return uvotel_log_exporter_force_flush(b->exp, deadline > now ? deadline - now : 0);
}

static void on_close(uv_handle_t *h) {
  batch_t *b = h->data;
  b->handles_open--;
  batch_maybe_free(b);
}

static void close_handles(batch_t *b) {
  uv_timer_stop(&b->timer);
  if (!uv_is_closing((uv_handle_t *)&b->timer)) uv_close((uv_handle_t *)&b->timer, on_close);
  if (!uv_is_closing((uv_handle_t *)&b->async)) uv_close((uv_handle_t *)&b->async, on_close);
}

static int batch_shutdown(void *self, uint64_t timeout_ms) {
  batch_t *b = self;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = flush_until(b, deadline);
  atomic_store_explicit(&b->shut, 1, memory_order_release);
  uint64_t now = uvotel__mono_ms();
  int rc2 = uvotel_log_exporter_shutdown(b->exp, deadline > now ? deadline - now : 0);
  close_handles(b);
  return rc != 0 ? rc : rc2;
}

static void batch_maybe_free(batch_t *b) {
  if (!b->free_pending || b->handles_open > 0 || b->outstanding > 0) return;
  const uvotel_log_data_t *d;
  uint64_t left = 0;
  while ((d = batch_pop(b)) != NULL) {
    left++;
    uvotel_log_data_release(d);
  }
  if (left != 0) {
    atomic_fetch_add(&b->dropped, left);
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ETIMEDOUT,
                "batch log processor: %llu queued records dropped at free (shutdown deadline)",
                (unsigned long long)left);
  }
  while (b->free_jobs != NULL) {
    job_t *j = b->free_jobs;
    b->free_jobs = j->next_free;
    uvotel_free(j);
  }
  uvotel_log_exporter_free(b->exp);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cond);
  uvotel_free(b->ring);
  uvotel_free(b);
}

static void batch_free(void *self) {
  batch_t *b = self;
  b->free_pending = 1;
  atomic_store_explicit(&b->shut, 1, memory_order_release);
  close_handles(b);
  batch_maybe_free(b);
}

static void batch_counters(void *self, uvotel_log_processor_counters_t *out) {
  batch_t *b = self;
  out->dropped = atomic_load(&b->dropped);
  out->received = atomic_load(&b->enq) + out->dropped;
  out->exported = atomic_load(&b->exported);
  out->failed = atomic_load(&b->failed);
  out->batches = atomic_load(&b->batches);
  out->queued = queued(b);
  out->in_flight = in_flight(b);
}

static const uvotel_log_processor_ops_t g_batch_ops = {batch_on_emit, batch_flush, batch_shutdown,
                                                       batch_free, batch_counters};

UVOTEL__API uvotel_log_processor_t *uvotel_batch_log_processor_create(
    uvotel_log_exporter_t *exporter, const uvotel_batch_log_processor_options_t *opts) {
  static const uvotel_batch_log_processor_options_t defaults =
      UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  if (exporter == NULL) return NULL;
  if (opts == NULL) opts = &defaults;
  if (opts->max_queue_size == 0 || opts->max_export_batch_size == 0 ||
      opts->max_queue_size > (1u << 30)) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "batch log processor: bad queue/batch size");
    uvotel_log_exporter_free(exporter);
    return NULL;
  }
  batch_t *b = uvotel_calloc(1, sizeof *b);
  size_t cap = 1;
  while (cap < opts->max_queue_size) cap <<= 1;
  cell_t *ring = b != NULL ? uvotel_malloc(sizeof(cell_t) * cap) : NULL;
  if (ring == NULL) {
    uvotel_free(b);
    uvotel_log_exporter_free(exporter);
    return NULL;
  }
  b->exp = exporter;
  b->o = *opts;
  if (b->o.max_export_batch_size > b->o.max_queue_size) {
    b->o.max_export_batch_size = b->o.max_queue_size;
  }
  b->loop = opts->loop != NULL ? opts->loop : uv_default_loop();
  b->ring = ring;
  b->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) atomic_init(&ring[i].seq, i);
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cond, NULL);
  uv_async_init(b->loop, &b->async, on_async);
  uv_timer_init(b->loop, &b->timer);
  b->async.data = b;
  b->timer.data = b;
  b->handles_open = 2;
  uv_unref((uv_handle_t *)&b->async);
  uv_unref((uv_handle_t *)&b->timer);
  uint64_t delay = b->o.schedule_delay_ms ? b->o.schedule_delay_ms : 1;
  uv_timer_start(&b->timer, on_timer, delay, delay);
  return uvotel_log_processor_create(&g_batch_ops, b);
}

int uvotel__log_is_batch(const uvotel_log_processor_t *p) {
  return p != NULL && p->ops == &g_batch_ops;
}

void uvotel__log_batch_adopt(uvotel_log_processor_t *p, const uvotel_log_data_t *d) {
  batch_take(p->self, d);
}
