/* Spans: pooled slots, attributes/events/links with limits, end, the current-span variable and
 * the read-only finished-span data API. */
#include <stdlib.h>

#include "trace_internal.h"

/* A static span for NULL tracers and exhausted pools: non-recording, invalid context,
 * references not counted. */
uvotel_span_t uvotel__invalid_span = {.state = UVOTEL__SPAN_NONREC,
                                      .flags = UVOTEL__SPAN_F_STATIC,
                                      .kind = UVOTEL_SPAN_KIND_INTERNAL,
                                      .name = ""};

UVOTEL__TLS uint32_t uvotel__shard_id;
static atomic_uint g_shard_next = 1;

uint32_t uvotel__shard_assign(void) {
  uint32_t i = atomic_fetch_add(&g_shard_next, 1);
  if (i >= UVOTEL__SHARDS) i = UVOTEL__SHARDS; /* shared: shard 0, atomically */
  uvotel__shard_id = i;
  return i < UVOTEL__SHARDS ? i : 0;
}

/* ---- arena ---- */

void *uvotel__arena_alloc(uvotel_span_t *s, size_t size) {
  size = (size + 7u) & ~(size_t)7u;
  uvotel__chunk_t *c = s->arena_cur, *last = NULL;
  while (c != NULL && c->used + size > c->cap) {
    last = c;
    c = c->next;
  }
  if (c == NULL) {
    size_t cap = 1024;
    if (last != NULL && last->cap * 2 > cap) cap = last->cap * 2;
    if (cap < size) cap = size;
    c = uvotel_malloc(sizeof(uvotel__chunk_t) + cap);
    if (c == NULL) {
      s->arena_failed = 1;
      return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    if (last != NULL) {
      last->next = c;
    } else if (s->arena_first == NULL) {
      s->arena_first = c;
    } else {
      /* cur was NULL but chunks exist: append at the end */
      uvotel__chunk_t *e = s->arena_first;
      while (e->next != NULL) e = e->next;
      e->next = c;
    }
  }
  s->arena_cur = c;
  void *r = c->data + c->used;
  c->used += size;
  return r;
}

static void arena_reset(uvotel_span_t *s) {
  for (uvotel__chunk_t *c = s->arena_first; c != NULL; c = c->next) c->used = 0;
  s->arena_cur = s->arena_first;
  s->arena_failed = 0;
}

void uvotel__arena_free(uvotel_span_t *s) {
  uvotel__chunk_t *c = s->arena_first;
  while (c != NULL) {
    uvotel__chunk_t *n = c->next;
    uvotel_free(c);
    c = n;
  }
  s->arena_first = s->arena_cur = NULL;
}

const char *uvotel__arena_strdup(uvotel_span_t *s, const char *str, size_t len) {
  char *d = uvotel__arena_alloc(s, len + 1);
  if (d == NULL) return NULL;
  if (len != 0) memcpy(d, str, len);
  d[len] = '\0';
  return d;
}

/* ---- attribute copies ---- */

/* Byte length of the first `limit` characters of str (UTF-8; never splits a sequence). */
static size_t trunc_len(const char *str, size_t len, uint32_t limit) {
  if (limit == UVOTEL_LIMIT_UNLIMITED || len <= limit) return len;
  size_t i = 0;
  for (uint32_t chars = 0; i < len && chars < limit; chars++) {
    unsigned char c = (unsigned char)str[i];
    size_t step = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + step > len) step = len - i;
    i += step;
  }
  return i;
}

int uvotel__attr_valid(const uvotel_attribute_t *a) {
  if (a == NULL || a->key == NULL || a->key[0] == '\0') return 0;
  switch (a->value.type) {
    case UVOTEL_VALUE_STRING:
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      return 1;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY:
      return a->value.len == 0 || a->value.u.sa != NULL;
    default:
      return 0;
  }
}

