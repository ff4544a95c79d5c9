/* Span attributes: duplicate keys replace earlier values in place (insertion order kept), the
 * count limit counts what it drops, at every size (the linear scan up to 8 keys, the hash index
 * beyond, its rebuilds as it grows), for span, event and link attributes; a reused slot forgets
 * the keys (and index) of its previous span; out of memory while the index is built leaves the
 * attributes correct; and 64 attributes cost about 16 times 4, not 256 times (linear growth).
 * Byte arrays, kvlists (nested) and empty values: deep copies (the caller's buffers may be freed
 * after the call), the nesting bound (deeper: dropped, counted), the value-length limit cutting
 * bytes by bytes, and NULL data with a length rejected as misuse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "attr_fixture.h"

static void open_provider(fx_t *f, uint32_t attr_limit) {
  open_provider_lim(f, attr_limit, UVOTEL_LIMIT_UNLIMITED);
}

/* The reference: keys in first-set order, each with its last value, `limit` distinct at most. */
typedef struct model_s {
  char keys[512][16];
  int64_t vals[512];
  size_t n;
  uint32_t dropped;
} model_t;

static void model_set(model_t *m, uint32_t limit, const char *key, int64_t v) {
  for (size_t i = 0; i < m->n; i++) {
    if (strcmp(m->keys[i], key) == 0) {
      m->vals[i] = v;
      return;
    }
  }
  if (m->n >= limit) {
    m->dropped++;
    return;
  }
  snprintf(m->keys[m->n], sizeof m->keys[0], "%s", key);
  m->vals[m->n++] = v;
}

static void expect_model(const uvotel_attribute_t *a, size_t n, uint32_t dropped,
                         const model_t *m) {
  assert_int_equal(n, m->n);
  assert_int_equal(dropped, m->dropped);
  for (size_t i = 0; i < n; i++) {
    assert_string_equal(a[i].key, m->keys[i]);
    assert_int_equal(a[i].value.type, UVOTEL_VALUE_INT);
    assert_int_equal(a[i].value.u.i, m->vals[i]);
  }
}

static uint64_t g_rng = 88172645463325252ull;
static uint32_t rnd(uint32_t n) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng % n);
}

/* Random sequences of sets over key pools of every size, against the model; the memory
 * exporter is reset between rounds so slots (and their indexes) are reused by spans with other
 * keys. */
static void test_span_attributes_match_model(void **state) {
  fx_t *f = *state;
  open_provider(f, 100);
  static const uint32_t pools[] = {1, 4, 8, 9, 12, 40, 200};
  static model_t m;
  for (int round = 0; round < 12; round++) {
    for (size_t pi = 0; pi < sizeof pools / sizeof pools[0]; pi++) {
      memset(&m, 0, sizeof m);
      uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
      uint32_t sets = 1 + rnd(3 * pools[pi] + 20);
      for (uint32_t k = 0; k < sets; k++) {
        char key[16];
        /* round-dependent names: a reused slot must not find its last span's keys */
        snprintf(key, sizeof key, "%c.k%u", 'a' + round, rnd(pools[pi]));
        int64_t v = (int64_t)rnd(1000000);
        uvotel_span_set_attribute_int(s, key, v);
        model_set(&m, 100, key, v);
      }
      uvotel_span_end(s);
      const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, pi);
      size_t n;
      const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
      expect_model(a, n, uvotel_span_data_dropped_attributes(d), &m);
    }
    uvotel_memory_exporter_reset(f->mem); /* releases the slots for the next round */
  }
}

/* Explicit: 90 keys, all 90 set again (in reverse), 20 more: 10 kept up to the limit of 100. */
static void test_span_attributes_replace_and_limit(void **state) {
  fx_t *f = *state;
  open_provider(f, 100);
  static model_t m;
  memset(&m, 0, sizeof m);
  uvotel_span_t *s = uvotel_span_start(f->t, "wide", NULL);
  char key[16];
  for (int i = 0; i < 90; i++) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, i);
    model_set(&m, 100, key, i);
  }
  for (int i = 89; i >= 0; i--) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, 1000 + i);
    model_set(&m, 100, key, 1000 + i);
  }
  for (int i = 90; i < 110; i++) {
    snprintf(key, sizeof key, "key.%d", i);
    uvotel_span_set_attribute_int(s, key, i);
    model_set(&m, 100, key, i);
  }
  /* a full span still replaces the values of keys it has */
  uvotel_span_set_attribute_int(s, "key.99", -1);
  model_set(&m, 100, "key.99", -1);
  uvotel_span_end(s);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(m.n, 100);
  assert_int_equal(m.dropped, 10);
  expect_model(a, n, uvotel_span_data_dropped_attributes(d), &m);
}

