/* Async context: variables, immutable mappings (snapshots), scopes.
 *
 * A mapping is reference counted by its owner thread only (an atomic pair costs ~12 ns here, a
 * plain one ~0.6 ns) and comes in two forms (struct uvotel_snapshot_s, uvotel/fast.h):
 *
 *   flat   base NULL: n (variable id, value, ops) entries sorted by variable id, each value
 *          retained by the mapping;
 *   delta  base set: one entry over `base`, a mapping of the same owner that the delta holds a
 *          reference to; only its own value is retained by it. chain counts the deltas from
 *          here down to the first flat mapping (flat: 0).
 *
 * Entering v over a mapping m makes
 *   - a flat copy with v set when m is flat and the result has at most UVOTEL__POOL_MAX_N (8)
 *     entries: the common case, which uvotel/fast.h's inline uvotel_var_get searches;
 *   - a flat copy of everything m shows, plus v, when m belongs to another thread (a pool thread
 *     running in the submitter's context): it cannot count m;
 *   - otherwise a delta over m, or, when m already has UVOTEL__CHAIN_MAX deltas under it, over
 *     m's flat memo: a flat equivalent of m built the first time it is needed and kept (a
 *     counted reference in next_free) until m dies, so entering over the same m again is O(1).
 * So entering and exiting with any number of variables set copies nothing in steady state (a
 * pooled one-entry block and two counts), and a lookup visits at most UVOTEL__CHAIN_MAX deltas
 * and then a flat array (linear up to 8 entries, binary search above).
 *
 * Mappings come from per-thread pools by size class (exact sizes 0..8, then powers of two up to
 * 256 entries), so steady state allocates nothing. Variable ids are never reused, so a mapping
 * that outlives its variable cannot be confused with a later one. */
#include <stdlib.h>

#include "context_internal.h"

#define SCOPE_MAGIC 0x5c09e5u
#define FLAT_MAX UVOTEL__POOL_MAX_N
#define CLASS_NONE 0xffffu

uvotel_snapshot_t uvotel__empty_snapshot = {0};

static _Atomic uint64_t g_var_ids = 1;

static inline uint32_t scope_magic(const uvotel__tls_t *t) {
  return SCOPE_MAGIC ^ (uint32_t)((uintptr_t)t >> 4);
}

/* ---- mappings ---- */

/* Size class of a mapping of n entries, and the entries a block of that class holds. */
static inline uint32_t size_class(uint32_t n) {
  if (n <= FLAT_MAX) return n;
  if (n > 256) return CLASS_NONE;
  uint32_t c = FLAT_MAX + 1, cap = 16;
  while (cap < n) {
    cap <<= 1;
    c++;
  }
  return c;
}

static inline uint32_t class_cap(uint32_t c, uint32_t n) {
  if (c == CLASS_NONE) return n;
  return c <= FLAT_MAX ? c : 16u << (c - FLAT_MAX - 1);
}

/* A block for up to n entries (m->n is set to n; the caller may lower it). Inlined: it is the
 * bulk of entering a scope. */
static inline __attribute__((always_inline)) uvotel_snapshot_t *map_alloc(uvotel__tls_t *t,
                                                                          uint32_t n) {
  uint32_t c = size_class(n);
  uvotel_snapshot_t *m;
  if (c != CLASS_NONE && t->pool[c] != NULL) {
    m = t->pool[c];
    t->pool[c] = m->next_free;
    t->pool_n[c]--;
  } else {
    m = uvotel_malloc(sizeof *m + class_cap(c, n) * sizeof(uvotel__entry_t));
    if (m == NULL) return NULL;
    uvotel__tls_register(t);
  }
  m->refs = 1;
  m->n = n;
  m->owner = t;
  m->base = NULL;
  m->next_free = NULL;
  m->chain = 0;
  m->cls = (uint16_t)c;
  return m;
}

static inline __attribute__((always_inline)) void map_free(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  uint32_t c = m->cls;
  if (c != CLASS_NONE && t->pool_n[c] < UVOTEL__POOL_CAP) {
    m->next_free = t->pool[c];
    t->pool[c] = m;
    t->pool_n[c]++;
  } else {
    uvotel_free(m);
  }
}

/* The last reference went: release the values, the memo and the base (iteratively: a chain of
 * deltas dies block by block). Into the pools of the thread releasing it (its owner, or the
 * thread a flat copy was handed to). */
