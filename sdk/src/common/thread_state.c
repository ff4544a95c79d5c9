/* The per-thread block, its registration for thread exit, the per-layer cleanups, the tracking
 * flag and the job-queue drain hook (see thread_state_internal.h). */
#include <pthread.h>

#include "thread_state_internal.h"

UVOTEL__API UVOTEL__TLS uvotel__tls_t uvotel__tls;

UVOTEL__API int uvotel__tracking;

static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;
static void (*g_cleanup[UVOTEL__LAYERS])(uvotel__tls_t *t); /* atomic */
static void (*g_jobs_drain)(void);                          /* atomic */

void uvotel__set_tracking(void) {
  if (!__atomic_load_n(&uvotel__tracking, __ATOMIC_RELAXED)) {
    __atomic_store_n(&uvotel__tracking, 1, __ATOMIC_RELAXED);
  }
}

static void tls_destructor(void *p) {
  uvotel__tls_t *t = p;
  /* Runs on thread exit: the TLS block is still addressable here. */
  if (t == &uvotel__tls) uvotel_thread_cleanup();
}

static void tls_key_create(void) {
  (void)pthread_key_create(&g_tls_key, tls_destructor);
}

void uvotel__tls_register(uvotel__tls_t *t) {
  if (t->cleanup_registered) return;
  pthread_once(&g_tls_once, tls_key_create);
  (void)pthread_setspecific(g_tls_key, t);
  t->cleanup_registered = 1;
}

void uvotel__tls_layer_cleanup(int layer, void (*fn)(uvotel__tls_t *t)) {
  if (layer >= 0 && layer < UVOTEL__LAYERS)
    __atomic_store_n(&g_cleanup[layer], fn, __ATOMIC_RELEASE);
}

void uvotel__tls_jobs_register(void (*drain)(void)) {
  __atomic_store_n(&g_jobs_drain, drain, __ATOMIC_RELEASE);
}

void uvotel__tls_jobs_drain(void) {
  void (*drain)(void) = __atomic_load_n(&g_jobs_drain, __ATOMIC_ACQUIRE);
  if (drain != NULL) drain();
}

UVOTEL__API void uvotel_thread_cleanup(void) {
  uvotel__tls_t *t = &uvotel__tls;
  if (t->hot.in_hook) return; /* a hook's own call: its dispatch still uses the block */
  for (int layer = UVOTEL__LAYERS - 1; layer >= 0; layer--) {
    void (*fn)(uvotel__tls_t *) = __atomic_load_n(&g_cleanup[layer], __ATOMIC_ACQUIRE);
    if (fn != NULL) fn(t);
  }
}
