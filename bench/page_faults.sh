#!/usr/bin/env bash
# Page faults of an LSTM B=64 H=512 forward (bench/page_faults.lua), with a new y per call and
# with {out = y}: faults per forward from `perf stat -e page-faults` (runs of N1 and N2 forwards,
# so that the setup cancels out), and the share of a forward's CPU time spent in page faults from
# `perf record -g` (samples whose call chain holds asm_exc_page_fault, same difference).
# Needs perf, and kernel.perf_event_paranoid <= 1 (or root).
#   bench/page_faults.sh [N1 N2]
set -euo pipefail
cd "$(dirname "$0")/.."
n1=${1:-1} n2=${2:-16}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
faults() { # N -> page faults of the whole run
  perf stat -x, -e page-faults -o "$tmp/stat" lua5.4 bench/page_faults.lua "$1" >/dev/null
  awk -F, '/page-faults/ {print $1}' "$tmp/stat"
}
samples() { # N -> "all samples, samples in page faults"
  perf record -q -g -e cpu-clock -o "$tmp/perf.data" lua5.4 bench/page_faults.lua "$1" >/dev/null 2>&1
  perf script -i "$tmp/perf.data" 2>/dev/null | awk 'BEGIN {RS = ""} {n++; if ($0 ~ /asm_exc_page_fault/) f++} END {print n, f + 0}'
}
echo "LSTM T=50 B=${B:-64} H=${H:-512} forward, evaluation mode, 1 thread; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for out in 0 1; do
  export OUT=$out
  f1=$(faults "$n1") f2=$(faults "$n2")
  read -r s1 p1 <<<"$(samples "$n1")"
  read -r s2 p2 <<<"$(samples "$n2")"
  awk -v out="$out" -v n="$((n2 - n1))" -v f1="$f1" -v f2="$f2" -v s1="$s1" -v p1="$p1" -v s2="$s2" -v p2="$p2" 'BEGIN {
    printf "%-22s %8.0f page faults per forward, %5.2f%% of its time in page faults\n",
      out == 1 ? "forward(x, {out = y}):" : "forward(x):", (f2 - f1) / n, 100 * (p2 - p1) / (s2 - s1) }'
done
