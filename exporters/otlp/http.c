/* OTLP/HTTP transport: a dedicated thread runs its own libuv loop, which drives a curl multi
 * handle through uv_poll_t/uv_timer_t; batches are encoded on the libuv thread pool, sent with
 * keep-alive connections, retried per the OTLP specification, and counted. */
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"
#include "otlp_internal.h"
#include "uvotel/version.h"

#define RESP_CAP (64 * 1024)

enum { SLOT_IDLE, SLOT_SENDING, SLOT_BACKOFF };

typedef struct slot_s {
  uvotel__otlp_transport_t *t;
  CURL *easy;
  uvotel__otlp_job_t *job;
  int state;
  uv_timer_t timer;
  int64_t retry_after_ms;
  uint8_t *resp;
  size_t resp_len;
  char errbuf[CURL_ERROR_SIZE];
} slot_t;

typedef struct poll_ctx_s {
  uv_poll_t poll;
  uvotel__otlp_transport_t *t;
  curl_socket_t fd;
} poll_ctx_t;

struct uvotel__otlp_transport_s {
  uvotel__otlp_config_t cfg;
  pid_t pid;
  uv_thread_t thread;
  uv_loop_t loop;
  uv_async_t wake;
  uv_timer_t curl_timer;
  CURLM *multi;
  struct curl_slist *hdrs;
  slot_t *slots;
  unsigned n_slots;
  uint64_t rng;

  uv_mutex_t mu;
  uv_cond_t cv;
  /* under mu */
  uvotel__otlp_job_t *inbox_head, *inbox_tail;
  size_t pending;
  uint64_t submitted, finished;
  int abort_requested;
  int shut; /* shutdown called: refuse new work */
  int joined;
  uvotel_otlp_http_stats_t stats;

  /* exporter thread only */
  uint64_t said_ns, unsaid_batches, unsaid_spans; /* rate-limited failure lines */
  uvotel__otlp_job_t *ready_head, *ready_tail;
  size_t encoding;
  int aborting;
  int closing;
};

static uv_once_t g_curl_once = UV_ONCE_INIT;
static int g_curl_rc;
static void curl_init_once(void) {
  g_curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == 0 ? 0 : -1;
}

static uint64_t rand_u64(uvotel__otlp_transport_t *t) {
  uint64_t x = t->rng; /* xorshift64* */
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  t->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* ---- job completion ---- */

/* Free the job's body, or give its scratch buffer back. */
static void body_free(uvotel__otlp_job_t *job) {
  if (job->body_hold != NULL)
    uvotel__otlp_scratch_release(job->body_hold);
  else
    uvotel_free(job->body);
  job->body = NULL;
  job->body_hold = NULL;
}

typedef enum { DONE_OK, DONE_FAILED } done_t;

static void finish_job(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job, done_t how,
                       uint64_t rejected, int err) {
  size_t n = job->n_spans;
  body_free(job);
  job->result = how == DONE_OK ? 0 : (err != 0 ? err : UVOTEL_EIO);
  job->rejected = how == DONE_OK ? rejected : 0;
  /* the outcome reaches the exporter's caller (the processor's completion) here */
  job->release(job);
  uv_mutex_lock(&t->mu);
  if (how == DONE_OK) {
    t->stats.batches_exported++;
    t->stats.spans_rejected += rejected;
    t->stats.spans_exported += rejected < n ? n - rejected : 0;
  } else {
    t->stats.batches_failed++;
    t->stats.spans_failed += n;
  }
  t->pending--;
  t->finished++;
  uv_cond_broadcast(&t->cv);
  uv_mutex_unlock(&t->mu);
}

/* ---- curl <-> libuv glue ---- */

static void check_multi_info(uvotel__otlp_transport_t *t);

static void on_poll_close(uv_handle_t *h) {
  uvotel_free(h); /* poll is the first member */
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_ctx_t *pc = (poll_ctx_t *)h;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  uvotel__otlp_transport_t *t = pc->t;
  curl_multi_socket_action(t->multi, pc->fd, flags, &running);
  check_multi_info(t);
}

static int sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp) {
  (void)e;
  uvotel__otlp_transport_t *t = userp;
  poll_ctx_t *pc = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (pc != NULL) {
      uv_poll_stop(&pc->poll);
      pc->poll.data = NULL;
      uv_close((uv_handle_t *)&pc->poll, on_poll_close);
      curl_multi_assign(t->multi, s, NULL);
    }
    return 0;
  }
  if (pc == NULL) {
    pc = uvotel_calloc(1, sizeof *pc);
    if (pc == NULL) return -1;
    if (uv_poll_init_socket(&t->loop, &pc->poll, s) != 0) {
      uvotel_free(pc);
      return -1;
    }
    pc->t = t;
    pc->fd = s;
    curl_multi_assign(t->multi, s, pc);
  }
  int ev = 0;
  if (what & CURL_POLL_IN) ev |= UV_READABLE;
  if (what & CURL_POLL_OUT) ev |= UV_WRITABLE;
  uv_poll_start(&pc->poll, ev, on_poll);
  return 0;
}

