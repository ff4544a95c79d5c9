/* The traceparent id decoders (src/common/w3c_hex.h) on every version this CPU can run (word
 * arithmetic, SSE2, SSSE3, AVX2) against a byte loop written here:
 *  - random lowercase hex ids, and ids of one repeated digit (0, 9, a, f: the ends of both ranges);
 *  - every one of the 48 character positions replaced by every byte value: each version must
 *    say "not hex" exactly when the loop does, and decode the same bytes when it says "hex";
 *  - the public uvotel_traceparent_parse (which runs the version chosen at load) against a
 *    reference parse of the same lines, with bad bytes at every position of the whole header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../sdk/src/common/w3c_hex.h"
#include "uvotel.h"

typedef int (*ids_fn)(const char *tid, const char *sid, uint8_t *tid_out, uint8_t *sid_out);

#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
/* Called through a pointer so each runs in its own target. */
__attribute__((target("ssse3"))) static int ids_ssse3(const char *t, const char *s, uint8_t *to,
                                                      uint8_t *so) {
  return uvotel__hex_ids_ssse3(t, s, to, so);
}
__attribute__((target("avx2"))) static int ids_avx2(const char *t, const char *s, uint8_t *to,
                                                    uint8_t *so) {
  return uvotel__hex_ids_avx2(t, s, to, so);
}
#endif

typedef struct version_s {
  const char *name;
  ids_fn fn;
  int available;
} version_t;

static version_t g_v[4];
static size_t g_nv;

static void init_versions(void) {
  g_nv = 0;
  g_v[g_nv++] = (version_t){"swar", uvotel__hex_ids_swar, 1};
#if defined(__SSE2__)
  g_v[g_nv++] = (version_t){"sse2", uvotel__hex_ids_sse2, 1};
#endif
#if defined(UVOTEL__HAVE_HEX_SIMD_TARGETS)
  __builtin_cpu_init();
  g_v[g_nv++] = (version_t){"ssse3", ids_ssse3, __builtin_cpu_supports("ssse3") != 0};
  g_v[g_nv++] = (version_t){"avx2", ids_avx2, __builtin_cpu_supports("avx2") != 0};
#endif
  for (size_t i = 0; i < g_nv; i++) {
    if (!g_v[i].available)
      printf("note: this CPU cannot run the %s version: not tested\n", g_v[i].name);
  }
}

static int ref_nibble(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The byte loop: 1 and the bytes when all 48 characters are lowercase hex, else 0. */
static int ref_ids(const char *t, const char *s, uint8_t *to, uint8_t *so) {
  for (int i = 0; i < 48; i++) {
    const char *p = i < 32 ? t + i : s + (i - 32);
    if (ref_nibble((uint8_t)*p) < 0) return 0;
  }
  for (int i = 0; i < 16; i++) {
    to[i] = (uint8_t)(ref_nibble((uint8_t)t[2 * i]) << 4 | ref_nibble((uint8_t)t[2 * i + 1]));
  }
  for (int i = 0; i < 8; i++) {
    so[i] = (uint8_t)(ref_nibble((uint8_t)s[2 * i]) << 4 | ref_nibble((uint8_t)s[2 * i + 1]));
  }
  return 1;
}

/* Each version against the loop on tid[0..32), sid[0..16): same verdict, same bytes when hex.
 * The inputs sit at the very end of their buffers, so a read past them would be a fault under
 * ASan (the buffers are exactly 32 and 16 bytes). */
static size_t check(const char *tid_in, const char *sid_in) {
  char *tid = malloc(32), *sid = malloc(16);
  assert_non_null(tid);
  assert_non_null(sid);
  memcpy(tid, tid_in, 32);
  memcpy(sid, sid_in, 16);
  uint8_t wt[16], ws[8];
  int want = ref_ids(tid, sid, wt, ws);
  for (size_t v = 0; v < g_nv; v++) {
    if (!g_v[v].available) continue;
    uint8_t gt[16], gs[8];
    int got = g_v[v].fn(tid, sid, gt, gs);
    if (got != want) {
      fail_msg("%s: verdict %d, want %d: %.32s-%.16s", g_v[v].name, got, want, tid, sid);
    }
    if (want && (memcmp(gt, wt, 16) != 0 || memcmp(gs, ws, 8) != 0)) {
      fail_msg("%s: decoded bytes differ: %.32s-%.16s", g_v[v].name, tid, sid);
    }
  }
  free(tid);
  free(sid);
  return (size_t)want;
}

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 11);
}

