/* Issue 12 item 7: the HTTP detector frames most requests and responses without http_parser (a
 * complete head at the start of a read or written buffer, plain enough) and hands everything
 * else to http_parser from that message on. Each case here goes three ways through the
 * detector's ops (uvotel_protocol_http): as the program would (the given pieces), all in one
 * buffer, and one byte per call. One byte per call never gives the fast framing a complete head,
 * so it is http_parser alone: the other two must give the same spans (names, parents, every
 * attribute, status codes, how many ended before the close) as it does; and each case's expected
 * outcome is checked. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "spans_fixture.h"
#include "uvotel/uv_protocols.h"

typedef struct outcome_s {
  int status[8]; /* http.response.status_code of each span in end order, 0: none */
  size_t n;
  size_t at_close; /* spans ended by the close (no complete response seen) */
  int errors;      /* spans with error.type */
} outcome_t;

typedef struct case_s {
  const char *name;
  const char *request;   /* everything the program reads, in one read */
  const char *pieces[6]; /* what it writes, one write per piece */
  outcome_t want;
} case_t;

static int64_t status_of(const uvotel_span_data_t *d, int *error) {
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  int64_t st = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(a[i].key, "http.response.status_code") == 0) st = a[i].value.u.i;
    if (strcmp(a[i].key, "error.type") == 0) *error = 1;
  }
  return st;
}

/* mode 0: the pieces; 1: all in one buffer; 2: one byte per write. */
static outcome_t run(fx_t *fx, const case_t *c, int mode) {
  const uvotel_protocol_ops_t *ops = uvotel_protocol_http();
  uv_pipe_t pipe; /* never opened: open only looks at the type (addresses are TCP only) */
  memset(&pipe, 0, sizeof pipe);
  pipe.type = UV_NAMED_PIPE;
  uvotel_memory_exporter_reset(fx->mem);
  void *conn = ops->open(NULL, (uv_stream_t *)&pipe, fx->tracer);
  assert_non_null(conn);
  uvotel_span_t *cur = NULL;
  assert_int_equal(ops->read(conn, c->request, strlen(c->request), &cur), 0);
  char all[1024];
  size_t len = 0;
  for (size_t i = 0; i < 6 && c->pieces[i] != NULL; i++) {
    size_t l = strlen(c->pieces[i]);
    assert_true(len + l <= sizeof all);
    memcpy(all + len, c->pieces[i], l);
    len += l;
  }
  size_t ended_by_writes = 0;
  if (mode == 0) {
    for (size_t i = 0; i < 6 && c->pieces[i] != NULL; i++) {
      uv_buf_t b = uv_buf_init((char *)c->pieces[i], (unsigned)strlen(c->pieces[i]));
      uvotel_span_t *s = ops->write(conn, &b, 1);
      if (s != NULL) uvotel_span_end(s);
    }
  } else {
    size_t step = mode == 1 ? len : 1;
    for (size_t o = 0; o < len; o += step) {
      uv_buf_t b = uv_buf_init(all + o, (unsigned)(len - o < step ? len - o : step));
      uvotel_span_t *s = ops->write(conn, &b, 1);
      if (s != NULL) uvotel_span_end(s);
    }
  }
  ended_by_writes = uvotel_memory_exporter_count(fx->mem);
  ops->close(conn);
  outcome_t out;
  memset(&out, 0, sizeof out);
  out.n = uvotel_memory_exporter_count(fx->mem);
  assert_true(out.n <= 8);
  out.at_close = out.n - ended_by_writes;
  for (size_t i = 0; i < out.n; i++) {
    int err = 0;
    out.status[i] = (int)status_of(uvotel_memory_exporter_get(fx->mem, i), &err);
    out.errors += err;
  }
  return out;
}

static void same(const char *what, const case_t *c, const outcome_t *got, const outcome_t *want) {
  if (got->n != want->n || got->at_close != want->at_close || got->errors != want->errors ||
      memcmp(got->status, want->status, sizeof got->status) != 0) {
    fprintf(stderr, "%s, %s: %zu spans (%zu at close, %d errors):", c->name, what, got->n,
            got->at_close, got->errors);
    for (size_t i = 0; i < got->n; i++) fprintf(stderr, " %d", got->status[i]);
    fprintf(stderr, "; want %zu (%zu, %d):", want->n, want->at_close, want->errors);
    for (size_t i = 0; i < want->n; i++) fprintf(stderr, " %d", want->status[i]);
    fprintf(stderr, "\n");
    fail();
  }
}

