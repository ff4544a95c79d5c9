/* The protocol detector seam (uvotel/uv_protocols.h): which detector owns an accepted stream,
 * and the calls from the stream wrappers into it. Outgoing TCP connections (uvotel_tcp_connect)
 * are offered to the built-in client-side detector (DNS over TCP, dns_tcp.c) by their first
 * bytes written. A connected socket the program adopts (uvotel_tcp_open, uvotel_pipe_open) has no
 * direction yet: it is followed both ways until its first read (then it is served, as an accepted
 * stream) or its first write (then it is a client, as a connected one). */
#include <pthread.h>
#include <string.h>

#include "dns_span.h" /* the DNS-over-TCP detectors */
#include "http_internal.h"
#include "internal.h"
#include "uvotel/uv_protocols.h"
#include "uvotel/uv_spans.h"

#define MAX_USER 8
#define N_BUILTIN 2
#define OPS_V1_SIZE (offsetof(uvotel_protocol_ops_t, close) + sizeof(void (*)(void *)))
/* The table has the written member (appended after close). */
#define OPS_WRITTEN_SIZE (offsetof(uvotel_protocol_ops_t, written) + sizeof(void (*)(void)))

typedef struct det_s {
  const uvotel_protocol_ops_t *ops;
  void *arg;
} det_t;

static det_t g_user[MAX_USER];
static unsigned g_nuser; /* published with release after the slot is written */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

struct uvotel__proto_s {
  const uvotel_protocol_ops_t *ops; /* the claiming detector, or NULL while detecting */
  void *conn;
  unsigned declined; /* bit i: detector i declined */
  int dead;          /* nothing claimed it, or its detector gave up */
  int outgoing;      /* a connection the program made: detected by what it writes first */
  int adopted;       /* uv_tcp_open: no direction yet (the first read or write tells) */
  int is_http;       /* ops is the built-in HTTP detector's */
  uvotel_span_t *accept_parent; /* an accepted stream: the span current at the accept, or NULL */
  uint64_t wseq;                /* calls of the claiming detector's write so far */
  size_t npeek;
  char peek[UVOTEL_PROTOCOL_PEEK_MAX];
};

UVOTEL__API int uvotel_protocol_register(const uvotel_protocol_ops_t *ops, void *arg) {
  if (ops == NULL || ops->size < OPS_V1_SIZE || ops->detect == NULL || ops->open == NULL ||
      ops->read == NULL || ops->write == NULL || ops->close == NULL) {
    return UVOTEL_EINVAL;
  }
  pthread_mutex_lock(&g_mu);
  unsigned n = __atomic_load_n(&g_nuser, __ATOMIC_RELAXED);
  if (n >= MAX_USER) {
    pthread_mutex_unlock(&g_mu);
    return UVOTEL_ENOMEM;
  }
  g_user[n].ops = ops;
  g_user[n].arg = arg;
  __atomic_store_n(&g_nuser, n + 1, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_mu);
  return 0;
}

/* Detector i (built-ins first), or 0 when there is none. */
static int det_at(unsigned i, det_t *out) {
  if (i < N_BUILTIN) {
    out->ops = i == 0 ? uvotel_protocol_http() : uvotel__dns_tcp_ops(0);
    out->arg = NULL;
    return 1;
  }
  i -= N_BUILTIN;
  if (i >= __atomic_load_n(&g_nuser, __ATOMIC_ACQUIRE)) return 0;
  *out = g_user[i];
  return 1;
}

void uvotel__proto_accept(uvotel__hs_t *s) {
  uvotel__proto_drop(s);
  if (!(uvotel_auto_spans_categories() & (UVOTEL_INSTRUMENT_HTTP | UVOTEL_INSTRUMENT_DNS)) &&
      __atomic_load_n(&g_nuser, __ATOMIC_ACQUIRE) == 0) {
    return; /* no detector could run: nothing to look at */
  }
  uvotel__proto_t *p = uvotel_calloc(1, sizeof *p);
  if (p == NULL) return; /* no detection on this stream; the program is unaffected */
  p->accept_parent = uvotel_span_retain(uvotel_current_span());
  s->proto = p;
}

