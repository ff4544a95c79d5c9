/* The HTTP/1.x client side (uvotel/uv_protocols.h): on a stream the program connected, a CLIENT
 * span per request it writes, from that write until its response is read, and the propagators'
 * headers inserted into requests that carry no traceparent.
 *
 * What the program writes goes through two parsers at once: a small scanner of our own that
 * finds where each request's head starts, where its request line ends and where its blank line
 * is (positions in the write's buffers, which libhttp-parser does not report), and
 * libhttp-parser for the rest (method, target, version, headers, the length of the body, so the
 * next pipelined request is found). The scanner runs from the first byte of a request to the end
 * of its head; libhttp-parser is paused at the end of each message so the scanner restarts
 * exactly there. The headers go in right after the request line when the whole head is in the
 * write that ends the request line (then it is known whether a traceparent is there), else
 * before the blank line when that is in the current write, else not at all. */
#include <http_parser.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http_internal.h"
#include "internal.h"

#define HEAD_MAX 8192  /* bytes of one request head followed; a longer head: give up */
#define URL_MAX 2048   /* bytes of the request target kept for url.full (longer: no url.full) */
#define HOST_MAX 255   /* bytes of the Host value kept */
#define PENDING_MAX 32 /* requests awaiting their response */
#define TEXT_MAX 8192  /* bytes of headers inserted into one write */
#define NAME_KEEP 16   /* bytes of a header name looked at */

enum { S_START, S_LINE, S_BOL, S_HDR, S_END_CR, S_BODY };
enum { H_OTHER, H_HOST };

typedef struct pos_s {
  uint64_t wseq; /* the write it is in (0: none) */
  unsigned buf;
  size_t off;
} pos_t;

typedef struct pend_s {
  uvotel_span_t *span;
  int is_head;
} pend_t;

typedef struct ins_s {
  unsigned buf;
  size_t off;
  size_t toff, tlen; /* the inserted text: text[toff .. toff + tlen) */
} ins_t;

struct uvotel__hc_s {
  uvotel_tracer_t *tracer;
  int roots; /* spans without a parent too (UVOTEL_AUTO_SPANS_ROOTS) */
  uv_stream_t *stream;
  http_parser wp, rp;
  int dead;
  /* the request being written */
  int st; /* scanner state */
  size_t head_len;
  int prev_cr, bare_lf;
  pos_t line_end, blank;
  uint64_t start_ns;
  uvotel_span_context_t first; /* current at the write that carried the request's first byte */
  char url[URL_MAX];
  size_t url_len;
  int url_cut;
  char host[HOST_MAX + 1];
  size_t host_len;
  int host_cut, has_host, has_tp;
  unsigned have; /* bit i: the request has a line named like the propagator's field i */
  char name[NAME_KEEP];
  size_t name_len;
  int in_value, hdr_kind;
  /* the current write */
  uint64_t wseq, write_ns;
  int may_insert;
  ins_t ins[UVOTEL__HC_INS_MAX];
  unsigned nins;
  char *text; /* the lines inserted into the current write (becomes its `extra`), or NULL */
  size_t tlen, tcap;
  /* responses */
  pend_t q[PENDING_MAX];
  unsigned qhead, qn;
  int resp_status;
  int peer_done;
  char peer_ip[64];
  int peer_port;
};

/* ---- spans awaiting their response ---- */

static uvotel_span_t *pop(uvotel__hc_t *c) {
  uvotel_span_t *s = c->q[c->qhead].span;
  c->q[c->qhead].span = NULL;
  c->qhead = (c->qhead + 1) % PENDING_MAX;
  c->qn--;
  return s;
}

/* End every span awaiting a response; err (may be NULL): their error.type. */
static void end_all(uvotel__hc_t *c, const char *err) {
  while (c->qn > 0) {
    uvotel_span_t *s = pop(c);
    if (s == NULL) continue;
    if (err != NULL) {
      uvotel_span_set_attribute_str(s, "error.type", err);
      uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, NULL);
    }
    uvotel_span_end(s);
  }
}

