/* Datagrams sent on a libuv UDP socket behind libuv's back, under libuvotel_preload.so.
 *
 * A server may receive with uv_udp_recv_start and answer with the socket calls themselves:
 * knot-resolver's kresd queues its UDP answers and sends them with one sendmmsg(2) on
 * uv_fileno(handle) from a check callback. libuv never sees those datagrams, so neither does
 * uvotel's uv_udp_send wrapper, and the DNS detector's query spans never met their answers
 * (each ended unanswered when 64 more queries were waiting, with no response code; the last
 * 64 were still open at exit).
 *
 * So the preload remembers, per file descriptor, the UDP handle the program started receiving
 * on (uv_udp_recv_start, until uv_close) and the thread that did it, and interposes send,
 * sendto, sendmsg and sendmmsg: after the real call, each datagram it sent on such a descriptor
 * from that same thread is handed to uvotel_udp_sent (uvotel/uv_protocols.h), which ends the
 * span of the query it answers; one that failed (other than EAGAIN/EINTR; for sendmmsg, the
 * first message) to uvotel_udp_send_failed, which ends it with the error. libuv's own calls
 * (uv_udp_try_send's sendmsg) are bound straight to libc at load time with the uv_* slots
 * (preload.c, "binding"), so a datagram sent through libuv is matched once, by the wrapper. The
 * real call is always made first, with the program's arguments; its result and errno are returned
 * unchanged. A descriptor no handle is known for, a send from another thread (the handle's state
 * belongs to its loop's thread), a send before the preload is set up or after exit began: passed
 * straight through.
 *
 * Limits: only descriptors below 65536; sends from a thread other than the one that called
 * uv_udp_recv_start (a program that starts receiving before handing the loop to its thread)
 * pass unmatched; write(2)/writev(2) on a connected UDP socket and io_uring are not seen; a
 * send on a descriptor that libuv still owns but the program closed and reopened without
 * uv_close (not allowed by libuv) would be reported for the old handle. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <uv.h>

#include "preload_internal.h"
#include "uvotel/uv.h"
#include "uvotel/uv_protocols.h"

#define EXPORT __attribute__((visibility("default")))

/* ---- fd -> handle: 256 chunks of 256 entries, made on first use, never freed ---- */

#define CHUNK_BITS 8
#define CHUNKS 256
#define FD_MAX (CHUNKS << CHUNK_BITS)

typedef struct fd_entry_s {
  _Atomic(uv_udp_t *) handle;
  _Atomic(uintptr_t) thread; /* pthread_self() of the thread that started receiving */
} fd_entry_t;

static _Atomic(fd_entry_t *) g_chunks[CHUNKS];
static atomic_int g_any; /* 1 once a handle was remembered: until then sends skip everything */

static fd_entry_t *entry(int fd, int make) {
  if (fd < 0 || fd >= FD_MAX) return NULL;
  _Atomic(fd_entry_t *) *c = &g_chunks[fd >> CHUNK_BITS];
  fd_entry_t *e = atomic_load_explicit(c, memory_order_acquire);
  if (e == NULL && make) {
    fd_entry_t *n = calloc(1u << CHUNK_BITS, sizeof *n);
    if (n == NULL) return NULL;
    if (atomic_compare_exchange_strong(c, &e, n)) {
      e = n;
    } else {
      free(n); /* another thread made it first: e is theirs */
    }
  }
  return e != NULL ? &e[fd & ((1 << CHUNK_BITS) - 1)] : NULL;
}

static uintptr_t self_id(void) {
  return (uintptr_t)pthread_self();
}

static void remember(uv_udp_t *h) {
  uv_os_fd_t fd;
  if (uv_fileno((const uv_handle_t *)h, &fd) != 0) return;
  fd_entry_t *e = entry(fd, 1);
  if (e == NULL) return; /* beyond the table, or no memory: its sends go untraced */
  atomic_store_explicit(&e->thread, self_id(), memory_order_relaxed);
  atomic_store_explicit(&e->handle, h, memory_order_release);
  atomic_store_explicit(&g_any, 1, memory_order_relaxed);
}

static void forget(uv_handle_t *h) {
  uv_os_fd_t fd;
  if (h == NULL || h->type != UV_UDP || uv_fileno(h, &fd) != 0) return;
  fd_entry_t *e = entry(fd, 0);
  if (e == NULL) return;
  uv_udp_t *expect = (uv_udp_t *)h;
  (void)atomic_compare_exchange_strong(&e->handle, &expect, NULL);
}

/* The handle for a send on fd from this thread, or NULL. */
static uv_udp_t *handle_for(int fd) {
  if (!atomic_load_explicit(&g_any, memory_order_relaxed)) return NULL;
  fd_entry_t *e = entry(fd, 0);
  if (e == NULL) return NULL;
  uv_udp_t *h = atomic_load_explicit(&e->handle, memory_order_acquire);
  if (h == NULL || atomic_load_explicit(&e->thread, memory_order_relaxed) != self_id()) {
    return NULL;
  }
  return h;
}

/* ---- the wrapped libuv calls that keep the table (preload.c routes them here) ---- */

int preload__udp_recv_start(uv_udp_t *handle, uv_alloc_cb alloc_cb, uv_udp_recv_cb recv_cb) {
  int r = uvotel_udp_recv_start(handle, alloc_cb, recv_cb);
  if (r == 0 && handle != NULL) remember(handle);
  return r;
}

