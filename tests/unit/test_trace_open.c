/* Spans still open at shutdown: counted (open_at_shutdown), warned about at the default level
 * and reflected in shutdown's return code; the counters struct read by size. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

/* The warnings (level WARN and more severe) delivered, concatenated. */
static char g_warn[2048];
static int g_warn_n;
static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  if (level > UVOTEL_DIAG_WARN) return;
  g_warn_n++;
  size_t l = strlen(g_warn);
  snprintf(g_warn + l, sizeof g_warn - l, "%s\n", msg);
}

static void make_provider(fx_t *f, uvotel_sampler_t *sampler) {
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.sampler = sampler;
  o.loop = &f->loop;
  f->p = uvotel_tracer_provider_create(&o);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "test.open", "1");
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  g_warn[0] = '\0';
  g_warn_n = 0;
  /* WARN: what a user sees by default (OTEL_LOG_LEVEL unset means info). */
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_WARN);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->p != NULL) uvotel_tracer_provider_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_memory_exporter_free(f->mem);
  uvotel_loop_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_ERROR);
  free(f);
  return 0;
}

static uvotel_trace_counters_t counters(const uvotel_tracer_provider_t *p) {
  uvotel_trace_counters_t c;
  memset(&c, 0xee, sizeof c);
  assert_int_equal(uvotel_tracer_provider_counters(p, &c), 0);
  return c;
}

/* Three started, one ended: two are counted open, said, and shutdown says EIO. */
static void test_open_counted_and_said(void **state) {
  fx_t *f = *state;
  make_provider(f, NULL);
  uvotel_span_t *a = uvotel_span_start(f->t, "a", NULL);
  uvotel_span_t *b = uvotel_span_start(f->t, "b", NULL);
  uvotel_span_t *c = uvotel_span_start(f->t, "c", NULL);
  uvotel_span_end(b);
  assert_int_equal(counters(f->p).open_at_shutdown, 0); /* before shutdown: 0 */
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), UVOTEL_EIO);
  uvotel_trace_counters_t k = counters(f->p);
  assert_int_equal(k.open_at_shutdown, 2);
  assert_int_equal(k.started, 3);
  assert_int_equal(k.ended, 1);
  assert_int_equal(k.exported, 1);
  assert_non_null(strstr(g_warn, "2 spans were still open at shutdown and were not exported"));
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 1);
  /* Ended after shutdown: released, not exported, and the snapshot stays what it was. */
  uvotel_span_end(a);
  uvotel_span_end(c);
  k = counters(f->p);
  assert_int_equal(k.open_at_shutdown, 2);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 1);
}

/* Everything ended: no warning about open spans, 0 returned, 0 counted. */
static void test_none_open(void **state) {
  fx_t *f = *state;
  make_provider(f, NULL);
  for (int i = 0; i < 5; i++) uvotel_span_end(uvotel_span_start(f->t, "x", NULL));
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), 0);
  assert_int_equal(counters(f->p).open_at_shutdown, 0);
  assert_null(strstr(g_warn, "still open"));
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 5);
}

/* Non-recording spans (sampler off) are never exported anyway: not counted as open. */
static void test_non_recording_not_counted(void **state) {
  fx_t *f = *state;
  make_provider(f, uvotel_sampler_always_off());
  uvotel_span_t *s = uvotel_span_start(f->t, "off", NULL);
  assert_int_equal(uvotel_span_is_recording(s), 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), 0);
  assert_int_equal(counters(f->p).open_at_shutdown, 0);
  assert_int_equal(counters(f->p).non_recording, 1);
  assert_null(strstr(g_warn, "still open"));
  uvotel_span_end(s);
}

/* free without shutdown shuts down first: the open span is said there too. */
static void test_free_says_open(void **state) {
  fx_t *f = *state;
  make_provider(f, NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "left", NULL);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_non_null(strstr(g_warn, "1 spans were still open at shutdown and were not exported"));
  /* Ending it after free is the misuse the header forbids; the pool outlives it (zombie), so
   * it is released here to keep the leak check honest. */
  uvotel_span_end(s);
}

