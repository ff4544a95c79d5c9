/* fork() straight after a force_flush, with the SDK used explicitly (issue 10 #7). The parent
 * ends a span, flushes and forks. The child calls uv_loop_fork (as libuv requires), shuts down
 * and frees its copy of the parent's provider, builds its own provider on the same loop, ends a
 * span and shuts that down; uv_run must then return and uv_loop_close give 0. The parent goes on
 * with its provider. Each makes two root spans after the fork: their ids must differ between
 * parent and child. Spans go to PARENT_FILE and CHILD_FILE (argv[1], argv[2]).
 * test_preload_fork runs it plain and under the preload. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "uvotel.h"
#include "uvotel/exporters/file.h"

static uvotel_tracer_provider_t *provider(uv_loop_t *loop, const char *path) {
  uvotel_file_exporter_options_t fo = UVOTEL_FILE_EXPORTER_OPTIONS_INIT;
  fo.path = path;
  uvotel_batch_span_processor_options_t bo = UVOTEL_BATCH_SPAN_PROCESSOR_OPTIONS_INIT;
  bo.loop = loop;
  uvotel_span_processor_t *proc =
      uvotel_batch_span_processor_create(uvotel_file_exporter_create(&fo), &bo);
  uvotel_tracer_provider_options_t po = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  po.processors = &proc;
  po.n_processors = 1;
  po.loop = loop;
  return uvotel_tracer_provider_create(&po);
}

static void span(uvotel_tracer_provider_t *p, const char *name) {
  uvotel_span_end(uvotel_span_start(uvotel_tracer_get(p, "fork-test", NULL), name, NULL));
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc != 3) return 2;
  uv_loop_t loop;
  uv_loop_init(&loop);
  uvotel_tracer_provider_t *p = provider(&loop, argv[1]);
  span(p, "parent-before-fork");
  printf("parent flush %d\n", uvotel_tracer_provider_force_flush(p, 5000));
  pid_t pid = fork();
  if (pid == 0) {
    printf("child loop_fork %d\n", uv_loop_fork(&loop));
    span(p, "child-in-parents-provider"); /* the parent's copy: never exported */
    printf("child shutdown inherited %d\n", uvotel_tracer_provider_shutdown(p, 5000));
    uvotel_tracer_provider_free(p);
    uvotel_tracer_provider_t *own = provider(&loop, argv[2]);
    span(own, "child-own"); /* the second root span made after the fork, as in the parent */
    printf("child shutdown own %d\n", uvotel_tracer_provider_shutdown(own, 5000));
    uvotel_tracer_provider_free(own);
    printf("child run %d\n", uv_run(&loop, UV_RUN_DEFAULT));
    printf("child loop close %d\n", uv_loop_close(&loop));
    return 0;
  }
  int st = 0;
  waitpid(pid, &st, 0);
  printf("child exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
  span(p, "parent-after-fork");
  span(p, "parent-after-fork-2");
  printf("parent shutdown %d\n", uvotel_tracer_provider_shutdown(p, 5000));
  uvotel_tracer_provider_free(p);
  printf("parent run %d\n", uv_run(&loop, UV_RUN_DEFAULT));
  printf("parent loop close %d\n", uv_loop_close(&loop));
  return 0;
}
