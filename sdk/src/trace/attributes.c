/* Span attributes and the span arena: copies with limits (count, value length, UTF-8-safe
 * truncation), duplicate keys replacing earlier values, and the uvotel_span_set_attribute*
 * entry points. */
#include <stdlib.h>

#include "trace_internal.h"

/* ---- arena ---- */

/* The current buffer is full: the next kept chunk that holds size bytes, else a new chunk (at
 * least UVOTEL__ARENA_CHUNK, twice the last one, or size and UVOTEL__ARENA_CHUNK more) at the
 * end of the list. A heap span
 * (provider.c's, calloc'd) starts in its arena0 here. */
void *uvotel__arena_alloc_slow(uvotel_span_t *s, size_t size) {
  size = (size + 7u) & ~(size_t)7u;
  if (size == 0) size = 8;
  if (s->ar_p == NULL && s->arena_cur == NULL) {
    uvotel__arena_reset(s);
    if (size <= UVOTEL__ARENA_INLINE) {
      s->ar_p += size;
      return s->arena0;
    }
  }
  uvotel__chunk_t *c = s->arena_cur != NULL ? s->arena_cur->next : s->arena_more;
  size_t last_cap = s->arena_cur != NULL ? s->arena_cur->cap : 0;
  while (c != NULL && c->cap < size) {
    last_cap = c->cap;
    c = c->next;
  }
  if (c == NULL) {
    size_t cap = UVOTEL__ARENA_CHUNK;
    if (last_cap * 2 > cap) cap = last_cap * 2;
    if (cap < size) cap = size + UVOTEL__ARENA_CHUNK; /* room for the strings after it */
    c = uvotel_malloc(sizeof(uvotel__chunk_t) + cap);
    if (c == NULL) {
      s->arena_failed = 1;
      return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    uvotel__chunk_t **tail = &s->arena_more;
    while (*tail != NULL) tail = &(*tail)->next;
    *tail = c;
  }
  s->arena_cur = c;
  s->ar_p = c->data + size;
  s->ar_end = c->data + c->cap;
  return c->data;
}

void uvotel__arena_free(uvotel_span_t *s) {
  uvotel__chunk_t *c = s->arena_more;
  while (c != NULL) {
    uvotel__chunk_t *n = c->next;
    uvotel_free(c);
    c = n;
  }
  s->arena_more = s->arena_cur = NULL;
  uvotel__arena_reset(s);
}

/* ---- attribute copies ---- */

/* Byte length of the first `limit` characters of str (UTF-8; never splits a sequence). */
static size_t trunc_len(const char *str, size_t len, uint32_t limit) {
  if (limit == UVOTEL_LIMIT_UNLIMITED || len <= limit) return len;
  size_t i = 0;
  for (uint32_t chars = 0; i < len && chars < limit; chars++) {
    unsigned char c = (unsigned char)str[i];
    size_t step = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + step > len) step = len - i;
    i += step;
  }
  return i;
}

/* The value is well-formed: known type, data present when len > 0, KVLIST entries with keys.
 * Nesting past UVOTEL_VALUE_MAX_DEPTH is not looked into here: the copy drops it (counted). */
static int value_valid(const uvotel_value_t *v, unsigned depth) {
  switch (v->type) {
    case UVOTEL_VALUE_NONE:
    case UVOTEL_VALUE_STRING:
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      return 1;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY:
    case UVOTEL_VALUE_BYTES:
      return v->len == 0 || v->u.sa != NULL;
    case UVOTEL_VALUE_KVLIST:
      if (v->len == 0) return 1;
      if (v->u.kv == NULL) return 0;
      if (depth >= UVOTEL_VALUE_MAX_DEPTH) return 1;
      for (uint32_t i = 0; i < v->len; i++) {
        const uvotel_attribute_t *e = &v->u.kv[i];
        if (e->key == NULL || e->key[0] == '\0' || !value_valid(&e->value, depth + 1)) return 0;
      }
      return 1;
    default:
      return 0;
  }
}

/* More KVLISTs nested than UVOTEL_VALUE_MAX_DEPTH (the copy would drop it). Valid input only. */
static int value_too_deep(const uvotel_value_t *v, unsigned depth) {
  if (v->type != UVOTEL_VALUE_KVLIST) return 0;
  if (depth >= UVOTEL_VALUE_MAX_DEPTH) return 1;
  for (uint32_t i = 0; i < v->len; i++) {
    if (value_too_deep(&v->u.kv[i].value, depth + 1)) return 1;
  }
  return 0;
}

int uvotel__value_too_deep(const uvotel_value_t *v) {
  return value_too_deep(v, 0);
}

int uvotel__attr_valid(const uvotel_attribute_t *a) {
  if (a == NULL || a->key == NULL || a->key[0] == '\0') return 0;
  return value_valid(&a->value, 0);
}

/* ---- keys: length and hash, duplicate lookup ---- */

/* A hash of the len bytes at k (not the NUL): the first and last 8 bytes as two overlapping
 * words (4-byte halves, or three bytes, for short keys), the words between them folded in for
 * keys past 16 bytes, and one wide multiply. Its top 6 bits pick the key's bloom bit,
 * its low 32 bits (uvotel__key_t.hash) the index slot. */
