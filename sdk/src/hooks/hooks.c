/* Async ids, the execution stack, hook registration and dispatch, async resources, the destroy
 * queue and loop attachment. */
#include <pthread.h>
#include <stdlib.h>

#include "../internal.h"
#include "../promise/promise_internal.h"

UVOTEL__TLS uvotel__tls_t uvotel__tls;

UVOTEL__API int uvotel__tracking;

/* Ids are handed to threads in blocks so that taking one is a thread-local increment. The
 * first block starts at 2: 1 is the top level. */
#define ID_BLOCK 4096
#define DQ_EARLY_DRAIN 16384
static _Atomic uint64_t g_next_block = 2;

static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;

enum {
  RES_MANUAL = UVOTEL_RESOURCE_MANUAL_DESTROY,
  RES_LIVE = 1u << 8,   /* initialised and not destroyed */
  RES_HIDDEN = 1u << 9, /* created inside a hook callback: hooks never see it */
  CS_ACTIVE = 1u << 0,
  CS_HIDDEN = 1u << 1,
  CS_OWNS_CTX = 1u << 2,
};

void uvotel__set_tracking(void) {
  if (!__atomic_load_n(&uvotel__tracking, __ATOMIC_RELAXED)) {
    __atomic_store_n(&uvotel__tracking, 1, __ATOMIC_RELAXED);
  }
}

static void tls_destructor(void *p) {
  uvotel__tls_t *t = p;
  /* Runs on thread exit: the TLS block is still addressable here. */
  if (t == &uvotel__tls) uvotel_thread_cleanup();
}

static void tls_key_create(void) {
  (void)pthread_key_create(&g_tls_key, tls_destructor);
}

void uvotel__tls_register(uvotel__tls_t *t) {
  if (t->cleanup_registered) return;
  pthread_once(&g_tls_once, tls_key_create);
  (void)pthread_setspecific(g_tls_key, t);
  t->cleanup_registered = 1;
}

static inline uvotel_async_id_t new_id(uvotel__tls_t *t) {
  if (UVOTEL__UNLIKELY(t->next_id == t->id_end)) {
    uint64_t base = atomic_fetch_add_explicit(&g_next_block, ID_BLOCK, memory_order_relaxed);
    t->next_id = base;
    t->id_end = base + ID_BLOCK;
  }
  return t->next_id++;
}

/* ---- execution ids ---- */

UVOTEL__API uvotel_async_id_t uvotel_execution_async_id(void) {
  uvotel_async_id_t id = uvotel__tls.exec_id;
  return id ? id : 1;
}

UVOTEL__API uvotel_async_id_t uvotel_trigger_async_id(void) {
  return uvotel__tls.trigger_id;
}

UVOTEL__API void *uvotel_execution_async_resource(void) {
  return uvotel__tls.exec_resource;
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
  uvotel__hooktab_t *old = t->hooks;
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
  t->hooks = tab;
  if (old != NULL) {
    if (t->in_hook) {
      old->next_retired = t->retired;
      t->retired = old;
    } else {
      uvotel_free(old);
    }
  }
  return 0;
}

