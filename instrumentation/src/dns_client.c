/* DNS clients (uvotel/uv_dns.h): a CLIENT span per standard query a wrapped UDP socket sends,
 * until the response with the same id and question arrives from the peer queried; the span
 * helpers shared with the UDP server (dns_server.c) and DNS over TCP (dns_tcp.c); the counters. */
#include <stdio.h>
#include <string.h>

#include "dns_span.h"
#include "uvotel/uv_dns.h"

/* ---- counters ---- */

static uint64_t g_queries, g_answered, g_unanswered, g_evicted, g_server_evicted, g_tcp_given_up;

static void count(uint64_t *c) {
  __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

void uvotel__dns_count_server_evicted(void) {
  count(&g_server_evicted);
  static uvotel_diag_limit_t lim = UVOTEL_DIAG_LIMIT_INIT(10000);
  uvotel_diag_limited(&lim, UVOTEL_DIAG_WARN, 0,
                      "libuvotel_uv: a DNS server socket had 64 queries awaiting their response: "
                      "the oldest was ended unanswered (%llu so far)",
                      (unsigned long long)__atomic_load_n(&g_server_evicted, __ATOMIC_RELAXED));
}

void uvotel__dns_count_tcp_given_up(void) {
  count(&g_tcp_given_up);
  static uvotel_diag_limit_t lim = UVOTEL_DIAG_LIMIT_INIT(10000);
  uvotel_diag_limited(&lim, UVOTEL_DIAG_INFO, 0,
                      "libuvotel_uv: DNS over TCP: a connection's bytes were not understood; no "
                      "more spans on it (%llu connections so far)",
                      (unsigned long long)__atomic_load_n(&g_tcp_given_up, __ATOMIC_RELAXED));
}

UVOTEL__API int uvotel_dns_stats(uvotel_dns_stats_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  out->client_queries = __atomic_load_n(&g_queries, __ATOMIC_RELAXED);
  out->client_answered = __atomic_load_n(&g_answered, __ATOMIC_RELAXED);
  out->client_unanswered = __atomic_load_n(&g_unanswered, __ATOMIC_RELAXED);
  out->client_evicted = __atomic_load_n(&g_evicted, __ATOMIC_RELAXED);
  out->server_evicted = __atomic_load_n(&g_server_evicted, __ATOMIC_RELAXED);
  out->tcp_given_up = __atomic_load_n(&g_tcp_given_up, __ATOMIC_RELAXED);
  return 0;
}

/* ---- span helpers ---- */

void uvotel__dns_span_name(char *buf, size_t cap, uint16_t qtype) {
  if (cap < 32) { /* every caller has 64 */
    if (cap > 0) buf[0] = '\0';
    return;
  }
  const char *t = uvotel__dns_qtype_name(qtype);
  if (t == NULL) {
    snprintf(buf, cap, "dns query TYPE%u", (unsigned)qtype);
    return;
  }
  size_t l = strlen(t); /* at most 6: the common case, without printf */
  memcpy(buf, "dns query ", 10);
  memcpy(buf + 10, t, l + 1);
}

void uvotel__dns_server_unanswered(uvotel_span_t *span) {
  uvotel_span_set_attribute_bool(span, "uvotel.dns.response_seen", 0);
  uvotel_span_end(span);
}

void uvotel__dns_set_rcode(uvotel_span_t *span, int rcode) {
  if (rcode == 0) return;
  const char *r = uvotel__dns_rcode_name(rcode);
  char buf[16];
  if (r == NULL) {
    snprintf(buf, sizeof buf, "RCODE%d", rcode);
    r = buf;
  }
  uvotel_span_set_attribute_str(span, "error.type", r);
  uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, NULL);
}

/* ---- the spans' attributes, set with one uvotel__span_set_attrs call ---- */

enum { K_NAME, K_TRANSPORT, K_CLIENT_ADDRESS, K_CLIENT_PORT, K_SERVER_ADDRESS, K_SERVER_PORT, K_N };
static uvotel__attr_key_t g_keys[K_N];
static const char *const k_key_names[K_N] = {
    [K_NAME] = "dns.question.name",        [K_TRANSPORT] = "network.transport",
    [K_CLIENT_ADDRESS] = "client.address", [K_CLIENT_PORT] = "client.port",
    [K_SERVER_ADDRESS] = "server.address", [K_SERVER_PORT] = "server.port",
};

__attribute__((constructor)) static void dns_keys_init(void) {
  for (unsigned i = 0; i < K_N; i++) {
    (void)uvotel__attr_key_init(&g_keys[i], k_key_names[i], strlen(k_key_names[i]));
  }
}

typedef struct dns_attrs_s {
  uvotel__attr_in_t e[K_N];
  size_t n;
  char ip[2][64];
} dns_attrs_t;

