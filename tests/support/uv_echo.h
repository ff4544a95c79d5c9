/* The echo exchange of tests/node/net_echo.js (TCP) and net_unix.js (pipe), for the stream
 * wrapper tests that compare its hook trace with Node's: a server echoes one "ping" from a
 * client, which shuts down on the answer; every step goes to g_log. The state and callbacks do
 * not depend on the stream type: the test sets g_e.conn_init (how the accepted handle is made),
 * sets up g_e.server / g_e.client as .tcp or .pipe, listens with e_connection and connects with
 * e_connected. Header only; include after uv_test_fixture.h (g_log, g_loop). */
#ifndef UVOTEL_TEST_UV_ECHO_H
#define UVOTEL_TEST_UV_ECHO_H

typedef union echo_handle_u {
  uv_tcp_t tcp;
  uv_pipe_t pipe;
} echo_handle_t;

static struct {
  echo_handle_t server, conn, client;
  uv_connect_t connect;
  uv_write_t w1, w2;
  uv_shutdown_t sd;
  int (*conn_init)(uv_loop_t *loop, echo_handle_t *conn); /* uvotel_tcp_init / _pipe_init */
} g_e;

static void e_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void e_closed(uv_handle_t *h) {
  trace_log_line(&g_log, "closed %s",
                 h == (uv_handle_t *)&g_e.server ? "server"
                 : h == (uv_handle_t *)&g_e.conn ? "conn"
                                                 : "client");
}

static void e_write_cb(uv_write_t *req, int status) {
  trace_log_line(&g_log, "%s write cb %d", req == &g_e.w1 ? "client" : "server", status);
}

static void e_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  if (nread > 0) {
    trace_log_line(&g_log, "server data");
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)nread);
    assert_int_equal(uvotel_write(&g_e.w2, s, &b, 1, e_write_cb), 0);
  } else if (nread == UV_EOF) {
    trace_log_line(&g_log, "server end");
    uvotel_close((uv_handle_t *)s, e_closed);
    uvotel_close((uv_handle_t *)&g_e.server, e_closed);
  }
}

static void e_shutdown_cb(uv_shutdown_t *req, int status) {
  (void)req;
  trace_log_line(&g_log, "shutdown cb %d", status);
}

static void e_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread > 0) {
    trace_log_line(&g_log, "client data");
    assert_int_equal(uvotel_shutdown(&g_e.sd, s, e_shutdown_cb), 0);
  } else if (nread == UV_EOF) {
    trace_log_line(&g_log, "client end");
    uvotel_close((uv_handle_t *)s, e_closed);
  }
}

static void e_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  trace_log_line(&g_log, "connection");
  assert_int_equal(g_e.conn_init(g_loop, &g_e.conn), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&g_e.conn), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_e.conn, e_alloc, e_server_read), 0);
}

static void e_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  trace_log_line(&g_log, "connected");
  uv_buf_t b = uv_buf_init("ping", 4);
  assert_int_equal(uvotel_write(&g_e.w1, req->handle, &b, 1, e_write_cb), 0);
  assert_int_equal(uvotel_read_start(req->handle, e_alloc, e_client_read), 0);
}

#endif
