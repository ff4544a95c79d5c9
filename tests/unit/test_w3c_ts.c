/* The tracestate fast path (src/common/w3c_ts.h) on every classifier this CPU can run (the byte
 * table, SSE2, SSSE3, AVX2) against byte loops written here:
 *  - each classifier's masks and printability flag, for every block start, block length and
 *    position inside lines of 1..80 bytes with special bytes at every position;
 *  - the canonical-line decision of each classifier against a reference predicate, on random
 *    lines;
 *  - uvotel_trace_state_parse_lines (which takes the canonical path for one line when the CPU
 *    allows, the general walk otherwise) against a reference parser of the W3C grammar, on the
 *    same lines, strict and not, one line and the same line split so the general walk runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../sdk/src/common/w3c_ts.h"
#include "uvotel.h"
/* The class table (hidden inside libuvotel): the test's own copy of the same source. */
#include "../../sdk/src/common/w3c_chars.c"

/* ---- the classifiers ---- */

typedef struct path_s {
  const char *name;
  uvotel__ts_cls_fn cls;
  size_t (*canonical)(const char *line, size_t len, uint64_t *seps);
  int available;
} path_t;

static size_t canon_scalar(const char *line, size_t len, uint64_t *seps) {
  return uvotel__ts_canonical(line, len, uvotel__ts_cls_scalar, seps);
}
#if defined(__SSE2__)
static size_t canon_sse2(const char *line, size_t len, uint64_t *seps) {
  return uvotel__ts_canonical(line, len, uvotel__ts_cls_sse2, seps);
}
#endif
#if defined(UVOTEL__HAVE_SSSE3_TARGET)
__attribute__((target("ssse3"))) static size_t canon_ssse3(const char *line, size_t len,
                                                           uint64_t *seps) {
  return uvotel__ts_canonical(line, len, uvotel__ts_cls_ssse3, seps);
}
__attribute__((target("avx2"))) static size_t canon_avx2(const char *line, size_t len,
                                                         uint64_t *seps) {
  return uvotel__ts_canonical(line, len, uvotel__ts_cls_avx2, seps);
}
/* The short-line deciders (16..63 bytes, one word), the generic decision elsewhere. They say
 * yes with the separator mask, which must then equal the generic one. */
__attribute__((target("ssse3"))) static size_t canon_short_ssse3(const char *line, size_t len,
                                                                 uint64_t *seps) {
  if (len < UVOTEL__TS_SHORT_MIN || len > UVOTEL__TS_SHORT_MAX) {
    return uvotel__ts_canonical(line, len, uvotel__ts_cls_ssse3, seps);
  }
  seps[0] = uvotel__ts_short_ssse3(line, len);
  return seps[0] != 0;
}
__attribute__((target("avx2,pclmul"))) static size_t canon_short_avx2(const char *line, size_t len,
                                                                      uint64_t *seps) {
  if (len < UVOTEL__TS_SHORT_MIN || len > UVOTEL__TS_SHORT_MAX) {
    return uvotel__ts_canonical(line, len, uvotel__ts_cls_avx2, seps);
  }
  seps[0] = uvotel__ts_short_avx2(line, len);
  return seps[0] != 0;
}
/* Called through a pointer so each runs in its own target. */
__attribute__((target("ssse3"))) static void cls_ssse3(const char *line, const char *p, size_t n,
                                                       uvotel__ts_cls_t *o) {
  uvotel__ts_cls_ssse3(line, p, n, o);
}
__attribute__((target("avx2"))) static void cls_avx2(const char *line, const char *p, size_t n,
                                                     uvotel__ts_cls_t *o) {
  uvotel__ts_cls_avx2(line, p, n, o);
}
#endif

static path_t g_paths[6];
static size_t g_npaths;

