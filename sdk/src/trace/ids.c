/* Ids, clocks and diagnostics. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "trace_internal.h"

/* ---- random ids: wyrand per thread, seeded from getrandom(2) ----
 * One add and one 64x64->128 multiply per 64 bits (xoshiro256** took four words of state and a
 * dozen operations); its output passes PractRand and BigCrush, which is what ids need: unique
 * and uniform, not secret. */

typedef uvotel__rng_t rng_t;

UVOTEL__TLS rng_t uvotel__rng;
#define t_rng uvotel__rng

/* A child made by fork() would go on from its parent's state and draw the same ids as the
 * parent: the thread that forked (the child's only one) reseeds on its next draw. */
static pthread_once_t g_rng_fork_once = PTHREAD_ONCE_INIT;

static void rng_on_fork_child(void) {
  t_rng.seeded = 0;
}

static void rng_fork_watch(void) {
  (void)pthread_atfork(NULL, NULL, rng_on_fork_child);
}

static void rng_seed(rng_t *r) {
  uint64_t seed = 0;
  size_t got = 0;
  while (got < sizeof seed) {
    ssize_t n = getrandom((char *)&seed + got, sizeof seed - got, 0);
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (got < sizeof seed) {
    /* No getrandom (very old kernel, seccomp): mix what varies per thread and moment. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    seed ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull;
    seed ^= (uint64_t)(uintptr_t)&t_rng * 0xd1b54a32d192ed03ull;
    seed ^= (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_sec;
  }
  r->s = seed;
  r->seeded = 1;
  pthread_once(&g_rng_fork_once, rng_fork_watch);
}

void uvotel__rng_seed(void) {
  rng_seed(&t_rng);
}

#define wy_step uvotel__wy_step

static inline uint64_t rng_next(void) {
  rng_t *r = &t_rng;
  if (UVOTEL__UNLIKELY(!r->seeded)) rng_seed(r);
  return wy_step(&r->s);
}

UVOTEL__API void uvotel_random_trace_id(uvotel_trace_id_t *out) {
  if (out == NULL) return;
  uint64_t a, b;
  do {
    a = rng_next();
    b = rng_next();
  } while ((a | b) == 0);
  memcpy(out->bytes, &a, 8);
  memcpy(out->bytes + 8, &b, 8);
}

UVOTEL__API void uvotel_random_span_id(uvotel_span_id_t *out) {
  if (out == NULL) return;
  uint64_t a;
  do a = rng_next();
  while (a == 0);
  memcpy(out->bytes, &a, 8);
}

void uvotel__gen_trace_id(uvotel_tracer_provider_t *p, uvotel_trace_id_t *out) {
  if (p->idgen != NULL && p->idgen->trace_id != NULL) {
    for (int i = 0; i < 4; i++) {
      p->idgen->trace_id(p->idgen_self, out);
      if (!uvotel_trace_id_is_zero(out)) return;
    }
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "id generator returned an all-zero trace id");
  }
  uvotel_random_trace_id(out);
}

void uvotel__gen_span_id(uvotel_tracer_provider_t *p, uvotel_span_id_t *out) {
  if (p->idgen != NULL && p->idgen->span_id != NULL) {
    for (int i = 0; i < 4; i++) {
      p->idgen->span_id(p->idgen_self, out);
      if (!uvotel_span_id_is_zero(out)) return;
    }
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "id generator returned an all-zero span id");
  }
  uvotel_random_span_id(out);
}

void uvotel__gen_ids(uvotel_tracer_provider_t *p, uvotel_trace_id_t *trace_id,
                     uvotel_span_id_t *span_id) {
  if (trace_id != NULL) uvotel__gen_trace_id(p, trace_id);
  uvotel__gen_span_id(p, span_id);
}

UVOTEL__API int uvotel_trace_id_is_zero(const uvotel_trace_id_t *id) {
  if (id == NULL) return 1;
  uint64_t a, b;
  memcpy(&a, id->bytes, 8);
  memcpy(&b, id->bytes + 8, 8);
  return (a | b) == 0;
}

UVOTEL__API int uvotel_span_id_is_zero(const uvotel_span_id_t *id) {
  if (id == NULL) return 1;
  uint64_t a;
  memcpy(&a, id->bytes, 8);
  return a == 0;
}

UVOTEL__API int uvotel_span_context_is_valid(const uvotel_span_context_t *sc) {
  return sc != NULL && !uvotel_trace_id_is_zero(&sc->trace_id) &&
         !uvotel_span_id_is_zero(&sc->span_id);
}

static void to_hex(const uint8_t *b, size_t n, char *out) {
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * n] = '\0';
}

UVOTEL__API char *uvotel_trace_id_to_hex(const uvotel_trace_id_t *id, char out[33]) {
  if (out == NULL) return NULL;
  if (id == NULL) {
    memset(out, '0', 32);
    out[32] = '\0';
    return out;
  }
  to_hex(id->bytes, 16, out);
  return out;
}

UVOTEL__API char *uvotel_span_id_to_hex(const uvotel_span_id_t *id, char out[17]) {
  if (out == NULL) return NULL;
  if (id == NULL) {
    memset(out, '0', 16);
    out[16] = '\0';
    return out;
  }
  to_hex(id->bytes, 8, out);
  return out;
}

UVOTEL__API const char *uvotel_span_kind_name(uvotel_span_kind_t kind) {
  switch (kind) {
    case UVOTEL_SPAN_KIND_INTERNAL:
      return "INTERNAL";
    case UVOTEL_SPAN_KIND_SERVER:
      return "SERVER";
    case UVOTEL_SPAN_KIND_CLIENT:
      return "CLIENT";
    case UVOTEL_SPAN_KIND_PRODUCER:
      return "PRODUCER";
    case UVOTEL_SPAN_KIND_CONSUMER:
      return "CONSUMER";
    default:
      return "UNSPECIFIED";
  }
}

UVOTEL__API const char *uvotel_status_code_name(uvotel_status_code_t code) {
  switch (code) {
    case UVOTEL_STATUS_UNSET:
      return "UNSET";
    case UVOTEL_STATUS_OK:
      return "OK";
    case UVOTEL_STATUS_ERROR:
      return "ERROR";
    default:
      return "UNSPECIFIED";
  }
}

/* ---- clocks ---- */

static uint64_t clock_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__)
#include <x86intrin.h>
/* Span timestamps come from the TSC, anchored to CLOCK_REALTIME: on virtual machines
 * clock_gettime costs tens of ns, and a span needs two. Only with an invariant TSC
 * (constant_tsc + nonstop_tsc). The rate is measured against CLOCK_REALTIME over the first
 * 20 ms (real clock reads until then) and refined at every re-anchoring; each thread re-anchors
 * at least every ~50 ms, which bounds the drift from the real clock to a few microseconds. */
static atomic_int g_tsc_state; /* 0 unknown, 1 calibrating, 2 usable, -1 never */
static uint64_t g_cal_tsc, g_cal_ns;
static _Atomic uint64_t g_ns_per_tick_bits; /* double, as bits */
static uint64_t g_resync_ticks;

/* A thread's anchor: tsc0 read at ns0; ticks after it convert with mult (ns per tick << 32)
 * while fewer than `span` have passed (an earlier TSC wraps the unsigned difference past it). A
 * zeroed anchor (span 0) sends the first read to tsc_slow. */
typedef struct tsc_anchor_s {
  uint64_t tsc0, ns0, span, mult;
} tsc_anchor_t;
static UVOTEL__TLS tsc_anchor_t t_anchor;

static int tsc_invariant(void) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (f == NULL) return 0;
  char line[4096];
  int ok = 0;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "flags", 5) == 0) {
      ok = strstr(line, " constant_tsc") != NULL && strstr(line, " nonstop_tsc") != NULL;
      break;
    }
  }
  fclose(f);
  return ok;
}

