/* Private helpers of libuvotel_exporters (public SDK headers only). */
#ifndef UVOTEL_EXPORTERS_INTERNAL_H
#define UVOTEL_EXPORTERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel.h"

#define UVOTEL__API __attribute__((visibility("default")))

/* A growable byte buffer over uvotel_realloc. `failed` sticks after an allocation failure. */
typedef struct ubuf_s {
  char *p;
  size_t len, cap;
  int failed;
} ubuf_t;

int ubuf_reserve(ubuf_t *b, size_t extra);
void ubuf_put(ubuf_t *b, const char *s, size_t n);
void ubuf_puts(ubuf_t *b, const char *s);
void ubuf_putc(ubuf_t *b, char c);
void ubuf_printf(ubuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ubuf_u64(ubuf_t *b, uint64_t v);
void ubuf_i64(ubuf_t *b, int64_t v);

#include "uvotel/propagation.h"

#endif
