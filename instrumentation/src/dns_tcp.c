/* DNS over TCP (uvotel/uv_dns.h; RFC 1035 4.2.2, RFC 7766): the built-in detectors of the
 * protocol seam (protocols.c) for accepted connections (queries read, responses written: a
 * SERVER span per query) and outgoing ones (queries written, responses read: a CLIENT span
 * per query). The 2-byte length framing and the messages are parsed by dns_wire.c over the
 * copies the seam hands over; the program's bytes are never touched. */
#include <string.h>
#include <time.h>

#include "dns_span.h"
#include "uvotel/uv_dns.h"
#include "uvotel/uv_spans.h"

/* A server's answered queries whose response is in a write that has not completed yet. */
#define AWAIT_MAX 64
typedef struct await_s {
  uint64_t seq; /* the write (numbered as the seam's written op numbers them) */
  uvotel_span_t *span;
} await_t;

typedef struct tconn_s {
  int client; /* an outgoing connection */
  int dead;
  uvotel_tracer_t *tracer;
  uvotel__dns_framer_t rf, wf; /* what the program reads, what it writes */
  uvotel__dns_pending_t pend;  /* queries awaiting their response (span: uvotel_span_t *) */
  uint64_t read_ns;            /* when the current read arrived */
  uint64_t msg_ns;             /* when the message being read began */
  int began;                   /* server: queries completed by the current read */
  uvotel_span_t *last_began;
  uint64_t wseq;         /* calls of write so far: the number of the current / last write */
  await_t aw[AWAIT_MAX]; /* server: oldest first */
  unsigned naw;
  struct sockaddr_storage peer, local;
  int has_peer, has_local;
} tconn_t;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- detection: a length prefix and the start of a standard query ---- */

static int tcp_detect(void *arg, const char *data, size_t len) {
  (void)arg;
  int r = uvotel__dns_tcp_detect((const uint8_t *)data, len, UVOTEL_PROTOCOL_PEEK_MAX);
  return r > 0 ? UVOTEL_PROTOCOL_CLAIM : r < 0 ? UVOTEL_PROTOCOL_MORE : UVOTEL_PROTOCOL_DECLINE;
}

/* ---- the connection ---- */

static void *tcp_open(int client, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  if (stream == NULL || stream->type != UV_TCP) return NULL;
  tconn_t *c = uvotel_calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->client = client;
  c->tracer = tracer;
  int len = sizeof c->peer;
  c->has_peer = uv_tcp_getpeername((uv_tcp_t *)stream, (struct sockaddr *)&c->peer, &len) == 0;
  len = sizeof c->local;
  c->has_local = uv_tcp_getsockname((uv_tcp_t *)stream, (struct sockaddr *)&c->local, &len) == 0;
  return c;
}

static void *server_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  return tcp_open(0, stream, tracer);
}

static void *client_open(void *arg, uv_stream_t *stream, uvotel_tracer_t *tracer) {
  (void)arg;
  return tcp_open(1, stream, tracer);
}

static void give_up(tconn_t *c) {
  if (!c->dead) uvotel__dns_count_tcp_given_up();
  c->dead = 1;
}

/* A query read by a server: its SERVER span. */
static void server_query(void *arg, const uint8_t *head, size_t nhead, size_t msglen) {
  (void)msglen;
  tconn_t *c = arg;
  uint64_t began_ns = c->msg_ns;
  c->msg_ns = c->read_ns; /* the next message begins in this read */
  if (c->dead) return;
  uvotel__dns_msg_t m;
  if (uvotel__dns_parse(head, nhead, &m) != 0) {
    give_up(c);
    return;
  }
  if (!uvotel__dns_is_query(&m, head, nhead)) return; /* a notify, an update, ...: no span */
  int dup;
  void *evicted;
  uvotel__dns_pend_t *q = uvotel__dns_pending_add(&c->pend, &m, NULL, &dup, &evicted);
  if (dup) return;
  if (evicted != NULL) {
    uvotel__dns_server_unanswered(evicted);
    uvotel__dns_count_server_evicted();
  }
  char name[64];
  uvotel__dns_span_name(name, sizeof name, m.qtype);
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  o.start_unix_ns = began_ns;
  uvotel_span_t *span = uvotel_span_start(c->tracer, name, &o);
  uvotel__dns_span_attrs(span, m.name, "tcp",
                         c->has_peer ? (const struct sockaddr *)&c->peer : NULL,
                         c->has_local ? (const struct sockaddr *)&c->local : NULL);
  q->span = span;
  c->began++;
  c->last_began = span;
}

/* A response: the pending query it answers, taken out of the table into *q (1), or 0. */
static int take_answered(tconn_t *c, const uint8_t *head, size_t nhead, uvotel__dns_pend_t *q,
                         int *rcode) {
  if (c->dead) return 0;
  uvotel__dns_msg_t m;
  int question_ok = uvotel__dns_parse_response(head, nhead, &m);
  if (question_ok < 0 || !uvotel__dns_pending_match(&c->pend, &m, question_ok, NULL, q)) return 0;
  *rcode = m.rcode;
  return 1;
}

/* A response a server writes: the query it answers ends when the write carrying the
 * response's last byte (this one) completes (tcp_written), with its error if it fails. */
static void server_answer(void *arg, const uint8_t *head, size_t nhead, size_t msglen) {
  (void)msglen;
  tconn_t *c = arg;
  uvotel__dns_pend_t q;
  int rcode;
  if (!take_answered(c, head, nhead, &q, &rcode)) return;
  uvotel__dns_set_rcode(q.span, rcode);
  if (c->naw == AWAIT_MAX) {
    /* That many responses in writes still in flight: the oldest ends now, before its write
     * completes (its status cannot be known any more). */
    uvotel_span_end(c->aw[0].span);
    memmove(c->aw, c->aw + 1, (AWAIT_MAX - 1) * sizeof c->aw[0]);
    c->naw--;
  }
  c->aw[c->naw].seq = c->wseq;
  c->aw[c->naw].span = q.span;
  c->naw++;
}

