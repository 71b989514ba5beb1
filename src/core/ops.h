/* Building blocks of training besides the recurrent layers: a linear map, an
 * embedding lookup, dropout, losses and optimizer updates, on plain float arrays. */
#ifndef RECUR_CORE_OPS_H
#define RECUR_CORE_OPS_H

#include "common.h"
#include "rng.h"

RC_BEGIN_DECLS

/* y(N x out) = x(N x in) W(out x in)^T + b (b may be NULL) */
RC_INTERNAL void rc_linear_forward(int N, int in, int out, const float *x, const float *W, const float *b,
                                   float *y);
/* gW += gy^T x, gb += column sums of gy (gb may be NULL), dx = gy W (dx may be NULL) */
RC_INTERNAL void rc_linear_backward(int N, int in, int out, const float *x, const float *W, const float *gy,
                                    float *gW, float *gb, float *dx);

/* out(n x dim) = rows idx[i] (0-based, already checked) of W */
RC_INTERNAL void rc_embedding_forward(size_t n, int dim, const float *W, const int32_t *idx, float *out);
/* gW rows idx[i] += gy rows i */
RC_INTERNAL void rc_embedding_backward(size_t n, int dim, const int32_t *idx, const float *gy, float *gW);

/* Inverted dropout, the one implementation (nn.Dropout and the recurrent layers'):
 * mask[i] = 0 with probability p, else 1/(1-p), drawn in order from rng */
RC_INTERNAL void rc_dropout_mask(size_t n, float p, rc_rng *rng, float *mask);
/* draws mask, then y = x * mask (y may be x) */
RC_INTERNAL void rc_dropout(size_t n, float p, rc_rng *rng, const float *x, float *mask, float *y);

/* Sum over rows of -log softmax(logits)[target] for rows whose target (0-based) is
 * not `ignore`; grad (may be NULL) gets d(sum * scale)/d logits, zero on ignored rows.
 * Returns the sum; *counted gets the number of rows not ignored. */
RC_INTERNAL double rc_cross_entropy(int N, int C, const float *logits, const int32_t *target, int32_t ignore,
                                    float scale, float *grad, size_t *counted);

typedef enum rc_regression { RC_MSE, RC_L1, RC_SMOOTH_L1 } rc_regression;
/* Sum of the elementwise loss between x and y; grad (may be NULL) gets d(sum * scale)/dx.
 * SmoothL1 uses beta: 0.5 d^2 / beta below beta, |d| - 0.5 beta above. */
RC_INTERNAL double rc_regression_loss(rc_regression kind, size_t n, const float *x, const float *y,
                                      float beta, float scale, float *grad);

/* PyTorch 1.13's update rules (torch/optim/{sgd,adam,adamw,rmsprop}.py, single-tensor path). */
typedef struct rc_sgd {
  float lr, momentum, dampening, weight_decay;
  int nesterov;
} rc_sgd;
/* first = the momentum buffer is not yet initialised */
RC_INTERNAL void rc_sgd_step(const rc_sgd *o, size_t n, float *p, const float *g, float *buf, int first);

typedef struct rc_adam {
  double lr, beta1, beta2, eps, weight_decay;
  int decoupled; /* AdamW */
  int amsgrad;
} rc_adam;
/* step counts from 1; vmax is used only with amsgrad */
RC_INTERNAL void rc_adam_step(const rc_adam *o, long step, size_t n, float *p, const float *g, float *m,
                              float *v, float *vmax);

typedef struct rc_rmsprop {
  float lr, alpha, eps, weight_decay, momentum;
  int centered;
} rc_rmsprop;
RC_INTERNAL void rc_rmsprop_step(const rc_rmsprop *o, size_t n, float *p, const float *g, float *square_avg,
                                 float *grad_avg, float *buf);

/* Time-series windows over a (N, F) row-major series: window b starts at row
 * starts[b] (0-based); x gets its `len` rows, batch-first (B, len, F) or time-major
 * (len, B, F); y (B, horizon, K) gets the next `horizon` rows of columns cols[0..K). */
RC_INTERNAL void rc_gather_windows(const float *series, int F, const size_t *starts, int B, int len,
                                   int horizon, const int *cols, int K, int time_major, float *x, float *y);

RC_END_DECLS

#endif
