/* DNS understood on the wire with the wrappers (uvotel/uv_dns.h), over loopback, against raw
 * libuv peers: the UDP client's CLIENT spans (parent, attributes, the response ends them
 * before the receive callback, try_send, a connected socket, a retransmission, a failed send,
 * unanswered queries ending at close as "timeout", the per-socket bound and its count); DNS
 * over TCP on both sides (SERVER spans on an accepted connection with queries and answers split
 * across writes at any byte, CLIENT spans on a connection made with uvotel_tcp_connect);
 * malformed datagrams and streams: no spans, the same bytes delivered; uvotel_dns_stats. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "spans_fixture.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_dns.h"
#include "uvotel/uv_spans.h"

static void enable(unsigned flags) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = UVOTEL_INSTRUMENT_DNS;
  o.flags = flags;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

/* A query: header (id, RD, one question), name from dotted, type, class IN. */
static size_t query(char *m, unsigned id, const char *dotted, unsigned qtype) {
  const char h[12] = {(char)(id >> 8), (char)(id & 0xff), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(m, h, 12);
  size_t n = 12;
  while (*dotted != '\0') {
    const char *dot = strchr(dotted, '.');
    size_t l = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
    m[n++] = (char)l;
    memcpy(m + n, dotted, l);
    n += l;
    dotted += l + (dot != NULL);
  }
  m[n++] = 0;
  m[n++] = (char)(qtype >> 8);
  m[n++] = (char)qtype;
  m[n++] = 0;
  m[n++] = 1;
  return n;
}

/* attr_str / attr_int: tests/support/spans_fixture.h */
/* A bool attribute: 0/1, or -1 when absent. */
static int attr_bool(const uvotel_span_data_t *d, const char *key) {
  size_t n;
  const uvotel_attribute_t *at = uvotel_span_data_attributes(d, &n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(at[i].key, key) == 0 && at[i].value.type == UVOTEL_VALUE_BOOL)
      return at[i].value.u.b;
  }
  return -1;
}

static size_t count_named(const char *prefix, uvotel_span_kind_t kind) {
  size_t n = 0;
  for (size_t i = 0; i < uvotel_memory_exporter_count(g_fx.mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(g_fx.mem, i);
    if (strncmp(uvotel_span_data_name(d), prefix, strlen(prefix)) == 0 &&
        uvotel_span_data_kind(d) == kind) {
      n++;
    }
  }
  return n;
}

static uvotel_dns_stats_t stats(void) {
  uvotel_dns_stats_t s;
  assert_int_equal(uvotel_dns_stats(&s), 0);
  return s;
}

/* ---- UDP: a raw responder and a wrapped client ---- */

typedef struct udp_s {
  uv_udp_t responder, client, silent;
  uv_udp_send_t rreq[16], creq[80];
  int nrreq;
  struct sockaddr_in raddr, saddr;
  int rcode;        /* what the responder answers */
  int answer;       /* answer at all */
  int expect;       /* answers the client waits for before closing */
  int got;          /* answers the client received */
  int seen_in_recv; /* spans exported when the client's receive callback ran */
  char rx[8][512];  /* what the responder received */
  size_t nrx[8];
  int nr;
  int closed;
} udp_t;

static udp_t g_u;

static void u_closed(uv_handle_t *h) {
  (void)h;
  g_u.closed++;
}

static void u_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
  (void)h;
  (void)s;
  static char mem[4][2048];
  static int k;
  *buf = uv_buf_init(mem[k++ & 3], sizeof mem[0]);
}

static void close_all(void) {
  uv_close((uv_handle_t *)&g_u.responder, u_closed);
  uvotel_close((uv_handle_t *)&g_u.client, u_closed);
  uv_close((uv_handle_t *)&g_u.silent, u_closed);
}

static void on_responder(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread <= 0 || addr == NULL) return;
  if (g_u.nr < 8) {
    memcpy(g_u.rx[g_u.nr], buf->base, (size_t)nread);
    g_u.nrx[g_u.nr++] = (size_t)nread;
  }
  if (!g_u.answer || nread < 12) return;
  static char replies[16][512];
  assert_true(g_u.nrreq < 16);
  char *reply = replies[g_u.nrreq];
  memcpy(reply, buf->base, (size_t)nread);
  reply[2] = (char)(reply[2] | 0x80);
  reply[3] = (char)g_u.rcode;
  uv_buf_t b = uv_buf_init(reply, (unsigned)nread);
  assert_int_equal(uv_udp_send(&g_u.rreq[g_u.nrreq++], h, &b, 1, addr, NULL), 0);
}

static void on_client(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags) {
  (void)h;
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_u.seen_in_recv = (int)count_named("dns query", UVOTEL_SPAN_KIND_CLIENT);
  if (++g_u.got == g_u.expect) close_all();
}

static void udp_setup(uv_loop_t *loop, int answer, int rcode, int expect) {
  memset(&g_u, 0, sizeof g_u);
  g_u.answer = answer;
  g_u.rcode = rcode;
  g_u.expect = expect;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &g_u.raddr), 0);
  g_u.saddr = g_u.raddr;
  assert_int_equal(uv_udp_init(loop, &g_u.responder), 0);
  assert_int_equal(uv_udp_bind(&g_u.responder, (const struct sockaddr *)&g_u.raddr, 0), 0);
  int len = sizeof g_u.raddr;
  assert_int_equal(uv_udp_getsockname(&g_u.responder, (struct sockaddr *)&g_u.raddr, &len), 0);
  assert_int_equal(uv_udp_recv_start(&g_u.responder, u_alloc, on_responder), 0);
  assert_int_equal(uv_udp_init(loop, &g_u.silent), 0); /* bound, never read: no answer */
  assert_int_equal(uv_udp_bind(&g_u.silent, (const struct sockaddr *)&g_u.saddr, 0), 0);
  len = sizeof g_u.saddr;
  assert_int_equal(uv_udp_getsockname(&g_u.silent, (struct sockaddr *)&g_u.saddr, &len), 0);
  assert_int_equal(uvotel_udp_init(loop, &g_u.client), 0);
}

static void client_send(int i, const char *m, size_t n, const struct sockaddr_in *to) {
  uv_buf_t b = uv_buf_init((char *)m, (unsigned)n);
  assert_int_equal(
      uvotel_udp_send(&g_u.creq[i], &g_u.client, &b, 1, (const struct sockaddr *)to, NULL), 0);
}

static void run_loop(uv_loop_t *loop) {
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_u.closed, 3);
}

/* Under a parent: the CLIENT span is its child, with the attributes, ended by the response
 * before the client's receive callback runs. */
