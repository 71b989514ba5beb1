/* the row loops (bias fills, column sums, copies) are worth vectorising; see cells.c */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

#include "ops.h"

#include <math.h>
#include <string.h>

#include "blas.h"

void rc_linear_forward(int N, int in, int out, const float *x, const float *W, const float *b, float *y) {
  for (int r = 0; r < N; r++) {
    if (b)
      memcpy(y + (size_t)r * out, b, (size_t)out * sizeof(float));
    else
      memset(y + (size_t)r * out, 0, (size_t)out * sizeof(float));
  }
  rc_gemm_nt(N, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

void rc_linear_backward(int N, int in, int out, const float *x, const float *W, const float *gy, float *gW,
                        float *gb, float *dx) {
  rc_gemm_tn(out, in, N, 1.0f, gy, out, x, in, 1.0f, gW, in);
  if (gb)
    for (int r = 0; r < N; r++)
      for (int j = 0; j < out; j++) gb[j] += gy[(size_t)r * out + j];
  if (dx) rc_gemm_nn(N, in, out, 1.0f, gy, out, W, in, 0.0f, dx, in);
}

void rc_embedding_forward(size_t n, int dim, const float *W, const int32_t *idx, float *out) {
  for (size_t i = 0; i < n; i++) memcpy(out + i * dim, W + (size_t)idx[i] * dim, (size_t)dim * sizeof(float));
}

void rc_embedding_backward(size_t n, int dim, const int32_t *idx, const float *gy, float *gW) {
  for (size_t i = 0; i < n; i++) {
    float *row = gW + (size_t)idx[i] * dim;
    for (int j = 0; j < dim; j++) row[j] += gy[i * dim + j];
  }
}

void rc_dropout_mask(size_t n, float p, rc_rng *rng, float *mask) {
  float keep = 1.0f / (1.0f - p);
  for (size_t i = 0; i < n; i++) mask[i] = rc_rng_uniform_f(rng) < p ? 0.0f : keep;
}

void rc_dropout(size_t n, float p, rc_rng *rng, const float *x, float *mask, float *y) {
  rc_dropout_mask(n, p, rng, mask);
  for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

/* the sum of exp(row[c] - max) over a row, shifted by its maximum (*max_out) so that exp
 * cannot overflow; e, when not NULL, receives each term */
static double sum_exp(int C, const float *row, float *max_out, float *e) {
  float mx = row[0];
  for (int c = 1; c < C; c++)
    if (row[c] > mx) mx = row[c];
  double s = 0.0;
  for (int c = 0; c < C; c++) {
    double term = exp((double)row[c] - mx);
    s += term;
    if (e) e[c] = (float)term;
  }
  *max_out = mx;
  return s;
}

double rc_cross_entropy(int N, int C, const float *logits, const int32_t *target, int32_t ignore, float scale,
                        float *grad, size_t *counted) {
  double total = 0.0;
  size_t n = 0;
  for (int r = 0; r < N; r++) {
    const float *row = logits + (size_t)r * C;
    float *g = grad ? grad + (size_t)r * C : NULL;
    if (target[r] == ignore) {
      if (g) memset(g, 0, (size_t)C * sizeof(float));
      continue;
    }
    float mx;
    double s = sum_exp(C, row, &mx, g);
    total += log(s) + mx - row[target[r]];
    n++;
    if (g) { /* d/dlogits of -log softmax = softmax - onehot, softmax = the terms / s */
      double norm = scale / s;
      for (int c = 0; c < C; c++) g[c] = (float)(g[c] * norm);
      g[target[r]] -= scale;
    }
  }
  *counted = n;
  return total;
}

double rc_regression_loss(rc_regression kind, size_t n, const float *x, const float *y, float beta,
                          float scale, float *grad) {
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    float d = x[i] - y[i], ad = fabsf(d), g;
    switch (kind) {
      case RC_MSE:
        total += (double)d * d;
        g = 2.0f * d;
        break;
      case RC_L1:
        total += ad;
        g = (float)((d > 0) - (d < 0));
        break;
      default:
        if (ad < beta) {
          total += 0.5 * (double)d * d / beta;
          g = d / beta;
        } else {
          total += ad - 0.5 * beta;
          g = (float)((d > 0) - (d < 0));
        }
    }
    if (grad) grad[i] = g * scale;
  }
  return total;
}

void rc_sgd_step(const rc_sgd *o, size_t n, float *p, const float *g, float *buf, int first) {
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    if (o->weight_decay != 0.0f) d += o->weight_decay * p[i];
    if (o->momentum != 0.0f) {
      buf[i] = first ? d : buf[i] * o->momentum + (1.0f - o->dampening) * d;
      d = o->nesterov ? d + o->momentum * buf[i] : buf[i];
    }
    p[i] -= o->lr * d;
  }
}

/* Adam's scalars for one step (Kingma & Ba 2015, Algorithm 1, in PyTorch's order of operations) */
typedef struct adam_scalars {
  float b1, b2, one_minus_b1, one_minus_b2, eps, step_size, bc2_sqrt, decay, wd;
} adam_scalars;

/* The update of n elements. `decoupled` and `amsgrad` are constants at each call below, so
 * that each variant is a loop of its own without branches, which the compiler vectorises
 * (the same floats as element by element: no operation is contracted or reordered). */
static inline void adam_elements(adam_scalars k, int decoupled, int amsgrad, size_t n, float *RC_RESTRICT p,
                                 const float *RC_RESTRICT g, float *RC_RESTRICT m, float *RC_RESTRICT v,
                                 float *RC_RESTRICT vmax) {
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    if (decoupled)
      p[i] *= k.decay;
    else if (k.wd != 0.0f)
      d += k.wd * p[i];
    m[i] = m[i] * k.b1 + k.one_minus_b1 * d;
    v[i] = v[i] * k.b2 + k.one_minus_b2 * d * d;
    float second = v[i];
    if (amsgrad) {
      vmax[i] = vmax[i] < v[i] ? v[i] : vmax[i];
      second = vmax[i];
    }
    float denom = sqrtf(second) / k.bc2_sqrt + k.eps;
    p[i] -= k.step_size * (m[i] / denom);
  }
}

