/* The span hot path (issue 15 item 4): attributes with borrowed keys (the _static setters and
 * the UVOTEL_SPAN_SET_*_LIT macros) and every bad input they refuse; duplicate detection through
 * the key bloom (keys that share a bloom bit, mixed borrowed and copied, past the linear range);
 * the span pool made ready at provider creation (no allocation for the first spans, the default
 * and UVOTEL_PREALLOC_NONE, a request above max_spans clamped); the inline sampling decision of
 * the built-in samplers; span ids unique and non-zero; TSC timestamps agreeing with
 * CLOCK_REALTIME; timestamps stored as ticks and converted when read (explicit ones kept as
 * given, events ordered, a span across a re-anchoring). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>

#include "counting_alloc.h"

/* A processor that keeps (retains) every ended span for inspection. */
#define HOLD_MAX 4096
typedef struct hold_s {
  const uvotel_span_data_t *d[HOLD_MAX];
  size_t n;
} hold_t;

static void hold_on_end(void *self, const uvotel_span_data_t *d) {
  hold_t *h = self;
  if (h->n < HOLD_MAX) h->d[h->n++] = uvotel_span_data_retain(d);
}
static void hold_clear(hold_t *h) {
  for (size_t i = 0; i < h->n; i++) uvotel_span_data_release(h->d[i]);
  h->n = 0;
}
static void hold_free(void *self) {
  hold_clear(self);
}
static const uvotel_span_processor_ops_t g_hold_ops = {.on_end = hold_on_end, .free = hold_free};

typedef struct fx_s {
  uv_loop_t loop;
  hold_t hold;
  uvotel_tracer_provider_t *p;
  uvotel_tracer_t *t;
  long live0;
} fx_t;

/* Options for a provider whose one processor (made into *pr) holds ended spans in f->hold. */
static uvotel_tracer_provider_options_t hold_options(fx_t *f, uvotel_span_processor_t **pr) {
  *pr = uvotel_span_processor_create(&g_hold_ops, &f->hold);
  assert_non_null(*pr);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = pr;
  o.n_processors = 1;
  o.loop = &f->loop;
  o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE | UVOTEL_PROVIDER_NO_DETECTORS;
  return o;
}

static void open_provider(fx_t *f, uint32_t max_spans, uint32_t prealloc,
                          uvotel_sampler_t *sampler) {
  uvotel_span_processor_t *pr;
  uvotel_tracer_provider_options_t o = hold_options(f, &pr);
  o.max_spans = max_spans;
  o.prealloc_spans = prealloc;
  o.sampler = sampler;
  f->p = uvotel_tracer_provider_create(&o);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "hotpath", NULL);
  assert_non_null(f->t);
}

static void close_provider(fx_t *f) {
  uvotel_tracer_provider_free(f->p);
  f->p = NULL;
}

static int setup(void **state) {
  fx_t *f = calloc(1, sizeof *f);
  f->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&f->loop), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx_t *f = *state;
  if (f->p != NULL) close_provider(f);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

static const uvotel_attribute_t *find_attr(const uvotel_span_data_t *d, const char *key,
                                           size_t *count) {
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  const uvotel_attribute_t *hit = NULL;
  size_t c = 0;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(a[i].key, key) == 0) {
      hit = &a[i];
      c++;
    }
  }
  if (count != NULL) *count = c;
  return hit;
}

/* ---- borrowed keys ---- */

static const char k_method[] = "http.method";

static void test_static_setters_borrow_keys(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  char value[8] = "GET";
  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  uvotel_span_set_attribute_str_static(s, k_method, sizeof k_method - 1, value);
  UVOTEL_SPAN_SET_INT_LIT(s, "http.status_code", 200);
  UVOTEL_SPAN_SET_DOUBLE_LIT(s, "load", 1.5);
  UVOTEL_SPAN_SET_BOOL_LIT(s, "cache.hit", true);
  UVOTEL_SPAN_SET_STR_LIT(s, "lit.str", "x");
  strcpy(value, "PUT"); /* values are still copied */
  uvotel_span_end(s);
  assert_int_equal(f->hold.n, 1);
  const uvotel_span_data_t *d = f->hold.d[0];
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 5);
  assert_ptr_equal(a[0].key, k_method); /* borrowed, not copied */
  assert_int_equal(a[0].value.type, UVOTEL_VALUE_STRING);
  assert_string_equal(a[0].value.u.s, "GET");
  assert_int_equal(a[0].value.len, 3);
  assert_string_equal(a[1].key, "http.status_code");
  assert_int_equal(a[1].value.type, UVOTEL_VALUE_INT);
  assert_int_equal(a[1].value.u.i, 200);
  assert_string_equal(a[2].key, "load");
  assert_int_equal(a[2].value.type, UVOTEL_VALUE_DOUBLE);
  assert_true(a[2].value.u.d == 1.5);
  assert_string_equal(a[3].key, "cache.hit");
  assert_int_equal(a[3].value.type, UVOTEL_VALUE_BOOL);
  assert_true(a[3].value.u.b);
  assert_string_equal(a[4].value.u.s, "x");
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 0);
  hold_clear(&f->hold);
}

