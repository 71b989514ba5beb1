#!/usr/bin/env bash
# recur's portable C GEMM (make BLAS=none) against OpenBLAS: the layer benchmark's quick
# grid at 1 thread with both builds, and the ratio per row.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s recur/core.so build/noblas/recur/core.so
export OPENBLAS_NUM_THREADS=1
echo "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
mkdir -p bench/out
lua5.4 bench/layers.lua 1 quick > bench/out/openblas.csv
RECUR_CPATH="build/noblas/?.so" lua5.4 bench/layers.lua 1 quick > bench/out/noblas.csv
paste -d, bench/out/openblas.csv bench/out/noblas.csv | awk -F, 'NR == 1 { printf "%-5s %4s %3s %4s %-17s %12s %12s %8s\n", "cell", "T", "B", "H", "mode", "openblas ms", "portable ms", "ratio"; next }
  { printf "%-5s %4d %3d %4d %-17s %12.3f %12.3f %7.2fx\n", $1, $3, $4, $5, $6, $7, $15, $15 / $7 }'
