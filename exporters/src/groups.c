/* The grouping walk shared by the span encoders (see encoding.h).
 *
 * The SDK hands out one resource pointer per provider and one scope pointer per tracer, so
 * grouping is by pointer. A batch almost always holds one or a few groups: a lookup tries the
 * previous span's group first, then scans the groups seen so far (so the cost grows with
 * spans x groups; fine for the handful of tracers a process has). A batch of one group (nearly
 * every one) is ordered as it is: no reordering pass. */
#include <string.h>

#include "encoding.h"
#include "uvotel/alloc.h"
#include "uvotel/errno.h"

typedef struct tmp_group_s {
  const uvotel_trace_resource_t *res;
  const uvotel_instrumentation_scope_t *scope;
  uint32_t n, fill;
} tmp_group_t;

int uvotel__span_groups_build(uvotel__span_groups_t *g, const uvotel_span_data_t *const *spans,
                              size_t n) {
  if (g == NULL) return UVOTEL_EINVAL;
  memset(g, 0, sizeof *g);
  if (spans == NULL && n > 0) return UVOTEL_EINVAL;
  if (n > UINT32_MAX) return UVOTEL_ERANGE;
  if (n == 0) return 0;
  size_t max_groups = n < UVOTEL__GROUPS_MAX ? n : UVOTEL__GROUPS_MAX;
  /* one block: order[n], gid[n], tmp[max_groups], scopes[max_groups], res[max_groups] */
  size_t sz = n * sizeof(const uvotel_span_data_t *) + max_groups * sizeof(tmp_group_t) +
              max_groups * sizeof(uvotel__scope_group_t) +
              max_groups * sizeof(uvotel__res_group_t) + n * sizeof(uint16_t);
  char *mem = uvotel_malloc(sz);
  if (mem == NULL) return UVOTEL_ENOMEM;
  const uvotel_span_data_t **order = (const uvotel_span_data_t **)mem;
  tmp_group_t *tmp = (tmp_group_t *)(order + n);
  uvotel__scope_group_t *scopes = (uvotel__scope_group_t *)(tmp + max_groups);
  uvotel__res_group_t *res = (uvotel__res_group_t *)(scopes + max_groups);
  uint16_t *gid = (uint16_t *)(res + max_groups);

  /* (resource, scope) groups in first-seen order */
  size_t n_groups = 0, last = 0;
  for (size_t i = 0; i < n; i++) {
    if (spans[i] == NULL) {
      uvotel_free(mem);
      return UVOTEL_EINVAL;
    }
    const uvotel_trace_resource_t *r = uvotel_span_data_resource(spans[i]);
    const uvotel_instrumentation_scope_t *sc = uvotel_span_data_scope(spans[i]);
    size_t k = n_groups;
    if (n_groups > 0 && tmp[last].res == r && tmp[last].scope == sc) {
      k = last;
    } else {
      for (size_t j = 0; j < n_groups; j++) {
        if (tmp[j].res == r && tmp[j].scope == sc) {
          k = j;
          break;
        }
      }
    }
    if (k == n_groups) {
      if (n_groups == max_groups) {
        uvotel_free(mem);
        return UVOTEL_ERANGE;
      }
      tmp[k].res = r;
      tmp[k].scope = sc;
      tmp[k].n = 0;
      n_groups++;
    }
    tmp[k].n++;
    gid[i] = (uint16_t)k;
    last = k;
  }

  if (n_groups == 1) { /* nearly every batch: the spans in their own order */
    res[0].res = tmp[0].res;
    res[0].first = 0;
    res[0].n = 1;
    scopes[0].scope = tmp[0].scope;
    scopes[0].first = 0;
    scopes[0].n = (uint32_t)n;
    g->order = spans;
    g->scopes = scopes;
    g->res = res;
    g->n_spans = n;
    g->n_scopes = 1;
    g->n_res = 1;
    g->mem = mem;
    return 0;
  }

  /* resources in first-seen order; each resource's groups become its scopes, in order */
  size_t n_res = 0, n_scopes = 0;
  uint32_t pos = 0;
  for (size_t j = 0; j < n_groups; j++) {
    if (tmp[j].n == 0) continue; /* taken by an earlier resource */
    const uvotel_trace_resource_t *r = tmp[j].res;
    res[n_res].res = r;
    res[n_res].first = (uint32_t)n_scopes;
    for (size_t k = j; k < n_groups; k++) {
      if (tmp[k].n == 0 || tmp[k].res != r) continue;
      scopes[n_scopes].scope = tmp[k].scope;
      scopes[n_scopes].first = pos;
      scopes[n_scopes].n = tmp[k].n;
      tmp[k].fill = pos; /* where this group's spans go */
      pos += tmp[k].n;
      tmp[k].n = 0; /* taken */
      n_scopes++;
    }
    res[n_res].n = (uint32_t)(n_scopes - res[n_res].first);
    n_res++;
  }
  for (size_t i = 0; i < n; i++) order[tmp[gid[i]].fill++] = spans[i];

  g->order = order;
  g->scopes = scopes;
  g->res = res;
  g->n_spans = n;
  g->n_scopes = n_scopes;
  g->n_res = n_res;
  g->mem = mem;
  return 0;
}

void uvotel__span_groups_free(uvotel__span_groups_t *g) {
  if (g == NULL) return;
  uvotel_free(g->mem);
  memset(g, 0, sizeof *g);
}
