/* Layer normalisation of one block of n values (Ba, Kiros & Hinton 2016, eq. 15-16):
 *   x^ = (x - mean) / sqrt(var + eps), var the biased variance, eps = 1e-5 (PyTorch's),
 * followed by the cell's gain and bias (y = gamma x^ + beta). Static inline so that the
 * loops are vectorised with the kernels that call them. */
#ifndef RECUR_CORE_LAYER_NORM_H
#define RECUR_CORE_LAYER_NORM_H

#include <math.h>

#include "cells.h"

#define RC_LN_EPS 1e-5f

/* The gains (ones) and biases (zeros; absent without bias) of the layer norms of the two
 * projections, (G*H) each in gate blocks, and their places among a cell's VEC blocks. The
 * biases take the place of bias_ih and bias_hh. */
#define RC_LN_BLOCKS(G)                                                                      \
  {"ln_ih_weight", RC_VEC, G, RC_INIT_ONES, 0}, {"ln_ih_bias", RC_VEC, G, RC_INIT_ZEROS, 1}, \
      {"ln_hh_weight", RC_VEC, G, RC_INIT_ONES, 0}, {                                        \
    "ln_hh_bias", RC_VEC, G, RC_INIT_ZEROS, 1                                                \
  }
enum { RC_LN_GAIN_IH, RC_LN_BIAS_IH, RC_LN_GAIN_HH, RC_LN_BIAS_HH };

/* sum of x[0..n), in 8 interleaved partial sums (the compiler keeps them in one vector) */
static inline float rc_ln_sum(int n, const float *RC_RESTRICT x) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) acc[k] += x[j + k];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; j++) s += x[j];
  return s;
}

/* sum of x[j] * y[j] */
static inline float rc_ln_dot(int n, const float *RC_RESTRICT x, const float *RC_RESTRICT y) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) acc[k] += x[j + k] * y[j + k];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; j++) s += x[j] * y[j];
  return s;
}

/* sum of (x[j] - m)^2 */
static inline float rc_ln_sq_dev(int n, const float *RC_RESTRICT x, float m) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) acc[k] += (x[j + k] - m) * (x[j + k] - m);
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; j < n; j++) s += (x[j] - m) * (x[j] - m);
  return s;
}

/* mean and 1/sqrt(var + eps) of x[0..n) */
static inline void rc_ln_stats(int n, const float *RC_RESTRICT x, float *mean, float *rstd) {
  float m = rc_ln_sum(n, x) / (float)n;
  *mean = m;
  *rstd = 1.0f / sqrtf(rc_ln_sq_dev(n, x, m) / (float)n + RC_LN_EPS);
}

/* x becomes x^ in place; returns 1/sqrt(var + eps) */
static inline float rc_ln_normalise(int n, float *RC_RESTRICT x) {
  float m, r;
  rc_ln_stats(n, x, &m, &r);
  for (int j = 0; j < n; j++) x[j] = (x[j] - m) * r;
  return r;
}

/* Backward of y = gamma x^ + beta over one block, given dy = dL/dy: dgamma += dy x^,
 * dbeta += dy, and x (holding x^) becomes dL/dx =
 *   rstd (dx^ - mean(dx^) - x^ mean(dx^ x^)),  dx^ = dy gamma. */
static inline void rc_ln_backward(int n, const float *RC_RESTRICT dy, float *RC_RESTRICT x, float rstd,
                                  const float *RC_RESTRICT gamma, float *RC_RESTRICT dgamma,
                                  float *RC_RESTRICT dbeta) {
  float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) {
      float dxh = dy[j + k] * gamma[j + k];
      a[k] += dxh;
      b[k] += dxh * x[j + k];
    }
  float sa = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  float sb = ((b[0] + b[4]) + (b[1] + b[5])) + ((b[2] + b[6]) + (b[3] + b[7]));
  for (; j < n; j++) {
    float dxh = dy[j] * gamma[j];
    sa += dxh;
    sb += dxh * x[j];
  }
  float ma = sa / (float)n, mb = sb / (float)n;
  for (j = 0; j < n; j++) {
    float xh = x[j], d = dy[j];
    dgamma[j] += d * xh;
    dbeta[j] += d;
    x[j] = rstd * (d * gamma[j] - ma - xh * mb);
  }
}

#endif
