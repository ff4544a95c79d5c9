/* Log records know their trace: a record emitted in a timer, fs, DNS, TCP or work callback
 * carries the span that was current when the callback was registered (through the wrappers in
 * instrumentation/), not whatever is current when it runs. End to end over OTLP/HTTP: records
 * and spans reach the loopback receiver with matching trace ids; under a dead collector drops
 * are counted and memory stays bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/logs.h>
#include <uvotel/exporters/memory.h>
#include <uvotel/uv.h>

#include "counting_alloc.h"
#include "otlp_receiver.h"

typedef struct fx_s {
  uv_loop_t loop;
  uvotel_memory_exporter_t *smem;
  uvotel_memory_log_exporter_t *lmem;
  uvotel_tracer_provider_t *tp;
  uvotel_tracer_t *t;
  uvotel_logger_provider_t *lp;
  uvotel_logger_t *l;
  long live0;
} fx_t;

static fx_t *g;

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  uvotel_span_var();
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->smem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *sp =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(f->smem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &sp;
  o.n_processors = 1;
  f->tp = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->tp, "uv", NULL);
  f->lmem = uvotel_memory_log_exporter_create(0);
  uvotel_log_processor_t *lpr =
      uvotel_simple_log_processor_create(uvotel_memory_log_exporter_exporter(f->lmem));
  uvotel_logger_provider_options_t lo = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  lo.processors = &lpr;
  lo.n_processors = 1;
  lo.tracer_provider = f->tp;
  f->lp = uvotel_logger_provider_create(&lo);
  f->l = uvotel_logger_get(f->lp, "uv", NULL);
  g = f;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  uvotel_logger_provider_free(f->lp);
  uvotel_memory_log_exporter_free(f->lmem);
  uvotel_tracer_provider_free(f->tp);
  uvotel_memory_exporter_free(f->smem);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uvotel_uv_loop_close(&f->loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

/* The record whose body is `body` carries the context of the span named `span`. */
static void assert_logged_under(fx_t *f, const char *body, const char *span) {
  const uvotel_log_data_t *d = NULL;
  for (size_t i = 0; i < uvotel_memory_log_exporter_count(f->lmem); i++) {
    const uvotel_log_data_t *x = uvotel_memory_log_exporter_get(f->lmem, i);
    if (x->body.type == UVOTEL_VALUE_STRING && strcmp(x->body.u.s, body) == 0) d = x;
  }
  assert_non_null(d);
  const uvotel_span_data_t *s = uvotel_memory_exporter_find(f->smem, span);
  assert_non_null(s);
  uvotel_span_context_t sc = uvotel_span_data_context(s);
  assert_memory_equal(d->trace_id.bytes, sc.trace_id.bytes, 16);
  assert_memory_equal(d->span_id.bytes, sc.span_id.bytes, 8);
  assert_int_equal(d->trace_flags, sc.flags);
}

static void say(const char *what) {
  uvotel_log(g->l, UVOTEL_SEVERITY_INFO, "%s", what);
}

/* Register under a span named `name`, then run the loop with another span current. */
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

/* ---- timer ---- */

static uv_timer_t timer;
static void on_timer(uv_timer_t *t) {
  say("in-timer");
  uvotel_close((uv_handle_t *)t, NULL);
}

static void test_timer(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "timer-parent");
  uv_timer_init(&f->loop, &timer);
  assert_int_equal(uvotel_timer_start(&timer, on_timer, 1, 0), 0);
  reg_run(&r);
  assert_logged_under(f, "in-timer", "timer-parent");
}

/* ---- fs ---- */

static uv_fs_t fs_req;
static void on_fs_close(uv_fs_t *req) {
  uvotel_fs_req_cleanup(req);
  say("in-close");
}
static void on_fs_open(uv_fs_t *req) {
  int fd = (int)req->result;
  uvotel_fs_req_cleanup(req);
  assert_true(fd >= 0);
  say("in-open");
  uvotel_fs_close(&g->loop, &fs_req, fd, on_fs_close);
}

static void test_fs(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "fs-parent");
  assert_int_equal(
      uvotel_fs_open(&f->loop, &fs_req, UVOTEL_SOURCE_DIR "/CMakeLists.txt", 0, 0, on_fs_open), 0);
  reg_run(&r);
  assert_logged_under(f, "in-open", "fs-parent");
  assert_logged_under(f, "in-close", "fs-parent");
}

/* ---- DNS ---- */

static uv_getaddrinfo_t dns_req;
static void on_dns(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req, (void)status;
  uv_freeaddrinfo(res);
  say("in-dns");
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
  assert_logged_under(f, "in-dns", "dns-parent");
}

/* ---- work: the work callback runs on a pool thread ---- */

static uv_work_t work_req;
static void on_work(uv_work_t *req) {
  (void)req;
  say("in-work");
}
static void on_after_work(uv_work_t *req, int status) {
  (void)req, (void)status;
  say("in-after-work");
}

