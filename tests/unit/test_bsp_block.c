/* Batch processor back-pressure (block_timeout_ms / UVOTEL_BSP_BLOCK_TIMEOUT) and the generic
 * asynchronous processor free (free_async). The exporters here are synchronous test doubles:
 * one that takes a few ms per batch (slow), one that holds every batch until told (stuck). */
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
#include <uvotel/uv.h>

#include "counting_alloc.h"

/* ---- diagnostics capture (any thread) ---- */

static pthread_mutex_t g_diag_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_diag_all[8192];
static int g_diag_warn;
static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  pthread_mutex_lock(&g_diag_mu);
  if (level <= UVOTEL_DIAG_WARN) {
    g_diag_warn++;
    size_t n = strlen(g_diag_all);
    snprintf(g_diag_all + n, sizeof g_diag_all - n, "%s\n", msg);
  }
  pthread_mutex_unlock(&g_diag_mu);
}
static int diag_has(const char *s) {
  pthread_mutex_lock(&g_diag_mu);
  int r = strstr(g_diag_all, s) != NULL;
  pthread_mutex_unlock(&g_diag_mu);
  return r;
}

static uint64_t mono_ms(void) {
  return uv_hrtime() / 1000000u;
}

/* ---- test exporter: counts spans; sleeps delay_us per batch, or holds until released ---- */

typedef struct texp_s {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  unsigned delay_us;
  int stuck;   /* export waits while set */
  int holding; /* exports waiting now */
  size_t spans, batches;
} texp_t;

static int texp_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                       uint64_t timeout_ms) {
  (void)spans, (void)timeout_ms;
  texp_t *x = self;
  if (x->delay_us) usleep(x->delay_us);
  pthread_mutex_lock(&x->mu);
  x->holding++;
  pthread_cond_broadcast(&x->cv);
  while (x->stuck) pthread_cond_wait(&x->cv, &x->mu);
  x->holding--;
  x->spans += n;
  x->batches++;
  pthread_mutex_unlock(&x->mu);
  return 0;
}
static const uvotel_span_exporter_ops_t k_texp_ops = {.export_spans = texp_export};

static void texp_init(texp_t *x, unsigned delay_us, int stuck) {
  memset(x, 0, sizeof *x);
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
  x->delay_us = delay_us;
  x->stuck = stuck;
}
static void texp_release(texp_t *x) {
  pthread_mutex_lock(&x->mu);
  x->stuck = 0;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
}
static void texp_wait_holding(texp_t *x) {
  pthread_mutex_lock(&x->mu);
  while (x->holding == 0) pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
}
static size_t texp_spans(texp_t *x) {
  pthread_mutex_lock(&x->mu);
  size_t n = x->spans;
  pthread_mutex_unlock(&x->mu);
  return n;
}
static void texp_destroy(texp_t *x) {
  pthread_mutex_destroy(&x->mu);
  pthread_cond_destroy(&x->cv);
}

/* ---- fixture ---- */

typedef struct fx_s {
  uv_loop_t loop;
  texp_t x;
  uvotel_span_processor_t *bp;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  g_diag_all[0] = '\0';
  g_diag_warn = 0;
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_WARN);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  texp_release(&f->x);
  if (f->p != NULL) uvotel_tracer_provider_free(f->p);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  uvotel_loop_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  texp_destroy(&f->x);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_ERROR);
  free(f);
  return 0;
}

/* A provider over one batch processor (queue q, batches bs, one export at a time). */
static void make(fx_t *f, uint32_t q, uint32_t bs, uint64_t block_ms, uint64_t export_timeout_ms,
                 unsigned delay_us, int stuck) {
  texp_init(&f->x, delay_us, stuck);
  uvotel_span_exporter_t *e = uvotel_span_exporter_create(&k_texp_ops, &f->x);
  assert_non_null(e);
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  assert_int_equal(bo.block_timeout_ms, 0); /* drop stays the default */
  bo.loop = &f->loop;
  bo.max_queue_size = q;
  bo.max_export_batch_size = bs;
  bo.schedule_delay_ms = 10;
  bo.export_timeout_ms = export_timeout_ms;
  bo.block_timeout_ms = block_ms;
  f->bp = uvotel_batch_span_processor_create(e, &bo);
  assert_non_null(f->bp);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &f->bp;
  po.n_processors = 1;
  po.loop = &f->loop;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  f->p = uvotel_tracer_provider_create(&po);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "bsp.block", NULL);
}