void uvotel__proto_adopt(uv_stream_t *h) {
  int is_new;
  uvotel__hs_t *s = uvotel__track(h->loop, h, &is_new);
  if (s == NULL) return;
  uvotel__proto_accept(s); /* as accepted until it writes first */
  if (s->proto == NULL) return;
  s->proto->adopted = 1;
  if (uvotel__auto_on(UVOTEL__AUTO_HTTP)) uvotel__httpc_connect(s, h); /* ... or connected */
}

/* An adopted stream writes first: the program is the client (HTTP and DNS clients speak
 * first), so its reads are responses, not requests: detected as a connection it made. */
static void adopted_writes(uvotel__proto_t *p) {
  p->adopted = 0;
  p->outgoing = 1;
}

int uvotel__proto_followed(const uvotel__hs_t *s) {
  const uvotel__proto_t *p = s->proto;
  return p != NULL && p->ops != NULL && !p->dead && !p->outgoing;
}

static int has_written(const uvotel_protocol_ops_t *ops) {
  return ops->size >= OPS_WRITTEN_SIZE && ops->written != NULL;
}

/* Bytes for the claiming detector's write: the span it returns and, in *seq, the number of
 * this write for its written op (0: it has none). */
static uvotel_span_t *call_write(uvotel__proto_t *p, const uv_buf_t bufs[], unsigned int nbufs,
                                 uint64_t *seq) {
  uvotel_span_t *span = p->ops->write(p->conn, bufs, nbufs);
  p->wseq++;
  *seq = has_written(p->ops) ? p->wseq : 0;
  return span;
}

/* A write that is over as soon as the detector saw it (try_write, bytes written before the
 * claim, a write libuv refused): its span ends, and written is told, with status. */
static void done_now(uvotel__proto_t *p, uvotel_span_t *span, uint64_t seq, int status) {
  if (span != NULL) uvotel__auto_status_end(span, status);
  if (seq != 0) p->ops->written(p->conn, seq, status);
}

static void feed(uvotel__proto_t *p, const char *data, size_t n, uvotel_span_t **current) {
  if (n == 0 || p->dead) return;
  if (p->ops->read(p->conn, data, n, current) < 0) p->dead = 1;
}

static uvotel_span_t *proto_read(uvotel__hs_t *s, uvotel__proto_t *p, uv_stream_t *h,
                                 const char *data, size_t n);

/* The extracted baggage of the request whose span a read returned (borrowed), or NULL. */
static const uvotel_baggage_t *read_baggage(const uvotel__proto_t *p) {
  if (!p->is_http || p->dead) return NULL;
  return uvotel__http_read_baggage(p->conn);
}

static uvotel_span_t *proto_read_other(uvotel__hs_t *s, uv_stream_t *h, const char *data, size_t n,
                                       const uvotel_baggage_t **bag);

uvotel_span_t *uvotel__proto_read(uvotel__hs_t *s, uv_stream_t *h, const char *data, size_t n,
                                  const uvotel_baggage_t **bag) {
  uvotel__proto_t *p = s->proto;
  *bag = NULL;
  if (p->dead || n == 0 || data == NULL) return NULL;
  if (UVOTEL__LIKELY(p->ops != NULL && !p->adopted && s->span == NULL)) {
    /* the common case: a claimed stream without an accept span (proto_read's first branch) */
    uvotel_span_t *current = NULL;
    if (p->ops->read(p->conn, data, n, &current) < 0) p->dead = 1;
    if (current != NULL) *bag = read_baggage(p);
    return current;
  }
  return proto_read_other(s, h, data, n, bag);
}