static void test_work(void **state) {
  fx_t *f = *state;
  reg_t r;
  reg_begin(&r, "work-parent");
  assert_int_equal(uvotel_queue_work(&f->loop, &work_req, on_work, on_after_work), 0);
  reg_run(&r);
  assert_logged_under(f, "in-work", "work-parent");
  assert_logged_under(f, "in-after-work", "work-parent");
}

/* ---- TCP ---- */

static uv_tcp_t server, client, conn;
static uv_connect_t conn_req;
static uv_write_t wreq;
static char rbuf[64];

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b) {
  (void)h, (void)s;
  *b = uv_buf_init(rbuf, sizeof rbuf);
}
static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  if (n <= 0) return;
  say("in-server-read");
  uvotel_read_stop(s);
  uvotel_close((uv_handle_t *)s, NULL);
  uvotel_close((uv_handle_t *)&server, NULL);
}
static void on_connection(uv_stream_t *srv, int status) {
  assert_int_equal(status, 0);
  say("in-connection");
  uvotel_span_t *cs = uvotel_span_start(g->t, "conn-span", NULL);
  uvotel_scope_t sc;
  uvotel_span_enter(cs, &sc);
  uvotel_tcp_init(&g->loop, &conn);
  assert_int_equal(uvotel_accept(srv, (uv_stream_t *)&conn), 0);
  uvotel_read_start((uv_stream_t *)&conn, alloc_cb, on_server_read);
  uvotel_scope_exit(&sc);
  uvotel_span_end(cs);
}
static void on_written(uv_write_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  say("in-write");
  uvotel_close((uv_handle_t *)&client, NULL);
}
static void on_connect(uv_connect_t *req, int status) {
  assert_int_equal(status, 0);
  say("in-connect");
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
  assert_logged_under(f, "in-connection", "listen-parent");
  assert_logged_under(f, "in-server-read", "conn-span");
  assert_logged_under(f, "in-connect", "connect-parent");
  assert_logged_under(f, "in-write", "connect-parent");
}

/* ---- OTLP/HTTP end to end ---- */

typedef struct seen_s {
  size_t n;
  int traced;
  uint8_t trace_id[16];
  char svc[64];
} seen_t;

static void on_log(void *arg, const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl,
                   const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl,
                   const Opentelemetry__Proto__Logs__V1__LogRecord *rec) {
  seen_t *s = arg;
  (void)sl;
  s->n++;
  if (rec->trace_id.len == 16) {
    s->traced++;
    memcpy(s->trace_id, rec->trace_id.data, 16);
  }
  for (size_t i = 0; i < rl->resource->n_attributes; i++) {
    if (strcmp(rl->resource->attributes[i]->key, "service.name") == 0) {
      snprintf(s->svc, sizeof s->svc, "%s", rl->resource->attributes[i]->value->string_value);
    }
  }
}

static uvotel_logger_provider_t *otlp_provider(fx_t *f, const char *url, int gzip,
                                               uvotel_log_exporter_t **exp, uint32_t queue) {
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.endpoint = url;
  o.use_env = 0;
  o.retry_initial_ms = 20;
  o.retry_max_ms = 50;
  o.timeout_ms = 300;
  o.max_queue_batches = 4;
  o.compression = gzip ? UVOTEL_OTLP_COMPRESSION_GZIP : UVOTEL_OTLP_COMPRESSION_NONE;
  assert_int_equal(uvotel_otlp_http_log_exporter_create(&o, exp), 0);
  uvotel_batch_log_processor_options_t bo = UVOTEL_BATCH_LOG_PROCESSOR_OPTIONS_INIT;
  bo.loop = &f->loop;
  bo.schedule_delay_ms = 10;
  bo.max_queue_size = queue;
  bo.max_export_batch_size = 100;
  bo.export_timeout_ms = 300;
  uvotel_log_processor_t *pr = uvotel_batch_log_processor_create(*exp, &bo);
  uvotel_logger_provider_options_t lo = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  lo.processors = &pr;
  lo.n_processors = 1;
  lo.tracer_provider = f->tp;
  return uvotel_logger_provider_create(&lo);
}

