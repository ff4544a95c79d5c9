/* Run a built example and capture its standard output (header only; include after cmocka.h).
 * program is relative to the build tree's examples/ ("async-trace/async-trace"); args go to the
 * shell as written (redirections allowed). Returns a malloc'd string; *status gets pclose's. */
#ifndef UVOTEL_TEST_RUN_EXAMPLE_H
#define UVOTEL_TEST_RUN_EXAMPLE_H

#include <stdio.h>
#include <stdlib.h>

static inline char *run_example(const char *program, const char *args, int *status) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s/examples/%s %s", UVOTEL_BINARY_DIR, program, args);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  size_t cap = 4096, len = 0;
  char *out = malloc(cap);
  assert_non_null(out);
  size_t n;
  while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
    len += n;
    if (cap - len < 512) {
      out = realloc(out, cap *= 2);
      assert_non_null(out);
    }
  }
  out[len] = '\0';
  *status = pclose(p);
  return out;
}

#endif
