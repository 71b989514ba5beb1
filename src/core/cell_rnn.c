/* The Elman RNN, as torch.nn.RNN: h = act(x W_ih^T + b_ih + h_prev W_hh^T + b_hh). */

#include "activations.h"
#include "cells.h"

/* g holds the pre-activation; forward keeps h = act(g) in it, backward dh * act'(g) */
RC_VECTOR_KERNEL static void tanh_forward(const rc_cell_step *s, int b0, int n) {
  size_t at = (size_t)b0 * s->H, end = at + (size_t)n * s->H;
  float *RC_RESTRICT g = s->g, *RC_RESTRICT h = s->h;
  for (size_t i = at; i < end; i++) h[i] = g[i] = rc_tanh(g[i]);
}

RC_VECTOR_KERNEL static void tanh_backward(const rc_cell_step *s, int b0, int n) {
  size_t at = (size_t)b0 * s->H, end = at + (size_t)n * s->H;
  float *RC_RESTRICT g = s->g;
  const float *RC_RESTRICT dh = s->dh;
  for (size_t i = at; i < end; i++) g[i] = dh[i] * (1.0f - g[i] * g[i]);
}

RC_VECTOR_KERNEL static void relu_forward(const rc_cell_step *s, int b0, int n) {
  size_t at = (size_t)b0 * s->H, end = at + (size_t)n * s->H;
  float *RC_RESTRICT g = s->g, *RC_RESTRICT h = s->h;
  for (size_t i = at; i < end; i++) h[i] = g[i] = g[i] > 0.0f ? g[i] : 0.0f;
}

RC_VECTOR_KERNEL static void relu_backward(const rc_cell_step *s, int b0, int n) {
  size_t at = (size_t)b0 * s->H, end = at + (size_t)n * s->H;
  float *RC_RESTRICT g = s->g;
  const float *RC_RESTRICT dh = s->dh;
  for (size_t i = at; i < end; i++) {
    float d = dh[i]; /* loaded unconditionally, so that the select vectorises */
    g[i] = g[i] > 0.0f ? d : 0.0f;
  }
}

/* the two descriptors differ in their nonlinearity and kernels only */
#define RNN_CELL(name, forward_rows, backward_rows)                                                       \
  {                                                                                                       \
    .family = "RNN", .nonlinearity = name, .flags = 0, .gates = 1, .states = 1, .projection = 0,          \
    .separate_hh = 0, .extra_h = 0, .extra_fixed = 0, .blocks = {RC_WEIGHT_BLOCKS(1), RC_BIAS_BLOCKS(1)}, \
    .forward = forward_rows, .backward = backward_rows                                                    \
  }

const rc_cell rc_cell_rnn_tanh = RNN_CELL("tanh", tanh_forward, tanh_backward);
const rc_cell rc_cell_rnn_relu = RNN_CELL("relu", relu_forward, relu_backward);
