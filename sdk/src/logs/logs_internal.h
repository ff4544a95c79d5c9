/* Private declarations shared by the logs sources. */
#ifndef UVOTEL_LOGS_INTERNAL_H
#define UVOTEL_LOGS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "../internal.h"

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

struct uvotel_log_exporter_s {
  const uvotel_log_exporter_ops_t *ops;
  void *self;
  unsigned flags;
  atomic_int shut;
  pthread_mutex_t mu;
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
  /* 1 for the provider + 1 per record out of the pool: the memory goes when it reaches 0 */
  atomic_uint_fast64_t live;
  /* counters */
  atomic_uint_fast64_t emitted, pool_exhausted, after_shutdown, misuse;
};

/* Record pool (record.c). */
void uvotel__log_pool_free(uvotel_logger_provider_t *p);
void uvotel__log_provider_release(uvotel_logger_provider_t *p);
void uvotel__log_provider_free_memory(uvotel_logger_provider_t *p);
void uvotel__log_misuse(uvotel_logger_provider_t *p, const char *what);

/* Processors (processor.c): the batch processor's counters without a processor object. */
int uvotel__log_is_batch(const uvotel_log_processor_t *p);

/* Shared helpers of the tracing sources (sdk/src/trace/ids.c). */
uint64_t uvotel__now_ns(void);
uint64_t uvotel__mono_ms(void);

#endif
