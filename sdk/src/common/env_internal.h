/* The percent-decoder behind uvotel_env_percent_decode, shared with W3C baggage (baggage.c),
 * whose wire format decodes the same escapes but keeps a malformed one as it is (W3C Baggage:
 * a receiver must not reject the header for it) and may carry any byte. */
#ifndef UVOTEL_ENV_INTERNAL_H
#define UVOTEL_ENV_INTERNAL_H

#include <stddef.h>

enum {
  UVOTEL__PCT_STRICT = 0,  /* a '%' without two hex digits, or %00: an error */
  UVOTEL__PCT_LENIENT = 1, /* such a '%' is copied as is; %00 is a NUL byte */
};

/* Decode s[0..n) into out (room for n bytes; not NUL-terminated). Returns the decoded length,
 * or -1 (strict only). *high, when not NULL, is set non-zero when a decoded byte is >= 0x80. */
long uvotel__percent_decode(const char *s, size_t n, char *out, int mode, int *high);

#endif