static void test_udp_client_span(void **state) {
  fx_t *fx = *state;
  enable(0);
  uvotel_dns_stats_t s0 = stats();
  udp_setup(&fx->loop, 1, 3, 1);
  assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_client), 0);
  uvotel_span_t *parent = uvotel_span_start(fx->tracer, "parent", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(parent, &sc), 0);
  static char m[512];
  size_t n = query(m, 0xabcd, "WWW.Example.org", 28);
  client_send(0, m, n, &g_u.raddr);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_span_end(parent);
  run_loop(&fx->loop);
  assert_int_equal(g_u.got, 1);
  assert_int_equal(g_u.seen_in_recv, 1); /* ended before the receive callback ran */
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_CLIENT);
  const uvotel_span_data_t *p = uvotel_memory_exporter_find(fx->mem, "parent");
  assert_non_null(p);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  uvotel_span_context_t pc = uvotel_span_data_context(p);
  assert_memory_equal(&pid, &pc.span_id, sizeof pid);
  assert_string_equal(attr_str(d, "dns.question.name"), "WWW.Example.org");
  assert_string_equal(attr_str(d, "network.transport"), "udp");
  assert_string_equal(attr_str(d, "server.address"), "127.0.0.1");
  assert_int_equal(attr_int(d, "server.port"), ntohs(g_u.raddr.sin_port));
  assert_string_equal(attr_str(d, "error.type"), "NXDOMAIN");
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  /* the responder got the query unchanged */
  assert_int_equal(g_u.nr, 1);
  assert_int_equal(g_u.nrx[0], n);
  assert_memory_equal(g_u.rx[0], m, n);
  uvotel_dns_stats_t s1 = stats();
  assert_int_equal(s1.client_queries - s0.client_queries, 1);
  assert_int_equal(s1.client_answered - s0.client_answered, 1);
  assert_int_equal(s1.client_unanswered - s0.client_unanswered, 0);
}

/* No current span: no span unless roots are on; with roots, a root span. */
static void test_udp_client_roots_rule(void **state) {
  fx_t *fx = *state;
  for (int roots = 0; roots < 2; roots++) {
    enable(roots ? UVOTEL_AUTO_SPANS_ROOTS : 0);
    udp_setup(&fx->loop, 1, 0, 1);
    assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_client), 0);
    static char m[512];
    size_t n = query(m, 0x0101, "a.example", 1);
    client_send(0, m, n, &g_u.raddr);
    run_loop(&fx->loop);
    assert_int_equal(g_u.got, 1);
    assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_CLIENT), (size_t)roots);
    if (roots) {
      const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
      uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
      static const uvotel_span_id_t zero;
      assert_memory_equal(&pid, &zero, sizeof pid);
      assert_null(attr_str(d, "error.type"));
      assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_UNSET);
    }
    uvotel_memory_exporter_reset(fx->mem);
  }
}

/* try_send on a socket the wrappers see first there; a connected socket (addr NULL); a
 * retransmission with the same id and question is the same span. */
static void test_udp_client_try_send_connected_retransmit(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 1, 0, 2);
  static char m[512], m2[512];
  size_t n = query(m, 0x0202, "try.example", 16);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  assert_int_equal(uvotel_udp_connect(&g_u.client, (const struct sockaddr *)&g_u.raddr), 0);
  assert_int_equal(uvotel_udp_try_send(&g_u.client, &b, 1, NULL), (int)n);
  assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_client), 0);
  size_t n2 = query(m2, 0x0303, "again.example", 15);
  client_send(0, m2, n2, NULL);
  client_send(1, m2, n2, NULL); /* resent while waiting: answered twice, one span */
  g_u.expect = 3;
  run_loop(&fx->loop);
  assert_int_equal(g_u.got, 3);
  const uvotel_span_data_t *t = uvotel_memory_exporter_find(fx->mem, "dns query TXT");
  assert_non_null(t);
  assert_string_equal(attr_str(t, "dns.question.name"), "try.example");
  assert_int_equal(attr_int(t, "server.port"), ntohs(g_u.raddr.sin_port)); /* the peer */
  assert_int_equal(count_named("dns query MX", UVOTEL_SPAN_KIND_CLIENT), 1);
  const uvotel_span_data_t *mx = uvotel_memory_exporter_find(fx->mem, "dns query MX");
  assert_int_equal(attr_int(mx, "uvotel.dns.retransmits"), 1);
  assert_null(attr_str(mx, "error.type"));
}

/* Nothing answers: every query ends when the socket closes, as "timeout"; past 64 waiting,
 * the oldest gives way (counted, ended the same way). */
static void test_udp_client_unanswered_and_bound(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  uvotel_dns_stats_t s0 = stats();
  udp_setup(&fx->loop, 0, 0, 0);
  assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_client), 0);
  static char m[70][64];
  for (int i = 0; i < 70; i++) {
    size_t n = query(m[i], 0x1000u + (unsigned)i, "lost.example", 1);
    client_send(i, m[i], n, &g_u.saddr);
  }
  /* the six oldest already gave way */
  assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_CLIENT), 6);
  uvotel_dns_stats_t s1 = stats();
  assert_int_equal(s1.client_evicted - s0.client_evicted, 6);
  close_all();
  run_loop(&fx->loop);
  assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_CLIENT), 70);
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    assert_string_equal(attr_str(d, "error.type"), "timeout");
    assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  }
  uvotel_dns_stats_t s2 = stats();
  assert_int_equal(s2.client_queries - s0.client_queries, 70);
  assert_int_equal(s2.client_unanswered - s0.client_unanswered, 70);
  assert_int_equal(s2.client_answered - s0.client_answered, 0);
  assert_int_equal(s2.client_evicted - s0.client_evicted, 6);
}

/* A send that fails in its callback (broadcast without UV_UDP_BROADCAST: EACCES) ends its
 * query with libuv's error, not as "timeout". */
static void test_udp_client_send_fails(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 0, 0, 0);
  struct sockaddr_in bcast;
  assert_int_equal(uv_ip4_addr("255.255.255.255", 53, &bcast), 0);
  static char m[64];
  size_t n = query(m, 0x0404, "fail.example", 1);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  int r = uvotel_udp_send(&g_u.creq[0], &g_u.client, &b, 1, (const struct sockaddr *)&bcast, NULL);
  assert_int_equal(r, 0); /* libuv reports the error in the send callback */
  assert_int_equal(uv_run(&fx->loop, UV_RUN_NOWAIT) >= 0, 1);
  close_all();
  run_loop(&fx->loop);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "error.type"), "EACCES"); /* broadcast not enabled */
}

/* IPv6: a responder on ::1 answers; the CLIENT span's server.address is "::1", matched by the
 * IPv6 peer. Skipped where the host has no IPv6 loopback. */
static uv_udp_t g_r6, g_c6;
static uv_udp_send_t g_r6req, g_c6req;
static char g_r6buf[512];
static int g_c6got;

static void on_r6(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                  unsigned flags) {
  (void)flags;
  if (nread < 12 || addr == NULL) return;
  memcpy(g_r6buf, buf->base, (size_t)nread);
  g_r6buf[2] = (char)(g_r6buf[2] | 0x80);
  uv_buf_t b = uv_buf_init(g_r6buf, (unsigned)nread);
  assert_int_equal(uv_udp_send(&g_r6req, h, &b, 1, addr, NULL), 0);
}

static void on_c6(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                  unsigned flags) {
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_c6got++;
  uvotel_close((uv_handle_t *)h, u_closed);
  uv_close((uv_handle_t *)&g_r6, u_closed);
}

