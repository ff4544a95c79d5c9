/* The batch span processor: a bounded lock-free queue, export threads of its own, loop-thread
 * dispatch and accounting. */
#include <errno.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "trace_internal.h"

/* ---- batch processor ---- */

/* Losses (queue overflow, failed exports) are said at most this often, with counts. */
#define REPORT_INTERVAL_MS 5000u
/* Export threads of one processor: one per export call that may run at once (a CONCURRENT
 * exporter: max_concurrent_exports), up to this. */
#define MAX_WORKERS 8u
/* Batches an asynchronous exporter may hold (delivering) beyond those being encoded; its own
 * queue bound (the OTLP exporter's max_queue_batches) makes it wait, and the processor with it. */
#define PIPELINE_JOBS 64u

typedef struct cell_s {
  atomic_size_t seq;
  const uvotel_span_data_t *d;
} cell_t;

typedef struct job_s {
  struct batch_s *b;
  struct job_s *next; /* in the inbox, the done list or the free list */
  uvotel_export_completion_t completion;
  int parts; /* under mu: of {the result known, the export call returned} still to come */
  size_t n;
  const uvotel_span_data_t *spans[];
} job_t;

typedef struct batch_s {
  uvotel_span_exporter_t *exp;
  uvotel_batch_span_processor_options_t o;
  uv_loop_t *loop;
  uv_thread_t loop_thread; /* the thread that created it: the loop's */
  uv_async_t async;        /* wake-ups: full batches from other threads, export completions */
  uv_timer_t timer;
  int handles_open; /* handles not yet closed */
  int free_pending;
  atomic_int shut; /* written on the loop thread, read by span ends anywhere */
  /* queue: bounded MPSC ring (Vyukov cells), `count` bounds it to max_queue_size */
  cell_t *ring;
  size_t mask;
  atomic_size_t enq;
  atomic_size_t deq; /* written by the consumer (loop thread) only */
  atomic_int wake_pending;
  /* jobs (loop thread) */
  job_t *free_jobs;
  size_t outstanding; /* dispatched, not yet back from the done list */
  pthread_mutex_t mu;
  pthread_cond_t cond;  /* done_seq moved */
  pthread_cond_t wcond; /* inbox filled, or stop */
  pthread_cond_t room;  /* spans were taken from the queue (producers blocked on a full one) */
  atomic_uint blocked;  /* producers waiting for room (block_timeout_ms) */
  /* under mu */
  job_t *inbox_head, *inbox_tail;
  job_t *done_head;
  int stop;
  int async_open;
  atomic_uint in_flight; /* dispatched, result not yet known (changed under mu) */
  atomic_uint handing;   /* dispatched, the export call not yet returned (changed under mu): for
                            an asynchronous exporter what limits dispatch (encoding threads busy);
                            delivery then overlaps up to the exporter's own queue */
  uint64_t done_seq;     /* results known */
  uv_thread_t workers[MAX_WORKERS];
  unsigned n_workers;
  pid_t pid; /* the process whose threads these are (fork: the child starts its own) */
  /* counters */
  atomic_uint_fast64_t dropped, exported, failed, batches;
  atomic_uint_fast64_t dropped_at_end;  /* the part of dropped never queued */
  atomic_uint_fast64_t dropped_blocked; /* the part of dropped_at_end that waited first */
  atomic_uint_fast64_t waited;          /* spans whose end waited for room */
  atomic_int last_error;
  /* loss reports (loop thread): what was said by the interval report and by flush/shutdown */
  uint64_t said_dropped, said_failed, said_blocked;
  uvotel_diag_limit_t limit;
  uint64_t flushed_dropped, flushed_failed;
  void (*on_freed)(void *arg);
  void *on_freed_arg;
} batch_t;

static void batch_maybe_free(batch_t *b);
static void drain_done(batch_t *b);
static int dispatch_one(batch_t *b, int allow_alloc);
static uint32_t max_in_flight(const batch_t *b);
static size_t queued(batch_t *b);
static uint32_t in_flight(batch_t *b);
static uint32_t busy(batch_t *b);
static void dispatch_full(batch_t *b);

