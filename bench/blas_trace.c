/* An LD_PRELOAD shim that records every cblas_sgemm / cblas_sgemv call of the process (shape,
 * transposes, leading dimensions, scalars and operand addresses) as one line of the file named by
 * RECUR_BENCH_TRACE, then forwards the call to OpenBLAS. bench/run.lua runs one recur worker
 * under it to learn the exact BLAS calls recur issues for a case; bench/blas_bound.c replays them.
 *
 *   cc -O2 -shared -fPIC -o build/bench/blas_trace.so bench/blas_trace.c -Wl,--no-as-needed -lopenblas -ldl
 *   RECUR_BENCH_TRACE=trace.txt LD_PRELOAD=build/bench/blas_trace.so lua5.4 ...
 *
 * Lines: "sgemm ORDER TRANSA TRANSB M N K ALPHA A LDA B LDB BETA C LDC" and
 * "sgemv ORDER TRANS M N ALPHA A LDA X INCX BETA Y INCY" (ORDER R/C, TRANS N/T, addresses in hex).
 * Each line is one write(2) on an O_APPEND descriptor, so lines from several threads stay whole. */
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint,
                         blasint, float, const float *, blasint, const float *, blasint, float, float *,
                         blasint);
typedef void (*sgemv_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float, const float *,
                         blasint, const float *, blasint, float, float *, blasint);

static int trace_fd(void) {
  static int fd = -2;
  if (fd == -2) {
    const char *path = getenv("RECUR_BENCH_TRACE");
    fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT, 0644) : -1;
  }
  return fd;
}

static void trace_line(const char *line, int n) {
  int fd = trace_fd();
  if (fd >= 0 && n > 0 && write(fd, line, (size_t)n) != n) abort(); /* a torn trace would be a wrong bound */
}

/* OpenBLAS's definition of `name`, found after this shim in the lookup order */
static void *next_definition(const char *name) {
  void *f = dlsym(RTLD_NEXT, name);
  if (!f) {
    fprintf(stderr, "blas_trace: no %s after the shim (link it with -Wl,--no-as-needed -lopenblas)\n", name);
    abort();
  }
  return f;
}

static char order_code(enum CBLAS_ORDER o) { return o == CblasRowMajor ? 'R' : 'C'; }
static char trans_code(enum CBLAS_TRANSPOSE t) { return t == CblasNoTrans ? 'N' : 'T'; }

void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER Order, OPENBLAS_CONST enum CBLAS_TRANSPOSE TransA,
                 OPENBLAS_CONST enum CBLAS_TRANSPOSE TransB, OPENBLAS_CONST blasint M,
                 OPENBLAS_CONST blasint N, OPENBLAS_CONST blasint K, OPENBLAS_CONST float alpha,
                 OPENBLAS_CONST float *A, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *B,
                 OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *C,
                 OPENBLAS_CONST blasint ldc) {
  static sgemm_fn next;
  if (!next) next = (sgemm_fn)next_definition("cblas_sgemm");
  char line[256];
  int n = snprintf(line, sizeof line, "sgemm %c %c %c %d %d %d %.9g %p %d %p %d %.9g %p %d\n",
                   order_code(Order), trans_code(TransA), trans_code(TransB), (int)M, (int)N, (int)K, alpha,
                   (const void *)A, (int)lda, (const void *)B, (int)ldb, beta, (void *)C, (int)ldc);
  trace_line(line, n);
  next(Order, TransA, TransB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void cblas_sgemv(OPENBLAS_CONST enum CBLAS_ORDER order, OPENBLAS_CONST enum CBLAS_TRANSPOSE trans,
                 OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha,
                 OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *x,
                 OPENBLAS_CONST blasint incx, OPENBLAS_CONST float beta, float *y,
                 OPENBLAS_CONST blasint incy) {
  static sgemv_fn next;
  if (!next) next = (sgemv_fn)next_definition("cblas_sgemv");
  char line[256];
  int len = snprintf(line, sizeof line, "sgemv %c %c %d %d %.9g %p %d %p %d %.9g %p %d\n", order_code(order),
                     trans_code(trans), (int)m, (int)n, alpha, (const void *)a, (int)lda, (const void *)x,
                     (int)incx, beta, (void *)y, (int)incy);
  trace_line(line, len);
  next(order, trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
