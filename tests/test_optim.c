/*
 * test_optim.c - optimizers, gradient clipping and learning-rate schedules.
 *
 * The reference part replays tests/golden/optim_reference.json, written by
 * tools/torch_optim_reference.py (run by hand): each case is a few small
 * parameters with slope's roles, one synthetic gradient and learning rate per
 * step, and what torch.optim.SGD / Adam / AdamW made of them in float64: the
 * parameters after every step, the pre-clip gradient norm and the final state.
 * Each case becomes one CMocka test named after it.
 *
 * Tolerance: |got - expected| <= RTOL * |expected| + ATOL, RTOL = ATOL = 1e-6.
 * slope updates in float32; after five steps on O(1) values the float32 result
 * is a few 1e-7 from the exact one (the generator checks that torch's own
 * float32 run uses under a quarter of this tolerance).  ATOL covers elements
 * near zero, where a relative test is meaningless.
 *
 * The rest checks by hand: clipping, NaN/Inf gradients, invalid specs, the
 * parameter groups, state naming and exact resumption, and the schedules.
 */
#include "golden.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slope/optim.h"

#define REF_FILE "tests/golden/optim_reference.json"
#define RTOL 1e-6
#define ATOL 1e-6
#define MAX_PARAMS 8
#define MAX_ELEMS 64

/* ---- hand-built parameter sets ------------------------------------------------ */

typedef struct param_set {
    sl_param p[MAX_PARAMS];
    size_t n;
} param_set;

/* Appends a 1-d or 2-d parameter with the given data and (if grad) a gradient. */
static sl_tensor *ps_add(param_set *s, const char *name, sl_param_role role, int64_t rows,
                         int64_t cols, const float *data, const float *grad)
{
    assert_true(s->n < MAX_PARAMS);
    sl_error err = {0};
    int64_t shape[2] = {rows, cols};
    sl_tensor *t = sl_tensor_new(cols > 0 ? 2 : 1, shape, &err);
    assert_non_null(t);
    if (data)
        memcpy(t->data, data, (size_t)t->size * sizeof(float));
    if (grad) {
        assert_int_equal(sl_tensor_ensure_grad(t, &err), SL_OK);
        memcpy(t->grad, grad, (size_t)t->size * sizeof(float));
    }
    s->p[s->n++] = (sl_param){name, t, role, (int)s->n};
    return t;
}

static void ps_free(param_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        sl_tensor_free(s->p[i].tensor);
    s->n = 0;
}

static sl_optimizer *new_opt(const param_set *s, const sl_optim_spec *spec)
{
    sl_error err = {0};
    sl_optimizer *opt = sl_optimizer_new(s->p, s->n, spec, &err);
    if (!opt)
        fail_msg("sl_optimizer_new: %s", err.message);
    return opt;
}

static void step_ok(sl_optimizer *opt, float lr)
{
    sl_error err = {0};
    if (sl_optimizer_step(opt, lr, &err) != SL_OK)
        fail_msg("sl_optimizer_step: %s", err.message);
}

/* ---- the torch reference ------------------------------------------------------ */

static cJSON *g_doc;
static const char *g_load_error = "not loaded";
static int g_declared, g_present, g_completed;

typedef struct ref_case {
    const cJSON *json;
    const char *name;
    param_set params;
    sl_optimizer *opt;
} ref_case;

static void load_reference(void)
{
    tu_golden ref;
    tu_golden_load(&ref, REF_FILE, "tools/torch_optim_reference.py");
    g_doc = ref.doc;
    g_load_error = ref.error;
    g_declared = ref.declared;
    g_present = ref.present;
}

/* Reads a JSON array of numbers into out[n]; the length must be exactly n. */
static void read_floats(const ref_case *c, const cJSON *arr, float *out, int64_t n,
                        const char *what)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n)
        fail_msg("%s: %s is not an array of %lld numbers", c->name, what, (long long)n);
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v))
            fail_msg("%s: %s[%lld] is not a number", c->name, what, (long long)i);
        out[i++] = (float)v->valuedouble;
    }
}

static sl_optim_spec read_spec(const ref_case *c, const cJSON *js)
{
    sl_optim_kind kind;
    sl_error err = {0};
    if (sl_optim_parse(tu_json_string(c->name, js, "kind"), &kind, &err) != SL_OK)
        fail_msg("%s: %s", c->name, err.message);
    sl_optim_spec s = sl_optim_defaults(kind);
    s.lr = (float)tu_json_number(c->name, js, "lr");
    s.momentum = (float)tu_json_number(c->name, js, "momentum");
    s.nesterov = (int)tu_json_number(c->name, js, "nesterov");
    s.dampening = (float)tu_json_number(c->name, js, "dampening");
    s.weight_decay = (float)tu_json_number(c->name, js, "weight_decay");
    s.beta1 = (float)tu_json_number(c->name, js, "beta1");
    s.beta2 = (float)tu_json_number(c->name, js, "beta2");
    s.eps = (float)tu_json_number(c->name, js, "eps");
    s.decay_bias = (int)tu_json_number(c->name, js, "decay_bias");
    s.decay_prelu = (int)tu_json_number(c->name, js, "decay_prelu");
    s.decay_norm = (int)tu_json_number(c->name, js, "decay_norm");
    s.clip_grad_norm = (float)tu_json_number(c->name, js, "clip_grad_norm");
    return s;
}

