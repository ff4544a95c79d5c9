/* libuvotel_preload.so: instrument an unmodified, dynamically linked libuv program.
 *
 *   LD_PRELOAD=/path/libuvotel_preload.so OTEL_SERVICE_NAME=x UVOTEL_INSTRUMENT=all ./prog
 *
 * Every libuv function uvotel wraps (preload_list.h, the uv_redirect.h list) is defined here
 * with libuv's own name, so the dynamic linker binds the program's calls to these definitions
 * first. Each one hands the call to the uvotel wrapper (libuvotel_uv), which in turn calls the
 * libuv function by the same name -- and lands here again. Such calls, and every call made from
 * inside uvotel's own libraries (the batch processor's timer and async handles, the loop
 * attachment's check handle), go to the real libuv function, looked up with
 * dlsym(RTLD_NEXT, ...). Two guards decide, each enough to stop the recursion on its own:
 *   - a per-thread depth counter, non-zero while this file is inside a wrapper;
 *   - the caller's address: a call from the text of a libuvotel*.so is internal.
 *
 * On the first call from the program: the tracer provider is made from the environment
 * (uvotel_tracer_provider_from_env_with, OTEL_* variables; the file exporter by default) on a
 * private loop run by one background thread, so its timers and exports never touch the
 * program's loops (the program's uv_loop_close still returns 0); automatic spans are switched
 * on for UVOTEL_INSTRUMENT (default here: all), as root spans too unless
 * UVOTEL_INSTRUMENT_REQUIRE_PARENT=true (a plain program has no spans of its own), with a
 * SERVER span "tcp accept" per accepted connection. At exit (atexit, or this library's
 * destructor) the provider is shut down on its thread, which flushes every span ended so far.
 *
 * Limits: a program that links libuv statically, or calls libuv through pointers it resolved
 * itself (dlsym on libuv.so), is not interposed; calls libuv makes to itself never are (they
 * are internal to libuv.so); handles must be closed with uv_close, which is interposed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "preload_list.h"
#include "preload_logs.h" /* UVOTEL_LOGS capture (preload_logs.c) */
#include "uvotel.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/otlp_http.h"

#define EXPORT __attribute__((visibility("default")))
#define NOINLINE __attribute__((noinline))

/* ---- the real libuv functions ---- */

#define REAL_PTR(name, wrap, params, args) static int(*real_##name) params;
#define REAL_PTR_V(name, wrap, params, args) static void(*real_##name) params;
UVOTEL_PRELOAD_LIST(REAL_PTR, REAL_PTR_V)

static int g_resolved;

