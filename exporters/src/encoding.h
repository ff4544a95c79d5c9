/* Private pieces shared by the span encoders of libuvotel_exporters: the OTLP protobuf encoder
 * (otlp/encode.c) and the OTLP/JSON encoder (src/file.c).
 *
 * - UTF-8 repair: OTLP strings must be valid UTF-8, and a collector rejects a whole request
 *   for one bad string, so both encoders replace every ill-formed sequence with U+FFFD (each
 *   maximal subpart of an ill-formed sequence becomes one U+FFFD, as the Unicode standard
 *   recommends and WHATWG decoders do). Valid input passes through unchanged.
 * - Grouping: one walk over a batch sorting its spans into resource -> scope -> spans, in
 *   first-seen order, with the limits both encoders share.
 * Thread: any (no shared state). */
#ifndef UVOTEL_EXPORTERS_ENCODING_H
#define UVOTEL_EXPORTERS_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/trace_sdk.h"

/* ---- UTF-8 ---- */

/* Length of the longest valid UTF-8 prefix of s[0..n). n when all of it is valid. */
size_t uvotel__utf8_valid_prefix(const char *s, size_t n);

/* Byte length of s[0..n) once repaired (each ill-formed subpart -> EF BF BD). */
size_t uvotel__utf8_repaired_len(const char *s, size_t n);

/* Write the repaired s[0..n) to dst (uvotel__utf8_repaired_len bytes); returns that length. */
size_t uvotel__utf8_repair(char *dst, const char *s, size_t n);

/* Length of the valid UTF-8 sequence starting at s[0] (n >= 1), or 0 when none starts there. */
size_t uvotel__utf8_seq_len(const char *s, size_t n);

/* Length of the ill-formed subpart starting at s[0] (s[0..n) does not start with a valid
 * sequence; n >= 1): the bytes one U+FFFD replaces. */
size_t uvotel__utf8_bad_len(const char *s, size_t n);

/* ---- grouping ---- */

/* The most (resource, scope) groups one batch may hold; beyond it encoding fails with
 * UVOTEL_ERANGE (a batch comes from the providers and tracers of one process: far fewer). */
#define UVOTEL__GROUPS_MAX 65535u

typedef struct uvotel__scope_group_s {
  const uvotel_instrumentation_scope_t *scope;
  uint32_t first, n; /* spans order[first .. first + n) */
} uvotel__scope_group_t;

typedef struct uvotel__res_group_s {
  const uvotel_trace_resource_t *res;
  uint32_t first, n; /* scopes[first .. first + n) */
} uvotel__res_group_t;

/* A batch grouped: resources in first-seen order, each with its scopes in first-seen order,
 * each with its spans in batch order. One allocation (`mem`); `order` may be the array given to
 * uvotel__span_groups_build, so it is valid only as long as that array is. */
typedef struct uvotel__span_groups_s {
  const uvotel_span_data_t *const *order; /* the caller's array itself for one group */
  uvotel__scope_group_t *scopes;
  uvotel__res_group_t *res;
  size_t n_spans, n_scopes, n_res;
  void *mem;
} uvotel__span_groups_t;

/* Group spans[0..n). 0, UVOTEL_EINVAL (NULL array with n > 0, or a NULL span), UVOTEL_ENOMEM,
 * UVOTEL_ERANGE (more than UVOTEL__GROUPS_MAX groups, or n over UINT32_MAX). */
int uvotel__span_groups_build(uvotel__span_groups_t *g, const uvotel_span_data_t *const *spans,
                              size_t n);
void uvotel__span_groups_free(uvotel__span_groups_t *g);

#endif
