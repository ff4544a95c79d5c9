/* uvotel/propagation.h: every public function, each bad input (NULL, overlong, invalid
 * characters), carriers returning several values, allocation balance and the zero-allocation
 * hot paths. The W3C edge cases live in test_propagation_conformance.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <uv.h>

#include "counting_alloc.h"
#include "prop_carrier.h"
#include "uvotel.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

typedef struct fix_s {
  uv_loop_t loop;
  long live0;
} fix_t;

static int setup(void **state) {
  fix_t *f = calloc(1, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->live0 = counting_alloc_stats().live;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fix_t *f = *state;
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  free(f);
  return 0;
}

static char *repeat(char c, size_t n) {
  char *s = malloc(n + 1);
  memset(s, c, n);
  s[n] = '\0';
  return s;
}

static void assert_ts_parse_rc(const char *s, int want) {
  uvotel_trace_state_t *ts = (uvotel_trace_state_t *)1;
  int rc = uvotel_trace_state_parse(s, strlen(s), &ts);
  if (rc != want) fail_msg("tracestate '%s': %d, want %d", s, rc, want);
  if (rc < 0) assert_null(ts);
  uvotel_trace_state_release(ts);
}

/* ---- tracestate ---- */

static void test_trace_state_parse(void **state) {
  (void)state;
  uvotel_trace_state_t *ts;
  const char *in = " \tcongo=t61rcWkgMzE ,, rojo=00f067aa0ba902b7,vendor@tenant=x y\t";
  assert_int_equal(uvotel_trace_state_parse(in, strlen(in), &ts), 0);
  assert_int_equal(uvotel_trace_state_count(ts), 3);
  size_t len;
  assert_string_equal(uvotel_trace_state_str(ts, &len),
                      "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,vendor@tenant=x y");
  assert_int_equal(len, strlen("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7,vendor@tenant=x y"));
  assert_string_equal(uvotel_trace_state_get(ts, "rojo", &len), "00f067aa0ba902b7");
  assert_int_equal(len, 16);
  assert_string_equal(uvotel_trace_state_get(ts, "vendor@tenant", NULL), "x y");
  assert_null(uvotel_trace_state_get(ts, "absent", NULL));
  assert_null(uvotel_trace_state_get(ts, NULL, NULL));
  assert_null(uvotel_trace_state_get(NULL, "rojo", NULL));
  uvotel_str_t k, v;
  assert_int_equal(uvotel_trace_state_at(ts, 0, &k, &v), 0);
  assert_int_equal(k.len, 5);
  assert_memory_equal(k.ptr, "congo", 5);
  assert_int_equal(k.ptr[5], '\0');
  assert_int_equal(uvotel_trace_state_at(ts, 3, &k, &v), UVOTEL_ENOENT);
  assert_int_equal(uvotel_trace_state_at(NULL, 0, &k, &v), UVOTEL_ENOENT);
  assert_int_equal(uvotel_trace_state_at(ts, 0, NULL, &v), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_at(ts, 0, &k, NULL), UVOTEL_EINVAL);
  /* retain/release: two references, two releases */
  assert_ptr_equal(uvotel_trace_state_retain(ts), ts);
  uvotel_trace_state_release(ts);
  uvotel_trace_state_release(ts);
  assert_null(uvotel_trace_state_retain(NULL));
  uvotel_trace_state_release(NULL);
  assert_int_equal(uvotel_trace_state_count(NULL), 0);
  assert_string_equal(uvotel_trace_state_str(NULL, &len), "");
  assert_int_equal(len, 0);
  /* empty and whitespace-only: no list, no error */
  ts = (uvotel_trace_state_t *)1;
  assert_int_equal(uvotel_trace_state_parse(" , \t,", 5, &ts), 0);
  assert_null(ts);
  /* duplicates: the first wins; strict mode rejects */
  assert_int_equal(uvotel_trace_state_parse("a=1,b=2,a=3", 11, &ts), 0);
  assert_string_equal(uvotel_trace_state_str(ts, NULL), "a=1,b=2");
  uvotel_trace_state_release(ts);
  uvotel_str_t line = {"a=1,a=2", 7};
  assert_int_equal(uvotel_trace_state_parse_lines(&line, 1, UVOTEL_TRACE_STATE_STRICT, &ts),
                   UVOTEL_EPARSE);
  assert_null(ts);
}

static void test_trace_state_bad_input(void **state) {
  (void)state;
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse(NULL, 3, &ts), UVOTEL_EINVAL);
  assert_null(ts);
  assert_int_equal(uvotel_trace_state_parse("a=1", 3, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_parse_lines(NULL, 1, 0, &ts), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_parse_lines(NULL, 0, 0, &ts), 0);
  uvotel_str_t bad_line = {NULL, 4};
  assert_int_equal(uvotel_trace_state_parse_lines(&bad_line, 1, 0, &ts), UVOTEL_EINVAL);
  /* invalid characters */
  assert_ts_parse_rc("A=1", UVOTEL_EPARSE);
  assert_ts_parse_rc("a.b=1", UVOTEL_EPARSE);
  assert_ts_parse_rc("_a=1", UVOTEL_EPARSE);
  assert_ts_parse_rc("@a=1", UVOTEL_EPARSE);
  assert_ts_parse_rc("a=1=2", UVOTEL_EPARSE);
  assert_ts_parse_rc("a=", UVOTEL_EPARSE);
  assert_ts_parse_rc("=1", UVOTEL_EPARSE);
  assert_ts_parse_rc("a", UVOTEL_EPARSE);
  assert_ts_parse_rc("a=x\ty", UVOTEL_EPARSE);
  assert_ts_parse_rc("a=\x7f", UVOTEL_EPARSE);
  assert_ts_parse_rc("a=\xc3\xa4", UVOTEL_EPARSE);
  assert_ts_parse_rc("a =1", UVOTEL_EPARSE);
  assert_ts_parse_rc("ok=1,a=\x01", UVOTEL_EPARSE);
  /* lengths: key and value up to 256 */
  char *k256 = repeat('k', 256), *k257 = repeat('k', 257), *v256 = repeat('v', 256),
       *v257 = repeat('v', 257);
  char buf[600];
  snprintf(buf, sizeof buf, "%s=1", k256);
  assert_ts_parse_rc(buf, 0);
  snprintf(buf, sizeof buf, "%s=1", k257);
  assert_ts_parse_rc(buf, UVOTEL_EPARSE);
  snprintf(buf, sizeof buf, "a=%s", v256);
  assert_ts_parse_rc(buf, 0);
  snprintf(buf, sizeof buf, "a=%s", v257);
  assert_ts_parse_rc(buf, UVOTEL_EPARSE);
  free(k256), free(k257), free(v256), free(v257);
  /* members: 32 fine, 33 rejected */
  char list[400] = "";
  for (int i = 0; i < 33; i++) {
    char m[16];
    snprintf(m, sizeof m, "%sk%d=v", i ? "," : "", i);
    strcat(list, m);
    if (i == 31) assert_ts_parse_rc(list, 0);
  }
  assert_ts_parse_rc(list, UVOTEL_ERANGE);
}

