/* Automatic spans from the wrappers (uvotel/uv_spans.h).
 *
 * The wrappers test one process-wide word (uvotel__auto_cats) and call in here only when their
 * category is on; the span lives on the request's state (uvotel__hs_t.span) between the
 * wrapper and the completion trampoline, which ends it before the user's callback runs. */
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "uvotel/uv_spans.h"

unsigned uvotel__auto_cats;

/* The settings, written by enable/disable (any thread) and read by wrappers on every loop
 * thread: a seqlock, so a reader never sees a tracer from one call and a flag or callback/arg
 * pair from another. Readers copy four words on the out-of-line path only. */
typedef struct settings_s {
  uvotel_tracer_t *tracer;
  unsigned flags;
  uvotel_accept_span_cb on_accept;
  void *on_accept_arg;
} settings_t;

static settings_t g_set;
static unsigned g_seq; /* odd while a writer is in the middle */
static pthread_mutex_t g_set_mu = PTHREAD_MUTEX_INITIALIZER;

/* A seqlock without standalone fences (which ThreadSanitizer cannot model): the writer stores
 * each field with release, so the odd sequence number is visible before any new field; the
 * reader loads each field with acquire, so its second look at the sequence number cannot move
 * before them. A reader that saw any new field therefore sees the number changed and retries. */
static void settings_write(const settings_t *n) {
  pthread_mutex_lock(&g_set_mu);
  unsigned seq = __atomic_load_n(&g_seq, __ATOMIC_RELAXED);
  __atomic_store_n(&g_seq, seq + 1, __ATOMIC_RELAXED);
  __atomic_store_n(&g_set.tracer, n->tracer, __ATOMIC_RELEASE);
  __atomic_store_n(&g_set.flags, n->flags, __ATOMIC_RELEASE);
  __atomic_store_n(&g_set.on_accept, n->on_accept, __ATOMIC_RELEASE);
  __atomic_store_n(&g_set.on_accept_arg, n->on_accept_arg, __ATOMIC_RELEASE);
  __atomic_store_n(&g_seq, seq + 2, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&g_set_mu);
}

static settings_t settings_read(void) {
  settings_t r;
  for (;;) {
    unsigned s1 = __atomic_load_n(&g_seq, __ATOMIC_ACQUIRE);
    if (s1 & 1u) continue;
    r.tracer = __atomic_load_n(&g_set.tracer, __ATOMIC_ACQUIRE);
    r.flags = __atomic_load_n(&g_set.flags, __ATOMIC_ACQUIRE);
    r.on_accept = __atomic_load_n(&g_set.on_accept, __ATOMIC_ACQUIRE);
    r.on_accept_arg = __atomic_load_n(&g_set.on_accept_arg, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&g_seq, __ATOMIC_RELAXED) == s1) return r;
  }
}

/* Scopes entered by uvotel_accept inside the current connection callback (exited, innermost
 * first, when the callback returns). */
#define MAX_ACCEPT_SCOPES 16
UVOTEL__TLS int uvotel__auto_in_conn_cb;
static UVOTEL__TLS int g_nscopes;
static UVOTEL__TLS uvotel_scope_t g_scopes[MAX_ACCEPT_SCOPES];

/* ---- configuration ---- */

UVOTEL__API int uvotel_auto_spans_enable(const uvotel_auto_spans_options_t *opts) {
  if (opts == NULL || (opts->categories & ~UVOTEL_INSTRUMENT_ALL) != 0) return UVOTEL_EINVAL;
  if (opts->categories == 0) {
    uvotel_auto_spans_disable();
    return 0;
  }
  uvotel_tracer_t *tracer = opts->tracer;
  if (tracer == NULL) tracer = uvotel_global_tracer("uvotel.uv", UVOTEL_VERSION_STRING);
  if (tracer == NULL) return UVOTEL_ENOMEM;
  settings_t n = {tracer, opts->flags, opts->on_accept, opts->on_accept_arg};
  settings_write(&n);
  /* The wrappers only reach their tracked path (where the span is kept) while tracking. */
  __atomic_store_n(&uvotel__tracking, 1, __ATOMIC_RELAXED);
  __atomic_store_n(&uvotel__auto_cats, opts->categories, __ATOMIC_RELEASE);
  return 0;
}

UVOTEL__API void uvotel_auto_spans_disable(void) {
  __atomic_store_n(&uvotel__auto_cats, 0u, __ATOMIC_RELEASE);
  settings_t n = settings_read();
  n.on_accept = NULL;
  n.on_accept_arg = NULL;
  settings_write(&n);
}

