/* http-service and a plain libuv HTTP server under load: requests/s of GET /work measured by
 * wrk (one thread, a second process) on loopback, for
 *   off      http-service with tracing off (OTEL_SDK_DISABLED=true, UVOTEL_INSTRUMENT=none)
 *   otlp     http-service exporting a SERVER span + 3 child spans (fs open/read/close) per
 *            request over OTLP/HTTP to the test receiver (tests/support/otlp_receiver, in this
 *            process, on its own thread; it decodes every body with protobuf-c)
 *   plain    plain_http_server: the same work with no uvotel at all
 *   preload  plain_http_server under libuvotel_preload.so (UVOTEL_INSTRUMENT=all: the HTTP
 *            detector's SERVER span per request with fs open, read, close and dns lookup
 *            children), exporting over OTLP to the test receiver
 *   otlp-d, preload-d  the same two exporting to the counting receiver instead
 *   http-d   plain_http_server under the preload with UVOTEL_INSTRUMENT=http (the SERVER span
 *            per request only; the wrappers still carry the context through every callback),
 *            exporting to the counting receiver
 * The counting receiver is tests/bench/discard_receiver in its own process (started at the
 * beginning, one thread): it reads each request, counts the Span messages and those of kind
 * SERVER with an http.request.method attribute without decoding the rest, answers 200, keeps
 * nothing.
 * The "server row" (issue 12 item 7) is plain vs http-d (and preload-d): requests/s, the
 * server's CPU per request (user + system of all its threads, from wait4, divided by the
 * requests it parsed), and the spans: offered (requests the server parsed: each must give one
 * SERVER span), delivered (SERVER spans the receiver counted for that run), lost (offered -
 * delivered) and what the SDK said about drops on the server's stderr; the receiver's and
 * wrk's CPU per request beside.
 * Each variant runs `rounds` times, interleaved; min/median/max are printed and the ratios of
 * the medians.
 *   [BENCH_PIN=1] bench_http [--only server] [seconds per run (5)] [rounds (5)] [connections (50)]
 * BENCH_PIN=1: the server on CPU 0; wrk, the receivers and this process on CPU 1.
 * --only a,b,c: only those variants; --only server: plain,preload-d,http-d.
 * Needs wrk on PATH. Build with -DCMAKE_BUILD_TYPE=Release for numbers. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <strings.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include("otlp_receiver.h") /* tests/support, when the tests are built */
#include "otlp_receiver.h"
#define HAVE_RECEIVER 1
#endif

extern char **environ;

typedef struct variant_s {
  const char *name;
  const char *bin;
  const char *env[10];
  int counted; /* exports to the counting receiver: spans are checked */
  double rps[16];
  double cpu_us[16]; /* the server's CPU time (user + system, all threads) per request */
  double usr_us[16], sys_us[16]; /* the same split: user time, system time per request */
  double csw[16];     /* the server's context switches (voluntary + involuntary, all threads) per
                       * request: where a wake-up or a hand-off was added, it shows here */
  double wrk_us[16];  /* wrk's CPU time per request */
  double recv_us[16]; /* the receiver's CPU time per request (counting or test receiver) */
  uint64_t offered, delivered, other_spans, bad, said_drop; /* summed over the rounds */
  uint64_t wrk_requests, write_errors;
} variant_t;

/* BENCH_PIN=1: the server on CPU 0, wrk, the receivers (and this thread) on CPU 1, so they do
 * not trade places with each other; a shared machine stays noisy all the same. */
static int g_pin;

