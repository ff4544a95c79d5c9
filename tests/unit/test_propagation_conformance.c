/* W3C Trace Context Level 2 and Baggage conformance: every row of tests/data/w3c_headers.tsv
 * (139 cases; columns in tests/data/w3c_headers.COLUMNS.txt) goes through the default propagator's
 * extract, as a service receiving the request would, and then through inject, as that service
 * calling the next one would; each row is its own cmocka test and checks the required outcome. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "counting_alloc.h"
#include "prop_carrier.h"
#include "uvotel.h"

#define ROWS_EXPECTED 139
#define VALID_TP "00-12345678901234567890123456789012-1234567890123456-00"

typedef struct row_s {
  char *f[7]; /* id header value with_tp expect propagated source */
  char name[160];
} row_t;

enum { F_ID, F_HEADER, F_VALUE, F_WITH_TP, F_EXPECT, F_PROP, F_SOURCE };

/* ---- small helpers ---- */

static char *xstrndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Undo the TSV escapes (\t, \\) and split at \n into lines. Returns the line count. */
static size_t unescape_lines(const char *s, char **lines, size_t cap) {
  size_t n = 0, len = strlen(s);
  char *cur = malloc(len + 1);
  size_t cl = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' && i + 1 < len) {
      char c = s[i + 1];
      if (c == 't' || c == '\\' || c == 'n') {
        i++;
        if (c == 'n') {
          cur[cl] = '\0';
          assert_true(n < cap);
          lines[n++] = cur;
          cur = malloc(len + 1);
          cl = 0;
          continue;
        }
        cur[cl++] = c == 't' ? '\t' : '\\';
        continue;
      }
    }
    cur[cl++] = s[i];
  }
  cur[cl] = '\0';
  assert_true(n < cap);
  lines[n++] = cur;
  return n;
}

/* Unescape; several lines are joined with "," as RFC 7230 combines repeated fields. */
static char *unescape(const char *s) {
  char *lines[64];
  size_t n = unescape_lines(s, lines, 64);
  for (size_t i = 1; i < n; i++) {
    size_t a = strlen(lines[0]), b = strlen(lines[i]);
    lines[0] = realloc(lines[0], a + b + 2);
    lines[0][a] = ',';
    memcpy(lines[0] + a + 1, lines[i], b + 1);
    free(lines[i]);
  }
  return lines[0];
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
  uint64_t x = rng_state;
  x ^= x << 13, x ^= x >> 7, x ^= x << 17;
  return rng_state = x;
}
static void rnd_bytes(uint8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)rnd();
  b[0] |= 1; /* never all zero */
}

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static int is_lower_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  }
  return 1;
}

/* ---- a minimal JSON reader for the baggage "propagated" column ---- */

typedef struct jv_s {
  int type; /* 0 null, 1 string, 2 array */
  char *s;
  size_t sl;
  struct jv_s *a;
  size_t n;
} jv_t;

static void skip_ws(const char **p) {
  while (**p == ' ' || **p == '\t' || **p == '\n') (*p)++;
}

