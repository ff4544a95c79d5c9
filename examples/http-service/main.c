/* http-service: a small HTTP/1.1 service on uvotel's TCP wrappers, traced with uvotel.
 *
 *   http-service [--port N] [--file PATH]
 *
 * Listens on 127.0.0.1:N (0: a free port) and prints "listening on 127.0.0.1:PORT". Requests
 * are parsed with http-parser; W3C traceparent / tracestate / baggage are extracted from every
 * header line of those names, and each request runs under a SERVER span:
 *   GET /work    reads PATH (default: this executable), resolves localhost, sleeps 1 ms on a
 *                timer and answers JSON with the trace id; with UVOTEL_INSTRUMENT (default
 *                fs,dns here) the file and DNS requests become child spans automatically.
 *   POST /test   the W3C Trace Context test-suite contract: the body is a JSON array of
 *                {"url": ..., "arguments": [...]}; for each element, in order, POST the JSON of
 *                arguments to url (libcurl, on the same loop) under a CLIENT span whose context
 *                is injected as traceparent / tracestate (and the baggage); 200 once all
 *                finished.
 * Spans are exported per OTEL_* (file exporter by default, OTLP when
 * OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set). SIGINT/SIGTERM stop
 * the service cleanly, flushing spans. */
#include <fcntl.h>
#include <http_parser.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_service.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/otlp_http.h"
#include "uvotel/uv_spans.h"

#define MAX_HEADERS 64
#define HEADER_SPACE 16384
#define MAX_BODY (1u << 20)

typedef struct request_s request_t;

typedef struct conn_s {
  uv_tcp_t tcp;
  http_parser parser;
  struct conn_s *next, *prev;
  /* the request being parsed */
  char url[2048];
  size_t url_len;
  struct {
    uint32_t name_off, name_len, val_off, val_len;
  } h[MAX_HEADERS];
  size_t nh;
  char hspace[HEADER_SPACE];
  size_t hlen;
  int in_value;
  char *body;
  size_t body_len, body_cap;
  int too_big;
  /* handling */
  request_t *req; /* the request being answered (parser paused meanwhile) */
  char *pending;  /* bytes received while a request was being answered */
  size_t pending_len;
  int eof; /* the peer finished sending */
  int closing;
  int in_parse; /* inside http_parser_execute */
} conn_t;

struct request_s {
  conn_t *c;
  int keep_alive;
  uvotel_span_t *span;
  uvotel_extracted_t x;
  char method[16];
  char path[256];
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
static conn_t *g_conns;
static curl_loop_t *g_curl;
static uvotel_tracer_provider_t *g_provider;
static uvotel_tracer_t *g_tracer;
static uvotel_logger_provider_t *g_logs; /* logs: one record per request (issue 16) */
static uvotel_logger_t *g_log;
static uvotel_propagator_t *g_prop;
static const char *g_file;
static int g_port;
static int g_stopping;

static void conn_close(conn_t *c);
static void parse_more(conn_t *c, const char *data, size_t len);

/* ---- responses ---- */

static void on_written(uv_write_t *w, int status) {
  (void)status;
  write_t *wr = (write_t *)w;
  free(wr);
}

static const char *reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 413:
      return "Payload Too Large";
    case 502:
      return "Bad Gateway";
    default:
      return "Internal Server Error";
  }
}

static void request_free(request_t *r) {
  uvotel_extracted_reset(&r->x);
  json_decref(r->calls);
  free(r);
}