/* Spans started on other threads (each its own counter shard) are counted too. */
static void *start_on_thread(void *arg) {
  uvotel_span_t **out = arg;
  uvotel_tracer_t *t = (uvotel_tracer_t *)out[0];
  for (int i = 0; i < 4; i++) out[i] = uvotel_span_start(t, "thread", NULL);
  uvotel_span_end(out[3]); /* one of the four ended */
  out[3] = NULL;
  uvotel_thread_cleanup();
  return NULL;
}

static void test_open_on_threads(void **state) {
  fx_t *f = *state;
  make_provider(f, NULL);
  uvotel_span_t *spans[2][4];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) {
    spans[i][0] = (uvotel_span_t *)f->t;
    assert_int_equal(pthread_create(&th[i], NULL, start_on_thread, spans[i]), 0);
  }
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
  uvotel_span_t *mine = uvotel_span_start(f->t, "main", NULL);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->p, 1000), UVOTEL_EIO);
  assert_int_equal(counters(f->p).open_at_shutdown, 7); /* 2 x 3 + 1 */
  assert_non_null(strstr(g_warn, "7 spans were still open at shutdown"));
  for (int i = 0; i < 2; i++) {
    for (int j = 0; j < 3; j++) uvotel_span_end(spans[i][j]);
  }
  uvotel_span_end(mine);
}

/* Read by size: a caller built against the first version (no open_at_shutdown) gets nothing
 * written past its struct; the first version's entry point fills that much only. */
static void test_counters_sized(void **state) {
  fx_t *f = *state;
  make_provider(f, NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "open", NULL);
  (void)uvotel_tracer_provider_shutdown(f->p, 1000);
  const size_t v1 = offsetof(uvotel_trace_counters_t, received) + sizeof(uint64_t);
  uvotel_trace_counters_t c;
  memset(&c, 0xee, sizeof c);
  assert_int_equal(uvotel_tracer_provider_counters_sized(f->p, &c, v1), 0);
  assert_int_equal(c.started, 1);
  assert_int_equal(c.open_at_shutdown, 0xeeeeeeeeeeeeeeeeull); /* not written */
  memset(&c, 0xee, sizeof c);
  assert_int_equal((uvotel_tracer_provider_counters)(f->p, &c), 0); /* the v1 symbol */
  assert_int_equal(c.started, 1);
  assert_int_equal(c.open_at_shutdown, 0xeeeeeeeeeeeeeeeeull);
  memset(&c, 0xee, sizeof c);
  assert_int_equal(uvotel_tracer_provider_counters_sized(f->p, &c, sizeof c), 0);
  assert_int_equal(c.open_at_shutdown, 1);
  /* a larger struct (a newer header): the known part written, the rest left alone */
  struct {
    uvotel_trace_counters_t c;
    uint64_t future;
  } big;
  memset(&big, 0xee, sizeof big);
  assert_int_equal(uvotel_tracer_provider_counters_sized(f->p, &big.c, sizeof big), 0);
  assert_int_equal(big.c.open_at_shutdown, 1);
  assert_int_equal(big.future, 0xeeeeeeeeeeeeeeeeull);
  /* bad input */
  assert_int_equal(uvotel_tracer_provider_counters_sized(f->p, &c, v1 - 1), UVOTEL_EINVAL);
  assert_int_equal(uvotel_tracer_provider_counters_sized(f->p, NULL, sizeof c), UVOTEL_EINVAL);
  assert_int_equal(uvotel_tracer_provider_counters_sized(NULL, &c, sizeof c), UVOTEL_EINVAL);
  assert_int_equal((uvotel_tracer_provider_counters)(NULL, &c), UVOTEL_EINVAL);
  assert_int_equal(uvotel_tracer_provider_counters(f->p, NULL), UVOTEL_EINVAL);
  uvotel_span_end(s);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_open_counted_and_said, setup, teardown),
      cmocka_unit_test_setup_teardown(test_none_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_non_recording_not_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_says_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_open_on_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_counters_sized, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
