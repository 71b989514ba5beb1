/* Run-time choice of the pointwise kernels' instruction set (function multiversioning).
 *
 * A kernel opts in with one macro in front of its definition, e.g. a cell's rows function
 * (rc_cell_rows, cells.h):
 *
 *     RC_VECTOR_KERNEL static void lstm_forward(const rc_cell_step *s, int b0, int n) {
 *       ... loops over the rows and their elements, calls of rc_sigmoid, helpers ...
 *     }
 *
 * Rules: (1) the macro goes on the entry point of a pass, the function the rest of recur
 * calls (a descriptor's forward and backward, the rc_sigmoid_n of the tensors), and that
 * function is static: an external rc_* function is a plain one that calls it, a
 * descriptor holds its address; (2) whatever it calls is defined in the same file or is
 * static inline in a header (activations.h, layer_norm.h): the macro flattens each version,
 * inlining every call, so that the helpers' loops are compiled for its level too; (3) the
 * file includes activations.h (which includes this header) before its functions.
 *
 * On x86-64 GCC with ELF ifuncs (glibc) the macro is target_clones plus flatten: GCC
 * compiles the function three times, for x86-64 (SSE2, or whatever CFLAGS' -march gives),
 * x86-64-v3 (AVX2, FMA) and x86-64-v4 (AVX-512 F/BW/CD/DQ/VL), and the dynamic loader
 * binds calls and addresses to the version for the CPU, once, when the library is loaded
 * (a call then costs one indirect jump). Elsewhere the macro is empty and the kernel is
 * compiled once, for the build's target (aarch64: NEON; wasm: SIMD128 with -msimd128).
 * -DRC_VECTOR_DISPATCH=0 turns the dispatch off.
 *
 * Why target_clones and not a cpuid dispatch of recur's own: the compiler writes the
 * versions and the resolver from one source, a kernel opts in with one word, and there
 * is no dispatch table (a mutable global). What it costs, and how that is handled:
 *  - the level cannot be forced at run time (the loader's resolver picks it), so each
 *    level is specified in its own build: `make test-isa` compiles recur with
 *    -DRC_VECTOR_DISPATCH=0 -march=<level> for each level and runs the activation and
 *    cell specs on those the CPU has (`make isa-check` also checks that every loop
 *    vectorises in every version);
 *  - GCC 12 exports the ifunc and the resolver of an external function whatever its
 *    visibility: hence rule (1), static kernels;
 *  - clang 14 names the ifunc "f.ifunc", so that other files cannot call a versioned
 *    function, and exports the resolver even of a static one: clang builds get one
 *    version (the build's target), as do MinGW, macOS and musl (no ifuncs) and other
 *    CPUs;
 *  - the sanitizers instrument the resolver, which the loader runs before their runtime
 *    is set up when recur is linked into a program (ThreadSanitizer crashes there): ASan
 *    and TSan builds get one version too (they check the same loads and stores). */
#ifndef RECUR_CORE_DISPATCH_H
#define RECUR_CORE_DISPATCH_H

#include <string.h> /* any C library header: glibc's define __GLIBC__ */

#ifndef RC_VECTOR_DISPATCH
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__ELF__) && \
    defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define RC_VECTOR_DISPATCH 1
#else
#define RC_VECTOR_DISPATCH 0
#endif
#endif

#if RC_VECTOR_DISPATCH
#define RC_VECTOR_KERNEL \
  __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4"), flatten))
#else
#define RC_VECTOR_KERNEL
#endif

/* The instruction-set level the kernels run at: the version the dispatch picks for this
 * CPU, or the build's target when that is higher or there is no dispatch. */
static inline const char *rc_vector_level(void) {
#if RC_VECTOR_DISPATCH
  __builtin_cpu_init(); /* the resolver's tests, in its order */
  if (__builtin_cpu_supports("x86-64-v4")) return "x86-64-v4";
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512CD__) && defined(__AVX512DQ__) && \
    defined(__AVX512VL__)
  return "x86-64-v4";
#else
#if RC_VECTOR_DISPATCH
  if (__builtin_cpu_supports("x86-64-v3")) return "x86-64-v3";
#endif
#if defined(__AVX2__) && defined(__FMA__)
  return "x86-64-v3";
#elif defined(__x86_64__)
  return "x86-64";
#elif defined(__aarch64__)
  return "aarch64";
#else
  return "default";
#endif
#endif
}

#endif
