/* Private declarations shared by the tracing sources. */
#ifndef UVOTEL_TRACE_INTERNAL_H
#define UVOTEL_TRACE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "../internal.h"
#include "../pipeline/exporter_internal.h"

#include "uvotel/trace_state.h"

/* ---- spans ---- */

enum {
  UVOTEL__SPAN_FREE = 0,
  UVOTEL__SPAN_OPEN = 1,   /* recording */
  UVOTEL__SPAN_ENDED = 2,  /* finished, data immutable */
  UVOTEL__SPAN_NONREC = 3, /* non-recording, started */
  UVOTEL__SPAN_NONREC_ENDED = 4
};

#define UVOTEL__SPAN_F_STATIC 0x1u /* static object: references are not counted */
#define UVOTEL__TS_START 0x1u
#define UVOTEL__TS_END 0x2u
#define UVOTEL__SPAN_F_HEAP \
  0x2u /* wrap_context: own block (no inline storage), freed at last release */

/* An attribute key's byte length and hash, stored beside the attribute. */
typedef struct uvotel__key_s {
  uint32_t len, hash;
} uvotel__key_t;

/* Up to this many attributes a duplicate is looked for by scanning the stored hashes; beyond
 * it through the span's index. 16, not 8: an HTTP SERVER span has 9 to 11 attributes, and
 * building the index on the 9th cost ~640 instructions per request (issue 12 item 7). */
#define UVOTEL__ATTR_LINEAR_MAX 16

/* An arena chunk past the span's inline buffer (kept across reuse of the slot). */
typedef struct uvotel__chunk_s {
  struct uvotel__chunk_s *next;
  size_t cap;
  _Alignas(8) char data[];
} uvotel__chunk_t;

/* Attributes stored inside the slot before the arrays move out (grow_attrs): an HTTP SERVER
 * span's 9 to 11 spill once per slot and keep the heap arrays for the slot's later uses. */
#define UVOTEL__ATTR_INLINE 8
/* The span's first arena bytes, inside the slot (sized so the slot is a whole number of cache
 * lines: see the static assertion below). */
#define UVOTEL__ARENA_INLINE 256

/* A span slot. Pool slots are 64-byte aligned (pool.c) and a whole number of lines: the fields
 * every recording span touches first (four lines), then the inline attributes, their keys and
 * the inline arena, so a span with a few short attributes is one contiguous run of lines that
 * the producer writes, the export thread reads and the producer then reuses. */
