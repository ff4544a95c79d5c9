/* http-service: a small HTTP/1.1 service on uvotel's TCP wrappers, traced with uvotel, bounded
 * and safe to deploy as a starting point.
 *
 *   http-service [--port N] [--file PATH] [--w3c-test-endpoint] [limits, see usage()]
 *
 * Listens on HOST:N (--host, default 127.0.0.1; N 0: a free port) and prints
 * "listening on HOST:PORT". Requests
 * are parsed with http-parser; W3C traceparent / tracestate / baggage are extracted from every
 * header line of those names, and each request runs under a SERVER span:
 *   GET /work    reads PATH (default: this executable), resolves localhost, sleeps 1 ms on a
 *                timer and answers JSON with the trace id; with UVOTEL_INSTRUMENT (default
 *                fs,dns here) the file and DNS requests become child spans automatically.
 *   POST /test   only with --w3c-test-endpoint: the W3C Trace Context test-suite contract; the
 *                body is a JSON array of {"url": ..., "arguments": [...]}; for each element, in
 *                order, POST the JSON of arguments to url (libcurl, on the same loop; http and
 *                https only, no redirects, credentials stripped) under a CLIENT span whose
 *                context is injected as traceparent / tracestate (and the baggage); 200 once all
 *                finished.
 * Every connection is bounded (header, body and buffered bytes; header, request and idle
 * timeouts; a connection cap) and answered 400/408/413/414/431/503 as HTTP says. SIGPIPE is
 * ignored: libuv reports a write to a closed peer as EPIPE. SIGINT/SIGTERM stop accepting, let
 * requests in flight finish within the drain deadline, flush spans and exit 0 (README.md). */
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "http_service.h"
#include "uvotel/env.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/otlp_http.h"
#include "uvotel/uv_spans.h"

#define MAX_HEADERS 100         /* header lines per request; more: 431 */
#define MAX_OVERFLOW 64         /* connections over the cap being answered 503 at once */
#define LINGER_MS 2000          /* at most, reading (and dropping) after a final response */
#define READ_CHUNK 65536        /* one read */
#define OTLP_TIMEOUT_MS 10000   /* the OTLP exporter's default per-batch timeout (otlp_http.h) */
#define SHUTDOWN_MARGIN_MS 2000 /* encoding and the last batch's hand-over, beyond it */
#define STOP_IDLE_MS 100        /* stopping: an idle connection's last chance to send a request */

/* ---- configuration ---- */

static struct {
  const char *host;
  int port;
  const char *file;
  int w3c_test_endpoint;
  unsigned max_calls;
  size_t max_header_bytes, max_body_bytes, max_buffered_bytes;
  unsigned max_connections;
  uint64_t header_timeout_ms, request_timeout_ms, idle_timeout_ms;
  uint64_t drain_timeout_ms, shutdown_timeout_ms;
} g_cfg = {"127.0.0.1", 8080, NULL, 0, 16, 16384, 65536, 65536, 0, 10000, 30000, 30000, 10000, 0};

typedef struct request_s request_t;

typedef struct conn_s {
  uv_tcp_t tcp;
  uv_timer_t timer; /* the connection's one deadline (see arm_timer) */
  http_parser parser;
  struct conn_s *next, *prev;
  int open_handles; /* tcp + timer; freed when both closed */
  int overflow;     /* accepted over the cap: answered 503 */
  char peer[64];
  int peer_port;
  /* the request being parsed: target, then header names and values, in hspace */
  char *hspace;
  size_t hlen, hcap, url_len;
  struct {
    uint32_t name_off, name_len, val_off, val_len;
  } h[MAX_HEADERS];
  size_t nh;
  int in_value;
  char *body;
  size_t body_len, body_cap;
  int msg_started, method_seen, line_done, headers_done, want_body;
  uint64_t msg_start; /* uv_now when its first byte was parsed */
  int reject;         /* status to answer when a parser callback refused (0: 400) */
  /* bytes received and not parsed yet (while a request is answered, or writes are blocked) */
  char *in;
  size_t in_len, in_cap;
  /* handling */
  request_t *req; /* the request being answered (parsing paused meanwhile) */
  int reading, eof, dead, closing, in_parse, lingering;
  uv_shutdown_t shut;
} conn_t;

struct request_s {
  conn_t *c;
  int keep_alive;
  uvotel_span_t *span;
  uvotel_extracted_t x;
  /* GET /work */
  uv_fs_t fs;
  uv_file fd;
  char buf[4096];
  ssize_t nread;
  uv_getaddrinfo_t gai;
  char localhost[64];
  uv_timer_t timer;
  /* POST /test */
  json_t *calls;
  size_t next;
  struct call_s *call;
};

typedef struct call_s {
  curl_transfer_t t;
  request_t *r;
  CURL *easy;
  struct curl_slist *headers;
  uvotel_span_t *span;
} call_t;

typedef struct write_s {
  uv_write_t w;
  conn_t *c;
  size_t len;
  char data[];
} write_t;

static uv_loop_t *g_loop;
static uv_tcp_t g_server;
static uv_signal_t g_sigint, g_sigterm;
static uv_timer_t g_drain;
static conn_t *g_conns;
static unsigned g_nconns, g_noverflow;
static curl_loop_t *g_curl;
static uvotel_tracer_provider_t *g_provider;
static uvotel_tracer_t *g_tracer;
static uvotel_propagator_t *g_prop;
static int g_stopping, g_stopped, g_abort, g_shutdown_rc;
static char g_known_methods[512] = ",CONNECT,DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT,QUERY,TRACE,";

static void conn_close(conn_t *c);
static void conn_finish(conn_t *c);
static void on_timer(uv_timer_t *t);
static void conn_resume(conn_t *c);
static void arm_timer(conn_t *c);
static void maybe_stopped(void);

/* ---- spans: the attributes of the HTTP semantic conventions ---- */

static int method_known(const char *m) {
  size_t n = strlen(m);
  if (n == 0) return 0;
  for (const char *p = g_known_methods + 1; (p = strstr(p, m)) != NULL; p += n) {
    if (p[-1] == ',' && p[n] == ',') return 1; /* the list starts and ends with a comma */
  }
  return 0;
}

