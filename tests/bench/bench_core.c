/* bench_core: the cost of uvotel's core on the two hottest libuv paths, and of context calls.
 *
 * In one process, interleaved (raw, wrapped, raw, wrapped, ...) so machine drift hits both:
 *   - a chain of N immediates: each check callback stops its handle and starts it again (a new
 *     Immediate each time, as setImmediate does), one loop iteration with its poll per callback;
 *   - a chain of N zero-timeout timers: each callback re-arms its timer (a new Timeout each
 *     time); libuv runs it again in the same pass, so this is the bare per-callback cost.
 * Variants: raw libuv; (a) the wrappers with nothing ever enabled (pass-through: they must cost
 * one branch); (a') the wrappers after tracking started but with no hook and an empty context;
 * (b) one enabled hook with empty callbacks plus one context variable entered at the top.
 * Then the context calls (see context_costs): uvotel_var_get and snapshot capture+release as a
 * program compiled against the headers makes them through libuvotel.so (inline) and through the
 * exported symbols, var_enter+scope_exit in an empty context and with 64 variables set, each
 * beside a raw reference, with allocations per operation.
 *
 * Usage: bench_core [N] [ROUNDS]   (defaults 1000000 and 5). Not run by ctest.
 *        bench_core ir ROW N        one row once, for callgrind (see ir_main).
 * BENCH_CORE_CLOCK=cpu times the loop thread's CPU time instead of wall time (see now_ns). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uvotel.h>
#include <uvotel/uv.h>

static long g_n;
static long g_count;
static uv_idle_t g_idle;

/* BENCH_CORE_CLOCK=cpu: the loop thread's CPU time (CLOCK_THREAD_CPUTIME_ID, kernel time of
 * its poll calls included) instead of wall time, so that being descheduled on a shared, loaded
 * machine is not counted. Everything here runs on the main thread. */
