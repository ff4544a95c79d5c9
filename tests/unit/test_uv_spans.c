/* Automatic spans from the wrappers (uvotel/uv_spans.h), checked with the memory exporter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "spans_fixture.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

#define EXISTING UVOTEL_SOURCE_DIR "/CMakeLists.txt"
#define MISSING UVOTEL_BINARY_DIR "/no-such-file.txt"

static void enable(unsigned cats, unsigned flags) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  o.flags = flags;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

/* d's parent is the span `parent`, in the same trace. */
static void assert_child_of(const uvotel_span_data_t *d, const uvotel_span_context_t *parent) {
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  assert_memory_equal(sc.trace_id.bytes, parent->trace_id.bytes, 16);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  assert_memory_equal(pid.bytes, parent->span_id.bytes, 8);
}

/* ---- configuration ---- */

static void test_parse(void **state) {
  (void)state;
  unsigned c = 99;
  assert_int_equal(uvotel_instrument_parse("fs", &c), 0);
  assert_int_equal(c, UVOTEL_INSTRUMENT_FS);
  assert_int_equal(uvotel_instrument_parse(" DNS , net,", &c), 0);
  assert_int_equal(c, UVOTEL_INSTRUMENT_DNS | UVOTEL_INSTRUMENT_NET);
  assert_int_equal(uvotel_instrument_parse("all", &c), 0);
  assert_int_equal(c, UVOTEL_INSTRUMENT_ALL);
  assert_int_equal(uvotel_instrument_parse("none", &c), 0);
  assert_int_equal(c, 0);
  assert_int_equal(uvotel_instrument_parse("", &c), 0);
  assert_int_equal(c, 0);
  assert_int_equal(uvotel_instrument_parse(NULL, &c), 0);
  assert_int_equal(c, 0);
  assert_int_equal(uvotel_instrument_parse("fs,HTTP", &c), 0);
  assert_int_equal(c, UVOTEL_INSTRUMENT_FS | UVOTEL_INSTRUMENT_HTTP);
  c = 5;
  assert_int_equal(uvotel_instrument_parse("fs,smtp", &c), UVOTEL_EPARSE);
  assert_int_equal(c, 0);
  assert_int_equal(uvotel_instrument_parse("fsx", &c), UVOTEL_EPARSE);
  assert_int_equal(uvotel_instrument_parse("fs", NULL), UVOTEL_EINVAL);
}

