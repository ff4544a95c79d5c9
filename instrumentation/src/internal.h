/* Private declarations of libuvotel_uv. */
#ifndef UVOTEL_UV_INTERNAL_H
#define UVOTEL_UV_INTERNAL_H

#include <stdint.h>

#include "uvotel.h"
#include "uvotel/uv.h"

#define UVOTEL__API __attribute__((visibility("default")))
#define UVOTEL__TLS __thread __attribute__((tls_model("initial-exec")))
#define UVOTEL__LIKELY(x) __builtin_expect(!!(x), 1)
#define UVOTEL__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* ---- thread-pool work (work.c): no side-table entry per request ----
 * Each uvotel_queue_work takes a block from its loop's free list (uvotel__wq_t, kept beside the
 * loop's side table). libuv queues the block's `inner` request; the trampolines find the block
 * from it with container_of, and uvotel_cancel and the re-queue check find it from the user's
 * request through a tagged pointer in its libuv work record, `work_req` (work.c). */

/* The context work_cb runs in, shared by the requests submitted in the same mapping. */
typedef struct uvotel__wctx_s {
  uvotel_snapshot_t *src;  /* counted: the submitter's mapping this entry stands for */
  uvotel_snapshot_t *copy; /* counted private copy for the pool threads, made at the 2nd use */
  size_t users;            /* blocks in flight that point here */
  struct uvotel__wctx_s *next_free;
} uvotel__wctx_t;

typedef struct uvotel__wq_s uvotel__wq_t;

typedef struct uvotel__wblk_s {
  uv_work_t inner; /* what libuv queues; the user's request only mirrors it */
  /* written before the submission, read by the pool thread (libuv's queue mutex orders them) */
  uv_work_t *req; /* the user's request */
  uv_work_cb work_cb;
  uvotel_snapshot_t *snap; /* what work_cb runs in, borrowed from ctx */
  /* loop thread only */
  uv_after_work_cb after_cb; /* may be NULL */
  uvotel__wctx_t *ctx;
  uvotel__wq_t *wq;
  uvotel_resource_t res;
  struct uvotel__wblk_s *next_free;
} uvotel__wblk_t;

/* Per loop, loop thread only (but `live`, read relaxed by uvotel_uv_tracked). */
struct uvotel__wq_s {
  uint64_t secret; /* random per loop attachment: the tag of the pointer in a user's request */
  uvotel__wblk_t *free;
  size_t free_n;
  size_t live;         /* blocks in flight */
  uvotel__wctx_t *cur; /* the entry of the last submission's context, or NULL */
  uvotel__wctx_t *ctx_free;
  size_t ctx_free_n;
};

/* Detach: free what the work state holds (table.c calls it). */
void uvotel__wq_free(uvotel__wq_t *wq);

typedef struct uvotel__ltab_s uvotel__ltab_t;
typedef struct uvotel__proto_s uvotel__proto_t; /* protocols.c */
typedef struct uvotel__dnsq_s uvotel__dnsq_t;   /* dns_server.c */
typedef struct uvotel__hc_s uvotel__hc_t;       /* http_client.c */

/* State of one wrapped handle or request, kept in its loop's side table under the handle's or
 * request's address. `res` is the resource currently live on it (async id 0: none). States live
 * inline in the table (table.c) and never move while they are in it: a pointer to one stays
 * valid until uvotel__hs_remove, across any insert or removal of other states. The key and the
 * fields up to `cb` share the state's first cache line (a lookup touches that line only). */
typedef struct uvotel__hs_s {
  const void *key;        /* NULL: a free cell of the table */
  uint32_t passed_;       /* table.c: live states whose probe passed this cell */
  unsigned char is_async; /* an async handle: u.async is in use */
  uvotel_resource_t res;
  void (*cb)(void);     /* the user's callback (read, connection, request callback, work_cb),
                           cast back by the kind's trampoline */
  uv_close_cb close_cb; /* set by uvotel_close */
  uvotel_snapshot_t *close_ctx;
  uvotel_span_t *span;    /* automatic span of the request / accepted connection (auto_spans.c) */
  uvotel__proto_t *proto; /* an accepted stream offered to the protocol detectors, or NULL */
  uvotel__dnsq_t *dns;    /* a UDP socket's DNS queries awaiting their response, or NULL */
  uvotel__hc_t *hc;       /* a connected stream's HTTP/1.x client side (http_client.c), or NULL */
  char *wbuf;             /* a write request's inserted header bytes, freed when it completes */
  union {
    struct {
      void *slot; /* the handle's slot in the process-wide send registry (async.c), or NULL */
    } async;
    struct {
      int adopted; /* uvotel_poll_adopt fixed the context: starts do not re-capture (poll.c) */
    } poll;
    struct {
      uint64_t seq; /* a write request: its number for the stream's detector's written op, or
                       0 (protocols.c; set by every wrapped write) */
    } write;
  } u;
} uvotel__hs_t;

