/* File system requests: type "FSREQCALLBACK".
 *
 * Every asynchronous uv_fs_* call (cb != NULL) is one resource: init when the call succeeds,
 * before/after around its callback, destroy right after the callback. What the request needs
 * (the resource, the user's callback, the automatic fs span) is released before the callback
 * runs, so the callback may reuse the request at once (chained calls). A synchronous call
 * (cb == NULL) passes straight through.
 *
 * No side-table entry per request. A call takes a block (uvotel__fblk_t) from its loop's free
 * list, and the request's private `atime` and `mtime` fields hold the block's address and a tag
 * (address ^ request address ^ the table's secret, the one work.c's tags use) while it is in
 * flight: libuv on Unix writes and reads those two fields only in uv_fs_utime, uv_fs_futime and
 * uv_fs_lutime and their work functions (checked on libuv 1.44 and on v1.x at 1.52, whose
 * io_uring submissions in linux.c do not touch them either; Windows keeps its times elsewhere,
 * and uvotel builds on Unix only). The block keeps the request's own bytes of both fields, and
 * the trampoline puts them back, and the user's callback back in `cb`, before the callback runs:
 * from then on the request is what raw libuv leaves. The utime family keeps its state in the
 * side table as every other request kind does, and the trampoline looks a request up there
 * when its fields do not hold a valid tag (the times of a utime request do so with probability
 * 2^-64). A call never reads the fields it saves, so a program's uninitialised request is only
 * copied, never tested. A request submitted again while libuv still holds it (which libuv does
 * not allow) takes a second block that keeps the first one's tag; completions then take the
 * blocks back last one first. uvotel_cancel needs nothing: libuv cancels by the request's own
 * work record, and the callback then runs through the trampoline with UV_ECANCELED.
 * uvotel_uv_tracked counts the blocks in flight; a loop detached with blocks still in flight
 * (only when the program freed or overwrote a request libuv still held: uvotel_loop_close
 * refuses while libuv has requests) ends their resources and spans and frees them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

#define FBLK_POOL_CAP 256 /* free blocks kept per loop; the rest go back to the allocator */

_Static_assert(sizeof(((uv_fs_t *)0)->atime) == sizeof(uint64_t) &&
                   sizeof(((uv_fs_t *)0)->mtime) == sizeof(uint64_t),
               "a block address and a tag fit a request's atime and mtime");
_Static_assert(sizeof(uintptr_t) <= sizeof(uint64_t), "a block address fits 64 bits");
_Static_assert(offsetof(uv_fs_t, mtime) == offsetof(uv_fs_t, atime) + sizeof(uint64_t),
               "mtime follows atime");

static inline uvotel__ltab_head_t *head_of(uvotel__ltab_t *t) {
  return (uvotel__ltab_head_t *)(void *)t;
}

static inline uint64_t tag_of(const uvotel__ltab_head_t *t, uint64_t blk, const uv_fs_t *req) {
  return blk ^ (uint64_t)(uintptr_t)req ^ t->wq.secret;
}

/* The block req is in flight in on t's loop, or NULL. */
static inline uvotel__fblk_t *blk_of(const uvotel__ltab_head_t *t, const uv_fs_t *req) {
  uint64_t a, m;
  memcpy(&a, &req->atime, sizeof a);
  memcpy(&m, &req->mtime, sizeof m);
  if (UVOTEL__LIKELY(m != tag_of(t, a, req))) return NULL;
  return (uvotel__fblk_t *)(uintptr_t)a;
}

static uvotel__fblk_t *blk_new(uvotel__fsq_t *q) {
  uvotel__fblk_t *b = uvotel_malloc(sizeof *b);
  if (b == NULL) return NULL;
  b->cb = NULL;
  b->all_next = q->all;
  b->all_pprev = &q->all;
  if (q->all != NULL) q->all->all_pprev = &b->all_next;
  q->all = b;
  return b;
}

