/* Helpers for the tests that run a program plain, under libuvotel_preload.so or built with
 * uv_redirect.h (header only; include after cmocka.h; link jansson).
 *
 *   preload_spawn / preload_wait  run argv with the test's environment minus LD_PRELOAD, OTEL_*,
 *                                 UVOTEL_* and ASAN_OPTIONS, plus extra entries; stdout and
 *                                 stderr go to files, read back into the result
 *   preload_env                   the entries that put a run under the preload, with spans to
 *                                 a file exporter
 *   spans_load                    every span of an OTLP/JSON lines file, as one array
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

extern char **environ;

typedef struct prun_s {
  pid_t pid;
  int status; /* the raw wait status */
  char *out, *err;
  char out_path[512], err_path[512];
} prun_t;

/* The sanitizer runtime must not insist on coming first: the preload does. */
#define PRELOAD_ASAN "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0"

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
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "OTEL_", 5) == 0 ||
        strncmp(*e, "UVOTEL_", 7) == 0 || strncmp(*e, "ASAN_OPTIONS=", 13) == 0) {
      continue;
    }
    envp[n++] = *e;
  }
  for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && n < 250; i++) {
    envp[n++] = (char *)extra_env[i];
  }
  envp[n] = NULL;
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
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    assert_non_null(req);
    size_t i, j, k, m;
    json_t *rs, *ss, *sp, *a;
    json_array_foreach(json_object_get(req, "resourceSpans"), i, rs) {
      const char *service = "";
      json_array_foreach(json_object_get(json_object_get(rs, "resource"), "attributes"), m, a) {
        if (strcmp(json_string_value(json_object_get(a, "key")), "service.name") == 0) {
          service = json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
        }
      }
      json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
        json_array_foreach(json_object_get(ss, "spans"), k, sp) {
          json_object_set_new(sp, "service", json_string(service));
          json_array_append(all, sp);
        }
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
}

/* The attribute's value as text (strings as is, ints as their decimal string). */
static inline const char *span_attr(json_t *sp, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(sp, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) != 0) continue;
    json_t *v = json_object_get(a, "value");
    json_t *s = json_object_get(v, "stringValue");
    if (s == NULL) s = json_object_get(v, "intValue");
    return json_string_value(s);
  }
  return NULL;
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
