/* Private helpers of libuvotel_exporters (public SDK headers only). */
#ifndef UVOTEL_EXPORTERS_INTERNAL_H
#define UVOTEL_EXPORTERS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
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

/* The file sink both file exporters are (file.c): OTLP/JSON lines appended to a path opened
 * at the first export (truncated then when asked), a buffer reused per batch. create: the
 * path is `path`, else environment variable `env` when set and not empty, else default_path;
 * NULL when out of memory; `what` names it in messages ("file exporter"), `items` (NULL: none) is
 * said once, with the path, at the first export ("spans"). begin: opens the file if not yet
 * (its -errno when it cannot, said), then the caller encodes into f->buf; end(f, the encoding's
 * result): a newline, the write (and fdatasync when asked): 0, the encoding's error,
 * UVOTEL_ENOMEM or the write's -errno (said). flush, shutdown and free are the exporters' ops
 * (self: the sink). Thread: one export at a time (the exporters are not CONCURRENT). */
typedef struct uvotel__file_sink_s {
  const char *what;
  const char *announce; /* items to name at the first export; NULL once said */
  char *path;
  int truncate, fsync;
  int fd;
  ubuf_t buf;
} uvotel__file_sink_t;
uvotel__file_sink_t *uvotel__file_sink_create(const char *what, const char *items, const char *path,
                                              const char *env, const char *default_path,
                                              int truncate, int fsync);
int uvotel__file_begin(uvotel__file_sink_t *f);
int uvotel__file_end(uvotel__file_sink_t *f, int encode_rc);
int uvotel__file_flush(void *self, uint64_t timeout_ms);
int uvotel__file_shutdown(void *self, uint64_t timeout_ms);
void uvotel__file_free(void *self);

/* The store both memory exporters are (memory.c): data pointers kept, retained, in export
 * order, up to max (0: no limit; beyond it counted dropped), with the export calls counted and
 * the next n exports made to fail with an error (fail_next). All under mu. init: `prealloc`:
 * room for max items now (UVOTEL_ENOMEM when there is none), else the array grows (an export
 * that cannot grow it returns UVOTEL_ENOMEM); retain/release are the signal's. clear releases
 * the items (and zeroes calls and dropped when `counts`); destroy clears and frees. Thread: any. */
typedef struct uvotel__mem_store_s {
  pthread_mutex_t mu;
  const void **items;
  size_t n, cap, max;
  size_t calls, dropped;
  size_t fail_n;
  int fail_err;
  const void *(*retain)(const void *item);
  void (*release)(const void *item);
} uvotel__mem_store_t;
int uvotel__mem_init(uvotel__mem_store_t *m, size_t max, int prealloc,
                     const void *(*retain)(const void *), void (*release)(const void *));
int uvotel__mem_export(uvotel__mem_store_t *m, const void *const *items, size_t n);
size_t uvotel__mem_count(const uvotel__mem_store_t *m);
size_t uvotel__mem_calls(const uvotel__mem_store_t *m);
size_t uvotel__mem_dropped(const uvotel__mem_store_t *m);
const void *uvotel__mem_get(const uvotel__mem_store_t *m, size_t i);
void uvotel__mem_fail_next(uvotel__mem_store_t *m, size_t n, int err);
void uvotel__mem_clear(uvotel__mem_store_t *m, int counts);
void uvotel__mem_destroy(uvotel__mem_store_t *m);

#endif