static void init_paths(void) {
  g_npaths = 0;
  g_paths[g_npaths++] = (path_t){"scalar", uvotel__ts_cls_scalar, canon_scalar, 1};
#if defined(__SSE2__)
  g_paths[g_npaths++] = (path_t){"sse2", uvotel__ts_cls_sse2, canon_sse2, 1};
#endif
#if defined(UVOTEL__HAVE_SSSE3_TARGET)
  __builtin_cpu_init();
  g_paths[g_npaths++] =
      (path_t){"ssse3", cls_ssse3, canon_ssse3, __builtin_cpu_supports("ssse3") != 0};
  g_paths[g_npaths++] = (path_t){"avx2", cls_avx2, canon_avx2, __builtin_cpu_supports("avx2") != 0};
  /* the short deciders, with the classifier of their level for check_blocks */
  g_paths[g_npaths++] =
      (path_t){"ssse3-short", cls_ssse3, canon_short_ssse3, __builtin_cpu_supports("ssse3") != 0};
  g_paths[g_npaths++] =
      (path_t){"avx2-short", cls_avx2, canon_short_avx2,
               __builtin_cpu_supports("avx2") != 0 && __builtin_cpu_supports("pclmul") != 0};
#endif
  for (size_t i = 0; i < g_npaths; i++) {
    if (!g_paths[i].available)
      printf("note: this CPU cannot run the %s path: not tested\n", g_paths[i].name);
  }
}

