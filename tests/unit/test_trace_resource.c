/* Resource detection: the built-in detectors, OTEL_RESOURCE_DETECTORS / option selection, merge
 * order, user detectors, and the container-id parser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include <cmocka.h>

#include "uvotel.h"

static uvotel_tracer_provider_t *make(const char *detectors, unsigned flags,
                                      const uvotel_attribute_t *attrs, size_t n) {
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER | flags;
  o.resource_detectors = detectors;
  o.resource_attrs = attrs;
  o.n_resource_attrs = n;
  uvotel_tracer_provider_t *p = uvotel_tracer_provider_create(&o);
  assert_non_null(p);
  return p;
}

static void done(uvotel_tracer_provider_t *p) {
  uvotel_tracer_provider_shutdown(p, 100);
  uvotel_tracer_provider_free(p);
}

static const uvotel_attribute_t *find(uvotel_tracer_provider_t *p, const char *key) {
  const uvotel_trace_resource_t *r = uvotel_tracer_provider_resource(p);
  for (size_t i = 0; i < r->n_attrs; i++) {
    if (strcmp(r->attrs[i].key, key) == 0) return &r->attrs[i];
  }
  return NULL;
}

static const char *str(uvotel_tracer_provider_t *p, const char *key) {
  const uvotel_attribute_t *a = find(p, key);
  if (a == NULL) return NULL;
  assert_int_equal(a->value.type, UVOTEL_VALUE_STRING);
  return a->value.u.s;
}

static int setup(void **state) {
  (void)state;
  unsetenv("OTEL_RESOURCE_DETECTORS");
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
  unsetenv("OTEL_SERVICE_NAME");
  return 0;
}

static void test_builtins(void **state) {
  (void)state;
  uvotel_tracer_provider_t *p = make(NULL, 0, NULL, 0);
  const char *id = str(p, "service.instance.id");
  assert_non_null(id);
  assert_int_equal(strlen(id), 36);
  assert_int_equal(id[8], '-');
  assert_int_equal(id[14], '4'); /* version 4 */
  assert_non_null(strchr("89ab", id[19]));
  assert_string_equal(str(p, "process.executable.name"), "test_trace_resource");
  const char *path = str(p, "process.executable.path");
  assert_non_null(path);
  assert_non_null(strstr(path, "/test_trace_resource"));
  const uvotel_attribute_t *args = find(p, "process.command_args");
  assert_non_null(args);
  assert_int_equal(args->value.type, UVOTEL_VALUE_STRING_ARRAY);
  assert_true(args->value.len >= 1);
  assert_non_null(strstr(args->value.u.sa[0], "test_trace_resource"));
  assert_string_equal(str(p, "process.runtime.name"), "libuv");
  assert_string_equal(str(p, "process.runtime.version"), uv_version_string());
  assert_string_equal(str(p, "os.type"), "linux");
  assert_non_null(str(p, "os.description"));
  struct utsname u;
  assert_int_equal(uname(&u), 0);
  assert_string_equal(str(p, "os.version"), u.release);
  const char *arch = str(p, "host.arch");
  assert_non_null(arch);
  if (strcmp(u.machine, "x86_64") == 0) assert_string_equal(arch, "amd64");
  assert_non_null(str(p, "host.name"));
  /* a second provider is a second instance */
  uvotel_tracer_provider_t *q = make(NULL, 0, NULL, 0);
  assert_string_not_equal(str(q, "service.instance.id"), id);
  done(q);
  done(p);
}

static char g_diag[512];
static void capture(uvotel_diag_level_t level, int code, const char *msg, void *arg) {
  (void)level, (void)code, (void)arg;
  snprintf(g_diag, sizeof g_diag, "%s", msg);
}

static void test_selection(void **state) {
  (void)state;
  setenv("OTEL_RESOURCE_DETECTORS", "none", 1);
  uvotel_tracer_provider_t *p = make(NULL, 0, NULL, 0);
  assert_null(find(p, "service.instance.id"));
  assert_null(find(p, "os.type"));
  assert_non_null(find(p, "telemetry.sdk.name")); /* the SDK's own stay */
  done(p);
  setenv("OTEL_RESOURCE_DETECTORS", " OS , host", 1);
  p = make(NULL, 0, NULL, 0);
  assert_non_null(find(p, "os.type"));
  assert_non_null(find(p, "host.arch"));
  assert_null(find(p, "process.executable.name"));
  assert_null(find(p, "service.instance.id"));
  done(p);
  /* an unknown name is said and skipped; the rest run */
  g_diag[0] = '\0';
  uvotel_diag_set_handler(capture, NULL, UVOTEL_DIAG_WARN);
  setenv("OTEL_RESOURCE_DETECTORS", "gcp,runtime", 1);
  p = make(NULL, 0, NULL, 0);
  assert_non_null(strstr(g_diag, "unknown detector \"gcp\""));
  assert_string_equal(str(p, "process.runtime.name"), "libuv");
  done(p);
  uvotel_diag_set_handler(NULL, NULL, UVOTEL_DIAG_ERROR);
  /* the option wins over the variable */
  p = make("process", 0, NULL, 0);
  assert_non_null(find(p, "process.executable.name"));
  assert_null(find(p, "process.runtime.name"));
  done(p);
  unsetenv("OTEL_RESOURCE_DETECTORS");
  /* flags */
  p = make(NULL, UVOTEL_PROVIDER_NO_DETECTORS, NULL, 0);
  assert_null(find(p, "service.instance.id"));
  assert_non_null(find(p, "telemetry.sdk.name"));
  done(p);
  p = make(NULL, UVOTEL_PROVIDER_NO_DEFAULT_RESOURCE, NULL, 0);
  assert_null(find(p, "service.instance.id"));
  assert_null(find(p, "telemetry.sdk.name"));
  done(p);
}

