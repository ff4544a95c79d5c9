/* Thread-pool work: type "WORK".
 *
 * libuv runs work_cb on a pool thread, which must not touch the loop's side table. So the
 * request libuv queues is not the user's but one inside a block (uvotel__wblk_t.inner) from the
 * loop's free list: the trampolines find the block from it with container_of, the pool thread
 * reads only fields written before the submission (libuv's queue mutex orders them), and no
 * side-table entry is made or removed per request. The user's request mirrors what
 * uv_queue_work would set (loop, type, work_cb, after_work_cb); data and every other field the
 * program may read are left alone.
 *
 * Finding the block from the user's request (uvotel_cancel, and refusing to queue a request
 * that is still queued): the request's own libuv work record (`work_req`, which uv_queue_work
 * fills and nothing but libuv reads) holds the block's address in `done` and a tag in the
 * queue link libuv reads only when it unlinks a record, `wq[1]`: address ^ request address ^
 * the loop's random secret. `work` stays NULL and `wq[0]` points at itself, so a raw
 * uv_cancel on the request, or on a byte copy of it, answers UV_EBUSY (libuv cancels only a
 * record in its queue with a work function). Not the request's `reserved` words: libuv on
 * Unix leaves them alone, so a program may keep its own values there, and
 * test_preload_work_stash checks that they survive. after_tramp clears the tag before the
 * callback (the request's memory is still the program's to free afterwards), so a tag is
 * valid only while the request is queued through uvotel; a request the program never queued
 * holds whatever its memory held, which matches a tag with probability 2^-64.
 *
 * Context. The submitter's context is captured as the resource's context (after_work_cb runs
 * inside the resource, with before/after) and, for work_cb, through a per-loop entry
 * (uvotel__wctx_t) shared by consecutive submissions in the same mapping: the first one hands
 * the pool thread the mapping itself; from the second on, the pool threads read a private copy
 * made once, which nothing writes while they read it. The submitter's mapping has its count
 * changed on every submission (capture, release, the resource's capture), so pool threads that
 * read it would fetch a line the loop thread keeps writing. The pool thread enters the
 * snapshot borrowed (uncounted); the entry's references are released on the loop thread when
 * its last request has completed. work_cb raises no hook events:
 * pool threads run at their own top level (uvotel/hooks.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define WBLK_POOL_CAP 4096 /* free blocks kept per loop; the rest go back to the allocator */
#define WCTX_POOL_CAP 64

static inline void rec_set(uv_work_t *req, uintptr_t blk, uintptr_t tag) {
  uvotel__rec_set(&req->work_req, blk, tag);
}

/* The block req is queued in on wq, or NULL (internal.h). */
static inline uvotel__wblk_t *blk_of(const uvotel__wq_t *wq, const uv_work_t *req) {
  return uvotel__rec_blk(wq, &req->work_req, req);
}

/* ---- context entries ---- */

static void wctx_free(uvotel__wq_t *wq, uvotel__wctx_t *c) {
  uvotel_snapshot_release(c->copy);
  uvotel_snapshot_release(c->src);
  if (wq->ctx_free_n < WCTX_POOL_CAP) {
    c->next_free = wq->ctx_free;
    wq->ctx_free = c;
    wq->ctx_free_n++;
  } else {
    uvotel_free(c);
  }
}

/* The snapshot work_cb runs in for a submission now; the block's entry is set and counted.
 * UV_ENOMEM: out of memory (nothing changed). */
static int wctx_take(uvotel__wq_t *wq, uvotel__wblk_t *b) {
  uvotel_snapshot_t *m = uvotel_snapshot_capture();
  if (UVOTEL__UNLIKELY(m == NULL)) return UV_ENOMEM;
  uvotel__wctx_t *c = wq->cur;
  if (UVOTEL__LIKELY(c != NULL && c->src == m)) {
    uvotel_snapshot_release(m); /* the entry already holds one */
    if (c->copy == NULL) {
      /* The second submission in this mapping: from now on the pool threads read a copy that
       * nothing writes. Without memory for it they go on reading the mapping itself. */
      c->copy = uvotel_snapshot_capture_handover();
    }
  } else {
    c = wq->ctx_free;
    if (c != NULL) {
      wq->ctx_free = c->next_free;
      wq->ctx_free_n--;
    } else {
      c = uvotel_malloc(sizeof *c);
      if (c == NULL) {
        uvotel_snapshot_release(m);
        return UV_ENOMEM;
      }
    }
    c->src = m;
    c->copy = NULL;
    c->users = 0;
    uvotel__wctx_t *old = wq->cur;
    wq->cur = c;
    if (old != NULL && old->users == 0) wctx_free(wq, old);
  }
  c->users++;
  b->ctx = c;
  b->snap = c->copy != NULL ? c->copy : c->src;
  return 0;
}

/* A request of the entry completed. The last one frees it, current or not, so that nothing
 * keeps the context's values alive once the work is done. */
static void wctx_done(uvotel__wq_t *wq, uvotel__wctx_t *c) {
  if (--c->users != 0) return;
  if (c == wq->cur) wq->cur = NULL;
  wctx_free(wq, c);
}

/* ---- blocks ---- */

