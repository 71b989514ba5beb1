/* The GRU, as torch.nn.GRU (reset gate applied after the recurrent matmul):
 *   r = s(x_r + hh_r), z = s(x_z + hh_z), n = tanh(x_n + r * hh_n), h = (1 - z) n + z h_prev
 * with x = x W_ih^T + b_ih and hh = h_prev W_hh^T + b_hh (blocks r, z, n), and its
 * layer-normalised form (Ba, Kiros & Hinton 2016), where each gate block of both
 * projections is normalised on its own and the layer norms' biases replace b_ih, b_hh:
 *   x_k = LN(x W_ih^T)_k * ln_ih_weight_k + ln_ih_bias_k, hh_k likewise with ln_hh_*. */

#include "activations.h"
#include "cells.h"
#include "layer_norm.h"

/* ---- GRU ---------------------------------------------------------------------------- */

/* one row: r, z, n replace the gate blocks. Two passes: n needs r, and in one loop each
 * element's two activations ran one after the other; the first pass's r and z are
 * independent of each other (the kernel took 1.2x less time: perf samples of gru_forward,
 * 80 calls at B=64 H=256, median of 11 runs per build 349 ms before, 286 ms after) */
static inline void gru_row_forward(int H, float *RC_RESTRICT gr, float *RC_RESTRICT gz, float *RC_RESTRICT gn,
                                   const float *RC_RESTRICT hr, const float *RC_RESTRICT hz,
                                   const float *RC_RESTRICT hn, const float *RC_RESTRICT hp,
                                   float *RC_RESTRICT ho) {
  for (int j = 0; j < H; j++) {
    gr[j] = rc_sigmoid(gr[j] + hr[j]);
    gz[j] = rc_sigmoid(gz[j] + hz[j]);
  }
  for (int j = 0; j < H; j++) {
    float n = rc_tanh(gn[j] + gr[j] * hn[j]), z = gz[j];
    gn[j] = n;
    ho[j] = (1.0f - z) * n + z * hp[j];
  }
}

RC_VECTOR_KERNEL static void gru_forward(const rc_cell_step *s, int b0, int n) {
  size_t H = s->H;
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *g = s->g + b * 3 * H;
    const float *hh = s->hh + b * 3 * H;
    gru_row_forward(H, g, g + H, g + 2 * H, hh, hh + H, hh + 2 * H, s->h_prev + b * H, s->h + b * H);
  }
}

/* one row: d = dL/dh; the gates get dL/d(x W_ih^T), hh gets dL/d(h W_hh^T) */
static inline void gru_row_backward(int H, const float *RC_RESTRICT d, const float *RC_RESTRICT hp,
                                    float *RC_RESTRICT gr, float *RC_RESTRICT gz, float *RC_RESTRICT gn,
                                    float *RC_RESTRICT hr, float *RC_RESTRICT hz, float *RC_RESTRICT hn,
                                    float *RC_RESTRICT dp) {
  for (int j = 0; j < H; j++) {
    float r = gr[j], z = gz[j], n = gn[j];
    float dn_pre = d[j] * (1.0f - z) * (1.0f - n * n);
    float dz_pre = d[j] * (hp[j] - n) * z * (1.0f - z);
    float dr_pre = dn_pre * hn[j] * r * (1.0f - r);
    dp[j] += d[j] * z;
    gr[j] = dr_pre;
    hr[j] = dr_pre;
    gz[j] = dz_pre;
    hz[j] = dz_pre;
    gn[j] = dn_pre;
    hn[j] = dn_pre * r;
  }
}

RC_VECTOR_KERNEL static void gru_backward(const rc_cell_step *s, int b0, int n) {
  size_t H = s->H;
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *g = s->g + b * 3 * H, *hh = s->hh + b * 3 * H;
    gru_row_backward(H, s->dh + b * H, s->h_prev + b * H, g, g + H, g + 2 * H, hh, hh + H, hh + 2 * H,
                     s->dh_prev + b * H);
  }
}

const rc_cell rc_cell_gru = {.family = "GRU",
                             .nonlinearity = NULL,
                             .flags = 0,
                             .gates = 3,
                             .states = 1,
                             .projection = 0,
                             .separate_hh = 1,
                             .extra_h = 0,
                             .extra_fixed = 0,
                             .blocks = {RC_WEIGHT_BLOCKS(3), RC_BIAS_BLOCKS(3)},
                             .forward = gru_forward,
                             .backward = gru_backward};

/* ---- layer-normalised GRU -------------------------------------------------------------
 * g and hh keep the normalised projections x^; ex keeps, per row, r, z, n (3H), room for
 * the recurrent n block's gradient (H), and the six 1/sqrt(var + eps). */

#define GRU_LN_EXTRA_H 4
#define GRU_LN_STATS 6

typedef struct gru_ln_row {
  const float *RC_RESTRICT gi, *RC_RESTRICT bi, *RC_RESTRICT gh, *RC_RESTRICT bh; /* gains and biases, 3H */
} gru_ln_row;

