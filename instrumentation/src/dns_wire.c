/* RFC 1035 header + first question (dns_wire.h). */
#include "dns_wire.h"

#include <netinet/in.h>
#include <string.h>

/* The fixed 12-byte header (n >= 12). */
static void parse_header(const uint8_t *m, uvotel__dns_msg_t *out) {
  out->id = (uint16_t)(m[0] << 8 | m[1]);
  out->qr = m[2] >> 7;
  out->opcode = (m[2] >> 3) & 0xf;
  out->rcode = m[3] & 0xf;
  out->qdcount = (unsigned)(m[4] << 8 | m[5]);
}

int uvotel__dns_parse(const uint8_t *m, size_t n, uvotel__dns_msg_t *out) {
  memset(out, 0, sizeof *out);
  if (m == NULL || n < 12) return -1;
  parse_header(m, out);
  if (out->qdcount == 0) return 0;
  size_t off = 12, len = 0;
  for (;;) {
    if (off >= n) return -1;
    unsigned l = m[off++];
    if (l == 0) break;
    if (l > 63) return -1; /* compression pointer or reserved type: not in a question here */
    if (off + l > n || len + l + 1 > sizeof out->name - 1) return -1;
    if (len > 0) out->name[len++] = '.';
    for (unsigned i = 0; i < l; i++) {
      uint8_t c = m[off + i];
      out->name[len++] = (c >= 0x21 && c <= 0x7e) ? (char)c : '?';
    }
    off += l;
  }
  if (len == 0) out->name[len++] = '.';
  out->name[len] = '\0';
  if (off + 4 > n) return -1;
  out->qtype = (uint16_t)(m[off] << 8 | m[off + 1]);
  return 0;
}

const char *uvotel__dns_qtype_name(uint16_t t) {
  switch (t) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 35:
      return "NAPTR";
    case 43:
      return "DS";
    case 48:
      return "DNSKEY";
    case 64:
      return "SVCB";
    case 65:
      return "HTTPS";
    case 255:
      return "ANY";
    default:
      return NULL;
  }
}

const char *uvotel__dns_rcode_name(int r) {
  static const char *const names[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                      "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                      "NXRRSET", "NOTAUTH", "NOTZONE"};
  return r >= 0 && r < (int)(sizeof names / sizeof names[0]) ? names[r] : NULL;
}

int uvotel__dns_parse_response(const uint8_t *m, size_t n, uvotel__dns_msg_t *out) {
  if (uvotel__dns_parse(m, n, out) == 0) return out->qdcount > 0;
  if (m == NULL || n < 12) return -1;
  parse_header(m, out); /* the name is left empty */
  return 0;
}

int uvotel__dns_is_query(const uvotel__dns_msg_t *m, const uint8_t *raw, size_t n) {
  if (n < 12 || m->qr || m->opcode != 0 || m->qdcount != 1) return 0;
  unsigned an = (unsigned)(raw[6] << 8 | raw[7]), ns = (unsigned)(raw[8] << 8 | raw[9]);
  unsigned ar = (unsigned)(raw[10] << 8 | raw[11]);
  return an == 0 && ns == 0 && ar <= 2 && m->rcode == 0;
}

/* ---- TCP framing ---- */

int uvotel__dns_tcp_detect(const uint8_t *d, size_t len, size_t max) {
  if (len < 2) return -1;
  size_t mlen = (size_t)d[0] << 8 | d[1];
  if (mlen < 12 + 1 + 4) return 0;
  if (len < 14) return -1;
  const uint8_t *h = d + 2;
  /* qr 0, opcode 0, AA and TC 0; Z 0 and RCODE 0 (RD, AD, CD as the client likes); one
   * question, no answer or authority records, at most two additional ones (EDNS, a cookie) */
  if ((h[2] & 0xfe) != 0 || (h[3] & 0x4f) != 0) return 0;
  if (h[4] != 0 || h[5] != 1 || h[6] != 0 || h[7] != 0 || h[8] != 0 || h[9] != 0) return 0;
  if (h[10] != 0 || h[11] > 2) return 0;
  size_t off = 14, name = 0; /* off: in the stream; the message starts at 2 */
  while (off < len) {
    unsigned l = d[off];
    if (l == 0) { /* the name ends: type and class follow, inside the message */
      if (off - 2 + 1 + 4 > mlen) return 0;
      return off + 5 <= len || len >= max ? 1 : -1;
    }
    if (l > 63) return 0;
    name += l + 1;
    if (name > 255 || off - 2 + 1 + l > mlen) return 0;
    off += 1 + l;
  }
  return len >= max ? 1 : -1; /* a long name: what was seen looks right */
}

int uvotel__dns_frame_feed(uvotel__dns_framer_t *f, const uint8_t *d, size_t n,
                           uvotel__dns_msg_cb on_msg, void *arg) {
  if (f->bad) return -1;
  int done = 0;
  while (n > 0) {
    if (f->nlen < 2) {
      f->msglen = f->nlen == 0 ? (size_t)d[0] << 8 : f->msglen | d[0];
      f->nlen++;
      d++;
      n--;
      if (f->nlen == 2) {
        if (f->msglen < 12) {
          f->bad = 1;
          return -1;
        }
        f->got = f->nhead = 0;
      }
      continue;
    }
    size_t take = f->msglen - f->got < n ? f->msglen - f->got : n;
    if (f->nhead < sizeof f->head) {
      size_t c = sizeof f->head - f->nhead < take ? sizeof f->head - f->nhead : take;
      memcpy(f->head + f->nhead, d, c);
      f->nhead += c;
    }
    f->got += take;
    d += take;
    n -= take;
    if (f->got == f->msglen) {
      f->nlen = 0;
      done++;
      if (on_msg != NULL) on_msg(arg, f->head, f->nhead, f->msglen);
    }
  }
  return done;
}

/* ---- client queries awaiting their response ---- */

uint32_t uvotel__dns_name_hash(const char *name) {
  uint32_t h = 2166136261u;
  for (; *name != '\0'; name++) {
    unsigned char c = (unsigned char)*name;
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c - 'A' + 'a');
    h = (h ^ c) * 16777619u;
  }
  return h;
}

