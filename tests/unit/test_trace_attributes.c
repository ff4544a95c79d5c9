/* Span attributes: duplicate keys replace earlier values in place (insertion order kept), the
 * count limit counts what it drops, at every size (the linear scan up to 8 keys, the hash index
 * beyond, its rebuilds as it grows), for span, event and link attributes; a reused slot forgets
 * the keys (and index) of its previous span; out of memory while the index is built leaves the
 * attributes correct; and 64 attributes cost about 16 times 4, not 256 times (linear growth). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

static void open_provider(fx_t *f, uint32_t attr_limit) {
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
  f->p = uvotel_tracer_provider_create(&o);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "attrs", NULL);
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

/* The reference: keys in first-set order, each with its last value, `limit` distinct at most. */
typedef struct model_s {
  char keys[512][16];
  int64_t vals[512];
  size_t n;
  uint32_t dropped;
} model_t;

static void model_set(model_t *m, uint32_t limit, const char *key, int64_t v) {
  for (size_t i = 0; i < m->n; i++) {
    if (strcmp(m->keys[i], key) == 0) {
      m->vals[i] = v;
      return;
    }
  }
  if (m->n >= limit) {
    m->dropped++;
    return;
  }
  snprintf(m->keys[m->n], sizeof m->keys[0], "%s", key);
  m->vals[m->n++] = v;
}

static void expect_model(const uvotel_attribute_t *a, size_t n, uint32_t dropped,
                         const model_t *m) {
  assert_int_equal(n, m->n);
  assert_int_equal(dropped, m->dropped);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(a[i].key, m->keys[i]);
    assert_int_equal(a[i].value.type, UVOTEL_VALUE_INT);
    assert_int_equal(a[i].value.u.i, m->vals[i]);
  }
}

static uint64_t g_rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng % n);
}

/* Random sequences of sets over key pools of every size, against the model; the memory
 * exporter is reset between rounds so slots (and their indexes) are reused by spans with other
 * keys. */
static void test_span_attributes_match_model(void **state) {
  fx_t *f = *state;
  open_provider(f, 100);
  static const uint32_t pools[] = {1, 4, 8, 9, 12, 40, 200};
  static model_t m;
  for (int round = 0; round < 12; round++) {
    for (size_t pi = 0; pi < sizeof pools / sizeof pools[0]; pi++) {
      memset(&m, 0, sizeof m);
      uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
      uint32_t sets = 1 + rnd(3 * pools[pi] + 20);
      for (uint32_t k = 0; k < sets; k++) {
        char key[16];
        /* round-dependent names: a reused slot must not find its last span's keys */
        snprintf(key, sizeof key, "%c.k%u", 'a' + round, rnd(pools[pi]));
        int64_t v = (int64_t)rnd(1000000);
        uvotel_span_set_attribute_int(s, key, v);
        model_set(&m, 100, key, v);
      }
      uvotel_span_end(s);
      const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, pi);
      size_t n;
      const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
      expect_model(a, n, uvotel_span_data_dropped_attributes(d), &m);
    }
    uvotel_memory_exporter_reset(f->mem); /* releases the slots for the next round */
  }
}

/* Explicit: 90 keys, all 90 set again (in reverse), 20 more: 10 kept up to the limit of 100. */
static void test_span_attributes_replace_and_limit(void **state) {
  fx_t *f = *state;
  open_provider(f, 100);
  static model_t m;
  memset(&m, 0, sizeof m);
  uvotel_span_t *s = uvotel_span_start(f->t, "wide", NULL);
  char key[16];
  for (int i = 0; i < 90; i++) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, i);
    model_set(&m, 100, key, i);
  }
  for (int i = 89; i >= 0; i--) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, 1000 + i);
    model_set(&m, 100, key, 1000 + i);
  }
  for (int i = 90; i < 110; i++) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, i);
    model_set(&m, 100, key, i);
  }
  /* a full span still replaces the values of keys it has */
  uvotel_span_set_attribute_int(s, "key.99", -1);
  model_set(&m, 100, "key.99", -1);
  uvotel_span_end(s);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(m.n, 100);
  assert_int_equal(m.dropped, 10);
  expect_model(a, n, uvotel_span_data_dropped_attributes(d), &m);
}

