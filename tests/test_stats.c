/*
 * test_stats.c - dying-neuron statistics: hand-built nets whose dead units
 * are known by construction (linear and conv), leaky ReLU (same count, but
 * a gradient, and training revives), died/revived bookkeeping, the
 * gradient statistic against a hand computation, PReLU slope statistics,
 * the probe leaving training untouched, negative growth (mean, 1st
 * percentile, outputs below -1) against brute force, and born-dead against
 * exact values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "slope/stats.h"

#define N_PROBE 32
#define IN 4
#define HID 6

/* Probe data: N_PROBE samples of IN features in [-1, 1), labels all `label` or k % 3. */
typedef struct probe_data {
    float x[N_PROBE * 2 * 5 * 5];
    int32_t y[N_PROBE];
    sl_dataset *ds;
} probe_data;

static void make_probe(probe_data *p, int ndim, const int64_t *shape, int all_zero_label)
{
    int64_t features = 1;
    for (int d = 0; d < ndim; d++)
        features *= shape[d];
    sl_rng r;
    sl_rng_seed(&r, 7);
    for (int64_t i = 0; i < N_PROBE * features; i++)
        p->x[i] = 2.0f * sl_rng_uniform(&r) - 1.0f;
    for (int i = 0; i < N_PROBE; i++)
        p->y[i] = all_zero_label ? 0 : i % 3;
    sl_error err = {0};
    p->ds = sl_dataset_from_arrays(p->x, p->y, N_PROBE, ndim, shape, 3, &err);
    assert_non_null(p->ds);
}

static void add(sl_model *m, sl_layer_spec s)
{
    sl_error err = {0};
    assert_int_equal(sl_model_add(m, &s, &err), SL_OK);
}

static sl_layer_spec linear(int64_t out)
{
    sl_layer_spec s = sl_layer_defaults(SL_LAYER_LINEAR);
    s.out = out;
    return s;
}

static sl_layer_spec act(sl_layer_type t, float alpha)
{
    sl_layer_spec s = sl_layer_defaults(t);
    if (t != SL_LAYER_PRELU || alpha != 0.0f)
        s.alpha = alpha;
    s.per_channel = t == SL_LAYER_PRELU;
    return s;
}

static sl_tensor *param(sl_model *m, const char *name)
{
    const sl_param *p = sl_model_find_param(m, name);
    assert_non_null(p);
    return p->tensor;
}

/* Bias of unit u of the first layer: -1 (always <= 0 on the probe) when in dead[], else +10. */
static void set_first_layer(sl_model *m, const int *dead, int n_dead, int64_t units)
{
    sl_tensor *w = param(m, "layers.0.weight"), *b = param(m, "layers.0.bias");
    for (int64_t i = 0; i < w->size; i++)
        w->data[i] = 0.1f * (float)((i % 5) - 2) / 2.0f; /* |w| <= 0.1 */
    for (int64_t u = 0; u < units; u++) {
        b->data[u] = 10.0f;
        for (int k = 0; k < n_dead; k++)
            if (dead[k] == u)
                b->data[u] = -1.0f;
    }
}

/* input [IN] -> linear HID -> activation -> linear 3, units 1 and 4 dead by construction. */
static sl_model *linear_net(sl_layer_spec a)
{
    sl_error err = {0};
    int64_t in = IN;
    sl_model *m = sl_model_new(1, &in, &err);
    add(m, linear(HID));
    add(m, a);
    add(m, linear(3));
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 3, &err), SL_OK);
    static const int dead[2] = {1, 4};
    set_first_layer(m, dead, 2, HID);
    return m;
}

static sl_stats *new_stats(sl_model *m, const sl_dataset *ds, int64_t batch)
{
    sl_error err = {0};
    sl_stats *s = sl_stats_new(m, ds, batch, SL_LOSS_CROSS_ENTROPY, &err);
    assert_non_null(s);
    return s;
}

static void measure(sl_stats *s, int epoch)
{
    sl_error err = {0};
    assert_int_equal(sl_stats_measure(s, epoch, 10 * epoch, &err), SL_OK);
}

static void assert_mask(const uint8_t *mask, int64_t units, const int *dead, int n_dead)
{
    for (int64_t u = 0; u < units; u++) {
        int expect = 0;
        for (int k = 0; k < n_dead; k++)
            expect |= dead[k] == u;
        assert_int_equal(mask[u], expect);
    }
}

