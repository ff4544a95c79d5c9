/* The built-in HTTP/1.x server detector (uvotel/uv_protocols.h): requests parsed from what the
 * program reads, responses from what it writes, both with libhttp-parser over bounded copies. */
#include <http_parser.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_internal.h"
#include "internal.h"
#include "uvotel/uv_protocols.h"
#include "uvotel/uv_spans.h"

#define HDR_MAX 8192   /* bytes of URL + header names and values copied per request */
#define NHDR_MAX 64    /* header lines kept per request */
#define PENDING_MAX 32 /* requests awaiting their response */

typedef struct pending_s {
  uvotel_span_t *span;
  int is_head;
  uvotel_baggage_t *baggage; /* extracted from the request (owned), or NULL */
} pending_t;

typedef struct conn_s {
  uvotel_tracer_t *tracer;
  uv_stream_t *stream;
  http_parser rp, wp;
  int dead;
  /* the request being parsed */
  char buf[HDR_MAX];
  size_t len;
  size_t url_len; /* the URL is buf[0 .. url_len) */
  uvotel_header_t hdr[NHDR_MAX];
  size_t nhdr;
  int in_value;
  uint64_t read_ns;              /* when the current read arrived */
  uint64_t start_ns;             /* when the current request's first byte arrived */
  uvotel_span_t *cur;            /* span of the request being parsed (after its headers), or NULL */
  uvotel_baggage_t *cur_baggage; /* its extracted baggage (borrowed from the queue), or NULL */
  uvotel_baggage_t *read_baggage; /* the one to make current around the read callback */
  int began;                      /* requests begun in the current read */
  /* responses */
  pending_t q[PENDING_MAX];
  unsigned qhead, qn;
  int resp_status;
  uvotel_span_t *done; /* completed by the current write: ended when the write completes */
  char client_ip[64], server_ip[64];
  int client_port, server_port;
} conn_t;

uint64_t uvotel__http_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the propagator: OTEL_PROPAGATORS, built once ---- */

static uvotel_propagator_t *g_prop;
static pthread_once_t g_prop_once = PTHREAD_ONCE_INIT;

static void prop_init(void) {
  uvotel_propagator_t *p = NULL;
  if (uvotel_propagator_from_names(uvotel_env_get("OTEL_PROPAGATORS"), &p, NULL) != 0) p = NULL;
  g_prop = p != NULL ? p : uvotel_propagator_default();
}

const uvotel_propagator_t *uvotel__http_propagator(void) {
  pthread_once(&g_prop_once, prop_init);
  return g_prop;
}

/* ---- detection ---- */

static int is_tchar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

/* An upper-case token of 1..20 characters followed by a space, then a request target that is
 * not "*" of HTTP/2's preface ("PRI * HTTP/2.0"). */
static int http_detect(void *arg, const char *data, size_t len) {
  (void)arg;
  size_t i = 0;
  while (i < len && i < 20 && is_tchar((unsigned char)data[i])) i++;
  if (i == len) return len < 21 ? UVOTEL_PROTOCOL_MORE : UVOTEL_PROTOCOL_DECLINE;
  if (i == 0 || data[i] != ' ') return UVOTEL_PROTOCOL_DECLINE;
  if (i == 3 && memcmp(data, "PRI", 3) == 0) return UVOTEL_PROTOCOL_DECLINE;
  return UVOTEL_PROTOCOL_CLAIM;
}

/* ---- request side ---- */

static int append(conn_t *c, const char *at, size_t n) {
  if (n > sizeof c->buf - c->len) {
    c->dead = 1;
    return -1;
  }
  memcpy(c->buf + c->len, at, n);
  c->len += n;
  return 0;
}

static int rq_begin(http_parser *p) {
  conn_t *c = p->data;
  c->len = c->url_len = c->nhdr = 0;
  c->in_value = 0;
  c->start_ns = c->read_ns;
  c->cur = NULL;
  c->cur_baggage = NULL;
  c->began++;
  return 0;
}

static int rq_url(http_parser *p, const char *at, size_t n) {
  conn_t *c = p->data;
  if (c->nhdr != 0 || append(c, at, n) != 0) return -1;
  c->url_len = c->len;
  return 0;
}

/* Header names and values are kept as offsets until the headers are complete (buf does not
 * move, so they are turned into pointers there). */