static inline uint64_t key_hash(const char *k, size_t len) {
  uint64_t a, b;
  if (len >= 8) {
    memcpy(&a, k, 8);
    memcpy(&b, k + len - 8, 8);
    for (size_t i = 8; i + 8 < len; i += 8) {
      uint64_t w;
      memcpy(&w, k + i, 8);
      a = (a ^ w) * 0x9e3779b97f4a7c15ull;
      a ^= a >> 29;
    }
  } else if (len >= 4) {
    uint32_t lo, hi;
    memcpy(&lo, k, 4);
    memcpy(&hi, k + len - 4, 4);
    a = lo;
    b = hi;
  } else {
    a = len == 0 ? 0
                 : (uint64_t)(unsigned char)k[0] | ((uint64_t)(unsigned char)k[len / 2] << 8) |
                       ((uint64_t)(unsigned char)k[len - 1] << 16);
    b = 0;
  }
  /* one 64x64->128 multiply of the two words (wyhash's mix): both halves of the product depend
   * on every input bit through the high half */
  __uint128_t m = (__uint128_t)(a ^ 0xa0761d6478bd642full) *
                  (b ^ 0xe7037ed1a0b428dbull ^ ((uint64_t)len << 32));
  return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

static inline uint64_t key_bit(uint64_t h) {
  return 1ull << (h >> 58);
}

/* Position of `key` among attrs[0..n) (key lengths and hashes in keys[]), or -1: hashes and
 * lengths first, so keys are told apart without touching their bytes. For the linear range only
 * (n is small). */
static inline long find_linear(const uvotel_attribute_t *attrs, const uvotel__key_t *keys,
                               uint32_t n, const char *key, size_t len, uint32_t hash) {
  for (uint32_t i = 0; i < n; i++) {
    if (keys[i].hash == hash && keys[i].len == len && memcmp(attrs[i].key, key, len) == 0) {
      return (long)i;
    }
  }
  return -1;
}

static inline int key_eq(const uvotel__key_t *m, const char *stored, const char *key, size_t len,
                         uint32_t hash) {
  return m->hash == hash && m->len == len && memcmp(stored, key, len) == 0;
}

/* ---- the index past the linear range ----
 * Open addressing with linear probing over 2^k 64-bit entries, at most half full. An entry is
 * generation << 48 | tag << 32 | position: the generation tells a live entry from a stale one
 * (a slot's index is kept across spans and never cleared: a new span's build bumps the
 * generation), the tag (the key hash's top 16 bits; its low bits pick the first entry) skips
 * other keys without reading their stored hash. Positions are those in attrs[]/keys[].
 * s->attr_index points at a header word before the entries (one block, which pool.c frees):
 * the current generation (bits 32-47) and the common case's room (bits 0-31: new keys with
 * scalar values need no limit, growth or size check while n_attrs is below it, i.e.
 * min(attribute_count limit, cap_attrs, half the entries); set at each build and after each
 * append that may grow the arrays, so cap_attrs must not shrink while a span records). */

#define IX_MIN 64u /* entries of a first index: up to 32 keys before it grows */
#define IX_HI(gen, hash) ((uint64_t)(gen) << 48 | (uint64_t)((hash) >> 16) << 32)
#define IX_HI_MASK 0xffffffff00000000ull
#define IX_GEN(hdr) ((uint32_t)((hdr) >> 32) & 0xffffu)
#define IX_ROOM(hdr) ((uint32_t)(hdr))
#define IX_HDR(gen, room) ((uint64_t)(gen) << 32 | (room))

/* Look key up: its position, or -1 with *slot_out the empty entry where it would go. */
static inline long ix_find(const uint64_t *ix, uint32_t mask, uint32_t gen, uint64_t hi,
                           const uvotel_attribute_t *attrs, const uvotel__key_t *keys,
                           const char *key, size_t len, uint32_t hash, uint32_t *slot_out) {
  uint32_t slot = hash & mask;
  for (;;) {
    uint64_t e = ix[slot];
    if ((uint32_t)(e >> 48) != gen) break;
    uint32_t pos = (uint32_t)e;
    if ((e & IX_HI_MASK) == hi && key_eq(&keys[pos], attrs[pos].key, key, len, hash)) {
      return (long)pos;
    }
    slot = (slot + 1) & mask;
  }
  *slot_out = slot;
  return -1;
}

/* Enter keys[0..n) (distinct) under generation gen. */
static void ix_fill(uint64_t *ix, uint32_t mask, uint32_t gen, const uvotel__key_t *keys,
                    uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    uint32_t h = keys[i].hash, slot = h & mask;
    while ((uint32_t)(ix[slot] >> 48) == gen) slot = (slot + 1) & mask;
    ix[slot] = IX_HI(gen, h) | i;
  }
}

/* Entries for n keys at most half full: IX_MIN or the next power of two >= 2n. 0: too many. */
static uint32_t ix_size_for(uint32_t n) {
  uint32_t size = IX_MIN;
  while (size < 2 * (uint64_t)n) {
    if (size > UINT32_MAX / 2) return 0;
    size *= 2;
  }
  return size;
}

/* The bound of the index's common case (see the header word above). */
static inline uint32_t ix_room(const uvotel_span_t *s) {
  uint32_t r = (s->attr_index_mask + 1) / 2;
  if (s->cap_attrs < r) r = s->cap_attrs;
  if (s->provider->limits.attribute_count < r) r = s->provider->limits.attribute_count;
  return r;
}

/* (Re)build s's index over its n stored keys, at most half full: the same entries under a new
 * generation when they are enough (no clearing), else a larger table (the old one freed, so a
 * slot grows it a few times in its life, not per span). 0, or -1 out of memory (index left). */
static int ix_build(uvotel_span_t *s, uint32_t n) {
  uint32_t size = ix_size_for(n);
  if (size == 0) return -1;
  uint32_t gen = s->attr_index != NULL ? IX_GEN(s->attr_index[0]) : 0;
  if (s->attr_index == NULL || s->attr_index_mask + 1 < size) {
    uint64_t *ni = uvotel_calloc((size_t)size + 1, sizeof *ni); /* header + entries */
    if (ni == NULL) return -1;
    uvotel_free(s->attr_index);
    s->attr_index = ni;
    s->attr_index_mask = size - 1;
    gen = 0;
  }
  if (UVOTEL__UNLIKELY(++gen > 0xffffu)) {
    /* the generation wrapped (every 65535 builds): entries of generation 1 could be stale */
    memset(s->attr_index + 1, 0, sizeof *s->attr_index * (s->attr_index_mask + 1));
    gen = 1;
  }
  ix_fill(s->attr_index + 1, s->attr_index_mask, gen, s->attr_keys, n);
  s->attr_index[0] = IX_HDR(gen, ix_room(s));
  return 0;
}

