/* Private declarations of the OTLP/HTTP exporter: configuration, transport, encoding. */
#ifndef UVOTEL_OTLP_INTERNAL_H
#define UVOTEL_OTLP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvotel/alloc.h"
#include "uvotel/diag.h"
#include "uvotel/env.h"
#include "uvotel/errno.h"
#include "uvotel/exporters/otlp_http.h"

#define UVOTEL__API __attribute__((visibility("default")))

/* ---- configuration (options.c) ---- */

/* Everything the transport needs, resolved from options and environment, owned. */
typedef struct uvotel__otlp_config_s {
  char *url;      /* full URL of the traces endpoint */
  char **headers; /* "Name: value" lines, percent-decoded */
  size_t n_headers;
  uint64_t timeout_ms;
  int gzip;
  int json; /* http/json: OTLP/JSON bodies, application/json */
  char *ca_file;
  char *client_key;
  char *client_cert;
  int insecure;
  unsigned max_concurrent;
  size_t max_queue_batches;
  uint64_t retry_initial_ms;
  uint64_t retry_max_ms;
  uvotel_otlp_diag_cb diag;
  void *diag_arg;
} uvotel__otlp_config_t;

/* Resolve `opts` (NULL: defaults) over the OTEL_EXPORTER_OTLP_* environment into `cfg`.
 * Errors: UVOTEL_EINVAL (bad option, unknown protocol, an endpoint whose scheme is not http or
 * https, from the options or the environment), UVOTEL_EPARSE (malformed headers option),
 * UVOTEL_ENOTSUP (protocol grpc), UVOTEL_ENOMEM. Refusals name the variable and value through
 * diagnostics. Other bad environment values are reported and ignored, as the OpenTelemetry
 * specification asks. */
int uvotel__otlp_config_init(uvotel__otlp_config_t *cfg, const uvotel_otlp_http_options_t *opts);
void uvotel__otlp_config_free(uvotel__otlp_config_t *cfg);

/* Parse a W3C-baggage-style "k=v,k2=v2" list, percent-decoding keys and values, appending
 * "k: v" lines to cfg->headers, by the rules of uvotel/env.h (uvotel_env_kv_parse). Empty
 * members are skipped. Errors: UVOTEL_EPARSE (member without '=', empty key, bad %XX, %00, a
 * CR/LF in the result, a key that is not an HTTP token), UVOTEL_ENOMEM; on error nothing is
 * appended. */
int uvotel__otlp_parse_headers(uvotel__otlp_config_t *cfg, const char *list);

/* Parse a Retry-After value: delta-seconds or an HTTP date. `now_s` is the current Unix time.
 * Returns the delay in milliseconds (0 for a date in the past), or -1 when malformed. */
int64_t uvotel__otlp_parse_retry_after(const char *v, int64_t now_s);

/* Report a diagnostic about this exporter: to its legacy uvotel_otlp_diag_cb when one was
 * given in the options, else to the SDK's uvotel_diag (uvotel/diag.h). */
void uvotel__otlp_log(const uvotel__otlp_config_t *cfg, uvotel_diag_level_t level, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));

/* ---- gzip (gzip.c) ---- */

/* gzip-compress `in` into a new uvotel_malloc'd buffer. 0, UVOTEL_ENOMEM or UVOTEL_EIO. */
int uvotel__otlp_gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n);

/* ---- encoding (encode.c) ---- */

struct uvotel_span_data_s;
/* Recycled scratch buffers for encoding (thread-safe; up to 8 kept, each up to 4 MiB); NULL
 * works too (allocate every time). */
typedef struct uvotel__otlp_block_cache_s uvotel__otlp_block_cache_t;
int uvotel__otlp_block_cache_create(uvotel__otlp_block_cache_t **out);
void uvotel__otlp_block_cache_free(uvotel__otlp_block_cache_t *c);
/* For tests: overwrite every byte of the cache's free buffers with `byte`, so an output byte the
 * encoder fails to write shows instead of a stale copy of an earlier body. Thread: any. */
void uvotel__otlp_block_cache_fill(uvotel__otlp_block_cache_t *c, uint8_t byte);
/* Encode n finished spans as one ExportTraceServiceRequest (protobuf) into a new
 * uvotel_malloc'd buffer of exactly *out_n bytes, grouped resource -> scope -> spans in
 * first-seen order; invalid UTF-8 in any string is replaced by U+FFFD. The bytes are what
 * protobuf-c packs for the same message. One pass, written backwards into a scratch buffer
 * taken from `cache` (NULL: a new one, freed after) and given back to it. 0, UVOTEL_EINVAL
 * (NULL span), UVOTEL_ENOMEM, UVOTEL_ERANGE (over UVOTEL__GROUPS_MAX resource/scope groups, or a
 * message over 4 GiB); on error nothing is returned. Thread: any. */
int uvotel__otlp_encode(const struct uvotel_span_data_s *const *spans, size_t n,
                        uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n);
/* A scratch buffer holding an encoded body (uvotel__otlp_encode_held). */
typedef struct uvotel__otlp_scratch_s uvotel__otlp_scratch_t;
/* The same bytes as uvotel__otlp_encode, not copied: *out points into a scratch buffer taken
 * from `cache` (NULL: a new one) whose ownership passes to the caller as *hold; the body stays
 * valid until uvotel__otlp_scratch_release(*hold), which gives the buffer back to the cache (or
 * frees it). The cache must outlive every held scratch. Errors as uvotel__otlp_encode; on error
 * *out, *out_n and *hold are NULL/0. Thread: any (release too). */
