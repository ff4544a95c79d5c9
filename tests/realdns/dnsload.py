#!/usr/bin/env python3
"""dnsload.py HOST PORT N [--tcp-per-conn K] [--udp-only|--tcp-only] [--burst B] [--pipeline]
A DNS load client for tests/realdns/run.sh. Sends N queries over UDP (one socket; one at a
time, or --burst B at a time) and N over TCP (K per connection, default 10; one at a time, or
all K written at once with --pipeline). Names h<i>.test.local A, i = 0..N-1; every 7th
(i % 7 == 6) asks x<i>.nx.test.local instead (NXDOMAIN). Prints sent/answered per transport and
a digest of every (name, rcode, answer records without TTL), so runs can be compared."""
import hashlib, socket, struct, sys

def q(qid, name, qtype=1):
    h = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    b = b''.join(bytes([len(l)]) + l.encode() for l in name.split('.') if l) + b'\0'
    return h + b + struct.pack('>HH', qtype, 1)

def answers(msg):
    # walk question + answers, collect (type, rdata) without TTL
    qid, fl, qd, an, ns, ar = struct.unpack('>HHHHHH', msg[:12])
    off = 12
    def skipname(o):
        while True:
            l = msg[o]
            if l == 0: return o + 1
            if l & 0xc0 == 0xc0: return o + 2
            o += 1 + l
    for _ in range(qd):
        off = skipname(off) + 4
    out = []
    for _ in range(an):
        off = skipname(off)
        t, c, ttl, rl = struct.unpack('>HHIH', msg[off:off + 10])
        out.append((t, msg[off + 10:off + 10 + rl].hex()))
        off += 10 + rl
    return qid, fl & 0xf, out

def names(n):
    return [('x%d.nx.test.local' % i) if i % 7 == 6 else ('h%d.test.local' % i) for i in range(n)]

def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    k = 10
    if '--tcp-per-conn' in sys.argv: k = int(sys.argv[sys.argv.index('--tcp-per-conn') + 1])
    do_udp = '--tcp-only' not in sys.argv
    do_tcp = '--udp-only' not in sys.argv
    dig = hashlib.sha256()
    res = {}
    burst = int(sys.argv[sys.argv.index('--burst') + 1]) if '--burst' in sys.argv else 0
    if do_udp and burst:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        sent = ans = 0
        nl = names(n)
        for b0 in range(0, n, burst):
            want = {}
            for i in range(b0, min(n, b0 + burst)):
                qid = (i * 7919 + 1) & 0xffff
                want[qid] = nl[i]
                s.sendto(q(qid, nl[i]), (host, port)); sent += 1
            got = {}
            try:
                while len(got) < len(want):
                    m, _ = s.recvfrom(4096)
                    rid, rc, out = answers(m)
                    if rid in want and rid not in got: got[rid] = (rc, out)
            except socket.timeout:
                print("udp burst timeout", len(want) - len(got), file=sys.stderr)
            for qid, nm in want.items():
                if qid in got: ans += 1
                dig.update(repr(('u', nm, got.get(qid, 'timeout'))).encode())
        res['udp'] = (sent, ans)
        do_udp = False
    if do_udp:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        sent = ans = 0
        for i, nm in enumerate(names(n)):
            qid = (i * 7919 + 1) & 0xffff
            s.sendto(q(qid, nm), (host, port)); sent += 1
            try:
                while True:
                    m, _ = s.recvfrom(4096)
                    rid, rc, out = answers(m)
                    if rid == qid: break
                ans += 1
                dig.update(repr(('u', nm, rc, out)).encode())
            except socket.timeout:
                print("udp timeout", nm, file=sys.stderr)
                dig.update(repr(('u', nm, 'timeout')).encode())
        res['udp'] = (sent, ans)
    if do_tcp:
        sent = ans = conns = 0
        nl = names(n)
        for c0 in range(0, n, k):
            t = socket.create_connection((host, port), timeout=5); conns += 1
            f = t.makefile('rb')
            if '--pipeline' in sys.argv:
                idx = list(range(c0, min(n, c0 + k)))
                msgs = b''
                for i in idx:
                    m = q((i * 104729 + 3) & 0xffff, nl[i]); msgs += struct.pack('>H', len(m)) + m; sent += 1
                t.sendall(msgs)
                got = {}
                try:
                    for _ in idx:
                        l = struct.unpack('>H', f.read(2))[0]
                        rid, rc, out = answers(f.read(l)); got[rid] = (rc, out)
                except Exception as e:
                    print("tcp pipeline err", repr(e), file=sys.stderr)
                for i in idx:
                    qid = (i * 104729 + 3) & 0xffff
                    if qid in got: ans += 1
                    dig.update(repr(('t', nl[i], got.get(qid, 'err'))).encode())
                t.close()
                continue
            for i in range(c0, min(n, c0 + k)):
                qid = (i * 104729 + 3) & 0xffff
                m = q(qid, nl[i]); t.sendall(struct.pack('>H', len(m)) + m); sent += 1
                try:
                    l = struct.unpack('>H', f.read(2))[0]
                    rid, rc, out = answers(f.read(l))
                    ans += 1
                    dig.update(repr(('t', nl[i], rc, out)).encode())
                except Exception as e:
                    print("tcp err", nl[i], repr(e), file=sys.stderr)
                    dig.update(repr(('t', nl[i], 'err')).encode())
            t.close()
        res['tcp'] = (sent, ans, conns)
    for kk, v in res.items():
        print('%s sent=%d answered=%d%s' % (kk, v[0], v[1], (' connections=%d' % v[2]) if kk == 'tcp' else ''))
    print('digest', dig.hexdigest()[:16])

main()