/* Copy src into the arena. depth: KVLISTs around src. -1: out of memory or nested too deep. */
static int copy_value_at(uvotel_span_t *s, uvotel_value_t *dst, const uvotel_value_t *src,
                         uint32_t limit, unsigned depth) {
  uvotel_value_t v = *src;
  switch (src->type) {
    case UVOTEL_VALUE_STRING: {
      const char *str = src->u.s != NULL ? src->u.s : "";
      size_t len = trunc_len(str, strlen(str), limit);
      v.u.s = uvotel__arena_strdup(s, str, len);
      v.len = (uint32_t)len;
      if (v.u.s == NULL) return -1;
      break;
    }
    case UVOTEL_VALUE_STRING_ARRAY: {
      const char **arr = uvotel__arena_alloc(s, sizeof(char *) * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      for (uint32_t i = 0; i < src->len; i++) {
        const char *str = src->u.sa[i] != NULL ? src->u.sa[i] : "";
        arr[i] = uvotel__arena_strdup(s, str, trunc_len(str, strlen(str), limit));
        if (arr[i] == NULL) return -1;
      }
      v.u.sa = arr;
      break;
    }
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t el = src->type == UVOTEL_VALUE_BOOL_ARRAY ? sizeof(bool) : 8;
      void *arr = uvotel__arena_alloc(s, el * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      if (src->len) memcpy(arr, src->u.ia, el * src->len);
      v.u.ia = arr;
      break;
    }
    case UVOTEL_VALUE_BYTES: {
      /* the value-length limit counts bytes here */
      uint32_t n = limit != UVOTEL_LIMIT_UNLIMITED && src->len > limit ? limit : src->len;
      uint8_t *b = uvotel__arena_alloc(s, n ? n : 1);
      if (b == NULL) return -1;
      if (n) memcpy(b, src->u.bytes, n);
      v.u.bytes = b;
      v.len = n;
      break;
    }
    case UVOTEL_VALUE_KVLIST: {
      if (depth >= UVOTEL_VALUE_MAX_DEPTH) return -1;
      uvotel_attribute_t *kv =
          uvotel__arena_alloc(s, sizeof(uvotel_attribute_t) * (src->len ? src->len : 1));
      if (kv == NULL) return -1;
      for (uint32_t i = 0; i < src->len; i++) {
        const uvotel_attribute_t *e = &src->u.kv[i];
        kv[i].key = uvotel__arena_strdup(s, e->key, strlen(e->key));
        if (kv[i].key == NULL) return -1;
        if (copy_value_at(s, &kv[i].value, &e->value, limit, depth + 1) != 0) return -1;
      }
      v.u.kv = kv;
      break;
    }
    case UVOTEL_VALUE_NONE:
      v.len = 0;
      v.u.i = 0;
      break;
    default:
      break;
  }
  *dst = v;
  return 0;
}

static int copy_value(uvotel_span_t *s, uvotel_value_t *dst, const uvotel_value_t *src,
                      uint32_t limit) {
  return copy_value_at(s, dst, src, limit, 0);
}

static int copy_attribute_len(uvotel_span_t *s, uvotel_attribute_t *dst,
                              const uvotel_attribute_t *src, size_t key_len, uint32_t value_limit) {
  const char *key = uvotel__arena_strdup(s, src->key, key_len);
  if (key == NULL) return -1;
  if (copy_value(s, &dst->value, &src->value, value_limit) != 0) return -1;
  dst->key = key;
  return 0;
}

int uvotel__copy_attribute(uvotel_span_t *s, uvotel_attribute_t *dst, const uvotel_attribute_t *src,
                           uint32_t value_limit) {
  const char *key = uvotel__arena_strdup(s, src->key, strlen(src->key));
  if (key == NULL) return -1;
  if (copy_value(s, &dst->value, &src->value, value_limit) != 0) return -1;
  dst->key = key;
  return 0;
}

/* Copy a list of attributes into the arena: later duplicates replace earlier values, at most
 * `limit` distinct keys, the rest counted in *dropped. Duplicates are found through key hashes
 * (and, past UVOTEL__ATTR_LINEAR_MAX keys, an index in the arena): linear in n. */
void uvotel__copy_attr_list(uvotel_span_t *s, const uvotel_attribute_t *src, size_t n,
                            uint32_t limit, uint32_t value_limit, const uvotel_attribute_t **out,
                            size_t *n_out, uint32_t *dropped) {
  *out = NULL;
  *n_out = 0;
  *dropped = 0;
  if (src == NULL || n == 0) return;
  size_t cap = n < limit ? n : limit;
  uvotel_attribute_t *arr = cap ? uvotel__arena_alloc(s, sizeof(uvotel_attribute_t) * cap) : NULL;
  uvotel__key_t *keys = cap ? uvotel__arena_alloc(s, sizeof(uvotel__key_t) * cap) : NULL;
  /* past the linear range, an index in the arena (generation 1 over zeroed entries) */
  uint64_t *index = NULL;
  uint32_t mask = 0, slot = 0;
  if (cap > UVOTEL__ATTR_LINEAR_MAX) {
    uint32_t size = ix_size_for((uint32_t)cap);
    index = size != 0 ? uvotel__arena_alloc(s, sizeof *index * size) : NULL;
    if (index != NULL) memset(index, 0, sizeof *index * size);
    mask = size - 1;
  }
  if (keys == NULL || (cap > UVOTEL__ATTR_LINEAR_MAX && index == NULL)) arr = NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!uvotel__attr_valid(&src[i])) {
      uvotel__misuse(s->provider, "invalid attribute");
      continue;
    }
    size_t len = strlen(src[i].key);
    uint32_t hash = (uint32_t)key_hash(src[i].key, len);
    long j = -1;
    if (arr != NULL) {
      j = index != NULL
              ? ix_find(index, mask, 1, IX_HI(1, hash), arr, keys, src[i].key, len, hash, &slot)
              : find_linear(arr, keys, (uint32_t)k, src[i].key, len, hash);
    }
    if (j >= 0) {
      if (copy_value(s, &arr[j].value, &src[i].value, value_limit) != 0) (*dropped)++;
      continue;
    }
    if (k >= cap || arr == NULL) {
      (*dropped)++;
      continue;
    }
    if (copy_attribute_len(s, &arr[k], &src[i], len, value_limit) != 0) {
      (*dropped)++;
      continue;
    }
    keys[k].len = (uint32_t)len;
    keys[k].hash = hash;
    if (index != NULL) index[slot] = IX_HI(1, hash) | k; /* where the lookup stopped */
    k++;
  }
  *out = arr;
  *n_out = k;
}

