/* Loopback OTLP/HTTP receiver for tests (see otlp_receiver.h). Uses plain malloc: it is test
 * scaffolding and must not disturb the counting allocator's view of uvotel. */
#include "otlp_receiver.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>
#include <zlib.h>

typedef struct conn_s conn_t;

typedef struct stored_s {
  struct stored_s *next;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
} stored_t;

struct otlp_receiver_s {
  uv_loop_t loop;
  uv_tcp_t server;
  uv_async_t stop;
  uv_thread_t thread;
  int port;
  otlp_receiver_faults_t faults;
  conn_t *conns;
  uv_mutex_t mu;
  uv_cond_t cv;
  otlp_receiver_counts_t counts; /* under mu */
  stored_t *head, *tail;         /* under mu */
  size_t request_no;             /* loop thread */
  char last_head[2048];          /* under mu */
  /* discard mode: bodies are decoded into a bump arena reset per request (no malloc per
   * message), so the receiver costs little CPU beside the code under test */
  uint8_t *arena;
  size_t arena_cap, arena_used;
  int arena_oom;
};

struct conn_s {
  uv_tcp_t tcp;
  otlp_receiver_t *r;
  conn_t *next, *prev;
  uv_timer_t timer;
  char *buf;
  size_t len, cap;
  char *reply; /* pending delayed reply */
  size_t reply_len;
  int close_after;
  int closing;
  int waiting; /* a delayed reply is pending: parse no further */
};

static void on_conn_closed(uv_handle_t *h) {
  conn_t *c = h->data;
  if (h == (uv_handle_t *)&c->tcp) {
    uv_close((uv_handle_t *)&c->timer, on_conn_closed);
    return;
  }
  free(c->buf);
  free(c->reply);
  free(c);
}

