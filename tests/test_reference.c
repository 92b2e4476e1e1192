/*
 * test_reference.c - slope's ops against PyTorch reference values.
 *
 * tests/golden/ops_reference.json is written by tools/torch_reference.py (run by
 * hand, not in CI).  Each case names an op, its parameters, float32-exact inputs,
 * a weighting tensor r, the forward output and the gradients of L = sum(r * out)
 * with respect to every input that requires one, all computed by torch in float64.
 * Each case here becomes one CMocka test named after it: the op runs in a fresh
 * graph, L = reshape(out, [1, n]) @ r[n, 1] is backpropagated, and the output,
 * every gradient and any state the op updates in place (batch_norm's running
 * statistics) are compared with the reference.
 *
 * Tolerance: |got - expected| <= RTOL * |expected| + ATOL.
 *   RTOL = 1e-5: slope computes in float32 (unit round-off 6e-8); a value that is a
 *   short chain of float operations lands well within 1e-5 of the exact answer.
 *   ATOL = 1e-6: for expected values near zero the relative test is meaningless,
 *   since a float32 result that is a sum of terms is only accurate relative to the
 *   size of its terms and partial sums, not of the (cancelled) result.  Here the
 *   inputs are O(1) (|x| <= ~6) and the longest sums have ~60 terms, so a float32
 *   sum's rounding error is about sqrt(60) * 4 * 6e-8 ~ 2e-6 at worst and a few
 *   1e-7 typically.  The generator checks that torch's own float32 run of every
 *   case uses under a quarter of this tolerance (it uses under 5% in practice), so
 *   a failure here points at slope, not at an ill-conditioned case.
 *
 * conv2d runs on the backend SLOPE_CONV selects (src/conv_dnn.h): ctest runs this program
 * as test_reference (oneDNN, when built) and test_reference_im2col.
 *
 * The test fails, rather than passing vacuously, if the file is missing or
 * malformed, has no cases, or its "count" disagrees with the cases present or
 * with the number of cases that ran to the end.
 */
#include "conv_dnn.h"
#include "golden.h"
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_FILE "tests/golden/ops_reference.json"
#define RTOL 1e-5
#define ATOL 1e-6
#define MAX_INPUTS 8
#define MAX_REPORTED 5

static cJSON *g_doc;        /* the parsed reference file, or NULL */
static const char *g_load_error = "not loaded";
static int g_declared;      /* the file's "count" */
static int g_present;       /* cases in the file's "cases" array */
static int g_completed;     /* cases that reached the end of run_case */

typedef struct {
    const cJSON *json;
    const char *name;
    sl_graph *g;
    int n_inputs;
    const char *input_names[MAX_INPUTS];
    sl_tensor *inputs[MAX_INPUTS];
    int32_t *labels;
} case_ctx;

/* ---- loading ---------------------------------------------------------------- */

static void load_reference(void)
{
    tu_golden ref;
    tu_golden_load(&ref, REF_FILE, "tools/torch_reference.py");
    g_doc = ref.doc;
    g_load_error = ref.error;
    g_declared = ref.declared;
    g_present = ref.present;
}

/* ---- JSON helpers (each fails the current case on a malformed field) -------------- */

static int need_int(const case_ctx *c, const cJSON *obj, const char *key)
{
    double v = tu_json_number(c->name, obj, key);
    if (v != floor(v) || fabs(v) > 1e9)
        fail_msg("%s: \"%s\" is not an integer", c->name, key);
    return (int)v;
}

/* A float parameter: the generator rounds them to float32, so this is exact. */
static float need_float(const case_ctx *c, const cJSON *obj, const char *key)
{
    double v = tu_json_number(c->name, obj, key);
    if ((double)(float)v != v)
        fail_msg("%s: parameter \"%s\" = %.17g is not a float32 value", c->name, key, v);
    return (float)v;
}

/* Reads a numeric array of exactly n elements into out (doubles). */
static void read_doubles(const case_ctx *c, const cJSON *arr, int64_t n, double *out,
                         const char *what)
{
    if (!cJSON_IsArray(arr))
        fail_msg("%s: %s is not an array", c->name, what);
    if ((int64_t)cJSON_GetArraySize(arr) != n)
        fail_msg("%s: %s has %d values, expected %lld", c->name, what, cJSON_GetArraySize(arr),
                 (long long)n);
    int64_t i = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v))
            fail_msg("%s: %s[%lld] is not a number", c->name, what, (long long)i);
        out[i++] = v->valuedouble;
    }
}

