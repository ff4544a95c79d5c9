/* Instrument an existing libuv source file by adding one line after #include <uv.h>:
 *
 *   #include <uv.h>
 *   #include <uvotel/uv_redirect.h>
 *
 * Every wrapped uv_* function name becomes its uvotel_* wrapper (same signature; for persistent
 * handles, idle, check and async, the uvotel_implicit_* form, whose callbacks run in the root
 * context: see "the context rule" in uvotel/uv.h), and
 * uv_loop_close becomes uvotel_uv_loop_close, which detaches uvotel from the loop first so the
 * program's own uv_loop_close still returns 0. Link with libuvotel_uv and libuvotel. Functions
 * uvotel does not wrap (uv_run, uv_tcp_bind, uv_timer_init, ...) are untouched.
 *
 * The names are object-like macros, so taking a function's address (&uv_fs_stat) also
 * yields the wrapper. Define UVOTEL_NO_REDIRECT before including this header to disable it. */
#ifndef UVOTEL_UV_REDIRECT_H
#define UVOTEL_UV_REDIRECT_H
#ifndef UVOTEL_NO_REDIRECT

#include "uvotel/uv.h"

/* timers, check, idle, close */
#define uv_timer_start uvotel_timer_start
#define uv_timer_stop uvotel_timer_stop
#define uv_timer_again uvotel_timer_again
/* persistent handles: the implicit forms (uvotel/uv.h, "the context rule") */
#define uv_check_start uvotel_implicit_check_start
#define uv_check_stop uvotel_check_stop
#define uv_idle_start uvotel_implicit_idle_start
#define uv_idle_stop uvotel_idle_stop
#define uv_close uvotel_close
#define uv_loop_close uvotel_uv_loop_close

/* file system */
#define uv_fs_close uvotel_fs_close
#define uv_fs_open uvotel_fs_open
#define uv_fs_read uvotel_fs_read
#define uv_fs_unlink uvotel_fs_unlink
#define uv_fs_write uvotel_fs_write
#define uv_fs_copyfile uvotel_fs_copyfile
#define uv_fs_mkdir uvotel_fs_mkdir
#define uv_fs_mkdtemp uvotel_fs_mkdtemp
#define uv_fs_mkstemp uvotel_fs_mkstemp
#define uv_fs_rmdir uvotel_fs_rmdir
#define uv_fs_scandir uvotel_fs_scandir
#define uv_fs_opendir uvotel_fs_opendir
#define uv_fs_readdir uvotel_fs_readdir
#define uv_fs_closedir uvotel_fs_closedir
#define uv_fs_stat uvotel_fs_stat
#define uv_fs_fstat uvotel_fs_fstat
#define uv_fs_lstat uvotel_fs_lstat
#define uv_fs_statfs uvotel_fs_statfs
#define uv_fs_rename uvotel_fs_rename
#define uv_fs_fsync uvotel_fs_fsync
#define uv_fs_fdatasync uvotel_fs_fdatasync
#define uv_fs_ftruncate uvotel_fs_ftruncate
#define uv_fs_sendfile uvotel_fs_sendfile
#define uv_fs_access uvotel_fs_access
#define uv_fs_chmod uvotel_fs_chmod
#define uv_fs_fchmod uvotel_fs_fchmod
#define uv_fs_utime uvotel_fs_utime
#define uv_fs_futime uvotel_fs_futime
#define uv_fs_lutime uvotel_fs_lutime
#define uv_fs_link uvotel_fs_link
#define uv_fs_symlink uvotel_fs_symlink
#define uv_fs_readlink uvotel_fs_readlink
#define uv_fs_realpath uvotel_fs_realpath
#define uv_fs_chown uvotel_fs_chown
#define uv_fs_fchown uvotel_fs_fchown
#define uv_fs_lchown uvotel_fs_lchown
#define uv_fs_req_cleanup uvotel_fs_req_cleanup

/* DNS */
#define uv_getaddrinfo uvotel_getaddrinfo
#define uv_getnameinfo uvotel_getnameinfo

/* TCP and streams */
#define uv_tcp_init uvotel_tcp_init
#define uv_tcp_connect uvotel_tcp_connect
#define uv_listen uvotel_listen
#define uv_accept uvotel_accept
#define uv_read_start uvotel_read_start
#define uv_read_stop uvotel_read_stop
#define uv_write uvotel_write
#define uv_write2 uvotel_write2
#define uv_try_write uvotel_try_write
#define uv_try_write2 uvotel_try_write2
#define uv_shutdown uvotel_shutdown

/* thread pool, cross-thread */
#define uv_queue_work uvotel_queue_work
#define uv_cancel uvotel_cancel
#define uv_async_init uvotel_implicit_async_init
#define uv_async_send uvotel_async_send

#endif
#endif
