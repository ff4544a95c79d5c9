/* TCP handles: uvotel_tcp_init and uvotel_tcp_connect ("TCPCONNECTWRAP"; the connecting handle
 * becomes a "TCPWRAP"). Listening, accepting, reading and writing are in stream.c. */
#include "internal.h"

UVOTEL__API int uvotel_tcp_init(uv_loop_t *loop, uv_tcp_t *handle) {
  if (uvotel_tracking() && handle != NULL) {
    /* Memory reused after a raw uv_close: forget what the previous handle left behind. */
    uvotel__hs_t *s = loop != NULL ? uvotel__hs_get(loop, handle) : NULL;
    if (s != NULL) {
      uvotel__res_end(s);
      uvotel__auto_drop(s);
      uvotel__proto_drop(s);
      uvotel_snapshot_release(s->close_ctx);
      uvotel__hs_remove(s);
    }
  }
  return uv_tcp_init(loop, handle);
}

UVOTEL__API int uvotel_tcp_connect(uv_connect_t *req, uv_tcp_t *handle, const struct sockaddr *addr,
                                   uv_connect_cb cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) {
    return uv_tcp_connect(req, handle, addr, cb);
  }
  int h_new, r_new;
  uvotel__hs_t *hs = uvotel__track(handle->loop, handle, &h_new);
  if (hs == NULL) return UV_ENOMEM;
  uvotel__hs_t *rs = uvotel__hs_add(handle->loop, req, &r_new);
  if (rs == NULL) {
    if (h_new) uvotel__hs_remove(hs);
    return UV_ENOMEM;
  }
  int err = uv_tcp_connect(req, handle, addr, uvotel__connect_tramp);
  if (err) {
    if (r_new) uvotel__hs_remove(rs);
    if (h_new) uvotel__hs_remove(hs);
    return err;
  }
  /* As in Node: the socket's TCPWRAP first, then the connect request triggered by it. */
  uvotel__stream_begin(hs, (uv_stream_t *)handle, 0);
  err = uvotel__req_begin(rs, r_new, 0, req, (void (*)(void))cb, "TCPCONNECTWRAP",
                          uvotel_resource_async_id(&hs->res));
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_NET)) uvotel__auto_connect_begin(rs, addr);
  return err;
}