void uvotel__ctx_release_slow(uvotel_snapshot_t *m) {
  uvotel__tls_t *t = &uvotel__tls;
  while (m != NULL) {
    for (uint32_t i = 0; i < m->n; i++) {
      const uvotel_value_ops_t *ops = m->e[i].ops;
      if (ops != NULL && ops->release != NULL) ops->release(m->e[i].value);
    }
    uvotel_snapshot_t *base = m->base, *memo = m->next_free;
    map_free(t, m);
    /* a memo is flat: no base and no memo of its own, so this recursion is one level deep */
    if (memo != NULL && --memo->refs == 0) uvotel__ctx_release_slow(memo);
    m = (base != NULL && --base->refs == 0) ? base : NULL;
  }
}

UVOTEL__API void uvotel__snapshot_free(uvotel_snapshot_t *s) {
  uvotel__ctx_release_slow(s);
}

/* Drop t's reference to m (owned by t): the commonest last release, a flat mapping without a
 * memo, inline; the rest through uvotel__ctx_release_slow. */
static inline void ctx_drop(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  if (m == NULL || m->owner == NULL || --m->refs != 0) return;
  if (UVOTEL__LIKELY(m->base == NULL && m->next_free == NULL)) {
    for (uint32_t i = 0; i < m->n; i++) {
      const uvotel_value_ops_t *ops = m->e[i].ops;
      if (ops != NULL && ops->release != NULL) ops->release(m->e[i].value);
    }
    map_free(t, m);
    return;
  }
  uvotel__ctx_release_slow(m);
}

static inline void value_retain(const uvotel__entry_t *e) {
  if (e->ops != NULL && e->ops->retain != NULL) e->ops->retain(e->value);
}

/* The entry m shows for variable id, or NULL. */
static const uvotel__entry_t *map_find(const uvotel_snapshot_t *m, uint64_t id) {
  for (; m != NULL && m->base != NULL; m = m->base) {
    if (m->e[0].var_id == id) return &m->e[0];
  }
  if (m == NULL) return NULL;
  uint32_t n = m->n;
  if (n <= FLAT_MAX) {
    for (uint32_t i = 0; i < n; i++) {
      if (m->e[i].var_id == id) return &m->e[i];
    }
    return NULL;
  }
  uint32_t lo = 0, hi = n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (m->e[mid].var_id < id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo < n && m->e[lo].var_id == id ? &m->e[lo] : NULL;
}

/* Set e in the sorted array a of *n entries (with room for one more): replace or insert. */
static void sorted_put(uvotel__entry_t *a, uint32_t *n, const uvotel__entry_t *e) {
  uint32_t lo = 0, hi = *n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (a[mid].var_id < e->var_id) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo < *n && a[lo].var_id == e->var_id) {
    a[lo] = *e;
    return;
  }
  memmove(a + lo + 1, a + lo, (*n - lo) * sizeof *a);
  a[lo] = *e;
  (*n)++;
}

/* A new flat mapping owned by t showing what m shows (m may be NULL, or another thread's), with
 * `top` set over it when not NULL and variable id `skip` left out when not 0. Every value is
 * retained for it. NULL: out of memory, or (with skip) nothing is left: *empty is set then. */
static uvotel_snapshot_t *map_flatten(uvotel__tls_t *t, const uvotel_snapshot_t *m,
                                      const uvotel__entry_t *top, uint64_t skip, int *empty) {
  const uvotel_snapshot_t *deltas[UVOTEL__CHAIN_MAX];
  uint32_t nd = 0;
  *empty = 0;
  while (m != NULL && m->base != NULL && nd < UVOTEL__CHAIN_MAX) {
    deltas[nd++] = m;
    m = m->base;
  }
  /* Chains are at most UVOTEL__CHAIN_MAX long; should one be longer, resolve the rest first
   * rather than overrun. */
  uvotel_snapshot_t *rest = NULL;
  if (m != NULL && m->base != NULL) {
    int e;
    rest = map_flatten(t, m, NULL, 0, &e);
    if (rest == NULL) return NULL;
    m = rest;
  }
  uint32_t bn = m != NULL ? m->n : 0;
  uvotel_snapshot_t *f = map_alloc(t, bn + nd + (top != NULL ? 1u : 0u));
  if (f == NULL) {
    if (rest != NULL) uvotel__ctx_release(t, rest);
    return NULL;
  }
  uint32_t n = bn;
  if (bn != 0) memcpy(f->e, m->e, bn * sizeof(uvotel__entry_t));
  while (nd > 0) sorted_put(f->e, &n, &deltas[--nd]->e[0]);
  if (top != NULL) sorted_put(f->e, &n, top);
  if (skip != 0) {
    uint32_t j = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (f->e[i].var_id != skip) f->e[j++] = f->e[i];
    }
    n = j;
  }
  f->n = n;
  for (uint32_t i = 0; i < n; i++) value_retain(&f->e[i]);
  if (rest != NULL) uvotel__ctx_release(t, rest);
  if (n == 0 && skip != 0) {
    map_free(t, f);
    *empty = 1;
    return NULL;
  }
  return f;
}

