/*
 * test_rnn.c - the rnn layer (an Elman recurrence over [T, F], as torch.nn.RNN).
 *
 * Gradients through models with rnn layers against finite differences (tanh and
 * leaky_relu stacked, prelu per unit without biases) and against PyTorch
 * (tests/golden/model_reference.json, cases "rnn_*" from tools/torch_model_reference.py:
 * tanh and relu, last and sequence, weights loaded by torch.nn.RNN's names); the inits
 * (default bounds, identity with zero biases, orthogonal W W^T = I); shapes, names, FLOPs;
 * config round trips and errors; the statistics (a unit dead at every step, the unit
 * word of the rnn's activation); compare's activation swap; the ONNX refusal of prelu.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_golden.h"
#include "nn_internal.h"
#include "testutil.h"

static sl_layer_spec rnn(int64_t hidden, sl_rnn_act act, int sequence)
{
    sl_layer_spec s = sl_layer_defaults(SL_LAYER_RNN);
    s.out = hidden;
    s.act = act;
    s.sequence = sequence;
    return s;
}

static void add(sl_model *m, sl_layer_spec s)
{
    sl_error err = {0};
    if (sl_model_add(m, &s, &err) != SL_OK)
        fail_msg("add %s: %s", sl_layer_type_name(s.type), err.message);
}

static sl_layer_spec linear(int64_t out)
{
    sl_layer_spec s = sl_layer_defaults(SL_LAYER_LINEAR);
    s.out = out;
    return s;
}

static sl_model *sequence_model(int64_t T, int64_t F)
{
    int64_t in[2] = {T, F};
    sl_model *m = sl_model_new(2, in, NULL);
    assert_non_null(m);
    return m;
}

/* ---- gradients ------------------------------------------------------------------------- */

/* tanh returning every state into leaky_relu (orthogonal W_hh) returning the last, linear. */
static void test_gradcheck_stacked(void **state)
{
    (void)state;
    sl_model *m = sequence_model(4, 3);
    add(m, rnn(5, SL_RNN_TANH, 1));
    sl_layer_spec leaky = rnn(4, SL_RNN_LEAKY_RELU, 0);
    leaky.alpha = 0.2f;
    leaky.recurrent_init = 2;
    add(m, leaky);
    add(m, linear(3));
    tu_model_init(m, 3);
    int64_t xs[3] = {2, 4, 3};
    sl_tensor *x = tu_param_uniform(3, xs, -1.0f, 1.0f, 11);
    tu_model_gradcheck(m, x);
    sl_tensor_free(x);
    sl_model_free(m);
}

/* prelu with a slope per hidden unit (learned, checked too), no biases, every state. */
static void test_gradcheck_prelu_no_bias(void **state)
{
    (void)state;
    sl_model *m = sequence_model(3, 2);
    sl_layer_spec p = rnn(4, SL_RNN_PRELU, 1);
    p.per_channel = 1;
    p.bias = 0;
    add(m, p);
    sl_layer_spec flat = sl_layer_defaults(SL_LAYER_FLATTEN);
    add(m, flat);
    add(m, linear(3));
    tu_model_init(m, 4);
    assert_null(sl_model_find_param(m, "layers.0.bias_ih_l0"));
    assert_int_equal(tu_model_param(m, "layers.0.prelu.weight")->size, 4);
    assert_true(tu_model_param(m, "layers.0.prelu.weight")->data[0] == 0.25f); /* torch's PReLU init */
    int64_t xs[3] = {2, 3, 2};
    sl_tensor *x = tu_param_uniform(3, xs, -1.0f, 1.0f, 12);
    tu_model_gradcheck(m, x);
    sl_tensor_free(x);
    sl_model_free(m);
}

static void test_matches_torch(void **state)
{
    (void)state;
    tu_model_golden_check("rnn_", 3);
}

/* ---- initialisation ------------------------------------------------------------------- */

static double max_abs(const sl_tensor *t)
{
    double m = 0.0;
    for (int64_t i = 0; i < t->size; i++)
        m = fabs(t->data[i]) > m ? fabs(t->data[i]) : m;
    return m;
}

/* W W^T and W^T W against I: the largest difference. */
static double orthogonality_error(const sl_tensor *w)
{
    int64_t n = w->shape[0];
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double rows = 0.0, cols = 0.0;
            for (int64_t k = 0; k < n; k++) {
                rows += (double)w->data[i * n + k] * w->data[j * n + k];
                cols += (double)w->data[k * n + i] * w->data[k * n + j];
            }
            double want = i == j ? 1.0 : 0.0;
            worst = fmax(worst, fmax(fabs(rows - want), fabs(cols - want)));
        }
    return worst;
}

