/* Encoding of finished spans into an OTLP ExportTraceServiceRequest, written directly from the
 * span data in one pass (no intermediate message tree, no protobuf runtime, no measuring pass).
 *
 * Spans are grouped once (src/groups.c: resource -> scope -> spans, shared with the OTLP/JSON
 * encoder). Then one walk over the groups, last field and last element first, writes the body
 * from the end of a scratch buffer towards its start (pbw.h): every nested message's contents
 * are in place before its header, so each length is known when its tag + length prefix is
 * written, each string is measured (strlen, UTF-8 check) and copied once, and nothing is
 * walked twice. The exporter's transport sends the finished region of the scratch buffer as it
 * is (uvotel__otlp_encode_held: no copy) and gives the buffer back to the exporter's cache when
 * the request is done (a warm buffer, no growth in steady state); the public
 * uvotel_otlp_http_encode copies it once into an exactly sized body.
 *
 * The output is what protobuf-c packs for the same message: fields in field-number order,
 * proto3 defaults (0, "", empty bytes) omitted except in the AnyValue oneof, sub-messages
 * always written once set, minimal varints (tests/unit/test_otlp_encode.c compares the two
 * byte for byte).
 *
 * Invalid UTF-8 (OTLP strings must be UTF-8; a collector rejects the whole request otherwise)
 * is repaired: each ill-formed subpart becomes U+FFFD (src/utf8.c), in every string the request
 * holds. Short ASCII strings are checked while they are copied; anything else goes through the
 * full check, and the repairing path only when that check fails. Thread: any (runs on the batch
 * processor's export thread). */
#include <string.h>

#include "../src/encoding.h"
#include "otlp_internal.h"
#include "pbw.h"
#include "uvotel/propagation.h"
#include "uvotel/trace_sdk.h"

#define FLAGS_HAS_IS_REMOTE 0x100u
#define FLAGS_IS_REMOTE 0x200u

/* ---- scratch buffers recycled through the exporter's cache ---- */

#define CACHE_MAX 8
#define SCRATCH_KEEP_MAX (4u << 20) /* bytes; larger buffers are freed after use */

struct uvotel__otlp_scratch_s {
  struct uvotel__otlp_scratch_s *next;
  uvotel__otlp_block_cache_t *cache; /* where it goes back; NULL: freed after use */
  size_t cap;
  uint8_t *buf;
  int on_stack; /* the caller's local one (uvotel__otlp_encode without a cache) */
};
typedef struct uvotel__otlp_scratch_s scratch_t;

struct uvotel__otlp_block_cache_s {
  uv_mutex_t mu;
  scratch_t *free;
  size_t n;
};

int uvotel__otlp_block_cache_create(uvotel__otlp_block_cache_t **out) {
  uvotel__otlp_block_cache_t *c = uvotel_calloc(1, sizeof *c);
  if (c == NULL) return UVOTEL_ENOMEM;
  if (uv_mutex_init(&c->mu) != 0) {
    uvotel_free(c);
    return UVOTEL_ENOMEM;
  }
  *out = c;
  return 0;
}

void uvotel__otlp_block_cache_free(uvotel__otlp_block_cache_t *c) {
  if (c == NULL) return;
  while (c->free) {
    scratch_t *s = c->free;
    c->free = s->next;
    uvotel_free(s->buf);
    uvotel_free(s);
  }
  uv_mutex_destroy(&c->mu);
  uvotel_free(c);
}

void uvotel__otlp_block_cache_fill(uvotel__otlp_block_cache_t *c, uint8_t byte) {
  if (c == NULL) return;
  uv_mutex_lock(&c->mu);
  for (scratch_t *s = c->free; s != NULL; s = s->next)
    if (s->buf != NULL) memset(s->buf, byte, s->cap);
  uv_mutex_unlock(&c->mu);
}

/* A scratch buffer from the cache, a new one, or (no cache, `local` not NULL) `local`, which
 * lives on the caller's stack. NULL when out of memory. */
static scratch_t *scratch_get(uvotel__otlp_block_cache_t *c, scratch_t *local) {
  if (c == NULL && local != NULL) {
    memset(local, 0, sizeof *local);
    local->on_stack = 1;
    return local;
  }
  scratch_t *s = NULL;
  if (c != NULL) {
    uv_mutex_lock(&c->mu);
    s = c->free;
    if (s != NULL) {
      c->free = s->next;
      c->n--;
    }
    uv_mutex_unlock(&c->mu);
  }
  if (s == NULL) {
    s = uvotel_calloc(1, sizeof *s);
    if (s != NULL) s->cache = c;
  }
  return s;
}

/* Back to its cache (up to CACHE_MAX kept, each up to SCRATCH_KEEP_MAX), or freed. */
static void scratch_put(scratch_t *s) {
  if (s == NULL) return;
  if (s->on_stack) {
    uvotel_free(s->buf);
    return;
  }
  uvotel__otlp_block_cache_t *c = s->cache;
  if (c != NULL && s->cap <= SCRATCH_KEEP_MAX) {
    uv_mutex_lock(&c->mu);
    int keep = c->n < CACHE_MAX;
    if (keep) {
      s->next = c->free;
      c->free = s;
      c->n++;
    }
    uv_mutex_unlock(&c->mu);
    if (keep) return;
  }
  uvotel_free(s->buf);
  uvotel_free(s);
}