static void test_udp_client_ipv6(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  memset(&g_u, 0, sizeof g_u);
  g_c6got = 0;
  struct sockaddr_in6 a;
  assert_int_equal(uv_ip6_addr("::1", 0, &a), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_r6), 0);
  if (uv_udp_bind(&g_r6, (const struct sockaddr *)&a, 0) != 0) {
    uv_close((uv_handle_t *)&g_r6, NULL);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    skip(); /* no IPv6 loopback here */
  }
  int len = sizeof a;
  assert_int_equal(uv_udp_getsockname(&g_r6, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(uv_udp_recv_start(&g_r6, u_alloc, on_r6), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_c6), 0);
  struct sockaddr_in6 c;
  assert_int_equal(uv_ip6_addr("::1", 0, &c), 0);
  assert_int_equal(uv_udp_bind(&g_c6, (const struct sockaddr *)&c, 0), 0); /* else: IPv4 */
  assert_int_equal(uvotel_udp_recv_start(&g_c6, u_alloc, on_c6), 0);
  static char m[64];
  size_t n = query(m, 0x0a0a, "six.example", 28);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  assert_int_equal(uvotel_udp_send(&g_c6req, &g_c6, &b, 1, (const struct sockaddr *)&a, NULL), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_c6got, 1);
  assert_int_equal(g_u.closed, 2);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "server.address"), "::1");
  assert_int_equal(attr_int(d, "server.port"), ntohs(a.sin6_port));
  assert_null(attr_str(d, "error.type")); /* answered, not closed unanswered */
}

/* A query to a multicast group (mDNS) makes no span: other hosts answer it, if any. The
 * socket sends through the loopback interface only. */
static void test_udp_client_multicast_skipped(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 0, 0, 0);
  struct sockaddr_in lo, group;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &lo), 0);
  assert_int_equal(uv_udp_bind(&g_u.client, (const struct sockaddr *)&lo, 0), 0);
  assert_int_equal(uv_udp_set_multicast_interface(&g_u.client, "127.0.0.1"), 0);
  assert_int_equal(uv_udp_set_multicast_loop(&g_u.client, 0), 0);
  assert_int_equal(uv_ip4_addr("224.0.0.251", 5353, &group), 0);
  static char m[64];
  size_t n = query(m, 0, "printer.local", 12);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  (void)uvotel_udp_send(&g_u.creq[0], &g_u.client, &b, 1, (const struct sockaddr *)&group, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_NOWAIT) >= 0, 1);
  close_all();
  run_loop(&fx->loop);
  assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_CLIENT), 0);
}

/* ---- UDP server: a response whose send fails ----
 * A wrapped server answers a raw peer's query in its receive callback; the answer's send is
 * made to fail: asynchronously (a datagram over the IPv4 maximum: EMSGSIZE in the send
 * callback), at once (uv_udp_send without an address on an unbound peer: EDESTADDRREQ), or by
 * uv_udp_try_send (EMSGSIZE). The query's SERVER span has status ERROR and error.type. */
enum { SV_OK, SV_ASYNC_BIG, SV_SYNC_NOADDR, SV_TRY_BIG, SV_CLOSE_AFTER_SEND };

typedef struct sv_s {
  uv_udp_t server, peer;
  uv_udp_send_t sreq, preq;
  struct sockaddr_in saddr;
  int mode;
  int rc;     /* what the send call returned */
  int status; /* the send callback's status (1: not called) */
  int closed;
} sv_t;

static sv_t g_sv;
static char g_sv_big[70000];

static void sv_closed(uv_handle_t *h) {
  (void)h;
  g_sv.closed++;
}

static void sv_close(void) {
  uvotel_close((uv_handle_t *)&g_sv.server, sv_closed);
  uv_close((uv_handle_t *)&g_sv.peer, sv_closed);
}

static void sv_sent(uv_udp_send_t *req, int status) {
  (void)req;
  g_sv.status = status;
  if (g_sv.mode != SV_CLOSE_AFTER_SEND) sv_close();
}

static void on_sv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                  unsigned flags) {
  (void)flags;
  if (nread < 12 || addr == NULL) return;
  static char reply[512];
  memcpy(reply, buf->base, (size_t)nread);
  reply[2] = (char)(reply[2] | 0x80);
  uv_buf_t b = uv_buf_init(reply, (unsigned)nread);
  if (g_sv.mode == SV_ASYNC_BIG || g_sv.mode == SV_TRY_BIG) {
    memset(g_sv_big, 0, sizeof g_sv_big);
    memcpy(g_sv_big, reply, (size_t)nread); /* the answer, then zeros past the UDP maximum */
    b = uv_buf_init(g_sv_big, sizeof g_sv_big);
  }
  switch (g_sv.mode) {
    case SV_OK:
    case SV_ASYNC_BIG:
      g_sv.rc = uvotel_udp_send(&g_sv.sreq, h, &b, 1, addr, sv_sent);
      break;
    case SV_CLOSE_AFTER_SEND: /* closed at once: the send's callback runs during the close */
      g_sv.rc = uvotel_udp_send(&g_sv.sreq, h, &b, 1, addr, sv_sent);
      sv_close();
      break;
    case SV_SYNC_NOADDR: /* the socket is not connected: refused before anything is queued */
      g_sv.rc = uvotel_udp_send(&g_sv.sreq, h, &b, 1, NULL, sv_sent);
      sv_close();
      break;
    default:
      g_sv.rc = uvotel_udp_try_send(h, &b, 1, addr);
      sv_close();
      break;
  }
}

static void sv_run(fx_t *fx, unsigned cats, int mode) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  o.flags = UVOTEL_AUTO_SPANS_ROOTS;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  memset(&g_sv, 0, sizeof g_sv);
  g_sv.mode = mode;
  g_sv.status = 1;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &g_sv.saddr), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_sv.server), 0);
  assert_int_equal(uv_udp_bind(&g_sv.server, (const struct sockaddr *)&g_sv.saddr, 0), 0);
  int len = sizeof g_sv.saddr;
  assert_int_equal(uv_udp_getsockname(&g_sv.server, (struct sockaddr *)&g_sv.saddr, &len), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_sv.server, u_alloc, on_sv), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_sv.peer), 0);
  static char m[64];
  size_t n = query(m, 0x5151, "fail.example", 1);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  assert_int_equal(
      uv_udp_send(&g_sv.preq, &g_sv.peer, &b, 1, (const struct sockaddr *)&g_sv.saddr, NULL), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_sv.closed, 2);
}

static const uvotel_span_data_t *server_span(void) {
  assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_SERVER), 1);
  for (size_t i = 0; i < uvotel_memory_exporter_count(g_fx.mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(g_fx.mem, i);
    if (uvotel_span_data_kind(d) == UVOTEL_SPAN_KIND_SERVER) return d;
  }
  return NULL;
}

/* The control: the same exchange with a send that works has no error. */
static void test_udp_server_send_ok(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS, SV_OK);
  assert_int_equal(g_sv.rc, 0);
  assert_int_equal(g_sv.status, 0);
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_UNSET);
  assert_null(attr_str(d, "error.type"));
  assert_string_equal(attr_str(d, "dns.question.name"), "fail.example");
}

static void test_udp_server_send_fails_async(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS, SV_ASYNC_BIG);
  assert_int_equal(g_sv.rc, 0);
  assert_int_equal(g_sv.status, UV_EMSGSIZE);
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(d, "error.type"), "EMSGSIZE");
}

/* With the udp category on too, the send has its own "udp send" span: both say the error, and
 * the query's span (the send's parent) ends with the send, not before. */
static void test_udp_server_send_fails_async_udp_span(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS | UVOTEL_INSTRUMENT_UDP, SV_ASYNC_BIG);
  assert_int_equal(g_sv.status, UV_EMSGSIZE);
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(d, "error.type"), "EMSGSIZE");
  const uvotel_span_data_t *u = NULL;
  for (size_t i = 0; i < uvotel_memory_exporter_count(g_fx.mem); i++) {
    const uvotel_span_data_t *x = uvotel_memory_exporter_get(g_fx.mem, i);
    if (uvotel_span_data_kind(x) == UVOTEL_SPAN_KIND_CLIENT) u = x;
  }
  assert_non_null(u); /* the "udp send" span */
  assert_string_equal(attr_str(u, "error.type"), "EMSGSIZE");
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(u);
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  assert_memory_equal(&pid, &sc.span_id, sizeof pid);
  assert_true(uvotel_span_data_end_unix_ns(d) >= uvotel_span_data_end_unix_ns(u));
}