static void on_curl_timeout(uv_timer_t *h) {
  uvotel__otlp_transport_t *t = h->data;
  int running;
  curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_multi_info(t);
}

static int timer_cb(CURLM *m, long timeout_ms, void *userp) {
  (void)m;
  uvotel__otlp_transport_t *t = userp;
  if (t->closing) return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&t->curl_timer);
  else
    uv_timer_start(&t->curl_timer, on_curl_timeout, (uint64_t)timeout_ms, 0);
  return 0;
}

static size_t write_cb(char *p, size_t sz, size_t nm, void *ud) {
  slot_t *s = ud;
  size_t n = sz * nm;
  size_t room = RESP_CAP - s->resp_len;
  size_t take = n < room ? n : room;
  if (take > 0) {
    if (s->resp == NULL) {
      s->resp = uvotel_malloc(RESP_CAP);
      if (s->resp == NULL) return n; /* drop the body, keep the transfer */
    }
    memcpy(s->resp + s->resp_len, p, take);
    s->resp_len += take;
  }
  return n;
}

static size_t header_cb(char *p, size_t sz, size_t nm, void *ud) {
  slot_t *s = ud;
  size_t n = sz * nm;
  static const char k[] = "retry-after:";
  if (n > sizeof k - 1 && n < 200 && strncasecmp(p, k, sizeof k - 1) == 0) {
    char v[200];
    memcpy(v, p + sizeof k - 1, n - (sizeof k - 1));
    v[n - (sizeof k - 1)] = '\0';
    s->retry_after_ms = uvotel__otlp_parse_retry_after(v, (int64_t)time(NULL));
  } else if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
    s->retry_after_ms = -1; /* a new response (e.g. after a 100) starts afresh */
  }
  return n;
}

/* ---- sending ---- */

static void pump(uvotel__otlp_transport_t *t);

/* Failures are said at most once per FAIL_REPORT_NS, with the counts since the last line, so a
 * dead collector prints a line per interval, not per batch (each batch is at debug). */
#define FAIL_REPORT_NS (5000ull * 1000000ull)

static void fail_job_rc(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job, int err,
                        const char *why) {
  uint64_t now = uv_hrtime();
  t->unsaid_batches++;
  t->unsaid_spans += job->n_spans;
  if (t->said_ns == 0 || now - t->said_ns >= FAIL_REPORT_NS) {
    uvotel__otlp_log(&t->cfg, UVOTEL_DIAG_ERROR,
                     "otlp_http: %llu batch(es), %llu span(s) to %s given up since the last "
                     "report; the latest (%zu spans) after %u attempt(s): %s",
                     (unsigned long long)t->unsaid_batches, (unsigned long long)t->unsaid_spans,
                     t->cfg.url, job->n_spans, job->attempts, why);
    t->unsaid_batches = t->unsaid_spans = 0;
    t->said_ns = now;
  } else {
    uvotel__otlp_log(&t->cfg, UVOTEL_DIAG_DEBUG,
                     "otlp_http: giving up a batch of %zu spans after %u attempt(s): %s",
                     job->n_spans, job->attempts, why);
  }
  finish_job(t, job, DONE_FAILED, 0, err);
}

static void fail_job(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job, const char *why) {
  fail_job_rc(t, job, UVOTEL_EIO, why);
}

