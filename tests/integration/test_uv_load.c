/* Loopback load: 10k connections leave the side table at its baseline (Node leaks here,
 * nodejs/node#19859), and 1000 concurrent connections x 100 messages see only their own
 * context, on the server and on the client side. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#define MSG 16 /* "iiiiiii:ccccccc\n" */

static uvotel_var_t *g_srv_var, *g_cli_var;

typedef struct srv_conn_s {
  uv_tcp_t tcp;
  long id; /* learnt from the first message */
  long count;
  size_t len;
  char in[MSG];
} srv_conn_t;

typedef struct srv_write_s {
  uv_write_t req;
  char out[48];
} srv_write_t;

typedef struct cli_s {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  long id, to_send, acked;
  size_t len;
  char in[MSG], out[48];
  int closed;
} cli_t;

static struct {
  uv_loop_t loop;
  uv_tcp_t server;
  cli_t *clients;
  long n_clients, msgs, concurrency, started, finished;
  long mixups, replies, conns_accepted;
  size_t inits, destroys;
} g;

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[65536];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void count_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trig, void *r,
                       void *arg) {
  (void)id, (void)type, (void)trig, (void)r, (void)arg;
  g.inits++;
}
static void count_destroy(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
  g.destroys++;
}

/* ---- server: the connection's state is a context value entered in the connection cb ---- */

static void srv_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void srv_closed(uv_handle_t *h) {
  free(h);
}

static void srv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  srv_conn_t *c = uvotel_var_get(g_srv_var);
  if (c != (srv_conn_t *)s) g.mixups++; /* the context must be this connection's */
  if (nread < 0) {
    uvotel_close((uv_handle_t *)s, srv_closed);
    return;
  }
  if (c == NULL) return;
  for (ssize_t i = 0; i < nread; i++) {
    c->in[c->len++] = buf->base[i];
    if (c->len < MSG) continue;
    c->len = 0;
    long id = strtol(c->in, NULL, 10);
    if (c->id < 0) c->id = id;
    if (id != c->id) g.mixups++;
    c->count++;
    srv_write_t *w = malloc(sizeof *w);
    snprintf(w->out, sizeof w->out, "%07ld:%07ld\n", c->id % 10000000, c->count % 10000000);
    uv_buf_t b = uv_buf_init(w->out, MSG);
    assert_int_equal(uvotel_write(&w->req, s, &b, 1, srv_written), 0);
  }
}

static void srv_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  srv_conn_t *c = calloc(1, sizeof *c);
  c->id = -1;
  assert_int_equal(uv_tcp_init(&g.loop, &c->tcp), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&c->tcp), 0);
  g.conns_accepted++;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_srv_var, c, &sc), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&c->tcp, on_alloc, srv_read), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
}

/* ---- clients: each runs in its own context too ---- */

static void cli_start(long i);

static void cli_closed(uv_handle_t *h) {
  cli_t *c = (cli_t *)h;
  if (uvotel_var_get(g_cli_var) != c) g.mixups++;
  if (c->acked != c->to_send) g.mixups++;
  g.finished++;
  if (g.started < g.n_clients) cli_start(g.started);
  if (g.finished == g.n_clients) uvotel_close((uv_handle_t *)&g.server, NULL);
}

static void cli_send(cli_t *c) {
  snprintf(c->out, sizeof c->out, "%07ld:%07ld\n", c->id % 10000000, (c->acked + 1) % 10000000);
  uv_buf_t b = uv_buf_init(c->out, MSG);
  assert_int_equal(uvotel_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, NULL), 0);
}

static void cli_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  cli_t *c = (cli_t *)s;
  if (uvotel_var_get(g_cli_var) != c) g.mixups++;
  if (nread < 0) {
    g.mixups++; /* the server never closes first */
    uvotel_close((uv_handle_t *)s, cli_closed);
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    c->in[c->len++] = buf->base[i];
    if (c->len < MSG) continue;
    c->len = 0;
    char *colon;
    long id = strtol(c->in, &colon, 10);
    long count = strtol(colon + 1, NULL, 10);
    c->acked++;
    g.replies++;
    if (id != c->id || count != c->acked) g.mixups++;
    if (c->acked == c->to_send) {
      uvotel_close((uv_handle_t *)s, cli_closed);
      return;
    }
    cli_send(c);
  }
}

static void cli_connected(uv_connect_t *req, int status) {
  cli_t *c = (cli_t *)req->handle;
  assert_int_equal(status, 0);
  if (uvotel_var_get(g_cli_var) != c) g.mixups++;
  assert_int_equal(uvotel_read_start((uv_stream_t *)&c->tcp, on_alloc, cli_read), 0);
  cli_send(c);
}

static void cli_start(long i) {
  cli_t *c = &g.clients[i];
  g.started++;
  c->id = i;
  c->to_send = g.msgs;
  struct sockaddr_in name;
  int len = sizeof name;
  assert_int_equal(uv_tcp_getsockname(&g.server, (struct sockaddr *)&name, &len), 0);
  assert_int_equal(uv_tcp_init(&g.loop, &c->tcp), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_cli_var, c, &sc), 0);
  assert_int_equal(
      uvotel_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&name, cli_connected), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
}

static void run_load(long n_clients, long msgs, long concurrency) {
  long live0 = counting_alloc_stats().live;
  memset(&g, 0, sizeof g);
  g.n_clients = n_clients;
  g.msgs = msgs;
  g.concurrency = concurrency;
  g.clients = calloc((size_t)n_clients, sizeof *g.clients);
  uvotel_hook_callbacks_t cbs = {.init = count_init, .destroy = count_destroy};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, NULL);
  assert_int_equal(uvotel_hook_enable(h), 0);
  assert_int_equal(uv_loop_init(&g.loop), 0);
  size_t base = uvotel_uv_tracked();
  assert_int_equal(uv_tcp_init(&g.loop, &g.server), 0);
  assert_true(tcp_bind_loopback(&g.server) > 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g.server, 4096, srv_connection), 0);
  for (long i = 0; i < concurrency && i < n_clients; i++) cli_start(i);
  assert_int_equal(uv_run(&g.loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g.finished, n_clients);
  assert_int_equal(g.conns_accepted, n_clients);
  assert_int_equal(g.replies, n_clients * msgs);
  assert_int_equal(g.mixups, 0);
  assert_int_equal(uvotel_uv_tracked(), base);
  assert_int_equal(uvotel_loop_close(&g.loop), 0);
  assert_int_equal(uv_loop_close(&g.loop), 0);
  assert_int_equal(g.inits, g.destroys); /* every resource destroyed, exactly once */
  /* server, and per connection: 2 TCPWRAPs, a TCPCONNECTWRAP, 2 WRITEWRAPs per message */
  assert_int_equal(g.inits, (size_t)(1 + n_clients * (3 + 2 * msgs)));
  uvotel_hook_free(h);
  free(g.clients);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, live0);
}

static void test_10k_connections_baseline(void **state) {
  (void)state;
  run_load(10000, 1, 200);
}

static void test_1000_concurrent_x100_no_mixups(void **state) {
  (void)state;
  run_load(1000, 100, 1000);
}

int main(void) {
  counting_alloc_install();
  g_srv_var = uvotel_var_create("server-conn", NULL, NULL);
  g_cli_var = uvotel_var_create("client", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_10k_connections_baseline),
      cmocka_unit_test(test_1000_concurrent_x100_no_mixups),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_srv_var);
  uvotel_var_free(g_cli_var);
  return rc;
}