static void blk_unlink_free(uvotel__fblk_t *b) {
  *b->all_pprev = b->all_next;
  if (b->all_next != NULL) b->all_next->all_pprev = b->all_pprev;
  uvotel_free(b);
}

/* A block that never went in flight (its request was refused) goes back. */
static inline void blk_unused(uvotel__fsq_t *q, uvotel__fblk_t *b) {
  if (UVOTEL__LIKELY(q->free_n < FBLK_POOL_CAP)) {
    b->next_free = q->free;
    q->free = b;
    q->free_n++;
  } else {
    blk_unlink_free(b);
  }
}

/* A block in flight is done with. */
static inline void blk_put(uvotel__fsq_t *q, uvotel__fblk_t *b) {
  b->cb = NULL;
  __atomic_store_n(&q->live, q->live - 1, __ATOMIC_RELAXED);
  blk_unused(q, b);
}

void uvotel__fsq_free(uvotel__fsq_t *q) {
  while (q->all != NULL) {
    uvotel__fblk_t *b = q->all;
    q->all = b->all_next;
    if (b->cb != NULL) {
      /* still in flight: the loop is detached under it */
      (void)uvotel_resource_emit_destroy(&b->res);
      if (b->span != NULL) uvotel_span_end(b->span);
    }
    uvotel_free(b);
  }
  q->free = NULL;
  q->free_n = 0;
  __atomic_store_n(&q->live, 0, __ATOMIC_RELAXED);
}

static void fs_tramp(uv_fs_t *req) {
  uvotel_resource_t res;
  void (*cb)(void);
  uvotel_span_t *span;
  uvotel__ltab_t *lt = uvotel__ltab(req->loop);
  uvotel__fblk_t *b = UVOTEL__LIKELY(lt != NULL) ? blk_of(head_of(lt), req) : NULL;
  if (UVOTEL__LIKELY(b != NULL)) {
    memcpy(&req->atime, &b->atime, sizeof b->atime);
    memcpy(&req->mtime, &b->mtime, sizeof b->mtime);
    res = b->res;
    cb = b->cb;
    span = b->span;
    blk_put(&head_of(lt)->fsq, b);
  } else if (UVOTEL__UNLIKELY(uvotel__req_take(req->loop, req, &res, &cb, &span) != 0)) {
    uvotel__no_state("fs");
    return;
  }
  req->cb = (uv_fs_cb)cb; /* as raw libuv leaves it */
  if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_fs_end(span, req);
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
  ((uv_fs_cb)cb)(req);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&res);
}

/* One wrapped call: the loop's table and the request's block. */
typedef struct fs_call_s {
  uvotel__ltab_head_t *t;
  uvotel__fblk_t *b;
} fs_call_t;

/* The table of loop, made when needed. NULL: out of memory. */
static inline uvotel__ltab_head_t *fs_table(uv_loop_t *loop) {
  uvotel__ltab_t *lt = uvotel__ltab(loop);
  if (UVOTEL__UNLIKELY(lt == NULL) && (lt = uvotel__ltab_make(loop)) == NULL) return NULL;
  return head_of(lt);
}

/* Take a block for the request before the libuv call, with the request's own bytes of the two
 * fields. -1: out of memory. */
static inline int fs_take(uv_loop_t *loop, uv_fs_t *req, fs_call_t *c) {
  uvotel__ltab_head_t *t = fs_table(loop);
  if (UVOTEL__UNLIKELY(t == NULL)) return -1;
  uvotel__fsq_t *q = &t->fsq;
  uvotel__fblk_t *b = q->free;
  if (UVOTEL__LIKELY(b != NULL)) {
    q->free = b->next_free;
    q->free_n--;
  } else if ((b = blk_new(q)) == NULL) {
    return -1;
  }
  memcpy(&b->atime, &req->atime, sizeof b->atime);
  memcpy(&b->mtime, &req->mtime, sizeof b->mtime);
  c->t = t;
  c->b = b;
  return 0;
}

