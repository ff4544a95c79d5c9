/* The side table: handle or request address -> wrapper state, per thread.
 *
 * Open addressing with linear probing and backward-shift deletion, so there are no tombstones
 * and a lookup touches one or two cache lines. It doubles at 1/2 load and halves at 1/8 (never
 * below MIN_CAP), so a burst of handles does not pin memory. States come from a per-thread
 * free list (capped), so a steady stream of start/close cycles allocates nothing. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MIN_CAP 64
#define POOL_CAP 1024

typedef struct table_s {
  uvotel__hs_t **slots;
  size_t cap; /* power of two, or 0 */
  size_t n;
  uvotel__hs_t *pool;
  size_t pool_n;
  int cleanup_registered;
} table_t;

static UVOTEL__TLS table_t g_tab;
/* The last state looked up: a callback that re-arms its own handle finds it without hashing. */
static UVOTEL__TLS uvotel__hs_t *g_last;

UVOTEL__TLS uv_loop_t *uvotel__attached_loop;
UVOTEL__TLS uint64_t uvotel__attached_epoch;

int uvotel__loop_attach_slow(uv_loop_t *loop) {
  uint64_t epoch = __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_RELAXED);
  int err = uvotel_loop_init(loop);
  if (err == 0) {
    uvotel__attached_loop = loop;
    uvotel__attached_epoch = epoch;
  }
  return err;
}

static pthread_key_t g_key;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void table_cleanup(void *p) {
  table_t *t = p;
  while (t->pool != NULL) {
    uvotel__hs_t *s = t->pool;
    t->pool = s->next_free;
    uvotel_free(s);
  }
  t->pool_n = 0;
  if (t->n == 0) {
    uvotel_free(t->slots);
    t->slots = NULL;
    t->cap = 0;
  }
}

static void key_create(void) {
  (void)pthread_key_create(&g_key, table_cleanup);
}

static inline size_t slot_of(const void *key, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (cap - 1);
}

UVOTEL__API size_t uvotel_uv_tracked(void) {
  return g_tab.n;
}

UVOTEL__API size_t uvotel_uv_table_capacity(void) {
  return g_tab.cap;
}

/* Free this thread's pooled states and, when nothing is tracked, the table itself. */
UVOTEL__API void uvotel_uv_thread_cleanup(void) {
  table_cleanup(&g_tab);
}

uvotel__hs_t *uvotel__hs_get(const void *key) {
  uvotel__hs_t *last = g_last;
  if (last != NULL && last->key == key) return last;
  table_t *t = &g_tab;
  if (UVOTEL__UNLIKELY(t->n == 0)) return NULL;
  size_t mask = t->cap - 1;
  for (size_t i = slot_of(key, t->cap);; i = (i + 1) & mask) {
    uvotel__hs_t *s = t->slots[i];
    if (s == NULL) return NULL;
    if (s->key == key) {
      g_last = s;
      return s;
    }
  }
}

static int resize(table_t *t, size_t cap) {
  uvotel__hs_t **slots = uvotel_calloc(cap, sizeof *slots);
  if (slots == NULL) return UVOTEL_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    uvotel__hs_t *s = t->slots[i];
    if (s == NULL) continue;
    size_t j = slot_of(s->key, cap);
    while (slots[j] != NULL) j = (j + 1) & (cap - 1);
    slots[j] = s;
  }
  uvotel_free(t->slots);
  t->slots = slots;
  t->cap = cap;
  return 0;
}

uvotel__hs_t *uvotel__hs_add(const void *key, int *is_new) {
  table_t *t = &g_tab;
  uvotel__hs_t *s = uvotel__hs_get(key);
  if (s != NULL) {
    *is_new = 0;
    return s;
  }
  if ((t->n + 1) * 2 > t->cap) {
    if (resize(t, t->cap ? t->cap * 2 : MIN_CAP) != 0) return NULL;
  }
  if (t->pool != NULL) {
    s = t->pool;
    t->pool = s->next_free;
    t->pool_n--;
  } else {
    s = uvotel_malloc(sizeof *s);
    if (s == NULL) return NULL;
    if (!t->cleanup_registered) {
      pthread_once(&g_once, key_create);
      (void)pthread_setspecific(g_key, t);
      t->cleanup_registered = 1;
    }
  }
  /* The common fields start zeroed; the per-kind union is set by the kind that uses it. */
  memset(s, 0, offsetof(uvotel__hs_t, u));
  s->key = key;
  size_t mask = t->cap - 1;
  size_t i = slot_of(key, t->cap);
  while (t->slots[i] != NULL) i = (i + 1) & mask;
  t->slots[i] = s;
  t->n++;
  g_last = s;
  *is_new = 1;
  return s;
}

void uvotel__hs_remove(uvotel__hs_t *s) {
  table_t *t = &g_tab;
  if (g_last == s) g_last = NULL;
  size_t mask = t->cap - 1;
  size_t i = slot_of(s->key, t->cap);
  while (t->slots[i] != s) i = (i + 1) & mask;
  /* Backward-shift: pull later members of the cluster into the hole when their home slot is
   * at or before it (cyclically), so lookups never need tombstones. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; t->slots[j] != NULL; j = (j + 1) & mask) {
    size_t home = slot_of(t->slots[j]->key, t->cap);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      t->slots[hole] = t->slots[j];
      hole = j;
    }
  }
  t->slots[hole] = NULL;
  t->n--;
  if (t->pool_n < POOL_CAP) {
    s->next_free = t->pool;
    t->pool = s;
    t->pool_n++;
  } else {
    uvotel_free(s);
  }
  if (t->cap > MIN_CAP && t->n * 8 < t->cap) (void)resize(t, t->cap / 2);
}
