/* The global tracer provider (the OpenTelemetry API's "global TracerProvider"): one pointer,
 * set by the application (or the preload) and read by libraries that instrument themselves
 * without being handed a provider. Until one is set it is a no-op provider: every span it starts
 * is non-recording and nothing is exported. */
#include <pthread.h>

#include "trace_internal.h"

static uvotel_tracer_provider_t *_Atomic g_global;
static uvotel_tracer_provider_t *g_noop;
static pthread_once_t g_noop_once = PTHREAD_ONCE_INIT;

static void noop_create(void) {
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.sampler = uvotel_sampler_always_off();
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER | UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE |
            UVOTEL_PROVIDER_NO_ENV_RESOURCE;
  g_noop = uvotel_tracer_provider_create(&o);
}

UVOTEL__API int uvotel_tracer_provider_set_global(uvotel_tracer_provider_t *p) {
  atomic_store_explicit(&g_global, p, memory_order_release);
  return 0;
}

UVOTEL__API uvotel_tracer_provider_t *uvotel_tracer_provider_global(void) {
  uvotel_tracer_provider_t *p = atomic_load_explicit(&g_global, memory_order_acquire);
  if (p != NULL) return p;
  pthread_once(&g_noop_once, noop_create);
  return g_noop;
}

UVOTEL__API uvotel_tracer_t *uvotel_global_tracer(const char *scope_name, const char *version) {
  return uvotel_tracer_get(uvotel_tracer_provider_global(), scope_name, version);
}

UVOTEL__API int uvotel_tracer_provider_is_noop(const uvotel_tracer_provider_t *p) {
  return p != NULL && p == g_noop;
}

void uvotel__global_forget(uvotel_tracer_provider_t *p) {
  uvotel_tracer_provider_t *expected = p;
  atomic_compare_exchange_strong(&g_global, &expected, NULL);
}