static void put_utf8(char *d, size_t *dl, unsigned cp) {
  if (cp < 0x80) {
    d[(*dl)++] = (char)cp;
  } else if (cp < 0x800) {
    d[(*dl)++] = (char)(0xc0 | (cp >> 6));
    d[(*dl)++] = (char)(0x80 | (cp & 0x3f));
  } else {
    d[(*dl)++] = (char)(0xe0 | (cp >> 12));
    d[(*dl)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[(*dl)++] = (char)(0x80 | (cp & 0x3f));
  }
}

static int json_parse(const char **p, jv_t *v) {
  skip_ws(p);
  memset(v, 0, sizeof *v);
  if (strncmp(*p, "null", 4) == 0) {
    *p += 4;
    return 0;
  }
  if (**p == '"') {
    (*p)++;
    size_t cap = strlen(*p) + 1, dl = 0;
    char *d = malloc(cap);
    while (**p != '"') {
      if (**p == '\0') return -1;
      if (**p == '\\') {
        (*p)++;
        char c = *(*p)++;
        switch (c) {
          case 't':
            d[dl++] = '\t';
            break;
          case 'n':
            d[dl++] = '\n';
            break;
          case 'r':
            d[dl++] = '\r';
            break;
          case 'b':
            d[dl++] = '\b';
            break;
          case 'f':
            d[dl++] = '\f';
            break;
          case 'u': {
            char h4[5] = {0};
            memcpy(h4, *p, 4);
            unsigned cp = (unsigned)strtoul(h4, NULL, 16);
            *p += 4;
            put_utf8(d, &dl, cp);
            break;
          }
          default:
            d[dl++] = c;
        }
      } else {
        d[dl++] = *(*p)++;
      }
    }
    (*p)++;
    d[dl] = '\0';
    v->type = 1;
    v->s = d;
    v->sl = dl;
    return 0;
  }
  if (**p == '[') {
    (*p)++;
    v->type = 2;
    v->a = calloc(256, sizeof(jv_t));
    skip_ws(p);
    if (**p == ']') {
      (*p)++;
      return 0;
    }
    for (;;) {
      if (v->n == 256 || json_parse(p, &v->a[v->n++]) != 0) return -1;
      skip_ws(p);
      if (**p == ',') {
        (*p)++;
        continue;
      }
      if (**p == ']') {
        (*p)++;
        return 0;
      }
      return -1;
    }
  }
  return -1;
}

static void json_free(jv_t *v) {
  free(v->s);
  for (size_t i = 0; i < v->n; i++) json_free(&v->a[i]);
  free(v->a);
}

/* Compare a baggage with the expected JSON list [[key, value, [[pk, pv|null], ...]], ...]. */
static void check_baggage_json(const row_t *r, const uvotel_baggage_t *b, const jv_t *want) {
  assert_int_equal(want->type, 2);
  if (uvotel_baggage_count(b) != want->n) {
    fail_msg("%s: %zu members, want %zu", r->name, uvotel_baggage_count(b), want->n);
  }
  for (size_t i = 0; i < want->n; i++) {
    const jv_t *m = &want->a[i];
    assert_true(m->type == 2 && m->n == 3);
    uvotel_baggage_entry_t e;
    assert_int_equal(uvotel_baggage_at(b, i, &e), 0);
    assert_int_equal(e.key.len, m->a[0].sl);
    assert_memory_equal(e.key.ptr, m->a[0].s, e.key.len);
    if (e.value.len != m->a[1].sl || memcmp(e.value.ptr, m->a[1].s, e.value.len) != 0) {
      fail_msg("%s: member %zu value '%.*s', want '%s'", r->name, i, (int)e.value.len, e.value.ptr,
               m->a[1].s);
    }
    assert_int_equal(e.value.ptr[e.value.len], '\0');
    const jv_t *props = &m->a[2];
    assert_int_equal(e.n_props, props->n);
    for (size_t j = 0; j < props->n; j++) {
      const jv_t *pk = &props->a[j].a[0], *pv = &props->a[j].a[1];
      assert_int_equal(e.props[j].key.len, pk->sl);
      assert_memory_equal(e.props[j].key.ptr, pk->s, pk->sl);
      if (pv->type == 0) {
        assert_null(e.props[j].value.ptr);
      } else {
        assert_non_null(e.props[j].value.ptr);
        assert_int_equal(e.props[j].value.len, pv->sl);
        assert_memory_equal(e.props[j].value.ptr, pv->s, pv->sl);
      }
    }
  }
}

/* Two baggages hold the same members (keys, values, properties). */
static void assert_same_baggage(const uvotel_baggage_t *a, const uvotel_baggage_t *b) {
  assert_int_equal(uvotel_baggage_count(a), uvotel_baggage_count(b));
  for (size_t i = 0; i < uvotel_baggage_count(a); i++) {
    uvotel_baggage_entry_t x, y;
    assert_int_equal(uvotel_baggage_at(a, i, &x), 0);
    assert_int_equal(uvotel_baggage_at(b, i, &y), 0);
    assert_int_equal(x.key.len, y.key.len);
    assert_memory_equal(x.key.ptr, y.key.ptr, x.key.len);
    assert_int_equal(x.value.len, y.value.len);
    assert_memory_equal(x.value.ptr, y.value.ptr, x.value.len);
    assert_int_equal(x.n_props, y.n_props);
    for (size_t j = 0; j < x.n_props; j++) {
      assert_int_equal(x.props[j].key.len, y.props[j].key.len);
      assert_memory_equal(x.props[j].key.ptr, y.props[j].key.ptr, x.props[j].key.len);
      assert_int_equal(x.props[j].value.ptr == NULL, y.props[j].value.ptr == NULL);
      assert_int_equal(x.props[j].value.len, y.props[j].value.len);
      if (x.props[j].value.len) {
        assert_memory_equal(x.props[j].value.ptr, y.props[j].value.ptr, x.props[j].value.len);
      }
    }
  }
}

/* ---- per-row fixture: a loop, and the allocation balance ---- */

typedef struct fix_s {
  uv_loop_t loop;
  long live0;
  row_t *row;
} fix_t;

static int setup(void **state) {
  fix_t *f = calloc(1, sizeof *f);
  f->row = *state;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->live0 = counting_alloc_stats().live;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fix_t *f = *state;
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

/* ---- the service: extract from the request, continue (or restart) the trace, inject ---- */

typedef struct outcome_s {
  uvotel_extracted_t x;
  uvotel_span_context_t child;
  out_carrier_t out;
} outcome_t;

static void serve(const row_t *r, outcome_t *o) {
  char *lines[64];
  size_t nl = unescape_lines(r->f[F_VALUE], lines, 64);
  in_carrier_t in;
  in_init(&in);
  const char *wtp = r->f[F_WITH_TP];
  if (strcmp(wtp, "valid") == 0) {
    in_add(&in, "traceparent", VALID_TP, strlen(VALID_TP));
  } else if (strcmp(wtp, "none") != 0 && strcmp(wtp, "-") != 0) {
    in_add(&in, "traceparent", wtp, strlen(wtp));
  }
  for (size_t i = 0; i < nl; i++) in_add(&in, r->f[F_HEADER], lines[i], strlen(lines[i]));

  uvotel_extracted_t init = UVOTEL_EXTRACTED_INIT;
  o->x = init;
  memset(&o->out, 0, sizeof o->out);
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_default(), &in.list,
                                             &uvotel_header_getter, &o->x),
                   0);
  for (size_t i = 0; i < nl; i++) free(lines[i]);

  /* The span this service starts: a child of the remote parent, or a new root. */
  memset(&o->child, 0, sizeof o->child);
  if (uvotel_span_context_is_valid(&o->x.span_context)) {
    assert_int_equal(o->x.span_context.is_remote, 1);
    o->child = o->x.span_context;
    o->child.is_remote = 0;
    do rnd_bytes(o->child.span_id.bytes, 8);
    while (memcmp(o->child.span_id.bytes, o->x.span_context.span_id.bytes, 8) == 0);
  } else {
    assert_null(o->x.span_context.trace_state);
    rnd_bytes(o->child.trace_id.bytes, 16);
    rnd_bytes(o->child.span_id.bytes, 8);
    o->child.flags = UVOTEL_TRACE_FLAG_SAMPLED | UVOTEL_TRACE_FLAG_RANDOM;
  }
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &o->child, o->x.baggage,
                                            &o->out, &out_setter),
                   0);
}

