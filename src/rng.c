/*
 * rng.c - xoshiro256+ seeded through splitmix64.  Small, fast, and the same
 * sequence everywhere; quality is ample for init, shuffling and dropout.
 */
#include "slope/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* A NULL generator: seeding is a no-op and every draw is 0. */
void sl_rng_seed(sl_rng *r, uint64_t seed)
{
    if (!r)
        return;
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&sm);
    r->has_spare = 0;
    r->spare = 0.0f;
}

uint64_t sl_rng_u64(sl_rng *r)
{
    if (!r)
        return 0;
    uint64_t *s = r->s;
    uint64_t result = s[0] + s[3];
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float sl_rng_uniform(sl_rng *r)
{
    /* The top 24 bits give every float in [0, 1) with spacing 2^-24. */
    return (float)(sl_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t sl_rng_below(sl_rng *r, uint64_t n)
{
    if (!r || n == 0) /* n == 0: no value is below it; 0 rather than a division by zero */
        return 0;
    /* Rejection sampling: drop the top partial range so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
        x = sl_rng_u64(r);
    } while (x >= limit);
    return x % n;
}

float sl_rng_normal(sl_rng *r)
{
    if (!r)
        return 0.0f;
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    /* Box-Muller in double; u1 in (0, 1] so log(u1) is finite. */
    double u1 = ((double)(sl_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(sl_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 6.283185307179586 * u2;
    r->spare = (float)(radius * sin(angle));
    r->has_spare = 1;
    return (float)(radius * cos(angle));
}
