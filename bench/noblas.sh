#!/usr/bin/env bash
# recur's portable C GEMM (make BLAS=none) against OpenBLAS, 1 thread, interleaved (the
# "noblas" table of bench/run.lua): by default the quick grid (RNN/GRU/LSTM, T=50, B in {1, 16},
# H=128); pass --full for B up to 64 and H up to 256. Other arguments go to bench/run.lua.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s recur/core.so build/noblas/recur/core.so
quick=--quick
if [ "${1:-}" = "--full" ]; then quick=; shift; fi
exec lua5.4 bench/run.lua --tables noblas $quick "$@"
