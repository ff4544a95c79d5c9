/* ExportLogsServiceRequest protobuf encoding, written directly (no protobuf-c tree): the buffer
 * is filled from its end towards its start (pbw.h, the span encoder's writer too), so every
 * nested message's length is known when its header is written and nothing is measured twice.
 * Field numbers are those of proto/opentelemetry/proto/logs/v1/logs.proto (the receiver in
 * tests/support decodes with protobuf-c from those files, which checks this encoder against them).
 * Invalid UTF-8 in any string is repaired as in spans: each ill-formed subpart becomes U+FFFD.
 */
#include <stdlib.h>
#include <string.h>

#include "otlp_internal.h"
#include "pbw.h"
#include "uvotel/exporters/logs.h"

/* The writer is pbw.h's (shared with the span encoder); these are the log encoder's calls on
 * it, each making its own room. */
typedef pbw_t rw_t;

static size_t used(const rw_t *w) {
  return pbw_used(w);
}

/* Close a length-delimited field whose contents were written since `mark`. */
static void put_len(rw_t *w, uint32_t field, size_t mark) {
  pbw_close(w, field, mark);
}

static void put_bytes_field(rw_t *w, uint32_t field, const void *p, size_t n) {
  pbw_bytes(w, field, p, n);
}

/* fixed64 / fixed32 fields, written even when 0 */
static void put_fixed64(rw_t *w, uint32_t field, uint64_t v) {
  if (pbw_room(w, PBW_TAG_MAX + 8)) w->p = pb_tag(pb_fixed64(w->p, v), field, PBW_I64);
}

static void put_fixed32(rw_t *w, uint32_t field, uint32_t v) {
  if (pbw_room(w, PBW_TAG_MAX + 4)) w->p = pb_tag(pb_fixed32(w->p, v), field, PBW_I32);
}

static void put_uint_field(rw_t *w, uint32_t field, uint64_t v) {
  if (pbw_room(w, PBW_HDR_MAX)) w->p = pb_varint_field(w->p, field, v);
}

/* Strings, values and attributes below go through the span encoder's writers (encode.c), so both
 * signals write them alike and repair invalid UTF-8 the same way (U+FFFD). */

static void put_record(rw_t *w, const uvotel_log_data_t *d) {
  size_t mark = used(w);
  put_fixed64(w, 11, d->observed_unix_ns);
  if (!uvotel_trace_id_is_zero(&d->trace_id)) {
    put_bytes_field(w, 10, d->span_id.bytes, 8);
    put_bytes_field(w, 9, d->trace_id.bytes, 16);
  }
  if (d->trace_flags != 0) put_fixed32(w, 8, d->trace_flags);
  put_uint_field(w, 7, d->dropped_attributes);
  uvotel__otlp_pb_attrs(w, 6, d->attrs, d->n_attrs);
  if (d->body.type != UVOTEL_VALUE_NONE) uvotel__otlp_pb_any(w, 5, &d->body);
  uvotel__otlp_pb_str(w, 3, d->severity_text);
  put_uint_field(w, 2, (uint64_t)d->severity);
  if (d->time_unix_ns != 0) put_fixed64(w, 1, d->time_unix_ns);
  put_len(w, 2, mark); /* ScopeLogs.log_records */
}

static void put_scope(rw_t *w, const uvotel_instrumentation_scope_t *sc) {
  size_t mark = used(w);
  uvotel__otlp_pb_attrs(w, 3, sc->attrs, sc->n_attrs);
  uvotel__otlp_pb_str(w, 2, sc->version);
  uvotel__otlp_pb_str(w, 1, sc->name);
  put_len(w, 1, mark); /* ScopeLogs.scope */
}

static void put_resource(rw_t *w, const uvotel_trace_resource_t *r) {
  size_t mark = used(w);
  if (r != NULL) {
    put_uint_field(w, 2, r->dropped_attributes);
    uvotel__otlp_pb_attrs(w, 1, r->attrs, r->n_attrs);
  }
  put_len(w, 1, mark); /* ResourceLogs.resource */
}