/* The socket closed right after the answer was handed to libuv (the udp category on, so the
 * query span is held for the send): the send still completes (its callback runs during the
 * close) and its outcome, not the close, decides the query's status. */
static void test_udp_server_closed_while_sending(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS | UVOTEL_INSTRUMENT_UDP, SV_CLOSE_AFTER_SEND);
  assert_int_equal(g_sv.rc, 0);
  assert_int_equal(g_sv.status, 0); /* sent before the close */
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_UNSET);
  assert_null(attr_str(d, "error.type"));
  assert_int_equal(attr_bool(d, "uvotel.dns.response_seen"), -1);
}

static void test_udp_server_send_fails_sync(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS | UVOTEL_INSTRUMENT_UDP, SV_SYNC_NOADDR);
  assert_int_equal(g_sv.rc, UV_EDESTADDRREQ);
  assert_int_equal(g_sv.status, 1); /* no callback for a call that failed */
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(d, "error.type"), "EDESTADDRREQ");
  assert_int_equal(attr_bool(d, "uvotel.dns.response_seen"), -1);
}

static void test_udp_server_try_send_fails(void **state) {
  sv_run(*state, UVOTEL_INSTRUMENT_DNS, SV_TRY_BIG);
  assert_int_equal(g_sv.rc, UV_EMSGSIZE);
  const uvotel_span_data_t *d = server_span();
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(d, "error.type"), "EMSGSIZE");
}

/* A client query whose send is refused at once (uv_udp_send without an address on a socket
 * that is not connected; uv_udp_try_send to the broadcast address without UV_UDP_BROADCAST)
 * still gets its CLIENT span, ended with the error, counted unanswered. */
static void test_udp_client_send_fails_sync(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 0, 0, 0);
  uvotel_dns_stats_t s0 = stats();
  static char m[2][64];
  size_t n = query(m[0], 0x0606, "noaddr.example", 1);
  uv_buf_t b = uv_buf_init(m[0], (unsigned)n);
  assert_int_equal(uvotel_udp_send(&g_u.creq[0], &g_u.client, &b, 1, NULL, NULL), UV_EDESTADDRREQ);
  struct sockaddr_in bcast;
  assert_int_equal(uv_ip4_addr("255.255.255.255", 53, &bcast), 0);
  n = query(m[1], 0x0707, "bcast.example", 28);
  b = uv_buf_init(m[1], (unsigned)n);
  assert_int_equal(uvotel_udp_try_send(&g_u.client, &b, 1, (const struct sockaddr *)&bcast),
                   UV_EACCES);
  close_all();
  run_loop(&fx->loop);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "dns.question.name"), "noaddr.example");
  assert_string_equal(attr_str(d, "error.type"), "EDESTADDRREQ");
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  d = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "error.type"), "EACCES");
  assert_string_equal(attr_str(d, "server.address"), "255.255.255.255");
  uvotel_dns_stats_t s1 = stats();
  assert_int_equal(s1.client_queries - s0.client_queries, 2);
  assert_int_equal(s1.client_unanswered - s0.client_unanswered, 2);
}

/* A forwarder (wrapped): the query it receives is a SERVER span, current in its receive
 * callback, so the upstream query it sends from there is a CLIENT span under it. */
static uv_udp_t g_fwd, g_up, g_stub;
static uv_udp_send_t g_fwd_req, g_stub_req;
static char g_fwd_buf[512];

static void on_upstream(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                        const struct sockaddr *addr, unsigned flags) {
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_u.got++;
  uvotel_close((uv_handle_t *)h, u_closed);
  uvotel_close((uv_handle_t *)&g_fwd, u_closed);
  uv_close((uv_handle_t *)&g_stub, u_closed);
  close_all();
}

static void on_forwarder(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  memcpy(g_fwd_buf, buf->base, (size_t)nread);
  uv_buf_t b = uv_buf_init(g_fwd_buf, (unsigned)nread);
  assert_int_equal(
      uvotel_udp_send(&g_fwd_req, &g_up, &b, 1, (const struct sockaddr *)&g_u.raddr, NULL), 0);
}

static void test_udp_forwarder_parent(void **state) {
  fx_t *fx = *state;
  enable(0);
  udp_setup(&fx->loop, 1, 0, 0);
  struct sockaddr_in f;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &f), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_fwd), 0);
  assert_int_equal(uv_udp_bind(&g_fwd, (const struct sockaddr *)&f, 0), 0);
  int len = sizeof f;
  assert_int_equal(uv_udp_getsockname(&g_fwd, (struct sockaddr *)&f, &len), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_fwd, u_alloc, on_forwarder), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_up), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_up, u_alloc, on_upstream), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_stub), 0);
  static char m[64];
  size_t n = query(m, 0x0808, "fwd.example", 1);
  uv_buf_t b = uv_buf_init(m, (unsigned)n);
  assert_int_equal(uv_udp_send(&g_stub_req, &g_stub, &b, 1, (const struct sockaddr *)&f, NULL), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_u.closed, 6);
  assert_int_equal(g_u.got, 1);
  assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_SERVER), 1);
  assert_int_equal(count_named("dns query A", UVOTEL_SPAN_KIND_CLIENT), 1);
  const uvotel_span_data_t *srv = NULL, *cli = NULL;
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    if (uvotel_span_data_kind(d) == UVOTEL_SPAN_KIND_SERVER) srv = d;
    if (uvotel_span_data_kind(d) == UVOTEL_SPAN_KIND_CLIENT) cli = d;
  }
  uvotel_span_context_t sc = uvotel_span_data_context(srv), cc = uvotel_span_data_context(cli);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(cli);
  assert_memory_equal(&pid, &sc.span_id, sizeof pid);
  assert_memory_equal(&cc.trace_id, &sc.trace_id, sizeof sc.trace_id);
  assert_string_equal(attr_str(cli, "dns.question.name"), "fwd.example");
}

/* A connected socket whose peer has no listener: the kernel's ECONNREFUSED reaches the
 * receive callback, and the query ends with it (not as "timeout"). */
static int g_refused;

static void on_refused(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags) {
  (void)h;
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread < 0 && !g_refused) {
    g_refused = (int)nread;
    close_all();
  }
}

static void test_udp_client_refused(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 0, 0, 0);
  g_refused = 0;
  /* a port nothing listens on: bind one, note it, close it */
  uv_udp_t tmp;
  struct sockaddr_in dead;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &dead), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &tmp), 0);
  assert_int_equal(uv_udp_bind(&tmp, (const struct sockaddr *)&dead, 0), 0);
  int len = sizeof dead;
  assert_int_equal(uv_udp_getsockname(&tmp, (struct sockaddr *)&dead, &len), 0);
  uv_close((uv_handle_t *)&tmp, u_closed);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_NOWAIT) >= 0, 1);
  assert_int_equal(uvotel_udp_connect(&g_u.client, (const struct sockaddr *)&dead), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_refused), 0);
  static char m[64];
  size_t n = query(m, 0x0909, "refused.example", 1);
  client_send(0, m, n, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_u.closed, 4);
  assert_int_equal(g_refused, UV_ECONNREFUSED);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "error.type"), "ECONNREFUSED");
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
}

