/* The span slot pool: chunks of slots, a lock-free shared free list, per-thread caches, recycling
 * a slot when its last reference goes, and the provider's retirement while spans are held. */
#include <stdlib.h>

#include "trace_internal.h"

UVOTEL__TLS uint32_t uvotel__shard_id;
static atomic_uint g_shard_next = 1;

uint32_t uvotel__shard_assign(void) {
  uint32_t i = atomic_fetch_add(&g_shard_next, 1);
  if (i >= UVOTEL__SHARDS) i = UVOTEL__SHARDS; /* shared: shard 0, atomically */
  uvotel__shard_id = i;
  return i < UVOTEL__SHARDS ? i : 0;
}

/* ---- pool ---- */

#define slot_at uvotel__slot_at

static void pool_push_chain(uvotel_tracer_provider_t *p, uvotel_span_t *first,
                            uvotel_span_t *last) {
  uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_relaxed);
  uint_fast64_t nh;
  do {
    atomic_store_explicit(&last->next_free, (uint32_t)head, memory_order_relaxed);
    nh = (((head >> 32) + 1) << 32) | (uint64_t)(first->index + 1);
  } while (!atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_release,
                                                  memory_order_relaxed));
}

/* A chunk of UVOTEL__SPAN_CHUNK slots, 64-byte aligned (a slot is whole cache lines, so no two
 * slots share one); the block's own address is kept in the word before the first slot. Not
 * zeroed: the caller initialises every slot. */
static uvotel_span_t *chunk_alloc(void) {
  size_t bytes = sizeof(uvotel_span_t) * UVOTEL__SPAN_CHUNK + 64 + sizeof(void *);
  char *raw = uvotel_malloc(bytes);
  if (raw == NULL) return NULL;
  uintptr_t a = ((uintptr_t)raw + sizeof(void *) + 63u) & ~(uintptr_t)63u;
  memcpy((char *)a - sizeof(void *), &raw, sizeof raw);
  return (uvotel_span_t *)a;
}

static void chunk_free(uvotel_span_t *c) {
  void *raw;
  memcpy(&raw, (char *)c - sizeof(void *), sizeof raw);
  uvotel_free(raw);
}

/* Add a chunk: its first slot returned, the rest pushed on the shared list. NULL: someone else
 * grew (unless prefill); &uvotel__invalid_span: at capacity or out of memory. Every slot is
 * written whole here, so the chunk's pages are in before any span uses them. */
static uvotel_span_t *pool_grow(uvotel_tracer_provider_t *p, int prefill) {
  pthread_mutex_lock(&p->mu);
  uint32_t n = atomic_load(&p->n_chunks);
  if (!prefill && (uint32_t)atomic_load(&p->free_head) != 0) {
    pthread_mutex_unlock(&p->mu);
    return NULL; /* someone else grew: caller retries */
  }
  if ((uint64_t)n * UVOTEL__SPAN_CHUNK >= p->max_spans || n >= UVOTEL__MAX_SPAN_CHUNKS) {
    pthread_mutex_unlock(&p->mu);
    return &uvotel__invalid_span;
  }
  uvotel_span_t *c = chunk_alloc();
  if (c == NULL) {
    pthread_mutex_unlock(&p->mu);
    return &uvotel__invalid_span;
  }
  memset(c, 0, sizeof(uvotel_span_t) * UVOTEL__SPAN_CHUNK);
  for (uint32_t i = 0; i < UVOTEL__SPAN_CHUNK; i++) {
    c[i].index = n * UVOTEL__SPAN_CHUNK + i;
    c[i].provider = p;
    c[i].status_desc = ""; /* a start leaves it to the recycling of the slot */
    uvotel__span_storage_init(&c[i]);
    c[i].attr_room = uvotel__attrs_room(&c[i]);
    atomic_store_explicit(&c[i].next_free, i + 1 < UVOTEL__SPAN_CHUNK ? c[i].index + 2 : 0,
                          memory_order_relaxed);
  }
  atomic_store_explicit(&p->chunks[n], c, memory_order_release);
  atomic_store(&p->n_chunks, n + 1);
  pool_push_chain(p, &c[1], &c[UVOTEL__SPAN_CHUNK - 1]);
  pthread_mutex_unlock(&p->mu);
  return &c[0];
}