struct uvotel_span_s {
  /* line 0: pool and life cycle, identity of the data */
  atomic_uint refs;
  atomic_uint state;
  atomic_uint next_free; /* pool stack link: index + 1, 0 = end */
  uint32_t index;
  uint32_t flags;
  uint32_t ts_gen;
  uvotel_tracer_provider_t *provider;
  uvotel_tracer_t *tracer;
  /* start/end: raw ticks of anchor generation ts_gen, or Unix ns as the user gave them
   * (ts_explicit bits UVOTEL__TS_START / UVOTEL__TS_END); converted when read */
  uint64_t start_ns, end_ns;
  const char *name;
  /* line 1 */
  uvotel_span_context_t ctx;
  uvotel_span_id_t parent_id;
  const char *status_desc;
  uint8_t kind;   /* uvotel_span_kind_t */
  uint8_t status; /* uvotel_status_code_t */
  uint8_t parent_remote;
  uint8_t status_final;
  uint8_t ts_explicit;
  uint8_t arena_failed;
  uint8_t attr_index_live;
  /* 1 once a span was started with this one as its parent (span start: a relaxed load and a
   * store the first time); read by uvotel__span_has_children */
  atomic_uchar has_children;
  /* line 2: attributes. attrs/attr_keys point at attr_inl/key_inl until more than
   * UVOTEL__ATTR_INLINE are stored, then at heap arrays kept across reuse; attr_keys[i] is the
   * length and hash of attrs[i].key; past UVOTEL__ATTR_LINEAR_MAX attributes an open-addressing
   * index (attr_index: a header word, then attr_index_mask + 1 entries; layout in attributes.c)
   * finds duplicates in O(1). The index is kept across reuse and never cleared: an entry of
   * another generation than the header's is empty, so a reset costs nothing and a rebuild only
   * bumps the generation */
  uvotel_attribute_t *attrs;
  uvotel__key_t *attr_keys;
  uint32_t n_attrs, cap_attrs, dropped_attrs;
  /* below this many attributes a setter appends without the limit, capacity and index checks:
   * min(cap_attrs, attribute_count limit, UVOTEL__ATTR_LINEAR_MAX) (uvotel__attrs_room), 0 until
   * the arrays exist; the limit is the provider's, fixed at its creation */
  uint32_t attr_room;
  /* one bit per stored key (uvotel__key_bloom): a key whose bit is clear is new, so the common
   * case of distinct keys skips the duplicate scan */
  uint64_t attr_bloom;
  /* string/array arena: the free bytes of the current buffer (arena0, then arena_cur's) */
  char *ar_p, *ar_end;
  uint32_t n_events, n_links;
  /* line 3: the rest */
  uvotel_event_t *events;
  uvotel_link_t *links;
  uint32_t cap_events, dropped_events;
  uint32_t cap_links, dropped_links;
  uint64_t *attr_index;
  uint32_t attr_index_mask;
  /* arena chunks past arena0, kept across reuse (arena_more: the first; arena_cur: the one
   * ar_p is in, NULL while in arena0) */
  uvotel__chunk_t *arena_more, *arena_cur;
  /* lines 4-: inline storage */
  uvotel_attribute_t attr_inl[UVOTEL__ATTR_INLINE];
  uvotel__key_t key_inl[UVOTEL__ATTR_INLINE];
  _Alignas(8) char arena0[UVOTEL__ARENA_INLINE];
};
_Static_assert(sizeof(struct uvotel_span_s) % 64 == 0, "a span slot is whole cache lines");
_Static_assert(offsetof(struct uvotel_span_s, attrs) == 128, "line 2 starts with attrs");
_Static_assert(offsetof(struct uvotel_span_s, events) == 192, "line 3 starts with events");
_Static_assert(offsetof(struct uvotel_span_s, attr_inl) == 256, "inline storage at line 4");

#define UVOTEL__SPAN_CHUNK_SHIFT 8
#define UVOTEL__SPAN_CHUNK (1u << UVOTEL__SPAN_CHUNK_SHIFT)
#define UVOTEL__MAX_SPAN_CHUNKS 4096

struct uvotel_tracer_s {
  uvotel_tracer_provider_t *provider;
  uvotel_instrumentation_scope_t scope;
  uvotel_span_t *attr_holder; /* owns scope.attrs (a heap span used for its arena), or NULL */
  struct uvotel_tracer_s *next;
};

struct uvotel_sampler_s {
  const uvotel_sampler_ops_t *ops;
  void *self;
};

/* The shared exporter object (../pipeline/exporter_internal.h), its only member: a span
 * exporter pointer converts to and from a uvotel__exp_t pointer. */
struct uvotel_span_exporter_s {
  uvotel__exp_t x;
};

struct uvotel_span_processor_s {
  const uvotel_span_processor_ops_t *ops;
  void *self;
  int shut;
};

/* Per-thread state of a provider: counters and a free-slot cache that only the owning thread
 * writes, so the hot path needs no locked instruction. Threads get a global index (1..63) on
 * first use; later threads share shard 0 through atomic operations. */
#define UVOTEL__SHARDS 64
/* Small enough that an exited thread strands little of the pool. */
#define UVOTEL__SHARD_CACHE_MAX 256
typedef struct uvotel__shard_s {
  _Alignas(64) atomic_uint_fast64_t started;
  atomic_uint_fast64_t ended, non_recording;
  uint32_t free; /* local free list: index + 1, linked through next_free */
  uint32_t n_free;
  uint32_t refill; /* slots the next refill from the shared list takes (pool.c); 0: 1 */
} uvotel__shard_t;

uint32_t uvotel__shard_assign(void);
extern UVOTEL__TLS uint32_t uvotel__shard_id;
static inline uint32_t uvotel__shard(void) {
  uint32_t i = uvotel__shard_id;
  return UVOTEL__LIKELY(i != 0) ? (i < UVOTEL__SHARDS ? i : 0) : uvotel__shard_assign();
}
/* Add d (wrapping: (uint_fast64_t)-1 takes one back) to a counter of `shard`: a plain store on
 * a thread's own shard, an atomic add on the shared shard 0. */
