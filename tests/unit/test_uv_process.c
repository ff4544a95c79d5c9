/* Process wrappers: PROCESSWRAP (compare tests/node/spawn.js), the exit callback's context,
 * spawn errors, signal deaths, the environment carrier into the child, the "process" spans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/exporters/memory.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"

#include "uv_test_fixture.h"

static uvotel_memory_exporter_t *g_mem;
static uvotel_tracer_provider_t *g_provider;
static uvotel_tracer_t *g_tracer;

static struct {
  uv_process_t proc;
  int64_t status;
  int signal;
  int exits;
  int ctx_ok;
} g_p;

static void closed(uv_handle_t *h) {
  (void)h;
  trace_log_line(&g_log, "closed");
}

static void proc_exit(uv_process_t *p, int64_t status, int sig) {
  trace_log_line(&g_log, "exit %lld", (long long)status);
  g_p.status = status;
  g_p.signal = sig;
  g_p.exits++;
  g_p.ctx_ok = uvotel_var_get(g_var) == (void *)&g_p;
  uvotel_close((uv_handle_t *)p, closed);
}

static int spawn(const char *file, char **args, char **env, int out_fd) {
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = file;
  o.args = args;
  o.env = env;
  o.exit_cb = proc_exit;
  uv_stdio_container_t stdio[3];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = out_fd >= 0 ? UV_INHERIT_FD : UV_IGNORE;
  stdio[1].data.fd = out_fd;
  stdio[2].flags = UV_IGNORE;
  o.stdio = stdio;
  o.stdio_count = 3;
  return uvotel_spawn(g_loop, &g_p.proc, &o);
}

/* ---- the Node program tests/node/spawn.js ---- */

static void test_spawn_sequence(void **state) {
  (void)state;
  memset(&g_p, 0, sizeof g_p);
  trace_log_start(&g_log);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_p, &sc), 0);
  char *args[] = {"true", NULL};
  assert_int_equal(spawn("/bin/true", args, NULL, -1), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_p.exits, 1);
  assert_true(g_p.ctx_ok); /* the exit callback runs in the spawn's context */
  assert_trace(&g_log,
               "init 2 PROCESSWRAP 1\n"
               "before 2\n"
               "exit 0\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
}

/* A spawn that fails raises nothing and keeps nothing; the handle is closed as libuv says. */
static void test_spawn_error(void **state) {
  (void)state;
  memset(&g_p, 0, sizeof g_p);
  trace_log_start(&g_log);
  char *args[] = {"nope", NULL};
  assert_int_equal(spawn("/nonexistent/uvotel-nope", args, NULL, -1), UV_ENOENT);
  assert_int_equal(uvotel_uv_tracked(), 0);
  uvotel_close((uv_handle_t *)&g_p.proc, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_p.exits, 0);
  assert_trace(&g_log, "");
  assert_int_equal(uvotel_spawn(g_loop, &g_p.proc, NULL), UV_EINVAL);
}

/* A child killed by a signal: one exit callback, one destroy. */
static void test_signal_death(void **state) {
  (void)state;
  memset(&g_p, 0, sizeof g_p);
  trace_log_start(&g_log);
  char *args[] = {"sh", "-c", "kill -KILL $$", NULL};
  assert_int_equal(spawn("/bin/sh", args, NULL, -1), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_p.exits, 1);
  assert_int_equal(g_p.signal, SIGKILL);
  assert_trace(&g_log,
               "init 2 PROCESSWRAP 1\n"
               "before 2\n"
               "exit 0\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
}

/* ---- the environment carrier ---- */

static char g_out[256];

/* Run `env` in a child (env as given) and keep the lines of its output starting with the
 * carrier's names in out. */
static void run_env(char **env, char *out, size_t cap) {
  snprintf(g_out, sizeof g_out, "/tmp/uvotel-env-%d.txt", (int)getpid());
  int fd = open(g_out, O_CREAT | O_TRUNC | O_WRONLY, 0600);
  assert_true(fd >= 0);
  memset(&g_p, 0, sizeof g_p);
  char *args[] = {"env", NULL};
  assert_int_equal(spawn("/usr/bin/env", args, env, fd), 0);
  close(fd);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_p.exits, 1);
  FILE *f = fopen(g_out, "r");
  assert_non_null(f);
  out[0] = '\0';
  char line[1024];
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "TRACEPARENT=", 12) == 0 || strncmp(line, "TRACESTATE=", 11) == 0 ||
        strncmp(line, "BAGGAGE=", 8) == 0) {
      strncat(out, line, cap - strlen(out) - 1);
    }
  }
  fclose(f);
  unlink(g_out);
}

static uvotel_span_context_t fixed_context(void) {
  uvotel_span_context_t sc;
  const char *tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  assert_int_equal(uvotel_traceparent_parse(tp, strlen(tp), &sc), 0);
  return sc;
}