/* Not queries: a truncated one, a single byte, a response, an opcode other than QUERY. No
 * span, and the responder receives exactly what was sent. */
static void test_udp_client_malformed(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  udp_setup(&fx->loop, 0, 0, 0);
  assert_int_equal(uvotel_udp_recv_start(&g_u.client, u_alloc, on_client), 0);
  static char m[4][64];
  size_t n[4];
  n[0] = query(m[0], 0x0505, "cut.example", 1) - 8;
  m[1][0] = 'x';
  n[1] = 1;
  n[2] = query(m[2], 0x0606, "resp.example", 1);
  m[2][2] = (char)(m[2][2] | 0x80);
  n[3] = query(m[3], 0x0707, "notify.example", 6);
  m[3][2] = (char)(m[3][2] | (4 << 3));
  for (int i = 0; i < 4; i++) client_send(i, m[i], n[i], &g_u.raddr);
  while (g_u.nr < 4) assert_int_equal(uv_run(&fx->loop, UV_RUN_ONCE) >= 0, 1);
  close_all();
  run_loop(&fx->loop);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(g_u.nrx[i], n[i]);
    assert_memory_equal(g_u.rx[i], m[i], n[i]);
  }
  assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_CLIENT), 0);
}

/* ---- TCP ---- */

typedef struct tcp_s {
  uv_tcp_t listener, server_conn, client;
  uv_connect_t creq;
  uv_write_t w[8];
  int nw;
  int wrapped_server; /* the server side uses the wrappers (else the client does) */
  char srx[2048];     /* what the server read */
  size_t nsrx;
  char crx[2048]; /* what the client read */
  size_t ncrx;
  const char *send; /* what the client sends, in pieces of cuts[] */
  size_t nsend;
  size_t cuts[8];
  int ncuts;
  int answer;               /* the server answers the queries it frames */
  int shut_after;           /* the client shuts its side down after writing */
  size_t sdone;             /* bytes of srx the server has answered */
  uvotel_span_id_t cur[16]; /* the span current in each server read callback (zero: none) */
  int ncur;
  uv_shutdown_t sreq;
  int closed;
  uvotel_span_t *parent; /* made current around the client's writes */
  size_t answer_when;    /* the server answers only once it has read this many bytes (0: any) */
  int mark;              /* spans "after write" when the server's write returned, "write cb" in
                            its callback (the tracer's clock orders them against the others) */
  int refuse;            /* the side that writes answers (or queries) first shuts down, then:
                            1 uvotel_write, 2 uvotel_write2 with a send handle (TCP: UV_EINVAL),
                            3 uvotel_try_write; libuv refuses each at once */
  int refused_err;       /* what that write returned */
  int ended_at_refusal;  /* a "dns query" span was exported when it returned */
  uv_shutdown_t ssreq;
} tcp_t;

static tcp_t g_t;

static void t_closed(uv_handle_t *h) {
  (void)h;
  g_t.closed++;
}

static void t_close(uv_handle_t *h, int wrapped) {
  if (wrapped) {
    uvotel_close(h, t_closed);
  } else {
    uv_close(h, t_closed);
  }
}

static void t_wrote(uv_write_t *req, int status) {
  (void)status;
  if (g_t.mark && req->handle == (uv_stream_t *)&g_t.server_conn) {
    uvotel_span_end(uvotel_span_start(g_fx.tracer, "write cb", NULL));
  }
}

static void t_write(uv_stream_t *s, int wrapped, const char *d, size_t n) {
  uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
  assert_true(g_t.nw < 8);
  uv_write_t *w = &g_t.w[g_t.nw++];
  assert_int_equal(wrapped ? uvotel_write(w, s, &b, 1, t_wrote) : uv_write(w, s, &b, 1, t_wrote),
                   0);
}

static void t_shut_quiet(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
}

/* g_t.refuse: write d (n bytes) on s the way it says, which libuv refuses at once (shut down
 * first, or a send handle on TCP), then s is shut down (shut_cb). */
static void t_write_refused(uv_stream_t *s, const char *d, size_t n, uv_shutdown_cb shut_cb) {
  if (g_t.refuse != 2) assert_int_equal(uv_shutdown(&g_t.ssreq, s, shut_cb), 0);
  uv_buf_t b = uv_buf_init((char *)d, (unsigned)n);
  uv_write_t *w = &g_t.w[g_t.nw++];
  if (g_t.refuse == 1) {
    g_t.refused_err = uvotel_write(w, s, &b, 1, t_wrote);
  } else if (g_t.refuse == 2) {
    g_t.refused_err = uvotel_write2(w, s, &b, 1, (uv_stream_t *)&g_t.listener, t_wrote);
  } else {
    g_t.refused_err = uvotel_try_write(s, &b, 1);
  }
  g_t.ended_at_refusal = count_named("dns query", UVOTEL_SPAN_KIND_SERVER) +
                             count_named("dns query", UVOTEL_SPAN_KIND_CLIENT) >
                         0;
  if (g_t.refuse == 2) assert_int_equal(uv_shutdown(&g_t.ssreq, s, shut_cb), 0);
}

/* The server frames what it read and answers each query (NXDOMAIN for names with "missing"),
 * all answers of one read in one write. */
static void on_t_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread < 0) {
    t_close((uv_handle_t *)s, g_t.wrapped_server);
    t_close((uv_handle_t *)&g_t.listener, g_t.wrapped_server);
    return;
  }
  if (g_t.wrapped_server && g_t.ncur < 16) {
    uvotel_span_t *cur = uvotel_current_span();
    uvotel_span_context_t sc = uvotel_span_context(cur);
    if (cur != NULL && uvotel_span_context_is_valid(&sc)) g_t.cur[g_t.ncur] = sc.span_id;
    g_t.ncur++;
  }
  memcpy(g_t.srx + g_t.nsrx, buf->base, (size_t)nread);
  g_t.nsrx += (size_t)nread;
  if (!g_t.answer || g_t.nsrx < g_t.answer_when) return;
  static char out[8][2048];
  static int k;
  char *o = out[k++ & 7];
  size_t no = 0;
  while (g_t.nsrx - g_t.sdone >= 2) {
    const char *q = g_t.srx + g_t.sdone;
    size_t l = (size_t)(unsigned char)q[0] << 8 | (unsigned char)q[1];
    if (g_t.nsrx - g_t.sdone < 2 + l) break;
    memcpy(o + no, q, 2 + l);
    o[no + 4] = (char)(o[no + 4] | 0x80);
    o[no + 5] = (char)(memmem(q, 2 + l, "\7missing", 8) != NULL ? 3 : 0);
    no += 2 + l;
    g_t.sdone += 2 + l;
  }
  if (no == 0) return;
  if (g_t.refuse) {
    t_write_refused(s, o, no, t_shut_quiet);
    return;
  }
  t_write(s, g_t.wrapped_server, o, no);
  if (g_t.mark) uvotel_span_end(uvotel_span_start(g_fx.tracer, "after write", NULL));
}

