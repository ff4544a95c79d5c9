/* Propagators: the ops-table seam, the W3C built-ins, composites, OTEL_PROPAGATORS names, and the
 * header-array carrier. */

#include <stdatomic.h>

#include "propagation_internal.h"

struct uvotel_propagator_s {
  const uvotel_propagator_ops_t *ops;
  void *self;
  const char *name;
  int is_static;
  char *name_owned;
};

/* ---- extracted results ---- */

UVOTEL__API void uvotel_extracted_reset(uvotel_extracted_t *x) {
  if (x == NULL) return;
  /* both are usually NULL or one: no call for what is not there */
  if (x->span_context.trace_state != NULL) uvotel_trace_state_release(x->span_context.trace_state);
  if (x->baggage != NULL) uvotel_baggage_release(x->baggage);
  memset(x, 0, sizeof *x);
}

/* ---- header-array carrier ---- */

/* ASCII case-insensitive equality of a header name with a lowercase name (no locale). */
static inline int name_eq(uvotel_str_t a, const char *b, size_t bl) {
  if (a.len != bl || a.ptr == NULL) return 0;
  if (bl >= 8 && bl <= 16) { /* the usual names: two overlapping words, no call */
    uint64_t x0, x1, y0, y1;
    memcpy(&x0, a.ptr, 8), memcpy(&x1, a.ptr + bl - 8, 8);
    memcpy(&y0, b, 8), memcpy(&y1, b + bl - 8, 8);
    if (((x0 ^ y0) | (x1 ^ y1)) == 0) return 1;
  } else if (memcmp(a.ptr, b, bl) == 0) {
    return 1; /* already lowercase: the common case */
  }
  for (size_t i = 0; i < bl; i++) {
    char c = a.ptr[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != b[i]) return 0;
  }
  return 1;
}

static size_t headers_get(void *carrier, const char *name, uvotel_str_t *vals, size_t cap) {
  const uvotel_header_list_t *h = carrier;
  if (h == NULL || name == NULL) return 0;
  size_t nl = strlen(name), k = 0;
  for (size_t i = 0; i < h->n; i++) {
    if (!name_eq(h->items[i].name, name, nl)) continue;
    if (k < cap) vals[k] = h->items[i].value;
    k++;
  }
  return k;
}

static size_t headers_keys(void *carrier, uvotel_str_t *names, size_t cap) {
  const uvotel_header_list_t *h = carrier;
  if (h == NULL) return 0;
  for (size_t i = 0; i < h->n && i < cap; i++) names[i] = h->items[i].name;
  return h->n;
}

UVOTEL__API const uvotel_carrier_getter_t uvotel_header_getter = {headers_get, headers_keys};

/* ---- get every value of a field, growing the buffer when there are many lines ---- */

#define LINES_STACK 8
#define LINES_MAX 1024 /* more header lines than this: the field is ignored */

typedef struct lines_s {
  uvotel_str_t stack[LINES_STACK];
  uvotel_str_t *v;
  size_t n;
} lines_t;

static int get_lines(void *carrier, const uvotel_carrier_getter_t *g, const char *name,
                     lines_t *l) {
  l->v = l->stack;
  l->n = g->get(carrier, name, l->stack, LINES_STACK);
  if (l->n <= LINES_STACK) return 0;
  if (l->n > LINES_MAX) {
    l->n = 0;
    return 0;
  }
  size_t want = l->n;
  l->v = uvotel_malloc(want * sizeof(uvotel_str_t));
  if (l->v == NULL) {
    l->v = l->stack;
    l->n = 0;
    return UVOTEL_ENOMEM;
  }
  l->n = g->get(carrier, name, l->v, want);
  if (l->n > want) l->n = want;
  return 0;
}

static void lines_free(lines_t *l) {
  if (l->v != l->stack) uvotel_free(l->v);
}

/* ---- W3C trace context ---- */

