/* uvotel async context: TC39 AsyncContext.Variable / Snapshot, Node's AsyncLocalStorage.
 *
 * The current context is an immutable mapping from variables to values, one per thread.
 * uvotel_var_run / uvotel_var_enter make a new mapping with one more (or a changed) entry and
 * restore the old one on return / exit. Every instrumented callback runs in the context that
 * was current when it was registered (uv_timer_start, uv_read_start, uv_write, uv_fs_*, ...),
 * so a value follows the program through the loop.
 *
 * Values are opaque pointers. A variable may have value ops: retain is called whenever a mapping
 * starts holding the value, release when it stops, in balance. Without ops the value is borrowed
 * and must outlive every context that holds it.
 *
 * Threads. Each thread has its own current context. The thread pool sees the submitter's
 * context (uvotel_queue_work) and may read it, run and enter in it; values that travel there
 * are retained and released on pool threads, so their ops must be thread-safe. A snapshot
 * belongs to the thread that captured it: release it there, or hand it over whole. */
#ifndef UVOTEL_CONTEXT_H
#define UVOTEL_CONTEXT_H

#include <stdint.h>

#include "uvotel/errno.h"
#include "uvotel/hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How a variable's values are kept alive. Fill it with designated initializers
 * ({.retain = f, .release = g}): the table only grows at the end, members left out are NULL. */
typedef struct uvotel_value_ops_s {
  void (*retain)(void *value);  /* may be NULL */
  void (*release)(void *value); /* may be NULL */
} uvotel_value_ops_t;

typedef struct uvotel_var_s uvotel_var_t;

/* A scope opened by uvotel_var_enter / uvotel_snapshot_enter / uvotel_span_enter. Caller
 * memory, usually on the stack. Fields are private. */
typedef struct uvotel_scope_s {
  void *ctx_;
  void *prev_;
  uint32_t depth_;
  uint32_t magic_;
} uvotel_scope_t;

/* Create a variable. `name` is copied (may be NULL); the default value is what get returns
 * where the variable has no value, and is borrowed (not retained). ops may be NULL; it is
 * borrowed and must outlive the variable and every context that holds one of its values.
 * Returns NULL only when out of memory. Thread: any. */
uvotel_var_t *uvotel_var_create(const char *name, void *default_value,
                                const uvotel_value_ops_t *ops);

/* Free the variable. Values that contexts still hold for it are released when those contexts
 * go. NULL is a no-op. Thread: any, once no thread uses the variable. */
void uvotel_var_free(uvotel_var_t *v);

/* The variable's name ("" when created without). Thread: any. */
const char *uvotel_var_name(const uvotel_var_t *v);

/* The variable's value in the current context, or its default. NULL v: NULL.
 * Thread: any. Alloc: none. Cost: inline from this header (uvotel/fast.h) while the context
 * holds at most 8 values: ~1 ns, also through the shared library; otherwise one call, a
 * lookup of at most 8 one-entry blocks and a binary search. */
void *uvotel_var_get(const uvotel_var_t *v);

/* Run fn(arg) with v set to value, restore afterwards, return fn's result. NULL v or fn: runs
 * nothing, returns NULL. Thread: any. */
void *uvotel_var_run(uvotel_var_t *v, void *value, void *(*fn)(void *arg), void *arg);

/* Set v to value until uvotel_scope_exit(out): the C form of run. Scopes are strictly LIFO.
 * NULL v or out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM; in either case nothing changed.
 * Thread: any. Alloc: none in steady state (pooled). */
int uvotel_var_enter(uvotel_var_t *v, void *value, uvotel_scope_t *out);

/* Close the innermost scope and restore the context before it. A scope that is not the
 * innermost open one on this thread (out of order, already exited, never entered, or opened on
 * another thread) returns UVOTEL_EINVAL and leaves the context as it was. Thread: the thread
 * that entered it. */
int uvotel_scope_exit(uvotel_scope_t *scope);

/* Node's AsyncLocalStorage.exit(fn): run fn(arg) in the current context without v, so get
 * returns v's default value there (and in callbacks registered meanwhile); restore afterwards
 * and return fn's result. NULL v or fn: runs nothing, returns NULL; out of memory: NULL.
 * Thread: loop. Alloc: none in steady state. */
void *uvotel_var_exit_run(uvotel_var_t *v, void *(*fn)(void *arg), void *arg);

/* The enter/exit form of uvotel_var_exit_run: v is unset until uvotel_scope_exit(out).
 * NULL v or out: UVOTEL_EINVAL; out of memory: UVOTEL_ENOMEM. Thread: loop. */
int uvotel_var_enter_unset(uvotel_var_t *v, uvotel_scope_t *out);

/* Node's AsyncLocalStorage.disable(): from now on v shows no value in any context that exists
 * (get returns the default everywhere, also in callbacks registered before), until a later
 * run/enter sets it again. The values held so far are released as their contexts go.
 * NULL: no-op. Thread: any. */
void uvotel_var_disable(uvotel_var_t *v);

/* Capture the current context. O(1): a reference count (a copy only when capturing on a thread
 * that does not own the current mapping, such as a pool thread), inline from this header in the
 * common case. Never NULL except out of memory. Thread: any. */
uvotel_snapshot_t *uvotel_snapshot_capture(void);

/* Capture the current context for another thread: the result may be entered, run and released
 * on exactly one other thread (or this one), e.g. by uvotel_async_send's receiver. A private
 * copy unless the context is empty. NULL only out of memory. Thread: any. */
uvotel_snapshot_t *uvotel_snapshot_capture_handover(void);

/* Run fn(arg) in the snapshot's context, restore afterwards, return fn's result. NULL s or fn:
 * runs nothing, returns NULL. Thread: the capturing thread. */
void *uvotel_snapshot_run(uvotel_snapshot_t *s, void *(*fn)(void *arg), void *arg);

/* Make the snapshot's context current until uvotel_scope_exit(out). NULL: UVOTEL_EINVAL.
 * Thread: the capturing thread. */
int uvotel_snapshot_enter(uvotel_snapshot_t *s, uvotel_scope_t *out);

/* Take another reference (returns s). Thread: the capturing thread. */
uvotel_snapshot_t *uvotel_snapshot_retain(uvotel_snapshot_t *s);

/* Drop a reference; the last one releases the values. NULL is a no-op. Inline from this header
 * (the last reference calls into the library). Thread: the capturing thread. */
void uvotel_snapshot_release(uvotel_snapshot_t *s);

/* A value held in a snapshot, without making it current: what uvotel_var_get would return
 * inside uvotel_snapshot_run(s, ...). Thread: any. */
void *uvotel_snapshot_get(const uvotel_snapshot_t *s, const uvotel_var_t *v);

#ifdef __cplusplus
}
#endif

/* Private layouts and the inline forms of uvotel_var_get, uvotel_snapshot_capture/release and
 * uvotel_resource_enter/exit (define UVOTEL_NO_INLINE to call the exported functions only). */
#include "uvotel/fast.h"

#endif
