/* UTF-8 validation and repair for the encoders (see encoding.h). */
#include <string.h>

#include "encoding.h"

/* Length of the valid sequence at s[0..n), or 0 when s[0] does not start one. */
static size_t seq_len(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  unsigned char lo = 0x80, hi = 0xbf;
  size_t len;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0; /* no overlong forms */
    else if (c == 0xed)
      hi = 0x9f; /* no surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90; /* no overlong forms */
    else if (c == 0xf4)
      hi = 0x8f; /* nothing above U+10FFFF */
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if ((s[k] & 0xc0) != 0x80) return 0;
  return len;
}

size_t uvotel__utf8_seq_len(const char *s, size_t n) {
  return seq_len((const unsigned char *)s, n);
}

size_t uvotel__utf8_bad_len(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  /* The maximal subpart: the lead byte plus the continuation bytes that still fit a valid
   * sequence (so "\xe2\x82" then "x" is one U+FFFD, and a stray continuation byte is one). */
  unsigned char c = s[0];
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0)
      lo = 0xa0;
    else if (c == 0xed)
      hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0)
      lo = 0x90;
    else if (c == 0xf4)
      hi = 0x8f;
  } else {
    return 1;
  }
  size_t k = 1;
  if (k < n && k < len && s[1] >= lo && s[1] <= hi) {
    k++;
    while (k < n && k < len && (s[k] & 0xc0) == 0x80) k++;
  }
  return k;
}

static inline int ascii8(const unsigned char *s) {
  uint64_t w;
  memcpy(&w, s, 8);
  return (w & 0x8080808080808080ull) == 0;
}

size_t uvotel__utf8_valid_prefix(const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n && ascii8(s + i)) {
      i += 8;
      continue;
    }
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t l = seq_len(s + i, n - i);
    if (l == 0) return i;
    i += l;
  }
  return n;
}

size_t uvotel__utf8_repaired_len(const char *s, size_t n) {
  size_t out = 0, i = 0;
  for (;;) {
    size_t v = uvotel__utf8_valid_prefix(s + i, n - i);
    out += v;
    i += v;
    if (i >= n) return out;
    i += uvotel__utf8_bad_len(s + i, n - i);
    out += 3;
  }
}

size_t uvotel__utf8_repair(char *dst, const char *s, size_t n) {
  size_t out = 0, i = 0;
  for (;;) {
    size_t v = uvotel__utf8_valid_prefix(s + i, n - i);
    memcpy(dst + out, s + i, v);
    out += v;
    i += v;
    if (i >= n) return out;
    i += uvotel__utf8_bad_len(s + i, n - i);
    memcpy(dst + out, "\xef\xbf\xbd", 3);
    out += 3;
  }
}
