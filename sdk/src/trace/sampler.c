/* Samplers: always_on/off, traceidratio, parent-based, and user ops tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "trace_internal.h"

UVOTEL__API uvotel_sampler_t *uvotel_sampler_create(const uvotel_sampler_ops_t *ops, void *self) {
  if (ops == NULL || ops->should_sample == NULL) return NULL;
  uvotel_sampler_t *s = uvotel_malloc(sizeof *s);
  if (s == NULL) {
    if (ops->free != NULL) ops->free(self);
    return NULL;
  }
  s->ops = ops;
  s->self = self;
  return s;
}

UVOTEL__API void uvotel_sampler_free(uvotel_sampler_t *s) {
  if (s == NULL) return;
  if (s->ops->free != NULL) s->ops->free(s->self);
  uvotel_free(s);
}

UVOTEL__API void uvotel_sampler_should_sample(uvotel_sampler_t *s,
                                              const uvotel_sampling_params_t *params,
                                              uvotel_sampling_result_t *out) {
  if (out == NULL) return;
  memset(out, 0, sizeof *out);
  if (s == NULL || params == NULL) return;
  s->ops->should_sample(s->self, params, out);
}

UVOTEL__API const char *uvotel_sampler_description(const uvotel_sampler_t *s) {
  if (s == NULL || s->ops->description == NULL) return "";
  const char *d = s->ops->description(s->self);
  return d != NULL ? d : "";
}

/* ---- always on / off ---- */

static void on_sample(void *self, const uvotel_sampling_params_t *p, uvotel_sampling_result_t *o) {
  (void)self, (void)p;
  o->decision = UVOTEL_SAMPLING_RECORD_AND_SAMPLE;
}
static const char *on_desc(void *self) {
  (void)self;
  return "AlwaysOnSampler";
}
static void off_sample(void *self, const uvotel_sampling_params_t *p, uvotel_sampling_result_t *o) {
  (void)self, (void)p;
  o->decision = UVOTEL_SAMPLING_DROP;
}
static const char *off_desc(void *self) {
  (void)self;
  return "AlwaysOffSampler";
}
static const uvotel_sampler_ops_t g_on_ops = {.should_sample = on_sample, .description = on_desc};
static const uvotel_sampler_ops_t g_off_ops = {.should_sample = off_sample,
                                               .description = off_desc};

int uvotel__sampler_is_always_off(const uvotel_sampler_t *s) {
  return s != NULL && s->ops == &g_off_ops;
}

UVOTEL__API uvotel_sampler_t *uvotel_sampler_always_on(void) {
  return uvotel_sampler_create(&g_on_ops, NULL);
}
UVOTEL__API uvotel_sampler_t *uvotel_sampler_always_off(void) {
  return uvotel_sampler_create(&g_off_ops, NULL);
}

/* ---- traceidratio ---- */

typedef struct ratio_s {
  uint64_t threshold; /* rejection threshold T in [0, 2^56] */
  char desc[48];
} ratio_t;

static void ratio_sample(void *self, const uvotel_sampling_params_t *p,
                         uvotel_sampling_result_t *o) {
  const ratio_t *r = self;
  uint64_t rnd = 0;
  for (int i = 9; i < 16; i++) rnd = (rnd << 8) | p->trace_id.bytes[i];
  o->decision = rnd >= r->threshold ? UVOTEL_SAMPLING_RECORD_AND_SAMPLE : UVOTEL_SAMPLING_DROP;
}
static const char *ratio_desc(void *self) {
  return ((ratio_t *)self)->desc;
}
static void ratio_free(void *self) {
  uvotel_free(self);
}
static const uvotel_sampler_ops_t g_ratio_ops = {
    .should_sample = ratio_sample, .description = ratio_desc, .free = ratio_free};

