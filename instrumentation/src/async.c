/* Cross-thread wake-ups: type "ASYNC".
 *
 * An async handle is one resource from uvotel_async_init to uvotel_close; before/after around
 * each run of its callback. uvotel_async_send may be called from any thread, where the loop
 * thread's side table cannot be read, so each tracked handle also has a slot in a small
 * process-wide registry (open addressing over a static array, lock-free: keys and pending
 * snapshots are swapped with atomics). A sender that finds the slot's pending snapshot empty
 * stores a handover capture of its context there; later senders whose sends coalesce into the
 * same callback find it full and capture nothing. The callback takes the snapshot out and runs
 * in it: the context of the first sender since the previous callback. A callback that finds no
 * snapshot (the send raced with the previous callback, or the registry was full) runs in the
 * context captured at uvotel_async_init. */
#include "internal.h"

#define REG_CAP 1024u /* handles tracked at once; beyond it sends carry no context */
#define TOMB ((const void *)1)

typedef struct slot_s {
  const void *key;            /* NULL: never used; TOMB: freed */
  uvotel_snapshot_t *pending; /* first sender's context since the last callback */
  int root;                   /* implicit handle: callbacks run in the root context, no capture */
} slot_t;

static slot_t g_reg[REG_CAP];

static inline size_t reg_home(const void *key) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (REG_CAP - 1);
}

static slot_t *reg_find(const void *key) {
  size_t i = reg_home(key);
  for (size_t n = 0; n < REG_CAP; n++, i = (i + 1) & (REG_CAP - 1)) {
    const void *k = __atomic_load_n(&g_reg[i].key, __ATOMIC_ACQUIRE);
    if (k == key) return &g_reg[i];
    if (k == NULL) return NULL;
  }
  return NULL;
}

static slot_t *reg_insert(const void *key) {
  slot_t *sl = reg_find(key);
  if (sl != NULL) return sl;
  size_t i = reg_home(key);
  for (size_t n = 0; n < REG_CAP; n++, i = (i + 1) & (REG_CAP - 1)) {
    const void *k = __atomic_load_n(&g_reg[i].key, __ATOMIC_ACQUIRE);
    if (k != NULL && k != TOMB) continue;
    /* Loops on other threads insert too: claim the slot with a CAS. */
    if (__atomic_compare_exchange_n(&g_reg[i].key, &k, key, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
      return &g_reg[i];
    }
  }
  return NULL;
}

void uvotel__async_forget(uvotel__hs_t *s) {
  slot_t *sl = s->u.async.slot;
  if (sl == NULL) return;
  s->u.async.slot = NULL;
  uvotel_snapshot_release(__atomic_exchange_n(&sl->pending, NULL, __ATOMIC_ACQ_REL));
  __atomic_store_n(&sl->key, TOMB, __ATOMIC_RELEASE);
}

static void async_tramp(uv_async_t *h) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("async");
    return;
  }
  uv_async_cb cb = (uv_async_cb)s->cb;
  slot_t *sl = s->u.async.slot;
  uvotel_snapshot_t *snap = sl != NULL && __atomic_load_n(&sl->pending, __ATOMIC_RELAXED) != NULL
                                ? __atomic_exchange_n(&sl->pending, NULL, __ATOMIC_ACQ_REL)
                                : NULL;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  uvotel_scope_t scope;
  if (snap != NULL && uvotel_snapshot_enter(snap, &scope) == 0) {
    cb(h);
    (void)uvotel_scope_exit(&scope); /* fails harmlessly if cb closed scopes out of order */
  } else {
    cb(h);
  }
  uvotel_resource_exit(&cs);
  uvotel_snapshot_release(snap);
}

static int async_init(uv_loop_t *loop, uv_async_t *async, uv_async_cb async_cb, unsigned flags) {
  if (!uvotel_tracking() || loop == NULL || async == NULL || async_cb == NULL) {
    return uv_async_init(loop, async, async_cb);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, async, &is_new);
  if (s == NULL) return UV_ENOMEM;
  if (is_new) s->u.async.slot = NULL;
  s->is_async = 1;
  int err = uv_async_init(loop, async, async_tramp);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  uvotel__res_end(s); /* stale state of a handle closed with raw uv_close */
  uvotel__async_forget(s);
  s->cb = (void (*)(void))async_cb;
  slot_t *sl = reg_insert(async);
  s->u.async.slot = sl;
  if (sl != NULL)
    __atomic_store_n(&sl->root, (flags & UVOTEL_RESOURCE_ROOT_CONTEXT) != 0, __ATOMIC_RELAXED);
  (void)uvotel_resource_init_owner(&s->res, "ASYNC", 0, UVOTEL_RESOURCE_MANUAL_DESTROY | flags,
                                   async);
  return 0;
}

UVOTEL__API int uvotel_async_init(uv_loop_t *loop, uv_async_t *async, uv_async_cb async_cb) {
  return async_init(loop, async, async_cb, 0);
}

UVOTEL__API int uvotel_implicit_async_init(uv_loop_t *loop, uv_async_t *async,
                                           uv_async_cb async_cb) {
  return async_init(loop, async, async_cb, UVOTEL_RESOURCE_ROOT_CONTEXT);
}

UVOTEL__API int uvotel_async_send(uv_async_t *async) {
  if (uvotel_tracking() && async != NULL) {
    slot_t *sl = reg_find(async);
    if (sl != NULL && !__atomic_load_n(&sl->root, __ATOMIC_RELAXED) &&
        __atomic_load_n(&sl->pending, __ATOMIC_ACQUIRE) == NULL) {
      uvotel_snapshot_t *snap = uvotel_snapshot_capture_handover();
      uvotel_snapshot_t *expected = NULL;
      if (snap != NULL && !__atomic_compare_exchange_n(&sl->pending, &expected, snap, 0,
                                                       __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        uvotel_snapshot_release(snap); /* another sender got there first */
      }
    }
  }
  return uv_async_send(async);
}