void uvotel__otlp_scratch_release(uvotel__otlp_scratch_t *s) {
  scratch_put(s);
}

/* ---- strings ---- */

/* 1 when s[0..n) is known to be ASCII (so valid UTF-8): up to 32 bytes in at most four
 * overlapping loads, no call, no loop, every load inside s[0..n). 0: longer or not ASCII, for
 * the full check. */
static inline int ascii_short(const char *s, size_t n) {
  uint64_t acc;
  if (n >= 8) {
    uint64_t a, b;
    if (n > 32) return 0;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    acc = a | b;
    if (n > 16) {
      memcpy(&a, s + 8, 8);
      memcpy(&b, s + n - 16, 8);
      acc |= a | b;
    }
  } else if (n >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + n - 4, 4);
    acc = a | b;
  } else if (n >= 2) {
    uint16_t a, b;
    memcpy(&a, s, 2);
    memcpy(&b, s + n - 2, 2);
    acc = (uint64_t)(a | b);
  } else if (n == 1) {
    acc = (uint8_t)s[0];
  } else {
    return 1;
  }
  return (acc & 0x8080808080808080ull) == 0;
}

/* Copy n bytes to dst and say whether they were all ASCII (1), checked while copied for up to
 * 32 bytes; 0: longer or not ASCII, for the full check. */
static inline int copy_ascii(uint8_t *dst, const char *src, size_t n) {
  return (pb_copy(dst, (const uint8_t *)src, n) & 0x8080808080808080ull) == 0;
}

/* A string prepared for writing: checked once, so its size on the wire (`out`: repaired when
 * not valid UTF-8) is known before room is made for it. */
typedef struct pstr_s {
  const char *s;
  size_t n;   /* bytes in the span data */
  size_t out; /* bytes on the wire */
  int bad;    /* not valid UTF-8: written repaired */
} pstr_t;

__attribute__((noinline, cold)) static void pstr_bad(pstr_t *x) {
  x->bad = 1;
  x->out = uvotel__utf8_repaired_len(x->s, x->n);
}

static inline void pstr_init(pstr_t *x, const char *s, size_t n) {
  x->s = s;
  x->n = x->out = n;
  x->bad = 0;
  if (PBW_UNLIKELY(!ascii_short(s, n)) && PBW_UNLIKELY(uvotel__utf8_valid_prefix(s, n) != n)) {
    pstr_bad(x);
  }
}

/* a NUL-terminated string; NULL is "" */
static inline void pstr_cstr(pstr_t *x, const char *s) {
  if (s == NULL) s = "";
  pstr_init(x, s, strlen(s));
}

__attribute__((noinline, cold)) static uint8_t *pb_repaired(uint8_t *p, const pstr_t *x) {
  p -= x->out;
  uvotel__utf8_repair((char *)p, x->s, x->n);
  return p;
}

/* the string as field `field`, written even when empty; needs x->out + PBW_HDR_MAX bytes */
static inline uint8_t *pb_str(uint8_t *p, uint32_t field, const pstr_t *x) {
  if (PBW_UNLIKELY(x->bad))
    p = pb_repaired(p, x);
  else
    p = pb_raw(p, x->s, x->n);
  return pb_hdr(p, field, x->out);
}

/* proto3 string: omitted when empty (as protobuf-c does) */
static inline uint8_t *pb_str_opt(uint8_t *p, uint32_t field, const pstr_t *x) {
  return x->n != 0 ? pb_str(p, field, x) : p;
}

/* a proto3 string field on its own, making its room */
static void cstr_field(pbw_t *w, uint32_t field, const char *s) {
  pstr_t x;
  pstr_cstr(&x, s);
  if (x.n == 0 || !pbw_room(w, x.out + PBW_HDR_MAX)) return;
  w->p = pb_str(w->p, field, &x);
}

static inline uint64_t dbl_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static inline int id_is_zero(const uint8_t b[8]) {
  uint64_t v;
  memcpy(&v, b, 8);
  return v == 0;
}

/* ---- common.v1: AnyValue, ArrayValue, KeyValue ---- */

static void any_value(pbw_t *w, uint32_t field, const uvotel_value_t *v);
static void kv_general(pbw_t *w, uint32_t field, const uvotel_attribute_t *a);

