/* libFuzzer target: the HTTP/1.x client side (instrumentation/src/http_client.c) on arbitrary
 * bytes. The input is split at the first "\n--\n": before it what the program writes, after it
 * what it reads. The written side is cut into writes of 1..4 buffers (the first byte gives the
 * piece length, the second the buffers per write); every other write goes through the
 * try_write path (no insertion). Reads are interleaved, then the read ends (UV_EOF) and the
 * state is freed. Checks, whatever the bytes: nothing crashes or leaks (ASan/UBSan/LSan); a
 * rewritten list holds the program's bytes in order, pointing into its buffers, plus inserted
 * bytes that are whole header lines; the list fits its bound. Spans come from a provider with
 * no processor (not exported, but with ids, so headers are inserted); every other pair of
 * writes runs with a remote parent current. */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http_internal.h"
#include "uvotel.h"

static void check_out(const uv_buf_t *in, unsigned nin, const uvotel__hc_out_t *out) {
  if (out->n == 0) {
    if (out->extra != NULL) abort();
    return;
  }
  if (out->n > UVOTEL__HC_NBUFS_OUT || out->extra == NULL) abort();
  /* Walk the program's bytes alongside the list. */
  unsigned bi = 0;
  size_t bo = 0, ins = 0;
  for (unsigned k = 0; k < out->n; k++) {
    const uv_buf_t *b = &out->bufs[k];
    if (b->base >= out->extra && b->base < out->extra + out->inserted) {
      if (b->len < 4 || memcmp(b->base + b->len - 2, "\r\n", 2) != 0) abort();
      ins += b->len;
      continue;
    }
    while (bi < nin && bo == in[bi].len) {
      bi++;
      bo = 0;
    }
    if (bi == nin || b->base != in[bi].base + bo || b->len > in[bi].len - bo) abort();
    bo += b->len;
  }
  while (bi < nin && bo == in[bi].len) {
    bi++;
    bo = 0;
  }
  if (bi != nin || ins != out->inserted) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *in = (const char *)data;
  const char *sep = size > 0 ? memmem(in, size, "\n--\n", 4) : NULL;
  size_t nw = sep != NULL ? (size_t)(sep - in) : size;
  const char *r = sep != NULL ? sep + 4 : in + size;
  size_t nr = (size_t)(in + size - r);
  static uvotel_tracer_t *tracer;
  if (tracer == NULL) {
    uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
    o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
    tracer = uvotel_tracer_get(uvotel_tracer_provider_create(&o), "fuzz", "1"); /* kept */
  }
  uvotel__hc_t *c = uvotel__hc_new(tracer, NULL, size > 2 && (data[2] & 1u));
  if (c == NULL) return 0;
  size_t wstep = nw > 0 ? (size_t)(uint8_t)in[0] % 64 + 1 : 1;
  unsigned per = nw > 1 ? (unsigned)(uint8_t)in[1] % 4 + 1 : 1;
  size_t rstep = nr > 0 ? (size_t)(uint8_t)r[0] % 64 + 1 : 1;
  uvotel_span_context_t sc;
  memset(&sc, 0, sizeof sc);
  memset(sc.trace_id.bytes, 0x4b, sizeof sc.trace_id.bytes);
  memset(sc.span_id.bytes, 0x07, sizeof sc.span_id.bytes);
  sc.flags = 1;
  uvotel_span_t *parent = uvotel_span_wrap_context(&sc);
  size_t wo = 0, ro = 0;
  unsigned nwrite = 0;
  while (wo < nw || ro < nr) {
    if (wo < nw) {
      uv_buf_t bufs[4];
      unsigned n = 0;
      for (; n < per && wo < nw; n++) {
        size_t l = nw - wo < wstep ? nw - wo : wstep;
        bufs[n] = uv_buf_init((char *)in + wo, (unsigned)l);
        wo += l;
      }
      uvotel_scope_t s;
      int entered = (nwrite & 2u) && uvotel_span_enter(parent, &s) == 0;
      uvotel__hc_out_t out;
      uvotel__hc_write(c, bufs, n, !(nwrite & 1u), &out);
      check_out(bufs, n, &out);
      if ((nwrite & 1u) && out.n != 0) abort(); /* try_write: never rewritten */
      uvotel_free(out.extra);
      if (entered) (void)uvotel_scope_exit(&s);
      nwrite++;
    }
    if (ro < nr) {
      size_t l = nr - ro < rstep ? nr - ro : rstep;
      uvotel__hc_read(c, r + ro, (ssize_t)l);
      ro += l;
    }
  }
  uvotel__hc_read(c, NULL, UV_EOF);
  uvotel__hc_free(c);
  uvotel_span_end(parent);
  return 0;
}
