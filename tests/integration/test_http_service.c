/* examples/http-service end to end: start it on an ephemeral loopback port, drive GET /work and
 * POST /test (the W3C trace-context test-suite contract) with raw-socket requests, receive its
 * outgoing calls on a tiny loopback HTTP receiver, stop it with SIGTERM and read the spans it
 * flushed to the file exporter. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "counting_alloc.h"
#include "otlp_json.h"
#if __has_include("otlp_receiver.h")
#include "otlp_receiver.h"
#endif

#define TMPDIR UVOTEL_BINARY_DIR "/test_http_service.d"
#define SPANS TMPDIR "/spans.jsonl"
#define TRACE "0af7651916cd43dd8448eb211c80319c"
#define PARENT "b7ad6b7169203331"

extern char **environ;

/* ---- raw HTTP over loopback ---- */

static int connect_to(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    assert_true(w > 0);
    p += w;
    n -= (size_t)w;
  }
}

/* Read a whole HTTP message (head + Content-Length body) from fd into buf; returns its length
 * and sets *body to the body's start. */
static size_t read_message(int fd, char *buf, size_t cap, char **body) {
  size_t len = 0;
  char *end = NULL;
  size_t want = (size_t)-1;
  while (len < cap - 1) {
    ssize_t r = read(fd, buf + len, cap - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
    buf[len] = '\0';
    if (end == NULL && (end = strstr(buf, "\r\n\r\n")) != NULL) {
      const char *cl = strcasestr(buf, "\r\ncontent-length:");
      want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? (size_t)atol(cl + 17) : 0);
    }
    if (end != NULL && len >= want) break;
  }
  buf[len] = '\0';
  *body = end != NULL ? end + 4 : buf + len;
  return len;
}

/* Send a request with extra header lines (each ending in \r\n); the response's status, and its
 * body copied into out. */
static int request(int port, const char *method, const char *path, const char *headers,
                   const char *body, char *out, size_t cap) {
  int fd = connect_to(port);
  assert_true(fd >= 0);
  char head[4096];
  size_t blen = body != NULL ? strlen(body) : 0;
  int n = snprintf(head, sizeof head,
                   "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n",
                   method, path, headers != NULL ? headers : "", blen);
  write_all(fd, head, (size_t)n);
  if (blen > 0) write_all(fd, body, blen);
  static char resp[65536];
  char *rb;
  read_message(fd, resp, sizeof resp, &rb);
  close(fd);
  int status = 0;
  sscanf(resp, "HTTP/1.1 %d", &status);
  snprintf(out, cap, "%s", rb);
  return status;
}

/* ---- the loopback receiver of the /test calls ---- */

#define MAX_RECV 64
typedef struct received_s {
  char path[64];
  char traceparent[8][128];
  int n_traceparent;
  char tracestate[8][256];
  int n_tracestate;
  char baggage[256];
  char authorization[256];
  char body[1024];
} received_t;

static struct {
  int fd, port;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  received_t got[MAX_RECV];
  int n;
  int delay_ms; /* answer each call after this long */
  int redirect; /* answer 302 to /elsewhere */
} g_recv;

static void header_values(const char *head, const char *name, char out[][256], int max, int *n,
                          size_t width) {
  *n = 0;
  size_t nl = strlen(name);
  for (const char *p = strstr(head, "\r\n"); p != NULL && *n < max; p = strstr(p + 2, "\r\n")) {
    const char *line = p + 2;
    if (strncasecmp(line, name, nl) != 0 || line[nl] != ':') continue;
    const char *v = line + nl + 1;
    while (*v == ' ') v++;
    const char *e = strstr(v, "\r\n");
    snprintf((char *)out + (size_t)(*n) * width, width, "%.*s", (int)(e - v), v);
    (*n)++;
  }
}

static void *receiver_conn(void *arg) {
  int c = (int)(intptr_t)arg;
  char buf[16384];
  char *body;
  read_message(c, buf, sizeof buf, &body);
  received_t r;
  memset(&r, 0, sizeof r);
  sscanf(buf, "POST %63s", r.path);
  snprintf(r.body, sizeof r.body, "%s", body);
  body[0] = '\0'; /* headers only from here */
  char tp[8][256];
  header_values(buf, "traceparent", tp, 8, &r.n_traceparent, 256);
  for (int i = 0; i < r.n_traceparent; i++) {
    snprintf(r.traceparent[i], sizeof r.traceparent[i], "%s", tp[i]);
  }
  header_values(buf, "tracestate", r.tracestate, 8, &r.n_tracestate, 256);
  char bg[1][256];
  int nb;
  header_values(buf, "baggage", bg, 1, &nb, 256);
  if (nb > 0) snprintf(r.baggage, sizeof r.baggage, "%s", bg[0]);
  header_values(buf, "authorization", bg, 1, &nb, 256);
  if (nb > 0) snprintf(r.authorization, sizeof r.authorization, "%s", bg[0]);
  pthread_mutex_lock(&g_recv.mu);
  if (g_recv.n < MAX_RECV) g_recv.got[g_recv.n++] = r;
  int delay = g_recv.delay_ms, redirect = g_recv.redirect;
  pthread_cond_broadcast(&g_recv.cv);
  pthread_mutex_unlock(&g_recv.mu);
  if (delay > 0) usleep((useconds_t)delay * 1000);
  static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  static const char moved[] =
      "HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\nConnection: "
      "close\r\n\r\n";
  if (redirect) {
    (void)!write(c, moved, sizeof moved - 1);
  } else {
    (void)!write(c, ok, sizeof ok - 1);
  }
  close(c);
  return NULL;
}

static void *receiver(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(g_recv.fd, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      return NULL; /* closed by the test */
    }
    pthread_t t;
    if (pthread_create(&t, NULL, receiver_conn, (void *)(intptr_t)c) == 0) {
      pthread_detach(t);
    } else {
      close(c);
    }
  }
}

/* Wait until the receiver has n calls (at most 5 s). */
static int receiver_wait(int n) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&g_recv.mu);
  while (g_recv.n < n && pthread_cond_timedwait(&g_recv.cv, &g_recv.mu, &until) == 0) {
  }
  int got = g_recv.n;
  pthread_mutex_unlock(&g_recv.mu);
  return got;
}

static int receiver_count(void) {
  pthread_mutex_lock(&g_recv.mu);
  int n = g_recv.n;
  pthread_mutex_unlock(&g_recv.mu);
  return n;
}

/* ---- the service process ---- */

static struct {
  pid_t pid;
  int port;
  int status; /* wait status once stopped */
} g_svc;

static void receiver_start(void) {
  memset(&g_recv, 0, sizeof g_recv);
  pthread_mutex_init(&g_recv.mu, NULL);
  pthread_cond_init(&g_recv.cv, NULL);
  g_recv.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(g_recv.fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(g_recv.fd, 128), 0);
  socklen_t al = sizeof a;
  getsockname(g_recv.fd, (struct sockaddr *)&a, &al);
  g_recv.port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&g_recv.thread, NULL, receiver, NULL), 0);
}

