/* DNS understood on the wire (category dns, uvotel/uv_spans.h): what uvotel does with the DNS
 * messages a wrapped program sends and receives, and its counters.
 *
 * Spans, all named "dns query <qtype>" ("dns query A"; unknown types "dns query TYPE<n>") with
 * dns.question.name, network.transport ("udp" / "tcp"), and error.type = the response code's
 * name (NXDOMAIN, SERVFAIL, ...) with status ERROR when it is not NOERROR:
 *
 *   UDP server (a wrapped socket receives a standard query): SERVER, a root (a datagram
 *     carries no trace context), client.address/port, server.address/port; from the receive to
 *     the send of the response with the same id to the same peer; current in the receive
 *     callback. At most 64 wait per socket (the oldest then ends unanswered). A SERVER span
 *     whose response was not seen (closed first, the bound, or an answer sent outside libuv,
 *     as kresd does over UDP) ends with uvotel.dns.response_seen = false and no rcode.
 *   UDP client (uvotel_udp_send / uvotel_udp_try_send of a standard query: qr 0, opcode 0, one
 *     question, no answer or authority records, to any port but not to a multicast address):
 *     CLIENT, a child of the span current at the send (a root only when roots are on:
 *     UVOTEL_AUTO_SPANS_ROOTS, the preload's default), server.address/port (the destination,
 *     or the connected peer); from the send to the receive, on the same socket, of the
 *     response with the same id and question from that peer (ended before the receive
 *     callback runs). Unanswered queries end when the socket is closed, with error.type
 *     "timeout" and status ERROR; a send that fails ends its query with libuv's error name,
 *     and so does a receive error on a connected socket (ECONNREFUSED: nothing listens at the
 *     peer) for the queries sent to it. A query resent with the same id and question to the
 *     same peer while waiting is the same span (uvotel.dns.retransmits = how many times).
 *     At most UVOTEL_DNS_PENDING_MAX wait per socket: a further query makes the oldest give up
 *     (ended as unanswered, "timeout", and counted in client_evicted, said at warn level).
 *   TCP (RFC 1035 4.2.2 / RFC 7766: a 2-byte length before each message, any number per
 *     connection, split across reads and writes at any byte): accepted connections whose first
 *     bytes are a standard query (uvotel/uv_protocols.h detector) get a SERVER span per query,
 *     from the read carrying its first byte to the completion of the write carrying the last
 *     byte of its response (each response in a write ends with that write; a write that fails,
 *     in its callback or refused at once: error.type the error's name, status ERROR; matched
 *     by id and question, in any order), a child of the span
 *     current at the read (`tcp accept` under the preload) or a root; current in the read
 *     callback when the read completes exactly one query. Connections made with
 *     uvotel_tcp_connect whose first bytes written are a query get a CLIENT span per query
 *     (parent as for UDP), server.address/port the peer, ended by the read of its response;
 *     unanswered ones end at uvotel_close with "timeout"; one whose write fails (in its
 *     callback, or refused at once) ends then with the error's name. A
 *     framing length under 12, or a message that does not parse, makes uvotel give up on the
 *     connection (no further spans; counted in tcp_given_up). At most UVOTEL_DNS_PENDING_MAX
 *     queries wait per connection.
 *
 * DNS messages carry no trace context: a client's query and the server's span are separate
 * traces, even in one process. Never changes what the program reads or writes; only bounded
 * copies (the header and first question) are parsed. Not covered: DNS over TLS / HTTPS / QUIC,
 * queries to multicast addresses (mDNS: answered by other hosts, if at all), DNS over pipes,
 * responses received on another socket than the query was sent on, and TCP connections not
 * made with uvotel_tcp_connect (uvotel_tcp_open, accepted by another process). */
#ifndef UVOTEL_UV_DNS_H
#define UVOTEL_UV_DNS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UVOTEL_DNS_PENDING_MAX 64 /* client queries awaiting a response, per socket/connection */

/* Process-wide counts since start (each monotonic). */
typedef struct uvotel_dns_stats_s {
  uint64_t client_queries;    /* CLIENT spans started (UDP and TCP) */
  uint64_t client_answered;   /* ... ended by their response */
  uint64_t client_unanswered; /* ... ended without one: closed, send failed, or evicted */
  uint64_t client_evicted;    /* ... of those, given up for the per-socket bound */
  uint64_t server_evicted;    /* SERVER spans ended unanswered for the per-socket bound */
  uint64_t tcp_given_up;      /* TCP connections given up on (bad framing or message) */
} uvotel_dns_stats_t;

/* Copy the counters into *out. NULL out: UVOTEL_EINVAL (-22 style uvotel code), else 0.
 * Thread: any. Alloc: none. */
int uvotel_dns_stats(uvotel_dns_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
