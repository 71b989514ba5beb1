/* The LSTM, as torch.nn.LSTM (gate blocks i, f, g, o of x W_ih^T + b_ih + h W_hh^T + b_hh):
 *   i, f, o = s(.), u = tanh(g), c = f c_prev + i u, m = o tanh(c)
 * with two options that each select a variant:
 *   peephole (Gers, Schraudolph & Schmidhuber 2002): diagonal weights p_i, p_f from c_prev
 *     and p_o from c:  i = s(. + p_i c_prev), f = s(. + p_f c_prev), o = s(. + p_o c);
 *   layer_norm (Ba, Kiros & Hinton 2016, eq. 20-22): each gate block of both projections
 *     is normalised on its own (gains and biases ln_ih_*, ln_hh_*, which replace b_ih and
 *     b_hh), and m = o tanh(LN(c) * ln_cell_weight + ln_cell_bias).
 * Each kernel is written once with the peephole as a constant flag, so that the plain
 * LSTM compiles to the loop without it. */

#include "activations.h"
#include "cells.h"
#include "layer_norm.h"

/* ---- LSTM and peephole LSTM -------------------------------------------------------------- */

typedef struct lstm_gates {
  float *RC_RESTRICT i, *RC_RESTRICT f, *RC_RESTRICT g, *RC_RESTRICT o;
} lstm_gates;

static lstm_gates gates_at(float *row, size_t H) {
  lstm_gates q;
  q.i = row;
  q.f = row + H;
  q.g = row + 2 * H;
  q.o = row + 3 * H;
  return q;
}

/* An LSTM descriptor: the variants differ in their options, whether the recurrent
 * projection is kept apart (for its layer norm), the floats kept per row, their blocks
 * and their kernels. */
#define LSTM_CELL(options, separate, per_h, fixed, forward_rows, backward_rows, ...)                    \
  {                                                                                                     \
    .family = "LSTM", .nonlinearity = NULL, .flags = options, .gates = 4, .states = 2, .projection = 1, \
    .separate_hh = separate, .extra_h = per_h, .extra_fixed = fixed, .blocks = {__VA_ARGS__},           \
    .forward = forward_rows, .backward = backward_rows                                                  \
  }

/* one row: the activations replace the pre-activations; c, and m = o tanh(c).
 * p: the peephole weights (3H: i, f, o) when peep */
static inline void lstm_row_forward(int peep, int H, lstm_gates q, const float *RC_RESTRICT p,
                                    const float *RC_RESTRICT cp, float *RC_RESTRICT co,
                                    float *RC_RESTRICT mo) {
  for (int j = 0; j < H; j++) {
    float pi = q.i[j], pf = q.f[j];
    if (peep) {
      pi += p[j] * cp[j];
      pf += p[H + j] * cp[j];
    }
    float i = rc_sigmoid(pi), f = rc_sigmoid(pf), u = rc_tanh(q.g[j]);
    float cn = f * cp[j] + i * u;
    float o = rc_sigmoid(peep ? q.o[j] + p[2 * H + j] * cn : q.o[j]);
    q.i[j] = i;
    q.f[j] = f;
    q.g[j] = u;
    q.o[j] = o;
    co[j] = cn;
    mo[j] = o * rc_tanh(cn);
  }
}

/* one row backward: d = dL/dm; dc carries dL/dc from step t+1 to t-1; the gates get the
 * gradients of their pre-activations; dp (when peep) accumulates the peepholes' */
static inline void lstm_row_backward(int peep, int H, lstm_gates q, const float *RC_RESTRICT p,
                                     float *RC_RESTRICT dp, const float *RC_RESTRICT d,
                                     const float *RC_RESTRICT cp, const float *RC_RESTRICT cc,
                                     float *RC_RESTRICT dc) {
  for (int j = 0; j < H; j++) {
    float i = q.i[j], f = q.f[j], u = q.g[j], o = q.o[j];
    float tc = rc_tanh(cc[j]);
    float dct = dc[j] + d[j] * o * (1.0f - tc * tc);
    float d_o = d[j] * tc * o * (1.0f - o);
    if (peep) dct += d_o * p[2 * H + j];
    float d_i = dct * u * i * (1.0f - i), d_f = dct * cp[j] * f * (1.0f - f);
    q.i[j] = d_i;
    q.f[j] = d_f;
    q.g[j] = dct * i * (1.0f - u * u);
    q.o[j] = d_o;
    dc[j] = dct * f;
    if (peep) {
      dc[j] += d_i * p[j] + d_f * p[H + j];
      dp[j] += d_i * cp[j];
      dp[H + j] += d_f * cp[j];
      dp[2 * H + j] += d_o * cc[j];
    }
  }
}

