/* Random and mutated input for every propagation parser, in the normal build (the libFuzzer
 * targets in tests/fuzz/ go further): no crash, no leak (the fixture checks the allocation
 * balance; ASan/UBSan builds check the rest), and what a parser accepts serialises to text that
 * parses back to the same text. Deterministic: a fixed seed. */
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
#include "uvotel.h"

#define ITER 4000

typedef struct fix_s {
  uv_loop_t loop;
  long live0;
} fix_t;

static int setup(void **state) {
  fix_t *f = calloc(1, sizeof *f);
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

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint32_t rnd(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (uint32_t)(rng >> 16);
}

/* Characters that matter to the grammars, plus some that never belong. */
static const char interesting[] = "-0123456789abcdefABCDEF=,;% \t@*/_.\"\\\x7f\xff\xc3\xa9\x01";

/* A mutation of seed into buf (cap bytes); returns the length. */
static size_t mutate(const char *seed, char *buf, size_t cap) {
  size_t n = strlen(seed);
  if (n > cap) n = cap;
  memcpy(buf, seed, n);
  int rounds = 1 + (int)(rnd() % 6);
  for (int r = 0; r < rounds; r++) {
    uint32_t op = rnd() % 7, pos = n ? rnd() % (uint32_t)n : 0;
    switch (op) {
      case 0: /* replace a byte */
        if (n) buf[pos] = interesting[rnd() % (sizeof interesting - 1)];
        break;
      case 1: /* insert a byte */
        if (n < cap) {
          memmove(buf + pos + 1, buf + pos, n - pos);
          buf[pos] = interesting[rnd() % (sizeof interesting - 1)];
          n++;
        }
        break;
      case 2: /* delete a byte */
        if (n) {
          memmove(buf + pos, buf + pos + 1, n - pos - 1);
          n--;
        }
        break;
      case 3: /* truncate */
        n = pos;
        break;
      case 4: /* duplicate a slice at the end */
        for (uint32_t i = pos; i < n && n < cap && i < pos + 40; i++) buf[n++] = buf[i];
        break;
      case 5: /* random byte anywhere */
        if (n) buf[pos] = (char)rnd();
        break;
      default: /* flip case */
        if (n) buf[pos] ^= 0x20;
    }
  }
  return n;
}

static size_t random_string(char *buf, size_t cap) {
  size_t n = rnd() % cap;
  for (size_t i = 0; i < n; i++) {
    buf[i] = (rnd() & 1) ? interesting[rnd() % (sizeof interesting - 1)] : (char)rnd();
  }
  return n;
}

static size_t next_input(const char *const *seeds, size_t nseeds, char *buf, size_t cap) {
  if (rnd() % 4 == 0) return random_string(buf, cap);
  return mutate(seeds[rnd() % nseeds], buf, cap);
}

static void test_random_traceparent(void **state) {
  (void)state;
  static const char *const seeds[] = {
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-extra",
      " 00-00000000000000000000000000000001-0000000000000001-ff\t",
  };
  char buf[256], out[UVOTEL_TRACEPARENT_LEN + 1];
  int accepted = 0;
  for (int i = 0; i < ITER; i++) {
    size_t n = next_input(seeds, 3, buf, sizeof buf);
    uvotel_span_context_t sc;
    if (uvotel_traceparent_parse(buf, n, &sc) == 0) {
      accepted++;
      assert_true(uvotel_span_context_is_valid(&sc));
      assert_int_equal(sc.flags & ~UVOTEL_TRACE_FLAGS_KNOWN, 0);
      assert_int_equal(uvotel_traceparent_format(&sc, out), 0);
      uvotel_span_context_t back;
      assert_int_equal(uvotel_traceparent_parse(out, strlen(out), &back), 0);
      assert_memory_equal(&back.trace_id, &sc.trace_id, 16);
      assert_memory_equal(&back.span_id, &sc.span_id, 8);
      assert_int_equal(back.flags, sc.flags);
    }
  }
  assert_true(accepted > 0 && accepted < ITER); /* the mutations hit both sides */
}

static void test_random_tracestate(void **state) {
  (void)state;
  static const char *const seeds[] = {
      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
      " a@b=1 ,, c=2\t, d= 3",
      "k0=v,k1=v,k2=v,k3=v,k4=v,k5=v,k6=v,k7=v,k8=v,k9=v,k10=v,k11=v,k12=v,k13=v,k14=v,k15=v,"
      "k16=v,k17=v,k18=v,k19=v,k20=v,k21=v,k22=v,k23=v,k24=v,k25=v,k26=v,k27=v,k28=v,k29=v,k30=v,"
      "k31=v",
  };
  char buf[1024];
  int accepted = 0;
  for (int i = 0; i < ITER; i++) {
    size_t n = next_input(seeds, 3, buf, i % 2 ? sizeof buf : 64);
    uvotel_trace_state_t *ts = NULL;
    int rc = uvotel_trace_state_parse(buf, n, &ts);
    assert_true(rc == 0 || rc == UVOTEL_EPARSE || rc == UVOTEL_ERANGE);
    /* Lines of up to 64 bytes take a vectorised path; trailing OWS pushes the same line onto
     * the general one, which must agree. */
    char padded[sizeof buf + 80];
    memcpy(padded, buf, n);
    memset(padded + n, n % 2 ? ' ' : '\t', 70);
    uvotel_trace_state_t *ts2 = NULL;
    assert_int_equal(uvotel_trace_state_parse(padded, n + 70, &ts2), rc);
    assert_string_equal(uvotel_trace_state_str(ts2, NULL), uvotel_trace_state_str(ts, NULL));
    uvotel_trace_state_release(ts2);
    if (rc == 0 && ts != NULL) {
      accepted++;
      size_t len;
      const char *s = uvotel_trace_state_str(ts, &len);
      uvotel_trace_state_t *back;
      assert_int_equal(uvotel_trace_state_parse(s, len, &back), 0);
      assert_string_equal(uvotel_trace_state_str(back, NULL), s);
      /* modify it too */
      uvotel_trace_state_t *mod;
      if (uvotel_trace_state_set(back, "z@z", "1", &mod) == 0) uvotel_trace_state_release(mod);
      uvotel_str_t k, v;
      assert_int_equal(uvotel_trace_state_at(ts, 0, &k, &v), 0);
      if (uvotel_trace_state_delete(ts, k.ptr, &mod) == 0) uvotel_trace_state_release(mod);
      uvotel_trace_state_release(back);
    }
    uvotel_trace_state_release(ts);
  }
  assert_true(accepted > 0 && accepted < ITER);
}

static void test_random_baggage(void **state) {
  (void)state;
  static const char *const seeds[] = {
      "userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false",
      "key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue",
      "k=%FF%C3,a=%zz;p=%41",
  };
  char buf[1024];
  int kept = 0;
  for (int i = 0; i < ITER; i++) {
    size_t n = next_input(seeds, 3, buf, sizeof buf - 1);
    buf[n] = '\0'; /* also used as a value for set */
    uvotel_baggage_t *b = NULL;
    int rc = uvotel_baggage_parse(buf, n, &b);
    assert_true(rc >= 0);
    if (b != NULL) {
      kept++;
      size_t len;
      const char *s = uvotel_baggage_str(b, &len);
      uvotel_baggage_t *back;
      assert_int_equal(uvotel_baggage_parse(s, len, &back), 0);
      assert_string_equal(uvotel_baggage_str(back, NULL), s);
      assert_int_equal(uvotel_baggage_count(back), uvotel_baggage_count(b));
      uvotel_baggage_entry_t e;
      assert_int_equal(uvotel_baggage_at(b, 0, &e), 0);
      uvotel_baggage_t *mod;
      if (uvotel_baggage_remove(b, e.key.ptr, &mod) >= 0) uvotel_baggage_release(mod);
      if (uvotel_baggage_set(b, e.key.ptr, buf, NULL, &mod) == 0) uvotel_baggage_release(mod);
      uvotel_baggage_release(back);
    }
    uvotel_baggage_release(b);
  }
  assert_true(kept > 0);
}

/* Whole extract over random header lines, several per name. */
static void test_random_extract(void **state) {
  (void)state;
  static const char *const names[] = {"traceparent", "tracestate", "baggage", "TRACESTATE"};
  static const char *const seeds[] = {
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "a=1,b@c=2",
      "k=v;p,j=%20",
  };
  char bufs[6][300];
  for (int i = 0; i < ITER / 4; i++) {
    uvotel_header_t h[6];
    int nh = 1 + (int)(rnd() % 6);
    for (int j = 0; j < nh; j++) {
      int which = (int)(rnd() % 4);
      size_t n = mutate(seeds[which == 3 ? 1 : which], bufs[j], sizeof bufs[j]);
      if (rnd() % 3 == 0) {
        memcpy(bufs[j], seeds[which == 3 ? 1 : which], strlen(seeds[which == 3 ? 1 : which]));
        n = strlen(seeds[which == 3 ? 1 : which]);
      }
      h[j].name.ptr = names[which];
      h[j].name.len = strlen(names[which]);
      h[j].value.ptr = bufs[j];
      h[j].value.len = n;
    }
    uvotel_header_list_t list = {h, (size_t)nh};
    uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
    assert_int_equal(
        uvotel_propagator_extract(uvotel_propagator_default(), &list, &uvotel_header_getter, &x),
        0);
    if (x.span_context.trace_state != NULL) {
      assert_true(uvotel_span_context_is_valid(&x.span_context));
    }
    uvotel_extracted_reset(&x);
  }
}

int main(void) {
  counting_alloc_install();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_random_traceparent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_tracestate, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_baggage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_extract, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
