/* Streams: listen ("TCPSERVERWRAP"/"PIPESERVERWRAP"), accept and read ("TCPWRAP"/"PIPEWRAP"/
 * "TTYWRAP"), write ("WRITEWRAP") and shutdown ("SHUTDOWNWRAP").
 *
 * A stream handle is one resource from the moment it is first seen by a wrapper (listen,
 * accept, connect, read_start) until uvotel_close. Its connection and read callbacks run inside
 * it: before/after around each run. Write and shutdown requests are resources of their own,
 * triggered by the stream's resource (as in Node), destroyed after their callback. */
#include "http_internal.h"
#include "internal.h"

static const char *server_type(const uv_stream_t *h) {
  return h->type == UV_NAMED_PIPE ? "PIPESERVERWRAP" : "TCPSERVERWRAP";
}

static const char *stream_type(const uv_stream_t *h) {
  switch (h->type) {
    case UV_NAMED_PIPE:
      return "PIPEWRAP";
    case UV_TTY:
      return "TTYWRAP";
    default:
      return "TCPWRAP";
  }
}

/* A client side that gave up (or whose read ended) does nothing more: free it now rather than
 * at close, so streams that are not HTTP cost nothing after their first write. */
static void hc_release_dead(uvotel__hs_t *s) {
  if (uvotel__hc_dead(s->hc)) {
    uvotel__hc_free(s->hc);
    s->hc = NULL;
  }
}

/* Begin the stream's resource if it has none live. */
void uvotel__stream_begin(uvotel__hs_t *s, uv_stream_t *h, uvotel_async_id_t trigger) {
  if (uvotel__res_live(s)) return;
  (void)uvotel_resource_init_owner(&s->res, stream_type(h), trigger, UVOTEL_RESOURCE_MANUAL_DESTROY,
                                   h);
}

void uvotel__handle_arm(uvotel__hs_t *s, void *h, const char *type, void (*cb)(void),
                        unsigned flags) {
  s->cb = cb;
  if (uvotel__res_live(s)) {
    /* callbacks run in the context of this start (a root-context resource stays root) */
    (void)uvotel_resource_recapture(&s->res);
  } else {
    (void)uvotel_resource_init_owner(&s->res, type, 0, UVOTEL_RESOURCE_MANUAL_DESTROY | flags, h);
  }
}

/* ---- listen ---- */

static void connection_tramp(uv_stream_t *server, int status) {
  uvotel__hs_t *s = uvotel__hs_get(server->loop, server);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("connection");
    return;
  }
  uv_connection_cb cb = (uv_connection_cb)s->cb;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  if (UVOTEL__UNLIKELY(uvotel__auto_on(UVOTEL__AUTO_NET | UVOTEL__AUTO_PIPE))) {
    /* uvotel_accept may make a SERVER span current for the rest of the callback. */
    int outer = uvotel__auto_in_conn_cb;
    uvotel__auto_in_conn_cb = 1;
    cb(server, status);
    uvotel__auto_conn_cb_done();
    uvotel__auto_in_conn_cb = outer;
  } else {
    cb(server, status);
  }
  uvotel_resource_exit(&cs);
}

