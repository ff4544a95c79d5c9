/* Issue 12: an unmodified libuv DNS-over-UDP responder under the preload gets one SERVER span
 * per query. tests/integration/preload/dns_prog.c (plain libuv) answers three queries (A,
 * AAAA, MX; the MX one NXDOMAIN) and ignores a datagram that is not DNS. Under the preload with
 * UVOTEL_INSTRUMENT=all: exactly three spans "dns query A" / "dns query AAAA" / "dns query MX",
 * kind SERVER, with dns.question.name, client.address and server.address; the NXDOMAIN one has
 * status ERROR and error.type "NXDOMAIN"; the replies' "udp send" spans are their children (the
 * query's span is current in the receive callback); the program prints the same. With
 * UVOTEL_INSTRUMENT=udp (no dns) there are no query spans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_dns.d"
#define SPANS DIR "/spans.jsonl"

static char *run(const char *tag, const char *instrument) {
  const char *argv[] = {DNS_PROG_PLAIN, NULL};
  char inst[64];
  snprintf(inst, sizeof inst, "UVOTEL_INSTRUMENT=%s", instrument);
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,  inst,         "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" SPANS, PRELOAD_ASAN, NULL};
  prun_t r;
  unlink(SPANS);
  preload_run(&r, DIR, tag, argv, instrument != NULL ? env : NULL);
  if (!prun_ok(&r)) fprintf(stderr, "%s: %s\n", tag, r.err);
  assert_true(prun_ok(&r));
  assert_non_null(strstr(r.out, "answer id 3333 rcode 3\n"));
  char *s = strdup(r.out);
  prun_free(&r);
  return s;
}

static size_t count_queries(json_t *all) {
  size_t n = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strncmp(span_str(sp, "name"), "dns query", 9) == 0) n++;
  }
  return n;
}

static void test_dns_spans_under_preload(void **state) {
  (void)state;
  char *plain = run("plain", NULL);
  char *pre = run("preload", "all");
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all), 3);
  static const char *const names[] = {"dns query A", "dns query AAAA", "dns query MX"};
  for (int i = 0; i < 3; i++) {
    json_t *s = span_find(all, names[i], NULL, NULL);
    if (s == NULL) fprintf(stderr, "no %s\n", names[i]);
    assert_non_null(s);
    assert_int_equal(json_integer_value(json_object_get(s, "kind")), 2);
    assert_string_equal(span_attr(s, "dns.question.name"),
                        i == 2 ? "missing.example" : "example.com");
    assert_string_equal(span_attr(s, "client.address"), "127.0.0.1");
    assert_string_equal(span_attr(s, "server.address"), "127.0.0.1");
    json_int_t code = json_integer_value(json_object_get(json_object_get(s, "status"), "code"));
    if (i == 2) {
      assert_int_equal(code, 2);
      assert_string_equal(span_attr(s, "error.type"), "NXDOMAIN");
    } else {
      assert_int_equal(code, 0);
      assert_null(span_attr(s, "error.type"));
    }
    /* the reply, sent from the receive callback, is a child of the query */
    size_t k;
    json_t *c;
    int child = 0;
    json_array_foreach(all, k, c) {
      if (strcmp(span_str(c, "name"), "udp send") == 0 &&
          strcmp(span_str(c, "parentSpanId"), span_str(s, "spanId")) == 0) {
        child++;
      }
    }
    assert_int_equal(child, 1);
  }
  json_decref(all);
  free(pre);
  free(plain);
}

static void test_dns_off_without_category(void **state) {
  (void)state;
  char *plain = run("plain2", NULL);
  char *pre = run("nodns", "udp,fs");
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  if (all != NULL) {
    assert_int_equal(count_queries(all), 0);
    json_decref(all);
  }
  free(pre);
  free(plain);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dns_spans_under_preload),
      cmocka_unit_test(test_dns_off_without_category),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
