/*
 * bench_kernels.c - speed of the raw kernels, alone (no tensors, no graph).
 *
 *   bench_kernels [--threads N] [--reps R]
 *
 * (a) leaky_relu forward/backward over 16M floats, in GB/s of bytes read plus
 *     written, against memcpy measured in the same run (target: >= 0.6x);
 * (b) raw cblas_sgemm GFLOP/s on the MLP's linear layers at batch 64 and on 2048^3;
 * (c) conv forward + backward at kernel level (im2col + sgemm + col2im, one
 *     image at a time, as the conv op does), against the same sgemm calls alone.
 *
 * Every case is warmed up, then timed R times (each time long enough to read
 * the clock well); the table shows the best and the median time per call.
 * --threads sets OpenBLAS's threads; the elementwise kernels are single-threaded.
 */
#define _POSIX_C_SOURCE 200809L

#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_timing.h"

#include "kernels.h"

/* From OpenBLAS (also in its cblas.h; declared here for other cblas.h headers). */
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);

/* ---- timing ---- */

typedef void (*bench_fn)(void *ctx);

typedef struct timing {
    double best;   /* seconds per call */
    double median; /* seconds per call */
} timing;


#define MAX_REPS 101
static int g_reps = 7;

/* Warm up, pick a call count that makes one sample >= 20 ms, take g_reps samples. */
static timing run_bench(bench_fn fn, void *ctx)
{
    fn(ctx); /* warm-up: page faults, caches, OpenBLAS threads */
    double t0 = now();
    fn(ctx);
    double once = now() - t0;
    int calls = 1;
    if (once < 0.02)
        calls = (int)(0.02 / (once > 1e-7 ? once : 1e-7)) + 1;

    double samples[MAX_REPS];
    for (int r = 0; r < g_reps; r++) {
        double start = now();
        for (int c = 0; c < calls; c++)
            fn(ctx);
        samples[r] = (now() - start) / calls;
    }
    qsort(samples, (size_t)g_reps, sizeof samples[0], cmp_double);
    timing t = {samples[0], samples[g_reps / 2]};
    return t;
}

/* ---- buffers ---- */

static float *new_floats(int64_t n, float lo, float hi, uint64_t seed)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory (%lld floats)\n", (long long)n);
        exit(1);
    }
    uint64_t s = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) { /* a cheap LCG: the values only need a spread */
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        p[i] = lo + (hi - lo) * (float)((double)(s >> 40) / 16777216.0);
    }
    return p;
}

/* ---- (a) memory-bound kernels ---- */

typedef struct act_ctx {
    float *x, *y, *dy, *dx;
    int64_t n;
    float a;
} act_ctx;

static void run_memcpy(void *p)
{
    act_ctx *c = p;
    memcpy(c->y, c->x, (size_t)c->n * sizeof(float));
}

static void run_leaky_fwd(void *p)
{
    act_ctx *c = p;
    sl_k_leaky_relu_fwd(c->x, c->y, c->n, c->a);
}

/* The in-place forms alternate a and 1/a, so repeated calls neither shrink the
 * negatives into denormals (which are slow) nor grow them. */
static void run_leaky_fwd_inplace(void *p)
{
    act_ctx *c = p;
    sl_k_leaky_relu_fwd(c->y, c->y, c->n, c->a);
    c->a = 1.0f / c->a;
}

static void run_leaky_bwd(void *p)
{
    act_ctx *c = p;
    sl_k_leaky_relu_bwd(c->x, c->dy, c->dx, c->n, c->a);
}

static void run_leaky_bwd_inplace(void *p)
{
    act_ctx *c = p;
    sl_k_leaky_relu_bwd_inplace(c->x, c->dy, c->n, c->a);
    c->a = 1.0f / c->a;
}

static void bench_memory(void)
{
    const int64_t n = (int64_t)16 << 20;
    const double mb = (double)n * sizeof(float);
    act_ctx c = {new_floats(n, -1, 1, 1), new_floats(n, -1, 1, 2), new_floats(n, -1, 1, 3),
                 new_floats(n, -1, 1, 4), n, 0.01f};

    struct {
        const char *name;
        bench_fn fn;
        double bytes; /* read + written per call */
    } cases[] = {
        {"memcpy (64 MiB)", run_memcpy, 2 * mb},
        {"leaky_relu fwd  y = f(x)", run_leaky_fwd, 2 * mb},
        {"leaky_relu fwd  in place", run_leaky_fwd_inplace, 2 * mb},
        {"leaky_relu bwd  dx += dy*f'(x)", run_leaky_bwd, 4 * mb},
        {"leaky_relu bwd  in place g *= f'(y)", run_leaky_bwd_inplace, 3 * mb},
    };
    const int ncases = (int)(sizeof cases / sizeof cases[0]);

    printf("(a) memory-bound kernels, 16M floats (single thread)\n");
    printf("  %-38s %9s %9s %8s %9s\n", "kernel", "best ms", "median ms", "GB/s", "x memcpy");
    double memcpy_gbs = 0.0;
    for (int i = 0; i < ncases; i++) {
        c.a = 0.01f;
        timing t = run_bench(cases[i].fn, &c);
        double gbs = cases[i].bytes / t.best * 1e-9;
        if (i == 0)
            memcpy_gbs = gbs;
        printf("  %-38s %9.2f %9.2f %8.2f %9.2f\n", cases[i].name, t.best * 1e3, t.median * 1e3,
               gbs, gbs / memcpy_gbs);
    }
    printf("\n");
    free(c.x);
    free(c.y);
    free(c.dy);
    free(c.dx);
}

