/* Resource detectors: what a provider's resource says about the process, the OS, the host and
 * the container, beyond the SDK's own attributes. Each detector is an ops-style entry
 * (uvotel_resource_detector_t); the built-ins are "service_instance", "process", "runtime",
 * "os", "host" and "container", and users can register more. OTEL_RESOURCE_DETECTORS (or the
 * provider option) chooses them by name; by default all run.
 *
 * Merge order (later wins, as the specification's Merge with the updating resource last): the
 * SDK defaults, then the detectors in the order named, then OTEL_RESOURCE_ATTRIBUTES, then
 * OTEL_SERVICE_NAME, then the application's own resource attributes. */
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "trace_internal.h"

#define MAX_DETECTORS 32
#define CMDLINE_MAX 4096    /* bytes of /proc/self/cmdline read */
#define CMD_ARGS_MAX 64     /* process.command_args entries kept */
#define CMD_ARG_LEN_MAX 256 /* bytes of one argument kept (cut at a UTF-8 boundary) */

/* ---- helpers ---- */

static void emit_str(uvotel_resource_emit_fn emit, void *ctx, const char *k, const char *v) {
  uvotel_attribute_t a = UVOTEL_ATTR_STR(k, v);
  emit(ctx, &a);
}

/* Read up to cap-1 bytes of a small file; the byte count, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = '\0';
  return (ssize_t)n;
}

/* ---- built-ins ---- */

/* service.instance.id: a random version 4 UUID per provider (the specification's
 * recommendation when nothing better is known). */
static void detect_service_instance(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  uvotel_trace_id_t r;
  uvotel_random_trace_id(&r);
  uint8_t *b = r.bytes;
  b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  char u[37];
  snprintf(u, sizeof u, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
           b[14], b[15]);
  emit_str(emit, ctx, "service.instance.id", u);
}

/* Bytes of s (at most max) that end on a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max) {
  if (len <= max) return len;
  size_t n = max;
  while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80) n--;
  return n;
}

static void detect_process(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  char path[1024];
  ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n > 0) {
    path[n] = '\0';
    const char *base = strrchr(path, '/');
    emit_str(emit, ctx, "process.executable.path", path);
    emit_str(emit, ctx, "process.executable.name", base != NULL ? base + 1 : path);
  }
  /* process.command_args: argv from /proc/self/cmdline, bounded in count and length (argv can
   * hold secrets; OTEL_RESOURCE_DETECTORS without "process" leaves it out). */
  char *buf = uvotel_malloc(CMDLINE_MAX + 1);
  if (buf == NULL) return;
  ssize_t len = read_small("/proc/self/cmdline", buf, CMDLINE_MAX + 1);
  const char *args[CMD_ARGS_MAX];
  char *cut = uvotel_malloc(CMD_ARGS_MAX * (CMD_ARG_LEN_MAX + 1));
  size_t na = 0;
  if (len > 0 && cut != NULL) {
    for (ssize_t i = 0; i < len && na < CMD_ARGS_MAX;) {
      size_t al = strlen(buf + i);
      size_t keep = utf8_cut(buf + i, al, CMD_ARG_LEN_MAX);
      char *dst = cut + na * (CMD_ARG_LEN_MAX + 1);
      memcpy(dst, buf + i, keep);
      dst[keep] = '\0';
      args[na++] = dst;
      i += (ssize_t)al + 1;
    }
    uvotel_attribute_t a = UVOTEL_ATTR_STR_ARRAY("process.command_args", args, (uint32_t)na);
    if (na > 0) emit(ctx, &a);
  }
  uvotel_free(cut);
  uvotel_free(buf);
}

/* process.runtime.*: for a C program the runtime that shapes its behaviour is libuv. */
static void detect_runtime(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  emit_str(emit, ctx, "process.runtime.name", "libuv");
  emit_str(emit, ctx, "process.runtime.version", uv_version_string());
  emit_str(emit, ctx, "process.runtime.description", "libuv event loop (C)");
}