static sl_param_role read_role(const ref_case *c, const char *role)
{
    static const char *const names[] = {"weight",     "bias",       "prelu_slope",
                                        "norm_scale", "norm_shift", "buffer"};
    for (int r = 0; r <= SL_PARAM_BUFFER; r++)
        if (strcmp(role, names[r]) == 0)
            return (sl_param_role)r;
    fail_msg("%s: unknown role \"%s\"", c->name, role);
    return SL_PARAM_BUFFER;
}

static void read_params(ref_case *c, const cJSON *arr)
{
    const cJSON *jp;
    cJSON_ArrayForEach(jp, arr)
    {
        const cJSON *shape = tu_json_need(c->name, jp, "shape");
        int ndim = cJSON_GetArraySize(shape);
        if (ndim < 1 || ndim > 2)
            fail_msg("%s: parameter of rank %d", c->name, ndim);
        int64_t rows = cJSON_GetArrayItem(shape, 0)->valueint;
        int64_t cols = ndim == 2 ? cJSON_GetArrayItem(shape, 1)->valueint : 0;
        float data[MAX_ELEMS];
        assert_true(rows * (cols ? cols : 1) <= MAX_ELEMS);
        read_floats(c, tu_json_need(c->name, jp, "data"), data, rows * (cols ? cols : 1), "data");
        ps_add(&c->params, tu_json_string(c->name, jp, "name"),
               read_role(c, tu_json_string(c->name, jp, "role")), rows, cols, data, data);
    }
}

static void check_close(const ref_case *c, const float *got, const float *expected, int64_t n,
                        const char *what, int step)
{
    for (int64_t i = 0; i < n; i++) {
        double tol = RTOL * fabs((double)expected[i]) + ATOL;
        if (!(fabs((double)got[i] - (double)expected[i]) <= tol))
            fail_msg("%s: %s element %lld after step %d: got %.9g, torch %.9g", c->name, what,
                     (long long)i, step + 1, got[i], expected[i]);
    }
}

static void run_steps(ref_case *c)
{
    const cJSON *lrs = tu_json_need(c->name, c->json, "lrs"), *grads = tu_json_need(c->name, c->json, "grads");
    const cJSON *expected = tu_json_need(c->name, c->json, "expected");
    const cJSON *norms = tu_json_need(c->name, c->json, "grad_norms");
    int steps = cJSON_GetArraySize(lrs);
    if (steps < 1 || cJSON_GetArraySize(grads) != steps || cJSON_GetArraySize(expected) != steps)
        fail_msg("%s: lrs, grads and expected disagree in length", c->name);
    for (int k = 0; k < steps; k++) {
        const cJSON *gk = cJSON_GetArrayItem(grads, k), *ek = cJSON_GetArrayItem(expected, k);
        for (size_t i = 0; i < c->params.n; i++) {
            sl_tensor *t = c->params.p[i].tensor;
            read_floats(c, cJSON_GetArrayItem(gk, (int)i), t->grad, t->size, "grads");
        }
        step_ok(c->opt, (float)cJSON_GetArrayItem(lrs, k)->valuedouble);
        float norm = (float)cJSON_GetArrayItem(norms, k)->valuedouble;
        check_close(c, (float[]){sl_optimizer_last_grad_norm(c->opt)}, &norm, 1, "grad norm", k);
        for (size_t i = 0; i < c->params.n; i++) {
            sl_tensor *t = c->params.p[i].tensor;
            float want[MAX_ELEMS];
            read_floats(c, cJSON_GetArrayItem(ek, (int)i), want, t->size, "expected");
            check_close(c, t->data, want, t->size, c->params.p[i].name, k);
        }
    }
    assert_int_equal(sl_optimizer_steps(c->opt), steps);
}

static void check_state(ref_case *c)
{
    const cJSON *state = tu_json_need(c->name, c->json, "state");
    int last_step = cJSON_GetArraySize(tu_json_need(c->name, c->json, "lrs")) - 1;
    size_t n = (size_t)cJSON_GetArraySize(state);
    assert_int_equal(sl_optimizer_state_count(c->opt), n);
    for (size_t i = 0; i < n; i++) {
        const cJSON *js = cJSON_GetArrayItem(state, (int)i);
        const char *name = NULL;
        sl_tensor *t = sl_optimizer_state(c->opt, i, &name);
        assert_non_null(t);
        assert_non_null(name);
        assert_string_equal(name, tu_json_string(c->name, js, "name"));
        float want[MAX_ELEMS];
        assert_true(t->size <= MAX_ELEMS);
        read_floats(c, tu_json_need(c->name, js, "data"), want, t->size, name);
        check_close(c, t->data, want, t->size, name, last_step);
    }
}

static void run_case(void **state)
{
    ref_case *c = *state;
    read_params(c, tu_json_need(c->name, c->json, "params"));
    sl_optim_spec spec = read_spec(c, tu_json_need(c->name, c->json, "spec"));
    c->opt = new_opt(&c->params, &spec);
    run_steps(c);
    check_state(c);
    g_completed++;
}

static int case_teardown(void **state)
{
    ref_case *c = *state;
    sl_optimizer_free(c->opt);
    c->opt = NULL;
    ps_free(&c->params);
    return 0;
}

static void test_reference_loaded(void **state)
{
    (void)state;
    if (g_load_error)
        fail_msg("%s", g_load_error);
    assert_true(g_present > 0);
    assert_int_equal(g_declared, g_present);
}