static int copy_value(uvotel_span_t *s, uvotel_value_t *dst, const uvotel_value_t *src,
                      uint32_t limit) {
  uvotel_value_t v = *src;
  switch (src->type) {
    case UVOTEL_VALUE_STRING: {
      const char *str = src->u.s != NULL ? src->u.s : "";
      size_t len = trunc_len(str, strlen(str), limit);
      v.u.s = uvotel__arena_strdup(s, str, len);
      v.len = (uint32_t)len;
      if (v.u.s == NULL) return -1;
      break;
    }
    case UVOTEL_VALUE_STRING_ARRAY: {
      const char **arr = uvotel__arena_alloc(s, sizeof(char *) * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      for (uint32_t i = 0; i < src->len; i++) {
        const char *str = src->u.sa[i] != NULL ? src->u.sa[i] : "";
        arr[i] = uvotel__arena_strdup(s, str, trunc_len(str, strlen(str), limit));
        if (arr[i] == NULL) return -1;
      }
      v.u.sa = arr;
      break;
    }
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t el = src->type == UVOTEL_VALUE_BOOL_ARRAY ? sizeof(bool) : 8;
      void *arr = uvotel__arena_alloc(s, el * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      if (src->len) memcpy(arr, src->u.ia, el * src->len);
      v.u.ia = arr;
      break;
    }
    default:
      break;
  }
  *dst = v;
  return 0;
}

int uvotel__copy_attribute(uvotel_span_t *s, uvotel_attribute_t *dst, const uvotel_attribute_t *src,
                           uint32_t value_limit) {
  const char *key = uvotel__arena_strdup(s, src->key, strlen(src->key));
  if (key == NULL) return -1;
  if (copy_value(s, &dst->value, &src->value, value_limit) != 0) return -1;
  dst->key = key;
  return 0;
}

/* Copy a list of attributes into the arena: later duplicates replace earlier values, at most
 * `limit` distinct keys, the rest counted in *dropped. */
static void copy_attr_list(uvotel_span_t *s, const uvotel_attribute_t *src, size_t n,
                           uint32_t limit, uint32_t value_limit, const uvotel_attribute_t **out,
                           size_t *n_out, uint32_t *dropped) {
  *out = NULL;
  *n_out = 0;
  *dropped = 0;
  if (src == NULL || n == 0) return;
  size_t cap = n < limit ? n : limit;
  uvotel_attribute_t *arr = cap ? uvotel__arena_alloc(s, sizeof(uvotel_attribute_t) * cap) : NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!uvotel__attr_valid(&src[i])) {
      uvotel__misuse(s->provider, "invalid attribute");
      continue;
    }
    size_t j = 0;
    while (j < k && strcmp(arr[j].key, src[i].key) != 0) j++;
    if (j < k) {
      if (copy_value(s, &arr[j].value, &src[i].value, value_limit) != 0) (*dropped)++;
      continue;
    }
    if (k >= cap || arr == NULL) {
      (*dropped)++;
      continue;
    }
    if (uvotel__copy_attribute(s, &arr[k], &src[i], value_limit) != 0) {
      (*dropped)++;
      continue;
    }
    k++;
  }
  *out = arr;
  *n_out = k;
}

/* ---- pool ---- */

static inline uvotel_span_t *slot_at(uvotel_tracer_provider_t *p, uint32_t idx) {
  uvotel_span_t *c =
      atomic_load_explicit(&p->chunks[idx >> UVOTEL__SPAN_CHUNK_SHIFT], memory_order_acquire);
  return &c[idx & (UVOTEL__SPAN_CHUNK - 1)];
}

static void pool_push_chain(uvotel_tracer_provider_t *p, uvotel_span_t *first,
                            uvotel_span_t *last) {
  uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_relaxed);
  uint_fast64_t nh;
  do {
    atomic_store_explicit(&last->next_free, (uint32_t)head, memory_order_relaxed);
    nh = (((head >> 32) + 1) << 32) | (uint64_t)(first->index + 1);
  } while (!atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_release,
                                                  memory_order_relaxed));
}

static uvotel_span_t *pool_grow(uvotel_tracer_provider_t *p) {
  pthread_mutex_lock(&p->mu);
  uint32_t n = atomic_load(&p->n_chunks);
  if ((uint32_t)atomic_load(&p->free_head) != 0) {
    pthread_mutex_unlock(&p->mu);
    return NULL; /* someone else grew: caller retries */
  }
  if ((uint64_t)n * UVOTEL__SPAN_CHUNK >= p->max_spans || n >= UVOTEL__MAX_SPAN_CHUNKS) {
    pthread_mutex_unlock(&p->mu);
    return &uvotel__invalid_span;
  }
  uvotel_span_t *c = uvotel_calloc(UVOTEL__SPAN_CHUNK, sizeof(uvotel_span_t));
  if (c == NULL) {
    pthread_mutex_unlock(&p->mu);
    return &uvotel__invalid_span;
  }
  for (uint32_t i = 0; i < UVOTEL__SPAN_CHUNK; i++) {
    c[i].index = n * UVOTEL__SPAN_CHUNK + i;
    c[i].provider = p;
    atomic_store_explicit(&c[i].next_free, i + 1 < UVOTEL__SPAN_CHUNK ? c[i].index + 2 : 0,
                          memory_order_relaxed);
  }
  atomic_store_explicit(&p->chunks[n], c, memory_order_release);
  atomic_store(&p->n_chunks, n + 1);
  pool_push_chain(p, &c[1], &c[UVOTEL__SPAN_CHUNK - 1]);
  pthread_mutex_unlock(&p->mu);
  return &c[0];
}