static void test_enable_bad_input(void **state) {
  fx_t *fx = *state;
  assert_int_equal(uvotel_auto_spans_enable(NULL), UVOTEL_EINVAL);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = fx->tracer;
  o.categories = 0x80;
  assert_int_equal(uvotel_auto_spans_enable(&o), UVOTEL_EINVAL);
  assert_int_equal(uvotel_auto_spans_categories(), 0);
  o.categories = UVOTEL_INSTRUMENT_NET;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  assert_int_equal(uvotel_auto_spans_categories(), UVOTEL_INSTRUMENT_NET);
  o.categories = 0; /* the same as disable */
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  assert_int_equal(uvotel_auto_spans_categories(), 0);
  uvotel_auto_spans_disable();
  assert_int_equal(uvotel_auto_spans_categories(), 0);
  /* the ready-made accept callback: no tracer, no client, or not TCP gives no span */
  uv_tcp_t tcp;
  uv_pipe_t pipe;
  assert_int_equal(uv_tcp_init(&fx->loop, &tcp), 0);
  assert_int_equal(uv_pipe_init(&fx->loop, &pipe, 0), 0);
  assert_null(uvotel_auto_spans_accept_span(NULL, (uv_stream_t *)&tcp, NULL));
  assert_null(uvotel_auto_spans_accept_span(NULL, NULL, fx->tracer));
  assert_null(uvotel_auto_spans_accept_span(NULL, (uv_stream_t *)&pipe, fx->tracer));
  uv_close((uv_handle_t *)&tcp, NULL);
  uv_close((uv_handle_t *)&pipe, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

static void test_enable_from_env(void **state) {
  fx_t *fx = *state;
  unsetenv("UVOTEL_INSTRUMENT");
  assert_int_equal(uvotel_auto_spans_enable_from_env(fx->tracer, 0), 0);
  assert_int_equal(uvotel_auto_spans_categories(), 0);
  setenv("UVOTEL_INSTRUMENT", "fs,dns", 1);
  assert_int_equal(uvotel_auto_spans_enable_from_env(fx->tracer, 0), 0);
  assert_int_equal(uvotel_auto_spans_categories(), UVOTEL_INSTRUMENT_FS | UVOTEL_INSTRUMENT_DNS);
  uvotel_auto_spans_disable();
  setenv("UVOTEL_INSTRUMENT", "bogus", 1);
  assert_int_equal(uvotel_auto_spans_enable_from_env(fx->tracer, 0), UVOTEL_EPARSE);
  assert_int_equal(uvotel_auto_spans_categories(), 0);
  setenv("UVOTEL_INSTRUMENT", "all", 1);
  assert_int_equal(uvotel_tracer_provider_set_global(fx->provider), 0);
  assert_int_equal(uvotel_auto_spans_enable_from_env(NULL, 0), 0); /* the global provider */
  assert_int_equal(uvotel_auto_spans_categories(), UVOTEL_INSTRUMENT_ALL);
  uvotel_auto_spans_disable();
  assert_int_equal(uvotel_tracer_provider_set_global(NULL), 0);
  unsetenv("UVOTEL_INSTRUMENT");
}

/* ---- fs ---- */

static uv_fs_t g_req;
static int g_cb_runs;
static uvotel_span_t *g_seen_current;

static void on_fs_close(uv_fs_t *req) {
  g_cb_runs++;
  uvotel_fs_req_cleanup(req);
}

static void on_fs_open(uv_fs_t *req) {
  g_cb_runs++;
  g_seen_current = uvotel_current_span();
  uv_file fd = (uv_file)req->result;
  uvotel_fs_req_cleanup(req);
  if (fd >= 0) assert_int_equal(uvotel_fs_close(req->loop, req, fd, on_fs_close), 0);
}

static uvotel_span_t *enter_parent(fx_t *fx, uvotel_scope_t *scope) {
  uvotel_span_t *parent = uvotel_span_start(fx->tracer, "parent", NULL);
  assert_int_equal(uvotel_span_enter(parent, scope), 0);
  return parent;
}

static void test_off_by_default(void **state) {
  fx_t *fx = *state;
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  g_cb_runs = 0;
  assert_int_equal(uvotel_fs_open(&fx->loop, &g_req, EXISTING, O_RDONLY, 0, on_fs_open), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_cb_runs, 2);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1); /* only "parent" */
}

static void test_fs_open_close_under_parent(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_FS, 0);
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  uvotel_span_context_t psc = uvotel_span_context(parent);
  g_cb_runs = 0;
  g_seen_current = NULL;
  assert_int_equal(uvotel_fs_open(&fx->loop, &g_req, EXISTING, O_RDONLY, 0, on_fs_open), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_cb_runs, 2);
  /* The user's callback runs in the context of the call: the parent is current, not fs open. */
  assert_ptr_equal(g_seen_current, parent);
  uvotel_span_end(parent);

  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 3);
  const uvotel_span_data_t *open = uvotel_memory_exporter_get(fx->mem, 0);
  const uvotel_span_data_t *close = uvotel_memory_exporter_get(fx->mem, 1);
  assert_string_equal(uvotel_span_data_name(open), "fs open");
  assert_string_equal(uvotel_span_data_name(close), "fs close");
  assert_int_equal(uvotel_span_data_kind(open), UVOTEL_SPAN_KIND_INTERNAL);
  assert_string_equal(attr_str(open, "file.path"), EXISTING);
  assert_null(attr(close, "file.path")); /* fd-based: no path */
  assert_child_of(open, &psc);
  assert_child_of(close, &psc); /* uvotel_fs_close ran in on_fs_open: parent still current */
  assert_int_equal(uvotel_span_data_status(open, NULL), UVOTEL_STATUS_UNSET);
  assert_null(attr(open, "error.type"));
}

static void on_fs_any(uv_fs_t *req) {
  g_cb_runs++;
  uvotel_fs_req_cleanup(req);
}

static void test_fs_error(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_ALL, 0);
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  g_cb_runs = 0;
  assert_int_equal(uvotel_fs_open(&fx->loop, &g_req, MISSING, O_RDONLY, 0, on_fs_any), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_cb_runs, 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "fs open");
  assert_non_null(d);
  const char *desc = NULL;
  assert_int_equal(uvotel_span_data_status(d, &desc), UVOTEL_STATUS_ERROR);
  assert_string_equal(desc, uv_strerror(UV_ENOENT));
  assert_string_equal(attr_str(d, "error.type"), "ENOENT");
  assert_string_equal(attr_str(d, "file.path"), MISSING);
}

