/* Helpers for the tests that run a program plain, under libuvotel_preload.so or built with
 * uv_redirect.h (header only; include after cmocka.h; link jansson).
 *
 *   prun_env                      the test's environment minus LD_PRELOAD, OTEL_*, UVOTEL_*
 *                                 (and more prefixes), plus extra entries
 *   prun_capture                  run argv in an environment, stdout (and stderr) read back
 *                                 through pipes; the exit status (128 + signal when killed)
 *   preload_spawn / preload_wait  run argv with the test's environment minus LD_PRELOAD, OTEL_*,
 *                                 UVOTEL_* and ASAN_OPTIONS, plus extra entries; stdout and
 *                                 stderr go to files, read back into the result
 *   preload_run_expect            preload_run, exit 0 and exactly the expected stdout
 *   PRELOAD_ENV_FILE(path)        the entries that put a run under the preload (every category),
 *                                 with spans to the file exporter at path
 *   spans_load                    every span of an OTLP/JSON lines file, as one array
 *                                 (otlp_json.h's walk), span_attr / span_find / span_str
 *   prun_sorted_lines             output compared regardless of line order */
#ifndef UVOTEL_TEST_PRELOAD_UTIL_H
#define UVOTEL_TEST_PRELOAD_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otlp_json.h"

extern char **environ;

typedef struct prun_s {
  pid_t pid;
  int status; /* the raw wait status */
  char *out, *err;
  char out_path[512], err_path[512];
} prun_t;

/* The sanitizer runtime must not insist on coming first: the preload does. */
#define PRELOAD_ASAN "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"

/* Environment entries (to put in a NULL-terminated list) that run a program under the preload
 * with every category on and its spans to the file exporter at path (a string literal). */
#define PRELOAD_ENV_FILE(path)                                                           \
  "LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_INSTRUMENT=all", "OTEL_TRACES_EXPORTER=file", \
      "OTEL_EXPORTER_FILE_PATH=" path, PRELOAD_ASAN

/* Into envp (room for 256 entries, NULL-terminated): the test's environment without
 * LD_PRELOAD, OTEL_*, UVOTEL_*, the prefixes in drop (NULL-terminated; may be NULL) and the
 * variables extra_env sets, then extra_env (may be NULL). */
static inline void prun_env(char **envp, const char *const *drop, const char *const *extra_env) {
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    int skip = strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "OTEL_", 5) == 0 ||
               strncmp(*e, "UVOTEL_", 7) == 0;
    for (size_t i = 0; !skip && drop != NULL && drop[i] != NULL; i++) {
      skip = strncmp(*e, drop[i], strlen(drop[i])) == 0;
    }
    for (size_t i = 0; !skip && extra_env != NULL && extra_env[i] != NULL; i++) {
      const char *eq = strchr(extra_env[i], '=');
      size_t k = eq != NULL ? (size_t)(eq - extra_env[i]) + 1 : 0;
      skip = k > 0 && strncmp(*e, extra_env[i], k) == 0; /* set again by extra_env */
    }
    if (!skip) envp[n++] = *e;
  }
  for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && n < 250; i++) {
    envp[n++] = (char *)extra_env[i];
  }
  envp[n] = NULL;
}

/* Everything read from fd until end of file (malloc'd, NUL-terminated); closes fd. */
static inline char *prun_read_fd(int fd) {
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  ssize_t r;
  while ((r = read(fd, buf + len, cap - len - 1)) > 0 || (r < 0 && errno == EINTR)) {
    if (r < 0) continue;
    len += (size_t)r;
    if (cap - len < 2) {
      buf = realloc(buf, cap *= 2);
      assert_non_null(buf);
    }
  }
  buf[len] = '\0';
  close(fd);
  return buf;
}

#define PRUN_STDERR_TO_OUT 0x1 /* prun_capture: stderr into *out as well */

/* Run argv (argv[0] the program's path) in envp; its stdout into *out (malloc'd); with err
 * not NULL its stderr into *err through a second pipe (read after stdout's end: for small
 * stderr), with PRUN_STDERR_TO_OUT into *out; otherwise stderr is the test's. Returns the exit
 * status, 128 + the signal when it was killed, -1 when it could not be started. */
