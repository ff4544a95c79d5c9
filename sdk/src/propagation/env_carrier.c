/* The environment-variable carrier of the OpenTelemetry specification ("Environment Variables
 * as Context Propagation Carriers"): TRACEPARENT, TRACESTATE and BAGGAGE, for context passed
 * to a child process (uvotel_spawn) and read back by uvotel_tracer_provider_from_env. */
#include <string.h>

#include "propagation_internal.h"
#include "../trace/trace_internal.h"

extern char **environ;

static const char *const g_names[] = {"TRACEPARENT=", "TRACESTATE=", "BAGGAGE="};

static int is_carrier_var(const char *e) {
  for (size_t i = 0; i < sizeof g_names / sizeof g_names[0]; i++) {
    if (strncmp(e, g_names[i], strlen(g_names[i])) == 0) return 1;
  }
  return 0;
}

UVOTEL__API int uvotel_env_carrier_inject(char *const *env, const uvotel_span_context_t *sc,
                                          const uvotel_baggage_t *baggage, char ***out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (!uvotel_span_context_is_valid(sc)) return UVOTEL_EINVAL;
  if (env == NULL) env = environ;
  char tp[UVOTEL_TRACEPARENT_LEN + 1];
  if (uvotel_traceparent_format(sc, tp) != 0) return UVOTEL_EINVAL;
  size_t ts_len = 0, bg_len = 0;
  const char *ts =
      sc->trace_state != NULL ? uvotel_trace_state_str(sc->trace_state, &ts_len) : NULL;
  const char *bg = baggage != NULL ? uvotel_baggage_str(baggage, &bg_len) : NULL;
  if (ts == NULL) ts_len = 0;
  if (bg == NULL) bg_len = 0;
  size_t n = 0;
  while (env[n] != NULL) n++;
  /* One block: the pointer array (the caller's entries plus up to three, NULL-terminated),
   * then the new strings. The caller's strings are borrowed, not copied. */
  size_t ptrs = (n + 4) * sizeof(char *);
  size_t strs = sizeof "TRACEPARENT=" + sizeof tp + sizeof "TRACESTATE=" + ts_len +
                sizeof "BAGGAGE=" + bg_len;
  char **v = uvotel_malloc(ptrs + strs);
  if (v == NULL) return UVOTEL_ENOMEM;
  char *p = (char *)v + ptrs;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!is_carrier_var(env[i])) v[k++] = env[i]; /* the parent's own values are replaced */
  }
  v[k++] = p;
  p += sprintf(p, "TRACEPARENT=%s", tp) + 1;
  if (ts_len > 0) {
    v[k++] = p;
    memcpy(p, "TRACESTATE=", 11);
    memcpy(p + 11, ts, ts_len);
    p[11 + ts_len] = '\0';
    p += 11 + ts_len + 1;
  }
  if (bg_len > 0) {
    v[k++] = p;
    memcpy(p, "BAGGAGE=", 8);
    memcpy(p + 8, bg, bg_len);
    p[8 + bg_len] = '\0';
  }
  v[k] = NULL;
  *out = v;
  return 0;
}

UVOTEL__API void uvotel_env_carrier_free(char **env) {
  uvotel_free(env);
}

static const char *env_get(char *const *env, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; env[i] != NULL; i++) {
    if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') return env[i] + len + 1;
  }
  return NULL;
}

UVOTEL__API int uvotel_env_carrier_extract(char *const *env, uvotel_span_context_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  if (env == NULL) env = environ;
  const char *tp = env_get(env, "TRACEPARENT");
  if (tp == NULL) return UVOTEL_ENOENT;
  uvotel_span_context_t sc;
  int rc = uvotel_traceparent_parse(tp, strlen(tp), &sc);
  if (rc != 0) return rc;
  const char *ts = env_get(env, "TRACESTATE");
  if (ts != NULL && *ts != '\0') {
    uvotel_trace_state_t *t = NULL;
    /* A malformed tracestate is dropped, the traceparent kept (as for HTTP headers). */
    if (uvotel_trace_state_parse(ts, strlen(ts), &t) == 0) sc.trace_state = t;
  }
  *out = sc;
  return 0;
}

/* uvotel_tracer_provider_from_env: the remote parent of the provider's root spans. */
void uvotel__env_parent_load(uvotel_tracer_provider_t *p) {
  uvotel_span_context_t sc;
  if (uvotel_env_carrier_extract(NULL, &sc) != 0) return;
  p->env_parent = uvotel_span_wrap_context(&sc); /* takes its own tracestate reference */
  uvotel_trace_state_release(sc.trace_state);
}
