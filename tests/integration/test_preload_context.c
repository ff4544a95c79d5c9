/* Issue 10 #8: under the preload the context follows the program exactly as with uv_redirect.h.
 * tests/integration/preload/ctx_prog.c (plain libuv, calls mostly in tail position) starts a
 * timer and an fs request in its connection callback and in its read callback; each timer
 * callback makes an fs request. Every one of the four fs spans must be a child of the
 * connection's "tcp accept" span, under the preload and in the uv_redirect.h build; and a value
 * set with uvotel_var_enter before uv_timer_start and uv_fs_stat is seen by their callbacks
 * (the idle callback runs in the root context: persistent handles started implicitly do, the
 * context rule of uvotel/uv.h). Plain, preloaded and redirected runs print the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_context.d"
#define SPANS DIR "/spans.jsonl"

static char *g_plain; /* sorted stdout of the plain run */

static void run_plain(void) {
  const char *argv[] = {CTX_PROG_PLAIN, NULL};
  prun_t r;
  preload_run(&r, DIR, "plain", argv, NULL);
  assert_true(prun_ok(&r));
  assert_non_null(strstr(r.out, "loop close 0\n"));
  assert_non_null(strstr(r.out, "stat read-timer missing\n"));
  assert_null(strstr(r.err, "var ")); /* no context API in a plain run */
  g_plain = prun_sorted_lines(r.out);
  prun_free(&r);
}

/* The four fs spans are children of the one "tcp accept" span. */
static void check_spans(void) {
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  json_t *acc = span_find(all, "tcp accept", NULL, NULL);
  assert_non_null(acc);
  static const char *const cases[] = {"conn-fs", "read-fs", "conn-timer", "read-timer"};
  for (size_t i = 0; i < 4; i++) {
    char path[128];
    snprintf(path, sizeof path, "/nonexistent.uvotel/%s", cases[i]);
    json_t *sp = span_find(all, "fs stat", "file.path", path);
    if (sp == NULL) fprintf(stderr, "no span for %s\n", cases[i]);
    assert_non_null(sp);
    if (strcmp(span_str(sp, "parentSpanId"), span_str(acc, "spanId")) != 0) {
      fprintf(stderr, "%s: parent \"%s\", not the accept span %s\n", cases[i],
              span_str(sp, "parentSpanId"), span_str(acc, "spanId"));
      fail();
    }
    assert_string_equal(span_str(sp, "traceId"), span_str(acc, "traceId"));
  }
  json_decref(all);
}

static void check_run(prun_t *r) {
  assert_true(prun_ok(r));
  char *s = prun_sorted_lines(r->out);
  assert_string_equal(s, g_plain); /* behaves as the plain run */
  free(s);
  assert_non_null(strstr(r->err, "var timer main-value\n"));
  assert_non_null(strstr(r->err, "var fs main-value\n"));
  /* An idle handle started implicitly runs in the root context (the context rule, uv.h). */
  assert_non_null(strstr(r->err, "var idle -\n"));
  check_spans();
}

static void test_preload_keeps_context(void **state) {
  (void)state;
  run_plain();
  unlink(SPANS);
  const char *argv[] = {CTX_PROG_PLAIN, NULL};
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  prun_t r;
  preload_run(&r, DIR, "preload", argv, env);
  check_run(&r);
  prun_free(&r);
  free(g_plain);
}

static void test_redirect_keeps_context(void **state) {
  (void)state;
  run_plain();
  unlink(SPANS);
  const char *argv[] = {CTX_PROG_REDIRECT, NULL};
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  prun_t r;
  preload_run(&r, DIR, "redirect", argv, env);
  check_run(&r);
  prun_free(&r);
  free(g_plain);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_preload_keeps_context),
      cmocka_unit_test(test_redirect_keeps_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