/* Start the service with extra arguments and environment entries (NULL-terminated lists). */
static void start_service(const char *const *args, const char *const *env) {
  char *argv[32] = {(char *)HTTP_SERVICE_BIN, "--port", "0"};
  size_t na = 3;
  for (size_t i = 0; args != NULL && args[i] != NULL && na < 31; i++) argv[na++] = (char *)args[i];
  argv[na] = NULL;
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "OTEL_", 5) == 0 || strncmp(*e, "UVOTEL_", 7) == 0) continue;
    envp[n++] = *e;
  }
  /* the test's own entries first: getenv finds the first of a name */
  for (size_t i = 0; env != NULL && env[i] != NULL && n < 220; i++) envp[n++] = (char *)env[i];
  envp[n++] = "OTEL_TRACES_EXPORTER=file";
  envp[n++] = "OTEL_EXPORTER_FILE_PATH=" SPANS;
  envp[n++] = "OTEL_SERVICE_NAME=http-service-test";
  envp[n++] = "UVOTEL_INSTRUMENT=fs,dns";
  envp[n++] = "OTEL_BSP_MAX_QUEUE_SIZE=65536"; /* bursts of thousands of spans: none dropped */
  envp[n] = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  /* This process ignores SIGPIPE; the service must not inherit that, it ignores it itself. */
  posix_spawnattr_t sa;
  posix_spawnattr_init(&sa);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&sa, &def);
  posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETSIGDEF);
  assert_int_equal(posix_spawn(&g_svc.pid, HTTP_SERVICE_BIN, &fa, &sa, argv, envp), 0);
  posix_spawnattr_destroy(&sa);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  char line[128];
  size_t len = 0;
  while (len < sizeof line - 1) {
    ssize_t r = read(fds[0], line + len, 1);
    if (r <= 0 || line[len] == '\n') break;
    len++;
  }
  line[len] = '\0';
  close(fds[0]);
  const char *colon = strrchr(line, ':'); /* "listening on HOST:PORT" */
  assert_non_null(colon);
  assert_memory_equal(line, "listening on ", 13);
  g_svc.port = atoi(colon + 1);
  assert_true(g_svc.port > 0);
}

static int setup_with(const char *const *args, const char *const *env) {
  mkdir(TMPDIR, 0755);
  unlink(SPANS);
  receiver_start();
  start_service(args, env);
  return 0;
}

/* The W3C harness endpoint on (tests of the /test contract). */
static int setup(void **state) {
  (void)state;
  static const char *const args[] = {"--w3c-test-endpoint", NULL};
  return setup_with(args, NULL);
}

/* Defaults: no /test. */
static int setup_plain(void **state) {
  (void)state;
  return setup_with(NULL, NULL);
}

static int setup_limits(void **state) {
  (void)state;
  static const char *const args[] = {"--w3c-test-endpoint",
                                     "--max-calls",
                                     "2",
                                     "--max-header-bytes",
                                     "1024",
                                     "--max-body-bytes",
                                     "1000",
                                     "--header-timeout",
                                     "300",
                                     "--request-timeout",
                                     "600",
                                     "--idle-timeout",
                                     "400",
                                     "--max-connections",
                                     "6",
                                     NULL};
  return setup_with(args, NULL);
}

static int setup_cap(void **state) {
  (void)state;
  static const char *const args[] = {"--max-connections", "6", "--idle-timeout", "10000", NULL};
  return setup_with(args, NULL);
}

static int setup_methods(void **state) {
  (void)state;
  static const char *const env[] = {"OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS=GET,PROPFIND", NULL};
  return setup_with(NULL, env);
}

static int setup_buffered(void **state) {
  (void)state;
  static const char *const args[] = {"--w3c-test-endpoint", "--max-buffered-bytes", "4096", NULL};
  return setup_with(args, NULL);
}

static int setup_drain(void **state) {
  (void)state;
  static const char *const args[] = {"--w3c-test-endpoint", "--drain-timeout", "300", NULL};
  return setup_with(args, NULL);
}

/* Stop the service with sig (a clean shutdown, spans flushed) and check it exited 0. */
static void stop_with(int sig) {
  if (g_svc.pid <= 0) return;
  kill(g_svc.pid, sig);
  int st;
  while (waitpid(g_svc.pid, &st, 0) < 0 && errno == EINTR) {
  }
  g_svc.pid = 0;
  g_svc.status = st;
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static void stop_service(void) {
  stop_with(SIGTERM);
}

static int teardown(void **state) {
  (void)state;
  if (g_svc.pid > 0) { /* a failed test: do not leave it running */
    kill(g_svc.pid, SIGKILL);
    waitpid(g_svc.pid, NULL, 0);
    g_svc.pid = 0;
  }
  shutdown(g_recv.fd, SHUT_RDWR);
  close(g_recv.fd);
  pthread_join(g_recv.thread, NULL);
  pthread_mutex_lock(&g_recv.mu); /* receiver_conn threads are done with it */
  pthread_mutex_unlock(&g_recv.mu);
  usleep(g_recv.delay_ms > 0 ? (useconds_t)g_recv.delay_ms * 1000 + 50000 : 0);
  return 0;
}

/* ---- spans ---- */

static json_t *load_spans(void) {
  return otlp_json_load(SPANS);
}

static const char *sget(json_t *sp, const char *key) {
  json_t *v = json_object_get(sp, key);
  return v != NULL ? json_string_value(v) : "";
}

static json_t *find(json_t *all, const char *name, const char *key, const char *value) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strcmp(sget(sp, "name"), name) == 0 && (key == NULL || strcmp(sget(sp, key), value) == 0)) {
      return sp;
    }
  }
  return NULL;
}

static int status_code(json_t *sp) {
  return (int)json_integer_value(json_object_get(json_object_get(sp, "status"), "code"));
}

/* The first span named `name` whose string attribute key is value. */
static json_t *find_attr(json_t *all, const char *name, const char *key, const char *value) {
  size_t i;
  json_t *sp;
  json_array_foreach(all, i, sp) {
    if (strcmp(sget(sp, "name"), name) == 0 && strcmp(otlp_json_attr_str(sp, key), value) == 0)
      return sp;
  }
  return NULL;
}

static size_t count_named(json_t *all, const char *name) {
  size_t i, n = 0;
  json_t *sp;
  json_array_foreach(all, i, sp) n += strcmp(sget(sp, "name"), name) == 0;
  return n;
}

/* ---- raw exchanges ---- */

