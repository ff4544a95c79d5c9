/* Tracer provider: options, environment, resource, tracers, flush/shutdown, counters. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "trace_internal.h"

/* ---- resource building ---- */

/* A resource under construction lives in a heap span used only for its attribute table and
 * arena, so the strings stay put and are freed together. */
static uvotel_span_t *res_new(void) {
  uvotel_span_t *r = uvotel_calloc(1, sizeof *r);
  return r;
}

static void res_set(uvotel_span_t *r, const uvotel_attribute_t *a) {
  if (!uvotel__attr_valid(a)) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "invalid resource attribute ignored");
    return;
  }
  for (uint32_t i = 0; i < r->n_attrs; i++) {
    if (strcmp(r->attrs[i].key, a->key) == 0) {
      uvotel__copy_attribute(r, &r->attrs[i], a, UVOTEL_LIMIT_UNLIMITED);
      return;
    }
  }
  if (r->n_attrs == r->cap_attrs) {
    uint32_t cap = r->cap_attrs ? r->cap_attrs * 2 : 16;
    void *na = uvotel_realloc(r->attrs, sizeof(uvotel_attribute_t) * cap);
    if (na == NULL) {
      r->dropped_attrs++;
      return;
    }
    r->attrs = na;
    r->cap_attrs = cap;
  }
  if (uvotel__copy_attribute(r, &r->attrs[r->n_attrs], a, UVOTEL_LIMIT_UNLIMITED) == 0) {
    r->n_attrs++;
  } else {
    r->dropped_attrs++;
  }
}

static void res_set_str(uvotel_span_t *r, const char *k, const char *v) {
  uvotel_attribute_t a = UVOTEL_ATTR_STR(k, v);
  res_set(r, &a);
}

static void res_emit(void *ctx, const uvotel_attribute_t *a) {
  res_set(ctx, a);
}

static void res_free(uvotel_span_t *r) {
  if (r == NULL) return;
  uvotel__arena_free(r);
  uvotel_free(r->attrs);
  uvotel_free(r);
}

/* OTEL_RESOURCE_ATTRIBUTES: k=v,k=v (percent-encoded; uvotel/env.h). Any error discards the
 * whole value, as the specification says. */
static void res_from_env_attrs(uvotel_span_t *r, const char *v) {
  uvotel_env_kv_t *kv;
  size_t n;
  int rc = uvotel_env_kv_parse(v, &kv, &n);
  if (rc == UVOTEL_EPARSE) {
    uvotel_diag(UVOTEL_DIAG_WARN, rc,
                "OTEL_RESOURCE_ATTRIBUTES=\"%s\" is malformed (want k=v,k=v percent-encoded, no "
                "%%00); ignored",
                v);
  }
  for (size_t i = 0; rc == 0 && i < n; i++) res_set_str(r, kv[i].key, kv[i].value);
  uvotel_free(kv);
}

static void exe_name(char *out, size_t cap) {
  char path[512];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) {
    snprintf(out, cap, "c");
    return;
  }
  path[n] = '\0';
  const char *base = strrchr(path, '/');
  snprintf(out, cap, "%s", base != NULL ? base + 1 : path);
}