static int batch_push(batch_t *b, const uvotel_span_data_t *d) {
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
  /* pos - deq < max_queue_size <= capacity, so the consumer has released this cell; its seq
   * store may still be on its way. */
  while (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos) {
  }
  cell->d = d;
  atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
  return (int)(pos + 1 - atomic_load_explicit(&b->deq, memory_order_relaxed));
}

/* Pop one span (loop thread). 0: none ready. */
static const uvotel_span_data_t *batch_pop(batch_t *b) {
  size_t deq = atomic_load_explicit(&b->deq, memory_order_relaxed);
  cell_t *cell = &b->ring[deq & b->mask];
  if (atomic_load_explicit(&cell->seq, memory_order_acquire) != deq + 1) return NULL;
  const uvotel_span_data_t *d = cell->d;
  atomic_store_explicit(&cell->seq, deq + b->mask + 1, memory_order_release);
  atomic_store_explicit(&b->deq, deq + 1, memory_order_release);
  return d;
}

/* Wait (at most block_timeout_ms) until the queue has room for d. On the loop's thread the
 * producer is also the dispatcher: it takes back finished jobs and starts exports itself while
 * it waits; elsewhere it wakes the loop and sleeps until the loop takes spans from the queue.
 * In a forked child, or once shut down, it gives up at once. Returns batch_push's result. */
static int batch_push_blocking(batch_t *b, const uvotel_span_data_t *d) {
  if (b->pid != getpid()) return -1;
  uv_thread_t self_thread = uv_thread_self();
  int on_loop = uv_thread_equal(&self_thread, &b->loop_thread);
  uint64_t deadline = uvotel__mono_ms() + b->o.block_timeout_ms;
  atomic_fetch_add(&b->blocked, 1);
  atomic_fetch_add_explicit(&b->waited, 1, memory_order_relaxed);
  int c;
  while ((c = batch_push(b, d)) < 0) {
    if (atomic_load_explicit(&b->shut, memory_order_acquire)) break;
    uint64_t now = uvotel__mono_ms();
    if (now >= deadline) break;
    if (on_loop) {
      drain_done(b);
      if (busy(b) < max_in_flight(b) && dispatch_one(b, 0) == 0) continue;
    } else if (!atomic_exchange_explicit(&b->wake_pending, 1, memory_order_relaxed)) {
      uv_async_send(&b->async);
    }
    /* Short slices: a wake-up missed between the check and the wait costs at most one. */
    uint64_t until = deadline - now < 2 ? deadline : now + 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += (long)(until - now) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    /* on the loop: an export thread freed up or a result came back; elsewhere: room */
    if (queued(b) >= b->o.max_queue_size) {
      pthread_cond_timedwait(on_loop ? &b->cond : &b->room, &b->mu, &ts);
    }
    pthread_mutex_unlock(&b->mu);
  }
  atomic_fetch_sub(&b->blocked, 1);
  return c;
}

static void batch_on_end(void *self, const uvotel_span_data_t *d) {
  batch_t *b = self;
  if (!uvotel_span_data_is_sampled(d)) return;
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&b->shut, memory_order_acquire))) {
    /* Shut down: nothing will export it, and the wake-up handle may be closed. */
    atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->dropped_at_end, 1, memory_order_relaxed);
    return;
  }
  uvotel_span_data_retain(d);
  int c = batch_push(b, d);
  if (UVOTEL__UNLIKELY(c < 0) && b->o.block_timeout_ms > 0) c = batch_push_blocking(b, d);
  if (UVOTEL__UNLIKELY(c < 0)) {
    uvotel_span_data_release(d);
    atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->dropped_at_end, 1, memory_order_relaxed);
    if (b->o.block_timeout_ms > 0) {
      atomic_fetch_add_explicit(&b->dropped_blocked, 1, memory_order_relaxed);
    }
    return;
  }
  if (UVOTEL__UNLIKELY((uint32_t)c >= b->o.max_export_batch_size)) {
    /* On the loop's own thread hand the batch off at once, so a long callback ending many
     * spans does not fill the queue; from other threads wake the loop. */
    uv_thread_t self_thread = uv_thread_self();
    if (uv_thread_equal(&self_thread, &b->loop_thread)) {
      if (!atomic_load_explicit(&b->shut, memory_order_relaxed) &&
          (c % b->o.max_export_batch_size == 0 || busy(b) == 0)) {
        dispatch_full(b);
      }
    } else if (!atomic_exchange_explicit(&b->wake_pending, 1, memory_order_relaxed)) {
      uv_async_send(&b->async);
    }
  }
}

