/* Issue 12, client side: HTTP/1.x requests written with the wrappers on a stream the program
 * connected get a CLIENT span until their response is read, and the propagators' headers
 * inserted into a NEW buffer list. A plain (unwrapped) server over loopback records the exact
 * bytes that arrive:
 *   - after the request line when the head is in one write, before the blank line when it is
 *     spread over writes; none into a request that has a traceparent, none with try_write, no
 *     second line of a field (baggage) the request has;
 *   - the program's buffer array and bytes are unchanged, its write callback runs once per
 *     write with its own request and status 0;
 *   - pipelined requests and their responses matched in order (HEAD, 5xx), a connection
 *     closed mid-response, a malformed stream (given up: no span, bytes as written), and
 *     nothing at all without the http category; a connected pipe like a TCP stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "spans_fixture.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

#define MAXW 6
#define SOCK_PATH UVOTEL_BINARY_DIR "/test_uv_http_client.sock"
#define MAXB 4

/* One exchange: the client's writes (each up to MAXB buffers; NULL ends a write), the canned
 * response the server sends once it has seen `heads` request heads, and whether it closes. */
typedef struct plan_s {
  const char *w[MAXW][MAXB];
  int try_write; /* write with uvotel_try_write instead (one buffer per write) */
  int heads;
  const char *response;
  int close_after;
  int pipe; /* over a unix socket instead of TCP */
} plan_t;

typedef struct net_s {
  const plan_t *plan;
  uv_tcp_t server, sconn, client;
  uv_pipe_t pserver, psconn, pclient;
  uv_stream_t *srv, *sc, *cl; /* the TCP or the pipe ones */
  uv_connect_t conn;
  uv_write_t creq[MAXW];
  uv_write_t sreq;
  uv_buf_t bufs[MAXW][MAXB]; /* the program's arrays, checked after the run */
  char copy[MAXW][MAXB][256];
  int wcb[MAXW], wstatus[MAXW];
  char got[8192]; /* what the server read */
  size_t ngot;
  char resp[8192]; /* what the client read */
  size_t nresp;
  int answered, closed;
} net_t;

static net_t g;

static void on_closed(uv_handle_t *h) {
  (void)h;
  g.closed++;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static int count_heads(const char *s, size_t n) {
  int k = 0;
  for (size_t i = 0; i + 4 <= n; i++) k += memcmp(s + i, "\r\n\r\n", 4) == 0;
  return k;
}

static void on_swritten(uv_write_t *w, int status) {
  (void)w;
  assert_int_equal(status, 0);
  if (g.plan->close_after) uv_close((uv_handle_t *)g.sc, on_closed);
}

static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    assert_true(g.ngot + (size_t)nread <= sizeof g.got);
    memcpy(g.got + g.ngot, buf->base, (size_t)nread);
    g.ngot += (size_t)nread;
    if (!g.answered && count_heads(g.got, g.ngot) >= g.plan->heads) {
      g.answered = 1;
      uv_buf_t b = uv_buf_init((char *)g.plan->response, (unsigned)strlen(g.plan->response));
      assert_int_equal(uv_write(&g.sreq, s, &b, 1, on_swritten), 0);
    }
  } else if (nread < 0 && !uv_is_closing((uv_handle_t *)s)) {
    uv_close((uv_handle_t *)s, on_closed);
  }
  free(buf->base);
}

static void on_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  if (g.plan->pipe) {
    uv_pipe_init(server->loop, &g.psconn, 0);
  } else {
    uv_tcp_init(server->loop, &g.sconn);
  }
  assert_int_equal(uv_accept(server, g.sc), 0); /* plain: not wrapped */
  uv_read_start(g.sc, alloc_cb, on_server_read);
  uv_close((uv_handle_t *)g.srv, on_closed);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    memcpy(g.resp + g.nresp, buf->base, (size_t)nread);
    g.nresp += (size_t)nread;
  } else if (nread < 0) {
    uvotel_close((uv_handle_t *)s, on_closed);
  }
  free(buf->base);
}

