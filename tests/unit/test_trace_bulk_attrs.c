/* uvotel__span_set_attrs, the SDK-internal bulk append the HTTP and DNS detectors use (issue 12
 * item 7): for the same entries, the span data it leaves is the data the public _static setters
 * called in the same order leave (attributes, their order, types, values and lengths, the
 * dropped count, the misuse count), in the common case and in every case its one pass hands to
 * the per-attribute path: a key a sampler set at the start, a key repeated in one call, small
 * count limits, a value length limit that cuts inside a multi-byte UTF-8 character, the
 * attribute index past 16 keys, non-recording and ended spans, invalid entries, and the
 * allocator failing at each of its allocations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "attr_fixture.h"

/* ---- entries, and the same entries through the public setters ---- */

#define MAXE 40

typedef struct list_s {
  uvotel__attr_key_t keys[MAXE];
  uvotel__attr_in_t e[MAXE];
  size_t n;
} list_t;

/* Keys live as long as the test program: spans borrow them. */
static char g_keytext[MAXE * 4][32];
static size_t g_nkeytext;

static const uvotel__attr_key_t *key(list_t *l, const char *k) {
  char *d = NULL;
  for (size_t i = 0; i < g_nkeytext && d == NULL; i++) {
    if (strcmp(g_keytext[i], k) == 0) d = g_keytext[i];
  }
  if (d == NULL) {
    assert_true(g_nkeytext < sizeof g_keytext / sizeof g_keytext[0]);
    d = g_keytext[g_nkeytext++];
    snprintf(d, sizeof g_keytext[0], "%s", k);
  }
  uvotel__attr_key_t *pk = &l->keys[l->n];
  assert_int_equal(uvotel__attr_key_init(pk, d, strlen(d)), 0);
  return pk;
}

/* A string value: n bytes at v, not NUL-terminated where the caller slices a larger buffer. */
static void add_strn(list_t *l, const char *k, const char *v, size_t n) {
  assert_true(l->n < MAXE);
  uvotel__attr_in_t *e = &l->e[l->n];
  e->key = key(l, k);
  e->value.type = UVOTEL_VALUE_STRING;
  e->value.len = (uint32_t)n;
  e->value.u.s = v;
  l->n++;
}

static void add_str(list_t *l, const char *k, const char *v) {
  add_strn(l, k, v, strlen(v));
}

static void add_int(list_t *l, const char *k, int64_t v) {
  assert_true(l->n < MAXE);
  uvotel__attr_in_t *e = &l->e[l->n];
  e->key = key(l, k);
  e->value.type = UVOTEL_VALUE_INT;
  e->value.len = 77; /* ignored for scalars */
  e->value.u.i = v;
  l->n++;
}

static void add_double(list_t *l, const char *k, double v) {
  add_int(l, k, 0);
  l->e[l->n - 1].value.type = UVOTEL_VALUE_DOUBLE;
  l->e[l->n - 1].value.u.d = v;
}

static void add_bool(list_t *l, const char *k, bool v) {
  add_int(l, k, 0);
  l->e[l->n - 1].value.type = UVOTEL_VALUE_BOOL;
  l->e[l->n - 1].value.u.b = v;
}

/* What the detectors did before the bulk call: one _static setter per entry, strings as
 * NUL-terminated copies of their bytes. */
static void set_each(uvotel_span_t *s, const list_t *l) {
  for (size_t i = 0; i < l->n; i++) {
    const uvotel__attr_in_t *e = &l->e[i];
    const char *k = e->key->key;
    size_t kl = e->key->len;
    switch (e->value.type) {
      case UVOTEL_VALUE_STRING: {
        if (e->value.u.s == NULL && e->value.len != 0) {
          uvotel_span_set_attribute_str_static(s, k, kl, NULL);
          break;
        }
        char *c = malloc((size_t)e->value.len + 1);
        if (e->value.len > 0) memcpy(c, e->value.u.s, e->value.len);
        c[e->value.len] = '\0';
        uvotel_span_set_attribute_str_static(s, k, kl, c);
        free(c); /* the span copied it */
        break;
      }
      case UVOTEL_VALUE_INT:
        uvotel_span_set_attribute_int_static(s, k, kl, e->value.u.i);
        break;
      case UVOTEL_VALUE_DOUBLE:
        uvotel_span_set_attribute_double_static(s, k, kl, e->value.u.d);
        break;
      case UVOTEL_VALUE_BOOL:
        uvotel_span_set_attribute_bool_static(s, k, kl, e->value.u.b);
        break;
      default:
        fail_msg("no setter for type %d", (int)e->value.type);
    }
  }
}

