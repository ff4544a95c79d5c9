/* The protocol detector seam (uvotel/uv_protocols.h) with the wrappers over loopback: a user
 * detector claims a stream by its first bytes, sees exactly what is read and written, makes a
 * span current in the read callback and has it ended when the write completes; a stream it
 * declines is left alone; registration's bad inputs. And DNS over UDP: a query received by a
 * wrapped socket is a SERVER span, current in the receive callback, ended by the response. */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "spans_fixture.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_protocols.h"
#include "uvotel/uv_spans.h"

/* ---- a user detector for a line protocol: "PING <n>\n" answered by "PONG\n" ---- */

typedef struct ping_s {
  uvotel_tracer_t *tracer;
  uvotel_span_t *span; /* the open request */
  char rd[64], wr[64];
  size_t nrd, nwr;
} ping_t;

static int g_opened, g_closed, g_detect_calls;
static char g_last_seen[64]; /* what the last closed connection read, as the detector saw it */

static int ping_detect(void *arg, const char *data, size_t len) {
  assert_ptr_equal(arg, &g_opened);
  g_detect_calls++;
  if (len < 5) return memcmp(data, "PING ", len) == 0 ? UVOTEL_PROTOCOL_MORE : 0;
  return memcmp(data, "PING ", 5) == 0 ? UVOTEL_PROTOCOL_CLAIM : UVOTEL_PROTOCOL_DECLINE;
}

static void *ping_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  assert_non_null(stream);
  ping_t *p = calloc(1, sizeof *p);
  p->tracer = tracer;
  g_opened++;
  return p;
}

static int ping_read(void *conn, const char *data, size_t len, uvotel_span_t **current) {
  ping_t *p = conn;
  if (p->nrd + len > sizeof p->rd) return -1;
  memcpy(p->rd + p->nrd, data, len);
  p->nrd += len;
  if (p->span == NULL && memchr(p->rd, '\n', p->nrd) != NULL) {
    uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
    o.kind = UVOTEL_SPAN_KIND_SERVER;
    o.flags = UVOTEL_SPAN_ROOT;
    p->span = uvotel_span_start(p->tracer, "ping", &o);
  }
  *current = p->span;
  return 0;
}

static uvotel_span_t *ping_write(void *conn, const uv_buf_t bufs[], unsigned int nbufs) {
  ping_t *p = conn;
  for (unsigned i = 0; i < nbufs; i++) {
    if (p->nwr + bufs[i].len <= sizeof p->wr) {
      memcpy(p->wr + p->nwr, bufs[i].base, bufs[i].len);
      p->nwr += bufs[i].len;
    }
  }
  uvotel_span_t *s = p->span;
  p->span = NULL;
  return s;
}

static void ping_close(void *conn) {
  ping_t *p = conn;
  if (p->span != NULL) uvotel_span_end(p->span);
  snprintf(g_last_seen, sizeof g_last_seen, "%.*s|%.*s", (int)p->nrd, p->rd, (int)p->nwr, p->wr);
  free(p);
  g_closed++;
}

static const uvotel_protocol_ops_t k_ping = {.size = sizeof(uvotel_protocol_ops_t),
                                             .name = "ping",
                                             .detect = ping_detect,
                                             .open = ping_open,
                                             .read = ping_read,
                                             .write = ping_write,
                                             .close = ping_close};

/* ---- the server (wrapped) and a raw client ---- */

typedef struct net_s {
  uv_tcp_t server, conn, client;
  uv_connect_t creq;
  uv_write_t w, cw;
  const char *send;  /* what the client sends */
  const char *reply; /* what the server answers ("PONG\n" unless set) */
  int conn_span;     /* the connection callback starts (and ends) a span "conn work" */
  char got[64];      /* what the client got back */
  size_t ngot;
  uvotel_span_t *current_in_read;
  int closed, reads;
} net_t;

static net_t g_net;

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_net.closed++;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static char mem[4096];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread > 0) {
    g_net.reads++;
    g_net.current_in_read = uvotel_current_span();
    uv_buf_t b = uv_buf_init((char *)g_net.reply, (unsigned)strlen(g_net.reply));
    assert_int_equal(uvotel_write(&g_net.w, s, &b, 1, NULL), 0);
  } else if (nread < 0) {
    uvotel_close((uv_handle_t *)s, on_closed);
    uvotel_close((uv_handle_t *)&g_net.server, on_closed);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_tcp_init(server->loop, &g_net.conn), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&g_net.conn), 0);
  if (g_net.conn_span) uvotel_span_end(uvotel_span_start(g_fx.tracer, "conn work", NULL));
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_net.conn, alloc_cb, on_server_read), 0);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0 && g_net.ngot + (size_t)nread <= sizeof g_net.got) {
    memcpy(g_net.got + g_net.ngot, buf->base, (size_t)nread);
    g_net.ngot += (size_t)nread;
  }
  if (nread < 0 || g_net.ngot >= strlen(g_net.reply)) {
    uv_close((uv_handle_t *)s, on_closed);
  }
}

static void on_connect(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init((char *)g_net.send, (unsigned)strlen(g_net.send));
  assert_int_equal(uv_write(&g_net.cw, req->handle, &b, 1, NULL), 0);
  assert_int_equal(uv_read_start(req->handle, alloc_cb, on_client_read), 0);
}

