/* uvotel async hooks: async ids, the execution stack, hook registration and async resources.
 *
 * The model is Node's async_hooks. Every asynchronous resource (a timer, a request, a handle,
 * a custom resource) gets an async id and the id of the resource that caused it (its trigger).
 * Enabled hooks see:
 *   init     when the resource is created, synchronously, with trigger = the execution id then;
 *   before   just before each run of the resource's callback (zero, one or many times);
 *   after    just after each run;
 *   destroy  exactly once, after the last callback. Destroys are queued and delivered together
 *            in the loop's check phase (before user check callbacks), never inside the code that
 *            caused them; pending destroys keep the loop alive until delivered. As in Node,
 *            a queue that reaches 16384 before the check phase is delivered as soon as the
 *            running callback returns.
 *   promise_resolve  when a promise settles (see uvotel/promise.h where available).
 *
 * Threads. Hooks are registered per thread, like Node's per-isolate hooks: a hook sees the
 * events raised on the thread that enabled it. Ids are unique in the process; on one thread they
 * increase, and in a single-threaded program the first resource gets id 2 (1 is the top level).
 * Thread-pool threads (work callbacks) run at their own top level and raise no events.
 *
 * Cost. Until the first hook is enabled or the first context value is set anywhere in the
 * process, the libuv wrappers pass straight through (one predictable branch) and track nothing:
 * a resource created in that state is invisible to hooks enabled later, and its callbacks run
 * with execution id 1. After that, every wrapped resource is tracked. */
#ifndef UVOTEL_HOOKS_H
#define UVOTEL_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "uvotel/errno.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t uvotel_async_id_t;

/* Any member may be NULL. `resource` in init is the object the resource stands for: the libuv
 * handle or request for wrapped calls, the uvotel_resource_t (or the owner given to
 * uvotel_resource_init_owner) for custom resources. It is only valid until destroy. */
typedef struct uvotel_hook_callbacks_s {
  void (*init)(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger_id, void *resource,
               void *arg);
  void (*before)(uvotel_async_id_t id, void *arg);
  void (*after)(uvotel_async_id_t id, void *arg);
  void (*destroy)(uvotel_async_id_t id, void *arg);
  void (*promise_resolve)(uvotel_async_id_t id, void *arg);
} uvotel_hook_callbacks_t;

typedef struct uvotel_hook_s uvotel_hook_t;

/* Create a (disabled) hook; the callbacks are copied, `arg` is passed to each.
 * Returns NULL if cbs is NULL or memory runs out. Thread: any. */
uvotel_hook_t *uvotel_hook_create(const uvotel_hook_callbacks_t *cbs, void *arg);

/* Enable on the calling thread. Hooks run in the order they were enabled. Enabling or
 * disabling inside any callback (a hook's own included) takes effect from the next event; the
 * event being delivered finishes with the hooks it started with. Enabling an enabled hook is a
 * no-op returning 0. NULL: UVOTEL_EINVAL; enabled on another thread: UVOTEL_EBUSY.
 * Thread: the thread whose events it should see. */
int uvotel_hook_enable(uvotel_hook_t *h);

/* Disable. Disabling a disabled hook is a no-op returning 0. NULL: UVOTEL_EINVAL; enabled on
 * another thread: UVOTEL_EBUSY. Thread: the thread that enabled it. */
int uvotel_hook_disable(uvotel_hook_t *h);

/* Disable if enabled, then free (deferred to the end of the current hook dispatch when called
 * from a hook callback). NULL is a no-op. Thread: the thread that enabled it, or any if it is
 * disabled. */
void uvotel_hook_free(uvotel_hook_t *h);

/* The id of the resource whose callback is running on this thread; 1 at the top level.
 * Thread: any. */
uvotel_async_id_t uvotel_execution_async_id(void);

/* The trigger id of the running resource; 0 at the top level. Thread: any. */
uvotel_async_id_t uvotel_trigger_async_id(void);

/* The `resource` pointer of the running resource; NULL at the top level. Thread: any. */
void *uvotel_execution_async_resource(void);

