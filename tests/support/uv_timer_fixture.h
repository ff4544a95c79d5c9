/* The fixture of the timer/check/idle wrapper tests (test_uv_timer, test_uv_timer_stash): a loop
 * (and a second one for nested-loop cases) initialised for uvotel, a trace log started, a "req"
 * context variable, handles the tests may use; teardown runs the loop out and asserts both
 * closes. expect_log compares the log with a template whose ids are relative to `base`
 * (trace_log_expand). Include after cmocka.h and trace_log.h, in one test file. */
#ifndef UVOTEL_TEST_UV_TIMER_FIXTURE_H
#define UVOTEL_TEST_UV_TIMER_FIXTURE_H

#include <string.h>

typedef struct fixture_s {
  uv_loop_t loop, inner;
  trace_log_t log;
  uvotel_var_t *var;
  int count, inner_count;
  uv_timer_t t1, t2, ti;
  uv_check_t check;
  uv_idle_t idle;
} fixture_t;

static fixture_t *F;

static int setup(void **state) {
  static fixture_t f;
  memset(&f, 0, sizeof f);
  F = &f;
  uv_loop_init(&f.loop);
  uvotel_loop_init(&f.loop);
  f.var = uvotel_var_create("req", NULL, NULL);
  trace_log_start(&f.log);
  *state = &f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  trace_log_free(&f->log);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_loop_close(&f->loop), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_var_free(f->var);
  return 0;
}

static void expect_log(const char *want_template, uvotel_async_id_t base) {
  char want[2048];
  assert_string_equal(trace_log_text(&F->log),
                      trace_log_expand(want_template, base, want, sizeof want));
}

static uvotel_async_id_t next_id(void) {
  return trace_log_next_id(&F->log);
}

#endif
