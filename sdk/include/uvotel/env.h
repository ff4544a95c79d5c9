/* uvotel environment values: one parser for every OTEL_* and UVOTEL_* variable, with the
 * rules of the OpenTelemetry specification ("Environment Variable Specification"). The SDK,
 * the exporters, the instrumentation and the preload library all read their variables through
 * these functions, so a value means the same thing wherever it is read; exporters and
 * processors written outside uvotel can use them for their own variables.
 *
 * The rules, everywhere:
 *   - Empty is unset. A variable set to "" is treated exactly as if it were not set.
 *   - Whitespace is ASCII space, tab, CR, LF, VT and FF (no locale). Scalars, list items, keys
 *     and values are trimmed of it at both ends.
 *   - Booleans: only the case-insensitive string "true" is true and "false" is false. Anything
 *     else -- "1", "yes", "on" included, as the specification requires -- is refused: the
 *     variable's getter warns and keeps the default (false for every uvotel boolean).
 *   - Integers: decimal digits only (no sign, no "0x", no suffix), at most a caller-given
 *     maximum. Durations are integers of milliseconds. Decimal numbers (the sampler's ratio)
 *     use '.', whatever the C library's locale says.
 *   - Enum values (exporter, propagator, sampler, compression and log level names,
 * UVOTEL_INSTRUMENT categories) compare ASCII case-insensitively: OTEL_PROPAGATORS=TraceContext is
 * tracecontext.
 *   - Lists are comma-separated; items are trimmed and empty items are skipped (",a,,b," is a, b).
 *   - Key=value lists (OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS) are lists whose
 *     items are key=value, split at the first '='; key and value are trimmed, then
 *     percent-decoded. An item without '=', an empty key, a '%' not followed by two hex digits,
 *     or "%00" (a NUL byte, which no C string can carry: decoding it would truncate the value)
 *     makes the whole value malformed, and the whole value is then ignored with a warning, as
 *     the specification says for OTEL_RESOURCE_ATTRIBUTES.
 *
 * Parsers (uvotel_env_parse_*) say nothing; getters (uvotel_env_<type>(name, ...)) read the
 * variable and warn through uvotel_diag (uvotel/diag.h) when it is malformed, naming the
 * variable and the value. */
#ifndef UVOTEL_ENV_H
#define UVOTEL_ENV_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The value of environment variable `name`, or NULL when it is unset or empty. Borrowed from
 * the process environment (valid until the variable is changed). Thread: any, but not while
 * another thread calls setenv/unsetenv (the C library's rule). */
const char *uvotel_env_get(const char *name);

/* ---- scalar parsers (no diagnostics) ---- */

/* "true" / "false", case-insensitive, surrounding whitespace allowed: *out = 1 / 0.
 * Errors: UVOTEL_EINVAL (NULL argument), UVOTEL_EPARSE (anything else; *out untouched).
 * Thread: any. */
int uvotel_env_parse_bool(const char *value, int *out);

/* A non-negative decimal integer <= max, surrounding whitespace allowed. Errors: UVOTEL_EINVAL
 * (NULL argument), UVOTEL_EPARSE (not digits), UVOTEL_ERANGE (above max); *out untouched on
 * error. Thread: any. */
int uvotel_env_parse_u64(const char *value, uint64_t max, uint64_t *out);

/* A decimal number ([+-]digits[.digits][e[+-]digits]), surrounding whitespace allowed, read
 * in the C locale whatever setlocale() the program made (OTEL_TRACES_SAMPLER_ARG=0.25 is 0.25
 * under a locale whose decimal separator is ','). No hex, inf or nan. Errors: UVOTEL_EINVAL
 * (NULL argument), UVOTEL_EPARSE, UVOTEL_ERANGE (overflow); *out untouched on error.
 * Thread: any. */
int uvotel_env_parse_double(const char *value, double *out);

/* ---- getters: *out holds the default on entry ----
 * Each returns 0 when the variable is set and valid (*out written), UVOTEL_ENOENT when it is
 * unset or empty (*out untouched), or the parser's error when it is malformed (*out untouched,
 * and a warning "NAME=\"value\" is ...; using the default" is reported). Thread: any. */
int uvotel_env_bool(const char *name, int *out);
int uvotel_env_u64(const char *name, uint64_t max, uint64_t *out);
int uvotel_env_u32(const char *name, uint32_t *out); /* max UINT32_MAX */
/* Milliseconds, at most 2^53 (a larger duration is a typo, not a deadline). */
int uvotel_env_duration_ms(const char *name, uint64_t *out);

/* ---- names and lists ---- */

/* 1 when s[0..n) equals the NUL-terminated `name` ignoring ASCII case, else 0. Thread: any. */
int uvotel_env_name_eq(const char *s, size_t n, const char *name);

/* The index of s[0..n) (trimmed) in the NULL-terminated array `names`, compared as
 * uvotel_env_name_eq does, or -1 when it is none of them. Thread: any. */
int uvotel_env_name_index(const char *s, size_t n, const char *const *names);

/* Iterate a comma list: `*cursor` starts at the value (may be NULL: an empty list). Each call
 * stores the next non-empty, trimmed item (not NUL-terminated: item[0..*len)) and returns 1;
 * at the end it returns 0. Allocates nothing. Thread: any.
 *
 *   const char *cur = uvotel_env_get("OTEL_PROPAGATORS"), *item; size_t len;
 *   while (uvotel_env_list_next(&cur, &item, &len)) ...                                  */
int uvotel_env_list_next(const char **cursor, const char **item, size_t *len);

/* ---- percent-decoding and key=value lists ---- */

/* Percent-decode s[0..n) into out, which must hold n + 1 bytes; the result is NUL-terminated
 * and its length stored in *out_len (may be NULL). "%XX" with hex digits of either case is one
 * byte; every other byte is itself. Errors: UVOTEL_EINVAL (NULL s or out), UVOTEL_EPARSE ('%'
 * without two hex digits after it, or "%00"); out's content is unspecified on error.
 * Thread: any. Alloc: none. */
int uvotel_env_percent_decode(const char *s, size_t n, char *out, size_t *out_len);

typedef struct uvotel_env_kv_s {
  const char *key;   /* decoded, non-empty, NUL-terminated */
  const char *value; /* decoded, possibly empty, NUL-terminated */
} uvotel_env_kv_t;

/* Parse a key=value list (the rules above). On success *out is an array of *n pairs in the
 * order written (duplicates kept: the caller decides which wins), in one uvotel_malloc'd block
 * that also holds the strings -- release it with uvotel_free(*out); *out is NULL when *n is 0.
 * Errors: UVOTEL_EINVAL (NULL argument), UVOTEL_EPARSE (malformed: nothing is returned),
 * UVOTEL_ENOMEM. Thread: any. */
int uvotel_env_kv_parse(const char *value, uvotel_env_kv_t **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