/* The client sends send, the server answers reply once; conn_span: see net_t. */
static void exchange_with(uv_loop_t *loop, const char *send, const char *reply, int conn_span) {
  memset(&g_net, 0, sizeof g_net);
  g_net.send = send;
  g_net.reply = reply;
  g_net.conn_span = conn_span;
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
  assert_int_equal(uvotel_tcp_init(loop, &g_net.server), 0);
  assert_int_equal(uv_tcp_bind(&g_net.server, (const struct sockaddr *)&sin, 0), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_net.server, 8, on_connection), 0);
  int len = sizeof sin;
  assert_int_equal(uv_tcp_getsockname(&g_net.server, (struct sockaddr *)&sin, &len), 0);
  assert_int_equal(uv_tcp_init(loop, &g_net.client), 0);
  assert_int_equal(
      uv_tcp_connect(&g_net.creq, &g_net.client, (const struct sockaddr *)&sin, on_connect), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_net.closed, 3);
  assert_int_equal(g_net.ngot, strlen(reply));
  assert_memory_equal(g_net.got, reply, strlen(reply)); /* the program's bytes, unchanged */
}

static void exchange(uv_loop_t *loop, const char *send) {
  exchange_with(loop, send, "PONG\n", 0);
}

static void enable(unsigned cats) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

static int g_registered;
static int g_nregistered; /* detectors registered beside ping (at most 8 in all) */

static void register_ping(void) {
  if (!g_registered) assert_int_equal(uvotel_protocol_register(&k_ping, &g_opened), 0);
  g_registered = 1;
}

static void test_register_bad_input(void **state) {
  (void)state;
  assert_int_equal(uvotel_protocol_register(NULL, NULL), UVOTEL_EINVAL);
  uvotel_protocol_ops_t o = k_ping;
  o.size = offsetof(uvotel_protocol_ops_t, close);
  assert_int_equal(uvotel_protocol_register(&o, NULL), UVOTEL_EINVAL);
  o = k_ping;
  o.detect = NULL;
  assert_int_equal(uvotel_protocol_register(&o, NULL), UVOTEL_EINVAL);
  o = k_ping;
  o.write = NULL;
  assert_int_equal(uvotel_protocol_register(&o, NULL), UVOTEL_EINVAL);
  const uvotel_protocol_ops_t *http = uvotel_protocol_http();
  assert_non_null(http);
  assert_int_equal(http->size, sizeof(uvotel_protocol_ops_t));
  assert_string_equal(http->name, "http");
  assert_int_equal(http->category, UVOTEL_INSTRUMENT_HTTP);
}

static void test_user_detector_claims(void **state) {
  fx_t *fx = *state;
  register_ping();
  enable(UVOTEL_INSTRUMENT_NET);
  g_opened = g_closed = 0;
  exchange(&fx->loop, "PING 1\n");
  assert_int_equal(g_opened, 1);
  assert_int_equal(g_closed, 1);
  assert_string_equal(g_last_seen, "PING 1\n|PONG\n"); /* saw exactly what went by */
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "ping");
  assert_non_null(d); /* ended when the write completed */
  assert_non_null(g_net.current_in_read);
  uvotel_span_context_t want = uvotel_span_data_context(d);
  uvotel_span_context_t cur = uvotel_span_context(g_net.current_in_read);
  assert_memory_equal(&cur.span_id, &want.span_id, sizeof want.span_id);
}

static void test_declined_stream_left_alone(void **state) {
  fx_t *fx = *state;
  register_ping();
  enable(UVOTEL_INSTRUMENT_NET);
  g_opened = g_closed = 0;
  exchange(&fx->loop, "HELLO\n");
  assert_int_equal(g_opened, 0);
  assert_int_equal(g_closed, 0);
  assert_null(uvotel_memory_exporter_find(fx->mem, "ping"));
  assert_null(g_net.current_in_read);
}

static void test_off_without_categories(void **state) {
  fx_t *fx = *state;
  register_ping();
  g_opened = g_detect_calls = 0;
  exchange(&fx->loop, "PING 2\n");
  assert_int_equal(g_detect_calls, 0);
  assert_int_equal(g_opened, 0);
}

static void test_register_full(void **state) {
  (void)state;
  register_ping();
  int n = 1 + g_nregistered, err;
  while ((err = uvotel_protocol_register(&k_ping, &g_opened)) == 0) n++;
  assert_int_equal(err, UVOTEL_ENOMEM);
  assert_int_equal(n, 8);
}

/* ---- DNS over UDP, server side (category dns) ---- */

typedef struct udpnet_s {
  uv_udp_t server, client;
  uv_udp_send_t sreq, creq;
  char reply[64];
  uvotel_span_t *current_in_recv;
  int closed, answered;
} udpnet_t;

static udpnet_t g_udp;

static void udp_closed(uv_handle_t *h) {
  (void)h;
  g_udp.closed++;
}

static void udp_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static char mem[2048];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_udp_server(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread <= 0 || addr == NULL) return;
  g_udp.current_in_recv = uvotel_current_span();
  memcpy(g_udp.reply, buf->base, (size_t)nread);
  g_udp.reply[2] = (char)(g_udp.reply[2] | 0x80);
  g_udp.reply[3] = 2; /* SERVFAIL */
  uv_buf_t b = uv_buf_init(g_udp.reply, (unsigned)nread);
  assert_int_equal(uvotel_udp_send(&g_udp.sreq, h, &b, 1, addr, NULL), 0);
}

