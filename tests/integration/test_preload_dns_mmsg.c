/* Issue 12, as seen in BIND 9's named: UDP sockets made with UV_UDP_RECVMMSG (one receive
 * delivers several datagrams, flagged UV_UDP_MMSG_CHUNK, then a UV_UDP_MMSG_FREE callback with
 * nread 0), one loop per worker thread, libuv called from a shared library rather than the
 * executable (named: libisc), answers sent with a two-buffer uv_udp_send.
 * tests/integration/preload/dns_mmsg_prog.c (plain libuv) queues 24 queries on each of 2
 * sockets before its 2 loops start receiving, so a receive carries chunks.
 *   plain:    the reference output (48 answers, 12 NXDOMAIN, chunks seen, loops close 0).
 *   preload:  the same output; exactly 48 SERVER spans "dns query A", one per query name,
 *             NXDOMAIN on the nx ones, each with exactly one "udp send" child (its answer,
 *             sent from the receive callback of a chunk), on both loops' threads.
 *   wrappers: the program and its responder built with uv_redirect.h: the same output and
 *             the same spans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_dns_mmsg.d"
#define SPANS DIR "/spans.jsonl"
#define SOCKETS 2
#define PER 24

static const char k_expected[] =
    "socket 0: answers 24 nxdomain 6 answered 24 chunked 1\n"
    "socket 1: answers 24 nxdomain 6 answered 24 chunked 1\n"
    "loops close 0\n";

static void run(const char *prog, const char *tag, const char *const *env) {
  const char *argv[] = {prog, NULL};
  preload_run_expect(DIR, tag, argv, env, k_expected, SPANS);
}

/* 48 query spans, one per name, each with its rcode and one answer under it. */
static void check_spans(void) {
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  size_t queries = 0, i, k;
  json_t *sp, *c;
  json_array_foreach(all, i, sp) {
    if (strncmp(span_str(sp, "name"), "dns query", 9) != 0) continue;
    assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 2); /* no client here */
    queries++;
    assert_string_equal(span_str(sp, "name"), "dns query A");
    const char *name = span_attr(sp, "dns.question.name");
    assert_non_null(name);
    const char *e = span_attr(sp, "error.type");
    if (strncmp(name, "nx", 2) == 0) {
      assert_non_null(e);
      assert_string_equal(e, "NXDOMAIN");
    } else {
      assert_null(e);
    }
    int children = 0;
    json_array_foreach(all, k, c) {
      if (strcmp(span_str(c, "name"), "udp send") == 0 &&
          strcmp(span_str(c, "parentSpanId"), span_str(sp, "spanId")) == 0) {
        children++;
        /* the query ends when its answer's send completes, so it covers the send (not ended
         * early by libuv's own sendmsg passing the preload's socket interposers) */
        assert_true(strtoull(span_str(sp, "endTimeUnixNano"), NULL, 10) >=
                    strtoull(span_str(c, "startTimeUnixNano"), NULL, 10));
      }
    }
    assert_int_equal(children, 1);
  }
  assert_int_equal(queries, SOCKETS * PER);
  for (int n = 0; n < PER; n++) { /* every name twice: once per socket */
    char want[16];
    snprintf(want, sizeof want, "%s%d.example", n % 4 == 3 ? "nx" : "q", n);
    int seen = 0;
    json_array_foreach(all, i, sp) {
      const char *name = span_attr(sp, "dns.question.name");
      seen += name != NULL && strcmp(name, want) == 0;
    }
    assert_int_equal(seen, SOCKETS);
  }
  json_decref(all);
}

static void test_plain(void **state) {
  (void)state;
  run(DNS_MMSG_PROG_PLAIN, "plain", NULL);
}

static void test_preload(void **state) {
  (void)state;
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  run(DNS_MMSG_PROG_PLAIN, "preload", env);
  check_spans();
}

static void test_wrappers(void **state) {
  (void)state;
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  run(DNS_MMSG_PROG_REDIRECT, "redirect", env);
  check_spans();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_preload),
      cmocka_unit_test(test_wrappers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
