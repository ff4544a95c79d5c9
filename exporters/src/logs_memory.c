/* The memory log exporter: keeps records (retained) for tests; the store of memory.c. */
#include <pthread.h>
#include <string.h>

#include "exporters_internal.h"
#include "uvotel/exporters/logs.h"

struct uvotel_memory_log_exporter_s {
  uvotel__mem_store_t st;
  int handed_out;
};

static const void *log_retain(const void *d) {
  return uvotel_log_data_retain(d);
}
static void log_release(const void *d) {
  uvotel_log_data_release(d);
}

static int mem_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                      uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_log_exporter_t *m = self;
  return uvotel__mem_export(&m->st, (const void *const *)recs, n);
}

/* The exporter object only points at the handle; the handle is freed by its own call. */
static const uvotel_log_exporter_ops_t g_mem_ops = {.export_logs = mem_export};

UVOTEL__API uvotel_memory_log_exporter_t *uvotel_memory_log_exporter_create(size_t max_records) {
  if (max_records == 0) max_records = 65536;
  uvotel_memory_log_exporter_t *m = uvotel_calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  /* room for every record from the start: an export never allocates */
  if (uvotel__mem_init(&m->st, max_records, 1, log_retain, log_release) != 0) {
    uvotel_free(m);
    return NULL;
  }
  return m;
}

UVOTEL__API uvotel_log_exporter_t *uvotel_memory_log_exporter_exporter(
    uvotel_memory_log_exporter_t *m) {
  if (m == NULL || m->handed_out) return NULL;
  m->handed_out = 1;
  return uvotel_log_exporter_create(&g_mem_ops, m);
}

UVOTEL__API size_t uvotel_memory_log_exporter_count(const uvotel_memory_log_exporter_t *m) {
  return m != NULL ? uvotel__mem_count(&m->st) : 0;
}

UVOTEL__API const uvotel_log_data_t *uvotel_memory_log_exporter_get(
    const uvotel_memory_log_exporter_t *m, size_t i) {
  return m != NULL ? uvotel__mem_get(&m->st, i) : NULL;
}

UVOTEL__API size_t uvotel_memory_log_exporter_export_calls(const uvotel_memory_log_exporter_t *m) {
  return m != NULL ? uvotel__mem_calls(&m->st) : 0;
}

UVOTEL__API size_t uvotel_memory_log_exporter_dropped(const uvotel_memory_log_exporter_t *m) {
  return m != NULL ? uvotel__mem_dropped(&m->st) : 0;
}

UVOTEL__API void uvotel_memory_log_exporter_fail_next(uvotel_memory_log_exporter_t *m, size_t n,
                                                      int err) {
  if (m != NULL) uvotel__mem_fail_next(&m->st, n, err != 0 ? err : UVOTEL_EIO);
}

/* Releases the records; the call and drop counts stay (as they always have here). */
UVOTEL__API void uvotel_memory_log_exporter_reset(uvotel_memory_log_exporter_t *m) {
  if (m != NULL) uvotel__mem_clear(&m->st, 0);
}

UVOTEL__API void uvotel_memory_log_exporter_free(uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return;
  uvotel__mem_destroy(&m->st);
  uvotel_free(m);
}
