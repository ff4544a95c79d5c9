/* http-service under load: requests/s of GET /work measured by wrk from a second process on
 * loopback, for
 *   off      http-service with tracing off (OTEL_SDK_DISABLED=true, UVOTEL_INSTRUMENT=none)
 *   otlp     http-service exporting a SERVER span + 3 child spans (fs open/read/close) per
 *            request over OTLP/HTTP to a loopback receiver (tests/support/otlp_receiver, in this
 *            process, on its own thread)
 *   plain    plain_http_server: the same work with no uvotel at all
 *   preload  plain_http_server under libuvotel_preload.so (UVOTEL_INSTRUMENT=all: fs open, read,
 *            close and dns lookup root spans per request, a tcp accept span per connection),
 *            exporting over OTLP to the same receiver
 *   otlp-d, preload-d  the same two exporting to a discard receiver in this process (reads the
 *            request, answers 200, decodes nothing), as a collector on another machine would
 *            cost this one: the test receiver decodes and stores every span on the same two
 *            cores as the service and wrk
 * Each variant runs `rounds` times, interleaved; min/median/max are printed and the ratios of
 * the medians are otlp/off and preload/plain.
 *   [BENCH_PIN=1] bench_http [seconds per run (5)] [rounds (3)] [connections (50)]
 * Needs wrk on PATH. Build with -DCMAKE_BUILD_TYPE=Release for numbers. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
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
  const char *env[8];
  double rps[16];
  double cpu_us[16]; /* the server's CPU time (user + system, all threads) per request */
} variant_t;

/* BENCH_PIN=1: the server on CPU 0, wrk (and this thread) on CPU 1, so the two do not trade
 * places with each other; a shared machine stays noisy all the same. */
static int g_pin;

static void pin_to(int cpu) {
  if (!g_pin) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof set, &set);
}

static pid_t spawn_server(const char *bin, const char *const *extra, int *port) {
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
  close(fds[0]);
  if (sscanf(line, "listening on 127.0.0.1:%d", port) != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  return pid;
}

/* ---- a discard OTLP/HTTP receiver: reads each request, answers 200 with an empty
 * ExportTraceServiceResponse, decodes nothing (a collector on another machine costs this
 * machine nothing; the test receiver decodes and stores every span on these same cores) ---- */

static void *discard_conn(void *arg) {
  int fd = (int)(intptr_t)arg;
  static const char ok[] =
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n";
  char buf[65536];
  size_t have = 0;
  for (;;) {
    char *end = have > 0 ? memmem(buf, have, "\r\n\r\n", 4) : NULL;
    if (end == NULL) {
      if (have == sizeof buf) break;
      ssize_t r = read(fd, buf + have, sizeof buf - have);
      if (r <= 0) break;
      have += (size_t)r;
      continue;
    }
    *end = '\0';
    const char *cl = strcasestr(buf, "\r\ncontent-length:");
    size_t body = cl != NULL ? (size_t)atol(cl + 17) : 0;
    size_t head = (size_t)(end + 4 - buf);
    size_t in_buf = have - head < body ? have - head : body;
    size_t left = body - in_buf;
    memmove(buf, buf + head + in_buf, have - head - in_buf);
    have -= head + in_buf;
    while (left > 0) { /* the rest of the body: read and drop */
      char sink[65536];
      ssize_t r = read(fd, sink, left < sizeof sink ? left : sizeof sink);
      if (r <= 0) goto out;
      left -= (size_t)r;
    }
    if (write(fd, ok, sizeof ok - 1) < 0) break;
  }
out:
  close(fd);
  return NULL;
}

static void *discard_accept(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int c = accept(lfd, NULL, NULL);
    if (c < 0) return NULL;
    pthread_t t;
    if (pthread_create(&t, NULL, discard_conn, (void *)(intptr_t)c) == 0) {
      pthread_detach(t);
    } else {
      close(c);
    }
  }
}

static int discard_start(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
    return -1;
  }
  pthread_t t;
  if (pthread_create(&t, NULL, discard_accept, (void *)(intptr_t)fd) != 0) return -1;
  pthread_detach(t);
  return ntohs(a.sin_port);
}

