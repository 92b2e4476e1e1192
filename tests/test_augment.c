/*
 * test_augment.c - random crop after padding and horizontal flip (slope/data.h
 * sl_augment_*): the kernel against a reference written the long way (pad into a
 * bigger image, cut the window, mirror) for every offset, hand-computed cases, the
 * padding value under each normalisation, the probability edges, the draw
 * frequencies, determinism of the draws, and the trainer: it augments (the weights
 * differ from an unaugmented run), resumes bit for bit, and refuses non-image data.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* The reference: torchvision's steps one by one, into fresh buffers. */
static void reference(const float *in, int64_t C, int64_t H, int64_t W, int p,
                      sl_augment_draw d, float pad, float *out)
{
    int64_t PH = H + 2 * p, PW = W + 2 * p;
    float *padded = malloc((size_t)(C * PH * PW) * sizeof *padded);
    float *crop = malloc((size_t)(C * H * W) * sizeof *crop);
    assert_non_null(padded);
    assert_non_null(crop);
    for (int64_t i = 0; i < C * PH * PW; i++)
        padded[i] = pad;
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                padded[(c * PH + y + p) * PW + x + p] = in[(c * H + y) * W + x];
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                crop[(c * H + y) * W + x] = padded[(c * PH + y + d.dy) * PW + x + d.dx];
    for (int64_t c = 0; c < C; c++)
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                out[(c * H + y) * W + x] = crop[(c * H + y) * W + (d.flip ? W - 1 - x : x)];
    free(padded);
    free(crop);
}

static void fill_distinct(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = 1.0f + (float)i * 0.5f; /* none equals the padding used below */
}

static void test_every_offset_matches_the_reference(void **state)
{
    (void)state;
    enum { C = 2, H = 5, W = 6, N = C * H * W };
    float in[N], img[N], want[N], scratch[N];
    fill_distinct(in, N);
    for (int p = 0; p <= 4; p++) {
        sl_augment_spec a = {1, p, 0.5f};
        for (int dy = 0; dy <= 2 * p; dy++)
            for (int dx = 0; dx <= 2 * p; dx++)
                for (int flip = 0; flip < 2; flip++) {
                    sl_augment_draw d = {dy, dx, flip};
                    memcpy(img, in, sizeof img);
                    sl_augment_image(&a, d, img, C, H, W, -0.25f, scratch);
                    reference(in, C, H, W, p, d, -0.25f, want);
                    assert_memory_equal(img, want, sizeof img);
                }
    }
}

static void test_hand_computed_cases(void **state)
{
    (void)state;
    float scratch[6];
    /* [[1 2 3] [4 5 6]], padding 1, window at (0, 2): out[y][x] = in[y - 1][x + 1], so
     * row 0 is padding and row 1 is in's row 0 moved left: [2 3 pad]. */
    float img[6] = {1, 2, 3, 4, 5, 6};
    sl_augment_spec a = {1, 1, 0.0f};
    sl_augment_image(&a, (sl_augment_draw){0, 2, 0}, img, 1, 2, 3, 9.0f, scratch);
    const float shifted[6] = {9, 9, 9, 2, 3, 9};
    assert_memory_equal(img, shifted, sizeof img);
    /* The same window, then mirrored: row 1 is [pad 3 2]. */
    float img2[6] = {1, 2, 3, 4, 5, 6};
    sl_augment_image(&a, (sl_augment_draw){0, 2, 1}, img2, 1, 2, 3, 9.0f, scratch);
    const float flipped[6] = {9, 9, 9, 9, 3, 2};
    assert_memory_equal(img2, flipped, sizeof img2);
    /* Flip alone is exact and its own inverse. */
    float img3[6] = {1, 2, 3, 4, 5, 6};
    sl_augment_spec f = {0, 0, 1.0f};
    sl_augment_image(&f, (sl_augment_draw){0, 0, 1}, img3, 1, 2, 3, 0.0f, scratch);
    const float mirror[6] = {3, 2, 1, 6, 5, 4};
    assert_memory_equal(img3, mirror, sizeof img3);
    sl_augment_image(&f, (sl_augment_draw){0, 0, 1}, img3, 1, 2, 3, 0.0f, scratch);
    const float back[6] = {1, 2, 3, 4, 5, 6};
    assert_memory_equal(img3, back, sizeof img3);
    /* The centred window without a flip leaves the image alone. */
    sl_augment_image(&a, (sl_augment_draw){1, 1, 0}, img3, 1, 2, 3, 9.0f, scratch);
    assert_memory_equal(img3, back, sizeof img3);
}