static void t_alloc(uv_handle_t *h, size_t s, uv_buf_t *buf) {
  (void)h;
  (void)s;
  static char mem[2048];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_t_connection(uv_stream_t *l, int status) {
  assert_int_equal(status, 0);
  int w = g_t.wrapped_server;
  assert_int_equal(
      w ? uvotel_tcp_init(l->loop, &g_t.server_conn) : uv_tcp_init(l->loop, &g_t.server_conn), 0);
  uv_stream_t *c = (uv_stream_t *)&g_t.server_conn;
  assert_int_equal(w ? uvotel_accept(l, c) : uv_accept(l, c), 0);
  assert_int_equal(w ? uvotel_read_start(c, t_alloc, on_t_server_read)
                     : uv_read_start(c, t_alloc, on_t_server_read),
                   0);
}

static size_t answers_in(const char *d, size_t n) {
  size_t off = 0, k = 0;
  while (n - off >= 2) {
    size_t l = (size_t)(unsigned char)d[off] << 8 | (unsigned char)d[off + 1];
    if (n - off < 2 + l) break;
    off += 2 + l;
    k++;
  }
  return k;
}

static size_t g_expect_answers;

static void on_t_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    memcpy(g_t.crx + g_t.ncrx, buf->base, (size_t)nread);
    g_t.ncrx += (size_t)nread;
  }
  if (nread < 0 || answers_in(g_t.crx, g_t.ncrx) >= g_expect_answers) {
    t_close((uv_handle_t *)s, !g_t.wrapped_server);
  }
}

static void on_t_shut(uv_shutdown_t *req, int status) {
  (void)status;
  t_close((uv_handle_t *)req->handle, 0);
}

static void on_t_refused_shut(uv_shutdown_t *req, int status) {
  (void)status;
  t_close((uv_handle_t *)req->handle, 1);
}

static void on_t_connect(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  int w = !g_t.wrapped_server;
  if (g_t.refuse && w) { /* the wrapped client's query is refused, then it closes */
    t_write_refused(req->handle, g_t.send, g_t.nsend, on_t_refused_shut);
    return;
  }
  uvotel_scope_t sc;
  if (g_t.parent != NULL) assert_int_equal(uvotel_span_enter(g_t.parent, &sc), 0);
  size_t off = 0;
  for (int i = 0; i <= g_t.ncuts; i++) {
    size_t end = i < g_t.ncuts ? g_t.cuts[i] : g_t.nsend;
    if (end > off) t_write(req->handle, w, g_t.send + off, end - off);
    off = end;
  }
  if (g_t.parent != NULL) assert_int_equal(uvotel_scope_exit(&sc), 0);
  if (g_t.shut_after) {
    assert_int_equal(uv_shutdown(&g_t.sreq, req->handle, on_t_shut), 0);
    return;
  }
  assert_int_equal(w ? uvotel_read_start(req->handle, t_alloc, on_t_client_read)
                     : uv_read_start(req->handle, t_alloc, on_t_client_read),
                   0);
}

static void tcp_run(uv_loop_t *loop) {
  int w = g_t.wrapped_server;
  struct sockaddr_in a;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
  assert_int_equal(w ? uvotel_tcp_init(loop, &g_t.listener) : uv_tcp_init(loop, &g_t.listener), 0);
  assert_int_equal(uv_tcp_bind(&g_t.listener, (const struct sockaddr *)&a, 0), 0);
  uv_stream_t *l = (uv_stream_t *)&g_t.listener;
  assert_int_equal(w ? uvotel_listen(l, 4, on_t_connection) : uv_listen(l, 4, on_t_connection), 0);
  int len = sizeof a;
  assert_int_equal(uv_tcp_getsockname(&g_t.listener, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(w ? uv_tcp_init(loop, &g_t.client) : uvotel_tcp_init(loop, &g_t.client), 0);
  assert_int_equal(
      w ? uv_tcp_connect(&g_t.creq, &g_t.client, (const struct sockaddr *)&a, on_t_connect)
        : uvotel_tcp_connect(&g_t.creq, &g_t.client, (const struct sockaddr *)&a, on_t_connect),
      0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_t.closed, 3);
  /* what each side read is what the other wrote (a refused query was never sent) */
  if (g_t.refuse && !g_t.wrapped_server) return;
  assert_int_equal(g_t.nsrx, g_t.nsend);
  assert_memory_equal(g_t.srx, g_t.send, g_t.nsend);
}

/* three framed queries; returns the length */
static size_t three_queries(char *m) {
  size_t n = 0;
  static const char *const names[] = {"one.example", "two.example", "missing.example"};
  static const unsigned types[] = {1, 28, 15};
  for (int i = 0; i < 3; i++) {
    size_t l = query(m + n + 2, 0x2000u + (unsigned)i, names[i], types[i]);
    m[n] = (char)(l >> 8);
    m[n + 1] = (char)l;
    n += 2 + l;
  }
  return n;
}

/* An accepted connection with three queries, written in pieces cut at every offset from 1
 * to 40 (inside the first length prefix, the header, the name, the next prefix): three
 * SERVER spans each time, NXDOMAIN on the third. */
static void test_tcp_server_spans(void **state) {
  fx_t *fx = *state;
  enable(0);
  static char m[512];
  size_t n = three_queries(m);
  for (size_t cut = 1; cut <= 40; cut += 3) {
    memset(&g_t, 0, sizeof g_t);
    g_t.wrapped_server = 1;
    g_t.answer = 1;
    g_t.send = m;
    g_t.nsend = n;
    g_t.cuts[0] = cut;
    g_t.cuts[1] = cut + 31;
    g_t.ncuts = 2;
    g_expect_answers = 3;
    tcp_run(&fx->loop);
    assert_int_equal(answers_in(g_t.crx, g_t.ncrx), 3);
    assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_SERVER), 3);
    const uvotel_span_data_t *a = uvotel_memory_exporter_find(fx->mem, "dns query A");
    const uvotel_span_data_t *q6 = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
    const uvotel_span_data_t *mx = uvotel_memory_exporter_find(fx->mem, "dns query MX");
    assert_non_null(a);
    assert_non_null(q6);
    assert_non_null(mx);
    assert_string_equal(attr_str(a, "dns.question.name"), "one.example");
    assert_string_equal(attr_str(a, "network.transport"), "tcp");
    assert_string_equal(attr_str(a, "client.address"), "127.0.0.1");
    assert_null(attr_str(a, "error.type"));
    assert_string_equal(attr_str(mx, "error.type"), "NXDOMAIN");
    assert_int_equal(uvotel_span_data_status(mx, NULL), UVOTEL_STATUS_ERROR);
    assert_int_equal(attr_bool(mx, "uvotel.dns.response_seen"), -1); /* answered */
    assert_true(uvotel_span_data_start_unix_ns(a) <= uvotel_span_data_end_unix_ns(a));
    /* a span current in a read callback is the one query that read completed */
    for (int r = 0; r < g_t.ncur && r < 16; r++) {
      static const uvotel_span_id_t zero;
      if (memcmp(&g_t.cur[r], &zero, sizeof zero) == 0) continue;
      int found = 0;
      const uvotel_span_data_t *all[] = {a, q6, mx};
      for (int j = 0; j < 3; j++) {
        uvotel_span_context_t c = uvotel_span_data_context(all[j]);
        found |= memcmp(&c.span_id, &g_t.cur[r], sizeof zero) == 0;
      }
      assert_true(found);
    }
    uvotel_memory_exporter_reset(fx->mem);
    assert_int_equal(uvotel_loop_close(&fx->loop), 0);
  }
}

