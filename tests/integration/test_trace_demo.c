/* examples/trace-demo: its spans carry the current semantic-convention names (dns.question.name
 * and dns.answers, server.* and network.peer.* on the CLIENT span, client.* on the SERVER span),
 * and none of the deprecated net.* ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "otlp_json.h"
#include "run_example.h"

#define TMPDIR UVOTEL_BINARY_DIR "/test_trace_demo.d"
#define SPANS TMPDIR "/spans.jsonl"

static json_t *g_spans;

static json_t *find(const char *name) {
  size_t i;
  json_t *sp;
  json_array_foreach(g_spans, i, sp) {
    if (strcmp(json_string_value(json_object_get(sp, "name")), name) == 0) return sp;
  }
  return NULL;
}

static int setup(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(SPANS);
  unsetenv("OTEL_TRACES_EXPORTER");
  unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  setenv("OTEL_EXPORTER_FILE_PATH", SPANS, 1);
  int status;
  char *out = run_example("trace-demo/trace-demo", "", &status);
  assert_int_equal(status, 0);
  assert_non_null(strstr(out, "0 dropped, 0 failed"));
  free(out);
  g_spans = otlp_json_load(SPANS);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  json_decref(g_spans);
  return 0;
}

static void test_dns_span(void **state) {
  (void)state;
  json_t *dns = find("dns.lookup localhost");
  assert_non_null(dns);
  assert_string_equal(otlp_json_attr_str(dns, "dns.question.name"), "localhost");
  json_t *answers =
      json_object_get(json_object_get(otlp_json_attr(dns, "dns.answers"), "arrayValue"), "values");
  assert_int_equal(json_array_size(answers), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(answers, 0), "stringValue")),
                      "127.0.0.1");
}

static void test_tcp_spans(void **state) {
  (void)state;
  json_t *client = find("tcp.request ping");
  assert_non_null(client);
  assert_string_equal(otlp_json_attr_str(client, "server.address"), "127.0.0.1");
  long long port = otlp_json_attr_int(client, "server.port");
  assert_true(port > 0 && port < 65536);
  assert_string_equal(otlp_json_attr_str(client, "network.peer.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(client, "network.peer.port"), port);
  assert_string_equal(otlp_json_attr_str(client, "network.transport"), "tcp");
  json_t *server = find("tcp.serve ping");
  assert_non_null(server);
  assert_string_equal(otlp_json_attr_str(server, "client.address"), "127.0.0.1");
  assert_true(otlp_json_attr_int(server, "client.port") > 0);
}

static void test_no_deprecated_names(void **state) {
  (void)state;
  size_t i, j;
  json_t *sp, *a;
  json_array_foreach(g_spans, i, sp) {
    json_array_foreach(json_object_get(sp, "attributes"), j, a) {
      const char *key = json_string_value(json_object_get(a, "key"));
      if (strncmp(key, "net.", 4) == 0) fail_msg("%s has deprecated %s", "span", key);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dns_span),
      cmocka_unit_test(test_tcp_spans),
      cmocka_unit_test(test_no_deprecated_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