/* Count an export's outcome. refused: the exporter never took the batch. Any thread. */
static void job_account(batch_t *b, size_t n, int rc, size_t rejected, int refused) {
  if (rc == 0) {
    if (rejected > n) rejected = n;
    atomic_fetch_add(&b->exported, n - rejected);
    if (rejected > 0) {
      atomic_fetch_add(&b->failed, rejected);
      atomic_store(&b->last_error, UVOTEL_EIO);
    }
    return;
  }
  atomic_store(&b->last_error, rc);
  if (refused && rc == UVOTEL_EBUSY) {
    atomic_fetch_add(&b->dropped, n); /* the exporter's queue was full */
  } else {
    atomic_fetch_add(&b->failed, n);
  }
  uvotel_diag(UVOTEL_DIAG_DEBUG, rc, "batch span processor: export of %zu spans failed", n);
}

/* One of a job's two ends: its result is known (result = 1: the completion, or a refusal), or
 * the export call returned (0: the export thread is free, the spans are released). The job goes
 * back to the loop after both. b must not be touched after the unlock (the loop may free it
 * once every job is back). Any thread. */
static void job_part(job_t *j, int result) {
  batch_t *b = j->b;
  pthread_mutex_lock(&b->mu);
  if (result)
    b->in_flight--;
  else
    b->handing--;
  if (--j->parts == 0) {
    j->next = b->done_head;
    b->done_head = j;
  }
  b->done_seq++;
  pthread_cond_broadcast(&b->cond);
  if (b->async_open) uv_async_send(&b->async);
  pthread_mutex_unlock(&b->mu);
}

static void job_done(void *arg, int result, size_t rejected) {
  job_t *j = arg;
  job_account(j->b, j->n, result, rejected, 0);
  job_part(j, 1);
}

/* An export thread: takes batches from the inbox and hands them to the exporter. */
static void worker_main(void *arg) {
  batch_t *b = arg;
#ifdef __linux__
  prctl(PR_SET_NAME, "uvotel-bsp", 0, 0, 0); /* named for top, perf and bench_otlp's split */
#endif
  pthread_mutex_lock(&b->mu);
  for (;;) {
    job_t *j = b->inbox_head;
    if (j == NULL) {
      if (b->stop) break;
      pthread_cond_wait(&b->wcond, &b->mu);
      continue;
    }
    b->inbox_head = j->next;
    if (b->inbox_head == NULL) b->inbox_tail = NULL;
    pthread_mutex_unlock(&b->mu);
    j->completion.done = job_done;
    j->completion.arg = j;
    size_t n = j->n;
    int rc = uvotel_span_exporter_export_async(b->exp, j->spans, n, b->o.export_timeout_ms,
                                               &j->completion);
    /* The exporter is done with the span data once its call returned (it encoded or retained
     * it); the loop thread releases it when the job comes back (drain_done): a slot released
     * here would be written on this core and then taken, cold, by the thread making spans
     * (measured: 190 -> 550 ns per span in bench_trace). The job itself may already be
     * complete (its done may have run): j->spans stays ours until the second part below. */
    if (rc != 0) {
      job_account(b, n, rc, 0, 1);
      job_part(j, 1);
    }
    job_part(j, 0); /* this thread is free for the next batch */
    pthread_mutex_lock(&b->mu);
  }
  pthread_mutex_unlock(&b->mu);
}

/* Take back the jobs whose results are known and whose export call returned, release their
 * spans and recycle them. Loop thread. */