static void test_fs_rename_paths_and_sync_failure(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_FS, 0);
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  g_cb_runs = 0;
  assert_int_equal(uvotel_fs_rename(&fx->loop, &g_req, MISSING, MISSING ".2", on_fs_any), 0);
  /* A call libuv refuses synchronously makes no span (no request ran). */
  uv_fs_t bad;
  assert_int_equal(uvotel_fs_read(&fx->loop, &bad, 0, NULL, 0, 0, on_fs_any), UV_EINVAL);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_cb_runs, 1);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 2);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "fs rename");
  assert_non_null(d);
  assert_string_equal(attr_str(d, "file.path"), MISSING);
  assert_string_equal(attr_str(d, "uvotel.fs.new_path"), MISSING ".2");
  assert_string_equal(attr_str(d, "error.type"), "ENOENT");
}

static void test_no_parent_no_span_unless_roots(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_FS, 0);
  g_cb_runs = 0;
  assert_int_equal(uvotel_fs_stat(&fx->loop, &g_req, EXISTING, on_fs_any), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_cb_runs, 1);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 0);

  enable(UVOTEL_INSTRUMENT_FS, UVOTEL_AUTO_SPANS_ROOTS);
  assert_int_equal(uvotel_fs_stat(&fx->loop, &g_req, EXISTING, on_fs_any), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_cb_runs, 2);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, 0);
  assert_string_equal(uvotel_span_data_name(d), "fs stat");
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
  assert_true(uvotel_span_id_is_zero(&pid));
}

/* No tracer given: the spans come from the global provider's "uvotel.uv" tracer. */
static void test_global_provider_tracer(void **state) {
  fx_t *fx = *state;
  assert_int_equal(uvotel_tracer_provider_set_global(fx->provider), 0);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.categories = UVOTEL_INSTRUMENT_FS;
  o.flags = UVOTEL_AUTO_SPANS_ROOTS;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  assert_int_equal(uvotel_fs_stat(&fx->loop, &g_req, EXISTING, on_fs_any), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(fx->mem, 0);
  assert_string_equal(uvotel_span_data_name(d), "fs stat");
  assert_string_equal(uvotel_span_data_scope(d)->name, "uvotel.uv");
  uvotel_auto_spans_disable();
  /* freeing the global provider (teardown) clears it */
}

static void test_category_filter(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_DNS, 0); /* fs is off */
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  g_cb_runs = 0;
  assert_int_equal(uvotel_fs_stat(&fx->loop, &g_req, EXISTING, on_fs_any), 0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_cb_runs, 1);
  assert_int_equal(uvotel_memory_exporter_count(fx->mem), 1); /* "parent" only */
}

/* ---- dns ---- */

static uv_getaddrinfo_t g_gai;
static uv_getnameinfo_t g_gni;

static void on_gai(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  g_cb_runs++;
  assert_int_equal(status, 0);
  uv_freeaddrinfo(res);
}

static void on_gni(uv_getnameinfo_t *req, int status, const char *host, const char *service) {
  (void)req, (void)host, (void)service;
  g_cb_runs++;
  assert_int_equal(status, 0);
}

static void test_dns_lookup_and_reverse(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_DNS, 0);
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  uvotel_span_context_t psc = uvotel_span_context(parent);
  g_cb_runs = 0;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  assert_int_equal(uvotel_getaddrinfo(&fx->loop, &g_gai, on_gai, "localhost", NULL, &hints), 0);
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 80, &sin), 0);
  assert_int_equal(
      uvotel_getnameinfo(&fx->loop, &g_gni, on_gni, (const struct sockaddr *)&sin, NI_NUMERICSERV),
      0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_cb_runs, 2);

  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns lookup");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_CLIENT);
  assert_child_of(d, &psc);
  assert_string_equal(attr_str(d, "dns.question.name"), "localhost");
  const uvotel_attribute_t *ans = attr(d, "dns.answers");
  assert_non_null(ans);
  assert_int_equal(ans->value.type, UVOTEL_VALUE_STRING_ARRAY);
  assert_int_equal(ans->value.len, 1); /* one address, listed once for every socket type */
  assert_string_equal(ans->value.u.sa[0], "127.0.0.1");

  d = uvotel_memory_exporter_find(fx->mem, "dns reverse");
  assert_non_null(d);
  assert_child_of(d, &psc);
  assert_string_equal(attr_str(d, "dns.question.name"), "127.0.0.1");
  ans = attr(d, "dns.answers");
  assert_non_null(ans);
  assert_int_equal(ans->value.len, 1);
  assert_true(strlen(ans->value.u.sa[0]) > 0);
}

