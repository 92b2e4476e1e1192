/*
 * test_residual.c - residual blocks: x + f(x) with an identity or projection shortcut.
 *
 * Gradients against finite differences (identity, projection on images and on flat
 * inputs, nested blocks) and against PyTorch (tests/golden/model_reference.json, written
 * by tools/torch_model_reference.py: logits, loss and every parameter's gradient, the
 * weights loaded by name); the block input surviving an in-place activation; shapes,
 * names, FLOPs and init gains; the API's and the config's errors; config round trips.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_golden.h"
#include "testutil.h"

static sl_layer_spec spec(sl_layer_type t, int64_t out)
{
    sl_layer_spec s = sl_layer_defaults(t);
    s.out = out;
    return s;
}

static void add(sl_model *m, sl_layer_type t, int64_t out)
{
    sl_error err = {0};
    sl_layer_spec s = spec(t, out);
    if (sl_model_add(m, &s, &err) != SL_OK)
        fail_msg("add %s: %s", sl_layer_type_name(t), err.message);
}

static void conv(sl_model *m, int64_t out, int stride)
{
    sl_error err = {0};
    sl_layer_spec s = spec(SL_LAYER_CONV2D, out);
    s.kernel = 3;
    s.padding = 1;
    s.stride = stride;
    if (sl_model_add(m, &s, &err) != SL_OK)
        fail_msg("add conv2d: %s", err.message);
}

static void open_block(sl_model *m, int projection)
{
    sl_error err = {0};
    sl_layer_spec s = spec(SL_LAYER_RESIDUAL, 0);
    s.shortcut = projection;
    if (sl_model_add(m, &s, &err) != SL_OK)
        fail_msg("open block: %s", err.message);
}

static void end_block(sl_model *m)
{
    sl_error err = {0};
    if (sl_model_end_block(m, &err) != SL_OK)
        fail_msg("end block: %s", err.message);
}

/* ---- finite differences ------------------------------------------------------------------ */

static sl_tensor *input(int ndim, const int64_t *shape, uint64_t seed)
{
    sl_tensor *x = tu_param_uniform(ndim, shape, -1.0f, 1.0f, seed);
    assert_non_null(x);
    return x;
}

/* [6] -> linear 5 -> block(identity: linear 5, tanh, linear 5) -> gelu -> linear 3. */
static void test_gradcheck_identity_flat(void **state)
{
    (void)state;
    int64_t in = 6, xs[2] = {4, 6};
    sl_model *m = sl_model_new(1, &in, NULL);
    add(m, SL_LAYER_LINEAR, 5);
    open_block(m, 0);
    add(m, SL_LAYER_LINEAR, 5);
    add(m, SL_LAYER_TANH, 0);
    add(m, SL_LAYER_LINEAR, 5);
    end_block(m);
    add(m, SL_LAYER_GELU, 0);
    add(m, SL_LAYER_LINEAR, 3);
    tu_model_init(m, 3);
    sl_tensor *x = input(2, xs, 11);
    tu_model_gradcheck(m, x);
    sl_tensor_free(x);
    sl_model_free(m);
}

/* [2, 6, 6] -> conv 3 -> block(projection, downsampling: conv 4 stride 2, elu, nested
 * identity block (conv 4, sigmoid)) -> tanh -> flatten -> linear 3. */
static void test_gradcheck_projection_nested(void **state)
{
    (void)state;
    int64_t in[3] = {2, 6, 6}, xs[4] = {2, 2, 6, 6};
    sl_model *m = sl_model_new(3, in, NULL);
    conv(m, 3, 1);
    open_block(m, 1);
    conv(m, 4, 2);
    add(m, SL_LAYER_ELU, 0);
    open_block(m, 0);
    conv(m, 4, 1);
    add(m, SL_LAYER_SIGMOID, 0);
    end_block(m);
    end_block(m);
    add(m, SL_LAYER_TANH, 0);
    add(m, SL_LAYER_FLATTEN, 0);
    add(m, SL_LAYER_LINEAR, 3);
    tu_model_init(m, 5);
    int64_t w[4];
    const sl_tensor *sw = tu_model_param(m, "layers.1.shortcut.weight");
    for (int d = 0; d < 4; d++)
        w[d] = sw->shape[d];
    assert_true(w[0] == 4 && w[1] == 3 && w[2] == 1 && w[3] == 1);
    assert_int_equal(sl_model_layer(m, 1)->stride, 2);
    assert_non_null(sl_model_find_param(m, "layers.1.layers.2.layers.0.weight"));
    sl_tensor *x = input(4, xs, 13);
    tu_model_gradcheck(m, x);
    sl_tensor_free(x);
    sl_model_free(m);
}