static const char *header_value(const conn_t *c, const char *name, size_t *len) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < c->nh; i++) {
    if (c->h[i].name_len == nl && strncasecmp(c->hspace + c->h[i].name_off, name, nl) == 0) {
      *len = c->h[i].val_len;
      return c->hspace + c->h[i].val_off;
    }
  }
  return NULL;
}

static void set_strn(uvotel_span_t *s, const char *key, const char *v, size_t n) {
  char tmp[2048];
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  memcpy(tmp, v, n);
  tmp[n] = '\0';
  uvotel_span_set_attribute_str(s, key, tmp);
}

/* Start the SERVER span of what was received of the current request. route: the matched
 * route, or NULL. parent: the extracted context, or NULL for a root. */
static uvotel_span_t *server_span_start(conn_t *c, const char *route,
                                        const uvotel_span_context_t *parent) {
  const char *method = NULL;
  int known = 0;
  if (c->method_seen) { /* the method is parsed once the target begins */
    method = http_method_str(c->parser.method);
    known = method_known(method);
  }
  char name[300];
  snprintf(name, sizeof name, "%s%s%s", known ? method : "HTTP", route != NULL ? " " : "",
           route != NULL ? route : "");
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  if (parent != NULL && uvotel_span_context_is_valid(parent)) {
    so.parent_context = parent;
  } else {
    so.flags = UVOTEL_SPAN_ROOT; /* a missing or malformed traceparent starts a new trace */
  }
  uvotel_span_t *s = uvotel_span_start(g_tracer, name, &so);
  uvotel_span_set_attribute_str(s, "http.request.method", known ? method : "_OTHER");
  if (method != NULL && !known) {
    uvotel_span_set_attribute_str(s, "http.request.method_original", method);
  }
  struct http_parser_url pu;
  http_parser_url_init(&pu);
  if (c->line_done && c->url_len > 0 &&
      http_parser_parse_url(c->hspace, c->url_len, c->parser.method == HTTP_CONNECT, &pu) == 0) {
    if (pu.field_set & (1 << UF_PATH)) {
      set_strn(s, "url.path", c->hspace + pu.field_data[UF_PATH].off, pu.field_data[UF_PATH].len);
    }
    if (pu.field_set & (1 << UF_QUERY)) {
      set_strn(s, "url.query", c->hspace + pu.field_data[UF_QUERY].off,
               pu.field_data[UF_QUERY].len);
    }
  }
  uvotel_span_set_attribute_str(s, "url.scheme", "http");
  if (c->line_done) {
    char v[16] = "1.1";
    if (c->parser.http_major != 1 || c->parser.http_minor != 1) {
      snprintf(v, sizeof v, "%u.%u", c->parser.http_major, c->parser.http_minor);
    }
    uvotel_span_set_attribute_str(s, "network.protocol.version", v);
  }
  uvotel_span_set_attribute_str(s, "server.address", g_cfg.host);
  uvotel_span_set_attribute_int(s, "server.port", g_cfg.port);
  if (c->peer[0] != '\0') {
    uvotel_span_set_attribute_str(s, "client.address", c->peer);
    uvotel_span_set_attribute_int(s, "client.port", c->peer_port);
    uvotel_span_set_attribute_str(s, "network.peer.address", c->peer);
    uvotel_span_set_attribute_int(s, "network.peer.port", c->peer_port);
  }
  size_t ualen;
  const char *ua = header_value(c, "user-agent", &ualen);
  if (ua != NULL) set_strn(s, "user_agent.original", ua, ualen);
  if (route != NULL) uvotel_span_set_attribute_str(s, "http.route", route);
  return s;
}

/* The status on the span. 5xx: ERROR and error.type (as the conventions say for SERVER spans);
 * `failed`: the request was refused before it was received completely (limits, timeouts,
 * malformed), which the conventions count as a failed request: error.type and ERROR too. */
static void server_span_status(uvotel_span_t *s, int status, int failed) {
  uvotel_span_set_attribute_int(s, "http.response.status_code", status);
  if (status >= 500 || failed) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    uvotel_span_set_attribute_str(s, "error.type", code);
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, NULL);
  }
}

/* ---- responses ---- */

static const char *reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 431:
      return "Request Header Fields Too Large";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

static void on_written(uv_write_t *w, int status) {
  write_t *wr = (write_t *)w;
  conn_t *c = wr->c;
  free(wr);
  if (c->closing) return;
  if (status < 0) { /* EPIPE, ECONNRESET: the peer is gone (SIGPIPE is ignored) */
    conn_close(c);
    return;
  }
  /* the queue may have drained: go on with what waits */
  if (!c->lingering && c->req == NULL && (c->in_len > 0 || !c->reading)) conn_resume(c);
}

/* Queue a response. keep: whether the connection stays open afterwards. The answer to HEAD
 * has the Content-Length of the body but not the body. */
static void send_response(conn_t *c, int status, const char *body, int keep) {
  size_t blen = body != NULL ? strlen(body) : 0;
  size_t send = c->method_seen && c->parser.method == HTTP_HEAD ? 0 : blen;
  write_t *wr = malloc(sizeof *wr + blen + 256);
  if (wr == NULL) {
    conn_close(c);
    return;
  }
  int n = snprintf(wr->data, 256,
                   "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\nConnection: %s\r\n%s\r\n",
                   status, reason(status), blen, keep ? "keep-alive" : "close",
                   status == 503 ? "Retry-After: 1\r\n" : "");
  memcpy(wr->data + n, body, send);
  wr->len = (size_t)n + send;
  wr->c = c;
  uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->len);
  if (uvotel_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    free(wr);
    conn_close(c);
  }
}

static void request_free(request_t *r) {
  uvotel_extracted_reset(&r->x);
  json_decref(r->calls);
  free(r);
}

/* Answer the request, end its span, and go on with the connection. */
static void respond(request_t *r, int status, const char *body) {
  conn_t *c = r->c;
  int keep = r->keep_alive && !g_stopping;
  server_span_status(r->span, status, 0);
  if (!c->closing && !c->dead) send_response(c, status, body, keep);
  uvotel_span_end(r->span);
  c->req = NULL;
  request_free(r);
  if (c->closing) return;
  if (c->dead) {
    conn_close(c);
  } else if (!keep) {
    conn_finish(c);
  } else if (!c->in_parse) { /* answered later: go on with what arrived meanwhile */
    conn_resume(c);
  }
  if (g_stopping) maybe_stopped();
}

