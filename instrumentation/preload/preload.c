/* libuvotel_preload.so: instrument an unmodified, dynamically linked libuv program.
 *
 *   LD_PRELOAD=/path/libuvotel_preload.so OTEL_SERVICE_NAME=x UVOTEL_INSTRUMENT=all ./prog
 *
 * Every libuv function uvotel wraps (preload_list.h, the uv_redirect.h list) is defined here
 * with libuv's own name, so the dynamic linker binds the program's calls to these definitions
 * first; each hands the call to its uvotel wrapper (libuvotel_uv). uvotel's libraries and
 * libuv itself are bound straight to the real libuv functions at load time (see "binding"
 * below), so a wrapper's own call to libuv, uvotel's internal handles and libuv's calls to
 * itself never come here: what is traced is exactly what uv_redirect.h would redirect.
 *
 * On the first call from the program: the tracer provider is made from the environment
 * (uvotel_tracer_provider_from_env_with, OTEL_* variables; the file exporter by default) on a
 * private loop run by one background thread, so its timers and exports never touch the
 * program's loops (the program's uv_loop_close still returns 0); automatic spans are switched
 * on for UVOTEL_INSTRUMENT (default here: all), as root spans too unless
 * UVOTEL_INSTRUMENT_REQUIRE_PARENT=true (a plain program has no spans of its own), with a
 * SERVER span "tcp accept" per accepted connection. At exit (atexit, or this library's
 * destructor) the provider is shut down on its thread, which flushes every span ended so far;
 * automatic spans still open then (a connection never closed, a process still running) are not
 * ended for the program: they are counted and said ("N spans were still open at shutdown and
 * were not exported"; README "Spans still open at exit"), as they are on the signal path.
 *
 * Limits (README "Instrument an existing service" has the full list): a program that links
 * libuv statically, or calls libuv through pointers it resolved itself (dlsym on libuv.so), is
 * not interposed; handles must be closed with uv_close, which is interposed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "preload_internal.h"
#include "preload_list.h"
#include "preload_logs.h" /* UVOTEL_LOGS capture (preload_logs.c) */
#include "uvotel.h"
#include "uvotel/uv.h"
#include "uvotel/uv_spans.h"
#include "uvotel/exporters/file.h"
#include "uvotel/exporters/otlp_http.h"

#define EXPORT __attribute__((visibility("default")))

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

/* ---- binding uvotel and libuv straight to libuv ----
 *
 * The interposers below must see exactly the calls that uv_redirect.h would redirect: the
 * program's own (any object but libuv and uvotel). libuv calls its exported functions through
 * its own PLT (uv__run_timers calls uv_timer_stop and uv_timer_again before every timer
 * callback), and uvotel's libraries call libuv by name, so the dynamic linker binds both to the
 * interposers. Guessing the caller from the return address cannot tell those apart from the
 * program: a program function that tail-calls uv_timer_start from a callback returns into
 * uvotel's trampoline, and one called by libuv returns into libuv. So at load time the
 * relocation slots (GOT/PLT entries and absolute pointers) of libuv and of every libuvotel*
 * library that name a wrapped function are rewritten to the real libuv function: then every
 * call that reaches an interposer came from the program, by construction, tail call or not.
 * The same is done for the socket calls preload_sock.c interposes (send, sendto, sendmsg,
 * sendmmsg: libuv's own sends are not the program's sends outside libuv).
 * If that fails (an unknown relocation format), the preload stays dormant: every interposer
 * passes straight through and nothing is traced, which is said on stderr. */

typedef struct real_fn_s {
  const char *name;
  void **addr; /* &real_<name> */
} real_fn_t;

#define REAL_ENTRY(name, wrap, params, args) {#name, (void **)&real_##name},
static real_fn_t g_real[] = {UVOTEL_PRELOAD_LIST(REAL_ENTRY, REAL_ENTRY)};
#define N_REAL (sizeof g_real / sizeof g_real[0])

static void *real_addr(const char *name) {
  if (name[0] != 'u' || name[1] != 'v' || name[2] != '_') return preload__sock_real(name);
  for (size_t i = 0; i < N_REAL; i++) {
    if (strcmp(g_real[i].name, name) == 0) return *g_real[i].addr;
  }
  return NULL;
}