/* A scalar AnyValue member (bool 2, int 3, double 4): at most PBW_HDR_MAX bytes. */
static inline uint8_t *pb_scalar(uint8_t *p, uvotel_value_type_t t, const uvotel_value_t *v,
                                 uint32_t i) {
  switch (t) {
    case UVOTEL_VALUE_BOOL:
      return pb_tag(pb_varint(p, v->u.b ? 1 : 0), 2, PBW_VARINT);
    case UVOTEL_VALUE_BOOL_ARRAY:
      return pb_tag(pb_varint(p, v->u.ba[i] ? 1 : 0), 2, PBW_VARINT);
    case UVOTEL_VALUE_INT:
      return pb_tag(pb_varint(p, (uint64_t)v->u.i), 3, PBW_VARINT);
    case UVOTEL_VALUE_INT_ARRAY:
      return pb_tag(pb_varint(p, (uint64_t)v->u.ia[i]), 3, PBW_VARINT);
    case UVOTEL_VALUE_DOUBLE:
      return pb_tag(pb_fixed64(p, dbl_bits(v->u.d)), 4, PBW_I64);
    default: /* DOUBLE_ARRAY */
      return pb_tag(pb_fixed64(p, dbl_bits(v->u.da[i])), 4, PBW_I64);
  }
}

/* One KeyValue as `field`, any value, any strings (repaired when not valid UTF-8): the general
 * path (kvlist members come here too, through any_value). */
static void kv_general(pbw_t *w, uint32_t field, const uvotel_attribute_t *a) {
  size_t m = pbw_used(w);
  any_value(w, 2, &a->value);
  pstr_t k;
  pstr_cstr(&k, a->key);
  if (!pbw_room(w, k.out + 2 * PBW_HDR_MAX)) return;
  uint8_t *p = pb_str_opt(w->p, 1, &k);
  w->p = pb_hdr(p, field, (size_t)(w->hi - p) - m);
}

/* 1 when the value takes the fast paths below: a string or a scalar (nearly every attribute) */
_Static_assert(UVOTEL_VALUE_STRING == 1 && UVOTEL_VALUE_BOOL == 2 && UVOTEL_VALUE_INT == 3 &&
                   UVOTEL_VALUE_DOUBLE == 4,
               "kv_fast_type takes the four as one range");
static inline int kv_fast_type(uvotel_value_type_t t) {
  return (unsigned)t - UVOTEL_VALUE_STRING <= UVOTEL_VALUE_DOUBLE - UVOTEL_VALUE_STRING;
}

/* A fast-type value's AnyValue (its member, then its header as KeyValue.value = 2) below p, for
 * a KeyValue ending at `end`; NULL when the string is not valid UTF-8 (what was copied is left
 * below the cursor, to be overwritten). Needs sn + 2 * PBW_HDR_MAX bytes below p. */
static inline __attribute__((always_inline)) uint8_t *kv_value(uint8_t *p, uvotel_value_type_t t,
                                                               const uvotel_value_t *v) {
  uint8_t *end = p;
  if (t == UVOTEL_VALUE_STRING) {
    const char *s = v->u.s != NULL ? v->u.s : "";
    size_t sn = v->u.s != NULL ? v->len : 0;
    p -= sn;
    if (PBW_UNLIKELY(!copy_ascii(p, s, sn)) && uvotel__utf8_valid_prefix(s, sn) != sn) return NULL;
    p = pb_hdr(p, 1, sn);
  } else {
    p = pb_scalar(p, t, v, 0);
  }
  return pb_hdr(p, 2, (size_t)(end - p)); /* KeyValue.value */
}

static inline size_t kv_value_len(uvotel_value_type_t t, const uvotel_value_t *v) {
  return t == UVOTEL_VALUE_STRING && v->u.s != NULL ? v->len : 0;
}

/* One KeyValue as `field`: key (kn bytes, omitted when empty; key_ok: known to be valid UTF-8),
 * then the value (always). A fast-type value with valid UTF-8 strings takes one room check, the
 * cursor in a register and each string checked while it is copied; anything else (and a
 * string that turns out not to be valid UTF-8) goes to kv_general. */
static inline __attribute__((always_inline)) void key_value_n(pbw_t *w, uint32_t field,
                                                              const uvotel_attribute_t *a,
                                                              const char *key, size_t kn,
                                                              int key_ok) {
  const uvotel_value_t *v = &a->value;
  uvotel_value_type_t t = v->type;
  /* the value's member (a scalar, or a string's header), the AnyValue header, the key's header
   * and the KeyValue header */
  if (!pbw_room(w, kn + kv_value_len(t, v) + 4 * PBW_HDR_MAX)) return;
  uint8_t *end = w->p, *p = kv_value(end, t, v);
  if (PBW_UNLIKELY(p == NULL)) {
    kv_general(w, field, a);
    return;
  }
  if (kn != 0) {
    p -= kn;
    if (!copy_ascii(p, key, kn) && !key_ok && uvotel__utf8_valid_prefix(key, kn) != kn) {
      kv_general(w, field, a);
      return;
    }
    p = pb_hdr(p, 1, kn);
  }
  w->p = pb_hdr(p, field, (size_t)(end - p));
}

static inline __attribute__((always_inline)) void key_value(pbw_t *w, uint32_t field,
                                                            const uvotel_attribute_t *a) {
  if (PBW_UNLIKELY(!kv_fast_type(a->value.type))) {
    kv_general(w, field, a);
    return;
  }
  const char *key = a->key != NULL ? a->key : "";
  key_value_n(w, field, a, key, strlen(key), 0);
}

