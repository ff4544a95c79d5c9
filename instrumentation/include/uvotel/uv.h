/* uvotel libuv wrappers: libuv calls that raise async hooks and carry async context.
 *
 * Each wrapper has the signature of the libuv function it wraps, with uvotel_ in place of uv_,
 * and returns libuv's own result code unchanged (a NULL handle, on which libuv itself would crash,
 * gives UV_EINVAL; uvotel_close(NULL, ...) does nothing). When the libuv call fails, the callback never
 * runs and no hook event is raised (nothing is tracked). A wrapper never touches the `data`
 * field of a loop, handle or request: its state lives in a side table keyed by the handle's or
 * request's address (per thread, O(1)), allocated from a pool and freed when the handle is
 * closed with uvotel_close or the request completes.
 *
 * Callbacks run in the async context that was current when they were registered, with the
 * resource's async id as the execution id (see uvotel/hooks.h and uvotel/context.h).
 *
 * Until anything is tracked (uvotel_tracking() == 0) the wrappers pass straight through.
 * A handle whose callback was registered through a wrapper must be closed with uvotel_close
 * (uvotel/uv_redirect.h maps uv_close onto it); closing it with uv_close leaks its state.
 *
 * Thread: loop, for every function here. */
#ifndef UVOTEL_UV_H
#define UVOTEL_UV_H

#include <stddef.h>

#include <uv.h>

#include "uvotel/hooks.h"
#include "uvotel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Timers: type "Timeout" --------------------------------------------------------------
 * Each successful start is a new Timeout resource (as each setTimeout is in Node), triggered by
 * the current execution id. A one-shot timer's resource is destroyed after its callback, a
 * repeating timer's when it is stopped or closed, or restarted with uvotel_timer_start.
 * uvotel_timer_again keeps the resource of a running repeating timer; on a stopped one it starts
 * a new resource. */
int uvotel_timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout, uint64_t repeat);
int uvotel_timer_stop(uv_timer_t *handle);
int uvotel_timer_again(uv_timer_t *handle);

/* ---- Check handles: type "Immediate" (our setImmediate) ----------------------------------
 * A started check handle is one resource until stopped: before/after around every run of its
 * callback, destroy at stop or close. A check callback that stops its own handle behaves like
 * Node's setImmediate (init, before, after, destroy). Note that, as in raw libuv, an active check
 * handle does not keep the poll phase from blocking: pair it with an idle handle (as Node does)
 * when nothing else wakes the loop. */
int uvotel_check_start(uv_check_t *handle, uv_check_cb cb);
int uvotel_check_stop(uv_check_t *handle);

/* ---- Idle handles: type "IDLE" ------------------------------------------------------------
 * Same lifecycle as check handles. */
int uvotel_idle_start(uv_idle_t *handle, uv_idle_cb cb);
int uvotel_idle_stop(uv_idle_t *handle);

/* ---- Closing -----------------------------------------------------------------------------
 * Close any handle. A resource still active on it (a running timer, a started check or idle
 * handle, a stream) is destroyed; its state is freed just before close_cb runs. close_cb runs in
 * the context current at uvotel_close, at the top level (no before/after: the resource is
 * gone). Handles never seen by a wrapper pass straight to uv_close. */
void uvotel_close(uv_handle_t *handle, uv_close_cb close_cb);

/* ---- Introspection -----------------------------------------------------------------------
 * Number of handles and requests whose state the calling thread's side table holds, and the
 * table's capacity in slots (it grows and shrinks with the count). Thread: any. */
size_t uvotel_uv_tracked(void);
size_t uvotel_uv_table_capacity(void);

/* Free the calling thread's pooled wrapper states, and the table itself when it tracks nothing
 * (threads do this when they exit). For leak checks at the end of a program. Thread: any. */
void uvotel_uv_thread_cleanup(void);

#ifdef __cplusplus
}
#endif
#endif
