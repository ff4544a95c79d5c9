/* One fixture for the SDK-only attribute tests: a provider with a simple processor into a memory
 * exporter, given attribute count limits (span, event and link) and a value-length limit; setup
 * records the live allocations, teardown frees what is open and asserts nothing leaked (counting
 * allocator). Header only: include it after cmocka.h in one test file. */
#ifndef UVOTEL_TEST_ATTR_FIXTURE_H
#define UVOTEL_TEST_ATTR_FIXTURE_H

#include <stdlib.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

/* The same with a sampler (owned by the provider; NULL: the default one). */
static inline void open_provider_sampled(fx_t *f, uint32_t attr_limit, uint32_t value_len,
                                         uvotel_sampler_t *sampler) {
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  o.limits.attribute_count = attr_limit;
  o.limits.event_attribute_count = attr_limit;
  o.limits.link_attribute_count = attr_limit;
  o.limits.attribute_value_length = value_len;
  o.sampler = sampler;
  f->p = uvotel_tracer_provider_create(&o);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "attrs", NULL);
}

static void open_provider_lim(fx_t *f, uint32_t attr_limit, uint32_t value_len) {
  open_provider_sampled(f, attr_limit, value_len, NULL);
}

static void close_provider(fx_t *f) {
  uvotel_tracer_provider_free(f->p);
  uvotel_memory_exporter_free(f->mem);
  f->p = NULL;
  f->mem = NULL;
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  f->live0 = counting_alloc_stats().live;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->p != NULL) close_provider(f);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

#endif
