/* A hook that records every event as a line of text ("init 2 Timeout 1", "before 2",
 * "after 2", "destroy 2", "resolve 2"), and log lines from the test itself, into one buffer, so
 * a test can assert the exact sequence as expected text. */
#ifndef UVOTEL_TEST_TRACE_LOG_H
#define UVOTEL_TEST_TRACE_LOG_H

#include "uvotel.h"

typedef struct trace_log_s {
  char *buf;
  size_t len, cap;
  uvotel_hook_t *hook;
} trace_log_t;

/* Create and enable the recording hook. */
void trace_log_start(trace_log_t *log);
/* Disable and free the hook (the text stays until trace_log_free). */
void trace_log_stop(trace_log_t *log);
void trace_log_free(trace_log_t *log);
/* Append a line (printf-style) from the test. */
void trace_log_line(trace_log_t *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text so far ("" when empty). */
const char *trace_log_text(const trace_log_t *log);
/* want_template with each "%N" (one digit) replaced by base + N, into out (cap bytes): expected
 * texts name ids relative to the first one a test will see. Returns out. */
char *trace_log_expand(const char *want_template, uvotel_async_id_t base, char *out, size_t cap);
/* The async id the next resource of this thread will get (ids are per-thread sequential): a
 * probe resource made with the log's hook disabled, so it is not in the text. */
uvotel_async_id_t trace_log_next_id(trace_log_t *log);

#endif
