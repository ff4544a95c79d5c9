/* Test carriers for the propagation tests: an output carrier that records what inject sets, and a
 * header-list builder for extract. Plain malloc (not uvotel's allocator), so leak accounting sees
 * only the library. */
#ifndef UVOTEL_TEST_PROP_CARRIER_H
#define UVOTEL_TEST_PROP_CARRIER_H

#include <stdlib.h>
#include <string.h>

#include "uvotel.h"

#define OUT_MAX 8

typedef struct out_carrier_s {
  char *name[OUT_MAX];
  char *value[OUT_MAX];
  size_t len[OUT_MAX];
  int n;
  int sets;    /* set calls */
  int fail_rc; /* nonzero: set returns it */
} out_carrier_t;

static int out_set(void *carrier, const char *name, const char *value, size_t len) {
  out_carrier_t *c = carrier;
  c->sets++;
  if (c->fail_rc) return c->fail_rc;
  if (value[len] != '\0') return UVOTEL_EINVAL; /* the contract: NUL-terminated */
  int i = 0;
  while (i < c->n && strcmp(c->name[i], name) != 0) i++;
  if (i == c->n) {
    if (c->n == OUT_MAX) return UVOTEL_ERANGE;
    c->name[c->n++] = strdup(name);
  } else {
    free(c->value[i]);
  }
  c->value[i] = malloc(len + 1);
  memcpy(c->value[i], value, len + 1);
  c->len[i] = len;
  return 0;
}

static const uvotel_carrier_setter_t out_setter = {out_set};

/* The value set for name, or NULL. */
static inline const char *out_get(const out_carrier_t *c, const char *name) {
  for (int i = 0; i < c->n; i++) {
    if (strcmp(c->name[i], name) == 0) return c->value[i];
  }
  return NULL;
}

static inline void out_free(out_carrier_t *c) {
  for (int i = 0; i < c->n; i++) {
    free(c->name[i]);
    free(c->value[i]);
  }
  memset(c, 0, sizeof *c);
}

#define IN_MAX 64

typedef struct in_carrier_s {
  uvotel_header_t h[IN_MAX];
  uvotel_header_list_t list;
} in_carrier_t;

static inline void in_init(in_carrier_t *c) {
  memset(c, 0, sizeof *c);
  c->list.items = c->h;
}

/* Add a header line; strings are borrowed. */
static inline void in_add(in_carrier_t *c, const char *name, const char *value, size_t vlen) {
  if (c->list.n == IN_MAX) abort();
  uvotel_header_t *h = &c->h[c->list.n++];
  h->name.ptr = name;
  h->name.len = strlen(name);
  h->value.ptr = value;
  h->value.len = vlen;
}

#endif
