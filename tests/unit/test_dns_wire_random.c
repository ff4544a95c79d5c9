/* The DNS fuzz target's checks (tests/fuzz/fuzz_dns.c: the parser, the DNS-over-TCP detector,
 * the TCP framer fed whole and in pieces, the client matcher) in the normal build, on the seed
 * corpus (tests/fuzz/corpus/dns) and on deterministic mutations of it: bytes flipped,
 * inserted, dropped, seeds spliced and cut. The target aborts on any broken invariant; the
 * ASan build checks reads past the input. libFuzzer goes further (tests/fuzz/README.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CORPUS UVOTEL_SOURCE_DIR "/tests/fuzz/corpus/dns"
#define ITER 20000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct seed_s {
  uint8_t *d;
  size_t n;
} seed_t;

static seed_t g_seeds[32];
static size_t g_nseeds;

static void load(void) {
  DIR *dir = opendir(CORPUS);
  assert_non_null(dir);
  struct dirent *e;
  while ((e = readdir(dir)) != NULL && g_nseeds < 32) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", CORPUS, e->d_name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc(4096);
    size_t n = fread(buf, 1, 4096, f);
    fclose(f);
    g_seeds[g_nseeds].d = buf;
    g_seeds[g_nseeds++].n = n;
  }
  closedir(dir);
  assert_true(g_nseeds >= 4);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)g_rng;
}

static void test_seeds(void **state) {
  (void)state;
  for (size_t i = 0; i < g_nseeds; i++) {
    assert_int_equal(LLVMFuzzerTestOneInput(g_seeds[i].d, g_seeds[i].n), 0);
  }
  assert_int_equal(LLVMFuzzerTestOneInput(NULL, 0), 0);
}

static void test_mutations(void **state) {
  (void)state;
  static uint8_t buf[8192];
  for (int it = 0; it < ITER; it++) {
    const seed_t *s = &g_seeds[rnd() % g_nseeds];
    size_t n = s->n;
    memcpy(buf, s->d, n);
    int edits = 1 + (int)(rnd() % 6);
    for (int k = 0; k < edits; k++) {
      size_t at = n > 0 ? rnd() % n : 0;
      switch (rnd() % 5) {
        case 0: /* flip */
          if (n > 0) buf[at] ^= (uint8_t)(1u << (rnd() % 8));
          break;
        case 1: /* set a byte to an interesting value */
          if (n > 0) buf[at] = (uint8_t[]){0, 1, 12, 63, 64, 0x80, 0xc0, 0xff}[rnd() % 8];
          break;
        case 2: /* insert */
          if (n < sizeof buf - 1) {
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = (uint8_t)rnd();
            n++;
          }
          break;
        case 3: /* drop */
          if (n > 0) {
            memmove(buf + at, buf + at + 1, n - at - 1);
            n--;
          }
          break;
        default: { /* append another seed (several messages in one stream) */
          const seed_t *o = &g_seeds[rnd() % g_nseeds];
          if (n + o->n <= sizeof buf) {
            memcpy(buf + n, o->d, o->n);
            n += o->n;
          }
        }
      }
    }
    if (rnd() % 4 == 0 && n > 0) n = rnd() % n; /* cut */
    uint8_t *exact = malloc(n > 0 ? n : 1);
    memcpy(exact, buf, n);
    assert_int_equal(LLVMFuzzerTestOneInput(exact, n), 0);
    free(exact);
  }
}

int main(void) {
  load();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seeds),
      cmocka_unit_test(test_mutations),
  };
  int r = cmocka_run_group_tests(tests, NULL, NULL);
  for (size_t i = 0; i < g_nseeds; i++) free(g_seeds[i].d);
  return r;
}