/* A key set borrowed and then copied (or the other way) is one attribute, the last value. */
static void test_static_and_copied_keys_are_one_attribute(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  UVOTEL_SPAN_SET_INT_LIT(s, "k", 1);
  char buf[4] = "k";
  uvotel_span_set_attribute_int(s, buf, 2);
  uvotel_span_set_attribute_str(s, "m", "a");
  UVOTEL_SPAN_SET_STR_LIT(s, "m", "b");
  uvotel_span_end(s);
  size_t c;
  const uvotel_attribute_t *a = find_attr(f->hold.d[0], "k", &c);
  assert_int_equal(c, 1);
  assert_int_equal(a->value.u.i, 2);
  a = find_attr(f->hold.d[0], "m", &c);
  assert_int_equal(c, 1);
  assert_string_equal(a->value.u.s, "b");
  size_t n;
  uvotel_span_data_attributes(f->hold.d[0], &n);
  assert_int_equal(n, 2);
  hold_clear(&f->hold);
}

static void test_static_setters_bad_input(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  /* NULL span: ignored, counted */
  uint64_t m0 = uvotel_trace_misuse_total();
  uvotel_span_set_attribute_str_static(NULL, "k", 1, "v");
  uvotel_span_set_attribute_int_static(NULL, "k", 1, 1);
  uvotel_span_set_attribute_double_static(NULL, "k", 1, 1.0);
  uvotel_span_set_attribute_bool_static(NULL, "k", 1, true);
  assert_int_equal(uvotel_trace_misuse_total() - m0, 4);

  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  uvotel_trace_counters_t c0, c1;
  uvotel_tracer_provider_counters(f->p, &c0);
  uvotel_span_set_attribute_int_static(s, NULL, 1, 1);       /* NULL key */
  uvotel_span_set_attribute_int_static(s, "k", 0, 1);        /* length 0 */
  uvotel_span_set_attribute_int_static(s, "", 0, 1);         /* empty key */
  uvotel_span_set_attribute_int_static(s, "key", 2, 1);      /* length short of the NUL */
  uvotel_span_set_attribute_str_static(s, "k", 1, NULL);     /* NULL string value */
  uvotel_span_set_attribute_double_static(s, "key", 1, 1.0); /* length short of the NUL */
  uvotel_span_set_attribute_bool_static(s, NULL, 3, false);  /* NULL key */
  uvotel_span_set_attribute_str_static(s, "\0k", 2, "v");    /* starts with NUL */
  uvotel_tracer_provider_counters(f->p, &c1);
  assert_int_equal(c1.misuse - c0.misuse, 8);
  uvotel_span_end(s);
  size_t n;
  uvotel_span_data_attributes(f->hold.d[0], &n);
  assert_int_equal(n, 0);

  /* an ended span: misuse; a non-recording one: a silent no-op */
  uvotel_tracer_provider_counters(f->p, &c0);
  uvotel_span_set_attribute_int_static(s, "k", 1, 1); /* s ended (held by the processor) */
  uvotel_tracer_provider_counters(f->p, &c1);
  assert_int_equal(c1.misuse - c0.misuse, 1);
  hold_clear(&f->hold);
  close_provider(f);

  open_provider(f, 0, 0, uvotel_sampler_always_off());
  s = uvotel_span_start(f->t, "off", NULL);
  assert_false(uvotel_span_is_recording(s));
  uvotel_tracer_provider_counters(f->p, &c0);
  UVOTEL_SPAN_SET_INT_LIT(s, "k", 1);
  UVOTEL_SPAN_SET_STR_LIT(s, "k", "v");
  UVOTEL_SPAN_SET_DOUBLE_LIT(s, "k", 1.0);
  UVOTEL_SPAN_SET_BOOL_LIT(s, "k", true);
  uvotel_tracer_provider_counters(f->p, &c1);
  assert_int_equal(c1.misuse - c0.misuse, 0);
  uvotel_span_end(s);
  assert_int_equal(f->hold.n, 0);
}

/* The limits apply to borrowed keys as to copied ones: count (dropped, counted) and value
 * length. */
static void test_static_setters_limits(void **state) {
  fx_t *f = *state;
  uvotel_span_processor_t *pr;
  uvotel_tracer_provider_options_t o = hold_options(f, &pr);
  o.limits.attribute_count = 2;
  o.limits.attribute_value_length = 3;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "limits", NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  UVOTEL_SPAN_SET_STR_LIT(s, "a", "abcdef");
  UVOTEL_SPAN_SET_INT_LIT(s, "b", 1);
  UVOTEL_SPAN_SET_INT_LIT(s, "c", 2); /* third key: dropped */
  UVOTEL_SPAN_SET_INT_LIT(s, "b", 3); /* existing key: replaced */
  uvotel_span_end(s);
  const uvotel_span_data_t *d = f->hold.d[0];
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 2);
  assert_string_equal(a[0].value.u.s, "abc");
  assert_int_equal(a[0].value.len, 3);
  assert_int_equal(a[1].value.u.i, 3);
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 1);
  hold_clear(&f->hold);
}