static double ns_per_tick(void) {
  uint64_t bits = atomic_load_explicit(&g_ns_per_tick_bits, memory_order_relaxed);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}

static uint64_t tsc_slow(uint64_t tsc) {
  int st = atomic_load(&g_tsc_state);
  if (st == 0) {
    int expect = 0;
    if (atomic_compare_exchange_strong(&g_tsc_state, &expect, 1)) {
      if (!tsc_invariant()) {
        atomic_store(&g_tsc_state, -1);
      } else {
        g_cal_ns = clock_ns();
        g_cal_tsc = __rdtsc();
        atomic_store(&g_tsc_state, 1); /* publishes the anchor */
      }
    }
    return clock_ns();
  }
  if (st == 1) {
    uint64_t ns = clock_ns();
    uint64_t t = __rdtsc();
    if (ns - g_cal_ns >= 20000000ull && t > g_cal_tsc) {
      static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
      pthread_mutex_lock(&mu);
      if (atomic_load(&g_tsc_state) == 1) {
        double r = (double)(ns - g_cal_ns) / (double)(t - g_cal_tsc);
        uint64_t bits;
        memcpy(&bits, &r, sizeof bits);
        atomic_store(&g_ns_per_tick_bits, bits);
        g_resync_ticks = (uint64_t)(50000000.0 / r);
        atomic_store(&g_tsc_state, 2);
      }
      pthread_mutex_unlock(&mu);
    }
    return ns;
  }
  if (st < 0) return clock_ns();
  /* re-anchor this thread */
  tsc_anchor_t *a = &t_anchor;
  uint64_t ns = clock_ns();
  uint64_t t = __rdtsc();
  (void)tsc;
  if (t > g_cal_tsc && ns > g_cal_ns && ns - g_cal_ns > 1000000000ull) {
    double r = (double)(ns - g_cal_ns) / (double)(t - g_cal_tsc); /* longer baseline */
    uint64_t bits;
    memcpy(&bits, &r, sizeof bits);
    atomic_store_explicit(&g_ns_per_tick_bits, bits, memory_order_relaxed);
  }
  a->tsc0 = t;
  a->ns0 = ns;
  a->span = g_resync_ticks;
  a->mult = (uint64_t)(ns_per_tick() * 4294967296.0);
  return ns;
}