static void on_udp_client(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_udp.answered++;
  uv_close((uv_handle_t *)&g_udp.client, udp_closed);
  uvotel_close((uv_handle_t *)&g_udp.server, udp_closed);
}

static void test_dns_query_span(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_DNS);
  memset(&g_udp, 0, sizeof g_udp);
  struct sockaddr_in a;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_udp.server), 0);
  assert_int_equal(uv_udp_bind(&g_udp.server, (const struct sockaddr *)&a, 0), 0);
  int len = sizeof a;
  assert_int_equal(uv_udp_getsockname(&g_udp.server, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_udp.server, udp_alloc, on_udp_server), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_udp.client), 0);
  assert_int_equal(uv_udp_recv_start(&g_udp.client, udp_alloc, on_udp_client), 0);
  static char q[] =
      "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "\x03www\x07"
      "example\x03org\x00\x00\x1c\x00\x01";
  uv_buf_t b = uv_buf_init(q, sizeof q - 1);
  assert_int_equal(
      uv_udp_send(&g_udp.creq, &g_udp.client, &b, 1, (const struct sockaddr *)&a, NULL), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_udp.answered, 1);
  assert_int_equal(g_udp.closed, 2);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
  assert_non_null(g_udp.current_in_recv);
  uvotel_span_context_t want = uvotel_span_data_context(d);
  uvotel_span_context_t cur = uvotel_span_context(g_udp.current_in_recv);
  assert_memory_equal(&cur.span_id, &want.span_id, sizeof want.span_id);
  size_t n;
  const uvotel_attribute_t *at = uvotel_span_data_attributes(d, &n);
  int seen = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(at[i].key, "dns.question.name") == 0) {
      assert_string_equal(at[i].value.u.s, "www.example.org");
      seen |= 1;
    }
    if (strcmp(at[i].key, "error.type") == 0) {
      assert_string_equal(at[i].value.u.s, "SERVFAIL");
      seen |= 2;
    }
  }
  assert_int_equal(seen, 3);
}

/* ---- the accept span of a claimed stream (issue 12: "remains for streams no detector
 * claims") ---- */

#define HTTP_REQ "GET /a HTTP/1.1\r\nHost: example.org\r\n\r\n"
#define HTTP_RESP "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

static void enable_accept(unsigned cats) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  o.flags = UVOTEL_AUTO_SPANS_ROOTS;
  o.on_accept = uvotel_auto_spans_accept_span;
  o.on_accept_arg = g_fx.tracer;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

static int same_id(uvotel_span_id_t a, uvotel_span_id_t b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static const uvotel_span_id_t k_no_parent;

/* Every recording span started was ended and handed to the processor: a discarded span is in
 * neither count. */
static void counters_balance(fx_t *fx, uint64_t spans) {
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(fx->provider, &c), 0);
  assert_int_equal(c.started, spans);
  assert_int_equal(c.ended, spans);
  assert_int_equal(c.received, spans);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), spans);
}

/* An HTTP stream followed to its end: its request's SERVER span, no tcp accept span; the
 * request span is where the accept span would have been (a root here), not its child. */
static void test_http_stream_has_no_accept_span(void **state) {
  fx_t *fx = *state;
  enable_accept(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  exchange_with(&fx->loop, HTTP_REQ, HTTP_RESP, 0);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "GET");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
  assert_true(same_id(uvotel_span_data_parent_span_id(d), k_no_parent));
  assert_null(uvotel_memory_exporter_find(fx->mem, "tcp accept"));
  assert_non_null(g_net.current_in_read); /* the request's span was current in the read */
  uvotel_span_context_t cur = uvotel_span_context(g_net.current_in_read);
  assert_true(same_id(cur.span_id, uvotel_span_data_context(d).span_id));
  /* the built-in sampler: attributes set after the start, with borrowed keys */
  assert_string_equal(attr_str(d, "url.path"), "/a");
  assert_string_equal(attr_str(d, "http.request.method"), "GET");
  assert_string_equal(attr_str(d, "server.address"), "example.org");
  assert_string_equal(attr_str(d, "network.protocol.version"), "1.1");
  counters_balance(fx, 1);
}

/* A sampler of the user's own may look at attributes: the request's are handed to span start
 * (it sees them) and end up on the span as with the built-in samplers. */
static char g_sampled_path[32];
static size_t g_sampled_n;

static void path_sampler(void *self, const uvotel_sampling_params_t *p,
                         uvotel_sampling_result_t *out) {
  (void)self;
  if (strcmp(p->name, "GET") == 0) {
    g_sampled_n = p->n_attrs;
    for (size_t i = 0; i < p->n_attrs; i++) {
      if (strcmp(p->attrs[i].key, "url.path") == 0) {
        snprintf(g_sampled_path, sizeof g_sampled_path, "%s", p->attrs[i].value.u.s);
      }
    }
  }
  out->decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
}

static const char *path_sampler_desc(void *self) {
  (void)self;
  return "PathSampler";
}

static const uvotel_sampler_ops_t k_path_sampler = {path_sampler, path_sampler_desc, NULL};