static const char hexd[] = "0123456789abcdef";

static void test_random_and_repeated(void **state) {
  (void)state;
  init_versions();
  char t[32], s[16];
  size_t ok = 0;
  for (int iter = 0; iter < 20000; iter++) {
    for (int i = 0; i < 32; i++) t[i] = hexd[rnd() % 16];
    for (int i = 0; i < 16; i++) s[i] = hexd[rnd() % 16];
    ok += check(t, s);
  }
  static const char reps[] = "09af";
  for (size_t r = 0; r < 4; r++) {
    memset(t, reps[r], 32);
    memset(s, reps[r], 16);
    ok += check(t, s);
  }
  assert_int_equal(ok, 20004);
}

/* Every position, every byte value: exactly the 22 hex digits pass. */
static void test_every_byte_every_position(void **state) {
  (void)state;
  init_versions();
  char t[32], s[16];
  size_t ok = 0, all = 0;
  for (int pos = 0; pos < 48; pos++) {
    for (int b = 0; b < 256; b++) {
      for (int i = 0; i < 32; i++) t[i] = hexd[rnd() % 16];
      for (int i = 0; i < 16; i++) s[i] = hexd[rnd() % 16];
      if (pos < 32) {
        t[pos] = (char)b;
      } else {
        s[pos - 32] = (char)b;
      }
      ok += check(t, s);
      all++;
    }
  }
  assert_int_equal(ok, 48 * 16); /* 0-9 a-f at each position; 'A'-'F' and the rest refused */
  assert_int_equal(all, 48 * 256);
}

/* The public parse (the version chosen at load) against a reference of the version-00 grammar,
 * a bad byte at every position of the header. */
static void test_parse_every_position(void **state) {
  (void)state;
  static const char good[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  static const unsigned char bytes[] = {'0', '9', 'a', 'f',  'A',  'F',  'g',  '/',  ':',
                                        '`', '-', ' ', 0x00, 0x80, 0xb0, 0xe6, 0xff, 'x'};
  char line[sizeof good];
  for (size_t pos = 0; pos < sizeof good - 1; pos++) {
    for (size_t k = 0; k < sizeof bytes; k++) {
      memcpy(line, good, sizeof good);
      line[pos] = (char)bytes[k];
      /* reference: dashes at 2, 35, 52; hex elsewhere; version not ff; ids not all zero */
      int want = 1;
      for (size_t i = 0; i < sizeof good - 1; i++) {
        int dash = i == 2 || i == 35 || i == 52;
        if (dash ? line[i] != '-' : ref_nibble((uint8_t)line[i]) < 0) want = 0;
      }
      if (line[0] == 'f' && line[1] == 'f') want = 0;
      uvotel_span_context_t sc;
      memset(&sc, 0x5a, sizeof sc);
      int rc = uvotel_traceparent_parse(line, sizeof good - 1, &sc);
      if ((rc == 0) != want) fail_msg("rc %d, want %s: %s", rc, want ? "ok" : "error", line);
      if (rc != 0) {
        /* untouched on error, as the header promises */
        uvotel_span_context_t fill;
        memset(&fill, 0x5a, sizeof fill);
        assert_memory_equal(&sc, &fill, sizeof sc);
        continue;
      }
      uint8_t wt[16], ws[8];
      assert_int_equal(ref_ids(line + 3, line + 36, wt, ws), 1);
      assert_memory_equal(sc.trace_id.bytes, wt, 16);
      assert_memory_equal(sc.span_id.bytes, ws, 8);
      assert_int_equal(sc.flags,
                       (ref_nibble((uint8_t)line[53]) << 4 | ref_nibble((uint8_t)line[54])) &
                           UVOTEL_TRACE_FLAGS_KNOWN);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random_and_repeated),
                                     cmocka_unit_test(test_every_byte_every_position),
                                     cmocka_unit_test(test_parse_every_position)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
