/* Runs the promise scenarios of examples/async-trace and compares their output, line for line,
 * with what `node /work/shared/tools/node-trace.js X.js` printed under Node 20 for the
 * JavaScript in examples/async-trace/promise_scenarios.c, plus our promise DESTROY lines (Node
 * would report those only at garbage collection). Also runs `context-demo --chained`, whose
 * output equals Node's for the JavaScript in examples/context-demo/chained.c. */
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
    {"promise",
     "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
     "    (asyncId: 2) PROMISE_RESOLVE\n"
     "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
     "        (asyncId: 3) BEFORE\n"
     "123\n"
     "        (asyncId: 3) PROMISE_RESOLVE\n"
     "        (asyncId: 3) AFTER\n"
     "    (asyncId: 2) DESTROY\n"
     "        (asyncId: 3) DESTROY\n"},
    {"promise-resolve",
     "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
     "    (asyncId: 2) PROMISE_RESOLVE\n"
     "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
     "        (asyncId: 3) BEFORE\n"
     "asyncId 3 triggerId 2\n"
     "        (asyncId: 3) PROMISE_RESOLVE\n"
     "        (asyncId: 3) AFTER\n"
     "    (asyncId: 2) DESTROY\n"
     "        (asyncId: 3) DESTROY\n"},
    {"promise-chain",
     "    (asyncId: 2) INIT (PROMISE) (triggerAsyncId=1) (resource=Promise)\n"
     "    (asyncId: 2) PROMISE_RESOLVE\n"
     "        (asyncId: 3) INIT (PROMISE) (triggerAsyncId=2) (resource=Promise)\n"
     "            (asyncId: 4) INIT (PROMISE) (triggerAsyncId=3) (resource=Promise)\n"
     "                (asyncId: 5) INIT (PROMISE) (triggerAsyncId=4) (resource=Promise)\n"
     "top\n"
     "        (asyncId: 3) BEFORE\n"
     "r1 1 eid 3\n"
     "        (asyncId: 3) PROMISE_RESOLVE\n"
     "        (asyncId: 3) AFTER\n"
     "            (asyncId: 4) BEFORE\n"
     "r2 2 eid 4\n"
     "                (asyncId: 6) INIT (PROMISE) (triggerAsyncId=4) (resource=Promise)\n"
     "                (asyncId: 6) PROMISE_RESOLVE\n"
     "            (asyncId: 4) AFTER\n"
     "            (asyncId: 4) BEFORE\n"
     "                    (asyncId: 7) INIT (PROMISE) (triggerAsyncId=6) (resource=Promise)\n"
     "            (asyncId: 4) AFTER\n"
     "                    (asyncId: 7) BEFORE\n"
     "            (asyncId: 4) PROMISE_RESOLVE\n"
     "                    (asyncId: 7) PROMISE_RESOLVE\n"
     "                    (asyncId: 7) AFTER\n"
     "                (asyncId: 5) BEFORE\n"
     "r3 20 eid 5\n"
     "                (asyncId: 5) PROMISE_RESOLVE\n"
     "                (asyncId: 5) AFTER\n"
     "    (asyncId: 2) DESTROY\n"
     "        (asyncId: 3) DESTROY\n"
     "                (asyncId: 6) DESTROY\n"
     "                    (asyncId: 7) DESTROY\n"
     "            (asyncId: 4) DESTROY\n"
     "                (asyncId: 5) DESTROY\n"},
    {"microtasks",
     "    (asyncId: 2) INIT (TickObject) (triggerAsyncId=1) (resource=Object)\n"
     "    (asyncId: 3) INIT (Microtask) (triggerAsyncId=1) (resource=AsyncResource)\n"
     "top\n"
     "    (asyncId: 2) BEFORE\n"
     "tick\n"
     "        (asyncId: 4) INIT (Microtask) (triggerAsyncId=2) (resource=AsyncResource)\n"
     "        (asyncId: 5) INIT (TickObject) (triggerAsyncId=2) (resource=Object)\n"
     "    (asyncId: 2) AFTER\n"
     "        (asyncId: 5) BEFORE\n"
     "tick2\n"
     "        (asyncId: 5) AFTER\n"
     "    (asyncId: 3) BEFORE\n"
     "mt\n"
     "        (asyncId: 6) INIT (TickObject) (triggerAsyncId=3) (resource=Object)\n"
     "    (asyncId: 3) AFTER\n"
     "        (asyncId: 4) BEFORE\n"
     "mt2\n"
     "        (asyncId: 4) AFTER\n"
     "        (asyncId: 6) BEFORE\n"
     "tick3\n"
     "        (asyncId: 6) AFTER\n"
     "    (asyncId: 2) DESTROY\n"
     "        (asyncId: 5) DESTROY\n"
     "    (asyncId: 3) DESTROY\n"
     "        (asyncId: 4) DESTROY\n"
     "        (asyncId: 6) DESTROY\n"},
};

static char *run(const char *program, const char *args, int *status) {
  return run_example(program, args, status);
}

static void test_promise_scenarios(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof expected / sizeof *expected; i++) {
    int status;
    char *out = run("async-trace/async-trace", expected[i].scenario, &status);
    if (strcmp(out, expected[i].output) != 0) {
      print_error("scenario %s:\n--- got ---\n%s--- want ---\n%s", expected[i].scenario, out,
                  expected[i].output);
    }
    assert_string_equal(out, expected[i].output);
    assert_int_equal(status, 0);
    free(out);
  }
}

static void test_context_demo_chained(void **state) {
  (void)state;
  int status;
  char *out = run("context-demo/context-demo", "--chained", &status);
  const char *want =
      "resolver sees undefined\n"
      "step 1 sees {\"key\":123}\n"
      "--- Inside implicit (end of the chain), value 2 ---\n"
      "Value from the context variable: {\"key\":123}\n"
      "Value of global 'shared': undefined\n";
  if (strncmp(out, want, strlen(want)) != 0) print_error("--- got ---\n%s", out);
  assert_true(strncmp(out, want, strlen(want)) == 0);
  assert_int_equal(status, 0);
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_promise_scenarios),
      cmocka_unit_test(test_context_demo_chained),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