static sl_model *one_rnn(int64_t hidden, int recurrent_init, sl_init_kind kind)
{
    sl_model *m = sequence_model(5, 7);
    sl_layer_spec s = rnn(hidden, SL_RNN_RELU, 0);
    s.recurrent_init = recurrent_init;
    add(m, s);
    add(m, linear(3));
    sl_error err = {0};
    assert_int_equal(sl_model_init(m, kind, 21, &err), SL_OK);
    return m;
}

/* torch.nn.RNN: every tensor U(+-1/sqrt(H)), whatever the model's init kind. */
static void test_init_default(void **state)
{
    (void)state;
    static const char *const names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                        "bias_hh_l0"};
    for (int kind = SL_INIT_KAIMING_UNIFORM; kind <= SL_INIT_PYTORCH; kind++) {
        sl_model *m = one_rnn(64, 0, (sl_init_kind)kind);
        for (int k = 0; k < 4; k++) {
            char name[64];
            snprintf(name, sizeof name, "layers.0.%s", names[k]);
            double a = max_abs(tu_model_param(m, name));
            assert_true(a <= 1.0 / 8.0 + 1e-7);
            assert_true(a > 0.9 / 8.0); /* spread over the whole range */
        }
        sl_model_free(m);
    }
}

/* IRNN: W_hh = I and biases 0; W_ih as default. */
static void test_init_identity(void **state)
{
    (void)state;
    sl_model *m = one_rnn(16, 1, SL_INIT_KAIMING_NORMAL);
    const sl_tensor *w = tu_model_param(m, "layers.0.weight_hh_l0");
    for (int64_t i = 0; i < 16; i++)
        for (int64_t j = 0; j < 16; j++)
            assert_true(w->data[i * 16 + j] == (i == j ? 1.0f : 0.0f));
    assert_true(max_abs(tu_model_param(m, "layers.0.bias_ih_l0")) == 0.0);
    assert_true(max_abs(tu_model_param(m, "layers.0.bias_hh_l0")) == 0.0);
    double a = max_abs(tu_model_param(m, "layers.0.weight_ih_l0"));
    assert_true(a <= 0.25 + 1e-7 && a > 0.2);
    sl_model_free(m);
}

static void test_init_orthogonal(void **state)
{
    (void)state;
    sl_model *m = one_rnn(128, 2, SL_INIT_KAIMING_UNIFORM);
    const sl_tensor *w = tu_model_param(m, "layers.0.weight_hh_l0");
    double e = orthogonality_error(w);
    print_message("orthogonal 128x128: max |W W^T - I|, |W^T W - I| = %.3g\n", e);
    assert_true(e < 1e-5);
    /* Not a permutation or the identity: entries spread like N(0, 1/H). */
    double sq = 0.0;
    for (int64_t i = 0; i < w->size; i++)
        sq += (double)w->data[i] * w->data[i];
    assert_true(fabs(sq - 128.0) < 1e-3);
    assert_true(max_abs(w) < 0.6);
    /* Another seed, another matrix. */
    sl_model *m2 = sequence_model(5, 7);
    sl_layer_spec s = rnn(128, SL_RNN_RELU, 0);
    s.recurrent_init = 2;
    add(m2, s);
    add(m2, linear(3));
    tu_model_init(m2, 22);
    assert_true(tu_model_param(m2, "layers.0.weight_hh_l0")->data[0] != w->data[0]);
    sl_model_free(m2);
    sl_model_free(m);
}

/* ---- shapes, names, FLOPs --------------------------------------------------------------- */

