/* Private declarations of libuvotel_uv. */
#ifndef UVOTEL_UV_INTERNAL_H
#define UVOTEL_UV_INTERNAL_H

#include <stdint.h>

#include "uvotel.h"
#include "uvotel/uv.h"

#define UVOTEL__API __attribute__((visibility("default")))
#define UVOTEL__TLS __thread __attribute__((tls_model("initial-exec")))
#define UVOTEL__LIKELY(x) __builtin_expect(!!(x), 1)
#define UVOTEL__UNLIKELY(x) __builtin_expect(!!(x), 0)

/* State of one wrapped handle or request, kept in the per-thread side table under the handle's
 * or request's address. `res` is the resource currently live on it (async id 0: none). */
typedef struct uvotel__hs_s {
  const void *key;
  uvotel_resource_t res;
  void (*cb)(void);     /* the user's callback, cast back by the kind's trampoline */
  uv_close_cb close_cb; /* set by uvotel_close */
  uvotel_snapshot_t *close_ctx;
  struct uvotel__hs_s *next_free;
} uvotel__hs_t;

/* Lookup; NULL when the key has no state. Alloc: none. */
uvotel__hs_t *uvotel__hs_get(const void *key);
/* Lookup or insert a zeroed state (*is_new set); NULL when out of memory. */
uvotel__hs_t *uvotel__hs_add(const void *key, int *is_new);
/* Remove and free (to the pool). The state must have no live resource. */
void uvotel__hs_remove(uvotel__hs_t *s);

static inline int uvotel__res_live(const uvotel__hs_t *s) {
  return uvotel_resource_async_id(&s->res) != 0;
}

/* Destroy the live resource, if any, and forget it. */
static inline void uvotel__res_end(uvotel__hs_t *s) {
  if (uvotel__res_live(s)) {
    (void)uvotel_resource_emit_destroy(&s->res);
    s->res = (uvotel_resource_t){0};
  }
}

#endif
