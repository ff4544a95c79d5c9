/* The per-thread block of the SDK core and its life cycle.
 *
 * Layers: thread state <- context <- hooks <- promise. Every per-thread field of the three
 * layers above lives in one block, so that one %fs-relative address reaches all of it on the
 * hot path; each layer owns its section and its types (declared here only as incomplete
 * types). A layer registers the function that frees its part of a thread (run by
 * uvotel_thread_cleanup and at thread exit, top layer first), and the promise layer registers
 * the drain of its job queues, which the hooks layer runs when a callback returns: so no layer
 * reaches into the internals of one above it. */
#ifndef UVOTEL_THREAD_STATE_INTERNAL_H
#define UVOTEL_THREAD_STATE_INTERNAL_H

#include "../internal.h"

struct uvotel_snapshot_s;
struct uvotel__hooktab_s;
struct uvotel_hook_s;
struct uvotel__loop_s;

/* Context mappings of up to this many entries are pooled per thread, this many of each size. */
#define UVOTEL__POOL_MAX_N 8 /* exact sizes 0..8, then powers of two up to 256 */
#define UVOTEL__POOL_CLASSES 14
#define UVOTEL__POOL_CAP 64

typedef struct uvotel__tls_s {
  /* The fields the inline fast paths of uvotel/fast.h read and write (context: ctx, depth;
   * hooks: exec ids, the hook table, in_hook, the retired lists, dq_n; promise: jobs_n). It
   * comes first, so &uvotel__tls is its address. */
  uvotel__thread_hot_t hot;
  /* ---- context (context/context.c) ---- */
  uint32_t stack_cap;
  struct uvotel_snapshot_s **stack; /* stack[d]: the reference scope d holds (NULL: borrowed) */
  /* pooled mappings by size class (context.c) */
  struct uvotel_snapshot_s *pool[UVOTEL__POOL_CLASSES];
  uint32_t pool_n[UVOTEL__POOL_CLASSES];
  /* ---- hooks (hooks/hooks.c) ---- */
  /* (async ids: hot.next_id, hot.id_end) */
  /* destroy queue (hot.dq_n queued) */
  uvotel_async_id_t *dq;
  size_t dq_cap;
  /* enabled hooks in enable order */
  struct uvotel_hook_s **list;
  uint32_t list_n, list_cap;
  /* the loop this thread delivers its destroy queue on: the one it attached or looked up last
   * (dq_loop its address, dq_epoch uvotel__loop_epoch when it was checked); NULL: none */
  struct uvotel__loop_s *dq_blk;
  uv_loop_t *dq_loop;
  uint64_t dq_epoch;
  /* ---- promise (promise/queue.c): hot.jobs_n jobs in the next-tick and microtask queues ---- */
  /* ---- thread state ---- */
  int cleanup_registered;
} uvotel__tls_t;

/* Exported (uvotel/fast.h declares it for the inline fast paths). */
extern UVOTEL__TLS uvotel__tls_t uvotel__tls;

/* Have uvotel_thread_cleanup run when this thread exits (once per thread; cheap after). A layer
 * calls it the first time it allocates something per thread. */
void uvotel__tls_register(uvotel__tls_t *t);

/* The process-wide tracking flag (uvotel__tracking, uvotel/hooks.h): set once a hook is
 * enabled or a context value set anywhere. */
void uvotel__set_tracking(void);

/* The layers, bottom up; cleanups run top down. */
enum {
  UVOTEL__LAYER_CONTEXT,
  UVOTEL__LAYER_HOOKS,
  UVOTEL__LAYER_PROMISE,
  UVOTEL__LAYER_TRACE, /* trace/tracestate.c: recycled tracestate blocks */
  UVOTEL__LAYERS
};

/* Register the function that frees layer's part of the calling thread's block (each layer does
 * it from a constructor). Thread: any. */
void uvotel__tls_layer_cleanup(int layer, void (*fn)(uvotel__tls_t *t));

/* Register the job-queue drain (the promise layer). */
void uvotel__tls_jobs_register(void (*drain)(void));
/* Run the registered drain; only called with jobs_n != 0, so one was registered. */
void uvotel__tls_jobs_drain(void);

#endif
