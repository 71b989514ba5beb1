/* recur's own product for the recurrent steps: C(m x n) = A(m x k) B (plus biases, plus C)
 * with B, a weight, packed once per layer call into panels (packed.c). OpenBLAS packs its
 * operand again on every call, so that each time step of a layer repacked the whole
 * recurrent weight: at 16-64 rows the packed product is 1.02-1.53x faster (measured alone,
 * doc/performance.md). */
#ifndef RECUR_CORE_PACKED_H
#define RECUR_CORE_PACKED_H

#include "common.h"

RC_BEGIN_DECLS

#define RC_PANEL 16 /* columns of B per panel */

/* whether this build has a packed kernel (for CPUs that have its instructions) */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define RC_PACKED_KERNELS 1
#else
#define RC_PACKED_KERNELS 0
#endif

/* floats of B(k x n) packed: ceil(n / RC_PANEL) panels of k rows of RC_PANEL floats, the
 * last panel's missing columns zero */
static inline size_t rc_packed_floats(int k, int n) {
  return (size_t)(n + RC_PANEL - 1) / RC_PANEL * RC_PANEL * (size_t)k;
}

/* What a product does with its result: C(m x n) = A(m x k) B + bias + bias2, plus C's old
 * values when accumulate. Each element is C + ((bias + bias2) + the sum over k in order). */
typedef struct rc_packed_out {
  float *c;
  int ldc;                   /* C's row stride */
  int accumulate;            /* add to C, else overwrite it */
  const float *bias, *bias2; /* rows of n floats added to every row, or NULL */
  /* warm_floats floats the caller reads next (a step's other gates), fetched into cache
   * a few lines per tile during the product, or NULL */
  const float *warm;
  size_t warm_floats;
} rc_packed_out;

typedef struct rc_packed_kernel {
  const char *name;
  /* B = W^T for W (n x k), row-major */
  void (*pack_transposed)(int n, int k, const float *w, float *panels);
  /* B = W for W (k x n), row-major */
  void (*pack)(int k, int n, const float *w, float *panels);
  /* A B into out; lda is A's row stride */
  void (*gemm)(int m, int n, int k, const float *a, int lda, const float *panels, const rc_packed_out *out);
} rc_packed_kernel;

/* The kernel for this CPU, or NULL when there is none (the BLAS then does every product):
 * x86-64 with AVX2 and FMA, unless the environment sets RECUR_PACKED_GEMM=0. The layers use
 * it only while the BLAS runs on one thread (recur's own threads, or one thread set). */
RC_INTERNAL const rc_packed_kernel *rc_packed_kernel_for_cpu(void);

RC_END_DECLS

#endif