static void put_str(dns_attrs_t *t, unsigned k, const char *v, size_t n) {
  uvotel__attr_in_t *e = &t->e[t->n++];
  e->key = &g_keys[k];
  e->value.type = UVOTEL_VALUE_STRING;
  e->value.len = (uint32_t)n;
  e->value.u.s = v;
}

/* The address and port of an IPv4/IPv6 sockaddr as attributes kaddr and kaddr + 1 (others, or
 * NULL: none), the text in ip. */
static void put_addr(dns_attrs_t *t, const struct sockaddr *sa, unsigned kaddr, char *ip) {
  int port = 0;
  size_t len;
  if (sa == NULL) return;
  if (sa->sa_family == AF_INET) { /* dotted quad by hand: uv_ip4_name goes through snprintf */
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    const uint8_t *b = (const uint8_t *)&in->sin_addr.s_addr;
    char *o = ip;
    for (int i = 0; i < 4; i++) {
      unsigned v = b[i];
      if (v >= 100) *o++ = (char)('0' + v / 100);
      if (v >= 10) *o++ = (char)('0' + v / 10 % 10);
      *o++ = (char)('0' + v % 10);
      *o++ = i < 3 ? '.' : '\0';
    }
    len = (size_t)(o - ip) - 1;
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    if (uv_ip6_name((const struct sockaddr_in6 *)sa, ip, 64) != 0) return;
    len = strlen(ip);
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  } else {
    return;
  }
  put_str(t, kaddr, ip, len);
  uvotel__attr_in_t *e = &t->e[t->n++];
  e->key = &g_keys[kaddr + 1];
  e->value.type = UVOTEL_VALUE_INT;
  e->value.len = 0;
  e->value.u.i = port;
}

void uvotel__dns_span_attrs(uvotel_span_t *span, const char *qname, const char *transport,
                            const struct sockaddr *client, const struct sockaddr *server) {
  dns_attrs_t t;
  t.n = 0;
  put_str(&t, K_NAME, qname, strlen(qname));
  put_str(&t, K_TRANSPORT, transport, strlen(transport));
  put_addr(&t, client, K_CLIENT_ADDRESS, t.ip[0]);
  put_addr(&t, server, K_SERVER_ADDRESS, t.ip[1]);
  uvotel__span_set_attrs(span, t.e, t.n);
}

uvotel_span_t *uvotel__dns_client_span(const uvotel__dns_msg_t *m, const char *transport,
                                       const struct sockaddr *server) {
  char name[64];
  uvotel__dns_span_name(name, sizeof name, m->qtype);
  uvotel_span_t *span = uvotel__auto_start_client(name);
  if (span == NULL) return NULL;
  uvotel__dns_span_attrs(span, m->name, transport, NULL, server);
  count(&g_queries);
  return span;
}

static void end_query(const uvotel__dns_pend_t *q) {
  if (q->retransmits > 0) {
    uvotel_span_set_attribute_int(q->span, "uvotel.dns.retransmits", (int64_t)q->retransmits);
  }
  uvotel_span_end(q->span);
}

void uvotel__dns_client_answered(const uvotel__dns_pend_t *q, int rcode) {
  uvotel__dns_set_rcode(q->span, rcode);
  count(&g_answered);
  end_query(q);
}

void uvotel__dns_client_unanswered(const uvotel__dns_pend_t *q, const char *why) {
  uvotel_span_set_attribute_str(q->span, "error.type", "timeout");
  uvotel_span_set_status(q->span, UVOTEL_STATUS_ERROR, why);
  count(&g_unanswered);
  end_query(q);
}

void uvotel__dns_client_added(void *evicted) {
  if (evicted == NULL) return;
  uvotel__dns_pend_t q = {0};
  q.span = evicted;
  uvotel__dns_client_unanswered(&q, "given up: too many queries awaiting a response");
  count(&g_evicted);
  static uvotel_diag_limit_t lim = UVOTEL_DIAG_LIMIT_INIT(10000);
  uvotel_diag_limited(&lim, UVOTEL_DIAG_WARN, 0,
                      "libuvotel_uv: a DNS client socket had %d queries awaiting their response: "
                      "the oldest was ended as unanswered (%llu so far)",
                      UVOTEL_DNS_PENDING_MAX,
                      (unsigned long long)__atomic_load_n(&g_evicted, __ATOMIC_RELAXED));
}

void uvotel__dns_client_drain(uvotel__dns_pending_t *t) {
  for (unsigned i = 0; i < UVOTEL__DNS_PENDING && t->n > 0; i++) {
    if (t->q[i].span == NULL) continue;
    uvotel__dns_client_unanswered(&t->q[i], "no response before the socket was closed");
    memset(&t->q[i], 0, sizeof t->q[i]);
    t->n--;
  }
}

/* ---- UDP ---- */

/* 224.0.0.0/4 or ff00::/8. */
static int is_multicast(const struct sockaddr *sa) {
  if (sa == NULL) return 0;
  if (sa->sa_family == AF_INET) {
    return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 28) == 0xe;
  }
  if (sa->sa_family == AF_INET6) {
    return ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr[0] == 0xff;
  }
  return 0;
}