/* ---- the side table (table.c): one per loop ----
 * Every function takes the loop the handle or request belongs to (handle->loop, req->loop, or
 * the stream's loop for write/shutdown/connect requests) and works from any thread that runs
 * that loop (a loop set up on one thread and run on another), O(1), no allocation in steady
 * state. A thread caches the last loop it looked up (uvotel__cur_*), so the hot path is one
 * compare. States themselves are touched only by the thread running the loop. */

/* The loop's table, NULL when nothing on the loop was ever tracked. Also makes the loop the
 * calling thread's destroy-delivery loop when the thread turns to it. */
uvotel__ltab_t *uvotel__ltab_slow(const uv_loop_t *loop);
extern UVOTEL__TLS const uv_loop_t *uvotel__cur_loop;
extern UVOTEL__TLS uvotel__ltab_t *uvotel__cur_tab;
extern UVOTEL__TLS uint64_t uvotel__cur_epoch;
static inline uvotel__ltab_t *uvotel__ltab(const uv_loop_t *loop) {
  if (UVOTEL__LIKELY(loop == uvotel__cur_loop &&
                     uvotel__cur_epoch == __atomic_load_n(&uvotel__loop_epoch, __ATOMIC_RELAXED))) {
    return uvotel__cur_tab;
  }
  return uvotel__ltab_slow(loop);
}

/* The work state of loop (work.c), made (with its side table, attaching the loop) when it has
 * none; NULL: out of memory. A table starts with its work state (table.c asserts it), so the
 * common case is the inline table lookup and a cast. */
uvotel__wq_t *uvotel__wq_make_slow(uv_loop_t *loop);
static inline uvotel__wq_t *uvotel__wq_make(uv_loop_t *loop) {
  uvotel__ltab_t *t = uvotel__ltab(loop);
  return UVOTEL__LIKELY(t != NULL) ? (uvotel__wq_t *)(void *)t : uvotel__wq_make_slow(loop);
}
/* The work state of loop, NULL when nothing on it was ever tracked. */
static inline uvotel__wq_t *uvotel__wq_get(const uv_loop_t *loop) {
  return (uvotel__wq_t *)(void *)uvotel__ltab(loop);
}

/* ---- file system requests (fs.c): no side-table entry per request ----
 * An asynchronous uv_fs_* call (other than the utime family, which keeps a side-table state)
 * takes a block from its loop's free list; the request's private `atime` and `mtime` words, which
 * libuv on Unix reads and writes only for uv_fs_utime/futime/lutime, hold the block's address and
 * a tag (address ^ request address ^ the table's secret) while it is in flight, and get their own
 * bytes back (kept in the block) before the callback runs (fs.c). */
typedef struct uvotel__fblk_s {
  uvotel_resource_t res;
  void (*cb)(void);      /* the user's callback; NULL: the block is free */
  uvotel_span_t *span;   /* the automatic fs span, or NULL */
  uint64_t atime, mtime; /* the request's own bytes of those fields */
  struct uvotel__fblk_s *next_free;
  struct uvotel__fblk_s *all_next, **all_pprev; /* every block of the loop, free or not */
} uvotel__fblk_t;

/* Per loop, loop thread only (but `live`, read relaxed by uvotel_uv_tracked). */
typedef struct uvotel__fsq_s {
  uvotel__fblk_t *free;
  size_t free_n;
  uvotel__fblk_t *all;
  size_t live; /* blocks in flight */
} uvotel__fsq_t;

/* Detach: end the resources and spans of blocks still in flight, free every block (table.c
 * calls it). */
void uvotel__fsq_free(uvotel__fsq_t *q);

/* The head of a side table (table.c asserts the layout): the work state, then the state looked
 * up last (NULL: none; cleared when that state is removed), then the fs blocks. */
typedef struct uvotel__ltab_head_s {
  uvotel__wq_t wq;
  uvotel__hs_t *last;
  uvotel__fsq_t fsq;
} uvotel__ltab_head_t;

