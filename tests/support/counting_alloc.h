/* A counting allocator for tests: install it first thing in main(), then assert on the counts.
 * Leaks fail tests; hot-path tests assert zero allocations over many iterations. */
#ifndef UVOTEL_TEST_COUNTING_ALLOC_H
#define UVOTEL_TEST_COUNTING_ALLOC_H

#include <stddef.h>

typedef struct counting_alloc_stats_s {
  size_t allocs; /* malloc + realloc(NULL, n) + calloc-through-malloc calls */
  size_t reallocs;
  size_t frees;
  long live; /* blocks allocated and not freed */
} counting_alloc_stats_t;

/* Install as uvotel's allocator (uvotel_set_allocator). Returns its result. */
int counting_alloc_install(void);
counting_alloc_stats_t counting_alloc_stats(void);
/* Fail the next n allocations, then succeed again (n = 0: never fail). */
void counting_alloc_fail_after(long successes_first, long failures);

#endif
