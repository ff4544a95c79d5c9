/* DNS over UDP, server side (category dns): a SERVER span "dns query <qtype>" per query a
 * wrapped UDP socket receives, from the receive to the completion of the send of the response
 * with the same message id to the same peer. The query's span is current while the receive
 * callback runs. Only copies are parsed (dns_wire.c); anything else is left alone. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dns_span.h"
#include "uvotel/uv_spans.h"

#define PENDING 64

typedef struct dq_s {
  uvotel_span_t *span; /* NULL: free slot */
  uint16_t id;
  struct sockaddr_storage peer;
} dq_t;

/* An answered query whose response's send is in flight (uvotel__dns_send_hold). */
typedef struct held_s {
  uvotel_span_t *span; /* NULL: free */
  const void *req;
} held_t;

struct uvotel__dnsq_s {
  dq_t q[PENDING];
  held_t held[PENDING];
  unsigned next;              /* the slot reused when all are taken (the oldest, round robin) */
  uvotel__dns_pending_t *cli; /* queries this socket sent as a client (dns_client.c), or NULL */
  int has_local;              /* local: the socket's address, taken at its first query */
  struct sockaddr_storage local;
};

static uvotel__dnsq_t *dnsq(uvotel__hs_t *s) {
  if (s->dns == NULL) s->dns = uvotel_calloc(1, sizeof *s->dns);
  return s->dns;
}

uvotel__dns_pending_t *uvotel__dns_cli_table(uvotel__hs_t *s, int create) {
  if (!create) return s->dns != NULL ? s->dns->cli : NULL;
  uvotel__dnsq_t *d = dnsq(s);
  if (d == NULL) return NULL;
  if (d->cli == NULL) d->cli = uvotel_calloc(1, sizeof *d->cli);
  return d->cli;
}

/* A response received: the client query it answers ends (before the receive callback runs). */
static void client_answer(uvotel__hs_t *s, const char *data, size_t n,
                          const struct sockaddr *addr) {
  uvotel__dns_pending_t *t = uvotel__dns_cli_table(s, 0);
  if (t == NULL || t->n == 0) return;
  uvotel__dns_msg_t m;
  int question_ok = uvotel__dns_parse_response((const uint8_t *)data, n, &m);
  uvotel__dns_pend_t q;
  if (question_ok >= 0 && uvotel__dns_pending_match(t, &m, question_ok, addr, &q)) {
    uvotel__dns_client_answered(&q, m.rcode);
  }
}

static size_t sa_len(const struct sockaddr *sa) {
  if (sa == NULL) return 0;
  return sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

/* Family, port and address only: a program's copy of the peer address may carry anything in
 * sin_zero or sin6_flowinfo. */
static int same_peer(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (b == NULL) return 1; /* a connected socket: its one peer */
  return uvotel__dns_same_addr(a, b);
}

uvotel_span_t *uvotel__dns_recv(uvotel__hs_t *s, uv_udp_t *h, const char *data, size_t n,
                                const struct sockaddr *addr) {
  uvotel__dns_msg_t m;
  if (addr == NULL || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6)) return NULL;
  if (n >= 12 && (data[2] & 0x80)) { /* a response: to a query this socket sent? */
    client_answer(s, data, n, addr);
    return NULL;
  }
  if (uvotel__dns_parse((const uint8_t *)data, n, &m) != 0 || m.qr || m.opcode != 0 ||
      m.qdcount == 0)
    return NULL;
  uvotel__dnsq_t *d = dnsq(s);
  if (d == NULL) return NULL;
  dq_t *slot = NULL;
  for (unsigned i = 0; i < PENDING && slot == NULL; i++) {
    if (d->q[i].span == NULL) slot = &d->q[i];
  }
  if (slot == NULL) { /* all waiting: the oldest gives way, ended without a response */
    slot = &d->q[d->next];
    d->next = (d->next + 1) % PENDING;
    uvotel__dns_server_unanswered(slot->span);
    slot->span = NULL;
    uvotel__dns_count_server_evicted();
  }
  char name[64];
  uvotel__dns_span_name(name, sizeof name, m.qtype);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.flags = UVOTEL_SPAN_ROOT; /* a datagram carries no trace context */
  uvotel_span_t *span = uvotel_span_start(uvotel__auto_tracer(), name, &o);
  if (!d->has_local) { /* a socket that receives is bound: its address does not change */
    int len = sizeof d->local;
    d->has_local = uv_udp_getsockname(h, (struct sockaddr *)&d->local, &len) == 0;
  }
  uvotel__dns_span_attrs(span, m.name, "udp", addr,
                         d->has_local ? (const struct sockaddr *)&d->local : NULL);
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
  uint8_t head[UVOTEL__DNS_HEAD];
  size_t n = 0;
  for (unsigned i = 0; i < nbufs && n < sizeof head; i++) {
    size_t l = bufs[i].len < sizeof head - n ? bufs[i].len : sizeof head - n;
    memcpy(head + n, bufs[i].base, l);
    n += l;
  }
  uvotel__dns_msg_t m;
  if (uvotel__dns_parse_response(head, n, &m) < 0 || !m.qr) return NULL;
  for (unsigned i = 0; i < PENDING; i++) {
    dq_t *q = &d->q[i];
    if (q->span == NULL || q->id != m.id || !same_peer(&q->peer, addr)) continue;
    uvotel_span_t *span = q->span;
    q->span = NULL;
    uvotel__dns_set_rcode(span, m.rcode);
    return span;
  }
  return NULL;
}

