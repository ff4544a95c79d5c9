/* libFuzzer target: uvotel_jaeger_parse and the jaeger propagator's extract (uber-trace-id and an
 * uberctx- baggage header from the same bytes), then inject + parse of what was accepted. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

static char g_out[128];
static size_t g_out_len;

static int set1(void *carrier, const char *name, const char *value, size_t len) {
  (void)carrier;
  if (strcmp(name, "uber-trace-id") == 0 && len < sizeof g_out) {
    memcpy(g_out, value, len);
    g_out_len = len;
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  uvotel_span_context_t sc;
  if (uvotel_jaeger_parse(s, size, &sc) == 0) {
    if (!uvotel_span_context_is_valid(&sc) || (sc.flags & ~UVOTEL_TRACE_FLAG_SAMPLED)) abort();
  }
  uvotel_header_t h[2] = {{{"uber-trace-id", 13}, {s, size}}, {{"uberctx-k", 9}, {s, size}}};
  uvotel_header_list_t list = {h, 2};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  if (uvotel_propagator_extract(uvotel_propagator_jaeger(), &list, &uvotel_header_getter, &x)) {
    abort();
  }
  if (uvotel_span_context_is_valid(&x.span_context) || x.baggage != NULL) {
    const uvotel_carrier_setter_t st = {set1};
    int dummy;
    g_out_len = 0;
    if (uvotel_propagator_inject(uvotel_propagator_jaeger(), &x.span_context, x.baggage, &dummy,
                                 &st) != 0) {
      abort();
    }
    uvotel_span_context_t back;
    if (uvotel_span_context_is_valid(&x.span_context) &&
        (uvotel_jaeger_parse(g_out, g_out_len, &back) != 0 ||
         memcmp(&back.trace_id, &x.span_context.trace_id, 16) ||
         memcmp(&back.span_id, &x.span_context.span_id, 8))) {
      abort();
    }
  }
  uvotel_extracted_reset(&x);
  return 0;
}