static inline void uvotel__count_add(atomic_uint_fast64_t *c, uint32_t shard, uint_fast64_t d) {
  if (UVOTEL__LIKELY(shard != 0)) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d,
                          memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(c, d, memory_order_relaxed);
  }
}
static inline void uvotel__count(atomic_uint_fast64_t *c, uint32_t shard) {
  uvotel__count_add(c, shard, 1);
}

struct uvotel_tracer_provider_s {
  uvotel__shard_t shards[UVOTEL__SHARDS];
  uvotel_trace_resource_t resource;
  uvotel_span_limits_t limits;
  uvotel_sampler_t *sampler;
  int sampler_kind; /* uvotel__sampler_kind(sampler): decided inline at span start */
  uvotel_span_processor_t **procs;
  size_t n_procs;
  /* some processor has an on_start (set with procs at creation, cleared with them at free):
   * span start and discard skip the loop over the processors otherwise */
  int any_on_start;
  atomic_size_t pending_frees; /* during free: processors still freeing (free_async), plus one */
  const uvotel_id_generator_ops_t *idgen;
  void *idgen_self;
  uv_loop_t *loop;
  atomic_int shut;
  char propagators[128];
  uvotel_propagator_t *prop; /* built from OTEL_PROPAGATORS and made global (from_env) */
  /* tracers */
  pthread_mutex_t mu;
  uvotel_tracer_t *tracers;
  /* span pool */
  uint32_t max_spans;
  atomic_uint n_chunks;
  struct uvotel_span_s *_Atomic chunks[UVOTEL__MAX_SPAN_CHUNKS];
  atomic_uint_fast64_t free_head; /* (tag << 32) | (index + 1) */
  /* counters */
  atomic_uint_fast64_t pool_exhausted, misuse;
  /* freed while spans were still held: the last release frees the memory */
  atomic_int zombie;
  atomic_long zombie_remaining;
  /* resource storage */
  uvotel_span_t *res_holder; /* a span slot used as an arena for the resource */
  /* from_env: TRACEPARENT/TRACESTATE of the environment (a wrapped context span), the remote
   * parent of root spans; NULL: none (sdk/src/propagation/env_carrier.c) */
  uvotel_span_t *env_parent;
  /* recording spans started and not ended when shutdown finished (provider.c) */
  atomic_uint_fast64_t open_at_shutdown;
};

/* Free the calling thread's cache of tracestate blocks (uvotel_thread_cleanup runs it as the
 * trace layer's cleanup; thread exit too). */
void uvotel__trace_state_cache_cleanup(void);

/* Misuse (NULL span, ended span, twice): counted on the provider when known, and reported. */
void uvotel__misuse(uvotel_tracer_provider_t *p, const char *what);
/* Set p->env_parent from the process environment's TRACEPARENT/TRACESTATE, if valid. */
void uvotel__env_parent_load(uvotel_tracer_provider_t *p);

/* ---- the slot pool (pool.c) ---- */

void uvotel__span_pool_free(uvotel_tracer_provider_t *p);
static inline uvotel_span_t *uvotel__slot_at(uvotel_tracer_provider_t *p, uint32_t idx) {
  uvotel_span_t *c =
      atomic_load_explicit(&p->chunks[idx >> UVOTEL__SPAN_CHUNK_SHIFT], memory_order_acquire);
  return &c[idx & (UVOTEL__SPAN_CHUNK - 1)];
}

/* Make the first n slots ready (whole chunks, every slot written, its inline attribute arrays and
 * arena in place) on the shared free list. Creation only. 0, or UVOTEL_ENOMEM (what was made
 * stays). */
int uvotel__pool_prefill(uvotel_tracer_provider_t *p, uint32_t n);
#define UVOTEL__PREALLOC_DEFAULT 4096u
/* The first arena chunk past arena0. */
#define UVOTEL__ARENA_CHUNK 1024u
/* One slot from the shared free list (growing the pool); NULL when it is exhausted. */
uvotel_span_t *uvotel__pool_pop_shared(uvotel_tracer_provider_t *p);
/* The calling thread's cache (shard != 0) is empty: a chain of slots from the shared list into
 * it, the first returned; NULL when the pool is exhausted. */
