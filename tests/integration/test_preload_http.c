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

static char *run(const char *tag, const char *instrument) {
  const char *argv[] = {HTTP_PROG_PLAIN, NULL};
  char inst[64];
  snprintf(inst, sizeof inst, "UVOTEL_INSTRUMENT=%s", instrument);
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,  inst,         "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" SPANS, PRELOAD_ASAN, NULL};
  prun_t r;
  unlink(SPANS);
  preload_run(&r, DIR, tag, argv, instrument != NULL ? env : NULL);
  if (!prun_ok(&r)) fprintf(stderr, "%s: %s\n", tag, r.err);
  assert_true(prun_ok(&r));
  assert_non_null(strstr(r.out, "loop close 0\n"));
  char *s = prun_sorted_lines(r.out);
  prun_free(&r);
  return s;
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

static void test_http_spans_under_preload(void **state) {
  (void)state;
  char *plain = run("plain", NULL);
  char *pre = run("preload", "all");
  assert_string_equal(pre, plain); /* every client got the same bytes */
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http_spans_under_preload),
      cmocka_unit_test(test_http_off_without_category),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
