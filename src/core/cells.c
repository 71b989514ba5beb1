#include "cells.h"

#include "activations.h"

RC_VECTOR_KERNEL static void sigmoid_kernel(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = rc_sigmoid(x[i]);
}

void rc_sigmoid_n(size_t n, const float *x, float *y) { sigmoid_kernel(n, x, y); }

RC_VECTOR_KERNEL static void tanh_kernel(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = rc_tanh(x[i]);
}

void rc_tanh_n(size_t n, const float *x, float *y) { tanh_kernel(n, x, y); }

RC_VECTOR_KERNEL static void rnn_tanh_kernel(size_t n, float *RC_RESTRICT g, float *RC_RESTRICT h) {
  for (size_t i = 0; i < n; i++) h[i] = g[i] = rc_tanh(g[i]);
}

void rc_rnn_tanh_forward(int B, int H, float *g, float *h) { rnn_tanh_kernel((size_t)B * H, g, h); }

void rc_rnn_relu_forward(int B, int H, float *RC_RESTRICT g, float *RC_RESTRICT h) {
  for (int i = 0; i < B * H; i++) h[i] = g[i] = g[i] > 0.0f ? g[i] : 0.0f;
}

void rc_rnn_tanh_backward(int B, int H, const float *RC_RESTRICT dh, float *RC_RESTRICT g) {
  for (int i = 0; i < B * H; i++) g[i] = dh[i] * (1.0f - g[i] * g[i]);
}

void rc_rnn_relu_backward(int B, int H, const float *RC_RESTRICT dh, float *RC_RESTRICT g) {
  for (int i = 0; i < B * H; i++) g[i] = g[i] > 0.0f ? dh[i] : 0.0f;
}

/* GRU, one batch row (reset-after form, PyTorch's): r, z, n in place of the gate blocks */
RC_VECTOR_KERNEL static void gru_row_forward(int H, float *RC_RESTRICT gr, float *RC_RESTRICT gz,
                                             float *RC_RESTRICT gn, const float *RC_RESTRICT hr,
                                             const float *RC_RESTRICT hz, const float *RC_RESTRICT hn,
                                             const float *RC_RESTRICT hp, float *RC_RESTRICT ho) {
  for (int j = 0; j < H; j++) {
    float r = rc_sigmoid(gr[j] + hr[j]);
    float z = rc_sigmoid(gz[j] + hz[j]);
    float n = rc_tanh(gn[j] + r * hn[j]);
    gr[j] = r;
    gz[j] = z;
    gn[j] = n;
    ho[j] = (1.0f - z) * n + z * hp[j];
  }
}

void rc_gru_forward(int B, int H, float *g, const float *hh, const float *h_prev, float *h) {
  for (int b = 0; b < B; b++) {
    float *gr = g + (size_t)b * 3 * H;
    const float *hr = hh + (size_t)b * 3 * H;
    gru_row_forward(H, gr, gr + H, gr + 2 * H, hr, hr + H, hr + 2 * H, h_prev + (size_t)b * H,
                    h + (size_t)b * H);
  }
}

/* GRU backward, one row: d = dL/dh; gates get dL/d(x W_ih^T), hh gets dL/d(h W_hh^T) */
RC_VECTOR_KERNEL static void gru_row_backward(int H, const float *RC_RESTRICT d, const float *RC_RESTRICT hp,
                                              float *RC_RESTRICT gr, float *RC_RESTRICT gz,
                                              float *RC_RESTRICT gn, float *RC_RESTRICT hr,
                                              float *RC_RESTRICT hz, float *RC_RESTRICT hn,
                                              float *RC_RESTRICT dp) {
  for (int j = 0; j < H; j++) {
    float r = gr[j], z = gz[j], n = gn[j];
    float dn_pre = d[j] * (1.0f - z) * (1.0f - n * n);
    float dz_pre = d[j] * (hp[j] - n) * z * (1.0f - z);
    float dr_pre = dn_pre * hn[j] * r * (1.0f - r);
    dp[j] = d[j] * z;
    gr[j] = dr_pre;
    hr[j] = dr_pre;
    gz[j] = dz_pre;
    hz[j] = dz_pre;
    gn[j] = dn_pre;
    hn[j] = dn_pre * r;
  }
}

void rc_gru_backward(int B, int H, const float *dh, const float *h_prev, float *g, float *hh,
                     float *dh_prev) {
  for (int b = 0; b < B; b++) {
    float *gr = g + (size_t)b * 3 * H, *hr = hh + (size_t)b * 3 * H;
    gru_row_backward(H, dh + (size_t)b * H, h_prev + (size_t)b * H, gr, gr + H, gr + 2 * H, hr, hr + H,
                     hr + 2 * H, dh_prev + (size_t)b * H);
  }
}

/* LSTM, one row: i, f, g, o in place of the gate blocks; c, and m = o tanh(c) */
RC_VECTOR_KERNEL static void lstm_row_forward(int H, float *RC_RESTRICT gi, float *RC_RESTRICT gf,
                                              float *RC_RESTRICT gg, float *RC_RESTRICT go,
                                              const float *RC_RESTRICT cp, float *RC_RESTRICT co,
                                              float *RC_RESTRICT mo) {
  for (int j = 0; j < H; j++) {
    float i = rc_sigmoid(gi[j]), f = rc_sigmoid(gf[j]);
    float u = rc_tanh(gg[j]), o = rc_sigmoid(go[j]);
    float cn = f * cp[j] + i * u;
    gi[j] = i;
    gf[j] = f;
    gg[j] = u;
    go[j] = o;
    co[j] = cn;
    mo[j] = o * rc_tanh(cn);
  }
}

void rc_lstm_forward(int B, int H, float *g, const float *c_prev, float *c, float *m) {
  for (int b = 0; b < B; b++) {
    float *gi = g + (size_t)b * 4 * H;
    size_t at = (size_t)b * H;
    lstm_row_forward(H, gi, gi + H, gi + 2 * H, gi + 3 * H, c_prev + at, c + at, m + at);
  }
}

/* LSTM backward, one row: d = dL/dm; dc carries dL/dc from step t+1 to t-1 */
RC_VECTOR_KERNEL static void lstm_row_backward(int H, const float *RC_RESTRICT d, const float *RC_RESTRICT cp,
                                               const float *RC_RESTRICT cc, float *RC_RESTRICT gi,
                                               float *RC_RESTRICT gf, float *RC_RESTRICT gg,
                                               float *RC_RESTRICT go, float *RC_RESTRICT dc) {
  for (int j = 0; j < H; j++) {
    float i = gi[j], f = gf[j], u = gg[j], o = go[j];
    float tc = rc_tanh(cc[j]);
    float dct = dc[j] + d[j] * o * (1.0f - tc * tc);
    gi[j] = dct * u * i * (1.0f - i);
    gf[j] = dct * cp[j] * f * (1.0f - f);
    gg[j] = dct * i * (1.0f - u * u);
    go[j] = d[j] * tc * o * (1.0f - o);
    dc[j] = dct * f;
  }
}

void rc_lstm_backward(int B, int H, const float *dm, const float *c_prev, const float *c, float *g,
                      float *dc) {
  for (int b = 0; b < B; b++) {
    float *gi = g + (size_t)b * 4 * H;
    size_t at = (size_t)b * H;
    lstm_row_backward(H, dm + at, c_prev + at, c + at, gi, gi + H, gi + 2 * H, gi + 3 * H, dc + at);
  }
}
