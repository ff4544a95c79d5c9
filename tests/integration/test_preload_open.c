/* No silent loss at exit: tests/integration/preload/open_prog.c (plain libuv) exits from a
 * callback with an accepted TCP connection never closed and a child process whose exit it never
 * saw. Run plain and under the preload it prints the same and exits 0; under the preload the
 * automatic spans still open at exit ("tcp accept", "spawn sleep") are counted and said at the
 * default log level ("2 spans were still open at shutdown and were not exported") and are not
 * in the exported file (the rule: README "Spans still open at exit"), while the client's ended
 * "tcp connect" span is. Killed by SIGTERM while it waits with the connection open (the killed
 * child's exit seen first), the preload's signal flush says the count as well ("1 spans were
 * still open when signal 15 ended the process ..."). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_open.d"
#define SPANS DIR "/spans.jsonl"

static const char k_expected[] = "connected 1 accepted 1\nspawned 1\nexiting\n";

/* The number just before what in text (asserted there). */
static int count_before(const char *text, const char *what) {
  const char *w = strstr(text, what);
  if (w == NULL) fprintf(stderr, "no \"%s\" in: %s\n", what, text);
  assert_non_null(w);
  const char *num = w;
  while (num > text && num[-1] >= '0' && num[-1] <= '9') num--;
  assert_true(num < w);
  return atoi(num);
}

static void test_plain(void **state) {
  (void)state;
  const char *argv[] = {OPEN_PROG_PLAIN, NULL};
  preload_run_expect(DIR, "plain", argv, NULL, k_expected, NULL);
}

static void test_open_at_exit_counted(void **state) {
  (void)state;
  const char *argv[] = {OPEN_PROG_PLAIN, NULL};
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  unlink(SPANS);
  prun_t r;
  preload_run(&r, DIR, "preload", argv, env);
  if (!prun_ok(&r)) fprintf(stderr, "preload: %s%s\n", r.out, r.err);
  assert_true(prun_ok(&r));
  assert_string_equal(r.out, k_expected); /* the program behaves as without uvotel */
  /* said at the default level (OTEL_LOG_LEVEL unset), with the count */
  assert_int_equal(count_before(r.err, " spans were still open at shutdown and were not exported"),
                   2); /* "tcp accept" and "spawn sleep" */
  json_t *all = spans_load(SPANS);
  assert_non_null(all);
  assert_non_null(span_find(all, "tcp connect", NULL, NULL)); /* ended before exit: exported */
  assert_null(span_find(all, "tcp accept", NULL, NULL));
  assert_null(span_find(all, "spawn sleep", NULL, NULL));
  json_decref(all);
  prun_free(&r);
}

static void test_open_at_signal_counted(void **state) {
  (void)state;
  const char *argv[] = {OPEN_PROG_PLAIN, "wait", NULL};
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  unlink(SPANS);
  prun_t r;
  preload_spawn(&r, DIR, "signal", argv, env);
  for (int i = 0; i < 1000; i++) {
    char *out = prun_slurp(r.out_path);
    int ready = strstr(out, "ready\n") != NULL;
    free(out);
    if (ready) break;
    usleep(10000);
  }
  assert_int_equal(kill(r.pid, SIGTERM), 0);
  preload_wait(&r, 20000);
  assert_true(WIFSIGNALED(r.status)); /* still dies of the signal */
  assert_int_equal(WTERMSIG(r.status), SIGTERM);
  assert_int_equal(count_before(r.err,
                                " spans were still open when signal 15 ended the process and were "
                                "not exported"),
                   1); /* "tcp accept"; the child's exit was seen before "ready" */
  json_t *all = spans_load(SPANS);
  assert_non_null(all); /* the flush ran */
  assert_non_null(span_find(all, "tcp connect", NULL, NULL));
  assert_non_null(span_find(all, "spawn sleep", NULL, NULL));
  assert_null(span_find(all, "tcp accept", NULL, NULL));
  json_decref(all);
  prun_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_open_at_exit_counted),
      cmocka_unit_test(test_open_at_signal_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