/* Refuse what is being received (limits, timeouts, malformed): a span, the status, and the
 * connection closes once it is written. */
static void reject(conn_t *c, int status) {
  uvotel_span_t *s = server_span_start(c, NULL, NULL);
  server_span_status(s, status, 1);
  send_response(c, status, "", 0);
  uvotel_span_end(s);
  conn_finish(c);
}

/* ---- GET /work ---- */

static void work_timer_closed(uv_handle_t *h) {
  request_t *r = h->data;
  char trace[33];
  uvotel_span_context_t sc = uvotel_span_context(r->span);
  uvotel_trace_id_to_hex(&sc.trace_id, trace);
  json_t *o = json_pack("{s:s, s:I, s:s}", "trace_id", trace, "bytes", (json_int_t)r->nread,
                        "localhost", r->localhost);
  char *body = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  respond(r, 200, body);
  free(body);
}

static void work_slept(uv_timer_t *t) {
  uvotel_close((uv_handle_t *)t, work_timer_closed);
}

static void work_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  request_t *r = req->data;
  if (status == 0 && res != NULL && res->ai_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)res->ai_addr, r->localhost, sizeof r->localhost);
  } else if (status == 0 && res != NULL && res->ai_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)res->ai_addr, r->localhost, sizeof r->localhost);
  }
  uv_freeaddrinfo(res);
  uv_timer_init(g_loop, &r->timer);
  r->timer.data = r;
  uvotel_timer_start(&r->timer, work_slept, 1, 0);
}

static void work_lookup(request_t *r) {
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_socktype = SOCK_STREAM;
  r->gai.data = r;
  if (uvotel_getaddrinfo(g_loop, &r->gai, work_resolved, "localhost", NULL, &hints) != 0) {
    respond(r, 500, "{\"error\":\"getaddrinfo\"}");
  }
}

static void work_closed(uv_fs_t *req) {
  request_t *r = req->data;
  uvotel_fs_req_cleanup(req);
  work_lookup(r);
}

static void work_read(uv_fs_t *req) {
  request_t *r = req->data;
  r->nread = req->result;
  uvotel_fs_req_cleanup(req);
  req->data = r;
  if (uvotel_fs_close(g_loop, &r->fs, r->fd, work_closed) != 0) work_lookup(r);
}

static void work_opened(uv_fs_t *req) {
  request_t *r = req->data;
  ssize_t fd = req->result;
  uvotel_fs_req_cleanup(req);
  req->data = r;
  if (fd < 0) {
    r->nread = fd;
    work_lookup(r);
    return;
  }
  r->fd = (uv_file)fd;
  uv_buf_t b = uv_buf_init(r->buf, sizeof r->buf);
  if (uvotel_fs_read(g_loop, &r->fs, r->fd, &b, 1, 0, work_read) != 0) {
    respond(r, 500, "{\"error\":\"read\"}");
  }
}

static void work_start(request_t *r) {
  r->fs.data = r;
  if (uvotel_fs_open(g_loop, &r->fs, g_cfg.file, O_RDONLY, 0, work_opened) != 0) {
    respond(r, 500, "{\"error\":\"open\"}");
  }
}

/* ---- POST /test ---- */

static int slist_set(void *carrier, const char *name, const char *value, size_t len) {
  struct curl_slist **list = carrier;
  char line[8192];
  int n = snprintf(line, sizeof line, "%s: %.*s", name, (int)len, value);
  if (n < 0 || (size_t)n >= sizeof line) return UVOTEL_ERANGE;
  struct curl_slist *l = curl_slist_append(*list, line);
  if (l == NULL) return UVOTEL_ENOMEM;
  *list = l;
  return 0;
}

static const uvotel_carrier_setter_t g_slist_setter = {slist_set};

static size_t discard(char *p, size_t size, size_t n, void *arg) {
  (void)p, (void)arg;
  return size * n;
}

/* A call's URL: http or https only, parsed by libcurl. The URL to send (credentials removed:
 * they are never sent) and the one to record (url.full: credentials as REDACTED:REDACTED and
 * the query values the conventions name replaced by REDACTED). Both curl_free'd by the caller.
 * 0, or -1 when the URL is refused. */
static int call_url(const char *url, CURLU **out, char **record) {
  CURLU *u = curl_url();
  char *scheme = NULL, *user = NULL, *password = NULL, *query = NULL;
  *out = NULL;
  *record = NULL;
  if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
    curl_free(scheme);
    curl_url_cleanup(u);
    return -1;
  }
  curl_free(scheme);
  int has_user = curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK;
  int has_password = curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK;
  curl_free(user);
  curl_free(password);
  CURLU *rec = curl_url_dup(u);
  curl_url_set(u, CURLUPART_USER, NULL, 0);
  curl_url_set(u, CURLUPART_PASSWORD, NULL, 0);
  curl_url_set(u, CURLUPART_OPTIONS, NULL, 0);
  if (rec != NULL) {
    if (has_user) curl_url_set(rec, CURLUPART_USER, "REDACTED", 0);
    if (has_password) curl_url_set(rec, CURLUPART_PASSWORD, "REDACTED", 0);
    curl_url_set(rec, CURLUPART_OPTIONS, NULL, 0);
    if (curl_url_get(rec, CURLUPART_QUERY, &query, 0) == CURLUE_OK) {
      static const char *const secret[] = {"AWSAccessKeyId", "Signature", "sig",
                                           "X-Goog-Signature"};
      char q[2048];
      size_t qn = 0;
      for (char *p = query; *p != '\0' && qn < sizeof q - 16;) {
        size_t len = strcspn(p, "&");
        size_t klen = strcspn(p, "=&");
        int hide = 0;
        for (size_t i = 0; i < sizeof secret / sizeof secret[0]; i++) {
          hide |= klen == strlen(secret[i]) && strncmp(p, secret[i], klen) == 0 && p[klen] == '=';
        }
        int n =
            hide ? snprintf(q + qn, sizeof q - qn, "%s%.*s=REDACTED", qn ? "&" : "", (int)klen, p)
                 : snprintf(q + qn, sizeof q - qn, "%s%.*s", qn ? "&" : "", (int)len, p);
        if (n < 0 || (size_t)n >= sizeof q - qn) break;
        qn += (size_t)n;
        p += len;
        if (*p == '&') p++;
      }
      curl_url_set(rec, CURLUPART_QUERY, q, 0);
      curl_free(query);
    }
    if (curl_url_get(rec, CURLUPART_URL, record, 0) != CURLUE_OK) *record = NULL;
    curl_url_cleanup(rec);
  }
  *out = u;
  return 0;
}