static void test_http_attrs_seen_by_user_sampler(void **state) {
  fx_t *fx = *state;
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mem));
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &proc;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  po.sampler = uvotel_sampler_create(&k_path_sampler, NULL);
  assert_non_null(po.sampler);
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = uvotel_tracer_get(p, "sampled", "1");
  o.categories = UVOTEL_INSTRUMENT_HTTP;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  g_sampled_path[0] = '\0';
  g_sampled_n = 0;
  exchange_with(&fx->loop, HTTP_REQ, HTTP_RESP, 0);
  assert_string_equal(g_sampled_path, "/a");
  assert_true(g_sampled_n >= 8);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(mem, "GET");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "url.path"), "/a");
  assert_string_equal(attr_str(d, "server.address"), "example.org");
  assert_int_equal(attr_int(d, "http.response.status_code"), 200);
  uvotel_auto_spans_disable();
  uvotel_memory_exporter_reset(mem);
  (void)uvotel_tracer_provider_shutdown(p, 1000);
  uvotel_tracer_provider_free(p);
  uvotel_memory_exporter_free(mem);
}

/* A span started in the connection callback is the accept span's child: the accept span stays
 * (its child's parent exists); the request span still is not under it. */
static void test_conn_span_keeps_accept_span(void **state) {
  fx_t *fx = *state;
  enable_accept(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  exchange_with(&fx->loop, HTTP_REQ, HTTP_RESP, 1);
  const uvotel_span_data_t *acc = uvotel_memory_exporter_find(fx->mem, "tcp accept");
  const uvotel_span_data_t *work = uvotel_memory_exporter_find(fx->mem, "conn work");
  const uvotel_span_data_t *get = uvotel_memory_exporter_find(fx->mem, "GET");
  assert_non_null(acc);
  assert_non_null(work);
  assert_non_null(get);
  uvotel_span_id_t acc_id = uvotel_span_data_context(acc).span_id;
  assert_true(same_id(uvotel_span_data_parent_span_id(work), acc_id));
  assert_false(same_id(uvotel_span_data_parent_span_id(get), acc_id));
  counters_balance(fx, 3);
}

/* Bytes no detector claims: the connection keeps its tcp accept span. */
static void test_unclaimed_stream_keeps_accept_span(void **state) {
  fx_t *fx = *state;
  enable_accept(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  exchange_with(&fx->loop, "HELLO\n", "PONG\n", 0);
  assert_non_null(uvotel_memory_exporter_find(fx->mem, "tcp accept"));
  assert_null(uvotel_memory_exporter_find(fx->mem, "GET"));
  counters_balance(fx, 1);
}

/* A stream the HTTP detector claimed and then gave up on (a header line without a colon): it
 * is not followed any more, so the connection keeps its tcp accept span. */
static void test_given_up_stream_keeps_accept_span(void **state) {
  fx_t *fx = *state;
  enable_accept(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  exchange_with(&fx->loop, "GET /a HTTP/1.1\r\nno colon here\r\n\r\n", HTTP_RESP, 0);
  assert_non_null(uvotel_memory_exporter_find(fx->mem, "tcp accept"));
  assert_null(uvotel_memory_exporter_find(fx->mem, "GET"));
  counters_balance(fx, 1);
}

/* ---- sockets the program adopts (uvotel_tcp_open): the first read or write tells the
 * direction ---- */

/* The two ends of a loopback TCP connection made with plain sockets. */
static void tcp_socket_pair(int *connecting, int *accepted) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(l >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(l, 1), 0);
  assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
  *connecting = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(*connecting >= 0);
  assert_int_equal(connect(*connecting, (struct sockaddr *)&a, sizeof a), 0);
  *accepted = accept(l, NULL, NULL);
  assert_true(*accepted >= 0);
  close(l);
}

typedef struct adopt_s {
  uv_tcp_t mine, peer; /* mine: adopted with the wrappers; peer: plain libuv */
  uv_write_t w, pw;
  char got[512], peer_got[512];
  size_t ngot, npeer;
  uvotel_span_t *current_in_read;
  int closed, answered;
} adopt_t;

static adopt_t g_ad;

static void ad_closed(uv_handle_t *h) {
  (void)h;
  g_ad.closed++;
}

static void ad_close_both(void) {
  if (!uv_is_closing((uv_handle_t *)&g_ad.peer)) uv_close((uv_handle_t *)&g_ad.peer, ad_closed);
  if (!uv_is_closing((uv_handle_t *)&g_ad.mine)) uvotel_close((uv_handle_t *)&g_ad.mine, ad_closed);
}

/* mine serves: it reads a request and answers it. */
static void ad_serve_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread <= 0) return;
  memcpy(g_ad.got + g_ad.ngot, buf->base, (size_t)nread);
  g_ad.ngot += (size_t)nread;
  g_ad.current_in_read = uvotel_current_span();
  if (memmem(g_ad.got, g_ad.ngot, "\r\n\r\n", 4) != NULL && !g_ad.answered) {
    g_ad.answered = 1;
    uv_buf_t b = uv_buf_init((char *)HTTP_RESP, sizeof HTTP_RESP - 1);
    assert_int_equal(uvotel_write(&g_ad.w, s, &b, 1, NULL), 0);
  }
}

/* peer is the client: it reads the whole response, then both ends close. */
static void ad_peer_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)s;
  if (nread > 0) {
    memcpy(g_ad.peer_got + g_ad.npeer, buf->base, (size_t)nread);
    g_ad.npeer += (size_t)nread;
  }
  if (nread < 0 || g_ad.npeer >= sizeof HTTP_RESP - 1) ad_close_both();
}

