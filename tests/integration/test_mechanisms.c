/* The mechanisms that broke real libuv programs under uvotel (issue 10), each as a small plain
 * libuv program (tests/integration/mech/), run three ways -- as built without uvotel, built
 * with uv_redirect.h and automatic spans (mech/spans_on.c), and the plain build under
 * libuvotel_preload.so -- which must print the same lines and exit the same way:
 *   cross_thread   a loop set up on the main thread and run on a worker, sends from a third
 *   walk_close     uv_walk closing every handle at exit; uv_run/uv_loop_alive answers
 *   close_pending  uv_loop_close with a close callback pending after the program freed its state
 *   scheduler      one idle handle running the tasks of 8 concurrent connections: no task's
 *                  span under another connection's span */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_mechanisms.d"

/* Run prog with extra environment entries (NULL-terminated); stdout into *out (malloc'd).
 * Returns the exit status, 128+signal when killed, or -1. */
static int run(const char *prog, const char *const *extra_env, char **out) {
  char *argv[] = {(char *)prog, NULL};
  /* the preload run brings its own ASAN_OPTIONS, which replaces the test's */
  static const char *const drop[] = {"MECH_", NULL};
  char *envp[256];
  prun_env(envp, drop, extra_env);
  return prun_capture(argv, envp, 0, out, NULL);
}

/* Run the three builds of one program; each must exit 0 and print want (checked first on the
 * plain build, so the program itself is right). Span files are left in TMPDIR/<name>.*.jsonl. */
static void run_three(const char *name, const char *want) {
  mkdir(TMPDIR, 0755);
  char raw[512], wrapped[512], spans_w[512], spans_p[512], env_w[600], env_p[600];
  snprintf(raw, sizeof raw, "%s/tests/mech_%s_raw", UVOTEL_BINARY_DIR, name);
  snprintf(wrapped, sizeof wrapped, "%s/tests/mech_%s_wrapped", UVOTEL_BINARY_DIR, name);
  snprintf(spans_w, sizeof spans_w, "%s/%s.wrapped.jsonl", TMPDIR, name);
  snprintf(spans_p, sizeof spans_p, "%s/%s.preload.jsonl", TMPDIR, name);
  unlink(spans_w);
  unlink(spans_p);
  snprintf(env_w, sizeof env_w, "MECH_SPANS=%s", spans_w);
  snprintf(env_p, sizeof env_p, "OTEL_EXPORTER_FILE_PATH=%s", spans_p);

  char *out = NULL;
  assert_int_equal(run(raw, NULL, &out), 0);
  assert_string_equal(out, want);
  free(out);

  const char *wenv[] = {env_w, NULL};
  assert_int_equal(run(wrapped, wenv, &out), 0);
  assert_string_equal(out, want);
  free(out);

#ifdef MECH_NO_PRELOAD
  print_message("(%s: not run under the preload in this build)\n", name);
  return;
#endif
  const char *penv[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_INSTRUMENT=all",
                        "OTEL_SERVICE_NAME=mech", "OTEL_TRACES_EXPORTER=file", env_p,
                        /* sanitizer builds: the preload comes before the ASan runtime */
                        "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL};
  assert_int_equal(run(raw, penv, &out), 0);
  assert_string_equal(out, want);
  free(out);
}

static void test_cross_thread(void **state) {
  (void)state;
  run_three("cross_thread",
            "timer runs 1\nasync ran yes\nechoed 1\nfs done 1\nclosed 5\nloop close 0\n");
}

static void test_walk_close(void **state) {
  (void)state;
  run_three("walk_close",
            "run 0\nalive 0\nnowait 0\nwalked 3\nrun 0\nclosed 3 fired 1\nwalked after 0\n"
            "loop close 0\n");
}

static void test_close_pending(void **state) {
  (void)state;
  run_three("close_pending", "run 0\nloop close EBUSY\nalive 1\n");
}

/* ---- the scheduler's spans ---- */

/* Every fs span of a connection (".../peer-<port>/...") has no parent or the span of the
 * connection with that peer port ("tcp accept", network.peer.port); the one made in the
 * connection callback ("accept") has its connection's span as parent. */
static void check_scheduler_spans(const char *path, int want_tasks) {
#ifdef MECH_NO_PRELOAD
  if (strstr(path, ".preload.") != NULL) return;
#endif
  json_t *all = spans_load(path);
  assert_non_null(all);
  int tasks = 0, accepts = 0, wrong = 0, accept_ok = 0;
  size_t i, j;
  json_t *sp, *srv;
  json_array_foreach(all, i, sp) {
    const char *file = span_attr(sp, "file.path");
    const char *peer = file != NULL ? strstr(file, "/peer-") : NULL;
    if (peer == NULL) continue;
    int port = atoi(peer + 6);
    int is_task = strstr(peer, "/task") != NULL;
    tasks += is_task;
    accepts += !is_task;
    const char *parent = span_str(sp, "parentSpanId");
    if (parent[0] == '\0') continue;
    json_array_foreach(all, j, srv) {
      if (strcmp(span_str(srv, "spanId"), parent) != 0) continue;
      const char *p = span_attr(srv, "network.peer.port");
      int own = strcmp(span_str(srv, "name"), "tcp accept") == 0 && p != NULL && atoi(p) == port;
      if (!own) {
        wrong++;
      } else if (!is_task) {
        accept_ok++;
      }
    }
  }
  json_decref(all);
  assert_int_equal(tasks, want_tasks);
  assert_int_equal(accepts, 8);
  assert_int_equal(wrong, 0);
  assert_int_equal(accept_ok, 8); /* the context does reach a connection's own callbacks */
}

static void test_scheduler(void **state) {
  (void)state;
  run_three("scheduler",
            "connections 8\ntasks 32\ntasks per connection ok\nclosed 19\nloop close 0\n");
  check_scheduler_spans(TMPDIR "/scheduler.wrapped.jsonl", 32);
  check_scheduler_spans(TMPDIR "/scheduler.preload.jsonl", 32);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_thread),
      cmocka_unit_test(test_walk_close),
      cmocka_unit_test(test_close_pending),
      cmocka_unit_test(test_scheduler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
