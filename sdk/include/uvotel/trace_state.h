/* uvotel tracestate: the W3C Trace Context tracestate list a span context carries
 * (uvotel_span_context_t.trace_state). Immutable, reference counted (atomically, so it may cross
 * threads with the span that holds it). NULL is the empty list everywhere. Parsing follows W3C
 * Trace Context Level 2; the propagators (uvotel/propagation.h) read and write it as the
 * `tracestate` header. */
#ifndef UVOTEL_TRACE_STATE_H
#define UVOTEL_TRACE_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed string slice (not necessarily NUL-terminated). */
typedef struct uvotel_str_s {
  const char *ptr;
  size_t len;
} uvotel_str_t;

/* ---------------------------------------------------------------------------------------------
 * tracestate
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_TRACE_STATE_MAX_MEMBERS 32
#define UVOTEL_TRACE_STATE_MAX_KEY 256
#define UVOTEL_TRACE_STATE_MAX_VALUE 256

/* Parse a tracestate header made of one or more header lines (combined in order, as RFC 7230
 * combines repeated fields). Grammar (W3C Trace Context Level 2): members separated by ",", each
 * surrounded by optional whitespace (SP/HTAB); empty and whitespace-only members are skipped;
 * key = (a-z / 0-9) then up to 255 of a-z 0-9 _ - * / @ ("@" is an ordinary key character, so
 * multi-tenant keys "tenant@system" are plain keys); value = 1-256 printable ASCII characters
 * except "," and "=", not ending in a space (leading spaces are kept).
 * Any invalid member, or more than 32 members, rejects the whole header: UVOTEL_EPARSE (bad
 * member) or UVOTEL_ERANGE (too many), *out = NULL. A key repeated in the header keeps its first
 * occurrence (the W3C test suite requires the header to survive; see flags for strict mode).
 * An empty result (no members) is *out = NULL and returns 0. Otherwise *out is a new reference.
 * NULL lines with n > 0, or NULL out: UVOTEL_EINVAL. Thread: any. Alloc: one block. */
#define UVOTEL_TRACE_STATE_STRICT 0x1u /* duplicate keys reject the header (UVOTEL_EPARSE) */
int uvotel_trace_state_parse_lines(const uvotel_str_t *lines, size_t n, unsigned flags,
                                   uvotel_trace_state_t **out);

/* One header line of `len` bytes (NUL not required). Same rules as above. */
int uvotel_trace_state_parse(const char *s, size_t len, uvotel_trace_state_t **out);

/* Take a reference (returns ts; NULL stays NULL). Thread: any (atomic). */
uvotel_trace_state_t *uvotel_trace_state_retain(const uvotel_trace_state_t *ts);

/* Drop a reference; the last one frees. NULL is a no-op. Thread: any (atomic). */
void uvotel_trace_state_release(const uvotel_trace_state_t *ts);

/* Number of members (0 for NULL). Thread: any. */
size_t uvotel_trace_state_count(const uvotel_trace_state_t *ts);

/* Member i (0 = leftmost) into key/value slices borrowed from ts. Out of range or NULL ts:
 * UVOTEL_ENOENT; NULL key or value: UVOTEL_EINVAL. Thread: any. */
int uvotel_trace_state_at(const uvotel_trace_state_t *ts, size_t i, uvotel_str_t *key,
                          uvotel_str_t *value);

/* The value of `key` (NUL-terminated), borrowed from ts and NUL-terminated, or NULL when absent
 * (or ts/key NULL). *len (may be NULL) gets its length. Thread: any. Alloc: none. */
const char *uvotel_trace_state_get(const uvotel_trace_state_t *ts, const char *key, size_t *len);

/* A new list with key=value added or updated and moved to the front (W3C rule). When a new key
 * would make 33 members, the rightmost member is dropped. ts is not changed (NULL = empty).
 * Invalid key or value: UVOTEL_EPARSE; NULL key/value/out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM.
 * On success *out is a new reference. Thread: any. Alloc: one block. */
int uvotel_trace_state_set(const uvotel_trace_state_t *ts, const char *key, const char *value,
                           uvotel_trace_state_t **out);

/* A new list without key (*out = NULL if that leaves it empty). Absent key: UVOTEL_ENOENT and
 * *out = a new reference to ts. NULL key/out: UVOTEL_EINVAL. Thread: any. */
int uvotel_trace_state_delete(const uvotel_trace_state_t *ts, const char *key,
                              uvotel_trace_state_t **out);

/* The serialised header value "k1=v1,k2=v2" (no whitespace), borrowed from ts and
 * NUL-terminated; "" for NULL. *len (may be NULL) gets its length. Thread: any. Alloc: none. */
const char *uvotel_trace_state_str(const uvotel_trace_state_t *ts, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
