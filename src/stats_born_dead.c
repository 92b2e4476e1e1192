/*
 * stats_born_dead.c - the probability that a deep, narrow net is dead at
 * initialisation (see sl_born_dead in slope/stats.h), and what theory says.
 *
 * Each trial draws a fresh net from its own seed, runs the probe inputs
 * through it with activation capture on, and looks for a hidden layer whose
 * pre-activations are all <= 0.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "slope/graph.h"
#include "slope/rng.h"
#include "slope/stats.h"

sl_born_dead_spec sl_born_dead_defaults(void)
{
    sl_born_dead_spec s;
    memset(&s, 0, sizeof s);
    s.width = 2;
    s.depth = 10;
    s.input_dim = 1;
    s.act = sl_layer_defaults(SL_LAYER_RELU);
    s.init = SL_INIT_KAIMING_NORMAL;
    s.bias = SL_BIAS_ZERO;
    s.bias_scale = 0.1f;
    s.trials = 1000;
    s.probes = 1000;
    s.seed = 42;
    return s;
}

/* Whether every bias is exactly zero, so the net is positively homogeneous. */
static int zero_biases(const sl_born_dead_spec *s)
{
    return s->bias == SL_BIAS_ZERO || (s->bias == SL_BIAS_INIT && s->init != SL_INIT_PYTORCH) ||
           ((s->bias == SL_BIAS_CONST || s->bias == SL_BIAS_NORMAL ||
             s->bias == SL_BIAS_UNIFORM) && s->bias_scale == 0.0f);
}

static int is_exact(const sl_born_dead_spec *s)
{
    return s->input_dim == 1 && zero_biases(s);
}

static sl_model *make_net(const sl_born_dead_spec *s, sl_error *err)
{
    int64_t in = s->input_dim;
    sl_model *m = sl_model_new(1, &in, err);
    sl_layer_spec lin = sl_layer_defaults(SL_LAYER_LINEAR), out = lin;
    lin.out = s->width;
    out.out = 1;
    sl_status st = m ? SL_OK : SL_ERR_NOMEM;
    for (int l = 0; st == SL_OK && l < s->depth; l++) {
        st = sl_model_add(m, &lin, err);
        if (st == SL_OK)
            st = sl_model_add(m, &s->act, err);
    }
    if (st == SL_OK)
        st = sl_model_add(m, &out, err);
    if (st == SL_OK)
        st = sl_model_init(m, s->init, s->seed, err);
    if (st != SL_OK) {
        sl_model_free(m);
        return NULL;
    }
    return m;
}

/* The probe inputs: x = +1 and x = -1 when exact, else `probes` draws from N(0, I). */
static sl_tensor *make_probes(const sl_born_dead_spec *s, sl_error *err)
{
    int64_t shape[2] = {is_exact(s) ? 2 : s->probes, s->input_dim};
    sl_tensor *x = sl_tensor_new(2, shape, err);
    if (!x)
        return NULL;
    if (is_exact(s)) {
        x->data[0] = 1.0f;
        x->data[1] = -1.0f;
        return x;
    }
    sl_rng r;
    sl_rng_seed(&r, s->seed ^ 0x5851F42D4C957F2Dull);
    for (int64_t i = 0; i < x->size; i++)
        x->data[i] = sl_rng_normal(&r);
    return x;
}

static void set_biases(sl_model *m, const sl_born_dead_spec *s, sl_rng *r)
{
    if (s->bias == SL_BIAS_INIT)
        return;
    for (size_t p = 0; p < sl_model_num_params(m); p++) {
        const sl_param *par = sl_model_param(m, p);
        if (par->role != SL_PARAM_BIAS)
            continue;
        for (int64_t i = 0; i < par->tensor->size; i++) {
            float v = 0.0f;
            if (s->bias == SL_BIAS_NORMAL)
                v = s->bias_scale * sl_rng_normal(r);
            else if (s->bias == SL_BIAS_UNIFORM)
                v = s->bias_scale * (2.0f * sl_rng_uniform(r) - 1.0f);
            else if (s->bias == SL_BIAS_CONST)
                v = s->bias_scale;
            par->tensor->data[i] = v;
        }
    }
}