/* ---- duplicate detection ---- */

/* Keys with the same length and first, middle and last bytes share a bloom bit: duplicates
 * among them are still found, below and past the linear range (8 keys), through every setter. */
static void test_bloom_collisions_still_dedupe(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  enum { N = 40 };
  char keys[N][8];
  for (int i = 0; i < N; i++) snprintf(keys[i], sizeof keys[i], "a%02dbx%c", i, 'z');
  /* "a00bxz", "a01bxz", ...: length 6, bytes 0, 3 and 5 the same ('a', 'b', 'z') */
  for (int round = 0; round < 3; round++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
    int upto = round == 0 ? 6 : N; /* linear range only, then past it */
    for (int pass = 0; pass < 2; pass++) {
      for (int i = 0; i < upto; i++) {
        if (round == 2 && pass == 1) {
          uvotel_attribute_t at = UVOTEL_ATTR_INT(keys[i], 100 * pass + i);
          uvotel_span_set_attribute(s, &at);
        } else {
          uvotel_span_set_attribute_int(s, keys[i], 100 * pass + i);
        }
      }
    }
    uvotel_span_end(s);
    const uvotel_span_data_t *d = f->hold.d[f->hold.n - 1];
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
    assert_int_equal(n, (size_t)upto);
    for (int i = 0; i < upto; i++) {
      assert_string_equal(a[i].key, keys[i]);
      assert_int_equal(a[i].value.u.i, 100 + i);
    }
  }
  hold_clear(&f->hold);
}

/* A reused slot forgets its previous span's bloom: a key set on the old span is new on the
 * next one (stored, not mistaken for a duplicate of a key that is no longer there). */
static void test_reused_slot_forgets_bloom(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  for (int i = 0; i < 50; i++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
    uvotel_span_set_attribute_int(s, i % 2 ? "odd" : "even", i);
    UVOTEL_SPAN_SET_INT_LIT(s, "n", i);
    uvotel_span_end(s);
    size_t n;
    const uvotel_attribute_t *a = uvotel_span_data_attributes(f->hold.d[0], &n);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].key, i % 2 ? "odd" : "even");
    assert_int_equal(a[1].value.u.i, i);
    hold_clear(&f->hold);
  }
}

/* ---- the setters' fast path and its boundaries ---- */

/* Key i of a sweep: distinct lengths and shapes (short, 4-7, 8-16 and past 16 bytes, keys that
 * share their first and last 8 bytes and differ only in between). */
static void sweep_key(char *out, size_t cap, int i) {
  switch (i % 4) {
    case 0:
      snprintf(out, cap, "k%d", i);
      break;
    case 1:
      snprintf(out, cap, "app.attribute.%02d", i);
      break;
    case 2:
      snprintf(out, cap, "http.request.%03d.header.value", i); /* > 16: the middle differs */
      break;
    default:
      snprintf(out, cap, "x%03d", i);
      break;
  }
}

/* Every count of distinct keys up to 70 against attribute-count limits around the fast path's
 * bounds (the first arrays' 8, the linear range's 16, the index past it): each key set twice
 * (the second value wins, stored once), through the copied, the borrowed and the array setters
 * in turn; what the limit refuses is counted once per refused set. The same slots are reused
 * from one case to the next. */
static void test_fast_path_boundaries(void **state) {
  fx_t *f = *state;
  static const uint32_t limits[] = {0, 1, 7, 8, 9, 15, 16, 17, 33, 128};
  char keys[70][40];
  for (int i = 0; i < 70; i++) sweep_key(keys[i], sizeof keys[i], i);
  for (size_t li = 0; li < sizeof limits / sizeof limits[0]; li++) {
    uvotel_span_processor_t *pr;
    uvotel_tracer_provider_options_t o = hold_options(f, &pr);
    o.limits.attribute_count = limits[li];
    f->p = uvotel_tracer_provider_create(&o);
    f->t = uvotel_tracer_get(f->p, "boundaries", NULL);
    for (int n = 0; n <= 70; n += (n < 20 ? 1 : 7)) {
      uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
      for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n; i++) {
          int64_t v = 1000 * pass + i;
          switch ((i + pass) % 3) {
            case 0:
              uvotel_span_set_attribute_int(s, keys[i], v);
              break;
            case 1:
              uvotel_span_set_attribute_int_static(s, keys[i], strlen(keys[i]), v);
              break;
            default: {
              uvotel_attribute_t at = UVOTEL_ATTR_INT(keys[i], v);
              uvotel_span_set_attributes(s, &at, 1);
              break;
            }
          }
        }
      }
      uvotel_span_end(s);
      const uvotel_span_data_t *d = f->hold.d[f->hold.n - 1];
      size_t got;
      const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &got);
      size_t want = (size_t)n < limits[li] ? (size_t)n : limits[li];
      assert_int_equal(got, want);
      assert_int_equal(uvotel_span_data_dropped_attributes(d), 2 * ((size_t)n - want));
      for (size_t i = 0; i < got; i++) {
        assert_string_equal(a[i].key, keys[i]);
        assert_int_equal(a[i].value.type, UVOTEL_VALUE_INT);
        assert_int_equal(a[i].value.u.i, 1000 + (int64_t)i);
      }
      hold_clear(&f->hold);
    }
    close_provider(f);
  }
}

