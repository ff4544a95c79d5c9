/* uvotel_udp_sent (uvotel/uv_protocols.h): a datagram the program sent on a wrapped UDP
 * socket without libuv (kresd's sendmmsg) ends the span of the DNS query it answers, with its
 * response code, there and then; a query sent that way gets a CLIENT span that its answer
 * ends; anything else is left alone. uvotel_udp_send_failed: an answer that could not be sent
 * ends its query's span with the error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "counting_alloc.h"
#include "spans_fixture.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_protocols.h"
#include "uvotel/uv_spans.h"

static void enable(unsigned cats) {
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = cats;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
}

/* A string attribute of an exported span ("" when it has none). */
static const char *sattr(const uvotel_span_data_t *d, const char *key) {
  const char *v = attr_str(d, key);
  return v != NULL ? v : "";
}

typedef struct net_s {
  uv_udp_t server, client;
  uv_udp_send_t creq;
  int answered, closed;
  int sent_rc, again_rc, other_id_rc, not_dns_rc; /* uvotel_udp_sent's results */
  int exported_in_recv;                           /* the span was out before the callback ended */
  uvotel_span_t *current_in_recv;
} net_t;

static net_t g_net;

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_net.closed++;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  static char mem[2048];
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_server(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags) {
  (void)flags;
  if (nread <= 0 || addr == NULL) return;
  g_net.current_in_recv = uvotel_current_span();
  char reply[512];
  memcpy(reply, buf->base, (size_t)nread);
  reply[2] = (char)(reply[2] | 0x80);
  reply[3] = 3; /* NXDOMAIN */
  uv_os_fd_t fd;
  assert_int_equal(uv_fileno((const uv_handle_t *)h, &fd), 0);
  assert_int_equal(sendto(fd, reply, (size_t)nread, 0, addr, sizeof(struct sockaddr_in)), nread);
  /* the header in two pieces, as a sendmsg with two iovecs would carry it */
  uv_buf_t b[2] = {uv_buf_init(reply, 3), uv_buf_init(reply + 3, (unsigned)nread - 3)};
  assert_null(uvotel_memory_exporter_find(g_fx.mem, "dns query A"));
  g_net.sent_rc = uvotel_udp_sent(h, b, 2, addr);
  g_net.exported_in_recv = uvotel_memory_exporter_find(g_fx.mem, "dns query A") != NULL;
  g_net.again_rc = uvotel_udp_sent(h, b, 2, addr); /* answered already */
  reply[1] = (char)(reply[1] ^ 0x55);
  uv_buf_t other = uv_buf_init(reply, (unsigned)nread);
  g_net.other_id_rc = uvotel_udp_sent(h, &other, 1, addr);
  uv_buf_t junk = uv_buf_init("not dns", 7);
  g_net.not_dns_rc = uvotel_udp_sent(h, &junk, 1, addr);
}

static void on_client(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                      unsigned flags) {
  (void)h;
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_net.answered++;
  uv_close((uv_handle_t *)&g_net.client, on_closed);
  uvotel_close((uv_handle_t *)&g_net.server, on_closed);
}

static void start_pair(fx_t *fx, struct sockaddr_in *a) {
  memset(&g_net, 0, sizeof g_net);
  g_net.sent_rc = g_net.again_rc = g_net.other_id_rc = g_net.not_dns_rc = -100;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, a), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_net.server), 0);
  assert_int_equal(uv_udp_bind(&g_net.server, (const struct sockaddr *)a, 0), 0);
  int len = sizeof *a;
  assert_int_equal(uv_udp_getsockname(&g_net.server, (struct sockaddr *)a, &len), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_net.server, on_alloc, on_server), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_net.client), 0);
  assert_int_equal(uv_udp_recv_start(&g_net.client, on_alloc, on_client), 0);
}

static void send_query(const struct sockaddr_in *a) {
  static char q[] =
      "\x4b\x1d\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "\x04gone\x07"
      "example\x00\x00\x01\x00\x01";
  uv_buf_t b = uv_buf_init(q, sizeof q - 1);
  assert_int_equal(uv_udp_send(&g_net.creq, &g_net.client, &b, 1, (const struct sockaddr *)a, NULL),
                   0);
}

