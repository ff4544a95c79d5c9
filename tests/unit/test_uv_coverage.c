/* Coverage of libuv: every callback-taking function the installed libuv's uv.h declares is
 * either in the one wrapper list (uvotel/uv_list.h) or listed below as deliberately unwrapped
 * with the reason; the generated uv_redirect.h maps exactly the list; every wrapper links. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvotel.h"
#include "uvotel/uv.h"

#ifndef UVOTEL_LIBUV_UV_H
#define UVOTEL_LIBUV_UV_H "/usr/include/uv.h"
#endif

/* Deliberately unwrapped callback-taking functions, and why (the same list is in uvotel/uv.h). */
static const struct {
  const char *name, *reason;
} k_unwrapped[] = {
    {"uv_walk", "the callback runs synchronously inside the call, in the caller's context"},
    {"uv_once", "runs synchronously, at most once per process, in the caller's context"},
    {"uv_thread_create", "the entry runs at the top level of a new thread the program owns"},
    {"uv_thread_create_ex", "the entry runs at the top level of a new thread the program owns"},
    {"uv_replace_allocator", "allocator functions, not asynchronous callbacks"},
};
#define N_UNWRAPPED (sizeof k_unwrapped / sizeof k_unwrapped[0])

#define NAME(name, wrap, params, args) #name,
static const char *const k_wrapped[] = {UVOTEL_UV_LIST(NAME, NAME)};
#define WRAP(name, wrap, params, args) #wrap,
static const char *const k_wrappers[] = {UVOTEL_UV_LIST(WRAP, WRAP)};
#define N_WRAPPED (sizeof k_wrapped / sizeof k_wrapped[0])
/* Every wrapper (and explicit form) must exist: taking its address fails to link otherwise. */
#define ADDR(name, wrap, params, args) (void (*)(void)) wrap,
static void (*const k_addrs[])(void) = {UVOTEL_UV_LIST(ADDR, ADDR) UVOTEL_UV_EXPLICIT_LIST(ADDR)};

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

/* Remove C comments in place (uv.h has no comment markers inside strings). */
static void strip_comments(char *s) {
  char *w = s;
  for (char *r = s; *r;) {
    if (r[0] == '/' && r[1] == '*') {
      char *e = strstr(r + 2, "*/");
      r = e != NULL ? e + 2 : r + strlen(r);
      *w++ = ' ';
    } else if (r[0] == '/' && r[1] == '/') {
      while (*r && *r != '\n') r++;
    } else {
      *w++ = *r++;
    }
  }
  *w = '\0';
}

typedef struct decl_s {
  char name[64];
  int takes_cb;
} decl_t;

/* Every UV_EXTERN function declaration: its name and whether a parameter is a callback (a
 * *_cb or *_func type, a function pointer, or uv_process_options_t, which carries exit_cb). */
static size_t parse_uv_h(char *src, decl_t *out, size_t cap) {
  size_t n = 0;
  regex_t cb_re;
  assert_int_equal(
      regcomp(&cb_re, "_cb[^A-Za-z0-9_]|_func[^A-Za-z0-9_]|\\(\\s*\\*|uv_process_options_t",
              REG_EXTENDED),
      0);
  for (char *p = strstr(src, "UV_EXTERN"); p != NULL && n < cap; p = strstr(p, "UV_EXTERN")) {
    p += 9;
    char *semi = strchr(p, ';');
    if (semi == NULL) break;
    char *paren = strchr(p, '(');
    if (paren == NULL || paren > semi) continue; /* not a function */
    char *e = paren;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n')) e--;
    char *b = e;
    while (b > p && (b[-1] == '_' || (b[-1] >= 'a' && b[-1] <= 'z') ||
                     (b[-1] >= '0' && b[-1] <= '9') || (b[-1] >= 'A' && b[-1] <= 'Z')))
      b--;
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= sizeof out[n].name || strncmp(b, "uv_", 3) != 0) continue;
    memcpy(out[n].name, b, len);
    out[n].name[len] = '\0';
    char save = *semi;
    *semi = '\0';
    out[n].takes_cb = regexec(&cb_re, paren + 1, 0, NULL, 0) == 0;
    *semi = save;
    n++;
    p = semi;
  }
  regfree(&cb_re);
  return n;
}

static int in_list(const char *name, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (strcmp(list[i], name) == 0) return 1;
  }
  return 0;
}

static int unwrapped_index(const char *name) {
  for (size_t i = 0; i < N_UNWRAPPED; i++) {
    if (strcmp(k_unwrapped[i].name, name) == 0) return (int)i;
  }
  return -1;
}