/* Event and link attribute lists: duplicates inside one list, small and large. */
static void test_event_and_link_attributes(void **state) {
  fx_t *f = *state;
  open_provider(f, 30);
  static model_t m;
  static uvotel_attribute_t list[120];
  static char keys[120][16];
  for (int size = 1; size <= 120; size = size * 3 + 1) {
    memset(&m, 0, sizeof m);
    for (int i = 0; i < size; i++) {
      snprintf(keys[i], sizeof keys[i], "e%d", (int)rnd((uint32_t)size / 2 + 1));
      uvotel_attribute_t at = UVOTEL_ATTR_INT(keys[i], i);
      list[i] = at;
      model_set(&m, 30, keys[i], i);
    }
    uvotel_span_t *s = uvotel_span_start(f->t, "ev", NULL);
    uvotel_span_add_event(s, "e", list, (size_t)size);
    uvotel_link_t l = {uvotel_span_context(s), list, (size_t)size, 0};
    uvotel_span_add_link(s, &l);
    uvotel_span_end(s);
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
    size_t n;
    const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
    assert_int_equal(n, 1);
    expect_model(ev[0].attrs, ev[0].n_attrs, ev[0].dropped_attributes, &m);
    const uvotel_link_t *lk = uvotel_span_data_links(d, &n);
    assert_int_equal(n, 1);
    expect_model(lk[0].attrs, lk[0].n_attrs, lk[0].dropped_attributes, &m);
    uvotel_memory_exporter_reset(f->mem);
  }
}

/* Out of memory at each allocation while a span grows past the linear range: what is kept is
 * right (unique keys, last values), whatever failed is counted as dropped. */
static void test_attributes_out_of_memory(void **state) {
  fx_t *f = *state;
  open_provider(f, 128);
  for (long fail_at = 0; fail_at < 8; fail_at++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "oom", NULL);
    char key[16];
    for (int i = 0; i < 8; i++) {
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, i);
    }
    counting_alloc_fail_after(fail_at, 1);
    for (int i = 8; i < 40; i++) {
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, i);
    }
    counting_alloc_fail_after(0, 0);
    for (int i = 0; i < 40; i++) { /* again: replacements only, whatever is kept */
      snprintf(key, sizeof key, "k%d", i);
      uvotel_span_set_attribute_int(s, key, 100 + i);
    }
    uvotel_span_end(s);
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
    assert_true(n >= 8);
    assert_int_equal(n + uvotel_span_data_dropped_attributes(d) >= 40, 1);
    for (size_t i = 0; i < n; i++) {
      for (size_t j = 0; j < i; j++) assert_true(strcmp(a[i].key, a[j].key) != 0);
      int k = atoi(a[i].key + 1);
      if (i < 8) assert_int_equal(k, (int)i);
      /* a key kept during the failure, or set again after it, has its last value */
      assert_true(a[i].value.u.i == 100 + k);
    }
    uvotel_memory_exporter_reset(f->mem);
  }
}

static double cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double time_span(uvotel_tracer_t *t, char (*keys)[24], int n, int iters) {
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    double t0 = cpu_ns();
    for (int i = 0; i < iters; i++) {
      uvotel_span_t *s = uvotel_span_start(t, "op", NULL);
      for (int k = 0; k < n; k++) uvotel_span_set_attribute_int(s, keys[k], k);
      uvotel_span_end(s);
    }
    double dt = (cpu_ns() - t0) / iters;
    if (dt < best) best = dt;
  }
  return best;
}

/* Growth is linear: a span with 64 attributes (keys sharing a long prefix, the worst case for
 * comparing strings) costs about 8 times one with 8 (start and end included), where the
 * quadratic duplicate check cost 25 times and more. Bound: 16x (robust on a busy machine). */