/* ---- providers and comparison ---- */

/* A sampler that records every span and adds the attributes in g_presets at its start. */
static uvotel_attribute_t g_presets[4];
static size_t g_npresets;

static void preset_sample(void *self, const uvotel_sampling_params_t *params,
                          uvotel_sampling_result_t *out) {
  (void)self;
  (void)params;
  out->decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
  out->attrs = g_presets;
  out->n_attrs = g_npresets;
}

static const char *preset_desc(void *self) {
  (void)self;
  return "Presets";
}

static const uvotel_sampler_ops_t k_preset_ops = {.should_sample = preset_sample,
                                                  .description = preset_desc};

enum { SAMPLER_DEFAULT, SAMPLER_PRESET, SAMPLER_OFF };

static void open_sampled(fx_t *f, uint32_t attr_limit, uint32_t value_len, int sampler);

static void open_with(fx_t *f, uint32_t attr_limit, uint32_t value_len, int sampler) {
  if (sampler == SAMPLER_DEFAULT) {
    open_provider_lim(f, attr_limit, value_len);
  } else {
    open_sampled(f, attr_limit, value_len, sampler);
  }
  /* warm: the memory exporter's first export allocates its array */
  uvotel_span_end(uvotel_span_start(f->t, "warm", NULL));
  uvotel_memory_exporter_reset(f->mem);
}

static void open_sampled(fx_t *f, uint32_t attr_limit, uint32_t value_len, int sampler) {
  open_provider_sampled(f, attr_limit, value_len,
                        sampler == SAMPLER_PRESET ? uvotel_sampler_create(&k_preset_ops, NULL)
                                                  : uvotel_sampler_always_off());
}

static uint64_t misuse(fx_t *f) {
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(f->p, &c), 0);
  return c.misuse;
}

static void assert_value_equal(const uvotel_value_t *a, const uvotel_value_t *b) {
  assert_int_equal(a->type, b->type);
  assert_int_equal(a->len, b->len);
  switch (a->type) {
    case UVOTEL_VALUE_STRING:
      assert_memory_equal(a->u.s, b->u.s, (size_t)a->len + 1); /* its NUL too */
      break;
    case UVOTEL_VALUE_INT:
      assert_int_equal(a->u.i, b->u.i);
      break;
    case UVOTEL_VALUE_DOUBLE:
      assert_memory_equal(&a->u.d, &b->u.d, sizeof a->u.d);
      break;
    case UVOTEL_VALUE_BOOL:
      assert_int_equal(a->u.b, b->u.b);
      break;
    default:
      fail_msg("unexpected type %d", (int)a->type);
  }
}

/* Exported spans i and j have the same attributes in the same order and the same dropped
 * count. */
static void assert_same_span(const uvotel_span_data_t *a, const uvotel_span_data_t *b) {
  size_t na, nb;
  const uvotel_attribute_t *x = uvotel_span_data_attributes(a, &na);
  const uvotel_attribute_t *y = uvotel_span_data_attributes(b, &nb);
  assert_int_equal(na, nb);
  for (size_t i = 0; i < na; i++) {
    assert_string_equal(x[i].key, y[i].key);
    assert_value_equal(&x[i].value, &y[i].value);
  }
  assert_int_equal(uvotel_span_data_dropped_attributes(a), uvotel_span_data_dropped_attributes(b));
}

/* Two spans on f, one through the bulk call and one through the setters (each after `pre`
 * copying setter calls, when given), compared; returns the bulk span's data for more checks
 * (valid until the exporter is reset). */