/* Something not understood: no more spans on this stream, nothing inserted from now on. */
static void give_up(uvotel__hc_t *c) {
  c->dead = 1;
  c->nins = 0;
  end_all(c, NULL);
}

/* ---- the request side: libhttp-parser callbacks ---- */

static int rq_begin(http_parser *p) {
  uvotel__hc_t *c = p->data;
  c->url_len = c->host_len = c->name_len = 0;
  c->url_cut = c->host_cut = c->has_host = c->has_tp = c->in_value = 0;
  c->have = 0;
  c->hdr_kind = H_OTHER;
  return 0;
}

static int rq_url(http_parser *p, const char *at, size_t n) {
  uvotel__hc_t *c = p->data;
  if (n > sizeof c->url - c->url_len) {
    c->url_cut = 1;
    return 0;
  }
  memcpy(c->url + c->url_len, at, n);
  c->url_len += n;
  return 0;
}

static int rq_field(http_parser *p, const char *at, size_t n) {
  uvotel__hc_t *c = p->data;
  if (c->in_value) { /* a new header line */
    c->name_len = 0;
    c->in_value = 0;
  }
  size_t room = sizeof c->name - c->name_len;
  size_t k = n < room ? n : room;
  memcpy(c->name + c->name_len, at, k);
  c->name_len += k;
  if (n > room) c->name_len = sizeof c->name; /* too long for any name we look for */
  return 0;
}

/* The field names the propagator may write (static strings), looked up once. */
#define FIELDS_MAX 8
static const char *g_fields[FIELDS_MAX];
static size_t g_nfields;
static pthread_once_t g_fields_once = PTHREAD_ONCE_INIT;

static void fields_init(void) {
  size_t n = uvotel_propagator_fields(uvotel__http_propagator(), g_fields, FIELDS_MAX);
  g_nfields = n < FIELDS_MAX ? n : FIELDS_MAX;
}

/* A header name is complete: note it if it is one of the propagator's fields. */
static void note_name(uvotel__hc_t *c) {
  pthread_once(&g_fields_once, fields_init);
  for (size_t i = 0; i < g_nfields; i++) {
    size_t l = strlen(g_fields[i]);
    if (c->name_len == l && strncasecmp(c->name, g_fields[i], l) == 0) c->have |= 1u << i;
  }
  if (c->name_len == 11 && strncasecmp(c->name, "traceparent", 11) == 0) c->has_tp = 1;
}

static int rq_value(http_parser *p, const char *at, size_t n) {
  uvotel__hc_t *c = p->data;
  if (!c->in_value) {
    c->in_value = 1;
    c->hdr_kind = H_OTHER;
    if (c->name_len == 4 && strncasecmp(c->name, "host", 4) == 0) {
      c->hdr_kind = H_HOST;
      if (c->has_host) c->host_cut = 1; /* two Host lines: use neither */
      c->has_host = 1;
    }
    note_name(c);
  }
  if (c->hdr_kind == H_HOST) {
    if (n > HOST_MAX - c->host_len) {
      c->host_cut = 1;
    } else {
      memcpy(c->host + c->host_len, at, n);
      c->host_len += n;
    }
  }
  return 0;
}

/* The last header line's name, when libhttp-parser reported no value for it. */
static void rq_field_done(uvotel__hc_t *c) {
  if (!c->in_value && c->name_len > 0) note_name(c);
}

