/* Thread-pool wrapper: WORK resources, the submitter's context on the pool thread and in
 * after_work_cb, cancel. Also built and run under ThreadSanitizer (-DUVOTEL_TSAN=ON). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "counting_alloc.h"
#include "trace_log.h"
#include "uv_test_util.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#define POOL 4

typedef struct fx_s {
  uv_loop_t loop;
  long live0;
} fx_t;

static trace_log_t g_log;
static uvotel_var_t *g_var;
static uv_loop_t *g_loop;

static int setup(void **state) {
  /* A fresh loop object per test: libuv's pool threads may still touch a closed loop's mutex
   * memory on their way out (ThreadSanitizer flags re-initialising it). */
  static fx_t fxs[32];
  static unsigned n;
  fx_t *fx = &fxs[n++ % 32];
  memset(fx, 0, sizeof *fx);
  fx->live0 = counting_alloc_stats().live;
  assert_int_equal(uv_loop_init(&fx->loop), 0);
  g_loop = &fx->loop;
  memset(&g_log, 0, sizeof g_log);
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fx_t *fx = *state;
  trace_log_free(&g_log);
  (void)uvotel_loop_close(&fx->loop);
  assert_int_equal(uv_loop_close(&fx->loop), 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, fx->live0);
  return 0;
}

/* ---- blocking the whole pool (for cancel, and to warm every pool thread up) ---- */

static uv_sem_t g_gate;
static uv_barrier_t g_barrier;
static uv_work_t g_blockers[POOL];

static void block_work(uv_work_t *req) {
  (void)req;
  /* warms the pool thread's mapping cache too (see many_work) */
  uvotel_snapshot_release(uvotel_snapshot_capture());
  uv_barrier_wait(&g_barrier); /* all POOL threads are in here at once */
  uv_sem_wait(&g_gate);
}

static void block_after(uv_work_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
}

/* Occupy every pool thread; returns once they all run block_work. */
static void block_pool(int wrapped) {
  assert_int_equal(uv_sem_init(&g_gate, 0), 0);
  assert_int_equal(uv_barrier_init(&g_barrier, POOL + 1), 0);
  for (int i = 0; i < POOL; i++) {
    /* raw libuv in tests, so the blockers are not part of any trace */
    assert_int_equal((wrapped ? uvotel_queue_work : uv_queue_work)(g_loop, &g_blockers[i],
                                                                   block_work, block_after),
                     0);
  }
  uv_barrier_wait(&g_barrier);
}

static void unblock_pool(void) {
  for (int i = 0; i < POOL; i++) uv_sem_post(&g_gate);
}

static void destroy_pool_sync(void) {
  uv_sem_destroy(&g_gate);
  uv_barrier_destroy(&g_barrier);
}

/* ---- sequence and context ---- */

typedef struct item_s {
  uv_work_t req;
  void *seen_in_work;
  uvotel_async_id_t exec_in_work;
  int after_status;
} item_t;

static void item_work(uv_work_t *req) {
  item_t *it = (item_t *)req;
  it->seen_in_work = uvotel_var_get(g_var);
  it->exec_in_work = uvotel_execution_async_id();
}

static void item_after(uv_work_t *req, int status) {
  item_t *it = (item_t *)req;
  it->after_status = status;
  trace_log_line(&g_log, "after_work %s status=%d work saw %s exec %llu",
                 (const char *)uvotel_var_get(g_var), status, (const char *)it->seen_in_work,
                 (unsigned long long)it->exec_in_work);
  assert_ptr_equal(uvotel_execution_async_resource(), req);
  assert_ptr_equal(req->data, (void *)0x77);
  assert_ptr_equal(req->loop, g_loop);
}

static void test_work_sequence_and_context(void **state) {
  (void)state;
  trace_log_start(&g_log);
  item_t it = {.req.data = (void *)0x77};
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "job", &sc), 0);
  assert_int_equal(uvotel_queue_work(g_loop, &it.req, item_work, item_after), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(it.req.type, UV_WORK);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  /* the pool thread saw the submitter's value, at its own top level (id 1), raising nothing */
  assert_trace(&g_log,
               "init 2 WORK 1\n"
               "before 2\n"
               "after_work job status=0 work saw job exec 1\n"
               "after 2\n"
               "destroy 2\n");
}

static void no_after_work(uv_work_t *req) {
  (void)req;
}

static void test_null_after_cb_and_errors(void **state) {
  (void)state;
  trace_log_start(&g_log);
  uv_work_t req;
  assert_int_equal(uvotel_queue_work(g_loop, &req, no_after_work, NULL), 0);
  assert_int_equal(uvotel_queue_work(g_loop, &req, no_after_work, NULL), UV_EBUSY);
  assert_int_equal(uvotel_queue_work(g_loop, &req, NULL, NULL), UV_EINVAL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uvotel_cancel((uv_req_t *)&req), UV_EBUSY); /* done: libuv's answer */
  assert_trace(&g_log,
               "init 2 WORK 1\n"
               "destroy 2\n");
}

/* ---- cancel: exactly one destroy, for work, fs and getaddrinfo requests ---- */

static void fs_cancel_cb(uv_fs_t *req) {
  trace_log_line(&g_log, "fs cb %s ctx=%s", uv_err_name((int)req->result),
                 (const char *)uvotel_var_get(g_var));
  uv_fs_req_cleanup(req);
}

static void gai_cancel_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  trace_log_line(&g_log, "gai cb %s", uv_err_name(status));
  uv_freeaddrinfo(res);
}

static void cancel_after(uv_work_t *req, int status) {
  (void)req;
  trace_log_line(&g_log, "work after %s ctx=%s", uv_err_name(status),
                 (const char *)uvotel_var_get(g_var));
}

