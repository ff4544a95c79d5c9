/* Automatic spans from the libuv wrappers (uvotel/uv.h).
 *
 * Off by default. Once enabled for a category, a wrapper that starts a request of that
 * category starts a span there (so it is a child of the span current at the call) and the
 * request's completion trampoline ends it, just before the user's callback runs:
 *
 *   fs   "fs <op>" (fs open, fs read, fs stat, ...), INTERNAL; file.path for calls that take a
 *        path (and file.path plus uvotel.fs.new_path for rename, link, symlink, copyfile).
 *   dns  "dns lookup" (uvotel_getaddrinfo): dns.question.name = the node, dns.answers = the
 *        distinct addresses returned (string array); "dns reverse" (uvotel_getnameinfo):
 *        dns.question.name = the address, dns.answers = [the host name]. CLIENT.
 *        Server side: "dns query <qtype>", SERVER, per standard query a wrapped UDP socket
 *        receives (RFC 1035 header and question): dns.question.name, client/server address;
 *        ended by the response with the same id to the same peer; rcode other than NOERROR:
 *        error.type = its name, status ERROR. Current while the receive callback runs.
 *        Client side: "dns query <qtype>", CLIENT, per standard query a wrapped UDP socket
 *        sends, until its response; DNS over TCP on both sides. See uvotel/uv_dns.h.
 *   net  "tcp connect" (uvotel_tcp_connect): CLIENT, network.transport = "tcp", network.type
 *        ("ipv4"/"ipv6"), network.peer.address, network.peer.port, server.address,
 *        server.port (the address connected to: libuv connects to addresses, not names).
 *        An accepted connection (uvotel_accept inside a wrapped connection callback) can open
 *        a SERVER span through the on_accept callback: uvotel makes the returned span current
 *        for the rest of the connection callback (so the connection's read and write callbacks,
 *        registered there, run under it) and ends it when the connection is closed with
 *        uvotel_close. On a connection a protocol detector claimed and followed to its close
 *        (uvotel/uv_protocols.h: the http and dns categories, user detectors) the span is
 *        discarded instead (never exported, counted nowhere) unless some span was started
 *        with it as parent (the current span or options.parent_span), so no exported span
 *        points at a missing parent: the detector's request spans are made with the span
 *        current at the accept as current, as siblings of the accept span, not children.
 *        A stream no detector claims, or whose detector gave up, keeps it.
 *   http "GET", "POST", ... SERVER, one per HTTP/1.x request on an accepted connection
 *        (uvotel/uv_protocols.h); CLIENT, one per request written on a connected stream, with
 *        the propagation headers inserted (only under a current span unless
 *        UVOTEL_AUTO_SPANS_ROOTS; uvotel/uv_protocols.h).
 *
 *   udp  "udp send" (uvotel_udp_send): CLIENT, made only under a current span (never a root,
 *        whatever UVOTEL_AUTO_SPANS_ROOTS says: a server's replies stay out), network.transport
 *        = "udp", network.type, network.peer.address/port and server.address/port (the
 *        destination; a connected socket's peer when addr is NULL). Ends at the send callback.
 *   pipe "pipe connect" (uvotel_pipe_connect): CLIENT, network.transport = "unix",
 *        network.peer.address = the path. uvotel_auto_spans_accept_span gives accepted pipe
 *        connections a SERVER span "pipe accept" with the same attributes (the server's path).
 *   process "spawn <executable name>" (uvotel_spawn): CLIENT, from the spawn to the exit
 *        callback: process.executable.name, process.executable.path, process.command_args
 *        (at most 64 arguments and 1024 characters; uvotel.process.args_truncated = true when
 *        cut), process.pid, process.exit.code. A death by signal sets status ERROR ("killed by
 *        signal N"), error.type = "signal" and uvotel.process.term_signal; a non-zero exit code
 *        sets ERROR with error.type = the code. A spawn that fails ends the span at once with
 *        the libuv error (the one exception to "no span for a call that failed": a command that
 *        cannot be started is worth seeing). The child gets this span as its parent (the
 *        environment carrier, uvotel/uv.h).
 *
 * A request that fails (a negative result in its callback) sets the span's status to ERROR
 * with libuv's message and `error.type` to libuv's error name ("ENOENT", "ECONNREFUSED").
 * Calls that fail synchronously (the wrapper returns an error) make no span: no request ran;
 * synchronous fs / DNS calls (cb == NULL) make none either (they pass straight through).
 *
 * As in OpenTelemetry JS, by default a span is made only when a span is current at the call
 * (a request made outside any trace makes none), so background noise stays out;
 * UVOTEL_AUTO_SPANS_ROOTS makes root spans too.
 *
 * Cost: while a category is off its wrappers pay one predictable branch (a relaxed load of a
 * process-wide word). Enabling turns wrapper tracking on (uvotel_tracking() becomes 1).
 *
 * Configuration is process-wide; enable and disable from the loop thread while no wrapped
 * request of an enabled category is in flight on another thread. Spans are ended on the thread
 * that completes the request (the loop's). */
