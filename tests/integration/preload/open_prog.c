/* A plain libuv program that exits with work still open: a TCP connection accepted and never
 * closed, and a child process still running (killed, its exit not yet seen). It calls exit(0)
 * from the connect or connection callback (whichever runs second), as a program that gives up
 * does. Prints:
 *   connected 1 accepted 1
 *   spawned 1
 *   exiting
 * With the argument "wait" it prints "ready" instead of "exiting" once the killed child's exit
 * was seen, and waits (a minute, on a timer) for the test to kill it with SIGTERM.
 * Under the preload the automatic spans of that connection ("tcp accept") and that process
 * ("spawn sleep") are still open at exit: counted and said, not exported (README "Spans still
 * open at exit"). The client's "tcp connect" span has ended and is exported. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, client, conn;
static uv_connect_t creq;
static uv_process_t child;
static uv_timer_t wait_timer;
static int connected, accepted, wait_mode;

static void on_wait(uv_timer_t *t) {
  (void)t;
  printf("nobody killed me\n");
  exit(3);
}

/* wait mode: the child's exit seen, then wait to be killed */
static void on_child_exit(uv_process_t *p, int64_t status, int signal) {
  (void)p, (void)status, (void)signal;
  printf("ready\n");
  fflush(stdout);
  uv_timer_init(loop, &wait_timer);
  uv_timer_start(&wait_timer, on_wait, 60000, 0);
}

static void maybe_exit(void) {
  if (!connected || !accepted) return;
  printf("connected %d accepted %d\n", connected, accepted);
  char *args[] = {"sleep", "30", NULL};
  uv_process_options_t o = {0};
  o.file = "sleep";
  o.args = args;
  if (wait_mode) o.exit_cb = on_child_exit;
  int r = uv_spawn(loop, &child, &o);
  printf("spawned %d\n", r == 0);
  if (r == 0) uv_process_kill(&child, SIGKILL); /* gone at once; its exit callback never runs */
  if (wait_mode) return;                        /* on_child_exit goes on */
  printf("exiting\n");
  fflush(stdout);
  exit(0);
}

static void on_connect(uv_connect_t *req, int status) {
  (void)req;
  connected = status == 0;
  maybe_exit();
}

static void on_connection(uv_stream_t *s, int status) {
  if (status != 0) return;
  uv_tcp_init(loop, &conn);
  accepted = uv_accept(s, (uv_stream_t *)&conn) == 0;
  maybe_exit();
}

int main(int argc, char **argv) {
  wait_mode = argc > 1 && strcmp(argv[1], "wait") == 0;
  loop = uv_default_loop();
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_init(loop, &server);
  if (uv_tcp_bind(&server, (const struct sockaddr *)&a, 0) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&server, (struct sockaddr *)&a, &len);
  if (uv_listen((uv_stream_t *)&server, 8, on_connection) != 0) return 1;
  uv_tcp_init(loop, &client);
  if (uv_tcp_connect(&creq, &client, (const struct sockaddr *)&a, on_connect) != 0) return 1;
  uv_run(loop, UV_RUN_DEFAULT);
  return 2; /* not reached: exit(0) above */
}
