/* Issue 10 #7: fork().
 * - The SDK used explicitly (fork_sdk_prog): fork() straight after force_flush; the child
 *   calls uv_loop_fork, shuts down and frees its copy of the parent's provider, builds its
 *   own, and its loop then runs to the end (it hung for ever in uv_run). The parent's spans are
 *   exported once, by the parent; the child's own provider exports the child's, with ids of
 *   its own (not the parent's next ones). Run plain and under the preload: the same output.
 * - Under the preload, a plain program that forks (fork_prog): the child behaves as without
 *   the preload and exits cleanly (it used to join the parent's export thread and wake the
 *   parent's exporter to shut down), the parent's spans before and after are exported, and the
 *   child makes none. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_fork.d"
#define PARENT_FILE DIR "/parent.jsonl"
#define CHILD_FILE DIR "/child.jsonl"
#define SPANS DIR "/preload.jsonl"

static const char *const g_preload[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,
                                        "UVOTEL_INSTRUMENT=all",
                                        "OTEL_TRACES_EXPORTER=file",
                                        "OTEL_EXPORTER_FILE_PATH=" SPANS,
                                        PRELOAD_ASAN,
                                        NULL};

static size_t count(json_t *all, const char *name) {
  size_t n = 0, i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strcmp(span_str(sp, "name"), name) == 0) n++;
  }
  return n;
}

static const char *const g_sdk_out =
    "parent flush 0\n"
    "child loop_fork 0\n"
    "child shutdown inherited 0\n"
    "child shutdown own 0\n"
    "child run 0\n"
    "child loop close 0\n"
    "child exited 0\n"
    "parent shutdown 0\n"
    "parent run 0\n"
    "parent loop close 0\n";

static void sdk_run(const char *tag, const char *const *env) {
  unlink(PARENT_FILE);
  unlink(CHILD_FILE);
  const char *argv[] = {FORK_SDK_PROG, PARENT_FILE, CHILD_FILE, NULL};
  prun_t r;
  preload_run(&r, DIR, tag, argv, env);
  if (!prun_ok(&r)) fprintf(stderr, "status %d\n%s%s", r.status, r.out, r.err);
  assert_true(prun_ok(&r));
  assert_string_equal(r.out, g_sdk_out);
  json_t *parent = spans_load(PARENT_FILE), *child = spans_load(CHILD_FILE);
  assert_non_null(parent);
  assert_non_null(child);
  assert_int_equal(count(parent, "parent-before-fork"), 1); /* exported once, by the parent */
  assert_int_equal(count(parent, "parent-after-fork"), 1);
  assert_int_equal(count(parent, "child-in-parents-provider"), 0);
  assert_int_equal(json_array_size(parent), 3);
  assert_int_equal(count(child, "child-own"), 1);
  assert_int_equal(json_array_size(child), 1);
  /* The child draws its own ids, not the parent's next ones. */
  json_t *mine = span_find(child, "child-own", NULL, NULL);
  size_t i;
  json_t *sp;
  json_array_foreach(parent, i, sp) {
    assert_string_not_equal(span_str(sp, "traceId"), span_str(mine, "traceId"));
    assert_string_not_equal(span_str(sp, "spanId"), span_str(mine, "spanId"));
  }
  json_decref(parent);
  json_decref(child);
  prun_free(&r);
}

static void test_sdk_child_after_flush(void **state) {
  (void)state;
  sdk_run("sdk-plain", NULL);
}

static void test_sdk_child_after_flush_under_preload(void **state) {
  (void)state;
  sdk_run("sdk-preload", g_preload);
}

static void test_plain_program_forks_under_preload(void **state) {
  (void)state;
  const char *argv[] = {FORK_PROG_PLAIN, NULL};
  prun_t plain, traced;
  preload_run(&plain, DIR, "plain", argv, NULL);
  assert_true(prun_ok(&plain));
  assert_non_null(strstr(plain.out, "child exited 0\n"));
  assert_non_null(strstr(plain.out, "parent loop close 0\n"));
  unlink(SPANS);
  preload_run(&traced, DIR, "preload", argv, g_preload);
  if (!prun_ok(&traced)) fprintf(stderr, "status %d\n%s", traced.status, traced.err);
  assert_true(prun_ok(&traced));
  assert_string_equal(traced.out, plain.out);
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_non_null(span_find(all, "fs stat", "file.path", "/nonexistent.uvotel/parent-before-fork"));
  assert_non_null(span_find(all, "fs stat", "file.path", "/nonexistent.uvotel/parent-after-fork"));
  assert_null(span_find(all, "fs stat", "file.path", "/nonexistent.uvotel/child"));
  json_decref(all);
  prun_free(&plain);
  prun_free(&traced);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sdk_child_after_flush),
      cmocka_unit_test(test_sdk_child_after_flush_under_preload),
      cmocka_unit_test(test_plain_program_forks_under_preload),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
