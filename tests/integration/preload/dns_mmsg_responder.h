/* dns_mmsg_responder.c: a multi-loop recvmmsg DNS responder (plain libuv), for dns_mmsg_prog. */
#ifndef DNS_MMSG_RESPONDER_H
#define DNS_MMSG_RESPONDER_H

#define RESPONDER_MAX 4

/* n loops, each with a UDP socket (UV_UDP_RECVMMSG) bound to 127.0.0.1; each closes after
 * answering `expect` queries. ports[i]: the sockets' ports. Not receiving yet. 0 or -1. */
int responder_bind(int n, int expect, int *ports);
/* One thread per loop: start receiving and run. 0 or -1. */
int responder_run(void);
/* Wait for the threads; per loop the queries answered and whether a receive delivered chunks;
 * the loops closed: 0 when every uv_loop_close returned 0. */
int responder_join(int *answered, int *chunked);

#endif
