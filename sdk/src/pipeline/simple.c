/* The simple processor both signals share (simple_internal.h). */
#include "simple_internal.h"

uvotel__simple_t *uvotel__simple_create(const uvotel__simple_ops_t *ops, uvotel__exp_t *exp) {
  uvotel__simple_t *s = uvotel_calloc(1, sizeof *s);
  if (s == NULL) {
    uvotel__exp_free(exp);
    return NULL;
  }
  s->ops = ops;
  s->exp = exp;
  return s;
}

/* The rare outcomes of uvotel__simple_export (inline in simple_internal.h), out of line. */
void uvotel__simple_failed(uvotel__simple_t *s, int rc) {
  const uvotel__simple_ops_t *ops = s->ops;
  atomic_fetch_add(&s->failed, 1);
  if (ops->fail_limit != NULL) {
    uvotel_diag_limited(ops->fail_limit, UVOTEL_DIAG_WARN, rc, "%s: export failed", ops->name);
  } else {
    uvotel_diag(UVOTEL_DIAG_WARN, rc, "%s: export failed", ops->name);
  }
}

void uvotel__simple_after_shutdown(uvotel__simple_t *s) {
  uint64_t dropped = atomic_fetch_add(&s->dropped, 1) + 1;
  if (s->ops->after_shutdown != NULL) s->ops->after_shutdown(dropped);
}

/* rc, or (loss_rc) UVOTEL_EIO, said with the count, when items were lost since the previous
 * call. */
static int report(uvotel__simple_t *s, const char *what, int rc) {
  if (!s->ops->loss_rc) return rc;
  uint64_t lost = atomic_load(&s->dropped) + atomic_load(&s->failed);
  uint64_t prev = atomic_exchange(&s->reported, lost);
  if (lost == prev) return rc;
  uvotel_diag(UVOTEL_DIAG_WARN, rc != 0 ? rc : UVOTEL_EIO,
              "%s: %s: %llu %s(s) not delivered since the last flush", s->ops->name, what,
              (unsigned long long)(lost - prev), s->ops->item);
  return rc != 0 ? rc : UVOTEL_EIO;
}

int uvotel__simple_flush(void *self, uint64_t timeout_ms) {
  uvotel__simple_t *s = self;
  return report(s, "force_flush", uvotel__exp_force_flush(s->exp, timeout_ms));
}

int uvotel__simple_shutdown(void *self, uint64_t timeout_ms) {
  uvotel__simple_t *s = self;
  atomic_store(&s->shut, 1);
  return report(s, "shutdown", uvotel__exp_shutdown(s->exp, timeout_ms));
}

void uvotel__simple_free(void *self) {
  uvotel__simple_t *s = self;
  uvotel__exp_free(s->exp);
  uvotel_free(s);
}

void uvotel__simple_counters(void *self, uvotel__pipe_counters_t *out) {
  uvotel__simple_t *s = self;
  out->received = atomic_load(&s->received);
  out->dropped = atomic_load(&s->dropped);
  out->exported = atomic_load(&s->exported);
  out->failed = atomic_load(&s->failed);
  out->batches = atomic_load(&s->batches);
  out->queued = 0;
  out->in_flight = 0;
}
