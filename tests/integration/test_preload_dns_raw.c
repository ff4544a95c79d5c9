/* Issue 12, as seen in knot-resolver's kresd: a libuv DNS server that receives with
 * uv_udp_recv_start but sends its answers with the socket calls on uv_fileno() (kresd: one
 * sendmmsg per batch, from a check callback), so libuv never sees them.
 * tests/integration/preload/dns_raw_prog.c (plain libuv) answers five queries by sendto,
 * sendmsg (two iovecs), one sendmmsg of two queued answers from a check callback, and send on a
 * connected socket, each with its own response code.
 * Only SERVER spans are looked at (a libuv client's queries may have CLIENT spans of their own).
 *   plain:    the reference output (five answers, loop close 0).
 *   preload:  the same output; five SERVER spans "dns query <type>", each ended by its answer:
 *             error.type SERVFAIL / NXDOMAIN / REFUSED / NOTIMP and status ERROR where the
 *             answer says so, none for the NOERROR one (an unanswered span would have no
 *             error.type: it is only known from the answer).
 *   wrappers: built with uv_redirect.h: the same output; the wrappers cannot see libc's socket
 *             calls, so the five spans are exported when the sockets close, none with a
 *             response code (what uvotel_udp_sent is for; test_uv_udp_sent). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_dns_raw.d"
#define SPANS DIR "/spans.jsonl"

static const char k_expected[] =
    "answer id 1101 rcode 0\n"
    "answer id 1102 rcode 2\n"
    "answer id 1103 rcode 3\n"
    "answer id 1104 rcode 5\n"
    "answer id 1105 rcode 4\n"
    "loop close 0\n";

static const struct {
  const char *span, *name, *error;
} k_queries[] = {
    {"dns query A", "example.com", NULL},
    {"dns query AAAA", "example.com", "SERVFAIL"},
    {"dns query MX", "missing.example", "NXDOMAIN"},
    {"dns query TXT", "example.com", "REFUSED"},
    {"dns query A", "conn.example", "NOTIMP"},
};

static void run(const char *prog, const char *tag, const char *const *env) {
  const char *argv[] = {prog, NULL};
  preload_run_expect(DIR, tag, argv, env, k_expected, SPANS);
}

/* The server's query spans (kind SERVER; the client's own queries may have CLIENT spans). */
static int is_server_query(json_t *sp) {
  return strncmp(span_str(sp, "name"), "dns query", 9) == 0 &&
         json_integer_value(json_object_get(sp, "kind")) == 2;
}

static size_t count_queries(json_t *all) {
  size_t n = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) n += is_server_query(sp);
  return n;
}

static json_t *find_query(json_t *all, const char *span, const char *qname) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    const char *n = span_attr(sp, "dns.question.name");
    if (is_server_query(sp) && strcmp(span_str(sp, "name"), span) == 0 && n != NULL &&
        strcmp(n, qname) == 0) {
      return sp;
    }
  }
  return NULL;
}

static json_int_t status_code(json_t *s) {
  return json_integer_value(json_object_get(json_object_get(s, "status"), "code"));
}

static void test_plain(void **state) {
  (void)state;
  run(DNS_RAW_PROG_PLAIN, "plain", NULL);
}

static void test_answers_outside_libuv_end_spans_under_preload(void **state) {
  (void)state;
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  run(DNS_RAW_PROG_PLAIN, "preload", env);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all), 5);
  for (size_t i = 0; i < sizeof k_queries / sizeof k_queries[0]; i++) {
    json_t *s = find_query(all, k_queries[i].span, k_queries[i].name);
    if (s == NULL) fprintf(stderr, "no %s %s\n", k_queries[i].span, k_queries[i].name);
    assert_non_null(s);
    const char *e = span_attr(s, "error.type");
    if (k_queries[i].error == NULL) {
      assert_null(e);
      assert_int_equal(status_code(s), 0);
    } else {
      if (e == NULL)
        fprintf(stderr, "%s %s: no error.type\n", k_queries[i].span, k_queries[i].name);
      assert_non_null(e);
      assert_string_equal(e, k_queries[i].error);
      assert_int_equal(status_code(s), 2);
    }
  }
  json_decref(all);
}

static void test_wrappers_cannot_see_them(void **state) {
  (void)state;
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  run(DNS_RAW_PROG_REDIRECT, "redirect", env);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all), 5); /* ended when their sockets closed */
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (is_server_query(sp)) assert_null(span_attr(sp, "error.type"));
  }
  json_decref(all);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_answers_outside_libuv_end_spans_under_preload),
      cmocka_unit_test(test_wrappers_cannot_see_them),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
