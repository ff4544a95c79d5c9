/* The mechanisms that broke real libuv programs under uvotel (issue 10), each as a small plain
 * libuv program (tests/integration/mech/), run three ways -- as built without uvotel, built
 * with uv_redirect.h and automatic spans (mech/spans_on.c), and the plain build under
 * libuvotel_preload.so -- which must print the same lines and exit the same way:
 *   cross_thread   a loop set up on the main thread and run on a worker, sends from a third
 *   walk_close     uv_walk closing every handle at exit; uv_run/uv_loop_alive answers
 *   close_pending  uv_loop_close with a close callback pending after the program freed its state
 *   scheduler      one idle handle running the tasks of 8 concurrent connections: no task's
 *                  span under another connection's span */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define TMPDIR UVOTEL_BINARY_DIR "/test_mechanisms.d"

extern char **environ;

/* Run prog with extra environment entries (NULL-terminated); stdout into *out (malloc'd).
 * Returns the exit status, 128+signal when killed, or -1. */
static int run(const char *prog, const char *const *extra_env, char **out) {
  char *argv[] = {(char *)prog, NULL};
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "LD_PRELOAD=", 11) == 0 || strncmp(*e, "OTEL_", 5) == 0 ||
        strncmp(*e, "UVOTEL_", 7) == 0 || strncmp(*e, "MECH_", 5) == 0) {
      continue;
    }
    envp[n++] = *e;
  }
  for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && n < 250; i++) {
    envp[n++] = (char *)extra_env[i];
  }
  envp[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  int rc = posix_spawn(&pid, prog, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  ssize_t r;
  while ((r = read(fds[0], buf + len, cap - len - 1)) > 0 || (r < 0 && errno == EINTR)) {
    if (r < 0) continue;
    len += (size_t)r;
    if (cap - len < 2) buf = realloc(buf, cap *= 2);
  }
  buf[len] = '\0';
  close(fds[0]);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  *out = buf;
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the three builds of one program; each must exit 0 and print want (checked first on the
 * plain build, so the program itself is right). Span files are left in TMPDIR/<name>.*.jsonl. */
static void run_three(const char *name, const char *want) {
  mkdir(TMPDIR, 0755);
  char raw[512], wrapped[512], spans_w[512], spans_p[512], env_w[600], env_p[600];
  snprintf(raw, sizeof raw, "%s/tests/mech_%s_raw", UVOTEL_BINARY_DIR, name);
  snprintf(wrapped, sizeof wrapped, "%s/tests/mech_%s_wrapped", UVOTEL_BINARY_DIR, name);
  snprintf(spans_w, sizeof spans_w, "%s/%s.wrapped.jsonl", TMPDIR, name);
  snprintf(spans_p, sizeof spans_p, "%s/%s.preload.jsonl", TMPDIR, name);
  unlink(spans_w);
  unlink(spans_p);
  snprintf(env_w, sizeof env_w, "MECH_SPANS=%s", spans_w);
  snprintf(env_p, sizeof env_p, "OTEL_EXPORTER_FILE_PATH=%s", spans_p);

  char *out = NULL;
  assert_int_equal(run(raw, NULL, &out), 0);
  assert_string_equal(out, want);
  free(out);

  const char *wenv[] = {env_w, NULL};
  assert_int_equal(run(wrapped, wenv, &out), 0);
  assert_string_equal(out, want);
  free(out);

#ifdef MECH_NO_PRELOAD
  print_message("(%s: not run under the preload in this build)\n", name);
  return;
#endif
  const char *penv[] = {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "UVOTEL_INSTRUMENT=all",
                        "OTEL_SERVICE_NAME=mech", "OTEL_TRACES_EXPORTER=file", env_p,
                        /* sanitizer builds: the preload comes before the ASan runtime */
                        "ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0", NULL};
  assert_int_equal(run(raw, penv, &out), 0);
  assert_string_equal(out, want);
  free(out);
}

static void test_cross_thread(void **state) {
  (void)state;
  run_three("cross_thread",
            "timer runs 1\nasync ran yes\nechoed 1\nfs done 1\nclosed 5\nloop close 0\n");
}

static void test_walk_close(void **state) {
  (void)state;
  run_three("walk_close",
            "run 0\nalive 0\nnowait 0\nwalked 3\nrun 0\nclosed 3 fired 1\nwalked after 0\n"
            "loop close 0\n");
}

static void test_close_pending(void **state) {
  (void)state;
  run_three("close_pending", "run 0\nloop close EBUSY\nalive 1\n");
}

/* ---- the scheduler's spans ---- */

static json_t *load_spans(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    assert_non_null(req);
    size_t i, j, k;
    json_t *rs, *ss, *sp;
    json_array_foreach(json_object_get(req, "resourceSpans"), i, rs) {
      json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
        json_array_foreach(json_object_get(ss, "spans"), k, sp) json_array_append(all, sp);
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
}

static const char *attr_text(json_t *sp, const char *key) {
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

static const char *str(json_t *sp, const char *key) {
  const char *s = json_string_value(json_object_get(sp, key));
  return s != NULL ? s : "";
}

/* Every fs span of a connection (".../peer-<port>/...") has no parent or the span of the
 * connection with that peer port ("tcp accept", network.peer.port); the one made in the
 * connection callback ("accept") has its connection's span as parent. */
static void check_scheduler_spans(const char *path, int want_tasks) {
#ifdef MECH_NO_PRELOAD
  if (strstr(path, ".preload.") != NULL) return;
#endif
  json_t *all = load_spans(path);
  assert_non_null(all);
  int tasks = 0, accepts = 0, wrong = 0, accept_ok = 0;
  size_t i, j;
  json_t *sp, *srv;
  json_array_foreach(all, i, sp) {
    const char *file = attr_text(sp, "file.path");
    const char *peer = file != NULL ? strstr(file, "/peer-") : NULL;
    if (peer == NULL) continue;
    int port = atoi(peer + 6);
    int is_task = strstr(peer, "/task") != NULL;
    tasks += is_task;
    accepts += !is_task;
    const char *parent = str(sp, "parentSpanId");
    if (parent[0] == '\0') continue;
    json_array_foreach(all, j, srv) {
      if (strcmp(str(srv, "spanId"), parent) != 0) continue;
      const char *p = attr_text(srv, "network.peer.port");
      int own = strcmp(str(srv, "name"), "tcp accept") == 0 && p != NULL && atoi(p) == port;
      if (!own) {
        wrong++;
      } else if (!is_task) {
        accept_ok++;
      }
    }
  }
  json_decref(all);
  assert_int_equal(tasks, want_tasks);
  assert_int_equal(accepts, 8);
  assert_int_equal(wrong, 0);
  assert_int_equal(accept_ok, 8); /* the context does reach a connection's own callbacks */
}

static void test_scheduler(void **state) {
  (void)state;
  run_three("scheduler",
            "connections 8\ntasks 32\ntasks per connection ok\nclosed 19\nloop close 0\n");
  check_scheduler_spans(TMPDIR "/scheduler.wrapped.jsonl", 32);
  check_scheduler_spans(TMPDIR "/scheduler.preload.jsonl", 32);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cross_thread),
      cmocka_unit_test(test_walk_close),
      cmocka_unit_test(test_close_pending),
      cmocka_unit_test(test_scheduler),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
