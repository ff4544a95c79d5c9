/* bench_io: libuv I/O raw vs through the uvotel wrappers, in one process.
 *
 *   fs      a chain of 50,000 uv_fs_stat on a small file (each callback starts the next)
 *   dns     a chain of 5,000 uv_getaddrinfo("localhost")
 *   tcp     loopback echo, 50 connections x 200 round trips of 64 bytes
 *   work    100,000 uv_queue_work items, 1,024 in flight: empty, and a fixed ~1 us of work
 *           each (a spin loop calibrated at start; the figure the >= 0.90 target is set for)
 *   udp     loopback ping-pong, 4 socket pairs x 5,000 round trips of 64 bytes
 *   pipe    unix socket echo, 50 connections x 200 round trips of 64 bytes
 *   poll    100,000 readable events on 8 socketpairs (uv_poll: read a byte, write the next)
 *
 * Phase 1 alternates raw and wrapped runs with nothing enabled (the wrappers pass through);
 * phase 2 enables one hook (init/before/after/destroy, empty bodies) and enters one context
 * variable around the runs, then alternates raw and wrapped again. Each round runs raw and
 * wrapped back to back; the printed ratio is the median over rounds of raw time / wrapped time
 * (1.00: as fast as raw; higher is better), the times are medians. The last two columns are
 * the same ratio for the CPU time of the loop thread (RUSAGE_THREAD), which load from other
 * processes disturbs less than wall time.
 *
 * Phase 3 (with the hook and variable of phase 2): the side-table lookup at 10, 1,000 and
 * 100,000 live handles. That many stopped signal handles are tracked (started and stopped
 * once through the wrappers); uvotel_signal_stop on a stopped one is a table lookup and
 * libuv's no-op stop, uv_signal_stop the same no-op without the lookup. Both run over the
 * handles in one random order, 1M calls per round, thread CPU time, with an lfence after each
 * call: a program does other work between two lookups, so their cache misses do not overlap
 * as they would in a bare loop (which would show throughput, not latency). The row gives both and
 * their difference (the lookup), min / median / max over the rounds of the paired difference,
 * and the growth from 10 to 100,000 handles (target <= +40 ns). Each row's memory: how much
 * the process's resident set grew while its handles were made and tracked (the handles and
 * the shuffled order are part of it, and printed beside), and the table's capacity in cells.
 * Usage: bench_io [rounds [filter]] (default 9 rounds, all; filter: words of the row names,
 * '|' between, e.g. "queue_work|side-table"); -DWORK_WINDOW=n changes how
 * many work items are in flight (1024). Build with
 * -DCMAKE_BUILD_TYPE=Release. */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv.h"

#define FS_N 50000
#define DNS_N 5000
#define TCP_CONNS 50
#define TCP_TRIPS 200
#define TCP_MSG 64
#define WORK_N 100000
#define UDP_PAIRS 4
#define UDP_TRIPS 5000
#define POLL_PAIRS 8
#define POLL_N 100000
#ifndef WORK_WINDOW
#define WORK_WINDOW 1024
#endif

typedef struct ops_s {
  int (*fs_stat)(uv_loop_t *, uv_fs_t *, const char *, uv_fs_cb);
  int (*getaddrinfo)(uv_loop_t *, uv_getaddrinfo_t *, uv_getaddrinfo_cb, const char *, const char *,
                     const struct addrinfo *);
  int (*listen)(uv_stream_t *, int, uv_connection_cb);
  int (*accept)(uv_stream_t *, uv_stream_t *);
  int (*tcp_connect)(uv_connect_t *, uv_tcp_t *, const struct sockaddr *, uv_connect_cb);
  int (*read_start)(uv_stream_t *, uv_alloc_cb, uv_read_cb);
  int (*write)(uv_write_t *, uv_stream_t *, const uv_buf_t[], unsigned int, uv_write_cb);
  void (*close)(uv_handle_t *, uv_close_cb);
  int (*queue_work)(uv_loop_t *, uv_work_t *, uv_work_cb, uv_after_work_cb);
  int (*udp_send)(uv_udp_send_t *, uv_udp_t *, const uv_buf_t[], unsigned int,
                  const struct sockaddr *, uv_udp_send_cb);
  int (*udp_recv_start)(uv_udp_t *, uv_alloc_cb, uv_udp_recv_cb);
  void (*pipe_connect)(uv_connect_t *, uv_pipe_t *, const char *, uv_connect_cb);
  int (*poll_start)(uv_poll_t *, int, uv_poll_cb);
} ops_t;

