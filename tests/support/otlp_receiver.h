/* A loopback OTLP/HTTP receiver for the exporter tests: libuv on its own thread, minimal
 * HTTP/1.1 (keep-alive, Content-Length, gzip bodies), decoding ExportTraceServiceRequest with the
 * same protobuf-c code the exporter uses (OTLP/JSON bodies with jansson), storing what it accepted,
 * and injecting faults. */
#ifndef UVOTEL_TEST_OTLP_RECEIVER_H
#define UVOTEL_TEST_OTLP_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef struct otlp_receiver_s otlp_receiver_t;

typedef struct otlp_receiver_faults_s {
  int fail_first_n;         /* answer the first N requests with fail_status */
  int fail_status;          /* 0: 503 */
  const char *retry_after;  /* Retry-After value sent with those failures (NULL: none) */
  int drop_first_n;         /* close the connection instead of answering the first N */
  uint64_t delay_ms;        /* answer every request this late */
  int64_t partial_rejected; /* with partial_message: answer 200 + partial_success */
  const char *partial_message;
  int garbage;       /* answer bytes that are not HTTP, then close */
  int never_answer;  /* read requests, never answer */
  int status_always; /* answer every request with this status (e.g. 400) */
  int discard;       /* count decoded spans, do not keep them (benchmarks) */
} otlp_receiver_faults_t;

typedef struct otlp_receiver_counts_s {
  size_t requests;    /* complete requests read */
  size_t accepted;    /* answered 2xx, spans stored */
  size_t gzip;        /* requests with Content-Encoding: gzip */
  size_t spans;       /* spans stored */
  size_t bad;         /* undecodable bodies, wrong path/method/type */
  size_t connections; /* TCP connections accepted */
  size_t body_bytes;  /* request body bytes as received (compressed if gzip) */
  size_t json;        /* accepted application/json (OTLP/JSON) requests: spans counted, not
                         stored (otlp_receiver_foreach_span does not see them) */
} otlp_receiver_counts_t;

/* Listen on 127.0.0.1:port (0: ephemeral) and serve on a new thread. NULL faults: none. */
int otlp_receiver_start(otlp_receiver_t **out, int port, const otlp_receiver_faults_t *faults);
int otlp_receiver_port(const otlp_receiver_t *r);
/* "http://127.0.0.1:PORT/v1/traces" into buf. */
void otlp_receiver_url(const otlp_receiver_t *r, char *buf, size_t n);
/* Close everything, join the thread, free the stored requests. */
void otlp_receiver_stop(otlp_receiver_t *r);
otlp_receiver_counts_t otlp_receiver_counts(otlp_receiver_t *r);
/* Wait until at least n spans are stored; 0, or -1 at the timeout. */
int otlp_receiver_wait_spans(otlp_receiver_t *r, size_t n, uint64_t timeout_ms);
/* Wait until at least n requests were read; 0, or -1 at the timeout. */
int otlp_receiver_wait_requests(otlp_receiver_t *r, size_t n, uint64_t timeout_ms);

typedef void (*otlp_receiver_span_fn)(void *arg,
                                      const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                                      const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                                      const Opentelemetry__Proto__Trace__V1__Span *span);
/* Call fn for every stored span, under the receiver's lock. */
void otlp_receiver_foreach_span(otlp_receiver_t *r, otlp_receiver_span_fn fn, void *arg);

/* Copy the header block of the last complete request ("" before any) into buf. */
void otlp_receiver_last_head(otlp_receiver_t *r, char *buf, size_t n);

/* Pick a free loopback port (bind to 0, read it, close). */
int otlp_receiver_free_port(void);

#endif
