/* Datagrams a program sends on a wrapped UDP socket without libuv (uvotel_udp_sent, declared in
 * uvotel/uv_protocols.h). knot-resolver's kresd is the case in point: it receives queries with
 * uv_udp_recv_start but answers them in a batch, with sendmmsg(2) on uv_fileno() of the handle,
 * from a check callback; libuv (and so uvotel's uv_udp_send wrapper) never sees the answers.
 * The preload reports such sends from its libc interposers (preload/preload_sock.c); a program
 * built with the wrappers can report them itself. Kept apart from udp.c: this is the one entry
 * to the DNS matcher (dns_server.c) for bytes that did not go through libuv. */
#include "internal.h"
#include "uvotel/uv_protocols.h"

UVOTEL__API int uvotel_udp_sent(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                                const struct sockaddr *addr) {
  if (handle == NULL || (bufs == NULL && nbufs > 0)) return UV_EINVAL;
  if (!uvotel_tracking()) return 0;
  uvotel__hs_t *s = uvotel__hs_get(handle->loop, handle);
  if (s == NULL || s->dns == NULL) return 0;
  uvotel_span_t *q = uvotel__dns_send(s, bufs, nbufs, addr);
  if (q == NULL) return 0;
  uvotel_span_end(q); /* sent already: the answer's span ends here */
  return 1;
}