static void test_attribute_cost_is_linear(void **state) {
  fx_t *f = *state;
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.sampler = uvotel_sampler_always_on();
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE | UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  f->p = uvotel_tracer_provider_create(&o);
  f->mem = uvotel_memory_exporter_create(1);
  uvotel_tracer_t *t = uvotel_tracer_get(f->p, "cost", NULL);
  static char keys[64][24];
  for (int k = 0; k < 64; k++) snprintf(keys[k], sizeof keys[k], "app.attribute.%02d", k);
  double eight = time_span(t, keys, 8, 4000);
  double sixty_four = time_span(t, keys, 64, 500);
  print_message("span cost: 8 attributes %.0f ns, 64 attributes %.0f ns (%.1fx)\n", eight,
                sixty_four, sixty_four / eight);
  assert_true(sixty_four < 16 * eight);
}

/* ---- bytes, kvlist, empty ---- */

static void open_provider_vlen(fx_t *f, uint32_t value_len) {
  open_provider_lim(f, 128, value_len);
}

static const uvotel_value_t *find_value(const uvotel_attribute_t *a, size_t n, const char *key) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(a[i].key, key) == 0) return &a[i].value;
  return NULL;
}

static uint64_t misuse_of(uvotel_tracer_provider_t *p) {
  uvotel_trace_counters_t c;
  assert_int_equal(uvotel_tracer_provider_counters(p, &c), 0);
  return c.misuse;
}

/* Every buffer the caller passed is heap memory, overwritten and freed right after the call:
 * what the span data holds is its own copy, events and links included. */
