/* uvotel fast paths: private layouts and the inline forms of the hottest calls of hooks.h and
 * context.h. Included by uvotel/context.h; nothing here is API.
 *
 * Why in a header: a call into the shared library costs a PLT/GOT jump and, more, an opaque
 * call that spills registers; uvotel_var_get through libuvotel.so cost 2.5-3.6 ns against
 * 1.6 ns linked statically. The inline forms below read the calling thread's block directly:
 * it is an exported initial-exec thread-local (one %fs-relative load from any library or
 * program loaded at start-up, the way libuvotel itself reads it), and they fall back to the
 * exported functions for everything but the common case.
 *
 * Names: each public function keeps its exported symbol (uvotel_var_get, ...); the macros below
 * only route calls written `uvotel_var_get(v)` to the inline form. `(uvotel_var_get)(v)` or
 * taking the function's address still reaches the exported symbol. Define UVOTEL_NO_INLINE
 * before including uvotel.h to call the exported functions only.
 *
 * Layout: the structs below are private. Their leading fields are read by code compiled against
 * this header, so they only change with the library's SOVERSION; fields are only ever appended
 * after them. */
#ifndef UVOTEL_FAST_H
#define UVOTEL_FAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct uvotel_value_ops_s;
struct uvotel_hook_s;
struct uvotel__tls_s;

/* ---- context mappings (the struct behind uvotel_snapshot_t) ----
 * A mapping is either flat (base NULL: n entries sorted by variable id) or a delta (base set:
 * one entry over the mapping `base`, which it holds a reference to). Deltas make entering a
 * variable in a large context O(1): no copy of the other entries and no allocation beyond a
 * pooled one-entry block. At most UVOTEL__CHAIN_MAX deltas stand over a flat mapping, so a
 * lookup visits at most that many blocks plus a binary search of the flat one. The layout and
 * the rules are in sdk/src/context/context.c. */
typedef struct uvotel__entry_s {
  uint64_t var_id;
  void *value;
  const struct uvotel_value_ops_s *ops;
} uvotel__entry_t;

struct uvotel_snapshot_s {
  uint32_t refs;                  /* non-atomic: only the owner thread counts */
  uint32_t n;                     /* entries in e[] */
  struct uvotel__tls_s *owner;    /* NULL: the static empty snapshot */
  struct uvotel_snapshot_s *base; /* a delta's base (a counted reference); NULL: flat */
  /* ---- private to the library below this line ---- */
  struct uvotel_snapshot_s *next_free; /* in a pool; a flat memo of this mapping otherwise */
  uint16_t chain;                      /* deltas from here down to the first flat mapping */
  uint16_t cls;                        /* the pool size class it was allocated from */
  uint32_t spare_;
  uvotel__entry_t e[]; /* sorted by var_id */
};

struct uvotel_var_s {
  uint64_t id; /* replaced by a fresh one at disable: read and written with __atomic, relaxed */
  void *default_value;
  /* ---- private to the library below this line ---- */
  const struct uvotel_value_ops_s *ops;
  char *name;
};

/* ---- hook tables: immutable once built, rebuilt on every enable/disable ---- */
enum {
  UVOTEL__EV_INIT = 0,
  UVOTEL__EV_BEFORE = 1,
  UVOTEL__EV_AFTER = 2,
  UVOTEL__EV_DESTROY = 3,
  UVOTEL__EV_PROMISE = 4,
  UVOTEL__EV_COUNT = 5
};

typedef struct uvotel__hookfn_s {
  void (*fn)(void);
  void *arg;
} uvotel__hookfn_t;

typedef struct uvotel__hooktab_s {
  uint32_t n[UVOTEL__EV_COUNT];
  uvotel__hookfn_t *fns[UVOTEL__EV_COUNT];
  /* ---- private to the library below this line ---- */
  struct uvotel__hooktab_s *next_retired;
  uvotel__hookfn_t storage[];
} uvotel__hooktab_t;

/* ---- the hot head of the per-thread block (the rest is in the library) ---- */
typedef struct uvotel__thread_hot_s {
  struct uvotel_snapshot_s *ctx; /* current context; NULL = empty */
  uint64_t exec_id;              /* 0 = top level (reported as 1) */
  uint64_t trigger_id;
  void *exec_resource;
  uvotel__hooktab_t *hooks; /* NULL when no hook is enabled */
  /* freed when the current dispatch ends (a hook disabled or freed from its own callback) */
  uvotel__hooktab_t *retired;
  struct uvotel_hook_s *free_after_dispatch;
  size_t jobs_n;  /* jobs in the next-tick and microtask queues (promise layer) */
  size_t dq_n;    /* queued destroy events */
  uint32_t depth; /* open context scopes */
  int in_hook;
  /* async ids: the thread's current block [next_id, id_end) (hooks.c refills it) */
  uint64_t next_id, id_end;
} uvotel__thread_hot_t;

