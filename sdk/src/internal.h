/* Private declarations every SDK source file needs: export, thread-local and branch-hint
 * macros, and the allocator's bookkeeping. The core's own state is in
 * common/thread_state_internal.h, context/context_internal.h, hooks/hooks_internal.h and
 * promise/promise_internal.h, each included only by the files that use it. */
#ifndef UVOTEL_INTERNAL_H
#define UVOTEL_INTERNAL_H

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "uvotel.h"

#define UVOTEL__API __attribute__((visibility("default")))
/* initial-exec: one %fs-relative load per access, no __tls_get_addr call. */
#define UVOTEL__TLS __thread __attribute__((tls_model("initial-exec")))
#define UVOTEL__LIKELY(x) __builtin_expect(!!(x), 1)
#define UVOTEL__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* alloc.c: an allocation happened (uvotel_set_allocator refuses from then on). */
void uvotel__note_alloc(void);

/* The W3C extract's traceparent without the public argument checks (propagator.c):
 * traceparent.c: uvotel_traceparent_parse with s and out not NULL. Same returns. */
int uvotel__traceparent_parse(const char *s, size_t len, uvotel_span_context_t *out);

#endif
