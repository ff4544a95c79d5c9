/* Promise and microtask throughput, and the same chain in Node 20.
 *
 *   chain     Promise.resolve(0) then N x .then(v => v + 1), run to the end: ns per link (then()
 *             plus the reaction), without any hook and with a hook enabled whose five callbacks
 *             count events (init, before, promise_resolve, after, destroy per link);
 *   microtask queueMicrotask N times, then drain: ns per microtask (queue plus run);
 *   node      when `node` is on the PATH, the same chain and microtask loop in Node (with and
 *             without an async hook), best of the same number of rounds, and the ratios.
 *
 *   short     the chain's work as N/100 chains of 100 links (steady state: pooled objects);
 *
 * Usage: bench_promise [N] (default 100000, at least 100). Build with -DCMAKE_BUILD_TYPE=Release.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uvotel.h"

#define ROUNDS 5

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uvotel_reaction_t inc(void *value, void *arg) {
  (void)arg;
  return uvotel_reaction_value((void *)((intptr_t)value + 1));
}

static double chain_ns(long n) {
  uint64_t t0 = now_ns();
  uvotel_promise_t *last = uvotel_promise_resolved((void *)0, NULL);
  for (long i = 0; i < n; i++) {
    uvotel_promise_t *next = uvotel_promise_then(last, inc, NULL, NULL);
    uvotel_promise_unref(last);
    last = next;
  }
  uvotel_drain_microtasks();
  uint64_t t1 = now_ns();
  if ((intptr_t)uvotel_promise_value(last) != n) {
    fprintf(stderr, "chain gave %ld, want %ld\n", (long)(intptr_t)uvotel_promise_value(last), n);
    exit(1);
  }
  uvotel_promise_unref(last);
  return (double)(t1 - t0) / (double)n;
}

/* The same work as n/100 chains of 100 links: every object comes from the thread's pools. */
static double short_chains_ns(long n) {
  uint64_t t0 = now_ns();
  for (long k = 0; k < n / 100; k++) {
    uvotel_promise_t *last = uvotel_promise_resolved((void *)0, NULL);
    for (long i = 0; i < 100; i++) {
      uvotel_promise_t *next = uvotel_promise_then(last, inc, NULL, NULL);
      uvotel_promise_unref(last);
      last = next;
    }
    uvotel_drain_microtasks();
    if ((intptr_t)uvotel_promise_value(last) != 100) exit(1);
    uvotel_promise_unref(last);
  }
  uint64_t t1 = now_ns();
  return (double)(t1 - t0) / (double)(n / 100 * 100);
}

static long g_ran;
static void tick(void *arg) {
  (void)arg;
  g_ran++;
}

static double microtask_ns(long n) {
  g_ran = 0;
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) uvotel_queue_microtask(tick, NULL);
  uvotel_drain_microtasks();
  uint64_t t1 = now_ns();
  if (g_ran != n) exit(1);
  return (double)(t1 - t0) / (double)n;
}

static double best(double (*fn)(long), long n) {
  double b = 1e30;
  for (int r = 0; r < ROUNDS; r++) {
    double v = fn(n);
    if (v < b) b = v;
  }
  return b;
}

static uint64_t g_events;
static void h_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                   void *resource, void *arg) {
  (void)id, (void)type, (void)trigger, (void)resource, (void)arg;
  g_events++;
}
static void h_id(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
  g_events++;
}

/* Node: the same chain and microtask loop; prints "chain_ns microtask_ns" (best of ROUNDS). */
static const char *node_script =
    "const N=+process.argv[1],R=+process.argv[2],hook=process.argv[3]==='1';"
    "if(hook){const ah=require('async_hooks');let e=0;const f=()=>{e++};"
    "ah.createHook({init:f,before:f,after:f,destroy:f,promiseResolve:f}).enable();}"
    "function chain(){return new Promise(done=>{const t0=process.hrtime.bigint();"
    "let p=Promise.resolve(0);for(let i=0;i<N;i++)p=p.then(v=>v+1);"
    "p.then(v=>{if(v!==N)throw new Error('bad');"
    "done(Number(process.hrtime.bigint()-t0)/N)})})}"
    "function micro(){return new Promise(done=>{let k=0;const t0=process.hrtime.bigint();"
    "const f=()=>{k++};for(let i=0;i<N;i++)queueMicrotask(f);"
    "queueMicrotask(()=>done(Number(process.hrtime.bigint()-t0)/N))})}"
    "(async()=>{let c=1e30,m=1e30;for(let r=0;r<R;r++){c=Math.min(c,await chain());"
    "m=Math.min(m,await micro())}console.log(c.toFixed(1)+' '+m.toFixed(1))})();";

static int run_node(long n, int hook, double *chain, double *micro) {
  if (system("command -v node >/dev/null 2>&1") != 0) return -1;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "node -e \"%s\" %ld %d %d", node_script, n, ROUNDS, hook);
  FILE *p = popen(cmd, "r");
  if (p == NULL) return -1;
  int ok = fscanf(p, "%lf %lf", chain, micro) == 2;
  int st = pclose(p);
  return ok && st == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  if (n < 100) n = 100000;
  printf("bench_promise: N=%ld, best of %d rounds\n", n, ROUNDS);

  double c_plain = best(chain_ns, n);
  double s_plain = best(short_chains_ns, n);
  double m_plain = best(microtask_ns, n);

  uvotel_hook_callbacks_t cbs = {h_init, h_id, h_id, h_id, h_id};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, NULL);
  uvotel_hook_enable(h);
  g_events = 0;
  double c_hook = best(chain_ns, n);
  uint64_t per_link = g_events / ((uint64_t)n * ROUNDS);
  double s_hook = best(short_chains_ns, n);
  double m_hook = best(microtask_ns, n);
  uvotel_hook_disable(h);
  uvotel_hook_free(h);

  printf("uvotel  then-reaction, no hook     %8.1f ns/link\n", c_plain);
  printf("uvotel  then-reaction, hook on     %8.1f ns/link  (%llu hook events per link, x%.2f)\n",
         c_hook, (unsigned long long)per_link, c_hook / c_plain);
  printf("uvotel  100-link chains, no hook   %8.1f ns/link\n", s_plain);
  printf("uvotel  100-link chains, hook on   %8.1f ns/link  (x%.2f)\n", s_hook, s_hook / s_plain);
  printf("uvotel  microtask, no hook         %8.1f ns/microtask\n", m_plain);
  printf("uvotel  microtask, hook on         %8.1f ns/microtask  (x%.2f)\n", m_hook,
         m_hook / m_plain);

  double nc, nm, nch, nmh;
  if (run_node(n, 0, &nc, &nm) == 0 && run_node(n, 1, &nch, &nmh) == 0) {
    printf("node    then-reaction, no hook     %8.1f ns/link       uvotel/node = %.3f\n", nc,
           c_plain / nc);
    printf("node    then-reaction, hook on     %8.1f ns/link       uvotel/node = %.3f\n", nch,
           c_hook / nch);
    printf("node    microtask, no hook         %8.1f ns/microtask  uvotel/node = %.3f\n", nm,
           m_plain / nm);
    printf("node    microtask, hook on         %8.1f ns/microtask  uvotel/node = %.3f\n", nmh,
           m_hook / nmh);
  } else {
    printf("node    not on PATH (or failed): no comparison\n");
  }
  uvotel_thread_cleanup();
  return 0;
}
