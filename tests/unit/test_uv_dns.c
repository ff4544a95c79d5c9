/* DNS wrappers: GETADDRINFOREQWRAP and GETNAMEINFOREQWRAP (loopback names only). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <netdb.h>
#include <string.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static const struct addrinfo g_hints4 = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};

static void lookup_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  char ip[64] = "";
  if (status == 0) {
    uv_ip4_name((struct sockaddr_in *)res->ai_addr, ip, sizeof ip);
  }
  trace_log_line(&g_log, "lookup cb %s %s ctx=%s", status ? uv_err_name(status) : "ok", ip,
                 (const char *)uvotel_var_get(g_var));
  assert_ptr_equal(uvotel_execution_async_resource(), req);
  uv_freeaddrinfo(res);
}

/* dns.lookup('localhost', {family: 4}) of tests/node/dns_lookup.js, without Node's DNSCHANNEL */
static void test_lookup_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_getaddrinfo_t req;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "A", &sc), 0);
  assert_int_equal(uvotel_getaddrinfo(g_loop, &req, lookup_cb, "localhost", NULL, &g_hints4), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_uv_tracked(), 1); /* in flight */
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 GETADDRINFOREQWRAP 1\n"
               "before 2\n"
               "lookup cb ok 127.0.0.1 ctx=A\n"
               "after 2\n"
               "destroy 2\n");
}

static void test_lookup_async_error(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_getaddrinfo_t req;
  struct addrinfo hints = g_hints4;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  assert_int_equal(uvotel_getaddrinfo(g_loop, &req, lookup_cb, "127.0.0.1", "not-a-port", &hints),
                   0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 GETADDRINFOREQWRAP 1\n"
               "before 2\n"
               "lookup cb EAI_NONAME  ctx=(null)\n"
               "after 2\n"
               "destroy 2\n");
}

static void test_sync_and_failing_calls(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_getaddrinfo_t req;
  /* synchronous mode passes straight through */
  assert_int_equal(uvotel_getaddrinfo(g_loop, &req, NULL, "127.0.0.1", NULL, &g_hints4), 0);
  assert_non_null(req.addrinfo);
  uv_freeaddrinfo(req.addrinfo);
  /* libuv's own errors, nothing raised */
  assert_int_equal(uvotel_getaddrinfo(g_loop, &req, lookup_cb, NULL, NULL, NULL), UV_EINVAL);
  assert_int_equal(uvotel_getaddrinfo(g_loop, NULL, lookup_cb, "localhost", NULL, NULL), UV_EINVAL);
  uv_getnameinfo_t nreq;
  assert_int_equal(uvotel_getnameinfo(g_loop, &nreq, NULL, NULL, 0), UV_EINVAL);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 80, &sa);
  sa.sin_family = 12345;
  assert_int_equal(uvotel_getnameinfo(g_loop, NULL, NULL, (struct sockaddr *)&sa, 0), UV_EINVAL);
  assert_int_equal(uvotel_uv_tracked(), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_string_equal(trace_log_text(&g_log), "");
}

static void nameinfo_cb(uv_getnameinfo_t *req, int status, const char *host, const char *svc) {
  (void)req, (void)svc;
  trace_log_line(&g_log, "nameinfo cb %d %s ctx=%s", status, host,
                 (const char *)uvotel_var_get(g_var));
}

static void test_nameinfo_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_getnameinfo_t req;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 80, &sa);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "N", &sc), 0);
  assert_int_equal(
      uvotel_getnameinfo(g_loop, &req, nameinfo_cb, (struct sockaddr *)&sa, NI_NUMERICHOST), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 GETNAMEINFOREQWRAP 1\n"
               "before 2\n"
               "nameinfo cb 0 127.0.0.1 ctx=N\n"
               "after 2\n"
               "destroy 2\n");
}

/* A lookup started inside another lookup's callback is triggered by it. */
static uv_getaddrinfo_t g_inner;
static void outer_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  assert_int_equal(status, 0);
  uv_freeaddrinfo(res);
  trace_log_line(&g_log, "outer cb");
  assert_int_equal(uvotel_getaddrinfo(g_loop, &g_inner, lookup_cb, "localhost", NULL, &g_hints4),
                   0);
}

static void test_nested_trigger(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_getaddrinfo_t req;
  assert_int_equal(uvotel_getaddrinfo(g_loop, &req, outer_cb, "localhost", NULL, &g_hints4), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 GETADDRINFOREQWRAP 1\n"
               "before 2\n"
               "outer cb\n"
               "init 3 GETADDRINFOREQWRAP 2\n"
               "after 2\n"
               "destroy 2\n"
               "before 3\n"
               "lookup cb ok 127.0.0.1 ctx=(null)\n"
               "after 3\n"
               "destroy 3\n");
}

static void count_walk(uv_handle_t *h, void *arg) {
  (void)h;
  ++*(int *)arg;
}

/* uvotel_uv_loop_close (what uv_redirect.h maps uv_loop_close onto) */
static void test_uv_loop_close_wrapper(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_loop_t l, never;
  assert_int_equal(uv_loop_init(&l), 0);
  uv_getaddrinfo_t req;
  assert_int_equal(uvotel_getaddrinfo(&l, &req, lookup_cb, "127.0.0.1", NULL, &g_hints4), 0);
  assert_int_equal(uv_run(&l, UV_RUN_DEFAULT), 0);
  /* uvotel attached its internal handles to the loop, invisible to the program */
  int walked = 0;
  uv_walk(&l, count_walk, &walked);
  assert_int_equal(walked, 0);
  assert_int_equal(uv_loop_alive(&l), 0);
  assert_int_equal(uvotel_uv_loop_close(&l), 0);
  /* a loop uvotel never saw closes as with uv_loop_close */
  assert_int_equal(uv_loop_init(&never), 0);
  assert_int_equal(uvotel_uv_loop_close(&never), 0);
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("dns", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lookup_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lookup_async_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sync_and_failing_calls, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nameinfo_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_nested_trigger, setup, teardown),
      cmocka_unit_test_setup_teardown(test_uv_loop_close_wrapper, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
