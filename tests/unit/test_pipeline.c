/* The export pipeline shared by the batch span and the batch log processors: a loop that never
 * polls (nothing of the program's referenced, uv_run returning at once) still gets every span
 * and record exported; the log processor exports on its own threads, so flush makes progress
 * while the application's work items hold every libuv pool thread. */
#include <pthread.h>
#include <stdatomic.h>
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

/* The log exporter also notes whether it ever ran on one of libuv's pool threads (marked by the
 * application's work callbacks below). */
static __thread int t_is_pool_thread;
static atomic_int g_exported_on_pool;

static atomic_int g_hold; /* log exports wait while set */

static int log_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                      uint64_t timeout_ms) {
  (void)recs, (void)timeout_ms;
  while (atomic_load(&g_hold)) {
    struct timespec ts = {0, 1000000L};
    nanosleep(&ts, NULL);
  }
  if (t_is_pool_thread) atomic_fetch_add(&g_exported_on_pool, 1);
  cnt_add(self, n);
  return 0;
}
static const uvotel_log_exporter_ops_t k_log_ops = {.export_logs = log_export};

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

/* A provider on g_loop with one batch span processor (queue 256, batches of BATCH, no timer)
 * over an exporter with ops; *bp gets the processor. */
static uvotel_tracer_provider_t *span_provider(const uvotel_span_exporter_ops_t *ops, cnt_t *c,
                                               uint32_t max_concurrent,
                                               uvotel_span_processor_t **bp) {
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = &g_loop;
  bo.max_queue_size = 256;
  bo.max_export_batch_size = BATCH;
  if (max_concurrent > 0) bo.max_concurrent_exports = max_concurrent;
  bo.schedule_delay_ms = 60000; /* the timer would not fire anyway */
  *bp = uvotel_batch_span_processor_create(uvotel_span_exporter_create(ops, c), &bo);
  assert_non_null(*bp);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = bp;
  po.n_processors = 1;
  po.loop = &g_loop;
  po.resource_detectors = "none";
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  assert_non_null(p);
  return p;
}

/* (b) Spans: bursts of one batch each, ended on the loop's thread, with uv_run(NOWAIT) between
 * them returning at once (our handles are unreferenced and the program has none). Each burst's
 * batch goes out from its last span's end; the jobs must come back without the loop, or after
 * a few bursts every span is dropped. No flush before the counts. */
static void test_spans_on_a_loop_that_never_polls(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_span_processor_t *bp;
  uvotel_tracer_provider_t *p = span_provider(&k_span_ops, &c, 0, &bp);
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

static uvotel_logger_provider_t *log_provider(cnt_t *c, uvotel_log_processor_t **out) {
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &g_loop;
  bo.max_queue_size = 256;
  bo.max_export_batch_size = BATCH;
  bo.schedule_delay_ms = 60000;
  uvotel_log_processor_t *bp =
      uvotel_batch_log_processor_create(uvotel_log_exporter_create(&k_log_ops, c), &bo);
  assert_non_null(bp);
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.processors = &bp;
  o.n_processors = 1;
  o.loop = &g_loop;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  uvotel_logger_provider_t *p = uvotel_logger_provider_create(&o);
  assert_non_null(p);
  *out = bp;
  return p;
}

/* (b) Records, the same shape. The log processor may be created off the loop's thread (the
 * preload does), so it learns the loop's thread in its first callback or flush: here a flush,
 * the only loop-thread call a program with a never-polling loop makes. */
static void test_records_on_a_loop_that_never_polls(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_log_processor_t *bp;
  uvotel_logger_provider_t *p = log_provider(&c, &bp);
  uvotel_logger_t *l = uvotel_logger_get(p, "pipeline-test", NULL);
  assert_int_equal(uvotel_logger_provider_force_flush(p, 1000), 0);
  for (unsigned burst = 0; burst < BURSTS; burst++) {
    for (unsigned i = 0; i < BATCH; i++) {
      assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "r%u", i), 0);
    }
    assert_int_equal(uv_run(&g_loop, UV_RUN_NOWAIT), 0);
    for (int w = 0; w < 2000 && cnt_items(&c) < (burst + 1) * BATCH; w++) sleep_ms(1);
    assert_int_equal(cnt_items(&c), (burst + 1) * BATCH);
  }
  uvotel_log_processor_counters_t pc;
  for (int w = 0; w < 2000; w++) {
    assert_int_equal(uvotel_log_processor_counters(bp, &pc), 0);
    if (pc.exported == BURSTS * BATCH) break;
    sleep_ms(1);
  }
  assert_int_equal(pc.received, BURSTS * BATCH);
  assert_int_equal(pc.exported, BURSTS * BATCH);
  assert_int_equal(pc.dropped + pc.failed, 0);
  assert_int_equal(uvotel_logger_provider_shutdown(p, 5000), 0);
  uvotel_logger_provider_free(p);
}

