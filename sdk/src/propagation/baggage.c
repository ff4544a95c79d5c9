/* W3C Baggage: an immutable, atomically reference-counted list of members, and the current
 * baggage as an async-context variable.
 *
 * One allocation holds the header, the entry and property tables (what uvotel_baggage_at hands
 * out), the serialised header value (so inject copies nothing) and NUL-terminated copies of every
 * key and decoded value. Building goes through a small "builder" list of slices that point into
 * the input, into an old baggage or into a scratch buffer of decoded bytes; the final block is
 * sized exactly from it. */
#include "propagation_internal.h"
#include "../common/env_internal.h"

struct uvotel_baggage_s {
  atomic_uint refs;
  uint32_t n;
  uint32_t wire_len;
  uvotel_baggage_entry_t *e;
  char *wire;
  /* entries, then properties, then wire, then strings */
};

typedef struct bg_mem_s {
  uvotel_str_t k, v;
  const uvotel_baggage_prop_t *props;
  size_t np;
} bg_mem_t;

typedef struct bg_builder_s {
  bg_mem_t *m;
  size_t n, cap;
  size_t seen; /* valid members seen, including those beyond cap */
  uvotel_baggage_prop_t *p;
  size_t np, pcap;
  char *dec; /* decoded bytes */
  size_t dec_used, dec_cap;
  char *tmp; /* dec_cap bytes of scratch for UTF-8 repair */
} bg_builder_t;

/* ---- character helpers ---- */

static int is_token(const char *s, size_t n) {
  if (n == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    if (!(uvotel__cc[(uint8_t)s[i]] & UVOTEL__CC_TOKEN)) return 0;
  }
  return 1;
}

static int is_octets(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!(uvotel__cc[(uint8_t)s[i]] & UVOTEL__CC_BAGGAGE_OCTET)) return 0;
  }
  return 1;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one. */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint8_t lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++) {
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  }
  return len;
}

/* Percent-decode s[0..n) into the builder's byte area with the SDK's one decoder, in its lenient
 * mode (a malformed escape stays as written); invalid UTF-8 becomes U+FFFD. The result never
 * exceeds n bytes: a byte that can be invalid came from a 3-character "%XX". */
static uvotel_str_t decode(bg_builder_t *b, const char *s, size_t n) {
  char *d = b->dec + b->dec_used;
  int high = 0;
  size_t dl = (size_t)uvotel__percent_decode(s, n, d, UVOTEL__PCT_LENIENT, &high);
  if (high) {
    /* Repair: copy aside, then rewrite with replacement characters. */
    memcpy(b->tmp, d, dl);
    const uint8_t *src = (const uint8_t *)b->tmp;
    size_t o = 0;
    for (size_t i = 0; i < dl;) {
      size_t l = utf8_seq(src + i, dl - i);
      if (l == 0) {
        d[o++] = (char)0xef;
        d[o++] = (char)0xbf;
        d[o++] = (char)0xbd;
        i++;
      } else {
        memcpy(d + o, src + i, l);
        o += l;
        i += l;
      }
    }
    dl = o;
  }
  b->dec_used += dl;
  uvotel_str_t r = {d, dl};
  return r;
}

static inline int unreserved(uint8_t c) {
  return uvotel__cc[c] & UVOTEL__CC_UNRESERVED;
}

static size_t enc_len(uvotel_str_t s) {
  size_t n = 0;
  for (size_t i = 0; i < s.len; i++) n += unreserved((uint8_t)s.ptr[i]) ? 1 : 3;
  return n;
}

static char *enc(char *w, uvotel_str_t s) {
  static const char hex[16] = "0123456789ABCDEF";
  for (size_t i = 0; i < s.len; i++) {
    uint8_t c = (uint8_t)s.ptr[i];
    if (unreserved(c)) {
      *w++ = (char)c;
    } else {
      *w++ = '%';
      *w++ = hex[c >> 4];
      *w++ = hex[c & 0x0f];
    }
  }
  return w;
}

/* ---- parsing ---- */

/* Parse properties text s[0..n) (each property separated by ';') into the builder's property
 * array. Returns 1, or 0 if a property is invalid (the builder is rolled back). */