static void test_all_cases_ran(void **state)
{
    (void)state;
    assert_int_equal(g_completed, g_present);
}

/* ---- clipping ------------------------------------------------------------------- */

/* Gradients (3, 4) and (12): global norm 13. */
static void clip_params(param_set *s)
{
    static const float zero[2] = {0, 0};
    ps_add(s, "w", SL_PARAM_WEIGHT, 2, 0, zero, (const float[]){3, 4});
    ps_add(s, "b", SL_PARAM_BIAS, 1, 0, zero, (const float[]){12});
    ps_add(s, "running_mean", SL_PARAM_BUFFER, 1, 0, zero, (const float[]){1000});
}

static void test_clip_scales_to_max_norm(void **state)
{
    (void)state;
    param_set s = {0};
    clip_params(&s);
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    spec.clip_grad_norm = 1.0f;
    sl_optimizer *opt = new_opt(&s, &spec);
    step_ok(opt, 1.0f);
    /* torch: grads *= 1 / (13 + 1e-6); with lr 1 from 0 the parameters are -grads. */
    double coef = 1.0 / (13.0 + 1e-6);
    assert_float_equal(sl_optimizer_last_grad_norm(opt), 13.0, 1e-6);
    const float want_w[2] = {(float)(-3 * coef), (float)(-4 * coef)};
    const float want_b[1] = {(float)(-12 * coef)};
    tu_assert_close(s.p[0].tensor->data, want_w, 2, 1e-7, 1e-6, "clipped w");
    tu_assert_close(s.p[1].tensor->data, want_b, 1, 1e-7, 1e-6, "clipped b");
    /* The gradients themselves are clipped in place, as torch does. */
    tu_assert_close(s.p[1].tensor->grad, (const float[]){(float)(12 * coef)}, 1, 1e-7, 1e-6,
                    "clipped grad");
    assert_float_equal(s.p[2].tensor->data[0], 0.0f, 0.0f); /* the buffer is untouched */
    sl_optimizer_free(opt);
    ps_free(&s);
}

static void test_clip_leaves_small_norm_alone(void **state)
{
    (void)state;
    const float max_norms[] = {0.0f, 13.5f, 100.0f}; /* off, just above the norm, far above */
    for (int i = 0; i < 3; i++) {
        param_set s = {0};
        clip_params(&s);
        sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
        spec.clip_grad_norm = max_norms[i];
        sl_optimizer *opt = new_opt(&s, &spec);
        step_ok(opt, 1.0f);
        /* The norm is recorded whether or not clipping is on. */
        assert_float_equal(sl_optimizer_last_grad_norm(opt), 13.0, 1e-6);
        tu_assert_close(s.p[0].tensor->data, (const float[]){-3, -4}, 2, 0, 0, "unclipped w");
        tu_assert_close(s.p[1].tensor->data, (const float[]){-12}, 1, 0, 0, "unclipped b");
        sl_optimizer_free(opt);
        ps_free(&s);
    }
}

/* ---- non-finite gradients ----------------------------------------------------- */

static void check_non_finite_rejected(sl_optim_kind kind, float bad, const char *word)
{
    param_set s = {0};
    const float w0[3] = {0.5f, -0.25f, 1.0f};
    ps_add(&s, "layers.0.weight", SL_PARAM_WEIGHT, 3, 0, w0, (const float[]){1, 2, 3});
    ps_add(&s, "layers.0.bias", SL_PARAM_BIAS, 3, 0, w0, (const float[]){1, bad, 3});
    ps_add(&s, "layers.1.weight", SL_PARAM_WEIGHT, 3, 0, w0, (const float[]){bad, 1, 1});
    sl_optim_spec spec = sl_optim_defaults(kind);
    spec.momentum = kind == SL_OPTIM_SGD ? 0.9f : 0.0f;
    spec.clip_grad_norm = 0.5f;
    sl_optimizer *opt = new_opt(&s, &spec);
    sl_error err = {0};
    assert_int_equal(sl_optimizer_step(opt, 0.1f, &err), SL_ERR_NUMERIC);
    assert_int_equal(err.status, SL_ERR_NUMERIC);
    /* The first parameter with a bad gradient is named, with the element. */
    assert_non_null(strstr(err.message, "layers.0.bias"));
    assert_non_null(strstr(err.message, word));
    assert_non_null(strstr(err.message, "element 1"));
    for (size_t i = 0; i < s.n; i++)
        tu_assert_close(s.p[i].tensor->data, w0, 3, 0, 0, "parameters after a rejected step");
    /* Not clipped either, and no step counted, no state touched. */
    tu_assert_close(s.p[0].tensor->grad, (const float[]){1, 2, 3}, 3, 0, 0, "grads");
    assert_int_equal(sl_optimizer_steps(opt), 0);
    for (size_t i = 0; i < sl_optimizer_state_count(opt); i++) {
        const sl_tensor *t = sl_optimizer_state(opt, i, NULL);
        for (int64_t k = 0; k < t->size; k++)
            assert_float_equal(t->data[k], 0.0f, 0.0f);
    }
    sl_optimizer_free(opt);
    ps_free(&s);
}

static void test_nan_gradient_rejected(void **state)
{
    (void)state;
    check_non_finite_rejected(SL_OPTIM_SGD, NAN, "NaN");
    check_non_finite_rejected(SL_OPTIM_ADAM, NAN, "NaN");
    check_non_finite_rejected(SL_OPTIM_ADAMW, INFINITY, "Inf");
    check_non_finite_rejected(SL_OPTIM_SGD, -INFINITY, "Inf");
}

