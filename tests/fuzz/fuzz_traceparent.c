/* libFuzzer target: uvotel_traceparent_parse, and format of whatever it accepts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uvotel_span_context_t sc;
  if (uvotel_traceparent_parse((const char *)data, size, &sc) != 0) return 0;
  if (!uvotel_span_context_is_valid(&sc) || (sc.flags & ~UVOTEL_TRACE_FLAGS_KNOWN)) abort();
  char out[UVOTEL_TRACEPARENT_LEN + 1];
  if (uvotel_traceparent_format(&sc, out) != 0) abort();
  uvotel_span_context_t back;
  if (uvotel_traceparent_parse(out, strlen(out), &back) != 0) abort();
  if (memcmp(&back.trace_id, &sc.trace_id, 16) || memcmp(&back.span_id, &sc.span_id, 8)) abort();
  return 0;
}