/* The value of KEY= in an os-release text, unquoted, into out; 0 when found. */
static int os_release_value(const char *text, const char *key, char *out, size_t cap) {
  size_t kl = strlen(key);
  for (const char *l = text; l != NULL && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    if (strncmp(l, key, kl) != 0 || l[kl] != '=') continue;
    const char *v = l + kl + 1, *e = strchr(v, '\n');
    size_t vl = e ? (size_t)(e - v) : strlen(v);
    if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) v++, vl -= 2;
    if (vl >= cap) vl = cap - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return 0;
  }
  return -1;
}

static void detect_os(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  struct utsname u;
  if (uname(&u) == 0) {
    char type[sizeof u.sysname];
    size_t i = 0;
    for (; u.sysname[i] && i + 1 < sizeof type; i++) {
      type[i] = (char)tolower((unsigned char)u.sysname[i]);
    }
    type[i] = '\0';
    emit_str(emit, ctx, "os.type", type);
    emit_str(emit, ctx, "os.version", u.release);
  }
  char text[4096], desc[256];
  if (read_small("/etc/os-release", text, sizeof text) > 0 &&
      os_release_value(text, "PRETTY_NAME", desc, sizeof desc) == 0) {
    emit_str(emit, ctx, "os.description", desc);
  } else if (uname(&u) == 0) {
    snprintf(desc, sizeof desc, "%s %s", u.sysname, u.release);
    emit_str(emit, ctx, "os.description", desc);
  }
}

