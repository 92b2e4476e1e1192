/*
 * test_nn.c - the sequential model: shape inference and its errors,
 * parameter names and layout, initialisation statistics and seeding,
 * forward against hand-composed ops, activation capture.
 */
#include <math.h>
#include <string.h>

#include "testutil.h"

static sl_model *mlp(const char *act, float alpha, sl_error *err)
{
    int64_t in = 20;
    sl_model *m = sl_model_new(1, &in, err);
    sl_layer_spec l1 = sl_layer_defaults(SL_LAYER_LINEAR), l2 = l1;
    l1.out = 32;
    l2.out = 5;
    sl_layer_type t;
    assert_int_equal(sl_layer_type_parse(act, &t, err), SL_OK);
    sl_layer_spec a = sl_layer_defaults(t);
    a.alpha = alpha;
    assert_int_equal(sl_model_add(m, &l1, err), SL_OK);
    assert_int_equal(sl_model_add(m, &a, err), SL_OK);
    assert_int_equal(sl_model_add(m, &l2, err), SL_OK);
    return m;
}

static void test_shapes_and_param_names(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t in[3] = {1, 28, 28};
    sl_model *m = sl_model_new(3, in, &err);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D), pool = sl_layer_defaults(SL_LAYER_MAX_POOL2D),
                  flat = sl_layer_defaults(SL_LAYER_FLATTEN), lin = sl_layer_defaults(SL_LAYER_LINEAR),
                  pre = sl_layer_defaults(SL_LAYER_PRELU), bn = sl_layer_defaults(SL_LAYER_BATCH_NORM);
    conv.out = 8;
    conv.padding = 1;
    pre.per_channel = 1;
    lin.out = 10;
    sl_layer_spec layers[] = {conv, bn, pre, pool, flat, lin};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(sl_model_add(m, &layers[i], &err), SL_OK);
    int64_t s[4];
    assert_int_equal(sl_model_layer_shape(m, 3, s), 3);
    assert_true(s[0] == 8 && s[1] == 14 && s[2] == 14);
    assert_int_equal(sl_model_output_shape(m, s), 1);
    assert_int_equal(s[0], 10);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 1, &err), SL_OK);
    /* PyTorch state_dict names and shapes. */
    const sl_param *w = sl_model_find_param(m, "layers.0.weight");
    assert_non_null(w);
    assert_true(w->tensor->ndim == 4 && w->tensor->shape[0] == 8 && w->tensor->shape[1] == 1 &&
                w->tensor->shape[2] == 3);
    assert_int_equal(sl_model_find_param(m, "layers.2.weight")->tensor->size, 8);
    assert_int_equal(sl_model_find_param(m, "layers.2.weight")->role, SL_PARAM_PRELU_SLOPE);
    assert_int_equal(sl_model_find_param(m, "layers.1.running_var")->role, SL_PARAM_BUFFER);
    const sl_param *lw = sl_model_find_param(m, "layers.5.weight");
    assert_true(lw->tensor->shape[0] == 10 && lw->tensor->shape[1] == 8 * 14 * 14);
    /* Counts: conv 8*9+8, bn 16, prelu 8, linear 1568*10+10. */
    assert_int_equal(sl_model_param_count(m), 80 + 16 + 8 + 15690);
    int64_t n_flat;
    float *flat_p = sl_model_flat_params(m, &n_flat);
    assert_int_equal(n_flat, sl_model_param_count(m));
    assert_ptr_equal(w->tensor->data, flat_p);
    assert_int_equal(sl_model_layer_flops(m, 0), 8LL * 28 * 28 * 9);
    sl_model_free(m);
}