uvotel_span_t *uvotel__pool_refill(uvotel_tracer_provider_t *p, uint32_t shard);

/* A free slot for the calling thread's shard; NULL when the pool is exhausted. The thread's own
 * cache is tried inline. */
static inline uvotel_span_t *uvotel__pool_pop(uvotel_tracer_provider_t *p, uint32_t shard) {
  uvotel__shard_t *sh = &p->shards[shard];
  if (UVOTEL__LIKELY(shard != 0)) {
    if (UVOTEL__LIKELY(sh->free != 0)) {
      uvotel_span_t *s = uvotel__slot_at(p, sh->free - 1);
      sh->free = atomic_load_explicit(&s->next_free, memory_order_relaxed);
      sh->n_free--;
      return s;
    }
    return uvotel__pool_refill(p, shard);
  }
  return uvotel__pool_pop_shared(p);
}
/* Return a slot whose last reference went: release what it holds, reset it, free it. */
void uvotel__span_recycle(uvotel_span_t *s);
/* Release n span data references (the batch processor's finished batches, on the loop thread):
 * the slots the recycling writes are asked for a few spans ahead, since the export thread read
 * them last on the other core. */
void uvotel__span_release_many(const uvotel_span_data_t *const *d, size_t n);
/* The attribute fast path's bound for s (see attr_room). */
static inline uint32_t uvotel__attrs_room(const uvotel_span_t *s) {
  uint32_t r = s->cap_attrs < UVOTEL__ATTR_LINEAR_MAX ? s->cap_attrs : UVOTEL__ATTR_LINEAR_MAX;
  if (s->provider != NULL && s->provider->limits.attribute_count < r) {
    r = s->provider->limits.attribute_count;
  }
  return r;
}
/* Forget s's attributes (keeps the arrays for the next use of the slot). The index is not
 * cleared: the next span that needs it builds it under a new generation (attributes.c). */
static inline void uvotel__span_attrs_reset(uvotel_span_t *s) {
  s->attr_index_live = 0;
  s->n_attrs = 0;
  s->attr_bloom = 0;
}

static inline void uvotel__span_unref(uvotel_span_t *s) {
  if (s->flags & UVOTEL__SPAN_F_STATIC) return;
  /* Holding the only reference, nobody else can take one (retaining needs a reference), so
   * the common case skips the atomic read-modify-write. */
  if (atomic_load_explicit(&s->refs, memory_order_acquire) == 1 ||
      atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
    uvotel__span_recycle(s);
  }
}

/* The reference a span's end hands over (uvotel_span_end_at): set to the span while its last
 * processor's on_end runs. A processor keeping the span takes that reference with
 * uvotel__span_data_keep instead of retaining one (a locked add) and leaving end to drop the
 * ender's (a locked subtract); the ender then does not touch the span again. Thread-local, so
 * nested ends (an on_end that ends spans) see their own. */
extern UVOTEL__TLS const void *uvotel__end_handoff;
static inline void uvotel__span_data_keep(const uvotel_span_data_t *d) {
  if (UVOTEL__LIKELY(uvotel__end_handoff == (const void *)d)) {
    uvotel__end_handoff = NULL;
    return;
  }
  uvotel_span_retain((uvotel_span_t *)d);
}

/* 1 when s records; otherwise counts misuse where it is misuse and returns 0. */
static inline int uvotel__span_writable(uvotel_span_t *s, const char *what) {
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__misuse(NULL, what);
    return 0;
  }
  unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
  if (UVOTEL__LIKELY(st == UVOTEL__SPAN_OPEN)) return 1;
  if (st != UVOTEL__SPAN_NONREC) uvotel__misuse(s->provider, what);
  return 0;
}

/* ---- attributes and the span arena (attributes.c) ---- */

/* Free the provider's memory now, or when the last span still held elsewhere is released. */
void uvotel__provider_retire(uvotel_tracer_provider_t *p);
/* Run the detectors `names` selects (NULL: OTEL_RESOURCE_DETECTORS, else all) into emit
 * (resource_detect.c). */
