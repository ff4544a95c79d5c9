/* uvotel_span_record_exception: the semantic conventions' "exception" event. */
#include "trace_internal.h"

UVOTEL__API void uvotel_span_record_exception(uvotel_span_t *s, const char *type,
                                              const char *message, const char *stacktrace,
                                              unsigned flags) {
  uvotel_attribute_t a[3];
  size_t n = 0;
  /* The conventions require exception.type or exception.message. */
  if (type != NULL && *type != '\0')
    a[n++] = (uvotel_attribute_t)UVOTEL_ATTR_STR("exception.type", type);
  if (message != NULL && *message != '\0') {
    a[n++] = (uvotel_attribute_t)UVOTEL_ATTR_STR("exception.message", message);
  }
  if (n == 0 || (flags & ~UVOTEL_EXCEPTION_SET_STATUS) != 0) {
    uvotel__misuse(s != NULL ? s->provider : NULL,
                   "uvotel_span_record_exception: no type or message, or unknown flags");
    return;
  }
  if (stacktrace != NULL && *stacktrace != '\0') {
    a[n++] = (uvotel_attribute_t)UVOTEL_ATTR_STR("exception.stacktrace", stacktrace);
  }
  uvotel_span_add_event(s, "exception", a, n);
  if (flags & UVOTEL_EXCEPTION_SET_STATUS) {
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, message != NULL ? message : type);
  }
}
