/* Timers ("Timeout"), check handles ("Immediate"), idle handles ("IDLE"), prepare handles
 * ("PREPARE") and uvotel_close. */
#include "internal.h"

/* ---- reaching a firing handle's state without a lookup ----
 * While a callback of this file runs, its handle and state are kept in two thread-locals, so
 * the callback's own stop/re-start of its handle (the setImmediate and re-armed-timer pattern)
 * finds the state without a side-table lookup. The state cannot go away while its callback
 * runs: a handle's state is removed when it is closed (close_tramp, which libuv runs later, from
 * its closing phase), when its start failed (never this handle: it is started), or when its
 * loop is detached (refused while the handle is open). Nothing is written into the handle:
 * programs do use its u.reserved words as extra data pointers. */
static UVOTEL__TLS const void *g_fire_h; /* the handle whose callback runs on this thread */
static UVOTEL__TLS uvotel__hs_t *g_fire_s;

/* libuv's handle flags (src/uv-common.h, the same in every libuv 1.x; hooks.c reads
 * UV_HANDLE_INTERNAL the same way): read inline instead of two calls into libuv per callback. */
#define UVOTEL__UV_CLOSING 0x01u
#define UVOTEL__UV_CLOSED 0x02u
#define UVOTEL__UV_ACTIVE 0x04u

/* Track h: attach its loop, find or make its state. NULL: out of memory. */
static uvotel__hs_t *track(uv_handle_t *h, int *is_new) {
  /* its own callback stops or starts it: no lookup; a handle started before: found (the inline
   * last-lookup check first), not added */
  uvotel__hs_t *s = h == g_fire_h ? g_fire_s : uvotel__hs_get(h->loop, h);
  if (s != NULL) {
    *is_new = 0;
    return s;
  }
  return uvotel__hs_add(h->loop, h, is_new);
}

/* The state of a tracked handle, NULL when it has none. */
static inline uvotel__hs_t *find(uv_handle_t *h) {
  return h == g_fire_h ? g_fire_s : uvotel__hs_get(h->loop, h);
}

static void untrack_if_new(uvotel__hs_t *s, int is_new) {
  if (is_new) uvotel__hs_remove(s);
}

/* ---- timers ---- */

static void timer_tramp(uv_timer_t *h) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("timer");
    return;
  }
  uv_timer_cb cb = (uv_timer_cb)s->cb;
  uvotel_async_id_t id = uvotel_resource_async_id(&s->res);
  const void *prev_h = g_fire_h;
  uvotel__hs_t *prev_s = g_fire_s;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  g_fire_h = h;
  g_fire_s = s;
  cb(h);
  g_fire_h = prev_h;
  g_fire_s = prev_s;
  uvotel_resource_exit(&cs);
  /* A one-shot timer that its callback did not re-arm (nor stop or close, which end the
   * resource themselves) is done. A repeating or re-armed one continues. */
  if (id != 0 && (h->flags & (UVOTEL__UV_ACTIVE | UVOTEL__UV_CLOSING | UVOTEL__UV_CLOSED)) == 0 &&
      uvotel_resource_async_id(&s->res) == id) {
    uvotel__res_end(s);
  }
}

static int timer_begin(uvotel__hs_t *s, uv_timer_t *h) {
  return uvotel_resource_init_owner(&s->res, "Timeout", 0, UVOTEL_RESOURCE_MANUAL_DESTROY, h);
}