/* DNS over TCP: responses whose write fails. The raw client writes two queries and resets the
 * connection; the wrapped server writes both answers in one write only when its read sees the
 * reset, so the write fails (EPIPE or ECONNRESET, in the write callback): both queries' SERVER
 * spans have status ERROR and that error as error.type (the first too, not only the last). */
typedef struct tf_s {
  uv_tcp_t listener, conn, client;
  uv_connect_t creq;
  uv_write_t cw, sw;
  char q[128];
  size_t nq;
  char rx[256];
  size_t nrx;
  int status; /* the server's write callback (1: not called) */
  int closed;
} tf_t;

static tf_t g_tf;

static void tf_closed(uv_handle_t *h) {
  (void)h;
  g_tf.closed++;
}

static void tf_written(uv_write_t *req, int status) {
  (void)req;
  g_tf.status = status;
  uvotel_close((uv_handle_t *)&g_tf.conn, tf_closed);
  uvotel_close((uv_handle_t *)&g_tf.listener, tf_closed);
}

static void tf_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    memcpy(g_tf.rx + g_tf.nrx, buf->base, (size_t)nread);
    g_tf.nrx += (size_t)nread;
    return;
  }
  if (nread == 0) return;
  /* the peer is gone: the answer (the query with QR set) cannot be delivered */
  assert_int_equal(g_tf.nrx, g_tf.nq);
  static char a[128];
  memcpy(a, g_tf.rx, g_tf.nrx);
  for (size_t off = 0; off + 2 < g_tf.nrx;
       off += 2 + ((size_t)(unsigned char)a[off] << 8 | (unsigned char)a[off + 1])) {
    a[off + 4] = (char)(a[off + 4] | 0x80);
  }
  uv_buf_t b = uv_buf_init(a, (unsigned)g_tf.nrx);
  (void)uvotel_read_stop(s);
  assert_int_equal(uvotel_write(&g_tf.sw, s, &b, 1, tf_written), 0);
}

static void tf_connection(uv_stream_t *l, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_tcp_init(l->loop, &g_tf.conn), 0);
  assert_int_equal(uvotel_accept(l, (uv_stream_t *)&g_tf.conn), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_tf.conn, t_alloc, tf_server_read), 0);
}

static void tf_client_wrote(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uv_tcp_close_reset((uv_tcp_t *)req->handle, tf_closed), 0);
}

static void tf_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init(g_tf.q, (unsigned)g_tf.nq);
  assert_int_equal(uv_write(&g_tf.cw, req->handle, &b, 1, tf_client_wrote), 0);
}

static void test_tcp_server_write_fails(void **state) {
  fx_t *fx = *state;
  enable(0);
  memset(&g_tf, 0, sizeof g_tf);
  g_tf.status = 1;
  size_t l = query(g_tf.q + 2, 0x3131, "reset.example", 1);
  g_tf.q[0] = (char)(l >> 8);
  g_tf.q[1] = (char)l;
  g_tf.nq = l + 2;
  l = query(g_tf.q + g_tf.nq + 2, 0x3232, "reset.example", 28);
  g_tf.q[g_tf.nq] = (char)(l >> 8);
  g_tf.q[g_tf.nq + 1] = (char)l;
  g_tf.nq += l + 2;
  struct sockaddr_in a;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_tf.listener), 0);
  assert_int_equal(uv_tcp_bind(&g_tf.listener, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_tf.listener, 4, tf_connection), 0);
  int len = sizeof a;
  assert_int_equal(uv_tcp_getsockname(&g_tf.listener, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(uv_tcp_init(&fx->loop, &g_tf.client), 0);
  assert_int_equal(
      uv_tcp_connect(&g_tf.creq, &g_tf.client, (const struct sockaddr *)&a, tf_connected), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_tf.closed, 3);
  assert_true(g_tf.status < 0); /* the write failed */
  static const char *const names[] = {"dns query A", "dns query AAAA"};
  for (int i = 0; i < 2; i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, names[i]);
    assert_non_null(d);
    assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
    assert_string_equal(attr_str(d, "dns.question.name"), "reset.example");
    assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
    assert_string_equal(attr_str(d, "error.type"), uv_err_name(g_tf.status));
  }
}

/* One query in one write: the read that completes it runs its callback under its span. */
static void test_tcp_server_current(void **state) {
  fx_t *fx = *state;
  enable(0);
  static char m[512];
  (void)three_queries(m);
  memset(&g_t, 0, sizeof g_t);
  g_t.wrapped_server = 1;
  g_t.answer = 1;
  g_t.send = m;
  g_t.nsend = 2 + (size_t)m[1];
  g_expect_answers = 1;
  tcp_run(&fx->loop);
  const uvotel_span_data_t *a = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(a);
  uvotel_span_context_t c = uvotel_span_data_context(a);
  assert_true(g_t.ncur >= 1);
  assert_memory_equal(&g_t.cur[0], &c.span_id, sizeof c.span_id);
}

/* Three answers in one write: every SERVER span ends when that write completes (after the
 * write call returned, before its callback), not only the last. */
static void test_tcp_server_answers_end_with_their_write(void **state) {
  fx_t *fx = *state;
  enable(0);
  static char m[512];
  size_t n = three_queries(m);
  memset(&g_t, 0, sizeof g_t);
  g_t.wrapped_server = 1;
  g_t.answer = 1;
  g_t.answer_when = n; /* all three answers in one write */
  g_t.mark = 1;
  g_t.send = m;
  g_t.nsend = n;
  g_expect_answers = 3;
  tcp_run(&fx->loop);
  assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_SERVER), 3);
  const uvotel_span_data_t *after = uvotel_memory_exporter_find(fx->mem, "after write");
  const uvotel_span_data_t *cb = uvotel_memory_exporter_find(fx->mem, "write cb");
  assert_non_null(after);
  assert_non_null(cb);
  static const char *const names[] = {"dns query A", "dns query AAAA", "dns query MX"};
  for (int i = 0; i < 3; i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, names[i]);
    assert_non_null(d);
    assert_true(uvotel_span_data_end_unix_ns(d) >= uvotel_span_data_end_unix_ns(after));
    assert_true(uvotel_span_data_end_unix_ns(d) <= uvotel_span_data_start_unix_ns(cb));
    assert_int_equal(uvotel_span_data_status(d, NULL),
                     i == 2 ? UVOTEL_STATUS_ERROR : UVOTEL_STATUS_UNSET);
  }
}

/* A response write libuv refuses at once: after uv_shutdown (uvotel_write, uvotel_try_write:
 * UV_EPIPE) or with a send handle on TCP (uvotel_write2: UV_EINVAL). The query's SERVER span
 * ends then, status ERROR, error.type the error's name; it is not left for the close as
 * unanswered. */
static void test_tcp_server_write_refused(void **state) {
  fx_t *fx = *state;
  enable(0);
  static char m[512];
  (void)three_queries(m);
  static const int want[] = {0, UV_EPIPE, UV_EINVAL, UV_EPIPE};
  for (int mode = 1; mode <= 3; mode++) {
    memset(&g_t, 0, sizeof g_t);
    g_t.wrapped_server = 1;
    g_t.answer = 1;
    g_t.refuse = mode;
    g_t.send = m;
    g_t.nsend = 2 + (size_t)m[1]; /* the first query */
    g_expect_answers = 1;
    tcp_run(&fx->loop);
    assert_int_equal(g_t.refused_err, want[mode]);
    assert_true(g_t.ended_at_refusal);
    assert_int_equal(g_t.ncrx, 0); /* nothing reached the client */
    assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_SERVER), 1);
    const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
    assert_non_null(d);
    assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
    assert_string_equal(attr_str(d, "error.type"), uv_err_name(want[mode]));
    assert_int_equal(attr_bool(d, "uvotel.dns.response_seen"), -1);
    uvotel_memory_exporter_reset(fx->mem);
    assert_int_equal(uvotel_loop_close(&fx->loop), 0);
  }
}