/* ---- invalid settings ----------------------------------------------------------- */

static void expect_config_error(const sl_optim_spec *spec, const char *fragment)
{
    param_set s = {0};
    ps_add(&s, "w", SL_PARAM_WEIGHT, 2, 0, NULL, NULL);
    sl_error err = {0};
    sl_optimizer *opt = sl_optimizer_new(s.p, s.n, spec, &err);
    assert_null(opt);
    assert_int_equal(err.status, SL_ERR_CONFIG);
    if (!strstr(err.message, fragment))
        fail_msg("message \"%s\" lacks \"%s\"", err.message, fragment);
    ps_free(&s);
}

static void test_invalid_specs(void **state)
{
    (void)state;
    sl_optim_spec s = sl_optim_defaults(SL_OPTIM_SGD);
    s.lr = 0.0f;
    expect_config_error(&s, "lr");
    s.lr = -0.1f;
    expect_config_error(&s, "lr");
    s.lr = NAN;
    expect_config_error(&s, "lr");
    s = sl_optim_defaults(SL_OPTIM_SGD);
    s.momentum = -0.5f;
    expect_config_error(&s, "momentum");
    s.momentum = 0.0f;
    s.nesterov = 1;
    expect_config_error(&s, "nesterov");
    s.momentum = 0.9f;
    s.dampening = 0.1f;
    expect_config_error(&s, "dampening");
    s = sl_optim_defaults(SL_OPTIM_SGD);
    s.weight_decay = -1e-4f;
    expect_config_error(&s, "weight_decay");
    s = sl_optim_defaults(SL_OPTIM_SGD);
    s.clip_grad_norm = -1.0f;
    expect_config_error(&s, "clip_grad_norm");
    s = sl_optim_defaults(SL_OPTIM_ADAM);
    s.beta1 = 1.0f;
    expect_config_error(&s, "beta1");
    s = sl_optim_defaults(SL_OPTIM_ADAMW);
    s.beta2 = -0.1f;
    expect_config_error(&s, "beta2");
    s.beta2 = NAN;
    expect_config_error(&s, "beta2");
    s = sl_optim_defaults(SL_OPTIM_ADAM);
    s.eps = -1e-8f;
    expect_config_error(&s, "eps");
    s.eps = (float)1e-50; /* 0 as a float: Adam's 0 / (0 + 0) gave NaN where a gradient is 0 */
    expect_config_error(&s, "eps");
    s.eps = INFINITY;
    expect_config_error(&s, "eps");
    s.kind = (sl_optim_kind)7;
    expect_config_error(&s, "kind");
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    sl_error err = {0};
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    assert_null(sl_optimizer_new(NULL, 2, &spec, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    param_set s = {0};
    ps_add(&s, "w", SL_PARAM_WEIGHT, 2, 0, (const float[]){1, 2}, (const float[]){1, 1});
    assert_null(sl_optimizer_new(s.p, s.n, NULL, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    sl_optimizer *opt = new_opt(&s, &spec);
    float bad_lrs[] = {-0.1f, NAN, INFINITY};
    for (int i = 0; i < 3; i++) {
        sl_error_clear(&err);
        assert_int_equal(sl_optimizer_step(opt, bad_lrs[i], &err), SL_ERR_INVALID);
    }
    tu_assert_close(s.p[0].tensor->data, (const float[]){1, 2}, 2, 0, 0, "after bad lr");
    step_ok(opt, 0.0f); /* lr 0 (a schedule's floor) is allowed: nothing moves */
    tu_assert_close(s.p[0].tensor->data, (const float[]){1, 2}, 2, 0, 0, "after lr 0");
    assert_int_equal(sl_optimizer_step(NULL, 0.1f, &err), SL_ERR_INVALID);
    sl_optimizer_free(opt);
    sl_optimizer_free(NULL);
    assert_int_equal(sl_optimizer_steps(NULL), 0);
    assert_int_equal(sl_optimizer_state_count(NULL), 0);
    assert_null(sl_optimizer_spec(NULL));
    ps_free(&s);
}

/* ---- names and defaults ----------------------------------------------------------- */

static void test_parse_names(void **state)
{
    (void)state;
    sl_error err = {0};
    for (int k = SL_OPTIM_SGD; k <= SL_OPTIM_ADAMW; k++) {
        sl_optim_kind got;
        assert_int_equal(sl_optim_parse(sl_optim_name((sl_optim_kind)k), &got, &err), SL_OK);
        assert_int_equal(got, k);
    }
    for (int k = SL_SCHEDULE_CONSTANT; k <= SL_SCHEDULE_COSINE; k++) {
        sl_schedule_kind got;
        assert_int_equal(sl_schedule_parse(sl_schedule_name((sl_schedule_kind)k), &got, &err),
                         SL_OK);
        assert_int_equal(got, k);
    }
    sl_optim_kind ok;
    assert_int_equal(sl_optim_parse("rmsprop", &ok, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "rmsprop"));
    assert_non_null(strstr(err.message, "sgd, adam, adamw"));
    assert_int_equal(sl_optim_parse(NULL, &ok, &err), SL_ERR_INVALID); /* NULL name: test_api_guards */
    sl_schedule_kind sk;
    assert_int_equal(sl_schedule_parse("Cosine", &sk, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "constant, step, cosine"));
    assert_string_equal(sl_optim_name((sl_optim_kind)9), "unknown");
    assert_string_equal(sl_schedule_name((sl_schedule_kind)-1), "unknown");
}

static void test_defaults(void **state)
{
    (void)state;
    sl_optim_spec sgd = sl_optim_defaults(SL_OPTIM_SGD);
    sl_optim_spec adam = sl_optim_defaults(SL_OPTIM_ADAM);
    sl_optim_spec adamw = sl_optim_defaults(SL_OPTIM_ADAMW);
    assert_float_equal(sgd.lr, 0.01f, 0);
    assert_float_equal(sgd.momentum, 0.0f, 0);
    assert_float_equal(sgd.weight_decay, 0.0f, 0);
    assert_float_equal(adam.lr, 0.001f, 0);
    assert_float_equal(adam.weight_decay, 0.0f, 0);
    assert_float_equal(adamw.weight_decay, 0.01f, 0);
    assert_float_equal(adamw.beta1, 0.9f, 0);
    assert_float_equal(adamw.beta2, 0.999f, 0);
    assert_float_equal(adamw.eps, 1e-8f, 0);
    assert_int_equal(adamw.decay_bias + adamw.decay_prelu + adamw.decay_norm, 0);
    assert_float_equal(adamw.clip_grad_norm, 0.0f, 0);
    sl_schedule_spec st = sl_schedule_defaults(SL_SCHEDULE_STEP);
    assert_int_equal(st.kind, SL_SCHEDULE_STEP);
    assert_int_equal(st.step_epochs, 1);
    assert_float_equal(st.gamma, 0.1f, 0);
    assert_float_equal(st.warmup_epochs, 0.0f, 0);
    assert_float_equal(st.min_lr, 0.0f, 0);
}

/* ---- groups, state and resumption ---------------------------------------------- */

static void test_buffers_and_missing_grads_skipped(void **state)
{
    (void)state;
    param_set s = {0};
    ps_add(&s, "w", SL_PARAM_WEIGHT, 2, 0, (const float[]){1, 1}, (const float[]){1, 1});
    ps_add(&s, "rm", SL_PARAM_BUFFER, 2, 0, (const float[]){5, 5}, (const float[]){1, 1});
    ps_add(&s, "b", SL_PARAM_BIAS, 2, 0, (const float[]){2, 2}, NULL);
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_ADAM);
    sl_optimizer *opt = new_opt(&s, &spec);
    step_ok(opt, 0.1f);
    tu_assert_close(s.p[1].tensor->data, (const float[]){5, 5}, 2, 0, 0, "buffer");
    tu_assert_close(s.p[2].tensor->data, (const float[]){2, 2}, 2, 0, 0, "no-grad bias");
    /* Adam's first step moves by lr * g / (|g| + eps') = lr. */
    tu_assert_close(s.p[0].tensor->data, (const float[]){0.9f, 0.9f}, 2, 1e-6, 0, "weight");
    assert_float_equal(sl_optimizer_last_grad_norm(opt), sqrt(2.0), 1e-6);
    /* State exists for the trainable parameters only, in their order. */
    assert_int_equal(sl_optimizer_state_count(opt), 4);
    const char *want[] = {"w.exp_avg", "w.exp_avg_sq", "b.exp_avg", "b.exp_avg_sq"};
    for (size_t i = 0; i < 4; i++) {
        const char *name;
        sl_tensor *t = sl_optimizer_state(opt, i, &name);
        assert_non_null(t);
        assert_string_equal(name, want[i]);
        assert_int_equal(t->size, 2);
    }
    const char *name = "x";
    assert_null(sl_optimizer_state(opt, 4, &name));
    assert_null(name);
    sl_optimizer_free(opt);
    ps_free(&s);
}

static void test_state_slots_per_kind(void **state)
{
    (void)state;
    param_set s = {0};
    ps_add(&s, "layers.0.weight", SL_PARAM_WEIGHT, 2, 3, NULL, NULL);
    ps_add(&s, "layers.1.running_var", SL_PARAM_BUFFER, 3, 0, NULL, NULL);
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    sl_optimizer *opt = new_opt(&s, &spec);
    assert_int_equal(sl_optimizer_state_count(opt), 0);
    sl_optimizer_free(opt);
    spec.momentum = 0.5f;
    opt = new_opt(&s, &spec);
    assert_int_equal(sl_optimizer_state_count(opt), 1);
    const char *name;
    sl_tensor *t = sl_optimizer_state(opt, 0, &name);
    assert_string_equal(name, "layers.0.weight.momentum_buffer");
    assert_true(sl_tensor_same_shape(t, s.p[0].tensor));
    assert_memory_equal(sl_optimizer_spec(opt), &spec, sizeof spec);
    sl_optimizer_free(opt);
    ps_free(&s);
}

static const float RESUME_INIT[6] = {0.5f, -0.25f, 0.75f, -1.0f, 0.125f, 0.0f};

static void resume_grads(param_set *s, int step)
{
    for (size_t i = 0; i < s->n; i++)
        for (int64_t k = 0; k < s->p[i].tensor->size; k++)
            s->p[i].tensor->grad[k] = (float)sin(1.0 + 0.7 * step + 1.3 * (double)k + (double)i);
}

static void resume_params(param_set *s)
{
    ps_add(s, "w", SL_PARAM_WEIGHT, 2, 2, RESUME_INIT, RESUME_INIT);
    ps_add(s, "b", SL_PARAM_BIAS, 2, 0, RESUME_INIT + 4, RESUME_INIT);
}

/* Steps 0..k-1 in a fresh optimizer. */
static sl_optimizer *run_fresh(param_set *s, const sl_optim_spec *spec, int k)
{
    sl_optimizer *opt = new_opt(s, spec);
    for (int step = 0; step < k; step++) {
        resume_grads(s, step);
        step_ok(opt, 0.05f);
    }
    return opt;
}

/* Checkpoint after `at` steps, restore into a new optimizer, continue: bit-exact. */
static void check_resume(const sl_optim_spec *spec, int at, int total)
{
    param_set straight = {0}, first = {0}, second = {0};
    resume_params(&straight);
    resume_params(&first);
    resume_params(&second);
    sl_optimizer *a = run_fresh(&straight, spec, total);
    sl_optimizer *b = run_fresh(&first, spec, at);
    sl_optimizer *c = new_opt(&second, spec);
    for (size_t i = 0; i < first.n; i++)
        memcpy(second.p[i].tensor->data, first.p[i].tensor->data,
               (size_t)first.p[i].tensor->size * sizeof(float));
    for (size_t i = 0; i < sl_optimizer_state_count(b); i++) {
        const sl_tensor *from = sl_optimizer_state(b, i, NULL);
        memcpy(sl_optimizer_state(c, i, NULL)->data, from->data,
               (size_t)from->size * sizeof(float));
    }
    sl_optimizer_set_steps(c, sl_optimizer_steps(b));
    for (int step = at; step < total; step++) {
        resume_grads(&second, step);
        step_ok(c, 0.05f);
    }
    for (size_t i = 0; i < straight.n; i++)
        assert_memory_equal(second.p[i].tensor->data, straight.p[i].tensor->data,
                            (size_t)straight.p[i].tensor->size * sizeof(float));
    assert_int_equal(sl_optimizer_steps(c), total);
    sl_optimizer_free(a);
    sl_optimizer_free(b);
    sl_optimizer_free(c);
    ps_free(&straight);
    ps_free(&first);
    ps_free(&second);
}

/* A parameter large enough that its update is split over slope's threads, and a small bias
 * beside it, 3 steps from the same start on `threads` threads (clipped when spec says so):
 * their data and state slots, concatenated, then each step's gradient norm (caller frees). */
enum { BIG_N = 100003, BIG_BIAS = 7, BIG_STEPS = 3 }; /* odd: the blocks are uneven */

static float big_grad(int step, int64_t k) { return (float)sin(1.0 + 0.7 * step + 1.3 * (double)k); }

static float *big_param_after_steps(const sl_optim_spec *spec, int threads, size_t *floats)
{
    sl_set_num_threads(threads);
    param_set s = {0};
    sl_tensor *t = ps_add(&s, "w", SL_PARAM_WEIGHT, BIG_N, 0, NULL, NULL);
    sl_tensor *b = ps_add(&s, "b", SL_PARAM_BIAS, BIG_BIAS, 0, NULL, NULL);
    sl_error err = {0};
    assert_int_equal(sl_tensor_ensure_grad(t, &err), SL_OK);
    assert_int_equal(sl_tensor_ensure_grad(b, &err), SL_OK);
    for (int64_t k = 0; k < BIG_N; k++)
        t->data[k] = (float)cos(0.37 * (double)k);
    sl_optimizer *opt = new_opt(&s, spec);
    size_t slots = sl_optimizer_state_count(opt), per = BIG_N + BIG_BIAS;
    *floats = (1 + slots / 2) * per + BIG_STEPS;
    float *out = malloc(*floats * sizeof *out);
    assert_non_null(out);
    for (int step = 0; step < BIG_STEPS; step++) {
        double want = 0.0; /* the norm, summed here in one plain double loop */
        for (int64_t k = 0; k < BIG_N + BIG_BIAS; k++) {
            float g = big_grad(step, k);
            (k < BIG_N ? t->grad : b->grad - BIG_N)[k] = g;
            want += (double)g * (double)g;
        }
        step_ok(opt, 0.05f);
        out[*floats - BIG_STEPS + (size_t)step] = sl_optimizer_last_grad_norm(opt);
        assert_float_equal(sl_optimizer_last_grad_norm(opt), (float)sqrt(want),
                           1e-6 * sqrt(want));
    }
    memcpy(out, t->data, BIG_N * sizeof *out);
    memcpy(out + BIG_N, b->data, BIG_BIAS * sizeof *out);
    for (size_t i = 0; i < slots; i++) { /* entry by entry: w's slots, then b's */
        size_t entry = i / (slots / 2), slot = i % (slots / 2);
        memcpy(out + (1 + slot) * per + (entry ? BIG_N : 0),
               sl_optimizer_state(opt, i, NULL)->data,
               (entry ? BIG_BIAS : BIG_N) * sizeof *out);
    }
    sl_optimizer_free(opt);
    ps_free(&s);
    sl_set_num_threads(1);
    return out;
}

/* Every update is elementwise and the norm's blocks are added in order, so splitting a step
 * over two threads changes no bit: of the parameters, the state, nor the norm. */
static void test_update_split_over_threads_is_exact(void **state)
{
    (void)state;
    sl_optim_spec specs[6] = {sl_optim_defaults(SL_OPTIM_SGD), sl_optim_defaults(SL_OPTIM_SGD),
                              sl_optim_defaults(SL_OPTIM_SGD), sl_optim_defaults(SL_OPTIM_ADAM),
                              sl_optim_defaults(SL_OPTIM_ADAMW), sl_optim_defaults(SL_OPTIM_SGD)};
    specs[1].momentum = 0.9f;
    specs[1].weight_decay = 0.01f;
    specs[2].momentum = 0.9f;
    specs[2].nesterov = 1;
    specs[3].weight_decay = 0.01f;
    specs[5].momentum = 0.9f;
    specs[5].clip_grad_norm = 1.0f; /* the norm is ~224: every step clips */
    for (int i = 0; i < 6; i++) {
        size_t n1 = 0, n2 = 0;
        float *one = big_param_after_steps(&specs[i], 1, &n1);
        float *two = big_param_after_steps(&specs[i], 2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(one, two, n1 * sizeof(float));
        free(one);
        free(two);
    }
}

/* A large parameter without a gradient (frozen) is left alone by the threaded passes; one
 * tensor given twice, or a tensor resized after the optimizer was made, is refused. */
static void test_params_misuse_and_frozen(void **state)
{
    (void)state;
    sl_set_num_threads(2);
    param_set s = {0};
    sl_tensor *t = ps_add(&s, "w", SL_PARAM_WEIGHT, BIG_N, 0, NULL, NULL);
    sl_tensor *f = ps_add(&s, "frozen", SL_PARAM_WEIGHT, BIG_N, 0, NULL, NULL);
    sl_error err = {0};
    assert_int_equal(sl_tensor_ensure_grad(t, &err), SL_OK);
    for (int64_t k = 0; k < BIG_N; k++) {
        t->grad[k] = big_grad(0, k);
        f->data[k] = 1.0f;
    }
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    spec.momentum = 0.9f;
    spec.clip_grad_norm = 1.0f;
    sl_optimizer *opt = new_opt(&s, &spec);
    step_ok(opt, 0.1f);
    for (int64_t k = 0; k < BIG_N; k++)
        if (f->data[k] != 1.0f)
            fail_msg("frozen[%lld] moved", (long long)k);
    assert_true(t->data[1] != 0.0f);
    t->size = BIG_N - 1; /* as if the caller had swapped in a smaller tensor */
    assert_int_equal(sl_optimizer_step(opt, 0.1f, &err), SL_ERR_STATE);
    assert_non_null(strstr(err.message, "w has 100002 elements, 100003 when"));
    t->size = BIG_N;
    sl_optimizer_free(opt);
    sl_param twice[2] = {s.p[0], s.p[0]};
    twice[1].name = "w again";
    memset(&err, 0, sizeof err);
    assert_null(sl_optimizer_new(twice, 2, &spec, &err));
    assert_int_equal(err.status, SL_ERR_INVALID);
    assert_non_null(strstr(err.message, "w and w again are the same tensor"));
    ps_free(&s);
    sl_set_num_threads(1);
}

/* A NaN deep in a later block of a large gradient is found before anything moves, and named
 * with its parameter and element, on any thread count. */
static void test_non_finite_in_a_later_block(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 2; threads++) {
        sl_set_num_threads(threads);
        param_set s = {0};
        sl_tensor *b = ps_add(&s, "b", SL_PARAM_BIAS, BIG_BIAS, 0, NULL, NULL);
        sl_tensor *t = ps_add(&s, "w", SL_PARAM_WEIGHT, BIG_N, 0, NULL, NULL);
        sl_tensor *c = ps_add(&s, "c", SL_PARAM_WEIGHT, 3, 0, NULL, (const float[]){NAN, 1, 1});
        sl_error err = {0};
        assert_int_equal(sl_tensor_ensure_grad(t, &err), SL_OK);
        assert_int_equal(sl_tensor_ensure_grad(b, &err), SL_OK);
        for (int64_t k = 0; k < BIG_N; k++)
            t->grad[k] = big_grad(0, k);
        t->grad[BIG_N - 5] = NAN;
        t->grad[70001] = INFINITY; /* w's first; c, after w, has a NaN too */
        sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
        sl_optimizer *opt = new_opt(&s, &spec);
        assert_int_equal(sl_optimizer_step(opt, 0.1f, &err), SL_ERR_NUMERIC);
        assert_non_null(strstr(err.message, "gradient of w holds Inf at element 70001"));
        for (int64_t k = 0; k < BIG_N; k++)
            if (t->data[k] != 0.0f)
                fail_msg("w[%lld] moved in a rejected step", (long long)k);
        assert_float_equal(c->data[1], 0.0f, 0.0f);
        assert_int_equal(sl_optimizer_steps(opt), 0);
        sl_optimizer_free(opt);
        ps_free(&s);
    }
    sl_set_num_threads(1);
}

static void test_resume_is_exact(void **state)
{
    (void)state;
    sl_optim_spec sgd = sl_optim_defaults(SL_OPTIM_SGD);
    sgd.momentum = 0.9f;
    sgd.dampening = 0.5f; /* makes "buffer = first gradient" visible */
    sgd.weight_decay = 0.01f;
    check_resume(&sgd, 1, 4);
    check_resume(&sgd, 3, 5);
    sl_optim_spec adamw = sl_optim_defaults(SL_OPTIM_ADAMW);
    check_resume(&adamw, 2, 5);
    sl_optim_spec adam = sl_optim_defaults(SL_OPTIM_ADAM);
    check_resume(&adam, 0, 3);
}

/* ---- schedules -------------------------------------------------------------------- */

static void expect_lr(const sl_schedule_spec *s, int64_t step, double want)
{
    float got = sl_schedule_lr(s, 0.1f, step, 10, 10); /* 10 epochs of 10 steps */
    if (!(fabs((double)got - want) <= 1e-6 * fabs(want) + 1e-9))
        fail_msg("%s schedule at step %lld: got %.9g, want %.9g", sl_schedule_name(s->kind),
                 (long long)step, got, want);
}

static void test_schedule_constant_with_warmup(void **state)
{
    (void)state;
    sl_schedule_spec s = sl_schedule_defaults(SL_SCHEDULE_CONSTANT);
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 99, 0.1);
    s.warmup_epochs = 1.0f; /* 10 warm-up steps */
    expect_lr(&s, 0, 0.01);
    expect_lr(&s, 4, 0.05);
    expect_lr(&s, 9, 0.1);
    expect_lr(&s, 10, 0.1);
    s.warmup_epochs = 0.3f; /* round(3.0000001) = 3 steps */
    expect_lr(&s, 0, 0.1 / 3);
    expect_lr(&s, 1, 0.2 / 3);
    expect_lr(&s, 2, 0.1);
    expect_lr(&s, 3, 0.1);
}

static void test_schedule_step(void **state)
{
    (void)state;
    sl_schedule_spec s = sl_schedule_defaults(SL_SCHEDULE_STEP);
    s.step_epochs = 2;
    s.gamma = 0.5f;
    expect_lr(&s, 0, 0.1);
    expect_lr(&s, 19, 0.1);   /* epoch 1 */
    expect_lr(&s, 20, 0.05);  /* epoch 2: first decay */
    expect_lr(&s, 39, 0.05);
    expect_lr(&s, 40, 0.025);
    expect_lr(&s, 99, 0.1 * 0.0625);
    s.warmup_epochs = 0.5f; /* 5 steps, multiplied with the decay */
    expect_lr(&s, 0, 0.02);
    expect_lr(&s, 4, 0.1);
    expect_lr(&s, 20, 0.05);
}

static void test_schedule_cosine(void **state)
{
    (void)state;
    sl_schedule_spec s = sl_schedule_defaults(SL_SCHEDULE_COSINE);
    s.min_lr = 0.001f;
    double lo = (double)0.001f, hi = (double)0.1f;
    expect_lr(&s, 0, hi);
    expect_lr(&s, 50, (hi + lo) / 2);
    expect_lr(&s, 25, lo + (hi - lo) * (1 + sqrt(0.5)) / 2);
    expect_lr(&s, 100, lo); /* the end of training */
    expect_lr(&s, 150, lo); /* past it: stays at the floor */
    s.warmup_epochs = 2.0f; /* 20 steps; the cosine runs over the other 80 */
    expect_lr(&s, 0, hi / 20);
    expect_lr(&s, 19, hi);
    expect_lr(&s, 20, hi);
    expect_lr(&s, 60, (hi + lo) / 2);
    expect_lr(&s, 100, lo);
    s.min_lr = 0.0f;
    s.warmup_epochs = 0.0f;
    expect_lr(&s, 100, 0.0);
    assert_float_equal(sl_schedule_lr(&s, 0.1f, 5, 10, 1), (float)(0.05), 1e-8);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_clip_scales_to_max_norm),
        cmocka_unit_test(test_clip_leaves_small_norm_alone),
        cmocka_unit_test(test_nan_gradient_rejected),
        cmocka_unit_test(test_invalid_specs),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_buffers_and_missing_grads_skipped),
        cmocka_unit_test(test_state_slots_per_kind),
        cmocka_unit_test(test_update_split_over_threads_is_exact),
        cmocka_unit_test(test_non_finite_in_a_later_block),
        cmocka_unit_test(test_params_misuse_and_frozen),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_schedule_constant_with_warmup),
        cmocka_unit_test(test_schedule_step),
        cmocka_unit_test(test_schedule_cosine),
    };
    size_t n_fixed = sizeof fixed / sizeof fixed[0];
    load_reference();
    size_t n_cases = g_doc ? (size_t)g_present : 0;
    struct CMUnitTest *tests = calloc(n_fixed + n_cases + 2, sizeof *tests);
    ref_case *cases = calloc(n_cases + 1, sizeof *cases);
    if (!tests || !cases) {
        fprintf(stderr, "test_optim: out of memory\n");
        return 1;
    }
    size_t t = 0;
    memcpy(tests, fixed, sizeof fixed);
    t += n_fixed;
    tests[t++] = (struct CMUnitTest){"reference_loaded", test_reference_loaded, NULL, NULL, NULL};
    const cJSON *cj;
    size_t i = 0;
    cJSON_ArrayForEach(cj, cJSON_GetObjectItemCaseSensitive(g_doc, "cases"))
    {
        cases[i].json = cj;
        cases[i].name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cj, "name"));
        if (!cases[i].name)
            cases[i].name = "(unnamed case)";
        tests[t++] = (struct CMUnitTest){cases[i].name, run_case, NULL, case_teardown, &cases[i]};
        i++;
    }
    tests[t++] = (struct CMUnitTest){"all_cases_ran", test_all_cases_ran, NULL, NULL, NULL};
    int failed = _cmocka_run_group_tests("optim", tests, t, NULL, NULL);
    free(tests);
    free(cases);
    cJSON_Delete(g_doc);
    return failed;
}
