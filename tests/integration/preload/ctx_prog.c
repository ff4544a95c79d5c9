/* A plain libuv program (no uvotel header, not linked with uvotel) whose calls sit where
 * issue 10 #8 saw the preload lose the context the wrappers keep: a TCP server that, in its
 * connection callback, starts a timer and an fs request, and in its read callback does both
 * again; each timer callback makes one more fs request. Most libuv calls are in tail position
 * (built with -O2 -foptimize-sibling-calls), as in ordinary code. Each fs request stats a path
 * that names its case, so the spans tell which is which.
 *
 * If the uvotel context API is in the process (under the preload, or linked in), main also sets
 * a context variable with the exported uvotel_var_enter before uv_timer_start, uv_fs_stat and
 * uv_idle_start, and each callback writes what it sees to stderr. stdout is the same in every
 * build. test_preload_context runs it plain, under the preload and built with uv_redirect.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server, conn, client;
static uv_connect_t connect_req;
static uv_write_t write_req;
static uv_timer_t t_conn, t_read, t_var;
static uv_idle_t idle;
static uv_fs_t f_conn, f_read, f_conn_timer, f_read_timer, f_var;
static char rbuf[64];

/* The context API, when present: looked up at run time. */
typedef struct {
  void *a, *b, *c; /* the size of uvotel_scope_t, with room to spare */
  void *pad[5];
} scope_t;
static void *(*var_create)(const char *, void *, void (*)(void *));
static int (*var_enter)(void *, void *, scope_t *);
static int (*scope_exit)(scope_t *);
static void *(*var_get)(const void *);
static void *var;

static void say_var(const char *where) {
  if (var == NULL) return;
  const char *v = var_get(var);
  fprintf(stderr, "var %s %s\n", where, v != NULL ? v : "-");
}

static void on_stat(uv_fs_t *req) {
  printf("stat %s %s\n", strrchr(req->path, '/') + 1, req->result < 0 ? "missing" : "found");
  uv_fs_req_cleanup(req);
}

static void on_conn_timer(uv_timer_t *t) {
  uv_fs_stat(t->loop, &f_conn_timer, "/nonexistent.uvotel/conn-timer", on_stat);
}

static void on_read_timer(uv_timer_t *t) {
  uv_fs_stat(t->loop, &f_read_timer, "/nonexistent.uvotel/read-timer", on_stat);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h, (void)size;
  *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_closed(uv_handle_t *h) {
  (void)h;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  (void)buf;
  if (n > 0) {
    printf("server read %d bytes\n", (int)n);
    uv_fs_stat(loop, &f_read, "/nonexistent.uvotel/read-fs", on_stat);
    uv_timer_start(&t_read, on_read_timer, 5, 0);
  } else if (n < 0) {
    uv_close((uv_handle_t *)s, on_closed);
  }
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status != 0) return;
  uv_tcp_init(loop, &conn);
  if (uv_accept(srv, (uv_stream_t *)&conn) != 0) return;
  uv_close((uv_handle_t *)srv, on_closed);
  uv_fs_stat(loop, &f_conn, "/nonexistent.uvotel/conn-fs", on_stat);
  uv_timer_start(&t_conn, on_conn_timer, 5, 0);
  uv_read_start((uv_stream_t *)&conn, on_alloc, on_read);
}

static void on_written(uv_write_t *req, int status) {
  printf("client wrote %d\n", status);
  uv_close((uv_handle_t *)req->handle, on_closed);
}

static void on_connect(uv_connect_t *req, int status) {
  static uv_buf_t ping;
  if (status != 0) {
    printf("connect failed\n");
    return;
  }
  ping = uv_buf_init("ping", 4);
  uv_write(&write_req, req->handle, &ping, 1, on_written);
}

static void on_var_timer(uv_timer_t *t) {
  (void)t;
  say_var("timer");
}

static void on_var_stat(uv_fs_t *req) {
  say_var("fs");
  uv_fs_req_cleanup(req);
}

static void on_idle(uv_idle_t *h) {
  say_var("idle");
  uv_idle_stop(h);
  uv_close((uv_handle_t *)h, on_closed);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  loop = uv_default_loop();
  *(void **)&var_create = dlsym(RTLD_DEFAULT, "uvotel_var_create");
  *(void **)&var_enter = dlsym(RTLD_DEFAULT, "uvotel_var_enter");
  *(void **)&scope_exit = dlsym(RTLD_DEFAULT, "uvotel_scope_exit");
  *(void **)&var_get = dlsym(RTLD_DEFAULT, "uvotel_var_get");
  if (var_create != NULL && var_enter != NULL && scope_exit != NULL && var_get != NULL) {
    var = var_create("probe", NULL, NULL);
  }

  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_init(loop, &server);
  if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
      uv_listen((uv_stream_t *)&server, 8, on_connection) != 0) {
    printf("listen failed\n");
    return 1;
  }
  int len = sizeof addr;
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  uv_tcp_init(loop, &client);
  uv_tcp_connect(&connect_req, &client, (const struct sockaddr *)&addr, on_connect);
  uv_timer_init(loop, &t_conn);
  uv_timer_init(loop, &t_read);
  uv_timer_init(loop, &t_var);
  uv_idle_init(loop, &idle);

  scope_t scope;
  if (var != NULL) var_enter(var, "main-value", &scope);
  uv_timer_start(&t_var, on_var_timer, 1, 0);
  uv_fs_stat(loop, &f_var, "/", on_var_stat);
  uv_idle_start(&idle, on_idle);
  if (var != NULL) scope_exit(&scope);

  int rc = uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t_conn, NULL);
  uv_close((uv_handle_t *)&t_read, NULL);
  uv_close((uv_handle_t *)&t_var, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  printf("run %d, loop close %d\n", rc, uv_loop_close(loop));
  return 0;
}
