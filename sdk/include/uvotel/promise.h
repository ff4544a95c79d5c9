/* uvotel promises, microtasks and next-tick: the rest of Node's lifecycle for C.
 *
 * A uvotel_promise_t is a reference-counted, single-thread promise with the semantics of an
 * ECMAScript promise: pending until resolved or rejected (settled exactly once), `then` returns a
 * new (chained) promise settled by the reaction's result, a reaction may return another promise,
 * which the chained promise adopts, and reactions never run inside resolve: they are queued as
 * jobs on this thread's microtask queue.
 *
 * Job queues (seed 004). Each thread has a next-tick queue (uvotel_next_tick) and a microtask
 * queue (uvotel_queue_microtask, promise reactions). They are drained when the outermost
 * instrumented callback on the thread returns (the outermost uvotel_resource_exit, after its
 * `after` hook), before the loop moves on, exactly as Node does: every next-tick first, then
 * every microtask, including those queued meanwhile, and again until both queues are empty.
 * Like Node, the drain is unbounded: a microtask that queues itself forever starves the loop
 * (nothing else on this thread runs again); a finite self-requeueing chain runs to its end before
 * any timer or I/O callback. We match Node rather than bound a turn because a bound would let a
 * reaction run after a later loop phase, breaking the ordering guarantee code relies on.
 *
 * Top-level code (not inside any instrumented callback: main() before uv_run, or a callback of a
 * raw, uninstrumented libuv handle) has no callback return to drain after. It must call
 * uvotel_drain_microtasks() itself, as Node drains after the main module, or return to the loop:
 * jobs queued there on a thread with an attached loop (uvotel_loop_init) are drained at the
 * latest in that loop's next check phase, after due timers and I/O, i.e. later than in Node.
 * uvotel_loop_init does not arrange a drain at loop start: no libuv phase runs before the due
 * timers of the first iteration, so such a drain could not match Node's order anyway.
 *
 * Hooks (uvotel/hooks.h). A promise is a resource of type "PROMISE": `init` at creation with
 * trigger = the execution id (for a chained promise: its parent promise's id, as in Node),
 * `promise_resolve` when it settles (fulfils or rejects, not when it starts adopting another
 * promise), `before`/`after` around each reaction with the chained promise's id, and `destroy`
 * when its last reference goes (Node reports that at garbage collection). next-tick jobs are
 * "TickObject" and microtasks "Microtask" resources: init when queued, before/after around the
 * callback, destroy after it. The `resource` a hook sees (and uvotel_execution_async_resource()
 * inside a reaction) is the uvotel_promise_t for a PROMISE, an internal job for the others.
 * Adopting a promise takes two jobs, as in V8: a job in the adopting promise's scope calls `then`
 * on the adopted one, creating an internal chained PROMISE.
 *
 * Context (uvotel/context.h). A reaction runs in the context current when `then` was called; a
 * next-tick or microtask callback in the context current when it was queued.
 *
 * Values. Values and errors are opaque pointers owned through uvotel_value_ops_t, as context
 * variables are: a promise retains its result when it settles and releases it when it goes. A
 * promise created with NULL ops borrows its result, which must outlive it. A reaction sees the
 * value borrowed for the duration of the call.
 *
 * Threads. A promise belongs to the thread that created it; every call here is Thread: that
 * thread (loop). A call on another thread's promise returns UVOTEL_EBUSY (or NULL).
 *
 * Jobs left queued when a thread finishes (never drained) are not run or freed by
 * uvotel_thread_cleanup; drain before cleaning up.
 *
 * Freed promises. Calls on a promise whose last reference went return UVOTEL_EINVAL (or NULL)
 * while its memory sits in the thread's promise pool, which is the common case; after the slot
 * is reused or the pool freed (uvotel_thread_cleanup) that cannot be detected. */
#ifndef UVOTEL_PROMISE_H
#define UVOTEL_PROMISE_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/context.h"
#include "uvotel/errno.h"
#include "uvotel/hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvotel_promise_s uvotel_promise_t;

typedef enum uvotel_promise_state_e {
  UVOTEL_PROMISE_PENDING = 0,
  UVOTEL_PROMISE_FULFILLED = 1,
  UVOTEL_PROMISE_REJECTED = 2
} uvotel_promise_state_t;

/* What a reaction returns. Build it with the three helpers below. */
typedef enum uvotel_reaction_kind_e {
  UVOTEL_REACTION_VALUE = 0,  /* fulfil the chained promise with ptr */
  UVOTEL_REACTION_ERROR = 1,  /* reject it with ptr (JS: throw) */
  UVOTEL_REACTION_PROMISE = 2 /* adopt the promise ptr; one reference passes to the chain */
} uvotel_reaction_kind_t;