void rc_adam_step(const rc_adam *o, long step, size_t n, float *p, const float *g, float *m, float *v,
                  float *vmax) {
  double bc1 = 1.0 - pow(o->beta1, (double)step), bc2 = 1.0 - pow(o->beta2, (double)step);
  adam_scalars k;
  k.b1 = (float)o->beta1;
  k.b2 = (float)o->beta2;
  k.one_minus_b1 = (float)(1.0 - o->beta1);
  k.one_minus_b2 = (float)(1.0 - o->beta2);
  k.eps = (float)o->eps;
  k.step_size = (float)(o->lr / bc1);
  k.bc2_sqrt = (float)sqrt(bc2);
  k.decay = (float)(1.0 - o->lr * o->weight_decay);
  k.wd = (float)o->weight_decay;
  if (o->amsgrad && o->decoupled)
    adam_elements(k, 1, 1, n, p, g, m, v, vmax);
  else if (o->amsgrad)
    adam_elements(k, 0, 1, n, p, g, m, v, vmax);
  else if (o->decoupled)
    adam_elements(k, 1, 0, n, p, g, m, v, NULL);
  else
    adam_elements(k, 0, 0, n, p, g, m, v, NULL);
}

void rc_rmsprop_step(const rc_rmsprop *o, size_t n, float *p, const float *g, float *square_avg,
                     float *grad_avg, float *buf) {
  for (size_t i = 0; i < n; i++) {
    float d = g[i];
    if (o->weight_decay != 0.0f) d += o->weight_decay * p[i];
    square_avg[i] = square_avg[i] * o->alpha + (1.0f - o->alpha) * d * d;
    float avg;
    if (o->centered) {
      grad_avg[i] = grad_avg[i] * o->alpha + (1.0f - o->alpha) * d;
      avg = sqrtf(square_avg[i] - grad_avg[i] * grad_avg[i]);
    } else {
      avg = sqrtf(square_avg[i]);
    }
    avg += o->eps;
    if (o->momentum > 0.0f) {
      buf[i] = buf[i] * o->momentum + d / avg;
      p[i] -= o->lr * buf[i];
    } else {
      p[i] -= o->lr * (d / avg);
    }
  }
}

void rc_gather_windows(const float *series, int F, const size_t *starts, int B, int len, int horizon,
                       const int *cols, int K, int time_major, float *x, float *y) {
  for (int b = 0; b < B; b++) {
    const float *w = series + starts[b] * F;
    for (int t = 0; t < len; t++) {
      size_t row = time_major ? (size_t)t * B + b : (size_t)b * len + t;
      memcpy(x + row * F, w + (size_t)t * F, (size_t)F * sizeof(float));
    }
    for (int h = 0; h < horizon; h++)
      for (int k = 0; k < K; k++) y[((size_t)b * horizon + h) * K + k] = w[(size_t)(len + h) * F + cols[k]];
  }
}
