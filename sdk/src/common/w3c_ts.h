/* W3C tracestate line parsing: character classes of 64-byte blocks as bit masks (a byte table,
 * SSE2, and SSSE3 or AVX2 behind a runtime CPU check in tracestate.c), the canonical-line check
 * built on them, and the member accumulator of the general walk. Header-only so the tests run
 * every classifier against byte loops (tests/unit/test_w3c_ts.c); tracestate.c (trace/) is the
 * one user in the library.
 *
 * Why masks: checking each byte is most of the cost of a tracestate. Classifying 16 or 32 bytes
 * at a time into a separator mask, an "=" mask and a not-a-key-byte mask, plus one printability
 * flag, lets a canonical line ("k=v,k=v") be checked whole with a few word operations and its
 * members be read off with count-trailing-zeros; every byte is still checked once. */
#ifndef UVOTEL_COMMON_W3C_TS_H
#define UVOTEL_COMMON_W3C_TS_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/trace_state.h"
#include "w3c.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && defined(__SSE2__) && \
    (defined(__GNUC__) || defined(__clang__))
#include <tmmintrin.h>
#define UVOTEL__HAVE_SSSE3_TARGET 1
#endif

/* ---- classification of one block: bytes [p, p + n), 1 <= n <= 64, of a line that starts at
 * `line` (line <= p), into five masks (bit i: byte p[i]) and a flag. Bits n..63 are 0 in sep,
 * eq, nostart and sp, 1 in other. The vector versions read only bytes of the line: a partial last
 * 16 bytes are read as the 16 bytes that end at p + n (when the line is that long) and their masks
 * shifted. ----
 */

typedef struct uvotel__ts_cls_s {
  uint64_t sep;     /* "," or "=" */
  uint64_t eq;      /* "=" */
  uint64_t other;   /* neither a key byte (a-z 0-9 _ - * / @) nor "," nor "=" */
  uint64_t nostart; /* 0x20-0x2f or 0x40-0x5f: of the key bytes, exactly those that cannot start
                     * a key (* - / @ _); the test is on the high nibble alone (2, 4 or 5) */
  uint64_t sp;      /* " " (a value may not end in one) */
  unsigned notp;    /* nonzero if a byte of [p, p + n) is not printable (outside 0x20-0x7e); the
                     * vector versions may include bytes of the line before p */
} uvotel__ts_cls_t;

static inline void uvotel__ts_cls_scalar(const char *line, const char *p, size_t n,
                                         uvotel__ts_cls_t *o) {
  (void)line;
  uint64_t s = 0, e = 0, k = 0, ns = 0, sp = 0;
  unsigned v = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t b = (uint8_t)p[i];
    int sep = b == ',' || b == '=';
    unsigned hn = b >> 4;
    v |= b < 0x20 || b > 0x7e;
    s |= (uint64_t)sep << i;
    e |= (uint64_t)(b == '=') << i;
    k |= (uint64_t)(!sep && !(uvotel__cc[b] & UVOTEL__CC_TS_KEY)) << i;
    ns |= (uint64_t)(hn == 2 || hn == 4 || hn == 5) << i;
    sp |= (uint64_t)(b == ' ') << i;
  }
  if (n < 64) k |= ~0ull << n;
  o->sep = s;
  o->eq = e;
  o->other = k;
  o->nostart = ns;
  o->sp = sp;
  o->notp = v;
}

#if defined(__SSE2__)
/* One 16-byte step of the SSE2 classifier: the sep and other masks; lo/hi collect the smallest
 * and largest byte (unsigned) for the printability test. */