static inline void lstm_forward_rows(int peep, const rc_cell_step *s, int b0, int n) {
  size_t H = s->H;
  for (size_t b = b0; b < (size_t)b0 + n; b++)
    lstm_row_forward(peep, H, gates_at(s->g + b * 4 * H, H), s->vec[0], s->c_prev + b * H, s->c + b * H,
                     s->h + b * H);
}

static inline void lstm_backward_rows(int peep, const rc_cell_step *s, int b0, int n) {
  size_t H = s->H;
  for (size_t b = b0; b < (size_t)b0 + n; b++)
    lstm_row_backward(peep, H, gates_at(s->g + b * 4 * H, H), s->vec[0], s->dvec[0], s->dh + b * H,
                      s->c_prev + b * H, s->c + b * H, s->dc + b * H);
}

RC_VECTOR_KERNEL static void lstm_forward(const rc_cell_step *s, int b0, int n) {
  lstm_forward_rows(0, s, b0, n);
}
RC_VECTOR_KERNEL static void lstm_backward(const rc_cell_step *s, int b0, int n) {
  lstm_backward_rows(0, s, b0, n);
}
RC_VECTOR_KERNEL static void peephole_forward(const rc_cell_step *s, int b0, int n) {
  lstm_forward_rows(1, s, b0, n);
}
RC_VECTOR_KERNEL static void peephole_backward(const rc_cell_step *s, int b0, int n) {
  lstm_backward_rows(1, s, b0, n);
}

const rc_cell rc_cell_lstm =
    LSTM_CELL(0, 0, 0, 0, lstm_forward, lstm_backward, RC_WEIGHT_BLOCKS(4), RC_BIAS_BLOCKS(4));

/* the diagonal peephole weights, (3H) in blocks i, f, o */
#define PEEPHOLE_BLOCK \
  { "weight_peephole", RC_VEC, 3, RC_INIT_UNIFORM, 0 }

const rc_cell rc_cell_lstm_peephole =
    LSTM_CELL(RC_CELL_PEEPHOLE, 0, 0, 0, peephole_forward, peephole_backward, RC_WEIGHT_BLOCKS(4),
              RC_BIAS_BLOCKS(4), PEEPHOLE_BLOCK);

/* ---- layer-normalised LSTM (with or without peepholes) -------------------------------------
 * g and hh keep the normalised projections x^; ex keeps, per row, the activations i, f, u, o
 * (4H), room for dL/dc^ (H), then the eight 1/sqrt(var + eps) of the gate blocks and the
 * mean and 1/sqrt(var + eps) of c. */

enum { LN_GAIN_C = 4, LN_BIAS_C = 5, LN_PEEPHOLE = 6 };
#define LN_EXTRA_H 5
#define LN_STATS 10

typedef struct lstm_ln_params {
  const float *gi, *bi, *gh, *bh; /* 4H: gains and biases of the two projections' norms */
  const float *gc, *bc;           /* H: of the cell state's norm */
  const float *p;                 /* 3H: peepholes (peep) */
  float *dgc, *dbc, *dp;          /* gradients of gc, bc, p */
} lstm_ln_params;

static lstm_ln_params ln_params(const rc_cell_step *s) {
  lstm_ln_params w;
  w.gi = s->vec[RC_LN_GAIN_IH];
  w.bi = s->vec[RC_LN_BIAS_IH];
  w.gh = s->vec[RC_LN_GAIN_HH];
  w.bh = s->vec[RC_LN_BIAS_HH];
  w.gc = s->vec[LN_GAIN_C];
  w.bc = s->vec[LN_BIAS_C];
  w.p = s->vec[LN_PEEPHOLE];
  w.dgc = s->dvec[LN_GAIN_C];
  w.dbc = s->dvec[LN_BIAS_C];
  w.dp = s->dvec[LN_PEEPHOLE];
  return w;
}

static size_t ln_extra(size_t H) { return LN_EXTRA_H * H + LN_STATS; }

/* pre[j] = gi x^ + bi + gh hh^ + bh over the 4H gate values */
static inline void ln_sum_projections(int n, const float *RC_RESTRICT gi, const float *RC_RESTRICT bi,
                                      const float *RC_RESTRICT gh, const float *RC_RESTRICT bh,
                                      const float *RC_RESTRICT x, const float *RC_RESTRICT hh,
                                      float *RC_RESTRICT pre) {
  for (int j = 0; j < n; j++) pre[j] = gi[j] * x[j] + bi[j] + gh[j] * hh[j] + bh[j];
}

/* y[j] += p[j] * c[j] (a peephole) */
static inline void add_peephole(int n, const float *RC_RESTRICT p, const float *RC_RESTRICT c,
                                float *RC_RESTRICT y) {
  for (int j = 0; j < n; j++) y[j] += p[j] * c[j];
}

