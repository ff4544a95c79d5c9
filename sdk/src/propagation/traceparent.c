/* W3C traceparent (Trace Context Level 2): parse and format. */
#include "propagation_internal.h"

/* Lowercase hex digit -> value; everything else has bit 4 set. */
static const uint8_t hexval[256] =
    {
#define X16 \
  0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10
        X16,  X16,  X16,  0,    1,    2,    3,    4,    5,    6,
        7,    8,    9,    0x10, 0x10, 0x10, 0x10, 0x10, 0x10, /* 0x30 */
        X16,  X16,                                            /* 0x40, 0x50 */
        0x10, 10,   11,   12,   13,   14,   15,   0x10, 0x10, 0x10,
        0x10, 0x10, 0x10, 0x10, 0x10, 0x10,                  /* 0x60 */
        X16,  X16,  X16,  X16,  X16,  X16,  X16,  X16,  X16, /* 0x70 .. 0xf0 */
#undef X16
};

/* Decode n bytes from 2n lowercase hex characters; returns nonzero if any character is bad. */
static inline unsigned hex_decode(const char *s, uint8_t *out, size_t n) {
  unsigned bad = 0;
  for (size_t i = 0; i < n; i++) {
    uint8_t hi = hexval[(uint8_t)s[2 * i]], lo = hexval[(uint8_t)s[2 * i + 1]];
    bad |= hi | lo;
    out[i] = (uint8_t)((hi << 4) | (lo & 0x0f));
  }
  return bad & 0x10;
}

static inline int all_zero(const uint8_t *b, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= b[i];
  return acc == 0;
}

/* uvotel_span_context_is_valid is defined once, with the trace ids (sdk/src/trace/ids.c). */

UVOTEL__API int uvotel_traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out) {
  if (s == NULL || out == NULL) return UVOTEL_EINVAL;
  uvotel__trim_ows(&s, &len);
  if (len < UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  uint8_t version;
  if (hex_decode(s, &version, 1)) return UVOTEL_EPARSE;
  if (version == 0xff) return UVOTEL_EPARSE;
  if (version == 0x00 && len != UVOTEL_TRACEPARENT_LEN) return UVOTEL_EPARSE;
  /* A future version: the version-00 fields, then nothing or "-" and fields we ignore. */
  if (len > UVOTEL_TRACEPARENT_LEN && s[UVOTEL_TRACEPARENT_LEN] != '-') return UVOTEL_EPARSE;
  if (s[2] != '-' || s[35] != '-' || s[52] != '-') return UVOTEL_EPARSE;
  uvotel_trace_id_t tid;
  uvotel_span_id_t sid;
  uint8_t flags;
  unsigned bad = hex_decode(s + 3, tid.bytes, 16) | hex_decode(s + 36, sid.bytes, 8) |
                 hex_decode(s + 53, &flags, 1);
  if (bad || all_zero(tid.bytes, 16) || all_zero(sid.bytes, 8)) return UVOTEL_EPARSE;
  out->trace_id = tid;
  out->span_id = sid;
  out->flags = (uint8_t)(flags & UVOTEL_TRACE_FLAGS_KNOWN);
  out->is_remote = 1;
  out->trace_state = NULL;
  return 0;
}

static const char hexdig[16] = "0123456789abcdef";

static inline char *hex_encode(char *w, const uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    *w++ = hexdig[b[i] >> 4];
    *w++ = hexdig[b[i] & 0x0f];
  }
  return w;
}

UVOTEL__API int uvotel_traceparent_format(const uvotel_span_context_t *sc, char *buf) {
  if (buf == NULL || !uvotel_span_context_is_valid(sc)) return UVOTEL_EINVAL;
  char *w = buf;
  *w++ = '0';
  *w++ = '0';
  *w++ = '-';
  w = hex_encode(w, sc->trace_id.bytes, 16);
  *w++ = '-';
  w = hex_encode(w, sc->span_id.bytes, 8);
  *w++ = '-';
  uint8_t f = (uint8_t)(sc->flags & UVOTEL_TRACE_FLAGS_KNOWN);
  w = hex_encode(w, &f, 1);
  *w = '\0';
  return 0;
}
