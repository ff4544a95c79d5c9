/* The side table: handle or request address -> wrapper state, one table per loop.
 *
 * A handle's state belongs to its loop, not to the thread that created it: programs set loops
 * up on one thread and run them on another. The table hangs off the SDK's per-loop block
 * (uvotel_loop_get / uvotel_loop_set under a key of ours), and each thread remembers the last
 * loop it looked up and that loop's table (checked against uvotel__loop_epoch, which every
 * detach bumps), so the hot path is one compare of the handle's loop pointer. libuv runs a loop
 * on one thread at a time, so the table itself needs no lock.
 *
 * Open addressing with linear probing and backward-shift deletion, so there are no tombstones.
 * Each slot holds its key next to the state pointer, so a miss or a collision never touches a
 * state. It doubles at 1/2 load and halves at 1/8 (never below MIN_CAP), so a burst of handles
 * does not pin memory. States come from the table's free list (capped), so a steady stream of
 * start/close cycles allocates nothing. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MIN_CAP 64
#define POOL_CAP 1024

typedef struct slot_s {
  const void *key; /* NULL: empty */
  uvotel__hs_t *s;
} slot_t;

struct uvotel__ltab_s {
  uvotel__wq_t wq; /* thread-pool work requests (work.c), not in the slots; first: see
                      uvotel__wq_make in internal.h */
  uv_loop_t *loop;
  slot_t *slots;
  size_t cap; /* power of two, or 0 */
  size_t n;   /* written by the loop's thread, read relaxed by uvotel_uv_tracked */
  uvotel__hs_t *pool;
  size_t pool_n;
  uvotel__hs_t *last; /* the last state looked up: a callback re-arming its handle skips hashing */
  struct uvotel__ltab_s *next; /* every table, for uvotel_uv_tracked */
};
_Static_assert(offsetof(struct uvotel__ltab_s, wq) == 0, "internal.h casts a table to its wq");

UVOTEL__TLS const uv_loop_t *uvotel__cur_loop;
UVOTEL__TLS uvotel__ltab_t *uvotel__cur_tab;
UVOTEL__TLS uint64_t uvotel__cur_epoch;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uvotel__ltab_t *g_tabs;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
static int g_key = -1;

static void tab_detach(uv_loop_t *loop, void *value);

static void key_create(void) {
  g_key = uvotel_loop_key_create(tab_detach);
}

static inline size_t slot_of(const void *key, size_t cap) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (size_t)(h >> 32) & (cap - 1);
}

static void set_n(uvotel__ltab_t *t, size_t n) {
  __atomic_store_n(&t->n, n, __ATOMIC_RELAXED);
}

uvotel__ltab_t *uvotel__ltab_slow(const uv_loop_t *loop) {
  uint64_t epoch = __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_ACQUIRE);
  pthread_once(&g_key_once, key_create);
  uvotel__ltab_t *t = uvotel_loop_get(loop, g_key);
  if (t == NULL) return NULL;
  /* This thread turns to this loop: its destroy queue follows (a no-op when it already did). */
  (void)uvotel_loop_init((uv_loop_t *)loop);
  uvotel__cur_loop = loop;
  uvotel__cur_tab = t;
  uvotel__cur_epoch = epoch;
  return t;
}

/* A tag secret per table (work.c): splitmix64 over the address, the time and a counter, so a
 * table made at the address of a detached one does not accept the old one's tags. */
