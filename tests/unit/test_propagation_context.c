/* Propagation with the current context: uvotel_propagation_inject_current writes the current
 * span and baggage; uvotel_propagation_extract_enter / _extract_snapshot make the remote parent
 * the current span (so new spans, also in callbacks registered meanwhile, are its children) and
 * the extracted baggage the current baggage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "counting_alloc.h"
#include "prop_carrier.h"
#include "uvotel.h"
#include "uvotel/uv.h"

#define TP "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

/* ---- a processor that keeps ended spans ---- */

typedef struct capture_s {
  const uvotel_span_data_t *d[16];
  int n;
} capture_t;

static void cap_on_end(void *self, const uvotel_span_data_t *span) {
  capture_t *c = self;
  if (c->n < 16) c->d[c->n++] = uvotel_span_data_retain(span);
}
static const uvotel_span_processor_ops_t cap_ops = {.on_end = cap_on_end};

typedef struct fix_s {
  uv_loop_t loop;
  long live0;
  capture_t cap;
  uvotel_tracer_provider_t *provider;
  uvotel_tracer_t *tracer;
} fix_t;

static int setup(void **state) {
  fix_t *f = calloc(1, sizeof *f);
  assert_int_equal(uv_loop_init(&f->loop), 0);
  f->live0 = counting_alloc_stats().live;
  uvotel_span_processor_t *proc = uvotel_span_processor_create(&cap_ops, &f->cap);
  assert_non_null(proc);
  uvotel_tracer_provider_options_t o = UVOTEL_TRACER_PROVIDER_OPTIONS_INIT;
  o.processors = &proc;
  o.n_processors = 1;
  o.loop = &f->loop;
  o.flags = UVOTEL_PROVIDER_NO_DEFAULT_EXPORTER;
  f->provider = uvotel_tracer_provider_create(&o);
  assert_non_null(f->provider);
  f->tracer = uvotel_tracer_get(f->provider, "test_propagation_context", NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fix_t *f = *state;
  for (int i = 0; i < f->cap.n; i++) uvotel_span_data_release(f->cap.d[i]);
  assert_int_equal(uvotel_tracer_provider_shutdown(f->provider, 1000), 0);
  uvotel_tracer_provider_free(f->provider);
  uvotel_loop_close(&f->loop);
  assert_int_equal(uv_loop_close(&f->loop), 0);
  uvotel_uv_thread_cleanup(); /* the wrappers' side table */
  uvotel_thread_cleanup();
  assert_int_equal(counting_alloc_stats().live, f->live0);
  free(f);
  return 0;
}

static void hex_of(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- inject ---- */

static void test_inject_current(void **state) {
  fix_t *f = *state;
  out_carrier_t out = {0};
  /* nothing current: nothing written */
  assert_int_equal(uvotel_propagation_inject_current(NULL, &out, &out_setter), 0);
  assert_int_equal(out.sets, 0);
  /* a current span and baggage */
  uvotel_span_t *s = uvotel_span_start(f->tracer, "client", NULL);
  uvotel_scope_t ss, bs;
  assert_int_equal(uvotel_span_enter(s, &ss), 0);
  assert_int_equal(uvotel_baggage_enter_set("tenant", "a b", NULL, &bs), 0);
  assert_int_equal(uvotel_propagation_inject_current(NULL, &out, &out_setter), 0);
  uvotel_span_context_t sc = uvotel_span_context(s);
  char tid[33], sid[17], want[64];
  hex_of(sc.trace_id.bytes, 16, tid);
  hex_of(sc.span_id.bytes, 8, sid);
  snprintf(want, sizeof want, "00-%s-%s-%02x", tid, sid, sc.flags & 3);
  assert_string_equal(out_get(&out, "traceparent"), want);
  assert_string_equal(out_get(&out, "baggage"), "tenant=a%20b");
  out_free(&out);
  /* an explicit propagator */
  assert_int_equal(
      uvotel_propagation_inject_current(uvotel_propagator_baggage(), &out, &out_setter), 0);
  assert_null(out_get(&out, "traceparent"));
  assert_non_null(out_get(&out, "baggage"));
  out_free(&out);
  assert_int_equal(uvotel_scope_exit(&bs), 0);
  assert_int_equal(uvotel_scope_exit(&ss), 0);
  uvotel_span_end(s);
  /* bad input */
  assert_int_equal(uvotel_propagation_inject_current(NULL, NULL, &out_setter), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagation_inject_current(NULL, &out, NULL), UVOTEL_EINVAL);
}

/* ---- extract into the current context ---- */

static void test_extract_enter(void **state) {
  fix_t *f = *state;
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "traceparent", TP, 55);
  in_add(&in, "tracestate", "congo=t61rcWkgMzE", 17);
  in_add(&in, "baggage", "user=alice", 10);
  uvotel_propagation_scope_t ps;
  assert_int_equal(uvotel_propagation_extract_enter(NULL, &in.list, &uvotel_header_getter, &ps), 0);
  /* the remote parent is current */
  uvotel_span_context_t cur = uvotel_span_context(uvotel_current_span());
  assert_int_equal(cur.is_remote, 1);
  assert_int_equal(cur.trace_id.bytes[0], 0x4b);
  assert_int_equal(cur.span_id.bytes[7], 0xb7);
  assert_string_equal(uvotel_trace_state_str(cur.trace_state, NULL), "congo=t61rcWkgMzE");
  assert_false(uvotel_span_is_recording(uvotel_current_span()));
  assert_string_equal(uvotel_baggage_current_get("user", NULL), "alice");
  /* a span started now is its child, in the same trace, carrying the tracestate */
  uvotel_span_t *child = uvotel_span_start(f->tracer, "server", NULL);
  uvotel_span_end(child);
  assert_int_equal(uvotel_propagation_scope_exit(&ps), 0);
  assert_null(uvotel_current_span());
  assert_null(uvotel_baggage_current());
  assert_int_equal(uvotel_propagation_scope_exit(&ps), UVOTEL_EINVAL); /* twice */
  assert_int_equal(f->cap.n, 1);
  const uvotel_span_data_t *d = f->cap.d[0];
  uvotel_span_context_t dc = uvotel_span_data_context(d);
  assert_memory_equal(dc.trace_id.bytes, cur.trace_id.bytes, 16);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(d);
  assert_memory_equal(parent.bytes, cur.span_id.bytes, 8);
  assert_int_equal(uvotel_span_data_parent_is_remote(d), 1);
  assert_string_equal(uvotel_trace_state_str(uvotel_span_data_trace_state(d), NULL),
                      "congo=t61rcWkgMzE");
}

static void test_extract_enter_partial_and_bad(void **state) {
  (void)state;
  /* an invalid traceparent: the current span stays; baggage is still entered */
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "traceparent", "00-xyz", 6);
  in_add(&in, "baggage", "k=v", 3);
  uvotel_propagation_scope_t ps;
  uvotel_span_context_t local = {{{1}}, {{2}}, 1, 0, NULL};
  uvotel_span_t *mine = uvotel_span_wrap_context(&local);
  uvotel_scope_t ms;
  assert_int_equal(uvotel_span_enter(mine, &ms), 0);
  assert_int_equal(uvotel_propagation_extract_enter(NULL, &in.list, &uvotel_header_getter, &ps), 0);
  assert_ptr_equal(uvotel_current_span(), mine);
  assert_string_equal(uvotel_baggage_current_get("k", NULL), "v");
  /* scopes are LIFO: exiting the outer one first is refused */
  assert_int_equal(uvotel_scope_exit(&ms), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagation_scope_exit(&ps), 0);
  assert_int_equal(uvotel_scope_exit(&ms), 0);
  uvotel_span_end(mine);
  /* an empty carrier: nothing entered, exit still balances */
  in_init(&in);
  assert_int_equal(uvotel_propagation_extract_enter(uvotel_propagator_default(), &in.list,
                                                    &uvotel_header_getter, &ps),
                   0);
  assert_null(uvotel_current_span());
  assert_int_equal(uvotel_propagation_scope_exit(&ps), 0);
  /* bad input */
  uvotel_carrier_getter_t null_get = {NULL, NULL};
  assert_int_equal(uvotel_propagation_extract_enter(NULL, &in.list, &uvotel_header_getter, NULL),
                   UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagation_extract_enter(NULL, &in.list, NULL, &ps), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagation_scope_exit(&ps), UVOTEL_EINVAL); /* failed enter */
  assert_int_equal(uvotel_propagation_extract_enter(NULL, &in.list, &null_get, &ps), UVOTEL_EINVAL);
  assert_int_equal(uvotel_propagation_scope_exit(NULL), UVOTEL_EINVAL);
  uvotel_snapshot_t *snap = (uvotel_snapshot_t *)1;
  assert_int_equal(uvotel_propagation_extract_snapshot(NULL, &in.list, NULL, &snap), UVOTEL_EINVAL);
  assert_null(snap);
  assert_int_equal(uvotel_propagation_extract_snapshot(NULL, &in.list, &uvotel_header_getter, NULL),
                   UVOTEL_EINVAL);
}