/* String values through the fast path: within the value-length limit stored whole, past it cut
 * at a character boundary; an overwrite of a string by a scalar and back. */
static void test_fast_path_string_values(void **state) {
  fx_t *f = *state;
  uvotel_span_processor_t *pr;
  uvotel_tracer_provider_options_t o = hold_options(f, &pr);
  o.limits.attribute_value_length = 4;
  f->p = uvotel_tracer_provider_create(&o);
  f->t = uvotel_tracer_get(f->p, "strings", NULL);
  uvotel_span_t *s = uvotel_span_start(f->t, "op", NULL);
  uvotel_span_set_attribute_str(s, "short", "abcd");
  uvotel_span_set_attribute_str(s, "long", "abcdefgh");
  uvotel_span_set_attribute_str(s, "utf8", "ab\xc3\xa9\xc3\xa9z"); /* "abééz": 4 chars = 6 bytes */
  UVOTEL_SPAN_SET_STR_LIT(s, "lit", "wxyz!");
  uvotel_span_set_attribute_str(s, "swap", "text");
  uvotel_span_set_attribute_int(s, "swap", 7);
  uvotel_span_set_attribute_str(s, "swap2", "x");
  uvotel_span_set_attribute_bool(s, "swap2", true);
  uvotel_span_set_attribute_str(s, "swap2", "again");
  uvotel_span_end(s);
  const uvotel_span_data_t *d = f->hold.d[0];
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  assert_int_equal(n, 6);
  assert_string_equal(a[0].value.u.s, "abcd");
  assert_int_equal(a[0].value.len, 4);
  assert_string_equal(a[1].value.u.s, "abcd");
  assert_int_equal(a[1].value.len, 4);
  assert_string_equal(a[2].value.u.s, "ab\xc3\xa9\xc3\xa9");
  assert_int_equal(a[2].value.len, 6);
  assert_string_equal(a[3].value.u.s, "wxyz");
  assert_int_equal(a[4].value.type, UVOTEL_VALUE_INT);
  assert_int_equal(a[4].value.u.i, 7);
  assert_int_equal(a[5].value.type, UVOTEL_VALUE_STRING);
  assert_string_equal(a[5].value.u.s, "agai");
  assert_int_equal(uvotel_span_data_dropped_attributes(d), 0);
  hold_clear(&f->hold);
}

/* ---- the ender's reference handed to the last processor ---- */

/* A processor that, on the end of a span named "outer", starts and ends a span "inner" of the
 * same tracer from inside on_end (a nested end while the outer one is being handed over). */
typedef struct nest_s {
  uvotel_tracer_t *t;
  int inner_ended;
} nest_t;
static void nest_on_end(void *self, const uvotel_span_data_t *d) {
  nest_t *n = self;
  if (strcmp(uvotel_span_data_name(d), "outer") != 0) return;
  uvotel_span_t *s = uvotel_span_start(n->t, "inner", NULL);
  uvotel_span_set_attribute_int(s, "depth", 1);
  uvotel_span_end(s);
  n->inner_ended++;
}
static const uvotel_span_processor_ops_t g_nest_ops = {.on_end = nest_on_end};

/* The batch processor keeps the ender's reference when it is last, retains one when it is not;
 * a processor that ends spans inside on_end (first or last) gets its nested hand-over right: every
 * span exported once, with its data intact, and no slot lost (the provider's memory all freed at
 * the end, which the teardown checks; max_spans small so a leaked slot would exhaust the pool). */