/* The padding is the normalised raw 0, as torchvision pads before normalising. */
static void test_padding_value_per_normalisation(void **state)
{
    (void)state;
    sl_error err = {0};
    char images[4096]; /* tu_source_path's buffer is reused by the next call */
    snprintf(images, sizeof images, "%s", tu_source_path("datasets/fixtures/tiny-images.idx"));
    sl_dataset *ds = sl_dataset_load_idx(images, tu_source_path("datasets/fixtures/tiny-labels.idx"),
                                         3, &err);
    assert_non_null(ds);
    assert_true(sl_augment_pad_value(ds) == 0.0f); /* none */
    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_SCALE01, 0, 1, &err), SL_OK);
    assert_true(sl_augment_pad_value(ds) == 0.0f);
    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, 33.0, 2.0, &err),
                     SL_OK);
    assert_true(sl_augment_pad_value(ds) == -16.5f);
    /* The padded pixels of a batch are exactly that value: a window shifted down by 2 of a
     * 4x3 image leaves its first two rows to the padding. */
    float x[12], scratch[12], raw0 = 0.0f, want = 0.0f;
    assert_int_equal(sl_dataset_read(ds, 0, 1, x, NULL, &err), SL_OK);
    sl_normalize_values(SL_NORMALIZE_STANDARDIZE, 33.0, 2.0, &raw0, &want, 1);
    sl_augment_spec a = {1, 2, 0.0f};
    sl_augment_image(&a, (sl_augment_draw){0, 2, 0}, x, 1, 4, 3, sl_augment_pad_value(ds),
                     scratch);
    for (int i = 0; i < 6; i++)
        assert_true(x[i] == want);
    assert_true(sl_augment_pad_value(NULL) == 0.0f);
    sl_dataset_free(ds);
}

static void test_probability_edges_and_frequencies(void **state)
{
    (void)state;
    enum { DRAWS = 20000 };
    sl_augment_where w = {42, 3, 7, 0};
    sl_augment_spec never = {0, 0, 0.0f}, always = {0, 0, 1.0f}, some = {1, 2, 0.3f};
    int64_t flips = 0, dy_count[5] = {0}, dx_count[5] = {0};
    for (int64_t i = 0; i < DRAWS; i++) {
        w.batch = i / 64;
        assert_int_equal(sl_augment_draw_for(&never, &w, i % 64).flip, 0);
        assert_int_equal(sl_augment_draw_for(&always, &w, i % 64).flip, 1);
        sl_augment_draw d = sl_augment_draw_for(&some, &w, i % 64);
        assert_true(d.dy >= 0 && d.dy <= 4 && d.dx >= 0 && d.dx <= 4);
        flips += d.flip;
        dy_count[d.dy]++;
        dx_count[d.dx]++;
    }
    /* Binomial bounds at 6 standard deviations (the draws are seeded, so this is also
     * deterministic): flips 6000 +- 389, each offset 4000 +- 340. */
    double sd = sqrt(DRAWS * 0.3 * 0.7);
    print_message("flip 0.3: %lld of %d flipped\n", (long long)flips, DRAWS);
    assert_true(fabs((double)flips - DRAWS * 0.3) < 6 * sd);
    double sd_off = sqrt(DRAWS * 0.2 * 0.8);
    for (int k = 0; k < 5; k++) {
        assert_true(fabs((double)dy_count[k] - DRAWS * 0.2) < 6 * sd_off);
        assert_true(fabs((double)dx_count[k] - DRAWS * 0.2) < 6 * sd_off);
    }
    /* Without crop the window is the image itself; padding 0 crops nothing either. */
    sl_augment_draw d = sl_augment_draw_for(&always, &w, 0);
    assert_int_equal(d.dy, 0);
    assert_int_equal(d.dx, 0);
    sl_augment_spec zero = {1, 0, 0.0f};
    float img[12], orig[12], scratch[12];
    fill_distinct(img, 12);
    memcpy(orig, img, sizeof img);
    assert_int_equal(sl_augment_batch(&zero, &w, img, 1, (int64_t[]){1, 4, 3}, 7.0f, scratch,
                                      NULL),
                     SL_OK);
    assert_memory_equal(img, orig, sizeof img);
}