static inline void uvotel__ts_step_sse2(__m128i x, unsigned *sep, unsigned *eq, unsigned *other,
                                        unsigned *nostart, unsigned *sp, __m128i *lo, __m128i *hi) {
  __m128i lower = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('a' - 1)),
                                _mm_cmplt_epi8(x, _mm_set1_epi8('z' + 1)));
  __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(x, _mm_set1_epi8('0' - 1)),
                                _mm_cmplt_epi8(x, _mm_set1_epi8('9' + 1)));
  __m128i sym = _mm_or_si128(
      _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('_')), _mm_cmpeq_epi8(x, _mm_set1_epi8('-'))),
      _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('*')),
                                _mm_cmpeq_epi8(x, _mm_set1_epi8('/'))),
                   _mm_cmpeq_epi8(x, _mm_set1_epi8('@'))));
  __m128i e = _mm_cmpeq_epi8(x, _mm_set1_epi8('='));
  __m128i s = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')), e);
  *sep = (unsigned)_mm_movemask_epi8(s);
  *eq = (unsigned)_mm_movemask_epi8(e);
  *other =
      (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(lower, digit), _mm_or_si128(sym, s))) ^
      0xffffu;
  __m128i hn = _mm_and_si128(x, _mm_set1_epi8((char)0xf0));
  *nostart = (unsigned)_mm_movemask_epi8(
      _mm_or_si128(_mm_cmpeq_epi8(hn, _mm_set1_epi8(0x20)),
                   _mm_or_si128(_mm_cmpeq_epi8(hn, _mm_set1_epi8(0x40)),
                                _mm_cmpeq_epi8(hn, _mm_set1_epi8(0x50)))));
  *sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
  *lo = _mm_min_epu8(*lo, x);
  *hi = _mm_max_epu8(*hi, x);
}

/* Printable: every byte in 0x20..0x7e, from the smallest and largest byte seen. */
static inline unsigned uvotel__ts_notp_sse2(__m128i lo, __m128i hi) {
  __m128i below = _mm_cmpeq_epi8(_mm_max_epu8(lo, _mm_set1_epi8(0x20)), lo); /* lo >= 0x20 */
  __m128i above = _mm_cmpeq_epi8(_mm_min_epu8(hi, _mm_set1_epi8(0x7e)), hi); /* hi <= 0x7e */
  return (unsigned)_mm_movemask_epi8(_mm_and_si128(below, above)) ^ 0xffffu;
}

/* The steps of both vector classifiers: whole 16-byte steps, then the last partial one read
 * overlapping and shifted. STEP is the step function. */
#define UVOTEL__TS_CLS_VECTOR(STEP)                                                               \
  do {                                                                                            \
    uint64_t s = 0, e = 0, k = 0, ns = 0, sp = 0;                                                 \
    unsigned sm, em, km, nm, pm;                                                                  \
    __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7e);                                   \
    size_t off = 0;                                                                               \
    for (; off + 16 <= n; off += 16) {                                                            \
      STEP(_mm_loadu_si128((const __m128i *)(const void *)(p + off)), &sm, &em, &km, &nm, &pm,    \
           &lo, &hi);                                                                             \
      s |= (uint64_t)sm << off;                                                                   \
      e |= (uint64_t)em << off;                                                                   \
      k |= (uint64_t)km << off;                                                                   \
      ns |= (uint64_t)nm << off;                                                                  \
      sp |= (uint64_t)pm << off;                                                                  \
    }                                                                                             \
    if (off < n) {                                                                                \
      unsigned sh = (unsigned)(off + 16 - n);                                                     \
      STEP(_mm_loadu_si128((const __m128i *)(const void *)(p + n - 16)), &sm, &em, &km, &nm, &pm, \
           &lo, &hi);                                                                             \
      s |= (uint64_t)(sm >> sh) << off;                                                           \
      e |= (uint64_t)(em >> sh) << off;                                                           \
      k |= (uint64_t)(km >> sh) << off;                                                           \
      ns |= (uint64_t)(nm >> sh) << off;                                                          \
      sp |= (uint64_t)(pm >> sh) << off;                                                          \
    }                                                                                             \
    if (n < 64) k |= ~0ull << n;                                                                  \
    o->sep = s;                                                                                   \
    o->eq = e;                                                                                    \
    o->other = k;                                                                                 \
    o->nostart = ns;                                                                              \
    o->sp = sp;                                                                                   \
    o->notp = uvotel__ts_notp_sse2(lo, hi);                                                       \
  } while (0)

static inline void uvotel__ts_cls_sse2(const char *line, const char *p, size_t n,
                                       uvotel__ts_cls_t *o) {
  if ((size_t)(p - line) + n < 16) {
    uvotel__ts_cls_scalar(line, p, n, o);
    return;
  }
  UVOTEL__TS_CLS_VECTOR(uvotel__ts_step_sse2);
}
#endif

