/* libFuzzer target: baggage parsing (the input split into header lines at '\n'), and
 * serialise/parse/set/remove on whatever it keeps. */
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
  uvotel_baggage_t *b = NULL;
  int rc = uvotel_baggage_parse_lines(lines, n, &b);
  if (rc < 0) abort();
  if (b == NULL) return 0;
  size_t len;
  const char *s = uvotel_baggage_str(b, &len);
  if (len > UVOTEL_BAGGAGE_MAX_BYTES || uvotel_baggage_count(b) > UVOTEL_BAGGAGE_MAX_MEMBERS) {
    abort();
  }
  uvotel_baggage_t *back = NULL;
  if (uvotel_baggage_parse(s, len, &back) != 0) abort();
  if (strcmp(uvotel_baggage_str(back, NULL), s) != 0) abort();
  uvotel_baggage_entry_t e;
  if (uvotel_baggage_at(b, 0, &e) != 0) abort();
  uvotel_baggage_t *mod = NULL;
  if (uvotel_baggage_remove(b, e.key.ptr, &mod) != 0) abort();
  uvotel_baggage_release(mod);
  if (uvotel_baggage_set(b, e.key.ptr, "x y", "p;q=%41", &mod) == 0) uvotel_baggage_release(mod);
  uvotel_baggage_release(back);
  uvotel_baggage_release(b);
  return 0;
}