static const ops_t RAW = {uv_fs_stat,     uv_getaddrinfo, uv_listen,         uv_accept,
                          uv_tcp_connect, uv_read_start,  uv_write,          uv_close,
                          uv_queue_work,  uv_udp_send,    uv_udp_recv_start, uv_pipe_connect,
                          uv_poll_start};
static const ops_t WRAPPED = {uvotel_fs_stat,   uvotel_getaddrinfo,    uvotel_listen,
                              uvotel_accept,    uvotel_tcp_connect,    uvotel_read_start,
                              uvotel_write,     uvotel_close,          uvotel_queue_work,
                              uvotel_udp_send,  uvotel_udp_recv_start, uvotel_pipe_connect,
                              uvotel_poll_start};

static const ops_t *op;
static uv_loop_t *loop;
static char g_file[4096];
static long g_done;

static void die(const char *what, int err) {
  fprintf(stderr, "%s: %s\n", what, uv_strerror(err));
  exit(1);
}

/* ---- fs ---- */

static void fs_cb(uv_fs_t *req) {
  if (req->result != 0) die("stat", (int)req->result);
  uv_fs_req_cleanup(req);
  if (++g_done < FS_N) {
    int err = op->fs_stat(loop, req, g_file, fs_cb);
    if (err) die("stat", err);
  }
}

static void run_fs(void) {
  static uv_fs_t req;
  int err = op->fs_stat(loop, &req, g_file, fs_cb);
  if (err) die("stat", err);
}

/* ---- dns ---- */

static struct addrinfo g_hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};

static void dns_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  if (status != 0) die("getaddrinfo", status);
  uv_freeaddrinfo(res);
  if (++g_done < DNS_N) {
    int err = op->getaddrinfo(loop, req, dns_cb, "localhost", NULL, &g_hints);
    if (err) die("getaddrinfo", err);
  }
}

static void run_dns(void) {
  static uv_getaddrinfo_t req;
  int err = op->getaddrinfo(loop, &req, dns_cb, "localhost", NULL, &g_hints);
  if (err) die("getaddrinfo", err);
}

/* ---- tcp echo ---- */

typedef struct peer_s {
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe; /* the pipe echo */
  };
  uv_write_t w;
  uv_connect_t c;
  char out[TCP_MSG];
  char in[TCP_MSG * 4];
  size_t got;
  int trips;
  int client;
} peer_t;

static uv_tcp_t g_server;
static uv_pipe_t g_pserver;
static uv_handle_t *g_listener; /* g_server or g_pserver */
static peer_t g_peers[2 * TCP_CONNS];
static int g_npeers, g_closed;

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  peer_t *p = (peer_t *)h;
  *buf = uv_buf_init(p->in, sizeof p->in);
}

static void peer_closed(uv_handle_t *h) {
  (void)h;
  if (++g_closed == 2 * TCP_CONNS) op->close(g_listener, NULL);
}

static void send_msg(peer_t *p) {
  uv_buf_t b = uv_buf_init(p->out, TCP_MSG);
  int err = op->write(&p->w, (uv_stream_t *)&p->tcp, &b, 1, NULL);
  if (err) die("write", err);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  peer_t *p = (peer_t *)s;
  if (n < 0) {
    op->close((uv_handle_t *)s, peer_closed);
    return;
  }
  p->got += (size_t)n;
  while (p->got >= TCP_MSG) {
    p->got -= TCP_MSG;
    if (!p->client) {
      send_msg(p); /* echo */
      continue;
    }
    if (++p->trips == TCP_TRIPS) {
      g_done++;
      op->close((uv_handle_t *)s, peer_closed); /* the server side sees EOF and closes */
      return;
    }
    send_msg(p);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status) die("connection", status);
  peer_t *p = &g_peers[g_npeers++];
  if (server->type == UV_NAMED_PIPE) {
    uv_pipe_init(loop, &p->pipe, 0);
  } else {
    uv_tcp_init(loop, &p->tcp);
  }
  int err = op->accept(server, (uv_stream_t *)&p->tcp);
  if (err) die("accept", err);
  op->read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
}

