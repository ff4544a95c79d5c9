/* The export pipeline behind the batch span and the batch log processors: a bounded lock-free
 * queue of item references, export threads of its own (never libuv's pool), asynchronous export
 * completion, the counters (every item received ends exactly once in exported, dropped or
 * failed), flush/shutdown deadlines, fork handling and loss reports. The processors add their
 * signal's on_end/on_emit (the hot path, inline below) and an item ops table; the items are
 * opaque references the pipeline only moves, counts and hands back for release. */
#ifndef UVOTEL_PIPELINE_INTERNAL_H
#define UVOTEL_PIPELINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "../internal.h"
#include "exporter_internal.h"

/* Export threads of one pipeline: one per export call that may run at once, up to this. */
#define UVOTEL__PIPE_MAX_WORKERS 8u

/* What a signal tells the pipeline about its items. Static tables. (The exporter is the shared
 * exporter object, exporter_internal.h: the pipeline calls it directly.) */
typedef struct uvotel__pipe_ops_s {
  const char *name;        /* in messages: "batch span processor" */
  const char *item;        /* "span", "record": "%llu span(s) dropped" */
  const char *thread_name; /* the export threads' name (top, perf): at most 15 bytes */
  /* flush/shutdown return UVOTEL_EIO when items were lost since the previous call (spans);
   * 0: only the deadline is a failure (records), the loss is said either way */
  int loss_rc;
  void (*release_many)(const void *const *items, size_t n); /* drop the queue's references */
} uvotel__pipe_ops_t;

/* The options both processors' option structs have (same meaning, same names). */
typedef struct uvotel__pipe_options_s {
  uv_loop_t *loop; /* NULL: uv_default_loop() */
  uint32_t max_queue_size;
  uint32_t max_export_batch_size;
  uint64_t schedule_delay_ms;
  uint64_t export_timeout_ms;
  uint32_t max_concurrent_exports;
  uint64_t block_timeout_ms;
} uvotel__pipe_options_t;

typedef struct uvotel__pipe_cell_s {
  atomic_size_t seq;
  const void *d;
} uvotel__pipe_cell_t;

struct uvotel__pipe_job_s;

typedef struct uvotel__pipe_s {
  const uvotel__pipe_ops_t *ops;
  uvotel__exp_t *exp; /* the exporter object, owned */
  unsigned exp_flags; /* UVOTEL_EXPORTER_* (exp's) */
  int exp_async;      /* the exporter has its own export_async (exp's) */
  uvotel__pipe_options_t o;
  uv_loop_t *loop;
  uv_thread_t loop_thread; /* the thread running the loop, valid once loop_known */
  atomic_int loop_known;   /* set at create (spans) or learnt in the first callback (logs) */
  uv_async_t async;        /* wake-ups: full batches from other threads, export completions */
  uv_timer_t timer;
  int handles_open; /* handles not yet closed */
  int free_pending;
  atomic_int shut; /* written on the loop thread, read by producers anywhere */
  /* queue: bounded MPSC ring (Vyukov cells), `count` bounds it to max_queue_size */
  uvotel__pipe_cell_t *ring;
  size_t mask;
  atomic_size_t enq;
  atomic_size_t deq; /* written by the consumer (loop thread) only */
  atomic_int wake_pending;
  /* jobs (loop thread) */
  struct uvotel__pipe_job_s *free_jobs;
  size_t outstanding; /* dispatched, not yet back from the done list */
  pthread_mutex_t mu;
  pthread_cond_t cond;  /* done_seq moved */
  pthread_cond_t wcond; /* inbox filled, or stop */
  pthread_cond_t room;  /* items were taken from the queue (producers blocked on a full one) */
  atomic_uint blocked;  /* producers waiting for room (block_timeout_ms) */
  /* under mu */
  struct uvotel__pipe_job_s *inbox_head, *inbox_tail;
  struct uvotel__pipe_job_s *done_head;
  int stop;
  int async_open;
  atomic_uint in_flight; /* dispatched, result not yet known (changed under mu) */
  atomic_uint handing;   /* dispatched, the export call not yet returned (changed under mu): for
                            an asynchronous exporter what limits dispatch (encoding threads busy);
                            delivery then overlaps up to the exporter's own queue */
  uint64_t done_seq;     /* results known */
  uv_thread_t workers[UVOTEL__PIPE_MAX_WORKERS];
  unsigned n_workers;
  pid_t pid; /* the process whose threads these are (fork: the child starts its own) */
  /* counters */
  atomic_uint_fast64_t dropped, exported, failed, batches;
  atomic_uint_fast64_t dropped_at_end;  /* the part of dropped never queued */
  atomic_uint_fast64_t dropped_blocked; /* the part of dropped_at_end that waited first */
  atomic_uint_fast64_t waited;          /* items whose producer waited for room */
  atomic_int last_error;
  /* loss reports (loop thread): what was said by the interval report and by flush/shutdown */
  uint64_t said_dropped, said_failed, said_blocked;
  uvotel_diag_limit_t limit;
  uint64_t flushed_dropped, flushed_failed;
  void (*on_freed)(void *arg);
  void *on_freed_arg;
} uvotel__pipe_t;

/* Counters of a pipeline (the processors' counters structs have these members). */
typedef struct uvotel__pipe_counters_s {
  uint64_t received, dropped, exported, failed, batches, queued, in_flight;
} uvotel__pipe_counters_t;