static void on_cwritten(uv_write_t *w, int status) {
  int i = (int)(w - g.creq);
  assert_true(i >= 0 && i < MAXW);
  assert_ptr_equal(w->handle, g.cl);
  g.wcb[i]++;
  g.wstatus[i] = status;
}

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_read_start(g.cl, alloc_cb, on_client_read), 0);
  for (int i = 0; i < MAXW && g.plan->w[i][0] != NULL; i++) {
    unsigned n = 0;
    for (; n < MAXB && g.plan->w[i][n] != NULL; n++) {
      snprintf(g.copy[i][n], sizeof g.copy[i][n], "%s", g.plan->w[i][n]);
      g.bufs[i][n] = uv_buf_init(g.copy[i][n], (unsigned)strlen(g.copy[i][n]));
    }
    if (g.plan->try_write) {
      assert_int_equal(uvotel_try_write(g.cl, g.bufs[i], n), (int)g.bufs[i][0].len);
      g.wcb[i] = 1;
    } else {
      assert_int_equal(uvotel_write(&g.creq[i], g.cl, g.bufs[i], n, on_cwritten), 0);
    }
  }
}

static void enable_flags(unsigned cats, unsigned flags) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  o.flags = flags;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

static void enable(unsigned cats) {
  enable_flags(cats, UVOTEL_AUTO_SPANS_ROOTS);
}

/* Run the plan on a fresh connection; checks that the program's buffers are unchanged and that
 * every write callback ran once with status 0. */
static void run(uv_loop_t *loop, const plan_t *plan) {
  memset(&g, 0, sizeof g);
  g.plan = plan;
  if (plan->pipe) {
    unlink(SOCK_PATH);
    g.srv = (uv_stream_t *)&g.pserver;
    g.sc = (uv_stream_t *)&g.psconn;
    g.cl = (uv_stream_t *)&g.pclient;
    assert_int_equal(uv_pipe_init(loop, &g.pserver, 0), 0);
    assert_int_equal(uv_pipe_bind(&g.pserver, SOCK_PATH), 0);
    assert_int_equal(uv_listen(g.srv, 4, on_connection), 0);
    assert_int_equal(uvotel_pipe_init(loop, &g.pclient, 0), 0);
    uvotel_pipe_connect(&g.conn, &g.pclient, SOCK_PATH, on_connect);
  } else {
    g.srv = (uv_stream_t *)&g.server;
    g.sc = (uv_stream_t *)&g.sconn;
    g.cl = (uv_stream_t *)&g.client;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_init(loop, &g.server), 0);
    assert_int_equal(uv_tcp_bind(&g.server, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen(g.srv, 4, on_connection), 0);
    int len = sizeof a;
    uv_tcp_getsockname(&g.server, (struct sockaddr *)&a, &len);
    assert_int_equal(uvotel_tcp_init(loop, &g.client), 0);
    assert_int_equal(
        uvotel_tcp_connect(&g.conn, &g.client, (const struct sockaddr *)&a, on_connect), 0);
  }
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
  if (plan->pipe) unlink(SOCK_PATH);
  assert_int_equal(g.closed, 3);
  assert_string_equal(g.resp, plan->response); /* the client read what the server sent */
  for (int i = 0; i < MAXW && plan->w[i][0] != NULL; i++) {
    assert_int_equal(g.wcb[i], 1);
    assert_int_equal(g.wstatus[i], 0);
    for (int n = 0; n < MAXB && plan->w[i][n] != NULL; n++) {
      assert_ptr_equal(g.bufs[i][n].base, g.copy[i][n]);
      assert_int_equal(g.bufs[i][n].len, strlen(plan->w[i][n]));
      assert_string_equal(g.copy[i][n], plan->w[i][n]);
    }
  }
}

/* Everything the plan wrote, concatenated. */
static void written(const plan_t *plan, char *out, size_t cap) {
  out[0] = '\0';
  for (int i = 0; i < MAXW && plan->w[i][0] != NULL; i++) {
    for (int n = 0; n < MAXB && plan->w[i][n] != NULL; n++) {
      strncat(out, plan->w[i][n], cap - strlen(out) - 1);
    }
  }
}

/* The CLIENT span with url.full == url. */
static const uvotel_span_data_t *client_span(fx_t *fx, const char *url) {
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    const char *u = attr_str(d, "url.full");
    if (uvotel_span_data_kind(d) == UVOTEL_SPAN_KIND_CLIENT && u != NULL && strcmp(u, url) == 0) {
      return d;
    }
  }
  fprintf(stderr, "no CLIENT span with url.full %s\n", url);
  fail();
  return NULL;
}

