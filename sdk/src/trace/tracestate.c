/* W3C tracestate: an immutable, atomically reference-counted list of key=value members. It lives
 * beside the span context that carries it (trace/), so tracing does not depend on propagation;
 * the propagators parse and serialise it through uvotel/trace_state.h.
 *
 * One block holds everything: the header, the member table, the serialised header value
 * ("k1=v1,k2=v2": the received bytes when the header was canonical, what inject writes, so
 * inject copies nothing) and room for a second copy in which every "=" and "," is a NUL, so each
 * key and value is a C string. That copy is made only when someone asks for a value as a C string
 * (uvotel_trace_state_get), once, whoever asks first; uvotel_trace_state_at hands out slices of
 * it too. Offsets are 16 bits: the largest valid list is 32 * (256 + 1 + 256) + 31 bytes.
 *
 * Parsing: one canonical line (one header, "k=v,k=v" as senders write it) is checked whole by
 * the masks of src/common/w3c_ts.h (SSE2, SSSE3 or AVX2, chosen at load time): a line of 16..63
 * bytes (most headers) as one word from two overlapping loads, its members read off the
 * separator mask with the end as a sentinel bit; a longer one in 64-byte blocks, its separator
 * positions collected first. Either way the members go straight into the block and the received
 * bytes are copied as they are (no call to memcpy); anything else (OWS, empty members, repeated
 * keys, several lines, errors) takes the general walk, one member at a time with the SSE2 value
 * scan of w3c.h.
 *
 * Blocks up to TS_BLOCK bytes (a usual header) are recycled through a small per-thread cache of
 * the threads that parse or build tracestates, so extracting a request's tracestate and dropping
 * it when the request is done allocates nothing in steady state. */
#include "../common/thread_state_internal.h"
#include "../common/w3c_ts.h"
#include "trace_internal.h"

typedef struct ts_member_s {
  uint16_t key_off, key_len; /* the value follows the key and its "=" */
  uint16_t val_len, pad_;    /* pad_: 0 or anything, never read */
} ts_member_t;

struct uvotel_trace_state_s {
  atomic_uint refs;
  uint16_t n;
  uint16_t wire_len;
  uint8_t small;        /* a TS_BLOCK block (recyclable) */
  atomic_uchar strs_ok; /* 0: strs not written, 1: being written, 2: ready */
  char *wire;           /* serialised value, NUL-terminated */
  char *strs;           /* the same bytes with separators replaced by NUL (lazily) */
  ts_member_t m[];
};

/* ---- block recycling ---- */

#define TS_BLOCK 512
#define TS_CACHE_MAX 8

typedef struct ts_free_s {
  struct ts_free_s *next;
} ts_free_t;

typedef struct ts_cache_s {
  ts_free_t *head;
  uint32_t n;
  uint8_t armed; /* this thread allocates tracestates: keep what it frees */
} ts_cache_t;

static UVOTEL__TLS ts_cache_t t_ts_cache;
static pthread_key_t g_ts_key;
static pthread_once_t g_ts_once = PTHREAD_ONCE_INIT;

void uvotel__trace_state_cache_cleanup(void) {
  ts_cache_t *c = &t_ts_cache;
  while (c->head != NULL) {
    ts_free_t *b = c->head;
    c->head = b->next;
    uvotel_free(b);
  }
  c->n = 0;
}

static void ts_layer_cleanup(uvotel__tls_t *t) {
  (void)t;
  uvotel__trace_state_cache_cleanup();
}

/* uvotel_thread_cleanup frees the cache with the other layers' per-thread memory. */
__attribute__((constructor)) static void ts_layer_register(void) {
  uvotel__tls_layer_cleanup(UVOTEL__LAYER_TRACE, ts_layer_cleanup);
}

static void ts_key_destructor(void *p) {
  (void)p;
  uvotel__trace_state_cache_cleanup();
}