static clockid_t g_clock = CLOCK_MONOTONIC;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(g_clock, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- immediates ---- */

static void idle_noop(uv_idle_t *h) {
  (void)h;
}

static void raw_check_cb(uv_check_t *h) {
  uv_check_stop(h);
  if (++g_count < g_n) {
    uv_check_start(h, raw_check_cb);
  } else {
    uv_idle_stop(&g_idle);
  }
}

static void wrapped_check_cb(uv_check_t *h) {
  uvotel_check_stop(h);
  if (++g_count < g_n) {
    uvotel_check_start(h, wrapped_check_cb);
  } else {
    uv_idle_stop(&g_idle);
  }
}

/* ns per callback */
static double run_immediates(uv_loop_t *loop, int wrapped) {
  uv_check_t check;
  uv_check_init(loop, &check);
  uv_idle_init(loop, &g_idle);
  uv_idle_start(&g_idle, idle_noop); /* as Node does: poll must not block */
  g_count = 0;
  double t0 = now_ns();
  if (wrapped) {
    uvotel_check_start(&check, wrapped_check_cb);
  } else {
    uv_check_start(&check, raw_check_cb);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double t1 = now_ns();
  if (wrapped) {
    uvotel_close((uv_handle_t *)&check, NULL);
  } else {
    uv_close((uv_handle_t *)&check, NULL);
  }
  uv_close((uv_handle_t *)&g_idle, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  return (t1 - t0) / (double)g_n;
}

/* ---- timers ---- */

static void raw_timer_cb(uv_timer_t *t) {
  if (++g_count < g_n) uv_timer_start(t, raw_timer_cb, 0, 0);
}

static void wrapped_timer_cb(uv_timer_t *t) {
  if (++g_count < g_n) uvotel_timer_start(t, wrapped_timer_cb, 0, 0);
}

static double run_timers(uv_loop_t *loop, int wrapped) {
  uv_timer_t timer;
  uv_timer_init(loop, &timer);
  g_count = 0;
  double t0 = now_ns();
  if (wrapped) {
    uvotel_timer_start(&timer, wrapped_timer_cb, 0, 0);
  } else {
    uv_timer_start(&timer, raw_timer_cb, 0, 0);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double t1 = now_ns();
  if (wrapped) {
    uvotel_close((uv_handle_t *)&timer, NULL);
  } else {
    uv_close((uv_handle_t *)&timer, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  return (t1 - t0) / (double)g_n;
}

/* ---- one variant: raw and wrapped interleaved ---- */

typedef double (*runner_t)(uv_loop_t *, int);

static void minmedmax(double *v, int n, double *lo, double *med, double *hi) {
  double tmp[64];
  memcpy(tmp, v, (size_t)n * sizeof *v);
  *med = median(tmp, n); /* sorts tmp */
  *lo = tmp[0];
  *hi = tmp[n - 1];
}

static void compare(const char *label, runner_t run, uv_loop_t *loop, int rounds, double *raw_out,
                    double *wrapped_out) {
  double raw[64], wrp[64], ratio[64];
  for (int r = 0; r < rounds; r++) {
    raw[r] = run(loop, 0);
    wrp[r] = run(loop, 1);
    ratio[r] = raw[r] / wrp[r]; /* throughput wrapped / raw */
  }
  double rl, mr, rh, wl, mw, wh, ql, mq, qh;
  minmedmax(raw, rounds, &rl, &mr, &rh);
  minmedmax(wrp, rounds, &wl, &mw, &wh);
  minmedmax(ratio, rounds, &ql, &mq, &qh);
  printf("  %-44s raw %7.1f ns  wrapped %7.1f ns  added %+6.1f ns  throughput %.3fx raw\n", label,
         mr, mw, mw - mr, mq);
  printf(
      "  %-44s raw %.1f/%.1f/%.1f  wrapped %.1f/%.1f/%.1f ns  ratio %.3f/%.3f/%.3f "
      "(min/median/max)\n",
      "", rl, mr, rh, wl, mw, wh, ql, mq, qh);
  if (raw_out) *raw_out = mr;
  if (wrapped_out) *wrapped_out = mw;
}

/* ---- context micro-benchmarks ----
 * Each row is a pair timed in the same round, rounds interleaved: the uvotel call and a raw
 * reference doing the nearest plain-C thing, min/median/max over the rounds of both and of the
 * ratio uvotel / raw (cost, so lower is better). Calls go through libuvotel.so as a program
 * built against the installed headers makes them (uvotel/fast.h's inline forms), and, for
 * var_get and capture/release, also through the exported symbols (the pre-inline cost). */

#define REPS 7
static long MICRO_N = 5L * 1000 * 1000; /* BENCH_CORE_MICRO_N overrides (e.g. under callgrind) */

/* Counting allocator: the enter/exit rows report allocations per operation. */
static long g_allocs;
static void *count_malloc(size_t n) {
  g_allocs++;
  return malloc(n);
}
static void *count_realloc(void *p, size_t n) {
  g_allocs++;
  return realloc(p, n);
}

static __thread void *volatile g_raw_tls; /* what a plain thread-local read costs */
static void *volatile g_sink;

typedef double (*micro_t)(void *arg); /* ns per op */

static void micro_row(const char *label, micro_t fn, void *arg, const char *ref_label, micro_t ref,
                      void *ref_arg, int count_allocs) {
  double u[REPS], r[REPS], q[REPS];
  long allocs = 0;
  for (int i = 0; i < REPS; i++) {
    r[i] = ref(ref_arg);
    long a0 = g_allocs;
    u[i] = fn(arg);
    allocs += g_allocs - a0;
    q[i] = u[i] / r[i];
  }
  double ul, um, uh, rl, rm, rh, ql, qm, qh;
  minmedmax(u, REPS, &ul, &um, &uh);
  minmedmax(r, REPS, &rl, &rm, &rh);
  minmedmax(q, REPS, &ql, &qm, &qh);
  printf("  %-50s %6.2f / %6.2f / %6.2f ns", label, ul, um, uh);
  if (count_allocs) printf("  %.4f allocs/op", (double)allocs / (double)(REPS * MICRO_N));
  printf("\n    vs %-47s %6.2f / %6.2f / %6.2f ns  ratio %5.2f / %5.2f / %5.2f\n", ref_label, rl,
         rm, rh, ql, qm, qh);
}

static double t_raw_tls(void *arg) {
  (void)arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) g_sink = g_raw_tls;
  return (now_ns() - t0) / (double)MICRO_N;
}

/* A throughput-bound loop with no memory access: eight independent add/xor chains per
 * iteration. Its time moves with the issue slots the core gives this thread (on a VM, a busy
 * SMT sibling on the host takes about half), while a latency-bound chain does not: beside
 * uvotel_var_get (also throughput-bound: its iterations are independent) it tells a slower
 * machine from slower code. Measured on this VM (17:25 UTC, load 6): runs whose var_get median
 * was 2.06 / 2.53 / 2.78 ns gave 1.07 / 1.28 / 1.39 ns here, the ratio 1.9-2.0 every time,
 * while a dependent multiply-add chain stayed at 0.80-0.83 ns. */
static volatile unsigned long g_alu_sink;
static double t_alu_wide(void *arg) {
  (void)arg;
  unsigned long x0 = 1, x1 = 2, x2 = 3, x3 = 4, x4 = 5, x5 = 6, x6 = 7, x7 = 8;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) {
    x0 += (unsigned long)i;
    x1 ^= (unsigned long)i;
    x2 += x0;
    x3 ^= x1;
    x4 += (unsigned long)i;
    x5 ^= x4;
    x6 += x3;
    x7 ^= x2;
    __asm__ volatile("" ::"r"(x0), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5), "r"(x6), "r"(x7));
  }
  g_alu_sink = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
  return (now_ns() - t0) / (double)MICRO_N;
}

static double t_get_inline(void *arg) {
  uvotel_var_t *v = arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) g_sink = uvotel_var_get(v);
  return (now_ns() - t0) / (double)MICRO_N;
}

static double t_get_call(void *arg) {
  uvotel_var_t *v = arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) g_sink = (uvotel_var_get)(v);
  return (now_ns() - t0) / (double)MICRO_N;
}

static double t_snap_inline(void *arg) {
  (void)arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) uvotel_snapshot_release(uvotel_snapshot_capture());
  return (now_ns() - t0) / (double)MICRO_N;
}