static void test_end_handoff_orders(void **state) {
  fx_t *f = *state;
  for (int order = 0; order < 3; order++) {
    uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
    uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
    bo.loop = &f->loop;
    bo.max_queue_size = 4096;
    uvotel_span_processor_t *bp =
        uvotel_batch_span_processor_create(uvotel_memory_exporter_exporter(mem), &bo);
    assert_non_null(bp);
    nest_t nest = {NULL, 0};
    uvotel_span_processor_t *np = uvotel_span_processor_create(&g_nest_ops, &nest);
    uvotel_span_processor_t *hp = uvotel_span_processor_create(&g_hold_ops, &f->hold);
    uvotel_span_processor_t *procs[3];
    size_t n_procs;
    if (order == 0) { /* batch last: it keeps the ender's reference */
      procs[0] = np, procs[1] = hp, procs[2] = bp, n_procs = 3;
    } else if (order == 1) { /* batch first: it retains; the nesting one is last */
      procs[0] = bp, procs[1] = hp, procs[2] = np, n_procs = 3;
    } else { /* batch alone */
      procs[0] = bp, n_procs = 1;
      uvotel_span_processor_free(np);
      uvotel_span_processor_free(hp);
    }
    uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
    o.processors = procs;
    o.n_processors = n_procs;
    o.loop = &f->loop;
    o.max_spans = 256;
    o.flags = UVOTEL_PROVIDER_NO_ENV_RESOURCE | UVOTEL_PROVIDER_NO_DETECTORS;
    f->p = uvotel_tracer_provider_create(&o);
    assert_non_null(f->p);
    f->t = nest.t = uvotel_tracer_get(f->p, "handoff", NULL);
    enum { ROUNDS = 3, PER = 200 };
    size_t want = 0, got = 0;
    for (int r = 0; r < ROUNDS; r++) {
      for (int i = 0; i < PER; i++) {
        uvotel_span_t *s = uvotel_span_start(f->t, i % 4 == 0 ? "outer" : "plain", NULL);
        uvotel_span_set_attribute_int(s, "i", i);
        uvotel_span_end(s);
        want += (i % 4 == 0 && n_procs == 3) ? 2 : 1;
      }
      hold_clear(&f->hold);
      assert_int_equal(uvotel_tracer_provider_force_flush(f->p, 5000), 0);
      uv_run(&f->loop, UV_RUN_NOWAIT);
      /* the memory exporter holds what it got: check it, then let the slots go (max_spans) */
      for (size_t i = 0; i < uvotel_memory_exporter_count(mem); i++) {
        const uvotel_span_data_t *d = uvotel_memory_exporter_get(mem, i);
        size_t n;
        const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
        assert_int_equal(n, 1);
        const char *name = uvotel_span_data_name(d);
        assert_true(strcmp(name, "inner") == 0 ? strcmp(a[0].key, "depth") == 0
                                               : strcmp(a[0].key, "i") == 0);
      }
      got += uvotel_memory_exporter_count(mem);
      uvotel_memory_exporter_reset(mem);
    }
    assert_int_equal(got, want);
    uvotel_trace_counters_t c;
    assert_int_equal(uvotel_tracer_provider_counters(f->p, &c), 0);
    assert_int_equal(c.pool_exhausted, 0);
    assert_int_equal(c.dropped, 0);
    assert_int_equal(c.ended, want);
    if (n_procs == 3) assert_int_equal(nest.inner_ended, ROUNDS * PER / 4);
    close_provider(f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    uvotel_memory_exporter_free(mem);
  }
}

/* ---- the pool: a thread's cache spilling to and refilling from the shared list ---- */

/* With max_spans exactly the pool's size, all of it open at once, ended (the thread's cache
 * overflows: chains go to the shared list) and opened again (the empty cache refills in chains):
 * every slot comes back every round, so none is lost or handed out twice. */
static void test_pool_spill_refill_keeps_every_slot(void **state) {
  fx_t *f = *state;
  enum { N = 1024 };
  open_provider(f, N, N, NULL);
  static uvotel_span_t *spans[N];
  for (int r = 0; r < 4; r++) {
    for (int i = 0; i < N; i++) {
      spans[i] = uvotel_span_start(f->t, "op", NULL);
      assert_true(uvotel_span_is_recording(spans[i]));
    }
    for (int i = 0; i < N; i++) {
      for (int j = i + 1; j < N && j < i + 8; j++) assert_ptr_not_equal(spans[i], spans[j]);
    }
    for (int i = 0; i < N; i++) uvotel_span_end(spans[(r % 2) ? N - 1 - i : i]);
    hold_clear(&f->hold); /* releases in batches: the cache spills */
  }
  uvotel_span_t *extra[N + 1];
  for (int i = 0; i <= N; i++) extra[i] = uvotel_span_start(f->t, "op", NULL);
  assert_false(uvotel_span_is_recording(extra[N])); /* the pool is exactly N */
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.pool_exhausted, 1);
  for (int i = 0; i <= N; i++) uvotel_span_end(extra[i]);
  hold_clear(&f->hold);
}

/* ---- the pool at creation ---- */

static void start_n(fx_t *f, uvotel_span_t **spans, size_t n) {
  for (size_t i = 0; i < n; i++) {
    spans[i] = uvotel_span_start(f->t, "GET /items", NULL);
    UVOTEL_SPAN_SET_STR_LIT(spans[i], "http.method", "GET");
    uvotel_span_set_attribute_int(spans[i], "http.status_code", 200);
    uvotel_span_set_attribute_str(spans[i], "http.route", "/items");
    uvotel_span_set_attribute_bool(spans[i], "cache.hit", false);
  }
}