static void test_adopted_socket_served(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  memset(&g_ad, 0, sizeof g_ad);
  int c, a;
  tcp_socket_pair(&c, &a);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_ad.mine), 0);
  assert_int_equal(uvotel_tcp_open(&g_ad.mine, a), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_ad.mine, alloc_cb, ad_serve_read), 0);
  assert_int_equal(uv_tcp_init(&fx->loop, &g_ad.peer), 0);
  assert_int_equal(uv_tcp_open(&g_ad.peer, c), 0);
  uv_buf_t b = uv_buf_init((char *)HTTP_REQ, sizeof HTTP_REQ - 1);
  assert_int_equal(uv_write(&g_ad.pw, (uv_stream_t *)&g_ad.peer, &b, 1, NULL), 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&g_ad.peer, alloc_cb, ad_peer_client_read), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_ad.closed, 2);
  assert_int_equal(g_ad.npeer, sizeof HTTP_RESP - 1);
  assert_memory_equal(g_ad.peer_got, HTTP_RESP, sizeof HTTP_RESP - 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "GET");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
  assert_int_equal(attr_int(d, "http.response.status_code"), 200);
  assert_non_null(g_ad.current_in_read);
  uvotel_span_context_t cur = uvotel_span_context(g_ad.current_in_read);
  assert_true(same_id(cur.span_id, uvotel_span_data_context(d).span_id));
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1); /* no CLIENT span for its answer */
}

/* peer serves: it reads the request head, answers it. */
static void ad_peer_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread <= 0) return;
  memcpy(g_ad.peer_got + g_ad.npeer, buf->base, (size_t)nread);
  g_ad.npeer += (size_t)nread;
  if (memmem(g_ad.peer_got, g_ad.npeer, "\r\n\r\n", 4) != NULL && !g_ad.answered) {
    g_ad.answered = 1;
    uv_buf_t b = uv_buf_init((char *)HTTP_RESP, sizeof HTTP_RESP - 1);
    assert_int_equal(uv_write(&g_ad.pw, s, &b, 1, NULL), 0);
  }
}

/* mine is the client: it reads the whole response, then both ends close. */
static void ad_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)s;
  if (nread > 0) {
    memcpy(g_ad.got + g_ad.ngot, buf->base, (size_t)nread);
    g_ad.ngot += (size_t)nread;
  }
  if (nread < 0 || g_ad.ngot >= sizeof HTTP_RESP - 1) ad_close_both();
}

static void test_adopted_socket_client(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_HTTP);
  memset(&g_ad, 0, sizeof g_ad);
  int c, a;
  tcp_socket_pair(&c, &a);
  assert_int_equal(uv_tcp_init(&fx->loop, &g_ad.peer), 0);
  assert_int_equal(uv_tcp_open(&g_ad.peer, a), 0);
  assert_int_equal(uv_read_start((uv_stream_t *)&g_ad.peer, alloc_cb, ad_peer_server_read), 0);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_ad.mine), 0);
  assert_int_equal(uvotel_tcp_open(&g_ad.mine, c), 0);
  uvotel_span_t *caller = uvotel_span_start(fx->tracer, "caller", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(caller, &sc), 0);
  uv_buf_t b = uv_buf_init((char *)HTTP_REQ, sizeof HTTP_REQ - 1);
  assert_int_equal(uvotel_write(&g_ad.w, (uv_stream_t *)&g_ad.mine, &b, 1, NULL), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_ad.mine, alloc_cb, ad_client_read), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(caller);
  assert_int_equal(g_ad.closed, 2);
  assert_memory_equal(g_ad.got, HTTP_RESP, sizeof HTTP_RESP - 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "GET");
  const uvotel_span_data_t *cd = uvotel_memory_exporter_find(fx->mem, "caller");
  assert_non_null(d);
  assert_non_null(cd);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_CLIENT);
  assert_true(same_id(uvotel_span_data_parent_span_id(d), uvotel_span_data_context(cd).span_id));
  assert_int_equal(attr_int(d, "http.response.status_code"), 200);
  /* the peer got the request with the CLIENT span's traceparent inserted */
  char want[80];
  uvotel_span_context_t sc2 = uvotel_span_data_context(d);
  char tid[33], sid[17];
  for (int i = 0; i < 16; i++) snprintf(tid + 2 * i, 3, "%02x", sc2.trace_id.bytes[i]);
  for (int i = 0; i < 8; i++) snprintf(sid + 2 * i, 3, "%02x", sc2.span_id.bytes[i]);
  snprintf(want, sizeof want, "traceparent: 00-%s-%s-%02x\r\n", tid, sid, (unsigned)sc2.flags);
  g_ad.peer_got[g_ad.npeer] = '\0';
  if (strstr(g_ad.peer_got, want) == NULL)
    fprintf(stderr, "peer got:\n%s\nnot %s", g_ad.peer_got, want);
  assert_non_null(strstr(g_ad.peer_got, want));
  assert_null(uvotel_memory_exporter_find(fx->mem, "_OTHER")); /* its response was no request */
}

