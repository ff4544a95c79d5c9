/* Private helpers of libuvotel_exporters (public SDK headers only). */
#ifndef UVOTEL_EXPORTERS_INTERNAL_H
#define UVOTEL_EXPORTERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* OTLP/JSON pieces shared by the span and log encoders (file.c): a JSON string with UTF-8
 * repair, lowercase hex of an id, an AnyValue, and ,"attributes":[...] plus
 * droppedAttributesCount (`first`: no leading comma). */
void uvotel__json_string(ubuf_t *b, const char *s, size_t n);
void uvotel__json_hex(ubuf_t *b, const uint8_t *bytes, size_t n);
void uvotel__json_value(ubuf_t *b, const uvotel_value_t *v);
void uvotel__json_attrs(ubuf_t *b, const uvotel_attribute_t *a, size_t n, uint32_t dropped,
                        int first);
/* The console exporter's readable " {k = v, ...}" list and value (console.c). */
/* write(2) until done (EINTR retried): 0 or -errno (file.c). */
int uvotel__write_all(int fd, const char *p, size_t n);
void uvotel__console_attrs(ubuf_t *b, const uvotel_attribute_t *a, size_t n);
void uvotel__console_value(ubuf_t *b, const uvotel_value_t *v);

/* The console writer both console exporters are (console.c): a stream (NULL: stdout) and a
 * buffer reused per batch. create: NULL when out of memory; begin empties the buffer; end
 * writes it out and flushes (UVOTEL_ENOMEM when formatting ran out of memory, UVOTEL_EIO when
 * the write failed); free is the exporters' free op. */
typedef struct uvotel__console_s {
  FILE *stream;
  ubuf_t buf;
} uvotel__console_t;
uvotel__console_t *uvotel__console_create(FILE *stream);
ubuf_t *uvotel__console_begin(uvotel__console_t *c);
int uvotel__console_end(uvotel__console_t *c);
void uvotel__console_free(void *self);

#endif