static int all_nonpositive(const sl_tensor *t)
{
    for (int64_t i = 0; i < t->size; i++)
        if (t->data[i] > 0.0f)
            return 0;
    return 1;
}

/* Runs the probes through m; returns the number of hidden layers wholly <= 0, or -1. */
static int count_dead_layers(sl_model *m, sl_graph *g, sl_tensor *x)
{
    sl_graph_reset(g);
    if (!sl_model_forward(m, g, x))
        return -1;
    int dead = 0;
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        const sl_tensor *pre = sl_model_captured(m, i);
        dead += pre && all_nonpositive(pre);
    }
    return dead;
}

static uint64_t trial_seed(uint64_t seed, int64_t t)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static sl_status run_trials(const sl_born_dead_spec *s, sl_model *m, sl_graph *g, sl_tensor *x,
                            sl_born_dead_result *res, sl_error *err)
{
    double layers = 0.0;
    for (int64_t t = 0; t < s->trials; t++) {
        uint64_t seed = trial_seed(s->seed, t);
        sl_rng r;
        sl_rng_seed(&r, seed ^ 0xD1B54A32D192ED03ull);
        if (sl_model_init(m, s->init, seed, err) != SL_OK)
            return err ? err->status : SL_ERR_INVALID;
        set_biases(m, s, &r);
        int dead = count_dead_layers(m, g, x);
        if (dead < 0)
            return sl_graph_take_error(g, err);
        res->dead += dead > 0;
        layers += dead;
    }
    res->trials = s->trials;
    res->p_dead = (double)res->dead / (double)s->trials;
    res->std_error = sqrt(res->p_dead * (1.0 - res->p_dead) / (double)s->trials);
    res->mean_dead_layers = layers / (double)s->trials;
    return SL_OK;
}

sl_status sl_born_dead(const sl_born_dead_spec *spec, sl_born_dead_result *result, sl_error *err)
{
    if (!spec || !result || spec->width < 1 || spec->depth < 1 || spec->input_dim < 1 ||
        spec->trials < 1 || spec->probes < 1 || !sl_layer_is_activation(spec->act.type))
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_born_dead: width, depth, input_dim, trials and probes must be "
                            ">= 1 and act an activation");
    memset(result, 0, sizeof *result);
    result->exact = is_exact(spec);
    sl_model *m = make_net(spec, err);
    sl_tensor *x = m ? make_probes(spec, err) : NULL;
    sl_graph *g = x ? sl_graph_new(spec->seed, err) : NULL;
    sl_status st = g ? SL_OK : (err && err->status ? err->status : SL_ERR_NOMEM);
    if (g) {
        sl_graph_set_grad_enabled(g, 0);
        sl_graph_set_training(g, 0);
        sl_model_set_capture(m, 1);
        st = run_trials(spec, m, g, x, result, err);
    }
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_model_free(m);
    return st;
}

int sl_born_dead_theory(int width, int depth, double *lo, double *hi)
{
    if (width < 1 || depth < 1) {
        if (lo)
            *lo = NAN;
        if (hi)
            *hi = NAN;
        return 0;
    }
    double alive = pow(1.0 - ldexp(1.0, -width), depth); /* one sign branch survives */
    double l = 1.0 - 2.0 * alive, h = 1.0 - alive;
    int exact = 1;
    if (depth == 1)
        l = h = 0.0;
    else if (width == 1)
        l = h = 1.0 - ldexp(1.0, 1 - depth);
    else if (depth == 2)
        l = h = ldexp(1.0, -2 * width) * (3.0 - ldexp(1.0, 1 - width));
    else
        exact = 0;
    if (lo)
        *lo = l > 0.0 ? l : 0.0;
    if (hi)
        *hi = h;
    return exact;
}
