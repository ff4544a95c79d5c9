/* The OTLP/HTTP span exporter: the uvotel_span_exporter_ops_t glue over encode.c and http.c. */
#include <stdatomic.h>
#include <string.h>

#include "otlp_internal.h"
#include "uvotel/exporters/file.h"
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
  atomic_int announced; /* the first export said where spans go */
} otlp_exporter_t;

typedef struct body_job_s {
  uvotel__otlp_job_t job;
  uvotel_export_completion_t done; /* copied: the caller's struct is only borrowed */
} body_job_t;

/* Runs on the exporter thread when the batch is finished, whatever the outcome: the result
 * reaches the caller (the batch processor's completion) and the job is freed. */
static void release_body_job(uvotel__otlp_job_t *job) {
  body_job_t *bj = (body_job_t *)job;
  uvotel_export_completion_t done = bj->done;
  int result = job->result;
  size_t rejected = (size_t)job->rejected;
  uvotel_free(bj);
  if (done.done != NULL) done.done(done.arg, result, rejected);
}

/* Encode (and compress) on the calling thread: the batch processor's export thread, never
 * libuv's pool, so the span data is not needed after return. http/json bodies come from the
 * OTLP/JSON encoder the file exporter uses. */
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
    rc = uvotel__otlp_encode(spans, n, x->cache, &job->body, &job->body_len);
    if (rc != 0) return rc;
  }
  job->raw_len = job->body_len;
  if (cfg->gzip) {
    uint8_t *z;
    size_t zn;
    rc = uvotel__otlp_gzip(job->body, job->body_len, &z, &zn);
    if (rc != 0) return rc;
    uvotel_free(job->body);
    job->body = z;
    job->body_len = zn;
  }
  return 0;
}

/* Hands the encoded body to the exporter thread and returns 0 once it is queued; the result
 * (accepted, partially rejected, or given up after retries or at min(timeout_ms, the OTLP
 * timeout)) reaches `completion` on the exporter thread. When max_queue_batches are already
 * pending it waits up to min(timeout_ms, ROOM_WAIT_MAX_MS) for room (back-pressure on the
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
  body_job_t *bj = uvotel_calloc(1, sizeof *bj);
  if (bj == NULL) return UVOTEL_ENOMEM;
  uvotel__otlp_job_t *job = &bj->job;
  job->release = release_body_job;
  job->n_spans = n;
  job->timeout_ms = timeout_ms;
  int rc = encode_body(x, spans, n, job);
  if (rc == 0) {
    job->ready = 1;
    bj->done = *completion;
    rc = uvotel__otlp_transport_submit(
        x->t, job, timeout_ms < ROOM_WAIT_MAX_MS ? timeout_ms : ROOM_WAIT_MAX_MS);
    if (rc == 0) return 0;
  } else {
    uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR, "otlp_http: encoding %zu spans failed: %s", n,
                     uvotel_strerror(rc));
  }
  uvotel_free(job->body);
  uvotel_free(bj);
  return rc;
}

typedef struct waiter_s {
  uv_mutex_t mu;
  uv_cond_t cv;
  int done;
  int result;
  size_t rejected;
} waiter_t;

static void waiter_done(void *arg, int result, size_t rejected) {
  waiter_t *w = arg;
  uv_mutex_lock(&w->mu);
  w->result = result;
  w->rejected = rejected;
  w->done = 1;
  uv_cond_signal(&w->cv);
  uv_mutex_unlock(&w->mu);
}

/* Synchronous export (the simple processor, uvotel_span_exporter_export): waits for the
 * receiver's answer, which the batch's export timeout bounds. 0 only when every span was
 * accepted; UVOTEL_EIO when some were rejected (partial success). */
static int exp_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  if (n == 0) return 0;
  waiter_t w;
  memset(&w, 0, sizeof w);
  if (uv_mutex_init(&w.mu) != 0) return UVOTEL_ENOMEM;
  if (uv_cond_init(&w.cv) != 0) {
    uv_mutex_destroy(&w.mu);
    return UVOTEL_ENOMEM;
  }
  uvotel_export_completion_t c = {waiter_done, &w};
  int rc = exp_export_async(self, spans, n, timeout_ms, &c);
  if (rc == 0) {
    uv_mutex_lock(&w.mu);
    while (!w.done) uv_cond_wait(&w.cv, &w.mu);
    uv_mutex_unlock(&w.mu);
    rc = w.result != 0 ? w.result : w.rejected > 0 ? UVOTEL_EIO : 0;
  }
  uv_cond_destroy(&w.cv);
  uv_mutex_destroy(&w.mu);
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
