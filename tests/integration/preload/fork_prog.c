/* A plain libuv program that forks (no exec) after some fs work (issue 10 #7, the preload side).
 * The child calls uv_loop_fork, does fs work of its own, runs the loop to the end, closes it and
 * returns from main (atexit handlers and destructors run). The parent waits, does more fs work
 * and exits. Under the preload the parent is traced, before and after the child's exit; the
 * child is not (the preload goes quiet in a forked child) and behaves as without it. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

static uv_fs_t req;

static void on_stat(uv_fs_t *r) {
  printf("%d stat %s\n", (int)r->result, r->path);
  uv_fs_req_cleanup(r);
}

static void stat_and_run(uv_loop_t *loop, const char *path) {
  uv_fs_stat(loop, &req, path, on_stat);
  uv_run(loop, UV_RUN_DEFAULT);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  uv_loop_t *loop = uv_default_loop();
  stat_and_run(loop, "/nonexistent.uvotel/parent-before-fork");
  pid_t pid = fork();
  if (pid == 0) {
    printf("child loop_fork %d\n", uv_loop_fork(loop));
    stat_and_run(loop, "/nonexistent.uvotel/child");
    printf("child loop close %d\n", uv_loop_close(loop));
    return 0; /* exit(): atexit handlers and destructors run in the child */
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child %s %d\n", WIFSIGNALED(st) ? "killed by" : "exited",
         WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  stat_and_run(loop, "/nonexistent.uvotel/parent-after-fork");
  printf("parent loop close %d\n", uv_loop_close(loop));
  return 0;
}
