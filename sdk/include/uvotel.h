/* uvotel: async hooks, async context and tracing for libuv programs. The umbrella header. */
#ifndef UVOTEL_H
#define UVOTEL_H

#include "uvotel/version.h"
#include "uvotel/errno.h"
#include "uvotel/alloc.h"
#include "uvotel/hooks.h"
#include "uvotel/context.h"
#include "uvotel/bind.h"
#include "uvotel/promise.h"
#include "uvotel/diag.h"
#include "uvotel/env.h"
#include "uvotel/trace.h"
#include "uvotel/trace_sdk.h"
#include "uvotel/propagation.h"
#include "uvotel/logs.h"
#include "uvotel/logs_sdk.h"

#endif