/* ---- net ---- */

static struct {
  uv_tcp_t server, conn, client;
  uv_connect_t connect;
  int connect_status;
  uvotel_span_t *seen_in_read;
  int port;
} g_net;

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_cb_runs++;
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  static char mem[4096];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  if (nread == 0) return;
  g_net.seen_in_read = uvotel_current_span();
  assert_int_equal(nread, UV_EOF);
  uvotel_close((uv_handle_t *)s, on_closed);
  uvotel_close((uv_handle_t *)&g_net.server, on_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  assert_int_equal(status, 0);
  assert_int_equal(uvotel_tcp_init(server->loop, &g_net.conn), 0);
  assert_int_equal(uvotel_accept(server, (uv_stream_t *)&g_net.conn), 0);
  assert_int_equal(uvotel_read_start((uv_stream_t *)&g_net.conn, alloc_cb, on_read), 0);
}

static void on_connect(uv_connect_t *req, int status) {
  g_net.connect_status = status;
  uvotel_close((uv_handle_t *)req->handle, on_closed);
}

static void listen_on_loopback(uv_loop_t *loop) {
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sin), 0);
  assert_int_equal(uvotel_tcp_init(loop, &g_net.server), 0);
  assert_int_equal(uv_tcp_bind(&g_net.server, (const struct sockaddr *)&sin, 0), 0);
  assert_int_equal(uvotel_listen((uv_stream_t *)&g_net.server, 8, on_connection), 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  assert_int_equal(uv_tcp_getsockname(&g_net.server, (struct sockaddr *)&ss, &len), 0);
  g_net.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void test_tcp_connect_and_accept(void **state) {
  fx_t *fx = *state;
  memset(&g_net, 0, sizeof g_net);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = fx->tracer;
  o.categories = UVOTEL_INSTRUMENT_NET;
  o.on_accept = uvotel_auto_spans_accept_span;
  o.on_accept_arg = fx->tracer;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  listen_on_loopback(&fx->loop);

  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  uvotel_span_context_t psc = uvotel_span_context(parent);
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", g_net.port, &sin), 0);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_net.client), 0);
  assert_int_equal(
      uvotel_tcp_connect(&g_net.connect, &g_net.client, (const struct sockaddr *)&sin, on_connect),
      0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  g_cb_runs = 0;
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_net.connect_status, 0);
  assert_int_equal(g_cb_runs, 3);

  const uvotel_span_data_t *c = uvotel_memory_exporter_find(fx->mem, "tcp connect");
  assert_non_null(c);
  assert_int_equal(uvotel_span_data_kind(c), UVOTEL_SPAN_KIND_CLIENT);
  assert_child_of(c, &psc);
  assert_string_equal(attr_str(c, "network.transport"), "tcp");
  assert_string_equal(attr_str(c, "network.type"), "ipv4");
  assert_string_equal(attr_str(c, "network.peer.address"), "127.0.0.1");
  assert_int_equal(attr_int(c, "network.peer.port"), g_net.port);
  assert_string_equal(attr_str(c, "server.address"), "127.0.0.1");
  assert_int_equal(attr_int(c, "server.port"), g_net.port);
  assert_int_equal(uvotel_span_data_status(c, NULL), UVOTEL_STATUS_UNSET);

  /* The accepted connection: a SERVER span (a root: the connection callback has no span),
   * current in the connection's read callback, ended when the connection was closed. */
  const uvotel_span_data_t *s = uvotel_memory_exporter_find(fx->mem, "tcp accept");
  assert_non_null(s);
  assert_int_equal(uvotel_span_data_kind(s), UVOTEL_SPAN_KIND_SERVER);
  assert_string_equal(attr_str(s, "server.address"), "127.0.0.1");
  assert_int_equal(attr_int(s, "server.port"), g_net.port);
  assert_string_equal(attr_str(s, "network.peer.address"), "127.0.0.1");
  assert_non_null(g_net.seen_in_read);
  uvotel_span_context_t seen = uvotel_span_context(g_net.seen_in_read);
  uvotel_span_context_t ssc = uvotel_span_data_context(s);
  assert_memory_equal(seen.span_id.bytes, ssc.span_id.bytes, 8);
}

static void test_tcp_connect_refused(void **state) {
  fx_t *fx = *state;
  memset(&g_net, 0, sizeof g_net);
  enable(UVOTEL_INSTRUMENT_NET, 0);
  /* A port nobody listens on: bind a socket to get a free port, then close it. */
  listen_on_loopback(&fx->loop);
  uvotel_close((uv_handle_t *)&g_net.server, NULL);
  uvotel_scope_t scope;
  uvotel_span_t *parent = enter_parent(fx, &scope);
  struct sockaddr_in sin;
  assert_int_equal(uv_ip4_addr("127.0.0.1", g_net.port, &sin), 0);
  assert_int_equal(uvotel_tcp_init(&fx->loop, &g_net.client), 0);
  assert_int_equal(
      uvotel_tcp_connect(&g_net.connect, &g_net.client, (const struct sockaddr *)&sin, on_connect),
      0);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  uvotel_span_end(parent);
  assert_int_equal(g_net.connect_status, UV_ECONNREFUSED);
  const uvotel_span_data_t *c = uvotel_memory_exporter_find(fx->mem, "tcp connect");
  assert_non_null(c);
  assert_int_equal(uvotel_span_data_status(c, NULL), UVOTEL_STATUS_ERROR);
  assert_string_equal(attr_str(c, "error.type"), "ECONNREFUSED");
}

/* ---- cost: no allocation per request in steady state ---- */

static int drop_export(void *self, const uvotel_span_data_t *const *spans, size_t n, uint64_t t) {
  (void)self, (void)spans, (void)n, (void)t;
  return 0;
}

static const uvotel_span_exporter_ops_t drop_ops = {.export_spans = drop_export};

static int g_chain_left;
static void on_chain(uv_fs_t *req) {
  uvotel_fs_req_cleanup(req);
  if (--g_chain_left > 0) {
    assert_int_equal(uvotel_fs_stat(req->loop, req, EXISTING, on_chain), 0);
  }
}

static void run_chain(uv_loop_t *loop, int n) {
  g_chain_left = n;
  assert_int_equal(uvotel_fs_stat(loop, &g_req, EXISTING, on_chain), 0);
  assert_int_equal(uv_run(loop, UV_RUN_DEFAULT), 0);
}

static void test_no_allocation_per_request(void **state) {
  fx_t *fx = *state;
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_span_exporter_create(&drop_ops, NULL));
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &proc;
  po.n_processors = 1;
  po.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&po);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = uvotel_tracer_get(p, "bench", NULL);
  o.categories = UVOTEL_INSTRUMENT_ALL;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);

  uvotel_scope_t scope;
  uvotel_span_t *parent = uvotel_span_start(o.tracer, "parent", NULL);
  assert_int_equal(uvotel_span_enter(parent, &scope), 0);
  run_chain(&fx->loop, 100); /* warm the pools */
  size_t before = counting_alloc_stats().allocs;
  run_chain(&fx->loop, 10000);
  assert_int_equal(counting_alloc_stats().allocs, before);
  assert_int_equal(uvotel_scope_exit(&scope), 0);
  uvotel_span_end(parent);

  /* Off: the same chain still allocates nothing. */
  uvotel_auto_spans_disable();
  before = counting_alloc_stats().allocs;
  run_chain(&fx->loop, 10000);
  assert_int_equal(counting_alloc_stats().allocs, before);
  (void)uvotel_tracer_provider_shutdown(p, 1000);
  uvotel_tracer_provider_free(p);
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var(); /* created once per process, on first use: not a leak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enable_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enable_from_env, setup, teardown),
      cmocka_unit_test_setup_teardown(test_off_by_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_open_close_under_parent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_rename_paths_and_sync_failure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_parent_no_span_unless_roots, setup, teardown),
      cmocka_unit_test_setup_teardown(test_global_provider_tracer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_category_filter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns_lookup_and_reverse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_connect_and_accept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp_connect_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_allocation_per_request, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  return rc;
}