static void drain_done(batch_t *b) {
  pthread_mutex_lock(&b->mu);
  job_t *j = b->done_head;
  b->done_head = NULL;
  pthread_mutex_unlock(&b->mu);
  while (j != NULL) {
    job_t *next = j->next;
    for (size_t i = 0; i < j->n; i++) uvotel_span_data_release(j->spans[i]);
    j->n = 0;
    j->next = b->free_jobs;
    b->free_jobs = j;
    b->outstanding--;
    j = next;
  }
}

static uint32_t max_in_flight(const batch_t *b);

/* fork(): a child gets a copy of the processor whose queue, export threads and exports belong
 * to the parent. In the child (noticed by pid on its first dispatch, flush, shutdown, free or
 * timer tick) the copy goes inert: the spans queued in it are the parent's to export (or were
 * ended in the child before it noticed) and are counted as dropped with a warning, which is
 * their report (flush and shutdown do not count them again); spans ended on it afterwards are
 * dropped and counted as after a shutdown; its exports in flight are forgotten (their job blocks
 * and span references stay allocated in the child); shutdown and free then work without the
 * parent's threads. A child that wants spans builds its own provider (after uv_loop_fork, which
 * libuv requires first); its processor starts its own threads. Loop thread. */
static void batch_adopt_if_forked(batch_t *b) {
  if (UVOTEL__LIKELY(b->pid == getpid())) return;
  b->pid = getpid();
  b->loop_thread = uv_thread_self();
  atomic_store_explicit(&b->shut, 1, memory_order_release);
  /* Their holders may be parent threads that are not in the child. */
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cond, NULL);
  pthread_cond_init(&b->wcond, NULL);
  pthread_cond_init(&b->room, NULL);
  /* Jobs that are done (their spans released here), and those no thread took yet (their
   * spans released here and counted dropped), come back; one an export thread held at the fork
   * stays allocated in the child. */
  size_t n = 0;
  for (int l = 0; l < 2; l++) {
    job_t *j = l == 0 ? b->done_head : b->inbox_head;
    while (j != NULL) {
      job_t *next = j->next;
      for (size_t i = 0; i < j->n; i++) uvotel_span_data_release(j->spans[i]);
      if (l == 1) n += j->n;
      j->n = 0;
      j->next = b->free_jobs;
      b->free_jobs = j;
      j = next;
    }
  }
  b->inbox_head = b->inbox_tail = NULL;
  b->done_head = NULL;
  atomic_store(&b->in_flight, 0);
  atomic_store(&b->handing, 0);
  atomic_store(&b->wake_pending, 0);
  b->outstanding = 0;
  b->n_workers = 0; /* nothing to join here */
  const uvotel_span_data_t *d;
  while ((d = batch_pop(b)) != NULL) {
    uvotel_span_data_release(d);
    n++;
  }
  atomic_fetch_add(&b->dropped, n);
  if (n > 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ESTATE,
                "batch span processor: used in a child after fork(): %zu queued spans not "
                "exported here (the parent exports its own); build a provider in the child",
                n);
  }
  b->flushed_dropped = b->said_dropped = atomic_load(&b->dropped);
  b->flushed_failed = b->said_failed = atomic_load(&b->failed);
}

/* Take up to max_export_batch_size spans and start one export. 0: started; 1: queue empty;
 * negative: error. Loop thread. */
static int dispatch_one(batch_t *b, int allow_alloc) {
  batch_adopt_if_forked(b);
  job_t *j = b->free_jobs;
  if (j == NULL) {
    /* A loop that never polls (uv_run returning at once: our handles are unreferenced) never
     * runs on_async; take back the finished jobs here, on the loop thread, instead. */
    drain_done(b);
    j = b->free_jobs;
  }
  if (j == NULL) {
    /* Jobs come back through the done list, on the loop. While a long callback keeps the loop
     * busy, wait for them instead of allocating more (flush, which blocks the loop, may). */
    size_t depth = b->exp->ops->export_async != NULL ? PIPELINE_JOBS : 2;
    if (!allow_alloc && b->outstanding >= max_in_flight(b) + depth) return 1;
    j = uvotel_malloc(sizeof(job_t) + sizeof(void *) * b->o.max_export_batch_size);
    if (j == NULL) return UVOTEL_ENOMEM;
    j->b = b;
  } else {
    b->free_jobs = j->next;
  }
  size_t n = 0;
  const uvotel_span_data_t *d;
  while (n < b->o.max_export_batch_size && (d = batch_pop(b)) != NULL) j->spans[n++] = d;
  if (n == 0) {
    j->next = b->free_jobs;
    b->free_jobs = j;
    return 1;
  }
  j->n = n;
  j->next = NULL;
  j->parts = 2;
  atomic_fetch_add(&b->batches, 1);
  b->outstanding++;
  pthread_mutex_lock(&b->mu);
  if (atomic_load(&b->blocked) > 0) pthread_cond_broadcast(&b->room);
  b->in_flight++;
  b->handing++;
  if (b->inbox_tail != NULL)
    b->inbox_tail->next = j;
  else
    b->inbox_head = j;
  b->inbox_tail = j;
  pthread_cond_signal(&b->wcond);
  pthread_mutex_unlock(&b->mu);
  return 0;
}

