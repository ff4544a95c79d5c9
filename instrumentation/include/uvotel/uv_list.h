/* The one list of every libuv function uvotel wraps: X(name, wrapper, parameters, arguments)
 * for functions returning int, XV(...) for void ones; the wrapper is what uv_redirect.h and
 * the preload map the libuv name onto (for persistent handles the uvotel_implicit_* form,
 * UVOTEL_UV_EXPLICIT_LIST below has the explicit ones). uvotel/uv.h declares the wrappers from
 * it, uvotel/uv_redirect.h is generated from it at configure time (one #define per entry), and
 * the preload (instrumentation/preload) interposes exactly these names; tests/unit/
 * test_uv_coverage.c checks it against the installed libuv's uv.h. Add a wrapper here and in
 * its source file, nowhere else. One entry per X(...): the redirect generator reads
 * the name and the wrapper of each X or XV entry with a regular expression. */
#ifndef UVOTEL_UV_LIST_H
#define UVOTEL_UV_LIST_H

#define UVOTEL_UV_LIST(X, XV)                                                                      \
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
  X(uv_async_send, uvotel_async_send, (uv_async_t * async), (async))                               \
  X(uv_prepare_start, uvotel_implicit_prepare_start, (uv_prepare_t * handle, uv_prepare_cb cb),    \
    (handle, cb))                                                                                  \
  X(uv_prepare_stop, uvotel_prepare_stop, (uv_prepare_t * handle), (handle))                       \
  X(uv_tcp_init_ex, uvotel_tcp_init_ex, (uv_loop_t * loop, uv_tcp_t * handle, unsigned int flags), \
    (loop, handle, flags))                                                                         \
  X(uv_tcp_open, uvotel_tcp_open, (uv_tcp_t * handle, uv_os_sock_t sock), (handle, sock))          \
  X(uv_tcp_close_reset, uvotel_tcp_close_reset, (uv_tcp_t * handle, uv_close_cb close_cb),         \
    (handle, close_cb))                                                                            \
  X(uv_pipe_init, uvotel_pipe_init, (uv_loop_t * loop, uv_pipe_t * handle, int ipc),               \
    (loop, handle, ipc))                                                                           \
  XV(uv_pipe_connect, uvotel_pipe_connect,                                                         \
     (uv_connect_t * req, uv_pipe_t * handle, const char *name, uv_connect_cb cb),                 \
     (req, handle, name, cb))                                                                      \
  X(uv_pipe_open, uvotel_pipe_open, (uv_pipe_t * handle, uv_file file), (handle, file))            \
  X(uv_tty_init, uvotel_tty_init, (uv_loop_t * loop, uv_tty_t * handle, uv_file fd, int readable), \
    (loop, handle, fd, readable))                                                                  \
  X(uv_udp_init, uvotel_udp_init, (uv_loop_t * loop, uv_udp_t * handle), (loop, handle))           \
  X(uv_udp_init_ex, uvotel_udp_init_ex, (uv_loop_t * loop, uv_udp_t * handle, unsigned int flags), \
    (loop, handle, flags))                                                                         \
  X(uv_udp_connect, uvotel_udp_connect, (uv_udp_t * handle, const struct sockaddr *addr),          \
    (handle, addr))                                                                                \
  X(uv_udp_send, uvotel_udp_send,                                                                  \
    (uv_udp_send_t * req, uv_udp_t * handle, const uv_buf_t bufs[], unsigned int nbufs,            \
     const struct sockaddr *addr, uv_udp_send_cb send_cb),                                         \
    (req, handle, bufs, nbufs, addr, send_cb))                                                     \
  X(uv_udp_try_send, uvotel_udp_try_send,                                                          \
    (uv_udp_t * handle, const uv_buf_t bufs[], unsigned int nbufs, const struct sockaddr *addr),   \
    (handle, bufs, nbufs, addr))                                                                   \
  X(uv_udp_recv_start, uvotel_udp_recv_start,                                                      \
    (uv_udp_t * handle, uv_alloc_cb alloc_cb, uv_udp_recv_cb recv_cb),                             \
    (handle, alloc_cb, recv_cb))                                                                   \
  X(uv_udp_recv_stop, uvotel_udp_recv_stop, (uv_udp_t * handle), (handle))                         \
  X(uv_spawn, uvotel_spawn,                                                                        \
    (uv_loop_t * loop, uv_process_t * handle, const uv_process_options_t *options),                \
    (loop, handle, options))                                                                       \
  X(uv_process_kill, uvotel_process_kill, (uv_process_t * handle, int signum), (handle, signum))   \
  X(uv_signal_start, uvotel_implicit_signal_start,                                                 \
    (uv_signal_t * handle, uv_signal_cb signal_cb, int signum), (handle, signal_cb, signum))       \
  X(uv_signal_start_oneshot, uvotel_implicit_signal_start_oneshot,                                 \
    (uv_signal_t * handle, uv_signal_cb signal_cb, int signum), (handle, signal_cb, signum))       \
  X(uv_signal_stop, uvotel_signal_stop, (uv_signal_t * handle), (handle))                          \
  X(uv_poll_init, uvotel_poll_init, (uv_loop_t * loop, uv_poll_t * handle, int fd),                \
    (loop, handle, fd))                                                                            \
  X(uv_poll_init_socket, uvotel_poll_init_socket,                                                  \
    (uv_loop_t * loop, uv_poll_t * handle, uv_os_sock_t socket), (loop, handle, socket))           \
  X(uv_poll_start, uvotel_implicit_poll_start, (uv_poll_t * handle, int events, uv_poll_cb cb),    \
    (handle, events, cb))                                                                          \
  X(uv_poll_stop, uvotel_poll_stop, (uv_poll_t * handle), (handle))                                \
  X(uv_fs_event_start, uvotel_implicit_fs_event_start,                                             \
    (uv_fs_event_t * handle, uv_fs_event_cb cb, const char *path, unsigned int flags),             \
    (handle, cb, path, flags))                                                                     \
  X(uv_fs_event_stop, uvotel_fs_event_stop, (uv_fs_event_t * handle), (handle))                    \
  X(uv_fs_poll_start, uvotel_implicit_fs_poll_start,                                               \
    (uv_fs_poll_t * handle, uv_fs_poll_cb poll_cb, const char *path, unsigned int interval),       \
    (handle, poll_cb, path, interval))                                                             \
  X(uv_fs_poll_stop, uvotel_fs_poll_stop, (uv_fs_poll_t * handle), (handle))                       \
  X(uv_random, uvotel_random,                                                                      \
    (uv_loop_t * loop, uv_random_t * req, void *buf, size_t buflen, unsigned flags,                \
     uv_random_cb cb),                                                                             \
    (loop, req, buf, buflen, flags, cb))

