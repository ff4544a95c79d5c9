/* Private helpers shared by the propagation sources. */
#ifndef UVOTEL_PROPAGATION_INTERNAL_H
#define UVOTEL_PROPAGATION_INTERNAL_H

#include "../internal.h"
#include "uvotel/propagation.h"

#include "../common/w3c.h"

/* Ops of the built-ins that live in their own files (b3.c, jaeger.c); propagator.c makes the
 * static instances. */
extern const uvotel_propagator_ops_t uvotel__b3_single_ops;
extern const uvotel_propagator_ops_t uvotel__b3_multi_ops;
extern const uvotel_propagator_ops_t uvotel__jaeger_ops;

#endif
