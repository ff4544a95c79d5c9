/* Registration of the exporters (file, console, otlp) with the SDK's factory registry. */
#include "exporters_internal.h"
#include "uvotel/exporters/console.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/logs.h"
#include "uvotel/exporters/otlp_http.h"

static uvotel_span_exporter_t *make_file(const char *name, void *arg) {
  (void)name, (void)arg;
  return uvotel_file_exporter_create(NULL);
}

static uvotel_span_exporter_t *make_console(const char *name, void *arg) {
  (void)name, (void)arg;
  return uvotel_console_exporter_create(NULL);
}

UVOTEL__API int uvotel_exporters_register(void) {
  int rc = uvotel_span_exporter_register("file", make_file, NULL);
  if (rc == 0) rc = uvotel_span_exporter_register("console", make_console, NULL);
  if (rc == 0) rc = uvotel_otlp_http_exporter_register();
  if (rc == 0) rc = uvotel_log_exporters_register();
  return rc;
}

/* Registration allocates nothing, so it is safe before the application swaps the allocator. */
__attribute__((constructor)) static void register_at_load(void) {
  uvotel_exporters_register();
}