static int read_shape(const case_ctx *c, const cJSON *arr, int64_t *shape, const char *what)
{
    if (!cJSON_IsArray(arr))
        fail_msg("%s: shape of %s is not an array", c->name, what);
    int nd = cJSON_GetArraySize(arr);
    if (nd < 1 || nd > SL_MAX_DIMS)
        fail_msg("%s: %s has %d dims", c->name, what, nd);
    int k = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1)
            fail_msg("%s: bad shape of %s", c->name, what);
        shape[k++] = (int64_t)v->valuedouble;
    }
    return nd;
}

/* ---- comparison ---------------------------------------------------------------- */

/* Compares got (float) with expected (double) elementwise; on any mismatch prints
 * up to MAX_REPORTED of them and fails the case, naming it and the tensor. */
/* The largest diff / tolerance of the case being run: each passing case prints it, the
 * figure README quotes ("uses at most x% of the tolerance"). */
static double g_case_use;

static void compare(const case_ctx *c, const char *what, const float *got, const double *exp,
                    int64_t n)
{
    int64_t bad = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)got[i] - exp[i]);
        double tol = RTOL * fabs(exp[i]) + ATOL;
        if (diff / tol > g_case_use)
            g_case_use = diff / tol;
        if (!(diff <= tol)) { /* also catches NaN */
            if (bad < MAX_REPORTED)
                print_error("%s: %s[%lld]: got %.9g, expected %.9g (diff %.3g, tol %.3g)\n",
                            c->name, what, (long long)i, (double)got[i], exp[i], diff, tol);
            bad++;
            if (!(diff <= worst))
                worst = diff;
        }
    }
    if (bad)
        fail_msg("%s: %s: %lld of %lld values outside tolerance (worst diff %.3g)", c->name, what,
                 (long long)bad, (long long)n, worst);
}

/* ---- one case ---------------------------------------------------------------------- */

static sl_tensor *input(const case_ctx *c, const char *name, int required)
{
    for (int k = 0; k < c->n_inputs; k++)
        if (strcmp(c->input_names[k], name) == 0)
            return c->inputs[k];
    if (required)
        fail_msg("%s: reference case has no input \"%s\"", c->name, name);
    return NULL;
}

static int is_loss(const char *op)
{
    return strcmp(op, "cross_entropy") == 0 || strcmp(op, "mse") == 0 ||
           strcmp(op, "bce_with_logits") == 0;
}

/* torch.nn.RNN's nonlinearity ("tanh", "relu") and what it returns ("sequence", "last"). */
static sl_tensor *run_rnn(case_ctx *c, const cJSON *params)
{
    const char *nl = cJSON_GetStringValue(tu_json_need(c->name, params, "nonlinearity"));
    const char *ret = cJSON_GetStringValue(tu_json_need(c->name, params, "return"));
    if (!nl || !ret || (strcmp(nl, "tanh") != 0 && strcmp(nl, "relu") != 0) ||
        (strcmp(ret, "sequence") != 0 && strcmp(ret, "last") != 0))
        fail_msg("%s: rnn needs nonlinearity tanh|relu and return sequence|last", c->name);
    return sl_rnn(c->g, input(c, "x", 1), input(c, "w_ih", 1), input(c, "w_hh", 1),
                  input(c, "b_ih", 0), input(c, "b_hh", 0), NULL,
                  strcmp(nl, "tanh") == 0 ? SL_RNN_TANH : SL_RNN_RELU, 0.0f,
                  strcmp(ret, "sequence") == 0, NULL);
}

/* conv2d on the backend SLOPE_CONV selects (ctest runs this program twice, default and
 * SLOPE_CONV=im2col); on oneDNN even at these small batches, and checked to run there. */
static sl_tensor *run_conv2d(case_ctx *c, const cJSON *params)
{
    sl_conv_dnn_set_min_batch(1);
    uint64_t before = sl_conv_dnn_count();
    sl_tensor *y = sl_conv2d(c->g, input(c, "x", 1), input(c, "w", 1), input(c, "b", 0),
                             need_int(c, params, "stride"), need_int(c, params, "pad"));
    int on_dnn = sl_conv_dnn_count() > before;
    if (y && on_dnn != (sl_conv_backend_get() == SL_CONV_ONEDNN))
        fail_msg("%s: conv2d ran on %s, not on the backend in force", c->name,
                 on_dnn ? "oneDNN" : "im2col");
    return y;
}