static void conn_close(conn_t *c) {
  if (c->closing) return;
  c->closing = 1;
  if (c->prev)
    c->prev->next = c->next;
  else
    c->r->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_written(uv_write_t *w, int status) {
  (void)status;
  conn_t *c = w->data;
  int close_after = (int)(intptr_t)(((void **)(w + 1))[0]);
  free(w);
  if (close_after) conn_close(c);
}

static void send_raw(conn_t *c, const char *data, size_t n, int close_after) {
  uv_write_t *w = malloc(sizeof *w + sizeof(void *) + n);
  ((void **)(w + 1))[0] = (void *)(intptr_t)close_after;
  char *copy = (char *)(w + 1) + sizeof(void *);
  memcpy(copy, data, n);
  w->data = c;
  uv_buf_t b = uv_buf_init(copy, (unsigned)n);
  if (uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
    free(w);
    conn_close(c);
  }
}

static const char *reason(int st) {
  switch (st) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 415:
      return "Unsupported Media Type";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

static char *build_reply(int status, const char *retry_after, const uint8_t *body, size_t blen,
                         size_t *out_n) {
  char head[512];
  int hn = snprintf(head, sizeof head,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/x-protobuf\r\n"
                    "Content-Length: %zu\r\n%s%s%s\r\n",
                    status, reason(status), blen, retry_after ? "Retry-After: " : "",
                    retry_after ? retry_after : "", retry_after ? "\r\n" : "");
  char *out = malloc((size_t)hn + blen);
  memcpy(out, head, (size_t)hn);
  if (blen) memcpy(out + hn, body, blen);
  *out_n = (size_t)hn + blen;
  return out;
}

static void on_delay(uv_timer_t *t) {
  conn_t *c = t->data;
  c->waiting = 0;
  char *reply = c->reply;
  c->reply = NULL;
  send_raw(c, reply, c->reply_len, c->close_after);
  free(reply);
}

static int gunzip(const uint8_t *in, size_t n, uint8_t **out, size_t *out_n) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return -1;
  size_t cap = n * 4 + 1024, len = 0;
  uint8_t *buf = malloc(cap);
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)n;
  int zr;
  do {
    if (len == cap) {
      cap *= 2;
      buf = realloc(buf, cap);
    }
    zs.next_out = buf + len;
    zs.avail_out = (uInt)(cap - len);
    zr = inflate(&zs, Z_NO_FLUSH);
    len = cap - zs.avail_out;
  } while (zr == Z_OK);
  inflateEnd(&zs);
  if (zr != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_n = len;
  return 0;
}

static void *arena_alloc(void *data, size_t n) {
  otlp_receiver_t *r = data;
  n = (n + 15) & ~(size_t)15;
  if (r->arena_used + n > r->arena_cap) {
    r->arena_oom = 1; /* the request is decoded again with the arena doubled */
    return NULL;
  }
  void *p = r->arena + r->arena_used;
  r->arena_used += n;
  return p;
}

static void arena_free(void *data, void *p) {
  (void)data;
  (void)p;
}

static Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *unpack_arena(
    otlp_receiver_t *r, const uint8_t *p, size_t n) {
  for (;;) {
    if (r->arena == NULL) {
      r->arena_cap = 4 * 1024 * 1024;
      r->arena = malloc(r->arena_cap);
    }
    r->arena_used = 0;
    r->arena_oom = 0;
    ProtobufCAllocator a = {arena_alloc, arena_free, r};
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *q =
        opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(&a, n, p);
    if (q != NULL || !r->arena_oom) return q;
    free(r->arena);
    r->arena_cap *= 2;
    r->arena = malloc(r->arena_cap);
  }
}

static size_t count_spans(
    const Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *q) {
  size_t n = 0;
  for (size_t i = 0; i < q->n_resource_spans; i++)
    for (size_t j = 0; j < q->resource_spans[i]->n_scope_spans; j++)
      n += q->resource_spans[i]->scope_spans[j]->n_spans;
  return n;
}

/* Handle one complete request; returns 0 to keep parsing, -1 when the connection is gone or
 * must wait. */
/* Spans in an OTLP/JSON ExportTraceServiceRequest, or -1 when it is not one. */
static long count_json_spans(const char *p, size_t n) {
  json_error_t err;
  json_t *root = json_loadb(p, n, 0, &err);
  if (root == NULL) return -1;
  long count = 0;
  json_t *rss = json_object_get(root, "resourceSpans");
  if (!json_is_array(rss)) count = -1;
  for (size_t i = 0; count >= 0 && i < json_array_size(rss); i++) {
    json_t *sss = json_object_get(json_array_get(rss, i), "scopeSpans");
    for (size_t k = 0; count >= 0 && k < json_array_size(sss); k++) {
      json_t *spans = json_object_get(json_array_get(sss, k), "spans");
      for (size_t m = 0; count >= 0 && m < json_array_size(spans); m++) {
        const char *tid = json_string_value(json_object_get(json_array_get(spans, m), "traceId"));
        const char *sid = json_string_value(json_object_get(json_array_get(spans, m), "spanId"));
        if (tid == NULL || sid == NULL || strlen(tid) != 32 || strlen(sid) != 16)
          count = -1;
        else
          count++;
      }
    }
  }
  json_decref(root);
  return count;
}

static int handle_request(conn_t *c, const char *method, const char *path, int gz,
                          const char *ctype, const uint8_t *body, size_t blen, int conn_close_hdr) {
  otlp_receiver_t *r = c->r;
  otlp_receiver_faults_t *f = &r->faults;
  size_t no = ++r->request_no;
  uv_mutex_lock(&r->mu);
  r->counts.requests++;
  r->counts.body_bytes += blen;
  if (gz) r->counts.gzip++;
  uv_cond_broadcast(&r->cv);
  uv_mutex_unlock(&r->mu);

  if (f->never_answer) return 0;
  if ((int)no <= f->drop_first_n) {
    conn_close(c);
    return -1;
  }
  if (f->garbage) {
    static const char junk[] = "\x01\x02garbage that is not HTTP\r\n\r\n";
    send_raw(c, junk, sizeof junk - 1, 1);
    return -1;
  }
  int status = 200;
  const char *retry_after = NULL;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req = NULL;
  if (f->status_always) {
    status = f->status_always;
  } else if ((int)no <= f->fail_first_n) {
    status = f->fail_status ? f->fail_status : 503;
    retry_after = f->retry_after;
  } else if (strcmp(method, "POST") != 0 || strcmp(path, "/v1/traces") != 0) {
    status = 404;
  } else if (ctype != NULL && strcasecmp(ctype, "application/json") == 0) {
    /* http/json: OTLP/JSON, spans counted (not stored); ids must be 32/16 hex digits */
    uint8_t *plain = NULL;
    size_t plen = blen;
    const uint8_t *p = body;
    if (gz && gunzip(body, blen, &plain, &plen) != 0) status = 400;
    if (plain != NULL) p = plain;
    long n = status == 200 ? count_json_spans((const char *)p, plen) : -1;
    free(plain);
    if (n < 0) {
      status = 400;
    } else {
      uv_mutex_lock(&r->mu);
      r->counts.accepted++;
      r->counts.json++;
      r->counts.spans += (size_t)n;
      uv_cond_broadcast(&r->cv);
      uv_mutex_unlock(&r->mu);
    }
  } else if (ctype == NULL || strcasecmp(ctype, "application/x-protobuf") != 0) {
    status = 415;
  } else {
    uint8_t *plain = NULL;
    size_t plen = blen;
    const uint8_t *p = body;
    if (gz) {
      if (gunzip(body, blen, &plain, &plen) != 0) {
        status = 400;
      } else {
        p = plain;
      }
    }
    if (status == 200) {
      req = f->discard
                ? unpack_arena(r, p, plen)
                : opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
                      NULL, plen, p);
      if (req == NULL) status = 400;
    }
    free(plain);
  }
  if (status != 200) {
    uv_mutex_lock(&r->mu);
    if (status == 400 || status == 404 || status == 415) r->counts.bad++;
    uv_mutex_unlock(&r->mu);
  }

  uint8_t rbody[512];
  size_t rlen = 0;
  if (status == 200 && f->partial_message != NULL) {
    Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
    ps.rejected_spans = f->partial_rejected;
    ps.error_message = (char *)f->partial_message;
    Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse resp =
        OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
    resp.partial_success = &ps;
    if (opentelemetry__proto__collector__trace__v1__export_trace_service_response__get_packed_size(
            &resp) <= sizeof rbody)
      rlen = opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(&resp,
                                                                                             rbody);
  }
  if (req != NULL && f->discard) {
    size_t n = count_spans(req); /* arena memory: reused by the next request */
    req = NULL;
    uv_mutex_lock(&r->mu);
    r->counts.accepted++;
    r->counts.spans += n;
    uv_cond_broadcast(&r->cv);
    uv_mutex_unlock(&r->mu);
  }
  if (req != NULL) {
    stored_t *s = malloc(sizeof *s);
    s->next = NULL;
    s->req = req;
    uv_mutex_lock(&r->mu);
    if (r->tail)
      r->tail->next = s;
    else
      r->head = s;
    r->tail = s;
    r->counts.accepted++;
    r->counts.spans += count_spans(req);
    uv_cond_broadcast(&r->cv);
    uv_mutex_unlock(&r->mu);
  }
  size_t n;
  char *reply = build_reply(status, retry_after, rbody, rlen, &n);
  if (f->delay_ms > 0) {
    c->reply = reply;
    c->reply_len = n;
    c->close_after = conn_close_hdr;
    c->waiting = 1;
    uv_timer_start(&c->timer, on_delay, f->delay_ms, 0);
    return -1;
  }
  send_raw(c, reply, n, conn_close_hdr);
  free(reply);
  return conn_close_hdr ? -1 : 0;
}

