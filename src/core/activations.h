/* The activations of the pointwise kernels: e^x, sigmoid, tanh.
 *
 * They are written without branches or libm calls so that the compiler vectorises the
 * loops that call them at every instruction-set level (SSE2, AVX2, AVX-512, NEON); they
 * stay within a few ulp of the exact values (specs/activations_spec.lua checks them over
 * the float range, on each level: `make test-isa`). GCC if-converts their selects only
 * when floating-point operations may not trap, so including this header turns on, for
 * the rest of the including file, vectorisation and -fno-trapping-math (recur never
 * enables floating-point traps): include it in kernel files only. Kernels that call them
 * opt in to the run-time choice of instruction set with RC_VECTOR_KERNEL (dispatch.h).
 * It also keeps GCC from contracting a * b + c into fused multiply-adds (as -std=c99 does,
 * and -std=gnu* does not): the kernels would gain 1.2-1.4x at x86-64-v3, but each level
 * would round differently, while without it every level computes the same floats
 * (`make test-isa` checks that). */
#ifndef RECUR_CORE_ACTIVATIONS_H
#define RECUR_CORE_ACTIVATIONS_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("tree-vectorize", "no-trapping-math", "fp-contract=off")
#endif

#include "common.h"
#include "dispatch.h"

#include <math.h>
#include <string.h>

/* e^x by Cephes' expf: x = n ln2 + r with n = round(x / ln2), |r| <= ln2/2, a degree-6
 * polynomial for e^r, 2^n from the exponent bits. x is clamped to [-87.3, 88]: 2^n stays
 * a normal float, and e^x there is below 1e-38 or above 1e38 (the callers only take
 * 1/(1+e^x) of those). NaN gives NaN. */
static inline float rc_exp(float x) {
  /* NaN goes to the upper bound, so the float -> int conversion below is always
     defined; NaN is given back by the last select */
  float xc = x < 88.0f ? x : 88.0f;
  xc = xc > -87.33654f ? xc : -87.33654f;
  /* n = x / ln2 rounded to the nearest integer by adding and removing 1.5 * 2^23 (the
     sum has no fraction bits; this needs the default rounding and no -ffast-math, as the
     NaN test does): floorf has no vector form before SSE4.1, and a compare-and-subtract
     floor kept GCC from vectorising at all with AVX2 */
  float shifted = xc * 1.44269504088896341f + 12582912.0f;
  float n = shifted - 12582912.0f;
  float r = xc - n * 0.693359375f + n * 2.12194440e-4f; /* ln2 = 0.693359375 - 2.12194440e-4 */
  float y = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
             1.6666665459e-1f) *
                r +
            5.0000001201e-1f;
  y = y * r * r + r + 1.0f;
  uint32_t bits = (uint32_t)((int32_t)n + 127) << 23; /* n is in [-126, 127] */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  float e = y * scale;
  return x != x ? x : e;
}

/* 1 / (1 + e^-x) */
static inline float rc_sigmoid(float x) { return 1.0f / (1.0f + rc_exp(-x)); }

/* tanh by Cephes' tanhf: |tanh x| is an odd polynomial below |x| = 0.625, else
 * 1 - 2/(e^2|x| + 1); then the sign of x (also of a zero) */
static inline float rc_tanh(float x) {
  float a = fabsf(x), z = x * x;
  float small =
      ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
       3.33332819422e-1f) *
          z * a +
      a;
  float large = 1.0f - 2.0f / (rc_exp(2.0f * a) + 1.0f);
  return copysignf(a < 0.625f ? small : large, x);
}

#endif
