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
  size_t client_ip_len, server_ip_len; /* strlen of each, taken when the connection opens */
  /* the last Host value parse_host read on this connection and what it gave (a keep-alive
   * client sends the same one each time): host_len 0, none yet */
  char host[256];
  size_t host_len, host_hl;
  long host_port;
  int host_ok;
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

/* A header name equal to lname (lower case, l bytes: the caller compared the lengths), ASCII
 * case-insensitively (header names are tokens: no locale, no strlen). */
static inline int name_is(const char *n, const char *lname, size_t l) {
  size_t k = 0;
  while (k < l && (n[k] == lname[k] || (n[k] >= 'A' && n[k] <= 'Z' && n[k] + 32 == lname[k]))) k++;
  return k == l;
}

/* name_is(n, "host", 4) in one word: a byte b | 0x20 is a lower-case letter l exactly when b is
 * l or its capital. */
static inline int is_host(const char *n) {
  uint32_t w, want;
  memcpy(&w, n, 4);
  memcpy(&want, "host", 4);
  return (w | 0x20202020u) == want;
}

/* ---- attribute keys, prepared at load (uvotel__span_set_attrs) ---- */

uvotel__attr_key_t uvotel__http_keys[UVOTEL__HK_N];

static const char *const k_key_names[UVOTEL__HK_N] = {
    [UVOTEL__HK_METHOD] = "http.request.method",
    [UVOTEL__HK_METHOD_ORIGINAL] = "http.request.method_original",
    [UVOTEL__HK_SCHEME] = "url.scheme",
    [UVOTEL__HK_PATH] = "url.path",
    [UVOTEL__HK_QUERY] = "url.query",
    [UVOTEL__HK_VERSION] = "network.protocol.version",
    [UVOTEL__HK_USER_AGENT] = "user_agent.original",
    [UVOTEL__HK_CLIENT_ADDRESS] = "client.address",
    [UVOTEL__HK_CLIENT_PORT] = "client.port",
    [UVOTEL__HK_SERVER_ADDRESS] = "server.address",
    [UVOTEL__HK_SERVER_PORT] = "server.port",
    [UVOTEL__HK_URL_FULL] = "url.full",
};

__attribute__((constructor)) static void http_keys_init(void) {
  for (unsigned i = 0; i < UVOTEL__HK_N; i++) {
    (void)uvotel__attr_key_init(&uvotel__http_keys[i], k_key_names[i], strlen(k_key_names[i]));
  }
}

/* The request's attributes, collected in one list: handed to uvotel_span_start as attributes
 * (so a sampler sees them; start_reading_attrs), or, when the provider's sampler is made of
 * built-ins that never look at attributes (uvotel__http_sampler_ignores_attrs), set right after
 * the start with one uvotel__span_set_attrs. */
typedef uvotel__http_attrs_t rq_attrs_t;
#define ATTR_MAX UVOTEL__HTTP_ATTRS_MAX
#define put_str uvotel__http_put_str
#define put_whole uvotel__http_put_whole
#define put_int uvotel__http_put_int

/* Start s with t's attributes given at the start (a sampler that reads them): each value a
 * NUL-terminated copy in text, as uvotel_span_start's attributes are. */
static __attribute__((noinline)) uvotel_span_t *start_reading_attrs(uvotel_tracer_t *tracer,
                                                                    const char *name,
                                                                    uvotel_span_options_t *o,
                                                                    const rq_attrs_t *t) {
  uvotel_attribute_t a[ATTR_MAX];
  char text[HDR_MAX + ATTR_MAX * 80]; /* the buffer's bytes, the addresses and literals */
  size_t used = 0, n = 0;
  for (size_t i = 0; i < t->n; i++) {
    const uvotel__attr_in_t *e = &t->e[i];
    a[n].key = e->key->key;
    a[n].value = e->value;
    if (e->value.type == UVOTEL_VALUE_STRING) {
      size_t l = e->value.len;
      if (l + 1 > sizeof text - used) continue; /* cannot happen: see the size above */
      if (l > 0) memcpy(text + used, e->value.u.s, l);
      text[used + l] = '\0';
      a[n].value.u.s = text + used;
      a[n].value.len = 0;
      used += l + 1;
    }
    n++;
  }
  o->attrs = a;
  o->n_attrs = n;
  return uvotel_span_start(tracer, name, o);
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

/* The index of the first byte of p[0 .. n) equal to a or to b, or n: eight bytes at a time
 * (overlapping loads inside the n bytes, zero_bytes exact), a byte loop under eight. */
static inline uint64_t zero_bytes(uint64_t x);
static inline size_t first_of8(const char *p, size_t n, unsigned char a, unsigned char b,
                               int p_has_8);
static inline size_t first_of(const char *p, size_t n, unsigned char a, unsigned char b) {
  return first_of8(p, n, a, b, 0);
}

/* The same, where p_has_8 says eight bytes may be read at p even when n is less (they are in a
 * buffer the caller knows): one masked word then. */
static inline size_t first_of8(const char *p, size_t n, unsigned char a, unsigned char b,
                               int p_has_8) {
  if (n < 8 && p_has_8) {
    const uint64_t ones = 0x0101010101010101u;
    uint64_t x;
    memcpy(&x, p, 8);
    uint64_t hit = zero_bytes(x ^ (ones * a)) | zero_bytes(x ^ (ones * b));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    hit &= n == 0 ? 0 : ~(uint64_t)0 << (8 * (8 - n)); /* the first n bytes only */
    return hit != 0 ? (size_t)(__builtin_clzll(hit) >> 3) : n;
#else
    hit &= ((uint64_t)1 << (8 * n)) - 1; /* the first n bytes only */
    return hit != 0 ? (size_t)(__builtin_ctzll(hit) >> 3) : n;
#endif
  }
  if (n < 8) {
    for (size_t i = 0; i < n; i++) {
      if ((unsigned char)p[i] == a || (unsigned char)p[i] == b) return i;
    }
    return n;
  }
  const uint64_t ones = 0x0101010101010101u, wa = ones * a, wb = ones * b;
  for (size_t i = 0;; i += 8) {
    if (i + 8 > n) i = n - 8; /* the last word overlaps the one before */
    uint64_t x;
    memcpy(&x, p + i, 8);
    uint64_t hit = zero_bytes(x ^ wa) | zero_bytes(x ^ wb);
    if (hit != 0) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      return i + (size_t)(__builtin_clzll(hit) >> 3);
#else
      return i + (size_t)(__builtin_ctzll(hit) >> 3);
#endif
    }
    if (i + 8 == n) return n;
  }
}

