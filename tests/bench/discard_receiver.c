/* discard_receiver: the cheapest OTLP/HTTP receiver that still proves delivery, run by
 * bench_otlp in its own process so that the figure ranks the SDK, not the receiver.
 *
 * One thread, epoll, non-blocking sockets on 127.0.0.1 (ephemeral port). HTTP/1.1 keep-alive
 * with Content-Length bodies (no chunked, no gzip: such a request is answered 415 and counted
 * bad). A POST /v1/traces body is walked, not decoded: ExportTraceServiceRequest.resource_spans
 * (1) -> ResourceSpans.scope_spans (2) -> ScopeSpans.spans (2) are counted by skipping every
 * other field (varint keys and lengths only); a body that does not parse as that nesting is
 * answered 400 and counted bad. A good one is answered 200 with an empty protobuf body (an
 * empty ExportTraceServiceResponse: full success).
 *
 * With `--server-key KEY` (bench_http) it also counts the spans of kind SERVER (Span.kind, field
 * 6, = 2) holding an attribute whose key is KEY (Span.attributes, 9 -> KeyValue.key, 1), and
 * answers POST /v1/logs bodies 200 without looking at them (counted as logs, not bad).
 *
 * Control through stdin/stdout (the parent holds both ends of pipes):
 *   at start it prints "port N\n";
 *   each line read on stdin makes it print one line
 *     "spans S requests R bad B bytes Y cpu_ns C\n"
 *   (cumulative; C is this process's user + system CPU time, getrusage), with
 *   " server V logs L" before the newline under --server-key;
 *   EOF on stdin: it prints that line once more and exits 0.
 * No uvotel code: nothing here is what is being measured. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn_s {
  int fd;
  char *buf;
  size_t len, cap;
} conn_t;

static uint64_t g_spans, g_requests, g_bad, g_bytes, g_server, g_logs;
static const char *g_server_key; /* --server-key, or NULL */
static size_t g_server_key_len;

static uint64_t cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
         ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

static void report(void) {
  printf("spans %llu requests %llu bad %llu bytes %llu cpu_ns %llu", (unsigned long long)g_spans,
         (unsigned long long)g_requests, (unsigned long long)g_bad, (unsigned long long)g_bytes,
         (unsigned long long)cpu_ns());
  if (g_server_key != NULL) {
    printf(" server %llu logs %llu", (unsigned long long)g_server, (unsigned long long)g_logs);
  }
  printf("\n");
  fflush(stdout);
}

/* protobuf walking: 0 on success */
static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return -1;
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* 1 when the KeyValue message [p, end) has key g_server_key (its other fields skipped). */
static int kv_key_is(const uint8_t *p, const uint8_t *end) {
  while (p < end) {
    uint64_t key, v;
    if (varint(&p, end, &key) != 0) return 0;
    if ((key & 7) == 0) {
      if (varint(&p, end, &v) != 0) return 0;
    } else if ((key & 7) == 2) {
      if (varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) return 0;
      if ((key >> 3) == 1) return v == g_server_key_len && memcmp(p, g_server_key, v) == 0;
      p += v;
    } else {
      return 0; /* a KeyValue has only a string key and a message value */
    }
  }
  return 0;
}

/* One Span message [p, end): 1 when its kind is SERVER and an attribute's key is g_server_key,
 * 0 when not, -1 when malformed. */
static int server_span(const uint8_t *p, const uint8_t *end) {
  int server = 0, keyed = 0;
  while (p < end) {
    uint64_t key, v;
    if (varint(&p, end, &key) != 0) return -1;
    switch (key & 7) {
      case 0:
        if (varint(&p, end, &v) != 0) return -1;
        if ((key >> 3) == 6 && v == 2) server = 1;
        break;
      case 1:
        if (end - p < 8) return -1;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return -1;
        p += 4;
        break;
      case 2:
        if (varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) return -1;
        if ((key >> 3) == 9 && !keyed) keyed = kv_key_is(p, p + v);
        p += v;
        break;
      default:
        return -1;
    }
  }
  return server && keyed;
}

/* Walk the fields of [p, end): for each LEN field numbered `want`, call down (depth - 1) or,
 * at depth 0, count it (and, under --server-key, whether it is such a SERVER span: *server).
 * Other fields are skipped. Returns the count, or -1 when malformed. */
static int64_t walk(const uint8_t *p, const uint8_t *end, const uint32_t *path, int depth,
                    uint64_t *server) {
  int64_t n = 0;
  while (p < end) {
    uint64_t key, len;
    if (varint(&p, end, &key) != 0) return -1;
    switch (key & 7) {
      case 0:
        if (varint(&p, end, &len) != 0) return -1;
        break;
      case 1:
        if (end - p < 8) return -1;
        p += 8;
        break;
      case 5:
        if (end - p < 4) return -1;
        p += 4;
        break;
      case 2:
        if (varint(&p, end, &len) != 0 || len > (uint64_t)(end - p)) return -1;
        if ((key >> 3) == path[0]) {
          if (depth == 0) {
            n++;
            if (g_server_key != NULL) {
              int sv = server_span(p, p + len);
              if (sv < 0) return -1;
              *server += (uint64_t)sv;
            }
          } else {
            int64_t k = walk(p, p + len, path + 1, depth - 1, server);
            if (k < 0) return -1;
            n += k;
          }
        }
        p += len;
        break;
      default:
        return -1;
    }
  }
  return n;
}