/* ---- a snapshot, and a timer registered inside it ---- */

typedef struct timer_ctx_s {
  fix_t *f;
  uv_timer_t timer;
  int fired;
  char baggage_seen[32];
  uvotel_span_context_t span_seen;
} timer_ctx_t;

static void on_timer(uv_timer_t *t) {
  timer_ctx_t *tc = (timer_ctx_t *)((char *)t - offsetof(timer_ctx_t, timer));
  tc->fired++;
  const char *v = uvotel_baggage_current_get("user", NULL);
  snprintf(tc->baggage_seen, sizeof tc->baggage_seen, "%s", v ? v : "(none)");
  tc->span_seen = uvotel_span_context(uvotel_current_span());
  uvotel_span_t *s = uvotel_span_start(tc->f->tracer, "in-timer", NULL);
  uvotel_span_end(s);
  uvotel_close((uv_handle_t *)t, NULL);
}

static void *start_timer(void *arg) {
  timer_ctx_t *tc = arg;
  uv_timer_init(&tc->f->loop, &tc->timer);
  uvotel_timer_start(&tc->timer, on_timer, 1, 0);
  return NULL;
}

static void test_extract_snapshot_follows_callbacks(void **state) {
  fix_t *f = *state;
  assert_int_equal(uvotel_loop_init(&f->loop), 0);
  in_carrier_t in;
  in_init(&in);
  in_add(&in, "TraceParent", TP, 55);
  in_add(&in, "Baggage", "user=bob", 8);
  uvotel_snapshot_t *snap;
  assert_int_equal(
      uvotel_propagation_extract_snapshot(NULL, &in.list, &uvotel_header_getter, &snap), 0);
  assert_null(uvotel_current_span()); /* the current context is untouched */
  assert_null(uvotel_baggage_current());
  timer_ctx_t tc;
  memset(&tc, 0, sizeof tc);
  tc.f = f;
  uvotel_snapshot_run(snap, start_timer, &tc);
  uvotel_snapshot_release(snap);
  assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(tc.fired, 1);
  assert_string_equal(tc.baggage_seen, "bob");
  assert_int_equal(tc.span_seen.is_remote, 1);
  assert_int_equal(tc.span_seen.span_id.bytes[7], 0xb7);
  assert_int_equal(f->cap.n, 1);
  uvotel_span_id_t parent = uvotel_span_data_parent_span_id(f->cap.d[0]);
  assert_memory_equal(parent.bytes, tc.span_seen.span_id.bytes, 8);
}

int main(void) {
  counting_alloc_install();
  uvotel_baggage_var(); /* process-lifetime variables, created before the leak baselines */
  uvotel_span_var();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_inject_current, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extract_enter, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extract_enter_partial_and_bad, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extract_snapshot_follows_callbacks, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
