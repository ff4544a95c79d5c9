/* The span slot's inline storage (issue 15 item 2/4): a slot holds its first
 * UVOTEL__ATTR_INLINE attributes and UVOTEL__ARENA_INLINE arena bytes itself and moves past them
 * into heap arrays and chunks it keeps for its next spans. At each boundary: the exact inline
 * capacity (no allocation) and one past it (the spill, once per slot: a reused slot allocates
 * nothing), duplicate keys replacing values on both sides of the spill, the inline arena filled
 * to its last byte and one byte past it, a string larger than a chunk, the count limit below, at
 * and above the inline capacity dropping and counting, and out of memory at the spill. Slots
 * are 64-byte aligned. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "attr_fixture.h"
#include "trace_internal.h" /* UVOTEL__ATTR_INLINE, UVOTEL__ARENA_INLINE */

#define INL UVOTEL__ATTR_INLINE

/* The attribute fixture's provider, warmed: the memory exporter's first export allocates its
 * array. */
static void open_lim(fx_t *f, uint32_t attr_limit, uint32_t value_len) {
  open_provider_lim(f, attr_limit, value_len);
  uvotel_span_end(uvotel_span_start(f->t, "warm", NULL));
  uvotel_memory_exporter_reset(f->mem);
}

static size_t allocs(void) {
  counting_alloc_stats_t c = counting_alloc_stats();
  return c.allocs + c.reallocs;
}

/* The exported span 0, after the memory exporter took it; n and dropped of its attributes. */
static const uvotel_attribute_t *attrs0(fx_t *f, size_t *n, uint32_t *dropped) {
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  assert_non_null(d);
  if (dropped != NULL) *dropped = uvotel_span_data_dropped_attributes(d);
  return uvotel_span_data_attributes(d, n);
}

static void key_of(char *out, size_t cap, int i) {
  snprintf(out, cap, "attr.key.%d", i);
}

/* Keys 0..n-1 with values base + i, through the copying or the borrowed-key setters. */
static void set_n(uvotel_span_t *s, int n, int64_t base, int borrowed) {
  static char keys[64][24]; /* borrowed keys must outlive the span */
  for (int i = 0; i < n; i++) {
    key_of(keys[i], sizeof keys[i], i);
    if (borrowed) {
      uvotel_span_set_attribute_int_static(s, keys[i], strlen(keys[i]), base + i);
    } else {
      uvotel_span_set_attribute_int(s, keys[i], base + i);
    }
  }
}

static void expect_n(const uvotel_attribute_t *a, size_t n, size_t want, int64_t base) {
  assert_int_equal(n, want);
  for (size_t i = 0; i < n; i++) {
    char k[24];
    key_of(k, sizeof k, (int)i);
    assert_string_equal(a[i].key, k);
    assert_int_equal(a[i].value.type, UVOTEL_VALUE_INT);
    assert_int_equal(a[i].value.u.i, base + (int64_t)i);
  }
}

/* One span of n attributes ended and exported; the slot it used is returned (still held by the
 * memory exporter until reset). */
static uvotel_span_t *one_span(fx_t *f, int n, int64_t base, int borrowed, size_t *allocated) {
  size_t a0 = allocs();
  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  set_n(s, n, base, borrowed);
  uvotel_span_end(s);
  if (allocated != NULL) *allocated = allocs() - a0;
  size_t got;
  uint32_t dropped;
  const uvotel_attribute_t *a = attrs0(f, &got, &dropped);
  expect_n(a, got, (size_t)n, base);
  assert_int_equal(dropped, 0);
  return s;
}

/* Up to the inline capacity nothing is allocated; one more spills (allocates) once; the slot
 * reused with as many allocates nothing and is right, and so is the same slot back at fewer. */
static void test_inline_then_spilled_at_capacity(void **state) {
  fx_t *f = *state;
  open_lim(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED);
  for (int borrowed = 0; borrowed <= 1; borrowed++) {
    size_t got;
    uvotel_span_t *s0 = one_span(f, INL - 1, 10, borrowed, &got);
    assert_int_equal(got, 0);
    assert_int_equal((uintptr_t)s0 % 64, 0);
    uvotel_memory_exporter_reset(f->mem);
    uvotel_span_t *s1 = one_span(f, INL, 20, borrowed, &got);
    assert_ptr_equal(s1, s0); /* the thread's cache gives the same slot back */
    assert_int_equal(got, 0);
    uvotel_memory_exporter_reset(f->mem);
    uvotel_span_t *s2 = one_span(f, INL + 1, 30, borrowed, &got);
    assert_ptr_equal(s2, s0);
    if (borrowed == 0) assert_true(got > 0); /* the spill (first time on this slot) */
    uvotel_memory_exporter_reset(f->mem);
    one_span(f, INL + 1, 40, borrowed, &got);
    assert_int_equal(got, 0); /* kept arrays */
    uvotel_memory_exporter_reset(f->mem);
    one_span(f, 2, 50, borrowed, &got);
    assert_int_equal(got, 0);
    uvotel_memory_exporter_reset(f->mem);
    one_span(f, 2 * INL + 1, 60, borrowed, &got); /* past the kept arrays: they double */
    uvotel_memory_exporter_reset(f->mem);
    one_span(f, 2 * INL + 1, 70, borrowed, &got);
    assert_int_equal(got, 0);
    uvotel_memory_exporter_reset(f->mem);
  }
}

