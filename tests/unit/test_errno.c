/* Error codes, strerror, version, and the allocator switch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uvotel.h"

static void test_strerror(void **state) {
  (void)state;
  assert_string_equal(uvotel_strerror(0), "success");
  assert_string_equal(uvotel_strerror(UVOTEL_EINVAL), "invalid argument");
  assert_string_equal(uvotel_strerror(UVOTEL_ETIMEDOUT),
                      "deadline passed before the operation completed");
  assert_string_equal(uvotel_strerror(UV_ECONNREFUSED), uv_strerror(UV_ECONNREFUSED));
  assert_string_equal(uvotel_strerror(-29999), "unknown error"); /* no leak from libuv */
  assert_string_equal(uvotel_strerror(-31000), "unknown error");
  assert_string_equal(uvotel_strerror(5), "unknown error");
  /* every code has a distinct message and name */
  int codes[] = {
#define X(name, value, msg) value,
      UVOTEL_ERRNO_MAP(X)
#undef X
  };
  for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
    assert_string_not_equal(uvotel_strerror(codes[i]), "unknown error");
    assert_true(strncmp(uvotel_err_name(codes[i]), "UVOTEL_E", 8) == 0);
    assert_true(codes[i] <= -30001);
  }
}

static void test_err_name(void **state) {
  (void)state;
  assert_string_equal(uvotel_err_name(0), "OK");
  assert_string_equal(uvotel_err_name(UVOTEL_ENOMEM), "UVOTEL_ENOMEM");
  assert_string_equal(uvotel_err_name(UV_EINVAL), "EINVAL");
  assert_string_equal(uvotel_err_name(-29999), "UNKNOWN");
}

static void test_version(void **state) {
  (void)state;
  assert_int_equal(uvotel_version(), UVOTEL_VERSION_HEX);
  assert_string_equal(uvotel_version_string(), UVOTEL_VERSION_STRING);
}

static void test_allocator(void **state) {
  (void)state;
  assert_int_equal(uvotel_set_allocator(NULL, realloc, free), UVOTEL_EINVAL);
  assert_int_equal(uvotel_set_allocator(malloc, NULL, free), UVOTEL_EINVAL);
  assert_int_equal(uvotel_set_allocator(malloc, realloc, NULL), UVOTEL_EINVAL);
  void *p = uvotel_malloc(0); /* never NULL for 0 */
  assert_non_null(p);
  uvotel_free(p);
  /* after uvotel allocated, the allocator can no longer change */
  assert_int_equal(uvotel_set_allocator(malloc, realloc, free), UVOTEL_EBUSY);
  assert_null(uvotel_calloc(SIZE_MAX / 2, 4)); /* overflow */
  char *s = uvotel_strdup("abc");
  assert_string_equal(s, "abc");
  s = uvotel_realloc(s, 8);
  assert_non_null(s);
  uvotel_free(s);
  assert_null(uvotel_strdup(NULL));
  uvotel_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strerror),
      cmocka_unit_test(test_err_name),
      cmocka_unit_test(test_version),
      cmocka_unit_test(test_allocator),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