/* The calling thread's block; its first member is a uvotel__thread_hot_t. */
extern __thread struct uvotel__tls_s uvotel__tls __attribute__((tls_model("initial-exec")));

static inline uvotel__thread_hot_t *uvotel__hot(void) {
  return (uvotel__thread_hot_t *)(void *)&uvotel__tls;
}

/* The out-of-line halves (exported; not API). */
void *uvotel__var_get_slow(const struct uvotel_var_s *v);
void uvotel__snapshot_free(struct uvotel_snapshot_s *s);
void uvotel__dispatch_end(void);
void uvotel__unwind_to(uint32_t depth);
void uvotel__jobs_drain_now(void);

#define UVOTEL__LIKELY_(x) __builtin_expect(!!(x), 1)
#define UVOTEL__UNLIKELY_(x) __builtin_expect(!!(x), 0)

/* Flat mappings up to this many entries are searched inline. */
#define UVOTEL__INLINE_GET_MAX 8

static inline void *uvotel__var_get_fast(const struct uvotel_var_s *v) {
  if (UVOTEL__UNLIKELY_(v == NULL)) return NULL;
  const struct uvotel_snapshot_s *m = uvotel__hot()->ctx;
  if (m == NULL) return v->default_value;
  if (UVOTEL__LIKELY_(m->base == NULL && m->n <= UVOTEL__INLINE_GET_MAX)) {
    uint64_t id = __atomic_load_n(&v->id, __ATOMIC_RELAXED);
    for (uint32_t i = 0, n = m->n; i < n; i++) {
      if (m->e[i].var_id == id) return m->e[i].value;
    }
    return v->default_value;
  }
  return uvotel__var_get_slow(v);
}

static inline struct uvotel_snapshot_s *uvotel__snapshot_capture_fast(void) {
  uvotel__thread_hot_t *h = uvotel__hot();
  struct uvotel_snapshot_s *m = h->ctx;
  if (UVOTEL__LIKELY_(m != NULL && m->owner == (struct uvotel__tls_s *)(void *)h)) {
    m->refs++;
    return m;
  }
  /* empty (the static empty snapshot) or borrowed from another thread (a copy) */
  return (uvotel_snapshot_capture)();
}

static inline void uvotel__snapshot_release_fast(struct uvotel_snapshot_s *s) {
  if (s != NULL && s->owner != NULL && --s->refs == 0) uvotel__snapshot_free(s);
}

/* ---- resource scopes (uvotel_resource_enter / exit) ---- */

/* Resource and callback-scope flags (hooks.c has the full set). */
#define UVOTEL__RES_LIVE (1u << 8)
#define UVOTEL__RES_HIDDEN (1u << 9)
#define UVOTEL__CS_ACTIVE (1u << 0)
#define UVOTEL__CS_HIDDEN (1u << 1)
#define UVOTEL__CS_OWNS_CTX (1u << 2)
/* Like Node: this many pending destroys make the outermost callback's return deliver them. */
#define UVOTEL__DQ_EARLY_DRAIN 16384

static inline void uvotel__dispatch_fast(uvotel__thread_hot_t *h, int ev, uint64_t id) {
  uvotel__hooktab_t *tab = h->hooks;
  if (UVOTEL__LIKELY_(tab == NULL)) return;
  uint32_t n = tab->n[ev];
  if (n == 0 || h->in_hook) return;
  h->in_hook = 1;
  const uvotel__hookfn_t *f = tab->fns[ev];
  if (UVOTEL__LIKELY_(n == 1)) {
    /* one hook set (the usual case): a call, no loop state to keep across it */
    ((void (*)(uint64_t, void *))f->fn)(id, f->arg);
  } else {
    uint32_t i = 0;
    do {
      ((void (*)(uint64_t, void *))f[i].fn)(id, f[i].arg);
    } while (++i < n);
  }
  h->in_hook = 0;
  if (UVOTEL__UNLIKELY_(h->retired != NULL || h->free_after_dispatch != NULL)) {
    uvotel__dispatch_end();
  }
}

/* The two enters: hold 1 counts the resource's context for the scope (uvotel_resource_enter),
 * hold 0 borrows it (uvotel__resource_enter_held). */
