/* Poll handles: type "POLLWRAP" (Node has none; libraries that bring their own sockets --
 * libcurl multi, c-ares, hiredis, libpq -- drive libuv through them).
 *
 * A poll handle is one resource from its first uvotel_poll_start (or uvotel_poll_adopt) until
 * uvotel_close: libraries start and stop their sockets' polls all the time, so a stop does not
 * end it. Each start re-captures the context its callback runs in, unless uvotel_poll_adopt
 * fixed it. */
#include "internal.h"

UVOTEL__API int uvotel_poll_init(uv_loop_t *loop, uv_poll_t *handle, int fd) {
  uvotel__forget_stale(loop, handle);
  return uv_poll_init(loop, handle, fd);
}

UVOTEL__API int uvotel_poll_init_socket(uv_loop_t *loop, uv_poll_t *handle, uv_os_sock_t socket) {
  uvotel__forget_stale(loop, handle);
  return uv_poll_init_socket(loop, handle, socket);
}

static void poll_tramp(uv_poll_t *h, int status, int events) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("poll");
    return;
  }
  uv_poll_cb cb = (uv_poll_cb)s->cb;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  cb(h, status, events);
  uvotel_resource_exit(&cs);
}

static int poll_start(uv_poll_t *handle, int events, uv_poll_cb cb, unsigned flags) {
  if (!uvotel_tracking() || handle == NULL || cb == NULL) return uv_poll_start(handle, events, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(handle->loop, handle, &is_new);
  if (s == NULL) return UV_ENOMEM;
  if (is_new) s->u.poll.adopted = 0;
  int err = uv_poll_start(handle, events, poll_tramp);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  if (s->u.poll.adopted && uvotel__res_live(s)) {
    s->cb = (void (*)(void))cb; /* the adopted context stays */
  } else {
    uvotel__handle_arm(s, handle, "POLLWRAP", (void (*)(void))cb, flags);
  }
  return 0;
}

UVOTEL__API int uvotel_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb) {
  return poll_start(handle, events, cb, 0);
}

UVOTEL__API int uvotel_implicit_poll_start(uv_poll_t *handle, int events, uv_poll_cb cb) {
  return poll_start(handle, events, cb, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

/* uv_poll_stop. The handle's resource lives on until uvotel_close. */
UVOTEL__API int uvotel_poll_stop(uv_poll_t *handle) {
  return uv_poll_stop(handle);
}

/* A new POLLWRAP in the current context (the adopted one): the socket serves a new task. */
static void *arm_in_snapshot(void *arg) {
  uvotel__hs_t *s = arg;
  uvotel__res_end(s);
  uvotel__handle_arm(s, (void *)s->key, "POLLWRAP", s->cb, 0);
  return NULL;
}

UVOTEL__API int uvotel_poll_adopt(uv_poll_t *handle, uvotel_snapshot_t *snap) {
  if (handle == NULL || handle->type != UV_POLL) return UV_EINVAL;
  if (!uvotel_tracking()) return 0; /* nothing is tracked: callbacks run as libuv calls them */
  int is_new;
  uvotel__hs_t *s = uvotel__track(handle->loop, handle, &is_new);
  if (s == NULL) return UV_ENOMEM;
  if (is_new) s->cb = NULL; /* set by the first uvotel_poll_start */
  if (snap != NULL) {
    (void)uvotel_snapshot_run(snap, arm_in_snapshot, s);
  } else {
    (void)arm_in_snapshot(s);
  }
  s->u.poll.adopted = 1;
  return 0;
}
