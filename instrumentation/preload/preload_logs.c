/* No-code log capture under libuvotel_preload.so (see preload_logs.h).
 *
 *   UVOTEL_LOGS=syslog        syslog(3), vsyslog and glibc's fortified __syslog_chk /
 *                             __vsyslog_chk: one record per call; severity from the priority
 *                             (LOG_ERR -> ERROR, LOG_WARNING -> WARN, LOG_NOTICE -> INFO2, ...),
 *                             severity text the syslog level name, attributes syslog.ident (the
 *                             openlog ident, else the program name) and syslog.facility.
 *   UVOTEL_LOGS=stderr        bytes written to file descriptor 2 through write, writev,
 *                             fprintf/vfprintf (and __fprintf_chk/__vfprintf_chk), fputs, fputc,
 *                             fwrite and perror on stderr: each complete line one record
 *                             (attribute log.iostream = "stderr"); severity unspecified unless
 *                             the line starts with a level word followed by ':' or in brackets
 *                             ("error: ...", "WARNING: ...", "[warn] ..."). A line longer than
 *                             1023 bytes is cut into records of 1023 bytes.
 *   UVOTEL_LOGS=all           both.
 * Each record carries the span current on the calling thread (under the preload: the SERVER
 * span of an accepted connection in that connection's callbacks, or any span the program's
 * libraries made current). The program's call is always made, with its own arguments, and its
 * result returned: what it writes reaches its destination unchanged (errno preserved for %m).
 *
 * Limits: partial lines are buffered per thread, so a line still without its newline when the
 * thread exits or the program ends is not recorded (its bytes were written); writes libc makes
 * to fd 2 on its own (assert, err/warn, a stdio buffer flushed at exit) are not seen; a program
 * that calls syslog before its first libuv call, or after exit began, is not captured then; a
 * line starting "uvotel warn: " (uvotel's own diagnostics) is never a record. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

#include "preload_logs.h"
#include "uvotel/env.h"
#include "uvotel/logs_sdk.h"

#define EXPORT __attribute__((visibility("default")))
#define CAPTURE_SYSLOG 0x1u
#define CAPTURE_STDERR 0x2u
#define LINE_CAP 1024

/* ---- the real functions ---- */

static void (*real_openlog)(const char *, int, int);
static void (*real_closelog)(void);
static void (*real_vsyslog)(int, const char *, va_list);
static void (*real___vsyslog_chk)(int, int, const char *, va_list);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_vfprintf)(FILE *, const char *, va_list);
static int (*real___vfprintf_chk)(FILE *, int, const char *, va_list);
static int (*real_fputs)(const char *, FILE *);
static int (*real_fputc)(int, FILE *);
static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static void (*real_perror)(const char *);

__attribute__((constructor)) static void resolve_logs(void) {
  if (real_write != NULL) return;
  *(void **)&real_openlog = dlsym(RTLD_NEXT, "openlog");
  *(void **)&real_closelog = dlsym(RTLD_NEXT, "closelog");
  *(void **)&real_vsyslog = dlsym(RTLD_NEXT, "vsyslog");
  *(void **)&real___vsyslog_chk = dlsym(RTLD_NEXT, "__vsyslog_chk");
  *(void **)&real_write = dlsym(RTLD_NEXT, "write");
  *(void **)&real_writev = dlsym(RTLD_NEXT, "writev");
  *(void **)&real_vfprintf = dlsym(RTLD_NEXT, "vfprintf");
  *(void **)&real___vfprintf_chk = dlsym(RTLD_NEXT, "__vfprintf_chk");
  *(void **)&real_fputs = dlsym(RTLD_NEXT, "fputs");
  *(void **)&real_fputc = dlsym(RTLD_NEXT, "fputc");
  *(void **)&real_fwrite = dlsym(RTLD_NEXT, "fwrite");
  *(void **)&real_perror = dlsym(RTLD_NEXT, "perror");
}

/* Another library's constructor may call in before ours ran: resolve on first use too. */
#define REAL(name) (real_##name != NULL ? (void)0 : resolve_logs(), real_##name)

/* ---- state ---- */

static uvotel_logger_provider_t *g_lp;
static uvotel_logger_t *_Atomic g_logger; /* non-NULL while capturing */
static atomic_uint g_what;
static char g_ident[64]; /* openlog's ident (copied: the caller's string may go away) */
static _Atomic int g_has_ident;
static _Atomic int g_facility = LOG_USER;

