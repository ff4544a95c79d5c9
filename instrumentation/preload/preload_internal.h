/* What the parts of libuvotel_preload.so share (preload.c, signals.c, preload_sock.c). */
#ifndef UVOTEL_PRELOAD_INTERNAL_H
#define UVOTEL_PRELOAD_INTERNAL_H

#include <stdint.h>
#include <uv.h>

/* Deliver every span ended so far, waiting at most timeout_ms. 0; -1 when the preload is not
 * running (not set up, exited, or in a forked child) or the deadline passed. Thread: any but the
 * export thread; never from a signal handler. */
int preload__flush(uint64_t timeout_ms);

/* Recording spans started and not ended (still open) now, for the signal path's count of what
 * dies with the process; 0 when the preload is not running. Thread: any but the export thread;
 * never from a signal handler. */
uint64_t preload__open_spans(void);

/* Catch SIGTERM, SIGINT and SIGHUP where their action is the default, to flush before dying
 * (signals.c). Called once the provider runs. Thread: the program's, during setup. */
void preload__signals_install(void);

/* In a forked child: give the signals back to their default action (the flush thread is not in
 * the child). Thread: the child's only thread, from the atfork handler. */
void preload__signals_forked(void);

/* 1 while the preload traces: set up, not exiting, not in a forked child. Never sets up.
 * Thread: any. */
int preload__ready(void);

/* uv_udp_recv_start and uv_close as the program calls them: the wrappers, plus the table of
 * the UDP sockets whose sends outside libuv are reported (preload_sock.c). Thread: loop. */
int preload__udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb, uv_udp_recv_cb recv_cb);
void preload__close(uv_handle_t *handle, uv_close_cb close_cb);
/* The libc function behind one of preload_sock.c's interposers (send, sendto, sendmsg,
 * sendmmsg), or NULL for any other name: libuv's and uvotel's slots for these are bound to it.
 * Thread: the constructor's. */
void *preload__sock_real(const char *name);

#endif