static uvotel_span_t *pool_pop(uvotel_tracer_provider_t *p, uint32_t shard) {
  uvotel__shard_t *sh = &p->shards[shard];
  if (UVOTEL__LIKELY(shard != 0)) {
    if (UVOTEL__LIKELY(sh->free != 0)) {
      uvotel_span_t *s = slot_at(p, sh->free - 1);
      sh->free = atomic_load_explicit(&s->next_free, memory_order_relaxed);
      sh->n_free--;
      return s;
    }
  }
  /* One slot from the shared list. (Taking the whole list here once left n_free wrong, so one
   * thread could hoard every free slot while others found the pool exhausted.) */
  for (;;) {
    uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_acquire);
    while ((uint32_t)head != 0) {
      uvotel_span_t *s = slot_at(p, (uint32_t)head - 1);
      uint32_t next = atomic_load_explicit(&s->next_free, memory_order_relaxed);
      uint_fast64_t nh = (((head >> 32) + 1) << 32) | next;
      if (atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_acquire,
                                                memory_order_acquire)) {
        return s;
      }
    }
    uvotel_span_t *s = pool_grow(p);
    if (s == &uvotel__invalid_span) return NULL;
    if (s != NULL) return s;
  }
}

void uvotel__span_pool_free(uvotel_tracer_provider_t *p) {
  uint32_t n = atomic_load(&p->n_chunks);
  for (uint32_t i = 0; i < n; i++) {
    uvotel_span_t *c = atomic_load(&p->chunks[i]);
    for (uint32_t j = 0; j < UVOTEL__SPAN_CHUNK; j++) {
      uvotel__arena_free(&c[j]);
      uvotel_free(c[j].attrs);
      uvotel_free(c[j].events);
      uvotel_free(c[j].links);
    }
    uvotel_free(c);
    p->chunks[i] = NULL;
  }
  atomic_store(&p->n_chunks, 0);
  atomic_store(&p->free_head, 0);
  for (int i = 0; i < UVOTEL__SHARDS; i++) p->shards[i].free = p->shards[i].n_free = 0;
}

static void recycle(uvotel_span_t *s) {
  uvotel_trace_state_release(s->ctx.trace_state);
  for (uint32_t i = 0; i < s->n_links; i++)
    uvotel_trace_state_release(s->links[i].context.trace_state);
  if (s->flags & UVOTEL__SPAN_F_HEAP) {
    uvotel_free(s);
    return;
  }
  s->ctx.trace_state = NULL;
  s->n_attrs = s->n_events = s->n_links = 0;
  s->dropped_attrs = s->dropped_events = s->dropped_links = 0;
  s->status = UVOTEL_STATUS_UNSET;
  s->status_final = 0;
  s->status_desc = "";
  if (s->arena_first != NULL) arena_reset(s);
  atomic_store_explicit(&s->state, UVOTEL__SPAN_FREE, memory_order_relaxed);
  uvotel_tracer_provider_t *p = s->provider;
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&p->zombie, memory_order_seq_cst))) {
    if (atomic_fetch_sub(&p->zombie_remaining, 1) == 1) uvotel__provider_release_memory(p);
    return;
  }
  uint32_t shard = uvotel__shard();
  uvotel__shard_t *sh = &p->shards[shard];
  if (shard != 0 && sh->n_free < UVOTEL__SHARD_CACHE_MAX) {
    atomic_store_explicit(&s->next_free, sh->free, memory_order_relaxed);
    sh->free = s->index + 1;
    sh->n_free++;
    return;
  }
  pool_push_chain(p, s, s);
}