static void test_merge_order(void **state) {
  (void)state;
  setenv("OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=from-env,os.type=from-env", 1);
  uvotel_attribute_t user[] = {UVOTEL_ATTR_STR("os.type", "from-user")};
  uvotel_tracer_provider_t *p = make(NULL, 0, user, 1);
  assert_string_equal(str(p, "service.instance.id"), "from-env"); /* env over detectors */
  assert_string_equal(str(p, "os.type"), "from-user");            /* user over env */
  done(p);
  unsetenv("OTEL_RESOURCE_ATTRIBUTES");
}

static void detect_custom(void *self, uvotel_resource_emit_fn emit, void *ctx) {
  uvotel_attribute_t a = UVOTEL_ATTR_STR("custom.key", (const char *)self);
  emit(ctx, &a);
}

static void test_user_detector(void **state) {
  (void)state;
  uvotel_resource_detector_t d = {sizeof d, "custom", detect_custom, "v1"};
  assert_int_equal(uvotel_resource_detector_register(&d), 0);
  uvotel_tracer_provider_t *p = make("custom", 0, NULL, 0);
  assert_string_equal(str(p, "custom.key"), "v1");
  done(p);
  d.self = "v2"; /* the same name replaces */
  assert_int_equal(uvotel_resource_detector_register(&d), 0);
  p = make(NULL, 0, NULL, 0); /* and it runs by default */
  assert_string_equal(str(p, "custom.key"), "v2");
  done(p);
  /* bad input */
  assert_int_equal(uvotel_resource_detector_register(NULL), UVOTEL_EINVAL);
  uvotel_resource_detector_t bad = d;
  bad.size = sizeof bad - 1;
  assert_int_equal(uvotel_resource_detector_register(&bad), UVOTEL_EINVAL);
  bad = d;
  bad.name = NULL;
  assert_int_equal(uvotel_resource_detector_register(&bad), UVOTEL_EINVAL);
  bad.name = "a,b";
  assert_int_equal(uvotel_resource_detector_register(&bad), UVOTEL_EINVAL);
  bad = d;
  bad.detect = NULL;
  assert_int_equal(uvotel_resource_detector_register(&bad), UVOTEL_EINVAL);
  /* at most 32 */
  static char names[40][8];
  int rc = 0, i = 0;
  for (; i < 40 && rc == 0; i++) {
    snprintf(names[i], sizeof names[i], "d%d", i);
    uvotel_resource_detector_t more = {sizeof more, names[i], detect_custom, "x"};
    rc = uvotel_resource_detector_register(&more);
  }
  assert_int_equal(rc, UVOTEL_ERANGE);
}

static void test_container_id(void **state) {
  (void)state;
  const char *id = "3f5e5c5d6c1b8a7e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a";
  char out[65], text[512];
  snprintf(text, sizeof text, "12:pids:/docker/%s\n11:memory:/docker/%s\n", id, id);
  assert_int_equal(uvotel_resource_parse_container_id(text, strlen(text), out), 0);
  assert_string_equal(out, id);
  snprintf(text, sizeof text, "0::/system.slice/docker-%s.scope\n", id);
  assert_int_equal(uvotel_resource_parse_container_id(text, strlen(text), out), 0);
  assert_string_equal(out, id);
  snprintf(text, sizeof text,
           "736 712 0:52 /var/lib/docker/containers/%s/hostname /etc/hostname rw - ext4\n", id);
  assert_int_equal(uvotel_resource_parse_container_id(text, strlen(text), out), 0);
  assert_string_equal(out, id);
  /* no container: this machine's own kind of cgroup file; 63 or 65 digits are not an id */
  const char *none = "4:memory:/process_api/e1f7f0c4e0e3cf2b16a8e76490b325b4\n0::/\n";
  assert_int_equal(uvotel_resource_parse_container_id(none, strlen(none), out), UVOTEL_ENOENT);
  snprintf(text, sizeof text, "0::/x/%.63s\n0::/y/%sa\n", id, id);
  assert_int_equal(uvotel_resource_parse_container_id(text, strlen(text), out), UVOTEL_ENOENT);
  /* uppercase hex is not how runtimes write it */
  assert_int_equal(
      uvotel_resource_parse_container_id(
          "0::/docker/3F5E5C5D6C1B8A7E9F0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F6A", 75, out),
      UVOTEL_ENOENT);
  assert_int_equal(uvotel_resource_parse_container_id(NULL, 0, out), UVOTEL_EINVAL);
  assert_int_equal(uvotel_resource_parse_container_id(text, strlen(text), NULL), UVOTEL_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_builtins, setup),
      cmocka_unit_test_setup(test_selection, setup),
      cmocka_unit_test_setup(test_merge_order, setup),
      cmocka_unit_test_setup(test_user_detector, setup),
      cmocka_unit_test_setup(test_container_id, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