/* The explicit forms of the persistent handles' start functions: the wrappers a program calls
 * by name to get registration-time capture (uvotel/uv.h, "the context rule"). uv_redirect.h and
 * the preload map the libuv names onto the implicit forms above instead (root context).
 * E(name, explicit wrapper, parameters, arguments). */
#define UVOTEL_UV_EXPLICIT_LIST(E)                                                           \
  E(uv_check_start, uvotel_check_start, (uv_check_t * handle, uv_check_cb cb), (handle, cb)) \
  E(uv_idle_start, uvotel_idle_start, (uv_idle_t * handle, uv_idle_cb cb), (handle, cb))     \
  E(uv_async_init, uvotel_async_init,                                                        \
    (uv_loop_t * loop, uv_async_t * async, uv_async_cb async_cb), (loop, async, async_cb))   \
  E(uv_prepare_start, uvotel_prepare_start, (uv_prepare_t * handle, uv_prepare_cb cb),       \
    (handle, cb))                                                                            \
  E(uv_signal_start, uvotel_signal_start,                                                    \
    (uv_signal_t * handle, uv_signal_cb signal_cb, int signum), (handle, signal_cb, signum)) \
  E(uv_signal_start_oneshot, uvotel_signal_start_oneshot,                                    \
    (uv_signal_t * handle, uv_signal_cb signal_cb, int signum), (handle, signal_cb, signum)) \
  E(uv_poll_start, uvotel_poll_start, (uv_poll_t * handle, int events, uv_poll_cb cb),       \
    (handle, events, cb))                                                                    \
  E(uv_fs_event_start, uvotel_fs_event_start,                                                \
    (uv_fs_event_t * handle, uv_fs_event_cb cb, const char *path, unsigned int flags),       \
    (handle, cb, path, flags))                                                               \
  E(uv_fs_poll_start, uvotel_fs_poll_start,                                                  \
    (uv_fs_poll_t * handle, uv_fs_poll_cb poll_cb, const char *path, unsigned int interval), \
    (handle, poll_cb, path, interval))

#endif
