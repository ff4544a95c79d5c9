/* File system polling: type "STATWATCHER" (Node's fs.watchFile). One resource from
 * uvotel_fs_poll_start to the stop or close; before/after around each change callback, in the
 * context of the start. libuv's own timer and stat requests inside are not seen (libuv calls
 * itself directly). */
#include "internal.h"

typedef struct start_args_s {
  const char *path;
  unsigned int interval;
} start_args_t;

static void fs_poll_tramp(uv_fs_poll_t *h, int status, const uv_stat_t *prev,
                          const uv_stat_t *curr) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("fs_poll");
    return;
  }
  uv_fs_poll_cb cb = (uv_fs_poll_cb)s->cb;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  cb(h, status, prev, curr);
  uvotel_resource_exit(&cs);
}

static int start_any(uv_handle_t *h, void *arg) {
  const start_args_t *a = arg;
  return uv_fs_poll_start((uv_fs_poll_t *)h, fs_poll_tramp, a->path, a->interval);
}

static int stop_any(uv_handle_t *h) {
  return uv_fs_poll_stop((uv_fs_poll_t *)h);
}

static int fs_poll_start(uv_fs_poll_t *handle, uv_fs_poll_cb poll_cb, const char *path,
                         unsigned int interval, unsigned flags) {
  if (!uvotel_tracking() || handle == NULL || poll_cb == NULL) {
    return uv_fs_poll_start(handle, poll_cb, path, interval);
  }
  start_args_t a = {path, interval};
  return uvotel__watch_start((uv_handle_t *)handle, (void (*)(void))poll_cb, "STATWATCHER",
                             start_any, &a, flags);
}

UVOTEL__API int uvotel_fs_poll_start(uv_fs_poll_t *handle, uv_fs_poll_cb poll_cb, const char *path,
                                     unsigned int interval) {
  return fs_poll_start(handle, poll_cb, path, interval, 0);
}

UVOTEL__API int uvotel_implicit_fs_poll_start(uv_fs_poll_t *handle, uv_fs_poll_cb poll_cb,
                                              const char *path, unsigned int interval) {
  return fs_poll_start(handle, poll_cb, path, interval, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_fs_poll_stop(uv_fs_poll_t *handle) {
  return uvotel__watch_stop((uv_handle_t *)handle, stop_any);
}