/* The table of loop, made (and the loop attached) when it has none; NULL: out of memory. */
uvotel__ltab_t *uvotel__ltab_make(uv_loop_t *loop);

/* Lookup in t (table.c) past the last-looked-up check uvotel__hs_get makes; NULL when the key
 * has no state there. */
uvotel__hs_t *uvotel__hs_find(uvotel__ltab_t *t, const void *key);

/* Lookup; NULL when the key has no state on that loop. Alloc: none. Inline for the case every
 * trampoline of a handle that fires over and over meets: the key is the one looked up last on
 * the thread's current loop (two compares, no call). */
static inline uvotel__hs_t *uvotel__hs_get(const uv_loop_t *loop, const void *key) {
  uvotel__ltab_t *t = uvotel__ltab(loop);
  if (UVOTEL__UNLIKELY(t == NULL)) return NULL;
  uvotel__hs_t *last = ((const uvotel__ltab_head_t *)(const void *)t)->last;
  if (UVOTEL__LIKELY(last != NULL && last->key == key)) return last;
  return uvotel__hs_find(t, key);
}
/* Lookup or insert a state (*is_new set) with every field before the union `u` zeroed (the
 * union is left as the table's cell had it), attaching the loop first when needed; NULL when
 * out of memory. The state stays at its address until uvotel__hs_remove. */
uvotel__hs_t *uvotel__hs_add(uv_loop_t *loop, const void *key, int *is_new);
/* Remove and free (its cell in the table). The state must have no live resource; the pointer is
 * invalid afterwards (an ASan build poisons the cell). */
void uvotel__hs_remove(uvotel__hs_t *s);

/* A trampoline found no state for its handle or request. Since state belongs to the loop it
 * is found from every thread; what is left is a program that closed a wrapped handle with raw
 * uv_close and reused its memory: uvotel does not know the callback to run. Counted and said
 * at the default log level (uvotel_diag, error), never silent. */
void uvotel__no_state(const char *kind);

/* The loop of a handle, of a request bound to a stream, of any request uvotel tracks. */
#define UVOTEL__HLOOP(h) (((const uv_handle_t *)(h))->loop)

static inline int uvotel__res_live(const uvotel__hs_t *s) {
  return uvotel_resource_async_id(&s->res) != 0;
}

/* Destroy the live resource, if any, and forget it. */
static inline void uvotel__res_end(uvotel__hs_t *s) {
  if (uvotel__res_live(s)) {
    (void)uvotel_resource_emit_destroy(&s->res);
    s->res = (uvotel_resource_t){0};
  }
}

/* Attach the loop and find or make the state of key. NULL: out of memory. */
static inline uvotel__hs_t *uvotel__track(uv_loop_t *loop, const void *key, int *is_new) {
  return uvotel__hs_add(loop, key, is_new);
}

/* A handle and a request bound to it (connect, send): track both, or neither (0 / -1). */
typedef struct uvotel__pair_s {
  uvotel__hs_t *hs, *rs;
  int h_new, r_new;
} uvotel__pair_t;
static inline int uvotel__track_pair(uv_loop_t *loop, const void *h, const void *req,
                                     uvotel__pair_t *p) {
  p->hs = uvotel__track(loop, h, &p->h_new);
  if (p->hs == NULL) return -1;
  p->rs = uvotel__hs_add(loop, req, &p->r_new);
  if (p->rs != NULL) return 0;
  if (p->h_new) uvotel__hs_remove(p->hs);
  return -1;
}
/* The libuv call failed: forget what uvotel__track_pair made. */
static inline void uvotel__untrack_pair(uvotel__pair_t *p) {
  if (p->r_new) uvotel__hs_remove(p->rs);
  if (p->h_new) uvotel__hs_remove(p->hs);
}

/* Finish a request wrapper: when the libuv call failed (err != 0), forget a state made for it
 * and return err (nothing was raised); else remember cb and begin the request's resource. */
static inline int uvotel__req_begin(uvotel__hs_t *s, int is_new, int err, void *req,
                                    void (*cb)(void), const char *type, uvotel_async_id_t trigger) {
  if (UVOTEL__UNLIKELY(err != 0)) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  uvotel__res_end(s); /* a stale resource of a request reused without completing: end it */
  s->cb = cb;
  (void)uvotel_resource_init_owner(&s->res, type, trigger, UVOTEL_RESOURCE_MANUAL_DESTROY, req);
  return 0;
}