typedef struct key_s {
  uint32_t rg, sg; /* first-seen order of the resource and of the (resource, scope) pair */
  uint32_t idx;
} key_t_;

static int key_cmp(const void *a, const void *b) {
  const key_t_ *x = a, *y = b;
  if (x->rg != y->rg) return x->rg < y->rg ? -1 : 1;
  if (x->sg != y->sg) return x->sg < y->sg ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

int uvotel__otlp_encode_logs(const uvotel_log_data_t *const *recs, size_t n, uint8_t **out,
                             size_t *out_n) {
  if (out == NULL || out_n == NULL || (recs == NULL && n > 0)) return UVOTEL_EINVAL;
  *out = NULL;
  *out_n = 0;
  for (size_t i = 0; i < n; i++) {
    if (recs[i] == NULL || recs[i]->scope == NULL) return UVOTEL_EINVAL;
  }
  if (n > UINT32_MAX) return UVOTEL_ERANGE;
  key_t_ *keys = n ? uvotel_malloc(sizeof *keys * n) : NULL;
  if (n && keys == NULL) return UVOTEL_ENOMEM;
  /* first-seen group numbers (linear in the number of groups, which is small) */
  uint32_t n_rg = 0, n_sg = 0;
  for (size_t i = 0; i < n; i++) {
    keys[i].idx = (uint32_t)i;
    size_t j = 0;
    while (j < i && recs[keys[j].idx]->resource != recs[i]->resource) j++;
    keys[i].rg = j < i ? keys[j].rg : n_rg++;
    j = 0;
    while (j < i && !(recs[j]->resource == recs[i]->resource && recs[j]->scope == recs[i]->scope)) {
      j++;
    }
    keys[i].sg = j < i ? keys[j].sg : n_sg++;
  }
  if (n > 1) qsort(keys, n, sizeof *keys, key_cmp);
  rw_t w;
  pbw_init(&w, NULL, 0);
  size_t i = n;
  while (i > 0) {
    /* one ResourceLogs: keys[rs, i) */
    size_t rs = i;
    while (rs > 0 && keys[rs - 1].rg == keys[i - 1].rg) rs--;
    const uvotel_trace_resource_t *res = recs[keys[i - 1].idx]->resource;
    size_t rmark = used(&w);
    if (res != NULL) uvotel__otlp_pb_str(&w, 3, res->schema_url);
    size_t k = i;
    while (k > rs) {
      size_t ss = k;
      while (ss > rs && keys[ss - 1].sg == keys[k - 1].sg) ss--;
      const uvotel_instrumentation_scope_t *sc = recs[keys[k - 1].idx]->scope;
      size_t smark = used(&w);
      uvotel__otlp_pb_str(&w, 3, sc->schema_url);
      for (size_t m = k; m-- > ss;) put_record(&w, recs[keys[m].idx]);
      put_scope(&w, sc);
      put_len(&w, 2, smark); /* ResourceLogs.scope_logs */
      k = ss;
    }
    put_resource(&w, res);
    put_len(&w, 1, rmark); /* ExportLogsServiceRequest.resource_logs */
    i = rs;
  }
  uvotel_free(keys);
  if (w.failed) {
    uvotel_free(w.lo);
    return UVOTEL_ENOMEM;
  }
  size_t len = used(&w);
  if (len == 0) {
    uvotel_free(w.lo);
    *out = uvotel_malloc(1);
    if (*out == NULL) return UVOTEL_ENOMEM;
    return 0;
  }
  /* the body is the buffer's end: moved to its start, one allocation given away */
  if (w.p != w.lo) memmove(w.lo, w.p, len);
  *out = w.lo;
  *out_n = len;
  return 0;
}

UVOTEL__API int uvotel_otlp_http_encode_logs(const uvotel_log_data_t *const *recs, size_t n,
                                             uint8_t **body, size_t *len) {
  return uvotel__otlp_encode_logs(recs, n, body, len);
}