static void test_linear_dead_units(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_RELU, 0.0f));
    sl_stats *s = new_stats(m, p.ds, 5); /* 32 = 6 batches of 5 + one of 2 */
    measure(s, 0);
    assert_int_equal(sl_stats_num_layers(s), 1);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_int_equal(l->layer, 1);
    assert_int_equal(l->type, SL_LAYER_RELU);
    assert_int_equal(l->units, HID);
    assert_int_equal(l->positions, 1);
    assert_int_equal(l->dead, 2);
    assert_float_equal(l->dead_frac, 2.0 / HID, 1e-12);
    assert_float_equal(l->sparsity, 2.0 / HID, 1e-12); /* live units are always > 0 */
    assert_int_equal(l->died, 0);
    assert_int_equal(l->revived, 0);
    assert_int_equal(l->n_alpha, 0);
    static const int dead[2] = {1, 4};
    assert_mask(sl_stats_dead_mask(s, 0), HID, dead, 2);
    const double *g = sl_stats_unit_grad(s, 0);
    for (int u = 0; u < HID; u++) {
        if (u == 1 || u == 4)
            assert_float_equal(g[u], 0.0, 0.0); /* ReLU passes a dead unit nothing */
        else
            assert_true(g[u] > 0.0);
    }
    assert_true(l->grad_mean_abs > 0.0);
    assert_null(sl_stats_alpha(s, 0));
    assert_null(sl_stats_layer(s, 1));
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/* input [2, 5, 5] -> conv 4 channels (3x3, pad 1) -> relu -> flatten -> linear 3; channels 0, 2 dead. */
static void test_conv_dead_channels(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t shape[3] = {2, 5, 5};
    probe_data p;
    make_probe(&p, 3, shape, 0);
    sl_model *m = sl_model_new(3, shape, &err);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D);
    conv.out = 4;
    conv.kernel = 3;
    conv.padding = 1;
    add(m, conv);
    add(m, act(SL_LAYER_RELU, 0.0f));
    add(m, sl_layer_defaults(SL_LAYER_FLATTEN));
    add(m, linear(3));
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 3, &err), SL_OK);
    static const int dead[2] = {0, 2};
    set_first_layer(m, dead, 2, 4); /* |pre - bias| <= 18 * 0.1 = 1.8 */
    sl_tensor *b = param(m, "layers.0.bias");
    for (int c = 0; c < 4; c++)
        b->data[c] = b->data[c] < 0.0f ? -5.0f : 10.0f;
    sl_stats *s = new_stats(m, p.ds, 8);
    measure(s, 0);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_int_equal(l->units, 4);
    assert_int_equal(l->positions, 25);
    assert_int_equal(l->dead, 2);
    assert_float_equal(l->sparsity, 0.5, 1e-12);
    /* Every negative value is a dead channel's, in -5 +- 1.8; relu leaves none below -1. */
    assert_true(l->neg_mean > -6.8 && l->neg_mean < -3.2);
    assert_true(l->neg_p01 >= -6.8 && l->neg_p01 <= l->neg_mean);
    assert_float_equal(l->below_minus1, 0.0, 0.0);
    assert_mask(sl_stats_dead_mask(s, 0), 4, dead, 2);
    const double *g = sl_stats_unit_grad(s, 0);
    assert_float_equal(g[0], 0.0, 0.0);
    assert_float_equal(g[2], 0.0, 0.0);
    assert_true(g[1] > 0.0 && g[3] > 0.0);
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/*
 * Trains the first layer (only) of the linear net on labels all 0, with the dead units
 * wired to class 0 (+1) against the others (-1): dl/db_u = a * 2 (p0 - 1) < 0 on a dead
 * unit, so SGD raises its bias whenever the activation passes a gradient.
 */
static void train_towards_dead_units(sl_model *m, const sl_dataset *ds, int steps)
{
    sl_tensor *w2 = param(m, "layers.2.weight"); /* [3, HID] */
    for (int u = 0; u < HID; u++)
        for (int k = 0; k < 3; k++)
            w2->data[k * HID + u] = (u == 1 || u == 4) ? (k == 0 ? 1.0f : -1.0f) : 0.0f;
    sl_error err = {0};
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    sl_optimizer *opt = sl_optimizer_new(sl_model_param(m, 0), 2, &spec, &err); /* layer 0 */
    sl_graph *g = sl_graph_new(0, &err);
    float x[8 * IN];
    int32_t y[8];
    sl_tensor *input = sl_tensor_wrap(x, 2, (int64_t[]){8, IN}, &err);
    assert_non_null(opt);
    assert_non_null(input);
    for (int step = 0; step < steps; step++) {
        assert_int_equal(sl_dataset_read(ds, (step % 4) * 8, 8, x, y, &err), SL_OK);
        sl_graph_reset(g);
        sl_tensor *loss = sl_loss(g, sl_model_forward(m, g, input), y, SL_LOSS_CROSS_ENTROPY);
        assert_non_null(loss);
        sl_model_zero_grad(m);
        assert_int_equal(sl_backward(g, loss), SL_OK);
        assert_int_equal(sl_optimizer_step(opt, 1.0f, &err), SL_OK);
    }
    sl_tensor_free(input);
    sl_graph_free(g);
    sl_optimizer_free(opt);
}