static void pin_to(int cpu) {
  if (!g_pin) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

/* The server's stdout stays open in *out_fd (its last line is its request count); its stderr
 * goes to err_path (what the SDK says at exit). */
static pid_t spawn_server(const char *bin, const char *const *extra, int *port, int *out_fd,
                          const char *err_path) {
  char *argv[] = {(char *)bin, "--port", "0", "--file", (char *)bin, NULL};
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "OTEL_", 5) == 0 || strncmp(*e, "UVOTEL_", 7) == 0 ||
        strncmp(*e, "LD_PRELOAD=", 11) == 0) {
      continue;
    }
    envp[n++] = *e;
  }
  for (size_t i = 0; extra[i] != NULL; i++) envp[n++] = (char *)extra[i];
  envp[n] = NULL;
  int fds[2];
  if (pipe(fds) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid;
  pin_to(0); /* inherited by the server */
  int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
  pin_to(1); /* inherited by wrk */
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return -1;
  }
  char line[128];
  size_t len = 0;
  while (len < sizeof line - 1 && read(fds[0], line + len, 1) == 1 && line[len] != '\n') len++;
  line[len] = '\0';
  if (sscanf(line, "listening on 127.0.0.1:%d", port) != 1) {
    close(fds[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  *out_fd = fds[0];
  return pid;
}

/* The rest of the server's stdout after it exited: plain_http_server's count line. */
static int read_counts(int fd, unsigned long *req, unsigned long *resp, unsigned long *werr) {
  char buf[512];
  size_t len = 0;
  ssize_t r;
  while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0) {
    len += (size_t)r;
  }
  buf[len] = '\0';
  close(fd);
  const char *l = strstr(buf, "requests ");
  return l != NULL && sscanf(l, "requests %lu responses %lu write_errors %lu", req, resp, werr) == 3
             ? 0
             : -1;
}

/* Spans the SDK said it lost, from the server's stderr: the batch processor's "N span(s)
 * dropped" / "N span(s) not delivered" lines summed. */
static uint64_t said_lost(const char *err_path) {
  FILE *f = fopen(err_path, "r");
  if (f == NULL) return 0;
  char line[1024];
  uint64_t not_delivered = 0, interval = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    const char *p = strstr(line, " span(s) ");
    if (p == NULL) continue;
    const char *d = p;
    while (d > line && d[-1] >= '0' && d[-1] <= '9') d--;
    uint64_t v = strtoull(d, NULL, 10);
    if (strstr(p, "not delivered") != NULL) {
      not_delivered += v; /* flush/shutdown: everything since the previous flush */
    } else {
      interval += v; /* the periodic report: dropped since the last report */
      const char *a = strstr(p, " and ");
      if (a != NULL) interval += strtoull(a + 5, NULL, 10); /* failed */
    }
    fprintf(stderr, "bench_http: the server said: %s", line);
  }
  fclose(f);
  return not_delivered > interval ? not_delivered : interval;
}

/* ---- the counting receiver: tests/bench/discard_receiver in its own process (one thread,
 * epoll), run with --server-key http.request.method: it walks each OTLP/HTTP body just far
 * enough to count the Span messages and those of kind SERVER with an http.request.method
 * attribute, answers 200 and keeps nothing (log bodies: answered, not counted) -- what a
 * collector on another machine would cost this one, plus the counting. Its CPU time comes from
 * its own getrusage, reported beside the server's. */

typedef struct rcounts_s {
  uint64_t requests, spans, server_spans, bad, log_requests, cpu_us;
} rcounts_t;

typedef struct counting_receiver_s {
  pid_t pid;
  FILE *to, *from;
  int port;
} counting_receiver_t;

static int counting_receiver_start(counting_receiver_t *cr) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    pin_to(1); /* with wrk, away from the server */
    execl(DISCARD_RECEIVER_BIN, "discard_receiver", "--server-key", "http.request.method",
          (char *)NULL);
    perror("exec " DISCARD_RECEIVER_BIN);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  cr->pid = pid;
  cr->to = fdopen(in[1], "w");
  cr->from = fdopen(out[0], "r");
  if (cr->to == NULL || cr->from == NULL || fscanf(cr->from, " port %d", &cr->port) != 1) {
    return -1;
  }
  return 0;
}

