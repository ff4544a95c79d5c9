/* The export pipeline shared by the batch span and batch log processors (pipeline_internal.h):
 * the queue's consumer side, export threads of its own, asynchronous export completion, the
 * counters, flush/shutdown deadlines, fork handling and loss reports. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "pipeline_internal.h"

/* Losses (queue overflow, failed exports) are said at most this often, with counts. */
#define REPORT_INTERVAL_MS 5000u
/* Batches an asynchronous exporter may hold (delivering) beyond those being encoded; its own
 * queue bound (the OTLP exporter's max_queue_batches) makes it wait, and the pipeline with it. */
#define PIPELINE_JOBS 64u

typedef struct uvotel__pipe_job_s {
  struct uvotel__pipe_s *b;
  struct uvotel__pipe_job_s *next; /* in the inbox, the done list or the free list */
  uvotel_export_completion_t completion;
  int parts; /* under mu: of {the result known, the export call returned} still to come */
  size_t n;
  const void *items[];
} job_t;

static uint64_t mono_ms(void) {
  return uv_hrtime() / 1000000u;
}

static void release_job_items(uvotel__pipe_t *b, job_t *j) {
  if (j->n > 0) b->ops->release_many(j->items, j->n);
  j->n = 0;
}

static void release_one(uvotel__pipe_t *b, const void *d) {
  b->ops->release_many(&d, 1);
}

static void batch_maybe_free(uvotel__pipe_t *b);
static void destroy_sync(uvotel__pipe_t *b);
static void drain_done(uvotel__pipe_t *b);
static int dispatch_one(uvotel__pipe_t *b, int allow_alloc);
static uint32_t max_in_flight(const uvotel__pipe_t *b);
static size_t queued(uvotel__pipe_t *b);
static uint32_t in_flight(uvotel__pipe_t *b);

/* Pop one item (loop thread). 0: none ready. */
static const void *batch_pop(uvotel__pipe_t *b) {
  size_t deq = atomic_load_explicit(&b->deq, memory_order_relaxed);
  uvotel__pipe_cell_t *cell = &b->ring[deq & b->mask];
  if (atomic_load_explicit(&cell->seq, memory_order_acquire) != deq + 1) return NULL;
  const void *d = cell->d;
  atomic_store_explicit(&cell->seq, deq + b->mask + 1, memory_order_release);
  atomic_store_explicit(&b->deq, deq + 1, memory_order_release);
  return d;
}

static int on_loop_thread(uvotel__pipe_t *b) {
  uv_thread_t me = uv_thread_self();
  return atomic_load_explicit(&b->loop_known, memory_order_acquire) &&
         uv_thread_equal(&me, &b->loop_thread);
}

uint64_t uvotel__pipe_refused(uvotel__pipe_t *b, int full) {
  if (full) {
    /* On a loop that never polls nothing else would start the next export once the one in
     * flight is back: on the loop's thread, start it here, so the items after this one find
     * room. */
    if (on_loop_thread(b) && uvotel__pipe_busy(b) == 0) uvotel__pipe_dispatch_full(b);
    if (b->o.block_timeout_ms > 0) {
      atomic_fetch_add_explicit(&b->dropped_blocked, 1, memory_order_relaxed);
    }
  }
  atomic_fetch_add_explicit(&b->dropped_at_end, 1, memory_order_relaxed);
  return atomic_fetch_add_explicit(&b->dropped, 1, memory_order_relaxed) + 1;
}

void uvotel__pipe_batch_ready(uvotel__pipe_t *b, uint32_t queued) {
  /* On the loop's own thread hand the batch off at once, so a long callback ending many items
   * does not fill the queue; from other threads wake the loop. */
  if (on_loop_thread(b)) {
    if (!atomic_load_explicit(&b->shut, memory_order_relaxed) &&
        (queued % b->o.max_export_batch_size == 0 || uvotel__pipe_busy(b) == 0)) {
      uvotel__pipe_dispatch_full(b);
    }
  } else if (!atomic_exchange_explicit(&b->wake_pending, 1, memory_order_relaxed)) {
    uv_async_send(&b->async);
  }
}

/* Wait (at most block_timeout_ms) until the queue has room for d. On the loop's thread the
 * producer is also the dispatcher: it takes back finished jobs and starts exports itself while
 * it waits; elsewhere it wakes the loop and sleeps until the loop takes spans from the queue.
 * In a forked child, or once shut down, it gives up at once. Returns batch_push's result. */
