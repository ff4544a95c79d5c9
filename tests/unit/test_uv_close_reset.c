/* uvotel_tcp_close_reset: the connection's resource is destroyed exactly once, its state freed,
 * close_cb run; a refused reset changes nothing. Also uvotel_tcp_init_ex and uvotel_tcp_open. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[4096];
  *buf = uv_buf_init(mem, sizeof mem);
}

static struct {
  uv_tcp_t server, conn, client;
  uv_connect_t connect;
  uv_write_t w;
  int client_err;
} g_r;

static void r_closed(uv_handle_t *h) {
  trace_log_line(&g_log, "closed %s",
                 h == (uv_handle_t *)&g_r.server ? "server"
                 : h == (uv_handle_t *)&g_r.conn ? "conn"
                                                 : "client");
}

static void r_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread <= 0) return;
  trace_log_line(&g_log, "server data");
  assert_int_equal(uvotel_tcp_close_reset((uv_tcp_t *)s, r_closed), 0);
  uvotel_close((uv_handle_t *)&g_r.server, r_closed);
}

static void r_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread >= 0) return;
  g_r.client_err = (int)nread;
  uvotel_close((uv_handle_t *)s, r_closed);
}

static void r_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_tcp_init_ex(g_loop, &g_r.conn, AF_UNSPEC), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&g_r.conn), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_r.conn, alloc_cb, r_server_read), 0);
}

static void r_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init("ping", 4);
  assert_int_equal(uvotel_write(&g_r.w, req->handle, &b, 1, NULL), 0);
  assert_int_equal(uvotel_read_start(req->handle, alloc_cb, r_client_read), 0);
}

static void test_close_reset_destroys_once(void **state) {
  (void)state;
  trace_log_start(&g_log);
  memset(&g_r, 0, sizeof g_r);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_r.server), 0);
  int port = tcp_bind_loopback(&g_r.server);
  assert_true(port > 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_r.server, 16, r_connection), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_r.client), 0);
  assert_int_equal(
      uvotel_tcp_connect(&g_r.connect, &g_r.client, (struct sockaddr *)&addr, r_connected), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_r.client_err, UV_ECONNRESET);
  assert_trace(&g_log,
               "init 2 TCPSERVERWRAP 1\n"
               "init 3 TCPWRAP 1\n"
               "init 4 TCPCONNECTWRAP 3\n"
               "before 2\n"
               "init 5 TCPWRAP 2\n"
               "after 2\n"
               "before 4\n"
               "init 6 WRITEWRAP 3\n"
               "after 4\n"
               "destroy 4\n"
               "destroy 6\n"
               "before 5\n"
               "server data\n"
               "after 5\n"
               "before 2\n"
               "closed server\n"
               "after 2\n"
               "before 5\n"
               "closed conn\n"
               "after 5\n"
               "before 3\n"
               "after 3\n"
               "destroy 2\n"
               "destroy 5\n"
               "before 3\n"
               "closed client\n"
               "after 3\n"
               "destroy 3\n");
}

/* A reset libuv refuses (the handle is shutting down) keeps the handle and its state. */
static void sd_cb(uv_shutdown_t *req, int status) {
  (void)req, (void)status;
}

static void test_refused_reset_changes_nothing(void **state) {
  (void)state;
  uv_tcp_t server, client;
  uv_connect_t c;
  uv_shutdown_t sd;
  assert_int_equal(uvotel_tcp_init(g_loop, &server), 0);
  int port = tcp_bind_loopback(&server);
  assert_int_equal(uvotel_listen((uv_stream_t *)&server, 4, (uv_connection_cb)sd_cb), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &client), 0);
  assert_int_equal(uvotel_tcp_connect(&c, &client, (struct sockaddr *)&addr, NULL), 0);
  assert_int_equal(uvotel_shutdown(&sd, (uv_stream_t *)&client, sd_cb), 0);
  size_t n = uvotel_uv_tracked();
  assert_int_equal(uvotel_tcp_close_reset(&client, NULL), UV_EINVAL);
  assert_int_equal(uvotel_uv_tracked(), n);
  assert_false(uv_is_closing((uv_handle_t *)&client));
  uvotel_close((uv_handle_t *)&client, NULL);
  uvotel_close((uv_handle_t *)&server, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvotel_tcp_close_reset(NULL, NULL), UV_EINVAL);
}

/* uvotel_tcp_open passes through; the opened handle becomes a resource when first used. */
static void test_tcp_open(void **state) {
  (void)state;
  uv_os_sock_t fds[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  uv_tcp_t t;
  assert_int_equal(uvotel_tcp_init(g_loop, &t), 0);
  /* libuv accepts any stream socket here */
  assert_int_equal(uvotel_tcp_open(&t, fds[0]), 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  uvotel_close((uv_handle_t *)&t, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  close(fds[1]);
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("reset", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_close_reset_destroys_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refused_reset_changes_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_open, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
