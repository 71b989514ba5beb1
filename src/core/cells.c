#include "cells.h"

#include <math.h>

/* logistic function without overflow: exp() only sees non-positive arguments */
float rc_sigmoid(float x) {
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

void rc_rnn_tanh_forward(int B, int H, float *g, float *h) {
  for (int i = 0; i < B * H; i++) h[i] = g[i] = tanhf(g[i]);
}

void rc_rnn_relu_forward(int B, int H, float *g, float *h) {
  for (int i = 0; i < B * H; i++) h[i] = g[i] = g[i] > 0.0f ? g[i] : 0.0f;
}

void rc_rnn_tanh_backward(int B, int H, const float *dh, float *g) {
  for (int i = 0; i < B * H; i++) g[i] = dh[i] * (1.0f - g[i] * g[i]);
}

void rc_rnn_relu_backward(int B, int H, const float *dh, float *g) {
  for (int i = 0; i < B * H; i++) g[i] = g[i] > 0.0f ? dh[i] : 0.0f;
}

void rc_gru_forward(int B, int H, float *g, const float *hh, const float *h_prev, float *h) {
  for (int b = 0; b < B; b++) {
    float *gr = g + (size_t)b * 3 * H, *gz = gr + H, *gn = gz + H;
    const float *hr = hh + (size_t)b * 3 * H, *hz = hr + H, *hn = hz + H;
    const float *hp = h_prev + (size_t)b * H;
    float *ho = h + (size_t)b * H;
    for (int j = 0; j < H; j++) {
      float r = rc_sigmoid(gr[j] + hr[j]);
      float z = rc_sigmoid(gz[j] + hz[j]);
      float n = tanhf(gn[j] + r * hn[j]);
      gr[j] = r;
      gz[j] = z;
      gn[j] = n;
      ho[j] = (1.0f - z) * n + z * hp[j];
    }
  }
}

void rc_gru_backward(int B, int H, const float *dh, const float *h_prev, float *g, float *hh,
                     float *dh_prev) {
  for (int b = 0; b < B; b++) {
    float *gr = g + (size_t)b * 3 * H, *gz = gr + H, *gn = gz + H;
    float *hr = hh + (size_t)b * 3 * H, *hz = hr + H, *hn = hz + H;
    const float *hp = h_prev + (size_t)b * H, *d = dh + (size_t)b * H;
    float *dp = dh_prev + (size_t)b * H;
    for (int j = 0; j < H; j++) {
      float r = gr[j], z = gz[j], n = gn[j];
      float dn_pre = d[j] * (1.0f - z) * (1.0f - n * n);
      float dz_pre = d[j] * (hp[j] - n) * z * (1.0f - z);
      float dr_pre = dn_pre * hn[j] * r * (1.0f - r);
      dp[j] = d[j] * z;
      gr[j] = hr[j] = dr_pre;
      gz[j] = hz[j] = dz_pre;
      gn[j] = dn_pre;
      hn[j] = dn_pre * r;
    }
  }
}

void rc_lstm_forward(int B, int H, float *g, const float *c_prev, float *c, float *m) {
  for (int b = 0; b < B; b++) {
    float *gi = g + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
    const float *cp = c_prev + (size_t)b * H;
    float *co = c + (size_t)b * H, *mo = m + (size_t)b * H;
    for (int j = 0; j < H; j++) {
      float i = rc_sigmoid(gi[j]), f = rc_sigmoid(gf[j]);
      float u = tanhf(gg[j]), o = rc_sigmoid(go[j]);
      float cn = f * cp[j] + i * u;
      gi[j] = i;
      gf[j] = f;
      gg[j] = u;
      go[j] = o;
      co[j] = cn;
      mo[j] = o * tanhf(cn);
    }
  }
}

void rc_lstm_backward(int B, int H, const float *dm, const float *c_prev, const float *c, float *g,
                      float *dc) {
  for (int b = 0; b < B; b++) {
    float *gi = g + (size_t)b * 4 * H, *gf = gi + H, *gg = gf + H, *go = gg + H;
    const float *cp = c_prev + (size_t)b * H, *cc = c + (size_t)b * H, *d = dm + (size_t)b * H;
    float *dcb = dc + (size_t)b * H;
    for (int j = 0; j < H; j++) {
      float i = gi[j], f = gf[j], u = gg[j], o = go[j];
      float tc = tanhf(cc[j]);
      float dct = dcb[j] + d[j] * o * (1.0f - tc * tc);
      gi[j] = dct * u * i * (1.0f - i);
      gf[j] = dct * cp[j] * f * (1.0f - f);
      gg[j] = dct * i * (1.0f - u * u);
      go[j] = d[j] * tc * o * (1.0f - o);
      dcb[j] = dct * f;
    }
  }
}
