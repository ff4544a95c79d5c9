/* Finding libuvotel_exporters at run time, for programs whose linker dropped it.
 *
 * The exporters register their factories ("file", "console", "otlp") from a constructor when
 * libuvotel_exporters is loaded. A program that only calls uvotel_tracer_provider_from_env names
 * no symbol of that library, so a linker running with --as-needed (Debian's and Ubuntu's gcc
 * default) leaves it out of the program's DT_NEEDED even though it was on the link line: no
 * constructor, no exporter, no trace. So the first time an exporter name is not registered,
 * the shared SDK loads the library itself:
 *   1. dlopen(soname, RTLD_NOLOAD): already loaded (its constructor registered; nothing to do);
 *   2. the file with that soname next to this libuvotel (dladdr of the SDK itself): the
 *      installed layout, and the build tree's lib/ -- the exporters built with this SDK;
 *   3. dlopen(soname): the dynamic linker's search (LD_LIBRARY_PATH, ld.so.cache).
 * The static SDK never does this (a shared libuvotel_exporters would bring a second SDK with a
 * second registry): static programs call uvotel_exporters_register(). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "trace_internal.h"

#ifndef UVOTEL__EXPORTERS_SONAME
#define UVOTEL__EXPORTERS_SONAME "libuvotel_exporters.so"
#endif

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_loaded;
static char g_why[512];

#ifdef UVOTEL__SHARED
static void *open_next_to_sdk(void) {
  Dl_info info;
  if (dladdr((void *)&uvotel__exporters_autoload, &info) == 0 || info.dli_fname == NULL) {
    return NULL;
  }
  const char *slash = strrchr(info.dli_fname, '/');
  if (slash == NULL) return NULL;
  char path[4096];
  int n = snprintf(path, sizeof path, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname,
                   UVOTEL__EXPORTERS_SONAME);
  if (n < 0 || (size_t)n >= sizeof path) return NULL;
  void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (h == NULL) {
    const char *e = dlerror();
    snprintf(g_why, sizeof g_why, "%.500s", e != NULL ? e : path);
  }
  return h;
}
#endif

static void load(void) {
#ifdef UVOTEL__SHARED
  void *h = dlopen(UVOTEL__EXPORTERS_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
  if (h == NULL) h = open_next_to_sdk();
  if (h == NULL) {
    h = dlopen(UVOTEL__EXPORTERS_SONAME, RTLD_NOW | RTLD_GLOBAL);
    if (h == NULL && g_why[0] == '\0') {
      const char *e = dlerror();
      snprintf(g_why, sizeof g_why, "%.500s", e != NULL ? e : UVOTEL__EXPORTERS_SONAME);
    }
  }
  /* Never dlclose: the registered factories point into the library. */
  g_loaded = h != NULL;
  if (g_loaded) {
    g_why[0] = '\0';
    uvotel_diag(UVOTEL_DIAG_DEBUG, 0, "loaded %s at run time", UVOTEL__EXPORTERS_SONAME);
  }
#else
  snprintf(g_why, sizeof g_why,
           "a static libuvotel does not load exporters by itself; call "
           "uvotel_exporters_register()");
#endif
}

int uvotel__exporters_autoload(void) {
  pthread_once(&g_once, load);
  return g_loaded;
}

const char *uvotel__exporters_autoload_error(void) {
  pthread_once(&g_once, load);
  return g_why;
}