int uvotel__dns_same_addr(const struct sockaddr_storage *a, const struct sockaddr *b) {
  if (a->ss_family != b->sa_family) return 0;
  if (b->sa_family == AF_INET) {
    const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const void *)b;
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  if (b->sa_family == AF_INET6) {
    const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
  }
  return 0;
}

static int peer_ok(const uvotel__dns_pend_t *q, const struct sockaddr *peer) {
  if (q->any_peer) return 1;
  return peer != NULL && uvotel__dns_same_addr(&q->peer, peer);
}

uvotel__dns_pend_t *uvotel__dns_pending_add(uvotel__dns_pending_t *t, const uvotel__dns_msg_t *m,
                                            const struct sockaddr *peer, int *dup, void **evicted) {
  *dup = 0;
  *evicted = NULL;
  if (peer != NULL && peer->sa_family != AF_INET && peer->sa_family != AF_INET6) peer = NULL;
  uint32_t h = uvotel__dns_name_hash(m->name);
  uvotel__dns_pend_t *free_slot = NULL, *oldest = NULL;
  unsigned seen = 0; /* used slots looked at: once all t->n are and a free one is found, stop */
  for (unsigned i = 0; i < UVOTEL__DNS_PENDING; i++) {
    uvotel__dns_pend_t *q = &t->q[i];
    if (q->span == NULL) {
      if (free_slot == NULL) free_slot = q;
      if (seen == t->n) break;
      continue;
    }
    seen++;
    if (q->id == m->id && q->qtype == m->qtype && q->qhash == h &&
        (peer == NULL ? q->any_peer : (!q->any_peer && uvotel__dns_same_addr(&q->peer, peer)))) {
      q->retransmits++;
      *dup = 1;
      return q;
    }
    if (oldest == NULL || q->seq < oldest->seq) oldest = q;
  }
  uvotel__dns_pend_t *q = free_slot;
  if (q == NULL) {
    q = oldest;
    *evicted = q->span;
    t->n--;
  }
  memset(q, 0, sizeof *q);
  q->seq = ++t->seq;
  q->qhash = h;
  q->id = m->id;
  q->qtype = m->qtype;
  q->any_peer = peer == NULL;
  if (peer != NULL) {
    memcpy(&q->peer, peer,
           peer->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
  }
  t->n++;
  return q;
}

int uvotel__dns_pending_match(uvotel__dns_pending_t *t, const uvotel__dns_msg_t *m, int question_ok,
                              const struct sockaddr *from, uvotel__dns_pend_t *out) {
  if (t->n == 0 || !m->qr) return 0;
  uint32_t h = question_ok ? uvotel__dns_name_hash(m->name) : 0;
  uvotel__dns_pend_t *best = NULL;
  for (unsigned i = 0, seen = 0; i < UVOTEL__DNS_PENDING && seen < t->n; i++) {
    uvotel__dns_pend_t *q = &t->q[i];
    if (q->span == NULL) continue;
    seen++;
    if (q->id != m->id || !peer_ok(q, from)) continue;
    if (question_ok && (q->qtype != m->qtype || q->qhash != h)) continue;
    if (best == NULL || q->seq < best->seq) best = q;
  }
  if (best == NULL) return 0;
  *out = *best;
  memset(best, 0, sizeof *best);
  t->n--;
  return 1;
}

int uvotel__dns_pending_take_req(uvotel__dns_pending_t *t, const void *req,
                                 uvotel__dns_pend_t *out) {
  uvotel__dns_pend_t *best = NULL;
  for (unsigned i = 0; i < UVOTEL__DNS_PENDING && req != NULL; i++) {
    uvotel__dns_pend_t *q = &t->q[i];
    if (q->span != NULL && q->req == req && (best == NULL || q->seq > best->seq)) best = q;
  }
  if (best == NULL) return 0;
  *out = *best;
  memset(best, 0, sizeof *best);
  t->n--;
  return 1;
}
