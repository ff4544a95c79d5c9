/* The side table: handle or request address -> wrapper state, one table per loop.
 *
 * A handle's state belongs to its loop, not to the thread that created it: programs set loops
 * up on one thread and run them on another. The table hangs off the SDK's per-loop block
 * (uvotel_loop_get / uvotel_loop_set under a key of ours), and each thread remembers the last
 * loop it looked up and that loop's table (checked against uvotel__loop_epoch, which every
 * detach bumps), so the hot path is one compare of the handle's loop pointer. libuv runs a loop
 * on one thread at a time, so the table itself needs no lock. Thread-pool work (work.c) and file
 * system requests other than the utime family (fs.c) keep no state here: their per-request
 * blocks come from free lists in the table's head, found through fields of the request.
 *
 * States are stored inline: a table is a list of generations, each an array of cells (one
 * state each, 64-byte aligned) with open addressing and linear probing from the key's hash. A
 * lookup reads the cell at the key's home first, and the key and the state's hot fields are in
 * that cell's first line: at 100k handles that is one cache miss, where a slot holding a pointer
 * to the state was two dependent ones.
 *
 * Nothing ever moves, because wrappers hold state pointers across calls that insert or remove
 * other states (a trampoline runs the user's callback, which may start or close handles):
 *  - removal clears the key and leaves every other cell where it is. Each cell counts the live
 *    states whose probe passed it (`passed_`), so a lookup stops at the first cell with no such
 *    state instead of at an empty one, and freed cells are reused by inserts: there are no
 *    tombstones and probes stay as short as the live load makes them; `maxd` (the longest probe
 *    ever placed in the generation) bounds a lookup whatever the counts say.
 *  - growth does not rehash: when the newest generation would pass 1/2 load, a new one of at
 *    least 8x the live count becomes the newest and takes the inserts; the older ones keep
 *    their states until those are removed, and a generation is freed when it holds none. 8x
 *    rather than 2x keeps the generations few (at 100k handles from empty: 81% in the newest,
 *    16% in the one before, 2% in three small ones); the cost is memory: 128 bytes per cell at
 *    1/16 to 1/2 load.
 *  - a lookup is one probe wherever its state is: a generation that stops being the newest
 *    gets a filter of its live keys (two bits of one 64-bit word per key, 16 to 32 bits per
 *    key: 0.5 to 1.7% false positives, 32 KB for the 16k states of the example), and it takes
 *    no inserts from then on. A lookup asks the older generations' filters first (their words
 *    stay cached) and probes a generation only when its filter may hold the key, the newest
 *    one last. Before, a lookup probed the newest, prefetched a cell in every older one and
 *    probed them when the newest did not hold the key: at 100k handles (callgrind, 2 MB last
 *    level) 3.51 lines from memory per lookup plus the prefetches, now 3.34 and none, where
 *    the handle's own lines and the state's cell are 3.3. A removal leaves its bits (a false
 *    positive costs one probe more, never a wrong answer); a generation that becomes the
 *    newest again gets a fresh filter when it stops being it.
 *  - generations of 4 MB or more start on a 2 MB boundary and are advised MADV_HUGEPAGE: their
 *    random lookups would otherwise each need a page walk (measured: about half the lookup's
 *    cost at 100k handles on this VM).
 *  - shrinking: an insert into a newest generation 32x larger than the live count starts a
 *    smaller one, and an emptied generation is freed (the newest too when it is that oversized,
 *    and everything but one MIN_CAP generation when the table is empty), so a burst of handles
 *    does not pin memory once its handles are closed. A state that outlives its burst pins its
 *    generation until it is removed. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MIN_CAP 64
#define HUGE_PAGE ((size_t)2 << 20)
#define HUGE_MIN (2 * HUGE_PAGE) /* generations this large start on a huge-page boundary */

/* One state per cell, each starting a cache line. */
typedef struct cell_s {
  uvotel__hs_t s;
} __attribute__((aligned(64))) cell_t;
_Static_assert(offsetof(uvotel__hs_t, cb) + sizeof(void (*)(void)) <= 64,
               "a lookup's fields share the cell's first line");

