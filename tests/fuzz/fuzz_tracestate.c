/* libFuzzer target: tracestate parsing (the input split into header lines at '\n'), and
 * serialise/parse/set/delete on whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uvotel_str_t lines[16];
  size_t n = 0;
  const char *p = (const char *)data, *end = p + size;
  while (n < 16) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    lines[n].ptr = p;
    lines[n].len = (size_t)((nl ? nl : end) - p);
    n++;
    if (!nl) break;
    p = nl + 1;
  }
  uvotel_trace_state_t *ts = NULL;
  int rc = uvotel_trace_state_parse_lines(lines, n, 0, &ts);
  if (rc != 0 && ts != NULL) abort();
  /* Differential: lines of up to 64 bytes take a vectorised path; with trailing OWS added every
   * line takes the general one, and the result must be the same. */
  static char padded[16][4096 + 80];
  uvotel_str_t plines[16];
  for (size_t i = 0; i < n; i++) {
    size_t l = lines[i].len < 4096 ? lines[i].len : 4096;
    memcpy(padded[i], lines[i].ptr, l);
    memset(padded[i] + l, i % 2 ? ' ' : '\t', 70);
    plines[i].ptr = padded[i];
    plines[i].len = lines[i].len < 4096 ? l + 70 : lines[i].len;
    if (lines[i].len >= 4096) plines[i].ptr = lines[i].ptr; /* long already: general path */
  }
  uvotel_trace_state_t *ts2 = NULL;
  if (uvotel_trace_state_parse_lines(plines, n, 0, &ts2) != rc) abort();
  if (strcmp(uvotel_trace_state_str(ts, NULL), uvotel_trace_state_str(ts2, NULL)) != 0) abort();
  uvotel_trace_state_release(ts2);
  if (ts == NULL) return 0;
  size_t len;
  const char *s = uvotel_trace_state_str(ts, &len);
  uvotel_trace_state_t *back = NULL;
  if (uvotel_trace_state_parse(s, len, &back) != 0 || back == NULL) abort();
  if (strcmp(uvotel_trace_state_str(back, NULL), s) != 0) abort();
  uvotel_str_t k, v;
  if (uvotel_trace_state_at(ts, uvotel_trace_state_count(ts) - 1, &k, &v) != 0) abort();
  if (uvotel_trace_state_get(ts, k.ptr, NULL) == NULL) abort();
  uvotel_trace_state_t *mod = NULL;
  if (uvotel_trace_state_set(ts, "fuzz@x", "1", &mod) != 0) abort();
  uvotel_trace_state_release(mod);
  if (uvotel_trace_state_delete(ts, k.ptr, &mod) != 0) abort();
  uvotel_trace_state_release(mod);
  uvotel_trace_state_release(back);
  uvotel_trace_state_release(ts);
  return 0;
}
