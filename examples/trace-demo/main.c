/* trace-demo: one root span; under it a timer, a file read, a DNS lookup of localhost, a
 * loopback TCP request to a server in the same process, and work on the thread pool. Each
 * callback starts its span with no explicit parent: the current span is an async-context
 * variable, so every callback sees the span that was current when it was registered.
 * The spans go to the default exporter (OTLP/JSON lines in uvotel-traces.jsonl, or whatever
 * OTEL_TRACES_EXPORTER says) and, through a memory exporter, into the tree printed at exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvotel.h>
#include <uvotel/exporters/memory.h>
#include <uvotel/uv.h>

static uv_loop_t *loop;
static uvotel_tracer_t *tracer;
static uvotel_span_t *root;
static int pending; /* operations still running; the root span ends when none are left */

static void op_done(void) {
  if (--pending == 0) uvotel_span_end(root);
}

/* ---- timer ---- */

static uv_timer_t timer;

static void on_timer(uv_timer_t *t) {
  uvotel_span_t *s = uvotel_span_start(tracer, "timer fired", NULL); /* child of the root */
  uvotel_span_set_attribute_int(s, "timer.timeout_ms", 20);
  uvotel_span_end(s);
  uvotel_close((uv_handle_t *)t, NULL);
  op_done();
}

/* ---- file read ---- */

typedef struct file_op_s {
  uv_fs_t req;
  uvotel_span_t *span; /* "read file", current while its requests are registered */
  uv_file fd;
  char buf[4096];
  ssize_t total;
} file_op_t;
static file_op_t file_op;

static void on_close(uv_fs_t *req) {
  uvotel_fs_req_cleanup(req);
  uvotel_span_end(file_op.span);
  op_done();
}

static void on_read(uv_fs_t *req) {
  ssize_t n = req->result;
  uvotel_fs_req_cleanup(req);
  uvotel_span_t *s = uvotel_span_start(tracer, "fs.read done", NULL); /* child of "read file" */
  uvotel_span_set_attribute_int(s, "fs.bytes", n);
  uvotel_span_end(s);
  if (n > 0) file_op.total += n;
  uvotel_span_set_attribute_int(file_op.span, "file.size", file_op.total);
  uvotel_fs_close(loop, &file_op.req, file_op.fd, on_close);
}

static void on_open(uv_fs_t *req) {
  int fd = (int)req->result;
  uvotel_fs_req_cleanup(req);
  if (fd < 0) {
    uvotel_span_set_status(file_op.span, UVOTEL_STATUS_ERROR, uv_strerror(fd));
    uvotel_span_end(file_op.span);
    op_done();
    return;
  }
  file_op.fd = fd;
  uv_buf_t b = uv_buf_init(file_op.buf, sizeof file_op.buf);
  uvotel_fs_read(loop, &file_op.req, fd, &b, 1, 0, on_read); /* still inside "read file" */
}

static void start_file_read(const char *path) {
  uvotel_span_t *s = uvotel_span_start(tracer, "read file", NULL);
  uvotel_span_set_attribute_str(s, "file.path", path);
  file_op.span = s;
  uvotel_scope_t sc;
  uvotel_span_enter(s, &sc); /* callbacks registered in here are its children */
  int rc = uvotel_fs_open(loop, &file_op.req, path, UV_FS_O_RDONLY, 0, on_open);
  uvotel_scope_exit(&sc);
  if (rc != 0) {
    uvotel_span_set_status(s, UVOTEL_STATUS_ERROR, uv_strerror(rc));
    uvotel_span_end(s);
    op_done();
  }
}

/* ---- DNS ---- */

static uv_getaddrinfo_t dns_req;
static uvotel_span_t *dns_span;

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  (void)req;
  if (status == 0 && res != NULL) {
    char addr[64] = "";
    if (res->ai_family == AF_INET) {
      uv_ip4_name((struct sockaddr_in *)res->ai_addr, addr, sizeof addr);
    } else {
      uv_ip6_name((struct sockaddr_in6 *)res->ai_addr, addr, sizeof addr);
    }
    const char *answers[] = {addr}; /* dns.answers: the resolved addresses */
    uvotel_attribute_t a = UVOTEL_ATTR_STR_ARRAY("dns.answers", answers, 1);
    uvotel_span_set_attribute(dns_span, &a);
  } else {
    uvotel_span_set_status(dns_span, UVOTEL_STATUS_ERROR, uv_strerror(status));
  }
  uv_freeaddrinfo(res);
  uvotel_span_add_event(uvotel_current_span(), "resolved", NULL, 0); /* current = dns_span */
  uvotel_span_end(dns_span);
  op_done();
}

