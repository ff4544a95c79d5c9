/* The hex fields of a W3C traceparent: 32 lowercase hex characters of trace id and 16 of span id
 * decoded to 16 + 8 bytes, with one check that every character was [0-9a-f]. Four versions: word
 * arithmetic (SWAR, any CPU), SSE2 (the x86-64 baseline), and SSSE3 and AVX2 (PSHUFB nibble
 * tables and one PMADDUBSW per 16 characters) for traceparent.c to choose once at load time.
 * Header-only so tests/unit/test_w3c_hex.c runs every version against a byte loop.
 *
 * Each reads exactly tid[0..32) and sid[0..16), writes tid_out[0..16) and sid_out[0..8) (also
 * when it returns 0), and returns 1 when all 48 characters were lowercase hex, else 0. */
#ifndef UVOTEL_COMMON_W3C_HEX_H
#define UVOTEL_COMMON_W3C_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "w3c.h" /* uvotel__load_le64 */

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && \
    (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <tmmintrin.h>
#define UVOTEL__HAVE_HEX_SIMD_TARGETS 1
#endif

/* ---- word arithmetic: 8 characters per 64-bit word. Every byte stays below 0x80 before the
 * range tests, so the per-byte additions never carry into the next byte. ---- */

#define UVOTEL__HEX_ONES 0x0101010101010101ull
#define UVOTEL__HEX_HIGHS 0x8080808080808080ull
/* Per byte: high bit set where the byte (< 0x80) is >= n (n <= 0x80). */
#define UVOTEL__HEX_GE(x, n) ((x) + UVOTEL__HEX_ONES * (0x80 - (n)))

/* 8 characters -> 4 bytes (out[0] from p[0..2)); anything but [0-9a-f] sets bits in *bad. */
static inline void uvotel__hex8_swar(const char *p, uint8_t *out, uint64_t *bad) {
  uint64_t x = uvotel__load_le64(p);
  uint64_t digit = UVOTEL__HEX_GE(x, 0x30) & ~UVOTEL__HEX_GE(x, 0x3a) & UVOTEL__HEX_HIGHS;
  uint64_t alpha = UVOTEL__HEX_GE(x, 0x61) & ~UVOTEL__HEX_GE(x, 0x67) & UVOTEL__HEX_HIGHS;
  *bad |= (x & UVOTEL__HEX_HIGHS) | ((digit | alpha) ^ UVOTEL__HEX_HIGHS);
  uint64_t nib = (x & (UVOTEL__HEX_ONES * 0x0f)) + (alpha >> 7) * 9;
  uint64_t t = ((nib << 4) | (nib >> 8)) & 0x00ff00ff00ff00ffull;
  t = (t | (t >> 8)) & 0x0000ffff0000ffffull;
  uint32_t v = (uint32_t)(t | (t >> 16));
  out[0] = (uint8_t)v;
  out[1] = (uint8_t)(v >> 8);
  out[2] = (uint8_t)(v >> 16);
  out[3] = (uint8_t)(v >> 24);
}

static inline int uvotel__hex_ids_swar(const char *tid, const char *sid, uint8_t *tid_out,
                                       uint8_t *sid_out) {
  uint64_t bad = 0;
  for (int i = 0; i < 4; i++) uvotel__hex8_swar(tid + 8 * i, tid_out + 4 * i, &bad);
  for (int i = 0; i < 2; i++) uvotel__hex8_swar(sid + 8 * i, sid_out + 4 * i, &bad);
  return bad == 0;
}

#if defined(__SSE2__)
/* 16 characters -> 8 bytes as 16-bit lanes (n0 << 4) | n1 (to be packed); bytes that were
 * [0-9a-f] are 0xff in *ok. Signed compares: bytes >= 0x80 are negative and fail both ranges. */
static inline __m128i uvotel__hex16_sse2(const char *p, __m128i *ok) {
  __m128i c = _mm_loadu_si128((const __m128i *)(const void *)p);
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
  __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('a' - 1)),
                                _mm_cmplt_epi8(c, _mm_set1_epi8('f' + 1)));
  __m128i nib =
      _mm_add_epi8(_mm_and_si128(c, _mm_set1_epi8(0x0f)), _mm_and_si128(alpha, _mm_set1_epi8(9)));
  __m128i hi = _mm_slli_epi16(_mm_and_si128(nib, _mm_set1_epi16(0x00ff)), 4);
  *ok = _mm_and_si128(*ok, _mm_or_si128(digit, alpha));
  return _mm_or_si128(hi, _mm_srli_epi16(nib, 8));
}

static inline int uvotel__hex_ids_sse2(const char *tid, const char *sid, uint8_t *tid_out,
                                       uint8_t *sid_out) {
  __m128i ok = _mm_set1_epi8(-1);
  __m128i t0 = uvotel__hex16_sse2(tid, &ok), t1 = uvotel__hex16_sse2(tid + 16, &ok);
  __m128i s0 = uvotel__hex16_sse2(sid, &ok);
  _mm_storeu_si128((__m128i *)(void *)tid_out, _mm_packus_epi16(t0, t1));
  _mm_storel_epi64((__m128i *)(void *)sid_out, _mm_packus_epi16(s0, s0));
  return _mm_movemask_epi8(ok) == 0xffff;
}
#endif

