#!/usr/bin/env bash
# Builds the kernel benchmark's workers and runs bench/kernels.lua (`make bench-kernels`):
# the base build is BASE's code (default main) from git, in build/bench-kernels/base;
# "dispatch" is this tree as built by `make`; x86-64, x86-64-v3, x86-64-v4 are this tree's
# kernels compiled for one level each without dispatch (only the levels the CPU runs).
#   bench/kernels.sh [--rounds N] [--sample SECONDS] [--clock wall|cpu]
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-kernels
base=${BASE:-main}
cc=${CC:-cc}
kernels() { # tree, output, flags...
  local tree=$1 exe=$2
  shift 2
  mkdir -p "$(dirname "$exe")"
  $cc -std=c99 -O2 "$@" -I"$tree/src/core" bench/kernels.c "$tree"/src/core/cell{s,_*}.c -lm -o "$exe"
}
rm -rf "$out" && mkdir -p "$out/base"
git archive "$base" | tar -x -C "$out/base"
make -s -C "$out/base" recur/core.so
kernels "$out/base" "$out/base/kernels"
make -s recur/core.so
kernels . "$out/dispatch/kernels"
for level in ${CPU_LEVELS:-}; do # from `make bench-kernels`: the levels this CPU runs
  kernels . "$out/$level/kernels" -march="$level" -DRC_VECTOR_DISPATCH=0
done
lua5.4 bench/kernels.lua "$out" "$@"
