/*
 * test_ops.c - every op's backward against central finite differences, the
 * activations' exact values at 0 and -0, and the graph's error behaviour.
 * test_every_op_kind walks the op table (src/ops_table.c): each sl_op_kind
 * must have a case below that records it and passes the gradient check, so a
 * new op cannot land untested.
 *
 * Tolerances for tu_gradcheck (eps = 1e-2, |numeric - analytic| <= atol + rtol*|numeric|):
 * - piecewise-linear ops (linear, conv, pooling, leaky family, add, reshape)
 *   have no truncation error when inputs stay > eps from kinks and ties, so
 *   the only error is float round-off of L = sum r*y (|L| ~ 10, relative
 *   6e-8) divided by 2*eps: ~3e-5.  atol 2e-3, rtol 2e-3 leaves margin for
 *   the sgemm's own summation order.
 * - smooth ops (elu, sigmoid, tanh, batch_norm, softmax) add the central
 *   difference's truncation error eps^2/6 * |f'''| <= ~2e-5 * |f'''|; the same
 *   tolerances hold for the input ranges used here.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "autograd.h"
#include "testutil.h"

#define EPS 1e-2
#define ATOL 2e-3
#define RTOL 2e-3

/* ---- forward functions under test ----------------------------------------- */

typedef struct op_args {
    int stride, pad, k;
    float alpha, alpha2;
    int32_t labels[16];
} op_args;

static sl_tensor *fn_matmul(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_matmul(g, in[0], in[1]);
}
static sl_tensor *fn_linear(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_linear(g, in[0], in[1], in[2]);
}
static sl_tensor *fn_conv(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_conv2d(g, in[0], in[1], in[2], a->stride, a->pad);
}
static sl_tensor *fn_maxpool(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_max_pool2d(g, in[0], a->k, a->stride, a->pad);
}
static sl_tensor *fn_avgpool(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_avg_pool2d(g, in[0], a->k, a->stride, a->pad);
}
static sl_tensor *fn_add(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_add(g, in[0], in[1]);
}
static sl_tensor *fn_mul(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_mul(g, in[0], in[1]);
}
static sl_tensor *fn_flatten_mul(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx; /* flatten then a product so the reshape's gradient is not just ones */
    sl_tensor *f = sl_flatten(g, in[0]);
    return sl_mul(g, f, f);
}
static sl_tensor *fn_dropout(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_dropout(g, in[0], a->alpha);
}
static sl_tensor *fn_leaky(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_leaky_relu(g, in[0], a->alpha);
}
static sl_tensor *fn_relu(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_relu(g, in[0]);
}
static sl_tensor *fn_linear_leaky_inplace(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_leaky_relu_(g, sl_linear(g, in[0], in[1], in[2]), a->alpha);
}
static sl_tensor *fn_prelu(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_prelu(g, in[0], in[1]);
}
static sl_tensor *fn_rrelu(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_rrelu(g, in[0], a->alpha, a->alpha2);
}
static sl_tensor *fn_elu(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_elu(g, in[0], a->alpha);
}
static sl_tensor *fn_selu(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_selu(g, in[0]);
}
static sl_tensor *fn_sigmoid(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_sigmoid(g, in[0]);
}
static sl_tensor *fn_tanh(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_tanh(g, in[0]);
}
static sl_tensor *fn_gelu(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_gelu(g, in[0]);
}
static sl_tensor *fn_ce(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_cross_entropy(g, in[0], a->labels);
}
static sl_tensor *fn_ce_smoothed(sl_graph *g, sl_tensor **in, void *ctx)
{
    op_args *a = ctx;
    return sl_cross_entropy_smoothed(g, in[0], a->labels, a->alpha);
}
static sl_tensor *fn_mse(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_mse(g, in[0], in[1]);
}

static sl_tensor *fn_bce(sl_graph *g, sl_tensor **in, void *ctx)
{
    (void)ctx;
    return sl_bce_with_logits(g, in[0], in[1]);
}

/* Batch norm with fresh running statistics each call, so every forward is the same. */
typedef struct bn_args {
    sl_tensor *rm, *rv;
    int training;
} bn_args;

static sl_tensor *fn_bn(sl_graph *g, sl_tensor **in, void *ctx)
{
    bn_args *a = ctx;
    if (a->training) {
        sl_tensor_fill(a->rm, 0.0f);
        sl_tensor_fill(a->rv, 1.0f);
    }
    sl_graph_set_training(g, a->training);
    return sl_batch_norm(g, in[0], in[1], in[2], a->rm, a->rv, 0.1f, 1e-5f);
}

/* ---- helpers ------------------------------------------------------------------ */

static void free_all(sl_tensor **t, int n)
{
    for (int i = 0; i < n; i++)
        sl_tensor_free(t[i]);
}

static sl_tensor *shape2(int64_t a, int64_t b, float lo, float hi, uint64_t seed)
{
    int64_t s[2] = {a, b};
    return tu_param_uniform(2, s, lo, hi, seed);
}

static sl_tensor *shape4(int64_t a, int64_t b, int64_t c, int64_t d, uint64_t seed)
{
    int64_t s[4] = {a, b, c, d};
    return tu_param_uniform(4, s, -1.0f, 1.0f, seed);
}

static sl_tensor *vec(int64_t n, float lo, float hi, uint64_t seed)
{
    return tu_param_uniform(1, &n, lo, hi, seed);
}

/* Distinct values 0.05 apart in shuffled order: no pooling ties within +-eps. */
static void fill_distinct(sl_tensor *x, uint64_t seed)
{
    sl_rng r;
    sl_rng_seed(&r, seed);
    for (int64_t i = 0; i < x->size; i++)
        x->data[i] = 0.05f * (float)(i - x->size / 2);
    for (int64_t i = x->size - 1; i > 0; i--) {
        int64_t j = (int64_t)sl_rng_below(&r, (uint64_t)i + 1);
        float t = x->data[i];
        x->data[i] = x->data[j];
        x->data[j] = t;
    }
}

/* ---- gradient checks ------------------------------------------------------------- */

static void test_grad_matmul(void **state)
{
    (void)state;
    sl_tensor *in[2] = {shape2(3, 4, -1, 1, 1), shape2(4, 5, -1, 1, 2)};
    tu_gradcheck(fn_matmul, NULL, in, 2, EPS, ATOL, RTOL, 0);
    free_all(in, 2);
    sl_tensor *in1[2] = {shape2(1, 7, -1, 1, 3), shape2(7, 1, -1, 1, 4)}; /* batch 1 */
    tu_gradcheck(fn_matmul, NULL, in1, 2, EPS, ATOL, RTOL, 0);
    free_all(in1, 2);
}

static void test_grad_linear(void **state)
{
    (void)state;
    sl_tensor *in[3] = {shape2(5, 7, -1, 1, 1), shape2(3, 7, -1, 1, 2), vec(3, -1, 1, 3)};
    tu_gradcheck(fn_linear, NULL, in, 3, EPS, ATOL, RTOL, 0);
    free_all(in, 3);
    sl_tensor *nb[3] = {shape2(1, 9, -1, 1, 4), shape2(4, 9, -1, 1, 5), NULL}; /* batch 1, no bias */
    tu_gradcheck(fn_linear, NULL, nb, 3, EPS, ATOL, RTOL, 0);
    free_all(nb, 2);
}

