/* The registry of cell types and the elementwise activations the tensors share with them. */
#include "cells.h"

#include <string.h>

#include "activations.h"

RC_VECTOR_KERNEL static void sigmoid_kernel(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = rc_sigmoid(x[i]);
}

void rc_sigmoid_n(size_t n, const float *x, float *y) { sigmoid_kernel(n, x, y); }

RC_VECTOR_KERNEL static void tanh_kernel(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = rc_tanh(x[i]);
}

void rc_tanh_n(size_t n, const float *x, float *y) { tanh_kernel(n, x, y); }

const char *const rc_cell_flag_names[] = {"layer_norm", "peephole", NULL};

/* Every cell type; a family's first entry is its default variant. */
static const rc_cell *const registry[] = {
    &rc_cell_rnn_tanh, &rc_cell_rnn_relu, &rc_cell_gru,           &rc_cell_gru_ln,
    &rc_cell_lstm,     &rc_cell_lstm_ln,  &rc_cell_lstm_peephole, &rc_cell_lstm_ln_peephole,
};

const rc_cell *rc_cell_at(int i) {
  return i >= 0 && (size_t)i < sizeof registry / sizeof registry[0] ? registry[i] : NULL;
}

const rc_cell *rc_cell_find(const char *family, const char *nonlinearity, unsigned flags) {
  for (int i = 0; rc_cell_at(i); i++) {
    const rc_cell *c = rc_cell_at(i);
    if (strcmp(c->family, family) != 0 || c->flags != flags) continue;
    if (!nonlinearity || (c->nonlinearity && strcmp(c->nonlinearity, nonlinearity) == 0)) return c;
  }
  return NULL;
}