/* ---- the written op (a member appended to the ops table) and writes libuv refuses ----
 * Streams adopted from a socket pair: "mine" with the wrappers (uvotel_tcp_open /
 * uvotel_pipe_open), served by its first read; "peer" plain libuv, writing the request. */

typedef struct wlog_s {
  uint64_t seq;
  int status;
} wlog_t;

static wlog_t g_wlog[16];
static int g_nwlog, g_seq_opened, g_seq_closed;
static uint64_t g_seq_writes; /* calls of seq_write on the open connection */

static int seq_detect(void *arg, const char *data, size_t len) {
  (void)arg;
  if (len < 4) return memcmp(data, "SEQ ", len) == 0 ? UVOTEL_PROTOCOL_MORE : 0;
  return memcmp(data, "SEQ ", 4) == 0 ? UVOTEL_PROTOCOL_CLAIM : UVOTEL_PROTOCOL_DECLINE;
}

static void *seq_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  (void)stream;
  (void)tracer;
  g_seq_opened++;
  g_seq_writes = 0;
  return &g_seq_writes;
}

static int seq_read(void *conn, const char *data, size_t len, uvotel_span_t **current) {
  (void)conn;
  (void)data;
  (void)len;
  (void)current;
  return 0;
}

static uvotel_span_t *seq_write(void *conn, const uv_buf_t bufs[], unsigned int nbufs) {
  assert_ptr_equal(conn, &g_seq_writes);
  (void)bufs;
  (void)nbufs;
  g_seq_writes++;
  return NULL;
}

static void seq_close(void *conn) {
  assert_ptr_equal(conn, &g_seq_writes);
  g_seq_closed++;
}

static void seq_written(void *conn, uint64_t seq, int status) {
  assert_ptr_equal(conn, &g_seq_writes);
  assert_true(seq >= 1 && seq <= g_seq_writes); /* a write it was handed */
  assert_true(g_nwlog < 16);
  g_wlog[g_nwlog].seq = seq;
  g_wlog[g_nwlog].status = status;
  g_nwlog++;
}

static const uvotel_protocol_ops_t k_seq = {.size = sizeof(uvotel_protocol_ops_t),
                                            .name = "seq",
                                            .detect = seq_detect,
                                            .open = seq_open,
                                            .read = seq_read,
                                            .write = seq_write,
                                            .close = seq_close,
                                            .written = seq_written};

/* A detector built against the first header: its table ends at close. What follows it in
 * memory (here a trap where a newer header has written) must never be read as written. */
typedef struct old_ops_s {
  size_t size;
  const char *name;
  unsigned category;
  int (*detect)(void *arg, const char *data, size_t len);
  void *(*open)(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer);
  int (*read)(void *conn, const char *data, size_t len, uvotel_span_t **current);
  uvotel_span_t *(*write)(void *conn, const uv_buf_t bufs[], unsigned int nbufs);
  void (*close)(void *conn);
  void (*beyond)(void *conn, uint64_t seq, int status); /* not part of the table */
} old_ops_t;

static int g_old_opened;

static int old_detect(void *arg, const char *data, size_t len) {
  (void)arg;
  if (len < 4) return memcmp(data, "OLD ", len) == 0 ? UVOTEL_PROTOCOL_MORE : 0;
  return memcmp(data, "OLD ", 4) == 0 ? UVOTEL_PROTOCOL_CLAIM : UVOTEL_PROTOCOL_DECLINE;
}

static void *old_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  (void)stream;
  ping_t *p = calloc(1, sizeof *p);
  p->tracer = tracer;
  g_old_opened++;
  return p;
}

static int old_read(void *conn, const char *data, size_t len, uvotel_span_t **current) {
  ping_t *p = conn;
  if (p->nrd + len <= sizeof p->rd) {
    memcpy(p->rd + p->nrd, data, len);
    p->nrd += len;
  }
  if (p->span == NULL) {
    uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
    o.kind = UVOTEL_SPAN_KIND_SERVER;
    o.flags = UVOTEL_SPAN_ROOT;
    p->span = uvotel_span_start(p->tracer, "old", &o);
  }
  *current = p->span;
  return 0;
}

static void old_beyond(void *conn, uint64_t seq, int status) {
  (void)conn;
  (void)seq;
  (void)status;
  fail_msg("uvotel read a member past the table's size");
}

static const old_ops_t k_old = {.size = offsetof(old_ops_t, beyond),
                                .name = "old",
                                .detect = old_detect,
                                .open = old_open,
                                .read = old_read,
                                .write = ping_write,
                                .close = ping_close,
                                .beyond = old_beyond};

static void register_seam_detectors(void) {
  static int done;
  if (done) return;
  register_ping();
  assert_int_equal(uvotel_protocol_register(&k_seq, NULL), 0);
  assert_int_equal(
      uvotel_protocol_register((const uvotel_protocol_ops_t *)(const void *)&k_old, NULL), 0);
  g_nregistered += 2;
  done = 1;
}

typedef union stream_u {
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  uv_stream_t stream;
  uv_handle_t handle;
} stream_u;

typedef struct seam_s {
  stream_u mine, peer;
  uv_write_t w[2], pw;
  uv_shutdown_t sreq;
  int refuse;   /* mine shuts down, then writes: libuv refuses at once */
  int wr, twr;  /* what the write and try_write of a refused answer returned */
  int at_cb[2]; /* g_nwlog when each write callback of mine ran */
  int ncb;
  int logged_after_refused; /* g_nwlog right after the refused write returned */
  int old_ended_at_refusal; /* the "old" span was exported when the refused write returned */
  int closed;
} seam_t;