/* m (owned by t) as a flat mapping, borrowed: m itself or its memo (made now if need be).
 * NULL: out of memory. */
static uvotel_snapshot_t *flat_of(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  if (m->base == NULL) return m;
  if (m->next_free == NULL) {
    int empty;
    m->next_free = map_flatten(t, m, NULL, 0, &empty);
  }
  return m->next_free;
}

/* A new mapping: base with v set to value (the top of the file says which form it takes).
 * NULL: out of memory. */
static uvotel_snapshot_t *map_with(uvotel__tls_t *t, uvotel_snapshot_t *base, const uvotel_var_t *v,
                                   void *value) {
  uvotel__entry_t e = {__atomic_load_n(&v->id, __ATOMIC_RELAXED), value, v->ops};
  if (base != NULL && base->owner != t) {
    int empty;
    return map_flatten(t, base, &e, 0, &empty);
  }
  if (base == NULL || base->base == NULL) {
    uint32_t bn = base != NULL ? base->n : 0, pos = 0;
    while (pos < bn && base->e[pos].var_id < e.var_id) pos++;
    int replace = pos < bn && base->e[pos].var_id == e.var_id;
    uint32_t n = bn + (replace ? 0u : 1u);
    if (n <= FLAT_MAX) {
      uvotel_snapshot_t *m = map_alloc(t, n);
      if (m == NULL) return NULL;
      uint32_t j = 0;
      for (uint32_t i = 0; i < pos; i++) m->e[j++] = base->e[i];
      m->e[j++] = e;
      for (uint32_t i = pos + (uint32_t)replace; i < bn; i++) m->e[j++] = base->e[i];
      for (uint32_t i = 0; i < n; i++) value_retain(&m->e[i]);
      return m;
    }
  }
  uvotel_snapshot_t *under = base->chain < UVOTEL__CHAIN_MAX ? base : flat_of(t, base);
  if (under == NULL) return NULL;
  uvotel_snapshot_t *m = map_alloc(t, 1);
  if (m == NULL) return NULL;
  m->base = under;
  under->refs++;
  m->chain = (uint16_t)(under->chain + 1);
  m->e[0] = e;
  value_retain(&m->e[0]);
  return m;
}

/* A private flat copy of base (for another thread, or taken off the owner thread). */
static uvotel_snapshot_t *map_copy(uvotel__tls_t *t, const uvotel_snapshot_t *base) {
  int empty;
  return map_flatten(t, base, NULL, 0, &empty);
}

uvotel_snapshot_t *uvotel__ctx_capture_slow(uvotel__tls_t *t) {
  uvotel_snapshot_t *m = t->hot.ctx;
  if (m == NULL) return &uvotel__empty_snapshot;
  if (m->owner == t) {
    m->refs++;
    return m;
  }
  /* Borrowed from another thread (a pool thread running in the submitter's context): counting
   * it here would race with its owner, so take a private copy. */
  return map_copy(t, m);
}

/* ---- scopes ---- */

static int push_scope(uvotel__tls_t *t, uvotel_snapshot_t *held) {
  if (UVOTEL__UNLIKELY(t->hot.depth == t->stack_cap)) {
    uint32_t cap = t->stack_cap ? t->stack_cap * 2 : 16;
    uvotel_snapshot_t **s = uvotel_realloc(t->stack, cap * sizeof *s);
    if (s == NULL) return UVOTEL_ENOMEM;
    t->stack = s;
    t->stack_cap = cap;
    uvotel__tls_register(t);
  }
  t->stack[t->hot.depth++] = held;
  return 0;
}

void uvotel__unwind_scopes(uvotel__tls_t *t, uint32_t depth) {
  while (t->hot.depth > depth) {
    uvotel_snapshot_t *held = t->stack[--t->hot.depth];
    if (held != NULL) uvotel__ctx_release(t, held);
  }
}