static void outcome_free(outcome_t *o) {
  uvotel_extracted_reset(&o->x);
  out_free(&o->out);
}

/* ---- traceparent rows ---- */

static void check_tp(const row_t *r, outcome_t *o) {
  const char *tp = out_get(&o->out, "traceparent");
  assert_non_null(tp);
  assert_int_equal(strlen(tp), 55);
  assert_true(tp[0] == '0' && tp[1] == '0' && tp[2] == '-' && tp[35] == '-' && tp[52] == '-');
  assert_true(is_lower_hex(tp + 3, 32) && is_lower_hex(tp + 36, 16) && is_lower_hex(tp + 53, 2));
  assert_null(out_get(&o->out, "tracestate"));
  const char *want = r->f[F_PROP];
  if (strcmp(r->f[F_EXPECT], "accept") == 0) {
    if (!uvotel_span_context_is_valid(&o->x.span_context)) fail_msg("%s: rejected", r->name);
    /* want: 00-<32 hex>-NEW16-<2 hex> */
    assert_int_equal(strlen(want), 3 + 32 + 1 + 5 + 1 + 2);
    assert_memory_equal(tp, want, 3 + 32 + 1);  /* version 00 and the same trace id */
    assert_memory_equal(tp + 53, want + 42, 2); /* flags: random kept, unknown bits zeroed */
    char incoming_parent[17];
    hex(o->x.span_context.span_id.bytes, 8, incoming_parent);
    assert_memory_not_equal(tp + 36, incoming_parent, 16); /* the parent id changes */
    assert_memory_not_equal(tp + 36, "0000000000000000", 16);
  } else {
    assert_string_equal(r->f[F_EXPECT], "reject");
    assert_string_equal(want, "00-NEW32-NEW16-(new flags)");
    if (uvotel_span_context_is_valid(&o->x.span_context)) fail_msg("%s: accepted", r->name);
    /* A new trace id that matches no 32-character window of what was sent. */
    const char *v = r->f[F_VALUE];
    for (size_t i = 0; i + 32 <= strlen(v); i++) assert_memory_not_equal(tp + 3, v + i, 32);
  }
}

