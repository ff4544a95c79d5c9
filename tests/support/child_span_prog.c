/* A child for test_child_trace: a uvotel program that makes its provider from the environment
 * (OTLP to the test's receiver; TRACEPARENT from the parent's spawn), starts one root span,
 * ends it, flushes and exits 0 (1 when the flush failed). */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "uvotel.h"
#include "uvotel/exporters/file.h"

int main(void) {
  (void)uvotel_exporters_register();
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) return 2;
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = &loop;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_from_env_with(&base);
  if (p == NULL) return 2;
  uvotel_tracer_t *t = uvotel_tracer_get(p, "child", "1");
  uvotel_span_t *s = uvotel_span_start(t, "child work", NULL); /* a root span */
  uvotel_span_end(s);
  uv_run(&loop, UV_RUN_NOWAIT);
  int rc = uvotel_tracer_provider_shutdown(p, 5000);
  uvotel_tracer_provider_free(p);
  uv_run(&loop, UV_RUN_DEFAULT);
  (void)uvotel_loop_close(&loop);
  if (uv_loop_close(&loop) != 0) return 3;
  if (rc != 0) fprintf(stderr, "child: shutdown: %s\n", uvotel_strerror(rc));
  return rc == 0 ? 0 : 1;
}
