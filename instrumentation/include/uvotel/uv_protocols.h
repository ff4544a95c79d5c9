/* Protocol detectors: a span per request on wrapped streams, without code in the program.
 *
 * While automatic spans are on (uvotel/uv_spans.h), every connection accepted with uvotel_accept
 * is offered to the registered detectors with the first bytes the program reads from it. A
 * detector claims the connection or declines; the first to claim it sees every later byte read
 * (uvotel_read_start's callback) and written (uvotel_write / uvotel_write2 / uvotel_try_write)
 * on it, as copies of at most what it asks for: what the program reads and writes is never
 * changed. A connection no detector claims keeps only what it had before (the `tcp accept`
 * span of the "net" category, when on); one a detector claims and follows to its close loses
 * its `tcp accept` span unless some span was started under it (see "net" in uv_spans.h).
 * A connected socket adopted with uvotel_tcp_open or uvotel_pipe_open is offered to them too, if
 * the program's first use of it is a read (its first write makes it a client stream instead).
 *
 * Built in: HTTP/1.0 and 1.1 server side (category UVOTEL_INSTRUMENT_HTTP, see
 * uvotel_protocol_http); DNS over TCP (category UVOTEL_INSTRUMENT_DNS, asked after HTTP; it
 * also watches connections made with uvotel_tcp_connect by their first bytes written; see
 * uvotel/uv_dns.h). Users add their own with uvotel_protocol_register.
 *
 * The connection's state lives until uvotel_close of the stream (or the loop's close). */
#ifndef UVOTEL_UV_PROTOCOLS_H
#define UVOTEL_UV_PROTOCOLS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "uvotel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What detect returns. */
#define UVOTEL_PROTOCOL_DECLINE 0 /* not this protocol: never asked again for this stream */
#define UVOTEL_PROTOCOL_CLAIM 1   /* this protocol: open is called next */
#define UVOTEL_PROTOCOL_MORE                               \
  2 /* cannot tell yet: ask again with more bytes (at most \
       UVOTEL_PROTOCOL_PEEK_MAX, then it counts as DECLINE) */

#define UVOTEL_PROTOCOL_PEEK_MAX 64

/* A detector. Every function runs on the loop thread of the stream, inside uvotel's wrappers.
 *   size:   sizeof(uvotel_protocol_ops_t) as the caller compiled it (fields are only added at
 *           the end; uvotel reads no field past size).
 *   name:   for diagnostics (borrowed; must outlive the registration).
 *   category: the UVOTEL_INSTRUMENT_* bit that must be on for the detector to run; 0: runs
 *           whenever any category is on.
 *   detect: data/len: the first len bytes read from the connection (len <= PEEK_MAX).
 *   open:   the connection was claimed: return per-connection state (NULL: decline after all).
 *           tracer: the automatic spans' tracer.
 *   read:   bytes the program was handed by a read callback, before the callback runs. Set
 *           *current to a span (borrowed; it must stay valid until the next call on conn) to
 *           make current while the program's read callback runs, or leave it NULL. Return 0, or
 *           a negative value to give up: no more calls but close.
 *   write:  bytes the program asked to write (or wrote with try_write: the part written), also
 *           those of a write libuv refused at once (uv_write / uv_write2 returned an error, or
 *           uv_try_write did with other than UV_EAGAIN: nothing of it was sent). Return a span
 *           whose ownership passes to uvotel, ended when that write completes (with its error,
 *           if it fails; a refused write: at once, with the error it was refused with), or NULL.
 *           try_write: a returned span is ended at once.
 *   close:  the stream is closed: end every span still open and free conn. Always called once
 *           for an opened connection, also after a give-up.
 *   written (appended; read only when size covers it, NULL: not used): the write numbered seq
 *           completed with status (0, or a negative libuv error). The calls of write on conn
 *           are numbered 1, 2, 3, ... in the order they were made (count them in conn); each
 *           gets exactly one written call, after it returned, unless the stream is closed first
 *           (close then ends what those writes carried). A refused write completes at once with
 *           its error, try_write's part and bytes seen before the claim at once with 0. Writes
 *           complete in the order libuv completes them (for a stream, the order they were
 *           made). Still called after write or read gave up, until close. With it a detector
 *           can end every span a write carries when that write completes, where write's return
 *           value carries one.
 * Fill it with designated initializers ({.size = sizeof(uvotel_protocol_ops_t), .name = ...}):
 * members appended later are then 0/NULL in a table written against this header, and no
 * -Wmissing-field-initializers warning. */
typedef struct uvotel_protocol_ops_s {
  size_t size;
  const char *name;
  unsigned category;
  int (*detect)(void *arg, const char *data, size_t len);
  void *(*open)(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer);
  int (*read)(void *conn, const char *data, size_t len, uvotel_span_t **current);
  uvotel_span_t *(*write)(void *conn, const uv_buf_t bufs[], unsigned int nbufs);
  void (*close)(void *conn);
  void (*written)(void *conn, uint64_t seq, int status);
} uvotel_protocol_ops_t;

