/* OTLP exporter configuration: options over OTEL_EXPORTER_OTLP_* variables, header lists with
 * percent-decoding, Retry-After parsing, gzip, and every malformed input's error code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "counting_alloc.h"
#include "otlp_internal.h"

static const char *const k_vars[] = {"OTEL_EXPORTER_OTLP_ENDPOINT",
                                     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                                     "OTEL_EXPORTER_OTLP_HEADERS",
                                     "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                                     "OTEL_EXPORTER_OTLP_TIMEOUT",
                                     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                                     "OTEL_EXPORTER_OTLP_COMPRESSION",
                                     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                                     "OTEL_EXPORTER_OTLP_CERTIFICATE",
                                     "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                                     "OTEL_EXPORTER_OTLP_CLIENT_KEY",
                                     "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                                     "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
                                     "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                                     "OTEL_EXPORTER_OTLP_INSECURE",
                                     "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
                                     "OTEL_EXPORTER_OTLP_PROTOCOL",
                                     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"};

static long g_live0;
static int g_warns;
static char g_last[512]; /* the last message at warn or above */

static void diag_cb(void *arg, uvotel_otlp_diag_level_t level, const char *msg) {
  (void)arg;
  if (level >= UVOTEL_OTLP_DIAG_WARN) {
    g_warns++;
    snprintf(g_last, sizeof g_last, "%s", msg);
  }
}

static int setup(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof k_vars / sizeof k_vars[0]; i++) unsetenv(k_vars[i]);
  g_live0 = counting_alloc_stats().live;
  g_warns = 0;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  assert_int_equal(counting_alloc_stats().live, g_live0);
  return 0;
}

static uvotel_otlp_http_options_t env_opts(void) {
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  o.diag = diag_cb;
  return o;
}

static void test_defaults(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  assert_int_equal(uvotel__otlp_config_init(&c, NULL), 0);
  assert_string_equal(c.url, "http://localhost:4318/v1/traces");
  assert_int_equal(c.timeout_ms, 10000);
  assert_int_equal(c.gzip, 0);
  assert_int_equal(c.n_headers, 0);
  assert_null(c.ca_file);
  assert_int_equal(c.max_concurrent, 2);
  assert_int_equal(c.max_queue_batches, 64);
  assert_int_equal(c.retry_initial_ms, 1000);
  assert_int_equal(c.retry_max_ms, 5000);
  uvotel__otlp_config_free(&c);
}

static void test_env_endpoint_appends_path(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "http://collector:4318/v1/traces");
  uvotel__otlp_config_free(&c);
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/base", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "https://collector:4318/base/v1/traces");
  uvotel__otlp_config_free(&c);
  /* the signal-specific variable is used as is and wins */
  setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://other:9999/custom", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "http://other:9999/custom");
  uvotel__otlp_config_free(&c);
  /* the option wins over both */
  o.endpoint = "http://127.0.0.1:1/x";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "http://127.0.0.1:1/x");
  uvotel__otlp_config_free(&c);
  /* use_env = 0 ignores the environment */
  o.endpoint = NULL;
  o.use_env = 0;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "http://localhost:4318/v1/traces");
  uvotel__otlp_config_free(&c);
}

static void test_scheme_less_endpoint_and_insecure(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "https://collector:4318/v1/traces");
  uvotel__otlp_config_free(&c);
  setenv("OTEL_EXPORTER_OTLP_INSECURE", "true", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "http://collector:4318/v1/traces");
  uvotel__otlp_config_free(&c);
  o.insecure = -1;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_string_equal(c.url, "https://collector:4318/v1/traces");
  uvotel__otlp_config_free(&c);
  setenv("OTEL_EXPORTER_OTLP_INSECURE", "maybe", 1);
  o.insecure = 0;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(g_warns, 1);
  uvotel__otlp_config_free(&c);
  /* an unknown scheme is refused, in an option and in the environment: never replaced by the
   * default endpoint */
  o.endpoint = "ftp://x/v1/traces";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o.endpoint = "";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o.endpoint = NULL;
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  assert_non_null(strstr(g_last, "OTEL_EXPORTER_OTLP_ENDPOINT=ftp://x"));
  setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "grpc://collector:4317", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  assert_non_null(strstr(g_last, "OTEL_EXPORTER_OTLP_ENDPOINT=grpc://collector:4317"));
}