/* (b) Spans, full queue: with the exporter held, the queue fills and later spans are dropped;
 * once the held export is back, nothing of the loop's runs again (uv_run returns at once), so
 * only a span end can start the next export. The queue must move without a flush. */
static atomic_int g_span_hold;
static int held_span_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                            uint64_t timeout_ms) {
  (void)spans, (void)timeout_ms;
  while (atomic_load(&g_span_hold)) sleep_ms(1);
  cnt_add(self, n);
  return 0;
}
static const uvotel_span_exporter_ops_t k_held_span_ops = {.export_spans = held_span_export};

static void test_spans_full_queue_on_a_loop_that_never_polls(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_span_processor_t *bp;
  uvotel_tracer_provider_t *p = span_provider(&k_held_span_ops, &c, 1, &bp);
  uvotel_tracer_t *t = uvotel_tracer_get(p, "pipeline-test", NULL);
  atomic_store(&g_span_hold, 1);
  for (int i = 0; i < 400; i++) uvotel_span_end(uvotel_span_start(t, "s", NULL));
  uvotel_span_processor_counters_t pc;
  assert_int_equal(uvotel_span_processor_counters(bp, &pc), 0);
  assert_true(pc.dropped > 0); /* the queue filled behind the held export */
  atomic_store(&g_span_hold, 0);
  for (int w = 0; w < 2000; w++) {
    assert_int_equal(uvotel_span_processor_counters(bp, &pc), 0);
    if (pc.in_flight == 0 && cnt_items(&c) >= BATCH) break;
    sleep_ms(1);
  }
  assert_int_equal(uv_run(&g_loop, UV_RUN_NOWAIT), 0);
  size_t before = cnt_items(&c);
  for (int w = 0; w < 2000 && cnt_items(&c) < before + 256; w++) {
    for (int i = 0; i < 5; i++) uvotel_span_end(uvotel_span_start(t, "y", NULL));
    sleep_ms(1);
  }
  assert_true(cnt_items(&c) >= before + 256); /* the queue moved without a flush */
  (void)uvotel_tracer_provider_shutdown(p, 5000);
  assert_int_equal(uvotel_span_processor_counters(bp, &pc), 0);
  assert_int_equal(pc.received, pc.exported + pc.dropped + pc.failed);
  uvotel_tracer_provider_free(p);
}

/* (b) A full queue on a loop that never polls: once the export that held it finishes, the
 * next record (dropped: no room) starts the next export, so the ones after it are kept. Before,
 * nothing did: every later record was dropped until a flush (bench_logs lost 98%). */
