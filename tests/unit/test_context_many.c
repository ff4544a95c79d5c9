/* Async context with many variables (delta mappings past 8 entries, their flat memos) and the
 * inline fast paths of uvotel/fast.h against the exported functions: values at every depth,
 * shadowing, unset, disable, snapshots, other threads, zero allocations in steady state,
 * retain/release balance, and a random walk checked against a model. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counting_alloc.h"
#include "uvotel.h"

#define NV 100

static long g_live_at_start;
static uvotel_var_t *g_v[NV];
static int g_vals[NV][4]; /* distinct value addresses */

typedef struct counted_s {
  int retains, releases;
} counted_t;
static counted_t g_counts;
static void c_retain(void *v) {
  (void)v;
  g_counts.retains++;
}
static void c_release(void *v) {
  (void)v;
  g_counts.releases++;
}
static const uvotel_value_ops_t counted_ops = {.retain = c_retain, .release = c_release};

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < NV; i++) {
    g_v[i] = uvotel_var_create("many", (void *)&g_vals[i][3], i % 2 ? &counted_ops : NULL);
    if (g_v[i] == NULL) return -1;
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  for (int i = 0; i < NV; i++) uvotel_var_free(g_v[i]);
  return 0;
}

static void *dflt(int i) {
  return &g_vals[i][3];
}

/* Every variable shows what `model` says, through the inline form and the exported call. */
static void check_all(void *const *model) {
  for (int i = 0; i < NV; i++) {
    void *want = model[i] ? model[i] : dflt(i);
    assert_ptr_equal(uvotel_var_get(g_v[i]), want);
    assert_ptr_equal((uvotel_var_get)(g_v[i]), want);
  }
}

static void test_nested_values_at_every_depth(void **state) {
  (void)state;
  void *model[NV] = {0};
  uvotel_scope_t s[NV];
  for (int i = 0; i < NV; i++) {
    assert_int_equal(uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]), 0);
    model[i] = &g_vals[i][0];
    check_all(model);
  }
  for (int i = NV - 1; i >= 0; i--) {
    assert_int_equal(uvotel_scope_exit(&s[i]), 0);
    model[i] = NULL;
    check_all(model);
  }
  assert_int_equal(g_counts.retains, g_counts.releases);
}

static void test_shadow_unset_disable_deep(void **state) {
  (void)state;
  void *model[NV] = {0};
  uvotel_scope_t s[64], sh, un, un2;
  for (int i = 0; i < 64; i++) {
    uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]);
    model[i] = &g_vals[i][0];
  }
  /* shadow a variable set far below */
  assert_int_equal(uvotel_var_enter(g_v[3], &g_vals[3][1], &sh), 0);
  model[3] = &g_vals[3][1];
  check_all(model);
  /* unset one: default there, the others intact */
  assert_int_equal(uvotel_var_enter_unset(g_v[10], &un), 0);
  model[10] = NULL;
  check_all(model);
  /* unsetting one that is not set borrows the mapping */
  assert_int_equal(uvotel_var_enter_unset(g_v[90], &un2), 0);
  check_all(model);
  /* a snapshot taken here keeps this view after everything is exited */
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  assert_int_equal(uvotel_scope_exit(&un2), 0);
  assert_int_equal(uvotel_scope_exit(&un), 0);
  model[10] = &g_vals[10][0];
  check_all(model);
  assert_int_equal(uvotel_scope_exit(&sh), 0);
  model[3] = &g_vals[3][0];
  check_all(model);
  for (int i = 63; i >= 0; i--) uvotel_scope_exit(&s[i]);
  for (int i = 0; i < NV; i++) {
    void *want = i < 64 && i != 10 ? (i == 3 ? &g_vals[3][1] : &g_vals[i][0]) : dflt(i);
    assert_ptr_equal(uvotel_snapshot_get(snap, g_v[i]), want);
  }
  /* disable: no value anywhere, including the snapshot; a later enter sets it again */
  uvotel_var_disable(g_v[20]);
  assert_ptr_equal(uvotel_snapshot_get(snap, g_v[20]), dflt(20));
  uvotel_scope_t in_snap, again;
  assert_int_equal(uvotel_snapshot_enter(snap, &in_snap), 0);
  assert_ptr_equal(uvotel_var_get(g_v[20]), dflt(20));
  assert_ptr_equal(uvotel_var_get(g_v[40]), &g_vals[40][0]);
  assert_int_equal(uvotel_var_enter(g_v[20], &g_vals[20][2], &again), 0);
  assert_ptr_equal(uvotel_var_get(g_v[20]), &g_vals[20][2]);
  assert_ptr_equal(uvotel_var_get(g_v[40]), &g_vals[40][0]);
  assert_int_equal(uvotel_scope_exit(&again), 0);
  assert_int_equal(uvotel_scope_exit(&in_snap), 0);
  uvotel_snapshot_release(snap);
  assert_int_equal(g_counts.retains, g_counts.releases);
}

