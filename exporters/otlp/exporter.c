/* The OTLP/HTTP span exporter: the uvotel_span_exporter_ops_t glue over encode.c and http.c. */
#include <string.h>

#include "otlp_internal.h"
#include "uvotel/trace_sdk.h"

#define OTLP_MAGIC 0x4f544c50u /* "OTLP" */

/* The longest an export waits for room in a full exporter queue. A processor whose shutdown
 * timed out frees its exporter only after its in-flight exports return, so this bounds how long
 * uvotel_tracer_provider_free can hang behind a collector that stopped answering. */
#define ROOM_WAIT_MAX_MS 1000u

typedef struct otlp_exporter_s {
  uint32_t magic;
  uvotel__otlp_transport_t *t;
  uvotel__otlp_block_cache_t *cache;
} otlp_exporter_t;

typedef struct body_job_s {
  uvotel__otlp_job_t job;
} body_job_t;

static void release_body_job(uvotel__otlp_job_t *job) {
  uvotel_free(job);
}

/* Runs where the processor calls it: on a libuv pool thread for the batch processor. Encodes
 * (and compresses) here, so the span data is not needed after return, hands the body to the
 * exporter thread and returns 0 once it is queued: delivery, retries and their failures are
 * counted in the exporter's statistics and reported to diagnostics. When max_queue_batches are
 * already pending it waits up to min(timeout_ms, ROOM_WAIT_MAX_MS) for room (back-pressure on the
 * processor's queue),
 * then refuses the batch with UVOTEL_EBUSY. */
static int exp_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  otlp_exporter_t *x = self;
  if (n == 0) return 0;
  const uvotel__otlp_config_t *cfg = uvotel__otlp_transport_config(x->t);
  body_job_t *bj = uvotel_calloc(1, sizeof *bj);
  if (bj == NULL) return UVOTEL_ENOMEM;
  uvotel__otlp_job_t *job = &bj->job;
  job->release = release_body_job;
  job->n_spans = n;
  int rc = uvotel__otlp_encode(spans, n, x->cache, &job->body, &job->body_len);
  if (rc == 0) {
    job->raw_len = job->body_len;
    if (cfg->gzip) {
      uint8_t *z;
      size_t zn;
      rc = uvotel__otlp_gzip(job->body, job->body_len, &z, &zn);
      if (rc == 0) {
        uvotel_free(job->body);
        job->body = z;
        job->body_len = zn;
      }
    }
  }
  if (rc == 0) {
    job->ready = 1;
    rc = uvotel__otlp_transport_submit(
        x->t, job, timeout_ms < ROOM_WAIT_MAX_MS ? timeout_ms : ROOM_WAIT_MAX_MS);
    if (rc == 0) return 0;
  } else {
    uvotel_diag(UVOTEL_DIAG_ERROR, rc, "otlp_http: encoding %zu spans failed", n);
  }
  uvotel_free(job->body);
  uvotel_free(bj);
  return rc;
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

static const uvotel_span_exporter_ops_t k_ops = {exp_export, exp_force_flush, exp_shutdown,
                                                 exp_free, UVOTEL_EXPORTER_CONCURRENT};

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