void uvotel__provider_retire(uvotel_tracer_provider_t *p) {
  atomic_store_explicit(&p->zombie, 1, memory_order_seq_cst);
  long total = (long)atomic_load(&p->n_chunks) * UVOTEL__SPAN_CHUNK, free_n = 0;
  uint32_t i1 = (uint32_t)atomic_load(&p->free_head);
  while (i1 != 0) {
    free_n++;
    i1 = atomic_load_explicit(&slot_at(p, i1 - 1)->next_free, memory_order_relaxed);
  }
  for (int k = 0; k < UVOTEL__SHARDS; k++) {
    for (uint32_t j = p->shards[k].free; j != 0;) {
      free_n++;
      j = atomic_load_explicit(&slot_at(p, j - 1)->next_free, memory_order_relaxed);
    }
  }
  long live = total - free_n;
  if (atomic_fetch_add(&p->zombie_remaining, live) + live == 0) uvotel__provider_release_memory(p);
}

static inline void span_unref(uvotel_span_t *s) {
  if (s->flags & UVOTEL__SPAN_F_STATIC) return;
  /* Holding the only reference, nobody else can take one (retaining needs a reference), so
   * the common case skips the atomic read-modify-write. */
  if (atomic_load_explicit(&s->refs, memory_order_acquire) == 1 ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
    recycle(s);
  }
}

UVOTEL__API uvotel_span_t *uvotel_span_retain(uvotel_span_t *s) {
  if (s != NULL && !(s->flags & UVOTEL__SPAN_F_STATIC)) {
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  }
  return s;
}

UVOTEL__API void uvotel_span_release(uvotel_span_t *s) {
  if (s != NULL) span_unref(s);
}

UVOTEL__API const uvotel_span_data_t *uvotel_span_data_retain(const uvotel_span_data_t *d) {
  uvotel_span_retain((uvotel_span_t *)d);
  return d;
}

UVOTEL__API void uvotel_span_data_release(const uvotel_span_data_t *d) {
  uvotel_span_release((uvotel_span_t *)d);
}

/* ---- the current span variable ---- */

static void var_retain(void *v) {
  uvotel_span_retain(v);
}
static void var_release(void *v) {
  uvotel_span_release(v);
}
static const uvotel_value_ops_t g_span_ops = {var_retain, var_release};
static uvotel_var_t *_Atomic g_span_var;
static pthread_mutex_t g_var_mu = PTHREAD_MUTEX_INITIALIZER;

UVOTEL__API uvotel_var_t *uvotel_span_var(void) {
  uvotel_var_t *v = atomic_load_explicit(&g_span_var, memory_order_acquire);
  if (UVOTEL__LIKELY(v != NULL)) return v;
  pthread_mutex_lock(&g_var_mu);
  v = atomic_load(&g_span_var);
  if (v == NULL) {
    v = uvotel_var_create("uvotel.span", NULL, &g_span_ops);
    atomic_store_explicit(&g_span_var, v, memory_order_release);
  }
  pthread_mutex_unlock(&g_var_mu);
  return v;
}

UVOTEL__API uvotel_span_t *uvotel_current_span(void) {
  uvotel_var_t *v = atomic_load_explicit(&g_span_var, memory_order_acquire);
  return v != NULL ? uvotel_var_get(v) : NULL;
}

UVOTEL__API int uvotel_span_enter(uvotel_span_t *s, uvotel_scope_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  uvotel_var_t *v = uvotel_span_var();
  if (v == NULL) return UVOTEL_ENOMEM;
  return uvotel_var_enter(v, s, out);
}

UVOTEL__API void *uvotel_span_run(uvotel_span_t *s, void *(*fn)(void *arg), void *arg) {
  if (fn == NULL) return NULL;
  uvotel_var_t *v = uvotel_span_var();
  if (v == NULL) return NULL;
  return uvotel_var_run(v, s, fn, arg);
}

/* ---- start ---- */