/* Register a detector, asked after the built-ins and the detectors registered before it. ops
 * and arg are borrowed and must stay valid for the life of the process (there is no
 * unregister). NULL ops, size smaller than the first version, or a missing function other
 * than written: UVOTEL_EINVAL; more than 8 registered: UVOTEL_ENOMEM. Thread: any (before the loops
 * that should use it accept connections). Alloc: none. */
int uvotel_protocol_register(const uvotel_protocol_ops_t *ops, void *arg);

/* The built-in HTTP/1.x server detector (libhttp-parser; plain heads framed by a bounded scan
 * of its own, the same spans), on while
 * UVOTEL_INSTRUMENT_HTTP is: a SERVER span per request, from the read that carries its first
 * byte to the completion of the write that carries the last byte of its response, named by the
 * method (GET, POST, ...; other methods: "_OTHER" and http.request.method_original), with
 * http.request.method, url.path, url.query, url.scheme ("http"), network.protocol.version,
 * user_agent.original, client.address/port, server.address/port, http.response.status_code
 * and status ERROR for 5xx. Its remote parent is what the default propagator
 * (OTEL_PROPAGATORS) extracts from the request headers; without one it is a child of the span
 * current at the read (the `tcp accept` span under the preload) or a root.
 * Pipelined and keep-alive requests: responses are matched to requests in order. While the
 * read callback of a read that carries the start of exactly one request runs, that request's
 * span is current (so callbacks registered there, and the writes of its response, run under
 * it); a read carrying the start of several requests makes none current (ambiguous: a wrong
 * parent is worse than none). Given up on (no further spans, the program unaffected): a
 * stream the parser does not accept, headers over 8 KiB, more than 32 requests awaiting a
 * response, upgrades (101, CONNECT). Not detected: HTTP/2, TLS. The request's extracted
 * baggage is current along with its span.
 *
 * The client side is built in too (no ops table: it rewrites what is written), on while
 * UVOTEL_INSTRUMENT_HTTP is: on a stream connected with uvotel_tcp_connect / uvotel_pipe_connect,
 * each request written with uvotel_write / uvotel_try_write is a CLIENT span until its response
 * is read (http.request.method, url.full, server.address/port, network.protocol.version,
 * http.response.status_code; error.type for 5xx or a connection that ended first), and unless
 * it has a traceparent, uvotel_write sends the default propagator's headers after its request
 * line in a new buffer list (the program's buffers are never modified; uvotel_try_write sends
 * none). See README "What you get with no code".
 * Thread: any. */
const uvotel_protocol_ops_t *uvotel_protocol_http(void);

/* A datagram the program sent on a UDP socket without libuv (send, sendto, sendmsg or sendmmsg
 * on the socket of uv_fileno(handle)), treated as uvotel_udp_try_send treats one (category
 * dns): an answer ends the SERVER span of the query it answers, with its response code; a
 * query gets its CLIENT span. bufs/nbufs: the datagram as sent (read, never kept; only its
 * first 272 bytes are looked at); addr: its destination, or NULL on a connected socket. The
 * preload reports such sends by itself (on the thread that started receiving on the socket);
 * a program built with the wrappers that writes to the socket itself calls this after the send
 * succeeded. Returns 1 when the datagram answered a query awaiting its response (that span
 * ended), 0 otherwise (not DNS, no such query, a query, automatic spans off). NULL handle, or
 * NULL bufs with nbufs > 0: UV_EINVAL. Thread: the handle's loop. Alloc: a query's span and
 * the socket's table of queries awaiting answers (as uvotel_udp_try_send). */
int uvotel_udp_sent(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                    const struct sockaddr *addr);

/* A datagram the program failed to send on a UDP socket without libuv (as for uvotel_udp_sent),
 * err the libuv error (UV_EMSGSIZE, ...; on Unix -errno). Treated as uvotel_udp_try_send
 * treats a failure (category dns): an answer ends the SERVER span of the query it answers with
 * error.type = the error's name and status ERROR (returns 1); a query gets a CLIENT span ended
 * with the error (returns 0, as for anything else). UV_EAGAIN: nothing (the datagram may be
 * sent again). The preload reports failed send/sendto/sendmsg calls and a sendmmsg that failed
 * on its first message by itself. NULL handle, NULL bufs with nbufs > 0, or err >= 0:
 * UV_EINVAL. Thread: the handle's loop. Alloc: a query's span. */
int uvotel_udp_send_failed(uv_udp_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                           const struct sockaddr *addr, int err);

#ifdef __cplusplus
}
#endif
#endif