/* Anchors are set only once the rate is known (state 2, which is final), so one compare decides:
 * an unset anchor, a re-anchoring due, or a TSC before the anchor. delta < span (~50 ms of
 * ticks) keeps delta * mult far from overflowing. */
uint64_t uvotel__now_ns(void) {
  uint64_t t = __rdtsc();
  tsc_anchor_t *a = &t_anchor;
  uint64_t delta = t - a->tsc0;
  if (UVOTEL__UNLIKELY(delta >= a->span)) return tsc_slow(t);
  return a->ns0 + ((delta * a->mult) >> 32);
}
#else
uint64_t uvotel__now_ns(void) {
  return clock_ns();
}
#endif

/* ---- span ticks (issue 15 item 4: timestamps converted at export) ----
 * A span stores raw ticks at start/end and converts them to Unix ns only when its data is read
 * (uvotel_span_data_start_unix_ns/end_unix_ns), so the application thread pays a TSC read and
 * nothing else. Ticks are TSC counts once the TSC rate is calibrated (x86-64 with an invariant
 * TSC, after the first 20 ms of the process), CLOCK_MONOTONIC ns otherwise; a span's anchor
 * generation says which (0: monotonic ns).
 *
 * Drift rule: TSC ticks map to Unix time through an anchor (tsc, CLOCK_REALTIME read with it,
 * rate) re-taken at most every ~1 s by the first span start that finds it stale, so a wall-clock
 * step (settimeofday, an NTP step) shows in spans started about a second after it at the latest;
 * a span converts all its timestamps with the anchor valid at its start, so its start, events
 * and end are one increasing function of its ticks and start <= end always holds, whatever the
 * wall clock does meanwhile. Monotonic ticks (no invariant TSC, or the first 20 ms of the
 * process) map through one process anchor (CLOCK_REALTIME, CLOCK_MONOTONIC) read together when
 * the first provider is created: there wall-clock steps after it are not followed (slewing is).
 * Anchors live in a ring of UVOTEL__ANCHORS slots: a span older than that many re-anchorings (~17
 * minutes of steady activity) converts with the current anchor instead (off by the rate error
 * only). */