static const uvotel_span_data_t *compare(fx_t *f, const list_t *l, void (*pre)(uvotel_span_t *)) {
  size_t base = uvotel_memory_exporter_count(f->mem);
  uvotel_span_t *a = uvotel_span_start(f->t, "bulk", NULL);
  if (pre != NULL) pre(a);
  uint64_t m0 = misuse(f);
  uvotel__span_set_attrs(a, l->e, l->n);
  uint64_t m_bulk = misuse(f) - m0;
  uvotel_span_end(a);
  uvotel_span_t *b = uvotel_span_start(f->t, "each", NULL);
  if (pre != NULL) pre(b);
  m0 = misuse(f);
  set_each(b, l);
  uint64_t m_each = misuse(f) - m0;
  uvotel_span_end(b);
  assert_int_equal(m_bulk, m_each);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), base + 2);
  const uvotel_span_data_t *da = uvotel_memory_exporter_get(f->mem, base);
  const uvotel_span_data_t *db = uvotel_memory_exporter_get(f->mem, base + 1);
  assert_string_equal(uvotel_span_data_name(da), "bulk");
  assert_same_span(da, db);
  return da;
}

/* An HTTP SERVER span's entries, values sliced out of one request head (not NUL-terminated). */
static const char k_head[] = "GET /work?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n";

static void http_list(list_t *l) {
  l->n = 0;
  add_strn(l, "http.request.method", k_head, 3);
  add_str(l, "url.scheme", "http");
  add_strn(l, "url.path", k_head + 4, 5);
  add_strn(l, "url.query", k_head + 10, 3);
  add_str(l, "network.protocol.version", "1.1");
  add_str(l, "client.address", "127.0.0.1");
  add_int(l, "client.port", 51234);
  add_strn(l, "server.address", k_head + 30, 9);
  add_int(l, "server.port", 8080);
}

/* ---- tests ---- */

static size_t allocs(void) {
  counting_alloc_stats_t c = counting_alloc_stats();
  return c.allocs + c.reallocs;
}

/* The common case: every type, sliced strings stored as their bytes and a NUL, in order; a
 * warmed slot allocates nothing. */
static void test_common_case(void **state) {
  fx_t *f = *state;
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  list_t l;
  http_list(&l);
  add_double(&l, "d", 2.5);
  add_bool(&l, "b", true);
  add_strn(&l, "empty", NULL, 0);
  const uvotel_span_data_t *d = compare(f, &l, NULL);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 12);
  assert_string_equal(a[0].key, "http.request.method");
  assert_string_equal(a[0].value.u.s, "GET");
  assert_int_equal(a[0].value.len, 3);
  assert_string_equal(a[2].value.u.s, "/work");
  assert_string_equal(a[3].value.u.s, "x=1");
  assert_string_equal(a[7].value.u.s, "127.0.0.1");
  assert_int_equal(a[8].value.u.i, 8080);
  assert_int_equal(a[8].value.len, 0);
  assert_true(a[10].value.u.b);
  assert_string_equal(a[11].value.u.s, "");
  assert_ptr_equal(a[0].key, l.keys[0].key); /* borrowed, as the _static setters do */
  uvotel_memory_exporter_reset(f->mem);
  /* the slots have their spilled arrays now: the bulk call allocates nothing */
  for (int r = 0; r < 3; r++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "again", NULL);
    size_t a0 = allocs();
    uvotel__span_set_attrs(s, l.e, 8); /* the inline capacity exactly */
    uvotel__span_set_attrs(s, l.e + 8, l.n - 8);
    assert_int_equal(allocs(), a0);
    uvotel_span_end(s);
    uvotel_memory_exporter_reset(f->mem); /* the slot goes back for the next round */
  }
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
}

/* A key the sampler set at the start (second position of the list) gets the new value in its
 * place; the entries after it still go in. Also a preset key that is not in the list. */
static void test_sampler_preset_key(void **state) {
  fx_t *f = *state;
  g_presets[0] = (uvotel_attribute_t)UVOTEL_ATTR_STR("sampler.only", "kept");
  g_presets[1] = (uvotel_attribute_t)UVOTEL_ATTR_STR("url.path", "from-the-sampler");
  g_npresets = 2;
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_PRESET);
  list_t l;
  http_list(&l);
  const uvotel_span_data_t *d = compare(f, &l, NULL);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 2 + 8);
  assert_string_equal(a[0].key, "sampler.only");
  assert_string_equal(a[1].key, "url.path");
  assert_string_equal(a[1].value.u.s, "/work");
  assert_string_equal(a[2].key, "http.request.method");
  /* a scalar over a preset string, and a preset as the first entry */
  g_presets[0] = (uvotel_attribute_t)UVOTEL_ATTR_STR("client.port", "a string");
  g_presets[1] = (uvotel_attribute_t)UVOTEL_ATTR_INT("http.request.method", 5);
  compare(f, &l, NULL);
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
  g_npresets = 0;
}

