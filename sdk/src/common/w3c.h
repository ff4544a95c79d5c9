/* The W3C header grammars' character classes and scanners, shared by the tracestate (trace/)
 * and the propagators (propagation/), so neither needs the other for them. */
#ifndef UVOTEL_COMMON_W3C_H
#define UVOTEL_COMMON_W3C_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* OWS of RFC 7230: SP and HTAB. */
static inline int uvotel__is_ows(char c) {
  return c == ' ' || c == '\t';
}

static inline void uvotel__trim_ows(const char **s, size_t *len) {
  const char *p = *s;
  size_t n = *len;
  while (n > 0 && uvotel__is_ows(p[0])) p++, n--;
  while (n > 0 && uvotel__is_ows(p[n - 1])) n--;
  *s = p;
  *len = n;
}

/* Character classes (bit flags) for the W3C grammars, indexed by byte. */
enum {
  UVOTEL__CC_TS_KEY_FIRST = 0x01,  /* a-z 0-9 */
  UVOTEL__CC_TS_KEY = 0x02,        /* a-z 0-9 _ - * / @ */
  UVOTEL__CC_TS_VALUE = 0x04,      /* 0x20-0x7e except , = */
  UVOTEL__CC_TOKEN = 0x08,         /* RFC 7230 tchar */
  UVOTEL__CC_BAGGAGE_OCTET = 0x10, /* 0x21-0x7e except " , ; \ */
  UVOTEL__CC_UNRESERVED = 0x20     /* RFC 3986 unreserved: not percent-encoded on output */
};
extern const uint8_t uvotel__cc[256];

/* Per byte of a little-endian word: high bit set where the byte is ',' or '=' or not printable
 * ASCII (below 0x20, 0x7f and above). */
static inline uint64_t uvotel__special_mask(uint64_t x) {
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull,
                 low7 = 0x7f7f7f7f7f7f7f7full;
  uint64_t x7 = x & low7;
  uint64_t lt20 = ~(x7 + ones * (0x80 - 0x20)) & highs;
  uint64_t ge7f = (x7 + ones * (0x80 - 0x7f)) & highs;
  uint64_t yc = x ^ (ones * ','), ye = x ^ (ones * '=');
  uint64_t comma = ~(((yc & low7) + low7) | yc | low7);
  uint64_t eq = ~(((ye & low7) + low7) | ye | low7);
  return (x & highs) | lt20 | ge7f | comma | eq;
}

static inline uint64_t uvotel__load_le64(const char *p) {
  uint64_t x;
  memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  return x;
}

/* The first byte in [p, end) that is ',' or '=' or not printable ASCII, or end. `start` is
 * where the buffer begins (start <= p): the last partial word is read as the overlapping word
 * that ends at `end` when the buffer is long enough, so there is no byte-by-byte tail. Eight
 * bytes per step (SWAR): tracestate values are most of a header, and a byte loop over them
 * costs more than everything else in an extract. */
static inline const char *uvotel__scan_special(const char *start, const char *p, const char *end) {
#ifdef __SSE2__
  /* Sixteen bytes a step where SSE2 is there (every x86-64): the same bytes, fewer steps. The
   * compares are signed, so bytes >= 0x80 are below 0x20 here and found like control bytes. */
  const __m128i lo = _mm_set1_epi8(0x1f), hi = _mm_set1_epi8(0x7f);
  const __m128i comma = _mm_set1_epi8(','), eq = _mm_set1_epi8('=');
#define UVOTEL__SPECIAL16(x)                                                            \
  ((unsigned)_mm_movemask_epi8(_mm_or_si128(                                            \
      _mm_or_si128(_mm_cmpeq_epi8((x), comma), _mm_cmpeq_epi8((x), eq)),                \
      _mm_andnot_si128(_mm_and_si128(_mm_cmpgt_epi8((x), lo), _mm_cmplt_epi8((x), hi)), \
                       _mm_set1_epi8(-1)))))
  while (end - p >= 16) {
    unsigned m = UVOTEL__SPECIAL16(_mm_loadu_si128((const __m128i *)(const void *)p));
    if (m != 0) return p + __builtin_ctz(m);
    p += 16;
  }
  if (p == end) return end;
  if (end - start >= 16) {
    /* bytes [end-16, p) were scanned already (or precede p and are not asked about) */
    size_t rem = (size_t)(end - p);
    unsigned m =
        UVOTEL__SPECIAL16(_mm_loadu_si128((const __m128i *)(const void *)(end - 16))) >> (16 - rem);
    return m != 0 ? p + __builtin_ctz(m) : end;
  }
#undef UVOTEL__SPECIAL16
#endif
  while (end - p >= 8) {
    uint64_t m = uvotel__special_mask(uvotel__load_le64(p));
    if (m != 0) return p + (__builtin_ctzll(m) >> 3);
    p += 8;
  }
  size_t rem = (size_t)(end - p);
  if (rem == 0) return end;
  if (end - start >= 8) {
    /* bytes [end-8, p) were scanned already: shift them out */
    uint64_t m = uvotel__special_mask(uvotel__load_le64(end - 8)) >> (8 * (8 - rem));
    return m != 0 ? p + (__builtin_ctzll(m) >> 3) : end;
  }
  while (p < end) {
    uint8_t c = (uint8_t)*p;
    if (c < 0x20 || c >= 0x7f || c == ',' || c == '=') return p;
    p++;
  }
  return end;
}

#endif