/* Attach uvotel to a loop: creates two internal handles (an idle and a check handle) that
 * deliver the destroy queue in the check phase. They are libuv-internal handles (as libuv's own
 * signal and async handles are): uv_walk does not show them, uv_loop_close ignores them, and
 * they are stopped (keeping nothing alive) unless destroys are pending, so uv_run and
 * uv_loop_alive answer for the program's own handles. The loop's block is process-wide: a loop
 * attached on one thread and run on another just works. Attaching an attached loop is a no-op
 * returning 0 that makes it the calling thread's delivery loop: the loop this thread's destroy
 * queue is delivered on is the one it attached last (the wrappers in uvotel/uv.h attach
 * lazily, and again whenever a thread turns to another loop's handles, so calling this is
 * optional); a thread with no attached loop delivers destroys at once. NULL: UVOTEL_EINVAL;
 * memory: UVOTEL_ENOMEM. Thread: the thread that sets up or runs the loop. */
int uvotel_loop_init(uv_loop_t *loop);

/* Detach, without ever running the loop. If the program still has anything in the loop (the
 * checks uv_loop_close makes: an active request, a handle that is not libuv-internal, a closing
 * handle whose close callback has not run) it returns UV_EBUSY, as uv_loop_close would, and
 * changes nothing. Otherwise it tells the libraries that keep per-loop data (on_detach), delivers
 * the calling thread's pending destroys, and removes uvotel's handles from the loop at once (no
 * close callbacks), so that uv_loop_close(loop) can succeed. Call after uv_run has returned,
 * never from a callback of this loop. A loop that is not attached: UVOTEL_ENOENT; NULL:
 * UVOTEL_EINVAL. Thread: the loop's thread. */
int uvotel_loop_close(uv_loop_t *loop);

/* ---- Per-loop data, for libraries built on uvotel ----------------------------------------
 * libuvotel_uv keeps its side table here, so that a handle's state is found from whichever
 * thread runs its loop.
 * uvotel_loop_key_create: a new key (at most 4 in a process). on_detach (may be NULL) is called
 * by uvotel_loop_close with each non-NULL value before the loop is detached. Returns the key
 * (>= 0), or UVOTEL_ENOMEM when all keys are taken. Thread: any.
 * uvotel_loop_get: the loop's value under key; NULL when unset, the key is invalid or the loop
 * is not attached. Lock-free. Thread: any (the value itself is the caller's to synchronise).
 * uvotel_loop_set: set it. Not attached: UVOTEL_ENOENT; NULL loop or bad key: UVOTEL_EINVAL.
 * Thread: the loop's. */
int uvotel_loop_key_create(void (*on_detach)(uv_loop_t *loop, void *value));
void *uvotel_loop_get(const uv_loop_t *loop, int key);
int uvotel_loop_set(uv_loop_t *loop, int key, void *value);

/* ---- Async resources (Node's AsyncResource) ----------------------------------------------
 *
 * A uvotel_resource_t is caller memory. Its fields are private. It is also the building block
 * of every libuv wrapper: init emits `init` and captures the current async context; run (or
 * enter/exit) runs code as the resource's callback: before/after hooks, the resource's ids as
 * the execution ids, and the captured context as the current context. */

#define UVOTEL_RESOURCE_MANUAL_DESTROY 1u /* destroy only through uvotel_resource_emit_destroy */
/* Capture nothing: the resource's callbacks run in the root (empty) context, whatever was
 * current at init (and uvotel_resource_recapture keeps it so). For persistent event sources a
 * program uses as its own scheduler, whose callbacks serve many logical tasks: running them in
 * the context of whichever task started them would give every other task a wrong parent.
 * Hooks see the resource exactly as without the flag. Node has no equivalent. */
#define UVOTEL_RESOURCE_ROOT_CONTEXT 2u

typedef struct uvotel_snapshot_s uvotel_snapshot_t;

typedef struct uvotel_resource_s {
  /* private */
  uvotel_async_id_t id_;
  uvotel_async_id_t trigger_;
  void *owner_;
  uvotel_snapshot_t *ctx_;
  uint32_t refs_;
  uint32_t flags_;
} uvotel_resource_t;

/* A resource is plain memory: it may be moved by copying the struct, after which only the copy
 * may be used. */

/* Initialise r as a new resource of `type` (a static string, not copied) and emit `init`.
 * trigger_id 0 means the current execution id. Captures the current async context (released at
 * destroy), unless flags has UVOTEL_RESOURCE_ROOT_CONTEXT. Without
 * UVOTEL_RESOURCE_MANUAL_DESTROY the resource starts with one reference and
 * the last uvotel_resource_unref emits destroy. NULL r or type, or unknown flags:
 * UVOTEL_EINVAL. Thread: loop. Alloc: none. */