/* The same key twice in one call, and keys the span already has from a setter: the later value
 * replaces the earlier one in its place. */
static void pre_two(uvotel_span_t *s) {
  uvotel_span_set_attribute_str(s, "server.port", "set before");
  uvotel_span_set_attribute_int(s, "before", 1);
}

static void test_repeated_keys(void **state) {
  fx_t *f = *state;
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  list_t l;
  http_list(&l);
  add_str(&l, "url.path", "/again");
  add_int(&l, "client.address", 7);
  const uvotel_span_data_t *d = compare(f, &l, NULL);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 9);
  assert_string_equal(a[2].value.u.s, "/again");
  assert_int_equal(a[5].value.type, UVOTEL_VALUE_INT);
  /* repeats within the first entries (the one pass): client.port twice, url.scheme thrice */
  list_t r;
  r.n = 0;
  add_str(&r, "url.scheme", "http");
  add_int(&r, "client.port", 1);
  add_str(&r, "url.scheme", "https");
  add_int(&r, "client.port", 2);
  add_str(&r, "url.scheme", "ftp");
  add_int(&r, "x", 3);
  d = compare(f, &r, NULL);
  a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 3);
  assert_string_equal(a[0].value.u.s, "ftp");
  assert_int_equal(a[1].value.u.i, 2);
  d = compare(f, &l, pre_two);
  a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 1 + 9); /* server.port was set before: its place, the list's value */
  assert_string_equal(a[0].key, "server.port");
  assert_int_equal(a[0].value.u.i, 8080);
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
}

/* Count limits below, at and above the list's length and the inline capacity: the same
 * attributes kept and the same number dropped. */
static void test_count_limits(void **state) {
  fx_t *f = *state;
  for (uint32_t lim = 1; lim <= 13; lim++) {
    open_with(f, lim, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
    list_t l;
    http_list(&l);
    add_int(&l, "extra.1", 1);
    add_int(&l, "extra.2", 2);
    add_str(&l, "url.path", "/dup"); /* a duplicate past the limit still replaces */
    const uvotel_span_data_t *d = compare(f, &l, NULL);
    size_t n;
    (void)uvotel_span_data_attributes(d, &n);
    assert_int_equal(n, lim < 11 ? lim : 11);
    /* url.path (third) not kept: its repeat is a new key past the limit, dropped too */
    assert_int_equal(uvotel_span_data_dropped_attributes(d),
                     (lim < 11 ? 11 - lim : 0) + (lim < 3 ? 1 : 0));
    d = compare(f, &l, pre_two);
    uvotel_memory_exporter_reset(f->mem);
    close_provider(f);
  }
}

/* Value length limits from 0 to past the value, on a value of one-, two-, three- and four-byte
 * characters: the cut falls on a character boundary exactly as the setters cut. */
static void test_value_length_utf8(void **state) {
  fx_t *f = *state;
  /* "a" "é" (2 bytes) "€" (3) "😀" (4) "b": 5 characters, 11 bytes */
  static const char v[] =
      "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
      "b";
  for (uint32_t lim = 0; lim <= 12; lim++) {
    open_with(f, UVOTEL_LIMIT_UNLIMITED, lim, SAMPLER_DEFAULT);
    list_t l;
    http_list(&l);
    add_strn(&l, "utf8", v, sizeof v - 1);
    add_strn(&l, "utf8.cut", v, 4); /* its last byte starts "€": a cut sequence given */
    add_int(&l, "after", 3);
    const uvotel_span_data_t *d = compare(f, &l, NULL);
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
    assert_int_equal(n, 12);
    static const size_t bytes_of[] = {0, 1, 3, 6, 10, 11};
    size_t want = bytes_of[lim < 5 ? lim : 5];
    assert_int_equal(a[9].value.len, want);
    assert_memory_equal(a[9].value.u.s, v, want);
    assert_int_equal(a[9].value.u.s[want], '\0');
    uvotel_memory_exporter_reset(f->mem);
    close_provider(f);
  }
}

/* Past the linear range (16 keys): the rest go through the index as the setters' do. */
static void pre_many(uvotel_span_t *s) {
  static char keys[10][16];
  for (int i = 0; i < 10; i++) {
    snprintf(keys[i], sizeof keys[i], "pre.%d", i);
    uvotel_span_set_attribute_int_static(s, keys[i], strlen(keys[i]), i);
  }
}

static void test_index_range(void **state) {
  fx_t *f = *state;
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  list_t l;
  http_list(&l);
  for (int i = 0; i < 12; i++) {
    char k[16];
    snprintf(k, sizeof k, "more.%d", i);
    add_int(&l, k, i);
  }
  add_int(&l, "pre.3", 33);      /* a key set before, found through the index */
  add_str(&l, "url.path", "/x"); /* and one of this call's */
  const uvotel_span_data_t *d = compare(f, &l, pre_many);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 10 + 21);
  assert_int_equal(a[3].value.u.i, 33);
  compare(f, &l, NULL);
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
}

