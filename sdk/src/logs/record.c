/* Log records: the pool of record slots, their string arenas, and emitting. */
#include <stdio.h>
#include <strings.h>
#include <sys/types.h>

#include "logs_internal.h"

/* ---- severity ---- */

static const char *const k_sev_names[UVOTEL_SEVERITY_MAX + 1] = {
    "",       "TRACE",  "TRACE2", "TRACE3", "TRACE4", "DEBUG",  "DEBUG2", "DEBUG3", "DEBUG4",
    "INFO",   "INFO2",  "INFO3",  "INFO4",  "WARN",   "WARN2",  "WARN3",  "WARN4",  "ERROR",
    "ERROR2", "ERROR3", "ERROR4", "FATAL",  "FATAL2", "FATAL3", "FATAL4"};

UVOTEL__API const char *uvotel_severity_name(int severity) {
  return severity >= 0 && severity <= UVOTEL_SEVERITY_MAX ? k_sev_names[severity] : "";
}

UVOTEL__API int uvotel_severity_parse(const char *word, size_t n) {
  static const struct {
    const char *w;
    int sev;
  } words[] = {{"trace", 1},    {"debug", 5},  {"info", 9},       {"notice", 10}, {"warn", 13},
               {"warning", 13}, {"error", 17}, {"err", 17},       {"crit", 21},   {"critical", 21},
               {"alert", 22},   {"emerg", 23}, {"emergency", 23}, {"fatal", 21},  {"panic", 23}};
  if (word == NULL || n == 0 || n > 16) return 0;
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
    if (strlen(words[i].w) == n && strncasecmp(words[i].w, word, n) == 0) return words[i].sev;
  }
  for (int s = 1; s <= UVOTEL_SEVERITY_MAX; s++) {
    if (strlen(k_sev_names[s]) == n && strncasecmp(k_sev_names[s], word, n) == 0) return s;
  }
  return 0;
}

/* ---- misuse ---- */

void uvotel__log_misuse(uvotel_logger_provider_t *p, const char *what) {
  static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
  if (p != NULL) atomic_fetch_add_explicit(&p->misuse, 1, memory_order_relaxed);
  uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, UVOTEL_EINVAL, "logs: %s", what);
}

/* ---- pool ---- */

static inline uvotel__log_rec_t *slot_at(uvotel_logger_provider_t *p, uint32_t idx) {
  uvotel__log_rec_t *c =
      atomic_load_explicit(&p->chunks[idx >> UVOTEL__LOG_CHUNK_SHIFT], memory_order_acquire);
  return &c[idx & (UVOTEL__LOG_CHUNK - 1)];
}

static void pool_push_chain(uvotel_logger_provider_t *p, uvotel__log_rec_t *first,
                            uvotel__log_rec_t *last) {
  uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_relaxed);
  uint_fast64_t nh;
  do {
    atomic_store_explicit(&last->next_free, (uint32_t)head, memory_order_relaxed);
    nh = (((head >> 32) + 1) << 32) | (uint64_t)(first->index + 1);
  } while (!atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_release,
                                                  memory_order_relaxed));
}

/* Add a chunk of slots. Returns one slot for the caller, NULL when full or out of memory, or
 * (void *)1 when another thread grew meanwhile (retry). */
