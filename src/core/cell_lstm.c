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
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

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

static void lstm_forward(const rc_cell_step *s, int b0, int n) { lstm_forward_rows(0, s, b0, n); }
static void lstm_backward(const rc_cell_step *s, int b0, int n) { lstm_backward_rows(0, s, b0, n); }
static void peephole_forward(const rc_cell_step *s, int b0, int n) { lstm_forward_rows(1, s, b0, n); }
static void peephole_backward(const rc_cell_step *s, int b0, int n) { lstm_backward_rows(1, s, b0, n); }

const rc_cell rc_cell_lstm = {.family = "LSTM",
                              .nonlinearity = NULL,
                              .flags = 0,
                              .gates = 4,
                              .states = 2,
                              .projection = 1,
                              .separate_hh = 0,
                              .extra_h = 0,
                              .extra_fixed = 0,
                              .blocks = {RC_WEIGHT_BLOCKS(4), RC_BIAS_BLOCKS(4)},
                              .forward = lstm_forward,
                              .backward = lstm_backward};

/* the diagonal peephole weights, (3H) in blocks i, f, o */
#define PEEPHOLE_BLOCK \
  { "weight_peephole", RC_VEC, 3, RC_INIT_UNIFORM, 0 }

const rc_cell rc_cell_lstm_peephole = {.family = "LSTM",
                                       .nonlinearity = NULL,
                                       .flags = RC_CELL_PEEPHOLE,
                                       .gates = 4,
                                       .states = 2,
                                       .projection = 1,
                                       .separate_hh = 0,
                                       .extra_h = 0,
                                       .extra_fixed = 0,
                                       .blocks = {RC_WEIGHT_BLOCKS(4), RC_BIAS_BLOCKS(4), PEEPHOLE_BLOCK},
                                       .forward = peephole_forward,
                                       .backward = peephole_backward};

/* ---- layer-normalised LSTM (with or without peepholes) -------------------------------------
 * g and hh keep the normalised projections x^; ex keeps, per row, the activations i, f, u, o
 * (4H), room for dL/dc^ (H), then the eight 1/sqrt(var + eps) of the gate blocks and the
 * mean and 1/sqrt(var + eps) of c. */

enum { LN_GAIN_C = 4, LN_BIAS_C = 5, LN_PEEPHOLE = 6 };
#define LN_EXTRA_H 5
#define LN_STATS 10

typedef struct lstm_ln_params {
  const float *RC_RESTRICT gi, *RC_RESTRICT bi, *RC_RESTRICT gh, *RC_RESTRICT bh; /* 4H */
  const float *RC_RESTRICT gc, *RC_RESTRICT bc;                                   /* H */
  const float *RC_RESTRICT p;                                                     /* 3H, peep */
} lstm_ln_params;

static lstm_ln_params ln_params(const rc_cell_step *s) {
  lstm_ln_params p;
  p.gi = s->vec[RC_LN_GAIN_IH];
  p.bi = s->vec[RC_LN_BIAS_IH];
  p.gh = s->vec[RC_LN_GAIN_HH];
  p.bh = s->vec[RC_LN_BIAS_HH];
  p.gc = s->vec[LN_GAIN_C];
  p.bc = s->vec[LN_BIAS_C];
  p.p = s->vec[LN_PEEPHOLE];
  return p;
}

static size_t ln_extra(size_t H) { return LN_EXTRA_H * H + LN_STATS; }

