/* Async context: variables, run, enter/exit scopes, snapshots. In the spirit of the TC39
 * AsyncContext proposal's tests, plus value ownership, allocation and bad input. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "counting_alloc.h"
#include "uvotel.h"

static long g_live_at_start;

/* ---- values with counted retain/release ---- */

typedef struct counted_s {
  int retains, releases;
} counted_t;

static void c_retain(void *v) {
  ((counted_t *)v)->retains++;
}
static void c_release(void *v) {
  ((counted_t *)v)->releases++;
}
static const uvotel_value_ops_t counted_ops = {.retain = c_retain, .release = c_release};

static void *get_fn(void *arg) {
  return uvotel_var_get(arg);
}

static void test_default_value(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", (void *)"default", NULL);
  assert_non_null(v);
  assert_string_equal(uvotel_var_name(v), "v");
  assert_string_equal(uvotel_var_get(v), "default");
  uvotel_var_t *anon = uvotel_var_create(NULL, NULL, NULL);
  assert_string_equal(uvotel_var_name(anon), "");
  assert_null(uvotel_var_get(anon));
  uvotel_var_free(anon);
  uvotel_var_free(v);
}

typedef struct nested_s {
  uvotel_var_t *v;
  const char *seen_inner, *seen_after_inner;
} nested_t;

static void *inner(void *arg) {
  return uvotel_var_get(arg);
}

static void *outer(void *arg) {
  nested_t *n = arg;
  n->seen_inner = uvotel_var_run(n->v, (void *)"inner", inner, n->v);
  n->seen_after_inner = uvotel_var_get(n->v);
  return (void *)"ret";
}

static void test_nested_runs_restore(void **state) {
  (void)state;
  nested_t n = {uvotel_var_create("v", NULL, NULL), NULL, NULL};
  assert_string_equal(uvotel_var_run(n.v, (void *)"outer", outer, &n), "ret");
  assert_string_equal(n.seen_inner, "inner");
  assert_string_equal(n.seen_after_inner, "outer");
  assert_null(uvotel_var_get(n.v));
  uvotel_var_free(n.v);
}

static void *capture_fn(void *arg) {
  (void)arg;
  return uvotel_snapshot_capture();
}

static void test_snapshot_sees_value_after_run(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_snapshot_t *s = uvotel_var_run(v, (void *)"captured", capture_fn, NULL);
  assert_non_null(s);
  assert_null(uvotel_var_get(v));
  assert_string_equal(uvotel_snapshot_run(s, get_fn, v), "captured");
  assert_string_equal(uvotel_snapshot_get(s, v), "captured");
  /* snapshot.run restores afterwards */
  assert_null(uvotel_var_get(v));
  uvotel_scope_t sc;
  uvotel_var_enter(v, (void *)"outside", &sc);
  assert_string_equal(uvotel_snapshot_run(s, get_fn, v), "captured");
  assert_string_equal(uvotel_var_get(v), "outside");
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_snapshot_release(s);
  uvotel_var_free(v);
}

static void test_snapshot_of_empty_context(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", (void *)"dflt", NULL);
  uvotel_snapshot_t *empty = uvotel_snapshot_capture();
  assert_non_null(empty);
  uvotel_scope_t sc;
  uvotel_var_enter(v, (void *)"set", &sc);
  assert_string_equal(uvotel_snapshot_run(empty, get_fn, v), "dflt");
  assert_string_equal(uvotel_snapshot_get(empty, v), "dflt");
  assert_string_equal(uvotel_var_get(v), "set");
  uvotel_scope_exit(&sc);
  uvotel_snapshot_release(empty);
  uvotel_snapshot_release(NULL);
  uvotel_var_free(v);
}

