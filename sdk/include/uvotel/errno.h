/* uvotel error codes.
 *
 * A fallible uvotel call returns 0 or a negative code. Wrappers of libuv functions return
 * libuv's own (negative errno-style) codes unchanged; uvotel's own codes live below -30000 so
 * the two never collide, and uvotel_strerror() names both. The table is append-only: a code is
 * never renumbered or reused. */
#ifndef UVOTEL_ERRNO_H
#define UVOTEL_ERRNO_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define UVOTEL_ERRNO_MAP(X)                                              \
  X(EINVAL, -30001, "invalid argument")                                  \
  X(ENOMEM, -30002, "out of memory")                                     \
  X(EBUSY, -30003, "resource busy or in use")                            \
  X(ETIMEDOUT, -30004, "deadline passed before the operation completed") \
  X(ENOENT, -30005, "no such object")                                    \
  X(ESTATE, -30006, "operation not valid in the object's current state") \
  X(ESHUTDOWN, -30007, "already shut down")                              \
  X(EIO, -30008, "input/output or transport failure")                    \
  X(EPARSE, -30009, "malformed input")                                   \
  X(ERANGE, -30010, "value out of range or limit exceeded")              \
  X(ENOTSUP, -30011, "not supported")

typedef enum uvotel_errno_e {
#define UVOTEL__ERRNO_ENUM(name, value, msg) UVOTEL_##name = value,
  UVOTEL_ERRNO_MAP(UVOTEL__ERRNO_ENUM)
#undef UVOTEL__ERRNO_ENUM
      UVOTEL_OK = 0
} uvotel_errno_t;

/* A static, human-readable message for a uvotel code, a libuv code, or 0 ("success").
 * Never returns NULL; an unknown code gives "unknown error". Thread: any. */
const char *uvotel_strerror(int err);

/* The code's symbolic name ("UVOTEL_EINVAL", or libuv's "ECONNREFUSED"). Thread: any. */
const char *uvotel_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif
