/* A program built against the installed package: a timer through the wrappers, seen by a hook. */
#include <stdio.h>

#include <uvotel.h>
#include <uvotel/uv.h>

static int inits, befores;
static void on_init(uvotel_async_id_t id, const char *type, uvotel_async_id_t trigger, void *r,
                    void *arg) {
  (void)id, (void)type, (void)trigger, (void)r, (void)arg;
  inits++;
}
static void on_before(uvotel_async_id_t id, void *arg) {
  (void)id, (void)arg;
  befores++;
}
static void on_timer(uv_timer_t *t) {
  uvotel_close((uv_handle_t *)t, NULL);
}

int main(void) {
  uv_loop_t loop;
  uv_timer_t timer;
  uvotel_hook_callbacks_t cbs = {.init = on_init, .before = on_before};
  uvotel_hook_t *h = uvotel_hook_create(&cbs, NULL);
  uvotel_hook_enable(h);
  uv_loop_init(&loop);
  uv_timer_init(&loop, &timer);
  uvotel_timer_start(&timer, on_timer, 1, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  uvotel_loop_close(&loop);
  int rc = uv_loop_close(&loop);
  uvotel_hook_free(h);
  printf("uvotel %s: %d init, %d before, loop close %d\n", uvotel_version_string(), inits, befores,
         rc);
  if (inits == 1 && befores == 1 && rc == 0) puts("consumer ok");
  return rc;
}