static void build_resource(uvotel_tracer_provider_t *p, const uvotel_tracer_provider_options_t *o,
                           uvotel_span_t *r) {
  if (!(o->flags & UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE)) {
    char exe[520], svc[560], host[256];
    exe_name(exe, sizeof exe);
    snprintf(svc, sizeof svc, "unknown_service:%s", exe);
    res_set_str(r, "service.name", svc);
    res_set_str(r, "telemetry.sdk.name", "uvotel");
    res_set_str(r, "telemetry.sdk.language", "c");
    res_set_str(r, "telemetry.sdk.version", UVOTEL_VERSION_STRING);
    uvotel_attribute_t pid = UVOTEL_ATTR_INT("process.pid", (int64_t)getpid());
    res_set(r, &pid);
    if (gethostname(host, sizeof host) == 0) {
      host[sizeof host - 1] = '\0';
      res_set_str(r, "host.name", host);
    }
    if (!(o->flags & UVOTEL_PROVIDER_NO_DETECTORS)) {
      uvotel__resource_detect(o->resource_detectors, res_emit, r);
    }
  }
  if (!(o->flags & UVOTEL_PROVIDER_NO_ENV_RESOURCE)) {
    const char *ra = uvotel_env_get("OTEL_RESOURCE_ATTRIBUTES");
    if (ra != NULL) res_from_env_attrs(r, ra);
    const char *sn = uvotel_env_get("OTEL_SERVICE_NAME");
    if (sn != NULL) res_set_str(r, "service.name", sn);
  }
  for (size_t i = 0; o->resource_attrs != NULL && i < o->n_resource_attrs; i++) {
    res_set(r, &o->resource_attrs[i]);
  }
  p->resource.attrs = r->attrs;
  p->resource.n_attrs = r->n_attrs;
  p->resource.dropped_attributes = r->dropped_attrs;
  const char *url = o->resource_schema_url != NULL ? o->resource_schema_url : "";
  p->resource.schema_url = uvotel__arena_strdup(r, url, strlen(url));
  if (p->resource.schema_url == NULL) p->resource.schema_url = "";
}

/* ---- the default exporter ---- */

extern char **environ;

/* "otlp" when any OTEL_EXPORTER_OTLP_*ENDPOINT variable is set (non-empty): the user configured
 * a collector; else "file", the embedded default (no collector configured at all). */
const char *uvotel__default_exporter(void) {
  static const char prefix[] = "OTEL_EXPORTER_OTLP_";
  for (char **e = environ; e != NULL && *e != NULL; e++) {
    const char *v = *e;
    if (strncmp(v, prefix, sizeof prefix - 1) != 0) continue;
    const char *eq = strchr(v, '=');
    if (eq == NULL || eq[1] == '\0') continue;
    size_t kl = (size_t)(eq - v);
    if (kl >= 8 && memcmp(eq - 8, "ENDPOINT", 8) == 0) return "otlp";
  }
  return "file";
}

/* ---- create / free ---- */

static void free_given(const uvotel_tracer_provider_options_t *o) {
  uvotel_sampler_free(o->sampler);
  for (size_t i = 0; o->processors != NULL && i < o->n_processors; i++) {
    uvotel_span_processor_free(o->processors[i]);
  }
}

void uvotel__provider_release_memory(uvotel_tracer_provider_t *p) {
  if (p->prop != NULL) {
    if (uvotel_propagator_global() == p->prop) uvotel_propagator_set_global(NULL);
    uvotel_propagator_free(p->prop);
    p->prop = NULL;
  }
  uvotel__span_pool_free(p);
  uvotel_tracer_t *t = p->tracers;
  while (t != NULL) {
    uvotel_tracer_t *n = t->next;
    uvotel_free((char *)t->scope.name);
    uvotel_free((char *)t->scope.version);
    uvotel_free((char *)t->scope.schema_url);
    res_free(t->attr_holder);
    uvotel_free(t);
    t = n;
  }
  res_free(p->res_holder);
  if (p->env_parent != NULL) uvotel_span_end(p->env_parent);
  pthread_mutex_destroy(&p->mu);
  uvotel_free(p);
}

