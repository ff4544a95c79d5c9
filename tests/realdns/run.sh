#!/bin/bash
# Real Debian DNS servers under libuvotel_preload.so (issue 12): kresd (knot-resolver) or named
# (BIND 9) answers a local zone on 127.0.0.1 (no network, no forwarding), dnsload.py sends the
# queries, and the answers' digest, the exit code and the exported spans are printed. Not run
# by ctest (needs the servers installed; takes seconds). Everything it writes goes to $OUT.
#
#   tests/realdns/run.sh raw|preload kresd|named [N] [dnsload options: --burst 50 --udp-only
#                        --tcp-only --pipeline --tcp-per-conn K]
# env: PRELOAD (default build/lib/libuvotel_preload.so), OUT (default /tmp/uvotel-realdns),
#      PORT (default 15353), NCPU (named -n, default 2), INSTR (UVOTEL_INSTRUMENT, default all)
set -u
mode=$1 srv=$2 n=${3:-500}
shift $(( $# < 3 ? $# : 3 ))
here=$(cd "$(dirname "$0")" && pwd)
PRELOAD=${PRELOAD:-$here/../../build/lib/libuvotel_preload.so}
OUT=${OUT:-/tmp/uvotel-realdns}
PORT=${PORT:-15353}
run=$OUT/$srv-$mode
rm -rf "$run"
mkdir -p "$run/srv"
# the zone: h<i>.test.local A 10.0.<i/256>.<i%256>; nx.test.local does not exist (NXDOMAIN)
{
  echo '$TTL 300'
  echo '@ IN SOA ns1.test.local. admin.test.local. 1 3600 600 86400 300'
  echo '  IN NS ns1.test.local.'
  echo 'ns1 IN A 127.0.0.1'
  for i in $(seq 0 $((n > 500 ? n : 500))); do echo "h$i IN A 10.0.$((i / 256)).$((i % 256))"; done
} > "$run/srv/test.local.db"
for i in $(seq 0 $((n > 500 ? n : 500))); do
  echo "10.0.$((i / 256)).$((i % 256)) h$i.test.local"
done > "$run/srv/hosts.txt"
case $srv in
  kresd)
    cat > "$run/srv/config" <<KRES
net.listen('127.0.0.1', $PORT, { kind = 'dns' })
trust_anchors.remove('.')
modules.unload('priming')
modules.unload('detect_time_skew')
modules.unload('ta_signal_query')
modules.unload('ta_sentinel')
modules.load('hints > iterate')
hints.add_hosts('$run/srv/hosts.txt')
policy.add(policy.suffix(policy.DENY, {todname('nx.test.local.')}))
policy.add(policy.suffix(policy.PASS, {todname('test.local.')}))
policy.add(policy.all(policy.DENY))
cache.size = 10 * MB
KRES
    cmd=(kresd -n -c config .)
    ;;
  named)
    cat > "$run/srv/named.conf" <<NAMED
options {
  directory "$run/srv";
  listen-on port $PORT { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  pid-file "$run/srv/named.pid";
  session-keyfile "$run/srv/session.key";
  managed-keys-directory "$run/srv";
  notify no;
};
controls { };
zone "test.local" { type primary; file "$run/srv/test.local.db"; };
NAMED
    cmd=(named -g -c "$run/srv/named.conf" -n "${NCPU:-2}")
    ;;
  *) echo "kresd or named" >&2; exit 2 ;;
esac
env=(OTEL_SERVICE_NAME=$srv OTEL_TRACES_EXPORTER=file OTEL_EXPORTER_FILE_PATH=$run/spans.jsonl
     UVOTEL_INSTRUMENT=${INSTR:-all})
[ "$mode" = preload ] && env+=(LD_PRELOAD=$PRELOAD)
cd "$run/srv"
env "${env[@]}" "${cmd[@]}" > "$run/server.log" 2>&1 &
pid=$!
# ready when it answers (this probe is one more UDP query, h1.test.local)
for _ in $(seq 50); do
  dig @127.0.0.1 -p "$PORT" +time=1 +tries=1 h1.test.local A > /dev/null 2>&1 && break
  sleep 0.2
done
python3 "$here/dnsload.py" 127.0.0.1 "$PORT" "$n" "$@" > "$run/load.txt" 2>&1
kill -TERM $pid
wait $pid
echo "exit=$?" >> "$run/load.txt"
cat "$run/load.txt"
if [ -f "$run/spans.jsonl" ]; then
  python3 - "$run/spans.jsonl" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    for rs in json.loads(line).get('resourceSpans', []):
        for ss in rs.get('scopeSpans', []):
            for s in ss.get('spans', []):
                a = {x['key']: list(x['value'].values())[0] for x in s.get('attributes', [])}
                kind = {1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT'}.get(s.get('kind'), s.get('kind'))
                c[(s['name'], kind, a.get('network.transport'), a.get('error.type'))] += 1
print('spans=%d' % sum(c.values()))
for k, v in sorted(c.items(), key=lambda x: -x[1]):
    print('  %5d %s %s %s%s' % (v, k[0], k[1], k[2], ' error.type=' + k[3] if k[3] else ''))
PY
else
  echo "spans=0"
fi
