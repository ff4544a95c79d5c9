/* Async ids, the execution stack, hook registration and dispatch, async resources, the destroy
 * queue and loop attachment. */
#include <pthread.h>
#include <stdlib.h>

#include "hooks_internal.h"

struct uvotel_hook_s {
  uvotel_hook_callbacks_t cbs;
  void *arg;
  struct uvotel__tls_s *owner; /* thread it is enabled on, NULL when disabled */
  int free_pending;
};

/* Up to this many libraries layered on uvotel keep per-loop data (uvotel_loop_key_create). */
#define UVOTEL__LOOP_KEYS 4

/* One attached loop, in the process-wide registry (hooks.c). Blocks are never unlinked from the
 * registry: a detached block (loop NULL) is reused by the next attach, so a lock-free reader
 * walking the list never meets freed memory. */
typedef struct uvotel__loop_s {
  uv_loop_t *loop; /* atomic; NULL: free */
  uv_idle_t idle;  /* both internal to libuv (UV_HANDLE_INTERNAL): invisible to the program */
  uv_check_t check;
  int armed;
  struct uvotel__tls_s *runner; /* atomic: the thread that attached or turned to it last */
  void *data[UVOTEL__LOOP_KEYS];
  struct uvotel__loop_s *next;
} uvotel__loop_t;

static void retire_flush(uvotel__tls_t *t);

/* Dispatch (hot path, inlined): the one implementation is uvotel/fast.h's. */
static inline void dispatch_id(uvotel__tls_t *t, int ev, uvotel_async_id_t id) {
  uvotel__dispatch_fast(&t->hot, ev, id);
}

UVOTEL__API void uvotel__dispatch_end(void) {
  retire_flush(&uvotel__tls);
}

static inline int has_hooks(const uvotel__tls_t *t, int ev) {
  return t->hot.hooks != NULL && t->hot.hooks->n[ev] != 0;
}

/* Ids are handed to threads in blocks so that taking one is a thread-local increment. The
 * first block starts at 2: 1 is the top level. */
#define ID_BLOCK 4096
static _Atomic uint64_t g_next_block = 2;

enum {
  RES_MANUAL = UVOTEL_RESOURCE_MANUAL_DESTROY,
  RES_ROOT = UVOTEL_RESOURCE_ROOT_CONTEXT,
  RES_LIVE = UVOTEL__RES_LIVE,     /* initialised and not destroyed */
  RES_HIDDEN = UVOTEL__RES_HIDDEN, /* created inside a hook callback: hooks never see it */
};

static inline uvotel_async_id_t new_id(uvotel__tls_t *t) {
  if (UVOTEL__UNLIKELY(t->hot.next_id == t->hot.id_end)) {
    uint64_t base = atomic_fetch_add_explicit(&g_next_block, ID_BLOCK, memory_order_relaxed);
    t->hot.next_id = base;
    t->hot.id_end = base + ID_BLOCK;
  }
  return t->hot.next_id++;
}

/* ---- execution ids ---- */

UVOTEL__API uvotel_async_id_t uvotel_execution_async_id(void) {
  uvotel_async_id_t id = uvotel__tls.hot.exec_id;
  return id ? id : 1;
}

UVOTEL__API uvotel_async_id_t uvotel_trigger_async_id(void) {
  return uvotel__tls.hot.trigger_id;
}

UVOTEL__API void *uvotel_execution_async_resource(void) {
  return uvotel__tls.hot.exec_resource;
}

/* ---- hook registry ---- */

UVOTEL__API uvotel_hook_t *uvotel_hook_create(const uvotel_hook_callbacks_t *cbs, void *arg) {
  if (cbs == NULL) return NULL;
  uvotel_hook_t *h = uvotel_calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  h->cbs = *cbs;
  h->arg = arg;
  return h;
}

