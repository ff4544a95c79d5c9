/* TCP and stream wrappers: TCPSERVERWRAP, TCPWRAP, TCPCONNECTWRAP, WRITEWRAP, SHUTDOWNWRAP. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"
#include "uv_echo.h"

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

/* ---- the Node program tests/node/net_echo.js: server + one client, both traced ---- */

static int conn_init(uv_loop_t *loop, echo_handle_t *conn) {
  return uvotel_tcp_init(loop, &conn->tcp);
}

static void test_echo_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  memset(&g_e, 0, sizeof g_e);
  g_e.conn_init = conn_init;
  assert_int_equal(uvotel_tcp_init(g_loop, &g_e.server.tcp), 0);
  int port = tcp_bind_loopback(&g_e.server.tcp);
  assert_true(port > 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_e.server, 16, e_connection), 0);
  trace_log_line(&g_log, "listening");
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_e.client.tcp), 0);
  assert_int_equal(
      uvotel_tcp_connect(&g_e.connect, &g_e.client.tcp, (struct sockaddr *)&addr, e_connected), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 TCPSERVERWRAP 1\n"
               "listening\n"
               "init 3 TCPWRAP 1\n"
               "init 4 TCPCONNECTWRAP 3\n"
               "before 2\n"
               "connection\n"
               "init 5 TCPWRAP 2\n"
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

/* ---- per-connection context: a value entered in the connection callback ---- */

#define CTX_CLIENTS 20

typedef struct conn_s {
  uv_tcp_t tcp;
  uv_write_t w;
  char buf[8];
  int id;
} conn_t;

typedef struct client_s {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t w;
  char msg[8];
  int got;
} client_t;

static struct {
  uv_tcp_t server;
  conn_t conns[CTX_CLIENTS];
  client_t clients[CTX_CLIENTS];
  int n_conns, closed, checked;
} g_c;

static void c_closed(uv_handle_t *h) {
  (void)h;
  g_c.closed++;
  if (g_c.closed == 2 * CTX_CLIENTS) uvotel_close((uv_handle_t *)&g_c.server, NULL);
}

static void c_conn_write_cb(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  conn_t *c = (conn_t *)((char *)req - offsetof(conn_t, w));
  assert_ptr_equal(uvotel_var_get(g_var), c);
  g_c.checked++;
}

static void c_conn_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = (conn_t *)s;
  assert_ptr_equal(uvotel_var_get(g_var), c); /* this connection's value, no other */
  g_c.checked++;
  if (nread > 0) {
    memcpy(c->buf, buf->base, (size_t)nread);
    uv_buf_t b = uv_buf_init(c->buf, (unsigned)nread);
    assert_int_equal(uvotel_write(&c->w, s, &b, 1, c_conn_write_cb), 0);
  } else if (nread < 0) {
    uvotel_close((uv_handle_t *)s, c_closed);
  }
}

static void c_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_ptr_equal(uvotel_var_get(g_var), "server"); /* context of uvotel_listen */
  conn_t *c = &g_c.conns[g_c.n_conns++];
  assert_int_equal(uvotel_tcp_init(g_loop, &c->tcp), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&c->tcp), 0);
  uvotel_scope_t scope;
  assert_int_equal(uvotel_var_enter(g_var, c, &scope), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&c->tcp, alloc_cb, c_conn_read), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_ptr_equal(uvotel_var_get(g_var), "server");
}

static void c_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  client_t *cl = (client_t *)s;
  assert_ptr_equal(uvotel_var_get(g_var), cl);
  g_c.checked++;
  if (nread > 0) {
    assert_memory_equal(buf->base, cl->msg, (size_t)nread);
    cl->got += (int)nread;
    if (cl->got == (int)strlen(cl->msg)) uvotel_close((uv_handle_t *)s, c_closed);
  }
}

static void c_client_write_cb(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  client_t *cl = (client_t *)((char *)req - offsetof(client_t, w));
  assert_ptr_equal(uvotel_var_get(g_var), cl);
  g_c.checked++;
}

static void c_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  client_t *cl = (client_t *)req->handle;
  assert_ptr_equal(uvotel_var_get(g_var), cl); /* context of uvotel_tcp_connect */
  g_c.checked++;
  uv_buf_t b = uv_buf_init(cl->msg, (unsigned)strlen(cl->msg));
  assert_int_equal(uvotel_write(&cl->w, req->handle, &b, 1, c_client_write_cb), 0);
  assert_int_equal(uvotel_read_start(req->handle, alloc_cb, c_client_read), 0);
}

