/* Span attributes and the span arena: copies with limits (count, value length, UTF-8-safe
 * truncation), duplicate keys replacing earlier values, and the uvotel_span_set_attribute*
 * entry points. */
#include <stdlib.h>

#include "trace_internal.h"

/* ---- arena ---- */

void *uvotel__arena_alloc(uvotel_span_t *s, size_t size) {
  size = (size + 7u) & ~(size_t)7u;
  uvotel__chunk_t *c = s->arena_cur, *last = NULL;
  while (c != NULL && c->used + size > c->cap) {
    last = c;
    c = c->next;
  }
  if (c == NULL) {
    size_t cap = 1024;
    if (last != NULL && last->cap * 2 > cap) cap = last->cap * 2;
    if (cap < size) cap = size;
    c = uvotel_malloc(sizeof(uvotel__chunk_t) + cap);
    if (c == NULL) {
      s->arena_failed = 1;
      return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    if (last != NULL) {
      last->next = c;
    } else if (s->arena_first == NULL) {
      s->arena_first = c;
    } else {
      /* cur was NULL but chunks exist: append at the end */
      uvotel__chunk_t *e = s->arena_first;
      while (e->next != NULL) e = e->next;
      e->next = c;
    }
  }
  s->arena_cur = c;
  void *r = c->data + c->used;
  c->used += size;
  return r;
}

void uvotel__arena_reset(uvotel_span_t *s) {
  for (uvotel__chunk_t *c = s->arena_first; c != NULL; c = c->next) c->used = 0;
  s->arena_cur = s->arena_first;
  s->arena_failed = 0;
}

void uvotel__arena_free(uvotel_span_t *s) {
  uvotel__chunk_t *c = s->arena_first;
  while (c != NULL) {
    uvotel__chunk_t *n = c->next;
    uvotel_free(c);
    c = n;
  }
  s->arena_first = s->arena_cur = NULL;
}

const char *uvotel__arena_strdup(uvotel_span_t *s, const char *str, size_t len) {
  char *d = uvotel__arena_alloc(s, len + 1);
  if (d == NULL) return NULL;
  if (len != 0) memcpy(d, str, len);
  d[len] = '\0';
  return d;
}

/* ---- attribute copies ---- */

/* Byte length of the first `limit` characters of str (UTF-8; never splits a sequence). */
static size_t trunc_len(const char *str, size_t len, uint32_t limit) {
  if (limit == UVOTEL_LIMIT_UNLIMITED || len <= limit) return len;
  size_t i = 0;
  for (uint32_t chars = 0; i < len && chars < limit; chars++) {
    unsigned char c = (unsigned char)str[i];
    size_t step = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + step > len) step = len - i;
    i += step;
  }
  return i;
}

int uvotel__attr_valid(const uvotel_attribute_t *a) {
  if (a == NULL || a->key == NULL || a->key[0] == '\0') return 0;
  switch (a->value.type) {
    case UVOTEL_VALUE_STRING:
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      return 1;
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY:
      return a->value.len == 0 || a->value.u.sa != NULL;
    default:
      return 0;
  }
}

static int copy_value(uvotel_span_t *s, uvotel_value_t *dst, const uvotel_value_t *src,
                      uint32_t limit) {
  uvotel_value_t v = *src;
  switch (src->type) {
    case UVOTEL_VALUE_STRING: {
      const char *str = src->u.s != NULL ? src->u.s : "";
      size_t len = trunc_len(str, strlen(str), limit);
      v.u.s = uvotel__arena_strdup(s, str, len);
      v.len = (uint32_t)len;
      if (v.u.s == NULL) return -1;
      break;
    }
    case UVOTEL_VALUE_STRING_ARRAY: {
      const char **arr = uvotel__arena_alloc(s, sizeof(char *) * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      for (uint32_t i = 0; i < src->len; i++) {
        const char *str = src->u.sa[i] != NULL ? src->u.sa[i] : "";
        arr[i] = uvotel__arena_strdup(s, str, trunc_len(str, strlen(str), limit));
        if (arr[i] == NULL) return -1;
      }
      v.u.sa = arr;
      break;
    }
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      size_t el = src->type == UVOTEL_VALUE_BOOL_ARRAY ? sizeof(bool) : 8;
      void *arr = uvotel__arena_alloc(s, el * (src->len ? src->len : 1));
      if (arr == NULL) return -1;
      if (src->len) memcpy(arr, src->u.ia, el * src->len);
      v.u.ia = arr;
      break;
    }
    default:
      break;
  }
  *dst = v;
  return 0;
}