static __thread int t_in; /* inside our own capture: pass everything through */
static __thread struct {
  size_t n;
  char buf[LINE_CAP];
} t_line;

static uvotel_logger_t *capturing(unsigned what) {
  if (t_in) return NULL;
  uvotel_logger_t *l = atomic_load_explicit(&g_logger, memory_order_acquire);
  if (l == NULL || !(atomic_load_explicit(&g_what, memory_order_relaxed) & what)) return NULL;
  return l;
}

/* ---- records ---- */

/* A leading level word: "error:", "WARNING:", "[warn]", "<info>". 0 when none. */
static int level_of(const char *s, size_t n) {
  size_t i = 0;
  char close = ':';
  if (n > 0 && (s[0] == '[' || s[0] == '<')) {
    close = s[0] == '[' ? ']' : '>';
    i = 1;
  }
  size_t w = i;
  while (w < n && w - i < 16 && ((s[w] >= 'a' && s[w] <= 'z') || (s[w] >= 'A' && s[w] <= 'Z'))) {
    w++;
  }
  if (w == i || w >= n || s[w] != close) return 0;
  return uvotel_severity_parse(s + i, w - i);
}

/* uvotel's own diagnostics on stderr ("uvotel warn: ...", sdk/src/common/diag.c): not a
 * record, or a failing exporter would feed itself. */
static int own_diag(const char *s, size_t n) {
  static const char *const k[] = {
      "uvotel error: ", "uvotel warn: ", "uvotel info: ", "uvotel debug: "};
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
    size_t kl = strlen(k[i]);
    if (n >= kl && memcmp(s, k[i], kl) == 0) return 1;
  }
  return 0;
}

static void emit_line(uvotel_logger_t *l, const char *s, size_t n) {
  if (own_diag(s, n)) return;
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("log.iostream", "stderr")};
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.severity = level_of(s, n);
  r.severity_text = "";
  r.body.type = UVOTEL_VALUE_STRING;
  r.body.u.s = s;
  r.body.len = (uint32_t)n;
  r.flags = UVOTEL_LOG_BODY_LEN;
  r.attrs = attrs;
  r.n_attrs = 1;
  r.time_unix_ns = 0;
  (void)uvotel_log_emit(l, &r);
}

/* Bytes that went to fd 2: cut into lines, each complete one a record. */
static void feed(uvotel_logger_t *l, const char *p, size_t n) {
  t_in++;
  while (n > 0) {
    const char *nl = memchr(p, '\n', n);
    size_t take = nl != NULL ? (size_t)(nl - p) : n;
    size_t room = sizeof t_line.buf - 1 - t_line.n;
    if (take > room) take = room;
    memcpy(t_line.buf + t_line.n, p, take);
    t_line.n += take;
    p += take;
    n -= take;
    int full = t_line.n == sizeof t_line.buf - 1;
    if (n > 0 && *p == '\n') {
      p++;
      n--;
      full = 1;
    }
    if (full) {
      size_t len = t_line.n;
      if (len > 0 && t_line.buf[len - 1] == '\r') len--;
      emit_line(l, t_line.buf, len);
      t_line.n = 0;
    }
  }
  t_in--;
}