static uvotel__log_rec_t *pool_grow(uvotel_logger_provider_t *p) {
  pthread_mutex_lock(&p->mu);
  uint32_t n = atomic_load(&p->n_chunks);
  if ((uint32_t)atomic_load(&p->free_head) != 0) {
    pthread_mutex_unlock(&p->mu);
    return (uvotel__log_rec_t *)1;
  }
  if (n >= p->n_chunks_max) {
    pthread_mutex_unlock(&p->mu);
    return NULL;
  }
  uvotel__log_rec_t *c = uvotel_calloc(UVOTEL__LOG_CHUNK, sizeof(uvotel__log_rec_t));
  if (c == NULL) {
    pthread_mutex_unlock(&p->mu);
    return NULL;
  }
  for (uint32_t i = 0; i < UVOTEL__LOG_CHUNK; i++) {
    uvotel__log_rec_t *r = &c[i];
    r->index = n * UVOTEL__LOG_CHUNK + i;
    r->p = p;
    r->attrs = r->inl_attrs;
    r->cap_attrs = UVOTEL__LOG_INLINE_ATTRS;
    atomic_store_explicit(&r->next_free, i + 1 < UVOTEL__LOG_CHUNK ? r->index + 2 : 0,
                          memory_order_relaxed);
  }
  atomic_store_explicit(&p->chunks[n], c, memory_order_release);
  atomic_store(&p->n_chunks, n + 1);
  pool_push_chain(p, &c[1], &c[UVOTEL__LOG_CHUNK - 1]);
  pthread_mutex_unlock(&p->mu);
  return &c[0];
}

static uvotel__log_rec_t *pool_pop(uvotel_logger_provider_t *p) {
  for (;;) {
    uint_fast64_t head = atomic_load_explicit(&p->free_head, memory_order_acquire);
    uint32_t idx = (uint32_t)head;
    if (idx == 0) {
      uvotel__log_rec_t *r = pool_grow(p);
      if (r == (uvotel__log_rec_t *)1) continue;
      return r;
    }
    uvotel__log_rec_t *r = slot_at(p, idx - 1);
    uint32_t next = atomic_load_explicit(&r->next_free, memory_order_relaxed);
    uint_fast64_t nh = (((head >> 32) + 1) << 32) | next;
    if (atomic_compare_exchange_weak_explicit(&p->free_head, &head, nh, memory_order_acquire,
                                              memory_order_relaxed)) {
      return r;
    }
  }
}

void uvotel__log_pool_free(uvotel_logger_provider_t *p) {
  uint32_t n = atomic_load(&p->n_chunks);
  for (uint32_t i = 0; i < n; i++) {
    uvotel__log_rec_t *c = atomic_load(&p->chunks[i]);
    for (uint32_t k = 0; k < UVOTEL__LOG_CHUNK; k++) {
      uvotel__log_rec_t *r = &c[k];
      while (r->chunks != NULL) {
        uvotel__log_chunk_t *ch = r->chunks;
        r->chunks = ch->next;
        uvotel_free(ch);
      }
      if (r->attrs != r->inl_attrs) uvotel_free(r->attrs);
    }
    uvotel_free(c);
  }
  uvotel_free((void *)p->chunks);
}

static void zombie_done(uvotel_logger_provider_t *p, uint64_t n) {
  if (atomic_fetch_sub_explicit(&p->zombie, n, memory_order_acq_rel) == n) {
    uvotel__log_provider_free_memory(p);
  }
}

/* No emits run any more (the provider is being freed). A slot held now gets the zombie mark
 * atomically, so exactly the releases that take a marked slot to zero count down. */
void uvotel__log_provider_retire(uvotel_logger_provider_t *p) {
  uint64_t held = 0;
  uint32_t n = atomic_load(&p->n_chunks);
  for (uint32_t i = 0; i < n; i++) {
    uvotel__log_rec_t *c = atomic_load(&p->chunks[i]);
    for (uint32_t k = 0; k < UVOTEL__LOG_CHUNK; k++) {
      unsigned r = atomic_load(&c[k].refs);
      while (r != 0 && !(r & UVOTEL__LOG_ZOMBIE) &&
             !atomic_compare_exchange_weak(&c[k].refs, &r, r | UVOTEL__LOG_ZOMBIE)) {
      }
      if (r != 0 && !(r & UVOTEL__LOG_ZOMBIE)) held++;
    }
  }
  atomic_store(&p->zombie, held + 1);
  zombie_done(p, 1);
}

UVOTEL__API const uvotel_log_data_t *uvotel_log_data_retain(const uvotel_log_data_t *d) {
  if (d == NULL) return NULL;
  uvotel__log_rec_t *r = (uvotel__log_rec_t *)d;
  atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
  return d;
}