static void call_next(request_t *r);

static void call_done(curl_transfer_t *t, CURLcode result, long code) {
  call_t *call = (call_t *)t;
  request_t *r = call->r;
  char *ip = NULL;
  long port = 0, version = 0;
  if (curl_easy_getinfo(call->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip != NULL &&
      ip[0] != '\0') {
    uvotel_span_set_attribute_str(call->span, "network.peer.address", ip);
    if (curl_easy_getinfo(call->easy, CURLINFO_PRIMARY_PORT, &port) == CURLE_OK && port > 0) {
      uvotel_span_set_attribute_int(call->span, "network.peer.port", port);
    }
  }
  if (curl_easy_getinfo(call->easy, CURLINFO_HTTP_VERSION, &version) == CURLE_OK) {
    const char *v = version == CURL_HTTP_VERSION_1_0   ? "1.0"
                    : version == CURL_HTTP_VERSION_1_1 ? "1.1"
                    : version == CURL_HTTP_VERSION_2_0 ? "2"
                    : version == CURL_HTTP_VERSION_3   ? "3"
                                                       : NULL;
    if (v != NULL) uvotel_span_set_attribute_str(call->span, "network.protocol.version", v);
  }
  if (result == CURLE_ABORTED_BY_CALLBACK && g_abort) {
    /* cancelled by us at the drain deadline: not an error of the call (the conventions say
     * so for an intentional cancellation); the SERVER span answers 503 */
  } else if (result != CURLE_OK) {
    char type[32];
    snprintf(type, sizeof type, "CURLE_%d", (int)result);
    uvotel_span_set_attribute_str(call->span, "error.type", type);
    uvotel_span_set_status(call->span, UVOTEL_STATUS_ERROR, curl_easy_strerror(result));
  } else {
    uvotel_span_set_attribute_int(call->span, "http.response.status_code", code);
    if (code >= 400) {
      char s[24];
      snprintf(s, sizeof s, "%ld", code);
      uvotel_span_set_attribute_str(call->span, "error.type", s);
      uvotel_span_set_status(call->span, UVOTEL_STATUS_ERROR, NULL);
    }
  }
  uvotel_span_end(call->span);
  curl_easy_cleanup(call->easy);
  curl_slist_free_all(call->headers);
  free(call);
  r->call = NULL;
  r->next++;
  call_next(r); /* in the request's context already: curl_loop runs done in the transfer's */
}

static void call_next(request_t *r) {
  if (r->next >= json_array_size(r->calls) || g_abort) {
    respond(r, g_abort ? 503 : 200, "");
    return;
  }
  json_t *el = json_array_get(r->calls, r->next);
  const char *url = json_string_value(json_object_get(el, "url"));
  json_t *args = json_object_get(el, "arguments");
  CURLU *u = NULL;
  char *record = NULL;
  if (url == NULL || call_url(url, &u, &record) != 0) { /* checked before the first call */
    r->next++;
    call_next(r);
    return;
  }
  call_t *call = calloc(1, sizeof *call);
  if (call == NULL) {
    curl_url_cleanup(u);
    curl_free(record);
    respond(r, 500, "");
    return;
  }
  call->t.done = call_done;
  call->r = r;
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_CLIENT;
  so.parent_span = r->span;
  call->span = uvotel_span_start(g_tracer, "POST", &so);
  uvotel_span_set_attribute_str(call->span, "http.request.method", "POST");
  uvotel_span_set_attribute_str(call->span, "url.full", record != NULL ? record : "");
  curl_free(record);
  char *host = NULL, *port = NULL;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    uvotel_span_set_attribute_str(call->span, "server.address", host);
  }
  if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
    uvotel_span_set_attribute_int(call->span, "server.port", atoi(port));
  }
  curl_free(host);
  curl_free(port);
  char *send_url = NULL;
  curl_url_get(u, CURLUPART_URL, &send_url, 0);
  curl_url_cleanup(u);

  uvotel_span_context_t sc = uvotel_span_context(call->span);
  (void)uvotel_propagator_inject(g_prop, &sc, uvotel_baggage_current(), &call->headers,
                                 &g_slist_setter);
  call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
  char *body = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  call->easy = curl_easy_init();
  curl_easy_setopt(call->easy, CURLOPT_URL, send_url != NULL ? send_url : "");
  curl_free(send_url);
  curl_easy_setopt(call->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(call->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(call->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(call->easy, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
  curl_easy_setopt(call->easy, CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "[]");
  curl_easy_setopt(call->easy, CURLOPT_HTTPHEADER, call->headers);
  curl_easy_setopt(call->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(call->easy, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(call->easy, CURLOPT_NOSIGNAL, 1L);
  free(body);
  r->call = call;
  if (curl_loop_add(g_curl, call->easy, &call->t) != 0) call_done(&call->t, CURLE_FAILED_INIT, 0);
}

static void test_start(request_t *r, conn_t *c) {
  json_error_t err;
  r->calls = json_loadb(c->body != NULL ? c->body : "", c->body_len, 0, &err);
  if (r->calls == NULL || !json_is_array(r->calls)) {
    respond(r, 400, "{\"error\":\"expected a JSON array\"}");
    return;
  }
  if (json_array_size(r->calls) > g_cfg.max_calls) {
    respond(r, 400, "{\"error\":\"too many calls (--max-calls)\"}");
    return;
  }
  size_t i;
  json_t *el;
  json_array_foreach(r->calls, i, el) { /* every URL is checked before any call is made */
    const char *url = json_string_value(json_object_get(el, "url"));
    CURLU *u;
    char *record;
    if (url == NULL) continue; /* skipped, as the test suite's reference services do */
    if (call_url(url, &u, &record) != 0) {
      respond(r, 400, "{\"error\":\"only http and https URLs\"}");
      return;
    }
    curl_url_cleanup(u);
    curl_free(record);
  }
  r->next = 0;
  call_next(r);
}

/* ---- requests ---- */

static void handle_request(conn_t *c) {
  request_t *r = calloc(1, sizeof *r);
  if (r == NULL) {
    conn_close(c);
    return;
  }
  r->c = c;
  r->x = (uvotel_extracted_t)UVOTEL_EXTRACTED_INIT;
  r->keep_alive = http_should_keep_alive(&c->parser);
  c->req = r;
  arm_timer(c); /* none while the request is answered */

  /* Every header line, so that repeated traceparent/tracestate/baggage lines are all seen. */
  uvotel_header_t hdrs[MAX_HEADERS];
  for (size_t i = 0; i < c->nh; i++) {
    hdrs[i].name = (uvotel_str_t){c->hspace + c->h[i].name_off, c->h[i].name_len};
    hdrs[i].value = (uvotel_str_t){c->hspace + c->h[i].val_off, c->h[i].val_len};
  }
  uvotel_header_list_t list = {hdrs, c->nh};
  (void)uvotel_propagator_extract(g_prop, &list, &uvotel_header_getter, &r->x);

  struct http_parser_url pu;
  http_parser_url_init(&pu);
  size_t plen = 0;
  const char *path = NULL;
  if (http_parser_parse_url(c->hspace, c->url_len, c->parser.method == HTTP_CONNECT, &pu) == 0 &&
      (pu.field_set & (1 << UF_PATH))) {
    path = c->hspace + pu.field_data[UF_PATH].off;
    plen = pu.field_data[UF_PATH].len;
  }
  int work = c->parser.method == HTTP_GET && plen == 5 && memcmp(path, "/work", 5) == 0;
  int test = g_cfg.w3c_test_endpoint && c->parser.method == HTTP_POST && plen == 5 &&
             memcmp(path, "/test", 5) == 0;
  r->span = server_span_start(c, work ? "/work" : test ? "/test" : NULL, &r->x.span_context);

  /* The request's span and baggage are current for everything started from here. */
  uvotel_scope_t span_scope, bag_scope;
  int span_in = uvotel_span_enter(r->span, &span_scope) == 0;
  int bag_in = r->x.baggage != NULL && uvotel_baggage_enter(r->x.baggage, &bag_scope) == 0;
  if (work) {
    work_start(r);
  } else if (test) {
    test_start(r, c);
  } else {
    respond(r, 404, "{\"error\":\"not found\"}");
  }
  if (bag_in) uvotel_scope_exit(&bag_scope);
  if (span_in) uvotel_scope_exit(&span_scope);
}

/* ---- HTTP parsing ---- */

/* Append len bytes to a growing buffer (*buf of *used bytes in *cap), doubling from `first`
 * but never beyond `limit` (the caller checked used + len <= limit). 0, or -1 out of memory. */
static int append(char **buf, size_t *used, size_t *cap, const char *at, size_t len, size_t first,
                  size_t limit) {
  if (*used + len > *cap) {
    size_t n = *cap ? *cap : first;
    while (n < *used + len) n *= 2;
    if (n > limit) n = limit;
    char *p = realloc(*buf, n);
    if (p == NULL) return -1;
    *buf = p;
    *cap = n;
  }
  memcpy(*buf + *used, at, len);
  *used += len;
  return 0;
}

/* Target and header bytes share one budget (--max-header-bytes). */
static int append_h(conn_t *c, const char *at, size_t len) {
  if (c->hlen + len > g_cfg.max_header_bytes) {
    c->reject = c->line_done ? 431 : 414;
    return -1;
  }
  if (append(&c->hspace, &c->hlen, &c->hcap, at, len, 1024, g_cfg.max_header_bytes) != 0) {
    c->reject = 503;
    return -1;
  }
  return 0;
}

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  c->url_len = 0;
  c->nh = 0;
  c->hlen = 0;
  c->in_value = 0;
  c->body_len = 0;
  if (c->body_cap > 65536) { /* a large body is not kept for the next request */
    free(c->body);
    c->body = NULL;
    c->body_cap = 0;
  }
  c->method_seen = 0;
  c->line_done = 0;
  c->headers_done = 0;
  c->reject = 0;
  c->msg_started = 1;
  c->msg_start = uv_now(g_loop);
  arm_timer(c);
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  c->method_seen = 1;
  if (append_h(c, at, len) != 0) return -1;
  c->url_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  c->line_done = 1;
  if (c->nh == 0 || c->in_value) {
    if (c->nh == MAX_HEADERS) {
      c->reject = 431;
      return -1;
    }
    c->h[c->nh].name_off = (uint32_t)c->hlen;
    c->h[c->nh].name_len = 0;
    c->h[c->nh].val_off = (uint32_t)c->hlen;
    c->h[c->nh].val_len = 0;
    c->nh++;
    c->in_value = 0;
  }
  if (append_h(c, at, len) != 0) return -1;
  c->h[c->nh - 1].name_len += (uint32_t)len;
  return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->nh == 0) return -1;
  if (!c->in_value) {
    c->in_value = 1;
    c->h[c->nh - 1].val_off = (uint32_t)c->hlen;
  }
  if (append_h(c, at, len) != 0) return -1;
  c->h[c->nh - 1].val_len += (uint32_t)len;
  return 0;
}

static int on_headers_complete(http_parser *p) {
  conn_t *c = p->data;
  c->line_done = 1;
  c->headers_done = 1;
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > g_cfg.max_body_bytes) {
    c->reject = 413; /* refused before reading the body */
    return -1;
  }
  /* Only POST /test reads its body; any other is counted against the limit and dropped. */
  c->want_body = 0;
  struct http_parser_url pu;
  http_parser_url_init(&pu);
  if (g_cfg.w3c_test_endpoint && p->method == HTTP_POST &&
      http_parser_parse_url(c->hspace, c->url_len, 0, &pu) == 0 &&
      (pu.field_set & (1 << UF_PATH)) && pu.field_data[UF_PATH].len == 5 &&
      memcmp(c->hspace + pu.field_data[UF_PATH].off, "/test", 5) == 0) {
    c->want_body = 1;
  }
  arm_timer(c); /* the rest of the request timeout, for the body */
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->body_len + len > g_cfg.max_body_bytes) { /* chunked bodies are counted as they come */
    c->reject = 413;
    return -1;
  }
  if (!c->want_body) {
    c->body_len += len;
    return 0;
  }
  if (append(&c->body, &c->body_len, &c->body_cap, at, len, 4096, g_cfg.max_body_bytes) != 0) {
    c->reject = 503;
    return -1;
  }
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  c->msg_started = 0;
  http_parser_pause(p, 1); /* one request at a time: the rest waits in c->in */
  handle_request(c);
  return 0;
}

static const http_parser_settings g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Whether parsing may go on: no request being answered, and the peer reads our responses
 * (no more than --max-buffered-bytes queued for writing). */
static int can_parse(const conn_t *c) {
  return !c->closing && !c->lingering && c->req == NULL &&
         c->tcp.write_queue_size <= g_cfg.max_buffered_bytes;
}

/* Parse from data while allowed; returns the bytes consumed (all of them once the connection
 * is refused or closed). */
static size_t consume(conn_t *c, const char *data, size_t len) {
  size_t used = 0;
  while (used < len && can_parse(c)) {
    http_parser_pause(&c->parser, 0);
    c->in_parse = 1;
    size_t n = http_parser_execute(&c->parser, &g_settings, data + used, len - used);
    c->in_parse = 0;
    used += n;
    if (c->closing || c->lingering) return len;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) continue; /* a request completed: answered, or being answered */
    if (e != HPE_OK) {
      int status = c->reject ? c->reject : e == HPE_HEADER_OVERFLOW ? 431 : 400;
      reject(c, status);
      return len;
    }
  }
  return used;
}

