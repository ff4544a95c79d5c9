/* The shared lifecycle of handles that are one resource from a start to the stop or close:
 * signal ("SIGNALWRAP"), fs_event ("FSEVENTWRAP") and fs_poll ("STATWATCHER"). */
#include "internal.h"

int uvotel__watch_start(uv_handle_t *h, void (*cb)(void), const char *type,
                        int (*start)(uv_handle_t *h, void *arg), void *arg, unsigned flags) {
  int is_new;
  uvotel__hs_t *s = uvotel__track(h->loop, h, &is_new);
  if (s == NULL) return UV_ENOMEM;
  int err = start(h, arg);
  if (err) {
    if (is_new) uvotel__hs_remove(s);
    return err;
  }
  uvotel__res_end(s); /* restarted without a stop: the earlier start's resource ends */
  s->cb = cb;
  (void)uvotel_resource_init_owner(&s->res, type, 0, UVOTEL_RESOURCE_MANUAL_DESTROY | flags, h);
  return 0;
}

int uvotel__watch_stop(uv_handle_t *h, int (*stop)(uv_handle_t *h)) {
  if (h == NULL) return UV_EINVAL;
  uvotel__hs_t *s = uvotel_tracking() ? uvotel__hs_get(h->loop, h) : NULL;
  int err = stop(h);
  if (s != NULL) uvotel__res_end(s);
  return err;
}
