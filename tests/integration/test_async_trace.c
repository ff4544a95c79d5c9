/* Runs examples/async-trace for every scenario and compares its output with seed 000's shown
 * output (and Node 20's for `immediate`), line for line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "run_example.h"

typedef struct expected_s {
  const char *scenario;
  const char *output;
} expected_t;

static const expected_t expected[] = {
    {"timeout",
     "    (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) BEFORE\n"
     "timer callback\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) DESTROY\n"},
    {"nested-timeout",
     "    (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) BEFORE\n"
     "outer timer callback\n"
     "        (asyncId: 3) INIT (Timeout) (triggerAsyncId=2) (resource=Timeout)\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) DESTROY\n"
     "        (asyncId: 3) BEFORE\n"
     "inner timer callback\n"
     "        (asyncId: 3) AFTER\n"
     "        (asyncId: 3) DESTROY\n"},
    {"clear-timeout",
     "    (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) DESTROY\n"},
    {"interval",
     "    (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) BEFORE\n"
     "callback executed\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) BEFORE\n"
     "callback executed\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) BEFORE\n"
     "callback executed\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) DESTROY\n"},
    {"resource-auto-destroy",
     "    (asyncId: 2) INIT (DBQUERY) (triggerAsyncId=1) (resource=DBQuery)\n"
     "    (asyncId: 2) BEFORE\n"
     "query executed!\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 3) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) DESTROY\n"},
    {"resource-manual-destroy",
     "    (asyncId: 2) INIT (DBQUERY) (triggerAsyncId=1) (resource=DBQuery)\n"
     "    (asyncId: 2) BEFORE\n"
     "query executed!\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 3) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)\n"
     "    (asyncId: 2) DESTROY\n"},
    {"immediate",
     "    (asyncId: 2) INIT (Immediate) (triggerAsyncId=1) (resource=Immediate)\n"
     "    (asyncId: 2) BEFORE\n"
     "immediate callback\n"
     "    (asyncId: 2) AFTER\n"
     "    (asyncId: 2) DESTROY\n"},
};

static char *run(const char *args, int *status) {
  return run_example("async-trace/async-trace", args, status);
}

static void test_scenarios(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
    int status;
    char *out = run(expected[i].scenario, &status);
    if (strcmp(out, expected[i].output) != 0) {
      print_error("scenario %s:\n--- got ---\n%s--- want ---\n%s", expected[i].scenario, out,
                  expected[i].output);
    }
    assert_string_equal(out, expected[i].output);
    assert_int_equal(status, 0);
    free(out);
  }
}

static void test_bad_arguments(void **state) {
  (void)state;
  int status;
  char *out = run("no-such-scenario 2>/dev/null", &status);
  assert_int_not_equal(status, 0);
  free(out);
  out = run("2>/dev/null", &status);
  assert_int_not_equal(status, 0);
  free(out);
  out = run("--list", &status);
  assert_int_equal(status, 0);
  assert_non_null(strstr(out, "nested-timeout"));
  free(out);
}

static void test_context_demo(void **state) {
  (void)state;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/examples/context-demo/context-demo", UVOTEL_BINARY_DIR);
  FILE *p = popen(cmd, "r");
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, p);
  buf[n] = '\0';
  assert_int_equal(pclose(p), 0);
  assert_non_null(strstr(buf, "Value from the context variable: {\"key\":123}"));
  assert_non_null(strstr(buf, "Value of global 'shared' variable: undefined"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scenarios),
      cmocka_unit_test(test_bad_arguments),
      cmocka_unit_test(test_context_demo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
