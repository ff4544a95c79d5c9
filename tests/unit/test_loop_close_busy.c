/* uvotel_loop_close answers UV_EBUSY the way uv_loop_close does: it stops at the first handle
 * of the program and never reads the handles behind it. knot-resolver exits with freed handles
 * still linked behind a live one and relies on exactly that (it gets EBUSY and exits 0). Here the
 * handle behind is made unreadable (PROT_NONE): reading it would crash the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "uvotel.h"
#include "uvotel/uv.h"

static void test_busy_check_stops_at_first_handle(void **state) {
  (void)state;
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(uvotel_loop_init(&loop), 0);
  uv_timer_t first;
  assert_int_equal(uv_timer_init(&loop, &first), 0);
  long page = sysconf(_SC_PAGESIZE);
  void *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(mem != MAP_FAILED);
  uv_timer_t *behind = mem;
  assert_int_equal(uv_timer_init(&loop, behind), 0);
  assert_int_equal(mprotect(mem, (size_t)page, PROT_NONE), 0);
  /* libuv's answer, and ours: busy, without touching `behind` */
  assert_int_equal(uv_loop_close(&loop), UV_EBUSY);
  assert_int_equal(uvotel_loop_close(&loop), UV_EBUSY);
  assert_int_equal(mprotect(mem, (size_t)page, PROT_READ | PROT_WRITE), 0);
  uv_close((uv_handle_t *)&first, NULL);
  uv_close((uv_handle_t *)behind, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  munmap(mem, (size_t)page);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_busy_check_stops_at_first_handle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