static int parse_props(bg_builder_t *b, const char *s, size_t n) {
  size_t np0 = b->np, dec0 = b->dec_used;
  const char *p = s, *end = s + n;
  while (p <= end) {
    const char *semi = memchr(p, ';', (size_t)(end - p));
    const char *pe = semi ? semi : end;
    const char *q = p;
    size_t ql = (size_t)(pe - p);
    uvotel__trim_ows(&q, &ql);
    const char *eq = memchr(q, '=', ql);
    uvotel_baggage_prop_t pr;
    if (eq != NULL) {
      const char *k = q, *v = eq + 1;
      size_t kl = (size_t)(eq - q), vl = ql - kl - 1;
      uvotel__trim_ows(&k, &kl);
      uvotel__trim_ows(&v, &vl);
      if (!is_token(k, kl) || !is_octets(v, vl)) goto bad;
      pr.key.ptr = k;
      pr.key.len = kl;
      pr.value = decode(b, v, vl);
    } else {
      if (!is_token(q, ql)) goto bad; /* includes an empty property */
      pr.key.ptr = q;
      pr.key.len = ql;
      pr.value.ptr = NULL;
      pr.value.len = 0;
    }
    if (b->np == b->pcap) goto bad; /* cannot happen: pcap counts every ';' */
    b->p[b->np++] = pr;
    if (semi == NULL) break;
    p = semi + 1;
  }
  return 1;
bad:
  b->np = np0;
  b->dec_used = dec0;
  return 0;
}

/* One list member, already trimmed and non-empty. Returns 1 if valid. */
static int parse_member(bg_builder_t *b, const char *s, size_t n) {
  const char *semi = memchr(s, ';', n);
  size_t kvl = semi ? (size_t)(semi - s) : n;
  const char *eq = memchr(s, '=', kvl);
  if (eq == NULL) return 0;
  const char *k = s, *v = eq + 1;
  size_t kl = (size_t)(eq - s), vl = kvl - kl - 1;
  uvotel__trim_ows(&k, &kl);
  uvotel__trim_ows(&v, &vl);
  if (!is_token(k, kl) || !is_octets(v, vl)) return 0;
  if (b->n == b->cap) {
    b->seen++; /* valid but over the member limit: dropped */
    return 1;
  }
  size_t np0 = b->np;
  if (semi != NULL && !parse_props(b, semi + 1, n - kvl - 1)) return 0;
  bg_mem_t *m = &b->m[b->n];
  m->k.ptr = k;
  m->k.len = kl;
  m->v = decode(b, v, vl);
  m->props = b->p + np0;
  m->np = b->np - np0;
  b->n++;
  b->seen++;
  return 1;
}

/* ---- building the block ---- */

static size_t member_wire_len(const bg_mem_t *m) {
  size_t w = m->k.len + 1 + enc_len(m->v);
  for (size_t j = 0; j < m->np; j++) {
    w += 1 + m->props[j].key.len;
    if (m->props[j].value.ptr != NULL) w += 1 + enc_len(m->props[j].value);
  }
  return w;
}

/* Build from m[0..n). Members that would exceed the limits are dropped (strict: UVOTEL_ERANGE).
 * *dropped gets how many were dropped. */