static uvotel_tracer_provider_t *provider_new(const uvotel_tracer_provider_options_t *o,
                                              int default_processor) {
  uvotel__ticks_init(); /* the process's (realtime, monotonic) anchor for span ticks */
  if (o->n_processors > 0 && o->processors == NULL) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "tracer provider: n_processors without array");
    uvotel_sampler_free(o->sampler);
    return NULL;
  }
  for (size_t i = 0; i < o->n_processors; i++) {
    if (o->processors[i] == NULL) {
      uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "tracer provider: NULL processor %zu", i);
      free_given(o);
      return NULL;
    }
  }
  uvotel_tracer_provider_t *p = uvotel_calloc(1, sizeof *p);
  uvotel_span_t *r = p != NULL ? res_new() : NULL;
  if (r == NULL) {
    uvotel_free(p);
    free_given(o);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->res_holder = r;
  p->limits = o->limits;
  p->idgen = o->id_generator;
  p->idgen_self = o->id_generator_self;
  p->loop = o->loop != NULL ? o->loop : uv_default_loop();
  p->max_spans = o->max_spans != 0 ? o->max_spans : 65536;
  snprintf(p->propagators, sizeof p->propagators, "tracecontext,baggage");
  build_resource(p, o, r);
  p->sampler = o->sampler != NULL ? o->sampler : uvotel_sampler_parentbased_always_on();
  p->sampler_kind = uvotel__sampler_kind(p->sampler);
  size_t n = o->n_processors;
  int add_default =
      n == 0 && default_processor && !(o->flags & UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER);
  p->procs = uvotel_calloc(n + 1, sizeof(uvotel_span_processor_t *));
  if (p->sampler == NULL || p->procs == NULL) {
    free_given(o);
    if (o->sampler == NULL) uvotel_sampler_free(p->sampler);
    uvotel_free(p->procs);
    uvotel__provider_release_memory(p);
    return NULL;
  }
  for (size_t i = 0; i < n; i++) p->procs[i] = o->processors[i];
  p->n_procs = n;
  if (add_default) {
    uvotel_span_exporter_t *e = uvotel_span_exporter_create_by_name(uvotel__default_exporter());
    if (e != NULL) {
      uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
      bo.loop = p->loop;
      uvotel_span_processor_t *bp = uvotel_batch_span_processor_create(e, &bo);
      if (bp != NULL) p->procs[p->n_procs++] = bp;
    }
  }
  for (size_t i = 0; i < p->n_procs; i++) p->any_on_start |= p->procs[i]->ops->on_start != NULL;
  {
    uint32_t pre = o->prealloc_spans == 0 ? UVOTEL__PREALLOC_DEFAULT : o->prealloc_spans;
    if (pre != UVOTEL_PREALLOC_NONE && uvotel__pool_prefill(p, pre) != 0) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOMEM,
                  "tracer provider: out of memory making %u span slots ready; the pool grows "
                  "on demand",
                  (unsigned)pre);
    }
  }
  return p;
}

UVOTEL__API uvotel_tracer_provider_t *uvotel_tracer_provider_create(
    const uvotel_tracer_provider_options_t *opts) {
  static const uvotel_tracer_provider_options_t defaults = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  return provider_new(opts != NULL ? opts : &defaults, 1);
}

UVOTEL__API int uvotel_tracer_provider_force_flush(uvotel_tracer_provider_t *p,
                                                   uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (atomic_load(&p->shut)) return UVOTEL_ESHUTDOWN;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int first = 0;
  for (size_t i = 0; i < p->n_procs; i++) {
    uint64_t now = uvotel__mono_ms();
    int rc = uvotel_span_processor_force_flush(p->procs[i], deadline > now ? deadline - now : 0);
    if (rc != 0 && first == 0) first = rc;
  }
  return first;
}

/* Recording spans started and not yet ended, from the per-thread counters the span path keeps
 * anyway (no cost on it). Ended is read first: a span ending between the two reads can only
 * make the difference smaller than the truth, never negative. */
static uint64_t spans_open(const uvotel_tracer_provider_t *p) {
  uint64_t started = 0, ended = 0;
  for (int i = 0; i < UVOTEL__SHARDS; i++) {
    ended += atomic_load_explicit(&p->shards[i].ended, memory_order_relaxed);
  }
  for (int i = 0; i < UVOTEL__SHARDS; i++) {
    started += atomic_load_explicit(&p->shards[i].started, memory_order_relaxed);
  }
  return started > ended ? started - ended : 0;
}

