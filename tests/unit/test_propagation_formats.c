/* Propagators beyond W3C: B3 (single and multi header) and Jaeger. Every row of
 * tests/data/b3_headers.tsv and tests/data/jaeger_headers.tsv is extracted (and what is accepted
 * is injected again and read back); then the exact inject output, the OTEL_PROPAGATORS names
 * and the parsers' bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "uvotel.h"

#define MAX_HEADERS 16

/* A header carrier that owns its strings: filled from a TSV row or by a propagator's setter. */
typedef struct carrier_s {
  uvotel_header_t h[MAX_HEADERS];
  char *owned[2 * MAX_HEADERS];
  size_t n, n_owned;
  uvotel_header_list_t list;
} carrier_t;

static char *dup_n(carrier_t *c, const char *s, size_t n) {
  char *d = malloc(n + 1);
  assert_non_null(d);
  memcpy(d, s, n);
  d[n] = '\0';
  c->owned[c->n_owned++] = d;
  return d;
}

static void carrier_add(carrier_t *c, const char *name, size_t nl, const char *val, size_t vl) {
  assert_true(c->n < MAX_HEADERS);
  c->h[c->n].name = (uvotel_str_t){dup_n(c, name, nl), nl};
  c->h[c->n].value = (uvotel_str_t){dup_n(c, val, vl), vl};
  c->n++;
  c->list = (uvotel_header_list_t){c->h, c->n};
}

static void carrier_free(carrier_t *c) {
  for (size_t i = 0; i < c->n_owned; i++) free(c->owned[i]);
  memset(c, 0, sizeof *c);
}

/* "name: value || name: value" (the value keeps its own spacing after ": "; the two characters
 * \t stand for an HTAB, which a TSV field cannot hold). */
static void carrier_parse(carrier_t *c, const char *spec) {
  memset(c, 0, sizeof *c);
  c->list = (uvotel_header_list_t){c->h, 0};
  const char *p = spec;
  while (*p) {
    const char *sep = strstr(p, " || ");
    const char *end = sep ? sep : p + strlen(p);
    const char *colon = memchr(p, ':', (size_t)(end - p));
    assert_non_null(colon);
    const char *v = colon + 1;
    if (*v == ' ') v++;
    char val[512];
    size_t vl = 0;
    for (const char *q = v; q < end && vl < sizeof val; q++) {
      if (q[0] == '\\' && q + 1 < end && q[1] == 't') {
        val[vl++] = '\t';
        q++;
      } else {
        val[vl++] = *q;
      }
    }
    carrier_add(c, p, (size_t)(colon - p), val, vl);
    p = sep ? sep + 4 : end;
  }
}

static int carrier_set(void *carrier, const char *name, const char *value, size_t len) {
  carrier_t *c = carrier;
  if (c->n == MAX_HEADERS) return UVOTEL_ENOMEM;
  carrier_add(c, name, strlen(name), value, len);
  return 0;
}

static const uvotel_carrier_setter_t setter = {carrier_set};

static const char *carrier_get1(carrier_t *c, const char *name) {
  uvotel_str_t v[2];
  if (uvotel_header_getter.get(&c->list, name, v, 2) != 1) return NULL;
  return v[0].ptr; /* NUL-terminated: dup_n */
}

/* "TRACEID SPANID FLAGS" of an extracted context, or "-". */
static void ctx_str(const uvotel_span_context_t *sc, char *out, size_t cap) {
  if (!uvotel_span_context_is_valid(sc)) {
    snprintf(out, cap, "-");
    return;
  }
  char t[33], s[17];
  snprintf(out, cap, "%s %s %02x", uvotel_trace_id_to_hex(&sc->trace_id, t),
           uvotel_span_id_to_hex(&sc->span_id, s), sc->flags);
}

static void baggage_s(const uvotel_baggage_t *b, char *out, size_t cap) {
  size_t len;
  const char *s = uvotel_baggage_str(b, &len);
  snprintf(out, cap, "%.*s", len ? (int)len : 1, len ? s : "-");
}

/* Read a TSV into rows of up to 5 fields (the header line skipped). */
typedef struct row_s {
  char *f[5];
  size_t nf;
} row_t;