static int rebuild_table(uvotel__tls_t *t) {
  uvotel__hooktab_t *old = t->hot.hooks;
  uvotel__hooktab_t *tab = NULL;
  if (t->list_n > 0) {
    size_t total = (size_t)t->list_n * UVOTEL__EV_COUNT;
    tab = uvotel_calloc(1, sizeof *tab + total * sizeof(uvotel__hookfn_t));
    if (tab == NULL) return UVOTEL_ENOMEM;
    for (int ev = 0; ev < UVOTEL__EV_COUNT; ev++) {
      tab->fns[ev] = tab->storage + (size_t)ev * t->list_n;
    }
    for (uint32_t i = 0; i < t->list_n; i++) {
      const uvotel_hook_t *h = t->list[i];
      void (*fns[UVOTEL__EV_COUNT])(void) = {
          (void (*)(void))h->cbs.init, (void (*)(void))h->cbs.before, (void (*)(void))h->cbs.after,
          (void (*)(void))h->cbs.destroy, (void (*)(void))h->cbs.promise_resolve};
      for (int ev = 0; ev < UVOTEL__EV_COUNT; ev++) {
        if (fns[ev] == NULL) continue;
        tab->fns[ev][tab->n[ev]].fn = fns[ev];
        tab->fns[ev][tab->n[ev]].arg = h->arg;
        tab->n[ev]++;
      }
    }
  }
  t->hot.hooks = tab;
  if (old != NULL) {
    if (t->hot.in_hook) {
      old->next_retired = t->hot.retired;
      t->hot.retired = old;
    } else {
      uvotel_free(old);
    }
  }
  return 0;
}

static void retire_flush(uvotel__tls_t *t) {
  while (t->hot.retired != NULL) {
    uvotel__hooktab_t *r = t->hot.retired;
    t->hot.retired = r->next_retired;
    uvotel_free(r);
  }
  while (t->hot.free_after_dispatch != NULL) {
    uvotel_hook_t *h = t->hot.free_after_dispatch;
    t->hot.free_after_dispatch = (uvotel_hook_t *)h->arg;
    uvotel_free(h);
  }
}

UVOTEL__API int uvotel_hook_enable(uvotel_hook_t *h) {
  if (h == NULL || h->free_pending) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  if (h->owner == t) return 0;
  if (h->owner != NULL) return UVOTEL_EBUSY;
  if (t->list_n == t->list_cap) {
    uint32_t cap = t->list_cap ? t->list_cap * 2 : 4;
    uvotel_hook_t **l = uvotel_realloc(t->list, cap * sizeof *l);
    if (l == NULL) return UVOTEL_ENOMEM;
    t->list = l;
    t->list_cap = cap;
  }
  t->list[t->list_n++] = h;
  int err = rebuild_table(t);
  if (err) {
    t->list_n--;
    return err;
  }
  h->owner = t;
  uvotel__tls_register(t);
  uvotel__set_tracking();
  return 0;
}

