/* Private declarations of the context layer (context.c), for the layers above it. */
#ifndef UVOTEL_CONTEXT_INTERNAL_H
#define UVOTEL_CONTEXT_INTERNAL_H

#include "../common/thread_state_internal.h"

/* ---- context mappings: struct uvotel_snapshot_s and uvotel__entry_t are in uvotel/fast.h (the
 * inline fast paths read them); context.c has the rules. ---- */

/* At most this many delta blocks stand over a flat mapping (lookups visit at most that many). */
#define UVOTEL__CHAIN_MAX 8

extern uvotel_snapshot_t uvotel__empty_snapshot;

/* ---- for the hooks layer ---- */
static inline void uvotel__ctx_retain(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  if (m != NULL && m->owner == t) m->refs++;
}
void uvotel__ctx_release_slow(uvotel_snapshot_t *m);
static inline void uvotel__ctx_release(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  (void)t;
  if (m != NULL && m->owner != NULL && --m->refs == 0) uvotel__ctx_release_slow(m);
}
/* Capture for storage in a resource: a counted reference (or a copy off the owner thread, or
 * the static empty snapshot). Inline for the common case (every resource init captures). */
uvotel_snapshot_t *uvotel__ctx_capture_slow(uvotel__tls_t *t);
static inline uvotel_snapshot_t *uvotel__ctx_capture(uvotel__tls_t *t) {
  uvotel_snapshot_t *m = t->hot.ctx;
  if (UVOTEL__LIKELY(m != NULL && m->owner == t)) {
    m->refs++;
    return m;
  }
  return uvotel__ctx_capture_slow(t);
}
/* Close scopes above depth (leaked by a callback) and release what they held. */
void uvotel__unwind_scopes(uvotel__tls_t *t, uint32_t depth);

#endif