UVOTEL__API int uvotel_tracer_provider_shutdown(uvotel_tracer_provider_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (atomic_exchange(&p->shut, 1)) return UVOTEL_ESHUTDOWN;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int first = 0;
  for (size_t i = 0; i < p->n_procs; i++) {
    uint64_t now = uvotel__mono_ms();
    int rc = uvotel_span_processor_shutdown(p->procs[i], deadline > now ? deadline - now : 0);
    if (rc != 0 && first == 0) first = rc;
  }
  /* No silent loss: a span never ended is never exported. Counted after the processors shut
   * down, so a span ended while they flushed is not counted open. */
  uint64_t open = spans_open(p);
  atomic_store_explicit(&p->open_at_shutdown, open, memory_order_relaxed);
  if (open > 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EIO,
                "tracer provider: %llu spans were still open at shutdown and were not exported",
                (unsigned long long)open);
    if (first == 0) first = UVOTEL_EIO;
  }
  return first;
}

static void pending_done(void *arg) {
  uvotel_tracer_provider_t *p = arg;
  if (atomic_fetch_sub(&p->pending_frees, 1) == 1) uvotel__provider_retire(p);
}

UVOTEL__API void uvotel_tracer_provider_free(uvotel_tracer_provider_t *p) {
  if (p == NULL) return;
  uvotel__global_forget(p);
  if (!atomic_load(&p->shut)) uvotel_tracer_provider_shutdown(p, 0);
  uvotel_sampler_free(p->sampler);
  p->sampler = NULL;
  /* Processors with an asynchronous free (the batch processor: handles to close, exports to
   * wait for) say when they no longer hold spans; the pool must outlive that. */
  size_t n = p->n_procs;
  uvotel_span_processor_t **procs = p->procs;
  atomic_store(&p->pending_frees, n + 1);
  /* A span ended after this (a misuse the header forbids) finds no processor: a no-op. */
  p->n_procs = 0;
  p->any_on_start = 0;
  p->procs = NULL;
  for (size_t i = 0; i < n; i++) uvotel__span_processor_free_then(procs[i], pending_done, p);
  uvotel_free(procs);
  pending_done(p);
}

/* ---- tracers ---- */

static int value_equal(const uvotel_value_t *a, const uvotel_value_t *b) {
  if (a->type != b->type) return 0;
  switch (a->type) {
    case UVOTEL_VALUE_STRING:
      return strcmp(a->u.s, b->u.s) == 0;
    case UVOTEL_VALUE_BOOL:
      return a->u.b == b->u.b;
    case UVOTEL_VALUE_INT:
      return a->u.i == b->u.i;
    case UVOTEL_VALUE_DOUBLE:
      return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case UVOTEL_VALUE_NONE:
      return 1;
    case UVOTEL_VALUE_BYTES:
      return a->len == b->len && (a->len == 0 || memcmp(a->u.bytes, b->u.bytes, a->len) == 0);
    case UVOTEL_VALUE_KVLIST:
      if (a->len != b->len) return 0;
      for (uint32_t i = 0; i < a->len; i++) {
        if (strcmp(a->u.kv[i].key, b->u.kv[i].key) != 0 ||
            !value_equal(&a->u.kv[i].value, &b->u.kv[i].value)) {
          return 0;
        }
      }
      return 1;
    default:
      break;
  }
  if (a->len != b->len) return 0;
  for (uint32_t i = 0; i < a->len; i++) {
    int same = a->type == UVOTEL_VALUE_STRING_ARRAY ? strcmp(a->u.sa[i], b->u.sa[i]) == 0
               : a->type == UVOTEL_VALUE_BOOL_ARRAY ? a->u.ba[i] == b->u.ba[i]
               : a->type == UVOTEL_VALUE_INT_ARRAY  ? a->u.ia[i] == b->u.ia[i]
               : a->type == UVOTEL_VALUE_DOUBLE_ARRAY
                   ? memcmp(&a->u.da[i], &b->u.da[i], sizeof(double)) == 0
                   : 0;
    if (!same) return 0;
  }
  return 1;
}

/* The tracer's stored attributes equal the requested ones (valid ones, in order). */
static int scope_attrs_equal(const uvotel_tracer_t *t, const uvotel_attribute_t *attrs, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    /* what the copy refused is not part of the stored scope either */
    if (!uvotel__attr_valid(&attrs[i]) || uvotel__value_too_deep(&attrs[i].value)) continue;
    if (k >= t->scope.n_attrs || strcmp(t->scope.attrs[k].key, attrs[i].key) != 0 ||
        !value_equal(&t->scope.attrs[k].value, &attrs[i].value)) {
      return 0;
    }
    k++;
  }
  return k == t->scope.n_attrs;
}