static void test_several_variables(void **state) {
  (void)state;
  uvotel_var_t *a = uvotel_var_create("a", NULL, NULL), *b = uvotel_var_create("b", NULL, NULL);
  uvotel_var_t *c = uvotel_var_create("c", (void *)"c0", NULL);
  uvotel_scope_t s1, s2, s3;
  uvotel_var_enter(b, (void *)"b1", &s1);
  uvotel_var_enter(a, (void *)"a1", &s2);
  uvotel_var_enter(b, (void *)"b2", &s3); /* replaces b, keeps a */
  assert_string_equal(uvotel_var_get(a), "a1");
  assert_string_equal(uvotel_var_get(b), "b2");
  assert_string_equal(uvotel_var_get(c), "c0");
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  assert_int_equal(uvotel_scope_exit(&s3), 0);
  assert_string_equal(uvotel_var_get(b), "b1");
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_null(uvotel_var_get(a));
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  assert_null(uvotel_var_get(b));
  assert_string_equal(uvotel_snapshot_get(snap, a), "a1");
  assert_string_equal(uvotel_snapshot_get(snap, b), "b2");
  uvotel_snapshot_release(snap);
  uvotel_var_free(a);
  uvotel_var_free(b);
  uvotel_var_free(c);
}

static void test_out_of_order_exit(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t outer_s, inner_s;
  assert_int_equal(uvotel_var_enter(v, (void *)"1", &outer_s), 0);
  assert_int_equal(uvotel_var_enter(v, (void *)"2", &inner_s), 0);
  assert_int_equal(uvotel_scope_exit(&outer_s), UVOTEL_EINVAL); /* not the innermost */
  assert_string_equal(uvotel_var_get(v), "2");                  /* unchanged */
  assert_int_equal(uvotel_scope_exit(&inner_s), 0);
  assert_int_equal(uvotel_scope_exit(&inner_s), UVOTEL_EINVAL); /* exited already */
  assert_string_equal(uvotel_var_get(v), "1");
  assert_int_equal(uvotel_scope_exit(&outer_s), 0);
  assert_null(uvotel_var_get(v));
  uvotel_scope_t never;
  memset(&never, 0, sizeof never);
  assert_int_equal(uvotel_scope_exit(&never), UVOTEL_EINVAL);
  assert_int_equal(uvotel_scope_exit(NULL), UVOTEL_EINVAL);
  /* Two scopes entering the same snapshot: only the innermost may exit. */
  uvotel_var_enter(v, (void *)"x", &outer_s);
  uvotel_snapshot_t *s = uvotel_snapshot_capture();
  uvotel_scope_t a, b;
  uvotel_snapshot_enter(s, &a);
  uvotel_snapshot_enter(s, &b);
  assert_int_equal(uvotel_scope_exit(&a), UVOTEL_EINVAL);
  assert_int_equal(uvotel_scope_exit(&b), 0);
  assert_int_equal(uvotel_scope_exit(&a), 0);
  assert_int_equal(uvotel_scope_exit(&outer_s), 0);
  uvotel_snapshot_release(s);
  uvotel_var_free(v);
}

static void *leak_scope(void *arg) {
  static uvotel_scope_t leaked;
  uvotel_var_enter(arg, (void *)"leaked", &leaked);
  return NULL;
}

static void test_run_closes_scopes_left_open(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  counted_t val = {0, 0};
  uvotel_var_t *cv = uvotel_var_create("cv", NULL, &counted_ops);
  uvotel_var_run(v, (void *)"run", leak_scope, v);
  assert_null(uvotel_var_get(v));
  uvotel_snapshot_t *s = uvotel_snapshot_capture();
  uvotel_snapshot_run(s, leak_scope, v);
  assert_null(uvotel_var_get(v));
  uvotel_snapshot_release(s);
  uvotel_var_run(cv, &val, leak_scope, v);
  assert_int_equal(val.retains, val.releases);
  uvotel_var_free(v);
  uvotel_var_free(cv);
}

