/* Private declarations shared by the HTTP/1.x server detector (http.c) and the HTTP/1.x client
 * side (http_client.c). No libuv handle state here, so the fuzz targets build both files alone. */
#ifndef UVOTEL_UV_HTTP_INTERNAL_H
#define UVOTEL_UV_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "uvotel.h"

/* The propagator of both sides: OTEL_PROPAGATORS, built once (the default one when unset or
 * not understood). Never NULL. Thread: any. */
const uvotel_propagator_t *uvotel__http_propagator(void);

/* CLOCK_REALTIME in ns since the epoch (span timestamps). */
uint64_t uvotel__http_now_ns(void);

/* 1 when http_parser's method (enum http_method) is one of the semantic conventions' known
 * methods (report its name), else 0 (report "_OTHER" and http.request.method_original). */
int uvotel__http_method_known(unsigned method);

/* Set a string attribute from n bytes (copied NUL-terminated; values over 2 KiB are cut). */
void uvotel__http_attr_strn(uvotel_span_t *s, const char *key, const char *v, size_t n);

/* server.address / server.port from a Host header value (port: default_port when the value has
 * none; 0: no server.port then). Returns 0 when set, -1 when the value is not understood. */
int uvotel__http_set_host(uvotel_span_t *s, const char *host, size_t n, long default_port);

/* The server side (http.c): the baggage extracted from the request whose span the last read
 * made current (borrowed until the next call on conn), or NULL. */
const uvotel_baggage_t *uvotel__http_read_baggage(void *conn);

/* ---- the client side (http_client.c) ----
 * State of one connected (not accepted) stream: requests parsed from what the program writes,
 * responses from what it reads. Loop thread only. */
typedef struct uvotel__hc_s uvotel__hc_t;

/* The most buffers a rewritten write can have, and the most requests that get headers inserted
 * in one write; a write of more than UVOTEL__HC_NBUFS_IN buffers gets no insertion. */
#define UVOTEL__HC_NBUFS_IN 64
#define UVOTEL__HC_INS_MAX 8
#define UVOTEL__HC_NBUFS_OUT (UVOTEL__HC_NBUFS_IN + 2 * UVOTEL__HC_INS_MAX)

/* What the program's write becomes. n == 0: write the program's buffers as they are. Else
 * bufs[0 .. n) is the list to write instead: the program's bytes (pointing into its buffers,
 * never copied or changed) with the propagation headers in between, which live in `extra`
 * (owned: uvotel_free it when the write completes or fails). */
typedef struct uvotel__hc_out_s {
  uv_buf_t bufs[UVOTEL__HC_NBUFS_OUT];
  unsigned int n;
  char *extra;
  size_t inserted; /* bytes of headers inserted */
} uvotel__hc_out_t;

/* New state: tracer for the CLIENT spans; stream (may be NULL) for the peer address; roots 0:
 * a request that would be a root span gets none (nor inserted headers), as the other automatic
 * spans without UVOTEL_AUTO_SPANS_ROOTS. NULL when out of memory. */
uvotel__hc_t *uvotel__hc_new(uvotel_tracer_t *tracer, uv_stream_t *stream, int roots);
/* The program writes bufs (uv_write: may_insert 1; the part of a uv_try_write that was written:
 * 0). Fills *out (see above). */
void uvotel__hc_write(uvotel__hc_t *c, const uv_buf_t bufs[], unsigned int nbufs, int may_insert,
                      uvotel__hc_out_t *out);
/* The write failed before anything was sent (uv_write returned an error): give up. */
void uvotel__hc_fail(uvotel__hc_t *c);
/* The program is handed n bytes (n > 0), or the read ended (n < 0: UV_EOF or an error). */
void uvotel__hc_read(uvotel__hc_t *c, const char *data, ssize_t n);
/* 1 once c gave up or the read ended: it will do nothing more (free it). */
int uvotel__hc_dead(const uvotel__hc_t *c);
/* End every open span (the stream is closed) and free c. NULL: no-op. */
void uvotel__hc_free(uvotel__hc_t *c);

#endif