#if defined(UVOTEL__HAVE_SSSE3_TARGET)
/* One step with two PSHUFB nibble lookups. The key characters are six rectangles of (high
 * nibble) x (low nibble) cells, bits 0-5; "," and "=" are single cells, bits 6 and 7. A byte
 * is in a class when the bits of its two nibbles meet:
 *   bit 0 {3,6,7} x {1-9}   bit 1 {3,4,7} x {0}   bit 2 {2,6,7} x {a}
 *   bit 3 {6} x {b-f}       bit 4 {2,6} x {d,f}   bit 5 {5,6} x {f}
 *   bit 6 {2} x {c} ","     bit 7 {3} x {d} "="
 * Six is the fewest for the keys: '@' '_' '-' 'z' 'k' '1' pairwise share no all-key rectangle.
 * Bit 7 is what movemask reads; bit 6 is moved there by adding the byte to itself. */
__attribute__((target("ssse3"))) static inline void uvotel__ts_step_ssse3(
    __m128i x, unsigned *sep, unsigned *eq, unsigned *other, unsigned *nostart, unsigned *sp,
    __m128i *lo, __m128i *hi) {
  const __m128i lo_tbl = _mm_setr_epi8(0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
                                       0x04, 0x08, 0x48, (char)0x98, 0x08, 0x38);
  const __m128i hi_tbl =
      _mm_setr_epi8(0, 0, 0x54, (char)0x83, 0x02, 0x20, 0x3d, 0x07, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m128i ns_tbl =
      _mm_setr_epi8(0, 0, (char)0x80, 0, (char)0x80, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m128i nib = _mm_set1_epi8(0x0f);
  __m128i hn = _mm_and_si128(_mm_srli_epi16(x, 4), nib);
  __m128i r =
      _mm_and_si128(_mm_shuffle_epi8(lo_tbl, _mm_and_si128(x, nib)), _mm_shuffle_epi8(hi_tbl, hn));
  *sep = (unsigned)_mm_movemask_epi8(_mm_or_si128(r, _mm_add_epi8(r, r)));
  *eq = (unsigned)_mm_movemask_epi8(r);
  *other = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(r, _mm_setzero_si128()));
  *nostart = (unsigned)_mm_movemask_epi8(_mm_shuffle_epi8(ns_tbl, hn));
  *sp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')));
  *lo = _mm_min_epu8(*lo, x);
  *hi = _mm_max_epu8(*hi, x);
}

__attribute__((target("ssse3"))) static inline void uvotel__ts_cls_ssse3(const char *line,
                                                                         const char *p, size_t n,
                                                                         uvotel__ts_cls_t *o) {
  if ((size_t)(p - line) + n < 16) {
    uvotel__ts_cls_scalar(line, p, n, o);
    return;
  }
  UVOTEL__TS_CLS_VECTOR(uvotel__ts_step_ssse3);
}
#endif

#if defined(UVOTEL__HAVE_SSSE3_TARGET)
#include <immintrin.h>
/* The SSSE3 step on 32 bytes (AVX2: PSHUFB works within each 16-byte lane, so the tables are
 * the same twice). Half the steps, and three-operand instructions (no register copies). */
__attribute__((target("avx2"))) static inline void uvotel__ts_step_avx2(
    __m256i x, uint32_t *sep, uint32_t *eq, uint32_t *other, uint32_t *nostart, uint32_t *sp,
    __m256i *lo, __m256i *hi) {
  const __m256i lo_tbl =
      _mm256_setr_epi8(0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x04, 0x08, 0x48,
                       (char)0x98, 0x08, 0x38, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
                       0x01, 0x04, 0x08, 0x48, (char)0x98, 0x08, 0x38);
  const __m256i hi_tbl =
      _mm256_setr_epi8(0, 0, 0x54, (char)0x83, 0x02, 0x20, 0x3d, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       0x54, (char)0x83, 0x02, 0x20, 0x3d, 0x07, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i ns_tbl =
      _mm256_setr_epi8(0, 0, (char)0x80, 0, (char)0x80, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                       0, (char)0x80, 0, (char)0x80, (char)0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  __m256i hn = _mm256_and_si256(_mm256_srli_epi16(x, 4), nib);
  __m256i r = _mm256_and_si256(_mm256_shuffle_epi8(lo_tbl, _mm256_and_si256(x, nib)),
                               _mm256_shuffle_epi8(hi_tbl, hn));
  *sep = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(r, _mm256_add_epi8(r, r)));
  *eq = (uint32_t)_mm256_movemask_epi8(r);
  *other = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(r, _mm256_setzero_si256()));
  *nostart = (uint32_t)_mm256_movemask_epi8(_mm256_shuffle_epi8(ns_tbl, hn));
  *sp = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, _mm256_set1_epi8(' ')));
  *lo = _mm256_min_epu8(*lo, x);
  *hi = _mm256_max_epu8(*hi, x);
}

