/* The side table (instrumentation/src/table.c) through its internal API: states stay at their
 * address across growth and removals of others, lookups agree with a model under random churn,
 * a reused cell starts zeroed, a state is removed from a thread whose last loop is another one,
 * and memory comes back after a burst. Linked with the static instrumentation library, so the
 * table's hidden functions are callable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define BIG_N 100000

typedef struct fixture_s {
  uv_loop_t loop;
  char *keys; /* key i is &keys[i]: any distinct addresses do */
} fixture_t;

static int setup(void **state) {
  fixture_t *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  f->keys = malloc(BIG_N);
  if (f->keys == NULL || uv_loop_init(&f->loop) != 0) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture_t *f = *state;
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_int_equal(uvotel_loop_close(&f->loop), 0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f->keys);
  free(f);
  return 0;
}

static void (*marker(size_t i))(void) {
  return (void (*)(void))(uintptr_t)(i + 1);
}

static uvotel__hs_t *add(fixture_t *f, size_t i, int want_new) {
  int is_new = -1;
  uvotel__hs_t *s = uvotel__hs_add(&f->loop, &f->keys[i], &is_new);
  assert_non_null(s);
  assert_int_equal(is_new, want_new);
  assert_ptr_equal(s->key, &f->keys[i]);
  return s;
}

/* 100k states through every growth: each stays where it was made, with what was written to it;
 * removing half moves none of the others. */
static void test_states_never_move(void **state) {
  fixture_t *f = *state;
  uvotel__hs_t **at = calloc(BIG_N, sizeof *at);
  assert_non_null(at);
  for (size_t i = 0; i < BIG_N; i++) {
    at[i] = add(f, i, 1);
    at[i]->cb = marker(i);
    if (i == 0 || i == BIG_N / 2) {
      /* a pointer held across many inserts (growths) still reads back its own state */
      assert_ptr_equal(at[0]->cb, marker(0));
    }
  }
  assert_int_equal(uvotel_uv_tracked(), BIG_N);
  assert_true(uvotel_uv_table_capacity() >= 2 * (size_t)BIG_N);
  for (size_t i = 0; i < BIG_N; i++) {
    assert_ptr_equal(uvotel__hs_get(&f->loop, &f->keys[i]), at[i]);
    assert_ptr_equal(at[i]->cb, marker(i));
  }
  for (size_t i = 1; i < BIG_N; i += 2) uvotel__hs_remove(at[i]);
  assert_int_equal(uvotel_uv_tracked(), BIG_N / 2);
  for (size_t i = 0; i < BIG_N; i++) {
    uvotel__hs_t *s = uvotel__hs_get(&f->loop, &f->keys[i]);
    if (i % 2) {
      assert_null(s);
    } else {
      assert_ptr_equal(s, at[i]);
      assert_ptr_equal(s->cb, marker(i));
    }
  }
  /* Found again, not added twice. */
  for (size_t i = 0; i < BIG_N; i += 2) assert_ptr_equal(add(f, i, 0), at[i]);
  for (size_t i = 0; i < BIG_N; i += 2) uvotel__hs_remove(at[i]);
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_true(uvotel_uv_table_capacity() <= 64);
  for (size_t i = 0; i < BIG_N; i += 997) assert_null(uvotel__hs_get(&f->loop, &f->keys[i]));
  free(at);
}

static uint64_t next_rand(uint64_t *x) {
  *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
  return *x;
}

/* Random adds and removes over 5,000 keys against a model: a lookup that stopped early (a
 * probe-pass count wrong by one) would miss a present key or add it twice. */
static void test_random_churn_matches_model(void **state) {
  fixture_t *f = *state;
  enum { KEYS = 5000, OPS = 400000 };
  uvotel__hs_t **at = calloc(KEYS, sizeof *at);
  assert_non_null(at);
  size_t live = 0;
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (int op = 0; op < OPS; op++) {
    /* phases that fill up and drain, so the table grows and shrinks through generations */
    int fill = (op / 50000) % 2 == 0;
    size_t k = (size_t)(next_rand(&x) % KEYS);
    int do_add = (next_rand(&x) % 100) < (fill ? 70u : 30u);
    if (do_add) {
      uvotel__hs_t *s = add(f, k, at[k] == NULL);
      if (at[k] != NULL) {
        assert_ptr_equal(s, at[k]);
      } else {
        s->cb = marker(k);
        at[k] = s;
        live++;
      }
    } else if (at[k] != NULL) {
      assert_ptr_equal(uvotel__hs_get(&f->loop, &f->keys[k]), at[k]);
      uvotel__hs_remove(at[k]);
      at[k] = NULL;
      live--;
    } else {
      assert_null(uvotel__hs_get(&f->loop, &f->keys[k]));
    }
    if (op % 20000 == 0) {
      assert_int_equal(uvotel_uv_tracked(), live);
      for (size_t i = 0; i < KEYS; i++) {
        uvotel__hs_t *s = uvotel__hs_get(&f->loop, &f->keys[i]);
        assert_ptr_equal(s, at[i]);
        if (s != NULL) assert_ptr_equal(s->cb, marker(i));
      }
    }
  }
  for (size_t i = 0; i < KEYS; i++) {
    if (at[i] != NULL) uvotel__hs_remove(at[i]);
  }
  free(at);
}

