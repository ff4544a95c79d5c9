/* Linked into the uv_redirect.h builds of the preload test programs only: before main(), a
 * provider whose simple processor writes every span to $OTEL_EXPORTER_FILE_PATH as it ends,
 * and automatic spans as the preload sets them up (all categories, roots, a "tcp accept"
 * SERVER span per accepted connection); after main(), shut down. */
#include <stdlib.h>

#include "uvotel.h"
#include "uvotel/exporters/file.h"
#include "uvotel/uv_spans.h"

static uvotel_tracer_provider_t *g_provider;

__attribute__((constructor)) static void spans_on(void) {
  uvotel_file_exporter_options_t fo = {0};
  fo.path = getenv("OTEL_EXPORTER_FILE_PATH");
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_file_exporter_create(&fo));
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &proc;
  po.n_processors = 1;
  g_provider = uvotel_tracer_provider_create(&po);
  if (g_provider == NULL) abort();
  uvotel_tracer_t *tracer = uvotel_tracer_get(g_provider, "redirect-test", NULL);
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = tracer;
  o.categories = UVOTEL_INSTRUMENT_ALL;
  o.flags = UVOTEL_AUTO_SPANS_ROOTS;
  o.on_accept = uvotel_auto_spans_accept_span;
  o.on_accept_arg = tracer;
  if (uvotel_auto_spans_enable(&o) != 0) abort();
}

__attribute__((destructor)) static void spans_off(void) {
  uvotel_auto_spans_disable();
  (void)uvotel_tracer_provider_shutdown(g_provider, 5000);
  uvotel_tracer_provider_free(g_provider);
}