/* ---- tracestate rows ---- */

static void check_ts(const row_t *r, outcome_t *o) {
  const char *ts = out_get(&o->out, "tracestate");
  const char *expect = r->f[F_EXPECT];
  if (strcmp(r->f[F_WITH_TP], "valid") == 0) {
    assert_true(uvotel_span_context_is_valid(&o->x.span_context));
  }
  char *want = unescape(r->f[F_PROP]);
  if (strcmp(expect, "reject") == 0 || strcmp(expect, "ignore") == 0) {
    assert_string_equal(want, "(none)");
    if (ts != NULL) fail_msg("%s: sent tracestate '%s'", r->name, ts);
    assert_null(o->x.span_context.trace_state);
  } else {
    assert_string_equal(expect, "accept");
    int ok = 0;
    for (char *alt = want;;) {
      char *sep = strstr(alt, " || ");
      if (sep) *sep = '\0';
      if (strcmp(alt, "(none)") == 0 ? ts == NULL || ts[0] == '\0'
                                     : ts != NULL && strcmp(ts, alt) == 0) {
        ok = 1;
      }
      if (!sep) break;
      alt = sep + 4;
    }
    if (!ok) fail_msg("%s: sent '%s', want '%s'", r->name, ts ? ts : "(none)", r->f[F_PROP]);
    /* What was sent parses back to the same list. */
    if (ts != NULL) {
      uvotel_trace_state_t *back = NULL;
      assert_int_equal(uvotel_trace_state_parse(ts, strlen(ts), &back), 0);
      assert_string_equal(uvotel_trace_state_str(back, NULL), ts);
      uvotel_trace_state_release(back);
    }
  }
  free(want);
}

/* ---- baggage rows ---- */

/* A member of the raw header split naively (for the "invalid" rows, which have no '%' or ';'). */
static void naive_member(const char *s, size_t n, char **k, char **v) {
  const char *eq = memchr(s, '=', n);
  const char *ke = eq ? eq : s + n;
  while (s < ke && (*s == ' ' || *s == '\t')) s++;
  const char *kend = ke;
  while (kend > s && (kend[-1] == ' ' || kend[-1] == '\t')) kend--;
  *k = xstrndup(s, (size_t)(kend - s));
  if (eq) {
    const char *vs = eq + 1, *ve = s + n;
    while (vs < ve && (*vs == ' ' || *vs == '\t')) vs++;
    while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    *v = xstrndup(vs, (size_t)(ve - vs));
  } else {
    *v = NULL;
  }
}

