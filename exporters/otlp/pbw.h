/* A protobuf writer that fills a buffer from its end towards its start (shared by the span and
 * the log encoders, encode.c and logs_encode.c).
 *
 * Written backwards, every length-delimited field's contents are in place before its header, so
 * the header (tag, then the contents' length as a varint) is written once, with the length
 * known: one pass, nothing measured twice, no sizes kept. The price is that fields go in the
 * reverse of their wire order: a message's fields are written highest number first and repeated
 * fields last element first, and the bytes end up at the end of the buffer ([p, hi)).
 *
 * Two layers:
 *   - pb_*: unchecked writers on a bare cursor (uint8_t *p, returned moved down), for runs of
 *     writes whose total size is bounded and reserved beforehand. A cursor in a local variable
 *     matters: stores of bytes through a pointer kept in a struct make the compiler reload the
 *     pointer after each one (a byte store may alias anything).
 *   - pbw_*: the buffer (pbw_t) with its room checks. pbw_room(w, n) makes sure n bytes fit below
 *     the cursor, growing the buffer (what was written stays at its end). After a failed growth
 *     w->failed is set and pbw_room returns 0 from then on; writers skip their write.
 * Marks taken with pbw_used count bytes from the end, so they survive a growth; a pointer into
 * the buffer is valid only until the next pbw_room. Thread: a writer belongs to one thread. */
#ifndef UVOTEL_OTLP_PBW_H
#define UVOTEL_OTLP_PBW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "uvotel/alloc.h"

#define PBW_LIKELY(x) __builtin_expect(!!(x), 1)
#define PBW_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* wire types */
#define PBW_VARINT 0u
#define PBW_I64 1u
#define PBW_LEN 2u
#define PBW_I32 5u

#define PBW_VARINT_MAX 10u /* a varint of 64 bits */
#define PBW_TAG_MAX 2u     /* field numbers up to 2047 */
/* the most a field other than a length-delimited one's payload takes: a tag and a varint (a
 * length, or a scalar value; fixed64 and fixed32 fields are smaller) */
#define PBW_HDR_MAX (PBW_TAG_MAX + PBW_VARINT_MAX)

/* ---- cursor writers (unchecked) ---- */

static inline size_t pb_varint_size(uint64_t v) {
  /* 1 + floor(log2(v)) / 7 bytes: (bits * 9 + 64) / 64 is exact for 1..64 bits */
  unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
  return (bits * 9u + 64u) / 64u;
}

