/* A span started in an fs, DNS, TCP or work callback is the child of the span that was current
 * when the callback was registered, not of whatever is current when it runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>
#include <uvotel/uv.h>

#include "counting_alloc.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_exporter_t *mem;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

static fx_t *g;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "uv", NULL);
  g = f;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  uvotel_tracer_provider_free(f->p);
  uvotel_memory_exporter_free(f->mem);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_uv_loop_close(&f->loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

/* The span named `child` has the span named `parent` as parent, in the same trace. */
static void assert_child(fx_t *f, const char *child, const char *parent) {
  const uvotel_span_data_t *c = uvotel_memory_exporter_find(f->mem, child);
  const uvotel_span_data_t *p = uvotel_memory_exporter_find(f->mem, parent);
  assert_non_null(c);
  assert_non_null(p);
  uvotel_span_id_t pid = uvotel_span_data_parent_span_id(c);
  uvotel_span_context_t pc = uvotel_span_data_context(p), cc = uvotel_span_data_context(c);
  assert_memory_equal(pid.bytes, pc.span_id.bytes, 8);
  assert_memory_equal(cc.trace_id.bytes, pc.trace_id.bytes, 16);
}

static void child_span(const char *name) {
  uvotel_span_end(uvotel_span_start(g->t, name, NULL));
}

/* Register under `reg`, then run the loop with `other` current. */
typedef struct reg_s {
  uvotel_span_t *reg, *other;
  uvotel_scope_t sc;
} reg_t;

static void reg_begin(reg_t *r, const char *name) {
  r->reg = uvotel_span_start(g->t, name, NULL);
  uvotel_span_enter(r->reg, &r->sc);
}

static void reg_run(reg_t *r) {
  uvotel_scope_exit(&r->sc);
  uvotel_span_end(r->reg);
  r->other = uvotel_span_start(g->t, "other", NULL);
  uvotel_span_enter(r->other, &r->sc);
  uv_run(&g->loop, UV_RUN_DEFAULT);
  uvotel_scope_exit(&r->sc);
  uvotel_span_end(r->other);
}

/* ---- fs ---- */

static uv_fs_t fs_req;
static void on_fs_close(uv_fs_t *req) {
  uvotel_fs_req_cleanup(req);
  child_span("in-close");
}
static void on_fs_open(uv_fs_t *req) {
  int fd = (int)req->result;
  uvotel_fs_req_cleanup(req);
  assert_true(fd >= 0);
  child_span("in-open");
  uvotel_fs_close(&g->loop, &fs_req, fd, on_fs_close);
}

static void test_fs(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "fs-parent");
  assert_int_equal(
      uvotel_fs_open(&f->loop, &fs_req, UVOTEL_SOURCE_DIR "/CMakeLists.txt", 0, 0, on_fs_open), 0);
  reg_run(&r);
  assert_child(f, "in-open", "fs-parent");
  assert_child(f, "in-close", "fs-parent");
}

/* ---- DNS ---- */

static uv_getaddrinfo_t dns_req;
static void on_dns(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req, (void)status;
  uv_freeaddrinfo(res);
  child_span("in-dns");
}

static void test_dns(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "dns-parent");
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  assert_int_equal(uvotel_getaddrinfo(&f->loop, &dns_req, on_dns, "localhost", NULL, &hints), 0);
  reg_run(&r);
  assert_child(f, "in-dns", "dns-parent");
}

/* ---- work ---- */

static uv_work_t work_req;
static void on_work(uv_work_t *req) {
  (void)req;
  child_span("in-work"); /* pool thread */
}
static void on_after_work(uv_work_t *req, int status) {
  (void)req, (void)status;
  child_span("in-after-work");
}

static void test_work(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "work-parent");
  assert_int_equal(uvotel_queue_work(&f->loop, &work_req, on_work, on_after_work), 0);
  reg_run(&r);
  assert_child(f, "in-work", "work-parent");
  assert_child(f, "in-after-work", "work-parent");
}

/* ---- TCP: listen under one span, connect under another; the server's callbacks follow the
 * listen span, the connection's read/write callbacks the span current at read_start/write. */

static uv_tcp_t server, client, conn;
static uv_connect_t conn_req;
static uv_write_t wreq;
static uvotel_span_t *conn_span;
static char rbuf[64];

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h, (void)s;
  *b = uv_buf_init(rbuf, sizeof rbuf);
}
static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n <= 0) return;
  child_span("in-server-read");
  uvotel_read_stop(s);
  uvotel_close((uv_handle_t *)s, NULL);
  uvotel_close((uv_handle_t *)&server, NULL);
}
static void on_connection(uv_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  child_span("in-connection");
  /* per-connection span: the connection's callbacks see it */
  conn_span = uvotel_span_start(g->t, "conn-span", NULL);
  uvotel_scope_t sc;
  uvotel_span_enter(conn_span, &sc);
  uvotel_tcp_init(&g->loop, &conn);
  assert_int_equal(uvotel_accept(srv, (uv_stream_t *)&conn), 0);
  uvotel_read_start((uv_stream_t *)&conn, alloc_cb, on_server_read);
  uvotel_scope_exit(&sc);
  uvotel_span_end(conn_span);
}
static void on_written(uv_write_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  child_span("in-write");
  uvotel_close((uv_handle_t *)&client, NULL);
}
static void on_connect(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  child_span("in-connect");
  uv_buf_t b = uv_buf_init("hi", 2);
  uvotel_write(&wreq, req->handle, &b, 1, on_written);
}

static void test_tcp(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "listen-parent");
  uvotel_tcp_init(&f->loop, &server);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0), 0);
  int len = sizeof addr;
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  assert_int_equal(uvotel_listen((uv_stream_t *)&server, 4, on_connection), 0);
  uvotel_scope_exit(&r.sc);
  uvotel_span_end(r.reg);
  uvotel_span_t *cs = uvotel_span_start(f->t, "connect-parent", NULL);
  uvotel_span_enter(cs, &r.sc);
  uvotel_tcp_init(&f->loop, &client);
  assert_int_equal(
      uvotel_tcp_connect(&conn_req, &client, (const struct sockaddr *)&addr, on_connect), 0);
  r.reg = cs;
  reg_run(&r);
  assert_child(f, "in-connection", "listen-parent");
  assert_child(f, "conn-span", "listen-parent");
  assert_child(f, "in-server-read", "conn-span");
  assert_child(f, "in-connect", "connect-parent");
  assert_child(f, "in-write", "connect-parent");
}

/* Each pool thread allocates its context scope stack once, the first time it runs work in a
 * context, and frees it when it exits; have every pool thread do that before the leak checks. */
static uv_barrier_t g_barrier;
static void warm_work(uv_work_t *req) {
  (void)req;
  uv_barrier_wait(&g_barrier); /* all pool threads are in here at once */
}
static void warm_pool(void) {
  uv_loop_t loop;
  uv_work_t reqs[4];
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_barrier_init(&g_barrier, 4);
  uvotel_scope_t sc;
  uvotel_span_t *wrap = uvotel_span_wrap_context(NULL); /* any value makes a non-empty context */
  assert_int_equal(uvotel_span_enter(wrap, &sc), 0);
  for (int i = 0; i < 4; i++) uvotel_queue_work(&loop, &reqs[i], warm_work, NULL);
  uvotel_scope_exit(&sc);
  uvotel_span_end(wrap);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_barrier_destroy(&g_barrier);
  assert_int_equal(uvotel_uv_loop_close(&loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
}

int main(void) {
  counting_alloc_install();
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  warm_pool();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_work, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
