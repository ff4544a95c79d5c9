/* Spans: start, events, links, status, end, the current-span variable and the read-only
 * finished-span data API. Attributes and the span arena are in attributes.c, the slot pool in
 * pool.c. */
#include <stdlib.h>

#include "trace_internal.h"

/* A static span for NULL tracers and exhausted pools: non-recording, invalid context,
 * references not counted. */
uvotel_span_t uvotel__invalid_span = {.state = UVOTEL__SPAN_NONREC,
                                      .flags = UVOTEL__SPAN_F_STATIC,
                                      .kind = UVOTEL_SPAN_KIND_INTERNAL,
                                      .name = ""};

UVOTEL__API uvotel_span_t *uvotel_span_retain(uvotel_span_t *s) {
  if (s != NULL && !(s->flags & UVOTEL__SPAN_F_STATIC)) {
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  }
  return s;
}

UVOTEL__API void uvotel_span_release(uvotel_span_t *s) {
  if (s != NULL) uvotel__span_unref(s);
}

UVOTEL__API const uvotel_span_data_t *uvotel_span_data_retain(const uvotel_span_data_t *d) {
  uvotel_span_retain((uvotel_span_t *)d);
  return d;
}

UVOTEL__API void uvotel_span_data_release(const uvotel_span_data_t *d) {
  uvotel_span_release((uvotel_span_t *)d);
}

UVOTEL__TLS const void *uvotel__end_handoff;

/* ---- the current span variable ---- */

static void var_retain(void *v) {
  uvotel_span_retain(v);
}
static void var_release(void *v) {
  uvotel_span_release(v);
}
static const uvotel_value_ops_t g_span_ops = {.retain = var_retain, .release = var_release};
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

/* A sampler other than the built-in always_on / parentbased_always_on (or the latter on an
 * unsampled parent): its should_sample, out of the common path. */
static __attribute__((noinline)) void sample_slow(uvotel_tracer_provider_t *p,
                                                  const uvotel_span_context_t *parent,
                                                  const uvotel_trace_id_t *trace_id,
                                                  const char *name, uvotel_span_kind_t kind,
                                                  const uvotel_span_options_t *opts,
                                                  uvotel_sampling_result_t *res) {
  uvotel_sampling_params_t sp;
  sp.trace_id = *trace_id;
  sp.parent = parent;
  sp.name = name;
  sp.kind = kind;
  sp.attrs = opts->attrs;
  sp.n_attrs = opts->n_attrs;
  sp.links = opts->links;
  sp.n_links = opts->n_links;
  p->sampler->ops->should_sample(p->sampler->self, &sp, res);
}

