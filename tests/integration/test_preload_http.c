/* Issue 12: an unmodified libuv HTTP/1.1 server under the preload gets one SERVER span per
 * request. tests/integration/preload/http_prog.c (plain libuv, no uvotel header) serves three
 * keep-alive requests, four pipelined ones and a malformed one, each sent with a traceparent
 * whose span id is its number. Under the preload with UVOTEL_INSTRUMENT=all:
 *   - each of the 7 well-formed requests gives exactly one span named by its method (PURGE:
 *     "_OTHER" with http.request.method_original), kind SERVER, in the sent trace, whose parent
 *     is the sent span id, with url.path/query, status code, version, user agent, client and
 *     server address; /fail (500) has status ERROR and error.type "500";
 *   - the fs stat each keep-alive request makes from its read callback is a child of its span;
 *   - the malformed request gives no span, and every client gets what it gets without uvotel;
 *   - each well-formed request is also a CLIENT span on the client's side (sent unchanged).
 * With UVOTEL_INSTRUMENT=fs,net (no http) no request span is made. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_http.d"
#define SPANS DIR "/spans.jsonl"
#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"

/* Run prog [mode]: plain (instrument and env NULL), under the preload with
 * UVOTEL_INSTRUMENT=instrument and spans to SPANS, or with env; returns its sorted stdout and,
 * when err is not NULL, its stderr in *err (free both). */
static char *run_prog(const char *prog, const char *mode, const char *tag, const char *instrument,
                      const char *const *env, char **err) {
  const char *argv[] = {prog, mode, NULL};
  char inst[64];
  snprintf(inst, sizeof inst, "UVOTEL_INSTRUMENT=%s", instrument != NULL ? instrument : "");
  const char *pre[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,  inst,         "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" SPANS, PRELOAD_ASAN, NULL};
  prun_t r;
  unlink(SPANS);
  preload_run(&r, DIR, tag, argv, instrument != NULL ? pre : env);
  if (!prun_ok(&r)) fprintf(stderr, "%s: %s\n", tag, r.err);
  assert_true(prun_ok(&r));
  assert_non_null(strstr(r.out, "loop close 0\n"));
  char *s = prun_sorted_lines(r.out);
  if (err != NULL) {
    *err = r.err;
    r.err = NULL;
  }
  prun_free(&r);
  return s;
}

static char *run(const char *tag, const char *instrument) {
  return run_prog(HTTP_PROG_PLAIN, NULL, tag, instrument, NULL, NULL);
}

typedef struct want_s {
  const char *id, *name, *method, *original, *path, *query, *status;
} want_t;

static const want_t k_want[] = {
    {"0000000000000001", "GET", "GET", NULL, "/ka/1", "x=1", "200"},
    {"0000000000000002", "POST", "POST", NULL, "/ka/2", NULL, "200"},
    {"0000000000000003", "GET", "GET", NULL, "/fail", NULL, "500"},
    {"0000000000000004", "GET", "GET", NULL, "/p/1", NULL, "200"},
    {"0000000000000005", "HEAD", "HEAD", NULL, "/p/2", NULL, "200"},
    {"0000000000000006", "_OTHER", "_OTHER", "PURGE", "/p/3", NULL, "200"},
    {"0000000000000007", "GET", "GET", NULL, "/chunked", NULL, "200"},
};

static void attr_is(json_t *sp, const char *key, const char *want) {
  const char *v = span_attr(sp, key);
  if (want == NULL) {
    assert_null(v);
    return;
  }
  if (v == NULL || strcmp(v, want) != 0) {
    fprintf(stderr, "%s: %s = %s, want %s\n", span_str(sp, "name"), key, v ? v : "(none)", want);
    fail();
  }
}

/* How many spans are named name. */
static size_t count_named(json_t *all, const char *name) {
  size_t i, n = 0;
  json_t *sp;
  json_array_foreach(all, i, sp) n += strcmp(span_str(sp, "name"), name) == 0;
  return n;
}