static int build(const bg_mem_t *m, size_t n, int strict, uvotel_baggage_t **out, size_t *dropped) {
  *out = NULL;
  *dropped = 0;
  uint8_t keep[UVOTEL_BAGGAGE_MAX_MEMBERS + 1];
  if (n > UVOTEL_BAGGAGE_MAX_MEMBERS + 1) return UVOTEL_ERANGE;
  size_t wire = 0, kept = 0, nprops = 0, strs = 0;
  for (size_t i = 0; i < n; i++) {
    size_t add = member_wire_len(&m[i]) + (kept ? 1 : 0);
    keep[i] = kept < UVOTEL_BAGGAGE_MAX_MEMBERS && wire + add <= UVOTEL_BAGGAGE_MAX_BYTES;
    if (!keep[i]) {
      if (strict) return UVOTEL_ERANGE;
      (*dropped)++;
      continue;
    }
    wire += add;
    kept++;
    nprops += m[i].np;
    strs += m[i].k.len + 1 + m[i].v.len + 1;
    for (size_t j = 0; j < m[i].np; j++) {
      strs += m[i].props[j].key.len + 1;
      if (m[i].props[j].value.ptr != NULL) strs += m[i].props[j].value.len + 1;
    }
  }
  if (kept == 0) return 0;
  size_t head = sizeof(uvotel_baggage_t) + kept * sizeof(uvotel_baggage_entry_t) +
                nprops * sizeof(uvotel_baggage_prop_t);
  uvotel_baggage_t *bg = uvotel_malloc(head + wire + 1 + strs);
  if (bg == NULL) return UVOTEL_ENOMEM;
  atomic_init(&bg->refs, 1);
  bg->n = (uint32_t)kept;
  bg->wire_len = (uint32_t)wire;
  bg->e = (uvotel_baggage_entry_t *)(bg + 1);
  uvotel_baggage_prop_t *pp = (uvotel_baggage_prop_t *)(bg->e + kept);
  bg->wire = (char *)bg + head;
  char *w = bg->wire, *s = bg->wire + wire + 1;
#define COPY_STR(dst, src)           \
  do {                               \
    memcpy(s, (src).ptr, (src).len); \
    (dst).ptr = s;                   \
    (dst).len = (src).len;           \
    s += (src).len;                  \
    *s++ = '\0';                     \
  } while (0)
  size_t ei = 0;
  for (size_t i = 0; i < n; i++) {
    if (!keep[i]) continue;
    uvotel_baggage_entry_t *e = &bg->e[ei];
    if (ei > 0) *w++ = ',';
    ei++;
    memcpy(w, m[i].k.ptr, m[i].k.len);
    w += m[i].k.len;
    *w++ = '=';
    w = enc(w, m[i].v);
    COPY_STR(e->key, m[i].k);
    COPY_STR(e->value, m[i].v);
    e->props = pp;
    e->n_props = m[i].np;
    for (size_t j = 0; j < m[i].np; j++) {
      const uvotel_baggage_prop_t *sp = &m[i].props[j];
      *w++ = ';';
      memcpy(w, sp->key.ptr, sp->key.len);
      w += sp->key.len;
      COPY_STR(pp->key, sp->key);
      if (sp->value.ptr != NULL) {
        *w++ = '=';
        w = enc(w, sp->value);
        COPY_STR(pp->value, sp->value);
      } else {
        pp->value.ptr = NULL;
        pp->value.len = 0;
      }
      pp++;
    }
  }
#undef COPY_STR
  *w = '\0';
  *out = bg;
  return 0;
}

/* Scratch for a builder: stack when small, heap otherwise. */
typedef struct scratch_s {
  _Alignas(max_align_t) char stack[2048];
  void *heap;
} scratch_t;

static int builder_init(bg_builder_t *b, scratch_t *sc, bg_mem_t *m, size_t mcap, size_t pcap,
                        size_t bytes) {
  size_t need = pcap * sizeof(uvotel_baggage_prop_t) + 2 * bytes;
  char *p = sc->stack;
  sc->heap = NULL;
  if (need > sizeof sc->stack) {
    p = sc->heap = uvotel_malloc(need);
    if (p == NULL) return UVOTEL_ENOMEM;
  }
  memset(b, 0, sizeof *b);
  b->m = m;
  b->cap = mcap;
  b->p = (uvotel_baggage_prop_t *)p;
  b->pcap = pcap;
  b->dec = (char *)(b->p + pcap);
  b->dec_cap = bytes;
  b->tmp = b->dec + bytes;
  return 0;
}

static void scratch_free(scratch_t *sc) {
  uvotel_free(sc->heap);
}

static size_t count_byte(const char *s, size_t n, char c) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) k += s[i] == c;
  return k;
}

UVOTEL__API int uvotel_baggage_parse_lines(const uvotel_str_t *lines, size_t n,
                                           uvotel_baggage_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (lines == NULL && n > 0) return UVOTEL_EINVAL;
  size_t bytes = 0, semis = 0, commas = 0;
  for (size_t i = 0; i < n; i++) {
    if (lines[i].ptr == NULL) {
      if (lines[i].len != 0) return UVOTEL_EINVAL;
      continue;
    }
    bytes += lines[i].len;
    semis += count_byte(lines[i].ptr, lines[i].len, ';');
    commas += count_byte(lines[i].ptr, lines[i].len, ',') + 1;
  }
  if (bytes == 0) return 0;
  size_t mcap = commas < UVOTEL_BAGGAGE_MAX_MEMBERS ? commas : UVOTEL_BAGGAGE_MAX_MEMBERS;
  bg_mem_t m[UVOTEL_BAGGAGE_MAX_MEMBERS];
  bg_builder_t b;
  scratch_t sc;
  int rc = builder_init(&b, &sc, m, mcap, semis, bytes);
  if (rc < 0) return rc;
  size_t invalid = 0;
  for (size_t li = 0; li < n; li++) {
    const char *p = lines[li].ptr;
    if (p == NULL) continue;
    const char *end = p + lines[li].len;
    while (p < end) {
      const char *comma = memchr(p, ',', (size_t)(end - p));
      const char *me = comma ? comma : end;
      const char *s = p;
      size_t sl = (size_t)(me - p);
      p = comma ? comma + 1 : end;
      uvotel__trim_ows(&s, &sl);
      if (sl == 0) continue; /* empty member: skipped */
      if (!parse_member(&b, s, sl)) invalid++;
    }
  }
  size_t dropped = 0;
  rc = build(b.m, b.n, 0, out, &dropped);
  scratch_free(&sc);
  if (rc < 0) return rc;
  return (int)(invalid + dropped + (b.seen - b.n));
}