static int rq_field(http_parser *p, const char *at, size_t n) {
  conn_t *c = p->data;
  if (c->nhdr == 0 || c->in_value) {
    if (c->nhdr == NHDR_MAX) {
      c->dead = 1;
      return -1;
    }
    c->hdr[c->nhdr].name.ptr = c->buf + c->len;
    c->hdr[c->nhdr].name.len = 0;
    c->hdr[c->nhdr].value.ptr = NULL;
    c->hdr[c->nhdr].value.len = 0;
    c->nhdr++;
    c->in_value = 0;
  }
  if (append(c, at, n) != 0) return -1;
  c->hdr[c->nhdr - 1].name.len += n;
  return 0;
}

static int rq_value(http_parser *p, const char *at, size_t n) {
  conn_t *c = p->data;
  if (c->nhdr == 0) return -1;
  uvotel_header_t *h = &c->hdr[c->nhdr - 1];
  if (!c->in_value) {
    h->value.ptr = c->buf + c->len;
    c->in_value = 1;
  }
  if (append(c, at, n) != 0) return -1;
  h->value.len += n;
  return 0;
}

static const uvotel_str_t *header(const conn_t *c, const char *name) {
  size_t l = strlen(name);
  for (size_t i = 0; i < c->nhdr; i++) {
    if (c->hdr[i].name.len == l && strncasecmp(c->hdr[i].name.ptr, name, l) == 0) {
      return &c->hdr[i].value;
    }
  }
  return NULL;
}

/* Attribute values are NUL-terminated strings: copy (values over 2 KiB are cut there). */
void uvotel__http_attr_strn(uvotel_span_t *s, const char *key, const char *v, size_t n) {
  char tmp[2049];
  if (n >= sizeof tmp) n = sizeof tmp - 1;
  memcpy(tmp, v, n);
  tmp[n] = '\0';
  uvotel_span_set_attribute_str(s, key, tmp);
}

static const char *const k_methods[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                        "CONNECT", "OPTIONS", "TRACE", "PATCH", NULL};

const char *uvotel__http_known_method(const char *method) {
  for (int i = 0; k_methods[i] != NULL; i++) {
    if (strcmp(k_methods[i], method) == 0) return k_methods[i];
  }
  return NULL;
}

static void set_url(uvotel_span_t *s, const conn_t *c) {
  struct http_parser_url u;
  http_parser_url_init(&u);
  const char *url = c->buf;
  size_t n = c->url_len;
  if (n > 0 && http_parser_parse_url(url, n, 0, &u) == 0) {
    if (u.field_set & (1u << UF_PATH)) {
      uvotel__http_attr_strn(s, "url.path", url + u.field_data[UF_PATH].off,
                             u.field_data[UF_PATH].len);
    }
    if (u.field_set & (1u << UF_QUERY)) {
      uvotel__http_attr_strn(s, "url.query", url + u.field_data[UF_QUERY].off,
                             u.field_data[UF_QUERY].len);
    }
    return;
  }
  const char *q = memchr(url, '?', n);
  uvotel__http_attr_strn(s, "url.path", url, q != NULL ? (size_t)(q - url) : n);
  if (q != NULL) uvotel__http_attr_strn(s, "url.query", q + 1, n - (size_t)(q - url) - 1);
}

int uvotel__http_set_host(uvotel_span_t *s, const char *h, size_t n, long port) {
  if (h == NULL || n == 0 || n >= 256) return -1;
  size_t hl = n;
  const char *colon = NULL;
  if (h[0] == '[') {
    const char *end = memchr(h, ']', n);
    if (end != NULL && (size_t)(end - h) + 1 < n && end[1] == ':') colon = end + 1;
  } else {
    colon = memchr(h, ':', n);
  }
  if (colon != NULL) {
    hl = (size_t)(colon - h);
    char digits[8];
    size_t dl = n - hl - 1;
    if (dl == 0 || dl >= sizeof digits) return -1;
    memcpy(digits, colon + 1, dl);
    digits[dl] = '\0';
    char *e;
    port = strtol(digits, &e, 10);
    if (*e != '\0' || port <= 0 || port > 65535) return -1;
  }
  uvotel__http_attr_strn(s, "server.address", h, hl);
  if (port > 0) uvotel_span_set_attribute_int(s, "server.port", port);
  return 0;
}