static void test_http_spans_under_preload(void **state) {
  (void)state;
  char *plain = run("plain", NULL);
  char *pre = run("preload", "all");
  assert_string_equal(pre, plain); /* every client got the same bytes */
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  /* A and B were followed to their close with nothing started under their accept spans: none
   * exported; C's detector gave up, so C keeps its tcp accept span. */
  assert_int_equal(count_named(all, "tcp accept"), 1);
  size_t nreq = 0, ncli = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    json_int_t kind = json_integer_value(json_object_get(sp, "kind"));
    if (span_attr(sp, "http.request.method") != NULL && kind == 2) nreq++;
    if (span_attr(sp, "http.request.method") != NULL && kind == 3) ncli++;
    const char *path = span_attr(sp, "url.path");
    assert_true(path == NULL || strcmp(path, "/malformed") != 0); /* given up: no span */
  }
  assert_int_equal(nreq, sizeof k_want / sizeof k_want[0]);
  /* The clients' requests are CLIENT spans too (they carry their own traceparent, so they are
   * sent unchanged and the SERVER spans' parents are the sent ids); the malformed one: none. */
  assert_int_equal(ncli, sizeof k_want / sizeof k_want[0]);
  for (size_t k = 0; k < sizeof k_want / sizeof k_want[0]; k++) {
    const want_t *w = &k_want[k];
    json_t *s = span_find(all, w->name, "url.path", w->path);
    if (s == NULL) fprintf(stderr, "no span for %s\n", w->path);
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "kind")), 2); /* SERVER */
    assert_string_equal(span_str(s, "traceId"), TRACE);
    assert_string_equal(span_str(s, "parentSpanId"), w->id);
    attr_is(s, "http.request.method", w->method);
    attr_is(s, "http.request.method_original", w->original);
    attr_is(s, "url.query", w->query);
    attr_is(s, "url.scheme", "http");
    attr_is(s, "http.response.status_code", w->status);
    attr_is(s, "network.protocol.version", "1.1");
    attr_is(s, "user_agent.original", "uvtest/1");
    attr_is(s, "client.address", "127.0.0.1");
    attr_is(s, "server.address", "127.0.0.1");
    assert_non_null(span_attr(s, "client.port"));
    assert_non_null(span_attr(s, "server.port"));
    json_t *st = json_object_get(s, "status");
    json_int_t code = json_integer_value(json_object_get(st, "code"));
    if (strcmp(w->status, "500") == 0) {
      assert_int_equal(code, 2); /* ERROR */
      attr_is(s, "error.type", "500");
    } else {
      assert_int_equal(code, 0);
      attr_is(s, "error.type", NULL);
    }
    /* A keep-alive request's fs stat, made in its read callback, is its child. */
    if (strncmp(w->path, "/ka/", 4) == 0 || strcmp(w->path, "/fail") == 0) {
      char fpath[64];
      snprintf(fpath, sizeof fpath, "/nonexistent.uvotel%s", w->path);
      json_t *fs = span_find(all, "fs stat", "file.path", fpath);
      assert_non_null(fs);
      assert_string_equal(span_str(fs, "parentSpanId"), span_str(s, "spanId"));
      assert_string_equal(span_str(fs, "traceId"), TRACE);
    }
  }
  json_decref(all);
  free(pre);
  free(plain);
}

/* The wrapped build (uv_redirect.h, automatic spans and accept spans as under the preload):
 * the same request spans, and tcp accept only for C (given up). */
static void test_http_spans_redirect(void **state) {
  (void)state;
  char *plain = run("plain3", NULL);
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  unlink(SPANS);
  char *wr = run_prog(HTTP_PROG_REDIRECT, NULL, "redirect", NULL, env, NULL);
  assert_string_equal(wr, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_named(all, "tcp accept"), 1);
  for (size_t k = 0; k < sizeof k_want / sizeof k_want[0]; k++) {
    json_t *s = span_find(all, k_want[k].name, "url.path", k_want[k].path);
    assert_non_null(s);
    assert_string_equal(span_str(s, "parentSpanId"), k_want[k].id);
  }
  json_decref(all);
  free(wr);
  free(plain);
}

/* A span started in the connection callback (the fs stat of `http_prog connstat`) is a child of
 * the connection's tcp accept span, which is then kept: all three connections have theirs, each
 * stat's parent is one of them, and the request spans still continue the sent traces. */
static void test_conn_span_keeps_accept_under_preload(void **state) {
  (void)state;
  char *plain = run_prog(HTTP_PROG_PLAIN, "connstat", "connstat-plain", NULL, NULL, NULL);
  char *pre = run_prog(HTTP_PROG_PLAIN, "connstat", "connstat-preload", "all", NULL, NULL);
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_named(all, "tcp accept"), 3);
  size_t i, nstat = 0;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    const char *path = span_attr(sp, "file.path");
    if (path == NULL || strcmp(path, "/nonexistent.uvotel/conn") != 0) continue;
    nstat++;
    size_t j;
    json_t *acc, *parent = NULL;
    json_array_foreach(all, j, acc) {
      if (strcmp(span_str(acc, "spanId"), span_str(sp, "parentSpanId")) == 0) parent = acc;
    }
    assert_non_null(parent);
    assert_string_equal(span_str(parent, "name"), "tcp accept");
  }
  assert_int_equal(nstat, 3);
  for (size_t k = 0; k < sizeof k_want / sizeof k_want[0]; k++) {
    json_t *s = span_find(all, k_want[k].name, "url.path", k_want[k].path);
    assert_non_null(s);
    assert_string_equal(span_str(s, "parentSpanId"), k_want[k].id);
  }
  json_decref(all);
  free(pre);
  free(plain);
}