static void test_layout(void **state)
{
    (void)state;
    sl_model *m = sequence_model(28, 28);
    add(m, rnn(16, SL_RNN_TANH, 1));
    add(m, rnn(8, SL_RNN_PRELU, 0));
    add(m, linear(10));
    tu_model_init(m, 1);
    int64_t s[3];
    assert_int_equal(sl_model_layer_shape(m, 0, s), 2);
    assert_true(s[0] == 28 && s[1] == 16);
    assert_int_equal(sl_model_layer_shape(m, 1, s), 1);
    assert_true(s[0] == 8);
    assert_int_equal(tu_model_param(m, "layers.0.weight_ih_l0")->shape[1], 28);
    assert_int_equal(tu_model_param(m, "layers.1.weight_ih_l0")->shape[1], 16);
    assert_int_equal(tu_model_param(m, "layers.1.weight_hh_l0")->shape[0], 8);
    assert_int_equal(tu_model_param(m, "layers.1.prelu.weight")->size, 1);
    assert_null(sl_model_find_param(m, "layers.0.prelu.weight"));
    assert_int_equal(sl_model_layer_param_count(m, 0), 16 * 28 + 16 * 16 + 2 * 16);
    assert_int_equal(sl_model_layer_param_count(m, 1), 8 * 16 + 8 * 8 + 2 * 8 + 1);
    assert_int_equal(sl_model_layer_flops(m, 0), 28 * (28 * 16 + 16 * 16));
    assert_int_equal(sl_model_layer_flops(m, 1), 28 * (16 * 8 + 8 * 8));
    assert_int_equal(sl_model_param(m, 8)->role, SL_PARAM_PRELU_SLOPE); /* after the 4 tensors of each */
    sl_layer_spec l0 = *sl_model_layer(m, 0), l1 = *sl_model_layer(m, 1);
    assert_int_equal(sl_layer_activation_of(&l0), SL_LAYER_TANH);
    assert_int_equal(sl_layer_activation_of(&l1), SL_LAYER_PRELU);
    assert_int_equal(sl_layer_is_activation(SL_LAYER_RNN), 0);
    sl_model_free(m);
}

