/* uvotel propagation: W3C Trace Context (Level 2: traceparent + tracestate) and W3C Baggage,
 * injected into and extracted from any carrier (HTTP headers, message metadata) through
 * getter/setter callbacks.
 *
 * Pieces:
 *   - uvotel_trace_state_t: the tracestate list (uvotel/trace_state.h). Immutable, reference
 *     counted (atomically, so it may cross threads with the span that holds it). NULL is the
 *     empty list everywhere.
 *   - traceparent parse/format.
 *   - uvotel_baggage_t: the baggage list. Immutable, reference counted (atomic). NULL is the empty
 *     baggage everywhere. The current baggage is an async-context variable, so it follows every
 *     instrumented callback like the current span does.
 *   - propagators: an ops table (inject/extract/fields) plus built-ins (tracecontext, baggage,
 *     their composite = the default, none), selectable by OTEL_PROPAGATORS-style names.
 *
 * Invalid input is never an error for the application: extract leaves out what it cannot parse
 * (a bad traceparent means "start a new trace" and drops tracestate), as the W3C specs say. The
 * parse functions themselves report UVOTEL_EPARSE / UVOTEL_ERANGE for callers who want to know.
 */
#ifndef UVOTEL_PROPAGATION_H
#define UVOTEL_PROPAGATION_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/context.h"
#include "uvotel/trace.h"
#include "uvotel/trace_state.h"

#ifdef __cplusplus
extern "C" {
#endif

/* uvotel_str_t and the tracestate API (uvotel_trace_state_*) are in uvotel/trace_state.h,
 * beside the span context that carries a tracestate; included here for the propagators. */

/* ---------------------------------------------------------------------------------------------
 * traceparent
 * ------------------------------------------------------------------------------------------- */

#define UVOTEL_TRACEPARENT_LEN 55 /* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define UVOTEL_TRACE_FLAGS_KNOWN (UVOTEL_TRACE_FLAG_SAMPLED | UVOTEL_TRACE_FLAG_RANDOM)

/* Parse one traceparent value. Leading/trailing SP and HTAB are ignored. Version 00: exactly 55
 * characters. A higher version (not ff): at least 55 characters, the first four fields parsed as
 * version 00, and anything after them must start with "-" (and is ignored). Hex must be
 * lowercase; all-zero trace or parent ids are invalid. On success *out gets the ids, the known
 * flags (sampled, random; unknown bits are zeroed), is_remote = 1 and trace_state = NULL.
 * Invalid: UVOTEL_EPARSE, *out untouched. NULL s/out: UVOTEL_EINVAL. Thread: any. Alloc: none. */
int uvotel_traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out);

/* Write the version-00 traceparent of sc into buf (at least UVOTEL_TRACEPARENT_LEN + 1 bytes,
 * NUL-terminated): lowercase hex, unknown flag bits zeroed. Invalid sc (an all-zero id) or NULL:
 * UVOTEL_EINVAL. Returns 0. Thread: any. Alloc: none. */
int uvotel_traceparent_format(const uvotel_span_context_t *sc, char *buf);

/* (uvotel_span_context_is_valid, in uvotel/trace.h, tells whether a context has both ids.) */

/* ---------------------------------------------------------------------------------------------
 * baggage
 * ------------------------------------------------------------------------------------------- */

typedef struct uvotel_baggage_s uvotel_baggage_t;

#define UVOTEL_BAGGAGE_MAX_MEMBERS 180
/* Serialised size limit of the whole baggage header. The W3C Baggage spec requires at least
 * 8192 bytes to be propagated (the conformance row bg-021 sends a single 8192-byte member). */
#define UVOTEL_BAGGAGE_MAX_BYTES 8192

/* A property of a member: "key" alone (value.ptr == NULL) or "key=value" (value decoded). */
typedef struct uvotel_baggage_prop_s {
  uvotel_str_t key;
  uvotel_str_t value;
} uvotel_baggage_prop_t;

