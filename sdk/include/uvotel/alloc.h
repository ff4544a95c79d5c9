/* The allocator every uvotel library uses. */
#ifndef UVOTEL_ALLOC_H
#define UVOTEL_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*uvotel_malloc_fn)(size_t size);
typedef void *(*uvotel_realloc_fn)(void *ptr, size_t size);
typedef void (*uvotel_free_fn)(void *ptr);

/* Replace malloc/realloc/free for all uvotel libraries. Call once, before any other uvotel
 * call; memory allocated before the swap would be freed with the wrong function, so a second
 * call, or a call after uvotel allocated anything, returns UVOTEL_EBUSY. NULL: UVOTEL_EINVAL.
 * Thread: main, before other threads use uvotel. */
int uvotel_set_allocator(uvotel_malloc_fn m, uvotel_realloc_fn r, uvotel_free_fn f);

/* The current allocator, for code that hands memory to uvotel or frees what uvotel returns
 * (exporters, instrumentation). Thread: any. */
void *uvotel_malloc(size_t size);
void *uvotel_calloc(size_t n, size_t size);
void *uvotel_realloc(void *ptr, size_t size);
void uvotel_free(void *ptr);
char *uvotel_strdup(const char *s); /* NULL in, NULL out */

#ifdef __cplusplus
}
#endif
#endif