/* ---- span attributes ---- */

/* Grow the attribute arrays (and the index, once it is in use): out of the slot's inline arrays
 * into heap arrays of twice their size, which the slot keeps for its later uses; heap arrays
 * double. 0 or -1 (nothing changed). */
static int grow_attrs(uvotel_span_t *s) {
  uint32_t cap = s->cap_attrs ? s->cap_attrs * 2 : 8;
  uvotel_attribute_t *na;
  uvotel__key_t *nk;
  if (s->attrs == s->attr_inl) {
    na = uvotel_malloc(sizeof *na * cap);
    nk = uvotel_malloc(sizeof *nk * cap);
    if (na == NULL || nk == NULL) {
      uvotel_free(na);
      uvotel_free(nk);
      return -1;
    }
    memcpy(na, s->attr_inl, sizeof *na * s->n_attrs);
    memcpy(nk, s->key_inl, sizeof *nk * s->n_attrs);
  } else {
    na = uvotel_realloc(s->attrs, sizeof *na * cap);
    if (na == NULL) return -1;
    s->attrs = na;
    nk = uvotel_realloc(s->attr_keys, sizeof *nk * cap);
    if (nk == NULL) return -1; /* attrs grew, cap_attrs did not: consistent */
  }
  s->attrs = na;
  s->attr_keys = nk;
  s->cap_attrs = cap;
  s->attr_room = uvotel__attrs_room(s);
  return 0;
}

/* A value type that never leaves this file: a STRING whose byte length is len (no NUL among those
 * bytes, which need not be NUL-terminated), as uvotel__span_set_attrs hands its values to the
 * per-attribute path. Stored as UVOTEL_VALUE_STRING. */
#define VALUE_STRN ((uvotel_value_type_t)0x5354)

/* Copy a value into the arena: scalars and short strings inline, the rest in copy_value. */
static inline int copy_value_fast(uvotel_span_t *s, uvotel_value_t *dst, const uvotel_value_t *src,
                                  uint32_t limit) {
  switch ((int)src->type) {
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      *dst = *src;
      return 0;
    case UVOTEL_VALUE_STRING:
    case VALUE_STRN: {
      const char *str = src->u.s != NULL ? src->u.s : "";
      size_t len = src->type == VALUE_STRN ? src->len : strlen(str);
      if (UVOTEL__UNLIKELY(len > limit)) len = trunc_len(str, len, limit);
      const char *d = uvotel__arena_strdup(s, str, len);
      if (UVOTEL__UNLIKELY(d == NULL)) return -1;
      dst->type = UVOTEL_VALUE_STRING;
      dst->len = (uint32_t)len;
      dst->u.s = d;
      return 0;
    }
    default:
      return copy_value(s, dst, src, limit);
  }
}

/* Append key (len bytes, NUL-terminated, 32-bit hash; borrowed: kept as the caller's pointer,
 * else copied) with the value *v (valid) as attribute n = s->n_attrs, a key not stored yet:
 * the count limit, growth and copy failures drop it (counted). 0 stored, -1 dropped. */
static inline __attribute__((always_inline)) int append_attr(uvotel_span_t *s, const char *key,
                                                             size_t len, uint32_t hash,
                                                             int borrowed,
                                                             const uvotel_value_t *v) {
  const uvotel_span_limits_t *lim = &s->provider->limits;
  uint32_t n = s->n_attrs;
  if (UVOTEL__UNLIKELY(n >= lim->attribute_count) ||
      (UVOTEL__UNLIKELY(n == s->cap_attrs) && grow_attrs(s) != 0)) {
    s->dropped_attrs++;
    return -1;
  }
  uvotel_attribute_t *dst = &s->attrs[n];
  const char *k = borrowed ? key : uvotel__arena_strdup(s, key, len);
  if (UVOTEL__UNLIKELY(k == NULL) ||
      UVOTEL__UNLIKELY(copy_value_fast(s, &dst->value, v, lim->attribute_value_length) != 0)) {
    s->dropped_attrs++;
    return -1;
  }
  dst->key = k;
  s->attr_keys[n].len = (uint32_t)len;
  s->attr_keys[n].hash = hash;
  s->n_attrs = n + 1;
  return 0;
}

/* Copy key into the arena's current chunk without a call (uvotel__arena_alloc's fast case:
 * len + 1 rounded up to 8; keys of up to 32 bytes by overlapping word moves), or NULL when the
 * chunk has no room or the key is longer (the caller's full path then copies it). */
static inline const char *arena_key_fast(uvotel_span_t *s, const char *key, size_t len) {
  size_t size = (len + 8u) & ~(size_t)7u;
  char *d = s->ar_p;
  if (UVOTEL__UNLIKELY(len > 32) || UVOTEL__UNLIKELY((size_t)(s->ar_end - d) < size)) {
    return NULL;
  }
  s->ar_p = d + size;
  if (len > 16) {
    uint64_t w[4];
    memcpy(&w[0], key, 16);
    memcpy(&w[2], key + len - 16, 16);
    memcpy(d, &w[0], 16);
    memcpy(d + len - 16, &w[2], 16);
  } else {
    uvotel__copy_small(d, key, len);
  }
  d[len] = '\0';
  return d;
}

/* A scalar value: stored as it is, no arena, no length limit. */
static inline int is_scalar(const uvotel_value_t *v) {
  return v->type == UVOTEL_VALUE_INT || v->type == UVOTEL_VALUE_DOUBLE ||
         v->type == UVOTEL_VALUE_BOOL;
}