static void check_conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t k,
                       int stride, int pad, int bias)
{
    op_args a = {.stride = stride, .pad = pad};
    sl_tensor *in[3] = {shape4(N, C, H, W, 11), shape4(O, C, k, k, 12),
                        bias ? vec(O, -1, 1, 13) : NULL};
    tu_gradcheck(fn_conv, &a, in, 3, EPS, ATOL, RTOL, 0);
    free_all(in, 3);
}

static void test_grad_conv2d(void **state)
{
    (void)state;
    check_conv(2, 3, 5, 6, 4, 3, 1, 1, 1); /* odd sizes, padding 1 */
    check_conv(2, 2, 7, 7, 3, 3, 2, 0, 1); /* stride 2 */
    check_conv(1, 1, 6, 5, 2, 3, 2, 1, 0); /* batch 1, stride 2, pad 1, no bias */
    check_conv(3, 4, 3, 3, 5, 1, 1, 0, 1); /* 1x1 kernel */
}

static void test_grad_pooling(void **state)
{
    (void)state;
    op_args cases[] = {{.k = 2, .stride = 2, .pad = 0}, {.k = 3, .stride = 2, .pad = 1},
                       {.k = 3, .stride = 1, .pad = 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sl_tensor *x = shape4(2, 2, 5, 6, 20 + c);
        fill_distinct(x, 30 + c);
        tu_gradcheck(fn_maxpool, &cases[c], &x, 1, EPS, ATOL, RTOL, 0);
        tu_gradcheck(fn_avgpool, &cases[c], &x, 1, EPS, ATOL, RTOL, 0);
        sl_tensor_free(x);
    }
}

static void test_grad_elementwise(void **state)
{
    (void)state;
    sl_tensor *in[2] = {shape4(2, 3, 2, 2, 1), shape4(2, 3, 2, 2, 2)};
    tu_gradcheck(fn_add, NULL, in, 2, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_mul, NULL, in, 2, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_flatten_mul, NULL, in, 1, EPS, ATOL, RTOL, 0);
    op_args a = {.alpha = 0.3f};
    tu_gradcheck(fn_dropout, &a, in, 1, EPS, ATOL, RTOL, 99); /* same mask every forward */
    free_all(in, 2);
}

static void test_grad_batch_norm(void **state)
{
    (void)state;
    int64_t c3 = 3;
    bn_args a = {sl_tensor_new(1, &c3, NULL), sl_tensor_new(1, &c3, NULL), 1};
    sl_tensor *feat[3] = {shape2(5, 3, -2, 2, 1), vec(3, 0.5f, 1.5f, 2), vec(3, -1, 1, 3)};
    tu_gradcheck(fn_bn, &a, feat, 3, EPS, ATOL, RTOL, 0);
    sl_tensor *img[3] = {shape4(2, 3, 2, 3, 4), vec(3, 0.5f, 1.5f, 5), vec(3, -1, 1, 6)};
    tu_gradcheck(fn_bn, &a, img, 3, EPS, ATOL, RTOL, 0);
    a.training = 0; /* evaluation: fixed running statistics */
    for (int c = 0; c < 3; c++) {
        a.rm->data[c] = 0.1f * (float)c;
        a.rv->data[c] = 0.5f + (float)c;
    }
    tu_gradcheck(fn_bn, &a, img, 3, EPS, ATOL, RTOL, 0);
    free_all(feat, 3);
    free_all(img, 3);
    sl_tensor_free(a.rm);
    sl_tensor_free(a.rv);
}

/* Batch norm splits its channels over slope's threads: on 1 and 2 threads, training and
 * evaluation, every output, gradient and running statistic is the same bit for bit.  The
 * input is large enough ([32, 16, 8, 8]: 2048 values a channel) to be split. */
typedef struct bn_run {
    float *y, *dx, *dgamma, *dbeta, *rm, *rv;
} bn_run;

static float *copy_floats(const float *src, int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

static bn_run bn_once(int threads, int training)
{
    sl_set_num_threads(threads);
    int64_t c16 = 16;
    sl_tensor *x = shape4(32, 16, 8, 8, 41), *gamma = vec(16, 0.5f, 1.5f, 42);
    sl_tensor *beta = vec(16, -1, 1, 43), *rm = sl_tensor_new(1, &c16, NULL);
    int64_t n = 32 * 16 * 8 * 8, rs[2] = {n, 1}, flat[2] = {1, n};
    sl_tensor *rv = sl_tensor_new(1, &c16, NULL), *r = tu_tensor_uniform(2, rs, -1, 1, 44);
    sl_tensor_fill(rm, 0.25f);
    sl_tensor_fill(rv, 2.0f);
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_graph_set_training(g, training);
    sl_tensor *y = sl_batch_norm(g, x, gamma, beta, rm, rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_int_equal(sl_backward(g, sl_matmul(g, sl_reshape(g, y, 2, flat), r)), SL_OK);
    bn_run out = {copy_floats(y->data, y->size), copy_floats(x->grad, x->size),
                  copy_floats(gamma->grad, 16), copy_floats(beta->grad, 16),
                  copy_floats(rm->data, 16), copy_floats(rv->data, 16)};
    sl_graph_free(g);
    sl_tensor *all[6] = {x, gamma, beta, rm, rv, r};
    free_all(all, 6);
    sl_set_num_threads(1);
    return out;
}

static void bn_run_free(bn_run *b)
{
    float *all[6] = {b->y, b->dx, b->dgamma, b->dbeta, b->rm, b->rv};
    for (int i = 0; i < 6; i++)
        free(all[i]);
}

static void test_batch_norm_threads(void **state)
{
    (void)state;
    for (int training = 0; training <= 1; training++) {
        bn_run one = bn_once(1, training), two = bn_once(2, training);
        size_t big = 32 * 16 * 8 * 8 * sizeof(float), small = 16 * sizeof(float);
        assert_memory_equal(one.y, two.y, big);
        assert_memory_equal(one.dx, two.dx, big);
        assert_memory_equal(one.dgamma, two.dgamma, small);
        assert_memory_equal(one.dbeta, two.dbeta, small);
        assert_memory_equal(one.rm, two.rm, small);
        assert_memory_equal(one.rv, two.rv, small);
        if (training) /* the running statistics moved */
            assert_true(one.rm[0] != 0.25f && one.rv[0] != 2.0f);
        bn_run_free(&one);
        bn_run_free(&two);
    }
}

static void test_grad_leaky_family(void **state)
{
    (void)state;
    sl_tensor *x = shape4(2, 3, 3, 2, 7);
    tu_push_from_zero(x, 0.05f);
    op_args a = {.alpha = 0.01f};
    tu_gradcheck(fn_leaky, &a, &x, 1, EPS, ATOL, RTOL, 0);
    a.alpha = 0.2f;
    tu_gradcheck(fn_leaky, &a, &x, 1, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_relu, NULL, &x, 1, EPS, ATOL, RTOL, 0);
    a.alpha = 0.1f;
    a.alpha2 = 0.3f;
    tu_gradcheck(fn_rrelu, &a, &x, 1, EPS, ATOL, RTOL, 5); /* same slopes every forward */

    sl_tensor *shared = vec(1, 0.25f, 0.25f, 8), *per_channel = vec(3, 0.1f, 0.4f, 9);
    sl_tensor *in[2] = {x, shared};
    tu_gradcheck(fn_prelu, NULL, in, 2, EPS, ATOL, RTOL, 0);
    in[1] = per_channel;
    tu_gradcheck(fn_prelu, NULL, in, 2, EPS, ATOL, RTOL, 0);
    sl_tensor *feat = shape2(4, 3, -1, 1, 10);
    tu_push_from_zero(feat, 0.05f);
    in[0] = feat;
    tu_gradcheck(fn_prelu, NULL, in, 2, EPS, ATOL, RTOL, 0);

    /* In place after linear: pre-activations are kept away from 0 by the bias. */
    sl_tensor *lin[3] = {shape2(4, 3, -1, 1, 11), shape2(5, 3, -0.3f, 0.3f, 12),
                         vec(5, 0.5f, 1.0f, 13)};
    for (int j = 0; j < 5; j += 2)
        lin[2]->data[j] = -lin[2]->data[j]; /* some units negative */
    a.alpha = 0.1f;
    tu_gradcheck(fn_linear_leaky_inplace, &a, lin, 3, EPS, ATOL, RTOL, 0);
    free_all(lin, 3);
    sl_tensor_free(x);
    sl_tensor_free(feat);
    sl_tensor_free(shared);
    sl_tensor_free(per_channel);
}

static void test_grad_smooth_activations(void **state)
{
    (void)state;
    sl_tensor *x = shape2(4, 5, -3, 3, 21);
    tu_push_from_zero(x, 0.05f); /* elu's second derivative jumps at 0 */
    op_args a = {.alpha = 1.0f};
    tu_gradcheck(fn_elu, &a, &x, 1, EPS, ATOL, RTOL, 0);
    a.alpha = 0.5f;
    tu_gradcheck(fn_elu, &a, &x, 1, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_selu, NULL, &x, 1, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_sigmoid, NULL, &x, 1, EPS, ATOL, RTOL, 0);
    tu_gradcheck(fn_tanh, NULL, &x, 1, EPS, ATOL, RTOL, 0);
    sl_tensor_free(x);
}

static void test_grad_losses(void **state)
{
    (void)state;
    op_args a = {.labels = {2, 0, 1, 1, 3}};
    sl_tensor *logits = shape2(5, 4, -3, 3, 31);
    tu_gradcheck(fn_ce, &a, &logits, 1, EPS, ATOL, RTOL, 0);
    a.alpha = 0.2f; /* label smoothing */
    tu_gradcheck(fn_ce_smoothed, &a, &logits, 1, EPS, ATOL, RTOL, 0);
    sl_tensor *in[2] = {shape2(3, 4, -1, 1, 32), shape2(3, 4, -1, 1, 33)};
    tu_gradcheck(fn_mse, NULL, in, 2, EPS, ATOL, RTOL, 0);
    free_all(in, 2);
    sl_tensor_free(logits);
    /* BCE with logits: soft targets in [0, 1] per element, then one target for all. */
    sl_tensor *bce[2] = {shape2(3, 4, -4, 4, 34), shape2(3, 4, 0, 1, 35)};
    tu_gradcheck(fn_bce, NULL, bce, 2, EPS, ATOL, RTOL, 0);
    sl_tensor_free(bce[1]);
    int64_t one = 1;
    bce[1] = sl_tensor_new(1, &one, NULL);
    bce[1]->data[0] = 0.75f;
    sl_tensor_set_requires_grad(bce[1], 1);
    tu_gradcheck(fn_bce, NULL, bce, 2, EPS, ATOL, RTOL, 0);
    free_all(bce, 2);
}

/* Latent noise: the graph's generator decides it, so a seed repeats it; mean and std hold. */
static void test_graph_randn(void **state)
{
    (void)state;
    int64_t shape[2] = {200, 100};
    sl_graph *a = sl_graph_new(7, NULL), *b = sl_graph_new(7, NULL);
    sl_tensor *x = sl_graph_randn(a, 2, shape, 0.5f, 2.0f), *y = sl_graph_randn(b, 2, shape, 0.5f, 2.0f);
    assert_non_null(x);
    assert_non_null(y);
    assert_memory_equal(x->data, y->data, (size_t)x->size * sizeof(float));
    assert_false(x->flags & SL_TENSOR_REQUIRES_GRAD);
    double sum = 0.0, sq = 0.0;
    for (int64_t i = 0; i < x->size; i++) {
        sum += x->data[i];
        sq += (double)x->data[i] * x->data[i];
    }
    double mean = sum / (double)x->size, sd = sqrt(sq / (double)x->size - mean * mean);
    assert_true(fabs(mean - 0.5) < 0.05); /* 20,000 draws: the mean's s.e. is 0.014 */
    assert_true(fabs(sd - 2.0) < 0.05);
    sl_tensor *z = sl_graph_randn(a, 2, shape, 0.5f, 2.0f); /* the generator moved on */
    assert_memory_not_equal(x->data, z->data, (size_t)x->size * sizeof(float));
    assert_null(sl_graph_randn(b, 2, shape, 0.0f, -1.0f));
    assert_int_equal(sl_graph_status(b), SL_ERR_INVALID);
    sl_graph_free(a);
    sl_graph_free(b);
}

/* BCE with logits stays finite and exact where the naive log(sigmoid(x)) is not. */
static void test_bce_with_logits_extremes(void **state)
{
    (void)state;
    int64_t shape[2] = {1, 4};
    sl_tensor *x = sl_tensor_new(2, shape, NULL), *y = sl_tensor_new(2, shape, NULL);
    const float xs[4] = {100.0f, -100.0f, 0.0f, 30.0f}, ys[4] = {0.0f, 1.0f, 0.5f, 1.0f};
    memcpy(x->data, xs, sizeof xs);
    memcpy(y->data, ys, sizeof ys);
    sl_tensor_set_requires_grad(x, 1);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *loss = sl_bce_with_logits(g, x, y);
    assert_non_null(loss);
    /* 100 + 100 + log 2 + log1p(e^-30), averaged over 4. */
    double want = (200.0 + log(2.0) + log1p(exp(-30.0))) / 4.0;
    assert_float_equal(loss->data[0], want, 1e-5);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    const float dx[4] = {0.25f, -0.25f, 0.0f, 0.0f}; /* (sigmoid(x) - y) / 4 */
    for (int i = 0; i < 4; i++)
        assert_float_equal(x->grad[i], dx[i], 1e-7);
    sl_graph_free(g);
    /* A target of another shape: refused, naming both. */
    g = sl_graph_new(1, NULL);
    int64_t three = 3;
    sl_tensor *bad = sl_tensor_new(1, &three, NULL);
    assert_null(sl_bce_with_logits(g, x, bad));
    assert_int_equal(sl_graph_status(g), SL_ERR_SHAPE);
    assert_non_null(strstr(sl_graph_errmsg(g), "[3]"));
    sl_graph_free(g);
    sl_tensor_free(bad);
    sl_tensor_free(x);
    sl_tensor_free(y);
}

/* ---- every op kind of the op table ------------------------------------------------- */

/* Inputs of one case: fills in[] (NULL entries allowed), returns their count. */
typedef int (*make_inputs_fn)(sl_tensor **in);

static int in_matmul(sl_tensor **in)
{
    in[0] = shape2(3, 4, -1, 1, 41);
    in[1] = shape2(4, 5, -1, 1, 42);
    return 2;
}
static int in_linear(sl_tensor **in)
{
    in[0] = shape2(5, 7, -1, 1, 43);
    in[1] = shape2(3, 7, -1, 1, 44);
    in[2] = vec(3, -1, 1, 45);
    return 3;
}
static int in_conv(sl_tensor **in)
{
    in[0] = shape4(2, 3, 5, 6, 46);
    in[1] = shape4(4, 3, 3, 3, 47);
    in[2] = vec(4, -1, 1, 48);
    return 3;
}
static int in_image_distinct(sl_tensor **in)
{
    in[0] = shape4(2, 2, 5, 6, 49);
    fill_distinct(in[0], 50); /* no max-pool ties within +-eps */
    return 1;
}
static int in_pair4(sl_tensor **in)
{
    in[0] = shape4(2, 3, 2, 2, 51);
    in[1] = shape4(2, 3, 2, 2, 52);
    return 2;
}
static int in_image(sl_tensor **in)
{
    in[0] = shape4(2, 3, 2, 2, 53);
    return 1;
}
static int in_bn(sl_tensor **in)
{
    in[0] = shape4(2, 3, 2, 3, 54);
    in[1] = vec(3, 0.5f, 1.5f, 55);
    in[2] = vec(3, -1, 1, 56);
    return 3;
}
static int in_off_kink(sl_tensor **in)
{
    in[0] = shape4(2, 3, 3, 2, 57);
    tu_push_from_zero(in[0], 0.05f); /* the leaky family's kink, elu's second derivative */
    return 1;
}
static int in_linear_shifted(sl_tensor **in)
{
    /* Pre-activations kept away from 0 by the bias, some units negative. */
    in[0] = shape2(4, 3, -1, 1, 58);
    in[1] = shape2(5, 3, -0.3f, 0.3f, 59);
    in[2] = vec(5, 0.5f, 1.0f, 60);
    for (int j = 0; j < 5; j += 2)
        in[2]->data[j] = -in[2]->data[j];
    return 3;
}
static int in_prelu(sl_tensor **in)
{
    in_off_kink(in);
    in[1] = vec(3, 0.1f, 0.4f, 61);
    return 2;
}
static int in_smooth(sl_tensor **in)
{
    in[0] = shape2(4, 5, -3, 3, 62);
    tu_push_from_zero(in[0], 0.05f);
    return 1;
}
static int in_logits(sl_tensor **in)
{
    in[0] = shape2(5, 4, -3, 3, 63);
    return 1;
}
/* rnn: x[2, 3, 4], W_ih[5, 4], W_hh[5, 5], b_ih, b_hh [5], prelu slopes [5] (the seeds keep
 * every pre-activation more than eps from relu's kink). */
typedef struct rnn_args {
    sl_rnn_act act;
    float alpha;
    int sequence;
} rnn_args;
static sl_tensor *fn_rnn(sl_graph *g, sl_tensor **in, void *ctx)
{
    const rnn_args *a = ctx;
    return sl_rnn(g, in[0], in[1], in[2], in[3], in[4], in[5], a->act, a->alpha, a->sequence,
                  NULL);
}
static int in_rnn(sl_tensor **in)
{
    int64_t xs[3] = {2, 3, 4};
    in[0] = tu_param_uniform(3, xs, -1.0f, 1.0f, 221);
    in[1] = shape2(5, 4, -0.6f, 0.6f, 222);
    in[2] = shape2(5, 5, -0.5f, 0.5f, 223);
    in[3] = vec(5, -0.3f, 0.3f, 224);
    in[4] = vec(5, -0.3f, 0.3f, 225);
    return 5;
}
static int in_rnn_prelu(sl_tensor **in)
{
    in_rnn(in);
    in[5] = vec(5, 0.1f, 0.4f, 76);
    return 6;
}
static int in_rnn_shared(sl_tensor **in)
{
    in_rnn(in);
    in[5] = vec(1, 0.2f, 0.3f, 77);
    return 6;
}
static int in_pair2(sl_tensor **in)
{
    in[0] = shape2(3, 4, -1, 1, 64);
    in[1] = shape2(3, 4, -1, 1, 65);
    return 2;
}

typedef struct op_case {
    sl_op_kind kind;   /* the op this case must record */
    tu_forward_fn fn;
    void *ctx;
    make_inputs_fn make;
    uint64_t seed;     /* graph rng seed: the same dropout mask / rrelu slopes every forward */
} op_case;

/* Whether running c once records a node of c->kind. */
static int records_kind(const op_case *c, sl_tensor **in)
{
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_rng_seed(sl_graph_rng(g), c->seed);
    assert_non_null(c->fn(g, in, c->ctx));
    int found = 0;
    for (const sl_node *n = sl_ag_tape(g); n; n = n->prev)
        found |= n->op == sl_op_def_of(c->kind);
    sl_graph_free(g);
    return found;
}

/* Whether a node other than skip reads t's data in backward, by the rows' bwd_skips. */
static int read_by_another(const sl_graph *g, const sl_node *skip, const sl_tensor *t)
{
    for (const sl_node *n = sl_ag_tape(g); n; n = n->prev) {
        if (n == skip)
            continue;
        if (n->out == t && !(n->op->bwd_skips & SL_BWD_SKIPS_OUT))
            return 1;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == t && !(n->op->bwd_skips & SL_BWD_SKIPS_IN(k)))
                return 1;
    }
    return 0;
}

/* NaN over the data of every tensor that c's node (the last of its kind from top down)
 * says its backward skips (and no other node reads); leaves' data saved in saved[] to be put back.  Returns the bwd_skips bits of
 * the slots it overwrote. */
static unsigned clobber_skipped(sl_graph *g, const sl_node *top, const op_case *c, float **saved,
                                sl_tensor **which)
{
    unsigned done = 0;
    const sl_node *node = NULL;
    for (const sl_node *n = top; n && !node; n = n->prev) /* c's own, not the loss's */
        node = n->op == sl_op_def_of(c->kind) ? n : NULL;
    assert_non_null(node);
    sl_tensor *slots[SL_NODE_MAX_INPUTS + 1];
    unsigned bits[SL_NODE_MAX_INPUTS + 1];
    for (int k = 0; k < node->n_in; k++) {
        slots[k] = node->in[k];
        bits[k] = SL_BWD_SKIPS_IN(k);
    }
    slots[node->n_in] = node->out;
    bits[node->n_in] = SL_BWD_SKIPS_OUT;
    for (int k = 0; k <= node->n_in; k++) {
        sl_tensor *t = slots[k];
        saved[k] = NULL;
        which[k] = NULL;
        if (!t || !(node->op->bwd_skips & bits[k]) || read_by_another(g, node, t))
            continue;
        which[k] = t;
        saved[k] = copy_floats(t->data, t->size);
        for (int64_t i = 0; i < t->size; i++)
            t->data[i] = NAN;
        done |= bits[k];
    }
    return done;
}

/* Input gradients of c through (y + s) * r (s and r fixed, needing no gradient) and an MSE
 * against 0: add's backward reads no data, so nothing downstream reads c's output; with
 * clobber, the data c's row says its backward never reads is NaN before backward.  Returns
 * the gradients, inputs in order. */
static float *grads_through(const op_case *c, sl_tensor **in, int n_in, int clobber,
                            unsigned *clobbered)
{
    int64_t total = 0;
    for (int k = 0; k < n_in; k++)
        if (in[k] && (in[k]->flags & SL_TENSOR_REQUIRES_GRAD)) {
            sl_tensor_zero_grad(in[k]);
            total += in[k]->size;
        }
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_rng_seed(sl_graph_rng(g), c->seed);
    sl_tensor *y = c->fn(g, in, c->ctx);
    assert_non_null(y);
    const sl_node *top = sl_ag_tape(g);
    sl_tensor *r = tu_tensor_uniform(y->ndim, y->shape, -1.0f, 1.0f, 71);
    sl_tensor *shift = tu_tensor_uniform(y->ndim, y->shape, -1.0f, 1.0f, 72);
    sl_tensor *loss =
        sl_mse(g, sl_mul(g, sl_add(g, y, shift), r), sl_graph_tensor(g, y->ndim, y->shape));
    assert_non_null(loss);
    float *saved[SL_NODE_MAX_INPUTS + 1] = {0};
    sl_tensor *which[SL_NODE_MAX_INPUTS + 1] = {0};
    if (clobber)
        *clobbered = clobber_skipped(g, top, c, saved, which);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    for (int k = 0; k <= SL_NODE_MAX_INPUTS; k++)
        if (saved[k] && !(which[k]->flags & SL_TENSOR_ARENA))
            memcpy(which[k]->data, saved[k], (size_t)which[k]->size * sizeof(float));
    float *grads = malloc((size_t)(total > 0 ? total : 1) * sizeof(float));
    assert_non_null(grads);
    int64_t at = 0;
    for (int k = 0; k < n_in; k++)
        if (in[k] && (in[k]->flags & SL_TENSOR_REQUIRES_GRAD)) {
            memcpy(grads + at, in[k]->grad, (size_t)in[k]->size * sizeof(float));
            at += in[k]->size;
        }
    for (int k = 0; k <= SL_NODE_MAX_INPUTS; k++)
        free(saved[k]);
    sl_tensor_free(r);
    sl_tensor_free(shift);
    sl_graph_free(g);
    return grads;
}

/* The row's bwd_skips is a promise (sl_graph_set_grad_over_data relies on it): the
 * gradients are bit for bit the same when what it names is NaN before backward.  Returns
 * the bits this case put to the test. */
static unsigned check_bwd_skips(const op_case *c, sl_tensor **in, int n_in)
{
    unsigned clobbered = 0;
    int64_t total = 0;
    for (int k = 0; k < n_in; k++)
        if (in[k] && (in[k]->flags & SL_TENSOR_REQUIRES_GRAD))
            total += in[k]->size;
    float *plain = grads_through(c, in, n_in, 0, NULL);
    float *with_nan = grads_through(c, in, n_in, 1, &clobbered);
    if (memcmp(plain, with_nan, (size_t)total * sizeof(float)) != 0)
        fail_msg("op %s reads data its row's bwd_skips (0x%x) says it does not",
                 sl_op_name((int)c->kind), sl_op_def_of(c->kind)->bwd_skips);
    free(plain);
    free(with_nan);
    return clobbered;
}

static void check_op_table(void)
{
    assert_null(sl_op_def_of(-1));
    assert_null(sl_op_def_of(SL_OP_COUNT));
    assert_string_equal(sl_op_name(SL_OP_COUNT), "?");
    for (int k = 0; k < SL_OP_COUNT; k++) {
        const sl_op_def *row = sl_op_def_of(k);
        if (!row)
            fail_msg("op kind %d has no row in the op table (or one out of place)", k);
        assert_int_equal(row->kind, k);
        assert_non_null(row->name);
        assert_non_null(row->backward);
        assert_string_equal(sl_op_name(k), row->name);
        for (int j = 0; j < k; j++)
            if (strcmp(sl_op_name(j), row->name) == 0)
                fail_msg("op kinds %d and %d share the name \"%s\"", j, k, row->name);
    }
}

static void test_every_op_kind(void **state)
{
    (void)state;
    check_op_table();
    int64_t c3 = 3;
    bn_args bn = {sl_tensor_new(1, &c3, NULL), sl_tensor_new(1, &c3, NULL), 1};
    op_args pool = {.k = 3, .stride = 2, .pad = 1}, conv = {.stride = 1, .pad = 1};
    op_args drop = {.alpha = 0.3f}, leaky = {.alpha = 0.2f}, inplace = {.alpha = 0.1f};
    op_args rrelu = {.alpha = 0.1f, .alpha2 = 0.3f}, elu = {.alpha = 0.5f};
    op_args ce = {.labels = {2, 0, 1, 1, 3}};
    rnn_args rnn_tanh_seq = {SL_RNN_TANH, 0.0f, 1}, rnn_tanh_last = {SL_RNN_TANH, 0.0f, 0};
    rnn_args rnn_relu_seq = {SL_RNN_RELU, 0.0f, 1}, rnn_relu_last = {SL_RNN_RELU, 0.0f, 0};
    rnn_args rnn_leaky_seq = {SL_RNN_LEAKY_RELU, 0.1f, 1}, rnn_prelu_last = {SL_RNN_PRELU, 0, 0};
    rnn_args rnn_prelu_seq = {SL_RNN_PRELU, 0, 1};
    const op_case cases[] = {
        {SL_OP_MATMUL, fn_matmul, NULL, in_matmul, 0},
        {SL_OP_LINEAR, fn_linear, NULL, in_linear, 0},
        {SL_OP_CONV2D, fn_conv, &conv, in_conv, 0},
        {SL_OP_MAX_POOL2D, fn_maxpool, &pool, in_image_distinct, 0},
        {SL_OP_AVG_POOL2D, fn_avgpool, &pool, in_image_distinct, 0},
        {SL_OP_RESHAPE, fn_flatten_mul, NULL, in_image, 0},
        {SL_OP_ADD, fn_add, NULL, in_pair4, 0},
        {SL_OP_MUL, fn_mul, NULL, in_pair4, 0},
        {SL_OP_DROPOUT, fn_dropout, &drop, in_image, 99},
        {SL_OP_BATCH_NORM, fn_bn, &bn, in_bn, 0},
        {SL_OP_LEAKY_RELU, fn_leaky, &leaky, in_off_kink, 0},
        {SL_OP_LEAKY_RELU, fn_relu, NULL, in_off_kink, 0},
        {SL_OP_LEAKY_RELU_INPLACE, fn_linear_leaky_inplace, &inplace, in_linear_shifted, 0},
        {SL_OP_PRELU, fn_prelu, NULL, in_prelu, 0},
        {SL_OP_RRELU, fn_rrelu, &rrelu, in_off_kink, 5},
        {SL_OP_ELU, fn_elu, &elu, in_smooth, 0},
        {SL_OP_ELU, fn_selu, NULL, in_smooth, 0},
        {SL_OP_SIGMOID, fn_sigmoid, NULL, in_smooth, 0},
        {SL_OP_TANH, fn_tanh, NULL, in_smooth, 0},
        {SL_OP_GELU, fn_gelu, NULL, in_smooth, 0},
        {SL_OP_CROSS_ENTROPY, fn_ce, &ce, in_logits, 0},
        {SL_OP_MSE, fn_mse, NULL, in_pair2, 0},
        {SL_OP_BCE_WITH_LOGITS, fn_bce, NULL, in_pair2, 0},
        {SL_OP_RNN, fn_rnn, &rnn_tanh_seq, in_rnn, 0},
        {SL_OP_RNN, fn_rnn, &rnn_tanh_last, in_rnn, 0},
        {SL_OP_RNN, fn_rnn, &rnn_relu_seq, in_rnn, 0},
        {SL_OP_RNN, fn_rnn, &rnn_relu_last, in_rnn, 0},
        {SL_OP_RNN, fn_rnn, &rnn_leaky_seq, in_rnn, 0},
        {SL_OP_RNN, fn_rnn, &rnn_prelu_last, in_rnn_prelu, 0},
        {SL_OP_RNN, fn_rnn, &rnn_prelu_seq, in_rnn_shared, 0},
    };
    const size_t n_cases = sizeof cases / sizeof cases[0];
    for (int k = 0; k < SL_OP_COUNT; k++) {
        int covered = 0;
        unsigned tested = 0;
        for (size_t c = 0; c < n_cases; c++) {
            if ((int)cases[c].kind != k)
                continue;
            sl_tensor *in[SL_NODE_MAX_INPUTS] = {0};
            int n = cases[c].make(in);
            if (!records_kind(&cases[c], in))
                fail_msg("case %zu for op %s does not record that op", c, sl_op_name(k));
            tu_gradcheck(cases[c].fn, cases[c].ctx, in, n, EPS, ATOL, RTOL, cases[c].seed);
            tested |= check_bwd_skips(&cases[c], in, n);
            free_all(in, n);
            covered++;
        }
        if (!covered)
            fail_msg("op %s (kind %d) has no case in test_every_op_kind: add one", sl_op_name(k),
                     k);
        if (tested != sl_op_def_of(k)->bwd_skips)
            fail_msg("op %s: its cases put bwd_skips bits 0x%x to the test, the row claims 0x%x",
                     sl_op_name(k), tested, sl_op_def_of(k)->bwd_skips);
    }
    sl_tensor_free(bn.rm);
    sl_tensor_free(bn.rv);
}

/* sl_rnn's pre out-parameter: the pre-activations [N, T, H] that the output went through. */
static void test_rnn_preactivations(void **state)
{
    (void)state;
    sl_tensor *in[SL_NODE_MAX_INPUTS] = {0};
    int n = in_rnn(in);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *pre = NULL;
    sl_tensor *y = sl_rnn(g, in[0], in[1], in[2], in[3], in[4], NULL, SL_RNN_TANH, 0, 1, &pre);
    assert_non_null(y);
    assert_non_null(pre);
    assert_int_equal(pre->ndim, 3);
    assert_int_equal(pre->shape[0], 2);
    assert_int_equal(pre->shape[1], 3);
    assert_int_equal(pre->shape[2], 5);
    for (int64_t i = 0; i < y->size; i++)
        assert_float_equal(y->data[i], tanhf(pre->data[i]), 1e-6);
    /* Step 0 has no recurrent term: pre_0 = x_0 W_ih^T + b_ih + b_hh, checked by hand. */
    for (int j = 0; j < 5; j++) {
        double want = (double)in[3]->data[j] + (double)in[4]->data[j];
        for (int f = 0; f < 4; f++)
            want += (double)in[0]->data[f] * (double)in[1]->data[j * 4 + f];
        assert_float_equal(pre->data[j], want, 1e-5);
    }
    sl_graph_free(g);
    free_all(in, n);
}

/* ---- exact values at the kink -------------------------------------------------------- */

/* Runs op on x and backprops sum(y), returning x's gradient in grad_out. */
static void grad_of_sum(sl_tensor *(*op)(sl_graph *, sl_tensor *, float), float alpha, sl_tensor *x,
                        float *y_out, float *grad_out)
{
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor_zero_grad(x);
    sl_tensor *y = op(g, x, alpha);
    assert_non_null(y);
    int64_t n = y->size, one = 1, ones_shape[2] = {n, 1}, row[2] = {1, n};
    sl_tensor *ones = sl_graph_tensor(g, 2, ones_shape);
    sl_tensor_fill(ones, 1.0f);
    sl_tensor *s = sl_reshape(g, sl_matmul(g, sl_reshape(g, y, 2, row), ones), 1, &one);
    assert_int_equal(sl_backward(g, s), SL_OK);
    memcpy(y_out, y->data, (size_t)n * sizeof(float));
    memcpy(grad_out, x->grad, (size_t)n * sizeof(float));
    sl_graph_free(g);
}

static void test_leaky_relu_at_zero(void **state)
{
    (void)state;
    int64_t n = 4;
    sl_tensor *x = vec(n, 0, 0, 1);
    x->data[0] = 0.0f;
    x->data[1] = -0.0f;
    x->data[2] = 2.0f;
    x->data[3] = -3.0f;
    float y[4], gr[4];
    grad_of_sum(sl_leaky_relu, 0.1f, x, y, gr);
    const float want_y[4] = {0.0f, -0.0f, 2.0f, -0.3f}, want_g[4] = {0.1f, 0.1f, 1.0f, 0.1f};
    tu_assert_close(y, want_y, 4, 0, 1e-7, "leaky_relu y");
    tu_assert_close(gr, want_g, 4, 0, 1e-7, "leaky_relu dy/dx");
    assert_true(signbit(y[1])); /* -0 stays -0, as a*x gives */
    grad_of_sum(sl_leaky_relu, 0.0f, x, y, gr); /* relu: gradient 0 at 0 and -0 */
    const float relu_g[4] = {0.0f, 0.0f, 1.0f, 0.0f};
    tu_assert_close(gr, relu_g, 4, 0, 0, "relu dy/dx");
    sl_tensor_free(x);
}

static sl_tensor *prelu_with_fixed(sl_graph *g, sl_tensor *x, float alpha)
{
    (void)alpha;
    sl_tensor *a = sl_graph_tensor(g, 1, (int64_t[]){1});
    a->data[0] = 0.25f;
    return sl_prelu(g, x, a);
}

static void test_prelu_at_zero_and_slope_grad(void **state)
{
    (void)state;
    sl_tensor *x = shape2(1, 4, 0, 0, 1); /* prelu needs [N, C, ...] */
    float vals[4] = {0.0f, -0.0f, 2.0f, -3.0f};
    memcpy(x->data, vals, sizeof vals);
    float y[4], gr[4];
    grad_of_sum(prelu_with_fixed, 0, x, y, gr);
    const float want_g[4] = {0.25f, 0.25f, 1.0f, 0.25f};
    tu_assert_close(gr, want_g, 4, 0, 0, "prelu dy/dx");

    /* dL/da_c = sum over x <= 0 of x * dy, per channel, computed by hand. */
    int64_t xs[2] = {3, 2};
    sl_tensor *xf = tu_param_uniform(2, xs, 0, 0, 1);
    float xv[6] = {-1.0f, 2.0f, 0.0f, -4.0f, -0.5f, 3.0f}; /* channel 0: -1, 0, -0.5; 1: 2, -4, 3 */
    memcpy(xf->data, xv, sizeof xv);
    sl_tensor *alpha = vec(2, 0.25f, 0.25f, 2);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *out = sl_prelu(g, xf, alpha);
    sl_tensor *w = sl_graph_tensor(g, 2, xs);
    float wv[6] = {1, 2, 3, 4, 5, 6};
    memcpy(w->data, wv, sizeof wv);
    sl_tensor *loss = sl_mse(g, out, w); /* dL/dy = 2 (y - w) / 6 */
    assert_int_equal(sl_backward(g, loss), SL_OK);
    double d0 = 0, d1 = 0;
    for (int i = 0; i < 6; i++) {
        float yv = xv[i] > 0 ? xv[i] : 0.25f * xv[i];
        double dy = 2.0 * (yv - wv[i]) / 6.0;
        if (xv[i] <= 0)
            *(i % 2 ? &d1 : &d0) += xv[i] * dy;
    }
    assert_float_equal(alpha->grad[0], d0, 1e-6);
    assert_float_equal(alpha->grad[1], d1, 1e-6);
    sl_graph_free(g);
    sl_tensor_free(xf);
    sl_tensor_free(alpha);
    sl_tensor_free(x);
}

/* ---- NaN as PyTorch 1.13 ------------------------------------------------------------ */

static sl_tensor *relu_op(sl_graph *g, sl_tensor *x, float alpha)
{
    (void)alpha;
    return sl_relu(g, x);
}

/* relu_ on a fresh arena copy (x + 0), as in-place needs. */
static sl_tensor *relu_inplace_op(sl_graph *g, sl_tensor *x, float alpha)
{
    sl_tensor *zero = sl_graph_tensor(g, x->ndim, x->shape);
    sl_tensor_fill(zero, 0.0f);
    sl_tensor *copy = sl_add(g, x, zero);
    return alpha == 0.0f ? sl_relu_(g, copy) : sl_leaky_relu_(g, copy, alpha);
}

static sl_tensor *pool_k2_op(sl_graph *g, sl_tensor *x, float alpha)
{
    (void)alpha;
    return sl_max_pool2d(g, x, 2, 2, 0);
}

static sl_tensor *pool_k3_op(sl_graph *g, sl_tensor *x, float alpha)
{
    (void)alpha;
    return sl_max_pool2d(g, x, 3, 1, 0);
}

/*
 * torch 1.13 (/usr/bin/python3), x = [nan, -1, 0, 1, -inf, inf], backward of sum(y):
 *   F.relu (and relu_):        y = [nan, 0, 0, 1, 0, inf],  dx = [1, 0, 0, 1, 0, 1]
 *   F.leaky_relu(x, 0.1) (_):  y = [nan, -0.1, 0, 1, -inf, inf], dx = [0.1, 0.1, 0.1, 1, 0.1, 1]
 * max_pool2d over [1 nan 5 6 / 3 4 nan nan] (k2 s2): y = [nan, nan], dx = 1 at 1 and 7;
 * over 4x4 = 1..16 with x[2] = nan (k3 s1): y = [nan, nan, 15, 16], dx[2] = 2, dx[14] = dx[15] = 1.
 */
static void test_nan_as_torch(void **state)
{
    (void)state;
    const float v[6] = {NAN, -1.0f, 0.0f, 1.0f, -INFINITY, INFINITY};
    sl_tensor *x = vec(6, 0, 0, 1);
    memcpy(x->data, v, sizeof v);
    float y[16], gr[16];
    const float relu_y[6] = {NAN, 0, 0, 1, 0, INFINITY}, relu_g[6] = {1, 0, 0, 1, 0, 1};
    sl_tensor *(*relu_ops[2])(sl_graph *, sl_tensor *, float) = {relu_op, relu_inplace_op};
    for (int k = 0; k < 2; k++) {
        grad_of_sum(relu_ops[k], 0.0f, x, y, gr);
        assert_true(isnan(y[0]));
        tu_assert_close(y + 1, relu_y + 1, 4, 0, 0, "relu y");
        assert_true(isinf(y[5]) && y[5] > 0.0f);
        tu_assert_close(gr, relu_g, 6, 0, 0, "relu dx at NaN");
    }
    const float leaky_g[6] = {0.1f, 0.1f, 0.1f, 1, 0.1f, 1};
    sl_tensor *(*leaky_ops[2])(sl_graph *, sl_tensor *, float) = {sl_leaky_relu, relu_inplace_op};
    for (int k = 0; k < 2; k++) {
        grad_of_sum(leaky_ops[k], 0.1f, x, y, gr);
        assert_true(isnan(y[0]));
        assert_true(isinf(y[4]) && y[4] < 0.0f);
        tu_assert_close(gr, leaky_g, 6, 0, 1e-7, "leaky_relu dx at NaN");
    }
    sl_tensor_free(x);

    int64_t s24[4] = {1, 1, 2, 4}, s44[4] = {1, 1, 4, 4};
    sl_tensor *a = tu_param_uniform(4, s24, 0, 0, 1);
    const float av[8] = {1, NAN, 5, 6, 3, 4, NAN, NAN}, a_g[8] = {0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(a->data, av, sizeof av);
    grad_of_sum(pool_k2_op, 0, a, y, gr);
    assert_true(isnan(y[0]) && isnan(y[1]));
    tu_assert_close(a->grad, a_g, 8, 0, 0, "max_pool2d dx with NaN"); /* gr has y's size */
    sl_tensor *b = tu_param_uniform(4, s44, 0, 0, 1);
    for (int i = 0; i < 16; i++)
        b->data[i] = (float)(i + 1);
    b->data[2] = NAN;
    grad_of_sum(pool_k3_op, 0, b, y, gr);
    assert_true(isnan(y[0]) && isnan(y[1]) && y[2] == 15.0f && y[3] == 16.0f);
    float b_g[16] = {0};
    b_g[2] = 2.0f;
    b_g[14] = b_g[15] = 1.0f;
    tu_assert_close(b->grad, b_g, 16, 0, 0, "max_pool2d k3 dx with NaN");
    sl_tensor_free(a);
    sl_tensor_free(b);
}

/* ---- graph behaviour -------------------------------------------------------------------- */

static void test_no_grad_records_nothing(void **state)
{
    (void)state;
    sl_tensor *w = shape2(3, 4, -1, 1, 1), *x = shape2(2, 4, -1, 1, 2);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_graph_set_grad_enabled(g, 0);
    sl_tensor *y = sl_leaky_relu(g, sl_linear(g, x, w, NULL), 0.01f);
    assert_non_null(y);
    assert_int_equal(sl_graph_tape_length(g), 0);
    assert_false(y->flags & SL_TENSOR_REQUIRES_GRAD);
    sl_graph_set_grad_enabled(g, 1);
    y = sl_leaky_relu(g, sl_linear(g, x, w, NULL), 0.01f);
    assert_int_equal(sl_graph_tape_length(g), 2);
    sl_graph_free(g);
    sl_tensor_free(w);
    sl_tensor_free(x);
}

static void test_errors_propagate_and_name_shapes(void **state)
{
    (void)state;
    sl_tensor *w = shape2(3, 4, -1, 1, 1), *x = shape2(2, 5, -1, 1, 2);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *y = sl_relu(g, sl_linear(g, x, w, NULL));
    assert_null(y);
    assert_int_equal(sl_graph_status(g), SL_ERR_SHAPE);
    assert_non_null(strstr(sl_graph_errmsg(g), "[2, 5]"));
    assert_non_null(strstr(sl_graph_errmsg(g), "[3, 4]"));
    sl_error err = {0};
    assert_int_equal(sl_graph_take_error(g, &err), SL_ERR_SHAPE);
    sl_graph_reset(g);
    assert_int_equal(sl_graph_status(g), SL_OK);

    int32_t bad[2] = {0, 7};
    assert_null(sl_cross_entropy(g, x, bad));
    assert_int_equal(sl_graph_status(g), SL_ERR_INVALID);
    sl_graph_reset(g);
    int32_t good[2] = {0, 1};
    assert_null(sl_cross_entropy_smoothed(g, x, good, 1.0f)); /* smoothing must be < 1 */
    assert_int_equal(sl_graph_status(g), SL_ERR_INVALID);
    assert_non_null(strstr(sl_graph_errmsg(g), "label smoothing"));
    sl_graph_reset(g);
    assert_null(sl_cross_entropy_smoothed(g, x, good, NAN));
    assert_int_equal(sl_graph_status(g), SL_ERR_INVALID);
    sl_graph_reset(g);
    assert_null(sl_conv2d(g, x, w, NULL, 1, 0));
    assert_int_equal(sl_graph_status(g), SL_ERR_SHAPE);
    sl_graph_free(g);
    sl_tensor_free(w);
    sl_tensor_free(x);
}

static void test_backward_misuse(void **state)
{
    (void)state;
    sl_tensor *x = shape2(2, 3, -1, 1, 1);
    sl_graph *g = sl_graph_new(1, NULL);
    sl_tensor *y = sl_tanh(g, x);
    assert_int_equal(sl_backward(g, y), SL_ERR_SHAPE); /* not a scalar */
    sl_graph_reset(g);
    sl_tensor *t = sl_graph_tensor(g, 2, x->shape);
    sl_tensor *loss = sl_mse(g, sl_tanh(g, x), t);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    assert_int_equal(sl_backward(g, loss), SL_ERR_STATE); /* twice */
    sl_graph_reset(g);
    loss = sl_mse(g, t, t); /* nothing requires a gradient */
    assert_int_equal(sl_backward(g, loss), SL_ERR_STATE);
    sl_graph_free(g);
    sl_tensor_free(x);
}

static void test_gradients_accumulate(void **state)
{
    (void)state;
    sl_tensor *x = shape2(2, 3, -1, 1, 1);
    sl_graph *g = sl_graph_new(1, NULL);
    float first[6];
    for (int step = 0; step < 2; step++) {
        sl_graph_reset(g);
        sl_tensor *t = sl_graph_tensor(g, 2, x->shape);
        assert_int_equal(sl_backward(g, sl_mse(g, sl_sigmoid(g, x), t)), SL_OK);
        if (step == 0)
            memcpy(first, x->grad, sizeof first);
    }
    for (int i = 0; i < 6; i++)
        assert_float_equal(x->grad[i], 2.0f * first[i], 1e-7);
    sl_graph_free(g);
    sl_tensor_free(x);
}

static void test_inplace_refusals(void **state)
{
    (void)state;
    sl_tensor *x = shape2(2, 3, -1, 1, 1);
    sl_graph *g = sl_graph_new(1, NULL);
    assert_null(sl_leaky_relu_(g, sl_tanh(g, x), -0.5f));
    assert_int_equal(sl_graph_status(g), SL_ERR_INVALID);
    sl_graph_reset(g);
    assert_null(sl_leaky_relu_(g, x, 0.1f)); /* a caller's tensor */
    assert_int_equal(sl_graph_status(g), SL_ERR_INVALID);
    sl_graph_free(g);
    sl_tensor_free(x);
}

static void test_tensor_size_limits(void **state)
{
    (void)state;
    sl_error err = {0};
    int64_t huge[3] = {1 << 20, 1 << 20, 1 << 20};
    assert_null(sl_tensor_new(3, huge, &err));
    assert_int_equal(err.status, SL_ERR_NOMEM);
    int64_t wrap[4] = {INT64_MAX / 2, 4, 4, 4}; /* the product would wrap around */
    assert_null(sl_tensor_new(4, wrap, &err));
    assert_int_equal(err.status, SL_ERR_NOMEM);
    int64_t neg[2] = {3, -1};
    assert_null(sl_tensor_new(2, neg, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    assert_null(sl_tensor_new(5, huge, &err));
    assert_int_equal(err.status, SL_ERR_SHAPE);
    sl_graph *g = sl_graph_new(1, NULL);
    assert_null(sl_graph_tensor(g, 3, huge));
    assert_int_equal(sl_graph_status(g), SL_ERR_NOMEM);
    sl_graph_free(g);
}

static void test_modes_dropout_bn_rrelu(void **state)
{
    (void)state;
    int64_t s[2] = {100, 100};
    sl_tensor *x = tu_tensor_uniform(2, s, 1.0f, 1.0f, 1);
    sl_graph *g = sl_graph_new(42, NULL);
    sl_tensor *y = sl_dropout(g, x, 0.25f);
    int zeros = 0;
    for (int64_t i = 0; i < y->size; i++) {
        if (y->data[i] == 0.0f)
            zeros++;
        else
            assert_float_equal(y->data[i], 1.0f / 0.75f, 1e-6);
    }
    assert_in_range(zeros, 2300, 2700); /* 10000 draws at p = 0.25: sd 43 */
    sl_graph_set_training(g, 0);
    assert_ptr_equal(sl_dropout(g, x, 0.25f), x);

    sl_tensor *neg = tu_tensor_uniform(2, s, -2.0f, -2.0f, 1);
    y = sl_rrelu(g, neg, 0.1f, 0.3f);
    assert_float_equal(y->data[0], -0.4f, 1e-6); /* mean slope 0.2 */
    sl_graph_set_training(g, 1);
    y = sl_rrelu(g, neg, 0.1f, 0.3f);
    for (int64_t i = 0; i < y->size; i++)
        assert_true(y->data[i] >= -0.6f - 1e-6f && y->data[i] <= -0.2f + 1e-6f);

    /* Running statistics: mean 0 -> 0.1 * batch mean; var 1 -> 0.9 + 0.1 * unbiased var. */
    int64_t fs[2] = {4, 1}, c1 = 1;
    sl_tensor *f = tu_tensor_uniform(2, fs, 0, 0, 1), *rm = sl_tensor_new(1, &c1, NULL),
              *rv = sl_tensor_new(1, &c1, NULL);
    float fv[4] = {1, 2, 3, 6};
    memcpy(f->data, fv, sizeof fv);
    rv->data[0] = 1.0f;
    y = sl_batch_norm(g, f, NULL, NULL, rm, rv, 0.1f, 1e-5f);
    assert_non_null(y);
    assert_float_equal(rm->data[0], 0.3f, 1e-6);
    assert_float_equal(rv->data[0], 0.9f + 0.1f * (14.0f / 3.0f), 1e-5);
    assert_float_equal(y->data[3], (6.0f - 3.0f) / sqrtf(3.5f + 1e-5f), 1e-5);
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_tensor_free(neg);
    sl_tensor_free(f);
    sl_tensor_free(rm);
    sl_tensor_free(rv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grad_matmul),
        cmocka_unit_test(test_grad_linear),
        cmocka_unit_test(test_grad_conv2d),
        cmocka_unit_test(test_grad_pooling),
        cmocka_unit_test(test_grad_elementwise),
        cmocka_unit_test(test_grad_batch_norm),
        cmocka_unit_test(test_batch_norm_threads),
        cmocka_unit_test(test_grad_leaky_family),
        cmocka_unit_test(test_grad_smooth_activations),
        cmocka_unit_test(test_grad_losses),
        cmocka_unit_test(test_bce_with_logits_extremes),
        cmocka_unit_test(test_graph_randn),
        cmocka_unit_test(test_every_op_kind),
        cmocka_unit_test(test_rnn_preactivations),
        cmocka_unit_test(test_leaky_relu_at_zero),
        cmocka_unit_test(test_prelu_at_zero_and_slope_grad),
        cmocka_unit_test(test_nan_as_torch),
        cmocka_unit_test(test_no_grad_records_nothing),
        cmocka_unit_test(test_errors_propagate_and_name_shapes),
        cmocka_unit_test(test_backward_misuse),
        cmocka_unit_test(test_gradients_accumulate),
        cmocka_unit_test(test_inplace_refusals),
        cmocka_unit_test(test_tensor_size_limits),
        cmocka_unit_test(test_modes_dropout_bn_rrelu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