static uvotel_tracer_t *tracer_new(uvotel_tracer_provider_t *p, const char *name,
                                   const char *version, const char *schema_url,
                                   const uvotel_attribute_t *attrs, size_t n) {
  uvotel_tracer_t *t = uvotel_calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->provider = p;
  t->scope.name = uvotel_strdup(name);
  t->scope.version = uvotel_strdup(version);
  t->scope.schema_url = uvotel_strdup(schema_url);
  int ok = t->scope.name != NULL && t->scope.version != NULL && t->scope.schema_url != NULL;
  if (ok && n > 0) {
    t->attr_holder = res_new();
    ok = t->attr_holder != NULL;
    for (size_t i = 0; ok && i < n; i++) res_set(t->attr_holder, &attrs[i]);
    if (ok) {
      t->scope.attrs = t->attr_holder->attrs;
      t->scope.n_attrs = t->attr_holder->n_attrs;
    }
  }
  if (!ok) {
    uvotel_free((char *)t->scope.name);
    uvotel_free((char *)t->scope.version);
    uvotel_free((char *)t->scope.schema_url);
    res_free(t->attr_holder);
    uvotel_free(t);
    return NULL;
  }
  return t;
}

UVOTEL__API uvotel_tracer_t *uvotel_tracer_get_with_attributes(
    uvotel_tracer_provider_t *p, const char *scope_name, const char *scope_version,
    const char *schema_url, const uvotel_attribute_t *attrs, size_t n_attrs) {
  if (p == NULL || (attrs == NULL && n_attrs > 0)) return NULL;
  if (scope_name == NULL) scope_name = "";
  if (scope_version == NULL) scope_version = "";
  if (schema_url == NULL) schema_url = "";
  pthread_mutex_lock(&p->mu);
  uvotel_tracer_t *t = p->tracers;
  while (t != NULL &&
         (strcmp(t->scope.name, scope_name) != 0 || strcmp(t->scope.version, scope_version) != 0 ||
          strcmp(t->scope.schema_url, schema_url) != 0 || !scope_attrs_equal(t, attrs, n_attrs))) {
    t = t->next;
  }
  if (t == NULL) {
    t = tracer_new(p, scope_name, scope_version, schema_url, attrs, n_attrs);
    if (t != NULL) {
      t->next = p->tracers;
      p->tracers = t;
    }
  }
  pthread_mutex_unlock(&p->mu);
  return t;
}

UVOTEL__API uvotel_tracer_t *uvotel_tracer_get_with_schema(uvotel_tracer_provider_t *p,
                                                           const char *scope_name,
                                                           const char *scope_version,
                                                           const char *schema_url) {
  return uvotel_tracer_get_with_attributes(p, scope_name, scope_version, schema_url, NULL, 0);
}

UVOTEL__API int uvotel_tracer_enabled(const uvotel_tracer_t *t) {
  if (t == NULL) return 0;
  const uvotel_tracer_provider_t *p = t->provider;
  return !atomic_load(&p->shut) && p->n_procs > 0 && !uvotel__sampler_is_always_off(p->sampler);
}

UVOTEL__API uvotel_tracer_t *uvotel_tracer_get(uvotel_tracer_provider_t *p, const char *scope_name,
                                               const char *scope_version) {
  return uvotel_tracer_get_with_schema(p, scope_name, scope_version, NULL);
}

UVOTEL__API const uvotel_instrumentation_scope_t *uvotel_tracer_scope(const uvotel_tracer_t *t) {
  return t != NULL ? &t->scope : NULL;
}

UVOTEL__API uvotel_tracer_provider_t *uvotel_tracer_get_provider(const uvotel_tracer_t *t) {
  return t != NULL ? t->provider : NULL;
}