static double t_snap_call(void *arg) {
  (void)arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) (uvotel_snapshot_release)((uvotel_snapshot_capture)());
  return (now_ns() - t0) / (double)MICRO_N;
}

static double t_enter_exit(void *arg) {
  uvotel_var_t *v = arg;
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) {
    uvotel_scope_t sc;
    uvotel_var_enter(v, (void *)"value", &sc);
    uvotel_scope_exit(&sc);
  }
  return (now_ns() - t0) / (double)MICRO_N;
}

/* raw reference for enter+exit: save, set and restore a thread-local pointer */
static double t_raw_swap(void *arg) {
  double t0 = now_ns();
  for (long i = 0; i < MICRO_N; i++) {
    void *prev = g_raw_tls;
    g_raw_tls = arg;
    g_raw_tls = prev;
  }
  return (now_ns() - t0) / (double)MICRO_N;
}

/* The reference rows for the 64-variable case run in their own context: the snapshot taken
 * before the 64 were entered (empty) or with just v set. */
static uvotel_snapshot_t *g_empty_snap, *g_one_snap;

static double t_enter_exit_empty(void *arg) {
  uvotel_scope_t sc;
  uvotel_snapshot_enter(g_empty_snap, &sc);
  double r = t_enter_exit(arg);
  uvotel_scope_exit(&sc);
  return r;
}

static double t_get_one(void *arg) {
  uvotel_scope_t sc;
  uvotel_snapshot_enter(g_one_snap, &sc);
  double r = t_get_inline(arg);
  uvotel_scope_exit(&sc);
  return r;
}

#define MANY 64