/* A member as seen through uvotel_baggage_at: key, percent-decoded value (may contain any byte;
 * NUL-terminated at value.ptr[value.len]), properties. All borrowed from the baggage. */
typedef struct uvotel_baggage_entry_s {
  uvotel_str_t key;
  uvotel_str_t value;
  const uvotel_baggage_prop_t *props;
  size_t n_props;
} uvotel_baggage_entry_t;

/* Parse baggage header lines (combined in order). Members are "key = value *(; property)" with
 * optional whitespace around each part; key is an HTTP token; value is percent-decoded (invalid
 * UTF-8 after decoding becomes U+FFFD; a "%" not followed by two hex digits stays literal);
 * property values are decoded, key-only properties are kept as sent. An invalid member is dropped
 * and the others kept (the spec's "MAY remove an offending list-member"); members beyond
 * UVOTEL_BAGGAGE_MAX_MEMBERS, or that would make the serialised header exceed
 * UVOTEL_BAGGAGE_MAX_BYTES, are dropped whole. Duplicate keys are kept in order. Returns the
 * number of members dropped (>= 0) with *out = a new reference, or NULL when nothing is left.
 * NULL out or NULL lines with n > 0: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM. Thread: any. */
int uvotel_baggage_parse_lines(const uvotel_str_t *lines, size_t n, uvotel_baggage_t **out);

/* One header line. */
int uvotel_baggage_parse(const char *s, size_t len, uvotel_baggage_t **out);

/* Reference counting, atomic. retain(NULL) = NULL, release(NULL) no-op. Thread: any. */
uvotel_baggage_t *uvotel_baggage_retain(const uvotel_baggage_t *b);
void uvotel_baggage_release(const uvotel_baggage_t *b);

/* Number of members (0 for NULL). Thread: any. */
size_t uvotel_baggage_count(const uvotel_baggage_t *b);

/* Member i in order. Out of range: UVOTEL_ENOENT; NULL out: UVOTEL_EINVAL. Thread: any. */
int uvotel_baggage_at(const uvotel_baggage_t *b, size_t i, uvotel_baggage_entry_t *out);

/* The decoded value of key (the last member with that key), NUL-terminated and borrowed from b;
 * NULL when absent. *len (may be NULL) gets its length. Thread: any. Alloc: none. */
const char *uvotel_baggage_get(const uvotel_baggage_t *b, const char *key, size_t *len);

/* A new baggage with key = value (value as given, any bytes up to NUL; it is percent-encoded on
 * the wire). Members with that key are replaced by one at the end. `properties` (may be NULL) is
 * the W3C property text, e.g. "p1;p2=v2" (values percent-encoded as on the wire).
 * Invalid key (not a token) or properties: UVOTEL_EPARSE; the result would exceed the member or
 * byte limit: UVOTEL_ERANGE; NULL key/value/out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM. b is not
 * changed (NULL = empty). On success *out is a new reference. Thread: any. Alloc: one block. */
int uvotel_baggage_set(const uvotel_baggage_t *b, const char *key, const char *value,
                       const char *properties, uvotel_baggage_t **out);

/* A new baggage without any member named key (*out = NULL when empty). Absent: UVOTEL_ENOENT and
 * *out = a new reference to b. NULL key/out: UVOTEL_EINVAL. Thread: any. */
int uvotel_baggage_remove(const uvotel_baggage_t *b, const char *key, uvotel_baggage_t **out);

/* The serialised header value (values percent-encoded: every byte outside A-Z a-z 0-9 - . _ ~),
 * borrowed and NUL-terminated; "" for NULL. *len (may be NULL) gets its length.
 * Thread: any. Alloc: none (kept with the baggage). */
const char *uvotel_baggage_str(const uvotel_baggage_t *b, size_t *len);

/* ---- the current baggage (an async-context variable) ---- */

/* The variable that holds the current baggage (values are uvotel_baggage_t *, retained while a
 * context holds them). Created on first use; lives for the process. NULL only out of memory.
 * Thread: any. */
uvotel_var_t *uvotel_baggage_var(void);