static void set_server(uvotel_span_t *s, const conn_t *c) {
  const uvotel_str_t *host = header(c, "host");
  if (host != NULL && host->len > 0 && host->len < 256) {
    /* no port in Host: the one the connection came in on */
    (void)uvotel__http_set_host(s, host->ptr, host->len, c->server_port);
  } else if (c->server_ip[0] != '\0') {
    uvotel_span_set_attribute_str(s, "server.address", c->server_ip);
    uvotel_span_set_attribute_int(s, "server.port", c->server_port);
  }
}

static int rq_headers(http_parser *p) {
  conn_t *c = p->data;
  if (c->qn == PENDING_MAX || p->method == HTTP_CONNECT || p->upgrade) {
    c->dead = 1;
    return -1;
  }
  const char *method = http_method_str((enum http_method)p->method);
  int known = uvotel__http_known_method(method) != NULL;
  uvotel_header_list_t list = {c->hdr, c->nhdr};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  (void)uvotel_propagator_extract(uvotel__http_propagator(), &list, &uvotel_header_getter, &x);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.start_unix_ns = c->start_ns;
  if (uvotel_span_context_is_valid(&x.span_context)) o.parent_context = &x.span_context;
  uvotel_span_t *s = uvotel_span_start(c->tracer, known ? method : "_OTHER", &o);
  uvotel_baggage_t *bag = x.baggage; /* kept with the request: current while it is served */
  x.baggage = NULL;
  uvotel_extracted_reset(&x);
  uvotel_span_set_attribute_str(s, "http.request.method", known ? method : "_OTHER");
  if (!known) uvotel_span_set_attribute_str(s, "http.request.method_original", method);
  uvotel_span_set_attribute_str(s, "url.scheme", "http");
  set_url(s, c);
  char ver[8];
  snprintf(ver, sizeof ver, "%u.%u", p->http_major % 10u, p->http_minor % 10u);
  uvotel_span_set_attribute_str(s, "network.protocol.version", ver);
  const uvotel_str_t *ua = header(c, "user-agent");
  if (ua != NULL) uvotel__http_attr_strn(s, "user_agent.original", ua->ptr, ua->len);
  if (c->client_ip[0] != '\0') {
    uvotel_span_set_attribute_str(s, "client.address", c->client_ip);
    uvotel_span_set_attribute_int(s, "client.port", c->client_port);
  }
  set_server(s, c);
  unsigned tail = (c->qhead + c->qn) % PENDING_MAX;
  c->q[tail].span = s;
  c->q[tail].is_head = p->method == HTTP_HEAD;
  c->q[tail].baggage = bag;
  c->qn++;
  c->cur = s;
  c->cur_baggage = bag;
  return 0;
}

static int rq_complete(http_parser *p) {
  conn_t *c = p->data;
  (void)c;
  return 0;
}

static const http_parser_settings k_req = {
    .on_message_begin = rq_begin,
    .on_url = rq_url,
    .on_header_field = rq_field,
    .on_header_value = rq_value,
    .on_headers_complete = rq_headers,
    .on_message_complete = rq_complete,
};

/* ---- response side ---- */

static int rs_headers(http_parser *p) {
  conn_t *c = p->data;
  c->resp_status = (int)p->status_code;
  if (c->resp_status == 101 || p->upgrade) {
    c->dead = 1;
    return -1;
  }
  /* A response to HEAD has no body whatever its headers say. */
  if (c->qn > 0 && c->q[c->qhead].is_head) return 1;
  return 0;
}

static void finish(conn_t *c, uvotel_span_t *s) {
  if (c->done != NULL) uvotel_span_end(c->done);
  c->done = s;
}

static int rs_complete(http_parser *p) {
  conn_t *c = p->data;
  int st = c->resp_status;
  if (st >= 100 && st < 200) return 0; /* interim: the final response follows */
  if (c->qn == 0) {
    c->dead = 1; /* a response to nothing we saw: lost our place */
    return -1;
  }
  uvotel_span_t *s = c->q[c->qhead].span;
  c->q[c->qhead].span = NULL;
  uvotel_baggage_release(c->q[c->qhead].baggage);
  c->q[c->qhead].baggage = NULL;
  c->qhead = (c->qhead + 1) % PENDING_MAX;
  c->qn--;
  if (c->cur == s) {
    c->cur = NULL;
    c->cur_baggage = NULL;
  }
  uvotel_span_set_attribute_int(s, "http.response.status_code", st);
  if (st >= 500) {
    char t[16];
    snprintf(t, sizeof t, "%d", st);
    uvotel_span_set_attribute_str(s, "error.type", t);
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, NULL);
  }
  finish(c, s);
  return 0;
}

