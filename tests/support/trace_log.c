#include "trace_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void append(trace_log_t *log, const char *s, size_t n) {
  if (log->len + n + 1 > log->cap) {
    size_t cap = log->cap ? log->cap : 256;
    while (cap < log->len + n + 1) cap *= 2;
    log->buf = realloc(log->buf, cap); /* plain realloc: not counted against uvotel */
    if (log->buf == NULL) abort();
    log->cap = cap;
  }
  memcpy(log->buf + log->len, s, n);
  log->len += n;
  log->buf[log->len] = '\0';
}

void trace_log_line(trace_log_t *log, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof tmp - 2) n = (int)sizeof tmp - 2;
  tmp[n++] = '\n';
  append(log, tmp, (size_t)n);
}

static void on_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                    void *resource, void *arg) {
  (void)resource;
  trace_log_line(arg, "init %llu %s %llu", (unsigned long long)id, type,
                 (unsigned long long)trigger);
}
static void on_before(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "before %llu", (unsigned long long)id);
}
static void on_after(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "after %llu", (unsigned long long)id);
}
static void on_destroy(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "destroy %llu", (unsigned long long)id);
}
static void on_resolve(uvotel_async_id_t id, void *arg) {
  trace_log_line(arg, "resolve %llu", (unsigned long long)id);
}

void trace_log_start(trace_log_t *log) {
  memset(log, 0, sizeof *log);
  uvotel_hook_callbacks_t cbs = {on_init, on_before, on_after, on_destroy, on_resolve};
  log->hook = uvotel_hook_create(&cbs, log);
  if (log->hook == NULL || uvotel_hook_enable(log->hook) != 0) abort();
}

void trace_log_stop(trace_log_t *log) {
  if (log->hook == NULL) return;
  uvotel_hook_disable(log->hook);
  uvotel_hook_free(log->hook);
  log->hook = NULL;
}

void trace_log_free(trace_log_t *log) {
  trace_log_stop(log);
  free(log->buf);
  log->buf = NULL;
  log->len = log->cap = 0;
}

const char *trace_log_text(const trace_log_t *log) {
  return log->buf ? log->buf : "";
}

char *trace_log_expand(const char *want_template, uvotel_async_id_t base, char *out, size_t cap) {
  size_t o = 0;
  for (const char *p = want_template; *p && o + 24 < cap; p++) {
    if (*p == '%' && p[1] >= '0' && p[1] <= '9') {
      o += (size_t)snprintf(out + o, cap - o, "%llu",
                            (unsigned long long)(base + (uvotel_async_id_t)(p[1] - '0')));
      p++;
    } else {
      out[o++] = *p;
    }
  }
  out[o] = '\0';
  return out;
}

uvotel_async_id_t trace_log_next_id(trace_log_t *log) {
  uvotel_resource_t r;
  uvotel_hook_disable(log->hook);
  uvotel_resource_init(&r, "PROBE", 0, UVOTEL_RESOURCE_MANUAL_DESTROY);
  uvotel_resource_emit_destroy(&r);
  uvotel_hook_enable(log->hook);
  return uvotel_resource_async_id(&r) + 1;
}
