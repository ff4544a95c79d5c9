/* The OTLP/HTTP span exporter: the uvotel_span_exporter_ops_t glue over encode.c and http.c. */
#include <stdatomic.h>
#include <string.h>

#include "otlp_internal.h"
#include "uvotel/exporters/file.h"
#include "uvotel/trace_sdk.h"

#define OTLP_MAGIC 0x4f544c50u /* "OTLP" */

typedef struct otlp_exporter_s {
  uint32_t magic;
  uvotel__otlp_transport_t *t;
  uvotel__otlp_block_cache_t *cache;
  atomic_int announced; /* the first export said where spans go */
} otlp_exporter_t;

/* Encode on the calling thread (uvotel__otlp_job_send compresses): the batch processor's export
 * thread, never libuv's pool, so the span data is not needed after return. http/json bodies come
 * from the OTLP/JSON encoder the file exporter uses. */
static int encode_body(otlp_exporter_t *x, const uvotel_span_data_t *const *spans, size_t n,
                       uvotel__otlp_job_t *job) {
  const uvotel__otlp_config_t *cfg = uvotel__otlp_transport_config(x->t);
  int rc;
  if (cfg->json) {
    char *buf = NULL;
    size_t cap = 0, len = 0;
    rc = uvotel_otlp_json_encode(spans, n, &buf, &cap, &len);
    if (rc != 0) {
      uvotel_free(buf);
      return rc;
    }
    job->body = (uint8_t *)buf;
    job->body_len = len;
  } else {
    /* sent from the scratch buffer itself, which the transport gives back to the cache */
    rc = uvotel__otlp_encode_held(spans, n, x->cache, &job->body, &job->body_len, &job->body_hold);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Hands the encoded body to the exporter thread and returns 0 once it is queued; the result
 * (accepted, partially rejected, or given up after retries or at min(timeout_ms, the OTLP
 * timeout)) reaches `completion` on the exporter thread. When max_queue_batches are already
 * pending it waits up to min(timeout_ms, 1 s) for room (back-pressure on the
 * processor's queue), then refuses the batch with UVOTEL_EBUSY. */
static int exp_export_async(void *self, const uvotel_span_data_t *const *spans, size_t n,
                            uint64_t timeout_ms, const uvotel_export_completion_t *completion) {
  otlp_exporter_t *x = self;
  if (n == 0 || completion == NULL || completion->done == NULL) return UVOTEL_EINVAL;
  const uvotel__otlp_config_t *cfg = uvotel__otlp_transport_config(x->t);
  if (atomic_exchange(&x->announced, 1) == 0) {
    uvotel__otlp_log(cfg, UVOTEL_DIAG_INFO, "otlp_http: sending spans to %s (%s%s)", cfg->url,
                     cfg->json ? "http/json" : "http/protobuf", cfg->gzip ? ", gzip" : "");
  }
  uvotel__otlp_job_t *job = uvotel__otlp_job_new(n, timeout_ms);
  if (job == NULL) return UVOTEL_ENOMEM;
  int rc = encode_body(x, spans, n, job);
  if (rc != 0) {
    uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR, "otlp_http: encoding %zu spans failed: %s", n,
                     uvotel_strerror(rc));
  }
  return uvotel__otlp_job_send(x->t, job, rc, completion);
}

typedef struct sync_args_s {
  void *self;
  const uvotel_span_data_t *const *spans;
  size_t n;
  uint64_t timeout_ms;
} sync_args_t;

static int start_export(void *ctx, const uvotel_export_completion_t *c) {
  sync_args_t *a = ctx;
  return exp_export_async(a->self, a->spans, a->n, a->timeout_ms, c);
}

/* Synchronous export (the simple processor, uvotel_span_exporter_export): waits for the
 * receiver's answer, which the batch's export timeout bounds. 0 only when every span was
 * accepted; UVOTEL_EIO when some were rejected (partial success). */
static int exp_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  if (n == 0) return 0;
  sync_args_t a = {self, spans, n, timeout_ms};
  return uvotel__otlp_export_wait(start_export, &a);
}

static int exp_force_flush(void *self, uint64_t timeout_ms) {
  otlp_exporter_t *x = self;
  return uvotel__otlp_transport_flush(x->t, timeout_ms);
}

static int exp_shutdown(void *self, uint64_t timeout_ms) {
  otlp_exporter_t *x = self;
  return uvotel__otlp_transport_shutdown(x->t, timeout_ms);
}

static void exp_free(void *self) {
  otlp_exporter_t *x = self;
  uvotel__otlp_transport_free(x->t);
  uvotel__otlp_block_cache_free(x->cache);
  x->magic = 0;
  uvotel_free(x);
}

static const uvotel_span_exporter_ops_t k_ops = {.export_spans = exp_export,
                                                 .force_flush = exp_force_flush,
                                                 .shutdown = exp_shutdown,
                                                 .free = exp_free,
                                                 .flags = UVOTEL_EXPORTER_CONCURRENT,
                                                 .export_async = exp_export_async};

UVOTEL__API int uvotel_otlp_http_exporter_create(const uvotel_otlp_http_options_t *opts,
                                                 uvotel_span_exporter_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  if (opts != NULL) o = *opts;
  uvotel__otlp_config_t cfg;
  int rc = uvotel__otlp_config_init(&cfg, &o);
  if (rc != 0) return rc;
  otlp_exporter_t *x = uvotel_calloc(1, sizeof *x);
  if (x == NULL) {
    uvotel__otlp_config_free(&cfg);
    return UVOTEL_ENOMEM;
  }
  rc = uvotel__otlp_block_cache_create(&x->cache);
  if (rc == 0) rc = uvotel__otlp_transport_create(&cfg, &x->t);
  if (rc != 0) {
    uvotel__otlp_block_cache_free(x->cache);
    uvotel__otlp_config_free(&cfg);
    uvotel_free(x);
    return rc;
  }
  x->magic = OTLP_MAGIC;
  uvotel_span_exporter_t *e = uvotel_span_exporter_create(&k_ops, x);
  if (e == NULL) return UVOTEL_ENOMEM; /* create called exp_free */
  *out = e;
  return 0;
}

static otlp_exporter_t *self_of(const uvotel_span_exporter_t *e) {
  otlp_exporter_t *x = e ? uvotel_span_exporter_self(e) : NULL;
  if (x == NULL || x->magic != OTLP_MAGIC) return NULL;
  return x;
}

UVOTEL__API int uvotel_otlp_http_exporter_stats(const uvotel_span_exporter_t *e,
                                                uvotel_otlp_http_stats_t *out) {
  otlp_exporter_t *x = self_of(e);
  if (x == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__otlp_transport_stats(x->t, out);
  return 0;
}

UVOTEL__API const char *uvotel_otlp_http_exporter_endpoint(const uvotel_span_exporter_t *e) {
  otlp_exporter_t *x = self_of(e);
  return x ? uvotel__otlp_transport_config(x->t)->url : NULL;
}

UVOTEL__API int uvotel_otlp_http_encode(const uvotel_span_data_t *const *spans, size_t n,
                                        uint8_t **body, size_t *len) {
  return uvotel__otlp_encode(spans, n, NULL, body, len);
}

static uvotel_span_exporter_t *factory(const char *name, void *arg) {
  (void)name;
  (void)arg;
  uvotel_span_exporter_t *e = NULL;
  int rc = uvotel_otlp_http_exporter_create(NULL, &e);
  if (rc != 0) uvotel_diag(UVOTEL_DIAG_ERROR, rc, "otlp_http: cannot create the exporter");
  return e;
}

UVOTEL__API int uvotel_otlp_http_exporter_register(void) {
  return uvotel_span_exporter_register("otlp", factory, NULL);
}

/* Loading libuvotel_exporters registers "otlp" with the others (src/register.c). */