UVOTEL__API int uvotel_hook_disable(uvotel_hook_t *h) {
  if (h == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  if (h->owner == NULL) return 0;
  if (h->owner != t) return UVOTEL_EBUSY;
  uint32_t i = 0;
  while (i < t->list_n && t->list[i] != h) i++;
  if (i == t->list_n) return UVOTEL_EINVAL; /* cannot happen: owner says enabled here */
  memmove(t->list + i, t->list + i + 1, (t->list_n - i - 1) * sizeof *t->list);
  t->list_n--;
  int err = rebuild_table(t);
  if (err) {
    /* Could not allocate the smaller table: put the hook back, nothing changed. */
    memmove(t->list + i + 1, t->list + i, (t->list_n - i) * sizeof *t->list);
    t->list[i] = h;
    t->list_n++;
    return err;
  }
  h->owner = NULL;
  return 0;
}

UVOTEL__API void uvotel_hook_free(uvotel_hook_t *h) {
  if (h == NULL || h->free_pending) return;
  uvotel__tls_t *t = &uvotel__tls;
  if (h->owner != NULL) {
    if (h->owner != t) return; /* enabled on another thread: refuse to free under it */
    /* Disabling can only fail for memory; then keep the hook (and leak rather than crash). */
    if (uvotel_hook_disable(h) != 0) return;
  }
  if (t->hot.in_hook) {
    h->free_pending = 1;
    h->arg = t->hot.free_after_dispatch;
    t->hot.free_after_dispatch = h;
    return;
  }
  uvotel_free(h);
}

/* ---- the destroy queue ---- */

static uvotel__loop_t *delivery_loop(uvotel__tls_t *t);
static void loop_arm(uvotel__loop_t *l);

static void deliver_destroys(uvotel__tls_t *t) {
  /* Destroy hooks run with in_hook set, so nothing is queued while we walk the queue. */
  for (size_t i = 0; i < t->hot.dq_n; i++) dispatch_id(t, UVOTEL__EV_DESTROY, t->dq[i]);
  t->hot.dq_n = 0;
}

static void queue_destroy(uvotel__tls_t *t, uvotel_async_id_t id) {
  /* As in Node: with no destroy hook enabled (or inside a hook), there is no one to tell. */
  if (!has_hooks(t, UVOTEL__EV_DESTROY) || t->hot.in_hook) return;
  if (t->dq_blk == NULL) {
    dispatch_id(t, UVOTEL__EV_DESTROY, id);
    return;
  }
  if (t->hot.dq_n == t->dq_cap) {
    size_t cap = t->dq_cap ? t->dq_cap * 2 : 64;
    uvotel_async_id_t *q = uvotel_realloc(t->dq, cap * sizeof *q);
    if (q == NULL) {
      /* Out of memory: deliver now rather than lose the event. */
      dispatch_id(t, UVOTEL__EV_DESTROY, id);
      return;
    }
    t->dq = q;
    t->dq_cap = cap;
  }
  t->dq[t->hot.dq_n++] = id;
  if (t->hot.dq_n == 1) {
    uvotel__loop_t *l = delivery_loop(t);
    if (l != NULL) {
      loop_arm(l);
    } else {
      deliver_destroys(t); /* the loop went away meanwhile */
    }
  }
}

UVOTEL__API size_t uvotel_pending_destroys(void) {
  return uvotel__tls.hot.dq_n;
}

UVOTEL__API void uvotel_flush_destroys(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->hot.dq_n != 0 && !t->hot.in_hook) deliver_destroys(t);
}

/* ---- loops ----
 * One block per attached loop, in a process-wide list: the mutex is taken to attach and detach
 * only; lookups walk the list lock-free (blocks are never unlinked, only reused). A thread
 * remembers the block of the loop it attached or looked up last (dq_blk), checked against
 * uvotel__loop_epoch, which every detach bumps. */

/* libuv's UV_HANDLE_INTERNAL (src/uv-common.h; 0x10 in every libuv 1.x): how libuv hides its
 * own handles. uv_walk skips them and uv_loop_close ignores them. */
#define UV_HANDLE_INTERNAL_FLAG 0x10u

UVOTEL__API uint64_t uvotel__loop_epoch;
static pthread_mutex_t g_loops_mu = PTHREAD_MUTEX_INITIALIZER;
static uvotel__loop_t *g_loops; /* atomic head */
static void (*g_key_detach[UVOTEL__LOOP_KEYS])(uv_loop_t *, void *);
static int g_keys_n;
/* The first blocks are static, so a program with a few loops allocates nothing that outlives
 * them (blocks are reused, never freed). */
#define STATIC_BLOCKS 16
static uvotel__loop_t g_static_blocks[STATIC_BLOCKS];
static int g_static_n;

static uint64_t epoch_now(void) {
  return __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_ACQUIRE);
}

static uvotel__loop_t *reg_find(const uv_loop_t *loop) {
  for (uvotel__loop_t *l = __atomic_load_n(&g_loops, __ATOMIC_ACQUIRE); l != NULL; l = l->next) {
    if (__atomic_load_n(&l->loop, __ATOMIC_ACQUIRE) == loop) return l;
  }
  return NULL;
}

/* The thread's delivery loop, NULL when none, when it was detached since it was chosen, or
 * when another thread has turned to it since (a thread that set up a loop another thread now
 * runs must not touch its handles: it delivers at once instead). */