static void ts_key_create(void) {
  (void)pthread_key_create(&g_ts_key, ts_key_destructor);
}

static void *ts_alloc(size_t size, uint8_t *small) {
  ts_cache_t *c = &t_ts_cache;
  if (size > TS_BLOCK) {
    *small = 0;
    return uvotel_malloc(size);
  }
  *small = 1;
  ts_free_t *b = c->head;
  if (UVOTEL__LIKELY(b != NULL)) {
    c->head = b->next;
    c->n--;
    return b;
  }
  if (UVOTEL__UNLIKELY(!c->armed)) {
    /* first tracestate of this thread: free the cache when the thread exits */
    pthread_once(&g_ts_once, ts_key_create);
    (void)pthread_setspecific(g_ts_key, c);
    c->armed = 1;
  }
  return uvotel_malloc(TS_BLOCK);
}

static void ts_dealloc(uvotel_trace_state_t *ts) {
  ts_cache_t *c = &t_ts_cache;
  if (ts->small && c->armed && c->n < TS_CACHE_MAX) {
    ts_free_t *b = (ts_free_t *)ts;
    b->next = c->head;
    c->head = b;
    c->n++;
    return;
  }
  uvotel_free(ts);
}

typedef uvotel__ts_slice_t ts_slice_t;

static int valid_key(const char *k, size_t kl) {
  if (kl == 0 || kl > UVOTEL_TRACE_STATE_MAX_KEY) return 0;
  if (!(uvotel__cc[(uint8_t)k[0]] & UVOTEL__CC_TS_KEY_FIRST)) return 0;
  for (size_t i = 1; i < kl; i++) {
    if (!(uvotel__cc[(uint8_t)k[i]] & UVOTEL__CC_TS_KEY)) return 0;
  }
  return 1;
}

static int valid_value(const char *v, size_t vl) {
  if (vl == 0 || vl > UVOTEL_TRACE_STATE_MAX_VALUE || v[vl - 1] == ' ') return 0;
  for (size_t i = 0; i < vl; i++) {
    if (!(uvotel__cc[(uint8_t)v[i]] & UVOTEL__CC_TS_VALUE)) return 0;
  }
  return 1;
}

/* Copy n bytes without a call: the wire of a usual tracestate is 30 to 200 bytes, and a call
 * to memcpy costs more than the copy (16 bytes a step, the last step overlapping). */
static inline void copy_bytes(char *d, const char *s, size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    size_t i = 0;
    for (; i + 16 < n; i += 16) {
      _mm_storeu_si128((__m128i *)(void *)(d + i),
                       _mm_loadu_si128((const __m128i *)(const void *)(s + i)));
    }
    _mm_storeu_si128((__m128i *)(void *)(d + n - 16),
                     _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16)));
    return;
  }
#endif
  if (n >= 8) {
    size_t i = 0;
    uint64_t w;
    for (; i + 8 < n; i += 8) memcpy(&w, s + i, 8), memcpy(d + i, &w, 8);
    memcpy(&w, s + n - 8, 8), memcpy(d + n - 8, &w, 8);
    return;
  }
  for (size_t i = 0; i < n; i++) d[i] = s[i];
}

/* The header of a block of n members whose wire (len bytes, NUL-terminated here) follows the
 * member table, and the strs copy after it. Returns the wire, for the caller to fill. */
static inline char *ts_init(uvotel_trace_state_t *ts, uint8_t small, size_t n, size_t len) {
  atomic_init(&ts->refs, 1);
  ts->small = small;
  atomic_init(&ts->strs_ok, 0);
  ts->n = (uint16_t)n;
  ts->wire_len = (uint16_t)len;
  ts->wire = (char *)ts + sizeof(uvotel_trace_state_t) + n * sizeof(ts_member_t);
  ts->strs = ts->wire + len + 1;
  ts->wire[len] = '\0';
  return ts->wire;
}