#define GET(p) "GET " p " HTTP/1.1\r\nHost: h\r\n\r\n"
#define OK(body) "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" body

static const case_t k_cases[] = {
    {"one response", GET("/a"), {OK("hello")}, {{200}, 1, 0, 0}},
    {"pipelined, one buffer",
     GET("/a") GET("/b"),
     {OK("hello") "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"},
     {{200, 404}, 2, 0, 0}},
    {"head and body apart", GET("/a"), {OK(""), "hel", "lo"}, {{200}, 1, 0, 0}},
    {"head cut across writes",
     GET("/a") GET("/b"),
     {"HTTP/1.1 200 OK\r\nContent-Le", "ngth: 2\r\n\r\nhi", OK("hello")},
     {{200, 200}, 2, 0, 0}},
    {"chunked, then a length",
     GET("/a") GET("/b"),
     {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nchun\r\n0\r\n\r\n",
      "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx"},
     {{200, 201}, 2, 0, 0}},
    {"a length, then chunked",
     GET("/a") GET("/b"),
     {OK("hello"), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"},
     {{200, 200}, 2, 0, 0}},
    {"HEAD: no body whatever the length",
     "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n" GET("/b"),
     {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", OK("hello")},
     {{200, 200}, 2, 0, 0}},
    {"100 Continue first",
     GET("/a"),
     {"HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"},
     {{202}, 1, 0, 0}},
    {"204 then 200",
     GET("/a") GET("/b"),
     {"HTTP/1.1 204 No Content\r\n\r\n" OK("hello")},
     {{204, 200}, 2, 0, 0}},
    {"no length: delimited by the close",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "the rest"},
     {{200}, 1, 1, 0}},
    {"500", GET("/a"), {"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\n!"}, {{500}, 1, 0, 1}},
    {"body cut by the close", GET("/a"), {OK("hel")}, {{0}, 1, 1, 0}},
    {"two different lengths",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"},
     {{0}, 1, 1, 0}},
    {"odd spacing and case",
     GET("/a"),
     {"HTTP/1.0 200 OK\r\ncontent-LENGTH: \t 3 \r\nX-A:b\r\n\r\nabc"},
     {{200}, 1, 0, 0}},
    {"no reason phrase",
     GET("/a"),
     {"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"},
     {{200}, 1, 0, 0}},
    {"folded header",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 1\r\n\r\nx"},
     {{200}, 1, 0, 0}},
    {"a response to nothing",
     GET("/a"),
     {OK("hello"), "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
     {{200}, 1, 0, 0}},
    {"bare LF in the head",
     GET("/a"),
     {"HTTP/1.1 200 OK\nContent-Length: 1\n\nx"},
     {{200}, 1, 0, 0}},
    {"an Upgrade offer on a 200",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 1\r\n\r\nx"},
     {{200}, 1, 0, 0}},
    {"a control byte in Connection",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nConnection: k\001\r\nContent-Length: 1\r\n\r\nx"},
     {{0}, 1, 1, 0}},
    {"a bare CR in a value",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 1\r\n\r\nx"},
     {{0}, 1, 1, 0}},
    {"a control byte in a value",
     GET("/a"),
     {"HTTP/1.1 200 OK\r\nX-A: \001\r\nContent-Length: 1\r\n\r\nx"},
     {{200}, 1, 0, 0}}, /* http_parser takes it; the fast framing hands it over */
    /* Heads after a remembered one (the memo of the connection's last head, by line). */
    {"the same head again and again",
     GET("/a") GET("/b") GET("/c"),
     {OK("hello"), OK("hello"), OK("hello")},
     {{200, 200, 200}, 3, 0, 0}},
    {"a remembered head, one line changed at a time",
     GET("/a") GET("/b") GET("/c") GET("/d"),
     {"HTTP/1.1 200 OK\r\nDate: 1\r\nContent-Length: 1\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nDate: 2\r\nContent-Length: 1\r\n\r\ny",
      "HTTP/1.1 404 Not Found\r\nDate: 2\r\nContent-Length: 1\r\n\r\nz",
      "HTTP/1.1 200 OK\r\nDate: 2\r\nContent-Length: 12\r\n\r\nhello, world"},
     {{200, 200, 404, 200}, 4, 0, 0}},
    {"a remembered length line twice",
     GET("/a") GET("/b"),
     {OK("hello"), "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
     {{200, 0}, 2, 1, 0}},
    {"a new length line, then a remembered one",
     GET("/a") GET("/b"),
     {"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 5\r\n\r\nhello",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
     {{200, 0}, 2, 1, 0}},
    {"a remembered start line, then no length",
     GET("/a") GET("/b"),
     {OK("hello"), "HTTP/1.1 200 OK\r\n\r\n", "the rest"},
     {{200, 200}, 2, 1, 0}},
    {"a remembered head cut across writes",
     GET("/a") GET("/b") GET("/c"),
     {OK("hello"), "HTTP/1.1 200 OK\r\nContent-Le", "ngth: 5\r\n\r\nhello", OK("hello")},
     {{200, 200, 200}, 3, 0, 0}},
    {"a remembered line, then the same with a control byte",
     GET("/a") GET("/b"),
     {"HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 1\r\n\r\nx",
      "HTTP/1.1 200 OK\r\nX-A: b\001\r\nContent-Length: 1\r\n\r\nx"},
     {{200, 0}, 2, 1, 0}},
    {"a remembered head, then chunked with the same start",
     GET("/a") GET("/b") GET("/c"),
     {OK("hello"), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n",
      OK("hello")},
     {{200, 200, 200}, 3, 0, 0}},
};

static void test_fast_framing_matches_http_parser(void **state) {
  fx_t *fx = *state;
  for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
    const case_t *c = &k_cases[i];
    outcome_t slow = run(fx, c, 2), pieces = run(fx, c, 0), whole = run(fx, c, 1);
    same("one byte per write (http_parser)", c, &slow, &c->want);
    same("the pieces", c, &pieces, &slow);
    same("one buffer", c, &whole, &slow);
  }
}

/* Several buffers in one write: the response's head in one, its body in the next two. */
static void test_fast_framing_buffer_list(void **state) {
  fx_t *fx = *state;
  const uvotel_protocol_ops_t *ops = uvotel_protocol_http();
  uv_pipe_t pipe;
  memset(&pipe, 0, sizeof pipe);
  pipe.type = UV_NAMED_PIPE;
  void *conn = ops->open(NULL, (uv_stream_t *)&pipe, fx->tracer);
  assert_non_null(conn);
  uvotel_span_t *cur = NULL;
  const char *req = GET("/a") GET("/b");
  assert_int_equal(ops->read(conn, req, strlen(req), &cur), 0);
  uv_buf_t b[3] = {uv_buf_init("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n", 38),
                   uv_buf_init("ab", 2),
                   uv_buf_init("cdHTTP/1.1 203 X\r\nContent-Length: 0\r\n\r\n", 39)};
  uvotel_span_t *s = ops->write(conn, b, 3);
  assert_non_null(s); /* the second; the first was ended inside the write */
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1);
  uvotel_span_end(s);
  ops->close(conn);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 2);
  int err = 0;
  assert_int_equal(status_of(uvotel_memory_exporter_get(fx->mem, 0), &err), 200);
  assert_int_equal(status_of(uvotel_memory_exporter_get(fx->mem, 1), &err), 203);
}

/* ---- requests ---- */

typedef struct rcase_s {
  const char *name;
  const char *pieces[6]; /* what the program reads, one read per piece */
  size_t want_spans;
  const char *want_sig; /* a substring of the spans' signature, or NULL */
} rcase_t;

/* Every span, one line each: name, parent span id, attributes in order, then the status. */
static void signature(fx_t *fx, char *out, size_t cap) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < uvotel_memory_exporter_count(fx->mem); i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, i);
    uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
    o += (size_t)snprintf(out + o, cap - o, "%s|", uvotel_span_data_name(d));
    for (int b = 0; b < 8; b++) o += (size_t)snprintf(out + o, cap - o, "%02x", pid.bytes[b]);
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
    for (size_t k = 0; k < n; k++) {
      if (a[k].value.type == UVOTEL_VALUE_STRING) {
        o += (size_t)snprintf(out + o, cap - o, "|%s=%s", a[k].key, a[k].value.u.s);
      } else {
        o += (size_t)snprintf(out + o, cap - o, "|%s=%lld", a[k].key, (long long)a[k].value.u.i);
      }
    }
    o += (size_t)snprintf(out + o, cap - o, "\n");
    assert_true(o < cap);
  }
}

