/* A program that runs its own scheduler from one idle handle, as an asyncio-on-libuv runtime
 * does: the read callbacks of several concurrent loopback connections queue tasks, and the idle
 * callback runs every ready task, whatever connection it belongs to. Each task makes an fs
 * request named after its connection's peer port (.../peer-<port>/task), so the spans say which
 * connection a child belongs to; each accepted connection also makes one from its connection
 * callback (.../peer-<port>/accept), which must sit under that connection's span.
 * Plain libuv: built as is, with uv_redirect.h, and run under the preload. Prints the same lines
 * every way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#define CLIENTS 8
#define MSGS 4

typedef struct conn_s {
  uv_tcp_t tcp;
  int port; /* peer port */
  int tasks_done;
  char path[96];
  uv_fs_t accept_req;
} conn_t;

typedef struct task_s {
  conn_t *c;
  uv_fs_t req;
  struct task_s *next;
} task_t;

typedef struct client_s {
  uv_tcp_t tcp;
  uv_connect_t conn;
  uv_write_t w;
  int got;
  char buf[64];
} client_t;

static uv_loop_t g_loop;
static uv_tcp_t g_server;
static uv_idle_t g_sched;
static task_t *g_ready, **g_ready_tail = &g_ready;
static conn_t g_conns[CLIENTS];
static client_t g_clients[CLIENTS];
static int g_nconns, g_tasks_run, g_clients_done, g_closed;
static char g_rbuf[CLIENTS][256];

static void on_closed(uv_handle_t *h) {
  (void)h;
  g_closed++;
}

static void task_done(uv_fs_t *req) {
  task_t *t = (task_t *)((char *)req - offsetof(task_t, req));
  uv_fs_req_cleanup(req);
  t->c->tasks_done++;
  g_tasks_run++;
  free(t);
}

/* The scheduler: one idle handle runs every ready task. */
static void run_ready(uv_idle_t *h) {
  task_t *t = g_ready;
  g_ready = NULL;
  g_ready_tail = &g_ready;
  while (t != NULL) {
    task_t *next = t->next;
    char path[128];
    snprintf(path, sizeof path, "%s/task", t->c->path);
    if (uv_fs_stat(&g_loop, &t->req, path, task_done) != 0) abort();
    t = next;
  }
  (void)h; /* stays started, as a runtime's scheduler does, until the program closes it */
}

static void alloc_cb(uv_handle_t *h, size_t n, uv_buf_t *b) {
  (void)n;
  conn_t *c = (conn_t *)h;
  b->base = g_rbuf[c - g_conns];
  b->len = sizeof g_rbuf[0];
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  (void)b;
  conn_t *c = (conn_t *)s;
  if (nread < 0) {
    uv_close((uv_handle_t *)s, on_closed);
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    if (b->base[i] != '\n') continue;
    task_t *t = calloc(1, sizeof *t);
    t->c = c;
    *g_ready_tail = t;
    g_ready_tail = &t->next;
    /* Started from inside whichever connection's read callback comes first. */
    if (!uv_is_active((uv_handle_t *)&g_sched)) uv_idle_start(&g_sched, run_ready);
  }
}

static void accept_done(uv_fs_t *req) {
  uv_fs_req_cleanup(req);
}

static void on_conn(uv_stream_t *server, int status) {
  if (status != 0) abort();
  conn_t *c = &g_conns[g_nconns++];
  uv_tcp_init(&g_loop, &c->tcp);
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) abort();
  struct sockaddr_storage ss;
  int len = sizeof ss;
  uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len);
  c->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  snprintf(c->path, sizeof c->path, "/nonexistent-uvotel-mech/peer-%d", c->port);
  char path[128];
  snprintf(path, sizeof path, "%s/accept", c->path);
  uv_fs_stat(&g_loop, &c->accept_req, path, accept_done);
  uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
  if (g_nconns == CLIENTS) uv_close((uv_handle_t *)server, on_closed);
}

static void client_written(uv_write_t *w, int status) {
  (void)w, (void)status;
  g_clients_done++;
}

static void client_connected(uv_connect_t *req, int status) {
  if (status != 0) abort();
  client_t *cl = (client_t *)((char *)req - offsetof(client_t, conn));
  for (int i = 0; i < MSGS; i++) strcat(cl->buf, "t\n");
  uv_buf_t b = uv_buf_init(cl->buf, (unsigned)strlen(cl->buf));
  uv_write(&cl->w, (uv_stream_t *)&cl->tcp, &b, 1, client_written);
}

static uv_timer_t g_watch;

static void watch(uv_timer_t *t) {
  if (g_tasks_run < CLIENTS * MSGS || g_clients_done < CLIENTS) return;
  uv_timer_stop(t);
  uv_close((uv_handle_t *)t, on_closed);
  uv_close((uv_handle_t *)&g_sched, on_closed);
  for (int i = 0; i < CLIENTS; i++) uv_close((uv_handle_t *)&g_clients[i].tcp, on_closed);
}

int main(void) {
  alarm(20); /* a hang is a failure, not a stuck test */
  if (uv_loop_init(&g_loop) != 0) return 1;
  uv_tcp_init(&g_loop, &g_server);
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_tcp_bind(&g_server, (struct sockaddr *)&a, 0);
  if (uv_listen((uv_stream_t *)&g_server, 64, on_conn) != 0) return 1;
  int len = sizeof a;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&a, &len);
  uv_idle_init(&g_loop, &g_sched);
  for (int i = 0; i < CLIENTS; i++) {
    uv_tcp_init(&g_loop, &g_clients[i].tcp);
    uv_tcp_connect(&g_clients[i].conn, &g_clients[i].tcp, (struct sockaddr *)&a, client_connected);
  }
  uv_timer_init(&g_loop, &g_watch);
  uv_timer_start(&g_watch, watch, 5, 5);
  uv_run(&g_loop, UV_RUN_DEFAULT);
  printf("connections %d\n", g_nconns);
  printf("tasks %d\n", g_tasks_run);
  int per_conn_ok = 1;
  for (int i = 0; i < CLIENTS; i++) per_conn_ok &= g_conns[i].tasks_done == MSGS;
  printf("tasks per connection %s\n", per_conn_ok ? "ok" : "WRONG");
  printf("closed %d\n", g_closed);
  printf("loop close %d\n", uv_loop_close(&g_loop));
  return 0;
}