/* Everything but a re-arm from its own callback (uvotel_timer_start). */
static __attribute__((noinline)) int timer_start_other(uv_timer_t *handle, uv_timer_cb cb,
                                                       uint64_t timeout, uint64_t repeat) {
  if (handle == NULL) return UV_EINVAL;
  if (!uvotel_tracking() || cb == NULL) {
    return uv_timer_start(handle, cb, timeout, repeat);
  }
  int is_new;
  uvotel__hs_t *s = track((uv_handle_t *)handle, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_timer_start(handle, timer_tramp, timeout, repeat);
  if (err) {
    untrack_if_new(s, is_new);
    return err;
  }
  s->cb = (void (*)(void))cb;
  uvotel__res_end(s); /* restarting a running timer from elsewhere ends its resource */
  (void)timer_begin(s, handle);
  return 0;
}

UVOTEL__API int uvotel_timer_start(uv_timer_t *handle, uv_timer_cb cb, uint64_t timeout,
                                   uint64_t repeat) {
  /* Re-armed from its own callback: the same Timeout goes on (Node's timeout.refresh()), in the
   * context current now. The hottest path of all: nothing to look up or attach, and the rest is
   * out of line so this path saves no registers it does not use. (g_fire_h is NULL or a
   * handle whose trampoline runs, so tracking is on when it matches.) */
  if (!uvotel_tracking())
    return handle != NULL ? uv_timer_start(handle, cb, timeout, repeat) : UV_EINVAL;
  if ((const void *)handle == g_fire_h && handle != NULL && cb != NULL &&
      uvotel__res_live(g_fire_s)) {
    uvotel__hs_t *s = g_fire_s;
    int err = uv_timer_start(handle, timer_tramp, timeout, repeat);
    if (UVOTEL__LIKELY(err == 0)) {
      s->cb = (void (*)(void))cb;
      (void)uvotel_resource_recapture(&s->res);
    }
    return err;
  }
  return timer_start_other(handle, cb, timeout, repeat);
}

UVOTEL__API int uvotel_timer_stop(uv_timer_t *handle) {
  if (handle == NULL) return UV_EINVAL;
  uvotel__hs_t *s = uvotel_tracking() ? find((uv_handle_t *)handle) : NULL;
  int err = uv_timer_stop(handle);
  if (s != NULL) uvotel__res_end(s);
  return err;
}

UVOTEL__API int uvotel_timer_again(uv_timer_t *handle) {
  if (handle == NULL) return UV_EINVAL;
  uvotel__hs_t *s = uvotel_tracking() ? uvotel__hs_get(handle->loop, handle) : NULL;
  int err = uv_timer_again(handle);
  /* Restarting a stopped repeating timer begins a new resource; a running one keeps its own. */
  if (err == 0 && s != NULL && !uvotel__res_live(s) && uv_is_active((uv_handle_t *)handle)) {
    (void)timer_begin(s, handle);
  }
  return err;
}

/* ---- check and idle handles ---- */

/* Check and idle callbacks share one shape: cb(handle). */
static void watcher_run(uv_handle_t *h) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("check/idle");
    return;
  }
  void (*cb)(uv_handle_t *) = (void (*)(uv_handle_t *))s->cb;
  const void *prev_h = g_fire_h;
  uvotel__hs_t *prev_s = g_fire_s;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  g_fire_h = h;
  g_fire_s = s;
  cb(h);
  g_fire_h = prev_h;
  g_fire_s = prev_s;
  uvotel_resource_exit(&cs);
}

static void check_tramp(uv_check_t *h) {
  /* Destroys come before user check callbacks, whatever order libuv runs check handles in.
   * (The pending count is read inline: every other Immediate of a chain finds none.) */
  if (uvotel__hot()->dq_n != 0) uvotel_flush_destroys();
  watcher_run((uv_handle_t *)h);
}

static void idle_tramp(uv_idle_t *h) {
  watcher_run((uv_handle_t *)h);
}

/* Stopping a check or idle handle ends its resource. Inlined into each kind's stop and start
 * (always_inline: the stop and start functions are constants there, called directly). */
static inline __attribute__((always_inline)) int watcher_stop(uv_handle_t *h,
                                                              int (*stop)(uv_handle_t *)) {
  if (h == NULL) return UV_EINVAL;
  if (!uvotel_tracking()) return stop(h);
  uvotel__hs_t *s = find(h);
  int err = stop(h);
  if (s != NULL) uvotel__res_end(s);
  return err;
}

static int check_stop_any(uv_handle_t *h) {
  return uv_check_stop((uv_check_t *)h);
}

static int idle_stop_any(uv_handle_t *h) {
  return uv_idle_stop((uv_idle_t *)h);
}