static rcounts_t counting_receiver_query(const counting_receiver_t *cr) {
  unsigned long long spans, requests, bad, bytes, cpu_ns, server, logs;
  fputs("s\n", cr->to);
  fflush(cr->to);
  if (fscanf(cr->from,
             " spans %llu requests %llu bad %llu bytes %llu cpu_ns %llu server %llu logs %llu",
             &spans, &requests, &bad, &bytes, &cpu_ns, &server, &logs) != 7) {
    fprintf(stderr, "bench_http: the counting receiver does not answer\n");
    exit(1);
  }
  rcounts_t n = {requests, spans, server, bad, logs, cpu_ns / 1000u};
  return n;
}

static void counting_receiver_stop(counting_receiver_t *cr) {
  fclose(cr->to);
  char line[256];
  while (fgets(line, sizeof line, cr->from) != NULL) {
  }
  fclose(cr->from);
  waitpid(cr->pid, NULL, 0);
}

static double run_wrk(int port, int seconds, int conns, uint64_t *total) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "wrk -t1 -c%d -d%ds http://127.0.0.1:%d/work 2>&1", conns, seconds,
           port);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return -1;
  char line[512];
  double rps = -1;
  int errors = 0;
  *total = 0;
  while (fgets(line, sizeof line, p) != NULL) {
    sscanf(line, "Requests/sec: %lf", &rps);
    unsigned long long t;
    if (sscanf(line, " %llu requests in", &t) == 1) *total = t;
    if (strstr(line, "Non-2xx") != NULL || strstr(line, "Socket errors") != NULL) errors = 1;
  }
  pclose(p);
  if (errors) fprintf(stderr, "bench_http: wrk reported errors on port %d\n", port);
  return rps;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifndef HAVE_RECEIVER
int main(void) {
  fprintf(stderr, "bench_http: needs the tests (UVOTEL_BUILD_TESTS) for the OTLP receiver\n");
  return 1;
}
#else
static double tv_us(struct timeval tv) {
  return (double)tv.tv_sec * 1e6 + (double)tv.tv_usec;
}

static double usec(const struct rusage *ru) {
  return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e6 +
         (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec);
}

static void minmax(const double *v, int n, double *lo, double *med, double *hi) {
  double t[16];
  memcpy(t, v, sizeof *t * (size_t)n);
  *med = median(t, n); /* sorts t */
  *lo = t[0];
  *hi = t[n - 1];
}

static void print_row(const variant_t *v, int rounds, const variant_t *base) {
  double lo, med, hi, cpu, lo_c, hi_c, wrk, recv, x, usr, sys, csw;
  minmax(v->rps, rounds, &lo, &med, &hi);
  minmax(v->cpu_us, rounds, &lo_c, &cpu, &hi_c);
  minmax(v->usr_us, rounds, &x, &usr, &x);
  minmax(v->sys_us, rounds, &x, &sys, &x);
  minmax(v->csw, rounds, &x, &csw, &x);
  minmax(v->wrk_us, rounds, &x, &wrk, &x);
  minmax(v->recv_us, rounds, &x, &recv, &x);
  printf(
      "%-9s min %8.0f median %8.0f max %8.0f req/s | server CPU/req %6.1f us (min %.1f max "
      "%.1f; user %.1f sys %.1f; %.2f context switches) | wrk %5.1f us | receiver %5.2f us",
      v->name, lo, med, hi, cpu, lo_c, hi_c, usr, sys, csw, wrk, recv);
  if (base != NULL) {
    double bm, bc, bu, bs, bw;
    minmax(base->rps, rounds, &x, &bm, &x);
    minmax(base->cpu_us, rounds, &x, &bc, &x);
    minmax(base->usr_us, rounds, &x, &bu, &x);
    minmax(base->sys_us, rounds, &x, &bs, &x);
    minmax(base->csw, rounds, &x, &bw, &x);
    double rr[16], rlo, rmed, rhi; /* the ratio of each round's pair (interleaved runs) */
    for (int r = 0; r < rounds; r++) rr[r] = base->rps[r] > 0 ? v->rps[r] / base->rps[r] : 0;
    minmax(rr, rounds, &rlo, &rmed, &rhi);
    printf(
        " | %s/%s req/s %.3f (per round min %.3f median %.3f max %.3f), CPU/req %.2fx (+%.1f us: "
        "user %+.1f, sys %+.1f; context switches %+.2f)",
        v->name, base->name, med / bm, rlo, rmed, rhi, cpu / bc, cpu - bc, usr - bu, sys - bs,
        csw - bw);
  }
  printf("\n");
}