static void on_connect(uv_connect_t *req, int status) {
  if (status) die("connect", status);
  peer_t *p = (peer_t *)req->handle;
  op->read_start(req->handle, on_alloc, on_read);
  send_msg(p);
}

static void run_tcp(void) {
  memset(g_peers, 0, sizeof g_peers);
  g_npeers = TCP_CONNS;
  g_closed = 0;
  g_listener = (uv_handle_t *)&g_server;
  struct sockaddr_in addr, name;
  int len = sizeof name;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &g_server);
  uv_tcp_bind(&g_server, (struct sockaddr *)&addr, 0);
  int err = op->listen((uv_stream_t *)&g_server, 128, on_connection);
  if (err) die("listen", err);
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&name, &len);
  for (int i = 0; i < TCP_CONNS; i++) {
    peer_t *p = &g_peers[i];
    p->client = 1;
    memset(p->out, 'a' + i % 26, TCP_MSG);
    uv_tcp_init(loop, &p->tcp);
    err = op->tcp_connect(&p->c, &p->tcp, (struct sockaddr *)&name, on_connect);
    if (err) die("connect", err);
  }
}

/* ---- pipe echo: the tcp echo's peers over a unix socket ---- */

static char g_sock[108];

static void run_pipe(void) {
  memset(g_peers, 0, sizeof g_peers);
  g_npeers = TCP_CONNS;
  g_closed = 0;
  g_listener = (uv_handle_t *)&g_pserver;
  unlink(g_sock);
  uv_pipe_init(loop, &g_pserver, 0);
  int err = uv_pipe_bind(&g_pserver, g_sock);
  if (err) die("pipe bind", err);
  err = op->listen((uv_stream_t *)&g_pserver, 128, on_connection);
  if (err) die("listen", err);
  for (int i = 0; i < TCP_CONNS; i++) {
    peer_t *p = &g_peers[i];
    p->client = 1;
    memset(p->out, 'a' + i % 26, TCP_MSG);
    uv_pipe_init(loop, &p->pipe, 0);
    op->pipe_connect(&p->c, &p->pipe, g_sock, on_connect);
  }
}

/* ---- udp ping-pong ---- */

typedef struct udp_end_s {
  uv_udp_t u;
  uv_udp_send_t s;
  struct sockaddr_in peer;
  char buf[TCP_MSG];
  char in[TCP_MSG * 2];
  int trips, client;
} udp_end_t;

static udp_end_t g_udp[2 * UDP_PAIRS];

static void udp_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)size;
  udp_end_t *e = (udp_end_t *)h;
  *buf = uv_buf_init(e->in, sizeof e->in);
}

static void udp_send_msg(udp_end_t *e) {
  uv_buf_t b = uv_buf_init(e->buf, TCP_MSG);
  int err = op->udp_send(&e->s, &e->u, &b, 1, (const struct sockaddr *)&e->peer, NULL);
  if (err) die("udp_send", err);
}

static void udp_recv(uv_udp_t *h, ssize_t n, const uv_buf_t *buf, const struct sockaddr *addr,
                     unsigned flags) {
  (void)buf, (void)addr, (void)flags;
  if (n <= 0) return;
  udp_end_t *e = (udp_end_t *)h;
  if (e->client && ++e->trips == UDP_TRIPS) {
    g_done++;
    op->close((uv_handle_t *)&e->u, NULL);
    op->close((uv_handle_t *)&g_udp[(e - g_udp) + UDP_PAIRS].u, NULL);
    return;
  }
  udp_send_msg(e); /* the next ping, or the pong */
}