/* Drop one reference: 1 when the slot is now free for the pool, 0 otherwise (still held, or
 * the last reference of a zombie slot, which counts its provider down). */
static inline int rec_unref(uvotel__log_rec_t *r) {
  unsigned old = atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel);
  if (UVOTEL__LIKELY(old == 1)) return 1;
  if (UVOTEL__UNLIKELY(old == (UVOTEL__LOG_ZOMBIE | 1u))) zombie_done(r->p, 1);
  return 0;
}

UVOTEL__API void uvotel_log_data_release(const uvotel_log_data_t *d) {
  if (d == NULL) return;
  uvotel__log_rec_t *r = (uvotel__log_rec_t *)d;
  if (rec_unref(r)) pool_push_chain(r->p, r, r);
}

void uvotel__log_release_many(const uvotel_log_data_t *const *recs, size_t n) {
  uvotel__log_rec_t *first = NULL, *last = NULL;
  for (size_t i = 0; i < n; i++) {
    uvotel__log_rec_t *r = (uvotel__log_rec_t *)recs[i];
    if (!rec_unref(r)) continue;
    if (first != NULL && first->p != r->p) {
      pool_push_chain(first->p, first, last);
      first = NULL;
    }
    if (first == NULL) {
      first = last = r;
    } else {
      atomic_store_explicit(&last->next_free, r->index + 1, memory_order_relaxed);
      last = r;
    }
  }
  if (first != NULL) pool_push_chain(first->p, first, last);
}

/* ---- arena ---- */

static void arena_reset(uvotel__log_rec_t *r) {
  r->cur = r->inl;
  r->cur_cap = sizeof r->inl;
  r->cur_used = 0;
  r->cur_chunk = NULL;
}

/* Move to the next kept chunk with room for `need` bytes, or add one. 0 / -1. */
static int arena_next(uvotel__log_rec_t *r, size_t need) {
  uvotel__log_chunk_t *c = r->cur_chunk != NULL ? r->cur_chunk->next : r->chunks;
  uvotel__log_chunk_t *prev = r->cur_chunk;
  while (c != NULL && c->cap < need) {
    prev = c;
    c = c->next;
  }
  if (c == NULL) {
    size_t cap = need < 1024 ? 1024 : (need + 1023) & ~(size_t)1023;
    c = uvotel_malloc(sizeof *c + cap);
    if (c == NULL) return -1;
    c->cap = cap;
    c->next = NULL;
    if (prev == NULL) {
      c->next = r->chunks;
      r->chunks = c;
    } else {
      c->next = prev->next;
      prev->next = c;
    }
  }
  r->cur_chunk = c;
  r->cur = c->data;
  r->cur_cap = c->cap;
  r->cur_used = 0;
  return 0;
}

static void *arena_alloc(uvotel__log_rec_t *r, size_t size, size_t align) {
  size_t off = (r->cur_used + align - 1) & ~(align - 1);
  if (off + size > r->cur_cap) {
    if (arena_next(r, size) != 0) return NULL;
    off = 0;
  }
  r->cur_used = off + size;
  return r->cur + off;
}

/* Byte length of at most `chars` UTF-8 characters of s[0..n). */
static size_t utf8_prefix(const char *s, size_t n, uint32_t chars) {
  if (chars == UVOTEL_LIMIT_UNLIMITED || n <= chars) return n;
  size_t i = 0;
  uint32_t c = 0;
  while (i < n) {
    if (((unsigned char)s[i] & 0xC0) != 0x80) {
      if (c == chars) break;
      c++;
    }
    i++;
  }
  return i;
}

static const char *arena_str(uvotel__log_rec_t *r, const char *s, size_t n, uint32_t *len_out) {
  char *d = arena_alloc(r, n + 1, 1);
  if (d == NULL) return NULL;
  memcpy(d, s, n);
  d[n] = '\0';
  if (len_out != NULL) *len_out = (uint32_t)n;
  return d;
}