static void end_n(uvotel_span_t **spans, size_t n) {
  for (size_t i = 0; i < n; i++) uvotel_span_end(spans[i]);
}

/* prealloc_spans slots are ready: that many spans open at once (4 attributes each) allocate
 * nothing; without preallocation the same spans allocate (the pool's chunks, as they are made). */
static void test_prealloc_first_spans_allocate_nothing(void **state) {
  fx_t *f = *state;
  enum { N = 600 };
  static uvotel_span_t *spans[N];
  open_provider(f, 0, N, NULL);
  counting_alloc_stats_t a0 = counting_alloc_stats();
  start_n(f, spans, N);
  counting_alloc_stats_t a1 = counting_alloc_stats();
  assert_int_equal(a1.allocs - a0.allocs, 0);
  assert_int_equal(a1.reallocs - a0.reallocs, 0);
  end_n(spans, N);
  hold_clear(&f->hold);
  close_provider(f);

  open_provider(f, 0, UVOTEL_PREALLOC_NONE, NULL);
  a0 = counting_alloc_stats();
  start_n(f, spans, N);
  a1 = counting_alloc_stats();
  /* slots hold their attributes and first arena bytes inline: the lazy pool allocates a chunk
   * of UVOTEL__SPAN_CHUNK (256) slots at a time, 3 for 600 spans */
  assert_true(a1.allocs + a1.reallocs - a0.allocs - a0.reallocs >= (N + 255) / 256);
  end_n(spans, N);
  hold_clear(&f->hold);
}

/* The default (0) prepares 4096 slots; a request above max_spans is clamped to it (creation
 * succeeds, the pool still ends at max_spans; capacity counts in chunks of 256 slots). */
static void test_prealloc_default_and_clamp(void **state) {
  fx_t *f = *state;
  enum { N = 4096 };
  static uvotel_span_t *spans[N];
  open_provider(f, 0, 0, NULL);
  counting_alloc_stats_t a0 = counting_alloc_stats();
  start_n(f, spans, N);
  counting_alloc_stats_t a1 = counting_alloc_stats();
  assert_int_equal(a1.allocs - a0.allocs, 0);
  end_n(spans, N);
  hold_clear(&f->hold);
  close_provider(f);

  open_provider(f, 512, 1000000, NULL);
  a0 = counting_alloc_stats();
  start_n(f, spans, 512);
  a1 = counting_alloc_stats();
  assert_int_equal(a1.allocs - a0.allocs, 0);
  uvotel_span_t *extra = uvotel_span_start(f->t, "one too many", NULL);
  assert_false(uvotel_span_is_recording(extra));
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(f->p, &c);
  assert_int_equal(c.pool_exhausted, 1);
  uvotel_span_end(extra);
  end_n(spans, 512);
  hold_clear(&f->hold);
}

/* Out of memory while slots are made ready: the provider is still made (said at warn) and its
 * pool grows on demand. */
static void test_prealloc_out_of_memory(void **state) {
  fx_t *f = *state;
  uvotel_span_processor_t *pr;
  uvotel_tracer_provider_options_t o = hold_options(f, &pr);
  o.prealloc_spans = 512;
  /* find how many allocations creation needs before the pool, then fail inside the pool */
  counting_alloc_stats_t a0 = counting_alloc_stats();
  uvotel_span_processor_t *pr2;
  uvotel_tracer_provider_options_t lazy = hold_options(f, &pr2);
  lazy.prealloc_spans = UVOTEL_PREALLOC_NONE;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&lazy);
  assert_non_null(p);
  counting_alloc_stats_t a1 = counting_alloc_stats();
  uvotel_tracer_provider_free(p);
  long before_pool = (long)(a1.allocs - a0.allocs);
  o.sampler = uvotel_sampler_always_on(); /* made before the failures start */
  counting_alloc_fail_after(before_pool + 10, 3);
  f->p = uvotel_tracer_provider_create(&o);
  counting_alloc_fail_after(0, 0);
  assert_non_null(f->p);
  f->t = uvotel_tracer_get(f->p, "oom", NULL);
  uvotel_span_t *spans[600];
  start_n(f, spans, 600);
  for (int i = 0; i < 600; i++) assert_true(uvotel_span_is_recording(spans[i]));
  end_n(spans, 600);
  assert_int_equal(f->hold.n, 600);
  hold_clear(&f->hold);
}

/* ---- sampling decided inline ---- */