static seam_t g_sm;

static void sm_closed(uv_handle_t *h) {
  (void)h;
  g_sm.closed++;
}

static void sm_close_all(void) {
  uvotel_close(&g_sm.mine.handle, sm_closed);
  uv_close(&g_sm.peer.handle, sm_closed);
}

static void sm_wrote(uv_write_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  g_sm.at_cb[g_sm.ncb++] = g_nwlog;
  if (g_sm.ncb == 2) sm_close_all();
}

static void sm_shut(uv_shutdown_t *req, int status) {
  (void)req;
  (void)status;
  sm_close_all();
}

static void sm_mine_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread <= 0) return;
  uvotel_read_stop(s);
  uv_buf_t a = uv_buf_init("A\n", 2), b = uv_buf_init("B\n", 2), c = uv_buf_init("C\n", 2);
  if (!g_sm.refuse) {
    assert_int_equal(uvotel_try_write(s, &a, 1), 2);
    assert_int_equal(uvotel_write(&g_sm.w[0], s, &b, 1, sm_wrote), 0);
    assert_int_equal(uvotel_write(&g_sm.w[1], s, &c, 1, sm_wrote), 0);
    return;
  }
  assert_int_equal(uv_shutdown(&g_sm.sreq, s, sm_shut), 0);
  g_sm.wr = uvotel_write(&g_sm.w[0], s, &b, 1, sm_wrote);
  g_sm.logged_after_refused = g_nwlog;
  g_sm.old_ended_at_refusal = uvotel_memory_exporter_find(g_fx.mem, "old") != NULL;
  g_sm.twr = uvotel_try_write(s, &c, 1);
}

/* kind 0: TCP (uvotel_tcp_open), 1: a unix socket pair (uvotel_pipe_open). */
static void seam_run(uv_loop_t *loop, int kind, const char *request, int refuse) {
  memset(&g_sm, 0, sizeof g_sm);
  g_sm.refuse = refuse;
  g_nwlog = 0;
  int fd[2];
  if (kind == 0) {
    tcp_socket_pair(&fd[0], &fd[1]);
    assert_int_equal(uvotel_tcp_init(loop, &g_sm.mine.tcp), 0);
    assert_int_equal(uvotel_tcp_open(&g_sm.mine.tcp, fd[1]), 0);
    assert_int_equal(uv_tcp_init(loop, &g_sm.peer.tcp), 0);
    assert_int_equal(uv_tcp_open(&g_sm.peer.tcp, fd[0]), 0);
  } else {
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
    assert_int_equal(uvotel_pipe_init(loop, &g_sm.mine.pipe, 0), 0);
    assert_int_equal(uvotel_pipe_open(&g_sm.mine.pipe, fd[1]), 0);
    assert_int_equal(uv_pipe_init(loop, &g_sm.peer.pipe, 0), 0);
    assert_int_equal(uv_pipe_open(&g_sm.peer.pipe, fd[0]), 0);
  }
  assert_int_equal(uvotel_read_start(&g_sm.mine.stream, alloc_cb, sm_mine_read), 0);
  uv_buf_t b = uv_buf_init((char *)request, (unsigned)strlen(request));
  assert_int_equal(uv_write(&g_sm.pw, &g_sm.peer.stream, &b, 1, NULL), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_sm.closed, 2);
}

/* A detector with written: its writes are numbered 1, 2, 3 in the order it saw them
 * (try_write's at once), each completes once, before the program's write callback. */
static void check_written_numbers(uv_loop_t *loop, int kind) {
  register_seam_detectors();
  enable(UVOTEL_INSTRUMENT_NET);
  g_seq_opened = g_seq_closed = 0;
  seam_run(loop, kind, "SEQ 1\n", 0);
  assert_int_equal(g_seq_opened, 1);
  assert_int_equal(g_seq_closed, 1);
  assert_int_equal(g_seq_writes, 3);
  assert_int_equal(g_nwlog, 3);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(g_wlog[i].seq, (uint64_t)i + 1);
    assert_int_equal(g_wlog[i].status, 0);
  }
  assert_int_equal(g_sm.at_cb[0], 2); /* write 2 completed before its callback, 3 not yet */
  assert_int_equal(g_sm.at_cb[1], 3);
}

static void test_written_numbers(void **state) {
  fx_t *fx = *state;
  check_written_numbers(&fx->loop, 0);
}

/* Writes libuv refuses at once (after uv_shutdown: UV_EPIPE), with uvotel_write and
 * uvotel_try_write: the detector sees their bytes and each completes at once with the error. */
static void check_refused_written(uv_loop_t *loop, int kind) {
  register_seam_detectors();
  enable(UVOTEL_INSTRUMENT_NET);
  g_seq_opened = g_seq_closed = 0;
  seam_run(loop, kind, "SEQ 2\n", 1);
  assert_int_equal(g_sm.wr, UV_EPIPE);
  assert_int_equal(g_sm.twr, UV_EPIPE);
  assert_int_equal(g_sm.logged_after_refused, 1); /* told before uvotel_write returned */
  assert_int_equal(g_seq_writes, 2);
  assert_int_equal(g_nwlog, 2);
  assert_int_equal(g_wlog[0].seq, 1);
  assert_int_equal(g_wlog[0].status, UV_EPIPE);
  assert_int_equal(g_wlog[1].seq, 2);
  assert_int_equal(g_wlog[1].status, UV_EPIPE);
  assert_int_equal(g_seq_closed, 1);
}