/* Everything else: detection, an adopted stream, one with an accept span. */
static __attribute__((noinline)) uvotel_span_t *proto_read_other(uvotel__hs_t *s, uv_stream_t *h,
                                                                 const char *data, size_t n,
                                                                 const uvotel_baggage_t **bag) {
  uvotel__proto_t *p = s->proto;
  if (UVOTEL__UNLIKELY(p->adopted)) {
    /* An adopted stream reads first: the peer is the client, the program serves it. */
    p->adopted = 0;
    if (s->hc != NULL) uvotel__httpc_drop(s);
  }
  if (p->ops == NULL && p->outgoing) return NULL; /* detected by its first write */
  uvotel_span_t *current;
  uvotel_scope_t sc;
  if (UVOTEL__LIKELY(s->span == NULL) || uvotel_current_span() != s->span ||
      uvotel_span_enter(p->accept_parent, &sc) != 0) {
    current = proto_read(s, p, h, data, n);
  } else {
    current = proto_read(s, p, h, data, n);
    (void)uvotel_scope_exit(&sc);
  }
  if (current != NULL) *bag = read_baggage(p);
  return current;
}

static uvotel_span_t *proto_read(uvotel__hs_t *s, uvotel__proto_t *p, uv_stream_t *h,
                                 const char *data, size_t n) {
  (void)s;
  uvotel_span_t *current = NULL;
  if (p->ops != NULL) {
    feed(p, data, n, &current);
    return current;
  }
  char view[UVOTEL_PROTOCOL_PEEK_MAX];
  size_t take = n < sizeof view - p->npeek ? n : sizeof view - p->npeek;
  memcpy(view, p->peek, p->npeek);
  memcpy(view + p->npeek, data, take);
  size_t len = p->npeek + take;
  unsigned cats = uvotel_auto_spans_categories();
  int more = 0;
  det_t d;
  for (unsigned i = 0; i < 32 && det_at(i, &d); i++) {
    if (p->declined & (1u << i)) continue;
    if (d.ops->category != 0 && !(cats & d.ops->category)) {
      continue; /* off for now: may be asked on a later read */
    }
    int r = d.ops->detect(d.arg, view, len);
    if (r == UVOTEL_PROTOCOL_MORE && len < sizeof view) {
      more = 1;
      continue;
    }
    if (r == UVOTEL_PROTOCOL_CLAIM) {
      void *conn = d.ops->open(d.arg, h, uvotel__auto_tracer());
      if (conn != NULL) {
        p->ops = d.ops;
        p->is_http = d.ops == uvotel_protocol_http();
        p->conn = conn;
        feed(p, p->peek, p->npeek, &current);
        current = NULL;
        feed(p, data, n, &current);
        return current;
      }
    }
    p->declined |= 1u << i;
  }
  if (!more) {
    p->dead = 1; /* nobody wants it: stop looking */
    return NULL;
  }
  memcpy(p->peek, view, len);
  p->npeek = len;
  return NULL;
}

/* An outgoing connection: the first bytes written (with those of earlier writes that were
 * not enough to tell) offered to the client-side detectors (DNS over TCP). 1: claimed (the
 * earlier bytes already fed), 0: not (yet). */
static int detect_out(uvotel__hs_t *s, uvotel__proto_t *p, const uv_buf_t bufs[],
                      unsigned int nbufs) {
  char view[UVOTEL_PROTOCOL_PEEK_MAX];
  size_t len = p->npeek;
  memcpy(view, p->peek, len);
  for (unsigned i = 0; i < nbufs && len < sizeof view; i++) {
    size_t l = bufs[i].len < sizeof view - len ? bufs[i].len : sizeof view - len;
    if (l > 0) memcpy(view + len, bufs[i].base, l);
    len += l;
  }
  if (len == 0) return 0;
  const uvotel_protocol_ops_t *ops = uvotel__dns_tcp_ops(1);
  int r = (uvotel_auto_spans_categories() & ops->category) ? ops->detect(NULL, view, len)
                                                           : UVOTEL_PROTOCOL_DECLINE;
  if (r == UVOTEL_PROTOCOL_MORE && len < sizeof view) {
    memcpy(p->peek, view, len);
    p->npeek = len;
    return 0;
  }
  void *conn = r == UVOTEL_PROTOCOL_CLAIM
                   ? ops->open(NULL, (uv_stream_t *)(uintptr_t)s->key, uvotel__auto_tracer())
                   : NULL;
  if (conn == NULL) {
    p->dead = 1;
    return 0;
  }
  p->ops = ops;
  p->conn = conn;
  if (p->npeek > 0) {
    uv_buf_t early = uv_buf_init(p->peek, (unsigned int)p->npeek);
    uint64_t seq;
    uvotel_span_t *span = call_write(p, &early, 1, &seq);
    done_now(p, span, seq, 0); /* already written (their completion is past) */
  }
  return 1;
}

