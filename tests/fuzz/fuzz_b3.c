/* libFuzzer target: uvotel_b3_single_parse, and the b3 propagators' inject + extract of whatever
 * it accepts (the input is also fed as every X-B3-* header). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

static char g_out[128];
static size_t g_out_len;

static int set1(void *carrier, const char *name, const char *value, size_t len) {
  (void)carrier;
  if (strcmp(name, "b3") == 0 && len < sizeof g_out) {
    memcpy(g_out, value, len);
    g_out_len = len;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  uvotel_span_context_t sc;
  if (uvotel_b3_single_parse(s, size, &sc) == 0) {
    if (!uvotel_span_context_is_valid(&sc) || (sc.flags & ~UVOTEL_TRACE_FLAG_SAMPLED)) abort();
    const uvotel_carrier_setter_t st = {set1};
    int dummy;
    g_out_len = 0;
    if (uvotel_propagator_inject(uvotel_propagator_b3(), &sc, NULL, &dummy, &st) != 0) abort();
    uvotel_span_context_t back;
    if (uvotel_b3_single_parse(g_out, g_out_len, &back) != 0) abort();
    if (memcmp(&back.trace_id, &sc.trace_id, 16) || memcmp(&back.span_id, &sc.span_id, 8) ||
        back.flags != sc.flags) {
      abort();
    }
  }
  /* the same bytes as every multi header at once */
  uvotel_header_t h[4] = {{{"X-B3-TraceId", 12}, {s, size}},
                          {{"X-B3-SpanId", 11}, {s, size}},
                          {{"X-B3-Sampled", 12}, {s, size}},
                          {{"X-B3-Flags", 10}, {s, size}}};
  uvotel_header_list_t list = {h, 4};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  if (uvotel_propagator_extract(uvotel_propagator_b3multi(), &list, &uvotel_header_getter, &x)) {
    abort();
  }
  if (x.span_context.is_remote && !uvotel_span_context_is_valid(&x.span_context)) abort();
  uvotel_extracted_reset(&x);
  return 0;
}
