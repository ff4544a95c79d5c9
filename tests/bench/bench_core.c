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
 * Then ns per uvotel_var_get, per var_enter+scope_exit, per snapshot capture+release.
 *
 * Usage: bench_core [N] [ROUNDS]   (defaults 1000000 and 5). Not run by ctest. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <uvotel.h>
#include <uvotel/uv.h>

static long g_n;
static long g_count;
static uv_idle_t g_idle;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
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

static void compare(const char *label, runner_t run, uv_loop_t *loop, int rounds, double *raw_out,
                    double *wrapped_out) {
  double raw[64], wrp[64], ratio[64];
  for (int r = 0; r < rounds; r++) {
    raw[r] = run(loop, 0);
    wrp[r] = run(loop, 1);
    ratio[r] = raw[r] / wrp[r]; /* throughput wrapped / raw */
  }
  double mr = median(raw, rounds), mw = median(wrp, rounds), mq = median(ratio, rounds);
  printf("  %-44s raw %7.1f ns  wrapped %7.1f ns  added %+6.1f ns  throughput %.3fx raw\n", label,
         mr, mw, mw - mr, mq);
  if (raw_out) *raw_out = mr;
  if (wrapped_out) *wrapped_out = mw;
}

/* ---- context micro-benchmarks ---- */

static void context_costs(uvotel_var_t *v) {
  const long n = 20 * 1000 * 1000;
  uvotel_scope_t s;
  uvotel_var_enter(v, (void *)"value", &s);
  volatile void *sink = NULL;
  double t0 = now_ns();
  for (long i = 0; i < n; i++) sink = uvotel_var_get(v);
  double t1 = now_ns();
  uvotel_scope_exit(&s);
  (void)sink;
  printf("  uvotel_var_get                               %6.2f ns\n", (t1 - t0) / (double)n);
  t0 = now_ns();
  for (long i = 0; i < n; i++) {
    uvotel_scope_t sc;
    uvotel_var_enter(v, (void *)"value", &sc);
    uvotel_scope_exit(&sc);
  }
  t1 = now_ns();
  printf("  uvotel_var_enter + uvotel_scope_exit         %6.2f ns\n", (t1 - t0) / (double)n);
  uvotel_var_enter(v, (void *)"value", &s);
  t0 = now_ns();
  for (long i = 0; i < n; i++) uvotel_snapshot_release(uvotel_snapshot_capture());
  t1 = now_ns();
  uvotel_scope_exit(&s);
  printf("  uvotel_snapshot_capture + release            %6.2f ns\n", (t1 - t0) / (double)n);
}

static void empty_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                       void *resource, void *arg) {
  (void)id, (void)type, (void)trigger, (void)resource, (void)arg;
}
static void empty_id(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
}

int main(int argc, char **argv) {
  g_n = argc > 1 ? atol(argv[1]) : 1000000;
  int rounds = argc > 2 ? atoi(argv[2]) : 5;
  if (g_n < 1 || rounds < 1 || rounds > 64) {
    fprintf(stderr, "usage: %s [N] [ROUNDS<=64]\n", argv[0]);
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  printf("bench_core: N=%ld callbacks per run, %d interleaved rounds, medians\n", g_n, rounds);

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

  printf("context\n");
  context_costs(var);

  uvotel_hook_free(hook);
  uvotel_var_free(var);
  uvotel_loop_close(&loop);
  uv_loop_close(&loop);
  return 0;
}