static void udp_bind_any(udp_end_t *e) {
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_udp_init(loop, &e->u);
  int err = uv_udp_bind(&e->u, (const struct sockaddr *)&a, 0);
  if (err) die("udp bind", err);
  err = op->udp_recv_start(&e->u, udp_alloc, udp_recv);
  if (err) die("udp_recv_start", err);
}

static void run_udp(void) {
  memset(g_udp, 0, sizeof g_udp);
  for (int i = 0; i < 2 * UDP_PAIRS; i++) udp_bind_any(&g_udp[i]);
  for (int i = 0; i < UDP_PAIRS; i++) {
    udp_end_t *c = &g_udp[i], *s = &g_udp[i + UDP_PAIRS];
    int len = sizeof c->peer;
    uv_udp_getsockname(&s->u, (struct sockaddr *)&c->peer, &len);
    len = sizeof s->peer;
    uv_udp_getsockname(&c->u, (struct sockaddr *)&s->peer, &len);
    c->client = 1;
    udp_send_msg(c);
  }
}

/* ---- poll on socketpairs ---- */

typedef struct poll_end_s {
  uv_poll_t p;
  int fds[2];
} poll_end_t;

static poll_end_t g_polls[POLL_PAIRS];
static long g_poll_left;

static void on_poll(uv_poll_t *h, int status, int events) {
  if (status) die("poll", status);
  (void)events;
  poll_end_t *e = (poll_end_t *)h;
  char c;
  if (read(e->fds[0], &c, 1) != 1) die("poll read", UV_EIO);
  g_done++;
  if (--g_poll_left >= POLL_PAIRS) {
    if (write(e->fds[1], "x", 1) != 1) die("poll write", UV_EIO);
    return;
  }
  uv_poll_stop(h);
  op->close((uv_handle_t *)h, NULL);
  close(e->fds[0]);
  close(e->fds[1]);
}

static void run_poll(void) {
  g_poll_left = POLL_N;
  for (int i = 0; i < POLL_PAIRS; i++) {
    poll_end_t *e = &g_polls[i];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, e->fds) != 0) die("socketpair", UV_EIO);
    uv_poll_init_socket(loop, &e->p, e->fds[0]);
    int err = op->poll_start(&e->p, UV_READABLE, on_poll);
    if (err) die("poll_start", err);
    if (write(e->fds[1], "x", 1) != 1) die("poll write", UV_EIO);
  }
}

/* ---- work ---- */

static uv_work_t g_work[WORK_WINDOW];
static long g_submitted;
static volatile long g_sink;

static long g_work_spin; /* iterations of spin() in each work item: 0, or about 1 us */

/* A fixed amount of work (not a clock wait, so preemption does not shorten it). */
static void spin(long n) {
  for (long i = 0; i < n; i++) g_sink++;
}

static void work_cb(uv_work_t *req) {
  (void)req;
  spin(g_work_spin);
  g_sink++;
}

static void after_work(uv_work_t *req, int status) {
  if (status) die("work", status);
  g_done++;
  if (g_submitted < WORK_N) {
    g_submitted++;
    int err = op->queue_work(loop, req, work_cb, after_work);
    if (err) die("queue_work", err);
  }
}

static void run_work(void) {
  g_work_spin = 0;
  g_submitted = 0;
  for (int i = 0; i < WORK_WINDOW; i++) {
    g_submitted++;
    int err = op->queue_work(loop, &g_work[i], work_cb, after_work);
    if (err) die("queue_work", err);
  }
}

static long g_spin_1us; /* calibrated in main */

static void run_work_1us(void) {
  g_submitted = 0;
  g_work_spin = g_spin_1us;
  for (int i = 0; i < WORK_WINDOW; i++) {
    g_submitted++;
    int err = op->queue_work(loop, &g_work[i], work_cb, after_work);
    if (err) die("queue_work", err);
  }
}