static void test_bytes_kvlist_empty_are_copied(void **state) {
  fx_t *f = *state;
  open_provider(f, 32);
  uint8_t *bytes = malloc(5);
  memcpy(bytes, "\x00\x01\xfe\xff\x7f", 5);
  char *ks = malloc(8), *vs = malloc(8), *inner_key = malloc(8);
  strcpy(ks, "k.s");
  strcpy(vs, "val");
  strcpy(inner_key, "deep");
  uvotel_attribute_t *inner = malloc(sizeof *inner * 2);
  uvotel_attribute_t i0 = UVOTEL_ATTR_BYTES("b", bytes, 2);
  uvotel_attribute_t i1 = UVOTEL_ATTR_EMPTY("e");
  inner[0] = i0;
  inner[0].key = inner_key;
  inner[1] = i1;
  uvotel_attribute_t *outer = malloc(sizeof *outer * 3);
  uvotel_attribute_t o0 = UVOTEL_ATTR_STR("k.s", "x");
  uvotel_attribute_t o1 = UVOTEL_ATTR_INT("k.i", -7);
  uvotel_attribute_t o2 = UVOTEL_ATTR_KVLIST("k.m", inner, 2);
  outer[0] = o0;
  outer[0].key = ks;
  outer[0].value.u.s = vs;
  outer[1] = o1;
  outer[2] = o2;
  uvotel_attribute_t attrs[] = {
      UVOTEL_ATTR_BYTES("bytes", bytes, 5), UVOTEL_ATTR_BYTES("bytes.empty", NULL, 0),
      UVOTEL_ATTR_KVLIST("map", outer, 3), UVOTEL_ATTR_KVLIST("map.empty", NULL, 0),
      UVOTEL_ATTR_EMPTY("none")};
  uint64_t misuse0 = misuse_of(f->p);
  uvotel_span_t *s = uvotel_span_start(f->t, "copy", NULL);
  uvotel_span_set_attributes(s, attrs, 5);
  uvotel_span_add_event(s, "ev", attrs, 5);
  uvotel_link_t l = {uvotel_span_context(s), attrs, 5, 0};
  uvotel_span_add_link(s, &l);
  memset(bytes, 0xaa, 5);
  memset(ks, 'z', 3);
  memset(vs, 'z', 3);
  memset(inner_key, 'z', 4);
  memset(inner, 0, sizeof *inner * 2);
  memset(outer, 0, sizeof *outer * 3);
  free(bytes);
  free(ks);
  free(vs);
  free(inner_key);
  free(inner);
  free(outer);
  uvotel_span_end(s);
  assert_int_equal(misuse_of(f->p), misuse0);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t nl[3];
  const uvotel_attribute_t *lists[3];
  lists[0] = uvotel_span_data_attributes(d, &nl[0]);
  const uvotel_event_t *ev = uvotel_span_data_events(d, &nl[1]);
  assert_int_equal(nl[1], 1);
  lists[1] = ev[0].attrs;
  nl[1] = ev[0].n_attrs;
  const uvotel_link_t *lk = uvotel_span_data_links(d, &nl[2]);
  assert_int_equal(nl[2], 1);
  lists[2] = lk[0].attrs;
  nl[2] = lk[0].n_attrs;
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 0);
  for (int k = 0; k < 3; k++) {
    const uvotel_attribute_t *a = lists[k];
    assert_int_equal(nl[k], 5);
    const uvotel_value_t *v = find_value(a, nl[k], "bytes");
    assert_non_null(v);
    assert_int_equal(v->type, UVOTEL_VALUE_BYTES);
    assert_int_equal(v->len, 5);
    assert_memory_equal(v->u.bytes, "\x00\x01\xfe\xff\x7f", 5);
    v = find_value(a, nl[k], "bytes.empty");
    assert_int_equal(v->type, UVOTEL_VALUE_BYTES);
    assert_int_equal(v->len, 0);
    v = find_value(a, nl[k], "none");
    assert_non_null(v);
    assert_int_equal(v->type, UVOTEL_VALUE_NONE);
    v = find_value(a, nl[k], "map.empty");
    assert_int_equal(v->type, UVOTEL_VALUE_KVLIST);
    assert_int_equal(v->len, 0);
    v = find_value(a, nl[k], "map");
    assert_int_equal(v->type, UVOTEL_VALUE_KVLIST);
    assert_int_equal(v->len, 3);
    assert_string_equal(v->u.kv[0].key, "k.s");
    assert_int_equal(v->u.kv[0].value.type, UVOTEL_VALUE_STRING);
    assert_string_equal(v->u.kv[0].value.u.s, "val");
    assert_int_equal(v->u.kv[0].value.len, 3);
    assert_string_equal(v->u.kv[1].key, "k.i");
    assert_int_equal(v->u.kv[1].value.u.i, -7);
    const uvotel_value_t *m = &v->u.kv[2].value;
    assert_string_equal(v->u.kv[2].key, "k.m");
    assert_int_equal(m->type, UVOTEL_VALUE_KVLIST);
    assert_int_equal(m->len, 2);
    assert_string_equal(m->u.kv[0].key, "deep");
    assert_int_equal(m->u.kv[0].value.type, UVOTEL_VALUE_BYTES);
    assert_int_equal(m->u.kv[0].value.len, 2);
    assert_memory_equal(m->u.kv[0].value.u.bytes, "\x00\x01", 2);
    assert_string_equal(m->u.kv[1].key, "e");
    assert_int_equal(m->u.kv[1].value.type, UVOTEL_VALUE_NONE);
  }
}

/* chain[i] is a kvlist attribute holding chain[i+1]; chain[CHAIN_N] an int: chain[0] carries
 * MAX_DEPTH + 1 nested kvlists, chain[1] MAX_DEPTH. */
enum { CHAIN_N = UVOTEL_VALUE_MAX_DEPTH + 1 };
static void make_chain(uvotel_attribute_t chain[CHAIN_N + 1]) {
  for (int i = 0; i < CHAIN_N; i++) {
    uvotel_attribute_t a = UVOTEL_ATTR_KVLIST("lvl", &chain[i + 1], 1);
    chain[i] = a;
  }
  uvotel_attribute_t leaf = UVOTEL_ATTR_INT("leaf", 1);
  chain[CHAIN_N] = leaf;
}

/* A chain of kvlists: UVOTEL_VALUE_MAX_DEPTH nested ones are kept, one more drops the
 * attribute (counted as dropped, not misuse); replacing a key with a too-deep value keeps the
 * old value and counts the drop. */