int uvotel_resource_init(uvotel_resource_t *r, const char *type, uvotel_async_id_t trigger_id,
                         unsigned flags);

/* As uvotel_resource_init, with `owner` reported to hooks as the resource and returned by
 * uvotel_execution_async_resource() while it runs (the wrappers pass the libuv handle or
 * request). owner NULL means r itself. */
int uvotel_resource_init_owner(uvotel_resource_t *r, const char *type, uvotel_async_id_t trigger_id,
                               unsigned flags, void *owner);

/* Run fn(arg) in the resource's scope (runInAsyncScope) and return its result. A NULL r or fn,
 * or a destroyed resource, runs nothing and returns NULL. Thread: loop. */
void *uvotel_resource_run(uvotel_resource_t *r, void *(*fn)(void *arg), void *arg);

/* Queue the destroy event and release the captured context. Exactly once: a second call, or a
 * call on an auto-destroyed resource that already went, returns UVOTEL_ESTATE; NULL:
 * UVOTEL_EINVAL. Thread: loop. */
int uvotel_resource_emit_destroy(uvotel_resource_t *r);

/* Reference counting for resources without MANUAL_DESTROY (C's stand-in for "destroyed when
 * garbage collected"): the last unref emits destroy. On a manual-destroy or destroyed resource
 * both are no-ops, as is NULL. Thread: loop. */
void uvotel_resource_ref(uvotel_resource_t *r);
void uvotel_resource_unref(uvotel_resource_t *r);

/* The ids given at init; 0 for NULL or a never-initialised (zeroed) resource. Thread: any. */
uvotel_async_id_t uvotel_resource_async_id(const uvotel_resource_t *r);
uvotel_async_id_t uvotel_resource_trigger_async_id(const uvotel_resource_t *r);

/* Replace the context the resource's callbacks run in by the current one (what uv_read_start
 * does to a stream). No-op when it is the same. NULL or destroyed: UVOTEL_EINVAL.
 * Thread: loop. Alloc: none. */
int uvotel_resource_recapture(uvotel_resource_t *r);

/* The enter/exit form of uvotel_resource_run, for callbacks that cannot be wrapped in a
 * function pointer. A scope is caller memory (usually on the stack); scopes nest and must be
 * exited in reverse order. Any context scope entered inside and not exited is closed by exit.
 * enter on a NULL or destroyed resource returns UVOTEL_EINVAL and leaves everything as it was
 * (exit on that scope is then a no-op). Thread: loop. Alloc: none. */
typedef struct uvotel_callback_scope_s {
  /* private */
  uvotel_async_id_t prev_id_;
  uvotel_async_id_t prev_trigger_;
  void *prev_resource_;
  void *prev_ctx_;
  uvotel_async_id_t id_;
  uint32_t prev_depth_;
  uint32_t flags_;
} uvotel_callback_scope_t;

int uvotel_resource_enter(uvotel_resource_t *r, uvotel_callback_scope_t *scope);
void uvotel_resource_exit(uvotel_callback_scope_t *scope);

/* 1 once a hook has been enabled or a context value set anywhere in this process, else 0. The
 * libuv wrappers pass straight through while it is 0. Thread: any. */
extern int uvotel__tracking;
static inline int uvotel_tracking(void) {
  return __atomic_load_n(&uvotel__tracking, __ATOMIC_RELAXED);
}

/* Incremented whenever a loop is detached (uvotel_loop_close), so that code caching "this loop
 * is attached" can tell when to ask again. Thread: any (read it relaxed). */
extern uint64_t uvotel__loop_epoch;

/* Raise `promise_resolve` for a resource (used by promise implementations). Thread: loop. */
void uvotel_emit_promise_resolve(const uvotel_resource_t *r);

/* Deliver this thread's queued destroy events now, as the check phase does. Wrapped check
 * handles call it before their callback so destroys come before user check callbacks.
 * No-op inside a hook callback. Thread: loop. */
void uvotel_flush_destroys(void);

/* Number of destroy events queued on this thread and not yet delivered. Thread: any. */
size_t uvotel_pending_destroys(void);

/* Free this thread's caches (pooled context blocks, an empty destroy queue, hook tables with no
 * hook enabled). Call before a thread exits or at the end of a program that checks for leaks;
 * thread-pool threads are cleaned up when they exit. Thread: any. */
void uvotel_thread_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
