/* The new wrappers on a plain program, three ways: tests/support/plain_io_prog (plain libuv:
 * unix socket, UDP, spawn, poll, signal, prepare, random) run as is, under libuvotel_preload.so
 * and built with uv_redirect.h prints the same, and in both instrumented runs the accepted
 * connection's SERVER span is the parent of the UDP send and the spawn made in its read
 * callback. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_preload_io.d"
#define OUT_FILE TMPDIR "/spans.jsonl"
#define OUT_FILE_WRAPPED TMPDIR "/spans-wrapped.jsonl"

/* Run the program with the environment cleared of uvotel's and the preload's variables plus
 * extra; its stdout into *out. Returns the exit status (128 + signal when killed), or -1. */
static int run(const char *prog, const char *const *extra, char **out) {
  char *argv[] = {(char *)prog, NULL};
  char *envp[256];
  prun_env(envp, NULL, extra);
  return prun_capture(argv, envp, 0, out, NULL);
}

/* name -> span object (the last of that name), and "#name" -> how many spans have the name */
static json_t *load(const char *path) {
  json_t *all = spans_load(path);
  if (all == NULL) return NULL;
  json_t *by_name = json_object();
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    const char *name = span_str(sp, "name");
    json_object_set(by_name, name, sp);
    char key[96];
    snprintf(key, sizeof key, "#%s", name);
    json_t *n = json_object_get(by_name, key);
    json_object_set_new(by_name, key, json_integer(n != NULL ? json_integer_value(n) + 1 : 1));
  }
  json_decref(all);
  return by_name;
}

/* The attribute's value as text (strings as is, ints as their decimal string), or "". */
static const char *attr(json_t *sp, const char *key) {
  const char *v = span_attr(sp, key);
  return v != NULL ? v : "";
}

/* The spans of one run: the accepted connection's SERVER span is the parent of the UDP send and
 * the spawn made in its read callback; the semantic-convention attributes. */
static void check_spans(const char *path) {
  json_t *spans = load(path);
  assert_non_null(spans);
  json_t *accept = json_object_get(spans, "pipe accept");
  json_t *connect = json_object_get(spans, "pipe connect");
  json_t *udp = json_object_get(spans, "udp send");
  json_t *spawn = json_object_get(spans, "spawn true");
  assert_non_null(accept);
  assert_non_null(connect);
  assert_non_null(udp);
  assert_non_null(spawn);
  assert_int_equal(json_integer_value(json_object_get(accept, "kind")), 2);  /* SERVER */
  assert_int_equal(json_integer_value(json_object_get(connect, "kind")), 3); /* CLIENT */
  assert_string_equal(span_str(udp, "parentSpanId"), span_str(accept, "spanId"));
  assert_string_equal(span_str(spawn, "parentSpanId"), span_str(accept, "spanId"));
  assert_string_equal(span_str(udp, "traceId"), span_str(accept, "traceId"));
  /* the echo server's reply is sent outside any trace: CLIENT-side UDP spans need a parent */
  assert_int_equal(json_integer_value(json_object_get(spans, "#udp send")), 1);
  assert_string_equal(attr(udp, "network.transport"), "udp");
  assert_string_equal(attr(udp, "network.peer.address"), "127.0.0.1");
  assert_string_equal(attr(connect, "network.transport"), "unix");
  assert_non_null(strstr(attr(connect, "network.peer.address"), "/tmp/uvotel-plainio-"));
  assert_string_equal(attr(accept, "network.peer.address"), attr(connect, "network.peer.address"));
  assert_string_equal(attr(spawn, "process.executable.name"), "true");
  assert_string_equal(attr(spawn, "process.exit.code"), "0");
  json_decref(spans);
}

static const char *const EXPECTED =
    "pipe 1\nudp 1\nspawn exit 0\npoll 1\nsignal 1\nprepare 1\nrandom 1\nloop close 0\n";

static void test_plain(void **state) {
  (void)state;
  char *out = NULL;
  assert_int_equal(run(PLAIN_IO_PROG, NULL, &out), 0);
  assert_string_equal(out, EXPECTED);
  free(out);
}

static void test_under_preload(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE);
  const char *env[] = {PRELOAD_ENV_FILE(OUT_FILE), NULL};
  char *out = NULL;
  assert_int_equal(run(PLAIN_IO_PROG, env, &out), 0);
  assert_string_equal(out, EXPECTED); /* behaves identically */
  free(out);
  check_spans(OUT_FILE);
}

static void test_with_redirect(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE_WRAPPED);
  const char *env[] = {"MECH_SPANS=" OUT_FILE_WRAPPED, NULL};
  char *out = NULL;
  assert_int_equal(run(PLAIN_IO_PROG_WRAPPED, env, &out), 0);
  assert_string_equal(out, EXPECTED);
  free(out);
  check_spans(OUT_FILE_WRAPPED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_under_preload),
      cmocka_unit_test(test_with_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