/* Send the response, end the request's span, and go on with the connection. */
static void respond(request_t *r, int status, const char *body) {
  conn_t *c = r->c;
  size_t blen = body != NULL ? strlen(body) : 0;
  uvotel_span_set_attribute_int(r->span, "http.response.status_code", status);
  if (status >= 500) {
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    uvotel_span_set_attribute_str(r->span, "error.type", code);
    uvotel_span_set_status(r->span, UVOTEL_STATUS_ERROR, NULL);
  }
  if (!c->eof && !c->closing) {
    write_t *wr = malloc(sizeof *wr + blen + 256);
    if (wr != NULL) {
      int n = snprintf(wr->data, 256,
                       "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                       "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                       status, reason(status), blen, r->keep_alive ? "keep-alive" : "close");
      memcpy(wr->data + n, body, blen);
      wr->len = (size_t)n + blen;
      wr->c = c;
      uv_buf_t b = uv_buf_init(wr->data, (unsigned)wr->len);
      if (uvotel_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) free(wr);
    }
  }
  uvotel_log(g_log, status >= 500 ? UVOTEL_SEVERITY_ERROR : UVOTEL_SEVERITY_INFO, "%s %s -> %d",
             r->method, r->path, status); /* in the request's context: carries its span */
  uvotel_span_end(r->span);
  int keep = r->keep_alive;
  c->req = NULL;
  request_free(r);
  if (c->eof || c->closing || !keep || g_stopping) {
    conn_close(c);
    return;
  }
  if (c->in_parse) return; /* answered at once: parse_more goes on with the rest */
  /* Go on with what arrived meanwhile. */
  char *p = c->pending;
  size_t n = c->pending_len;
  c->pending = NULL;
  c->pending_len = 0;
  if (n > 0) parse_more(c, p, n);
  free(p);
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
  if (uvotel_fs_open(g_loop, &r->fs, g_file, O_RDONLY, 0, work_opened) != 0) {
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

static void call_next(request_t *r);

static void call_done(curl_transfer_t *t, CURLcode result, long code) {
  call_t *call = (call_t *)t;
  request_t *r = call->r;
  if (result != CURLE_OK) {
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
  /* Continue in the request's context (span and baggage), as if registered there. */
  uvotel_scope_t span_scope, bag_scope;
  int span_in = uvotel_span_enter(r->span, &span_scope) == 0;
  int bag_in = r->x.baggage != NULL && uvotel_baggage_enter(r->x.baggage, &bag_scope) == 0;
  call_next(r);
  if (bag_in) uvotel_scope_exit(&bag_scope);
  if (span_in) uvotel_scope_exit(&span_scope);
}

static void call_next(request_t *r) {
  if (r->next >= json_array_size(r->calls) || g_stopping) {
    respond(r, g_stopping ? 500 : 200, "");
    return;
  }
  json_t *el = json_array_get(r->calls, r->next);
  const char *url = json_string_value(json_object_get(el, "url"));
  json_t *args = json_object_get(el, "arguments");
  if (url == NULL) { /* skip malformed entries, as the test suite's reference services do */
    r->next++;
    call_next(r);
    return;
  }
  call_t *call = calloc(1, sizeof *call);
  if (call == NULL) {
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
  uvotel_span_set_attribute_str(call->span, "url.full", url);
  CURLU *u = curl_url();
  if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
    char *host = NULL, *port = NULL;
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
      uvotel_span_set_attribute_str(call->span, "server.address", host);
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
      uvotel_span_set_attribute_int(call->span, "server.port", atoi(port));
    }
    curl_free(host);
    curl_free(port);
  }
  curl_url_cleanup(u);

  uvotel_span_context_t sc = uvotel_span_context(call->span);
  (void)uvotel_propagator_inject(g_prop, &sc, uvotel_baggage_current(), &call->headers,
                                 &g_slist_setter);
  call->headers = curl_slist_append(call->headers, "Content-Type: application/json");
  char *body = args != NULL ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  call->easy = curl_easy_init();
  curl_easy_setopt(call->easy, CURLOPT_URL, url);
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
  snprintf(r->method, sizeof r->method, "%s", http_method_str(c->parser.method));
  struct http_parser_url pu;
  http_parser_url_init(&pu);
  if (http_parser_parse_url(c->url, c->url_len, 0, &pu) == 0 && (pu.field_set & (1 << UF_PATH))) {
    snprintf(r->path, sizeof r->path, "%.*s", (int)pu.field_data[UF_PATH].len,
             c->url + pu.field_data[UF_PATH].off);
  } else {
    snprintf(r->path, sizeof r->path, "%.*s", (int)c->url_len, c->url);
  }

  /* Every header line, so that repeated traceparent/tracestate/baggage lines are all seen. */
  uvotel_header_t hdrs[MAX_HEADERS];
  for (size_t i = 0; i < c->nh; i++) {
    hdrs[i].name = (uvotel_str_t){c->hspace + c->h[i].name_off, c->h[i].name_len};
    hdrs[i].value = (uvotel_str_t){c->hspace + c->h[i].val_off, c->h[i].val_len};
  }
  uvotel_header_list_t list = {hdrs, c->nh};
  (void)uvotel_propagator_extract(g_prop, &list, &uvotel_header_getter, &r->x);

  int work = strcmp(r->method, "GET") == 0 && strcmp(r->path, "/work") == 0;
  int test = strcmp(r->method, "POST") == 0 && strcmp(r->path, "/test") == 0;
  char name[300];
  snprintf(name, sizeof name, "%s %s", r->method, work || test ? r->path : "");
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  if (uvotel_span_context_is_valid(&r->x.span_context)) {
    so.parent_context = &r->x.span_context;
  } else {
    so.flags = UVOTEL_SPAN_ROOT; /* a missing or malformed traceparent starts a new trace */
  }
  r->span = uvotel_span_start(g_tracer, name, &so);
  uvotel_span_set_attribute_str(r->span, "http.request.method", r->method);
  uvotel_span_set_attribute_str(r->span, "url.path", r->path);
  uvotel_span_set_attribute_str(r->span, "url.scheme", "http");
  uvotel_span_set_attribute_str(r->span, "network.protocol.version", "1.1");
  uvotel_span_set_attribute_str(r->span, "server.address", "127.0.0.1");
  uvotel_span_set_attribute_int(r->span, "server.port", g_port);
  if (work || test) uvotel_span_set_attribute_str(r->span, "http.route", r->path);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET) {
    char ip[64];
    uv_ip4_name((const struct sockaddr_in *)&ss, ip, sizeof ip);
    uvotel_span_set_attribute_str(r->span, "network.peer.address", ip);
    uvotel_span_set_attribute_int(r->span, "network.peer.port",
                                  ntohs(((struct sockaddr_in *)&ss)->sin_port));
  }

  /* The request's span and baggage are current for everything started from here. */
  uvotel_scope_t span_scope, bag_scope;
  int span_in = uvotel_span_enter(r->span, &span_scope) == 0;
  int bag_in = r->x.baggage != NULL && uvotel_baggage_enter(r->x.baggage, &bag_scope) == 0;
  if (c->too_big) {
    respond(r, 413, "");
  } else if (work) {
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

static int append_h(conn_t *c, const char *at, size_t len) {
  if (c->hlen + len > HEADER_SPACE) return -1;
  memcpy(c->hspace + c->hlen, at, len);
  c->hlen += len;
  return 0;
}

static int on_message_begin(http_parser *p) {
  conn_t *c = p->data;
  c->url_len = 0;
  c->nh = 0;
  c->hlen = 0;
  c->in_value = 0;
  c->body_len = 0;
  c->too_big = 0;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->url_len + len > sizeof c->url) return -1;
  memcpy(c->url + c->url_len, at, len);
  c->url_len += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->nh == 0 || c->in_value) {
    if (c->nh == MAX_HEADERS) return -1;
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

static int on_body(http_parser *p, const char *at, size_t len) {
  conn_t *c = p->data;
  if (c->body_len + len > MAX_BODY) {
    c->too_big = 1;
    return 0;
  }
  if (c->body_len + len > c->body_cap) {
    size_t cap = c->body_cap ? c->body_cap * 2 : 4096;
    while (cap < c->body_len + len) cap *= 2;
    char *b = realloc(c->body, cap);
    if (b == NULL) return -1;
    c->body = b;
    c->body_cap = cap;
  }
  memcpy(c->body + c->body_len, at, len);
  c->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *p) {
  conn_t *c = p->data;
  http_parser_pause(p, 1); /* one request at a time: the rest waits in c->pending */
  handle_request(c);
  return 0;
}

static const http_parser_settings g_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void keep_pending(conn_t *c, const char *data, size_t len) {
  char *p = realloc(c->pending, c->pending_len + len);
  if (p == NULL) {
    conn_close(c);
    return;
  }
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
}

static void parse_more(conn_t *c, const char *data, size_t len) {
  while (len > 0 && !c->closing) {
    if (c->req != NULL) {
      keep_pending(c, data, len);
      return;
    }
    http_parser_pause(&c->parser, 0);
    c->in_parse = 1;
    size_t n = http_parser_execute(&c->parser, &g_settings, data, len);
    c->in_parse = 0;
    if (c->closing) return;
    enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
    if (e == HPE_PAUSED) { /* a request completed: it is being (or was) answered */
      data += n;
      len -= n;
      continue;
    }
    if (e != HPE_OK) conn_close(c);
    return;
  }
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  free(c->body);
  free(c->pending);
  free(c);
}

static void conn_close(conn_t *c) {
  if (c->closing) return;
  if (c->req != NULL) {
    c->eof = 1; /* respond() closes it once the request is answered */
    return;
  }
  c->closing = 1;
  if (c->prev != NULL) {
    c->prev->next = c->next;
  } else {
    g_conns = c->next;
  }
  if (c->next != NULL) c->next->prev = c->prev;
  uvotel_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void alloc_cb(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  static char mem[65536];
  (void)size;
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_t *c = s->data;
  if (nread > 0) {
    parse_more(c, buf->base, (size_t)nread);
  } else if (nread < 0) {
    uvotel_read_stop(s);
    if (c->req != NULL) {
      c->eof = 1; /* finish the request; respond() then closes */
    } else {
      conn_close(c);
    }
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status < 0 || g_stopping) return;
  conn_t *c = calloc(1, sizeof *c);
  if (c == NULL) return;
  uvotel_tcp_init(g_loop, &c->tcp);
  c->tcp.data = c;
  if (uvotel_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    uvotel_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  http_parser_init(&c->parser, HTTP_REQUEST);
  c->parser.data = c;
  c->next = g_conns;
  if (g_conns != NULL) g_conns->prev = c;
  g_conns = c;
  uvotel_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
}

/* ---- startup and shutdown ---- */

static void on_signal(uv_signal_t *s, int signum) {
  (void)s, (void)signum;
  if (g_stopping) return;
  g_stopping = 1;
  uvotel_close((uv_handle_t *)&g_server, NULL);
  for (conn_t *c = g_conns, *next; c != NULL; c = next) {
    next = c->next;
    if (c->req != NULL && c->req->call != NULL) {
      /* a /test call in flight: abort it, which answers 500 and closes the connection */
      call_t *call = c->req->call;
      curl_loop_remove(g_curl, call->easy);
      call_done(&call->t, CURLE_ABORTED_BY_CALLBACK, 0);
    } else {
      conn_close(c); /* closes now, or after the request in progress (fs, dns, timer) */
    }
  }
  curl_loop_close(g_curl);
  uvotel_auto_spans_disable();
  (void)uvotel_tracer_provider_shutdown(g_provider, 5000); /* flushes every ended span */
  (void)uvotel_logger_provider_shutdown(g_logs, 5000);
  uvotel_close((uv_handle_t *)&g_sigint, NULL);
  uvotel_close((uv_handle_t *)&g_sigterm, NULL);
}

static void usage(const char *argv0) {
  fprintf(stderr, "usage: %s [--port N] [--file PATH]\n", argv0);
  exit(2);
}

int main(int argc, char **argv) {
  int port = 8080;
  g_file = argv[0];
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (*end != '\0' || v < 0 || v > 65535) usage(argv[0]);
      port = (int)v;
    } else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc) {
      g_file = argv[++i];
    } else {
      usage(argv[0]);
    }
  }
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
  /* Logs go where the spans go unless OTEL_LOGS_EXPORTER says otherwise; same resource. */
  if (getenv("OTEL_LOGS_EXPORTER") == NULL)
    setenv("OTEL_LOGS_EXPORTER", getenv("OTEL_TRACES_EXPORTER"), 1);
  uvotel_logger_provider_options_t lo = UVOTEL_LOGGER_PROVIDER_OPTIONS_INIT;
  lo.tracer_provider = g_provider;
  g_logs = uvotel_logger_provider_from_env_with(&lo);
  g_log = uvotel_logger_get(g_logs, "uvotel.examples.http-service", UVOTEL_VERSION_STRING);
  if (uvotel_propagator_from_names(getenv("OTEL_PROPAGATORS"), &g_prop, NULL) != 0) {
    fprintf(stderr, "http-service: bad OTEL_PROPAGATORS, using tracecontext,baggage\n");
    g_prop = uvotel_propagator_default();
  }
  int err = uvotel_auto_spans_enable_from_env(g_tracer, 0);
  if (err != 0) fprintf(stderr, "http-service: UVOTEL_INSTRUMENT: %s\n", uvotel_strerror(err));

  g_curl = curl_loop_create(g_loop);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", port, &addr);
  uvotel_tcp_init(g_loop, &g_server);
  if ((err = uv_tcp_bind(&g_server, (const struct sockaddr *)&addr, 0)) != 0 ||
      (err = uvotel_listen((uv_stream_t *)&g_server, 511, on_connection)) != 0) {
    fprintf(stderr, "http-service: listen on 127.0.0.1:%d: %s\n", port, uv_strerror(err));
    return 1;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&ss, &len);
  g_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_signal_init(g_loop, &g_sigint);
  uv_signal_init(g_loop, &g_sigterm);
  uv_signal_start(&g_sigint, on_signal, SIGINT);
  uv_signal_start(&g_sigterm, on_signal, SIGTERM);
  printf("listening on 127.0.0.1:%d\n", g_port);
  fflush(stdout);

  uv_run(g_loop, UV_RUN_DEFAULT);
  uvotel_logger_provider_free(g_logs); /* before the provider whose resource it shares */
  uvotel_tracer_provider_free(g_provider);
  uv_run(g_loop, UV_RUN_DEFAULT); /* the processors' handles close */
  uvotel_propagator_free(g_prop);
  curl_global_cleanup();
  int rc = uvotel_uv_loop_close(g_loop);
  if (rc != 0) fprintf(stderr, "http-service: loop close: %s\n", uv_strerror(rc));
  return rc == 0 ? 0 : 1;
}