/* The call-free paths' common tail: a new key (hash its key_hash) with the scalar *v stored at
 * position n (== s->n_attrs, below every limit and the capacity), the key copied into the
 * arena's current chunk unless borrowed. 0, or -1 with nothing stored when the chunk has no
 * room (the caller's full path then copies the key). */
static inline __attribute__((always_inline)) int append_scalar_fast(uvotel_span_t *s, uint32_t n,
                                                                    const char *key, size_t len,
                                                                    uint32_t hash, int borrowed,
                                                                    const uvotel_value_t *v) {
  const char *k = key;
  if (!borrowed) {
    k = arena_key_fast(s, key, len);
    if (UVOTEL__UNLIKELY(k == NULL)) return -1;
  }
  uvotel_attribute_t *dst = &s->attrs[n];
  dst->key = k;
  dst->value = *v;
  s->attr_keys[n].len = (uint32_t)len;
  s->attr_keys[n].hash = hash;
  s->n_attrs = n + 1;
  return 0;
}

/* A key already stored as attribute j gets the value *v (copied; a copy that fails drops it,
 * counted). */
static void replace_value(uvotel_span_t *s, uint32_t j, const uvotel_value_t *v) {
  if (copy_value_fast(s, &s->attrs[j].value, v, s->provider->limits.attribute_value_length) != 0) {
    s->dropped_attrs++;
  }
}

/* 1 when one of keys[0..n) has the stored key word w (length and 32-bit hash as one word): maybe
 * the same key, for the caller to look closer; 0: certainly a new key. */
_Static_assert(sizeof(uvotel__key_t) == 8, "uvotel__key_t is two 32-bit words");
static inline int key_word_seen(const uvotel__key_t *keys, uint32_t n, uint64_t w) {
  for (uint32_t i = 0; i < n; i++) {
    uint64_t e;
    memcpy(&e, &keys[i], sizeof e);
    if (UVOTEL__UNLIKELY(e == w)) return 1;
  }
  return 0;
}

/* Index on, every case: one probe sequence finds the key or the empty entry a new key takes.
 * The index grows (a larger table, rebuilt) when a key would make it more than half full. */
static __attribute__((noinline)) void put_indexed_full(uvotel_span_t *s, const char *key,
                                                       size_t len, uint32_t hash, int borrowed,
                                                       const uvotel_value_t *v) {
  uint64_t *ix = s->attr_index + 1;
  uint32_t gen = IX_GEN(s->attr_index[0]), mask = s->attr_index_mask, slot;
  uint64_t hi = IX_HI(gen, hash);
  long j = ix_find(ix, mask, gen, hi, s->attrs, s->attr_keys, key, len, hash, &slot);
  if (j >= 0) {
    replace_value(s, (uint32_t)j, v);
    return;
  }
  uint32_t n = s->n_attrs;
  if (append_attr(s, key, len, hash, borrowed, v) != 0) return;
  if (2 * (uint64_t)(n + 1) <= (uint64_t)mask + 1) {
    ix[slot] = hi | n;
    s->attr_index[0] = IX_HDR(gen, ix_room(s)); /* the arrays may have grown */
  } else if (ix_build(s, n + 1) != 0) {
    s->attr_index_live = 0;       /* out of memory: lookups scan (correct, slower) */
    s->attr_bloom = ~(uint64_t)0; /* keys stored while indexed have no bits: scan for all */
  }
}

/* Index on, the common case with no call, so few registers to save: a key whose probe meets no
 * entry with its tag (so it is new), a scalar value, fewer attributes than the header's room, and
 * room in the arena's current chunk for a copied key. Anything else goes to put_indexed_full,
 * which probes again. `borrowed` is a constant in each of the two instances. */
static inline __attribute__((always_inline)) void put_indexed_common(uvotel_span_t *s,
                                                                     const char *key, size_t len,
                                                                     uint32_t hash, int borrowed,
                                                                     const uvotel_value_t *v) {
  uint32_t mask = s->attr_index_mask, slot = hash & mask;
  uint64_t hdr = s->attr_index[0];
  uint64_t hi = IX_HI(IX_GEN(hdr), hash);
  uint64_t *ix = s->attr_index + 1;
  for (;;) {
    uint64_t x = ix[slot] ^ hi;
    if (x >> 48) break;                              /* another generation's entry: empty */
    if (UVOTEL__UNLIKELY((x >> 32) == 0)) goto full; /* its tag: maybe the same key */
    slot = (slot + 1) & mask;
  }
  uint32_t n = s->n_attrs;
  if (UVOTEL__UNLIKELY(n >= IX_ROOM(hdr)) || UVOTEL__UNLIKELY(!is_scalar(v)) ||
      UVOTEL__UNLIKELY(append_scalar_fast(s, n, key, len, hash, borrowed, v) != 0)) {
    goto full;
  }
  ix[slot] = hi | n;
  return;
full:
  put_indexed_full(s, key, len, hash, borrowed, v);
}

static __attribute__((noinline)) void put_indexed_copied(uvotel_span_t *s, const char *key,
                                                         size_t len, uint32_t hash,
                                                         const uvotel_value_t *v) {
  put_indexed_common(s, key, len, hash, 0, v);
}

static __attribute__((noinline)) void put_indexed_borrowed(uvotel_span_t *s, const char *key,
                                                           size_t len, uint32_t hash,
                                                           const uvotel_value_t *v) {
  put_indexed_common(s, key, len, hash, 1, v);
}

/* No index yet, every case: a duplicate found by the bloom and a scan; the index built when a
 * key goes past the linear range. */
static __attribute__((noinline)) void put_linear_full(uvotel_span_t *s, const char *key, size_t len,
                                                      uint64_t h, int borrowed,
                                                      const uvotel_value_t *v) {
  uint32_t hash = (uint32_t)h;
  uint32_t n = s->n_attrs;
  uint64_t bit = key_bit(h);
  long j = -1;
  if (s->attr_bloom & bit) j = find_linear(s->attrs, s->attr_keys, n, key, len, hash);
  if (UVOTEL__UNLIKELY(j >= 0)) {
    replace_value(s, (uint32_t)j, v);
    return;
  }
  if (append_attr(s, key, len, hash, borrowed, v) != 0) return;
  s->attr_bloom |= bit;
  if (UVOTEL__LIKELY(n + 1 <= UVOTEL__ATTR_LINEAR_MAX)) return;
  /* past the linear range: build the index over every stored key (each has its hash) */
  if (ix_build(s, n + 1) == 0) {
    s->attr_index_live = 1;
  } else {
    s->attr_bloom = ~(uint64_t)0; /* out of memory: lookups scan (correct, slower) */
  }
}

