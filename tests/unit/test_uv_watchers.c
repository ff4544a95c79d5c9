/* Signal (SIGNALWRAP), poll (POLLWRAP), prepare (PREPARE), fs_event (FSEVENTWRAP), fs_poll
 * (STATWATCHER) and random (RANDOMBYTESREQUEST) wrappers: Node's sequences where Node has the
 * resource (tests/node/signal.js, fs_watch.js, fs_watchfile.js, random_bytes.js), the context
 * of each callback (explicit: the start's; implicit: the root), destroy exactly once, and the
 * side table after many operations. */
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
#include <sys/socket.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/promise.h"
#include "uvotel/uv.h"

#include "uv_test_fixture.h"

static int g_marker; /* the value entered around registrations */
static void *g_seen;
static int g_runs;

/* ---- signals: tests/node/signal.js ---- */

static void closed(uv_handle_t *h) {
  (void)h;
  trace_log_line(&g_log, "closed");
}

static void on_signal(uv_signal_t *h, int signum) {
  assert_int_equal(signum, SIGUSR1);
  trace_log_line(&g_log, "signal");
  g_seen = uvotel_var_get(g_var);
  g_runs++;
  uvotel_close((uv_handle_t *)h, closed);
}

static void test_signal_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  g_runs = 0;
  uv_signal_t sig;
  assert_int_equal(uv_signal_init(g_loop, &sig), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_signal_start(&sig, on_signal, SIGUSR1), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_kill(getpid(), SIGUSR1), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_runs, 1);
  assert_ptr_equal(g_seen, &g_marker);
  assert_trace(&g_log,
               "init 2 SIGNALWRAP 1\n"
               "before 2\n"
               "signal\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
}

static void on_oneshot(uv_signal_t *h, int signum) {
  (void)h, (void)signum;
  trace_log_line(&g_log, "oneshot");
  g_seen = uvotel_var_get(g_var);
  g_runs++;
}

/* One-shot: destroyed after its callback (libuv stopped the handle); the implicit form runs in
 * the root context. */
static void test_signal_oneshot_implicit(void **state) {
  (void)state;
  trace_log_start(&g_log);
  g_runs = 0;
  g_seen = &g_runs;
  uv_signal_t sig;
  assert_int_equal(uv_signal_init(g_loop, &sig), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_implicit_signal_start_oneshot(&sig, on_oneshot, SIGUSR1), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_kill(getpid(), SIGUSR1), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_runs, 1);
  assert_null(g_seen); /* root context */
  uvotel_close((uv_handle_t *)&sig, closed);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 SIGNALWRAP 1\n"
               "before 2\n"
               "oneshot\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
  assert_int_equal(uvotel_signal_stop(NULL), UV_EINVAL);
}

/* ---- poll on a socketpair ---- */

static struct {
  uv_poll_t poll;
  int fds[2];
  long n, target;
} g_pl;

static void on_poll(uv_poll_t *h, int status, int events) {
  assert_int_equal(status, 0);
  assert_true(events & UV_READABLE);
  char c;
  assert_int_equal(read(g_pl.fds[0], &c, 1), 1);
  g_seen = uvotel_var_get(g_var);
  trace_log_line(&g_log, "readable");
  if (++g_pl.n < g_pl.target) {
    assert_int_equal(write(g_pl.fds[1], "x", 1), 1);
    /* a library restarting its poll from the callback: same resource */
    assert_int_equal(uvotel_poll_start(h, UV_READABLE, on_poll), 0);
  } else {
    assert_int_equal(uvotel_poll_stop(h), 0);
    uvotel_close((uv_handle_t *)h, closed);
  }
}

static void poll_setup(long target) {
  memset(&g_pl, 0, sizeof g_pl);
  g_pl.target = target;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, g_pl.fds), 0);
  assert_int_equal(uvotel_poll_init_socket(g_loop, &g_pl.poll, g_pl.fds[0]), 0);
  assert_int_equal(write(g_pl.fds[1], "x", 1), 1);
}

static void poll_done(void) {
  close(g_pl.fds[0]);
  close(g_pl.fds[1]);
}

