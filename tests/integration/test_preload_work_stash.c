/* A program's own values in its uv_work_t requests survive a wrapped uv_queue_work, and in its
 * uv_getaddrinfo_t requests a wrapped uv_getaddrinfo: `data` and all six `reserved` words, on the
 * pool thread, in after_work_cb, when queued again from it, while cancelled from the queue and
 * afterwards. tests/integration/preload/work_stash_prog.c (plain libuv) checks them itself and
 * prints any word that changed; it is run plain, under the preload and built with uv_redirect.h,
 * and the three runs print the same. (uvotel once kept its tagged pointer in reserved[0..1]: the
 * wrapped runs printed BAD lines.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_work_stash.d"
#define SPANS DIR "/spans.jsonl"

static const char want[] =
    "cancel 0\ncancelled item ECANCELED\nrounds 16\n"
    "gai cancel 0\ngai cancelled item EAI_CANCELED\ngai rounds 8\n"
    "bad 0\nloop close 0\n";

static void run_expect(const char *tag, const char *prog, const char *const *env) {
  const char *argv[] = {prog, NULL};
  prun_t r;
  preload_run(&r, DIR, tag, argv, env);
  if (!prun_ok(&r) || strcmp(r.out, want) != 0) fprintf(stderr, "%s:\n%s%s\n", tag, r.out, r.err);
  assert_true(prun_ok(&r));
  assert_string_equal(r.out, want);
  prun_free(&r);
}

static void test_plain(void **state) {
  (void)state;
  run_expect("plain", WORK_STASH_PROG_PLAIN, NULL);
}

static void test_preload(void **state) {
  (void)state;
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  run_expect("preload", WORK_STASH_PROG_PLAIN, env);
}

static void test_redirect(void **state) {
  (void)state;
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  run_expect("redirect", WORK_STASH_PROG_REDIRECT, env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_preload),
      cmocka_unit_test(test_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
