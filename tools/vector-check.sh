#!/usr/bin/env bash
# Checks, from the compilers' vectorisation reports, that the pointwise kernels vectorise
# in every version recur builds (`make isa-check` runs it; src/core/dispatch.h says why):
#  1. GCC: the loops of the kernel files vectorised at x86-64 (SSE2) are the loops
#     vectorised at x86-64-v3, at x86-64-v4 and by MinGW;
#  2. the dispatching build (GCC, no -march) vectorises each of them in each of its
#     versions (default, x86-64-v3, x86-64-v4: the helpers are inlined into every one);
#  3. the activation kernels of cells.c (its RC_VECTOR_KERNEL functions) vectorise at
#     x86-64, for aarch64 (cross GCC), with clang and for wasm SIMD (emscripten
#     -msimd128); aarch64, clang and MinGW objects hold no ifunc (the dispatch compiles
#     away; emscripten would reject one).
# Usage: tools/vector-check.sh OUTDIR (reports and objects go there)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: tools/vector-check.sh OUTDIR}
mkdir -p "$out"
files=(src/core/cells.c src/core/cell_*.c)
strict=(-std=c99 -Wall -Wextra -Werror -O2 -Isrc/core)
cc=${CC:-cc}

# report NAME COMPILER FLAGS...: compiles the kernel files; NAME.txt gets the report lines
# "file:line: ..." of the vectorised loops, NAME.o the objects (for nm)
report() {
  local name=$1
  shift
  : > "$out/$name.txt"
  local objects=()
  for f in "${files[@]}"; do
    local o="$out/$name-$(basename "$f" .c).o"
    if ! "$@" "${strict[@]}" -c "$f" -o "$o" 2>> "$out/$name.txt"; then
      grep -v -E "loop vectorized|vectorized loop" "$out/$name.txt" | tail -20
      fail "$name: $1 cannot compile $f (the lines above)"
    fi
    objects+=("$o")
  done
  grep -E "loop vectorized|vectorized loop" "$out/$name.txt" > "$out/$name.vec" || true
  nm "${objects[@]}" > "$out/$name.nm" 2> /dev/null || true # (binutils' nm reads no wasm)
}
# the distinct file:line of the loops in a report
loops() { sed -E 's/^([^:]+:[0-9]+):.*/\1/' "$out/$1.vec" | sort -u; }
fail() {
  echo "vector-check: $*"
  exit 1
}

gcc_report=(-fopt-info-vec-optimized)
report x86-64 "$cc" -march=x86-64 -DRC_VECTOR_DISPATCH=0 "${gcc_report[@]}"
report x86-64-v3 "$cc" -march=x86-64-v3 -DRC_VECTOR_DISPATCH=0 "${gcc_report[@]}"
report x86-64-v4 "$cc" -march=x86-64-v4 -DRC_VECTOR_DISPATCH=0 "${gcc_report[@]}"
report mingw x86_64-w64-mingw32-gcc "${gcc_report[@]}"
report aarch64 aarch64-linux-gnu-gcc "${gcc_report[@]}"
report clang clang -fPIC -Rpass=loop-vectorize
report wasm emcc -msimd128 -Rpass=loop-vectorize

base=$(loops x86-64)
[ -n "$base" ] || fail "no loop vectorises at x86-64"
for name in x86-64-v3 x86-64-v4 mingw; do
  missing=$(comm -23 <(echo "$base") <(loops $name))
  [ -z "$missing" ] || fail "vectorised at x86-64, not at $name:" $missing
done
# the dispatching build, with the function (version) of each report
: > "$out/dispatch.dump"
for f in "${files[@]}"; do
  o="$out/dispatch-$(basename "$f" .c).o"
  "$cc" -fPIC "${strict[@]}" -fdump-tree-vect-optimized="$out/dispatch-vect.txt" -c "$f" -o "$o"
  cat "$out/dispatch-vect.txt" >> "$out/dispatch.dump"
done
nm "$out"/dispatch-*.o > "$out/dispatch.nm"
for version in default arch_x86_64_v3 arch_x86_64_v4; do
  missing=$(comm -23 <(echo "$base") <(awk -v v="$version" '
    /^;; Function / { fn = $4; sub(/^\(/, "", fn); sub(/,$/, "", fn) }
    /optimized: loop vectorized/ && fn ~ ("\\." v "$") { sub(/:[0-9]+: optimized:.*/, ""); print }' \
    "$out/dispatch.dump" | sort -u))
  [ -z "$missing" ] || fail "not vectorised in the $version versions of the dispatching build:" $missing
done
grep -q " i " "$out/dispatch.nm" || fail "the dispatching build has no ifunc"

activation_loops=$(awk '/^RC_VECTOR_KERNEL/ { k = 1 } k && /for \(/ { print FILENAME ":" FNR; k = 0 }' src/core/cells.c)
[ -n "$activation_loops" ] || fail "no RC_VECTOR_KERNEL loop in src/core/cells.c"
for name in x86-64 aarch64 clang wasm; do
  missing=$(comm -23 <(echo "$activation_loops" | sort) <(loops $name))
  [ -z "$missing" ] || fail "activation kernels not vectorised by $name:" $missing
done
for name in aarch64 clang mingw; do
  if grep -E " [iI] |resolver" "$out/$name.nm"; then fail "$name: ifuncs where there is no dispatch"; fi
done
echo "vector-check: $(echo "$base" | wc -l) kernel loops vectorised at every x86-64 level and in every" \
  "version of the dispatching build; the activation kernels also for aarch64, clang and wasm SIMD"
