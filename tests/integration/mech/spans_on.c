/* Linked into the wrapped builds of the mechanism programs (the programs in tests/integration/mech/
 * built with -include uvotel/uv_redirect.h): before main(), what libuvotel_preload.so sets up --
 * automatic spans for everything, root spans too, a SERVER span per accepted connection -- with
 * a simple processor writing each span to $MECH_SPANS as OTLP/JSON lines (the preload's file
 * format), so one reader checks both. No MECH_SPANS: /dev/null. */
#include <stdlib.h>

#include "uvotel.h"
#include "uvotel/uv_spans.h"
#include "uvotel/exporters/file.h"

static uvotel_tracer_provider_t *g_provider;

__attribute__((constructor)) static void spans_on(void) {
  uvotel_file_exporter_options_t fo = UVOTEL_FILE_EXPORTER_OPTIONS_INIT;
  fo.path = getenv("MECH_SPANS") != NULL ? getenv("MECH_SPANS") : "/dev/null";
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_file_exporter_create(&fo));
  if (proc == NULL) abort();
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  g_provider = uvotel_tracer_provider_create(&o);
  if (g_provider == NULL) abort();
  uvotel_tracer_t *tracer = uvotel_tracer_get(g_provider, "mech", "1");
  uvotel_auto_spans_options_t a = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  a.tracer = tracer;
  a.categories = UVOTEL_INSTRUMENT_ALL;
  a.flags = UVOTEL_AUTO_SPANS_ROOTS;
  a.on_accept = uvotel_auto_spans_accept_span;
  a.on_accept_arg = tracer;
  if (uvotel_auto_spans_enable(&a) != 0) abort();
}

__attribute__((destructor)) static void spans_off(void) {
  uvotel_auto_spans_disable();
  (void)uvotel_tracer_provider_shutdown(g_provider, 1000);
  uvotel_tracer_provider_free(g_provider);
}