static void test_leaky_counts_same_but_has_gradient_and_revives(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 1);
    sl_model *m = linear_net(act(SL_LAYER_LEAKY_RELU, 0.1f));
    sl_tensor *b = param(m, "layers.0.bias");
    b->data[1] = b->data[4] = -0.5f; /* |w.x| < 0.4: still dead, but closer to the edge */
    sl_stats *s = new_stats(m, p.ds, 32);
    measure(s, 0);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    static const int dead[2] = {1, 4};
    assert_int_equal(l->dead, 2);
    assert_mask(sl_stats_dead_mask(s, 0), HID, dead, 2);
    const double *g = sl_stats_unit_grad(s, 0);
    assert_true(g[1] > 0.0 && g[4] > 0.0); /* inactive, but a gradient still arrives */

    train_towards_dead_units(m, p.ds, 40);
    measure(s, 1);
    print_message("leaky: %lld dead after training, %lld revived\n", (long long)l->dead,
                  (long long)l->revived);
    assert_true(l->revived >= 1);
    assert_int_equal(l->dead, 2 - l->revived);

    /* The same with ReLU: no gradient reaches the dead units, nothing comes back. */
    sl_model *r = linear_net(act(SL_LAYER_RELU, 0.0f));
    b = param(r, "layers.0.bias");
    b->data[1] = b->data[4] = -0.5f;
    sl_stats *sr = new_stats(r, p.ds, 32);
    measure(sr, 0);
    train_towards_dead_units(r, p.ds, 40);
    measure(sr, 1);
    assert_int_equal(sl_stats_layer(sr, 0)->dead, 2);
    assert_int_equal(sl_stats_layer(sr, 0)->revived, 0);
    assert_float_equal(param(r, "layers.0.bias")->data[1], -0.5f, 0.0);
    sl_stats_free(sr);
    sl_model_free(r);
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

static void test_died_and_revived(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_RELU, 0.0f));
    sl_stats *s = new_stats(m, p.ds, 16);
    measure(s, 0);
    sl_tensor *b = param(m, "layers.0.bias");
    b->data[0] = -1.0f; /* unit 0 dies */
    b->data[3] = -1.0f; /* unit 3 dies */
    b->data[4] = 10.0f; /* unit 4 comes back */
    measure(s, 1);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_int_equal(sl_stats_reports(s), 2);
    assert_int_equal(sl_stats_epoch(s), 1);
    assert_int_equal(sl_stats_step(s), 10);
    assert_int_equal(l->dead, 3);
    assert_int_equal(l->died, 2);
    assert_int_equal(l->revived, 1);
    static const int dead[3] = {0, 1, 3};
    assert_mask(sl_stats_dead_mask(s, 0), HID, dead, 3);
    assert_int_equal(l->born_dead, 1); /* unit 1: dead at both reports; 4 came back */
    measure(s, 2); /* nothing changed */
    assert_int_equal(l->born_dead, 1);
    assert_int_equal(l->died, 0);
    assert_int_equal(l->revived, 0);
    assert_int_equal(l->dead, 3);
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/* The gradient statistic against a hand computation: dl_i/dz = relu'(z) * W2^T (softmax - onehot). */
/* The line `slope train` prints per layer: "dead" for ReLU only, "inactive" for the rest. */
static void test_summary_line(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    static const sl_layer_type kinds[3] = {SL_LAYER_RELU, SL_LAYER_LEAKY_RELU, SL_LAYER_PRELU};
    static const char *const expect[3] = {
        "layer 1 relu: 2/6 dead (33.3%), 2 since init, died 0, revived 0, neg mean %.3g",
        "layer 1 leaky_relu: 2/6 inactive (33.3%), 2 since init, died 0, revived 0, neg mean %.3g",
        "layer 1 prelu: 2/6 inactive (33.3%), 2 since init, died 0, revived 0, neg mean %.3g, "
        "alpha 0.25 [0.25, 0.25]"};
    for (int k = 0; k < 3; k++) {
        sl_model *m = linear_net(act(kinds[k], kinds[k] == SL_LAYER_LEAKY_RELU ? 0.1f : 0.0f));
        sl_stats *s = new_stats(m, p.ds, 16);
        measure(s, 0);
        char line[160], want[160];
        snprintf(want, sizeof want, expect[k], sl_stats_layer(s, 0)->neg_mean);
        assert_ptr_equal(sl_stats_summary_line(s, 0, line, sizeof line), line);
        assert_string_equal(line, want);
        assert_non_null(sl_stats_summary_line(s, 0, line, 12)); /* truncated, terminated */
        assert_int_equal(strlen(line), 11);
        assert_memory_equal(line, want, 11);
        sl_stats_free(s);
        sl_model_free(m);
    }
    /* After a unit died and one came back. */
    sl_model *m = linear_net(act(SL_LAYER_RELU, 0.0f));
    sl_stats *s = new_stats(m, p.ds, 16);
    measure(s, 0);
    sl_tensor *b = param(m, "layers.0.bias");
    b->data[0] = -1.0f;
    b->data[4] = 10.0f;
    measure(s, 1);
    char line[160];
    sl_stats_summary_line(s, 0, line, sizeof line);
    assert_non_null(strstr(line, ": 2/6 dead (33.3%), 1 since init, died 1, revived 1, "));
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
    /* Only ReLU's units die: every other activation's are inactive. */
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++) {
        const char *w = sl_stats_unit_word((sl_layer_type)t);
        if (!sl_layer_is_activation((sl_layer_type)t))
            assert_null(w);
        else
            assert_string_equal(w, t == SL_LAYER_RELU ? "dead" : "inactive");
    }
}