static const char *find_header(const char *head, size_t hlen, const char *name, size_t *vlen) {
  size_t nl = strlen(name);
  const char *p = memchr(head, '\n', hlen);
  const char *end = head + hlen;
  while (p != NULL && p + 1 < end) {
    p++;
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL) eol = end;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (v < eol && (*v == ' ' || *v == '\t')) v++;
      const char *ve = eol;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ')) ve--;
      *vlen = (size_t)(ve - v);
      return v;
    }
    p = eol;
  }
  return NULL;
}

static void parse(conn_t *c) {
  while (!c->closing && !c->waiting) {
    char *hend = NULL;
    for (size_t i = 0; i + 3 < c->len; i++)
      if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
        hend = c->buf + i;
        break;
      }
    if (hend == NULL) return;
    size_t hlen = (size_t)(hend - c->buf) + 4;
    char method[16] = "", path[256] = "";
    char line[300];
    size_t ll = hlen < sizeof line - 1 ? hlen : sizeof line - 1;
    memcpy(line, c->buf, ll); /* the buffer is not NUL-terminated */
    line[ll] = '\0';
    if (sscanf(line, "%15s %255s", method, path) != 2) {
      conn_close(c);
      return;
    }
    size_t vl;
    const char *cl = find_header(c->buf, hlen, "Content-Length", &vl);
    size_t blen = 0;
    if (cl != NULL) blen = (size_t)strtoull(cl, NULL, 10);
    if (c->len < hlen + blen) return; /* wait for the body */
    const char *ce = find_header(c->buf, hlen, "Content-Encoding", &vl);
    int gz = ce != NULL && vl == 4 && strncasecmp(ce, "gzip", 4) == 0;
    char ctype[128] = "";
    const char *ct = find_header(c->buf, hlen, "Content-Type", &vl);
    if (ct != NULL && vl < sizeof ctype) {
      memcpy(ctype, ct, vl);
      ctype[vl] = '\0';
    }
    const char *cn = find_header(c->buf, hlen, "Connection", &vl);
    int cclose = cn != NULL && vl == 5 && strncasecmp(cn, "close", 5) == 0;
    uv_mutex_lock(&c->r->mu);
    size_t keep = hlen < sizeof c->r->last_head - 1 ? hlen : sizeof c->r->last_head - 1;
    memcpy(c->r->last_head, c->buf, keep);
    c->r->last_head[keep] = '\0';
    uv_mutex_unlock(&c->r->mu);
    /* copy out the body so the buffer can be compacted before the handler replies */
    uint8_t *body = malloc(blen + 1);
    memcpy(body, c->buf + hlen, blen);
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    int rc = handle_request(c, method, path, gz, ct ? ctype : NULL, body, blen, cclose);
    free(body);
    if (rc != 0) return;
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  conn_t *c = h->data;
  if (c->cap - c->len < 65536) {
    c->cap = c->cap * 2 + 65536;
    c->buf = realloc(c->buf, c->cap);
  }
  *b = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  (void)b;
  conn_t *c = s->data;
  if (n < 0) {
    conn_close(c);
    return;
  }
  c->len += (size_t)n;
  parse(c);
}