/* Whole chunks: the free list is a stack, so the last chunk's slots are taken first. A slot
 * holds its attribute arrays and first arena bytes inline, so a chunk made is a chunk ready. */
int uvotel__pool_prefill(uvotel_tracer_provider_t *p, uint32_t n) {
  if (n > p->max_spans) n = p->max_spans;
  uint32_t want = (n + UVOTEL__SPAN_CHUNK - 1) / UVOTEL__SPAN_CHUNK;
  while (atomic_load(&p->n_chunks) < want) {
    uvotel_span_t *first = pool_grow(p, 1);
    if (first == NULL || first == &uvotel__invalid_span) return UVOTEL_ENOMEM;
    pool_push_chain(p, first, first);
  }
  return 0;
}

/* A thread's cache is empty: take a chain of slots from the shared list with one exchange
 * (the tagged head changes on every push and pop, so the chain walked is the list's own if the
 * exchange succeeds), return the first and keep the rest. Slots released in batches (the batch
 * processor's, on the loop thread) then cost one locked instruction per chain, not two per
 * slot. The chain is 1 slot at a thread's first refill and doubles with each one up to
 * REFILL_MAX, so a thread that makes a span or two and exits strands no more than before. */
#define REFILL_MAX 64u
uvotel_span_t *uvotel__pool_refill(uvotel_tracer_provider_t *p, uint32_t shard) {
  uvotel__shard_t *sh = &p->shards[shard];
  uint32_t want = sh->refill != 0 ? sh->refill : 1;
  if (want < REFILL_MAX) sh->refill = want * 2;
  uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_acquire);
  while ((uint32_t)head != 0) {
    uint32_t first = (uint32_t)head, last = first, n = 1;
    uint32_t next = atomic_load_explicit(&slot_at(p, last - 1)->next_free, memory_order_relaxed);
    while (next != 0 && n < want) {
      last = next;
      n++;
      next = atomic_load_explicit(&slot_at(p, last - 1)->next_free, memory_order_relaxed);
    }
    uint_fast64_t nh = (((head >> 32) + 1) << 32) | next;
    if (atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_acquire,
                                              memory_order_acquire)) {
      uvotel_span_t *s = slot_at(p, first - 1);
      atomic_store_explicit(&slot_at(p, last - 1)->next_free, sh->free, memory_order_relaxed);
      sh->free = atomic_load_explicit(&s->next_free, memory_order_relaxed);
      sh->n_free += n - 1;
      return s;
    }
  }
  return uvotel__pool_pop_shared(p); /* empty: grow */
}

uvotel_span_t *uvotel__pool_pop_shared(uvotel_tracer_provider_t *p) {
  /* One slot from the shared list. (Taking the whole list here once left n_free wrong, so one
   * thread could hoard every free slot while others found the pool exhausted.) */
  for (;;) {
    uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_acquire);
    while ((uint32_t)head != 0) {
      uvotel_span_t *s = slot_at(p, (uint32_t)head - 1);
      uint32_t next = atomic_load_explicit(&s->next_free, memory_order_relaxed);
      uint_fast64_t nh = (((head >> 32) + 1) << 32) | next;
      if (atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_acquire,
                                                memory_order_acquire)) {
        return s;
      }
    }
    uvotel_span_t *s = pool_grow(p, 0);
    if (s == &uvotel__invalid_span) return NULL;
    if (s != NULL) return s;
  }
}

void uvotel__span_pool_free(uvotel_tracer_provider_t *p) {
  uint32_t n = atomic_load(&p->n_chunks);
  for (uint32_t i = 0; i < n; i++) {
    uvotel_span_t *c = atomic_load(&p->chunks[i]);
    for (uint32_t j = 0; j < UVOTEL__SPAN_CHUNK; j++) {
      uvotel__arena_free(&c[j]);
      if (c[j].attrs != c[j].attr_inl) {
        uvotel_free(c[j].attrs);
        uvotel_free(c[j].attr_keys);
      }
      uvotel_free(c[j].attr_index);
      uvotel_free(c[j].events);
      uvotel_free(c[j].links);
    }
    chunk_free(c);
    p->chunks[i] = NULL;
  }
  atomic_store(&p->n_chunks, 0);
  atomic_store(&p->free_head, 0);
  for (int i = 0; i < UVOTEL__SHARDS; i++) p->shards[i].free = p->shards[i].n_free = 0;
}

