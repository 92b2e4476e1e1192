/*
 * test_nn.c - the sequential model: shape inference and its errors,
 * parameter names and layout, initialisation statistics and seeding,
 * forward against hand-composed ops, activation capture; the layer table:
 * every row complete, defaults in range and unchanged, every activation row
 * trains, gelu against its op, validation through the API, short activation
 * specs, and the README's generated layer reference.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "autograd.h"    /* the tape: which tensors a step's gradients lie over */
#include "nn_internal.h" /* the table's key readers */

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

/* ---- gradients over dead data (sl_graph_set_grad_over_data) ---------------------------- */

/* A layer of the given type with out (when it has one) set, the rest the defaults. */
static sl_layer_spec layer_out(sl_layer_type type, int out)
{
    sl_layer_spec l = sl_layer_defaults(type);
    l.out = out;
    return l;
}

/* conv -> leaky_relu -> max_pool -> conv -> leaky_relu -> max_pool -> flatten -> linear, as
 * fashion_cnn is, on 1x8x8 images (3x3 convolutions padded by 1, 2x2 pools). */
static sl_model *small_cnn(void)
{
    sl_error err = {0};
    int64_t in[3] = {1, 8, 8};
    sl_model *m = sl_model_new(3, in, &err);
    assert_non_null(m);
    sl_layer_spec act = sl_layer_defaults(SL_LAYER_LEAKY_RELU), pool = layer_out(SL_LAYER_MAX_POOL2D, 0);
    sl_layer_spec c1 = layer_out(SL_LAYER_CONV2D, 4), c2 = layer_out(SL_LAYER_CONV2D, 6);
    c1.padding = c2.padding = 1;
    pool.kernel = 2;
    const sl_layer_spec layers[] = {c1, act, pool, c2, act, pool, sl_layer_defaults(SL_LAYER_FLATTEN),
                                    layer_out(SL_LAYER_LINEAR, 3)};
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        assert_int_equal(sl_model_add(m, &layers[i], &err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 7, &err), SL_OK);
    return m;
}

/* The tape's tensors, by op: the outputs of the two convolutions and of the first pool. */
typedef struct cnn_tensors {
    sl_tensor *conv[2], *pool1;
} cnn_tensors;

static cnn_tensors find_cnn_tensors(const sl_graph *g)
{
    cnn_tensors t = {{NULL, NULL}, NULL};
    int convs = 0, pools = 0;
    for (const sl_node *n = sl_ag_tape(g); n; n = n->prev) { /* last recorded first */
        if (n->op == sl_op_def_of(SL_OP_CONV2D))
            t.conv[1 - convs++] = n->out;
        if (n->op == sl_op_def_of(SL_OP_MAX_POOL2D) && ++pools == 2)
            t.pool1 = n->out;
    }
    assert_int_equal(convs, 2);
    assert_non_null(t.pool1);
    return t;
}

/* One step of small_cnn with the option on or off: the flat parameter gradients (caller
 * frees), the arena used, and whether each tensor's gradient lay over its data. */
typedef struct cnn_step {
    float *grads;
    size_t arena;
    int conv_over[2], pool1_over, logits_kept, captured_kept;
} cnn_step;

static cnn_step run_cnn_step(int over, int capture)
{
    sl_model *m = small_cnn();
    sl_graph *g = sl_graph_new(1, NULL);
    assert_int_equal(sl_graph_set_grad_over_data(g, over), 0);
    sl_model_set_capture(m, capture);
    int64_t xs[4] = {5, 1, 8, 8};
    sl_tensor *x = tu_tensor_uniform(4, xs, -1, 1, 11);
    int32_t labels[5] = {0, 2, 1, 1, 0};
    sl_tensor *y = sl_model_forward(m, g, x);
    assert_non_null(y);
    float logits[15], captured[5 * 4 * 8 * 8];
    memcpy(logits, y->data, sizeof logits);
    sl_tensor *cap = sl_model_captured_output(m, 1); /* leaky_relu's output, into the pool */
    assert_true(capture ? cap != NULL && cap->size == 5 * 4 * 8 * 8 : cap == NULL);
    if (cap)
        memcpy(captured, cap->data, sizeof captured);
    sl_model_zero_grad(m);
    assert_int_equal(sl_backward(g, sl_cross_entropy(g, y, labels)), SL_OK);
    cnn_tensors t = find_cnn_tensors(g);
    cnn_step r = {NULL, sl_graph_arena_used(g),
                  {t.conv[0]->grad == t.conv[0]->data, t.conv[1]->grad == t.conv[1]->data},
                  t.pool1->grad == t.pool1->data, memcmp(y->data, logits, sizeof logits) == 0,
                  cap && cap->grad != cap->data && memcmp(cap->data, captured, sizeof captured) == 0};
    int64_t n;
    const float *grads = sl_model_flat_grads(m, &n);
    r.grads = malloc((size_t)n * sizeof(float));
    assert_non_null(r.grads);
    memcpy(r.grads, grads, (size_t)n * sizeof(float));
    sl_tensor_free(x);
    sl_graph_free(g);
    sl_model_free(m);
    return r;
}