/* Complete a request: take its resource, callback and automatic span (NULL: none) out of the
 * state and free the state (so the callback may reuse the request). Returns 0, or -1 when the
 * request is not tracked. The caller runs the callback inside *res and then destroys it. */
static inline int uvotel__req_take(const uv_loop_t *loop, const void *req, uvotel_resource_t *res,
                                   void (**cb)(void), uvotel_span_t **span) {
  uvotel__hs_t *s = uvotel__hs_get(loop, req);
  if (UVOTEL__UNLIKELY(s == NULL)) return -1;
  *span = s->span;
  s->span = NULL;
  *cb = s->cb;
  *res = s->res;
  s->res = (uvotel_resource_t){0};
  uvotel__hs_remove(s);
  return 0;
}

/* ---- automatic spans (auto_spans.c, uvotel/uv_spans.h) ----
 * uvotel__auto_cats holds the enabled UVOTEL_INSTRUMENT_* bits; a wrapper tests its bit (one
 * relaxed load and a branch) before calling the out-of-line begin. */
extern unsigned uvotel__auto_cats;
#define UVOTEL__AUTO_FS 0x1u
#define UVOTEL__AUTO_DNS 0x2u
#define UVOTEL__AUTO_NET 0x4u
#define UVOTEL__AUTO_UDP 0x8u
#define UVOTEL__AUTO_PIPE 0x10u
#define UVOTEL__AUTO_PROCESS 0x20u
#define UVOTEL__AUTO_HTTP 0x40u
static inline int uvotel__auto_on(unsigned cat) {
  return UVOTEL__UNLIKELY((__atomic_load_n(&uvotel__auto_cats, __ATOMIC_RELAXED) & cat) != 0);
}
void uvotel__auto_fs_begin(uvotel__hs_t *s, const uv_fs_t *req);
/* The automatic span of an fs request libuv took (NULL: none), for the request's block. */
uvotel_span_t *uvotel__auto_fs_start(const uv_fs_t *req);
void uvotel__auto_fs_end(uvotel_span_t *span, const uv_fs_t *req);
void uvotel__auto_lookup_begin(uvotel__hs_t *s, const char *node);
void uvotel__auto_lookup_end(uvotel_span_t *span, int status, const struct addrinfo *res);
void uvotel__auto_reverse_begin(uvotel__hs_t *s, const struct sockaddr *addr);
void uvotel__auto_reverse_end(uvotel_span_t *span, int status, const char *hostname);
void uvotel__auto_connect_begin(uvotel__hs_t *s, const struct sockaddr *addr);
void uvotel__auto_status_end(uvotel_span_t *span, int status);
/* uvotel_accept: ask on_accept for a SERVER span and keep it on the client's state. */
void uvotel__auto_accept(uvotel__hs_t *client_state, uv_stream_t *server, uv_stream_t *client);
/* The connection trampoline: count / close the scopes uvotel__auto_accept entered. */
extern UVOTEL__TLS int uvotel__auto_in_conn_cb;
void uvotel__auto_conn_cb_done(void);
/* udp.c, pipe.c, process.c (auto_spans.c). */
void uvotel__auto_udp_send_begin(uvotel__hs_t *s, uv_udp_t *h, const struct sockaddr *addr);
void uvotel__auto_pipe_connect_begin(uvotel__hs_t *s, const char *path);
void uvotel__auto_process_begin(uvotel__hs_t *s, const uv_process_options_t *o);
void uvotel__auto_process_pid(uvotel_span_t *span, int pid);
void uvotel__auto_process_end(uvotel_span_t *span, int64_t exit_status, int term_signal);
/* uvotel_close and stale-state cleanup: end the state's span. An accepted stream's accept span
 * is discarded instead (never exported) when a detector followed the stream to the end
 * (uvotel__proto_followed) and no span was started with it as parent. */
void uvotel__auto_drop(uvotel__hs_t *s);
/* The automatic spans' tracer (NULL before the first enable). */
uvotel_tracer_t *uvotel__auto_tracer(void);
/* 1 when UVOTEL_AUTO_SPANS_ROOTS is set (spans without a current span too). */
int uvotel__auto_roots(void);

/* ---- protocol detectors (protocols.c, uvotel/uv_protocols.h) ----
 * uvotel_accept offers the client to the detectors (s->proto); the stream wrappers pass what
 * the program reads and writes on it. All on the loop thread, and only when s->proto != NULL. */
