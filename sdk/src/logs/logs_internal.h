/* Private declarations shared by the logs sources. */
#ifndef UVOTEL_LOGS_INTERNAL_H
#define UVOTEL_LOGS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../trace/trace_internal.h"

#include "uvotel/logs.h"
#include "uvotel/logs_sdk.h"

/* ---- records ---- */

/* Storage for strings beyond a record's inline buffer: kept across reuse. */
typedef struct uvotel__log_chunk_s {
  struct uvotel__log_chunk_s *next;
  size_t cap;
  _Alignas(8) char data[];
} uvotel__log_chunk_t;

#define UVOTEL__LOG_INLINE 384
#define UVOTEL__LOG_INLINE_ATTRS 8
#define UVOTEL__LOG_CHUNK_SHIFT 8
#define UVOTEL__LOG_CHUNK (1u << UVOTEL__LOG_CHUNK_SHIFT)

typedef struct uvotel__log_rec_s {
  uvotel_log_data_t d; /* first: the public view is the record */
  atomic_uint refs;
  atomic_uint next_free; /* pool stack link: index + 1, 0 = end */
  uint32_t index;
  uvotel_logger_provider_t *p;
  /* attributes: the inline array, or a larger one kept across reuse */
  uvotel_attribute_t *attrs;
  uint32_t cap_attrs;
  /* string arena: the inline buffer, then kept chunks */
  char *cur;
  size_t cur_cap, cur_used;
  uvotel__log_chunk_t *chunks;    /* kept list */
  uvotel__log_chunk_t *cur_chunk; /* NULL while in the inline buffer */
  uvotel_attribute_t inl_attrs[UVOTEL__LOG_INLINE_ATTRS];
  _Alignas(8) char inl[UVOTEL__LOG_INLINE];
} uvotel__log_rec_t;

struct uvotel_logger_s {
  uvotel_logger_provider_t *p;
  uvotel_instrumentation_scope_t scope;
  struct uvotel_logger_s *next;
};

/* The shared exporter object (../pipeline/exporter_internal.h), its only member: a log
 * exporter pointer converts to and from a uvotel__exp_t pointer. */
struct uvotel_log_exporter_s {
  uvotel__exp_t x;
};

struct uvotel_log_processor_s {
  const uvotel_log_processor_ops_t *ops;
  void *self;
  int shut;
};

struct uvotel_logger_provider_s {
  const uvotel_trace_resource_t *resource;
  uvotel_tracer_provider_t *res_owner; /* internal provider holding our resource, or NULL */
  uvotel_log_limits_t limits;
  uvotel_log_processor_t **procs;
  size_t n_procs;
  atomic_int shut;
  int freed;
  /* loggers */
  pthread_mutex_t mu;
  uvotel_logger_t *loggers;
  /* record pool */
  uint32_t max_records;
  uint32_t n_chunks_max;
  atomic_uint n_chunks;
  uvotel__log_rec_t *_Atomic *chunks;
  atomic_uint_fast64_t free_head; /* (tag << 32) | (index + 1) */
  /* After free: slots still referenced (marked UVOTEL__LOG_ZOMBIE) + 1; the memory goes when
   * it reaches 0. */
  atomic_uint_fast64_t zombie;
  /* counters; emitted per thread shard (no locked instruction per record) */
  struct {
    _Alignas(64) atomic_uint_fast64_t n;
  } emitted[UVOTEL__SHARDS];
  atomic_uint_fast64_t pool_exhausted, after_shutdown, misuse;
};

/* Set in a slot's reference count when its provider was freed while the slot was held: the
 * last release then counts the provider's zombie down instead of returning the slot. */
#define UVOTEL__LOG_ZOMBIE 0x80000000u

/* Record pool (record.c). */
void uvotel__log_pool_free(uvotel_logger_provider_t *p);
/* After the processors are freed: free the memory now, or mark the slots still held and let
 * their last release free it. */
void uvotel__log_provider_retire(uvotel_logger_provider_t *p);
void uvotel__log_provider_free_memory(uvotel_logger_provider_t *p);
/* Release n records with one push of the slots that reach zero (the batch processor's
 * completions). */
void uvotel__log_release_many(const uvotel_log_data_t *const *recs, size_t n);
void uvotel__log_misuse(uvotel_logger_provider_t *p, const char *what);

/* Processors (processor.c): is p the built-in batch processor; hand it a record together with
 * the caller's reference (saves a retain/release pair per record when it is the last
 * processor). */
int uvotel__log_is_batch(const uvotel_log_processor_t *p);
void uvotel__log_batch_adopt(uvotel_log_processor_t *p, const uvotel_log_data_t *d);

#endif
