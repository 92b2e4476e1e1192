/*
 * data_spiral.c - the built-in 2-D spiral: a classic toy set that a linear
 * model cannot separate, generated from an explicit seed.
 */
#include "alloc.h"
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>

#include "slope/rng.h"

/* The most points the generator makes in all (16M: plenty for a toy set). */
#define SPIRAL_MAX_POINTS ((int64_t)1 << 24)

static sl_status check_args(int classes, int64_t points, float noise, sl_error *err)
{
    if (classes < 1 || classes > SL_DATA_MAX_CLASSES)
        return sl_error_set(err, SL_ERR_INVALID, "spiral: classes %d is not in 1..%d", classes,
                            SL_DATA_MAX_CLASSES);
    if (points < 1 || points > SPIRAL_MAX_POINTS / classes)
        return sl_error_set(err, SL_ERR_INVALID,
                            "spiral: %lld points per class for %d classes is not in 1..%lld "
                            "points in all",
                            (long long)points, classes, (long long)SPIRAL_MAX_POINTS);
    if (!(noise >= 0.0f) || !isfinite(noise))
        return sl_error_set(err, SL_ERR_INVALID, "spiral: noise %g must be finite and >= 0",
                            (double)noise);
    return SL_OK;
}

static void generate(int classes, int64_t points, float noise, uint64_t seed, float *x,
                     int32_t *y)
{
    sl_rng rng;
    sl_rng_seed(&rng, seed);
    int64_t s = 0;
    for (int k = 0; k < classes; k++) {
        for (int64_t i = 0; i < points; i++, s++) {
            double r = (double)i / (double)points;
            double t = 4.0 * k + 4.0 * (double)i / (double)points +
                       (double)noise * (double)sl_rng_normal(&rng);
            x[2 * s] = (float)(r * sin(t));
            x[2 * s + 1] = (float)(r * cos(t));
            y[s] = k;
        }
    }
}

sl_dataset *sl_dataset_spiral(int classes, int64_t points_per_class, float noise,
                              uint64_t seed, sl_error *err)
{
    if (check_args(classes, points_per_class, noise, err) != SL_OK)
        return NULL;
    int64_t n = classes * points_per_class;
    float *x = sl_malloc((size_t)n * 2 * sizeof *x);
    int32_t *y = sl_malloc((size_t)n * sizeof *y);
    if (!x || !y) {
        sl_free(x);
        sl_free(y);
        sl_error_set(err, SL_ERR_NOMEM, "spiral: cannot allocate %lld points", (long long)n);
        return NULL;
    }
    generate(classes, points_per_class, noise, seed, x, y);
    sl_data_store *st = sl_data_store_new(SL_DATA_F32, n, 2, x, y, err);
    if (!st)
        return NULL;
    st->num_classes = classes;
    const int64_t shape[1] = {2};
    return sl_data_handle_new(st, "spiral", 1, shape, err);
}