static void test_trace_state_lines(void **state) {
  (void)state;
  uvotel_str_t lines[3] = {{"a=1,b=2", 7}, {NULL, 0}, {" c=3 ", 5}};
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse_lines(lines, 3, 0, &ts), 0);
  assert_string_equal(uvotel_trace_state_str(ts, NULL), "a=1,b=2,c=3");
  uvotel_trace_state_release(ts);
  /* the 32-member limit counts across lines */
  char l1[200] = "", l2[200] = "";
  for (int i = 0; i < 33; i++) {
    char m[16];
    snprintf(m, sizeof m, "k%d=v,", i);
    strcat(i < 16 ? l1 : l2, m);
  }
  uvotel_str_t two[2] = {{l1, strlen(l1)}, {l2, strlen(l2)}};
  assert_int_equal(uvotel_trace_state_parse_lines(two, 2, 0, &ts), UVOTEL_ERANGE);
}

static void test_trace_state_set_delete(void **state) {
  (void)state;
  uvotel_trace_state_t *a, *b, *c, *d;
  assert_int_equal(uvotel_trace_state_set(NULL, "x", "1", &a), 0);
  assert_string_equal(uvotel_trace_state_str(a, NULL), "x=1");
  assert_int_equal(uvotel_trace_state_set(a, "y@t", "2", &b), 0);
  assert_string_equal(uvotel_trace_state_str(b, NULL), "y@t=2,x=1"); /* new: front */
  assert_int_equal(uvotel_trace_state_set(b, "x", " 3", &c), 0);
  assert_string_equal(uvotel_trace_state_str(c, NULL), "x= 3,y@t=2"); /* updated: front */
  assert_string_equal(uvotel_trace_state_str(b, NULL), "y@t=2,x=1");  /* b unchanged */
  /* delete */
  assert_int_equal(uvotel_trace_state_delete(c, "y@t", &d), 0);
  assert_string_equal(uvotel_trace_state_str(d, NULL), "x= 3");
  uvotel_trace_state_t *e = (uvotel_trace_state_t *)1;
  assert_int_equal(uvotel_trace_state_delete(d, "x", &e), 0);
  assert_null(e);
  assert_int_equal(uvotel_trace_state_delete(d, "zz", &e), UVOTEL_ENOENT);
  assert_ptr_equal(e, d);
  uvotel_trace_state_release(e);
  assert_int_equal(uvotel_trace_state_delete(NULL, "zz", &e), UVOTEL_ENOENT);
  assert_null(e);
  /* bad input */
  assert_int_equal(uvotel_trace_state_set(a, "X", "1", &e), UVOTEL_EPARSE);
  assert_null(e);
  assert_int_equal(uvotel_trace_state_set(a, "x", "1 ", &e), UVOTEL_EPARSE);
  assert_int_equal(uvotel_trace_state_set(a, "x", "", &e), UVOTEL_EPARSE);
  assert_int_equal(uvotel_trace_state_set(a, "x", "a,b", &e), UVOTEL_EPARSE);
  char *long_v = repeat('v', 257);
  assert_int_equal(uvotel_trace_state_set(a, "x", long_v, &e), UVOTEL_EPARSE);
  free(long_v);
  assert_int_equal(uvotel_trace_state_set(a, NULL, "1", &e), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_set(a, "x", NULL, &e), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_set(a, "x", "1", NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_delete(a, NULL, &e), UVOTEL_EINVAL);
  assert_int_equal(uvotel_trace_state_delete(a, "x", NULL), UVOTEL_EINVAL);
  uvotel_trace_state_release(a);
  uvotel_trace_state_release(b);
  uvotel_trace_state_release(c);
  uvotel_trace_state_release(d);
  /* a full list: a new key drops the rightmost member */
  uvotel_trace_state_t *full = NULL;
  for (int i = 0; i < 32; i++) {
    char k[8];
    snprintf(k, sizeof k, "k%d", i);
    uvotel_trace_state_t *n;
    assert_int_equal(uvotel_trace_state_set(full, k, "v", &n), 0);
    uvotel_trace_state_release(full);
    full = n;
  }
  assert_int_equal(uvotel_trace_state_count(full), 32);
  uvotel_trace_state_t *more;
  assert_int_equal(uvotel_trace_state_set(full, "new", "v", &more), 0);
  assert_int_equal(uvotel_trace_state_count(more), 32);
  uvotel_str_t k, v;
  assert_int_equal(uvotel_trace_state_at(more, 0, &k, &v), 0);
  assert_memory_equal(k.ptr, "new", 3);
  assert_null(uvotel_trace_state_get(more, "k0", NULL)); /* the oldest (rightmost) went */
  assert_non_null(uvotel_trace_state_get(more, "k1", NULL));
  uvotel_trace_state_release(more);
  /* updating a key in a full list keeps all 32 */
  assert_int_equal(uvotel_trace_state_set(full, "k0", "w", &more), 0);
  assert_int_equal(uvotel_trace_state_count(more), 32);
  assert_string_equal(uvotel_trace_state_get(more, "k0", NULL), "w");
  uvotel_trace_state_release(more);
  uvotel_trace_state_release(full);
}

static void *ts_thread(void *arg) {
  uvotel_trace_state_t *ts = arg;
  for (int i = 0; i < 100000; i++) {
    uvotel_trace_state_retain(ts);
    uvotel_trace_state_release(ts);
  }
  uvotel_trace_state_release(ts); /* the reference handed to this thread */
  return NULL;
}

static void test_trace_state_threads(void **state) {
  (void)state;
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse("a=1", 3, &ts), 0);
  pthread_t th[4];
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pthread_create(&th[i], NULL, ts_thread, uvotel_trace_state_retain(ts)), 0);
  }
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  assert_string_equal(uvotel_trace_state_get(ts, "a", NULL), "1");
  uvotel_trace_state_release(ts); /* the last reference: freed (the leak check sees it) */
}