/* repeated KeyValue `field`: last first */
static void attrs(pbw_t *w, uint32_t field, const uvotel_attribute_t *a, size_t n) {
  for (size_t i = n; i-- > 0;) key_value(w, field, &a[i]);
}

/* ---- the keys of one batch ----
 *
 * A batch repeats a handful of keys, and the instrumentation's keys are string literals it
 * borrows (the _static setters), the same address in every span. The span data is immutable
 * and every span of the batch is alive while the batch is encoded, so within one encode a key's
 * address stands for its bytes: each distinct key address is measured (strlen) and checked
 * (UTF-8) once per batch, and a key seen twice is encoded (KeyValue.key's tag, length and
 * bytes) into a 32-byte blob that every later use copies with two 16-byte moves. The table
 * lives on the encoder's stack for one call: no address outlives the batch it was seen in.
 * Keys copied into each span (a new address every time) cost the plain path plus an insert,
 * and once KEYC_MAX addresses are in the table it is off for the rest of the batch. */
#define KEYC_SLOTS 64u /* open addressing, at most half full */
#define KEYC_MAX 32u   /* distinct addresses kept; then the plain path */
#define KEYC_BLOB 32u
#define KEYC_TAKEN UINTPTR_MAX

/* KEYC_SEEN: measured once (n bytes, valid UTF-8, blob not built yet); KEYC_FAST: blob built;
 * KEYC_PLAIN: longer than a blob takes, or not valid UTF-8: the plain path every time */
enum { KEYC_SEEN = 1, KEYC_FAST = 2, KEYC_PLAIN = 3 };

typedef struct keyc_ent_s {
  uint8_t enc[KEYC_BLOB]; /* KEYC_FAST: the key field (tag, length, bytes) ending at the end */
  uint32_t n;             /* KEYC_SEEN: the key's length; KEYC_FAST: bytes of enc it takes */
  uint32_t kind;
  uint8_t pad[64 - KEYC_BLOB - 8]; /* a power of two: one shift to index */
} keyc_ent_t;

typedef struct keyc_s {
  /* by slot: 0 free, KEYC_TAKEN a key without its blob yet (or never), the key's address + 1
   * once its blob is built: the common case's probe reads this alone */
  uintptr_t fast[KEYC_SLOTS];
  const char *key[KEYC_SLOTS]; /* every key recorded */
  keyc_ent_t ent[KEYC_SLOTS];
  unsigned used;
  int off; /* the plain path for the rest of the batch */
} keyc_t;

static void keyc_init(keyc_t *kc) {
  memset(kc->fast, 0, sizeof kc->fast);
  memset(kc->key, 0, sizeof kc->key);
  kc->used = 0;
  kc->off = 0;
}