/* A flat projection without a bias: [5] -> block(linear 3, selu) + linear 5->3 shortcut. */
static void test_gradcheck_projection_flat_no_bias(void **state)
{
    (void)state;
    int64_t in = 5, xs[2] = {3, 5};
    sl_model *m = sl_model_new(1, &in, NULL);
    sl_layer_spec r = spec(SL_LAYER_RESIDUAL, 0);
    r.shortcut = 1;
    r.bias = 0;
    assert_int_equal(sl_model_add(m, &r, NULL), SL_OK);
    add(m, SL_LAYER_LINEAR, 3);
    add(m, SL_LAYER_SELU, 0);
    end_block(m);
    tu_model_init(m, 9);
    assert_null(sl_model_find_param(m, "layers.0.shortcut.bias"));
    assert_int_equal(tu_model_param(m, "layers.0.shortcut.weight")->shape[0], 3);
    assert_int_equal(sl_model_param_count(m), 5 * 3 + 3 + 5 * 3);
    sl_tensor *x = input(2, xs, 17);
    tu_model_gradcheck(m, x);
    sl_tensor_free(x);
    sl_model_free(m);
}

/* ---- forward by hand: the shortcut reads the block input as it was ----------------------- */

/* linear -> block(relu, linear): the relu must not overwrite the linear's output in place,
 * which the identity shortcut adds; and relu after the block may run in place. */
static void test_block_input_survives_in_place(void **state)
{
    (void)state;
    int64_t in = 3, xs[2] = {2, 3};
    sl_model *m = sl_model_new(1, &in, NULL);
    add(m, SL_LAYER_LINEAR, 4);
    open_block(m, 0);
    add(m, SL_LAYER_RELU, 0);
    add(m, SL_LAYER_LINEAR, 4);
    end_block(m);
    add(m, SL_LAYER_RELU, 0);
    tu_model_init(m, 21);
    sl_tensor *x = tu_tensor_uniform(2, xs, -1.0f, 1.0f, 23);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *y = sl_model_forward(m, g, x);
    assert_non_null(y);
    const sl_tensor *w0 = tu_model_param(m, "layers.0.weight"), *b0 = tu_model_param(m, "layers.0.bias");
    const sl_tensor *w1 = tu_model_param(m, "layers.1.layers.1.weight");
    const sl_tensor *b1 = tu_model_param(m, "layers.1.layers.1.bias");
    int negative = 0;
    for (int n = 0; n < 2; n++) {
        double h[4], want[4];
        for (int o = 0; o < 4; o++) {
            h[o] = b0->data[o];
            for (int i = 0; i < 3; i++)
                h[o] += (double)w0->data[o * 3 + i] * x->data[n * 3 + i];
            negative += h[o] < 0;
        }
        for (int o = 0; o < 4; o++) {
            double f = b1->data[o];
            for (int i = 0; i < 4; i++)
                f += (double)w1->data[o * 4 + i] * (h[i] > 0 ? h[i] : 0);
            want[o] = h[o] + f > 0 ? h[o] + f : 0;
            if (fabs(y->data[n * 4 + o] - want[o]) > 1e-5)
                fail_msg("y[%d][%d] = %g, want %g", n, o, (double)y->data[n * 4 + o], want[o]);
        }
    }
    assert_true(negative > 0); /* an in-place relu would have changed the shortcut */
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_model_free(m);
}

/* ---- PyTorch ---------------------------------------------------------------------------- */

static void test_matches_torch(void **state)
{
    (void)state;
    tu_model_golden_check("residual_", 2);
}

/* ---- shapes, names, FLOPs, init ---------------------------------------------------------- */