static const http_parser_settings k_resp = {
    .on_headers_complete = rs_headers,
    .on_message_complete = rs_complete,
};

/* ---- ops ---- */

static void peer_str(const struct sockaddr_storage *ss, char *ip, size_t cap, int *port) {
  ip[0] = '\0';
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    if (uv_ip4_name(in, ip, cap) == 0) *port = ntohs(in->sin_port);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    if (uv_ip6_name(in6, ip, cap) == 0) *port = ntohs(in6->sin6_port);
  }
}

static void *http_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  conn_t *c = uvotel_calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->tracer = tracer;
  c->stream = stream;
  http_parser_init(&c->rp, HTTP_REQUEST);
  http_parser_init(&c->wp, HTTP_RESPONSE);
  c->rp.data = c->wp.data = c;
  if (stream->type == UV_TCP) {
    struct sockaddr_storage ss;
    int len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&ss, &len) == 0) {
      peer_str(&ss, c->client_ip, sizeof c->client_ip, &c->client_port);
    }
    len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (uv_tcp_getsockname((uv_tcp_t *)stream, (struct sockaddr *)&ss, &len) == 0) {
      peer_str(&ss, c->server_ip, sizeof c->server_ip, &c->server_port);
    }
  }
  return c;
}

static int http_read(void *conn, const char *data, size_t len, uvotel_span_t **current) {
  conn_t *c = conn;
  if (c->dead) return -1;
  c->read_ns = uvotel__http_now_ns();
  c->began = 0;
  size_t used = http_parser_execute(&c->rp, &k_req, data, len);
  if (c->dead || used != len || HTTP_PARSER_ERRNO(&c->rp) != HPE_OK || c->rp.upgrade) {
    c->dead = 1;
    return -1;
  }
  /* One request involved (begun here, or continued from an earlier read, its headers possibly
   * completed only now): its span. Several begun here: none. */
  c->read_baggage = NULL;
  if (c->began <= 1) {
    *current = c->cur;
    c->read_baggage = c->cur_baggage;
  }
  return 0;
}

const uvotel_baggage_t *uvotel__http_read_baggage(void *conn) {
  return ((conn_t *)conn)->read_baggage;
}

static uvotel_span_t *http_write(void *conn, const uv_buf_t bufs[], unsigned int nbufs) {
  conn_t *c = conn;
  if (c->dead) return NULL;
  c->done = NULL;
  for (unsigned i = 0; i < nbufs && !c->dead; i++) {
    if (bufs[i].len == 0) continue;
    size_t used = http_parser_execute(&c->wp, &k_resp, bufs[i].base, bufs[i].len);
    if (used != bufs[i].len || HTTP_PARSER_ERRNO(&c->wp) != HPE_OK) c->dead = 1;
  }
  uvotel_span_t *s = c->done;
  c->done = NULL;
  return s;
}

static void http_close(void *conn) {
  conn_t *c = conn;
  if (!c->dead) {
    /* A response delimited by the end of the connection completes here. */
    c->done = NULL;
    (void)http_parser_execute(&c->wp, &k_resp, NULL, 0);
    if (c->done != NULL) uvotel_span_end(c->done);
    c->done = NULL;
  }
  /* Requests without a response (the connection closed first, or we gave up). */
  while (c->qn > 0) {
    uvotel_span_end(c->q[c->qhead].span);
    uvotel_baggage_release(c->q[c->qhead].baggage);
    c->qhead = (c->qhead + 1) % PENDING_MAX;
    c->qn--;
  }
  uvotel_free(c);
}

static const uvotel_protocol_ops_t k_http = {
    sizeof(uvotel_protocol_ops_t),
    "http",
    UVOTEL_INSTRUMENT_HTTP,
    http_detect,
    http_open,
    http_read,
    http_write,
    http_close,
};

UVOTEL__API const uvotel_protocol_ops_t *uvotel_protocol_http(void) {
  return &k_http;
}
