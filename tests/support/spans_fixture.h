/* One fixture for the tests that check automatic spans with the memory exporter: a loop, a
 * provider with a simple processor into a memory exporter, a tracer; teardown asserts the loop
 * closes, nothing is tracked and nothing leaked (counting allocator); and attribute lookups on
 * finished spans. Header only: include it after cmocka.h in one test file. */
#ifndef UVOTEL_TEST_SPANS_FIXTURE_H
#define UVOTEL_TEST_SPANS_FIXTURE_H

#include <string.h>

#include "counting_alloc.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

typedef struct fx_s {
  uv_loop_t loop;
  long live0;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *provider;
  uvotel_tracer_t *tracer;
} fx_t;

static fx_t g_fx;

static int setup(void **state) {
  memset(&g_fx, 0, sizeof g_fx);
  g_fx.live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&g_fx.loop), 0);
  g_fx.mem = uvotel_memory_exporter_create(0);
  assert_non_null(g_fx.mem);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(g_fx.mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  g_fx.provider = uvotel_tracer_provider_create(&o);
  assert_non_null(g_fx.provider);
  g_fx.tracer = uvotel_tracer_get(g_fx.provider, "test", "1");
  assert_non_null(g_fx.tracer);
  *state = &g_fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  uvotel_auto_spans_disable();
  (void)uvotel_loop_close(&fx->loop);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  uvotel_memory_exporter_reset(fx->mem);
  (void)uvotel_tracer_provider_shutdown(fx->provider, 1000);
  uvotel_tracer_provider_free(fx->provider);
  uvotel_memory_exporter_free(fx->mem);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, fx->live0);
  return 0;
}

/* The attribute key of finished span d (NULL: none); its string value (NULL: none or not a
 * string); its integer value (asserted to be there and an integer). */
static inline const uvotel_attribute_t *attr(const uvotel_span_data_t *d, const char *key) {
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(a[i].key, key) == 0) return &a[i];
  }
  return NULL;
}

static inline const char *attr_str(const uvotel_span_data_t *d, const char *key) {
  const uvotel_attribute_t *a = attr(d, key);
  return a != NULL && a->value.type == UVOTEL_VALUE_STRING ? a->value.u.s : NULL;
}

static inline int64_t attr_int(const uvotel_span_data_t *d, const char *key) {
  const uvotel_attribute_t *a = attr(d, key);
  assert_non_null(a);
  assert_int_equal(a->value.type, UVOTEL_VALUE_INT);
  return a->value.u.i;
}

#endif