static size_t wire_len_of(const ts_slice_t *s, size_t n) {
  size_t wire = n - 1; /* commas */
  for (size_t i = 0; i < n; i++) wire += s[i].kl + 1 + s[i].vl;
  return wire;
}

/* Build from s[0..n) (n >= 1), whose serialised form is `wire` bytes. `wire_src`, when not
 * NULL, is that form already (a canonical input line): one copy instead of one per member. */
static uvotel_trace_state_t *ts_build(const ts_slice_t *s, size_t n, size_t wire,
                                      const char *wire_src) {
  size_t head = sizeof(uvotel_trace_state_t) + n * sizeof(ts_member_t);
  uint8_t small;
  uvotel_trace_state_t *ts = ts_alloc(head + 2 * (wire + 1), &small);
  if (ts == NULL) return NULL;
  ts_init(ts, small, n, wire);
  if (wire_src != NULL) {
    copy_bytes(ts->wire, wire_src, wire);
  } else {
    char *w = ts->wire;
    for (size_t i = 0; i < n; i++) {
      if (i > 0) *w++ = ',';
      copy_bytes(w, s[i].k, s[i].kl);
      w += s[i].kl;
      *w++ = '=';
      copy_bytes(w, s[i].v, s[i].vl);
      w += s[i].vl;
    }
  }
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    ts->m[i].key_off = (uint16_t)off;
    ts->m[i].key_len = (uint16_t)s[i].kl;
    ts->m[i].val_len = (uint16_t)s[i].vl;
    ts->m[i].pad_ = 0;
    off += s[i].kl + 1 + s[i].vl + 1;
  }
  return ts;
}

/* The NUL-separated copy, written by the first thread that needs it; the others wait for it. */
static const char *ts_strs(const uvotel_trace_state_t *cts) {
  uvotel_trace_state_t *ts = (uvotel_trace_state_t *)cts;
  unsigned char st = atomic_load_explicit(&ts->strs_ok, memory_order_acquire);
  if (UVOTEL__LIKELY(st == 2)) return ts->strs;
  unsigned char expect = 0;
  if (atomic_compare_exchange_strong_explicit(&ts->strs_ok, &expect, 1, memory_order_acquire,
                                              memory_order_acquire)) {
    memcpy(ts->strs, ts->wire, (size_t)ts->wire_len + 1);
    for (size_t i = 0; i < ts->n; i++) {
      size_t k = ts->m[i].key_off + ts->m[i].key_len;
      ts->strs[k] = '\0';                        /* was "=" */
      ts->strs[k + 1 + ts->m[i].val_len] = '\0'; /* was "," or the end */
    }
    atomic_store_explicit(&ts->strs_ok, 2, memory_order_release);
    return ts->strs;
  }
  while (atomic_load_explicit(&ts->strs_ok, memory_order_acquire) != 2) {
  }
  return ts->strs;
}

/* Keys and values as slices of the wire bytes (for lookups and rebuilding). */
static inline const char *mkey(const uvotel_trace_state_t *ts, size_t i) {
  return ts->wire + ts->m[i].key_off;
}
static inline const char *mval(const uvotel_trace_state_t *ts, size_t i) {
  return ts->wire + ts->m[i].key_off + ts->m[i].key_len + 1;
}

static inline int key_eq(const char *a, size_t al, const char *b, size_t bl) {
  return al == bl && uvotel__ts_key_eq(a, b, al);
}

/* ---- parsing ---- */

/* The general walk, for lines the canonical path declines. One line, any length: OWS, key, "=",
 * value, OWS, then "," or the end, member by member, in one pass over the bytes (each byte is
 * looked at once, the values eight at a time). */