static void check_bg(const row_t *r, outcome_t *o) {
  const uvotel_baggage_t *b = o->x.baggage;
  const char *sent = out_get(&o->out, "baggage");
  /* Whatever we keep, we send, and it reads back the same; never a partial member. */
  if (uvotel_baggage_count(b) > 0) {
    assert_non_null(sent);
    assert_true(strlen(sent) <= UVOTEL_BAGGAGE_MAX_BYTES);
    uvotel_baggage_t *back = NULL;
    assert_int_equal(uvotel_baggage_parse(sent, strlen(sent), &back), 0);
    assert_same_baggage(b, back);
    uvotel_baggage_release(back);
  } else {
    assert_null(sent);
  }
  char *value = unescape(r->f[F_VALUE]);
  if (strcmp(r->f[F_EXPECT], "accept") == 0) {
    char *prop = unescape(r->f[F_PROP]);
    if (prop[0] == '[') {
      jv_t want;
      const char *p = prop;
      assert_int_equal(json_parse(&p, &want), 0);
      check_baggage_json(r, b, &want);
      json_free(&want);
      if (strstr(r->f[F_SOURCE], "re-serialises to the same")) assert_string_equal(sent, value);
    } else {
      /* bg-022: more members than the limit: at least 64 whole members, in order. */
      assert_non_null(strstr(prop, "at least 64 whole members"));
      size_t n = uvotel_baggage_count(b);
      assert_true(n >= 64 && n <= UVOTEL_BAGGAGE_MAX_MEMBERS);
      for (size_t i = 0; i < n; i++) {
        uvotel_baggage_entry_t e;
        char k[32];
        snprintf(k, sizeof k, "k%03zu", i);
        assert_int_equal(uvotel_baggage_at(b, i, &e), 0);
        assert_string_equal(e.key.ptr, k);
        assert_string_equal(e.value.ptr, "v");
      }
    }
    free(prop);
  } else {
    /* invalid: the offending member (or the whole header) is dropped; what is kept is exactly
     * the members that were sent, in order. */
    assert_string_equal(r->f[F_EXPECT], "invalid");
    size_t kept = uvotel_baggage_count(b), raw = 0, ki = 0;
    for (const char *p = value;;) {
      const char *c = strchr(p, ',');
      size_t n = c ? (size_t)(c - p) : strlen(p);
      raw++;
      char *k, *v;
      naive_member(p, n, &k, &v);
      uvotel_baggage_entry_t e;
      if (ki < kept && uvotel_baggage_at(b, ki, &e) == 0 && v != NULL &&
          strcmp(e.key.ptr, k) == 0 && strcmp(e.value.ptr, v) == 0 && e.n_props == 0) {
        ki++;
      }
      free(k);
      free(v);
      if (!c) break;
      p = c + 1;
    }
    if (ki != kept) fail_msg("%s: kept a member that was not sent as is", r->name);
    if (kept >= raw) fail_msg("%s: nothing dropped", r->name);
  }
  free(value);
}

static void run_row(void **state) {
  fix_t *f = *state;
  const row_t *r = f->row;
  outcome_t o;
  serve(r, &o);
  if (strncmp(r->f[F_ID], "tp-", 3) == 0) {
    check_tp(r, &o);
  } else if (strncmp(r->f[F_ID], "ts-", 3) == 0) {
    check_ts(r, &o);
  } else if (strncmp(r->f[F_ID], "bg-", 3) == 0) {
    check_bg(r, &o);
  } else {
    fail_msg("unknown row kind %s", r->f[F_ID]);
  }
  outcome_free(&o);
}

/* ---- loading the table ---- */

static size_t load(row_t **rows_out) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/data/w3c_headers.tsv", UVOTEL_SOURCE_DIR);
  FILE *fp = fopen(path, "rb");
  if (fp == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    exit(1);
  }
  row_t *rows = calloc(256, sizeof *rows);
  size_t n = 0, cap = 1 << 16;
  char *line = malloc(cap);
  int header = 1;
  while (fgets(line, (int)cap, fp) != NULL) {
    size_t l = strlen(line);
    if (l + 1 == cap) {
      fprintf(stderr, "line too long\n");
      exit(1);
    }
    while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = '\0';
    if (header) {
      header = 0;
      continue;
    }
    if (l == 0) continue;
    row_t *r = &rows[n++];
    char *p = line;
    for (int i = 0; i < 7; i++) {
      char *t = strchr(p, '\t');
      if (t == NULL && i < 6) {
        fprintf(stderr, "row %zu: %d fields\n", n, i + 1);
        exit(1);
      }
      r->f[i] = t ? xstrndup(p, (size_t)(t - p)) : strdup(p);
      p = t ? t + 1 : p + strlen(p);
    }
    snprintf(r->name, sizeof r->name, "%s %.60s", r->f[F_ID], r->f[F_SOURCE]);
  }
  free(line);
  fclose(fp);
  *rows_out = rows;
  return n;
}

int main(void) {
  counting_alloc_install();
  row_t *rows;
  size_t n = load(&rows);
  if (n != ROWS_EXPECTED) {
    fprintf(stderr, "w3c_headers.tsv: %zu rows, expected %d\n", n, ROWS_EXPECTED);
    return 1;
  }
  struct CMUnitTest *tests = calloc(n, sizeof *tests);
  for (size_t i = 0; i < n; i++) {
    tests[i].name = rows[i].name;
    tests[i].test_func = run_row;
    tests[i].setup_func = setup;
    tests[i].teardown_func = teardown;
    tests[i].initial_state = &rows[i];
  }
  int rc = _cmocka_run_group_tests("w3c_headers", tests, n, NULL, NULL);
  for (size_t i = 0; i < n; i++) {
    for (int j = 0; j < 7; j++) free(rows[i].f[j]);
  }
  free(rows);
  free(tests);
  return rc;
}