/* With the option, the gradient of each convolution's output (read only by its in-place
 * leaky_relu and a max pool) lies over its data and the arena shrinks by exactly those two
 * tensors; the first pool's output (the second convolution reads it) and the logits (the
 * loss reads them) keep their data; the gradients are bit for bit the same. */
static void test_grad_over_data(void **state)
{
    (void)state;
    cnn_step off = run_cnn_step(0, 0), on = run_cnn_step(1, 0);
    int64_t n = 4 * 9 + 4 + 6 * 4 * 9 + 6 + 3 * 6 * 2 * 2 + 3;
    assert_memory_equal(on.grads, off.grads, (size_t)n * sizeof(float));
    assert_true(!off.conv_over[0] && !off.conv_over[1] && !off.pool1_over);
    assert_true(on.conv_over[0] && on.conv_over[1]);
    assert_false(on.pool1_over);
    assert_true(on.logits_kept && off.logits_kept);
    size_t conv_bytes = (5 * 4 * 8 * 8 + 5 * 6 * 4 * 4) * sizeof(float); /* multiples of 64 */
    assert_int_equal(off.arena - on.arena, conv_bytes);
    free(off.grads);
    free(on.grads);
}

/* The loss keeps its value through backward even when the op that made it (an add of two
 * losses) reads nothing in backward: the caller reads it after the step. */
static void test_grad_over_data_keeps_the_loss(void **state)
{
    (void)state;
    sl_graph *g = sl_graph_new(1, NULL);
    sl_graph_set_grad_over_data(g, 1);
    int64_t shape[2] = {2, 3};
    sl_tensor *x = tu_param_uniform(2, shape, -1, 1, 5);
    sl_tensor *zero = sl_graph_tensor(g, 2, shape);
    sl_tensor *loss = sl_add(g, sl_mse(g, x, zero), sl_mse(g, sl_mul(g, x, x), zero));
    assert_non_null(loss);
    float before = loss->data[0];
    assert_true(before > 0.0f);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    assert_true(loss->data[0] == before);
    assert_ptr_not_equal(loss->grad, loss->data);
    sl_tensor_free(x);
    sl_graph_free(g);
}

/* Captured activations (sl_model_set_capture) are for reading after the step: their data
 * stays, though the pool after them never reads it; the gradients do not change. */
static void test_grad_over_data_keeps_captured(void **state)
{
    (void)state;
    cnn_step off = run_cnn_step(0, 1), on = run_cnn_step(1, 1);
    int64_t n = 4 * 9 + 4 + 6 * 4 * 9 + 6 + 3 * 6 * 2 * 2 + 3;
    assert_memory_equal(on.grads, off.grads, (size_t)n * sizeof(float));
    assert_true(on.captured_kept && off.captured_kept);
    free(off.grads);
    free(on.grads);
}

/* ---- the layer table ------------------------------------------------------------------ */