/* Make m current as a new scope. held: the reference the scope owns (NULL: borrowed). */
static int scope_open(uvotel__tls_t *t, uvotel_snapshot_t *m, uvotel_snapshot_t *held,
                      uvotel_scope_t *out) {
  int err = push_scope(t, held);
  if (err) return err;
  out->prev_ = t->hot.ctx;
  out->ctx_ = m;
  out->depth_ = t->hot.depth;
  out->magic_ = scope_magic(t);
  t->hot.ctx = m;
  return 0;
}

UVOTEL__API int uvotel_scope_exit(uvotel_scope_t *scope) {
  uvotel__tls_t *t = &uvotel__tls;
  if (scope == NULL || scope->magic_ != scope_magic(t) || scope->depth_ == 0 ||
      scope->depth_ != t->hot.depth || (void *)t->hot.ctx != scope->ctx_) {
    return UVOTEL_EINVAL;
  }
  uvotel_snapshot_t *held = t->stack[--t->hot.depth];
  t->hot.ctx = scope->prev_;
  scope->magic_ = 0;
  /* held is NULL or t's own: a scope holds only references it counted */
  ctx_drop(t, held);
  return 0;
}

/* ---- variables ---- */

UVOTEL__API uvotel_var_t *uvotel_var_create(const char *name, void *default_value,
                                            const uvotel_value_ops_t *ops) {
  uvotel_var_t *v = uvotel_calloc(1, sizeof *v);
  if (v == NULL) return NULL;
  v->name = uvotel_strdup(name ? name : "");
  if (v->name == NULL) {
    uvotel_free(v);
    return NULL;
  }
  v->id = atomic_fetch_add_explicit(&g_var_ids, 1, memory_order_relaxed);
  v->default_value = default_value;
  v->ops = ops;
  return v;
}

UVOTEL__API void uvotel_var_free(uvotel_var_t *v) {
  if (v == NULL) return;
  uvotel_free(v->name);
  uvotel_free(v);
}

UVOTEL__API const char *uvotel_var_name(const uvotel_var_t *v) {
  return v ? v->name : "";
}

static inline uint64_t var_id(const uvotel_var_t *v) {
  return __atomic_load_n(&v->id, __ATOMIC_RELAXED);
}

static inline void *map_get(const uvotel_snapshot_t *m, const uvotel_var_t *v) {
  const uvotel__entry_t *e = map_find(m, var_id(v));
  return e != NULL ? e->value : v->default_value;
}

/* uvotel/fast.h's inline form searches small flat mappings itself and calls this otherwise. */
UVOTEL__API void *uvotel__var_get_slow(const uvotel_var_t *v) {
  return map_get(uvotel__tls.hot.ctx, v);
}

UVOTEL__API void *uvotel_var_get(const uvotel_var_t *v) {
  return uvotel__var_get_fast(v);
}

