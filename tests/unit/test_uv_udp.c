/* UDP wrappers: UDPWRAP, UDPSENDWRAP (compare tests/node/dgram.js). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static char g_mem[65536];

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(g_mem, sizeof g_mem);
}

static int udp_bind_loopback(uv_udp_t *u) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (uv_udp_bind(u, (const struct sockaddr *)&addr, 0) != 0) return -1;
  struct sockaddr_in name;
  int len = sizeof name;
  if (uv_udp_getsockname(u, (struct sockaddr *)&name, &len) != 0) return -1;
  return ntohs(name.sin_port);
}

/* ---- the Node program tests/node/dgram.js ---- */

static struct {
  uv_udp_t server, client;
  uv_udp_send_t s1, s2;
  struct sockaddr_in server_addr;
  char reply[8];
} g_d;

static void d_closed(uv_handle_t *h) {
  trace_log_line(&g_log, "closed %s", h == (uv_handle_t *)&g_d.server ? "server" : "client");
}

static void d_sent(uv_udp_send_t *req, int status) {
  trace_log_line(&g_log, "%s sent %d", req == &g_d.s1 ? "client" : "server", status);
  if (req == &g_d.s2) uvotel_close((uv_handle_t *)&g_d.server, d_closed);
}

static void d_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread <= 0) return;
  trace_log_line(&g_log, "server message");
  memcpy(g_d.reply, buf->base, 4);
  uv_buf_t b = uv_buf_init(g_d.reply, 4);
  assert_int_equal(uvotel_udp_send(&g_d.s2, h, &b, 1, addr, d_sent), 0);
}

static void d_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)buf, (void)addr, (void)flags;
  if (nread <= 0) return;
  trace_log_line(&g_log, "client message");
  uvotel_close((uv_handle_t *)h, d_closed);
}

static void test_dgram_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  memset(&g_d, 0, sizeof g_d);
  assert_int_equal(uvotel_udp_init(g_loop, &g_d.server), 0);
  int port = udp_bind_loopback(&g_d.server);
  assert_true(port > 0);
  assert_int_equal(uvotel_udp_recv_start(&g_d.server, alloc_cb, d_server_recv), 0);
  trace_log_line(&g_log, "bound");
  uv_ip4_addr("127.0.0.1", port, &g_d.server_addr);
  assert_int_equal(uvotel_udp_init(g_loop, &g_d.client), 0);
  assert_true(udp_bind_loopback(&g_d.client) > 0);
  assert_int_equal(uvotel_udp_recv_start(&g_d.client, alloc_cb, d_client_recv), 0);
  uv_buf_t b = uv_buf_init("ping", 4);
  assert_int_equal(uvotel_udp_send(&g_d.s1, &g_d.client, &b, 1,
                                   (const struct sockaddr *)&g_d.server_addr, d_sent),
                   0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 UDPWRAP 1\n"
               "bound\n"
               "init 3 UDPWRAP 1\n"
               "init 4 UDPSENDWRAP 3\n"
               "before 4\n"
               "client sent 0\n"
               "after 4\n"
               "before 2\n"
               "server message\n"
               "init 5 UDPSENDWRAP 2\n"
               "after 2\n"
               "before 5\n"
               "server sent 0\n"
               "after 5\n"
               "destroy 4\n"
               "destroy 5\n"
               "before 2\n"
               "closed server\n"
               "after 2\n"
               "before 3\n"
               "client message\n"
               "after 3\n"
               "destroy 2\n"
               "before 3\n"
               "closed client\n"
               "after 3\n"
               "destroy 3\n");
}

/* ---- context per callback ---- */

#define CTX_N 8
static struct {
  uv_udp_t server;
  uv_udp_t clients[CTX_N];
  uv_udp_send_t sends[CTX_N];
  struct sockaddr_in addr;
  int sent, got, closed;
} g_c;

static void c_closed(uv_handle_t *h) {
  (void)h;
  g_c.closed++;
}

static void c_sent(uv_udp_send_t *req, int status) {
  assert_int_equal(status, 0);
  int i = (int)(req - g_c.sends);
  assert_ptr_equal(uvotel_var_get(g_var), &g_c.clients[i]); /* the sender's value */
  g_c.sent++;
}

static void c_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                          const struct sockaddr *addr, unsigned flags) {
  (void)buf, (void)addr, (void)flags;
  if (nread <= 0) return;
  assert_ptr_equal(uvotel_var_get(g_var), &g_c.server); /* recv_start's value */
  assert_true(uvotel_execution_async_id() > 1);         /* inside the UDPWRAP */
  if (++g_c.got == CTX_N) {
    uvotel_close((uv_handle_t *)h, c_closed);
    for (int i = 0; i < CTX_N; i++) uvotel_close((uv_handle_t *)&g_c.clients[i], c_closed);
  }
}

