/* The W3C extract's fast paths against the general ones:
 *  - the header-list carrier read in one pass for both names (tc_extract, when the getter is
 *    uvotel_header_getter) against the same list through a copy of that getter (a different
 *    pointer: the per-name get calls), for names in any case, repeated, missing, NULL, and more
 *    tracestate lines than the one-pass stack holds;
 *  - uvotel_traceparent_parse (fixed offsets, hex by table and SSE2) against a byte-by-byte
 *    reference, with every byte value at every position of a valid header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "uvotel.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static void same_extract(const uvotel_header_list_t *h) {
  uvotel_carrier_getter_t copy = uvotel_header_getter; /* not the built-in: the general way */
  uvotel_extracted_t a = UVOTEL_EXTRACTED_INIT, b = UVOTEL_EXTRACTED_INIT;
  int ra = uvotel_propagator_extract(uvotel_propagator_tracecontext(), (void *)h,
                                     &uvotel_header_getter, &a);
  int rb = uvotel_propagator_extract(uvotel_propagator_tracecontext(), (void *)h, &copy, &b);
  assert_int_equal(ra, rb);
  assert_int_equal(uvotel_span_context_is_valid(&a.span_context),
                   uvotel_span_context_is_valid(&b.span_context));
  assert_memory_equal(a.span_context.trace_id.bytes, b.span_context.trace_id.bytes, 16);
  assert_memory_equal(a.span_context.span_id.bytes, b.span_context.span_id.bytes, 8);
  assert_int_equal(a.span_context.flags, b.span_context.flags);
  assert_string_equal(uvotel_trace_state_str(a.span_context.trace_state, NULL),
                      uvotel_trace_state_str(b.span_context.trace_state, NULL));
  uvotel_extracted_reset(&a);
  uvotel_extracted_reset(&b);
}

static void test_one_pass_headers(void **state) {
  (void)state;
  static const char *const tp_names[] = {"traceparent", "TraceParent",    "TRACEPARENT",
                                         "traceparenT", "traceparen",     "traceparentx",
                                         "tracepar3nt", "traceparent\x80"};
  static const char *const ts_names[] = {"tracestate",  "TraceState",  "TRACESTATE", "tracestat",
                                         "tracestatex", "trace_state", "tracest@te"};
  uvotel_header_t h[16];
  for (size_t i = 0; i < sizeof tp_names / sizeof *tp_names; i++) {
    for (size_t j = 0; j < sizeof ts_names / sizeof *ts_names; j++) {
      h[0] = (uvotel_header_t){{"x-other", 7}, {"1", 1}};
      h[1] = (uvotel_header_t){{tp_names[i], strlen(tp_names[i])}, {TP, sizeof TP - 1}};
      h[2] = (uvotel_header_t){{ts_names[j], strlen(ts_names[j])}, {"a=1,b=2", 7}};
      h[3] = (uvotel_header_t){{"tracestate", 10}, {"c=3", 3}};
      uvotel_header_list_t l = {h, 4};
      same_extract(&l);
    }
  }
  /* the result itself, for the plain case: both lines of tracestate kept in order */
  h[1] = (uvotel_header_t){{"TRACEPARENT", 11}, {TP, sizeof TP - 1}};
  h[2] = (uvotel_header_t){{"TraceState", 10}, {"a=1,b=2", 7}};
  uvotel_header_list_t l4 = {h, 4};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_tracecontext(), &l4, &uvotel_header_getter, &x),
      0);
  assert_true(uvotel_span_context_is_valid(&x.span_context));
  assert_string_equal(uvotel_trace_state_str(x.span_context.trace_state, NULL), "a=1,b=2,c=3");
  uvotel_extracted_reset(&x);
  /* two traceparent lines: no parent, as the general way */
  h[3] = (uvotel_header_t){{"traceparent", 11}, {TP, sizeof TP - 1}};
  same_extract(&l4);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_tracecontext(), &l4, &uvotel_header_getter, &x),
      0);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
  /* NULL names and values */
  h[0] = (uvotel_header_t){{NULL, 11}, {TP, sizeof TP - 1}};
  h[3] = (uvotel_header_t){{"tracestate", 10}, {NULL, 0}};
  same_extract(&l4);
  h[1] = (uvotel_header_t){{"traceparent", 11}, {NULL, 0}};
  same_extract(&l4);
  /* more tracestate lines than the one-pass stack (8): the general way, same result */
  h[0] = (uvotel_header_t){{"traceparent", 11}, {TP, sizeof TP - 1}};
  static char vals[15][8];
  for (int i = 1; i < 16; i++) {
    snprintf(vals[i - 1], sizeof vals[i - 1], "k%d=v", i);
    h[i] = (uvotel_header_t){{"tracestate", 10}, {vals[i - 1], strlen(vals[i - 1])}};
  }
  for (size_t n = 8; n <= 16; n++) {
    uvotel_header_list_t l = {h, n};
    same_extract(&l);
  }
  uvotel_header_list_t l16 = {h, 16};
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_tracecontext(), &l16, &uvotel_header_getter, &x),
      0);
  assert_int_equal(uvotel_trace_state_count(x.span_context.trace_state), 15);
  uvotel_extracted_reset(&x);
  /* an empty list and a NULL carrier */
  uvotel_header_list_t l0 = {h, 0};
  same_extract(&l0);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_tracecontext(), NULL, &uvotel_header_getter, &x),
      0);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
}