static void on_connection(uv_stream_t *srv, int status) {
  otlp_receiver_t *r = srv->data;
  if (status < 0) return;
  conn_t *c = calloc(1, sizeof *c);
  c->r = r;
  uv_tcp_init(&r->loop, &c->tcp);
  uv_timer_init(&r->loop, &c->timer);
  c->tcp.data = c;
  c->timer.data = c;
  if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    return;
  }
  c->next = r->conns;
  if (r->conns) r->conns->prev = c;
  r->conns = c;
  uv_mutex_lock(&r->mu);
  r->counts.connections++;
  uv_mutex_unlock(&r->mu);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_stop(uv_async_t *a) {
  otlp_receiver_t *r = a->data;
  while (r->conns) conn_close(r->conns);
  uv_close((uv_handle_t *)&r->server, NULL);
  uv_close((uv_handle_t *)&r->stop, NULL);
}

static void run(void *arg) {
  otlp_receiver_t *r = arg;
  uv_run(&r->loop, UV_RUN_DEFAULT);
}

int otlp_receiver_start(otlp_receiver_t **out, int port, const otlp_receiver_faults_t *faults) {
  otlp_receiver_t *r = calloc(1, sizeof *r);
  if (faults) r->faults = *faults;
  uv_loop_init(&r->loop);
  uv_tcp_init(&r->loop, &r->server);
  r->server.data = r;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", port, &sa);
  int rc = uv_tcp_bind(&r->server, (const struct sockaddr *)&sa, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&r->server, 128, on_connection);
  if (rc != 0) {
    uv_close((uv_handle_t *)&r->server, NULL);
    uv_run(&r->loop, UV_RUN_DEFAULT);
    uv_loop_close(&r->loop);
    free(r);
    return rc;
  }
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&r->server, (struct sockaddr *)&ss, &len);
  r->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_async_init(&r->loop, &r->stop, on_stop);
  r->stop.data = r;
  uv_mutex_init(&r->mu);
  uv_cond_init(&r->cv);
  uv_thread_create(&r->thread, run, r);
  *out = r;
  return 0;
}

