/* libuvotel_preload.so on an unmodified program: tests/support/plain_uv_prog (plain libuv, no
 * uvotel header, not linked with uvotel) run with and without the preload prints the same
 * thing, and under the preload leaves the expected spans in the file exporter's OTLP/JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#include "counting_alloc.h"
#include "uvotel.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_preload.d"
#define OUT_FILE TMPDIR "/spans.jsonl"
#define INPUT_FILE UVOTEL_SOURCE_DIR "/CMakeLists.txt"

static int g_capture_stderr; /* run(): stderr into *out too */

/* Run the plain program with extra environment entries (NAME=value, NULL-terminated), stdout
 * into *out (malloc'd). Returns the exit status (128 + signal when killed), or -1. */
static int run(const char *const *extra_env, char **out) {
  char *argv[] = {(char *)PLAIN_UV_PROG, (char *)INPUT_FILE, NULL};
  static const char *const drop[] = {"ASAN_OPTIONS=", NULL};
  char *envp[256];
  prun_env(envp, drop, extra_env);
  return prun_capture(argv, envp, g_capture_stderr ? PRUN_STDERR_TO_OUT : 0, out, NULL);
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

/* Drift 3 of issue 13: the preload alone took "1" for true. It follows the one boolean rule
 * now: "1" is refused with a warning naming the variable, the default (false: root spans
 * allowed) is kept; "TRUE" is true (no root spans in a program without spans of its own). */
static void test_require_parent_boolean(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  const char *values[] = {"UVOTEL_INSTRUMENT_REQUIRE_PARENT=1",
                          "UVOTEL_INSTRUMENT_REQUIRE_PARENT=TRUE"};
  for (int i = 0; i < 2; i++) {
    unlink(OUT_FILE);
    const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,
                         "UVOTEL_INSTRUMENT=fs",
                         values[i],
                         "OTEL_TRACES_EXPORTER=file",
                         "OTEL_EXPORTER_FILE_PATH=" OUT_FILE,
                         "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0",
                         NULL};
    char *out = NULL;
    g_capture_stderr = 1;
    assert_int_equal(run(env, &out), 0);
    g_capture_stderr = 0;
    json_t *all = spans_load(OUT_FILE);
    if (i == 0) {
      assert_non_null(strstr(out, "UVOTEL_INSTRUMENT_REQUIRE_PARENT=\"1\" is not true or false"));
      assert_non_null(all);
      assert_int_equal(json_array_size(all), 3); /* fs open, read, close as root spans */
    } else {
      assert_null(strstr(out, "UVOTEL_INSTRUMENT_REQUIRE_PARENT"));
      assert_true(all == NULL || json_array_size(all) == 0);
    }
    json_decref(all);
    free(out);
  }
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_output_and_spans),
      cmocka_unit_test(test_instrument_none),
      cmocka_unit_test(test_only_fs),
      cmocka_unit_test(test_require_parent_boolean),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
