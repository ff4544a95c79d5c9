/* Linked into the redirected build of plain.c only: enables a hook before main() that prints
 * every event to stderr, so the test can see that the unmodified program raises them. */
#include <stdio.h>

#include "uvotel.h"

static void on_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger,
                    void *resource, void *arg) {
  (void)resource, (void)arg;
  fprintf(stderr, "init %llu %s %llu\n", (unsigned long long)id, type, (unsigned long long)trigger);
}

static void on_destroy(uvotel_async_id_t id, void *arg) {
  (void)arg;
  fprintf(stderr, "destroy %llu\n", (unsigned long long)id);
}

__attribute__((constructor)) static void hook_on(void) {
  static const uvotel_hook_callbacks_t cbs = {.init = on_init, .destroy = on_destroy};
  uvotel_hook_enable(uvotel_hook_create(&cbs, NULL));
}
