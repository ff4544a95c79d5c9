/* Environment values: the one parser for lists, key=value lists, percent-decoding, booleans,
 * integers, durations and names (rules in uvotel/env.h). */
#define _GNU_SOURCE /* strtod_l */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "../internal.h"
#include "env_internal.h"

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *n) {
  const char *p = *s;
  size_t k = *n;
  while (k > 0 && is_ws(p[0])) p++, k--;
  while (k > 0 && is_ws(p[k - 1])) k--;
  *s = p;
  *n = k;
}

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

UVOTEL__API const char *uvotel_env_get(const char *name) {
  if (name == NULL) return NULL;
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? v : NULL;
}

/* ---- scalars ---- */

UVOTEL__API int uvotel_env_name_eq(const char *s, size_t n, const char *name) {
  if (s == NULL || name == NULL) return 0;
  size_t i = 0;
  for (; i < n; i++) {
    if (name[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)name[i])) return 0;
  }
  return name[i] == '\0';
}

UVOTEL__API int uvotel_env_name_index(const char *s, size_t n, const char *const *names) {
  if (s == NULL || names == NULL) return -1;
  trim(&s, &n);
  for (int i = 0; names[i] != NULL; i++) {
    if (uvotel_env_name_eq(s, n, names[i])) return i;
  }
  return -1;
}

UVOTEL__API int uvotel_env_parse_bool(const char *value, int *out) {
  if (value == NULL || out == NULL) return UVOTEL_EINVAL;
  static const char *const names[] = {"false", "true", NULL};
  int i = uvotel_env_name_index(value, strlen(value), names);
  if (i < 0) return UVOTEL_EPARSE;
  *out = i;
  return 0;
}

UVOTEL__API int uvotel_env_parse_u64(const char *value, uint64_t max, uint64_t *out) {
  if (value == NULL || out == NULL) return UVOTEL_EINVAL;
  const char *s = value;
  size_t n = strlen(value);
  trim(&s, &n);
  if (n == 0) return UVOTEL_EPARSE;
  uint64_t x = 0;
  int over = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return UVOTEL_EPARSE;
    uint64_t d = (uint64_t)(s[i] - '0');
    if (over || x > (max - d) / 10 || d > max) {
      over = 1; /* keep scanning: "12x" with a huge prefix is still a parse error */
      continue;
    }
    x = x * 10 + d;
  }
  if (over) return UVOTEL_ERANGE;
  *out = x;
  return 0;
}

static locale_t g_c_locale;
static pthread_once_t g_c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void) {
  g_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

UVOTEL__API int uvotel_env_parse_double(const char *value, double *out) {
  if (value == NULL || out == NULL) return UVOTEL_EINVAL;
  const char *s = value;
  size_t n = strlen(value);
  trim(&s, &n);
  /* the grammar, checked here: strtod would also take hex, inf, nan and the locale's comma */
  size_t i = 0, digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) i++;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  if (i < n && s[i] == '.') {
    i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, digits++;
  }
  if (digits == 0) return UVOTEL_EPARSE;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-')) i++;
    size_t ed = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++, ed++;
    if (ed == 0) return UVOTEL_EPARSE;
  }
  if (i != n || n >= 64) return UVOTEL_EPARSE;
  char buf[64];
  memcpy(buf, s, n);
  buf[n] = '\0';
  pthread_once(&g_c_locale_once, make_c_locale);
  char *end;
  double v = g_c_locale != (locale_t)0 ? strtod_l(buf, &end, g_c_locale) : strtod(buf, &end);
  if (end != buf + n) return UVOTEL_EPARSE;
  if (isinf(v)) return UVOTEL_ERANGE;
  *out = v;
  return 0;
}

/* ---- getters ---- */

static void warn_bad(const char *name, const char *v, int rc, const char *want) {
  uvotel_diag(UVOTEL_DIAG_WARN, rc, "%s=\"%s\" is not %s; using the default", name, v, want);
}

UVOTEL__API int uvotel_env_bool(const char *name, int *out) {
  const char *v = uvotel_env_get(name);
  if (v == NULL || out == NULL) return v == NULL ? UVOTEL_ENOENT : UVOTEL_EINVAL;
  int rc = uvotel_env_parse_bool(v, out);
  if (rc != 0) warn_bad(name, v, rc, "true or false");
  return rc;
}

UVOTEL__API int uvotel_env_u64(const char *name, uint64_t max, uint64_t *out) {
  const char *v = uvotel_env_get(name);
  if (v == NULL || out == NULL) return v == NULL ? UVOTEL_ENOENT : UVOTEL_EINVAL;
  int rc = uvotel_env_parse_u64(v, max, out);
  if (rc == UVOTEL_ERANGE) {
    uvotel_diag(UVOTEL_DIAG_WARN, rc, "%s=\"%s\" is above %llu; using the default", name, v,
                (unsigned long long)max);
  } else if (rc != 0) {
    warn_bad(name, v, rc, "a non-negative integer");
  }
  return rc;
}

