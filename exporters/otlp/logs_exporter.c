/* The OTLP/HTTP log exporter: the trace exporter's transport (http.c: exporter thread, curl,
 * retries, statistics) carrying ExportLogsServiceRequest bodies to /v1/logs.
 *
 * The transport and its configuration (options.c) are the traces ones, unchanged: this file
 * resolves the logs variables itself (OTEL_EXPORTER_OTLP_LOGS_* over OTEL_EXPORTER_OTLP_*) into
 * explicit options with use_env = 0, so no OTEL_EXPORTER_OTLP_TRACES_* value leaks into the
 * logs exporter. The answer's ExportLogsServiceResponse has the same field numbers as the traces
 * answer (partial_success = 1 { rejected = 1, error_message = 2 }), so the transport's reading of
 * partial success is correct for logs too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "otlp_internal.h"
#include "uvotel/env.h"
#include "uvotel/exporters/logs.h"

#define LOGS_MAGIC 0x4f4c4f47u /* "OLOG" */
#define DEFAULT_LOGS_URL "http://localhost:4318/v1/logs"

int uvotel__otlp_encode_logs(const uvotel_log_data_t *const *recs, size_t n, uint8_t **out,
                             size_t *out_n);

typedef struct log_exporter_s {
  uint32_t magic;
  uvotel__otlp_transport_t *t;
} log_exporter_t;

/* Encode (protobuf, or OTLP/JSON for http/json) on the calling thread. */
static int encode_body(const uvotel__otlp_config_t *cfg, const uvotel_log_data_t *const *recs,
                       size_t n, uvotel__otlp_job_t *job) {
  int rc;
  if (cfg->json) {
    char *buf = NULL;
    size_t cap = 0, len = 0;
    rc = uvotel_otlp_json_encode_logs(recs, n, &buf, &cap, &len);
    if (rc != 0) {
      uvotel_free(buf);
      return rc;
    }
    job->body = (uint8_t *)buf;
    job->body_len = len;
  } else {
    rc = uvotel__otlp_encode_logs(recs, n, &job->body, &job->body_len);
    if (rc != 0) return rc;
  }
  return 0;
}

/* Encode here, queue the body for the exporter thread and return 0; the receiver's answer (or
 * the failure after retries / at the timeout) reaches `completion`. UVOTEL_EBUSY when the
 * exporter's queue stayed full, or the encoding error. */
static int log_export_async(void *self, const uvotel_log_data_t *const *recs, size_t n,
                            uint64_t timeout_ms, const uvotel_export_completion_t *completion) {
  log_exporter_t *x = self;
  if (n == 0 || completion == NULL || completion->done == NULL) return UVOTEL_EINVAL;
  const uvotel__otlp_config_t *cfg = uvotel__otlp_transport_config(x->t);
  uvotel__otlp_job_t *job = uvotel__otlp_job_new(n, timeout_ms);
  if (job == NULL) return UVOTEL_ENOMEM;
  int rc = encode_body(cfg, recs, n, job);
  if (rc != 0) uvotel_diag(UVOTEL_DIAG_ERROR, rc, "otlp_http logs: encoding %zu records failed", n);
  return uvotel__otlp_job_send(x->t, job, rc, completion);
}

typedef struct sync_args_s {
  void *self;
  const uvotel_log_data_t *const *recs;
  size_t n;
  uint64_t timeout_ms;
} sync_args_t;

static int start_export(void *ctx, const uvotel_export_completion_t *c) {
  sync_args_t *a = ctx;
  return log_export_async(a->self, a->recs, a->n, a->timeout_ms, c);
}

/* Synchronous (the simple processor, uvotel_log_exporter_export): waits for the answer, which
 * the export timeout bounds. 0 only when every record was accepted; UVOTEL_EIO when some were
 * rejected. */
static int log_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                      uint64_t timeout_ms) {
  sync_args_t a = {self, recs, n, timeout_ms};
  return uvotel__otlp_export_wait(start_export, &a);
}

static int log_flush(void *self, uint64_t timeout_ms) {
  return uvotel__otlp_transport_flush(((log_exporter_t *)self)->t, timeout_ms);
}

static int log_shutdown(void *self, uint64_t timeout_ms) {
  return uvotel__otlp_transport_shutdown(((log_exporter_t *)self)->t, timeout_ms);
}

static void log_free(void *self) {
  log_exporter_t *x = self;
  uvotel__otlp_transport_free(x->t);
  x->magic = 0;
  uvotel_free(x);
}

static const uvotel_log_exporter_ops_t k_log_ops = {.export_logs = log_export,
                                                    .force_flush = log_flush,
                                                    .shutdown = log_shutdown,
                                                    .free = log_free,
                                                    .flags = UVOTEL_EXPORTER_CONCURRENT,
                                                    .export_async = log_export_async};

static void sdk_diag(void *arg, uvotel_otlp_diag_level_t level, const char *msg) {
  (void)arg;
  uvotel_diag_level_t l = level >= UVOTEL_OTLP_DIAG_ERROR  ? UVOTEL_DIAG_ERROR
                          : level == UVOTEL_OTLP_DIAG_WARN ? UVOTEL_DIAG_WARN
                          : level == UVOTEL_OTLP_DIAG_INFO ? UVOTEL_DIAG_INFO
                                                           : UVOTEL_DIAG_DEBUG;
  uvotel_diag(l, 0, "%s", msg);
}

