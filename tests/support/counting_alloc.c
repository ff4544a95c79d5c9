#include "counting_alloc.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "uvotel.h"

static atomic_size_t g_allocs, g_reallocs, g_frees;
static atomic_long g_live;
static atomic_long g_ok_left = -1, g_fail_left;

static int should_fail(void) {
  if (atomic_load(&g_fail_left) <= 0) return 0;
  if (atomic_load(&g_ok_left) > 0) {
    atomic_fetch_sub(&g_ok_left, 1);
    return 0;
  }
  atomic_fetch_sub(&g_fail_left, 1);
  return 1;
}

static void *c_malloc(size_t n) {
  if (should_fail()) return NULL;
  void *p = malloc(n);
  if (p != NULL) {
    atomic_fetch_add(&g_allocs, 1);
    atomic_fetch_add(&g_live, 1);
  }
  return p;
}

static void *c_realloc(void *p, size_t n) {
  if (should_fail()) return NULL;
  void *q = realloc(p, n);
  if (q != NULL) {
    atomic_fetch_add(&g_reallocs, 1);
    if (p == NULL) {
      atomic_fetch_add(&g_allocs, 1);
      atomic_fetch_add(&g_live, 1);
    }
  }
  return q;
}

static void c_free(void *p) {
  if (p == NULL) return;
  atomic_fetch_add(&g_frees, 1);
  atomic_fetch_sub(&g_live, 1);
  free(p);
}

int counting_alloc_install(void) {
  return uvotel_set_allocator(c_malloc, c_realloc, c_free);
}

counting_alloc_stats_t counting_alloc_stats(void) {
  counting_alloc_stats_t s = {atomic_load(&g_allocs), atomic_load(&g_reallocs),
                              atomic_load(&g_frees), atomic_load(&g_live)};
  return s;
}

void counting_alloc_fail_after(long successes_first, long failures) {
  atomic_store(&g_ok_left, successes_first);
  atomic_store(&g_fail_left, failures);
}
