/* The activations are written without branches or libm calls so that the compiler
 * vectorises the pointwise loops; they stay within a few ulp of the exact values
 * (specs/activations_spec.lua checks them over the float range). GCC if-converts the
 * selects only when floating-point operations may not trap; recur never enables traps. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math")
#endif

#include "cells.h"

#include <math.h>
#include <string.h>

/* e^x by Cephes' expf: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r,
 * 2^n from the exponent bits. x is clamped to [-87.3, 88]: 2^n stays a normal float, and
 * e^x there is below 1e-38 or above 1e38 (the callers only take 1/(1+e^x) of those). */
static inline float exp_approx(float x) {
  /* the comparisons send NaN to the lower bound, so the float -> int conversion below is
     always defined; NaN is given back by the last select */
  float xc = x > -87.33654f ? (x < 88.0f ? x : 88.0f) : -87.33654f;
  float t = xc * 1.44269504088896341f + 0.5f;
  float n = (float)(int32_t)t;
  n -= n > t ? 1.0f : 0.0f; /* floor */
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) *
                r +
            5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* n is in [-126, 127] */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return x != x ? x : y * scale;
}

static inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

/* tanh by Cephes' tanhf: an odd polynomial below |x| = 0.625, else 1 - 2/(e^2|x| + 1) */
static inline float tanh_approx(float x) {
  float a = fabsf(x), z = x * x;
  float small =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) *
          z * x +
      x;
  float large = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
  large = x < 0.0f ? -large : large;
  return a < 0.625f ? small : large;
}

void rc_sigmoid_n(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = sigmoid_approx(x[i]);
}

void rc_tanh_n(size_t n, const float *RC_RESTRICT x, float *RC_RESTRICT y) {
  for (size_t i = 0; i < n; i++) y[i] = tanh_approx(x[i]);
}

void rc_rnn_tanh_forward(int B, int H, float *RC_RESTRICT g, float *RC_RESTRICT h) {
  for (int i = 0; i < B * H; i++) h[i] = g[i] = tanh_approx(g[i]);
}

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
static void gru_row_forward(int H, float *RC_RESTRICT gr, float *RC_RESTRICT gz, float *RC_RESTRICT gn,
                            const float *RC_RESTRICT hr, const float *RC_RESTRICT hz,
                            const float *RC_RESTRICT hn, const float *RC_RESTRICT hp, float *RC_RESTRICT ho) {
  for (int j = 0; j < H; j++) {
    float r = sigmoid_approx(gr[j] + hr[j]);
    float z = sigmoid_approx(gz[j] + hz[j]);
    float n = tanh_approx(gn[j] + r * hn[j]);
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
static void gru_row_backward(int H, const float *RC_RESTRICT d, const float *RC_RESTRICT hp,
                             float *RC_RESTRICT gr, float *RC_RESTRICT gz, float *RC_RESTRICT gn,
                             float *RC_RESTRICT hr, float *RC_RESTRICT hz, float *RC_RESTRICT hn,
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
static void lstm_row_forward(int H, float *RC_RESTRICT gi, float *RC_RESTRICT gf, float *RC_RESTRICT gg,
                             float *RC_RESTRICT go, const float *RC_RESTRICT cp, float *RC_RESTRICT co,
                             float *RC_RESTRICT mo) {
  for (int j = 0; j < H; j++) {
    float i = sigmoid_approx(gi[j]), f = sigmoid_approx(gf[j]);
    float u = tanh_approx(gg[j]), o = sigmoid_approx(go[j]);
    float cn = f * cp[j] + i * u;
    gi[j] = i;
    gf[j] = f;
    gg[j] = u;
    go[j] = o;
    co[j] = cn;
    mo[j] = o * tanh_approx(cn);
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
static void lstm_row_backward(int H, const float *RC_RESTRICT d, const float *RC_RESTRICT cp,
                              const float *RC_RESTRICT cc, float *RC_RESTRICT gi, float *RC_RESTRICT gf,
                              float *RC_RESTRICT gg, float *RC_RESTRICT go, float *RC_RESTRICT dc) {
  for (int j = 0; j < H; j++) {
    float i = gi[j], f = gf[j], u = gg[j], o = go[j];
    float tc = tanh_approx(cc[j]);
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
