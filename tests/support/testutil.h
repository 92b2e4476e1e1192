/*
 * testutil.h - shared helpers for the CMocka tests.
 *
 * Include after <stdarg.h>, <stddef.h>, <setjmp.h>, <stdint.h> and <cmocka.h>
 * (testutil.h includes them itself, in that order).
 */
#ifndef SLOPE_TESTUTIL_H
#define SLOPE_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "slope/slope.h"

/* A heap tensor filled uniformly in [lo, hi) from a seeded generator. */
sl_tensor *tu_tensor_uniform(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed);
/* The same, marked requires_grad (a parameter or an input under test). */
sl_tensor *tu_param_uniform(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed);

/* Builds the op under test from the inputs; returns its output (any shape). */
typedef sl_tensor *(*tu_forward_fn)(sl_graph *g, sl_tensor **inputs, void *ctx);

/*
 * Checks backward against central finite differences, for every element of
 * every input that requires a gradient.  The scalar checked is
 * L = sum_i r_i * y_i with fixed random weights r (so every output element's
 * gradient matters), accumulated in double from the float forward.
 *
 * Tolerance: |analytic - numeric| <= atol + rtol * |numeric|.  With eps = 1e-2
 * the truncation error of the central difference is O(eps^2 * f''') and the
 * float round-off of the forward is about 1e-7 * |L| / eps; the callers'
 * tolerances cover both.  Inputs must keep away from kinks by more than eps.
 * The graph's rng is reseeded with rng_seed before every forward so random
 * ops (dropout, rrelu) draw the same mask each time.
 */
void tu_gradcheck(tu_forward_fn fn, void *ctx, sl_tensor **inputs, int n_inputs, double eps,
                  double atol, double rtol, uint64_t rng_seed);

/* Asserts |a[i] - b[i]| <= atol + rtol * |b[i]| for all i, naming the index on failure. */
void tu_assert_close(const float *a, const float *b, int64_t n, double atol, double rtol,
                     const char *what);

/* Moves x away from [-margin, margin] (keeps finite differences off kinks). */
void tu_push_from_zero(sl_tensor *x, float margin);

/* An environment variable's value, to put back after a test sets it: tu_env_save returns a
 * copy (NULL when unset); tu_env_restore sets it back (or unsets it) and frees the copy. */
char *tu_env_save(const char *name);
void tu_env_restore(const char *name, char *saved);

/* Path of a file in the source tree: SLOPE_SOURCE_DIR "/" rel (static buffer). */
const char *tu_source_path(const char *rel);

#endif
