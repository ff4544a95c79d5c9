/* libuvotel_preload.so on an unmodified program: tests/support/plain_uv_prog (plain libuv, no
 * uvotel header, not linked with uvotel) run with and without the preload prints the same
 * thing, and under the preload leaves the expected spans in the file exporter's OTLP/JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "preload_util.h"
#include "uvotel.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_preload.d"
#define OUT_FILE TMPDIR "/spans.jsonl"
#define INPUT_FILE UVOTEL_SOURCE_DIR "/CMakeLists.txt"

/* Run plain_uv_prog with extra environment entries (NAME=value, NULL-terminated), its stdout
 * into *out (malloc'd). Returns the exit status, or -1. */
static int run(const char *const *extra_env, char **out) {
  const char *argv[] = {PLAIN_UV_PROG, INPUT_FILE, NULL};
  prun_t r;
  preload_run(&r, TMPDIR, "run", argv, extra_env);
  *out = r.out;
  free(r.err);
  return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1;
}

static void test_same_output_and_spans(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE);

  char *plain = NULL;
  assert_int_equal(run(NULL, &plain), 0);
  assert_non_null(strstr(plain, "client got pong\n"));
  assert_non_null(strstr(plain, "loop close 0\n"));

  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_INSTRUMENT=all",
                       "OTEL_SERVICE_NAME=plain-under-preload", "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" OUT_FILE,
                       /* sanitizer builds: the preload comes before the ASan runtime */
                       "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL};
  char *traced = NULL;
  assert_int_equal(run(env, &traced), 0);
  assert_string_equal(traced, plain); /* behaves identically */
  free(plain);
  free(traced);

  json_t *all = spans_load(OUT_FILE);
  assert_non_null(all);
  json_t *sp = span_find(all, "fs open", NULL, NULL);
  assert_non_null(sp);
  assert_string_equal(json_string_value(json_object_get(sp, "service")), "plain-under-preload");
  assert_string_equal(span_attr(sp, "file.path"), INPUT_FILE);
  assert_non_null(span_find(all, "fs read", NULL, NULL));
  assert_non_null(span_find(all, "fs close", NULL, NULL));
  sp = span_find(all, "dns lookup", NULL, NULL);
  assert_non_null(sp);
  assert_string_equal(span_attr(sp, "dns.question.name"), "localhost");
  sp = span_find(all, "tcp connect", NULL, NULL);
  assert_non_null(sp);
  assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 3);
  assert_string_equal(span_attr(sp, "network.peer.address"), "127.0.0.1");
  assert_string_equal(span_attr(sp, "network.transport"), "tcp");
  json_t *acc = span_find(all, "tcp accept", NULL, NULL);
  assert_non_null(acc);
  assert_int_equal(json_integer_value(json_object_get(acc, "kind")), 2);
  /* the server's port is the port the client connected to */
  assert_string_equal(span_attr(acc, "server.port"), span_attr(sp, "server.port"));
  json_decref(all);
}

static void test_instrument_none(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE);
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,
                       "UVOTEL_INSTRUMENT=none",
                       "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" OUT_FILE,
                       "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0",
                       NULL};
  char *out = NULL;
  assert_int_equal(run(env, &out), 0);
  assert_non_null(strstr(out, "loop close 0\n"));
  free(out);
  json_t *all = spans_load(OUT_FILE); /* the file may not even exist: no spans */
  assert_true(all == NULL || json_array_size(all) == 0);
  json_decref(all);
}

static void test_only_fs(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE);
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,
                       "UVOTEL_INSTRUMENT=fs",
                       "OTEL_TRACES_EXPORTER=file",
                       "OTEL_EXPORTER_FILE_PATH=" OUT_FILE,
                       "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0",
                       NULL};
  char *out = NULL;
  assert_int_equal(run(env, &out), 0);
  free(out);
  json_t *all = spans_load(OUT_FILE);
  assert_non_null(all);
  assert_int_equal(json_array_size(all), 3); /* fs open, read, close */
  assert_non_null(span_find(all, "fs open", NULL, NULL));
  assert_null(span_find(all, "dns lookup", NULL, NULL));
  assert_null(span_find(all, "tcp connect", NULL, NULL));
  json_decref(all);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_output_and_spans),
      cmocka_unit_test(test_instrument_none),
      cmocka_unit_test(test_only_fs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