static uvotel__loop_t *delivery_loop(uvotel__tls_t *t) {
  uvotel__loop_t *l = t->dq_blk;
  if (l == NULL) return NULL;
  if (UVOTEL__UNLIKELY(__atomic_load_n(&l->runner, __ATOMIC_RELAXED) != t)) return NULL;
  uint64_t e = epoch_now();
  if (UVOTEL__LIKELY(t->dq_epoch == e)) return l;
  if (__atomic_load_n(&l->loop, __ATOMIC_ACQUIRE) != t->dq_loop) {
    t->dq_blk = NULL;
    t->dq_loop = NULL;
    return NULL;
  }
  t->dq_epoch = e;
  return l;
}

static void on_idle(uv_idle_t *h) {
  (void)h; /* only there to keep poll from blocking while destroys are pending */
}

static void loop_disarm(uvotel__loop_t *l) {
  if (!l->armed) return;
  uv_idle_stop(&l->idle);
  uv_check_stop(&l->check);
  l->armed = 0;
}

static void on_check(uv_check_t *h) {
  uvotel__loop_t *l = (uvotel__loop_t *)((char *)h - offsetof(uvotel__loop_t, check));
  uvotel__tls_t *t = &uvotel__tls;
  if (t->hot.in_hook) return;
  /* Safety net: next-ticks and microtasks queued outside any callback (promise/queue.c). */
  if (t->hot.jobs_n != 0) uvotel__tls_jobs_drain();
  if (t->hot.dq_n != 0) deliver_destroys(t);
  /* Nothing of uvotel's is pending any more: disarm now, in the check phase, so that uv_run
   * and uv_loop_alive answer for the program's own handles alone (uv_run computes its result
   * after this phase). Anything queued later arms the pair again. */
  if (t->hot.dq_n == 0 && t->hot.jobs_n == 0) loop_disarm(l);
}

static void loop_arm(uvotel__loop_t *l) {
  if (l->armed) return;
  uv_idle_start(&l->idle, on_idle);
  /* libuv runs check handles newest-first: starting ours now puts it before the user check
   * handles started earlier (wrapped check handles also flush before their callback). */
  uv_check_start(&l->check, on_check);
  l->armed = 1;
}

int uvotel__loop_arm_jobs(void) {
  uvotel__loop_t *l = delivery_loop(&uvotel__tls);
  if (l == NULL) return 0;
  loop_arm(l);
  return 1;
}

/* Find or make the block of loop (under the mutex). NULL: out of memory. */
static uvotel__loop_t *attach(uv_loop_t *loop) {
  pthread_mutex_lock(&g_loops_mu);
  uvotel__loop_t *l = reg_find(loop);
  if (l == NULL) {
    uvotel__loop_t *free_blk = NULL;
    for (uvotel__loop_t *b = g_loops; b != NULL; b = b->next) {
      if (b->loop == NULL) {
        free_blk = b;
        break;
      }
    }
    l = free_blk;
    if (l == NULL && g_static_n < STATIC_BLOCKS) l = &g_static_blocks[g_static_n++];
    if (l == NULL) {
      l = uvotel_calloc(1, sizeof *l); /* never freed: a reader may still walk past it */
      if (l == NULL) goto out;
    }
    l->armed = 0;
    for (int k = 0; k < UVOTEL__LOOP_KEYS; k++)
      __atomic_store_n(&l->data[k], NULL, __ATOMIC_RELAXED);
    /* Both always succeed on Unix (they only link the handle into the loop). */
    (void)uv_idle_init(loop, &l->idle);
    (void)uv_check_init(loop, &l->check);
    l->idle.flags |= UV_HANDLE_INTERNAL_FLAG;
    l->check.flags |= UV_HANDLE_INTERNAL_FLAG;
    /* The idle handle keeps the loop alive while destroys are pending (it is stopped
     * otherwise); the check handle never does. */
    uv_unref((uv_handle_t *)&l->check);
    __atomic_store_n(&l->loop, loop, __ATOMIC_RELEASE);
    if (free_blk == NULL) {
      l->next = g_loops;
      __atomic_store_n(&g_loops, l, __ATOMIC_RELEASE);
    }
  }
out:
  pthread_mutex_unlock(&g_loops_mu);
  return l;
}

