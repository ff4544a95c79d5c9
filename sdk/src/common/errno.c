/* uvotel_strerror / uvotel_err_name over uvotel's table and libuv's. */
#include "../internal.h"

/* uv_err_name()/uv_strerror() strdup a message for codes libuv does not know (a leak), so ask
 * the _r form first and call the static-string form only for known codes. */
static int uv_knows(int err) {
  char buf[64];
  uv_err_name_r(err, buf, sizeof buf);
  return strncmp(buf, "Unknown", 7) != 0;
}

UVOTEL__API const char *uvotel_strerror(int err) {
  if (err == 0) return "success";
  switch (err) {
#define UVOTEL__ERRNO_MSG(name, value, msg) \
  case value:                               \
    return msg;
    UVOTEL_ERRNO_MAP(UVOTEL__ERRNO_MSG)
#undef UVOTEL__ERRNO_MSG
    default:
      break;
  }
  if (err < 0 && err > -30000) {
    if (uv_knows(err)) return uv_strerror(err);
  }
  return "unknown error";
}

UVOTEL__API const char *uvotel_err_name(int err) {
  if (err == 0) return "OK";
  switch (err) {
#define UVOTEL__ERRNO_NAME(name, value, msg) \
  case value:                                \
    return "UVOTEL_" #name;
    UVOTEL_ERRNO_MAP(UVOTEL__ERRNO_NAME)
#undef UVOTEL__ERRNO_NAME
    default:
      break;
  }
  if (err < 0 && err > -30000) {
    if (uv_knows(err)) return uv_err_name(err);
  }
  return "UNKNOWN";
}

UVOTEL__API unsigned uvotel_version(void) {
  return UVOTEL_VERSION_HEX;
}

UVOTEL__API const char *uvotel_version_string(void) {
  return UVOTEL_VERSION_STRING;
}
