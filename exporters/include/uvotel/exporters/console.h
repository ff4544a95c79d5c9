/* The console exporter: one readable block per span, for people. */
#ifndef UVOTEL_EXPORTERS_CONSOLE_H
#define UVOTEL_EXPORTERS_CONSOLE_H

#include <stdio.h>

#include "uvotel/trace_sdk.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct uvotel_console_exporter_options_s {
  FILE *stream; /* NULL: stdout. Borrowed; not closed. */
} uvotel_console_exporter_options_t;

#define UVOTEL_CONSOLE_EXPORTER_OPTIONS_INIT \
  { NULL }

/* An exporter printing, for each span, a block like
 *
 *   span "GET /users" SERVER 1.234 ms
 *     trace_id 4bf92f3577b34da6a3ce929d0e0e4736  span_id 00f067aa0ba902b7
 *     parent   53995c3f42cd8ad8 (remote)
 *     start    2026-11-22T03:04:05.123456789Z
 *     attr     http.method = "GET"
 *     event    +0.120 ms "cache miss" {key = "u:1"}
 *     link     <trace_id>/<span_id> {..}
 *     status   ERROR "boom"
 *     scope    my.lib 1.0
 *
 * (the tracestate line appears when the propagation library provides a serialiser), written
 * with one fwrite per batch. NULL opts: defaults. NULL only when out of memory.
 * Thread: any. */
uvotel_span_exporter_t *uvotel_console_exporter_create(
    const uvotel_console_exporter_options_t *opts);

/* Format one span's block into buf (NUL-terminated, truncated to cap). Returns the length the
 * whole block needs (like snprintf), or UVOTEL_EINVAL for NULL d or NULL buf with cap > 0.
 * Thread: any. Alloc: none. */
int uvotel_console_format_span(const uvotel_span_data_t *d, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
