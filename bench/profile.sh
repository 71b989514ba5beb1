#!/usr/bin/env bash
# Where a recurrent layer's forward (or forward+backward) spends its time: `perf record` of a
# loop of calls at 1 thread, in this tree's build, writing into {out = y} (a forward alone in
# evaluation mode under recur.no_grad, as `make bench` runs it); prints the load
# average and the symbols with at least 0.5% of the samples (`perf report --sort dso,symbol`).
# The figures of doc/performance.md's "Where the misses come from" are its output.
# Needs perf, and kernel.perf_event_paranoid <= 1 (or root).
#   bench/profile.sh [LSTM|GRU|RNN] [H] [B] [forward|fb] [CALLS]
set -euo pipefail
cd "$(dirname "$0")/.."
cell=${1:-LSTM} H=${2:-256} B=${3:-64} pass=${4:-forward} calls=${5:-40}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/loop.lua" <<LUA
local recur = require "recur"
local layer = recur.$cell{input_size = $H, hidden_size = $H}
local x = recur.randn{50, $B, $H}
local y = layer:forward(x)
local gy, dx = recur.randn(y:shape()), recur.zeros(x:shape())
if "$pass" == "forward" then layer:evaluate() end
for _ = 1, $calls do
  if "$pass" == "fb" then
    layer:forward(x, {out = y})
    layer:backward(gy, {out = dx})
  else
    recur.no_grad(layer.forward, layer, x, {out = y})
  end
end
LUA
echo "$cell T=50 B=$B H=$H $pass, $calls calls, 1 thread; load average $(cut -d' ' -f1-3 /proc/loadavg)"
LUA_PATH="lua/?.lua;lua/?/init.lua;;" LUA_CPATH="./?.so;;" OPENBLAS_NUM_THREADS=1 \
  perf record -q -e cpu-clock -o "$tmp/perf.data" lua5.4 "$tmp/loop.lua" >/dev/null 2>&1
perf report -i "$tmp/perf.data" --no-children --sort dso,symbol --percent-limit 0.5 2>/dev/null |
  awk '/%/ && !/^#/ {printf "%8s  %-26s %s\n", $1, $2, $4}'