/* Iterations of spin() per microsecond of this thread's CPU time (so that being descheduled
 * by other tenants does not shrink the item): the fastest of a few timed runs. */
static double thread_cpu_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static long calibrate_spin(void) {
  const long n = 2000000;
  double best = 1e12;
  for (int r = 0; r < 5; r++) {
    double t0 = thread_cpu_us();
    spin(n);
    double us = thread_cpu_us() - t0;
    if (us > 0 && us < best) best = us;
  }
  long per_us = (long)((double)n / best);
  return per_us > 0 ? per_us : 1;
}

/* ---- driver ---- */

#define MAX_ROUNDS 64

typedef struct bench_s {
  const char *name;
  void (*start)(void);
  long expect;
  double t[2][2][MAX_ROUNDS];    /* [phase][raw=0/wrapped=1][round], wall seconds */
  double cpu[2][2][MAX_ROUNDS];  /* the same, CPU seconds of the loop thread */
  double pcpu[2][2][MAX_ROUNDS]; /* CPU seconds of the whole process (pool threads too) */
  double csw[2][2][MAX_ROUNDS];  /* context switches of the process, voluntary + not */
} bench_t;

static bench_t g_benches[] = {
    {.name = "fs_stat chain x50000", .start = run_fs, .expect = FS_N},
    {.name = "getaddrinfo localhost x5000", .start = run_dns, .expect = DNS_N},
    {.name = "tcp echo 50 conns x 200 x 64B", .start = run_tcp, .expect = TCP_CONNS},
    {.name = "queue_work x100000", .start = run_work, .expect = WORK_N},
    {.name = "queue_work 1us x100000", .start = run_work_1us, .expect = WORK_N},
    {.name = "udp ping-pong 4 x 5000 x 64B", .start = run_udp, .expect = UDP_PAIRS},
    {.name = "pipe echo 50 conns x 200 x 64B", .start = run_pipe, .expect = TCP_CONNS},
    {.name = "poll socketpair x100000", .start = run_poll, .expect = POLL_N},
};

static double thread_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_THREAD, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
}

static void process_usage(double *cpu, double *csw) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
         ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
  *csw = (double)ru.ru_nvcsw + (double)ru.ru_nivcsw;
}

static double run_once(bench_t *b, const ops_t *ops, double *cpu, double *pcpu, double *csw) {
  uv_loop_t l;
  uv_loop_init(&l);
  loop = &l;
  op = ops;
  g_done = 0;
  double p0, s0, p1, s1;
  process_usage(&p0, &s0);
  double c0 = thread_cpu();
  uint64_t t0 = uv_hrtime();
  b->start();
  uv_run(&l, UV_RUN_DEFAULT);
  uint64_t t1 = uv_hrtime();
  *cpu = thread_cpu() - c0;
  process_usage(&p1, &s1);
  *pcpu = p1 - p0;
  *csw = s1 - s0;
  if (g_done != b->expect) {
    fprintf(stderr, "%s: %ld of %ld done\n", b->name, g_done, b->expect);
    exit(1);
  }
  uvotel_loop_close(&l);
  if (uv_loop_close(&l) != 0) {
    fprintf(stderr, "%s: loop not closed\n", b->name);
    exit(1);
  }
  return (double)(t1 - t0) / 1e9;
}

static const char *g_only; /* run only benchmarks whose name contains one of these ('|' between) */

/* 1 when name contains one of the '|'-separated words of g_only (or there is no filter). */
static int selected(const char *name) {
  if (g_only == NULL) return 1;
  for (const char *w = g_only; *w != '\0';) {
    const char *end = strchr(w, '|');
    size_t len = end != NULL ? (size_t)(end - w) : strlen(w);
    for (const char *p = name; len > 0 && *p != '\0'; p++) {
      if (strncmp(p, w, len) == 0) return 1;
    }
    if (end == NULL) break;
    w = end + 1;
  }
  return 0;
}