static size_t elem_size(uvotel_value_type_t t) {
  switch (t) {
    case UVOTEL_VALUE_BOOL_ARRAY:
      return sizeof(bool);
    case UVOTEL_VALUE_INT_ARRAY:
      return sizeof(int64_t);
    case UVOTEL_VALUE_DOUBLE_ARRAY:
      return sizeof(double);
    default:
      return sizeof(char *);
  }
}

/* Copy a value into the record (input rules of uvotel_value_t; explicit_len: a STRING's len is
 * the byte count). 0 / -1 (out of memory or bad value). */
static int copy_value(uvotel__log_rec_t *r, uvotel_value_t *dst, const uvotel_value_t *src,
                      uint32_t limit, int explicit_len) {
  *dst = *src;
  switch (src->type) {
    case UVOTEL_VALUE_BOOL:
    case UVOTEL_VALUE_INT:
    case UVOTEL_VALUE_DOUBLE:
      return 0;
    case UVOTEL_VALUE_STRING: {
      if (src->u.s == NULL) return -1;
      size_t n = explicit_len ? src->len : strlen(src->u.s);
      n = utf8_prefix(src->u.s, n, limit);
      dst->u.s = arena_str(r, src->u.s, n, &dst->len);
      return dst->u.s != NULL ? 0 : -1;
    }
    case UVOTEL_VALUE_STRING_ARRAY:
    case UVOTEL_VALUE_BOOL_ARRAY:
    case UVOTEL_VALUE_INT_ARRAY:
    case UVOTEL_VALUE_DOUBLE_ARRAY: {
      if (src->len == 0) return 0;
      if (src->u.sa == NULL) return -1;
      size_t es = elem_size(src->type);
      void *arr = arena_alloc(r, es * src->len, 8);
      if (arr == NULL) return -1;
      if (src->type == UVOTEL_VALUE_STRING_ARRAY) {
        const char **sa = arr;
        for (uint32_t i = 0; i < src->len; i++) {
          const char *s = src->u.sa[i] != NULL ? src->u.sa[i] : "";
          sa[i] = arena_str(r, s, utf8_prefix(s, strlen(s), limit), NULL);
          if (sa[i] == NULL) return -1;
        }
      } else {
        memcpy(arr, src->u.sa, es * src->len);
      }
      dst->u.sa = arr;
      return 0;
    }
    default:
      return -1;
  }
}

static int attr_valid(const uvotel_attribute_t *a) {
  return a->key != NULL && a->key[0] != '\0' && a->value.type > UVOTEL_VALUE_NONE &&
         a->value.type <= UVOTEL_VALUE_DOUBLE_ARRAY;
}

/* Copy attributes with the provider's limits: later duplicates replace earlier values. */
static void copy_attrs(uvotel__log_rec_t *r, const uvotel_attribute_t *src, size_t n) {
  uvotel_logger_provider_t *p = r->p;
  uint32_t limit = p->limits.attribute_count;
  size_t cap = n < limit ? n : limit;
  if (cap > r->cap_attrs) {
    uvotel_attribute_t *a = uvotel_malloc(sizeof *a * cap);
    if (a != NULL) {
      if (r->attrs != r->inl_attrs) uvotel_free(r->attrs);
      r->attrs = a;
      r->cap_attrs = (uint32_t)cap;
    } else {
      cap = r->cap_attrs;
    }
  }
  size_t k = 0;
  uint32_t dropped = 0;
  for (size_t i = 0; i < n; i++) {
    if (!attr_valid(&src[i])) {
      uvotel__log_misuse(p, "invalid attribute (NULL/empty key or bad type)");
      continue;
    }
    size_t j = 0;
    while (j < k && (r->attrs[j].key[0] != src[i].key[0] || strcmp(r->attrs[j].key, src[i].key))) {
      j++;
    }
    if (j == k && k >= cap) {
      dropped++;
      continue;
    }
    uvotel_attribute_t *dst = &r->attrs[j];
    if (j == k) {
      uint32_t kl;
      dst->key = arena_str(r, src[i].key, strlen(src[i].key), &kl);
      if (dst->key == NULL) {
        dropped++;
        continue;
      }
    }
    if (copy_value(r, &dst->value, &src[i].value, p->limits.attribute_value_length, 0) != 0) {
      if (j == k) {
        dropped++;
        continue;
      }
      dst->value.type = UVOTEL_VALUE_STRING;
      dst->value.u.s = "";
      dst->value.len = 0;
      dropped++;
    }
    if (j == k) k++;
  }
  r->d.attrs = k ? r->attrs : NULL;
  r->d.n_attrs = k;
  r->d.dropped_attributes = dropped;
}