static void resolve(void) {
  int missing = 0;
#define RESOLVE(name, wrap, params, args)                                          \
  *(void **)&real_##name = dlsym(RTLD_NEXT, #name);                                \
  if (real_##name == NULL) {                                                       \
    fprintf(stderr, "libuvotel_preload: %s not found after the preload\n", #name); \
    missing = 1;                                                                   \
  }
  UVOTEL_PRELOAD_LIST(RESOLVE, RESOLVE)
  if (missing) abort(); /* without the real function there is nothing safe to call */
  g_resolved = 1;
}

/* ---- who is calling ---- */

#define MAX_RANGES 32
static struct { uintptr_t lo, hi; } g_ranges[MAX_RANGES];
static int g_nranges;

static int add_ranges(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size, (void)arg;
  const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
  const char *base = strrchr(name, '/');
  base = base != NULL ? base + 1 : name;
  if (strncmp(base, "libuvotel", 9) != 0) return 0;
  for (int i = 0; i < info->dlpi_phnum && g_nranges < MAX_RANGES; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    g_ranges[g_nranges].lo = info->dlpi_addr + ph->p_vaddr;
    g_ranges[g_nranges].hi = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
    g_nranges++;
  }
  return 0;
}

static __thread int t_depth;

static inline int internal_caller(const void *ra) {
  if (t_depth > 0) return 1;
  uintptr_t a = (uintptr_t)ra;
  for (int i = 0; i < g_nranges; i++) {
    if (a >= g_ranges[i].lo && a < g_ranges[i].hi) return 1;
  }
  return 0;
}

/* ---- the provider and its thread ---- */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready; /* 1 once set up; 0 while setting up or when setup failed */
static uv_loop_t g_loop;
static uv_async_t g_stop;
static pthread_t g_thread;
static int g_thread_started;
static uvotel_tracer_provider_t *g_provider;
static pthread_mutex_t g_exit_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_exited;

static void on_stop(uv_async_t *a) {
  uvotel__preload_logs_stop();
  (void)uvotel_tracer_provider_shutdown(g_provider, 10000);
  real_uv_close((uv_handle_t *)a, NULL);
}

static void *export_thread(void *arg) {
  (void)arg;
  uv_run(&g_loop, UV_RUN_DEFAULT);
  uvotel_tracer_provider_free(g_provider);
  g_provider = NULL;
  uv_run(&g_loop, UV_RUN_DEFAULT); /* the processors' handles close */
  (void)real_uv_loop_close(&g_loop);
  return NULL;
}

static void preload_exit(void) {
  pthread_mutex_lock(&g_exit_mu);
  if (!g_exited && g_thread_started) {
    g_exited = 1;
    uvotel_auto_spans_disable();
    (void)real_uv_async_send(&g_stop);
    (void)pthread_join(g_thread, NULL);
  }
  g_exited = 1;
  pthread_mutex_unlock(&g_exit_mu);
}

/* A boolean by the one rule (uvotel/env.h): only "true" is true; "1" and the like are refused
 * with a warning and the default (false) kept. */
static int env_true(const char *name) {
  int v = 0;
  (void)uvotel_env_bool(name, &v);
  return v;
}

static uvotel_tracer_t *g_tracer;

static void setup(void) {
  t_depth++;
  /* Explicit, so the exporters' library is linked even with --as-needed. */
  (void)uvotel_exporters_register(); /* file, console and otlp */
  if (uv_loop_init(&g_loop) != 0) goto out;
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = &g_loop;
  g_provider = uvotel_tracer_provider_from_env_with(&base);
  if (g_provider == NULL) goto out;
  uvotel__preload_logs_start(&g_loop, g_provider); /* before the loop's thread starts */
  g_tracer = uvotel_tracer_get(g_provider, "uvotel.preload", UVOTEL_VERSION_STRING);
  (void)uvotel_tracer_provider_set_global(g_provider); /* for libraries that trace themselves */
  if (real_uv_async_init(&g_loop, &g_stop, on_stop) != 0) goto out;
  if (pthread_create(&g_thread, NULL, export_thread, NULL) != 0) goto out;
  g_thread_started = 1;
  atexit(preload_exit);

  const char *spec = uvotel_env_get("UVOTEL_INSTRUMENT");
  unsigned cats = UVOTEL_INSTRUMENT_ALL;
  if (spec != NULL && uvotel_instrument_parse(spec, &cats) != 0) {
    fprintf(stderr, "libuvotel_preload: bad UVOTEL_INSTRUMENT \"%s\": no automatic spans\n", spec);
    cats = 0;
  }
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = g_tracer;
  o.categories = cats;
  o.flags = env_true("UVOTEL_INSTRUMENT_REQUIRE_PARENT") ? 0 : UVOTEL_AUTO_SPANS_ROOTS;
  o.on_accept = uvotel_auto_spans_accept_span;
  o.on_accept_arg = g_tracer;
  (void)uvotel_auto_spans_enable(&o);
  g_ready = 1;
out:
  t_depth--;
}

static inline int ready(void) {
  if (__builtin_expect(!g_ready, 0)) {
    if (g_exited) return 0;
    pthread_once(&g_once, setup);
  }
  return g_ready;
}

__attribute__((constructor)) static void preload_init(void) {
  resolve();
  dl_iterate_phdr(add_ranges, NULL);
}

__attribute__((destructor)) static void preload_fini(void) {
  preload_exit();
}

/* ---- the interposers ---- */

/* Not inlined and not tail-calling (see CMakeLists: -fno-optimize-sibling-calls), so a
 * wrapper's own call back into libuv comes from this library's text or with t_depth set. */
#define INTERPOSE(name, wrap, params, args)                                                \
  EXPORT NOINLINE int name params {                                                        \
    if (internal_caller(__builtin_return_address(0)) || !ready()) return real_##name args; \
    t_depth++;                                                                             \
    int rc_ = wrap args;                                                                   \
    t_depth--;                                                                             \
    return rc_;                                                                            \
  }
#define INTERPOSE_V(name, wrap, params, args)                       \
  EXPORT NOINLINE void name params {                                \
    if (internal_caller(__builtin_return_address(0)) || !ready()) { \
      real_##name args;                                             \
      return;                                                       \
    }                                                               \
    t_depth++;                                                      \
    wrap args;                                                      \
    t_depth--;                                                      \
  }
UVOTEL_PRELOAD_LIST(INTERPOSE, INTERPOSE_V)