UVOTEL__API int uvotel_env_u32(const char *name, uint32_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  uint64_t x = *out;
  int rc = uvotel_env_u64(name, UINT32_MAX, &x);
  if (rc == 0) *out = (uint32_t)x;
  return rc;
}

UVOTEL__API int uvotel_env_duration_ms(const char *name, uint64_t *out) {
  return uvotel_env_u64(name, (uint64_t)1 << 53, out);
}

/* ---- lists ---- */

UVOTEL__API int uvotel_env_list_next(const char **cursor, const char **item, size_t *len) {
  if (cursor == NULL || item == NULL || len == NULL) return 0;
  const char *p = *cursor;
  while (p != NULL && *p != '\0') {
    const char *end = strchr(p, ',');
    if (end == NULL) end = p + strlen(p);
    const char *s = p;
    size_t n = (size_t)(end - p);
    p = *end == ',' ? end + 1 : end;
    trim(&s, &n);
    if (n > 0) {
      *cursor = p;
      *item = s;
      *len = n;
      return 1;
    }
  }
  *cursor = p;
  return 0;
}

/* ---- percent-decoding ---- */

long uvotel__percent_decode(const char *s, size_t n, char *out, int mode, int *high) {
  size_t k = 0;
  int hi_bits = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i], h, l;
    if (c == '%') {
      if (n - i >= 3 && (h = hexval((unsigned char)s[i + 1])) >= 0 &&
          (l = hexval((unsigned char)s[i + 2])) >= 0) {
        c = h * 16 + l;
        i += 2;
        if (c == 0 && mode == UVOTEL__PCT_STRICT) return -1;
      } else if (mode == UVOTEL__PCT_STRICT) {
        return -1;
      }
    }
    hi_bits |= c & 0x80;
    out[k++] = (char)c;
  }
  if (high != NULL) *high = hi_bits;
  return (long)k;
}

UVOTEL__API int uvotel_env_percent_decode(const char *s, size_t n, char *out, size_t *out_len) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  /* a NUL in the input ends the C string the value came from: refuse it like %00 */
  if (memchr(s, '\0', n) != NULL) return UVOTEL_EPARSE;
  long k = uvotel__percent_decode(s, n, out, UVOTEL__PCT_STRICT, NULL);
  if (k < 0) return UVOTEL_EPARSE;
  out[k] = '\0';
  if (out_len != NULL) *out_len = (size_t)k;
  return 0;
}

/* ---- key=value lists ---- */

/* One pass over the list: count the members and the bytes their decoded strings need (pass 0),
 * or decode them into `pairs` and `strs` (pass 1). */
static int kv_pass(const char *value, int fill, uvotel_env_kv_t *pairs, char *strs, size_t *n,
                   size_t *bytes) {
  const char *cur = value, *item;
  size_t len, k = 0, used = 0;
  while (uvotel_env_list_next(&cur, &item, &len)) {
    const char *eq = memchr(item, '=', len);
    if (eq == NULL) return UVOTEL_EPARSE;
    const char *ks = item, *vs = eq + 1;
    size_t kn = (size_t)(eq - item), vn = len - kn - 1;
    trim(&ks, &kn);
    trim(&vs, &vn);
    if (kn == 0) return UVOTEL_EPARSE;
    if (fill) {
      size_t kl, vl;
      char *kd = strs + used;
      if (uvotel_env_percent_decode(ks, kn, kd, &kl) != 0) return UVOTEL_EPARSE;
      char *vd = kd + kl + 1;
      if (uvotel_env_percent_decode(vs, vn, vd, &vl) != 0) return UVOTEL_EPARSE;
      if (kl == 0) return UVOTEL_EPARSE;
      pairs[k].key = kd;
      pairs[k].value = vd;
      used += kl + 1 + vl + 1;
    } else {
      used += kn + 1 + vn + 1; /* decoding never makes a string longer */
    }
    k++;
  }
  *n = k;
  *bytes = used;
  return 0;
}

UVOTEL__API int uvotel_env_kv_parse(const char *value, uvotel_env_kv_t **out, size_t *n) {
  if (out != NULL) *out = NULL;
  if (n != NULL) *n = 0;
  if (value == NULL || out == NULL || n == NULL) return UVOTEL_EINVAL;
  size_t count, bytes;
  int rc = kv_pass(value, 0, NULL, NULL, &count, &bytes);
  if (rc != 0 || count == 0) return rc;
  uvotel_env_kv_t *pairs = uvotel_malloc(count * sizeof *pairs + bytes);
  if (pairs == NULL) return UVOTEL_ENOMEM;
  rc = kv_pass(value, 1, pairs, (char *)(pairs + count), &count, &bytes);
  if (rc != 0) {
    uvotel_free(pairs);
    return rc;
  }
  *out = pairs;
  *n = count;
  return 0;
}
