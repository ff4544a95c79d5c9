/* The environment-value parser (uvotel/env.h) and the diagnostics API (uvotel/diag.h): every
 * rule, every bad input, and the three drifts between the old copies (issue 13, observation 10):
 * OTEL_PROPAGATORS=TraceContext, %00, and "1" as a boolean. */
#include <locale.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "counting_alloc.h"
#include "uvotel.h"

/* ---- diagnostics capture ---- */

static char g_last[512];
static int g_n, g_last_level, g_last_code;

static void diag_cb(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)arg;
  g_n++;
  g_last_level = (int)level;
  g_last_code = code;
  snprintf(g_last, sizeof g_last, "%s", msg);
}

static long g_live0;

static int setup(void **state) {
  (void)state;
  g_n = 0;
  g_last[0] = '\0';
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  g_live0 = counting_alloc_stats().live;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_NONE);
  assert_int_equal(counting_alloc_stats().live, g_live0);
  return 0;
}

/* ---- lookup ---- */

static void test_get_empty_is_unset(void **state) {
  (void)state;
  unsetenv("UVOTEL_TEST_V");
  assert_null(uvotel_env_get("UVOTEL_TEST_V"));
  setenv("UVOTEL_TEST_V", "", 1);
  assert_null(uvotel_env_get("UVOTEL_TEST_V"));
  setenv("UVOTEL_TEST_V", " ", 1);
  assert_string_equal(uvotel_env_get("UVOTEL_TEST_V"), " ");
  assert_null(uvotel_env_get(NULL));
  unsetenv("UVOTEL_TEST_V");
}

/* ---- booleans ---- */

static void test_parse_bool(void **state) {
  (void)state;
  static const char *const t[] = {"true", "TRUE", "True", " true\t", "tRuE"};
  static const char *const f[] = {"false", "FALSE", " False "};
  static const char *const bad[] = {"1", "0", "yes", "no", "on", "t", "truee", "", " ", "true,"};
  int v;
  for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
    v = 7;
    assert_int_equal(uvotel_env_parse_bool(t[i], &v), 0);
    assert_int_equal(v, 1);
  }
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    v = 7;
    assert_int_equal(uvotel_env_parse_bool(f[i], &v), 0);
    assert_int_equal(v, 0);
  }
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    v = 7;
    assert_int_equal(uvotel_env_parse_bool(bad[i], &v), UVOTEL_EPARSE);
    assert_int_equal(v, 7);
  }
  assert_int_equal(uvotel_env_parse_bool(NULL, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_parse_bool("true", NULL), UVOTEL_EINVAL);
  assert_int_equal(g_n, 0); /* parsers say nothing */
}

/* Drift 3: only the preload accepted "1" as true. The specification forbids it: one rule now,
 * "1" is refused with a warning and the default (false) kept, wherever a boolean is read. */
static void test_env_bool_one_is_not_true(void **state) {
  (void)state;
  int v = 0;
  setenv("UVOTEL_TEST_B", "1", 1);
  assert_int_equal(uvotel_env_bool("UVOTEL_TEST_B", &v), UVOTEL_EPARSE);
  assert_int_equal(v, 0);
  assert_int_equal(g_n, 1);
  assert_int_equal(g_last_level, UVOTEL_DIAG_WARN);
  assert_non_null(strstr(g_last, "UVOTEL_TEST_B=\"1\""));
  assert_non_null(strstr(g_last, "using the default"));
  setenv("UVOTEL_TEST_B", "True", 1);
  assert_int_equal(uvotel_env_bool("UVOTEL_TEST_B", &v), 0);
  assert_int_equal(v, 1);
  setenv("UVOTEL_TEST_B", "", 1);
  v = 5;
  assert_int_equal(uvotel_env_bool("UVOTEL_TEST_B", &v), UVOTEL_ENOENT);
  assert_int_equal(v, 5);
  unsetenv("UVOTEL_TEST_B");
  assert_int_equal(uvotel_env_bool("UVOTEL_TEST_B", &v), UVOTEL_ENOENT);
  assert_int_equal(g_n, 1);
  setenv("UVOTEL_TEST_B", "true", 1);
  assert_int_equal(uvotel_env_bool("UVOTEL_TEST_B", NULL), UVOTEL_EINVAL);
  unsetenv("UVOTEL_TEST_B");
}

/* ---- integers and durations ---- */