static void peer(uvotel__hc_t *c) {
  if (c->peer_done) return;
  c->peer_done = 1;
  c->peer_ip[0] = '\0';
  if (c->stream == NULL || c->stream->type != UV_TCP) return;
  struct sockaddr_storage ss;
  int len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (uv_tcp_getpeername((uv_tcp_t *)c->stream, (struct sockaddr *)&ss, &len) != 0) {
    c->peer_done = 0; /* not connected yet: ask again at the next request */
    return;
  }
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
    if (uv_ip4_name(in, c->peer_ip, sizeof c->peer_ip) == 0) c->peer_port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
    if (uv_ip6_name(in6, c->peer_ip, sizeof c->peer_ip) == 0) {
      c->peer_port = ntohs(in6->sin6_port);
    }
  }
}

/* url.full into t; full (at least URL_MAX + HOST_MAX + 80 bytes) holds it when it is built. */
static void set_url(uvotel__hc_t *c, uvotel__http_attrs_t *t, char *full, size_t cap) {
  if (c->url_cut || c->url_len == 0) return;
  if (c->url[0] != '/') { /* absolute form (to a proxy); "*" and authority form: no URL */
    if (c->url_len > 7 && strncasecmp(c->url, "http://", 7) == 0) {
      uvotel__http_put_str(t, UVOTEL__HK_URL_FULL, c->url, c->url_len);
    }
    return;
  }
  int n;
  if (c->has_host && !c->host_cut && c->host_len > 0) {
    memcpy(full, "http://", 7);
    memcpy(full + 7, c->host, c->host_len);
    memcpy(full + 7 + c->host_len, c->url, c->url_len);
    /* the whole value (up to URL_MAX + HOST_MAX + 7 bytes), not cut at 2 KiB */
    uvotel__http_put_whole(t, UVOTEL__HK_URL_FULL, full, 7 + c->host_len + c->url_len);
    return;
  }
  if (c->peer_ip[0] != '\0') {
    const char *fmt = strchr(c->peer_ip, ':') != NULL ? "http://[%s]:%d%.*s" : "http://%s:%d%.*s";
    n = snprintf(full, cap, fmt, c->peer_ip, c->peer_port, (int)c->url_len, c->url);
  } else {
    return;
  }
  if (n > 0 && (size_t)n < cap) uvotel__http_put_whole(t, UVOTEL__HK_URL_FULL, full, (size_t)n);
}

static int same_parent(const uvotel_span_context_t *a, const uvotel_span_context_t *b) {
  return memcmp(&a->trace_id, &b->trace_id, sizeof a->trace_id) == 0 &&
         memcmp(&a->span_id, &b->span_id, sizeof a->span_id) == 0;
}

static int set_hdr(void *carrier, const char *name, const char *value, size_t len) {
  uvotel__hc_t *c = carrier;
  for (size_t i = 0; i < g_nfields; i++) {
    if ((c->have & (1u << i)) && strcasecmp(name, g_fields[i]) == 0) {
      return 0; /* the request has its own (a tracestate or baggage line): not added again */
    }
  }
  size_t nl = strlen(name);
  size_t need = c->tlen + nl + len + 4;
  if (need > TEXT_MAX) return UVOTEL_ENOMEM;
  if (need > c->tcap) {
    size_t cap = need < 512 ? 512 : need * 2 < TEXT_MAX ? need * 2 : TEXT_MAX;
    char *t = uvotel_realloc(c->text, cap);
    if (t == NULL) return UVOTEL_ENOMEM;
    c->text = t;
    c->tcap = cap;
  }
  memcpy(c->text + c->tlen, name, nl);
  memcpy(c->text + c->tlen + nl, ": ", 2);
  memcpy(c->text + c->tlen + nl + 2, value, len);
  memcpy(c->text + c->tlen + nl + 2 + len, "\r\n", 2);
  c->tlen += nl + len + 4;
  return 0;
}

static const uvotel_carrier_setter_t k_setter = {set_hdr};

