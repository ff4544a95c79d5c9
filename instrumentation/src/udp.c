/* UDP: the handle is a "UDPWRAP" from the first wrapper that sees it (receive start, send)
 * until uvotel_close; its receive callback runs inside it, in the context of the latest
 * uvotel_udp_recv_start. Each uvotel_udp_send is a "UDPSENDWRAP" request triggered by the
 * handle's resource, destroyed after its callback (which runs in the context of the send).
 * With category dns on, a DNS query sent (uvotel_udp_send / uvotel_udp_try_send) starts a
 * CLIENT span that the response received on the socket ends (dns_client.c). */
#include "internal.h"

UVOTEL__API int uvotel_udp_init(uv_loop_t *loop, uv_udp_t *handle) {
  uvotel__forget_stale(loop, handle);
  return uv_udp_init(loop, handle);
}

UVOTEL__API int uvotel_udp_init_ex(uv_loop_t *loop, uv_udp_t *handle, unsigned int flags) {
  uvotel__forget_stale(loop, handle);
  return uv_udp_init_ex(loop, handle, flags);
}

/* Synchronous in libuv: nothing to raise. */
UVOTEL__API int uvotel_udp_connect(uv_udp_t *handle, const struct sockaddr *addr) {
  return uv_udp_connect(handle, addr);
}

/* Synchronous: passes through and raises nothing (as uvotel_try_write). */
UVOTEL__API int uvotel_udp_try_send(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                                    const struct sockaddr *addr) {
  int r = uv_udp_try_send(handle, bufs, nbufs, addr);
  if (r >= 0 && uvotel_tracking() && handle != NULL) {
    uvotel__hs_t *s = uvotel__hs_get(handle->loop, handle);
    if (UVOTEL__UNLIKELY(s != NULL && s->dns != NULL)) {
      uvotel_span_t *q = uvotel__dns_send(s, bufs, nbufs, addr);
      if (q != NULL) uvotel_span_end(q);
    }
    if (uvotel__auto_on(UVOTEL__AUTO_DNS))
      uvotel__dns_client_sent(s, handle, NULL, bufs, nbufs, addr);
  } else if (UVOTEL__UNLIKELY(r < 0) && r != UV_EAGAIN && uvotel_tracking() && handle != NULL) {
    /* Failed (EAGAIN aside: the program may still send it with uv_udp_send). */
    uvotel__hs_t *s = uvotel__hs_get(handle->loop, handle);
    if ((s != NULL && s->dns != NULL) || uvotel__auto_on(UVOTEL__AUTO_DNS))
      (void)uvotel__dns_send_failed(s, handle, bufs, nbufs, addr, r);
  }
  return r;
}

static void udpwrap_begin(uvotel__hs_t *s, uv_udp_t *h) {
  if (uvotel__res_live(s)) return;
  (void)uvotel_resource_init_owner(&s->res, "UDPWRAP", 0, UVOTEL_RESOURCE_MANUAL_DESTROY, h);
}

static void recv_tramp(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("udp recv");
    return;
  }
  uv_udp_recv_cb cb = (uv_udp_recv_cb)s->cb;
  if (nread == 0 && addr == NULL) {
    /* "Nothing more to read" / buffer return (also UV_UDP_MMSG_FREE): not an event. Node makes
     * no callback for it; here it runs outside the resource, as alloc_cb does. */
    cb(h, nread, buf, addr, flags);
    return;
  }
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  uvotel_span_t *q = NULL;
  uvotel_scope_t qs;
  if (UVOTEL__UNLIKELY(uvotel__auto_on(UVOTEL__AUTO_DNS)) && nread > 0 && buf != NULL &&
      !(flags & UV_UDP_PARTIAL)) {
    q = uvotel__dns_recv(s, h, buf->base, (size_t)nread, addr);
    if (q != NULL && uvotel_span_enter(q, &qs) != 0) q = NULL;
  } else if (UVOTEL__UNLIKELY(nread < 0 && s->dns != NULL)) {
    uvotel__dns_client_recv_error(s, (int)nread); /* ECONNREFUSED on a connected socket */
  }
  cb(h, nread, buf, addr, flags);
  if (q != NULL) (void)uvotel_scope_exit(&qs);
  uvotel_resource_exit(&cs);
}

