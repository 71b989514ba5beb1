/* The BLAS bound: the time of the GEMM/GEMV calls alone that recur makes for one layer
 * (input_size = H), at the rates OpenBLAS reaches on those exact shapes. Reads the grid
 * ("cell T B H gates" lines, from `lua5.4 bench/grid.lua`) on stdin and writes CSV
 * cell,threads,T,B,H,mode,bound_ms. Usage: blas_bound THREADS < grid.txt */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void openblas_set_num_threads(int);

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct shape {
  int T, B, H, G;
  float *x, *w, *gates, *h, *dx, *dw;
} shape;

/* c(rows x n) += a(rows x k) w(n x k)^T: sgemv at one row, as recur does */
static void times_wt(int rows, int n, int k, const float *a, const float *w, float *c) {
  if (rows == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, w, k, a, 1, 1.0f, c, 1);
  else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k, 1.0f, a, k, w, k, 1.0f, c, n);
}

static void times_w(int rows, int n, int k, const float *a, const float *w, float *c) {
  if (rows == 1) cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1.0f, w, n, a, 1, 1.0f, c, 1);
  else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, n, k, 1.0f, a, k, w, n, 1.0f, c, n);
}

/* forward: the input projection for all steps, then h W_hh^T per step */
static void forward(shape *s) {
  int gh = s->G * s->H, rows = s->T * s->B;
  times_wt(rows, gh, s->H, s->x, s->w, s->gates);
  for (int t = 0; t < s->T; t++) times_wt(s->B, gh, s->H, s->h, s->w, s->gates + (size_t)t * s->B * gh);
}

/* backward: dh = dG W_hh per step, then dW_ih, dX and dW_hh over K = T*B */
static void backward(shape *s) {
  int gh = s->G * s->H, rows = s->T * s->B;
  for (int t = 0; t < s->T; t++) times_w(s->B, s->H, gh, s->gates + (size_t)t * s->B * gh, s->w, s->h);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, gh, s->H, rows, 1.0f, s->gates, gh, s->x, s->H, 1.0f,
              s->dw, s->H);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, s->H, gh, 1.0f, s->gates, gh, s->w, s->H, 0.0f,
              s->dx, s->H);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, gh, s->H, rows, 1.0f, s->gates, gh, s->h, s->H, 1.0f,
              s->dw, s->H);
}

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* median ms of fn over at least 3 runs and about `budget` seconds, after a warm-up */
static double time_ms(void (*fn)(shape *), void (*fn2)(shape *), shape *s, double budget) {
  double runs[15], spent = 0;
  int n = 0;
  fn(s);
  if (fn2) fn2(s);
  while (n < 3 || (spent < budget && n < 15)) {
    double t0 = now();
    fn(s);
    if (fn2) fn2(s);
    double dt = now() - t0;
    runs[n++] = dt * 1000;
    spent += dt;
  }
  qsort(runs, n, sizeof runs[0], compare);
  return runs[n / 2];
}

static float *filled(size_t n) {
  float *p = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return p;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  double budget = argc > 2 ? atof(argv[2]) : 1.0;
  char cell[16];
  shape s;
  openblas_set_num_threads(threads);
  printf("cell,threads,T,B,H,mode,bound_ms\n");
  while (scanf("%15s %d %d %d %d", cell, &s.T, &s.B, &s.H, &s.G) == 5) {
    size_t rows = (size_t)s.T * s.B, gh = (size_t)s.G * s.H;
    s.x = filled(rows * s.H);
    s.w = filled(gh * s.H);
    s.gates = filled(rows * gh);
    s.h = filled((size_t)s.B * s.H + rows * s.H);
    s.dx = filled(rows * s.H);
    s.dw = filled(gh * s.H);
    printf("%s,%d,%d,%d,%d,forward,%.4f\n", cell, threads, s.T, s.B, s.H, time_ms(forward, NULL, &s, budget));
    printf("%s,%d,%d,%d,%d,forward+backward,%.4f\n", cell, threads, s.T, s.B, s.H,
           time_ms(forward, backward, &s, budget));
    fflush(stdout);
    free(s.x), free(s.w), free(s.gates), free(s.h), free(s.dx), free(s.dw);
  }
  return 0;
}
