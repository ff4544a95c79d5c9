/* Private helpers shared by the propagation sources. */
#ifndef UVOTEL_PROPAGATION_INTERNAL_H
#define UVOTEL_PROPAGATION_INTERNAL_H

#include "../internal.h"
#include "uvotel/propagation.h"

/* OWS of RFC 7230: SP and HTAB. */
static inline int uvotel__is_ows(char c) {
  return c == ' ' || c == '\t';
}

static inline void uvotel__trim_ows(const char **s, size_t *len) {
  const char *p = *s;
  size_t n = *len;
  while (n > 0 && uvotel__is_ows(p[0])) p++, n--;
  while (n > 0 && uvotel__is_ows(p[n - 1])) n--;
  *s = p;
  *len = n;
}

/* Character classes (bit flags) for the W3C grammars, indexed by byte. */
enum {
  UVOTEL__CC_TS_KEY_FIRST = 0x01,  /* a-z 0-9 */
  UVOTEL__CC_TS_KEY = 0x02,        /* a-z 0-9 _ - * / @ */
  UVOTEL__CC_TS_VALUE = 0x04,      /* 0x20-0x7e except , = */
  UVOTEL__CC_TOKEN = 0x08,         /* RFC 7230 tchar */
  UVOTEL__CC_BAGGAGE_OCTET = 0x10, /* 0x21-0x7e except " , ; \ */
  UVOTEL__CC_UNRESERVED = 0x20     /* RFC 3986 unreserved: not percent-encoded on output */
};
extern const uint8_t uvotel__cc[256];

#endif
