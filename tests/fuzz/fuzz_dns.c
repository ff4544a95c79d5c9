/* libFuzzer target: the DNS wire code (instrumentation/src/dns_wire.c). Whatever the bytes:
 *   - the message parser never reads past them (ASan) and what it accepts holds together (a
 *     NUL-terminated printable name of at most 255 characters, the header fields as in the
 *     first 12 bytes); the response parser agrees with it;
 *   - the DNS-over-TCP detector, on at most 64 bytes, never reads past them and only claims a
 *     standard query's header;
 *   - the TCP framer gives the same messages (count, lengths, copied heads) and the same
 *     verdict on bad framing whether the input is fed at once or in pieces of 1..8 bytes
 *     (sizes taken from the input);
 *   - the client matcher, driven by the framed messages (queries added, responses matched,
 *     from one of three peers or none), keeps its count equal to its used slots, never more
 *     than 64, and hands back every query it was given exactly once (matched, evicted, or
 *     left at the end), never one it was not. */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns_wire.h"

#define MAXMSG 512

typedef struct rec_s {
  size_t n;
  size_t len[MAXMSG], nhead[MAXMSG];
  uint32_t hash[MAXMSG];
  uint8_t *head[MAXMSG]; /* copies, for the matcher */
} rec_t;

static uint32_t hash(const uint8_t *d, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ d[i]) * 16777619u;
  return h;
}

static void on_msg(void *arg, const uint8_t *head, size_t nhead, size_t msglen) {
  rec_t *r = arg;
  if (nhead > msglen || nhead > UVOTEL__DNS_HEAD || msglen < 12) abort();
  if (r->n == MAXMSG) return;
  r->len[r->n] = msglen;
  r->nhead[r->n] = nhead;
  r->hash[r->n] = hash(head, nhead);
  r->head[r->n] = malloc(nhead);
  memcpy(r->head[r->n], head, nhead);
  r->n++;
}

static void rec_free(rec_t *r) {
  for (size_t i = 0; i < r->n; i++) free(r->head[i]);
}

static void check_parse(const uint8_t *copy, size_t size) {
  uvotel__dns_msg_t m;
  if (uvotel__dns_parse(copy, size, &m) == 0) {
    if (size < 12) abort();
    if (m.id != (uint16_t)(copy[0] << 8 | copy[1]) || m.rcode != (copy[3] & 0xf)) abort();
    size_t l = strnlen(m.name, sizeof m.name);
    if (l == sizeof m.name || l > 255) abort();
    if (m.qdcount > 0 && l == 0) abort();
    for (size_t i = 0; i < l; i++) {
      if (m.name[i] < 0x21 || m.name[i] > 0x7e) abort();
    }
    (void)uvotel__dns_qtype_name(m.qtype);
    (void)uvotel__dns_rcode_name(m.rcode);
    (void)uvotel__dns_is_query(&m, copy, size);
  }
  uvotel__dns_msg_t r;
  int q = uvotel__dns_parse_response(copy, size, &r);
  if ((q < 0) != (size < 12)) abort();
  if (q >= 0 && (r.id != (uint16_t)(copy[0] << 8 | copy[1]) || r.qr != copy[2] >> 7)) abort();
  if (q == 1 && r.qdcount == 0) abort();
}

static void check_detect(const uint8_t *data, size_t size) {
  size_t n = size < 64 ? size : 64;
  uint8_t *d = malloc(n > 0 ? n : 1); /* exactly n bytes */
  if (n > 0) memcpy(d, data, n);
  int r = uvotel__dns_tcp_detect(d, n, 64);
  if (r == 1) {
    if (n < 14 || (d[4] & 0x80) || d[6] != 0 || d[7] != 1) abort();
    if (((size_t)d[0] << 8 | d[1]) < 17) abort();
  }
  if (r == -1 && n >= 64) abort();
  free(d);
}

static int feed_split(const uint8_t *data, size_t size, rec_t *out) {
  uvotel__dns_framer_t f;
  memset(&f, 0, sizeof f);
  size_t off = 0, k = 0;
  int bad = 0;
  while (off < size) {
    size_t piece = 1 + (size > 0 ? data[k++ % size] % 8 : 0);
    if (piece > size - off) piece = size - off;
    uint8_t *p = malloc(piece); /* exactly the piece: ASan sees an overread */
    memcpy(p, data + off, piece);
    int r = uvotel__dns_frame_feed(&f, p, piece, on_msg, out);
    free(p);
    off += piece;
    if (r < 0) {
      bad = 1;
      if (uvotel__dns_frame_feed(&f, data, size, on_msg, out) != -1) abort(); /* stays bad */
      break;
    }
  }
  return bad;
}