UVOTEL__API int uvotel_listen(uv_stream_t *stream, int backlog, uv_connection_cb cb) {
  if (!uvotel_tracking() || stream == NULL || cb == NULL) return uv_listen(stream, backlog, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(stream->loop, stream, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_listen(stream, backlog, connection_tramp);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  s->cb = (void (*)(void))cb;
  if (!uvotel__res_live(s)) {
    (void)uvotel_resource_init_owner(&s->res, server_type(stream), 0,
                                     UVOTEL_RESOURCE_MANUAL_DESTROY, stream);
  }
  return 0;
}

UVOTEL__API int uvotel_accept(uv_stream_t *server, uv_stream_t *client) {
  if (!uvotel_tracking() || server == NULL || client == NULL) return uv_accept(server, client);
  int is_new;
  uvotel__hs_t *s = uvotel__track(client->loop, client, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_accept(server, client);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  /* The server caused the connection: it is the trigger, as in Node. */
  uvotel__stream_begin(s, client, uvotel__handle_id(server));
  /* The detectors first: they note the current span before the accept span becomes current. */
  if (__atomic_load_n(&uvotel__auto_cats, __ATOMIC_RELAXED) != 0) uvotel__proto_accept(s);
  if (uvotel__auto_on(client->type == UV_NAMED_PIPE ? UVOTEL__AUTO_PIPE : UVOTEL__AUTO_NET)) {
    uvotel__auto_accept(s, server, client);
  }
  return 0;
}

/* ---- reading ---- */

static void read_tramp(uv_stream_t *h, ssize_t nread, const uv_buf_t *buf) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("read");
    return;
  }
  uv_read_cb cb = (uv_read_cb)s->cb;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  uvotel_span_t *req_span = NULL;
  const uvotel_baggage_t *bag = NULL;
  if (UVOTEL__UNLIKELY(s->proto != NULL) && nread > 0 && buf != NULL) {
    req_span = uvotel__proto_read(s, h, buf->base, (size_t)nread, &bag);
  }
  if (UVOTEL__UNLIKELY(s->hc != NULL) && nread != 0 && nread != UV_ENOBUFS) {
    /* Responses completed by these bytes (or by the end) end their CLIENT span first. */
    uvotel__hc_read(s->hc, nread > 0 && buf != NULL ? buf->base : NULL, nread);
    hc_release_dead(s);
  }
  uvotel_scope_t rs, bs;
  if (req_span != NULL) {
    /* The request's span and its extracted baggage are current while it is served. */
    if (uvotel_span_enter(req_span, &rs) != 0) {
      req_span = NULL;
      bag = NULL;
    } else if (bag != NULL && uvotel_baggage_enter(bag, &bs) != 0) {
      bag = NULL;
    }
  }
  cb(h, nread, buf);
  if (bag != NULL) (void)uvotel_scope_exit(&bs);
  if (req_span != NULL) (void)uvotel_scope_exit(&rs);
  uvotel_resource_exit(&cs);
}

UVOTEL__API int uvotel_read_start(uv_stream_t *stream, uv_alloc_cb alloc_cb, uv_read_cb read_cb) {
  if (!uvotel_tracking() || stream == NULL || read_cb == NULL) {
    return uv_read_start(stream, alloc_cb, read_cb);
  }
  int is_new;
  uvotel__hs_t *s = uvotel__track(stream->loop, stream, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_read_start(stream, alloc_cb, read_tramp);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  s->cb = (void (*)(void))read_cb;
  if (uvotel__res_live(s)) {
    /* The read callbacks run in the context of this call (registration time). */
    (void)uvotel_resource_recapture(&s->res);
  } else {
    uvotel__stream_begin(s, stream, 0);
  }
  return 0;
}

UVOTEL__API int uvotel_read_stop(uv_stream_t *stream) {
  return uv_read_stop(stream);
}

/* ---- write and shutdown requests ---- */

/* The trampolines of write, shutdown and connect share one shape: (req, status). */
#define STATUS_TRAMP(name, req_t, cb_t)                                                      \
  static void name(req_t *req, int status) {                                                 \
    uvotel_resource_t res;                                                                   \
    void (*cb)(void);                                                                        \
    uvotel_span_t *span;                                                                     \
    if (UVOTEL__UNLIKELY(uvotel__req_take(req->handle->loop, req, &res, &cb, &span) != 0)) { \
      {                                                                                      \
        uvotel__no_state(#name);                                                             \
        return;                                                                              \
      }                                                                                      \
    }                                                                                        \
    if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_status_end(span, status);               \
    uvotel_callback_scope_t cs;                                                              \
    if (cb != NULL) {                                                                        \
      (void)uvotel__resource_enter_held(&res, &cs); /* exit is a no-op if this failed */     \
      ((cb_t)cb)(req, status);                                                               \
      uvotel_resource_exit(&cs);                                                             \
    }                                                                                        \
    (void)uvotel_resource_emit_destroy(&res);                                                \
  }

/* ---- writes in flight: the stream's records ---- */

/* What a write request's own state would hold. */
typedef struct wrec_s {
  uv_write_t *req;
  void (*cb)(void);
  uvotel_resource_t res;
  uvotel_span_t *span; /* the detector's span the write completes (ended then), or NULL */
  char *wbuf;          /* header bytes uvotel inserted into the write (freed then), or NULL */
  uint64_t seq;        /* its number for the detector's written op, or 0 */
} wrec_t;

/* A ring of records, oldest at head; cap is a power of two. */
struct uvotel__wfifo_s {
  unsigned head, n, cap;
  wrec_t rec[];
};

#define WFIFO_FIRST_CAP 4u

/* Room for one more record on the stream hs; -1: out of memory (nothing changed). */
static int wfifo_reserve(uvotel__hs_t *hs) {
  struct uvotel__wfifo_s *f = hs->writes;
  if (UVOTEL__LIKELY(f != NULL && f->n < f->cap)) return 0;
  unsigned cap = f != NULL ? f->cap * 2 : WFIFO_FIRST_CAP;
  struct uvotel__wfifo_s *g = uvotel_malloc(sizeof *g + cap * sizeof(wrec_t));
  if (g == NULL) return -1;
  g->head = 0;
  g->n = 0;
  g->cap = cap;
  if (f != NULL) {
    for (unsigned i = 0; i < f->n; i++) g->rec[i] = f->rec[(f->head + i) & (f->cap - 1)];
    g->n = f->n;
    uvotel_free(f);
  }
  hs->writes = g;
  return 0;
}

/* The record of a write libuv took (wfifo_reserve made room): callback and resource set, the
 * rest empty. The resource is made in place: resource init writes all of it before it runs the
 * init hooks, and an init hook that writes on this stream too appends its own record after this
 * one (n counts this one already), moving the records at most, so this one is looked up again
 * afterwards. */
static inline wrec_t *wfifo_put(uvotel__hs_t *hs, uv_write_t *req, uv_write_cb cb) {
  struct uvotel__wfifo_s *f = hs->writes;
  unsigned at = f->n++;
  wrec_t *w = &f->rec[(f->head + at) & (f->cap - 1)];
  w->req = req;
  w->cb = (void (*)(void))cb;
  w->span = NULL;
  w->wbuf = NULL;
  w->seq = 0;
  (void)uvotel_resource_init_owner(&w->res, "WRITEWRAP", uvotel_resource_async_id(&hs->res),
                                   UVOTEL_RESOURCE_MANUAL_DESTROY, req);
  f = hs->writes;
  return &f->rec[(f->head + at) & (f->cap - 1)];
}

/* Take req's record out of f into *out; 0 when f has none for req. libuv completes a stream's
 * writes in order, so it is the oldest; the others are looked at only to stay correct. */
static int wfifo_take(struct uvotel__wfifo_s *f, const uv_write_t *req, wrec_t *out) {
  unsigned mask = f->cap - 1;
  if (UVOTEL__LIKELY(f->n > 0 && f->rec[f->head].req == req)) {
    *out = f->rec[f->head];
    f->head = (f->head + 1) & mask;
    f->n--;
    return 1;
  }
  for (unsigned i = 1; i < f->n; i++) {
    if (f->rec[(f->head + i) & mask].req != req) continue;
    *out = f->rec[(f->head + i) & mask];
    for (; i + 1 < f->n; i++) f->rec[(f->head + i) & mask] = f->rec[(f->head + i + 1) & mask];
    f->n--;
    return 1;
  }
  return 0;
}

void uvotel__writes_release(uvotel__hs_t *s) {
  if (s->writes != NULL && s->writes->n == 0) {
    uvotel_free(s->writes);
    s->writes = NULL;
  }
}

void uvotel__writes_free(uvotel__hs_t *s) {
  struct uvotel__wfifo_s *f = s->writes;
  if (f == NULL) return;
  s->writes = NULL;
  /* None is left once libuv closed the stream (it completes the cancelled writes first); a
   * record left here belongs to a write libuv never completed: end what it holds. */
  for (unsigned i = 0; i < f->n; i++) {
    wrec_t *w = &f->rec[(f->head + i) & (f->cap - 1)];
    if (w->span != NULL) uvotel__auto_status_end(w->span, UV_ECANCELED);
    uvotel_free(w->wbuf);
    (void)uvotel_resource_emit_destroy(&w->res);
  }
  uvotel_free(f);
}

/* The write trampoline: as STATUS_TRAMP, from the stream's record of the write (or the
 * request's own state, for a stream that had none), and it frees the header bytes uvotel
 * inserted into the write once libuv is done with them. */
static void write_tramp(uv_write_t *req, int status) {
  wrec_t w;
  uvotel__hs_t *hs = uvotel__hs_get(req->handle->loop, req->handle);
  if (UVOTEL__UNLIKELY(hs == NULL || hs->writes == NULL || !wfifo_take(hs->writes, req, &w))) {
    uvotel__hs_t *s = uvotel__hs_get(req->handle->loop, req);
    if (UVOTEL__UNLIKELY(s == NULL)) {
      uvotel__no_state("write_tramp");
      return;
    }
    w.span = s->span;
    w.cb = s->cb;
    w.res = s->res;
    w.wbuf = NULL;
    w.seq = s->u.write.seq;
    s->span = NULL;
    s->res = (uvotel_resource_t){0};
    uvotel__hs_remove(s); /* the callback may reuse the request */
  }
  if (UVOTEL__UNLIKELY(w.wbuf != NULL)) uvotel_free(w.wbuf);
  if (UVOTEL__UNLIKELY(w.span != NULL)) uvotel__auto_status_end(w.span, status);
  if (UVOTEL__UNLIKELY(w.seq != 0)) uvotel__proto_written(req->handle, w.seq, status);
  if (w.cb != NULL) {
    uvotel_callback_scope_t cs;
    (void)uvotel__resource_enter_held(&w.res, &cs); /* exit is a no-op if this failed */
    ((uv_write_cb)w.cb)(req, status);
    uvotel_resource_exit(&cs);
  }
  (void)uvotel_resource_emit_destroy(&w.res);
}

STATUS_TRAMP(shutdown_tramp, uv_shutdown_t, uv_shutdown_cb)
STATUS_TRAMP(connect_tramp, uv_connect_t, uv_connect_cb)

void (*const uvotel__connect_tramp)(uv_connect_t *, int) = connect_tramp;

/* The program's bytes of a write w (NULL: libuv refused it), offered to the detector of the
 * stream hs: a response (or query) that completes in this write ends its span with it. err: what
 * the write wrapper returns; a write libuv refused (err < 0) is over at once, with that error. */
static void proto_written(wrec_t *w, uvotel__hs_t *hs, const uv_buf_t bufs[], unsigned int nbufs,
                          int err) {
  uint64_t seq;
  uvotel_span_t *done = uvotel__proto_write(hs, bufs, nbufs, err, &seq);
  if (err != 0) return;
  w->seq = seq;
  if (done != NULL) {
    if (w->span != NULL) uvotel_span_end(w->span);
    w->span = done;
  }
}

/* A write on a stream the program connected, while the http category is on: the bytes go
 * through the HTTP/1.x client side, which may give a new buffer list with the propagation
 * headers inserted (the program's array and bytes are not touched; libuv copies the list). */
static int write_client(uvotel__hs_t *hs, uv_write_t *req, uv_stream_t *handle,
                        const uv_buf_t bufs[], unsigned int nbufs, uv_stream_t *send_handle,
                        uv_write_cb cb) {
  uvotel__hc_out_t out;
  uvotel__hc_write(hs->hc, bufs, nbufs, send_handle == NULL, &out);
  int err = uv_write2(req, handle, out.n > 0 ? out.bufs : bufs, out.n > 0 ? out.n : nbufs,
                      send_handle, write_tramp);
  if (err != 0) {
    uvotel_free(out.extra);
    uvotel__hc_fail(hs->hc); /* the parsers saw bytes that were not sent: they lost their place */
  }
  hc_release_dead(hs);
  wrec_t *w = NULL;
  if (err == 0) {
    w = wfifo_put(hs, req, cb);
    w->wbuf = out.extra;
  }
  /* The other client-side detectors (DNS over TCP) see the program's bytes as written (or
   * refused). */
  if (UVOTEL__UNLIKELY(hs->proto != NULL)) proto_written(w, hs, bufs, nbufs, err);
  return err;
}

/* A write on a stream without a state: the request gets a side-table state of its own. */
static int write_untracked(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[],
                           unsigned int nbufs, uv_stream_t *send_handle, uv_write_cb cb) {
  int is_new;
  uvotel__hs_t *s = uvotel__track(handle->loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_write2(req, handle, bufs, nbufs, send_handle, write_tramp);
  err = uvotel__req_begin(s, is_new, err, req, (void (*)(void))cb, "WRITEWRAP",
                          uvotel__handle_id(handle));
  if (UVOTEL__LIKELY(err == 0)) s->u.write.seq = 0;
  return err;
}

UVOTEL__API int uvotel_write2(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[],
                              unsigned int nbufs, uv_stream_t *send_handle, uv_write_cb cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) {
    return uv_write2(req, handle, bufs, nbufs, send_handle, cb);
  }
  uvotel__hs_t *hs = uvotel__hs_get(handle->loop, handle);
  if (UVOTEL__UNLIKELY(hs == NULL)) {
    return write_untracked(req, handle, bufs, nbufs, send_handle, cb);
  }
  if (UVOTEL__UNLIKELY(wfifo_reserve(hs) != 0)) return UV_ENOMEM;
  if (UVOTEL__UNLIKELY(hs->hc != NULL && bufs != NULL)) {
    return write_client(hs, req, handle, bufs, nbufs, send_handle, cb);
  }
  int err = uv_write2(req, handle, bufs, nbufs, send_handle, write_tramp);
  wrec_t *w = UVOTEL__LIKELY(err == 0) ? wfifo_put(hs, req, cb) : NULL;
  /* The detector sees what the program asked to write, also when libuv refused it. */
  if (UVOTEL__UNLIKELY(hs->proto != NULL) && bufs != NULL) proto_written(w, hs, bufs, nbufs, err);
  return err;
}

UVOTEL__API int uvotel_write(uv_write_t *req, uv_stream_t *handle, const uv_buf_t bufs[],
                             unsigned int nbufs, uv_write_cb cb) {
  /* libuv's uv_write is uv_write2 without a handle to send, and so is this (a tail call) */
  return uvotel_write2(req, handle, bufs, nbufs, NULL, cb);
}

UVOTEL__API int uvotel_try_write(uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs) {
  int r = uv_try_write(handle, bufs, nbufs);
  if (r != UV_EAGAIN && r != 0 && uvotel_tracking() && handle != NULL) {
    uvotel__hs_t *hs = uvotel__hs_get(handle->loop, handle);
    if (UVOTEL__UNLIKELY(hs != NULL && hs->proto != NULL)) {
      uvotel__proto_try_written(hs, bufs, nbufs, r); /* also a refusal: r < 0 */
    }
    if (UVOTEL__UNLIKELY(r > 0 && hs != NULL && hs->hc != NULL)) {
      /* Spans, but no header insertion: what try_write returns counts the program's bytes, and
       * a partial write could end inside inserted ones. */
      uv_buf_t part[UVOTEL__HC_NBUFS_IN];
      int k = uvotel__buf_prefix(bufs, nbufs, (size_t)r, part, UVOTEL__HC_NBUFS_IN);
      uvotel__hc_out_t out;
      if (k < 0) {
        uvotel__hc_fail(hs->hc);
      } else {
        uvotel__hc_write(hs->hc, part, (unsigned int)k, 0, &out);
      }
      hc_release_dead(hs);
    }
  }
  return r;
}

void uvotel__httpc_connect(uvotel__hs_t *s, uv_stream_t *h) {
  if (s->hc != NULL) return; /* beside s->proto's outgoing detectors (DNS over TCP) */
  s->hc = uvotel__hc_new(uvotel__auto_tracer(), h, uvotel__auto_roots()); /* NULL: no harm */
}

void uvotel__httpc_drop(uvotel__hs_t *s) {
  uvotel__hc_free(s->hc);
  s->hc = NULL;
}

UVOTEL__API int uvotel_try_write2(uv_stream_t *handle, const uv_buf_t bufs[], unsigned int nbufs,
                                  uv_stream_t *send_handle) {
  return uv_try_write2(handle, bufs, nbufs, send_handle);
}

UVOTEL__API int uvotel_shutdown(uv_shutdown_t *req, uv_stream_t *handle, uv_shutdown_cb cb) {
  if (!uvotel_tracking() || req == NULL || handle == NULL) return uv_shutdown(req, handle, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(handle->loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = uv_shutdown(req, handle, shutdown_tramp);
  return uvotel__req_begin(s, is_new, err, req, (void (*)(void))cb, "SHUTDOWNWRAP",
                           uvotel__handle_id(handle));
}

/* ---- tty ---- */

/* uv_tty_init; like uvotel_tcp_init it drops state left at the address by a handle closed with
 * raw uv_close. Reads and writes on a tty go through the stream wrappers ("TTYWRAP"). */
UVOTEL__API int uvotel_tty_init(uv_loop_t *loop, uv_tty_t *handle, uv_file fd, int readable) {
  uvotel__forget_stale(loop, handle);
  return uv_tty_init(loop, handle, fd, readable);
}