static void test_shape_errors(void **state)
{
    (void)state;
    int64_t img[3] = {1, 28, 28};
    sl_model *m = sl_model_new(3, img, NULL);
    sl_layer_spec s = rnn(8, SL_RNN_TANH, 0);
    sl_error err = {0};
    assert_int_equal(sl_model_add(m, &s, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 0 (rnn): input [1, 28, 28]: rnn needs a sequence "
                                        "input [T, F]"));
    sl_model_free(m);
    /* After a last-state rnn the output is flat: a second rnn is refused. */
    m = sequence_model(4, 3);
    add(m, rnn(8, SL_RNN_TANH, 0));
    assert_int_equal(sl_model_add(m, &s, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 1 (rnn): input [8]"));
    s.out = 0;
    assert_int_equal(sl_model_add(m, &s, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "hidden must be >= 1"));
    sl_model_free(m);
}

/* ---- config ------------------------------------------------------------------------------ */

static sl_config *load(const char *layers, sl_error *err)
{
    char text[1024];
    snprintf(text, sizeof text,
             "{\"name\": \"r\", \"data\": {\"dataset\": \"fashion-mnist\"}, \"model\": "
             "{\"input\": [28, 28], \"layers\": [%s, {\"type\": \"linear\", \"out\": 10}]}}",
             layers);
    return sl_config_load_string(text, "t.json", err);
}

static void expect_error(const char *layers, const char *want)
{
    sl_error err = {0};
    sl_config *cfg = load(layers, &err);
    if (cfg)
        fail_msg("%s: loaded, expected \"%s\"", layers, want);
    if (strcmp(err.message, want) != 0)
        fail_msg("got \"%s\"\nwant \"%s\"", err.message, want);
}

static void test_config_round_trip(void **state)
{
    (void)state;
    const char *cases[] = {
        "{\"type\": \"rnn\", \"hidden\": 32}",
        "{\"type\": \"rnn\", \"hidden\": 12, \"activation\": \"leaky_relu\", \"alpha\": 0.1, "
        "\"init\": \"identity\", \"return\": \"sequence\", \"bias\": false}, "
        "{\"type\": \"flatten\"}",
        "{\"type\": \"rnn\", \"hidden\": 7, \"activation\": \"prelu\", \"num_parameters\": "
        "\"channel\", \"init\": \"orthogonal\"}",
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sl_error err = {0};
        sl_config *a = load(cases[c], &err);
        if (!a)
            fail_msg("%s: %s", cases[c], err.message);
        char *text = sl_config_to_json(a);
        assert_non_null(text);
        sl_config *b = sl_config_load_string(text, "emitted", &err);
        if (!b)
            fail_msg("%s: reload: %s\n%s", cases[c], err.message, text);
        assert_int_equal(a->model.num_layers, b->model.num_layers);
        for (size_t i = 0; i < a->model.num_layers; i++)
            assert_memory_equal(&a->model.layers[i], &b->model.layers[i], sizeof(sl_layer_spec));
        sl_model *m = sl_config_build_model(b, &err);
        if (!m)
            fail_msg("%s: build: %s", cases[c], err.message);
        sl_model_free(m);
        free(text);
        sl_config_free(a);
        sl_config_free(b);
    }
    /* Derived defaults: alpha is leaky_relu's 0.01, prelu's 0.25. */
    sl_error err = {0};
    sl_config *cfg = load("{\"type\": \"rnn\", \"hidden\": 3, \"activation\": \"prelu\"}", &err);
    assert_non_null(cfg);
    assert_true(cfg->model.layers[0].alpha == 0.25f);
    assert_int_equal(cfg->model.layers[0].act, SL_RNN_PRELU);
    sl_config_free(cfg);
    cfg = load("{\"type\": \"rnn\", \"hidden\": 3, \"activation\": \"leaky_relu\"}", &err);
    assert_non_null(cfg);
    assert_true(cfg->model.layers[0].alpha == 0.01f);
    sl_config_free(cfg);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_error("{\"type\": \"rnn\"}", "t.json: model.layers[0]: missing key \"hidden\"");
    expect_error("{\"type\": \"rnn\", \"hidden\": 4, \"activation\": \"gelu\"}",
                 "t.json: model.layers[0].activation: expected \"tanh\" (torch's default), "
                 "\"relu\" (max(x, 0)), \"leaky_relu\" (slope alpha below 0) or \"prelu\" "
                 "(learned slopes, from alpha), got \"gelu\"");
    expect_error("{\"type\": \"rnn\", \"hidden\": 4, \"init\": \"eye\"}",
                 "t.json: model.layers[0].init: expected \"default\" (all U(+-1/sqrt(hidden)), "
                 "as torch), \"identity\" (W_hh = I, biases 0 (IRNN)) or \"orthogonal\" (W_hh "
                 "random orthogonal), got \"eye\"");
    expect_error("{\"type\": \"rnn\", \"hidden\": 4, \"alpha\": 1.5}",
                 "t.json: model.layers[0].alpha: must be in [0, 1], got 1.5");
    expect_error("{\"type\": \"rnn\", \"hidden\": 4, \"out\": 4}",
                 "t.json: model.layers[0].out: not a setting of a \"rnn\" layer (its keys: "
                 "\"type\", \"hidden\", \"activation\", \"alpha\", \"num_parameters\", \"init\", "
                 "\"return\", \"bias\"); remove it, e.g. with --set model.layers[0].out=null");
}

/* ---- statistics -------------------------------------------------------------------------- */

enum { N_PROBE = 12, T = 4, F = 3, H = 5 };

/* A relu rnn whose unit 2 never gets a positive pre-activation (no input, no recurrence,
 * bias -1): dead at every step of every example; the others see x and live. */
static void test_stats_dead_unit(void **state)
{
    (void)state;
    static float x[N_PROBE * T * F];
    static int32_t y[N_PROBE];
    sl_rng rng;
    sl_rng_seed(&rng, 5);
    for (int i = 0; i < N_PROBE * T * F; i++)
        x[i] = sl_rng_uniform(&rng) + 0.1f;
    for (int i = 0; i < N_PROBE; i++)
        y[i] = i % 3;
    int64_t shape[3] = {1, T, F}; /* images [1, T, F]: read as T steps of F */
    sl_error err = {0};
    sl_dataset *ds = sl_dataset_from_arrays(x, y, N_PROBE, 3, shape, 3, &err);
    assert_non_null(ds);
    for (int a = 0; a < 2; a++) {
        sl_model *m = sequence_model(T, F);
        add(m, rnn(H, a == 0 ? SL_RNN_RELU : SL_RNN_TANH, 0));
        add(m, linear(3));
        tu_model_init(m, 2);
        sl_tensor *w_ih = (sl_tensor *)tu_model_param(m, "layers.0.weight_ih_l0");
        sl_tensor *w_hh = (sl_tensor *)tu_model_param(m, "layers.0.weight_hh_l0");
        sl_tensor *b_ih = (sl_tensor *)tu_model_param(m, "layers.0.bias_ih_l0");
        sl_tensor *b_hh = (sl_tensor *)tu_model_param(m, "layers.0.bias_hh_l0");
        for (int j = 0; j < H; j++) {
            for (int f = 0; f < F; f++)
                w_ih->data[j * F + f] = j == 2 ? 0.0f : 0.5f;
            for (int k = 0; k < H; k++)
                w_hh->data[j * H + k] = j == 2 ? 0.0f : 0.1f;
            b_ih->data[j] = j == 2 ? -1.0f : 0.0f;
            b_hh->data[j] = 0.0f;
        }
        sl_stats *st = sl_stats_new(m, ds, 5, SL_LOSS_CROSS_ENTROPY, &err);
        if (!st)
            fail_msg("stats: %s", err.message);
        assert_int_equal(sl_stats_measure(st, 0, 0, &err), SL_OK);
        assert_int_equal(sl_stats_num_layers(st), 1);
        const sl_layer_stats *l = sl_stats_layer(st, 0);
        assert_int_equal(l->type, SL_LAYER_RNN);
        assert_int_equal(l->act, a == 0 ? SL_LAYER_RELU : SL_LAYER_TANH);
        assert_int_equal(l->units, H);
        assert_int_equal(l->positions, T);
        assert_int_equal(l->dead, 1);
        assert_int_equal(sl_stats_dead_mask(st, 0)[2], 1);
        assert_int_equal(sl_stats_dead_mask(st, 0)[0], 0);
        /* Unit 2 is <= 0 at all T steps of all examples, the rest never. */
        assert_true(fabs(l->sparsity - 1.0 / H) < 1e-12);
        assert_true(fabs(l->neg_mean - (-1.0)) < 1e-6);
        assert_true(isfinite(l->grad_mean_abs) && l->grad_mean_abs > 0.0);
        /* relu's dead unit passes no gradient; tanh's does. */
        double g2 = sl_stats_unit_grad(st, 0)[2];
        assert_true(a == 0 ? g2 == 0.0 : g2 > 0.0);
        char line[256];
        assert_non_null(sl_stats_summary_line(st, 0, line, sizeof line));
        assert_non_null(strstr(line, a == 0 ? "1/5 dead" : "1/5 inactive"));
        sl_stats_free(st);
        sl_model_free(m);
    }
    sl_dataset_free(ds);
}

/* ---- compare's swap, and ONNX ----------------------------------------------------------- */

static void test_set_activation(void **state)
{
    (void)state;
    sl_layer_spec r = rnn(4, SL_RNN_TANH, 0), act;
    sl_error err = {0};
    assert_int_equal(sl_layer_spec_parse("leaky_relu:0.1", &act, &err), SL_OK);
    assert_int_equal(sl_nn_rnn_set_activation(&r, &act, &err), SL_OK);
    assert_int_equal(r.act, SL_RNN_LEAKY_RELU);
    assert_true(r.alpha == 0.1f);
    assert_int_equal(sl_layer_spec_parse("prelu:channel:0.2", &act, &err), SL_OK);
    assert_int_equal(sl_nn_rnn_set_activation(&r, &act, &err), SL_OK);
    assert_true(r.act == SL_RNN_PRELU && r.per_channel == 1 && r.alpha == 0.2f);
    assert_int_equal(sl_layer_spec_parse("relu", &act, &err), SL_OK);
    assert_int_equal(sl_nn_rnn_set_activation(&r, &act, &err), SL_OK);
    assert_int_equal(r.act, SL_RNN_RELU);
    assert_int_equal(sl_layer_spec_parse("elu", &act, &err), SL_OK);
    assert_int_equal(sl_nn_rnn_set_activation(&r, &act, &err), SL_ERR_CONFIG);
    assert_string_equal(err.message, "an rnn layer's activation is tanh, relu, leaky_relu or "
                                     "prelu, not elu");
    assert_int_equal(r.act, SL_RNN_RELU); /* unchanged */
}

static void test_onnx_refuses_prelu(void **state)
{
    (void)state;
#ifdef SLOPE_HAVE_ONNX
    sl_model *m = sequence_model(3, 2);
    add(m, rnn(4, SL_RNN_PRELU, 0));
    add(m, linear(3));
    tu_model_init(m, 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/test_rnn_prelu.onnx", SLOPE_BINARY_DIR);
    sl_error err = {0};
    assert_int_equal(sl_export_onnx(m, NULL, path, &err), SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "layer 0 (rnn): the ONNX export writes an ONNX RNN node"));
    sl_model_free(m);
#endif
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_stacked),
        cmocka_unit_test(test_gradcheck_prelu_no_bias),
        cmocka_unit_test(test_matches_torch),
        cmocka_unit_test(test_init_default),
        cmocka_unit_test(test_init_identity),
        cmocka_unit_test(test_init_orthogonal),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_config_round_trip),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_stats_dead_unit),
        cmocka_unit_test(test_set_activation),
        cmocka_unit_test(test_onnx_refuses_prelu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