UVOTEL__API const uvotel_trace_resource_t *uvotel_tracer_provider_resource(
    const uvotel_tracer_provider_t *p) {
  return p != NULL ? &p->resource : NULL;
}

UVOTEL__API const char *uvotel_tracer_provider_propagators(const uvotel_tracer_provider_t *p) {
  return p != NULL ? p->propagators : "";
}

UVOTEL__API const uvotel_sampler_t *uvotel_tracer_provider_sampler(
    const uvotel_tracer_provider_t *p) {
  return p != NULL ? p->sampler : NULL;
}

UVOTEL__API uvotel_span_limits_t uvotel_tracer_provider_limits(const uvotel_tracer_provider_t *p) {
  static const uvotel_span_limits_t defaults = UVOTEL_SPAN_LIMITS_INIT;
  return p != NULL ? p->limits : defaults;
}

/* The first version of uvotel_trace_counters_t ended with received. */
#define COUNTERS_V1_SIZE (offsetof(uvotel_trace_counters_t, received) + sizeof(uint64_t))

static void counters_fill(const uvotel_tracer_provider_t *p, uvotel_trace_counters_t *out);

UVOTEL__API int uvotel_tracer_provider_counters_sized(const uvotel_tracer_provider_t *p,
                                                      uvotel_trace_counters_t *out, size_t size) {
  if (p == NULL || out == NULL || size < COUNTERS_V1_SIZE) return UVOTEL_EINVAL;
  uvotel_trace_counters_t c;
  counters_fill(p, &c);
  memcpy(out, &c, size < sizeof c ? size : sizeof c);
  return 0;
}

/* Parenthesised: the header's macro of the same name passes its size to the call above. */
UVOTEL__API int(uvotel_tracer_provider_counters)(const uvotel_tracer_provider_t *p,
                                                 uvotel_trace_counters_t *out) {
  return uvotel_tracer_provider_counters_sized(p, out, COUNTERS_V1_SIZE);
}

static void counters_fill(const uvotel_tracer_provider_t *p, uvotel_trace_counters_t *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < UVOTEL__SHARDS; i++) {
    out->started += atomic_load_explicit(&p->shards[i].started, memory_order_relaxed);
    out->ended += atomic_load_explicit(&p->shards[i].ended, memory_order_relaxed);
    out->non_recording += atomic_load_explicit(&p->shards[i].non_recording, memory_order_relaxed);
  }
  out->pool_exhausted = atomic_load(&p->pool_exhausted);
  out->misuse = atomic_load(&p->misuse);
  for (size_t i = 0; p->procs != NULL && i < p->n_procs; i++) {
    uvotel_span_processor_counters_t c;
    uvotel_span_processor_counters(p->procs[i], &c);
    out->dropped += c.dropped;
    out->exported += c.exported;
    out->failed += c.failed;
    out->queued += c.queued;
    out->in_flight += c.in_flight;
    out->received += c.received;
  }
  out->open_at_shutdown = atomic_load_explicit(&p->open_at_shutdown, memory_order_relaxed);
}

/* ---- environment ---- */

/* OTEL_PROPAGATORS: the names uvotel implements (those uvotel_propagator_from_names accepts:
 * tracecontext, baggage, b3, b3multi, jaeger, none; any case) are kept, in their lowercase
 * spelling and once each; any other name is refused with an error naming the variable and value
 * (xray, ottrace are not implemented; nothing is put in their place). "none", or nothing left:
 * no propagation. The result becomes the global propagator (what a NULL propagator means). */