static int parse_line_walk(uvotel__ts_acc_t *a, const char *p, size_t len) {
  const char *line = p, *end = p + len;
  for (;;) {
    while (p < end && uvotel__is_ows(*p)) p++;
    if (p == end) return 0;
    if (*p == ',') { /* empty list member: allowed */
      p++;
      continue;
    }
    /* the key, validated as it is scanned (keys are short: a table lookup per byte) */
    const char *k = p;
    if (!(uvotel__cc[(uint8_t)*p] & UVOTEL__CC_TS_KEY_FIRST)) return UVOTEL_EPARSE;
    p++;
    while (p < end && (uvotel__cc[(uint8_t)*p] & UVOTEL__CC_TS_KEY)) p++;
    size_t kl = (size_t)(p - k);
    if (p == end || *p != '=' || kl > UVOTEL_TRACE_STATE_MAX_KEY) return UVOTEL_EPARSE;
    const char *v = ++p;
    p = uvotel__scan_special(line, p, end); /* what it skips is exactly the value grammar */
    const char *ve = p;
    while (ve > v && ve[-1] == ' ') ve--; /* trailing spaces are OWS, not value */
    while (p < end && uvotel__is_ows(*p)) p++;
    if (p < end && *p != ',') return UVOTEL_EPARSE; /* "=", a control byte, non-ASCII... */
    size_t vl = (size_t)(ve - v);
    if (vl == 0 || vl > UVOTEL_TRACE_STATE_MAX_VALUE) return UVOTEL_EPARSE;
    if (p < end) p++; /* the "," */
    int rc = uvotel__ts_acc_add(a, k, kl, v, vl);
    if (rc < 0) return rc;
  }
}

/* One canonical line (the usual extract: one tracestate header, as its sender wrote it): the
 * line checked whole by the masks of src/common/w3c_ts.h, the separator positions collected, then
 * the members written from them straight into the block in one tight loop, and the received bytes
 * kept as they are. Returns 1, having allocated nothing, when the line is not canonical, has a
 * repeated key (non-strict), or has more members than allowed: the general walk then parses it
 * and finds any error. */
__attribute__((always_inline)) static inline int parse_canonical(const char *line, size_t len,
                                                                 unsigned flags,
                                                                 uvotel_trace_state_t **out,
                                                                 uvotel__ts_cls_fn cls) {
  uint64_t seps[UVOTEL__TS_FAST_MAX / 64];
  size_t nb = uvotel__ts_canonical(line, len, cls, seps);
  if (nb == 0) return 1;
  size_t nsep = 0;
  for (size_t b = 0; b < nb; b++) nsep += (size_t)__builtin_popcountll(seps[b]);
  size_t n = (nsep + 1) / 2; /* "=" "," ... "=": odd, the line ends in a value */
  if (n > UVOTEL_TRACE_STATE_MAX_MEMBERS) return 1;
  /* The separator positions in order, then the end: key i ends at pos[2i], its value at
   * pos[2i + 1]. */
  uint16_t pos[2 * UVOTEL_TRACE_STATE_MAX_MEMBERS];
  size_t np = 0;
  for (size_t b = 0; b < nb; b++) {
    for (uint64_t x = seps[b]; x != 0; x &= x - 1) {
      pos[np++] = (uint16_t)(64 * b + (size_t)__builtin_ctzll(x));
    }
  }
  pos[np] = (uint16_t)len;
  size_t head = sizeof(uvotel_trace_state_t) + n * sizeof(ts_member_t);
  uint8_t small;
  uvotel_trace_state_t *ts = ts_alloc(head + 2 * (len + 1), &small);
  if (ts == NULL) return UVOTEL_ENOMEM;
  uint64_t lens = 0; /* bit (key length % 64) of every key so far: most keys need no compare */
  size_t ks = 0;
  int rc = 1;
  for (size_t i = 0; i < n; i++) {
    size_t ke = pos[2 * i], ve = pos[2 * i + 1];
    size_t kl = ke - ks, vl = ve - ke - 1;
    uint64_t bit = 1ull << (kl & 63);
    if (UVOTEL__UNLIKELY(lens & bit)) {
      for (size_t j = 0; j < i; j++) {
        if (ts->m[j].key_len == kl && uvotel__ts_key_eq(line + ts->m[j].key_off, line + ks, kl)) {
          if (flags & UVOTEL_TRACE_STATE_STRICT) rc = UVOTEL_EPARSE;
          goto decline;
        }
      }
    }
    lens |= bit;
    uint64_t mw = (uint64_t)ks | (uint64_t)kl << 16 | (uint64_t)vl << 32; /* pad_ 0 */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    ts->m[i] = (ts_member_t){(uint16_t)ks, (uint16_t)kl, (uint16_t)vl, 0};
    (void)mw;
#else
    memcpy(&ts->m[i], &mw, sizeof mw);
#endif
    ks = ve + 1;
  }
  if (len > UVOTEL_TRACE_STATE_MAX_VALUE) { /* else no key or value can be too long */
    for (size_t i = 0; i < n; i++) {
      if (ts->m[i].key_len > UVOTEL_TRACE_STATE_MAX_KEY ||
          ts->m[i].val_len > UVOTEL_TRACE_STATE_MAX_VALUE) {
        goto decline;
      }
    }
  }
  copy_bytes(ts_init(ts, small, n, len), line, len);
  *out = ts;
  return 0;
decline:
  ts->small = small;
  ts_dealloc(ts);
  return rc;
}

