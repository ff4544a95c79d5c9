/* A protobuf writer that fills a buffer from its end towards its start (shared by the span and
 * the log encoders, encode.c and logs_encode.c).
 *
 * Written backwards, every length-delimited field's contents are in place before its header, so
 * the header (tag, then the contents' length as a varint) is written once, with the length
 * known: one pass, nothing measured twice, no sizes kept. The price is that fields go in the
 * reverse of their wire order: a message's fields are written highest number first and repeated
 * fields last element first, and the bytes end up at the end of the buffer ([p, hi)).
 *
 * Room: pbw_room(w, n) makes sure n bytes fit below the cursor (growing the buffer, which keeps
 * what was written at its end); every writer here assumes its caller made room (the PBW_*_MAX
 * bounds). After a failed growth w->failed is set, pbw_room returns 0 from then on and the
 * writers that check it write nothing more. Marks (pbw_used) count bytes from the end, so they
 * survive a growth. Thread: a writer belongs to one thread. */
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
/* a length-delimited header: tag + a length varint */
#define PBW_HDR_MAX (PBW_TAG_MAX + PBW_VARINT_MAX)

typedef struct pbw_s {
  uint8_t *lo; /* buffer start */
  uint8_t *p;  /* cursor: the bytes written so far are [p, hi) */
  uint8_t *hi; /* buffer end */
  int failed;  /* a growth failed: the output is incomplete */
} pbw_t;

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
  if (ncap < want) { /* overflow */
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

/* Start a writer on buf[0..cap) (uvotel_malloc'd, may be NULL with cap 0); the writer owns it. */
static inline void pbw_init(pbw_t *w, uint8_t *buf, size_t cap) {
  w->lo = buf;
  w->hi = buf + cap;
  w->p = w->hi;
  w->failed = 0;
}

static inline size_t pbw_varint_size(uint64_t v) {
  /* 1 + floor(log2(v)) / 7 bytes: bits * 9 / 64 + 1 is exact for 1..64 bits */
  unsigned bits = 64u - (unsigned)__builtin_clzll(v | 1);
  return (bits * 9u + 64u) / 64u;
}

/* unchecked writers: the caller made room */

static inline void pbw_varint(pbw_t *w, uint64_t v) {
  if (PBW_LIKELY(v < 0x80)) {
    *--w->p = (uint8_t)v;
    return;
  }
  size_t n = pbw_varint_size(v);
  w->p -= n;
  uint8_t *q = w->p;
  while (v >= 0x80) {
    *q++ = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  *q = (uint8_t)v;
}

/* a field's key; constant for constant arguments */
static inline void pbw_tag(pbw_t *w, uint32_t field, uint32_t wt) {
  uint32_t k = (field << 3) | wt;
  if (k < 0x80) {
    *--w->p = (uint8_t)k;
  } else {
    w->p -= 2;
    w->p[0] = (uint8_t)(k | 0x80);
    w->p[1] = (uint8_t)(k >> 7);
  }
}

static inline void pbw_raw(pbw_t *w, const void *s, size_t n) {
  w->p -= n;
  memcpy(w->p, s, n);
}

static inline void pbw_fixed64(pbw_t *w, uint64_t v) {
  w->p -= 8;
  for (int i = 0; i < 8; i++) w->p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pbw_fixed32(pbw_t *w, uint32_t v) {
  w->p -= 4;
  for (int i = 0; i < 4; i++) w->p[i] = (uint8_t)(v >> (8 * i));
}

/* Close the length-delimited field whose contents are what was written since `mark`
 * (pbw_used before them): its length, then its tag. Makes its own room. */
static inline void pbw_close(pbw_t *w, uint32_t field, size_t mark) {
  if (!pbw_room(w, PBW_HDR_MAX)) return;
  pbw_varint(w, pbw_used(w) - mark);
  pbw_tag(w, field, PBW_LEN);
}

/* proto3 scalar fields, omitted when 0 (as protobuf-c packs them); unchecked */
#define PBW_VARINT_FIELD_MAX (PBW_TAG_MAX + PBW_VARINT_MAX)
static inline void pbw_varint_field(pbw_t *w, uint32_t field, uint64_t v) {
  if (v == 0) return;
  pbw_varint(w, v);
  pbw_tag(w, field, PBW_VARINT);
}

#define PBW_FIXED64_FIELD_MAX (PBW_TAG_MAX + 8)
static inline void pbw_fixed64_field(pbw_t *w, uint32_t field, uint64_t v) {
  if (v == 0) return;
  pbw_fixed64(w, v);
  pbw_tag(w, field, PBW_I64);
}

#define PBW_FIXED32_FIELD_MAX (PBW_TAG_MAX + 4)
static inline void pbw_fixed32_field(pbw_t *w, uint32_t field, uint32_t v) {
  if (v == 0) return;
  pbw_fixed32(w, v);
  pbw_tag(w, field, PBW_I32);
}

/* A length-delimited field of n raw bytes (bytes, or a string known to be valid UTF-8), written
 * even when n is 0; makes its own room. */
static inline void pbw_bytes_field(pbw_t *w, uint32_t field, const void *b, size_t n) {
  if (!pbw_room(w, n + PBW_HDR_MAX)) return;
  if (n) pbw_raw(w, b, n);
  pbw_varint(w, n);
  pbw_tag(w, field, PBW_LEN);
}

/* The bytes [p, hi) as a new uvotel_malloc'd buffer of exactly that size (1 byte allocated for
 * an empty output). 0 or -1 (out of memory). */
static inline int pbw_copy_out(const pbw_t *w, uint8_t **out, size_t *out_n) {
  size_t n = pbw_used(w);
  uint8_t *b = uvotel_malloc(n ? n : 1);
  if (b == NULL) return -1;
  if (n) memcpy(b, w->p, n);
  *out = b;
  *out_n = n;
  return 0;
}

#endif