/* The current baggage, borrowed from the current context (NULL: none). Thread: any.
 * Alloc: none. */
const uvotel_baggage_t *uvotel_baggage_current(void);

/* Make b (retained by the context; NULL = no baggage) current until uvotel_scope_exit(out).
 * NULL out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM. Thread: loop (the context's thread). */
int uvotel_baggage_enter(const uvotel_baggage_t *b, uvotel_scope_t *out);

/* Run fn(arg) with b current, restore afterwards, return fn's result (NULL if fn is NULL or out
 * of memory). Thread: loop. */
void *uvotel_baggage_run(const uvotel_baggage_t *b, void *(*fn)(void *arg), void *arg);

/* The current baggage's value for key (borrowed from the current context; see
 * uvotel_baggage_get). Thread: any. */
const char *uvotel_baggage_current_get(const char *key, size_t *len);

/* Enter a scope whose baggage is the current one with key set (uvotel_baggage_set) or removed
 * (uvotel_baggage_remove; an absent key still enters an unchanged scope and returns 0). Errors
 * as those functions; on error no scope is entered. Exit with uvotel_scope_exit(out).
 * Thread: loop. Alloc: one block. */
int uvotel_baggage_enter_set(const char *key, const char *value, const char *properties,
                             uvotel_scope_t *out);
int uvotel_baggage_enter_remove(const char *key, uvotel_scope_t *out);

/* ---------------------------------------------------------------------------------------------
 * carriers
 * ------------------------------------------------------------------------------------------- */

/* Read side of a carrier. `name` is the lowercase field name ("traceparent"); HTTP carriers
 * should match it ASCII case-insensitively.
 *   get:  store the values of EVERY field named `name`, in order, into vals[0 .. cap) and return
 *         how many there are (it may exceed cap; the extra values are not stored). The slices must
 *         stay valid until extract returns. Required.
 *   keys: store the carrier's field names into names[0 .. cap) and return how many there are.
 *         May be NULL (the W3C propagators do not need it). */
typedef struct uvotel_carrier_getter_s {
  size_t (*get)(void *carrier, const char *name, uvotel_str_t *vals, size_t cap);
  size_t (*keys)(void *carrier, uvotel_str_t *names, size_t cap);
} uvotel_carrier_getter_t;

/* Write side: replace the field `name` with value (value[len] is NUL; both borrowed for the call
 * only). Returns 0 or a negative code, which inject passes back. */
typedef struct uvotel_carrier_setter_s {
  int (*set)(void *carrier, const char *name, const char *value, size_t len);
} uvotel_carrier_setter_t;

/* A ready-made carrier: an array of header lines as an HTTP parser hands them out (llhttp,
 * picohttpparser). uvotel_header_getter matches names case-insensitively and returns every line
 * with the name. */
typedef struct uvotel_header_s {
  uvotel_str_t name;
  uvotel_str_t value;
} uvotel_header_t;

typedef struct uvotel_header_list_s {
  const uvotel_header_t *items;
  size_t n;
} uvotel_header_list_t;

extern const uvotel_carrier_getter_t uvotel_header_getter; /* carrier: uvotel_header_list_t * */

/* ---------------------------------------------------------------------------------------------
 * propagators
 * ------------------------------------------------------------------------------------------- */

/* What extract found. Start from UVOTEL_EXTRACTED_INIT; extract fills what it finds and leaves
 * the rest as it was (a part found again replaces the old one, which is released).
 *   span_context: valid (uvotel_span_context_is_valid) when a traceparent was accepted; then
 *                 is_remote = 1 and trace_state is a reference owned by this struct.
 *   baggage:      a reference owned by this struct, or NULL.
 * Release with uvotel_extracted_reset. */
typedef struct uvotel_extracted_s {
  uvotel_span_context_t span_context;
  uvotel_baggage_t *baggage;
} uvotel_extracted_t;

#define UVOTEL_EXTRACTED_INIT \
  { {{{0}}, {{0}}, 0, 0, NULL}, NULL }

