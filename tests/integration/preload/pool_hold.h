/* Holding libuv's thread pool, for the plain programs that cancel a queued request
 * (work_stash_prog, fs_stash_prog; plain libuv, header only). pool_hold sets the pool to
 * POOL_HOLD_N threads (UV_THREADPOOL_SIZE, read when libuv starts its pool: call it before
 * anything else uses the pool) and blocks each of them with a work item, so the next request
 * waits in the queue and uv_cancel answers 0; pool_release lets them go; pool_hold_free, after
 * the loop ran, frees the semaphores. */
#ifndef UVOTEL_TEST_POOL_HOLD_H
#define UVOTEL_TEST_POOL_HOLD_H

#include <stdlib.h>

#include <uv.h>

#define POOL_HOLD_N 2

static uv_work_t pool_blockers[POOL_HOLD_N];
static uv_sem_t pool_started, pool_go;

static void pool_block_work(uv_work_t *req) {
  (void)req;
  uv_sem_post(&pool_started);
  uv_sem_wait(&pool_go);
}

static void pool_block_after(uv_work_t *req, int status) {
  (void)req, (void)status;
}

/* 0, or -1 when a semaphore or a work item could not be set up. */
static int pool_hold(uv_loop_t *loop) {
  setenv("UV_THREADPOOL_SIZE", "2", 1); /* POOL_HOLD_N */
  if (uv_sem_init(&pool_started, 0) != 0 || uv_sem_init(&pool_go, 0) != 0) return -1;
  for (int i = 0; i < POOL_HOLD_N; i++) {
    if (uv_queue_work(loop, &pool_blockers[i], pool_block_work, pool_block_after) != 0) return -1;
  }
  for (int i = 0; i < POOL_HOLD_N; i++) uv_sem_wait(&pool_started);
  return 0;
}

static void pool_release(void) {
  for (int i = 0; i < POOL_HOLD_N; i++) uv_sem_post(&pool_go);
}

static void pool_hold_free(void) {
  uv_sem_destroy(&pool_started);
  uv_sem_destroy(&pool_go);
}

#endif
