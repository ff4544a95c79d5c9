/* Async context: variables, immutable mappings (snapshots), scopes.
 *
 * A mapping is a flat array of (variable id, value, ops) sorted by variable id, reference
 * counted by its owner thread only (an atomic pair costs ~12 ns here, a plain one ~0.6 ns).
 * Mappings of up to UVOTEL__POOL_MAX_N entries come from a per-thread free list, so entering and
 * exiting scopes allocates nothing in steady state. Variable ids are never reused, so a mapping
 * that outlives its variable cannot be confused with a later one. */
#include <stdlib.h>

#include "context_internal.h"

#define SCOPE_MAGIC 0x5c09e5u

struct uvotel_var_s {
  uint64_t id; /* replaced by a fresh one at disable: read and written with __atomic, relaxed */
  void *default_value;
  const uvotel_value_ops_t *ops;
  char *name;
};

uvotel_snapshot_t uvotel__empty_snapshot = {0};

static _Atomic uint64_t g_var_ids = 1;

static inline uint32_t scope_magic(const uvotel__tls_t *t) {
  return SCOPE_MAGIC ^ (uint32_t)((uintptr_t)t >> 4);
}

/* ---- mappings ---- */

static uvotel_snapshot_t *map_alloc(uvotel__tls_t *t, uint32_t n) {
  uvotel_snapshot_t *m;
  if (n <= UVOTEL__POOL_MAX_N && t->pool[n] != NULL) {
    m = t->pool[n];
    t->pool[n] = m->next_free;
    t->pool_n[n]--;
  } else {
    m = uvotel_malloc(sizeof *m + n * sizeof(uvotel__entry_t));
    if (m == NULL) return NULL;
    uvotel__tls_register(t);
  }
  m->refs = 1;
  m->n = n;
  m->owner = t;
  return m;
}

static void map_free(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  uint32_t n = m->n;
  if (n <= UVOTEL__POOL_MAX_N && t->pool_n[n] < UVOTEL__POOL_CAP) {
    m->next_free = t->pool[n];
    t->pool[n] = m;
    t->pool_n[n]++;
  } else {
    uvotel_free(m);
  }
}

void uvotel__ctx_release_slow(uvotel_snapshot_t *m) {
  for (uint32_t i = 0; i < m->n; i++) {
    const uvotel_value_ops_t *ops = m->e[i].ops;
    if (ops != NULL && ops->release != NULL) ops->release(m->e[i].value);
  }
  /* Into the pool of the thread releasing it (its owner, or the thread it was handed to). */
  map_free(&uvotel__tls, m);
}

static inline void value_retain(const uvotel__entry_t *e) {
  if (e->ops != NULL && e->ops->retain != NULL) e->ops->retain(e->value);
}

/* A new mapping: base with v set to value. Every value is retained for the new mapping. */
static uvotel_snapshot_t *map_with(uvotel__tls_t *t, const uvotel_snapshot_t *base,
                                   const uvotel_var_t *v, void *value) {
  uint32_t bn = base ? base->n : 0;
  uint32_t pos = 0;
  uint64_t id = __atomic_load_n(&v->id, __ATOMIC_RELAXED);
  while (pos < bn && base->e[pos].var_id < id) pos++;
  int replace = pos < bn && base->e[pos].var_id == id;
  uvotel_snapshot_t *m = map_alloc(t, bn + (replace ? 0 : 1));
  if (m == NULL) return NULL;
  uint32_t j = 0;
  for (uint32_t i = 0; i < pos; i++) m->e[j++] = base->e[i];
  m->e[j].var_id = id;
  m->e[j].value = value;
  m->e[j].ops = v->ops;
  j++;
  for (uint32_t i = pos + (uint32_t)replace; i < bn; i++) m->e[j++] = base->e[i];
  for (uint32_t i = 0; i < m->n; i++) value_retain(&m->e[i]);
  return m;
}