static uint32_t max_in_flight(const batch_t *b) {
  return (b->exp->flags & UVOTEL_EXPORTER_CONCURRENT) && b->o.max_concurrent_exports > 1
             ? b->o.max_concurrent_exports
             : 1;
}

static size_t queued(batch_t *b) {
  return atomic_load(&b->enq) - atomic_load(&b->deq);
}

static uint32_t in_flight(batch_t *b) {
  return atomic_load(&b->in_flight);
}

/* What limits dispatch: exports whose call has not returned (asynchronous exporter), or whose
 * result is not known (synchronous one). */
static uint32_t busy(batch_t *b) {
  return b->exp->ops->export_async != NULL ? atomic_load(&b->handing) : atomic_load(&b->in_flight);
}

/* Start exports while full batches are queued and a slot is free. */
static void dispatch_full(batch_t *b) {
  while (queued(b) >= b->o.max_export_batch_size && busy(b) < max_in_flight(b)) {
    if (dispatch_one(b, 0) != 0) break;
  }
}

static void on_close(uv_handle_t *h) {
  batch_t *b = h->data;
  b->handles_open--;
  batch_maybe_free(b);
}

/* After shutdown, once no export is outstanding, the wake-up handle has nothing left to do. */
static void maybe_close_async(batch_t *b) {
  if (b->outstanding > 0 || uv_is_closing((uv_handle_t *)&b->async)) return;
  pthread_mutex_lock(&b->mu);
  b->async_open = 0; /* completions no longer send (there are none left) */
  pthread_mutex_unlock(&b->mu);
  uv_close((uv_handle_t *)&b->async, on_close);
}

/* Say losses since the last report, at most once per REPORT_INTERVAL_MS (the SDK's rate-limited
 * diagnostics, one key per processor); the counts cover everything since the last delivered
 * line. Loop thread. */
static void report_interval(batch_t *b) {
  uint64_t dr = atomic_load(&b->dropped), fa = atomic_load(&b->failed);
  if (dr == b->said_dropped && fa == b->said_failed) return;
  int err = atomic_load(&b->last_error);
  uint64_t bl = atomic_load(&b->dropped_blocked);
  char blocked[96] = "";
  if (bl != b->said_blocked) {
    snprintf(blocked, sizeof blocked, ", %llu of them after waiting %llu ms for room",
             (unsigned long long)(bl - b->said_blocked), (unsigned long long)b->o.block_timeout_ms);
  }
  if (uvotel_diag_limited(&b->limit, UVOTEL_DIAG_WARN, err,
                          "batch span processor: %llu span(s) dropped (queue full%s) and %llu "
                          "failed to export since the last report (last error: %s); totals: "
                          "%llu exported, %llu dropped, %llu failed",
                          (unsigned long long)(dr - b->said_dropped), blocked,
                          (unsigned long long)(fa - b->said_failed), uvotel_strerror(err),
                          (unsigned long long)atomic_load(&b->exported), (unsigned long long)dr,
                          (unsigned long long)fa)) {
    b->said_dropped = dr;
    b->said_failed = fa;
    b->said_blocked = bl;
  }
}