static void *nested_counted(void *arg) {
  uvotel_var_t *v = arg;
  counted_t *other = uvotel_var_get(v);
  (void)other;
  uvotel_snapshot_t *s = uvotel_snapshot_capture();
  uvotel_snapshot_t *s2 = uvotel_snapshot_retain(s);
  uvotel_snapshot_release(s);
  return s2;
}

static void test_retain_release_balance(void **state) {
  (void)state;
  counted_t a = {0, 0}, b = {0, 0};
  uvotel_var_t *v = uvotel_var_create("v", NULL, &counted_ops);
  uvotel_var_t *w = uvotel_var_create("w", NULL, &counted_ops);
  uvotel_scope_t s1, s2;
  uvotel_var_enter(v, &a, &s1);
  assert_int_equal(a.retains, 1);
  uvotel_var_enter(w, &b, &s2); /* the new mapping holds a too */
  uvotel_snapshot_t *snap = uvotel_var_run(v, &b, nested_counted, v);
  uvotel_scope_exit(&s2);
  uvotel_scope_exit(&s1);
  /* the snapshot still holds b twice (as v and w) and nothing of a */
  assert_int_equal(a.retains, a.releases);
  assert_true(b.retains > b.releases);
  uvotel_var_free(v); /* values still held: released when the snapshot goes */
  uvotel_snapshot_release(snap);
  assert_int_equal(b.retains, b.releases);
  assert_true(a.retains >= 2);
  uvotel_var_free(w);
}

static void test_zero_allocations_steady_state(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t s;
  for (int i = 0; i < 100; i++) { /* warm the pools */
    uvotel_var_enter(v, (void *)"x", &s);
    uvotel_snapshot_release(uvotel_snapshot_capture());
    uvotel_scope_exit(&s);
  }
  counting_alloc_stats_t before = counting_alloc_stats();
  for (int i = 0; i < 10000; i++) {
    uvotel_var_enter(v, (void *)"x", &s);
    uvotel_snapshot_t *snap = uvotel_snapshot_capture();
    assert_ptr_equal(uvotel_var_get(v), "x");
    uvotel_scope_t s2;
    uvotel_snapshot_enter(snap, &s2);
    uvotel_scope_exit(&s2);
    uvotel_snapshot_release(snap);
    uvotel_scope_exit(&s);
  }
  counting_alloc_stats_t after = counting_alloc_stats();
  assert_int_equal(after.allocs, before.allocs);
  assert_int_equal(after.reallocs, before.reallocs);
  uvotel_var_free(v);
}