/* i, f, u from their pre-activations in place, and c = f c_prev + i u */
static inline void ln_cell_update(int H, lstm_gates q, const float *RC_RESTRICT cp, float *RC_RESTRICT co) {
  for (int j = 0; j < H; j++) {
    float i = rc_sigmoid(q.i[j]), f = rc_sigmoid(q.f[j]), u = rc_tanh(q.g[j]);
    q.i[j] = i;
    q.f[j] = f;
    q.g[j] = u;
    co[j] = f * cp[j] + i * u;
  }
}

/* o from its pre-activation in place, and m = o tanh(LN(c) gc + bc) */
static inline void ln_output(int H, float *RC_RESTRICT o, const float *RC_RESTRICT c, float mean, float rstd,
                             const float *RC_RESTRICT gc, const float *RC_RESTRICT bc, float *RC_RESTRICT m) {
  for (int j = 0; j < H; j++) {
    o[j] = rc_sigmoid(o[j]);
    m[j] = o[j] * rc_tanh(gc[j] * ((c[j] - mean) * rstd) + bc[j]);
  }
}

/* one row: x and hh become x^; act gets i, f, u, o; st the statistics; c and m */
static inline void lstm_ln_row_forward(int peep, int H, const lstm_ln_params *w, float *x, float *hh,
                                       float *act, float *st, const float *cp, float *co, float *mo) {
  lstm_gates q = gates_at(act, H);
  for (int k = 0; k < 4; k++) {
    st[k] = rc_ln_normalise(H, x + k * H);
    st[4 + k] = rc_ln_normalise(H, hh + k * H);
  }
  ln_sum_projections(4 * H, w->gi, w->bi, w->gh, w->bh, x, hh, act);
  if (peep) {
    add_peephole(H, w->p, cp, q.i);
    add_peephole(H, w->p + H, cp, q.f);
  }
  ln_cell_update(H, q, cp, co);
  if (peep) add_peephole(H, w->p + 2 * H, co, q.o);
  rc_ln_stats(H, co, &st[8], &st[9]);
  ln_output(H, q.o, co, st[8], st[9], w->gc, w->bc, mo);
}

static inline void lstm_ln_forward_rows(int peep, const rc_cell_step *s, int b0, int n) {
  size_t H = s->H, E = ln_extra(H);
  lstm_ln_params w = ln_params(s);
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *ex = s->ex + b * E;
    lstm_ln_row_forward(peep, H, &w, s->g + b * 4 * H, s->hh + b * 4 * H, ex, ex + LN_EXTRA_H * H,
                        s->c_prev + b * H, s->c + b * H, s->h + b * H);
  }
}

/* Backward through m = o tanh(y), y = LN(c) gc + bc: dch gets dL/dc^, o's slot dL/d(o's
 * pre-activation); the gain and bias gradients accumulate. */
static inline void ln_output_backward(int H, const float *RC_RESTRICT d, float *RC_RESTRICT o,
                                      const float *RC_RESTRICT c, float mean, float rstd,
                                      const float *RC_RESTRICT gc, const float *RC_RESTRICT bc,
                                      float *RC_RESTRICT dgc, float *RC_RESTRICT dbc,
                                      float *RC_RESTRICT dch) {
  for (int j = 0; j < H; j++) {
    float ch = (c[j] - mean) * rstd, tc = rc_tanh(gc[j] * ch + bc[j]), oj = o[j];
    float dy = d[j] * oj * (1.0f - tc * tc);
    dgc[j] += dy * ch;
    dbc[j] += dy;
    dch[j] = dy * gc[j];
    o[j] = d[j] * tc * oj * (1.0f - oj);
  }
}

/* The LSTM's gate gradients with dL/dc = the carried dc plus the path through LN(c):
 * rstd (dc^ - mean(dc^) - c^ mean(dc^ c^)). i, f, u become the gradients of their
 * pre-activations; dc becomes dL/dc_prev through f. */
static inline void ln_gates_backward(int H, lstm_gates q, const float *RC_RESTRICT dch,
                                     const float *RC_RESTRICT c, float mean, float rstd, float ma, float mb,
                                     const float *RC_RESTRICT cp, float *RC_RESTRICT dc) {
  for (int j = 0; j < H; j++) {
    float i = q.i[j], f = q.f[j], u = q.g[j];
    float dct = dc[j] + rstd * (dch[j] - ma - (c[j] - mean) * rstd * mb);
    q.i[j] = dct * u * i * (1.0f - i);
    q.f[j] = dct * cp[j] * f * (1.0f - f);
    q.g[j] = dct * i * (1.0f - u * u);
    dc[j] = dct * f;
  }
}