static void start_dns(void) {
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_CLIENT;
  dns_span = uvotel_span_start(tracer, "dns.lookup localhost", &so);
  uvotel_span_set_attribute_str(dns_span, "dns.question.name", "localhost");
  uvotel_scope_t sc;
  uvotel_span_enter(dns_span, &sc);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int rc = uvotel_getaddrinfo(loop, &dns_req, on_resolved, "localhost", NULL, &hints);
  uvotel_scope_exit(&sc);
  if (rc != 0) {
    uvotel_span_set_status(dns_span, UVOTEL_STATUS_ERROR, uv_strerror(rc));
    uvotel_span_end(dns_span);
    op_done();
  }
}

/* ---- TCP: a server and a client in the same process. The client sends its span's ids in the
 * request (a hand-rolled stand-in for a traceparent header), so the server span is its child. */

static uv_tcp_t server, client, conn;
static uv_connect_t connect_req;
static uv_write_t client_write, server_write;
static char client_msg[64], server_in[128], client_in[128];
static size_t server_in_n, client_in_n;
static uvotel_span_t *client_span;
static int closed_handles;

static void alloc_buf(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)suggested;
  static char storage[2][256];
  *buf = uv_buf_init(storage[h == (uv_handle_t *)&conn ? 0 : 1], 256);
}

static void on_tcp_closed(uv_handle_t *h) {
  (void)h;
  if (++closed_handles == 3) op_done(); /* server, accepted conn, client */
}

static int hexbytes(const char *hex, uint8_t *out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
    out[i] = (uint8_t)v;
  }
  return 0;
}

static void on_server_wrote(uv_write_t *req, int status) {
  (void)req, (void)status;
  uvotel_span_t *s = uvotel_current_span(); /* the server span: current at uvotel_write */
  uvotel_span_end(s);
  uvotel_close((uv_handle_t *)&conn, on_tcp_closed);
  uvotel_close((uv_handle_t *)&server, on_tcp_closed);
}

static void on_server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n <= 0) return;
  size_t room = sizeof server_in - 1 - server_in_n; /* the request is one short line */
  size_t take = (size_t)n < room ? (size_t)n : room;
  memcpy(server_in + server_in_n, buf->base, take);
  server_in_n += take;
  if (server_in_n < 4 + 32 + 1 + 16 || memchr(server_in, '\n', server_in_n) == NULL) return;
  uvotel_read_stop(s);
  /* "ping <trace-id>-<span-id>\n" */
  uvotel_span_context_t parent;
  memset(&parent, 0, sizeof parent);
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  if (hexbytes(server_in + 5, parent.trace_id.bytes, 16) == 0 &&
      hexbytes(server_in + 38, parent.span_id.bytes, 8) == 0) {
    parent.flags = UVOTEL_TRACE_FLAG_SAMPLED;
    parent.is_remote = 1;
    so.parent_context = &parent;
  }
  uvotel_span_t *span = uvotel_span_start(tracer, "tcp.serve ping", &so);
  uvotel_span_set_attribute_int(span, "demo.request.bytes", (int64_t)server_in_n);
  struct sockaddr_in peer;
  int plen = sizeof peer;
  if (uv_tcp_getpeername((uv_tcp_t *)s, (struct sockaddr *)&peer, &plen) == 0) {
    char ip[64];
    uv_ip4_name(&peer, ip, sizeof ip);
    uvotel_span_set_attribute_str(span, "client.address", ip);
    uvotel_span_set_attribute_int(span, "client.port", ntohs(peer.sin_port));
    uvotel_span_set_attribute_str(span, "network.peer.address", ip);
    uvotel_span_set_attribute_int(span, "network.peer.port", ntohs(peer.sin_port));
  }
  uvotel_scope_t sc;
  uvotel_span_enter(span, &sc);
  uv_buf_t b = uv_buf_init("pong\n", 5);
  uvotel_write(&server_write, s, &b, 1, on_server_wrote);
  uvotel_scope_exit(&sc);
}

static void on_connection(uv_stream_t *srv, int status) {
  if (status != 0) return;
  uvotel_tcp_init(loop, &conn);
  if (uvotel_accept(srv, (uv_stream_t *)&conn) == 0) {
    uvotel_read_start((uv_stream_t *)&conn, alloc_buf, on_server_read);
  }
}

static void on_client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  if (n > 0) {
    size_t room = sizeof client_in - 1 - client_in_n;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(client_in + client_in_n, buf->base, take);
    client_in_n += take;
    if (memchr(client_in, '\n', client_in_n) == NULL) return;
    uvotel_span_add_event(client_span, "response", NULL, 0);
    uvotel_span_set_attribute_int(client_span, "demo.response.bytes", (int64_t)client_in_n);
  } else {
    uvotel_span_set_status(client_span, UVOTEL_STATUS_ERROR, uv_strerror((int)n));
  }
  uvotel_read_stop(s);
  uvotel_span_end(client_span);
  uvotel_close((uv_handle_t *)s, on_tcp_closed);
}

