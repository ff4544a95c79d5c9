/* Propagation with the current context: inject the current span and baggage, extract into a
 * context (scopes or a snapshot) whose current span carries the remote parent. */
#include "propagation_internal.h"

#define PSCOPE_ENTERED 0x5a

UVOTEL__API int uvotel_propagation_inject_current(const uvotel_propagator_t *p, void *carrier,
                                                  const uvotel_carrier_setter_t *setter) {
  if (p == NULL) p = uvotel_propagator_global();
  uvotel_span_t *span = uvotel_current_span();
  uvotel_span_context_t sc = uvotel_span_context(span); /* all zero without a span */
  return uvotel_propagator_inject(p, &sc, uvotel_baggage_current(), carrier, setter);
}

UVOTEL__API int uvotel_propagation_extract_enter(const uvotel_propagator_t *p, void *carrier,
                                                 const uvotel_carrier_getter_t *getter,
                                                 uvotel_propagation_scope_t *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  memset(out, 0, sizeof *out);
  if (getter == NULL || getter->get == NULL) return UVOTEL_EINVAL;
  if (p == NULL) p = uvotel_propagator_global();
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  int rc = uvotel_propagator_extract(p, carrier, getter, &x);
  if (rc == UVOTEL_ENOMEM) {
    uvotel_extracted_reset(&x);
    return rc;
  }
  if (uvotel_span_context_is_valid(&x.span_context)) {
    /* The wrapper span takes its own reference to the tracestate. */
    out->span_ = uvotel_span_wrap_context(&x.span_context);
    uvotel_span_context_t got = uvotel_span_context(out->span_);
    if (!uvotel_span_context_is_valid(&got)) { /* the static invalid span: out of memory */
      uvotel_extracted_reset(&x);
      memset(out, 0, sizeof *out);
      return UVOTEL_ENOMEM;
    }
    rc = uvotel_span_enter(out->span_, &out->span_scope_);
    if (rc < 0) {
      uvotel_span_end(out->span_);
      uvotel_extracted_reset(&x);
      memset(out, 0, sizeof *out);
      return rc;
    }
    out->has_span_ = 1;
  }
  if (x.baggage != NULL) {
    rc = uvotel_baggage_enter(x.baggage, &out->baggage_scope_);
    if (rc < 0) {
      if (out->has_span_) {
        uvotel_scope_exit(&out->span_scope_);
        uvotel_span_end(out->span_);
      }
      uvotel_extracted_reset(&x);
      memset(out, 0, sizeof *out);
      return rc;
    }
    out->has_baggage_ = 1;
  }
  uvotel_extracted_reset(&x); /* the span and the context hold what they need */
  out->entered_ = PSCOPE_ENTERED;
  return 0;
}

UVOTEL__API int uvotel_propagation_scope_exit(uvotel_propagation_scope_t *s) {
  if (s == NULL || s->entered_ != PSCOPE_ENTERED) return UVOTEL_EINVAL;
  if (s->has_baggage_) {
    int rc = uvotel_scope_exit(&s->baggage_scope_);
    if (rc < 0) return rc;
    s->has_baggage_ = 0;
  }
  if (s->has_span_) {
    int rc = uvotel_scope_exit(&s->span_scope_);
    if (rc < 0) return rc;
    s->has_span_ = 0;
    uvotel_span_end(s->span_); /* non-recording: nothing is exported */
    s->span_ = NULL;
  }
  s->entered_ = 0;
  return 0;
}

UVOTEL__API int uvotel_propagation_extract_snapshot(const uvotel_propagator_t *p, void *carrier,
                                                    const uvotel_carrier_getter_t *getter,
                                                    uvotel_snapshot_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  uvotel_propagation_scope_t s;
  int rc = uvotel_propagation_extract_enter(p, carrier, getter, &s);
  if (rc < 0) return rc;
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  uvotel_propagation_scope_exit(&s); /* the snapshot keeps the span and baggage alive */
  if (snap == NULL) return UVOTEL_ENOMEM;
  *out = snap;
  return 0;
}