static inline void lstm_ln_row_forward(int peep, int H, const lstm_ln_params *w, float *RC_RESTRICT x,
                                       float *RC_RESTRICT hh, float *RC_RESTRICT act, float *RC_RESTRICT st,
                                       const float *RC_RESTRICT cp, float *RC_RESTRICT co,
                                       float *RC_RESTRICT mo) {
  for (int k = 0; k < 4; k++) {
    st[k] = rc_ln_normalise(H, x + k * H);
    st[4 + k] = rc_ln_normalise(H, hh + k * H);
  }
  for (int j = 0; j < H; j++) {
    int jf = j + H, jg = j + 2 * H, jo = j + 3 * H;
    float pi = w->gi[j] * x[j] + w->bi[j] + w->gh[j] * hh[j] + w->bh[j];
    float pf = w->gi[jf] * x[jf] + w->bi[jf] + w->gh[jf] * hh[jf] + w->bh[jf];
    float pg = w->gi[jg] * x[jg] + w->bi[jg] + w->gh[jg] * hh[jg] + w->bh[jg];
    float po = w->gi[jo] * x[jo] + w->bi[jo] + w->gh[jo] * hh[jo] + w->bh[jo];
    if (peep) {
      pi += w->p[j] * cp[j];
      pf += w->p[H + j] * cp[j];
    }
    float i = rc_sigmoid(pi), f = rc_sigmoid(pf), u = rc_tanh(pg);
    float cn = f * cp[j] + i * u;
    if (peep) po += w->p[2 * H + j] * cn;
    act[j] = i;
    act[jf] = f;
    act[jg] = u;
    act[jo] = rc_sigmoid(po);
    co[j] = cn;
  }
  float mean, rstd;
  rc_ln_stats(H, co, &mean, &rstd);
  st[8] = mean;
  st[9] = rstd;
  for (int j = 0; j < H; j++) mo[j] = act[3 * H + j] * rc_tanh(w->gc[j] * ((co[j] - mean) * rstd) + w->bc[j]);
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

/* The gradients of the summed pre-activations (shared by both projections) replace the
 * activations; dc carries dL/dc as in the LSTM, plus the path through LN(c). */
static inline void lstm_ln_row_gate_grads(int peep, int H, const lstm_ln_params *w, float *dvp, float *dgc,
                                          float *dbc, const float *RC_RESTRICT d, float *RC_RESTRICT act,
                                          float *RC_RESTRICT dch, const float *RC_RESTRICT st,
                                          const float *RC_RESTRICT cp, const float *RC_RESTRICT cc,
                                          float *RC_RESTRICT dc) {
  float *RC_RESTRICT dp = dvp;
  float *RC_RESTRICT dgain = dgc;
  float *RC_RESTRICT dbias = dbc;
  float mean = st[8], rstd = st[9], sa = 0.0f, sb = 0.0f;
  /* y = LN(c) gain + bias, m = o tanh(y): first dL/dc^ and the two means of its backward */
  for (int j = 0; j < H; j++) {
    float o = act[3 * H + j], ch = (cc[j] - mean) * rstd;
    float tc = rc_tanh(w->gc[j] * ch + w->bc[j]);
    float dy = d[j] * o * (1.0f - tc * tc);
    dgain[j] += dy * ch;
    dbias[j] += dy;
    dch[j] = dy * w->gc[j];
    sa += dch[j];
    sb += dch[j] * ch;
    act[3 * H + j] = d[j] * tc * o * (1.0f - o); /* dL/d(o's pre-activation) */
  }
  sa /= (float)H;
  sb /= (float)H;
  for (int j = 0; j < H; j++) {
    int jf = j + H, jg = j + 2 * H, jo = j + 3 * H;
    float i = act[j], f = act[jf], u = act[jg], d_o = act[jo];
    float ch = (cc[j] - mean) * rstd;
    float dct = dc[j] + rstd * (dch[j] - sa - ch * sb);
    if (peep) dct += d_o * w->p[2 * H + j];
    float d_i = dct * u * i * (1.0f - i), d_f = dct * cp[j] * f * (1.0f - f);
    act[j] = d_i;
    act[jf] = d_f;
    act[jg] = dct * i * (1.0f - u * u);
    dc[j] = dct * f;
    if (peep) {
      dc[j] += d_i * w->p[j] + d_f * w->p[H + j];
      dp[j] += d_i * cp[j];
      dp[H + j] += d_f * cp[j];
      dp[2 * H + j] += d_o * cc[j];
    }
  }
}

static inline void lstm_ln_backward_rows(int peep, const rc_cell_step *s, int b0, int n) {
  size_t H = s->H, E = ln_extra(H);
  lstm_ln_params w = ln_params(s);
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *ex = s->ex + b * E, *x = s->g + b * 4 * H, *hh = s->hh + b * 4 * H;
    const float *st = ex + LN_EXTRA_H * H;
    lstm_ln_row_gate_grads(peep, H, &w, s->dvec[LN_PEEPHOLE], s->dvec[LN_GAIN_C], s->dvec[LN_BIAS_C],
                           s->dh + b * H, ex, ex + 4 * H, st, s->c_prev + b * H, s->c + b * H, s->dc + b * H);
    for (size_t k = 0; k < 4; k++) {
      size_t at = k * H;
      rc_ln_backward(H, ex + at, x + at, st[k], w.gi + at, s->dvec[RC_LN_GAIN_IH] + at,
                     s->dvec[RC_LN_BIAS_IH] + at);
      rc_ln_backward(H, ex + at, hh + at, st[4 + k], w.gh + at, s->dvec[RC_LN_GAIN_HH] + at,
                     s->dvec[RC_LN_BIAS_HH] + at);
    }
  }
}

static void ln_forward(const rc_cell_step *s, int b0, int n) { lstm_ln_forward_rows(0, s, b0, n); }
static void ln_backward(const rc_cell_step *s, int b0, int n) { lstm_ln_backward_rows(0, s, b0, n); }
static void ln_peephole_forward(const rc_cell_step *s, int b0, int n) { lstm_ln_forward_rows(1, s, b0, n); }
static void ln_peephole_backward(const rc_cell_step *s, int b0, int n) { lstm_ln_backward_rows(1, s, b0, n); }

/* the gain and bias of the cell state's layer norm, (H) each */
#define LN_CELL_BLOCKS \
  {"ln_cell_weight", RC_VEC, 1, RC_INIT_ONES, 0}, { "ln_cell_bias", RC_VEC, 1, RC_INIT_ZEROS, 1 }

const rc_cell rc_cell_lstm_ln = {.family = "LSTM",
                                 .nonlinearity = NULL,
                                 .flags = RC_CELL_LAYER_NORM,
                                 .gates = 4,
                                 .states = 2,
                                 .projection = 1,
                                 .separate_hh = 1,
                                 .extra_h = LN_EXTRA_H,
                                 .extra_fixed = LN_STATS,
                                 .blocks = {RC_WEIGHT_BLOCKS(4), RC_LN_BLOCKS(4), LN_CELL_BLOCKS},
                                 .forward = ln_forward,
                                 .backward = ln_backward};

const rc_cell rc_cell_lstm_ln_peephole = {
    .family = "LSTM",
    .nonlinearity = NULL,
    .flags = RC_CELL_LAYER_NORM | RC_CELL_PEEPHOLE,
    .gates = 4,
    .states = 2,
    .projection = 1,
    .separate_hh = 1,
    .extra_h = LN_EXTRA_H,
    .extra_fixed = LN_STATS,
    .blocks = {RC_WEIGHT_BLOCKS(4), RC_LN_BLOCKS(4), LN_CELL_BLOCKS, PEEPHOLE_BLOCK},
    .forward = ln_peephole_forward,
    .backward = ln_peephole_backward};
