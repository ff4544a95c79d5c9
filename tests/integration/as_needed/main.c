/* A program as the README has users write it: the provider from the environment, one span,
 * shutdown. It names no symbol of libuvotel_exporters and is linked with -Wl,--as-needed
 * (tests/CMakeLists.txt), so the linker leaves that library out of its DT_NEEDED. It says
 * whether the library was loaded at start (it must not be, or the test proves nothing) and
 * what shutdown returned. */
#include <dlfcn.h>
#include <stdio.h>

#include <uvotel.h>

int main(void) {
  void *h = dlopen(EXPORTERS_SONAME, RTLD_NOW | RTLD_NOLOAD);
  printf("exporters loaded at start: %s\n", h != NULL ? "yes" : "no");
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_from_env();
  if (p == NULL) return 1;
  uvotel_tracer_t *t = uvotel_tracer_get(p, "as-needed", NULL);
  uvotel_span_end(uvotel_span_start(t, "as-needed span", NULL));
  int rc = uvotel_tracer_provider_shutdown(p, 5000);
  uvotel_tracer_provider_free(p);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* the batch processor's handles close */
  printf("shutdown %d\n", rc);
  return rc == 0 ? 0 : 2;
}
