/* gzip compression of request bodies (zlib, gzip wrapper), with uvotel's allocator. */
#include <string.h>
#include <zlib.h>

#include "otlp_internal.h"

static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  return uvotel_calloc(items, size);
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  uvotel_free(p);
}

int uvotel__otlp_gzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  zs.zalloc = z_alloc;
  zs.zfree = z_free;
  /* 15 window bits + 16: gzip header and trailer; level 1: the body is protobuf, already dense,
   * so the fastest level gets most of the gain at a fraction of the CPU. */
  int zr = deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  if (zr == Z_MEM_ERROR) return UVOTEL_ENOMEM;
  if (zr != Z_OK) return UVOTEL_EIO;
  size_t cap = deflateBound(&zs, (uLong)n);
  uint8_t *buf = uvotel_malloc(cap);
  if (buf == NULL) {
    deflateEnd(&zs);
    return UVOTEL_ENOMEM;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  zs.next_out = buf;
  zs.avail_out = (uInt)cap;
  zr = deflate(&zs, Z_FINISH);
  size_t got = zs.total_out;
  deflateEnd(&zs);
  if (zr != Z_STREAM_END) {
    uvotel_free(buf);
    return UVOTEL_EIO;
  }
  *out = buf;
  *out_n = got;
  return 0;
}
