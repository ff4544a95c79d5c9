/* Growable buffer helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "exporters_internal.h"

int ubuf_reserve(ubuf_t *b, size_t extra) {
  if (b->failed) return -1;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + extra + 1) cap *= 2;
  char *np = uvotel_realloc(b->p, cap);
  if (np == NULL) {
    b->failed = 1;
    return -1;
  }
  b->p = np;
  b->cap = cap;
  return 0;
}

void ubuf_put(ubuf_t *b, const char *s, size_t n) {
  if (ubuf_reserve(b, n) != 0) return;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

void ubuf_puts(ubuf_t *b, const char *s) {
  ubuf_put(b, s, strlen(s));
}

void ubuf_putc(ubuf_t *b, char c) {
  if (ubuf_reserve(b, 1) != 0) return;
  b->p[b->len++] = c;
  b->p[b->len] = '\0';
}

void ubuf_printf(ubuf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char tmp[256];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    ubuf_put(b, tmp, (size_t)n);
    return;
  }
  if (ubuf_reserve(b, (size_t)n) != 0) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void ubuf_u64(ubuf_t *b, uint64_t v) {
  char tmp[24];
  int i = sizeof tmp;
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  ubuf_put(b, tmp + i, sizeof tmp - (size_t)i);
}

void ubuf_i64(ubuf_t *b, int64_t v) {
  if (v < 0) {
    ubuf_putc(b, '-');
    ubuf_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    ubuf_u64(b, (uint64_t)v);
  }
}