static uint64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static pthread_once_t g_ticks_once = PTHREAD_ONCE_INIT;
static uint64_t g_unix0, g_mono0;

static void ticks_init_once(void) {
  uint64_t m0 = mono_ns();
  uint64_t u = clock_ns();
  uint64_t m1 = mono_ns();
  g_unix0 = u;
  g_mono0 = m0 + (m1 - m0) / 2;
}

static uint64_t mono_to_unix(uint64_t m) {
  return g_unix0 + (uint64_t)(int64_t)(m - g_mono0);
}

#if defined(__x86_64__)
#define UVOTEL__ANCHORS 1024u
typedef struct tick_anchor_s {
  _Atomic uint32_t gen;
  _Atomic uint64_t tsc, unix_ns, rate_bits; /* rate: ns per tick, double as bits */
} tick_anchor_t;
static tick_anchor_t g_anchors[UVOTEL__ANCHORS];
static _Atomic uint32_t g_anchor_cur;      /* generation of the current anchor, 0: none */
static _Atomic uint64_t g_anchor_span = 0; /* ticks an anchor stays current (~1 s) */
static atomic_int g_ticks_state;           /* 0 unknown, 1 calibrating, 2 TSC, -1 never */
static uint64_t g_tcal_tsc, g_tcal_mono;   /* calibration base, written before state 1 */
static pthread_mutex_t g_anchor_mu = PTHREAD_MUTEX_INITIALIZER;

/* Under g_anchor_mu: a new anchor from a fresh (tsc, mono) pair and the rate measured since the
 * calibration base. */
static void new_anchor(void) {
  uint64_t m0 = mono_ns();
  uint64_t t = __rdtsc();
  uint64_t u = clock_ns(); /* the wall clock now: a step since the last anchor is followed */
  uint64_t m1 = mono_ns();
  uint64_t m = m0 + (m1 - m0) / 2;
  double rate = (double)(m - g_tcal_mono) / (double)(t - g_tcal_tsc);
  uint64_t bits;
  memcpy(&bits, &rate, sizeof bits);
  uint32_t gen = atomic_load_explicit(&g_anchor_cur, memory_order_relaxed) + 1;
  if (gen == 0) gen = 1;
  tick_anchor_t *a = &g_anchors[gen % UVOTEL__ANCHORS];
  /* A seqlock without fences (TSan does not model atomic_thread_fence): release stores keep
   * the gen = 0 before the fields, acquire loads in the reader keep the fields before its
   * second look at gen. */
  atomic_store_explicit(&a->gen, 0, memory_order_relaxed);
  atomic_store_explicit(&a->tsc, t, memory_order_release);
  atomic_store_explicit(&a->unix_ns, u, memory_order_release);
  atomic_store_explicit(&a->rate_bits, bits, memory_order_release);
  atomic_store_explicit(&a->gen, gen, memory_order_release);
  atomic_store_explicit(&g_anchor_span, (uint64_t)(1e9 / rate), memory_order_relaxed);
  atomic_store_explicit(&g_anchor_cur, gen, memory_order_release);
}

