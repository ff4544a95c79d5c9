/* A program's own values in its uv_fs_t requests survive wrapped uv_fs_* calls: `data`, all six
 * `reserved` words and the private `atime`/`mtime` (uvotel keeps a block address and a tag there
 * while a request is in flight), in every callback of chains that reuse the request from its
 * callback, of a request cancelled from the queue, and afterwards; a utime request gets libuv's
 * times there. tests/integration/preload/fs_stash_prog.c (plain libuv) checks them itself and
 * prints any word that changed; it is run plain, under the preload (every category, fs spans
 * too) and built with uv_redirect.h, and the three runs print the same. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "preload_util.h"

#define DIR UVOTEL_BINARY_DIR "/test_preload_fs_stash.d"
#define SPANS DIR "/spans.jsonl"

static const char want[] =
    "cancel 0\ncancelled ECANCELED\nutime 0 11 22\nsteps 32\nbad 0\nloop close 0\n";

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
  run_expect("plain", FS_STASH_PROG_PLAIN, NULL);
}

static void test_preload(void **state) {
  (void)state;
  const char *env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
  run_expect("preload", FS_STASH_PROG_PLAIN, env);
}

static void test_redirect(void **state) {
  (void)state;
  const char *env[] = {"MECH_SPANS=" SPANS, NULL};
  run_expect("redirect", FS_STASH_PROG_REDIRECT, env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_preload),
      cmocka_unit_test(test_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