static void test_refused_write_written(void **state) {
  fx_t *fx = *state;
  check_refused_written(&fx->loop, 0);
}

/* A table of the first size (no written) keeps working: its write's span ends when the write
 * completes, and a refused write's span ends at once with the error; the trap past its size is
 * never called. */
static void check_old_table(uv_loop_t *loop, int kind) {
  fx_t *fx = &g_fx;
  register_seam_detectors();
  enable(UVOTEL_INSTRUMENT_NET);
  g_old_opened = 0;
  seam_run(loop, kind, "OLD 1\n", 0);
  assert_int_equal(g_old_opened, 1);
  assert_string_equal(g_last_seen, "OLD 1\n|A\nB\nC\n");
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "old");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_UNSET);
  uvotel_memory_exporter_reset(fx->mem);
  seam_run(loop, kind, "OLD 2\n", 1);
  assert_int_equal(g_old_opened, 2);
  assert_true(g_sm.old_ended_at_refusal);
  d = uvotel_memory_exporter_find(fx->mem, "old");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(d, "error.type"), "EPIPE");
}

static void test_old_table_size(void **state) {
  fx_t *fx = *state;
  check_old_table(&fx->loop, 0);
}

/* The same through uvotel_pipe_open on a unix socket pair. */
static void test_pipe_open_written_numbers(void **state) {
  fx_t *fx = *state;
  check_written_numbers(&fx->loop, 1);
}

static void test_pipe_open_refused_write(void **state) {
  fx_t *fx = *state;
  check_refused_written(&fx->loop, 1);
}

static void test_pipe_open_old_table(void **state) {
  fx_t *fx = *state;
  check_old_table(&fx->loop, 1);
}

/* A pipe(2) read end opened with uvotel_pipe_open has no peer: not offered to the detectors
 * (ping would claim "PING "), the bytes read as they were written. */
static char g_pp_got[16];
static size_t g_pp_n;
static int g_pp_closed;

static void pp_closed(uv_handle_t *h) {
  (void)h;
  g_pp_closed++;
}

static void pp_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0 && g_pp_n + (size_t)nread <= sizeof g_pp_got) {
    memcpy(g_pp_got + g_pp_n, buf->base, (size_t)nread);
    g_pp_n += (size_t)nread;
  }
  if (nread < 0 || g_pp_n >= 7) uvotel_close((uv_handle_t *)s, pp_closed);
}

static void test_pipe_open_no_peer_left_alone(void **state) {
  fx_t *fx = *state;
  register_ping();
  enable(UVOTEL_INSTRUMENT_NET | UVOTEL_INSTRUMENT_PIPE);
  g_opened = g_closed = 0;
  g_pp_n = 0;
  g_pp_closed = 0;
  int fd[2];
  assert_int_equal(pipe(fd), 0);
  uv_pipe_t rd, wr;
  uv_write_t w;
  assert_int_equal(uvotel_pipe_init(&fx->loop, &rd, 0), 0);
  assert_int_equal(uvotel_pipe_open(&rd, fd[0]), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&rd, alloc_cb, pp_read), 0);
  assert_int_equal(uv_pipe_init(&fx->loop, &wr, 0), 0);
  assert_int_equal(uv_pipe_open(&wr, fd[1]), 0);
  uv_buf_t b = uv_buf_init("PING 3\n", 7);
  assert_int_equal(uv_write(&w, (uv_stream_t *)&wr, &b, 1, NULL), 0);
  uv_close((uv_handle_t *)&wr, pp_closed);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_pp_closed, 2);
  assert_int_equal(g_pp_n, 7);
  assert_memory_equal(g_pp_got, "PING 3\n", 7);
  assert_int_equal(g_opened, 0);
  /* a bad descriptor: libuv's error, nothing tracked */
  uv_pipe_t bad;
  assert_int_equal(uvotel_pipe_init(&fx->loop, &bad, 0), 0);
  assert_int_equal(uvotel_pipe_open(&bad, -1), UV_EBADF);
  uvotel_close((uv_handle_t *)&bad, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var(); /* created once per process, on first use: not a leak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_bad_input),
      cmocka_unit_test_setup_teardown(test_user_detector_claims, setup, teardown),
      cmocka_unit_test_setup_teardown(test_declined_stream_left_alone, setup, teardown),
      cmocka_unit_test_setup_teardown(test_off_without_categories, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns_query_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_written_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_write_written, setup, teardown),
      cmocka_unit_test_setup_teardown(test_old_table_size, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipe_open_written_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipe_open_refused_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipe_open_old_table, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipe_open_no_peer_left_alone, setup, teardown),
      cmocka_unit_test(test_register_full),
      cmocka_unit_test_setup_teardown(test_http_stream_has_no_accept_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conn_span_keeps_accept_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_http_attrs_seen_by_user_sampler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unclaimed_stream_keeps_accept_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_given_up_stream_keeps_accept_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_adopted_socket_served, setup, teardown),
      cmocka_unit_test_setup_teardown(test_adopted_socket_client, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