/* ---- (b) sgemm ---- */

typedef struct gemm_ctx {
    int ta, tb, M, N, K;
    const float *A, *B;
    float *C;
    float beta;
} gemm_ctx;

static void run_gemm(void *p)
{
    gemm_ctx *g = p;
    int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans,
                g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, g->K, 1.0f, g->A, lda, g->B, ldb,
                g->beta, g->C, g->N);
}

/* Times one product op(A)[M,K] @ op(B)[K,N] on fresh buffers; returns GFLOP/s. */
static double bench_gemm(const char *name, int ta, int tb, int M, int N, int K, float beta)
{
    float *A = new_floats((int64_t)M * K, -1, 1, 5);
    float *B = new_floats((int64_t)K * N, -1, 1, 6);
    float *C = new_floats((int64_t)M * N, -1, 1, 7);
    gemm_ctx g = {ta, tb, M, N, K, A, B, C, beta};
    timing t = run_bench(run_gemm, &g);
    double flops = 2.0 * M * N * K;
    double gflops = flops / t.best * 1e-9;
    printf("  %-30s %5d %5d %5d %10.3f %10.3f %9.1f\n", name, M, N, K, t.best * 1e3,
           t.median * 1e3, gflops);
    free(A);
    free(B);
    free(C);
    return gflops;
}

static double bench_sgemm(void)
{
    printf("(b) cblas_sgemm\n");
    printf("  %-30s %5s %5s %5s %10s %10s %9s\n", "product", "M", "N", "K", "best ms",
           "median ms", "GFLOP/s");
    /* Linear in -> out at batch 64: y = x W^T, dW += dy^T x, dx = dy W. */
    const int layers[2][2] = {{784, 256}, {256, 128}};
    for (int l = 0; l < 2; l++) {
        int in = layers[l][0], out = layers[l][1];
        char name[64];
        snprintf(name, sizeof name, "%d->%d  y = x W^T", in, out);
        bench_gemm(name, 0, 1, 64, out, in, 0.0f);
        snprintf(name, sizeof name, "%d->%d  dW += dy^T x", in, out);
        bench_gemm(name, 1, 0, out, in, 64, 1.0f);
        snprintf(name, sizeof name, "%d->%d  dx = dy W", in, out);
        bench_gemm(name, 0, 0, 64, in, out, 0.0f);
    }
    double peak = bench_gemm("2048^3", 0, 0, 2048, 2048, 2048, 0.0f);
    printf("\n");
    return peak;
}

/* ---- (c) convolution ---- */

typedef struct conv_ctx {
    int N, C, H, W, O, k, pad, OH, OW;
    int R, P;                 /* R = C*k*k rows of cols, P = OH*OW positions */
    float *x, *w, *y;         /* x[N,C,H,W], w[O,R], y[N,O,P] */
    float *cols;              /* [N][R, P]: kept from forward for backward */
    float *dy, *dw, *dcols, *dx; /* dcols [R, P] scratch for one image */
    int gemm_only;            /* 1: skip im2col/col2im (the sgemm-alone baseline) */
} conv_ctx;

static void conv_forward(void *p)
{
    conv_ctx *c = p;
    for (int n = 0; n < c->N; n++) {
        float *cols = c->cols + (int64_t)n * c->R * c->P;
        if (!c->gemm_only)
            sl_k_im2col(c->x + (int64_t)n * c->C * c->H * c->W, c->C, c->H, c->W, c->k, c->k, 1,
                        c->pad, c->OH, c->OW, cols);
        sl_k_sgemm(0, 0, c->O, c->P, c->R, 1.0f, c->w, c->R, cols, c->P, 0.0f,
                   c->y + (int64_t)n * c->O * c->P, c->P);
    }
}