/* No index, the common case without calls: the setters come here when the key's bloom bit is
 * already set (most often by another key) or the fast path's room is used up. A key whose
 * length and hash match no stored key is new; with a scalar value and fewer than attr_room
 * attributes (so no limit, growth or index to mind) it is appended here. Anything else goes to
 * put_linear_full, which scans again. `borrowed` is a constant in each instance. */
static inline __attribute__((always_inline)) void put_linear_common(uvotel_span_t *s,
                                                                    const char *key, size_t len,
                                                                    uint64_t h, int borrowed,
                                                                    const uvotel_value_t *v) {
  uint32_t n = s->n_attrs;
  if (UVOTEL__UNLIKELY(n >= s->attr_room) || UVOTEL__UNLIKELY(!is_scalar(v))) goto full;
  uint64_t bit = key_bit(h);
  uvotel__key_t *keys = s->attr_keys;
  if (s->attr_bloom & bit) {
    /* one compare per stored key: its length and hash as one word */
    uvotel__key_t want = {(uint32_t)len, (uint32_t)h};
    uint64_t w;
    memcpy(&w, &want, sizeof w);
    if (key_word_seen(keys, n, w)) goto full;
  }
  if (UVOTEL__UNLIKELY(append_scalar_fast(s, n, key, len, (uint32_t)h, borrowed, v) != 0)) {
    goto full;
  }
  s->attr_bloom |= bit;
  return;
full:
  put_linear_full(s, key, len, h, borrowed, v);
}

static __attribute__((noinline)) void put_linear_copied(uvotel_span_t *s, const char *key,
                                                        size_t len, uint64_t h,
                                                        const uvotel_value_t *v) {
  put_linear_common(s, key, len, h, 0, v);
}

static __attribute__((noinline)) void put_linear_borrowed(uvotel_span_t *s, const char *key,
                                                          size_t len, uint64_t h,
                                                          const uvotel_value_t *v) {
  put_linear_common(s, key, len, h, 1, v);
}

/* Store key (len bytes, NUL-terminated, hash h = key_hash; borrowed: kept as the caller's
 * pointer, else copied) with the value *v (valid), replacing the value when the key is already
 * there: every case (duplicates, limits, growth, the index). The setters try put_fast first.
 * Tail calls, so no path pays for another's registers. */
static __attribute__((noinline)) void put_attr(uvotel_span_t *s, const char *key, size_t len,
                                               uint64_t h, int borrowed, const uvotel_value_t *v) {
  if (s->attr_index_live) {
    if (borrowed) {
      put_indexed_borrowed(s, key, len, (uint32_t)h, v);
    } else {
      put_indexed_copied(s, key, len, (uint32_t)h, v);
    }
  } else if (borrowed) {
    put_linear_borrowed(s, key, len, h, v);
  } else {
    put_linear_copied(s, key, len, h, v);
  }
}

/* The common case inline: a key new to the span (its bloom bit clear) while fewer than attr_room
 * attributes are stored (no limit, growth or index to mind), and for strings a value within the
 * length limit. Everything else goes to put_attr. `type` is a constant in each setter, so the
 * value's switch folds away. */
static inline __attribute__((always_inline)) void put_fast(uvotel_span_t *s, const char *key,
                                                           size_t len, int borrowed,
                                                           const uvotel_value_t *v) {
  uint64_t h = key_hash(key, len);
  uint64_t bit = key_bit(h);
  uint32_t n = s->n_attrs;
  if (UVOTEL__UNLIKELY((s->attr_bloom & bit) != 0) || UVOTEL__UNLIKELY(n >= s->attr_room)) {
    put_attr(s, key, len, h, borrowed, v);
    return;
  }
  uvotel_attribute_t *dst = &s->attrs[n];
  if (v->type == UVOTEL_VALUE_STRING) {
    size_t vlen = strlen(v->u.s);
    uint32_t limit = s->provider->limits.attribute_value_length;
    if (UVOTEL__UNLIKELY(vlen > limit)) vlen = trunc_len(v->u.s, vlen, limit);
    const char *d = uvotel__arena_strdup(s, v->u.s, vlen);
    if (UVOTEL__UNLIKELY(d == NULL)) {
      s->dropped_attrs++;
      return;
    }
    dst->value.type = UVOTEL_VALUE_STRING;
    dst->value.len = (uint32_t)vlen;
    dst->value.u.s = d;
  } else {
    dst->value = *v;
  }
  const char *k = borrowed ? key : uvotel__arena_strdup(s, key, len);
  if (UVOTEL__UNLIKELY(k == NULL)) {
    s->dropped_attrs++;
    return;
  }
  dst->key = k;
  s->attr_keys[n].len = (uint32_t)len;
  s->attr_keys[n].hash = (uint32_t)h;
  s->attr_bloom |= bit;
  s->n_attrs = n + 1;
}

/* ---- the bulk append (uvotel__span_set_attrs) ---- */

UVOTEL__API int uvotel__attr_key_init(uvotel__attr_key_t *k, const char *key, size_t key_len) {
  if (k == NULL) return UVOTEL_EINVAL;
  k->key = key;
  k->len = 0;
  k->hash32 = 0;
  k->hash = 0;
  k->bloom = ~(uint64_t)0; /* every bit: the one pass looks closer, sees len 0 and stops */
  /* what set_static checks at every call, once */
  if (key == NULL || key_len == 0 || key_len > UINT32_MAX || key[0] == '\0' ||
      key[key_len] != '\0') {
    return UVOTEL_EINVAL;
  }
  k->len = (uint32_t)key_len;
  k->hash = key_hash(key, key_len);
  k->hash32 = (uint32_t)k->hash;
  k->bloom = key_bit(k->hash);
  return 0;
}