static char *put_u64(char *o, char *end, uint64_t v, unsigned base) {
  char tmp[24];
  int n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v != 0);
  if (end - o < n) return NULL;
  while (n > 0) *o++ = tmp[--n];
  return o;
}

/* printf for the conversions it does exactly as printf -- %% and %c %s %d %i %u %x with no
 * flags, width or precision, and the length modifiers l, ll, z -- into [o, o+room). The length
 * written (no NUL), or -1 for any other conversion or when it does not fit: the caller then
 * formats with vsnprintf from its own copy of the arguments. glibc's vsnprintf costs about
 * 100 ns even for "request %d done"; this is a few ns per conversion. */
static int fast_format(char *o, size_t room, const char *f, va_list ap) {
  char *start = o, *end = o + room - 1; /* room for the NUL */
  if (room == 0) return -1;
  for (; *f != '\0'; f++) {
    if (*f != '%') {
      if (o == end) return -1;
      *o++ = *f;
      continue;
    }
    f++;
    int lm = 0; /* 0 int, 1 long, 2 long long, 3 size_t */
    if (*f == 'l') {
      lm = f[1] == 'l' ? 2 : 1;
      f += lm;
    } else if (*f == 'z') {
      lm = 3;
      f++;
    }
    switch (*f) {
      case '%':
        if (o == end) return -1;
        *o++ = '%';
        break;
      case 'c':
        if (o == end) return -1;
        *o++ = (char)va_arg(ap, int);
        break;
      case 's': {
        const char *s = va_arg(ap, const char *);
        if (s == NULL) s = "(null)";
        size_t n = strlen(s);
        if ((size_t)(end - o) < n) return -1;
        memcpy(o, s, n);
        o += n;
        break;
      }
      case 'd':
      case 'i': {
        int64_t v = lm == 0   ? va_arg(ap, int)
                    : lm == 1 ? va_arg(ap, long)
                    : lm == 2 ? va_arg(ap, long long)
                              : (int64_t)va_arg(ap, ssize_t);
        uint64_t u = (uint64_t)v;
        if (v < 0) {
          if (o == end) return -1;
          *o++ = '-';
          u = 0 - u;
        }
        if ((o = put_u64(o, end, u, 10)) == NULL) return -1;
        break;
      }
      case 'u':
      case 'x': {
        uint64_t u = lm == 0   ? va_arg(ap, unsigned)
                     : lm == 1 ? va_arg(ap, unsigned long)
                     : lm == 2 ? va_arg(ap, unsigned long long)
                               : va_arg(ap, size_t);
        if ((o = put_u64(o, end, u, *f == 'x' ? 16 : 10)) == NULL) return -1;
        break;
      }
      default:
        return -1;
    }
  }
  *o = '\0';
  return (int)(o - start);
}