static void test_bad_input(void **state) {
  fx_t *fx = *state;
  uv_udp_t h;
  assert_int_equal(uv_udp_init(&fx->loop, &h), 0);
  uv_buf_t b = uv_buf_init("x", 1);
  assert_int_equal(uvotel_udp_sent(NULL, &b, 1, NULL), UV_EINVAL);
  assert_int_equal(uvotel_udp_sent(&h, NULL, 1, NULL), UV_EINVAL);
  assert_int_equal(uvotel_udp_sent(&h, NULL, 0, NULL), 0); /* nothing sent: nothing to match */
  assert_int_equal(uvotel_udp_sent(&h, &b, 1, NULL), 0);   /* not a tracked handle */
  assert_int_equal(uvotel_udp_send_failed(NULL, &b, 1, NULL, UV_EIO), UV_EINVAL);
  assert_int_equal(uvotel_udp_send_failed(&h, NULL, 1, NULL, UV_EIO), UV_EINVAL);
  assert_int_equal(uvotel_udp_send_failed(&h, &b, 1, NULL, 0), UV_EINVAL); /* not an error */
  assert_int_equal(uvotel_udp_send_failed(&h, NULL, 0, NULL, UV_EIO), 0);
  assert_int_equal(uvotel_udp_send_failed(&h, &b, 1, NULL, UV_EIO), 0); /* not tracked */
  uv_close((uv_handle_t *)&h, NULL);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
}

static void test_answer_ends_its_span(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_DNS);
  struct sockaddr_in a;
  start_pair(fx, &a);
  send_query(&a);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_net.answered, 1);
  assert_int_equal(g_net.closed, 2);
  assert_int_equal(g_net.sent_rc, 1);
  assert_int_equal(g_net.exported_in_recv, 1); /* ended by the answer, not by the close */
  assert_int_equal(g_net.again_rc, 0);
  assert_int_equal(g_net.other_id_rc, 0);
  assert_int_equal(g_net.not_dns_rc, 0);
  assert_non_null(g_net.current_in_recv);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
  assert_string_equal(sattr(d, "dns.question.name"), "gone.example");
  assert_string_equal(sattr(d, "error.type"), "NXDOMAIN");
}

/* An answer the program failed to send without libuv (sendto of a datagram over the IPv4
 * maximum: EMSGSIZE), reported with uvotel_udp_send_failed: the query's SERVER span ends with
 * that error. */
static int g_failed_rc;
static char g_big[70000];

static void on_server_fails(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                            const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread <= 0 || addr == NULL) return;
  memset(g_big, 0, sizeof g_big);
  memcpy(g_big, buf->base, (size_t)nread);
  g_big[2] = (char)(g_big[2] | 0x80);
  uv_os_fd_t fd;
  assert_int_equal(uv_fileno((const uv_handle_t *)h, &fd), 0);
  assert_int_equal(sendto(fd, g_big, sizeof g_big, 0, addr, sizeof(struct sockaddr_in)), -1);
  assert_int_equal(errno, EMSGSIZE);
  uv_buf_t b = uv_buf_init(g_big, sizeof g_big);
  assert_int_equal(uvotel_udp_send_failed(h, &b, 1, addr, UV_EAGAIN), 0); /* may be retried */
  assert_null(uvotel_memory_exporter_find(g_fx.mem, "dns query A"));
  g_failed_rc = uvotel_udp_send_failed(h, &b, 1, addr, -errno);
  uv_close((uv_handle_t *)&g_net.client, on_closed);
  uvotel_close((uv_handle_t *)&g_net.server, on_closed);
}

static void test_failed_answer_ends_its_span_with_the_error(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_DNS);
  struct sockaddr_in a;
  start_pair(fx, &a);
  assert_int_equal(uv_udp_recv_stop(&g_net.server), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_net.server, on_alloc, on_server_fails), 0);
  g_failed_rc = -100;
  send_query(&a);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_net.closed, 2);
  assert_int_equal(g_failed_rc, 1);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query A");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_SERVER);
  assert_string_equal(sattr(d, "error.type"), "EMSGSIZE");
  assert_int_equal(uvotel_span_data_status(d, NULL), UVOTEL_STATUS_ERROR);
}