__attribute__((target("avx2"))) static inline void uvotel__ts_cls_avx2(const char *line,
                                                                       const char *p, size_t n,
                                                                       uvotel__ts_cls_t *o) {
  if ((size_t)(p - line) + n < 32) {
    uvotel__ts_cls_ssse3(line, p, n, o);
    return;
  }
  uint64_t s = 0, e = 0, k = 0, ns = 0, sp = 0;
  uint32_t sm, em, km, nm, pm;
  __m256i lo = _mm256_set1_epi8(0x20), hi = _mm256_set1_epi8(0x7e);
  size_t off = 0;
  for (; off + 32 <= n; off += 32) {
    uvotel__ts_step_avx2(_mm256_loadu_si256((const __m256i *)(const void *)(p + off)), &sm, &em,
                         &km, &nm, &pm, &lo, &hi);
    s |= (uint64_t)sm << off;
    e |= (uint64_t)em << off;
    k |= (uint64_t)km << off;
    ns |= (uint64_t)nm << off;
    sp |= (uint64_t)pm << off;
  }
  if (off < n) { /* the last, partial step: the 32 bytes that end at p + n */
    unsigned sh = (unsigned)(off + 32 - n);
    uvotel__ts_step_avx2(_mm256_loadu_si256((const __m256i *)(const void *)(p + n - 32)), &sm, &em,
                         &km, &nm, &pm, &lo, &hi);
    s |= (uint64_t)(sm >> sh) << off;
    e |= (uint64_t)(em >> sh) << off;
    k |= (uint64_t)(km >> sh) << off;
    ns |= (uint64_t)(nm >> sh) << off;
    sp |= (uint64_t)(pm >> sh) << off;
  }
  if (n < 64) k |= ~0ull << n;
  __m256i below = _mm256_cmpeq_epi8(_mm256_max_epu8(lo, _mm256_set1_epi8(0x20)), lo);
  __m256i above = _mm256_cmpeq_epi8(_mm256_min_epu8(hi, _mm256_set1_epi8(0x7e)), hi);
  o->sep = s;
  o->eq = e;
  o->other = k;
  o->nostart = ns;
  o->sp = sp;
  o->notp = ~(uint32_t)_mm256_movemask_epi8(_mm256_and_si256(below, above));
}
#endif

typedef void (*uvotel__ts_cls_fn)(const char *line, const char *p, size_t n, uvotel__ts_cls_t *o);

/* ---- the member walk ---- */

/* A member as slices of the input line(s). */
typedef struct uvotel__ts_slice_s {
  const char *k;
  size_t kl;
  const char *v;
  size_t vl;
} uvotel__ts_slice_t;

/* Members found so far. `lens` has bit (key length % 64) set for every key kept: a key whose
 * bit is clear cannot be a duplicate, so the byte comparisons run only on a length match. */
typedef struct uvotel__ts_acc_s {
  uvotel__ts_slice_t m[UVOTEL_TRACE_STATE_MAX_MEMBERS];
  size_t nm, wire; /* members, and their bytes without the commas */
  uint64_t lens;
  unsigned flags; /* UVOTEL_TRACE_STATE_STRICT */
} uvotel__ts_acc_t;

static inline int uvotel__ts_key_eq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (a[i] != b[i]) return 0;
  }
  return 1;
}

/* Add a parsed member: a repeated key keeps its first occurrence (strict: reject). */
static inline int uvotel__ts_acc_add(uvotel__ts_acc_t *a, const char *k, size_t kl, const char *v,
                                     size_t vl) {
  uint64_t bit = 1ull << (kl & 63);
  if (a->lens & bit) {
    for (size_t j = 0; j < a->nm; j++) {
      if (a->m[j].kl == kl && uvotel__ts_key_eq(a->m[j].k, k, kl)) {
        return (a->flags & UVOTEL_TRACE_STATE_STRICT) ? UVOTEL_EPARSE : 0;
      }
    }
  }
  if (a->nm == UVOTEL_TRACE_STATE_MAX_MEMBERS) return UVOTEL_ERANGE;
  a->lens |= bit;
  uvotel__ts_slice_t *m = &a->m[a->nm++];
  m->k = k;
  m->kl = kl;
  m->v = v;
  m->vl = vl;
  a->wire += kl + 1 + vl;
  return 0;
}