/* 16 zero bytes at an 8-byte aligned address (a new state's clearing, cell_take). */
typedef uint64_t zero16_t __attribute__((vector_size(16), aligned(8), may_alias));

/* What a removed cell keeps readable: the key and the pass count (the table's own fields). */
#define CELL_TABLE_BYTES offsetof(uvotel__hs_t, is_async)

typedef struct gen_s {
  struct gen_s *older;
  cell_t *cells;
  void *mem; /* what was allocated: cells is mem rounded up to 64, or to 2 MB when large */
  size_t mask;
  size_t live;
  size_t maxd;      /* the longest probe placed here since the generation was made */
  uint64_t *filter; /* while not the newest: bits of every key live when it stopped being it;
                       NULL: the newest, or no memory for one (then always probed) */
  size_t fmask;     /* the filter's words - 1 */
} gen_t;

struct uvotel__ltab_s {
  uvotel__wq_t wq; /* thread-pool work requests (work.c), not in the cells; first: see
                      uvotel__wq_make in internal.h */
  uvotel__hs_t
      *last; /* the last state looked up: a callback re-arming its handle skips hashing;
                second: internal.h's inline uvotel__hs_get reads it (uvotel__ltab_head_t) */
  /* fs requests' blocks (fs.c), not in the cells; third: uvotel__ltab_head_t */
  uvotel__fsq_t fsq;
  uv_loop_t *loop;
  gen_t *gens; /* newest first; NULL: none */
  size_t cap;  /* cells in all generations, read relaxed by uvotel_uv_table_capacity */
  size_t n;    /* written by the loop's thread, read relaxed by uvotel_uv_tracked */
  struct uvotel__ltab_s *next; /* every table, for uvotel_uv_tracked */
};
_Static_assert(offsetof(struct uvotel__ltab_s, wq) == 0, "internal.h casts a table to its wq");
_Static_assert(offsetof(struct uvotel__ltab_s, last) == offsetof(uvotel__ltab_head_t, last),
               "internal.h's inline lookup reads last through uvotel__ltab_head_t");
_Static_assert(offsetof(struct uvotel__ltab_s, fsq) == offsetof(uvotel__ltab_head_t, fsq),
               "fs.c reads the fs blocks through uvotel__ltab_head_t");

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

static inline uint32_t hash_of(const void *key) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
  return (uint32_t)(h >> 32);
}

/* The filter's word and bits of key: another multiplier than hash_of's, so the bits are not
 * the ones that chose the key's cell. */
static inline uint64_t fhash_of(const void *key) {
  return (uint64_t)(uintptr_t)key * 0xD6E8FEB86659FD93ull;
}

static inline uint64_t fbits(uint64_t q) {
  return (1ull << (q >> 58)) | (1ull << ((q >> 52) & 63));
}

static inline int filter_may_hold(const gen_t *g, uint64_t q) {
  if (UVOTEL__UNLIKELY(g->filter == NULL)) return 1;
  uint64_t b = fbits(q);
  return (g->filter[(q >> 32) & g->fmask] & b) == b;
}

/* g stops being the newest generation: a filter of the keys it holds (none when out of
 * memory: then lookups probe it every time). Reads every cell once. */
static void filter_build(gen_t *g) {
  uvotel_free(g->filter);
  size_t words = 1;
  while (words * 64 < 16 * g->live) words *= 2;
  g->filter = uvotel_calloc(words, sizeof *g->filter);
  g->fmask = words - 1;
  if (g->filter == NULL) return;
  for (size_t i = 0; i <= g->mask; i++) {
    const void *key = g->cells[i].s.key;
    if (key == NULL) continue;
    uint64_t q = fhash_of(key);
    g->filter[(q >> 32) & g->fmask] |= fbits(q);
  }
}

static void set_n(uvotel__ltab_t *t, size_t n) {
  __atomic_store_n(&t->n, n, __ATOMIC_RELAXED);
}

