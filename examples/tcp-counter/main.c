/* tcp-counter: seed 002's per-connection-context server, in C on libuv + uvotel.
 *
 * Every connection counts its own messages. The counter is not looked up in a table: it lives
 * in a context variable entered in the connection callback, before uvotel_read_start, so the
 * connection's read and write callbacks (and anything they start) see it, and no other
 * connection does.
 *
 *   tcp-counter [--port P]                       serve on 127.0.0.1:P (default 7070) until killed
 *   tcp-counter --clients N --messages M         serve on an ephemeral port and run N concurrent
 *                                                clients in the same loop; client i sends
 *                                                M - (i % M) lines and checks that the k-th reply
 *                                                is k; prints "N connections, T messages,
 *                                                X mismatches" (T = lines sent in total) and
 *                                                exits 0 only when X is 0.
 * Protocol: one line in, one line out: the number of lines this connection has sent so far. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "uvotel.h"
#include "uvotel/uv.h"

/* ---- the server ---- */

typedef struct conn_state_s {
  int refs;   /* held by the contexts that hold it (value ops below) */
  long count; /* lines received on this connection */
  size_t len; /* partial line */
  char line[64];
} conn_state_t;

static void state_retain(void *v) {
  ((conn_state_t *)v)->refs++;
}

static void state_release(void *v) {
  conn_state_t *s = v;
  if (--s->refs == 0) free(s); /* the last context holding it is gone: the connection is done */
}

static const uvotel_value_ops_t g_state_ops = {.retain = state_retain, .release = state_release};
static uvotel_var_t *g_conn; /* the current connection's state */
static long g_server_misses; /* callbacks that found no state: must stay 0 */
static uv_loop_t *g_loop;

typedef struct write_s {
  uv_write_t req;
  char buf[24];
} write_t;

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf) {
  (void)h;
  static char mem[65536];
  (void)size;
  *buf = uv_buf_init(mem, sizeof mem);
}

static void on_written(uv_write_t *req, int status) {
  (void)status;
  free(req);
}

static void on_conn_closed(uv_handle_t *h) {
  free(h);
}

static void on_server_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  conn_state_t *st = uvotel_var_get(g_conn); /* this connection's own state */
  if (nread < 0) {
    uvotel_close((uv_handle_t *)s, on_conn_closed);
    return;
  }
  if (st == NULL) {
    g_server_misses++;
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    char c = buf->base[i];
    if (c != '\n') {
      if (st->len < sizeof st->line) st->line[st->len++] = c;
      continue;
    }
    st->len = 0;
    st->count++;
    write_t *w = malloc(sizeof *w);
    if (w == NULL) continue;
    int n = snprintf(w->buf, sizeof w->buf, "%ld\n", st->count);
    uv_buf_t b = uv_buf_init(w->buf, (unsigned)n);
    if (uvotel_write(&w->req, s, &b, 1, on_written) != 0) free(w);
  }
}

static void on_connection(uv_stream_t *server, int status) {
  if (status != 0) return;
  uv_tcp_t *conn = malloc(sizeof *conn);
  if (conn == NULL) return;
  uv_tcp_init(g_loop, conn);
  if (uvotel_accept(server, (uv_stream_t *)conn) != 0) {
    uvotel_close((uv_handle_t *)conn, on_conn_closed);
    return;
  }
  conn_state_t *st = calloc(1, sizeof *st);
  uvotel_scope_t scope;
  /* Enter this connection's state: everything registered until the scope exits, the read
   * callback first, runs with it. The context holds the only reference. */
  if (st == NULL || uvotel_var_enter(g_conn, st, &scope) != 0) {
    free(st);
    uvotel_close((uv_handle_t *)conn, on_conn_closed);
    return;
  }
  uvotel_read_start((uv_stream_t *)conn, on_alloc, on_server_read);
  uvotel_scope_exit(&scope);
}

/* ---- the clients ---- */

typedef struct client_s {
  uv_tcp_t tcp;
  uv_connect_t connect;
  uv_write_t write;
  long to_send, sent, acked;
  size_t len;
  char line[32];
} client_t;

static long g_mismatches, g_messages, g_clients_left;
static uv_tcp_t g_server;

