/* Configuration of the OTLP/HTTP exporter from options and OTEL_EXPORTER_OTLP_* variables. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "otlp_internal.h"

#define DEFAULT_URL "http://localhost:4318/v1/traces"

/* The old per-exporter callback (uvotel_otlp_diag_cb, levels in the reverse order) still gets
 * every message of its exporter, unfiltered, as before; without one, messages go to the SDK's
 * diagnostics (uvotel/diag.h) like everybody else's. */
void uvotel__otlp_log(const uvotel__otlp_config_t *cfg, uvotel_diag_level_t level, const char *fmt,
                      ...) {
  int legacy = cfg != NULL && cfg->diag != NULL;
  if (!legacy && (int)level > (int)uvotel_diag_max_level()) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (!legacy) {
    uvotel_diag(level, 0, "%s", buf);
    return;
  }
  uvotel_otlp_diag_level_t l = level <= UVOTEL_DIAG_ERROR  ? UVOTEL_OTLP_DIAG_ERROR
                               : level == UVOTEL_DIAG_WARN ? UVOTEL_OTLP_DIAG_WARN
                               : level == UVOTEL_DIAG_INFO ? UVOTEL_OTLP_DIAG_INFO
                                                           : UVOTEL_OTLP_DIAG_DEBUG;
  cfg->diag(cfg->diag_arg, l, buf);
}

/* The signal-specific variable wins over the general one; *which (may be NULL) gets the name of
 * the variable the value came from. */
static const char *env2w(const char *traces_name, const char *general_name, const char **which) {
  const char *v = uvotel_env_get(traces_name);
  if (which != NULL) *which = v != NULL ? traces_name : general_name;
  return v != NULL ? v : uvotel_env_get(general_name);
}
static const char *env2(const char *traces_name, const char *general_name) {
  return env2w(traces_name, general_name, NULL);
}

static int header_ok(const char *s, int is_key) {
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '\r' || c == '\n') return 0;
    if (is_key && (c <= ' ' || c == ':' || c >= 0x7f)) return 0;
  }
  return 1;
}

static int push_header(uvotel__otlp_config_t *cfg, const char *k, const char *v) {
  size_t kl = strlen(k), vl = strlen(v);
  char *line = uvotel_malloc(kl + vl + 3);
  if (line == NULL) return UVOTEL_ENOMEM;
  memcpy(line, k, kl);
  memcpy(line + kl, ": ", 2);
  memcpy(line + kl + 2, v, vl + 1);
  char **h = uvotel_realloc(cfg->headers, (cfg->n_headers + 1) * sizeof *h);
  if (h == NULL) {
    uvotel_free(line);
    return UVOTEL_ENOMEM;
  }
  cfg->headers = h;
  cfg->headers[cfg->n_headers++] = line;
  return 0;
}

int uvotel__otlp_parse_headers(uvotel__otlp_config_t *cfg, const char *list) {
  if (cfg == NULL || list == NULL) return UVOTEL_EINVAL;
  uvotel_env_kv_t *kv;
  size_t n;
  int rc = uvotel_env_kv_parse(list, &kv, &n);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    if (!header_ok(kv[i].key, 1) || !header_ok(kv[i].value, 0)) {
      rc = UVOTEL_EPARSE;
    } else {
      rc = push_header(cfg, kv[i].key, kv[i].value);
    }
  }
  uvotel_free(kv);
  return rc;
}

static const char *const k_months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t uvotel__otlp_parse_retry_after(const char *v, int64_t now_s) {
  if (v == NULL) return -1;
  while (*v == ' ' || *v == '\t') v++;
  size_t n = strlen(v);
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
    n--;
  if (n == 0) return -1;
  if (isdigit((unsigned char)v[0])) {
    int64_t s = 0;
    for (size_t i = 0; i < n; i++) {
      if (!isdigit((unsigned char)v[i])) return -1;
      if (s > 1000000000) return -1;
      s = s * 10 + (v[i] - '0');
    }
    return s * 1000;
  }
  /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (the only form senders must produce). */
  char wd[4], mon[4], tz[4];
  int day, year, hh, mm, ss;
  char tmp[64];
  if (n >= sizeof tmp) return -1;
  memcpy(tmp, v, n);
  tmp[n] = '\0';
  if (sscanf(tmp, "%3[A-Za-z], %d %3s %d %d:%d:%d %3s", wd, &day, mon, &year, &hh, &mm, &ss, tz) !=
      8)
    return -1;
  if (strlen(wd) != 3 || tmp[3] != ',') return -1;
  if (strcmp(tz, "GMT") != 0) return -1;
  int m = -1;
  for (int i = 0; i < 12; i++)
    if (strcmp(mon, k_months[i]) == 0) m = i;
  if (m < 0 || day < 1 || day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60 || hh < 0 ||
      mm < 0 || ss < 0)
    return -1;
  /* days from civil (proleptic Gregorian), no timegm() dependence */
  int y = year - (m < 2);
  int era = y / 400;
  int yoe = y - era * 400;
  int mp = (m + 10) % 12; /* March-based month */
  int doy = (153 * mp + 2) / 5 + day - 1;
  int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  int64_t days = (int64_t)era * 146097 + doe - 719468;
  int64_t t = days * 86400 + hh * 3600 + mm * 60 + ss;
  return t <= now_s ? 0 : (t - now_s) * 1000;
}