void uvotel__proto_accept(uvotel__hs_t *s);
/* uvotel_tcp_open / uvotel_pipe_open on a connected socket: tracked, then followed as an
 * accepted stream (server-side detectors on what it reads) and as a connected one (the HTTP
 * client side, DNS over TCP on what it writes) until its first read or write picks one. */
void uvotel__proto_adopt(uv_stream_t *h);
/* 1 when an accepted stream's detector claimed it and still follows it (it did not give up). */
int uvotel__proto_followed(const uvotel__hs_t *s);
/* Bytes handed to the read callback; returns the span to make current around it, or NULL.
 * While the stream's accept span (s->span) is the current span, the detector runs with the
 * span that was current at the accept (the accept span's parent) as current instead, so the
 * spans it starts are the accept span's siblings, not its children. */
uvotel_span_t *uvotel__proto_read(uvotel__hs_t *s, uv_stream_t *h, const char *data, size_t n);
/* After uvotel__proto_read returned a span: the request's extracted baggage to make current
 * with it (borrowed), or NULL. */
const uvotel_baggage_t *uvotel__proto_read_baggage(uvotel__hs_t *s);
/* Bytes of a uv_write that libuv took (err 0) or refused at once (err < 0). Returns the span to
 * end when that write completes (owned), or NULL, and in *seq the number to pass
 * uvotel__proto_written then (0: nothing to pass). A refused write is over here: its span ended
 * and the detector told, with err (returns NULL, *seq 0). */
uvotel_span_t *uvotel__proto_write(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs,
                                   int err, uint64_t *seq);
/* The write numbered seq (uvotel__proto_write) on stream h completed with status. */
void uvotel__proto_written(uv_stream_t *h, uint64_t seq, int status);
/* uv_try_write returned r: r > 0, its first r bytes of bufs went out; r < 0 other than
 * UV_EAGAIN, it refused them all. */
void uvotel__proto_try_written(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs, int r);
/* Close: the detector ends its spans and forgets the stream (and a UDP socket's DNS queries). */
void uvotel__proto_drop(uvotel__hs_t *s);
/* DNS over UDP, server side (dns_server.c; category dns). A received query: its SERVER span,
 * to make current around the receive callback (kept on s->dns), or NULL. */
uvotel_span_t *uvotel__dns_recv(uvotel__hs_t *s, uv_udp_t *h, const char *data, size_t n,
                                const struct sockaddr *addr);
/* A datagram sent: the span of the query it answers (owned: end it when the send completes). */
uvotel_span_t *uvotel__dns_send(uvotel__hs_t *s, const uv_buf_t bufs[], unsigned int nbufs,
                                const struct sockaddr *addr);
void uvotel__dns_drop(uvotel__hs_t *s);
/* DNS clients (dns_client.c; category dns): a datagram the program sent on h (s: its state, or
 * NULL when it has none yet) with send request req (NULL: try_send) to addr (NULL: the
 * connected peer); a query starts a CLIENT span, kept on s->dns until its response is received
 * (uvotel__dns_recv), its send fails, or the socket closes. */
void uvotel__dns_client_sent(uvotel__hs_t *s, uv_udp_t *h, const void *req, const uv_buf_t bufs[],
                             unsigned int nbufs, const struct sockaddr *addr);
/* A receive error on the socket (a connected socket's ECONNREFUSED): the queries sent to its
 * peer end with that error. */
void uvotel__dns_client_recv_error(uvotel__hs_t *s, int err);
/* The send with request req failed: a query it carried ends with the error. */
void uvotel__dns_client_send_failed(uv_udp_t *h, const void *req, int status);
/* A response's query span q whose send req also has its own span (the "udp send" span of the
 * udp category): kept on s until uvotel__dns_send_done, so a failed send marks it too. */
void uvotel__dns_send_hold(uvotel__hs_t *s, uvotel_span_t *q, const void *req);
/* The send request req on h completed: the query span held for it ends, with error.type and
 * status ERROR when status < 0. uvotel__dns_held counts the spans held (on sockets, or left by
 * a close), so a completion with nothing held anywhere skips the lookup. */
void uvotel__dns_send_done(uv_udp_t *h, const void *req, int status);
extern int uvotel__dns_held;
/* A send on h (s: its state, or NULL) failed before libuv took it (uv_udp_send returned err, or
 * uv_udp_try_send did with other than UV_EAGAIN): the SERVER span of a response it carried
 * ends with the error (returns 1); a query it carried gets a CLIENT span ended with it (0). */