#if defined(UVOTEL__HAVE_SSSE3_TARGET)
/* 16..63 bytes with 32-byte moves (AVX), the last one overlapping; below 32, two 16-byte ones. */
__attribute__((target("avx"))) static inline void copy_short_avx(char *d, const char *s, size_t n) {
  if (n >= 32) {
    __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)s);
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + n - 32));
    _mm256_storeu_si256((__m256i *)(void *)d, a);
    _mm256_storeu_si256((__m256i *)(void *)(d + n - 32), b);
    return;
  }
  __m128i a = _mm_loadu_si128((const __m128i *)(const void *)s);
  __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
  _mm_storeu_si128((__m128i *)(void *)d, a);
  _mm_storeu_si128((__m128i *)(void *)(d + n - 16), b);
}
#endif

/* The block of a canonical line of at most UVOTEL__TS_SHORT_MAX bytes whose separator mask is
 * `sep`: the members read off the mask (the end as a separator past the last value), no limit
 * can be broken and at most 16 members fit. Returns 1 (nothing allocated) on a repeated key,
 * UVOTEL_EPARSE for one under STRICT. */
__attribute__((always_inline)) static inline int build_short(
    const char *line, size_t len, uint64_t sep, unsigned flags, uvotel_trace_state_t **out,
    void (*copy)(char *, const char *, size_t)) {
  size_t n = ((size_t)__builtin_popcountll(sep) + 1) / 2;
  size_t head = sizeof(uvotel_trace_state_t) + n * sizeof(ts_member_t);
  uint8_t small;
  uvotel_trace_state_t *ts = ts_alloc(head + 2 * (len + 1), &small);
  if (ts == NULL) return UVOTEL_ENOMEM;
  uint64_t x = sep | 1ull << len, lens = 0;
  size_t ks = 0;
  for (size_t i = 0; i < n; i++) {
    size_t ke = (size_t)__builtin_ctzll(x);
    x &= x - 1;
    size_t ve = (size_t)__builtin_ctzll(x);
    x &= x - 1;
    size_t kl = ke - ks, vl = ve - ke - 1;
    uint64_t bit = 1ull << kl; /* kl < 64 */
    if (UVOTEL__UNLIKELY(lens & bit)) {
      for (size_t j = 0; j < i; j++) {
        if (ts->m[j].key_len == kl && uvotel__ts_key_eq(line + ts->m[j].key_off, line + ks, kl)) {
          ts->small = small;
          ts_dealloc(ts);
          return (flags & UVOTEL_TRACE_STATE_STRICT) ? UVOTEL_EPARSE : 1;
        }
      }
    }
    lens |= bit;
    ts->m[i].key_off = (uint16_t)ks; /* pad_ is never read */
    ts->m[i].key_len = (uint16_t)kl;
    ts->m[i].val_len = (uint16_t)vl;
    ks = ve + 1;
  }
  copy(ts_init(ts, small, n, len), line, len);
  *out = ts;
  return 0;
}

