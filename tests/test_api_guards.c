/*
 * test_api_guards.c - every SL_API function given NULL pointers and extreme
 * ranges: a status of SL_ERR_INVALID (or NULL with the error set), 0 / NULL
 * from getters, a no-op from frees and setters -- never a crash.  Run under
 * ASan+UBSan too.  tests/check_api_guards.sh fails when an SL_API function of
 * the public headers is not named here.
 */
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slope/slope.h"

/* status == SL_ERR_INVALID with a message; `E` is the sl_error * to pass. */
#define E (&e_)
#define INVALID(call)                                                                        \
    do {                                                                                     \
        sl_error e_ = {0};                                                                   \
        sl_status s_ = (call);                                                               \
        if (s_ != SL_ERR_INVALID || e_.status != SL_ERR_INVALID || !e_.message[0])           \
            fail_msg("%s: got %s \"%s\"", #call, sl_status_name(s_), e_.message);            \
    } while (0)
/* A constructor: NULL and SL_ERR_INVALID with a message. */
#define NULL_INVALID(call)                                                                   \
    do {                                                                                     \
        sl_error e_ = {0};                                                                   \
        const void *p_ = (call);                                                             \
        if (p_ || e_.status != SL_ERR_INVALID || !e_.message[0])                             \
            fail_msg("%s: got %p %s \"%s\"", #call, p_, sl_status_name(e_.status),           \
                     e_.message);                                                            \
    } while (0)
/* An op: NULL, and the graph's error is `st` (cleared afterwards). */
#define OP_FAILS(g, st, call)                                                                \
    do {                                                                                     \
        assert_null(call);                                                                   \
        assert_int_equal(sl_graph_status(g), (st));                                          \
        sl_graph_clear_error(g);                                                             \
    } while (0)

static const int64_t two3[2] = {2, 3};

/* ---- error, alloc, version, rng ------------------------------------------------------ */

static void test_basics(void **state)
{
    (void)state;
    sl_error_clear(NULL);
    assert_int_equal(sl_error_set(NULL, SL_ERR_IO, "x"), SL_ERR_IO);
    assert_non_null(sl_status_name((sl_status)12345));
    assert_non_null(sl_version());
    sl_alloc_counters(NULL);
    sl_alloc_stats st;
    sl_alloc_counters(&st);
    (void)sl_alloc_reset; /* no pointer or range argument; changes global counters */
    sl_allocator bad = {0};
    INVALID(sl_set_allocator(&bad, E));
    sl_rng_seed(NULL, 1);
    assert_int_equal(sl_rng_u64(NULL), 0);
    assert_true(sl_rng_uniform(NULL) == 0.0f);
    assert_int_equal(sl_rng_below(NULL, 3), 0);
    assert_true(sl_rng_normal(NULL) == 0.0f);
    sl_rng r;
    sl_rng_seed(&r, 1);
    assert_int_equal(sl_rng_below(&r, 0), 0);
    (void)sl_datasets_dir();
    sl_set_num_threads(INT_MIN); /* clamps; must not crash */
    sl_set_num_threads(0);
}

/* sl_default_threads: OMP_NUM_THREADS when it is a positive integer (a list's first value),
 * capped at 64; otherwise (unset, 0, not a number) the affinity mask's CPUs, 1..64. */
static void test_default_threads(void **state)
{
    (void)state;
    char *saved = tu_env_save("OMP_NUM_THREADS");
    unsetenv("OMP_NUM_THREADS");
    int cpus = sl_default_threads();
    assert_true(cpus >= 1 && cpus <= 64);
    setenv("OMP_NUM_THREADS", "3", 1);
    assert_int_equal(sl_default_threads(), 3);
    setenv("OMP_NUM_THREADS", "5,2", 1);
    assert_int_equal(sl_default_threads(), 5);
    setenv("OMP_NUM_THREADS", "100000", 1);
    assert_int_equal(sl_default_threads(), 64);
    const char *ignored[] = {"0", "-2", "two", "3x", ""};
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        setenv("OMP_NUM_THREADS", ignored[i], 1);
        assert_int_equal(sl_default_threads(), cpus);
    }
    tu_env_restore("OMP_NUM_THREADS", saved);
}

/* ---- tensors and graphs ---------------------------------------------------------------- */