UVOTEL__API int uvotel_loop_init(uv_loop_t *loop) {
  if (loop == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  uint64_t e = epoch_now();
  if (UVOTEL__LIKELY(t->dq_loop == loop && t->dq_epoch == e && t->dq_blk != NULL)) return 0;
  uvotel__loop_t *l = reg_find(loop);
  if (l == NULL) l = attach(loop);
  if (l == NULL) return UVOTEL_ENOMEM;
  t->dq_blk = l;
  t->dq_loop = loop;
  t->dq_epoch = e;
  __atomic_store_n(&l->runner, t, __ATOMIC_RELAXED);
  uvotel__tls_register(t);
  if (t->hot.dq_n) loop_arm(l);
  return 0;
}

UVOTEL__API int uvotel_loop_key_create(void (*on_detach)(uv_loop_t *loop, void *value)) {
  pthread_mutex_lock(&g_loops_mu);
  int key = g_keys_n < UVOTEL__LOOP_KEYS ? g_keys_n : UVOTEL_ENOMEM;
  if (key >= 0) {
    __atomic_store_n(&g_key_detach[key], on_detach, __ATOMIC_RELAXED);
    __atomic_store_n(&g_keys_n, key + 1, __ATOMIC_RELEASE);
  }
  pthread_mutex_unlock(&g_loops_mu);
  return key;
}

UVOTEL__API void *uvotel_loop_get(const uv_loop_t *loop, int key) {
  if (loop == NULL || key < 0 || key >= UVOTEL__LOOP_KEYS) return NULL;
  uvotel__loop_t *l = reg_find(loop);
  return l != NULL ? __atomic_load_n(&l->data[key], __ATOMIC_ACQUIRE) : NULL;
}

UVOTEL__API int uvotel_loop_set(uv_loop_t *loop, int key, void *value) {
  if (loop == NULL || key < 0 || key >= __atomic_load_n(&g_keys_n, __ATOMIC_ACQUIRE)) {
    return UVOTEL_EINVAL;
  }
  uvotel__loop_t *l = reg_find(loop);
  if (l == NULL) return UVOTEL_ENOENT;
  __atomic_store_n(&l->data[key], value, __ATOMIC_RELEASE);
  return 0;
}

/* 1 when the loop holds a handle that is not libuv's own (nor ours): the test uv_loop_close
 * makes, in its order, stopping at the first such handle as it does. A program may keep freed
 * handles linked behind a live one when it expects UV_EBUSY (knot-resolver does at exit): a full
 * uv_walk would read them. */
static int program_has_handles(const uv_loop_t *loop) {
  void *const *head = (void *const *)&loop->handle_queue;
  for (void *const *q = (void *const *)head[0]; q != head; q = (void *const *)q[0]) {
    const uv_handle_t *h =
        (const uv_handle_t *)((const char *)q - offsetof(uv_handle_t, handle_queue));
    if (!(h->flags & UV_HANDLE_INTERNAL_FLAG)) return 1;
  }
  return 0;
}

/* Unlink a stopped, never-closed handle from its loop's handle queue (two pointers, next then
 * prev, in every libuv 1.x): the loop forgets it without a close callback or a loop run. */
static void unlink_handle(uv_handle_t *h) {
  void **q = (void **)&h->handle_queue;
  void **next = q[0], **prev = q[1];
  prev[0] = next;
  next[1] = prev;
}

UVOTEL__API int uvotel_loop_close(uv_loop_t *loop) {
  if (loop == NULL) return UVOTEL_EINVAL;
  uvotel__loop_t *l = reg_find(loop);
  if (l == NULL) return UVOTEL_ENOENT;
  /* What uv_loop_close checks: active requests, handles that are not libuv's (nor ours). While
   * the program still has any, change nothing, as uv_loop_close would. */
  if (loop->active_reqs.count != 0 || program_has_handles(loop)) return UV_EBUSY;
  for (int k = 0; k < UVOTEL__LOOP_KEYS; k++) {
    void *v = __atomic_exchange_n(&l->data[k], NULL, __ATOMIC_ACQ_REL);
    void (*detach)(uv_loop_t *, void *) = __atomic_load_n(&g_key_detach[k], __ATOMIC_ACQUIRE);
    if (v != NULL && detach != NULL) detach(loop, v);
  }
  uvotel__tls_t *t = &uvotel__tls;
  if (t->dq_blk == l) {
    /* Deliver what is pending on this thread now: its loop is going. */
    if (t->hot.dq_n != 0 && !t->hot.in_hook) deliver_destroys(t);
    t->dq_blk = NULL;
    t->dq_loop = NULL;
  }
  loop_disarm(l);
  unlink_handle((uv_handle_t *)&l->idle);
  unlink_handle((uv_handle_t *)&l->check);
  pthread_mutex_lock(&g_loops_mu);
  __atomic_store_n(&l->loop, NULL, __ATOMIC_RELEASE);
  __atomic_add_fetch(&uvotel__loop_epoch, 1, __ATOMIC_ACQ_REL);
  pthread_mutex_unlock(&g_loops_mu);
  return 0;
}

/* ---- resources and callback scopes ---- */

static int resource_init(uvotel_resource_t *r, const char *type, uvotel_async_id_t trigger_id,
                         unsigned flags, void *owner) {
  if (r == NULL || type == NULL || (flags & ~(unsigned)(RES_MANUAL | RES_ROOT)) != 0) {
    return UVOTEL_EINVAL;
  }
  uvotel__tls_t *t = &uvotel__tls;
  r->id_ = new_id(t);
  r->trigger_ = trigger_id ? trigger_id : (t->hot.exec_id ? t->hot.exec_id : 1);
  r->owner_ = owner ? owner : r;
  r->ctx_ = (flags & RES_ROOT) ? &uvotel__empty_snapshot : uvotel__ctx_capture(t);
  r->refs_ = 1;
  r->flags_ = flags | RES_LIVE;
  if (t->hot.in_hook) {
    r->flags_ |= RES_HIDDEN;
    return 0;
  }
  uvotel__hooktab_t *tab = t->hot.hooks;
  if (tab != NULL && tab->n[UVOTEL__EV_INIT] != 0) {
    t->hot.in_hook = 1;
    uvotel__hookfn_t *f = tab->fns[UVOTEL__EV_INIT];
    for (uint32_t i = 0, n = tab->n[UVOTEL__EV_INIT]; i < n; i++) {
      ((void (*)(uvotel_async_id_t, const char *, uvotel_async_id_t, void *, void *))f[i].fn)(
          r->id_, type, r->trigger_, r->owner_, f[i].arg);
    }
    t->hot.in_hook = 0;
    if (UVOTEL__UNLIKELY(t->hot.retired != NULL || t->hot.free_after_dispatch != NULL)) {
      retire_flush(t);
    }
  }
  return 0;
}

UVOTEL__API int uvotel_resource_init(uvotel_resource_t *r, const char *type,
                                     uvotel_async_id_t trigger_id, unsigned flags) {
  return resource_init(r, type, trigger_id, flags, NULL);
}

UVOTEL__API int uvotel_resource_init_owner(uvotel_resource_t *r, const char *type,
                                           uvotel_async_id_t trigger_id, unsigned flags,
                                           void *owner) {
  return resource_init(r, type, trigger_id, flags, owner);
}

/* Both are uvotel/fast.h's inline forms (programs compiled against the header run those). */
UVOTEL__API int uvotel_resource_enter(uvotel_resource_t *r, uvotel_callback_scope_t *cs) {
  return uvotel__resource_enter_fast(r, cs);
}

UVOTEL__API void uvotel_resource_exit(uvotel_callback_scope_t *cs) {
  uvotel__resource_exit_fast(cs);
}

/* The rare halves of uvotel__resource_exit_fast. */
UVOTEL__API void uvotel__unwind_to(uint32_t depth) {
  uvotel__unwind_scopes(&uvotel__tls, depth);
}

UVOTEL__API void uvotel__jobs_drain_now(void) {
  uvotel__tls_jobs_drain();
}

UVOTEL__API void *uvotel_resource_run(uvotel_resource_t *r, void *(*fn)(void *arg), void *arg) {
  uvotel_callback_scope_t cs;
  if (fn == NULL || uvotel_resource_enter(r, &cs) != 0) return NULL;
  void *ret = fn(arg);
  uvotel_resource_exit(&cs);
  return ret;
}

static void resource_destroy(uvotel__tls_t *t, uvotel_resource_t *r) {
  r->flags_ &= ~RES_LIVE;
  uvotel_snapshot_t *ctx = r->ctx_;
  r->ctx_ = NULL;
  if (!(r->flags_ & RES_HIDDEN)) queue_destroy(t, r->id_);
  if (ctx != &uvotel__empty_snapshot) uvotel__ctx_release(t, ctx);
}

UVOTEL__API int uvotel_resource_emit_destroy(uvotel_resource_t *r) {
  if (r == NULL) return UVOTEL_EINVAL;
  if (!(r->flags_ & RES_LIVE)) return UVOTEL_ESTATE;
  resource_destroy(&uvotel__tls, r);
  return 0;
}

UVOTEL__API void uvotel_resource_ref(uvotel_resource_t *r) {
  if (r == NULL || (r->flags_ & (RES_MANUAL | RES_LIVE)) != RES_LIVE) return;
  r->refs_++;
}

UVOTEL__API void uvotel_resource_unref(uvotel_resource_t *r) {
  if (r == NULL || (r->flags_ & (RES_MANUAL | RES_LIVE)) != RES_LIVE) return;
  if (--r->refs_ == 0) resource_destroy(&uvotel__tls, r);
}

UVOTEL__API uvotel_async_id_t uvotel_resource_async_id(const uvotel_resource_t *r) {
  return r ? r->id_ : 0;
}

UVOTEL__API uvotel_async_id_t uvotel_resource_trigger_async_id(const uvotel_resource_t *r) {
  return r ? r->trigger_ : 0;
}

UVOTEL__API int uvotel_resource_recapture(uvotel_resource_t *r) {
  if (r == NULL || !(r->flags_ & RES_LIVE)) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  if (r->flags_ & RES_ROOT) return 0; /* runs in the root context, whatever is current */
  uvotel_snapshot_t *cur = t->hot.ctx ? t->hot.ctx : &uvotel__empty_snapshot;
  if (r->ctx_ == cur) return 0;
  uvotel_snapshot_t *ctx = uvotel__ctx_capture(t);
  if (ctx == NULL) return UVOTEL_ENOMEM;
  uvotel_snapshot_t *old = r->ctx_;
  r->ctx_ = ctx;
  if (old != &uvotel__empty_snapshot) uvotel__ctx_release(t, old);
  return 0;
}

UVOTEL__API void uvotel_emit_promise_resolve(const uvotel_resource_t *r) {
  if (r == NULL || !(r->flags_ & RES_LIVE) || (r->flags_ & RES_HIDDEN)) return;
  dispatch_id(&uvotel__tls, UVOTEL__EV_PROMISE, r->id_);
}

/* ---- per-thread cleanup (uvotel_thread_cleanup, thread exit) ---- */

static void hooks_thread_cleanup(uvotel__tls_t *t) {
  if (t->hot.dq_n != 0 && delivery_loop(t) == NULL) deliver_destroys(t);
  if (t->hot.dq_n == 0) {
    uvotel_free(t->dq);
    t->dq = NULL;
    t->dq_cap = 0;
  }
  if (t->list_n == 0) {
    uvotel_free(t->list);
    t->list = NULL;
    t->list_cap = 0;
  }
  retire_flush(t);
}

__attribute__((constructor)) static void hooks_layer_register(void) {
  uvotel__tls_layer_cleanup(UVOTEL__LAYER_HOOKS, hooks_thread_cleanup);
}
