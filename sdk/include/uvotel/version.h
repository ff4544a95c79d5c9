/* uvotel version macros and runtime getter. */
#ifndef UVOTEL_VERSION_H
#define UVOTEL_VERSION_H

#define UVOTEL_VERSION_MAJOR 0
#define UVOTEL_VERSION_MINOR 1
#define UVOTEL_VERSION_PATCH 0
#define UVOTEL_VERSION_STRING "0.1.0"
#define UVOTEL_VERSION_HEX \
  ((UVOTEL_VERSION_MAJOR << 16) | (UVOTEL_VERSION_MINOR << 8) | UVOTEL_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library linked at run time, as UVOTEL_VERSION_HEX and as a string.
 * Thread: any. */
unsigned uvotel_version(void);
const char *uvotel_version_string(void);

#ifdef __cplusplus
}
#endif
#endif