_Static_assert(KEYC_SLOTS == 64u && KEYC_MAX <= KEYC_SLOTS / 2, "keyc_hash takes 6 bits");
static inline size_t keyc_hash(const char *key) {
  return (size_t)(((uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull) >> 58); /* KEYC_SLOTS */
}

/* key is not in the table and slot i is free: the plain path for this attribute, and the key
 * measured and recorded there (or the table turned off when full) */
static __attribute__((noinline)) void keyc_miss(pbw_t *w, uint32_t field,
                                                const uvotel_attribute_t *a, keyc_t *kc,
                                                const char *key, size_t i) {
  size_t kn = strlen(key);
  int ok = ascii_short(key, kn) || uvotel__utf8_valid_prefix(key, kn) == kn;
  if (kc->used < KEYC_MAX) {
    kc->used++;
    kc->key[i] = key;
    kc->fast[i] = KEYC_TAKEN;
    keyc_ent_t *e = &kc->ent[i];
    e->n = (uint32_t)kn;
    /* the key field: its one-byte tag (field 1), its length, its bytes */
    e->kind = ok && 1 + pb_varint_size(kn) + kn <= KEYC_BLOB ? KEYC_SEEN : KEYC_PLAIN;
  } else {
    kc->off = 1;
  }
  key_value_n(w, field, a, key, kn, ok);
}

/* the key's second use: build its blob */
static __attribute__((noinline)) void keyc_build(keyc_t *kc, size_t i, const char *key) {
  keyc_ent_t *e = &kc->ent[i];
  size_t kn = e->n;
  memset(e->enc, 0, sizeof e->enc);
  uint8_t *p = e->enc + KEYC_BLOB;
  if (kn != 0) p = pb_hdr(pb_raw(p, key, kn), 1, kn); /* proto3: an empty key is omitted */
  e->n = (uint32_t)(e->enc + KEYC_BLOB - p);
  e->kind = KEYC_FAST;
  kc->fast[i] = (uintptr_t)key + 1;
}

/* key_value with the key from the batch's table: every case (the loop below takes the common
 * one itself) */
static __attribute__((noinline)) void key_value_kc(pbw_t *w, uint32_t field,
                                                   const uvotel_attribute_t *a, keyc_t *kc) {
  const uvotel_value_t *v = &a->value;
  uvotel_value_type_t t = v->type;
  if (!kv_fast_type(t)) {
    kv_general(w, field, a);
    return;
  }
  const char *key = a->key != NULL ? a->key : "";
  size_t i = keyc_hash(key);
  const char *k;
  while ((k = kc->key[i]) != key) {
    if (k == NULL) {
      keyc_miss(w, field, a, kc, key, i);
      return;
    }
    i = (i + 1) & (KEYC_SLOTS - 1);
  }
  keyc_ent_t *e = &kc->ent[i];
  if (e->kind == KEYC_PLAIN) {
    key_value(w, field, a);
    return;
  }
  if (e->kind == KEYC_SEEN) keyc_build(kc, i, key);
  /* the value's member, the AnyValue header, the key's blob and the KeyValue header */
  if (!pbw_room(w, kv_value_len(t, v) + KEYC_BLOB + 3 * PBW_HDR_MAX)) return;
  uint8_t *end = w->p, *p = kv_value(end, t, v);
  if (p == NULL) {
    kv_general(w, field, a);
    return;
  }
  memcpy(p - KEYC_BLOB, e->enc, KEYC_BLOB); /* into the free room below p */
  p -= e->n;
  w->p = pb_hdr(p, field, (size_t)(end - p));
}

/* two header bytes (a one-byte tag, a length under 128) as one store */
static inline uint8_t *pb_hdr1(uint8_t *p, uint8_t tag, size_t len) {
  p -= 2;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint16_t v = (uint16_t)(tag | (len << 8));
  memcpy(p, &v, 2);
#else
  p[0] = tag;
  p[1] = (uint8_t)len;
#endif
  return p;
}

/* repeated KeyValue `field` (under 16), last first, keys from the batch's table. The common
 * case (a key already in the table with its blob, a string value of valid UTF-8 or a scalar) is
 * written here with the cursor in a register for the whole list (a byte store may alias
 * anything, so a cursor in the writer would be reloaded after each); anything else goes through
 * key_value_kc with the writer in sync. */
static __attribute__((noinline)) void attrs_kc_on(pbw_t *w, uint32_t field,
                                                  const uvotel_attribute_t *a, size_t n,
                                                  keyc_t *kc) {
  const uint8_t tag = (uint8_t)((field << 3) | PBW_LEN);
  uint8_t *p = w->p;
  for (size_t j = n; j-- > 0;) {
    const uvotel_attribute_t *at = &a[j];
    uvotel_value_type_t t = at->value.type;
    const char *key = at->key;
    /* 1 for NULL: never in the table; never 0 or KEYC_TAKEN (no object ends at the top of
     * the address space) */
    const uintptr_t want = (uintptr_t)key + 1;
    size_t i = keyc_hash(key);
    uintptr_t f;
    while (PBW_UNLIKELY((f = kc->fast[i]) != want)) {
      if (f == 0) goto slow;
      i = (i + 1) & (KEYC_SLOTS - 1);
    }
    if (PBW_UNLIKELY(!kv_fast_type(t))) goto slow;
    const keyc_ent_t *e = &kc->ent[i];
    const char *s = "";
    size_t sn = 0;
    if (t == UVOTEL_VALUE_STRING && at->value.u.s != NULL) {
      s = at->value.u.s;
      sn = at->value.len;
    }
    /* the value's member, the AnyValue header, the key's blob and the KeyValue header */
    size_t need = sn + KEYC_BLOB + 3 * PBW_HDR_MAX;
    if (PBW_UNLIKELY((size_t)(p - w->lo) < need)) {
      w->p = p;
      if (!pbw_room(w, need)) return;
      p = w->p;
    }
    uint8_t *end = p;
    size_t bn = e->n;
    if (t == UVOTEL_VALUE_STRING) {
      p -= sn;
      if (PBW_UNLIKELY(!copy_ascii(p, s, sn)) && uvotel__utf8_valid_prefix(s, sn) != sn) {
        w->p = end; /* what was copied is below the cursor, to be overwritten */
        kv_general(w, field, at);
        p = w->p;
        continue;
      }
      if (PBW_LIKELY(sn + 4 + KEYC_BLOB < 128)) {
        /* every length below 128, one byte each: AnyValue.string_value's header and
         * KeyValue.value's (0x12, sn + 2, 0x0a, sn), the key's blob, the KeyValue header */
        p -= 4;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint32_t hv = (uint32_t)(0x000a0012u | ((sn + 2) << 8) | (sn << 24));
        memcpy(p, &hv, 4);
#else
        p[0] = 0x12;
        p[1] = (uint8_t)(sn + 2);
        p[2] = 0x0a;
        p[3] = (uint8_t)sn;
#endif
        memcpy(p - KEYC_BLOB, e->enc, KEYC_BLOB); /* into the free room below p */
        p = pb_hdr1(p - bn, tag, sn + 4 + bn);
        continue;
      }
      p = pb_hdr(p, 1, sn);
      p = pb_hdr(p, 2, (size_t)(end - p));
    } else {
      p = pb_scalar(p, t, &at->value, 0);
      p = pb_hdr1(p, (2u << 3) | PBW_LEN, (size_t)(end - p)); /* under 16 bytes */
    }
    memcpy(p - KEYC_BLOB, e->enc, KEYC_BLOB); /* into the free room below p */
    p -= bn;
    size_t len = (size_t)(end - p);
    if (PBW_LIKELY(len < 128))
      p = pb_hdr1(p, tag, len);
    else
      p = pb_hdr(p, field, len);
    continue;
  slow:
    w->p = p;
    key_value_kc(w, field, at, kc);
    p = w->p;
  }
  w->p = p;
}

/* the table turned off (keys copied into every span): the plain path, without the loop's set-up */
static inline __attribute__((always_inline)) void attrs_kc(pbw_t *w, uint32_t field,
                                                           const uvotel_attribute_t *a, size_t n,
                                                           keyc_t *kc) {
  if (PBW_UNLIKELY(kc->off))
    attrs(w, field, a, n);
  else
    attrs_kc_on(w, field, a, n, kc);
}

/* One element of an ArrayValue: an AnyValue holding element i (ArrayValue.values = 1). */
static void array_elem(pbw_t *w, const uvotel_value_t *v, uint32_t i) {
  uint8_t *end, *p;
  if (v->type == UVOTEL_VALUE_STRING_ARRAY) {
    pstr_t s;
    pstr_cstr(&s, v->u.sa[i]);
    if (!pbw_room(w, s.out + 2 * PBW_HDR_MAX)) return;
    end = p = w->p;
    p = pb_str(p, 1, &s);
  } else {
    if (!pbw_room(w, 2 * PBW_HDR_MAX)) return;
    end = p = w->p;
    p = pb_scalar(p, v->type, v, i);
  }
  w->p = pb_hdr(p, 1, (size_t)(end - p));
}

/* The contents of an AnyValue (its oneof member, written whenever set, zero or empty
 * included), then its header as `field`. */
static void any_value(pbw_t *w, uint32_t field, const uvotel_value_t *v) {
  size_t m = pbw_used(w);
  switch (v->type) {
    case UVOTEL_VALUE_STRING: {
      pstr_t s;
      pstr_init(&s, v->u.s != NULL ? v->u.s : "", v->u.s != NULL ? v->len : 0);
      if (!pbw_room(w, s.out + PBW_HDR_MAX)) return;
      w->p = pb_str(w->p, 1, &s);
      break;
    }
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      if (!pbw_room(w, PBW_HDR_MAX)) return;
      w->p = pb_scalar(w->p, v->type, v, 0);
      break;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t a = pbw_used(w);
      for (uint32_t i = v->len; i-- > 0;) array_elem(w, v, i);
      pbw_close(w, 5, a); /* AnyValue.array_value */
      break;
    }
    case UVOTEL_VALUE_BYTES:
      pbw_bytes(w, 7, v->u.bytes, v->len);
      break;
    case UVOTEL_VALUE_KVLIST: {
      /* KeyValueList{repeated KeyValue values = 1}; nesting was bounded when the value was
       * copied */
      size_t l = pbw_used(w);
      for (uint32_t i = v->len; i-- > 0;) kv_general(w, 1, &v->u.kv[i]);
      pbw_close(w, 6, l); /* AnyValue.kvlist_value */
      break;
    }
    default:
      break; /* NONE: an empty AnyValue, as the data model allows */
  }
  pbw_close(w, field, m);
}

