/* RFC 1035 header + first question (dns_wire.h). */
#include "dns_wire.h"

#include <string.h>

int uvotel__dns_parse(const uint8_t *m, size_t n, uvotel__dns_msg_t *out) {
  memset(out, 0, sizeof *out);
  if (m == NULL || n < 12) return -1;
  out->id = (uint16_t)(m[0] << 8 | m[1]);
  out->qr = m[2] >> 7;
  out->opcode = (m[2] >> 3) & 0xf;
  out->rcode = m[3] & 0xf;
  out->qdcount = (unsigned)(m[4] << 8 | m[5]);
  if (out->qdcount == 0) return 0;
  size_t off = 12, len = 0;
  for (;;) {
    if (off >= n) return -1;
    unsigned l = m[off++];
    if (l == 0) break;
    if (l > 63) return -1; /* compression pointer or reserved type: not in a question here */
    if (off + l > n || len + l + 1 > sizeof out->name - 1) return -1;
    if (len > 0) out->name[len++] = '.';
    for (unsigned i = 0; i < l; i++) {
      uint8_t c = m[off + i];
      out->name[len++] = (c >= 0x21 && c <= 0x7e) ? (char)c : '?';
    }
    off += l;
  }
  if (len == 0) out->name[len++] = '.';
  out->name[len] = '\0';
  if (off + 4 > n) return -1;
  out->qtype = (uint16_t)(m[off] << 8 | m[off + 1]);
  return 0;
}

const char *uvotel__dns_qtype_name(uint16_t t) {
  switch (t) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 35:
      return "NAPTR";
    case 43:
      return "DS";
    case 48:
      return "DNSKEY";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return NULL;
  }
}

const char *uvotel__dns_rcode_name(int r) {
  static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                      "NXRRSET", "NOTAUTH", "NOTZONE"};
  return r >= 0 && r < (int)(sizeof names / sizeof names[0]) ? names[r] : NULL;
}