static void set_timeout(int fd, int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

/* Read until the peer closes, an error, or the receive timeout; returns the length. */
static size_t read_all(int fd, char *out, size_t cap) {
  size_t len = 0;
  while (len < cap - 1) {
    ssize_t r = read(fd, out + len, cap - 1 - len);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    len += (size_t)r;
  }
  out[len] = '\0';
  return len;
}

/* Send data on a new connection and read everything until the service closes it (5 s at
 * most); the status of the first response, 0 when none came. */
static int exchange(int port, const char *data, size_t len, char *out, size_t cap) {
  int fd = connect_to(port);
  assert_true(fd >= 0);
  set_timeout(fd, 5000);
  write_all(fd, data, len);
  read_all(fd, out, cap);
  close(fd);
  int status = 0;
  sscanf(out, "HTTP/1.1 %d", &status);
  return status;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long rss_kb(pid_t pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  long kb = -1;
  while (f != NULL && fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
  }
  if (f != NULL) fclose(f);
  return kb;
}

/* ---- tests ---- */

static void test_work_continues_incoming_trace(void **state) {
  (void)state;
  char body[4096];
  int st = request(g_svc.port, "GET", "/work", "traceparent: 00-" TRACE "-" PARENT "-01\r\n", NULL,
                   body, sizeof body);
  assert_int_equal(st, 200);
  json_error_t err;
  json_t *o = json_loads(body, 0, &err);
  assert_non_null(o);
  assert_string_equal(json_string_value(json_object_get(o, "trace_id")), TRACE);
  assert_string_equal(json_string_value(json_object_get(o, "localhost")), "127.0.0.1");
  assert_true(json_integer_value(json_object_get(o, "bytes")) > 0);
  json_decref(o);
  stop_service();

  json_t *all = load_spans();
  json_t *server = find(all, "GET /work", NULL, NULL);
  assert_non_null(server);
  assert_int_equal(json_integer_value(json_object_get(server, "kind")), 2);
  assert_string_equal(sget(server, "traceId"), TRACE);
  assert_string_equal(sget(server, "parentSpanId"), PARENT); /* incoming parent */
  const char *sid = sget(server, "spanId");
  /* the automatic spans are its children */
  const char *kids[] = {"fs open", "fs read", "fs close", "dns lookup"};
  for (size_t i = 0; i < 4; i++) {
    json_t *k = find(all, kids[i], "parentSpanId", sid);
    assert_non_null(k);
    assert_string_equal(sget(k, "traceId"), TRACE);
  }
  json_decref(all);
}

static void test_post_test_propagates(void **state) {
  (void)state;
  char calls[1024];
  snprintf(calls, sizeof calls,
           "[{\"url\":\"http://127.0.0.1:%d/one\",\"arguments\":[1,2]},"
           "{\"url\":\"http://127.0.0.1:%d/two\",\"arguments\":[{\"x\":\"y\"}]}]",
           g_recv.port, g_recv.port);
  char body[256];
  int st = request(g_svc.port, "POST", "/test",
                   "traceparent: 00-" TRACE "-" PARENT
                   "-01\r\n"
                   "tracestate: a=1\r\n"
                   "Tracestate: b=2,c=3\r\n"
                   "baggage: user=alice\r\n",
                   calls, body, sizeof body);
  assert_int_equal(st, 200); /* only after both calls finished */
  pthread_mutex_lock(&g_recv.mu);
  assert_int_equal(g_recv.n, 2);
  received_t one = g_recv.got[0], two = g_recv.got[1];
  pthread_mutex_unlock(&g_recv.mu);
  assert_string_equal(one.path, "/one"); /* in order */
  assert_string_equal(two.path, "/two");
  assert_string_equal(one.body, "[1,2]");
  assert_string_equal(two.body, "[{\"x\":\"y\"}]");
  assert_int_equal(one.n_traceparent, 1);
  assert_int_equal(two.n_traceparent, 1);
  /* same trace id, a new parent id per call, the flags kept */
  assert_int_equal(strlen(one.traceparent[0]), 55);
  assert_memory_equal(one.traceparent[0], "00-" TRACE "-", 36);
  assert_memory_equal(two.traceparent[0], "00-" TRACE "-", 36);
  assert_memory_not_equal(one.traceparent[0] + 36, PARENT, 16);
  assert_memory_not_equal(two.traceparent[0] + 36, PARENT, 16);
  assert_memory_not_equal(one.traceparent[0] + 36, two.traceparent[0] + 36, 16);
  assert_string_equal(one.traceparent[0] + 53, "01");
  /* the tracestate lines were combined, and passed on */
  assert_int_equal(one.n_tracestate, 1);
  assert_string_equal(one.tracestate[0], "a=1,b=2,c=3");
  assert_string_equal(two.tracestate[0], "a=1,b=2,c=3");
  assert_string_equal(one.baggage, "user=alice");
  assert_string_equal(two.baggage, "user=alice");
  stop_service();

  json_t *all = load_spans();
  json_t *server = find(all, "POST /test", NULL, NULL);
  assert_non_null(server);
  assert_string_equal(sget(server, "parentSpanId"), PARENT);
  assert_string_equal(sget(server, "traceState"), "a=1,b=2,c=3");
  char pid[17];
  snprintf(pid, sizeof pid, "%.16s", one.traceparent[0] + 36);
  json_t *client = find(all, "POST", "spanId", pid); /* the sent parent id is a CLIENT span */
  assert_non_null(client);
  assert_int_equal(json_integer_value(json_object_get(client, "kind")), 3);
  assert_string_equal(sget(client, "parentSpanId"), sget(server, "spanId"));
  json_decref(all);
}

static void test_malformed_traceparent_restarts(void **state) {
  (void)state;
  char body[4096];
  /* invalid flags field: the trace restarts and the tracestate is dropped */
  const char *bad = "traceparent: 00-" TRACE "-" PARENT "-zz\r\ntracestate: a=1\r\n";
  assert_int_equal(request(g_svc.port, "GET", "/work", bad, NULL, body, sizeof body), 200);
  json_error_t err;
  json_t *o = json_loads(body, 0, &err);
  assert_non_null(o);
  const char *tid = json_string_value(json_object_get(o, "trace_id"));
  assert_non_null(tid);
  assert_int_equal(strlen(tid), 32);
  assert_string_not_equal(tid, TRACE);
  json_decref(o);

  char calls[256];
  snprintf(calls, sizeof calls, "[{\"url\":\"http://127.0.0.1:%d/x\",\"arguments\":[]}]",
           g_recv.port);
  assert_int_equal(request(g_svc.port, "POST", "/test", bad, calls, body, sizeof body), 200);
  pthread_mutex_lock(&g_recv.mu);
  assert_int_equal(g_recv.n, 1);
  received_t r = g_recv.got[0];
  pthread_mutex_unlock(&g_recv.mu);
  assert_int_equal(r.n_traceparent, 1);
  assert_memory_not_equal(r.traceparent[0] + 3, TRACE, 32);
  assert_int_equal(r.n_tracestate, 0);
  stop_service();

  json_t *all = load_spans();
  json_t *server = find(all, "GET /work", NULL, NULL);
  assert_non_null(server);
  assert_string_equal(sget(server, "parentSpanId"), ""); /* a root */
  json_decref(all);
}

static void test_bad_requests(void **state) {
  (void)state;
  char body[256];
  assert_int_equal(request(g_svc.port, "GET", "/nope", NULL, NULL, body, sizeof body), 404);
  assert_int_equal(request(g_svc.port, "POST", "/test", NULL, "{not json", body, sizeof body), 400);
  assert_int_equal(request(g_svc.port, "POST", "/test", NULL, "{\"a\":1}", body, sizeof body), 400);
  /* an unreachable url: the call fails, the request still completes */
  assert_int_equal(
      request(g_svc.port, "POST", "/test", NULL,
              "[{\"url\":\"http://127.0.0.1:1/\",\"arguments\":[]}]", body, sizeof body),
      200);
  /* a malformed request is answered 400 and closed; the service lives on */
  char raw[4096];
  assert_int_equal(exchange(g_svc.port, "BLAH\r\n\r\n", 8, raw, sizeof raw), 400);
  assert_non_null(strstr(raw, "Connection: close\r\n"));
  assert_int_equal(request(g_svc.port, "GET", "/work", NULL, NULL, body, sizeof body), 200);
  stop_service();
  json_t *all = load_spans();
  json_t *client = find(all, "POST", NULL, NULL);
  assert_non_null(client);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(client, "status"), "code")),
                   2);
  json_t *bad = find_attr(all, "HTTP", "error.type", "400"); /* the malformed one */
  assert_non_null(bad);
  assert_string_equal(otlp_json_attr_str(bad, "http.request.method"), "_OTHER");
  assert_int_equal(status_code(bad), 2);
  json_decref(all);
}