#if defined(__x86_64__)
#define R_SLOT R_X86_64_JUMP_SLOT
#define R_GDAT R_X86_64_GLOB_DAT
#define R_ABS R_X86_64_64
#elif defined(__aarch64__)
#define R_SLOT R_AARCH64_JUMP_SLOT
#define R_GDAT R_AARCH64_GLOB_DAT
#define R_ABS R_AARCH64_ABS64
#endif

static const char *g_libuv_path; /* the object the real functions live in */
static int g_bind_failed;
static int g_bound; /* 1 once every slot was rewritten */

static const char *base_name(const char *path) {
  const char *b = strrchr(path, '/');
  return b != NULL ? b + 1 : path;
}

#ifdef R_SLOT
/* Rewrite the slots of one relocation table; -1 when a slot for a wrapped function could not
 * be written. */
static int bind_table(uintptr_t base, const ElfW(Rela) * rel, size_t size, const ElfW(Sym) * syms,
                      const char *strs) {
  for (size_t i = 0; i < size / sizeof *rel; i++) {
    unsigned type = (unsigned)ELF64_R_TYPE(rel[i].r_info);
    size_t sym = (size_t)ELF64_R_SYM(rel[i].r_info);
    if (sym == 0) continue;
    void *real = real_addr(strs + syms[sym].st_name);
    if (real == NULL) continue;
    if (type != R_SLOT && type != R_GDAT && type != R_ABS) return -1;
    uintptr_t value = (uintptr_t)real + (type == R_ABS ? (uintptr_t)rel[i].r_addend : 0);
    void **slot = (void **)(base + rel[i].r_offset);
    if ((uintptr_t)*slot != value) *slot = (void *)value;
  }
  return 0;
}
#endif

static int bind_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size, (void)arg;
  const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
  int ours = strncmp(base_name(name), "libuvotel", 9) == 0;
  int libuv = g_libuv_path != NULL && name[0] != '\0' && strcmp(name, g_libuv_path) == 0;
  if (!ours && !libuv) return 0;
#ifdef R_SLOT
  uintptr_t base = info->dlpi_addr;
  const ElfW(Dyn) *dyn = NULL;
  uintptr_t relro = 0, relro_len = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn) *)(base + ph->p_vaddr);
    if (ph->p_type == PT_GNU_RELRO) relro = base + ph->p_vaddr, relro_len = ph->p_memsz;
  }
  if (dyn == NULL) {
    g_bind_failed = 1;
    return 0;
  }
  uintptr_t symtab = 0, strtab = 0, rela = 0, relasz = 0, jmprel = 0, pltrelsz = 0, pltrel = 0;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    uintptr_t v = (uintptr_t)dyn->d_un.d_ptr;
    switch (dyn->d_tag) {
      case DT_SYMTAB:
        symtab = v;
        break;
      case DT_STRTAB:
        strtab = v;
        break;
      case DT_RELA:
        rela = v;
        break;
      case DT_RELASZ:
        relasz = v;
        break;
      case DT_JMPREL:
        jmprel = v;
        break;
      case DT_PLTRELSZ:
        pltrelsz = v;
        break;
      case DT_PLTREL:
        pltrel = v;
        break;
      case DT_REL:
        g_bind_failed = 1;
        return 0; /* REL tables: not on these targets */
      default:
        break;
    }
  }
  /* The dynamic linker may or may not have relocated these in place. */
#define ABS_PTR(p) ((p) != 0 && (p) < base ? (p) + base : (p))
  symtab = ABS_PTR(symtab), strtab = ABS_PTR(strtab), rela = ABS_PTR(rela);
  jmprel = ABS_PTR(jmprel);
#undef ABS_PTR
  if (symtab == 0 || strtab == 0 || (jmprel != 0 && pltrel != DT_RELA)) {
    g_bind_failed = 1;
    return 0;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t lo = relro & ~(page - 1), hi = (relro + relro_len + page - 1) & ~(page - 1);
  if (relro_len != 0 && mprotect((void *)lo, hi - lo, PROT_READ | PROT_WRITE) != 0) {
    g_bind_failed = 1;
    return 0;
  }
  const ElfW(Sym) *syms = (const ElfW(Sym) *)symtab;
  const char *strs = (const char *)strtab;
  if ((rela != 0 && bind_table(base, (const ElfW(Rela) *)rela, relasz, syms, strs) != 0) ||
      (jmprel != 0 && bind_table(base, (const ElfW(Rela) *)jmprel, pltrelsz, syms, strs) != 0)) {
    g_bind_failed = 1;
  }
  if (relro_len != 0) (void)mprotect((void *)lo, hi - lo, PROT_READ);
#else
  g_bind_failed = 1; /* no relocation format known for this architecture */
#endif
  return 0;
}