/* uv_check_start and uv_idle_start share one shape: start(handle, cb). */
static inline __attribute__((always_inline)) int watcher_start(
    uv_handle_t *h, void (*cb)(void), const char *type, int (*start)(uv_handle_t *, void (*)(void)),
    void (*tramp)(void), unsigned flags) {
  /* libuv: starting a started watcher is a no-op (uv_is_active, read inline) */
  if (h->flags & UVOTEL__UV_ACTIVE) return 0;
  int is_new;
  uvotel__hs_t *s = track(h, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = start(h, tramp);
  if (err) {
    untrack_if_new(s, is_new);
    return err;
  }
  uvotel__res_end(s);
  s->cb = cb;
  (void)uvotel_resource_init_owner(&s->res, type, 0, UVOTEL_RESOURCE_MANUAL_DESTROY | flags, h);
  return 0;
}

static int check_start_any(uv_handle_t *h, void (*cb)(void)) {
  return uv_check_start((uv_check_t *)h, (uv_check_cb)cb);
}

static int idle_start_any(uv_handle_t *h, void (*cb)(void)) {
  return uv_idle_start((uv_idle_t *)h, (uv_idle_cb)cb);
}

static __attribute__((noinline)) int check_start_tracked(uv_check_t *handle, uv_check_cb cb,
                                                         unsigned flags) {
  return watcher_start((uv_handle_t *)handle, (void (*)(void))cb, "Immediate", check_start_any,
                       (void (*)(void))check_tramp, flags);
}

/* The pass-through (nothing tracked yet) stays a tail call. */
static inline int check_start(uv_check_t *handle, uv_check_cb cb, unsigned flags) {
  if (handle == NULL) return UV_EINVAL;
  if (!uvotel_tracking() || cb == NULL) return uv_check_start(handle, cb);
  return check_start_tracked(handle, cb, flags);
}

UVOTEL__API int uvotel_check_start(uv_check_t *handle, uv_check_cb cb) {
  return check_start(handle, cb, 0);
}

UVOTEL__API int uvotel_implicit_check_start(uv_check_t *handle, uv_check_cb cb) {
  return check_start(handle, cb, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_check_stop(uv_check_t *handle) {
  return watcher_stop((uv_handle_t *)handle, check_stop_any);
}

static __attribute__((noinline)) int idle_start_tracked(uv_idle_t *handle, uv_idle_cb cb,
                                                        unsigned flags) {
  return watcher_start((uv_handle_t *)handle, (void (*)(void))cb, "IDLE", idle_start_any,
                       (void (*)(void))idle_tramp, flags);
}

/* The pass-through (nothing tracked yet) stays a tail call. */
static inline int idle_start(uv_idle_t *handle, uv_idle_cb cb, unsigned flags) {
  if (handle == NULL) return UV_EINVAL;
  if (!uvotel_tracking() || cb == NULL) return uv_idle_start(handle, cb);
  return idle_start_tracked(handle, cb, flags);
}

UVOTEL__API int uvotel_idle_start(uv_idle_t *handle, uv_idle_cb cb) {
  return idle_start(handle, cb, 0);
}

UVOTEL__API int uvotel_implicit_idle_start(uv_idle_t *handle, uv_idle_cb cb) {
  return idle_start(handle, cb, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_idle_stop(uv_idle_t *handle) {
  return watcher_stop((uv_handle_t *)handle, idle_stop_any);
}

/* Prepare handles: type "PREPARE" (Node has none), the same lifecycle as idle handles. */
static void prepare_tramp(uv_prepare_t *h) {
  watcher_run((uv_handle_t *)h);
}

static int prepare_stop_any(uv_handle_t *h) {
  return uv_prepare_stop((uv_prepare_t *)h);
}

static int prepare_start_any(uv_handle_t *h, void (*cb)(void)) {
  return uv_prepare_start((uv_prepare_t *)h, (uv_prepare_cb)cb);
}

static __attribute__((noinline)) int prepare_start_tracked(uv_prepare_t *handle, uv_prepare_cb cb,
                                                           unsigned flags) {
  return watcher_start((uv_handle_t *)handle, (void (*)(void))cb, "PREPARE", prepare_start_any,
                       (void (*)(void))prepare_tramp, flags);
}

/* The pass-through (nothing tracked yet) stays a tail call. */
static inline int prepare_start(uv_prepare_t *handle, uv_prepare_cb cb, unsigned flags) {
  if (handle == NULL) return UV_EINVAL;
  if (!uvotel_tracking() || cb == NULL) return uv_prepare_start(handle, cb);
  return prepare_start_tracked(handle, cb, flags);
}

UVOTEL__API int uvotel_prepare_start(uv_prepare_t *handle, uv_prepare_cb cb) {
  return prepare_start(handle, cb, 0);
}

UVOTEL__API int uvotel_implicit_prepare_start(uv_prepare_t *handle, uv_prepare_cb cb) {
  return prepare_start(handle, cb, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_prepare_stop(uv_prepare_t *handle) {
  return watcher_stop((uv_handle_t *)handle, prepare_stop_any);
}

/* ---- close ---- */

typedef struct close_call_s {
  uv_close_cb cb;
  uv_handle_t *h;
} close_call_t;

static void *run_close_cb(void *arg) {
  close_call_t *c = arg;
  c->cb(c->h);
  return NULL;
}

static void close_tramp(uv_handle_t *h) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("close");
    return;
  }
  close_call_t call = {s->close_cb, h};
  uvotel_snapshot_t *ctx = s->close_ctx;
  uvotel_resource_t res = s->res; /* live only when there is a close callback to run in it */
  s->res = (uvotel_resource_t){0};
  uvotel__writes_free(s); /* a stream's: libuv completed its writes before this */
  /* Free the state first: the user's close callback usually frees the handle's memory, and a
   * new handle at the same address must start clean. */
  uvotel__hs_remove(s);
  if (call.cb != NULL) {
    /* As Node's HandleWrap::OnClose: the close callback runs inside the handle's own resource
     * (before/after), in the context of the uvotel_close call; destroy follows. */
    uvotel_callback_scope_t cs;
    int in = uvotel_resource_async_id(&res) != 0 && uvotel_resource_enter(&res, &cs) == 0;
    if (ctx != NULL) {
      (void)uvotel_snapshot_run(ctx, run_close_cb, &call);
    } else {
      call.cb(h); /* capture failed for memory: run it in the current context */
    }
    if (in) uvotel_resource_exit(&cs);
  }
  if (uvotel_resource_async_id(&res) != 0) (void)uvotel_resource_emit_destroy(&res);
  uvotel_snapshot_release(ctx);
}

void (*const uvotel__close_tramp)(uv_handle_t *) = close_tramp;

UVOTEL__API void uvotel_close(uv_handle_t *handle, uv_close_cb close_cb) {
  if (handle == NULL) return;
  uvotel__hs_t *s = uvotel_tracking() ? uvotel__hs_get(handle->loop, handle) : NULL;
  if (s == NULL) {
    uv_close(handle, close_cb);
    return;
  }
  uv_close(handle, uvotel__close_begin(s, handle, close_cb));
}

uv_close_cb uvotel__close_begin(uvotel__hs_t *s, uv_handle_t *handle, uv_close_cb close_cb) {
  if (handle->type == UV_ASYNC) uvotel__async_forget(s);
  /* With a close callback the resource lives on until it has run inside it (close_tramp). */
  if (close_cb == NULL) uvotel__res_end(s);
  uvotel__auto_drop(s);
  uvotel__proto_drop(s);
  s->close_cb = close_cb;
  s->close_ctx = close_cb != NULL ? uvotel_snapshot_capture() : NULL;
  return close_tramp;
}

/* ---- loop close, for uv_redirect.h ---- */

UVOTEL__API int uvotel_uv_loop_close(uv_loop_t *loop) {
  /* UV_EBUSY: the program still has something in the loop; uv_loop_close would say the same,
   * and neither changed anything. UVOTEL_ENOENT: never attached. */
  if (loop != NULL && uvotel_loop_close(loop) == UV_EBUSY) return UV_EBUSY;
  return uv_loop_close(loop);
}