UVOTEL__API uvotel_span_t *uvotel_span_start(uvotel_tracer_t *t, const char *name,
                                             const uvotel_span_options_t *opts) {
  static const uvotel_span_options_t defaults = UVOTEL_SPAN_OPTIONS_INIT;
  if (UVOTEL__UNLIKELY(t == NULL)) return &uvotel__invalid_span;
  if (opts == NULL) opts = &defaults;
  uvotel_tracer_provider_t *p = t->provider;

  /* parent */
  uvotel_span_context_t pctx;
  const uvotel_span_context_t *parent = NULL;
  uvotel_span_t *pspan = NULL; /* the parent as a local span object, if it is one */
  if (opts->parent_span != NULL) {
    pspan = opts->parent_span;
    pctx = pspan->ctx;
    parent = &pctx;
  } else if (opts->parent_context != NULL) {
    parent = opts->parent_context;
  } else if (!(opts->flags & UVOTEL_SPAN_ROOT)) {
    uvotel_span_t *cur = uvotel_current_span();
    if (cur != NULL) {
      pspan = cur;
      pctx = cur->ctx;
      parent = &pctx;
    }
  }
  if (parent != NULL && !uvotel_span_context_is_valid(parent)) parent = NULL;
  /* the static invalid span has an invalid context: never written here */
  if (parent != NULL && pspan != NULL &&
      !atomic_load_explicit(&pspan->has_children, memory_order_relaxed)) {
    atomic_store_explicit(&pspan->has_children, 1, memory_order_relaxed);
  }
  if (UVOTEL__UNLIKELY(p->env_parent != NULL) && parent == NULL &&
      !(opts->flags & UVOTEL_SPAN_ROOT) && opts->parent_span == NULL &&
      opts->parent_context == NULL) {
    pctx = p->env_parent->ctx; /* a root span of a child process: its parent's span */
    parent = &pctx;
  }

  uint32_t shard = uvotel__shard();
  uvotel__shard_t *sh = &p->shards[shard];
  /* After shutdown spans do not record, but still get ids so the context propagates. */
  int shut = atomic_load_explicit(&p->shut, memory_order_relaxed);

  uvotel_trace_id_t trace_id;
  uvotel_span_id_t span_id;
  if (UVOTEL__LIKELY(p->idgen == NULL)) {
    uvotel__rand_ids(parent != NULL ? NULL : &trace_id, &span_id);
  } else {
    uvotel__gen_ids(p, parent != NULL ? NULL : &trace_id, &span_id);
  }
  if (parent != NULL) trace_id = parent->trace_id;
  if (name == NULL) name = "";
  uvotel_span_kind_t kind =
      opts->kind == UVOTEL_SPAN_KIND_UNSPECIFIED ? UVOTEL_SPAN_KIND_INTERNAL : opts->kind;
  uvotel_sampling_result_t res;
  res.decision = UVOTEL_SAMPLING_DROP;
  res.n_attrs = 0;
  res.set_trace_state = 0;
  if (UVOTEL__LIKELY(!shut)) {
    /* the built-in always_on / parentbased_always_on decide here, without two indirect calls */
    int sk = p->sampler_kind;
    if (sk == UVOTEL__SAMPLER_ON ||
        (sk == UVOTEL__SAMPLER_PARENT_ON &&
         (parent == NULL || (parent->flags & UVOTEL_TRACE_FLAG_SAMPLED)))) {
      res.decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
    } else if (sk != UVOTEL__SAMPLER_PARENT_ON) {
      res.attrs = NULL;
      res.trace_state = NULL;
      sample_slow(p, parent, &trace_id, name, kind, opts, &res);
    }
  }

  uvotel_span_t *s = uvotel__pool_pop(p, shard);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    atomic_fetch_add_explicit(&p->pool_exhausted, 1, memory_order_relaxed);
    uvotel__count(&sh->non_recording, shard);
    return &uvotel__invalid_span;
  }
  atomic_store_explicit(&s->refs, 1, memory_order_relaxed);
  atomic_store_explicit(&s->has_children, 0, memory_order_relaxed);
  s->tracer = t;
  s->ctx.trace_id = trace_id;
  s->ctx.span_id = span_id;
  s->ctx.is_remote = 0;
  uint8_t flags;
  const uvotel_trace_state_t *ts = NULL;
  if (parent != NULL) {
    flags = parent->flags & UVOTEL_TRACE_FLAG_RANDOM;
    s->parent_id = parent->span_id;
    s->parent_remote = parent->is_remote;
    ts = parent->trace_state;
  } else {
    flags = (p->idgen == NULL || p->idgen->random_trace_ids) ? UVOTEL_TRACE_FLAG_RANDOM : 0;
    memset(&s->parent_id, 0, sizeof s->parent_id);
    s->parent_remote = 0;
  }
  if (res.decision == UVOTEL_SAMPLING_RECORD_AND_SAMPLE) flags |= UVOTEL_TRACE_FLAG_SAMPLED;
  s->ctx.flags = flags;
  if (UVOTEL__UNLIKELY(res.set_trace_state)) ts = res.trace_state;
  s->ctx.trace_state = ts != NULL ? uvotel_trace_state_retain(ts) : NULL;
  s->kind = kind;
  if (UVOTEL__UNLIKELY(res.decision == UVOTEL_SAMPLING_DROP)) {
    s->name = "";
    atomic_store_explicit(&s->state, UVOTEL__SPAN_NONREC, memory_order_relaxed);
    uvotel__count(&sh->non_recording, shard);
    return s;
  }
  /* raw ticks now, Unix ns when read (uvotel_span_data_start_unix_ns); the user's time as given */
  if (UVOTEL__LIKELY(opts->start_unix_ns == 0)) {
    s->start_ns = uvotel__ticks(&s->ts_gen);
    s->ts_explicit = 0;
  } else {
    s->start_ns = opts->start_unix_ns;
    s->ts_explicit = UVOTEL__TS_START;
    s->ts_gen = 0;
  }
  s->end_ns = 0;
  s->name = uvotel__arena_strdup(s, name, strlen(name));
  if (UVOTEL__UNLIKELY(s->name == NULL)) s->name = "";
  atomic_store_explicit(&s->state, UVOTEL__SPAN_OPEN, memory_order_relaxed);
  if (opts->n_attrs != 0) uvotel_span_set_attributes(s, opts->attrs, opts->n_attrs);
  if (UVOTEL__UNLIKELY(res.n_attrs != 0)) uvotel_span_set_attributes(s, res.attrs, res.n_attrs);
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

UVOTEL__API void uvotel_span_add_event_at(uvotel_span_t *s, const char *name, uint64_t time_unix_ns,
                                          const uvotel_attribute_t *attrs, size_t n) {
  if (!uvotel__span_writable(s, "add_event")) return;
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
  /* converted now, with the span's anchor, so events order with its start and end */
  e->time_unix_ns = time_unix_ns != 0
                        ? time_unix_ns
                        : uvotel__ticks_to_unix(uvotel__ticks_like(s->ts_gen), s->ts_gen);
  uvotel__copy_attr_list(s, attrs, n, lim->event_attribute_count, lim->attribute_value_length,
                         &e->attrs, &e->n_attrs, &e->dropped_attributes);
  s->n_events++;
}