int uvotel__copy_attribute(uvotel_span_t *s, uvotel_attribute_t *dst, const uvotel_attribute_t *src,
                           uint32_t value_limit) {
  const char *key = uvotel__arena_strdup(s, src->key, strlen(src->key));
  if (key == NULL) return -1;
  if (copy_value(s, &dst->value, &src->value, value_limit) != 0) return -1;
  dst->key = key;
  return 0;
}

/* Copy a list of attributes into the arena: later duplicates replace earlier values, at most
 * `limit` distinct keys, the rest counted in *dropped. */
void uvotel__copy_attr_list(uvotel_span_t *s, const uvotel_attribute_t *src, size_t n,
                            uint32_t limit, uint32_t value_limit, const uvotel_attribute_t **out,
                            size_t *n_out, uint32_t *dropped) {
  *out = NULL;
  *n_out = 0;
  *dropped = 0;
  if (src == NULL || n == 0) return;
  size_t cap = n < limit ? n : limit;
  uvotel_attribute_t *arr = cap ? uvotel__arena_alloc(s, sizeof(uvotel_attribute_t) * cap) : NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!uvotel__attr_valid(&src[i])) {
      uvotel__misuse(s->provider, "invalid attribute");
      continue;
    }
    size_t j = 0;
    while (j < k && strcmp(arr[j].key, src[i].key) != 0) j++;
    if (j < k) {
      if (copy_value(s, &arr[j].value, &src[i].value, value_limit) != 0) (*dropped)++;
      continue;
    }
    if (k >= cap || arr == NULL) {
      (*dropped)++;
      continue;
    }
    if (uvotel__copy_attribute(s, &arr[k], &src[i], value_limit) != 0) {
      (*dropped)++;
      continue;
    }
    k++;
  }
  *out = arr;
  *n_out = k;
}

/* ---- span attributes ---- */

static void set_attr(uvotel_span_t *s, const uvotel_attribute_t *a) {
  if (UVOTEL__UNLIKELY(!uvotel__attr_valid(a))) {
    uvotel__misuse(s->provider, "invalid attribute");
    return;
  }
  const uvotel_span_limits_t *lim = &s->provider->limits;
  for (uint32_t i = 0; i < s->n_attrs; i++) {
    if (s->attrs[i].key[0] == a->key[0] && strcmp(s->attrs[i].key, a->key) == 0) {
      if (copy_value(s, &s->attrs[i].value, &a->value, lim->attribute_value_length) != 0) {
        s->dropped_attrs++;
      }
      return;
    }
  }
  if (s->n_attrs >= lim->attribute_count) {
    s->dropped_attrs++;
    return;
  }
  if (s->n_attrs == s->cap_attrs) {
    uint32_t cap = s->cap_attrs ? s->cap_attrs * 2 : 8;
    void *na = uvotel_realloc(s->attrs, sizeof(uvotel_attribute_t) * cap);
    if (na == NULL) {
      s->dropped_attrs++;
      return;
    }
    s->attrs = na;
    s->cap_attrs = cap;
  }
  if (uvotel__copy_attribute(s, &s->attrs[s->n_attrs], a, lim->attribute_value_length) != 0) {
    s->dropped_attrs++;
    return;
  }
  s->n_attrs++;
}

UVOTEL__API void uvotel_span_set_attribute(uvotel_span_t *s, const uvotel_attribute_t *attr) {
  if (!uvotel__span_writable(s, "set_attribute")) return;
  set_attr(s, attr);
}

UVOTEL__API void uvotel_span_set_attributes(uvotel_span_t *s, const uvotel_attribute_t *attrs,
                                            size_t n) {
  if (!uvotel__span_writable(s, "set_attributes")) return;
  if (attrs == NULL && n != 0) {
    uvotel__misuse(s->provider, "NULL attributes");
    return;
  }
  for (size_t i = 0; i < n; i++) set_attr(s, &attrs[i]);
}

UVOTEL__API void uvotel_span_set_attribute_str(uvotel_span_t *s, const char *key,
                                               const char *value) {
  if (!uvotel__span_writable(s, "set_attribute_str")) return;
  if (value == NULL) {
    uvotel__misuse(s->provider, "NULL attribute value");
    return;
  }
  uvotel_attribute_t a = UVOTEL_ATTR_STR(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_int(uvotel_span_t *s, const char *key, int64_t value) {
  if (!uvotel__span_writable(s, "set_attribute_int")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_INT(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_double(uvotel_span_t *s, const char *key, double value) {
  if (!uvotel__span_writable(s, "set_attribute_double")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_DOUBLE(key, value);
  set_attr(s, &a);
}

UVOTEL__API void uvotel_span_set_attribute_bool(uvotel_span_t *s, const char *key, bool value) {
  if (!uvotel__span_writable(s, "set_attribute_bool")) return;
  uvotel_attribute_t a = UVOTEL_ATTR_BOOL(key, value);
  set_attr(s, &a);
}
