/* Flush on a default-action SIGTERM, SIGINT or SIGHUP, then die of it as before.
 *
 * A program killed by a signal it does not handle skips atexit, so the spans ended since the
 * last batch would die with it. Once the provider runs, for each of the three signals whose
 * action is then the default, the preload installs a handler (SA_RESETHAND | SA_NODEFER):
 *
 *   handler (any thread; async-signal-safe calls only: write, poll, clock_gettime, read, raise)
 *     writes one byte to a wake pipe, waits on a done pipe for at most the deadline, then
 *     raises the signal again; SA_RESETHAND has already put the default action back, so the
 *     process dies of that signal: same exit status, same core-dump behaviour as without
 *     uvotel. A second signal during the wait kills at once (the default action, not deferred).
 *   flush thread (started with the handlers, all three signals blocked in it)
 *     reads the wake pipe, asks the export thread to flush (preload__flush: an ordinary
 *     uv_async_send and a condition variable, bounded by the same deadline), writes the done
 *     pipe.
 *
 * The handler takes no lock and touches no libuv or uvotel state, so it is safe whatever the
 * interrupted thread was doing; if that thread held a lock the flush needs (it was ending a
 * span), the flush waits, the deadline passes, and the process dies as it would have, without
 * the last batch. Only spans already ended are flushed: spans still open (a request in flight,
 * a connection's "tcp accept" span) end with the process, counted and said after the flush
 * ("N spans were still open when signal S ended the process and were not exported").
 *
 * The program's own handling wins: a signal it already handles or ignores when the provider
 * starts is left alone; a handler it installs later (signal, sigaction, uv_signal_start)
 * replaces ours; and sigaction/signal, interposed here, report SIG_DFL where ours is
 * installed, so a program that asks sees what it would see without uvotel.
 * UVOTEL_PRELOAD_SIGNAL_FLUSH_MS is the deadline (default 2000; 0: catch nothing). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "preload_internal.h"
#include "uvotel/diag.h"
#include "uvotel/env.h"

#define EXPORT __attribute__((visibility("default")))

static const int g_sigs[] = {SIGTERM, SIGINT, SIGHUP};
#define N_SIGS (sizeof g_sigs / sizeof g_sigs[0])

static int g_wake[2] = {-1, -1}, g_done[2] = {-1, -1};
static uint64_t g_deadline_ms = 2000;

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef void (*sighandler_fn)(int);
typedef sighandler_fn (*signal_fn)(int, sighandler_fn);
static sigaction_fn real_sigaction;
static signal_fn real_signal;

static void resolve_real(void) {
  if (real_sigaction == NULL) *(void **)&real_sigaction = dlsym(RTLD_NEXT, "sigaction");
  if (real_signal == NULL) *(void **)&real_signal = dlsym(RTLD_NEXT, "signal");
}

static uint64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_signal(int sig) {
  char b = (char)sig;
  if (write(g_wake[1], &b, 1) == 1) {
    uint64_t end = mono_ms() + g_deadline_ms;
    for (;;) {
      uint64_t now = mono_ms();
      if (now >= end) break;
      struct pollfd p = {g_done[0], POLLIN, 0};
      int n = poll(&p, 1, (int)(end - now));
      if (n > 0) {
        (void)read(g_done[0], &b, 1);
        break;
      }
      if (n == 0 || errno != EINTR) break;
    }
  }
  raise(sig); /* the default action is back (SA_RESETHAND) and not deferred (SA_NODEFER) */
}

static int is_ours(const struct sigaction *sa) {
  return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == on_signal;
}

static void *flush_thread(void *arg) {
  (void)arg;
  for (;;) {
    char b;
    ssize_t n = read(g_wake[0], &b, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return NULL;
    (void)preload__flush(g_deadline_ms);
    /* No silent loss: what is still open dies with the process unexported; say how much. */
    uint64_t open = preload__open_spans();
    if (open > 0) {
      uvotel_diag(UVOTEL_DIAG_WARN, 0,
                  "libuvotel_preload: %llu spans were still open when signal %d ended the process "
                  "and were not exported",
                  (unsigned long long)open, (int)(unsigned char)b);
    }
    (void)write(g_done[1], "x", 1);
  }
}

static int pipe_cloexec(int fds[2]) {
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  return 0;
}

void preload__signals_install(void) {
  resolve_real();
  (void)uvotel_env_u64("UVOTEL_PRELOAD_SIGNAL_FLUSH_MS", 600000, &g_deadline_ms); /* warns */
  if (g_deadline_ms == 0 || real_sigaction == NULL) return;
  int wanted[N_SIGS], any = 0;
  for (size_t i = 0; i < N_SIGS; i++) {
    struct sigaction old;
    wanted[i] = real_sigaction(g_sigs[i], NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
                old.sa_handler == SIG_DFL;
    any |= wanted[i];
  }
  if (!any || pipe_cloexec(g_wake) != 0) return;
  if (pipe_cloexec(g_done) != 0) goto fail;
  (void)fcntl(g_wake[1], F_SETFL, O_NONBLOCK); /* the handler never blocks on it */
  sigset_t block, prev;
  sigemptyset(&block);
  for (size_t i = 0; i < N_SIGS; i++) sigaddset(&block, g_sigs[i]);
  pthread_sigmask(SIG_BLOCK, &block, &prev); /* the flush thread never takes them */
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t t;
  int err = pthread_create(&t, &attr, flush_thread, NULL);
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &prev, NULL);
  if (err != 0) goto fail;
  for (size_t i = 0; i < N_SIGS; i++) {
    if (!wanted[i]) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND | SA_NODEFER | SA_RESTART;
    (void)real_sigaction(g_sigs[i], &sa, NULL);
  }
  return;
fail:
  for (int i = 0; i < 2; i++) {
    if (g_wake[i] >= 0) close(g_wake[i]);
    if (g_done[i] >= 0) close(g_done[i]);
    g_wake[i] = g_done[i] = -1;
  }
}

void preload__signals_forked(void) {
  if (real_sigaction == NULL) return;
  for (size_t i = 0; i < N_SIGS; i++) {
    struct sigaction cur;
    if (real_sigaction(g_sigs[i], NULL, &cur) != 0 || !is_ours(&cur)) continue;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    (void)real_sigaction(g_sigs[i], &dfl, NULL);
  }
}

/* ---- what the program sees ---- */

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  resolve_real();
  if (real_sigaction == NULL) {
    errno = ENOSYS;
    return -1;
  }
  int rc = real_sigaction(sig, act, old);
  if (rc == 0 && old != NULL && is_ours(old)) {
    memset(old, 0, sizeof *old);
    old->sa_handler = SIG_DFL;
    sigemptyset(&old->sa_mask);
  }
  return rc;
}

EXPORT sighandler_fn signal(int sig, sighandler_fn handler) {
  resolve_real();
  if (real_signal == NULL) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  sighandler_fn old = real_signal(sig, handler);
  return old == on_signal ? SIG_DFL : old;
}