static void never_work(uv_work_t *req) {
  (void)req;
  fail();
}

static void test_cancel_one_destroy(void **state) {
  (void)state;
  block_pool(0);
  trace_log_start(&g_log);
  uv_work_t w;
  uv_fs_t f;
  uv_getaddrinfo_t g;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "c", &sc), 0);
  assert_int_equal(uvotel_queue_work(g_loop, &w, never_work, cancel_after), 0);
  assert_int_equal(uvotel_fs_stat(g_loop, &f, "/", fs_cancel_cb), 0);
  assert_int_equal(uvotel_getaddrinfo(g_loop, &g, gai_cancel_cb, "localhost", NULL, NULL), 0);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uvotel_cancel((uv_req_t *)&w), 0);
  assert_int_equal(uvotel_cancel((uv_req_t *)&f), 0);
  assert_int_equal(uvotel_cancel((uv_req_t *)&g), 0);
  unblock_pool();
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  destroy_pool_sync();
  /* libuv runs the cancelled requests' callbacks in submission order */
  assert_trace(&g_log,
               "init 2 WORK 1\n"
               "init 3 FSREQCALLBACK 1\n"
               "init 4 GETADDRINFOREQWRAP 1\n"
               "before 2\n"
               "work after ECANCELED ctx=c\n"
               "after 2\n"
               "before 3\n"
               "fs cb ECANCELED ctx=c\n"
               "after 3\n"
               "before 4\n"
               "gai cb EAI_CANCELED\n"
               "after 4\n"
               "destroy 2\n"
               "destroy 3\n"
               "destroy 4\n");
}

/* ---- many items, each with its own context, checked on the pool thread (TSan) ---- */

#define MANY 2000
typedef struct many_s {
  uv_work_t req;
  int idx;
  int ok_in_work;
  int done;
} many_t;

static many_t *g_many;
static int g_many_done;

static void many_work(uv_work_t *req) {
  many_t *m = (many_t *)req;
  m->ok_in_work = uvotel_var_get(g_var) == (void *)m;
  /* a snapshot captured on the pool thread is a private copy, usable there */
  uvotel_snapshot_t *s = uvotel_snapshot_capture();
  m->ok_in_work &= uvotel_snapshot_get(s, g_var) == (void *)m;
  uvotel_snapshot_release(s);
}

static void many_after(uv_work_t *req, int status) {
  many_t *m = (many_t *)req;
  assert_int_equal(status, 0);
  assert_true(m->ok_in_work);
  assert_ptr_equal(uvotel_var_get(g_var), m);
  m->done = 1;
  g_many_done++;
  if (m->idx < MANY / 2) {
    /* resubmit the same request from its own after callback, in its own context */
    m->idx += MANY;
    assert_int_equal(uvotel_queue_work(g_loop, req, many_work, many_after), 0);
  }
}

static void test_many_items_own_context(void **state) {
  (void)state;
  g_many = calloc(MANY, sizeof *g_many);
  g_many_done = 0;
  for (int i = 0; i < MANY; i++) {
    uvotel_scope_t sc;
    g_many[i].idx = i;
    assert_int_equal(uvotel_var_enter(g_var, &g_many[i], &sc), 0);
    assert_int_equal(uvotel_queue_work(g_loop, &g_many[i].req, many_work, many_after), 0);
    assert_int_equal(uvotel_scope_exit(&sc), 0);
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_many_done, MANY + MANY / 2);
  assert_null(uvotel_var_get(g_var));
  free(g_many);
}

/* ---- a chain of 11k items: no allocation in steady state, table back to baseline ---- */

static struct {
  uv_work_t req;
  int n;
  size_t allocs_at_1000, allocs_at_11000;
} g_chain;

static void chain_after(uv_work_t *req, int status) {
  assert_int_equal(status, 0);
  assert_ptr_equal(uvotel_var_get(g_var), "chain");
  g_chain.n++;
  if (g_chain.n == 1000) g_chain.allocs_at_1000 = counting_alloc_stats().allocs;
  if (g_chain.n == 11000) {
    g_chain.allocs_at_11000 = counting_alloc_stats().allocs;
    return;
  }
  assert_int_equal(uvotel_queue_work(g_loop, req, no_after_work, chain_after), 0);
}

static void *chain_start(void *arg) {
  (void)arg;
  assert_int_equal(uvotel_queue_work(g_loop, &g_chain.req, no_after_work, chain_after), 0);
  return NULL;
}

static void test_chain_zero_alloc(void **state) {
  (void)state;
  trace_log_start(&g_log); /* a hook with every event: the destroy queue is exercised too */
  memset(&g_chain, 0, sizeof g_chain);
  uvotel_var_run(g_var, "chain", chain_start, NULL);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_chain.n, 11000);
  assert_int_equal(g_chain.allocs_at_11000 - g_chain.allocs_at_1000, 0);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* Warm every pool thread up (each allocates its scope stack once, freed when it exits), so
 * the per-test leak checks see only what a test itself leaves behind. */
static void warm_pool(void) {
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  g_loop = &loop;
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_var, "warm", &sc), 0);
  block_pool(1);
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  unblock_pool();
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  destroy_pool_sync();
  assert_int_equal(uvotel_loop_close(&loop), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
}

int main(void) {
  counting_alloc_install();
  setenv("UV_THREADPOOL_SIZE", "4", 1);
  g_var = uvotel_var_create("work", NULL, NULL);
  warm_pool();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_work_sequence_and_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_null_after_cb_and_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cancel_one_destroy, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_items_own_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_zero_alloc, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