static inline int prun_capture(char *const *argv, char *const *envp, unsigned flags, char **out,
                               char **err) {
  int o[2], e[2] = {-1, -1};
  if (pipe(o) != 0) return -1;
  if (err != NULL && pipe(e) != 0) {
    close(o[0]);
    close(o[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, o[1], 1);
  if (flags & PRUN_STDERR_TO_OUT) posix_spawn_file_actions_adddup2(&fa, o[1], 2);
  if (err != NULL) posix_spawn_file_actions_adddup2(&fa, e[1], 2);
  posix_spawn_file_actions_addclose(&fa, o[0]);
  if (err != NULL) posix_spawn_file_actions_addclose(&fa, e[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(o[1]);
  if (err != NULL) close(e[1]);
  if (rc != 0) {
    close(o[0]);
    if (err != NULL) close(e[0]);
    return -1;
  }
  *out = prun_read_fd(o[0]);
  if (err != NULL) *err = prun_read_fd(e[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline char *prun_slurp(const char *path) {
  FILE *f = fopen(path, "r");
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  assert_non_null(buf);
  if (f != NULL) {
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
      len += n;
      if (cap - len < 2) {
        buf = realloc(buf, cap *= 2);
        assert_non_null(buf);
      }
    }
    fclose(f);
  }
  buf[len] = '\0';
  return buf;
}

/* Start argv; its output goes to dir/<tag>.out and .err. */
static inline void preload_spawn(prun_t *r, const char *dir, const char *tag,
                                 const char *const *argv, const char *const *extra_env) {
  memset(r, 0, sizeof *r);
  mkdir(dir, 0755);
  snprintf(r->out_path, sizeof r->out_path, "%s/%s.out", dir, tag);
  snprintf(r->err_path, sizeof r->err_path, "%s/%s.err", dir, tag);
  char *envp[256];
  static const char *const drop[] = {"ASAN_OPTIONS=", NULL};
  prun_env(envp, drop, extra_env);
  /* The signals the program gets start at their default action, unblocked, whatever the
   * test runner set. */
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  sigset_t none, dfl;
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGHUP);
  posix_spawnattr_setsigmask(&at, &none);
  posix_spawnattr_setsigdefault(&at, &dfl);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, r->out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, r->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  int rc = posix_spawn(&r->pid, argv[0], &fa, &at, (char *const *)argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  assert_int_equal(rc, 0);
}

/* Wait for it (at most timeout_ms, then SIGKILL and fail) and read its output. */
static inline void preload_wait(prun_t *r, int timeout_ms) {
  int waited = 0;
  for (;;) {
    pid_t p = waitpid(r->pid, &r->status, WNOHANG);
    if (p == r->pid) break;
    assert_true(p == 0 || errno == EINTR);
    if (waited >= timeout_ms) {
      kill(r->pid, SIGKILL);
      (void)waitpid(r->pid, &r->status, 0);
      fprintf(stderr, "%s: still running after %d ms: killed\n", r->out_path, timeout_ms);
      fail();
    }
    usleep(10000);
    waited += 10;
  }
  r->out = prun_slurp(r->out_path);
  r->err = prun_slurp(r->err_path);
}

static inline void preload_run(prun_t *r, const char *dir, const char *tag, const char *const *argv,
                               const char *const *extra_env) {
  preload_spawn(r, dir, tag, argv, extra_env);
  preload_wait(r, 20000);
}

/* preload_run (spans_path, when not NULL, removed first), which must exit 0 printing exactly
 * expected; on failure its stdout and stderr are printed. */
static inline void preload_run_expect(const char *dir, const char *tag, const char *const *argv,
                                      const char *const *extra_env, const char *expected,
                                      const char *spans_path) {
  if (spans_path != NULL) unlink(spans_path);
  prun_t r;
  preload_run(&r, dir, tag, argv, extra_env);
  if (!(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0)) {
    fprintf(stderr, "%s: %s%s\n", tag, r.out, r.err);
  }
  assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
  assert_string_equal(r.out, expected);
  free(r.out);
  free(r.err);
}

static inline void prun_free(prun_t *r) {
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

/* Exited with status 0. */
static inline int prun_ok(const prun_t *r) {
  return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/* All spans of all lines of an OTLP/JSON lines file, as one JSON array (each span with its
 * resource's service.name copied into "service"). NULL when the file does not exist. */
static inline json_t *spans_load(const char *path) {
  return otlp_json_items(path, "resourceSpans", "scopeSpans", "spans", 1);
}

/* The attribute's value as text (strings as is, ints as their decimal string). */
static inline const char *span_attr(json_t *sp, const char *key) {
  json_t *v = otlp_json_attr(sp, key);
  if (v == NULL) return NULL;
  json_t *s = json_object_get(v, "stringValue");
  if (s == NULL) s = json_object_get(v, "intValue");
  return json_string_value(s);
}

/* The first span with this name (and, if key is not NULL, attribute key == value). */
static inline json_t *span_find(json_t *all, const char *name, const char *key, const char *value) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strcmp(json_string_value(json_object_get(sp, "name")), name) != 0) continue;
    if (key != NULL) {
      const char *v = span_attr(sp, key);
      if (v == NULL || strcmp(v, value) != 0) continue;
    }
    return sp;
  }
  return NULL;
}

static inline const char *span_str(json_t *sp, const char *field) {
  const char *s = json_string_value(json_object_get(sp, field));
  return s != NULL ? s : "";
}

static inline int prun_cmp_lines(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text, sorted, as a new string (free it): output whose lines may come in any
 * order (thread-pool completions, clients finishing in turn) compared as a multiset. */
static inline char *prun_sorted_lines(const char *text) {
  char *copy = strdup(text);
  char *lines[256];
  int n = 0;
  for (char *p = strtok(copy, "\n"); p != NULL && n < 256; p = strtok(NULL, "\n")) lines[n++] = p;
  qsort(lines, (size_t)n, sizeof *lines, prun_cmp_lines);
  char *out = calloc(1, strlen(text) + 2);
  for (int i = 0; i < n; i++) {
    strcat(out, lines[i]);
    strcat(out, "\n");
  }
  free(copy);
  return out;
}

#endif