static const char *const tc_fields[] = {"traceparent", "tracestate"};

static int tc_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                     void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self, (void)bg;
  char buf[UVOTEL_TRACEPARENT_LEN + 1];
  if (uvotel_traceparent_format(sc, buf) != 0) return 0; /* no valid context: nothing to send */
  int rc = setter->set(carrier, "traceparent", buf, UVOTEL_TRACEPARENT_LEN);
  if (rc < 0 || sc->trace_state == NULL) return rc;
  size_t len;
  const char *ts = uvotel_trace_state_str(sc->trace_state, &len);
  return len ? setter->set(carrier, "tracestate", ts, len) : 0;
}

/* The tracestate (ts: the parsed lines, or NULL) and the span context parsed from the one
 * traceparent: into x. */
static inline void tc_store(uvotel_span_context_t *sc, uvotel_trace_state_t *ts,
                            uvotel_extracted_t *x) {
  if (x->span_context.trace_state != NULL) uvotel_trace_state_release(x->span_context.trace_state);
  sc->trace_state = ts;
  x->span_context = *sc;
}

/* The tracestate lines and the span context parsed from the one traceparent: into x. */
static int tc_finish(uvotel_span_context_t *sc, const uvotel_str_t *lines, size_t n,
                     uvotel_extracted_t *x) {
  uvotel_trace_state_t *ts = NULL;
  int rc = uvotel_trace_state_parse_lines(lines, n, 0, &ts);
  if (rc == UVOTEL_ENOMEM) return rc;
  tc_store(sc, ts, x); /* ts NULL when absent or rejected */
  return 0;
}

/* Any getter, and a header list with more tracestate lines than the stack holds (sc is then
 * the parsed traceparent): each name through the getter. */
__attribute__((noinline)) static int tc_extract_getter(void *carrier,
                                                       const uvotel_carrier_getter_t *g,
                                                       const uvotel_span_context_t *parsed,
                                                       uvotel_extracted_t *x) {
  uvotel_span_context_t sc;
  if (parsed != NULL) {
    sc = *parsed;
  } else {
    uvotel_str_t tp[2];
    if (g->get(carrier, "traceparent", tp, 2) != 1) return 0;
    if (tp[0].ptr == NULL || uvotel__traceparent_parse(tp[0].ptr, tp[0].len, &sc) != 0) return 0;
  }
  lines_t l;
  int rc = get_lines(carrier, g, "tracestate", &l);
  if (rc < 0) return rc;
  rc = tc_finish(&sc, l.v, l.n, x);
  lines_free(&l);
  return rc;
}

static int tc_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                      uvotel_extracted_t *x) {
  (void)self;
  if (g != &uvotel_header_getter) return tc_extract_getter(carrier, g, NULL, x);
  /* The header list: one pass finds both names (the getter would walk it once per name). */
  const uvotel_header_list_t *h = carrier;
  if (h == NULL) return 0;
  uvotel_str_t tp = {NULL, 0}, ts[LINES_STACK];
  size_t ntp = 0, nts = 0;
  for (size_t i = 0; i < h->n; i++) {
    uvotel_str_t name = h->items[i].name;
    if (name_eq(name, "traceparent", 11)) {
      tp = h->items[i].value;
      ntp++;
    } else if (name_eq(name, "tracestate", 10)) {
      if (nts < LINES_STACK) ts[nts] = h->items[i].value;
      nts++;
    }
  }
  /* Exactly one traceparent line: two lines are two different parents, so restart. */
  uvotel_span_context_t sc;
  if (ntp != 1 || tp.ptr == NULL || uvotel__traceparent_parse(tp.ptr, tp.len, &sc) != 0) return 0;
  if (nts <= LINES_STACK) return tc_finish(&sc, ts, nts, x);
  return tc_extract_getter(carrier, g, &sc, x); /* more lines than the stack holds */
}

static size_t tc_fields_fn(void *self, const char *const **names) {
  (void)self;
  *names = tc_fields;
  return 2;
}