static void test_tensor(void **state)
{
    (void)state;
    int64_t size = 0;
    INVALID(sl_shape_size(2, NULL, &size, E));
    INVALID(sl_shape_size(2, two3, NULL, E));
    NULL_INVALID(sl_tensor_new(2, NULL, E));
    float data[6] = {0};
    NULL_INVALID(sl_tensor_wrap(data, 2, NULL, E));
    NULL_INVALID(sl_tensor_wrap(NULL, 2, two3, E));
    sl_tensor_free(NULL);
    sl_tensor_set_requires_grad(NULL, 1);
    INVALID(sl_tensor_ensure_grad(NULL, E));
    sl_tensor_zero_grad(NULL);
    sl_tensor_fill(NULL, 1.0f);
    assert_int_equal(sl_tensor_same_shape(NULL, NULL), 0);
    char buf[8];
    assert_null(sl_shape_str(NULL, NULL, 8));
    assert_ptr_equal(sl_shape_str(NULL, buf, sizeof buf), buf);
    const int64_t huge[2] = {INT64_MAX, INT64_MAX}, neg[2] = {-1, 3};
    sl_error err = {0};
    assert_null(sl_tensor_new(2, huge, &err));
    assert_int_equal(err.status, SL_ERR_NOMEM);
    assert_null(sl_tensor_new(2, neg, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    assert_null(sl_tensor_new(INT_MAX, two3, &err));
}

static void test_graph(void **state)
{
    (void)state;
    sl_graph_free(NULL);
    sl_graph_reset(NULL);
    assert_int_equal(sl_graph_set_grad_enabled(NULL, 1), 0);
    assert_int_equal(sl_graph_grad_enabled(NULL), 0);
    assert_int_equal(sl_graph_set_training(NULL, 1), 0);
    assert_int_equal(sl_graph_training(NULL), 0);
    assert_int_equal(sl_graph_set_grad_over_data(NULL, 1), 0);
    assert_int_equal(sl_graph_grad_over_data(NULL), 0);
    sl_graph *og = sl_graph_new(0, NULL);
    assert_non_null(og);
    assert_int_equal(sl_graph_grad_over_data(og), 0); /* off unless asked for */
    assert_int_equal(sl_graph_set_grad_over_data(og, 7), 0);
    assert_int_equal(sl_graph_grad_over_data(og), 1);
    assert_int_equal(sl_graph_set_grad_over_data(og, 0), 1);
    sl_graph_free(og);
    assert_int_equal(sl_graph_set_precision(NULL, SL_PRECISION_BF16), SL_PRECISION_FP32);
    assert_int_equal(sl_graph_precision(NULL), SL_PRECISION_FP32);
    assert_string_equal(sl_precision_name((sl_precision)-1), "?");
    sl_precision prec = SL_PRECISION_BF16;
    assert_int_equal(sl_precision_parse(NULL, &prec, NULL), SL_ERR_INVALID);
    assert_int_equal(sl_precision_parse("fp32", NULL, NULL), SL_ERR_INVALID);
    assert_int_equal(prec, SL_PRECISION_BF16); /* untouched on an error */
    int bf16 = sl_bf16_supported();
    assert_true(bf16 == 0 || bf16 == 1);
    assert_int_equal(sl_bf16_supported(), bf16); /* checked once, the same answer after */
    assert_null(sl_graph_rng(NULL));
    assert_int_equal(sl_graph_status(NULL), SL_ERR_INVALID);
    assert_non_null(sl_graph_errmsg(NULL));
    INVALID(sl_graph_take_error(NULL, E));
    sl_graph_clear_error(NULL);
    assert_int_equal(sl_backward(NULL, NULL), SL_ERR_INVALID);
    assert_int_equal(sl_graph_tape_length(NULL), 0);
    assert_int_equal(sl_graph_arena_capacity(NULL), 0);
    assert_int_equal(sl_graph_arena_used(NULL), 0);
    assert_null(sl_graph_tensor(NULL, 2, two3));
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    assert_null(sl_graph_tensor(g, 2, NULL));
    assert_int_equal(sl_backward(g, NULL), SL_ERR_INVALID);
    sl_graph_free(g);
}

/* ---- ops ------------------------------------------------------------------------------- */

static void test_ops_null(void **state)
{
    (void)state;
    sl_graph *g = sl_graph_new(1, NULL);
    const int64_t img[4] = {1, 1, 4, 4};
    sl_tensor *x = sl_graph_tensor(g, 4, img);
    sl_tensor *f = sl_graph_tensor(g, 2, two3);
    assert_non_null(sl_op_name((sl_op_kind)-1));
    /* NULL graph or NULL input: NULL, and no error is recorded. */
    assert_null(sl_matmul(NULL, f, f));
    assert_null(sl_matmul(g, NULL, f));
    assert_null(sl_linear(g, f, NULL, NULL));
    assert_null(sl_conv2d(g, x, NULL, NULL, 1, 0));
    assert_null(sl_max_pool2d(NULL, x, 2, 2, 0));
    assert_null(sl_avg_pool2d(g, NULL, 2, 2, 0));
    assert_null(sl_flatten(g, NULL));
    assert_null(sl_add(g, f, NULL));
    assert_null(sl_mul(g, NULL, f));
    assert_null(sl_dropout(g, NULL, 0.5f));
    assert_null(sl_batch_norm(g, NULL, NULL, NULL, NULL, NULL, 0.1f, 1e-5f));
    assert_null(sl_relu(g, NULL));
    assert_null(sl_leaky_relu(g, NULL, 0.1f));
    assert_null(sl_leaky_relu_(g, NULL, 0.1f));
    assert_null(sl_relu_(g, NULL));
    assert_null(sl_prelu(g, f, NULL));
    assert_null(sl_rrelu(g, NULL, 0.1f, 0.2f));
    assert_null(sl_elu(g, NULL, 1.0f));
    assert_null(sl_selu(g, NULL));
    assert_null(sl_sigmoid(g, NULL));
    assert_null(sl_tanh(g, NULL));
    assert_null(sl_gelu(g, NULL));
    assert_null(sl_mse(g, f, NULL));
    assert_null(sl_bce_with_logits(g, NULL, f));
    assert_null(sl_rnn(g, NULL, f, f, NULL, NULL, NULL, SL_RNN_TANH, 0.0f, 0, NULL));
    assert_null(sl_rnn(g, f, NULL, f, NULL, NULL, NULL, SL_RNN_TANH, 0.0f, 0, NULL));
    assert_null(sl_graph_randn(NULL, 1, &(int64_t){4}, 0.0f, 1.0f));
    assert_null(sl_graph_randn(g, 1, NULL, 0.0f, 1.0f));
    assert_int_equal(sl_graph_status(g), SL_OK);
    /* NULL labels or running statistics (not a failed earlier op): an error. */
    OP_FAILS(g, SL_ERR_INVALID, sl_cross_entropy(g, f, NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_cross_entropy_smoothed(g, f, NULL, 0.1f));
    OP_FAILS(g, SL_ERR_INVALID, sl_cross_entropy_smoothed(g, f, (int32_t[4]){0}, INFINITY));
    OP_FAILS(g, SL_ERR_INVALID, sl_bce_with_logits(g, f, NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_reshape(g, x, 2, NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_loss(g, f, NULL, SL_LOSS_CROSS_ENTROPY));
    assert_null(sl_batch_norm(g, f, NULL, NULL, NULL, NULL, 0.1f, 1e-5f));
    sl_graph_clear_error(g);
    sl_graph_free(g);
}

static void test_ops_ranges(void **state)
{
    (void)state;
    sl_graph *g = sl_graph_new(1, NULL);
    const int64_t img[4] = {1, 1, 4, 4};
    sl_tensor *x = sl_graph_tensor(g, 4, img);
    const int big = 1 << 30;
    /* A 2^30 kernel does not fit a 4x4 image, with or without padding. */
    OP_FAILS(g, SL_ERR_SHAPE, sl_max_pool2d(g, x, big, 1, big / 2));
    OP_FAILS(g, SL_ERR_SHAPE, sl_avg_pool2d(g, x, big, 1, big / 2));
    OP_FAILS(g, SL_ERR_SHAPE, sl_max_pool2d(g, x, big, big, 0));
    assert_non_null(sl_max_pool2d(g, x, 2, big, 0)); /* one window, as torch */
    OP_FAILS(g, SL_ERR_SHAPE, sl_avg_pool2d(g, x, INT_MAX, INT_MAX, INT_MAX / 2));
    OP_FAILS(g, SL_ERR_SHAPE, sl_max_pool2d(g, x, -1, 1, 0));
    OP_FAILS(g, SL_ERR_SHAPE, sl_conv2d(g, x, x, NULL, INT_MAX, INT_MAX));
    const int64_t neg[2] = {-1, 16};
    OP_FAILS(g, SL_ERR_SHAPE, sl_reshape(g, x, 2, neg));
    OP_FAILS(g, SL_ERR_SHAPE, sl_reshape(g, x, INT_MAX, neg));
    /* rnn: x[1, 2, 3] with W_ih[2, 3] and W_hh[2, 2] fits; a 4-d input, a bad recurrent
     * weight, an unknown activation, a NaN alpha and prelu without slopes do not. */
    sl_tensor *seq = sl_graph_tensor(g, 3, (int64_t[]){1, 2, 3});
    sl_tensor *wih = sl_graph_tensor(g, 2, (int64_t[]){2, 3});
    sl_tensor *whh = sl_graph_tensor(g, 2, (int64_t[]){2, 2});
    OP_FAILS(g, SL_ERR_SHAPE, sl_rnn(g, x, wih, whh, NULL, NULL, NULL, SL_RNN_TANH, 0, 0, NULL));
    OP_FAILS(g, SL_ERR_SHAPE, sl_rnn(g, seq, wih, wih, NULL, NULL, NULL, SL_RNN_TANH, 0, 0, NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_rnn(g, seq, wih, whh, NULL, NULL, NULL, (sl_rnn_act)9, 0, 0,
                                       NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_rnn(g, seq, wih, whh, NULL, NULL, NULL, SL_RNN_LEAKY_RELU,
                                       NAN, 0, NULL));
    OP_FAILS(g, SL_ERR_INVALID, sl_rnn(g, seq, wih, whh, NULL, NULL, NULL, SL_RNN_PRELU, 0, 0,
                                       NULL));
    assert_non_null(sl_rnn(g, seq, wih, whh, NULL, NULL, NULL, SL_RNN_RELU, 0, 1, NULL));
    /* NaN or infinite slopes and eps. */
    OP_FAILS(g, SL_ERR_INVALID, sl_elu(g, x, NAN));
    OP_FAILS(g, SL_ERR_INVALID, sl_elu(g, x, INFINITY));
    OP_FAILS(g, SL_ERR_INVALID, sl_leaky_relu(g, x, NAN));
    OP_FAILS(g, SL_ERR_INVALID, sl_leaky_relu(g, x, -INFINITY));
    OP_FAILS(g, SL_ERR_INVALID, sl_rrelu(g, x, 0.1f, INFINITY));
    OP_FAILS(g, SL_ERR_INVALID, sl_dropout(g, x, NAN));
    sl_tensor *c = sl_graph_tensor(g, 1, (const int64_t[]){1});
    OP_FAILS(g, SL_ERR_SHAPE, sl_batch_norm(g, x, NULL, NULL, c, c, 0.1f, INFINITY));
    OP_FAILS(g, SL_ERR_SHAPE, sl_batch_norm(g, x, NULL, NULL, c, c, NAN, 1e-5f));
    assert_non_null(sl_elu(g, x, 1.0f));
    sl_graph_free(g);
}

/* ---- layers and models ----------------------------------------------------------------- */

static sl_model *small_model(void)
{
    const int64_t in[1] = {3};
    sl_model *m = sl_model_new(1, in, NULL);
    assert_non_null(m);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    lin.out = 2;
    assert_int_equal(sl_model_add(m, &lin, NULL), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_PYTORCH, 1, NULL), SL_OK);
    return m;
}

static void test_layers(void **state)
{
    (void)state;
    assert_non_null(sl_init_name((sl_init_kind)-1));
    sl_init_kind ik;
    INVALID(sl_init_parse(NULL, &ik, E));
    INVALID(sl_init_parse("pytorch", NULL, E));
    assert_null(sl_layer_def_of((sl_layer_type)-1));
    assert_null(sl_layer_def_of(SL_LAYER_TYPE_COUNT));
    assert_null(sl_layer_def_find(NULL));
    (void)sl_layer_defaults((sl_layer_type)-1);
    assert_non_null(sl_layer_type_name((sl_layer_type)12345));
    sl_layer_type lt;
    sl_layer_spec spec;
    INVALID(sl_layer_type_parse(NULL, &lt, E));
    INVALID(sl_layer_type_parse("relu", NULL, E));
    assert_int_equal(sl_layer_is_activation((sl_layer_type)-1), 0);
    assert_int_equal(sl_layer_activation_of(NULL), SL_LAYER_TYPE_COUNT);
    spec = sl_layer_defaults((sl_layer_type)-1);
    assert_int_equal(sl_layer_activation_of(&spec), SL_LAYER_TYPE_COUNT);
    spec.type = (sl_layer_type)12345;
    assert_int_equal(sl_layer_activation_of(&spec), SL_LAYER_TYPE_COUNT);
    INVALID(sl_layer_spec_check(NULL, E));
    INVALID(sl_layer_spec_parse(NULL, &spec, E));
    INVALID(sl_layer_spec_parse("relu", NULL, E));
    spec = sl_layer_defaults(SL_LAYER_ELU);
    spec.alpha = NAN;
    assert_int_not_equal(sl_layer_spec_check(&spec, NULL), SL_OK);
    spec = sl_layer_defaults(SL_LAYER_LEAKY_RELU);
    spec.alpha = INFINITY;
    assert_int_not_equal(sl_layer_spec_check(&spec, NULL), SL_OK);
    spec = sl_layer_defaults(SL_LAYER_PRELU);
    spec.alpha = NAN;
    assert_int_not_equal(sl_layer_spec_check(&spec, NULL), SL_OK);
    spec = sl_layer_defaults(SL_LAYER_MAX_POOL2D);
    spec.kernel = 1 << 30;
    assert_int_not_equal(sl_layer_spec_check(&spec, NULL), SL_OK);
    char buf[16];
    assert_null(sl_layer_short_form(SL_LAYER_RELU, NULL, 16));
    (void)sl_layer_short_form((sl_layer_type)-1, buf, sizeof buf);
    (void)sl_layer_activation_names(NULL, 4); /* the count */
    char *md = sl_layer_reference_markdown();
    assert_non_null(md);
    free(md);
}

static void test_model(void **state)
{
    (void)state;
    NULL_INVALID(sl_model_new(1, NULL, E));
    const int64_t in[1] = {3};
    assert_null(sl_model_new(INT_MAX, in, NULL));
    sl_model_free(NULL);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    INVALID(sl_model_add(NULL, &lin, E));
    INVALID(sl_model_init(NULL, SL_INIT_PYTORCH, 1, E));
    assert_null(sl_model_forward(NULL, NULL, NULL));
    INVALID(sl_model_set_input_normalize(NULL, SL_NORMALIZE_NONE, 0, 1, E));
    double mean, sd;
    assert_int_equal(sl_model_input_normalize(NULL, &mean, &sd), SL_NORMALIZE_NONE);
    assert_int_equal(sl_model_num_layers(NULL), 0);
    assert_null(sl_model_layer(NULL, 0));
    int64_t shape[4];
    assert_int_equal(sl_model_layer_shape(NULL, 0, shape), 0);
    assert_int_equal(sl_model_output_shape(NULL, shape), 0);
    assert_int_equal(sl_model_layer_flops(NULL, 0), 0);
    assert_int_equal(sl_model_layer_param_count(NULL, 0), 0);
    assert_int_equal(sl_model_num_params(NULL), 0);
    assert_null(sl_model_param(NULL, 0));
    assert_null(sl_model_find_param(NULL, "x"));
    assert_int_equal(sl_model_param_count(NULL), 0);
    int64_t n = 7;
    assert_null(sl_model_flat_params(NULL, &n));
    assert_null(sl_model_flat_grads(NULL, &n));
    sl_model_zero_grad(NULL);
    sl_model_set_trainable(NULL, 0);
    assert_int_equal(sl_model_trainable(NULL), 0);
    sl_model_set_capture(NULL, 1);
    assert_null(sl_model_captured(NULL, 0));
    assert_null(sl_model_captured_output(NULL, 0));
    INVALID(sl_model_end_block(NULL, E));
    assert_null(sl_model_layer_name(NULL, 0));
    assert_int_equal(sl_model_layer_parent(NULL, 0), -1);
    assert_int_equal(sl_model_layer_input_shape(NULL, 0, shape), 0);

    sl_model *m = small_model();
    INVALID(sl_model_add(m, NULL, E));
    INVALID(sl_model_set_input_normalize(m, (sl_normalize)99, 0, 1, E));
    INVALID(sl_model_set_input_normalize(m, SL_NORMALIZE_STANDARDIZE, NAN, 1, E));
    (void)sl_model_input_normalize(m, NULL, NULL);
    assert_null(sl_model_layer(m, SIZE_MAX));
    /* shape may be NULL: the rank alone. */
    assert_int_equal(sl_model_layer_shape(m, 0, NULL), 1);
    assert_int_equal(sl_model_output_shape(m, NULL), 1);
    assert_int_equal(sl_model_layer_shape(m, INT_MAX, shape), 0);
    assert_int_equal(sl_model_layer_shape(m, INT_MIN, shape), 0);
    assert_int_equal(sl_model_layer_flops(m, SIZE_MAX), 0);
    assert_int_equal(sl_model_layer_param_count(m, SIZE_MAX), 0);
    assert_null(sl_model_param(m, SIZE_MAX));
    assert_null(sl_model_find_param(m, NULL));
    assert_non_null(sl_model_flat_params(m, NULL));
    assert_null(sl_model_captured(m, SIZE_MAX));
    assert_null(sl_model_captured_output(m, SIZE_MAX));
    assert_null(sl_model_layer_name(m, SIZE_MAX));
    assert_int_equal(sl_model_layer_parent(m, SIZE_MAX), -1);
    assert_int_equal(sl_model_layer_input_shape(m, SIZE_MAX, shape), 0);
    assert_int_equal(sl_model_layer_input_shape(m, 0, NULL), 1);
    assert_int_equal(sl_model_end_block(m, NULL), SL_ERR_STATE); /* initialised, none open */
    sl_graph *g = sl_graph_new(1, NULL);
    assert_null(sl_model_forward(m, g, NULL));
    assert_null(sl_model_forward(m, NULL, NULL));
    sl_graph_free(g);
    sl_model_free(m);
}

/* ---- data -------------------------------------------------------------------------------- */

static sl_dataset *small_data(void)
{
    static const float xs[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    static const int32_t ys[4] = {0, 1, 0, 1};
    const int64_t shape[1] = {3};
    sl_dataset *ds = sl_dataset_from_arrays(xs, ys, 4, 1, shape, 2, NULL);
    assert_non_null(ds);
    return ds;
}

static void test_data(void **state)
{
    (void)state;
    NULL_INVALID(sl_dataset_load_idx(NULL, "x", 10, E));
    NULL_INVALID(sl_dataset_load_idx("x", NULL, 10, E));
    NULL_INVALID(sl_dataset_load_csv(NULL, 2, E));
    NULL_INVALID(sl_dataset_spiral(3, INT64_MAX, 0.1f, 1, E));
    NULL_INVALID(sl_dataset_spiral(3, -1, 0.1f, 1, E));
    NULL_INVALID(sl_dataset_spiral(3, 10, NAN, 1, E));
    const int64_t shape[1] = {3};
    static const int32_t ys[4] = {0};
    NULL_INVALID(sl_dataset_from_arrays(NULL, ys, 4, 1, shape, 2, E));
    NULL_INVALID(sl_dataset_from_arrays((const float[12]){0}, NULL, 4, 1, shape, 2, E));
    NULL_INVALID(sl_dataset_from_arrays((const float[12]){0}, ys, 4, 1, NULL, 2, E));
    NULL_INVALID(sl_dataset_from_arrays((const float[12]){0}, ys, INT64_MIN, 1, shape, 2, E));
    NULL_INVALID(sl_dataset_open(NULL, NULL, "train", E));
    sl_dataset_free(NULL);
    assert_non_null(sl_dataset_name(NULL)); /* "?" */
    assert_int_equal(sl_dataset_count(NULL), 0);
    int64_t sh[3];
    assert_int_equal(sl_dataset_shape(NULL, sh), 0);
    assert_int_equal(sl_dataset_sample_size(NULL), 0);
    assert_int_equal(sl_dataset_num_classes(NULL), 0);
    (void)sl_dataset_type(NULL);
    assert_int_equal(sl_dataset_label(NULL, 0), -1);
    assert_null(sl_dataset_class_name(NULL, 0));
    assert_null(sl_dataset_storage(NULL));
    assert_null(sl_dataset_storage_labels(NULL));
    INVALID(sl_dataset_reshape(NULL, 1, shape, E));
    INVALID(sl_dataset_set_normalize(NULL, SL_NORMALIZE_NONE, 0, 1, E));
    double mean, sd;
    assert_int_equal(sl_dataset_normalize(NULL, &mean, &sd), SL_NORMALIZE_NONE);
    INVALID(sl_dataset_mean_std(NULL, &mean, &sd, E));
    sl_normalize nk;
    INVALID(sl_normalize_parse(NULL, &nk, E));
    INVALID(sl_normalize_parse("none", NULL, E));
    assert_non_null(sl_normalize_name((sl_normalize)99));
    sl_normalize_values(SL_NORMALIZE_NONE, 0, 1, NULL, NULL, 4);
    sl_dataset *tr, *va;
    INVALID(sl_dataset_split(NULL, 0.5, 1, &tr, &va, E));
    NULL_INVALID(sl_dataset_subset(NULL, 1, E));
    /* The budget and line limit: 0 restores the default, extreme values are kept as caps. */
    sl_data_set_memory_budget(UINT64_MAX);
    assert_true(sl_data_memory_budget() == UINT64_MAX);
    sl_data_set_memory_budget(0); /* the default again: from the machine, which moves */
    uint64_t budget = sl_data_memory_budget();
    assert_true(budget > 0 && budget < UINT64_MAX);
    uint64_t line = sl_data_max_line();
    sl_data_set_max_line(UINT64_MAX);
    assert_true(sl_data_max_line() == UINT64_MAX);
    sl_data_set_max_line(0);
    assert_true(sl_data_max_line() == line);
    INVALID(sl_dataset_check_input(NULL, 1, shape, E));
    sl_error err = {0};
    sl_dataset *flat = sl_dataset_from_arrays((const float[12]){0}, ys, 4, 1, shape, 2, &err);
    assert_non_null(flat);
    INVALID(sl_dataset_check_input(flat, 1, NULL, E));
    assert_int_not_equal(sl_dataset_check_input(flat, -1, shape, &err), SL_OK);
    assert_int_not_equal(sl_dataset_check_input(flat, INT32_MAX, shape, &err), SL_OK);
    const int64_t wrong[1] = {INT64_MAX};
    assert_int_equal(sl_dataset_check_input(flat, 1, wrong, &err), SL_ERR_SHAPE);
    assert_int_equal(sl_dataset_check_input(flat, 1, shape, &err), SL_OK);
    sl_dataset_free(flat);
    float x[12];
    INVALID(sl_dataset_read(NULL, 0, 1, x, NULL, E));

    sl_dataset *ds = small_data();
    assert_int_equal(sl_dataset_shape(ds, NULL), 1);
    assert_int_equal(sl_dataset_label(ds, INT64_MAX), -1);
    assert_int_equal(sl_dataset_label(ds, -1), -1);
    assert_null(sl_dataset_class_name(ds, INT_MAX));
    assert_null(sl_dataset_class_name(ds, -1));
    INVALID(sl_dataset_reshape(ds, 1, NULL, E));
    assert_int_equal(sl_dataset_reshape(ds, INT_MAX, shape, NULL), SL_ERR_SHAPE);
    INVALID(sl_dataset_set_normalize(ds, (sl_normalize)99, 0, 1, E));
    INVALID(sl_dataset_set_normalize(ds, SL_NORMALIZE_STANDARDIZE, NAN, 1, E));
    (void)sl_dataset_normalize(ds, NULL, NULL);
    INVALID(sl_dataset_mean_std(ds, NULL, &sd, E));
    INVALID(sl_dataset_split(ds, 0.5, 1, NULL, &va, E));
    INVALID(sl_dataset_split(ds, NAN, 1, &tr, &va, E));
    NULL_INVALID(sl_dataset_subset(ds, -1, E));
    NULL_INVALID(sl_dataset_subset(ds, INT64_MAX, E));
    INVALID(sl_dataset_read(ds, 0, 1, NULL, NULL, E));
    INVALID(sl_dataset_read(ds, INT64_MAX, 1, x, NULL, E));
    INVALID(sl_dataset_read(ds, INT64_MAX, INT64_MAX, x, NULL, E));
    INVALID(sl_dataset_read(ds, -1, 1, x, NULL, E));
    INVALID(sl_dataset_read(ds, 0, INT64_MAX, x, NULL, E));
    INVALID(sl_dataset_read(ds, 0, -1, x, NULL, E));

    sl_batch_options bo = {2, 1, 1, 0};
    NULL_INVALID(sl_batch_iter_new(NULL, &bo, E));
    NULL_INVALID(sl_batch_iter_new(ds, NULL, E));
    sl_batch_options huge = {INT64_MAX, 1, 1, 1};
    NULL_INVALID(sl_batch_iter_new(ds, &huge, E));
    sl_batch_iter_free(NULL);
    int64_t n, ep, b;
    int32_t lab[2];
    INVALID(sl_batch_iter_next(NULL, x, lab, &n, E));
    assert_int_equal(sl_batch_iter_batches(NULL), 0);
    sl_batch_iter_position(NULL, &ep, &b);
    assert_int_equal(ep, 0);
    INVALID(sl_batch_iter_seek(NULL, 0, 0, E));
    sl_batch_iter *it = sl_batch_iter_new(ds, &bo, NULL);
    assert_non_null(it);
    INVALID(sl_batch_iter_next(it, NULL, lab, &n, E));
    INVALID(sl_batch_iter_next(it, x, NULL, &n, E));
    INVALID(sl_batch_iter_next(it, x, lab, NULL, E));
    sl_batch_iter_position(it, NULL, NULL);
    INVALID(sl_batch_iter_seek(it, INT64_MAX, 0, E));
    INVALID(sl_batch_iter_seek(it, -1, 0, E));
    INVALID(sl_batch_iter_seek(it, 0, INT64_MAX, E));
    INVALID(sl_batch_iter_seek(it, 0, -1, E));
    assert_int_equal(sl_batch_iter_seek(it, INT_MAX, 1, NULL), SL_OK);
    sl_batch_iter_free(it);
    /* Augmentation: NULL, bad shapes, overflowing sizes, a draw past the padded image. */
    sl_augment_spec aug = {1, 1, 0.5f}, wild = {1, -5, 0.5f};
    sl_augment_where where = {1, 0, 0, 0};
    int64_t img[3] = {1, 2, 2}, zero[3] = {1, 0, 2}, huge3[3] = {INT32_MAX, INT32_MAX, INT32_MAX};
    float pix[4] = {1, 2, 3, 4}, scr[4];
    assert_int_equal(sl_augment_active(NULL), 0);
    INVALID(sl_augment_check(NULL, 3, img, E));
    INVALID(sl_augment_check(&aug, 3, NULL, E));
    INVALID(sl_augment_check(&aug, 0, img, E));
    INVALID(sl_augment_check(&aug, 4, img, E));
    INVALID(sl_augment_check(&aug, 3, zero, E));
    assert_true(sl_augment_pad_value(NULL) == 0.0f);
    assert_int_equal(sl_augment_draw_for(NULL, &where, 0).flip, 0);
    assert_int_equal(sl_augment_draw_for(&aug, NULL, 0).dy, 0);
    assert_int_equal(sl_augment_draw_for(&wild, &where, INT64_MAX).dx, 0);
    sl_augment_image(NULL, (sl_augment_draw){0, 0, 1}, pix, 1, 2, 2, 0.0f, scr);
    sl_augment_image(&aug, (sl_augment_draw){0, 0, 1}, NULL, 1, 2, 2, 0.0f, scr);
    sl_augment_image(&aug, (sl_augment_draw){0, 0, 1}, pix, 1, 2, 2, 0.0f, NULL);
    sl_augment_image(&aug, (sl_augment_draw){0, 0, 1}, pix, 0, -1, 2, 0.0f, scr);
    sl_augment_image(&aug, (sl_augment_draw){INT32_MAX, INT32_MIN, 1}, pix, 1, 2, 2, 7.0f, scr);
    for (int i = 0; i < 4; i++)
        assert_true(pix[i] == 7.0f); /* a window off the image: all padding */
    INVALID(sl_augment_batch(NULL, &where, pix, 1, img, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, NULL, pix, 1, img, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, &where, NULL, 1, img, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, &where, pix, 1, NULL, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, &where, pix, 1, img, 0.0f, NULL, E));
    INVALID(sl_augment_batch(&aug, &where, pix, -1, img, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, &where, pix, INT64_MAX, huge3, 0.0f, scr, E));
    INVALID(sl_augment_batch(&aug, &where, pix, 1, zero, 0.0f, scr, E));
    sl_dataset_free(ds);
}

/* ---- optimizers and schedules ------------------------------------------------------------ */

static void test_optim(void **state)
{
    (void)state;
    (void)sl_optim_defaults((sl_optim_kind)-1);
    assert_non_null(sl_optim_name((sl_optim_kind)99));
    sl_optim_kind ok;
    INVALID(sl_optim_parse(NULL, &ok, E));
    INVALID(sl_optim_parse("sgd", NULL, E));
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_ADAM);
    NULL_INVALID(sl_optimizer_new(NULL, 1, &spec, E));
    sl_model *m = small_model();
    NULL_INVALID(sl_optimizer_new(sl_model_param(m, 0), 1, NULL, E));
    sl_optimizer_free(NULL);
    INVALID(sl_optimizer_step(NULL, 0.1f, E));
    assert_true(sl_optimizer_last_grad_norm(NULL) == 0.0f);
    assert_int_equal(sl_optimizer_steps(NULL), 0);
    assert_null(sl_optimizer_spec(NULL));
    assert_int_equal(sl_optimizer_state_count(NULL), 0);
    const char *name = "x";
    assert_null(sl_optimizer_state(NULL, 0, &name));
    sl_optimizer_set_steps(NULL, 5);

    sl_optimizer *opt = sl_optimizer_new(sl_model_param(m, 0), sl_model_num_params(m), &spec,
                                         NULL);
    assert_non_null(opt);
    assert_null(sl_optimizer_state(opt, SIZE_MAX, &name));
    assert_null(name);
    assert_null(sl_optimizer_state(opt, 0, NULL) ? NULL : NULL);
    INVALID(sl_optimizer_step(opt, NAN, E));
    /* Step counts saturate at SL_OPTIM_MAX_STEPS; a step there is refused. */
    sl_optimizer_set_steps(opt, INT64_MAX);
    assert_int_equal(sl_optimizer_steps(opt), SL_OPTIM_MAX_STEPS);
    INVALID(sl_optimizer_step(opt, 0.1f, E));
    assert_int_equal(sl_optimizer_steps(opt), SL_OPTIM_MAX_STEPS);
    sl_optimizer_set_steps(opt, INT64_MIN);
    assert_int_equal(sl_optimizer_steps(opt), 0);
    sl_optimizer_set_steps(opt, SL_OPTIM_MAX_STEPS - 1);
    assert_int_equal(sl_optimizer_step(opt, 0.1f, NULL), SL_OK);
    sl_optimizer_free(opt);
    double score;
    float xs[8] = {0};
    INVALID(sl_classifier_score(NULL, xs, 1, 1, &score, E));
    INVALID(sl_classifier_score(m, NULL, 1, 1, &score, E));
    INVALID(sl_classifier_score(m, xs, 1, 1, NULL, E));
    INVALID(sl_classifier_score(m, xs, -5, 1, &score, E));
    INVALID(sl_classifier_score(m, xs, 1, INT64_MIN, &score, E));
    sl_model_free(m);

    (void)sl_schedule_defaults((sl_schedule_kind)-1);
    assert_non_null(sl_schedule_name((sl_schedule_kind)99));
    sl_schedule_kind sk;
    INVALID(sl_schedule_parse(NULL, &sk, E));
    INVALID(sl_schedule_parse("cosine", NULL, E));
    (void)sl_schedule_lr(NULL, 0.1f, INT64_MAX, 1, 1);
    for (int k = SL_SCHEDULE_CONSTANT; k <= SL_SCHEDULE_COSINE; k++) {
        sl_schedule_spec s = sl_schedule_defaults((sl_schedule_kind)k);
        s.warmup_epochs = 1;
        float a = sl_schedule_lr(&s, 0.1f, INT64_MAX, INT64_MAX, INT_MAX);
        float b = sl_schedule_lr(&s, 0.1f, -1, 0, -1);
        assert_true(isfinite(a) && isfinite(b));
    }
}

/* ---- training, checkpoints, evaluation --------------------------------------------------- */

static void test_train(void **state)
{
    (void)state;
    sl_loss_kind lk;
    INVALID(sl_loss_parse(NULL, &lk, E));
    INVALID(sl_loss_parse("mse", NULL, E));
    assert_non_null(sl_loss_name((sl_loss_kind)99));
    (void)sl_train_defaults();
    sl_model *m = small_model();
    sl_dataset *ds = small_data();
    sl_train_options o = sl_train_defaults();
    o.batch_size = 2;
    NULL_INVALID(sl_trainer_new(NULL, ds, &o, E));
    NULL_INVALID(sl_trainer_new(m, NULL, &o, E));
    /* Invalid enums and ranges in the options are refused. */
    sl_train_options bad = o;
    bad.loss = (sl_loss_kind)99;
    sl_error ce = {0};
    assert_null(sl_trainer_new(m, ds, &bad, &ce));
    assert_int_equal(ce.status, SL_ERR_CONFIG); /* "unknown loss kind 99" */
    bad = o;
    bad.schedule.kind = (sl_schedule_kind)99;
    assert_null(sl_trainer_new(m, ds, &bad, &ce));
    assert_int_equal(ce.status, SL_ERR_CONFIG);
    bad = o;
    bad.optim.kind = (sl_optim_kind)-1;
    assert_null(sl_trainer_new(m, ds, &bad, &ce));
    bad = o;
    bad.batch_size = -1;
    assert_null(sl_trainer_new(m, ds, &bad, &ce));

    sl_trainer_free(NULL);
    sl_step_info info;
    INVALID(sl_trainer_step(NULL, &info, E));
    sl_epoch_result er;
    INVALID(sl_trainer_run_epoch(NULL, NULL, NULL, &er, E));
    INVALID(sl_trainer_set_strategy(NULL, NULL, E));
    assert_null(sl_trainer_strategy(NULL));
    assert_int_equal(sl_trainer_epoch(NULL), 0);
    assert_int_equal(sl_trainer_steps(NULL), 0);
    (void)sl_trainer_done(NULL);
    assert_null(sl_trainer_optimizer(NULL));
    assert_null(sl_trainer_graph(NULL));
    assert_null(sl_trainer_model(NULL));
    assert_null(sl_trainer_dataset(NULL));
    assert_null(sl_trainer_options(NULL));
    INVALID(sl_trainer_save(NULL, "x", NULL, 0, E));
    INVALID(sl_trainer_load(NULL, "x", E));
    INVALID(sl_model_save(NULL, "x", NULL, 0, E));
    INVALID(sl_model_load(NULL, "x", E));
    sl_optim_spec sgd = sl_optim_defaults(SL_OPTIM_SGD);
    sl_optimizer *opt = sl_optimizer_new(sl_model_param(m, 0), sl_model_num_params(m), &sgd, NULL);
    assert_non_null(opt);
    INVALID(sl_model_save_with_optimizer(NULL, opt, "x", NULL, 0, E));
    INVALID(sl_model_save_with_optimizer(m, NULL, "x", NULL, 0, E));
    INVALID(sl_model_save_with_optimizer(m, opt, NULL, NULL, 0, E));
    INVALID(sl_model_save_with_optimizer(m, opt, "x", NULL, 1, E));
    INVALID(sl_model_load_with_optimizer(NULL, opt, "x", E));
    INVALID(sl_model_load_with_optimizer(m, NULL, "x", E));
    INVALID(sl_model_load_with_optimizer(m, opt, NULL, E));
    sl_optimizer_free(opt);
    sl_eval_result res;
    INVALID(sl_evaluate(NULL, ds, 2, SL_LOSS_CROSS_ENTROPY, &res, E));
    INVALID(sl_evaluate(m, NULL, 2, SL_LOSS_CROSS_ENTROPY, &res, E));
    INVALID(sl_evaluate(m, ds, 2, SL_LOSS_CROSS_ENTROPY, NULL, E));
    INVALID(sl_evaluate(m, ds, -1, SL_LOSS_CROSS_ENTROPY, &res, E));
    INVALID(sl_evaluate(m, ds, 2, (sl_loss_kind)99, &res, E)); /* was SL_OK */
    INVALID(sl_evaluate_sharded(NULL, ds, 2, SL_LOSS_CROSS_ENTROPY, NULL, &res, E));
    INVALID(sl_evaluate_sharded(m, ds, 2, SL_LOSS_CROSS_ENTROPY, NULL, NULL, E));
    INVALID(sl_trainer_evaluate(NULL, ds, &res, E));
    float out[4];
    int32_t cls[2];
    INVALID(sl_predict(NULL, (const float[6]){0}, 2, out, cls, E));
    INVALID(sl_predict(m, NULL, 2, out, cls, E));
    INVALID(sl_predict(m, (const float[6]){0}, -1, out, cls, E));

    sl_trainer *t = sl_trainer_new(m, ds, &o, NULL);
    assert_non_null(t);
    INVALID(sl_trainer_evaluate(t, NULL, &res, E));
    INVALID(sl_trainer_evaluate(t, ds, NULL, E));
    INVALID(sl_trainer_save(t, NULL, NULL, 0, E));
    INVALID(sl_trainer_save(t, "x.safetensors", NULL, 2, E));
    const sl_kv nullkey[1] = {{NULL, "v"}};
    INVALID(sl_trainer_save(t, "x.safetensors", nullkey, 1, E));
    INVALID(sl_model_save(m, "x.safetensors", NULL, 3, E));
    INVALID(sl_model_save(m, "x.safetensors", nullkey, 1, E));
    INVALID(sl_trainer_load(t, NULL, E));
    INVALID(sl_model_load(m, NULL, E));
    INVALID(sl_trainer_step(t, NULL, E));
    assert_int_equal(sl_trainer_step(t, &info, NULL), SL_OK);
    sl_train_strategy bad_s = {0};
    INVALID(sl_trainer_set_strategy(t, &bad_s, E));
    sl_trainer_free(t);
    sl_dataset_free(ds);
    sl_model_free(m);
}

/* ---- configs, safetensors, statistics ---------------------------------------------------- */

#define MINIMAL                                                                              \
    "{\"data\":{\"dataset\":\"spiral\"},\"model\":{\"input\":[2],\"layers\":["            \
    "{\"type\":\"linear\",\"out\":3}]}}"

static void test_config_io(void **state)
{
    (void)state;
    /* slope/export_model.h */
    NULL_INVALID(sl_checkpoint_model(NULL, NULL, NULL, E));
    char tn[16];
    assert_null(sl_torch_name(NULL, tn, sizeof tn));
    assert_null(sl_torch_name("layers.1.weight", NULL, 4));
    assert_null(sl_torch_name("layers.1.weight", tn, 0));
    assert_string_equal(sl_torch_name("layers.1.weight", tn, sizeof tn), "1.weight");
    assert_string_equal(sl_torch_name("layers.12.running_mean", tn, 5), "12.r");
    INVALID(sl_export_torch(NULL, "x.safetensors", E));
    INVALID(sl_model_init_from(NULL, "x.safetensors", E));
    INVALID(sl_export_onnx(NULL, NULL, "x.onnx", E));
    {
        int64_t in2 = 2;
        sl_model *om = sl_model_new(1, &in2, NULL);
        sl_layer_spec ol = sl_layer_defaults(SL_LAYER_RELU);
        assert_int_equal(sl_model_add(om, &ol, NULL), SL_OK);
        sl_onnx_options neg = {.batch = INT64_MIN}, soft = {.softmax = -1};
        INVALID(sl_export_onnx(om, NULL, NULL, E));
        INVALID(sl_export_onnx(om, &neg, "x.onnx", E));
        INVALID(sl_export_onnx(om, &soft, "x.onnx", E));
        sl_model_free(om);
    }
    NULL_INVALID(sl_config_load(NULL, NULL, 0, E));
    NULL_INVALID(sl_config_load("x.json", NULL, 2, E));
    NULL_INVALID(sl_config_load_file(NULL, E));
    NULL_INVALID(sl_config_parse(NULL, "t", NULL, 0, E));
    NULL_INVALID(sl_config_parse(MINIMAL, "t", NULL, 1, E));
    const char *nullov[1] = {NULL};
    NULL_INVALID(sl_config_parse(MINIMAL, "t", nullov, 1, E));
    NULL_INVALID(sl_config_load_string(NULL, "t", E));
    sl_config_free(NULL);
    assert_null(sl_config_to_json(NULL));
    NULL_INVALID(sl_config_build_model(NULL, E));
    sl_config *cfg = sl_config_load_string(MINIMAL, NULL, NULL);
    assert_non_null(cfg);
    sl_config_free(cfg);

    const int64_t one[1] = {1};
    sl_tensor *t = sl_tensor_new(1, one, NULL);
    sl_named_tensor nt = {"w", t};
    INVALID(sl_safetensors_write(NULL, &nt, 1, NULL, 0, E));
    INVALID(sl_safetensors_write("g.safetensors", NULL, 1, NULL, 0, E));
    INVALID(sl_safetensors_write("g.safetensors", &nt, 1, NULL, 1, E));
    sl_named_tensor noname = {NULL, t}, notensor = {"w", NULL};
    INVALID(sl_safetensors_write("g.safetensors", &noname, 1, NULL, 0, E));
    INVALID(sl_safetensors_write("g.safetensors", &notensor, 1, NULL, 0, E));
    NULL_INVALID(sl_safetensors_read(NULL, E));
    sl_safetensors_free(NULL);
    assert_int_equal(sl_safetensors_count(NULL), 0);
    assert_null(sl_safetensors_at(NULL, 0).name);
    assert_null(sl_safetensors_get(NULL, "w"));
    assert_int_equal(sl_safetensors_metadata_count(NULL), 0);
    assert_null(sl_safetensors_metadata_at(NULL, 0).key);
    assert_null(sl_safetensors_metadata(NULL, "k"));
    INVALID(sl_safetensors_load_into(NULL, "w", t, E));
    assert_int_equal(sl_safetensors_write("g.safetensors", &nt, 1, NULL, 0, NULL), SL_OK);
    sl_safetensors *st = sl_safetensors_read("g.safetensors", NULL);
    assert_non_null(st);
    assert_null(sl_safetensors_at(st, SIZE_MAX).name);
    assert_null(sl_safetensors_get(st, NULL));
    assert_null(sl_safetensors_metadata_at(st, SIZE_MAX).key);
    assert_null(sl_safetensors_metadata(st, NULL));
    INVALID(sl_safetensors_load_into(st, NULL, t, E));
    INVALID(sl_safetensors_load_into(st, "w", NULL, E));
    sl_safetensors_free(st);
    remove("g.safetensors");
    sl_tensor_free(t);
}

static void test_stats(void **state)
{
    (void)state;
    sl_dataset *ds = small_data();
    sl_model *m = small_model();
    NULL_INVALID(sl_stats_new(NULL, ds, 2, SL_LOSS_CROSS_ENTROPY, E));
    NULL_INVALID(sl_stats_new(m, NULL, 2, SL_LOSS_CROSS_ENTROPY, E));
    NULL_INVALID(sl_stats_new(m, ds, INT64_MIN, SL_LOSS_CROSS_ENTROPY, E));
    NULL_INVALID(sl_stats_new(m, ds, 2, (sl_loss_kind)99, E));
    sl_stats_free(NULL);
    INVALID(sl_stats_measure(NULL, 0, 0, E));
    INVALID(sl_stats_share_graph(NULL, NULL, E));
    assert_int_equal(sl_stats_reports(NULL), 0);
    assert_int_equal(sl_stats_epoch(NULL), 0);
    assert_int_equal(sl_stats_step(NULL), 0);
    assert_int_equal(sl_stats_probe_count(NULL), 0);
    assert_int_equal(sl_stats_num_layers(NULL), 0);
    assert_null(sl_stats_layer(NULL, 0));
    assert_null(sl_stats_dead_mask(NULL, 0));
    assert_null(sl_stats_unit_grad(NULL, 0));
    assert_null(sl_stats_alpha(NULL, 0));
    char text[64];
    assert_null(sl_stats_summary_line(NULL, 0, text, sizeof text));
    assert_null(sl_stats_unit_word((sl_layer_type)-1));
    assert_null(sl_stats_unit_word(SL_LAYER_TYPE_COUNT));
    assert_null(sl_stats_unit_word(SL_LAYER_LINEAR));
    int64_t counts[4];
    INVALID(sl_stats_alpha_histogram(NULL, 0, 0, 1, 4, counts, E));
    sl_stats *s = sl_stats_new(m, ds, 2, SL_LOSS_CROSS_ENTROPY, NULL);
    if (s) {
        assert_null(sl_stats_layer(s, SIZE_MAX));
        assert_null(sl_stats_dead_mask(s, SIZE_MAX));
        assert_null(sl_stats_unit_grad(s, SIZE_MAX));
        assert_null(sl_stats_alpha(s, SIZE_MAX));
        INVALID(sl_stats_alpha_histogram(s, SIZE_MAX, 0, 1, 4, counts, E));
        char line[64] = "untouched";
        assert_null(sl_stats_summary_line(s, SIZE_MAX, line, sizeof line));
        assert_null(sl_stats_summary_line(s, 0, NULL, 64));
        assert_null(sl_stats_summary_line(s, 0, line, 0));
        assert_string_equal(line, "untouched");
        sl_stats_free(s);
    }
    (void)sl_born_dead_defaults();
    sl_born_dead_result r;
    sl_born_dead_spec spec = sl_born_dead_defaults();
    INVALID(sl_born_dead(NULL, &r, E));
    INVALID(sl_born_dead(&spec, NULL, E));
    spec.trials = INT64_MAX;
    spec.width = INT_MAX;
    assert_int_not_equal(sl_born_dead(&spec, &r, NULL), SL_OK);
    double lo, hi;
    (void)sl_born_dead_theory(INT_MAX, INT_MAX, &lo, &hi);
    (void)sl_born_dead_theory(4, 2, NULL, NULL);
    (void)sl_born_dead_theory(-1, -1, &lo, &hi);
    int sizes[2] = {1, 2};
    sl_born_dead_cell cells[4];
    spec = sl_born_dead_defaults();
    INVALID(sl_born_dead_grid(NULL, sizes, 2, sizes, 2, cells, NULL, NULL, E));
    INVALID(sl_born_dead_grid(&spec, NULL, 2, sizes, 2, cells, NULL, NULL, E));
    INVALID(sl_born_dead_grid(&spec, sizes, 2, NULL, 2, cells, NULL, NULL, E));
    INVALID(sl_born_dead_grid(&spec, sizes, 2, sizes, 2, NULL, NULL, NULL, E));
    INVALID(sl_born_dead_grid(&spec, sizes, 0, sizes, 2, cells, NULL, NULL, E));
    INVALID(sl_born_dead_grid(&spec, sizes, 2, sizes, INT_MIN, cells, NULL, NULL, E));
    INVALID(sl_born_dead_write_csv(NULL, cells, 1, E));
    INVALID(sl_born_dead_write_csv("/tmp/x.csv", NULL, 1, E));
    INVALID(sl_born_dead_write_plot(NULL, "p.png", "t", 1, cells, 1, E));
    INVALID(sl_born_dead_write_plot("p.gp", NULL, "t", 1, cells, 1, E));
    INVALID(sl_born_dead_write_plot("p.gp", "p.png", NULL, 1, cells, 1, E));
    INVALID(sl_born_dead_write_plot("p.gp", "p.png", "t", 1, NULL, 1, E));
    INVALID(sl_born_dead_write_plot("p.gp", "p.png", "t", 1, cells, 0, E));
    INVALID(sl_born_dead_write_plot("p.gp", "p'.png", "t", 1, cells, 1, E));
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* ---- runs, comparisons, distribution ----------------------------------------------------- */

/* ---- slope/predict.h ------------------------------------------------------------------ */

static void test_predict(void **state)
{
    (void)state;
    NULL_INVALID(sl_predictor_open(NULL, NULL, NULL, E));
    sl_predictor_free(NULL);
    assert_null(sl_predictor_model(NULL));
    assert_int_equal(sl_predictor_classes(NULL), 0);
    assert_null(sl_predictor_class_name(NULL, 0));
    const char *one[1] = {"x.png"}, *nul[1] = {NULL};
    NULL_INVALID(sl_dataset_load_images(NULL, 1, 1, 4, 3, E));
    NULL_INVALID(sl_dataset_load_images(one, 0, 1, 4, 3, E));
    NULL_INVALID(sl_dataset_load_images(nul, 1, 1, 4, 3, E));
    NULL_INVALID(sl_dataset_load_images(one, 1, 2, 4, 3, E));
    NULL_INVALID(sl_dataset_load_images(one, 1, 1, 0, 3, E));
    NULL_INVALID(sl_dataset_load_images(one, 1, 1, 4, 65536, E));
    NULL_INVALID(sl_dataset_load_images(one, 1, 3, INT64_MIN, INT64_MAX, E));
    NULL_INVALID(sl_predict_load_inputs(NULL, one, 1, E));
    sl_config *cfg = sl_config_load_string(MINIMAL, NULL, NULL);
    sl_model *m = sl_config_build_model(cfg, NULL);
    assert_non_null(m);
    NULL_INVALID(sl_predict_load_inputs(m, NULL, 1, E));
    NULL_INVALID(sl_predict_load_inputs(m, one, 0, E));
    NULL_INVALID(sl_predict_load_inputs(m, nul, 1, E));
    float x[6] = {0}, y[6];
    int32_t cls[2] = {0, 0}, lab[2] = {0, 1};
    int64_t shape[1] = {3};
    sl_dataset *ds = sl_dataset_from_arrays(x, lab, 2, 1, shape, 3, NULL);
    INVALID(sl_predict_dataset(NULL, ds, 1, y, cls, E));
    INVALID(sl_predict_dataset(m, NULL, 1, y, cls, E));
    INVALID(sl_predict_dataset(m, ds, 0, y, cls, E));
    INVALID(sl_predict_dataset(m, ds, INT64_MIN, y, cls, E));
    sl_softmax_rows(NULL, y, 1, 3);
    sl_softmax_rows(x, NULL, 1, 3);
    sl_softmax_rows(x, y, 0, 3);
    sl_softmax_rows(x, y, INT64_MIN, -1);
    int32_t order[3];
    assert_int_equal(sl_predict_top(NULL, 3, order, 3), 0);
    assert_int_equal(sl_predict_top(x, 3, NULL, 3), 0);
    assert_int_equal(sl_predict_top(x, 0, order, 3), 0);
    assert_int_equal(sl_predict_top(x, INT64_MIN, order, SIZE_MAX), 0);
    INVALID(sl_predict_write_csv(NULL, x, cls, 1, 3, 0, E));
    INVALID(sl_predict_write_csv("p.csv", NULL, cls, 1, 3, 0, E));
    INVALID(sl_predict_write_csv("p.csv", x, NULL, 1, 3, 0, E));
    INVALID(sl_predict_write_csv("p.csv", x, cls, 0, 3, 0, E));
    INVALID(sl_predict_write_csv("p.csv", x, cls, 1, INT64_MIN, 1, E));
    const sl_predictor *no_predictor = NULL; /* a real one needs a checkpoint: test_predict */
    INVALID(sl_predict_print(NULL, no_predictor, NULL, 0, x, cls, 1, 0, E));
    INVALID(sl_predict_print(stdout, no_predictor, NULL, 0, x, cls, 1, 0, E));
    INVALID(sl_model_print_summary(NULL, m, "x", E));
    INVALID(sl_model_print_summary(stdout, NULL, "x", E));
    int64_t conf[9] = {0};
    INVALID(sl_eval_print_confusion(NULL, ds, conf, 3, E));
    INVALID(sl_eval_print_confusion(stdout, ds, NULL, 3, E));
    INVALID(sl_eval_print_confusion(stdout, ds, conf, 0, E));
    INVALID(sl_eval_print_confusion(stdout, ds, conf, INT64_MAX, E));
    sl_dataset_free(ds);
    sl_model_free(m);
    sl_config_free(cfg);
}

static void test_run_compare_dist(void **state)
{
    (void)state;
    sl_run_data d;
    INVALID(sl_run_data_open(NULL, NULL, &d, E));
    sl_run_data_close(NULL);
    NULL_INVALID(sl_run_probe_open(NULL, &d, E));
    assert_true(sl_run_probe_batch(NULL) > 0); /* the default */
    NULL_INVALID(sl_run_build_model(NULL, E));
    (void)sl_run_train_options(NULL);
    NULL_INVALID(sl_run_new(NULL, NULL, E));
    NULL_INVALID(sl_run_new_file(NULL, NULL, 0, NULL, E));
    NULL_INVALID(sl_run_new_file("x.json", NULL, 3, NULL, E));
    INVALID(sl_run_train(NULL, E));
    sl_run_free(NULL);
    assert_null(sl_run_config(NULL));
    assert_null(sl_run_model(NULL));
    assert_null(sl_run_trainer(NULL));
    assert_null(sl_run_datasets(NULL));
    assert_null(sl_run_stats(NULL));
    assert_null(sl_run_last_epoch(NULL));
    assert_int_equal(sl_run_stopped(NULL), 0);
    assert_int_equal(sl_run_was_complete(NULL), 0);
    assert_null(sl_run_checkpoint_path(NULL));
    assert_int_equal(sl_run_checkpoint_exists(NULL), 0);
    assert_null(sl_run_saved_path(NULL));
    assert_null(sl_run_best_path(NULL));
    (void)sl_run_best_accuracy(NULL);
    (void)sl_run_best_epoch(NULL);
    sl_config *cfg = sl_config_load_string(MINIMAL, NULL, NULL);
    INVALID(sl_run_data_open(cfg, NULL, NULL, E));
    NULL_INVALID(sl_run_probe_open(cfg, NULL, E));
    sl_config_free(cfg);

    (void)sl_compare_defaults();
    sl_compare_options co = sl_compare_defaults();
    NULL_INVALID(sl_compare_new(NULL, &co, E));
    sl_compare_free(NULL);
    INVALID(sl_compare_run_all(NULL, E));
    INVALID(sl_compare_write(NULL, E));
    INVALID(sl_compare_print_table(NULL, stdout, NULL, E));
    assert_null(sl_compare_config(NULL));
    assert_null(sl_compare_out_dir(NULL));
    assert_int_equal(sl_compare_probe_count(NULL), 0);
    assert_int_equal(sl_compare_num_acts(NULL), 0);
    assert_int_equal(sl_compare_num_seeds(NULL), 0);
    assert_int_equal(sl_compare_num_runs(NULL), 0);
    assert_null(sl_compare_get_run(NULL, 0));
    assert_int_equal(sl_compare_weights_shared(NULL), 0);
    size_t n = 5;
    assert_null(sl_compare_rows(NULL, &n));
    assert_int_equal(sl_compare_num_layers(NULL, 0), 0);
    sl_compare_layer cl;
    INVALID(sl_compare_get_layer(NULL, 0, 0, &cl, E));
    assert_int_equal(sl_compare_num_act_layers(NULL), 0);
    assert_int_equal(sl_compare_num_aggregates(NULL), 0);
    sl_compare_aggregate ca;
    INVALID(sl_compare_get_aggregate(NULL, 0, &ca, E));
    sl_compare_estimate est = sl_compare_estimate_of(NULL, 3);
    (void)est;
    (void)sl_compare_estimate_of((const double[1]){1.0}, -1);
    assert_true(isnan(sl_compare_t_cdf(NAN, 3)) || sl_compare_t_cdf(NAN, 3) >= 0);
    (void)sl_compare_t_cdf(1.0, -1.0);
    (void)sl_compare_t_quantile(NAN, 3);
    (void)sl_compare_t_quantile(0.5, 0);
    (void)sl_compare_fisher_exact(INT64_MAX, INT64_MAX, -1, 0);
    double t, df;
    (void)sl_compare_welch(NULL, 3, NULL, 3, &t, &df);
    (void)sl_compare_welch((const double[2]){1, 2}, 2, (const double[2]){1, 3}, 2, NULL, NULL);

    (void)sl_dist_available();
    (void)sl_dist_rank();
    (void)sl_dist_size();
    (void)sl_dist_any(1);
    INVALID(sl_dist_trainer(NULL, E));
    INVALID(sl_dist_sync_buffers(NULL, E));
    sl_eval_result res;
    INVALID(sl_dist_evaluate(NULL, NULL, 2, SL_LOSS_CROSS_ENTROPY, &res, E));
    /* No pointer or range argument that could crash, and global state: named for the check.
     * sl_dist_init sl_dist_finalize sl_dist_agree */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basics),         cmocka_unit_test(test_default_threads),
        cmocka_unit_test(test_tensor),
        cmocka_unit_test(test_graph),          cmocka_unit_test(test_ops_null),
        cmocka_unit_test(test_ops_ranges),     cmocka_unit_test(test_layers),
        cmocka_unit_test(test_model),          cmocka_unit_test(test_data),
        cmocka_unit_test(test_optim),          cmocka_unit_test(test_train),
        cmocka_unit_test(test_config_io),      cmocka_unit_test(test_stats),
        cmocka_unit_test(test_run_compare_dist),  cmocka_unit_test(test_predict),
    };
    /* GUARDS_ONLY=test_data runs one group (e.g. to count the groups that crash old code). */
    if (getenv("GUARDS_ONLY"))
        cmocka_set_test_filter(getenv("GUARDS_ONLY"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
