/* uvotel bind: a callback and its argument bound to the async context current when they were
 * bound, and optionally to a resource, so code that calls it later (a listener registered once,
 * an event emitter, a library's own callback list) runs it where it belongs.
 *
 * The C form of TC39 `AsyncContext.Snapshot.wrap(fn)`, Node's `AsyncLocalStorage.bind(fn)` and
 * `AsyncResource.bind(fn)` / `asyncResource.bind(fn)`. It fixes Node's classic "k_naive" case:
 * a listener registered once outside any request runs in the context of whoever emits, unless
 * each emitter binds what it hands over. C has no closures, so the bound object is called
 * through uvotel_bound_call instead of being a function itself. */
#ifndef UVOTEL_BIND_H
#define UVOTEL_BIND_H

#include "uvotel/hooks.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The bound function: `arg` is the one given at bind time, `call_arg` the one given to
 * uvotel_bound_call. Its return value is uvotel_bound_call's. */
typedef void *(*uvotel_bound_fn)(void *arg, void *call_arg);

typedef struct uvotel_bound_s uvotel_bound_t;

/* With UVOTEL_BIND_RESOURCE, uvotel_bind also creates a resource of its own (type
 * "bound-anonymous-fn", as Node's AsyncResource.bind), so hooks see init at bind time,
 * before/after around every call and destroy at uvotel_bound_free. */
#define UVOTEL_BIND_RESOURCE 0x1u

/* Bind fn/arg to the current context (Snapshot.wrap, AsyncLocalStorage.bind), or with
 * UVOTEL_BIND_RESOURCE to a new resource (AsyncResource.bind). NULL fn or unknown flags: NULL;
 * out of memory: NULL. Free with uvotel_bound_free. Thread: loop. Alloc: one block. */
uvotel_bound_t *uvotel_bind(uvotel_bound_fn fn, void *arg, unsigned flags);

/* Bind fn/arg to an existing resource r (asyncResource.bind(fn)): calls run inside r's scope,
 * in the context r captured. r is borrowed and must stay alive (not destroyed) while the bound
 * object is called. NULL r or fn: NULL. Thread: loop. Alloc: one block. */
uvotel_bound_t *uvotel_bind_to_resource(uvotel_resource_t *r, uvotel_bound_fn fn, void *arg);

/* Call fn(arg, call_arg) in the bound context (and resource scope); restore the caller's context
 * afterwards, whatever fn entered and did not exit. NULL b: NULL. Calls may nest and repeat.
 * Thread: the thread that bound it. */
void *uvotel_bound_call(uvotel_bound_t *b, void *call_arg);

/* Release the captured context, destroy the own resource (if any) and free. NULL: no-op.
 * Thread: the thread that bound it, not from inside its own call. */
void uvotel_bound_free(uvotel_bound_t *b);

#ifdef __cplusplus
}
#endif
#endif