static void on_client_wrote(uv_write_t *req, int status) {
  (void)req, (void)status;
}

static void on_connected(uv_connect_t *req, int status) {
  if (status != 0) {
    uvotel_span_set_status(client_span, UVOTEL_STATUS_ERROR, uv_strerror(status));
    uvotel_span_end(client_span);
    uvotel_close((uv_handle_t *)req->handle, on_tcp_closed);
    uvotel_close((uv_handle_t *)&server, on_tcp_closed);
    uvotel_close((uv_handle_t *)&conn, on_tcp_closed); /* never accepted: only initialised */
    return;
  }
  uvotel_span_context_t sc = uvotel_span_context(client_span);
  char tid[33], sid[17];
  snprintf(client_msg, sizeof client_msg, "ping %s-%s\n", uvotel_trace_id_to_hex(&sc.trace_id, tid),
           uvotel_span_id_to_hex(&sc.span_id, sid));
  uv_buf_t b = uv_buf_init(client_msg, (unsigned)strlen(client_msg));
  uvotel_write(&client_write, req->handle, &b, 1, on_client_wrote);
  uvotel_read_start(req->handle, alloc_buf, on_client_read);
}

static void start_tcp(void) {
  uvotel_tcp_init(loop, &server);
  struct sockaddr_in addr;
  uv_ip4_addr("127.0.0.1", 0, &addr);
  uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
  int len = sizeof addr;
  uv_tcp_getsockname(&server, (struct sockaddr *)&addr, &len);
  uvotel_listen((uv_stream_t *)&server, 8, on_connection);
  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_CLIENT;
  client_span = uvotel_span_start(tracer, "tcp.request ping", &so);
  /* current names (semantic conventions): server.* is the logical server, network.peer.* the
   * socket's other end (the same here); net.peer.ip / net.peer.port are deprecated */
  uvotel_span_set_attribute_str(client_span, "server.address", "127.0.0.1");
  uvotel_span_set_attribute_int(client_span, "server.port", ntohs(addr.sin_port));
  uvotel_span_set_attribute_str(client_span, "network.peer.address", "127.0.0.1");
  uvotel_span_set_attribute_int(client_span, "network.peer.port", ntohs(addr.sin_port));
  uvotel_span_set_attribute_str(client_span, "network.transport", "tcp");
  uvotel_span_set_attribute_str(client_span, "network.type", "ipv4");
  uvotel_scope_t sc;
  uvotel_span_enter(client_span, &sc);
  uvotel_tcp_init(loop, &client);
  uvotel_tcp_connect(&connect_req, &client, (const struct sockaddr *)&addr, on_connected);
  uvotel_scope_exit(&sc);
}

/* ---- thread-pool work ---- */

static uv_work_t work_req;
static uint64_t work_result;

static void do_work(uv_work_t *req) {
  (void)req;
  /* on a pool thread, in the submitter's context: this span is a child of the root */
  uvotel_span_t *s = uvotel_span_start(tracer, "work: sum of squares", NULL);
  volatile uint64_t sum = 0;
  for (uint64_t i = 0; i < 2000000; i++) sum += i * i;
  work_result = sum;
  uvotel_span_set_attribute_int(s, "work.n", 2000000);
  uvotel_span_end(s);
}

static void after_work(uv_work_t *req, int status) {
  (void)req, (void)status;
  op_done();
}

/* ---- the tree printed at exit ---- */

static void print_tree(uvotel_memory_exporter_t *mem, const uvotel_span_id_t *parent, int depth,
                       uint64_t t0) {
  size_t n = uvotel_memory_exporter_count(mem);
  for (size_t i = 0; i < n; i++) {
    const uvotel_span_data_t *d = uvotel_memory_exporter_get(mem, i);
    uvotel_span_id_t pid = uvotel_span_data_parent_span_id(d);
    int is_child =
        parent == NULL ? uvotel_span_id_is_zero(&pid) : memcmp(pid.bytes, parent->bytes, 8) == 0;
    if (!is_child) continue;
    uvotel_span_context_t c = uvotel_span_data_context(d);
    char sid[17];
    uint64_t st = uvotel_span_data_start_unix_ns(d), en = uvotel_span_data_end_unix_ns(d);
    if (t0 == 0) t0 = st;
    printf("%*s%s %-28s %-8s +%7.3f ms  %8.3f ms%s\n", depth * 2, "",
           uvotel_span_id_to_hex(&c.span_id, sid), uvotel_span_data_name(d),
           uvotel_span_kind_name(uvotel_span_data_kind(d)), (double)(st - t0) / 1e6,
           (double)(en - st) / 1e6,
           uvotel_span_data_parent_is_remote(d) ? "  (remote parent)" : "");
    print_tree(mem, &c.span_id, depth + 1, t0);
  }
}