UVOTEL__API uvotel_span_t *uvotel_span_start(uvotel_tracer_t *t, const char *name,
                                             const uvotel_span_options_t *opts) {
  static const uvotel_span_options_t defaults = UVOTEL_SPAN_OPTIONS_INIT;
  if (opts == NULL) opts = &defaults;
  if (t == NULL) return &uvotel__invalid_span;
  uvotel_tracer_provider_t *p = t->provider;

  /* parent */
  uvotel_span_context_t pctx;
  const uvotel_span_context_t *parent = NULL;
  if (opts->parent_span != NULL) {
    pctx = opts->parent_span->ctx;
    parent = &pctx;
  } else if (opts->parent_context != NULL) {
    parent = opts->parent_context;
  } else if (!(opts->flags & UVOTEL_SPAN_ROOT)) {
    uvotel_span_t *cur = uvotel_current_span();
    if (cur != NULL) {
      pctx = cur->ctx;
      parent = &pctx;
    }
  }
  if (parent != NULL && !uvotel_span_context_is_valid(parent)) parent = NULL;
  if (parent == NULL && p->env_parent != NULL && !(opts->flags & UVOTEL_SPAN_ROOT) &&
      opts->parent_span == NULL && opts->parent_context == NULL) {
    pctx = p->env_parent->ctx; /* a root span of a child process: its parent's span */
    parent = &pctx;
  }

  uint32_t shard = uvotel__shard();
  uvotel__shard_t *sh = &p->shards[shard];
  /* After shutdown spans do not record, but still get ids so the context propagates. */
  int shut = atomic_load_explicit(&p->shut, memory_order_relaxed);

  uvotel_sampling_params_t sp;
  if (parent != NULL) {
    sp.trace_id = parent->trace_id;
  } else {
    uvotel__gen_trace_id(p, &sp.trace_id);
  }
  sp.parent = parent;
  sp.name = name != NULL ? name : "";
  sp.kind = opts->kind == UVOTEL_SPAN_KIND_UNSPECIFIED ? UVOTEL_SPAN_KIND_INTERNAL : opts->kind;
  sp.attrs = opts->attrs;
  sp.n_attrs = opts->n_attrs;
  sp.links = opts->links;
  sp.n_links = opts->n_links;
  uvotel_sampling_result_t res = {UVOTEL_SAMPLING_DROP, NULL, 0, 0, NULL};
  if (UVOTEL__LIKELY(!shut)) p->sampler->ops->should_sample(p->sampler->self, &sp, &res);

  uvotel_span_t *s = pool_pop(p, shard);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    atomic_fetch_add_explicit(&p->pool_exhausted, 1, memory_order_relaxed);
    uvotel__count(&sh->non_recording, shard);
    return &uvotel__invalid_span;
  }
  atomic_store_explicit(&s->refs, 1, memory_order_relaxed);
  s->tracer = t;
  s->ctx.trace_id = sp.trace_id;
  uvotel__gen_span_id(p, &s->ctx.span_id);
  s->ctx.is_remote = 0;
  uint8_t flags;
  if (parent != NULL) {
    flags = parent->flags & UVOTEL_TRACE_FLAG_RANDOM;
    s->parent_id = parent->span_id;
    s->parent_remote = parent->is_remote;
  } else {
    flags = (p->idgen == NULL || p->idgen->random_trace_ids) ? UVOTEL_TRACE_FLAG_RANDOM : 0;
    memset(&s->parent_id, 0, sizeof s->parent_id);
    s->parent_remote = 0;
  }
  if (res.decision == UVOTEL_SAMPLING_RECORD_AND_SAMPLE) flags |= UVOTEL_TRACE_FLAG_SAMPLED;
  s->ctx.flags = flags;
  s->ctx.trace_state = uvotel_trace_state_retain(res.set_trace_state ? res.trace_state
                                                 : parent != NULL    ? parent->trace_state
                                                                     : NULL);
  s->kind = sp.kind;
  if (res.decision == UVOTEL_SAMPLING_DROP) {
    s->name = "";
    atomic_store_explicit(&s->state, UVOTEL__SPAN_NONREC, memory_order_relaxed);
    uvotel__count(&sh->non_recording, shard);
    return s;
  }
  s->start_ns = opts->start_unix_ns != 0 ? opts->start_unix_ns : uvotel__now_ns();
  s->end_ns = 0;
  s->status_desc = "";
  s->name = uvotel__arena_strdup(s, sp.name, strlen(sp.name));
  if (s->name == NULL) s->name = "";
  atomic_store_explicit(&s->state, UVOTEL__SPAN_OPEN, memory_order_relaxed);
  if (opts->n_attrs != 0) uvotel_span_set_attributes(s, opts->attrs, opts->n_attrs);
  if (res.n_attrs != 0) uvotel_span_set_attributes(s, res.attrs, res.n_attrs);
  for (size_t i = 0; opts->links != NULL && i < opts->n_links; i++) {
    uvotel_span_add_link(s, &opts->links[i]);
  }
  uvotel__count(&sh->started, shard);
  for (size_t i = 0; i < p->n_procs; i++) {
    uvotel_span_processor_t *pr = p->procs[i];
    if (pr->ops->on_start != NULL) pr->ops->on_start(pr->self, s, parent);
  }
  return s;
}