/* A detector connection on a pipe (never opened: open only looks at the type), the memory
 * exporter emptied first. */
static void *open_conn(fx_t *fx, uv_pipe_t *pipe) {
  memset(pipe, 0, sizeof *pipe);
  pipe->type = UV_NAMED_PIPE;
  uvotel_memory_exporter_reset(fx->mem);
  void *conn = uvotel_protocol_http()->open(NULL, (uv_stream_t *)pipe, fx->tracer);
  assert_non_null(conn);
  return conn;
}

static size_t run_req(fx_t *fx, const rcase_t *c, int mode, char *sig, size_t cap) {
  const uvotel_protocol_ops_t *ops = uvotel_protocol_http();
  uv_pipe_t pipe;
  void *conn = open_conn(fx, &pipe);
  char all[8192];
  size_t len = 0;
  for (size_t i = 0; i < 6 && c->pieces[i] != NULL; i++) {
    size_t l = strlen(c->pieces[i]);
    assert_true(len + l <= sizeof all);
    memcpy(all + len, c->pieces[i], l);
    len += l;
  }
  int dead = 0;
  uvotel_span_t *cur;
  if (mode == 0) {
    for (size_t i = 0; i < 6 && c->pieces[i] != NULL && !dead; i++) {
      cur = NULL;
      dead = ops->read(conn, c->pieces[i], strlen(c->pieces[i]), &cur) < 0;
    }
  } else {
    size_t step = mode == 1 ? len : 1;
    for (size_t o = 0; o < len && !dead; o += step) {
      cur = NULL;
      dead = ops->read(conn, all + o, len - o < step ? len - o : step, &cur) < 0;
    }
  }
  static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  for (int i = 0; i < 4; i++) {
    uv_buf_t b = uv_buf_init((char *)resp, sizeof resp - 1);
    uvotel_span_t *s = ops->write(conn, &b, 1);
    if (s != NULL) uvotel_span_end(s);
  }
  ops->close(conn);
  signature(fx, sig, cap);
  return uvotel_memory_exporter_count(fx->mem);
}

