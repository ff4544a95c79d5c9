/* The scenario table of async-trace. A scenario starts its work on the loop in run(); main then
 * runs the loop, disables the printing hook and calls cleanup() (may be NULL) to close what is
 * left. To add scenarios, add a file with its own table entries and list them in scenarios.c. */
#ifndef ASYNC_TRACE_SCENARIOS_H
#define ASYNC_TRACE_SCENARIOS_H

#include <uv.h>

typedef struct scenario_s {
  const char *name;
  const char *about;
  void (*run)(uv_loop_t *loop);
  void (*cleanup)(uv_loop_t *loop);
} scenario_t;

extern const scenario_t scenarios[]; /* ends with a {NULL} entry */

/* Print one line of the program's own output (unindented). */
void scenario_log(const char *line);

/* The display name of a resource (Node prints its constructor); NULL: use the type. */
const char *scenario_resource_name(void *resource);

#endif
