/* libFuzzer target: the environment-value parser (uvotel/env.h). The input, cut at its first NUL,
 * is read as a comma list, a key=value list, a boolean, an integer, a decimal number and a
 * percent-encoded string; each result is checked against the rules the header promises. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void check_list(const char *v) {
  const char *cur = v, *item;
  size_t len, total = 0;
  while (uvotel_env_list_next(&cur, &item, &len)) {
    if (len == 0 || is_ws(item[0]) || is_ws(item[len - 1])) abort();
    if (memchr(item, ',', len) != NULL) abort();
    if (item < v || item + len > v + strlen(v)) abort();
    total += len;
  }
  if (total > strlen(v)) abort();
}

static void check_kv(const char *v) {
  uvotel_env_kv_t *kv = NULL;
  size_t n = 0;
  int rc = uvotel_env_kv_parse(v, &kv, &n);
  if (rc != 0) {
    if (rc != UVOTEL_EPARSE && rc != UVOTEL_ENOMEM) abort();
    if (kv != NULL || n != 0) abort();
    return;
  }
  if ((n == 0) != (kv == NULL)) abort();
  for (size_t i = 0; i < n; i++) {
    size_t kl = strlen(kv[i].key), vl = strlen(kv[i].value);
    if (kl == 0 || kl + vl > strlen(v)) abort();
  }
  uvotel_free(kv);
}

static void check_scalars(const char *v) {
  int b = 7;
  int rc = uvotel_env_parse_bool(v, &b);
  if (rc == 0 ? (b != 0 && b != 1) : (rc != UVOTEL_EPARSE || b != 7)) abort();
  uint64_t x = 12345;
  rc = uvotel_env_parse_u64(v, 1000000, &x);
  if (rc == 0) {
    /* what it accepted prints back as the same digits (after trimming and leading zeros) */
    char buf[32];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)x);
    const char *s = v;
    while (is_ws(*s)) s++;
    while (*s == '0' && s[1] >= '0' && s[1] <= '9') s++;
    if (x > 1000000 || strncmp(s, buf, strlen(buf)) != 0) abort();
  } else if ((rc != UVOTEL_EPARSE && rc != UVOTEL_ERANGE) || x != 12345) {
    abort();
  }
}

static void check_double(const char *v) {
  double d = 7;
  int rc = uvotel_env_parse_double(v, &d);
  if (rc == 0 ? d != d : (d != 7 || (rc != UVOTEL_EPARSE && rc != UVOTEL_ERANGE))) abort();
}

static void check_decode(const char *v) {
  size_t n = strlen(v), len = 0;
  char *out = malloc(n + 1);
  if (out == NULL) return;
  if (uvotel_env_percent_decode(v, n, out, &len) == 0) {
    if (len > n || strlen(out) != len) abort();
    /* encode every byte and decode again: the same bytes */
    char *enc = malloc(3 * len + 1), *back = malloc(3 * len + 1);
    if (enc != NULL && back != NULL) {
      for (size_t i = 0; i < len; i++) snprintf(enc + 3 * i, 4, "%%%02X", (unsigned char)out[i]);
      size_t bl = 0;
      if (uvotel_env_percent_decode(enc, 3 * len, back, &bl) != 0) abort();
      if (bl != len || memcmp(back, out, len) != 0) abort();
    }
    free(enc);
    free(back);
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *v = malloc(size + 1);
  if (v == NULL) return 0;
  memcpy(v, data, size);
  v[size] = '\0';
  check_list(v);
  check_kv(v);
  check_scalars(v);
  check_double(v);
  check_decode(v);
  free(v);
  return 0;
}
