/* Spans of DNS queries, shared by the UDP server (dns_server.c), the UDP client (dns_client.c)
 * and DNS over TCP (dns_tcp.c). Private to libuvotel_uv. */
#ifndef UVOTEL_DNS_SPAN_H
#define UVOTEL_DNS_SPAN_H

#include "dns_wire.h"
#include "internal.h"
#include "uvotel/uv_protocols.h"

/* "dns query <qtype>" ("dns query A"; unknown types "dns query TYPE<n>") into buf (cap at
 * least 32; smaller: ""). */
void uvotel__dns_span_name(char *buf, size_t cap, uint16_t qtype);

/* End a SERVER span whose response uvotel did not see (the socket closed, the per-socket
 * bound, or a program that answers outside libuv): uvotel.dns.response_seen = false. */
void uvotel__dns_server_unanswered(uvotel_span_t *span);

/* A response code other than NOERROR: error.type = its name (RCODE<n> when unnamed), ERROR. */
void uvotel__dns_set_rcode(uvotel_span_t *span, int rcode);

/* A libuv error err: error.type = its name (EMSGSIZE, ...), status ERROR with its text. */
void uvotel__dns_set_error(uvotel_span_t *span, int err);

/* A query in bufs that a send on h failed to send (err): its CLIENT span, ended at once with
 * the error (none when bufs hold no standard query or no span is wanted). */
void uvotel__dns_client_failed_now(uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                                   const struct sockaddr *addr, int err);

/* A query span's attributes, in one uvotel__span_set_attrs: dns.question.name = qname,
 * network.transport, then client.address/port and server.address/port of the IPv4/IPv6
 * addresses given (NULL or another family: none). */
void uvotel__dns_span_attrs(uvotel_span_t *span, const char *qname, const char *transport,
                            const struct sockaddr *client, const struct sockaddr *server);

/* A CLIENT span for query m (NULL: none, by the roots rule of uvotel/uv_spans.h), with
 * dns.question.name, network.transport and server.address/port (server may be NULL). */
uvotel_span_t *uvotel__dns_client_span(const uvotel__dns_msg_t *m, const char *transport,
                                       const struct sockaddr *server);

/* End a client query's span for a matched response (error.type the rcode when not NOERROR),
 * or unanswered (error.type "timeout", status ERROR with why). Counted in the stats. */
void uvotel__dns_client_answered(const uvotel__dns_pend_t *q, int rcode);
void uvotel__dns_client_unanswered(const uvotel__dns_pend_t *q, const char *why);
/* End a client query's span with libuv error err (its write or send failed). Counted. */
void uvotel__dns_client_failed(const uvotel__dns_pend_t *q, int err);

/* A client query was added to a table: count it; end what the bound made give way (evicted). */
void uvotel__dns_client_added(void *evicted);

/* End every query still in t as unanswered ("closed before a response"). */
void uvotel__dns_client_drain(uvotel__dns_pending_t *t);

/* The UDP socket's client table (made when create is set and it has none; NULL: none / out of
 * memory), kept beside the server's queries on s->dns (dns_server.c). */
uvotel__dns_pending_t *uvotel__dns_cli_table(uvotel__hs_t *s, int create);

/* The built-in DNS-over-TCP detectors (dns_tcp.c): client 0 for accepted connections (queries
 * read, responses written), 1 for outgoing ones (queries written, responses read). */
const uvotel_protocol_ops_t *uvotel__dns_tcp_ops(int client);

/* Counters (uvotel/uv_dns.h). */
void uvotel__dns_count_server_evicted(void);
void uvotel__dns_count_tcp_given_up(void);

#endif