/* Per bit: the parity of the set bits at or below it (a prefix XOR). */
static inline uint64_t uvotel__prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  x ^= x << 32;
  return x;
}

/* Longest line the canonical path takes (16 blocks); longer lines take the byte walk. */
#define UVOTEL__TS_FAST_MAX 1024

/* Could line[0..len) be canonical: exactly "k=v,k=v,..." with valid keys and values, no OWS,
 * no empty members? Returns the number of blocks (>= 1) with the separator masks in seps[], or 0
 * (not canonical, or longer than UVOTEL__TS_FAST_MAX). What the masks do not say is left to the
 * caller: the length limits (which only a line longer than a value can break), the member count,
 * and repeated keys.
 *
 * When "=" and "," alternate, starting with "=", the parity of the separators up to each byte
 * says whether it is in a key (even) or in "=value" (odd). One pass over the blocks checks the
 * rest with mask arithmetic: "=" exactly the odd separators, key bytes key characters, every byte
 * printable, no two separators side by side (no empty key or value), each key starting with a-z
 * or 0-9 (the byte after each "," and byte 0 neither a separator nor in `nostart`), no value ending
 * in a space (a trailing OWS the general walk trims), and the line ending inside a value. */
__attribute__((always_inline)) static inline size_t uvotel__ts_canonical(const char *line,
                                                                         size_t len,
                                                                         uvotel__ts_cls_fn cls,
                                                                         uint64_t *seps) {
  if (len == 0 || len > UVOTEL__TS_FAST_MAX) return 0;
  uint64_t bad = 0, par_in = 0, sep_in = 0, com_in = 1, sp_in = 0, last = 0;
  unsigned notp = 0;
  size_t nb = (len + 63) / 64;
  for (size_t b = 0; b < nb; b++) {
    size_t n = len - 64 * b < 64 ? len - 64 * b : 64;
    uvotel__ts_cls_t m;
    cls(line, line + 64 * b, n, &m);
    uint64_t par = uvotel__prefix_xor(m.sep) ^ par_in;
    uint64_t com = m.sep & ~m.eq;
    /* key bytes; past the end `other` is set, but the parity there is the end's: odd */
    bad |= m.other & ~par;
    bad |= m.eq ^ (m.sep & par);            /* "=" exactly the odd separators, "," the even */
    bad |= m.sep & ((m.sep << 1) | sep_in); /* two separators side by side */
    bad |= (m.nostart | m.sep) & ((com << 1) | com_in); /* a key's first byte: after ",", at 0 */
    bad |= com & ((m.sp << 1) | sp_in);                 /* a value's last byte: before "," */
    notp |= m.notp;
    par_in = (uint64_t)0 - (par >> 63);
    sep_in = m.sep >> 63;
    com_in = com >> 63;
    sp_in = m.sp >> 63;
    last = (par & ~(m.sep | m.sp)) >> (n - 1); /* the last byte: in a value, not "," "=" " " */
    seps[b] = m.sep;
  }
  if (bad != 0 || notp != 0 || !(last & 1)) return 0;
  return nb;
}

/* ---- short lines, 16..63 bytes (most tracestate headers): the masks read with overlapping
 * 16- or 32-byte loads that never pass the end, each OR-ed in at its offset (an overlapped byte
 * gives the same bit twice), and the canonical decision on the one word. ---- */

#define UVOTEL__TS_SHORT_MIN 16
#define UVOTEL__TS_SHORT_MAX 63

/* uvotel__ts_canonical's decision on one word: the masks of line[0..len), 1 <= len <= 63, with
 * every bit at or past len clear (in `other` too) and `par` the prefix XOR of `sep`. Returns
 * `sep` (never 0 for a canonical line: it has an "=") when canonical, else 0. */
static inline uint64_t uvotel__ts_decide_short(uint64_t sep, uint64_t eq, uint64_t other,
                                               uint64_t nostart, uint64_t sp, uint64_t par,
                                               unsigned notp, size_t len) {
  uint64_t com = sep & ~eq;
  uint64_t bad = other & ~par;                    /* in a key: key bytes only */
  bad |= eq ^ (sep & par);                        /* "=" exactly the odd separators */
  bad |= sep & (sep << 1);                        /* two separators side by side */
  bad |= (nostart | sep) & ((com << 1) | 1);      /* a key's first byte: a-z 0-9 */
  bad |= com & (sp << 1);                         /* a value's last byte before ",": not " " */
  bad |= (~par | sep | sp) & (1ull << (len - 1)); /* the last byte: in a value, not " " */
  return (bad | notp) ? 0 : sep;
}