/* ---- the same writers for the log encoder (otlp_internal.h) ---- */

void uvotel__otlp_pb_str(pbw_t *w, uint32_t field, const char *s) {
  cstr_field(w, field, s);
}
void uvotel__otlp_pb_any(pbw_t *w, uint32_t field, const uvotel_value_t *v) {
  any_value(w, field, v);
}
void uvotel__otlp_pb_attrs(pbw_t *w, uint32_t field, const uvotel_attribute_t *a, size_t n) {
  attrs(w, field, a, n);
}

static inline void pstr_trace_state(pstr_t *x, const uvotel_trace_state_t *ts) {
  size_t len = 0;
  const char *s = ts != NULL ? uvotel_trace_state_str(ts, &len) : NULL;
  if (s == NULL) {
    s = "";
    len = 0;
  }
  pstr_init(x, s, len);
}

/* ---- trace.v1: Span ---- */

static void event(pbw_t *w, const uvotel_event_t *ev, keyc_t *kc) {
  size_t m = pbw_used(w);
  if (!pbw_room(w, PBW_HDR_MAX)) return;
  w->p = pb_varint_field(w->p, 4, ev->dropped_attributes);
  attrs_kc(w, 3, ev->attrs, ev->n_attrs, kc);
  pstr_t name;
  pstr_cstr(&name, ev->name);
  /* name header, time, event header */
  if (!pbw_room(w, name.out + 3 * PBW_HDR_MAX)) return;
  uint8_t *p = w->p;
  p = pb_str_opt(p, 2, &name);
  p = pb_fixed64_field(p, 1, ev->time_unix_ns);
  w->p = pb_hdr(p, 11, (size_t)(w->hi - p) - m); /* Span.events */
}