/* Every row is complete and consistent with the enum, its keys' defaults in range. */
static void test_table_rows(void **state)
{
    (void)state;
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        const sl_layer_def *d = sl_layer_def_of((sl_layer_type)t);
        assert_non_null(d);
        assert_int_equal(d->type, t);
        assert_non_null(d->name);
        assert_non_null(d->doc);
        assert_non_null(d->forward);
        assert_ptr_equal(sl_layer_def_find(d->name), d);
        assert_string_equal(sl_layer_type_name(d->type), d->name);
        assert_true(d->n_keys <= SL_LAYER_MAX_KEYS && d->n_params <= SL_LAYER_MAX_PARAMS);
        assert_true(d->n_params == 0 || d->param_shape);
        if (sl_layer_is_activation(d->type))
            assert_non_null(d->gain_doc);
        sl_layer_spec s = sl_layer_defaults(d->type);
        for (int k = 0; k < d->n_keys; k++) {
            const sl_layer_key *key = &d->keys[k];
            char msg[160];
            assert_non_null(key->doc);
            if (key->required)
                sl_nn_key_set(&s, key, key->lo);
            else if (!key->def_doc && !sl_nn_key_accepts(key, key->def, msg, sizeof msg))
                fail_msg("%s.%s: default %g: %s", d->name, key->name, key->def, msg);
        }
        sl_error err = {0};
        if (sl_layer_spec_check(&s, &err) != SL_OK)
            fail_msg("%s: defaults refused: %s", d->name, err.message);
        for (int k = 0; k < d->n_keys; k++) /* derived defaults are filled and in range */
            assert_true(sl_nn_key_accepts(&d->keys[k], sl_nn_key_value(&s, &d->keys[k]),
                                          (char[160]){0}, 160));
    }
    assert_null(sl_layer_def_of(SL_LAYER_TYPE_COUNT));
    assert_null(sl_layer_def_of((sl_layer_type)-1));
    assert_null(sl_layer_def_find("softmax"));
    assert_null(sl_layer_def_find(NULL));
}

/* The defaults the table gives are the ones the API always had. */
static void test_defaults_unchanged(void **state)
{
    (void)state;
    sl_layer_spec s = sl_layer_defaults(SL_LAYER_CONV2D);
    assert_true(s.kernel == 3 && s.stride == 1 && s.padding == 0 && s.bias == 1 && s.out == 0);
    s = sl_layer_defaults(SL_LAYER_MAX_POOL2D);
    assert_true(s.kernel == 2 && s.stride == 0); /* 0: the kernel, filled by sl_model_add */
    assert_true(sl_layer_defaults(SL_LAYER_LINEAR).bias == 1);
    assert_true(sl_layer_defaults(SL_LAYER_LEAKY_RELU).alpha == 0.01f);
    assert_true(sl_layer_defaults(SL_LAYER_PRELU).alpha == 0.25f);
    assert_int_equal(sl_layer_defaults(SL_LAYER_PRELU).per_channel, 0);
    assert_true(sl_layer_defaults(SL_LAYER_ELU).alpha == 1.0f);
    assert_true(sl_layer_defaults(SL_LAYER_DROPOUT).p == 0.5f);
    s = sl_layer_defaults(SL_LAYER_RRELU);
    assert_true(s.lower == 1.0f / 8.0f && s.upper == 1.0f / 3.0f);
    s = sl_layer_defaults(SL_LAYER_BATCH_NORM);
    assert_true(s.momentum == 0.1f && s.eps == 1e-5f);
}

/* input [4] -> linear 6 -> a -> linear 3. */
static sl_model *act_net(const sl_layer_spec *a, sl_error *err)
{
    int64_t in = 4;
    sl_model *m = sl_model_new(1, &in, err);
    sl_layer_spec l1 = sl_layer_defaults(SL_LAYER_LINEAR), l2 = l1;
    l1.out = 6;
    l2.out = 3;
    assert_int_equal(sl_model_add(m, &l1, err), SL_OK);
    assert_int_equal(sl_model_add(m, a, err), SL_OK);
    assert_int_equal(sl_model_add(m, &l2, err), SL_OK);
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 11, err), SL_OK);
    return m;
}