/* The propagation headers for span s at the best place this write allows (see the top). */
static void insert(uvotel__hc_t *c, uvotel_span_t *s) {
  if (!c->may_insert || c->has_tp || c->bare_lf || c->nins == UVOTEL__HC_INS_MAX) return;
  const pos_t *at;
  if (c->line_end.wseq == c->wseq) {
    at = &c->line_end;
  } else if (c->blank.wseq == c->wseq) {
    at = &c->blank;
  } else {
    return; /* the head began and its blank line was in earlier writes */
  }
  uvotel_span_context_t sc = uvotel_span_context(s);
  if (!uvotel_span_context_is_valid(&sc)) return;
  size_t t0 = c->tlen;
  if (uvotel_propagator_inject(uvotel__http_propagator(), &sc, uvotel_baggage_current(), c,
                               &k_setter) != 0) {
    c->tlen = t0; /* did not fit: nothing for this request */
    return;
  }
  if (c->tlen == t0) return; /* the propagator wrote nothing ("none") */
  ins_t *in = &c->ins[c->nins++];
  in->buf = at->buf;
  in->off = at->off;
  in->toff = t0;
  in->tlen = c->tlen - t0;
}

static int rq_headers(http_parser *p) {
  uvotel__hc_t *c = p->data;
  rq_field_done(c);
  if (c->qn == PENDING_MAX || p->method == HTTP_CONNECT || p->upgrade) return -1;
  /* HTTP/1.x only, and the head must end where the scanner saw it end: libhttp-parser takes
   * "GET /x\r\n" as a whole HTTP/0.9 request, which another line protocol may well be. */
  if (p->http_major != 1 || c->st != S_BODY) return -1;
  const char *method = http_method_str((enum http_method)p->method);
  const char *known = uvotel__http_method_known(p->method) ? method : NULL;
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_CLIENT;
  o.start_unix_ns = c->start_ns;
  /* The context changed between the write of the first byte and this one: ambiguous, root. */
  uvotel_span_context_t now = uvotel_span_context(uvotel_current_span());
  if (!same_parent(&now, &c->first)) o.flags = UVOTEL_SPAN_ROOT;
  unsigned tail = (c->qhead + c->qn) % PENDING_MAX;
  c->q[tail].is_head = p->method == HTTP_HEAD;
  c->q[tail].span = NULL;
  c->qn++;
  if (!c->roots && (o.flags != 0 || !uvotel_span_context_is_valid(&now))) {
    return 0; /* it would be a root: followed for the matching of responses, no span */
  }
  uvotel_span_t *s = uvotel_span_start(c->tracer, known != NULL ? known : "_OTHER", &o);
  c->q[tail].span = s;
  uvotel__http_attrs_t t;
  t.n = 0;
  if (known != NULL) {
    uvotel__http_put_str(&t, UVOTEL__HK_METHOD, known, strlen(known));
  } else {
    uvotel__http_put_str(&t, UVOTEL__HK_METHOD, "_OTHER", 6);
    uvotel__http_put_str(&t, UVOTEL__HK_METHOD_ORIGINAL, method, strlen(method));
  }
  char ver[4] = {(char)('0' + p->http_major % 10u), '.', (char)('0' + p->http_minor % 10u), 0};
  uvotel__http_put_str(&t, UVOTEL__HK_VERSION, ver, 3);
  peer(c);
  char full[URL_MAX + HOST_MAX + 80];
  set_url(c, &t, full, sizeof full);
  if (!(c->has_host && !c->host_cut &&
        uvotel__http_put_host(&t, c->host, c->host_len, c->peer_port) == 0) &&
      c->peer_ip[0] != '\0') {
    uvotel__http_put_str(&t, UVOTEL__HK_SERVER_ADDRESS, c->peer_ip, strlen(c->peer_ip));
    uvotel__http_put_int(&t, UVOTEL__HK_SERVER_PORT, c->peer_port);
  }
  uvotel__span_set_attrs(s, t.e, t.n);
  insert(c, s);
  return 0;
}