/* The result of force_flush / shutdown: rc (the deadline passed) or UVOTEL_EIO when spans were
 * lost since the previous call, which is said with the counts. Loop thread. */
static int report_loss(batch_t *b, const char *what, int rc) {
  uint64_t dr = atomic_load(&b->dropped), fa = atomic_load(&b->failed);
  uint64_t ldr = dr - b->flushed_dropped, lfa = fa - b->flushed_failed;
  b->flushed_dropped = dr;
  b->flushed_failed = fa;
  uint64_t pending = queued(b) + in_flight(b);
  if (ldr == 0 && lfa == 0 && pending == 0 && rc == 0) return 0;
  if (rc == 0 && ldr == 0 && lfa == 0) return 0; /* spans ended during the call, still going */
  if (rc == 0) rc = UVOTEL_EIO;
  uvotel_diag(UVOTEL_DIAG_WARN, rc,
              "batch span processor: %s: %llu span(s) not delivered (%llu dropped, %llu failed "
              "since the last flush), %llu not finished by the deadline; last export error: %s",
              what, (unsigned long long)(ldr + lfa), (unsigned long long)ldr,
              (unsigned long long)lfa, (unsigned long long)pending,
              uvotel_strerror(atomic_load(&b->last_error)));
  return rc;
}

static void on_async(uv_async_t *a) {
  batch_t *b = a->data;
  atomic_store(&b->wake_pending, 0);
  drain_done(b);
  if (!atomic_load_explicit(&b->shut, memory_order_relaxed)) {
    dispatch_full(b);
  } else {
    maybe_close_async(b);
  }
}

static void on_timer(uv_timer_t *t) {
  batch_t *b = t->data;
  batch_adopt_if_forked(b);
  drain_done(b);
  report_interval(b);
  if (atomic_load_explicit(&b->shut, memory_order_relaxed)) return;
  /* schedule delay passed: export what is queued, even a partial batch */
  while (queued(b) > 0 && busy(b) < max_in_flight(b)) {
    if (dispatch_one(b, 0) != 0) break;
  }
}