/* host.arch in the semantic conventions' values. */
static const char *arch_name(const char *machine) {
  static const struct {
    const char *uname, *semconv;
  } map[] = {{"x86_64", "amd64"}, {"amd64", "amd64"}, {"aarch64", "arm64"}, {"arm64", "arm64"},
             {"i386", "x86"},     {"i686", "x86"},    {"ppc64", "ppc64"},   {"ppc64le", "ppc64"},
             {"ppc", "ppc32"},    {"s390x", "s390x"}, {"ia64", "ia64"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
    if (strcmp(machine, map[i].uname) == 0) return map[i].semconv;
  }
  if (strncmp(machine, "arm", 3) == 0) return "arm32";
  return machine;
}

static void detect_host(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  char host[256];
  if (gethostname(host, sizeof host) == 0) {
    host[sizeof host - 1] = '\0';
    emit_str(emit, ctx, "host.name", host);
  }
  struct utsname u;
  if (uname(&u) == 0) emit_str(emit, ctx, "host.arch", arch_name(u.machine));
}

UVOTEL__API int uvotel_resource_parse_container_id(const char *text, size_t len, char out[65]) {
  if (text == NULL || out == NULL) return UVOTEL_EINVAL;
  /* The last run of exactly 64 hex digits on a line: docker, containerd, cri-o and podman all
   * name the container that way in cgroup paths (".../docker-<id>.scope", "/kubepods/.../<id>",
   * "/var/lib/docker/containers/<id>/hostname" in mountinfo). */
  const char *end = text + len, *line = text;
  int found = 0;
  while (line < end) {
    const char *nl = memchr(line, '\n', (size_t)(end - line));
    const char *le = nl ? nl : end;
    size_t run = 0;
    for (const char *p = line; p <= le; p++) {
      int hex = p < le && isxdigit((unsigned char)*p) && !isupper((unsigned char)*p);
      if (hex) {
        run++;
        continue;
      }
      if (run == 64) {
        memcpy(out, p - 64, 64);
        out[64] = '\0';
        found = 1;
      }
      run = 0;
    }
    line = le + 1;
  }
  return found ? 0 : UVOTEL_ENOENT;
}

static void detect_container(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  (void)self;
  static const char *const files[] = {"/proc/self/cgroup", "/proc/self/mountinfo"};
  char *buf = uvotel_malloc(65536);
  if (buf == NULL) return;
  char id[65];
  for (size_t i = 0; i < 2; i++) {
    ssize_t n = read_small(files[i], buf, 65536);
    if (n > 0 && uvotel_resource_parse_container_id(buf, (size_t)n, id) == 0) {
      emit_str(emit, ctx, "container.id", id);
      break;
    }
  }
  uvotel_free(buf);
}

/* ---- the registry ---- */

static uvotel_resource_detector_t g_dets[MAX_DETECTORS] = {
    {sizeof(uvotel_resource_detector_t), "service_instance", detect_service_instance, NULL},
    {sizeof(uvotel_resource_detector_t), "process", detect_process, NULL},
    {sizeof(uvotel_resource_detector_t), "runtime", detect_runtime, NULL},
    {sizeof(uvotel_resource_detector_t), "os", detect_os, NULL},
    {sizeof(uvotel_resource_detector_t), "host", detect_host, NULL},
    {sizeof(uvotel_resource_detector_t), "container", detect_container, NULL},
};
static size_t g_n_dets = 6;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

UVOTEL__API int uvotel_resource_detector_register(const uvotel_resource_detector_t *d) {
  if (d == NULL || d->size < sizeof(uvotel_resource_detector_t) || d->name == NULL ||
      d->name[0] == '\0' || d->detect == NULL || strchr(d->name, ',') != NULL) {
    return UVOTEL_EINVAL;
  }
  int rc = 0;
  pthread_mutex_lock(&g_lock);
  size_t i = 0;
  while (i < g_n_dets && !uvotel_env_name_eq(g_dets[i].name, strlen(g_dets[i].name), d->name)) i++;
  if (i == g_n_dets && g_n_dets == MAX_DETECTORS) {
    rc = UVOTEL_ERANGE;
  } else {
    g_dets[i] = *d; /* name and self are borrowed, as the header says */
    g_dets[i].size = sizeof(uvotel_resource_detector_t);
    if (i == g_n_dets) g_n_dets++;
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}

static int run_named(const char *name, size_t nl, uvotel_resource_emit_fn emit, void *ctx) {
  uvotel_resource_detector_t d;
  int found = 0;
  pthread_mutex_lock(&g_lock);
  for (size_t i = 0; i < g_n_dets && !found; i++) {
    if (uvotel_env_name_eq(name, nl, g_dets[i].name)) {
      d = g_dets[i];
      found = 1;
    }
  }
  pthread_mutex_unlock(&g_lock);
  if (found) d.detect(d.self, emit, ctx);
  return found;
}

void uvotel__resource_detect(const char *names, uvotel_resource_emit_fn emit, void *ctx) {
  static const char *const all[] = {"all", NULL};
  if (names == NULL) names = uvotel_env_get("OTEL_RESOURCE_DETECTORS");
  if (names == NULL || *names == '\0' || uvotel_env_name_index(names, strlen(names), all) == 0) {
    /* every registered detector, in registration order */
    pthread_mutex_lock(&g_lock);
    size_t n = g_n_dets;
    uvotel_resource_detector_t d[MAX_DETECTORS];
    memcpy(d, g_dets, n * sizeof *d);
    pthread_mutex_unlock(&g_lock);
    for (size_t i = 0; i < n; i++) d[i].detect(d[i].self, emit, ctx);
    return;
  }
  /* the one list parser (uvotel/env.h): trimmed items, empty ones skipped */
  const char *cur = names, *w;
  size_t wl;
  while (uvotel_env_list_next(&cur, &w, &wl)) {
    if (uvotel_env_name_eq(w, wl, "none")) continue;
    if (!run_named(w, wl, emit, ctx)) {
      uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ENOENT,
                  "OTEL_RESOURCE_DETECTORS: unknown detector \"%.*s\" ignored", (int)wl, w);
    }
  }
}
