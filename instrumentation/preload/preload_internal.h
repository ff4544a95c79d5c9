/* What the parts of libuvotel_preload.so share (preload.c, signals.c). */
#ifndef UVOTEL_PRELOAD_INTERNAL_H
#define UVOTEL_PRELOAD_INTERNAL_H

#include <stdint.h>

/* Deliver every span ended so far, waiting at most timeout_ms. 0; -1 when the preload is not
 * running (not set up, exited, or in a forked child) or the deadline passed. Thread: any but the
 * export thread; never from a signal handler. */
int preload__flush(uint64_t timeout_ms);

/* Catch SIGTERM, SIGINT and SIGHUP where their action is the default, to flush before dying
 * (signals.c). Called once the provider runs. Thread: the program's, during setup. */
void preload__signals_install(void);

/* In a forked child: give the signals back to their default action (the flush thread is not in
 * the child). Thread: the child's only thread, from the atfork handler. */
void preload__signals_forked(void);

#endif