UVOTEL__API unsigned uvotel_auto_spans_categories(void) {
  return __atomic_load_n(&uvotel__auto_cats, __ATOMIC_RELAXED);
}

UVOTEL__API int uvotel_instrument_parse(const char *spec, unsigned *out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = 0;
  if (spec == NULL) return 0;
  unsigned bits = 0;
  static const char *const names[] = {"none", "fs",      "dns", "net",  "udp",
                                      "pipe", "process", "all", "http", NULL};
  static const unsigned values[] = {0,
                                    UVOTEL_INSTRUMENT_FS,
                                    UVOTEL_INSTRUMENT_DNS,
                                    UVOTEL_INSTRUMENT_NET,
                                    UVOTEL_INSTRUMENT_UDP,
                                    UVOTEL_INSTRUMENT_PIPE,
                                    UVOTEL_INSTRUMENT_PROCESS,
                                    UVOTEL_INSTRUMENT_ALL,
                                    UVOTEL_INSTRUMENT_HTTP};
  const char *cur = spec, *item;
  size_t n;
  while (uvotel_env_list_next(&cur, &item, &n)) {
    int i = uvotel_env_name_index(item, n, names);
    if (i < 0) return UVOTEL_EPARSE;
    bits |= values[i];
  }
  *out = bits;
  return 0;
}

UVOTEL__API int uvotel_auto_spans_enable_from_env(uvotel_tracer_t *tracer, unsigned flags) {
  unsigned cats;
  int err = uvotel_instrument_parse(uvotel_env_get("UVOTEL_INSTRUMENT"), &cats);
  if (err != 0) return err;
  if (cats == 0) return 0;
  uvotel_auto_spans_options_t o = UVOTEL_AUTO_SPANS_OPTIONS_INIT;
  o.tracer = tracer;
  o.categories = cats;
  o.flags = flags;
  return uvotel_auto_spans_enable(&o);
}

/* ---- helpers ---- */

/* Start a span unless it would be a root span and roots are not wanted. */
static uvotel_span_t *start(const char *name, uvotel_span_kind_t kind) {
  settings_t st = settings_read();
  if (!(st.flags & UVOTEL_AUTO_SPANS_ROOTS)) {
    uvotel_span_t *cur = uvotel_current_span();
    if (cur == NULL) return NULL;
    uvotel_span_context_t sc = uvotel_span_context(cur);
    if (!uvotel_span_context_is_valid(&sc)) return NULL;
  }
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = kind;
  return uvotel_span_start(st.tracer, name, &o);
}

static void set_error(uvotel_span_t *span, int status) {
  uvotel_span_set_attribute_str(span, "error.type", uv_err_name(status));
  uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, uv_strerror(status));
}

/* Address and port of a sockaddr; 0 and "" for families other than IPv4/IPv6. */
static int sockaddr_str(const struct sockaddr *sa, char *ip, size_t cap, int *port,
                        const char **type) {
  ip[0] = '\0';
  *port = 0;
  *type = NULL;
  if (sa == NULL) return -1;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    if (uv_ip4_name(in, ip, cap) != 0) return -1;
    *port = ntohs(in->sin_port);
    *type = "ipv4";
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (uv_ip6_name(in6, ip, cap) != 0) return -1;
    *port = ntohs(in6->sin6_port);
    *type = "ipv6";
    return 0;
  }
  return -1;
}

static void set_peer(uvotel_span_t *span, const struct sockaddr *peer, const char *addr_key,
                     const char *port_key) {
  char ip[64];
  int port;
  const char *type;
  if (sockaddr_str(peer, ip, sizeof ip, &port, &type) != 0) return;
  uvotel_span_set_attribute_str(span, "network.type", type);
  uvotel_span_set_attribute_str(span, addr_key, ip);
  uvotel_span_set_attribute_int(span, port_key, port);
}

/* ---- fs ---- */