/* url.path and url.query: an origin-form target ("/p?q#f") split here, with what
 * http_parser_parse_url would give for it; anything else through it (absolute form, ...). */
static void set_url(rq_attrs_t *t, const conn_t *c) {
  const char *url = c->buf;
  size_t n = c->url_len;
  if (n > 0 && url[0] == '/') {
    /* the first '?' or '#'; a '?' first: the first '#' after it ends the query */
    _Static_assert(sizeof c->buf >= 8, "eight bytes can be read at the start of buf");
    size_t pl = first_of8(url, n, '?', '#', 1), end = pl;
    if (pl < n && url[pl] == '?') end = pl + 1 + first_of(url + pl + 1, n - pl - 1, '#', '#');
    put_str(t, UVOTEL__HK_PATH, url, pl);
    if (pl < end && end > pl + 1) put_str(t, UVOTEL__HK_QUERY, url + pl + 1, end - pl - 1);
    return;
  }
  struct http_parser_url u;
  http_parser_url_init(&u);
  if (n > 0 && http_parser_parse_url(url, n, 0, &u) == 0) {
    if (u.field_set & (1u << UF_PATH)) {
      put_str(t, UVOTEL__HK_PATH, url + u.field_data[UF_PATH].off, u.field_data[UF_PATH].len);
    }
    if (u.field_set & (1u << UF_QUERY)) {
      put_str(t, UVOTEL__HK_QUERY, url + u.field_data[UF_QUERY].off, u.field_data[UF_QUERY].len);
    }
    return;
  }
  const char *q = memchr(url, '?', n);
  put_str(t, UVOTEL__HK_PATH, url, q != NULL ? (size_t)(q - url) : n);
  if (q != NULL) put_str(t, UVOTEL__HK_QUERY, q + 1, n - (size_t)(q - url) - 1);
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
    size_t i = first_of(h, n, ':', ':');
    if (i < n) colon = h + i;
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

int uvotel__http_put_host(rq_attrs_t *t, const char *h, size_t n, long port) {
  size_t hl;
  if (parse_host(h, n, &hl, &port) != 0) return -1;
  put_whole(t, UVOTEL__HK_SERVER_ADDRESS, h, hl); /* hl < 256 */
  if (port > 0) put_int(t, UVOTEL__HK_SERVER_PORT, port);
  return 0;
}

/* a[0 .. n) == b[0 .. n): 8 to 16 bytes in two overlapping words each, else memcmp. */
static inline int same_bytes(const char *a, const char *b, size_t n) {
  if (n >= 8 && n <= 16) {
    uint64_t a0, a1, b0, b1;
    memcpy(&a0, a, 8);
    memcpy(&a1, a + n - 8, 8);
    memcpy(&b0, b, 8);
    memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  return memcmp(a, b, n) == 0;
}

/* server.address/port from Host (host: the first Host line's value, or NULL; anything not
 * understood there: no server attributes), else the connection's local address. */
static void set_server(rq_attrs_t *t, conn_t *c, const uvotel_str_t *host) {
  if (host != NULL && host->len > 0 && host->len < 256) {
    if (host->len != c->host_len || !same_bytes(host->ptr, c->host, host->len)) {
      /* no port in Host: the one the connection came in on */
      c->host_port = c->server_port;
      c->host_ok = parse_host(host->ptr, host->len, &c->host_hl, &c->host_port) == 0;
      memcpy(c->host, host->ptr, host->len);
      c->host_len = host->len;
    }
    if (!c->host_ok) return;
    put_whole(t, UVOTEL__HK_SERVER_ADDRESS, host->ptr, c->host_hl); /* < 256 */
    if (c->host_port > 0) put_int(t, UVOTEL__HK_SERVER_PORT, c->host_port);
  } else if (c->server_ip[0] != '\0') {
    put_whole(t, UVOTEL__HK_SERVER_ADDRESS, c->server_ip, c->server_ip_len);
    put_int(t, UVOTEL__HK_SERVER_PORT, c->server_port);
  }
}

/* The known methods' names (http_method_str's, which are the enum's names) and lengths, by
 * http_parser's enum value (all below 64); a zero length: not a known method. */
#define METHOD_NAME(m) [HTTP_##m] = {#m, sizeof #m - 1},
static const struct {
  const char *name;
  size_t len;
} k_method_name[64] = {KNOWN_METHODS(METHOD_NAME)};

/* The SERVER span of the request whose URL and headers are in c->buf/c->hdr. */
static void request_span(conn_t *c, unsigned m, unsigned major, unsigned minor) {
  const char *method;
  size_t ml;
  int known = m < 64 && k_method_name[m].len != 0; /* known_method(m) */
  if (known) {
    method = k_method_name[m].name;
    ml = k_method_name[m].len;
  } else {
    method = http_method_str((enum http_method)m);
    ml = strlen(method);
  }
  /* One pass over the header lines: the first Host and User-Agent, and whether extracting can
   * find anything: not when the propagator is the SDK's W3C one (g_prop_w3c, set when the
   * connection opened), which reads traceparent, tracestate and baggage only, and no header name
   * has one of their lengths (11, 10, 7). Any other propagator may read any header. */
  const uvotel_str_t *host = NULL, *ua = NULL;
  int carry = !g_prop_w3c;
  for (size_t i = 0; i < c->nhdr; i++) {
    const uvotel_header_t *h = &c->hdr[i];
    switch (h->name.len) {
      case 4:
        if (host == NULL && is_host(h->name.ptr)) host = &h->value;
        break;
      case 10:
        carry = 1;
        if (ua == NULL && name_is(h->name.ptr, "user-agent", 10)) ua = &h->value;
        break;
      case 11:
      case 7:
        carry = 1;
        break;
      default:
        break;
    }
  }
  uvotel_extracted_t x; /* initialised and read only when carry */
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  if (carry) {
    x = (uvotel_extracted_t)UVOTEL_EXTRACTED_INIT;
    uvotel_header_list_t list = {c->hdr, c->nhdr};
    (void)uvotel_propagator_extract(g_prop, &list, &uvotel_header_getter, &x);
    if (uvotel_span_context_is_valid(&x.span_context)) o.parent_context = &x.span_context;
  }
  rq_attrs_t t;
  t.n = 0;
  if (known) {
    put_whole(&t, UVOTEL__HK_METHOD, method, ml);
  } else {
    put_whole(&t, UVOTEL__HK_METHOD, "_OTHER", 6);
    put_str(&t, UVOTEL__HK_METHOD_ORIGINAL, method, ml);
  }
  put_whole(&t, UVOTEL__HK_SCHEME, "http", 4);
  set_url(&t, c);
  char ver[4];
  const char *v = major == 1 && minor == 1 ? "1.1" : major == 1 && minor == 0 ? "1.0" : NULL;
  if (v == NULL) {
    ver[0] = (char)('0' + major % 10u);
    ver[1] = '.';
    ver[2] = (char)('0' + minor % 10u);
    ver[3] = '\0';
    v = ver;
  }
  put_whole(&t, UVOTEL__HK_VERSION, v, 3);
  if (ua != NULL) put_str(&t, UVOTEL__HK_USER_AGENT, ua->ptr, ua->len);
  if (c->client_ip[0] != '\0') {
    put_whole(&t, UVOTEL__HK_CLIENT_ADDRESS, c->client_ip, c->client_ip_len);
    put_int(&t, UVOTEL__HK_CLIENT_PORT, c->client_port);
  }
  set_server(&t, c, host);
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.start_unix_ns = c->start_ns;
  const char *name = known ? method : "_OTHER";
  uvotel_span_t *s;
  if (c->attrs_late) {
    s = uvotel_span_start(c->tracer, name, &o);
    uvotel__span_set_attrs(s, t.e, t.n);
  } else {
    s = start_reading_attrs(c->tracer, name, &o, &t);
  }
  uvotel_baggage_t *bag = NULL; /* kept with the request: current while it is served */
  if (carry) {
    bag = x.baggage;
    x.baggage = NULL;
    uvotel_extracted_reset(&x);
  }
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
  c->client_ip_len = strlen(c->client_ip);
  c->server_ip_len = strlen(c->server_ip);
  (void)uvotel__http_propagator(); /* g_prop and g_prop_w3c, read by request_span */
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
