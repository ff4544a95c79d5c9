/* A plain libuv program (no uvotel header, not linked with uvotel) that keeps its own values in
 * every word of its uv_work_t requests a program can write before queueing them: `data` and
 * all six `reserved` words (libuv on Unix never touches those, so a program can use them as
 * extra pointers, as programs do with a handle's u.reserved). It checks them, and the fields
 * uv_queue_work sets (loop, type, work_cb, after_work_cb), on the pool thread in work_cb, in
 * after_work_cb, when a request is queued again from its own after_work_cb, while one is
 * cancelled from the queue, and after each completed. A wrong word is printed as "BAD ...".
 *
 * The pool is set to 2 threads (UV_THREADPOOL_SIZE) and both are held by blocking items while
 * the request to cancel waits in the queue, so uv_cancel answers 0 in every run.
 * test_preload_work_stash runs it plain, under the preload and built with uv_redirect.h; the
 * three print the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "pool_hold.h"

#define ITEMS 8

typedef struct item_s {
  uv_work_t req;
  int idx;
  int rounds;  /* completed */
  int work_ok; /* written by the pool thread in work_cb, read after (libuv orders them) */
} item_t;

static uv_loop_t *loop;
static item_t items[ITEMS];
static item_t cancelled;
static int bad;

/* The value item idx keeps in word w (0: data, 1..6: reserved[0..5]). */
static void *mark_of(const item_t *it, int w) {
  return (void *)((uintptr_t)it + 0x100u * (uintptr_t)(w + 1));
}

static void mark(item_t *it) {
  it->req.data = mark_of(it, 0);
  for (int w = 0; w < 6; w++) it->req.reserved[w] = mark_of(it, w + 1);
}

/* How many of the program's words differ (each said on stdout when say). */
static int check_words(const item_t *it, const char *where, int say) {
  int n = 0;
  if (it->req.data != mark_of(it, 0)) {
    n++;
    if (say) printf("BAD item %d %s: data\n", it->idx, where);
  }
  for (int w = 0; w < 6; w++) {
    if (it->req.reserved[w] != mark_of(it, w + 1)) {
      n++;
      if (say) printf("BAD item %d %s: reserved[%d]\n", it->idx, where, w);
    }
  }
  return n;
}

static void on_work(uv_work_t *req);
static void on_after(uv_work_t *req, int status);

static int check_set(const item_t *it) {
  return it->req.loop == loop && it->req.type == UV_WORK && it->req.work_cb == on_work &&
         it->req.after_work_cb == on_after;
}

static void on_work(uv_work_t *req) {
  item_t *it = (item_t *)req; /* req is the first member */
  it->work_ok = check_words(it, "work_cb", 0) == 0 && check_set(it);
}

static void on_after(uv_work_t *req, int status) {
  item_t *it = (item_t *)req;
  char where[64];
  snprintf(where, sizeof where, "after_work_cb round %d", it->rounds + 1);
  bad += check_words(it, where, 1);
  if (!check_set(it)) {
    printf("BAD item %d %s: the fields uv_queue_work sets\n", it->idx, where);
    bad++;
  }
  if (it == &cancelled) {
    printf("cancelled item %s\n", uv_err_name(status));
    return;
  }
  if (status != 0 || !it->work_ok) {
    printf("BAD item %d %s: status %d, work_cb saw %s\n", it->idx, where, status,
           it->work_ok ? "its words" : "other words");
    bad++;
  }
  it->work_ok = 0;
  if (++it->rounds < 2) {
    int err = uv_queue_work(loop, req, on_work, on_after); /* again, from its own callback */
    if (err != 0) {
      printf("BAD item %d: queued again: %s\n", it->idx, uv_err_name(err));
      bad++;
    }
    bad += check_words(it, "queued again", 1);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  loop = uv_default_loop();

  /* The cancel: both pool threads held, so the next request stays queued. */
  if (pool_hold(loop) != 0) return 1;
  cancelled.idx = -1;
  mark(&cancelled);
  if (uv_queue_work(loop, &cancelled.req, on_work, on_after) != 0) return 1;
  bad += check_words(&cancelled, "queued", 1);
  int err = uv_cancel((uv_req_t *)&cancelled.req);
  printf("cancel %s\n", err == 0 ? "0" : uv_err_name(err));
  bad += check_words(&cancelled, "cancelled", 1);
  pool_release();

  for (int i = 0; i < ITEMS; i++) {
    items[i].idx = i;
    mark(&items[i]);
    if (uv_queue_work(loop, &items[i].req, on_work, on_after) != 0) return 1;
    bad += check_words(&items[i], "queued", 1);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int rounds = 0;
  for (int i = 0; i < ITEMS; i++) {
    bad += check_words(&items[i], "done", 1);
    rounds += items[i].rounds;
  }
  bad += check_words(&cancelled, "done", 1);
  printf("rounds %d\n", rounds);
  printf("bad %d\n", bad);
  printf("loop close %d\n", uv_loop_close(loop));
  pool_hold_free();
  return bad == 0 ? 0 : 1;
}