static int rq_complete(http_parser *p) {
  http_parser_pause(p, 1); /* the scanner restarts at the next byte */
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

/* ---- the request side: the scanner ---- */

/* Follow the head of the request being written through b[0 .. n) (buffer bi of the write, at
 * offset off0 in it); returns the bytes up to and including the end of the head (or n). Inside
 * a line only its end matters, so the scan jumps from one LF to the next. */
static size_t scan(uvotel__hc_t *c, const char *b, size_t n, unsigned bi, size_t off0) {
  size_t i = 0;
  while (i < n) {
    if (c->st == S_START) {
      if (b[i] == '\r' || b[i] == '\n') { /* between messages (libhttp-parser skips them) */
        i++;
        continue;
      }
      c->st = S_LINE;
      c->head_len = 0;
      c->prev_cr = c->bare_lf = 0;
      c->line_end.wseq = c->blank.wseq = 0;
      c->start_ns = c->write_ns;
      c->first = uvotel_span_context(uvotel_current_span());
    }
    if (c->st == S_LINE || c->st == S_HDR) {
      const char *nl = memchr(b + i, '\n', n - i);
      size_t stop = nl != NULL ? (size_t)(nl - b) : n;
      if (stop > i) c->prev_cr = b[stop - 1] == '\r';
      c->head_len += stop - i + (nl != NULL);
      if (c->head_len > HEAD_MAX) {
        give_up(c);
        return i;
      }
      if (nl == NULL) return n;
      if (c->st == S_LINE) {
        c->line_end = (pos_t){c->wseq, bi, off0 + stop + 1};
        c->bare_lf = !c->prev_cr;
      }
      c->st = S_BOL;
      i = stop + 1;
      continue;
    }
    char ch = b[i];
    if (++c->head_len > HEAD_MAX) {
      give_up(c);
      return i;
    }
    if (c->st == S_BOL) {
      if (ch == '\r') {
        c->blank = (pos_t){c->wseq, bi, off0 + i};
        c->st = S_END_CR;
      } else if (ch == '\n') {
        c->bare_lf = 1;
        c->st = S_BODY;
        return i + 1;
      } else {
        c->st = S_HDR;
      }
      c->prev_cr = ch == '\r';
      i++;
      continue;
    }
    if (c->st == S_END_CR && ch == '\n') {
      c->st = S_BODY;
      return i + 1;
    }
    give_up(c); /* CR not followed by LF: libhttp-parser refuses it too */
    return i;
  }
  return n;
}

/* The list to write: the program's buffers split at each insertion point. The inserted text
 * becomes the write's `extra`. */
static void build(uvotel__hc_t *c, const uv_buf_t bufs[], unsigned int nbufs,
                  uvotel__hc_out_t *out) {
  char *extra = c->text;
  c->text = NULL;
  c->tcap = 0;
  unsigned k = 0, j = 0;
  for (unsigned i = 0; i < nbufs; i++) {
    size_t start = 0;
    for (; j < c->nins && c->ins[j].buf == i; j++) {
      const ins_t *in = &c->ins[j];
      if (in->off > start) {
        out->bufs[k++] = uv_buf_init(bufs[i].base + start, (unsigned int)(in->off - start));
      }
      out->bufs[k++] = uv_buf_init(extra + in->toff, (unsigned int)in->tlen);
      start = in->off;
    }
    if (bufs[i].len > start) {
      out->bufs[k++] = uv_buf_init(bufs[i].base + start, (unsigned int)(bufs[i].len - start));
    }
  }
  out->n = k;
  out->extra = extra;
  out->inserted = c->tlen;
}

void uvotel__hc_write(uvotel__hc_t *c, const uv_buf_t bufs[], unsigned int nbufs, int may_insert,
                      uvotel__hc_out_t *out) {
  out->n = 0;
  out->extra = NULL;
  out->inserted = 0;
  if (c == NULL || c->dead || bufs == NULL) return;
  c->wseq++;
  c->nins = 0;
  c->tlen = 0;
  c->may_insert = may_insert && nbufs <= UVOTEL__HC_NBUFS_IN;
  c->write_ns = uvotel__http_now_ns();
  for (unsigned int i = 0; i < nbufs && !c->dead; i++) {
    const char *b = bufs[i].base;
    size_t len = bufs[i].len, o = 0;
    while (o < len && !c->dead) {
      size_t k = len - o;
      if (c->st != S_BODY) k = scan(c, b + o, k, i, o);
      if (c->dead) break;
      size_t used = http_parser_execute(&c->wp, &k_req, b + o, k);
      enum http_errno e = HTTP_PARSER_ERRNO(&c->wp);
      if (e == HPE_PAUSED) {
        http_parser_pause(&c->wp, 0); /* a message ended at b[o + used - 1] */
        c->st = S_START;
      } else if (e != HPE_OK || used != k) {
        give_up(c);
        break;
      }
      o += used;
    }
  }
  if (!c->dead && c->nins > 0) build(c, bufs, nbufs, out);
  c->nins = 0;
  c->tlen = 0;
}

int uvotel__hc_dead(const uvotel__hc_t *c) {
  return c->dead;
}

void uvotel__hc_fail(uvotel__hc_t *c) {
  if (c != NULL && !c->dead) give_up(c);
}

/* ---- the response side ---- */

static int rs_headers(http_parser *p) {
  uvotel__hc_t *c = p->data;
  c->resp_status = (int)p->status_code;
  if (c->resp_status == 101 || p->upgrade) return -1;
  /* A response to HEAD has no body whatever its headers say. */
  if (c->qn > 0 && c->q[c->qhead].is_head) return 1;
  return 0;
}

static int rs_complete(http_parser *p) {
  uvotel__hc_t *c = p->data;
  int st = c->resp_status;
  if (st >= 100 && st < 200) return 0; /* interim: the final response follows */
  if (c->qn == 0) return -1;           /* a response to nothing we saw: lost our place */
  uvotel_span_t *s = pop(c);
  if (s == NULL) return 0;
  uvotel_span_set_attribute_int(s, "http.response.status_code", st);
  if (st >= 500) {
    char t[16];
    snprintf(t, sizeof t, "%d", st);
    uvotel_span_set_attribute_str(s, "error.type", t);
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, NULL);
  }
  uvotel_span_end(s);
  return 0;
}