/* A query a client writes: its CLIENT span (under the span current at the write). */
static void client_query(void *arg, const uint8_t *head, size_t nhead, size_t msglen) {
  (void)msglen;
  tconn_t *c = arg;
  if (c->dead) return;
  uvotel__dns_msg_t m;
  if (uvotel__dns_parse(head, nhead, &m) != 0) {
    give_up(c);
    return;
  }
  if (!uvotel__dns_is_query(&m, head, nhead)) return;
  int dup;
  void *evicted;
  uvotel__dns_pend_t *q = uvotel__dns_pending_add(&c->pend, &m, NULL, &dup, &evicted);
  if (dup) {
    q->req = (const void *)(uintptr_t)c->wseq; /* sent again: this write carries it now */
    return;
  }
  uvotel__dns_client_added(evicted);
  q->span = uvotel__dns_client_span(&m, "tcp", c->has_peer ? (struct sockaddr *)&c->peer : NULL);
  q->req = (const void *)(uintptr_t)c->wseq; /* the write carrying it: a failure ends it */
  if (q->span == NULL) {
    memset(q, 0, sizeof *q);
    c->pend.n--;
  }
}

/* A response a client reads: the query it answers ends. */
static void client_answer(void *arg, const uint8_t *head, size_t nhead, size_t msglen) {
  (void)msglen;
  uvotel__dns_pend_t q;
  int rcode;
  if (take_answered(arg, head, nhead, &q, &rcode)) uvotel__dns_client_answered(&q, rcode);
}

static int tcp_read(void *conn, const char *data, size_t len, uvotel_span_t **current) {
  tconn_t *c = conn;
  if (c->dead) return -1;
  c->read_ns = now_ns();
  if (uvotel__dns_frame_idle(&c->rf)) c->msg_ns = c->read_ns;
  c->began = 0;
  c->last_began = NULL;
  int r = uvotel__dns_frame_feed(&c->rf, (const uint8_t *)data, len,
                                 c->client ? client_answer : server_query, c);
  if (r < 0) give_up(c);
  if (c->dead) return -1;
  if (!c->client && c->began == 1) *current = c->last_began; /* one query: unambiguous */
  return 0;
}

/* The spans a write carries end in tcp_written, so this returns none. */
static uvotel_span_t *tcp_write(void *conn, const uv_buf_t bufs[], unsigned int nbufs) {
  tconn_t *c = conn;
  c->wseq++; /* every call is numbered, also after a give-up */
  for (unsigned i = 0; i < nbufs && !c->dead; i++) {
    if (bufs[i].len == 0) continue;
    if (uvotel__dns_frame_feed(&c->wf, (const uint8_t *)bufs[i].base, bufs[i].len,
                               c->client ? client_query : server_answer, c) < 0) {
      give_up(c);
    }
  }
  return NULL;
}

/* Write seq completed: a server's responses in it end (ERROR with the error when it failed);
 * a client's queries in a failed write end with the error (they never reached the server). */
static void tcp_written(void *conn, uint64_t seq, int status) {
  tconn_t *c = conn;
  if (c->client) {
    uvotel__dns_pend_t q;
    while (status < 0 && uvotel__dns_pending_take_req(&c->pend, (const void *)(uintptr_t)seq, &q)) {
      uvotel__dns_client_failed(&q, status);
    }
    return;
  }
  unsigned keep = 0;
  for (unsigned i = 0; i < c->naw; i++) {
    if (c->aw[i].seq != seq) {
      c->aw[keep++] = c->aw[i];
      continue;
    }
    if (status < 0) uvotel__dns_set_error(c->aw[i].span, status);
    uvotel_span_end(c->aw[i].span);
  }
  c->naw = keep;
}

static void tcp_close(void *conn) {
  tconn_t *c = conn;
  /* Responses whose write had not completed when the stream closed end now: libuv had the
   * bytes (a close right after the write is the usual way to end a connection). */
  for (unsigned i = 0; i < c->naw; i++) uvotel_span_end(c->aw[i].span);
  if (c->client) {
    uvotel__dns_client_drain(&c->pend);
  } else {
    for (unsigned i = 0; i < UVOTEL__DNS_PENDING; i++) {
      if (c->pend.q[i].span != NULL) uvotel__dns_server_unanswered(c->pend.q[i].span);
    }
  }
  uvotel_free(c);
}

static const uvotel_protocol_ops_t k_server = {.size = sizeof(uvotel_protocol_ops_t),
                                               .name = "dns-tcp",
                                               .category = UVOTEL_INSTRUMENT_DNS,
                                               .detect = tcp_detect,
                                               .open = server_open,
                                               .read = tcp_read,
                                               .write = tcp_write,
                                               .close = tcp_close,
                                               .written = tcp_written};

static const uvotel_protocol_ops_t k_client = {.size = sizeof(uvotel_protocol_ops_t),
                                               .name = "dns-tcp-client",
                                               .category = UVOTEL_INSTRUMENT_DNS,
                                               .detect = tcp_detect,
                                               .open = client_open,
                                               .read = tcp_read,
                                               .write = tcp_write,
                                               .close = tcp_close,
                                               .written = tcp_written};

const uvotel_protocol_ops_t *uvotel__dns_tcp_ops(int client) {
  return client ? &k_client : &k_server;
}