static inline int is_short(size_t len) {
  return len - UVOTEL__TS_SHORT_MIN <= UVOTEL__TS_SHORT_MAX - UVOTEL__TS_SHORT_MIN;
}

static int walk_one(const char *line, size_t len, unsigned flags, uvotel_trace_state_t **out);

/* One line, whole: the canonical path, and the general walk (walk_one) for what it declines, so
 * the usual line costs one call with nothing to keep across it. The canonical path uses the best
 * classifier this CPU has. SSSE3 (with POPCNT: every CPU
 * since 2008 that has one has the other) is chosen at load time, since the x86-64 baseline the
 * library is built for does not promise it; SSE2 is that baseline; other CPUs classify with the
 * byte table. */
static int canonical_base(const char *line, size_t len, unsigned flags,
                          uvotel_trace_state_t **out) {
#if defined(__SSE2__)
  int rc = parse_canonical(line, len, flags, out, uvotel__ts_cls_sse2);
#else
  int rc = parse_canonical(line, len, flags, out, uvotel__ts_cls_scalar);
#endif
  return rc != 1 ? rc : walk_one(line, len, flags, out);
}

#if defined(UVOTEL__HAVE_SSSE3_TARGET)
/* Each CPU level: short lines inline, longer ones in a function of their own (so the short
 * path does not pay for the long one's registers and stack). */
__attribute__((target("ssse3,popcnt"), noinline)) static int canonical_ssse3_long(
    const char *line, size_t len, unsigned flags, uvotel_trace_state_t **out) {
  return parse_canonical(line, len, flags, out, uvotel__ts_cls_ssse3);
}

__attribute__((target("ssse3,popcnt"))) static int canonical_ssse3(const char *line, size_t len,
                                                                   unsigned flags,
                                                                   uvotel_trace_state_t **out) {
  if (is_short(len)) {
    uint64_t sep = uvotel__ts_short_ssse3(line, len);
    if (sep != 0) {
      int rc = build_short(line, len, sep, flags, out, copy_bytes);
      if (rc != 1) return rc;
    }
    return walk_one(line, len, flags, out);
  }
  int rc = canonical_ssse3_long(line, len, flags, out);
  return rc != 1 ? rc : walk_one(line, len, flags, out);
}

__attribute__((target("avx2,pclmul,bmi,popcnt"), noinline)) static int canonical_avx2_long(
    const char *line, size_t len, unsigned flags, uvotel_trace_state_t **out) {
  return parse_canonical(line, len, flags, out, uvotel__ts_cls_avx2);
}

__attribute__((target("avx2,pclmul,bmi,popcnt"))) static int canonical_avx2(
    const char *line, size_t len, unsigned flags, uvotel_trace_state_t **out) {
  if (is_short(len)) {
    uint64_t sep = uvotel__ts_short_avx2(line, len);
    if (sep != 0) {
      int rc = build_short(line, len, sep, flags, out, copy_short_avx);
      if (rc != 1) return rc;
    }
    return walk_one(line, len, flags, out);
  }
  int rc = canonical_avx2_long(line, len, flags, out);
  return rc != 1 ? rc : walk_one(line, len, flags, out);
}

/* 0: SSE2 or the byte table, 1: SSSE3 (with POPCNT), 2: AVX2 (with PCLMUL, BMI1 and POPCNT). */
static int g_ts_simd;

__attribute__((constructor)) static void ts_cpu_probe(void) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("popcnt") || !__builtin_cpu_supports("ssse3")) return;
  g_ts_simd = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
                      __builtin_cpu_supports("bmi")
                  ? 2
                  : 1;
}
#endif

