/* A plain libuv program (no uvotel header, not linked with uvotel) that keeps its own values in
 * words of its uv_fs_t requests: `data`, the six `reserved` words, and the private `atime` and
 * `mtime` (raw byte patterns: libuv on Unix touches those two only for the utime family, and
 * uvotel keeps a block address and a tag in them while a wrapped request is in flight). It checks
 * them, and that `cb` holds its own callback (what raw libuv leaves there), in every callback:
 * chains that reuse each request from its own callback (open, read, fstat, close, stat, access,
 * scandir, realpath), a request cancelled from the queue, and a utime request, whose fields
 * libuv sets to the given times. A wrong word is printed as "BAD ...".
 *
 * The pool is set to 2 threads (UV_THREADPOOL_SIZE) and both are held by blocking work items
 * while the request to cancel (an access, never an io_uring request) waits in the queue, so
 * uv_cancel answers 0 in every run. test_preload_fs_stash runs it plain, under the preload and
 * built with uv_redirect.h; the three print the same. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "pool_hold.h"

#define ITEMS 4
#define STEPS 8

typedef struct item_s {
  uv_fs_t req;
  int idx;
  int step; /* completed */
  uv_file fd;
  char buf[16];
} item_t;

static uv_loop_t *loop;
static const char *self; /* a file to open and read: this program */
static char tmp_file[64];
static item_t items[ITEMS];
static item_t cancelled;
static item_t utime_item;
static int bad;

/* The value item it keeps in word w (0: data, 1..6: reserved[0..5], 7: atime, 8: mtime). */
static uint64_t mark_of(const item_t *it, int w) {
  return ((uint64_t)(uintptr_t)it + 0x100u * (uint64_t)(w + 1)) ^ 0x7FF8000000000000ull;
}

static void mark(item_t *it) {
  it->req.data = (void *)(uintptr_t)mark_of(it, 0);
  for (int w = 0; w < 6; w++) it->req.reserved[w] = (void *)(uintptr_t)mark_of(it, w + 1);
  uint64_t a = mark_of(it, 7), m = mark_of(it, 8);
  memcpy(&it->req.atime, &a, sizeof a);
  memcpy(&it->req.mtime, &m, sizeof m);
}

/* How many of the program's words differ (each said on stdout). times: also atime/mtime. */
static int check_words(const item_t *it, const char *where, int times) {
  int n = 0;
  if ((uintptr_t)it->req.data != (uintptr_t)mark_of(it, 0)) {
    n++;
    printf("BAD item %d %s: data\n", it->idx, where);
  }
  for (int w = 0; w < 6; w++) {
    if ((uintptr_t)it->req.reserved[w] != (uintptr_t)mark_of(it, w + 1)) {
      n++;
      printf("BAD item %d %s: reserved[%d]\n", it->idx, where, w);
    }
  }
  uint64_t a, m;
  memcpy(&a, &it->req.atime, sizeof a);
  memcpy(&m, &it->req.mtime, sizeof m);
  if (times && (a != mark_of(it, 7) || m != mark_of(it, 8))) {
    n++;
    printf("BAD item %d %s: atime/mtime\n", it->idx, where);
  }
  return n;
}

static void on_step(uv_fs_t *req);

static int submit(item_t *it) {
  uv_buf_t b = uv_buf_init(it->buf, sizeof it->buf);
  switch (it->step) {
    case 0:
      return uv_fs_open(loop, &it->req, self, O_RDONLY, 0, on_step);
    case 1:
      return uv_fs_read(loop, &it->req, it->fd, &b, 1, 0, on_step);
    case 2:
      return uv_fs_fstat(loop, &it->req, it->fd, on_step);
    case 3:
      return uv_fs_close(loop, &it->req, it->fd, on_step);
    case 4:
      return uv_fs_stat(loop, &it->req, self, on_step);
    case 5:
      return uv_fs_access(loop, &it->req, self, R_OK, on_step);
    case 6:
      return uv_fs_scandir(loop, &it->req, "/", 0, on_step);
    default:
      return uv_fs_realpath(loop, &it->req, self, on_step);
  }
}