/* Release what x holds and zero it. NULL: no-op. Thread: any. */
void uvotel_extracted_reset(uvotel_extracted_t *x);

/* A propagator implementation. `self` is the pointer given to uvotel_propagator_create.
 *   inject:  write sc (may be NULL or invalid: write no trace fields) and baggage (may be NULL)
 *            through setter. Return 0 or the setter's error.
 *   extract: read through getter into *x (see uvotel_extracted_t). Return 0, or UVOTEL_ENOMEM.
 *            Malformed fields are not errors: leave them out.
 *   fields:  the field names inject may write; *names gets a static array. Returns the count.
 *   free:    release self (may be NULL).
 * Fill it with designated initializers ({.inject = f, .extract = g, ...}): the table only
 * grows at the end, and members left out are NULL. */
typedef struct uvotel_propagator_ops_s {
  int (*inject)(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *baggage,
                void *carrier, const uvotel_carrier_setter_t *setter);
  int (*extract)(void *self, void *carrier, const uvotel_carrier_getter_t *getter,
                 uvotel_extracted_t *x);
  size_t (*fields)(void *self, const char *const **names);
  void (*free)(void *self);
} uvotel_propagator_ops_t;

typedef struct uvotel_propagator_s uvotel_propagator_t;

/* Wrap a user implementation. ops is borrowed (must outlive the propagator); inject, extract and
 * fields are required (else NULL). `name` is copied (may be NULL). NULL when out of memory.
 * Thread: any. */
uvotel_propagator_t *uvotel_propagator_create(const char *name, const uvotel_propagator_ops_t *ops,
                                              void *self);

/* Free a propagator made by create/composite/from_names (calls ops->free). Built-ins and NULL:
 * no-op. Thread: any, when nobody uses it. */
void uvotel_propagator_free(uvotel_propagator_t *p);

/* Built-ins: static, never NULL, free is a no-op. Thread: any.
 *   tracecontext: traceparent + tracestate.     baggage: baggage.
 *   none: injects and extracts nothing.         default: composite of tracecontext, baggage. */
uvotel_propagator_t *uvotel_propagator_tracecontext(void);
uvotel_propagator_t *uvotel_propagator_baggage(void);
uvotel_propagator_t *uvotel_propagator_none(void);
uvotel_propagator_t *uvotel_propagator_default(void);

/* The process-wide propagator: what a NULL propagator means in the uvotel_propagation_*
 * functions below (and for instrumentation that passes NULL). The default propagator
 * (tracecontext + baggage) until set; uvotel_tracer_provider_from_env sets it from
 * OTEL_PROPAGATORS (and restores the default when that provider is freed). p is borrowed: it must
 * outlive its use as the global one; NULL restores the default. Thread: any (atomic). */
void uvotel_propagator_set_global(uvotel_propagator_t *p);
uvotel_propagator_t *uvotel_propagator_global(void);

/* Propagators beyond W3C (static like the built-ins above). Each extracts only a span context
 * (and, for jaeger, baggage); none carries tracestate.
 *   b3:      Zipkin B3. Injects the single header `b3: {trace}-{span}-{1|0}`; extracts the
 *            single header, else the X-B3-* headers. Debug (`d`, X-B3-Flags: 1) is read as
 *            sampled and not sent on; an absent sampling state reads as not sampled;
 *            X-B3-ParentSpanId is never sent (the OpenTelemetry profile of B3).
 *   b3multi: the same, injecting X-B3-TraceId, X-B3-SpanId, X-B3-Sampled.
 *   jaeger:  `uber-trace-id: {trace}:{span}:0:{1|0}` and `uberctx-{key}` baggage headers
 *            (values percent-encoded; keys lowercased, as HTTP header names are not cased).
 *            Extracting uberctx- headers needs a getter with `keys`.
 * Thread: any. Alloc: none, except jaeger's baggage. */
uvotel_propagator_t *uvotel_propagator_b3(void);
uvotel_propagator_t *uvotel_propagator_b3multi(void);
uvotel_propagator_t *uvotel_propagator_jaeger(void);

