#!/usr/bin/env bash
# Runs recur's benchmark, PyTorch's (when Debian's python3-torch is installed; pass
# --install-torch to install it) and the BLAS bound, at 1 and 2 threads, with equal
# OPENBLAS_CORETYPE on both sides, then prints the comparison. `make bench` runs this;
# `make bench QUICK=1` runs a small grid.
set -euo pipefail
cd "$(dirname "$0")/.."
quick="${QUICK:+quick}"
budget=${BENCH_BUDGET:-0.5}; [ -n "$quick" ] && budget=0.2
out=bench/out
mkdir -p "$out"
if [ "${1:-}" = "--install-torch" ] && ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  apt-get install -y -qq python3-torch >/dev/null
fi
have_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && have_torch=1
make -s recur/core.so
cc -O2 -o build/blas_bound bench/blas_bound.c -lopenblas
lua5.4 bench/grid.lua $quick > "$out/grid.txt"

echo "CPU: $(lscpu | sed -n 's/^Model name: *//p')"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} (OpenBLAS core: $(lua5.4 -e 'package.path="lua/?.lua;lua/?/init.lua;"..package.path print(require("recur").config().blas_corename)'))"
for f in recur bound torch recur_step torch_step; do : > "$out/$f.csv"; done
for t in 1 2; do
  echo "OPENBLAS_NUM_THREADS=$t"
  export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t OMP_WAIT_POLICY=passive
  lua5.4 bench/layers.lua "$t" $quick | if [ "$t" = 1 ]; then cat; else tail -n +2; fi >> "$out/recur.csv"
  build/blas_bound "$t" "$budget" < "$out/grid.txt" | if [ "$t" = 1 ]; then cat; else tail -n +2; fi >> "$out/bound.csv"
  lua5.4 bench/stepper.lua "$t" | if [ "$t" = 1 ]; then cat; else tail -n +2; fi >> "$out/recur_step.csv"
  if [ "$have_torch" = 1 ]; then
    /usr/bin/python3 bench/torch_layers.py "$t" layers "$budget" < "$out/grid.txt" | if [ "$t" = 1 ]; then cat; else tail -n +2; fi >> "$out/torch.csv"
    /usr/bin/python3 bench/torch_layers.py "$t" step | if [ "$t" = 1 ]; then cat; else tail -n +2; fi >> "$out/torch_step.csv"
  fi
done
[ "$have_torch" = 1 ] || echo "python3-torch is not installed: torch columns are empty (bench/compare.sh --install-torch)"
lua5.4 bench/compare.lua "$out"