/* A query write refused at once on a connection made with uvotel_tcp_connect: its CLIENT span
 * ends at once with the error (before, the refused bytes were never seen: no span). */
static void test_tcp_client_write_refused(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  static char m[512];
  size_t n = three_queries(m);
  static const int want[] = {0, UV_EPIPE, UV_EINVAL, UV_EPIPE};
  for (int mode = 1; mode <= 3; mode++) {
    memset(&g_t, 0, sizeof g_t);
    g_t.wrapped_server = 0;
    g_t.refuse = mode;
    g_t.send = m;
    g_t.nsend = n;
    tcp_run(&fx->loop);
    assert_int_equal(g_t.refused_err, want[mode]);
    assert_true(g_t.ended_at_refusal);
    assert_int_equal(g_t.nsrx, 0);
    assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_CLIENT), 3);
    for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
      const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
      assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
      assert_string_equal(attr_str(d, "error.type"), uv_err_name(want[mode]));
    }
    uvotel_memory_exporter_reset(fx->mem);
    assert_int_equal(uvotel_loop_close(&fx->loop), 0);
  }
}

/* A connection made with uvotel_tcp_connect: its queries (written under a parent, in two
 * writes cut inside the second query) get CLIENT spans under that parent, ended by their
 * responses; the one the server never answers ends at close as "timeout". */
static void test_tcp_client_spans(void **state) {
  fx_t *fx = *state;
  enable(0);
  static char m[512];
  size_t n = three_queries(m);
  memset(&g_t, 0, sizeof g_t);
  g_t.wrapped_server = 0;
  g_t.answer = 1;
  g_t.send = m;
  g_t.nsend = n;
  g_t.cuts[0] = 40;
  g_t.ncuts = 1;
  g_t.parent = uvotel_span_start(fx->tracer, "parent", NULL);
  g_expect_answers = 3;
  tcp_run(&fx->loop);
  uvotel_span_end(g_t.parent);
  assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_CLIENT), 3);
  const uvotel_span_data_t *p = uvotel_memory_exporter_find(fx->mem, "parent");
  uvotel_span_context_t pc = uvotel_span_data_context(p);
  static const char *const names[] = {"dns query A", "dns query AAAA", "dns query MX"};
  for (int i = 0; i < 3; i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, names[i]);
    assert_non_null(d);
    uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
    assert_memory_equal(&pid, &pc.span_id, sizeof pid);
    assert_string_equal(attr_str(d, "network.transport"), "tcp");
    assert_string_equal(attr_str(d, "server.address"), "127.0.0.1");
    if (i == 2) {
      assert_string_equal(attr_str(d, "error.type"), "NXDOMAIN");
    } else {
      assert_null(attr_str(d, "error.type"));
    }
  }
  uvotel_memory_exporter_reset(fx->mem);
  assert_int_equal(uvotel_loop_close(&fx->loop), 0);
}

static void on_t_silent_connect(uv_connect_t *req, int status) {
  on_t_connect(req, status);
  /* nothing will come back: close from here, the queries still waiting */
  t_close((uv_handle_t *)req->handle, 1);
}

static void test_tcp_client_unanswered(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  uvotel_dns_stats_t s0 = stats();
  static char m[512];
  size_t n = three_queries(m);
  memset(&g_t, 0, sizeof g_t);
  g_t.send = m;
  g_t.nsend = n;
  struct sockaddr_in a;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
  assert_int_equal(uv_tcp_init(&fx->loop, &g_t.listener), 0);
  assert_int_equal(uv_tcp_bind(&g_t.listener, (const struct sockaddr *)&a, 0), 0);
  assert_int_equal(uv_listen((uv_stream_t *)&g_t.listener, 4, on_t_connection), 0);
  int len = sizeof a;
  assert_int_equal(uv_tcp_getsockname(&g_t.listener, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_t.client), 0);
  assert_int_equal(
      uvotel_tcp_connect(&g_t.creq, &g_t.client, (const struct sockaddr *)&a, on_t_silent_connect),
      0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_t.closed, 3);
  assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_CLIENT), 3);
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    assert_string_equal(attr_str(d, "error.type"), "timeout");
  }
  uvotel_dns_stats_t s1 = stats();
  assert_int_equal(s1.client_unanswered - s0.client_unanswered, 3);
}

/* Streams that are not DNS over TCP, or stop being so: no spans (or none after the point it
 * went wrong), the same bytes read. */
static void test_tcp_malformed(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_AUTO_SPANS_ROOTS);
  static char good[512];
  size_t ng = three_queries(good);
  char bad_then[600];
  memcpy(bad_then, good, 2 + (size_t)good[1]);
  size_t nb = 2 + (size_t)good[1];
  memcpy(bad_then + nb, "\0\5hello", 7); /* a length under 12 after one good query */
  nb += 7;
  struct {
    const char *d;
    size_t n;
    size_t server_spans;
    uint64_t given_up;
  } cases[] = {
      {"\0\3abc", 5, 0, 0},                 /* declined: too short for a query */
      {"GET / HTTP/1.1\r\n\r\n", 18, 0, 0}, /* another protocol */
      {good + 2, ng - 2, 0, 0},             /* no length prefix */
      {bad_then, nb, 1, 1},                 /* claimed, then bad framing: given up */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uvotel_dns_stats_t s0 = stats();
    memset(&g_t, 0, sizeof g_t);
    g_t.wrapped_server = 1;
    g_t.send = cases[i].d;
    g_t.nsend = cases[i].n;
    g_t.shut_after = 1; /* the server reads it all, then EOF */
    tcp_run(&fx->loop);
    assert_int_equal(count_named("dns query", UVOTEL_SPAN_KIND_SERVER), cases[i].server_spans);
    if (cases[i].server_spans == 1) { /* its answer came after the give-up: not seen */
      const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
      assert_int_equal(attr_bool(d, "uvotel.dns.response_seen"), 0);
    }
    uvotel_dns_stats_t s1 = stats();
    assert_int_equal(s1.tcp_given_up - s0.tcp_given_up, cases[i].given_up);
    uvotel_memory_exporter_reset(fx->mem);
    assert_int_equal(uvotel_loop_close(&fx->loop), 0);
  }
}

static void test_stats_bad_input(void **state) {
  (void)state;
  assert_int_equal(uvotel_dns_stats(NULL), UVOTEL_EINVAL);
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var(); /* created once per process, on first use: not a leak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_udp_client_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_roots_rule, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_try_send_connected_retransmit, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_unanswered_and_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_send_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_ipv6, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_send_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_send_fails_async, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_send_fails_async_udp_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_closed_while_sending, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_send_fails_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_server_try_send_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_send_fails_sync, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_multicast_skipped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_forwarder_parent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_udp_client_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_server_spans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_server_answers_end_with_their_write, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_tcp_server_write_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_client_write_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_server_current, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_server_write_fails, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_client_spans, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_client_unanswered, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_malformed, setup, teardown),
      cmocka_unit_test(test_stats_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
