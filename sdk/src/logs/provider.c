/* The logger provider: resource, limits, processors, loggers per scope, the environment. */
#include <ctype.h>
#include <stdlib.h>

#include "uvotel/env.h"

#include "logs_internal.h"

#define DEFAULT_MAX_RECORDS 8192u

static void free_given(const uvotel_logger_provider_options_t *o) {
  for (size_t i = 0; o->processors != NULL && i < o->n_processors; i++) {
    uvotel_log_processor_free(o->processors[i]);
  }
}

void uvotel__log_provider_free_memory(uvotel_logger_provider_t *p) {
  while (p->loggers != NULL) {
    uvotel_logger_t *l = p->loggers;
    p->loggers = l->next;
    uvotel_free((void *)l->scope.name);
    uvotel_free((void *)l->scope.version);
    uvotel_free((void *)l->scope.schema_url);
    uvotel_free(l);
  }
  uvotel__log_pool_free(p);
  uvotel_tracer_provider_free(p->res_owner);
  pthread_mutex_destroy(&p->mu);
  uvotel_free(p);
}

/* The resource: shared with a tracer provider, or built by an internal one (the same rules,
 * one implementation) that never starts a span. */
static int make_resource(uvotel_logger_provider_t *p, const uvotel_logger_provider_options_t *o) {
  if (o->tracer_provider != NULL) {
    p->resource = uvotel_tracer_provider_resource(o->tracer_provider);
    return p->resource != NULL ? 0 : -1;
  }
  uvotel_tracer_provider_options_t to = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  to.resource_attrs = o->resource_attrs;
  to.n_resource_attrs = o->n_resource_attrs;
  to.resource_schema_url = o->resource_schema_url;
  to.flags = (o->flags & (UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE | UVOTEL_PROVIDER_NO_ENV_RESOURCE)) |
             UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  to.sampler = uvotel_sampler_always_off();
  to.max_spans = 1;
  p->res_owner = uvotel_tracer_provider_create(&to);
  if (p->res_owner == NULL) return -1;
  p->resource = uvotel_tracer_provider_resource(p->res_owner);
  return 0;
}

static uvotel_logger_provider_t *provider_new(const uvotel_logger_provider_options_t *o) {
  if (o->n_processors > 0 && o->processors == NULL) {
    uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "logger provider: n_processors without array");
    return NULL;
  }
  for (size_t i = 0; i < o->n_processors; i++) {
    if (o->processors[i] == NULL) {
      uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EINVAL, "logger provider: NULL processor %zu", i);
      free_given(o);
      return NULL;
    }
  }
  uvotel_logger_provider_t *p = uvotel_calloc(1, sizeof *p);
  if (p == NULL) {
    free_given(o);
    return NULL;
  }
  pthread_mutex_init(&p->mu, NULL);
  p->limits = o->limits;
  p->max_records = o->max_records != 0 ? o->max_records : DEFAULT_MAX_RECORDS;
  p->n_chunks_max = (p->max_records + UVOTEL__LOG_CHUNK - 1) / UVOTEL__LOG_CHUNK;
  p->chunks = uvotel_calloc(p->n_chunks_max, sizeof *p->chunks);
  size_t np = o->n_processors;
  uvotel_log_processor_t *dflt = NULL;
  if (np == 0 && !(o->flags & UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER)) {
    uvotel_log_exporter_t *e = uvotel_log_exporter_create_by_name("file");
    uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
    bo.loop = o->loop;
    dflt = e != NULL ? uvotel_batch_log_processor_create(e, &bo) : NULL;
    if (dflt != NULL) np = 1;
  }
  p->procs = np ? uvotel_calloc(np, sizeof *p->procs) : NULL;
  if (p->chunks == NULL || (np && p->procs == NULL) || make_resource(p, o) != 0) {
    free_given(o);
    uvotel_log_processor_free(dflt);
    uvotel_free(p->procs);
    uvotel_free((void *)p->chunks);
    uvotel_tracer_provider_free(p->res_owner);
    pthread_mutex_destroy(&p->mu);
    uvotel_free(p);
    return NULL;
  }
  for (size_t i = 0; i < o->n_processors; i++) p->procs[i] = o->processors[i];
  if (dflt != NULL) p->procs[0] = dflt;
  p->n_procs = np;
  return p;
}

UVOTEL__API uvotel_logger_provider_t *uvotel_logger_provider_create(
    const uvotel_logger_provider_options_t *opts) {
  static const uvotel_logger_provider_options_t defaults = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  return provider_new(opts != NULL ? opts : &defaults);
}

UVOTEL__API int uvotel_logger_provider_force_flush(uvotel_logger_provider_t *p,
                                                   uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = 0;
  for (size_t i = 0; i < p->n_procs; i++) {
    uint64_t now = uvotel__mono_ms();
    int r = uvotel_log_processor_force_flush(p->procs[i], deadline > now ? deadline - now : 0);
    if (r != 0 && rc == 0) rc = r;
  }
  return rc;
}

