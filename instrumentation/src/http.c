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

/* The lines of the last head the fast framing read in full on one side of a connection (see
 * "header lines seen before" below). */
#define MEMO_BYTES 512
#define MEMO_LINES 24

typedef struct memo_s {
  char bytes[MEMO_BYTES];
  uint16_t end[MEMO_LINES];  /* line i is bytes[end[i - 1] .. end[i]) (from 0), CRLF included */
  uint16_t name[MEMO_LINES]; /* header lines: the name's length */
  uint16_t vo[MEMO_LINES], vl[MEMO_LINES]; /* the value (leading OWS dropped): offset, length */
  uint8_t is_cl[MEMO_LINES];               /* the Content-Length line */
  unsigned n;                              /* lines remembered, the start line first; 0: none */
  size_t len;  /* the whole head, its empty line included: bytes[0 .. len) */
  uint64_t cl; /* the Content-Length line's value */
  /* the start line: a response's status; a request's method (index in k_known), HTTP/1.minor
   * and target (offset, length) */
  int status;
  unsigned method, minor;
  uint16_t t_off, t_len;
} memo_t;

typedef struct conn_s {
  uvotel_tracer_t *tracer;
  int attrs_late; /* the sampler ignores attributes: set them after start (uvotel__http_...) */
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
  int rslow;           /* requests go through http_parser (rp), from a message start on */
  uint64_t rbody;      /* fast framing: body bytes of the current request still to come */
  int wslow;           /* responses go through http_parser (wp), from a message start on */
  uint64_t wbody;      /* fast framing: body bytes of the current response still to come */
  uvotel_span_t *done; /* completed by the current write: ended when the write completes */
  memo_t rmemo, wmemo; /* the last request / response head read by the fast framing */
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
static int g_prop_w3c; /* g_prop is the SDK's tracecontext, baggage or both (the default) */
static pthread_once_t g_prop_once = PTHREAD_ONCE_INIT;

static void prop_init(void) {
  uvotel_propagator_t *p = NULL;
  if (uvotel_propagator_from_names(uvotel_env_get("OTEL_PROPAGATORS"), &p, NULL) != 0) p = NULL;
  g_prop = p != NULL ? p : uvotel_propagator_default();
  g_prop_w3c = g_prop == uvotel_propagator_default() ||
               g_prop == uvotel_propagator_tracecontext() || g_prop == uvotel_propagator_baggage();
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

/* The value of the first header line named lname (lower case, l bytes), ASCII case-insensitively
 * (header names are tokens: no locale, no strlen: see the header() macro). */
static const uvotel_str_t *header_n(const conn_t *c, const char *lname, size_t l) {
  for (size_t i = 0; i < c->nhdr; i++) {
    if (c->hdr[i].name.len != l) continue;
    const char *n = c->hdr[i].name.ptr;
    size_t k = 0;
    while (k < l && (n[k] == lname[k] || (n[k] >= 'A' && n[k] <= 'Z' && n[k] + 32 == lname[k])))
      k++;
    if (k == l) return &c->hdr[i].value;
  }
  return NULL;
}
#define header(c, lname) header_n((c), "" lname "", sizeof(lname) - 1)

/* The request's attributes, collected in one array: handed to uvotel_span_start (so a sampler
 * sees them), or, when the provider's sampler is made of built-ins that never look at
 * attributes (uvotel__http_sampler_ignores_attrs), set right after the start with borrowed
 * keys (every key here is a literal: no strlen, no copy). Values are NUL-terminated copies in
 * text (each cut at 2 KiB; together at most the copied request prefix). */
#define ATTR_MAX 12
#define ATTR_VALUE_MAX 2048

typedef struct rq_attrs_s {
  uvotel_attribute_t a[ATTR_MAX];
  uint8_t key_len[ATTR_MAX];
  size_t n, used;
  char text[HDR_MAX + ATTR_MAX];
} rq_attrs_t;

#define attr_str(t, key, v) attr_str_k((t), "" key "", sizeof(key) - 1, (v))
#define attr_int(t, key, v) attr_int_k((t), "" key "", sizeof(key) - 1, (v))
#define attr_strn(t, key, v, n) attr_strn_k((t), "" key "", sizeof(key) - 1, (v), (n))

static void attr_str_k(rq_attrs_t *t, const char *key, size_t kl, const char *v) {
  uvotel_attribute_t a = UVOTEL_ATTR_STR(key, v);
  if (t->n < ATTR_MAX) {
    t->key_len[t->n] = (uint8_t)kl;
    t->a[t->n++] = a;
  }
}

static void attr_int_k(rq_attrs_t *t, const char *key, size_t kl, int64_t v) {
  uvotel_attribute_t a = UVOTEL_ATTR_INT(key, v);
  if (t->n < ATTR_MAX) {
    t->key_len[t->n] = (uint8_t)kl;
    t->a[t->n++] = a;
  }
}

static void attr_strn_k(rq_attrs_t *t, const char *key, size_t kl, const char *v, size_t n) {
  if (n > ATTR_VALUE_MAX) n = ATTR_VALUE_MAX;
  if (n + 1 > sizeof t->text - t->used) return; /* cannot happen: values come from buf */
  char *d = t->text + t->used;
  if (n > 0) memcpy(d, v, n); /* an empty header value has no pointer */
  d[n] = '\0';
  t->used += n + 1;
  attr_str_k(t, key, kl, d);
}

/* Set what was collected on s, keys borrowed (attrs_late). */
static void attrs_apply(uvotel_span_t *s, const rq_attrs_t *t) {
  for (size_t i = 0; i < t->n; i++) {
    const uvotel_attribute_t *a = &t->a[i];
    if (a->value.type == UVOTEL_VALUE_INT) {
      uvotel_span_set_attribute_int_static(s, a->key, t->key_len[i], a->value.u.i);
    } else {
      uvotel_span_set_attribute_str_static(s, a->key, t->key_len[i], a->value.u.s);
    }
  }
}

/* 1 when the sampler of t's provider does not read start attributes (the SDK answers from its
 * ops: the built-in samplers decide from ids and the parent alone), so the request's
 * attributes need not be handed to span start. */
static int uvotel__http_sampler_ignores_attrs(uvotel_tracer_t *t) {
  const uvotel_sampler_t *sm = uvotel_tracer_provider_sampler(uvotel_tracer_get_provider(t));
  return sm != NULL && !uvotel__sampler_reads_attributes(sm);
}

/* The methods of the semantic conventions' list (http.request.method), the one list of them:
 * known_method and the fast request framing (all but CONNECT, which it leaves to http_parser)
 * both come from it. Every value is below 64 in http_parser's enum. */
#define KNOWN_METHODS(X) \
  X(GET) X(HEAD) X(POST) X(PUT) X(DELETE) X(CONNECT) X(OPTIONS) X(TRACE) X(PATCH)
#define METHOD_BIT(m) | (UINT64_C(1) << HTTP_##m)
#define METHOD_ENUM(m) HTTP_##m,
static const uint64_t k_known_mask = 0 KNOWN_METHODS(METHOD_BIT);
static const unsigned k_known[] = {KNOWN_METHODS(METHOD_ENUM)};
#define N_KNOWN (sizeof k_known / sizeof k_known[0])

static int known_method(unsigned m) {
  return m < 64 && ((k_known_mask >> m) & 1u) != 0;
}

int uvotel__http_method_known(unsigned method) {
  return known_method(method);
}

/* url.path and url.query: an origin-form target ("/p?q#f") split here, with what
 * http_parser_parse_url would give for it; anything else through it (absolute form, ...). */
static void set_url(rq_attrs_t *t, const conn_t *c) {
  const char *url = c->buf;
  size_t n = c->url_len;
  if (n > 0 && url[0] == '/') {
    const char *hash = memchr(url, '#', n);
    size_t end = hash != NULL ? (size_t)(hash - url) : n;
    const char *q = memchr(url, '?', end);
    size_t pl = q != NULL ? (size_t)(q - url) : end;
    attr_strn(t, "url.path", url, pl);
    if (q != NULL && end > pl + 1) attr_strn(t, "url.query", q + 1, end - pl - 1);
    return;
  }
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (n > 0 && http_parser_parse_url(url, n, 0, &u) == 0) {
    if (u.field_set & (1u << UF_PATH)) {
      attr_strn(t, "url.path", url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    }
    if (u.field_set & (1u << UF_QUERY)) {
      attr_strn(t, "url.query", url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    }
    return;
  }
  const char *q = memchr(url, '?', n);
  attr_strn(t, "url.path", url, q != NULL ? (size_t)(q - url) : n);
  if (q != NULL) attr_strn(t, "url.query", q + 1, n - (size_t)(q - url) - 1);
}

/* A Host header value split into host (h[0 .. *hl)) and port (a port of 1..5 digits,
 * 1..65535; none: *port stays as given). 0, or -1 when the value is not understood. */
static int parse_host(const char *h, size_t n, size_t *hl, long *port) {
  if (h == NULL || n == 0 || n >= 256) return -1;
  const char *colon = NULL;
  *hl = n;
  if (h[0] == '[') {
    const char *end = memchr(h, ']', n);
    if (end != NULL && (size_t)(end - h) + 1 < n && end[1] == ':') colon = end + 1;
  } else {
    colon = memchr(h, ':', n);
  }
  if (colon == NULL) return 0;
  *hl = (size_t)(colon - h);
  size_t dl = n - *hl - 1;
  if (dl == 0 || dl > 5) return -1;
  long v = 0;
  for (size_t i = 0; i < dl; i++) {
    unsigned char d = (unsigned char)colon[1 + i];
    if (d < '0' || d > '9') return -1;
    v = v * 10 + (d - '0');
  }
  if (v <= 0 || v > 65535) return -1;
  *port = v;
  return 0;
}

void uvotel__http_attr_strn(uvotel_span_t *s, const char *key, const char *v, size_t n) {
  char tmp[ATTR_VALUE_MAX + 1];
  if (n > ATTR_VALUE_MAX) n = ATTR_VALUE_MAX;
  if (n > 0) memcpy(tmp, v, n); /* an empty value may have no pointer */
  tmp[n] = '\0';
  uvotel_span_set_attribute_str(s, key, tmp);
}

int uvotel__http_set_host(uvotel_span_t *s, const char *h, size_t n, long port) {
  size_t hl;
  if (parse_host(h, n, &hl, &port) != 0) return -1;
  uvotel__http_attr_strn(s, "server.address", h, hl);
  if (port > 0) uvotel_span_set_attribute_int(s, "server.port", port);
  return 0;
}

/* server.address/port from Host (anything not understood there: no server attributes), else
 * the connection's local address. */
static void set_server(rq_attrs_t *t, const conn_t *c) {
  const uvotel_str_t *host = header(c, "host");
  if (host != NULL && host->len > 0 && host->len < 256) {
    size_t hl;
    long port = c->server_port; /* no port in Host: the one the connection came in on */
    if (parse_host(host->ptr, host->len, &hl, &port) != 0) return;
    attr_strn(t, "server.address", host->ptr, hl);
    if (port > 0) attr_int(t, "server.port", port);
  } else if (c->server_ip[0] != '\0') {
    attr_str(t, "server.address", c->server_ip);
    attr_int(t, "server.port", c->server_port);
  }
}

/* 0 when extracting from c's headers cannot find anything: the propagator is the SDK's W3C one
 * (g_prop_w3c), which reads traceparent, tracestate and baggage only, and no header name has
 * one of their lengths (11, 10, 7). Any other propagator may read any header: 1. */
static int may_carry_context(const conn_t *c) {
  if (!g_prop_w3c) return 1;
  for (size_t i = 0; i < c->nhdr; i++) {
    size_t l = c->hdr[i].name.len;
    if (l == 11 || l == 10 || l == 7) return 1;
  }
  return 0;
}

/* The SERVER span of the request whose URL and headers are in c->buf/c->hdr. */
static void request_span(conn_t *c, unsigned m, unsigned major, unsigned minor) {
  const char *method = http_method_str((enum http_method)m);
  int known = known_method(m);
  uvotel_header_list_t list = {c->hdr, c->nhdr};
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  const uvotel_propagator_t *prop = uvotel__http_propagator();
  if (may_carry_context(c)) (void)uvotel_propagator_extract(prop, &list, &uvotel_header_getter, &x);
  rq_attrs_t t;
  t.n = t.used = 0;
  attr_str(&t, "http.request.method", known ? method : "_OTHER");
  if (!known) attr_str(&t, "http.request.method_original", method);
  attr_str(&t, "url.scheme", "http");
  set_url(&t, c);
  char ver[4] = {(char)('0' + major % 10u), '.', (char)('0' + minor % 10u), '\0'};
  attr_str(&t, "network.protocol.version",
           major == 1 && minor == 1   ? "1.1"
           : major == 1 && minor == 0 ? "1.0"
                                      : ver);
  const uvotel_str_t *ua = header(c, "user-agent");
  if (ua != NULL) attr_strn(&t, "user_agent.original", ua->ptr, ua->len);
  if (c->client_ip[0] != '\0') {
    attr_str(&t, "client.address", c->client_ip);
    attr_int(&t, "client.port", c->client_port);
  }
  set_server(&t, c);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.start_unix_ns = c->start_ns;
  if (!c->attrs_late) {
    o.attrs = t.a;
    o.n_attrs = t.n;
  }
  if (uvotel_span_context_is_valid(&x.span_context)) o.parent_context = &x.span_context;
  uvotel_span_t *s = uvotel_span_start(c->tracer, known ? method : "_OTHER", &o);
  if (c->attrs_late) attrs_apply(s, &t);
  uvotel_baggage_t *bag = x.baggage; /* kept with the request: current while it is served */
  x.baggage = NULL;
  uvotel_extracted_reset(&x);
  unsigned tail = (c->qhead + c->qn) % PENDING_MAX;
  c->q[tail].span = s;
  c->q[tail].is_head = m == HTTP_HEAD;
  c->q[tail].baggage = bag;
  c->qn++;
  c->cur = s;
  c->cur_baggage = bag;
}

static int rq_headers(http_parser *p) {
  conn_t *c = p->data;
  if (c->qn == PENDING_MAX || p->method == HTTP_CONNECT || p->upgrade) {
    c->dead = 1;
    return -1;
  }
  request_span(c, p->method, p->http_major, p->http_minor);
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

/* The response to the oldest pending request is complete with status st. 0, or -1 (and dead)
 * when no request is pending. */
static int response_done(conn_t *c, int st) {
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
  UVOTEL_SPAN_SET_INT_LIT(s, "http.response.status_code", st);
  if (st >= 500) {
    char t[16];
    snprintf(t, sizeof t, "%d", st);
    UVOTEL_SPAN_SET_STR_LIT(s, "error.type", t);
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, NULL);
  }
  finish(c, s);
  return 0;
}

static int rs_complete(http_parser *p) {
  conn_t *c = p->data;
  int st = c->resp_status;
  if (st >= 100 && st < 200) return 0; /* interim: the final response follows */
  return response_done(c, st);
}

static const http_parser_settings k_resp = {
    .on_headers_complete = rs_headers,
    .on_message_complete = rs_complete,
};

/* ---- response framing without http_parser ----
 *
 * Most responses are a status line, a few headers with one Content-Length, and that many body
 * bytes. When such a response head starts a buffer and is complete in it, it is read here with
 * memchr (a tenth of what http_parser costs per byte), and its body is skipped by count.
 * Anything else at a message start (a head cut across buffers, Transfer-Encoding, no or a
 * repeated Content-Length, Upgrade, a 1xx/204/304 status, a response to HEAD, folded or odd
 * header bytes) goes to http_parser from that message on, for the rest of the connection, exactly
 * as before: the parser has seen nothing yet, so it starts at a message start. */

/* RFC 9110 tchar: what a header name is made of. */
static const unsigned char k_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Bit 7 of each byte of x that is zero, exactly (no carry crosses a byte: (b & 0x7f) + 0x7f
 * stays below 0x100). */
static inline uint64_t zero_bytes(uint64_t x) {
  const uint64_t lows = 0x7f7f7f7f7f7f7f7fu;
  return ~(((x & lows) + lows) | x) & ~lows;
}

/* How many bytes of v[0..n) come before the first control byte but HTAB, or DEL (n: none).
 * Eight bytes at a time, exactly: a byte below 0x20 has bit 7 clear in ((b & 0x7f) + 0x60) | b;
 * HTAB and DEL are the zero bytes of x ^ 0x09.. and x ^ 0x7f..; the first flagged byte is the
 * lowest set bit (bytes are loaded little-endian). */
static size_t text_len(const char *v, size_t n) {
  const uint64_t lows = 0x7f7f7f7f7f7f7f7fu, ones = 0x0101010101010101u;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t x;
    memcpy(&x, v + i, 8);
    uint64_t ctl = ~(((x & lows) + ones * 0x60) | x) & ~lows;
    uint64_t bad = (ctl & ~zero_bytes(x ^ (ones * 0x09))) | zero_bytes(x ^ (ones * 0x7f));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    if (bad != 0) return i + (size_t)(__builtin_clzll(bad) >> 3);
#else
    if (bad != 0) return i + (size_t)(__builtin_ctzll(bad) >> 3);
#endif
  }
  for (; i < n; i++) {
    unsigned char ch = (unsigned char)v[i];
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return i;
  }
  return n;
}

/* No control byte but HTAB, no DEL in v[0..n). */
static int text_ok(const char *v, size_t n) {
  return text_len(v, n) == n;
}

/* One line of a head starting at line (the head ends before end). 2: the empty line; 1: a
 * header, its name and value (leading OWS dropped, as http_parser does) in *h, a Content-Length
 * added to *cl and *have_cl; 0: let http_parser have it (a cut or odd line, control bytes, a second
 * Content-Length, Transfer-Encoding, Upgrade). *next: the line after. */
static int head_line(const char *line, const char *end, uvotel_header_t *h, int *have_cl,
                     uint64_t *cl, const char **next) {
  if (end - line >= 2 && line[0] == '\r' && line[1] == '\n') {
    *next = line + 2;
    return 2;
  }
  const char *q = line;
  while (q < end && k_tchar[(unsigned char)*q]) q++;
  if (q == line || q == end || *q != ':') return 0; /* obs-fold, empty or bad name, cut */
  size_t name_len = (size_t)(q - line);
  const char *v = q + 1;
  /* The value runs to the first control byte but HTAB (or DEL), which must be the CR of the
   * line's CRLF: one pass both finds the end and checks the bytes (a bare CR or LF, another
   * control byte, or no end in the buffer: let http_parser have it). */
  const char *le = v + text_len(v, (size_t)(end - v));
  if (end - le < 2 || le[0] != '\r' || le[1] != '\n') return 0;
  *next = le + 2;
  while (v < le && (*v == ' ' || *v == '\t')) v++;
  if ((name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) ||
      (name_len == 7 && strncasecmp(line, "upgrade", 7) == 0)) {
    return 0;
  }
  if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
    const char *ve = le;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    if (*have_cl || v == ve || ve - v > 18) return 0;
    uint64_t n = 0;
    for (const char *x = v; x < ve; x++) {
      if (*x < '0' || *x > '9') return 0;
      n = n * 10 + (uint64_t)(*x - '0');
    }
    *cl = n;
    *have_cl = 1;
  }
  h->name.ptr = line;
  h->name.len = name_len;
  h->value.ptr = v;
  h->value.len = (size_t)(le - v);
  return 1;
}

/* ---- header lines seen before ----
 *
 * A keep-alive connection sends the same header lines again and again: a server its
 * Content-Type, Connection and Server lines, a client its Host, User-Agent and Accept. So each
 * side of a connection remembers the head the fast framing last read in full (its bytes, up to
 * MEMO_BYTES and MEMO_LINES lines, and what each line was), and a line of the next head that is
 * the same bytes, CRLF included, as the line at the same place in that one is taken as it was,
 * without being looked at again: what head_line (and the start line's checks) decide about a
 * complete line depends on its bytes alone. A remembered Content-Length line brings its value; a
 * second one still hands the head to http_parser. Any other line is read by head_line as before.
 * test_http_framing runs the same heads with and without the memo. */

typedef struct lines_s {
  unsigned n; /* lines read, the start line first */
  int same;   /* every line so far as the memo has it at its place */
  int fits;   /* every line so far fits a memo */
  uint16_t end[MEMO_LINES], name[MEMO_LINES], vo[MEMO_LINES], vl[MEMO_LINES];
  uint8_t is_cl[MEMO_LINES];
} lines_t;

/* 1 when the buffer p[0 .. n) starts with the whole head remembered in m. */
static inline int memo_whole(const memo_t *m, const char *p, size_t n) {
  return m->n > 0 && m->len <= n && memcmp(p, m->bytes, m->len) == 0;
}

/* The length of line i of the memo when the bytes at line (the buffer ends at end) are the same,
 * else 0. */
static inline size_t memo_line(const memo_t *m, unsigned i, const char *line, const char *end) {
  if (i >= m->n) return 0;
  size_t a = i > 0 ? m->end[i - 1] : 0, len = (size_t)m->end[i] - a;
  return len <= (size_t)(end - line) && memcmp(line, m->bytes + a, len) == 0 ? len : 0;
}

/* Note line i (from line to *next) of the head at p in rec. */
static inline void lines_note(lines_t *rec, unsigned i, const char *p, const char *line,
                              const char *next, const uvotel_header_t *h, int is_cl) {
  size_t e = (size_t)(next - p);
  rec->n = i + 1;
  if (i >= MEMO_LINES || e > MEMO_BYTES) {
    rec->fits = 0;
    return;
  }
  rec->end[i] = (uint16_t)e;
  rec->name[i] = (uint16_t)h->name.len;
  rec->vo[i] = (uint16_t)(h->value.ptr - line);
  rec->vl[i] = (uint16_t)h->value.len;
  rec->is_cl[i] = (uint8_t)is_cl;
}

/* head_line for line i (i >= 1) of the head at p, through the memo m; the line is noted in rec. */
static inline int memo_head_line(const memo_t *m, lines_t *rec, unsigned i, const char *p,
                                 const char *line, const char *end, uvotel_header_t *h,
                                 int *have_cl, uint64_t *cl, const char **next) {
  if (end - line >= 2 && line[0] == '\r' && line[1] == '\n') {
    *next = line + 2;
    return 2;
  }
  int is_cl;
  size_t len = memo_line(m, i, line, end); /* by place: a changed line leaves the rest */
  if (len > 0) {
    h->name.ptr = line;
    h->name.len = m->name[i];
    h->value.ptr = line + m->vo[i];
    h->value.len = m->vl[i];
    is_cl = m->is_cl[i];
    if (is_cl) {
      if (*have_cl) return 0;
      *have_cl = 1;
      *cl = m->cl;
    }
    *next = line + len;
  } else {
    rec->same = 0;
    int had = *have_cl;
    int r = head_line(line, end, h, have_cl, cl, next);
    if (r != 1) return r;
    is_cl = !had && *have_cl;
  }
  lines_note(rec, i, p, line, *next, h, is_cl);
  return 1;
}

/* After a head of head_len bytes at p was read in full: remember it (unless it is the one
 * remembered already), or forget the memo when it does not fit. The start line's fields are the
 * caller's to set when this returns 1. */
static int memo_keep(memo_t *m, const lines_t *rec, const char *p, size_t head_len, uint64_t cl) {
  if (rec->same && rec->n == m->n && head_len == m->len) return 0;
  if (!rec->fits || head_len > MEMO_BYTES) {
    m->n = 0;
    return 0;
  }
  memcpy(m->bytes, p, head_len);
  memcpy(m->end, rec->end, sizeof *m->end * rec->n);
  memcpy(m->name, rec->name, sizeof *m->name * rec->n);
  memcpy(m->vo, rec->vo, sizeof *m->vo * rec->n);
  memcpy(m->vl, rec->vl, sizeof *m->vl * rec->n);
  memcpy(m->is_cl, rec->is_cl, sizeof *m->is_cl * rec->n);
  m->n = rec->n;
  m->len = head_len;
  m->cl = cl;
  return 1;
}

/* 1: a complete head of *head_len bytes, status *status, body *body bytes. 0: let http_parser
 * have it. m: the connection's response memo. */
static int fast_head(memo_t *m, const char *p, size_t n, size_t *head_len, int *status,
                     uint64_t *body) {
  if (n < 16) return 0;
  if (memo_whole(m, p, n)) { /* the same head as the last one: nothing to look at again */
    *head_len = m->len;
    *status = m->status;
    *body = m->cl;
    return 1;
  }
  const char *end = p + n;
  lines_t rec;
  rec.fits = 1;
  rec.same = m->n > 0;
  int st;
  const char *line;
  size_t sl = rec.same ? memo_line(m, 0, p, end) : 0;
  if (sl > 0) {
    st = m->status;
    line = p + sl;
  } else {
    rec.same = 0;
    if (memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ') return 0;
    if (p[9] < '2' || p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9') {
      return 0; /* 1xx (interim, upgrade) and anything odd */
    }
    if (p[12] != ' ' && p[12] != '\r') return 0;
    st = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (st == 204 || st == 304) return 0; /* no body whatever the headers say */
    line = memchr(p, '\n', n);
    if (line == NULL || line[-1] != '\r') return 0;
    if (!text_ok(p + 12, (size_t)(line - 1 - (p + 12)))) return 0; /* the reason phrase */
    line++;
  }
  uvotel_header_t h0 = {{p, 0}, {p, 0}};
  lines_note(&rec, 0, p, p, line, &h0, 0);
  int have_cl = 0;
  uint64_t cl = 0;
  for (unsigned i = 1;; i++) {
    uvotel_header_t h;
    int r = memo_head_line(m, &rec, i, p, line, end, &h, &have_cl, &cl, &line);
    if (r == 0) return 0;
    if (r == 2) {
      if (!have_cl) return 0; /* delimited by the close: http_parser knows the rules */
      *head_len = (size_t)(line - p);
      if (memo_keep(m, &rec, p, *head_len, cl)) m->status = st;
      *status = st;
      *body = cl;
      return 1;
    }
  }
}

/* One written buffer, fast framing. 0, or -1 when the stream is given up. */
static int fast_write(conn_t *c, const char *p, size_t n) {
  while (n > 0) {
    if (c->wbody > 0) {
      size_t k = n < c->wbody ? n : (size_t)c->wbody;
      p += k;
      n -= k;
      c->wbody -= k;
      if (c->wbody == 0 && response_done(c, c->resp_status) != 0) return -1;
      continue;
    }
    size_t head;
    int st;
    uint64_t body;
    if ((c->qn > 0 && c->q[c->qhead].is_head) || !fast_head(&c->wmemo, p, n, &head, &st, &body)) {
      c->wslow = 1;
      size_t used = http_parser_execute(&c->wp, &k_resp, p, n);
      return used != n || HTTP_PARSER_ERRNO(&c->wp) != HPE_OK ? -1 : 0;
    }
    p += head;
    n -= head;
    c->resp_status = st;
    c->wbody = body;
    if (body == 0 && response_done(c, st) != 0) return -1;
  }
  return 0;
}

/* Request framing without http_parser, on the same terms as the responses: a request head that
 * starts a read and is complete in it, with a known method but CONNECT (KNOWN_METHODS), an
 * origin-form target of RFC 3986 characters, HTTP/1.0 or 1.1, tchar header
 * names, no control bytes, at most one Content-Length, no Transfer-Encoding or Upgrade, fitting
 * buf and hdr, is copied into buf/hdr as the parser callbacks would have, and its body skipped
 * by count. Anything else goes to http_parser from that message start on. */

/* RFC 3986 pchar, '/' and '?': what a target may hold here. */
static int target_char(unsigned char ch) {
  return ch > 0x20 && ch < 0x7f && ch != '"' && ch != '#' && ch != '<' && ch != '>' &&
         !(ch >= '[' && ch <= '^') && ch != '`' && !(ch >= '{' && ch <= '}');
}

/* 1: a complete request head of *head_len bytes copied into c (URL, headers), *method,
 * *minor (HTTP/1.x) and *body set. 0: let http_parser have it. */
/* fast_request when p starts with the whole request head remembered in m: copied into c from
 * what the memo knows of its lines. 1, or 0 (it no longer fits: cannot happen, the same bytes
 * fitted before). */
static int memo_request(conn_t *c, const memo_t *m, const char *p, size_t *head_len,
                        unsigned *method, unsigned *minor, uint64_t *body) {
  size_t url_len = m->t_len;
  if (url_len > sizeof c->buf || m->n - 1 > NHDR_MAX) return 0;
  memcpy(c->buf, p + m->t_off, url_len);
  size_t len = url_len, nhdr = 0;
  for (unsigned i = 1; i < m->n; i++) {
    const char *line = p + m->end[i - 1];
    size_t nl = m->name[i], vl = m->vl[i];
    if (nl + vl > sizeof c->buf - len) return 0;
    uvotel_header_t *d = &c->hdr[nhdr++];
    memcpy(c->buf + len, line, nl);
    d->name.ptr = c->buf + len;
    d->name.len = nl;
    len += nl;
    memcpy(c->buf + len, line + m->vo[i], vl);
    d->value.ptr = vl > 0 ? c->buf + len : NULL; /* as rq_field leaves an empty value */
    d->value.len = vl;
    len += vl;
  }
  c->len = len;
  c->url_len = url_len;
  c->nhdr = nhdr;
  c->in_value = 1;
  *head_len = m->len;
  *method = k_known[m->method];
  *minor = m->minor;
  *body = m->cl;
  return 1;
}

static int fast_request(conn_t *c, const char *p, size_t n, size_t *head_len, unsigned *method,
                        unsigned *minor, uint64_t *body) {
  const char *end = p + n;
  memo_t *m = &c->rmemo;
  if (memo_whole(m, p, n)) return memo_request(c, m, p, head_len, method, minor, body);
  lines_t rec;
  rec.fits = 1;
  rec.same = m->n > 0;
  size_t k, url_len;
  unsigned mi;
  const char *t, *line;
  size_t sl = rec.same ? memo_line(m, 0, p, end) : 0;
  if (sl > 0) {
    k = m->method;
    mi = m->minor;
    t = p + m->t_off;
    url_len = m->t_len;
    line = p + sl;
  } else {
    rec.same = 0;
    const char *sp = memchr(p, ' ', n < 8 ? n : 8);
    if (sp == NULL) return 0;
    size_t ml = (size_t)(sp - p);
    const char *name = NULL;
    for (k = 0; k < N_KNOWN; k++) {
      name = http_method_str((enum http_method)k_known[k]);
      if (k_known[k] != HTTP_CONNECT && strncmp(name, p, ml) == 0 && name[ml] == '\0') break;
    }
    if (k == N_KNOWN) return 0;
    const char *te = t = sp + 1;
    while (te < end && target_char((unsigned char)*te)) te++;
    if (te == t || *t != '/' || (size_t)(end - te) < 10 || memcmp(te, " HTTP/1.", 8) != 0 ||
        (te[8] != '0' && te[8] != '1') || te[9] != '\r' || te + 10 >= end || te[10] != '\n') {
      return 0;
    }
    url_len = (size_t)(te - t);
    mi = (unsigned)(te[8] - '0');
    line = te + 11;
  }
  if (url_len > sizeof c->buf) return 0;
  uvotel_header_t h0 = {{p, 0}, {p, 0}};
  lines_note(&rec, 0, p, p, line, &h0, 0);
  memcpy(c->buf, t, url_len);
  size_t len = url_len, nhdr = 0;
  int have_cl = 0;
  uint64_t cl = 0;
  for (unsigned i = 1;; i++) {
    uvotel_header_t h;
    int r = memo_head_line(m, &rec, i, p, line, end, &h, &have_cl, &cl, &line);
    if (r == 0) return 0;
    if (r == 2) {
      c->len = len;
      c->url_len = url_len;
      c->nhdr = nhdr;
      c->in_value = 1;
      *head_len = (size_t)(line - p);
      *method = k_known[k];
      *minor = mi;
      *body = cl;
      if (memo_keep(m, &rec, p, *head_len, cl)) {
        m->method = (unsigned)k;
        m->minor = mi;
        m->t_off = (uint16_t)(t - p);
        m->t_len = (uint16_t)url_len;
      }
      return 1;
    }
    if (nhdr == NHDR_MAX || h.name.len + h.value.len > sizeof c->buf - len) return 0;
    uvotel_header_t *d = &c->hdr[nhdr++];
    memcpy(c->buf + len, h.name.ptr, h.name.len);
    d->name.ptr = c->buf + len;
    d->name.len = h.name.len;
    len += h.name.len;
    memcpy(c->buf + len, h.value.ptr, h.value.len);
    d->value.ptr = h.value.len > 0 ? c->buf + len : NULL; /* as rq_field leaves an empty value */
    d->value.len = h.value.len;
    len += h.value.len;
  }
}

/* One read, fast framing. 0, or -1 when the stream is given up. */
static int fast_read(conn_t *c, const char *p, size_t n) {
  while (n > 0) {
    if (c->rbody > 0) {
      size_t k = n < c->rbody ? n : (size_t)c->rbody;
      p += k;
      n -= k;
      c->rbody -= k;
      continue;
    }
    size_t head;
    unsigned method, minor;
    uint64_t body;
    if (!fast_request(c, p, n, &head, &method, &minor, &body)) {
      c->rslow = 1;
      c->len = c->url_len = c->nhdr = 0;
      size_t used = http_parser_execute(&c->rp, &k_req, p, n);
      return c->dead || used != n || HTTP_PARSER_ERRNO(&c->rp) != HPE_OK || c->rp.upgrade ? -1 : 0;
    }
    c->start_ns = c->read_ns;
    c->cur = NULL;
    c->cur_baggage = NULL;
    c->began++;
    if (c->qn == PENDING_MAX) {
      c->dead = 1;
      return -1;
    }
    request_span(c, method, 1, minor);
    p += head;
    n -= head;
    c->rbody = body;
  }
  return 0;
}

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
  c->attrs_late = uvotel__http_sampler_ignores_attrs(tracer);
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
  if (!c->rslow) {
    if (fast_read(c, data, len) != 0) {
      c->dead = 1;
      return -1;
    }
  } else {
    size_t used = http_parser_execute(&c->rp, &k_req, data, len);
    if (c->dead || used != len || HTTP_PARSER_ERRNO(&c->rp) != HPE_OK || c->rp.upgrade) {
      c->dead = 1;
      return -1;
    }
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
    if (!c->wslow) {
      if (fast_write(c, bufs[i].base, bufs[i].len) != 0) c->dead = 1;
      continue;
    }
    size_t used = http_parser_execute(&c->wp, &k_resp, bufs[i].base, bufs[i].len);
    if (used != bufs[i].len || HTTP_PARSER_ERRNO(&c->wp) != HPE_OK) c->dead = 1;
  }
  uvotel_span_t *s = c->done;
  c->done = NULL;
  return s;
}

static void http_close(void *conn) {
  conn_t *c = conn;
  if (!c->dead && c->wslow) {
    /* A response delimited by the end of the connection completes here (only http_parser
     * reads those: the fast framing needs a Content-Length). */
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
    .size = sizeof(uvotel_protocol_ops_t),
    .name = "http",
    .category = UVOTEL_INSTRUMENT_HTTP,
    .detect = http_detect,
    .open = http_open,
    .read = http_read,
    .write = http_write,
    .close = http_close,
    .written = NULL, /* its write returns the one span a write completes */
};

UVOTEL__API const uvotel_protocol_ops_t *uvotel_protocol_http(void) {
  return &k_http;
}
