/* Pipes (unix domain sockets, named pipes): uvotel_pipe_init, uvotel_pipe_open and
 * uvotel_pipe_connect ("PIPECONNECTWRAP"; the connecting handle becomes a "PIPEWRAP"). Listening
 * ("PIPESERVERWRAP"), accepting, reading and writing go through the stream wrappers (stream.c), as
 * for TCP. */
#include "internal.h"

UVOTEL__API int uvotel_pipe_init(uv_loop_t *loop, uv_pipe_t *handle, int ipc) {
  uvotel__forget_stale(loop, handle);
  return uv_pipe_init(loop, handle, ipc);
}

UVOTEL__API int uvotel_pipe_open(uv_pipe_t *handle, uv_file file) {
  int err = uv_pipe_open(handle, file);
  if (err != 0 || !uvotel_tracking() || handle == NULL ||
      __atomic_load_n(&uvotel__auto_cats, __ATOMIC_RELAXED) == 0) {
    return err;
  }
  /* A connected socket (a socketpair end, one inherited or passed in): offered to the
   * detectors, whichever way it turns out to go, as uvotel_tcp_open does. A pipe(2) or FIFO end
   * (not a socket) and a listening socket have no peer: left alone. An unnamed peer has a name
   * of length 0; one too long for the buffer (UV_ENOBUFS) is there all the same. */
  char name[8];
  size_t len = sizeof name;
  int perr = uv_pipe_getpeername(handle, name, &len);
  if (perr != 0 && perr != UV_ENOBUFS) return 0;
  uvotel__proto_adopt((uv_stream_t *)handle);
  return 0;
}

UVOTEL__API void uvotel_pipe_connect(uv_connect_t *req, uv_pipe_t *handle, const char *name,
                                     uv_connect_cb cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) {
    uv_pipe_connect(req, handle, name, cb);
    return;
  }
  uvotel__pair_t p;
  if (uvotel__track_pair(handle->loop, handle, req, &p) != 0) {
    /* Out of memory for the state: the connect still happens, untraced (it returns nothing
     * that could say so). */
    uv_pipe_connect(req, handle, name, cb);
    return;
  }
  uvotel__hs_t *hs = p.hs, *rs = p.rs;
  /* uv_pipe_connect reports every error through the callback (queued, never synchronously),
   * so the resources begin first, as in Node: the socket's PIPEWRAP, then the request. */
  uvotel__stream_begin(hs, (uv_stream_t *)handle, 0);
  (void)uvotel__req_begin(rs, p.r_new, 0, req, (void (*)(void))cb, "PIPECONNECTWRAP",
                          uvotel_resource_async_id(&hs->res));
  if (uvotel__auto_on(UVOTEL__AUTO_PIPE)) uvotel__auto_pipe_connect_begin(rs, name);
  if (uvotel__auto_on(UVOTEL__AUTO_HTTP)) uvotel__httpc_connect(hs, (uv_stream_t *)handle);
  uv_pipe_connect(req, handle, name, uvotel__connect_tramp);
}
