/* Issue 10 #6: a program killed by a signal it does not handle keeps its spans under the
 * preload and still dies of that signal. sig_prog ends a few spans, prints "ready" and waits;
 * the test sends SIGTERM, SIGINT or SIGHUP. Plain and preloaded runs die the same way (killed
 * by that signal, same output); the preloaded run's spans are in the file although the batch
 * delay is a minute. A program's own handler (uv_signal_start) wins, and sigaction/signal
 * report the actions the program would see without uvotel. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_signals.d"
#define SPANS DIR "/spans.jsonl"

static const char *const g_env[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO,
                                    "UVOTEL_INSTRUMENT=all",
                                    "OTEL_TRACES_EXPORTER=file",
                                    "OTEL_EXPORTER_FILE_PATH=" SPANS,
                                    "OTEL_BSP_SCHEDULE_DELAY=60000",
                                    PRELOAD_ASAN,
                                    NULL};

/* Run sig_prog MODE; when signum is not 0, send it once the program says "ready". */
static void run(prun_t *r, const char *tag, const char *mode, int signum, int preload) {
  const char *argv[] = {SIG_PROG_PLAIN, mode, NULL};
  preload_spawn(r, DIR, tag, argv, preload ? g_env : NULL);
  for (int i = 0; signum != 0 && i < 1000; i++) {
    char *out = prun_slurp(r->out_path);
    int ready = strstr(out, "ready\n") != NULL;
    free(out);
    if (ready) break;
    usleep(10000);
  }
  if (signum != 0) assert_int_equal(kill(r->pid, signum), 0);
  preload_wait(r, 20000);
}

static void die_of(int signum) {
  prun_t plain, traced;
  run(&plain, "plain", "wait", signum, 0);
  assert_true(WIFSIGNALED(plain.status));
  assert_int_equal(WTERMSIG(plain.status), signum);
  assert_non_null(strstr(plain.out, "ready\n"));

  unlink(SPANS);
  run(&traced, "preload", "wait", signum, 1);
  if (!WIFSIGNALED(traced.status)) fprintf(stderr, "status %d: %s", traced.status, traced.err);
  assert_true(WIFSIGNALED(traced.status));
  assert_int_equal(WTERMSIG(traced.status), signum);
  assert_string_equal(traced.out, plain.out);
  json_t *all = spans_load(SPANS);
  assert_non_null(all); /* flushed before dying, not by the (one-minute) batch timer */
  assert_non_null(span_find(all, "fs stat", "file.path", "/nonexistent.uvotel/before-signal"));
  assert_non_null(span_find(all, "fs stat", "file.path", "/"));
  json_decref(all);
  prun_free(&plain);
  prun_free(&traced);
}

static void test_sigterm(void **state) {
  (void)state;
  die_of(SIGTERM);
}

static void test_sigint(void **state) {
  (void)state;
  die_of(SIGINT);
}

static void test_sighup(void **state) {
  (void)state;
  die_of(SIGHUP);
}

static void test_own_handler_wins(void **state) {
  (void)state;
  prun_t plain, traced;
  run(&plain, "own-plain", "own", SIGTERM, 0);
  assert_true(prun_ok(&plain));
  assert_non_null(strstr(plain.out, "got signal 15\nloop close 0\n"));
  unlink(SPANS);
  run(&traced, "own-preload", "own", SIGTERM, 1);
  assert_true(prun_ok(&traced));
  assert_string_equal(traced.out, plain.out);
  json_t *all = spans_load(SPANS); /* flushed at exit, as always */
  assert_non_null(all);
  assert_non_null(span_find(all, "fs stat", "file.path", "/nonexistent.uvotel/before-signal"));
  json_decref(all);
  prun_free(&plain);
  prun_free(&traced);
}

static void test_actions_look_default(void **state) {
  (void)state;
  prun_t plain, traced;
  run(&plain, "query-plain", "query", 0, 0);
  assert_true(prun_ok(&plain));
  assert_non_null(strstr(plain.out, "sigaction: TERM default, INT default, HUP default\n"));
  run(&traced, "query-preload", "query", 0, 1);
  assert_true(prun_ok(&traced));
  assert_string_equal(traced.out, plain.out);
  prun_free(&plain);
  prun_free(&traced);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sigterm),
      cmocka_unit_test(test_sigint),
      cmocka_unit_test(test_sighup),
      cmocka_unit_test(test_own_handler_wins),
      cmocka_unit_test(test_actions_look_default),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