static sl_tensor *run_op(case_ctx *c, const char *op, const cJSON *params, int64_t n_out_rows)
{
    sl_graph *g = c->g;
    if (strcmp(op, "matmul") == 0)
        return sl_matmul(g, input(c, "a", 1), input(c, "b", 1));
    if (strcmp(op, "linear") == 0)
        return sl_linear(g, input(c, "x", 1), input(c, "w", 1), input(c, "b", 0));
    if (strcmp(op, "conv2d") == 0)
        return run_conv2d(c, params);
    if (strcmp(op, "max_pool2d") == 0)
        return sl_max_pool2d(g, input(c, "x", 1), need_int(c, params, "k"),
                             need_int(c, params, "stride"), need_int(c, params, "pad"));
    if (strcmp(op, "avg_pool2d") == 0)
        return sl_avg_pool2d(g, input(c, "x", 1), need_int(c, params, "k"),
                             need_int(c, params, "stride"), need_int(c, params, "pad"));
    if (strcmp(op, "add") == 0)
        return sl_add(g, input(c, "a", 1), input(c, "b", 1));
    if (strcmp(op, "mul") == 0)
        return sl_mul(g, input(c, "a", 1), input(c, "b", 1));
    if (strcmp(op, "relu") == 0)
        return sl_relu(g, input(c, "x", 1));
    if (strcmp(op, "leaky_relu") == 0)
        return sl_leaky_relu(g, input(c, "x", 1), need_float(c, params, "alpha"));
    if (strcmp(op, "prelu") == 0)
        return sl_prelu(g, input(c, "x", 1), input(c, "alpha", 1));
    if (strcmp(op, "elu") == 0)
        return sl_elu(g, input(c, "x", 1), need_float(c, params, "alpha"));
    if (strcmp(op, "selu") == 0)
        return sl_selu(g, input(c, "x", 1));
    if (strcmp(op, "sigmoid") == 0)
        return sl_sigmoid(g, input(c, "x", 1));
    if (strcmp(op, "tanh") == 0)
        return sl_tanh(g, input(c, "x", 1));
    if (strcmp(op, "gelu") == 0) {
        /* slope's gelu is the exact erf form; a case for another form must not pass here. */
        const char *form = cJSON_GetStringValue(tu_json_need(c->name, params, "approximate"));
        if (!form || strcmp(form, "none") != 0)
            fail_msg("%s: gelu \"approximate\" must be \"none\" (the erf form)", c->name);
        return sl_gelu(g, input(c, "x", 1));
    }
    if (strcmp(op, "batch_norm") == 0)
        return sl_batch_norm(g, input(c, "x", 1), input(c, "gamma", 0), input(c, "beta", 0),
                             input(c, "running_mean", 1), input(c, "running_var", 1),
                             need_float(c, params, "momentum"), need_float(c, params, "eps"));
    if (strcmp(op, "cross_entropy") == 0) {
        const cJSON *labels = tu_json_need(c->name, c->json, "labels");
        if (!cJSON_IsArray(labels) || (int64_t)cJSON_GetArraySize(labels) != n_out_rows)
            fail_msg("%s: \"labels\" must be an array of %lld integers", c->name,
                     (long long)n_out_rows);
        c->labels = malloc((size_t)n_out_rows * sizeof *c->labels);
        assert_non_null(c->labels);
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, labels)
        {
            if (!cJSON_IsNumber(v))
                fail_msg("%s: labels[%d] is not a number", c->name, i);
            c->labels[i++] = (int32_t)v->valueint;
        }
        if (cJSON_GetObjectItemCaseSensitive(params, "label_smoothing"))
            return sl_cross_entropy_smoothed(g, input(c, "logits", 1), c->labels,
                                             need_float(c, params, "label_smoothing"));
        return sl_cross_entropy(g, input(c, "logits", 1), c->labels);
    }
    if (strcmp(op, "mse") == 0)
        return sl_mse(g, input(c, "pred", 1), input(c, "target", 1));
    if (strcmp(op, "bce_with_logits") == 0)
        return sl_bce_with_logits(g, input(c, "logits", 1), input(c, "target", 1));
    if (strcmp(op, "rnn") == 0)
        return run_rnn(c, params);
    fail_msg("%s: unknown op \"%s\" (update tests/test_reference.c)", c->name, op);
    return NULL;
}

