/* Bound callbacks (uvotel/bind.h): a captured snapshot, or a resource, plus fn and arg. */
#include "uvotel/bind.h"

#include "../internal.h"
#include "uvotel/context.h"

struct uvotel_bound_s {
  uvotel_bound_fn fn;
  void *arg;
  uvotel_snapshot_t *snap; /* the context bound to (NULL when bound to a resource) */
  uvotel_resource_t *res;  /* the resource the calls run in, or NULL */
  uvotel_resource_t own;   /* UVOTEL_BIND_RESOURCE: the resource of our own */
};

typedef struct call_s {
  uvotel_bound_t *b;
  void *call_arg;
} call_t;

static void *thunk(void *p) {
  call_t *c = p;
  return c->b->fn(c->b->arg, c->call_arg);
}

UVOTEL__API uvotel_bound_t *uvotel_bind(uvotel_bound_fn fn, void *arg, unsigned flags) {
  if (fn == NULL || (flags & ~UVOTEL_BIND_RESOURCE) != 0) return NULL;
  uvotel_bound_t *b = uvotel_calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->fn = fn;
  b->arg = arg;
  if (flags & UVOTEL_BIND_RESOURCE) {
    /* The resource captures the current context itself. */
    if (uvotel_resource_init(&b->own, "bound-anonymous-fn", 0, UVOTEL_RESOURCE_MANUAL_DESTROY)) {
      uvotel_free(b);
      return NULL;
    }
    b->res = &b->own;
  } else {
    b->snap = uvotel_snapshot_capture();
    if (b->snap == NULL) {
      uvotel_free(b);
      return NULL;
    }
  }
  return b;
}

UVOTEL__API uvotel_bound_t *uvotel_bind_to_resource(uvotel_resource_t *r, uvotel_bound_fn fn,
                                                    void *arg) {
  if (r == NULL || fn == NULL) return NULL;
  uvotel_bound_t *b = uvotel_calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->fn = fn;
  b->arg = arg;
  b->res = r;
  return b;
}

UVOTEL__API void *uvotel_bound_call(uvotel_bound_t *b, void *call_arg) {
  if (b == NULL) return NULL;
  call_t c = {b, call_arg};
  return b->res != NULL ? uvotel_resource_run(b->res, thunk, &c)
                        : uvotel_snapshot_run(b->snap, thunk, &c);
}

UVOTEL__API void uvotel_bound_free(uvotel_bound_t *b) {
  if (b == NULL) return;
  if (b->res == &b->own) (void)uvotel_resource_emit_destroy(&b->own);
  uvotel_snapshot_release(b->snap);
  uvotel_free(b);
}