static void start_send(slot_t *s) {
  uvotel__otlp_transport_t *t = s->t;
  uvotel__otlp_job_t *job = s->job;
  uint64_t now = uv_hrtime();
  if (job->attempts == 0) {
    uint64_t to = job->timeout_ms != 0 && job->timeout_ms < t->cfg.timeout_ms ? job->timeout_ms
                                                                              : t->cfg.timeout_ms;
    job->deadline_ns = now + to * 1000000ull;
  }
  if (now >= job->deadline_ns) {
    s->job = NULL;
    s->state = SLOT_IDLE;
    fail_job_rc(t, job, UVOTEL_ETIMEDOUT, "export timeout passed");
    return;
  }
  uint64_t left_ms = (job->deadline_ns - now) / 1000000ull;
  if (left_ms == 0) left_ms = 1;
  s->resp_len = 0;
  s->retry_after_ms = -1;
  s->errbuf[0] = '\0';
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, job->body);
  curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->body_len);
  curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, (long)left_ms);
  uv_mutex_lock(&t->mu);
  t->stats.requests++;
  if (job->attempts > 0) t->stats.retries++;
  t->stats.bytes_sent += job->body_len;
  t->stats.bytes_uncompressed += job->raw_len;
  uv_mutex_unlock(&t->mu);
  job->attempts++;
  s->state = SLOT_SENDING;
  if (curl_multi_add_handle(t->multi, s->easy) != CURLM_OK) {
    s->job = NULL;
    s->state = SLOT_IDLE;
    fail_job(t, job, "curl_multi_add_handle failed");
  }
}

static void on_backoff(uv_timer_t *h) {
  slot_t *s = h->data;
  start_send(s);
  pump(s->t);
}

static int retryable_status(long code) {
  return code == 429 || code == 502 || code == 503 || code == 504;
}

static int retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT: /* refused */
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT: /* timed out */
    case CURLE_SEND_ERROR:         /* reset while sending */
    case CURLE_RECV_ERROR:         /* reset while receiving */
    case CURLE_GOT_NOTHING:        /* closed without an answer */
    case CURLE_PARTIAL_FILE:       /* closed mid-answer */
      return 1;
    default:
      return 0;
  }
}

static void *pb_alloc(void *d, size_t n) {
  (void)d;
  return uvotel_malloc(n);
}
static void pb_free(void *d, void *p) {
  (void)d;
  uvotel_free(p);
}
static ProtobufCAllocator g_pb_alloc = {pb_alloc, pb_free, NULL};

static uint64_t read_partial_success(uvotel__otlp_transport_t *t, slot_t *s) {
  if (s->resp_len == 0) return 0;
  Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
      opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
          &g_pb_alloc, s->resp_len, s->resp);
  if (r == NULL) {
    uvotel__otlp_log(&t->cfg, UVOTEL_DIAG_WARN,
                     "otlp_http: 2xx answer with an undecodable body (%zu bytes) ignored",
                     s->resp_len);
    return 0;
  }
  uint64_t rejected = 0;
  if (r->partial_success != NULL) {
    int64_t rj = r->partial_success->rejected_spans;
    const char *msg = r->partial_success->error_message ? r->partial_success->error_message : "";
    if (rj > 0 || *msg != '\0')
      uvotel__otlp_log(&t->cfg, rj > 0 ? UVOTEL_DIAG_WARN : UVOTEL_DIAG_INFO,
                       "otlp_http: partial success: %lld span(s) rejected: %s", (long long)rj, msg);
    if (rj > 0) rejected = (uint64_t)rj;
  }
  opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
      r, &g_pb_alloc);
  return rejected;
}