static void context_costs(uvotel_var_t *v) {
  uvotel_scope_t s;
  uvotel_var_enter(v, (void *)"value", &s);
  micro_row("uvotel_var_get, 1 var set (inline, via libuvotel.so)", t_get_inline, v,
            "the exported call (uvotel_var_get)(v)", t_get_call, v, 0);
  micro_row("uvotel_var_get, 1 var set (inline, via libuvotel.so)", t_get_inline, v,
            "a plain thread-local read", t_raw_tls, NULL, 0);
  micro_row("uvotel_var_get, 1 var set (inline, via libuvotel.so)", t_get_inline, v,
            "a throughput-bound ALU loop (machine state)", t_alu_wide, NULL, 0);
  micro_row("uvotel_snapshot_capture + release (inline)", t_snap_inline, NULL, "the exported calls",
            t_snap_call, NULL, 0);
  micro_row("uvotel_var_enter + uvotel_scope_exit, 1 var set", t_enter_exit, v,
            "a thread-local save, set and restore", t_raw_swap, NULL, 1);
  g_one_snap = uvotel_snapshot_capture();
  uvotel_scope_exit(&s);
  g_empty_snap = uvotel_snapshot_capture();

  /* 64 variables set, then one more entered and exited on top (and one of the 64 again) */
  uvotel_var_t *many[MANY];
  uvotel_scope_t scopes[MANY];
  for (int i = 0; i < MANY; i++) {
    many[i] = uvotel_var_create("many", NULL, NULL);
    uvotel_var_enter(many[i], (void *)"v", &scopes[i]);
  }
  micro_row("enter+exit with 64 variables set (a 65th)", t_enter_exit, v,
            "enter+exit in an empty context", t_enter_exit_empty, v, 1);
  micro_row("enter+exit with 64 variables set (the 1st again)", t_enter_exit, many[0],
            "enter+exit in an empty context", t_enter_exit_empty, v, 1);
  micro_row("uvotel_var_get with 64 variables set (the 1st)", t_get_inline, many[0],
            "uvotel_var_get with 1 var set", t_get_one, v, 0);
  micro_row("uvotel_var_get with 64 variables set (the 64th)", t_get_inline, many[MANY - 1],
            "uvotel_var_get with 1 var set", t_get_one, v, 0);
  for (int i = MANY - 1; i >= 0; i--) uvotel_scope_exit(&scopes[i]);
  for (int i = 0; i < MANY; i++) uvotel_var_free(many[i]);
  uvotel_snapshot_release(g_one_snap);
  uvotel_snapshot_release(g_empty_snap);
}

static void empty_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                       void *resource, void *arg) {
  (void)id, (void)type, (void)trigger, (void)resource, (void)arg;
}
static void empty_id(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
}

/* `bench_core ir ROW N`: one run of one row, for instruction counts (deterministic where the
 * times are not). ROW: imm-raw, imm-a, imm-b, imm-a2, tim-raw, tim-a, tim-b, tim-a2 (the variant
 * letters of the timed sections). Count with
 *   valgrind --tool=callgrind --toggle-collect='ir_run*' --callgrind-out-file=/dev/null \
 *     bench_core ir tim-b 10000
 * and subtract the same ROW with N=0 (setup and teardown), then divide by N; the -raw row is
 * the baseline the "added instructions per callback" figures are against. */
static void ir_setup(const char *row, uvotel_hook_t **hook, uvotel_var_t **var,
                     uvotel_scope_t *scope) {
  char v = row[4];
  if (v == 'a' && row[5] == '2') {
    /* tracking on, nothing enabled: what (a') runs after (b) disabled its hook */
    uvotel_hook_callbacks_t none = {NULL, NULL, NULL, NULL, NULL};
    *hook = uvotel_hook_create(&none, NULL);
    uvotel_hook_enable(*hook);
    uvotel_hook_disable(*hook);
  } else if (v == 'b') {
    uvotel_hook_callbacks_t cbs = {empty_init, empty_id, empty_id, empty_id, empty_id};
    *hook = uvotel_hook_create(&cbs, NULL);
    *var = uvotel_var_create("bench", NULL, NULL);
    uvotel_hook_enable(*hook);
    uvotel_var_enter(*var, (void *)"top", scope);
  }
}

