/* Multi-layer, optionally bidirectional RNN / GRU / LSTM over whole sequences,
 * with PyTorch's parameter layout, gate order and equations.
 *
 * Shapes (time-major inside the core): x (T, B, I), y (T, B, D*Hout),
 * h0/hn (L*D, B, Hout), c0/cn (L*D, B, H), where D = 2 if bidirectional,
 * Hout = proj_size if proj_size > 0 else H. */
#ifndef RECUR_CORE_RNN_H
#define RECUR_CORE_RNN_H

#include "common.h"
#include "rng.h"

RC_BEGIN_DECLS

typedef enum rc_cell { RC_RNN_TANH, RC_RNN_RELU, RC_GRU, RC_LSTM } rc_cell;

typedef struct rc_rnn_config {
  rc_cell cell;
  int input_size, hidden_size, proj_size, num_layers;
  int bidirectional, bias;
  float dropout;
} rc_rnn_config;

/* Offsets (in floats) of one layer-direction's tensors in the flat parameter
 * buffer; RC_ABSENT where the tensor does not exist. The buffer holds them in
 * PyTorch's state_dict order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr. */
#define RC_ABSENT ((size_t)-1)
typedef struct rc_rnn_params {
  size_t w_ih, w_hh, b_ih, b_hh, w_hr;
} rc_rnn_params;

RC_INTERNAL int rc_rnn_gates(rc_cell cell);
RC_INTERNAL int rc_rnn_dirs(const rc_rnn_config *cfg);
RC_INTERNAL int rc_rnn_hout(const rc_rnn_config *cfg);
RC_INTERNAL int rc_rnn_layer_input(const rc_rnn_config *cfg, int layer);
/* returns the total number of parameters; fills *out for (layer, dir) when out != NULL */
RC_INTERNAL size_t rc_rnn_param_layout(const rc_rnn_config *cfg, int layer, int dir, rc_rnn_params *out);
/* PyTorch's default init: every parameter ~ U(-1/sqrt(H), 1/sqrt(H)) */
RC_INTERNAL void rc_rnn_init_params(const rc_rnn_config *cfg, float *params, rc_rng *rng);

/* floats of workspace needed for a (T, B) forward + backward */
RC_INTERNAL size_t rc_rnn_workspace_size(const rc_rnn_config *cfg, int T, int B);

/* Input and output layouts of the caller's buffers. */
typedef struct rc_rnn_io {
  int T, B;
  int batch_first;    /* x, y and their gradients are (B, T, .) */
  const int *lengths; /* per batch row, 1..T (see rnn.c, "variable lengths"); NULL = all T */
} rc_rnn_io;

/* Runs the whole stack; h0/c0 may be NULL (zeros); cn is ignored unless LSTM.
 * training enables inter-layer dropout (drawn from rng). ws must hold
 * rc_rnn_workspace_size floats and is kept for backward. */
RC_INTERNAL void rc_rnn_forward(const rc_rnn_config *cfg, const float *params, float *ws, const rc_rnn_io *io,
                                const float *x, const float *h0, const float *c0, int training, rc_rng *rng,
                                float *y, float *hn, float *cn);

/* Backward through the last forward (same ws, io and training flag).
 * gy is required; ghn/gcn may be NULL. Adds parameter gradients into grads;
 * writes dx (shaped like x), dh0 and dc0 (LSTM). */
RC_INTERNAL void rc_rnn_backward(const rc_rnn_config *cfg, const float *params, float *grads, float *ws,
                                 const rc_rnn_io *io, const float *gy, const float *ghn, const float *gcn,
                                 float *dx, float *dh0, float *dc0);

RC_END_DECLS

#endif
