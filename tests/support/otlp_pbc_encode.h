/* The protobuf-c reference encoder (otlp_pbc_encode.c) for tests and benchmarks. */
#ifndef UVOTEL_TEST_OTLP_PBC_ENCODE_H
#define UVOTEL_TEST_OTLP_PBC_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "uvotel/trace_sdk.h"

/* Encode n finished spans as one ExportTraceServiceRequest with protobuf-c, grouped as the
 * exporter groups them, into a new uvotel_malloc'd buffer. 0, UVOTEL_EINVAL (NULL span),
 * UVOTEL_ENOMEM, UVOTEL_ERANGE (over 65535 groups), UVOTEL_EIO (pack size mismatch). */
int otlp_pbc_encode(const uvotel_span_data_t *const *spans, size_t n, uint8_t **out, size_t *out_n);

#endif
