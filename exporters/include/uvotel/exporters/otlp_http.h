/* uvotel OTLP/HTTP span exporter: protobuf bodies (application/x-protobuf; http/protobuf) or
 * OTLP/JSON bodies (application/json; http/json) POSTed to {endpoint}/v1/traces with libcurl,
 * optionally gzip-compressed. gRPC is not implemented and is refused, never substituted.
 *
 * Threading model. The exporter owns one dedicated thread running its own libuv loop, which
 * drives a curl multi handle through uv_poll_t and uv_timer_t handles. The choice: driving curl
 * from the application's loop would make force_flush/shutdown, which are blocking calls with a
 * deadline, impossible to complete from that same loop (nothing would run the transfers while
 * the caller waits), and would put DNS, TLS handshakes and retry timers on a loop the exporter
 * does not own. With its own thread the application's loop never waits for the network, and
 * shutdown has one place to stop. Encoding (protobuf, or OTLP/JSON for http/json) and gzip run
 * on the thread that calls export: the batch processor's own export thread, never libuv's
 * thread pool, which stays the application's (and is not started by the exporter); the
 * exporter thread only moves bytes.
 *
 * Connections are reused (HTTP keep-alive through curl's connection cache); up to
 * `max_concurrent` requests are in flight at once.
 *
 * Retries follow the OTLP specification: HTTP 429, 502, 503 and 504 and connection failures
 * (refused, reset, timed out, closed without an answer) are retried with exponential backoff
 * (OpenTelemetry Java's schedule: 1 s, x1.5 per attempt, 5 s cap, jitter 0.8x..1.2x) honouring
 * Retry-After (delta-seconds or an HTTP date), until the per-batch export timeout (the smaller
 * of OTEL_EXPORTER_OTLP_TIMEOUT and the processor's OTEL_BSP_EXPORT_TIMEOUT) passes; a retry that
 * would start after it is not made. Failures are said at error level at most once per 5 s with
 * the counts since the last line. The first export says at info where spans go. Other 4xx/5xx
 * answers are not retried: the batch is dropped and counted in spans_failed. A 200 carrying
 * partial_success reports the rejected count and message to the diagnostics callback and to
 * spans_rejected.
 *
 * fork(): the exporter's thread and connections belong to the process that created it. In a
 * child after fork() the exporter refuses work (export returns UVOTEL_ESTATE and counts the
 * spans dropped), force_flush returns UVOTEL_ESTATE and shutdown/free release only memory, never
 * touching the parent's thread, sockets or curl handles. Create a new exporter in the child. */
#ifndef UVOTEL_EXPORTERS_OTLP_HTTP_H
#define UVOTEL_EXPORTERS_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/trace_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Compatibility shim: the exporter's own diagnostics callback and level enum, from before the
 * SDK's (uvotel/diag.h). Note the order is the reverse of uvotel_diag_level_t. New code leaves
 * `diag` NULL and installs one handler for everything with uvotel_diag_set_handler. */
typedef enum uvotel_otlp_diag_level_e {
  UVOTEL_OTLP_DIAG_DEBUG = 0,
  UVOTEL_OTLP_DIAG_INFO = 1,
  UVOTEL_OTLP_DIAG_WARN = 2,
  UVOTEL_OTLP_DIAG_ERROR = 3
} uvotel_otlp_diag_level_t;

/* Diagnostics: export failures, partial successes, ignored environment values. Called on the
 * exporter thread (or the creating thread during create); `msg` is valid during the call only.
 * Must not call back into the exporter. When set in the options it receives every message of
 * that exporter, unfiltered; when NULL (the default) the messages go to uvotel_diag, filtered
 * by OTEL_LOG_LEVEL or the handler's level like the SDK's own. */
typedef void (*uvotel_otlp_diag_cb)(void *arg, uvotel_otlp_diag_level_t level, const char *msg);