int uvotel__dns_held;

void uvotel__dns_send_hold(uvotel__hs_t *s, uvotel_span_t *q, const void *req) {
  uvotel__dnsq_t *d = s->dns;
  for (unsigned i = 0; d != NULL && i < PENDING; i++) {
    if (d->held[i].span != NULL) continue;
    d->held[i].span = q;
    d->held[i].req = req;
    __atomic_add_fetch(&uvotel__dns_held, 1, __ATOMIC_RELAXED);
    return;
  }
  uvotel_span_end(q); /* more than PENDING sends in flight: it ends as the send is queued */
}

/* Held spans of sockets closed (uvotel_close) while their sends were in flight. libuv still runs
 * those sends' callbacks before the close callback, with their real status (0 for one already
 * sent, UV_ECANCELED for one still queued), so uvotel__dns_send_done looks here when the socket
 * has no table any more. Rare: a lock is fine, and the count keeps the common path lock-free. */
static pthread_mutex_t g_orphan_mu = PTHREAD_MUTEX_INITIALIZER;
static held_t g_orphans[PENDING];
static int g_n_orphans;

static void orphan_add(uvotel_span_t *span, const void *req) {
  pthread_mutex_lock(&g_orphan_mu);
  for (unsigned i = 0; i < PENDING; i++) {
    if (g_orphans[i].span != NULL) continue;
    g_orphans[i].span = span;
    g_orphans[i].req = req;
    __atomic_add_fetch(&g_n_orphans, 1, __ATOMIC_RELAXED);
    span = NULL;
    break;
  }
  pthread_mutex_unlock(&g_orphan_mu);
  if (span != NULL) { /* more than PENDING at once: its outcome unknown */
    __atomic_sub_fetch(&uvotel__dns_held, 1, __ATOMIC_RELAXED);
    uvotel_span_end(span);
  }
}

static uvotel_span_t *orphan_take(const void *req) {
  if (__atomic_load_n(&g_n_orphans, __ATOMIC_RELAXED) == 0) return NULL;
  uvotel_span_t *span = NULL;
  pthread_mutex_lock(&g_orphan_mu);
  for (unsigned i = 0; i < PENDING && span == NULL; i++) {
    if (g_orphans[i].span == NULL || g_orphans[i].req != req) continue;
    span = g_orphans[i].span;
    g_orphans[i].span = NULL;
    __atomic_sub_fetch(&g_n_orphans, 1, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&g_orphan_mu);
  return span;
}

void uvotel__dns_send_done(uv_udp_t *h, const void *req, int status) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  uvotel__dnsq_t *d = s != NULL ? s->dns : NULL;
  uvotel_span_t *span = NULL;
  for (unsigned i = 0; d != NULL && i < PENDING && span == NULL; i++) {
    if (d->held[i].span == NULL || d->held[i].req != req) continue;
    span = d->held[i].span;
    d->held[i].span = NULL;
  }
  if (span == NULL) span = orphan_take(req);
  if (span == NULL) return;
  __atomic_sub_fetch(&uvotel__dns_held, 1, __ATOMIC_RELAXED);
  if (status < 0) uvotel__dns_set_error(span, status);
  uvotel_span_end(span);
}

int uvotel__dns_send_failed(uvotel__hs_t *s, uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                            const struct sockaddr *addr, int err) {
  uvotel_span_t *q = s != NULL ? uvotel__dns_send(s, bufs, nbufs, addr) : NULL;
  if (q != NULL) { /* a response that never left: its query's span says why */
    uvotel__dns_set_error(q, err);
    uvotel_span_end(q);
    return 1;
  }
  if (uvotel__auto_on(UVOTEL__AUTO_DNS)) uvotel__dns_client_failed_now(h, bufs, nbufs, addr, err);
  return 0;
}

void uvotel__dns_drop(uvotel__hs_t *s) {
  uvotel__dnsq_t *d = s->dns;
  if (UVOTEL__LIKELY(d == NULL)) return;
  s->dns = NULL;
  for (unsigned i = 0; i < PENDING; i++) {
    if (d->q[i].span != NULL) uvotel__dns_server_unanswered(d->q[i].span);
    if (d->held[i].span != NULL) orphan_add(d->held[i].span, d->held[i].req);
  }
  if (d->cli != NULL) {
    uvotel__dns_client_drain(d->cli);
    uvotel_free(d->cli);
  }
  uvotel_free(d);
}