static void feed_fmt(uvotel_logger_t *l, const char *fmt, va_list ap) {
  char buf[LINE_CAP * 2];
  t_in++;
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  t_in--;
  if (n > 0) feed(l, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static const char *const k_syslog_text[8] = {"emerg",   "alert",  "crit", "err",
                                             "warning", "notice", "info", "debug"};
static const int k_syslog_sev[8] = {23, 22, 21, 17, 13, 10, 9, 5};

static void emit_syslog(uvotel_logger_t *l, int pri, const char *fmt, va_list ap) {
  char buf[2048];
  t_in++;
  int n = vsnprintf(buf, sizeof buf, fmt, ap); /* errno as the caller left it, for %m */
  if (n < 0) n = 0;
  if ((size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
  while (n > 0 && buf[n - 1] == '\n') n--; /* syslog drops a trailing newline too */
  int level = LOG_PRI(pri);
  int fac = (pri & LOG_FACMASK) != 0 ? (pri & LOG_FACMASK) : atomic_load(&g_facility);
  const char *ident = atomic_load(&g_has_ident) ? g_ident : program_invocation_short_name;
  uvotel_attribute_t attrs[] = {UVOTEL_ATTR_STR("syslog.ident", ident),
                                UVOTEL_ATTR_INT("syslog.facility", LOG_FAC(fac))};
  uvotel_log_record_options_t r = UVOTEL_LOG_RECORD_OPTIONS_INIT;
  r.severity = k_syslog_sev[level];
  r.severity_text = k_syslog_text[level];
  r.body.type = UVOTEL_VALUE_STRING;
  r.body.u.s = buf;
  r.body.len = (uint32_t)n;
  r.flags = UVOTEL_LOG_BODY_LEN;
  r.attrs = attrs;
  r.n_attrs = 2;
  r.time_unix_ns = 0;
  (void)uvotel_log_emit(l, &r);
  t_in--;
}

/* ---- syslog ---- */

EXPORT void openlog(const char *ident, int option, int facility) {
  if (ident != NULL) {
    snprintf(g_ident, sizeof g_ident, "%s", ident);
    atomic_store(&g_has_ident, 1);
  } else {
    atomic_store(&g_has_ident, 0);
  }
  if (facility != 0) atomic_store(&g_facility, facility);
  REAL(openlog)(ident, option, facility);
}

EXPORT void closelog(void) {
  atomic_store(&g_has_ident, 0);
  REAL(closelog)();
}

EXPORT void vsyslog(int pri, const char *fmt, va_list ap) {
  uvotel_logger_t *l = capturing(CAPTURE_SYSLOG);
  if (l != NULL) {
    int e = errno;
    va_list aq;
    va_copy(aq, ap);
    emit_syslog(l, pri, fmt, aq);
    va_end(aq);
    errno = e;
  }
  REAL(vsyslog)(pri, fmt, ap);
}

EXPORT void syslog(int pri, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsyslog(pri, fmt, ap);
  va_end(ap);
}

EXPORT void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap) {
  uvotel_logger_t *l = capturing(CAPTURE_SYSLOG);
  if (l != NULL) {
    int e = errno;
    va_list aq;
    va_copy(aq, ap);
    emit_syslog(l, pri, fmt, aq);
    va_end(aq);
    errno = e;
  }
  REAL(__vsyslog_chk)(pri, flag, fmt, ap);
}

EXPORT void __syslog_chk(int pri, int flag, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  __vsyslog_chk(pri, flag, fmt, ap);
  va_end(ap);
}

/* ---- file descriptor 2 ---- */

/* The capture of what write and writev put on fd 2, out of line: libuv's own writes (every
 * stream write, every wake-up of a loop from the thread pool) go through write and writev too,
 * and for any other fd those stay a compare and a jump to libc's. */
static __attribute__((noinline)) void stderr_written(const struct iovec *iov, int cnt, size_t w) {
  uvotel_logger_t *l = capturing(CAPTURE_STDERR);
  if (l == NULL) return;
  int e = errno;
  size_t left = w;
  for (int i = 0; i < cnt && left > 0; i++) {
    size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
    feed(l, iov[i].iov_base, k);
    left -= k;
  }
  errno = e;
}

EXPORT ssize_t write(int fd, const void *buf, size_t n) {
  if (__builtin_expect(fd != 2, 1)) return REAL(write)(fd, buf, n); /* a tail call */
  ssize_t w = REAL(write)(fd, buf, n);
  if (w > 0) {
    struct iovec one = {(void *)(uintptr_t)buf, (size_t)w};
    stderr_written(&one, 1, (size_t)w);
  }
  return w;
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
  if (__builtin_expect(fd != 2, 1)) return REAL(writev)(fd, iov, cnt);
  ssize_t w = REAL(writev)(fd, iov, cnt);
  if (w > 0) stderr_written(iov, cnt, (size_t)w);
  return w;
}

static uvotel_logger_t *on_stderr(FILE *f) {
  return f == stderr ? capturing(CAPTURE_STDERR) : NULL;
}

EXPORT int vfprintf(FILE *f, const char *fmt, va_list ap) {
  uvotel_logger_t *l = on_stderr(f);
  if (l != NULL) {
    int e = errno;
    va_list aq;
    va_copy(aq, ap);
    feed_fmt(l, fmt, aq);
    va_end(aq);
    errno = e;
  }
  return REAL(vfprintf)(f, fmt, ap);
}

EXPORT int fprintf(FILE *f, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vfprintf(f, fmt, ap);
  va_end(ap);
  return rc;
}

EXPORT int __vfprintf_chk(FILE *f, int flag, const char *fmt, va_list ap) {
  uvotel_logger_t *l = on_stderr(f);
  if (l != NULL) {
    int e = errno;
    va_list aq;
    va_copy(aq, ap);
    feed_fmt(l, fmt, aq);
    va_end(aq);
    errno = e;
  }
  return REAL(__vfprintf_chk)(f, flag, fmt, ap);
}

EXPORT int __fprintf_chk(FILE *f, int flag, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = __vfprintf_chk(f, flag, fmt, ap);
  va_end(ap);
  return rc;
}

EXPORT int fputs(const char *s, FILE *f) {
  int rc = REAL(fputs)(s, f);
  uvotel_logger_t *l = rc >= 0 ? on_stderr(f) : NULL;
  if (l != NULL) {
    int e = errno;
    feed(l, s, strlen(s));
    errno = e;
  }
  return rc;
}

EXPORT int fputc(int c, FILE *f) {
  int rc = REAL(fputc)(c, f);
  uvotel_logger_t *l = rc != EOF ? on_stderr(f) : NULL;
  if (l != NULL) {
    char ch = (char)c;
    feed(l, &ch, 1);
  }
  return rc;
}

EXPORT size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
  size_t rc = REAL(fwrite)(p, size, n, f);
  uvotel_logger_t *l = rc > 0 ? on_stderr(f) : NULL;
  if (l != NULL) {
    int e = errno;
    feed(l, p, rc * size);
    errno = e;
  }
  return rc;
}

EXPORT void perror(const char *s) {
  int e = errno;
  REAL(perror)(s);
  uvotel_logger_t *l = capturing(CAPTURE_STDERR);
  if (l != NULL) {
    char buf[512];
    t_in++;
    int n = snprintf(buf, sizeof buf, "%s%s%s\n", s != NULL && *s ? s : "",
                     s != NULL && *s ? ": " : "", strerror(e));
    t_in--;
    if (n > 0) feed(l, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
  }
  errno = e;
}

/* ---- the hooks ---- */

static unsigned parse_what(const char *v) {
  static const char *const names[] = {"syslog", "stderr", "all", "none", NULL};
  static const unsigned bits[] = {CAPTURE_SYSLOG, CAPTURE_STDERR, CAPTURE_SYSLOG | CAPTURE_STDERR,
                                  0};
  unsigned what = 0;
  const char *item;
  size_t n;
  while (uvotel_env_list_next(&v, &item, &n)) {
    int i = uvotel_env_name_index(item, n, names);
    if (i < 0) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EPARSE,
                  "UVOTEL_LOGS: \"%.*s\" is not syslog, stderr, all or none; ignored", (int)n,
                  item);
    } else {
      what |= bits[i];
    }
  }
  return what;
}

void uvotel__preload_logs_start(uv_loop_t *loop, uvotel_tracer_provider_t *tp) {
  unsigned what = parse_what(uvotel_env_get("UVOTEL_LOGS"));
  if (what == 0) return;
  t_in++;
  uvotel_logger_provider_options_t o = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  o.loop = loop;
  o.tracer_provider = tp;
  g_lp = uvotel_logger_provider_from_env_with(&o);
  uvotel_logger_t *l = uvotel_logger_get(g_lp, "uvotel.preload", UVOTEL_VERSION_STRING);
  t_in--;
  if (l == NULL) return;
  atomic_store(&g_what, what);
  atomic_store_explicit(&g_logger, l, memory_order_release);
}

void uvotel__preload_logs_stop(void) {
  if (g_lp == NULL) return;
  /* Emits already past capturing() finish before shutdown marks the provider; later ones are
   * counted after_shutdown by the provider. */
  atomic_store_explicit(&g_logger, NULL, memory_order_release);
  t_in++;
  (void)uvotel_logger_provider_shutdown(g_lp, 10000);
  t_in--;
  /* Not freed: a program thread may still be inside a capture that read the logger before the
   * store above; after shutdown such an emit returns at once (counted), touching only the
   * provider, which the process exit reclaims. The batch processor's handles are closed by the
   * shutdown, so the preload's loop still closes. */
}