static void client_send(client_t *c) {
  static char msg[] = "hello\n";
  uv_buf_t b = uv_buf_init(msg, sizeof msg - 1);
  c->sent++;
  g_messages++;
  if (uvotel_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, NULL) != 0) g_mismatches++;
}

static void on_client_closed(uv_handle_t *h) {
  client_t *c = (client_t *)h;
  if (c->acked != c->to_send) g_mismatches += c->to_send - c->acked;
  if (--g_clients_left == 0) uvotel_close((uv_handle_t *)&g_server, NULL);
}

static void on_client_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  client_t *c = (client_t *)s;
  if (nread < 0) {
    uvotel_close((uv_handle_t *)s, on_client_closed);
    return;
  }
  for (ssize_t i = 0; i < nread; i++) {
    if (buf->base[i] != '\n') {
      if (c->len < sizeof c->line - 1) c->line[c->len++] = buf->base[i];
      continue;
    }
    c->line[c->len] = '\0';
    c->len = 0;
    c->acked++;
    if (strtol(c->line, NULL, 10) != c->acked) g_mismatches++;
    if (c->acked == c->to_send) {
      uvotel_close((uv_handle_t *)s, on_client_closed);
      return;
    }
    client_send(c); /* one line in flight per connection: replies must count up by one */
  }
}

static void on_connected(uv_connect_t *req, int status) {
  client_t *c = (client_t *)req->handle;
  if (status != 0) {
    fprintf(stderr, "connect: %s\n", uv_strerror(status));
    uvotel_close((uv_handle_t *)&c->tcp, on_client_closed);
    return;
  }
  uvotel_read_start((uv_stream_t *)&c->tcp, on_alloc, on_client_read);
  client_send(c);
}

static int usage(void) {
  fprintf(stderr, "usage: tcp-counter [--port P] | --clients N --messages M\n");
  return 2;
}

int main(int argc, char **argv) {
  long clients = 0, messages = 0, port = 7070;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) return usage();
    if (strcmp(argv[i], "--clients") == 0) {
      clients = strtol(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--messages") == 0) {
      messages = strtol(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--port") == 0) {
      port = strtol(argv[++i], NULL, 10);
    } else {
      return usage();
    }
  }
  if (clients < 0 || messages < 0 || (clients > 0) != (messages > 0)) return usage();

  g_conn = uvotel_var_create("connection", NULL, &g_state_ops);
  g_loop = uv_default_loop();
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", clients > 0 ? 0 : (int)port, &addr);
  uv_tcp_init(g_loop, &g_server);
  int err = uv_tcp_bind(&g_server, (const struct sockaddr *)&addr, 0);
  if (err == 0) err = uvotel_listen((uv_stream_t *)&g_server, 1024, on_connection);
  if (err != 0) {
    fprintf(stderr, "listen: %s\n", uv_strerror(err));
    return 1;
  }
  if (clients == 0) {
    printf("tcp-counter listening on 127.0.0.1:%ld\n", port);
    fflush(stdout);
    return uv_run(g_loop, UV_RUN_DEFAULT);
  }

  struct sockaddr_in name;
  int namelen = sizeof name;
  uv_tcp_getsockname(&g_server, (struct sockaddr *)&name, &namelen);
  client_t *cs = calloc((size_t)clients, sizeof *cs);
  if (cs == NULL) return 1;
  g_clients_left = clients;
  for (long i = 0; i < clients; i++) {
    cs[i].to_send = messages - (i % messages); /* a different count per client */
    uv_tcp_init(g_loop, &cs[i].tcp);
    err = uvotel_tcp_connect(&cs[i].connect, &cs[i].tcp, (const struct sockaddr *)&name,
                             on_connected);
    if (err != 0) {
      fprintf(stderr, "connect: %s\n", uv_strerror(err));
      return 1;
    }
  }
  uv_run(g_loop, UV_RUN_DEFAULT);
  g_mismatches += g_server_misses;
  printf("%ld connections, %ld messages, %ld mismatches\n", clients, g_messages, g_mismatches);
  free(cs);
  uvotel_loop_close(g_loop);
  uv_loop_close(g_loop);
  uvotel_var_free(g_conn);
  return g_mismatches == 0 ? 0 : 1;
}