/* grpc and unknown protocols are refused with the variable and value named; http/json is
 * accepted. */
static void test_protocols(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_ENOTSUP);
  assert_non_null(strstr(g_last, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"));
  setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  assert_non_null(strstr(g_last, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=thrift"));
  setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.json, 1);
  uvotel__otlp_config_free(&c);
  unsetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.json, 0);
  uvotel__otlp_config_free(&c);
  o.protocol = "http/json"; /* the option wins */
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.json, 1);
  uvotel__otlp_config_free(&c);
  o.protocol = "grpc";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_ENOTSUP);
}

static void test_env_values(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", 1);
  setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "GZip", 1);
  setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", "/etc/ca.pem", 1);
  setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", "/etc/key.pem", 1);
  setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", "/etc/cert.pem", 1);
  setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/etc/general.pem", 1);
  setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf", 1);
  setenv("OTEL_EXPORTER_OTLP_HEADERS", "a=1, b = two%20words ,,c=%3D", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.timeout_ms, 2500);
  assert_int_equal(c.gzip, 1);
  assert_string_equal(c.ca_file, "/etc/ca.pem");
  assert_string_equal(c.client_key, "/etc/key.pem");
  assert_string_equal(c.client_cert, "/etc/cert.pem");
  assert_int_equal(c.n_headers, 3);
  assert_string_equal(c.headers[0], "a: 1");
  assert_string_equal(c.headers[1], "b: two words");
  assert_string_equal(c.headers[2], "c: =");
  assert_int_equal(g_warns, 0);
  uvotel__otlp_config_free(&c);
  /* the traces variables win; options win over them */
  setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700", 1);
  setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none", 1);
  setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "only=this", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.timeout_ms, 700);
  assert_int_equal(c.gzip, 0);
  assert_int_equal(c.n_headers, 1);
  assert_string_equal(c.headers[0], "only: this");
  uvotel__otlp_config_free(&c);
  o.timeout_ms = 42;
  o.compression = UVOTEL_OTLP_COMPRESSION_GZIP;
  o.headers = "x=y";
  o.certificate = "/opt/ca";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.timeout_ms, 42);
  assert_int_equal(c.gzip, 1);
  assert_string_equal(c.headers[0], "x: y");
  assert_string_equal(c.ca_file, "/opt/ca");
  uvotel__otlp_config_free(&c);
}

static void test_bad_env_values_warn_and_default(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", 1);
  setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", 1);
  setenv("OTEL_EXPORTER_OTLP_HEADERS", "novalue", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(c.timeout_ms, 10000);
  assert_int_equal(c.gzip, 0);
  assert_int_equal(c.n_headers, 0);
  assert_int_equal(g_warns, 3);
  uvotel__otlp_config_free(&c);
}

/* Without the old per-exporter callback, the exporter's messages go to the SDK's one
 * diagnostics API (uvotel/diag.h), with its level enum. */
static int g_sdk_n, g_sdk_level;
static char g_sdk_msg[512];
static void sdk_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)code, (void)arg;
  g_sdk_n++;
  g_sdk_level = (int)level;
  snprintf(g_sdk_msg, sizeof g_sdk_msg, "%s", msg);
}

static void test_diag_goes_to_the_sdk(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = UVOTEL_OTLP_HTTP_OPTIONS_INIT; /* diag NULL */
  g_sdk_n = 0;
  uvotel_diag_set_handler(sdk_cb, NULL, UVOTEL_DIAG_WARN);
  setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd", 1);
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(g_sdk_n, 1);
  assert_int_equal(g_sdk_level, UVOTEL_DIAG_WARN);
  assert_non_null(strstr(g_sdk_msg, "OTEL_EXPORTER_OTLP_COMPRESSION=zstd"));
  uvotel__otlp_log(&c, UVOTEL_DIAG_DEBUG, "filtered by the handler's level");
  assert_int_equal(g_sdk_n, 1);
  uvotel__otlp_config_free(&c);
  /* with the old callback it gets the message (reverse-order levels), the SDK does not */
  o.diag = diag_cb;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), 0);
  assert_int_equal(g_warns, 1);
  assert_int_equal(g_sdk_n, 1);
  uvotel__otlp_config_free(&c);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_NONE);
}

