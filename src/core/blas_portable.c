/* recur's matrix interface in portable C, for hosts without OpenBLAS (`make BLAS=none`):
 * wasm, consoles, and hosts that ship no BLAS. Loops are blocked for the cache and written
 * so that the compiler vectorises their inner dimension; no intrinsics, no threads. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

#include <string.h>

#include "blas.h"

#define BLOCK 256 /* rows of B (or columns of C) kept hot in cache at a time */

/* c(m x n) *= beta, with beta = 0 clearing (NaN in c must not survive) */
static void scale(int m, int n, float beta, float *c, int ldc) {
  if (beta == 1.0f) return;
  for (int i = 0; i < m; i++) {
    float *row = c + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(row, 0, (size_t)n * sizeof(float));
    else
      for (int j = 0; j < n; j++) row[j] *= beta;
  }
}

static float dot(int k, const float *RC_RESTRICT a, const float *RC_RESTRICT b) {
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f; /* four sums: shorter dependency chains */
  int p = 0;
  for (; p + 4 <= k; p += 4) {
    s0 += a[p] * b[p];
    s1 += a[p + 1] * b[p + 1];
    s2 += a[p + 2] * b[p + 2];
    s3 += a[p + 3] * b[p + 3];
  }
  for (; p < k; p++) s0 += a[p] * b[p];
  return (s0 + s1) + (s2 + s3);
}

/* y += alpha x */
static void axpy(int n, float alpha, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (int j = 0; j < n; j++) y[j] += alpha * x[j];
}

/* C = alpha A B^T + beta C: each C[i][j] is a dot product of two rows */
void rc_gemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  scale(m, n, beta, c, ldc);
  for (int j0 = 0; j0 < n; j0 += BLOCK) {
    int j1 = j0 + BLOCK < n ? j0 + BLOCK : n;
    for (int i = 0; i < m; i++)
      for (int j = j0; j < j1; j++)
        c[(size_t)i * ldc + j] += alpha * dot(k, a + (size_t)i * lda, b + (size_t)j * ldb);
  }
}

/* C = alpha A B + beta C: rows of C accumulate scaled rows of B */
void rc_gemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  scale(m, n, beta, c, ldc);
  for (int p0 = 0; p0 < k; p0 += BLOCK) {
    int p1 = p0 + BLOCK < k ? p0 + BLOCK : k;
    for (int i = 0; i < m; i++)
      for (int p = p0; p < p1; p++)
        axpy(n, alpha * a[(size_t)i * lda + p], b + (size_t)p * ldb, c + (size_t)i * ldc);
  }
}

/* C = alpha A^T B + beta C: for each shared row p, C[i] += A[p][i] B[p] */
void rc_gemm_tn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  scale(m, n, beta, c, ldc);
  for (int i0 = 0; i0 < m; i0 += BLOCK) {
    int i1 = i0 + BLOCK < m ? i0 + BLOCK : m;
    for (int p = 0; p < k; p++)
      for (int i = i0; i < i1; i++)
        axpy(n, alpha * a[(size_t)p * lda + i], b + (size_t)p * ldb, c + (size_t)i * ldc);
  }
}

void rc_gemv_n(int m, int n, float alpha, const float *a, int lda, const float *x, float beta, float *y) {
  scale(1, m, beta, y, m);
  for (int i = 0; i < m; i++) y[i] += alpha * dot(n, a + (size_t)i * lda, x);
}

void rc_gemv_t(int m, int n, float alpha, const float *a, int lda, const float *x, float beta, float *y) {
  scale(1, n, beta, y, n);
  for (int i = 0; i < m; i++) axpy(n, alpha * x[i], a + (size_t)i * lda, y);
}

int rc_blas_set_threads(int n) { /* one thread, no library buffers */
  (void)n;
  return 0;
}

int rc_blas_get_threads(void) { return 1; }

const char *rc_blas_name(void) { return "portable"; }

const char *rc_blas_corename(void) { return "none"; }

const char *rc_blas_config(void) { return "recur portable C GEMM (no BLAS)"; }