/* A duplicate at exactly the inline capacity replaces in place (no spill); keys set before the
 * spill are found and replaced after it, and keys set after it too. */
static void test_duplicates_across_the_spill(void **state) {
  fx_t *f = *state;
  open_lim(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED);
  /* warm: this slot has never spilled, so a spill would allocate */
  size_t a0 = allocs();
  uvotel_span_t *s = uvotel_span_start(f->t, "dup", NULL);
  set_n(s, INL, 0, 0);
  set_n(s, INL, 100, 0); /* all again at capacity: replacements */
  assert_int_equal(allocs() - a0, 0);
  char k[24];
  key_of(k, sizeof k, INL);
  uvotel_span_set_attribute_int(s, k, 100 + INL); /* the spill */
  assert_true(allocs() - a0 > 0);
  key_of(k, sizeof k, 0);
  uvotel_span_set_attribute_int(s, k, 1000); /* set before the spill */
  key_of(k, sizeof k, INL - 1);
  uvotel_span_set_attribute_str(s, k, "last inline");
  key_of(k, sizeof k, INL);
  uvotel_span_set_attribute_int(s, k, 2000); /* set after it */
  uvotel_span_end(s);
  size_t n;
  uint32_t dropped;
  const uvotel_attribute_t *a = attrs0(f, &n, &dropped);
  assert_int_equal(n, INL + 1);
  assert_int_equal(dropped, 0);
  for (int i = 0; i <= INL; i++) {
    key_of(k, sizeof k, i);
    assert_string_equal(a[i].key, k);
    if (i == 0) {
      assert_int_equal(a[i].value.u.i, 1000);
    } else if (i == INL - 1) {
      assert_int_equal(a[i].value.type, UVOTEL_VALUE_STRING);
      assert_string_equal(a[i].value.u.s, "last inline");
    } else if (i == INL) {
      assert_int_equal(a[i].value.u.i, 2000);
    } else {
      assert_int_equal(a[i].value.u.i, 100 + i);
    }
  }
}

/* The arena's bytes: a copy takes len + 1 rounded up to 8. The name "n" (8) and the key "k" (8)
 * leave UVOTEL__ARENA_INLINE - 16 bytes for a value of at most that minus one character. */
static void arena_span(fx_t *f, size_t value_len, size_t *allocated, uvotel_span_t **slot) {
  char *v = malloc(value_len + 1);
  for (size_t i = 0; i < value_len; i++) v[i] = (char)('a' + i % 26);
  v[value_len] = '\0';
  size_t a0 = allocs();
  uvotel_span_t *s = uvotel_span_start(f->t, "n", NULL);
  uvotel_span_set_attribute_str(s, "k", v);
  uvotel_span_set_attribute_int(s, "i", 7); /* an int takes no arena byte beyond its key */
  uvotel_span_end(s);
  *allocated = allocs() - a0;
  if (slot != NULL) *slot = s;
  size_t n;
  const uvotel_attribute_t *a = attrs0(f, &n, NULL);
  assert_int_equal(n, 2);
  assert_string_equal(a[0].key, "k");
  assert_int_equal(a[0].value.len, value_len);
  assert_string_equal(a[0].value.u.s, v);
  assert_string_equal(a[1].key, "i");
  assert_int_equal(a[1].value.u.i, 7);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  assert_string_equal(uvotel_span_data_name(d), "n");
  free(v);
  uvotel_memory_exporter_reset(f->mem);
}

static void test_arena_inline_full_and_past(void **state) {
  fx_t *f = *state;
  open_lim(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED);
  /* name 8 + "k" 8 + value + "i" 8: the last byte of the inline arena */
  size_t fit = UVOTEL__ARENA_INLINE - 24 - 1;
  size_t got;
  uvotel_span_t *s0;
  arena_span(f, fit, &got, &s0);
  assert_int_equal(got, 0);
  uvotel_span_t *s1;
  arena_span(f, fit + 1, &got, &s1); /* one byte past: a chunk */
  assert_ptr_equal(s1, s0);
  assert_int_equal(got, 1);
  arena_span(f, fit + 1, &got, NULL); /* the kept chunk */
  assert_int_equal(got, 0);
  arena_span(f, 5000, &got, NULL); /* bigger than the kept chunk: one of its size */
  assert_int_equal(got, 1);
  arena_span(f, 5000, &got, NULL);
  assert_int_equal(got, 0);
  arena_span(f, 3, &got, NULL); /* back inline */
  assert_int_equal(got, 0);
  /* many small strings crossing from the inline arena into the kept chunks */
  uvotel_span_t *s = uvotel_span_start(f->t, "many", NULL);
  char k[24], v[40];
  for (int i = 0; i < 40; i++) {
    key_of(k, sizeof k, i);
    snprintf(v, sizeof v, "value number %d of forty", i);
    uvotel_span_set_attribute_str(s, k, v);
  }
  uvotel_span_end(s);
  size_t n;
  const uvotel_attribute_t *a = attrs0(f, &n, NULL);
  assert_int_equal(n, 40);
  for (int i = 0; i < 40; i++) {
    key_of(k, sizeof k, i);
    snprintf(v, sizeof v, "value number %d of forty", i);
    assert_string_equal(a[i].key, k);
    assert_string_equal(a[i].value.u.s, v);
  }
}