/* Event and link attribute lists: duplicates inside one list, small and large. */
static void test_event_and_link_attributes(void **state) {
  fx_t *f = *state;
  open_provider(f, 30);
  static model_t m;
  static uvotel_attribute_t list[120];
  static char keys[120][16];
  for (int size = 1; size <= 120; size = size * 3 + 1) {
    memset(&m, 0, sizeof m);
    for (int i = 0; i < size; i++) {
      snprintf(keys[i], sizeof keys[i], "e%d", (int)rnd((uint32_t)size / 2 + 1));
      uvotel_attribute_t at = UVOTEL_ATTR_INT(keys[i], i);
      list[i] = at;
      model_set(&m, 30, keys[i], i);
    }
    uvotel_span_t *s = uvotel_span_start(f->t, "ev", NULL);
    uvotel_span_add_event(s, "e", list, (size_t)size);
    uvotel_link_t l = {uvotel_span_context(s), list, (size_t)size, 0};
    uvotel_span_add_link(s, &l);
    uvotel_span_end(s);
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
    size_t n;
    const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
    assert_int_equal(n, 1);
    expect_model(ev[0].attrs, ev[0].n_attrs, ev[0].dropped_attributes, &m);
    const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
    assert_int_equal(n, 1);
    expect_model(lk[0].attrs, lk[0].n_attrs, lk[0].dropped_attributes, &m);
    uvotel_memory_exporter_reset(f->mem);
  }
}

/* Out of memory at each allocation while a span grows past the linear range: what is kept is
 * right (unique keys, last values), whatever failed is counted as dropped. */
static void test_attributes_out_of_memory(void **state) {
  fx_t *f = *state;
  open_provider(f, 128);
  for (long fail_at = 0; fail_at < 8; fail_at++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "oom", NULL);
    char key[16];
    for (int i = 0; i < 8; i++) {
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, i);
    }
    counting_alloc_fail_after(fail_at, 1);
    for (int i = 8; i < 40; i++) {
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, i);
    }
    counting_alloc_fail_after(0, 0);
    for (int i = 0; i < 40; i++) { /* again: replacements only, whatever is kept */
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, 100 + i);
    }
    uvotel_span_end(s);
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
    assert_true(n >= 8);
    assert_int_equal(n + uvotel_span_data_dropped_attributes(d) >= 40, 1);
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < i; j++) assert_true(strcmp(a[i].key, a[j].key) != 0);
      int k = atoi(a[i].key + 1);
      if (i < 8) assert_int_equal(k, (int)i);
      /* a key kept during the failure, or set again after it, has its last value */
      assert_true(a[i].value.u.i == 100 + k);
    }
    uvotel_memory_exporter_reset(f->mem);
  }
}

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_span(uvotel_tracer_t *t, char (*keys)[24], int n, int iters) {
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = cpu_ns();
    for (int i = 0; i < iters; i++) {
      uvotel_span_t *s = uvotel_span_start(t, "op", NULL);
      for (int k = 0; k < n; k++) uvotel_span_set_attribute_int(s, keys[k], k);
      uvotel_span_end(s);
    }
    double dt = (cpu_ns() - t0) / iters;
    if (dt < best) best = dt;
  }
  return best;
}

/* Growth is linear: a span with 64 attributes (keys sharing a long prefix, the worst case for
 * comparing strings) costs about 8 times one with 8 (start and end included), where the
 * quadratic duplicate check cost 25 times and more. Bound: 16x (robust on a busy machine). */
static void test_attribute_cost_is_linear(void **state) {
  fx_t *f = *state;
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.sampler = uvotel_sampler_always_on();
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE | UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  f->p = uvotel_tracer_provider_create(&o);
  f->mem = uvotel_memory_exporter_create(1);
  uvotel_tracer_t *t = uvotel_tracer_get(f->p, "cost", NULL);
  static char keys[64][24];
  for (int k = 0; k < 64; k++) snprintf(keys[k], sizeof keys[k], "app.attribute.%02d", k);
  double eight = time_span(t, keys, 8, 4000);
  double sixty_four = time_span(t, keys, 64, 500);
  print_message("span cost: 8 attributes %.0f ns, 64 attributes %.0f ns (%.1fx)\n", eight,
                sixty_four, sixty_four / eight);
  assert_true(sixty_four < 16 * eight);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_span_attributes_match_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_span_attributes_replace_and_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_and_link_attributes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attributes_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_cost_is_linear, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
