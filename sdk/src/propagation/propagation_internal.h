/* Private helpers shared by the propagation sources. */
#ifndef UVOTEL_PROPAGATION_INTERNAL_H
#define UVOTEL_PROPAGATION_INTERNAL_H

#include "../internal.h"
#include "uvotel/propagation.h"

#include "../common/w3c.h"

#endif