UVOTEL__API int uvotel_baggage_parse(const char *s, size_t len, uvotel_baggage_t **out) {
  if (s == NULL) {
    if (out != NULL) *out = NULL;
    return UVOTEL_EINVAL;
  }
  uvotel_str_t line = {s, len};
  return uvotel_baggage_parse_lines(&line, 1, out);
}

UVOTEL__API uvotel_baggage_t *uvotel_baggage_retain(const uvotel_baggage_t *b) {
  uvotel_baggage_t *m = (uvotel_baggage_t *)b;
  if (m != NULL) atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
  return m;
}

UVOTEL__API void uvotel_baggage_release(const uvotel_baggage_t *b) {
  uvotel_baggage_t *m = (uvotel_baggage_t *)b;
  if (m == NULL) return;
  /* Holding the only reference, nobody else can take one: free without the atomic RMW. */
  if (atomic_load_explicit(&m->refs, memory_order_acquire) == 1 ||
      atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) == 1) {
    uvotel_free(m);
  }
}

UVOTEL__API size_t uvotel_baggage_count(const uvotel_baggage_t *b) {
  return b ? b->n : 0;
}

UVOTEL__API int uvotel_baggage_at(const uvotel_baggage_t *b, size_t i,
                                  uvotel_baggage_entry_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  if (b == NULL || i >= b->n) return UVOTEL_ENOENT;
  *out = b->e[i];
  return 0;
}

static long find_last(const uvotel_baggage_t *b, const char *key, size_t kl) {
  for (size_t i = b->n; i-- > 0;) {
    if (b->e[i].key.len == kl && memcmp(b->e[i].key.ptr, key, kl) == 0) return (long)i;
  }
  return -1;
}

UVOTEL__API const char *uvotel_baggage_get(const uvotel_baggage_t *b, const char *key,
                                           size_t *len) {
  if (b == NULL || key == NULL) return NULL;
  long i = find_last(b, key, strlen(key));
  if (i < 0) return NULL;
  if (len != NULL) *len = b->e[i].value.len;
  return b->e[i].value.ptr;
}

/* Members of b without those named key (key NULL: all). Returns the count. */
static size_t members_of(const uvotel_baggage_t *b, const char *key, size_t kl, bg_mem_t *m) {
  size_t n = 0;
  for (size_t i = 0; b != NULL && i < b->n; i++) {
    const uvotel_baggage_entry_t *e = &b->e[i];
    if (key != NULL && e->key.len == kl && memcmp(e->key.ptr, key, kl) == 0) continue;
    m[n].k = e->key;
    m[n].v = e->value;
    m[n].props = e->props;
    m[n].np = e->n_props;
    n++;
  }
  return n;
}

UVOTEL__API int uvotel_baggage_set(const uvotel_baggage_t *b, const char *key, const char *value,
                                   const char *properties, uvotel_baggage_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (key == NULL || value == NULL) return UVOTEL_EINVAL;
  size_t kl = strlen(key);
  if (!is_token(key, kl)) return UVOTEL_EPARSE;
  size_t pl = properties ? strlen(properties) : 0;
  bg_mem_t mm[UVOTEL_BAGGAGE_MAX_MEMBERS + 1];
  bg_builder_t bb;
  scratch_t sc;
  int rc = builder_init(&bb, &sc, mm, UVOTEL_BAGGAGE_MAX_MEMBERS + 1,
                        pl ? count_byte(properties, pl, ';') + 1 : 0, pl);
  if (rc < 0) return rc;
  size_t n = members_of(b, key, kl, bb.m);
  if (pl > 0 && !parse_props(&bb, properties, pl)) {
    scratch_free(&sc);
    return UVOTEL_EPARSE;
  }
  bg_mem_t *m = &bb.m[n++];
  m->k.ptr = key;
  m->k.len = kl;
  m->v.ptr = value;
  m->v.len = strlen(value);
  m->props = bb.p;
  m->np = bb.np;
  size_t dropped;
  rc = build(bb.m, n, 1, out, &dropped);
  scratch_free(&sc);
  return rc;
}