UVOTEL__API int uvotel_udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb,
                                      uv_udp_recv_cb recv_cb) {
  if (!uvotel_tracking() || handle == NULL || recv_cb == NULL) {
    return uv_udp_recv_start(handle, alloc_cb, recv_cb);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(handle->loop, handle, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_udp_recv_start(handle, alloc_cb, recv_tramp);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  uvotel__handle_arm(s, handle, "UDPWRAP", (void (*)(void))recv_cb, 0);
  return 0;
}

/* uv_udp_recv_stop. The handle's resource lives on until uvotel_close. */
UVOTEL__API int uvotel_udp_recv_stop(uv_udp_t *handle) {
  return uv_udp_recv_stop(handle);
}

static void send_tramp(uv_udp_send_t *req, int status) {
  uvotel_resource_t res;
  void (*cb)(void);
  uvotel_span_t *span;
  if (UVOTEL__UNLIKELY(uvotel__req_take(req->handle->loop, req, &res, &cb, &span) != 0)) {
    uvotel__no_state("udp send");
    return;
  }
  if (UVOTEL__UNLIKELY(span != NULL)) {
    uvotel__auto_status_end(span, status);
    if (__atomic_load_n(&uvotel__dns_held, __ATOMIC_RELAXED) != 0)
      uvotel__dns_send_done(req->handle, req, status); /* a query span held beside it */
  }
  if (UVOTEL__UNLIKELY(status < 0)) uvotel__dns_client_send_failed(req->handle, req, status);
  if (cb != NULL) {
    uvotel_callback_scope_t cs;
    (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
    ((uv_udp_send_cb)cb)(req, status);
    uvotel_resource_exit(&cs);
  }
  (void)uvotel_resource_emit_destroy(&res);
}

UVOTEL__API int uvotel_udp_send(uv_udp_send_t *req, uv_udp_t *handle, const uv_buf_t bufs[],
                                unsigned int nbufs, const struct sockaddr *addr,
                                uv_udp_send_cb send_cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) {
    return uv_udp_send(req, handle, bufs, nbufs, addr, send_cb);
  }
  uvotel__pair_t p;
  if (uvotel__track_pair(handle->loop, handle, req, &p) != 0) return UV_ENOMEM;
  uvotel__hs_t *hs = p.hs, *rs = p.rs;
  int err = uv_udp_send(req, handle, bufs, nbufs, addr, send_tramp);
  if (err) {
    /* Refused at once: a DNS response or query it carried still ends, with the error. */
    if (UVOTEL__UNLIKELY(hs->dns != NULL || uvotel__auto_on(UVOTEL__AUTO_DNS)))
      (void)uvotel__dns_send_failed(hs, handle, bufs, nbufs, addr, err);
    uvotel__untrack_pair(&p);
    return err;
  }
  udpwrap_begin(hs, handle);
  err = uvotel__req_begin(rs, p.r_new, 0, req, (void (*)(void))send_cb, "UDPSENDWRAP",
                          uvotel_resource_async_id(&hs->res));
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_UDP)) uvotel__auto_udp_send_begin(rs, handle, addr);
  if (err == 0 && UVOTEL__UNLIKELY(hs->dns != NULL)) {
    uvotel_span_t *q = uvotel__dns_send(hs, bufs, nbufs, addr);
    if (q != NULL && rs->span == NULL) {
      rs->span = q; /* ended with the send */
    } else if (q != NULL) {
      uvotel__dns_send_hold(hs, q, req); /* the send has its own "udp send" span */
    }
  }
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_DNS)) {
    uvotel__dns_client_sent(hs, handle, req, bufs, nbufs, addr); /* a query: a CLIENT span */
  }
  return err;
}