static inline int parse_one(const char *line, size_t len, unsigned flags,
                            uvotel_trace_state_t **out) {
#if defined(UVOTEL__HAVE_SSSE3_TARGET)
  if (UVOTEL__LIKELY(g_ts_simd == 2)) return canonical_avx2(line, len, flags, out);
  if (g_ts_simd == 1) return canonical_ssse3(line, len, flags, out);
#endif
  return canonical_base(line, len, flags, out);
}

/* Every line the canonical path declined: the general walk. */
__attribute__((noinline)) static int parse_lines_walk(const uvotel_str_t *lines, size_t n,
                                                      unsigned flags, uvotel_trace_state_t **out) {
  uvotel__ts_acc_t a; /* only the counters: members are written as they are found */
  a.nm = 0;
  a.wire = 0;
  a.lens = 0;
  a.flags = flags;
  size_t first_line = SIZE_MAX, last_line = 0;
  for (size_t li = 0; li < n; li++) {
    const char *p = lines[li].ptr;
    size_t len = lines[li].len;
    if (p == NULL) {
      if (len != 0) return UVOTEL_EINVAL;
      continue;
    }
    size_t before = a.nm;
    int rc = parse_line_walk(&a, p, len);
    if (rc < 0) return rc;
    if (a.nm != before) {
      if (first_line == SIZE_MAX) first_line = li;
      last_line = li;
    }
  }
  if (a.nm == 0) return 0;
  size_t wire = a.wire + a.nm - 1;
  /* Canonical input (one line that is exactly "k=v,k=v"): keep the received bytes as they are. */
  const char *src = NULL;
  if (first_line == last_line && lines[first_line].len == wire &&
      a.m[0].k == lines[first_line].ptr) {
    src = lines[first_line].ptr;
  }
  *out = ts_build(a.m, a.nm, wire, src);
  return *out ? 0 : UVOTEL_ENOMEM;
}

__attribute__((noinline)) static int walk_one(const char *line, size_t len, unsigned flags,
                                              uvotel_trace_state_t **out) {
  uvotel_str_t l = {line, len};
  return parse_lines_walk(&l, 1, flags, out);
}

UVOTEL__API int uvotel_trace_state_parse_lines(const uvotel_str_t *lines, size_t n, unsigned flags,
                                               uvotel_trace_state_t **out) {
  if (out == NULL || (lines == NULL && n > 0)) return UVOTEL_EINVAL;
  *out = NULL;
  if (n == 1 && lines[0].ptr != NULL) return parse_one(lines[0].ptr, lines[0].len, flags, out);
  return parse_lines_walk(lines, n, flags, out);
}

UVOTEL__API int uvotel_trace_state_parse(const char *s, size_t len, uvotel_trace_state_t **out) {
  if (s == NULL) {
    if (out != NULL) *out = NULL;
    return UVOTEL_EINVAL;
  }
  uvotel_str_t line = {s, len};
  return uvotel_trace_state_parse_lines(&line, 1, 0, out);
}

UVOTEL__API uvotel_trace_state_t *uvotel_trace_state_retain(const uvotel_trace_state_t *ts) {
  uvotel_trace_state_t *t = (uvotel_trace_state_t *)ts;
  if (t != NULL) atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  return t;
}

UVOTEL__API void uvotel_trace_state_release(const uvotel_trace_state_t *ts) {
  uvotel_trace_state_t *t = (uvotel_trace_state_t *)ts;
  if (t == NULL) return;
  /* Holding the only reference, nobody else can take one: free without the atomic RMW. */
  if (atomic_load_explicit(&t->refs, memory_order_acquire) == 1 ||
      atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
    ts_dealloc(t);
  }
}

UVOTEL__API size_t uvotel_trace_state_count(const uvotel_trace_state_t *ts) {
  return ts ? ts->n : 0;
}