UVOTEL__API int uvotel_baggage_remove(const uvotel_baggage_t *b, const char *key,
                                      uvotel_baggage_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (key == NULL) return UVOTEL_EINVAL;
  size_t kl = strlen(key);
  if (b == NULL || find_last(b, key, kl) < 0) {
    *out = uvotel_baggage_retain(b);
    return UVOTEL_ENOENT;
  }
  bg_mem_t m[UVOTEL_BAGGAGE_MAX_MEMBERS];
  size_t n = members_of(b, key, kl, m);
  size_t dropped;
  return build(m, n, 1, out, &dropped);
}

UVOTEL__API const char *uvotel_baggage_str(const uvotel_baggage_t *b, size_t *len) {
  if (b == NULL) {
    if (len != NULL) *len = 0;
    return "";
  }
  if (len != NULL) *len = b->wire_len;
  return b->wire;
}

/* ---- the current baggage ---- */

static void ctx_retain(void *v) {
  uvotel_baggage_retain(v);
}
static void ctx_release(void *v) {
  uvotel_baggage_release(v);
}
static const uvotel_value_ops_t g_ops = {.retain = ctx_retain, .release = ctx_release};
static _Atomic(uvotel_var_t *) g_var;

UVOTEL__API uvotel_var_t *uvotel_baggage_var(void) {
  uvotel_var_t *v = atomic_load_explicit(&g_var, memory_order_acquire);
  if (UVOTEL__LIKELY(v != NULL)) return v;
  uvotel_var_t *nv = uvotel_var_create("baggage", NULL, &g_ops);
  if (nv == NULL) return NULL;
  if (!atomic_compare_exchange_strong(&g_var, &v, nv)) {
    uvotel_var_free(nv); /* another thread won */
    return v;
  }
  return nv;
}

UVOTEL__API const uvotel_baggage_t *uvotel_baggage_current(void) {
  uvotel_var_t *v = atomic_load_explicit(&g_var, memory_order_acquire);
  return v ? uvotel_var_get(v) : NULL;
}

UVOTEL__API int uvotel_baggage_enter(const uvotel_baggage_t *b, uvotel_scope_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  uvotel_var_t *v = uvotel_baggage_var();
  if (v == NULL) return UVOTEL_ENOMEM;
  return uvotel_var_enter(v, (void *)b, out);
}

UVOTEL__API void *uvotel_baggage_run(const uvotel_baggage_t *b, void *(*fn)(void *arg), void *arg) {
  uvotel_var_t *v = uvotel_baggage_var();
  if (v == NULL || fn == NULL) return NULL;
  return uvotel_var_run(v, (void *)b, fn, arg);
}

UVOTEL__API const char *uvotel_baggage_current_get(const char *key, size_t *len) {
  return uvotel_baggage_get(uvotel_baggage_current(), key, len);
}

UVOTEL__API int uvotel_baggage_enter_set(const char *key, const char *value, const char *properties,
                                         uvotel_scope_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  uvotel_baggage_t *nb;
  int rc = uvotel_baggage_set(uvotel_baggage_current(), key, value, properties, &nb);
  if (rc < 0) return rc;
  rc = uvotel_baggage_enter(nb, out);
  uvotel_baggage_release(nb); /* the context holds it now */
  return rc;
}

UVOTEL__API int uvotel_baggage_enter_remove(const char *key, uvotel_scope_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  uvotel_baggage_t *nb;
  int rc = uvotel_baggage_remove(uvotel_baggage_current(), key, &nb);
  if (rc < 0 && rc != UVOTEL_ENOENT) return rc;
  rc = uvotel_baggage_enter(nb, out);
  uvotel_baggage_release(nb);
  return rc;
}