/* The standard query a datagram holds, into *m, and the server it goes to (addr, or the
 * connected peer, in *ss): 1, or 0 when it is no query that gets a span. */
static int query_of(uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                    const struct sockaddr *addr, uvotel__dns_msg_t *m, struct sockaddr_storage *ss,
                    const struct sockaddr **server) {
  if (bufs == NULL || nbufs == 0) return 0;
  /* Cheap look at the header before any copy: qr 0, opcode 0, one question. */
  if (bufs[0].len >= 6) {
    const uint8_t *b = (const uint8_t *)bufs[0].base;
    if ((b[2] & 0xf8) != 0 || b[4] != 0 || b[5] != 1) return 0;
  }
  uint8_t head[UVOTEL__DNS_HEAD];
  size_t n = 0;
  for (unsigned i = 0; i < nbufs && n < sizeof head; i++) {
    size_t l = bufs[i].len < sizeof head - n ? bufs[i].len : sizeof head - n;
    if (l > 0) memcpy(head + n, bufs[i].base, l);
    n += l;
  }
  if (uvotel__dns_parse(head, n, m) != 0 || !uvotel__dns_is_query(m, head, n)) return 0;
  *server = addr;
  if (*server == NULL) {
    int len = sizeof *ss;
    if (uv_udp_getpeername(h, (struct sockaddr *)ss, &len) == 0) *server = (void *)ss;
  }
  return !is_multicast(*server); /* mDNS and the like: answered by other hosts, if at all */
}

void uvotel__dns_client_sent(uvotel__hs_t *s, uv_udp_t *h, const void *req, const uv_buf_t bufs[],
                             unsigned int nbufs, const struct sockaddr *addr) {
  uvotel__dns_msg_t m;
  struct sockaddr_storage ss;
  const struct sockaddr *server;
  if (!query_of(h, bufs, nbufs, addr, &m, &ss, &server)) return;
  if (s == NULL) { /* a handle seen first by uvotel_udp_try_send: track it from here */
    int is_new;
    s = uvotel__track(h->loop, h, &is_new);
    if (s == NULL) return; /* out of memory: no span, the program unaffected */
  }
  uvotel__dns_pending_t *t = uvotel__dns_cli_table(s, 1);
  if (t == NULL) return;
  int dup;
  void *evicted;
  uvotel__dns_pend_t *q = uvotel__dns_pending_add(t, &m, addr, &dup, &evicted);
  if (dup) return; /* a retransmission: counted on the waiting query */
  uvotel__dns_client_added(evicted);
  q->span = uvotel__dns_client_span(&m, "udp", server);
  q->req = req;
  if (q->span == NULL) { /* no span wanted here (no parent, roots off): forget the slot */
    memset(q, 0, sizeof *q);
    t->n--;
  }
}

void uvotel__dns_set_error(uvotel_span_t *span, int err) {
  uvotel_span_set_attribute_str(span, "error.type", uv_err_name(err));
  uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, uv_strerror(err));
}

/* A query ends with libuv error err (its send failed, or the peer refused it). */
static void end_with_error(const uvotel__dns_pend_t *q, int err) {
  uvotel__dns_set_error(q->span, err);
  count(&g_unanswered);
  end_query(q);
}

void uvotel__dns_client_failed(const uvotel__dns_pend_t *q, int err) {
  end_with_error(q, err);
}

void uvotel__dns_client_failed_now(uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                                   const struct sockaddr *addr, int err) {
  uvotel__dns_msg_t m;
  struct sockaddr_storage ss;
  const struct sockaddr *server;
  if (!query_of(h, bufs, nbufs, addr, &m, &ss, &server)) return;
  uvotel__dns_pend_t q = {0};
  q.span = uvotel__dns_client_span(&m, "udp", server);
  if (q.span != NULL) end_with_error(&q, err); /* never waited for: not in the table */
}

void uvotel__dns_client_recv_error(uvotel__hs_t *s, int err) {
  uvotel__dns_pending_t *t = uvotel__dns_cli_table(s, 0);
  if (t == NULL) return;
  for (unsigned i = 0; i < UVOTEL__DNS_PENDING && t->n > 0; i++) {
    uvotel__dns_pend_t *q = &t->q[i];
    if (q->span == NULL || !q->any_peer) continue; /* only a connected socket's peer refuses */
    uvotel__dns_pend_t done = *q;
    memset(q, 0, sizeof *q);
    t->n--;
    end_with_error(&done, err);
  }
}

void uvotel__dns_client_send_failed(uv_udp_t *h, const void *req, int status) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  uvotel__dns_pending_t *t = s != NULL ? uvotel__dns_cli_table(s, 0) : NULL;
  uvotel__dns_pend_t q;
  if (t == NULL || !uvotel__dns_pending_take_req(t, req, &q)) return;
  end_with_error(&q, status);
}
