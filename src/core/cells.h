/* Cell types. Each cell type is one descriptor (rc_cell): its gate count, its states,
 * its parameter blocks with their state_dict names, and the row kernels of its forward
 * and backward step. The recurrence (rnn.c), the Lua bindings, the stepper and the layers'
 * config() read these descriptors; nothing else knows which cell it runs.
 * doc/adding-a-cell.md is the recipe for a new cell. */
#ifndef RECUR_CORE_CELLS_H
#define RECUR_CORE_CELLS_H

#include "common.h"

RC_BEGIN_DECLS

/* y = sigmoid(x), y = tanh(x) elementwise, with the activations the kernels use
 * (within a few ulp of the exact values) */
RC_INTERNAL void rc_sigmoid_n(size_t n, const float *x, float *y);
RC_INTERNAL void rc_tanh_n(size_t n, const float *x, float *y);

/* What a parameter block is to the recurrence. The weights and biases of the two
 * projections are applied by rnn.c (GEMMs, and the biases added to their rows); VEC
 * blocks are read by the cell's kernels only (the k-th VEC block of a descriptor is
 * rc_cell_step.vec[k]). */
typedef enum rc_role {
  RC_W_IH, /* (G*H, input): gates += x W_ih^T */
  RC_W_HH, /* (G*H, Hout): recurrent += h_prev W_hh^T */
  RC_B_IH, /* (G*H): added to the input projection */
  RC_B_HH, /* (G*H): added to the recurrent projection */
  RC_VEC,  /* (size * H): a vector the kernels read */
  RC_W_HR  /* (proj_size, H): h = m W_hr^T, added by rnn.c to cells with projection */
} rc_role;

typedef enum rc_init {
  RC_INIT_UNIFORM, /* U(-1/sqrt(H), 1/sqrt(H)) from the generator, PyTorch's RNN init */
  RC_INIT_ONES,    /* layer-norm gains */
  RC_INIT_ZEROS    /* layer-norm biases */
} rc_init;

typedef struct rc_param_block {
  const char *name; /* state_dict name before "_l<layer>[_reverse]" */
  rc_role role;
  int size;      /* rows: size * H (for RC_W_IH, RC_W_HH, RC_B_*: the gate count) */
  rc_init init;  /* drawn in block order, so seeds reproduce */
  int with_bias; /* exists only when the layer has bias = true; an absent VEC reads as zeros */
} rc_param_block;

#define RC_CELL_MAX_BLOCKS 12

/* the blocks of PyTorch's cells with G gates: weight_ih, weight_hh, bias_ih, bias_hh */
#define RC_WEIGHT_BLOCKS(G) \
  {"weight_ih", RC_W_IH, G, RC_INIT_UNIFORM, 0}, { "weight_hh", RC_W_HH, G, RC_INIT_UNIFORM, 0 }
#define RC_BIAS_BLOCKS(G) \
  {"bias_ih", RC_B_IH, G, RC_INIT_UNIFORM, 1}, { "bias_hh", RC_B_HH, G, RC_INIT_UNIFORM, 1 }
#define RC_CELL_MAX_VECS 8

/* One time step of one direction, rows [0, B) of every buffer; a kernel call handles rows
 * [b0, b0 + n). Every (B, w) buffer is row-major with row stride w. */
typedef struct rc_cell_step {
  int H;
  float *g;                /* (B, G*H) x W_ih^T + b_ih (+ b_hh unless separate_hh) */
  float *hh;               /* (B, G*H) h_prev W_hh^T + b_hh when separate_hh, else the same as g */
  float *ex;               /* (B, extra floats): what the kernel keeps for backward, or NULL */
  const float *h_prev;     /* (B, H) previous output (cells without projection only) */
  float *h;                /* (B, H) the cell's output (before the projection, if any) */
  const float *c_prev;     /* (B, H) previous cell state (states = 2) */
  float *c;                /* (B, H) cell state (states = 2) */
  const float *const *vec; /* the cell's VEC blocks, vec[k] (RC_CELL_MAX_VECS entries) */
  /* backward only */
  const float *dh;    /* (B, H) dL/dh of this step, all paths */
  float *dh_prev;     /* (B, H) zero on entry: the kernel adds the paths to h_prev that skip W_hh */
  float *dc;          /* (B, H) in: dL/dc from step t+1; out: dL/dc_prev (states = 2) */
  float *const *dvec; /* gradients of vec, accumulated */
} rc_cell_step;

/* Forward: reads g and hh (and the states), writes h (and c), and keeps in g, hh and ex
 * what its backward needs. Backward: replaces g with dL/d(x W_ih^T) and, when separate_hh,
 * hh with dL/d(h_prev W_hh^T); bias gradients are their column sums (rnn.c). */
typedef void (*rc_cell_rows)(const rc_cell_step *s, int b0, int n);

/* Boolean options that select a variant of a family (bit i is rc_cell_flag_names[i]). */
#define RC_CELL_LAYER_NORM 1u
#define RC_CELL_PEEPHOLE 2u
RC_INTERNAL extern const char *const rc_cell_flag_names[];

typedef struct rc_cell {
  const char *family;       /* the layer type: "RNN", "GRU", "LSTM" */
  const char *nonlinearity; /* the RNN option that selects it, else NULL */
  unsigned flags;           /* RC_CELL_* options that select it */
  int gates;                /* G: gate blocks of H in g and hh */
  int states;               /* 1: h; 2: h and c (forward takes c0, returns cn) */
  int projection;           /* accepts proj_size (h = W_hr m) */
  int separate_hh;          /* keeps h_prev W_hh^T + b_hh apart from the input projection */
  int extra_h, extra_fixed; /* floats kept per row and step: extra_h * H + extra_fixed */
  /* per layer and direction, in state_dict order, ended by a block without a name */
  rc_param_block blocks[RC_CELL_MAX_BLOCKS];
  rc_cell_rows forward, backward;
} rc_cell;

/* The i-th registered cell (0-based), NULL past the last. */
RC_INTERNAL const rc_cell *rc_cell_at(int i);
/* The cell of a family with these options (nonlinearity NULL: the family's first), or NULL. */
RC_INTERNAL const rc_cell *rc_cell_find(const char *family, const char *nonlinearity, unsigned flags);

/* the descriptors, one per kernel file */
RC_INTERNAL extern const rc_cell rc_cell_rnn_tanh, rc_cell_rnn_relu;
RC_INTERNAL extern const rc_cell rc_cell_gru, rc_cell_gru_ln;
RC_INTERNAL extern const rc_cell rc_cell_lstm, rc_cell_lstm_peephole, rc_cell_lstm_ln,
    rc_cell_lstm_ln_peephole;

RC_END_DECLS

#endif
