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
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "counting_alloc.h"

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

#define MAX_RECV 8
typedef struct received_s {
  char path[64];
  char traceparent[8][128];
  int n_traceparent;
  char tracestate[8][256];
  int n_tracestate;
  char baggage[256];
  char body[1024];
} received_t;

static struct {
  int fd, port;
  pthread_t thread;
  pthread_mutex_t mu;
  received_t got[MAX_RECV];
  int n;
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

static void *receiver(void *arg) {
  (void)arg;
  for (;;) {
    int c = accept(g_recv.fd, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      return NULL; /* closed by the test */
    }
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
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    write_all(c, ok, sizeof ok - 1);
    close(c);
    pthread_mutex_lock(&g_recv.mu);
    if (g_recv.n < MAX_RECV) g_recv.got[g_recv.n++] = r;
    pthread_mutex_unlock(&g_recv.mu);
  }
}

/* ---- the service process ---- */

static struct {
  pid_t pid;
  int port;
} g_svc;

static int setup(void **state) {
  (void)state;
  mkdir(TMPDIR, 0755);
  unlink(SPANS);
  /* receiver */
  memset(&g_recv, 0, sizeof g_recv);
  pthread_mutex_init(&g_recv.mu, NULL);
  g_recv.fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(g_recv.fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(g_recv.fd, 16), 0);
  socklen_t al = sizeof a;
  getsockname(g_recv.fd, (struct sockaddr *)&a, &al);
  g_recv.port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&g_recv.thread, NULL, receiver, NULL), 0);

  /* service */
  char *argv[] = {(char *)HTTP_SERVICE_BIN, "--port", "0", NULL};
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "OTEL_", 5) == 0 || strncmp(*e, "UVOTEL_", 7) == 0) continue;
    envp[n++] = *e;
  }
  envp[n++] = "OTEL_TRACES_EXPORTER=file";
  envp[n++] = "OTEL_EXPORTER_FILE_PATH=" SPANS;
  envp[n++] = "OTEL_SERVICE_NAME=http-service-test";
  envp[n++] = "UVOTEL_INSTRUMENT=fs,dns";
  envp[n] = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  assert_int_equal(posix_spawn(&g_svc.pid, HTTP_SERVICE_BIN, &fa, NULL, argv, envp), 0);
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
  assert_int_equal(sscanf(line, "listening on 127.0.0.1:%d", &g_svc.port), 1);
  assert_true(g_svc.port > 0);
  return 0;
}

/* Stop the service (SIGTERM: clean shutdown, spans flushed) and the receiver. */
static void stop_service(void) {
  if (g_svc.pid <= 0) return;
  kill(g_svc.pid, SIGTERM);
  int st;
  while (waitpid(g_svc.pid, &st, 0) < 0 && errno == EINTR) {
  }
  g_svc.pid = 0;
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static int teardown(void **state) {
  (void)state;
  stop_service();
  shutdown(g_recv.fd, SHUT_RDWR);
  close(g_recv.fd);
  pthread_join(g_recv.thread, NULL);
  return 0;
}

/* ---- spans ---- */

static json_t *load_spans(void) {
  FILE *f = fopen(SPANS, "r");
  assert_non_null(f);
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
        json_array_foreach(json_object_get(ss, "spans"), k, sp) {
          json_array_append(all, sp);
        }
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
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
  /* a malformed request line closes the connection without a crash; the service lives on */
  int fd = connect_to(g_svc.port);
  assert_true(fd >= 0);
  write_all(fd, "BLAH\r\n\r\n", 8);
  char tmp[64];
  while (read(fd, tmp, sizeof tmp) > 0) {
  }
  close(fd);
  assert_int_equal(request(g_svc.port, "GET", "/work", NULL, NULL, body, sizeof body), 200);
  stop_service();
  json_t *all = load_spans();
  json_t *client = find(all, "POST", NULL, NULL);
  assert_non_null(client);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(client, "status"), "code")),
                   2);
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