static void bind_all(void) {
  Dl_info di;
  if (dladdr(*g_real[0].addr, &di) != 0) g_libuv_path = di.dli_fname;
  if (g_libuv_path == NULL) g_bind_failed = 1;
  dl_iterate_phdr(bind_object, NULL);
  if (g_bind_failed) {
    fprintf(stderr,
            "libuvotel_preload: cannot bind uvotel and libuv to libuv directly on this "
            "system: nothing is traced\n");
    return;
  }
  g_bound = 1;
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
static int g_forked; /* 1 in a child made by fork(): see "fork" below */

/* preload__flush asks the export thread through g_flush; the generation numbers, under
 * g_flush_mu, say which request a completion answers. */
static uv_async_t g_flush;
static pthread_mutex_t g_flush_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_flush_cond;
static uint64_t g_flush_asked, g_flush_done, g_flush_timeout_ms;

static void on_flush(uv_async_t *a) {
  (void)a;
  pthread_mutex_lock(&g_flush_mu);
  uint64_t gen = g_flush_asked, ms = g_flush_timeout_ms;
  pthread_mutex_unlock(&g_flush_mu);
  (void)uvotel_tracer_provider_force_flush(g_provider, ms);
  pthread_mutex_lock(&g_flush_mu);
  g_flush_done = gen;
  pthread_cond_broadcast(&g_flush_cond);
  pthread_mutex_unlock(&g_flush_mu);
}

static void on_stop(uv_async_t *a) {
  uvotel__preload_logs_stop();
  (void)uvotel_tracer_provider_shutdown(g_provider, 10000);
  real_uv_close((uv_handle_t *)a, NULL);
  real_uv_close((uv_handle_t *)&g_flush, NULL);
  pthread_mutex_lock(&g_flush_mu);
  g_flush_done = g_flush_asked; /* shutdown flushed: every request is answered */
  pthread_cond_broadcast(&g_flush_cond);
  pthread_mutex_unlock(&g_flush_mu);
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
  if (!g_exited && g_thread_started && !g_forked) {
    g_exited = 1;
    uvotel_auto_spans_disable();
    (void)real_uv_async_send(&g_stop);
    (void)pthread_join(g_thread, NULL);
  }
  g_exited = 1;
  pthread_mutex_unlock(&g_exit_mu);
}

static void deadline_after(struct timespec *ts, uint64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += (time_t)(ms / 1000);
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

int preload__flush(uint64_t timeout_ms) {
  struct timespec end;
  deadline_after(&end, timeout_ms);
  /* The exit path holds g_exit_mu while it shuts down and joins: wait for it, boundedly. */
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  rt.tv_sec += (time_t)(timeout_ms / 1000) + 1;
  if (pthread_mutex_timedlock(&g_exit_mu, &rt) != 0) return -1;
  int rc = -1;
  if (g_ready && !g_exited && !g_forked) {
    pthread_mutex_lock(&g_flush_mu);
    uint64_t gen = ++g_flush_asked;
    g_flush_timeout_ms = timeout_ms;
    pthread_mutex_unlock(&g_flush_mu);
    (void)real_uv_async_send(&g_flush);
    pthread_mutex_lock(&g_flush_mu);
    int err = 0;
    while (g_flush_done < gen && err == 0) {
      err = pthread_cond_timedwait(&g_flush_cond, &g_flush_mu, &end);
    }
    rc = g_flush_done >= gen ? 0 : -1;
    pthread_mutex_unlock(&g_flush_mu);
  }
  pthread_mutex_unlock(&g_exit_mu);
  return rc;
}

uint64_t preload__open_spans(void) {
  struct timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  rt.tv_sec += 1;
  if (pthread_mutex_timedlock(&g_exit_mu, &rt) != 0) return 0;
  uint64_t open = 0;
  uvotel_trace_counters_t c;
  if (g_ready && !g_exited && !g_forked && uvotel_tracer_provider_counters(g_provider, &c) == 0) {
    open = c.started > c.ended ? c.started - c.ended : 0;
  }
  pthread_mutex_unlock(&g_exit_mu);
  return open;
}

/* A boolean by the one rule (uvotel/env.h): only "true" is true; "1" and the like are refused
 * with a warning and the default (false) kept. */
static int env_true(const char *name) {
  int v = 0;
  (void)uvotel_env_bool(name, &v);
  return v;
}

static uvotel_tracer_t *g_tracer;
static void on_fork_child(void);
static void drop_self_from_env(void);

static void setup(void) {
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
  if (real_uv_async_init(&g_loop, &g_flush, on_flush) != 0) goto out;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g_flush_cond, &ca);
  pthread_condattr_destroy(&ca);
  /* The export thread never takes the signals the preload may catch (signals.c). */
  sigset_t block, prev;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &block, &prev);
  int err = pthread_create(&g_thread, NULL, export_thread, NULL);
  pthread_sigmask(SIG_SETMASK, &prev, NULL);
  if (err != 0) goto out;
  g_thread_started = 1;
  atexit(preload_exit);
  pthread_atfork(NULL, NULL, on_fork_child);

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
  drop_self_from_env(); /* if the constructor did not (see "children") */
  g_ready = 1;
  preload__signals_install();
out:;
}