void preload__close(uv_handle_t *handle, uv_close_cb close_cb) {
  forget(handle); /* before libuv closes the descriptor, which may then be reused */
  uvotel_close(handle, close_cb);
}

/* ---- the socket calls ---- */

static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);
static int (*real_sendmmsg)(int, struct mmsghdr *, unsigned int, int);

__attribute__((constructor)) static void resolve_sock(void) {
  if (real_send == NULL) *(void **)&real_send = dlsym(RTLD_NEXT, "send");
  if (real_sendto == NULL) *(void **)&real_sendto = dlsym(RTLD_NEXT, "sendto");
  if (real_sendmsg == NULL) *(void **)&real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
  if (real_sendmmsg == NULL) *(void **)&real_sendmmsg = dlsym(RTLD_NEXT, "sendmmsg");
}

void *preload__sock_real(const char *name) {
  if (name[0] != 's' || strncmp(name, "send", 4) != 0) return NULL;
  resolve_sock(); /* the binding runs from preload.c's constructor, maybe before ours */
  if (strcmp(name, "send") == 0) return (void *)real_send;
  if (strcmp(name, "sendto") == 0) return (void *)real_sendto;
  if (strcmp(name, "sendmsg") == 0) return (void *)real_sendmsg;
  if (strcmp(name, "sendmmsg") == 0) return (void *)real_sendmmsg;
  return NULL;
}

/* Another library's constructor may send before ours ran: resolve on first use too. */
#define REAL(name) (real_##name != NULL ? (void)0 : resolve_sock(), real_##name)

#define MAX_IOV 16 /* the matcher reads the first 272 bytes: the first iovecs are enough */

/* A send that failed for a reason other than "try again": reported as failed (errno kept). */
static int failed_for_good(ssize_t r) {
  return r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static void report_msg_as(uv_udp_t *h, const struct msghdr *m, int err) {
  if (m == NULL || (m->msg_iov == NULL && m->msg_iovlen > 0)) return;
  uv_buf_t bufs[MAX_IOV];
  unsigned n = 0;
  for (size_t i = 0; i < m->msg_iovlen && n < MAX_IOV; i++) {
    bufs[n++] = uv_buf_init(m->msg_iov[i].iov_base, (unsigned int)m->msg_iov[i].iov_len);
  }
  const struct sockaddr *to = m->msg_namelen > 0 ? (const struct sockaddr *)m->msg_name : NULL;
  /* (msg_name NULL with a length: the kernel sends to the connected peer, as NULL says) */
  if (err != 0) {
    (void)uvotel_udp_send_failed(h, bufs, n, to, err);
  } else {
    (void)uvotel_udp_sent(h, bufs, n, to);
  }
}

static void report_msg(uv_udp_t *h, const struct msghdr *m) {
  report_msg_as(h, m, 0);
}

/* glibc's send is its own system call wrapper, not a call to sendto: both are interposed. */
EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags) {
  ssize_t r = REAL(send)(fd, buf, len, flags);
  uv_udp_t *h;
  if ((r >= 0 || failed_for_good(r)) && (h = handle_for(fd)) != NULL && preload__ready()) {
    int saved = errno;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned int)len);
    if (r >= 0) {
      (void)uvotel_udp_sent(h, &b, 1, NULL);
    } else {
      (void)uvotel_udp_send_failed(h, &b, 1, NULL, -saved);
    }
    errno = saved;
  }
  return r;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                      socklen_t tolen) {
  ssize_t r = REAL(sendto)(fd, buf, len, flags, to, tolen);
  uv_udp_t *h;
  if ((r >= 0 || failed_for_good(r)) && (h = handle_for(fd)) != NULL && preload__ready()) {
    int saved = errno;
    uv_buf_t b = uv_buf_init((char *)buf, (unsigned int)len);
    if (r >= 0) {
      (void)uvotel_udp_sent(h, &b, 1, tolen > 0 ? to : NULL);
    } else {
      (void)uvotel_udp_send_failed(h, &b, 1, tolen > 0 ? to : NULL, -saved);
    }
    errno = saved;
  }
  return r;
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  ssize_t r = REAL(sendmsg)(fd, msg, flags);
  uv_udp_t *h;
  if ((r >= 0 || failed_for_good(r)) && (h = handle_for(fd)) != NULL && preload__ready()) {
    int saved = errno;
    report_msg_as(h, msg, r >= 0 ? 0 : -saved);
    errno = saved;
  }
  return r;
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  int r = REAL(sendmmsg)(fd, vec, vlen, flags);
  uv_udp_t *h;
  if ((r > 0 || (failed_for_good(r) && vlen > 0)) && vec != NULL && (h = handle_for(fd)) != NULL &&
      preload__ready()) {
    int saved = errno;
    for (int i = 0; i < r; i++) report_msg(h, &vec[i].msg_hdr); /* the first r were sent */
    /* -1: the first failed (errno); with 0 < r < vlen the kernel reports the error of message r
     * on the next call, so nothing is said about the rest here */
    if (r < 0) report_msg_as(h, &vec[0].msg_hdr, -saved);
    errno = saved;
  }
  return r;
}