static void phase(int ph, int rounds) {
  for (size_t i = 0; i < sizeof g_benches / sizeof *g_benches; i++) {
    bench_t *b = &g_benches[i];
    if (!selected(b->name)) continue;
    for (int r = 0; r < rounds; r++) {
      /* a raw and a wrapped run back to back, alternating which goes first, so that load from
       * elsewhere on the machine hits both alike */
      for (int k = 0; k < 2; k++) {
        int v = (r + k) % 2;
        b->t[ph][v][r] = run_once(b, v ? &WRAPPED : &RAW, &b->cpu[ph][v][r], &b->pcpu[ph][v][r],
                                  &b->csw[ph][v][r]);
      }
    }
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  double tmp[MAX_ROUNDS];
  memcpy(tmp, v, (size_t)n * sizeof *v);
  qsort(tmp, (size_t)n, sizeof *tmp, cmp_double);
  return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

/* The min / max over rounds of the paired ratio raw/wrapped. */
static void ratio_range(double t[2][MAX_ROUNDS], int n, double *lo, double *hi) {
  *lo = *hi = t[0][0] / t[1][0];
  for (int i = 1; i < n; i++) {
    double r = t[0][i] / t[1][i];
    if (r < *lo) *lo = r;
    if (r > *hi) *hi = r;
  }
}

/* The median over rounds of the paired ratio raw/wrapped. */
static double median_ratio(double t[2][MAX_ROUNDS], int n) {
  double r[MAX_ROUNDS];
  for (int i = 0; i < n; i++) r[i] = t[0][i] / t[1][i];
  return median(r, n);
}

/* ---- side-table lookup at n live handles ---- */

#define LOOKUP_OPS 1000000

static void on_signal(uv_signal_t *h, int signum) {
  (void)h, (void)signum;
}

static double thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

typedef struct lookup_row_s {
  int n;
  double raw[MAX_ROUNDS], wrapped[MAX_ROUNDS], added[MAX_ROUNDS]; /* ns per call */
  double rss_mb, own_mb; /* resident growth while the n states were made; the bench's own part */
  size_t cap;            /* uvotel_uv_table_capacity() then */
} lookup_row_t;

/* Resident memory of the process, MB (/proc/self/statm), or -1. */
static double rss_mb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return -1;
  long size, res;
  int ok = fscanf(f, "%ld %ld", &size, &res) == 2;
  fclose(f);
  return ok ? (double)res * (double)sysconf(_SC_PAGESIZE) / 1e6 : -1;
}

static double lookup_pass(uv_signal_t *hs, const uint32_t *order, int n, int wrapped) {
  double t0 = thread_cpu_ns();
  if (wrapped) {
    for (long k = 0, i = 0; k < LOOKUP_OPS; k++, i = i + 1 == n ? 0 : i + 1) {
      (void)uvotel_signal_stop(&hs[order[i]]);
      __builtin_ia32_lfence();
    }
  } else {
    for (long k = 0, i = 0; k < LOOKUP_OPS; k++, i = i + 1 == n ? 0 : i + 1) {
      (void)uv_signal_stop(&hs[order[i]]);
      __builtin_ia32_lfence();
    }
  }
  return (thread_cpu_ns() - t0) / LOOKUP_OPS;
}

static void run_lookup(lookup_row_t *row, int rounds) {
  int n = row->n;
  uv_loop_t l;
  uv_loop_init(&l);
  double rss0 = rss_mb();
  uv_signal_t *hs = calloc((size_t)n, sizeof *hs);
  uint32_t *order = malloc((size_t)n * sizeof *order);
  if (hs == NULL || order == NULL) die("lookup", UV_ENOMEM);
  for (int i = 0; i < n; i++) {
    uv_signal_init(&l, &hs[i]);
    int err = uvotel_signal_start(&hs[i], on_signal, SIGUSR2);
    if (err) die("signal_start", err);
    uvotel_signal_stop(&hs[i]);
    order[i] = (uint32_t)i;
  }
  row->rss_mb = rss_mb() - rss0;
  row->own_mb = (double)n * (double)(sizeof *hs + sizeof *order) / 1e6;
  row->cap = uvotel_uv_table_capacity();
  uint64_t x = 0x2545F4914F6CDD1Dull; /* a fixed shuffle (xorshift), the same every run */
  for (int i = n - 1; i > 0; i--) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int j = (int)(x % (uint64_t)(i + 1));
    uint32_t tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < 2; k++) {
      int v = (r + k) % 2;
      double t = lookup_pass(hs, order, n, v);
      if (v) {
        row->wrapped[r] = t;
      } else {
        row->raw[r] = t;
      }
    }
    row->added[r] = row->wrapped[r] - row->raw[r];
  }
  for (int i = 0; i < n; i++) uvotel_close((uv_handle_t *)&hs[i], NULL);
  uv_run(&l, UV_RUN_DEFAULT);
  uvotel_loop_close(&l);
  if (uv_loop_close(&l) != 0) die("lookup loop close", UV_EBUSY);
  free(hs);
  free(order);
}