static void test_layout(void **state)
{
    (void)state;
    int64_t in[3] = {4, 8, 8};
    sl_model *m = sl_model_new(3, in, NULL);
    open_block(m, 1);     /* 0: [4, 8, 8] -> [6, 4, 4] */
    conv(m, 6, 2);        /* 1: layers.0.layers.0 */
    add(m, SL_LAYER_RELU, 0);
    conv(m, 6, 1);        /* 3: layers.0.layers.2 */
    end_block(m);
    add(m, SL_LAYER_FLATTEN, 0); /* 4: layers.1 */
    tu_model_init(m, 2);
    assert_int_equal(sl_model_num_layers(m), 5);
    assert_string_equal(sl_model_layer_name(m, 0), "layers.0");
    assert_string_equal(sl_model_layer_name(m, 3), "layers.0.layers.2");
    assert_string_equal(sl_model_layer_name(m, 4), "layers.1");
    assert_int_equal(sl_model_layer_parent(m, 2), 0);
    assert_int_equal(sl_model_layer_parent(m, 4), -1);
    assert_int_equal(sl_model_layer(m, 0)->body, 3);
    assert_int_equal(sl_model_layer(m, 0)->out, 6);
    int64_t s[3];
    assert_int_equal(sl_model_layer_shape(m, 0, s), 3);
    assert_true(s[0] == 6 && s[1] == 4 && s[2] == 4);
    assert_int_equal(sl_model_layer_input_shape(m, 1, s), 3); /* the block's input */
    assert_true(s[0] == 4 && s[1] == 8 && s[2] == 8);
    assert_int_equal(sl_model_output_shape(m, s), 1);
    assert_int_equal(s[0], 96);
    /* The shortcut: 96 outputs x 4 channels, and the addition: 96. */
    assert_int_equal(sl_model_layer_flops(m, 0), 96 * 4 + 96);
    assert_int_equal(sl_model_layer_param_count(m, 0), 6 * 4 + 6);
    assert_non_null(sl_model_find_param(m, "layers.0.layers.2.bias"));
    assert_int_equal(sl_model_find_param(m, "layers.0.layers.2.bias")->layer, 3);
    sl_model_free(m);
}

static double max_abs(const sl_tensor *t)
{
    double v = 0;
    for (int64_t i = 0; i < t->size; i++)
        v = fmax(v, fabs(t->data[i]));
    return v;
}

/* A weight inside a block takes the gain of an activation inside the block only; the
 * shortcut's, of the activation after the block. */
static void test_init_gain_stays_in_block(void **state)
{
    (void)state;
    int64_t in = 256;
    sl_model *m = sl_model_new(1, &in, NULL);
    open_block(m, 1);
    add(m, SL_LAYER_LINEAR, 256); /* layers.0.layers.0: no activation in the block: gain 1 */
    end_block(m);
    add(m, SL_LAYER_RELU, 0);
    open_block(m, 0);
    add(m, SL_LAYER_LINEAR, 256);
    add(m, SL_LAYER_TANH, 0); /* layers.2.layers.0 takes 5/3 */
    end_block(m);
    tu_model_init(m, 4);
    double bound = sqrt(3.0 / 256.0);
    double body = max_abs(tu_model_param(m, "layers.0.layers.0.weight"));
    double shortcut = max_abs(tu_model_param(m, "layers.0.shortcut.weight"));
    double tanh_w = max_abs(tu_model_param(m, "layers.2.layers.0.weight"));
    assert_true(body <= bound && body > 0.99 * bound);
    assert_true(shortcut <= sqrt(2.0) * bound && shortcut > 0.99 * sqrt(2.0) * bound);
    assert_true(tanh_w <= 5.0 / 3.0 * bound && tanh_w > 0.99 * 5.0 / 3.0 * bound);
    sl_model_free(m);
}

/* The statistics count the activations inside blocks, under their paths, with the shape
 * they see: a block's first layer sees the block's input, not its output. */
