/* Issue 12: an unmodified libuv DNS responder and its clients under the preload
 * (tests/integration/preload/dns_prog.c, plain libuv, no uvotel header).
 *
 * UDP: one SERVER span per query the responder receives (dns.question.name, client.address,
 * server.address; NXDOMAIN as error.type with status ERROR; the reply's "udp send" span its
 * child) and one CLIENT span per query id the clients send (uv_udp_send, uv_udp_try_send, a
 * connected socket): server.address/port the responder, ended by the response; the query the
 * responder ignores ends when its socket closes, error.type "timeout". A truncated query, a
 * datagram that is not DNS and an unsolicited response make no span. DNS carries no trace
 * context, so each SERVER span is a root in a trace of its own, not the client's.
 * TCP: the same over a connection (2-byte length framing, queries and answers split across
 * writes): three CLIENT and three SERVER spans (children of the connection's `tcp accept`, when
 * it has one); the malformed stream makes none. In both, the program prints the same as without the
 * preload; with UVOTEL_INSTRUMENT=udp / net (no dns) there are no query spans. The same checks hold
 * for the program built with uv_redirect.h (the wrappers). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_dns.d"
#define SPANS DIR "/spans.jsonl"

/* Run dns_prog in mode: plain (instrument NULL), under the preload (UVOTEL_INSTRUMENT =
 * instrument), or its uv_redirect.h build (instrument "redirect": the wrappers, everything on);
 * the spans go to SPANS. Returns its output, lines sorted. */
static char *run(const char *tag, const char *mode, const char *instrument) {
  int redirect = instrument != NULL && strcmp(instrument, "redirect") == 0;
  const char *argv[] = {redirect ? DNS_PROG_REDIRECT : DNS_PROG_PLAIN, mode, NULL};
  char inst[64];
  snprintf(inst, sizeof inst, "UVOTEL_INSTRUMENT=%s", instrument);
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,  inst,         "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" SPANS, PRELOAD_ASAN, NULL};
  const char *renv[] = {"MECH_SPANS=" SPANS, NULL};
  prun_t r;
  unlink(SPANS);
  preload_run(&r, DIR, tag, argv, redirect ? renv : instrument != NULL ? env : NULL);
  if (!prun_ok(&r)) fprintf(stderr, "%s: %s\n", tag, r.err);
  assert_true(prun_ok(&r));
  if (strcmp(mode, "tcpfail") != 0) assert_non_null(strstr(r.out, "answer id 3333 rcode 3\n"));
  assert_non_null(strstr(r.out, "loop close 0\n"));
  char *s = prun_sorted_lines(r.out); /* answers of two sockets may come in either order */
  prun_free(&r);
  return s;
}

static size_t count_queries(json_t *all, int kind, const char *transport) {
  size_t n = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strncmp(span_str(sp, "name"), "dns query", 9) != 0) continue;
    if (kind != 0 && json_integer_value(json_object_get(sp, "kind")) != kind) continue;
    const char *t = span_attr(sp, "network.transport");
    if (transport != NULL && (t == NULL || strcmp(t, transport) != 0)) continue;
    n++;
  }
  return n;
}

/* The span named name of this kind whose dns.question.name is qname. */
static json_t *query_span(json_t *all, const char *name, int kind, const char *qname) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    const char *q = span_attr(sp, "dns.question.name");
    if (strcmp(span_str(sp, "name"), name) == 0 &&
        json_integer_value(json_object_get(sp, "kind")) == kind && q != NULL &&
        strcmp(q, qname) == 0) {
      return sp;
    }
  }
  return NULL;
}

/* The attribute key is present (any value type). */
static int has_attr(json_t *sp, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(sp, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) return 1;
  }
  return 0;
}

static json_int_t status_code(json_t *sp) {
  return json_integer_value(json_object_get(json_object_get(sp, "status"), "code"));
}

static size_t children(json_t *all, const char *name, json_t *parent) {
  size_t k, n = 0;
  json_t *c;
  json_array_foreach(all, k, c) {
    if (strcmp(span_str(c, "name"), name) == 0 &&
        strcmp(span_str(c, "parentSpanId"), span_str(parent, "spanId")) == 0) {
      n++;
    }
  }
  return n;
}

typedef struct want_s {
  const char *name, *qname, *error; /* error: the client's error.type, or NULL */
  int answered;                     /* the responder answered (its reply is a child) */
} want_t;

