/* Read spans back from the file exporter's OTLP/JSON lines (jansson; header only, include after
 * cmocka.h). otlp_json_load returns every span of every line in one array (json_decref it);
 * the attribute getters give "(unset)" / -1 for a missing key. */
#ifndef UVOTEL_TEST_OTLP_JSON_H
#define UVOTEL_TEST_OTLP_JSON_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every item of every line of an OTLP/JSON lines file, into one array (json_decref it): the
 * items arrays (e.g. "spans") of the inner arrays ("scopeSpans") of the outer ones
 * ("resourceSpans"); for logs resourceLogs / scopeLogs / logRecords. With_service: each item
 * gets its resource's service.name as "service" ("" when none). NULL when the file does not
 * exist; a line that is not JSON fails the test. */
static inline json_t *otlp_json_items(const char *path, const char *outer, const char *inner,
                                      const char *items, int with_service) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return NULL;
  json_t *all = json_array();
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    json_error_t err;
    json_t *req = json_loads(line, 0, &err);
    assert_non_null(req);
    size_t i, j, k, m;
    json_t *r, *s, *x, *a;
    json_array_foreach(json_object_get(req, outer), i, r) {
      const char *service = "";
      json_array_foreach(json_object_get(json_object_get(r, "resource"), "attributes"), m, a) {
        if (strcmp(json_string_value(json_object_get(a, "key")), "service.name") == 0) {
          service = json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
        }
      }
      json_array_foreach(json_object_get(r, inner), j, s) {
        json_array_foreach(json_object_get(s, items), k, x) {
          if (with_service) json_object_set_new(x, "service", json_string(service));
          json_array_append(all, x);
        }
      }
    }
    json_decref(req);
  }
  free(line);
  fclose(f);
  return all;
}

/* Every span of the file (which must exist). */
static inline json_t *otlp_json_load(const char *path) {
  json_t *all = otlp_json_items(path, "resourceSpans", "scopeSpans", "spans", 0);
  assert_non_null(all);
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