/* A cell reused for another key starts with its common fields zeroed. */
static void test_reused_cell_zeroed(void **state) {
  fixture_t *f = *state;
  uvotel__hs_t *s = add(f, 1, 1);
  s->cb = marker(1);
  s->close_cb = (uv_close_cb)(uintptr_t)1;
  s->is_async = 1;
  s->wbuf = (char *)f->keys;
  uvotel__hs_remove(s);
  uvotel__hs_t *t = add(f, 2, 1);
  uvotel__hs_t *u = add(f, 1, 1);
  for (uvotel__hs_t *p = t;; p = u) {
    assert_null(p->cb);
    assert_null(p->close_cb);
    assert_int_equal(p->is_async, 0);
    assert_null(p->wbuf);
    assert_null(p->span);
    assert_int_equal(uvotel_resource_async_id(&p->res), 0);
    if (p == u) break;
  }
  uvotel__hs_remove(t);
  uvotel__hs_remove(u);
}

/* Two loops on one thread: a state of loop A removed right after a lookup on loop B. */
static void test_remove_after_other_loop(void **state) {
  fixture_t *f = *state;
  uv_loop_t other;
  assert_int_equal(uv_loop_init(&other), 0);
  uvotel__hs_t *a[300];
  for (size_t i = 0; i < 300; i++) a[i] = add(f, i, 1);
  int is_new;
  uvotel__hs_t *b = uvotel__hs_add(&other, &f->keys[0], &is_new); /* same address, other loop */
  assert_non_null(b);
  assert_int_equal(is_new, 1);
  assert_ptr_not_equal(b, a[0]);
  for (size_t i = 0; i < 300; i++) {
    assert_ptr_equal(uvotel__hs_get(&other, &f->keys[0]), b); /* B is this thread's last loop */
    uvotel__hs_remove(a[i]);
  }
  assert_null(uvotel__hs_get(&f->loop, &f->keys[0]));
  assert_ptr_equal(uvotel__hs_get(&other, &f->keys[0]), b);
  assert_int_equal(uvotel_uv_tracked(), 1);
  uvotel__hs_remove(b);
  assert_int_equal(uvotel_loop_close(&other), 0);
  assert_int_equal(uv_loop_close(&other), 0);
}

/* A burst whose last state outlives it: its generation is kept only while that state lives. */
static void test_burst_survivor_releases(void **state) {
  fixture_t *f = *state;
  enum { N = 20000 };
  uvotel__hs_t **at = calloc(N, sizeof *at);
  assert_non_null(at);
  for (size_t i = 0; i < N; i++) at[i] = add(f, i, 1);
  size_t peak = uvotel_uv_table_capacity();
  for (size_t i = 0; i + 1 < N; i++) uvotel__hs_remove(at[i]);
  uvotel__hs_t *last = at[N - 1];
  assert_ptr_equal(uvotel__hs_get(&f->loop, &f->keys[N - 1]), last);
  assert_true(uvotel_uv_table_capacity() < peak);
  /* a new state goes to a small generation of its own, not into the survivor's */
  uvotel__hs_t *fresh = add(f, N, 1);
  uvotel__hs_remove(last);
  assert_int_equal(uvotel_uv_tracked(), 1);
  assert_true(uvotel_uv_table_capacity() <= 64);
  assert_ptr_equal(uvotel__hs_get(&f->loop, &f->keys[N]), fresh);
  uvotel__hs_remove(fresh);
  free(at);
}

/* A generation that becomes the newest again (the newer one emptied and freed), takes inserts,
 * and then stops being the newest once more: its filter must cover the keys it took in
 * between, or lookups skip them (and an add makes a second state for the same key). The
 * capacities check that the generations went that way. */
static void test_generation_newest_again(void **state) {
  fixture_t *f = *state;
  enum { TOTAL = 600 };
  uvotel__hs_t **at = calloc(TOTAL, sizeof *at);
  assert_non_null(at);
  size_t k = 0;
  for (; k < 288; k++) at[k] = add(f, k, 1); /* A: 64 cells, 32 states; B: 512 cells, 256 */
  assert_int_equal(uvotel_uv_table_capacity(), 64 + 512);
  for (; k < 298; k++) at[k] = add(f, k, 1); /* C: 4096 cells, 10 states */
  assert_int_equal(uvotel_uv_table_capacity(), 64 + 512 + 4096);
  for (size_t i = 32; i < 232; i++) { /* 200 of B's */
    uvotel__hs_remove(at[i]);
    at[i] = NULL;
  }
  for (size_t i = 288; i < 298; i++) { /* all of C's: C is freed, B is the newest again */
    uvotel__hs_remove(at[i]);
    at[i] = NULL;
  }
  assert_int_equal(uvotel_uv_table_capacity(), 64 + 512);
  for (k = 300; k < 520; k++) at[k] = add(f, k, 1); /* 200 into B, then it grows again */
  assert_true(uvotel_uv_table_capacity() > 64 + 512);
  for (size_t i = 0; i < TOTAL; i++) {
    uvotel__hs_t *s = uvotel__hs_get(&f->loop, &f->keys[i]);
    assert_ptr_equal(s, at[i]);
    if (at[i] != NULL) assert_ptr_equal(add(f, i, 0), at[i]);
  }
  for (size_t i = 0; i < TOTAL; i++) {
    if (at[i] != NULL) uvotel__hs_remove(at[i]);
  }
  free(at);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_states_never_move, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_churn_matches_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reused_cell_zeroed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove_after_other_loop, setup, teardown),
      cmocka_unit_test_setup_teardown(test_burst_survivor_releases, setup, teardown),
      cmocka_unit_test_setup_teardown(test_generation_newest_again, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
