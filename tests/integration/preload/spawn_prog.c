/* A plain libuv program that starts itself as a child twice, with uv_spawn and with plain
 * fork + execv, and waits for each; the child says whether the uvotel SDK is loaded in it and
 * what LD_PRELOAD it got. test_preload_children runs it plain and under the preload (which by
 * default removes itself, and only itself, from LD_PRELOAD: issue 10 #5).
 * Usage: spawn_prog            (parent)
 *        spawn_prog child TAG  (child) */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

static char self[4096];
static uv_fs_t stat_req;

static int child(const char *tag) {
  const char *pre = getenv("LD_PRELOAD");
  printf("child %s: uvotel %s, LD_PRELOAD %s\n", tag,
         dlsym(RTLD_DEFAULT, "uvotel_tracer_get") != NULL ? "loaded" : "absent",
         pre != NULL ? pre : "unset");
  return 7;
}

static void on_exit_cb(uv_process_t *p, int64_t status, int sig) {
  printf("uv_spawn child exited %d signal %d\n", (int)status, sig);
  uv_close((uv_handle_t *)p, NULL);
}

static void on_stat(uv_fs_t *req) {
  printf("parent stat %s\n", req->result == 0 ? "ok" : "failed");
  uv_fs_req_cleanup(req);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 3 && strcmp(argv[1], "child") == 0) return child(argv[2]);
  size_t len = sizeof self;
  if (uv_exepath(self, &len) != 0) return 1;
  uv_loop_t *loop = uv_default_loop();
  uv_fs_stat(loop, &stat_req, self, on_stat); /* some traced work first */
  uv_run(loop, UV_RUN_DEFAULT);

  uv_process_t proc;
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  char *cargs[] = {self, "child", "uv_spawn", NULL};
  uv_stdio_container_t stdio[3];
  memset(stdio, 0, sizeof stdio);
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_INHERIT_FD;
  stdio[2].flags = UV_INHERIT_FD;
  stdio[1].data.fd = 1;
  stdio[2].data.fd = 2;
  o.file = self;
  o.args = cargs;
  o.exit_cb = on_exit_cb;
  o.stdio = stdio;
  o.stdio_count = 3;
  int rc = uv_spawn(loop, &proc, &o);
  if (rc != 0) {
    printf("uv_spawn: %s\n", uv_strerror(rc));
    return 1;
  }
  uv_run(loop, UV_RUN_DEFAULT);

  pid_t pid = fork();
  if (pid == 0) {
    char *fargs[] = {self, "child", "fork-exec", NULL};
    execv(self, fargs);
    _exit(127);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("fork-exec child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
  printf("loop close %d\n", uv_loop_close(loop));
  return 0;
}
