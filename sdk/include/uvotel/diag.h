/* uvotel diagnostics: how the SDK, the exporters and the instrumentation report their own
 * problems (a span dropped, an export that failed, a bad configuration value). */
#ifndef UVOTEL_DIAG_H
#define UVOTEL_DIAG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Diagnostics
 * ------------------------------------------------------------------------------------------- */

/* Levels, most severe first. The same enum serves the SDK, the exporters and the
 * instrumentation (the OTLP exporter's older uvotel_otlp_diag_level_t, whose order is reversed,
 * is kept only as a compatibility shim in uvotel/exporters/otlp_http.h). */
typedef enum uvotel_diag_level_e {
  UVOTEL_DIAG_NONE = 0, /* as a maximum level: deliver nothing */
  UVOTEL_DIAG_ERROR = 1,
  UVOTEL_DIAG_WARN = 2,
  UVOTEL_DIAG_INFO = 3,
  UVOTEL_DIAG_DEBUG = 4
} uvotel_diag_level_t;

/* A diagnostics message: `code` is a UVOTEL_E* / libuv code or 0, `msg` a formatted,
 * NUL-terminated message borrowed for the duration of the call. Called on whatever thread hit
 * the problem (loop, pool, exporter thread), so it must be thread-safe and must not call back
 * into tracing. */
typedef void (*uvotel_diag_cb)(uvotel_diag_level_t level, int code, const char *msg, void *arg);

/* Install the process-wide diagnostics callback and the most verbose level delivered (messages
 * above it are not even formatted). cb NULL restores the default: messages go to stderr
 * ("uvotel warn: ...") up to the level named by OTEL_LOG_LEVEL -- none, error, warn, info
 * (the default, as the specification says), debug or all (= debug), case-insensitive. An
 * unknown OTEL_LOG_LEVEL (say "verbose") is warned about once and info is used. With cb NULL
 * max_level is ignored. Thread: any (takes effect for later messages). */
void uvotel_diag_set_handler(uvotel_diag_cb cb, void *arg, uvotel_diag_level_t max_level);

/* The most verbose level currently delivered (UVOTEL_DIAG_NONE: nothing), so a caller can skip
 * expensive preparation of a message nobody will see. Thread: any. */
uvotel_diag_level_t uvotel_diag_max_level(void);

/* Report through the diagnostics callback (printf-style). For exporters and processors written
 * against this header. Thread: any. Alloc: none (formats into a stack buffer, truncating). */
void uvotel_diag(uvotel_diag_level_t level, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Rate limit for a message that can repeat without end (a dead collector, a full queue): one
 * uvotel_diag_limit_t per message key -- usually a static at the call site, or a member of the
 * object the message is about. Initialise it with UVOTEL_DIAG_LIMIT_INIT(interval_ms); its
 * members are private (read and written atomically by uvotel_diag_limited). */
typedef struct uvotel_diag_limit_s {
  uint64_t interval_ms;
  uint64_t next_ms;    /* private: monotonic time before which messages are suppressed */
  uint64_t suppressed; /* private: messages suppressed since the last one delivered */
} uvotel_diag_limit_t;

#define UVOTEL_DIAG_LIMIT_INIT(interval_ms) \
  { (interval_ms), 0, 0 }

/* uvotel_diag, at most once per interval for this key: the first message goes out at once;
 * later ones within the interval are counted, and the next delivered message ends with
 * " (N more suppressed in the last S s)"; each suppressed call is counted exactly once (one that
 * races with the delivered message may be counted in it). Messages above the current maximum
 * level are neither delivered nor counted. Returns 1 when this message was delivered, 0 when it was
 * not. Thread: any (lock-free on the key). Alloc: none. */
int uvotel_diag_limited(uvotel_diag_limit_t *key, uvotel_diag_level_t level, int code,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#ifdef __cplusplus
}
#endif
#endif
