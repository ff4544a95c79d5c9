/* Every libuv function uvotel wraps (the list uvotel/uv_redirect.h maps), with its wrapper,
 * parameter list and argument list: X(...) for functions returning int, XV(...) for void ones.
 * Written from uv_redirect.h and uv.h: keep the three in step. */
#ifndef UVOTEL_PRELOAD_LIST_H
#define UVOTEL_PRELOAD_LIST_H

#define UVOTEL_PRELOAD_LIST(X, XV)                                                                 \
  X(uv_timer_start, uvotel_timer_start,                                                            \
    (uv_timer_t * handle, uv_timer_cb cb, uint64_t timeout, uint64_t repeat),                      \
    (handle, cb, timeout, repeat))                                                                 \
  X(uv_timer_stop, uvotel_timer_stop, (uv_timer_t * handle), (handle))                             \
  X(uv_timer_again, uvotel_timer_again, (uv_timer_t * handle), (handle))                           \
  X(uv_check_start, uvotel_implicit_check_start, (uv_check_t * handle, uv_check_cb cb),            \
    (handle, cb))                                                                                  \
  X(uv_check_stop, uvotel_check_stop, (uv_check_t * handle), (handle))                             \
  X(uv_idle_start, uvotel_implicit_idle_start, (uv_idle_t * handle, uv_idle_cb cb), (handle, cb))  \
  X(uv_idle_stop, uvotel_idle_stop, (uv_idle_t * handle), (handle))                                \
  XV(uv_close, uvotel_close, (uv_handle_t * handle, uv_close_cb close_cb), (handle, close_cb))     \
  X(uv_loop_close, uvotel_uv_loop_close, (uv_loop_t * loop), (loop))                               \
  X(uv_fs_close, uvotel_fs_close, (uv_loop_t * loop, uv_fs_t * req, uv_file file, uv_fs_cb cb),    \
    (loop, req, file, cb))                                                                         \
  X(uv_fs_open, uvotel_fs_open,                                                                    \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, int flags, int mode, uv_fs_cb cb),         \
    (loop, req, path, flags, mode, cb))                                                            \
  X(uv_fs_read, uvotel_fs_read,                                                                    \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, const uv_buf_t bufs[], unsigned int nbufs,     \
     int64_t offset, uv_fs_cb cb),                                                                 \
    (loop, req, file, bufs, nbufs, offset, cb))                                                    \
  X(uv_fs_unlink, uvotel_fs_unlink,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_write, uvotel_fs_write,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, const uv_buf_t bufs[], unsigned int nbufs,     \
     int64_t offset, uv_fs_cb cb),                                                                 \
    (loop, req, file, bufs, nbufs, offset, cb))                                                    \
  X(uv_fs_copyfile, uvotel_fs_copyfile,                                                            \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, const char *new_path, int flags,           \
     uv_fs_cb cb),                                                                                 \
    (loop, req, path, new_path, flags, cb))                                                        \
  X(uv_fs_mkdir, uvotel_fs_mkdir,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, int mode, uv_fs_cb cb),                    \
    (loop, req, path, mode, cb))                                                                   \
  X(uv_fs_mkdtemp, uvotel_fs_mkdtemp,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, const char *tpl, uv_fs_cb cb), (loop, req, tpl, cb))         \
  X(uv_fs_mkstemp, uvotel_fs_mkstemp,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, const char *tpl, uv_fs_cb cb), (loop, req, tpl, cb))         \
  X(uv_fs_rmdir, uvotel_fs_rmdir,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_scandir, uvotel_fs_scandir,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, int flags, uv_fs_cb cb),                   \
    (loop, req, path, flags, cb))                                                                  \
  X(uv_fs_opendir, uvotel_fs_opendir,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_readdir, uvotel_fs_readdir,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, uv_dir_t * dir, uv_fs_cb cb), (loop, req, dir, cb))          \
  X(uv_fs_closedir, uvotel_fs_closedir,                                                            \
    (uv_loop_t * loop, uv_fs_t * req, uv_dir_t * dir, uv_fs_cb cb), (loop, req, dir, cb))          \
  X(uv_fs_stat, uvotel_fs_stat, (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb),  \
    (loop, req, path, cb))                                                                         \
  X(uv_fs_fstat, uvotel_fs_fstat, (uv_loop_t * loop, uv_fs_t * req, uv_file file, uv_fs_cb cb),    \
    (loop, req, file, cb))                                                                         \
  X(uv_fs_lstat, uvotel_fs_lstat,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_statfs, uvotel_fs_statfs,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_rename, uvotel_fs_rename,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, const char *new_path, uv_fs_cb cb),        \
    (loop, req, path, new_path, cb))                                                               \
  X(uv_fs_fsync, uvotel_fs_fsync, (uv_loop_t * loop, uv_fs_t * req, uv_file file, uv_fs_cb cb),    \
    (loop, req, file, cb))                                                                         \
  X(uv_fs_fdatasync, uvotel_fs_fdatasync,                                                          \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, uv_fs_cb cb), (loop, req, file, cb))           \
  X(uv_fs_ftruncate, uvotel_fs_ftruncate,                                                          \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, int64_t offset, uv_fs_cb cb),                  \
    (loop, req, file, offset, cb))                                                                 \
  X(uv_fs_sendfile, uvotel_fs_sendfile,                                                            \
    (uv_loop_t * loop, uv_fs_t * req, uv_file out_fd, uv_file in_fd, int64_t in_offset,            \
     size_t length, uv_fs_cb cb),                                                                  \
    (loop, req, out_fd, in_fd, in_offset, length, cb))                                             \
  X(uv_fs_access, uvotel_fs_access,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, int mode, uv_fs_cb cb),                    \
    (loop, req, path, mode, cb))                                                                   \
  X(uv_fs_chmod, uvotel_fs_chmod,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, int mode, uv_fs_cb cb),                    \
    (loop, req, path, mode, cb))                                                                   \
  X(uv_fs_fchmod, uvotel_fs_fchmod,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, int mode, uv_fs_cb cb),                        \
    (loop, req, file, mode, cb))                                                                   \
  X(uv_fs_utime, uvotel_fs_utime,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, double atime, double mtime, uv_fs_cb cb),  \
    (loop, req, path, atime, mtime, cb))                                                           \
  X(uv_fs_futime, uvotel_fs_futime,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, double atime, double mtime, uv_fs_cb cb),      \
    (loop, req, file, atime, mtime, cb))                                                           \
  X(uv_fs_lutime, uvotel_fs_lutime,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, double atime, double mtime, uv_fs_cb cb),  \
    (loop, req, path, atime, mtime, cb))                                                           \
  X(uv_fs_link, uvotel_fs_link,                                                                    \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, const char *new_path, uv_fs_cb cb),        \
    (loop, req, path, new_path, cb))                                                               \
  X(uv_fs_symlink, uvotel_fs_symlink,                                                              \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, const char *new_path, int flags,           \
     uv_fs_cb cb),                                                                                 \
    (loop, req, path, new_path, flags, cb))                                                        \
  X(uv_fs_readlink, uvotel_fs_readlink,                                                            \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_realpath, uvotel_fs_realpath,                                                            \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_fs_cb cb), (loop, req, path, cb))       \
  X(uv_fs_chown, uvotel_fs_chown,                                                                  \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb),  \
    (loop, req, path, uid, gid, cb))                                                               \
  X(uv_fs_fchown, uvotel_fs_fchown,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, uv_file file, uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb),      \
    (loop, req, file, uid, gid, cb))                                                               \
  X(uv_fs_lchown, uvotel_fs_lchown,                                                                \
    (uv_loop_t * loop, uv_fs_t * req, const char *path, uv_uid_t uid, uv_gid_t gid, uv_fs_cb cb),  \
    (loop, req, path, uid, gid, cb))                                                               \
  XV(uv_fs_req_cleanup, uvotel_fs_req_cleanup, (uv_fs_t * req), (req))                             \
  X(uv_getaddrinfo, uvotel_getaddrinfo,                                                            \
    (uv_loop_t * loop, uv_getaddrinfo_t * req, uv_getaddrinfo_cb getaddrinfo_cb, const char *node, \
     const char *service, const struct addrinfo *hints),                                           \
    (loop, req, getaddrinfo_cb, node, service, hints))                                             \
  X(uv_getnameinfo, uvotel_getnameinfo,                                                            \
    (uv_loop_t * loop, uv_getnameinfo_t * req, uv_getnameinfo_cb getnameinfo_cb,                   \
     const struct sockaddr *addr, int flags),                                                      \
    (loop, req, getnameinfo_cb, addr, flags))                                                      \
  X(uv_tcp_init, uvotel_tcp_init, (uv_loop_t * loop, uv_tcp_t * handle), (loop, handle))           \
  X(uv_tcp_connect, uvotel_tcp_connect,                                                            \
    (uv_connect_t * req, uv_tcp_t * handle, const struct sockaddr *addr, uv_connect_cb cb),        \
    (req, handle, addr, cb))                                                                       \
  X(uv_listen, uvotel_listen, (uv_stream_t * stream, int backlog, uv_connection_cb cb),            \
    (stream, backlog, cb))                                                                         \
  X(uv_accept, uvotel_accept, (uv_stream_t * server, uv_stream_t * client), (server, client))      \
  X(uv_read_start, uvotel_read_start,                                                              \
    (uv_stream_t * stream, uv_alloc_cb alloc_cb, uv_read_cb read_cb), (stream, alloc_cb, read_cb)) \
  X(uv_read_stop, uvotel_read_stop, (uv_stream_t * stream), (stream))                              \
  X(uv_write, uvotel_write,                                                                        \
    (uv_write_t * req, uv_stream_t * handle, const uv_buf_t bufs[], unsigned int nbufs,            \
     uv_write_cb cb),                                                                              \
    (req, handle, bufs, nbufs, cb))                                                                \
  X(uv_write2, uvotel_write2,                                                                      \
    (uv_write_t * req, uv_stream_t * handle, const uv_buf_t bufs[], unsigned int nbufs,            \
     uv_stream_t *send_handle, uv_write_cb cb),                                                    \
    (req, handle, bufs, nbufs, send_handle, cb))                                                   \
  X(uv_try_write, uvotel_try_write,                                                                \
    (uv_stream_t * handle, const uv_buf_t bufs[], unsigned int nbufs), (handle, bufs, nbufs))      \
  X(uv_try_write2, uvotel_try_write2,                                                              \
    (uv_stream_t * handle, const uv_buf_t bufs[], unsigned int nbufs, uv_stream_t *send_handle),   \
    (handle, bufs, nbufs, send_handle))                                                            \
  X(uv_shutdown, uvotel_shutdown, (uv_shutdown_t * req, uv_stream_t * handle, uv_shutdown_cb cb),  \
    (req, handle, cb))                                                                             \
  X(uv_queue_work, uvotel_queue_work,                                                              \
    (uv_loop_t * loop, uv_work_t * req, uv_work_cb work_cb, uv_after_work_cb after_work_cb),       \
    (loop, req, work_cb, after_work_cb))                                                           \
  X(uv_cancel, uvotel_cancel, (uv_req_t * req), (req))                                             \
  X(uv_async_init, uvotel_implicit_async_init,                                                     \
    (uv_loop_t * loop, uv_async_t * async, uv_async_cb async_cb), (loop, async, async_cb))         \
  X(uv_async_send, uvotel_async_send, (uv_async_t * async), (async))

#endif
