/* Datagrams a program sends on a wrapped UDP socket without libuv (uvotel_udp_sent, declared in
 * uvotel/uv_protocols.h). knot-resolver's kresd is the case in point: it receives queries with
 * uv_udp_recv_start but answers them in a batch, with sendmmsg(2) on uv_fileno() of the handle,
 * from a check callback; libuv (and so uvotel's uv_udp_send wrapper) never sees the answers.
 * The preload reports such sends from its libc interposers (preload/preload_sock.c); a program
 * built with the wrappers can report them itself. A datagram is treated as uvotel_udp_try_send
 * treats one: an answer ends its query's SERVER span (dns_server.c), a query starts a CLIENT
 * span (dns_client.c). Kept apart from udp.c: the one entry to the DNS code for datagrams that
 * did not go through libuv. */
#include "internal.h"
#include "uvotel/uv_protocols.h"

UVOTEL__API int uvotel_udp_sent(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                                const struct sockaddr *addr) {
  if (handle == NULL || (bufs == NULL && nbufs > 0)) return UV_EINVAL;
  if (!uvotel_tracking()) return 0;
  uvotel__hs_t *s = uvotel__hs_get(handle->loop, handle);
  int answered = 0;
  if (s != NULL && s->dns != NULL) {
    uvotel_span_t *q = uvotel__dns_send(s, bufs, nbufs, addr);
    if (q != NULL) {
      uvotel_span_end(q); /* sent already: the answered query's span ends here */
      answered = 1;
    }
  }
  /* as uvotel_udp_try_send: a query the program sends starts a CLIENT span (dns_client.c) */
  if (uvotel__auto_on(UVOTEL__AUTO_DNS)) {
    uvotel__dns_client_sent(s, handle, NULL, bufs, nbufs, addr);
  }
  return answered;
}

UVOTEL__API int uvotel_udp_send_failed(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                                       const struct sockaddr *addr, int err) {
  if (handle == NULL || (bufs == NULL && nbufs > 0) || err >= 0) return UV_EINVAL;
  if (!uvotel_tracking() || err == UV_EAGAIN || bufs == NULL) return 0;
  uvotel__hs_t *s = uvotel__hs_get(handle->loop, handle);
  if ((s == NULL || s->dns == NULL) && !uvotel__auto_on(UVOTEL__AUTO_DNS)) return 0;
  return uvotel__dns_send_failed(s, handle, bufs, nbufs, addr, err);
}
