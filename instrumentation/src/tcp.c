/* TCP handles: uvotel_tcp_init(_ex), uvotel_tcp_open, uvotel_tcp_connect ("TCPCONNECTWRAP"; the
 * connecting handle becomes a "TCPWRAP") and uvotel_tcp_close_reset. Listening, accepting,
 * reading and writing are in stream.c. */
#include "internal.h"

void uvotel__forget_stale(const uv_loop_t *loop, const void *h) {
  /* The handle's own loop field is not set yet (or stale): the loop passed to the init. */
  if (!uvotel_tracking() || h == NULL || loop == NULL) return;
  uvotel__hs_t *s = uvotel__hs_get(loop, h);
  if (s == NULL) return;
  uvotel__res_end(s);
  uvotel__auto_drop(s);
  uvotel__proto_drop(s);
  uvotel_snapshot_release(s->close_ctx);
  uvotel__hs_remove(s);
}

UVOTEL__API int uvotel_tcp_init(uv_loop_t *loop, uv_tcp_t *handle) {
  uvotel__forget_stale(loop, handle);
  return uv_tcp_init(loop, handle);
}

UVOTEL__API int uvotel_tcp_init_ex(uv_loop_t *loop, uv_tcp_t *handle, unsigned int flags) {
  uvotel__forget_stale(loop, handle);
  return uv_tcp_init_ex(loop, handle, flags);
}

UVOTEL__API int uvotel_tcp_open(uv_tcp_t *handle, uv_os_sock_t sock) {
  int err = uv_tcp_open(handle, sock);
  if (err != 0 || !uvotel_tracking() || handle == NULL ||
      __atomic_load_n(&uvotel__auto_cats, __ATOMIC_RELAXED) == 0) {
    return err;
  }
  /* A connected socket (not a listening one): offered to the detectors, whichever way it
   * turns out to go. Nothing is raised: it becomes a resource as after uvotel_tcp_init. */
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(handle, (struct sockaddr *)&ss, &len) != 0) return 0;
  uvotel__proto_adopt((uv_stream_t *)handle);
  return 0;
}

UVOTEL__API int uvotel_tcp_close_reset(uv_tcp_t *handle, uv_close_cb close_cb) {
  if (handle == NULL) return UV_EINVAL;
  uvotel__hs_t *s = uvotel_tracking() ? uvotel__hs_get(handle->loop, handle) : NULL;
  if (s == NULL) return uv_tcp_close_reset(handle, close_cb);
  /* libuv refuses a handle that is shutting down (UV_EINVAL) before closing anything, so the
   * bookkeeping comes after a successful call (the close callback runs later, in the loop's
   * closing phase); on failure the handle and its state stay as they were. */
  int err = uv_tcp_close_reset(handle, uvotel__close_tramp);
  if (err == 0) (void)uvotel__close_begin(s, (uv_handle_t *)handle, close_cb);
  return err;
}

UVOTEL__API int uvotel_tcp_connect(uv_connect_t *req, uv_tcp_t *handle, const struct sockaddr *addr,
                                   uv_connect_cb cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) {
    return uv_tcp_connect(req, handle, addr, cb);
  }
  uvotel__pair_t p;
  if (uvotel__track_pair(handle->loop, handle, req, &p) != 0) return UV_ENOMEM;
  uvotel__hs_t *hs = p.hs, *rs = p.rs;
  int err = uv_tcp_connect(req, handle, addr, uvotel__connect_tramp);
  if (err) {
    uvotel__untrack_pair(&p);
    return err;
  }
  /* As in Node: the socket's TCPWRAP first, then the connect request triggered by it. */
  uvotel__stream_begin(hs, (uv_stream_t *)handle, 0);
  err = uvotel__req_begin(rs, p.r_new, 0, req, (void (*)(void))cb, "TCPCONNECTWRAP",
                          uvotel_resource_async_id(&hs->res));
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_NET)) uvotel__auto_connect_begin(rs, addr);
  /* DNS over TCP first: uvotel__proto_connect drops whatever the stream had before. */
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_DNS)) uvotel__proto_connect(hs);
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_HTTP))
    uvotel__httpc_connect(hs, (uv_stream_t *)handle);
  return err;
}