static void *get_40(void *arg) {
  (void)arg;
  return uvotel_var_get(g_v[40]);
}

static void test_zero_allocations_with_64_set(void **state) {
  (void)state;
  uvotel_scope_t s[64];
  for (int i = 0; i < 64; i++) uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]);
  /* warm the pools and memos */
  for (int k = 0; k < 4; k++) {
    uvotel_scope_t a;
    uvotel_var_enter(g_v[70], &g_vals[70][0], &a);
    uvotel_scope_exit(&a);
    uvotel_var_enter(g_v[0], &g_vals[0][1], &a);
    uvotel_scope_exit(&a);
  }
  size_t before = counting_alloc_stats().allocs;
  for (int k = 0; k < 10000; k++) {
    uvotel_scope_t a, b;
    assert_int_equal(uvotel_var_enter(g_v[70], &g_vals[70][0], &a), 0);
    assert_int_equal(uvotel_var_enter(g_v[0], &g_vals[0][1], &b), 0);
    assert_ptr_equal(uvotel_var_get(g_v[0]), &g_vals[0][1]);
    assert_ptr_equal(uvotel_var_get(g_v[63]), &g_vals[63][0]);
    assert_ptr_equal(uvotel_var_run(g_v[71], &g_vals[71][0], get_40, NULL), &g_vals[40][0]);
    uvotel_snapshot_release(uvotel_snapshot_capture());
    assert_int_equal(uvotel_scope_exit(&b), 0);
    assert_int_equal(uvotel_scope_exit(&a), 0);
  }
  assert_int_equal(counting_alloc_stats().allocs, before);
  for (int i = 63; i >= 0; i--) uvotel_scope_exit(&s[i]);
  assert_int_equal(g_counts.retains, g_counts.releases);
}

/* ---- another thread borrowing and copying a deep context ---- */

typedef struct deep_arg_s {
  uvotel_snapshot_t *borrowed, *handed;
  int ok_borrowed, ok_copy, ok_entered, ok_handed;
} deep_arg_t;

static int sees_64(const uvotel_snapshot_t *s) {
  for (int i = 0; i < NV; i++) {
    void *want = i < 64 ? (void *)&g_vals[i][0] : dflt(i);
    void *got = s != NULL ? uvotel_snapshot_get(s, g_v[i]) : uvotel_var_get(g_v[i]);
    if (got != want) return 0;
  }
  return 1;
}

static void *deep_worker(void *p) {
  deep_arg_t *a = p;
  uvotel_scope_t s, e;
  uvotel_snapshot_enter(a->borrowed, &s);
  a->ok_borrowed = sees_64(NULL);
  uvotel_snapshot_t *copy = uvotel_snapshot_capture(); /* a private flat copy */
  /* entering over a borrowed mapping makes a private one */
  uvotel_var_enter(g_v[80], &g_vals[80][0], &e);
  a->ok_entered =
      uvotel_var_get(g_v[80]) == &g_vals[80][0] && uvotel_var_get(g_v[5]) == &g_vals[5][0];
  uvotel_scope_exit(&e);
  uvotel_scope_exit(&s);
  a->ok_copy = copy != a->borrowed && sees_64(copy);
  uvotel_snapshot_release(copy);
  a->ok_handed = sees_64(a->handed);
  uvotel_snapshot_release(a->handed);
  uvotel_thread_cleanup();
  return NULL;
}