static void test_parse_u64(void **state) {
  (void)state;
  uint64_t v = 99;
  assert_int_equal(uvotel_env_parse_u64("0", 10, &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(uvotel_env_parse_u64(" 42 ", 100, &v), 0);
  assert_int_equal(v, 42);
  assert_int_equal(uvotel_env_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
  assert_true(v == UINT64_MAX);
  v = 99;
  assert_int_equal(uvotel_env_parse_u64("18446744073709551616", UINT64_MAX, &v), UVOTEL_ERANGE);
  assert_int_equal(uvotel_env_parse_u64("101", 100, &v), UVOTEL_ERANGE);
  assert_int_equal(uvotel_env_parse_u64("100", 100, &v), 0);
  assert_int_equal(v, 100);
  v = 99;
  static const char *const bad[] = {"", " ", "-1", "+1", "0x10", "1e3", "12abc", "1 2", "١"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(uvotel_env_parse_u64(bad[i], UINT64_MAX, &v), UVOTEL_EPARSE);
  }
  /* a digit overflow followed by garbage is still a parse error, not a range error */
  assert_int_equal(uvotel_env_parse_u64("99999999999999999999x", UINT64_MAX, &v), UVOTEL_EPARSE);
  assert_int_equal(v, 99);
  assert_int_equal(uvotel_env_parse_u64(NULL, 1, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_parse_u64("1", 1, NULL), UVOTEL_EINVAL);
}

static void test_parse_double(void **state) {
  (void)state;
  double v = 7;
  assert_int_equal(uvotel_env_parse_double("0.25", &v), 0);
  assert_true(v == 0.25);
  assert_int_equal(uvotel_env_parse_double(" 1 ", &v), 0);
  assert_true(v == 1.0);
  assert_int_equal(uvotel_env_parse_double(".5", &v), 0);
  assert_true(v == 0.5);
  assert_int_equal(uvotel_env_parse_double("-2.5e-1", &v), 0);
  assert_true(v == -0.25);
  assert_int_equal(uvotel_env_parse_double("1E2", &v), 0);
  assert_true(v == 100.0);
  v = 7;
  static const char *const bad[] = {"",    " ",  ".",   "-",     "0,25",  "0x1p3", "inf",
                                    "nan", "1e", "1e+", "1.2.3", "0.25x", "e5"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(uvotel_env_parse_double(bad[i], &v), UVOTEL_EPARSE);
  }
  assert_int_equal(uvotel_env_parse_double("1e999", &v), UVOTEL_ERANGE);
  assert_true(v == 7);
  assert_int_equal(uvotel_env_parse_double(NULL, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_parse_double("1", NULL), UVOTEL_EINVAL);
  /* a locale with a decimal comma does not change what "0.25" means (when one is installed) */
  if (setlocale(LC_NUMERIC, "de_DE.UTF-8") != NULL || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
    assert_int_equal(uvotel_env_parse_double("0.25", &v), 0);
    assert_true(v == 0.25);
    setlocale(LC_NUMERIC, "C");
  }
}

static void test_env_integers(void **state) {
  (void)state;
  uint32_t u = 128;
  uint64_t d = 5000;
  setenv("UVOTEL_TEST_N", "4096", 1);
  assert_int_equal(uvotel_env_u32("UVOTEL_TEST_N", &u), 0);
  assert_int_equal(u, 4096);
  assert_int_equal(uvotel_env_duration_ms("UVOTEL_TEST_N", &d), 0);
  assert_int_equal(d, 4096);
  setenv("UVOTEL_TEST_N", "4294967296", 1); /* 2^32 */
  assert_int_equal(uvotel_env_u32("UVOTEL_TEST_N", &u), UVOTEL_ERANGE);
  assert_int_equal(u, 4096);
  assert_int_equal(g_n, 1);
  assert_non_null(strstr(g_last, "UVOTEL_TEST_N=\"4294967296\" is above 4294967295"));
  setenv("UVOTEL_TEST_N", "5s", 1); /* durations are integers of milliseconds */
  assert_int_equal(uvotel_env_duration_ms("UVOTEL_TEST_N", &d), UVOTEL_EPARSE);
  assert_int_equal(d, 4096);
  assert_int_equal(g_n, 2);
  assert_non_null(strstr(g_last, "not a non-negative integer; using the default"));
  setenv("UVOTEL_TEST_N", "9007199254740993", 1); /* 2^53 + 1 */
  assert_int_equal(uvotel_env_duration_ms("UVOTEL_TEST_N", &d), UVOTEL_ERANGE);
  unsetenv("UVOTEL_TEST_N");
  assert_int_equal(uvotel_env_u64("UVOTEL_TEST_N", 10, &d), UVOTEL_ENOENT);
  assert_int_equal(uvotel_env_u32("UVOTEL_TEST_N", NULL), UVOTEL_EINVAL);
}

/* ---- names and lists ---- */

static void test_names(void **state) {
  (void)state;
  static const char *const names[] = {"tracecontext", "baggage", NULL};
  assert_true(uvotel_env_name_eq("TraceContext", 12, "tracecontext"));
  assert_true(uvotel_env_name_eq("BAGGAGE", 7, "baggage"));
  assert_false(uvotel_env_name_eq("baggag", 6, "baggage"));
  assert_false(uvotel_env_name_eq("baggagex", 8, "baggage"));
  assert_false(uvotel_env_name_eq(NULL, 0, "x"));
  assert_int_equal(uvotel_env_name_index(" Baggage ", 9, names), 1);
  assert_int_equal(uvotel_env_name_index("TRACECONTEXT", 12, names), 0);
  assert_int_equal(uvotel_env_name_index("b3", 2, names), -1);
  assert_int_equal(uvotel_env_name_index("", 0, names), -1);
  assert_int_equal(uvotel_env_name_index("x", 1, NULL), -1);
}

static void collect(const char *v, char *out, size_t cap) {
  const char *cur = v, *item;
  size_t len, k = 0;
  out[0] = '\0';
  while (uvotel_env_list_next(&cur, &item, &len)) {
    k += (size_t)snprintf(out + k, cap - k, "[%.*s]", (int)len, item);
  }
}

static void test_list(void **state) {
  (void)state;
  char buf[256];
  collect("a,b", buf, sizeof buf);
  assert_string_equal(buf, "[a][b]");
  collect(" a , b ,", buf, sizeof buf);
  assert_string_equal(buf, "[a][b]");
  collect(",,a,,\t, b c ,", buf, sizeof buf);
  assert_string_equal(buf, "[a][b c]");
  collect("", buf, sizeof buf);
  assert_string_equal(buf, "");
  collect(" , ,", buf, sizeof buf);
  assert_string_equal(buf, "");
  collect(NULL, buf, sizeof buf);
  assert_string_equal(buf, "");
  const char *cur = "x", *item;
  size_t len;
  assert_int_equal(uvotel_env_list_next(NULL, &item, &len), 0);
  assert_int_equal(uvotel_env_list_next(&cur, NULL, &len), 0);
  assert_int_equal(uvotel_env_list_next(&cur, &item, NULL), 0);
  /* the end is sticky */
  cur = "x";
  assert_int_equal(uvotel_env_list_next(&cur, &item, &len), 1);
  assert_int_equal(uvotel_env_list_next(&cur, &item, &len), 0);
  assert_int_equal(uvotel_env_list_next(&cur, &item, &len), 0);
}

/* ---- percent-decoding and key=value lists ---- */

static void test_percent_decode(void **state) {
  (void)state;
  char out[32];
  size_t n = 0;
  assert_int_equal(uvotel_env_percent_decode("a%2Cb%2cc%25", 12, out, &n), 0);
  assert_string_equal(out, "a,b,c%");
  assert_int_equal(n, 6);
  assert_int_equal(uvotel_env_percent_decode("%e2%82%AC", 9, out, NULL), 0);
  assert_string_equal(out, "\xe2\x82\xac");
  assert_int_equal(uvotel_env_percent_decode("", 0, out, &n), 0);
  assert_string_equal(out, "");
  assert_int_equal(n, 0);
  /* the length bounds the input: a '%' whose digits lie beyond it is malformed */
  assert_int_equal(uvotel_env_percent_decode("%41", 2, out, &n), UVOTEL_EPARSE);
  static const char *const bad[] = {"%", "%1", "%G1", "%1G", "a%", "%%41"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_int_equal(uvotel_env_percent_decode(bad[i], strlen(bad[i]), out, &n), UVOTEL_EPARSE);
  }
  /* %00 is refused, never truncated */
  assert_int_equal(uvotel_env_percent_decode("a%00b", 5, out, &n), UVOTEL_EPARSE);
  assert_int_equal(uvotel_env_percent_decode(NULL, 0, out, &n), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_percent_decode("a", 1, NULL, &n), UVOTEL_EINVAL);
}

static void test_kv_parse(void **state) {
  (void)state;
  uvotel_env_kv_t *kv;
  size_t n;
  assert_int_equal(uvotel_env_kv_parse(" a = 1 ,, b=two%20words,c=%3D,a=again,e=", &kv, &n), 0);
  assert_int_equal(n, 5);
  assert_string_equal(kv[0].key, "a");
  assert_string_equal(kv[0].value, "1");
  assert_string_equal(kv[1].key, "b");
  assert_string_equal(kv[1].value, "two words");
  assert_string_equal(kv[2].value, "=");
  assert_string_equal(kv[3].value, "again");
  assert_string_equal(kv[4].key, "e");
  assert_string_equal(kv[4].value, "");
  uvotel_free(kv);
  /* the first '=' splits; later ones belong to the value; keys are decoded too */
  assert_int_equal(uvotel_env_kv_parse("k%2Cx=a=b", &kv, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(kv[0].key, "k,x");
  assert_string_equal(kv[0].value, "a=b");
  uvotel_free(kv);
  assert_int_equal(uvotel_env_kv_parse(" , ,", &kv, &n), 0);
  assert_int_equal(n, 0);
  assert_null(kv);
  static const char *const bad[] = {"k",     "=v",     " =v",    "a=1,broken", "k=%4",
                                    "k=%zz", "k%00=v", "k=a%00", "%00=v",      "a=1,=2"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    kv = (uvotel_env_kv_t *)1;
    n = 9;
    assert_int_equal(uvotel_env_kv_parse(bad[i], &kv, &n), UVOTEL_EPARSE);
    assert_null(kv);
    assert_int_equal(n, 0);
  }
  assert_int_equal(uvotel_env_kv_parse(NULL, &kv, &n), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_kv_parse("a=b", NULL, &n), UVOTEL_EINVAL);
  assert_int_equal(uvotel_env_kv_parse("a=b", &kv, NULL), UVOTEL_EINVAL);
  /* out of memory: an error, nothing leaked */
  counting_alloc_fail_after(0, 1);
  assert_int_equal(uvotel_env_kv_parse("a=b", &kv, &n), UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
}

/* ---- the drifts, through the provider ---- */

static const char *res_str(const uvotel_tracer_provider_t *p, const char *key) {
  const uvotel_trace_resource_t *r = uvotel_tracer_provider_resource(p);
  for (size_t i = 0; i < r->n_attrs; i++) {
    if (strcmp(r->attrs[i].key, key) == 0) return r->attrs[i].value.u.s;
  }
  return NULL;
}

static uvotel_tracer_provider_t *env_provider(void) {
  setenv("OTEL_TRACES_EXPORTER", "none", 1);
  return uvotel_tracer_provider_from_env();
}

/* Drift 1: the provider refused OTEL_PROPAGATORS=TraceContext that
 * uvotel_propagator_from_names accepted. Both accept it now (enum values are case-insensitive),
 * and the provider keeps the canonical spelling. */
static void test_propagators_case_insensitive(void **state) {
  (void)state;
  setenv("OTEL_PROPAGATORS", "TraceContext, BAGGAGE", 1);
  uvotel_tracer_provider_t *p = env_provider();
  assert_non_null(p);
  assert_int_equal(g_n, 0);
  assert_string_equal(uvotel_tracer_provider_propagators(p), "tracecontext,baggage");
  uvotel_propagator_t *prop = NULL;
  assert_int_equal(uvotel_propagator_from_names("TraceContext, BAGGAGE", &prop, NULL), 0);
  assert_ptr_equal(prop, uvotel_propagator_default());
  uvotel_tracer_provider_free(p);
  setenv("OTEL_PROPAGATORS", "None", 1);
  p = env_provider();
  assert_string_equal(uvotel_tracer_provider_propagators(p), "none");
  uvotel_tracer_provider_free(p);
  unsetenv("OTEL_PROPAGATORS");
  unsetenv("OTEL_TRACES_EXPORTER");
}

/* Drift 2: %00 was silently truncated in OTEL_RESOURCE_ATTRIBUTES ("x%00y" became "x") and
 * refused in OTEL_EXPORTER_OTLP_HEADERS. One rule now: refused, the whole value ignored, said. */
static void test_resource_attributes_nul_refused(void **state) {
  (void)state;
  setenv("OTEL_RESOURCE_ATTRIBUTES", "team=x%00y,region=eu", 1);
  uvotel_tracer_provider_t *p = env_provider();
  assert_non_null(p);
  assert_null(res_str(p, "team"));
  assert_null(res_str(p, "region"));
  assert_int_equal(g_n, 1);
  assert_int_equal(g_last_code, UVOTEL_EPARSE);
  assert_non_null(strstr(g_last, "OTEL_RESOURCE_ATTRIBUTES"));
  uvotel_tracer_provider_free(p);
  setenv("OTEL_RESOURCE_ATTRIBUTES", "team=x%41y, region = eu ", 1);
  p = env_provider();
  assert_string_equal(res_str(p, "team"), "xAy");
  assert_string_equal(res_str(p, "region"), "eu");
  uvotel_tracer_provider_free(p);
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
  unsetenv("OTEL_TRACES_EXPORTER");
}

/* Exporter and sampler names are enum values too: "NONE" is none (no warning, no exporter),
 * "ParentBased_TraceIdRatio" the ratio sampler. */
static void test_enum_names_case_insensitive(void **state) {
  (void)state;
  setenv("OTEL_TRACES_EXPORTER", "NONE", 1);
  setenv("OTEL_TRACES_SAMPLER", "ParentBased_TraceIdRatio", 1);
  setenv("OTEL_TRACES_SAMPLER_ARG", "0.5", 1);
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_from_env();
  assert_non_null(p);
  assert_int_equal(g_n, 0);
  assert_non_null(strstr(uvotel_sampler_description(uvotel_tracer_provider_sampler(p)),
                         "TraceIdRatioBased{0.5}"));
  uvotel_tracer_provider_free(p);
  unsetenv("OTEL_TRACES_EXPORTER");
  unsetenv("OTEL_TRACES_SAMPLER");
  unsetenv("OTEL_TRACES_SAMPLER_ARG");
}

/* ---- diagnostics ---- */

static void test_diag_levels(void **state) {
  (void)state;
  assert_int_equal(uvotel_diag_max_level(), UVOTEL_DIAG_DEBUG);
  uvotel_diag(UVOTEL_DIAG_DEBUG, 0, "d%d", 1);
  assert_int_equal(g_n, 1);
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_WARN);
  assert_int_equal(uvotel_diag_max_level(), UVOTEL_DIAG_WARN);
  uvotel_diag(UVOTEL_DIAG_INFO, 0, "filtered");
  assert_int_equal(g_n, 1);
  uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_EIO, "kept %s", "x");
  assert_int_equal(g_n, 2);
  assert_string_equal(g_last, "kept x");
  assert_int_equal(g_last_code, UVOTEL_EIO);
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_NONE);
  uvotel_diag(UVOTEL_DIAG_ERROR, 0, "nothing");
  assert_int_equal(g_n, 2);
  /* NONE and out-of-range levels are not messages */
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  uvotel_diag(UVOTEL_DIAG_NONE, 0, "not a level");
  uvotel_diag((uvotel_diag_level_t)9, 0, "not a level");
  uvotel_diag(UVOTEL_DIAG_ERROR, 0, NULL);
  assert_int_equal(g_n, 2);
}

/* The default handler: OTEL_LOG_LEVEL, default info; unknown values warned about once, info
 * used. Checked through stderr, redirected to a file. */
static char *run_default(const char *level, void (*body)(void)) {
  char path[] = "/tmp/uvotel-test-env-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  if (level != NULL) {
    setenv("OTEL_LOG_LEVEL", level, 1);
  } else {
    unsetenv("OTEL_LOG_LEVEL");
  }
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_NONE); /* re-reads OTEL_LOG_LEVEL */
  body();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  unsetenv("OTEL_LOG_LEVEL");
  static char out[4096];
  lseek(fd, 0, SEEK_SET);
  ssize_t n = read(fd, out, sizeof out - 1);
  out[n > 0 ? n : 0] = '\0';
  close(fd);
  unlink(path);
  return out;
}

static void say_all(void) {
  uvotel_diag(UVOTEL_DIAG_ERROR, 0, "an error");
  uvotel_diag(UVOTEL_DIAG_WARN, 0, "a warning");
  uvotel_diag(UVOTEL_DIAG_INFO, 0, "some info");
  uvotel_diag(UVOTEL_DIAG_DEBUG, 0, "debugging");
}

static void test_diag_default_handler(void **state) {
  (void)state;
  char *out = run_default(NULL, say_all); /* unset: info */
  assert_non_null(strstr(out, "uvotel error: an error\n"));
  assert_non_null(strstr(out, "uvotel warn: a warning\n"));
  assert_non_null(strstr(out, "uvotel info: some info\n"));
  assert_null(strstr(out, "debugging"));
  out = run_default("WARN", say_all);
  assert_non_null(strstr(out, "a warning"));
  assert_null(strstr(out, "some info"));
  out = run_default("debug", say_all);
  assert_non_null(strstr(out, "debugging"));
  out = run_default("none", say_all);
  assert_string_equal(out, "");
  out = run_default("verbose", say_all); /* unknown: said, and info used */
  assert_non_null(strstr(out, "OTEL_LOG_LEVEL=\"verbose\" is not one of"));
  assert_non_null(strstr(out, "some info"));
  assert_null(strstr(out, "debugging"));
}

static void limited_burst(void) {
  static uvotel_diag_limit_t key = UVOTEL_DIAG_LIMIT_INIT(60000);
  for (int i = 0; i < 5; i++) uvotel_diag_limited(&key, UVOTEL_DIAG_WARN, 0, "export failed");
}

static void test_diag_limited(void **state) {
  (void)state;
  uvotel_diag_limit_t key = UVOTEL_DIAG_LIMIT_INIT(200);
  assert_int_equal(uvotel_diag_limited(&key, UVOTEL_DIAG_WARN, 0, "dropped %d", 1), 1);
  assert_string_equal(g_last, "dropped 1");
  for (int i = 2; i <= 10; i++) {
    assert_int_equal(uvotel_diag_limited(&key, UVOTEL_DIAG_WARN, 0, "dropped %d", i), 0);
  }
  assert_int_equal(g_n, 1);
  /* a message above the level is neither delivered nor counted */
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_ERROR);
  assert_int_equal(uvotel_diag_limited(&key, UVOTEL_DIAG_WARN, 0, "hidden"), 0);
  uvotel_diag_set_handler(diag_cb, NULL, UVOTEL_DIAG_DEBUG);
  usleep(250 * 1000);
  assert_int_equal(uvotel_diag_limited(&key, UVOTEL_DIAG_WARN, UVOTEL_EIO, "dropped %d", 11), 1);
  assert_int_equal(g_n, 2);
  assert_string_equal(g_last, "dropped 11 (9 more suppressed in the last 1 s)");
  assert_int_equal(g_last_code, UVOTEL_EIO);
  /* another key is independent */
  uvotel_diag_limit_t other = UVOTEL_DIAG_LIMIT_INIT(200);
  assert_int_equal(uvotel_diag_limited(&other, UVOTEL_DIAG_WARN, 0, "other"), 1);
  assert_int_equal(uvotel_diag_limited(NULL, UVOTEL_DIAG_WARN, 0, "x"), 0);
  assert_int_equal(uvotel_diag_limited(&other, UVOTEL_DIAG_WARN, 0, NULL), 0);
  /* through the default handler too: one line for a burst */
  char *out = run_default(NULL, limited_burst);
  assert_non_null(strstr(out, "uvotel warn: export failed\n"));
  assert_null(strstr(strstr(out, "export failed") + 1, "export failed"));
}

/* The limiter is shared by threads (pool, exporter, loop): of 4 x 1000 racing calls on one key
 * exactly one is delivered and the other 3999 are counted, none twice, none lost. */
static uvotel_diag_limit_t g_race_key = UVOTEL_DIAG_LIMIT_INIT(600000);
static void *race(void *arg) {
  (void)arg;
  for (int i = 0; i < 1000; i++) uvotel_diag_limited(&g_race_key, UVOTEL_DIAG_WARN, 0, "race");
  return NULL;
}

static void test_diag_limited_threads(void **state) {
  (void)state;
  pthread_t th[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, race, NULL), 0);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  assert_int_equal(g_n, 1);
  assert_int_equal(strncmp(g_last, "race", 4), 0);
  /* calls suppressed while the winner was formatting may be reported with its message; every
   * call is counted exactly once, there or in the key */
  unsigned long in_msg = 0;
  if (g_last[4] != '\0') assert_int_equal(sscanf(g_last, "race (%lu more suppressed", &in_msg), 1);
  assert_int_equal(in_msg + __atomic_load_n(&g_race_key.suppressed, __ATOMIC_RELAXED), 3999);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_get_empty_is_unset, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_bool, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_bool_one_is_not_true, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_u64, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_double, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_integers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list, setup, teardown),
      cmocka_unit_test_setup_teardown(test_percent_decode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kv_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_propagators_case_insensitive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_resource_attributes_nul_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_enum_names_case_insensitive, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diag_levels, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diag_default_handler, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diag_limited, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diag_limited_threads, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