static void env_propagators(uvotel_tracer_provider_t *p) {
  const char *v = uvotel_env_get("OTEL_PROPAGATORS");
  if (v == NULL) return;
  const char *cur = v, *item;
  size_t n;
  char out[sizeof p->propagators];
  size_t k = 0;
  out[0] = '\0';
  while (uvotel_env_list_next(&cur, &item, &n)) {
    char name[32];
    uvotel_propagator_t *one = NULL;
    int rc = UVOTEL_ENOENT;
    if (n < sizeof name) {
      for (size_t i = 0; i < n; i++) name[i] = (char)tolower((unsigned char)item[i]);
      name[n] = '\0';
      rc = uvotel_propagator_from_names(name, &one, NULL);
      uvotel_propagator_free(one);
    }
    if (rc != 0) {
      uvotel_diag(UVOTEL_DIAG_ERROR, rc,
                  "OTEL_PROPAGATORS=\"%s\": \"%.*s\" is refused (%s; uvotel implements "
                  "tracecontext, baggage, b3, b3multi, jaeger and none)",
                  v, (int)n, item, rc == UVOTEL_ENOTSUP ? "not implemented" : "unknown");
      continue;
    }
    if (strcmp(name, "none") == 0) continue;
    int dup = 0; /* once each */
    for (const char *q = out; *q != '\0' && !dup;) {
      size_t ql = strcspn(q, ",");
      dup = ql == n && memcmp(q, name, n) == 0;
      q += ql + (q[ql] == ',');
    }
    if (!dup && k + n + 2 < sizeof out) {
      k += (size_t)snprintf(out + k, sizeof out - k, "%s%s", k ? "," : "", name);
    }
  }
  snprintf(p->propagators, sizeof p->propagators, "%s", k > 0 ? out : "none");
  uvotel_propagator_t *prop = NULL;
  if (uvotel_propagator_from_names(p->propagators, &prop, NULL) == 0 && prop != NULL) {
    p->prop = prop;
    uvotel_propagator_set_global(prop);
  }
}

