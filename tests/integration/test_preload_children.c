/* Issue 10 #5: the preload does not pass itself on to child processes. spawn_prog starts itself
 * as a child with uv_spawn and with fork + execv; each child says whether the SDK is loaded in
 * it and what LD_PRELOAD it got. Under the preload the output is the plain run's: no SDK in the
 * children, other LD_PRELOAD entries kept (whichever side of the preload they are on); with
 * UVOTEL_PRELOAD_CHILDREN=true the children load it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_children.d"
#define SPANS DIR "/spans.jsonl"

static const char *const g_argv[] = {SPAWN_PROG_PLAIN, NULL};

static char *run_ok(const char *tag, const char *const *env) {
  prun_t r;
  preload_run(&r, DIR, tag, g_argv, env);
  if (!prun_ok(&r)) fprintf(stderr, "%s: status %d\n%s%s", tag, r.status, r.out, r.err);
  assert_true(prun_ok(&r));
  free(r.err);
  return r.out;
}

static void test_children_do_not_load_the_sdk(void **state) {
  (void)state;
  char *plain = run_ok("plain", NULL);
  assert_non_null(strstr(plain, "child uv_spawn: uvotel absent, LD_PRELOAD unset\n"));
  assert_non_null(strstr(plain, "uv_spawn child exited 7 signal 0\n"));
  assert_non_null(strstr(plain, "child fork-exec: uvotel absent, LD_PRELOAD unset\n"));
  assert_non_null(strstr(plain, "fork-exec child exited 7\n"));
  assert_non_null(strstr(plain, "loop close 0\n"));

  unlink(SPANS);
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  char *traced = run_ok("preload", env);
  assert_string_equal(traced, plain);
  /* the parent was traced */
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_non_null(span_find(all, "fs stat", NULL, NULL));
  json_decref(all);
  free(traced);
  free(plain);
}

/* A wrapper that does not link libuv passes the preload on to the program it runs. */
static void test_through_a_shell(void **state) {
  (void)state;
  char *plain = run_ok("shell-plain", NULL);
  unlink(SPANS);
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  const char *argv[] = {"/bin/sh", "-c", "exec " SPAWN_PROG_PLAIN, NULL};
  prun_t r;
  preload_run(&r, DIR, "shell", argv, env);
  assert_true(prun_ok(&r));
  assert_string_equal(r.out, plain);
  json_t *all = spans_load(SPANS);
  assert_non_null(all); /* the program under the shell was traced */
  assert_non_null(span_find(all, "fs stat", NULL, NULL));
  json_decref(all);
  prun_free(&r);
  free(plain);
}

static void test_other_preloads_are_kept(void **state) {
  (void)state;
  const char *env_plain[] = {"LD_PRELOAD=" MARKER_SO, PRELOAD_ASAN, NULL};
  char *plain = run_ok("marker-plain", env_plain);
  assert_non_null(strstr(plain, "child uv_spawn: uvotel absent, LD_PRELOAD " MARKER_SO "\n"));
  assert_non_null(strstr(plain, "child fork-exec: uvotel absent, LD_PRELOAD " MARKER_SO "\n"));
  const char *after[] = {"LD_PRELOAD=" MARKER_SO ":" UVOTEL_PRELOAD_SO, "OTEL_TRACES_EXPORTER=none",
                         PRELOAD_ASAN, NULL};
  char *out = run_ok("marker-after", after);
  assert_string_equal(out, plain);
  free(out);
  const char *before[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO " " MARKER_SO,
                          "OTEL_TRACES_EXPORTER=none", PRELOAD_ASAN, NULL};
  out = run_ok("marker-before", before);
  assert_string_equal(out, plain);
  free(out);
  free(plain);
}

static void test_children_keep_it_on_request(void **state) {
  (void)state;
  const char *env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_PRELOAD_CHILDREN=true",
                       "OTEL_TRACES_EXPORTER=none", PRELOAD_ASAN, NULL};
  char *out = run_ok("children-true", env);
  assert_non_null(strstr(out, "child uv_spawn: uvotel loaded, LD_PRELOAD " UVOTEL_PRELOAD_SO "\n"));
  assert_non_null(
      strstr(out, "child fork-exec: uvotel loaded, LD_PRELOAD " UVOTEL_PRELOAD_SO "\n"));
  assert_non_null(strstr(out, "loop close 0\n"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_children_do_not_load_the_sdk),
      cmocka_unit_test(test_through_a_shell),
      cmocka_unit_test(test_other_preloads_are_kept),
      cmocka_unit_test(test_children_keep_it_on_request),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