static void end_spans(uvotel_tracer_t *t, size_t n) {
  for (size_t i = 0; i < n; i++) uvotel_span_end(uvotel_span_start(t, "s", NULL));
}

static uvotel_span_processor_counters_t counters(fx_t *f) {
  uvotel_span_processor_counters_t c;
  assert_int_equal(uvotel_span_processor_counters(f->bp, &c), 0);
  return c;
}

/* The same burst on the loop thread: dropped by default, every span delivered with
 * back-pressure (the waiting end dispatches the exports itself). */
static void test_block_on_loop_thread_delivers_all(void **state) {
  fx_t *f = *state;
  make(f, 16, 8, 0, 30000, 2000, 0);
  end_spans(f->t, 400);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10000), UVOTEL_EIO);
  uvotel_span_processor_counters_t c = counters(f);
  assert_true(c.dropped > 0); /* the default: drop, counted */
  assert_int_equal(c.exported + c.dropped, 400);
  assert_true(diag_has("dropped"));
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  texp_destroy(&f->x);

  make(f, 16, 8, 5000, 30000, 2000, 0);
  g_diag_warn = 0;
  end_spans(f->t, 400);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10000), 0);
  c = counters(f);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(c.exported, 400);
  assert_int_equal(texp_spans(&f->x), 400);
  assert_int_equal(g_diag_warn, 0);
}

static void keep_tick(uv_timer_t *t) {
  (void)t;
}

/* The bound holds: an exporter that never returns makes a span end on the loop thread wait
 * block_timeout_ms, then drop the span, count it and say so. */
static void test_block_bound_then_drop_counted(void **state) {
  fx_t *f = *state;
  make(f, 4, 4, 60, 30000, 0, 1);
  end_spans(f->t, 4); /* a full batch: dispatched to the (stuck) export thread */
  texp_wait_holding(&f->x);
  end_spans(f->t, 4); /* fills the queue */
  uint64_t t0 = mono_ms();
  end_spans(f->t, 1);
  uint64_t waited = mono_ms() - t0;
  assert_true(waited >= 59);
  assert_true(waited < 5000);
  uvotel_span_processor_counters_t c = counters(f);
  assert_int_equal(c.dropped, 1);
  assert_int_equal(c.received, 9);
  /* said by the processor's interval report (its timer, unreferenced, runs on the loop: a
   * referenced timer of ours keeps the loop turning) */
  uv_timer_t keep;
  uv_timer_init(&f->loop, &keep);
  uv_timer_start(&keep, keep_tick, 5, 5);
  for (int i = 0; i < 200 && !diag_has("after waiting 60 ms"); i++) uv_run(&f->loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&keep, NULL);
  uv_run(&f->loop, UV_RUN_NOWAIT);
  assert_true(diag_has("1 of them after waiting 60 ms for room"));
  texp_release(&f->x);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10000), UVOTEL_EIO);
  c = counters(f);
  assert_int_equal(c.exported, 8);
  assert_int_equal(c.dropped, 1);
}

/* block_timeout_ms above export_timeout_ms is clamped to it. */
static void test_block_clamped_to_export_timeout(void **state) {
  fx_t *f = *state;
  make(f, 4, 4, 100000, 80, 0, 1);
  end_spans(f->t, 4);
  texp_wait_holding(&f->x);
  end_spans(f->t, 4);
  uint64_t t0 = mono_ms();
  end_spans(f->t, 1);
  uint64_t waited = mono_ms() - t0;
  assert_true(waited >= 79);
  assert_true(waited < 5000);
  assert_int_equal(counters(f).dropped, 1);
}

/* ---- producers on another thread ---- */

typedef struct prod_s {
  fx_t *f;
  size_t n;
  uv_async_t done;
  uint64_t took_ms;
} prod_t;

static void *prod_main(void *arg) {
  prod_t *p = arg;
  uint64_t t0 = mono_ms();
  end_spans(p->f->t, p->n);
  p->took_ms = mono_ms() - t0;
  uvotel_thread_cleanup();
  uv_async_send(&p->done);
  return NULL;
}
static void prod_done(uv_async_t *a) {
  uv_close((uv_handle_t *)a, NULL);
}

/* Another thread ends spans faster than the exporter takes them while the loop runs: it waits
 * for room (the loop takes spans out and wakes it) and nothing is dropped. */
