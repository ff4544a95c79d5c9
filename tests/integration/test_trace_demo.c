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

static json_t *attr(json_t *sp, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(sp, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) {
      return json_object_get(a, "value");
    }
  }
  return NULL;
}

static const char *attr_str(json_t *sp, const char *key) {
  json_t *v = attr(sp, key);
  const char *s = v != NULL ? json_string_value(json_object_get(v, "stringValue")) : NULL;
  return s != NULL ? s : "(unset)";
}

static long long attr_int(json_t *sp, const char *key) {
  json_t *v = attr(sp, key);
  json_t *i = v != NULL ? json_object_get(v, "intValue") : NULL;
  if (i == NULL) return -1;
  return json_is_string(i) ? atoll(json_string_value(i)) : (long long)json_integer_value(i);
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
  g_spans = json_array();
  FILE *f = fopen(SPANS, "r");
  assert_non_null(f);
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    assert_non_null(req);
    size_t i, j, k;
    json_t *rs, *ss, *sp;
    json_array_foreach(json_object_get(req, "resourceSpans"), i, rs) {
      json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
        json_array_foreach(json_object_get(ss, "spans"), k, sp) json_array_append(g_spans, sp);
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
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
  assert_string_equal(attr_str(dns, "dns.question.name"), "localhost");
  json_t *answers =
      json_object_get(json_object_get(attr(dns, "dns.answers"), "arrayValue"), "values");
  assert_int_equal(json_array_size(answers), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(answers, 0), "stringValue")),
                      "127.0.0.1");
}

static void test_tcp_spans(void **state) {
  (void)state;
  json_t *client = find("tcp.request ping");
  assert_non_null(client);
  assert_string_equal(attr_str(client, "server.address"), "127.0.0.1");
  long long port = attr_int(client, "server.port");
  assert_true(port > 0 && port < 65536);
  assert_string_equal(attr_str(client, "network.peer.address"), "127.0.0.1");
  assert_int_equal(attr_int(client, "network.peer.port"), port);
  assert_string_equal(attr_str(client, "network.transport"), "tcp");
  json_t *server = find("tcp.serve ping");
  assert_non_null(server);
  assert_string_equal(attr_str(server, "client.address"), "127.0.0.1");
  assert_true(attr_int(server, "client.port") > 0);
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
