/* W3C traceparent (Trace Context Level 2): parse and format. */
#include "propagation_internal.h"

/* Hex in 8-character chunks with 64-bit word arithmetic (SWAR): a byte-at-a-time table loop
 * costs ~40 ns per traceparent here, the word form a few. Every byte of these words stays below
 * 0x80 before the range checks, so the per-byte additions never carry into the next byte. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load_le64(const char *p) {
  uint64_t x;
  memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  return x;
}

static inline void store_le64(char *p, uint64_t x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  memcpy(p, &x, 8);
}

/* Per byte: high bit set where the byte is >= n (bytes < 0x80, n <= 0x80). */
#define GE(x, n) ((x) + ONES * (0x80 - (n)))

/* 8 lowercase hex characters -> 4 bytes, as a word whose little-endian bytes are the decoded
 * bytes in order. Anything but [0-9a-f] sets bits in *bad. */
static inline uint32_t hex8_decode(const char *p, uint64_t *bad) {
  uint64_t x = load_le64(p);
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

static inline int hex2_decode(const char *p, uint8_t *out) {
  int v = 0;
  for (int i = 0; i < 2; i++) {
    char c = p[i];
    if (c >= '0' && c <= '9') {
      v = v * 16 + (c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = v * 16 + (c - 'a' + 10);
    } else {
      return 0;
    }
  }
  *out = (uint8_t)v;
  return 1;
}

UVOTEL__API int uvotel_traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__trim_ows(&s, &len);
  if (len < UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  uint8_t version;
  if (!hex2_decode(s, &version)) return UVOTEL_EPARSE;
  if (version == 0xff) return UVOTEL_EPARSE;
  if (version == 0x00 && len != UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  /* A future version: the version-00 fields, then nothing or "-" and fields we ignore. */
  if (len > UVOTEL_TRACEPARENT_LEN && s[UVOTEL_TRACEPARENT_LEN] != '-') return UVOTEL_EPARSE;
  if (s[2] != '-' || s[35] != '-' || s[52] != '-') return UVOTEL_EPARSE;
  uint64_t bad = 0;
  uint32_t t0 = hex8_decode(s + 3, &bad), t1 = hex8_decode(s + 11, &bad),
           t2 = hex8_decode(s + 19, &bad), t3 = hex8_decode(s + 27, &bad),
           s0 = hex8_decode(s + 36, &bad), s1 = hex8_decode(s + 44, &bad);
  uint8_t flags;
  if (bad || !hex2_decode(s + 53, &flags)) return UVOTEL_EPARSE;
  if ((t0 | t1 | t2 | t3) == 0 || (s0 | s1) == 0) return UVOTEL_EPARSE;
  store_le32(out->trace_id.bytes, t0);
  store_le32(out->trace_id.bytes + 4, t1);
  store_le32(out->trace_id.bytes + 8, t2);
  store_le32(out->trace_id.bytes + 12, t3);
  store_le32(out->span_id.bytes, s0);
  store_le32(out->span_id.bytes + 4, s1);
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