static int all_finite(const float *v, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

/* Every activation row builds, runs forward and backward, and is captured for the stats. */
static void test_every_activation_trains(void **state)
{
    (void)state;
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        if (!sl_layer_is_activation((sl_layer_type)t))
            continue;
        sl_error err = {0};
        sl_layer_spec a = sl_layer_defaults((sl_layer_type)t);
        sl_model *m = act_net(&a, &err);
        sl_graph *g = sl_graph_new(3, NULL);
        int64_t xs[2] = {5, 4};
        sl_tensor *x = tu_tensor_uniform(2, xs, -1, 1, 2);
        int32_t labels[5] = {0, 1, 2, 1, 0};
        sl_model_set_capture(m, 1);
        sl_tensor *y = sl_model_forward(m, g, x);
        assert_non_null(y);
        assert_non_null(sl_model_captured(m, 1));
        sl_tensor *loss = sl_cross_entropy(g, y, labels);
        assert_int_equal(sl_backward(g, loss), SL_OK);
        int64_t n;
        const float *grad = sl_model_flat_grads(m, &n);
        assert_true(all_finite(grad, n));
        double norm = 0;
        for (int64_t i = 0; i < 24; i++) /* layers.0.weight */
            norm += fabs(grad[i]);
        if (!(norm > 0))
            fail_msg("%s: no gradient reaches the first layer", sl_layer_type_name(a.type));
        sl_tensor_free(x);
        sl_graph_free(g);
        sl_model_free(m);
    }
}

static void test_gelu_forward_matches_op(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_layer_spec a = sl_layer_defaults(SL_LAYER_GELU);
    sl_model *m = act_net(&a, &err);
    assert_int_equal(sl_model_num_params(m), 4); /* gelu has no parameters */
    sl_graph *g = sl_graph_new(1, NULL);
    int64_t xs[2] = {3, 4};
    sl_tensor *x = tu_tensor_uniform(2, xs, -2, 2, 4);
    sl_tensor *y = sl_model_forward(m, g, x);
    assert_non_null(y);
    float got[9];
    memcpy(got, y->data, sizeof got);
    sl_graph_reset(g);
    sl_tensor *h = sl_linear(g, x, sl_model_find_param(m, "layers.0.weight")->tensor,
                             sl_model_find_param(m, "layers.0.bias")->tensor);
    h = sl_gelu(g, h);
    h = sl_linear(g, h, sl_model_find_param(m, "layers.2.weight")->tensor,
                  sl_model_find_param(m, "layers.2.bias")->tensor);
    tu_assert_close(got, h->data, 9, 0, 0, "gelu model forward");
    /* Its init gain is relu's sqrt(2): the same weights as a relu net. */
    sl_layer_spec r = sl_layer_defaults(SL_LAYER_RELU);
    sl_model *mr = act_net(&r, &err);
    int64_t n;
    const float *pg = sl_model_flat_params(m, &n);
    assert_memory_equal(pg, sl_model_flat_params(mr, NULL), (size_t)n * sizeof(float));
    sl_tensor_free(x);
    sl_graph_free(g);
    sl_model_free(mr);
    sl_model_free(m);
}