static void test_gradient_statistic_by_hand(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_RELU, 0.0f));
    sl_tensor *w1 = param(m, "layers.0.weight"), *b1 = param(m, "layers.0.bias");
    sl_tensor *w2 = param(m, "layers.2.weight"), *b2 = param(m, "layers.2.bias");
    double expect[HID] = {0};
    for (int e = 0; e < N_PROBE; e++) {
        double z[HID], h[HID], o[3], mx = -1e30, sum = 0.0;
        for (int u = 0; u < HID; u++) {
            z[u] = b1->data[u];
            for (int i = 0; i < IN; i++)
                z[u] += (double)w1->data[u * IN + i] * p.x[e * IN + i];
            h[u] = z[u] > 0.0 ? z[u] : 0.0;
        }
        for (int k = 0; k < 3; k++) {
            o[k] = b2->data[k];
            for (int u = 0; u < HID; u++)
                o[k] += (double)w2->data[k * HID + u] * h[u];
            mx = fmax(mx, o[k]);
        }
        for (int k = 0; k < 3; k++)
            sum += exp(o[k] - mx);
        for (int u = 0; u < HID; u++) {
            double g = 0.0;
            for (int k = 0; k < 3; k++)
                g += (double)w2->data[k * HID + u] * (exp(o[k] - mx) / sum - (p.y[e] == k));
            expect[u] += z[u] > 0.0 ? fabs(g) / N_PROBE : 0.0;
        }
    }
    int64_t batches[3] = {32, 7, 1}; /* the statistic does not depend on the batch size */
    for (int k = 0; k < 3; k++) {
        sl_stats *s = new_stats(m, p.ds, batches[k]);
        measure(s, 0);
        const double *g = sl_stats_unit_grad(s, 0);
        double mean = 0.0;
        for (int u = 0; u < HID; u++) {
            assert_float_equal(g[u], expect[u], 1e-5 + 1e-4 * expect[u]);
            mean += expect[u] / HID;
        }
        assert_float_equal(sl_stats_layer(s, 0)->grad_mean_abs, mean, 1e-5 + 1e-4 * mean);
        sl_stats_free(s);
    }
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

static void test_prelu_slopes(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_PRELU, 0.0f));
    static const float slopes[HID] = {0.1f, 0.2f, 0.3f, -0.1f, 0.5f, 0.25f};
    memcpy(param(m, "layers.1.weight")->data, slopes, sizeof slopes);
    sl_stats *s = new_stats(m, p.ds, 32);
    measure(s, 0);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_int_equal(l->type, SL_LAYER_PRELU);
    assert_int_equal(l->n_alpha, HID);
    assert_float_equal(l->alpha_mean, 1.25 / 6.0, 1e-6);
    assert_float_equal(l->alpha_min, -0.1, 1e-6);
    assert_float_equal(l->alpha_max, 0.5, 1e-6);
    assert_int_equal(l->dead, 2);
    assert_true(sl_stats_unit_grad(s, 0)[4] > 0.0); /* slope 0.5 on a dead unit */
    const float *a = sl_stats_alpha(s, 0);
    assert_non_null(a);
    assert_memory_equal(a, slopes, sizeof slopes);
    int64_t counts[4];
    sl_error err = {0};
    assert_int_equal(sl_stats_alpha_histogram(s, 0, -0.2, 0.6, 4, counts, &err), SL_OK);
    assert_int_equal(counts[0], 1); /* -0.1 */
    assert_int_equal(counts[1], 1); /* 0.1 */
    assert_int_equal(counts[2], 3); /* 0.2, 0.25, 0.3 */
    assert_int_equal(counts[3], 1); /* 0.5 */
    assert_int_equal(sl_stats_alpha_histogram(s, 0, 0.0, 0.1, 2, counts, &err), SL_OK);
    assert_int_equal(counts[0], 1); /* -0.1 clamps into the first bin */
    assert_int_equal(counts[1], 5);
    assert_int_equal(sl_stats_alpha_histogram(s, 0, 1.0, 0.0, 2, counts, &err), SL_ERR_INVALID);
    sl_stats_free(s);

    /* One shared slope. */
    sl_layer_spec shared = sl_layer_defaults(SL_LAYER_PRELU);
    shared.alpha = 0.3f;
    sl_model *m1 = linear_net(shared);
    sl_stats *s1 = new_stats(m1, p.ds, 32);
    measure(s1, 0);
    l = sl_stats_layer(s1, 0);
    assert_int_equal(l->n_alpha, 1);
    assert_float_equal(l->alpha_mean, 0.3, 1e-6);
    assert_float_equal(l->alpha_min, 0.3, 1e-6);
    assert_float_equal(l->alpha_max, 0.3, 1e-6);
    sl_stats_free(s1);
    sl_model_free(m1);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/* GELU is an activation row: the statistics find it, with no slopes; born-dead takes it. */
static void test_gelu_is_an_activation(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(sl_layer_defaults(SL_LAYER_GELU));
    sl_stats *s = new_stats(m, p.ds, 32);
    measure(s, 0);
    assert_int_equal(sl_stats_num_layers(s), 1);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_int_equal(l->type, SL_LAYER_GELU);
    assert_int_equal(l->layer, 1);
    assert_int_equal(l->units, HID);
    assert_int_equal(l->n_alpha, 0);
    assert_null(sl_stats_alpha(s, 0));
    assert_int_equal(l->dead, 2); /* units 1 and 4: pre-activations <= 0 on every probe */
    assert_true(sl_stats_unit_grad(s, 0)[1] > 0.0); /* GELU passes a gradient below 0 */
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);

    sl_born_dead_spec b = sl_born_dead_defaults();
    b.act = sl_layer_defaults(SL_LAYER_GELU);
    b.trials = 20;
    sl_born_dead_result r;
    sl_error err = {0};
    assert_int_equal(sl_born_dead(&b, &r, &err), SL_OK);
    assert_int_equal(r.trials, 20);
    b.act = sl_layer_defaults(SL_LAYER_LINEAR);
    assert_int_equal(sl_born_dead(&b, &r, &err), SL_ERR_INVALID);
}