static void check_matcher(const rec_t *r, const uint8_t *data, size_t size) {
  static uvotel__dns_pending_t t; /* static: 64 slots of sockaddr_storage */
  memset(&t, 0, sizeof t);
  struct sockaddr_in peers[3];
  for (int i = 0; i < 3; i++) {
    memset(&peers[i], 0, sizeof peers[i]);
    peers[i].sin_family = AF_INET;
    peers[i].sin_port = htons((uint16_t)(53 + i % 2));
    peers[i].sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i / 2));
  }
  static uint8_t given[MAXMSG + 1]; /* token i: 1 given, 2 handed back */
  memset(given, 0, sizeof given);
  for (size_t i = 0; i < r->n; i++) {
    uint8_t sel = size > 0 ? data[i % size] : 0;
    const struct sockaddr *peer = (sel & 3) == 3 ? NULL : (const struct sockaddr *)&peers[sel & 3];
    uvotel__dns_msg_t m;
    int q = uvotel__dns_parse_response(r->head[i], r->nhead[i], &m);
    if (q < 0) abort(); /* the framer only hands over messages of 12 bytes or more */
    if (!m.qr) {
      if (q != 1 || !uvotel__dns_is_query(&m, r->head[i], r->nhead[i])) continue;
      int dup;
      void *ev;
      uvotel__dns_pend_t *p = uvotel__dns_pending_add(&t, &m, peer, &dup, &ev);
      if (p == NULL) abort();
      if (ev != NULL) {
        size_t tok = (size_t)((uint8_t *)ev - given);
        if (tok > MAXMSG || given[tok] != 1) abort();
        given[tok] = 2;
      }
      if (dup) {
        if (p->span == NULL || ev != NULL) abort();
        continue;
      }
      p->span = &given[i];
      p->req = (sel & 4) ? &given[i] : NULL;
      given[i] = 1;
    } else {
      uvotel__dns_pend_t out;
      int hit = (sel & 8) ? uvotel__dns_pending_take_req(
                                &t, &given[size > 0 ? data[0] % (i + 1) : 0], &out)
                          : uvotel__dns_pending_match(&t, &m, q, peer, &out);
      if (hit) {
        size_t tok = (size_t)((uint8_t *)out.span - given);
        if (tok > MAXMSG || given[tok] != 1) abort();
        given[tok] = 2;
      }
    }
    unsigned used = 0;
    for (unsigned j = 0; j < UVOTEL__DNS_PENDING; j++) used += t.q[j].span != NULL;
    if (used != t.n || t.n > UVOTEL__DNS_PENDING) abort();
  }
  for (unsigned j = 0; j < UVOTEL__DNS_PENDING; j++) {
    if (t.q[j].span == NULL) continue;
    size_t tok = (size_t)((uint8_t *)t.q[j].span - given);
    if (tok > MAXMSG || given[tok] != 1) abort();
    given[tok] = 2;
  }
  for (size_t i = 0; i <= MAXMSG; i++) {
    if (given[i] == 1) abort(); /* given and never handed back */
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size > 0 ? size : 1); /* exactly size bytes: ASan sees an overread */
  if (copy == NULL) return 0;
  if (size > 0) {
    memcpy(copy, data, size);
  } else {
    copy[0] = 0; /* never read (size 0); keeps GCC's uninitialized-use analysis quiet */
  }
  check_parse(copy, size);
  check_detect(copy, size);

  static rec_t whole, split;
  whole.n = split.n = 0;
  uvotel__dns_framer_t f;
  memset(&f, 0, sizeof f);
  int bad_whole = uvotel__dns_frame_feed(&f, copy, size, on_msg, &whole) < 0;
  int bad_split = feed_split(copy, size, &split);
  if (bad_whole != bad_split || whole.n != split.n) abort();
  for (size_t i = 0; i < whole.n; i++) {
    if (whole.len[i] != split.len[i] || whole.nhead[i] != split.nhead[i] ||
        whole.hash[i] != split.hash[i]) {
      abort();
    }
  }
  check_matcher(&whole, copy, size);
  rec_free(&whole);
  rec_free(&split);
  free(copy);
  return 0;
}