static const char *fs_op(uv_fs_type t) {
  switch (t) {
    case UV_FS_OPEN:
      return "fs open";
    case UV_FS_CLOSE:
      return "fs close";
    case UV_FS_READ:
      return "fs read";
    case UV_FS_WRITE:
      return "fs write";
    case UV_FS_SENDFILE:
      return "fs sendfile";
    case UV_FS_STAT:
      return "fs stat";
    case UV_FS_LSTAT:
      return "fs lstat";
    case UV_FS_FSTAT:
      return "fs fstat";
    case UV_FS_FTRUNCATE:
      return "fs ftruncate";
    case UV_FS_UTIME:
      return "fs utime";
    case UV_FS_FUTIME:
      return "fs futime";
    case UV_FS_ACCESS:
      return "fs access";
    case UV_FS_CHMOD:
      return "fs chmod";
    case UV_FS_FCHMOD:
      return "fs fchmod";
    case UV_FS_FSYNC:
      return "fs fsync";
    case UV_FS_FDATASYNC:
      return "fs fdatasync";
    case UV_FS_UNLINK:
      return "fs unlink";
    case UV_FS_RMDIR:
      return "fs rmdir";
    case UV_FS_MKDIR:
      return "fs mkdir";
    case UV_FS_MKDTEMP:
      return "fs mkdtemp";
    case UV_FS_RENAME:
      return "fs rename";
    case UV_FS_SCANDIR:
      return "fs scandir";
    case UV_FS_LINK:
      return "fs link";
    case UV_FS_SYMLINK:
      return "fs symlink";
    case UV_FS_READLINK:
      return "fs readlink";
    case UV_FS_CHOWN:
      return "fs chown";
    case UV_FS_FCHOWN:
      return "fs fchown";
    case UV_FS_REALPATH:
      return "fs realpath";
    case UV_FS_COPYFILE:
      return "fs copyfile";
    case UV_FS_LCHOWN:
      return "fs lchown";
    case UV_FS_OPENDIR:
      return "fs opendir";
    case UV_FS_READDIR:
      return "fs readdir";
    case UV_FS_CLOSEDIR:
      return "fs closedir";
    case UV_FS_STATFS:
      return "fs statfs";
    case UV_FS_MKSTEMP:
      return "fs mkstemp";
    case UV_FS_LUTIME:
      return "fs lutime";
    default:
      return "fs unknown";
  }
}

uvotel_span_t *uvotel__auto_fs_start(const uv_fs_t *req) {
  uvotel_span_t *span = start(fs_op(req->fs_type), UVOTEL_SPAN_KIND_INTERNAL);
  if (span == NULL) return NULL;
  /* libuv keeps its own copy of the path(s) in the request until uv_fs_req_cleanup. */
  if (req->path != NULL) uvotel_span_set_attribute_str(span, "file.path", req->path);
  if (req->new_path != NULL)
    uvotel_span_set_attribute_str(span, "uvotel.fs.new_path", req->new_path);
  return span;
}

void uvotel__auto_fs_begin(uvotel__hs_t *s, const uv_fs_t *req) {
  uvotel__auto_drop(s);
  s->span = uvotel__auto_fs_start(req);
}

void uvotel__auto_fs_end(uvotel_span_t *span, const uv_fs_t *req) {
  if (req->result < 0) set_error(span, (int)req->result);
  uvotel_span_end(span);
}

/* ---- dns ---- */

void uvotel__auto_lookup_begin(uvotel__hs_t *s, const char *node) {
  uvotel__auto_drop(s);
  uvotel_span_t *span = start("dns lookup", UVOTEL_SPAN_KIND_CLIENT);
  if (span == NULL) return;
  if (node != NULL) uvotel_span_set_attribute_str(span, "dns.question.name", node);
  s->span = span;
}

#define MAX_ANSWERS 16

void uvotel__auto_lookup_end(uvotel_span_t *span, int status, const struct addrinfo *res) {
  if (status < 0) {
    set_error(span, status);
  } else {
    /* getaddrinfo returns one entry per socket type: keep each address once. */
    char ips[MAX_ANSWERS][64];
    const char *list[MAX_ANSWERS];
    uint32_t n = 0;
    for (const struct addrinfo *ai = res; ai != NULL && n < MAX_ANSWERS; ai = ai->ai_next) {
      int port;
      const char *type;
      if (sockaddr_str(ai->ai_addr, ips[n], sizeof ips[n], &port, &type) != 0) continue;
      uint32_t k;
      for (k = 0; k < n && strcmp(ips[k], ips[n]) != 0; k++) {
      }
      if (k == n) {
        list[n] = ips[n];
        n++;
      }
    }
    if (n > 0) {
      uvotel_attribute_t a = UVOTEL_ATTR_STR_ARRAY("dns.answers", list, n);
      uvotel_span_set_attribute(span, &a);
    }
  }
  uvotel_span_end(span);
}

void uvotel__auto_reverse_begin(uvotel__hs_t *s, const struct sockaddr *addr) {
  uvotel__auto_drop(s);
  uvotel_span_t *span = start("dns reverse", UVOTEL_SPAN_KIND_CLIENT);
  if (span == NULL) return;
  char ip[64];
  int port;
  const char *type;
  if (sockaddr_str(addr, ip, sizeof ip, &port, &type) == 0) {
    uvotel_span_set_attribute_str(span, "dns.question.name", ip);
  }
  s->span = span;
}