int otlp_receiver_port(const otlp_receiver_t *r) {
  return r->port;
}

void otlp_receiver_url(const otlp_receiver_t *r, char *buf, size_t n) {
  snprintf(buf, n, "http://127.0.0.1:%d/v1/traces", r->port);
}

void otlp_receiver_stop(otlp_receiver_t *r) {
  if (r == NULL) return;
  uv_async_send(&r->stop);
  uv_thread_join(&r->thread);
  uv_loop_close(&r->loop);
  stored_t *s = r->head;
  while (s) {
    stored_t *n = s->next;
    opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(s->req,
                                                                                            NULL);
    free(s);
    s = n;
  }
  uv_cond_destroy(&r->cv);
  uv_mutex_destroy(&r->mu);
  free(r->arena);
  free(r);
}

otlp_receiver_counts_t otlp_receiver_counts(otlp_receiver_t *r) {
  uv_mutex_lock(&r->mu);
  otlp_receiver_counts_t c = r->counts;
  uv_mutex_unlock(&r->mu);
  return c;
}

static int wait_for(otlp_receiver_t *r, const size_t *field, size_t n, uint64_t timeout_ms) {
  uint64_t deadline = uv_hrtime() + timeout_ms * 1000000ull;
  uv_mutex_lock(&r->mu);
  while (*field < n) {
    uint64_t now = uv_hrtime();
    if (now >= deadline) break;
    uv_cond_timedwait(&r->cv, &r->mu, deadline - now);
  }
  int ok = *field >= n;
  uv_mutex_unlock(&r->mu);
  return ok ? 0 : -1;
}

int otlp_receiver_wait_spans(otlp_receiver_t *r, size_t n, uint64_t timeout_ms) {
  return wait_for(r, &r->counts.spans, n, timeout_ms);
}

int otlp_receiver_wait_requests(otlp_receiver_t *r, size_t n, uint64_t timeout_ms) {
  return wait_for(r, &r->counts.requests, n, timeout_ms);
}

void otlp_receiver_foreach_span(otlp_receiver_t *r, otlp_receiver_span_fn fn, void *arg) {
  uv_mutex_lock(&r->mu);
  for (stored_t *s = r->head; s; s = s->next)
    for (size_t i = 0; i < s->req->n_resource_spans; i++) {
      const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = s->req->resource_spans[i];
      for (size_t j = 0; j < rs->n_scope_spans; j++) {
        const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[j];
        for (size_t k = 0; k < ss->n_spans; k++) fn(arg, rs, ss, ss->spans[k]);
      }
    }
  uv_mutex_unlock(&r->mu);
}

int otlp_receiver_free_port(void) {
  uv_loop_t loop;
  uv_tcp_t t;
  uv_loop_init(&loop);
  uv_tcp_init(&loop, &t);
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", 0, &sa);
  uv_tcp_bind(&t, (const struct sockaddr *)&sa, 0);
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getsockname(&t, (struct sockaddr *)&ss, &len);
  int port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return port;
}

void otlp_receiver_last_head(otlp_receiver_t *r, char *buf, size_t n) {
  uv_mutex_lock(&r->mu);
  snprintf(buf, n, "%s", r->last_head);
  uv_mutex_unlock(&r->mu);
}