typedef struct uvotel_reaction_s {
  uvotel_reaction_kind_t kind;
  void *ptr;
} uvotel_reaction_t;

static inline uvotel_reaction_t uvotel_reaction_value(void *value) {
  uvotel_reaction_t r = {UVOTEL_REACTION_VALUE, value};
  return r;
}
static inline uvotel_reaction_t uvotel_reaction_error(void *error) {
  uvotel_reaction_t r = {UVOTEL_REACTION_ERROR, error};
  return r;
}
/* Hands one reference of p to the chained promise (return a fresh promise as is; ref an
 * existing one first). A NULL p fulfils with NULL; returning the chained promise itself rejects
 * it with a NULL error (JS: TypeError, chaining cycle). */
static inline uvotel_reaction_t uvotel_reaction_promise(uvotel_promise_t *p) {
  uvotel_reaction_t r = {UVOTEL_REACTION_PROMISE, (void *)p};
  return r;
}

/* A reaction: `value` is the settled value (or error), borrowed for the call; `arg` is then()'s.
 * Runs as a microtask, in the chained promise's async scope and then()'s context. */
typedef uvotel_reaction_t (*uvotel_promise_reaction_cb)(void *value, void *arg);

/* A next-tick or microtask callback. */
typedef void (*uvotel_job_cb)(void *arg);

/* Create a pending promise holding one reference for the caller. `ops` (borrowed, may be NULL,
 * must outlive the promise) owns the values and errors given to resolve/reject.
 * Emits init (PROMISE, trigger = execution id). NULL: out of memory. Thread: loop.
 * Alloc: none in steady state (pooled). */
uvotel_promise_t *uvotel_promise_create(const uvotel_value_ops_t *ops);

/* A promise already fulfilled with value / rejected with error (Promise.resolve(v) /
 * Promise.reject(e)): init then promise_resolve. NULL: out of memory. Thread: loop. */
uvotel_promise_t *uvotel_promise_resolved(void *value, const uvotel_value_ops_t *ops);
uvotel_promise_t *uvotel_promise_rejected(void *error, const uvotel_value_ops_t *ops);

/* Take another reference. NULL or freed: UVOTEL_EINVAL. Thread: loop. */
int uvotel_promise_ref(uvotel_promise_t *p);

/* Drop a reference. The last one releases the result (ops->release), drops reactions that can
 * no longer run (their chained promises stay pending forever) and queues destroy. A pending
 * promise whose reactions are queued, or which another promise adopts, is kept alive by them.
 * NULL or freed: UVOTEL_EINVAL, nothing changes. Thread: loop. */
int uvotel_promise_unref(uvotel_promise_t *p);

/* Fulfil p with value (retained with p's ops), emit promise_resolve and queue its reactions.
 * Already resolved (settled or adopting): UVOTEL_ESTATE. A promise made by then() or
 * uvotel_promise_all is settled only by its reactions: UVOTEL_ESTATE. NULL or freed:
 * UVOTEL_EINVAL. Another thread's: UVOTEL_EBUSY. In every error case nothing changes.
 * Thread: loop. Alloc: none. */
int uvotel_promise_resolve(uvotel_promise_t *p, void *value);

/* Reject p with error. Same rules as uvotel_promise_resolve. */
int uvotel_promise_reject(uvotel_promise_t *p, void *error);

/* Resolve p with another promise (JS: resolve(thenable)): p follows `other` and settles with its
 * result, two microtask turns after other settles (as V8 does). p takes its own reference to
 * other. p == other: UVOTEL_EINVAL (JS rejects with a TypeError); otherwise the errors of
 * uvotel_promise_resolve. A longer cycle (p adopts q adopts p) stays pending forever, as in JS,
 * and its promises are never freed. Thread: loop. */
int uvotel_promise_adopt(uvotel_promise_t *p, uvotel_promise_t *other);

/* Register reactions and return the chained promise (one reference for the caller). When p
 * fulfils, on_fulfilled(value, arg) runs; when it rejects, on_rejected(error, arg); a NULL
 * reaction passes the result through to the chained promise. Reactions run as microtasks, never
 * inside this call nor inside resolve. The chained promise has p's ops (for the values the
 * reactions return); emits init (PROMISE, trigger = p's id). NULL or freed p: NULL (nothing
 * changes); another thread's: NULL; out of memory: NULL. Thread: loop. Alloc: none in steady
 * state. */
uvotel_promise_t *uvotel_promise_then(uvotel_promise_t *p, uvotel_promise_reaction_cb on_fulfilled,
                                      uvotel_promise_reaction_cb on_rejected, void *arg);

