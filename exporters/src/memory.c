/* The memory exporter: keeps finished spans (by reference) for tests; and the store it and the
 * memory log exporter are. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "exporters_internal.h"
#include "uvotel/exporters/memory.h"

/* ---- the store both memory exporters are (exporters_internal.h) ---- */

int uvotel__mem_init(uvotel__mem_store_t *m, size_t max, int prealloc,
                     const void *(*retain)(const void *), void (*release)(const void *)) {
  memset(m, 0, sizeof *m);
  if (prealloc) {
    m->items = uvotel_calloc(max, sizeof *m->items);
    if (m->items == NULL) return UVOTEL_ENOMEM;
    m->cap = max;
  }
  m->max = max;
  m->retain = retain;
  m->release = release;
  pthread_mutex_init(&m->mu, NULL);
  return 0;
}

int uvotel__mem_export(uvotel__mem_store_t *m, const void *const *items, size_t n) {
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
      const void **ns = uvotel_realloc(m->items, cap * sizeof *ns);
      if (ns == NULL) {
        rc = UVOTEL_ENOMEM;
        break;
      }
      m->items = ns;
      m->cap = cap;
    }
    m->items[m->n++] = m->retain(items[i]);
  }
  pthread_mutex_unlock(&m->mu);
  return rc;
}

/* A size_t member of m, read under its lock. */
static size_t mem_read(const uvotel__mem_store_t *m, const size_t *field) {
  pthread_mutex_t *mu = (pthread_mutex_t *)&m->mu;
  pthread_mutex_lock(mu);
  size_t v = *field;
  pthread_mutex_unlock(mu);
  return v;
}

size_t uvotel__mem_count(const uvotel__mem_store_t *m) {
  return mem_read(m, &m->n);
}
size_t uvotel__mem_calls(const uvotel__mem_store_t *m) {
  return mem_read(m, &m->calls);
}
size_t uvotel__mem_dropped(const uvotel__mem_store_t *m) {
  return mem_read(m, &m->dropped);
}

const void *uvotel__mem_get(const uvotel__mem_store_t *m, size_t i) {
  pthread_mutex_t *mu = (pthread_mutex_t *)&m->mu;
  pthread_mutex_lock(mu);
  const void *d = i < m->n ? m->items[i] : NULL;
  pthread_mutex_unlock(mu);
  return d;
}

void uvotel__mem_fail_next(uvotel__mem_store_t *m, size_t n, int err) {
  pthread_mutex_lock(&m->mu);
  m->fail_n = n;
  m->fail_err = err;
  pthread_mutex_unlock(&m->mu);
}

void uvotel__mem_clear(uvotel__mem_store_t *m, int counts) {
  pthread_mutex_lock(&m->mu);
  for (size_t i = 0; i < m->n; i++) m->release(m->items[i]);
  m->n = 0;
  if (counts) {
    m->dropped = 0;
    m->calls = 0;
  }
  pthread_mutex_unlock(&m->mu);
}

void uvotel__mem_destroy(uvotel__mem_store_t *m) {
  uvotel__mem_clear(m, 0);
  pthread_mutex_destroy(&m->mu);
  uvotel_free(m->items);
}

/* ---- the span memory exporter ---- */

struct uvotel_memory_exporter_s {
  uvotel__mem_store_t st;
  atomic_int refs; /* the handle and each exporter object made from it */
  int shutdown;    /* under st.mu */
};

static const void *span_retain(const void *d) {
  return uvotel_span_data_retain(d);
}
static void span_release(const void *d) {
  uvotel_span_data_release(d);
}

static void mem_unref(uvotel_memory_exporter_t *m) {
  if (atomic_fetch_sub(&m->refs, 1) != 1) return;
  uvotel__mem_destroy(&m->st);
  uvotel_free(m);
}

UVOTEL__API uvotel_memory_exporter_t *uvotel_memory_exporter_create(size_t max_spans) {
  uvotel_memory_exporter_t *m = uvotel_calloc(1, sizeof *m);
  if (m == NULL) return NULL;
  uvotel__mem_init(&m->st, max_spans, 0, span_retain, span_release); /* allocates nothing */
  atomic_init(&m->refs, 1);
  return m;
}

static int mem_export(void *self, const uvotel_span_data_t *const *spans, size_t n,
                      uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_exporter_t *m = self;
  return uvotel__mem_export(&m->st, (const void *const *)spans, n);
}

static int mem_shutdown(void *self, uint64_t timeout_ms) {
  (void)timeout_ms;
  uvotel_memory_exporter_t *m = self;
  pthread_mutex_lock(&m->st.mu);
  m->shutdown = 1;
  pthread_mutex_unlock(&m->st.mu);
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
  return m != NULL ? uvotel__mem_count(&m->st) : 0;
}

UVOTEL__API const uvotel_span_data_t *uvotel_memory_exporter_get(const uvotel_memory_exporter_t *m,
                                                                 size_t i) {
  return m != NULL ? uvotel__mem_get(&m->st, i) : NULL;
}

UVOTEL__API const uvotel_span_data_t *uvotel_memory_exporter_find(const uvotel_memory_exporter_t *m,
                                                                  const char *name) {
  if (m == NULL || name == NULL) return NULL;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  const uvotel_span_data_t *d = NULL;
  pthread_mutex_lock(&mm->st.mu);
  for (size_t i = 0; i < mm->st.n && d == NULL; i++) {
    if (strcmp(uvotel_span_data_name(mm->st.items[i]), name) == 0) d = mm->st.items[i];
  }
  pthread_mutex_unlock(&mm->st.mu);
  return d;
}

UVOTEL__API size_t uvotel_memory_exporter_export_calls(const uvotel_memory_exporter_t *m) {
  return m != NULL ? uvotel__mem_calls(&m->st) : 0;
}

UVOTEL__API size_t uvotel_memory_exporter_dropped(const uvotel_memory_exporter_t *m) {
  return m != NULL ? uvotel__mem_dropped(&m->st) : 0;
}

UVOTEL__API int uvotel_memory_exporter_is_shutdown(const uvotel_memory_exporter_t *m) {
  if (m == NULL) return 0;
  uvotel_memory_exporter_t *mm = (uvotel_memory_exporter_t *)m;
  pthread_mutex_lock(&mm->st.mu);
  int v = mm->shutdown;
  pthread_mutex_unlock(&mm->st.mu);
  return v;
}

UVOTEL__API void uvotel_memory_exporter_fail_next(uvotel_memory_exporter_t *m, size_t n, int err) {
  if (m != NULL) uvotel__mem_fail_next(&m->st, n, err < 0 ? err : UVOTEL_EIO);
}

UVOTEL__API void uvotel_memory_exporter_reset(uvotel_memory_exporter_t *m) {
  if (m != NULL) uvotel__mem_clear(&m->st, 1);
}

UVOTEL__API void uvotel_memory_exporter_free(uvotel_memory_exporter_t *m) {
  if (m != NULL) mem_unref(m);
}