static void on_step(uv_fs_t *req) {
  item_t *it = (item_t *)req; /* req is the first member */
  char where[64];
  snprintf(where, sizeof where, "step %d callback", it->step);
  bad += check_words(it, where, 1);
  if (req->cb != on_step) {
    printf("BAD item %d %s: cb\n", it->idx, where);
    bad++;
  }
  if (req->result < 0) {
    printf("BAD item %d %s: %s\n", it->idx, where, uv_err_name((int)req->result));
    bad++;
  }
  if (it->step == 0) it->fd = (uv_file)req->result;
  uv_fs_req_cleanup(req);
  if (++it->step == STEPS) return;
  int err = submit(it); /* again, from its own callback */
  if (err != 0) {
    printf("BAD item %d: step %d: %s\n", it->idx, it->step, uv_err_name(err));
    bad++;
  }
}

static void on_cancelled(uv_fs_t *req) {
  item_t *it = (item_t *)req;
  bad += check_words(it, "cancelled callback", 1);
  printf("cancelled %s\n", uv_err_name((int)req->result));
  uv_fs_req_cleanup(req);
}

static void on_utime(uv_fs_t *req) {
  item_t *it = (item_t *)req;
  bad += check_words(it, "utime callback", 0);
  /* libuv set them to the times it was given */
  printf("utime %s %g %g\n", req->result == 0 ? "0" : uv_err_name((int)req->result), req->atime,
         req->mtime);
  uv_fs_req_cleanup(req);
}

int main(int argc, char **argv) {
  (void)argc;
  setvbuf(stdout, NULL, _IOLBF, 0);
  self = argv[0];
  loop = uv_default_loop();

  /* The cancel: both pool threads held, so the next request stays queued. */
  if (pool_hold(loop) != 0) return 1;
  cancelled.idx = -1;
  mark(&cancelled);
  if (uv_fs_access(loop, &cancelled.req, self, R_OK, on_cancelled) != 0) return 1;
  int err = uv_cancel((uv_req_t *)&cancelled.req);
  printf("cancel %s\n", err == 0 ? "0" : uv_err_name(err));
  pool_release();

  for (int i = 0; i < ITEMS; i++) {
    items[i].idx = i;
    mark(&items[i]);
    if (submit(&items[i]) != 0) return 1;
  }

  snprintf(tmp_file, sizeof tmp_file, "/tmp/fs_stash_%ld", (long)getpid());
  uv_fs_t sync;
  int fd = uv_fs_open(NULL, &sync, tmp_file, O_CREAT | O_WRONLY | O_TRUNC, 0644, NULL);
  uv_fs_req_cleanup(&sync);
  if (fd < 0) return 1;
  uv_fs_close(NULL, &sync, fd, NULL);
  uv_fs_req_cleanup(&sync);
  utime_item.idx = -2;
  mark(&utime_item);
  if (uv_fs_utime(loop, &utime_item.req, tmp_file, 11.0, 22.0, on_utime) != 0) return 1;

  uv_run(loop, UV_RUN_DEFAULT);
  int steps = 0;
  for (int i = 0; i < ITEMS; i++) {
    bad += check_words(&items[i], "done", 1);
    steps += items[i].step;
  }
  bad += check_words(&cancelled, "done", 1);
  if (uv_fs_stat(NULL, &sync, tmp_file, NULL) != 0 || sync.statbuf.st_mtim.tv_sec != 22) {
    printf("BAD utime: the file's mtime\n");
    bad++;
  }
  uv_fs_req_cleanup(&sync);
  uv_fs_unlink(NULL, &sync, tmp_file, NULL);
  uv_fs_req_cleanup(&sync);
  printf("steps %d\n", steps);
  printf("bad %d\n", bad);
  printf("loop close %d\n", uv_loop_close(loop));
  pool_hold_free();
  return bad == 0 ? 0 : 1;
}
