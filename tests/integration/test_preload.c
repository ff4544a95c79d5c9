/* libuvotel_preload.so on an unmodified program: tests/support/plain_uv_prog (plain libuv, no
 * uvotel header, not linked with uvotel) run with and without the preload prints the same
 * thing, and under the preload leaves the expected spans in the file exporter's OTLP/JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

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
#include "uvotel.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_preload.d"
#define OUT_FILE TMPDIR "/spans.jsonl"
#define INPUT_FILE UVOTEL_SOURCE_DIR "/CMakeLists.txt"

extern char **environ;

static int g_capture_stderr; /* run(): stderr into *out too */

/* Run argv with extra environment entries (NAME=value, NULL-terminated), stdout into *out
 * (malloc'd). Returns the exit status, or -1. */
static int run(const char *const *extra_env, char **out) {
  char *argv[] = {(char *)PLAIN_UV_PROG, (char *)INPUT_FILE, NULL};
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "OTEL_", 5) == 0 ||
        strncmp(*e, "UVOTEL_", 7) == 0 || strncmp(*e, "ASAN_OPTIONS=", 13) == 0) {
      continue;
    }
    envp[n++] = *e;
  }
  for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && n < 250; i++) {
    envp[n++] = (char *)extra_env[i];
  }
  envp[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  if (g_capture_stderr) posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, PLAIN_UV_PROG, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while ((r = read(fds[0], buf + len, cap - len - 1)) > 0 || (r < 0 && errno == EINTR)) {
    if (r < 0) continue;
    len += (size_t)r;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = '\0';
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *out = buf;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
