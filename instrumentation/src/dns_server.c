/* DNS over UDP, server side (category dns): a SERVER span "dns query <qtype>" per query a
 * wrapped UDP socket receives, from the receive to the completion of the send of the response
 * with the same message id to the same peer. The query's span is current while the receive
 * callback runs. Only copies are parsed (dns_wire.c); anything else is left alone. */
#include <stdio.h>
#include <string.h>

#include "dns_wire.h"
#include "internal.h"
#include "uvotel/uv_spans.h"

#define PENDING 64

typedef struct dq_s {
  uvotel_span_t *span; /* NULL: free slot */
  uint16_t id;
  struct sockaddr_storage peer;
} dq_t;

struct uvotel__dnsq_s {
  dq_t q[PENDING];
  unsigned next; /* the slot reused when all are taken (the oldest, round robin) */
};

static void addr_str(const struct sockaddr *sa, char *ip, size_t cap, int *port) {
  ip[0] = '\0';
  *port = 0;
  if (sa == NULL) return;
  if (sa->sa_family == AF_INET) {
    if (uv_ip4_name((const struct sockaddr_in *)sa, ip, cap) == 0) {
      *port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    }
  } else if (sa->sa_family == AF_INET6) {
    if (uv_ip6_name((const struct sockaddr_in6 *)sa, ip, cap) == 0) {
      *port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    }
  }
}

static size_t sa_len(const struct sockaddr *sa) {
  if (sa == NULL) return 0;
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static int same_peer(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (b == NULL) return 1; /* a connected socket: its one peer */
  size_t l = sa_len(b);
  return a->ss_family == b->sa_family && memcmp(a, b, l) == 0;
}

uvotel_span_t *uvotel__dns_recv(uvotel__hs_t *s, uv_udp_t *h, const char *data, size_t n,
                                const struct sockaddr *addr) {
  uvotel__dns_msg_t m;
  if (addr == NULL || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) return NULL;
  if (uvotel__dns_parse((const uint8_t *)data, n, &m) != 0 || m.qr || m.opcode != 0 ||
      m.qdcount == 0) {
    return NULL;
  }
  if (s->dns == NULL) {
    s->dns = uvotel_calloc(1, sizeof *s->dns);
    if (s->dns == NULL) return NULL;
  }
  uvotel__dnsq_t *d = s->dns;
  dq_t *slot = NULL;
  for (unsigned i = 0; i < PENDING && slot == NULL; i++) {
    if (d->q[i].span == NULL) slot = &d->q[i];
  }
  if (slot == NULL) { /* all waiting: the oldest gives way, ended without a response */
    slot = &d->q[d->next];
    d->next = (d->next + 1) % PENDING;
    uvotel_span_end(slot->span);
    slot->span = NULL;
  }
  char name[64];
  const char *t = uvotel__dns_qtype_name(m.qtype);
  if (t != NULL) {
    snprintf(name, sizeof name, "dns query %s", t);
  } else {
    snprintf(name, sizeof name, "dns query TYPE%u", (unsigned)m.qtype);
  }
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.flags = UVOTEL_SPAN_ROOT; /* a datagram carries no trace context */
  uvotel_span_t *span = uvotel_span_start(uvotel__auto_tracer(), name, &o);
  uvotel_span_set_attribute_str(span, "dns.question.name", m.name);
  uvotel_span_set_attribute_str(span, "network.transport", "udp");
  char ip[64];
  int port;
  addr_str(addr, ip, sizeof ip, &port);
  if (ip[0] != '\0') {
    uvotel_span_set_attribute_str(span, "client.address", ip);
    uvotel_span_set_attribute_int(span, "client.port", port);
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_udp_getsockname(h, (struct sockaddr *)&ss, &len) == 0) {
    addr_str((struct sockaddr *)&ss, ip, sizeof ip, &port);
    if (ip[0] != '\0') {
      uvotel_span_set_attribute_str(span, "server.address", ip);
      uvotel_span_set_attribute_int(span, "server.port", port);
    }
  }
  slot->span = span;
  slot->id = m.id;
  memset(&slot->peer, 0, sizeof slot->peer);
  memcpy(&slot->peer, addr, sa_len(addr));
  return span;
}

uvotel_span_t *uvotel__dns_send(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs,
                                const struct sockaddr *addr) {
  uvotel__dnsq_t *d = s->dns;
  if (d == NULL || bufs == NULL) return NULL;
  /* Header and question are in the first 12 + 260 bytes: copy at most that. */
  uint8_t head[12 + 260];
  size_t n = 0;
  for (unsigned i = 0; i < nbufs && n < sizeof head; i++) {
    size_t l = bufs[i].len < sizeof head - n ? bufs[i].len : sizeof head - n;
    memcpy(head + n, bufs[i].base, l);
    n += l;
  }
  uvotel__dns_msg_t m;
  if (n < 12) return NULL;
  int ok = uvotel__dns_parse(head, n, &m) == 0;
  if (!ok) { /* the question may be cut by our bound: the header alone gives id and rcode */
    m.id = (uint16_t)(head[0] << 8 | head[1]);
    m.qr = head[2] >> 7;
    m.rcode = head[3] & 0xf;
  }
  if (!m.qr) return NULL;
  for (unsigned i = 0; i < PENDING; i++) {
    dq_t *q = &d->q[i];
    if (q->span == NULL || q->id != m.id || !same_peer(&q->peer, addr)) continue;
    uvotel_span_t *span = q->span;
    q->span = NULL;
    if (m.rcode != 0) {
      const char *r = uvotel__dns_rcode_name(m.rcode);
      char buf[16];
      if (r == NULL) {
        snprintf(buf, sizeof buf, "RCODE%d", m.rcode);
        r = buf;
      }
      uvotel_span_set_attribute_str(span, "error.type", r);
      uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, NULL);
    }
    return span;
  }
  return NULL;
}

void uvotel__dns_drop(uvotel__hs_t *s) {
  uvotel__dnsq_t *d = s->dns;
  if (UVOTEL__LIKELY(d == NULL)) return;
  s->dns = NULL;
  for (unsigned i = 0; i < PENDING; i++) {
    if (d->q[i].span != NULL) uvotel_span_end(d->q[i].span);
  }
  uvotel_free(d);
}