static void test_poll_sequence_and_context(void **state) {
  (void)state;
  trace_log_start(&g_log);
  poll_setup(2);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_poll_start(&g_pl.poll, UV_READABLE, on_poll), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  poll_done();
  assert_ptr_equal(g_seen, &g_marker);
  assert_trace(&g_log,
               "init 2 POLLWRAP 1\n"
               "before 2\n"
               "readable\n"
               "after 2\n"
               "before 2\n"
               "readable\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
}

/* The implicit form runs in the root; uvotel_poll_adopt gives the socket a task's context. */
static void test_poll_implicit_and_adopt(void **state) {
  (void)state;
  trace_log_start(&g_log);
  poll_setup(1);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_implicit_poll_start(&g_pl.poll, UV_READABLE, on_poll), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  g_seen = &g_runs;
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  poll_done();
  assert_null(g_seen); /* root context */

  /* adopt: the task's snapshot, though the (implicit) start runs in another context */
  poll_setup(1);
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  uvotel_snapshot_t *task = uvotel_snapshot_capture();
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_implicit_poll_start(&g_pl.poll, UV_READABLE, on_poll), 0);
  assert_int_equal(uvotel_poll_adopt(&g_pl.poll, task), 0);
  assert_int_equal(uvotel_implicit_poll_start(&g_pl.poll, UV_READABLE, on_poll), 0);
  uvotel_snapshot_release(task);
  g_seen = NULL;
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  poll_done();
  assert_ptr_equal(g_seen, &g_marker);
  assert_trace(&g_log,
               "init 2 POLLWRAP 1\n"
               "before 2\n"
               "readable\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n"
               "init 3 POLLWRAP 1\n"
               "init 4 POLLWRAP 1\n"
               "before 4\n"
               "readable\n"
               "after 4\n"
               "destroy 3\n"
               "before 4\n"
               "closed\n"
               "after 4\n"
               "destroy 4\n");
  assert_int_equal(uvotel_poll_adopt(NULL, NULL), UV_EINVAL);
  uv_timer_t t;
  assert_int_equal(uv_timer_init(g_loop, &t), 0);
  assert_int_equal(uvotel_poll_adopt((uv_poll_t *)&t, NULL), UV_EINVAL);
  uv_close((uv_handle_t *)&t, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
}

/* 100k readable events with a restart each: one resource, the table back to zero. */
static void test_poll_100k(void **state) {
  (void)state;
  poll_setup(100000);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_poll_start(&g_pl.poll, UV_READABLE, on_poll), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_uv_tracked(), 1);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  poll_done();
  assert_int_equal(g_pl.n, 100000);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- prepare ---- */

static void on_prepare(uv_prepare_t *h) {
  trace_log_line(&g_log, "prepare");
  g_seen = uvotel_var_get(g_var);
  assert_int_equal(uvotel_prepare_stop(h), 0);
  uvotel_close((uv_handle_t *)h, closed);
}

static void test_prepare(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_prepare_t p;
  uvotel_scope_t sc;
  for (int implicit = 0; implicit < 2; implicit++) {
    assert_int_equal(uv_prepare_init(g_loop, &p), 0);
    assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
    assert_int_equal(implicit ? uvotel_implicit_prepare_start(&p, on_prepare)
                              : uvotel_prepare_start(&p, on_prepare),
                     0);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
    assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
    assert_ptr_equal(g_seen, implicit ? NULL : &g_marker);
  }
  assert_trace(&g_log,
               "init 2 PREPARE 1\n"
               "before 2\n"
               "prepare\n"
               "after 2\n"
               "destroy 2\n"
               "closed\n"
               "init 3 PREPARE 1\n"
               "before 3\n"
               "prepare\n"
               "after 3\n"
               "destroy 3\n"
               "closed\n");
}

/* ---- fs_event: tests/node/fs_watch.js ---- */

static char g_dir[64];

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)filename, (void)events;
  assert_int_equal(status, 0);
  if (g_runs++ > 0) return; /* one write may report twice (create, change) */
  trace_log_line(&g_log, "change");
  g_seen = uvotel_var_get(g_var);
  uvotel_close((uv_handle_t *)h, closed);
}

static void test_fs_event_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  g_runs = 0;
  snprintf(g_dir, sizeof g_dir, "/tmp/uvotel-fsev-XXXXXX");
  assert_non_null(mkdtemp(g_dir));
  uv_fs_event_t ev;
  assert_int_equal(uv_fs_event_init(g_loop, &ev), 0);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_fs_event_start(&ev, on_fs_event, g_dir, 0), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  char f[128];
  snprintf(f, sizeof f, "%s/f", g_dir);
  FILE *fp = fopen(f, "w");
  fputs("x", fp);
  fclose(fp);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  unlink(f);
  rmdir(g_dir);
  assert_ptr_equal(g_seen, &g_marker);
  assert_trace(&g_log,
               "init 2 FSEVENTWRAP 1\n"
               "before 2\n"
               "change\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
  assert_int_equal(uvotel_fs_event_stop(NULL), UV_EINVAL);
}

/* ---- fs_poll: tests/node/fs_watchfile.js ---- */

static char g_file[64];

static void on_fs_poll(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *curr) {
  (void)prev, (void)curr;
  assert_int_equal(status, 0);
  trace_log_line(&g_log, "changed");
  g_seen = uvotel_var_get(g_var);
  assert_int_equal(uvotel_fs_poll_stop(h), 0);
  uvotel_close((uv_handle_t *)h, closed);
}