/* Without --w3c-test-endpoint, POST /test is an unknown route: nothing is fetched. */
static void test_test_endpoint_off_by_default(void **state) {
  (void)state;
  char calls[256], body[256];
  snprintf(calls, sizeof calls, "[{\"url\":\"http://127.0.0.1:%d/x\",\"arguments\":[]}]",
           g_recv.port);
  assert_int_equal(request(g_svc.port, "POST", "/test", NULL, calls, body, sizeof body), 404);
  usleep(100000);
  assert_int_equal(receiver_count(), 0);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find(all, "POST", NULL, NULL); /* {method} only: no route, no trailing space */
  assert_non_null(sp);
  assert_string_equal(otlp_json_attr_str(sp, "http.route"), "(unset)");
  assert_null(find(all, "POST ", NULL, NULL));
  assert_null(find(all, "POST /test", NULL, NULL));
  json_decref(all);
}

/* Only http and https, checked before any call; more calls than --max-calls: 400, none made. */
static void test_test_refuses_other_schemes_and_too_many(void **state) {
  (void)state;
  char body[256], calls[512];
  const char *bad[] = {"gopher://127.0.0.1:%d/_hello", "dict://127.0.0.1:%d/d:x",
                       "file:///etc/hostname", "ftp://127.0.0.1:%d/", "127.0.0.1:%d/noscheme"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char url[128];
    snprintf(url, sizeof url, bad[i], g_recv.port);
    snprintf(calls, sizeof calls,
             "[{\"url\":\"http://127.0.0.1:%d/ok\",\"arguments\":[]},"
             "{\"url\":\"%s\",\"arguments\":[]}]",
             g_recv.port, url);
    assert_int_equal(request(g_svc.port, "POST", "/test", NULL, calls, body, sizeof body), 400);
  }
  snprintf(calls, sizeof calls,
           "[{\"url\":\"http://127.0.0.1:%d/1\"},{\"url\":\"http://127.0.0.1:%d/2\"},"
           "{\"url\":\"http://127.0.0.1:%d/3\"}]",
           g_recv.port, g_recv.port, g_recv.port);
  assert_int_equal(request(g_svc.port, "POST", "/test", NULL, calls, body, sizeof body), 400);
  usleep(100000);
  assert_int_equal(receiver_count(), 0); /* not even the valid first entries */
  stop_service();
}

/* Credentials in a URL are never sent and recorded redacted; redirects are not followed; the
 * CLIENT span has the network attributes of the actual connection. */