/* ---- traceparent ---- */

static void assert_tp_rc(const char *s, int want) {
  uvotel_span_context_t sc = {0};
  int rc = uvotel_traceparent_parse(s, strlen(s), &sc);
  if (rc != want) fail_msg("traceparent '%s': %d, want %d", s, rc, want);
}

static void test_traceparent(void **state) {
  (void)state;
  uvotel_span_context_t sc;
  memset(&sc, 0xee, sizeof sc);
  assert_int_equal(uvotel_traceparent_parse(TP, strlen(TP), &sc), 0);
  assert_int_equal(sc.trace_id.bytes[0], 0x4b);
  assert_int_equal(sc.trace_id.bytes[15], 0x36);
  assert_int_equal(sc.span_id.bytes[0], 0x00);
  assert_int_equal(sc.span_id.bytes[7], 0xb7);
  assert_int_equal(sc.flags, 1);
  assert_int_equal(sc.is_remote, 1);
  assert_null(sc.trace_state);
  assert_true(uvotel_span_context_is_valid(&sc));
  char buf[UVOTEL_TRACEPARENT_LEN + 1];
  assert_int_equal(uvotel_traceparent_format(&sc, buf), 0);
  assert_string_equal(buf, TP);
  /* unknown flags are dropped, random kept */
  sc.flags = 0xff;
  assert_int_equal(uvotel_traceparent_format(&sc, buf), 0);
  assert_string_equal(buf + 53, "03");
  const char *fut = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe-more-fields";
  assert_int_equal(uvotel_traceparent_parse(fut, strlen(fut), &sc), 0);
  assert_int_equal(sc.flags, UVOTEL_TRACE_FLAG_RANDOM);
  /* whitespace around is fine; a length is honoured (no NUL needed) */
  assert_tp_rc(" \t" TP "\t ", 0);
  assert_int_equal(uvotel_traceparent_parse(TP "garbage", 55, &sc), 0);
  /* bad input */
  assert_int_equal(uvotel_traceparent_parse(NULL, 55, &sc), UVOTEL_EINVAL);
  assert_int_equal(uvotel_traceparent_parse(TP, 55, NULL), UVOTEL_EINVAL);
  assert_tp_rc("", UVOTEL_EPARSE);
  assert_tp_rc(TP "-", UVOTEL_EPARSE); /* version 00 is exactly 55 */
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", UVOTEL_EPARSE);
  assert_tp_rc("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", UVOTEL_EPARSE);
  assert_tp_rc("00-00000000000000000000000000000000-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", UVOTEL_EPARSE);
  assert_tp_rc("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e47\xff\xff-00f067aa0ba902b7-01", UVOTEL_EPARSE);
  assert_tp_rc("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x", UVOTEL_EPARSE);
  assert_tp_rc("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 x", UVOTEL_EPARSE);
  char *longv = repeat('0', 5000);
  assert_tp_rc(longv, UVOTEL_EPARSE);
  free(longv);
  /* format: invalid contexts */
  uvotel_span_context_t zero = {0};
  assert_int_equal(uvotel_traceparent_format(&zero, buf), UVOTEL_EINVAL);
  assert_int_equal(uvotel_traceparent_format(NULL, buf), UVOTEL_EINVAL);
  assert_int_equal(uvotel_traceparent_format(&sc, NULL), UVOTEL_EINVAL);
  assert_false(uvotel_span_context_is_valid(NULL));
  assert_false(uvotel_span_context_is_valid(&zero));
}

/* ---- baggage ---- */