static void test_env_carrier_into_child(void **state) {
  (void)state;
  char out[1024];
  char *env[] = {"A=1", "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-01",
                 "B=2", NULL};
  char *copy[4];
  memcpy(copy, env, sizeof env);
  /* no current span: the environment passes as given */
  run_env(env, out, sizeof out);
  assert_string_equal(out, "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-01\n");
  /* under a span with baggage: the carrier replaces the caller's value, in a copy */
  uvotel_span_context_t sc = fixed_context();
  uvotel_trace_state_t *ts = NULL;
  assert_int_equal(uvotel_trace_state_parse("k=v", 3, &ts), 0);
  sc.trace_state = ts;
  uvotel_span_t *span = uvotel_span_wrap_context(&sc);
  uvotel_trace_state_release(ts);
  uvotel_scope_t s1, s2;
  assert_int_equal(uvotel_span_enter(span, &s1), 0);
  assert_int_equal(uvotel_baggage_enter_set("user", "alice", NULL, &s2), 0);
  run_env(env, out, sizeof out);
  assert_string_equal(out,
                      "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n"
                      "TRACESTATE=k=v\n"
                      "BAGGAGE=user=alice\n");
  assert_memory_equal(copy, env, sizeof env); /* the caller's env is untouched */
  /* UVOTEL_PROPAGATE_ENV=false: nothing added */
  setenv("UVOTEL_PROPAGATE_ENV", "false", 1);
  run_env(env, out, sizeof out);
  unsetenv("UVOTEL_PROPAGATE_ENV");
  assert_string_equal(out, "TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-01\n");
  /* env NULL: a copy of this process's environment plus the carrier */
  setenv("UVOTEL_TEST_MARK", "1", 1);
  run_env(NULL, out, sizeof out);
  unsetenv("UVOTEL_TEST_MARK");
  assert_non_null(
      strstr(out, "TRACEPARENT=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  uvotel_span_end(span);
}

/* ---- the "process" span ---- */

static const uvotel_attribute_t *attr(const uvotel_span_data_t *d, const char *key) {
  size_t n;
  const uvotel_attribute_t *a = uvotel_span_data_attributes(d, &n);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(a[i].key, key) == 0) return &a[i];
  }
  return NULL;
}

static void test_process_span(void **state) {
  (void)state;
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_tracer;
  o.categories = UVOTEL_INSTRUMENT_PROCESS;
  assert_int_equal(uvotel_auto_spans_enable(&o), 0);
  uvotel_memory_exporter_reset(g_mem);
  uvotel_span_t *parent = uvotel_span_start(g_tracer, "parent", NULL);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_span_enter(parent, &sc), 0);
  char out[1024];
  run_env(NULL, out, sizeof out); /* exits 0 */
  memset(&g_p, 0, sizeof g_p);
  char *args[] = {"sh", "-c", "exit 3", NULL};
  assert_int_equal(spawn("/bin/sh", args, NULL, -1), 0);
  int pid = g_p.proc.pid;
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  uvotel_span_end(parent);
  uvotel_auto_spans_disable();
  assert_int_equal(uvotel_memory_exporter_count(g_mem), 3);
  const uvotel_span_data_t *env_span = uvotel_memory_exporter_get(g_mem, 0);
  const uvotel_span_data_t *sh = uvotel_memory_exporter_get(g_mem, 1);
  assert_string_equal(uvotel_span_data_name(env_span), "spawn env");
  assert_int_equal(uvotel_span_data_kind(env_span), UVOTEL_SPAN_KIND_CLIENT);
  /* the child got the spawn span as its parent */
  char tp[UVOTEL_TRACEPARENT_LEN + 1];
  uvotel_span_context_t esc = uvotel_span_data_context(env_span);
  assert_int_equal(uvotel_traceparent_format(&esc, tp), 0);
  char want[80];
  snprintf(want, sizeof want, "TRACEPARENT=%s\n", tp);
  assert_string_equal(out, want);
  assert_string_equal(uvotel_span_data_name(sh), "spawn sh");
  assert_string_equal(attr(sh, "process.executable.name")->value.u.s, "sh");
  assert_int_equal(attr(sh, "process.pid")->value.u.i, pid);
  assert_int_equal(attr(sh, "process.exit.code")->value.u.i, 3);
  const uvotel_attribute_t *a = attr(sh, "process.command_args");
  assert_non_null(a);
  assert_int_equal(a->value.len, 3);
  const char *desc;
  assert_int_equal(uvotel_span_data_status(sh, &desc), UVOTEL_STATUS_ERROR);
  assert_int_equal(uvotel_span_data_status(env_span, &desc), UVOTEL_STATUS_UNSET);
}

/* The new UVOTEL_INSTRUMENT names. */
static void test_instrument_names(void **state) {
  (void)state;
  unsigned c;
  assert_int_equal(uvotel_instrument_parse("udp, PIPE,process", &c), 0);
  assert_int_equal(c, UVOTEL_INSTRUMENT_UDP | UVOTEL_INSTRUMENT_PIPE | UVOTEL_INSTRUMENT_PROCESS);
  assert_int_equal(uvotel_instrument_parse("all", &c), 0);
  assert_int_equal(c & UVOTEL_INSTRUMENT_PROCESS, UVOTEL_INSTRUMENT_PROCESS);
  assert_int_equal(uvotel_instrument_parse("processes", &c), UVOTEL_EPARSE);
}

static int group_setup(void **state) {
  (void)state;
  g_mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *proc =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(g_mem));
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  g_provider = uvotel_tracer_provider_create(&o);
  g_tracer = uvotel_tracer_get(g_provider, "test", "1");
  return g_tracer != NULL ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  (void)uvotel_tracer_provider_shutdown(g_provider, 1000);
  uvotel_tracer_provider_free(g_provider);
  uvotel_memory_exporter_free(g_mem);
  return 0;
}

int main(void) {
  g_var = uvotel_var_create("process", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_spawn_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_spawn_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signal_death, setup, teardown),
      cmocka_unit_test_setup_teardown(test_env_carrier_into_child, setup, teardown),
      cmocka_unit_test_setup_teardown(test_process_span, setup, teardown),
      cmocka_unit_test(test_instrument_names),
  };
  int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
  uvotel_var_free(g_var);
  return rc;
}
