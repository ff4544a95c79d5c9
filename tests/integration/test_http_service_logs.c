/* examples/http-service over OTLP/HTTP: its spans (POST /v1/traces) and its one-record-per-
 * request logs (POST /v1/logs) reach the loopback receiver, which decodes both with protobuf-c;
 * every request's record carries the trace id and span id of that request's SERVER span, and
 * both signals carry the same resource. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "otlp_receiver.h"

extern char **environ;

#define N_REQUESTS 5

static int http_get(int port, const char *path, char *out, size_t cap) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  char req[256];
  int n =
      snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
  if (write(fd, req, (size_t)n) != n) return -1;
  size_t len = 0;
  ssize_t r;
  while (len < cap - 1 && (r = read(fd, out + len, cap - 1 - len)) > 0) len += (size_t)r;
  out[len] = '\0';
  close(fd);
  return 0;
}

typedef struct span_seen_s {
  size_t n;
  uint8_t trace[16][16], span[16][8];
  char svc[64];
} span_seen_t;

static void on_span(void *arg, const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs,
                    const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss,
                    const Opentelemetry__Proto__Trace__V1__Span *sp) {
  (void)ss;
  span_seen_t *s = arg;
  for (size_t i = 0; i < rs->resource->n_attributes; i++) {
    if (strcmp(rs->resource->attributes[i]->key, "service.name") == 0) {
      snprintf(s->svc, sizeof s->svc, "%s", rs->resource->attributes[i]->value->string_value);
    }
  }
  if (sp->kind != OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_SERVER) return;
  if (s->n < 16 && sp->trace_id.len == 16 && sp->span_id.len == 8) {
    memcpy(s->trace[s->n], sp->trace_id.data, 16);
    memcpy(s->span[s->n], sp->span_id.data, 8);
    s->n++;
  }
}

typedef struct log_seen_s {
  span_seen_t *spans;
  size_t n, matched;
  char svc[64];
  char body[128];
} log_seen_t;

static void on_log(void *arg, const Opentelemetry__Proto__Logs__V1__ResourceLogs *rl,
                   const Opentelemetry__Proto__Logs__V1__ScopeLogs *sl,
                   const Opentelemetry__Proto__Logs__V1__LogRecord *rec) {
  log_seen_t *s = arg;
  s->n++;
  for (size_t i = 0; i < rl->resource->n_attributes; i++) {
    if (strcmp(rl->resource->attributes[i]->key, "service.name") == 0) {
      snprintf(s->svc, sizeof s->svc, "%s", rl->resource->attributes[i]->value->string_value);
    }
  }
  assert_string_equal(sl->scope->name, "uvotel.examples.http-service");
  if (rec->body != NULL && rec->body->string_value != NULL) {
    snprintf(s->body, sizeof s->body, "%s", rec->body->string_value);
  }
  assert_int_equal(rec->severity_number, 9);
  if (rec->trace_id.len != 16 || rec->span_id.len != 8) return;
  for (size_t i = 0; i < s->spans->n; i++) {
    if (memcmp(rec->trace_id.data, s->spans->trace[i], 16) == 0 &&
        memcmp(rec->span_id.data, s->spans->span[i], 8) == 0) {
      s->matched++;
    }
  }
}

static void test_http_service_otlp_logs(void **state) {
  (void)state;
  if (HTTP_SERVICE_BIN[0] == '\0') skip();
  otlp_receiver_t *rx;
  assert_int_equal(otlp_receiver_start(&rx, 0, NULL), 0);
  char endpoint[128];
  snprintf(endpoint, sizeof endpoint, "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d",
           otlp_receiver_port(rx));
  char *argv[] = {(char *)HTTP_SERVICE_BIN, "--port", "0", NULL};
  char *envp[256];
  size_t n = 0;
  for (char **e = environ; *e != NULL && n < 200; e++) {
    if (strncmp(*e, "OTEL_", 5) == 0 || strncmp(*e, "UVOTEL_", 7) == 0) continue;
    envp[n++] = *e;
  }
  envp[n++] = endpoint; /* the example then selects otlp for traces, and logs follow */
  envp[n++] = "OTEL_SERVICE_NAME=http-service-logs";
  envp[n++] = "OTEL_BSP_SCHEDULE_DELAY=50";
  envp[n++] = "OTEL_BLRP_SCHEDULE_DELAY=50";
  envp[n] = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, HTTP_SERVICE_BIN, &fa, NULL, argv, envp), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  char line[128];
  size_t len = 0;
  while (len < sizeof line - 1 && read(fds[0], line + len, 1) == 1 && line[len] != '\n') len++;
  line[len] = '\0';
  close(fds[0]);
  int port = 0;
  assert_int_equal(sscanf(line, "listening on 127.0.0.1:%d", &port), 1);

  static char resp[65536];
  for (int i = 0; i < N_REQUESTS; i++) {
    assert_int_equal(http_get(port, "/work", resp, sizeof resp), 0);
    assert_non_null(strstr(resp, "HTTP/1.1 200"));
  }
  kill(pid, SIGTERM);
  int st;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);

  assert_int_equal(otlp_receiver_wait_logs(rx, N_REQUESTS, 5000), 0);
  span_seen_t spans;
  memset(&spans, 0, sizeof spans);
  otlp_receiver_foreach_span(rx, on_span, &spans);
  assert_int_equal(spans.n, N_REQUESTS);
  log_seen_t logs;
  memset(&logs, 0, sizeof logs);
  logs.spans = &spans;
  otlp_receiver_foreach_log(rx, on_log, &logs);
  assert_int_equal(logs.n, N_REQUESTS);
  assert_int_equal(logs.matched, N_REQUESTS); /* each record: its request's SERVER span */
  assert_string_equal(logs.body, "GET /work -> 200");
  assert_string_equal(logs.svc, "http-service-logs");
  assert_string_equal(spans.svc, "http-service-logs");
  otlp_receiver_counts_t c = otlp_receiver_counts(rx);
  assert_int_equal(c.bad, 0);
  otlp_receiver_stop(rx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http_service_otlp_logs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