static void test_test_credentials_and_redirects(void **state) {
  (void)state;
  g_recv.redirect = 1;
  char calls[512], body[256];
  snprintf(calls, sizeof calls,
           "[{\"url\":\"http://alice:s3cret@127.0.0.1:%d/x?sig=abc&a=1\",\"arguments\":[]}]",
           g_recv.port);
  assert_int_equal(request(g_svc.port, "POST", "/test", NULL, calls, body, sizeof body), 200);
  usleep(200000);
  assert_int_equal(receiver_count(), 1); /* the 302 was not followed */
  pthread_mutex_lock(&g_recv.mu);
  received_t r = g_recv.got[0];
  pthread_mutex_unlock(&g_recv.mu);
  assert_string_equal(r.path, "/x?sig=abc&a=1");
  assert_string_equal(r.authorization, ""); /* never sent */
  stop_service();
  json_t *all = load_spans();
  size_t i;
  json_t *sp, *client = NULL;
  json_array_foreach(all, i, sp) {
    if (json_integer_value(json_object_get(sp, "kind")) == 3) client = sp;
  }
  assert_non_null(client);
  char want[256];
  snprintf(want, sizeof want, "http://REDACTED:REDACTED@127.0.0.1:%d/x?sig=REDACTED&a=1",
           g_recv.port);
  assert_string_equal(otlp_json_attr_str(client, "url.full"), want);
  assert_string_equal(otlp_json_attr_str(client, "server.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(client, "server.port"), g_recv.port);
  assert_string_equal(otlp_json_attr_str(client, "network.peer.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(client, "network.peer.port"), g_recv.port);
  assert_string_equal(otlp_json_attr_str(client, "network.protocol.version"), "1.1");
  assert_int_equal(otlp_json_attr_int(client, "http.response.status_code"), 302);
  /* nothing in the export carries the password */
  FILE *f = fopen(SPANS, "r");
  char line[65536];
  while (fgets(line, sizeof line, f) != NULL) assert_null(strstr(line, "s3cret"));
  fclose(f);
  json_decref(all);
}

/* SERVER span attributes from the actual request. */
static void test_server_span_conventions(void **state) {
  (void)state;
  char raw[8192];
  int fd = connect_to(g_svc.port);
  assert_true(fd >= 0);
  struct sockaddr_in me;
  socklen_t ml = sizeof me;
  getsockname(fd, (struct sockaddr *)&me, &ml);
  static const char req10[] = "GET /work?x=1&y=two HTTP/1.0\r\nUser-Agent: test-agent/1.0\r\n\r\n";
  write_all(fd, req10, sizeof req10 - 1);
  set_timeout(fd, 5000);
  read_all(fd, raw, sizeof raw);
  close(fd);
  assert_memory_equal(raw, "HTTP/1.1 200", 12);
  assert_int_equal(
      exchange(g_svc.port, "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n", 41, raw, sizeof raw),
      404);
  static const char pf[] = "PROPFIND /dav HTTP/1.1\r\nConnection: close\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, pf, sizeof pf - 1, raw, sizeof raw), 404);
  /* HEAD: the head of the answer only, so that a kept-alive connection stays in step */
  static const char hd[] =
      "HEAD /nope HTTP/1.1\r\n\r\nHEAD /nope HTTP/1.1\r\nConnection: close\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, hd, sizeof hd - 1, raw, sizeof raw), 404);
  char *second = strstr(raw + 1, "HTTP/1.1 404");
  assert_non_null(second);
  assert_memory_equal(second - 4, "\r\n\r\n", 4); /* no body between the two */
  assert_null(strstr(raw, "not found"));
  stop_service();
  json_t *all = load_spans();
  json_t *work = find(all, "GET /work", NULL, NULL);
  assert_non_null(work);
  assert_string_equal(otlp_json_attr_str(work, "http.request.method"), "GET");
  assert_string_equal(otlp_json_attr_str(work, "http.route"), "/work");
  assert_string_equal(otlp_json_attr_str(work, "url.path"), "/work");
  assert_string_equal(otlp_json_attr_str(work, "url.query"), "x=1&y=two");
  assert_string_equal(otlp_json_attr_str(work, "url.scheme"), "http");
  assert_string_equal(otlp_json_attr_str(work, "network.protocol.version"), "1.0");
  assert_string_equal(otlp_json_attr_str(work, "user_agent.original"), "test-agent/1.0");
  assert_string_equal(otlp_json_attr_str(work, "client.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(work, "client.port"), ntohs(me.sin_port));
  assert_string_equal(otlp_json_attr_str(work, "network.peer.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(work, "network.peer.port"), ntohs(me.sin_port));
  assert_string_equal(otlp_json_attr_str(work, "server.address"), "127.0.0.1");
  assert_int_equal(otlp_json_attr_int(work, "server.port"), g_svc.port);
  assert_int_equal(otlp_json_attr_int(work, "http.response.status_code"), 200);
  assert_string_equal(otlp_json_attr_str(work, "error.type"), "(unset)");
  json_t *nope = find(all, "GET", NULL, NULL); /* unmatched route: "{method}" */
  assert_non_null(nope);
  assert_string_equal(otlp_json_attr_str(nope, "url.path"), "/nope");
  assert_string_equal(otlp_json_attr_str(nope, "url.query"), "(unset)");
  assert_string_equal(otlp_json_attr_str(nope, "network.protocol.version"), "1.1");
  assert_string_equal(otlp_json_attr_str(nope, "http.route"), "(unset)");
  assert_int_equal(status_code(nope), 0); /* 4xx leaves a SERVER span's status unset */
  assert_string_equal(otlp_json_attr_str(nope, "error.type"), "(unset)");
  json_t *other = find(all, "HTTP", NULL, NULL); /* a method not known: _OTHER, named HTTP */
  assert_non_null(other);
  assert_string_equal(otlp_json_attr_str(other, "http.request.method"), "_OTHER");
  assert_string_equal(otlp_json_attr_str(other, "http.request.method_original"), "PROPFIND");
  json_decref(all);
}

/* OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS replaces the list of known methods. */
static void test_known_methods_override(void **state) {
  (void)state;
  char raw[4096];
  static const char pf[] = "PROPFIND /dav HTTP/1.1\r\nConnection: close\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, pf, sizeof pf - 1, raw, sizeof raw), 404);
  static const char po[] = "POST /x HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, po, sizeof po - 1, raw, sizeof raw), 404);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find(all, "PROPFIND", NULL, NULL);
  assert_non_null(sp);
  assert_string_equal(otlp_json_attr_str(sp, "http.request.method"), "PROPFIND");
  assert_string_equal(otlp_json_attr_str(sp, "http.request.method_original"), "(unset)");
  sp = find_attr(all, "HTTP", "http.request.method_original", "POST"); /* not in the list */
  assert_non_null(sp);
  json_decref(all);
}

/* Headers, target and body over their limits: 431, 414, 413, answered and closed. */
static void test_limits_sizes(void **state) {
  (void)state;
  static char req[16384], raw[8192];
  char big[2048];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  int n = snprintf(req, sizeof req, "GET /work HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
  assert_int_equal(exchange(g_svc.port, req, (size_t)n, raw, sizeof raw), 431);
  assert_non_null(strstr(raw, "Connection: close"));
  n = snprintf(req, sizeof req, "GET /%s HTTP/1.1\r\n\r\n", big);
  assert_int_equal(exchange(g_svc.port, req, (size_t)n, raw, sizeof raw), 414);
  n = 0; /* too many header lines */
  n += snprintf(req + n, sizeof req - (size_t)n, "GET /work HTTP/1.1\r\n");
  for (int i = 0; i < 120; i++) n += snprintf(req + n, sizeof req - (size_t)n, "a%d: b\r\n", i);
  n += snprintf(req + n, sizeof req - (size_t)n, "\r\n");
  assert_int_equal(exchange(g_svc.port, req, (size_t)n, raw, sizeof raw), 431);
  /* Content-Length over the limit: refused before the body is sent */
  static const char cl[] = "POST /test HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, cl, sizeof cl - 1, raw, sizeof raw), 413);
  /* a chunked body growing over it */
  n = snprintf(req, sizeof req, "POST /test HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (int i = 0; i < 3; i++)
    n += snprintf(req + n, sizeof req - (size_t)n, "190\r\n%.400s\r\n", big);
  assert_int_equal(exchange(g_svc.port, req, (size_t)n, raw, sizeof raw), 413);
  /* within the limits all is well */
  char body[4096];
  assert_int_equal(request(g_svc.port, "GET", "/work", "X-Small: 1\r\n", NULL, body, sizeof body),
                   200);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find_attr(all, "GET", "error.type", "431");
  assert_non_null(sp);
  assert_int_equal(otlp_json_attr_int(sp, "http.response.status_code"), 431);
  assert_int_equal(status_code(sp), 2);
  assert_non_null(find_attr(all, "GET", "error.type", "414"));
  assert_non_null(find_attr(all, "POST", "error.type", "413"));
  json_decref(all);
}

/* Slowloris: headers trickling in are cut at --header-timeout with 408; a body too slow at
 * --request-timeout; an idle connection closes at --idle-timeout; others are served meanwhile. */
static void test_limits_timeouts(void **state) {
  (void)state;
  enum { SLOW = 4 };
  int fds[SLOW];
  double t0 = now_ms();
  for (int i = 0; i < SLOW; i++) {
    fds[i] = connect_to(g_svc.port);
    assert_true(fds[i] >= 0);
    write_all(fds[i], "GET /work HTTP/1.1\r\nHost: x\r\n", 29);
  }
  char body[4096];
  for (int k = 0; k < 3; k++) { /* a header line every 100 ms, each connection */
    usleep(100000);
    for (int i = 0; i < SLOW; i++) write_all(fds[i], "X-Drip: 1\r\n", 11);
  }
  assert_int_equal(request(g_svc.port, "GET", "/work", NULL, NULL, body, sizeof body), 200);
  for (int i = 0; i < SLOW; i++) {
    char raw[4096];
    set_timeout(fds[i], 3000);
    read_all(fds[i], raw, sizeof raw);
    assert_memory_equal(raw, "HTTP/1.1 408", 12);
    close(fds[i]);
  }
  double took = now_ms() - t0;
  assert_true(took >= 290 && took < 1500);
  /* a body that never completes: 408 at the request timeout (600 ms from the first byte) */
  int fd = connect_to(g_svc.port);
  t0 = now_ms();
  static const char partial[] = "POST /test HTTP/1.1\r\nContent-Length: 100\r\n\r\n[1,";
  write_all(fd, partial, sizeof partial - 1);
  char raw[4096];
  set_timeout(fd, 3000);
  read_all(fd, raw, sizeof raw);
  close(fd);
  assert_memory_equal(raw, "HTTP/1.1 408", 12);
  took = now_ms() - t0;
  assert_true(took >= 590 && took < 2000);
  /* idle: closed without a response */
  fd = connect_to(g_svc.port);
  t0 = now_ms();
  set_timeout(fd, 3000);
  assert_int_equal(read_all(fd, raw, sizeof raw), 0);
  took = now_ms() - t0;
  close(fd);
  assert_true(took >= 390 && took < 2000);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find_attr(all, "GET", "error.type", "408");
  assert_non_null(sp);
  assert_int_equal(otlp_json_attr_int(sp, "http.response.status_code"), 408);
  assert_non_null(find_attr(all, "POST", "error.type", "408"));
  json_decref(all);
}

/* Over --max-connections: 503 at once, closed; a slot freed is usable again. */
static void test_limits_connection_cap(void **state) {
  (void)state;
  int fds[6];
  for (int i = 0; i < 6; i++) {
    fds[i] = connect_to(g_svc.port);
    assert_true(fds[i] >= 0);
  }
  usleep(50000);
  char raw[4096];
  static const char get[] = "GET /work HTTP/1.1\r\nConnection: close\r\n\r\n";
  assert_int_equal(exchange(g_svc.port, get, sizeof get - 1, raw, sizeof raw), 503);
  assert_non_null(strstr(raw, "Retry-After: 1\r\n"));
  close(fds[0]);
  usleep(100000);
  assert_int_equal(exchange(g_svc.port, get, sizeof get - 1, raw, sizeof raw), 200);
  for (int i = 1; i < 6; i++) close(fds[i]);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find_attr(all, "HTTP", "error.type", "503");
  assert_non_null(sp);
  assert_int_equal(status_code(sp), 2);
  assert_string_equal(otlp_json_attr_str(sp, "client.address"), "127.0.0.1");
  json_decref(all);
}

/* --host: an IPv6 loopback listener; server.address says so. */
static int setup_ipv6(void **state) {
  (void)state;
  static const char *const args[] = {"--host", "::1", NULL};
  return setup_with(args, NULL);
}

static void test_listen_ipv6(void **state) {
  (void)state;
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)g_svc.port)};
  a.sin6_addr = in6addr_loopback;
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  static const char get[] = "GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n";
  write_all(fd, get, sizeof get - 1);
  char raw[4096];
  set_timeout(fd, 5000);
  read_all(fd, raw, sizeof raw);
  close(fd);
  assert_memory_equal(raw, "HTTP/1.1 404", 12);
  stop_service();
  json_t *all = load_spans();
  json_t *sp = find(all, "GET", NULL, NULL);
  assert_non_null(sp);
  assert_string_equal(otlp_json_attr_str(sp, "server.address"), "::1");
  assert_string_equal(otlp_json_attr_str(sp, "client.address"), "::1");
  json_decref(all);
}

/* Bad flags: usage and exit status 2; an address that is not one: exit status 1. */
static void test_bad_flags(void **state) {
  (void)state;
  const char *cases[][4] = {{"--bogus", NULL, NULL, NULL},
                            {"--port", "70000", NULL, NULL},
                            {"--max-header-bytes", "12", NULL, NULL},
                            {"--idle-timeout", "-5", NULL, NULL},
                            {"--port", NULL, NULL, NULL},
                            {"--host", "not-an-address", "--port", "0"}};
  const int want[] = {2, 2, 2, 2, 2, 1};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    char *argv[6] = {(char *)HTTP_SERVICE_BIN};
    for (int k = 0; k < 4 && cases[i][k] != NULL; k++) argv[k + 1] = (char *)cases[i][k];
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, HTTP_SERVICE_BIN, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), want[i]);
  }
  stop_service();
}

#if __has_include("otlp_receiver.h") /* the OTLP exporter and its test receiver are built */
/* Spans of requests in flight at SIGTERM reach an OTLP collector that answers 503 twice first:
 * the default shutdown deadline covers the exporter's retries. */
static void test_sigterm_flushes_over_otlp_with_retries(void **state) {
  (void)state;
  stop_service(); /* the setup's file-exporting one */
  otlp_receiver_faults_t faults = {0};
  faults.fail_first_n = 2;
  otlp_receiver_t *recv;
  assert_int_equal(otlp_receiver_start(&recv, 0, &faults), 0);
  char endpoint[128];
  snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d",
           otlp_receiver_port(recv));
  const char *const env[] = {"OTEL_TRACES_EXPORTER=otlp", endpoint, NULL};
  start_service(NULL, env);
  enum { N = 10 };
  int fds[N];
  for (int i = 0; i < N; i++) {
    fds[i] = connect_to(g_svc.port);
    write_all(fds[i], "GET /work HTTP/1.1\r\n\r\n", 22);
  }
  usleep(50000);
  double t0 = now_ms();
  stop_service(); /* exit status 0: every span delivered */
  double took = now_ms() - t0;
  for (int i = 0; i < N; i++) close(fds[i]);
  otlp_receiver_counts_t c = otlp_receiver_counts(recv);
  printf("stopped in %.0f ms; receiver: %zu requests, %zu accepted, %zu spans\n", took, c.requests,
         c.accepted, c.spans);
  assert_true(c.requests >= 3);     /* two refused, then delivered */
  assert_int_equal(c.spans, N * 5); /* SERVER + fs open/read/close + dns lookup each */
  otlp_receiver_stop(recv);
}
#endif

/* Bodies no route reads are counted and dropped: 60 connections each holding 60000 bytes of an
 * unfinished POST /nope body cost the service no memory for them. */
static void test_unread_bodies_not_buffered(void **state) {
  (void)state;
  enum { N = 60, BODY = 60000 };
  static char chunk[BODY];
  memset(chunk, 'b', sizeof chunk);
  long before = rss_kb(g_svc.pid);
  int fds[N];
  char head[128];
  int hn =
      snprintf(head, sizeof head, "POST /nope HTTP/1.1\r\nContent-Length: %d\r\n\r\n", BODY + 1);
  for (int i = 0; i < N; i++) {
    fds[i] = connect_to(g_svc.port);
    assert_true(fds[i] >= 0);
    write_all(fds[i], head, (size_t)hn);
    write_all(fds[i], chunk, sizeof chunk); /* one byte short */
  }
  usleep(300000);
  long held = rss_kb(g_svc.pid);
  printf("rss before %ld KiB, with %d bodies held %ld KiB\n", before, N, held);
  assert_true(before > 0 && held > 0);
  assert_true(held - before < 1536); /* KiB; buffered they would be 3.5 MB */
  for (int i = 0; i < N; i++) {      /* the last byte: each is answered 404 */
    write_all(fds[i], "b", 1);
    char raw[4096], *rb;
    read_message(fds[i], raw, sizeof raw, &rb);
    assert_memory_equal(raw, "HTTP/1.1 404", 12);
    close(fds[i]);
  }
  stop_service();
}

/* Started with 128 open files: the default cap is 64 connections, so 70 idle clients cannot
 * lock others out: the 65th on gets 503 at once, and a slot freed is usable. */
static int setup_nofile(void **state) {
  (void)state;
  struct rlimit old, low;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
  low = old;
  low.rlim_cur = 128;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0); /* inherited by the service */
  int rc = setup_with(NULL, NULL);
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
  return rc;
}

static void test_default_connection_cap(void **state) {
  (void)state;
  enum { IDLE = 70 };
  int fds[IDLE];
  for (int i = 0; i < IDLE; i++) {
    fds[i] = connect_to(g_svc.port);
    assert_true(fds[i] >= 0);
  }
  /* those over the cap are answered 503 and closed; the others stay silent */
  int refused = 0, done[IDLE] = {0};
  double until = now_ms() + 3000, settle = 0;
  while (now_ms() < until && (settle == 0 || now_ms() < settle)) {
    struct pollfd pf[IDLE];
    for (int i = 0; i < IDLE; i++) pf[i] = (struct pollfd){done[i] ? -1 : fds[i], POLLIN, 0};
    poll(pf, IDLE, 50);
    for (int i = 0; i < IDLE; i++) {
      if (done[i] || !(pf[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[256];
      ssize_t r = read(fds[i], buf, sizeof buf - 1);
      done[i] = 1;
      if (r > 12 && memcmp(buf, "HTTP/1.1 503", 12) == 0) refused++;
    }
    if (refused >= IDLE - 64 && settle == 0) settle = now_ms() + 200; /* and no more */
  }
  assert_int_equal(refused, IDLE - 64);
  char raw[4096];
  static const char get[] = "GET /work HTTP/1.1\r\nConnection: close\r\n\r\n";
  double t0 = now_ms();
  assert_int_equal(exchange(g_svc.port, get, sizeof get - 1, raw, sizeof raw), 503);
  assert_true(now_ms() - t0 < 1000); /* at once, not after a timeout */
  for (int i = 0; i < IDLE; i++) close(fds[i]);
  usleep(100000);
  assert_int_equal(exchange(g_svc.port, get, sizeof get - 1, raw, sizeof raw), 200);
  stop_service();
}

/* A client that pipelines 2000 requests and closes without reading: the service gets EPIPE or
 * ECONNRESET on its writes, not SIGPIPE, and lives on. */
static void test_pipeline_close_without_reading(void **state) {
  (void)state;
  enum { N = 20000 };
  static char req[N * 40];
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    n += (size_t)snprintf(req + n, sizeof req - n, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  for (int k = 0; k < 6; k++) {
    int fd = connect_to(g_svc.port);
    if (fd < 0) break; /* the service is gone */
    /* all of it (or as much as goes before the service answers), then close at once: the
     * service is still writing answers when the peer's reset comes */
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    size_t off = 0;
    while (off < n) {
      ssize_t w = send(fd, req + off, n - off, MSG_DONTWAIT);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) break;
      off += (size_t)w;
    }
    if (k % 2 == 1) { /* and a reset, for good measure */
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
    usleep(50000);
  }
  usleep(200000);
  int st = 0;
  pid_t gone = waitpid(g_svc.pid, &st, WNOHANG);
  if (gone == g_svc.pid) {
    g_svc.pid = 0;
    fail_msg("the service died: %s %d", WIFSIGNALED(st) ? "signal" : "exit status",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  }
  char body[4096];
  assert_int_equal(request(g_svc.port, "GET", "/work", NULL, NULL, body, sizeof body), 200);
  stop_service(); /* exit status 0, not 141 (SIGPIPE) */
}

typedef struct pipe_writer_s {
  int fd;
  const char *data;
  size_t len;
  size_t written; /* atomically read by the test */
} pipe_writer_t;

static void *pipe_write(void *arg) {
  pipe_writer_t *w = arg;
  size_t off = 0;
  while (off < w->len) {
    size_t chunk = w->len - off < 65536 ? w->len - off : 65536;
    ssize_t r = write(w->fd, w->data + off, chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    off += (size_t)r;
    __atomic_store_n(&w->written, off, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* 24 MB pipelined behind one slow request (its call held 800 ms by the receiver): the service
 * buffers at most --max-buffered-bytes, stops reading (the sender blocks), and once the slow
 * request is answered reads on and answers every request. */
static void test_pipeline_backpressure(void **state) {
  (void)state;
  enum { N = 24000, PAD = 960 };
  g_recv.delay_ms = 800;
  static char req[N * (PAD + 64) + 1024];
  char calls[256];
  snprintf(calls, sizeof calls, "[{\"url\":\"http://127.0.0.1:%d/slow\",\"arguments\":[]}]",
           g_recv.port);
  size_t n =
      (size_t)snprintf(req, sizeof req, "POST /test HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                       strlen(calls), calls);
  char pad[PAD + 1];
  memset(pad, 'p', PAD);
  pad[PAD] = '\0';
  for (int i = 0; i < N; i++) {
    n += (size_t)snprintf(req + n, sizeof req - n, "GET /nope HTTP/1.1\r\nX-Pad: %s\r\n\r\n", pad);
  }
  long before = rss_kb(g_svc.pid);
  int fd = connect_to(g_svc.port);
  pipe_writer_t w = {fd, req, n, 0};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, pipe_write, &w), 0);
  assert_int_equal(receiver_wait(1), 1);
  usleep(300000); /* the slow request is in flight; the rest waits */
  long stalled = rss_kb(g_svc.pid);
  size_t written = __atomic_load_n(&w.written, __ATOMIC_RELAXED);
  set_timeout(fd, 10000);
  static char buf[65536];
  int answered = 0, ok = 0;
  char window[16] = {0};
  while (answered < N) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r <= 0) break;
    for (ssize_t i = 0; i < r; i++) { /* count status lines */
      memmove(window, window + 1, sizeof window - 1);
      window[sizeof window - 1] = buf[i];
      if (memcmp(window + sizeof window - 12, "HTTP/1.1 404", 12) == 0) answered++;
      if (memcmp(window + sizeof window - 12, "HTTP/1.1 200", 12) == 0) ok++;
    }
  }
  pthread_join(t, NULL);
  close(fd);
  printf("rss before %ld KiB, stalled %ld KiB; %zu of %zu bytes sent while stalled\n", before,
         stalled, written, n);
  assert_int_equal(ok, 1);
  assert_int_equal(answered, N);
  assert_true(before > 0 && stalled > 0);
  assert_true(written < n);                 /* the service stopped reading */
  assert_true(stalled - before < 4 * 1024); /* KiB: far less than the 24 MB sent */
  stop_service();
}

/* Requests in flight at SIGTERM are all answered and their spans exported: 40 GET /work and
 * 5 POST /test whose calls the receiver holds for 300 ms. */
static void test_sigterm_drains_in_flight(void **state) {
  (void)state;
  g_recv.delay_ms = 500;
  enum { NW = 40, NT = 5 };
  int fds[NW + NT];
  char calls[256], req[512];
  snprintf(calls, sizeof calls, "[{\"url\":\"http://127.0.0.1:%d/slow\",\"arguments\":[]}]",
           g_recv.port);
  for (int i = 0; i < NW; i++) { /* accepted for sure: one request answered, kept alive */
    fds[i] = connect_to(g_svc.port);
    write_all(fds[i], "GET /work HTTP/1.1\r\n\r\n", 22);
    char first[4096], *rb;
    read_message(fds[i], first, sizeof first, &rb);
    assert_memory_equal(first, "HTTP/1.1 200", 12);
  }
  int idle = connect_to(g_svc.port); /* an idle keep-alive connection: closed */
  {
    char first[4096], *rb;
    write_all(idle, "GET /work HTTP/1.1\r\n\r\n", 22);
    read_message(idle, first, sizeof first, &rb);
  }
  for (int i = 0; i < NT; i++) {
    fds[NW + i] = connect_to(g_svc.port);
    int n = snprintf(req, sizeof req, "POST /test HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                     strlen(calls), calls);
    write_all(fds[NW + i], req, (size_t)n);
  }
  assert_int_equal(receiver_wait(NT), NT); /* all calls in flight (held 300 ms) */
  for (int i = 0; i < NW; i++) write_all(fds[i], "GET /work HTTP/1.1\r\n\r\n", 22);
  double t0 = now_ms();
  kill(g_svc.pid, SIGTERM);
  for (int i = 0; i < NW + NT; i++) {
    char raw[4096];
    set_timeout(fds[i], 5000);
    read_all(fds[i], raw, sizeof raw);
    close(fds[i]);
    assert_memory_equal(raw, "HTTP/1.1 200", 12);
    /* then closed (read_all saw the end); those surely in flight were told so; a GET /work
     * may have been answered just before the signal */
    if (i >= NW) assert_non_null(strstr(raw, "Connection: close\r\n"));
  }
  char raw[64];
  set_timeout(idle, 5000);
  assert_int_equal(read_all(idle, raw, sizeof raw), 0);
  close(idle);
  assert_true(now_ms() - t0 < 3000); /* every one closed, none waited for the read timeout */
  int st;
  while (waitpid(g_svc.pid, &st, 0) < 0 && errno == EINTR) {
  }
  g_svc.pid = 0;
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  json_t *all = load_spans();
  assert_int_equal(count_named(all, "GET /work"), 2 * NW + 1);
  assert_int_equal(count_named(all, "POST /test"), NT);
  assert_int_equal(count_named(all, "POST"), NT); /* their CLIENT spans */
  json_decref(all);
}

/* A request still running at the drain deadline is answered 503 (its call aborted), its span
 * exported, and the service exits 0; SIGINT works as SIGTERM. */
static void test_drain_deadline(void **state) {
  (void)state;
  g_recv.delay_ms = 3000;
  char calls[256], req[512];
  snprintf(calls, sizeof calls, "[{\"url\":\"http://127.0.0.1:%d/stuck\",\"arguments\":[]}]",
           g_recv.port);
  int fd = connect_to(g_svc.port);
  int n = snprintf(req, sizeof req, "POST /test HTTP/1.1\r\nContent-Length: %zu\r\n\r\n%s",
                   strlen(calls), calls);
  write_all(fd, req, (size_t)n);
  assert_int_equal(receiver_wait(1), 1);
  double t0 = now_ms();
  kill(g_svc.pid, SIGINT);
  char raw[4096];
  set_timeout(fd, 5000);
  read_all(fd, raw, sizeof raw);
  close(fd);
  assert_memory_equal(raw, "HTTP/1.1 503", 12);
  int st;
  while (waitpid(g_svc.pid, &st, 0) < 0 && errno == EINTR) {
  }
  g_svc.pid = 0;
  double took = now_ms() - t0;
  assert_true(took >= 290 && took < 2500);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
  json_t *all = load_spans();
  json_t *sp = find_attr(all, "POST /test", "error.type", "503");
  assert_non_null(sp);
  json_t *client = find(all, "POST", "parentSpanId", sget(sp, "spanId"));
  assert_non_null(client); /* cancelled on purpose: not an error of the call */
  assert_string_equal(otlp_json_attr_str(client, "error.type"), "(unset)");
  assert_int_equal(status_code(client), 0);
  json_decref(all);
}

int main(void) {
  counting_alloc_install();
  if (HTTP_SERVICE_BIN[0] == '\0') {
    printf("http-service was not built (missing http-parser, jansson or libcurl)\n");
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_work_continues_incoming_trace, setup, teardown),
    cmocka_unit_test_setup_teardown(test_post_test_propagates, setup, teardown),
    cmocka_unit_test_setup_teardown(test_malformed_traceparent_restarts, setup, teardown),
    cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
    cmocka_unit_test_setup_teardown(test_test_endpoint_off_by_default, setup_plain, teardown),
    cmocka_unit_test_setup_teardown(test_test_refuses_other_schemes_and_too_many, setup_limits,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_test_credentials_and_redirects, setup, teardown),
    cmocka_unit_test_setup_teardown(test_server_span_conventions, setup_plain, teardown),
    cmocka_unit_test_setup_teardown(test_known_methods_override, setup_methods, teardown),
    cmocka_unit_test_setup_teardown(test_limits_sizes, setup_limits, teardown),
    cmocka_unit_test_setup_teardown(test_limits_timeouts, setup_limits, teardown),
    cmocka_unit_test_setup_teardown(test_limits_connection_cap, setup_cap, teardown),
#if __has_include("otlp_receiver.h")
    cmocka_unit_test_setup_teardown(test_sigterm_flushes_over_otlp_with_retries, setup_plain,
                                    teardown),
#endif
    cmocka_unit_test_setup_teardown(test_listen_ipv6, setup_ipv6, teardown),
    cmocka_unit_test_setup_teardown(test_bad_flags, setup_plain, teardown),
    cmocka_unit_test_setup_teardown(test_unread_bodies_not_buffered, setup_plain, teardown),
    cmocka_unit_test_setup_teardown(test_default_connection_cap, setup_nofile, teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_close_without_reading, setup_plain, teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_backpressure, setup_buffered, teardown),
    cmocka_unit_test_setup_teardown(test_sigterm_drains_in_flight, setup, teardown),
    cmocka_unit_test_setup_teardown(test_drain_deadline, setup_drain, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
