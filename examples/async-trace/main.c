/* async-trace: the scenarios of seed 000 (and a few more) in C, printing every async-hook event
 * in the seed's format:
 *
 *     (asyncId: 2) INIT (Timeout) (triggerAsyncId=1) (resource=Timeout)
 *
 * indented four spaces per level of the resource's trigger chain, the program's own lines
 * unindented. Usage: async-trace SCENARIO   (async-trace --list names them) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvotel.h>
#include <uvotel/uv.h>

#include "scenarios.h"

/* ---- the printer: a hook writing the seed's format ---- */

#define MAX_IDS 4096
static int depth_of[MAX_IDS]; /* ids are small in these scenarios; 0 = unknown */

static int depth(uvotel_async_id_t id) {
  if (id == 1) return 0;
  return (id < MAX_IDS && depth_of[id]) ? depth_of[id] : 1;
}

static void pad(uvotel_async_id_t id) {
  printf("%*s", 4 * depth(id), "");
}

/* Node prints the resource's constructor name; C has none, so the scenarios name theirs. */
static const char *resource_name(const char *type, void *resource) {
  const char *name = scenario_resource_name(resource);
  if (name != NULL) return name;
  /* What Node prints for these (uvotel/promise.h): the constructors behind them in Node 20. */
  if (strcmp(type, "PROMISE") == 0) return "Promise";
  if (strcmp(type, "TickObject") == 0) return "Object";
  if (strcmp(type, "Microtask") == 0) return "AsyncResource";
  return type;
}

static void on_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                    void *resource, void *arg) {
  (void)arg;
  if (id < MAX_IDS) depth_of[id] = depth(trigger) + 1;
  pad(id);
  printf("(asyncId: %llu) INIT (%s) (triggerAsyncId=%llu) (resource=%s)\n", (unsigned long long)id,
         type, (unsigned long long)trigger, resource_name(type, resource));
}

static void on_event(uvotel_async_id_t id, const char *what) {
  pad(id);
  printf("(asyncId: %llu) %s\n", (unsigned long long)id, what);
}
static void on_before(uvotel_async_id_t id, void *arg) {
  (void)arg;
  on_event(id, "BEFORE");
}
static void on_after(uvotel_async_id_t id, void *arg) {
  (void)arg;
  on_event(id, "AFTER");
}
static void on_destroy(uvotel_async_id_t id, void *arg) {
  (void)arg;
  on_event(id, "DESTROY");
}
static void on_resolve(uvotel_async_id_t id, void *arg) {
  (void)arg;
  on_event(id, "PROMISE_RESOLVE");
}

void scenario_log(const char *line) {
  printf("%s\n", line);
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc != 2 || strcmp(argv[1], "--help") == 0) {
    fprintf(stderr, "usage: %s SCENARIO | --list\n", argv[0]);
    return 2;
  }
  if (strcmp(argv[1], "--list") == 0) {
    for (const scenario_t *s = scenarios; s->name != NULL; s++) {
      printf("%-24s %s\n", s->name, s->about);
    }
    return 0;
  }
  const scenario_t *sc = NULL;
  for (const scenario_t *s = scenarios; s->name != NULL; s++) {
    if (strcmp(s->name, argv[1]) == 0) sc = s;
  }
  if (sc == NULL) {
    fprintf(stderr, "unknown scenario '%s' (try --list)\n", argv[1]);
    return 2;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  /* Attach first: destroys then wait for the loop's check phase, as in Node. */
  uvotel_loop_init(&loop);
  uvotel_hook_callbacks_t cbs = {on_init, on_before, on_after, on_destroy, on_resolve};
  uvotel_hook_t *hook = uvotel_hook_create(&cbs, NULL);
  if (hook == NULL || uvotel_hook_enable(hook) != 0) {
    fprintf(stderr, "cannot enable the hook\n");
    return 1;
  }
  sc->run(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  /* What the seed does not show (it stops watching here): tear down silently. */
  uvotel_hook_disable(hook);
  uvotel_hook_free(hook);
  if (sc->cleanup != NULL) sc->cleanup(&loop);
  uv_run(&loop, UV_RUN_DEFAULT);
  uvotel_loop_close(&loop);
  int rc = uv_loop_close(&loop);
  if (rc != 0) fprintf(stderr, "uv_loop_close: %s\n", uv_strerror(rc));
  uvotel_uv_thread_cleanup();
  uvotel_thread_cleanup();
  return rc == 0 ? 0 : 1;
}
