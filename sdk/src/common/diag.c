/* Diagnostics: the process-wide handler, OTEL_LOG_LEVEL, and rate-limited messages. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "../internal.h"

typedef struct diag_cfg_s {
  uvotel_diag_cb cb;
  void *arg;
  int max_level;
} diag_cfg_t;

static pthread_mutex_t g_diag_mu = PTHREAD_MUTEX_INITIALIZER;
static diag_cfg_t g_diag;
static atomic_int g_diag_level = -1; /* -1: not yet read from OTEL_LOG_LEVEL */
static atomic_int g_bad_level_said;

static const char *const k_level_names[] = {"none", "error", "warn", "info", "debug", "all", NULL};

/* OTEL_LOG_LEVEL, default info. *bad is set when the value is unknown. */
static int env_log_level(const char **bad) {
  *bad = NULL;
  const char *v = uvotel_env_get("OTEL_LOG_LEVEL");
  if (v == NULL) return UVOTEL_DIAG_INFO;
  int i = uvotel_env_name_index(v, strlen(v), k_level_names);
  if (i < 0) {
    *bad = v;
    return UVOTEL_DIAG_INFO;
  }
  return i == 5 ? UVOTEL_DIAG_DEBUG : i;
}

static void say_bad_level(const char *bad) {
  if (bad == NULL || atomic_exchange(&g_bad_level_said, 1)) return;
  uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EPARSE,
              "OTEL_LOG_LEVEL=\"%s\" is not one of none, error, warn, info, debug, all; "
              "using info",
              bad);
}

UVOTEL__API void uvotel_diag_set_handler(uvotel_diag_cb cb, void *arg,
                                         uvotel_diag_level_t max_level) {
  const char *bad = NULL;
  pthread_mutex_lock(&g_diag_mu);
  g_diag.cb = cb;
  g_diag.arg = arg;
  g_diag.max_level = cb != NULL ? (int)max_level : env_log_level(&bad);
  atomic_store(&g_diag_level, g_diag.max_level);
  pthread_mutex_unlock(&g_diag_mu);
  say_bad_level(bad);
}

static int current_max(void) {
  int max = atomic_load_explicit(&g_diag_level, memory_order_relaxed);
  if (UVOTEL__LIKELY(max >= 0)) return max;
  const char *bad = NULL;
  pthread_mutex_lock(&g_diag_mu);
  if (atomic_load(&g_diag_level) < 0) {
    g_diag.max_level = env_log_level(&bad);
    atomic_store(&g_diag_level, g_diag.max_level);
  }
  max = g_diag.max_level;
  pthread_mutex_unlock(&g_diag_mu);
  say_bad_level(bad);
  return max;
}

UVOTEL__API uvotel_diag_level_t uvotel_diag_max_level(void) {
  return (uvotel_diag_level_t)current_max();
}

static void deliver(uvotel_diag_level_t level, int code, const char *msg) {
  pthread_mutex_lock(&g_diag_mu);
  diag_cfg_t cfg = g_diag;
  pthread_mutex_unlock(&g_diag_mu);
  if (cfg.cb != NULL) {
    cfg.cb(level, code, msg, cfg.arg);
  } else {
    static const char *names[] = {"", "error", "warn", "info", "debug"};
    fprintf(stderr, "uvotel %s: %s%s%s\n", names[level >= 1 && level <= 4 ? level : 0], msg,
            code != 0 ? ": " : "", code != 0 ? uvotel_strerror(code) : "");
  }
}

UVOTEL__API void uvotel_diag(uvotel_diag_level_t level, int code, const char *fmt, ...) {
  if ((int)level > current_max() || (int)level <= 0 || fmt == NULL) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  deliver(level, code, buf);
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

UVOTEL__API int uvotel_diag_limited(uvotel_diag_limit_t *key, uvotel_diag_level_t level, int code,
                                    const char *fmt, ...) {
  if (key == NULL || fmt == NULL || (int)level <= 0 || (int)level > current_max()) return 0;
  uint64_t now = mono_ms();
  uint64_t next = __atomic_load_n(&key->next_ms, __ATOMIC_ACQUIRE);
  uint64_t interval = __atomic_load_n(&key->interval_ms, __ATOMIC_RELAXED);
  /* The first caller past the deadline moves it; everyone else within the interval counts. */
  if (now < next || !__atomic_compare_exchange_n(&key->next_ms, &next, now + interval, 0,
                                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    __atomic_fetch_add(&key->suppressed, 1, __ATOMIC_RELAXED);
    return 0;
  }
  uint64_t skipped = __atomic_exchange_n(&key->suppressed, 0, __ATOMIC_RELAXED);
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (skipped > 0 && n >= 0 && (size_t)n < sizeof buf) {
    /* the window those were counted in: the interval, or less for the very first one */
    snprintf(buf + n, sizeof buf - (size_t)n, " (%llu more suppressed in the last %llu s)",
             (unsigned long long)skipped, (unsigned long long)((interval + 999) / 1000));
  }
  deliver(level, code, buf);
  return 1;
}