static void set_cap(uvotel__ltab_t *t, size_t cap) {
  __atomic_store_n(&t->cap, cap, __ATOMIC_RELAXED);
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

uvotel__ltab_t *uvotel__ltab_make(uv_loop_t *loop) {
  return tab_make(loop);
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
  for (gen_t *g = t->gens; g != NULL; g = g->older) {
    for (size_t i = 0; i <= g->mask; i++) {
      uvotel__hs_t *s = &g->cells[i].s;
      if (s->key == NULL) continue;
      if (s->is_async) uvotel__async_forget(s);
      uvotel__res_end(s);
      uvotel__auto_drop(s);
      uvotel__proto_drop(s);
      uvotel_snapshot_release(s->close_ctx);
    }
  }
  while (t->gens != NULL) {
    gen_t *g = t->gens;
    t->gens = g->older;
    UNPOISON(g->cells, (g->mask + 1) * sizeof(cell_t));
    uvotel_free(g->filter);
    uvotel_free(g->mem);
    uvotel_free(g);
  }
  uvotel__wq_free(&t->wq);
  uvotel__fsq_free(&t->fsq);
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
    n += __atomic_load_n(&t->n, __ATOMIC_RELAXED) + __atomic_load_n(&t->wq.live, __ATOMIC_RELAXED) +
         __atomic_load_n(&t->fsq.live, __ATOMIC_RELAXED);
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

/* The state of key in generation g, or NULL. */
static inline uvotel__hs_t *gen_find(const gen_t *g, const void *key, uint32_t h) {
  size_t i = h & g->mask;
  for (size_t d = 0;; d++, i = (i + 1) & g->mask) {
    uvotel__hs_t *s = &g->cells[i].s;
    if (s->key == key) return s;
    if (s->passed_ == 0 || d >= g->maxd) return NULL;
  }
}

/* The older generations whose filters may hold key, probed; NULL: not in any of them. */
static uvotel__hs_t *find_older(const gen_t *newest, const void *key, uint32_t h) {
  uint64_t q = fhash_of(key);
  for (const gen_t *o = newest->older; o != NULL; o = o->older) {
    if (!filter_may_hold(o, q)) continue;
    uvotel__hs_t *s = gen_find(o, key, h);
    if (s != NULL) return s;
  }
  return NULL;
}

/* The probe, past the last-looked-up check (the inline uvotel__hs_get has made it already). */
static __attribute__((noinline)) uvotel__hs_t *tab_probe(uvotel__ltab_t *t, const void *key) {
  if (UVOTEL__UNLIKELY(t->n == 0)) return NULL;
  uint32_t h = hash_of(key);
  const gen_t *g = t->gens;
  uvotel__hs_t *s = NULL;
  if (UVOTEL__UNLIKELY(g->older != NULL)) s = find_older(g, key, h);
  if (s == NULL) s = gen_find(g, key, h);
  if (UVOTEL__LIKELY(s != NULL)) t->last = s;
  return s;
}

uvotel__wq_t *uvotel__wq_make_slow(uv_loop_t *loop) {
  uvotel__ltab_t *t = tab_make(loop);
  return UVOTEL__LIKELY(t != NULL) ? &t->wq : NULL;
}

/* A lookup's common case inline: one generation (no filters to ask). */
uvotel__hs_t *uvotel__hs_find(uvotel__ltab_t *t, const void *key) {
  const gen_t *g = t->gens;
  if (UVOTEL__LIKELY(g != NULL && g->older == NULL)) {
    if (UVOTEL__UNLIKELY(t->n == 0)) return NULL;
    uvotel__hs_t *s = gen_find(g, key, hash_of(key));
    if (UVOTEL__LIKELY(s != NULL)) t->last = s;
    return s;
  }
  return tab_probe(t, key);
}

/* A new newest generation of at least 8x the live states (a power of two, >= MIN_CAP). */
static gen_t *gen_push(uvotel__ltab_t *t) {
  size_t cap = MIN_CAP;
  while (cap < 8 * (t->n + 1)) cap *= 2;
  gen_t *g = uvotel_calloc(1, sizeof *g);
  if (g == NULL) return NULL;
  /* calloc: every key NULL and every count 0; large blocks come as untouched zero pages. */
  size_t len = cap * sizeof(cell_t);
  int huge = len >= HUGE_MIN;
  g->mem = huge ? uvotel_malloc(len + HUGE_PAGE) : uvotel_calloc(1, len + sizeof(cell_t));
  if (g->mem == NULL) {
    uvotel_free(g);
    return NULL;
  }
  uintptr_t align = huge ? HUGE_PAGE : sizeof(cell_t);
  uintptr_t a = ((uintptr_t)g->mem + align - 1) & ~(align - 1);
  g->cells = (cell_t *)a;
  if (huge) {
    /* Large: its random lookups would each need a page walk of their own. Ask for huge pages
     * (best effort: a no-op where THP is off or the memory was touched before), then zero it,
     * which faults the pages in as huge ones. */
#ifdef MADV_HUGEPAGE
    (void)madvise(g->cells, len, MADV_HUGEPAGE);
#endif
    memset(g->cells, 0, len);
  }
  g->mask = cap - 1;
  for (size_t i = 0; i < cap; i++) {
    POISON((char *)&g->cells[i] + CELL_TABLE_BYTES, sizeof(cell_t) - CELL_TABLE_BYTES);
  }
  /* The newest one stops being it (an empty one is freed by the caller). */
  if (t->gens != NULL && t->gens->live != 0) filter_build(t->gens);
  pthread_mutex_lock(&g_mu);
  g->older = t->gens;
  t->gens = g;
  pthread_mutex_unlock(&g_mu);
  set_cap(t, t->cap + cap);
  return g;
}

static void gen_free(uvotel__ltab_t *t, gen_t *g) {
  pthread_mutex_lock(&g_mu);
  gen_t **pp = &t->gens;
  while (*pp != g) pp = &(*pp)->older;
  *pp = g->older;
  pthread_mutex_unlock(&g_mu);
  set_cap(t, t->cap - (g->mask + 1));
  UNPOISON(g->cells, (g->mask + 1) * sizeof(cell_t));
  uvotel_free(g->filter);
  uvotel_free(g->mem);
  uvotel_free(g);
}

/* The newest generation is far larger than what is live. */
static inline int oversized(const uvotel__ltab_t *t, const gen_t *g) {
  return g->mask + 1 > MIN_CAP && g->mask + 1 > 32 * (t->n + 1);
}

/* A new state in cell s of g (its key's probe from home passed the cells before it), counted
 * and looked up last. Every field before the union starts zeroed. */
static inline uvotel__hs_t *cell_take(uvotel__ltab_t *t, gen_t *g, uvotel__hs_t *s, const void *key,
                                      int *is_new) {
  UNPOISON((char *)s + CELL_TABLE_BYTES, sizeof(cell_t) - CELL_TABLE_BYTES);
  /* The common fields start zeroed; the per-kind union is set by the kind that uses it. From
   * `res` on the range is 8-byte aligned: cleared with 16-byte stores (a memset of it compiles to
   * a `rep stos` of 13 words), the last one overlapping when its size is not a multiple of 16. */
  s->is_async = 0;
  enum {
    ZERO_FROM = offsetof(uvotel__hs_t, res),
    ZERO_LEN = offsetof(uvotel__hs_t, u) - ZERO_FROM
  };
  _Static_assert(ZERO_FROM % 8 == 0 && ZERO_LEN % 8 == 0 && ZERO_LEN >= 16, "the cleared range");
  _Static_assert(ZERO_LEN <= 128, "the stores below cover at most 128 bytes");
  char *z = (char *)s + ZERO_FROM;
  /* straight stores: a loop of them is turned back into the memset */
#define ZERO16_AT(o) \
  if ((o) + 16 <= ZERO_LEN) *(zero16_t *)(void *)(z + (o)) = (zero16_t){0}
  ZERO16_AT(0);
  ZERO16_AT(16);
  ZERO16_AT(32);
  ZERO16_AT(48);
  ZERO16_AT(64);
  ZERO16_AT(80);
  ZERO16_AT(96);
  ZERO16_AT(112);
#undef ZERO16_AT
  if (ZERO_LEN % 16 != 0) *(zero16_t *)(void *)(z + ZERO_LEN - 16) = (zero16_t){0};
  s->key = key;
  g->live++;
  set_n(t, t->n + 1);
  t->last = s;
  *is_new = 1;
  return s;
}

/* hs_add past its fast path: a lookup in every generation, then an insert into the newest one
 * (a new one first when it is full or oversized). */
static __attribute__((noinline)) uvotel__hs_t *add_slow(uvotel__ltab_t *t, const void *key,
                                                        int *is_new) {
  uvotel__hs_t *s = tab_probe(t, key);
  if (s != NULL) {
    *is_new = 0;
    return s;
  }
  gen_t *g = t->gens;
  if (UVOTEL__UNLIKELY(g == NULL || (g->live + 1) * 2 > g->mask + 1 || oversized(t, g))) {
    gen_t *old = g;
    g = gen_push(t);
    if (g == NULL) return NULL;
    if (old != NULL && old->live == 0) gen_free(t, old);
  }
  uint32_t h = hash_of(key);
  size_t i = h & g->mask, d = 0;
  for (; g->cells[i].s.key != NULL; i = (i + 1) & g->mask, d++) g->cells[i].s.passed_++;
  if (d > g->maxd) g->maxd = d;
  return cell_take(t, g, &g->cells[i].s, key, is_new);
}

/* hs_add on a loop that is not the thread's current one (or has no table yet). */
static __attribute__((noinline)) uvotel__hs_t *add_attach(uv_loop_t *loop, const void *key,
                                                          int *is_new) {
  uvotel__ltab_t *t = tab_make(loop);
  return UVOTEL__LIKELY(t != NULL) ? add_slow(t, key, is_new) : NULL;
}

/* Every call out of the common path is a tail call, so that path saves no register. */
uvotel__hs_t *uvotel__hs_add(uv_loop_t *loop, const void *key, int *is_new) {
  if (UVOTEL__UNLIKELY(loop != uvotel__cur_loop ||
                       uvotel__cur_epoch !=
                           __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_RELAXED) ||
                       uvotel__cur_tab == NULL)) {
    return add_attach(loop, key, is_new); /* the check uvotel__ltab makes */
  }
  uvotel__ltab_t *t = uvotel__cur_tab;
  uvotel__hs_t *s = t->last;
  if (s != NULL && s->key == key) {
    *is_new = 0;
    return s;
  }
  /* The common case in one pass, when the table is one generation: the lookup's probe (as
   * gen_find) notes the first free cell it meets, which is where add_slow's insert would put the
   * state; when the key is not there and the generation takes one more, it goes there. */
  gen_t *g = t->gens;
  if (UVOTEL__LIKELY(g != NULL && g->older == NULL)) {
    size_t home = hash_of(key) & g->mask, i = home, fd = 0;
    uvotel__hs_t *fs = NULL;
    for (size_t d = 0;; d++, i = (i + 1) & g->mask) {
      s = &g->cells[i].s;
      if (s->key == key) {
        t->last = s;
        *is_new = 0;
        return s;
      }
      if (s->key == NULL && fs == NULL) {
        fs = s;
        fd = d;
      }
      if (s->passed_ == 0 || d >= g->maxd) break;
    }
    if (UVOTEL__LIKELY(fs != NULL && (g->live + 1) * 2 <= g->mask + 1 && !oversized(t, g))) {
      for (i = home; i != ((home + fd) & g->mask); i = (i + 1) & g->mask) g->cells[i].s.passed_++;
      if (fd > g->maxd) g->maxd = fd;
      return cell_take(t, g, fs, key, is_new);
    }
  }
  return add_slow(t, key, is_new);
}

/* The generation of t whose cells hold s, or NULL. */
static gen_t *gen_of(const uvotel__ltab_t *t, const uvotel__hs_t *s) {
  uintptr_t p = (uintptr_t)s;
  for (gen_t *g = t->gens; g != NULL; g = g->older) {
    uintptr_t lo = (uintptr_t)g->cells;
    if (p >= lo && p < lo + (g->mask + 1) * sizeof(cell_t)) return g;
  }
  return NULL;
}

/* The table and generation of s. States are removed by the thread running their loop, which is
 * almost always the loop it looked up last; else every attached table is searched (generation
 * lists change under g_mu, so reading another loop's list here is safe). */
static __attribute__((noinline)) uvotel__ltab_t *tab_of(const uvotel__hs_t *s, gen_t **gp) {
  uvotel__ltab_t *t = uvotel__cur_tab;
  if (UVOTEL__LIKELY(t != NULL &&
                     uvotel__cur_epoch == __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_RELAXED) &&
                     (*gp = gen_of(t, s)) != NULL)) {
    return t; /* the same check as uvotel__ltab: a detach since then may have freed it */
  }
  pthread_mutex_lock(&g_mu);
  for (t = g_tabs; t != NULL && (*gp = gen_of(t, s)) == NULL; t = t->next) {
  }
  pthread_mutex_unlock(&g_mu);
  if (t == NULL) abort(); /* not a state of any table: memory corruption */
  return t;
}