/* The probe changes nothing training sees: gradients, parameters, batch_norm running statistics. */
static void test_probe_leaves_training_untouched(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    int64_t in = IN;
    sl_model *m = sl_model_new(1, &in, &err);
    add(m, linear(HID));
    add(m, sl_layer_defaults(SL_LAYER_BATCH_NORM));
    add(m, act(SL_LAYER_RELU, 0.0f));
    add(m, sl_layer_defaults(SL_LAYER_DROPOUT));
    add(m, linear(3));
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 5, &err), SL_OK);
    sl_tensor *mean = param(m, "layers.1.running_mean"), *var = param(m, "layers.1.running_var");
    for (int u = 0; u < HID; u++) {
        mean->data[u] = 0.1f * (float)u;
        var->data[u] = 1.0f + 0.5f * (float)u;
    }
    int64_t n;
    float *grads = sl_model_flat_grads(m, &n), *params = sl_model_flat_params(m, NULL);
    for (int64_t i = 0; i < n; i++)
        grads[i] = (float)i * 0.001f;
    float before_g[512], before_p[512], before_mean[HID], before_var[HID];
    assert_true(n <= 512);
    memcpy(before_g, grads, (size_t)n * sizeof *grads);
    memcpy(before_p, params, (size_t)n * sizeof *params);
    memcpy(before_mean, mean->data, sizeof before_mean);
    memcpy(before_var, var->data, sizeof before_var);
    sl_stats *s = new_stats(m, p.ds, 10);
    measure(s, 0);
    measure(s, 1);
    assert_memory_equal(grads, before_g, (size_t)n * sizeof *grads);
    assert_memory_equal(params, before_p, (size_t)n * sizeof *params);
    assert_memory_equal(mean->data, before_mean, sizeof before_mean);
    assert_memory_equal(var->data, before_var, sizeof before_var);
    assert_int_equal(sl_stats_layer(s, 0)->layer, 2);
    assert_true(sl_stats_layer(s, 0)->grad_mean_abs > 0.0);
    /* Capture is off again: a plain forward keeps nothing. */
    sl_graph *g = sl_graph_new(0, &err);
    sl_tensor *x = tu_tensor_uniform(2, (int64_t[]){3, IN}, -1.0f, 1.0f, 9);
    sl_graph_set_training(g, 0);
    assert_non_null(sl_model_forward(m, g, x));
    assert_null(sl_model_captured(m, 2));
    sl_tensor_free(x);
    sl_graph_free(g);
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/* ---- the probe's batches ---------------------------------------------------------- */

/* input [2, 5, 5] -> conv 4 -> leaky_relu 0.1 (in place) -> max_pool 2 -> conv 3 -> prelu per
 * channel (out of place) -> flatten -> linear 6 -> relu (in place) -> linear 3; channel 0 of
 * the first conv is wholly negative. */
static sl_model *batching_net(void)
{
    sl_error err = {0};
    int64_t shape[3] = {2, 5, 5};
    sl_model *m = sl_model_new(3, shape, &err);
    sl_layer_spec conv = sl_layer_defaults(SL_LAYER_CONV2D), pool = sl_layer_defaults(SL_LAYER_MAX_POOL2D);
    conv.out = 4;
    conv.kernel = 3;
    conv.padding = 1;
    pool.kernel = 2;
    add(m, conv);
    add(m, act(SL_LAYER_LEAKY_RELU, 0.1f));
    add(m, pool);
    conv.out = 3;
    add(m, conv);
    add(m, act(SL_LAYER_PRELU, 0.25f));
    add(m, sl_layer_defaults(SL_LAYER_FLATTEN));
    add(m, linear(6));
    add(m, act(SL_LAYER_RELU, 0.0f));
    add(m, linear(3));
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 11, &err), SL_OK);
    param(m, "layers.0.bias")->data[0] = -10.0f;
    return m;
}

static void assert_close(double a, double b, double rel)
{
    if (isnan(a) || isnan(b)) {
        assert_true(isnan(a) && isnan(b));
        return;
    }
    assert_float_equal(a, b, 1e-12 + rel * fabs(b));
}

/* The two reports agree: counts and masks exactly, the float figures to rounding. */
static void assert_same_figures(const sl_stats *a, const sl_stats *b)
{
    assert_int_equal(sl_stats_num_layers(a), sl_stats_num_layers(b));
    for (size_t i = 0; i < sl_stats_num_layers(a); i++) {
        const sl_layer_stats *x = sl_stats_layer(a, i), *y = sl_stats_layer(b, i);
        assert_int_equal(x->dead, y->dead);
        assert_int_equal(x->died, y->died);
        assert_int_equal(x->revived, y->revived);
        assert_int_equal(x->born_dead, y->born_dead);
        assert_true(x->sparsity == y->sparsity);
        assert_true(x->below_minus1 == y->below_minus1);
        assert_memory_equal(sl_stats_dead_mask(a, i), sl_stats_dead_mask(b, i), (size_t)x->units);
        assert_close(x->grad_mean_abs, y->grad_mean_abs, 1e-6);
        assert_close(x->neg_mean, y->neg_mean, 1e-6);
        assert_close(x->neg_p01, y->neg_p01, 1e-6);
        for (int64_t u = 0; u < x->units; u++)
            assert_close(sl_stats_unit_grad(a, i)[u], sl_stats_unit_grad(b, i)[u], 1e-6);
    }
}