static uint64_t make_secret(const uvotel__ltab_t *t) {
  static uint64_t counter; /* atomic */
  uint64_t x = (uint64_t)(uintptr_t)t ^ uv_hrtime() ^
               (__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9E3779B97F4A7C15ull);
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

/* The table of loop, made (and the loop attached) when it has none. NULL: out of memory. */
static uvotel__ltab_t *tab_make(uv_loop_t *loop) {
  uvotel__ltab_t *t = uvotel__ltab(loop);
  if (UVOTEL__LIKELY(t != NULL)) return t;
  pthread_once(&g_key_once, key_create);
  if (g_key < 0 || uvotel_loop_init(loop) != 0) return NULL;
  t = uvotel_calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->loop = loop;
  t->wq.secret = make_secret(t);
  if (uvotel_loop_set(loop, g_key, t) != 0) {
    uvotel_free(t);
    return NULL;
  }
  pthread_mutex_lock(&g_mu);
  t->next = g_tabs;
  g_tabs = t;
  pthread_mutex_unlock(&g_mu);
  return uvotel__ltab_slow(loop);
}

/* The loop is detached (uvotel_loop_close found nothing of the program's left in it): what the
 * table still holds belongs to handles closed with raw uv_close. End their resources, then free
 * everything. */
static void tab_detach(uv_loop_t *loop, void *value) {
  (void)loop;
  uvotel__ltab_t *t = value;
  pthread_mutex_lock(&g_mu);
  uvotel__ltab_t **pp = &g_tabs;
  while (*pp != NULL && *pp != t) pp = &(*pp)->next;
  if (*pp != NULL) *pp = t->next;
  pthread_mutex_unlock(&g_mu);
  for (size_t i = 0; i < t->cap; i++) {
    uvotel__hs_t *s = t->slots[i].s;
    if (s == NULL) continue;
    if (s->is_async) uvotel__async_forget(s);
    uvotel__res_end(s);
    uvotel__auto_drop(s);
    uvotel__proto_drop(s);
    uvotel_snapshot_release(s->close_ctx);
    uvotel_free(s);
  }
  uvotel__wq_free(&t->wq);
  while (t->pool != NULL) {
    uvotel__hs_t *s = t->pool;
    t->pool = s->next_free;
    uvotel_free(s);
  }
  uvotel_free(t->slots);
  if (uvotel__cur_tab == t) {
    uvotel__cur_tab = NULL;
    uvotel__cur_loop = NULL;
  }
  uvotel_free(t);
}

UVOTEL__API size_t uvotel_uv_tracked(void) {
  size_t n = 0;
  pthread_mutex_lock(&g_mu);
  for (uvotel__ltab_t *t = g_tabs; t != NULL; t = t->next) {
    n += __atomic_load_n(&t->n, __ATOMIC_RELAXED) + __atomic_load_n(&t->wq.live, __ATOMIC_RELAXED);
  }
  pthread_mutex_unlock(&g_mu);
  return n;
}

UVOTEL__API size_t uvotel_uv_table_capacity(void) {
  size_t n = 0;
  pthread_mutex_lock(&g_mu);
  for (uvotel__ltab_t *t = g_tabs; t != NULL; t = t->next)
    n += __atomic_load_n(&t->cap, __ATOMIC_RELAXED);
  pthread_mutex_unlock(&g_mu);
  return n;
}

static unsigned long g_no_state; /* atomic */

void uvotel__no_state(const char *kind) {
  unsigned long n = __atomic_add_fetch(&g_no_state, 1, __ATOMIC_RELAXED);
  uvotel_diag(UVOTEL_DIAG_ERROR, UVOTEL_ESTATE,
              "libuvotel_uv: a %s callback found no wrapper state (a wrapped handle closed with "
              "raw uv_close and reused?): its callback is unknown and was not run (%lu so far)",
              kind, n);
}

/* Wrapper state belongs to loops now and is freed by uvotel_loop_close: nothing per thread. */
UVOTEL__API void uvotel_uv_thread_cleanup(void) {}

static inline uvotel__hs_t *tab_find(uvotel__ltab_t *t, const void *key) {
  uvotel__hs_t *last = t->last;
  if (last != NULL && last->key == key) return last;
  if (UVOTEL__UNLIKELY(t->n == 0)) return NULL;
  size_t mask = t->cap - 1;
  for (size_t i = slot_of(key, t->cap);; i = (i + 1) & mask) {
    const slot_t *sl = &t->slots[i];
    if (sl->key == key) {
      t->last = sl->s;
      return sl->s;
    }
    if (sl->key == NULL) return NULL;
  }
}

uvotel__wq_t *uvotel__wq_make_slow(uv_loop_t *loop) {
  uvotel__ltab_t *t = tab_make(loop);
  return UVOTEL__LIKELY(t != NULL) ? &t->wq : NULL;
}

uvotel__hs_t *uvotel__hs_get(const uv_loop_t *loop, const void *key) {
  uvotel__ltab_t *t = uvotel__ltab(loop);
  return UVOTEL__LIKELY(t != NULL) ? tab_find(t, key) : NULL;
}

static int resize(uvotel__ltab_t *t, size_t cap) {
  slot_t *slots = uvotel_calloc(cap, sizeof *slots);
  if (slots == NULL) return UVOTEL_ENOMEM;
  for (size_t i = 0; i < t->cap; i++) {
    if (t->slots[i].key == NULL) continue;
    size_t j = slot_of(t->slots[i].key, cap);
    while (slots[j].key != NULL) j = (j + 1) & (cap - 1);
    slots[j] = t->slots[i];
  }
  uvotel_free(t->slots);
  t->slots = slots;
  __atomic_store_n(&t->cap, cap, __ATOMIC_RELAXED);
  return 0;
}

uvotel__hs_t *uvotel__hs_add(uv_loop_t *loop, const void *key, int *is_new) {
  uvotel__ltab_t *t = tab_make(loop);
  if (UVOTEL__UNLIKELY(t == NULL)) return NULL;
  uvotel__hs_t *s = tab_find(t, key);
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
  }
  /* The common fields start zeroed; the per-kind union is set by the kind that uses it. */
  memset(s, 0, offsetof(uvotel__hs_t, u));
  s->key = key;
  s->tab = t;
  size_t mask = t->cap - 1;
  size_t i = slot_of(key, t->cap);
  while (t->slots[i].key != NULL) i = (i + 1) & mask;
  t->slots[i].key = key;
  t->slots[i].s = s;
  set_n(t, t->n + 1);
  t->last = s;
  *is_new = 1;
  return s;
}

void uvotel__hs_remove(uvotel__hs_t *s) {
  uvotel__ltab_t *t = s->tab;
  if (t->last == s) t->last = NULL;
  size_t mask = t->cap - 1;
  size_t i = slot_of(s->key, t->cap);
  while (t->slots[i].s != s) i = (i + 1) & mask;
  /* Backward-shift: pull later members of the cluster into the hole when their home slot is
   * at or before it (cyclically), so lookups never need tombstones. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; t->slots[j].key != NULL; j = (j + 1) & mask) {
    size_t home = slot_of(t->slots[j].key, t->cap);
    if (((j - home) & mask) >= ((j - hole) & mask)) {
      t->slots[hole] = t->slots[j];
      hole = j;
    }
  }
  t->slots[hole].key = NULL;
  t->slots[hole].s = NULL;
  set_n(t, t->n - 1);
  if (t->pool_n < POOL_CAP) {
    s->next_free = t->pool;
    t->pool = s;
    t->pool_n++;
  } else {
    uvotel_free(s);
  }
  if (t->cap > MIN_CAP && t->n * 8 < t->cap) (void)resize(t, t->cap / 2);
}