typedef enum uvotel_otlp_compression_e {
  UVOTEL_OTLP_COMPRESSION_DEFAULT = 0, /* environment, else none */
  UVOTEL_OTLP_COMPRESSION_NONE = 1,
  UVOTEL_OTLP_COMPRESSION_GZIP = 2
} uvotel_otlp_compression_t;

/* Options. Programmatic values win over the environment; a field left at its _INIT value takes
 * the environment's value (when use_env), else the default. Strings are copied. */
typedef struct uvotel_otlp_http_options_s {
  /* Full URL of the traces endpoint, used as is (".../v1/traces"). NULL: environment
   * (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, else OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces"),
   * else http://localhost:4318/v1/traces. A URL without a scheme gets https:// unless insecure. */
  const char *endpoint;
  /* Extra request headers, "k=v,k2=v2" with percent-encoded keys and values. Replaces the
   * environment's OTEL_EXPORTER_OTLP_(TRACES_)HEADERS. NULL: environment. */
  const char *headers;
  /* Per-batch export timeout including retries. 0: OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT, else
   * 10000. */
  uint64_t timeout_ms;
  uvotel_otlp_compression_t compression;
  /* PEM file of trusted CAs (CURLOPT_CAINFO), client key and certificate for mutual TLS.
   * NULL: OTEL_EXPORTER_OTLP_(TRACES_)CERTIFICATE / _CLIENT_KEY / _CLIENT_CERTIFICATE. */
  const char *certificate;
  const char *client_key;
  const char *client_certificate;
  /* 1: a scheme-less endpoint means http://; -1: https://; 0: OTEL_EXPORTER_OTLP_INSECURE. */
  int insecure;
  /* Requests in flight at once (1..64). 0: 2. */
  unsigned max_concurrent;
  /* Batches accepted and not yet finished (encoding, sending or waiting to retry); beyond it
   * export refuses the batch and counts its spans dropped. Bounds the exporter's memory. 0: 64. */
  size_t max_queue_batches;
  /* Backoff: first delay and cap (x1.5 per attempt, jitter 0.8x..1.2x). 0: 1000/5000 */
  uint64_t retry_initial_ms;
  uint64_t retry_max_ms;
  /* Read OTEL_EXPORTER_OTLP_* for fields left unset. */
  int use_env;
  uvotel_otlp_diag_cb diag;
  void *diag_arg;
  /* "http/protobuf" or "http/json" (OTLP/JSON bodies, Content-Type application/json). NULL:
   * OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL, else http/protobuf. "grpc" is refused (UVOTEL_ENOTSUP),
   * anything else too (UVOTEL_EINVAL), with an error naming the variable and value: never
   * replaced by another protocol. */
  const char *protocol;
} uvotel_otlp_http_options_t;

#define UVOTEL_OTLP_HTTP_OPTIONS_INIT                                                         \
  {                                                                                           \
    NULL, NULL, 0, UVOTEL_OTLP_COMPRESSION_DEFAULT, NULL, NULL, NULL, 0, 0, 0, 0, 0, 1, NULL, \
        NULL, NULL                                                                            \
  }

/* Counters, monotonic since create. */
typedef struct uvotel_otlp_http_stats_s {
  uint64_t requests;           /* HTTP attempts, retries included */
  uint64_t retries;            /* attempts after the first for a batch */
  uint64_t batches_exported;   /* batches answered 2xx */
  uint64_t batches_failed;     /* batches given up */
  uint64_t spans_exported;     /* spans in 2xx-answered batches, minus those rejected */
  uint64_t spans_dropped;      /* refused because the exporter's queue was full or after fork */
  uint64_t spans_failed;       /* in batches given up: non-retryable status, deadline, encoding
                                  error, or abandoned at shutdown */
  uint64_t spans_rejected;     /* partial_success.rejected_spans summed */
  uint64_t bytes_uncompressed; /* protobuf bytes encoded, per attempt sent */
  uint64_t bytes_sent;         /* request body bytes on the wire (after gzip), per attempt */
  uint64_t http_errors;        /* non-2xx answers, retried or not */
  uint64_t transport_errors;   /* attempts that got no HTTP answer */
} uvotel_otlp_http_stats_t;