static int wait_until(batch_t *b, uint64_t deadline_ms, uint64_t seq) {
  /* wait for a completion or a returned export call after `seq` (or any change); 0, or
   * UVOTEL_ETIMEDOUT */
  pthread_mutex_lock(&b->mu);
  int rc = 0;
  while (b->done_seq == seq && (b->in_flight > 0 || b->handing > 0)) {
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

static int batch_flush_until(batch_t *b, uint64_t deadline) {
  batch_adopt_if_forked(b);
  /* Everything enqueued before now is delivered: spans still being published by another
   * thread are waited for briefly. */
  size_t target = atomic_load(&b->enq);
  for (;;) {
    drain_done(b);
    pthread_mutex_lock(&b->mu);
    uint32_t inf = b->in_flight, hand = b->handing;
    uint64_t seq = b->done_seq;
    pthread_mutex_unlock(&b->mu);
    int queued = atomic_load(&b->deq) < target;
    /* done when every result is known and every export call returned; the last jobs' spans
     * are released here, so the pool has them back when flush returns */
    if (!queued && inf == 0 && hand == 0) {
      drain_done(b);
      return 0;
    }
    if (uvotel__mono_ms() >= deadline) return UVOTEL_ETIMEDOUT;
    if (queued && busy(b) < max_in_flight(b)) {
      int rc = dispatch_one(b, 1);
      if (rc < 0) return rc;
      if (rc == 1) {
        /* a producer reserved a cell but has not published it yet */
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
      }
      continue;
    }
    if (wait_until(b, deadline, seq) != 0) return UVOTEL_ETIMEDOUT;
  }
}

static int batch_flush(void *self, uint64_t timeout_ms) {
  batch_t *b = self;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = batch_flush_until(b, deadline);
  if (rc == 0) {
    uint64_t now = uvotel__mono_ms();
    rc = uvotel_span_exporter_force_flush(b->exp, deadline > now ? deadline - now : 0);
  }
  drain_done(b);
  return report_loss(b, "force_flush", rc);
}

static int batch_shutdown(void *self, uint64_t timeout_ms) {
  batch_t *b = self;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = batch_flush_until(b, deadline);
  atomic_store_explicit(&b->shut, 1, memory_order_release);
  /* Producers waiting for room (back-pressure) see shut and give up; one may still complete
   * its push: wait for them to leave, so what they queued is counted below. */
  if (atomic_load(&b->blocked) > 0) {
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->room);
    pthread_mutex_unlock(&b->mu);
    while (atomic_load(&b->blocked) > 0) {
      struct timespec ts = {0, 100000};
      nanosleep(&ts, NULL);
    }
  }
  /* Spans still queued at the deadline: nothing will export them. */
  const uvotel_span_data_t *d;
  while ((d = batch_pop(b)) != NULL) {
    atomic_fetch_add(&b->dropped, 1);
    uvotel_span_data_release(d);
  }
  /* An asynchronous or concurrent exporter can be shut down while exports are outstanding: it
   * abandons them (their completions count them failed). A synchronous one would block on its
   * running export, past the deadline: it is shut down when freed instead. */
  int rc2 = 0;
  if (rc == 0 || in_flight(b) == 0 || b->exp->ops->export_async != NULL ||
      (b->exp->flags & UVOTEL_EXPORTER_CONCURRENT)) {
    uint64_t now = uvotel__mono_ms();
    rc2 = uvotel_span_exporter_shutdown(b->exp, deadline > now ? deadline - now : 0);
  }
  drain_done(b);
  uv_timer_stop(&b->timer);
  if (!uv_is_closing((uv_handle_t *)&b->timer)) uv_close((uv_handle_t *)&b->timer, on_close);
  maybe_close_async(b);
  rc = report_loss(b, "shutdown", rc != 0 ? rc : rc2);
  return rc;
}

static void batch_maybe_free(batch_t *b) {
  if (!b->free_pending || b->handles_open > 0 || b->outstanding > 0) return;
  batch_adopt_if_forked(b); /* the threads to join must be this process's */
  pthread_mutex_lock(&b->mu);
  b->stop = 1;
  pthread_cond_broadcast(&b->wcond);
  pthread_mutex_unlock(&b->mu);
  for (unsigned i = 0; i < b->n_workers; i++) uv_thread_join(&b->workers[i]);
  /* spans never dispatched (shutdown timed out before them) */
  const uvotel_span_data_t *d;
  while ((d = batch_pop(b)) != NULL) {
    atomic_fetch_add(&b->dropped, 1);
    uvotel_span_data_release(d);
  }
  while (b->free_jobs != NULL) {
    job_t *j = b->free_jobs;
    b->free_jobs = j->next;
    uvotel_free(j);
  }
  uvotel_span_exporter_free(b->exp);
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cond);
  pthread_cond_destroy(&b->wcond);
  pthread_cond_destroy(&b->room);
  uvotel_free(b->ring);
  void (*cb)(void *) = b->on_freed;
  void *arg = b->on_freed_arg;
  uvotel_free(b);
  if (cb != NULL) cb(arg);
}

/* The processor's free_async: closes its handles and waits (on the loop) for exports still
 * running; done(arg) runs once the last span reference it held is released. */
static void batch_free_async(void *self, void (*done)(void *arg), void *arg) {
  batch_t *b = self;
  b->on_freed = done;
  b->on_freed_arg = arg;
  batch_adopt_if_forked(b);
  b->free_pending = 1;
  atomic_store_explicit(&b->shut, 1, memory_order_release);
  if (!uv_is_closing((uv_handle_t *)&b->timer)) uv_close((uv_handle_t *)&b->timer, on_close);
  drain_done(b);
  /* Exports still running (a synchronous exporter past shutdown's deadline): keep the loop
   * alive until their results come back, so they are counted and their spans released. */
  if (b->outstanding > 0) uv_ref((uv_handle_t *)&b->async);
  maybe_close_async(b);
  batch_maybe_free(b);
}