static void conv_backward(void *p)
{
    conv_ctx *c = p;
    for (int n = 0; n < c->N; n++) {
        const float *cols = c->cols + (int64_t)n * c->R * c->P;
        const float *dy = c->dy + (int64_t)n * c->O * c->P;
        /* dW[O, R] += dy[O, P] @ cols[R, P]^T;  dcols[R, P] = W[O, R]^T @ dy[O, P] */
        sl_k_sgemm(0, 1, c->O, c->R, c->P, 1.0f, dy, c->P, cols, c->P, 1.0f, c->dw, c->R);
        sl_k_sgemm(1, 0, c->R, c->P, c->O, 1.0f, c->w, c->R, dy, c->P, 0.0f, c->dcols, c->P);
        if (!c->gemm_only)
            sl_k_col2im(c->dcols, c->C, c->H, c->W, c->k, c->k, 1, c->pad, c->OH, c->OW,
                        c->dx + (int64_t)n * c->C * c->H * c->W);
    }
}

static void bench_conv(const char *name, int N, int C, int H, int W, int O, int k, int pad,
                       double peak)
{
    conv_ctx c = {0};
    c.N = N, c.C = C, c.H = H, c.W = W, c.O = O, c.k = k, c.pad = pad;
    c.OH = H + 2 * pad - k + 1;
    c.OW = W + 2 * pad - k + 1;
    c.R = C * k * k;
    c.P = c.OH * c.OW;
    c.x = new_floats((int64_t)N * C * H * W, -1, 1, 8);
    c.w = new_floats((int64_t)O * c.R, -0.1f, 0.1f, 9);
    c.y = new_floats((int64_t)N * O * c.P, 0, 0, 10);
    c.cols = new_floats((int64_t)N * c.R * c.P, 0, 0, 11);
    c.dy = new_floats((int64_t)N * O * c.P, -1, 1, 12);
    c.dw = new_floats((int64_t)O * c.R, 0, 0, 13);
    c.dcols = new_floats((int64_t)c.R * c.P, 0, 0, 14);
    c.dx = new_floats((int64_t)N * C * H * W, 0, 0, 15);

    double flops_fwd = 2.0 * N * O * c.R * c.P, flops_bwd = 2.0 * flops_fwd;
    c.gemm_only = 0;
    timing fwd = run_bench(conv_forward, &c);
    timing bwd = run_bench(conv_backward, &c);
    c.gemm_only = 1;
    timing gfwd = run_bench(conv_forward, &c);
    timing gbwd = run_bench(conv_backward, &c);

    double total = fwd.best + bwd.best, gemm_total = gfwd.best + gbwd.best;
    double gflops = (flops_fwd + flops_bwd) / total * 1e-9;
    double gemm_gflops = (flops_fwd + flops_bwd) / gemm_total * 1e-9;
    printf("  %-28s %8.3f %8.3f %9.1f %9.1f %8.2f %8.2f\n", name, fwd.best * 1e3,
           bwd.best * 1e3, gflops, gemm_gflops, gflops / gemm_gflops, gflops / peak);
    free(c.x);
    free(c.w);
    free(c.y);
    free(c.cols);
    free(c.dy);
    free(c.dw);
    free(c.dcols);
    free(c.dx);
}

static void bench_convs(double peak)
{
    printf("(c) conv 3x3 pad 1, batch 32: im2col + sgemm (fwd); 2 sgemm + col2im (bwd)\n");
    printf("  %-28s %8s %8s %9s %9s %8s %8s\n", "layer", "fwd ms", "bwd ms", "GFLOP/s",
           "gemm-only", "x gemm", "x 2048^3");
    bench_conv("1x28x28 -> 32", 32, 1, 28, 28, 32, 3, 1, peak);
    bench_conv("32x14x14 -> 64", 32, 32, 14, 14, 64, 3, 1, peak);
    printf("  (gemm-only: the same sgemm calls without im2col/col2im; times are best of %d)\n",
           g_reps);
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr, "usage: bench_kernels [--threads N] [--reps R]\n");
}

int main(int argc, char **argv)
{
    int threads = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
            if (threads < 1) {
                usage();
                return 2;
            }
        } else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            g_reps = atoi(argv[++i]);
            if (g_reps < 1 || g_reps > MAX_REPS) {
                fprintf(stderr, "bench_kernels: --reps must be 1..%d\n", MAX_REPS);
                return 2;
            }
        } else {
            usage();
            return 2;
        }
    }
    if (threads > 0)
        openblas_set_num_threads(threads);

    printf("slope kernel benchmark: OpenBLAS threads %d, %d timed repetitions per case\n\n",
           openblas_get_num_threads(), g_reps);
    bench_memory();
    double peak = bench_sgemm();
    bench_convs(peak);
    return 0;
}
