/* BIND 9's shape of a libuv DNS server (plain libuv, no uvotel header), for
 * test_preload_dns_mmsg: dns_mmsg_responder.c runs 2 loops on 2 threads, each with a
 * UV_UDP_RECVMMSG socket, and answers each query with a two-buffer uv_udp_send from the receive
 * callback. So that one receive really carries several datagrams, the client (plain blocking
 * sockets, this thread) sends all 24 queries to each socket before the responder starts
 * receiving. Queries: id = socket * 256 + i, name q<i>.example, every 4th nx<i>.example
 * (NXDOMAIN). Prints per socket the answers the client got and their NXDOMAIN count, whether a
 * receive delivered chunks, and the loops' close result. */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include "dns_mmsg_responder.h"

#define SOCKETS 2
#define PER 24

static size_t query(unsigned char *m, unsigned id, int i) {
  const unsigned char h[12] = {id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  memcpy(m, h, 12);
  char label[16];
  int l = snprintf(label, sizeof label, "%s%d", i % 4 == 3 ? "nx" : "q", i);
  size_t n = 12;
  m[n++] = (unsigned char)l;
  memcpy(m + n, label, (size_t)l);
  n += (size_t)l;
  m[n++] = 7;
  memcpy(m + n, "example", 7);
  n += 7;
  m[n++] = 0;
  m[n++] = 0;
  m[n++] = 1; /* A */
  m[n++] = 0;
  m[n++] = 1; /* IN */
  return n;
}

int main(void) {
  int ports[SOCKETS];
  if (responder_bind(SOCKETS, PER, ports) != 0) return 1;
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return 1;
  int rcvbuf = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  for (int s = 0; s < SOCKETS; s++) {
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_port = htons((unsigned short)ports[s]);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    for (int i = 0; i < PER; i++) {
      unsigned char m[64];
      size_t n = query(m, (unsigned)(s * 256 + i), i);
      if (sendto(fd, m, n, 0, (struct sockaddr *)&to, sizeof to) != (ssize_t)n) return 1;
    }
  }
  if (responder_run() != 0) return 1;
  int got[SOCKETS] = {0}, nx[SOCKETS] = {0}, seen[SOCKETS][PER];
  memset(seen, 0, sizeof seen);
  int total = 0;
  while (total < SOCKETS * PER) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) != 1) break; /* an answer missing: said below */
    unsigned char m[512];
    ssize_t n = recv(fd, m, sizeof m, 0);
    if (n < 12 || !(m[2] & 0x80)) continue;
    int s = m[0], i = m[1];
    if (s >= SOCKETS || i >= PER || seen[s][i]) continue;
    seen[s][i] = 1;
    got[s]++;
    nx[s] += (m[3] & 0xf) == 3;
    total++;
  }
  close(fd);
  int answered[SOCKETS], chunked[SOCKETS];
  int rc = total == SOCKETS * PER ? responder_join(answered, chunked) : -1;
  if (rc == -1 && total != SOCKETS * PER) {
    printf("only %d answers\n", total);
    return 1;
  }
  for (int s = 0; s < SOCKETS; s++) {
    printf("socket %d: answers %d nxdomain %d answered %d chunked %d\n", s, got[s], nx[s],
           answered[s], chunked[s]);
  }
  printf("loops close %d\n", rc);
  return rc != 0;
}