static void change_file(uv_timer_t *t) {
  FILE *fp = fopen(g_file, "w");
  fputs("bbbb", fp);
  fclose(fp);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_fs_poll_sequence(void **state) {
  (void)state;
  snprintf(g_file, sizeof g_file, "/tmp/uvotel-fspoll-%d.txt", (int)getpid());
  FILE *fp = fopen(g_file, "w");
  fputs("a", fp);
  fclose(fp);
  uv_fs_poll_t fsp;
  uv_timer_t t;
  assert_int_equal(uv_fs_poll_init(g_loop, &fsp), 0);
  assert_int_equal(uv_timer_init(g_loop, &t), 0);
  trace_log_start(&g_log);
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_fs_poll_start(&fsp, on_fs_poll, g_file, 20), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_timer_start(&t, change_file, 100, 0), 0); /* raw: not traced */
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  unlink(g_file);
  assert_ptr_equal(g_seen, &g_marker);
  assert_trace(&g_log,
               "init 2 STATWATCHER 1\n"
               "before 2\n"
               "changed\n"
               "after 2\n"
               "destroy 2\n"
               "closed\n");
}

/* ---- random: tests/node/random_bytes.js ---- */

static void on_random(uv_random_t *req, int status, void *buf, size_t len) {
  (void)req, (void)buf;
  assert_int_equal(status, 0);
  trace_log_line(&g_log, "random %zu", len);
  g_seen = uvotel_var_get(g_var);
}

static void test_random_sequence(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_random_t req;
  char buf[16];
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, &g_marker, &sc), 0);
  assert_int_equal(uvotel_random(g_loop, &req, buf, sizeof buf, 0, on_random), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_ptr_equal(g_seen, &g_marker);
  /* synchronous mode and a bad flag pass through, raising nothing */
  assert_int_equal(uvotel_random(g_loop, &req, buf, sizeof buf, 0, NULL), 0);
  assert_int_equal(uvotel_random(g_loop, &req, buf, sizeof buf, 1, on_random), UV_EINVAL);
  assert_trace(&g_log,
               "init 2 RANDOMBYTESREQUEST 1\n"
               "before 2\n"
               "random 16\n"
               "after 2\n"
               "destroy 2\n");
}

/* ---- close callbacks run in the handle's own callback scope: a tick they queue runs when it
 * ends (after `after`, as Node drains its tick queue), before the next close callback ---- */

static void on_tick(void *arg) {
  trace_log_line(&g_log, "tick %s", (const char *)arg);
}

static void closed_queue_tick(uv_handle_t *h) {
  trace_log_line(&g_log, "closed %s", (const char *)h->data);
  assert_int_equal(uvotel_next_tick(on_tick, h->data), 0);
}

static void noop_prepare(uv_prepare_t *h) {
  (void)h;
}

static void test_close_scope_runs_ticks(void **state) {
  (void)state;
  uv_prepare_t a, b;
  trace_log_start(&g_log);
  assert_int_equal(uv_prepare_init(g_loop, &a), 0);
  assert_int_equal(uv_prepare_init(g_loop, &b), 0);
  a.data = "a";
  b.data = "b";
  assert_int_equal(uvotel_prepare_start(&a, noop_prepare), 0);
  assert_int_equal(uvotel_prepare_start(&b, noop_prepare), 0);
  uvotel_close((uv_handle_t *)&a, closed_queue_tick);
  uvotel_close((uv_handle_t *)&b, closed_queue_tick);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 PREPARE 1\n"
               "init 3 PREPARE 1\n"
               "before 3\n"
               "closed b\n"
               "init 4 TickObject 3\n"
               "after 3\n"
               "before 4\n"
               "tick b\n"
               "after 4\n"
               "before 2\n"
               "closed a\n"
               "init 5 TickObject 2\n"
               "after 2\n"
               "before 5\n"
               "tick a\n"
               "after 5\n"
               "destroy 4\n"
               "destroy 3\n"
               "destroy 5\n"
               "destroy 2\n");
}

/* A one-shot timer closed in its own callback with a close callback: the resource lives on
 * until the close callback has run inside it, then one destroy. */
static void t_fire(uv_timer_t *t) {
  trace_log_line(&g_log, "fire");
  uvotel_close((uv_handle_t *)t, closed);
}

static void test_oneshot_closed_in_callback(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_timer_t t;
  assert_int_equal(uv_timer_init(g_loop, &t), 0);
  assert_int_equal(uvotel_timer_start(&t, t_fire, 0, 0), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_trace(&g_log,
               "init 2 Timeout 1\n"
               "before 2\n"
               "fire\n"
               "after 2\n"
               "before 2\n"
               "closed\n"
               "after 2\n"
               "destroy 2\n");
}

int main(void) {
  counting_alloc_install();
  g_var = uvotel_var_create("watchers", NULL, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_signal_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_signal_oneshot_implicit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_poll_sequence_and_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_poll_implicit_and_adopt, setup, teardown),
      cmocka_unit_test_setup_teardown(test_poll_100k, setup, teardown),
      cmocka_unit_test_setup_teardown(test_prepare, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_event_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fs_poll_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_random_sequence, setup, teardown),
      cmocka_unit_test_setup_teardown(test_close_scope_runs_ticks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_oneshot_closed_in_callback, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
