/* uvotel tracing: OpenTelemetry-style tracer provider, tracers, spans, samplers, processors and
 * exporters. The current span is an async-context variable, so it follows every instrumented
 * callback.
 *
 * This first part fixes the span-context types that propagation (uvotel/propagation.h) and
 * exporters share. */
#ifndef UVOTEL_TRACE_H
#define UVOTEL_TRACE_H

#include <stdint.h>

#include "uvotel/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvotel_trace_id_s {
  uint8_t bytes[16];
} uvotel_trace_id_t;

typedef struct uvotel_span_id_s {
  uint8_t bytes[8];
} uvotel_span_id_t;

/* W3C trace flags. */
#define UVOTEL_TRACE_FLAG_SAMPLED 0x01u
#define UVOTEL_TRACE_FLAG_RANDOM 0x02u /* W3C Trace Context Level 2 */

/* W3C tracestate: an immutable, reference-counted list of key=value members (see
 * uvotel/propagation.h for parsing, building and serialising it). */
typedef struct uvotel_trace_state_s uvotel_trace_state_t;

/* A span context. Valid when neither id is all zero. `trace_state` is borrowed from whatever
 * handed the context out (a span, or the result of an extract) and may be NULL. */
typedef struct uvotel_span_context_s {
  uvotel_trace_id_t trace_id;
  uvotel_span_id_t span_id;
  uint8_t flags;
  uint8_t is_remote;
  const uvotel_trace_state_t *trace_state;
} uvotel_span_context_t;

#ifdef __cplusplus
}
#endif
#endif
