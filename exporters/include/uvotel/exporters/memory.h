/* The memory exporter: keeps finished spans for tests. */
#ifndef UVOTEL_EXPORTERS_MEMORY_H
#define UVOTEL_EXPORTERS_MEMORY_H

#include <stddef.h>

#include "uvotel/trace_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The store the exporter fills. Reference counted: the application's handle and every exporter
 * made from it hold a reference, so it stays readable after the provider that owned the
 * exporter is freed. All functions are thread-safe (a mutex inside). */
typedef struct uvotel_memory_exporter_s uvotel_memory_exporter_t;

/* Create a store keeping up to max_spans spans (0: unlimited; beyond it new spans are counted
 * in dropped and not kept). NULL when out of memory. Thread: any. */
uvotel_memory_exporter_t *uvotel_memory_exporter_create(size_t max_spans);

/* A new exporter object filling m (takes a reference to m). Hand it to a processor. Export
 * retains each span it keeps (no copy). NULL m: NULL. Thread: any. Alloc: one block. */
uvotel_span_exporter_t *uvotel_memory_exporter_exporter(uvotel_memory_exporter_t *m);

/* Number of spans kept. NULL: 0. */
size_t uvotel_memory_exporter_count(const uvotel_memory_exporter_t *m);

/* Span i in export order, borrowed: valid until reset or free of m. Out of range or NULL m:
 * NULL. */
const uvotel_span_data_t *uvotel_memory_exporter_get(const uvotel_memory_exporter_t *m, size_t i);

/* The first kept span named `name`, borrowed as above; NULL when none. */
const uvotel_span_data_t *uvotel_memory_exporter_find(const uvotel_memory_exporter_t *m,
                                                      const char *name);

/* Export calls received, spans dropped because of max_spans, and whether an exporter made from
 * m was shut down (1) or not (0). NULL: 0. */
size_t uvotel_memory_exporter_export_calls(const uvotel_memory_exporter_t *m);
size_t uvotel_memory_exporter_dropped(const uvotel_memory_exporter_t *m);
int uvotel_memory_exporter_is_shutdown(const uvotel_memory_exporter_t *m);

/* Make the next `n` export calls fail with `err` (a negative code), for failure tests; n = 0
 * stops failing. NULL: no-op. */
void uvotel_memory_exporter_fail_next(uvotel_memory_exporter_t *m, size_t n, int err);

/* Release every kept span and forget them. NULL: no-op. */
void uvotel_memory_exporter_reset(uvotel_memory_exporter_t *m);

/* Drop the application's reference (spans are released when the last reference goes).
 * NULL: no-op. */
void uvotel_memory_exporter_free(uvotel_memory_exporter_t *m);

#ifdef __cplusplus
}
#endif
#endif
