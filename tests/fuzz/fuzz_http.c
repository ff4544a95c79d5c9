/* libFuzzer target: the built-in HTTP/1.x detector (uvotel_protocol_http) on arbitrary bytes.
 * The input is split at the first "\n--\n": before it what the program reads, after it what it
 * writes; each side is cut into pieces (the first byte b of each side gives the piece length,
 * b * 37 % 257 + 1: 1 to 257 bytes, so a request or response head can come whole, as the fast
 * framing wants, or cut, as http_parser gets it; 'H' gives 95) and fed alternately, as a connection
 * would see them, then the connection is closed. Checks that nothing crashes or leaks
 * (ASan/UBSan/LeakSanitizer) whatever the bytes, that detect answers one of its three values and
 * that a span current after a read is a real span. Spans go to a NULL tracer (non-recording). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv_protocols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uvotel_protocol_ops_t *ops = uvotel_protocol_http();
  const char *in = (const char *)data;
  const char *sep = NULL;
  for (size_t i = 0; i + 4 <= size; i++) {
    if (memcmp(in + i, "\n--\n", 4) == 0) {
      sep = in + i;
      break;
    }
  }
  size_t nr = sep != NULL ? (size_t)(sep - in) : size;
  const char *w = sep != NULL ? sep + 4 : in + size;
  size_t nw = (size_t)(in + size - w);
  size_t peek = nr < UVOTEL_PROTOCOL_PEEK_MAX ? nr : UVOTEL_PROTOCOL_PEEK_MAX;
  int d = ops->detect(NULL, in, peek);
  if (d != UVOTEL_PROTOCOL_CLAIM && d != UVOTEL_PROTOCOL_DECLINE && d != UVOTEL_PROTOCOL_MORE) {
    abort();
  }
  uv_pipe_t pipe; /* never opened: open only looks at the type (addresses are TCP only) */
  memset(&pipe, 0, sizeof pipe);
  pipe.type = UV_NAMED_PIPE;
  void *conn = ops->open(NULL, (uv_stream_t *)&pipe, NULL);
  if (conn == NULL) return 0;
  size_t rstep = nr > 0 ? (size_t)(uint8_t)in[0] * 37u % 257u + 1 : 1;
  size_t wstep = nw > 0 ? (size_t)(uint8_t)w[0] * 37u % 257u + 1 : 1;
  size_t ro = 0, wo = 0;
  int dead = 0;
  while (ro < nr || wo < nw) {
    if (ro < nr && !dead) {
      size_t n = nr - ro < rstep ? nr - ro : rstep;
      uvotel_span_t *cur = NULL;
      if (ops->read(conn, in + ro, n, &cur) < 0) dead = 1;
      if (cur != NULL) (void)uvotel_span_context(cur);
      ro += n;
    } else {
      ro = nr;
    }
    if (wo < nw) {
      size_t n = nw - wo < wstep ? nw - wo : wstep;
      uv_buf_t b = uv_buf_init((char *)w + wo, (unsigned)n);
      uvotel_span_t *s = ops->write(conn, &b, 1);
      if (s != NULL) uvotel_span_end(s);
      wo += n;
    }
  }
  ops->close(conn);
  return 0;
}
