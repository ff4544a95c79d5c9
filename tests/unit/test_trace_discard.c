/* The SDK seam behind the instrumentation's accept spans (uvotel/trace_sdk.h, internal block):
 * uvotel__span_has_children is set by a start with the span as parent (current span or
 * options.parent_span, not a parent_context) and cleared when the slot is reused;
 * uvotel__span_discard ends a span without it ever reaching a processor or a counter, except
 * where a processor watches starts, or the span does not record; bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "counting_alloc.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"

typedef struct fx_s {
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

static int g_on_start_calls;

static void count_start(void *self, uvotel_span_t *span, const uvotel_span_context_t *parent) {
  (void)self;
  (void)span;
  (void)parent;
  g_on_start_calls++;
}

static void ignore_end(void *self, const uvotel_span_data_t *span) {
  (void)self;
  (void)span;
}

static const uvotel_span_processor_ops_t k_watch = {.on_start = count_start, .on_end = ignore_end};

/* A provider with a simple processor into a memory exporter, and with `watch` a second
 * processor that has an on_start. */
static void fx_init(fx_t *fx, int watch) {
  memset(fx, 0, sizeof *fx);
  fx->live0 = counting_alloc_stats().live;
  fx->mem = uvotel_memory_exporter_create(0);
  assert_non_null(fx->mem);
  uvotel_span_processor_t *procs[2];
  procs[0] = uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(fx->mem));
  assert_non_null(procs[0]);
  if (watch) {
    procs[1] = uvotel_span_processor_create(&k_watch, NULL);
    assert_non_null(procs[1]);
  }
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = procs;
  o.n_processors = watch ? 2 : 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  fx->p = uvotel_tracer_provider_create(&o);
  assert_non_null(fx->p);
  fx->t = uvotel_tracer_get(fx->p, "discard", "1");
  assert_non_null(fx->t);
}

static void fx_free(fx_t *fx) {
  uvotel_memory_exporter_reset(fx->mem);
  (void)uvotel_tracer_provider_shutdown(fx->p, 1000);
  uvotel_tracer_provider_free(fx->p);
  uvotel_memory_exporter_free(fx->mem);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, fx->live0);
}

static uvotel_trace_counters_t counters(const fx_t *fx) {
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(fx->p, &c), 0);
  return c;
}

static void test_bad_input(void **state) {
  (void)state;
  assert_int_equal(uvotel__span_has_children(NULL), 0);
  assert_int_equal(uvotel__span_discard(NULL), 0);
  /* the static non-recording span (NULL tracer): nothing to do, nothing written */
  uvotel_span_t *s = uvotel_span_start(NULL, "x", NULL);
  assert_int_equal(uvotel__span_discard(s), 0);
  assert_int_equal(uvotel__span_has_children(s), 0);
}

static void test_has_children(void **state) {
  (void)state;
  fx_t fx;
  fx_init(&fx, 0);
  uvotel_span_t *a = uvotel_span_start(fx.t, "a", NULL);
  assert_int_equal(uvotel__span_has_children(a), 0);
  /* a child through parent_context only (the parent's context, not the object): not seen */
  uvotel_span_context_t ac = uvotel_span_context(a);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.parent_context = &ac;
  uvotel_span_end(uvotel_span_start(fx.t, "by context", &o));
  assert_int_equal(uvotel__span_has_children(a), 0);
  /* a root while a is current: not a child */
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(a, &sc), 0);
  o = (uvotel_span_options_t)UVOTEL_SPAN_OPTIONS_INIT;
  o.flags = UVOTEL_SPAN_ROOT;
  uvotel_span_end(uvotel_span_start(fx.t, "root", &o));
  assert_int_equal(uvotel__span_has_children(a), 0);
  /* under a as the current span */
  uvotel_span_end(uvotel_span_start(fx.t, "child", NULL));
  assert_int_equal(uvotel__span_has_children(a), 1);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  /* options.parent_span */
  uvotel_span_t *b = uvotel_span_start(fx.t, "b", NULL);
  o = (uvotel_span_options_t)UVOTEL_SPAN_OPTIONS_INIT;
  o.parent_span = b;
  uvotel_span_end(uvotel_span_start(fx.t, "b child", &o));
  assert_int_equal(uvotel__span_has_children(b), 1);
  uvotel_span_end(b);
  uvotel_span_end(a);
  /* a slot used again starts without children (the ended spans' slots are free again) */
  for (int i = 0; i < 8; i++) {
    uvotel_span_t *c = uvotel_span_start(fx.t, "again", NULL);
    assert_int_equal(uvotel__span_has_children(c), 0);
    uvotel_span_end(c);
  }
  fx_free(&fx);
}