/*
 * A report's figures do not depend on how the probe is cut into batches: one batch of all
 * 32, batches of 5 (and a last of 2), and batches of 8 in a trainer's graph (what a run
 * does) agree, at the first report and at a second one after a channel died.  Sharing the
 * trainer's graph grows its arena no further and leaves its modes as they were.
 */
static void test_probe_batching_does_not_matter(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t shape[3] = {2, 5, 5};
    probe_data p;
    make_probe(&p, 3, shape, 0);
    sl_model *m = batching_net();
    sl_train_options o = sl_train_defaults();
    o.batch_size = 8;
    o.optim.lr = 0.01f;
    sl_trainer *t = sl_trainer_new(m, p.ds, &o, &err);
    assert_non_null(t);
    sl_step_info info;
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK); /* the arena holds a step */
    sl_graph *g = sl_trainer_graph(t);
    size_t capacity = sl_graph_arena_capacity(g);
    sl_stats *whole = new_stats(m, p.ds, N_PROBE), *fives = new_stats(m, p.ds, 5);
    sl_stats *shared = new_stats(m, p.ds, 8);
    assert_int_equal(sl_stats_share_graph(shared, g, &err), SL_OK);
    for (int report = 0; report < 2; report++) {
        if (report == 1)
            param(m, "layers.0.bias")->data[1] = -10.0f; /* channel 1 dies */
        measure(whole, report);
        measure(fives, report);
        measure(shared, report);
        assert_same_figures(fives, whole);
        assert_same_figures(shared, whole);
    }
    const sl_layer_stats *first = sl_stats_layer(whole, 0);
    assert_int_equal(first->dead, 2); /* channels 0 and 1: not a degenerate case */
    assert_int_equal(first->died, 1);
    assert_true(first->grad_mean_abs > 0.0 && first->neg_mean < 0.0);
    assert_true(sl_stats_layer(whole, 1)->n_alpha == 3);
    assert_int_equal(sl_graph_arena_capacity(g), capacity);
    assert_int_equal(sl_graph_training(g), 1);
    assert_int_equal(sl_graph_grad_enabled(g), 1);
    /* The trainer goes on in the graph the reports used; back to a graph of its own too. */
    assert_int_equal(sl_trainer_step(t, &info, &err), SL_OK);
    assert_int_equal(sl_stats_share_graph(shared, NULL, &err), SL_OK);
    measure(shared, 2);
    measure(whole, 2);
    assert_same_figures(shared, whole);
    sl_stats_free(whole);
    sl_stats_free(fives);
    sl_stats_free(shared);
    sl_trainer_free(t);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t shape[1] = {3};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_RELU, 0.0f));
    assert_null(sl_stats_new(m, p.ds, 8, SL_LOSS_CROSS_ENTROPY, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    assert_null(sl_stats_new(m, p.ds, 0, SL_LOSS_CROSS_ENTROPY, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_null(sl_stats_new(NULL, p.ds, 8, SL_LOSS_CROSS_ENTROPY, &err));
    assert_int_equal(sl_stats_measure(NULL, 0, 0, &err), SL_ERR_INVALID);
    sl_stats_free(NULL);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

/* ---- born dead ----------------------------------------------------------------------------- */

static void check_born_dead(int width, int depth, int64_t trials, double expect)
{
    sl_error err = {0};
    sl_born_dead_spec s = sl_born_dead_defaults();
    s.width = width;
    s.depth = depth;
    s.trials = trials;
    s.seed = 1234;
    sl_born_dead_result r;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_OK);
    assert_int_equal(r.exact, 1);
    assert_int_equal(r.trials, trials);
    double se = sqrt(expect * (1.0 - expect) / (double)trials);
    print_message("born dead w=%d d=%d: %.4f (exact %.4f, se %.4f)\n", width, depth, r.p_dead,
                  expect, se);
    assert_true(fabs(r.p_dead - expect) <= 4.0 * se + 1e-12);
}

static void test_born_dead_exact_values(void **state)
{
    (void)state;
    /* Width 1: the unit at layer 1 is alive for exactly one sign of x; each later layer keeps
     * it alive with probability 1/2, so p = 1 - 2^(1 - depth). */
    for (int d = 1; d <= 5; d++)
        check_born_dead(1, d, 4000, 1.0 - ldexp(1.0, 1 - d));
    /* Depth 2: the two sign branches use disjoint columns of W2: p = 4^-w (3 - 2^(1 - w)). */
    check_born_dead(2, 2, 8000, (3.0 - 0.5) / 16.0);
    check_born_dead(3, 2, 8000, (3.0 - 0.25) / 64.0);
    double lo, hi;
    assert_int_equal(sl_born_dead_theory(1, 3, &lo, &hi), 1);
    assert_float_equal(lo, 0.75, 1e-12);
    assert_float_equal(hi, 0.75, 1e-12);
    assert_int_equal(sl_born_dead_theory(2, 2, &lo, &hi), 1);
    assert_float_equal(lo, 2.5 / 16.0, 1e-12);
    assert_int_equal(sl_born_dead_theory(2, 5, &lo, &hi), 0);
    assert_float_equal(hi, 1.0 - pow(0.75, 5), 1e-12);
    assert_float_equal(lo, 1.0 - 2.0 * pow(0.75, 5), 1e-12);
    assert_true(lo < hi);
}

/* ---- negative growth --------------------------------------------------------------- */

#define NG_N 500 /* probe examples: 500 * NG_HID pre-activations, about half negative */
#define NG_HID 8

/* Inputs whose size spans six decades (a per-example scale 10^U(-3, 3)): the negative
 * pre-activations then fill many bins of the |x| histogram. */
static float ng_x[NG_N * IN];
static int32_t ng_y[NG_N];

static sl_dataset *ng_probe(void)
{
    sl_rng r;
    sl_rng_seed(&r, 11);
    for (int e = 0; e < NG_N; e++) {
        double scale = pow(10.0, 6.0 * sl_rng_uniform(&r) - 3.0);
        for (int i = 0; i < IN; i++)
            ng_x[e * IN + i] = (float)(scale * (2.0 * sl_rng_uniform(&r) - 1.0));
        ng_y[e] = e % 3;
    }
    sl_error err = {0};
    int64_t shape[1] = {IN};
    sl_dataset *ds = sl_dataset_from_arrays(ng_x, ng_y, NG_N, 1, shape, 3, &err);
    assert_non_null(ds);
    return ds;
}

static float ng_weight(int u, int i) { return 0.25f * (float)((u * IN + i) % 7 - 3) + 0.125f; }

/* input [IN] -> linear NG_HID (weights ng_weight, bias `bias`) -> a -> linear 3. */
static sl_model *ng_net(sl_layer_spec a, float bias)
{
    sl_error err = {0};
    int64_t in = IN;
    sl_model *m = sl_model_new(1, &in, &err);
    add(m, linear(NG_HID));
    add(m, a);
    add(m, linear(3));
    assert_int_equal(sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 3, &err), SL_OK);
    sl_tensor *w = param(m, "layers.0.weight"), *b = param(m, "layers.0.bias");
    for (int u = 0; u < NG_HID; u++) {
        for (int i = 0; i < IN; i++)
            w->data[u * IN + i] = ng_weight(u, i);
        b->data[u] = bias;
    }
    return m;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The figures by brute force: every pre-activation computed here (double, then rounded to
 * float as the model's are), slope[u] the negative slope of unit u (0 for relu). */
typedef struct ng_expect {
    int64_t neg;
    double mean, p01, below;
} ng_expect;

static ng_expect ng_brute_force(float bias, const float *slope)
{
    static float negs[NG_N * NG_HID];
    ng_expect x = {0, 0.0, NAN, 0.0};
    double sum = 0.0;
    int64_t below = 0;
    for (int e = 0; e < NG_N; e++)
        for (int u = 0; u < NG_HID; u++) {
            double acc = bias;
            for (int i = 0; i < IN; i++)
                acc += (double)ng_weight(u, i) * (double)ng_x[e * IN + i];
            float v = (float)acc;
            float y = v > 0.0f ? v : slope[u] * v;
            below += y < -1.0f;
            if (v < 0.0f) {
                negs[x.neg++] = v;
                sum += v;
            }
        }
    x.below = (double)below / (NG_N * NG_HID);
    if (x.neg == 0) {
        x.mean = NAN;
        return x;
    }
    x.mean = sum / (double)x.neg;
    qsort(negs, (size_t)x.neg, sizeof *negs, cmp_float);
    x.p01 = negs[(x.neg + 99) / 100 - 1]; /* nearest rank: the ceil(n/100)-th most negative */
    return x;
}

static void check_negative_growth(const sl_layer_stats *l, const ng_expect *x)
{
    assert_true(x->neg > 1000); /* the case is not degenerate: k = ceil(n/100) > 10 */
    assert_float_equal(l->neg_mean, x->mean, 1e-5 * fabs(x->mean));
    /* The documented resolution: 10^(1/512) - 1 = 0.451% of |p01|, plus float rounding. */
    assert_true(fabs(l->neg_p01 - x->p01) <= 0.00452 * fabs(x->p01));
    assert_float_equal(l->below_minus1, x->below, 1e-12);
}

static void test_negative_growth_by_brute_force(void **state)
{
    (void)state;
    sl_dataset *ds = ng_probe();
    float slopes[NG_HID];
    /* relu: the same negative pre-activations, but no output below -1. */
    for (int u = 0; u < NG_HID; u++)
        slopes[u] = 0.0f;
    sl_model *m = ng_net(act(SL_LAYER_RELU, 0.0f), -0.05f);
    sl_stats *s = new_stats(m, ds, 64); /* 7 batches of 64 and one of 52 */
    measure(s, 0);
    ng_expect x = ng_brute_force(-0.05f, slopes);
    check_negative_growth(sl_stats_layer(s, 0), &x);
    assert_float_equal(sl_stats_layer(s, 0)->below_minus1, 0.0, 0.0);
    assert_true(x.p01 < -10.0); /* the 1st percentile sits far out */
    sl_stats_free(s);
    sl_model_free(m);

    /* leaky_relu 0.1: outputs below -1 are the x < -10. */
    for (int u = 0; u < NG_HID; u++)
        slopes[u] = 0.1f;
    m = ng_net(act(SL_LAYER_LEAKY_RELU, 0.1f), -0.05f);
    s = new_stats(m, ds, 100);
    measure(s, 0);
    x = ng_brute_force(-0.05f, slopes);
    check_negative_growth(sl_stats_layer(s, 0), &x);
    assert_true(x.below > 0.01);
    sl_stats_free(s);
    sl_model_free(m);

    /* PReLU, one slope per unit (some above 1, one negative): outputs alpha_u * x. */
    m = ng_net(act(SL_LAYER_PRELU, 0.25f), 0.3f);
    sl_tensor *alpha = param(m, "layers.1.weight");
    assert_int_equal(alpha->size, NG_HID);
    for (int u = 0; u < NG_HID; u++)
        alpha->data[u] = slopes[u] = 0.5f * (float)u - 0.5f; /* -0.5, 0, ..., 3 */
    s = new_stats(m, ds, NG_N);
    measure(s, 0);
    x = ng_brute_force(0.3f, slopes);
    check_negative_growth(sl_stats_layer(s, 0), &x);
    assert_true(x.below > 0.05);
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(ds);
}

/* No pre-activation below 0: NAN mean and percentile, nothing below -1; zeros are not < 0. */
static void test_negative_growth_none(void **state)
{
    (void)state;
    int64_t shape[1] = {IN};
    probe_data p;
    make_probe(&p, 1, shape, 0);
    sl_model *m = linear_net(act(SL_LAYER_LEAKY_RELU, 0.1f));
    sl_tensor *w = param(m, "layers.0.weight"), *b = param(m, "layers.0.bias");
    for (int u = 0; u < HID; u++)
        b->data[u] = u < 3 ? 10.0f : 0.0f;
    for (int64_t i = 0; i < w->size; i++)
        w->data[i] = i < 3 * IN ? w->data[i] : 0.0f; /* units 3..5: exactly 0 */
    sl_stats *s = new_stats(m, p.ds, 8);
    const sl_layer_stats *l = sl_stats_layer(s, 0);
    assert_true(isnan(l->neg_mean) && isnan(l->neg_p01)); /* before the first report too */
    measure(s, 0);
    assert_true(isnan(l->neg_mean));
    assert_true(isnan(l->neg_p01));
    assert_float_equal(l->below_minus1, 0.0, 0.0);
    assert_int_equal(l->dead, 3); /* the zeros are <= 0, but not negative */
    /* One unit made negative at the second report: the figures come back (not stale). */
    b->data[0] = -20.0f;
    measure(s, 1);
    assert_true(l->neg_mean < -19.0 && l->neg_mean > -21.0);
    assert_true(l->neg_p01 <= l->neg_mean);
    assert_float_equal(l->below_minus1, 1.0 / HID, 1e-12); /* 0.1 * x < -1 for x < -10 */
    sl_stats_free(s);
    sl_model_free(m);
    sl_dataset_free(p.ds);
}

static void test_born_dead_bounds_and_leaky(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_born_dead_spec s = sl_born_dead_defaults();
    s.width = 3;
    s.depth = 8;
    s.trials = 3000;
    sl_born_dead_result r;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_OK);
    double lo, hi;
    sl_born_dead_theory(3, 8, &lo, &hi);
    assert_true(r.p_dead >= lo - 4.0 * r.std_error && r.p_dead <= hi + 4.0 * r.std_error);
    /* Leaky ReLU keeps signs: with width 1 the x > 0 and x < 0 pre-activations are of
     * opposite signs in every layer, so no layer is ever wholly negative. */
    s.act = sl_layer_defaults(SL_LAYER_LEAKY_RELU);
    s.width = 1;
    s.depth = 10;
    s.trials = 500;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_OK);
    assert_int_equal(r.dead, 0);
    /* Wider leaky nets do have wholly negative layers, and still count them. */
    s.width = 2;
    s.depth = 20;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_OK);
    assert_true(r.mean_dead_layers > 0.0);
    /* Non-zero biases: sampled, not exact. */
    s = sl_born_dead_defaults();
    s.bias = SL_BIAS_NORMAL;
    s.trials = 50;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_OK);
    assert_int_equal(r.exact, 0);
    s.width = 0;
    assert_int_equal(sl_born_dead(&s, &r, &err), SL_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_dead_units),
        cmocka_unit_test(test_conv_dead_channels),
        cmocka_unit_test(test_leaky_counts_same_but_has_gradient_and_revives),
        cmocka_unit_test(test_died_and_revived),
        cmocka_unit_test(test_summary_line),
        cmocka_unit_test(test_gradient_statistic_by_hand),
        cmocka_unit_test(test_prelu_slopes),
        cmocka_unit_test(test_probe_leaves_training_untouched),
        cmocka_unit_test(test_probe_batching_does_not_matter),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_gelu_is_an_activation),
        cmocka_unit_test(test_negative_growth_by_brute_force),
        cmocka_unit_test(test_negative_growth_none),
        cmocka_unit_test(test_born_dead_exact_values),
        cmocka_unit_test(test_born_dead_bounds_and_leaky),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
