#!/bin/sh
# Issue 15's table from the benchmark programs of a Release build: runs them, parses what they
# print and prints one line per row: measure | min / median / max | target | met?
#
#   tests/bench/run_table.sh [-n RUNS] [-r ROUNDS] [-k] BUILD_DIR
#
# BUILD_DIR is a configured and built Release tree (cmake -DCMAKE_BUILD_TYPE=Release); this
# script builds nothing. -n RUNS runs every program RUNS times (default 1): with one run a row
# shows the program's own min / median / max over its interleaved rounds (or its median alone
# when the program prints no spread, marked "med"); with more, min / median / max over the
# runs of each run's median figure. -r ROUNDS is passed to bench_io and bench_core (default
# 9 and 5). -k keeps the raw outputs (their directory is printed). How to run it quietly:
# tests/bench/README.md.
#
# Where each row comes from (programs other engineers are still changing are parsed from their
# current format, leniently: a row whose line is not found says so instead of failing):
#   OTLP burst, sustained, app CPU      bench_otlp           (sections "burst ... drop when full",
#                                                             "back-pressure", "sustained")
#   span start + 4 attrs + end, sweep   bench_trace ... spans (lines "span start+4 attrs+end",
#                                                             "sweep: start + N int attrs")
#   W3C extract                         bench_propagation    (line "extract tracecontext")
#   queue_work 1 us / empty item        bench_io             (ratio table, hook + variable)
#   side-table lookup at 100k           bench_io             (line "lookup 100k minus 10")
#   timers, immediates (hook + var)     bench_core           (section "(b)")
#   uvotel_var_get, enter+exit 64 vars  bench_core           (lines "uvotel_var_get",
#                                                             "64" with "enter")
set -u

RUNS=1
ROUNDS_IO=9
ROUNDS_CORE=5
KEEP=0
while [ $# -gt 1 ]; do
  case "$1" in
    -n) RUNS=$2; shift 2 ;;
    -r) ROUNDS_IO=$2; ROUNDS_CORE=$2; shift 2 ;;
    -k) KEEP=1; shift ;;
    *) break ;;
  esac
done
if [ $# -ne 1 ] || [ ! -d "$1/tests/bench" ]; then
  echo "usage: $0 [-n RUNS] [-r ROUNDS] [-k] BUILD_DIR   (a built Release tree)" >&2
  exit 2
fi
B=$1/tests/bench
OUT=$(mktemp -d "${TMPDIR:-/tmp}/run_table.XXXXXX")
[ "$KEEP" = 1 ] || trap 'rm -rf "$OUT"' EXIT

run() { # name args...: run $B/name RUNS times into $OUT/name.N (a missing program: no files)
  name=$1
  shift
  if [ ! -x "$B/$name" ]; then
    echo "note: $B/$name not built: its rows are missing" >&2
    return
  fi
  i=1
  while [ "$i" -le "$RUNS" ]; do
    "$B/$name" "$@" >"$OUT/$name.$i" 2>&1 || echo "note: $name run $i exited $?" >&2
    i=$((i + 1))
  done
}

echo "issue 15 table, $(date -u '+%Y-%m-%d %H:%M UTC'), load:$(uptime | sed 's/.*load average://')"
echo "build: $1, $RUNS run(s) per program"
run bench_otlp
run bench_trace 1000000 spans
run bench_propagation
run bench_io "$ROUNDS_IO" "queue_work|side-table"
run bench_core 1000000 "$ROUNDS_CORE"

# extract PROG AWK-PROGRAM: the awk program reads one run's output and prints "min med max" (or
# "med" alone, or nothing when its line is missing); each run's line goes to stdout in order.
extract() {
  prog=$1
  shift
  for f in "$OUT/$prog".*; do
    [ -f "$f" ] || continue
    awk "$@" "$f"
  done
}

# summarize: reads per-run lines ("min med max" or "med"), prints "min / median / max" with
# one run, the spread of the per-run medians with several, "n/a" with none.
summarize() {
  awk -v runs="$RUNS" '
    NF == 0 { next }
    { n++; med[n] = (NF >= 3 ? $2 : $1); lo[n] = $1; hi[n] = (NF >= 3 ? $3 : $1); spread = (NF >= 3) }
    END {
      if (n == 0) { print "n/a"; exit }
      if (n == 1) {
        if (spread) printf "%s / %s / %s\n", lo[1], med[1], hi[1]
        else printf "med %s\n", med[1]
        exit
      }
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (med[j] + 0 < med[i] + 0) { t = med[i]; med[i] = med[j]; med[j] = t }
      m = (n % 2) ? med[(n + 1) / 2] : (med[n / 2] + med[n / 2 + 1]) / 2
      printf "%s / %s / %s (%d runs)\n", med[1], m, med[n], n
    }'
}

# the median figure of a summary line, for the target check
median_of() {
  echo "$1" | awk '{ if ($1 == "med") print $2; else if ($1 ~ /^n\/a/) print ""; else print $3 }'
}

# met VALUE OP LIMIT: "met", "MISSED" or "n/a"
met() {
  if [ -z "$1" ]; then
    echo "n/a"
    return
  fi
  awk -v v="$1" -v op="$2" -v l="$3" 'BEGIN {
    ok = (op == "<=") ? (v + 0 <= l + 0) : (v + 0 >= l + 0); print ok ? "met" : "MISSED" }'
}