void uvotel__hooks_retire_flush(uvotel__tls_t *t) {
  while (t->retired != NULL) {
    uvotel__hooktab_t *r = t->retired;
    t->retired = r->next_retired;
    uvotel_free(r);
  }
  while (t->free_after_dispatch != NULL) {
    uvotel_hook_t *h = t->free_after_dispatch;
    t->free_after_dispatch = (uvotel_hook_t *)h->arg;
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
  if (t->in_hook) {
    h->free_pending = 1;
    h->arg = t->free_after_dispatch;
    t->free_after_dispatch = h;
    return;
  }
  uvotel_free(h);
}

/* ---- the destroy queue ---- */

static void loop_arm(uvotel__loop_t *l);

static void deliver_destroys(uvotel__tls_t *t) {
  /* Destroy hooks run with in_hook set, so nothing is queued while we walk the queue. */
  for (size_t i = 0; i < t->dq_n; i++) uvotel__dispatch_id(t, UVOTEL__EV_DESTROY, t->dq[i]);
  t->dq_n = 0;
}

static void queue_destroy(uvotel__tls_t *t, uvotel_async_id_t id) {
  /* As in Node: with no destroy hook enabled (or inside a hook), there is no one to tell. */
  if (!uvotel__has_hooks(t, UVOTEL__EV_DESTROY) || t->in_hook) return;
  if (t->loops == NULL) {
    uvotel__dispatch_id(t, UVOTEL__EV_DESTROY, id);
    return;
  }
  if (t->dq_n == t->dq_cap) {
    size_t cap = t->dq_cap ? t->dq_cap * 2 : 64;
    uvotel_async_id_t *q = uvotel_realloc(t->dq, cap * sizeof *q);
    if (q == NULL) {
      /* Out of memory: deliver now rather than lose the event. */
      uvotel__dispatch_id(t, UVOTEL__EV_DESTROY, id);
      return;
    }
    t->dq = q;
    t->dq_cap = cap;
  }
  t->dq[t->dq_n++] = id;
  if (t->dq_n == 1) loop_arm(t->loops);
}

UVOTEL__API size_t uvotel_pending_destroys(void) {
  return uvotel__tls.dq_n;
}

UVOTEL__API void uvotel_flush_destroys(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->dq_n != 0 && !t->in_hook) deliver_destroys(t);
}

/* ---- loops ---- */

static void on_idle(uv_idle_t *h) {
  (void)h; /* only there to keep poll from blocking while destroys are pending */
}

static void on_check(uv_check_t *h) {
  uvotel__loop_t *l = (uvotel__loop_t *)((char *)h - offsetof(uvotel__loop_t, check));
  uvotel__tls_t *t = &uvotel__tls;
  if (t->in_hook) return;
  int worked = 0;
  /* Safety net: next-ticks and microtasks queued outside any callback (promise/queue.c). */
  if (uvotel__jobq.n != 0) {
    uvotel__jobs_drain();
    worked = 1;
  }
  if (t->dq_n != 0) {
    deliver_destroys(t);
    worked = 1;
  }
  if (worked) return; /* stay armed: a loop that made work this turn usually makes more */
  /* A whole turn without destroys (wrapped check handles may have flushed them): disarm, so
   * poll can block again. */
  uv_idle_stop(&l->idle);
  uv_check_stop(&l->check);
  l->armed = 0;
}

static void loop_arm(uvotel__loop_t *l) {
  if (l->closing || l->armed) return;
  uv_idle_start(&l->idle, on_idle);
  /* libuv runs check handles newest-first: starting ours now puts it before the user check
   * handles started earlier (wrapped check handles also flush before their callback). */
  uv_check_start(&l->check, on_check);
  l->armed = 1;
}

UVOTEL__API uint64_t uvotel__loop_epoch;

int uvotel__loop_arm_jobs(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->loops == NULL) return 0;
  loop_arm(t->loops);
  return 1;
}

static uvotel__loop_t *find_loop(uvotel__tls_t *t, uv_loop_t *loop, uvotel__loop_t ***link) {
  uvotel__loop_t **pp = &t->loops;
  while (*pp != NULL && (*pp)->loop != loop) pp = &(*pp)->next;
  if (link) *link = pp;
  return *pp;
}

