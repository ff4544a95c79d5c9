/* Private declarations shared by the tracing sources. */
#ifndef UVOTEL_TRACE_INTERNAL_H
#define UVOTEL_TRACE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../internal.h"

#include "uvotel/propagation.h"

/* ---- spans ---- */

enum {
  UVOTEL__SPAN_FREE = 0,
  UVOTEL__SPAN_OPEN = 1,   /* recording */
  UVOTEL__SPAN_ENDED = 2,  /* finished, data immutable */
  UVOTEL__SPAN_NONREC = 3, /* non-recording, started */
  UVOTEL__SPAN_NONREC_ENDED = 4
};

#define UVOTEL__SPAN_F_STATIC 0x1u /* static object: references are not counted */
#define UVOTEL__SPAN_F_HEAP 0x2u   /* wrap_context: own block, freed at the last release */

typedef struct uvotel__chunk_s {
  struct uvotel__chunk_s *next;
  size_t cap;
  size_t used;
  _Alignas(8) char data[];
} uvotel__chunk_t;

struct uvotel_span_s {
  atomic_uint refs;
  atomic_uint state;
  atomic_uint next_free; /* pool stack link: index + 1, 0 = end */
  uint32_t index;
  uint32_t flags;
  uvotel_span_kind_t kind;
  uvotel_tracer_provider_t *provider;
  uvotel_tracer_t *tracer;
  uvotel_span_context_t ctx;
  uvotel_span_id_t parent_id;
  uint8_t parent_remote;
  uint8_t status_final;
  uvotel_status_code_t status;
  const char *status_desc;
  const char *name;
  uint64_t start_ns, end_ns;
  /* attributes: growable array kept across reuse */
  uvotel_attribute_t *attrs;
  uint32_t n_attrs, cap_attrs, dropped_attrs;
  uvotel_event_t *events;
  uint32_t n_events, cap_events, dropped_events;
  uvotel_link_t *links;
  uint32_t n_links, cap_links, dropped_links;
  /* string/array arena: chunks kept across reuse */
  uvotel__chunk_t *arena_first, *arena_cur;
  int arena_failed;
};

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

struct uvotel_span_exporter_s {
  const uvotel_span_exporter_ops_t *ops;
  void *self;
  unsigned flags;
  atomic_int shut;
  pthread_mutex_t mu;
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
} uvotel__shard_t;

uint32_t uvotel__shard_assign(void);
extern UVOTEL__TLS uint32_t uvotel__shard_id;
static inline uint32_t uvotel__shard(void) {
  uint32_t i = uvotel__shard_id;
  return UVOTEL__LIKELY(i != 0) ? (i < UVOTEL__SHARDS ? i : 0) : uvotel__shard_assign();
}
static inline void uvotel__count(atomic_uint_fast64_t *c, uint32_t shard) {
  if (UVOTEL__LIKELY(shard != 0)) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
  }
}

struct uvotel_tracer_provider_s {
  uvotel__shard_t shards[UVOTEL__SHARDS];
  uvotel_trace_resource_t resource;
  uvotel_span_limits_t limits;
  uvotel_sampler_t *sampler;
  uvotel_span_processor_t **procs;
  size_t n_procs;
  atomic_size_t pending_frees; /* during free: batch processors still closing, plus one */
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
};

/* Misuse (NULL span, ended span, twice): counted on the provider when known, and reported. */
void uvotel__misuse(uvotel_tracer_provider_t *p, const char *what);

/* Pool and arena helpers used by provider.c. */
void uvotel__span_pool_free(uvotel_tracer_provider_t *p);
/* Free the provider's memory now, or when the last span still held elsewhere is released. */
void uvotel__provider_retire(uvotel_tracer_provider_t *p);
/* Run the detectors `names` selects (NULL: OTEL_RESOURCE_DETECTORS, else all) into emit
 * (resource_detect.c). */
void uvotel__resource_detect(const char *names, uvotel_resource_emit_fn emit, void *ctx);
/* 1 when s is the always_off sampler (sampler.c). */
int uvotel__sampler_is_always_off(const uvotel_sampler_t *s);
/* provider_free: stop being the global provider (global.c). */
void uvotel__global_forget(uvotel_tracer_provider_t *p);
void uvotel__provider_release_memory(uvotel_tracer_provider_t *p);
void *uvotel__arena_alloc(uvotel_span_t *s, size_t size);
const char *uvotel__arena_strdup(uvotel_span_t *s, const char *str, size_t len);
void uvotel__arena_free(uvotel_span_t *s);
/* Copy attrs into dst (array in s's arena) with limits; returns the count kept. */
int uvotel__copy_attribute(uvotel_span_t *s, uvotel_attribute_t *dst, const uvotel_attribute_t *src,
                           uint32_t value_limit);
int uvotel__attr_valid(const uvotel_attribute_t *a);

/* Ids. */
void uvotel__gen_trace_id(uvotel_tracer_provider_t *p, uvotel_trace_id_t *out);
void uvotel__gen_span_id(uvotel_tracer_provider_t *p, uvotel_span_id_t *out);

/* Monotonic-anchored realtime clock in Unix ns. */
uint64_t uvotel__now_ns(void);
uint64_t uvotel__mono_ms(void);

/* The exporter a provider uses when none is named: "otlp" when any OTEL_EXPORTER_OTLP_*ENDPOINT
 * is set, else "file". */
const char *uvotel__default_exporter(void);

/* Processor internals used by the provider. */
int uvotel__is_batch(const uvotel_span_processor_t *p);
void uvotel__batch_on_freed(uvotel_span_processor_t *p, void (*cb)(void *arg), void *arg);
extern uvotel_span_t uvotel__invalid_span;

/* Load libuvotel_exporters once, when an exporter name is not registered (autoload.c): 1 when
 * it is loaded (its constructor registered its exporters), 0 when not; the error says why. */
int uvotel__exporters_autoload(void);
const char *uvotel__exporters_autoload_error(void);

#endif