/* Create a pipeline exporting through exp (owned from here: freed on failure). o is checked
 * (sizes non-zero, queue <= 2^30: else UVOTEL_EINVAL said) and clamped; NULL loop: the default.
 * loop_known: the calling thread runs the loop. NULL on failure (said). Thread: the loop's, or any
 * with loop_known 0. */
uvotel__pipe_t *uvotel__pipe_create(const uvotel__pipe_ops_t *ops, uvotel__exp_t *exp,
                                    const uvotel__pipe_options_t *o, int loop_known);

/* Queue d (the caller's reference goes to the queue). >0: items queued now; -1: full. Any
 * thread. */
static inline int uvotel__pipe_push(uvotel__pipe_t *b, const void *d) {
  size_t pos = atomic_load_explicit(&b->enq, memory_order_relaxed);
  for (;;) {
    size_t used = pos - atomic_load_explicit(&b->deq, memory_order_acquire);
    if (used >= b->o.max_queue_size) return -1;
    if (atomic_compare_exchange_weak_explicit(&b->enq, &pos, pos + 1, memory_order_relaxed,
                                              memory_order_relaxed)) {
      break;
    }
  }
  uvotel__pipe_cell_t *cell = &b->ring[pos & b->mask];
  /* pos - deq < max_queue_size <= capacity, so the consumer has released this cell; its seq
   * store may still be on its way. */
  while (atomic_load_explicit(&cell->seq, memory_order_acquire) != pos) {
  }
  cell->d = d;
  atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
  return (int)(pos + 1 - atomic_load_explicit(&b->deq, memory_order_relaxed));
}

/* What limits dispatch: exports whose call has not returned (asynchronous exporter), or whose
 * result is not known (synchronous one). Any thread. */
static inline uint32_t uvotel__pipe_busy(uvotel__pipe_t *b) {
  return b->exp_async ? atomic_load(&b->handing) : atomic_load(&b->in_flight);
}

/* Wait (at most block_timeout_ms) for room, then push; the push's result. Any thread. */
int uvotel__pipe_push_blocking(uvotel__pipe_t *b, const void *d);
/* Start exports while full batches are queued and a slot is free. Loop thread. */
void uvotel__pipe_dispatch_full(uvotel__pipe_t *b);

/* uvotel__pipe_offer's rare outcomes, out of line (pipeline.c). */
uint64_t uvotel__pipe_refused(uvotel__pipe_t *b, int full);
void uvotel__pipe_batch_ready(uvotel__pipe_t *b, uint32_t queued);

/* What a processor's on_end / on_emit does with an item, both signals: queue d (with the
 * back-pressure wait when block_timeout_ms is set), and when a whole batch is queued hand it
 * off at once on the loop's thread, or wake the loop from other threads. 0: queued, the
 * caller's reference now the queue's. Otherwise d was refused and is still the caller's to
 * release; counted dropped (and dropped_at_end, and dropped_blocked when it waited); the return
 * is the dropped count so far, and *full says why (0: after shutdown, 1: the queue stayed
 * full). Any thread. */
static inline uint64_t uvotel__pipe_offer(uvotel__pipe_t *b, const void *d, int *full) {
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&b->shut, memory_order_acquire))) {
    /* Shut down: nothing will export it, and the wake-up handle may be closed. */
    *full = 0;
    return uvotel__pipe_refused(b, 0);
  }
  int c = uvotel__pipe_push(b, d);
  if (UVOTEL__UNLIKELY(c < 0) && b->o.block_timeout_ms > 0) c = uvotel__pipe_push_blocking(b, d);
  if (UVOTEL__UNLIKELY(c < 0)) {
    *full = 1;
    return uvotel__pipe_refused(b, 1);
  }
  if (UVOTEL__UNLIKELY((uint32_t)c >= b->o.max_export_batch_size)) {
    uvotel__pipe_batch_ready(b, (uint32_t)c);
  }
  return 0;
}
/* The processor ops both signals' batch processors are (self: the pipeline), so their ops
 * tables name these directly. */
/* Deliver what is queued within timeout_ms, then the exporter's force_flush; the loss said
 * (and UVOTEL_EIO when ops->loss_rc). Thread: the loop's. */
int uvotel__pipe_flush(void *self, uint64_t timeout_ms);
/* Flush, stop taking items, shut the exporter down, close the handles. Thread: the loop's. */
int uvotel__pipe_shutdown(void *self, uint64_t timeout_ms);
/* Free once the handles are closed and no export is outstanding; done(arg) then (may be NULL).
 * Thread: the loop's. */
void uvotel__pipe_free_async(void *self, void (*done)(void *arg), void *arg);
/* uvotel__pipe_free_async(self, NULL, NULL). */
void uvotel__pipe_free(void *self);
void uvotel__pipe_counters(void *self, uvotel__pipe_counters_t *out);

/* Defines `static void fn(void *self, type *out)`: a processor's counters op filling its
 * signal's counters struct (which has the members of uvotel__pipe_counters_t) through
 * fill(self, uvotel__pipe_counters_t *): uvotel__pipe_counters, uvotel__simple_counters. */
#define UVOTEL__COUNTERS_OP(fn, type, fill) \
  static void fn(void *self, type *out) {   \
    uvotel__pipe_counters_t c_;             \
    fill(self, &c_);                        \
    out->received = c_.received;            \
    out->dropped = c_.dropped;              \
    out->exported = c_.exported;            \
    out->failed = c_.failed;                \
    out->batches = c_.batches;              \
    out->queued = c_.queued;                \
    out->in_flight = c_.in_flight;          \
  }

#endif
