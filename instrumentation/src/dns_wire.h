/* RFC 1035 message header and first question, parsed from at most the bytes given
 * (dns_wire.c). Private to libuvotel_uv; also compiled into tests/fuzz/fuzz_dns. */
#ifndef UVOTEL_DNS_WIRE_H
#define UVOTEL_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct uvotel__dns_msg_s {
  uint16_t id;
  int qr;     /* 1: a response */
  int opcode; /* 0: a standard query */
  int rcode;  /* response code (low 4 bits of the header) */
  unsigned qdcount;
  uint16_t qtype;
  char name[256]; /* the first question's name, dotted, "." for the root; NUL-terminated */
} uvotel__dns_msg_t;

/* Parse the header and, when qdcount > 0, the first question. 0, or -1 for anything not a
 * well-formed message start (too short, a label over 63 bytes, a name over 255, a compression
 * pointer or reserved label type in the question, a truncated question). Never reads past n. */
int uvotel__dns_parse(const uint8_t *m, size_t n, uvotel__dns_msg_t *out);

/* The mnemonic of a QTYPE ("A", "AAAA", ...), or NULL for one not in the short list. */
const char *uvotel__dns_qtype_name(uint16_t qtype);

/* The mnemonic of an RCODE ("NXDOMAIN", ...), or NULL. */
const char *uvotel__dns_rcode_name(int rcode);

#endif