static void test_stats_inside_blocks(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t in = 2;
    sl_model *m = sl_model_new(1, &in, NULL);
    add(m, SL_LAYER_LINEAR, 8);
    open_block(m, 1);
    add(m, SL_LAYER_RELU, 0); /* 2: layers.1.layers.0, sees [8] */
    add(m, SL_LAYER_LINEAR, 4);
    end_block(m);             /* the block gives [4] */
    add(m, SL_LAYER_RELU, 0); /* 4: layers.2 */
    add(m, SL_LAYER_LINEAR, 3);
    tu_model_init(m, 8);
    sl_dataset *ds = sl_dataset_spiral(3, 20, 0.2f, 1, &err);
    assert_non_null(ds);
    sl_stats *st = sl_stats_new(m, ds, 16, SL_LOSS_CROSS_ENTROPY, &err);
    if (!st)
        fail_msg("%s", err.message);
    assert_int_equal(sl_stats_measure(st, 0, 0, &err), SL_OK);
    assert_int_equal(sl_stats_num_layers(st), 2);
    const sl_layer_stats *a = sl_stats_layer(st, 0), *b = sl_stats_layer(st, 1);
    assert_int_equal(a->layer, 2);
    assert_string_equal(a->name, "layers.1.layers.0");
    assert_int_equal(a->units, 8);
    assert_int_equal(b->layer, 4);
    assert_int_equal(b->units, 4);
    char line[256];
    assert_non_null(sl_stats_summary_line(st, 0, line, sizeof line));
    if (strncmp(line, "layer 1.layers.0 relu: ", 23) != 0)
        fail_msg("line: %s", line);
    assert_non_null(sl_stats_summary_line(st, 1, line, sizeof line));
    assert_true(strncmp(line, "layer 4 relu: ", 14) != 0 && strncmp(line, "layer 2 relu: ", 14) == 0);
    sl_stats_free(st);
    sl_dataset_free(ds);
    sl_model_free(m);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_api_errors(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t in[3] = {2, 6, 6}, flat = 4;
    sl_model *m = sl_model_new(3, in, NULL);
    assert_int_equal(sl_model_end_block(m, &err), SL_ERR_STATE); /* none open */
    open_block(m, 0);
    assert_int_equal(sl_model_end_block(m, &err), SL_ERR_CONFIG); /* empty */
    assert_non_null(strstr(err.message, "layer 0 (residual): the block has no layers"));
    conv(m, 3, 1);
    assert_int_equal(sl_model_end_block(m, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 0 (residual): identity shortcut needs the "
                                        "block's layers to keep its input shape [2, 6, 6], "
                                        "but they give [3, 6, 6]; use \"shortcut\": "
                                        "\"projection\""));
    assert_int_equal(sl_model_init(m, SL_INIT_PYTORCH, 1, &err), SL_ERR_STATE); /* still open */
    assert_non_null(strstr(err.message, "still open"));
    sl_model_free(m);

    /* A projection cannot shrink 6 to 4 (not a whole factor), nor go from images to flat. */
    m = sl_model_new(3, in, NULL);
    open_block(m, 1);
    sl_layer_spec c = spec(SL_LAYER_CONV2D, 3);
    c.kernel = 3; /* 6 -> 4 */
    assert_int_equal(sl_model_add(m, &c, &err), SL_OK);
    assert_int_equal(sl_model_end_block(m, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "same whole factor"));
    add(m, SL_LAYER_FLATTEN, 0);
    assert_int_equal(sl_model_end_block(m, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "both flat [F] or both images"));
    sl_model_free(m);

    /* Nesting is bounded; a nested layer's error names its path. */
    m = sl_model_new(1, &flat, NULL);
    for (int d = 0; d < SL_MODEL_MAX_DEPTH; d++)
        open_block(m, 0);
    sl_layer_spec r = spec(SL_LAYER_RESIDUAL, 0);
    assert_int_equal(sl_model_add(m, &r, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "nest at most"));
    sl_layer_spec pool = spec(SL_LAYER_MAX_POOL2D, 0);
    assert_int_equal(sl_model_add(m, &pool, &err), SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "layer 0.layers.0.layers.0.layers.0.layers.0.layers.0."
                                        "layers.0.layers.0.layers.0 (max_pool2d)"));
    sl_model_free(m);
}

/* ---- configs -------------------------------------------------------------------------------- */

static const char *const nested_cfg =
    "{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], \"layers\": ["
    "{\"type\": \"linear\", \"out\": 8},"
    "{\"type\": \"residual\", \"layers\": ["
    "  {\"type\": \"linear\", \"out\": 8}, {\"type\": \"relu\"},"
    "  {\"type\": \"residual\", \"shortcut\": \"projection\", \"bias\": false, \"layers\": ["
    "    {\"type\": \"linear\", \"out\": 6}]},"
    "  {\"type\": \"linear\", \"out\": 8}]},"
    "{\"type\": \"relu\"}, {\"type\": \"linear\", \"out\": 3}]}}";

