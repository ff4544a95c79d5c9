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

/* The three ways, one per test: tag, program, environment. */
static const char *const preload_env[] = {PRELOAD_ENV_FILE(SPANS), NULL};
static const char *const redirect_env[] = {"MECH_SPANS=" SPANS, NULL};

static void run_way(const char *tag, const char *prog, const char *const *env) {
  const char *argv[] = {prog, NULL};
  preload_run_expect(DIR, tag, argv, env, want, SPANS);
}

static void test_plain(void **state) {
  (void)state;
  run_way("plain", FS_STASH_PROG_PLAIN, NULL);
}

static void test_preload(void **state) {
  (void)state;
  run_way("preload", FS_STASH_PROG_PLAIN, preload_env);
}

static void test_redirect(void **state) {
  (void)state;
  run_way("redirect", FS_STASH_PROG_REDIRECT, redirect_env);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain),
      cmocka_unit_test(test_preload),
      cmocka_unit_test(test_redirect),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
