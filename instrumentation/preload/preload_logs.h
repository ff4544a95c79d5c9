/* No-code log capture under libuvotel_preload.so (preload_logs.c): UVOTEL_LOGS=syslog,stderr
 * (or all) turns syslog(3) calls and lines written to file descriptor 2 into OpenTelemetry log
 * records, correlated with the current span. The hooks preload.c calls: */
#ifndef UVOTEL_PRELOAD_LOGS_H
#define UVOTEL_PRELOAD_LOGS_H

#include <uv.h>

#include "uvotel.h"

/* In the preload's setup, before the thread that runs `loop` starts: read UVOTEL_LOGS and, when
 * it asks for anything, make the logger provider (OTEL_LOGS_EXPORTER etc., its batch processors
 * on `loop`, sharing tp's resource). Capture starts when this returns. */
void uvotel__preload_logs_start(uv_loop_t *loop, uvotel_tracer_provider_t *tp);
/* On the export thread at exit, before the tracer provider is shut down: stop capturing and
 * shut the logger provider down (flushing every record). */
void uvotel__preload_logs_stop(void);

#endif