static uvotel_snapshot_t *map_copy(uvotel__tls_t *t, const uvotel_snapshot_t *base) {
  uvotel_snapshot_t *m = map_alloc(t, base->n);
  if (m == NULL) return NULL;
  memcpy(m->e, base->e, base->n * sizeof(uvotel__entry_t));
  for (uint32_t i = 0; i < m->n; i++) value_retain(&m->e[i]);
  return m;
}

uvotel_snapshot_t *uvotel__ctx_capture(uvotel__tls_t *t) {
  uvotel_snapshot_t *m = t->ctx;
  if (m == NULL) return &uvotel__empty_snapshot;
  if (UVOTEL__LIKELY(m->owner == t)) {
    m->refs++;
    return m;
  }
  /* Borrowed from another thread (a pool thread running in the submitter's context): counting
   * it here would race with its owner, so take a private copy. */
  return map_copy(t, m);
}

/* ---- scopes ---- */

static int push_scope(uvotel__tls_t *t, uvotel_snapshot_t *held) {
  if (UVOTEL__UNLIKELY(t->depth == t->stack_cap)) {
    uint32_t cap = t->stack_cap ? t->stack_cap * 2 : 16;
    uvotel_snapshot_t **s = uvotel_realloc(t->stack, cap * sizeof *s);
    if (s == NULL) return UVOTEL_ENOMEM;
    t->stack = s;
    t->stack_cap = cap;
    uvotel__tls_register(t);
  }
  t->stack[t->depth++] = held;
  return 0;
}

void uvotel__unwind_scopes(uvotel__tls_t *t, uint32_t depth) {
  while (t->depth > depth) {
    uvotel_snapshot_t *held = t->stack[--t->depth];
    if (held != NULL) uvotel__ctx_release(t, held);
  }
}

/* Make m current as a new scope. held: the reference the scope owns (NULL: borrowed). */
static int scope_open(uvotel__tls_t *t, uvotel_snapshot_t *m, uvotel_snapshot_t *held,
                      uvotel_scope_t *out) {
  int err = push_scope(t, held);
  if (err) return err;
  out->prev_ = t->ctx;
  out->ctx_ = m;
  out->depth_ = t->depth;
  out->magic_ = scope_magic(t);
  t->ctx = m;
  return 0;
}

UVOTEL__API int uvotel_scope_exit(uvotel_scope_t *scope) {
  uvotel__tls_t *t = &uvotel__tls;
  if (scope == NULL || scope->magic_ != scope_magic(t) || scope->depth_ == 0 ||
      scope->depth_ != t->depth || (void *)t->ctx != scope->ctx_) {
    return UVOTEL_EINVAL;
  }
  uvotel_snapshot_t *held = t->stack[--t->depth];
  t->ctx = scope->prev_;
  scope->magic_ = 0;
  if (held != NULL) uvotel__ctx_release(t, held);
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
  if (m != NULL) {
    uint64_t id = var_id(v);
    for (uint32_t i = 0, n = m->n; i < n; i++) {
      if (m->e[i].var_id == id) return m->e[i].value;
    }
  }
  return v->default_value;
}

UVOTEL__API void *uvotel_var_get(const uvotel_var_t *v) {
  if (UVOTEL__UNLIKELY(v == NULL)) return NULL;
  return map_get(uvotel__tls.ctx, v);
}

