/* Pointwise cell kernels: one fused pass per time step over B rows.
 * Forward passes overwrite pre-activations with post-activations in place;
 * backward passes overwrite them with the gradients of the pre-activations,
 * using output-form derivatives (sigma' = s(1-s), tanh' = 1-y^2). */
#ifndef RECUR_CORE_CELLS_H
#define RECUR_CORE_CELLS_H

#include "common.h"

RC_BEGIN_DECLS

/* y = sigmoid(x), y = tanh(x) elementwise, with the activations the kernels use
 * (within a few ulp of the exact values) */
RC_INTERNAL void rc_sigmoid_n(size_t n, const float *x, float *y);
RC_INTERNAL void rc_tanh_n(size_t n, const float *x, float *y);

/* Elman RNN: h = act(g), g (B x H) holds x W_ih^T + b_ih + h W_hh^T + b_hh */
RC_INTERNAL void rc_rnn_tanh_forward(int B, int H, float *g, float *h);
RC_INTERNAL void rc_rnn_relu_forward(int B, int H, float *g, float *h);
/* dh (B x H) in, g: post-activations in, pre-activation gradients out */
RC_INTERNAL void rc_rnn_tanh_backward(int B, int H, const float *dh, float *g);
RC_INTERNAL void rc_rnn_relu_backward(int B, int H, const float *dh, float *g);

/* GRU (PyTorch's reset-after form):
 *   r = s(x_r + hh_r), z = s(x_z + hh_z), n = tanh(x_n + r * hh_n), h = (1 - z) n + z h_prev
 * g (B x 3H) holds x W_ih^T + b_ih (blocks r, z, n); hh (B x 3H) holds h_prev W_hh^T + b_hh. */
RC_INTERNAL void rc_gru_forward(int B, int H, float *g, const float *hh, const float *h_prev, float *h);
/* dh in; dh_prev gets the direct path z * dh; g gets dL/d(x W_ih^T) and hh dL/d(h W_hh^T). */
RC_INTERNAL void rc_gru_backward(int B, int H, const float *dh, const float *h_prev, float *g, float *hh,
                                 float *dh_prev);

/* LSTM: i, f, o = s(.), g = tanh(.), c = f c_prev + i g, m = o tanh(c)
 * g (B x 4H) holds all gate pre-activations (blocks i, f, g, o). */
RC_INTERNAL void rc_lstm_forward(int B, int H, float *g, const float *c_prev, float *c, float *m);
/* dm: gradient of m; dc: in, the gradient of c from step t+1; out, the gradient of c_prev. */
RC_INTERNAL void rc_lstm_backward(int B, int H, const float *dm, const float *c_prev, const float *c,
                                  float *g, float *dc);

RC_END_DECLS

#endif