static double vmin(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] < m ? v[i] : m;
  return m;
}

static double vmax(const double *v, int n) {
  double m = v[0];
  for (int i = 1; i < n; i++) m = v[i] > m ? v[i] : m;
  return m;
}

static void noop_id(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
}
static void noop_init(uvotel_async_id_t id, const char *t, uvotel_async_id_t tr, void *r,
                      void *arg) {
  (void)id, (void)t, (void)tr, (void)r, (void)arg;
}

int main(int argc, char **argv) {
  int rounds = argc > 1 ? atoi(argv[1]) : 9;
  if (rounds < 1) rounds = 1;
  if (rounds > MAX_ROUNDS) rounds = MAX_ROUNDS;
  g_only = argc > 2 ? argv[2] : NULL;
  snprintf(g_file, sizeof g_file, "/tmp/bench_io.%d", (int)getpid());
  snprintf(g_sock, sizeof g_sock, "/tmp/bench_io.%d.sock", (int)getpid());
  FILE *f = fopen(g_file, "w");
  if (f == NULL) return 1;
  fputs("small file\n", f);
  fclose(f);

  g_spin_1us = calibrate_spin();
  phase(0, rounds);
  if (uvotel_tracking()) {
    fprintf(stderr, "tracking was on during phase 1\n");
    return 1;
  }
  uvotel_hook_callbacks_t cbs = {noop_init, noop_id, noop_id, noop_id, NULL};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, NULL);
  uvotel_var_t *v = uvotel_var_create("bench", NULL, NULL);
  uvotel_scope_t scope;
  if (h == NULL || v == NULL || uvotel_hook_enable(h) != 0 ||
      uvotel_var_enter(v, (void *)1, &scope) != 0) {
    return 1;
  }
  phase(1, rounds);
  static lookup_row_t lookups[] = {{.n = 10}, {.n = 1000}, {.n = 100000}};
  int do_lookup = selected("side-table lookup");
  for (size_t i = 0; do_lookup && i < sizeof lookups / sizeof *lookups; i++) {
    run_lookup(&lookups[i], rounds);
  }
  uvotel_scope_exit(&scope);
  uvotel_hook_free(h);
  uvotel_var_free(v);
  remove(g_file);
  unlink(g_sock);

  printf(
      "bench_io: %d rounds; times are medians, ratio = median of paired raw/wrapped times "
      "(throughput relative to raw; target >= 0.95 with hook + variable)\n",
      rounds);
  printf("queue_work 1us: %ld spin iterations per item (calibrated: about 1 us)\n", g_spin_1us);
  printf("%-30s | %-31s | %-31s | %s\n", "", "nothing enabled (wall)", "hook + variable (wall)",
         "loop-thread CPU ratio");
  printf("%-30s | %9s %9s %7s | %9s %9s %7s | %7s %7s\n", "", "raw s", "wrapped s", "ratio",
         "raw s", "wrapped s", "ratio", "off", "hook+var");
  for (size_t i = 0; i < sizeof g_benches / sizeof *g_benches; i++) {
    bench_t *b = &g_benches[i];
    if (!selected(b->name)) continue;
    printf("%-30s | %9.4f %9.4f %6.3fx | %9.4f %9.4f %6.3fx | %6.3fx %6.3fx\n", b->name,
           median(b->t[0][0], rounds), median(b->t[0][1], rounds), median_ratio(b->t[0], rounds),
           median(b->t[1][0], rounds), median(b->t[1][1], rounds), median_ratio(b->t[1], rounds),
           median_ratio(b->cpu[0], rounds), median_ratio(b->cpu[1], rounds));
  }
  /* The spread of the same paired ratios (wall time). */
  printf("\n%-30s | %-25s | %-25s\n", "ratio min / median / max", "nothing enabled",
         "hook + variable");
  for (size_t i = 0; i < sizeof g_benches / sizeof *g_benches; i++) {
    bench_t *b = &g_benches[i];
    if (!selected(b->name)) continue;
    double lo0, hi0, lo1, hi1;
    ratio_range(b->t[0], rounds, &lo0, &hi0);
    ratio_range(b->t[1], rounds, &lo1, &hi1);
    printf("%-30s | %6.3f / %6.3f / %6.3f  | %6.3f / %6.3f / %6.3f\n", b->name, lo0,
           median_ratio(b->t[0], rounds), hi0, lo1, median_ratio(b->t[1], rounds), hi1);
  }
  /* CPU of the whole process (libuv's pool threads too), and context switches: with 2 cores
   * shared with others, what the wrappers add to the pool side shows here and not in the
   * loop-thread column. */
  printf("\n%-30s | %-15s | %s\n", "process CPU, context switches", "CPU ratio",
         "context switches per run, medians (hook + variable)");
  printf("%-30s | %7s %7s | %9s %9s\n", "", "off", "hook+var", "raw", "wrapped");
  for (size_t i = 0; i < sizeof g_benches / sizeof *g_benches; i++) {
    bench_t *b = &g_benches[i];
    if (!selected(b->name)) continue;
    printf("%-30s | %6.3fx %6.3fx | %9.0f %9.0f\n", b->name, median_ratio(b->pcpu[0], rounds),
           median_ratio(b->pcpu[1], rounds), median(b->csw[1][0], rounds),
           median(b->csw[1][1], rounds));
  }
  if (!do_lookup) return 0;
  printf(
      "\nside-table lookup (hook + variable): thread CPU ns per call, %d calls x %d rounds, "
      "handles in random order\n",
      LOOKUP_OPS, rounds);
  printf("%-30s | %9s %9s | %s\n", "", "raw stop", "wrapped",
         "lookup = wrapped - raw, min / median / max");
  for (size_t i = 0; i < sizeof lookups / sizeof *lookups; i++) {
    lookup_row_t *r = &lookups[i];
    char name[64];
    snprintf(name, sizeof name, "lookup at %d live handles", r->n);
    printf("%-30s | %9.1f %9.1f | %6.1f / %6.1f / %6.1f ns\n", name, median(r->raw, rounds),
           median(r->wrapped, rounds), vmin(r->added, rounds), median(r->added, rounds),
           vmax(r->added, rounds));
  }
  for (size_t i = 0; i < sizeof lookups / sizeof *lookups; i++) {
    lookup_row_t *r = &lookups[i];
    printf(
        "memory at %d live handles: resident +%.1f MB while they were made, of which the "
        "handles and their order %.1f MB; table capacity %zu cells\n",
        r->n, r->rss_mb, r->own_mb, r->cap);
  }
  /* The growth: each round's difference at 100k minus the same round's at 10. */
  double growth[MAX_ROUNDS];
  for (int r = 0; r < rounds; r++) growth[r] = lookups[2].added[r] - lookups[0].added[r];
  double g = median(growth, rounds);
  printf("%-30s | %6.1f / %6.1f / %6.1f ns (target <= +40 ns: %s)\n",
         "lookup 100k minus 10 handles", vmin(growth, rounds), g, vmax(growth, rounds),
         g <= 40.0 ? "met" : "MISSED");
  return 0;
}