static void test_baggage_parse(void **state) {
  (void)state;
  uvotel_baggage_t *b;
  const char *in = " user=Am%C3%A9lie ; p1 ; p2 = a%20b , n=100%, z=%zz,e=";
  assert_int_equal(uvotel_baggage_parse(in, strlen(in), &b), 0);
  assert_int_equal(uvotel_baggage_count(b), 4);
  uvotel_baggage_entry_t e;
  assert_int_equal(uvotel_baggage_at(b, 0, &e), 0);
  assert_string_equal(e.key.ptr, "user");
  assert_string_equal(e.value.ptr, "Am\xc3\xa9lie");
  assert_int_equal(e.n_props, 2);
  assert_string_equal(e.props[0].key.ptr, "p1");
  assert_null(e.props[0].value.ptr);
  assert_string_equal(e.props[1].key.ptr, "p2");
  assert_string_equal(e.props[1].value.ptr, "a b");
  assert_string_equal(uvotel_baggage_get(b, "n", NULL), "100%"); /* lone % stays */
  assert_string_equal(uvotel_baggage_get(b, "z", NULL), "%zz");
  size_t len = 9;
  assert_string_equal(uvotel_baggage_get(b, "e", &len), "");
  assert_int_equal(len, 0);
  assert_null(uvotel_baggage_get(b, "nope", NULL));
  assert_null(uvotel_baggage_get(b, NULL, NULL));
  assert_null(uvotel_baggage_get(NULL, "n", NULL));
  assert_string_equal(uvotel_baggage_str(b, &len),
                      "user=Am%C3%A9lie;p1;p2=a%20b,n=100%25,z=%25zz,e=");
  assert_int_equal(len, strlen(uvotel_baggage_str(b, NULL)));
  assert_int_equal(uvotel_baggage_at(b, 4, &e), UVOTEL_ENOENT);
  assert_int_equal(uvotel_baggage_at(b, 0, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_at(NULL, 0, &e), UVOTEL_ENOENT);
  assert_ptr_equal(uvotel_baggage_retain(b), b);
  uvotel_baggage_release(b);
  uvotel_baggage_release(b);
  assert_null(uvotel_baggage_retain(NULL));
  uvotel_baggage_release(NULL);
  assert_int_equal(uvotel_baggage_count(NULL), 0);
  assert_string_equal(uvotel_baggage_str(NULL, &len), "");
  /* invalid UTF-8 after decoding: U+FFFD; a %00 byte is kept (lengths, not NUL) */
  assert_int_equal(uvotel_baggage_parse("k=a%FFb%C3,z=x%00y", 18, &b), 0);
  assert_string_equal(uvotel_baggage_get(b, "k", NULL),
                      "a\xef\xbf\xbd"
                      "b\xef\xbf\xbd");
  assert_int_equal(uvotel_baggage_get(b, "z", &len)[1], '\0');
  assert_int_equal(len, 3);
  uvotel_baggage_release(b);
  /* duplicate keys kept in order; get sees the last */
  assert_int_equal(uvotel_baggage_parse("k=1,k=2", 7, &b), 0);
  assert_int_equal(uvotel_baggage_count(b), 2);
  assert_string_equal(uvotel_baggage_get(b, "k", NULL), "2");
  uvotel_baggage_release(b);
}

static void test_baggage_bad_input(void **state) {
  (void)state;
  uvotel_baggage_t *b = (uvotel_baggage_t *)1;
  assert_int_equal(uvotel_baggage_parse(NULL, 1, &b), UVOTEL_EINVAL);
  assert_null(b);
  assert_int_equal(uvotel_baggage_parse("k=v", 3, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_parse_lines(NULL, 2, &b), UVOTEL_EINVAL);
  uvotel_str_t bad_line = {NULL, 2};
  assert_int_equal(uvotel_baggage_parse_lines(&bad_line, 1, &b), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_parse("", 0, &b), 0);
  assert_null(b);
  /* each invalid member is dropped and counted; the valid ones stay */
  const char *in =
      "a=1,=x,k y=2,b=sp ace,c=\"q\",d=back\\slash,e=caf\xc3\xa9,f=1;,g=2;;p,h;=1,"
      "i=ok;p=\x01,j=fine";
  assert_int_equal(uvotel_baggage_parse(in, strlen(in), &b), 10);
  assert_string_equal(uvotel_baggage_str(b, NULL), "a=1,j=fine");
  uvotel_baggage_release(b);
  /* everything invalid: nothing left */
  assert_int_equal(uvotel_baggage_parse("(=1", 3, &b), 1);
  assert_null(b);
}

static void test_baggage_limits(void **state) {
  (void)state;
  /* 181 members: the first 180 kept, one dropped */
  char *s = malloc(181 * 12 + 1);
  s[0] = '\0';
  for (int i = 0; i < 181; i++) sprintf(s + strlen(s), "%sk%03d=v", i ? "," : "", i);
  uvotel_baggage_t *b;
  assert_int_equal(uvotel_baggage_parse(s, strlen(s), &b), 1);
  assert_int_equal(uvotel_baggage_count(b), UVOTEL_BAGGAGE_MAX_MEMBERS);
  assert_null(uvotel_baggage_get(b, "k180", NULL));
  /* set on a full baggage: a new key is over the limit, an existing one is fine */
  uvotel_baggage_t *o = (uvotel_baggage_t *)1;
  assert_int_equal(uvotel_baggage_set(b, "new", "v", NULL, &o), UVOTEL_ERANGE);
  assert_null(o);
  assert_int_equal(uvotel_baggage_set(b, "k000", "w", NULL, &o), 0);
  assert_int_equal(uvotel_baggage_count(o), 180);
  uvotel_baggage_release(o);
  uvotel_baggage_release(b);
  free(s);
  /* bytes: an 8192-byte header is kept whole; a member that would pass 8192 is dropped whole */
  char *big = malloc(9000);
  memcpy(big, "a=", 2);
  memset(big + 2, 'x', 8190);
  big[8192] = '\0';
  assert_int_equal(uvotel_baggage_parse(big, 8192, &b), 0);
  size_t len;
  uvotel_baggage_str(b, &len);
  assert_int_equal(len, 8192);
  uvotel_baggage_release(b);
  strcpy(big + 8192, ",b=1");
  assert_int_equal(uvotel_baggage_parse(big, strlen(big), &b), 1);
  assert_int_equal(uvotel_baggage_count(b), 1);
  assert_null(uvotel_baggage_get(b, "b", NULL));
  uvotel_baggage_release(b);
  /* a small member first, then the big one: the big one is dropped, the small one kept */
  char *two = malloc(9100);
  sprintf(two, "b=1,%s", "a=");
  memset(two + 6, 'x', 8190);
  two[8196] = '\0';
  assert_int_equal(uvotel_baggage_parse(two, strlen(two), &b), 1);
  assert_string_equal(uvotel_baggage_str(b, NULL), "b=1");
  /* set: the byte limit holds (values are measured percent-encoded) */
  memset(big, ' ', 3000);
  big[3000] = '\0'; /* 9000 bytes encoded */
  assert_int_equal(uvotel_baggage_set(b, "big", big, NULL, &o), UVOTEL_ERANGE);
  uvotel_baggage_release(b);
  free(big);
  free(two);
}

static void test_baggage_set_remove(void **state) {
  (void)state;
  uvotel_baggage_t *a, *b, *c, *d;
  assert_int_equal(uvotel_baggage_set(NULL, "user", "Amélie Ö", NULL, &a), 0);
  assert_string_equal(uvotel_baggage_str(a, NULL), "user=Am%C3%A9lie%20%C3%96");
  assert_string_equal(uvotel_baggage_get(a, "user", NULL), "Amélie Ö");
  assert_int_equal(uvotel_baggage_set(a, "tier", "gold", "p1; p2 = x%2Cy", &b), 0);
  assert_string_equal(uvotel_baggage_str(b, NULL),
                      "user=Am%C3%A9lie%20%C3%96,tier=gold;p1;p2=x%2Cy");
  uvotel_baggage_entry_t e;
  assert_int_equal(uvotel_baggage_at(b, 1, &e), 0);
  assert_int_equal(e.n_props, 2);
  assert_string_equal(e.props[1].value.ptr, "x,y");
  /* replacing a key moves it to the end and drops duplicates */
  assert_int_equal(uvotel_baggage_set(b, "user", "bob", NULL, &c), 0);
  assert_string_equal(uvotel_baggage_str(c, NULL), "tier=gold;p1;p2=x%2Cy,user=bob");
  assert_string_equal(uvotel_baggage_get(b, "user", NULL), "Amélie Ö"); /* b unchanged */
  /* remove */
  assert_int_equal(uvotel_baggage_remove(c, "tier", &d), 0);
  assert_string_equal(uvotel_baggage_str(d, NULL), "user=bob");
  uvotel_baggage_t *e2 = (uvotel_baggage_t *)1;
  assert_int_equal(uvotel_baggage_remove(d, "user", &e2), 0);
  assert_null(e2);
  assert_int_equal(uvotel_baggage_remove(d, "absent", &e2), UVOTEL_ENOENT);
  assert_ptr_equal(e2, d);
  uvotel_baggage_release(e2);
  assert_int_equal(uvotel_baggage_remove(NULL, "absent", &e2), UVOTEL_ENOENT);
  assert_null(e2);
  /* bad input */
  assert_int_equal(uvotel_baggage_set(a, "bad key", "v", NULL, &e2), UVOTEL_EPARSE);
  assert_null(e2);
  assert_int_equal(uvotel_baggage_set(a, "", "v", NULL, &e2), UVOTEL_EPARSE);
  assert_int_equal(uvotel_baggage_set(a, "k", "v", "p;;q", &e2), UVOTEL_EPARSE);
  assert_int_equal(uvotel_baggage_set(a, "k", "v", "p=\"x\"", &e2), UVOTEL_EPARSE);
  assert_int_equal(uvotel_baggage_set(a, NULL, "v", NULL, &e2), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_set(a, "k", NULL, NULL, &e2), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_set(a, "k", "v", NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_remove(a, NULL, &e2), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_remove(a, "k", NULL), UVOTEL_EINVAL);
  /* empty properties string = none */
  assert_int_equal(uvotel_baggage_set(NULL, "k", "", "", &e2), 0);
  assert_string_equal(uvotel_baggage_str(e2, NULL), "k=");
  uvotel_baggage_release(e2);
  uvotel_baggage_release(a);
  uvotel_baggage_release(b);
  uvotel_baggage_release(c);
  uvotel_baggage_release(d);
}

static void *read_current(void *arg) {
  (void)arg;
  return (void *)uvotel_baggage_current_get("k", NULL);
}

static void test_baggage_context(void **state) {
  (void)state;
  assert_null(uvotel_baggage_current());
  assert_null(uvotel_baggage_current_get("k", NULL));
  uvotel_scope_t s1, s2, s3;
  assert_int_equal(uvotel_baggage_enter_set("k", "1", NULL, &s1), 0);
  assert_string_equal(uvotel_baggage_current_get("k", NULL), "1");
  assert_int_equal(uvotel_baggage_enter_set("j", "2", "p", &s2), 0);
  assert_string_equal(uvotel_baggage_str(uvotel_baggage_current(), NULL), "k=1,j=2;p");
  assert_int_equal(uvotel_baggage_enter_remove("k", &s3), 0);
  assert_null(uvotel_baggage_current_get("k", NULL));
  assert_int_equal(uvotel_scope_exit(&s3), 0);
  assert_string_equal(uvotel_baggage_current_get("k", NULL), "1");
  /* the current baggage is retained by the context: hold our own reference across exit */
  uvotel_baggage_t *held = uvotel_baggage_retain(uvotel_baggage_current());
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  assert_null(uvotel_baggage_current());
  assert_string_equal(uvotel_baggage_get(held, "j", NULL), "2");
  /* enter / run with an explicit baggage */
  assert_int_equal(uvotel_baggage_enter(held, &s1), 0);
  assert_ptr_equal(uvotel_baggage_current(), held);
  assert_int_equal(uvotel_baggage_enter(NULL, &s2), 0); /* NULL: no baggage in this scope */
  assert_null(uvotel_baggage_current());
  assert_int_equal(uvotel_scope_exit(&s2), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  assert_string_equal(uvotel_baggage_run(held, read_current, NULL), "1");
  assert_null(uvotel_baggage_run(held, NULL, NULL));
  assert_null(read_current(NULL));
  /* enter_remove of an absent key still enters a scope */
  assert_int_equal(uvotel_baggage_enter_remove("absent", &s1), 0);
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  /* a snapshot taken inside a scope keeps the baggage after the scope ends */
  assert_int_equal(uvotel_baggage_enter(held, &s1), 0);
  uvotel_snapshot_t *snap = uvotel_snapshot_capture();
  assert_int_equal(uvotel_scope_exit(&s1), 0);
  uvotel_baggage_release(held);
  assert_string_equal(uvotel_snapshot_run(snap, read_current, NULL), "1");
  assert_string_equal(
      uvotel_baggage_get(uvotel_snapshot_get(snap, uvotel_baggage_var()), "k", NULL), "1");
  uvotel_snapshot_release(snap);
  /* bad input: nothing entered */
  assert_int_equal(uvotel_baggage_enter(NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_enter_set("k", "v", NULL, NULL), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_enter_set("bad key", "v", NULL, &s1), UVOTEL_EPARSE);
  assert_int_equal(uvotel_baggage_enter_set(NULL, "v", NULL, &s1), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_enter_remove(NULL, &s1), UVOTEL_EINVAL);
  assert_int_equal(uvotel_baggage_enter_remove("k", NULL), UVOTEL_EINVAL);
  assert_null(uvotel_baggage_current());
  assert_int_equal(uvotel_scope_exit(&s1), UVOTEL_EINVAL); /* never entered */
}

/* ---- propagators and carriers ---- */

static void test_propagator_builtins(void **state) {
  (void)state;
  const char *f[8];
  assert_string_equal(uvotel_propagator_name(uvotel_propagator_tracecontext()), "tracecontext");
  assert_string_equal(uvotel_propagator_name(uvotel_propagator_baggage()), "baggage");
  assert_string_equal(uvotel_propagator_name(uvotel_propagator_none()), "none");
  assert_string_equal(uvotel_propagator_name(uvotel_propagator_default()), "composite");
  assert_string_equal(uvotel_propagator_name(NULL), "");
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_tracecontext(), f, 8), 2);
  assert_string_equal(f[0], "traceparent");
  assert_string_equal(f[1], "tracestate");
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_baggage(), f, 8), 1);
  assert_string_equal(f[0], "baggage");
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_none(), f, 8), 0);
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_default(), f, 1), 3);
  assert_string_equal(f[0], "traceparent");
  assert_int_equal(uvotel_propagator_fields(uvotel_propagator_default(), NULL, 0), 3);
  assert_int_equal(uvotel_propagator_fields(NULL, f, 8), 0);
  uvotel_propagator_free(uvotel_propagator_default()); /* built-ins: no-op */
  uvotel_propagator_free(NULL);

  /* inject + extract round trip through the default */
  uvotel_span_context_t sc;
  assert_int_equal(uvotel_traceparent_parse(TP, 55, &sc), 0);
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse("a=1,b=2", 7, &ts), 0);
  sc.trace_state = ts;
  uvotel_baggage_t *b;
  assert_int_equal(uvotel_baggage_parse("k=v;p", 5, &b), 0);
  out_carrier_t out = {0};
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, &out_setter),
                   0);
  assert_string_equal(out_get(&out, "traceparent"), TP);
  assert_string_equal(out_get(&out, "tracestate"), "a=1,b=2");
  assert_string_equal(out_get(&out, "baggage"), "k=v;p");
  in_carrier_t in;
  in_init(&in);
  for (int i = 0; i < out.n; i++) in_add(&in, out.name[i], out.value[i], out.len[i]);
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &uvotel_header_getter, &x),
      0);
  assert_memory_equal(x.span_context.trace_id.bytes, sc.trace_id.bytes, 16);
  assert_memory_equal(x.span_context.span_id.bytes, sc.span_id.bytes, 8);
  assert_int_equal(x.span_context.is_remote, 1);
  assert_string_equal(uvotel_trace_state_str(x.span_context.trace_state, NULL), "a=1,b=2");
  assert_string_equal(uvotel_baggage_str(x.baggage, NULL), "k=v;p");
  /* extracting again replaces (and releases) what was there */
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &uvotel_header_getter, &x),
      0);
  uvotel_extracted_reset(&x);
  assert_null(x.baggage);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
  uvotel_extracted_reset(NULL);
  out_free(&out);

  /* single parts: tracecontext writes no baggage, baggage writes no trace fields */
  assert_int_equal(
      uvotel_propagator_inject(uvotel_propagator_tracecontext(), &sc, b, &out, &out_setter), 0);
  assert_int_equal(out.n, 2);
  assert_null(out_get(&out, "baggage"));
  out_free(&out);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_baggage(), &sc, b, &out, &out_setter),
                   0);
  assert_int_equal(out.n, 1);
  out_free(&out);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_none(), &sc, b, &out, &out_setter),
                   0);
  assert_int_equal(out.sets, 0);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_none(), &in.list, &uvotel_header_getter, &x), 0);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
  /* an invalid or NULL context: no trace fields; empty tracestate / baggage: no field */
  uvotel_span_context_t zero = {0};
  assert_int_equal(
      uvotel_propagator_inject(uvotel_propagator_default(), &zero, NULL, &out, &out_setter), 0);
  assert_int_equal(
      uvotel_propagator_inject(uvotel_propagator_default(), NULL, NULL, &out, &out_setter), 0);
  assert_int_equal(out.sets, 0);
  sc.trace_state = NULL;
  assert_int_equal(
      uvotel_propagator_inject(uvotel_propagator_default(), &sc, NULL, &out, &out_setter), 0);
  assert_int_equal(out.n, 1);
  out_free(&out);
  /* a failing setter: its error comes back, nothing after it is written */
  out.fail_rc = UVOTEL_EIO;
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, &out_setter),
                   UVOTEL_EIO);
  assert_int_equal(out.sets, 1);
  out_free(&out);
  /* bad input */
  uvotel_carrier_setter_t null_setter = {NULL};
  uvotel_carrier_getter_t null_getter = {NULL, NULL};
  assert_int_equal(uvotel_propagator_inject(NULL, &sc, b, &out, &out_setter), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, NULL, &out_setter),
                   UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, NULL),
                   UVOTEL_EINVAL);
  assert_int_equal(
      uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, &null_setter),
      UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_extract(NULL, &in.list, &uvotel_header_getter, &x),
                   UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_default(), &in.list, NULL, &x),
                   UVOTEL_EINVAL);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &null_getter, &x),
      UVOTEL_EINVAL);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &uvotel_header_getter, NULL),
      UVOTEL_EINVAL);
  /* a NULL carrier reaches the getter, which finds nothing */
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), NULL, &uvotel_header_getter, &x), 0);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
  uvotel_trace_state_release(ts);
  uvotel_baggage_release(b);
}