__attribute__((noinline)) static double ir_run(runner_t run, uv_loop_t *loop, int wrapped) {
  return run(loop, wrapped);
}

static int ir_main(const char *row, long n) {
  runner_t run = strncmp(row, "imm-", 4) == 0   ? run_immediates
                 : strncmp(row, "tim-", 4) == 0 ? run_timers
                                                : NULL;
  if (run == NULL || n < 0) {
    fprintf(stderr, "usage: bench_core ir imm-|tim-{raw,a,b,a2} N\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_hook_t *hook = NULL;
  uvotel_var_t *var = NULL;
  uvotel_scope_t scope;
  ir_setup(row, &hook, &var, &scope);
  int wrapped = strcmp(row + 4, "raw") != 0;
  g_n = n;
  if (n > 0) (void)ir_run(run, &loop, wrapped);
  if (var != NULL) {
    uvotel_scope_exit(&scope);
    uvotel_var_free(var);
  }
  if (hook != NULL) {
    uvotel_hook_disable(hook);
    uvotel_hook_free(hook);
  }
  uvotel_loop_close(&loop);
  uv_loop_close(&loop);
  printf("bench_core ir %s: %ld callbacks\n", row, n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 3 && strcmp(argv[1], "ir") == 0) return ir_main(argv[2], atol(argv[3]));
  g_n = argc > 1 ? atol(argv[1]) : 1000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (g_n < 1 || rounds < 1 || rounds > 64) {
    fprintf(stderr, "usage: %s [N] [ROUNDS<=64]\n", argv[0]);
    return 2;
  }
  uvotel_set_allocator(count_malloc, count_realloc, free); /* before anything else */
  if (getenv("BENCH_CORE_MICRO_N") != NULL) MICRO_N = atol(getenv("BENCH_CORE_MICRO_N"));
  const char *clk = getenv("BENCH_CORE_CLOCK");
  if (clk != NULL && strcmp(clk, "cpu") == 0) g_clock = CLOCK_THREAD_CPUTIME_ID;
  if (MICRO_N < 1) MICRO_N = 1;
  uv_loop_t loop;
  uv_loop_init(&loop);
  printf("bench_core: N=%ld callbacks per run, %d interleaved rounds, medians, %s time\n", g_n,
         rounds, g_clock == CLOCK_MONOTONIC ? "wall" : "thread CPU");

  printf("(a) nothing enabled (pass-through; tracking=%d)\n", uvotel_tracking());
  compare("immediates", run_immediates, &loop, rounds, NULL, NULL);
  compare("timers", run_timers, &loop, rounds, NULL, NULL);

  uvotel_hook_callbacks_t cbs = {empty_init, empty_id, empty_id, empty_id, empty_id};
  uvotel_hook_t *hook = uvotel_hook_create(&cbs, NULL);
  uvotel_var_t *var = uvotel_var_create("bench", NULL, NULL);
  uvotel_hook_enable(hook);
  uvotel_scope_t scope;
  uvotel_var_enter(var, (void *)"top", &scope);
  printf("(b) one hook with empty callbacks + one variable entered at the top\n");
  compare("immediates", run_immediates, &loop, rounds, NULL, NULL);
  compare("timers", run_timers, &loop, rounds, NULL, NULL);
  uvotel_scope_exit(&scope);
  uvotel_hook_disable(hook);

  printf("(a') tracking on, no hook enabled, empty context\n");
  compare("immediates", run_immediates, &loop, rounds, NULL, NULL);
  compare("timers", run_timers, &loop, rounds, NULL, NULL);

  printf(
      "context: min / median / max of %d interleaved rounds, each beside its reference; ratio "
      "= row / reference\n",
      REPS);
  context_costs(var);

  uvotel_hook_free(hook);
  uvotel_var_free(var);
  uvotel_loop_close(&loop);
  uv_loop_close(&loop);
  return 0;
}