static void answer(int fd, const char *status) {
  char out[160];
  int n = snprintf(out, sizeof out,
                   "HTTP/1.1 %s\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n"
                   "\r\n",
                   status);
  /* tiny, and the peer reads its answers before sending more on this connection */
  ssize_t w = write(fd, out, (size_t)n);
  (void)w;
}

/* Handle complete requests in c->buf; -1 to close the connection. */
static int serve(conn_t *c) {
  for (;;) {
    char *head_end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (head_end == NULL) return c->len > 65536 ? -1 : 0;
    size_t head_len = (size_t)(head_end - c->buf) + 4;
    size_t body_len = 0;
    int gzip = 0, chunked = 0;
    for (char *line = c->buf; line < head_end;) {
      char *eol = memmem(line, (size_t)(head_end - line) + 2, "\r\n", 2);
      if (eol == NULL) break;
      size_t ll = (size_t)(eol - line);
      if (ll > 15 && strncasecmp(line, "content-length:", 15) == 0) {
        body_len = strtoull(line + 15, NULL, 10);
      } else if (ll > 17 && strncasecmp(line, "content-encoding:", 17) == 0) {
        gzip = memmem(line, ll, "gzip", 4) != NULL;
      } else if (ll > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0) {
        chunked = 1;
      }
      line = eol + 2;
    }
    if (chunked) return -1;
    if (c->len < head_len + body_len) {
      if (c->cap < head_len + body_len) {
        size_t cap = head_len + body_len;
        char *nb = realloc(c->buf, cap);
        if (nb == NULL) return -1;
        c->buf = nb;
        c->cap = cap;
      }
      return 0;
    }
    g_requests++;
    g_bytes += body_len;
    static const uint32_t path[3] = {1, 2, 2};
    if (g_server_key != NULL && !gzip && strncmp(c->buf, "POST /v1/logs ", 14) == 0) {
      g_logs++;
      answer(c->fd, "200 OK");
    } else if (gzip || strncmp(c->buf, "POST /v1/traces ", 16) != 0) {
      g_bad++;
      answer(c->fd, gzip ? "415 Unsupported Media Type" : "404 Not Found");
    } else {
      uint64_t server = 0;
      int64_t n = walk((const uint8_t *)c->buf + head_len,
                       (const uint8_t *)c->buf + head_len + body_len, path, 2, &server);
      if (n < 0) {
        g_bad++;
        answer(c->fd, "400 Bad Request");
      } else {
        g_spans += (uint64_t)n;
        g_server += server;
        answer(c->fd, "200 OK");
      }
    }
    size_t used = head_len + body_len;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
  }
}

static void close_conn(int ep, conn_t *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->buf);
  free(c);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--server-key") == 0 && argv[2][0] != '\0') {
    g_server_key = argv[2];
    g_server_key_len = strlen(argv[2]);
  } else if (argc != 1) {
    fprintf(stderr, "usage: discard_receiver [--server-key KEY]\n");
    return 2;
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 64) != 0 ||
      getsockname(ls, (struct sockaddr *)&a, &al) != 0) {
    perror("discard_receiver: listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  static int stdin_tag;
  fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  ev.data.ptr = &stdin_tag;
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == NULL) {
        int fd;
        while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn_t *c = calloc(1, sizeof *c);
          c->fd = fd;
          c->cap = 256 * 1024;
          c->buf = malloc(c->cap);
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
      } else if (evs[i].data.ptr == &stdin_tag) {
        char line[256];
        ssize_t r;
        int eof = 0;
        while ((r = read(0, line, sizeof line)) > 0) {
          for (ssize_t k = 0; k < r; k++) {
            if (line[k] == '\n') report();
          }
        }
        if (r == 0) eof = 1;
        if (eof) {
          report();
          return 0;
        }
      } else {
        conn_t *c = evs[i].data.ptr;
        for (;;) {
          if (c->cap - c->len < 65536) {
            char *nb = realloc(c->buf, c->cap * 2);
            if (nb == NULL) break;
            c->buf = nb;
            c->cap *= 2;
          }
          ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
          if (r > 0) {
            c->len += (size_t)r;
            continue;
          }
          if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (serve(c) != 0) close_conn(ep, c);
          } else if (r < 0 && errno == EINTR) {
            continue;
          } else {
            close_conn(ep, c); /* EOF or error */
          }
          break;
        }
      }
    }
  }
}
