/*
 * slope/rng.h - an explicit, seeded random number generator.
 *
 * There is no global generator: whoever needs randomness holds an sl_rng.
 * The same seed gives the same sequence on every platform (xoshiro128+
 * style state seeded through splitmix64; floats from the top 24 bits).
 *
 * Arguments: a NULL generator is not a crash: seeding is a no-op and every
 * draw returns 0 (sl_rng_below also returns 0 for n == 0).
 */
#ifndef SLOPE_RNG_H
#define SLOPE_RNG_H

#include <stdint.h>

#include "slope/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_rng {
    uint64_t s[4];
    int has_spare;   /**< a cached second normal deviate */
    float spare;
} sl_rng;

/** Seeds r; any seed (including 0) is valid. */
SL_API void sl_rng_seed(sl_rng *r, uint64_t seed);
/** 64 random bits. */
SL_API uint64_t sl_rng_u64(sl_rng *r);
/** Uniform in [0, 1), 24-bit resolution. */
SL_API float sl_rng_uniform(sl_rng *r);
/** Uniform integer in [0, n) without modulo bias; n > 0. */
SL_API uint64_t sl_rng_below(sl_rng *r, uint64_t n);
/** Standard normal deviate (Box-Muller). */
SL_API float sl_rng_normal(sl_rng *r);

#ifdef __cplusplus
}
#endif
#endif