static void test_kvlist_nesting_bound(void **state) {
  fx_t *f = *state;
  open_provider(f, 32);
  uvotel_attribute_t chain[CHAIN_N + 1];
  make_chain(chain);
  uint64_t misuse0 = misuse_of(f->p);
  uvotel_span_t *s = uvotel_span_start(f->t, "deep", NULL);
  /* chain[1] carries MAX_DEPTH kvlists: kept */
  uvotel_attribute_t ok = chain[1];
  ok.key = "ok";
  uvotel_span_set_attribute(s, &ok);
  /* chain[0] carries MAX_DEPTH + 1: dropped */
  uvotel_attribute_t deep = chain[0];
  deep.key = "too.deep";
  uvotel_span_set_attribute(s, &deep);
  deep.key = "ok"; /* a replacement too deep: the old value stays */
  uvotel_span_set_attribute(s, &deep);
  uvotel_span_add_event(s, "ev", &deep, 1);
  uvotel_span_end(s);
  assert_int_equal(misuse_of(f->p), misuse0);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 1);
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 2);
  assert_string_equal(a[0].key, "ok");
  const uvotel_value_t *v = &a[0].value;
  int depth = 0;
  while (v->type == UVOTEL_VALUE_KVLIST) {
    assert_int_equal(v->len, 1);
    depth++;
    v = &v->u.kv[0].value;
  }
  assert_int_equal(depth, UVOTEL_VALUE_MAX_DEPTH);
  assert_int_equal(v->type, UVOTEL_VALUE_INT);
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  assert_int_equal(n, 1);
  assert_int_equal(ev[0].n_attrs, 0);
  assert_int_equal(ev[0].dropped_attributes, 1);
}

/* The value-length limit: byte arrays cut by bytes, strings inside kvlists by characters. */
static void test_value_length_limit_bytes(void **state) {
  fx_t *f = *state;
  open_provider_vlen(f, 3);
  const uint8_t bytes[] = {1, 2, 3, 4, 5, 6};
  uvotel_attribute_t inner[] = {UVOTEL_ATTR_STR("s", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
                                UVOTEL_ATTR_BYTES("b", bytes, 6)};
  uvotel_attribute_t attrs[] = {
      UVOTEL_ATTR_BYTES("b6", bytes, 6), UVOTEL_ATTR_BYTES("b3", bytes, 3),
      UVOTEL_ATTR_BYTES("b2", bytes, 2), UVOTEL_ATTR_KVLIST("m", inner, 2)};
  uvotel_span_t *s = uvotel_span_start(f->t, "vlen", NULL);
  uvotel_span_set_attributes(s, attrs, 4);
  uvotel_span_end(s);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 4);
  assert_int_equal(find_value(a, n, "b6")->len, 3);
  assert_memory_equal(find_value(a, n, "b6")->u.bytes, bytes, 3);
  assert_int_equal(find_value(a, n, "b3")->len, 3);
  assert_int_equal(find_value(a, n, "b2")->len, 2);
  const uvotel_value_t *m = find_value(a, n, "m");
  assert_int_equal(m->u.kv[0].value.len, 6); /* 3 characters of 2 bytes */
  assert_string_equal(m->u.kv[0].value.u.s, "\xc3\xa9\xc3\xa9\xc3\xa9");
  assert_int_equal(m->u.kv[1].value.len, 3);
}

/* NULL data with a length, bad keys inside a kvlist, unknown types: invalid, counted as misuse,
 * nothing stored; NULL/empty keys stay invalid for empty values too. */
