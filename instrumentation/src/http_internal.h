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

/* ---- the spans' attributes, set with one uvotel__span_set_attrs call ----
 * Keys prepared at load (http.c); values point at the request's bytes, which hold no NUL (the
 * fast framing and http_parser both refuse control bytes in a target and in header values), so
 * each is its length, with no copy before the span's own. */
enum {
  UVOTEL__HK_METHOD,
  UVOTEL__HK_METHOD_ORIGINAL,
  UVOTEL__HK_SCHEME,
  UVOTEL__HK_PATH,
  UVOTEL__HK_QUERY,
  UVOTEL__HK_VERSION,
  UVOTEL__HK_USER_AGENT,
  UVOTEL__HK_CLIENT_ADDRESS,
  UVOTEL__HK_CLIENT_PORT,
  UVOTEL__HK_SERVER_ADDRESS,
  UVOTEL__HK_SERVER_PORT,
  UVOTEL__HK_URL_FULL,
  UVOTEL__HK_N
};
extern uvotel__attr_key_t uvotel__http_keys[UVOTEL__HK_N];

/* Values over this many bytes are cut (before the provider's own length limit). */
#define UVOTEL__HTTP_VALUE_MAX 2048
#define UVOTEL__HTTP_ATTRS_MAX 12

typedef struct uvotel__http_attrs_s {
  uvotel__attr_in_t e[UVOTEL__HTTP_ATTRS_MAX];
  size_t n;
} uvotel__http_attrs_t;

/* Add key k = the n bytes at v (no NUL among them; NULL when n is 0). Borrowed until the list
 * is handed over. _str cuts n at UVOTEL__HTTP_VALUE_MAX, _whole does not. No room check: a span
 * adds each key at most once, and there are fewer keys than UVOTEL__HTTP_ATTRS_MAX. */
_Static_assert(UVOTEL__HK_N <= UVOTEL__HTTP_ATTRS_MAX, "every key fits the list once");
static inline void uvotel__http_put_whole(uvotel__http_attrs_t *t, unsigned k, const char *v,
                                          size_t n) {
  uvotel__attr_in_t *e = &t->e[t->n++];
  e->key = &uvotel__http_keys[k];
  e->value.type = UVOTEL_VALUE_STRING;
  e->value.len = (uint32_t)n;
  e->value.u.s = v;
}

static inline void uvotel__http_put_str(uvotel__http_attrs_t *t, unsigned k, const char *v,
                                        size_t n) {
  uvotel__http_put_whole(t, k, v, n < UVOTEL__HTTP_VALUE_MAX ? n : UVOTEL__HTTP_VALUE_MAX);
}

static inline void uvotel__http_put_int(uvotel__http_attrs_t *t, unsigned k, int64_t v) {
  uvotel__attr_in_t *e = &t->e[t->n++];
  e->key = &uvotel__http_keys[k];
  e->value.type = UVOTEL_VALUE_INT;
  e->value.len = 0;
  e->value.u.i = v;
}

/* server.address / server.port from a Host header value (port: default_port when the value has
 * none; 0: no server.port then). Returns 0 when added, -1 when the value is not understood
 * (nothing added). */
int uvotel__http_put_host(uvotel__http_attrs_t *t, const char *host, size_t n, long default_port);

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