UVOTEL__API uvotel_span_t *uvotel_span_wrap_context(const uvotel_span_context_t *sc) {
  uvotel_span_t *s = uvotel_calloc(1, sizeof *s);
  if (s == NULL) return &uvotel__invalid_span;
  s->flags = UVOTEL__SPAN_F_HEAP;
  s->name = "";
  s->status_desc = "";
  s->kind = UVOTEL_SPAN_KIND_INTERNAL;
  atomic_store(&s->refs, 1);
  atomic_store(&s->state, UVOTEL__SPAN_NONREC);
  if (sc != NULL) {
    s->ctx = *sc;
    s->ctx.trace_state = uvotel_trace_state_retain(sc->trace_state);
  }
  return s;
}

/* ---- recording ---- */

/* 1 when s records; otherwise counts misuse where it is misuse and returns 0. */
static inline int writable(uvotel_span_t *s, const char *what) {
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__misuse(NULL, what);
    return 0;
  }
  unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
  if (UVOTEL__LIKELY(st == UVOTEL__SPAN_OPEN)) return 1;
  if (st != UVOTEL__SPAN_NONREC) uvotel__misuse(s->provider, what);
  return 0;
}

static void set_attr(uvotel_span_t *s, const uvotel_attribute_t *a) {
  if (UVOTEL__UNLIKELY(!uvotel__attr_valid(a))) {
    uvotel__misuse(s->provider, "invalid attribute");
    return;
  }
  const uvotel_span_limits_t *lim = &s->provider->limits;
  for (uint32_t i = 0; i < s->n_attrs; i++) {
    if (s->attrs[i].key[0] == a->key[0] && strcmp(s->attrs[i].key, a->key) == 0) {
      if (copy_value(s, &s->attrs[i].value, &a->value, lim->attribute_value_length) != 0) {
        s->dropped_attrs++;
      }
      return;
    }
  }
  if (s->n_attrs >= lim->attribute_count) {
    s->dropped_attrs++;
    return;
  }
  if (s->n_attrs == s->cap_attrs) {
    uint32_t cap = s->cap_attrs ? s->cap_attrs * 2 : 8;
    void *na = uvotel_realloc(s->attrs, sizeof(uvotel_attribute_t) * cap);
    if (na == NULL) {
      s->dropped_attrs++;
      return;
    }
    s->attrs = na;
    s->cap_attrs = cap;
  }
  if (uvotel__copy_attribute(s, &s->attrs[s->n_attrs], a, lim->attribute_value_length) != 0) {
    s->dropped_attrs++;
    return;
  }
  s->n_attrs++;
}

UVOTEL__API void uvotel_span_set_attribute(uvotel_span_t *s, const uvotel_attribute_t *attr) {
  if (!writable(s, "set_attribute")) return;
  set_attr(s, attr);
}

UVOTEL__API void uvotel_span_set_attributes(uvotel_span_t *s, const uvotel_attribute_t *attrs,
                                            size_t n) {
  if (!writable(s, "set_attributes")) return;
  if (attrs == NULL && n != 0) {
    uvotel__misuse(s->provider, "NULL attributes");
    return;
  }
  for (size_t i = 0; i < n; i++) set_attr(s, &attrs[i]);
}