static void link(pbw_t *w, const uvotel_link_t *lk, keyc_t *kc) {
  size_t m = pbw_used(w);
  if (!pbw_room(w, 2 * PBW_HDR_MAX)) return;
  uint8_t *p = w->p;
  p = pb_fixed32_field(p, 6,
                       (uint32_t)lk->context.flags | FLAGS_HAS_IS_REMOTE |
                           (lk->context.is_remote ? FLAGS_IS_REMOTE : 0));
  w->p = pb_varint_field(p, 5, lk->dropped_attributes);
  attrs_kc(w, 4, lk->attrs, lk->n_attrs, kc);
  pstr_t ts;
  pstr_trace_state(&ts, lk->context.trace_state);
  /* trace state header, span id, trace id, link header */
  if (!pbw_room(w, ts.out + 4 * PBW_HDR_MAX + 8 + 16)) return;
  p = w->p;
  p = pb_str_opt(p, 3, &ts);
  p = pb_bytes(p, 2, lk->context.span_id.bytes, 8);
  p = pb_bytes(p, 1, lk->context.trace_id.bytes, 16);
  w->p = pb_hdr(p, 13, (size_t)(w->hi - p) - m); /* Span.links */
}

/* flags (a 2-byte tag and 4 bytes), status header, its message's header, its code, dropped
 * links */
#define SPAN_TAIL_MAX (6 + 4 * PBW_HDR_MAX)
/* end, start, kind, name header, parent id, trace state header, span id, trace id, span header */
#define SPAN_HEAD_MAX (8 * PBW_HDR_MAX + 8 + 8 + 8 + 16)

static void span(pbw_t *w, const uvotel_span_data_t *d, keyc_t *kc) {
  size_t m = pbw_used(w);
  uvotel_span_context_t sc = uvotel_span_data_context(d);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  int has_parent = !id_is_zero(parent.bytes);
  const char *desc = NULL;
  uvotel_status_code_t code = uvotel_span_data_status(d, &desc);
  pstr_t ds;
  pstr_cstr(&ds, code == UVOTEL_STATUS_ERROR ? desc : NULL);
  if (!pbw_room(w, ds.out + SPAN_TAIL_MAX)) return;
  uint8_t *p = w->p;
  p = pb_fixed32_field(
      p, 16,
      (uint32_t)sc.flags | FLAGS_HAS_IS_REMOTE |
          (has_parent && uvotel_span_data_parent_is_remote(d) ? FLAGS_IS_REMOTE : 0));
  if (code != UVOTEL_STATUS_UNSET) {
    uint8_t *se = p;
    p = pb_varint_field(p, 3, (uint64_t)code);
    p = pb_str_opt(p, 2, &ds);
    p = pb_hdr(p, 15, (size_t)(se - p)); /* Span.status */
  }
  w->p = pb_varint_field(p, 14, uvotel_span_data_dropped_links(d));
  size_t n;
  const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
  for (size_t i = n; i-- > 0;) link(w, &lk[i], kc);
  if (!pbw_room(w, PBW_HDR_MAX)) return;
  w->p = pb_varint_field(w->p, 12, uvotel_span_data_dropped_events(d));
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  for (size_t i = n; i-- > 0;) event(w, &ev[i], kc);
  if (!pbw_room(w, PBW_HDR_MAX)) return;
  w->p = pb_varint_field(w->p, 10, uvotel_span_data_dropped_attributes(d));
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  attrs_kc(w, 9, a, n, kc);
  pstr_t name, ts;
  pstr_cstr(&name, uvotel_span_data_name(d));
  pstr_trace_state(&ts, sc.trace_state);
  uvotel_span_kind_t kind = uvotel_span_data_kind(d);
  if (kind < UVOTEL_SPAN_KIND_INTERNAL || kind > UVOTEL_SPAN_KIND_CONSUMER) {
    kind = UVOTEL_SPAN_KIND_INTERNAL;
  }
  uint64_t start = uvotel_span_data_start_unix_ns(d), end = uvotel_span_data_end_unix_ns(d);
  if (!pbw_room(w, name.out + ts.out + SPAN_HEAD_MAX)) return;
  p = w->p;
  p = pb_fixed64_field(p, 8, end);
  p = pb_fixed64_field(p, 7, start);
  p = pb_varint_field(p, 6, (uint64_t)kind);
  p = pb_str_opt(p, 5, &name);
  if (has_parent) p = pb_bytes(p, 4, parent.bytes, 8);
  p = pb_str_opt(p, 3, &ts);
  p = pb_bytes(p, 2, sc.span_id.bytes, 8);
  p = pb_bytes(p, 1, sc.trace_id.bytes, 16);
  w->p = pb_hdr(p, 2, (size_t)(w->hi - p) - m); /* ScopeSpans.spans */
}