static void test_records_full_queue_on_a_loop_that_never_polls(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_log_processor_t *bp;
  uvotel_logger_provider_t *p = log_provider(&c, &bp);
  uvotel_logger_t *l = uvotel_logger_get(p, "pipeline-test", NULL);
  assert_int_equal(uvotel_logger_provider_force_flush(p, 1000), 0);
  atomic_store(&g_hold, 1);
  for (int i = 0; i < 400; i++) assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "x"), 0);
  uvotel_log_processor_counters_t pc;
  assert_int_equal(uvotel_log_processor_counters(bp, &pc), 0);
  assert_int_equal(pc.queued, 256); /* full, one batch held by the exporter */
  assert_int_equal(pc.in_flight, 1);
  assert_int_equal(pc.dropped, 400 - 256 - BATCH);
  atomic_store(&g_hold, 0);
  for (int w = 0; w < 2000 && cnt_items(&c) < BATCH; w++) sleep_ms(1);
  for (int w = 0; w < 2000; w++) {
    assert_int_equal(uvotel_log_processor_counters(bp, &pc), 0);
    if (pc.in_flight == 0) break;
    sleep_ms(1);
  }
  assert_int_equal(uv_run(&g_loop, UV_RUN_NOWAIT), 0);
  assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "kick"), 0); /* no room: dropped */
  for (int w = 0; w < 2000 && cnt_items(&c) < 256 + BATCH; w++) {
    for (int i = 0; i < 5; i++) (void)uvotel_log(l, UVOTEL_SEVERITY_INFO, "y");
    sleep_ms(1);
  }
  assert_true(cnt_items(&c) >= 256 + BATCH); /* the queue moved without a flush */
  assert_int_equal(uvotel_logger_provider_shutdown(p, 5000), 0);
  assert_int_equal(uvotel_log_processor_counters(bp, &pc), 0);
  assert_int_equal(pc.received, pc.exported + pc.dropped + pc.failed);
  uvotel_logger_provider_free(p);
}

/* (a) The log processor exports on its own threads: flush and shutdown make progress while four
 * work items of the application hold every pool thread (UV_THREADPOOL_SIZE=4), and no export
 * ever runs on a pool thread. */
static uv_sem_t g_release;
static atomic_int g_on_pool;

static void blocking_work(uv_work_t *req) {
  (void)req;
  t_is_pool_thread = 1;
  atomic_fetch_add(&g_on_pool, 1);
  uv_sem_wait(&g_release);
}

static void after_blocking(uv_work_t *req, int status) {
  (void)status;
  (*(int *)req->data)++;
}

static void test_log_flush_with_the_pool_busy(void **state) {
  (void)state;
  cnt_t c;
  cnt_init(&c);
  uvotel_log_processor_t *bp;
  uvotel_logger_provider_t *p = log_provider(&c, &bp);
  uvotel_logger_t *l = uvotel_logger_get(p, "pipeline-test", NULL);
  assert_int_equal(uv_sem_init(&g_release, 0), 0);
  uv_work_t work[4];
  int done = 0;
  for (int i = 0; i < 4; i++) {
    work[i].data = &done;
    assert_int_equal(uv_queue_work(&g_loop, &work[i], blocking_work, after_blocking), 0);
  }
  while (atomic_load(&g_on_pool) < 4) sleep_ms(1); /* every pool thread is held */
  for (int i = 0; i < 200; i++) assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "a"), 0);
  assert_int_equal(uvotel_logger_provider_force_flush(p, 5000), 0);
  assert_int_equal(cnt_items(&c), 200);
  for (int i = 0; i < 200; i++) assert_int_equal(uvotel_log(l, UVOTEL_SEVERITY_INFO, "b"), 0);
  assert_int_equal(uvotel_logger_provider_shutdown(p, 5000), 0);
  assert_int_equal(cnt_items(&c), 400);
  uvotel_log_processor_counters_t pc;
  assert_int_equal(uvotel_log_processor_counters(bp, &pc), 0);
  assert_int_equal(pc.received, 400);
  assert_int_equal(pc.exported, 400);
  assert_int_equal(done, 0); /* the application's work still holds the pool */
  assert_int_equal(atomic_load(&g_exported_on_pool), 0);
  for (int i = 0; i < 4; i++) uv_sem_post(&g_release);
  while (done < 4) uv_run(&g_loop, UV_RUN_ONCE);
  uv_sem_destroy(&g_release);
  uvotel_logger_provider_free(p);
}

int main(void) {
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_spans_on_a_loop_that_never_polls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_records_on_a_loop_that_never_polls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spans_full_queue_on_a_loop_that_never_polls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_records_full_queue_on_a_loop_that_never_polls, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_log_flush_with_the_pool_busy, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