static void test_bytes_kvlist_bad_input(void **state) {
  fx_t *f = *state;
  open_provider(f, 32);
  uvotel_attribute_t bad_inner[] = {UVOTEL_ATTR_INT("ok", 1), UVOTEL_ATTR_INT("", 2)};
  uvotel_attribute_t null_inner[] = {UVOTEL_ATTR_BYTES("b", NULL, 4)};
  uvotel_attribute_t nested_bad[] = {UVOTEL_ATTR_KVLIST("m", null_inner, 1)};
  uvotel_attribute_t nokey_inner[] = {UVOTEL_ATTR_INT("x", 1)};
  nokey_inner[0].key = NULL;
  uvotel_attribute_t bad[] = {UVOTEL_ATTR_BYTES("b", NULL, 1),
                              UVOTEL_ATTR_KVLIST("m", NULL, 2),
                              UVOTEL_ATTR_KVLIST("m2", bad_inner, 2),
                              UVOTEL_ATTR_KVLIST("m3", nested_bad, 1),
                              UVOTEL_ATTR_KVLIST("m4", nokey_inner, 1),
                              UVOTEL_ATTR_EMPTY(""),
                              UVOTEL_ATTR_EMPTY(NULL),
                              {"t11", {(uvotel_value_type_t)11, 0, {.i = 0}}}};
  size_t nbad = sizeof bad / sizeof bad[0];
  uint64_t misuse0 = misuse_of(f->p);
  uvotel_span_t *s = uvotel_span_start(f->t, "bad", NULL);
  uvotel_span_set_attributes(s, bad, nbad);
  assert_int_equal(misuse_of(f->p), misuse0 + nbad);
  uvotel_span_add_event(s, "ev", bad, nbad);
  assert_int_equal(misuse_of(f->p), misuse0 + 2 * nbad);
  uvotel_span_end(s);
  const uvotel_span_data_t *d = uvotel_memory_exporter_get(f->mem, 0);
  size_t n;
  uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 0);
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 0);
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  assert_int_equal(ev[0].n_attrs, 0);
}

/* Tracer scope attributes with the new types: the same request finds the same tracer, a
 * different byte or nested value a new one. */
static void test_scope_attributes_new_types(void **state) {
  fx_t *f = *state;
  open_provider(f, 32);
  uint8_t b1[] = {1, 2, 3}, b2[] = {1, 2, 4};
  uvotel_attribute_t in1[] = {UVOTEL_ATTR_BYTES("b", b1, 3), UVOTEL_ATTR_EMPTY("e")};
  uvotel_attribute_t in2[] = {UVOTEL_ATTR_BYTES("b", b2, 3), UVOTEL_ATTR_EMPTY("e")};
  uvotel_attribute_t a1[] = {UVOTEL_ATTR_KVLIST("m", in1, 2), UVOTEL_ATTR_EMPTY("none")};
  uvotel_attribute_t a2[] = {UVOTEL_ATTR_KVLIST("m", in2, 2), UVOTEL_ATTR_EMPTY("none")};
  uvotel_tracer_t *t1 = uvotel_tracer_get_with_attributes(f->p, "lib", "1", NULL, a1, 2);
  uvotel_tracer_t *t1b = uvotel_tracer_get_with_attributes(f->p, "lib", "1", NULL, a1, 2);
  uvotel_tracer_t *t2 = uvotel_tracer_get_with_attributes(f->p, "lib", "1", NULL, a2, 2);
  assert_non_null(t1);
  assert_ptr_equal(t1, t1b);
  assert_true(t1 != t2);
  in1[0].value.u.bytes = b2; /* the stored copy is unaffected */
  assert_ptr_equal(uvotel_tracer_get_with_attributes(f->p, "lib", "1", NULL, a2, 2), t2);
  /* an attribute nested too deep is dropped from the scope, and the same request still finds
   * the same tracer */
  uvotel_attribute_t chain[CHAIN_N + 1];
  make_chain(chain);
  uvotel_attribute_t a3[] = {UVOTEL_ATTR_INT("x", 1), chain[0]};
  uvotel_tracer_t *t3 = uvotel_tracer_get_with_attributes(f->p, "deep", NULL, NULL, a3, 2);
  assert_non_null(t3);
  assert_int_equal(uvotel_tracer_scope(t3)->n_attrs, 1);
  assert_ptr_equal(uvotel_tracer_get_with_attributes(f->p, "deep", NULL, NULL, a3, 2), t3);
  const uvotel_instrumentation_scope_t *sc = uvotel_tracer_scope(t1);
  assert_int_equal(sc->n_attrs, 2);
  assert_int_equal(sc->attrs[0].value.type, UVOTEL_VALUE_KVLIST);
  assert_memory_equal(sc->attrs[0].value.u.kv[0].value.u.bytes, b1, 3);
  assert_int_equal(sc->attrs[1].value.type, UVOTEL_VALUE_NONE);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_span_attributes_match_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_span_attributes_replace_and_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_event_and_link_attributes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attributes_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attribute_cost_is_linear, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_kvlist_empty_are_copied, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kvlist_nesting_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_length_limit_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bytes_kvlist_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_scope_attributes_new_types, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