static int set_str(char **dst, const char *opt, const char *env) {
  const char *v = opt ? opt : env;
  if (v == NULL) return 0;
  *dst = uvotel_strdup(v);
  return *dst ? 0 : UVOTEL_ENOMEM;
}

static int has_scheme(const char *u) {
  return strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0;
}

static int build_url(uvotel__otlp_config_t *cfg, const char *base, int append) {
  size_t bl = strlen(base);
  const char *scheme = "";
  if (!has_scheme(base)) {
    if (strstr(base, "://") != NULL) return UVOTEL_EINVAL; /* unknown scheme */
    scheme = cfg->insecure ? "http://" : "https://";
  }
  while (append && bl > 0 && base[bl - 1] == '/') bl--;
  const char *suffix = append ? "/v1/traces" : "";
  size_t n = strlen(scheme) + bl + strlen(suffix) + 1;
  cfg->url = uvotel_malloc(n);
  if (cfg->url == NULL) return UVOTEL_ENOMEM;
  snprintf(cfg->url, n, "%s%.*s%s", scheme, (int)bl, base, suffix);
  return 0;
}

int uvotel__otlp_config_init(uvotel__otlp_config_t *cfg, const uvotel_otlp_http_options_t *opts) {
  if (cfg == NULL) return UVOTEL_EINVAL;
  uvotel_otlp_http_options_t defaults = UVOTEL_OTLP_HTTP_OPTIONS_INIT;
  if (opts == NULL) opts = &defaults;
  memset(cfg, 0, sizeof *cfg);
  cfg->diag = opts->diag;
  cfg->diag_arg = opts->diag_arg;
  if (opts->compression < UVOTEL_OTLP_COMPRESSION_DEFAULT ||
      opts->compression > UVOTEL_OTLP_COMPRESSION_GZIP || opts->insecure < -1 ||
      opts->insecure > 1 || opts->max_concurrent > 64 ||
      (opts->retry_max_ms != 0 && opts->retry_initial_ms > opts->retry_max_ms))
    return UVOTEL_EINVAL;
  int use_env = opts->use_env;
  int rc = 0;
#define E(name) \
  (use_env ? env2("OTEL_EXPORTER_OTLP_TRACES_" name, "OTEL_EXPORTER_OTLP_" name) : NULL)

  /* The protocol: http/protobuf (default) or http/json. grpc is refused, never replaced by
   * another protocol to the same endpoint. */
  const char *proto_var = "protocol option";
  const char *proto = opts->protocol;
  if (proto == NULL && use_env)
    proto = env2w("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL", &proto_var);
  if (proto == NULL || strcasecmp(proto, "http/protobuf") == 0) {
    cfg->json = 0;
  } else if (strcasecmp(proto, "http/json") == 0) {
    cfg->json = 1;
  } else {
    int grpc = strcasecmp(proto, "grpc") == 0;
    uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR,
                     "%s=%s is refused: the OTLP exporter speaks http/protobuf and http/json%s; "
                     "no spans will be sent by it",
                     proto_var, proto, grpc ? " (gRPC is not implemented)" : "");
    return grpc ? UVOTEL_ENOTSUP : UVOTEL_EINVAL;
  }

  /* insecure first: it decides the scheme of a scheme-less endpoint */
  if (opts->insecure != 0) {
    cfg->insecure = opts->insecure > 0;
  } else if (E("INSECURE") != NULL) {
    if (uvotel_env_parse_bool(E("INSECURE"), &cfg->insecure) != 0)
      uvotel__otlp_log(cfg, UVOTEL_DIAG_WARN, "ignoring OTEL_EXPORTER_OTLP_INSECURE=%s",
                       E("INSECURE"));
  }

  if (opts->endpoint != NULL) {
    if (*opts->endpoint == '\0') return UVOTEL_EINVAL;
    rc = build_url(cfg, opts->endpoint, 0);
    if (rc == UVOTEL_EINVAL)
      uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR,
                       "endpoint option %s is refused: only http:// and https:// are supported",
                       opts->endpoint);
  } else {
    const char *te = use_env ? uvotel_env_get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") : NULL;
    const char *ge = use_env ? uvotel_env_get("OTEL_EXPORTER_OTLP_ENDPOINT") : NULL;
    const char *var = NULL, *val = NULL;
    if (te != NULL) {
      var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", val = te;
      rc = build_url(cfg, te, 0);
    } else if (ge != NULL) {
      var = "OTEL_EXPORTER_OTLP_ENDPOINT", val = ge;
      rc = build_url(cfg, ge, 1);
    } else {
      rc = build_url(cfg, DEFAULT_URL, 0);
    }
    if (rc == UVOTEL_EINVAL && var != NULL) {
      /* e.g. grpc://host:4317: never silently replaced by another endpoint */
      uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR,
                       "%s=%s is refused: only http:// and https:// endpoints (or host:port) are "
                       "supported; no spans will be sent by the OTLP exporter",
                       var, val);
    }
  }
  if (rc != 0) goto fail;

  if (opts->headers != NULL) {
    rc = uvotel__otlp_parse_headers(cfg, opts->headers);
    if (rc != 0) goto fail;
  } else if (E("HEADERS") != NULL) {
    rc = uvotel__otlp_parse_headers(cfg, E("HEADERS"));
    if (rc == UVOTEL_EPARSE) {
      uvotel__otlp_log(cfg, UVOTEL_DIAG_WARN,
                       "ignoring malformed OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2 expected)");
      for (size_t i = 0; i < cfg->n_headers; i++) uvotel_free(cfg->headers[i]);
      uvotel_free(cfg->headers);
      cfg->headers = NULL;
      cfg->n_headers = 0;
      rc = 0;
    }
    if (rc != 0) goto fail;
  }

  cfg->timeout_ms = 10000;
  if (opts->timeout_ms != 0) {
    cfg->timeout_ms = opts->timeout_ms;
  } else if (E("TIMEOUT") != NULL) {
    uint64_t v;
    if (uvotel_env_parse_u64(E("TIMEOUT"), (uint64_t)1 << 53, &v) == 0 && v > 0)
      cfg->timeout_ms = v;
    else
      uvotel__otlp_log(cfg, UVOTEL_DIAG_WARN, "ignoring OTEL_EXPORTER_OTLP_TIMEOUT=%s",
                       E("TIMEOUT"));
  }

  if (opts->compression != UVOTEL_OTLP_COMPRESSION_DEFAULT) {
    cfg->gzip = opts->compression == UVOTEL_OTLP_COMPRESSION_GZIP;
  } else if (E("COMPRESSION") != NULL) {
    static const char *const names[] = {"none", "gzip", NULL};
    const char *c = E("COMPRESSION");
    int i = uvotel_env_name_index(c, strlen(c), names);
    if (i >= 0)
      cfg->gzip = i == 1;
    else
      uvotel__otlp_log(cfg, UVOTEL_DIAG_WARN, "ignoring OTEL_EXPORTER_OTLP_COMPRESSION=%s", c);
  }

  if ((rc = set_str(&cfg->ca_file, opts->certificate, E("CERTIFICATE"))) != 0 ||
      (rc = set_str(&cfg->client_key, opts->client_key, E("CLIENT_KEY"))) != 0 ||
      (rc = set_str(&cfg->client_cert, opts->client_certificate, E("CLIENT_CERTIFICATE"))) != 0)
    goto fail;