static size_t read_rows(const char *file, row_t *rows, size_t cap, char **buf_out) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/%s", UVOTEL_SOURCE_DIR, file);
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long sz = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)sz + 1);
  assert_non_null(buf);
  assert_int_equal(fread(buf, 1, (size_t)sz, fp), (size_t)sz);
  buf[sz] = '\0';
  fclose(fp);
  size_t n = 0;
  char *line = strchr(buf, '\n') + 1; /* skip the column names */
  while (*line && n < cap) {
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    row_t *r = &rows[n++];
    r->nf = 0;
    char *p = line;
    while (r->nf < 5) {
      r->f[r->nf++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = '\0';
      p = tab + 1;
    }
    line = nl ? nl + 1 : line + strlen(line);
  }
  *buf_out = buf;
  return n;
}

/* Inject sc with p into a fresh carrier and extract it again with p. */
static void assert_round_trip(uvotel_propagator_t *p, const uvotel_span_context_t *sc,
                              const char *id) {
  carrier_t c;
  memset(&c, 0, sizeof c);
  c.list = (uvotel_header_list_t){c.h, 0};
  assert_int_equal(uvotel_propagator_inject(p, sc, NULL, &c, &setter), 0);
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(uvotel_propagator_extract(p, &c.list, &uvotel_header_getter, &x), 0);
  char a[80], b[80];
  ctx_str(sc, a, sizeof a);
  ctx_str(&x.span_context, b, sizeof b);
  if (strcmp(a, b) != 0)
    fail_msg("%s round trip through %s: %s != %s", id, uvotel_propagator_name(p), b, a);
  uvotel_extracted_reset(&x);
  carrier_free(&c);
}

static void test_b3_table(void **state) {
  (void)state;
  row_t rows[64];
  char *buf;
  size_t n = read_rows("b3_headers.tsv", rows, 64, &buf);
  assert_int_equal(n, 39);
  for (size_t i = 0; i < n; i++) {
    row_t *r = &rows[i];
    assert_true(r->nf >= 3);
    carrier_t c;
    carrier_parse(&c, r->f[1]);
    /* b3 and b3multi extract alike */
    uvotel_propagator_t *ps[2] = {uvotel_propagator_b3(), uvotel_propagator_b3multi()};
    for (int k = 0; k < 2; k++) {
      uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
      assert_int_equal(uvotel_propagator_extract(ps[k], &c.list, &uvotel_header_getter, &x), 0);
      char got[80];
      ctx_str(&x.span_context, got, sizeof got);
      if (strcmp(got, r->f[2]) != 0) {
        fail_msg("%s (%s): got %s, want %s", r->f[0], r->f[3], got, r->f[2]);
      }
      assert_null(x.span_context.trace_state);
      assert_null(x.baggage);
      if (strcmp(r->f[2], "-") != 0) {
        assert_int_equal(x.span_context.is_remote, 1);
        assert_round_trip(uvotel_propagator_b3(), &x.span_context, r->f[0]);
        assert_round_trip(uvotel_propagator_b3multi(), &x.span_context, r->f[0]);
      }
      uvotel_extracted_reset(&x);
    }
    carrier_free(&c);
  }
  free(buf);
}

static void test_jaeger_table(void **state) {
  (void)state;
  row_t rows[64];
  char *buf;
  size_t n = read_rows("jaeger_headers.tsv", rows, 64, &buf);
  assert_int_equal(n, 23);
  for (size_t i = 0; i < n; i++) {
    row_t *r = &rows[i];
    assert_true(r->nf >= 4);
    carrier_t c;
    carrier_parse(&c, r->f[1]);
    uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
    assert_int_equal(
        uvotel_propagator_extract(uvotel_propagator_jaeger(), &c.list, &uvotel_header_getter, &x),
        0);
    char got[80], bg[256];
    ctx_str(&x.span_context, got, sizeof got);
    baggage_s(x.baggage, bg, sizeof bg);
    if (strcmp(got, r->f[2]) != 0)
      fail_msg("%s (%s): got %s, want %s", r->f[0], r->f[4], got, r->f[2]);
    if (strcmp(bg, r->f[3]) != 0)
      fail_msg("%s (%s): baggage %s, want %s", r->f[0], r->f[4], bg, r->f[3]);
    if (strcmp(r->f[2], "-") != 0) {
      assert_round_trip(uvotel_propagator_jaeger(), &x.span_context, r->f[0]);
    }
    uvotel_extracted_reset(&x);
    carrier_free(&c);
  }
  free(buf);
}

static uvotel_span_context_t sample_ctx(uint8_t flags) {
  uvotel_span_context_t sc = {0};
  for (int i = 0; i < 16; i++) sc.trace_id.bytes[i] = (uint8_t)(0x10 + i);
  for (int i = 0; i < 8; i++) sc.span_id.bytes[i] = (uint8_t)(0xa0 + i);
  sc.flags = flags;
  return sc;
}