static const uvotel_propagator_ops_t tc_ops = {
    .inject = tc_inject, .extract = tc_extract, .fields = tc_fields_fn};

/* ---- W3C baggage ---- */

static const char *const bg_fields[] = {"baggage"};

static int bg_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                     void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self, (void)sc;
  size_t len;
  const char *s = uvotel_baggage_str(bg, &len);
  return len ? setter->set(carrier, "baggage", s, len) : 0;
}

static int bg_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                      uvotel_extracted_t *x) {
  (void)self;
  lines_t l;
  int rc = get_lines(carrier, g, "baggage", &l);
  if (rc < 0) return rc;
  uvotel_baggage_t *b = NULL;
  rc = l.n ? uvotel_baggage_parse_lines(l.v, l.n, &b) : 0;
  lines_free(&l);
  if (rc < 0) return rc == UVOTEL_ENOMEM ? rc : 0;
  if (b != NULL) {
    uvotel_baggage_release(x->baggage);
    x->baggage = b;
  }
  return 0;
}

static size_t bg_fields_fn(void *self, const char *const **names) {
  (void)self;
  *names = bg_fields;
  return 1;
}

static const uvotel_propagator_ops_t bg_ops = {
    .inject = bg_inject, .extract = bg_extract, .fields = bg_fields_fn};

/* ---- none ---- */

static int none_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                       void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)self, (void)sc, (void)bg, (void)carrier, (void)setter;
  return 0;
}
static int none_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                        uvotel_extracted_t *x) {
  (void)self, (void)carrier, (void)g, (void)x;
  return 0;
}
static size_t none_fields(void *self, const char *const **names) {
  (void)self;
  *names = NULL;
  return 0;
}
static const uvotel_propagator_ops_t none_ops = {
    .inject = none_inject, .extract = none_extract, .fields = none_fields};

/* ---- composite ---- */

#define COMPOSITE_MAX_FIELDS 16

typedef struct composite_s {
  size_t n, nfields;
  const char *fields[COMPOSITE_MAX_FIELDS];
  uvotel_propagator_t **parts; /* allocated with the struct, after it */
} composite_t;

static int comp_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                       void *carrier, const uvotel_carrier_setter_t *setter) {
  composite_t *c = self;
  for (size_t i = 0; i < c->n; i++) {
    int rc = c->parts[i]->ops->inject(c->parts[i]->self, sc, bg, carrier, setter);
    if (rc < 0) return rc;
  }
  return 0;
}

static int comp_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                        uvotel_extracted_t *x) {
  composite_t *c = self;
  int first = 0;
  for (size_t i = 0; i < c->n; i++) {
    int rc = c->parts[i]->ops->extract(c->parts[i]->self, carrier, g, x);
    if (rc < 0 && first == 0) first = rc;
  }
  return first;
}

static size_t comp_fields(void *self, const char *const **names) {
  composite_t *c = self;
  *names = c->fields;
  return c->nfields;
}

static void comp_free(void *self) {
  uvotel_free(self);
}

static const uvotel_propagator_ops_t comp_ops = {
    .inject = comp_inject, .extract = comp_extract, .fields = comp_fields, .free = comp_free};

static void comp_collect_fields(composite_t *c) {
  c->nfields = 0;
  for (size_t i = 0; i < c->n; i++) {
    const char *const *f = NULL;
    size_t k = c->parts[i]->ops->fields(c->parts[i]->self, &f);
    for (size_t j = 0; j < k && f != NULL; j++) {
      int seen = 0;
      for (size_t q = 0; q < c->nfields; q++) seen |= strcmp(c->fields[q], f[j]) == 0;
      if (!seen && c->nfields < COMPOSITE_MAX_FIELDS) c->fields[c->nfields++] = f[j];
    }
  }
}

/* ---- built-in instances ---- */