static int keep_in(conn_t *c, const char *data, size_t len) {
  size_t limit =
      c->in_len + len > g_cfg.max_buffered_bytes ? c->in_len + len : g_cfg.max_buffered_bytes;
  if (append(&c->in, &c->in_len, &c->in_cap, data, len, 4096, limit) != 0) {
    conn_close(c);
    return -1;
  }
  return 0;
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

/* Go on with the connection after a request was answered or writes drained: parse what is
 * buffered, and read again once below --max-buffered-bytes. */
static void conn_resume(conn_t *c) {
  if (c->closing || c->lingering) return;
  if (c->in_len > 0 && can_parse(c)) {
    size_t n = consume(c, c->in, c->in_len);
    if (c->closing || c->lingering) return;
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
  }
  if (c->eof) {
    if (c->req == NULL && can_parse(c)) conn_finish(c); /* all the peer sent is answered */
    return;
  }
  if (!c->reading && c->in_len < g_cfg.max_buffered_bytes) {
    c->reading = uvotel_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0;
  }
  if (c->req == NULL) arm_timer(c);
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  if (--c->open_handles > 0) return;
  if (c->overflow) {
    g_noverflow--;
  } else {
    g_nconns--;
  }
  free(c->hspace);
  free(c->body);
  free(c->in);
  free(c);
  if (g_stopping) maybe_stopped();
}

static void conn_close(conn_t *c) {
  if (c->closing) return;
  if (c->req != NULL) {
    c->dead = 1; /* respond() closes it once the request is answered */
    if (c->reading) uvotel_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
    return;
  }
  c->closing = 1;
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else if (g_conns == c) {
    g_conns = c->next;
  }
  if (c->next != NULL) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->timer, on_conn_closed);
  uvotel_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  conn_t *c = req->data;
  if (!c->closing && (status < 0 || c->eof)) conn_close(c); /* sent, and the peer is done */
}