/* A non-recording span takes nothing and counts nothing; an ended one counts one misuse per
 * entry, as the setters do; a NULL span too (process-wide). */
static void test_not_recording(void **state) {
  fx_t *f = *state;
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_OFF);
  list_t l;
  http_list(&l);
  uvotel_span_t *s = uvotel_span_start(f->t, "off", NULL);
  assert_false(uvotel_span_is_recording(s));
  uint64_t m0 = misuse(f);
  uvotel__span_set_attrs(s, l.e, l.n);
  set_each(s, &l);
  assert_int_equal(misuse(f), m0);
  uvotel_span_end(s);
  assert_int_equal(uvotel_memory_exporter_count(f->mem), 0);
  close_provider(f);

  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  s = uvotel_span_start(f->t, "ended", NULL);
  uvotel_span_retain(s);
  uvotel_span_end(s);
  m0 = misuse(f);
  uvotel__span_set_attrs(s, l.e, l.n);
  uint64_t m_bulk = misuse(f) - m0;
  set_each(s, &l);
  assert_int_equal(m_bulk, l.n);
  assert_int_equal(misuse(f) - m0, 2 * l.n);
  size_t n;
  (void)uvotel_span_data_attributes(uvotel_memory_exporter_get(f->mem, 0), &n);
  assert_int_equal(n, 0);
  uvotel_span_release(s);
  uint64_t g0 = uvotel_trace_misuse_total();
  uvotel__span_set_attrs(NULL, l.e, l.n);
  assert_int_equal(uvotel_trace_misuse_total() - g0, l.n);
  uvotel__span_set_attrs(NULL, NULL, 0);
  uvotel__span_set_attrs(NULL, NULL, 1);
  assert_int_equal(uvotel_trace_misuse_total() - g0, l.n + 1);
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
}

/* Invalid entries are each misuse, as the setter would count them, and the valid ones around
 * them still go in; uvotel__attr_key_init refuses what set_static refuses. */
static void test_invalid_entries(void **state) {
  fx_t *f = *state;
  uvotel__attr_key_t k;
  assert_int_equal(uvotel__attr_key_init(NULL, "a", 1), UVOTEL_EINVAL);
  assert_int_equal(uvotel__attr_key_init(&k, NULL, 1), UVOTEL_EINVAL);
  assert_int_equal(k.len, 0);
  assert_int_equal(uvotel__attr_key_init(&k, "", 0), UVOTEL_EINVAL);
  assert_int_equal(uvotel__attr_key_init(&k, "abc", 2), UVOTEL_EINVAL); /* key[2] is not NUL */
  assert_int_equal(k.len, 0);
  assert_int_equal(uvotel__attr_key_init(&k, "abc", 3), 0);
  assert_int_equal(k.len, 3);
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  list_t l;
  http_list(&l);
  /* url.scheme's key as a failed uvotel__attr_key_init leaves it (key[3] is not its NUL) */
  assert_int_equal(uvotel__attr_key_init(&l.keys[1], l.keys[1].key, 3), UVOTEL_EINVAL);
  l.e[4].value.u.s = NULL; /* network.protocol.version: NULL with 3 bytes */
  const uvotel_span_data_t *d = compare(f, &l, NULL);
  size_t n;
  (void)uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 7);
  /* a type with no _static setter: misuse, nothing stored */
  l.e[1] = l.e[0];
  l.e[1].value.type = UVOTEL_VALUE_INT_ARRAY;
  uvotel_span_t *s = uvotel_span_start(f->t, "bad type", NULL);
  uint64_t m0 = misuse(f);
  uvotel__span_set_attrs(s, l.e, 3);
  assert_int_equal(misuse(f) - m0, 1);
  uvotel_span_end(s);
  uvotel_memory_exporter_reset(f->mem);
  close_provider(f);
}