/* the peepholes' share of backward: dc_prev += d_i p_i + d_f p_f, and their gradients */
static inline void peephole_backward_rows(int H, const float *RC_RESTRICT p, float *RC_RESTRICT dp,
                                          lstm_gates q, const float *RC_RESTRICT cp,
                                          const float *RC_RESTRICT cc, float *RC_RESTRICT dc) {
  for (int j = 0; j < H; j++) {
    dc[j] += q.i[j] * p[j] + q.f[j] * p[H + j];
    dp[j] += q.i[j] * cp[j];
    dp[H + j] += q.f[j] * cp[j];
    dp[2 * H + j] += q.o[j] * cc[j];
  }
}

/* one row backward: act becomes the gradients of the summed pre-activations (shared by
 * both projections), then x and hh the gradients of the projections */
static inline void lstm_ln_row_backward(int peep, int H, const lstm_ln_params *w, float *x, float *hh,
                                        float *act, float *dch, const float *st, const float *d,
                                        const float *cp, const float *cc, float *dc, const rc_cell_step *s) {
  lstm_gates q = gates_at(act, H);
  float mean = st[8], rstd = st[9];
  ln_output_backward(H, d, q.o, cc, mean, rstd, w->gc, w->bc, w->dgc, w->dbc, dch);
  float ma = rc_ln_sum(H, dch) / (float)H;
  float mb = rstd * (rc_ln_dot(H, dch, cc) - mean * rc_ln_sum(H, dch)) / (float)H;
  if (peep) add_peephole(H, w->p + 2 * H, q.o, dc); /* o saw c through its peephole */
  ln_gates_backward(H, q, dch, cc, mean, rstd, ma, mb, cp, dc);
  if (peep) peephole_backward_rows(H, w->p, w->dp, q, cp, cc, dc);
  for (size_t k = 0; k < 4; k++) {
    size_t at = k * H;
    rc_ln_backward(H, act + at, x + at, st[k], w->gi + at, s->dvec[RC_LN_GAIN_IH] + at,
                   s->dvec[RC_LN_BIAS_IH] + at);
    rc_ln_backward(H, act + at, hh + at, st[4 + k], w->gh + at, s->dvec[RC_LN_GAIN_HH] + at,
                   s->dvec[RC_LN_BIAS_HH] + at);
  }
}

static inline void lstm_ln_backward_rows(int peep, const rc_cell_step *s, int b0, int n) {
  size_t H = s->H, E = ln_extra(H);
  lstm_ln_params w = ln_params(s);
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *ex = s->ex + b * E;
    lstm_ln_row_backward(peep, H, &w, s->g + b * 4 * H, s->hh + b * 4 * H, ex, ex + 4 * H,
                         ex + LN_EXTRA_H * H, s->dh + b * H, s->c_prev + b * H, s->c + b * H, s->dc + b * H,
                         s);
  }
}

RC_VECTOR_KERNEL static void ln_forward(const rc_cell_step *s, int b0, int n) {
  lstm_ln_forward_rows(0, s, b0, n);
}
RC_VECTOR_KERNEL static void ln_backward(const rc_cell_step *s, int b0, int n) {
  lstm_ln_backward_rows(0, s, b0, n);
}
RC_VECTOR_KERNEL static void ln_peephole_forward(const rc_cell_step *s, int b0, int n) {
  lstm_ln_forward_rows(1, s, b0, n);
}
RC_VECTOR_KERNEL static void ln_peephole_backward(const rc_cell_step *s, int b0, int n) {
  lstm_ln_backward_rows(1, s, b0, n);
}

/* the gain and bias of the cell state's layer norm, (H) each */
#define LN_CELL_BLOCKS \
  {"ln_cell_weight", RC_VEC, 1, RC_INIT_ONES, 0}, { "ln_cell_bias", RC_VEC, 1, RC_INIT_ZEROS, 1 }

const rc_cell rc_cell_lstm_ln = LSTM_CELL(RC_CELL_LAYER_NORM, 1, LN_EXTRA_H, LN_STATS, ln_forward,
                                          ln_backward, RC_WEIGHT_BLOCKS(4), RC_LN_BLOCKS(4), LN_CELL_BLOCKS);

const rc_cell rc_cell_lstm_ln_peephole =
    LSTM_CELL(RC_CELL_LAYER_NORM | RC_CELL_PEEPHOLE, 1, LN_EXTRA_H, LN_STATS, ln_peephole_forward,
              ln_peephole_backward, RC_WEIGHT_BLOCKS(4), RC_LN_BLOCKS(4), LN_CELL_BLOCKS, PEEPHOLE_BLOCK);