static void test_builtin_samplers_inline(void **state) {
  fx_t *f = *state;
  uvotel_span_context_t sampled, unsampled;
  memset(&sampled, 0, sizeof sampled);
  sampled.trace_id.bytes[0] = 1;
  sampled.span_id.bytes[0] = 2;
  sampled.is_remote = 1;
  sampled.flags = UVOTEL_TRACE_FLAG_SAMPLED;
  unsampled = sampled;
  unsampled.flags = 0;
  uvotel_span_options_t with_s = UVOTEL_SPAN_OPTIONS_INIT, with_u = UVOTEL_SPAN_OPTIONS_INIT;
  with_s.parent_context = &sampled;
  with_u.parent_context = &unsampled;

  /* default: parentbased_always_on */
  open_provider(f, 0, 0, NULL);
  uvotel_span_t *r = uvotel_span_start(f->t, "root", NULL);
  uvotel_span_t *cs = uvotel_span_start(f->t, "child of sampled", &with_s);
  uvotel_span_t *cu = uvotel_span_start(f->t, "child of unsampled", &with_u);
  assert_true(uvotel_span_is_recording(r));
  assert_true(uvotel_span_is_recording(cs));
  assert_false(uvotel_span_is_recording(cu));
  uvotel_span_context_t c = uvotel_span_context(cu);
  assert_int_equal(c.flags & UVOTEL_TRACE_FLAG_SAMPLED, 0);
  assert_memory_equal(c.trace_id.bytes, sampled.trace_id.bytes, 16);
  assert_true(uvotel_span_context_is_valid(&c));
  uvotel_span_end(r);
  uvotel_span_end(cs);
  uvotel_span_end(cu);
  hold_clear(&f->hold);
  close_provider(f);

  /* always_on: records under an unsampled parent too */
  open_provider(f, 0, 0, uvotel_sampler_always_on());
  cu = uvotel_span_start(f->t, "child of unsampled", &with_u);
  assert_true(uvotel_span_is_recording(cu));
  assert_true(uvotel_span_context(cu).flags & UVOTEL_TRACE_FLAG_SAMPLED);
  uvotel_span_end(cu);
  hold_clear(&f->hold);
  close_provider(f);

  /* parentbased with a non-default delegate: not the inline case, still honoured */
  uvotel_parent_based_options_t po = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  po.root = uvotel_sampler_always_off();
  open_provider(f, 0, 0, uvotel_sampler_parent_based(&po));
  r = uvotel_span_start(f->t, "root", NULL);
  cs = uvotel_span_start(f->t, "child of sampled", &with_s);
  assert_false(uvotel_span_is_recording(r));
  assert_true(uvotel_span_is_recording(cs));
  uvotel_span_end(r);
  uvotel_span_end(cs);
  hold_clear(&f->hold);
}

/* ---- ids and clock ---- */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void test_ids_unique_nonzero(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  enum { N = 20000 };
  uint64_t *sid = malloc(sizeof *sid * N), *tid = malloc(sizeof *tid * N);
  for (int i = 0; i < N; i++) {
    uvotel_span_t *s = uvotel_span_start(f->t, "id", NULL);
    uvotel_span_context_t c = uvotel_span_context(s);
    assert_true(uvotel_span_context_is_valid(&c));
    assert_true(c.flags & UVOTEL_TRACE_FLAG_RANDOM);
    memcpy(&sid[i], c.span_id.bytes, 8);
    memcpy(&tid[i], c.trace_id.bytes + 8, 8);
    uvotel_span_end(s);
    hold_clear(&f->hold);
  }
  qsort(sid, N, sizeof *sid, cmp_u64);
  qsort(tid, N, sizeof *tid, cmp_u64);
  for (int i = 1; i < N; i++) {
    assert_true(sid[i] != sid[i - 1]);
    assert_true(tid[i] != tid[i - 1]);
  }
  /* every bit of the span ids varies */
  uint64_t ones = 0, zeros = 0;
  for (int i = 0; i < N; i++) ones |= sid[i], zeros |= ~sid[i];
  assert_true(ones == UINT64_MAX && zeros == UINT64_MAX);
  free(sid);
  free(tid);
}

static uint64_t realtime_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Span times agree with CLOCK_REALTIME (within 2 ms, across the calibration window and the
 * re-anchoring every ~50 ms) and never run backwards within a span. */
static void test_timestamps_follow_realtime(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  uint64_t t_end = realtime_ns() + 150000000ull;
  int n = 0;
  while (realtime_ns() < t_end) {
    uint64_t before = realtime_ns();
    uvotel_span_t *s = uvotel_span_start(f->t, "t", NULL);
    uvotel_span_end(s);
    uint64_t after = realtime_ns();
    const uvotel_span_data_t *d = f->hold.d[0];
    uint64_t st = uvotel_span_data_start_unix_ns(d), en = uvotel_span_data_end_unix_ns(d);
    assert_true(en >= st);
    assert_true(st + 2000000ull >= before);
    assert_true(en <= after + 2000000ull);
    hold_clear(&f->hold);
    n++;
  }
  assert_true(n > 100);
}

/* Spans store raw ticks and convert them when their data is read: explicit times come back
 * exactly as given, alone or mixed with clock times; events added in order come back ordered,
 * between start and end; reading twice gives the same value; a span open across a TSC
 * re-anchoring (~1 s) still agrees with CLOCK_REALTIME at both ends. */
