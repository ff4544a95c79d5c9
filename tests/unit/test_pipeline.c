/* The export pipeline shared by the batch span and the batch log processors: a loop that never
 * polls (nothing of the program's referenced, uv_run returning at once) still gets every span
 * and record exported; the log processor exports on its own threads, so flush makes progress
 * while the application's work items hold every libuv pool thread. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/logs.h>
#include <uvotel/logs_sdk.h>

/* ---- test exporters: count what they are given (export thread) ---- */

typedef struct cnt_s {
  pthread_mutex_t mu;
  size_t items, batches;
} cnt_t;

static void cnt_init(cnt_t *c) {
  memset(c, 0, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
}

static size_t cnt_items(cnt_t *c) {
  pthread_mutex_lock(&c->mu);
  size_t n = c->items;
  pthread_mutex_unlock(&c->mu);
  return n;
}

static void cnt_add(cnt_t *c, size_t n) {
  pthread_mutex_lock(&c->mu);
  c->items += n;
  c->batches++;
  pthread_mutex_unlock(&c->mu);
}

static int span_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                       uint64_t timeout_ms) {
  (void)spans, (void)timeout_ms;
  cnt_add(self, n);
  return 0;
}
static const uvotel_span_exporter_ops_t k_span_ops = {.export_spans = span_export};

static void sleep_ms(unsigned ms) {
  struct timespec ts = {0, (long)ms * 1000000L};
  nanosleep(&ts, NULL);
}

/* ---- fixture: a loop with nothing of the program's on it ---- */

static uv_loop_t g_loop;

static int setup(void **state) {
  (void)state;
  assert_int_equal(uv_loop_init(&g_loop), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uv_run(&g_loop, UV_RUN_DEFAULT); /* the processors' handles close */
  assert_int_equal(uv_loop_close(&g_loop), 0);
  return 0;
}

#define BATCH 50u
#define BURSTS 40u

/* (b) Spans: bursts of one batch each, ended on the loop's thread, with uv_run(NOWAIT) between
 * them returning at once (our handles are unreferenced and the program has none). Each burst's
 * batch goes out from its last span's end; the jobs must come back without the loop, or after
 * a few bursts every span is dropped. No flush before the counts. */
static void test_spans_on_a_loop_that_never_polls(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &g_loop;
  bo.max_queue_size = 256;
  bo.max_export_batch_size = BATCH;
  bo.schedule_delay_ms = 60000; /* the timer would not fire anyway */
  uvotel_span_processor_t *bp =
      uvotel_batch_span_processor_create(uvotel_span_exporter_create(&k_span_ops, &c), &bo);
  assert_non_null(bp);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &bp;
  po.n_processors = 1;
  po.loop = &g_loop;
  po.resource_detectors = "none";
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "pipeline-test", NULL);
  for (unsigned burst = 0; burst < BURSTS; burst++) {
    for (unsigned i = 0; i < BATCH; i++) uvotel_span_end(uvotel_span_start(t, "s", NULL));
    assert_int_equal(uv_run(&g_loop, UV_RUN_NOWAIT), 0); /* returns at once: nothing alive */
    /* the export thread takes the batch; wait for its result */
    for (int w = 0; w < 2000 && cnt_items(&c) < (burst + 1) * BATCH; w++) sleep_ms(1);
    assert_int_equal(cnt_items(&c), (burst + 1) * BATCH);
  }
  uvotel_span_processor_counters_t pc;
  for (int w = 0; w < 2000; w++) {
    assert_int_equal(uvotel_span_processor_counters(bp, &pc), 0);
    if (pc.exported == BURSTS * BATCH) break;
    sleep_ms(1);
  }
  assert_int_equal(pc.received, BURSTS * BATCH);
  assert_int_equal(pc.exported, BURSTS * BATCH);
  assert_int_equal(pc.dropped, 0);
  assert_int_equal(pc.failed, 0);
  assert_int_equal(uvotel_tracer_provider_shutdown(p, 5000), 0);
  uvotel_tracer_provider_free(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_spans_on_a_loop_that_never_polls, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