static void batch_counters(void *self, uvotel_span_processor_counters_t *out) {
  batch_t *b = self;
  out->dropped = atomic_load(&b->dropped);
  out->exported = atomic_load(&b->exported);
  out->failed = atomic_load(&b->failed);
  out->batches = atomic_load(&b->batches);
  out->queued = atomic_load(&b->enq) - atomic_load(&b->deq);
  out->in_flight = atomic_load(&b->in_flight);
  /* every span pushed is queued, in flight, exported, dropped later or failed */
  out->received = atomic_load(&b->enq) + atomic_load(&b->dropped_at_end);
}

static const uvotel_span_processor_ops_t g_batch_ops = {.on_end = batch_on_end,
                                                        .force_flush = batch_flush,
                                                        .shutdown = batch_shutdown,
                                                        .counters = batch_counters,
                                                        .free_async = batch_free_async};

UVOTEL__API uvotel_span_processor_t *uvotel_batch_span_processor_create(
    uvotel_span_exporter_t *exporter, const uvotel_batch_span_processor_options_t *opts) {
  static const uvotel_batch_span_processor_options_t defaults =
      UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  if (exporter == NULL) return NULL;
  if (opts == NULL) opts = &defaults;
  if (opts->max_queue_size == 0 || opts->max_export_batch_size == 0 ||
      opts->max_queue_size > (1u << 30)) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "batch span processor: bad queue/batch size");
    uvotel_span_exporter_free(exporter);
    return NULL;
  }
  batch_t *b = uvotel_calloc(1, sizeof *b);
  size_t cap = 1;
  while (cap < opts->max_queue_size) cap <<= 1;
  cell_t *ring = b != NULL ? uvotel_malloc(sizeof(cell_t) * cap) : NULL;
  if (ring == NULL) {
    uvotel_free(b);
    uvotel_span_exporter_free(exporter);
    return NULL;
  }
  b->exp = exporter;
  b->o = *opts;
  if (b->o.max_export_batch_size > b->o.max_queue_size) {
    b->o.max_export_batch_size = b->o.max_queue_size;
  }
  if (b->o.max_concurrent_exports == 0) b->o.max_concurrent_exports = 1;
  /* Waiting longer than an export may take frees no more room. */
  if (b->o.block_timeout_ms > b->o.export_timeout_ms)
    b->o.block_timeout_ms = b->o.export_timeout_ms;
  b->loop = opts->loop != NULL ? opts->loop : uv_default_loop();
  b->loop_thread = uv_thread_self();
  b->ring = ring;
  b->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) atomic_init(&ring[i].seq, i);
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cond, NULL);
  pthread_cond_init(&b->wcond, NULL);
  pthread_cond_init(&b->room, NULL);
  b->pid = getpid();
  b->limit = (uvotel_diag_limit_t)UVOTEL_DIAG_LIMIT_INIT(REPORT_INTERVAL_MS);
  /* The export threads: one per concurrent export (an asynchronous exporter encodes in its
   * export call, so they run the encoding in parallel; delivery overlaps beyond them). */
  unsigned want = max_in_flight(b);
  if (want > MAX_WORKERS) want = MAX_WORKERS;
  while (b->n_workers < want) {
    if (uv_thread_create(&b->workers[b->n_workers], worker_main, b) != 0) break;
    b->n_workers++;
  }
  if (b->n_workers == 0) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EIO, "batch span processor: cannot start its thread");
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cond);
    pthread_cond_destroy(&b->wcond);
    pthread_cond_destroy(&b->room);
    uvotel_free(ring);
    uvotel_free(b);
    uvotel_span_exporter_free(exporter);
    return NULL;
  }
  uv_async_init(b->loop, &b->async, on_async);
  uv_timer_init(b->loop, &b->timer);
  b->async.data = b;
  b->timer.data = b;
  b->async_open = 1;
  b->handles_open = 2;
  uv_unref((uv_handle_t *)&b->async);
  uv_unref((uv_handle_t *)&b->timer);
  uint64_t delay = b->o.schedule_delay_ms ? b->o.schedule_delay_ms : 1;
  uv_timer_start(&b->timer, on_timer, delay, delay);
  uvotel_span_processor_t *p = uvotel_span_processor_create(&g_batch_ops, b);
  /* on failure, processor_create called batch_free_async, which closes the handles */
  return p;
}