static const http_parser_settings k_resp = {
    .on_headers_complete = rs_headers,
    .on_message_complete = rs_complete,
};

void uvotel__hc_read(uvotel__hc_t *c, const char *data, ssize_t n) {
  if (c == NULL || c->dead) return;
  if (n < 0) {
    /* A response delimited by the end of the connection completes here; the rest did not get
     * (all of) their response. */
    (void)http_parser_execute(&c->rp, &k_resp, NULL, 0);
    end_all(c, uv_err_name((int)n));
    c->dead = 1;
    return;
  }
  if (n == 0 || data == NULL) return;
  size_t used = http_parser_execute(&c->rp, &k_resp, data, (size_t)n);
  if (used != (size_t)n || HTTP_PARSER_ERRNO(&c->rp) != HPE_OK) give_up(c);
}

uvotel__hc_t *uvotel__hc_new(uvotel_tracer_t *tracer, uv_stream_t *stream, int roots) {
  uvotel__hc_t *c = uvotel_calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->tracer = tracer;
  c->roots = roots;
  c->stream = stream;
  http_parser_init(&c->wp, HTTP_REQUEST);
  http_parser_init(&c->rp, HTTP_RESPONSE);
  c->wp.data = c->rp.data = c;
  c->st = S_START;
  return c;
}

void uvotel__hc_free(uvotel__hc_t *c) {
  if (c == NULL) return;
  end_all(c, uv_err_name(UV_ECANCELED)); /* closed by the program before the response */
  uvotel_free(c->text);
  uvotel_free(c);
}