static void test_context_per_callback(void **state) {
  (void)state;
  memset(&g_c, 0, sizeof g_c);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_udp_init(g_loop, &g_c.server), 0);
  int port = udp_bind_loopback(&g_c.server);
  assert_true(port > 0);
  uv_ip4_addr("127.0.0.1", port, &g_c.addr);
  assert_int_equal(uvotel_var_enter(g_var, &g_c.server, &sc), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_c.server, alloc_cb, c_server_recv), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  for (int i = 0; i < CTX_N; i++) {
    assert_int_equal(uvotel_udp_init(g_loop, &g_c.clients[i]), 0);
    assert_int_equal(uvotel_var_enter(g_var, &g_c.clients[i], &sc), 0);
    uv_buf_t b = uv_buf_init("x", 1);
    assert_int_equal(uvotel_udp_send(&g_c.sends[i], &g_c.clients[i], &b, 1,
                                     (const struct sockaddr *)&g_c.addr, c_sent),
                     0);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
  }
  assert_null(uvotel_var_get(g_var));
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_c.sent, CTX_N);
  assert_int_equal(g_c.got, CTX_N);
  assert_int_equal(g_c.closed, CTX_N + 1);
}

/* ---- destroy exactly once: sync errors raise nothing; a send pending at close is cancelled;
 * a close inside the receive callback ---- */

static int g_destroys, g_inits;
static void count_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trig, void *r,
                       void *arg) {
  (void)id, (void)type, (void)trig, (void)r, (void)arg;
  g_inits++;
}
static void count_destroy(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
  g_destroys++;
}

static int g_cancelled;
static void cancel_sent(uv_udp_send_t *req, int status) {
  (void)req;
  if (status == UV_ECANCELED) g_cancelled++;
}

static void test_errors_and_close(void **state) {
  (void)state;
  uvotel_hook_callbacks_t cbs = {0};
  cbs.init = count_init;
  cbs.destroy = count_destroy;
  uvotel_hook_t *hook = uvotel_hook_create(&cbs, NULL);
  assert_int_equal(uvotel_hook_enable(hook), 0);
  g_inits = g_destroys = g_cancelled = 0;
  uv_udp_t u;
  uv_udp_send_t req;
  assert_int_equal(uvotel_udp_init(g_loop, &u), 0);
  /* no destination on an unconnected socket fails synchronously: nothing raised, nothing kept */
  assert_true(udp_bind_loopback(&u) > 0);
  uv_buf_t b = uv_buf_init("x", 1);
  assert_int_equal(uvotel_udp_send(&req, &u, &b, 1, NULL, cancel_sent), UV_EDESTADDRREQ);
  assert_int_equal(g_inits, 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  /* NULL arguments pass to libuv's own checks */
  assert_int_equal(uvotel_udp_recv_start(&u, alloc_cb, NULL), UV_EINVAL);
  assert_int_equal(uvotel_uv_tracked(), 0);
  /* sends queued and the handle closed at once: each cancelled, each destroyed once */
  struct sockaddr_in a4;
  uv_ip4_addr("127.0.0.1", 9, &a4);
  uv_udp_send_t reqs[4];
  for (int i = 0; i < 4; i++) {
    assert_int_equal(
        uvotel_udp_send(&reqs[i], &u, &b, 1, (const struct sockaddr *)&a4, cancel_sent), 0);
  }
  uvotel_close((uv_handle_t *)&u, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_inits, 5); /* UDPWRAP + 4 UDPSENDWRAP */
  assert_int_equal(g_destroys, 5);
  uvotel_hook_disable(hook);
  uvotel_hook_free(hook);
}

/* ---- the side table returns to its baseline after 100k sends ---- */

#define MANY 100000
#define WINDOW 64
static struct {
  uv_udp_t rx, tx;
  uv_udp_send_t reqs[WINDOW];
  struct sockaddr_in addr;
  long sent, done;
} g_m;

static void m_sent(uv_udp_send_t *req, int status) {
  assert_int_equal(status, 0);
  g_m.done++;
  if (g_m.sent < MANY) {
    uv_buf_t b = uv_buf_init("m", 1);
    g_m.sent++;
    assert_int_equal(
        uvotel_udp_send(req, &g_m.tx, &b, 1, (const struct sockaddr *)&g_m.addr, m_sent), 0);
  } else if (g_m.done == MANY) {
    uvotel_close((uv_handle_t *)&g_m.tx, NULL);
    uvotel_close((uv_handle_t *)&g_m.rx, NULL);
  }
}

static void m_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                   unsigned flags) {
  (void)h, (void)nread, (void)buf, (void)addr, (void)flags;
}

static void test_table_baseline_after_100k(void **state) {
  (void)state;
  memset(&g_m, 0, sizeof g_m);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_m, &sc), 0); /* tracking on, a context to carry */
  assert_int_equal(uvotel_udp_init(g_loop, &g_m.rx), 0);
  int port = udp_bind_loopback(&g_m.rx);
  uv_ip4_addr("127.0.0.1", port, &g_m.addr);
  assert_int_equal(uvotel_udp_recv_start(&g_m.rx, alloc_cb, m_recv), 0);
  assert_int_equal(uvotel_udp_init(g_loop, &g_m.tx), 0);
  size_t base = uvotel_uv_tracked();
  for (int i = 0; i < WINDOW; i++) {
    uv_buf_t b = uv_buf_init("m", 1);
    g_m.sent++;
    assert_int_equal(
        uvotel_udp_send(&g_m.reqs[i], &g_m.tx, &b, 1, (const struct sockaddr *)&g_m.addr, m_sent),
        0);
  }
  assert_int_equal(uvotel_uv_tracked(), base + 1 + WINDOW); /* tx and the requests in flight */
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_m.done, MANY);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("udp", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_dgram_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_context_per_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_errors_and_close, setup, teardown),
      cmocka_unit_test_setup_teardown(test_table_baseline_after_100k, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
