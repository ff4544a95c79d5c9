/* W3C tracestate: an immutable, atomically reference-counted list of key=value members.
 *
 * One allocation holds everything: the header, the member table, the serialised header value
 * ("k1=v1,k2=v2", what inject writes, so inject copies nothing) and a NUL-terminated copy of
 * every key and value (what get hands out). Offsets are 16 bits: the largest valid list is
 * 32 * (256 + 1 + 256) + 31 bytes. */
#include "propagation_internal.h"

typedef struct ts_member_s {
  uint16_t key_off, key_len; /* into the NUL-terminated area */
  uint16_t val_off, val_len;
} ts_member_t;

struct uvotel_trace_state_s {
  atomic_uint refs;
  uint16_t n;
  uint16_t wire_len;
  char *wire; /* serialised value, NUL-terminated */
  char *strs; /* "key\0value\0" per member */
  ts_member_t m[];
};

/* A member as slices, while building. */
typedef struct ts_slice_s {
  const char *k;
  size_t kl;
  const char *v;
  size_t vl;
} ts_slice_t;

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

static uvotel_trace_state_t *ts_build(const ts_slice_t *s, size_t n) {
  size_t wire = 0, strs = 0;
  for (size_t i = 0; i < n; i++) {
    wire += s[i].kl + 1 + s[i].vl;
    strs += s[i].kl + s[i].vl + 2;
  }
  wire += n - 1; /* commas; n >= 1 */
  size_t head = sizeof(uvotel_trace_state_t) + n * sizeof(ts_member_t);
  uvotel_trace_state_t *ts = uvotel_malloc(head + wire + 1 + strs);
  if (ts == NULL) return NULL;
  atomic_init(&ts->refs, 1);
  ts->n = (uint16_t)n;
  ts->wire_len = (uint16_t)wire;
  ts->wire = (char *)ts + head;
  ts->strs = ts->wire + wire + 1;
  char *w = ts->wire, *p = ts->strs;
  for (size_t i = 0; i < n; i++) {
    if (i > 0) *w++ = ',';
    memcpy(w, s[i].k, s[i].kl);
    w += s[i].kl;
    *w++ = '=';
    memcpy(w, s[i].v, s[i].vl);
    w += s[i].vl;
    ts->m[i].key_off = (uint16_t)(p - ts->strs);
    ts->m[i].key_len = (uint16_t)s[i].kl;
    memcpy(p, s[i].k, s[i].kl);
    p += s[i].kl;
    *p++ = '\0';
    ts->m[i].val_off = (uint16_t)(p - ts->strs);
    ts->m[i].val_len = (uint16_t)s[i].vl;
    memcpy(p, s[i].v, s[i].vl);
    p += s[i].vl;
    *p++ = '\0';
  }
  *w = '\0';
  return ts;
}

static inline int key_eq(const char *a, size_t al, const char *b, size_t bl) {
  return al == bl && memcmp(a, b, al) == 0;
}

UVOTEL__API int uvotel_trace_state_parse_lines(const uvotel_str_t *lines, size_t n, unsigned flags,
                                               uvotel_trace_state_t **out) {
  if (out == NULL || (lines == NULL && n > 0)) return UVOTEL_EINVAL;
  *out = NULL;
  ts_slice_t m[UVOTEL_TRACE_STATE_MAX_MEMBERS];
  size_t nm = 0;
  for (size_t li = 0; li < n; li++) {
    const char *p = lines[li].ptr;
    size_t len = lines[li].len;
    if (p == NULL) {
      if (len != 0) return UVOTEL_EINVAL;
      continue;
    }
    const char *end = p + len;
    while (p < end) {
      const char *comma = memchr(p, ',', (size_t)(end - p));
      const char *mend = comma ? comma : end;
      const char *s = p;
      size_t sl = (size_t)(mend - p);
      p = comma ? comma + 1 : end;
      uvotel__trim_ows(&s, &sl);
      if (sl == 0) continue; /* empty list member: allowed */
      const char *eq = memchr(s, '=', sl);
      if (eq == NULL) return UVOTEL_EPARSE;
      size_t kl = (size_t)(eq - s);
      const char *v = eq + 1;
      size_t vl = sl - kl - 1;
      if (!valid_key(s, kl) || !valid_value(v, vl)) return UVOTEL_EPARSE;
      int dup = 0;
      for (size_t j = 0; j < nm; j++) {
        if (key_eq(m[j].k, m[j].kl, s, kl)) {
          dup = 1;
          break;
        }
      }
      if (dup) {
        if (flags & UVOTEL_TRACE_STATE_STRICT) return UVOTEL_EPARSE;
        continue; /* the first occurrence wins */
      }
      if (nm == UVOTEL_TRACE_STATE_MAX_MEMBERS) return UVOTEL_ERANGE;
      m[nm].k = s;
      m[nm].kl = kl;
      m[nm].v = v;
      m[nm].vl = vl;
      nm++;
    }
  }
  if (nm == 0) return 0;
  *out = ts_build(m, nm);
  return *out ? 0 : UVOTEL_ENOMEM;
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
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) uvotel_free(t);
}

UVOTEL__API size_t uvotel_trace_state_count(const uvotel_trace_state_t *ts) {
  return ts ? ts->n : 0;
}

UVOTEL__API int uvotel_trace_state_at(const uvotel_trace_state_t *ts, size_t i, uvotel_str_t *key,
                                      uvotel_str_t *value) {
  if (key == NULL || value == NULL) return UVOTEL_EINVAL;
  if (ts == NULL || i >= ts->n) return UVOTEL_ENOENT;
  key->ptr = ts->strs + ts->m[i].key_off;
  key->len = ts->m[i].key_len;
  value->ptr = ts->strs + ts->m[i].val_off;
  value->len = ts->m[i].val_len;
  return 0;
}

static int find(const uvotel_trace_state_t *ts, const char *key, size_t kl) {
  for (size_t i = 0; i < ts->n; i++) {
    if (key_eq(ts->strs + ts->m[i].key_off, ts->m[i].key_len, key, kl)) return (int)i;
  }
  return -1;
}

UVOTEL__API const char *uvotel_trace_state_get(const uvotel_trace_state_t *ts, const char *key,
                                               size_t *len) {
  if (ts == NULL || key == NULL) return NULL;
  int i = find(ts, key, strlen(key));
  if (i < 0) return NULL;
  if (len != NULL) *len = ts->m[i].val_len;
  return ts->strs + ts->m[i].val_off;
}

/* Members of ts as slices, without the one at index `skip` (-1: none). */
static size_t slices_of(const uvotel_trace_state_t *ts, int skip, ts_slice_t *out) {
  size_t n = 0;
  for (size_t i = 0; ts != NULL && i < ts->n; i++) {
    if ((int)i == skip) continue;
    out[n].k = ts->strs + ts->m[i].key_off;
    out[n].kl = ts->m[i].key_len;
    out[n].v = ts->strs + ts->m[i].val_off;
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
  *out = ts_build(m, n);
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
  *out = ts_build(m, n);
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
