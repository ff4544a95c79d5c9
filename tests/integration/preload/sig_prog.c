/* A plain libuv program for the signal tests (issue 10 #6). Usage: sig_prog MODE
 *   wait   do some fs work (the second request from a timer), print "ready", then wait a minute on
 * a timer: the test kills it with a signal it does not handle own    as wait, but SIGTERM is
 * handled with uv_signal_start: print, close, exit 0 query  print what sigaction and signal say the
 * SIGTERM/SIGINT/SIGHUP actions are, after some fs work (when the preload has set up) */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

static uv_loop_t *loop;
static uv_fs_t stat_req, timer_stat_req;
static uv_timer_t kick, wait_timer;
static uv_signal_t sig;
static int own;

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static void on_signal(uv_signal_t *s, int signum) {
  printf("got signal %d\n", signum);
  uv_close((uv_handle_t *)s, on_closed);
  uv_close((uv_handle_t *)&wait_timer, on_closed);
}

static void on_wait(uv_timer_t *t) {
  printf("nobody killed me\n");
  uv_close((uv_handle_t *)t, on_closed);
  if (own) uv_close((uv_handle_t *)&sig, on_closed);
}

static void on_kick(uv_timer_t *t);

/* First "/" (then the timer), then the timer's request (then wait). */
static void on_stat(uv_fs_t *req) {
  printf("stat %s\n", req->result == 0 ? "ok" : "missing");
  uv_fs_req_cleanup(req);
  if (req == &stat_req) {
    uv_timer_start(&kick, on_kick, 1, 0);
    return;
  }
  uv_close((uv_handle_t *)&kick, on_closed);
  if (own) uv_signal_start(&sig, on_signal, SIGTERM);
  uv_timer_start(&wait_timer, on_wait, 60000, 0);
  printf("ready\n");
}

static void on_kick(uv_timer_t *t) {
  uv_fs_stat(t->loop, &timer_stat_req, "/nonexistent.uvotel/before-signal", on_stat);
}

static const char *action(int signum) {
  struct sigaction sa;
  if (sigaction(signum, NULL, &sa) != 0) return "error";
  if (sa.sa_flags & SA_SIGINFO) return "siginfo";
  return sa.sa_handler == SIG_DFL ? "default" : sa.sa_handler == SIG_IGN ? "ignored" : "handled";
}

static void on_query_stat(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
  printf("sigaction: TERM %s, INT %s, HUP %s\n", action(SIGTERM), action(SIGINT), action(SIGHUP));
  void (*old)(int) = signal(SIGHUP, SIG_IGN);
  printf("signal(SIGHUP) said %s\n", old == SIG_DFL ? "default" : "other");
  old = signal(SIGHUP, SIG_DFL);
  printf("signal(SIGHUP) said %s\n", old == SIG_IGN ? "ignored" : "other");
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc != 2) return 2;
  loop = uv_default_loop();
  if (strcmp(argv[1], "query") == 0) {
    uv_fs_stat(loop, &stat_req, "/", on_query_stat);
  } else {
    own = strcmp(argv[1], "own") == 0;
    if (own) uv_signal_init(loop, &sig);
    uv_timer_init(loop, &kick);
    uv_timer_init(loop, &wait_timer);
    uv_fs_stat(loop, &stat_req, "/", on_stat);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  printf("loop close %d\n", uv_loop_close(loop));
  return 0;
}
