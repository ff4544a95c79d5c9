/* Child processes: type "PROCESSWRAP".
 *
 * A spawned process is one resource from uvotel_spawn until uvotel_close; the exit callback
 * runs inside it, in the context of the spawn. Under a current span (or the automatic
 * "process" span) the child gets the context through the environment-variable carrier:
 * TRACEPARENT, TRACESTATE and BAGGAGE are added to a copy of its environment (the caller's
 * options and env are never modified); UVOTEL_PROPAGATE_ENV=false turns that off. */
#include "internal.h"
#include "uvotel/env.h"

static int propagate_env(void) {
  int on = 1;
  (void)uvotel_env_bool("UVOTEL_PROPAGATE_ENV", &on); /* malformed: a warning, and on */
  return on;
}

static void exit_tramp(uv_process_t *h, int64_t exit_status, int term_signal) {
  uvotel__hs_t *s = uvotel__hs_get(h->loop, h);
  if (UVOTEL__UNLIKELY(s == NULL)) {
    uvotel__no_state("process exit");
    return;
  }
  if (UVOTEL__UNLIKELY(s->span != NULL)) {
    uvotel_span_t *span = s->span;
    s->span = NULL;
    uvotel__auto_process_end(span, exit_status, term_signal);
  }
  uv_exit_cb cb = (uv_exit_cb)s->cb;
  if (cb == NULL) return;
  uvotel_callback_scope_t cs;
  (void)uvotel_resource_enter(&s->res, &cs); /* exit is a no-op if this failed */
  cb(h, exit_status, term_signal);
  uvotel_resource_exit(&cs);
}

UVOTEL__API int uvotel_spawn(uv_loop_t *loop, uv_process_t *handle,
                             const uv_process_options_t *options) {
  if (loop == NULL || handle == NULL || options == NULL) return UV_EINVAL; /* libuv would crash */
  if (!uvotel_tracking()) return uv_spawn(loop, handle, options);
  uvotel__forget_stale(loop, handle); /* there is no uv_process_init: memory may be reused */
  int is_new;
  uvotel__hs_t *s = uvotel__track(loop, handle, &is_new);
  if (s == NULL) return UV_ENOMEM;
  if (uvotel__auto_on(UVOTEL__AUTO_PROCESS)) uvotel__auto_process_begin(s, options);
  uv_process_options_t o = *options;
  o.exit_cb = exit_tramp;
  char **env = NULL;
  if (propagate_env()) {
    uvotel_span_context_t sc =
        uvotel_span_context(s->span != NULL ? s->span : uvotel_current_span());
    if (uvotel_span_context_is_valid(&sc) &&
        uvotel_env_carrier_inject(options->env, &sc, uvotel_baggage_current(), &env) == 0) {
      o.env = env;
    }
  }
  int err = uv_spawn(loop, handle, &o);
  uvotel_env_carrier_free(env);
  if (err) {
    if (s->span != NULL) {
      uvotel_span_t *span = s->span;
      s->span = NULL;
      uvotel__auto_status_end(span, err);
    }
    uvotel__hs_remove(s);
    return err;
  }
  s->cb = (void (*)(void))options->exit_cb;
  (void)uvotel_resource_init_owner(&s->res, "PROCESSWRAP", 0, UVOTEL_RESOURCE_MANUAL_DESTROY,
                                   handle);
  if (s->span != NULL) uvotel__auto_process_pid(s->span, handle->pid);
  return 0;
}

/* Synchronous: passes through. */
UVOTEL__API int uvotel_process_kill(uv_process_t *handle, int signum) {
  return uv_process_kill(handle, signum);
}