UVOTEL__API uvotel_sampler_t *uvotel_sampler_traceidratio(double ratio) {
  if (isnan(ratio) || ratio < 0 || ratio > 1) {
    uvotel_diag(UVOTEL_DIAG_WARN, UVOTEL_ERANGE, "traceidratio %g outside [0, 1]; clamped", ratio);
    ratio = isnan(ratio) || ratio < 0 ? 0 : 1;
  }
  ratio_t *r = uvotel_malloc(sizeof *r);
  if (r == NULL) return NULL;
  const double two56 = 72057594037927936.0;
  double t = (1.0 - ratio) * two56 + 0.5; /* round; no libm needed */
  r->threshold = t >= two56 ? (uint64_t)1 << 56 : t <= 0 ? 0 : (uint64_t)t;
  snprintf(r->desc, sizeof r->desc, "TraceIdRatioBased{%g}", ratio);
  return uvotel_sampler_create(&g_ratio_ops, r);
}

/* ---- parent based ---- */

typedef struct parent_s {
  uvotel_sampler_t *d[5]; /* root, remote sampled, remote not, local sampled, local not */
  char *desc;             /* as long as the parts' descriptions need */
} parent_t;

static const uvotel_sampler_ops_t g_parent_ops;

/* The decision of s known without calling it (span start skips the indirect calls):
 * UVOTEL__SAMPLER_ON for always_on, UVOTEL__SAMPLER_PARENT_ON for parentbased_always_on with
 * the default delegates (sample roots; follow the parent's sampled flag), else 0. */
int uvotel__sampler_kind(const uvotel_sampler_t *s) {
  if (s == NULL) return 0;
  if (s->ops == &g_on_ops) return UVOTEL__SAMPLER_ON;
  if (s->ops != &g_parent_ops) return 0;
  const parent_t *pb = s->self;
  const uvotel_sampler_ops_t *want[5] = {&g_on_ops, &g_on_ops, &g_off_ops, &g_on_ops, &g_off_ops};
  for (int i = 0; i < 5; i++) {
    if (pb->d[i] == NULL || pb->d[i]->ops != want[i]) return 0;
  }
  return UVOTEL__SAMPLER_PARENT_ON;
}

/* 0 when s is built from uvotel's own samplers only (always_on/off, traceidratio and
 * parent_based over them), which never read a start's attributes; 1 for anything else (a
 * user's sampler may). Known by the ops tables, not by descriptions. NULL: 0. */
UVOTEL__API int uvotel__sampler_reads_attributes(const uvotel_sampler_t *s) {
  if (s == NULL || s->ops == &g_on_ops || s->ops == &g_off_ops || s->ops == &g_ratio_ops) {
    return 0;
  }
  if (s->ops != &g_parent_ops) return 1;
  const parent_t *pb = s->self;
  for (int i = 0; i < 5; i++) {
    if (uvotel__sampler_reads_attributes(pb->d[i])) return 1;
  }
  return 0;
}

static void parent_sample(void *self, const uvotel_sampling_params_t *p,
                          uvotel_sampling_result_t *o) {
  parent_t *pb = self;
  int k;
  if (p->parent == NULL || !uvotel_span_context_is_valid(p->parent)) {
    k = 0;
  } else {
    int sampled = (p->parent->flags & UVOTEL_TRACE_FLAG_SAMPLED) != 0;
    k = p->parent->is_remote ? (sampled ? 1 : 2) : (sampled ? 3 : 4);
  }
  pb->d[k]->ops->should_sample(pb->d[k]->self, p, o);
}
static const char *parent_desc(void *self) {
  return ((parent_t *)self)->desc;
}
static void parent_free(void *self) {
  parent_t *pb = self;
  for (int i = 0; i < 5; i++) uvotel_sampler_free(pb->d[i]);
  uvotel_free(pb->desc);
  uvotel_free(pb);
}
static const uvotel_sampler_ops_t g_parent_ops = {
    .should_sample = parent_sample, .description = parent_desc, .free = parent_free};

