/* Helpers for the libuv wrapper tests (header only). */
#ifndef UVOTEL_TEST_UV_UTIL_H
#define UVOTEL_TEST_UV_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace_log.h"

/* Renumber the ids of a trace so expected text does not depend on the tests that ran before:
 * resources are numbered 2, 3, ... in the order of their init lines; 1 (the top level) and ids
 * never initialised in the trace are kept. Only lines starting with init/before/after/destroy
 * are rewritten. Returns a malloc'd string. */
static inline char *trace_renumbered(const char *text) {
  size_t cap = strlen(text) * 2 + 64, len = 0;
  char *out = malloc(cap);
  unsigned long long from[4096], to[4096];
  size_t n = 0;
  unsigned long long next = 2;
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    size_t ll = eol ? (size_t)(eol - p) : strlen(p);
    char line[600];
    if (ll >= sizeof line) ll = sizeof line - 1;
    memcpy(line, p, ll);
    line[ll] = '\0';
    char word[32], type[64];
    unsigned long long a, b;
#define MAP(x, add)                                 \
  do {                                              \
    size_t i_;                                      \
    for (i_ = 0; i_ < n && from[i_] != (x); i_++) { \
    }                                               \
    if (i_ < n) {                                   \
      x = to[i_];                                   \
    } else if ((add) && n < 4096) {                 \
      from[n] = (x);                                \
      to[n++] = next;                               \
      x = next++;                                   \
    }                                               \
  } while (0)
    if (sscanf(line, "init %llu %63s %llu", &a, type, &b) == 3) {
      MAP(b, 0);
      MAP(a, 1);
      snprintf(line, sizeof line, "init %llu %s %llu", a, type, b);
    } else if (sscanf(line, "%31s %llu", word, &a) == 2 &&
               (!strcmp(word, "before") || !strcmp(word, "after") || !strcmp(word, "destroy"))) {
      MAP(a, 0);
      snprintf(line, sizeof line, "%s %llu", word, a);
    }
#undef MAP
    size_t l = strlen(line);
    if (len + l + 2 > cap) {
      cap = (len + l + 2) * 2;
      out = realloc(out, cap);
    }
    memcpy(out + len, line, l);
    len += l;
    out[len++] = '\n';
    p = eol ? eol + 1 : p + strlen(p);
  }
  out[len] = '\0';
  return out;
}

/* Assert the renumbered trace equals expected (printing both on mismatch). */
#define assert_trace(log, expected)                                            \
  do {                                                                         \
    char *got_ = trace_renumbered(trace_log_text(log));                        \
    if (strcmp(got_, (expected)) != 0) {                                       \
      fprintf(stderr, "--- expected:\n%s--- got:\n%s---\n", (expected), got_); \
    }                                                                          \
    assert_string_equal(got_, (expected));                                     \
    free(got_);                                                                \
  } while (0)

/* Bind to 127.0.0.1 on an ephemeral port and return the port. */
static inline int tcp_bind_loopback(uv_tcp_t *server) {
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  if (uv_tcp_bind(server, (const struct sockaddr *)&addr, 0) != 0) return -1;
  struct sockaddr_in name;
  int len = sizeof name;
  if (uv_tcp_getsockname(server, (struct sockaddr *)&name, &len) != 0) return -1;
  return ntohs(name.sin_port);
}

#endif