/* The last response is queued: send it, then stop writing and read (dropping) until the peer
 * closes or LINGER_MS pass, so that unread request bytes do not turn the close into a reset
 * that discards the response at the peer. */
static void conn_finish(conn_t *c) {
  if (c->closing || c->lingering) return;
  c->lingering = 1;
  c->shut.data = c;
  if (uvotel_shutdown(&c->shut, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  if (!c->reading && !c->eof) {
    c->reading = uvotel_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0;
  }
  uint64_t linger = g_cfg.idle_timeout_ms < LINGER_MS ? g_cfg.idle_timeout_ms : LINGER_MS;
  uv_timer_start(&c->timer, on_timer, linger, 0);
}

/* The connection's deadline for its state:
 *   lingering                         LINGER_MS (set by conn_finish), then close
 *   a request being answered          none
 *   responses not read by the peer    --idle-timeout, then close
 *   headers being received            --header-timeout (within --request-timeout) from the
 *                                     request's first byte, then 408
 *   body being received               --request-timeout from the first byte, then 408
 *   between requests                  --idle-timeout (stopping: at most STOP_IDLE_MS, so that a
 *                                     request already sent is still read), then close */
static void on_timer(uv_timer_t *t) {
  conn_t *c = t->data;
  if (c->closing) return;
  if (c->lingering || c->tcp.write_queue_size > g_cfg.max_buffered_bytes || !c->msg_started) {
    conn_close(c);
  } else {
    reject(c, 408);
  }
}

static void arm_timer(conn_t *c) {
  if (c->closing || c->lingering) return;
  if (c->req != NULL) {
    uv_timer_stop(&c->timer);
    return;
  }
  uint64_t ms = g_cfg.idle_timeout_ms;
  if (g_stopping && ms > STOP_IDLE_MS) ms = STOP_IDLE_MS;
  if (c->msg_started && c->tcp.write_queue_size <= g_cfg.max_buffered_bytes) {
    uint64_t limit = g_cfg.request_timeout_ms;
    if (!c->headers_done && g_cfg.header_timeout_ms < limit) limit = g_cfg.header_timeout_ms;
    uint64_t spent = uv_now(g_loop) - c->msg_start;
    ms = spent < limit ? limit - spent : 0;
  }
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  conn_t *c = h->data;
  static char mem[READ_CHUNK];
  (void)size;
  size_t n = sizeof mem;
  /* never more buffered than --max-buffered-bytes (reading stops at the limit) */
  if (!c->lingering) {
    size_t room = c->in_len < g_cfg.max_buffered_bytes ? g_cfg.max_buffered_bytes - c->in_len : 1;
    if (room < n) n = room;
  }
  *buf = uv_buf_init(mem, (unsigned)n);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (c->closing) return;
  if (nread < 0) {
    uvotel_read_stop(s);
    c->reading = 0;
    c->eof = 1;
    if (c->lingering || nread != UV_EOF) {
      conn_close(c); /* a reset: nothing more can be answered */
    } else if (c->req == NULL) {
      conn_resume(c); /* answer what is complete, then close */
    }
    return;
  }
  if (nread == 0 || c->lingering) return; /* lingering: dropped */
  const char *data = buf->base;
  size_t len = (size_t)nread;
  if (c->in_len == 0) { /* parse straight from the read buffer; keep what must wait */
    size_t n = consume(c, data, len);
    if (c->closing || c->lingering) return;
    if (n < len && keep_in(c, data + n, len - n) != 0) return;
  } else {
    if (keep_in(c, data, len) != 0) return;
    conn_resume(c);
    if (c->closing || c->lingering) return;
  }
  if (c->in_len >= g_cfg.max_buffered_bytes && c->reading) {
    uvotel_read_stop(s); /* resumed by conn_resume once drained */
    c->reading = 0;
  }
  if (c->req == NULL) arm_timer(c);
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0 || g_stopping) return;
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) return;
  uvotel_tcp_init(g_loop, &c->tcp);
  uv_timer_init(g_loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  c->open_handles = 2;
  c->overflow = g_nconns >= g_cfg.max_connections;
  if (c->overflow) {
    g_noverflow++;
  } else {
    g_nconns++;
  }
  c->closing = 1; /* not listed until accepted */
  if (uvotel_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      (c->overflow && g_noverflow > MAX_OVERFLOW)) {
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    uvotel_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  c->closing = 0;
  c->next = g_conns;
  if (g_conns != NULL) g_conns->prev = c;
  g_conns = c;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET) {
      uv_ip4_name((const struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
      c->peer_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    } else if (ss.ss_family == AF_INET6) {
      uv_ip6_name((const struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
      c->peer_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
  }
  if (c->overflow) { /* over --max-connections: 503 at once, nothing read */
    reject(c, 503);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->reading = uvotel_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0;
  arm_timer(c);
}

/* ---- startup and shutdown ---- */

/* After the drain: no connection is left. Close the outgoing side, flush the spans, close the
 * signal handles; uv_run then returns. */
static void maybe_stopped(void) {
  if (g_stopped || g_conns != NULL || g_nconns + g_noverflow > 0) return;
  g_stopped = 1;
  uv_timer_stop(&g_drain);
  uv_close((uv_handle_t *)&g_drain, NULL);
  curl_loop_close(g_curl);
  uvotel_auto_spans_disable();
  g_shutdown_rc = uvotel_tracer_provider_shutdown(g_provider, g_cfg.shutdown_timeout_ms);
  uvotel_close((uv_handle_t *)&g_sigint, NULL);
  uvotel_close((uv_handle_t *)&g_sigterm, NULL);
}

/* The drain deadline passed (or a second signal): abort what is still running. A /test call in
 * flight is aborted (the request answers 503); requests on the loop's own work (GET /work: a
 * file read, a lookup, 1 ms) finish by themselves; every other connection closes now. */
static void on_drain_deadline(uv_timer_t *t) {
  (void)t;
  g_abort = 1; /* call_next answers 503 from here */
  for (conn_t *c = g_conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->req != NULL && c->req->call != NULL) {
      call_t *call = c->req->call;
      curl_loop_remove(g_curl, call->easy);
      call_done(&call->t, CURLE_ABORTED_BY_CALLBACK, 0);
    } else {
      conn_close(c);
    }
  }
  maybe_stopped();
}

static void on_signal(uv_signal_t *s, int signum) {
  (void)s, (void)signum;
  if (g_stopping) { /* a second signal: do not wait for the drain deadline */
    if (!g_stopped) on_drain_deadline(&g_drain);
    return;
  }
  g_stopping = 1;
  uvotel_close((uv_handle_t *)&g_server, NULL);
  /* Idle connections close after STOP_IDLE_MS (a request already on its way is still read);
   * the others finish what was received, answered with Connection: close. */
  for (conn_t *c = g_conns; c != NULL; c = c->next) arm_timer(c);
  uv_timer_start(&g_drain, on_drain_deadline, g_cfg.drain_timeout_ms, 0);
  maybe_stopped();
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--host ADDR] [--port N] [--file PATH] [--w3c-test-endpoint]\n"
          "  [--max-calls N] [--max-header-bytes N] [--max-body-bytes N]\n"
          "  [--max-buffered-bytes N] [--max-connections N] [--header-timeout MS]\n"
          "  [--request-timeout MS] [--idle-timeout MS] [--drain-timeout MS]\n"
          "  [--shutdown-timeout MS]\n",
          argv0);
  exit(2);
}

static uint64_t num_arg(const char *argv0, const char *s, uint64_t min, uint64_t max) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (*s == '\0' || *s == '-' || *end != '\0' || v < min || v > max) usage(argv0);
  return v;
}

/* The exporter's per-batch deadline (retries included), read as the OTLP exporter reads it
 * (the shared uvotel_env parser): the shutdown deadline must cover it, or the last batches are
 * abandoned while still retrying. */
static uint64_t exporter_timeout_ms(void) {
  const char *names[] = {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"};
  for (size_t i = 0; i < 2; i++) {
    uint64_t ms = 0;
    if (uvotel_env_duration_ms(names[i], &ms) == 0 && ms > 0) return ms;
  }
  return OTLP_TIMEOUT_MS;
}

/* OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS: the comma list replaces the known methods (names
 * are case-sensitive, as the conventions say). */
static void known_methods_from_env(void) {
  const char *cur = uvotel_env_get("OTEL_INSTRUMENTATION_HTTP_KNOWN_METHODS"), *item;
  size_t len, n = 0;
  if (cur == NULL) return;
  g_known_methods[n++] = ',';
  while (uvotel_env_list_next(&cur, &item, &len)) {
    if (n + len + 2 > sizeof g_known_methods) break;
    memcpy(g_known_methods + n, item, len);
    n += len;
    g_known_methods[n++] = ',';
  }
  g_known_methods[n] = '\0';
}

int main(int argc, char **argv) {
  /* libuv reports a write to a closed peer as UV_EPIPE; without this the signal kills us. */
  signal(SIGPIPE, SIG_IGN);
  g_cfg.file = argv[0];
  struct rlimit rl;
  uint64_t nofile = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                        ? (uint64_t)rl.rlim_cur
                        : 4096;
  g_cfg.max_connections = (unsigned)(nofile / 2 < 1024 ? (nofile / 2 > 0 ? nofile / 2 : 1) : 1024);
  g_cfg.shutdown_timeout_ms = exporter_timeout_ms() + SHUTDOWN_MARGIN_MS;
  const uint64_t big = 1ull << 40;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--w3c-test-endpoint") == 0) {
      g_cfg.w3c_test_endpoint = 1;
      continue;
    }
    if (v == NULL) usage(argv[0]);
    i++;
    if (strcmp(a, "--host") == 0) {
      g_cfg.host = v;
    } else if (strcmp(a, "--port") == 0) {
      g_cfg.port = (int)num_arg(argv[0], v, 0, 65535);
    } else if (strcmp(a, "--file") == 0) {
      g_cfg.file = v;
    } else if (strcmp(a, "--max-calls") == 0) {
      g_cfg.max_calls = (unsigned)num_arg(argv[0], v, 0, 100000);
    } else if (strcmp(a, "--max-header-bytes") == 0) {
      g_cfg.max_header_bytes = num_arg(argv[0], v, 256, 1u << 24);
    } else if (strcmp(a, "--max-body-bytes") == 0) {
      g_cfg.max_body_bytes = num_arg(argv[0], v, 0, big);
    } else if (strcmp(a, "--max-buffered-bytes") == 0) {
      g_cfg.max_buffered_bytes = num_arg(argv[0], v, 1024, big);
    } else if (strcmp(a, "--max-connections") == 0) {
      g_cfg.max_connections = (unsigned)num_arg(argv[0], v, 1, 1u << 20);
    } else if (strcmp(a, "--header-timeout") == 0) {
      g_cfg.header_timeout_ms = num_arg(argv[0], v, 1, big);
    } else if (strcmp(a, "--request-timeout") == 0) {
      g_cfg.request_timeout_ms = num_arg(argv[0], v, 1, big);
    } else if (strcmp(a, "--idle-timeout") == 0) {
      g_cfg.idle_timeout_ms = num_arg(argv[0], v, 1, big);
    } else if (strcmp(a, "--drain-timeout") == 0) {
      g_cfg.drain_timeout_ms = num_arg(argv[0], v, 0, big);
    } else if (strcmp(a, "--shutdown-timeout") == 0) {
      g_cfg.shutdown_timeout_ms = num_arg(argv[0], v, 0, big);
    } else {
      usage(argv[0]);
    }
  }
  /* http-parser's own head limit (raw bytes, with separators) above ours, so ours answers. */
  http_parser_set_max_header_size((uint32_t)(g_cfg.max_header_bytes + 4 * MAX_HEADERS + 1024));
  known_methods_from_env();
  /* File by default, OTLP when an endpoint is configured (unless the user chose). */
  if (getenv("OTEL_TRACES_EXPORTER") == NULL) {
    int otlp = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != NULL ||
               getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != NULL;
    setenv("OTEL_TRACES_EXPORTER", otlp ? "otlp" : "file", 1);
  }
  if (getenv("UVOTEL_INSTRUMENT") == NULL) setenv("UVOTEL_INSTRUMENT", "fs,dns", 1);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  /* Explicit, so the exporters' library is linked even where the linker drops unreferenced
   * libraries (--as-needed). It registers file, console and otlp. */
  (void)uvotel_exporters_register();

  g_loop = uv_default_loop();
  g_provider = uvotel_tracer_provider_from_env(); /* processors on uv_default_loop() */
  if (g_provider == NULL) {
    fprintf(stderr, "http-service: no tracer provider\n");
    return 1;
  }
  g_tracer = uvotel_tracer_get(g_provider, "uvotel.examples.http-service", UVOTEL_VERSION_STRING);
  if (uvotel_propagator_from_names(getenv("OTEL_PROPAGATORS"), &g_prop, NULL) != 0) {
    fprintf(stderr, "http-service: bad OTEL_PROPAGATORS, using tracecontext,baggage\n");
    g_prop = uvotel_propagator_default();
  }
  int err = uvotel_auto_spans_enable_from_env(g_tracer, 0);
  if (err != 0) fprintf(stderr, "http-service: UVOTEL_INSTRUMENT: %s\n", uvotel_strerror(err));

  g_curl = curl_loop_create(g_loop);
  struct sockaddr_storage addr;
  uvotel_tcp_init(g_loop, &g_server);
  if (((err = uv_ip4_addr(g_cfg.host, g_cfg.port, (struct sockaddr_in *)&addr)) != 0 &&
       (err = uv_ip6_addr(g_cfg.host, g_cfg.port, (struct sockaddr_in6 *)&addr)) != 0) ||
      (err = uv_tcp_bind(&g_server, (const struct sockaddr *)&addr, 0)) != 0 ||
      (err = uvotel_listen((uv_stream_t *)&g_server, 511, on_connection)) != 0) {
    fprintf(stderr, "http-service: listen on %s port %d: %s\n", g_cfg.host, g_cfg.port,
            uv_strerror(err));
    return 1;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&ss, &len);
  g_cfg.port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
  uv_timer_init(g_loop, &g_drain);
  uv_signal_init(g_loop, &g_sigint);
  uv_signal_init(g_loop, &g_sigterm);
  uv_signal_start(&g_sigint, on_signal, SIGINT);
  uv_signal_start(&g_sigterm, on_signal, SIGTERM);
  printf("listening on %s:%d\n", g_cfg.host, g_cfg.port);
  fflush(stdout);

  uv_run(g_loop, UV_RUN_DEFAULT);
  uvotel_trace_counters_t tc;
  int lost = uvotel_tracer_provider_counters(g_provider, &tc) == 0 && (tc.dropped + tc.failed) > 0;
  if (g_shutdown_rc != 0 || lost) {
    fprintf(stderr,
            "http-service: spans not delivered at shutdown (%s; %llu dropped, %llu failed)\n",
            g_shutdown_rc != 0 ? uvotel_strerror(g_shutdown_rc) : "flushed",
            (unsigned long long)tc.dropped, (unsigned long long)tc.failed);
  }
  uvotel_tracer_provider_free(g_provider);
  uv_run(g_loop, UV_RUN_DEFAULT); /* the processors' handles close */
  uvotel_propagator_free(g_prop);
  curl_global_cleanup();
  int rc = uvotel_uv_loop_close(g_loop);
  if (rc != 0) fprintf(stderr, "http-service: loop close: %s\n", uv_strerror(rc));
  return rc == 0 && g_shutdown_rc == 0 && !lost ? 0 : 1;
}