int uvotel__dns_send_failed(uvotel__hs_t *s, uv_udp_t *h, const uv_buf_t bufs[], unsigned int nbufs,
                            const struct sockaddr *addr, int err);
/* A CLIENT span under the current span, or a root when roots are on; NULL: none (auto_spans.c). */
uvotel_span_t *uvotel__auto_start_client(const char *name);
/* Outgoing connections (uvotel_tcp_connect) are offered to the client-side detectors by what
 * the program writes first (protocols.c; today DNS over TCP, dns_tcp.c). */
void uvotel__proto_connect(uvotel__hs_t *s);

/* HTTP/1.x client side (http_client.c, glue in stream.c; category http). uvotel_tcp_connect and
 * uvotel_pipe_connect give the connecting stream its state (s->hc); the write and read wrappers
 * pass it what the program writes and reads; uvotel__proto_drop frees it (and a write
 * request's inserted bytes, s->wbuf). */
void uvotel__httpc_connect(uvotel__hs_t *s, uv_stream_t *h);
void uvotel__httpc_drop(uvotel__hs_t *s);

/* The first `written` bytes of bufs[0 .. nbufs) as at most cap pieces in part; returns how
 * many, or -1 when they take more than cap pieces. */
static inline int uvotel__buf_prefix(const uv_buf_t bufs[], unsigned int nbufs, size_t written,
                                     uv_buf_t *part, unsigned cap) {
  unsigned k = 0;
  for (unsigned i = 0; i < nbufs && written > 0; i++) {
    if (k == cap) return -1;
    size_t l = bufs[i].len < written ? bufs[i].len : written;
    part[k++] = uv_buf_init(bufs[i].base, (unsigned int)l);
    written -= l;
  }
  return (int)k;
}

/* The async id of a tracked handle's live resource, or 0. */
static inline uvotel_async_id_t uvotel__handle_id(const void *h) {
  uvotel__hs_t *s = uvotel__hs_get(UVOTEL__HLOOP(h), h);
  return s != NULL ? uvotel_resource_async_id(&s->res) : 0;
}

/* Begin a stream handle's resource (TCPWRAP, PIPEWRAP, TTYWRAP) if it has none live
 * (stream.c). trigger 0: the current execution id. */
void uvotel__stream_begin(uvotel__hs_t *s, uv_stream_t *h, uvotel_async_id_t trigger);
/* The connect request trampoline (stream.c, shared with tcp.c). */
extern void (*const uvotel__connect_tramp)(uv_connect_t *, int);

/* uvotel_close's bookkeeping before libuv closes a tracked handle (the async registry, the
 * resource, the span, the close callback and its context); returns the close trampoline to
 * hand to uv_close or uv_tcp_close_reset (timer.c). */
uv_close_cb uvotel__close_begin(uvotel__hs_t *s, uv_handle_t *handle, uv_close_cb close_cb);
extern void (*const uvotel__close_tramp)(uv_handle_t *);

/* Memory reused after a raw uv_close (an *_init wrapper): forget what the previous handle at
 * this address left behind (its resource is destroyed, its span ended). */
void uvotel__forget_stale(const uv_loop_t *loop, const void *h);

/* Begin (or, when live, re-capture the context of) a handle's resource of the given type,
 * triggered by the current execution id, and remember cb. For handles whose resource lives
 * from their first start until uvotel_close (UDP receive, poll). */
void uvotel__handle_arm(uvotel__hs_t *s, void *h, const char *type, void (*cb)(void),
                        unsigned flags);

/* Handles whose resource lives from a start to the stop (signal, fs_event, fs_poll; watch.c):
 * track h, call start(h, arg) (which starts libuv with the kind's trampoline), and on success
 * end the resource of an earlier start, remember cb and begin a new resource of the given type
 * (trigger = current; the context of this call, or the root with UVOTEL_RESOURCE_ROOT_CONTEXT
 * in flags: the implicit forms). Returns libuv's result or UV_ENOMEM. */
int uvotel__watch_start(uv_handle_t *h, void (*cb)(void), const char *type,
                        int (*start)(uv_handle_t *h, void *arg), void *arg, unsigned flags);
/* Call stop(h) and end the handle's resource. NULL h: UV_EINVAL. */
int uvotel__watch_stop(uv_handle_t *h, int (*stop)(uv_handle_t *h));

/* Called by uvotel_close for an async handle's state: leave the send registry (async.c). */
void uvotel__async_forget(uvotel__hs_t *s);

#endif