/* As uvotel_promise_then, with `ops` for the chained promise (the reactions return values of
 * another kind than p's; NULL: borrowed). */
uvotel_promise_t *uvotel_promise_then_ops(uvotel_promise_t *p,
                                          uvotel_promise_reaction_cb on_fulfilled,
                                          uvotel_promise_reaction_cb on_rejected, void *arg,
                                          const uvotel_value_ops_t *ops);

/* Promise.all: a promise fulfilled, once every input fulfils, with a uvotel_promise_list_t of
 * their values in input order (ops: uvotel_promise_list_ops), or rejected with the first error.
 * n == 0 gives an already fulfilled, empty list. The inputs are not consumed (the call takes its
 * own references). ps NULL with n > 0, or any input NULL, freed or another thread's: NULL,
 * nothing changes. Out of memory: NULL. Thread: loop. Alloc: the list and one internal chained
 * promise per input (pooled). */
uvotel_promise_t *uvotel_promise_all(uvotel_promise_t *const *ps, size_t n);

/* The value of a fulfilled uvotel_promise_all: reference counted through uvotel_promise_list_ops
 * (retain it to keep it beyond the promise). It holds each value retained with its input's ops. */
typedef struct uvotel_promise_list_s uvotel_promise_list_t;
extern const uvotel_value_ops_t uvotel_promise_list_ops;
/* Number of values; 0 for NULL. Thread: loop. */
size_t uvotel_promise_list_size(const uvotel_promise_list_t *l);
/* Value i (borrowed); NULL for NULL l or i out of range. Thread: loop. */
void *uvotel_promise_list_get(const uvotel_promise_list_t *l, size_t i);

/* State of p; NULL or freed: UVOTEL_EINVAL. Thread: loop. */
int uvotel_promise_state(const uvotel_promise_t *p);

/* The value or error p settled with (borrowed while p lives); NULL while pending or for
 * NULL/freed p. Thread: loop. */
void *uvotel_promise_value(const uvotel_promise_t *p);

/* p's async id; 0 for NULL or freed. Thread: loop. */
uvotel_async_id_t uvotel_promise_async_id(const uvotel_promise_t *p);

/* Queue cb(arg) on the next-tick queue (process.nextTick): a "TickObject" resource (init now,
 * trigger = execution id), run in the context current now. NULL cb: UVOTEL_EINVAL; memory:
 * UVOTEL_ENOMEM. Thread: loop. Alloc: none in steady state (pooled). */
int uvotel_next_tick(uvotel_job_cb cb, void *arg);

/* Queue cb(arg) on the microtask queue (queueMicrotask): a "Microtask" resource, otherwise as
 * uvotel_next_tick. */
int uvotel_queue_microtask(uvotel_job_cb cb, void *arg);

/* Drain both queues now, Node's way (see the top of this file). For top-level code only: inside
 * an instrumented callback, a job or a hook callback it returns UVOTEL_EBUSY and runs nothing
 * (the outermost callback's return drains). Thread: loop. */
int uvotel_drain_microtasks(void);

/* Number of jobs queued on this thread (next-ticks plus microtasks). Thread: loop. */
size_t uvotel_pending_microtasks(void);

/* ---- unhandled rejections (Node's 'unhandledRejection' / 'rejectionHandled') ----
 *
 * A promise rejected while it has no reaction (no then, not adopted, not in an all) is looked
 * at again once the next-tick and microtask queues have run empty; if it still has none it is
 * reported as UNHANDLED. A reaction attached to a reported promise later reports HANDLED at
 * the next such point. A derived promise rejected by a reaction counts like any other. Without a
 * callback each report is a warning through the diagnostics (uvotel/diag.h). The report runs
 * where the queues are drained, in no hook resource; `reason` is the rejection value and p is
 * borrowed for the call (uvotel_promise_ref it to keep it). The pending check is a queued job,
 * so uvotel_pending_microtasks() counts it while a rejection waits. */
typedef enum uvotel_rejection_event_e {
  UVOTEL_REJECTION_UNHANDLED = 1,
  UVOTEL_REJECTION_HANDLED = 2
} uvotel_rejection_event_t;

typedef void (*uvotel_rejection_cb)(uvotel_rejection_event_t event, uvotel_promise_t *p,
                                    void *reason, void *arg);

/* Install this thread's rejection callback (NULL: back to the diagnostics warning).
 * Thread: loop (promises belong to their thread). */
void uvotel_promise_on_rejection(uvotel_rejection_cb cb, void *arg);

/* Unhandled rejections reported on this thread so far. Thread: loop. */
uint64_t uvotel_promise_unhandled_rejections(void);

#ifdef __cplusplus
}
#endif
#endif
