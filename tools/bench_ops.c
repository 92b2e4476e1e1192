/*
 * bench_ops.c - the core ops against the BLAS they sit on, in one run.
 *
 *   linear forward+backward (batch 64; 784->256 and 256->128): GFLOP/s of the
 *     op (through graph, tape and arena) as a ratio of the same three raw
 *     cblas_sgemm calls.  Target >= 0.85.
 *   conv2d forward+backward (32x1x28x28 -> 32ch 3x3 pad 1, 32x32x14x14 -> 64ch):
 *     GFLOP/s and ratio to raw sgemm on the same matrix shapes.
 *   one SGD step (momentum 0.9, weight decay 5e-4) over fashion_mlp's parameters
 *     (235k): microseconds; compare --threads 1 with --threads 2 for the pool's split.
 *
 * usage: bench_ops [--threads N] [--reps R]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_timing.h"

#include <cblas.h>

#include "slope/slope.h"


/* Median seconds of fn over reps runs, after warm-ups. */
static double median_time(void (*fn)(void *), void *ctx, int reps)
{
    double t[64];
    if (reps > 64)
        reps = 64;
    for (int i = 0; i < 3; i++)
        fn(ctx);
    for (int r = 0; r < reps; r++) {
        double s = now();
        fn(ctx);
        t[r] = now() - s;
    }
    qsort(t, (size_t)reps, sizeof t[0], cmp_double);
    return t[reps / 2];
}

static sl_tensor *filled(int ndim, const int64_t *shape, int grad)
{
    sl_tensor *t = sl_tensor_new(ndim, shape, NULL);
    sl_rng r;
    sl_rng_seed(&r, (uint64_t)t->size);
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = sl_rng_uniform(&r) - 0.5f;
    if (grad) {
        sl_tensor_set_requires_grad(t, 1);
        sl_tensor_ensure_grad(t, NULL);
    }
    return t;
}

/* ---- linear ------------------------------------------------------------- */

/* Forward + backward of one linear layer whose input needs a gradient too (a hidden
 * layer).  The op version adds an MSE loss (O(N*out), ~1% of the products) since
 * backward starts from a scalar. */
typedef struct linear_case {
    int N, in, out;
    sl_tensor *x, *w, *b, *target;
    sl_graph *g;
    float *y, *dx; /* raw-sgemm scratch */
} linear_case;

static void linear_op(void *p)
{
    linear_case *c = p;
    sl_graph_reset(c->g);
    sl_tensor *y = sl_linear(c->g, c->x, c->w, c->b);
    if (sl_backward(c->g, sl_mse(c->g, y, c->target)) != SL_OK) {
        fprintf(stderr, "bench_ops: %s\n", sl_graph_errmsg(c->g));
        exit(1);
    }
}

static void linear_raw(void *p)
{
    linear_case *c = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->N, c->out, c->in, 1.0f, c->x->data,
                c->in, c->w->data, c->in, 0.0f, c->y, c->out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->N, c->in, c->out, 1.0f, c->y,
                c->out, c->w->data, c->in, 0.0f, c->dx, c->in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, c->out, c->in, c->N, 1.0f, c->y,
                c->out, c->x->data, c->in, 1.0f, c->w->grad, c->in);
}

static void bench_linear(int N, int in, int out, int reps)
{
    linear_case c = {.N = N, .in = in, .out = out};
    int64_t xs[2] = {N, in}, ws[2] = {out, in}, bs[1] = {out}, ys[2] = {N, out};
    c.x = filled(2, xs, 1);
    c.w = filled(2, ws, 1);
    c.b = filled(1, bs, 1);
    c.target = filled(2, ys, 0);
    c.g = sl_graph_new(1, NULL);
    c.y = malloc((size_t)N * out * sizeof(float));
    c.dx = malloc((size_t)N * in * sizeof(float));
    double flops = 3.0 * 2.0 * N * in * out;
    double t_op = median_time(linear_op, &c, reps), t_raw = median_time(linear_raw, &c, reps);
    printf("linear %4d -> %-4d batch %d   op %7.1f GFLOP/s   raw sgemm %7.1f GFLOP/s   ratio %.2f\n",
           in, out, N, flops / t_op * 1e-9, flops / t_raw * 1e-9, t_raw / t_op);
    sl_tensor_free(c.x);
    sl_tensor_free(c.w);
    sl_tensor_free(c.b);
    sl_tensor_free(c.target);
    sl_graph_free(c.g);
    free(c.y);
    free(c.dx);
}

/* ---- conv2d ---------------------------------------------------------------- */

typedef struct conv_case {
    int N, C, H, W, O, k, pad;
    sl_tensor *x, *w, *b, *target;
    sl_graph *g;
    float *cols, *y, *dcols;
} conv_case;

static void conv_op(void *p)
{
    conv_case *c = p;
    sl_graph_reset(c->g);
    sl_tensor *y = sl_conv2d(c->g, c->x, c->w, c->b, 1, c->pad);
    if (sl_backward(c->g, sl_mse(c->g, y, c->target)) != SL_OK) {
        fprintf(stderr, "bench_ops: %s\n", sl_graph_errmsg(c->g));
        exit(1);
    }
}

