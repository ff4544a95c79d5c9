/* uv_random: type "RANDOMBYTESREQUEST" (Node's crypto.randomBytes). Same lifecycle as file
 * system requests; synchronous mode (cb == NULL) passes straight through. */
#include "internal.h"

static void random_tramp(uv_random_t *req, int status, void *buf, size_t buflen) {
  uvotel_resource_t res;
  void (*cb)(void);
  uvotel_span_t *span;
  if (UVOTEL__UNLIKELY(uvotel__req_take(req->loop, req, &res, &cb, &span) != 0)) {
    uvotel__no_state("random");
    return;
  }
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
  ((uv_random_cb)cb)(req, status, buf, buflen);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&res);
}

UVOTEL__API int uvotel_random(uv_loop_t *loop, uv_random_t *req, void *buf, size_t buflen,
                              unsigned flags, uv_random_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking()) {
    return uv_random(loop, req, buf, buflen, flags, cb);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_random(loop, req, buf, buflen, flags, random_tramp);
  return uvotel__req_begin(s, is_new, err, req, (void (*)(void))cb, "RANDOMBYTESREQUEST", 0);
}
