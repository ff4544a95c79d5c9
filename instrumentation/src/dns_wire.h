/* RFC 1035 message header and first question, parsed from at most the bytes given
 * (dns_wire.c). Private to libuvotel_uv; also compiled into tests/fuzz/fuzz_dns. */
#ifndef UVOTEL_DNS_WIRE_H
#define UVOTEL_DNS_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct uvotel__dns_msg_s {
  uint16_t id;
  int qr;     /* 1: a response */
  int opcode; /* 0: a standard query */
  int rcode;  /* response code (low 4 bits of the header) */
  unsigned qdcount;
  uint16_t qtype;
  char name[256]; /* the first question's name, dotted, "." for the root; NUL-terminated */
} uvotel__dns_msg_t;

/* Parse the header and, when qdcount > 0, the first question. 0, or -1 for anything not a
 * well-formed message start (too short, a label over 63 bytes, a name over 255, a compression
 * pointer or reserved label type in the question, a truncated question). Never reads past n. */
int uvotel__dns_parse(const uint8_t *m, size_t n, uvotel__dns_msg_t *out);

/* The mnemonic of a QTYPE ("A", "AAAA", ...), or NULL for one not in the short list. */
const char *uvotel__dns_qtype_name(uint16_t qtype);

/* The mnemonic of an RCODE ("NXDOMAIN", ...), or NULL. */
const char *uvotel__dns_rcode_name(int rcode);

/* A response's header and, when it parses, its first question: 1 (question parsed), 0 (the
 * header only: the question is missing, cut by the caller's bound or malformed; id, qr, rcode
 * set and name empty), or -1 (under 12 bytes). */
int uvotel__dns_parse_response(const uint8_t *m, size_t n, uvotel__dns_msg_t *out);

/* A standard query as a client sends it: qr 0, opcode 0, exactly one question, no answer or
 * authority records (at most a few additional ones: EDNS). 1 or 0. */
int uvotel__dns_is_query(const uvotel__dns_msg_t *m, const uint8_t *raw, size_t n);

/* ---- DNS over TCP framing (RFC 1035 4.2.2, RFC 7766): a 2-byte length before each message ---
 * A stream is fed in pieces of any size; for each message, once all of it has been fed, on_msg
 * gets a copy of its first min(length, UVOTEL__DNS_HEAD) bytes and its length. Copies at most
 * that per message; the rest of a message is only counted. */
#define UVOTEL__DNS_HEAD (12 + 256 + 4) /* header, the longest name, type and class */
typedef struct uvotel__dns_framer_s {
  unsigned nlen; /* bytes of the length prefix seen (0, 1; 2 = in a message) */
  size_t msglen; /* the current message's length */
  size_t got;    /* bytes of it seen */
  size_t nhead;  /* bytes of it copied */
  int bad;       /* a length under 12: not DNS over TCP; nothing more is parsed */
  uint8_t head[UVOTEL__DNS_HEAD];
} uvotel__dns_framer_t;

typedef void (*uvotel__dns_msg_cb)(void *arg, const uint8_t *head, size_t nhead, size_t msglen);

/* Feed n bytes. Returns the number of messages completed, or -1 once the framing is bad (a
 * length under 12; every later call returns -1 too). */
int uvotel__dns_frame_feed(uvotel__dns_framer_t *f, const uint8_t *d, size_t n,
                           uvotel__dns_msg_cb on_msg, void *arg);

/* Do the first len bytes of a TCP stream start with a standard query (length prefix, header:
 * qr 0, opcode 0, one question, no answer/authority records; labels well-formed as far as they
 * go)? 1: yes; 0: no; -1: cannot tell yet (len < max and more bytes could decide). With len >=
 * max a well-formed start whose name goes on past max counts as yes. */
int uvotel__dns_tcp_detect(const uint8_t *d, size_t len, size_t max);

/* 1 when the framer is between messages (the next byte fed starts a new one). */
static inline int uvotel__dns_frame_idle(const uvotel__dns_framer_t *f) {
  return f->nlen == 0;
}

/* ---- outstanding client queries, matched to responses by id, question and peer ----
 * At most UVOTEL__DNS_PENDING per table; the span pointer is opaque here. */
#define UVOTEL__DNS_PENDING 64
typedef struct uvotel__dns_pend_s {
  void *span;      /* NULL: a free slot */
  const void *req; /* the send request that carried it (udp), or NULL */
  uint64_t seq;    /* order of arrival: the smallest is the oldest */
  uint32_t qhash;  /* of the question name, case-folded */
  uint16_t id, qtype;
  unsigned retransmits;
  int any_peer; /* a connected socket (or a stream): the peer is not compared */
  struct sockaddr_storage peer;
} uvotel__dns_pend_t;

typedef struct uvotel__dns_pending_s {
  uvotel__dns_pend_t q[UVOTEL__DNS_PENDING];
  unsigned n;
  uint64_t seq;
} uvotel__dns_pending_t;

/* Same family, port and address (IPv4/IPv6; anything else: 0). The rest of the structs
 * (sin_zero, flow info) is not compared. */
int uvotel__dns_same_addr(const struct sockaddr_storage *a, const struct sockaddr *b);

/* The name hash used for matching (FNV-1a over the case-folded name). */
uint32_t uvotel__dns_name_hash(const char *name);

/* A query (m parsed from it) sent to peer (NULL: the connection's one peer). Returns its slot,
 * to fill in ->span, with *dup = 1 when the same id, question and peer were already waiting (a
 * retransmission: the slot is the existing one, counted in ->retransmits, span already set).
 * When all slots are taken the oldest is reused: *evicted is its span (to end), else NULL. */
uvotel__dns_pend_t *uvotel__dns_pending_add(uvotel__dns_pending_t *t, const uvotel__dns_msg_t *m,
                                            const struct sockaddr *peer, int *dup, void **evicted);

/* A response from `from` (NULL: the connection's peer): the pending entry it answers, removed
 * from the table and copied to *out, or 0 when it answers none. With question_ok 0 (the
 * question could not be parsed, or there is none) only the id and peer are compared. */
int uvotel__dns_pending_match(uvotel__dns_pending_t *t, const uvotel__dns_msg_t *m, int question_ok,
                              const struct sockaddr *from, uvotel__dns_pend_t *out);

/* Remove the entry sent with request req (its send failed); 1 and *out, or 0. */
int uvotel__dns_pending_take_req(uvotel__dns_pending_t *t, const void *req,
                                 uvotel__dns_pend_t *out);

#endif