static void test_connection_context(void **state) {
  (void)state;
  trace_log_start(&g_log);
  memset(&g_c, 0, sizeof g_c);
  uvotel_scope_t scope;
  assert_int_equal(uvotel_tcp_init(g_loop, &g_c.server), 0);
  int port = tcp_bind_loopback(&g_c.server);
  assert_int_equal(uvotel_var_enter(g_var, "server", &scope), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_c.server, 128, c_connection), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  for (int i = 0; i < CTX_CLIENTS; i++) {
    client_t *cl = &g_c.clients[i];
    snprintf(cl->msg, sizeof cl->msg, "m%d", i);
    assert_int_equal(uvotel_tcp_init(g_loop, &cl->tcp), 0);
    assert_int_equal(uvotel_var_enter(g_var, cl, &scope), 0);
    assert_int_equal(
        uvotel_tcp_connect(&cl->connect, &cl->tcp, (struct sockaddr *)&addr, c_connected), 0);
    assert_int_equal(uvotel_scope_exit(&scope), 0);
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_c.n_conns, CTX_CLIENTS);
  assert_true(g_c.checked >= 6 * CTX_CLIENTS);
  /* every resource destroyed exactly once */
  char *t = trace_renumbered(trace_log_text(&g_log));
  int inits = 0, destroys = 0;
  for (char *p = t; (p = strstr(p, "init ")) != NULL; p++) inits++;
  for (char *p = t; (p = strstr(p, "destroy ")) != NULL; p++) destroys++;
  /* the server; per pair 2 TCPWRAPs, a TCPCONNECTWRAP, 2 WRITEWRAPs */
  assert_int_equal(inits, 1 + CTX_CLIENTS * 5);
  assert_int_equal(destroys, inits);
  free(t);
}

/* ---- errors ---- */

static void refused_cb(uv_connect_t *req, int status) {
  trace_log_line(&g_log, "connect cb %s", uv_err_name(status));
  uvotel_close((uv_handle_t *)req->handle, NULL);
}

static void test_connect_refused(void **state) {
  (void)state;
  /* find a free port: bind, read it, close */
  uv_tcp_t probe, client;
  uv_connect_t req;
  assert_int_equal(uv_tcp_init(g_loop, &probe), 0);
  int port = tcp_bind_loopback(&probe);
  uv_close((uv_handle_t *)&probe, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  trace_log_start(&g_log);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &client), 0);
  assert_int_equal(uvotel_tcp_connect(&req, &client, (struct sockaddr *)&addr, refused_cb), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 TCPWRAP 1\n"
               "init 3 TCPCONNECTWRAP 2\n"
               "before 3\n"
               "connect cb ECONNREFUSED\n"
               "after 3\n"
               "destroy 2\n"
               "destroy 3\n");
}

static void never_cb(uv_stream_t *s, int status) {
  (void)s, (void)status;
  fail();
}

static void test_sync_errors_raise_nothing(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_tcp_t a, b;
  uv_write_t w;
  uv_shutdown_t sd;
  uv_connect_t cr;
  assert_int_equal(uvotel_tcp_init(g_loop, &a), 0);
  assert_int_equal(uvotel_tcp_init(g_loop, &b), 0);
  int port = tcp_bind_loopback(&a);
  assert_int_equal(uvotel_listen((uv_stream_t *)&a, 4, never_cb), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  /* libuv reports a bind conflict at listen */
  assert_int_equal(uv_tcp_bind(&b, (struct sockaddr *)&addr, 0), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&b, 4, never_cb), UV_EADDRINUSE);
  uv_buf_t buf = uv_buf_init("x", 1);
  uv_tcp_t c;
  assert_int_equal(uvotel_tcp_init(g_loop, &c), 0);
  assert_int_equal(uvotel_write(&w, (uv_stream_t *)&c, &buf, 1, NULL), UV_EBADF);
  assert_int_equal(uvotel_shutdown(&sd, (uv_stream_t *)&c, NULL), UV_ENOTCONN);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&c, alloc_cb, c_client_read), UV_ENOTCONN);
  assert_int_equal(uvotel_try_write((uv_stream_t *)&c, &buf, 1), UV_EBADF);
  assert_int_equal(uvotel_accept((uv_stream_t *)&a, (uv_stream_t *)&c), UV_EAGAIN);
  struct sockaddr_in bad;
  memset(&bad, 0, sizeof bad);
  bad.sin_family = 12345;
  assert_int_equal(uvotel_tcp_connect(&cr, &c, (struct sockaddr *)&bad, NULL), UV_EINVAL);
  assert_int_equal(uvotel_uv_tracked(), 1); /* only the listening server */
  uvotel_close((uv_handle_t *)&a, NULL);
  uvotel_close((uv_handle_t *)&b, NULL);
  uvotel_close((uv_handle_t *)&c, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 TCPSERVERWRAP 1\n"
               "destroy 2\n");
}

/* ---- write then close in the same tick; read_stop + read_start in a new context ---- */