/* sl_model_add checks a spec with the config's ranges and the row's rules. */
static void test_api_validation(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t in[3] = {2, 8, 8};
    sl_model *m = sl_model_new(3, in, &err);
    sl_layer_spec leaky = sl_layer_defaults(SL_LAYER_LEAKY_RELU);
    leaky.alpha = 2.0f;
    assert_int_equal(sl_model_add(m, &leaky, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "layer 0 (leaky_relu): alpha must be in [0, 1], got 2");
    sl_layer_spec rr = sl_layer_defaults(SL_LAYER_RRELU);
    rr.lower = 0.5f;
    assert_int_equal(sl_model_add(m, &rr, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "layer 0 (rrelu): upper needs lower <= upper, got lower 0.5 "
                                     "and upper 0.333333");
    sl_layer_spec pool = sl_layer_defaults(SL_LAYER_AVG_POOL2D);
    pool.padding = 2;
    assert_int_equal(sl_model_add(m, &pool, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "layer 0 (avg_pool2d): padding must be <= 1, got 2");
    sl_layer_spec bad = sl_layer_defaults(SL_LAYER_RELU);
    bad.type = SL_LAYER_TYPE_COUNT;
    assert_int_equal(sl_model_add(m, &bad, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "unknown layer type"));
    pool.padding = 0;
    pool.kernel = 4;
    assert_int_equal(sl_model_add(m, &pool, &err), SL_OK);
    assert_int_equal(sl_model_layer(m, 0)->stride, 4); /* derived from the kernel */
    int64_t s[3];
    sl_model_layer_shape(m, 0, s);
    assert_true(s[0] == 2 && s[1] == 2 && s[2] == 2);
    sl_layer_type t;
    assert_int_equal(sl_layer_type_parse("selu_", &t, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "expected one of: linear, conv2d,"));
    assert_non_null(strstr(err.message, "tanh, gelu, residual, rnn)"));
    sl_model_free(m);
}

static void expect_act(const char *text, sl_layer_type type, float alpha, int per_channel)
{
    sl_error err = {0};
    sl_layer_spec s;
    if (sl_layer_spec_parse(text, &s, &err) != SL_OK)
        fail_msg("%s: %s", text, err.message);
    assert_int_equal(s.type, type);
    if (!(s.alpha == alpha))
        fail_msg("%s: alpha %g, want %g", text, (double)s.alpha, (double)alpha);
    assert_int_equal(s.per_channel, per_channel);
}

static void expect_act_error(const char *text, const char *want)
{
    sl_error err = {0};
    sl_layer_spec s = sl_layer_defaults(SL_LAYER_RELU);
    assert_int_equal(sl_layer_spec_parse(text, &s, &err), SL_ERR_CONFIG);
    if (strcmp(err.message, want) != 0)
        fail_msg("%s:\ngot  %s\nwant %s", text, err.message, want);
    assert_int_equal(s.type, SL_LAYER_RELU); /* untouched */
}

static void test_short_activation_specs(void **state)
{
    (void)state;
    expect_act("relu", SL_LAYER_RELU, 0.0f, 0);
    expect_act("leaky_relu", SL_LAYER_LEAKY_RELU, 0.01f, 0);
    expect_act("leaky_relu:0.1", SL_LAYER_LEAKY_RELU, 0.1f, 0);
    expect_act("elu:1.5", SL_LAYER_ELU, 1.5f, 0);
    expect_act("prelu", SL_LAYER_PRELU, 0.25f, 0);
    expect_act("prelu:channel", SL_LAYER_PRELU, 0.25f, 1);
    expect_act("prelu:channel:0.1", SL_LAYER_PRELU, 0.1f, 1);
    expect_act("prelu:shared:0.2", SL_LAYER_PRELU, 0.2f, 0);
    expect_act("prelu:0.3", SL_LAYER_PRELU, 0.3f, 0);
    expect_act("prelu:0.3:channel", SL_LAYER_PRELU, 0.3f, 1);
    expect_act("gelu", SL_LAYER_GELU, 0.0f, 0);
    expect_act("tanh", SL_LAYER_TANH, 0.0f, 0);
    sl_layer_spec s;
    sl_error err = {0};
    assert_int_equal(sl_layer_spec_parse("rrelu:0.1:0.3", &s, &err), SL_OK);
    assert_true(s.lower == 0.1f && s.upper == 0.3f);
    assert_int_equal(sl_layer_spec_parse("rrelu:0.2", &s, &err), SL_OK);
    assert_true(s.lower == 0.2f && s.upper == 1.0f / 3.0f);

    const char *forms = "relu, leaky_relu[:alpha], prelu[:shared|channel][:init], "
                        "rrelu[:lower[:upper]], elu[:alpha], selu, sigmoid, tanh, gelu";
    char want[512];
    snprintf(want, sizeof want,
             "activation \"linear\": \"linear\" is a layer, not an activation (activations: %s)",
             forms);
    expect_act_error("linear", want);
    snprintf(want, sizeof want,
             "activation \"leaky_rleu:0.1\": unknown name \"leaky_rleu\" (did you mean "
             "\"leaky_relu\"?); activations: %s",
             forms);
    expect_act_error("leaky_rleu:0.1", want);
    snprintf(want, sizeof want, "activation \"softmax\": unknown name \"softmax\"; activations: %s",
             forms);
    expect_act_error("softmax", want);
    expect_act_error("leaky_relu:2", "activation \"leaky_relu:2\": alpha must be in [0, 1], got 2");
    expect_act_error("elu:0", "activation \"elu:0\": alpha must be > 0, got 0");
    expect_act_error("leaky_relu:x",
                     "activation \"leaky_relu:x\": \"x\" is not a value of leaky_relu[:alpha]");
    expect_act_error("leaky_relu:0.1:0.2",
                     "activation \"leaky_relu:0.1:0.2\": too many values (leaky_relu[:alpha])");
    expect_act_error("relu:0.1", "activation \"relu:0.1\": too many values (relu)");
    expect_act_error("rrelu:0.5:0.25", "activation \"rrelu:0.5:0.25\": upper needs lower <= "
                                       "upper, got lower 0.5 and upper 0.25");
    expect_act_error("rrelu:0.5", "activation \"rrelu:0.5\": lower needs lower <= upper, got "
                                  "lower 0.5 and upper 0.333333");
    expect_act_error("prelu:channel:shared",
                     "activation \"prelu:channel:shared\": num_parameters given twice");
    expect_act_error("leaky_relu:", "activation \"leaky_relu:\": an empty value");
    expect_act_error("", "activation \"\": unknown name \"\"; activations: relu, "
                         "leaky_relu[:alpha], prelu[:shared|channel][:init], "
                         "rrelu[:lower[:upper]], elu[:alpha], selu, sigmoid, tanh, gelu");
    assert_int_equal(sl_layer_spec_parse(NULL, &s, &err), SL_ERR_INVALID);

    const char *names[32];
    size_t n = sl_layer_activation_names(names, 32);
    assert_int_equal(n, 9);
    assert_string_equal(names[0], "relu");
    assert_string_equal(names[n - 1], "gelu");
    assert_int_equal(sl_layer_activation_names(NULL, 0), n);
    char form[64];
    assert_string_equal(sl_layer_short_form(SL_LAYER_PRELU, form, sizeof form),
                        "prelu[:shared|channel][:init]");
}

/* README.md carries the reference between the markers, exactly as generated. */
static void test_readme_layer_reference(void **state)
{
    (void)state;
    char *ref = sl_layer_reference_markdown();
    assert_non_null(ref);
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        char heading[64];
        snprintf(heading, sizeof heading, "#### `%s`\n", sl_layer_type_name((sl_layer_type)t));
        assert_non_null(strstr(ref, heading));
    }
    assert_non_null(strstr(ref, "| `alpha` | number | `0.01` | [0, 1] | slope for x < 0 |"));
    FILE *f = fopen(tu_source_path("README.md"), "rb");
    assert_non_null(f);
    static char readme[1 << 20];
    size_t len = fread(readme, 1, sizeof readme - 1, f);
    fclose(f);
    readme[len] = '\0';
    const char *begin_mark = "<!-- layer-reference:begin -->\n";
    const char *end_mark = "<!-- layer-reference:end -->";
    char *begin = strstr(readme, begin_mark), *end = begin ? strstr(begin, end_mark) : NULL;
    if (!begin || !end) {
        free(ref);
        fail_msg("README.md has lost its <!-- layer-reference:begin --> ... end --> markers: "
                 "put the output of build/layer_reference between them");
    }
    begin += strlen(begin_mark);
    *end = '\0';
    if (strcmp(begin, ref) != 0)
        fail_msg("README.md's layer reference is not the table's: regenerate it with "
                 "build/layer_reference");
    free(ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_and_param_names),
        cmocka_unit_test(test_shape_errors_name_the_layer),
        cmocka_unit_test(test_init_statistics_and_seeding),
        cmocka_unit_test(test_layer_streams_are_independent),
        cmocka_unit_test(test_forward_matches_ops),
        cmocka_unit_test(test_grad_over_data),
        cmocka_unit_test(test_grad_over_data_keeps_captured),
        cmocka_unit_test(test_grad_over_data_keeps_the_loss),
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_defaults_unchanged),
        cmocka_unit_test(test_every_activation_trains),
        cmocka_unit_test(test_gelu_forward_matches_op),
        cmocka_unit_test(test_api_validation),
        cmocka_unit_test(test_short_activation_specs),
        cmocka_unit_test(test_readme_layer_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