UVOTEL__API int uvotel_logger_provider_shutdown(uvotel_logger_provider_t *p, uint64_t timeout_ms) {
  if (p == NULL) return UVOTEL_EINVAL;
  if (atomic_exchange(&p->shut, 1)) return UVOTEL_ESHUTDOWN;
  uint64_t deadline = uvotel__mono_ms() + timeout_ms;
  int rc = 0;
  for (size_t i = 0; i < p->n_procs; i++) {
    uint64_t now = uvotel__mono_ms();
    int r = uvotel_log_processor_shutdown(p->procs[i], deadline > now ? deadline - now : 0);
    if (r != 0 && r != UVOTEL_ESHUTDOWN && rc == 0) rc = r;
  }
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(p, &c);
  uint64_t lost = c.dropped + c.failed + c.pool_exhausted + c.after_shutdown;
  if (lost != 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, 0,
                "logs: %llu of %llu records not delivered (%llu dropped in processors, %llu "
                "failed exports, %llu with no free slot, %llu after shutdown)",
                (unsigned long long)lost, (unsigned long long)(c.emitted + c.pool_exhausted),
                (unsigned long long)c.dropped, (unsigned long long)c.failed,
                (unsigned long long)c.pool_exhausted, (unsigned long long)c.after_shutdown);
  }
  return rc;
}

UVOTEL__API void uvotel_logger_provider_free(uvotel_logger_provider_t *p) {
  if (p == NULL) return;
  if (!atomic_load(&p->shut)) uvotel_logger_provider_shutdown(p, 0);
  for (size_t i = 0; i < p->n_procs; i++) uvotel_log_processor_free(p->procs[i]);
  uvotel_free(p->procs);
  p->procs = NULL;
  p->n_procs = 0;
  p->freed = 1;
  uvotel__log_provider_retire(p);
}

UVOTEL__API const uvotel_trace_resource_t *uvotel_logger_provider_resource(
    const uvotel_logger_provider_t *p) {
  return p != NULL ? p->resource : NULL;
}

UVOTEL__API uvotel_log_limits_t uvotel_logger_provider_limits(const uvotel_logger_provider_t *p) {
  static const uvotel_log_limits_t defaults = UVOTEL_LOG_LIMITS_INIT;
  return p != NULL ? p->limits : defaults;
}

UVOTEL__API int uvotel_logger_provider_counters(const uvotel_logger_provider_t *p,
                                                uvotel_log_counters_t *out) {
  if (p == NULL || out == NULL) return UVOTEL_EINVAL;
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < UVOTEL__SHARDS; i++) out->emitted += atomic_load(&p->emitted[i].n);
  out->pool_exhausted = atomic_load(&p->pool_exhausted);
  out->after_shutdown = atomic_load(&p->after_shutdown);
  out->misuse = atomic_load(&p->misuse);
  for (size_t i = 0; i < p->n_procs; i++) {
    uvotel_log_processor_counters_t c;
    uvotel_log_processor_counters(p->procs[i], &c);
    out->dropped += c.dropped;
    out->exported += c.exported;
    out->failed += c.failed;
  }
  return 0;
}

/* ---- loggers ---- */

static int str_eq(const char *a, const char *b) {
  return strcmp(a, b != NULL ? b : "") == 0;
}

UVOTEL__API uvotel_logger_t *uvotel_logger_get_with_schema(uvotel_logger_provider_t *p,
                                                           const char *name, const char *version,
                                                           const char *schema_url) {
  if (p == NULL) return NULL;
  pthread_mutex_lock(&p->mu);
  uvotel_logger_t *l = p->loggers;
  while (l != NULL && !(str_eq(l->scope.name, name) && str_eq(l->scope.version, version) &&
                        str_eq(l->scope.schema_url, schema_url))) {
    l = l->next;
  }
  if (l == NULL) {
    l = uvotel_calloc(1, sizeof *l);
    if (l != NULL) {
      l->p = p;
      l->scope.name = uvotel_strdup(name != NULL ? name : "");
      l->scope.version = uvotel_strdup(version != NULL ? version : "");
      l->scope.schema_url = uvotel_strdup(schema_url != NULL ? schema_url : "");
      if (l->scope.name == NULL || l->scope.version == NULL || l->scope.schema_url == NULL) {
        uvotel_free((void *)l->scope.name);
        uvotel_free((void *)l->scope.version);
        uvotel_free((void *)l->scope.schema_url);
        uvotel_free(l);
        l = NULL;
      } else {
        l->next = p->loggers;
        p->loggers = l;
      }
    }
  }
  pthread_mutex_unlock(&p->mu);
  return l;
}

UVOTEL__API uvotel_logger_t *uvotel_logger_get(uvotel_logger_provider_t *p, const char *name,
                                               const char *version) {
  return uvotel_logger_get_with_schema(p, name, version, NULL);
}

UVOTEL__API const uvotel_instrumentation_scope_t *uvotel_logger_scope(const uvotel_logger_t *l) {
  return l != NULL ? &l->scope : NULL;
}

