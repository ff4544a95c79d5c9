/* TTY through the stream wrappers: TTYWRAP for reads, WRITEWRAP for writes, on a pseudo
 * terminal (no real terminal needed). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pty.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static int g_marker;
static void *g_seen;
static uv_tty_t g_tty;
static uv_write_t g_w;

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[256];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void closed(uv_handle_t *h) {
  (void)h;
  trace_log_line(&g_log, "closed");
}

static void on_written(uv_write_t *w, int status) {
  (void)w;
  trace_log_line(&g_log, "written %d", status);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread <= 0) return;
  trace_log_line(&g_log, "read");
  g_seen = uvotel_var_get(g_var);
  uv_buf_t b = uv_buf_init("ok\n", 3);
  assert_int_equal(uvotel_write(&g_w, s, &b, 1, on_written), 0);
  assert_int_equal(uvotel_read_stop(s), 0);
  uvotel_close((uv_handle_t *)s, closed);
}

static void test_tty_sequence(void **state) {
  (void)state;
  int master, slave;
  assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
  trace_log_start(&g_log);
  assert_int_equal(uvotel_tty_init(g_loop, &g_tty, slave, 1), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_tty, alloc_cb, on_read), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(write(master, "hi\n", 3), 3);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_ptr_equal(g_seen, &g_marker);
  close(master);
  close(slave);
  assert_trace(&g_log,
               "init 2 TTYWRAP 1\n"
               "before 2\n"
               "read\n"
               "init 3 WRITEWRAP 2\n"
               "after 2\n"
               "before 3\n"
               "written 0\n"
               "after 3\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 3\n"
               "destroy 2\n");
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("tty", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_tty_sequence, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
