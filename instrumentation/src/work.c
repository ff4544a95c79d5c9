/* Thread-pool work: type "WORK".
 *
 * libuv runs work_cb on a pool thread, where this thread's side table cannot be read. So the
 * request libuv queues is not the user's but one inside the state (uvotel__work_t.inner): the
 * pool thread finds the state from it with container_of, reads only fields written before the
 * submission (libuv's queue mutex orders them), and never touches the table. The user's request
 * mirrors what uv_queue_work would set (loop, type, work_cb, after_work_cb), and uvotel_cancel
 * maps it onto the inner request.
 *
 * The submitter's context is captured twice: as the resource's context (after_work_cb runs
 * inside the resource, with before/after) and as a counted snapshot for work_cb, which the
 * pool thread enters borrowed (uncounted) and which the state keeps until after_work_cb has run
 * and then releases on the loop thread. work_cb raises no hook events: pool threads run
 * at their own top level (uvotel/hooks.h). */
#include <stddef.h>

#include "internal.h"

static void work_tramp(uv_work_t *inner) {
  uvotel__hs_t *s = (uvotel__hs_t *)((char *)inner - offsetof(uvotel__hs_t, u.work.inner));
  uv_work_cb cb = (uv_work_cb)s->cb;
  uv_work_t *req = s->u.work.req;
  uvotel_snapshot_t *snap = s->u.work.snap;
  uvotel_scope_t scope;
  if (uvotel_snapshot_enter(snap, &scope) == 0) {
    cb(req);
    (void)uvotel_scope_exit(&scope);
    return;
  }
  cb(req); /* no memory for the pool thread's scope stack: run at its top level */
}

static void after_tramp(uv_work_t *inner, int status) {
  uvotel__hs_t *s = (uvotel__hs_t *)((char *)inner - offsetof(uvotel__hs_t, u.work.inner));
  uv_work_t *req = s->u.work.req;
  uv_after_work_cb cb = s->u.work.after_cb;
  uvotel_snapshot_t *snap = s->u.work.snap;
  uvotel_resource_t res = s->res;
  s->res = (uvotel_resource_t){0};
  uvotel__hs_remove(s); /* before the callback: it may queue the same request again */
  if (cb != NULL) {
    uvotel_callback_scope_t cs;
    (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
    cb(req, status);
    uvotel_resource_exit(&cs);
  }
  (void)uvotel_resource_emit_destroy(&res);
  uvotel_snapshot_release(snap);
}

UVOTEL__API int uvotel_queue_work(uv_loop_t *loop, uv_work_t *req, uv_work_cb work_cb,
                                  uv_after_work_cb after_work_cb) {
  if (!uvotel_tracking() || loop == NULL || req == NULL || work_cb == NULL) {
    return uv_queue_work(loop, req, work_cb, after_work_cb);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  if (!is_new) return UV_EBUSY; /* still queued: libuv would corrupt its queue */
  /* A counted reference (a plain increment on this thread). The pool thread enters it borrowed:
   * it only reads the immutable entries, never the count. A private copy was tried and cost an
   * allocation and value retains per item for no gain: the pool thread has to fetch a cache line
   * written by this thread either way. */
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  if (snap == NULL) {
    uvotel__hs_remove(s);
    return UV_ENOMEM;
  }
  s->cb = (void (*)(void))work_cb;
  s->u.work.req = req;
  s->u.work.after_cb = after_work_cb;
  s->u.work.snap = snap;
  int err = uv_queue_work(loop, &s->u.work.inner, work_tramp, after_tramp);
  if (err) {
    uvotel_snapshot_release(snap);
    uvotel__hs_remove(s);
    return err;
  }
  req->loop = loop;
  req->type = UV_WORK;
  req->work_cb = work_cb;
  req->after_work_cb = after_work_cb;
  /* Make the mirror look like a request that left the queue, so that a raw uv_cancel on it
   * (instead of uvotel_cancel) answers UV_EBUSY instead of reading garbage. */
  req->work_req.work = NULL;
  req->work_req.done = NULL;
  req->work_req.loop = loop;
  req->work_req.wq[0] = req->work_req.wq[1] = &req->work_req.wq;
  (void)uvotel_resource_init_owner(&s->res, "WORK", 0, UVOTEL_RESOURCE_MANUAL_DESTROY, req);
  return 0;
}

UVOTEL__API int uvotel_cancel(uv_req_t *req) {
  if (uvotel_tracking() && req != NULL && req->type == UV_WORK) {
    uvotel__hs_t *s = uvotel__hs_get(((uv_work_t *)req)->loop, req);
    if (s != NULL) return uv_cancel((uv_req_t *)&s->u.work.inner);
  }
  return uv_cancel(req);
}
