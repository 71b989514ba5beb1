/* recur's matrix interface implemented with OpenBLAS's cblas. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */

#include "blas.h"

#include <cblas.h>
#include <stdlib.h>
#include <sys/mman.h>

/* OpenBLAS extensions. Declared here because Debian's cblas.h alternative may be
 * netlib's header, which lacks them, while we always link libopenblas. */
RC_BEGIN_DECLS
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_config(void);
char *openblas_get_corename(void);
RC_END_DECLS

/* cblas rejects leading dimensions of 0, so empty products are handled here:
 * returns 1 when the call is fully done (C = beta * C for k = 0). */
static int empty_product(int m, int n, int k, float beta, float *c, int ldc) {
  if (m > 0 && n > 0 && k > 0) return 0;
  if (k == 0 && beta != 1.0f) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
  }
  return 1;
}

void rc_gemm_nt(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  if (empty_product(m, n, k, beta, c, ldc)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void rc_gemm_nn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  if (empty_product(m, n, k, beta, c, ldc)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void rc_gemm_tn(int m, int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                float beta, float *c, int ldc) {
  if (empty_product(m, n, k, beta, c, ldc)) return;
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void rc_gemv_n(int m, int n, float alpha, const float *a, int lda, const float *x, float beta, float *y) {
  if (empty_product(m, 1, n, beta, y, 1)) return;
  cblas_sgemv(CblasRowMajor, CblasNoTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

void rc_gemv_t(int m, int n, float alpha, const float *a, int lda, const float *x, float beta, float *y) {
  if (empty_product(n, 1, m, beta, y, 1)) return;
  cblas_sgemv(CblasRowMajor, CblasTrans, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

/* what each OpenBLAS thread maps: its work buffer (BUFFER_SIZE, 128 MiB on x86-64 builds
 * with dynamic architectures, Debian's) and its stack, with a margin */
#define THREAD_BYTES ((size_t)160 << 20)
/* a product large enough to run on every thread */
#define WARM_SIZE 256

/* 1 when `bytes` of address space can be mapped now (a mapping that reserves nothing:
 * malloc could answer from its free lists while new mappings, which threads need, fail) */
static int address_space_for(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return 0;
  munmap(p, bytes);
  return 1;
}

int rc_blas_set_threads(int n) {
  if (n <= 0) n = openblas_get_num_threads();
  float *m = (float *)calloc((size_t)3 * WARM_SIZE * WARM_SIZE, sizeof(float));
  if (!m || !address_space_for((size_t)n * THREAD_BYTES)) {
    free(m);
    return -1;
  }
  if (n != openblas_get_num_threads()) openblas_set_num_threads(n);
  size_t size = (size_t)WARM_SIZE * WARM_SIZE;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, WARM_SIZE, WARM_SIZE, WARM_SIZE, 1.0f, m, WARM_SIZE,
              m + size, WARM_SIZE, 0.0f, m + 2 * size, WARM_SIZE);
  free(m);
  return 0;
}

int rc_blas_get_threads(void) { return openblas_get_num_threads(); }

const char *rc_blas_name(void) { return "openblas"; }

const char *rc_blas_corename(void) { return openblas_get_corename(); }

const char *rc_blas_config(void) { return openblas_get_config(); }
