/* libcurl's multi interface driven by the service's libuv loop: curl tells us which sockets to
 * watch (uvotel_poll_*) and when to wake it (a uv_timer through uvotel_timer_start); finished
 * transfers are handed to their owner's callback.
 *
 * Context: curl starts and stops its sockets' polls from inside its own callbacks, where the
 * current context is whichever transfer curl happened to be driving. Each transfer keeps the
 * context of curl_loop_add, and uvotel_poll_adopt gives a socket the context of the transfer
 * that owns it (one call, again whenever a reused connection changes hands), so everything a
 * socket's events run -- curl's callbacks, the done callback -- is under the right request. */
#include <stdlib.h>

#include "http_service.h"

struct curl_loop_s {
  uv_loop_t *loop;
  CURLM *multi;
  uv_timer_t timer;
  int closing;
};

typedef struct poll_ctx_s {
  uv_poll_t poll;
  curl_socket_t fd;
  curl_loop_t *cl;
  unsigned long owner; /* id of the transfer whose context the poll was given (0: none) */
} poll_ctx_t;

typedef struct done_call_s {
  curl_transfer_t *t;
  CURLcode result;
  long code;
} done_call_t;

static void *run_done(void *arg) {
  done_call_t *d = arg;
  d->t->done(d->t, d->result, d->code);
  return NULL;
}

static void check_done(curl_loop_t *cl) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    curl_transfer_t *t = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
    curl_multi_remove_handle(cl->multi, easy);
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (t == NULL || t->done == NULL) continue;
    /* A transfer completed by the timer (a timeout) is not on its own socket: run done in the
     * transfer's context either way. */
    uvotel_snapshot_t *ctx = t->ctx;
    t->ctx = NULL;
    done_call_t d = {t, result, code};
    if (ctx != NULL) {
      (void)uvotel_snapshot_run(ctx, run_done, &d);
    } else {
      run_done(&d);
    }
    uvotel_snapshot_release(ctx);
  }
}

static void on_poll_closed(uv_handle_t *h) {
  free(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  poll_ctx_t *p = h->data;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  int running;
  curl_multi_socket_action(p->cl->multi, p->fd, flags, &running);
  check_done(p->cl);
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp) {
  curl_loop_t *cl = userp;
  poll_ctx_t *p = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (p != NULL) {
      uvotel_poll_stop(&p->poll);
      uvotel_close((uv_handle_t *)&p->poll, on_poll_closed);
      curl_multi_assign(cl->multi, s, NULL);
    }
    return 0;
  }
  if (p == NULL) {
    p = calloc(1, sizeof *p);
    if (p == NULL) return -1;
    p->fd = s;
    p->cl = cl;
    if (uvotel_poll_init_socket(cl->loop, &p->poll, s) != 0) {
      free(p);
      return -1;
    }
    p->poll.data = p;
    curl_multi_assign(cl->multi, s, p);
  }
  int ev = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
  curl_transfer_t *t = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
  if (t != NULL && t->id != p->owner && t->ctx != NULL) {
    p->owner = t->id;
    (void)uvotel_poll_adopt(&p->poll, t->ctx); /* the socket now serves t */
  }
  uvotel_poll_start(&p->poll, ev, on_poll);
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  curl_loop_t *cl = t->data;
  int running;
  curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(cl);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  curl_loop_t *cl = userp;
  if (cl->closing) return 0;
  if (timeout_ms < 0) {
    uvotel_timer_stop(&cl->timer);
  } else {
    uvotel_timer_start(&cl->timer, on_timeout, (uint64_t)timeout_ms, 0);
  }
  return 0;
}

curl_loop_t *curl_loop_create(uv_loop_t *loop) {
  curl_loop_t *cl = calloc(1, sizeof *cl);
  if (cl == NULL) return NULL;
  cl->loop = loop;
  cl->multi = curl_multi_init();
  if (cl->multi == NULL || uv_timer_init(loop, &cl->timer) != 0) {
    if (cl->multi != NULL) curl_multi_cleanup(cl->multi);
    free(cl);
    return NULL;
  }
  cl->timer.data = cl;
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
  curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
  curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
  return cl;
}

int curl_loop_add(curl_loop_t *cl, CURL *easy, curl_transfer_t *t) {
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)t);
  static unsigned long next_id;
  t->id = ++next_id; /* not the address: a new transfer may reuse a finished one's memory */
  t->ctx = uvotel_snapshot_capture();
  if (curl_multi_add_handle(cl->multi, easy) == CURLM_OK) return 0;
  uvotel_snapshot_release(t->ctx);
  t->ctx = NULL;
  return -1;
}

void curl_loop_remove(curl_loop_t *cl, CURL *easy) {
  curl_transfer_t *t = NULL;
  curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t);
  if (t != NULL) {
    uvotel_snapshot_release(t->ctx);
    t->ctx = NULL;
  }
  curl_multi_remove_handle(cl->multi, easy);
}

static void on_timer_closed(uv_handle_t *h) {
  curl_loop_t *cl = h->data;
  free(cl);
}

void curl_loop_close(curl_loop_t *cl) {
  cl->closing = 1;
  curl_multi_cleanup(cl->multi); /* removes the sockets (sock_cb closes their polls) */
  uvotel_close((uv_handle_t *)&cl->timer, on_timer_closed);
}