/* Format into the arena as the string body (the attribute limits do not apply to bodies). */
static void format_body(uvotel__log_rec_t *r, const char *fmt, va_list ap) {
  size_t room = r->cur_cap - r->cur_used;
  va_list aq;
  va_copy(aq, ap);
  int n = fast_format(r->cur + r->cur_used, room, fmt, aq);
  va_end(aq);
  if (n < 0) {
    va_copy(aq, ap);
    n = vsnprintf(r->cur + r->cur_used, room, fmt, aq);
    va_end(aq);
  }
  if (n < 0) n = 0;
  char *s;
  if ((size_t)n < room) {
    s = r->cur + r->cur_used;
    r->cur_used += (size_t)n + 1;
  } else if (arena_next(r, (size_t)n + 1) == 0) {
    s = r->cur;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    r->cur_used = (size_t)n + 1;
  } else {
    /* out of memory: keep what fitted */
    s = r->cur + r->cur_used;
    n = room > 0 ? (int)room - 1 : 0;
    if (room == 0) s = (char *)"";
    r->cur_used = r->cur_cap;
  }
  r->d.body.type = UVOTEL_VALUE_STRING;
  r->d.body.u.s = s;
  r->d.body.len = (uint32_t)n;
}

/* ---- emit ---- */

/* Take a slot and fill the common fields; NULL when refused (counted, *rc set). */
static uvotel__log_rec_t *rec_begin(uvotel_logger_t *l, int *severity, int *rc) {
  if (UVOTEL__UNLIKELY(l == NULL)) {
    uvotel__log_misuse(NULL, "NULL logger");
    *rc = UVOTEL_EINVAL;
    return NULL;
  }
  uvotel_logger_provider_t *p = l->p;
  if (UVOTEL__UNLIKELY(atomic_load_explicit(&p->shut, memory_order_acquire))) {
    atomic_fetch_add_explicit(&p->after_shutdown, 1, memory_order_relaxed);
    *rc = UVOTEL_ESHUTDOWN;
    return NULL;
  }
  *rc = 0;
  if (p->n_procs == 0) return NULL;
  if (UVOTEL__UNLIKELY(*severity < 0 || *severity > UVOTEL_SEVERITY_MAX)) {
    uvotel__log_misuse(p, "severity out of range (0..24)");
    *severity = 0;
  }
  uvotel__log_rec_t *r = pool_pop(p);
  if (UVOTEL__UNLIKELY(r == NULL)) {
    static uvotel_diag_limit_t limit = UVOTEL_DIAG_LIMIT_INIT(5000);
    uint64_t n = atomic_fetch_add_explicit(&p->pool_exhausted, 1, memory_order_relaxed) + 1;
    uvotel_diag_limited(&limit, UVOTEL_DIAG_WARN, UVOTEL_ENOMEM,
                        "logs: %llu records dropped so far: all %u record slots in use "
                        "(max_records)",
                        (unsigned long long)n, p->max_records);
    *rc = UVOTEL_ENOMEM;
    return NULL;
  }
  atomic_store_explicit(&r->refs, 1, memory_order_relaxed);
  arena_reset(r);
  uvotel_log_data_t *d = &r->d;
  d->severity = *severity;
  d->severity_text = k_sev_names[*severity];
  d->body.type = UVOTEL_VALUE_NONE;
  d->body.len = 0;
  d->attrs = NULL;
  d->n_attrs = 0;
  d->dropped_attributes = 0;
  d->time_unix_ns = 0;
  d->observed_unix_ns = 0;
  d->resource = p->resource;
  d->scope = &l->scope;
  return r;
}

static void set_context(uvotel__log_rec_t *r, const uvotel_span_context_t *given) {
  uvotel_span_context_t sc;
  if (given == NULL) {
    uvotel_span_t *s = uvotel_current_span();
    if (s == NULL) {
      memset(&r->d.trace_id, 0, sizeof r->d.trace_id);
      memset(&r->d.span_id, 0, sizeof r->d.span_id);
      r->d.trace_flags = 0;
      return;
    }
    sc = uvotel_span_context(s);
    given = &sc;
  }
  if (uvotel_span_context_is_valid(given)) {
    r->d.trace_id = given->trace_id;
    r->d.span_id = given->span_id;
    r->d.trace_flags = given->flags;
  } else {
    memset(&r->d.trace_id, 0, sizeof r->d.trace_id);
    memset(&r->d.span_id, 0, sizeof r->d.span_id);
    r->d.trace_flags = 0;
  }
}