static void test_block_other_thread_delivers_all(void **state) {
  fx_t *f = *state;
  make(f, 16, 8, 5000, 30000, 1000, 0);
  prod_t p = {f, 1500, {0}, 0};
  uv_async_init(&f->loop, &p.done, prod_done);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, prod_main, &p), 0);
  uv_run(&f->loop, UV_RUN_DEFAULT); /* until the producer is done (its async handle) */
  pthread_join(th, NULL);
  assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 10000), 0);
  uvotel_span_processor_counters_t c = counters(f);
  assert_int_equal(c.dropped, 0);
  assert_int_equal(c.exported, 1500);
}

/* A producer on another thread waiting with a long bound is let go by shutdown: the span is
 * dropped and counted, and the thread does not wait out the bound. */
static void *blocked_main(void *arg) {
  prod_t *p = arg;
  uint64_t t0 = mono_ms();
  end_spans(p->f->t, p->n);
  p->took_ms = mono_ms() - t0;
  uvotel_thread_cleanup();
  return NULL;
}

static void test_block_released_by_shutdown(void **state) {
  fx_t *f = *state;
  make(f, 4, 4, 20000, 30000, 0, 1);
  end_spans(f->t, 4);
  texp_wait_holding(&f->x);
  end_spans(f->t, 4);
  prod_t p = {f, 1, {0}, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, blocked_main, &p), 0);
  usleep(50000); /* let it start waiting */
  assert_int_equal(counters(f).received, 8);
  texp_release(&f->x); /* the export returns; its room is not given to the waiter by the loop
                          (not running), so shutdown flushes first, then lets it go */
  int rc = uvotel_tracer_provider_shutdown(f->p, 5000);
  pthread_join(th, NULL);
  assert_true(p.took_ms < 10000);
  uvotel_span_processor_counters_t c = counters(f);
  assert_int_equal(c.received, 9);
  assert_int_equal(c.queued, 0);
  assert_int_equal(c.exported + c.dropped, 9);
  assert_int_equal(rc, c.dropped > 0 ? UVOTEL_EIO : 0);
}

/* ---- from_env: UVOTEL_BSP_BLOCK_TIMEOUT ---- */

static texp_t *g_env_x;
static uvotel_span_exporter_t *env_factory(const char *name, void *arg) {
  (void)name, (void)arg;
  return uvotel_span_exporter_create(&k_texp_ops, g_env_x);
}

/* end 9 spans on a 4-span queue whose exporter is stuck: how long did the 9th end take? */
static uint64_t env_run(fx_t *f, const char *value, uvotel_span_processor_counters_t *out) {
  texp_init(&f->x, 0, 1);
  g_env_x = &f->x;
  setenv("OTEL_TRACES_EXPORTER", "bsptest", 1);
  setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4", 1);
  setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4", 1);
  setenv("OTEL_PROPAGATORS", "none", 1);
  if (value != NULL)
    setenv("UVOTEL_BSP_BLOCK_TIMEOUT", value, 1);
  else
    unsetenv("UVOTEL_BSP_BLOCK_TIMEOUT");
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = &f->loop;
  base.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  f->p = uvotel_tracer_provider_from_env_with(&base);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "bsp.env", NULL);
  end_spans(f->t, 4);
  texp_wait_holding(&f->x);
  end_spans(f->t, 4);
  uint64_t t0 = mono_ms();
  end_spans(f->t, 1);
  uint64_t took = mono_ms() - t0;
  uvotel_trace_counters_t tc;
  uvotel_tracer_provider_counters(f->p, &tc);
  memset(out, 0, sizeof *out);
  out->dropped = tc.dropped;
  texp_release(&f->x);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  uv_run(&f->loop, UV_RUN_DEFAULT);
  texp_destroy(&f->x);
  return took;
}

