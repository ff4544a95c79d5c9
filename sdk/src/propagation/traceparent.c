/* W3C traceparent (Trace Context Level 2): parse and format. */
#include "propagation_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Hex in 8-character chunks with 64-bit word arithmetic (SWAR): a byte-at-a-time table loop
 * costs ~40 ns per traceparent here, the word form a few. Every byte of these words stays below
 * 0x80 before the range checks, so the per-byte additions never carry into the next byte. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline void store_le64(char *p, uint64_t x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  memcpy(p, &x, 8);
}

/* Per byte: high bit set where the byte is >= n (bytes < 0x80, n <= 0x80). */
#define GE(x, n) ((x) + ONES * (0x80 - (n)))

#if !defined(__SSE2__)
/* 8 lowercase hex characters -> 4 bytes, as a word whose little-endian bytes are the decoded
 * bytes in order. Anything but [0-9a-f] sets bits in *bad. */
static inline uint32_t hex8_decode(const char *p, uint64_t *bad) {
  uint64_t x = uvotel__load_le64(p);
  uint64_t digit = GE(x, 0x30) & ~GE(x, 0x3a) & HIGHS;
  uint64_t alpha = GE(x, 0x61) & ~GE(x, 0x67) & HIGHS;
  *bad |= (x & HIGHS) | ((digit | alpha) ^ HIGHS);
  uint64_t nib = (x & (ONES * 0x0f)) + (alpha >> 7) * 9;
  uint64_t t = ((nib << 4) | (nib >> 8)) & 0x00ff00ff00ff00ffull;
  t = (t | (t >> 8)) & 0x0000ffff0000ffffull;
  return (uint32_t)(t | (t >> 16));
}

static inline void store_le32(uint8_t *p, uint32_t v) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  memcpy(p, &v, 4);
}
#endif

/* 4 bytes -> 8 lowercase hex characters. */
static inline void hex8_encode(const uint8_t *in, char *out) {
  uint64_t x =
      (uint64_t)in[0] | (uint64_t)in[1] << 8 | (uint64_t)in[2] << 16 | (uint64_t)in[3] << 24;
  x = (x | (x << 16)) & 0x0000ffff0000ffffull;
  x = (x | (x << 8)) & 0x00ff00ff00ff00ffull;
  uint64_t n = ((x >> 4) & (ONES * 0x0f)) | ((x & (ONES * 0x0f)) << 8);
  uint64_t gt9 = ((n + ONES * 6) >> 4) & ONES;
  store_le64(out, n + ONES * '0' + gt9 * ('a' - '0' - 10));
}

#if defined(__SSE2__)
/* 16 lowercase hex characters -> 8 bytes with SSE2 (baseline on x86-64). Returns the vector of
 * bytes that were [0-9a-f] (0xff) or not (0), tested by the caller once for all fields. */
static inline __m128i hex16_decode(const char *p, uint8_t *out) {
  __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
  /* signed compares: bytes >= 0x80 are negative and fail both ranges */
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
  __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('a' - 1)),
                                _mm_cmplt_epi8(c, _mm_set1_epi8('f' + 1)));
  __m128i nib =
      _mm_add_epi8(_mm_and_si128(c, _mm_set1_epi8(0x0f)), _mm_and_si128(alpha, _mm_set1_epi8(9)));
  /* 16-bit lanes hold (n0, n1): make (n0 << 4) | n1, then pack the lanes to bytes */
  __m128i hi = _mm_slli_epi16(_mm_and_si128(nib, _mm_set1_epi16(0x00ff)), 4);
  __m128i pair = _mm_or_si128(hi, _mm_srli_epi16(nib, 8));
  _mm_storel_epi64((__m128i *)(void *)out, _mm_packus_epi16(pair, pair));
  return _mm_or_si128(digit, alpha);
}
#endif

/* Hex digit values by byte, 0x10 for a byte that is not [0-9a-f]: the two-character fields
 * (version, flags) are two lookups each, and the 0x10 bits ORed together say if any was bad. */
