/* Pipe wrappers: PIPESERVERWRAP, PIPEWRAP, PIPECONNECTWRAP over a unix socket (compare
 * tests/node/net_unix.js), context per connection, connect errors, the table after many
 * connections. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"
#include "uv_echo.h"

static char g_path[108];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void make_path(void) {
  snprintf(g_path, sizeof g_path, "/tmp/uvotel-test-%d.sock", (int)getpid());
  unlink(g_path);
}

/* ---- the Node program tests/node/net_unix.js ---- */

static int conn_init(uv_loop_t *loop, echo_handle_t *conn) {
  return uvotel_pipe_init(loop, &conn->pipe, 0);
}

static void test_unix_echo_sequence(void **state) {
  (void)state;
  make_path();
  trace_log_start(&g_log);
  memset(&g_e, 0, sizeof g_e);
  g_e.conn_init = conn_init;
  assert_int_equal(uvotel_pipe_init(g_loop, &g_e.server.pipe, 0), 0);
  assert_int_equal(uv_pipe_bind(&g_e.server.pipe, g_path), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_e.server, 16, e_connection), 0);
  trace_log_line(&g_log, "listening");
  assert_int_equal(uvotel_pipe_init(g_loop, &g_e.client.pipe, 0), 0);
  uvotel_pipe_connect(&g_e.connect, &g_e.client.pipe, g_path, e_connected);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  unlink(g_path);
  assert_trace(&g_log,
               "init 2 PIPESERVERWRAP 1\n"
               "listening\n"
               "init 3 PIPEWRAP 1\n"
               "init 4 PIPECONNECTWRAP 3\n"
               "before 2\n"
               "connection\n"
               "init 5 PIPEWRAP 2\n"
               "after 2\n"
               "before 4\n"
               "connected\n"
               "init 6 WRITEWRAP 3\n"
               "after 4\n"
               "before 6\n"
               "client write cb 0\n"
               "after 6\n"
               "destroy 4\n"
               "destroy 6\n"
               "before 5\n"
               "server data\n"
               "init 7 WRITEWRAP 5\n"
               "after 5\n"
               "before 7\n"
               "server write cb 0\n"
               "after 7\n"
               "destroy 7\n"
               "before 3\n"
               "client data\n"
               "init 8 SHUTDOWNWRAP 3\n"
               "after 3\n"
               "before 8\n"
               "shutdown cb 0\n"
               "after 8\n"
               "destroy 8\n"
               "before 5\n"
               "server end\n"
               "after 5\n"
               "before 2\n"
               "closed server\n"
               "after 2\n"
               "before 5\n"
               "closed conn\n"
               "after 5\n"
               "before 3\n"
               "client end\n"
               "after 3\n"
               "destroy 2\n"
               "destroy 5\n"
               "before 3\n"
               "closed client\n"
               "after 3\n"
               "destroy 3\n");
}

/* ---- a connect to a path nobody listens on: the callback gets the error inside its
 * PIPECONNECTWRAP, which is destroyed once; the handle's PIPEWRAP at close ---- */

static int g_inits, g_destroys, g_status;
static void count_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trig, void *r,
                       void *arg) {
  (void)id, (void)type, (void)trig, (void)r, (void)arg;
  g_inits++;
}
static void count_destroy(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
  g_destroys++;
}

static void refused(uv_connect_t *req, int status) {
  g_status = status;
  assert_ptr_equal(uvotel_var_get(g_var), req); /* the connect call's context */
  uvotel_close((uv_handle_t *)req->handle, NULL);
}

static void test_connect_error(void **state) {
  (void)state;
  make_path(); /* nothing bound there */
  uvotel_hook_callbacks_t cbs = {0};
  cbs.init = count_init;
  cbs.destroy = count_destroy;
  uvotel_hook_t *hook = uvotel_hook_create(&cbs, NULL);
  assert_int_equal(uvotel_hook_enable(hook), 0);
  g_inits = g_destroys = 0;
  g_status = 0;
  uv_pipe_t p;
  uv_connect_t req;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_pipe_init(g_loop, &p, 0), 0);
  assert_int_equal(uvotel_var_enter(g_var, &req, &sc), 0);
  uvotel_pipe_connect(&req, &p, g_path, refused);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_status, UV_ENOENT);
  assert_int_equal(g_inits, 2);
  assert_int_equal(g_destroys, 2);
  uvotel_hook_disable(hook);
  uvotel_hook_free(hook);
}

/* ---- many connections: a value per connection; the table back to its baseline ---- */

#define CONNS 200
static struct {
  uv_pipe_t server;
  uv_pipe_t conns[CONNS], clients[CONNS];
  uv_connect_t reqs[CONNS];
  uv_write_t writes[CONNS];
  int accepted, connected, reads, closed;
} g_m;

static void m_closed(uv_handle_t *h) {
  (void)h;
  if (++g_m.closed == 2 * CONNS) uvotel_close((uv_handle_t *)&g_m.server, NULL);
}

static void m_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  assert_ptr_equal(uvotel_var_get(g_var), s); /* this connection's value */
  if (nread < 0) uvotel_close((uv_handle_t *)s, m_closed);
}

static void m_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  uv_pipe_t *c = &g_m.conns[g_m.accepted++];
  assert_int_equal(uvotel_pipe_init(g_loop, c, 0), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)c), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, c, &sc), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)c, alloc_cb, m_read), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
}

static void m_written(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  int i = (int)(req - g_m.writes);
  assert_ptr_equal(uvotel_var_get(g_var), &g_m.clients[i]);
  uvotel_close((uv_handle_t *)&g_m.clients[i], m_closed);
}

static void m_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  int i = (int)(req - g_m.reqs);
  assert_ptr_equal(uvotel_var_get(g_var), &g_m.clients[i]);
  g_m.connected++;
  uv_buf_t b = uv_buf_init("x", 1);
  assert_int_equal(uvotel_write(&g_m.writes[i], req->handle, &b, 1, m_written), 0);
}

static void test_many_connections(void **state) {
  (void)state;
  make_path();
  memset(&g_m, 0, sizeof g_m);
  assert_int_equal(uvotel_pipe_init(g_loop, &g_m.server, 0), 0);
  assert_int_equal(uv_pipe_bind(&g_m.server, g_path), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_m.server, 256, m_connection), 0);
  for (int i = 0; i < CONNS; i++) {
    uvotel_scope_t sc;
    assert_int_equal(uvotel_pipe_init(g_loop, &g_m.clients[i], 0), 0);
    assert_int_equal(uvotel_var_enter(g_var, &g_m.clients[i], &sc), 0);
    uvotel_pipe_connect(&g_m.reqs[i], &g_m.clients[i], g_path, m_connected);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  unlink(g_path);
  assert_int_equal(g_m.connected, CONNS);
  assert_int_equal(g_m.accepted, CONNS);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("pipe", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_unix_echo_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_connections, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