/* `http_prog adopt`: the same connections made outside libuv and adopted with uv_tcp_open on
 * both ends (`pipeadopt`: unix socket pairs adopted with uv_pipe_open). The server ends read
 * first (served: a SERVER span per request continuing the sent trace), the client ends write
 * first (clients: a CLIENT span per request); no tcp accept. prog run in mode with instrument
 * (the preload) or env (the uv_redirect.h build). */
static void check_adopted(const char *mode, const char *tag, const char *prog,
                          const char *instrument, const char *const *env) {
  char *plain = run_prog(HTTP_PROG_PLAIN, mode, "adopt-plain", NULL, NULL, NULL);
  char *pre = run_prog(prog, mode, tag, instrument, env, NULL);
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_named(all, "tcp accept"), 0);
  size_t i, nsrv = 0, ncli = 0;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (span_attr(sp, "http.request.method") == NULL) continue;
    json_int_t kind = json_integer_value(json_object_get(sp, "kind"));
    nsrv += kind == 2;
    ncli += kind == 3;
  }
  assert_int_equal(nsrv, sizeof k_want / sizeof k_want[0]);
  assert_int_equal(ncli, sizeof k_want / sizeof k_want[0]);
  for (size_t k = 0; k < sizeof k_want / sizeof k_want[0]; k++) {
    json_t *s = span_find(all, k_want[k].name, "url.path", k_want[k].path);
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "kind")), 2);
    assert_string_equal(span_str(s, "parentSpanId"), k_want[k].id);
    assert_string_equal(span_attr(s, "http.response.status_code"), k_want[k].status);
  }
  json_decref(all);
  free(pre);
  free(plain);
}

static void test_adopted_sockets_under_preload(void **state) {
  (void)state;
  check_adopted("adopt", "adopt-preload", HTTP_PROG_PLAIN, "all", NULL);
}

static void test_adopted_pipes(void **state) {
  (void)state;
  check_adopted("pipeadopt", "padopt-preload", HTTP_PROG_PLAIN, "all", NULL);
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  check_adopted("pipeadopt", "padopt-redirect", HTTP_PROG_REDIRECT, NULL, env);
}

/* Without the http category the requests make no spans (the connections keep tcp accept). */
static void test_http_off_without_category(void **state) {
  (void)state;
  char *plain = run("plain2", NULL);
  char *pre = run("nohttp", "fs,net");
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) assert_null(span_attr(sp, "http.request.method"));
  assert_non_null(span_find(all, "tcp accept", NULL, NULL));
  json_decref(all);
  free(pre);
  free(plain);
}

/* ---- client side: `http_prog client` (plain libuv clients without traceparent) ---- */

/* The span of this kind (2 SERVER, 3 CLIENT) with attribute key == value. */
static json_t *kind_find(json_t *all, int kind, const char *key, const char *value) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    const char *v = span_attr(sp, key);
    if (json_integer_value(json_object_get(sp, "kind")) == kind && v != NULL &&
        strcmp(v, value) == 0) {
      return sp;
    }
  }
  fprintf(stderr, "no span of kind %d with %s = %s\n", kind, key, value);
  fail();
  return NULL;
}

static void same_str(const char *what, const char *got, const char *want) {
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "%s: %s, want %s\n", what, got, want);
    fail();
  }
}

/* What the server got for path (the "echo <path> inserted 00-<trace>-<span>-<flags>" line):
 * trace and span id of the traceparent inserted into it. */
static void inserted_tp(const char *err, const char *path, char trace[33], char span[17]) {
  char key[128];
  snprintf(key, sizeof key, "echo %s inserted 00-", path);
  const char *p = strstr(err, key);
  if (p == NULL) fprintf(stderr, "nothing inserted into %s:\n%s\n", path, err);
  assert_non_null(p);
  p += strlen(key);
  memcpy(trace, p, 32);
  trace[32] = '\0';
  memcpy(span, p + 33, 16);
  span[16] = '\0';
}

static const char *const k_inserted[] = {"/echo/d1", "/echo/d2", "/echo/d3", "/echo/e1",
                                         "/echo/e2", "/echo/e3", "/echo/f1", "/echo/f2"};

/* N keep-alive, pipelined and split requests: each one CLIENT span, whose id is the traceparent
 * the server got (nothing else in the request changed) and the parent of the request's SERVER
 * span, in one trace; a request with its own traceparent arrives byte for byte; /fwd's baggage
 * reaches the request the server makes while serving it, whose CLIENT span is a child of the
 * /fwd SERVER span. */