#ifndef UVOTEL_UV_SPANS_H
#define UVOTEL_UV_SPANS_H

#include <uv.h>

#include "uvotel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Categories (bits; values fixed). */
#define UVOTEL_INSTRUMENT_FS 0x1u
#define UVOTEL_INSTRUMENT_DNS 0x2u
#define UVOTEL_INSTRUMENT_NET 0x4u
#define UVOTEL_INSTRUMENT_UDP 0x8u
#define UVOTEL_INSTRUMENT_PIPE 0x10u
#define UVOTEL_INSTRUMENT_PROCESS 0x20u
/* uvotel/uv_protocols.h: a SERVER span per HTTP/1.x request */
#define UVOTEL_INSTRUMENT_HTTP 0x40u
#define UVOTEL_INSTRUMENT_ALL 0x7fu

/* Flags. */
#define UVOTEL_AUTO_SPANS_ROOTS 0x1u /* also make spans when no span is current */

/* Called by uvotel_accept (inside a wrapped connection callback) for each accepted connection
 * while "net" is on. Return a span (usually uvotel_span_start with kind SERVER) to make current
 * for the rest of the connection callback; uvotel owns it from then on and ends it when the
 * client is closed with uvotel_close (or discards it: a connection a detector followed, with no
 * span started under it; see "net" above). Return NULL for none. Thread: loop. */
typedef uvotel_span_t *(*uvotel_accept_span_cb)(uv_stream_t *server, uv_stream_t *client,
                                                void *arg);

typedef struct uvotel_auto_spans_options_s {
  uvotel_tracer_t *tracer; /* borrowed: disable before freeing its provider; NULL: the global
                              provider's "uvotel.uv" tracer, taken at enable */
  unsigned categories;     /* UVOTEL_INSTRUMENT_* bits */
  unsigned flags;          /* UVOTEL_AUTO_SPANS_* */
  uvotel_accept_span_cb on_accept; /* may be NULL */
  void *on_accept_arg;
} uvotel_auto_spans_options_t;

#define UVOTEL_AUTO_SPANS_OPTIONS_INIT \
  { NULL, 0, 0, NULL, NULL }

/* Switch automatic spans on for opts->categories (replacing an earlier configuration;
 * categories 0 is the same as disable). NULL opts or unknown bits: UVOTEL_EINVAL (nothing
 * changes). Thread: loop. Alloc: none (the global tracer, the first time, one block). */
int uvotel_auto_spans_enable(const uvotel_auto_spans_options_t *opts);

/* Switch every category off. Spans already started still end with their requests.
 * Thread: loop. */
void uvotel_auto_spans_disable(void);

/* The categories currently on. Thread: any. */
unsigned uvotel_auto_spans_categories(void);

/* Parse a UVOTEL_INSTRUMENT value: comma-separated fs, dns, net, udp, pipe, process, http, all,
 * none (case-insensitive, blanks around names ignored, empty items skipped). NULL or "" gives 0.
 * An unknown name: UVOTEL_EPARSE and *out = 0. NULL out: UVOTEL_EINVAL. Thread: any.
 * Alloc: none. */
int uvotel_instrument_parse(const char *spec, unsigned *out);

/* Enable the categories named by the environment variable UVOTEL_INSTRUMENT with tracer (flags
 * as given). Unset or empty: nothing is enabled and 0 is returned. Errors as
 * uvotel_instrument_parse (nothing enabled) and uvotel_auto_spans_enable. Thread: loop. */
int uvotel_auto_spans_enable_from_env(uvotel_tracer_t *tracer, unsigned flags);

/* A ready-made on_accept callback: a SERVER span "tcp accept" from the tracer passed as arg
 * (uvotel_tracer_t *), with network.transport, network.type, network.peer.address/port (the
 * client) and server.address/port (the local end). A NULL arg gives NULL. Thread: loop. */
uvotel_span_t *uvotel_auto_spans_accept_span(uv_stream_t *server, uv_stream_t *client, void *arg);

#ifdef __cplusplus
}
#endif
#endif
