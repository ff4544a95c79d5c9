/* Issue 13, observation 3: a program linked with --as-needed (Debian's gcc default) that calls
 * only uvotel_tracer_provider_from_env lost libuvotel_exporters and with it every exporter:
 * exit 0, no trace file, nothing said. The SDK now loads the library itself when a name is not
 * registered (sdk/src/trace/autoload.c). tests/integration/as_needed/main.c is that program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#define TMPDIR UVOTEL_BINARY_DIR "/test_as_needed.d"
#define OUT_FILE TMPDIR "/spans.jsonl"

static char *slurp(FILE *f) {
  size_t cap = 1 << 16, len = 0, n;
  char *buf = malloc(cap);
  assert_non_null(buf);
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) len += n;
  buf[len] = '\0';
  return buf;
}

static void test_as_needed_program_gets_its_trace_file(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(OUT_FILE);
  FILE *p = popen("env -u LD_PRELOAD OTEL_TRACES_EXPORTER=file OTEL_EXPORTER_FILE_PATH=" OUT_FILE
                  " OTEL_LOG_LEVEL=warn " AS_NEEDED_PROG " 2>&1",
                  "r");
  assert_non_null(p);
  char *out = slurp(p);
  int st = pclose(p);
  printf("%s", out);
  /* the linker really dropped the library: otherwise this test could not fail */
  assert_non_null(strstr(out, "exporters loaded at start: no\n"));
  assert_non_null(strstr(out, "shutdown 0\n"));
  assert_int_equal(st, 0);
  assert_null(strstr(out, "no span exporter"));
  free(out);
  FILE *f = fopen(OUT_FILE, "r");
  assert_non_null(f);
  char *spans = slurp(f);
  fclose(f);
  assert_non_null(strstr(spans, "\"as-needed span\""));
  free(spans);
}

/* An exporter name nobody provides, with the library loaded: said, naming the name. */
static void test_unknown_exporter_is_said(void **state) {
  (void)state;
  FILE *p =
      popen("env -u LD_PRELOAD OTEL_TRACES_EXPORTER=carrier-pigeon " AS_NEEDED_PROG " 2>&1", "r");
  assert_non_null(p);
  char *out = slurp(p);
  pclose(p);
  printf("%s", out);
  assert_non_null(strstr(out, "no span exporter \"carrier-pigeon\" registered"));
  free(out);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_as_needed_program_gets_its_trace_file),
      cmocka_unit_test(test_unknown_exporter_is_said),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