static void test_timestamps_converted_at_read(void **state) {
  fx_t *f = *state;
  open_provider(f, 0, 0, NULL);
  /* both explicit */
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.start_unix_ns = 1700000000000000001ull;
  uvotel_span_t *s = uvotel_span_start(f->t, "explicit", &o);
  uvotel_span_end_at(s, 1700000000000005003ull);
  /* explicit start, clock end */
  s = uvotel_span_start(f->t, "explicit-start", &o);
  uvotel_span_end(s);
  uint64_t after = realtime_ns();
  /* clock start, explicit end */
  uint64_t before = realtime_ns();
  s = uvotel_span_start(f->t, "explicit-end", NULL);
  uint64_t end_given = realtime_ns() + 1000000ull;
  uvotel_span_end_at(s, end_given);
  /* events */
  uint64_t ev_before = realtime_ns();
  s = uvotel_span_start(f->t, "events", NULL);
  uvotel_span_add_event(s, "a", NULL, 0);
  uvotel_span_add_event_at(s, "given", 77, NULL, 0);
  uvotel_span_add_event(s, "b", NULL, 0);
  uvotel_span_add_event(s, "c", NULL, 0);
  uvotel_span_end(s);
  uint64_t ev_after = realtime_ns();
  assert_int_equal(f->hold.n, 4);

  const uvotel_span_data_t *d = f->hold.d[0];
  assert_int_equal(uvotel_span_data_start_unix_ns(d), 1700000000000000001ull);
  assert_int_equal(uvotel_span_data_end_unix_ns(d), 1700000000000005003ull);
  d = f->hold.d[1];
  assert_int_equal(uvotel_span_data_start_unix_ns(d), 1700000000000000001ull);
  assert_true(uvotel_span_data_end_unix_ns(d) <= after + 2000000ull);
  assert_true(uvotel_span_data_end_unix_ns(d) + 2000000ull >= after);
  d = f->hold.d[2];
  uint64_t st = uvotel_span_data_start_unix_ns(d);
  assert_true(st + 2000000ull >= before && st <= end_given);
  assert_int_equal(uvotel_span_data_end_unix_ns(d), end_given);
  assert_int_equal(uvotel_span_data_start_unix_ns(d), st); /* deterministic */
  d = f->hold.d[3];
  size_t n = 0;
  const uvotel_event_t *ev = uvotel_span_data_events(d, &n);
  assert_int_equal(n, 4);
  assert_int_equal(ev[1].time_unix_ns, 77);
  uint64_t ds = uvotel_span_data_start_unix_ns(d), de = uvotel_span_data_end_unix_ns(d);
  assert_true(ds + 2000000ull >= ev_before && de <= ev_after + 2000000ull);
  assert_true(ds <= ev[0].time_unix_ns);
  assert_true(ev[0].time_unix_ns <= ev[2].time_unix_ns);
  assert_true(ev[2].time_unix_ns <= ev[3].time_unix_ns);
  assert_true(ev[3].time_unix_ns <= de);
  hold_clear(&f->hold);

  /* one span open across re-anchorings, short spans around it */
  uint64_t long_before = realtime_ns();
  uvotel_span_t *lng = uvotel_span_start(f->t, "long", NULL);
  uint64_t t_end = realtime_ns() + 1300000000ull;
  while (realtime_ns() < t_end) {
    before = realtime_ns();
    s = uvotel_span_start(f->t, "short", NULL);
    uvotel_span_end(s);
    after = realtime_ns();
    d = f->hold.d[0];
    st = uvotel_span_data_start_unix_ns(d);
    uint64_t en = uvotel_span_data_end_unix_ns(d);
    assert_true(en >= st);
    assert_true(st + 2000000ull >= before);
    assert_true(en <= after + 2000000ull);
    hold_clear(&f->hold);
    struct timespec ms = {0, 1000000};
    nanosleep(&ms, NULL);
  }
  uvotel_span_end(lng);
  uint64_t long_after = realtime_ns();
  d = f->hold.d[0];
  st = uvotel_span_data_start_unix_ns(d);
  uint64_t en = uvotel_span_data_end_unix_ns(d);
  assert_true(st + 2000000ull >= long_before && st <= long_before + 2000000ull);
  assert_true(en + 2000000ull >= long_after && en <= long_after + 2000000ull);
  assert_true(en - st >= 1300000000ull - 2000000ull);
  hold_clear(&f->hold);
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_static_setters_borrow_keys, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_and_copied_keys_are_one_attribute, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_static_setters_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_static_setters_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bloom_collisions_still_dedupe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reused_slot_forgets_bloom, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fast_path_boundaries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fast_path_string_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_end_handoff_orders, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pool_spill_refill_keeps_every_slot, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prealloc_first_spans_allocate_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prealloc_default_and_clamp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prealloc_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_builtin_samplers_inline, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ids_unique_nonzero, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timestamps_follow_realtime, setup, teardown),
      cmocka_unit_test_setup_teardown(test_timestamps_converted_at_read, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