/* Create an OTLP/HTTP exporter and start its thread. opts NULL: everything from the environment
 * and defaults. The exporter goes to a processor (uvotel_batch_span_processor_create takes
 * ownership) or is freed with uvotel_span_exporter_free.
 *
 * The exporter has both entry points of uvotel_span_exporter_ops_t. export_async (what the
 * batch processor calls, on its export thread) encodes and compresses the batch there, hands
 * the body to the exporter thread and returns 0 once it is queued; the receiver's answer
 * (accepted, partial success with its rejected count, or the failure once retries are given up)
 * reaches the completion on the exporter thread. export (the simple processor,
 * uvotel_span_exporter_export) does the same and waits for that answer: 0 only when every span
 * was accepted. When max_queue_batches bodies are pending, both wait for room up to the
 * timeout or 1 s, whichever is shorter, then return UVOTEL_EBUSY (spans counted dropped).
 * force_flush waits until every queued body is delivered or given up: 0, or UVOTEL_ETIMEDOUT.
 * shutdown flushes within its deadline, then abandons what is left (counted failed), closes the
 * connections and joins the thread before returning (0, or UVOTEL_ETIMEDOUT when work was
 * abandoned); later exports return UVOTEL_ESHUTDOWN.
 *
 * Errors: UVOTEL_EINVAL (NULL out, bad option values, an endpoint whose scheme is not http(s)
 * such as grpc://, in the options or the environment; an unknown protocol), UVOTEL_ENOTSUP
 * (protocol grpc), UVOTEL_EPARSE (malformed headers option), UVOTEL_ENOMEM, UVOTEL_EIO (libcurl
 * or thread start failed). Refusals name the variable and its value at error level.
 * Thread: any. Alloc: the exporter, its thread, curl handles; per batch: the body and one block
 * for the protobuf-c tree (encoding borrows the span data's strings, copying none). */
int uvotel_otlp_http_exporter_create(const uvotel_otlp_http_options_t *opts,
                                     uvotel_span_exporter_t **out);

/* Read the statistics of an exporter made by uvotel_otlp_http_exporter_create. Any other
 * exporter, or NULL: UVOTEL_EINVAL. Thread: any. */
int uvotel_otlp_http_exporter_stats(const uvotel_span_exporter_t *e, uvotel_otlp_http_stats_t *out);

/* The resolved traces URL (borrowed, valid until the exporter is freed); NULL for another
 * exporter. Thread: any. */
const char *uvotel_otlp_http_exporter_endpoint(const uvotel_span_exporter_t *e);

/* Encode n finished spans as one OTLP ExportTraceServiceRequest (protobuf, uncompressed), the
 * body the exporter sends, written directly from the span data. *body is uvotel_malloc'd (exactly
 * *len bytes): free it with uvotel_free. Spans are grouped by resource, then scope, in
 * first-seen order (the same grouping as uvotel_otlp_json_encode). Invalid UTF-8 in any string
 * (names, keys, values, status, resource, scope) is replaced: each ill-formed subpart becomes
 * U+FFFD, so one bad value never makes a collector reject the batch. Errors: UVOTEL_EINVAL (NULL
 * out-pointers, NULL spans with n > 0, a NULL entry), UVOTEL_ENOMEM, UVOTEL_ERANGE (over 65535
 * resource/scope groups in one batch). Thread: any. */
int uvotel_otlp_http_encode(const uvotel_span_data_t *const *spans, size_t n, uint8_t **body,
                            size_t *len);

/* Register the "otlp" factory (uvotel_span_exporter_register) so OTEL_TRACES_EXPORTER=otlp
 * selects this exporter in uvotel_tracer_provider_from_env. Done automatically when the shared
 * libuvotel_exporters is loaded; call it yourself when linking statically. Thread: any. */
int uvotel_otlp_http_exporter_register(void);

#ifdef __cplusplus
}
#endif
#endif
