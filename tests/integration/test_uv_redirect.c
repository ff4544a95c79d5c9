/* uv_redirect.h on a plain libuv program (tests/integration/redirect/plain.c): built as is and
 * with the header, both print the same lines, the redirected one raises an init and a destroy
 * for every resource kind it uses, and its own uv_loop_close still returns 0. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"

#define DIR UVOTEL_BINARY_DIR "/tests/"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) len += n;
  buf[len] = '\0';
  fclose(f);
  return buf;
}

static int cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted and joined (the async send from another thread may land anywhere
 * in the run, in either build). */
static char *sorted(char *text) {
  char *lines[256];
  int n = 0;
  for (char *p = strtok(text, "\n"); p != NULL && n < 256; p = strtok(NULL, "\n")) lines[n++] = p;
  qsort(lines, (size_t)n, sizeof *lines, cmp_lines);
  char *out = calloc(1, 1 << 16);
  for (int i = 0; i < n; i++) {
    strcat(out, lines[i]);
    strcat(out, "\n");
  }
  return out;
}

static int count(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)) != NULL; p++) n++;
  return n;
}

static void test_same_behaviour_and_events(void **state) {
  (void)state;
  assert_int_equal(system(DIR "redirect_plain_raw > " DIR "redirect_raw.out"), 0);
  assert_int_equal(system(DIR "redirect_plain_wrapped > " DIR "redirect_wrapped.out 2> " DIR
                              "redirect_wrapped.err"),
                   0);
  char *raw = slurp(DIR "redirect_raw.out");
  char *wrapped = slurp(DIR "redirect_wrapped.out");
  char *events = slurp(DIR "redirect_wrapped.err");
  assert_non_null(strstr(raw, "loop_close 0\n"));
  assert_non_null(strstr(raw, "client got pong\n"));
  assert_int_equal(count(events, "init "), 0 + count(events, "destroy "));
  const char *kinds[] = {" Timeout ",
                         " Immediate ",
                         " IDLE ",
                         " WORK ",
                         " ASYNC ",
                         " FSREQCALLBACK ",
                         " GETADDRINFOREQWRAP ",
                         " TCPSERVERWRAP ",
                         " TCPCONNECTWRAP ",
                         " SHUTDOWNWRAP "};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
    if (count(events, kinds[i]) != 1)
      fail_msg("%s: %d\n%s", kinds[i], count(events, kinds[i]), events);
  }
  assert_int_equal(count(events, " TCPWRAP "), 2);
  assert_int_equal(count(events, " WRITEWRAP "), 2);
  char *a = sorted(raw), *b = sorted(wrapped);
  assert_string_equal(a, b);
  free(a), free(b), free(raw), free(wrapped), free(events);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_behaviour_and_events)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