/* A batch of n 1x6x5 images augmented at w. */
static void augmented(const sl_augment_where *w, int64_t n, float *x)
{
    static const int64_t shape[3] = {1, 6, 5};
    sl_augment_spec a = {1, 2, 0.5f};
    float scratch[30];
    fill_distinct(x, n * 30);
    sl_error err = {0};
    assert_int_equal(sl_augment_batch(&a, w, x, n, shape, 0.0f, scratch, &err), SL_OK);
}

static void test_draws_are_deterministic(void **state)
{
    (void)state;
    enum { N = 8, SIZE = N * 30 };
    float a[SIZE], b[SIZE], other[SIZE];
    sl_augment_where w = {5, 2, 3, 0};
    augmented(&w, N, a);
    augmented(&w, N, b);
    assert_memory_equal(a, b, sizeof a); /* same (seed, epoch, batch): same batch */
    sl_augment_where e = w;
    e.epoch = 3;
    augmented(&e, N, other);
    assert_memory_not_equal(a, other, sizeof a); /* another epoch: other draws */
    sl_augment_where s = w;
    s.seed = 6;
    augmented(&s, N, other);
    assert_memory_not_equal(a, other, sizeof a);
    /* Two halves, numbered in the whole batch (two replicas), draw what one reader does. */
    float halves[SIZE];
    sl_augment_where lo = w, hi = w;
    hi.first = N / 2;
    augmented(&lo, N / 2, halves);
    sl_augment_spec sp = {1, 2, 0.5f};
    float scratch[30];
    fill_distinct(halves + SIZE / 2, N / 2 * 30);
    for (int64_t i = 0; i < N / 2 * 30; i++) /* the second half's own pixels */
        halves[SIZE / 2 + i] = 1.0f + (float)(SIZE / 2 + i) * 0.5f;
    assert_int_equal(sl_augment_batch(&sp, &hi, halves + SIZE / 2, N / 2,
                                      (int64_t[]){1, 6, 5}, 0.0f, scratch, NULL),
                     SL_OK);
    assert_memory_equal(a, halves, sizeof a);
}