/* Parse one B3 single-header value / one uber-trace-id value (leading and trailing SP/HTAB
 * ignored) into *out (is_remote = 1, no tracestate). See the rules above and in the sources'
 * headers: B3 ids are 16/32 and 16 lower-hex digits; Jaeger ids 1-32 and 1-16 hex digits of
 * either case, left-padded, the value possibly URL-encoded. Malformed (including a bare B3
 * sampling state, which carries no ids, and all-zero ids): UVOTEL_EPARSE, *out unchanged.
 * NULL s or out: UVOTEL_EINVAL. Thread: any. Alloc: none. */
int uvotel_b3_single_parse(const char *s, size_t len, uvotel_span_context_t *out);
int uvotel_jaeger_parse(const char *s, size_t len, uvotel_span_context_t *out);

/* A propagator that runs parts[0..n) in order (inject stops at the first error; extract runs all
 * and merges). The parts are borrowed and must outlive it. NULL parts with n > 0, a NULL part or
 * NULL out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM. Thread: any. */
int uvotel_propagator_composite_create(uvotel_propagator_t *const *parts, size_t n,
                                       uvotel_propagator_t **out);

/* Build the propagator an OTEL_PROPAGATORS value names: a comma-separated list of
 * "tracecontext", "baggage", "b3", "b3multi", "jaeger", "none" (case-insensitive, whitespace
 * around names ignored, duplicates once, in the order given). NULL or empty: the default.
 * "none" alone: the none propagator.
 * An unknown name: UVOTEL_ENOENT; a known OpenTelemetry name this library does not implement
 * (xray, ottrace): UVOTEL_ENOTSUP; in both cases *out = NULL and *bad_pos
 * (may be NULL) gets the byte offset of the offending name. NULL out: UVOTEL_EINVAL.
 * Free the result with uvotel_propagator_free. Thread: any. */
int uvotel_propagator_from_names(const char *names, uvotel_propagator_t **out, size_t *bad_pos);

/* The propagator's name ("tracecontext", "baggage", "none", "composite" or the given one). */
const char *uvotel_propagator_name(const uvotel_propagator_t *p);

/* Inject sc (NULL or invalid: no trace fields) and baggage (NULL: none) into carrier.
 * NULL p, carrier or setter (or setter->set): UVOTEL_EINVAL. Thread: any. Alloc: none for the
 * built-ins. */
int uvotel_propagator_inject(const uvotel_propagator_t *p, const uvotel_span_context_t *sc,
                             const uvotel_baggage_t *baggage, void *carrier,
                             const uvotel_carrier_setter_t *setter);

/* Extract from carrier into *x (see uvotel_extracted_t). NULL p, getter (or getter->get) or x:
 * UVOTEL_EINVAL. A NULL carrier is passed to the getter as is. The built-ins read every line of
 * a field (a field with more than 1024 lines is ignored) and treat two traceparent lines as no
 * traceparent. Thread: any. Alloc: the
 * tracestate and baggage blocks when those fields are present. */
int uvotel_propagator_extract(const uvotel_propagator_t *p, void *carrier,
                              const uvotel_carrier_getter_t *getter, uvotel_extracted_t *x);

/* Copy up to cap field names into names (static strings); return the total count.
 * NULL p: 0. Thread: any. */
size_t uvotel_propagator_fields(const uvotel_propagator_t *p, const char **names, size_t cap);

/* ---------------------------------------------------------------------------------------------
 * with the current context (the current span and the current baggage)
 * ------------------------------------------------------------------------------------------- */

/* Inject the current span's context (uvotel_span_context(uvotel_current_span()); nothing when
 * there is no valid one) and the current baggage (uvotel_baggage_current()). p NULL: the
 * global propagator (uvotel_propagator_global: OTEL_PROPAGATORS once a provider was made from
 * the environment, else the default). Errors as uvotel_propagator_inject. Thread: loop. Alloc: none
 * for the built-ins. */