static void transfer_done(uvotel__otlp_transport_t *t, slot_t *s, CURLcode rc) {
  uvotel__otlp_job_t *job = s->job;
  long code = 0;
  curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
  int retry = 0;
  char why[CURL_ERROR_SIZE + 64];
  if (rc == CURLE_OK && code >= 200 && code < 300) {
    uint64_t rejected = read_partial_success(t, s);
    s->job = NULL;
    s->state = SLOT_IDLE;
    finish_job(t, job, DONE_OK, rejected, 0);
    return;
  }
  if (rc == CURLE_OK) {
    uv_mutex_lock(&t->mu);
    t->stats.http_errors++;
    uv_mutex_unlock(&t->mu);
    retry = retryable_status(code);
    snprintf(why, sizeof why, "HTTP %ld", code);
  } else {
    uv_mutex_lock(&t->mu);
    t->stats.transport_errors++;
    uv_mutex_unlock(&t->mu);
    retry = retryable_curl(rc);
    snprintf(why, sizeof why, "%s%s%s", curl_easy_strerror(rc), s->errbuf[0] ? ": " : "",
             s->errbuf);
  }
  if (!retry || t->aborting) {
    s->job = NULL;
    s->state = SLOT_IDLE;
    fail_job(t, job, why);
    return;
  }
  uint64_t delay_ms;
  if (s->retry_after_ms >= 0) {
    delay_ms = (uint64_t)s->retry_after_ms;
  } else {
    /* OpenTelemetry Java's schedule: 1 s, x1.5 per attempt, capped at 5 s; jitter 0.8x..1.2x.
     * Three failures in a row cost at most 1.2 * (1 + 1.5 + 2.25) = 5.7 s, inside the default
     * 10 s export timeout. */
    uint64_t base = t->cfg.retry_initial_ms;
    for (unsigned i = 1; i < job->attempts && base < t->cfg.retry_max_ms; i++) base += base / 2;
    if (base > t->cfg.retry_max_ms) base = t->cfg.retry_max_ms;
    delay_ms = base - base / 5 + rand_u64(t) % (base / 5 * 2 + 1);
  }
  uint64_t now = uv_hrtime();
  if (now + delay_ms * 1000000ull >= job->deadline_ns) {
    char why2[sizeof why + 64];
    snprintf(why2, sizeof why2, "%s; next retry (in %llu ms) would pass the export timeout", why,
             (unsigned long long)delay_ms);
    s->job = NULL;
    s->state = SLOT_IDLE;
    fail_job_rc(t, job, UVOTEL_ETIMEDOUT, why2);
    return;
  }
  uvotel__otlp_log(&t->cfg, UVOTEL_DIAG_DEBUG, "otlp_http: %s; retrying in %llu ms", why,
                   (unsigned long long)delay_ms);
  s->state = SLOT_BACKOFF;
  uv_timer_start(&s->timer, on_backoff, delay_ms, 0);
}

static void check_multi_info(uvotel__otlp_transport_t *t) {
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(t->multi, &left)) != NULL) {
    if (m->msg != CURLMSG_DONE) continue;
    CURL *e = m->easy_handle;
    CURLcode rc = m->data.result;
    slot_t *s = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&s);
    curl_multi_remove_handle(t->multi, e);
    transfer_done(t, s, rc);
  }
  pump(t);
}

static void pump(uvotel__otlp_transport_t *t) {
  if (t->aborting) return;
  for (unsigned i = 0; i < t->n_slots && t->ready_head != NULL; i++) {
    slot_t *s = &t->slots[i];
    if (s->state != SLOT_IDLE) continue;
    uvotel__otlp_job_t *job = t->ready_head;
    t->ready_head = job->next;
    if (t->ready_head == NULL) t->ready_tail = NULL;
    job->next = NULL;
    s->job = job;
    start_send(s);
  }
}

/* ---- encoding on the thread pool ---- */

/* Replace the job's body with its gzip compression: 0, or the error with the body kept. */
static int gzip_body(uvotel__otlp_job_t *job) {
  uint8_t *z;
  size_t zn;
  int rc = uvotel__otlp_gzip(job->body, job->body_len, &z, &zn);
  if (rc == 0) {
    body_free(job);
    job->body = z;
    job->body_len = zn;
  }
  return rc;
}

static void encode_work(uv_work_t *w) {
  uvotel__otlp_job_t *job = (uvotel__otlp_job_t *)((char *)w - offsetof(uvotel__otlp_job_t, work));
  const uvotel__otlp_config_t *cfg = &job->t->cfg;
  job->encode_err = job->encode(job, cfg);
  if (job->encode_err == 0) {
    job->raw_len = job->body_len;
    job->ready = 1;
    if (cfg->gzip) job->encode_err = gzip_body(job);
  }
}

static void encode_done(uv_work_t *w, int status) {
  uvotel__otlp_job_t *job = (uvotel__otlp_job_t *)((char *)w - offsetof(uvotel__otlp_job_t, work));
  uvotel__otlp_transport_t *t = job->t;
  t->encoding--;
  if (status != 0 || t->aborting) {
    fail_job(t, job, "exporter shut down before the batch was sent");
  } else if (job->encode_err != 0) {
    fail_job(t, job, "encoding failed");
  } else {
    job->next = NULL;
    if (t->ready_tail)
      t->ready_tail->next = job;
    else
      t->ready_head = job;
    t->ready_tail = job;
    pump(t);
  }
  if (t->aborting && t->encoding == 0) uv_async_send(&t->wake); /* finish the teardown */
}

