/* The allocator shared by all uvotel libraries. */
#include <stdlib.h>

#include "../internal.h"

static uvotel_malloc_fn g_malloc = malloc;
static uvotel_realloc_fn g_realloc = realloc;
static uvotel_free_fn g_free = free;
static atomic_int g_used;

void uvotel__note_alloc(void) {
  if (!atomic_load_explicit(&g_used, memory_order_relaxed)) {
    atomic_store_explicit(&g_used, 1, memory_order_relaxed);
  }
}

UVOTEL__API int uvotel_set_allocator(uvotel_malloc_fn m, uvotel_realloc_fn r, uvotel_free_fn f) {
  if (m == NULL || r == NULL || f == NULL) return UVOTEL_EINVAL;
  if (atomic_load(&g_used)) return UVOTEL_EBUSY;
  g_malloc = m;
  g_realloc = r;
  g_free = f;
  atomic_store(&g_used, 1);
  return 0;
}

UVOTEL__API void *uvotel_malloc(size_t size) {
  uvotel__note_alloc();
  return g_malloc(size == 0 ? 1 : size);
}

UVOTEL__API void *uvotel_calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  void *p = uvotel_malloc(n * size);
  if (p != NULL) memset(p, 0, n * size);
  return p;
}

UVOTEL__API void *uvotel_realloc(void *ptr, size_t size) {
  uvotel__note_alloc();
  return g_realloc(ptr, size == 0 ? 1 : size);
}

UVOTEL__API void uvotel_free(void *ptr) {
  if (ptr != NULL) g_free(ptr);
}

UVOTEL__API char *uvotel_strdup(const char *s) {
  if (s == NULL) return NULL;
  size_t n = strlen(s) + 1;
  char *d = uvotel_malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}