static void test_check_refusals(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t img[3] = {1, 28, 28}, flat[1] = {784};
    sl_augment_spec crop = {1, 2, 0.0f}, flip = {0, 0, 0.5f}, none = {0, 0, 0.0f};
    assert_int_equal(sl_augment_check(&crop, 3, img, &err), SL_OK);
    assert_int_equal(sl_augment_check(&none, 1, flat, &err), SL_OK);
    assert_int_equal(sl_augment_check(&crop, 1, flat, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "crop: needs images [C, H, W], not samples of shape [784]");
    assert_int_equal(sl_augment_check(&flip, 1, flat, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "flip: needs images [C, H, W], not samples of shape [784]");
    sl_augment_spec big = {1, 28, 0.0f}, negative = {1, -1, 0.0f}, p = {0, 0, 1.5f},
                    nan = {0, 0, NAN};
    assert_int_equal(sl_augment_check(&big, 3, img, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message,
                        "crop.padding: must be 0..27 (below the image size 28x28), got 28");
    assert_int_equal(sl_augment_check(&negative, 3, img, &err), SL_ERR_CONFIG);
    assert_int_equal(sl_augment_check(&p, 3, img, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "flip: must be in [0, 1], got 1.5");
    assert_int_equal(sl_augment_check(&nan, 3, img, &err), SL_ERR_CONFIG);
    assert_int_equal(sl_augment_check(NULL, 3, img, &err), SL_ERR_INVALID);
    assert_int_equal(sl_augment_batch(&crop, NULL, NULL, 1, img, 0.0f, NULL, &err),
                     SL_ERR_INVALID);
    assert_int_equal(sl_augment_active(NULL), 0);
    assert_int_equal(sl_augment_active(&none), 0);
    assert_int_equal(sl_augment_active(&crop), 1);
}

/* ---- the trainer ------------------------------------------------------------------- */

enum { COUNT = 60 };
static float g_images[COUNT * 64];
static int32_t g_labels[COUNT];

static sl_dataset *image_data(void)
{
    sl_rng rng;
    sl_rng_seed(&rng, 4);
    for (int i = 0; i < COUNT * 64; i++)
        g_images[i] = 255.0f * sl_rng_uniform(&rng);
    for (int i = 0; i < COUNT; i++)
        g_labels[i] = i % 3;
    sl_error err = {0};
    int64_t shape[3] = {1, 8, 8};
    sl_dataset *ds = sl_dataset_from_arrays(g_images, g_labels, COUNT, 3, shape, 3, &err);
    assert_non_null(ds);
    assert_int_equal(sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, 120.0, 70.0, &err),
                     SL_OK);
    return ds;
}

static sl_model *image_model(void)
{
    sl_error err = {0};
    int64_t in[3] = {1, 8, 8};
    sl_model *m = sl_model_new(3, in, &err);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D), act = sl_layer_defaults(SL_LAYER_RELU),
                  flat = sl_layer_defaults(SL_LAYER_FLATTEN), lin = sl_layer_defaults(SL_LAYER_LINEAR);
    conv.out = 3;
    conv.kernel = 3;
    conv.padding = 1;
    lin.out = 3;
    const sl_layer_spec *layers[] = {&conv, &act, &flat, &lin};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(sl_model_add(m, layers[i], &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 8, &err), SL_OK);
    return m;
}

static sl_train_options image_options(void)
{
    sl_train_options o = sl_train_defaults();
    o.epochs = 3;
    o.batch_size = 16; /* 60 / 16: a partial last batch */
    o.optim.lr = 0.05f;
    o.optim.momentum = 0.9f;
    o.augment = (sl_augment_spec){1, 2, 0.5f};
    return o;
}

static void train_all(sl_model *m, const sl_dataset *ds, const sl_train_options *o)
{
    sl_error err = {0};
    sl_trainer *t = sl_trainer_new(m, ds, o, &err);
    if (!t)
        fail_msg("trainer: %s", err.message);
    while (!sl_trainer_done(t))
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_trainer_free(t);
}

static void test_trainer_augments_and_resumes_exactly(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = image_data();
    sl_train_options o = image_options();
    sl_model *straight = image_model();
    train_all(straight, ds, &o);
    int64_t n;
    const float *ps = sl_model_flat_params(straight, &n);

    /* Augmentation is really applied: without it the weights come out otherwise. */
    sl_train_options plain = o;
    plain.augment = (sl_augment_spec){0, 0, 0.0f};
    sl_model *unaugmented = image_model();
    train_all(unaugmented, ds, &plain);
    assert_memory_not_equal(ps, sl_model_flat_params(unaugmented, NULL), (size_t)n * sizeof(float));

    /* Stopped 2 steps into epoch 2, saved, loaded into fresh weights, finished. */
    char path[512];
    snprintf(path, sizeof path, "%s/augment_resume.%d.safetensors", SLOPE_BINARY_DIR,
             (int)getpid());
    sl_model *first = image_model();
    sl_trainer *t = sl_trainer_new(first, ds, &o, &err);
    assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_step_info info;
    for (int s = 0; s < 2; s++)
        assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(sl_trainer_save(t, path, NULL, 0, &err), SL_OK);
    sl_trainer_free(t);
    sl_model *resumed = image_model();
    assert_int_equal(sl_model_init(resumed, SL_INIT_PYTORCH, 77, &err), SL_OK);
    t = sl_trainer_new(resumed, ds, &o, &err);
    assert_int_equal(sl_trainer_load(t, path, &err), SL_OK);
    while (!sl_trainer_done(t))
        assert_int_equal(sl_trainer_run_epoch(t, NULL, NULL, NULL, &err), SL_OK);
    sl_trainer_free(t);
    assert_memory_equal(ps, sl_model_flat_params(resumed, NULL), (size_t)n * sizeof(float));
    unlink(path);
    sl_model_free(first);
    sl_model_free(resumed);
    sl_model_free(unaugmented);
    sl_model_free(straight);
    sl_dataset_free(ds);
}

/* Two replicas each augmenting their half (a test double of the MPI strategy, both on this
 * thread) take the steps one trainer does. */
typedef struct pair {
    sl_trainer *t[2];
    float *grad[2];
    int64_t n[2];
} pair;

static sl_status average_reduce(void *ctx, sl_status local, int64_t n_global, sl_step_info *info,
                                float *grad, int64_t n_grad, sl_error *err)
{
    (void)err;
    pair *p = ctx;
    int rank = grad == p->grad[0] ? 0 : 1;
    p->n[rank] = info->n;
    if (rank == 0) /* the first replica's part waits for the second's */
        return local;
    for (int64_t j = 0; j < n_grad; j++)
        grad[j] = p->grad[0][j] = ((float)p->n[0] * p->grad[0][j] + (float)p->n[1] * grad[j]) /
                                  (float)n_global;
    return local;
}

static sl_status no_eval(void *ctx, sl_status local, double sums[3], int64_t *counts,
                         int64_t n_counts, sl_error *err)
{
    (void)ctx, (void)sums, (void)counts, (void)n_counts, (void)err;
    return local; /* the test evaluates nothing */
}

static void test_replicas_draw_what_one_trainer_draws(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = image_data();
    sl_train_options o = image_options();
    o.epochs = 1;
    o.optim.momentum = 0.0f;
    o.shuffle = 0;
    sl_model *alone = image_model();
    train_all(alone, ds, &o);
    /* Two replicas: rank 0 steps first (its reduce returns before the mean), so only rank 1's
     * gradient is the mean; rank 1's weights are the ones to compare. */
    sl_model *m[2] = {image_model(), image_model()};
    pair p = {{NULL, NULL}, {NULL, NULL}, {0, 0}};
    for (int r = 0; r < 2; r++) {
        p.t[r] = sl_trainer_new(m[r], ds, &o, &err);
        assert_non_null(p.t[r]);
        p.grad[r] = sl_model_flat_grads(m[r], NULL);
        sl_train_strategy s = {&p, r, 2, average_reduce, no_eval};
        assert_int_equal(sl_trainer_set_strategy(p.t[r], &s, &err), SL_OK);
    }
    /* Rank 0 takes its half first and leaves its gradient for rank 1 to average; rank 0's
     * own update then uses its half only, so it is not compared. */
    while (!sl_trainer_done(p.t[1])) {
        sl_step_info info;
        assert_int_equal(sl_trainer_step(p.t[0], &info, &err), SL_OK);
        assert_int_equal(sl_trainer_step(p.t[1], &info, &err), SL_OK);
        /* Keep rank 0 in step with the averaged weights for its next gradient. */
        int64_t n;
        float *w0 = sl_model_flat_params(m[0], &n);
        memcpy(w0, sl_model_flat_params(m[1], NULL), (size_t)n * sizeof(float));
    }
    int64_t n;
    const float *want = sl_model_flat_params(alone, &n);
    tu_assert_close(want, sl_model_flat_params(m[1], NULL), n, 1e-5, 1e-4, "replicas vs alone");
    for (int r = 0; r < 2; r++) {
        sl_trainer_free(p.t[r]);
        sl_model_free(m[r]);
    }
    sl_model_free(alone);
    sl_dataset_free(ds);
}

static void test_trainer_refuses_flat_data(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    int64_t in = 2;
    sl_model *m = sl_model_new(1, &in, &err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    lin.out = 3;
    assert_int_equal(sl_model_add(m, &lin, &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 1, &err), SL_OK);
    sl_train_options o = sl_train_defaults();
    o.augment = (sl_augment_spec){0, 0, 0.5f};
    assert_null(sl_trainer_new(m, ds, &o, &err));
    assert_int_equal(err.status, SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, ": augment.flip: needs images [C, H, W], not samples of "
                                        "shape [2]"));
    sl_model_free(m);
    sl_dataset_free(ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_offset_matches_the_reference),
        cmocka_unit_test(test_hand_computed_cases),
        cmocka_unit_test(test_padding_value_per_normalisation),
        cmocka_unit_test(test_probability_edges_and_frequencies),
        cmocka_unit_test(test_draws_are_deterministic),
        cmocka_unit_test(test_check_refusals),
        cmocka_unit_test(test_trainer_augments_and_resumes_exactly),
        cmocka_unit_test(test_replicas_draw_what_one_trainer_draws),
        cmocka_unit_test(test_trainer_refuses_flat_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