static int is_key_byte(uint8_t b) {
  return (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '_' || b == '-' || b == '*' ||
         b == '/' || b == '@';
}

/* The reference masks of p[0..n). */
static void ref_cls(const char *p, size_t n, uvotel__ts_cls_t *o) {
  memset(o, 0, sizeof *o);
  for (size_t i = 0; i < 64; i++) {
    if (i >= n) {
      o->other |= 1ull << i;
      continue;
    }
    uint8_t b = (uint8_t)p[i];
    int sep = b == ',' || b == '=';
    if (sep) o->sep |= 1ull << i;
    if (b == '=') o->eq |= 1ull << i;
    if (!sep && !is_key_byte(b)) o->other |= 1ull << i;
    if ((b >= 0x20 && b <= 0x2f) || (b >= 0x40 && b <= 0x5f)) o->nostart |= 1ull << i;
    if (b == ' ') o->sp |= 1ull << i;
    if (b < 0x20 || b > 0x7e) o->notp = 1;
  }
}

static void check_blocks(const char *line, size_t len) {
  for (size_t pi = 0; pi < g_npaths; pi++) {
    if (!g_paths[pi].available) continue;
    for (size_t s = 0; s < len; s++) {
      size_t max = len - s < 64 ? len - s : 64;
      for (size_t n = 1; n <= max; n++) {
        uvotel__ts_cls_t got, want;
        g_paths[pi].cls(line, line + s, n, &got);
        ref_cls(line + s, n, &want);
        /* notp may also see up to 32 bytes of the line before the block (overlapping reads) */
        int extra = 0;
        for (size_t i = s + n >= 32 ? s + n - 32 : 0; i < s; i++) {
          extra |= (uint8_t)line[i] < 0x20 || (uint8_t)line[i] > 0x7e;
        }
        if (got.sep != want.sep || got.eq != want.eq || got.other != want.other ||
            got.nostart != want.nostart || got.sp != want.sp || (want.notp && !got.notp) ||
            (got.notp && !want.notp && !extra)) {
          fail_msg(
              "%s: line of %zu, block at %zu of %zu: sep %llx/%llx eq %llx/%llx other "
              "%llx/%llx nostart %llx/%llx sp %llx/%llx notp %u/%u",
              g_paths[pi].name, len, s, n, (unsigned long long)got.sep,
              (unsigned long long)want.sep, (unsigned long long)got.eq, (unsigned long long)want.eq,
              (unsigned long long)got.other, (unsigned long long)want.other,
              (unsigned long long)got.nostart, (unsigned long long)want.nostart,
              (unsigned long long)got.sp, (unsigned long long)want.sp, got.notp, want.notp);
        }
      }
    }
  }
}

/* Every class of byte at every position of lines of key bytes, every block of them. */
static void test_classifiers_positions(void **state) {
  (void)state;
  init_paths();
  static const unsigned char specials[] = {',', '=', ' ', '\t', 0x00, 0x1f, 0x7f, 0x80, 0xff, 'A',
                                           '_', '-', '*', '/',  '@',  'z',  '0',  '9',  '~',  '!'};
  char line[80];
  for (size_t len = 1; len <= sizeof line; len += (len < 20 ? 1 : 7)) {
    for (size_t k = 0; k < sizeof specials; k++) {
      for (size_t at = 0; at < len; at += (len < 20 ? 1 : 3)) {
        for (size_t i = 0; i < len; i++) line[i] = (char)('a' + (i % 26));
        line[at] = (char)specials[k];
        check_blocks(line, len);
      }
    }
  }
}

/* ---- the grammar: reference parser and canonical predicate ---- */

typedef struct ref_s {
  int rc;
  size_t n;
  char k[UVOTEL_TRACE_STATE_MAX_MEMBERS][300], v[UVOTEL_TRACE_STATE_MAX_MEMBERS][300];
  char wire[20000];
} ref_t;

static int ows(char c) {
  return c == ' ' || c == '\t';
}

/* W3C tracestate, byte by byte: list members separated by ",", each OWS key "=" value OWS or
 * empty; key [a-z0-9][a-z0-9_-*\/@]{0,255}; value printable but "," "=", 1..256 bytes, not
 * ending in a space; the first of a repeated key kept (strict: an error); a 33rd key: ERANGE. */
static void ref_parse(const char *const *lines, const size_t *lens, size_t nl, unsigned flags,
                      ref_t *r) {
  r->rc = 0;
  r->n = 0;
  for (size_t li = 0; li < nl; li++) {
    const char *p = lines[li];
    size_t len = lens[li], i = 0;
    while (i <= len) {
      size_t e = i;
      while (e < len && p[e] != ',') e++;
      size_t a = i, b = e;
      while (a < b && ows(p[a])) a++;
      while (b > a && ows(p[b - 1])) b--;
      if (a < b) {
        size_t eq = a;
        while (eq < b && p[eq] != '=') eq++;
        if (eq == b || eq == a || eq - a > 256) goto bad;
        if (!((p[a] >= 'a' && p[a] <= 'z') || (p[a] >= '0' && p[a] <= '9'))) goto bad;
        for (size_t j = a; j < eq; j++) {
          if (!is_key_byte((uint8_t)p[j])) goto bad;
        }
        size_t vl = b - eq - 1;
        if (vl == 0 || vl > 256) goto bad;
        for (size_t j = eq + 1; j < b; j++) {
          uint8_t c = (uint8_t)p[j];
          if (c < 0x20 || c > 0x7e || c == '=') goto bad;
        }
        int dup = 0;
        for (size_t m = 0; m < r->n; m++) {
          if (strlen(r->k[m]) == eq - a && memcmp(r->k[m], p + a, eq - a) == 0) dup = 1;
        }
        if (dup && (flags & UVOTEL_TRACE_STATE_STRICT)) goto bad;
        if (!dup) {
          if (r->n == UVOTEL_TRACE_STATE_MAX_MEMBERS) {
            r->rc = UVOTEL_ERANGE;
            return;
          }
          memcpy(r->k[r->n], p + a, eq - a);
          r->k[r->n][eq - a] = '\0';
          memcpy(r->v[r->n], p + eq + 1, vl);
          r->v[r->n][vl] = '\0';
          r->n++;
        }
      }
      i = e + 1;
    }
  }
  r->wire[0] = '\0';
  for (size_t m = 0; m < r->n; m++) {
    if (m) strcat(r->wire, ",");
    strcat(r->wire, r->k[m]);
    strcat(r->wire, "=");
    strcat(r->wire, r->v[m]);
  }
  return;
bad:
  r->rc = UVOTEL_EPARSE;
}

/* What uvotel__ts_canonical promises: all printable; separators alternate "=" "," ... "=";
 * keys of key bytes, each starting with a-z or 0-9 (so none is empty); no two separators side by
 * side; no value ending in a space; ends in a non-empty value. */
static int ref_canonical(const char *p, size_t len) {
  if (len == 0 || len > UVOTEL__TS_FAST_MAX) return 0;
  int in_value = 0;
  for (size_t i = 0; i < len; i++) {
    uint8_t c = (uint8_t)p[i];
    if (c < 0x20 || c > 0x7e) return 0;
    int sep = c == ',' || c == '=';
    if (sep && i > 0 && (p[i - 1] == ',' || p[i - 1] == '=')) return 0;
    if ((i == 0 || p[i - 1] == ',') && !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
      return 0; /* a key's first byte */
    }
    if (c == ',' && p[i - 1] == ' ') return 0; /* i > 0: byte 0 is a key's first */
    if (c == '=') {
      if (in_value) return 0;
      in_value = 1;
    } else if (c == ',') {
      if (!in_value) return 0;
      in_value = 0;
    } else if (!in_value && !is_key_byte(c)) {
      return 0;
    }
  }
  return in_value && p[len - 1] != '=' && p[len - 1] != ' ';
}

/* ---- random lines ---- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)(g_rng >> 11);
}

static const char key_chars[] = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@";
static const char odd_bytes[] = {' ', '\t', ',',        '=',        'A',  'Z', '~',
                                 '!', 0x7f, (char)0x80, (char)0xff, 0x01, '"', '\\'};

/* Mostly valid lists of 1..40 members, with keys and values up to ~300 bytes now and then,
 * repeated keys, OWS and empty members, then a few random bytes replaced. */
static size_t gen_line(char *out, size_t cap) {
  size_t n = 0, members = 1 + rnd() % (rnd() % 8 == 0 ? 40 : 5);
  for (size_t m = 0; m < members && n + 700 < cap; m++) {
    if (m) out[n++] = ',';
    if (rnd() % 16 == 0) out[n++] = ' ';
    if (rnd() % 32 == 0) continue; /* empty member */
    size_t kl = 1 + rnd() % (rnd() % 16 == 0 ? 270 : 12);
    if (rnd() % 8 == 0) kl = 1 + rnd() % 2; /* short keys repeat */
    for (size_t i = 0; i < kl; i++) {
      out[n++] = i == 0 ? "abcdefghijklmnopqrstuvwxyz0123456789"[rnd() % 36]
                        : key_chars[rnd() % (sizeof key_chars - 1)];
    }
    out[n++] = '=';
    size_t vl = 1 + rnd() % (rnd() % 16 == 0 ? 270 : 20);
    for (size_t i = 0; i < vl; i++) {
      char c = (char)(0x20 + rnd() % 0x5f);
      if (c == ',' || c == '=') c = 'v';
      out[n++] = c;
    }
    if (rnd() % 16 == 0) out[n++] = rnd() % 2 ? ' ' : '\t';
  }
  for (size_t i = rnd() % 3; i > 0 && n > 0; i--) {
    out[rnd() % n] = odd_bytes[rnd() % sizeof odd_bytes];
  }
  return n;
}

static void check_api(const char *const *lines, const size_t *lens, size_t nl, unsigned flags,
                      const char *what) {
  static ref_t want;
  ref_parse(lines, lens, nl, flags, &want);
  uvotel_str_t sl[2];
  for (size_t i = 0; i < nl; i++) sl[i] = (uvotel_str_t){lines[i], lens[i]};
  uvotel_trace_state_t *ts = NULL;
  int rc = uvotel_trace_state_parse_lines(sl, nl, flags, &ts);
  if (rc != want.rc)
    fail_msg("%s: rc %d, want %d: %.*s", what, rc, want.rc, (int)lens[0], lines[0]);
  if (rc != 0) {
    assert_null(ts);
    return;
  }
  assert_int_equal(uvotel_trace_state_count(ts), want.n);
  assert_string_equal(uvotel_trace_state_str(ts, NULL), want.wire);
  for (size_t m = 0; m < want.n; m++) {
    uvotel_str_t k, v;
    assert_int_equal(uvotel_trace_state_at(ts, m, &k, &v), 0);
    assert_int_equal(k.len, strlen(want.k[m]));
    assert_memory_equal(k.ptr, want.k[m], k.len);
    assert_int_equal(v.len, strlen(want.v[m]));
    assert_memory_equal(v.ptr, want.v[m], v.len);
    assert_string_equal(uvotel_trace_state_get(ts, want.k[m], NULL), want.v[m]);
  }
  uvotel_trace_state_release(ts);
}

static void test_random_lines(void **state) {
  (void)state;
  init_paths();
  static char line[24000];
  size_t canonical = 0, accepted = 0, short_canonical = 0;
  for (int iter = 0; iter < 20000; iter++) {
    size_t len = gen_line(line, sizeof line);
    int want = ref_canonical(line, len);
    canonical += (size_t)want;
    short_canonical += (size_t)(want && len >= UVOTEL__TS_SHORT_MIN && len <= UVOTEL__TS_SHORT_MAX);
    uint64_t want_seps[UVOTEL__TS_FAST_MAX / 64];
    for (size_t pi = 0; pi < g_npaths; pi++) {
      if (!g_paths[pi].available) continue;
      uint64_t seps[UVOTEL__TS_FAST_MAX / 64];
      size_t nb = g_paths[pi].canonical(line, len, seps);
      if ((nb != 0) != want) {
        fail_msg("%s: canonical %zu, want %d: %.*s", g_paths[pi].name, nb, want, (int)len, line);
      }
      /* the separator masks: every path's the same as the byte table's (path 0) */
      if (pi == 0 && nb != 0) memcpy(want_seps, seps, nb * sizeof seps[0]);
      if (nb != 0 && memcmp(seps, want_seps, nb * sizeof seps[0]) != 0) {
        fail_msg("%s: separator mask differs: %.*s", g_paths[pi].name, (int)len, line);
      }
    }
    const char *l1[1] = {line};
    size_t n1[1] = {len};
    check_api(l1, n1, 1, 0, "one line");
    check_api(l1, n1, 1, UVOTEL_TRACE_STATE_STRICT, "one line, strict");
    /* the same members as two lines: the general walk */
    const char *l2[2] = {line, ""};
    size_t n2[2] = {len, 0};
    check_api(l2, n2, 2, 0, "two lines");
    uvotel_trace_state_t *ts = NULL;
    uvotel_str_t sl = {line, len};
    if (uvotel_trace_state_parse_lines(&sl, 1, 0, &ts) == 0 && ts != NULL) accepted++;
    uvotel_trace_state_release(ts);
  }
  /* the generator must reach both sides of every decision */
  printf("random lines: %zu canonical (%zu of 16..63 bytes), %zu accepted of 20000\n", canonical,
         short_canonical, accepted);
  assert_true(canonical > 2000 && canonical < 18000);
  assert_true(short_canonical > 1000);
  assert_true(accepted > 2000 && accepted < 19000);
}

/* Hand-picked edges of the canonical path: each is decided by one check of the mask arithmetic
 * or of what the caller checks after it. */
static void test_edges(void **state) {
  (void)state;
  init_paths();
  static const char *const cases[] = {
      "a=b",
      "a=b,c=d",
      "=b",
      "a=",
      "a=b,",
      ",a=b",
      "a=b,,c=d",
      "a==b",
      "a=b=c",
      "a,b=c",
      "a=b ,c=d",
      "a=b, c=d",
      "a= b",
      "a=b c",
      "a=b\t",
      "A=b",
      "a=B",
      "_a=b",
      "a_-*/@=b",
      "a=b,a=c",
      "ab=1,ba=2",
      "a=b,c=d,a=e",
      "k=v~",
      "k=\x7f",
      "k=\x80",
      "a=b,c=",
      "a=b,=c",
      "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01=x",
      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,vendor@tenant=abc"};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    size_t len = strlen(cases[i]);
    int want = ref_canonical(cases[i], len);
    for (size_t pi = 0; pi < g_npaths; pi++) {
      if (!g_paths[pi].available) continue;
      uint64_t seps[UVOTEL__TS_FAST_MAX / 64];
      size_t nb = g_paths[pi].canonical(cases[i], len, seps);
      if ((nb != 0) != want)
        fail_msg("%s: %s: canonical %zu, want %d", g_paths[pi].name, cases[i], nb, want);
    }
    const char *l1[1] = {cases[i]};
    size_t n1[1] = {len};
    check_api(l1, n1, 1, 0, cases[i]);
    check_api(l1, n1, 1, UVOTEL_TRACE_STATE_STRICT, cases[i]);
  }
  /* 32 members: accepted; 33 distinct: ERANGE; 33 with a repeat: accepted */
  char buf[400];
  size_t n = 0;
  for (int m = 0; m < 33; m++) n += (size_t)sprintf(buf + n, "%sk%d=v", m ? "," : "", m);
  const char *l[1] = {buf};
  size_t nl[1] = {n};
  check_api(l, nl, 1, 0, "33 members");
  uvotel_trace_state_t *ts = NULL;
  uvotel_str_t sl = {buf, n};
  assert_int_equal(uvotel_trace_state_parse_lines(&sl, 1, 0, &ts), UVOTEL_ERANGE);
  n = 0;
  for (int m = 0; m < 33; m++)
    n += (size_t)sprintf(buf + n, "%sk%d=v", m ? "," : "", m == 32 ? 0 : m);
  nl[0] = n;
  check_api(l, nl, 1, 0, "33 members, one repeated");
  sl.len = n;
  assert_int_equal(uvotel_trace_state_parse_lines(&sl, 1, 0, &ts), 0);
  assert_int_equal(uvotel_trace_state_count(ts), 32);
  uvotel_trace_state_release(ts);
}

/* Canonical lines of the lengths where the short deciders change how they load (16, 32, 64 and
 * around), each byte position replaced by each kind of byte: every decider against the reference
 * predicate, and the public parse against the reference parser. */
static void test_short_positions(void **state) {
  (void)state;
  init_paths();
  static const unsigned char specials[] = {',', '=', ' ', '\t', 0x00, 0x1f, 0x7f, 0x80, 0xff, 'A',
                                           '_', '-', '*', '/',  '@',  '0',  'a',  '~',  '!'};
  static const size_t lens[] = {4,  15, 16, 17, 20, 31, 32, 33, 40,
                                47, 48, 49, 62, 63, 64, 65, 96, 127};
  char line[128];
  size_t decided = 0;
  for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
    size_t len = lens[li];
    /* "k0=vvvvvv,k1=vvv...": members of 10 bytes, the last one filling the length */
    for (size_t i = 0; i < len; i++) {
      size_t m = i % 10;
      line[i] = m == 0 ? 'k' : m == 1 ? (char)('0' + (i / 10) % 10) : m == 2 ? '=' : 'v';
      if (m == 9) line[i] = ',';
    }
    if (line[len - 1] == ',' || line[len - 1] == '=') line[len - 1] = 'v';
    if (len >= 2 && line[len - 2] == '=') line[len - 1] = 'v';
    for (size_t k = 0; k <= sizeof specials; k++) {
      for (size_t at = 0; at < len; at++) {
        char saved = line[at];
        if (k < sizeof specials) line[at] = (char)specials[k];
        int want = ref_canonical(line, len);
        for (size_t pi = 0; pi < g_npaths; pi++) {
          if (!g_paths[pi].available) continue;
          uint64_t seps[UVOTEL__TS_FAST_MAX / 64];
          size_t nb = g_paths[pi].canonical(line, len, seps);
          if ((nb != 0) != want) {
            fail_msg("%s: canonical %zu, want %d: %.*s (byte %zu)", g_paths[pi].name, nb, want,
                     (int)len, line, at);
          }
        }
        decided += (size_t)want;
        const char *l1[1] = {line};
        size_t n1[1] = {len};
        check_api(l1, n1, 1, 0, "short positions");
        check_api(l1, n1, 1, UVOTEL_TRACE_STATE_STRICT, "short positions, strict");
        line[at] = saved;
        if (k == sizeof specials) break; /* the unchanged line: once */
      }
    }
  }
  assert_true(decided > 1000); /* both answers were reached */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_classifiers_positions), cmocka_unit_test(test_edges),
      cmocka_unit_test(test_short_positions), cmocka_unit_test(test_random_lines)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