int uvotel_propagation_inject_current(const uvotel_propagator_t *p, void *carrier,
                                      const uvotel_carrier_setter_t *setter);

/* Scopes opened by uvotel_propagation_extract_enter. Caller memory; fields are private. */
typedef struct uvotel_propagation_scope_s {
  uvotel_scope_t span_scope_;
  uvotel_scope_t baggage_scope_;
  uvotel_span_t *span_;
  uint8_t has_span_, has_baggage_, entered_, pad_;
} uvotel_propagation_scope_t;

/* Extract from carrier (p NULL: the global propagator, see uvotel_propagator_global) and enter a
 * context in which:
 *   - the current span is a non-recording span carrying the remote context (is_remote = 1,
 *     with its tracestate), so spans started meanwhile - and in callbacks registered meanwhile -
 *     are its children; without a valid traceparent the current span is left as it was;
 *   - the current baggage is the extracted one (when the carrier has baggage).
 * Leave with uvotel_propagation_scope_exit(out). Malformed fields are not errors.
 * NULL carrier getter/out: UVOTEL_EINVAL; memory: UVOTEL_ENOMEM (nothing entered).
 * Thread: loop. Alloc: the tracestate/baggage blocks and one small span block when present. */
int uvotel_propagation_extract_enter(const uvotel_propagator_t *p, void *carrier,
                                     const uvotel_carrier_getter_t *getter,
                                     uvotel_propagation_scope_t *out);

/* Leave what uvotel_propagation_extract_enter entered (scopes are LIFO, like every scope).
 * Not entered / already exited / out of order: UVOTEL_EINVAL, nothing changed. Thread: loop. */
int uvotel_propagation_scope_exit(uvotel_propagation_scope_t *s);

/* The same as a snapshot: *out is the current context with the extracted span and baggage
 * current, to run request handling in (uvotel_snapshot_run / uvotel_snapshot_enter); release
 * it with uvotel_snapshot_release. The current context is not changed. Errors as
 * uvotel_propagation_extract_enter (*out = NULL). Thread: loop. */
int uvotel_propagation_extract_snapshot(const uvotel_propagator_t *p, void *carrier,
                                        const uvotel_carrier_getter_t *getter,
                                        uvotel_snapshot_t **out);

/* ---------------------------------------------------------------------------------------------
 * Environment-variable carrier (OpenTelemetry: environment variables as context propagation
 * carriers): TRACEPARENT, TRACESTATE and BAGGAGE, to hand context to a child process.
 * ------------------------------------------------------------------------------------------- */

/* A copy of env (NULL: the process's environ) for a child process: the caller's entries except
 * any TRACEPARENT/TRACESTATE/BAGGAGE, plus TRACEPARENT for sc, TRACESTATE when sc has a trace
 * state and BAGGAGE when baggage is not NULL or empty. *out is one block (free it with
 * uvotel_env_carrier_free) whose pointers borrow env's strings: keep env alive while using it;
 * env itself is never modified. Invalid sc or NULL out: UVOTEL_EINVAL; UVOTEL_ENOMEM.
 * Thread: any. Alloc: one block. */
int uvotel_env_carrier_inject(char *const *env, const uvotel_span_context_t *sc,
                              const uvotel_baggage_t *baggage, char ***out);
void uvotel_env_carrier_free(char **env);

/* Read TRACEPARENT (and TRACESTATE) from env (NULL: environ) into *out (is_remote = 1). The
 * trace state, when there is a valid one, is a new reference: release out->trace_state with
 * uvotel_trace_state_release. No TRACEPARENT: UVOTEL_ENOENT; malformed: UVOTEL_EPARSE (a
 * malformed TRACESTATE alone is dropped); NULL out: UVOTEL_EINVAL. uvotel_tracer_provider_
 * from_env uses it: the context found becomes the remote parent of the provider's root spans
 * (spans started with no parent and without UVOTEL_SPAN_ROOT). Thread: any. */
int uvotel_env_carrier_extract(char *const *env, uvotel_span_context_t *out);

#ifdef __cplusplus
}
#endif
#endif
