/* DNS requests: "GETADDRINFOREQWRAP" and "GETNAMEINFOREQWRAP".
 *
 * Same lifecycle as file system requests: init when the call succeeds, before/after around the
 * callback, destroy after it; the state is freed first so the callback may reuse the request.
 * Synchronous mode (cb == NULL) passes straight through. */
#include <stddef.h>

#include "internal.h"

/* ---- getaddrinfo: no side-table state per request ----
 * As a thread-pool work request (work.c), a uv_getaddrinfo call through uvotel runs a request of
 * uvotel's own (`inner`, in a block from the loop's free list, kept in the loop's work state):
 * its trampoline finds the block with container_of, and uvotel_cancel finds it from the
 * program's request through the tag in the request's work record (internal.h). The program's
 * request mirrors what libuv would have set in it: loop, type and callback at the call, the
 * copies of node, service and hints while the lookup runs (libuv's own, in the block's
 * request), and at the callback those cleared, the result list and the status. */

#define GBLK_POOL_CAP 1024 /* free blocks kept per loop; the rest go back to the allocator */

typedef struct uvotel__gblk_s {
  uv_getaddrinfo_t inner; /* what libuv runs */
  uv_getaddrinfo_t *req;  /* the program's */
  uv_getaddrinfo_cb cb;
  uvotel_resource_t res;
  uvotel_span_t *span; /* the automatic "dns lookup" span, or NULL */
  uvotel__wq_t *wq;    /* set once, when the block is allocated */
} uvotel__gblk_t;

static uvotel__gblk_t *gblk_get(uvotel__wq_t *wq) {
  int fresh;
  uvotel__gblk_t *b = uvotel__blk_get(wq, &wq->gai_free, sizeof *b, &fresh);
  if (b != NULL && fresh) b->wq = wq;
  return b;
}

static void gblk_put(uvotel__wq_t *wq, uvotel__gblk_t *b) {
  uvotel__blk_put(wq, &wq->gai_free, b, GBLK_POOL_CAP);
}

int uvotel__gai_cancel(uv_getaddrinfo_t *req) {
  uvotel__wq_t *wq = uvotel__wq_get(req->loop);
  uvotel__gblk_t *b = wq != NULL ? uvotel__rec_blk(wq, &req->work_req, req) : NULL;
  return uv_cancel(b != NULL ? (uv_req_t *)&b->inner : (uv_req_t *)req);
}

static void getaddrinfo_tramp(uv_getaddrinfo_t *inner, int status, struct addrinfo *res) {
  uvotel__gblk_t *b = (uvotel__gblk_t *)(void *)((char *)inner - offsetof(uvotel__gblk_t, inner));
  uv_getaddrinfo_t *req = b->req;
  uv_getaddrinfo_cb cb = b->cb;
  uvotel_resource_t r = b->res;
  uvotel_span_t *span = b->span;
  /* What libuv leaves in a request at its callback; no longer run through uvotel: the callback
   * may run the request again or free it. */
  uvotel__rec_set(&req->work_req, 0, 0);
  req->hints = NULL;
  req->service = NULL;
  req->hostname = NULL;
  req->addrinfo = res;
  req->retcode = status;
  gblk_put(b->wq, b);
  if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_lookup_end(span, status, res);
  uvotel_callback_scope_t cs;
  (void)uvotel__resource_enter_held(&r, &cs); /* exit is a no-op if this failed */
  cb(req, status, res);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&r);
}

UVOTEL__API int uvotel_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req,
                                   uv_getaddrinfo_cb getaddrinfo_cb, const char *node,
                                   const char *service, const struct addrinfo *hints) {
  if (getaddrinfo_cb == NULL || req == NULL || loop == NULL || !uvotel_tracking()) {
    return uv_getaddrinfo(loop, req, getaddrinfo_cb, node, service, hints);
  }
  uvotel__wq_t *wq = uvotel__wq_make(loop);
  if (UVOTEL__UNLIKELY(wq == NULL)) return UV_ENOMEM;
  uvotel__gblk_t *b = gblk_get(wq);
  if (UVOTEL__UNLIKELY(b == NULL)) return UV_ENOMEM;
  b->req = req;
  b->cb = getaddrinfo_cb;
  b->span = NULL;
  int err = uv_getaddrinfo(loop, &b->inner, getaddrinfo_tramp, node, service, hints);
  if (UVOTEL__UNLIKELY(err != 0)) {
    gblk_put(wq, b);
    return err;
  }
  req->type = UV_GETADDRINFO;
  req->loop = loop;
  req->cb = getaddrinfo_cb;
  req->hints = b->inner.hints;
  req->service = b->inner.service;
  req->hostname = b->inner.hostname;
  req->addrinfo = NULL;
  req->retcode = 0;
  uvotel__rec_mark(&req->work_req, loop, wq, b, req);
  (void)uvotel_resource_init_owner(&b->res, "GETADDRINFOREQWRAP", 0, UVOTEL_RESOURCE_MANUAL_DESTROY,
                                   req);
  if (uvotel__auto_on(UVOTEL__AUTO_DNS)) b->span = uvotel__auto_lookup_start(node);
  return 0;
}

static void getnameinfo_tramp(uv_getnameinfo_t *req, int status, const char *hostname,
                              const char *service) {
  uvotel_resource_t r;
  void (*cb)(void);
  uvotel_span_t *span;
  if (UVOTEL__UNLIKELY(uvotel__req_take(req->loop, req, &r, &cb, &span) != 0)) {
    uvotel__no_state("getnameinfo");
    return;
  }
  if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_reverse_end(span, status, hostname);
  uvotel_callback_scope_t cs;
  (void)uvotel__resource_enter_held(&r, &cs); /* exit is a no-op if this failed */
  ((uv_getnameinfo_cb)cb)(req, status, hostname, service);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&r);
}

UVOTEL__API int uvotel_getnameinfo(uv_loop_t *loop, uv_getnameinfo_t *req,
                                   uv_getnameinfo_cb getnameinfo_cb, const struct sockaddr *addr,
                                   int flags) {
  if (getnameinfo_cb == NULL || req == NULL || loop == NULL || !uvotel_tracking()) {
    return uv_getnameinfo(loop, req, getnameinfo_cb, addr, flags);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_getnameinfo(loop, req, getnameinfo_tramp, addr, flags);
  err = uvotel__req_begin(s, is_new, err, req, (void (*)(void))getnameinfo_cb, "GETNAMEINFOREQWRAP",
                          0);
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_DNS)) uvotel__auto_reverse_begin(s, addr);
  return err;
}