/* ---- thread, wake-ups, teardown ---- */

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (uv_is_closing(h)) return;
  if (h->type == UV_POLL) {
    uv_poll_stop((uv_poll_t *)h);
    h->data = NULL;
    uv_close(h, on_poll_close);
  } else {
    uv_close(h, on_closed);
  }
}

static void teardown(uvotel__otlp_transport_t *t) {
  t->closing = 1;
  for (unsigned i = 0; i < t->n_slots; i++) {
    slot_t *s = &t->slots[i];
    uv_timer_stop(&s->timer);
    if (s->state == SLOT_SENDING) curl_multi_remove_handle(t->multi, s->easy);
    if (s->job != NULL) {
      uvotel__otlp_job_t *job = s->job;
      s->job = NULL;
      fail_job_rc(t, job, UVOTEL_ESHUTDOWN, "abandoned at shutdown deadline");
    }
    s->state = SLOT_IDLE;
  }
  while (t->ready_head != NULL) {
    uvotel__otlp_job_t *job = t->ready_head;
    t->ready_head = job->next;
    fail_job_rc(t, job, UVOTEL_ESHUTDOWN, "abandoned at shutdown deadline");
  }
  t->ready_tail = NULL;
  curl_multi_cleanup(t->multi); /* may report CURL_POLL_REMOVE for cached connections */
  t->multi = NULL;
  for (unsigned i = 0; i < t->n_slots; i++) {
    curl_easy_cleanup(t->slots[i].easy);
    t->slots[i].easy = NULL;
  }
  uv_walk(&t->loop, close_walk, NULL);
}

static void on_wake(uv_async_t *h) {
  uvotel__otlp_transport_t *t = h->data;
  if (t->closing) return;
  uv_mutex_lock(&t->mu);
  uvotel__otlp_job_t *list = t->inbox_head;
  t->inbox_head = t->inbox_tail = NULL;
  int abort = t->abort_requested;
  uv_mutex_unlock(&t->mu);
  if (abort) t->aborting = 1;
  while (list != NULL) {
    uvotel__otlp_job_t *job = list;
    list = job->next;
    job->next = NULL;
    if (t->aborting) {
      fail_job_rc(t, job, UVOTEL_ESHUTDOWN, "exporter shut down before the batch was sent");
      continue;
    }
    if (job->ready) {
      if (t->ready_tail)
        t->ready_tail->next = job;
      else
        t->ready_head = job;
      t->ready_tail = job;
      continue;
    }
    t->encoding++;
    if (uv_queue_work(&t->loop, &job->work, encode_work, encode_done) != 0) {
      t->encoding--;
      fail_job(t, job, "uv_queue_work failed");
    }
  }
  /* Encodes already on the thread pool finish (they take microseconds) and fail in
   * encode_done, whose last one wakes us again for the teardown. */
  if (t->aborting && t->encoding == 0)
    teardown(t);
  else
    pump(t);
}

static void thread_main(void *arg) {
  uvotel__otlp_transport_t *t = arg;
#ifdef __linux__
  prctl(PR_SET_NAME, "uvotel-otlp", 0, 0, 0); /* named for top, perf and bench_otlp's split */
#endif
  uv_run(&t->loop, UV_RUN_DEFAULT);
}