#define TID "101112131415161718191a1b1c1d1e1f"
#define SID "a0a1a2a3a4a5a6a7"

static void test_inject_exact(void **state) {
  (void)state;
  uvotel_span_context_t sc = sample_ctx(UVOTEL_TRACE_FLAG_SAMPLED | UVOTEL_TRACE_FLAG_RANDOM);
  carrier_t c = {0};
  c.list = (uvotel_header_list_t){c.h, 0};
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_b3(), &sc, NULL, &c, &setter), 0);
  assert_int_equal(c.n, 1);
  assert_string_equal(carrier_get1(&c, "b3"), TID "-" SID "-1");
  carrier_free(&c);

  sc.flags = 0;
  c.list = (uvotel_header_list_t){c.h, 0};
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_b3multi(), &sc, NULL, &c, &setter),
                   0);
  assert_int_equal(c.n, 3); /* never X-B3-ParentSpanId nor X-B3-Flags */
  assert_string_equal(carrier_get1(&c, "x-b3-traceid"), TID);
  assert_string_equal(carrier_get1(&c, "x-b3-spanid"), SID);
  assert_string_equal(carrier_get1(&c, "x-b3-sampled"), "0");
  carrier_free(&c);

  /* Jaeger: context and every baggage member, values percent-encoded */
  uvotel_baggage_t *b = NULL, *b2 = NULL;
  assert_int_equal(uvotel_baggage_set(NULL, "user", "alice", NULL, &b), 0);
  assert_int_equal(uvotel_baggage_set(b, "Msg", "a b,c", NULL, &b2), 0);
  sc.flags = UVOTEL_TRACE_FLAG_SAMPLED;
  c.list = (uvotel_header_list_t){c.h, 0};
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_jaeger(), &sc, b2, &c, &setter), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(carrier_get1(&c, "uber-trace-id"), TID ":" SID ":0:1");
  assert_string_equal(carrier_get1(&c, "uberctx-user"), "alice");
  assert_string_equal(carrier_get1(&c, "uberctx-msg"), "a%20b%2Cc");
  /* and back: the value decodes to the original bytes */
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_jaeger(), &c.list, &uvotel_header_getter, &x), 0);
  size_t len;
  const char *v = uvotel_baggage_get(x.baggage, "msg", &len);
  assert_non_null(v);
  assert_string_equal(v, "a b,c");
  assert_string_equal(uvotel_baggage_get(x.baggage, "user", &len), "alice");
  uvotel_extracted_reset(&x);
  carrier_free(&c);
  uvotel_baggage_release(b);
  uvotel_baggage_release(b2);

  /* no valid context: no trace fields from any of them */
  uvotel_span_context_t none = {0};
  uvotel_propagator_t *ps[3] = {uvotel_propagator_b3(), uvotel_propagator_b3multi(),
                                uvotel_propagator_jaeger()};
  for (int k = 0; k < 3; k++) {
    c.list = (uvotel_header_list_t){c.h, 0};
    assert_int_equal(uvotel_propagator_inject(ps[k], &none, NULL, &c, &setter), 0);
    assert_int_equal(uvotel_propagator_inject(ps[k], NULL, NULL, &c, &setter), 0);
    assert_int_equal(c.n, 0);
  }
}

static int failing_set(void *carrier, const char *name, const char *value, size_t len) {
  (void)carrier, (void)name, (void)value, (void)len;
  return UVOTEL_ENOMEM;
}

static void test_inject_setter_error(void **state) {
  (void)state;
  uvotel_span_context_t sc = sample_ctx(1);
  const uvotel_carrier_setter_t bad = {failing_set};
  int dummy;
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_b3(), &sc, NULL, &dummy, &bad),
                   UVOTEL_ENOMEM);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_b3multi(), &sc, NULL, &dummy, &bad),
                   UVOTEL_ENOMEM);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_jaeger(), &sc, NULL, &dummy, &bad),
                   UVOTEL_ENOMEM);
}

