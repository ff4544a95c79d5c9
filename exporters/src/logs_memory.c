/* The memory log exporter: keeps records (retained) for tests. */
#include <pthread.h>
#include <string.h>

#include "exporters_internal.h"
#include "uvotel/exporters/logs.h"

struct uvotel_memory_log_exporter_s {
  pthread_mutex_t mu;
  const uvotel_log_data_t **recs;
  size_t n, max;
  size_t calls, dropped;
  size_t fail_n;
  int fail_err;
  int handed_out;
};

static int mem_export(void *self, const uvotel_log_data_t *const *recs, size_t n,
                      uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_log_exporter_t *m = self;
  pthread_mutex_lock(&m->mu);
  m->calls++;
  if (m->fail_n > 0) {
    m->fail_n--;
    int err = m->fail_err;
    pthread_mutex_unlock(&m->mu);
    return err;
  }
  for (size_t i = 0; i < n; i++) {
    if (m->n >= m->max) {
      m->dropped++;
      continue;
    }
    m->recs[m->n++] = uvotel_log_data_retain(recs[i]);
  }
  pthread_mutex_unlock(&m->mu);
  return 0;
}

/* The exporter object only points at the handle; the handle is freed by its own call. */
static const uvotel_log_exporter_ops_t g_mem_ops = {.export_logs = mem_export};

UVOTEL__API uvotel_memory_log_exporter_t *uvotel_memory_log_exporter_create(size_t max_records) {
  if (max_records == 0) max_records = 65536;
  uvotel_memory_log_exporter_t *m = uvotel_calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  m->recs = uvotel_calloc(max_records, sizeof *m->recs);
  if (m->recs == NULL) {
    uvotel_free(m);
    return NULL;
  }
  m->max = max_records;
  pthread_mutex_init(&m->mu, NULL);
  return m;
}

UVOTEL__API uvotel_log_exporter_t *uvotel_memory_log_exporter_exporter(
    uvotel_memory_log_exporter_t *m) {
  if (m == NULL || m->handed_out) return NULL;
  m->handed_out = 1;
  return uvotel_log_exporter_create(&g_mem_ops, m);
}

UVOTEL__API size_t uvotel_memory_log_exporter_count(const uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&m->mu);
  size_t n = m->n;
  pthread_mutex_unlock((pthread_mutex_t *)&m->mu);
  return n;
}

UVOTEL__API const uvotel_log_data_t *uvotel_memory_log_exporter_get(
    const uvotel_memory_log_exporter_t *m, size_t i) {
  if (m == NULL) return NULL;
  pthread_mutex_lock((pthread_mutex_t *)&m->mu);
  const uvotel_log_data_t *d = i < m->n ? m->recs[i] : NULL;
  pthread_mutex_unlock((pthread_mutex_t *)&m->mu);
  return d;
}

UVOTEL__API size_t uvotel_memory_log_exporter_export_calls(const uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&m->mu);
  size_t n = m->calls;
  pthread_mutex_unlock((pthread_mutex_t *)&m->mu);
  return n;
}

UVOTEL__API size_t uvotel_memory_log_exporter_dropped(const uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return 0;
  pthread_mutex_lock((pthread_mutex_t *)&m->mu);
  size_t n = m->dropped;
  pthread_mutex_unlock((pthread_mutex_t *)&m->mu);
  return n;
}

UVOTEL__API void uvotel_memory_log_exporter_fail_next(uvotel_memory_log_exporter_t *m, size_t n,
                                                      int err) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->mu);
  m->fail_n = n;
  m->fail_err = err != 0 ? err : UVOTEL_EIO;
  pthread_mutex_unlock(&m->mu);
}

UVOTEL__API void uvotel_memory_log_exporter_reset(uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < m->n; i++) uvotel_log_data_release(m->recs[i]);
  m->n = 0;
  pthread_mutex_unlock(&m->mu);
}

UVOTEL__API void uvotel_memory_log_exporter_free(uvotel_memory_log_exporter_t *m) {
  if (m == NULL) return;
  uvotel_memory_log_exporter_reset(m);
  pthread_mutex_destroy(&m->mu);
  uvotel_free(m->recs);
  uvotel_free(m);
}