static void test_propagator_from_names(void **state) {
  (void)state;
  uvotel_propagator_t *p;
  size_t pos = 99;
  assert_int_equal(uvotel_propagator_from_names(NULL, &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_default());
  assert_int_equal(uvotel_propagator_from_names(" , ", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_default());
  assert_int_equal(uvotel_propagator_from_names("tracecontext,baggage", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_default());
  assert_int_equal(uvotel_propagator_from_names(" TraceContext ", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_tracecontext());
  assert_int_equal(uvotel_propagator_from_names("baggage,baggage", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_baggage());
  assert_int_equal(uvotel_propagator_from_names("none", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_none());
  assert_int_equal(uvotel_propagator_from_names("none,tracecontext", &p, &pos), 0);
  assert_ptr_equal(p, uvotel_propagator_tracecontext());
  /* another order: a composite of its own, freed by the caller */
  assert_int_equal(uvotel_propagator_from_names("baggage, tracecontext", &p, &pos), 0);
  assert_string_equal(uvotel_propagator_name(p), "composite");
  const char *f[4];
  assert_int_equal(uvotel_propagator_fields(p, f, 4), 3);
  assert_string_equal(f[0], "baggage");
  uvotel_propagator_free(p);
  /* errors */
  p = (uvotel_propagator_t *)1;
  assert_int_equal(uvotel_propagator_from_names("tracecontext, xray", &p, &pos), UVOTEL_ENOTSUP);
  assert_null(p);
  assert_int_equal(pos, 14);
  assert_int_equal(uvotel_propagator_from_names("xray", &p, NULL), UVOTEL_ENOTSUP);
  assert_int_equal(uvotel_propagator_from_names("baggage,w3c", &p, &pos), UVOTEL_ENOENT);
  assert_int_equal(pos, 8);
  assert_null(p);
  assert_int_equal(uvotel_propagator_from_names("tracecontext", NULL, &pos), UVOTEL_EINVAL);
}

/* A user propagator that counts its calls and writes/reads one field "x-id". */
typedef struct counter_s {
  int injects, extracts, freed;
} counter_t;

static int cnt_inject(void *self, const uvotel_span_context_t *sc, const uvotel_baggage_t *bg,
                      void *carrier, const uvotel_carrier_setter_t *setter) {
  (void)sc, (void)bg;
  ((counter_t *)self)->injects++;
  return setter->set(carrier, "x-id", "42", 2);
}
static int cnt_extract(void *self, void *carrier, const uvotel_carrier_getter_t *g,
                       uvotel_extracted_t *x) {
  (void)x;
  ((counter_t *)self)->extracts++;
  uvotel_str_t v[1];
  return g->get(carrier, "x-id", v, 1) == 1 ? 0 : UVOTEL_ENOENT;
}
static size_t cnt_fields(void *self, const char *const **names) {
  (void)self;
  static const char *const f[] = {"x-id", "traceparent"};
  *names = f;
  return 2;
}
static void cnt_free(void *self) {
  ((counter_t *)self)->freed++;
}
static const uvotel_propagator_ops_t cnt_ops = {
    .inject = cnt_inject, .extract = cnt_extract, .fields = cnt_fields, .free = cnt_free};

static void test_propagator_custom_and_composite(void **state) {
  (void)state;
  counter_t cnt = {0};
  assert_null(uvotel_propagator_create("x", NULL, &cnt));
  uvotel_propagator_ops_t partial = cnt_ops;
  partial.fields = NULL;
  assert_null(uvotel_propagator_create("x", &partial, &cnt));
  uvotel_propagator_t *mine = uvotel_propagator_create("mine", &cnt_ops, &cnt);
  assert_non_null(mine);
  assert_string_equal(uvotel_propagator_name(mine), "mine");
  uvotel_propagator_t *parts[2] = {mine, uvotel_propagator_default()};
  uvotel_propagator_t *comp;
  assert_int_equal(uvotel_propagator_composite_create(parts, 2, &comp), 0);
  const char *f[8];
  assert_int_equal(uvotel_propagator_fields(comp, f, 8),
                   4); /* x-id traceparent tracestate baggage */
  assert_string_equal(f[0], "x-id");
  assert_string_equal(f[3], "baggage");
  uvotel_span_context_t sc;
  assert_int_equal(uvotel_traceparent_parse(TP, 55, &sc), 0);
  out_carrier_t out = {0};
  assert_int_equal(uvotel_propagator_inject(comp, &sc, NULL, &out, &out_setter), 0);
  assert_int_equal(cnt.injects, 1);
  assert_string_equal(out_get(&out, "x-id"), "42");
  assert_string_equal(out_get(&out, "traceparent"), TP);
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "traceparent", TP, 55);
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  /* the user part fails (no x-id), the others still run; the first error is returned */
  assert_int_equal(uvotel_propagator_extract(comp, &in.list, &uvotel_header_getter, &x),
                   UVOTEL_ENOENT);
  assert_int_equal(cnt.extracts, 1);
  assert_true(uvotel_span_context_is_valid(&x.span_context));
  uvotel_extracted_reset(&x);
  out_free(&out);
  /* an empty composite does nothing */
  uvotel_propagator_t *empty;
  assert_int_equal(uvotel_propagator_composite_create(NULL, 0, &empty), 0);
  assert_int_equal(uvotel_propagator_inject(empty, &sc, NULL, &out, &out_setter), 0);
  assert_int_equal(out.sets, 0);
  uvotel_propagator_free(empty);
  /* bad input */
  uvotel_propagator_t *bad[2] = {mine, NULL};
  assert_int_equal(uvotel_propagator_composite_create(bad, 2, &empty), UVOTEL_EINVAL);
  assert_null(empty);
  assert_int_equal(uvotel_propagator_composite_create(NULL, 1, &empty), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagator_composite_create(parts, 2, NULL), UVOTEL_EINVAL);
  uvotel_propagator_free(comp);
  assert_int_equal(cnt.freed, 0); /* parts are borrowed */
  uvotel_propagator_free(mine);
  assert_int_equal(cnt.freed, 1);
}

/* A carrier whose getter hands out several values per name from a table of lines. */
typedef struct multi_s {
  const char *name[64];
  const char *value[64];
  int n;
  int get_calls;
} multi_t;

static size_t multi_get(void *carrier, const char *name, uvotel_str_t *vals, size_t cap) {
  multi_t *m = carrier;
  m->get_calls++;
  size_t k = 0;
  for (int i = 0; i < m->n; i++) {
    if (strcmp(m->name[i], name) != 0) continue;
    if (k < cap) {
      vals[k].ptr = m->value[i];
      vals[k].len = strlen(m->value[i]);
    }
    k++;
  }
  return k;
}
static const uvotel_carrier_getter_t multi_getter = {multi_get, NULL};

static void test_carrier_several_values(void **state) {
  (void)state;
  multi_t m = {{0}, {0}, 0, 0};
  m.name[m.n] = "traceparent", m.value[m.n++] = TP;
  m.name[m.n] = "tracestate", m.value[m.n++] = "a=1";
  m.name[m.n] = "baggage", m.value[m.n++] = "k=1";
  m.name[m.n] = "tracestate", m.value[m.n++] = "b=2, c=3";
  m.name[m.n] = "baggage", m.value[m.n++] = "j=2;p";
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_default(), &m, &multi_getter, &x),
                   0);
  assert_string_equal(uvotel_trace_state_str(x.span_context.trace_state, NULL), "a=1,b=2,c=3");
  assert_string_equal(uvotel_baggage_str(x.baggage, NULL), "k=1,j=2;p");
  uvotel_extracted_reset(&x);
  /* many lines (more than the getter's first buffer): every one is read */
  multi_t many = {{0}, {0}, 0, 0};
  char vals[40][16];
  many.name[many.n] = "traceparent", many.value[many.n++] = TP;
  for (int i = 0; i < 20; i++) {
    snprintf(vals[i], sizeof vals[i], "t%d=%d", i, i);
    many.name[many.n] = "tracestate", many.value[many.n++] = vals[i];
    snprintf(vals[20 + i], sizeof vals[20 + i], "b%d=%d", i, i);
    many.name[many.n] = "baggage", many.value[many.n++] = vals[20 + i];
  }
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_default(), &many, &multi_getter, &x),
                   0);
  assert_int_equal(uvotel_trace_state_count(x.span_context.trace_state), 20);
  assert_string_equal(uvotel_trace_state_get(x.span_context.trace_state, "t19", NULL), "19");
  assert_int_equal(uvotel_baggage_count(x.baggage), 20);
  assert_string_equal(uvotel_baggage_get(x.baggage, "b19", NULL), "19");
  uvotel_extracted_reset(&x);
  /* two traceparent lines: no parent (restart), and no tracestate */
  m.name[m.n] = "traceparent", m.value[m.n++] = TP;
  assert_int_equal(uvotel_propagator_extract(uvotel_propagator_default(), &m, &multi_getter, &x),
                   0);
  assert_false(uvotel_span_context_is_valid(&x.span_context));
  assert_null(x.span_context.trace_state);
  assert_non_null(x.baggage); /* baggage does not depend on traceparent */
  uvotel_extracted_reset(&x);
}

static void test_header_getter(void **state) {
  (void)state;
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "TraceState", "a=1", 3);
  in_add(&in, "Content-Type", "text/plain", 10);
  in_add(&in, "tracestate", "b=2", 3);
  in_add(&in, "tracestatex", "c=3", 3);
  uvotel_str_t v[4];
  assert_int_equal(uvotel_header_getter.get(&in.list, "tracestate", v, 4), 2);
  assert_memory_equal(v[0].ptr, "a=1", 3);
  assert_memory_equal(v[1].ptr, "b=2", 3);
  assert_int_equal(uvotel_header_getter.get(&in.list, "tracestate", v, 1), 2); /* count > cap */
  assert_int_equal(uvotel_header_getter.get(&in.list, "absent", v, 4), 0);
  assert_int_equal(uvotel_header_getter.get(NULL, "tracestate", v, 4), 0);
  assert_int_equal(uvotel_header_getter.get(&in.list, NULL, v, 4), 0);
  uvotel_str_t names[8];
  assert_int_equal(uvotel_header_getter.keys(&in.list, names, 8), 4);
  assert_memory_equal(names[1].ptr, "Content-Type", 12);
  assert_int_equal(uvotel_header_getter.keys(&in.list, names, 2), 4);
  assert_int_equal(uvotel_header_getter.keys(NULL, names, 8), 0);
}