static void test_bad_options(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  uvotel_otlp_http_options_t o = env_opts();
  assert_int_equal(uvotel__otlp_config_init(NULL, &o), UVOTEL_EINVAL);
  o.compression = (uvotel_otlp_compression_t)7;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o = env_opts();
  o.insecure = 3;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o = env_opts();
  o.max_concurrent = 65;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o = env_opts();
  o.retry_initial_ms = 10;
  o.retry_max_ms = 5;
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EINVAL);
  o = env_opts();
  o.headers = "a=1,broken";
  assert_int_equal(uvotel__otlp_config_init(&c, &o), UVOTEL_EPARSE);
}

static void test_parse_headers_malformed(void **state) {
  (void)state;
  uvotel__otlp_config_t c;
  memset(&c, 0, sizeof c);
  const char *bad[] = {"=v",     "k",       "k=%4",  "k=%zz", "k=a%0Ab",
                       "k%00=v", "k=a%00b", "a b=c", "k:x=1", " =x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(uvotel__otlp_parse_headers(&c, bad[i]), UVOTEL_EPARSE);
    uvotel__otlp_config_free(&c);
  }
  assert_int_equal(uvotel__otlp_parse_headers(NULL, "a=b"), UVOTEL_EINVAL);
  assert_int_equal(uvotel__otlp_parse_headers(&c, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel__otlp_parse_headers(&c, ""), 0);
  assert_int_equal(uvotel__otlp_parse_headers(&c, " , ,"), 0);
  assert_int_equal(c.n_headers, 0);
  assert_int_equal(uvotel__otlp_parse_headers(&c, "k="), 0); /* empty value is allowed */
  assert_string_equal(c.headers[0], "k: ");
  uvotel__otlp_config_free(&c);
}

static void test_retry_after(void **state) {
  (void)state;
  assert_int_equal(uvotel__otlp_parse_retry_after("1", 0), 1000);
  assert_int_equal(uvotel__otlp_parse_retry_after(" 120\r\n", 0), 120000);
  assert_int_equal(uvotel__otlp_parse_retry_after("0", 0), 0);
  /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
  assert_int_equal(uvotel__otlp_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770),
                   7000);
  assert_int_equal(uvotel__otlp_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111790), 0);
  assert_int_equal(uvotel__otlp_parse_retry_after("Thu, 01 Jan 2026 00:00:01 GMT", 1767225600),
                   1000);
  assert_int_equal(uvotel__otlp_parse_retry_after(NULL, 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("soon", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("-5", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("12x", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("99999999999999", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("Sun, 06 Foo 1994 08:49:37 GMT", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("Sun, 06 Nov 1994 08:49:37 PST", 0), -1);
  assert_int_equal(uvotel__otlp_parse_retry_after("Sun 06 Nov 1994 08:49:37 GMT", 0), -1);
}

static void test_gzip_roundtrip(void **state) {
  (void)state;
  uint8_t in[4096];
  for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i % 7);
  uint8_t *z;
  size_t zn;
  assert_int_equal(uvotel__otlp_gzip(in, sizeof in, &z, &zn), 0);
  assert_true(zn < sizeof in);
  assert_int_equal(z[0], 0x1f); /* gzip magic */
  assert_int_equal(z[1], 0x8b);
  uint8_t out[4096];
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  assert_int_equal(inflateInit2(&zs, 31), Z_OK);
  zs.next_in = z;
  zs.avail_in = (uInt)zn;
  zs.next_out = out;
  zs.avail_out = sizeof out;
  assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
  assert_int_equal(zs.total_out, sizeof in);
  inflateEnd(&zs);
  assert_memory_equal(in, out, sizeof in);
  uvotel_free(z);
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel__otlp_gzip(in, sizeof in, &z, &zn), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_endpoint_appends_path, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scheme_less_endpoint_and_insecure, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_protocols, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_env_values_warn_and_default, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_options, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diag_goes_to_the_sdk, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_headers_malformed, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry_after, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gzip_roundtrip, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