UVOTEL__API int uvotel_var_enter(uvotel_var_t *v, void *value, uvotel_scope_t *out) {
  if (v == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  uvotel_snapshot_t *m = map_with(t, t->hot.ctx, v, value);
  if (m == NULL) return UVOTEL_ENOMEM;
  int err = scope_open(t, m, m, out);
  if (err) {
    uvotel__ctx_release(t, m);
    return err;
  }
  if (UVOTEL__UNLIKELY(!__atomic_load_n(&uvotel__tracking, __ATOMIC_RELAXED))) {
    uvotel__set_tracking();
  }
  return 0;
}

UVOTEL__API void *uvotel_var_run(uvotel_var_t *v, void *value, void *(*fn)(void *arg), void *arg) {
  if (v == NULL || fn == NULL) return NULL;
  uvotel__tls_t *t = &uvotel__tls;
  uint32_t depth = t->hot.depth;
  uvotel_snapshot_t *prev = t->hot.ctx;
  uvotel_scope_t scope;
  if (uvotel_var_enter(v, value, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->hot.ctx = prev;
  return ret;
}

/* A new mapping: base without v (NULL when that leaves it empty; *same = 1 and NULL when v is
 * not set in base, so the caller can reuse base). */
static uvotel_snapshot_t *map_without(uvotel__tls_t *t, uvotel_snapshot_t *base,
                                      const uvotel_var_t *v, int *same, int *oom) {
  uint64_t id = var_id(v);
  *same = map_find(base, id) == NULL;
  *oom = 0;
  if (*same) return NULL;
  int empty;
  uvotel_snapshot_t *m = map_flatten(t, base, NULL, id, &empty);
  if (m == NULL && !empty) *oom = 1;
  return m;
}

UVOTEL__API int uvotel_var_enter_unset(uvotel_var_t *v, uvotel_scope_t *out) {
  if (v == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  int same, oom;
  uvotel_snapshot_t *m = map_without(t, t->hot.ctx, v, &same, &oom);
  if (oom) return UVOTEL_ENOMEM;
  if (same) {
    /* v is not set here: the scope borrows the current mapping */
    return scope_open(t, t->hot.ctx, NULL, out);
  }
  int err = scope_open(t, m, m, out);
  if (err && m != NULL) uvotel__ctx_release(t, m);
  return err;
}

UVOTEL__API void *uvotel_var_exit_run(uvotel_var_t *v, void *(*fn)(void *arg), void *arg) {
  if (v == NULL || fn == NULL) return NULL;
  uvotel__tls_t *t = &uvotel__tls;
  uint32_t depth = t->hot.depth;
  uvotel_snapshot_t *prev = t->hot.ctx;
  uvotel_scope_t scope;
  if (uvotel_var_enter_unset(v, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->hot.ctx = prev;
  return ret;
}

UVOTEL__API void uvotel_var_disable(uvotel_var_t *v) {
  if (v == NULL) return;
  /* A fresh identity: every mapping made so far holds the old id, so none of them shows a value
   * for v any more, on any thread; they release those values as they die. Ids are never
   * reused, and the new one sorts after every id in existing mappings. */
  __atomic_store_n(&v->id, atomic_fetch_add_explicit(&g_var_ids, 1, memory_order_relaxed),
                   __ATOMIC_RELAXED);
}

/* ---- snapshots ---- */

UVOTEL__API uvotel_snapshot_t *uvotel_snapshot_capture(void) {
  return uvotel__ctx_capture(&uvotel__tls);
}

UVOTEL__API uvotel_snapshot_t *uvotel_snapshot_capture_handover(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->hot.ctx == NULL) return &uvotel__empty_snapshot;
  return map_copy(t, t->hot.ctx);
}

UVOTEL__API uvotel_snapshot_t *uvotel_snapshot_retain(uvotel_snapshot_t *s) {
  if (s != NULL && s->owner != NULL) s->refs++;
  return s;
}

UVOTEL__API void uvotel_snapshot_release(uvotel_snapshot_t *s) {
  uvotel__snapshot_release_fast(s);
}

UVOTEL__API int uvotel_snapshot_enter(uvotel_snapshot_t *s, uvotel_scope_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  uvotel_snapshot_t *m = s->owner != NULL ? s : NULL;
  /* Count the reference only on the owner thread; elsewhere the caller keeps s alive. */
  uvotel_snapshot_t *held = (m != NULL && m->owner == t) ? m : NULL;
  if (held != NULL) held->refs++;
  int err = scope_open(t, m, held, out);
  if (err && held != NULL) held->refs--;
  return err;
}

UVOTEL__API void *uvotel_snapshot_run(uvotel_snapshot_t *s, void *(*fn)(void *arg), void *arg) {
  if (s == NULL || fn == NULL) return NULL;
  uvotel__tls_t *t = &uvotel__tls;
  uint32_t depth = t->hot.depth;
  uvotel_snapshot_t *prev = t->hot.ctx;
  uvotel_scope_t scope;
  if (uvotel_snapshot_enter(s, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->hot.ctx = prev;
  return ret;
}

UVOTEL__API void *uvotel_snapshot_get(const uvotel_snapshot_t *s, const uvotel_var_t *v) {
  if (v == NULL) return NULL;
  if (s == NULL) return v->default_value;
  return map_get(s->owner != NULL ? s : NULL, v);
}

/* ---- per-thread cleanup (uvotel_thread_cleanup, thread exit) ---- */

static void context_thread_cleanup(uvotel__tls_t *t) {
  for (int n = 0; n < UVOTEL__POOL_CLASSES; n++) {
    while (t->pool[n] != NULL) {
      uvotel_snapshot_t *m = t->pool[n];
      t->pool[n] = m->next_free;
      uvotel_free(m);
    }
    t->pool_n[n] = 0;
  }
  if (t->hot.depth == 0) {
    uvotel_free(t->stack);
    t->stack = NULL;
    t->stack_cap = 0;
  }
}

__attribute__((constructor)) static void context_layer_register(void) {
  uvotel__tls_layer_cleanup(UVOTEL__LAYER_CONTEXT, context_thread_cleanup);
}