static void run_case(void **state)
{
    case_ctx *c = *state;
    g_case_use = 0.0;
    const cJSON *cj = c->json;
    const char *op = cJSON_GetStringValue(tu_json_need(c->name, cj, "op"));
    if (!op)
        fail_msg("%s: \"op\" is not a string", c->name);
    const cJSON *params = tu_json_need(c->name, cj, "params");
    const cJSON *training = tu_json_need(c->name, cj, "training");

    sl_error err = {0};
    c->g = sl_graph_new(1, &err);
    if (!c->g)
        fail_msg("%s: sl_graph_new: %s", c->name, err.message);
    sl_graph_set_training(c->g, cJSON_IsTrue(training));

    /* Heap input tensors, float32-exact by construction (checked). */
    const cJSON *ins = tu_json_need(c->name, cj, "inputs");
    if (!cJSON_IsArray(ins) || cJSON_GetArraySize(ins) < 1 ||
        cJSON_GetArraySize(ins) > MAX_INPUTS)
        fail_msg("%s: bad \"inputs\"", c->name);
    const cJSON *in;
    cJSON_ArrayForEach(in, ins)
    {
        const char *iname = cJSON_GetStringValue(tu_json_need(c->name, in, "name"));
        if (!iname)
            fail_msg("%s: input without a name", c->name);
        int64_t shape[SL_MAX_DIMS];
        int nd = read_shape(c, tu_json_need(c->name, in, "shape"), shape, iname);
        sl_tensor *t = sl_tensor_new(nd, shape, &err);
        if (!t)
            fail_msg("%s: sl_tensor_new(%s): %s", c->name, iname, err.message);
        c->input_names[c->n_inputs] = iname;
        c->inputs[c->n_inputs++] = t;
        double *vals = malloc((size_t)t->size * sizeof *vals);
        assert_non_null(vals);
        read_doubles(c, tu_json_need(c->name, in, "data"), t->size, vals, iname);
        for (int64_t i = 0; i < t->size; i++) {
            t->data[i] = (float)vals[i];
            if ((double)t->data[i] != vals[i]) {
                double v = vals[i];
                free(vals);
                fail_msg("%s: %s[%lld] = %.17g is not a float32 value", c->name, iname,
                         (long long)i, v);
            }
        }
        free(vals);
        if (cJSON_IsTrue(tu_json_need(c->name, in, "requires_grad")))
            sl_tensor_set_requires_grad(t, 1);
    }

    /* Forward. */
    const cJSON *out_j = tu_json_need(c->name, cj, "output");
    int64_t out_shape[SL_MAX_DIMS];
    int out_nd = read_shape(c, tu_json_need(c->name, out_j, "shape"), out_shape, "output");
    int64_t out_size = 1;
    for (int k = 0; k < out_nd; k++)
        out_size *= out_shape[k];
    int64_t rows = c->inputs[0]->shape[0];
    sl_tensor *out = run_op(c, op, params, rows);
    if (!out)
        fail_msg("%s: %s failed: %s: %s", c->name, op, sl_status_name(sl_graph_status(c->g)),
                 sl_graph_errmsg(c->g));
    if (is_loss(op)) {
        /* A loss is "a one-element tensor"; its exact rank is not part of the contract. */
        if (out->size != 1)
            fail_msg("%s: loss has %lld elements", c->name, (long long)out->size);
    } else {
        int same = out->ndim == out_nd;
        for (int k = 0; same && k < out_nd; k++)
            same = out->shape[k] == out_shape[k];
        if (!same) {
            char buf[64];
            fail_msg("%s: output shape %s, expected %lld-d with %lld elements", c->name,
                     sl_shape_str(out, buf, sizeof buf), (long long)out_nd, (long long)out_size);
        }
    }
    double *expv = malloc((size_t)out_size * sizeof *expv);
    assert_non_null(expv);
    read_doubles(c, tu_json_need(c->name, out_j, "data"), out_size, expv, "output");
    compare(c, "output", out->data, expv, out_size);

    /* L = reshape(out, [1, n]) @ r[n, 1]  ==  sum(r * out). */
    read_doubles(c, tu_json_need(c->name, cj, "r"), out_size, expv, "r");
    int64_t row_shape[2] = {1, out_size}, col_shape[2] = {out_size, 1};
    sl_tensor *rt = sl_graph_tensor(c->g, 2, col_shape);
    assert_non_null(rt);
    for (int64_t i = 0; i < out_size; i++)
        rt->data[i] = (float)expv[i];
    free(expv);
    sl_tensor *loss = sl_matmul(c->g, sl_reshape(c->g, out, 2, row_shape), rt);
    if (!loss)
        fail_msg("%s: building L failed: %s", c->name, sl_graph_errmsg(c->g));
    sl_status st = sl_backward(c->g, loss);
    if (st != SL_OK)
        fail_msg("%s: sl_backward: %s: %s", c->name, sl_status_name(st), sl_graph_errmsg(c->g));

    /* Every gradient the reference has, and a reference for every input needing one. */
    const cJSON *grads = tu_json_need(c->name, cj, "grads");
    int n_grads = 0;
    for (int k = 0; k < c->n_inputs; k++) {
        sl_tensor *t = c->inputs[k];
        const cJSON *gj = cJSON_GetObjectItemCaseSensitive(grads, c->input_names[k]);
        if (!(t->flags & SL_TENSOR_REQUIRES_GRAD)) {
            if (gj)
                fail_msg("%s: reference has a gradient for %s, which requires none", c->name,
                         c->input_names[k]);
            continue;
        }
        if (!gj)
            fail_msg("%s: reference lacks the gradient of %s", c->name, c->input_names[k]);
        if (!t->grad)
            fail_msg("%s: no gradient computed for %s", c->name, c->input_names[k]);
        double *ge = malloc((size_t)t->size * sizeof *ge);
        assert_non_null(ge);
        char what[64];
        snprintf(what, sizeof what, "grad %s", c->input_names[k]);
        read_doubles(c, gj, t->size, ge, what);
        compare(c, what, t->grad, ge, t->size);
        free(ge);
        n_grads++;
    }
    if (n_grads != cJSON_GetArraySize(grads))
        fail_msg("%s: reference has gradients for inputs that do not exist", c->name);

    /* State updated in place (batch_norm running statistics). */
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(cj, "state_after");
    if (after) {
        const cJSON *sj;
        cJSON_ArrayForEach(sj, after)
        {
            sl_tensor *t = input(c, sj->string, 1);
            double *se = malloc((size_t)t->size * sizeof *se);
            assert_non_null(se);
            char what[64];
            snprintf(what, sizeof what, "%s after the step", sj->string);
            read_doubles(c, sj, t->size, se, what);
            compare(c, what, t->data, se, t->size);
            free(se);
        }
    }
    g_completed++;
    print_message("%s: %.1f%% of the tolerance at most\n", c->name, 100.0 * g_case_use);
}