/* ---- the request ---- */

static void request(pbw_t *w, const uvotel__span_groups_t *g, keyc_t *kc) {
  for (size_t r = g->n_res; r-- > 0;) {
    const uvotel__res_group_t *rg = &g->res[r];
    const uvotel_trace_resource_t *res = rg->res;
    size_t rm = pbw_used(w);
    if (res != NULL) cstr_field(w, 3, res->schema_url);
    for (uint32_t s = rg->first + rg->n; s-- > rg->first;) {
      const uvotel__scope_group_t *sg = &g->scopes[s];
      const uvotel_instrumentation_scope_t *scope = sg->scope;
      size_t sm = pbw_used(w);
      if (scope != NULL) cstr_field(w, 3, scope->schema_url);
      for (uint32_t k = sg->first + sg->n; k-- > sg->first;) span(w, g->order[k], kc);
      size_t scm = pbw_used(w);
      if (scope != NULL) {
        attrs_kc(w, 3, scope->attrs, scope->n_attrs, kc);
        cstr_field(w, 2, scope->version);
        cstr_field(w, 1, scope->name);
      }
      pbw_close(w, 1, scm); /* ScopeSpans.scope */
      pbw_close(w, 2, sm);  /* ResourceSpans.scope_spans */
    }
    size_t resm = pbw_used(w);
    if (res != NULL) {
      if (pbw_room(w, PBW_HDR_MAX)) w->p = pb_varint_field(w->p, 2, res->dropped_attributes);
      attrs_kc(w, 1, res->attrs, res->n_attrs, kc);
    }
    pbw_close(w, 1, resm); /* ResourceSpans.resource */
    pbw_close(w, 1, rm);   /* ExportTraceServiceRequest.resource_spans */
  }
}

/* The first scratch size when there is no buffer to reuse: about what a span with a few short
 * attributes takes; a batch that needs more grows the buffer (doubling, kept for next time). */
#define SCRATCH_PER_SPAN 64u
#define SCRATCH_BASE 1024u

/* Encode into sc (grown as needed; its buffer stays sc's): 0 with the body at [*out, +*out_n)
 * inside sc->buf, or the error. */
static int encode_into(const uvotel__span_groups_t *g, size_t n, scratch_t *sc, uint8_t **out,
                       size_t *out_n) {
  if (sc->buf == NULL) {
    size_t cap = SCRATCH_BASE + SCRATCH_PER_SPAN * n;
    sc->buf = uvotel_malloc(cap);
    if (sc->buf == NULL) return UVOTEL_ENOMEM;
    sc->cap = cap;
  }
  pbw_t w;
  pbw_init(&w, sc->buf, sc->cap);
  keyc_t kc;
  keyc_init(&kc);
  request(&w, g, &kc);
  sc->buf = w.lo; /* grown or not, the writer's buffer is the scratch's */
  sc->cap = (size_t)(w.hi - w.lo);
  if (w.failed) return UVOTEL_ENOMEM;
  if (pbw_used(&w) > UINT32_MAX) return UVOTEL_ERANGE;
  *out = w.p;
  *out_n = pbw_used(&w);
  return 0;
}

int uvotel__otlp_encode(const uvotel_span_data_t *const *spans, size_t n,
                        uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n) {
  if ((spans == NULL && n > 0) || out == NULL || out_n == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  uvotel__span_groups_t g;
  int rc = uvotel__span_groups_build(&g, spans, n);
  if (rc != 0) return rc;
  scratch_t local;
  scratch_t *sc = scratch_get(cache, &local);
  rc = UVOTEL_ENOMEM;
  if (sc == NULL) goto done;
  uint8_t *body;
  size_t len;
  rc = encode_into(&g, n, sc, &body, &len);
  if (rc != 0) goto done;
  uint8_t *b = uvotel_malloc(len ? len : 1);
  rc = UVOTEL_ENOMEM;
  if (b == NULL) goto done;
  if (len) memcpy(b, body, len);
  *out = b;
  *out_n = len;
  rc = 0;
done:
  scratch_put(sc);
  uvotel__span_groups_free(&g);
  return rc;
}

int uvotel__otlp_encode_held(const uvotel_span_data_t *const *spans, size_t n,
                             uvotel__otlp_block_cache_t *cache, uint8_t **out, size_t *out_n,
                             uvotel__otlp_scratch_t **hold) {
  if ((spans == NULL && n > 0) || out == NULL || out_n == NULL || hold == NULL)
    return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  *hold = NULL;
  uvotel__span_groups_t g;
  int rc = uvotel__span_groups_build(&g, spans, n);
  if (rc != 0) return rc;
  scratch_t *sc = scratch_get(cache, NULL);
  rc = UVOTEL_ENOMEM;
  if (sc != NULL) rc = encode_into(&g, n, sc, out, out_n);
  uvotel__span_groups_free(&g);
  if (rc != 0) {
    *out = NULL;
    *out_n = 0;
    scratch_put(sc);
    return rc;
  }
  *hold = sc;
  return 0;
}