static void test_out_of_memory_changes_nothing(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_var_t *w = uvotel_var_create("w", NULL, NULL);
  uvotel_scope_t s;
  uvotel_var_enter(v, (void *)"kept", &s);
  /* Empty the pools, so the 2-entry mapping needs the allocator. */
  uvotel_thread_cleanup();
  counting_alloc_fail_after(0, 1);
  uvotel_scope_t s2;
  assert_int_equal(uvotel_var_enter(w, (void *)"x", &s2), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
  assert_string_equal(uvotel_var_get(v), "kept");
  assert_null(uvotel_var_get(w));
  assert_int_equal(uvotel_scope_exit(&s), 0);
  counting_alloc_fail_after(0, 1);
  assert_null(uvotel_var_create("z", NULL, NULL));
  counting_alloc_fail_after(0, 0);
  uvotel_var_free(v);
  uvotel_var_free(w);
}

static void test_bad_input(void **state) {
  (void)state;
  uvotel_var_t *v = uvotel_var_create("v", NULL, NULL);
  uvotel_scope_t s;
  assert_null(uvotel_var_get(NULL));
  assert_null(uvotel_var_run(NULL, NULL, get_fn, NULL));
  assert_null(uvotel_var_run(v, NULL, NULL, NULL));
  assert_int_equal(uvotel_var_enter(NULL, NULL, &s), UVOTEL_EINVAL);
  assert_int_equal(uvotel_var_enter(v, NULL, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_snapshot_run(NULL, get_fn, v));
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  assert_null(uvotel_snapshot_run(snap, NULL, NULL));
  assert_int_equal(uvotel_snapshot_enter(NULL, &s), UVOTEL_EINVAL);
  assert_int_equal(uvotel_snapshot_enter(snap, NULL), UVOTEL_EINVAL);
  assert_null(uvotel_snapshot_get(snap, NULL));
  assert_null(uvotel_snapshot_get(NULL, v));
  assert_null(uvotel_snapshot_retain(NULL));
  uvotel_snapshot_release(snap);
  uvotel_var_free(NULL);
  assert_string_equal(uvotel_var_name(NULL), "");
  uvotel_var_free(v);
}

/* ---- threads: per-thread contexts, pool-style borrowing, hand-over ---- */

typedef struct thread_arg_s {
  uvotel_var_t *v;
  uvotel_snapshot_t *borrowed;
  uvotel_snapshot_t *handed;
  const char *seen_initially, *seen_borrowed, *seen_in_copy, *seen_handed;
  uvotel_snapshot_t *copy;
} thread_arg_t;

static void *worker(void *p) {
  thread_arg_t *a = p;
  a->seen_initially = uvotel_var_get(a->v); /* every thread starts empty */
  uvotel_scope_t s;
  /* Like a work callback: enter the submitter's snapshot without counting it. */
  uvotel_snapshot_enter(a->borrowed, &s);
  a->seen_borrowed = uvotel_var_get(a->v);
  a->copy = uvotel_snapshot_capture(); /* a private copy: the owner counts its own */
  uvotel_scope_exit(&s);
  a->seen_in_copy = uvotel_snapshot_get(a->copy, a->v);
  uvotel_snapshot_release(a->copy);
  a->seen_handed = uvotel_snapshot_run(a->handed, get_fn, a->v);
  uvotel_snapshot_release(a->handed); /* handed over whole: released here */
  uvotel_thread_cleanup();
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  counted_t val = {0, 0};
  uvotel_var_t *v = uvotel_var_create("v", NULL, &counted_ops);
  uvotel_scope_t s;
  uvotel_var_enter(v, &val, &s);
  thread_arg_t a = {.v = v};
  a.borrowed = uvotel_snapshot_capture();
  a.handed = uvotel_snapshot_capture_handover();
  assert_ptr_not_equal(a.handed, a.borrowed); /* a copy */
  pthread_t th;
  pthread_create(&th, NULL, worker, &a);
  pthread_join(th, NULL);
  assert_null(a.seen_initially);
  assert_ptr_equal(a.seen_borrowed, &val);
  assert_ptr_equal(a.seen_in_copy, &val);
  assert_ptr_equal(a.seen_handed, &val);
  uvotel_snapshot_release(a.borrowed);
  uvotel_scope_exit(&s);
  assert_int_equal(val.retains, val.releases);
  uvotel_snapshot_t *empty = uvotel_snapshot_capture_handover();
  assert_non_null(empty);
  uvotel_snapshot_release(empty);
  uvotel_var_free(v);
}

static void test_no_leaks(void **state) {
  (void)state;
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, g_live_at_start);
}

int main(void) {
  assert_int_equal(counting_alloc_install(), 0);
  g_live_at_start = counting_alloc_stats().live;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_default_value),
      cmocka_unit_test(test_nested_runs_restore),
      cmocka_unit_test(test_snapshot_sees_value_after_run),
      cmocka_unit_test(test_snapshot_of_empty_context),
      cmocka_unit_test(test_several_variables),
      cmocka_unit_test(test_out_of_order_exit),
      cmocka_unit_test(test_run_closes_scopes_left_open),
      cmocka_unit_test(test_retain_release_balance),
      cmocka_unit_test(test_zero_allocations_steady_state),
      cmocka_unit_test(test_out_of_memory_changes_nothing),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_no_leaks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