UVOTEL__API void uvotel_span_add_event(uvotel_span_t *s, const char *name,
                                       const uvotel_attribute_t *attrs, size_t n) {
  uvotel_span_add_event_at(s, name, 0, attrs, n);
}

UVOTEL__API void uvotel_span_add_link(uvotel_span_t *s, const uvotel_link_t *link) {
  if (!uvotel__span_writable(s, "add_link")) return;
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
  uvotel__copy_attr_list(s, link->n_attrs ? link->attrs : NULL, link->n_attrs,
                         lim->link_attribute_count, lim->attribute_value_length, &l->attrs,
                         &l->n_attrs, &l->dropped_attributes);
  s->n_links++;
}

UVOTEL__API void uvotel_span_set_status(uvotel_span_t *s, uvotel_status_code_t code,
                                        const char *description) {
  if (!uvotel__span_writable(s, "set_status")) return;
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
  if (!uvotel__span_writable(s, "update_name")) return;
  if (name == NULL) name = "";
  const char *n = uvotel__arena_strdup(s, name, strlen(name));
  if (n != NULL) s->name = n;
}

/* Span limits that dropped something are said at debug, at most once a minute for the whole
 * process (with the count of the spans not said), so a limit set too low can be found without
 * flooding anybody's log. */
static uvotel_diag_limit_t g_drop_limit = UVOTEL_DIAG_LIMIT_INIT(60000);

static void say_drops(const uvotel_span_t *s) {
  uvotel_diag_limited(&g_drop_limit, UVOTEL_DIAG_DEBUG, 0,
                      "span \"%s\": the span limits dropped %u attributes, %u events, %u links",
                      s->name, (unsigned)s->dropped_attrs, (unsigned)s->dropped_events,
                      (unsigned)s->dropped_links);
}

UVOTEL__API void uvotel_span_end_at(uvotel_span_t *s, uint64_t end_unix_ns) {
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__misuse(NULL, "end of a NULL span");
    return;
  }
  if (s->flags & UVOTEL__SPAN_F_STATIC) return;
  unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
  if (UVOTEL__LIKELY(st == UVOTEL__SPAN_OPEN)) {
    if (end_unix_ns != 0) {
      s->end_ns = end_unix_ns;
      s->ts_explicit |= UVOTEL__TS_END;
    } else {
      uint64_t now = uvotel__ticks_like(s->ts_gen);
      /* same unit as a ticks start: never before it (TSCs of two cores may differ slightly) */
      if (!(s->ts_explicit & UVOTEL__TS_START) && now < s->start_ns) now = s->start_ns;
      s->end_ns = now;
    }
    atomic_store_explicit(&s->state, UVOTEL__SPAN_ENDED, memory_order_release);
    uvotel_tracer_provider_t *p = s->provider;
    uint32_t shard = uvotel__shard();
    uvotel__count(&p->shards[shard].ended, shard);
    if (UVOTEL__UNLIKELY((s->dropped_attrs | s->dropped_events | s->dropped_links) != 0)) {
      say_drops(s);
    }
    size_t np = p->n_procs;
    for (size_t i = 0; i + 1 < np; i++) {
      uvotel_span_processor_t *pr = p->procs[i];
      pr->ops->on_end(pr->self, (const uvotel_span_data_t *)s);
    }
    if (UVOTEL__LIKELY(np != 0)) {
      /* the ender's reference goes to the last processor if it keeps the span */
      uvotel_span_processor_t *pr = p->procs[np - 1];
      const void *prev = uvotel__end_handoff;
      uvotel__end_handoff = s;
      pr->ops->on_end(pr->self, (const uvotel_span_data_t *)s);
      int kept = uvotel__end_handoff != (const void *)s;
      uvotel__end_handoff = prev;
      if (kept) return; /* s may be gone already */
    }
    uvotel__span_unref(s);
  } else if (st == UVOTEL__SPAN_NONREC) {
    atomic_store_explicit(&s->state, UVOTEL__SPAN_NONREC_ENDED, memory_order_relaxed);
    uvotel__span_unref(s);
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
static uint64_t start_unix(const uvotel_span_t *s) {
  if (s->ts_explicit & UVOTEL__TS_START) return s->start_ns;
  return uvotel__ticks_to_unix(s->start_ns, s->ts_gen);
}
UVOTEL__API uint64_t uvotel_span_data_start_unix_ns(const uvotel_span_data_t *d) {
  return start_unix(D(d));
}
/* 0 before the span ends; never before its start (an explicit end earlier than the start is
 * moved up to it, as before). */
UVOTEL__API uint64_t uvotel_span_data_end_unix_ns(const uvotel_span_data_t *d) {
  const uvotel_span_t *s = D(d);
  uint64_t start = start_unix(s), end;
  if (s->ts_explicit & UVOTEL__TS_END) {
    end = s->end_ns;
  } else if (s->end_ns == 0) {
    return 0;
  } else {
    end = uvotel__ticks_to_unix(s->end_ns, s->ts_gen);
  }
  return end < start ? start : end;
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