/* The allocator failing at each allocation the attributes make (the arena chunks for values
 * past the slot's 256 inline bytes, the spill of the arrays past 8), on fresh providers, so the
 * bulk call and the setters meet the same failures at the same points: the same span data. */
static void fill_big(list_t *l, char *big, int big_first) {
  l->n = 0;
  memset(big, 'v', 1000);
  if (big_first) { /* the chunks within the inline capacity, before the spill */
    add_strn(l, "big.0", big, 250);
    add_strn(l, "big.00", big, 900);
  }
  list_t h;
  http_list(&h);
  for (size_t i = 0; i < h.n; i++) {
    const uvotel__attr_in_t *e = &h.e[i];
    if (e->value.type == UVOTEL_VALUE_STRING) {
      add_strn(l, e->key->key, e->value.u.s, e->value.len);
    } else {
      add_int(l, e->key->key, e->value.u.i);
    }
  }
  add_strn(l, "big.1", big, 200); /* the arena's inline bytes run out here: a chunk */
  add_strn(l, "big.2", big, 900); /* past the first chunk: a second one */
  add_int(l, "tail", 1);
  add_strn(l, "big.3", big, 30);
}

static const uvotel_span_data_t *one_oom(fx_t *f, int bulk, int big_first, long ok_first,
                                         long failures, uint64_t *mis) {
  list_t l;
  static char big[1000];
  fill_big(&l, big, big_first);
  open_with(f, UVOTEL_LIMIT_UNLIMITED, UVOTEL_LIMIT_UNLIMITED, SAMPLER_DEFAULT);
  uvotel_span_t *s = uvotel_span_start(f->t, "oom", NULL);
  uint64_t m0 = misuse(f);
  counting_alloc_fail_after(ok_first, failures);
  if (bulk) {
    uvotel__span_set_attrs(s, l.e, l.n);
  } else {
    set_each(s, &l);
  }
  counting_alloc_fail_after(0, 0);
  *mis = misuse(f) - m0;
  uvotel_span_end(s);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  assert_non_null(d);
  return uvotel_span_data_retain(d);
}

static void test_out_of_memory(void **state) {
  fx_t *f = *state;
  int saw_drop = 0;
  for (int big_first = 0; big_first < 2; big_first++) {
    for (long ok_first = 0; ok_first < 6; ok_first++) {
      for (long failures = 1; failures <= 3; failures += 2) {
        uint64_t ma, mb;
        const uvotel_span_data_t *a = one_oom(f, 1, big_first, ok_first, failures, &ma);
        close_provider(f);
        const uvotel_span_data_t *b = one_oom(f, 0, big_first, ok_first, failures, &mb);
        close_provider(f);
        assert_same_span(a, b);
        assert_int_equal(ma, mb);
        if (uvotel_span_data_dropped_attributes(a) > 0) saw_drop = 1;
        uvotel_span_data_release(a);
        uvotel_span_data_release(b);
      }
    }
  }
  assert_true(saw_drop); /* the failures did land on the attributes' allocations */
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_common_case, setup, teardown),
      cmocka_unit_test_setup_teardown(test_sampler_preset_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_repeated_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_count_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_length_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(test_index_range, setup, teardown),
      cmocka_unit_test_setup_teardown(test_not_recording, setup, teardown),
      cmocka_unit_test_setup_teardown(test_invalid_entries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