static void check_udp(const char *instrument) {
  char *plain = run("plain", "udp", NULL);
  char *pre = run(instrument, "udp", instrument);
  assert_string_equal(pre, plain); /* the same answers: the program's I/O unchanged */
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  /* 5 queries reached the responder; the truncated one, "not dns" and the unsolicited
   * response make no span on either side */
  assert_int_equal(count_queries(all, 2, "udp"), 5);
  assert_int_equal(count_queries(all, 3, "udp"), 5);
  assert_int_equal(count_queries(all, 0, NULL), 10);
  static const want_t w[] = {
      {"dns query A", "example.com", NULL, 1},
      {"dns query AAAA", "example.com", NULL, 1},
      {"dns query MX", "missing.example", "NXDOMAIN", 1},
      {"dns query TXT", "example.com", NULL, 1},
      {"dns query A", "ignored.example", "timeout", 0},
  };
  const char *server_port = NULL;
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    json_t *s = query_span(all, w[i].name, 2, w[i].qname);
    json_t *c = query_span(all, w[i].name, 3, w[i].qname);
    if (s == NULL || c == NULL) fprintf(stderr, "missing %s %s\n", w[i].name, w[i].qname);
    assert_non_null(s);
    assert_non_null(c);
    /* server side */
    assert_string_equal(span_attr(s, "client.address"), "127.0.0.1");
    assert_string_equal(span_attr(s, "server.address"), "127.0.0.1");
    assert_string_equal(span_str(s, "parentSpanId"), ""); /* a root: no context on the wire */
    int nx = w[i].error != NULL && strcmp(w[i].error, "NXDOMAIN") == 0;
    assert_int_equal(status_code(s), nx ? 2 : 0);
    assert_int_equal(children(all, "udp send", s), w[i].answered ? 1 : 0);
    /* the ignored query's span ended at close, saying no response was seen */
    assert_int_equal(has_attr(s, "uvotel.dns.response_seen"), !w[i].answered);
    /* client side: to the responder, in its own trace */
    assert_string_equal(span_attr(c, "server.address"), "127.0.0.1");
    if (server_port == NULL) server_port = span_attr(s, "server.port");
    assert_string_equal(span_attr(c, "server.port"), server_port);
    assert_string_equal(span_attr(s, "server.port"), server_port);
    assert_string_not_equal(span_str(c, "traceId"), span_str(s, "traceId"));
    assert_string_equal(span_str(c, "parentSpanId"), ""); /* sent from main: a root */
    if (w[i].error != NULL) {
      assert_int_equal(status_code(c), 2);
      assert_string_equal(span_attr(c, "error.type"), w[i].error);
    } else {
      assert_int_equal(status_code(c), 0);
      assert_null(span_attr(c, "error.type"));
    }
  }
  json_decref(all);
  free(pre);
  free(plain);
}

static void check_tcp(const char *instrument) {
  char *plain = run("tplain", "tcp", NULL);
  char *pre = run(instrument, "tcp", instrument);
  assert_string_equal(pre, plain);
  assert_non_null(strstr(pre, "server: dropped a malformed stream\n"));
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all, 2, "tcp"), 3);
  assert_int_equal(count_queries(all, 3, "tcp"), 3);
  assert_int_equal(count_queries(all, 0, NULL), 6); /* none from the malformed stream */
  static const want_t w[] = {
      {"dns query A", "example.com", NULL, 1},
      {"dns query AAAA", "example.com", NULL, 1},
      {"dns query MX", "missing.example", "NXDOMAIN", 1},
  };
  const char *accept_id = NULL;
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
    json_t *s = query_span(all, w[i].name, 2, w[i].qname);
    json_t *c = query_span(all, w[i].name, 3, w[i].qname);
    assert_non_null(s);
    assert_non_null(c);
    /* the server's spans all have the same parent (or none) */
    if (accept_id == NULL) accept_id = span_str(s, "parentSpanId");
    assert_string_equal(span_str(s, "parentSpanId"), accept_id);
    assert_string_equal(span_attr(s, "client.address"), "127.0.0.1");
    assert_string_equal(span_attr(c, "server.address"), "127.0.0.1");
    assert_string_equal(span_attr(c, "server.port"), span_attr(s, "server.port"));
    assert_string_not_equal(span_str(c, "traceId"), span_str(s, "traceId"));
    assert_int_equal(status_code(s), w[i].error != NULL ? 2 : 0);
    assert_int_equal(status_code(c), w[i].error != NULL ? 2 : 0);
    if (w[i].error != NULL) {
      assert_string_equal(span_attr(s, "error.type"), w[i].error);
      assert_string_equal(span_attr(c, "error.type"), w[i].error);
    }
  }
  /* their parent, if any, is the span current at the read: the connection's `tcp accept`
   * (made for every accepted connection under the preload today) */
  if (accept_id[0] != '\0') {
    size_t k;
    json_t *a;
    int found = 0;
    json_array_foreach(all, k, a) {
      if (strcmp(span_str(a, "spanId"), accept_id) == 0) {
        assert_string_equal(span_str(a, "name"), "tcp accept");
        found = 1;
      }
    }
    assert_true(found);
  }
  json_decref(all);
  free(pre);
  free(plain);
}

static void test_dns_udp_under_preload(void **state) {
  (void)state;
  check_udp("all");
}

static void test_dns_tcp_under_preload(void **state) {
  (void)state;
  check_tcp("all");
}

/* The same program built with uv_redirect.h (the wrappers, every category on, roots too): the
 * same spans. */
static void test_dns_udp_with_wrappers(void **state) {
  (void)state;
  check_udp("redirect");
}

