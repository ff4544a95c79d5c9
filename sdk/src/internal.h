/* Private declarations shared by the SDK's source files. */
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

/* ---- context mappings (struct uvotel_snapshot_s is the mapping) ---- */

typedef struct uvotel__entry_s {
  uint64_t var_id;
  void *value;
  const uvotel_value_ops_t *ops;
} uvotel__entry_t;

struct uvotel__tls_s;

struct uvotel_snapshot_s {
  uint32_t refs; /* non-atomic: only the owner thread counts */
  uint32_t n;
  struct uvotel__tls_s *owner; /* NULL: the static empty snapshot */
  struct uvotel_snapshot_s *next_free;
  uvotel__entry_t e[]; /* sorted by var_id */
};

extern uvotel_snapshot_t uvotel__empty_snapshot;

#define UVOTEL__POOL_MAX_N 8
#define UVOTEL__POOL_CAP 64

/* ---- hooks ---- */

enum {
  UVOTEL__EV_INIT,
  UVOTEL__EV_BEFORE,
  UVOTEL__EV_AFTER,
  UVOTEL__EV_DESTROY,
  UVOTEL__EV_PROMISE,
  UVOTEL__EV_COUNT
};

typedef struct uvotel__hookfn_s {
  void (*fn)(void);
  void *arg;
} uvotel__hookfn_t;

/* Immutable once built; rebuilt on every enable/disable. A table replaced during a dispatch is
 * retired and freed when the dispatch ends. */
typedef struct uvotel__hooktab_s {
  uint32_t n[UVOTEL__EV_COUNT];
  uvotel__hookfn_t *fns[UVOTEL__EV_COUNT];
  struct uvotel__hooktab_s *next_retired;
  uvotel__hookfn_t storage[];
} uvotel__hooktab_t;

struct uvotel_hook_s {
  uvotel_hook_callbacks_t cbs;
  void *arg;
  struct uvotel__tls_s *owner; /* thread it is enabled on, NULL when disabled */
  int free_pending;
};

/* Up to this many libraries layered on uvotel keep per-loop data (uvotel_loop_key_create). */
#define UVOTEL__LOOP_KEYS 4

/* One attached loop, in the process-wide registry (hooks.c). Blocks are never unlinked from the
 * registry: a detached block (loop NULL) is reused by the next attach, so a lock-free reader
 * walking the list never meets freed memory. */
typedef struct uvotel__loop_s {
  uv_loop_t *loop; /* atomic; NULL: free */
  uv_idle_t idle;  /* both internal to libuv (UV_HANDLE_INTERNAL): invisible to the program */
  uv_check_t check;
  int armed;
  void *data[UVOTEL__LOOP_KEYS];
  struct uvotel__loop_s *next;
} uvotel__loop_t;

/* Everything per thread, in one block so that one %fs-relative address reaches it. */
typedef struct uvotel__tls_s {
  uvotel_snapshot_t *ctx;    /* current context; NULL = empty */
  uvotel_async_id_t exec_id; /* 0 = top level (reported as 1) */
  uvotel_async_id_t trigger_id;
  void *exec_resource;
  uvotel__hooktab_t *hooks; /* NULL when no hook is enabled */
  int in_hook;
  uint32_t depth; /* open context scopes */
  uint32_t stack_cap;
  uvotel_snapshot_t **stack; /* stack[d]: the reference scope d holds (NULL: borrowed) */
  uvotel_async_id_t next_id, id_end;
  /* destroy queue */
  uvotel_async_id_t *dq;
  size_t dq_n, dq_cap;
  /* enabled hooks in enable order */
  uvotel_hook_t **list;
  uint32_t list_n, list_cap;
  uvotel__hooktab_t *retired;
  uvotel_hook_t *free_after_dispatch;
  /* the loop this thread delivers its destroy queue on: the one it attached or looked up last
   * (dq_loop its address, dq_epoch uvotel__loop_epoch when it was checked); NULL: none */
  uvotel__loop_t *dq_blk;
  uv_loop_t *dq_loop;
  uint64_t dq_epoch;
  /* pooled mappings by entry count */
  uvotel_snapshot_t *pool[UVOTEL__POOL_MAX_N + 1];
  uint32_t pool_n[UVOTEL__POOL_MAX_N + 1];
  int cleanup_registered;
} uvotel__tls_t;

extern UVOTEL__TLS uvotel__tls_t uvotel__tls;

void uvotel__tls_register(uvotel__tls_t *t);
void uvotel__set_tracking(void);
void uvotel__hooks_retire_flush(uvotel__tls_t *t);

/* Dispatch helpers (hot path, inlined). */
static inline void uvotel__dispatch_id(uvotel__tls_t *t, int ev, uvotel_async_id_t id) {
  uvotel__hooktab_t *tab = t->hooks;
  if (UVOTEL__LIKELY(tab == NULL) || tab->n[ev] == 0 || t->in_hook) return;
  t->in_hook = 1;
  uvotel__hookfn_t *f = tab->fns[ev];
  for (uint32_t i = 0, n = tab->n[ev]; i < n; i++) {
    ((void (*)(uvotel_async_id_t, void *))f[i].fn)(id, f[i].arg);
  }
  t->in_hook = 0;
  if (UVOTEL__UNLIKELY(t->retired != NULL || t->free_after_dispatch != NULL)) {
    uvotel__hooks_retire_flush(t);
  }
}

static inline int uvotel__has_hooks(const uvotel__tls_t *t, int ev) {
  return t->hooks != NULL && t->hooks->n[ev] != 0;
}

/* ---- context internals used by hooks.c ---- */
static inline void uvotel__ctx_retain(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  if (m != NULL && m->owner == t) m->refs++;
}
void uvotel__ctx_release_slow(uvotel_snapshot_t *m);
static inline void uvotel__ctx_release(uvotel__tls_t *t, uvotel_snapshot_t *m) {
  (void)t;
  if (m != NULL && m->owner != NULL && --m->refs == 0) uvotel__ctx_release_slow(m);
}
/* Capture for storage in a resource: a counted reference (or a copy off the owner thread). */
uvotel_snapshot_t *uvotel__ctx_capture(uvotel__tls_t *t);
/* Close scopes above depth (leaked by a callback) and release what they held. */
void uvotel__unwind_scopes(uvotel__tls_t *t, uint32_t depth);

void uvotel__note_alloc(void);

#endif