void uvotel__auto_reverse_end(uvotel_span_t *span, int status, const char *hostname) {
  if (status < 0) {
    set_error(span, status);
  } else if (hostname != NULL) {
    const char *list[1] = {hostname};
    uvotel_attribute_t a = UVOTEL_ATTR_STR_ARRAY("dns.answers", list, 1);
    uvotel_span_set_attribute(span, &a);
  }
  uvotel_span_end(span);
}

/* ---- net ---- */

void uvotel__auto_connect_begin(uvotel__hs_t *s, const struct sockaddr *addr) {
  uvotel__auto_drop(s);
  uvotel_span_t *span = start("tcp connect", UVOTEL_SPAN_KIND_CLIENT);
  if (span == NULL) return;
  uvotel_span_set_attribute_str(span, "network.transport", "tcp");
  set_peer(span, addr, "network.peer.address", "network.peer.port");
  set_peer(span, addr, "server.address", "server.port");
  s->span = span;
}

void uvotel__auto_status_end(uvotel_span_t *span, int status) {
  if (status < 0) set_error(span, status);
  uvotel_span_end(span);
}

void uvotel__auto_accept(uvotel__hs_t *cs, uv_stream_t *server, uv_stream_t *client) {
  settings_t st = settings_read();
  if (st.on_accept == NULL || !uvotel__auto_in_conn_cb) return;
  uvotel__auto_drop(cs);
  uvotel_span_t *span = st.on_accept(server, client, st.on_accept_arg);
  if (span == NULL) return;
  cs->span = span;
  if (g_nscopes < MAX_ACCEPT_SCOPES && uvotel_span_enter(span, &g_scopes[g_nscopes]) == 0) {
    g_nscopes++;
  }
}

void uvotel__auto_conn_cb_done(void) {
  while (g_nscopes > 0) {
    g_nscopes--;
    (void)uvotel_scope_exit(&g_scopes[g_nscopes]);
  }
}

uvotel_tracer_t *uvotel__auto_tracer(void) {
  return settings_read().tracer;
}

int uvotel__auto_roots(void) {
  return (settings_read().flags & UVOTEL_AUTO_SPANS_ROOTS) != 0;
}

void uvotel__auto_drop(uvotel__hs_t *s) {
  if (UVOTEL__LIKELY(s->span == NULL)) return;
  /* A connection a detector followed is told by its requests' spans: its accept span only
   * stays when something was started under it (so no child points at a missing parent). */
  if (UVOTEL__UNLIKELY(s->proto != NULL) && uvotel__proto_followed(s) &&
      !uvotel__span_has_children(s->span)) {
    (void)uvotel__span_discard(s->span);
  } else {
    uvotel_span_end(s->span);
  }
  s->span = NULL;
}

/* ---- udp ---- */

void uvotel__auto_udp_send_begin(uvotel__hs_t *s, uv_udp_t *h, const struct sockaddr *addr) {
  uvotel__auto_drop(s);
  /* CLIENT side only: a datagram sent outside any trace (a server's reply under the preload,
   * say) makes no root span, whatever UVOTEL_AUTO_SPANS_ROOTS says. */
  uvotel_span_t *cur = uvotel_current_span();
  uvotel_span_context_t sc = uvotel_span_context(cur);
  if (!uvotel_span_context_is_valid(&sc)) return;
  settings_t st = settings_read();
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_CLIENT;
  uvotel_span_t *span = uvotel_span_start(st.tracer, "udp send", &o);
  uvotel_span_set_attribute_str(span, "network.transport", "udp");
  struct sockaddr_storage ss;
  if (addr == NULL) { /* a connected socket: its peer */
    int len = sizeof ss;
    if (uv_udp_getpeername(h, (struct sockaddr *)&ss, &len) == 0) addr = (struct sockaddr *)&ss;
  }
  set_peer(span, addr, "network.peer.address", "network.peer.port");
  set_peer(span, addr, "server.address", "server.port");
  s->span = span;
}

/* ---- pipe ---- */

void uvotel__auto_pipe_connect_begin(uvotel__hs_t *s, const char *path) {
  uvotel__auto_drop(s);
  uvotel_span_t *span = start("pipe connect", UVOTEL_SPAN_KIND_CLIENT);
  if (span == NULL) return;
  uvotel_span_set_attribute_str(span, "network.transport", "unix");
  if (path != NULL) uvotel_span_set_attribute_str(span, "network.peer.address", path);
  s->span = span;
}

