/* DNS requests: "GETADDRINFOREQWRAP" and "GETNAMEINFOREQWRAP".
 *
 * Same lifecycle as file system requests: init when the call succeeds, before/after around the
 * callback, destroy after it; the state is freed first so the callback may reuse the request.
 * Synchronous mode (cb == NULL) passes straight through. */
#include "internal.h"

static void getaddrinfo_tramp(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  uvotel_resource_t r;
  void (*cb)(void);
  uvotel_span_t *span;
  if (UVOTEL__UNLIKELY(uvotel__req_take(req->loop, req, &r, &cb, &span) != 0)) {
    uvotel__no_state("getaddrinfo");
    uv_freeaddrinfo(res); /* nobody to hand it to */
    return;
  }
  if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_lookup_end(span, status, res);
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&r, &cs); /* exit is a no-op if this failed */
  ((uv_getaddrinfo_cb)cb)(req, status, res);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&r);
}

UVOTEL__API int uvotel_getaddrinfo(uv_loop_t *loop, uv_getaddrinfo_t *req,
                                   uv_getaddrinfo_cb getaddrinfo_cb, const char *node,
                                   const char *service, const struct addrinfo *hints) {
  if (getaddrinfo_cb == NULL || req == NULL || loop == NULL || !uvotel_tracking()) {
    return uv_getaddrinfo(loop, req, getaddrinfo_cb, node, service, hints);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_getaddrinfo(loop, req, getaddrinfo_tramp, node, service, hints);
  err = uvotel__req_begin(s, is_new, err, req, (void (*)(void))getaddrinfo_cb, "GETADDRINFOREQWRAP",
                          0);
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_DNS)) uvotel__auto_lookup_begin(s, node);
  return err;
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
  (void)uvotel_resource_enter(&r, &cs); /* exit is a no-op if this failed */
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
