/* Registration of the log exporters (file, console, otlp) for OTEL_LOGS_EXPORTER. */
#include "exporters_internal.h"
#include "uvotel/exporters/logs.h"

static uvotel_log_exporter_t *make_file(const char *name, void *arg) {
  (void)name, (void)arg;
  return uvotel_file_log_exporter_create(NULL);
}

static uvotel_log_exporter_t *make_console(const char *name, void *arg) {
  (void)name, (void)arg;
  return uvotel_console_log_exporter_create(NULL);
}

static uvotel_log_exporter_t *make_otlp(const char *name, void *arg) {
  (void)name, (void)arg;
  uvotel_log_exporter_t *e = NULL;
  int rc = uvotel_otlp_http_log_exporter_create(NULL, &e);
  if (rc != 0) uvotel_diag(UVOTEL_DIAG_ERROR, rc, "otlp_http logs: cannot create the exporter");
  return e;
}

UVOTEL__API int uvotel_log_exporters_register(void) {
  int rc = uvotel_log_exporter_register("file", make_file, NULL);
  if (rc == 0) rc = uvotel_log_exporter_register("console", make_console, NULL);
  if (rc == 0) rc = uvotel_log_exporter_register("otlp", make_otlp, NULL);
  return rc;
}
