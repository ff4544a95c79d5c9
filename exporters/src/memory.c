/* The memory exporter: keeps finished spans (by reference) for tests. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "exporters_internal.h"
#include "uvotel/exporters/memory.h"

struct uvotel_memory_exporter_s {
  atomic_int refs;
  pthread_mutex_t mu;
  const uvotel_span_data_t **spans;
  size_t n, cap, max;
  size_t calls, dropped;
  size_t fail_n;
  int fail_err;
  int shutdown;
};

static void mem_unref(uvotel_memory_exporter_t *m) {
  if (atomic_fetch_sub(&m->refs, 1) != 1) return;
  for (size_t i = 0; i < m->n; i++) uvotel_span_data_release(m->spans[i]);
  uvotel_free(m->spans);
  pthread_mutex_destroy(&m->mu);
  uvotel_free(m);
}

UVOTEL__API uvotel_memory_exporter_t *uvotel_memory_exporter_create(size_t max_spans) {
  uvotel_memory_exporter_t *m = uvotel_calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  atomic_init(&m->refs, 1);
  pthread_mutex_init(&m->mu, NULL);
  m->max = max_spans;
  return m;
}

static int mem_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_exporter_t *m = self;
  pthread_mutex_lock(&m->mu);
  m->calls++;
  if (m->fail_n > 0) {
    m->fail_n--;
    int err = m->fail_err;
    pthread_mutex_unlock(&m->mu);
    return err;
  }
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (m->max != 0 && m->n >= m->max) {
      m->dropped++;
      continue;
    }
    if (m->n == m->cap) {
      size_t cap = m->cap ? m->cap * 2 : 64;
      const uvotel_span_data_t **ns = uvotel_realloc(m->spans, cap * sizeof *ns);
      if (ns == NULL) {
        rc = UVOTEL_ENOMEM;
        break;
      }
      m->spans = ns;
      m->cap = cap;
    }
    m->spans[m->n++] = uvotel_span_data_retain(spans[i]);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

static int mem_shutdown(void *self, uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_exporter_t *m = self;
  pthread_mutex_lock(&m->mu);
  m->shutdown = 1;
  pthread_mutex_unlock(&m->mu);
  return 0;
}

static void mem_free(void *self) {
  mem_unref(self);
}

static const uvotel_span_exporter_ops_t g_mem_ops = {.export_spans = mem_export,
                                                     .shutdown = mem_shutdown,
                                                     .free = mem_free,
                                                     .flags = UVOTEL_EXPORTER_CONCURRENT};

UVOTEL__API uvotel_span_exporter_t *uvotel_memory_exporter_exporter(uvotel_memory_exporter_t *m) {
  if (m == NULL) return NULL;
  atomic_fetch_add(&m->refs, 1);
  return uvotel_span_exporter_create(&g_mem_ops, m);
}

UVOTEL__API size_t uvotel_memory_exporter_count(const uvotel_memory_exporter_t *m) {
  if (m == NULL) return 0;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  pthread_mutex_lock(&mm->mu);
  size_t n = mm->n;
  pthread_mutex_unlock(&mm->mu);
  return n;
}

UVOTEL__API const uvotel_span_data_t *uvotel_memory_exporter_get(const uvotel_memory_exporter_t *m,
                                                                 size_t i) {
  if (m == NULL) return NULL;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  pthread_mutex_lock(&mm->mu);
  const uvotel_span_data_t *d = i < mm->n ? mm->spans[i] : NULL;
  pthread_mutex_unlock(&mm->mu);
  return d;
}

UVOTEL__API const uvotel_span_data_t *uvotel_memory_exporter_find(const uvotel_memory_exporter_t *m,
                                                                  const char *name) {
  if (m == NULL || name == NULL) return NULL;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  const uvotel_span_data_t *d = NULL;
  pthread_mutex_lock(&mm->mu);
  for (size_t i = 0; i < mm->n && d == NULL; i++) {
    if (strcmp(uvotel_span_data_name(mm->spans[i]), name) == 0) d = mm->spans[i];
  }
  pthread_mutex_unlock(&mm->mu);
  return d;
}

#define MEM_GETTER(fn, field)                                     \
  UVOTEL__API size_t fn(const uvotel_memory_exporter_t *m) {      \
    if (m == NULL) return 0;                                      \
    uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m; \
    pthread_mutex_lock(&mm->mu);                                  \
    size_t v = (size_t)mm->field;                                 \
    pthread_mutex_unlock(&mm->mu);                                \
    return v;                                                     \
  }
MEM_GETTER(uvotel_memory_exporter_export_calls, calls)
MEM_GETTER(uvotel_memory_exporter_dropped, dropped)

UVOTEL__API int uvotel_memory_exporter_is_shutdown(const uvotel_memory_exporter_t *m) {
  if (m == NULL) return 0;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  pthread_mutex_lock(&mm->mu);
  int v = mm->shutdown;
  pthread_mutex_unlock(&mm->mu);
  return v;
}

UVOTEL__API void uvotel_memory_exporter_fail_next(uvotel_memory_exporter_t *m, size_t n, int err) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->mu);
  m->fail_n = n;
  m->fail_err = err < 0 ? err : UVOTEL_EIO;
  pthread_mutex_unlock(&m->mu);
}

UVOTEL__API void uvotel_memory_exporter_reset(uvotel_memory_exporter_t *m) {
  if (m == NULL) return;
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < m->n; i++) uvotel_span_data_release(m->spans[i]);
  m->n = 0;
  m->dropped = 0;
  m->calls = 0;
  pthread_mutex_unlock(&m->mu);
}

UVOTEL__API void uvotel_memory_exporter_free(uvotel_memory_exporter_t *m) {
  if (m != NULL) mem_unref(m);
}