static void test_out_of_memory(void **state) {
  (void)state;
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "traceparent", TP, 55);
  in_add(&in, "tracestate", "a=1", 3);
  in_add(&in, "baggage", "k=v", 3);
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  counting_alloc_fail_after(0, 1);
  assert_int_equal(
      uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &uvotel_header_getter, &x),
      UVOTEL_ENOMEM);
  counting_alloc_fail_after(0, 0);
  uvotel_extracted_reset(&x);
  counting_alloc_fail_after(0, 1);
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse("a=1", 3, &ts), UVOTEL_ENOMEM);
  assert_null(ts);
  counting_alloc_fail_after(0, 1);
  uvotel_baggage_t *b;
  assert_int_equal(uvotel_baggage_set(NULL, "k", "v", NULL, &b), UVOTEL_ENOMEM);
  assert_null(b);
  counting_alloc_fail_after(0, 0);
}

/* Steady state: inject, and entering/exiting a baggage scope, allocate nothing. */
static void test_zero_alloc_hot_paths(void **state) {
  (void)state;
  uvotel_span_context_t sc;
  assert_int_equal(uvotel_traceparent_parse(TP, 55, &sc), 0);
  uvotel_trace_state_t *ts;
  assert_int_equal(uvotel_trace_state_parse("a=1,b=2", 7, &ts), 0);
  sc.trace_state = ts;
  uvotel_baggage_t *b;
  assert_int_equal(uvotel_baggage_parse("k=v", 3, &b), 0);
  uvotel_scope_t s;
  assert_int_equal(uvotel_baggage_enter(b, &s), 0); /* warm the context pool */
  assert_int_equal(uvotel_scope_exit(&s), 0);
  out_carrier_t out = {0};
  assert_int_equal(uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, &out_setter),
                   0);
  size_t a0 = counting_alloc_stats().allocs;
  for (int i = 0; i < 10000; i++) {
    uvotel_propagator_inject(uvotel_propagator_default(), &sc, b, &out, &out_setter);
    uvotel_baggage_enter(b, &s);
    assert_ptr_equal(uvotel_baggage_current(), b);
    uvotel_scope_exit(&s);
  }
  assert_int_equal(counting_alloc_stats().allocs, a0);
  /* extract without tracestate/baggage allocates nothing either */
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "traceparent", TP, 55);
  uvotel_extracted_t x = UVOTEL_EXTRACTED_INIT;
  for (int i = 0; i < 10000; i++) {
    uvotel_propagator_extract(uvotel_propagator_default(), &in.list, &uvotel_header_getter, &x);
  }
  assert_int_equal(counting_alloc_stats().allocs, a0);
  out_free(&out);
  uvotel_trace_state_release(ts);
  uvotel_baggage_release(b);
}

int main(void) {
  counting_alloc_install();
  uvotel_baggage_var(); /* created once for the process: not a leak of any test */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_trace_state_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_state_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_state_lines, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_state_set_delete, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trace_state_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_traceparent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_baggage_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_baggage_bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_baggage_limits, setup, teardown),
      cmocka_unit_test_setup_teardown(test_baggage_set_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_baggage_context, setup, teardown),
      cmocka_unit_test_setup_teardown(test_propagator_builtins, setup, teardown),
      cmocka_unit_test_setup_teardown(test_propagator_from_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_propagator_custom_and_composite, setup, teardown),
      cmocka_unit_test_setup_teardown(test_carrier_several_values, setup, teardown),
      cmocka_unit_test_setup_teardown(test_header_getter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_out_of_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_zero_alloc_hot_paths, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