/* OTEL_EXPORTER_OTLP_LOGS_<name>, else OTEL_EXPORTER_OTLP_<name> (its name into `which`); NULL
 * when neither is set. */
static const char *logs_env(const char *name, char *which, size_t cap) {
  static const char *const prefixes[] = {"OTEL_EXPORTER_OTLP_LOGS_", "OTEL_EXPORTER_OTLP_"};
  for (int i = 0; i < 2; i++) {
    snprintf(which, cap, "%s%s", prefixes[i], name);
    const char *v = uvotel_env_get(which);
    if (v != NULL) return v;
  }
  return NULL;
}

/* Fill the fields of `o` left unset from the logs environment. *url_out is a uvotel_malloc'd
 * endpoint when one was built (the caller frees it). */
static void resolve_env(uvotel_otlp_http_options_t *o, char **url_out) {
  char which[64];
  const char *v;
  *url_out = NULL;
  /* http/protobuf or http/json; anything else is refused by the configuration */
  if (o->protocol == NULL) o->protocol = logs_env("PROTOCOL", which, sizeof which);
  if (o->insecure == 0 && logs_env("INSECURE", which, sizeof which) != NULL) {
    int b = 0;
    if (uvotel_env_bool(which, &b) == 0) o->insecure = b ? 1 : -1;
  }
  if (o->endpoint == NULL) {
    const char *le = uvotel_env_get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT");
    const char *ge = uvotel_env_get("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (le != NULL) {
      o->endpoint = le;
    } else if (ge != NULL) {
      size_t n = strlen(ge);
      while (n > 0 && ge[n - 1] == '/') n--;
      char *u = uvotel_malloc(n + sizeof "/v1/logs");
      if (u != NULL) {
        memcpy(u, ge, n);
        memcpy(u + n, "/v1/logs", sizeof "/v1/logs");
        *url_out = u;
        o->endpoint = u;
      }
    } else {
      o->endpoint = DEFAULT_LOGS_URL;
    }
  }
  if (o->headers == NULL) o->headers = logs_env("HEADERS", which, sizeof which);
  if (o->timeout_ms == 0 && logs_env("TIMEOUT", which, sizeof which) != NULL) {
    (void)uvotel_env_duration_ms(which, &o->timeout_ms); /* warns when malformed */
  }
  if (o->compression == UVOTEL_OTLP_COMPRESSION_DEFAULT &&
      (v = logs_env("COMPRESSION", which, sizeof which)) != NULL) {
    if (uvotel_env_name_eq(v, strlen(v), "gzip")) {
      o->compression = UVOTEL_OTLP_COMPRESSION_GZIP;
    } else if (uvotel_env_name_eq(v, strlen(v), "none")) {
      o->compression = UVOTEL_OTLP_COMPRESSION_NONE;
    } else {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EPARSE, "ignoring %s=%s", which, v);
    }
  }
  if (o->certificate == NULL) o->certificate = logs_env("CERTIFICATE", which, sizeof which);
  if (o->client_key == NULL) o->client_key = logs_env("CLIENT_KEY", which, sizeof which);
  if (o->client_certificate == NULL) {
    o->client_certificate = logs_env("CLIENT_CERTIFICATE", which, sizeof which);
  }
}

UVOTEL__API int uvotel_otlp_http_log_exporter_create(const uvotel_otlp_http_options_t *opts,
                                                     uvotel_log_exporter_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  if (opts != NULL) o = *opts;
  if (o.diag == NULL) o.diag = sdk_diag;
  char *url = NULL;
  if (o.use_env) {
    resolve_env(&o, &url);
    o.use_env = 0;
  } else if (o.endpoint == NULL) {
    o.endpoint = DEFAULT_LOGS_URL;
  }
  uvotel__otlp_config_t cfg;
  int rc = uvotel__otlp_config_init(&cfg, &o);
  uvotel_free(url);
  if (rc != 0) return rc;
  log_exporter_t *x = uvotel_calloc(1, sizeof *x);
  if (x == NULL) {
    uvotel__otlp_config_free(&cfg);
    return UVOTEL_ENOMEM;
  }
  rc = uvotel__otlp_transport_create(&cfg, &x->t);
  if (rc != 0) {
    uvotel__otlp_config_free(&cfg);
    uvotel_free(x);
    return rc;
  }
  x->magic = LOGS_MAGIC;
  uvotel_log_exporter_t *e = uvotel_log_exporter_create(&k_log_ops, x);
  if (e == NULL) return UVOTEL_ENOMEM; /* create called log_free */
  *out = e;
  return 0;
}

UVOTEL__API int uvotel_otlp_http_log_exporter_stats(const uvotel_log_exporter_t *e,
                                                    uvotel_otlp_http_stats_t *out) {
  log_exporter_t *x = e != NULL ? uvotel_log_exporter_self(e) : NULL;
  if (x == NULL || x->magic != LOGS_MAGIC || out == NULL) return UVOTEL_EINVAL;
  uvotel__otlp_transport_stats(x->t, out);
  return 0;
}