/* After the libuv call: on success the block goes in flight (the tag is written, the resource
 * and the automatic span begin); on failure it goes back and nothing was raised. */
static inline int fs_begin(fs_call_t *c, uv_fs_t *req, uv_fs_cb cb, int err) {
  uvotel__fblk_t *b = c->b;
  uvotel__fsq_t *q = &c->t->fsq;
  if (UVOTEL__UNLIKELY(err != 0)) {
    blk_unused(q, b);
    return err;
  }
  __atomic_store_n(&q->live, q->live + 1, __ATOMIC_RELAXED);
  uint64_t a = (uint64_t)(uintptr_t)b, m = tag_of(c->t, a, req);
  memcpy(&req->atime, &a, sizeof a);
  memcpy(&req->mtime, &m, sizeof m);
  b->cb = (void (*)(void))cb;
  b->span = NULL;
  (void)uvotel_resource_init_owner(&b->res, "FSREQCALLBACK", 0, UVOTEL_RESOURCE_MANUAL_DESTROY,
                                   req);
  if (uvotel__auto_on(UVOTEL__AUTO_FS)) b->span = uvotel__auto_fs_start(req);
  return 0;
}

/* The utime family (libuv uses atime and mtime for its times): a side-table state, as other
 * request kinds have. */
static inline int fs_begin_table(uvotel__hs_t *s, int is_new, int err, uv_fs_t *req, uv_fs_cb cb) {
  err = uvotel__req_begin(s, is_new, err, req, (void (*)(void))cb, "FSREQCALLBACK", 0);
  if (err == 0 && uvotel__auto_on(UVOTEL__AUTO_FS)) uvotel__auto_fs_begin(s, req);
  return err;
}

UVOTEL__API void uvotel_fs_req_cleanup(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
}

UVOTEL__API int uvotel_fs_close(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_close(loop, req, file, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_close(loop, req, file, fs_tramp));
}

UVOTEL__API int uvotel_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, int mode,
                               uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_open(loop, req, path, flags, mode, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_open(loop, req, path, flags, mode, fs_tramp));
}

UVOTEL__API int uvotel_fs_read(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                               unsigned int nbufs, int64_t offset, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_read(loop, req, file, bufs, nbufs, offset, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_read(loop, req, file, bufs, nbufs, offset, fs_tramp));
}

UVOTEL__API int uvotel_fs_unlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_unlink(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_unlink(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_write(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                                unsigned int nbufs, int64_t offset, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_write(loop, req, file, bufs, nbufs, offset, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_write(loop, req, file, bufs, nbufs, offset, fs_tramp));
}

UVOTEL__API int uvotel_fs_copyfile(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                   const char *new_path, int flags, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_copyfile(loop, req, path, new_path, flags, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_copyfile(loop, req, path, new_path, flags, fs_tramp));
}

UVOTEL__API int uvotel_fs_mkdir(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkdir(loop, req, path, mode, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_mkdir(loop, req, path, mode, fs_tramp));
}

UVOTEL__API int uvotel_fs_mkdtemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkdtemp(loop, req, tpl, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_mkdtemp(loop, req, tpl, fs_tramp));
}

UVOTEL__API int uvotel_fs_mkstemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkstemp(loop, req, tpl, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_mkstemp(loop, req, tpl, fs_tramp));
}