static uvotel_propagator_t g_tc = {&tc_ops, NULL, "tracecontext", 1, NULL};
static uvotel_propagator_t g_bg = {&bg_ops, NULL, "baggage", 1, NULL};
static uvotel_propagator_t g_none = {&none_ops, NULL, "none", 1, NULL};
static uvotel_propagator_t g_b3 = {&uvotel__b3_single_ops, NULL, "b3", 1, NULL};
static uvotel_propagator_t g_b3multi = {&uvotel__b3_multi_ops, NULL, "b3multi", 1, NULL};
static uvotel_propagator_t g_jaeger = {&uvotel__jaeger_ops, NULL, "jaeger", 1, NULL};
static uvotel_propagator_t *g_default_parts[2] = {&g_tc, &g_bg};
static composite_t g_default_comp = {
    2, 3, {"traceparent", "tracestate", "baggage"}, g_default_parts};
static uvotel_propagator_t g_default = {&comp_ops, &g_default_comp, "composite", 1, NULL};

UVOTEL__API uvotel_propagator_t *uvotel_propagator_tracecontext(void) {
  return &g_tc;
}
UVOTEL__API uvotel_propagator_t *uvotel_propagator_baggage(void) {
  return &g_bg;
}
UVOTEL__API uvotel_propagator_t *uvotel_propagator_none(void) {
  return &g_none;
}

UVOTEL__API uvotel_propagator_t *uvotel_propagator_b3(void) {
  return &g_b3;
}

UVOTEL__API uvotel_propagator_t *uvotel_propagator_b3multi(void) {
  return &g_b3multi;
}

UVOTEL__API uvotel_propagator_t *uvotel_propagator_jaeger(void) {
  return &g_jaeger;
}
UVOTEL__API uvotel_propagator_t *uvotel_propagator_default(void) {
  return &g_default;
}

static uvotel_propagator_t *_Atomic g_global;

UVOTEL__API void uvotel_propagator_set_global(uvotel_propagator_t *p) {
  atomic_store(&g_global, p);
}

UVOTEL__API uvotel_propagator_t *uvotel_propagator_global(void) {
  uvotel_propagator_t *p = atomic_load(&g_global);
  return p != NULL ? p : &g_default;
}

/* ---- generic ---- */

UVOTEL__API uvotel_propagator_t *uvotel_propagator_create(const char *name,
                                                          const uvotel_propagator_ops_t *ops,
                                                          void *self) {
  if (ops == NULL || ops->inject == NULL || ops->extract == NULL || ops->fields == NULL) {
    return NULL;
  }
  uvotel_propagator_t *p = uvotel_calloc(1, sizeof *p);
  if (p == NULL) return NULL;
  p->name_owned = uvotel_strdup(name ? name : "");
  if (p->name_owned == NULL) {
    uvotel_free(p);
    return NULL;
  }
  p->ops = ops;
  p->self = self;
  p->name = p->name_owned;
  return p;
}

UVOTEL__API void uvotel_propagator_free(uvotel_propagator_t *p) {
  if (p == NULL || p->is_static) return;
  if (p->ops->free != NULL) p->ops->free(p->self);
  uvotel_free(p->name_owned);
  uvotel_free(p);
}

UVOTEL__API int uvotel_propagator_composite_create(uvotel_propagator_t *const *parts, size_t n,
                                                   uvotel_propagator_t **out) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (parts == NULL && n > 0) return UVOTEL_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (parts[i] == NULL) return UVOTEL_EINVAL;
  }
  composite_t *c = uvotel_calloc(1, sizeof *c + n * sizeof(uvotel_propagator_t *));
  if (c == NULL) return UVOTEL_ENOMEM;
  c->n = n;
  c->parts = (uvotel_propagator_t **)(c + 1);
  for (size_t i = 0; i < n; i++) c->parts[i] = parts[i];
  comp_collect_fields(c);
  uvotel_propagator_t *p = uvotel_propagator_create("composite", &comp_ops, c);
  if (p == NULL) {
    uvotel_free(c);
    return UVOTEL_ENOMEM;
  }
  *out = p;
  return 0;
}