UVOTEL__API uvotel_logger_provider_t *uvotel_logger_get_provider(const uvotel_logger_t *l) {
  return l != NULL ? l->p : NULL;
}

UVOTEL__API int uvotel_logger_enabled(const uvotel_logger_t *l, int severity) {
  (void)severity;
  return l != NULL && !atomic_load_explicit(&l->p->shut, memory_order_relaxed) && l->p->n_procs > 0;
}

/* ---- environment (uvotel/env.h: the one parser; bad values warned about there) ---- */

static void blrp_from_env(uvotel_batch_log_processor_options_t *bo) {
  (void)uvotel_env_duration_ms("OTEL_BLRP_SCHEDULE_DELAY", &bo->schedule_delay_ms);
  (void)uvotel_env_duration_ms("OTEL_BLRP_EXPORT_TIMEOUT", &bo->export_timeout_ms);
  uint32_t q = bo->max_queue_size, bs = bo->max_export_batch_size;
  (void)uvotel_env_u32("OTEL_BLRP_MAX_QUEUE_SIZE", &q);
  (void)uvotel_env_u32("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", &bs);
  if (q == 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "OTEL_BLRP_MAX_QUEUE_SIZE=0; using 2048");
    q = 2048;
  }
  if (bs == 0) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE=0; using 512");
    bs = 512;
  }
  if (bs > q) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL,
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE %u > OTEL_BLRP_MAX_QUEUE_SIZE %u; clamped", bs, q);
    bs = q;
  }
  bo->max_queue_size = q;
  bo->max_export_batch_size = bs;
}

/* One processor per name of OTEL_LOGS_EXPORTER appended to procs. */
static size_t exporters_from_env(const char *list, const uvotel_batch_log_processor_options_t *bo,
                                 uvotel_log_processor_t **procs, size_t np) {
  const char *cur = list, *name;
  size_t n;
  while (uvotel_env_list_next(&cur, &name, &n)) {
    char nm[32];
    if (n >= sizeof nm) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOTSUP, "OTEL_LOGS_EXPORTER: \"%.*s\" unknown", (int)n,
                  name);
    } else if (!uvotel_env_name_eq(name, n, "none")) {
      for (size_t i = 0; i < n; i++) nm[i] = (char)tolower((unsigned char)name[i]);
      nm[n] = '\0';
      uvotel_log_exporter_t *e = uvotel_log_exporter_create_by_name(nm);
      if (e != NULL) {
        uvotel_log_processor_t *pr = strcmp(nm, "console") == 0
                                         ? uvotel_simple_log_processor_create(e)
                                         : uvotel_batch_log_processor_create(e, bo);
        if (pr != NULL) procs[np++] = pr;
      }
    }
  }
  return np;
}

UVOTEL__API uvotel_logger_provider_t *uvotel_logger_provider_from_env_with(
    const uvotel_logger_provider_options_t *base) {
  static const uvotel_logger_provider_options_t defaults = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  uvotel_logger_provider_options_t o = base != NULL ? *base : defaults;
  int disabled = 0;
  (void)uvotel_env_bool("OTEL_SDK_DISABLED", &disabled);
  /* OTEL_ATTRIBUTE_* first, the OTEL_LOGRECORD_* ones win */
  (void)uvotel_env_u32("OTEL_ATTRIBUTE_COUNT_LIMIT", &o.limits.attribute_count);
  (void)uvotel_env_u32("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", &o.limits.attribute_value_length);
  (void)uvotel_env_u32("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", &o.limits.attribute_count);
  (void)uvotel_env_u32("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                       &o.limits.attribute_value_length);
  o.flags |= UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  if (disabled) {
    free_given(&o);
    o.processors = NULL;
    o.n_processors = 0;
    return provider_new(&o);
  }
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = o.loop;
  blrp_from_env(&bo);
  /* unset: OTLP when an endpoint is configured (as for traces), else the file */
  const char *list = uvotel_env_get("OTEL_LOGS_EXPORTER");
  if (list == NULL) {
    int endpoint = uvotel_env_get("OTEL_EXPORTER_OTLP_ENDPOINT") != NULL ||
                   uvotel_env_get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT") != NULL;
    list = endpoint ? "otlp" : "file";
  }
  size_t names = 1;
  for (const char *c = list; *c != '\0'; c++) names += *c == ',';
  size_t given = o.processors != NULL ? o.n_processors : 0;
  uvotel_log_processor_t **procs = uvotel_calloc(given + names, sizeof *procs);
  if (procs == NULL) {
    free_given(&o);
    return NULL;
  }
  size_t np = 0;
  for (size_t i = 0; i < given; i++) procs[np++] = o.processors[i];
  np = exporters_from_env(list, &bo, procs, np);
  o.processors = procs;
  o.n_processors = np;
  uvotel_logger_provider_t *p = provider_new(&o);
  uvotel_free(procs);
  return p;
}

UVOTEL__API uvotel_logger_provider_t *uvotel_logger_provider_from_env(void) {
  return uvotel_logger_provider_from_env_with(NULL);
}