/* The public setter a bulk entry stands for (its misuse messages). */
static const char *bulk_setter(uvotel_value_type_t t) {
  switch (t) {
    case UVOTEL_VALUE_INT:
      return "set_attribute_int_static";
    case UVOTEL_VALUE_DOUBLE:
      return "set_attribute_double_static";
    case UVOTEL_VALUE_BOOL:
      return "set_attribute_bool_static";
    default:
      return "set_attribute_str_static";
  }
}

/* Entries a[i..n) one at a time, each as its _static setter would store it (put_attr is every
 * case of put_fast): the span not recording, a key already there, the limits, growth, the index,
 * truncation and the arena's slow path. */
static __attribute__((noinline)) void set_attrs_each(uvotel_span_t *s, const uvotel__attr_in_t *a,
                                                     size_t i, size_t n) {
  for (; i < n; i++) {
    const uvotel__attr_in_t *e = &a[i];
    if (!uvotel__span_writable(s, bulk_setter(e->value.type))) continue;
    const uvotel__attr_key_t *k = e->key;
    if (k->len == 0) {
      uvotel__misuse(s->provider, "invalid attribute (static key)");
      continue;
    }
    uvotel_value_t v = e->value;
    switch (v.type) {
      case UVOTEL_VALUE_STRING:
        if (v.u.s == NULL && v.len != 0) {
          uvotel__misuse(s->provider, "NULL attribute value");
          continue;
        }
        v.type = VALUE_STRN;
        break;
      case UVOTEL_VALUE_INT:
      case UVOTEL_VALUE_DOUBLE:
      case UVOTEL_VALUE_BOOL:
        v.len = 0; /* as the setters' own values */
        break;
      default:
        uvotel__misuse(s->provider, "invalid attribute");
        continue;
    }
    put_attr(s, k->key, k->len, k->hash, 1, &v);
  }
}

/* One pass over the entries while each is the setters' common case, appended straight into the
 * arrays: the room (count limit, capacity, linear range) checked once, the arena's current
 * buffer reserved once for all the values it copies (each takes what uvotel__arena_strdup would,
 * so the arena ends where the setters leave it), no hashing, no strlen. The first entry that is
 * not the common case (a key whose bloom bit is set and whose length and hash match a stored
 * key, a value over the length limit, no room left in the buffer, an invalid entry) and every
 * one after it go to set_attrs_each, so the span ends exactly as the setters would leave it. */
UVOTEL__API void uvotel__span_set_attrs(uvotel_span_t *s, const uvotel__attr_in_t *a, size_t n) {
  if (UVOTEL__UNLIKELY(a == NULL)) {
    if (n != 0) uvotel__misuse(s != NULL ? s->provider : NULL, "NULL attributes");
    return;
  }
  if (UVOTEL__UNLIKELY(s == NULL) ||
      UVOTEL__UNLIKELY(atomic_load_explicit(&s->state, memory_order_relaxed) !=
                       UVOTEL__SPAN_OPEN)) {
    set_attrs_each(s, a, 0, n);
    return;
  }
  uint32_t n0 = s->n_attrs, room = s->attr_room;
  size_t m = room > n0 ? room - n0 : 0;
  if (m > n) m = n;
  const uint32_t limit = s->provider->limits.attribute_value_length;
  uint64_t bloom = s->attr_bloom;
  char *p = s->ar_p;
  char *const ar_end = s->ar_end;
  uvotel_attribute_t *dst = &s->attrs[n0];
  uvotel__key_t *kd = &s->attr_keys[n0];
  const uvotel__attr_in_t *e = a, *const end = a + m;
  _Static_assert(sizeof(uvotel__key_t) == 8 &&
                     offsetof(uvotel__attr_key_t, hash32) == offsetof(uvotel__attr_key_t, len) + 4,
                 "a prepared key's len and hash32 are the stored key word");
  for (; e < end; e++, dst++, kd++) {
    const uvotel__attr_key_t *k = e->key;
    const uvotel_value_type_t type = e->value.type;
    const uint32_t len = e->value.len;
    const char *const str = e->value.u.s;
    const uint64_t bit = k->bloom;
    uint64_t kw;
    memcpy(&kw, &k->len, sizeof kw); /* len and hash32: the word the span stores */
    if (UVOTEL__UNLIKELY(bloom & bit)) {
      if (UVOTEL__UNLIKELY(k->len == 0)) break; /* an invalid key has every bloom bit */
      /* maybe a stored key (this call's earlier entries included): one compare per key */
      if (key_word_seen(s->attr_keys, (uint32_t)(kd - s->attr_keys), kw)) break;
    }
    if (type == UVOTEL_VALUE_STRING) {
      size_t size = ((size_t)len + 8u) & ~(size_t)7u; /* uvotel__arena_strdup's len + 1, rounded */
      if (UVOTEL__UNLIKELY(len > limit) || UVOTEL__UNLIKELY(size > (size_t)(ar_end - p)) ||
          UVOTEL__UNLIKELY(str == NULL && len != 0)) {
        break;
      }
      uvotel__copy_small(p, str, len);
      p[len] = '\0';
      dst->value.u.s = p;
      p += size;
    } else if (UVOTEL__LIKELY(type == UVOTEL_VALUE_INT) || type == UVOTEL_VALUE_DOUBLE ||
               type == UVOTEL_VALUE_BOOL) {
      dst->value.u = e->value.u;
    } else {
      break;
    }
    dst->value.type = type;
    dst->value.len = type == UVOTEL_VALUE_STRING ? len : 0;
    dst->key = k->key;
    memcpy(kd, &kw, sizeof kw);
    bloom |= bit;
  }
  size_t done = (size_t)(e - a);
  s->ar_p = p;
  s->attr_bloom = bloom;
  s->n_attrs = n0 + (uint32_t)done;
  if (UVOTEL__UNLIKELY(done < n)) set_attrs_each(s, a, done, n);
}