static struct {
  uv_tcp_t server, conn, client;
  uv_connect_t cr;
  uv_write_t w;
  int write_cbs, reads;
} g_w;

static void w_write_cb(uv_write_t *req, int status) {
  (void)req;
  trace_log_line(&g_log, "write cb");
  (void)status;
  g_w.write_cbs++;
}

static void w_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread > 0) {
    g_w.reads++;
    if (g_w.reads == 1) {
      /* stop, then restart in another context: later reads run in the new one */
      assert_ptr_equal(uvotel_var_get(g_var), "first");
      assert_int_equal(uvotel_read_stop(s), 0);
      uvotel_scope_t sc;
      assert_int_equal(uvotel_var_enter(g_var, "second", &sc), 0);
      assert_int_equal(uvotel_read_start(s, alloc_cb, w_server_read), 0);
      assert_int_equal(uvotel_scope_exit(&sc), 0);
    } else {
      assert_ptr_equal(uvotel_var_get(g_var), "second");
    }
  } else if (nread < 0) {
    assert_ptr_equal(uvotel_var_get(g_var), "second");
    uvotel_close((uv_handle_t *)s, NULL);
    uvotel_close((uv_handle_t *)&g_w.server, NULL);
  }
}

static void w_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_w.conn), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&g_w.conn), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "first", &sc), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_w.conn, alloc_cb, w_server_read), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
}

static void w_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  uv_buf_t b = uv_buf_init("abc", 3);
  assert_int_equal(uvotel_try_write(req->handle, &b, 1), 3); /* synchronous: no resource */
  assert_int_equal(uvotel_try_write2(req->handle, &b, 1, NULL), 3);
  assert_int_equal(uvotel_write2(&g_w.w, req->handle, &b, 1, NULL, w_write_cb), 0);
  uvotel_close((uv_handle_t *)req->handle, NULL); /* the write completes before the close */
}

static void test_write_then_close_and_restart(void **state) {
  (void)state;
  memset(&g_w, 0, sizeof g_w);
  trace_log_start(&g_log);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_w.server), 0);
  int port = tcp_bind_loopback(&g_w.server);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_w.server, 4, w_connection), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_w.client), 0);
  assert_int_equal(uvotel_tcp_connect(&g_w.cr, &g_w.client, (struct sockaddr *)&addr, w_connected),
                   0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_w.write_cbs, 1);
  assert_true(g_w.reads >= 1);
  char *t = trace_renumbered(trace_log_text(&g_log));
  int inits = 0, destroys = 0;
  for (char *p = t; (p = strstr(p, "init ")) != NULL; p++) inits++;
  for (char *p = t; (p = strstr(p, "destroy ")) != NULL; p++) destroys++;
  assert_int_equal(inits, 5); /* server, client, connect, conn, write */
  assert_int_equal(destroys, 5);
  assert_non_null(strstr(t, "init 6 WRITEWRAP 3\n"));
  free(t);
}

/* ---- many writes in flight on one stream: their records wait in the stream's state ----
 * Ten writes submitted in one tick, each in its own context, complete in order in their contexts;
 * the first one's callback writes its request again; then a large write and a small one, cut by
 * a close, complete with UV_ECANCELED. Writes make no side-table state of their own (the tracked
 * count does not move while they are in flight), and every write resource is destroyed once. A
 * write on a stream without a state (connected with raw libuv) keeps a state of its own, also when
 * the stream gets one before the write completes. */

#define NW 10
#define BIG (8u << 20)

static struct {
  uv_tcp_t server, conn[2], client, raw;
  int nconn;
  uv_connect_t cr, rcr;
  uv_write_t w[NW], big, small, rw;
  char ctx[NW][8];
  int order[NW + 1], n_done, cancelled, raw_done;
  size_t tracked_before;
  char *bigbuf;
} g_m;

static void m_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread < 0) uvotel_close((uv_handle_t *)s, NULL);
}

static void m_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_true(g_m.nconn < 2);
  uv_tcp_t *c = &g_m.conn[g_m.nconn++];
  assert_int_equal(uvotel_tcp_init(g_loop, c), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)c), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)c, alloc_cb, m_server_read), 0);
  if (g_m.nconn == 2) uvotel_close((uv_handle_t *)server, NULL);
}

static void m_cancelled_cb(uv_write_t *req, int status) {
  assert_int_equal(status, UV_ECANCELED);
  assert_ptr_equal(uvotel_var_get(g_var), req == &g_m.big ? "big" : "small");
  assert_int_equal(g_m.cancelled, req == &g_m.big ? 0 : 1); /* in order */
  g_m.cancelled++;
}