static inline int uvotel__resource_enter_as(uvotel_resource_t *r, uvotel_callback_scope_t *cs,
                                            int hold) {
  if (UVOTEL__UNLIKELY_(cs == NULL)) return UVOTEL_EINVAL;
  if (UVOTEL__UNLIKELY_(r == NULL || !(r->flags_ & UVOTEL__RES_LIVE))) {
    const uvotel_callback_scope_t none = {0, 0, NULL, NULL, 0, 0, 0};
    *cs = none; /* exit is a no-op on it */
    return UVOTEL_EINVAL;
  }
  uvotel__thread_hot_t *h = uvotel__hot();
  cs->prev_id_ = h->exec_id;
  cs->prev_trigger_ = h->trigger_id;
  cs->prev_resource_ = h->exec_resource;
  cs->prev_ctx_ = h->ctx;
  cs->prev_depth_ = h->depth;
  cs->id_ = r->id_;
  uint32_t fl = UVOTEL__CS_ACTIVE | ((r->flags_ & UVOTEL__RES_HIDDEN) ? UVOTEL__CS_HIDDEN : 0);
  struct uvotel_snapshot_s *ctx = r->ctx_;
  if (ctx != NULL && ctx != h->ctx) {
    /* Hold the context for the whole callback: the callback may destroy its own resource. The
     * static empty snapshot (the only one without an owner) is the empty context, NULL. When it
     * is the current one already, the scope that made it current holds it (scopes are LIFO, and
     * that one is outside this callback), and exit restores the same pointer: nothing to count. */
    if (UVOTEL__LIKELY_(ctx->owner == (struct uvotel__tls_s *)(void *)h)) {
      if (hold) {
        ctx->refs++;
        fl |= UVOTEL__CS_OWNS_CTX;
      }
    } else if (ctx->owner == NULL) {
      ctx = NULL;
    }
  }
  cs->flags_ = fl;
  h->exec_id = r->id_;
  h->trigger_id = r->trigger_;
  h->exec_resource = r->owner_;
  h->ctx = ctx;
  if (!(fl & UVOTEL__CS_HIDDEN)) uvotel__dispatch_fast(h, UVOTEL__EV_BEFORE, r->id_);
  return 0;
}

static inline int uvotel__resource_enter_fast(uvotel_resource_t *r, uvotel_callback_scope_t *cs) {
  return uvotel__resource_enter_as(r, cs, 1);
}

/* uvotel_resource_enter for a resource nothing can reach during the scope and that the caller
 * destroys (or keeps) only after the exit, such as a request trampoline's own copy of its
 * request's resource: the resource's reference holds its context for the whole scope, so the
 * scope counts nothing (and its exit releases nothing). Not API; same results as
 * uvotel_resource_enter otherwise. */
static inline int uvotel__resource_enter_held(uvotel_resource_t *r, uvotel_callback_scope_t *cs) {
  return uvotel__resource_enter_as(r, cs, 0);
}

static inline void uvotel__resource_exit_fast(uvotel_callback_scope_t *cs) {
  if (cs == NULL || !(cs->flags_ & UVOTEL__CS_ACTIVE)) return;
  uvotel__thread_hot_t *h = uvotel__hot();
  if (!(cs->flags_ & UVOTEL__CS_HIDDEN)) uvotel__dispatch_fast(h, UVOTEL__EV_AFTER, cs->id_);
  /* scopes the callback left open */
  if (UVOTEL__UNLIKELY_(h->depth != cs->prev_depth_)) uvotel__unwind_to(cs->prev_depth_);
  struct uvotel_snapshot_s *ctx = h->ctx;
  h->ctx = (struct uvotel_snapshot_s *)cs->prev_ctx_;
  h->exec_id = cs->prev_id_;
  h->trigger_id = cs->prev_trigger_;
  h->exec_resource = cs->prev_resource_;
  if (cs->flags_ & UVOTEL__CS_OWNS_CTX) uvotel__snapshot_release_fast(ctx);
  cs->flags_ = 0;
  /* The outermost callback returned: run the next-ticks and microtasks it queued before the
   * loop moves on (seed 004). */
  if (UVOTEL__UNLIKELY_(h->jobs_n != 0) && cs->prev_id_ == 0) uvotel__jobs_drain_now();
  /* Like Node's early drain: a loop phase that runs many callbacks before the check phase would
   * otherwise grow the destroy queue without bound. */
  if (UVOTEL__UNLIKELY_(h->dq_n >= UVOTEL__DQ_EARLY_DRAIN) && h->exec_id == 0 && !h->in_hook) {
    uvotel_flush_destroys();
  }
}

/* uvotel_resource_init_owner's common case: an id from the thread's block, the current context
 * counted on its owner thread, the init hooks. Everything else (bad arguments, a root-context or
 * hidden resource, an empty or borrowed context, the id block running out) is the exported
 * function's, called before anything is changed. */
