/* File system requests: type "FSREQCALLBACK".
 *
 * Every asynchronous uv_fs_* call (cb != NULL) is one resource: init when the call succeeds,
 * before/after around its callback, destroy right after the callback. The state is freed before
 * the callback runs, so the callback may reuse the request at once (chained calls). A
 * synchronous call (cb == NULL) passes straight through. */
#include "internal.h"

static void fs_tramp(uv_fs_t *req) {
  uvotel_resource_t res;
  void (*cb)(void);
  uvotel_span_t *span;
  if (UVOTEL__UNLIKELY(uvotel__req_take(req->loop, req, &res, &cb, &span) != 0)) {
    uvotel__no_state("fs");
    return;
  }
  if (UVOTEL__UNLIKELY(span != NULL)) uvotel__auto_fs_end(span, req);
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&res, &cs); /* exit is a no-op if this failed */
  ((uv_fs_cb)cb)(req);
  uvotel_resource_exit(&cs);
  (void)uvotel_resource_emit_destroy(&res);
}

static inline uvotel__hs_t *fs_track(uv_loop_t *loop, uv_fs_t *req, int *is_new) {
  return uvotel__track(loop, req, is_new);
}

static inline int fs_begin(uvotel__hs_t *s, int is_new, int err, uv_fs_t *req, uv_fs_cb cb) {
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
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_close(loop, req, file, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_open(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags, int mode,
                               uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_open(loop, req, path, flags, mode, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_open(loop, req, path, flags, mode, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_read(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                               unsigned int nbufs, int64_t offset, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_read(loop, req, file, bufs, nbufs, offset, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_read(loop, req, file, bufs, nbufs, offset, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_unlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_unlink(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_unlink(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_write(uv_loop_t *loop, uv_fs_t *req, uv_file file, const uv_buf_t bufs[],
                                unsigned int nbufs, int64_t offset, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_write(loop, req, file, bufs, nbufs, offset, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_write(loop, req, file, bufs, nbufs, offset, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_copyfile(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                   const char *new_path, int flags, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_copyfile(loop, req, path, new_path, flags, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_copyfile(loop, req, path, new_path, flags, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_mkdir(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkdir(loop, req, path, mode, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_mkdir(loop, req, path, mode, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_mkdtemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkdtemp(loop, req, tpl, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_mkdtemp(loop, req, tpl, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_mkstemp(uv_loop_t *loop, uv_fs_t *req, const char *tpl, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_mkstemp(loop, req, tpl, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_mkstemp(loop, req, tpl, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_rmdir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_rmdir(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_rmdir(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_scandir(uv_loop_t *loop, uv_fs_t *req, const char *path, int flags,
                                  uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_scandir(loop, req, path, flags, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_scandir(loop, req, path, flags, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_opendir(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_opendir(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_opendir(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_readdir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_readdir(loop, req, dir, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_readdir(loop, req, dir, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_closedir(uv_loop_t *loop, uv_fs_t *req, uv_dir_t *dir, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_closedir(loop, req, dir, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_closedir(loop, req, dir, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_stat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_stat(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_stat(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_fstat(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fstat(loop, req, file, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_fstat(loop, req, file, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_lstat(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lstat(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_lstat(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_statfs(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_statfs(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_statfs(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_rename(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                 const char *new_path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_rename(loop, req, path, new_path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_rename(loop, req, path, new_path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_fsync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fsync(loop, req, file, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_fsync(loop, req, file, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_fdatasync(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fdatasync(loop, req, file, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_fdatasync(loop, req, file, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_ftruncate(uv_loop_t *loop, uv_fs_t *req, uv_file file, int64_t offset,
                                    uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_ftruncate(loop, req, file, offset, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_ftruncate(loop, req, file, offset, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_sendfile(uv_loop_t *loop, uv_fs_t *req, uv_file out_fd, uv_file in_fd,
                                   int64_t in_offset, size_t length, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_sendfile(loop, req, out_fd, in_fd, in_offset, length, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_sendfile(loop, req, out_fd, in_fd, in_offset, length, fs_tramp),
                  req, cb);
}

UVOTEL__API int uvotel_fs_access(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                 uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_access(loop, req, path, mode, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_access(loop, req, path, mode, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_chmod(uv_loop_t *loop, uv_fs_t *req, const char *path, int mode,
                                uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_chmod(loop, req, path, mode, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_chmod(loop, req, path, mode, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_fchmod(uv_loop_t *loop, uv_fs_t *req, uv_file file, int mode,
                                 uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fchmod(loop, req, file, mode, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_fchmod(loop, req, file, mode, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_utime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime,
                                double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_utime(loop, req, path, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_utime(loop, req, path, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_futime(uv_loop_t *loop, uv_fs_t *req, uv_file file, double atime,
                                 double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_futime(loop, req, file, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_futime(loop, req, file, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_lutime(uv_loop_t *loop, uv_fs_t *req, const char *path, double atime,
                                 double mtime, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lutime(loop, req, path, atime, mtime, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_lutime(loop, req, path, atime, mtime, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_link(uv_loop_t *loop, uv_fs_t *req, const char *path,
                               const char *new_path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_link(loop, req, path, new_path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_link(loop, req, path, new_path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_symlink(uv_loop_t *loop, uv_fs_t *req, const char *path,
                                  const char *new_path, int flags, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_symlink(loop, req, path, new_path, flags, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_symlink(loop, req, path, new_path, flags, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_readlink(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_readlink(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_readlink(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_realpath(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_realpath(loop, req, path, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_realpath(loop, req, path, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_chown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid,
                                uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_chown(loop, req, path, uid, gid, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_chown(loop, req, path, uid, gid, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_fchown(uv_loop_t *loop, uv_fs_t *req, uv_file file, uv_uid_t uid,
                                 uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_fchown(loop, req, file, uid, gid, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_fchown(loop, req, file, uid, gid, fs_tramp), req, cb);
}

UVOTEL__API int uvotel_fs_lchown(uv_loop_t *loop, uv_fs_t *req, const char *path, uv_uid_t uid,
                                 uv_gid_t gid, uv_fs_cb cb) {
  if (cb == NULL || req == NULL || loop == NULL || !uvotel_tracking())
    return uv_fs_lchown(loop, req, path, uid, gid, cb);
  int is_new;
  uvotel__hs_t *s = fs_track(loop, req, &is_new);
  if (s == NULL) return UV_ENOMEM;
  return fs_begin(s, is_new, uv_fs_lchown(loop, req, path, uid, gid, fs_tramp), req, cb);
}
