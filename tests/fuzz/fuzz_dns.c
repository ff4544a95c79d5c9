/* libFuzzer target: the DNS message parser (instrumentation/src/dns_wire.c). Whatever the bytes,
 * it must not read past them (ASan), and what it accepts must hold together: a NUL-terminated
 * name of at most 255 characters made of printable characters, the header fields as in the
 * first 12 bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size > 0 ? size : 1); /* exactly size bytes: ASan sees an overread */
  if (copy == NULL) return 0;
  if (size > 0) memcpy(copy, data, size);
  uvotel__dns_msg_t m;
  if (uvotel__dns_parse(copy, size, &m) == 0) {
    if (size < 12) abort();
    if (m.id != (uint16_t)(copy[0] << 8 | copy[1]) || m.rcode != (copy[3] & 0xf)) abort();
    size_t l = strnlen(m.name, sizeof m.name);
    if (l == sizeof m.name || l > 255) abort();
    if (m.qdcount > 0 && l == 0) abort();
    for (size_t i = 0; i < l; i++) {
      if (m.name[i] < 0x21 || m.name[i] > 0x7e) abort();
    }
    (void)uvotel__dns_qtype_name(m.qtype);
    (void)uvotel__dns_rcode_name(m.rcode);
  }
  free(copy);
  return 0;
}