/* A millisecond count from the environment, or def. */
static uint64_t env_ms(const char *name, uint64_t def) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0') return def;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  return *end == '\0' && x > 0 ? (uint64_t)x : def;
}

/* The longest one export may take: the smaller of the OTLP timeout (10 s) and the batch
 * processor's export timeout (30 s), plus a second for the last answer to come back. */
static uint64_t shutdown_deadline_ms(void) {
  uint64_t otlp =
      env_ms("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", env_ms("OTEL_EXPORTER_OTLP_TIMEOUT", 10000));
  uint64_t bsp = env_ms("OTEL_BSP_EXPORT_TIMEOUT", 30000);
  return (otlp < bsp ? otlp : bsp) + 1000;
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : argv[0];
  loop = uv_default_loop();

  /* The environment's configuration (default: the file exporter), plus a memory exporter so
   * the tree can be printed at the end. */
  uvotel_memory_exporter_t *mem = uvotel_memory_exporter_create(0);
  uvotel_span_processor_t *tree =
      uvotel_simple_span_processor_create(uvotel_memory_exporter_exporter(mem));
  uvotel_attribute_t res[] = {UVOTEL_ATTR_STR("service.name", "trace-demo")};
  uvotel_tracer_provider_options_t base = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  base.loop = loop;
  base.processors = &tree;
  base.n_processors = 1;
  base.resource_attrs = res;
  base.n_resource_attrs = 1;
  /* An OTLP endpoint in the environment means "send there" (the provider's default then is
   * otlp), unless OTEL_TRACES_EXPORTER says otherwise. */
  uvotel_tracer_provider_t *provider = uvotel_tracer_provider_from_env_with(&base);
  if (provider == NULL) return 1;
  tracer = uvotel_tracer_get(provider, "trace-demo", UVOTEL_VERSION_STRING);

  uvotel_span_options_t so = UVOTEL_SPAN_OPTIONS_INIT;
  so.kind = UVOTEL_SPAN_KIND_SERVER;
  root = uvotel_span_start(tracer, "demo", &so);
  uvotel_scope_t scope;
  uvotel_span_enter(root, &scope);
  pending = 5;
  uv_update_time(loop); /* the timer counts from now, not from when the loop was created */
  uv_timer_init(loop, &timer);
  uvotel_timer_start(&timer, on_timer, 20, 0);
  start_file_read(path);
  start_dns();
  start_tcp();
  uvotel_queue_work(loop, &work_req, do_work, after_work);
  uvotel_scope_exit(&scope);

  uv_run(loop, UV_RUN_DEFAULT);

  /* The deadline covers the exporter's whole retry schedule: no OTLP retry starts after the
   * batch's export timeout, so waiting that long plus a margin lets a collector that answers
   * 503 a few times still get every span. */
  int rc = uvotel_tracer_provider_shutdown(provider, shutdown_deadline_ms());
  uvotel_trace_counters_t c;
  uvotel_tracer_provider_counters(provider, &c);
  printf(
      "span tree (%llu spans; across all exporters %llu exported, %llu dropped, %llu failed; "
      "shutdown: %s)\n",
      (unsigned long long)c.ended, (unsigned long long)c.exported, (unsigned long long)c.dropped,
      (unsigned long long)c.failed, uvotel_strerror(rc));
  print_tree(mem, NULL, 0, 0);
  const char *exp = getenv("OTEL_TRACES_EXPORTER");
  int otlp_default = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != NULL ||
                     getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != NULL;
  if (exp == NULL ? !otlp_default : strstr(exp, "file") != NULL) {
    const char *out = getenv("OTEL_EXPORTER_FILE_PATH");
    printf("OTLP/JSON written to %s\n", out != NULL ? out : "uvotel-traces.jsonl");
  }
  if (exp == NULL ? otlp_default : strstr(exp, "otlp") != NULL) {
    printf(rc == 0 ? "spans delivered over OTLP/HTTP\n"
                   : "spans NOT all delivered over OTLP/HTTP (see the diagnostics)\n");
  }
  uvotel_tracer_provider_free(provider);
  uv_run(loop, UV_RUN_DEFAULT);
  uvotel_memory_exporter_free(mem);
  return uvotel_uv_loop_close(loop) == 0 && rc == 0 && c.failed == 0 ? 0 : 1;
}