static int rec_finish(uvotel__log_rec_t *r) {
  uvotel_logger_provider_t *p = r->p;
  if (r->d.observed_unix_ns == 0) r->d.observed_unix_ns = uvotel__now_ns();
  uint32_t shard = uvotel__shard();
  uvotel__count(&p->emitted[shard].n, shard);
  size_t n = p->n_procs;
  for (size_t i = 0; i + 1 < n; i++) p->procs[i]->ops->on_emit(p->procs[i]->self, &r->d);
  uvotel_log_processor_t *last = p->procs[n - 1];
  if (UVOTEL__LIKELY(uvotel__log_is_batch(last))) {
    uvotel__log_batch_adopt(last, &r->d); /* takes our reference */
  } else {
    last->ops->on_emit(last->self, &r->d);
    uvotel_log_data_release(&r->d);
  }
  return 0;
}

UVOTEL__API int uvotel_log_emit(uvotel_logger_t *l, const uvotel_log_record_options_t *rec) {
  if (rec == NULL) {
    uvotel__log_misuse(l != NULL ? l->p : NULL, "NULL record");
    return UVOTEL_EINVAL;
  }
  int sev = rec->severity, rc;
  uvotel__log_rec_t *r = rec_begin(l, &sev, &rc);
  if (r == NULL) return rc;
  uvotel_logger_provider_t *p = l->p;
  if (rec->severity_text != NULL) {
    r->d.severity_text = arena_str(r, rec->severity_text, strlen(rec->severity_text), NULL);
    if (r->d.severity_text == NULL) r->d.severity_text = "";
  }
  if (rec->body.type != UVOTEL_VALUE_NONE) {
    if (copy_value(r, &r->d.body, &rec->body, UVOTEL_LIMIT_UNLIMITED,
                   (rec->flags & UVOTEL_LOG_BODY_LEN) != 0) != 0) {
      r->d.body.type = UVOTEL_VALUE_NONE;
      uvotel__log_misuse(p, "bad body value (NULL string or unknown type)");
    }
  }
  if (rec->n_attrs > 0) {
    if (rec->attrs == NULL) {
      uvotel__log_misuse(p, "NULL attrs with n_attrs > 0");
    } else {
      copy_attrs(r, rec->attrs, rec->n_attrs);
    }
  }
  r->d.time_unix_ns = rec->time_unix_ns;
  r->d.observed_unix_ns = rec->observed_unix_ns;
  set_context(r, rec->context);
  return rec_finish(r);
}

static int log_fmt(uvotel_logger_t *l, int severity, const uvotel_attribute_t *attrs, size_t n,
                   const char *fmt, va_list ap) {
  if (fmt == NULL) {
    uvotel__log_misuse(l != NULL ? l->p : NULL, "NULL format");
    return UVOTEL_EINVAL;
  }
  int rc;
  uvotel__log_rec_t *r = rec_begin(l, &severity, &rc);
  if (r == NULL) return rc;
  format_body(r, fmt, ap);
  if (n > 0) {
    if (attrs == NULL) {
      uvotel__log_misuse(l->p, "NULL attrs with n > 0");
    } else {
      copy_attrs(r, attrs, n);
    }
  }
  r->d.time_unix_ns = r->d.observed_unix_ns = uvotel__now_ns();
  set_context(r, NULL);
  return rec_finish(r);
}

UVOTEL__API int uvotel_logv(uvotel_logger_t *l, int severity, const char *fmt, va_list ap) {
  return log_fmt(l, severity, NULL, 0, fmt, ap);
}

UVOTEL__API int uvotel_log(uvotel_logger_t *l, int severity, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = log_fmt(l, severity, NULL, 0, fmt, ap);
  va_end(ap);
  return rc;
}

UVOTEL__API int uvotel_log_attrs(uvotel_logger_t *l, int severity, const uvotel_attribute_t *attrs,
                                 size_t n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = log_fmt(l, severity, attrs, n, fmt, ap);
  va_end(ap);
  return rc;
}
