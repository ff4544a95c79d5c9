/* W3C traceparent (Trace Context Level 2): parse and format. */
#include "propagation_internal.h"

#include "../common/w3c_hex.h"

/* Formatting: hex in 8-character chunks with 64-bit word arithmetic (SWAR). */
#define ONES 0x0101010101010101ull

static inline void store_le64(char *p, uint64_t x) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  x = __builtin_bswap64(x);
#endif
  memcpy(p, &x, 8);
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

/* The ids' hex (src/common/w3c_hex.h) with the best version this CPU has, chosen once at load:
 * AVX2 or SSSE3 where the CPU has them (the x86-64 baseline the library is built for does not
 * promise either), SSE2 (that baseline), word arithmetic elsewhere. */
#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
static int g_tp_simd; /* 0: SSE2, 1: SSSE3, 2: AVX2 */

__attribute__((constructor)) static void tp_cpu_probe(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    g_tp_simd = 2;
  } else if (__builtin_cpu_supports("ssse3")) {
    g_tp_simd = 1;
  }
}
#endif

static inline int hex_ids(const char *s, uint8_t *to, uint8_t *so) {
  const char *tid = s + 3, *sid = s + 36;
#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
  if (UVOTEL__LIKELY(g_tp_simd == 2)) return uvotel__hex_ids_avx2(tid, sid, to, so);
  if (g_tp_simd == 1) return uvotel__hex_ids_ssse3(tid, sid, to, so);
#endif
#if defined(__SSE2__)
  return uvotel__hex_ids_sse2(tid, sid, to, so);
#else
  return uvotel__hex_ids_swar(tid, sid, to, so);
#endif
}

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
  return uvotel__traceparent_parse(s, len, out);
}

/* The usual traceparent: version 00, exactly 55 bytes, no OWS (its first and last bytes are
 * then "0" and a hex digit). 0 when it is that and valid (*out written), else 1 (*out untouched):
 * the general parse below then decides. `ids` is a w3c_hex.h decoder; each CPU level has its own
 * copy with the decoder inlined. */
__attribute__((always_inline)) static inline int tp_fast(const char *s, uvotel_span_context_t *out,
                                                         int (*ids)(const char *, const char *,
                                                                    uint8_t *, uint8_t *)) {
  const uint8_t *u = (const uint8_t *)s;
  unsigned f0 = hexval[u[53]], f1 = hexval[u[54]];
  if (s[0] != '0' || s[1] != '0' || s[2] != '-' || s[35] != '-' || s[52] != '-' ||
      ((f0 | f1) & 0x10)) {
    return 1;
  }
  uint64_t w[3]; /* trace id (two words), span id */
  if (!ids(s + 3, s + 36, (uint8_t *)w, (uint8_t *)(w + 2))) return 1;
  if ((w[0] | w[1]) == 0 || w[2] == 0) return 1;
  memcpy(out->trace_id.bytes, w, 16);
  memcpy(out->span_id.bytes, w + 2, 8);
  out->flags = (uint8_t)((f0 << 4 | f1) & UVOTEL_TRACE_FLAGS_KNOWN);
  out->is_remote = 1;
  out->trace_state = NULL;
  return 0;
}

static int tp_parse_general(const char *s, size_t len, uvotel_span_context_t *out);

/* A 55-byte line, whole: the fast path, and the general parse for what it declines (a tail call,
 * so the usual line keeps nothing across a call). */
#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
__attribute__((target("avx2"), noinline)) static int tp_parse55_avx2(const char *s,
                                                                     uvotel_span_context_t *out) {
  return tp_fast(s, out, uvotel__hex_ids_avx2) == 0 ? 0 : tp_parse_general(s, 55, out);
}
__attribute__((target("ssse3"), noinline)) static int tp_parse55_ssse3(const char *s,
                                                                       uvotel_span_context_t *out) {
  return tp_fast(s, out, uvotel__hex_ids_ssse3) == 0 ? 0 : tp_parse_general(s, 55, out);
}
#endif

static inline int tp_parse55(const char *s, uvotel_span_context_t *out) {
#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
  if (UVOTEL__LIKELY(g_tp_simd == 2)) return tp_parse55_avx2(s, out);
  if (g_tp_simd == 1) return tp_parse55_ssse3(s, out);
#endif
#if defined(__SSE2__)
  return tp_fast(s, out, uvotel__hex_ids_sse2) == 0 ? 0 : tp_parse_general(s, 55, out);
#else
  return tp_fast(s, out, uvotel__hex_ids_swar) == 0 ? 0 : tp_parse_general(s, 55, out);
#endif
}

/* Everything else: OWS, future versions, and every error. */
__attribute__((noinline)) static int tp_parse_general(const char *s, size_t len,
                                                      uvotel_span_context_t *out) {
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
  uint64_t w[3]; /* trace id (two words), span id */
  if (!hex_ids(s, (uint8_t *)w, (uint8_t *)(w + 2))) return UVOTEL_EPARSE;
  if ((w[0] | w[1]) == 0 || w[2] == 0) return UVOTEL_EPARSE;
  memcpy(out->trace_id.bytes, w, 16);
  memcpy(out->span_id.bytes, w + 2, 8);
  out->flags = (uint8_t)(flags & UVOTEL_TRACE_FLAGS_KNOWN);
  out->is_remote = 1;
  out->trace_state = NULL;
  return 0;
}

int uvotel__traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (len == UVOTEL_TRACEPARENT_LEN) return tp_parse55(s, out);
  return tp_parse_general(s, len, out);
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