static void test_config_nesting(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(nested_cfg, "n.json", &err);
    if (!cfg)
        fail_msg("%s", err.message);
    /* The flat prefix list: linear, residual(4 entries: linear relu residual(1) linear) ... */
    static const sl_layer_type want[] = {SL_LAYER_LINEAR, SL_LAYER_RESIDUAL, SL_LAYER_LINEAR,
                                         SL_LAYER_RELU, SL_LAYER_RESIDUAL, SL_LAYER_LINEAR,
                                         SL_LAYER_LINEAR, SL_LAYER_RELU, SL_LAYER_LINEAR};
    assert_int_equal(cfg->model.num_layers, 9);
    for (int i = 0; i < 9; i++)
        assert_int_equal(cfg->model.layers[i].type, want[i]);
    assert_int_equal(cfg->model.layers[1].body, 5);
    assert_int_equal(cfg->model.layers[4].body, 1);
    assert_int_equal(cfg->model.layers[4].shortcut, 1);
    assert_int_equal(cfg->model.layers[4].bias, 0);
    sl_model *m = sl_config_build_model(cfg, &err);
    if (!m)
        fail_msg("%s", err.message);
    assert_int_equal(sl_model_layer(m, 1)->body, 5);
    tu_model_init(m, 1);
    assert_non_null(sl_model_find_param(m, "layers.1.layers.2.shortcut.weight"));
    assert_non_null(sl_model_find_param(m, "layers.1.layers.2.layers.0.weight"));
    assert_non_null(sl_model_find_param(m, "layers.1.layers.3.bias"));
    sl_model_free(m);

    /* Written out nested again, and loaded back to the same list. */
    char *text = sl_config_to_json(cfg);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"shortcut\":\t\"projection\""));
    sl_config *again = sl_config_load_string(text, "again.json", &err);
    if (!again)
        fail_msg("%s", err.message);
    assert_int_equal(again->model.num_layers, 9);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(again->model.layers[i].type, want[i]);
        assert_int_equal(again->model.layers[i].body, cfg->model.layers[i].body);
    }
    free(text);
    sl_config_free(again);
    sl_config_free(cfg);

    /* Overrides reach inside blocks. */
    FILE *f = fopen("residual_n.json", "wb");
    assert_non_null(f);
    fputs(nested_cfg, f);
    fclose(f);
    const char *sets[] = {"model.layers.1.layers.2.layers.0.out=5",
                          "model.layers[1].layers[2].shortcut=\"identity\""};
    cfg = sl_config_load("residual_n.json", sets, 1, &err);
    if (!cfg)
        fail_msg("%s", err.message);
    assert_int_equal(cfg->model.layers[5].out, 5);
    sl_config_free(cfg);
    cfg = sl_config_load("residual_n.json", sets + 1, 1, &err);
    assert_non_null(cfg); /* loads; the block then does not fit: a shape error, named */
    assert_null(sl_config_build_model(cfg, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    assert_non_null(strstr(err.message, "residual_n.json: model.layers[1].layers[2]: layer "
                                        "1.layers.2 (residual): identity shortcut needs"));
    sl_config_free(cfg);
    remove("residual_n.json");
}

static void expect_config_error(const char *text, const char *want)
{
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(text, "b.json", &err);
    if (cfg)
        fail_msg("accepted: %s", text);
    assert_int_equal(err.status, SL_ERR_CONFIG);
    if (!strstr(err.message, want))
        fail_msg("got \"%s\", want \"%s\"", err.message, want);
}

static void test_config_errors(void **state)
{
    (void)state;
    expect_config_error("{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], "
                        "\"layers\": [{\"type\": \"residual\"}]}}",
                        "b.json: model.layers[0].layers: a residual block needs its layers");
    expect_config_error("{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], "
                        "\"layers\": [{\"type\": \"residual\", \"layers\": []}]}}",
                        "model.layers[0].layers: a residual block needs its layers");
    expect_config_error("{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], "
                        "\"layers\": [{\"type\": \"residual\", \"layers\": [{\"type\": "
                        "\"linear\", \"out\": 0}]}]}}",
                        "b.json: model.layers[0].layers[0].out: must be");
    expect_config_error("{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], "
                        "\"layers\": [{\"type\": \"residual\", \"shortcut\": \"conv\", "
                        "\"layers\": [{\"type\": \"relu\"}]}]}}",
                        "model.layers[0].shortcut: expected \"identity\"");
    expect_config_error("{\"data\": {\"dataset\": \"spiral\"}, \"model\": {\"input\": [2], "
                        "\"layers\": [{\"type\": \"relu\", \"layers\": []}]}}",
                        "model.layers[0].layers: not a setting of a \"relu\" layer");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_identity_flat),
        cmocka_unit_test(test_gradcheck_projection_nested),
        cmocka_unit_test(test_gradcheck_projection_flat_no_bias),
        cmocka_unit_test(test_block_input_survives_in_place),
        cmocka_unit_test(test_matches_torch),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_init_gain_stays_in_block),
        cmocka_unit_test(test_stats_inside_blocks),
        cmocka_unit_test(test_api_errors),
        cmocka_unit_test(test_config_nesting),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
