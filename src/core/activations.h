/* The activations of the cell kernels, written without branches or libm calls so that the
 * compiler vectorises the pointwise loops; they stay within a few ulp of the exact values
 * (specs/activations_spec.lua checks them over the float range). Each kernel file asks
 * GCC for "no-trapping-math": GCC if-converts the selects only when floating-point
 * operations may not trap; recur never enables traps. */
#ifndef RECUR_CORE_ACTIVATIONS_H
#define RECUR_CORE_ACTIVATIONS_H

#include <math.h>
#include <string.h>

#include "common.h"

/* e^x by Cephes' expf: x = n ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r,
 * 2^n from the exponent bits. x is clamped to [-87.3, 88]: 2^n stays a normal float, and
 * e^x there is below 1e-38 or above 1e38 (the callers only take 1/(1+e^x) of those). */
static inline float rc_exp_approx(float x) {
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

static inline float rc_sigmoid(float x) { return 1.0f / (1.0f + rc_exp_approx(-x)); }

/* tanh by Cephes' tanhf: an odd polynomial below |x| = 0.625, else 1 - 2/(e^2|x| + 1) */
static inline float rc_tanh(float x) {
  float a = fabsf(x), z = x * x;
  float small =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) *
          z * x +
      x;
  float large = 1.0f - 2.0f / (rc_exp_approx(2.0f * a) + 1.0f);
  large = x < 0.0f ? -large : large;
  return a < 0.625f ? small : large;
}

#endif