void uvotel__span_recycle(uvotel_span_t *s) {
  if (s->ctx.trace_state != NULL) uvotel_trace_state_release(s->ctx.trace_state);
  for (uint32_t i = 0; i < s->n_links; i++)
    uvotel_trace_state_release(s->links[i].context.trace_state);
  if (s->flags & UVOTEL__SPAN_F_HEAP) {
    uvotel_free(s);
    return;
  }
  s->ctx.trace_state = NULL;
  uvotel__span_attrs_reset(s);
  s->n_events = s->n_links = 0;
  s->dropped_attrs = s->dropped_events = s->dropped_links = 0;
  s->status = UVOTEL_STATUS_UNSET;
  s->status_final = 0;
  s->status_desc = "";
  uvotel__arena_reset(s);
  atomic_store_explicit(&s->state, UVOTEL__SPAN_FREE, memory_order_relaxed);
  uvotel_tracer_provider_t *p = s->provider;
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&p->zombie, memory_order_seq_cst))) {
    if (atomic_fetch_sub(&p->zombie_remaining, 1) == 1) uvotel__provider_release_memory(p);
    return;
  }
  uint32_t shard = uvotel__shard();
  uvotel__shard_t *sh = &p->shards[shard];
  if (UVOTEL__LIKELY(shard != 0)) {
    if (UVOTEL__UNLIKELY(sh->n_free >= UVOTEL__SHARD_CACHE_MAX)) {
      /* full: half of it goes to the shared list as one chain (one exchange, not one each) */
      uvotel_span_t *first = slot_at(p, sh->free - 1), *last = first;
      for (uint32_t i = 1; i < UVOTEL__SHARD_CACHE_MAX / 2; i++) {
        last = slot_at(p, atomic_load_explicit(&last->next_free, memory_order_relaxed) - 1);
      }
      sh->free = atomic_load_explicit(&last->next_free, memory_order_relaxed);
      sh->n_free -= UVOTEL__SHARD_CACHE_MAX / 2;
      pool_push_chain(p, first, last);
    }
    atomic_store_explicit(&s->next_free, sh->free, memory_order_relaxed);
    sh->free = s->index + 1;
    sh->n_free++;
    return;
  }
  pool_push_chain(p, s, s);
}

/* Ask for the line at a for writing. */
static inline void prefetch_w(const void *a) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__ volatile("prefetchw %0" : : "m"(*(const char *)a));
#else
  __builtin_prefetch(a, 1, 3);
#endif
}

#define RELEASE_AHEAD 4
void uvotel__span_release_many(const uvotel_span_data_t *const *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (i + RELEASE_AHEAD < n) {
      const char *b = (const char *)d[i + RELEASE_AHEAD];
      prefetch_w(b);
      prefetch_w(b + 64);
      prefetch_w(b + 128);
      prefetch_w(b + 192);
    }
    uvotel_span_data_release(d[i]);
  }
}

void uvotel__provider_retire(uvotel_tracer_provider_t *p) {
  atomic_store_explicit(&p->zombie, 1, memory_order_seq_cst);
  long total = (long)atomic_load(&p->n_chunks) * UVOTEL__SPAN_CHUNK, free_n = 0;
  uint32_t i1 = (uint32_t)atomic_load(&p->free_head);
  while (i1 != 0) {
    free_n++;
    i1 = atomic_load_explicit(&slot_at(p, i1 - 1)->next_free, memory_order_relaxed);
  }
  for (int k = 0; k < UVOTEL__SHARDS; k++) {
    for (uint32_t j = p->shards[k].free; j != 0;) {
      free_n++;
      j = atomic_load_explicit(&slot_at(p, j - 1)->next_free, memory_order_relaxed);
    }
  }
  long live = total - free_n;
  if (atomic_fetch_add(&p->zombie_remaining, live) + live == 0) uvotel__provider_release_memory(p);
}