UVOTEL__API uvotel_tracer_provider_t *uvotel_tracer_provider_from_env_with(
    const uvotel_tracer_provider_options_t *base) {
  static const uvotel_tracer_provider_options_t defaults = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  uvotel_tracer_provider_options_t o = base != NULL ? *base : defaults;
  const char *v;

  int disabled = 0;
  (void)uvotel_env_bool("OTEL_SDK_DISABLED", &disabled);

  /* limits: OTEL_ATTRIBUTE_* first, the OTEL_SPAN_* ones win */
  (void)uvotel_env_u32("OTEL_ATTRIBUTE_COUNT_LIMIT", &o.limits.attribute_count);
  (void)uvotel_env_u32("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", &o.limits.attribute_value_length);
  (void)uvotel_env_u32("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", &o.limits.attribute_count);
  (void)uvotel_env_u32("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", &o.limits.attribute_value_length);
  (void)uvotel_env_u32("OTEL_SPAN_EVENT_COUNT_LIMIT", &o.limits.event_count);
  (void)uvotel_env_u32("OTEL_SPAN_LINK_COUNT_LIMIT", &o.limits.link_count);
  (void)uvotel_env_u32("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", &o.limits.event_attribute_count);
  (void)uvotel_env_u32("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", &o.limits.link_attribute_count);

  if (disabled) {
    uvotel_sampler_free(o.sampler);
    for (size_t i = 0; o.processors != NULL && i < o.n_processors; i++) {
      uvotel_span_processor_free(o.processors[i]);
    }
    o.sampler = uvotel_sampler_always_off();
    o.processors = NULL;
    o.n_processors = 0;
    o.flags |= UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
    uvotel_tracer_provider_t *p = provider_new(&o, 0);
    if (p != NULL) env_propagators(p);
    if (p != NULL) uvotel__env_parent_load(p); /* the parent process's context, if any */
    return p;
  }

  /* sampler */
  if ((v = uvotel_env_get("OTEL_TRACES_SAMPLER")) != NULL) {
    uvotel_sampler_t *s = NULL;
    const char *arg = uvotel_env_get("OTEL_TRACES_SAMPLER_ARG");
    int rc = uvotel_sampler_from_name(v, arg, &s);
    if (rc == UVOTEL_ENOTSUP) {
      uvotel_diag(UVOTEL_DIAG_WARN, rc,
                  "OTEL_TRACES_SAMPLER=\"%s\" is unknown; using parentbased_always_on", v);
    } else if (rc == UVOTEL_EPARSE) {
      uvotel_diag(UVOTEL_DIAG_WARN, rc,
                  "OTEL_TRACES_SAMPLER_ARG=\"%s\" is not a ratio in [0, 1]; using 1.0", arg);
    }
    if (s != NULL) {
      uvotel_sampler_free(o.sampler);
      o.sampler = s;
    }
  }

  /* batch processor settings */
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = o.loop;
  (void)uvotel_env_duration_ms("OTEL_BSP_SCHEDULE_DELAY", &bo.schedule_delay_ms);
  (void)uvotel_env_duration_ms("OTEL_BSP_EXPORT_TIMEOUT", &bo.export_timeout_ms);
  /* uvotel's extension: back-pressure instead of dropping at a full queue (0: off) */
  (void)uvotel_env_duration_ms("UVOTEL_BSP_BLOCK_TIMEOUT", &bo.block_timeout_ms);
  uint32_t q = bo.max_queue_size, bs = bo.max_export_batch_size;
  (void)uvotel_env_u32("OTEL_BSP_MAX_QUEUE_SIZE", &q);
  (void)uvotel_env_u32("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", &bs);
  if (q == 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "OTEL_BSP_MAX_QUEUE_SIZE=0; using 2048");
    q = 2048;
  }
  if (bs == 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=0; using 512");
    bs = 512;
  }
  if (bs > q) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL,
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE %u > OTEL_BSP_MAX_QUEUE_SIZE %u; clamped", bs, q);
    bs = q;
  }
  bo.max_queue_size = q;
  bo.max_export_batch_size = bs;

  /* exporters: the caller's processors (all of them: they are owned) plus one per name */
  const char *list = uvotel_env_get("OTEL_TRACES_EXPORTER");
  if (list == NULL) list = uvotel__default_exporter();
  size_t names = 1;
  for (const char *c = list; *c != '\0'; c++) names += *c == ',';
  size_t given = o.processors != NULL ? o.n_processors : 0;
  uvotel_span_processor_t **procs = uvotel_calloc(given + names, sizeof *procs);
  if (procs == NULL) {
    for (size_t i = 0; i < given; i++) uvotel_span_processor_free(o.processors[i]);
    return NULL;
  }
  size_t np = 0;
  for (size_t i = 0; i < given; i++) procs[np++] = o.processors[i];
  const char *cur = list, *name;
  size_t n;
  while (uvotel_env_list_next(&cur, &name, &n)) {
    char nm[32];
    if (n >= sizeof nm) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOTSUP, "OTEL_TRACES_EXPORTER: \"%.*s\" unknown",
                  (int)n, name);
      continue;
    }
    memcpy(nm, name, n);
    nm[n] = '\0';
    /* a name given twice gets one exporter: every span is delivered once */
    const char *seen = list, *sn;
    size_t sl;
    int dup = 0;
    while (!dup && uvotel_env_list_next(&seen, &sn, &sl) && sn < name) {
      dup = uvotel_env_name_eq(sn, sl, nm);
    }
    if (dup) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL,
                  "OTEL_TRACES_EXPORTER=\"%s\": \"%s\" given twice; one exporter is used", list,
                  nm);
      continue;
    }
    /* enum values are case-insensitive, and so is the registry's lookup */
    if (uvotel_env_name_eq(nm, n, "none")) continue;
    uvotel_span_exporter_t *e = uvotel_span_exporter_create_by_name(nm);
    if (e != NULL) {
      uvotel_span_processor_t *pr = uvotel_env_name_eq(nm, n, "console")
                                        ? uvotel_simple_span_processor_create(e)
                                        : uvotel_batch_span_processor_create(e, &bo);
      if (pr != NULL) procs[np++] = pr;
    }
  }
  o.processors = procs;
  o.n_processors = np;
  o.flags |= UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = provider_new(&o, 0);
  uvotel_free(procs); /* provider_new copied the pointers */
  if (p != NULL) env_propagators(p);
  if (p != NULL) uvotel__env_parent_load(p); /* the parent process's context, if any */
  return p;
}

UVOTEL__API uvotel_tracer_provider_t *uvotel_tracer_provider_from_env(void) {
  return uvotel_tracer_provider_from_env_with(NULL);
}