UVOTEL__API int uvotel_var_enter(uvotel_var_t *v, void *value, uvotel_scope_t *out) {
  if (v == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  uvotel_snapshot_t *m = map_with(t, t->ctx, v, value);
  if (m == NULL) return UVOTEL_ENOMEM;
  int err = scope_open(t, m, m, out);
  if (err) {
    uvotel__ctx_release(t, m);
    return err;
  }
  uvotel__set_tracking();
  return 0;
}

UVOTEL__API void *uvotel_var_run(uvotel_var_t *v, void *value, void *(*fn)(void *arg), void *arg) {
  if (v == NULL || fn == NULL) return NULL;
  uvotel__tls_t *t = &uvotel__tls;
  uint32_t depth = t->depth;
  uvotel_snapshot_t *prev = t->ctx;
  uvotel_scope_t scope;
  if (uvotel_var_enter(v, value, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->ctx = prev;
  return ret;
}

/* A new mapping: base without v (NULL when that leaves it empty; *same = 1 and NULL when v was
 * not in base, so the caller can reuse base). */
static uvotel_snapshot_t *map_without(uvotel__tls_t *t, uvotel_snapshot_t *base,
                                      const uvotel_var_t *v, int *same, int *oom) {
  uint32_t bn = base ? base->n : 0, pos = 0;
  uint64_t id = __atomic_load_n(&v->id, __ATOMIC_RELAXED);
  while (pos < bn && base->e[pos].var_id != id) pos++;
  *same = pos == bn;
  *oom = 0;
  if (*same || bn == 1) return NULL;
  uvotel_snapshot_t *m = map_alloc(t, bn - 1);
  if (m == NULL) {
    *oom = 1;
    return NULL;
  }
  uint32_t j = 0;
  for (uint32_t i = 0; i < bn; i++) {
    if (i != pos) m->e[j++] = base->e[i];
  }
  for (uint32_t i = 0; i < m->n; i++) value_retain(&m->e[i]);
  return m;
}

UVOTEL__API int uvotel_var_enter_unset(uvotel_var_t *v, uvotel_scope_t *out) {
  if (v == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__tls_t *t = &uvotel__tls;
  int same, oom;
  uvotel_snapshot_t *m = map_without(t, t->ctx, v, &same, &oom);
  if (oom) return UVOTEL_ENOMEM;
  if (same) {
    /* v is not set here: the scope borrows the current mapping */
    return scope_open(t, t->ctx, NULL, out);
  }
  int err = scope_open(t, m, m, out);
  if (err && m != NULL) uvotel__ctx_release(t, m);
  return err;
}

UVOTEL__API void *uvotel_var_exit_run(uvotel_var_t *v, void *(*fn)(void *arg), void *arg) {
  if (v == NULL || fn == NULL) return NULL;
  uvotel__tls_t *t = &uvotel__tls;
  uint32_t depth = t->depth;
  uvotel_snapshot_t *prev = t->ctx;
  uvotel_scope_t scope;
  if (uvotel_var_enter_unset(v, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->ctx = prev;
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
  if (t->ctx == NULL) return &uvotel__empty_snapshot;
  return map_copy(t, t->ctx);
}

UVOTEL__API uvotel_snapshot_t *uvotel_snapshot_retain(uvotel_snapshot_t *s) {
  if (s != NULL && s->owner != NULL) s->refs++;
  return s;
}

UVOTEL__API void uvotel_snapshot_release(uvotel_snapshot_t *s) {
  if (s != NULL && s->owner != NULL && --s->refs == 0) uvotel__ctx_release_slow(s);
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
  uint32_t depth = t->depth;
  uvotel_snapshot_t *prev = t->ctx;
  uvotel_scope_t scope;
  if (uvotel_snapshot_enter(s, &scope) != 0) return NULL;
  void *ret = fn(arg);
  uvotel__unwind_scopes(t, depth);
  t->ctx = prev;
  return ret;
}

UVOTEL__API void *uvotel_snapshot_get(const uvotel_snapshot_t *s, const uvotel_var_t *v) {
  if (v == NULL) return NULL;
  if (s == NULL) return v->default_value;
  return map_get(s->owner != NULL ? s : NULL, v);
}

/* ---- per-thread cleanup (uvotel_thread_cleanup, thread exit) ---- */

static void context_thread_cleanup(uvotel__tls_t *t) {
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
}

__attribute__((constructor)) static void context_layer_register(void) {
  uvotel__tls_layer_cleanup(UVOTEL__LAYER_CONTEXT, context_thread_cleanup);
}
