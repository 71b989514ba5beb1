/* recur's seeded random generator: PCG32 (O'Neill, "PCG: A Family of Simple Fast
 * Space-Efficient Statistically Good Algorithms for Random Number Generation", 2014).
 * Integer arithmetic only, so a seed gives the same stream on every machine. */
#ifndef RECUR_CORE_RNG_H
#define RECUR_CORE_RNG_H

#include "common.h"

RC_BEGIN_DECLS

typedef struct rc_rng {
  uint64_t state;
  uint64_t inc;  /* stream selector, always odd */
  uint64_t seed; /* the seed this generator was last seeded with */
  int has_spare; /* normal(): the polar method makes two values per draw */
  double spare;
} rc_rng;

RC_INTERNAL void rc_rng_seed(rc_rng *g, uint64_t seed);
RC_INTERNAL uint32_t rc_rng_u32(rc_rng *g);
/* 64 random bits: two 32-bit draws, the first in the high half */
RC_INTERNAL uint64_t rc_rng_u64(rc_rng *g);
/* uniform in [0, 1) with 24 random bits (every float32 in the grid is reachable) */
RC_INTERNAL float rc_rng_uniform_f(rc_rng *g);
/* uniform in [0, 1) with 53 random bits */
RC_INTERNAL double rc_rng_uniform_d(rc_rng *g);
/* standard normal (Marsaglia's polar method) */
RC_INTERNAL double rc_rng_normal(rc_rng *g);
/* uniform integer in [0, n), n > 0, without modulo bias (n = 0 is taken as 1) */
RC_INTERNAL uint64_t rc_rng_below(rc_rng *g, uint64_t n);

RC_END_DECLS

#endif