/* out of line: inlined, its register saves would cost the fast path a dozen instructions */
__attribute__((noinline, cold)) static uint64_t ticks_slow(uint32_t *gen) {
  uvotel__ticks_init();
  int st = atomic_load(&g_ticks_state);
  if (st == 0) {
    int expect = 0;
    if (atomic_compare_exchange_strong(&g_ticks_state, &expect, 1)) {
      if (!tsc_invariant()) {
        atomic_store(&g_ticks_state, -1);
      } else {
        g_tcal_mono = mono_ns();
        g_tcal_tsc = __rdtsc();
        atomic_store(&g_ticks_state, 1); /* publishes the base */
      }
    }
  } else if (st > 0) {
    uint64_t m = mono_ns();
    if (m - g_tcal_mono >= 20000000ull) {
      pthread_mutex_lock(&g_anchor_mu);
      uint32_t cur = atomic_load_explicit(&g_anchor_cur, memory_order_relaxed);
      uint64_t t = __rdtsc();
      if (cur == 0 ||
          t - atomic_load_explicit(&g_anchors[cur % UVOTEL__ANCHORS].tsc, memory_order_relaxed) >=
              atomic_load_explicit(&g_anchor_span, memory_order_relaxed)) {
        new_anchor();
        atomic_store(&g_ticks_state, 2);
      }
      pthread_mutex_unlock(&g_anchor_mu);
      *gen = atomic_load_explicit(&g_anchor_cur, memory_order_acquire);
      return __rdtsc();
    }
  }
  *gen = 0;
  return mono_ns();
}

uint64_t uvotel__ticks(uint32_t *gen) {
  uint32_t g = atomic_load_explicit(&g_anchor_cur, memory_order_acquire);
  if (UVOTEL__LIKELY(g != 0)) {
    uint64_t t = __rdtsc();
    const tick_anchor_t *a = &g_anchors[g % UVOTEL__ANCHORS];
    if (UVOTEL__LIKELY(t - atomic_load_explicit(&a->tsc, memory_order_relaxed) <
                       atomic_load_explicit(&g_anchor_span, memory_order_relaxed))) {
      *gen = g;
      return t;
    }
  }
  return ticks_slow(gen);
}

uint64_t uvotel__mono_ticks(void) {
  return mono_ns();
}

uint64_t uvotel__ticks_to_unix(uint64_t ticks, uint32_t gen) {
  if (gen == 0) return mono_to_unix(ticks);
  const tick_anchor_t *a = &g_anchors[gen % UVOTEL__ANCHORS];
  uint64_t t0, u0, bits;
  for (;;) {
    if (atomic_load_explicit(&a->gen, memory_order_acquire) != gen) {
      gen = atomic_load_explicit(&g_anchor_cur, memory_order_acquire); /* slot reused */
      a = &g_anchors[gen % UVOTEL__ANCHORS];
      continue;
    }
    t0 = atomic_load_explicit(&a->tsc, memory_order_acquire);
    u0 = atomic_load_explicit(&a->unix_ns, memory_order_acquire);
    bits = atomic_load_explicit(&a->rate_bits, memory_order_acquire);
    if (atomic_load_explicit(&a->gen, memory_order_relaxed) == gen) break;
  }
  double rate;
  memcpy(&rate, &bits, sizeof rate);
  int64_t dt = (int64_t)(ticks - t0);
  return u0 + (uint64_t)(int64_t)((double)dt * rate);
}
#else
uint64_t uvotel__ticks(uint32_t *gen) {
  uvotel__ticks_init();
  *gen = 0;
  return mono_ns();
}
uint64_t uvotel__ticks_like(uint32_t gen) {
  (void)gen;
  return mono_ns();
}
uint64_t uvotel__ticks_to_unix(uint64_t ticks, uint32_t gen) {
  (void)gen;
  return mono_to_unix(ticks);
}
#endif

void uvotel__ticks_init(void) {
  pthread_once(&g_ticks_once, ticks_init_once);
}

uint64_t uvotel__mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static atomic_uint_fast64_t g_misuse;

UVOTEL__API uint64_t uvotel_trace_misuse_total(void) {
  return atomic_load_explicit(&g_misuse, memory_order_relaxed);
}

void uvotel__misuse(uvotel_tracer_provider_t *p, const char *what) {
  atomic_fetch_add_explicit(&g_misuse, 1, memory_order_relaxed);
  if (p != NULL) atomic_fetch_add_explicit(&p->misuse, 1, memory_order_relaxed);
  uvotel_diag(UVOTEL_DIAG_DEBUG, UVOTEL_ESTATE, "span misuse: %s", what);
}