static inline int uvotel__resource_init_owner_fast(uvotel_resource_t *r, const char *type,
                                                   uint64_t trigger_id, unsigned flags,
                                                   void *owner) {
  uvotel__thread_hot_t *h = uvotel__hot();
  struct uvotel_snapshot_s *m = h->ctx;
  if (UVOTEL__UNLIKELY_(r == NULL || type == NULL ||
                        (flags & ~(unsigned)UVOTEL_RESOURCE_MANUAL_DESTROY) != 0 || m == NULL ||
                        m->owner != (struct uvotel__tls_s *)(void *)h || h->in_hook ||
                        h->next_id == h->id_end)) {
    return (uvotel_resource_init_owner)(r, type, trigger_id, flags, owner);
  }
  uint64_t id = h->next_id++;
  r->id_ = id;
  r->trigger_ = trigger_id ? trigger_id : (h->exec_id ? h->exec_id : 1);
  r->owner_ = owner ? owner : (void *)r;
  m->refs++;
  r->ctx_ = m;
  r->refs_ = 1;
  r->flags_ = flags | UVOTEL__RES_LIVE;
  uvotel__hooktab_t *tab = h->hooks;
  if (tab != NULL && tab->n[UVOTEL__EV_INIT] != 0) {
    h->in_hook = 1;
    const uvotel__hookfn_t *f = tab->fns[UVOTEL__EV_INIT];
    uint32_t n = tab->n[UVOTEL__EV_INIT];
    if (UVOTEL__LIKELY_(n == 1)) {
      ((void (*)(uint64_t, const char *, uint64_t, void *, void *))f->fn)(id, type, r->trigger_,
                                                                          r->owner_, f->arg);
    } else {
      for (uint32_t i = 0; i < n; i++) {
        ((void (*)(uint64_t, const char *, uint64_t, void *, void *))f[i].fn)(id, type, r->trigger_,
                                                                              r->owner_, f[i].arg);
      }
    }
    h->in_hook = 0;
    if (UVOTEL__UNLIKELY_(h->retired != NULL || h->free_after_dispatch != NULL)) {
      uvotel__dispatch_end();
    }
  }
  return 0;
}

/* uvotel_resource_emit_destroy's common case: a live resource on a thread with no hook enabled
 * (nobody to queue a destroy event for) releases its context and is done. With a hook, or on
 * bad arguments, the exported function does everything. */
static inline int uvotel__resource_emit_destroy_fast(uvotel_resource_t *r) {
  if (UVOTEL__LIKELY_(r != NULL && (r->flags_ & UVOTEL__RES_LIVE) &&
                      uvotel__hot()->hooks == NULL)) {
    struct uvotel_snapshot_s *ctx = r->ctx_;
    r->flags_ &= ~UVOTEL__RES_LIVE;
    r->ctx_ = NULL;
    uvotel__snapshot_release_fast(ctx); /* the static empty snapshot has no owner: no count */
    return 0;
  }
  return (uvotel_resource_emit_destroy)(r);
}

static inline uvotel_async_id_t uvotel__resource_async_id_fast(const uvotel_resource_t *r) {
  return r ? r->id_ : 0;
}

static inline int uvotel__resource_recapture_fast(uvotel_resource_t *r) {
  if (UVOTEL__LIKELY_(r != NULL && (r->flags_ & UVOTEL__RES_LIVE))) {
    if (r->flags_ & UVOTEL_RESOURCE_ROOT_CONTEXT) return 0;
    const struct uvotel_snapshot_s *cur = uvotel__hot()->ctx, *old = r->ctx_;
    /* already holds the current context (NULL and the static empty snapshot are both empty) */
    if (old != NULL && (old == cur || (cur == NULL && old->owner == NULL))) return 0;
  }
  return (uvotel_resource_recapture)(r);
}

/* Route the public names to the inline forms (see the top of this file). The SDK's own sources
 * define the exported functions and build with UVOTEL__BUILDING. */
#if !defined(UVOTEL_NO_INLINE) && !defined(UVOTEL__BUILDING)
#define uvotel_var_get(v) uvotel__var_get_fast(v)
#define uvotel_snapshot_capture() uvotel__snapshot_capture_fast()
#define uvotel_snapshot_release(s) uvotel__snapshot_release_fast(s)
#define uvotel_resource_enter(r, cs) uvotel__resource_enter_fast((r), (cs))
#define uvotel_resource_exit(cs) uvotel__resource_exit_fast(cs)
#define uvotel_resource_async_id(r) uvotel__resource_async_id_fast(r)
#define uvotel_resource_recapture(r) uvotel__resource_recapture_fast(r)
#define uvotel_resource_emit_destroy(r) uvotel__resource_emit_destroy_fast(r)
#define uvotel_resource_init_owner(r, type, trigger, flags, owner) \
  uvotel__resource_init_owner_fast((r), (type), (trigger), (flags), (owner))
#endif

#ifdef __cplusplus
}
#endif
#endif
