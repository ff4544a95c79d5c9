/* context-demo --chained (chained.c): seed 003's program with a promise chain. */
#ifndef CONTEXT_DEMO_CHAINED_H
#define CONTEXT_DEMO_CHAINED_H

#include <uvotel.h>

/* Runs the chained program on loop (runs the loop); 1 when every reaction saw the value. */
int chained_demo(uv_loop_t *loop, uvotel_var_t *als);

#endif