UVOTEL__API int uvotel_loop_init(uv_loop_t *loop) {
  if (loop == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  if (UVOTEL__LIKELY(t->loops != NULL && t->loops->loop == loop)) return 0;
  uvotel__loop_t **link;
  uvotel__loop_t *l = find_loop(t, loop, &link);
  if (l != NULL) {
    /* Attached already: make it the one destroys are delivered on. */
    *link = l->next;
    l->next = t->loops;
    t->loops = l;
    if (t->dq_n) loop_arm(l);
    return 0;
  }
  l = uvotel_calloc(1, sizeof *l);
  if (l == NULL) return UVOTEL_ENOMEM;
  l->loop = loop;
  /* Both always succeed on Unix (they only link the handle into the loop). */
  (void)uv_idle_init(loop, &l->idle);
  (void)uv_check_init(loop, &l->check);
  uv_unref((uv_handle_t *)&l->check);
  l->next = t->loops;
  t->loops = l;
  uvotel__tls_register(t);
  if (t->dq_n) loop_arm(l);
  return 0;
}

static void on_internal_closed(uv_handle_t *h) {
  uvotel__loop_t *l = h->type == UV_IDLE
                          ? (uvotel__loop_t *)((char *)h - offsetof(uvotel__loop_t, idle))
                          : (uvotel__loop_t *)((char *)h - offsetof(uvotel__loop_t, check));
  if (--l->closing == 0) uvotel_free(l);
}

UVOTEL__API int uvotel_loop_close(uv_loop_t *loop) {
  if (loop == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  uvotel__loop_t **link;
  uvotel__loop_t *l = find_loop(t, loop, &link);
  if (l == NULL) return UVOTEL_ENOENT;
  *link = l->next;
  /* Deliver what is pending on this thread before the last loop that could carry it goes;
   * if another loop stays attached it takes over the queue. */
  if (t->dq_n != 0 && !t->in_hook) {
    if (t->loops != NULL) {
      loop_arm(t->loops);
    } else {
      deliver_destroys(t);
    }
  }
  l->closing = 2; /* both close callbacks must run before the block goes */
  __atomic_add_fetch(&uvotel__loop_epoch, 1, __ATOMIC_RELAXED);
  uv_close((uv_handle_t *)&l->idle, on_internal_closed);
  uv_close((uv_handle_t *)&l->check, on_internal_closed);
  uv_run(loop, UV_RUN_NOWAIT);
  return 0;
}

/* ---- resources and callback scopes ---- */

static int resource_init(uvotel_resource_t *r, const char *type, uvotel_async_id_t trigger_id,
                         unsigned flags, void *owner) {
  if (r == NULL || type == NULL || (flags & ~RES_MANUAL) != 0) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  r->id_ = new_id(t);
  r->trigger_ = trigger_id ? trigger_id : (t->exec_id ? t->exec_id : 1);
  r->owner_ = owner ? owner : r;
  r->ctx_ = uvotel__ctx_capture(t);
  r->refs_ = 1;
  r->flags_ = flags | RES_LIVE;
  if (t->in_hook) {
    r->flags_ |= RES_HIDDEN;
    return 0;
  }
  uvotel__hooktab_t *tab = t->hooks;
  if (tab != NULL && tab->n[UVOTEL__EV_INIT] != 0) {
    t->in_hook = 1;
    uvotel__hookfn_t *f = tab->fns[UVOTEL__EV_INIT];
    for (uint32_t i = 0, n = tab->n[UVOTEL__EV_INIT]; i < n; i++) {
      ((void (*)(uvotel_async_id_t, const char *, uvotel_async_id_t, void *, void *))f[i].fn)(
          r->id_, type, r->trigger_, r->owner_, f[i].arg);
    }
    t->in_hook = 0;
    if (UVOTEL__UNLIKELY(t->retired != NULL || t->free_after_dispatch != NULL)) {
      uvotel__hooks_retire_flush(t);
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

UVOTEL__API int uvotel_resource_enter(uvotel_resource_t *r, uvotel_callback_scope_t *cs) {
  if (cs == NULL) return UVOTEL_EINVAL;
  if (r == NULL || !(r->flags_ & RES_LIVE)) {
    cs->flags_ = 0;
    return UVOTEL_EINVAL;
  }
  uvotel__tls_t *t = &uvotel__tls;
  cs->prev_id_ = t->exec_id;
  cs->prev_trigger_ = t->trigger_id;
  cs->prev_resource_ = t->exec_resource;
  cs->prev_ctx_ = t->ctx;
  cs->prev_depth_ = t->depth;
  cs->id_ = r->id_;
  cs->flags_ = CS_ACTIVE | ((r->flags_ & RES_HIDDEN) ? CS_HIDDEN : 0);
  uvotel_snapshot_t *ctx = r->ctx_;
  if (ctx == &uvotel__empty_snapshot) ctx = NULL;
  /* Hold the context for the whole callback: the callback may destroy its own resource. */
  if (ctx != NULL && ctx->owner == t) {
    ctx->refs++;
    cs->flags_ |= CS_OWNS_CTX;
  }
  t->exec_id = r->id_;
  t->trigger_id = r->trigger_;
  t->exec_resource = r->owner_;
  t->ctx = ctx;
  if (!(cs->flags_ & CS_HIDDEN)) uvotel__dispatch_id(t, UVOTEL__EV_BEFORE, r->id_);
  return 0;
}

UVOTEL__API void uvotel_resource_exit(uvotel_callback_scope_t *cs) {
  if (cs == NULL || !(cs->flags_ & CS_ACTIVE)) return;
  uvotel__tls_t *t = &uvotel__tls;
  if (!(cs->flags_ & CS_HIDDEN)) uvotel__dispatch_id(t, UVOTEL__EV_AFTER, cs->id_);
  if (UVOTEL__UNLIKELY(t->depth != cs->prev_depth_)) uvotel__unwind_scopes(t, cs->prev_depth_);
  uvotel_snapshot_t *ctx = t->ctx;
  t->ctx = cs->prev_ctx_;
  t->exec_id = cs->prev_id_;
  t->trigger_id = cs->prev_trigger_;
  t->exec_resource = cs->prev_resource_;
  if (cs->flags_ & CS_OWNS_CTX) uvotel__ctx_release(t, ctx);
  cs->flags_ = 0;
  /* The outermost callback returned: run the next-ticks and microtasks it queued before the
   * loop moves on (seed 004). One predictable branch while both queues are empty. */
  if (UVOTEL__UNLIKELY(uvotel__jobq.n != 0) && cs->prev_id_ == 0) uvotel__jobs_drain();
  /* Like Node (16384 pending destroys trigger an early drain): a loop phase that runs many
   * callbacks before the check phase (libuv runs a re-armed zero timer again in the same pass)
   * would otherwise grow the queue without bound. Drain when the outermost callback returns. */
  if (UVOTEL__UNLIKELY(t->dq_n >= DQ_EARLY_DRAIN) && t->exec_id == 0 && !t->in_hook) {
    deliver_destroys(t);
  }
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
  uvotel_snapshot_t *cur = t->ctx ? t->ctx : &uvotel__empty_snapshot;
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
  uvotel__dispatch_id(&uvotel__tls, UVOTEL__EV_PROMISE, r->id_);
}

/* ---- per-thread cleanup ---- */

void uvotel__trace_state_cache_cleanup(void); /* trace/tracestate.c */

UVOTEL__API void uvotel_thread_cleanup(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->in_hook) return;
  uvotel__jobs_cleanup();              /* promise and job pools */
  uvotel__trace_state_cache_cleanup(); /* recycled tracestate blocks */
  if (t->dq_n != 0 && t->loops == NULL) deliver_destroys(t);
  if (t->dq_n == 0) {
    uvotel_free(t->dq);
    t->dq = NULL;
    t->dq_cap = 0;
  }
  for (int n = 0; n <= UVOTEL__POOL_MAX_N; n++) {
    while (t->pool[n] != NULL) {
      uvotel_snapshot_t *m = t->pool[n];
      t->pool[n] = m->next_free;
      uvotel_free(m);
    }
    t->pool_n[n] = 0;
  }
  if (t->depth == 0) {
    uvotel_free(t->stack);
    t->stack = NULL;
    t->stack_cap = 0;
  }
  if (t->list_n == 0) {
    uvotel_free(t->list);
    t->list = NULL;
    t->list_cap = 0;
  }
  uvotel__hooks_retire_flush(t);
}
