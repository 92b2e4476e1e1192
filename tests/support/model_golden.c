/*
 * model_golden.c - the model-level PyTorch reference (tests/golden/model_reference.json,
 * written by tools/torch_model_reference.py): each case's config is built, torch's weights
 * are loaded by name, and the logits, the loss and every parameter's gradient must match;
 * and the helpers the model tests share (init, parameter lookup, finite differences).
 */
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "golden.h"
#include "model_golden.h"

#define REF_FILE "tests/golden/model_reference.json"

static void load_floats(const char *who, const cJSON *array, float *out, int64_t n)
{
    if (!cJSON_IsArray(array) || cJSON_GetArraySize(array) != n)
        fail_msg("%s: expected %lld numbers", who, (long long)n);
    int64_t i = 0;
    for (const cJSON *v = array->child; v; v = v->next)
        out[i++] = (float)v->valuedouble;
}

static void check_doubles(const char *who, const cJSON *array, const float *got, int64_t n,
                          double atol, double rtol)
{
    if (!cJSON_IsArray(array) || cJSON_GetArraySize(array) != n)
        fail_msg("%s: expected %lld numbers", who, (long long)n);
    int64_t i = 0;
    for (const cJSON *v = array->child; v; v = v->next, i++)
        if (fabs(got[i] - v->valuedouble) > atol + rtol * fabs(v->valuedouble))
            fail_msg("%s[%lld]: slope %.8g, torch %.8g", who, (long long)i, (double)got[i],
                     v->valuedouble);
}

static void run_golden_case(const cJSON *c)
{
    const char *who = tu_json_string("case", c, "name");
    sl_error err = {0};
    sl_config *cfg = sl_config_load_string(tu_json_string(who, c, "config"), who, &err);
    if (!cfg)
        fail_msg("%s: config: %s", who, err.message);
    sl_model *m = sl_config_build_model(cfg, &err);
    if (!m)
        fail_msg("%s: model: %s", who, err.message);
    if (sl_model_init(m, SL_INIT_KAIMING_UNIFORM, 1, &err) != SL_OK)
        fail_msg("%s: init: %s", who, err.message);
    const cJSON *params = tu_json_need(who, c, "params");
    size_t trainable = 0;
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (p->role == SL_PARAM_BUFFER)
            continue;
        trainable++;
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(params, p->name);
        if (!tp)
            fail_msg("%s: torch has no %s", who, p->name);
        load_floats(p->name, tu_json_need(p->name, tp, "data"), p->tensor->data, p->tensor->size);
    }
    assert_int_equal(trainable, (size_t)cJSON_GetArraySize(params)); /* names match 1:1 */
    const cJSON *xs = tu_json_need(who, c, "x_shape");
    int64_t shape[4];
    int ndim = cJSON_GetArraySize(xs);
    for (int d = 0; d < ndim; d++)
        shape[d] = (int64_t)cJSON_GetArrayItem(xs, d)->valuedouble;
    sl_tensor *x = tu_tensor_uniform(ndim, shape, 0, 0, 1);
    load_floats("x", tu_json_need(who, c, "x"), x->data, x->size);
    int32_t labels[16];
    const cJSON *lab = tu_json_need(who, c, "labels");
    for (int i = 0; i < cJSON_GetArraySize(lab); i++)
        labels[i] = (int32_t)cJSON_GetArrayItem(lab, i)->valuedouble;

    sl_graph *g = sl_graph_new(1, NULL);
    sl_model_zero_grad(m);
    sl_tensor *y = sl_model_forward(m, g, x);
    assert_non_null(y);
    check_doubles("logits", tu_json_need(who, c, "logits"), y->data, y->size, 2e-5, 1e-4);
    sl_tensor *loss = sl_cross_entropy(g, y, labels);
    assert_non_null(loss);
    double want = tu_json_number(who, c, "loss");
    if (fabs(loss->data[0] - want) > 1e-5)
        fail_msg("%s: loss %.8g, torch %.8g", who, (double)loss->data[0], want);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (p->role == SL_PARAM_BUFFER)
            continue;
        const cJSON *tp = cJSON_GetObjectItemCaseSensitive(params, p->name);
        check_doubles(p->name, tu_json_need(p->name, tp, "grad"), p->tensor->grad,
                      p->tensor->size, 1e-5, 1e-3);
    }
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_model_free(m);
    sl_config_free(cfg);
}

void tu_model_golden_check(const char *prefix, int expected)
{
    tu_golden ref;
    tu_golden_load(&ref, REF_FILE, "tools/torch_model_reference.py");
    if (!ref.doc)
        fail_msg("%s", ref.error);
    assert_int_equal(ref.declared, ref.present);
    const cJSON *c;
    int run = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ref.doc, "cases"))
    {
        if (strncmp(tu_json_string("case", c, "name"), prefix, strlen(prefix)) != 0)
            continue;
        run_golden_case(c);
        run++;
    }
    assert_int_equal(run, expected);
    cJSON_Delete(ref.doc);
}

/* ---- helpers for model tests ------------------------------------------------------- */

void tu_model_init(sl_model *m, uint64_t seed)
{
    sl_error err = {0};
    if (sl_model_init(m, SL_INIT_KAIMING_UNIFORM, seed, &err) != SL_OK)
        fail_msg("init: %s", err.message);
}

const sl_tensor *tu_model_param(const sl_model *m, const char *name)
{
    const sl_param *p = sl_model_find_param(m, name);
    if (!p)
        fail_msg("no parameter %s", name);
    return p->tensor;
}

static sl_tensor *model_forward_fn(sl_graph *g, sl_tensor **inputs, void *ctx)
{
    return sl_model_forward(ctx, g, inputs[0]);
}

void tu_model_gradcheck(sl_model *m, sl_tensor *x)
{
    sl_tensor *inputs[64] = {x};
    int n = 1;
    for (size_t i = 0; i < sl_model_num_params(m); i++)
        if (sl_model_param(m, i)->role != SL_PARAM_BUFFER && n < 64)
            inputs[n++] = sl_model_param(m, i)->tensor;
    assert_true(n < 64);
    tu_gradcheck(model_forward_fn, m, inputs, n, 1e-2, 2e-3, 2e-2, 7);
}