#undef E

  cfg->max_concurrent = opts->max_concurrent ? opts->max_concurrent : 2;
  cfg->max_queue_batches = opts->max_queue_batches ? opts->max_queue_batches : 64;
  cfg->retry_initial_ms = opts->retry_initial_ms ? opts->retry_initial_ms : 1000;
  cfg->retry_max_ms = opts->retry_max_ms ? opts->retry_max_ms : 5000;
  if (cfg->retry_max_ms < cfg->retry_initial_ms) cfg->retry_max_ms = cfg->retry_initial_ms;
  return 0;

fail:
  uvotel__otlp_config_free(cfg);
  return rc;
}

void uvotel__otlp_config_free(uvotel__otlp_config_t *cfg) {
  if (cfg == NULL) return;
  uvotel_free(cfg->url);
  for (size_t i = 0; i < cfg->n_headers; i++) uvotel_free(cfg->headers[i]);
  uvotel_free(cfg->headers);
  uvotel_free(cfg->ca_file);
  uvotel_free(cfg->client_key);
  uvotel_free(cfg->client_cert);
  uvotel_otlp_diag_cb d = cfg->diag;
  void *a = cfg->diag_arg;
  memset(cfg, 0, sizeof *cfg);
  cfg->diag = d;
  cfg->diag_arg = a;
}