/* The count limit below, at and above the inline capacity: the first `limit` keys kept, every
 * later new key dropped and counted (again when set again), kept keys still replaced. The value
 * length limit cuts strings stored inline. */
static void test_limits_drop_and_count(void **state) {
  fx_t *f = *state;
  static const uint32_t limits[] = {1, INL - 1, INL, INL + 1, 2 * INL};
  for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
    uint32_t lim = limits[li];
    open_lim(f, lim, 5);
    uvotel_span_t *s = uvotel_span_start(f->t, "lim", NULL);
    set_n(s, 2 * INL + 2, 0, (int)(li & 1));
    set_n(s, 2 * INL + 2, 500, (int)!(li & 1)); /* again: kept ones replaced, others dropped */
    uvotel_span_set_attribute_str(s, "attr.key.0", "truncated here");
    uvotel_span_end(s);
    size_t n;
    uint32_t dropped;
    const uvotel_attribute_t *a = attrs0(f, &n, &dropped);
    assert_int_equal(n, lim);
    assert_int_equal(dropped, 2 * (2 * INL + 2 - lim));
    assert_string_equal(a[0].key, "attr.key.0");
    assert_int_equal(a[0].value.type, UVOTEL_VALUE_STRING);
    assert_string_equal(a[0].value.u.s, "trunc");
    for (size_t i = 1; i < n; i++) {
      char k[24];
      key_of(k, sizeof k, (int)i);
      assert_string_equal(a[i].key, k);
      assert_int_equal(a[i].value.u.i, 500 + (int64_t)i);
    }
    close_provider(f);
  }
}

/* Out of memory at the spill (either of its two arrays): that attribute is dropped and counted,
 * the inline ones stay; the next one spills. */
static void test_spill_out_of_memory(void **state) {
  fx_t *f = *state;
  for (long ok_first = 0; ok_first < 2; ok_first++) {
    open_lim(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED); /* slots that never spilled */
    uvotel_span_t *s = uvotel_span_start(f->t, "oom", NULL);
    set_n(s, INL, 0, 0);
    char k[24];
    key_of(k, sizeof k, 99);
    counting_alloc_fail_after(ok_first, 1);
    uvotel_span_set_attribute_int(s, k, 99);
    counting_alloc_fail_after(0, 0);
    key_of(k, sizeof k, INL);
    uvotel_span_set_attribute_int(s, k, INL);
    uvotel_span_end(s);
    size_t n;
    uint32_t dropped;
    const uvotel_attribute_t *a = attrs0(f, &n, &dropped);
    expect_n(a, n, INL + 1, 0);
    assert_int_equal(dropped, 1);
    uvotel_memory_exporter_reset(f->mem);
    /* the next span of this slot has its kept arrays (the second spill succeeded): fresh */
    size_t got;
    one_span(f, INL + 1, 5, 0, &got);
    assert_int_equal(got, 0);
    uvotel_memory_exporter_reset(f->mem);
    close_provider(f);
  }
}

/* Strings of every short length (the copy's 1-3, 4-7, 8-16 byte cases and past them), as keys
 * and values, copied byte for byte with their NUL. */
static void test_short_copies_every_length(void **state) {
  fx_t *f = *state;
  open_lim(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED);
  char key[48], val[48];
  for (size_t len = 1; len < 40; len++) {
    for (size_t i = 0; i < len; i++) {
      key[i] = (char)('A' + (i * 7 + len) % 26);
      val[i] = (char)('a' + (i * 5 + len) % 26);
    }
    key[len] = val[len] = '\0';
    uvotel_span_t *s = uvotel_span_start(f->t, val, NULL);
    uvotel_span_set_attribute_str(s, key, val);
    uvotel_span_end(s);
    size_t n;
    const uvotel_attribute_t *a = attrs0(f, &n, NULL);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(a[0].key), len);
    assert_string_equal(a[0].key, key);
    assert_int_equal(a[0].value.len, len);
    assert_string_equal(a[0].value.u.s, val);
    assert_string_equal(uvotel_span_data_name(uvotel_memory_exporter_get(f->mem, 0)), val);
    uvotel_memory_exporter_reset(f->mem);
  }
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_inline_then_spilled_at_capacity, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicates_across_the_spill, setup, teardown),
      cmocka_unit_test_setup_teardown(test_arena_inline_full_and_past, setup, teardown),
      cmocka_unit_test_setup_teardown(test_limits_drop_and_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spill_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_short_copies_every_length, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