static void test_deep_context_on_another_thread(void **state) {
  (void)state;
  uvotel_scope_t s[64];
  for (int i = 0; i < 64; i++) uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]);
  deep_arg_t a = {0};
  a.borrowed = uvotel_snapshot_capture();
  a.handed = uvotel_snapshot_capture_handover();
  pthread_t th;
  pthread_create(&th, NULL, deep_worker, &a);
  pthread_join(th, NULL);
  assert_true(a.ok_borrowed);
  assert_true(a.ok_copy);
  assert_true(a.ok_entered);
  assert_true(a.ok_handed);
  uvotel_snapshot_release(a.borrowed);
  for (int i = 63; i >= 0; i--) uvotel_scope_exit(&s[i]);
  assert_int_equal(g_counts.retains, g_counts.releases);
}

/* ---- a random walk against a model ---- */

static uint32_t rnd(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return (uint32_t)*x;
}

static void test_random_walk_matches_model(void **state) {
  (void)state;
  enum { DEPTH = 160 };
  static void *models[DEPTH + 1][NV];
  static uvotel_scope_t scopes[DEPTH];
  static uvotel_snapshot_t *snaps[DEPTH];
  memset(models, 0, sizeof models);
  int d = 0, nsnaps = 0;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int step = 0; step < 6000; step++) {
    uint32_t r = rnd(&x);
    int op = (int)(r % 10);
    int i = (int)((r >> 8) % NV);
    if ((op < 6 && d < DEPTH) || d == 0) {
      memcpy(models[d + 1], models[d], sizeof models[d]);
      if (op == 5) {
        assert_int_equal(uvotel_var_enter_unset(g_v[i], &scopes[d]), 0);
        models[d + 1][i] = NULL;
      } else {
        void *val = &g_vals[i][(r >> 16) % 3];
        assert_int_equal(uvotel_var_enter(g_v[i], val, &scopes[d]), 0);
        models[d + 1][i] = val;
      }
      d++;
    } else if (op == 9 && nsnaps < DEPTH) {
      snaps[nsnaps++] = uvotel_snapshot_capture();
    } else {
      assert_int_equal(uvotel_scope_exit(&scopes[--d]), 0);
    }
    for (int k = 0; k < NV; k++) {
      void *want = models[d][k] ? models[d][k] : dflt(k);
      assert_ptr_equal(uvotel_var_get(g_v[k]), want);
    }
  }
  while (d > 0) assert_int_equal(uvotel_scope_exit(&scopes[--d]), 0);
  for (int k = 0; k < nsnaps; k++) uvotel_snapshot_release(snaps[k]);
  assert_int_equal(g_counts.retains, g_counts.releases);
}

/* ---- inline forms and exported functions agree, also on bad input ---- */

static void test_inline_and_exported_agree(void **state) {
  (void)state;
  assert_null(uvotel_var_get(NULL));
  assert_null((uvotel_var_get)(NULL));
  uvotel_snapshot_release(NULL);
  (uvotel_snapshot_release)(NULL);
  /* empty context: both give the static empty snapshot */
  uvotel_snapshot_t *a = uvotel_snapshot_capture(), *b = (uvotel_snapshot_capture)();
  assert_ptr_equal(a, b);
  uvotel_snapshot_release(a);
  (uvotel_snapshot_release)(b);
  uvotel_scope_t s[9];
  for (int i = 0; i < 9; i++) {
    uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]);
    a = uvotel_snapshot_capture();
    b = (uvotel_snapshot_capture)();
    assert_ptr_equal(a, b); /* a counted reference to the current mapping */
    (uvotel_snapshot_release)(a);
    uvotel_snapshot_release(b);
    for (int k = 0; k < 12; k++) {
      assert_ptr_equal(uvotel_var_get(g_v[k]), (uvotel_var_get)(g_v[k]));
    }
  }
  for (int i = 8; i >= 0; i--) uvotel_scope_exit(&s[i]);
  assert_int_equal(g_counts.retains, g_counts.releases);
}