row() { # measure summary target op limit [unit]
  printf '%-48s | %-30s | %-26s | %s\n' "$1" "$2${6:+ $6}" "$3" "$(met "$(median_of "$2")" "$4" "$5")"
}

printf '%-48s | %-30s | %-26s | %s\n' "measure" "min / median / max" "target" "met?"
printf '%-48s-+-%-30s-+-%-26s-+-%s\n' "------------------------------------------------" \
  "------------------------------" "--------------------------" "----"

# ---- bench_otlp: the burst in the default drop mode, back-pressure, sustained ----
# TRI: an awk function printing the first "a / b / c" triple of the line as "a b c".
TRI='function tri() { if (match($0, /[0-9.]+ +\/ +[0-9.]+ +\/ +[0-9.]+/)) { t = substr($0, RSTART, RLENGTH); gsub(/\//, " ", t); print t; exit } }'
# otlp SECTION LINE: the triple of the first line matching LINE after the header matching SECTION
otlp() {
  extract bench_otlp -v sec="$1" -v pat="$2" "$TRI"' $0 ~ sec { on = 1; next } on && /^[a-z]/ { on = 0 } on && $0 ~ pat { tri() }' | summarize
}
s=$(otlp "^burst .*drop when full" "delivered rate")
row "OTLP 1M burst (drop mode): delivered M spans/s (otlp)" "$s" ">= 1.0 M/s" ">=" 1.0
s=$(otlp "^burst .*drop when full" "  dropped")
row "OTLP 1M burst (drop mode): spans dropped (otlp)" "$s" "0" "<=" 0
s=$(otlp "^burst .*back-pressure" "  dropped")
row "OTLP 1M burst (back-pressure): dropped (otlp)" "$s" "0" "<=" 0
s=$(otlp "^sustained" "delivered / offered")
row "OTLP sustained 1M/s x 10 s: delivered % (otlp)" "$s" "100 %" ">=" 100
s=$(otlp "^burst .*drop when full" "CPU: span calls")
row "app-thread CPU per exported span, ns (otlp)" "$s" "<= 100 ns all-in" "<=" 100

# ---- bench_trace: span start + 4 attributes + end, the sweep ----
# the first three numbers after the label (bench_trace: min / median / max, then the ratio)
first3='{ n = 0; for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) { v[++n] = $i; if (n == 3) break }
          if (n >= 3) print v[1], v[2], v[3]; exit }'
s=$(extract bench_trace "/span start\\+4 attrs\\+end, batch/ { sub(/.*discard/, \"\"); $first3 }" | summarize)
row "span start + 4 attrs + end, ns (trace)" "$s" "<= 80 ns" "<=" 80
for a in 0 4 16 64; do
  s=$(extract bench_trace "/sweep: start \\+ $a int attrs/ { sub(/.*\\+ end/, \"\"); $first3 }" | summarize)
  if [ "$a" = 64 ]; then
    row "  sweep: $a attributes, ns (trace)" "$s" "linear; 64 <= 1000 ns" "<=" 1000
  else
    printf '%-48s | %-30s | %-26s | %s\n' "  sweep: $a attributes, ns (trace)" "$s" "linear" "-"
  fi