static void test_dns_tcp_with_wrappers(void **state) {
  (void)state;
  check_tcp("redirect");
}

/* A connected socket whose peer refuses (ECONNREFUSED in the receive callback, as dig met
 * it): the query's CLIENT span carries that error, under the preload and with the wrappers. */
static void check_refused(const char *instrument) {
  const char *argv[] = {DNS_PROG_PLAIN, "refused", NULL};
  prun_t r;
  preload_run(&r, DIR, "rplain", argv, NULL);
  assert_true(prun_ok(&r));
  char *plain = strdup(r.out);
  prun_free(&r);
  assert_string_equal(plain, "refused: ECONNREFUSED\nloop close 0\n");
  int redirect = strcmp(instrument, "redirect") == 0;
  const char *rargv[] = {redirect ? DNS_PROG_REDIRECT : DNS_PROG_PLAIN, "refused", NULL};
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  const char *renv[] = {"MECH_SPANS=" SPANS, NULL};
  unlink(SPANS);
  preload_run(&r, DIR, instrument, rargv, redirect ? renv : env);
  assert_true(prun_ok(&r));
  assert_string_equal(r.out, plain);
  prun_free(&r);
  free(plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all, 3, "udp"), 1);
  assert_int_equal(count_queries(all, 0, NULL), 1);
  json_t *c = query_span(all, "dns query A", 3, "refused.example");
  assert_non_null(c);
  assert_string_equal(span_attr(c, "error.type"), "ECONNREFUSED");
  assert_int_equal(status_code(c), 2);
  json_decref(all);
}

static void test_dns_refused(void **state) {
  (void)state;
  check_refused("all");
  check_refused("redirect");
}

/* DNS over TCP writes that fail (dns_prog tcpfail): both answers of one write to a reset peer
 * end ERROR with the write's error (the first too, not only the last); an answer and a query
 * whose uv_write libuv refused at once (after uv_shutdown: EPIPE) end at once with EPIPE,
 * not at the close as unanswered. Under the preload and with the wrappers. */
static void check_tcpfail(const char *instrument) {
  char *plain = run("fplain", "tcpfail", NULL);
  assert_string_equal(plain,
                      "client: refused write EPIPE\nloop close 0\n"
                      "server: answers to a reset peer failed\nserver: refused write EPIPE\n");
  char *pre = run(instrument, "tcpfail", instrument);
  assert_string_equal(pre, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_int_equal(count_queries(all, 2, "tcp"), 3); /* the client's refused query: none */
  json_t *a = query_span(all, "dns query A", 2, "reset.example");
  json_t *aaaa = query_span(all, "dns query AAAA", 2, "reset.example");
  json_t *ref = query_span(all, "dns query A", 2, "refused.example");
  json_t *cref = query_span(all, "dns query A", 3, "clientrefused.example");
  assert_non_null(a);
  assert_non_null(aaaa);
  assert_non_null(ref);
  assert_non_null(cref);
  const char *e = span_attr(a, "error.type");
  assert_non_null(e);
  assert_true(strcmp(e, "EPIPE") == 0 || strcmp(e, "ECONNRESET") == 0);
  assert_string_equal(span_attr(aaaa, "error.type"), e);
  assert_int_equal(status_code(a), 2);
  assert_int_equal(status_code(aaaa), 2);
  assert_string_equal(span_attr(ref, "error.type"), "EPIPE");
  assert_int_equal(status_code(ref), 2);
  assert_string_equal(span_attr(cref, "error.type"), "EPIPE");
  assert_int_equal(status_code(cref), 2);
  /* each ended by its write, none at the close as unanswered */
  assert_int_equal(has_attr(a, "uvotel.dns.response_seen"), 0);
  assert_int_equal(has_attr(aaaa, "uvotel.dns.response_seen"), 0);
  assert_int_equal(has_attr(ref, "uvotel.dns.response_seen"), 0);
  json_decref(all);
  free(pre);
  free(plain);
}

static void test_dns_tcp_failed_writes(void **state) {
  (void)state;
  check_tcpfail("all");
  check_tcpfail("redirect");
}

static void test_dns_off_without_category(void **state) {
  (void)state;
  static const char *const modes[] = {"udp", "tcp"};
  for (int i = 0; i < 2; i++) {
    char *plain = run("plain2", modes[i], NULL);
    char *pre = run("nodns", modes[i], "udp,net,fs");
    assert_string_equal(pre, plain);
    json_t *all = spans_load(SPANS);
    if (all != NULL) {
      assert_int_equal(count_queries(all, 0, NULL), 0);
      json_decref(all);
    }
    free(pre);
    free(plain);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dns_udp_under_preload), cmocka_unit_test(test_dns_tcp_under_preload),
      cmocka_unit_test(test_dns_udp_with_wrappers), cmocka_unit_test(test_dns_tcp_with_wrappers),
      cmocka_unit_test(test_dns_refused),           cmocka_unit_test(test_dns_off_without_category),
      cmocka_unit_test(test_dns_tcp_failed_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