#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
/* PSHUFB tables, by low nibble and by high nibble of a character: their AND is nonzero exactly
 * for [0-9] (bit 0: low 0-9, high 3) and [a-f] (bit 1: low 1-6, high 6); bytes >= 0x80 have a
 * high nibble of 8-f, which has no bits. The value is the low nibble plus 9 for high nibble 6,
 * and PMADDUBSW by (16, 1) pairs makes (n0 << 4) | n1 in each 16-bit lane. */
#define UVOTEL__HEX_LO_TBL 1, 3, 3, 3, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0
#define UVOTEL__HEX_HI_TBL 0, 0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define UVOTEL__HEX_ADD_TBL 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0

/* 16 characters -> 16-bit lanes to pack; *bad gets 0xff for each byte that was not hex. */
__attribute__((target("ssse3"))) static inline __m128i uvotel__hex16_ssse3(__m128i c,
                                                                           __m128i *bad) {
  const __m128i nib = _mm_set1_epi8(0x0f);
  __m128i lo = _mm_and_si128(c, nib), hi = _mm_and_si128(_mm_srli_epi16(c, 4), nib);
  __m128i cls = _mm_and_si128(_mm_shuffle_epi8(_mm_setr_epi8(UVOTEL__HEX_LO_TBL), lo),
                              _mm_shuffle_epi8(_mm_setr_epi8(UVOTEL__HEX_HI_TBL), hi));
  *bad = _mm_or_si128(*bad, _mm_cmpeq_epi8(cls, _mm_setzero_si128()));
  __m128i v = _mm_add_epi8(lo, _mm_shuffle_epi8(_mm_setr_epi8(UVOTEL__HEX_ADD_TBL), hi));
  return _mm_maddubs_epi16(v, _mm_set1_epi16(0x0110));
}

__attribute__((target("ssse3"))) static inline int uvotel__hex_ids_ssse3(const char *tid,
                                                                         const char *sid,
                                                                         uint8_t *tid_out,
                                                                         uint8_t *sid_out) {
  __m128i bad = _mm_setzero_si128();
  __m128i t0 = uvotel__hex16_ssse3(_mm_loadu_si128((const __m128i *)(const void *)tid), &bad);
  __m128i t1 =
      uvotel__hex16_ssse3(_mm_loadu_si128((const __m128i *)(const void *)(tid + 16)), &bad);
  __m128i s0 = uvotel__hex16_ssse3(_mm_loadu_si128((const __m128i *)(const void *)sid), &bad);
  _mm_storeu_si128((__m128i *)(void *)tid_out, _mm_packus_epi16(t0, t1));
  _mm_storel_epi64((__m128i *)(void *)sid_out, _mm_packus_epi16(s0, s0));
  return _mm_movemask_epi8(bad) == 0;
}

/* The trace id's 32 characters in one AVX2 step (PSHUFB and PMADDUBSW work within each 16-byte
 * lane: the tables twice, and the packed halves joined from the two lanes), the span id's 16 in
 * one SSSE3 step. */
__attribute__((target("avx2"))) static inline int uvotel__hex_ids_avx2(const char *tid,
                                                                       const char *sid,
                                                                       uint8_t *tid_out,
                                                                       uint8_t *sid_out) {
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)tid);
  __m256i lo = _mm256_and_si256(c, nib), hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), nib);
  __m256i cls = _mm256_and_si256(
      _mm256_shuffle_epi8(_mm256_setr_epi8(UVOTEL__HEX_LO_TBL, UVOTEL__HEX_LO_TBL), lo),
      _mm256_shuffle_epi8(_mm256_setr_epi8(UVOTEL__HEX_HI_TBL, UVOTEL__HEX_HI_TBL), hi));
  __m256i v = _mm256_add_epi8(
      lo, _mm256_shuffle_epi8(_mm256_setr_epi8(UVOTEL__HEX_ADD_TBL, UVOTEL__HEX_ADD_TBL), hi));
  __m256i w = _mm256_maddubs_epi16(v, _mm256_set1_epi16(0x0110));
  __m256i packed = _mm256_packus_epi16(w, w); /* bytes 0-7 of each lane: its 8 id bytes */
  __m128i tid_bytes =
      _mm_unpacklo_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
  __m128i bad = _mm_setzero_si128();
  __m128i s0 = uvotel__hex16_ssse3(_mm_loadu_si128((const __m128i *)(const void *)sid), &bad);
  _mm_storeu_si128((__m128i *)(void *)tid_out, tid_bytes);
  _mm_storel_epi64((__m128i *)(void *)sid_out, _mm_packus_epi16(s0, s0));
  __m256i tbad = _mm256_cmpeq_epi8(cls, _mm256_setzero_si256());
  return (_mm256_movemask_epi8(tbad) | _mm_movemask_epi8(bad)) == 0;
}
#endif

#endif