static uvotel__wblk_t *blk_get(uvotel__wq_t *wq) {
  int fresh;
  uvotel__wblk_t *b = uvotel__blk_get(wq, &wq->free, sizeof *b, &fresh);
  if (b != NULL && fresh) b->wq = wq;
  return b;
}

static void blk_put(uvotel__wq_t *wq, uvotel__wblk_t *b) {
  uvotel__blk_put(wq, &wq->free, b, WBLK_POOL_CAP);
}

void uvotel__wq_free(uvotel__wq_t *wq) {
  /* Detached: nothing is in flight (uvotel_loop_close refuses while requests are active). */
  if (wq->cur != NULL) {
    uvotel__wctx_t *c = wq->cur;
    wq->cur = NULL;
    uvotel_snapshot_release(c->copy);
    uvotel_snapshot_release(c->src);
    uvotel_free(c);
  }
  while (wq->ctx_free != NULL) {
    uvotel__wctx_t *c = wq->ctx_free;
    wq->ctx_free = c->next_free;
    uvotel_free(c);
  }
  wq->ctx_free_n = 0;
  uvotel__blk_drain(&wq->free);
  uvotel__blk_drain(&wq->gai_free);
}

/* ---- trampolines ---- */

static void work_tramp(uv_work_t *inner) {
  uvotel__wblk_t *b = (uvotel__wblk_t *)((char *)inner - offsetof(uvotel__wblk_t, inner));
  uv_work_cb cb = b->work_cb;
  uv_work_t *req = b->req;
  uvotel_scope_t scope;
  if (uvotel_snapshot_enter(b->snap, &scope) == 0) {
    cb(req);
    (void)uvotel_scope_exit(&scope);
    return;
  }
  cb(req); /* no memory for the pool thread's scope stack: run at its top level */
}

static void after_tramp(uv_work_t *inner, int status) {
  uvotel__wblk_t *b = (uvotel__wblk_t *)((char *)inner - offsetof(uvotel__wblk_t, inner));
  uvotel__wq_t *wq = b->wq;
  uv_work_t *req = b->req;
  uv_after_work_cb cb = b->after_cb;
  uvotel_resource_t res = b->res;
  uvotel__wctx_t *ctx = b->ctx;
  /* The request is no longer queued: the callback may queue it again or free it. */
  rec_set(req, 0, 0);
  blk_put(wq, b);
  if (cb != NULL) {
    uvotel_callback_scope_t cs;
    (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
    cb(req, status);
    uvotel_resource_exit(&cs);
  }
  (void)uvotel_resource_emit_destroy(&res);
  wctx_done(wq, ctx);
}

UVOTEL__API int uvotel_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                                  uv_after_work_cb after_work_cb) {
  if (!uvotel_tracking() || loop == NULL || req == NULL || work_cb == NULL) {
    return uv_queue_work(loop, req, work_cb, after_work_cb);
  }
  uvotel__wq_t *wq = uvotel__wq_make(loop);
  if (UVOTEL__UNLIKELY(wq == NULL)) return UV_ENOMEM;
  if (UVOTEL__UNLIKELY(blk_of(wq, req) != NULL))
    return UV_EBUSY; /* libuv would corrupt its queue */
  uvotel__wblk_t *b = blk_get(wq);
  if (UVOTEL__UNLIKELY(b == NULL)) return UV_ENOMEM;
  if (UVOTEL__UNLIKELY(wctx_take(wq, b) != 0)) {
    blk_put(wq, b);
    return UV_ENOMEM;
  }
  b->req = req;
  b->work_cb = work_cb;
  b->after_cb = after_work_cb;
  /* The mirror, before the submission as uv_queue_work does it: work_cb on the pool thread may
   * read these (libuv's queue mutex orders the writes before it). */
  req->loop = loop;
  req->type = UV_WORK;
  req->work_cb = work_cb;
  req->after_work_cb = after_work_cb;
  /* The mirror's record: no work function, a loop and an empty queue, so that a raw uv_cancel
   * on it (instead of uvotel_cancel) answers UV_EBUSY instead of reading garbage; and the tag. */
  uvotel__rec_mark(&req->work_req, loop, wq, b, req);
  int err = uv_queue_work(loop, &b->inner, work_tramp, after_tramp);
  if (UVOTEL__UNLIKELY(err != 0)) {
    /* (libuv refuses only a NULL work_cb, and work_tramp is not: not reached in practice) */
    rec_set(req, 0, 0);
    wctx_done(wq, b->ctx);
    blk_put(wq, b);
    return err;
  }
  (void)uvotel_resource_init_owner(&b->res, "WORK", 0, UVOTEL_RESOURCE_MANUAL_DESTROY, req);
  return 0;
}

UVOTEL__API int uvotel_cancel(uv_req_t *req) {
  if (uvotel_tracking() && req != NULL && req->type == UV_GETADDRINFO) {
    return uvotel__gai_cancel((uv_getaddrinfo_t *)req);
  }
  if (uvotel_tracking() && req != NULL && req->type == UV_WORK) {
    uv_work_t *w = (uv_work_t *)req;
    uvotel__wq_t *wq = uvotel__wq_get(w->loop);
    uvotel__wblk_t *b = wq != NULL ? blk_of(wq, w) : NULL;
    if (b != NULL) return uv_cancel((uv_req_t *)&b->inner);
  }
  return uv_cancel(req);
}