UVOTEL__API uvotel_sampler_t *uvotel_sampler_parent_based(
    const uvotel_parent_based_options_t *opts) {
  static const uvotel_parent_based_options_t defaults = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  if (opts == NULL) opts = &defaults;
  uvotel_sampler_t *given[5] = {opts->root, opts->remote_parent_sampled,
                                opts->remote_parent_not_sampled, opts->local_parent_sampled,
                                opts->local_parent_not_sampled};
  parent_t *pb = uvotel_calloc(1, sizeof *pb);
  int ok = pb != NULL;
  for (int i = 0; i < 5 && ok; i++) {
    pb->d[i] = given[i];
    given[i] = NULL;
    if (pb->d[i] == NULL) {
      pb->d[i] =
          (i == 0 || i == 1 || i == 3) ? uvotel_sampler_always_on() : uvotel_sampler_always_off();
      if (pb->d[i] == NULL) ok = 0;
    }
  }
  if (!ok) {
    for (int i = 0; i < 5; i++) uvotel_sampler_free(given[i]);
    if (pb != NULL) parent_free(pb);
    return NULL;
  }
  static const char fmt[] =
      "ParentBased{root=%s,remoteParentSampled=%s,remoteParentNotSampled=%s,"
      "localParentSampled=%s,localParentNotSampled=%s}";
  const char *ds[5];
  for (int i = 0; i < 5; i++) ds[i] = uvotel_sampler_description(pb->d[i]);
  int len = snprintf(NULL, 0, fmt, ds[0], ds[1], ds[2], ds[3], ds[4]);
  pb->desc = len >= 0 ? uvotel_malloc((size_t)len + 1) : NULL;
  if (pb->desc == NULL) {
    parent_free(pb);
    return NULL;
  }
  snprintf(pb->desc, (size_t)len + 1, fmt, ds[0], ds[1], ds[2], ds[3], ds[4]);
  return uvotel_sampler_create(&g_parent_ops, pb);
}

static uvotel_sampler_t *parent_with_root(uvotel_sampler_t *root) {
  if (root == NULL) return NULL;
  uvotel_parent_based_options_t o = UVOTEL_PARENT_BASED_OPTIONS_INIT;
  o.root = root;
  return uvotel_sampler_parent_based(&o);
}

UVOTEL__API uvotel_sampler_t *uvotel_sampler_parentbased_always_on(void) {
  return parent_with_root(uvotel_sampler_always_on());
}
UVOTEL__API uvotel_sampler_t *uvotel_sampler_parentbased_always_off(void) {
  return parent_with_root(uvotel_sampler_always_off());
}
UVOTEL__API uvotel_sampler_t *uvotel_sampler_parentbased_traceidratio(double ratio) {
  return parent_with_root(uvotel_sampler_traceidratio(ratio));
}

static int parse_ratio(const char *arg, double *out) {
  *out = 1.0;
  if (arg == NULL || *arg == '\0') return 0;
  double v;
  if (uvotel_env_parse_double(arg, &v) != 0 || v < 0 || v > 1) return UVOTEL_EPARSE;
  *out = v;
  return 0;
}

UVOTEL__API int uvotel_sampler_from_name(const char *name, const char *arg,
                                         uvotel_sampler_t **out) {
  if (name == NULL || out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  double ratio;
  int rc = 0;
  size_t n = strlen(name); /* names are case-insensitive (uvotel/env.h) */
  if (uvotel_env_name_eq(name, n, "always_on")) {
    *out = uvotel_sampler_always_on();
  } else if (uvotel_env_name_eq(name, n, "always_off")) {
    *out = uvotel_sampler_always_off();
  } else if (uvotel_env_name_eq(name, n, "parentbased_always_on")) {
    *out = uvotel_sampler_parentbased_always_on();
  } else if (uvotel_env_name_eq(name, n, "parentbased_always_off")) {
    *out = uvotel_sampler_parentbased_always_off();
  } else if (uvotel_env_name_eq(name, n, "traceidratio")) {
    rc = parse_ratio(arg, &ratio);
    *out = uvotel_sampler_traceidratio(rc == 0 ? ratio : 1.0);
  } else if (uvotel_env_name_eq(name, n, "parentbased_traceidratio")) {
    rc = parse_ratio(arg, &ratio);
    *out = uvotel_sampler_parentbased_traceidratio(rc == 0 ? ratio : 1.0);
  } else {
    return UVOTEL_ENOTSUP;
  }
  if (*out == NULL) return UVOTEL_ENOMEM;
  return rc;
}