static int case_setup(void **state)
{
    case_ctx *c = *state;
    c->g = NULL;
    c->n_inputs = 0;
    c->labels = NULL;
    return 0;
}

static int case_teardown(void **state)
{
    case_ctx *c = *state;
    for (int k = 0; k < c->n_inputs; k++)
        sl_tensor_free(c->inputs[k]);
    c->n_inputs = 0;
    sl_graph_free(c->g);
    c->g = NULL;
    free(c->labels);
    c->labels = NULL;
    return 0;
}

/* ---- whole-file checks ----------------------------------------------------------- */

static void test_reference_loaded(void **state)
{
    (void)state;
    if (g_load_error)
        fail_msg("%s", g_load_error);
    if (g_present <= 0)
        fail_msg(REF_FILE " has no cases");
    if (g_present != g_declared)
        fail_msg(REF_FILE " declares %d cases but holds %d", g_declared, g_present);
}

/* Runs last: every case in the file ran to its end (none skipped or lost). */
static void test_all_cases_ran(void **state)
{
    (void)state;
    if (g_declared <= 0)
        fail_msg("the reference file declares no cases");
    if (g_completed != g_declared)
        fail_msg("%d of the %d reference cases passed", g_completed, g_declared);
}

int main(void)
{
    load_reference();
    int n = g_doc ? g_present : 0;
    struct CMUnitTest *tests = calloc((size_t)n + 2, sizeof *tests);
    case_ctx *ctx = calloc((size_t)n + 1, sizeof *ctx);
    if (!tests || !ctx) {
        fprintf(stderr, "test_reference: out of memory\n");
        return 1;
    }
    int t = 0;
    tests[t++] = (struct CMUnitTest){"reference_loaded", test_reference_loaded, NULL, NULL, NULL};
    if (g_doc) {
        const cJSON *cases = cJSON_GetObjectItemCaseSensitive(g_doc, "cases");
        int i = 0;
        const cJSON *cj;
        cJSON_ArrayForEach(cj, cases)
        {
            ctx[i].json = cj;
            ctx[i].name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cj, "name"));
            if (!ctx[i].name)
                ctx[i].name = "(unnamed case)";
            tests[t++] = (struct CMUnitTest){ctx[i].name, run_case, case_setup, case_teardown,
                                             &ctx[i]};
            i++;
        }
    }
    tests[t++] = (struct CMUnitTest){"all_cases_ran", test_all_cases_ran, NULL, NULL, NULL};
    int failed = _cmocka_run_group_tests("reference", tests, (size_t)t, NULL, NULL);
    free(tests);
    free(ctx);
    cJSON_Delete(g_doc);
    return failed;
}
