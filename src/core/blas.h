/* The one small matrix interface of recur, over cblas (row-major).
 * Every matrix product of the library goes through these calls. */
#ifndef RECUR_CORE_BLAS_H
#define RECUR_CORE_BLAS_H

#include "common.h"

RC_BEGIN_DECLS

/* C(m x n) = alpha * A(m x k) * B(n x k)^T + beta * C; lda, ldb, ldc are row strides. */
RC_INTERNAL void rc_gemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                            int ldb, float beta, float *c, int ldc);
/* C(m x n) = alpha * A(m x k) * B(k x n) + beta * C */
RC_INTERNAL void rc_gemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                            int ldb, float beta, float *c, int ldc);
/* C(m x n) = alpha * A(k x m)^T * B(k x n) + beta * C */
RC_INTERNAL void rc_gemm_tn(int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                            int ldb, float beta, float *c, int ldc);
/* y(m) = alpha * A(m x n) * x(n) + beta * y */
RC_INTERNAL void rc_gemv_n(int m, int n, float alpha, const float *a, int lda, const float *x, float beta,
                           float *y);
/* y(n) = alpha * A(m x n)^T * x(m) + beta * y */
RC_INTERNAL void rc_gemv_t(int m, int n, float alpha, const float *a, int lda, const float *x, float beta,
                           float *y);

/* Sets the thread count of the BLAS library (n > 0; 0 keeps the current one) and makes it
 * take the work buffers of all its threads now, after checking that the memory is
 * there: 0, or -1 with nothing changed when it is not. OpenBLAS takes a buffer on the
 * first product of each thread and, when that allocation fails, retries forever
 * (memory.c's blas_memory_alloc): recur calls this at module open and for every change
 * of the thread count, so that no later product can hang. */
RC_INTERNAL int rc_blas_set_threads(int n);
RC_INTERNAL int rc_blas_get_threads(void);
RC_INTERNAL const char *rc_blas_name(void);
RC_INTERNAL const char *rc_blas_corename(void);
RC_INTERNAL const char *rc_blas_config(void);

RC_END_DECLS

#endif
