/* uvotel diagnostics: how the SDK, the exporters and the instrumentation report their own
 * problems (a span dropped, an export that failed, a bad configuration value). */
#ifndef UVOTEL_DIAG_H
#define UVOTEL_DIAG_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

typedef enum uvotel_diag_level_e {
  UVOTEL_DIAG_ERROR = 1,
  UVOTEL_DIAG_WARN = 2,
  UVOTEL_DIAG_INFO = 3,
  UVOTEL_DIAG_DEBUG = 4
} uvotel_diag_level_t;

/* A diagnostics message: `code` is a UVOTEL_E* / libuv code or 0, `msg` a formatted,
 * NUL-terminated message borrowed for the duration of the call. Called on whatever thread hit
 * the problem (loop, pool), so it must be thread-safe and must not call back into tracing. */
typedef void (*uvotel_diag_cb)(uvotel_diag_level_t level, int code, const char *msg, void *arg);

/* Install the process-wide diagnostics callback and the most verbose level delivered (messages
 * above it are not even formatted). cb NULL restores the default: nothing is printed, unless the
 * environment variable OTEL_LOG_LEVEL is debug/info/warn/error, in which case messages up to
 * that level go to stderr. Thread: any (takes effect for later messages). */
void uvotel_diag_set_handler(uvotel_diag_cb cb, void *arg, uvotel_diag_level_t max_level);

/* Report through the diagnostics callback (printf-style). For exporters and processors written
 * against this header. Thread: any. Alloc: none (formats into a stack buffer, truncating). */
void uvotel_diag(uvotel_diag_level_t level, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif
#endif