int uvotel__otlp_encode_held(const struct uvotel_span_data_s *const *spans, size_t n,
                             uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n,
                             uvotel__otlp_scratch_t **hold);
void uvotel__otlp_scratch_release(uvotel__otlp_scratch_t *s);

/* The span encoder's writers, for the log encoder (logs_encode.c): the same bytes, the same
 * UTF-8 repair (each ill-formed subpart of a string becomes U+FFFD). On a pbw.h writer, written
 * backwards: a proto3 string field (omitted when empty; NULL is ""), an AnyValue message as
 * `field` (its member written whenever set), and repeated KeyValue `field` (last first). */
struct pbw_s;
struct uvotel_attribute_s;
void uvotel__otlp_pb_str(struct pbw_s *w, uint32_t field, const char *s);
void uvotel__otlp_pb_any(struct pbw_s *w, uint32_t field, const uvotel_value_t *v);
void uvotel__otlp_pb_attrs(struct pbw_s *w, uint32_t field, const struct uvotel_attribute_s *a,
                           size_t n);

/* ---- transport (http.c) ---- */

typedef struct uvotel__otlp_transport_s uvotel__otlp_transport_t;

/* One request's worth of work. The transport calls `encode` on the libuv thread pool to fill
 * body/body_len (uvotel_malloc'd, or held in body_hold; freed by the transport) and raw_len (bytes
 * before compression); encode returns 0 or a negative code (the batch then fails). `release` runs
 * once on the exporter thread when the job is finished, whatever the outcome, and frees the job. */
typedef struct uvotel__otlp_job_s uvotel__otlp_job_t;
struct uvotel__otlp_job_s {
  int (*encode)(uvotel__otlp_job_t *job, const uvotel__otlp_config_t *cfg);
  void (*release)(uvotel__otlp_job_t *job);
  size_t n_spans;
  int ready; /* body is final (encoded and compressed already): no thread-pool step */
  uint8_t *body;
  size_t body_len;
  size_t raw_len;
  /* NULL: body is uvotel_malloc'd (the transport frees it); else body lies inside this scratch
   * (uvotel__otlp_encode_held), which the transport releases instead, once the body is sent
   * for the last time (after retries) or replaced by its gzip compression. */
  uvotel__otlp_scratch_t *body_hold;
  /* Export timeout of this batch (retries included); 0 or above cfg->timeout_ms: cfg's. */
  uint64_t timeout_ms;
  /* Outcome, set before `release` runs: 0 (accepted; `rejected` spans refused by a partial
   * success) or the code of the failure. */
  int result;
  uint64_t rejected;
  /* transport-private from here */
  uvotel__otlp_job_t *next;
  uvotel__otlp_transport_t *t;
  int encode_err;
  unsigned attempts;
  uint64_t deadline_ns;
  uv_work_t work;
};

/* Start the exporter thread. Takes ownership of *cfg (zeroed on success). */
int uvotel__otlp_transport_create(uvotel__otlp_config_t *cfg, uvotel__otlp_transport_t **out);
/* Queue a job, waiting up to wait_ms for room when max_queue_batches are pending. Thread: any.
 * On failure the caller still owns the job: UVOTEL_EBUSY when there was no room in time (the
 * job's spans are counted dropped), UVOTEL_ESHUTDOWN after shutdown, UVOTEL_ESTATE in a forked
 * child (spans counted dropped). */
int uvotel__otlp_transport_submit(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job,
                                  uint64_t wait_ms);
/* Wait until everything submitted so far is finished, or the deadline. 0 / UVOTEL_ETIMEDOUT. */
int uvotel__otlp_transport_flush(uvotel__otlp_transport_t *t, uint64_t timeout_ms);
/* Flush within the deadline, then abort what is left (counted failed), stop and join the
 * thread. 0, UVOTEL_ETIMEDOUT (work was abandoned), UVOTEL_ESHUTDOWN (second call). */
int uvotel__otlp_transport_shutdown(uvotel__otlp_transport_t *t, uint64_t timeout_ms);
/* Shut down (timeout 0 if not yet) and free. */
void uvotel__otlp_transport_free(uvotel__otlp_transport_t *t);
void uvotel__otlp_transport_stats(uvotel__otlp_transport_t *t, uvotel_otlp_http_stats_t *out);
const uvotel__otlp_config_t *uvotel__otlp_transport_config(const uvotel__otlp_transport_t *t);

/* ---- what the span and the log exporter share (http.c) ---- */

/* A job whose outcome goes to an export completion (copied: the caller's is only borrowed),
 * for n items that expire after timeout_ms. NULL when out of memory. The exporter sets
 * job->body/body_len (its encoding), then calls uvotel__otlp_job_send. */
uvotel__otlp_job_t *uvotel__otlp_job_new(size_t n, uint64_t timeout_ms);
/* Compress the body when the configuration says so, then queue the job (waiting up to
 * min(timeout_ms, 1 s) for room): 0, the result then reaches completion on the exporter thread;
 * otherwise the job is freed and its error returned (UVOTEL_EBUSY: no room; done not called).
 * encode_rc: the exporter's encoding result (non-zero: the job is freed and it returned). */
int uvotel__otlp_job_send(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job, int encode_rc,
                          const uvotel_export_completion_t *completion);
/* A synchronous export over an asynchronous one: start(ctx, c) is the exporter's export_async
 * with its arguments bound; waits for c. 0 only when every item was accepted; UVOTEL_EIO when
 * some were rejected (partial success); else start's or the export's error. */
int uvotel__otlp_export_wait(int (*start)(void *ctx, const uvotel_export_completion_t *c),
                             void *ctx);

#endif
