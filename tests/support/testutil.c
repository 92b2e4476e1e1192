#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sl_tensor *tu_tensor_uniform(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed)
{
    sl_error err = {0};
    sl_tensor *t = sl_tensor_new(ndim, shape, &err);
    assert_non_null(t);
    sl_rng rng;
    sl_rng_seed(&rng, seed);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = lo + (hi - lo) * sl_rng_uniform(&rng);
    return t;
}

sl_tensor *tu_param_uniform(int ndim, const int64_t *shape, float lo, float hi, uint64_t seed)
{
    sl_tensor *t = tu_tensor_uniform(ndim, shape, lo, hi, seed);
    sl_tensor_set_requires_grad(t, 1);
    return t;
}

/* L = sum r_i y_i in double. */
static double weighted_sum(const sl_tensor *y, const float *r)
{
    double s = 0.0;
    for (int64_t i = 0; i < y->size; i++)
        s += (double)r[i] * (double)y->data[i];
    return s;
}

static double eval_loss(sl_graph *g, tu_forward_fn fn, void *ctx, sl_tensor **inputs,
                        const float *r, uint64_t rng_seed)
{
    sl_graph_reset(g);
    sl_rng_seed(sl_graph_rng(g), rng_seed);
    int prev = sl_graph_set_grad_enabled(g, 0);
    sl_tensor *y = fn(g, inputs, ctx);
    sl_graph_set_grad_enabled(g, prev);
    if (!y)
        fail_msg("forward failed: %s", sl_graph_errmsg(g));
    return weighted_sum(y, r);
}

void tu_gradcheck(tu_forward_fn fn, void *ctx, sl_tensor **inputs, int n_inputs, double eps,
                  double atol, double rtol, uint64_t rng_seed)
{
    sl_error err = {0};
    sl_graph *g = sl_graph_new(1, &err);
    assert_non_null(g);

    /* Analytic gradients: backward of sum(r * y) = backward of mul by constant r. */
    sl_rng_seed(sl_graph_rng(g), rng_seed);
    sl_tensor *y = fn(g, inputs, ctx);
    if (!y)
        fail_msg("forward failed: %s", sl_graph_errmsg(g));
    int64_t ny = y->size;
    float *r = malloc((size_t)ny * sizeof *r);
    assert_non_null(r);
    sl_rng rr;
    sl_rng_seed(&rr, 12345);
    for (int64_t i = 0; i < ny; i++)
        r[i] = 2.0f * sl_rng_uniform(&rr) - 1.0f;

    sl_tensor *rt = sl_graph_tensor(g, y->ndim, y->shape);
    assert_non_null(rt);
    memcpy(rt->data, r, (size_t)ny * sizeof *r);
    sl_tensor *prod = sl_mul(g, y, rt);
    int64_t one = 1;
    sl_tensor *flat = sl_reshape(g, prod, 1, &ny);
    assert_non_null(flat);
    /* Sum via matmul with a ones vector keeps the test on public ops only. */
    int64_t ones_shape[2] = {ny, 1};
    sl_tensor *ones = sl_graph_tensor(g, 2, ones_shape);
    sl_tensor_fill(ones, 1.0f);
    int64_t row_shape[2] = {1, ny};
    sl_tensor *row = sl_reshape(g, flat, 2, row_shape);
    sl_tensor *loss = sl_reshape(g, sl_matmul(g, row, ones), 1, &one);
    if (!loss)
        fail_msg("loss failed: %s", sl_graph_errmsg(g));
    for (int k = 0; k < n_inputs; k++)
        sl_tensor_zero_grad(inputs[k]);
    assert_int_equal(sl_backward(g, loss), SL_OK);

    for (int k = 0; k < n_inputs; k++) {
        sl_tensor *x = inputs[k];
        if (!x || !(x->flags & SL_TENSOR_REQUIRES_GRAD))
            continue;
        assert_non_null(x->grad);
        float *analytic = malloc((size_t)x->size * sizeof *analytic);
        assert_non_null(analytic);
        memcpy(analytic, x->grad, (size_t)x->size * sizeof *analytic);
        for (int64_t i = 0; i < x->size; i++) {
            float saved = x->data[i];
            x->data[i] = saved + (float)eps;
            double lp = eval_loss(g, fn, ctx, inputs, r, rng_seed);
            x->data[i] = saved - (float)eps;
            double lm = eval_loss(g, fn, ctx, inputs, r, rng_seed);
            x->data[i] = saved;
            double numeric = (lp - lm) / (2.0 * eps);
            double diff = fabs((double)analytic[i] - numeric);
            if (diff > atol + rtol * fabs(numeric))
                fail_msg("input %d element %lld: analytic %.8g vs numeric %.8g", k, (long long)i,
                         (double)analytic[i], numeric);
        }
        free(analytic);
    }
    free(r);
    sl_graph_free(g);
}

void tu_assert_close(const float *a, const float *b, int64_t n, double atol, double rtol,
                     const char *what)
{
    for (int64_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - (double)b[i]);
        if (!(diff <= atol + rtol * fabs((double)b[i])))
            fail_msg("%s[%lld]: got %.9g, expected %.9g", what, (long long)i, (double)a[i],
                     (double)b[i]);
    }
}

void tu_push_from_zero(sl_tensor *x, float margin)
{
    for (int64_t i = 0; i < x->size; i++) {
        float v = x->data[i];
        if (fabsf(v) < margin)
            x->data[i] = v < 0 ? v - margin : v + margin;
    }
}

char *tu_env_save(const char *name)
{
    const char *v = getenv(name);
    char *copy = v ? strdup(v) : NULL;
    assert_true(!v || copy);
    return copy;
}

void tu_env_restore(const char *name, char *saved)
{
    if (saved)
        setenv(name, saved, 1);
    else
        unsetenv(name);
    free(saved);
}

const char *tu_source_path(const char *rel)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", SLOPE_SOURCE_DIR, rel);
    return buf;
}