int uvotel__otlp_transport_create(uvotel__otlp_config_t *cfg, uvotel__otlp_transport_t **out) {
  if (cfg == NULL || out == NULL || cfg->url == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  uv_once(&g_curl_once, curl_init_once);
  if (g_curl_rc != 0) return UVOTEL_EIO;
  uvotel__otlp_transport_t *t = uvotel_calloc(1, sizeof *t);
  if (t == NULL) return UVOTEL_ENOMEM;
  t->cfg = *cfg;
  t->pid = getpid();
  t->rng = uv_hrtime() | 1;
  t->n_slots = cfg->max_concurrent ? cfg->max_concurrent : 1;
  int rc = UVOTEL_ENOMEM;
  t->slots = uvotel_calloc(t->n_slots, sizeof *t->slots);
  if (t->slots == NULL) goto fail_mem;

  struct curl_slist *h = NULL, *tmp;
#define ADD(line)                                                   \
  do {                                                              \
    if ((tmp = curl_slist_append(h, line)) == NULL) goto fail_hdrs; \
    h = tmp;                                                        \
  } while (0)
  ADD(cfg->json ? "Content-Type: application/json" : "Content-Type: application/x-protobuf");
  ADD("Expect:"); /* no 100-continue round trip for bodies over 1 KiB */
  if (cfg->gzip) ADD("Content-Encoding: gzip");
  for (size_t i = 0; i < cfg->n_headers; i++) ADD(cfg->headers[i]);
#undef ADD
  t->hdrs = h;

  t->multi = curl_multi_init();
  if (t->multi == NULL) goto fail_hdrs;
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
  curl_multi_setopt(t->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)t->n_slots);
  curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)t->n_slots);

  for (unsigned i = 0; i < t->n_slots; i++) {
    slot_t *s = &t->slots[i];
    s->t = t;
    s->easy = curl_easy_init();
    if (s->easy == NULL) goto fail_easy;
    CURL *e = s->easy;
    curl_easy_setopt(e, CURLOPT_URL, t->cfg.url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->hdrs);
    /* The OTLP exporter specification's recommended form: OTel-OTLP-Exporter-<lang>/<version>. */
    curl_easy_setopt(e, CURLOPT_USERAGENT, "OTel-OTLP-Exporter-C/" UVOTEL_VERSION_STRING);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(e, CURLOPT_PRIVATE, s);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (t->cfg.ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, t->cfg.ca_file);
    if (t->cfg.client_cert) curl_easy_setopt(e, CURLOPT_SSLCERT, t->cfg.client_cert);
    if (t->cfg.client_key) curl_easy_setopt(e, CURLOPT_SSLKEY, t->cfg.client_key);
  }

  if (uv_loop_init(&t->loop) != 0) goto fail_easy;
  uv_async_init(&t->loop, &t->wake, on_wake);
  t->wake.data = t;
  uv_timer_init(&t->loop, &t->curl_timer);
  t->curl_timer.data = t;
  for (unsigned i = 0; i < t->n_slots; i++) {
    uv_timer_init(&t->loop, &t->slots[i].timer);
    t->slots[i].timer.data = &t->slots[i];
  }
  if (uv_mutex_init(&t->mu) != 0) goto fail_loop;
  if (uv_cond_init(&t->cv) != 0) {
    uv_mutex_destroy(&t->mu);
    goto fail_loop;
  }
  if (uv_thread_create(&t->thread, thread_main, t) != 0) {
    uv_cond_destroy(&t->cv);
    uv_mutex_destroy(&t->mu);
    rc = UVOTEL_EIO;
    goto fail_loop;
  }
  memset(cfg, 0, sizeof *cfg);
  *out = t;
  return 0;

fail_loop:
  uv_walk(&t->loop, close_walk, NULL);
  uv_run(&t->loop, UV_RUN_DEFAULT);
  uv_loop_close(&t->loop);
fail_easy:
  for (unsigned i = 0; i < t->n_slots; i++)
    if (t->slots[i].easy) curl_easy_cleanup(t->slots[i].easy);
  if (t->multi) curl_multi_cleanup(t->multi);
fail_hdrs:
  curl_slist_free_all(h);
fail_mem:
  uvotel_free(t->slots);
  uvotel_free(t);
  return rc;
}

static int forked(const uvotel__otlp_transport_t *t) {
  return t->pid != getpid();
}