static inline int ready(void) {
  if (__builtin_expect(!g_ready, 0)) {
    if (g_exited || g_forked || !g_bound) return 0;
    pthread_once(&g_once, setup);
  }
  return g_ready;
}

/* ---- fork ----
 *
 * A child made by fork() (without exec) has a copy of the provider but not the export thread
 * that runs it, nor the flush thread of signals.c. The preload goes quiet in it: no more
 * automatic spans, no setup, the signals back to their default action, nothing to join at exit.
 * The wrappers keep working for what the parent had set up (handles and requests already
 * tracked still run their callbacks in their context), so the program behaves as it would
 * without uvotel. Spans the parent had ended before the fork are exported by the parent; spans
 * ended in the child are not exported (the child's copy of the queue has no thread). A child
 * that execs starts afresh (and, by default, without the preload: see "children"). */

static void on_fork_child(void) {
  g_forked = 1;
  /* Their holders (the export or flush thread) are not in the child. */
  pthread_mutex_init(&g_exit_mu, NULL);
  pthread_mutex_init(&g_flush_mu, NULL);
  if (g_ready) uvotel_auto_spans_disable();
  g_ready = 0;
  preload__signals_forked();
}

/* ---- children ----
 *
 * LD_PRELOAD passes to every child (uv_spawn, fork + exec, system, posix_spawn), and each would
 * load the whole SDK and its exporter. So before the program runs, the preload takes its own
 * entry, and only that, out of LD_PRELOAD (unsetting it when nothing else is left): the program
 * and its children see the environment they would see without uvotel, minus nothing else.
 * UVOTEL_PRELOAD_CHILDREN=true leaves it in, so children are traced too.
 *
 * A process that does not itself link libuv (a wrapper such as sh -c, timeout or an
 * interpreter that loads libuv modules later) keeps the entry until it first calls a wrapped
 * function, so `LD_PRELOAD=... sh -c ./prog` still reaches prog. */

static int entry_is_self(const char *entry, const char *self, const char *self_real) {
  if (strcmp(entry, self) == 0) return 1;
  if (strchr(entry, '/') == NULL) return strcmp(entry, base_name(self)) == 0; /* a bare name */
  char *real = realpath(entry, NULL);
  int same = real != NULL && self_real != NULL && strcmp(real, self_real) == 0;
  free(real);
  return same;
}