static void m_write_cb(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  int i = (int)(req - g_m.w);
  assert_ptr_equal(uvotel_var_get(g_var), g_m.ctx[i]);
  g_m.order[g_m.n_done++] = i;
  if (g_m.n_done == 1) {
    /* the request is the program's again: write it once more, in another context */
    snprintf(g_m.ctx[0], sizeof g_m.ctx[0], "again");
    uvotel_scope_t sc;
    assert_int_equal(uvotel_var_enter(g_var, g_m.ctx[0], &sc), 0);
    uv_buf_t b = uv_buf_init("z", 1);
    assert_int_equal(uvotel_write(req, req->handle, &b, 1, m_write_cb), 0);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
  }
  if (g_m.n_done < NW + 1) return;
  /* a write larger than the socket takes at once, a small one behind it, then the close */
  uvotel_scope_t sc;
  uv_buf_t big = uv_buf_init(g_m.bigbuf, BIG), small = uv_buf_init("s", 1);
  assert_int_equal(uvotel_var_enter(g_var, "big", &sc), 0);
  assert_int_equal(uvotel_write(&g_m.big, req->handle, &big, 1, m_cancelled_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_var_enter(g_var, "small", &sc), 0);
  assert_int_equal(uvotel_write(&g_m.small, req->handle, &small, 1, m_cancelled_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_close((uv_handle_t *)req->handle, NULL);
}

static void m_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  g_m.tracked_before = uvotel_uv_tracked();
  for (int i = 0; i < NW; i++) {
    snprintf(g_m.ctx[i], sizeof g_m.ctx[i], "w%d", i);
    uvotel_scope_t sc;
    assert_int_equal(uvotel_var_enter(g_var, g_m.ctx[i], &sc), 0);
    uv_buf_t b = uv_buf_init(g_m.ctx[i], 2);
    assert_int_equal(uvotel_write(&g_m.w[i], req->handle, &b, 1, m_write_cb), 0);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
  }
  assert_int_equal(uvotel_uv_tracked(), g_m.tracked_before);
}

static void m_raw_write_cb(uv_write_t *req, int status) {
  assert_int_equal(status, 0);
  assert_ptr_equal(uvotel_var_get(g_var), "raw");
  g_m.raw_done++;
  uvotel_close((uv_handle_t *)req->handle, NULL);
}

static void m_raw_connected(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  size_t before = uvotel_uv_tracked();
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "raw", &sc), 0);
  uv_buf_t b = uv_buf_init("r", 1);
  assert_int_equal(uvotel_write(&g_m.rw, req->handle, &b, 1, m_raw_write_cb), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_uv_tracked(), before + 1); /* the request's own state */
  /* the stream gets a state of its own before the write completes */
  assert_int_equal(uvotel_read_start(req->handle, alloc_cb, m_server_read), 0);
}

static void test_writes_in_flight(void **state) {
  (void)state;
  memset(&g_m, 0, sizeof g_m);
  g_m.bigbuf = calloc(1, BIG);
  assert_non_null(g_m.bigbuf);
  trace_log_start(&g_log);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_m.server), 0);
  int port = tcp_bind_loopback(&g_m.server);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_m.server, 4, m_connection), 0);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  assert_int_equal(uvotel_tcp_init(g_loop, &g_m.client), 0);
  assert_int_equal(uvotel_tcp_connect(&g_m.cr, &g_m.client, (struct sockaddr *)&addr, m_connected),
                   0);
  /* connected with raw libuv: the stream has no state */
  assert_int_equal(uv_tcp_init(g_loop, &g_m.raw), 0);
  assert_int_equal(uv_tcp_connect(&g_m.rcr, &g_m.raw, (struct sockaddr *)&addr, m_raw_connected),
                   0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  free(g_m.bigbuf);
  assert_int_equal(g_m.n_done, NW + 1);
  for (int i = 0; i < NW; i++) assert_int_equal(g_m.order[i], i);
  assert_int_equal(g_m.order[NW], 0);
  assert_int_equal(g_m.cancelled, 2);
  assert_int_equal(g_m.raw_done, 1);
  char *t = trace_renumbered(trace_log_text(&g_log));
  int writes = 0, inits = 0, destroys = 0;
  for (char *p = t; (p = strstr(p, "WRITEWRAP")) != NULL; p++) writes++;
  for (char *p = t; (p = strstr(p, "init ")) != NULL; p++) inits++;
  for (char *p = t; (p = strstr(p, "destroy ")) != NULL; p++) destroys++;
  assert_int_equal(writes, NW + 1 + 2 + 1);
  assert_int_equal(inits, destroys);
  free(t);
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("tcp", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_echo_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connection_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_connect_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_errors_raise_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_then_close_and_restart, setup, teardown),
      cmocka_unit_test_setup_teardown(test_writes_in_flight, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