int uvotel__otlp_transport_submit(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job,
                                  uint64_t wait_ms) {
  if (t == NULL || job == NULL || job->release == NULL || (!job->ready && job->encode == NULL))
    return UVOTEL_EINVAL;
  if (forked(t)) {
    t->stats.spans_dropped += job->n_spans; /* child's own copy of the counters */
    return UVOTEL_ESTATE;
  }
  uv_mutex_lock(&t->mu);
  if (t->shut) {
    uv_mutex_unlock(&t->mu);
    return UVOTEL_ESHUTDOWN;
  }
  if (t->pending >= t->cfg.max_queue_batches && wait_ms > 0) {
    /* back-pressure: the caller is a pool thread of the batch processor, never the loop */
    uint64_t deadline = uv_hrtime() + wait_ms * 1000000ull;
    while (t->pending >= t->cfg.max_queue_batches && !t->shut) {
      uint64_t now = uv_hrtime();
      if (now >= deadline) break;
      uv_cond_timedwait(&t->cv, &t->mu, deadline - now);
    }
    if (t->shut) {
      uv_mutex_unlock(&t->mu);
      return UVOTEL_ESHUTDOWN;
    }
  }
  if (t->pending >= t->cfg.max_queue_batches) {
    t->stats.spans_dropped += job->n_spans;
    uv_mutex_unlock(&t->mu);
    return UVOTEL_EBUSY;
  }
  job->t = t;
  job->next = NULL;
  job->attempts = 0;
  job->encode_err = 0;
  if (!job->ready) {
    job->body = NULL;
    job->body_hold = NULL;
    job->body_len = job->raw_len = 0;
  }
  if (t->inbox_tail)
    t->inbox_tail->next = job;
  else
    t->inbox_head = job;
  t->inbox_tail = job;
  t->pending++;
  t->submitted++;
  /* under the lock: shutdown cannot have the thread close `wake` before this send */
  uv_async_send(&t->wake);
  uv_mutex_unlock(&t->mu);
  return 0;
}

/* Wait (t->mu held) until `target` jobs finished or the absolute deadline. */
static int wait_finished(uvotel__otlp_transport_t *t, uint64_t target, uint64_t deadline_ns) {
  while (t->finished < target) {
    uint64_t now = uv_hrtime();
    if (now >= deadline_ns) return UVOTEL_ETIMEDOUT;
    uv_cond_timedwait(&t->cv, &t->mu, deadline_ns - now);
  }
  return 0;
}

int uvotel__otlp_transport_flush(uvotel__otlp_transport_t *t, uint64_t timeout_ms) {
  if (t == NULL) return UVOTEL_EINVAL;
  if (forked(t)) return UVOTEL_ESTATE;
  uint64_t deadline = uv_hrtime() + timeout_ms * 1000000ull;
  uv_mutex_lock(&t->mu);
  int rc = wait_finished(t, t->submitted, deadline);
  uv_mutex_unlock(&t->mu);
  return rc;
}

int uvotel__otlp_transport_shutdown(uvotel__otlp_transport_t *t, uint64_t timeout_ms) {
  if (t == NULL) return UVOTEL_EINVAL;
  if (forked(t)) {
    if (t->shut) return UVOTEL_ESHUTDOWN;
    t->shut = 1; /* the parent's thread and sockets are not ours to touch */
    return 0;
  }
  uint64_t deadline = uv_hrtime() + timeout_ms * 1000000ull;
  uv_mutex_lock(&t->mu);
  if (t->shut) {
    uv_mutex_unlock(&t->mu);
    return UVOTEL_ESHUTDOWN;
  }
  t->shut = 1;
  uv_cond_broadcast(&t->cv); /* exports waiting for room give up */
  int rc = wait_finished(t, t->submitted, deadline);
  t->abort_requested = 1;
  uv_mutex_unlock(&t->mu);
  uv_async_send(&t->wake);
  uv_thread_join(&t->thread);
  t->joined = 1;
  uv_loop_close(&t->loop);
  return rc;
}

void uvotel__otlp_transport_free(uvotel__otlp_transport_t *t) {
  if (t == NULL) return;
  if (forked(t)) {
    /* Memory only: the loop, curl handles and sockets mirror the parent's and stay untouched. */
    uvotel__otlp_config_free(&t->cfg);
    uvotel_free(t->slots);
    uvotel_free(t);
    return;
  }
  if (!t->joined) {
    if (!t->shut) uvotel__otlp_transport_shutdown(t, 0);
  }
  for (unsigned i = 0; i < t->n_slots; i++) uvotel_free(t->slots[i].resp);
  curl_slist_free_all(t->hdrs);
  uv_cond_destroy(&t->cv);
  uv_mutex_destroy(&t->mu);
  uvotel__otlp_config_free(&t->cfg);
  uvotel_free(t->slots);
  uvotel_free(t);
}