static double run_wrk(int port, int seconds, int conns) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "wrk -t1 -c%d -d%ds http://127.0.0.1:%d/work 2>&1", conns, seconds,
           port);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return -1;
  char line[512];
  double rps = -1;
  int errors = 0;
  while (fgets(line, sizeof line, p) != NULL) {
    sscanf(line, "Requests/sec: %lf", &rps);
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
int main(int argc, char **argv) {
  int seconds = argc > 1 ? atoi(argv[1]) : 5;
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  int conns = argc > 3 ? atoi(argv[3]) : 50;
  if (seconds < 1 || rounds < 1 || rounds > 16 || conns < 1) {
    fprintf(stderr, "usage: %s [seconds] [rounds] [connections]\n", argv[0]);
    return 2;
  }
  if (HTTP_SERVICE_BIN[0] == '\0') {
    fprintf(stderr, "bench_http: http-service was not built\n");
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  g_pin = getenv("BENCH_PIN") != NULL && strcmp(getenv("BENCH_PIN"), "1") == 0;
  otlp_receiver_t *recv;
  if (otlp_receiver_start(&recv, 0, NULL) != 0) return 1;
  char endpoint[128], discard[128];
  snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d",
           otlp_receiver_port(recv));
  int dport = discard_start();
  if (dport < 0) return 1;
  snprintf(discard, sizeof discard, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", dport);

  variant_t v[] = {
      {"off",
       HTTP_SERVICE_BIN,
       {"OTEL_SDK_DISABLED=true", "UVOTEL_INSTRUMENT=none", NULL},
       {0},
       {0}},
      {"otlp",
       HTTP_SERVICE_BIN,
       {"OTEL_TRACES_EXPORTER=otlp", endpoint, "UVOTEL_INSTRUMENT=fs", "OTEL_SERVICE_NAME=bench",
        NULL},
       {0},
       {0}},
      {"otlp-d",
       HTTP_SERVICE_BIN,
       {"OTEL_TRACES_EXPORTER=otlp", discard, "UVOTEL_INSTRUMENT=fs", "OTEL_SERVICE_NAME=bench",
        NULL},
       {0},
       {0}},
      {"plain", PLAIN_HTTP_BIN, {NULL}, {0}, {0}},
      {"preload",
       PLAIN_HTTP_BIN,
       {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "OTEL_TRACES_EXPORTER=otlp", endpoint,
        "UVOTEL_INSTRUMENT=all", "OTEL_SERVICE_NAME=bench-preload", NULL},
       {0},
       {0}},
      {"preload-d",
       PLAIN_HTTP_BIN,
       {"LD_PRELOAD=" UVOTEL_PRELOAD_SO, "OTEL_TRACES_EXPORTER=otlp", discard,
        "UVOTEL_INSTRUMENT=all", "OTEL_SERVICE_NAME=bench-preload", NULL},
       {0},
       {0}},
  };
  size_t nv = sizeof v / sizeof v[0];
  printf("bench_http: wrk -t1 -c%d -d%ds GET /work, %d rounds (median)\n", conns, seconds, rounds);
  for (int r = 0; r < rounds; r++) {
    for (size_t i = 0; i < nv; i++) {
      int port;
      pid_t pid = spawn_server(v[i].bin, v[i].env, &port);
      if (pid < 0) {
        fprintf(stderr, "bench_http: %s did not start\n", v[i].name);
        return 1;
      }
      v[i].rps[r] = run_wrk(port, seconds, conns);
      kill(pid, SIGTERM);
      int st;
      struct rusage ru;
      while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
      }
      double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
                   (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
      v[i].cpu_us[r] = v[i].rps[r] > 0 ? cpu / (v[i].rps[r] * seconds) : 0;
      printf("  round %d %-8s %10.0f req/s %7.1f us CPU/req%s\n", r + 1, v[i].name, v[i].rps[r],
             v[i].cpu_us[r],
             WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "" : "  (server did not exit cleanly)");
      fflush(stdout);
    }
  }
  double m[6], u[6];
  for (size_t i = 0; i < nv; i++) {
    m[i] = median(v[i].rps, rounds); /* sorts rps: [0] is the min, [rounds-1] the max */
    u[i] = median(v[i].cpu_us, rounds);
    printf("%-9s min %10.0f median %10.0f max %10.0f req/s\n", v[i].name, v[i].rps[0], m[i],
           v[i].rps[rounds - 1]);
  }
  otlp_receiver_counts_t c = otlp_receiver_counts(recv);
  printf("off      %10.0f req/s %7.1f us CPU/req\n", m[0], u[0]);
  printf("otlp     %10.0f req/s %7.1f us CPU/req   ratio otlp/off      %.3f\n", m[1], u[1],
         m[1] / m[0]);
  printf("otlp-d   %10.0f req/s %7.1f us CPU/req   ratio otlp-d/off    %.3f\n", m[2], u[2],
         m[2] / m[0]);
  printf("plain    %10.0f req/s %7.1f us CPU/req   ratio off/plain     %.3f\n", m[3], u[3],
         m[0] / m[3]);
  printf("preload  %10.0f req/s %7.1f us CPU/req   ratio preload/plain %.3f\n", m[4], u[4],
         m[4] / m[3]);
  printf("preload-d%10.0f req/s %7.1f us CPU/req   ratio preload-d/plain %.3f\n", m[5], u[5],
         m[5] / m[3]);
  printf("receiver: %zu requests, %zu spans\n", c.requests, c.spans);
  otlp_receiver_stop(recv);
  return 0;
}
#endif