static decl_t g_decls[1024];
static size_t g_n;

static int setup(void **state) {
  (void)state;
  char *src = read_file(UVOTEL_LIBUV_UV_H);
  assert_non_null(src);
  strip_comments(src);
  g_n = parse_uv_h(src, g_decls, 1024);
  free(src);
  return 0;
}

static const decl_t *find_decl(const char *name) {
  for (size_t i = 0; i < g_n; i++) {
    if (strcmp(g_decls[i].name, name) == 0) return &g_decls[i];
  }
  return NULL;
}

/* The parser sees libuv: known functions with and without callbacks. */
static void test_parser_sees_libuv(void **state) {
  (void)state;
  assert_true(g_n > 200);
  assert_non_null(find_decl("uv_run"));
  assert_false(find_decl("uv_run")->takes_cb);
  assert_true(find_decl("uv_timer_start")->takes_cb);
  assert_true(find_decl("uv_spawn")->takes_cb);      /* through uv_process_options_t */
  assert_true(find_decl("uv_once")->takes_cb);       /* a plain function pointer */
  assert_true(find_decl("uv_read_start")->takes_cb); /* an unnamed first parameter */
  assert_false(find_decl("uv_udp_try_send")->takes_cb);
}

static void test_every_callback_function_is_covered(void **state) {
  (void)state;
  size_t n_cb = 0, n_wrapped = 0, missing = 0;
  for (size_t i = 0; i < g_n; i++) {
    if (!g_decls[i].takes_cb) continue;
    n_cb++;
    int w = in_list(g_decls[i].name, k_wrapped, N_WRAPPED);
    int u = unwrapped_index(g_decls[i].name) >= 0;
    if (w) n_wrapped++;
    if (!w && !u) {
      fprintf(stderr, "not wrapped and not listed as deliberately unwrapped: %s\n",
              g_decls[i].name);
      missing++;
    }
    if (w && u) {
      fprintf(stderr, "both wrapped and listed as unwrapped: %s\n", g_decls[i].name);
      missing++;
    }
  }
  printf("uv.h: %zu callback-taking functions, %zu wrapped, %zu deliberately unwrapped:\n", n_cb,
         n_wrapped, N_UNWRAPPED);
  for (size_t i = 0; i < N_UNWRAPPED; i++) {
    printf("  %-22s %s\n", k_unwrapped[i].name, k_unwrapped[i].reason);
  }
  assert_int_equal(missing, 0);
  assert_int_equal(n_cb, n_wrapped + N_UNWRAPPED);
}

/* No stale entries: the unwrapped ones take callbacks; every wrapped name exists in uv.h. */
static void test_lists_match_uv_h(void **state) {
  (void)state;
  for (size_t i = 0; i < N_UNWRAPPED; i++) {
    const decl_t *d = find_decl(k_unwrapped[i].name);
    assert_non_null(d);
    assert_true(d->takes_cb);
  }
  for (size_t i = 0; i < N_WRAPPED; i++) {
    if (find_decl(k_wrapped[i]) == NULL) fprintf(stderr, "not in uv.h: %s\n", k_wrapped[i]);
    assert_non_null(find_decl(k_wrapped[i]));
    for (size_t j = 0; j < i; j++) assert_string_not_equal(k_wrapped[i], k_wrapped[j]);
  }
  for (size_t i = 0; i < sizeof k_addrs / sizeof k_addrs[0]; i++) assert_non_null(k_addrs[i]);
}

/* The generated uv_redirect.h maps exactly the list, in order. */
static void test_redirect_is_the_list(void **state) {
  (void)state;
  char *src = read_file(UVOTEL_BINARY_DIR "/instrumentation/include/uvotel/uv_redirect.h");
  assert_non_null(src);
  size_t k = 0;
  for (char *p = strstr(src, "\n#define uv_"); p != NULL; p = strstr(p + 1, "\n#define uv_")) {
    char from[64], to[64];
    assert_int_equal(sscanf(p, "\n#define %63s %63s", from, to), 2);
    assert_true(k < N_WRAPPED);
    assert_string_equal(from, k_wrapped[k]);
    assert_string_equal(to, k_wrappers[k]);
    k++;
  }
  assert_int_equal(k, N_WRAPPED);
  free(src);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parser_sees_libuv),
      cmocka_unit_test(test_every_callback_function_is_covered),
      cmocka_unit_test(test_lists_match_uv_h),
      cmocka_unit_test(test_redirect_is_the_list),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
