#include "rng.h"

#include <math.h>

#define PCG_MULTIPLIER 6364136223846793005ULL

/* splitmix64 step: spreads a small seed over all 64 bits */
static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void rc_rng_seed(rc_rng *g, uint64_t seed) {
  uint64_t x = seed;
  g->seed = seed;
  g->state = 0;
  g->inc = (splitmix64(&x) << 1) | 1u;
  rc_rng_u32(g);
  g->state += splitmix64(&x);
  rc_rng_u32(g);
  g->has_spare = 0;
  g->spare = 0.0;
}

uint32_t rc_rng_u32(rc_rng *g) {
  uint64_t old = g->state;
  g->state = old * PCG_MULTIPLIER + g->inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = (uint32_t)(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

uint64_t rc_rng_u64(rc_rng *g) {
  uint64_t hi = rc_rng_u32(g);
  return (hi << 32) | rc_rng_u32(g);
}

float rc_rng_uniform_f(rc_rng *g) { return (float)(rc_rng_u32(g) >> 8) * (1.0f / 16777216.0f); }

double rc_rng_uniform_d(rc_rng *g) {
  uint64_t hi = rc_rng_u32(g) >> 5, lo = rc_rng_u32(g) >> 6; /* 27 + 26 bits */
  return ((double)hi * 67108864.0 + (double)lo) * (1.0 / 9007199254740992.0);
}

double rc_rng_normal(rc_rng *g) {
  if (g->has_spare) {
    g->has_spare = 0;
    return g->spare;
  }
  double u, v, s;
  do {
    u = 2.0 * rc_rng_uniform_d(g) - 1.0;
    v = 2.0 * rc_rng_uniform_d(g) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double scale = sqrt(-2.0 * log(s) / s);
  g->spare = v * scale;
  g->has_spare = 1;
  return u * scale;
}

uint64_t rc_rng_below(rc_rng *g, uint64_t n) {
  /* rejection sampling on 64-bit draws: accept below the largest multiple of n */
  if (n == 0) n = 1;
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do {
    r = rc_rng_u64(g);
  } while (r >= limit);
  return r % n;
}