void uvotel__proto_connect(uvotel__hs_t *s) {
  uvotel__proto_drop(s);
  if (!(uvotel_auto_spans_categories() & UVOTEL_INSTRUMENT_DNS)) return;
  uvotel__proto_t *p = uvotel_calloc(1, sizeof *p);
  if (p == NULL) return; /* no detection on this stream; the program is unaffected */
  p->outgoing = 1;
  s->proto = p;
}

uvotel_span_t *uvotel__proto_write(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs,
                                   int err, uint64_t *seq) {
  uvotel__proto_t *p = s->proto;
  *seq = 0;
  if (p->dead || bufs == NULL || nbufs == 0) return NULL;
  if (UVOTEL__UNLIKELY(p->adopted)) adopted_writes(p);
  if (p->ops == NULL && !(p->outgoing && detect_out(s, p, bufs, nbufs))) return NULL;
  uvotel_span_t *span = call_write(p, bufs, nbufs, seq);
  if (UVOTEL__LIKELY(err == 0)) return span;
  done_now(p, span, *seq, err); /* refused at once: the write is over, with its error */
  *seq = 0;
  return NULL;
}

void uvotel__proto_written(uv_stream_t *h, uint64_t seq, int status) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  uvotel__proto_t *p = s != NULL ? s->proto : NULL;
  /* Closed since (the detector's close ended what the write carried): nothing to tell. A
   * stream's detector is only replaced by a new accept/connect/open, which libuv refuses on a
   * stream with writes pending, so seq is this detector's. */
  if (p == NULL || p->ops == NULL || seq > p->wseq || !has_written(p->ops)) return;
  p->ops->written(p->conn, seq, status);
}

void uvotel__proto_try_written(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs, int r) {
  uvotel__proto_t *p = s->proto;
  uint64_t seq;
  if (r < 0) { /* refused: the detector sees the bytes that were not sent, with the error */
    if (r != UV_EAGAIN && bufs != NULL) (void)uvotel__proto_write(s, bufs, nbufs, r, &seq);
    return;
  }
  if (UVOTEL__UNLIKELY(p->adopted) && r > 0) adopted_writes(p);
  if ((p->ops == NULL && !p->outgoing) || p->dead || bufs == NULL) return;
  uv_buf_t part[16];
  int k = uvotel__buf_prefix(bufs, nbufs, (size_t)r, part, 16);
  if (k < 0) {
    p->dead = 1; /* more pieces than we follow: the response parser would lose its place */
    return;
  }
  if (k == 0) return;
  uvotel_span_t *span = uvotel__proto_write(s, part, (unsigned int)k, 0, &seq);
  done_now(p, span, seq, 0);
}

void uvotel__proto_drop(uvotel__hs_t *s) {
  uvotel__dns_drop(s);
  if (UVOTEL__UNLIKELY(s->hc != NULL)) uvotel__httpc_drop(s);
  if (s->writes != NULL) uvotel__writes_release(s);
  uvotel__proto_t *p = s->proto;
  if (UVOTEL__LIKELY(p == NULL)) return;
  s->proto = NULL;
  if (p->ops != NULL) p->ops->close(p->conn);
  uvotel_span_release(p->accept_parent);
  uvotel_free(p);
}