static void test_discard(void **state) {
  (void)state;
  fx_t fx;
  fx_init(&fx, 0);
  uvotel_trace_counters_t c0 = counters(&fx);
  uvotel_span_t *s = uvotel_span_start(fx.t, "noise", NULL);
  uvotel_span_set_attribute_str(s, "k", "v");
  uvotel_span_t *held = uvotel_span_retain(s); /* as a context would hold it */
  assert_int_equal(uvotel__span_discard(s), 1);
  assert_int_equal(uvotel_span_is_recording(held), 0);
  assert_null(uvotel_span_data(held)); /* never a finished span */
  uint64_t misuse0 = uvotel_trace_misuse_total();
  uvotel_span_end(held); /* ending it again is the misuse it would be after an end */
  assert_int_equal(uvotel_trace_misuse_total(), misuse0 + 1);
  uvotel_span_release(held);
  uvotel_trace_counters_t c1 = counters(&fx);
  assert_int_equal(c1.started, c0.started);
  assert_int_equal(c1.ended, c0.ended);
  assert_int_equal(c1.received, c0.received);
  assert_int_equal(c1.dropped, c0.dropped);
  assert_int_equal(c1.non_recording, c0.non_recording);
  assert_int_equal(uvotel_memory_exporter_count(fx.mem), 0);
  /* the slot serves the next span normally */
  uvotel_span_t *next = uvotel_span_start(fx.t, "ok", NULL);
  uvotel_span_end(next);
  assert_int_equal(uvotel_memory_exporter_count(fx.mem), 1);
  assert_string_equal(uvotel_span_data_name(uvotel_memory_exporter_find(fx.mem, "ok")), "ok");
  /* a span that does not record (after shutdown): ended as usual, 0 */
  assert_int_equal(uvotel_tracer_provider_shutdown(fx.p, 1000), 0);
  uvotel_span_t *nr = uvotel_span_start(fx.t, "late", NULL);
  assert_int_equal(uvotel_span_is_recording(nr), 0);
  c0 = counters(&fx);
  assert_int_equal(uvotel__span_discard(nr), 0);
  c1 = counters(&fx);
  assert_int_equal(c1.started, c0.started);
  assert_int_equal(c1.non_recording, c0.non_recording);
  fx_free(&fx);
}

/* A processor with an on_start saw the span start: it is ended to it, as usual. */
static void test_discard_with_on_start(void **state) {
  (void)state;
  fx_t fx;
  fx_init(&fx, 1);
  g_on_start_calls = 0;
  uvotel_span_t *s = uvotel_span_start(fx.t, "watched", NULL);
  assert_int_equal(g_on_start_calls, 1);
  assert_int_equal(uvotel__span_discard(s), 0);
  assert_non_null(uvotel_memory_exporter_find(fx.mem, "watched"));
  uvotel_trace_counters_t c = counters(&fx);
  assert_int_equal(c.started, 1);
  assert_int_equal(c.ended, 1);
  fx_free(&fx);
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var(); /* created once per process, on first use: not a leak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_has_children),
      cmocka_unit_test(test_discard),
      cmocka_unit_test(test_discard_with_on_start),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