static void test_otlp_logs(void **state) {
  fx_t *f = *state;
  for (int gz = 0; gz < 2; gz++) {
    otlp_receiver_t *rx;
    assert_int_equal(otlp_receiver_start(&rx, 0, NULL), 0);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/logs", otlp_receiver_port(rx));
    uvotel_log_exporter_t *exp;
    uvotel_logger_provider_t *lp = otlp_provider(f, url, gz, &exp, 2048);
    uvotel_logger_t *l = uvotel_logger_get(lp, "otlp", "2");
    uvotel_span_t *s = uvotel_span_start(f->t, "request", NULL);
    uvotel_scope_t sc;
    uvotel_span_enter(s, &sc);
    for (int i = 0; i < 250; i++) uvotel_log(l, UVOTEL_SEVERITY_INFO, "line %d", i);
    uvotel_scope_exit(&sc);
    uvotel_span_end(s);
    uvotel_log(l, UVOTEL_SEVERITY_WARN, "untraced");
    assert_int_equal(uvotel_logger_provider_force_flush(lp, 5000), 0);
    assert_int_equal(otlp_receiver_wait_logs(rx, 251, 5000), 0);
    uvotel_log_counters_t lc;
    uvotel_logger_provider_counters(lp, &lc);
    assert_int_equal(lc.exported, 251); /* the receiver's answers, not "queued" */
    assert_int_equal(lc.failed + lc.dropped, 0);
    uvotel_otlp_http_stats_t st;
    assert_int_equal(uvotel_otlp_http_log_exporter_stats(exp, &st), 0);
    assert_int_equal(st.batches_failed, 0);
    assert_int_equal(uvotel_otlp_http_log_exporter_stats(NULL, &st), UVOTEL_EINVAL);
    seen_t seen;
    memset(&seen, 0, sizeof seen);
    otlp_receiver_foreach_log(rx, on_log, &seen);
    assert_int_equal(seen.n, 251);
    assert_int_equal(seen.traced, 250);
    uvotel_span_context_t ctx =
        uvotel_span_data_context(uvotel_memory_exporter_find(f->smem, "request"));
    assert_memory_equal(seen.trace_id, ctx.trace_id.bytes, 16);
    otlp_receiver_counts_t c = otlp_receiver_counts(rx);
    assert_int_equal(c.gzip > 0, gz);
    assert_int_equal(c.bad, 0);
    uvotel_logger_provider_free(lp);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    otlp_receiver_stop(rx);
    uvotel_memory_exporter_reset(f->smem);
  }
}

/* A collector that is not there: every record is counted (exported, failed or dropped), nothing
 * blocks, and memory stays bounded by the queue, the pool and the exporter's batch limit. */
static void test_otlp_dead_collector(void **state) {
  fx_t *f = *state;
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/logs", otlp_receiver_free_port());
  uvotel_log_exporter_t *exp;
  uvotel_logger_provider_t *lp = otlp_provider(f, url, 0, &exp, 256);
  uvotel_logger_t *l = uvotel_logger_get(lp, "dead", NULL);
  long peak = 0, base = counting_alloc_stats().live;
  uint64_t t0 = uv_hrtime();
  for (int i = 0; i < 20000; i++) {
    uvotel_log(l, UVOTEL_SEVERITY_ERROR, "lost %d", i);
    if (i % 100 == 0) {
      uv_run(&f->loop, UV_RUN_NOWAIT);
      long live = counting_alloc_stats().live - base;
      if (live > peak) peak = live;
    }
  }
  uint64_t emit_ms = (uv_hrtime() - t0) / 1000000;
  assert_true(emit_ms < 5000); /* never waited on the network */
  assert_true(peak < 64);      /* blocks: a few jobs and bodies, not one per record */
  (void)uvotel_logger_provider_shutdown(lp, 2000);
  uvotel_log_counters_t c;
  uvotel_logger_provider_counters(lp, &c);
  assert_int_equal(c.emitted, 20000);
  assert_true(c.dropped > 0);
  uvotel_otlp_http_stats_t st;
  assert_int_equal(uvotel_otlp_http_log_exporter_stats(exp, &st), 0);
  print_message(
      "dead collector: emitted %llu exported %llu failed %llu dropped %llu; exporter failed %llu "
      "dropped %llu; peak blocks %ld, %llu ms\n",
      (unsigned long long)c.emitted, (unsigned long long)c.exported, (unsigned long long)c.failed,
      (unsigned long long)c.dropped, (unsigned long long)st.spans_failed,
      (unsigned long long)st.spans_dropped, peak, (unsigned long long)emit_ms);
  assert_int_equal(st.spans_exported, 0);
  /* truthful: nothing counted exported; every record failed or dropped, counted once */
  assert_int_equal(c.exported, 0);
  assert_int_equal(c.failed + c.dropped, 20000);
  assert_true(st.transport_errors > 0);
  uvotel_logger_provider_free(lp);
  uv_run(&f->loop, UV_RUN_DEFAULT);
}

/* Each pool thread allocates its context scope stack once; warm them before the leak checks. */
static uv_barrier_t g_barrier;
static void warm_work(uv_work_t *req) {
  (void)req;
  uv_barrier_wait(&g_barrier);
}
static void warm_pool(void) {
  uv_loop_t loop;
  uv_work_t reqs[4];
  assert_int_equal(uv_loop_init(&loop), 0);
  uv_barrier_init(&g_barrier, 4);
  uvotel_scope_t sc;
  uvotel_span_t *wrap = uvotel_span_wrap_context(NULL);
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
      cmocka_unit_test_setup_teardown(test_timer, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_work, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_otlp_logs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_otlp_dead_collector, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