/* A removal emptied generation g (and maybe the table): free what an empty table or an empty
 * generation need not keep. */
static __attribute__((noinline)) void remove_emptied(uvotel__ltab_t *t, gen_t *g) {
  g->maxd = 0; /* every count in it is 0 again */
  if (t->n == 0) {
    /* Empty: keep one small generation, so a handle opened and closed over and over allocates
     * nothing. */
    while (t->gens != NULL && (t->gens->older != NULL || t->gens->mask + 1 > MIN_CAP)) {
      gen_t *o = t->gens->older != NULL ? t->gens->older : t->gens;
      gen_free(t, o);
    }
  } else if (g != t->gens || oversized(t, g)) {
    gen_free(t, g);
  }
}

/* Remove s from generation g of t. */
static inline __attribute__((always_inline)) void remove_in(uvotel__ltab_t *t, gen_t *g,
                                                            uvotel__hs_t *s) {
  if (t->last == s) t->last = NULL;
  size_t p = (size_t)((cell_t *)(void *)s - g->cells);
  for (size_t i = hash_of(s->key) & g->mask; i != p; i = (i + 1) & g->mask) {
    g->cells[i].s.passed_--;
  }
  s->key = NULL;
  POISON((char *)s + CELL_TABLE_BYTES, sizeof(cell_t) - CELL_TABLE_BYTES);
  set_n(t, t->n - 1);
  /* the table's count is the sum of its generations': it reaches 0 only when g's does */
  if (UVOTEL__UNLIKELY(--g->live == 0)) remove_emptied(t, g);
}

/* hs_remove of a state that is not in the thread's current table's only generation. */
static __attribute__((noinline)) void remove_slow(uvotel__hs_t *s) {
  gen_t *g;
  uvotel__ltab_t *t = tab_of(s, &g);
  remove_in(t, g, s);
}

void uvotel__hs_remove(uvotel__hs_t *s) {
  /* The common case inline: the thread's current table, one generation holding s. */
  uvotel__ltab_t *t = uvotel__cur_tab;
  gen_t *g;
  if (UVOTEL__UNLIKELY(t == NULL ||
                       uvotel__cur_epoch !=
                           __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_RELAXED) ||
                       (g = t->gens) == NULL || g->older != NULL ||
                       (uintptr_t)s - (uintptr_t)g->cells >= (g->mask + 1) * sizeof(cell_t))) {
    remove_slow(s);
    return;
  }
  remove_in(t, g, s);
}
