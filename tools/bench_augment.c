/*
 * bench_augment.c - what data.augment costs per training batch.
 *
 *   bench_augment [--batch N] [--reps R]
 *
 * Times, on N random 1x28x28 images (Fashion-MNIST's shape, uint8 storage
 * normalised with scale01 as the IDX loader's data is): reading a shuffled
 * batch (sl_batch_iter_next, what a step does anyway), then sl_augment_batch on
 * it with crop padding 2 and flip 0.5, with flip alone and with crop alone.
 * Each case is timed R times over 200 batches; the median per batch is shown.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_timing.h"

#include "slope/data.h"
#include "slope/rng.h"

#define IMAGES 4096
#define BATCHES 200
#define MAX_REPS 101


/* The median seconds per batch of reading (a == NULL) or reading then augmenting. */
static double time_case(sl_batch_iter *it, const sl_augment_spec *a, float *x, int32_t *y,
                        int reps)
{
    static const int64_t shape[3] = {1, 28, 28};
    float scratch[784];
    double t[MAX_REPS];
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (int64_t b = 0; b < BATCHES; b++) {
            int64_t n = 0;
            if (sl_batch_iter_next(it, x, y, &n, NULL) != SL_OK)
                exit(1);
            if (n == 0 && sl_batch_iter_next(it, x, y, &n, NULL) != SL_OK)
                exit(1);
            sl_augment_where w = {42, 0, b, 0};
            if (a && sl_augment_batch(a, &w, x, n, shape, 0.0f, scratch, NULL) != SL_OK)
                exit(1);
        }
        t[r] = (now() - t0) / BATCHES;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

int main(int argc, char **argv)
{
    int64_t batch = 64;
    int reps = 9;
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--batch") == 0)
            batch = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    if (batch < 1 || batch > IMAGES || reps < 1 || reps > MAX_REPS) {
        fprintf(stderr, "usage: bench_augment [--batch 1..%d] [--reps 1..%d]\n", IMAGES,
                MAX_REPS);
        return 2;
    }
    /* Random pixels as floats 0..255 normalised with scale01, like the IDX images. */
    float *pixels = malloc(sizeof(float) * IMAGES * 784);
    int32_t *labels = calloc(IMAGES, sizeof *labels);
    float *x = malloc(sizeof(float) * (size_t)batch * 784);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)batch);
    if (!pixels || !labels || !x || !y)
        return 1;
    sl_rng rng;
    sl_rng_seed(&rng, 1);
    for (int64_t i = 0; i < (int64_t)IMAGES * 784; i++)
        pixels[i] = (float)sl_rng_below(&rng, 256);
    int64_t shape[3] = {1, 28, 28};
    sl_dataset *ds = sl_dataset_from_arrays(pixels, labels, IMAGES, 3, shape, 1, NULL);
    if (!ds || sl_dataset_set_normalize(ds, SL_NORMALIZE_SCALE01, 0, 1, NULL) != SL_OK)
        return 1;
    sl_batch_options bo = {batch, 1, 42, 0};
    sl_batch_iter *it = sl_batch_iter_new(ds, &bo, NULL);
    if (!it)
        return 1;
    sl_augment_spec both = {1, 2, 0.5f}, flip = {0, 0, 0.5f}, crop = {1, 2, 0.0f};
    double read = time_case(it, NULL, x, y, reps);
    double t_both = time_case(it, &both, x, y, reps) - read;
    double t_flip = time_case(it, &flip, x, y, reps) - read;
    double t_crop = time_case(it, &crop, x, y, reps) - read;
    printf("batch of %lld 1x28x28 images, median of %d x %d batches\n", (long long)batch, reps,
           BATCHES);
    printf("  read a shuffled batch:          %8.2f us\n", 1e6 * read);
    printf("  + crop (padding 2) and flip 0.5: %7.2f us\n", 1e6 * t_both);
    printf("  + flip 0.5 alone:               %8.2f us\n", 1e6 * t_flip);
    printf("  + crop (padding 2) alone:       %8.2f us\n", 1e6 * t_crop);
    sl_batch_iter_free(it);
    sl_dataset_free(ds);
    free(pixels);
    free(labels);
    free(x);
    free(y);
    return 0;
}
