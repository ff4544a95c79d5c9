/* A plain libuv program (no uvotel header, not linked with uvotel) for test_preload_io: a unix
 * socket server whose connection, on its first data, spawns /bin/true and sends a UDP datagram
 * to a UDP echo server; plus a poll on a socketpair, SIGUSR1 to itself, a prepare handle and
 * uv_random. It prints what happened, in a fixed order, after the loop ends. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

static uv_loop_t *loop;
static char path[108];
static uv_pipe_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t wreq;
static uv_udp_t echo, udp;
static uv_udp_send_t s1, s2;
static struct sockaddr_in echo_addr;
static uv_process_t proc;
static uv_poll_t poll_h;
static int fds[2];
static uv_signal_t sig;
static uv_prepare_t prep;
static uv_random_t rnd;
static char rnd_buf[8];
static int pipe_ok, udp_ok, poll_ok, signal_ok, prepare_ok, random_ok;
static long exit_status = -1;
static char mem[4096];

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)h, (void)n;
  *b = uv_buf_init(mem, sizeof mem);
}

static void maybe_done(void) {
  if (!udp_ok || exit_status < 0) return;
  uv_close((uv_handle_t *)&conn, NULL);
  uv_close((uv_handle_t *)&server, NULL);
  uv_close((uv_handle_t *)&udp, NULL);
  uv_close((uv_handle_t *)&echo, NULL);
}

static void on_exit_cb(uv_process_t *p, int64_t status, int s) {
  (void)s;
  exit_status = (long)status;
  uv_close((uv_handle_t *)p, NULL);
  maybe_done();
}

static void echo_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                      unsigned f) {
  (void)f;
  if (n <= 0) return;
  uv_buf_t r = uv_buf_init(b->base, (unsigned)n);
  uv_udp_send(&s2, h, &r, 1, a, NULL);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *b, const struct sockaddr *a,
                     unsigned f) {
  (void)h, (void)a, (void)f;
  if (n <= 0) return;
  udp_ok = n == 4 && memcmp(b->base, "ping", 4) == 0;
  maybe_done();
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)s, (void)b;
  if (n <= 0) return;
  pipe_ok = 1;
  char *args[] = {"true", NULL};
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = "/bin/true";
  o.args = args;
  o.exit_cb = on_exit_cb;
  if (uv_spawn(loop, &proc, &o) != 0) exit_status = 99;
  uv_buf_t p = uv_buf_init("ping", 4);
  uv_udp_send(&s1, &udp, &p, 1, (const struct sockaddr *)&echo_addr, NULL);
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status != 0) return;
  uv_pipe_init(loop, &conn, 0);
  if (uv_accept(srv, (uv_stream_t *)&conn) == 0)
    uv_read_start((uv_stream_t *)&conn, alloc_cb, conn_read);
}

static void on_written(uv_write_t *w, int status) {
  (void)w, (void)status;
  uv_close((uv_handle_t *)&client, NULL);
}

static void on_connected(uv_connect_t *c, int status) {
  if (status != 0) return;
  uv_buf_t b = uv_buf_init("hello", 5);
  uv_write(&wreq, c->handle, &b, 1, on_written);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  char c;
  poll_ok = status == 0 && (events & UV_READABLE) && read(fds[0], &c, 1) == 1;
  uv_poll_stop(h);
  uv_close((uv_handle_t *)h, NULL);
}

static void on_signal(uv_signal_t *h, int s) {
  signal_ok = s == SIGUSR1;
  uv_close((uv_handle_t *)h, NULL);
}

static void on_prepare(uv_prepare_t *h) {
  prepare_ok++;
  uv_prepare_stop(h);
  uv_close((uv_handle_t *)h, NULL);
}

static void on_random(uv_random_t *r, int status, void *buf, size_t len) {
  (void)r, (void)buf;
  random_ok = status == 0 && len == sizeof rnd_buf;
}

int main(void) {
  loop = uv_default_loop();
  snprintf(path, sizeof path, "/tmp/uvotel-plainio-%d.sock", (int)getpid());
  unlink(path);
  uv_pipe_init(loop, &server, 0);
  if (uv_pipe_bind(&server, path) != 0 ||
      uv_listen((uv_stream_t *)&server, 8, on_connection) != 0) {
    return 2;
  }
  uv_udp_init(loop, &echo);
  uv_ip4_addr("127.0.0.1", 0, &echo_addr);
  uv_udp_bind(&echo, (const struct sockaddr *)&echo_addr, 0);
  int len = sizeof echo_addr;
  uv_udp_getsockname(&echo, (struct sockaddr *)&echo_addr, &len);
  uv_udp_recv_start(&echo, alloc_cb, echo_recv);
  uv_udp_init(loop, &udp);
  struct sockaddr_in any;
  uv_ip4_addr("127.0.0.1", 0, &any);
  uv_udp_bind(&udp, (const struct sockaddr *)&any, 0);
  uv_udp_recv_start(&udp, alloc_cb, udp_recv);
  uv_pipe_init(loop, &client, 0);
  uv_pipe_connect(&connect_req, &client, path, on_connected);

  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 2;
  uv_poll_init_socket(loop, &poll_h, fds[0]);
  uv_poll_start(&poll_h, UV_READABLE, on_poll);
  if (write(fds[1], "x", 1) != 1) return 2;
  uv_signal_init(loop, &sig);
  uv_signal_start(&sig, on_signal, SIGUSR1);
  uv_kill(getpid(), SIGUSR1);
  uv_prepare_init(loop, &prep);
  uv_prepare_start(&prep, on_prepare);
  uv_random(loop, &rnd, rnd_buf, sizeof rnd_buf, 0, on_random);

  uv_run(loop, UV_RUN_DEFAULT);
  unlink(path);
  close(fds[0]);
  close(fds[1]);
  printf("pipe %d\nudp %d\nspawn exit %ld\npoll %d\nsignal %d\nprepare %d\nrandom %d\n", pipe_ok,
         udp_ok, exit_status, poll_ok, signal_ok, prepare_ok, random_ok);
  printf("loop close %d\n", uv_loop_close(loop));
  return 0;
}