int main(int argc, char **argv) {
  const char *only = NULL; /* comma-separated variant names; "server": plain,preload-d,http-d */
  if (argc > 2 && strcmp(argv[1], "--only") == 0) {
    only = strcmp(argv[2], "server") == 0 ? "plain,preload-d,http-d" : argv[2];
    argc -= 2;
    argv += 2;
  }
  int seconds = argc > 1 ? atoi(argv[1]) : 5;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  int conns = argc > 3 ? atoi(argv[3]) : 50;
  if (seconds < 1 || rounds < 1 || rounds > 16 || conns < 1) {
    fprintf(stderr, "usage: bench_http [--only server] [seconds] [rounds] [connections]\n");
    return 2;
  }
  if (HTTP_SERVICE_BIN[0] == '\0') {
    fprintf(stderr, "bench_http: http-service was not built\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  g_pin = getenv("BENCH_PIN") != NULL && strcmp(getenv("BENCH_PIN"), "1") == 0;
  pin_to(1);
  counting_receiver_t cr;
  if (counting_receiver_start(&cr) != 0) return 1;
  otlp_receiver_t *recv;
  if (otlp_receiver_start(&recv, 0, NULL) != 0) return 1;
  char endpoint[128], counting[128];
  snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d",
           otlp_receiver_port(recv));
  snprintf(counting, sizeof counting, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", cr.port);
  char err_path[64]; /* the server's stderr, scanned after each run, removed at the end */
  snprintf(err_path, sizeof err_path, "/tmp/bench_http.%d.stderr", (int)getpid());

#define PRELOAD "LD_PRELOAD=" UVOTEL_PRELOAD_SO, "OTEL_TRACES_EXPORTER=otlp"
#define NOGZIP "OTEL_EXPORTER_OTLP_COMPRESSION=none"
#define V(n, b, c, ...)                                             \
  {                                                                 \
    .name = n, .bin = b, .counted = c, .env = { __VA_ARGS__, NULL } \
  }
  variant_t all[] = {
      V("off", HTTP_SERVICE_BIN, 0, "OTEL_SDK_DISABLED=true", "UVOTEL_INSTRUMENT=none"),
      V("otlp", HTTP_SERVICE_BIN, 0, "OTEL_TRACES_EXPORTER=otlp", endpoint, "UVOTEL_INSTRUMENT=fs",
        "OTEL_SERVICE_NAME=bench"),
      V("otlp-d", HTTP_SERVICE_BIN, 1, "OTEL_TRACES_EXPORTER=otlp", counting, NOGZIP,
        "UVOTEL_INSTRUMENT=fs", "OTEL_SERVICE_NAME=bench"),
      V("plain", PLAIN_HTTP_BIN, 0, NULL),
      V("preload", PLAIN_HTTP_BIN, 0, PRELOAD, endpoint, "UVOTEL_INSTRUMENT=all",
        "OTEL_SERVICE_NAME=bench-preload"),
      V("preload-d", PLAIN_HTTP_BIN, 1, PRELOAD, counting, NOGZIP, "UVOTEL_INSTRUMENT=all",
        "OTEL_SERVICE_NAME=bench-preload"),
      V("http-d", PLAIN_HTTP_BIN, 1, PRELOAD, counting, NOGZIP, "UVOTEL_INSTRUMENT=http",
        "OTEL_SERVICE_NAME=bench-http"),
  };
#undef V
  enum { OFF, OTLP, OTLP_D, PLAIN, PRELOAD_T, PRELOAD_D, HTTP_D, NV };
  int order[NV], nv = 0;
  for (int i = 0; i < NV; i++) {
    size_t l = strlen(all[i].name);
    const char *p = only;
    while (p != NULL && !(strncmp(p, all[i].name, l) == 0 && (p[l] == ',' || p[l] == '\0'))) {
      p = strchr(p, ',');
      if (p != NULL) p++;
    }
    if (only == NULL || p != NULL) order[nv++] = i;
  }
  FILE *up = fopen("/proc/loadavg", "r");
  char load[64] = "?";
  if (up != NULL) {
    if (fgets(load, sizeof load, up) == NULL) strcpy(load, "?");
    fclose(up);
    load[strcspn(load, "\n")] = '\0';
  }
  printf("bench_http: wrk -t1 -c%d -d%ds GET /work, %d rounds interleaved, pin %s, loadavg %s\n",
         conns, seconds, rounds, g_pin ? "server CPU 0 / wrk+receivers CPU 1" : "off", load);
  for (int r = 0; r < rounds; r++) {
    for (int k = 0; k < nv; k++) {
      variant_t *v = &all[order[k]];
      int port, out_fd;
      rcounts_t c0 = counting_receiver_query(&cr);
      struct rusage self0, kids0, self1, kids1, ru;
      getrusage(RUSAGE_SELF, &self0);
      getrusage(RUSAGE_CHILDREN, &kids0);
      pid_t pid = spawn_server(v->bin, v->env, &port, &out_fd, err_path);
      if (pid < 0) {
        fprintf(stderr, "bench_http: %s did not start\n", v->name);
        return 1;
      }
      uint64_t done = 0;
      v->rps[r] = run_wrk(port, seconds, conns, &done);
      usleep(200 * 1000); /* requests wrk gave up on at its deadline finish (timer: 1 ms) */
      kill(pid, SIGTERM);
      int st;
      while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
      }
      getrusage(RUSAGE_SELF, &self1);
      getrusage(RUSAGE_CHILDREN, &kids1);
      rcounts_t c1 = counting_receiver_query(&cr);
      unsigned long req = 0, resp = 0, werr = 0;
      int have_counts = read_counts(out_fd, &req, &resp, &werr) == 0;
      uint64_t reqs = have_counts ? req : done; /* http-service prints no count */
      double cpu = usec(&ru);
      double wrk_cpu = usec(&kids1) - usec(&kids0) - cpu; /* sh + wrk, reaped by pclose */
      double recv_cpu = v->counted ? (double)(c1.cpu_us - c0.cpu_us) : usec(&self1) - usec(&self0);
      v->cpu_us[r] = reqs > 0 ? cpu / (double)reqs : 0;
      v->usr_us[r] = reqs > 0 ? tv_us(ru.ru_utime) / (double)reqs : 0;
      v->sys_us[r] = reqs > 0 ? tv_us(ru.ru_stime) / (double)reqs : 0;
      v->csw[r] = reqs > 0 ? (double)(ru.ru_nvcsw + ru.ru_nivcsw) / (double)reqs : 0;
      v->wrk_us[r] = done > 0 ? wrk_cpu / (double)done : 0;
      v->recv_us[r] = reqs > 0 ? recv_cpu / (double)reqs : 0;
      v->wrk_requests += done;
      v->write_errors += werr;
      uint64_t said = said_lost(err_path);
      v->said_drop += said;
      printf(
          "  round %d %-9s %8.0f req/s %6.1f us CPU/req (user %.1f sys %.1f, %.2f cs; wrk %5.1f, "
          "receiver %5.2f)",
          r + 1, v->name, v->rps[r], v->cpu_us[r], v->usr_us[r], v->sys_us[r], v->csw[r],
          v->wrk_us[r], v->recv_us[r]);
      if (v->counted) {
        uint64_t server = c1.server_spans - c0.server_spans, spans = c1.spans - c0.spans;
        v->offered += reqs;
        v->delivered += server;
        v->other_spans += spans - server;
        v->bad += c1.bad - c0.bad;
        printf(" | offered %llu delivered %llu lost %lld said %llu", (unsigned long long)reqs,
               (unsigned long long)server, (long long)reqs - (long long)server,
               (unsigned long long)said);
      }
      printf("%s\n",
             WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "" : "  (server did not exit cleanly)");
      fflush(stdout);
    }
  }
  unlink(err_path);
  printf(
      "\nmedians of %d rounds; CPU/req = user+system of the process / requests it served; "
      "receiver = the receiver's own CPU / requests\n",
      rounds);
  for (int k = 0; k < nv; k++) {
    int i = order[k];
    const variant_t *base = NULL;
    if (i == OTLP || i == OTLP_D) base = &all[OFF];
    if (i == OFF) base = &all[PLAIN];
    if (i == PRELOAD_T || i == PRELOAD_D || i == HTTP_D) base = &all[PLAIN];
    int base_ran = 0;
    for (int j = 0; j < nv; j++) base_ran |= base == &all[order[j]];
    print_row(&all[i], rounds, base_ran ? base : NULL);
  }
  printf(
      "\nserver row (issue 12 item 7): plain_http_server raw vs under the preload with HTTP "
      "detection, OTLP/HTTP to the counting receiver in its own process\n");
  int fail = 0;
  for (int k = 0; k < nv; k++) {
    const variant_t *v = &all[order[k]];
    if (!v->counted) continue;
    if (v->bin != all[PLAIN].bin) { /* http-service prints no request count */
      printf(
          "  %-9s (http-service) wrk completed %llu, SERVER spans delivered %llu, other "
          "spans %llu, SDK said %llu lost\n",
          v->name, (unsigned long long)v->wrk_requests, (unsigned long long)v->delivered,
          (unsigned long long)v->other_spans, (unsigned long long)v->said_drop);
      continue;
    }
    double x, m, b = 0, cm, cb = 0;
    int plain_ran = 0;
    for (int j = 0; j < nv; j++) plain_ran |= order[j] == PLAIN;
    if (plain_ran) {
      minmax(all[PLAIN].rps, rounds, &x, &b, &x);
      minmax(all[PLAIN].cpu_us, rounds, &x, &cb, &x);
    }
    minmax(v->rps, rounds, &x, &m, &x);
    minmax(v->cpu_us, rounds, &x, &cm, &x);
    int ok = v->delivered == v->offered && v->bad == 0 && v->said_drop == 0;
    printf(
        "  %-9s ratio %.3f req/s, CPU/req %.2fx | spans offered %llu (requests parsed: one "
        "SERVER span each) delivered %llu (SERVER) lost %lld, SDK said %llu lost | other "
        "spans %llu, bad bodies %llu, write errors %llu -> %s\n",
        v->name, b > 0 ? m / b : 0.0, cb > 0 ? cm / cb : 0.0, (unsigned long long)v->offered,
        (unsigned long long)v->delivered, (long long)v->offered - (long long)v->delivered,
        (unsigned long long)v->said_drop, (unsigned long long)v->other_spans,
        (unsigned long long)v->bad, (unsigned long long)v->write_errors,
        ok ? "every request delivered" : "SPANS LOST");
    if (!ok) fail = 1;
  }
  otlp_receiver_counts_t c = otlp_receiver_counts(recv);
  printf("test receiver: %zu requests, %zu spans\n", c.requests, c.spans);
  otlp_receiver_stop(recv);
  counting_receiver_stop(&cr);
  return fail;
}
#endif
