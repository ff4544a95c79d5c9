/* Private declarations of the hooks layer (hooks.c) for the layer above it (promise). */
#ifndef UVOTEL_HOOKS_INTERNAL_H
#define UVOTEL_HOOKS_INTERNAL_H

#include "../context/context_internal.h"

/* Arm the thread's delivery loop so its check phase drains the job queues (promise layer).
 * Returns 0 when the thread has no loop. */
int uvotel__loop_arm_jobs(void);

#endif