static const uint8_t hexval[256] = {
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0,    1,    2,    3,    4,    5,    6,    7,    8,    9,    0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 10,   11,   12,   13,   14,   15,   0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10,
};

UVOTEL__API int uvotel_traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  if (len > 0 && (uvotel__is_ows(s[0]) || uvotel__is_ows(s[len - 1]))) uvotel__trim_ows(&s, &len);
  if (len < UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  /* fixed offsets: vv-<32 hex>-<16 hex>-ff */
  const uint8_t *u = (const uint8_t *)s;
  unsigned v0 = hexval[u[0]], v1 = hexval[u[1]], f0 = hexval[u[53]], f1 = hexval[u[54]];
  if (((v0 | v1 | f0 | f1) & 0x10) || s[2] != '-' || s[35] != '-' || s[52] != '-') {
    return UVOTEL_EPARSE;
  }
  unsigned version = v0 << 4 | v1, flags = f0 << 4 | f1;
  if (version == 0xff) return UVOTEL_EPARSE;
  if (version == 0x00 && len != UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  /* A future version: the version-00 fields, then nothing or "-" and fields we ignore. */
  if (len > UVOTEL_TRACEPARENT_LEN && s[UVOTEL_TRACEPARENT_LEN] != '-') return UVOTEL_EPARSE;
#if defined(__SSE2__)
  uint64_t w[3]; /* trace id (two words), span id */
  __m128i ok = _mm_and_si128(
      _mm_and_si128(hex16_decode(s + 3, (uint8_t *)&w[0]), hex16_decode(s + 19, (uint8_t *)&w[1])),
      hex16_decode(s + 36, (uint8_t *)&w[2]));
  if (_mm_movemask_epi8(ok) != 0xffff) return UVOTEL_EPARSE;
  if ((w[0] | w[1]) == 0 || w[2] == 0) return UVOTEL_EPARSE;
  memcpy(out->trace_id.bytes, w, 16);
  memcpy(out->span_id.bytes, w + 2, 8);
#else
  uint64_t bad = 0;
  uint32_t t0 = hex8_decode(s + 3, &bad), t1 = hex8_decode(s + 11, &bad),
           t2 = hex8_decode(s + 19, &bad), t3 = hex8_decode(s + 27, &bad),
           s0 = hex8_decode(s + 36, &bad), s1 = hex8_decode(s + 44, &bad);
  if (bad) return UVOTEL_EPARSE;
  if ((t0 | t1 | t2 | t3) == 0 || (s0 | s1) == 0) return UVOTEL_EPARSE;
  store_le32(out->trace_id.bytes, t0);
  store_le32(out->trace_id.bytes + 4, t1);
  store_le32(out->trace_id.bytes + 8, t2);
  store_le32(out->trace_id.bytes + 12, t3);
  store_le32(out->span_id.bytes, s0);
  store_le32(out->span_id.bytes + 4, s1);
#endif
  out->flags = (uint8_t)(flags & UVOTEL_TRACE_FLAGS_KNOWN);
  out->is_remote = 1;
  out->trace_state = NULL;
  return 0;
}

static const char hexdig[16] = "0123456789abcdef";

UVOTEL__API int uvotel_traceparent_format(const uvotel_span_context_t *sc, char *buf) {
  if (buf == NULL || !uvotel_span_context_is_valid(sc)) return UVOTEL_EINVAL;
  char *w = buf;
  *w++ = '0';
  *w++ = '0';
  *w++ = '-';
  for (int i = 0; i < 4; i++, w += 8) hex8_encode(sc->trace_id.bytes + 4 * i, w);
  *w++ = '-';
  for (int i = 0; i < 2; i++, w += 8) hex8_encode(sc->span_id.bytes + 4 * i, w);
  *w++ = '-';
  uint8_t f = (uint8_t)(sc->flags & UVOTEL_TRACE_FLAGS_KNOWN);
  *w++ = hexdig[f >> 4];
  *w++ = hexdig[f & 0x0f];
  *w = '\0';
  return 0;
}
