/* Signal handles: type "SIGNALWRAP". One resource from uvotel_signal_start to the stop or
 * close; before/after around each run of the callback, in the context of the start. A one-shot
 * handle's resource is destroyed after its callback (libuv stops the handle before calling it),
 * unless the callback started it again. */
#include "internal.h"

typedef struct start_args_s {
  int signum;
  int oneshot;
} start_args_t;

static void signal_tramp(uv_signal_t *h, int signum) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("signal");
    return;
  }
  uv_signal_cb cb = (uv_signal_cb)s->cb;
  uvotel_async_id_t id = uvotel_resource_async_id(&s->res);
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  cb(h, signum);
  uvotel_resource_exit(&cs);
  /* A one-shot handle its callback did not restart (nor close: a close ends it, after the
   * close callback when there is one). */
  s = uvotel__hs_get(h->loop, h);
  if (s != NULL && id != 0 && !uv_is_active((uv_handle_t *)h) && !uv_is_closing((uv_handle_t *)h) &&
      uvotel_resource_async_id(&s->res) == id) {
    uvotel__res_end(s);
  }
}

static int start_any(uv_handle_t *h, void *arg) {
  const start_args_t *a = arg;
  return a->oneshot ? uv_signal_start_oneshot((uv_signal_t *)h, signal_tramp, a->signum)
                    : uv_signal_start((uv_signal_t *)h, signal_tramp, a->signum);
}

static int stop_any(uv_handle_t *h) {
  return uv_signal_stop((uv_signal_t *)h);
}

static int signal_start(uv_signal_t *handle, uv_signal_cb signal_cb, int signum, int oneshot,
                        unsigned flags) {
  if (!uvotel_tracking() || handle == NULL || signal_cb == NULL) {
    return oneshot ? uv_signal_start_oneshot(handle, signal_cb, signum)
                   : uv_signal_start(handle, signal_cb, signum);
  }
  start_args_t a = {signum, oneshot};
  return uvotel__watch_start((uv_handle_t *)handle, (void (*)(void))signal_cb, "SIGNALWRAP",
                             start_any, &a, flags);
}

UVOTEL__API int uvotel_signal_start(uv_signal_t *handle, uv_signal_cb signal_cb, int signum) {
  return signal_start(handle, signal_cb, signum, 0, 0);
}

UVOTEL__API int uvotel_signal_start_oneshot(uv_signal_t *handle, uv_signal_cb signal_cb,
                                            int signum) {
  return signal_start(handle, signal_cb, signum, 1, 0);
}

UVOTEL__API int uvotel_implicit_signal_start(uv_signal_t *handle, uv_signal_cb signal_cb,
                                             int signum) {
  return signal_start(handle, signal_cb, signum, 0, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_implicit_signal_start_oneshot(uv_signal_t *handle, uv_signal_cb signal_cb,
                                                     int signum) {
  return signal_start(handle, signal_cb, signum, 1, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_signal_stop(uv_signal_t *handle) {
  return uvotel__watch_stop((uv_handle_t *)handle, stop_any);
}