UVOTEL__API int uvotel_propagator_from_names(const char *names, uvotel_propagator_t **out,
                                             size_t *bad_pos) {
  if (out == NULL) return UVOTEL_EINVAL;
  *out = NULL;
  if (names == NULL) {
    *out = &g_default;
    return 0;
  }
  /* OTEL_PROPAGATORS names this library implements, and the known ones it does not. */
  static const struct {
    const char *name;
    uvotel_propagator_t *p;
  } known[] = {{"tracecontext", &g_tc},
               {"baggage", &g_bg},
               {"b3", &g_b3},
               {"b3multi", &g_b3multi},
               {"jaeger", &g_jaeger}};
  static const char *const unsupported[] = {"xray", "ottrace"};
  uvotel_propagator_t *chosen[sizeof known / sizeof *known];
  size_t nchosen = 0, nwords = 0;
  /* the one list and name parser (uvotel/env.h): trimmed items, empty ones skipped, names
   * case-insensitive */
  const char *cur = names, *w;
  size_t wl;
  while (uvotel_env_list_next(&cur, &w, &wl)) {
    nwords++;
    if (uvotel_env_name_eq(w, wl, "none")) continue;
    uvotel_propagator_t *pick = NULL;
    for (size_t i = 0; i < sizeof known / sizeof *known && pick == NULL; i++) {
      if (uvotel_env_name_eq(w, wl, known[i].name)) pick = known[i].p;
    }
    if (pick == NULL) {
      int is_known = 0;
      for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++) {
        is_known |= uvotel_env_name_eq(w, wl, unsupported[i]);
      }
      if (bad_pos != NULL) *bad_pos = (size_t)(w - names);
      return is_known ? UVOTEL_ENOTSUP : UVOTEL_ENOENT;
    }
    int dup = 0;
    for (size_t i = 0; i < nchosen; i++) dup |= chosen[i] == pick;
    if (!dup) chosen[nchosen++] = pick;
  }
  if (nwords == 0) {
    *out = &g_default;
  } else if (nchosen == 0) {
    *out = &g_none;
  } else if (nchosen == 1) {
    *out = chosen[0];
  } else if (nchosen == 2 && chosen[0] == &g_tc && chosen[1] == &g_bg) {
    *out = &g_default;
  } else {
    return uvotel_propagator_composite_create(chosen, nchosen, out);
  }
  return 0;
}

UVOTEL__API const char *uvotel_propagator_name(const uvotel_propagator_t *p) {
  return p ? p->name : "";
}

UVOTEL__API int uvotel_propagator_inject(const uvotel_propagator_t *p,
                                         const uvotel_span_context_t *sc,
                                         const uvotel_baggage_t *baggage, void *carrier,
                                         const uvotel_carrier_setter_t *setter) {
  if (p == NULL || carrier == NULL || setter == NULL || setter->set == NULL) return UVOTEL_EINVAL;
  return p->ops->inject(p->self, sc, baggage, carrier, setter);
}

UVOTEL__API int uvotel_propagator_extract(const uvotel_propagator_t *p, void *carrier,
                                          const uvotel_carrier_getter_t *getter,
                                          uvotel_extracted_t *x) {
  if (p == NULL || getter == NULL || getter->get == NULL || x == NULL) return UVOTEL_EINVAL;
  return p->ops->extract(p->self, carrier, getter, x);
}

UVOTEL__API size_t uvotel_propagator_fields(const uvotel_propagator_t *p, const char **names,
                                            size_t cap) {
  if (p == NULL) return 0;
  const char *const *f = NULL;
  size_t n = p->ops->fields(p->self, &f);
  for (size_t i = 0; i < n && i < cap && names != NULL && f != NULL; i++) names[i] = f[i];
  return n;
}