static void check_client_run(const char *plain, const char *out, const char *err) {
  assert_string_equal(out, plain); /* every client saw what it sees without uvotel */
  assert_null(strstr(err, " changed"));
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  size_t ncli = 0, nsrv = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (span_attr(sp, "http.request.method") == NULL) continue;
    json_int_t kind = json_integer_value(json_object_get(sp, "kind"));
    ncli += kind == 3;
    nsrv += kind == 2;
  }
  assert_int_equal(ncli, 11); /* D 3, E 3, F 2, G, H, and the server's own /echo/leaf */
  assert_int_equal(nsrv, 11);
  size_t nacc = 0; /* every accepted connection was followed: no tcp accept span */
  json_array_foreach(all, i, sp) nacc += strcmp(span_str(sp, "name"), "tcp accept") == 0;
  assert_int_equal(nacc, 0);
  for (size_t k = 0; k < sizeof k_inserted / sizeof k_inserted[0]; k++) {
    const char *path = k_inserted[k];
    char trace[33], span[17], url[128];
    inserted_tp(err, path, trace, span);
    snprintf(url, sizeof url, "http://127.0.0.1%s", path);
    json_t *cli = kind_find(all, 3, "url.full", url);
    json_t *srv = kind_find(all, 2, "url.path", path);
    same_str("client span id", span_str(cli, "spanId"), span);
    same_str("client trace", span_str(cli, "traceId"), trace);
    same_str("server parent", span_str(srv, "parentSpanId"), span);
    same_str("server trace", span_str(srv, "traceId"), trace);
    same_str("status", span_attr(cli, "http.response.status_code"), "200");
    same_str("version", span_attr(cli, "network.protocol.version"), "1.1");
    same_str("server.address", span_attr(cli, "server.address"), "127.0.0.1");
    assert_non_null(span_attr(cli, "server.port"));
  }
  /* G had its own traceparent: sent unchanged, the server continues that one. */
  assert_non_null(strstr(err, "echo /echo/g1 exact\n"));
  json_t *g = kind_find(all, 2, "url.path", "/echo/g1");
  same_str("g1 parent", span_str(g, "parentSpanId"), "00000000000000aa");
  same_str("g1 trace", span_str(g, "traceId"), TRACE);
  (void)kind_find(all, 3, "url.full", "http://127.0.0.1/echo/g1");
  /* H: client -> /fwd (server) -> /echo/leaf (client, made while serving) -> server. */
  assert_non_null(strstr(err, "leaf baggage user=alice\n"));
  json_t *hc = kind_find(all, 3, "url.full", "http://127.0.0.1/fwd");
  json_t *hs = kind_find(all, 2, "url.path", "/fwd");
  json_t *lc = kind_find(all, 3, "url.full", "http://127.0.0.1/echo/leaf");
  json_t *ls = kind_find(all, 2, "url.path", "/echo/leaf");
  same_str("fwd server parent", span_str(hs, "parentSpanId"), span_str(hc, "spanId"));
  same_str("leaf client parent", span_str(lc, "parentSpanId"), span_str(hs, "spanId"));
  same_str("leaf server parent", span_str(ls, "parentSpanId"), span_str(lc, "spanId"));
  const char *t = span_str(hc, "traceId");
  same_str("fwd trace", span_str(hs, "traceId"), t);
  same_str("leaf client trace", span_str(lc, "traceId"), t);
  same_str("leaf server trace", span_str(ls, "traceId"), t);
  json_decref(all);
}

static void test_client_to_server_under_preload(void **state) {
  (void)state;
  char *perr, *err;
  char *plain = run_prog(HTTP_PROG_PLAIN, "client", "client-plain", NULL, NULL, &perr);
  assert_null(strstr(perr, "inserted")); /* plain: every request arrives as written */
  char *out = run_prog(HTTP_PROG_PLAIN, "client", "client-preload", "all", NULL, &err);
  check_client_run(plain, out, err);
  free(out);
  free(err);
  free(perr);
  free(plain);
}

static void test_client_to_server_redirect(void **state) {
  (void)state;
  char *perr, *err;
  char *plain = run_prog(HTTP_PROG_PLAIN, "client", "client-plain2", NULL, NULL, &perr);
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  char *out = run_prog(HTTP_PROG_REDIRECT, "client", "client-redirect", NULL, env, &err);
  check_client_run(plain, out, err);
  free(out);
  free(err);
  free(perr);
  free(plain);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http_spans_under_preload),
      cmocka_unit_test(test_http_spans_redirect),
      cmocka_unit_test(test_conn_span_keeps_accept_under_preload),
      cmocka_unit_test(test_adopted_sockets_under_preload),
      cmocka_unit_test(test_adopted_pipes),
      cmocka_unit_test(test_http_off_without_category),
      cmocka_unit_test(test_client_to_server_under_preload),
      cmocka_unit_test(test_client_to_server_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