static size_t n_client_spans(fx_t *fx) {
  size_t k = 0;
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    k += uvotel_span_data_kind(uvotel_memory_exporter_get(fx->mem, i)) == UVOTEL_SPAN_KIND_CLIENT;
  }
  return k;
}

/* "traceparent: 00-<trace>-<span>-<flags>\r\n" of d. */
static void tp_line(const uvotel_span_data_t *d, char *out, size_t cap) {
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  char t[33], s[17];
  snprintf(out, cap, "traceparent: 00-%s-%s-%02x\r\n", uvotel_trace_id_to_hex(&sc.trace_id, t),
           uvotel_span_id_to_hex(&sc.span_id, s), sc.flags);
}

static void got_is(const char *want);

/* The server got exactly what the plan wrote. */
static void got_as_written(const plan_t *plan) {
  char want[1024];
  written(plan, want, sizeof want);
  got_is(want);
}

static void got_is(const char *want) {
  if (g.ngot != strlen(want) || memcmp(g.got, want, g.ngot) != 0) {
    fprintf(stderr, "server got:\n%.*s\nwant:\n%s\n", (int)g.ngot, g.got, want);
    fail();
  }
}

#define OK200 "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* One write of two buffers: the headers go right after the request line, in a new list; the
 * parent is the span current at the write (carried by the connect callback's context), the
 * current baggage is sent too. */
static void test_insert_after_request_line(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {
      .w = {{"GET /a?b=1 HTTP/1.1\r\nHost: example.test:8080\r\n", "Accept: */*\r\n\r\n"}},
      .heads = 1,
      .response = OK200,
      .close_after = 1};
  uvotel_span_t *parent = uvotel_span_start(fx->tracer, "parent", NULL);
  uvotel_scope_t ps, bs;
  assert_int_equal(uvotel_span_enter(parent, &ps), 0);
  assert_int_equal(uvotel_baggage_enter_set("user", "alice", NULL, &bs), 0);
  memset(&g, 0, sizeof g);
  run(&fx->loop, &plan); /* uvotel_tcp_connect runs inside the scopes */
  assert_int_equal(uvotel_scope_exit(&bs), 0);
  assert_int_equal(uvotel_scope_exit(&ps), 0);
  uvotel_span_context_t pc = uvotel_span_context(parent);
  uvotel_span_end(parent);
  const uvotel_span_data_t *d = client_span(fx, "http://example.test:8080/a?b=1");
  assert_string_equal(uvotel_span_data_name(d), "GET");
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  assert_memory_equal(pid.bytes, pc.span_id.bytes, 8);
  assert_string_equal(attr_str(d, "http.request.method"), "GET");
  assert_string_equal(attr_str(d, "network.protocol.version"), "1.1");
  assert_string_equal(attr_str(d, "server.address"), "example.test");
  assert_int_equal(attr_int(d, "server.port"), 8080);
  assert_int_equal(attr_int(d, "http.response.status_code"), 200);
  assert_null(attr(d, "error.type"));
  char tp[128], want[1024];
  tp_line(d, tp, sizeof tp);
  snprintf(want, sizeof want,
           "GET /a?b=1 HTTP/1.1\r\n%sbaggage: user=alice\r\nHost: example.test:8080\r\n"
           "Accept: */*\r\n\r\n",
           tp);
  got_is(want);
}

/* A request that has a traceparent (any case) goes out byte for byte; it still gets a span. */
static void test_existing_traceparent_untouched(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {
      .w = {{"GET /t HTTP/1.1\r\nHost: h\r\nTraceParent: "
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"}},
      .heads = 1,
      .response = OK200,
      .close_after = 1};
  run(&fx->loop, &plan);
  got_as_written(&plan);
  const uvotel_span_data_t *d = client_span(fx, "http://h/t");
  assert_int_equal(attr_int(d, "http.response.status_code"), 200);
}

/* A request with its own baggage line (no traceparent) gets the traceparent, not a second
 * baggage line from the current baggage. */
static void test_own_baggage_line_kept(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {.w = {{"GET /b HTTP/1.1\r\nHost: h\r\nBaggage: mine=1\r\n\r\n"}},
                              .heads = 1,
                              .response = OK200,
                              .close_after = 1};
  uvotel_scope_t bs;
  assert_int_equal(uvotel_baggage_enter_set("user", "alice", NULL, &bs), 0);
  run(&fx->loop, &plan);
  assert_int_equal(uvotel_scope_exit(&bs), 0);
  char tp[128], want[256];
  tp_line(client_span(fx, "http://h/b"), tp, sizeof tp);
  snprintf(want, sizeof want, "GET /b HTTP/1.1\r\n%sHost: h\r\nBaggage: mine=1\r\n\r\n", tp);
  got_is(want);
}

/* Three requests in three writes that cut the first one's request line and head: the first gets
 * its headers before its blank line (its request line ended in an earlier write), the two
 * pipelined after it right after their request lines; the responses (200, 503, a HEAD's) end
 * the spans in order. */
static void test_split_and_pipelined(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {
      .w = {{"GET /1 HT"},
            {"TP/1.1\r\nHost: h\r\n"},
            {"\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc",
             "HEAD /3 HTTP/1.1\r", "\n\r\n"}},
      .heads = 3,
      .response =
          "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
          "HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"
          "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
      .close_after = 1};
  run(&fx->loop, &plan);
  assert_int_equal(n_client_spans(fx), 3);
  const uvotel_span_data_t *d1 = client_span(fx, "http://h/1");
  const uvotel_span_data_t *d2 = client_span(fx, "http://h/2");
  const uvotel_span_data_t *d3 = NULL;
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    if (strcmp(uvotel_span_data_name(d), "HEAD") == 0) d3 = d;
  }
  assert_non_null(d3);
  assert_string_equal(attr_str(d3, "server.address"), "127.0.0.1"); /* no Host: the peer */
  assert_int_equal(attr_int(d1, "http.response.status_code"), 200);
  assert_int_equal(attr_int(d2, "http.response.status_code"), 503);
  assert_string_equal(attr_str(d2, "error.type"), "503");
  assert_int_equal(uvotel_span_data_status(d2, NULL), UVOTEL_STATUS_ERROR);
  assert_int_equal(attr_int(d3, "http.response.status_code"), 200);
  char t1[128], t2[128], t3[128], want[2048];
  tp_line(d1, t1, sizeof t1);
  tp_line(d2, t2, sizeof t2);
  tp_line(d3, t3, sizeof t3);
  snprintf(want, sizeof want,
           "GET /1 HTTP/1.1\r\nHost: h\r\n%s\r\n"
           "POST /2 HTTP/1.1\r\n%sHost: h\r\nContent-Length: 3\r\n\r\nabc"
           "HEAD /3 HTTP/1.1\r\n%s\r\n",
           t1, t2, t3);
  got_is(want);
}

/* uv_try_write: a span, no insertion (the count it returns is the program's). */
static void test_try_write_not_modified(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {.w = {{"GET /tw HTTP/1.1\r\nHost: h\r\n\r\n"}},
                              .try_write = 1,
                              .heads = 1,
                              .response = OK200,
                              .close_after = 1};
  run(&fx->loop, &plan);
  got_as_written(&plan);
  assert_int_equal(attr_int(client_span(fx, "http://h/tw"), "http.response.status_code"), 200);
}

/* The server closes in the middle of the body: error.type says how the read ended. */
static void test_closed_mid_response(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {.w = {{"GET /cut HTTP/1.1\r\nHost: h\r\n\r\n"}},
                              .heads = 1,
                              .response = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
                              .close_after = 1};
  run(&fx->loop, &plan);
  const uvotel_span_data_t *d = client_span(fx, "http://h/cut");
  assert_string_equal(attr_str(d, "error.type"), "EOF");
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
  assert_null(attr(d, "http.response.status_code"));
}

/* A header line without a colon: given up, no span, nothing inserted into what follows; the
 * same for lines that only look like HTTP/0.9. */
static void test_malformed_given_up(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {
      .w = {{"GET /bad HTTP/1.1\r\nNo colon here\r\n\r\n"}, {"GET /next HTTP/1.1\r\n\r\n"}},
      .heads = 2,
      .response = OK200 OK200,
      .close_after = 1};
  run(&fx->loop, &plan);
  got_as_written(&plan);
  assert_int_equal(n_client_spans(fx), 0);
  /* Lines that libhttp-parser would take for HTTP/0.9 requests (another line protocol). */
  static const plan_t nine = {
      .w = {{"GET /key\r\n\r\n"}}, .heads = 1, .response = "+OK\r\n", .close_after = 1};
  run(&fx->loop, &nine);
  got_as_written(&nine);
  assert_int_equal(n_client_spans(fx), 0);
}

/* Not an HTTP stream at all, and the http category off: bytes as written, no span. */
static void test_other_bytes_and_category_off(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t binary = {
      .w = {{"\x16\x03\x01\x02\x05\r\n\r\n"}}, .heads = 1, .response = "x", .close_after = 1};
  run(&fx->loop, &binary);
  got_as_written(&binary);
  enable(UVOTEL_INSTRUMENT_NET);
  static const plan_t off = {.w = {{"GET /off HTTP/1.1\r\nHost: h\r\n\r\n"}},
                             .heads = 1,
                             .response = OK200,
                             .close_after = 1};
  run(&fx->loop, &off);
  got_as_written(&off);
  assert_int_equal(n_client_spans(fx), 1); /* tcp connect only */
  assert_string_equal(uvotel_span_data_name(uvotel_memory_exporter_get(fx->mem, 0)), "tcp connect");
}

/* A pipe the program connected is a client stream too. */
static void test_pipe_client(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_HTTP);
  static const plan_t plan = {.w = {{"DELETE /p HTTP/1.0\r\nHost: svc\r\n\r\n"}},
                              .heads = 1,
                              .response = "HTTP/1.0 204 No Content\r\n\r\n",
                              .close_after = 1,
                              .pipe = 1};
  run(&fx->loop, &plan);
  const uvotel_span_data_t *d = client_span(fx, "http://svc/p");
  assert_string_equal(uvotel_span_data_name(d), "DELETE");
  assert_string_equal(attr_str(d, "network.protocol.version"), "1.0");
  assert_string_equal(attr_str(d, "server.address"), "svc");
  assert_int_equal(attr_int(d, "http.response.status_code"), 204);
  char tp[128], want[256];
  tp_line(d, tp, sizeof tp);
  snprintf(want, sizeof want, "DELETE /p HTTP/1.0\r\n%sHost: svc\r\n\r\n", tp);
  got_is(want);
}

/* Without UVOTEL_AUTO_SPANS_ROOTS a request made outside any span gets no span and goes out as
 * written (responses still matched); the same request under a span gets both. */
static void test_no_root_without_roots_flag(void **state) {
  fx_t *fx = *state;
  enable_flags(UVOTEL_INSTRUMENT_HTTP, 0);
  static const plan_t plan = {.w = {{"GET /r HTTP/1.1\r\nHost: h\r\n\r\n"}},
                              .heads = 1,
                              .response = OK200,
                              .close_after = 1};
  run(&fx->loop, &plan);
  got_as_written(&plan);
  assert_int_equal(n_client_spans(fx), 0);
  uvotel_span_t *parent = uvotel_span_start(fx->tracer, "parent", NULL);
  uvotel_scope_t ps;
  assert_int_equal(uvotel_span_enter(parent, &ps), 0);
  run(&fx->loop, &plan);
  assert_int_equal(uvotel_scope_exit(&ps), 0);
  uvotel_span_end(parent);
  const uvotel_span_data_t *d = client_span(fx, "http://h/r");
  char tp[128], want[256];
  tp_line(d, tp, sizeof tp);
  snprintf(want, sizeof want, "GET /r HTTP/1.1\r\n%sHost: h\r\n\r\n", tp);
  got_is(want);
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var();    /* created once per process, on first use: not a leak */
  (void)uvotel_baggage_var(); /* the same */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_insert_after_request_line, setup, teardown),
      cmocka_unit_test_setup_teardown(test_existing_traceparent_untouched, setup, teardown),
      cmocka_unit_test_setup_teardown(test_own_baggage_line_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_split_and_pipelined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_try_write_not_modified, setup, teardown),
      cmocka_unit_test_setup_teardown(test_closed_mid_response, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed_given_up, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other_bytes_and_category_off, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pipe_client, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_root_without_roots_flag, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