done

# ---- bench_propagation: extract ----
s=$(extract bench_propagation "/^extract tracecontext/ { sub(/^[^)]*\\)/, \"\"); $first3 }" | summarize)
row "W3C extract tp + 3-member ts, ns (propagation)" "$s" "<= 50 ns" "<=" 50
s=$(extract bench_propagation '/^extract tracecontext/ { for (i = 1; i < NF; i++) if ($(i+1) == "allocs/op") { print $i; exit } }' | summarize)
row "W3C extract allocations per op (propagation)" "$s" "0" "<=" 0

# ---- bench_io: queue_work ratios (hook + variable: the second triple of the spread table) ----
qw() { # row-name-pattern
  extract bench_io "/^$1 *\\|.*\\/.*\\|/ { split(\$0, c, \"|\"); gsub(/\\//, \" \", c[3]); split(c[3], v, \" \"); print v[1], v[2], v[3] }"
}
s=$(qw "queue_work 1us x100000" | summarize)
row "queue_work hook+var, 1 us item, x raw (io)" "$s" ">= 0.90x" ">=" 0.90
s=$(qw "queue_work x100000" | summarize)
printf '%-48s | %-30s | %-26s | %s\n' "queue_work hook+var, empty item, x raw (io)" "$s" "(reported beside)" "-"
s=$(extract bench_io '/^ratio min/ { done = 1 } !done && /^queue_work 1us.*\|/ { n = split($0, c, "|"); split(c[n], v, " "); sub(/x$/, "", v[2]); print v[2] }' | summarize)
printf '%-48s | %-30s | %-26s | %s\n' "  loop-thread CPU ratio, 1 us item (io)" "$s" "(reported beside)" "-"
s=$(extract bench_io '/^process CPU/ { inp = 1; next } inp && /^queue_work 1us/ { split($0, c, "|"); split(c[2], v, " "); sub(/x$/, "", v[2]); print v[2] }' | summarize)
printf '%-48s | %-30s | %-26s | %s\n' "  process CPU ratio, 1 us item (io)" "$s" "(reported beside)" "-"
s=$(extract bench_io '/^process CPU/ { inp = 1; next } inp && /^queue_work 1us/ { split($0, c, "|"); split(c[3], v, " "); print v[1] "/" v[2] }' | head -1)
printf '%-48s | %-30s | %-26s | %s\n' "  context switches per run raw/wrapped (io)" "${s:-n/a}" "(reported beside)" "-"
s=$(extract bench_io "/^lookup 100k minus 10/ { split(\$0, c, \"|\"); gsub(/\\//, \" \", c[2]); split(c[2], v, \" \"); print v[1], v[2], v[3] }" | summarize)
row "side-table lookup, 100k vs 10 handles, ns (io)" "$s" "<= +40 ns" "<=" 40

# ---- bench_core: section (b) timers and immediates, context calls ----
core_b() { # word field: the number after field on the word's line within section (b)
  extract bench_core "/^\\(b\\)/ { inb = 1; next } /^\\(/ { inb = 0 } inb && \$1 == \"$1\" {
      for (i = 1; i < NF; i++) if (\$i == \"$2\") { x = \$(i+1); gsub(/[^0-9.+-]/, \"\", x); print x; exit } }"
}
s=$(core_b timers added | summarize)
row "timer callback hook+var, added ns (core)" "$s" "<= +8 ns" "<=" 8
s=$(core_b immediates throughput | summarize)
row "immediates hook+var, x raw (core)" "$s" ">= 0.95x" ">=" 0.95
s=$(extract bench_core "$TRI"' /uvotel_var_get, 1 var set \(inline, via libuvotel.so\)/ { tri() }' | summarize)
row "uvotel_var_get via the shared library, ns (core)" "$s" "<= 2 ns" "<=" 2
s=$(extract bench_core "$TRI"' /enter\+exit with 64 variables set \(a 65th\)/ { tri() }' | summarize)
if [ "$s" = "n/a" ]; then
  s="n/a: no 64-variable row in bench_core"
fi
row "enter + exit with 64 variables set, ns (core)" "$s" "<= 30 ns, no allocation" "<=" 30

[ "$KEEP" = 1 ] && echo "raw outputs kept in $OUT"
exit 0