void uvotel__resource_detect(const char *names, uvotel_resource_emit_fn emit, void *ctx);
/* 1 when s is the always_off sampler (sampler.c). */
int uvotel__sampler_is_always_off(const uvotel_sampler_t *s);
#define UVOTEL__SAMPLER_ON 1
#define UVOTEL__SAMPLER_PARENT_ON 2
int uvotel__sampler_kind(const uvotel_sampler_t *s);
/* provider_free: stop being the global provider (global.c). */
void uvotel__global_forget(uvotel_tracer_provider_t *p);
void uvotel__provider_release_memory(uvotel_tracer_provider_t *p);
/* size bytes (8-aligned) from s's arena; NULL (and arena_failed) out of memory. The current
 * buffer is tried inline; the rest (kept chunks, a new one) in uvotel__arena_alloc_slow. size > 0
 * (every caller asks for at least one byte). */
void *uvotel__arena_alloc_slow(uvotel_span_t *s, size_t size);
static inline void *uvotel__arena_alloc(uvotel_span_t *s, size_t size) {
  size = (size + 7u) & ~(size_t)7u;
  char *p = s->ar_p;
  if (UVOTEL__LIKELY((size_t)(s->ar_end - p) >= size)) {
    s->ar_p = p + size;
    return p;
  }
  return uvotel__arena_alloc_slow(s, size);
}
/* Copy n bytes: short strings (keys, method names) by overlapping word moves instead of a call. */
static inline void uvotel__copy_small(char *d, const char *src, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a, b;
    memcpy(&a, src, 8);
    memcpy(&b, src + n - 8, 8);
    memcpy(d, &a, 8);
    memcpy(d + n - 8, &b, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    memcpy(&a, src, 4);
    memcpy(&b, src + n - 4, 4);
    memcpy(d, &a, 4);
    memcpy(d + n - 4, &b, 4);
  } else if (n < 4) {
    if (n != 0) { /* 1 to 3 bytes: first, middle, last (overlapping), no loop */
      d[0] = src[0];
      d[n >> 1] = src[n >> 1];
      d[n - 1] = src[n - 1];
    }
  } else {
    memcpy(d, src, n);
  }
}
static inline const char *uvotel__arena_strdup(uvotel_span_t *s, const char *str, size_t len) {
  char *d = (char *)uvotel__arena_alloc(s, len + 1);
  if (UVOTEL__UNLIKELY(d == NULL)) return NULL;
  uvotel__copy_small(d, str, len);
  d[len] = '\0';
  return d;
}
/* Free s's kept chunks (arena0 is the slot's); the arena is then empty. */
void uvotel__arena_free(uvotel_span_t *s);
/* Empty the arena (chunks kept); ar_p back at arena0. */
static inline void uvotel__arena_reset(uvotel_span_t *s) {
  s->ar_p = s->arena0;
  s->ar_end = s->arena0 + UVOTEL__ARENA_INLINE;
  s->arena_cur = NULL;
  s->arena_failed = 0;
}
/* Give s its inline attribute arrays (a slot made by the pool; heap spans of provider.c start
 * without any). */
static inline void uvotel__span_storage_init(uvotel_span_t *s) {
  s->attrs = s->attr_inl;
  s->attr_keys = s->key_inl;
  s->cap_attrs = UVOTEL__ATTR_INLINE;
  uvotel__arena_reset(s);
}
/* Copy attrs into dst (array in s's arena) with limits; returns the count kept. */
int uvotel__copy_attribute(uvotel_span_t *s, uvotel_attribute_t *dst, const uvotel_attribute_t *src,
                           uint32_t value_limit);
int uvotel__attr_valid(const uvotel_attribute_t *a);
/* A valid value nested deeper than UVOTEL_VALUE_MAX_DEPTH: copies drop it. */
int uvotel__value_too_deep(const uvotel_value_t *v);
/* Copy a list of attributes into the arena: later duplicates replace earlier values, at most
 * `limit` distinct keys, the rest counted in *dropped. */
void uvotel__copy_attr_list(uvotel_span_t *s, const uvotel_attribute_t *src, size_t n,
                            uint32_t limit, uint32_t value_limit, const uvotel_attribute_t **out,
                            size_t *n_out, uint32_t *dropped);

