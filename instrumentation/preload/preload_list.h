/* Every libuv function uvotel wraps, with its wrapper, parameter list and argument list: the one
 * list in uvotel/uv_list.h (which uvotel/uv.h and uvotel/uv_redirect.h come from too), so the
 * interposed names cannot drift from the wrapped ones. */
#ifndef UVOTEL_PRELOAD_LIST_H
#define UVOTEL_PRELOAD_LIST_H

#include "uvotel/uv_list.h"

#define UVOTEL_PRELOAD_LIST(X, XV) UVOTEL_UV_LIST(X, XV)

#endif