static void set_attr(uvotel_span_t *s, const uvotel_attribute_t *a) {
  if (UVOTEL__UNLIKELY(!uvotel__attr_valid(a))) {
    uvotel__misuse(s->provider, "invalid attribute");
    return;
  }
  size_t len = strlen(a->key);
  put_attr(s, a->key, len, key_hash(a->key, len), 0, &a->value);
}

/* The typed setters: the value is well-formed by construction, only the key is checked. */
static inline __attribute__((always_inline)) void set_typed(uvotel_span_t *s, const char *key,
                                                            const uvotel_value_t *v) {
  if (UVOTEL__UNLIKELY(key == NULL || key[0] == '\0')) {
    uvotel__misuse(s->provider, "invalid attribute");
    return;
  }
  put_fast(s, key, strlen(key), 0, v);
}

/* The _static setters: key_len given, the key borrowed. key[key_len] must be its NUL (a
 * length past the first NUL is not looked for: that would cost the strlen the caller saved). */
static inline __attribute__((always_inline)) void set_static(uvotel_span_t *s, const char *key,
                                                             size_t key_len,
                                                             const uvotel_value_t *v) {
  if (UVOTEL__UNLIKELY(key == NULL || key_len == 0 || key_len > UINT32_MAX || key[0] == '\0' ||
                       key[key_len] != '\0')) {
    uvotel__misuse(s->provider, "invalid attribute (static key)");
    return;
  }
  put_fast(s, key, key_len, 1, v);
}

UVOTEL__API void uvotel_span_set_attribute(uvotel_span_t *s, const uvotel_attribute_t *attr) {
  if (!uvotel__span_writable(s, "set_attribute")) return;
  set_attr(s, attr);
}

UVOTEL__API void uvotel_span_set_attributes(uvotel_span_t *s, const uvotel_attribute_t *attrs,
                                            size_t n) {
  if (!uvotel__span_writable(s, "set_attributes")) return;
  if (attrs == NULL && n != 0) {
    uvotel__misuse(s->provider, "NULL attributes");
    return;
  }
  for (size_t i = 0; i < n; i++) set_attr(s, &attrs[i]);
}

/* The typed setters' work, out of line: the public functions only check that the span records
 * and jump here, so a call on a non-recording span returns before this saves any register. */
#define TYPED_BODY(NAME, CTYPE, VTYPE, FIELD)                                                  \
  static __attribute__((noinline)) void NAME(uvotel_span_t *s, const char *key, CTYPE value) { \
    uvotel_value_t v = {VTYPE, 0, {.FIELD = value}};                                           \
    set_typed(s, key, &v);                                                                     \
  }
#define STATIC_BODY(NAME, CTYPE, VTYPE, FIELD)                                                  \
  static __attribute__((noinline)) void NAME(uvotel_span_t *s, const char *key, size_t key_len, \
                                             CTYPE value) {                                     \
    uvotel_value_t v = {VTYPE, 0, {.FIELD = value}};                                            \
    set_static(s, key, key_len, &v);                                                            \
  }
TYPED_BODY(typed_str, const char *, UVOTEL_VALUE_STRING, s)
TYPED_BODY(typed_int, int64_t, UVOTEL_VALUE_INT, i)
TYPED_BODY(typed_double, double, UVOTEL_VALUE_DOUBLE, d)
TYPED_BODY(typed_bool, bool, UVOTEL_VALUE_BOOL, b)
STATIC_BODY(static_str, const char *, UVOTEL_VALUE_STRING, s)
STATIC_BODY(static_int, int64_t, UVOTEL_VALUE_INT, i)
STATIC_BODY(static_double, double, UVOTEL_VALUE_DOUBLE, d)
STATIC_BODY(static_bool, bool, UVOTEL_VALUE_BOOL, b)

UVOTEL__API void uvotel_span_set_attribute_str(uvotel_span_t *s, const char *key,
                                               const char *value) {
  if (!uvotel__span_writable(s, "set_attribute_str")) return;
  if (value == NULL) {
    uvotel__misuse(s->provider, "NULL attribute value");
    return;
  }
  typed_str(s, key, value);
}

UVOTEL__API void uvotel_span_set_attribute_int(uvotel_span_t *s, const char *key, int64_t value) {
  if (!uvotel__span_writable(s, "set_attribute_int")) return;
  typed_int(s, key, value);
}

UVOTEL__API void uvotel_span_set_attribute_double(uvotel_span_t *s, const char *key, double value) {
  if (!uvotel__span_writable(s, "set_attribute_double")) return;
  typed_double(s, key, value);
}

UVOTEL__API void uvotel_span_set_attribute_bool(uvotel_span_t *s, const char *key, bool value) {
  if (!uvotel__span_writable(s, "set_attribute_bool")) return;
  typed_bool(s, key, value);
}

/* ---- borrowed keys ---- */

UVOTEL__API void uvotel_span_set_attribute_str_static(uvotel_span_t *s, const char *key,
                                                      size_t key_len, const char *value) {
  if (!uvotel__span_writable(s, "set_attribute_str_static")) return;
  if (value == NULL) {
    uvotel__misuse(s->provider, "NULL attribute value");
    return;
  }
  static_str(s, key, key_len, value);
}

UVOTEL__API void uvotel_span_set_attribute_int_static(uvotel_span_t *s, const char *key,
                                                      size_t key_len, int64_t value) {
  if (!uvotel__span_writable(s, "set_attribute_int_static")) return;
  static_int(s, key, key_len, value);
}

UVOTEL__API void uvotel_span_set_attribute_double_static(uvotel_span_t *s, const char *key,
                                                         size_t key_len, double value) {
  if (!uvotel__span_writable(s, "set_attribute_double_static")) return;
  static_double(s, key, key_len, value);
}

UVOTEL__API void uvotel_span_set_attribute_bool_static(uvotel_span_t *s, const char *key,
                                                       size_t key_len, bool value) {
  if (!uvotel__span_writable(s, "set_attribute_bool_static")) return;
  static_bool(s, key, key_len, value);
}