static void test_off_without_dns(void **state) {
  fx_t *fx = *state;
  enable(UVOTEL_INSTRUMENT_NET); /* no dns: no query spans to end */
  struct sockaddr_in a;
  start_pair(fx, &a);
  send_query(&a);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_net.answered, 1);
  assert_int_equal(g_net.sent_rc, 0);
  assert_null(uvotel_memory_exporter_find(fx->mem, "dns query A"));
}

/* ---- a query the program sends itself: a CLIENT span, ended by its answer ---- */

typedef struct cli_s {
  uv_udp_t server, client;
  uv_udp_send_t sreq;
  char reply[512];
  int sent_rc, answered, closed;
} cli_t;

static cli_t g_cli;

static void cli_closed(uv_handle_t *h) {
  (void)h;
  g_cli.closed++;
}

static void cli_server(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags) {
  (void)flags;
  if (nread <= 0 || addr == NULL) return;
  memcpy(g_cli.reply, buf->base, (size_t)nread);
  g_cli.reply[2] = (char)(g_cli.reply[2] | 0x80);
  g_cli.reply[3] = 2; /* SERVFAIL */
  uv_buf_t b = uv_buf_init(g_cli.reply, (unsigned)nread);
  assert_int_equal(uv_udp_send(&g_cli.sreq, h, &b, 1, addr, NULL), 0); /* plain libuv */
}

static void cli_client(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                       unsigned flags) {
  (void)h;
  (void)buf;
  (void)addr;
  (void)flags;
  if (nread <= 0) return;
  g_cli.answered++;
  uvotel_close((uv_handle_t *)&g_cli.client, cli_closed);
  uv_close((uv_handle_t *)&g_cli.server, cli_closed);
}

static void test_query_sent_outside_libuv(void **state) {
  fx_t *fx = *state;
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_fx.tracer;
  o.categories = UVOTEL_INSTRUMENT_DNS;
  o.flags = UVOTEL_AUTO_SPANS_ROOTS; /* no parent here */
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  memset(&g_cli, 0, sizeof g_cli);
  struct sockaddr_in a, c;
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
  assert_int_equal(uv_udp_init(&fx->loop, &g_cli.server), 0);
  assert_int_equal(uv_udp_bind(&g_cli.server, (const struct sockaddr *)&a, 0), 0);
  int len = sizeof a;
  assert_int_equal(uv_udp_getsockname(&g_cli.server, (struct sockaddr *)&a, &len), 0);
  assert_int_equal(uv_udp_recv_start(&g_cli.server, on_alloc, cli_server), 0);
  assert_int_equal(uvotel_udp_init(&fx->loop, &g_cli.client), 0);
  assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &c), 0);
  assert_int_equal(uv_udp_bind(&g_cli.client, (const struct sockaddr *)&c, 0), 0);
  assert_int_equal(uvotel_udp_recv_start(&g_cli.client, on_alloc, cli_client), 0);
  static char q[] =
      "\x5e\x11\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "\x02up\x07"
      "example\x00\x00\x1c\x00\x01";
  uv_os_fd_t fd;
  assert_int_equal(uv_fileno((const uv_handle_t *)&g_cli.client, &fd), 0);
  assert_int_equal(sendto(fd, q, sizeof q - 1, 0, (const struct sockaddr *)&a, sizeof a),
                   (ssize_t)(sizeof q - 1));
  uv_buf_t b = uv_buf_init(q, sizeof q - 1);
  assert_int_equal(uvotel_udp_sent(&g_cli.client, &b, 1, (const struct sockaddr *)&a), 0);
  assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_cli.answered, 1);
  assert_int_equal(g_cli.closed, 2);
  const uvotel_span_data_t *d = uvotel_memory_exporter_find(fx->mem, "dns query AAAA");
  assert_non_null(d);
  assert_int_equal(uvotel_span_data_kind(d), UVOTEL_SPAN_KIND_CLIENT);
  assert_string_equal(sattr(d, "dns.question.name"), "up.example");
  assert_string_equal(sattr(d, "error.type"), "SERVFAIL"); /* ended by the answer */
}

int main(void) {
  counting_alloc_install();
  (void)uvotel_span_var(); /* created once per process, on first use: not a leak */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_answer_ends_its_span, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_answer_ends_its_span_with_the_error, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_off_without_dns, setup, teardown),
      cmocka_unit_test_setup_teardown(test_query_sent_outside_libuv, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
