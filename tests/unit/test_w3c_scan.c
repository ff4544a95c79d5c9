/* uvotel__scan_special (src/common/w3c.h), the value scanner of tracestate parsing, against a
 * byte-by-byte reference: every start, every end, both the 16-byte (SSE2) and the 8-byte steps and
 * their overlapping last words, with the special byte (",", "=", a control byte, DEL, non-ASCII)
 * at every position, so each load and shift of the vectorised path is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../sdk/src/common/w3c.h"

static const char *ref_scan(const char *p, const char *end) {
  for (; p < end; p++) {
    uint8_t c = (uint8_t)*p;
    if (c < 0x20 || c >= 0x7f || c == ',' || c == '=') return p;
  }
  return end;
}

static void check_all(const char *buf, size_t n) {
  for (size_t s = 0; s <= n; s++) {
    for (size_t e = s; e <= n; e++) {
      for (size_t p = s; p <= e; p++) {
        const char *got = uvotel__scan_special(buf + s, buf + p, buf + e);
        assert_ptr_equal(got, ref_scan(buf + p, buf + e));
      }
    }
  }
}

static void test_scan_special_positions(void **state) {
  (void)state;
  static const unsigned char specials[] = {',', '=', 0x00, 0x1f, 0x7f, 0x80, 0xff, '\t'};
  char buf[48];
  for (size_t k = 0; k < sizeof specials; k++) {
    for (size_t at = 0; at < sizeof buf; at += 5) {
      memset(buf, 'a', sizeof buf);
      buf[at] = (char)specials[k];
      check_all(buf, sizeof buf);
    }
  }
  /* none at all, and the edge printable bytes that are not special */
  memset(buf, ' ', sizeof buf);
  buf[17] = '~';
  buf[33] = '!';
  check_all(buf, sizeof buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_scan_special_positions)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
