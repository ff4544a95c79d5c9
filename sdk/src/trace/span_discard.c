/* Discarding a span that turned out to be noise (the instrumentation library's `tcp accept` span
 * of a connection a protocol detector followed): it ends without ever becoming a span. */
#include "trace_internal.h"

UVOTEL__API int uvotel__span_has_children(const uvotel_span_t *s) {
  return s != NULL && atomic_load_explicit(&s->has_children, memory_order_relaxed) != 0;
}

/* The start of s is taken back from the calling thread's shard (counters are per thread; only
 * the sum over shards means anything), as uvotel__count adds it. */
static void uncount_start(uvotel_tracer_provider_t *p) {
  uint32_t shard = uvotel__shard();
  uvotel__count_add(&p->shards[shard].started, shard, (uint_fast64_t)-1);
}

UVOTEL__API int uvotel__span_discard(uvotel_span_t *s) {
  if (s == NULL || (s->flags & UVOTEL__SPAN_F_STATIC)) return 0;
  unsigned st = atomic_load_explicit(&s->state, memory_order_relaxed);
  if (st != UVOTEL__SPAN_OPEN) {
    uvotel_span_end(s); /* non-recording: as an end; ended: the same misuse */
    return 0;
  }
  uvotel_tracer_provider_t *p = s->provider;
  if (p->any_on_start) {
    uvotel_span_end(s); /* a processor saw it start: it sees it end */
    return 0;
  }
  atomic_store_explicit(&s->state, UVOTEL__SPAN_NONREC_ENDED, memory_order_release);
  uncount_start(p);
  uvotel__span_unref(s);
  return 1;
}