int uvotel__pipe_push_blocking(uvotel__pipe_t *b, const void *d) {
  if (b->pid != getpid()) return -1;
  uv_thread_t self_thread = uv_thread_self();
  int on_loop = uv_thread_equal(&self_thread, &b->loop_thread);
  uint64_t deadline = mono_ms() + b->o.block_timeout_ms;
  atomic_fetch_add(&b->blocked, 1);
  atomic_fetch_add_explicit(&b->waited, 1, memory_order_relaxed);
  int c;
  while ((c = uvotel__pipe_push(b, d)) < 0) {
    if (atomic_load_explicit(&b->shut, memory_order_acquire)) break;
    uint64_t now = mono_ms();
    if (now >= deadline) break;
    if (on_loop) {
      drain_done(b);
      if (uvotel__pipe_busy(b) < max_in_flight(b) && dispatch_one(b, 0) == 0) continue;
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

/* Count an export's outcome. refused: the exporter never took the batch. Any thread. */
static void job_account(uvotel__pipe_t *b, size_t n, int rc, size_t rejected, int refused) {
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
  uvotel_diag(UVOTEL_DIAG_DEBUG, rc, "%s: export of %zu %ss failed", b->ops->name, n, b->ops->item);
}

/* One of a job's two ends: its result is known (result = 1: the completion, or a refusal), or
 * the export call returned (0: the export thread is free, the spans are released). The job goes
 * back to the loop after both. b must not be touched after the unlock (the loop may free it
 * once every job is back). Any thread. */
static void job_part(job_t *j, int result) {
  uvotel__pipe_t *b = j->b;
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
  uvotel__pipe_t *b = arg;
#ifdef __linux__
  prctl(PR_SET_NAME, b->ops->thread_name, 0, 0, 0); /* for top, perf and bench_otlp */
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
    int rc = uvotel__exp_export_async(b->exp, j->items, n, b->o.export_timeout_ms, &j->completion);
    /* The exporter is done with the span data once its call returned (it encoded or retained
     * it); the loop thread releases it when the job comes back (drain_done): a slot released
     * here would be written on this core and then taken, cold, by the thread making spans
     * (measured: 190 -> 550 ns per span in bench_trace). The job itself may already be
     * complete (its done may have run): j->items stays ours until the second part below. */
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
static void drain_done(uvotel__pipe_t *b) {
  pthread_mutex_lock(&b->mu);
  job_t *j = b->done_head;
  b->done_head = NULL;
  pthread_mutex_unlock(&b->mu);
  while (j != NULL) {
    job_t *next = j->next;
    release_job_items(b, j);
    j->next = b->free_jobs;
    b->free_jobs = j;
    b->outstanding--;
    j = next;
  }
}

/* fork(): a child gets a copy of the processor whose queue, export threads and exports belong
 * to the parent. In the child (noticed by pid on its first dispatch, flush, shutdown, free or
 * timer tick) the copy goes inert: the spans queued in it are the parent's to export (or were
 * ended in the child before it noticed) and are counted as dropped with a warning, which is
 * their report (flush and shutdown do not count them again); spans ended on it afterwards are
 * dropped and counted as after a shutdown; its exports in flight are forgotten (their job blocks
 * and span references stay allocated in the child); shutdown and free then work without the
 * parent's threads. A child that wants spans builds its own provider (after uv_loop_fork, which
 * libuv requires first); its processor starts its own threads. Loop thread. */
static void batch_adopt_if_forked(uvotel__pipe_t *b) {
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
      if (l == 1) n += j->n;
      release_job_items(b, j);
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
  const void *d;
  while ((d = batch_pop(b)) != NULL) {
    release_one(b, d);
    n++;
  }
  atomic_fetch_add(&b->dropped, n);
  if (n > 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ESTATE,
                "%s: used in a child after fork(): %zu queued %ss not exported here (the "
                "parent exports its own); build a provider in the child",
                b->ops->name, n, b->ops->item);
  }
  b->flushed_dropped = b->said_dropped = atomic_load(&b->dropped);
  b->flushed_failed = b->said_failed = atomic_load(&b->failed);
}

/* Take up to max_export_batch_size spans and start one export. 0: started; 1: queue empty;
 * negative: error. Loop thread. */
static int dispatch_one(uvotel__pipe_t *b, int allow_alloc) {
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
    size_t depth = b->exp_async ? PIPELINE_JOBS : 2;
    if (!allow_alloc && b->outstanding >= max_in_flight(b) + depth) return 1;
    j = uvotel_malloc(sizeof(job_t) + sizeof(void *) * b->o.max_export_batch_size);
    if (j == NULL) return UVOTEL_ENOMEM;
    j->b = b;
    j->n = 0;
  } else {
    b->free_jobs = j->next;
  }
  size_t n = 0;
  const void *d;
  while (n < b->o.max_export_batch_size && (d = batch_pop(b)) != NULL) j->items[n++] = d;
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

static uint32_t max_in_flight(const uvotel__pipe_t *b) {
  return (b->exp_flags & UVOTEL_EXPORTER_CONCURRENT) && b->o.max_concurrent_exports > 1
             ? b->o.max_concurrent_exports
             : 1;
}

static size_t queued(uvotel__pipe_t *b) {
  return atomic_load(&b->enq) - atomic_load(&b->deq);
}

static uint32_t in_flight(uvotel__pipe_t *b) {
  return atomic_load(&b->in_flight);
}

void uvotel__pipe_dispatch_full(uvotel__pipe_t *b) {
  while (queued(b) >= b->o.max_export_batch_size && uvotel__pipe_busy(b) < max_in_flight(b)) {
    if (dispatch_one(b, 0) != 0) break;
  }
}

static void on_close(uv_handle_t *h) {
  uvotel__pipe_t *b = h->data;
  b->handles_open--;
  batch_maybe_free(b);
}

/* After shutdown, once no export is outstanding, the wake-up handle has nothing left to do. */
static void maybe_close_async(uvotel__pipe_t *b) {
  if (b->outstanding > 0 || uv_is_closing((uv_handle_t *)&b->async)) return;
  pthread_mutex_lock(&b->mu);
  b->async_open = 0; /* completions no longer send (there are none left) */
  pthread_mutex_unlock(&b->mu);
  uv_close((uv_handle_t *)&b->async, on_close);
}

/* Say losses since the last report, at most once per REPORT_INTERVAL_MS (the SDK's rate-limited
 * diagnostics, one key per processor); the counts cover everything since the last delivered
 * line. Loop thread. */
static void report_interval(uvotel__pipe_t *b) {
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
                          "%s: %llu %s(s) dropped (queue full%s) and %llu failed to export "
                          "since the last report (last error: %s); totals: %llu exported, %llu "
                          "dropped, %llu failed",
                          b->ops->name, (unsigned long long)(dr - b->said_dropped), b->ops->item,
                          blocked, (unsigned long long)(fa - b->said_failed), uvotel_strerror(err),
                          (unsigned long long)atomic_load(&b->exported), (unsigned long long)dr,
                          (unsigned long long)fa)) {
    b->said_dropped = dr;
    b->said_failed = fa;
    b->said_blocked = bl;
  }
}

/* The result of force_flush / shutdown: rc (the deadline passed) or UVOTEL_EIO when spans were
 * lost since the previous call, which is said with the counts. Loop thread. */
static int report_loss(uvotel__pipe_t *b, const char *what, int rc) {
  uint64_t dr = atomic_load(&b->dropped), fa = atomic_load(&b->failed);
  uint64_t ldr = dr - b->flushed_dropped, lfa = fa - b->flushed_failed;
  b->flushed_dropped = dr;
  b->flushed_failed = fa;
  uint64_t pending = queued(b) + in_flight(b);
  if (rc == 0 && ldr == 0 && lfa == 0) return 0; /* spans ended during the call, still going */
  int was = rc;
  if (rc == 0) rc = UVOTEL_EIO;
  uvotel_diag(UVOTEL_DIAG_WARN, rc,
              "%s: %s: %llu %s(s) not delivered (%llu dropped, %llu failed since the last "
              "flush), %llu not finished by the deadline; last export error: %s",
              b->ops->name, what, (unsigned long long)(ldr + lfa), b->ops->item,
              (unsigned long long)ldr, (unsigned long long)lfa, (unsigned long long)pending,
              uvotel_strerror(atomic_load(&b->last_error)));
  return b->ops->loss_rc ? rc : was;
}

/* A pipeline created off the loop's thread (the preload's) learns it in its first callback, or
 * flush/shutdown (documented to run there); until then producers only wake it. */
static void learn_loop_thread(uvotel__pipe_t *b) {
  if (!atomic_load_explicit(&b->loop_known, memory_order_relaxed)) {
    b->loop_thread = uv_thread_self();
    atomic_store_explicit(&b->loop_known, 1, memory_order_release);
  }
}

static void on_async(uv_async_t *a) {
  uvotel__pipe_t *b = a->data;
  learn_loop_thread(b);
  atomic_store(&b->wake_pending, 0);
  drain_done(b);
  if (!atomic_load_explicit(&b->shut, memory_order_relaxed)) {
    uvotel__pipe_dispatch_full(b);
  } else {
    maybe_close_async(b);
  }
}

static void on_timer(uv_timer_t *t) {
  uvotel__pipe_t *b = t->data;
  learn_loop_thread(b);
  batch_adopt_if_forked(b);
  drain_done(b);
  report_interval(b);
  if (atomic_load_explicit(&b->shut, memory_order_relaxed)) return;
  /* schedule delay passed: export what is queued, even a partial batch */
  while (queued(b) > 0 && uvotel__pipe_busy(b) < max_in_flight(b)) {
    if (dispatch_one(b, 0) != 0) break;
  }
}

static int wait_until(uvotel__pipe_t *b, uint64_t deadline_ms, uint64_t seq) {
  /* wait for a completion or a returned export call after `seq` (or any change); 0, or
   * UVOTEL_ETIMEDOUT */
  pthread_mutex_lock(&b->mu);
  int rc = 0;
  while (b->done_seq == seq && (b->in_flight > 0 || b->handing > 0)) {
    uint64_t now = mono_ms();
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

static int batch_flush_until(uvotel__pipe_t *b, uint64_t deadline) {
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
    if (mono_ms() >= deadline) return UVOTEL_ETIMEDOUT;
    if (queued && uvotel__pipe_busy(b) < max_in_flight(b)) {
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

int uvotel__pipe_flush(void *self, uint64_t timeout_ms) {
  uvotel__pipe_t *b = self;
  learn_loop_thread(b);
  uint64_t deadline = mono_ms() + timeout_ms;
  int rc = batch_flush_until(b, deadline);
  if (rc == 0) {
    uint64_t now = mono_ms();
    rc = uvotel__exp_force_flush(b->exp, deadline > now ? deadline - now : 0);
  }
  drain_done(b);
  return report_loss(b, "force_flush", rc);
}

int uvotel__pipe_shutdown(void *self, uint64_t timeout_ms) {
  uvotel__pipe_t *b = self;
  learn_loop_thread(b);
  uint64_t deadline = mono_ms() + timeout_ms;
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
  const void *d;
  while ((d = batch_pop(b)) != NULL) {
    atomic_fetch_add(&b->dropped, 1);
    release_one(b, d);
  }
  /* An asynchronous or concurrent exporter can be shut down while exports are outstanding: it
   * abandons them (their completions count them failed). A synchronous one would block on its
   * running export, past the deadline: it is shut down when freed instead. */
  int rc2 = 0;
  if (rc == 0 || in_flight(b) == 0 || b->exp_async || (b->exp_flags & UVOTEL_EXPORTER_CONCURRENT)) {
    uint64_t now = mono_ms();
    rc2 = uvotel__exp_shutdown(b->exp, deadline > now ? deadline - now : 0);
  }
  drain_done(b);
  uv_timer_stop(&b->timer);
  if (!uv_is_closing((uv_handle_t *)&b->timer)) uv_close((uv_handle_t *)&b->timer, on_close);
  maybe_close_async(b);
  rc = report_loss(b, "shutdown", rc != 0 ? rc : rc2);
  return rc;
}

static void batch_maybe_free(uvotel__pipe_t *b) {
  if (!b->free_pending || b->handles_open > 0 || b->outstanding > 0) return;
  batch_adopt_if_forked(b); /* the threads to join must be this process's */
  pthread_mutex_lock(&b->mu);
  b->stop = 1;
  pthread_cond_broadcast(&b->wcond);
  pthread_mutex_unlock(&b->mu);
  for (unsigned i = 0; i < b->n_workers; i++) uv_thread_join(&b->workers[i]);
  /* spans never dispatched (shutdown timed out before them) */
  const void *d;
  while ((d = batch_pop(b)) != NULL) {
    atomic_fetch_add(&b->dropped, 1);
    release_one(b, d);
  }
  while (b->free_jobs != NULL) {
    job_t *j = b->free_jobs;
    b->free_jobs = j->next;
    uvotel_free(j);
  }
  uvotel__exp_free(b->exp);
  destroy_sync(b);
  uvotel_free(b->ring);
  void (*cb)(void *) = b->on_freed;
  void *arg = b->on_freed_arg;
  uvotel_free(b);
  if (cb != NULL) cb(arg);
}

/* Closes the handles and waits (on the loop) for exports still running; done(arg) runs once
 * the last item reference it held is released. */
void uvotel__pipe_free_async(void *self, void (*done)(void *arg), void *arg) {
  uvotel__pipe_t *b = self;
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

void uvotel__pipe_free(void *self) {
  uvotel__pipe_free_async(self, NULL, NULL);
}

void uvotel__pipe_counters(void *self, uvotel__pipe_counters_t *out) {
  uvotel__pipe_t *b = self;
  out->dropped = atomic_load(&b->dropped);
  out->exported = atomic_load(&b->exported);
  out->failed = atomic_load(&b->failed);
  out->batches = atomic_load(&b->batches);
  out->queued = atomic_load(&b->enq) - atomic_load(&b->deq);
  out->in_flight = atomic_load(&b->in_flight);
  /* every item pushed is queued, in flight, exported, dropped later or failed */
  out->received = atomic_load(&b->enq) + atomic_load(&b->dropped_at_end);
}

static void destroy_sync(uvotel__pipe_t *b) {
  pthread_mutex_destroy(&b->mu);
  pthread_cond_destroy(&b->cond);
  pthread_cond_destroy(&b->wcond);
  pthread_cond_destroy(&b->room);
}

uvotel__pipe_t *uvotel__pipe_create(const uvotel__pipe_ops_t *ops, uvotel__exp_t *exp,
                                    const uvotel__pipe_options_t *o, int loop_known) {
  if (o->max_queue_size == 0 || o->max_export_batch_size == 0 || o->max_queue_size > (1u << 30)) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "%s: bad queue/batch size", ops->name);
    uvotel__exp_free(exp);
    return NULL;
  }
  uvotel__pipe_t *b = uvotel_calloc(1, sizeof *b);
  size_t cap = 1;
  while (cap < o->max_queue_size) cap <<= 1;
  uvotel__pipe_cell_t *ring = b != NULL ? uvotel_malloc(sizeof(uvotel__pipe_cell_t) * cap) : NULL;
  if (ring == NULL) {
    uvotel_free(b);
    uvotel__exp_free(exp);
    return NULL;
  }
  b->ops = ops;
  b->exp = exp;
  b->exp_flags = exp->flags;
  b->exp_async = exp->has_async;
  b->o = *o;
  if (b->o.max_export_batch_size > b->o.max_queue_size) {
    b->o.max_export_batch_size = b->o.max_queue_size;
  }
  if (b->o.max_concurrent_exports == 0) b->o.max_concurrent_exports = 1;
  /* Waiting longer than an export may take frees no more room. */
  if (b->o.block_timeout_ms > b->o.export_timeout_ms)
    b->o.block_timeout_ms = b->o.export_timeout_ms;
  b->loop = o->loop != NULL ? o->loop : uv_default_loop();
  b->o.loop = b->loop;
  if (loop_known) {
    b->loop_thread = uv_thread_self();
    atomic_init(&b->loop_known, 1);
  }
  b->ring = ring;
  b->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) atomic_init(&ring[i].seq, i);
  pthread_mutex_init(&b->mu, NULL);
  pthread_cond_init(&b->cond, NULL);
  pthread_cond_init(&b->wcond, NULL);
  pthread_cond_init(&b->room, NULL);
  b->pid = getpid();
  b->limit = (uvotel_diag_limit_t)UVOTEL_DIAG_LIMIT_INIT(REPORT_INTERVAL_MS);
  /* The jobs steady state needs, now: a span or record end then never allocates, from the
   * first batch on (an asynchronous exporter's deeper pipeline grows on demand). */
  size_t want_jobs = max_in_flight(b) + 2;
  for (size_t i = 0; i < want_jobs; i++) {
    job_t *j = uvotel_malloc(sizeof(job_t) + sizeof(void *) * b->o.max_export_batch_size);
    if (j == NULL) break;
    j->b = b;
    j->n = 0;
    j->next = b->free_jobs;
    b->free_jobs = j;
  }
  /* The export threads: one per concurrent export (an asynchronous exporter encodes in its
   * export call, so they run the encoding in parallel; delivery overlaps beyond them). */
  unsigned want = max_in_flight(b);
  if (want > UVOTEL__PIPE_MAX_WORKERS) want = UVOTEL__PIPE_MAX_WORKERS;
  while (b->n_workers < want) {
    if (uv_thread_create(&b->workers[b->n_workers], worker_main, b) != 0) break;
    b->n_workers++;
  }
  if (b->n_workers == 0) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EIO, "%s: cannot start its thread", ops->name);
    while (b->free_jobs != NULL) {
      job_t *j = b->free_jobs;
      b->free_jobs = j->next;
      uvotel_free(j);
    }
    destroy_sync(b);
    uvotel_free(ring);
    uvotel_free(b);
    uvotel__exp_free(exp);
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
  return b;
}