/* The traceparent grammar byte by byte (W3C Trace Context Level 2). */
static int hexv(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int ref_tp(const char *s, size_t len, uvotel_span_context_t *out) {
  while (len > 0 && (s[0] == ' ' || s[0] == '\t')) s++, len--;
  while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
  if (len < 55) return UVOTEL_EPARSE;
  for (size_t i = 0; i < 55; i++) {
    int dash = i == 2 || i == 35 || i == 52;
    if (dash ? s[i] != '-' : hexv(s[i]) < 0) return UVOTEL_EPARSE;
  }
  int version = hexv(s[0]) * 16 + hexv(s[1]);
  if (version == 0xff || (version == 0 && len != 55) || (len > 55 && s[55] != '-')) {
    return UVOTEL_EPARSE;
  }
  int zt = 1, zs = 1;
  for (int i = 0; i < 16; i++) {
    out->trace_id.bytes[i] = (uint8_t)(hexv(s[3 + 2 * i]) * 16 + hexv(s[4 + 2 * i]));
    zt &= out->trace_id.bytes[i] == 0;
  }
  for (int i = 0; i < 8; i++) {
    out->span_id.bytes[i] = (uint8_t)(hexv(s[36 + 2 * i]) * 16 + hexv(s[37 + 2 * i]));
    zs &= out->span_id.bytes[i] == 0;
  }
  if (zt || zs) return UVOTEL_EPARSE;
  out->flags = (uint8_t)((hexv(s[53]) * 16 + hexv(s[54])) & UVOTEL_TRACE_FLAGS_KNOWN);
  return 0;
}

static void check_tp(const char *s, size_t len) {
  uvotel_span_context_t got, want;
  memset(&got, 0, sizeof got);
  memset(&want, 0, sizeof want);
  int rg = uvotel_traceparent_parse(s, len, &got), rw = ref_tp(s, len, &want);
  if (rg != rw) fail_msg("rc %d, want %d: %.*s", rg, rw, (int)len, s);
  if (rg != 0) return;
  assert_memory_equal(got.trace_id.bytes, want.trace_id.bytes, 16);
  assert_memory_equal(got.span_id.bytes, want.span_id.bytes, 8);
  assert_int_equal(got.flags, want.flags);
  assert_int_equal(got.is_remote, 1);
  assert_null(got.trace_state);
}

static void test_traceparent_every_byte(void **state) {
  (void)state;
  char buf[80];
  size_t accepted = 0;
  for (size_t pos = 0; pos < 55; pos++) {
    for (int b = 0; b < 256; b++) {
      memcpy(buf, TP, 55);
      buf[pos] = (char)b;
      check_tp(buf, 55);
      uvotel_span_context_t sc;
      accepted += uvotel_traceparent_parse(buf, 55, &sc) == 0;
    }
  }
  /* 52 hex positions x 16 lowercase digits (minus version ff), the 3 dashes once each */
  printf("every byte at every position: %zu accepted\n", accepted);
  assert_true(accepted > 52 * 15);
  /* zero ids, versions, lengths and OWS */
  static const char *const cases[] = {
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
      " \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff\t ",
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
      ""};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_tp(cases[i], strlen(cases[i]));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_pass_headers),
                                     cmocka_unit_test(test_traceparent_every_byte)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