static inline void gru_ln_row_forward(int H, const gru_ln_row *p, float *RC_RESTRICT x, float *RC_RESTRICT hh,
                                      float *RC_RESTRICT act, float *RC_RESTRICT rstd,
                                      const float *RC_RESTRICT hp, float *RC_RESTRICT ho) {
  for (int k = 0; k < 3; k++) {
    rstd[k] = rc_ln_normalise(H, x + k * H);
    rstd[3 + k] = rc_ln_normalise(H, hh + k * H);
  }
  for (int j = 0; j < H; j++) {
    int jz = j + H, jn = j + 2 * H;
    float r = rc_sigmoid(p->gi[j] * x[j] + p->bi[j] + p->gh[j] * hh[j] + p->bh[j]);
    float z = rc_sigmoid(p->gi[jz] * x[jz] + p->bi[jz] + p->gh[jz] * hh[jz] + p->bh[jz]);
    float n = rc_tanh(p->gi[jn] * x[jn] + p->bi[jn] + r * (p->gh[jn] * hh[jn] + p->bh[jn]));
    act[j] = r;
    act[jz] = z;
    act[jn] = n;
    ho[j] = (1.0f - z) * n + z * hp[j];
  }
}

static gru_ln_row gru_ln_params(const rc_cell_step *s) {
  gru_ln_row p;
  p.gi = s->vec[RC_LN_GAIN_IH];
  p.bi = s->vec[RC_LN_BIAS_IH];
  p.gh = s->vec[RC_LN_GAIN_HH];
  p.bh = s->vec[RC_LN_BIAS_HH];
  return p;
}

static size_t gru_ln_extra(size_t H) { return GRU_LN_EXTRA_H * H + GRU_LN_STATS; }

RC_VECTOR_KERNEL static void gru_ln_forward(const rc_cell_step *s, int b0, int n) {
  size_t H = s->H, E = gru_ln_extra(H);
  gru_ln_row p = gru_ln_params(s);
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *ex = s->ex + b * E;
    gru_ln_row_forward(H, &p, s->g + b * 3 * H, s->hh + b * 3 * H, ex, ex + GRU_LN_EXTRA_H * H,
                       s->h_prev + b * H, s->h + b * H);
  }
}

/* dL/d(pre-activations) of both branches: dy holds the input branch's (blocks r, z, n),
 * dyh_n the recurrent n block's (r * dn); the r and z blocks are shared */
static inline void gru_ln_row_gate_grads(int H, const gru_ln_row *p, const float *RC_RESTRICT d,
                                         const float *RC_RESTRICT hp, const float *RC_RESTRICT hh,
                                         float *RC_RESTRICT act, float *RC_RESTRICT dyh_n,
                                         float *RC_RESTRICT dp) {
  for (int j = 0; j < H; j++) {
    int jz = j + H, jn = j + 2 * H;
    float r = act[j], z = act[jz], n = act[jn];
    float hn = p->gh[jn] * hh[jn] + p->bh[jn];
    float dn_pre = d[j] * (1.0f - z) * (1.0f - n * n);
    float dz_pre = d[j] * (hp[j] - n) * z * (1.0f - z);
    float dr_pre = dn_pre * hn * r * (1.0f - r);
    dp[j] += d[j] * z;
    act[j] = dr_pre;
    act[jz] = dz_pre;
    act[jn] = dn_pre;
    dyh_n[j] = dn_pre * r;
  }
}

RC_VECTOR_KERNEL static void gru_ln_backward(const rc_cell_step *s, int b0, int n) {
  size_t H = s->H, E = gru_ln_extra(H);
  gru_ln_row p = gru_ln_params(s);
  for (size_t b = b0; b < (size_t)b0 + n; b++) {
    float *ex = s->ex + b * E, *x = s->g + b * 3 * H, *hh = s->hh + b * 3 * H;
    const float *rstd = ex + GRU_LN_EXTRA_H * H;
    gru_ln_row_gate_grads(H, &p, s->dh + b * H, s->h_prev + b * H, hh, ex, ex + 3 * H, s->dh_prev + b * H);
    for (size_t k = 0; k < 3; k++) {
      size_t at = k * H;
      rc_ln_backward(H, ex + at, x + at, rstd[k], p.gi + at, s->dvec[RC_LN_GAIN_IH] + at,
                     s->dvec[RC_LN_BIAS_IH] + at);
      rc_ln_backward(H, k < 2 ? ex + at : ex + 3 * H, hh + at, rstd[3 + k], p.gh + at,
                     s->dvec[RC_LN_GAIN_HH] + at, s->dvec[RC_LN_BIAS_HH] + at);
    }
  }
}

const rc_cell rc_cell_gru_ln = {.family = "GRU",
                                .nonlinearity = NULL,
                                .flags = RC_CELL_LAYER_NORM,
                                .gates = 3,
                                .states = 1,
                                .projection = 0,
                                .separate_hh = 1,
                                .extra_h = GRU_LN_EXTRA_H,
                                .extra_fixed = GRU_LN_STATS,
                                .blocks = {RC_WEIGHT_BLOCKS(3), RC_LN_BLOCKS(3)},
                                .forward = gru_ln_forward,
                                .backward = gru_ln_backward};