/* The calling thread's id generator (wyrand, ids.c): seeded from getrandom(2) on first use and
 * again in a forked child. */
typedef struct uvotel__rng_s {
  uint64_t s;
  int seeded;
} uvotel__rng_t;
extern UVOTEL__TLS uvotel__rng_t uvotel__rng;
void uvotel__rng_seed(void);
static inline uint64_t uvotel__wy_step(uint64_t *s) {
  *s += 0xa0761d6478bd642full;
  __uint128_t m = (__uint128_t)*s * (*s ^ 0xe7037ed1a0b428dbull);
  return (uint64_t)(m >> 64) ^ (uint64_t)m;
}
/* The built-in generator's ids inline (p->idgen == NULL): a span id, and a trace id too when
 * trace_id is not NULL; never all zero. */
static inline void uvotel__rand_ids(uvotel_trace_id_t *trace_id, uvotel_span_id_t *span_id) {
  uvotel__rng_t *r = &uvotel__rng;
  if (UVOTEL__UNLIKELY(!r->seeded)) uvotel__rng_seed();
  uint64_t a, b, c;
  do c = uvotel__wy_step(&r->s);
  while (UVOTEL__UNLIKELY(c == 0));
  memcpy(span_id->bytes, &c, 8);
  if (trace_id == NULL) return;
  do {
    a = uvotel__wy_step(&r->s);
    b = uvotel__wy_step(&r->s);
  } while (UVOTEL__UNLIKELY((a | b) == 0));
  memcpy(trace_id->bytes, &a, 8);
  memcpy(trace_id->bytes + 8, &b, 8);
}

/* Ids. */
void uvotel__gen_trace_id(uvotel_tracer_provider_t *p, uvotel_trace_id_t *out);
void uvotel__gen_span_id(uvotel_tracer_provider_t *p, uvotel_span_id_t *out);
/* A span id, and a trace id too when trace_id is not NULL, from the provider's own id generator
 * (p->idgen set; the built-in generator is uvotel__rand_ids, inline above). */
void uvotel__gen_ids(uvotel_tracer_provider_t *p, uvotel_trace_id_t *trace_id,
                     uvotel_span_id_t *span_id);

/* Monotonic-anchored realtime clock in Unix ns. */
uint64_t uvotel__now_ns(void);
uint64_t uvotel__mono_ms(void);

/* Span ticks (ids.c has the drift rule): uvotel__ticks reads now and the anchor generation the
 * span keeps (0: CLOCK_MONOTONIC ns, else TSC); uvotel__ticks_like reads now in the same unit as
 * a span started with gen; uvotel__ticks_to_unix converts with that anchor. _init takes the
 * process anchor (idempotent; the first provider creation calls it). Thread: any. */
void uvotel__ticks_init(void);
uint64_t uvotel__ticks(uint32_t *gen);
#if defined(__x86_64__)
/* CLOCK_MONOTONIC ns (the unit of generation 0). */
uint64_t uvotel__mono_ticks(void);
static inline uint64_t uvotel__ticks_like(uint32_t gen) {
  return UVOTEL__LIKELY(gen != 0) ? __builtin_ia32_rdtsc() : uvotel__mono_ticks();
}
#else
uint64_t uvotel__ticks_like(uint32_t gen);
#endif
uint64_t uvotel__ticks_to_unix(uint64_t ticks, uint32_t gen);

/* The exporter a provider uses when none is named: "otlp" when any OTEL_EXPORTER_OTLP_*ENDPOINT
 * is set, else "file". */
const char *uvotel__default_exporter(void);

/* Shut down (0 ms, if not yet) and free p; done(arg) (may be NULL) runs exactly once when the
 * processor no longer touches span data: at once, or later from its free_async (the provider
 * keeps the span pool until then). NULL p: done at once. Thread: the processor's free rules. */
void uvotel__span_processor_free_then(uvotel_span_processor_t *p, void (*done)(void *arg),
                                      void *arg);
extern uvotel_span_t uvotel__invalid_span;

/* Load libuvotel_exporters once, when an exporter name is not registered (autoload.c): 1 when
 * it is loaded (its constructor registered its exporters), 0 when not; the error says why. */
int uvotel__exporters_autoload(void);
const char *uvotel__exporters_autoload_error(void);

#endif