/* ---- process ---- */

#define ARGS_MAX 64         /* process.command_args: at most this many arguments */
#define ARGS_CHARS_MAX 1024 /* and this many characters in all (the rest is dropped) */

void uvotel__auto_process_begin(uvotel__hs_t *s, const uv_process_options_t *o) {
  uvotel__auto_drop(s);
  const char *file = o->file != NULL ? o->file : "";
  const char *base = strrchr(file, '/');
  base = base != NULL ? base + 1 : file;
  char name[96];
  snprintf(name, sizeof name, "spawn %s", base);
  uvotel_span_t *span = start(name, UVOTEL_SPAN_KIND_CLIENT);
  if (span == NULL) return;
  uvotel_span_set_attribute_str(span, "process.executable.name", base);
  uvotel_span_set_attribute_str(span, "process.executable.path", file);
  if (o->args != NULL) {
    const char *list[ARGS_MAX];
    uint32_t n = 0;
    size_t chars = 0;
    for (; o->args[n] != NULL && n < ARGS_MAX; n++) {
      chars += strlen(o->args[n]);
      if (chars > ARGS_CHARS_MAX) break;
      list[n] = o->args[n];
    }
    uvotel_attribute_t a = UVOTEL_ATTR_STR_ARRAY("process.command_args", list, n);
    uvotel_span_set_attribute(span, &a);
    if (o->args[n] != NULL)
      uvotel_span_set_attribute_bool(span, "uvotel.process.args_truncated", 1);
  }
  s->span = span;
}

void uvotel__auto_process_pid(uvotel_span_t *span, int pid) {
  uvotel_span_set_attribute_int(span, "process.pid", pid);
}

void uvotel__auto_process_end(uvotel_span_t *span, int64_t exit_status, int term_signal) {
  uvotel_span_set_attribute_int(span, "process.exit.code", exit_status);
  if (term_signal != 0) {
    char d[48];
    snprintf(d, sizeof d, "killed by signal %d", term_signal);
    uvotel_span_set_attribute_int(span, "uvotel.process.term_signal", term_signal);
    uvotel_span_set_attribute_str(span, "error.type", "signal");
    uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, d);
  } else if (exit_status != 0) {
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)exit_status);
    uvotel_span_set_attribute_str(span, "error.type", t);
    uvotel_span_set_status(span, UVOTEL_STATUS_ERROR, NULL);
  }
  uvotel_span_end(span);
}

/* ---- accept ---- */

static uvotel_span_t *pipe_accept_span(uv_stream_t *server, uvotel_tracer_t *t) {
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  uvotel_span_t *span = uvotel_span_start(t, "pipe accept", &o);
  uvotel_span_set_attribute_str(span, "network.transport", "unix");
  char path[256];
  size_t len = sizeof path;
  if (uv_pipe_getsockname((uv_pipe_t *)server, path, &len) == 0 && len < sizeof path) {
    path[len] = '\0';
    uvotel_span_set_attribute_str(span, "network.peer.address", path);
  }
  return span;
}

UVOTEL__API uvotel_span_t *uvotel_auto_spans_accept_span(uv_stream_t *server, uv_stream_t *client,
                                                         void *arg) {
  if (arg != NULL && client != NULL && server != NULL && client->type == UV_NAMED_PIPE) {
    return pipe_accept_span(server, (uvotel_tracer_t *)arg);
  }
  if (arg == NULL || client == NULL || client->type != UV_TCP) return NULL;
  uvotel_span_options_t o = UVOTEL_SPAN_OPTIONS_INIT;
  o.kind = UVOTEL_SPAN_KIND_SERVER;
  uvotel_span_t *span = uvotel_span_start((uvotel_tracer_t *)arg, "tcp accept", &o);
  uvotel_span_set_attribute_str(span, "network.transport", "tcp");
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername((uv_tcp_t *)client, (struct sockaddr *)&ss, &len) == 0) {
    set_peer(span, (struct sockaddr *)&ss, "network.peer.address", "network.peer.port");
  }
  len = sizeof ss;
  if (uv_tcp_getsockname((uv_tcp_t *)client, (struct sockaddr *)&ss, &len) == 0) {
    set_peer(span, (struct sockaddr *)&ss, "server.address", "server.port");
  }
  return span;
}

/* ---- DNS client queries (dns_client.c, dns_tcp.c) ---- */

uvotel_span_t *uvotel__auto_start_client(const char *name) {
  return start(name, UVOTEL_SPAN_KIND_CLIENT);
}
