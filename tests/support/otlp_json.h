/* Read spans back from the file exporter's OTLP/JSON lines (jansson; header only, include after
 * cmocka.h). otlp_json_load returns every span of every line in one array (json_decref it);
 * the attribute getters give "(unset)" / -1 for a missing key. */
#ifndef UVOTEL_TEST_OTLP_JSON_H
#define UVOTEL_TEST_OTLP_JSON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline json_t *otlp_json_load(const char *path) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    assert_non_null(req);
    size_t i, j, k;
    json_t *rs, *ss, *sp;
    json_array_foreach(json_object_get(req, "resourceSpans"), i, rs) {
      json_array_foreach(json_object_get(rs, "scopeSpans"), j, ss) {
        json_array_foreach(json_object_get(ss, "spans"), k, sp) json_array_append(all, sp);
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
}

/* A span's attribute value object ({"stringValue": ...}), or NULL. */
static inline json_t *otlp_json_attr(json_t *sp, const char *key) {
  size_t i;
  json_t *a;
  json_array_foreach(json_object_get(sp, "attributes"), i, a) {
    if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0) {
      return json_object_get(a, "value");
    }
  }
  return NULL;
}

static inline const char *otlp_json_attr_str(json_t *sp, const char *key) {
  json_t *v = otlp_json_attr(sp, key);
  const char *s = v != NULL ? json_string_value(json_object_get(v, "stringValue")) : NULL;
  return s != NULL ? s : "(unset)";
}

/* intValue is a string in OTLP/JSON (64-bit); a number is accepted too. */
static inline long long otlp_json_attr_int(json_t *sp, const char *key) {
  json_t *v = otlp_json_attr(sp, key);
  json_t *i = v != NULL ? json_object_get(v, "intValue") : NULL;
  if (i == NULL) return -1;
  return json_is_string(i) ? atoll(json_string_value(i)) : (long long)json_integer_value(i);
}

#endif