UVOTEL__API int uvotel_trace_state_at(const uvotel_trace_state_t *ts, size_t i, uvotel_str_t *key,
                                      uvotel_str_t *value) {
  if (key == NULL || value == NULL) return UVOTEL_EINVAL;
  if (ts == NULL || i >= ts->n) return UVOTEL_ENOENT;
  const char *strs = ts_strs(ts); /* each slice is NUL-terminated too */
  key->ptr = strs + ts->m[i].key_off;
  key->len = ts->m[i].key_len;
  value->ptr = strs + ts->m[i].key_off + ts->m[i].key_len + 1;
  value->len = ts->m[i].val_len;
  return 0;
}

static int find(const uvotel_trace_state_t *ts, const char *key, size_t kl) {
  for (size_t i = 0; i < ts->n; i++) {
    if (key_eq(mkey(ts, i), ts->m[i].key_len, key, kl)) return (int)i;
  }
  return -1;
}

UVOTEL__API const char *uvotel_trace_state_get(const uvotel_trace_state_t *ts, const char *key,
                                               size_t *len) {
  if (ts == NULL || key == NULL) return NULL;
  int i = find(ts, key, strlen(key));
  if (i < 0) return NULL;
  if (len != NULL) *len = ts->m[i].val_len;
  return ts_strs(ts) + ts->m[i].key_off + ts->m[i].key_len + 1;
}

/* Members of ts as slices, without the one at index `skip` (-1: none). */
static size_t slices_of(const uvotel_trace_state_t *ts, int skip, ts_slice_t *out) {
  size_t n = 0;
  for (size_t i = 0; ts != NULL && i < ts->n; i++) {
    if ((int)i == skip) continue;
    out[n].k = mkey(ts, i);
    out[n].kl = ts->m[i].key_len;
    out[n].v = mval(ts, i);
    out[n].vl = ts->m[i].val_len;
    n++;
  }
  return n;
}

UVOTEL__API int uvotel_trace_state_set(const uvotel_trace_state_t *ts, const char *key,
                                       const char *value, uvotel_trace_state_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (key == NULL || value == NULL) return UVOTEL_EINVAL;
  size_t kl = strlen(key), vl = strlen(value);
  if (!valid_key(key, kl) || !valid_value(value, vl)) return UVOTEL_EPARSE;
  ts_slice_t m[UVOTEL_TRACE_STATE_MAX_MEMBERS + 1];
  m[0].k = key;
  m[0].kl = kl;
  m[0].v = value;
  m[0].vl = vl;
  size_t n = 1 + slices_of(ts, ts ? find(ts, key, kl) : -1, m + 1);
  if (n > UVOTEL_TRACE_STATE_MAX_MEMBERS) n = UVOTEL_TRACE_STATE_MAX_MEMBERS; /* drop rightmost */
  *out = ts_build(m, n, wire_len_of(m, n), NULL);
  return *out ? 0 : UVOTEL_ENOMEM;
}

UVOTEL__API int uvotel_trace_state_delete(const uvotel_trace_state_t *ts, const char *key,
                                          uvotel_trace_state_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (key == NULL) return UVOTEL_EINVAL;
  int i = ts ? find(ts, key, strlen(key)) : -1;
  if (i < 0) {
    *out = uvotel_trace_state_retain(ts);
    return UVOTEL_ENOENT;
  }
  ts_slice_t m[UVOTEL_TRACE_STATE_MAX_MEMBERS];
  size_t n = slices_of(ts, i, m);
  if (n == 0) return 0;
  *out = ts_build(m, n, wire_len_of(m, n), NULL);
  return *out ? 0 : UVOTEL_ENOMEM;
}

UVOTEL__API const char *uvotel_trace_state_str(const uvotel_trace_state_t *ts, size_t *len) {
  if (ts == NULL) {
    if (len != NULL) *len = 0;
    return "";
  }
  if (len != NULL) *len = ts->wire_len;
  return ts->wire;
}
