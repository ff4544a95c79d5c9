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

#include "uv_test_fixture.h"

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

/* ---- the user's request: fields as uv_queue_work sets them, garbage and copies ---- */

static int g_plain_done;

static void plain_work(uv_work_t *req) {
  (void)req;
}

static void plain_after(uv_work_t *req, int status) {
  assert_int_equal(status, 0);
  assert_ptr_equal(req->data, (void *)0x55);
  g_plain_done++;
}

static void test_request_fields_garbage_and_copies(void **state) {
  (void)state;
  trace_log_start(&g_log);
  g_plain_done = 0;
  /* Memory full of garbage (as an uninitialised request on the stack or from malloc), and all
   * ones, zeros: none is taken for a queued request. */
  static const unsigned char fills[] = {0xA5, 0xFF, 0x00};
  uv_work_t reqs[3];
  for (int i = 0; i < 3; i++) {
    memset(&reqs[i], fills[i], sizeof reqs[i]);
    reqs[i].data = (void *)0x55;
    assert_int_equal(uvotel_queue_work(g_loop, &reqs[i], plain_work, plain_after), 0);
    /* what uv_queue_work sets, and nothing the program sees otherwise */
    assert_ptr_equal(reqs[i].data, (void *)0x55);
    assert_ptr_equal(reqs[i].loop, g_loop);
    assert_int_equal(reqs[i].type, UV_WORK);
    assert_ptr_equal(reqs[i].work_cb, plain_work);
    assert_ptr_equal(reqs[i].after_work_cb, plain_after);
  }
  /* A byte copy of a queued request, at another address: not queued, and cancelling it
   * touches the original neither through uvotel_cancel nor through raw uv_cancel. */
  uv_work_t copy;
  memcpy(&copy, &reqs[0], sizeof copy);
  assert_int_equal(uvotel_cancel((uv_req_t *)&copy), UV_EBUSY);
  assert_int_equal(uv_cancel((uv_req_t *)&reqs[1]), UV_EBUSY); /* the mirror, raw */
  assert_int_equal(uvotel_queue_work(g_loop, &reqs[1], plain_work, plain_after), UV_EBUSY);
  assert_int_equal(uvotel_queue_work(g_loop, &copy, plain_work, plain_after), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_plain_done, 4);
  /* Done: queueing the same requests again works, and each completes once more. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(uvotel_queue_work(g_loop, &reqs[i], plain_work, plain_after), 0);
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_plain_done, 7);
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- work_cb sees the request as uv_queue_work left it ----
 * The fields uv_queue_work sets are written before the pool thread can run work_cb (TSan sees
 * the order), and the program's data and reserved words are never written. */

#define SEEN_N 64
typedef struct seen_s {
  uv_work_t req;
  int fields_ok; /* written in work_cb (pool thread), read in after_work_cb */
  int words_ok;
} seen_t;

static void *seen_mark(const seen_t *it, int w) {
  return (void *)((uintptr_t)it + 8u * (uintptr_t)(w + 1));
}

static void seen_after(uv_work_t *req, int status);

static void seen_work(uv_work_t *req) {
  seen_t *it = (seen_t *)req;
  it->fields_ok = req->loop == g_loop && req->type == UV_WORK && req->work_cb == seen_work &&
                  req->after_work_cb == seen_after;
  it->words_ok = req->data == seen_mark(it, 0);
  for (int w = 0; w < 6; w++) it->words_ok &= req->reserved[w] == seen_mark(it, w + 1);
}

static void seen_after(uv_work_t *req, int status) {
  seen_t *it = (seen_t *)req;
  assert_int_equal(status, 0);
  assert_true(it->fields_ok);
  assert_true(it->words_ok);
  assert_ptr_equal(req->data, seen_mark(it, 0));
  for (int w = 0; w < 6; w++) assert_ptr_equal(req->reserved[w], seen_mark(it, w + 1));
  g_plain_done++;
}

static void test_work_cb_sees_fields_and_words(void **state) {
  (void)state;
  g_plain_done = 0;
  seen_t *items = calloc(SEEN_N, sizeof *items); /* fields zero until uv_queue_work sets them */
  assert_non_null(items);
  for (int i = 0; i < SEEN_N; i++) {
    seen_t *it = &items[i];
    it->req.data = seen_mark(it, 0);
    for (int w = 0; w < 6; w++) it->req.reserved[w] = seen_mark(it, w + 1);
    assert_int_equal(uvotel_queue_work(g_loop, &it->req, seen_work, seen_after), 0);
    assert_ptr_equal(it->req.data, seen_mark(it, 0));
    for (int w = 0; w < 6; w++) assert_ptr_equal(it->req.reserved[w], seen_mark(it, w + 1));
  }
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(g_plain_done, SEEN_N);
  free(items);
}

/* ---- in-flight requests are counted; the context reaches the pool in any order ---- */

typedef struct ctx_item_s {
  uv_work_t req;
  const char *want;
  const char *seen;
  const char *seen_after;
} ctx_item_t;

static void ctx_item_work(uv_work_t *req) {
  ctx_item_t *it = (ctx_item_t *)req;
  it->seen = uvotel_var_get(g_var);
}

static void ctx_item_after(uv_work_t *req, int status) {
  assert_int_equal(status, 0);
  ctx_item_t *it = (ctx_item_t *)req;
  it->seen_after = uvotel_var_get(g_var);
}

static void test_tracked_and_interleaved_contexts(void **state) {
  (void)state;
  block_pool(0);
  /* A, A, B, A, B, B, root: consecutive submissions in one mapping share it, a change of
   * mapping starts a new one; each item sees its own submitter's value. */
  static const char *const wants[] = {"A", "A", "B", "A", "B", "B", NULL};
  enum { N = sizeof wants / sizeof *wants };
  ctx_item_t items[N];
  memset(items, 0, sizeof items);
  for (int i = 0; i < N; i++) {
    items[i].want = wants[i];
    uvotel_scope_t sc;
    if (wants[i] != NULL) assert_int_equal(uvotel_var_enter(g_var, (void *)wants[i], &sc), 0);
    assert_int_equal(uvotel_queue_work(g_loop, &items[i].req, ctx_item_work, ctx_item_after), 0);
    if (wants[i] != NULL) assert_int_equal(uvotel_scope_exit(&sc), 0);
    assert_int_equal(uvotel_uv_tracked(), (size_t)i + 1);
  }
  unblock_pool();
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  destroy_pool_sync();
  for (int i = 0; i < N; i++) {
    assert_ptr_equal(items[i].seen, wants[i]);
    assert_ptr_equal(items[i].seen_after, wants[i]);
  }
  assert_int_equal(uvotel_uv_tracked(), 0);
}

/* ---- value ops: balanced, and nothing holds a value once the work is done ---- */

static int g_retains, g_releases; /* loop thread only: values are retained and released there */

static void count_retain(void *v) {
  (void)v;
  g_retains++;
}

static void count_release(void *v) {
  (void)v;
  g_releases++;
}

static const uvotel_value_ops_t g_count_ops = {.retain = count_retain, .release = count_release};
static uvotel_var_t *g_cvar;
static int g_cvar_ok;

static void cvar_work(uv_work_t *req) {
  (void)req;
  if (uvotel_var_get(g_cvar) != (void *)0x1234) __atomic_store_n(&g_cvar_ok, 0, __ATOMIC_RELAXED);
}

static void cvar_after(uv_work_t *req, int status) {
  (void)req;
  assert_int_equal(status, 0);
  assert_ptr_equal(uvotel_var_get(g_cvar), (void *)0x1234);
}

static void test_value_ops_released_after_work(void **state) {
  (void)state;
  g_cvar = uvotel_var_create("counted", NULL, &g_count_ops);
  assert_non_null(g_cvar);
  g_retains = g_releases = 0;
  g_cvar_ok = 1;
  uv_work_t reqs[64];
  uvotel_scope_t sc;
  assert_int_equal(uvotel_var_enter(g_cvar, (void *)0x1234, &sc), 0);
  for (int i = 0; i < 64; i++) {
    assert_int_equal(uvotel_queue_work(g_loop, &reqs[i], cvar_work, cvar_after), 0);
  }
  assert_int_equal(uvotel_scope_exit(&sc), 0);
  assert_int_equal(uv_run(g_loop, UV_RUN_DEFAULT), 0);
  assert_true(__atomic_load_n(&g_cvar_ok, __ATOMIC_RELAXED));
  /* Every mapping and copy that held the value has let it go, before the loop closes. */
  assert_true(g_retains > 0);
  assert_int_equal(g_releases, g_retains);
  uvotel_var_free(g_cvar);
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
      cmocka_unit_test_setup_teardown(test_request_fields_garbage_and_copies, setup, teardown),
      cmocka_unit_test_setup_teardown(test_work_cb_sees_fields_and_words, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tracked_and_interleaved_contexts, setup, teardown),
      cmocka_unit_test_setup_teardown(test_value_ops_released_after_work, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  uvotel_var_free(g_var);
  return rc;
}
