/* A plain libuv DNS-over-UDP responder (no uvotel header, not linked with uvotel) and its
 * client in one process on 127.0.0.1, for test_preload_dns. The client sends three queries
 * (A example.com id 0x1111, AAAA example.com id 0x2222, MX missing.example id 0x3333) and one
 * datagram that is not DNS; the responder answers each query with its header and question,
 * rcode NXDOMAIN for missing.example, from the receive callback, and ignores the rest. The client
 * prints the ids and rcodes it got back. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_udp_t server, client;
static int answers;

typedef struct sreq_s {
  uv_udp_send_t req;
  char data[512];
} sreq_t;

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  buf->base = malloc(suggested);
  buf->len = suggested;
}

static void on_sent(uv_udp_send_t *req, int status) {
  (void)status;
  free(req);
}

static void on_server_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)flags;
  if (nread >= 12 && addr != NULL && !(buf->base[2] & 0x80)) {
    sreq_t *r = calloc(1, sizeof *r);
    memcpy(r->data, buf->base, (size_t)nread);
    r->data[2] = (char)(r->data[2] | 0x80); /* QR */
    int nx = memmem(buf->base, (size_t)nread, "\7missing", 8) != NULL;
    r->data[3] = (char)(nx ? 3 : 0);
    uv_buf_t b = uv_buf_init(r->data, (unsigned)nread);
    uv_udp_send(&r->req, h, &b, 1, addr, on_sent);
  }
  free(buf->base);
}

static void on_client_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf,
                           const struct sockaddr *addr, unsigned flags) {
  (void)h;
  (void)addr;
  (void)flags;
  if (nread >= 12) {
    printf("answer id %02x%02x rcode %d\n", (unsigned char)buf->base[0],
           (unsigned char)buf->base[1], buf->base[3] & 0xf);
    if (++answers == 3) {
      uv_close((uv_handle_t *)&client, NULL);
      uv_close((uv_handle_t *)&server, NULL);
    }
  }
  free(buf->base);
}

/* header (id, RD, 1 question) + name + type + class IN */
static size_t query(unsigned char *m, unsigned id, const char *const *labels, unsigned qtype) {
  size_t n = 0;
  const unsigned char h[12] = {id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(m, h, 12);
  n = 12;
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

static unsigned char q[4][300];
static uv_udp_send_t creq[4];

int main(void) {
  loop = uv_default_loop();
  struct sockaddr_in a;
  uv_ip4_addr("127.0.0.1", 0, &a);
  uv_udp_init(loop, &server);
  if (uv_udp_bind(&server, (const struct sockaddr *)&a, 0) != 0) return 1;
  int len = sizeof a;
  uv_udp_getsockname(&server, (struct sockaddr *)&a, &len);
  uv_udp_recv_start(&server, alloc_cb, on_server_recv);
  uv_udp_init(loop, &client);
  struct sockaddr_in c;
  uv_ip4_addr("127.0.0.1", 0, &c);
  uv_udp_bind(&client, (const struct sockaddr *)&c, 0);
  uv_udp_recv_start(&client, alloc_cb, on_client_recv);
  static const char *const ex[] = {"example", "com", NULL};
  static const char *const missing[] = {"missing", "example", NULL};
  size_t n[4];
  n[0] = query(q[0], 0x1111, ex, 1);
  n[1] = query(q[1], 0x2222, ex, 28);
  n[2] = query(q[2], 0x3333, missing, 15);
  memcpy(q[3], "not dns", 7);
  n[3] = 7;
  for (int i = 0; i < 4; i++) {
    uv_buf_t b = uv_buf_init((char *)q[i], (unsigned)n[i]);
    uv_udp_send(&creq[i], &client, &b, 1, (const struct sockaddr *)&a, NULL);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(loop);
  printf("loop close %d\n", rc);
  return rc != 0;
}