UVOTEL__API void uvotel_span_set_attribute_str(uvotel_span_t *s, const char *key,
                                               const char *value) {
  if (!writable(s, "set_attribute_str")) return;
  if (value == NULL) {
    uvotel__misuse(s->provider, "NULL attribute value");
    return;
  }
  uvotel_attribute_t a = UVOTEL_ATTR_STR(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_int(uvotel_span_t *s, const char *key, int64_t value) {
  if (!writable(s, "set_attribute_int")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_INT(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_double(uvotel_span_t *s, const char *key, double value) {
  if (!writable(s, "set_attribute_double")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_DOUBLE(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_bool(uvotel_span_t *s, const char *key, bool value) {
  if (!writable(s, "set_attribute_bool")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_BOOL(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_add_event_at(uvotel_span_t *s, const char *name, uint64_t time_unix_ns,
                                          const uvotel_attribute_t *attrs, size_t n) {
  if (!writable(s, "add_event")) return;
  if (attrs == NULL && n != 0) {
    uvotel__misuse(s->provider, "NULL event attributes");
    n = 0;
  }
  const uvotel_span_limits_t *lim = &s->provider->limits;
  if (s->n_events >= lim->event_count) {
    s->dropped_events++;
    return;
  }
  if (s->n_events == s->cap_events) {
    uint32_t cap = s->cap_events ? s->cap_events * 2 : 4;
    void *na = uvotel_realloc(s->events, sizeof(uvotel_event_t) * cap);
    if (na == NULL) {
      s->dropped_events++;
      return;
    }
    s->events = na;
    s->cap_events = cap;
  }
  uvotel_event_t *e = &s->events[s->n_events];
  if (name == NULL) name = "";
  e->name = uvotel__arena_strdup(s, name, strlen(name));
  if (e->name == NULL) {
    s->dropped_events++;
    return;
  }
  e->time_unix_ns = time_unix_ns != 0 ? time_unix_ns : uvotel__now_ns();
  copy_attr_list(s, attrs, n, lim->event_attribute_count, lim->attribute_value_length, &e->attrs,
                 &e->n_attrs, &e->dropped_attributes);
  s->n_events++;
}

UVOTEL__API void uvotel_span_add_event(uvotel_span_t *s, const char *name,
                                       const uvotel_attribute_t *attrs, size_t n) {
  uvotel_span_add_event_at(s, name, 0, attrs, n);
}

UVOTEL__API void uvotel_span_add_link(uvotel_span_t *s, const uvotel_link_t *link) {
  if (!writable(s, "add_link")) return;
  if (link == NULL) {
    uvotel__misuse(s->provider, "NULL link");
    return;
  }
  const uvotel_span_limits_t *lim = &s->provider->limits;
  if (s->n_links >= lim->link_count) {
    s->dropped_links++;
    return;
  }
  if (s->n_links == s->cap_links) {
    uint32_t cap = s->cap_links ? s->cap_links * 2 : 4;
    void *na = uvotel_realloc(s->links, sizeof(uvotel_link_t) * cap);
    if (na == NULL) {
      s->dropped_links++;
      return;
    }
    s->links = na;
    s->cap_links = cap;
  }
  uvotel_link_t *l = &s->links[s->n_links];
  l->context = link->context;
  l->context.trace_state = uvotel_trace_state_retain(link->context.trace_state);
  copy_attr_list(s, link->n_attrs ? link->attrs : NULL, link->n_attrs, lim->link_attribute_count,
                 lim->attribute_value_length, &l->attrs, &l->n_attrs, &l->dropped_attributes);
  s->n_links++;
}

UVOTEL__API void uvotel_span_set_status(uvotel_span_t *s, uvotel_status_code_t code,
                                        const char *description) {
  if (!writable(s, "set_status")) return;
  if (code != UVOTEL_STATUS_OK && code != UVOTEL_STATUS_ERROR) {
    if (code != UVOTEL_STATUS_UNSET) uvotel__misuse(s->provider, "unknown status code");
    return;
  }
  if (s->status_final) return;
  s->status = code;
  if (code == UVOTEL_STATUS_OK) {
    s->status_final = 1;
    s->status_desc = "";
  } else {
    const char *d = description != NULL ? description : "";
    s->status_desc = uvotel__arena_strdup(s, d, strlen(d));
    if (s->status_desc == NULL) s->status_desc = "";
  }
}

UVOTEL__API void uvotel_span_update_name(uvotel_span_t *s, const char *name) {
  if (!writable(s, "update_name")) return;
  if (name == NULL) name = "";
  const char *n = uvotel__arena_strdup(s, name, strlen(name));
  if (n != NULL) s->name = n;
}

UVOTEL__API void uvotel_span_end_at(uvotel_span_t *s, uint64_t end_unix_ns) {
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__misuse(NULL, "end of a NULL span");
    return;
  }
  if (s->flags & UVOTEL__SPAN_F_STATIC) return;
  unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
  if (UVOTEL__LIKELY(st == UVOTEL__SPAN_OPEN)) {
    uint64_t now = end_unix_ns != 0 ? end_unix_ns : uvotel__now_ns();
    s->end_ns = now < s->start_ns ? s->start_ns : now;
    atomic_store_explicit(&s->state, UVOTEL__SPAN_ENDED, memory_order_release);
    uvotel_tracer_provider_t *p = s->provider;
    uint32_t shard = uvotel__shard();
    uvotel__count(&p->shards[shard].ended, shard);
    for (size_t i = 0; i < p->n_procs; i++) {
      uvotel_span_processor_t *pr = p->procs[i];
      pr->ops->on_end(pr->self, (const uvotel_span_data_t *)s);
    }
    span_unref(s);
  } else if (st == UVOTEL__SPAN_NONREC) {
    atomic_store_explicit(&s->state, UVOTEL__SPAN_NONREC_ENDED, memory_order_relaxed);
    span_unref(s);
  } else {
    uvotel__misuse(s->provider, "end of an ended span");
  }
}

UVOTEL__API void uvotel_span_end(uvotel_span_t *s) {
  uvotel_span_end_at(s, 0);
}

UVOTEL__API int uvotel_span_is_recording(const uvotel_span_t *s) {
  return s != NULL && atomic_load_explicit(&s->state, memory_order_relaxed) == UVOTEL__SPAN_OPEN;
}

UVOTEL__API uvotel_span_context_t uvotel_span_context(const uvotel_span_t *s) {
  if (s == NULL) {
    uvotel_span_context_t z;
    memset(&z, 0, sizeof z);
    return z;
  }
  return s->ctx;
}

/* ---- finished span data ---- */

#define D(d) ((const uvotel_span_t *)(d))

UVOTEL__API const uvotel_span_data_t *uvotel_span_data(const uvotel_span_t *s) {
  if (s == NULL || atomic_load_explicit(&s->state, memory_order_acquire) != UVOTEL__SPAN_ENDED) {
    return NULL;
  }
  return (const uvotel_span_data_t *)s;
}

UVOTEL__API const char *uvotel_span_data_name(const uvotel_span_data_t *d) {
  return D(d)->name;
}
UVOTEL__API uvotel_span_kind_t uvotel_span_data_kind(const uvotel_span_data_t *d) {
  return D(d)->kind;
}
UVOTEL__API uvotel_span_context_t uvotel_span_data_context(const uvotel_span_data_t *d) {
  return D(d)->ctx;
}
UVOTEL__API uvotel_span_id_t uvotel_span_data_parent_span_id(const uvotel_span_data_t *d) {
  return D(d)->parent_id;
}
UVOTEL__API int uvotel_span_data_parent_is_remote(const uvotel_span_data_t *d) {
  return D(d)->parent_remote;
}
UVOTEL__API const uvotel_trace_state_t *uvotel_span_data_trace_state(const uvotel_span_data_t *d) {
  return D(d)->ctx.trace_state;
}
UVOTEL__API uint64_t uvotel_span_data_start_unix_ns(const uvotel_span_data_t *d) {
  return D(d)->start_ns;
}
UVOTEL__API uint64_t uvotel_span_data_end_unix_ns(const uvotel_span_data_t *d) {
  return D(d)->end_ns;
}
UVOTEL__API const uvotel_attribute_t *uvotel_span_data_attributes(const uvotel_span_data_t *d,
                                                                  size_t *n) {
  if (n != NULL) *n = D(d)->n_attrs;
  return D(d)->attrs;
}
UVOTEL__API const uvotel_event_t *uvotel_span_data_events(const uvotel_span_data_t *d, size_t *n) {
  if (n != NULL) *n = D(d)->n_events;
  return D(d)->events;
}
UVOTEL__API const uvotel_link_t *uvotel_span_data_links(const uvotel_span_data_t *d, size_t *n) {
  if (n != NULL) *n = D(d)->n_links;
  return D(d)->links;
}
UVOTEL__API uvotel_status_code_t uvotel_span_data_status(const uvotel_span_data_t *d,
                                                         const char **description) {
  if (description != NULL) *description = D(d)->status_desc ? D(d)->status_desc : "";
  return D(d)->status;
}
UVOTEL__API uint32_t uvotel_span_data_dropped_attributes(const uvotel_span_data_t *d) {
  return D(d)->dropped_attrs;
}
UVOTEL__API uint32_t uvotel_span_data_dropped_events(const uvotel_span_data_t *d) {
  return D(d)->dropped_events;
}
UVOTEL__API uint32_t uvotel_span_data_dropped_links(const uvotel_span_data_t *d) {
  return D(d)->dropped_links;
}
UVOTEL__API int uvotel_span_data_is_sampled(const uvotel_span_data_t *d) {
  return (D(d)->ctx.flags & UVOTEL_TRACE_FLAG_SAMPLED) != 0;
}
UVOTEL__API const uvotel_trace_resource_t *uvotel_span_data_resource(const uvotel_span_data_t *d) {
  return &D(d)->provider->resource;
}
UVOTEL__API const uvotel_instrumentation_scope_t *uvotel_span_data_scope(
    const uvotel_span_data_t *d) {
  return &D(d)->tracer->scope;
}