void uvotel__otlp_transport_stats(uvotel__otlp_transport_t *t, uvotel_otlp_http_stats_t *out) {
  if (t == NULL || out == NULL) return;
  if (forked(t)) {
    *out = t->stats;
    return;
  }
  uv_mutex_lock(&t->mu);
  *out = t->stats;
  uv_mutex_unlock(&t->mu);
}

const uvotel__otlp_config_t *uvotel__otlp_transport_config(const uvotel__otlp_transport_t *t) {
  return t ? &t->cfg : NULL;
}

/* ---- what the span and the log exporter share ---- */

/* The longest an export waits for room in a full exporter queue. A processor whose shutdown
 * timed out frees its exporter only after its in-flight exports return, so this bounds how long
 * a provider's free can hang behind a collector that stopped answering. */
#define ROOM_WAIT_MAX_MS 1000u

typedef struct done_job_s {
  uvotel__otlp_job_t job;
  uvotel_export_completion_t done; /* copied: the caller's struct is only borrowed */
} done_job_t;

/* On the exporter thread when the batch is finished, whatever the outcome: the result reaches
 * the caller (the batch processor's completion) and the job is freed. */
static void release_done_job(uvotel__otlp_job_t *job) {
  done_job_t *dj = (done_job_t *)job;
  uvotel_export_completion_t done = dj->done;
  int result = job->result;
  size_t rejected = (size_t)job->rejected;
  uvotel_free(dj);
  if (done.done != NULL) done.done(done.arg, result, rejected);
}

uvotel__otlp_job_t *uvotel__otlp_job_new(size_t n, uint64_t timeout_ms) {
  done_job_t *dj = uvotel_calloc(1, sizeof *dj);
  if (dj == NULL) return NULL;
  dj->job.release = release_done_job;
  dj->job.n_spans = n;
  dj->job.timeout_ms = timeout_ms;
  return &dj->job;
}

int uvotel__otlp_job_send(uvotel__otlp_transport_t *t, uvotel__otlp_job_t *job, int encode_rc,
                          const uvotel_export_completion_t *completion) {
  done_job_t *dj = (done_job_t *)job;
  const uvotel__otlp_config_t *cfg = uvotel__otlp_transport_config(t);
  int rc = encode_rc;
  if (rc == 0) {
    job->raw_len = job->body_len;
    if (cfg->gzip) {
      rc = gzip_body(job);
      if (rc != 0) {
        uvotel__otlp_log(cfg, UVOTEL_DIAG_ERROR, "otlp_http: compressing %zu items failed: %s",
                         job->n_spans, uvotel_strerror(rc));
      }
    }
  }
  if (rc == 0) {
    job->ready = 1;
    dj->done = *completion;
    uint64_t wait = job->timeout_ms < ROOM_WAIT_MAX_MS ? job->timeout_ms : ROOM_WAIT_MAX_MS;
    rc = uvotel__otlp_transport_submit(t, job, wait);
    if (rc == 0) return 0;
  }
  body_free(job);
  uvotel_free(dj);
  return rc;
}

typedef struct waiter_s {
  uv_mutex_t mu;
  uv_cond_t cv;
  int done;
  int result;
  size_t rejected;
} waiter_t;

static void waiter_done(void *arg, int result, size_t rejected) {
  waiter_t *w = arg;
  uv_mutex_lock(&w->mu);
  w->result = result;
  w->rejected = rejected;
  w->done = 1;
  uv_cond_signal(&w->cv);
  uv_mutex_unlock(&w->mu);
}

int uvotel__otlp_export_wait(int (*start)(void *ctx, const uvotel_export_completion_t *c),
                             void *ctx) {
  waiter_t w;
  memset(&w, 0, sizeof w);
  if (uv_mutex_init(&w.mu) != 0) return UVOTEL_ENOMEM;
  if (uv_cond_init(&w.cv) != 0) {
    uv_mutex_destroy(&w.mu);
    return UVOTEL_ENOMEM;
  }
  uvotel_export_completion_t c = {waiter_done, &w};
  int rc = start(ctx, &c);
  if (rc == 0) {
    uv_mutex_lock(&w.mu);
    while (!w.done) uv_cond_wait(&w.cv, &w.mu);
    uv_mutex_unlock(&w.mu);
    rc = w.result != 0 ? w.result : w.rejected > 0 ? UVOTEL_EIO : 0;
  }
  uv_cond_destroy(&w.cv);
  uv_mutex_destroy(&w.mu);
  return rc;
}
