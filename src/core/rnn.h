/* Multi-layer, optionally bidirectional recurrent layers over whole sequences, for any
 * cell type (cells.h), with PyTorch's parameter layout, gate order and equations.
 *
 * Shapes (time-major inside the core): x (T, B, I), y (T, B, D*Hout),
 * h0/hn (L*D, B, Hout), c0/cn (L*D, B, H), where D = 2 if bidirectional,
 * Hout = proj_size if proj_size > 0 else H. */
#ifndef RECUR_CORE_RNN_H
#define RECUR_CORE_RNN_H

#include "cells.h"
#include "common.h"
#include "pool.h"
#include "rng.h"

RC_BEGIN_DECLS

typedef struct rc_rnn_config {
  const rc_cell *cell;
  int input_size, hidden_size, proj_size, num_layers;
  int bidirectional, bias;
  float dropout;           /* on the outputs of every layer but the last (PyTorch's) */
  float input_dropout;     /* variational (Gal & Ghahramani 2016): on each layer's x_t */
  float recurrent_dropout; /* variational: on h_{t-1} where it meets W_hh */
} rc_rnn_config;

/* Offsets (in floats) of one layer-direction's tensors in the flat parameter buffer;
 * RC_ABSENT where the tensor does not exist. vec[k] is the cell's k-th VEC block. */
#define RC_ABSENT ((size_t)-1)
typedef struct rc_rnn_params {
  size_t w_ih, w_hh, b_ih, b_hh, w_hr;
  size_t vec[RC_CELL_MAX_VECS];
} rc_rnn_params;

/* One parameter tensor: its block (the cell's, or the projection weight_hr), where it
 * lives in the flat buffer and its shape (cols = 0 for a vector). */
typedef struct rc_param_tensor {
  const char *name; /* the block's name; the state_dict name adds "_l<layer>[_reverse]" */
  int layer, dir;
  size_t offset, rows, cols;
  rc_role role;
  int vec_index; /* RC_VEC: k */
  rc_init init;
} rc_param_tensor;

RC_INTERNAL int rc_rnn_dirs(const rc_rnn_config *cfg);
RC_INTERNAL int rc_rnn_hout(const rc_rnn_config *cfg);
RC_INTERNAL int rc_rnn_layer_input(const rc_rnn_config *cfg, int layer);
/* Calls visit for every parameter tensor in state_dict order (visit may be NULL);
 * returns the total number of parameters. */
RC_INTERNAL size_t rc_rnn_each_param(const rc_rnn_config *cfg,
                                     void (*visit)(void *ud, const rc_param_tensor *t), void *ud);
/* the offsets of (layer, dir) */
RC_INTERNAL void rc_rnn_param_layout(const rc_rnn_config *cfg, int layer, int dir, rc_rnn_params *out);
/* Each tensor by its block's init, in order: uniform ones ~ U(-1/sqrt(H), 1/sqrt(H))
 * (PyTorch's default), layer-norm gains 1 and biases 0 */
RC_INTERNAL void rc_rnn_init_params(const rc_rnn_config *cfg, float *params, rc_rng *rng);

/* floats of workspace needed for a (T, B) forward + backward on one thread */
RC_INTERNAL size_t rc_rnn_workspace_size(const rc_rnn_config *cfg, int T, int B);

/* Input and output layouts of the caller's buffers, and the mode of the call. */
typedef struct rc_rnn_io {
  int T, B;
  int batch_first;    /* x, y and their gradients are (B, T, .) */
  const int *lengths; /* per batch row, 1..T (see rnn.c, "variable lengths"); NULL = all T */
  int training;       /* dropouts apply (forward and the backward that follows it) */
  int inference;      /* forward only: nothing is kept for a backward (rnn.c, "inference") */
} rc_rnn_io;

/* Runs the whole stack; h0/c0 may be NULL (zeros); cn is ignored unless the cell has a
 * cell state. In training, `dropout` masks come from dropout_rng and the variational
 * masks (one per sequence, layer and direction) from variational_rng. ws must hold
 * rc_rnn_workspace_size floats and is kept for backward. */
RC_INTERNAL void rc_rnn_forward(const rc_rnn_config *cfg, const float *params, float *ws, const rc_rnn_io *io,
                                const float *x, const float *h0, const float *c0, rc_rng *dropout_rng,
                                rc_rng *variational_rng, float *y, float *hn, float *cn);

/* Backward through the last forward (same ws and io). gy is required; ghn/gcn may be
 * NULL. Adds parameter gradients into grads; writes dx (shaped like x), dh0 and dc0. */
RC_INTERNAL void rc_rnn_backward(const rc_rnn_config *cfg, const float *params, float *grads, float *ws,
                                 const rc_rnn_io *io, const float *gy, const float *ghn, const float *gcn,
                                 float *dx, float *dh0, float *dc0);

/* The same on `threads` threads (rnn.c, "threads"): the batch split into row groups and
 * the directions of a bidirectional layer side by side, the tasks run by pool (NULL: by
 * the caller, in order). threads = 1 is the calls above. The workspace size depends on
 * threads and io's T, B and lengths; a backward takes the threads of its forward. */
RC_INTERNAL size_t rc_rnn_workspace_size_on(const rc_rnn_config *cfg, const rc_rnn_io *io, int threads);
RC_INTERNAL void rc_rnn_forward_on(const rc_rnn_config *cfg, int threads, rc_pool *pool, const float *params,
                                   float *ws, const rc_rnn_io *io, const float *x, const float *h0,
                                   const float *c0, rc_rng *dropout_rng, rc_rng *variational_rng, float *y,
                                   float *hn, float *cn);
RC_INTERNAL void rc_rnn_backward_on(const rc_rnn_config *cfg, int threads, rc_pool *pool, const float *params,
                                    float *grads, float *ws, const rc_rnn_io *io, const float *gy,
                                    const float *ghn, const float *gcn, float *dx, float *dh0, float *dc0);

RC_END_DECLS

#endif