static void test_shape_errors_name_the_layer(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t in[3] = {1, 28, 28};
    sl_model *m = sl_model_new(3, in, &err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR);
    lin.out = 10;
    assert_int_equal(sl_model_add(m, &lin, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 0 (linear)"));
    assert_non_null(strstr(err.message, "flatten"));
    sl_layer_spec pool = sl_layer_defaults(SL_LAYER_MAX_POOL2D);
    pool.kernel = 40;
    assert_int_equal(sl_model_add(m, &pool, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 0 (max_pool2d)"));
    sl_layer_spec drop = sl_layer_defaults(SL_LAYER_DROPOUT);
    drop.p = 1.0f;
    assert_int_equal(sl_model_add(m, &drop, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "dropout"));
    assert_int_equal(sl_model_num_layers(m), 0);
    /* forward before init */
    sl_graph *g = sl_graph_new(1, NULL);
    int64_t xs[4] = {2, 1, 28, 28};
    assert_null(sl_model_forward(m, g, sl_graph_tensor(g, 4, xs)));
    assert_int_equal(sl_graph_status(g), SL_ERR_STATE);
    sl_graph_free(g);
    sl_model_free(m);
}

static double std_of(const sl_tensor *t)
{
    double s = 0, sq = 0;
    for (int64_t i = 0; i < t->size; i++) {
        s += t->data[i];
        sq += (double)t->data[i] * t->data[i];
    }
    double mean = s / (double)t->size;
    return sqrt(sq / (double)t->size - mean * mean);
}

static void test_init_statistics_and_seeding(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_model *a = mlp("leaky_relu", 0.2f, &err), *b = mlp("leaky_relu", 0.2f, &err);
    assert_int_equal(sl_model_init(a, SL_INIT_KAIMING_NORMAL, 7, &err), SL_OK);
    assert_int_equal(sl_model_init(b, SL_INIT_KAIMING_NORMAL, 7, &err), SL_OK);
    int64_t n;
    float *pa = sl_model_flat_params(a, &n), *pb = sl_model_flat_params(b, NULL);
    assert_memory_equal(pa, pb, (size_t)n * sizeof(float)); /* same seed: bit-identical */
    /* He-normal with the leaky gain: std = sqrt(2/(1+a^2)) / sqrt(fan_in) for 640 draws. */
    double want = sqrt(2.0 / 1.04) / sqrt(20.0);
    double got = std_of(sl_model_find_param(a, "layers.0.weight")->tensor);
    assert_true(fabs(got - want) < 0.1 * want);
    /* The last layer has no activation after it: gain 1. */
    got = std_of(sl_model_find_param(a, "layers.2.weight")->tensor);
    assert_true(fabs(got - 1.0 / sqrt(32.0)) < 0.25 / sqrt(32.0));
    assert_int_equal(sl_model_init(b, SL_INIT_KAIMING_NORMAL, 8, &err), SL_OK);
    assert_memory_not_equal(pa, pb, 64);
    /* PyTorch's default: |w| and |b| <= 1/sqrt(fan_in), biases not zero. */
    assert_int_equal(sl_model_init(b, SL_INIT_PYTORCH, 1, &err), SL_OK);
    const sl_tensor *w0 = sl_model_find_param(b, "layers.0.weight")->tensor,
                    *b0 = sl_model_find_param(b, "layers.0.bias")->tensor;
    float bound = 1.0f / sqrtf(20.0f), maxabs = 0;
    for (int64_t i = 0; i < w0->size; i++)
        maxabs = fmaxf(maxabs, fabsf(w0->data[i]));
    assert_true(maxabs <= bound && maxabs > 0.9f * bound);
    assert_true(b0->data[0] != 0.0f && fabsf(b0->data[0]) <= bound);
    sl_model_free(a);
    sl_model_free(b);
}

static void test_layer_streams_are_independent(void **state)
{
    (void)state;
    /* Swapping the activation keeps the other layers' weights when the gain is the same. */
    sl_error err = {0};
    sl_model *a = mlp("relu", 0, &err), *b = mlp("elu", 1.0f, &err);
    assert_int_equal(sl_model_init(a, SL_INIT_KAIMING_UNIFORM, 3, &err), SL_OK);
    assert_int_equal(sl_model_init(b, SL_INIT_KAIMING_UNIFORM, 3, &err), SL_OK);
    int64_t n;
    const float *pa = sl_model_flat_params(a, &n); /* sets n before it is used */
    assert_memory_equal(pa, sl_model_flat_params(b, NULL), (size_t)n * sizeof(float));
    sl_model_free(a);
    sl_model_free(b);
}

static void test_forward_matches_ops(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_model *m = mlp("leaky_relu", 0.1f, &err);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 5, &err), SL_OK);
    sl_graph *g = sl_graph_new(1, NULL);
    int64_t xs[2] = {3, 20};
    sl_tensor *x = tu_tensor_uniform(2, xs, -1, 1, 9);
    sl_tensor *y = sl_model_forward(m, g, x);
    assert_non_null(y);
    float got[15];
    memcpy(got, y->data, sizeof got);
    sl_graph_reset(g);
    sl_tensor *h = sl_linear(g, x, sl_model_find_param(m, "layers.0.weight")->tensor,
                             sl_model_find_param(m, "layers.0.bias")->tensor);
    h = sl_leaky_relu(g, h, 0.1f);
    h = sl_linear(g, h, sl_model_find_param(m, "layers.2.weight")->tensor,
                  sl_model_find_param(m, "layers.2.bias")->tensor);
    tu_assert_close(got, h->data, 15, 0, 0, "model forward");
    /* Capture keeps the pre-activation of layer 1 and gives the same output. */
    sl_graph_reset(g);
    sl_model_set_capture(m, 1);
    y = sl_model_forward(m, g, x);
    sl_tensor *pre = sl_model_captured(m, 1);
    assert_non_null(pre);
    assert_int_equal(pre->shape[1], 32);
    tu_assert_close(y->data, got, 15, 0, 0, "captured forward");
    assert_null(sl_model_captured(m, 0));
    /* A batch of the wrong shape is refused. */
    int64_t bad[2] = {3, 21};
    sl_graph_reset(g);
    assert_null(sl_model_forward(m, g, sl_graph_tensor(g, 2, bad)));
    assert_int_equal(sl_graph_status(g), SL_ERR_SHAPE);
    sl_tensor_free(x);
    sl_graph_free(g);
    sl_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_param_names),
        cmocka_unit_test(test_shape_errors_name_the_layer),
        cmocka_unit_test(test_init_statistics_and_seeding),
        cmocka_unit_test(test_layer_streams_are_independent),
        cmocka_unit_test(test_forward_matches_ops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