UVOTEL__API int uvotel_fs_rmdir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_rmdir(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_rmdir(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_scandir(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags,
                                  uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_scandir(loop, req, path, flags, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_scandir(loop, req, path, flags, fs_tramp));
}

UVOTEL__API int uvotel_fs_opendir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_opendir(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_opendir(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_readdir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_readdir(loop, req, dir, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_readdir(loop, req, dir, fs_tramp));
}

UVOTEL__API int uvotel_fs_closedir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_closedir(loop, req, dir, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_closedir(loop, req, dir, fs_tramp));
}

UVOTEL__API int uvotel_fs_stat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_stat(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_stat(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_fstat(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fstat(loop, req, file, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_fstat(loop, req, file, fs_tramp));
}

UVOTEL__API int uvotel_fs_lstat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lstat(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_lstat(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_statfs(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_statfs(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_statfs(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_rename(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                 const char *new_path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_rename(loop, req, path, new_path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_rename(loop, req, path, new_path, fs_tramp));
}

UVOTEL__API int uvotel_fs_fsync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fsync(loop, req, file, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_fsync(loop, req, file, fs_tramp));
}

UVOTEL__API int uvotel_fs_fdatasync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fdatasync(loop, req, file, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_fdatasync(loop, req, file, fs_tramp));
}

UVOTEL__API int uvotel_fs_ftruncate(uv_loop_t *loop, uv_fs_t *req, uv_file file, int64_t offset,
                                    uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_ftruncate(loop, req, file, offset, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_ftruncate(loop, req, file, offset, fs_tramp));
}

UVOTEL__API int uvotel_fs_sendfile(uv_loop_t *loop, uv_fs_t *req, uv_file out_fd, uv_file in_fd,
                                   int64_t in_offset, size_t length, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_sendfile(loop, req, out_fd, in_fd, in_offset, length, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb,
                  uv_fs_sendfile(loop, req, out_fd, in_fd, in_offset, length, fs_tramp));
}

UVOTEL__API int uvotel_fs_access(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                 uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_access(loop, req, path, mode, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_access(loop, req, path, mode, fs_tramp));
}

UVOTEL__API int uvotel_fs_chmod(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_chmod(loop, req, path, mode, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_chmod(loop, req, path, mode, fs_tramp));
}

UVOTEL__API int uvotel_fs_fchmod(uv_loop_t *loop, uv_fs_t *req, uv_file file, int mode,
                                 uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fchmod(loop, req, file, mode, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_fchmod(loop, req, file, mode, fs_tramp));
}

UVOTEL__API int uvotel_fs_utime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime,
                                double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_utime(loop, req, path, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin_table(s, is_new, uv_fs_utime(loop, req, path, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_futime(uv_loop_t *loop, uv_fs_t *req, uv_file file, double atime,
                                 double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_futime(loop, req, file, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin_table(s, is_new, uv_fs_futime(loop, req, file, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_lutime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime,
                                 double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lutime(loop, req, path, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin_table(s, is_new, uv_fs_lutime(loop, req, path, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_link(uv_loop_t *loop, uv_fs_t *req, const char *path,
                               const char *new_path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_link(loop, req, path, new_path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_link(loop, req, path, new_path, fs_tramp));
}

UVOTEL__API int uvotel_fs_symlink(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                  const char *new_path, int flags, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_symlink(loop, req, path, new_path, flags, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_symlink(loop, req, path, new_path, flags, fs_tramp));
}

UVOTEL__API int uvotel_fs_readlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_readlink(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_readlink(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_realpath(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_realpath(loop, req, path, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_realpath(loop, req, path, fs_tramp));
}

UVOTEL__API int uvotel_fs_chown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid,
                                uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_chown(loop, req, path, uid, gid, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_chown(loop, req, path, uid, gid, fs_tramp));
}

UVOTEL__API int uvotel_fs_fchown(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_uid_t uid,
                                 uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fchown(loop, req, file, uid, gid, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_fchown(loop, req, file, uid, gid, fs_tramp));
}

UVOTEL__API int uvotel_fs_lchown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid,
                                 uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lchown(loop, req, path, uid, gid, cb);
  fs_call_t c;
  if (UVOTEL__UNLIKELY(fs_take(loop, req, &c) != 0)) return UV_ENOMEM;
  return fs_begin(&c, req, cb, uv_fs_lchown(loop, req, path, uid, gid, fs_tramp));
}