static inline uint8_t *pb_varint(uint8_t *p, uint64_t v) {
  if (PBW_LIKELY(v < 0x80)) {
    *--p = (uint8_t)v;
    return p;
  }
  p -= pb_varint_size(v);
  uint8_t *q = p;
  while (v >= 0x80) {
    *q++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *q = (uint8_t)v;
  return p;
}

/* a field's key; folds to one or two constant stores for constant arguments */
static inline uint8_t *pb_tag(uint8_t *p, uint32_t field, uint32_t wt) {
  uint32_t k = (field << 3) | wt;
  if (k < 0x80) {
    *--p = (uint8_t)k;
  } else {
    p -= 2;
    p[0] = (uint8_t)(k | 0x80);
    p[1] = (uint8_t)(k >> 7);
  }
  return p;
}

/* fixed64 / fixed32: little-endian on the wire (one store on a little-endian machine) */
static inline uint8_t *pb_fixed64(uint8_t *p, uint64_t v) {
  p -= 8;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(p, &v, 8);
#else
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
#endif
  return p;
}

static inline uint8_t *pb_fixed32(uint8_t *p, uint32_t v) {
  p -= 4;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  memcpy(p, &v, 4);
#else
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
#endif
  return p;
}

/* Copy n bytes to dst: up to 32 in at most four overlapping moves (no call, no loop), longer
 * ones with memcpy. Returns the OR of the bytes copied, in some lanes of a word (so bit 7 of
 * each byte says whether any byte had it: 0 for ASCII), or all ones after a memcpy. */
static inline uint64_t pb_copy(uint8_t *dst, const uint8_t *s, size_t n) {
  uint64_t acc;
  if (n >= 8) {
    uint64_t a, b;
    if (n > 32) {
      memcpy(dst, s, n);
      return ~(uint64_t)0;
    }
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(dst, &a, 8);
    memcpy(dst + n - 8, &b, 8);
    acc = a | b;
    if (n > 16) {
      memcpy(&a, s + 8, 8);
      memcpy(&b, s + n - 16, 8);
      memcpy(dst + 8, &a, 8);
      memcpy(dst + n - 16, &b, 8);
      acc |= a | b;
    }
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    memcpy(dst, &a, 4);
    memcpy(dst + n - 4, &b, 4);
    acc = a | b;
  } else if (n >= 2) {
    uint16_t a, b;
    memcpy(&a, s, 2);
    memcpy(&b, s + n - 2, 2);
    memcpy(dst, &a, 2);
    memcpy(dst + n - 2, &b, 2);
    acc = (uint64_t)(a | b);
  } else if (n == 1) {
    dst[0] = s[0];
    acc = s[0];
  } else {
    acc = 0;
  }
  return acc;
}

/* n raw bytes */
static inline uint8_t *pb_raw(uint8_t *p, const void *src, size_t n) {
  p -= n;
  (void)pb_copy(p, src, n);
  return p;
}

/* the header of a length-delimited field whose contents (already written) are `len` bytes */
static inline uint8_t *pb_hdr(uint8_t *p, uint32_t field, size_t len) {
  return pb_tag(pb_varint(p, len), field, PBW_LEN);
}

/* a length-delimited field of n raw bytes, written even when n is 0 */
static inline uint8_t *pb_bytes(uint8_t *p, uint32_t field, const void *b, size_t n) {
  return pb_hdr(pb_raw(p, b, n), field, n);
}

/* proto3 scalar fields, omitted when 0 (as protobuf-c packs them) */
static inline uint8_t *pb_varint_field(uint8_t *p, uint32_t field, uint64_t v) {
  if (v == 0) return p;
  return pb_tag(pb_varint(p, v), field, PBW_VARINT);
}

static inline uint8_t *pb_fixed64_field(uint8_t *p, uint32_t field, uint64_t v) {
  if (v == 0) return p;
  return pb_tag(pb_fixed64(p, v), field, PBW_I64);
}

static inline uint8_t *pb_fixed32_field(uint8_t *p, uint32_t field, uint32_t v) {
  if (v == 0) return p;
  return pb_tag(pb_fixed32(p, v), field, PBW_I32);
}

/* ---- the buffer ---- */

typedef struct pbw_s {
  uint8_t *lo; /* buffer start */
  uint8_t *p;  /* cursor: the bytes written so far are [p, hi) */
  uint8_t *hi; /* buffer end */
  int failed;  /* a growth failed: the output is incomplete */
} pbw_t;

/* Start a writer on buf[0..cap) (uvotel_malloc'd, may be NULL with cap 0); the writer owns it
 * and may replace it when it grows (w->lo, w->hi - w->lo: the buffer and its size then). */
static inline void pbw_init(pbw_t *w, uint8_t *buf, size_t cap) {
  w->lo = buf;
  w->hi = buf != NULL ? buf + cap : NULL; /* no arithmetic on NULL: the first room grows */
  w->p = w->hi;
  w->failed = 0;
}

static inline size_t pbw_used(const pbw_t *w) {
  return (size_t)(w->hi - w->p);
}

/* Grow so that at least n bytes fit below the cursor: a new buffer of at least twice the size,
 * the written bytes moved to its end. 0, or -1 (w->failed set, the old buffer kept). */
static __attribute__((noinline, cold, unused)) int pbw_grow(pbw_t *w, size_t n) {
  if (w->failed) return -1;
  size_t used = pbw_used(w), cap = (size_t)(w->hi - w->lo);
  size_t want = used + n + 4096;
  size_t ncap = cap * 2 > want ? cap * 2 : want;
  if (want < n || ncap < cap) { /* overflow */
    w->failed = 1;
    return -1;
  }
  uint8_t *nb = uvotel_malloc(ncap);
  if (nb == NULL) {
    w->failed = 1;
    return -1;
  }
  if (used) memcpy(nb + ncap - used, w->p, used);
  uvotel_free(w->lo);
  w->lo = nb;
  w->hi = nb + ncap;
  w->p = w->hi - used;
  return 0;
}

/* 1 when n bytes fit below the cursor (after growing if needed), 0 after a failure. */
static inline int pbw_room(pbw_t *w, size_t n) {
  if (PBW_LIKELY((size_t)(w->p - w->lo) >= n)) return 1;
  return pbw_grow(w, n) == 0;
}

/* Close the length-delimited field whose contents are what was written since `mark`
 * (pbw_used before them): its length, then its tag. Makes its own room. */
static inline void pbw_close(pbw_t *w, uint32_t field, size_t mark) {
  if (!pbw_room(w, PBW_HDR_MAX)) return;
  w->p = pb_hdr(w->p, field, pbw_used(w) - mark);
}

/* A length-delimited field of n raw bytes, written even when n is 0; makes its own room. */
static inline void pbw_bytes(pbw_t *w, uint32_t field, const void *b, size_t n) {
  if (!pbw_room(w, n + PBW_HDR_MAX)) return;
  w->p = pb_bytes(w->p, field, b, n);
}

#endif
