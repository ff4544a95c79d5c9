/* UVOTEL_NO_INLINE: uvotel/fast.h routes nothing, every call reaches the exported function, and
 * the results are the ones the inline forms give (test_context_many checks those). */
#define UVOTEL_NO_INLINE 1
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "uvotel.h"

#if defined(uvotel_var_get) || defined(uvotel_snapshot_capture) ||        \
    defined(uvotel_snapshot_release) || defined(uvotel_resource_enter) || \
    defined(uvotel_resource_exit) || defined(uvotel_resource_async_id) || \
    defined(uvotel_resource_recapture)
#error "UVOTEL_NO_INLINE must leave the public names alone"
#endif

static void test_exported_calls(void **state) {
  (void)state;
  assert_null(uvotel_var_get(NULL));
  uvotel_var_t *v[12];
  uvotel_scope_t s[12];
  for (int i = 0; i < 12; i++) {
    v[i] = uvotel_var_create("v", (void *)"dflt", NULL);
    assert_string_equal(uvotel_var_get(v[i]), "dflt");
    assert_int_equal(uvotel_var_enter(v[i], (void *)"set", &s[i]), 0);
  }
  for (int i = 0; i < 12; i++) assert_string_equal(uvotel_var_get(v[i]), "set");
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  uvotel_resource_t r;
  assert_int_equal(uvotel_resource_init(&r, "NOINLINE", 0, UVOTEL_RESOURCE_MANUAL_DESTROY), 0);
  for (int i = 11; i >= 0; i--) assert_int_equal(uvotel_scope_exit(&s[i]), 0);
  assert_string_equal(uvotel_snapshot_get(snap, v[11]), "set");
  uvotel_snapshot_release(snap);
  uvotel_snapshot_release(NULL);
  uvotel_callback_scope_t cs;
  assert_int_equal(uvotel_resource_enter(&r, &cs), 0);
  assert_int_equal(uvotel_execution_async_id(), uvotel_resource_async_id(&r));
  assert_string_equal(uvotel_var_get(v[5]), "set");
  uvotel_resource_exit(&cs);
  assert_string_equal(uvotel_var_get(v[5]), "dflt");
  assert_int_equal(uvotel_resource_recapture(&r), 0);
  assert_int_equal(uvotel_resource_enter(NULL, &cs), UVOTEL_EINVAL);
  uvotel_resource_exit(&cs);
  assert_int_equal(uvotel_resource_emit_destroy(&r), 0);
  uvotel_flush_destroys();
  for (int i = 0; i < 12; i++) uvotel_var_free(v[i]);
  uvotel_thread_cleanup();
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_exported_calls)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