static void test_names_and_fields(void **state) {
  (void)state;
  uvotel_propagator_t *p = NULL;
  size_t pos = 99;
  assert_int_equal(uvotel_propagator_from_names("B3", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_b3());
  assert_string_equal(uvotel_propagator_name(p), "b3");
  assert_int_equal(uvotel_propagator_from_names("b3multi", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_b3multi());
  assert_int_equal(uvotel_propagator_from_names(" jaeger ", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_jaeger());
  const char *f[8];
  assert_int_equal(uvotel_propagator_fields(p, f, 8), 1);
  assert_string_equal(f[0], "uber-trace-id");
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_b3multi(), f, 8), 3);

  /* several at once: a composite in the order given; extract merges, inject writes all */
  assert_int_equal(uvotel_propagator_from_names("tracecontext,baggage,b3,jaeger,b3", &p, &pos), 0);
  assert_string_equal(uvotel_propagator_name(p), "composite");
  assert_int_equal(uvotel_propagator_fields(p, f, 8), 5);
  assert_string_equal(f[0], "traceparent");
  assert_string_equal(f[3], "b3");
  assert_string_equal(f[4], "uber-trace-id");
  uvotel_span_context_t sc = sample_ctx(1);
  carrier_t c = {0};
  c.list = (uvotel_header_list_t){c.h, 0};
  assert_int_equal(uvotel_propagator_inject(p, &sc, NULL, &c, &setter), 0);
  assert_int_equal(c.n, 3);
  assert_string_equal(carrier_get1(&c, "b3"), TID "-" SID "-1");
  assert_non_null(carrier_get1(&c, "traceparent"));
  assert_non_null(carrier_get1(&c, "uber-trace-id"));
  carrier_free(&c);
  uvotel_propagator_free(p);

  /* still unknown or not implemented */
  assert_int_equal(uvotel_propagator_from_names("b3,ottrace", &p, &pos), UVOTEL_ENOTSUP);
  assert_int_equal(pos, 3);
  assert_null(p);
  assert_int_equal(uvotel_propagator_from_names("b3single", &p, &pos), UVOTEL_ENOENT);
  assert_int_equal(pos, 0);
}

static void test_parse_bad_input(void **state) {
  (void)state;
  uvotel_span_context_t sc = sample_ctx(1), before = sc;
  const char *ok_b3 = TID "-" SID "-1";
  const char *ok_j = TID ":" SID ":0:1";
  assert_int_equal(uvotel_b3_single_parse(NULL, 3, &sc), UVOTEL_EINVAL);
  assert_int_equal(uvotel_b3_single_parse(ok_b3, strlen(ok_b3), NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_jaeger_parse(NULL, 3, &sc), UVOTEL_EINVAL);
  assert_int_equal(uvotel_jaeger_parse(ok_j, strlen(ok_j), NULL), UVOTEL_EINVAL);
  /* malformed input leaves *out as it was */
  assert_int_equal(uvotel_b3_single_parse("0", 1, &sc), UVOTEL_EPARSE);
  assert_int_equal(uvotel_b3_single_parse("", 0, &sc), UVOTEL_EPARSE);
  assert_int_equal(uvotel_jaeger_parse("", 0, &sc), UVOTEL_EPARSE);
  char longv[300];
  memset(longv, '1', sizeof longv);
  assert_int_equal(uvotel_jaeger_parse(longv, sizeof longv, &sc), UVOTEL_EPARSE);
  assert_int_equal(uvotel_jaeger_parse("%3", 2, &sc), UVOTEL_EPARSE);
  assert_memory_equal(&sc, &before, sizeof sc);
  /* the length is honoured: no NUL needed, nothing read past it */
  assert_int_equal(uvotel_b3_single_parse(ok_b3, strlen(ok_b3) - 2, &sc), 0);
  assert_int_equal(sc.flags, 0);
  assert_int_equal(uvotel_jaeger_parse(ok_j, strlen(ok_j) - 1, &sc), UVOTEL_EPARSE);
  /* NULL arguments to the generic entry points */
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_b3(), NULL, NULL, &x),
                   UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_jaeger(), &sc, NULL, NULL, &setter),
                   UVOTEL_EINVAL);
  /* a getter without keys: jaeger reads the context and skips uberctx- baggage */
  carrier_t c;
  carrier_parse(&c, "uber-trace-id: " TID ":" SID ":0:1 || uberctx-user: alice");
  const uvotel_carrier_getter_t no_keys = {uvotel_header_getter.get, NULL};
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_jaeger(), &c.list, &no_keys, &x), 0);
  assert_true(uvotel_span_context_is_valid(&x.span_context));
  assert_null(x.baggage);
  uvotel_extracted_reset(&x);
  carrier_free(&c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_b3_table),         cmocka_unit_test(test_jaeger_table),
      cmocka_unit_test(test_inject_exact),     cmocka_unit_test(test_inject_setter_error),
      cmocka_unit_test(test_names_and_fields), cmocka_unit_test(test_parse_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