#if defined(UVOTEL__HAVE_SSSE3_TARGET)
#include <wmmintrin.h>

/* A line of 16..63 bytes with SSSE3 steps (16 bytes each, the last one overlapping). */
__attribute__((target("ssse3"))) static inline uint64_t uvotel__ts_short_ssse3(const char *line,
                                                                               size_t len) {
  uint64_t s = 0, e = 0, k = 0, ns = 0, sp = 0;
  unsigned sm, em, km, nm, pm;
  __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7e);
  for (size_t o = 0;; o += 16) {
    if (o + 16 > len) o = len - 16;
    uvotel__ts_step_ssse3(_mm_loadu_si128((const __m128i *)(const void *)(line + o)), &sm, &em, &km,
                          &nm, &pm, &lo, &hi);
    s |= (uint64_t)sm << o;
    e |= (uint64_t)em << o;
    k |= (uint64_t)km << o;
    ns |= (uint64_t)nm << o;
    sp |= (uint64_t)pm << o;
    if (o + 16 >= len) break;
  }
  return uvotel__ts_decide_short(s, e, k, ns, sp, uvotel__prefix_xor(s),
                                 uvotel__ts_notp_sse2(lo, hi), len);
}

/* A line of 16..63 bytes with AVX2: two 32-byte loads (at 0 and ending at the end), or two
 * 16-byte ones below 32 bytes; the prefix XOR is one carry-less multiply by all ones. */
__attribute__((target("avx2,pclmul"))) static inline uint64_t uvotel__ts_short_avx2(
    const char *line, size_t len) {
  uint64_t s, e, k, ns, sp;
  unsigned notp;
  if (len >= 32) {
    uint32_t sa, ea, ka, na, pa, sb, eb, kb, nb, pb;
    __m256i lo = _mm256_set1_epi8(0x20), hi = _mm256_set1_epi8(0x7e);
    size_t o = len - 32;
    uvotel__ts_step_avx2(_mm256_loadu_si256((const __m256i *)(const void *)line), &sa, &ea, &ka,
                         &na, &pa, &lo, &hi);
    uvotel__ts_step_avx2(_mm256_loadu_si256((const __m256i *)(const void *)(line + o)), &sb, &eb,
                         &kb, &nb, &pb, &lo, &hi);
    s = sa | (uint64_t)sb << o;
    e = ea | (uint64_t)eb << o;
    k = ka | (uint64_t)kb << o;
    ns = na | (uint64_t)nb << o;
    sp = pa | (uint64_t)pb << o;
    __m256i below = _mm256_cmpeq_epi8(_mm256_max_epu8(lo, _mm256_set1_epi8(0x20)), lo);
    __m256i above = _mm256_cmpeq_epi8(_mm256_min_epu8(hi, _mm256_set1_epi8(0x7e)), hi);
    notp = ~(uint32_t)_mm256_movemask_epi8(_mm256_and_si256(below, above));
  } else {
    unsigned sa, ea, ka, na, pa, sb, eb, kb, nb, pb;
    __m128i lo = _mm_set1_epi8(0x20), hi = _mm_set1_epi8(0x7e);
    size_t o = len - 16;
    uvotel__ts_step_ssse3(_mm_loadu_si128((const __m128i *)(const void *)line), &sa, &ea, &ka, &na,
                          &pa, &lo, &hi);
    uvotel__ts_step_ssse3(_mm_loadu_si128((const __m128i *)(const void *)(line + o)), &sb, &eb, &kb,
                          &nb, &pb, &lo, &hi);
    s = sa | (uint64_t)sb << o;
    e = ea | (uint64_t)eb << o;
    k = ka | (uint64_t)kb << o;
    ns = na | (uint64_t)nb << o;
    sp = pa | (uint64_t)pb << o;
    notp = uvotel__ts_notp_sse2(lo, hi);
  }
  uint64_t par = (uint64_t)_mm_cvtsi128_si64(
      _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)s), _mm_set1_epi8(-1), 0));
  return uvotel__ts_decide_short(s, e, k, ns, sp, par, notp, len);
}
#endif

#endif