/* Does an object other than libuv and uvotel's own name libuv in its DT_NEEDED? */
static int needs_libuv_cb(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
  if (strncmp(base_name(name), "libuvotel", 9) == 0) return 0;
  if (g_libuv_path != NULL && strcmp(name, g_libuv_path) == 0) return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
    const ElfW(Dyn) *dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
    uintptr_t strtab = 0;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_STRTAB) strtab = (uintptr_t)d->d_un.d_ptr;
    }
    if (strtab == 0) return 0;
    if (strtab < info->dlpi_addr) strtab += info->dlpi_addr;
    for (const ElfW(Dyn) *d = dyn; d->d_tag != DT_NULL; d++) {
      if (d->d_tag == DT_NEEDED &&
          strncmp((const char *)strtab + d->d_un.d_val, "libuv.so", 8) == 0) {
        *(int *)arg = 1;
        return 1;
      }
    }
  }
  return 0;
}

static int g_env_done;

static void drop_self_from_env(void) {
  if (g_env_done) return;
  g_env_done = 1;
  const char *pre = getenv("LD_PRELOAD");
  if (pre == NULL || env_true("UVOTEL_PRELOAD_CHILDREN")) return;
  Dl_info di;
  if (dladdr((void *)drop_self_from_env, &di) == 0 || di.dli_fname == NULL) return;
  char *self_real = realpath(di.dli_fname, NULL);
  size_t n = strlen(pre);
  char *copy = malloc(n + 1), *kept = malloc(n + 1);
  if (copy == NULL || kept == NULL) goto out;
  memcpy(copy, pre, n + 1);
  kept[0] = '\0';
  int dropped = 0;
  const char *sep = strchr(pre, ':') != NULL && strchr(pre, ' ') == NULL ? ":" : " ";
  for (char *save = NULL, *e = strtok_r(copy, ": \t", &save); e != NULL;
       e = strtok_r(NULL, ": \t", &save)) {
    if (entry_is_self(e, di.dli_fname, self_real)) {
      dropped = 1;
      continue;
    }
    if (kept[0] != '\0') strcat(kept, sep);
    strcat(kept, e);
  }
  if (dropped && kept[0] == '\0') {
    unsetenv("LD_PRELOAD");
  } else if (dropped) {
    setenv("LD_PRELOAD", kept, 1);
  }
out:
  free(copy);
  free(kept);
  free(self_real);
}

__attribute__((constructor)) static void preload_init(void) {
  resolve();
  bind_all();
  int needs = 0;
  dl_iterate_phdr(needs_libuv_cb, &needs);
  if (needs) drop_self_from_env(); /* else at setup: see "children" */
}

__attribute__((destructor)) static void preload_fini(void) {
  preload_exit();
}

/* ---- the interposers ---- */

int preload__ready(void) {
  return __atomic_load_n(&g_ready, __ATOMIC_ACQUIRE) &&
         !__atomic_load_n(&g_exited, __ATOMIC_ACQUIRE) &&
         !__atomic_load_n(&g_forked, __ATOMIC_ACQUIRE);
}

/* Only the program's calls get here (see "binding" above). Once set up, an interposer is a
 * load, a branch and a jump to its wrapper; everything before (the first call sets up) is out of
 * line, so the common path saves no registers. */
#define INTERPOSE(name, wrap, params, args)                        \
  static __attribute__((noinline, cold)) int name##_first params { \
    if (!ready()) return real_##name args;                         \
    return wrap args;                                              \
  }                                                                \
  EXPORT int name params {                                         \
    if (__builtin_expect(!g_ready, 0)) return name##_first args;   \
    return wrap args;                                              \
  }
#define INTERPOSE_V(name, wrap, params, args)                       \
  static __attribute__((noinline, cold)) void name##_first params { \
    if (!ready()) {                                                 \
      real_##name args;                                             \
      return;                                                       \
    }                                                               \
    wrap args;                                                      \
  }                                                                 \
  EXPORT void name params {                                         \
    if (__builtin_expect(!g_ready, 0)) {                            \
      name##_first args;                                            \
      return;                                                       \
    }                                                               \
    wrap args;                                                      \
  }
/* Two go through preload_sock.c, which remembers each UDP socket the program receives on so
 * its sends outside libuv (kresd's sendmmsg) reach the DNS detector too. */
#define uvotel_udp_recv_start preload__udp_recv_start
#define uvotel_close preload__close
UVOTEL_PRELOAD_LIST(INTERPOSE, INTERPOSE_V)
#undef uvotel_udp_recv_start
#undef uvotel_close
