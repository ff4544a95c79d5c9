/* A plain libuv DNS-over-UDP responder that, like knot-resolver's kresd, receives with
 * uv_udp_recv_start but sends its answers with the socket calls on uv_fileno() instead of
 * uv_udp_send (no uvotel header, not linked with uvotel), and its client, in one process on
 * 127.0.0.1, for test_preload_dns_raw. Five queries, each answered a different way with its own
 * response code:
 *   id 0x1101 A example.com        sendto, from the receive callback           NOERROR
 *   id 0x1102 AAAA example.com     sendmsg with two iovecs, receive callback   SERVFAIL
 *   id 0x1103 MX missing.example   queued, one sendmmsg of both from a check   NXDOMAIN
 *   id 0x1104 TXT example.com        callback (kresd's udp_queue)              REFUSED
 *   id 0x1105 A conn.example       send, on a second server socket connected    NOTIMP
 *                                  to the client (uv_udp_connect)
 * The client prints the ids and rcodes it got back, in id order, and the loop's close code. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sendmmsg */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_udp_t server, server_conn, client;
static uv_check_t flush_check;
static int answers;
static int rcodes[6];

/* kresd's udp_queue: answers waiting for the check phase */
typedef struct queued_s {
  char data[512];
  size_t len;
  struct sockaddr_storage to;
} queued_t;
static queued_t queue[4];
static int queued;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static int fd_of(uv_udp_t *h) {
  uv_os_fd_t fd = -1;
  uv_fileno((const uv_handle_t *)h, &fd);
  return fd;
}

static void on_flush(uv_check_t *c) {
  (void)c;
  if (queued == 0) return;
  struct mmsghdr v[4];
  struct iovec io[4];
  memset(v, 0, sizeof v);
  for (int i = 0; i < queued; i++) {
    io[i].iov_base = queue[i].data;
    io[i].iov_len = queue[i].len;
    v[i].msg_hdr.msg_iov = &io[i];
    v[i].msg_hdr.msg_iovlen = 1;
    v[i].msg_hdr.msg_name = &queue[i].to;
    v[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in);
  }
  int n = sendmmsg(fd_of(&server), v, (unsigned)queued, 0);
  if (n != queued) fprintf(stderr, "sendmmsg sent %d of %d\n", n, queued);
  queued = 0;
}

/* The answer: the query with QR set and the rcode. */
static size_t answer(char *out, const uv_buf_t *buf, ssize_t nread, int rcode) {
  memcpy(out, buf->base, (size_t)nread);
  out[2] = (char)(out[2] | 0x80);
  out[3] = (char)rcode;
  return (size_t)nread;
}

static void on_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread >= 12 && addr != NULL && !(buf->base[2] & 0x80)) {
    char out[512];
    unsigned id = (unsigned char)buf->base[1];
    if (id == 0x01) {
      size_t n = answer(out, buf, nread, 0);
      sendto(fd_of(h), out, n, 0, addr, sizeof(struct sockaddr_in));
    } else if (id == 0x02) {
      size_t n = answer(out, buf, nread, 2);
      struct iovec io[2] = {{out, 5}, {out + 5, n - 5}}; /* the header cut in two */
      struct msghdr m;
      memset(&m, 0, sizeof m);
      m.msg_iov = io;
      m.msg_iovlen = 2;
      m.msg_name = (void *)addr;
      m.msg_namelen = sizeof(struct sockaddr_in);
      sendmsg(fd_of(h), &m, 0);
    } else if ((id == 0x03 || id == 0x04) && queued < 4) {
      queued_t *q = &queue[queued++];
      q->len = answer(q->data, buf, nread, id == 0x03 ? 3 : 5);
      memcpy(&q->to, addr, sizeof(struct sockaddr_in));
    }
  }
  free(buf->base);
}

static void on_conn_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                         const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread >= 12 && addr != NULL && !(buf->base[2] & 0x80)) {
    char out[512];
    size_t n = answer(out, buf, nread, 4);
    send(fd_of(h), out, n, 0);
  }
  free(buf->base);
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)addr;
  (void)flags;
  if (nread >= 12) {
    unsigned id = (unsigned char)buf->base[1];
    if (id >= 1 && id <= 5 && rcodes[id] < 0) {
      rcodes[id] = buf->base[3] & 0xf;
      if (++answers == 5) {
        uv_close((uv_handle_t *)&client, NULL);
        uv_close((uv_handle_t *)&server, NULL);
        uv_close((uv_handle_t *)&server_conn, NULL);
        uv_close((uv_handle_t *)&flush_check, NULL);
      }
    }
  }
  free(buf->base);
}

/* header (id, RD, 1 question) + name + type + class IN */
static size_t query(unsigned char *m, unsigned id, const char *const *labels, unsigned qtype) {
  const unsigned char h[12] = {id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(m, h, 12);
  size_t n = 12;
  for (; *labels != NULL; labels++) {
    size_t l = strlen(*labels);
    m[n++] = (unsigned char)l;
    memcpy(m + n, *labels, l);
    n += l;
  }
  m[n++] = 0;
  m[n++] = (unsigned char)(qtype >> 8);
  m[n++] = (unsigned char)qtype;
  m[n++] = 0;
  m[n++] = 1;
  return n;
}

static unsigned char q[5][300];
static uv_udp_send_t creq[5];

static int bind_any(uv_udp_t *h, struct sockaddr_in *a) {
  uv_ip4_addr("127.0.0.1", 0, a);
  uv_udp_init(loop, h);
  if (uv_udp_bind(h, (const struct sockaddr *)a, 0) != 0) return -1;
  int len = sizeof *a;
  return uv_udp_getsockname(h, (struct sockaddr *)a, &len);
}

int main(void) {
  loop = uv_default_loop();
  for (int i = 0; i < 6; i++) rcodes[i] = -1;
  struct sockaddr_in sa, ca, sca;
  if (bind_any(&server, &sa) != 0 || bind_any(&client, &ca) != 0) return 1;
  if (bind_any(&server_conn, &sca) != 0) return 1;
  if (uv_udp_connect(&server_conn, (const struct sockaddr *)&ca) != 0) return 1;
  uv_udp_recv_start(&server, alloc_cb, on_server_recv);
  uv_udp_recv_start(&server_conn, alloc_cb, on_conn_recv);
  uv_udp_recv_start(&client, alloc_cb, on_client_recv);
  uv_check_init(loop, &flush_check);
  uv_check_start(&flush_check, on_flush);
  static const char *const ex[] = {"example", "com", NULL};
  static const char *const missing[] = {"missing", "example", NULL};
  static const char *const conn[] = {"conn", "example", NULL};
  size_t n[5];
  n[0] = query(q[0], 0x1101, ex, 1);
  n[1] = query(q[1], 0x1102, ex, 28);
  n[2] = query(q[2], 0x1103, missing, 15);
  n[3] = query(q[3], 0x1104, ex, 16);
  n[4] = query(q[4], 0x1105, conn, 1);
  for (int i = 0; i < 5; i++) {
    uv_buf_t b = uv_buf_init((char *)q[i], (unsigned)n[i]);
    const struct sockaddr *to = (const struct sockaddr *)(i == 4 ? &sca : &sa);
    uv_udp_send(&creq[i], &client, &b, 1, to, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  for (int i = 1; i <= 5; i++) printf("answer id 11%02x rcode %d\n", i, rcodes[i]);
  int rc = uv_loop_close(loop);
  printf("loop close %d\n", rc);
  return rc != 0;
}