static void test_block_env(void **state) {
  fx_t *f = *state;
  assert_int_equal(uvotel_span_exporter_register("bsptest", env_factory, NULL), 0);
  uvotel_span_processor_counters_t c;
  /* set: the 9th end waits */
  g_diag_warn = 0;
  uint64_t took = env_run(f, "80", &c);
  assert_true(took >= 79);
  assert_int_equal(c.dropped, 1);
  /* unset and empty: the default, drop at once, no warning about the variable */
  took = env_run(f, NULL, &c);
  assert_true(took < 50);
  assert_int_equal(c.dropped, 1);
  took = env_run(f, "", &c);
  assert_true(took < 50);
  /* bad values: a warning naming the variable each, and the default (no wait) */
  static const char *const bad[] = {"abc", "-5", "12ms", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    g_diag_all[0] = '\0';
    took = env_run(f, bad[i], &c);
    assert_true(took < 50);
    assert_int_equal(c.dropped, 1);
    char want[128];
    snprintf(want, sizeof want, "UVOTEL_BSP_BLOCK_TIMEOUT=\"%s\"", bad[i]);
    assert_true(diag_has(want));
  }
  unsetenv("UVOTEL_BSP_BLOCK_TIMEOUT");
  unsetenv("OTEL_TRACES_EXPORTER");
  unsetenv("OTEL_BSP_MAX_QUEUE_SIZE");
  unsetenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE");
  unsetenv("OTEL_PROPAGATORS");
  texp_init(&f->x, 0, 0); /* for teardown */
}

/* ---- free_async: the provider keeps span storage until the processor says done ---- */

typedef struct lazy_s {
  uv_timer_t timer;
  const uvotel_span_data_t *held[4];
  size_t n;
  void (*done)(void *);
  void *done_arg;
  int freed_sync, done_calls;
  uint64_t seen_end_ns;
} lazy_t;

static void lazy_on_end(void *self, const uvotel_span_data_t *d) {
  lazy_t *l = self;
  if (l->n < 4) l->held[l->n++] = uvotel_span_data_retain(d);
}
static void lazy_free_sync(void *self) {
  ((lazy_t *)self)->freed_sync++;
}
static void lazy_timer_closed(uv_handle_t *h) {
  lazy_t *l = h->data;
  l->done_calls++;
  if (l->done != NULL) l->done(l->done_arg);
}
static void lazy_tick(uv_timer_t *t) {
  lazy_t *l = t->data;
  /* the span data is still valid: the provider waits for done */
  for (size_t i = 0; i < l->n; i++) {
    l->seen_end_ns += uvotel_span_data_end_unix_ns(l->held[i]) != 0;
    uvotel_span_data_release(l->held[i]);
  }
  uv_close((uv_handle_t *)t, lazy_timer_closed);
}
static void lazy_free_async(void *self, void (*done)(void *), void *arg) {
  lazy_t *l = self;
  l->done = done;
  l->done_arg = arg;
  uv_timer_start(&l->timer, lazy_tick, 5, 0);
}
static const uvotel_span_processor_ops_t k_lazy_ops = {
    .on_end = lazy_on_end, .free = lazy_free_sync, .free_async = lazy_free_async};

/* A provider over the one processor pr, on the fixture's loop. */
static void provider_over(fx_t *f, uvotel_span_processor_t *pr) {
  assert_non_null(pr);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &pr;
  po.n_processors = 1;
  po.loop = &f->loop;
  po.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  f->p = uvotel_tracer_provider_create(&po);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "free", NULL);
}

static void test_free_async_defers_retire(void **state) {
  fx_t *f = *state;
  texp_init(&f->x, 0, 0);
  lazy_t l;
  memset(&l, 0, sizeof l);
  uv_timer_init(&f->loop, &l.timer);
  l.timer.data = &l;
  provider_over(f, uvotel_span_processor_create(&k_lazy_ops, &l));
  end_spans(f->t, 3);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_int_equal(l.done_calls, 0); /* not yet: the timer runs on the loop */
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(l.done_calls, 1);
  assert_int_equal(l.freed_sync, 0); /* free_async replaces free */
  assert_int_equal(l.seen_end_ns, 3);
}

/* A processor without free_async is freed at once (its free called once). */
static void test_free_sync_still_called(void **state) {
  fx_t *f = *state;
  texp_init(&f->x, 0, 0);
  static const uvotel_span_processor_ops_t ops = {.on_end = lazy_on_end, .free = lazy_free_sync};
  lazy_t l;
  memset(&l, 0, sizeof l);
  provider_over(f, uvotel_span_processor_create(&ops, &l));
  end_spans(f->t, 2);
  for (size_t i = 0; i < l.n; i++) uvotel_span_data_release(l.held[i]);
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
  assert_int_equal(l.freed_sync, 1);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_block_on_loop_thread_delivers_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_bound_then_drop_counted, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_clamped_to_export_timeout, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_other_thread_delivers_all, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_released_by_shutdown, setup, teardown),
      cmocka_unit_test_setup_teardown(test_block_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_async_defers_retire, setup, teardown),
      cmocka_unit_test_setup_teardown(test_free_sync_still_called, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
