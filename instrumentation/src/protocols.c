/* The protocol detector seam (uvotel/uv_protocols.h): which detector owns an accepted stream,
 * and the calls from the stream wrappers into it. */
#include <pthread.h>
#include <string.h>

#include "http_internal.h"
#include "internal.h"
#include "uvotel/uv_protocols.h"
#include "uvotel/uv_spans.h"

#define MAX_USER 8
#define N_BUILTIN 1
#define OPS_V1_SIZE (offsetof(uvotel_protocol_ops_t, close) + sizeof(void (*)(void *)))

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
    out->ops = uvotel_protocol_http();
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
  if (!(uvotel_auto_spans_categories() & UVOTEL_INSTRUMENT_HTTP) &&
      __atomic_load_n(&g_nuser, __ATOMIC_ACQUIRE) == 0) {
    return; /* no detector could run: nothing to look at */
  }
  uvotel__proto_t *p = uvotel_calloc(1, sizeof *p);
  if (p == NULL) return; /* no detection on this stream; the program is unaffected */
  s->proto = p;
}

static void feed(uvotel__proto_t *p, const char *data, size_t n, uvotel_span_t **current) {
  if (n == 0 || p->dead) return;
  if (p->ops->read(p->conn, data, n, current) < 0) p->dead = 1;
}

uvotel_span_t *uvotel__proto_read(uvotel__hs_t *s, uv_stream_t *h, const char *data, size_t n) {
  uvotel__proto_t *p = s->proto;
  uvotel_span_t *current = NULL;
  if (p->dead || n == 0 || data == NULL) return NULL;
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

const uvotel_baggage_t *uvotel__proto_read_baggage(uvotel__hs_t *s) {
  uvotel__proto_t *p = s->proto;
  if (p->ops != uvotel_protocol_http() || p->dead) return NULL;
  return uvotel__http_read_baggage(p->conn);
}

uvotel_span_t *uvotel__proto_write(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs) {
  uvotel__proto_t *p = s->proto;
  if (p->ops == NULL || p->dead || bufs == NULL || nbufs == 0) return NULL;
  return p->ops->write(p->conn, bufs, nbufs);
}

void uvotel__proto_try_written(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs,
                               size_t written) {
  uvotel__proto_t *p = s->proto;
  if (p->ops == NULL || p->dead || bufs == NULL) return;
  uv_buf_t part[16];
  int k = uvotel__buf_prefix(bufs, nbufs, written, part, 16);
  if (k < 0) {
    p->dead = 1; /* more pieces than we follow: the response parser would lose its place */
    return;
  }
  if (k == 0) return;
  uvotel_span_t *span = p->ops->write(p->conn, part, (unsigned int)k);
  if (span != NULL) uvotel_span_end(span);
}

void uvotel__proto_drop(uvotel__hs_t *s) {
  uvotel__dns_drop(s);
  if (UVOTEL__UNLIKELY(s->hc != NULL || s->wbuf != NULL)) uvotel__httpc_drop(s);
  uvotel__proto_t *p = s->proto;
  if (UVOTEL__LIKELY(p == NULL)) return;
  s->proto = NULL;
  if (p->ops != NULL) p->ops->close(p->conn);
  uvotel_free(p);
}