#define TP_VALUE ": 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
#define TP "traceparent" TP_VALUE "\r\n"

#define HOST_L                                                                \
  "GET|0000000000000000|http.request.method=GET|url.scheme=http|url.path=/a|" \
  "network.protocol.version=1.1"

static const rcase_t k_rcases[] = {
    {"attributes",
     {"GET /a?x=1 HTTP/1.1\r\nHost: h:8080\r\nUser-Agent:  ua/1 \r\n" TP "\r\n"},
     1,
     "GET|00f067aa0ba902b7|http.request.method=GET|url.scheme=http|url.path=/a|url.query=x=1|"
     "network.protocol.version=1.1|user_agent.original=ua/1 |server.address=h|server.port=8080|"
     "http.response.status_code=200"},
    {"pipelined", {GET("/a") GET("/b") GET("/c")}, 3, "url.path=/c"},
    {"a body by length",
     {"POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhe", "llo" GET("/g")},
     2,
     "url.path=/g"},
    {"a chunked body",
     {"POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" GET("/g")},
     2,
     "url.path=/g"},
    {"a method not in the fast list", {"PURGE /x HTTP/1.1\r\n\r\n"}, 1, "method_original=PURGE"},
    {"upgrade", {"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"}, 0, NULL},
    {"absolute form", {"GET http://h:81/x?q HTTP/1.1\r\nHost: h:81\r\n\r\n"}, 1, "url.path=/x"},
    {"HTTP/1.0", {"GET /old HTTP/1.0\r\n\r\n"}, 1, "network.protocol.version=1.0"},
    {"a line without a colon", {"GET /a HTTP/1.1\r\nBad Header\r\n\r\n"}, 0, NULL},
    {"an empty value", {"GET /a HTTP/1.1\r\nX-E:\r\nHost: h\r\n\r\n"}, 1, "server.address=h"},
    {"a bad port", {"GET /a HTTP/1.1\r\nHost: h:99999\r\n\r\n"}, 1, NULL},
    {"a head cut across reads",
     {"GET /a HTTP/1.1\r\nHo", "st: h\r\n\r\n" GET("/b")},
     2,
     "url.path=/b"},
    {"a length and chunked",
     {"POST /p HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
     0,
     NULL},
    {"other methods",
     {"DELETE /d HTTP/1.1\r\n\r\nOPTIONS /o HTTP/1.1\r\n\r\nPATCH /p HTTP/1.1\r\n\r\n"},
     3,
     "PATCH|"},
    {"lower-case method", {"get /a HTTP/1.1\r\n\r\n"}, 0, NULL},
    {"a target with a space", {"GET /a b HTTP/1.1\r\n\r\n"}, 0, NULL},
    {"a fragment", {"GET /a#f HTTP/1.1\r\n\r\n"}, 1, "url.path=/a|network"},
    {"query with ? and a fragment",
     {"GET /a?b?c#d?e HTTP/1.1\r\n\r\n"},
     1,
     "url.path=/a|url.query=b?c|network"},
    {"an empty User-Agent", {"GET /a HTTP/1.1\r\nUser-Agent:\r\n\r\n"}, 1, "user_agent.original=|"},
    {"an empty query", {"GET /a? HTTP/1.1\r\n\r\n"}, 1, "url.path=/a|network"},
    {"escapes", {"GET /p%20q?x=%41 HTTP/1.1\r\n\r\n"}, 1, "url.path=/p%20q|url.query=x=%41|"},
    {"absolute form with a query",
     {"GET http://h/x?q#f HTTP/1.1\r\n\r\n"},
     1,
     "url.path=/x|url.query=q|network"},
    {"a control byte in a value", {"GET /a HTTP/1.1\r\nX-B: u\001v\r\n\r\n"}, 0, NULL},
    {"DEL in a value", {"GET /a HTTP/1.1\r\nX-B: u\x7fv\r\n\r\n"}, 0, NULL},
    {"a control byte in Connection", {"GET /b HTTP/1.1\r\nConnection: k\001\r\n\r\n"}, 0, NULL},
    {"a bare CR in a value", {"GET /a HTTP/1.1\r\nX-A: a\rb\r\n\r\n"}, 0, NULL},
    {"a traceparent in capitals",
     {"GET /a HTTP/1.1\r\nTRACEPARENT" TP_VALUE "\r\n\r\n"},
     1,
     "GET|00f067aa0ba902b7|"},
    {"names as long as the propagation headers, none of them",
     {"GET /a HTTP/1.1\r\nX-Trace-Id1: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
      "X-Baggag: k=v\r\nX-B: 1\r\n\r\n"},
     1,
     "GET|0000000000000000|"},
    {"header names in other cases",
     {"GET /a HTTP/1.1\r\nHosts: x\r\nHOSt: h:82\r\nuSER-aGENT: U\r\nhost: y\r\n\r\n"},
     1,
     "user_agent.original=U|server.address=h|server.port=82|"},
    /* Requests after a remembered one (the memo of the connection's last head, by line). */
    {"the same request again", {GET("/a"), GET("/a"), GET("/a")}, 3, "url.path=/a"},
    {"a remembered request, then one line changed",
     {"GET /a?q HTTP/1.1\r\nHost: h\r\nUser-Agent: u1\r\n\r\n",
      "GET /a?q HTTP/1.1\r\nHost: h\r\nUser-Agent: u1\r\n\r\n",
      "GET /a?q HTTP/1.1\r\nHost: h\r\nUser-Agent: u2\r\n\r\n",
      "GET /b HTTP/1.1\r\nHost: h:81\r\nUser-Agent: u2\r\n\r\n"},
     4,
     "url.path=/b|network.protocol.version=1.1|user_agent.original=u2|server.address=h|"
     "server.port=81"},
    {"another traceparent each time",
     {"GET /a HTTP/1.1\r\nHost: h\r\n" TP "\r\n",
      "GET /a HTTP/1.1\r\nHost: h\r\n"
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01\r\n\r\n"},
     2,
     "GET|b7ad6b7169203331|"},
    {"a remembered length line twice",
     {"POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nab",
      "POST /p HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"},
     1,
     NULL},
    {"a new length line, then a remembered one",
     {"POST /p HTTP/1.1\r\nX-A: b\r\nContent-Length: 2\r\n\r\nab",
      "POST /p HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab"},
     1,
     NULL},
    {"a remembered body length, then none",
     {"POST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nab", "POST /p HTTP/1.1\r\n\r\n", GET("/g")},
     3,
     "url.path=/g"},
    /* The connection keeps the last Host it parsed: each new value is parsed again. */
    {"another Host each time",
     {"GET /a HTTP/1.1\r\nHost: a:1\r\n\r\n", "GET /a HTTP/1.1\r\nHost: b\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: a:1x\r\n\r\n", "GET /a HTTP/1.1\r\nHost: a:1\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: a:12\r\n\r\n", "GET /a HTTP/1.1\r\nHost: [::1]:1\r\n\r\n"},
     6,
     "server.address=a|server.port=1|http.response.status_code=200\n" HOST_L
     "|server.address=b|http.response.status_code=200\n" HOST_L
     "|http.response.status_code=200\n" HOST_L
     "|server.address=a|server.port=1|http.response.status_code=200\n" HOST_L
     "|server.address=a|server.port=12\n" HOST_L "|server.address=[::1]|server.port=1\n"},
    {"another Host of 8 to 16 bytes, its end changed",
     {"GET /a HTTP/1.1\r\nHost: host.example:1\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: host.example:2\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: host.examplf:2\r\n\r\n"},
     3,
     "server.address=host.example|server.port=1|http.response.status_code=200\n" HOST_L
     "|server.address=host.example|server.port=2|http.response.status_code=200\n" HOST_L
     "|server.address=host.examplf|server.port=2|"},
    {"a remembered request, then more lines, then fewer",
     {GET("/a"), "GET /a HTTP/1.1\r\nHost: h\r\nX-M: 1\r\nUser-Agent: m\r\n\r\n", GET("/a")},
     3,
     "user_agent.original=m"},
};

static void test_fast_request_framing_matches_http_parser(void **state) {
  fx_t *fx = *state;
  static char slow[8192], pieces[8192], whole[8192];
  for (size_t i = 0; i < sizeof k_rcases / sizeof k_rcases[0]; i++) {
    const rcase_t *c = &k_rcases[i];
    size_t ns = run_req(fx, c, 2, slow, sizeof slow);
    size_t np = run_req(fx, c, 0, pieces, sizeof pieces);
    size_t nw = run_req(fx, c, 1, whole, sizeof whole);
    if (ns != c->want_spans || (c->want_sig != NULL && strstr(slow, c->want_sig) == NULL) ||
        np != ns || nw != ns || strcmp(pieces, slow) != 0 || strcmp(whole, slow) != 0) {
      fprintf(stderr,
              "%s: want %zu spans%s%s\nhttp_parser (%zu):\n%spieces (%zu):\n%swhole (%zu):\n%s",
              c->name, c->want_spans, c->want_sig ? " with " : "", c->want_sig ? c->want_sig : "",
              ns, slow, np, pieces, nw, whole);
      fail();
    }
  }
}

/* More header lines than the detector keeps: given up, whichever way they come. */
static void test_fast_request_too_many_headers(void **state) {
  fx_t *fx = *state;
  static char req[4096], slow[8192], whole[8192];
  size_t o = (size_t)snprintf(req, sizeof req, "GET /a HTTP/1.1\r\n");
  for (int i = 0; i < 65; i++) o += (size_t)snprintf(req + o, sizeof req - o, "X-%d: v\r\n", i);
  snprintf(req + o, sizeof req - o, "\r\n");
  rcase_t c = {"65 headers", {req}, 0, NULL};
  assert_int_equal(run_req(fx, &c, 2, slow, sizeof slow), 0);
  assert_int_equal(run_req(fx, &c, 1, whole, sizeof whole), 0);
}

/* A NUL byte in the target or in a header value (the only place the bulk attribute call could
 * see one: it takes values as their lengths, where the setters stopped at a NUL): both the fast
 * framing and http_parser refuse it, whole or one byte per read, so no request gets a span. */
static void test_nul_in_request_refused(void **state) {
  fx_t *fx = *state;
#define NUL_CASE(x) \
  { x, sizeof x - 1 }
  static const struct {
    const char *p;
    size_t n;
  } k[] = {NUL_CASE("GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"),
           NUL_CASE("GET /a HTTP/1.1\r\nHost: h\0x\r\n\r\n"),
           NUL_CASE("GET /a HTTP/1.1\r\nUser-Agent: u\0v\r\n\r\n"),
           NUL_CASE("GET /a?q\0 HTTP/1.1\r\n\r\n")};
  const uvotel_protocol_ops_t *ops = uvotel_protocol_http();
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    const char *head = k[i].p;
    size_t len = k[i].n;
    assert_int_equal(memchr(head, '\0', len) != NULL, 1);
    assert_int_equal(memcmp(head + len - 4, "\r\n\r\n", 4), 0);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
      uv_pipe_t pipe;
      void *conn = open_conn(fx, &pipe);
      int dead = 0;
      size_t step = bytewise ? 1 : len;
      for (size_t o = 0; o < len && !dead; o += step) {
        uvotel_span_t *cur = NULL;
        dead = ops->read(conn, head + o, step, &cur) < 0;
      }
      assert_true(dead);
      ops->close(conn);
      assert_int_equal(uvotel_memory_exporter_count(fx->mem), 0);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nul_in_request_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fast_framing_matches_http_parser, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fast_framing_buffer_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fast_request_framing_matches_http_parser, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_fast_request_too_many_headers, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