/* The same matrix products as the op, without im2col/col2im: the BLAS bound. */
static void conv_raw(void *p)
{
    conv_case *c = p;
    int ckk = c->C * c->k * c->k, ohw = c->H * c->W; /* stride 1, same padding */
    for (int i = 0; i < c->N; i++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c->O, ohw, ckk, 1.0f, c->w->data,
                    ckk, c->cols, ohw, 0.0f, c->y, ohw);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->O, ckk, ohw, 1.0f, c->y, ohw,
                    c->cols, ohw, 1.0f, c->w->grad, ckk);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, ohw, c->O, 1.0f, c->w->data,
                    ckk, c->y, ohw, 0.0f, c->dcols, ohw);
    }
}

static void bench_conv(int N, int C, int H, int O, int reps)
{
    conv_case c = {.N = N, .C = C, .H = H, .W = H, .O = O, .k = 3, .pad = 1};
    int64_t xs[4] = {N, C, H, H}, ws[4] = {O, C, 3, 3}, bs[1] = {O}, ys[4] = {N, O, H, H};
    c.x = filled(4, xs, C > 1); /* the first layer's input needs no gradient */
    c.w = filled(4, ws, 1);
    c.b = filled(1, bs, 1);
    c.target = filled(4, ys, 0);
    c.g = sl_graph_new(1, NULL);
    size_t ckk = (size_t)C * 9, ohw = (size_t)H * H;
    c.cols = calloc(ckk * ohw, sizeof(float));
    c.dcols = calloc(ckk * ohw, sizeof(float));
    c.y = calloc((size_t)O * ohw, sizeof(float));
    double flops = 3.0 * 2.0 * N * (double)O * ohw * ckk;
    double t_op = median_time(conv_op, &c, reps), t_raw = median_time(conv_raw, &c, reps);
    printf("conv2d %dx%dx%dx%d -> %d ch 3x3 pad 1   op %7.1f GFLOP/s   raw sgemm %7.1f GFLOP/s   "
           "ratio %.2f\n",
           N, C, H, H, O, flops / t_op * 1e-9, flops / t_raw * 1e-9, t_raw / t_op);
    sl_tensor_free(c.x);
    sl_tensor_free(c.w);
    sl_tensor_free(c.b);
    sl_tensor_free(c.target);
    sl_graph_free(c.g);
    free(c.cols);
    free(c.dcols);
    free(c.y);
}

/* ---- the optimizer -------------------------------------------------------------- */

typedef struct optim_case {
    sl_optimizer *opt;
} optim_case;

static void optim_step(void *p)
{
    optim_case *c = p;
    sl_error err = {0};
    if (sl_optimizer_step(c->opt, 0.01f, &err) != SL_OK) {
        fprintf(stderr, "bench_ops: %s\n", err.message);
        exit(1);
    }
}

/* fashion_mlp's weights and biases: 784 -> 256 -> 128 -> 10. */
static void bench_optimizer(int reps)
{
    const int64_t shapes[6][2] = {{256, 784}, {256, 1}, {128, 256}, {128, 1}, {10, 128}, {10, 1}};
    static const char *names[6] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"};
    sl_param params[6];
    int64_t total = 0;
    for (int i = 0; i < 6; i++) {
        sl_tensor *t = filled(2, shapes[i], 1);
        for (int64_t k = 0; k < t->size; k++)
            t->grad[k] = 1e-3f * t->data[k];
        params[i] = (sl_param){names[i], t, i % 2 ? SL_PARAM_BIAS : SL_PARAM_WEIGHT, i};
        total += t->size;
    }
    sl_optim_spec spec = sl_optim_defaults(SL_OPTIM_SGD);
    spec.momentum = 0.9f;
    spec.weight_decay = 5e-4f;
    optim_case c = {sl_optimizer_new(params, 6, &spec, NULL)};
    if (!c.opt) {
        fprintf(stderr, "bench_ops: no optimizer\n");
        exit(1);
    }
    optim_step(&c); /* past the first step's own branch */
    double t = median_time(optim_step, &c, reps);
    printf("sgd step, momentum, %lld parameters   %7.1f us\n", (long long)total, t * 1e6);
    sl_optimizer_free(c.opt);
    for (int i = 0; i < 6; i++)
        sl_tensor_free(params[i].tensor);
}

int main(int argc, char **argv)
{
    int threads = 0, reps = 31;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0)
            threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[i + 1]);
    }
    if (threads > 0)
        sl_set_num_threads(threads);
    printf("slope %s ops vs raw cblas_sgemm (median of %d, %s threads)\n", sl_version(), reps,
           threads > 0 ? argv[2] : "default");
    bench_linear(64, 784, 256, reps);
    bench_linear(64, 256, 128, reps);
    bench_conv(32, 1, 28, 32, reps);
    bench_conv(32, 32, 14, 64, reps);
    bench_optimizer(reps);
    return 0;
}
