/* File system events: type "FSEVENTWRAP" (Node's fs.watch). One resource from
 * uvotel_fs_event_start to the stop or close; before/after around each event callback, in the
 * context of the start. */
#include "internal.h"

typedef struct start_args_s {
  const char *path;
  unsigned int flags;
} start_args_t;

static void fs_event_tramp(uv_fs_event_t *h, const char *filename, int events, int status) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("fs_event");
    return;
  }
  uv_fs_event_cb cb = (uv_fs_event_cb)s->cb;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  cb(h, filename, events, status);
  uvotel_resource_exit(&cs);
}

static int start_any(uv_handle_t *h, void *arg) {
  const start_args_t *a = arg;
  return uv_fs_event_start((uv_fs_event_t *)h, fs_event_tramp, a->path, a->flags);
}

static int stop_any(uv_handle_t *h) {
  return uv_fs_event_stop((uv_fs_event_t *)h);
}

static int fs_event_start(uv_fs_event_t *handle, uv_fs_event_cb cb, const char *path,
                          unsigned int flags, unsigned rflags) {
  if (!uvotel_tracking() || handle == NULL || cb == NULL) {
    return uv_fs_event_start(handle, cb, path, flags);
  }
  start_args_t a = {path, flags};
  return uvotel__watch_start((uv_handle_t *)handle, (void (*)(void))cb, "FSEVENTWRAP", start_any,
                             &a, rflags);
}

UVOTEL__API int uvotel_fs_event_start(uv_fs_event_t *handle, uv_fs_event_cb cb, const char *path,
                                      unsigned int flags) {
  return fs_event_start(handle, cb, path, flags, 0);
}

UVOTEL__API int uvotel_implicit_fs_event_start(uv_fs_event_t *handle, uv_fs_event_cb cb,
                                               const char *path, unsigned int flags) {
  return fs_event_start(handle, cb, path, flags, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_fs_event_stop(uv_fs_event_t *handle) {
  return uvotel__watch_stop((uv_handle_t *)handle, stop_any);
}