static void *ret_exec_id(void *arg) {
  (void)arg;
  return (void *)(uintptr_t)uvotel_execution_async_id();
}

static void test_resource_inline_bad_input(void **state) {
  (void)state;
  uvotel_callback_scope_t cs;
  uvotel_resource_t r = {0};
  assert_int_equal(uvotel_resource_enter(NULL, &cs), UVOTEL_EINVAL);
  uvotel_resource_exit(&cs); /* a no-op after a failed enter */
  assert_int_equal((uvotel_resource_enter)(NULL, &cs), UVOTEL_EINVAL);
  (uvotel_resource_exit)(&cs);
  assert_int_equal(uvotel_resource_enter(&r, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_enter(&r, &cs), UVOTEL_EINVAL); /* never initialised */
  uvotel_resource_exit(NULL);
  (uvotel_resource_exit)(NULL);
  assert_int_equal(uvotel_resource_async_id(NULL), 0);
  assert_int_equal((uvotel_resource_async_id)(NULL), 0);
  assert_int_equal(uvotel_resource_recapture(NULL), UVOTEL_EINVAL);
  assert_int_equal((uvotel_resource_recapture)(NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_recapture(&r), UVOTEL_EINVAL);

  /* a live resource: both forms enter it and restore the top level; the callback sees the
   * context captured at init, with 64 variables in it */
  uvotel_scope_t s[64];
  for (int i = 0; i < 64; i++) uvotel_var_enter(g_v[i], &g_vals[i][0], &s[i]);
  assert_int_equal(uvotel_resource_init(&r, "MANY", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  for (int i = 63; i >= 0; i--) uvotel_scope_exit(&s[i]);
  assert_int_equal(uvotel_resource_recapture(&r), 0); /* now the empty context */
  assert_ptr_equal(uvotel_snapshot_get(NULL, g_v[0]), dflt(0));
  for (int i = 0; i < 64; i++) uvotel_var_enter(g_v[i], &g_vals[i][1], &s[i]);
  assert_int_equal(uvotel_resource_recapture(&r), 0);
  assert_int_equal(uvotel_resource_recapture(&r), 0); /* unchanged: the fast path */
  for (int i = 63; i >= 0; i--) uvotel_scope_exit(&s[i]);
  assert_int_equal(uvotel_resource_enter(&r, &cs), 0);
  assert_int_equal(uvotel_execution_async_id(), uvotel_resource_async_id(&r));
  assert_ptr_equal(uvotel_var_get(g_v[33]), &g_vals[33][1]);
  uvotel_resource_exit(&cs);
  assert_int_equal(uvotel_execution_async_id(), 1);
  assert_ptr_equal(uvotel_var_get(g_v[33]), dflt(33));
  assert_int_equal((uvotel_resource_enter)(&r, &cs), 0);
  assert_ptr_equal(uvotel_var_get(g_v[33]), &g_vals[33][1]);
  (uvotel_resource_exit)(&cs);
  assert_ptr_equal(uvotel_resource_run(&r, ret_exec_id, NULL),
                   (void *)(uintptr_t)uvotel_resource_async_id(&r));
  assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
  assert_int_equal(uvotel_resource_enter(&r, &cs), UVOTEL_EINVAL); /* destroyed */
  uvotel_flush_destroys();
  assert_int_equal(g_counts.retains, g_counts.releases);
}

static void test_no_leaks(void **state) {
  (void)state;
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live_at_start + NV * 2); /* vars + names */
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  g_live_at_start = counting_alloc_stats().live;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_nested_values_at_every_depth),
      cmocka_unit_test(test_shadow_unset_disable_deep),
      cmocka_unit_test(test_zero_allocations_with_64_set),
      cmocka_unit_test(test_deep_context_on_another_thread),
      cmocka_unit_test(test_random_walk_matches_model),
      cmocka_unit_test(test_inline_and_exported_agree),
      cmocka_unit_test(test_resource_inline_bad_input),
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
