/*
 * test_kernels.c - every kernel of src/kernels.h against a naive
 * double-precision reference written here, independently of kernels.c.
 *
 * Backward kernels accumulate, so their outputs are pre-filled with nonzero
 * values and the expected result is prefill + gradient.  Sizes are odd and
 * not multiples of any vector width, so the loops' tails run too.
 */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- helpers ---- */

/* A small local generator (splitmix64), so this test depends on kernels.c alone. */
static uint64_t rng_state;

static void rng_reset(uint64_t seed)
{
    rng_state = seed;
}

static float rng_uniform(float lo, float hi)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return lo + (hi - lo) * (float)((double)(z >> 40) / 16777216.0);
}

static float *alloc_floats(int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof *p);
    assert_non_null(p);
    return p;
}

static float *random_floats(int64_t n, float lo, float hi)
{
    float *p = alloc_floats(n);
    for (int64_t i = 0; i < n; i++)
        p[i] = rng_uniform(lo, hi);
    return p;
}

static float *copy_floats(const float *src, int64_t n)
{
    float *p = alloc_floats(n);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

/* Asserts got[i] is bit-for-bit want[i] (so -0.0f differs from 0.0f). */
static void assert_bits_equal(const float *got, const float *want, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s[%lld]: got %.9g, expected %.9g", what, (long long)i, (double)got[i],
                     (double)want[i]);
}

static void assert_all_finite(const float *p, int64_t n, const char *what)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            fail_msg("%s[%lld] is not finite: %g", what, (long long)i, (double)p[i]);
}

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

/* Inputs for the activations: both zeros, the smallest numbers, large values. */
static const float special[] = {0.0f,    -0.0f, 1e-30f, -1e-30f, 1e-45f, -1e-45f, 0.5f,
                                -0.5f,   1.0f,  -1.0f,  3.0f,    -3.0f,  20.0f,  -20.0f,
                                100.0f, -100.0f, 1e30f, -1e30f};
#define N_SPECIAL ((int64_t)(sizeof special / sizeof special[0]))

/* special followed by random values in [-4, 4): 18 + 45 = 63 elements. */
#define N_ACT 63
static float *activation_inputs(void)
{
    float *x = random_floats(N_ACT, -4.0f, 4.0f);
    memcpy(x, special, sizeof special);
    return x;
}

/* ---- sgemm ---- */

static void check_sgemm(int ta, int tb)
{
    const int M = 7, N = 5, K = 9;
    const float alpha = 1.5f, beta = 0.5f;
    /* Leading dimensions larger than the minimum; the gaps hold sentinels. */
    const int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 4;
    const int arows = ta ? K : M, brows = tb ? N : K;
    rng_reset(100 + 2 * ta + tb);
    float *A = random_floats((int64_t)arows * lda, -1.0f, 1.0f);
    float *B = random_floats((int64_t)brows * ldb, -1.0f, 1.0f);
    float *C = random_floats((int64_t)M * ldc, -1.0f, 1.0f);
    float *C0 = copy_floats(C, (int64_t)M * ldc);

    sl_k_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);

    for (int m = 0; m < M; m++) {
        for (int n = 0; n < N; n++) {
            double s = 0.0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[k * lda + m] : A[m * lda + k];
                double b = tb ? B[n * ldb + k] : B[k * ldb + n];
                s += a * b;
            }
            double want = alpha * s + beta * (double)C0[m * ldc + n];
            float got = C[m * ldc + n];
            if (fabs((double)got - want) > 1e-5 + 1e-5 * fabs(want))
                fail_msg("sgemm(%d,%d) C[%d,%d] = %.9g, expected %.9g", ta, tb, m, n,
                         (double)got, want);
        }
        for (int n = N; n < ldc; n++) /* beyond N: untouched */
            assert_true(C[m * ldc + n] == C0[m * ldc + n]);
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

static void test_sgemm_all_transposes(void **state)
{
    (void)state;
    check_sgemm(0, 0);
    check_sgemm(0, 1);
    check_sgemm(1, 0);
    check_sgemm(1, 1);
}

/* ---- bias ---- */

static void test_bias_rows(void **state)
{
    (void)state;
    const int64_t N = 5, F = 37;
    rng_reset(1);
    float *y = random_floats(N * F, -1.0f, 1.0f);
    float *b = random_floats(F, -1.0f, 1.0f);
    float *y0 = copy_floats(y, N * F);
    float *want = alloc_floats(N * F);
    sl_k_add_bias_rows(y, b, N, F);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < F; j++)
            want[n * F + j] = (float)((double)y0[n * F + j] + (double)b[j]);
    tu_assert_close(y, want, N * F, 0.0, 0.0, "add_bias_rows");

    float *db = random_floats(F, -1.0f, 1.0f);
    float *db0 = copy_floats(db, F);
    sl_k_bias_grad_rows(y0, db, N, F);
    for (int64_t j = 0; j < F; j++) {
        double s = db0[j];
        for (int64_t n = 0; n < N; n++)
            s += y0[n * F + j];
        want[j] = (float)s;
    }
    tu_assert_close(db, want, F, 1e-6, 1e-6, "bias_grad_rows");
    free(y);
    free(b);
    free(y0);
    free(want);
    free(db);
    free(db0);
}

static void test_bias_channels(void **state)
{
    (void)state;
    /* inner = 10007 > one reduction chunk, and not a multiple of the lane count. */
    const int64_t C = 3, inner = 10007;
    rng_reset(2);
    float *y = random_floats(C * inner, -1.0f, 1.0f);
    float *b = random_floats(C, -1.0f, 1.0f);
    float *y0 = copy_floats(y, C * inner);
    float *want = alloc_floats(C * inner);
    sl_k_add_bias_channels(y, b, C, inner);
    for (int64_t c = 0; c < C; c++)
        for (int64_t p = 0; p < inner; p++)
            want[c * inner + p] = (float)((double)y0[c * inner + p] + (double)b[c]);
    tu_assert_close(y, want, C * inner, 0.0, 0.0, "add_bias_channels");

    float db[3] = {0.25f, -1.0f, 2.0f};
    sl_k_bias_grad_channels(y0, db, C, inner);
    const float db0[3] = {0.25f, -1.0f, 2.0f};
    for (int64_t c = 0; c < C; c++) {
        double s = db0[c];
        for (int64_t p = 0; p < inner; p++)
            s += y0[c * inner + p];
        want[c] = (float)s;
    }
    tu_assert_close(db, want, C, 1e-4, 1e-6, "bias_grad_channels");
    free(y);
    free(b);
    free(y0);
    free(want);
}

/* ---- im2col / col2im ---- */

typedef struct conv_case {
    int C, H, W, kh, kw, stride, pad;
} conv_case;

static const conv_case conv_cases[] = {
    {3, 7, 5, 3, 3, 1, 1},  /* odd sizes, same padding */
    {2, 7, 9, 3, 3, 2, 1},  /* stride 2, pad 1 */
    {2, 8, 6, 2, 2, 2, 0},  /* no padding */
    {1, 5, 6, 3, 2, 1, 0},  /* rectangular kernel */
    {2, 4, 5, 3, 3, 1, 2},  /* pad larger than k/2: whole padded rows and columns */
    {1, 1, 1, 3, 3, 1, 1},  /* a single pixel */
    {3, 6, 7, 5, 5, 3, 2},  /* stride 3 */
    {2, 9, 9, 1, 1, 2, 0},  /* 1x1 kernel, stride 2 */
};
#define N_CONV_CASES ((int)(sizeof conv_cases / sizeof conv_cases[0]))

static int out_size(int in, int k, int stride, int pad)
{
    return (in + 2 * pad - k) / stride + 1;
}

/* The input pixel under column (c, i, j), output (oy, ox), or 0 in the padding. */
static float ref_patch(const float *img, const conv_case *cc, int c, int i, int j, int oy, int ox)
{
    int iy = oy * cc->stride - cc->pad + i;
    int ix = ox * cc->stride - cc->pad + j;
    if (iy < 0 || iy >= cc->H || ix < 0 || ix >= cc->W)
        return 0.0f;
    return img[((int64_t)c * cc->H + iy) * cc->W + ix];
}

static void test_im2col_reference(void **state)
{
    (void)state;
    for (int t = 0; t < N_CONV_CASES; t++) {
        const conv_case *cc = &conv_cases[t];
        int OH = out_size(cc->H, cc->kh, cc->stride, cc->pad);
        int OW = out_size(cc->W, cc->kw, cc->stride, cc->pad);
        int64_t rows = (int64_t)cc->C * cc->kh * cc->kw, P = (int64_t)OH * OW;
        rng_reset(10 + (uint64_t)t);
        float *img = random_floats((int64_t)cc->C * cc->H * cc->W, -1.0f, 1.0f);
        float *cols = random_floats(rows * P, 5.0f, 6.0f); /* garbage to overwrite */
        float *want = alloc_floats(rows * P);
        for (int c = 0; c < cc->C; c++)
            for (int i = 0; i < cc->kh; i++)
                for (int j = 0; j < cc->kw; j++)
                    for (int oy = 0; oy < OH; oy++)
                        for (int ox = 0; ox < OW; ox++)
                            want[(((int64_t)c * cc->kh + i) * cc->kw + j) * P + oy * OW + ox] =
                                ref_patch(img, cc, c, i, j, oy, ox);
        sl_k_im2col(img, cc->C, cc->H, cc->W, cc->kh, cc->kw, cc->stride, cc->pad, OH, OW, cols);
        assert_bits_equal(cols, want, rows * P, "im2col");
        free(img);
        free(cols);
        free(want);
    }
}

static void test_col2im_reference_and_adjoint(void **state)
{
    (void)state;
    for (int t = 0; t < N_CONV_CASES; t++) {
        const conv_case *cc = &conv_cases[t];
        int OH = out_size(cc->H, cc->kh, cc->stride, cc->pad);
        int OW = out_size(cc->W, cc->kw, cc->stride, cc->pad);
        int64_t rows = (int64_t)cc->C * cc->kh * cc->kw, P = (int64_t)OH * OW;
        int64_t nimg = (int64_t)cc->C * cc->H * cc->W;
        rng_reset(20 + (uint64_t)t);
        float *x = random_floats(nimg, -1.0f, 1.0f);
        float *c = random_floats(rows * P, -1.0f, 1.0f);
        float *xc = alloc_floats(rows * P);
        float *img = random_floats(nimg, -1.0f, 1.0f); /* prefilled: col2im accumulates */
        float *img0 = copy_floats(img, nimg);

        /* Reference scatter in double, on top of the prefill. */
        double *want = calloc((size_t)nimg, sizeof *want);
        assert_non_null(want);
        for (int64_t i = 0; i < nimg; i++)
            want[i] = img0[i];
        for (int ch = 0; ch < cc->C; ch++)
            for (int i = 0; i < cc->kh; i++)
                for (int j = 0; j < cc->kw; j++)
                    for (int oy = 0; oy < OH; oy++)
                        for (int ox = 0; ox < OW; ox++) {
                            int iy = oy * cc->stride - cc->pad + i;
                            int ix = ox * cc->stride - cc->pad + j;
                            if (iy < 0 || iy >= cc->H || ix < 0 || ix >= cc->W)
                                continue;
                            want[((int64_t)ch * cc->H + iy) * cc->W + ix] +=
                                c[(((int64_t)ch * cc->kh + i) * cc->kw + j) * P + oy * OW + ox];
                        }
        sl_k_col2im(c, cc->C, cc->H, cc->W, cc->kh, cc->kw, cc->stride, cc->pad, OH, OW, img);
        for (int64_t i = 0; i < nimg; i++)
            if (fabs((double)img[i] - want[i]) > 1e-5)
                fail_msg("col2im case %d [%lld]: got %.9g, expected %.9g", t, (long long)i,
                         (double)img[i], want[i]);

        /* Adjointness: <im2col(x), c> == <x, col2im(c)> (col2im from zero). */
        sl_k_im2col(x, cc->C, cc->H, cc->W, cc->kh, cc->kw, cc->stride, cc->pad, OH, OW, xc);
        for (int64_t i = 0; i < nimg; i++)
            img[i] -= img0[i];
        double lhs = dot(xc, c, rows * P), rhs = dot(x, img, nimg);
        if (fabs(lhs - rhs) > 1e-4 * (1.0 + fabs(lhs)))
            fail_msg("case %d: <im2col x, c> = %.9g but <x, col2im c> = %.9g", t, lhs, rhs);
        free(x);
        free(c);
        free(xc);
        free(img);
        free(img0);
        free(want);
    }
}

/* Convolution of one image through im2col + sgemm against a direct sum. */
static void test_conv_via_sgemm(void **state)
{
    (void)state;
    const int O = 5;
    for (int t = 0; t < N_CONV_CASES; t++) {
        const conv_case *cc = &conv_cases[t];
        int OH = out_size(cc->H, cc->kh, cc->stride, cc->pad);
        int OW = out_size(cc->W, cc->kw, cc->stride, cc->pad);
        int R = cc->C * cc->kh * cc->kw, P = OH * OW;
        rng_reset(30 + (uint64_t)t);
        float *x = random_floats((int64_t)cc->C * cc->H * cc->W, -1.0f, 1.0f);
        float *w = random_floats((int64_t)O * R, -1.0f, 1.0f);
        float *cols = alloc_floats((int64_t)R * P);
        float *y = alloc_floats((int64_t)O * P);
        sl_k_im2col(x, cc->C, cc->H, cc->W, cc->kh, cc->kw, cc->stride, cc->pad, OH, OW, cols);
        sl_k_sgemm(0, 0, O, P, R, 1.0f, w, R, cols, P, 0.0f, y, P);
        for (int o = 0; o < O; o++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double s = 0.0;
                    for (int c = 0; c < cc->C; c++)
                        for (int i = 0; i < cc->kh; i++)
                            for (int j = 0; j < cc->kw; j++)
                                s += (double)w[((o * cc->C + c) * cc->kh + i) * cc->kw + j] *
                                     (double)ref_patch(x, cc, c, i, j, oy, ox);
                    double got = y[(o * OH + oy) * OW + ox];
                    if (fabs(got - s) > 1e-5 * (1.0 + fabs(s)))
                        fail_msg("conv case %d y[%d,%d,%d] = %.9g, expected %.9g", t, o, oy, ox,
                                 got, s);
                }
        free(x);
        free(w);
        free(cols);
        free(y);
    }
}

/* ---- leaky relu ---- */

static float ref_leaky(float x, float a)
{
    if (a == 0.0f) /* relu, as PyTorch: +0 for every x <= 0 (-inf included), NaN kept */
        return x > 0.0f || isnan(x) ? x : 0.0f;
    return x > 0.0f ? x : (float)((double)a * (double)x);
}

/* Where 0 * x is not 0: torch.relu gives 0 at -inf, NaN at NaN, +0 at -0 and below; its
 * leaky_relu keeps -inf. */
static void test_relu_at_infinities_and_nan(void **state)
{
    (void)state;
    const float x[] = {-INFINITY, INFINITY, NAN, -1.0f, -0.0f, 0.0f, 2.0f};
    const int n = (int)(sizeof x / sizeof x[0]);
    float y[7], z[7];
    sl_k_leaky_relu_fwd(x, y, n, 0.0f);
    memcpy(z, x, sizeof z);
    sl_k_leaky_relu_fwd(z, z, n, 0.0f);
    for (int k = 0; k < 2; k++) {
        const float *r = k ? z : y;
        assert_true(r[0] == 0.0f && !signbit(r[0]));
        assert_true(isinf(r[1]) && r[1] > 0.0f);
        assert_true(isnan(r[2]));
        for (int i = 3; i < 6; i++)
            assert_true(r[i] == 0.0f && !signbit(r[i]));
        assert_true(r[6] == 2.0f);
    }
    sl_k_leaky_relu_fwd(x, y, n, 0.01f);
    assert_true(isinf(y[0]) && y[0] < 0.0f);
    assert_true(isnan(y[2]));
    assert_true(y[4] == 0.0f && signbit(y[4]));
}

static const float leaky_slopes[] = {0.01f, 0.0f, 0.2f, 1.0f, -0.5f};
#define N_SLOPES ((int)(sizeof leaky_slopes / sizeof leaky_slopes[0]))

static void test_leaky_relu_fwd(void **state)
{
    (void)state;
    rng_reset(40);
    float *x = activation_inputs();
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int s = 0; s < N_SLOPES; s++) {
        float a = leaky_slopes[s];
        for (int64_t i = 0; i < N_ACT; i++)
            want[i] = ref_leaky(x[i], a);
        sl_k_leaky_relu_fwd(x, y, N_ACT, a);
        assert_bits_equal(y, want, N_ACT, "leaky_relu_fwd");
        /* In place (x and y alias). */
        float *z = copy_floats(x, N_ACT);
        sl_k_leaky_relu_fwd(z, z, N_ACT, a);
        assert_bits_equal(z, want, N_ACT, "leaky_relu_fwd in place");
        free(z);
    }
    /* Spot values: y(0) = 0, y(-0) = -0 for a > 0, y(-2) = -0.02. */
    sl_k_leaky_relu_fwd(x, y, N_ACT, 0.01f);
    assert_true(y[0] == 0.0f && !signbit(y[0]));
    assert_true(y[1] == 0.0f && signbit(y[1]));
    assert_true(y[16] == 1e30f);
    assert_float_equal(y[17], -1e28f, 1e22f);
    free(x);
    free(y);
    free(want);
}

static void test_leaky_relu_bwd(void **state)
{
    (void)state;
    rng_reset(41);
    float *x = activation_inputs();
    float *dy = random_floats(N_ACT, -2.0f, 2.0f);
    float *dx0 = random_floats(N_ACT, -1.0f, 1.0f);
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int s = 0; s < N_SLOPES; s++) {
        float a = leaky_slopes[s];
        for (int64_t i = 0; i < N_ACT; i++) {
            double d = x[i] > 0.0f ? 1.0 : (double)a;
            want[i] = (float)((double)dx0[i] + (double)dy[i] * d);
        }
        float *dx = copy_floats(dx0, N_ACT);
        sl_k_leaky_relu_bwd(x, dy, dx, N_ACT, a);
        tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "leaky_relu_bwd(x)");
        /* The derivative at +0 and -0 is a. */
        assert_float_equal(dx[0], dx0[0] + dy[0] * a, 1e-6);
        assert_float_equal(dx[1], dx0[1] + dy[1] * a, 1e-6);

        if (a >= 0.0f) { /* backward from y gives the same, since sign(y) = sign(x) */
            sl_k_leaky_relu_fwd(x, y, N_ACT, a);
            memcpy(dx, dx0, N_ACT * sizeof *dx);
            sl_k_leaky_relu_bwd(y, dy, dx, N_ACT, a);
            tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "leaky_relu_bwd(y)");

            /* In-place form: g *= f'(y), no accumulation. */
            float *g = copy_floats(dy, N_ACT);
            sl_k_leaky_relu_bwd_inplace(y, g, N_ACT, a);
            for (int64_t i = 0; i < N_ACT; i++)
                want[i] = (float)((double)dy[i] * (x[i] > 0.0f ? 1.0 : (double)a));
            tu_assert_close(g, want, N_ACT, 1e-7, 1e-6, "leaky_relu_bwd_inplace");
            free(g);
        }
        free(dx);
    }
    free(x);
    free(dy);
    free(dx0);
    free(y);
    free(want);
}

/*
 * The in-place op's pass bits (sl_k_leaky_relu_fwd_pass / _bwd_pass): its y bit for bit as
 * sl_k_leaky_relu_fwd, one bit per element set exactly where the in-place backward passes
 * dy, and that backward bit for bit as sl_k_leaky_relu_bwd_inplace on y, at lengths that
 * end inside a word, at a word's end and past it (the SSE2 words and the plain tail), with
 * NaN, infinities, both zeros and subnormals among the inputs and the gradients.
 */
static void test_leaky_relu_pass_bits(void **state)
{
    (void)state;
    enum { MAX_N = 3 * SL_K_PASS_WORD + 5 };
    const int64_t lengths[] = {1, 31, 32, 33, 64, MAX_N};
    rng_reset(43);
    float *x = random_floats(MAX_N, -4.0f, 4.0f);
    memcpy(x + 40, special, sizeof special);
    x[3] = NAN;
    x[35] = -INFINITY;
    x[36] = INFINITY;
    float *dy = random_floats(MAX_N, -2.0f, 2.0f);
    dy[5] = INFINITY;
    dy[6] = NAN;
    dy[44] = -INFINITY;
    float y_want[MAX_N], y[MAX_N], g_want[MAX_N], g[MAX_N];
    uint32_t pass[MAX_N / SL_K_PASS_WORD + 1];
    const float slopes[] = {0.0f, 0.01f, 0.2f, 1.0f};
    for (size_t s = 0; s < sizeof slopes / sizeof slopes[0]; s++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            int64_t n = lengths[l];
            float a = slopes[s];
            sl_k_leaky_relu_fwd(x, y_want, n, a);
            memcpy(y, x, (size_t)n * sizeof *y);
            sl_k_leaky_relu_fwd_pass(y, pass, n, a);
            assert_memory_equal(y, y_want, (size_t)n * sizeof *y);
            for (int64_t i = 0; i < n; i++) {
                int bit = (pass[i / SL_K_PASS_WORD] >> (i % SL_K_PASS_WORD)) & 1u;
                int passes = a == 0.0f ? !(y_want[i] <= 0.0f) : y_want[i] > 0.0f;
                if (bit != passes)
                    fail_msg("a %g, n %lld: bit %lld is %d for y %g", (double)a, (long long)n,
                             (long long)i, bit, (double)y_want[i]);
            }
            memcpy(g_want, dy, (size_t)n * sizeof *g);
            sl_k_leaky_relu_bwd_inplace(y_want, g_want, n, a);
            memcpy(g, dy, (size_t)n * sizeof *g);
            sl_k_leaky_relu_bwd_pass(pass, g, n, a);
            assert_memory_equal(g, g_want, (size_t)n * sizeof *g);
        }
    free(x);
    free(dy);
}

/* ---- prelu and per-element slopes ---- */

static void check_prelu(int64_t N, int64_t C, int64_t inner, int64_t nalpha, uint64_t seed)
{
    const int64_t n = N * C * inner;
    rng_reset(seed);
    float *x = random_floats(n, -2.0f, 2.0f);
    x[0] = 0.0f; /* the kink: counts as x <= 0 */
    if (n > 1)
        x[1] = -0.0f;
    float *alpha = random_floats(nalpha, 0.05f, 0.5f);
    float *dy = random_floats(n, -1.0f, 1.0f);
    float *y = alloc_floats(n);
    float *want = alloc_floats(n);
    float *dx0 = random_floats(n, -1.0f, 1.0f);
    float *dx = copy_floats(dx0, n);
    float *da0 = random_floats(nalpha, -1.0f, 1.0f);
    float *da = copy_floats(da0, nalpha);
    double *want_da = calloc((size_t)nalpha, sizeof *want_da);
    assert_non_null(want_da);

    for (int64_t k = 0; k < nalpha; k++)
        want_da[k] = da0[k];
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < inner; p++) {
                int64_t i = (b * C + c) * inner + p;
                int64_t k = nalpha == 1 ? 0 : c;
                double v = x[i];
                want[i] = v > 0.0 ? x[i] : (float)((double)alpha[k] * v);
                if (!(v > 0.0))
                    want_da[k] += v * (double)dy[i];
            }
    sl_k_prelu_fwd(x, y, N, C, inner, alpha, nalpha);
    assert_bits_equal(y, want, n, "prelu_fwd");

    sl_k_prelu_bwd(x, dy, dx, da, N, C, inner, alpha, nalpha);
    for (int64_t b = 0; b < N; b++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t p = 0; p < inner; p++) {
                int64_t i = (b * C + c) * inner + p;
                double d = x[i] > 0.0f ? 1.0 : (double)alpha[nalpha == 1 ? 0 : c];
                want[i] = (float)((double)dx0[i] + (double)dy[i] * d);
            }
    tu_assert_close(dx, want, n, 1e-6, 1e-6, "prelu_bwd dx");
    for (int64_t k = 0; k < nalpha; k++)
        if (fabs((double)da[k] - want_da[k]) > 1e-5 * (1.0 + fabs(want_da[k])))
            fail_msg("prelu dalpha[%lld] = %.9g, expected %.9g (N %lld C %lld inner %lld)",
                     (long long)k, (double)da[k], want_da[k], (long long)N, (long long)C,
                     (long long)inner);

    /* dx NULL: only dalpha; dalpha NULL: only dx. */
    float *da2 = copy_floats(da0, nalpha);
    sl_k_prelu_bwd(x, dy, NULL, da2, N, C, inner, alpha, nalpha);
    tu_assert_close(da2, da, nalpha, 1e-6, 1e-6, "prelu_bwd dalpha alone");
    float *dx2 = copy_floats(dx0, n);
    sl_k_prelu_bwd(x, dy, dx2, NULL, N, C, inner, alpha, nalpha);
    tu_assert_close(dx2, dx, n, 0.0, 0.0, "prelu_bwd dx alone");

    free(x);
    free(alpha);
    free(dy);
    free(y);
    free(want);
    free(dx0);
    free(dx);
    free(da0);
    free(da);
    free(want_da);
    free(da2);
    free(dx2);
}

static void test_prelu(void **state)
{
    (void)state;
    check_prelu(3, 4, 5, 4, 50);    /* images, one slope per channel */
    check_prelu(3, 4, 5, 1, 51);    /* images, one shared slope */
    check_prelu(7, 13, 1, 13, 52);  /* [N, F], per feature */
    check_prelu(7, 13, 1, 1, 53);   /* [N, F], shared */
    check_prelu(2, 3, 5000, 3, 54); /* channels larger than a reduction chunk */
    check_prelu(1, 1, 20011, 1, 55);
}

static void test_slope(void **state)
{
    (void)state;
    rng_reset(60);
    float *x = activation_inputs();
    float *s = random_floats(N_ACT, 0.1f, 0.3f);
    float *dy = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx0 = copy_floats(dx, N_ACT);
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = ref_leaky(x[i], s[i]);
    sl_k_slope_fwd(x, s, y, N_ACT);
    assert_bits_equal(y, want, N_ACT, "slope_fwd");
    sl_k_slope_bwd(x, s, dy, dx, N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = (float)((double)dx0[i] + (double)dy[i] * (x[i] > 0.0f ? 1.0 : (double)s[i]));
    tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "slope_bwd");
    assert_float_equal(dx[1], dx0[1] + dy[1] * s[1], 1e-6); /* -0 takes the slope */
    free(x);
    free(s);
    free(dy);
    free(dx);
    free(dx0);
    free(y);
    free(want);
}

/* ---- smooth activations ---- */

static void test_elu_selu(void **state)
{
    (void)state;
    rng_reset(70);
    float *x = activation_inputs();
    float *dy = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx0 = random_floats(N_ACT, -1.0f, 1.0f);
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    const float params[2][2] = {{1.0f, 1.0f}, {SL_SELU_ALPHA, SL_SELU_SCALE}};
    for (int k = 0; k < 2; k++) {
        double alpha = params[k][0], scale = params[k][1];
        for (int64_t i = 0; i < N_ACT; i++) {
            double v = x[i];
            want[i] = (float)(v > 0.0 ? scale * v : scale * alpha * expm1(v));
        }
        sl_k_elu_fwd(x, y, N_ACT, (float)alpha, (float)scale);
        assert_all_finite(y, N_ACT, "elu_fwd");
        tu_assert_close(y, want, N_ACT, 1e-6, 1e-6, "elu_fwd");
        assert_true(y[0] == 0.0f); /* elu(0) = 0 */

        float *dx = copy_floats(dx0, N_ACT);
        sl_k_elu_bwd(x, dy, dx, N_ACT, (float)alpha, (float)scale);
        for (int64_t i = 0; i < N_ACT; i++) {
            double v = x[i];
            double d = v > 0.0 ? scale : scale * alpha * exp(v);
            want[i] = (float)((double)dx0[i] + (double)dy[i] * d);
        }
        assert_all_finite(dx, N_ACT, "elu_bwd");
        tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "elu_bwd");
        free(dx);
    }
    free(x);
    free(dy);
    free(dx0);
    free(y);
    free(want);
}

static void test_sigmoid(void **state)
{
    (void)state;
    rng_reset(80);
    float *x = activation_inputs();
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    sl_k_sigmoid_fwd(x, y, N_ACT);
    assert_all_finite(y, N_ACT, "sigmoid_fwd");
    /* Relative tolerance: sigmoid(-100) = 3.7e-44 must come out right, not 0 or NaN. */
    tu_assert_close(y, want, N_ACT, 3e-45, 1e-6, "sigmoid_fwd");
    assert_float_equal(y[0], 0.5f, 0.0f);
    assert_float_equal(y[1], 0.5f, 0.0f);
    assert_float_equal(y[14], 1.0f, 0.0f); /* sigmoid(100) */
    assert_true(y[15] > 0.0f && y[15] < 1e-43f); /* sigmoid(-100) */
    assert_float_equal(y[16], 1.0f, 0.0f);       /* sigmoid(1e30) */
    assert_float_equal(y[17], 0.0f, 0.0f);       /* sigmoid(-1e30) */

    float *dy = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx0 = copy_floats(dx, N_ACT);
    sl_k_sigmoid_bwd(y, dy, dx, N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = (float)((double)dx0[i] + (double)dy[i] * (double)y[i] * (1.0 - (double)y[i]));
    tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "sigmoid_bwd");
    free(x);
    free(y);
    free(want);
    free(dy);
    free(dx);
    free(dx0);
}

static void test_tanh(void **state)
{
    (void)state;
    rng_reset(90);
    float *x = activation_inputs();
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = (float)tanh((double)x[i]);
    sl_k_tanh_fwd(x, y, N_ACT);
    assert_all_finite(y, N_ACT, "tanh_fwd");
    tu_assert_close(y, want, N_ACT, 1e-7, 1e-6, "tanh_fwd");
    assert_float_equal(y[14], 1.0f, 0.0f);
    assert_float_equal(y[15], -1.0f, 0.0f);

    float *dy = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx0 = copy_floats(dx, N_ACT);
    sl_k_tanh_bwd(y, dy, dx, N_ACT);
    for (int64_t i = 0; i < N_ACT; i++)
        want[i] = (float)((double)dx0[i] + (double)dy[i] * (1.0 - (double)y[i] * (double)y[i]));
    tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "tanh_bwd");
    free(x);
    free(y);
    free(want);
    free(dy);
    free(dx);
    free(dx0);
}

/* GELU, exact erf form: y = x Phi(x), dx += dy (Phi(x) + x phi(x)), against double erf/exp.
 * In float32, 1 + erf(x / sqrt 2) cancels for x below about -4, leaving an absolute error
 * of a few 1e-7 there; elsewhere the error is relative. */
static void test_gelu(void **state)
{
    (void)state;
    rng_reset(95);
    float *x = activation_inputs();
    float *y = alloc_floats(N_ACT);
    float *want = alloc_floats(N_ACT);
    for (int64_t i = 0; i < N_ACT; i++) {
        double v = x[i];
        want[i] = (float)(0.5 * v * (1.0 + erf(v / sqrt(2.0))));
    }
    sl_k_gelu_fwd(x, y, N_ACT);
    assert_all_finite(y, N_ACT, "gelu_fwd");
    tu_assert_close(y, want, N_ACT, 1e-6, 1e-6, "gelu_fwd");
    assert_true(y[0] == 0.0f && y[1] == 0.0f); /* gelu(0) = gelu(-0) = 0 */

    float *dy = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx = random_floats(N_ACT, -1.0f, 1.0f);
    float *dx0 = copy_floats(dx, N_ACT);
    sl_k_gelu_bwd(x, dy, dx, N_ACT);
    for (int64_t i = 0; i < N_ACT; i++) {
        double v = x[i];
        double d = 0.5 * (1.0 + erf(v / sqrt(2.0))) + v * exp(-0.5 * v * v) / sqrt(2.0 * 3.14159265358979323846);
        want[i] = (float)((double)dx0[i] + (double)dy[i] * d);
    }
    assert_all_finite(dx, N_ACT, "gelu_bwd");
    tu_assert_close(dx, want, N_ACT, 1e-6, 1e-6, "gelu_bwd");
    free(x);
    free(y);
    free(want);
    free(dy);
    free(dx);
    free(dx0);
}

/* ---- pooling ---- */

typedef struct pool_case {
    int H, W, k, stride, pad;
} pool_case;

static const pool_case pool_cases[] = {
    {6, 6, 2, 2, 0}, {7, 5, 3, 2, 1}, {5, 7, 3, 1, 1}, {9, 8, 2, 3, 1}, {4, 4, 4, 4, 2},
};
#define N_POOL_CASES ((int)(sizeof pool_cases / sizeof pool_cases[0]))

static void test_maxpool_reference(void **state)
{
    (void)state;
    const int64_t planes = 3;
    for (int t = 0; t < N_POOL_CASES; t++) {
        const pool_case *pc = &pool_cases[t];
        int OH = out_size(pc->H, pc->k, pc->stride, pc->pad);
        int OW = out_size(pc->W, pc->k, pc->stride, pc->pad);
        int64_t nin = planes * pc->H * pc->W, nout = planes * OH * OW;
        rng_reset(100 + (uint64_t)t);
        /* All negative: a zero from the padding would win if padding were not -inf. */
        float *x = random_floats(nin, -3.0f, -1.0f);
        float *y = alloc_floats(nout);
        int32_t *arg = malloc((size_t)nout * sizeof *arg);
        assert_non_null(arg);
        float *dy = random_floats(nout, -1.0f, 1.0f);
        float *dx = random_floats(nin, -1.0f, 1.0f);
        double *want_dx = calloc((size_t)nin, sizeof *want_dx);
        assert_non_null(want_dx);
        for (int64_t i = 0; i < nin; i++)
            want_dx[i] = dx[i];

        sl_k_maxpool_fwd(x, y, arg, planes, pc->H, pc->W, pc->k, pc->stride, pc->pad, OH, OW);
        for (int64_t p = 0; p < planes; p++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double best = -INFINITY;
                    int best_i = -1;
                    for (int i = 0; i < pc->k; i++)
                        for (int j = 0; j < pc->k; j++) {
                            int iy = oy * pc->stride - pc->pad + i;
                            int ix = ox * pc->stride - pc->pad + j;
                            if (iy < 0 || iy >= pc->H || ix < 0 || ix >= pc->W)
                                continue;
                            double v = x[(p * pc->H + iy) * pc->W + ix];
                            if (v > best) {
                                best = v;
                                best_i = iy * pc->W + ix;
                            }
                        }
                    int64_t o = (p * OH + oy) * OW + ox;
                    assert_int_equal(arg[o], best_i);
                    assert_true((double)y[o] == best);
                    want_dx[p * pc->H * pc->W + best_i] += dy[o];
                }
        /* Backward accumulates, also where windows overlap on the same argmax. */
        sl_k_maxpool_bwd(dy, arg, dx, planes, pc->H, pc->W, OH, OW);
        for (int64_t i = 0; i < nin; i++)
            if (fabs((double)dx[i] - want_dx[i]) > 1e-6)
                fail_msg("maxpool_bwd case %d [%lld]: %.9g vs %.9g", t, (long long)i,
                         (double)dx[i], want_dx[i]);
        free(x);
        free(y);
        free(arg);
        free(dy);
        free(dx);
        free(want_dx);
    }
}

static void test_maxpool_ties(void **state)
{
    (void)state;
    /* A 4x4 plane of equal values: every window's argmax is its first element. */
    float x[16], y[9];
    int32_t arg[9];
    for (int i = 0; i < 16; i++)
        x[i] = 1.0f;
    sl_k_maxpool_fwd(x, y, arg, 1, 4, 4, 2, 2, 0, 2, 2);
    const int32_t want_s2[4] = {0, 2, 8, 10};
    for (int o = 0; o < 4; o++) {
        assert_int_equal(arg[o], want_s2[o]);
        assert_float_equal(y[o], 1.0f, 0.0f);
    }
    /* With padding 1 and k 3, stride 2: windows start at -1, the first real element wins. */
    sl_k_maxpool_fwd(x, y, arg, 1, 4, 4, 3, 2, 1, 2, 2);
    const int32_t want_pad[4] = {0, 1, 4, 5};
    for (int o = 0; o < 4; o++)
        assert_int_equal(arg[o], want_pad[o]);
    /* A tie between two maxima later in the window: the earlier (row-major) one wins. */
    float z[9] = {0, 0, 0, 0, 0, 5, 0, 5, 0};
    sl_k_maxpool_fwd(z, y, arg, 1, 3, 3, 3, 1, 0, 1, 1);
    assert_int_equal(arg[0], 5);
    assert_float_equal(y[0], 5.0f, 0.0f);
    /* Overlapping windows (k 2, stride 1) sharing one max: the gradient adds up. */
    float w[9] = {0, 0, 0, 0, 9, 0, 0, 0, 0};
    float dy[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    float dx[9] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    sl_k_maxpool_fwd(w, y, arg, 1, 3, 3, 2, 1, 0, 2, 2);
    for (int o = 0; o < 4; o++)
        assert_int_equal(arg[o], 4);
    sl_k_maxpool_bwd(dy, arg, dx, 1, 3, 3, 2, 2);
    assert_float_equal(dx[4], 10.5f, 0.0f);
    assert_float_equal(dx[0], 0.5f, 0.0f);
}

/*
 * NaN as PyTorch 1.13 gives it (/usr/bin/python3, torch 1.13.0a0, upstream gradient 2 on
 * x = [nan, -1, 0, 1, -inf, inf]):
 *   F.relu:                  dx = [2, 0, 0, 2, 0, 2]          (NaN passes the gradient)
 *   F.relu, dy = inf:        dx = [inf, 0, 0, inf, 0, inf]    (a select, not dy * 0)
 *   F.leaky_relu(x, 0.1):    dx = [0.2, 0.2, 0.2, 2, 0.2, 2]  (NaN gets the slope)
 *   F.leaky_relu(x, -0.5):   dx = [-1, -1, -1, 2, -1, 2]
 *   F.prelu(x, [0.25]):      dx = [0.5, 0.5, 0.5, 2, 0.5, 2], dalpha = nan
 *   F.prelu(x, [0.0]):       dx = [0, 0, 0, 2, 0, 2]          (slope 0, not relu's rule)
 *   F.elu:                   dx = [2, 0.7357589, 2, 2, 0, 2]  (NaN takes the linear side)
 *   F.selu:                  dx[0] = 2 * 1.0507010 (the scale)
 */
static void test_activation_nan_as_torch(void **state)
{
    (void)state;
    const float x[6] = {NAN, -1.0f, 0.0f, 1.0f, -INFINITY, INFINITY};
    float dy[6], dx[6], y[6], g[6];
    for (int i = 0; i < 6; i++)
        dy[i] = 2.0f;
    const float relu_dx[6] = {2, 0, 0, 2, 0, 2};
    memset(dx, 0, sizeof dx);
    sl_k_leaky_relu_bwd(x, dy, dx, 6, 0.0f);
    tu_assert_close(dx, relu_dx, 6, 0.0, 0.0, "relu bwd(x) at NaN");
    sl_k_leaky_relu_fwd(x, y, 6, 0.0f); /* from y, as the in-place op reads it */
    memset(dx, 0, sizeof dx);
    sl_k_leaky_relu_bwd(y, dy, dx, 6, 0.0f);
    tu_assert_close(dx, relu_dx, 6, 0.0, 0.0, "relu bwd(y) at NaN");
    memcpy(g, dy, sizeof g);
    sl_k_leaky_relu_bwd_inplace(y, g, 6, 0.0f);
    tu_assert_close(g, relu_dx, 6, 0.0, 0.0, "relu bwd in place at NaN");
    const float inf_dy[6] = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY};
    memset(dx, 0, sizeof dx);
    sl_k_leaky_relu_bwd(x, inf_dy, dx, 6, 0.0f);
    for (int i = 0; i < 6; i++)
        assert_true(relu_dx[i] == 0.0f ? dx[i] == 0.0f : isinf(dx[i]) && dx[i] > 0.0f);

    const float leaky_dx[6] = {0.2f, 0.2f, 0.2f, 2, 0.2f, 2};
    memset(dx, 0, sizeof dx);
    sl_k_leaky_relu_bwd(x, dy, dx, 6, 0.1f);
    tu_assert_close(dx, leaky_dx, 6, 1e-7, 0.0, "leaky_relu 0.1 bwd at NaN");
    sl_k_leaky_relu_fwd(x, y, 6, 0.1f);
    assert_true(isnan(y[0]));
    memcpy(g, dy, sizeof g);
    sl_k_leaky_relu_bwd_inplace(y, g, 6, 0.1f);
    tu_assert_close(g, leaky_dx, 6, 1e-7, 0.0, "leaky_relu_ 0.1 bwd at NaN");
    const float neg_dx[6] = {-1, -1, -1, 2, -1, 2};
    memset(dx, 0, sizeof dx);
    sl_k_leaky_relu_bwd(x, dy, dx, 6, -0.5f);
    tu_assert_close(dx, neg_dx, 6, 0.0, 0.0, "leaky_relu -0.5 bwd at NaN");

    const float prelu_dx[6] = {0.5f, 0.5f, 0.5f, 2, 0.5f, 2};
    float alpha = 0.25f, dalpha = 0.0f;
    memset(dx, 0, sizeof dx);
    sl_k_prelu_bwd(x, dy, dx, &dalpha, 1, 1, 6, &alpha, 1);
    tu_assert_close(dx, prelu_dx, 6, 0.0, 0.0, "prelu bwd at NaN");
    assert_true(isnan(dalpha));
    const float prelu0_dx[6] = {0, 0, 0, 2, 0, 2};
    alpha = 0.0f;
    memset(dx, 0, sizeof dx);
    sl_k_prelu_bwd(x, dy, dx, NULL, 1, 1, 6, &alpha, 1);
    tu_assert_close(dx, prelu0_dx, 6, 0.0, 0.0, "prelu slope 0 bwd at NaN");

    const float elu_dx[6] = {2, 0.735758900642395f, 2, 2, 0, 2};
    memset(dx, 0, sizeof dx);
    sl_k_elu_bwd(x, dy, dx, 6, 1.0f, 1.0f);
    tu_assert_close(dx, elu_dx, 6, 1e-6, 1e-6, "elu bwd at NaN");
    memset(dx, 0, sizeof dx);
    sl_k_elu_bwd(x, dy, dx, 1, SL_SELU_ALPHA, SL_SELU_SCALE);
    assert_float_equal(dx[0], 2.1014020442962646, 1e-6);
}

/*
 * max_pool2d and NaN, from torch 1.13 (F.max_pool2d(..., return_indices=True), dy = 3):
 *   [1 nan 5 6 / 3 4 nan nan], k2 s2:          y = [nan, nan], idx = [1, 7]  (the LAST NaN)
 *   [nan 1 2 3 / 4 5 6 nan], k2 s2:            y = [nan, nan], idx = [0, 7]
 *   [-inf -inf inf nan / -inf -inf nan inf]:   y = [-inf, nan], idx = [0, 6]
 *   4x4 = 1..16 with x[2] = nan, k3 s1:        y = [nan, nan, 15, 16], idx = [2, 2, 14, 15],
 *                                              dx[2] = 6
 *   the same, k2 s2 p1:                        y = [1, nan, 4, 9, 11, 12, 13, 15, 16],
 *                                              idx = [0, 2, 3, 8, 10, 11, 12, 14, 15]
 */
static void check_pool_nan(const float *x, int H, int W, int k, int s, int p, const float *want_y,
                           const int32_t *want_i, int n_out)
{
    float y[16], dy[16], dx[16] = {0}, want_dx[16] = {0};
    int32_t arg[16];
    int OH = (H + 2 * p - k) / s + 1, OW = (W + 2 * p - k) / s + 1;
    assert_int_equal(OH * OW, n_out);
    sl_k_maxpool_fwd(x, y, arg, 1, H, W, k, s, p, OH, OW);
    for (int o = 0; o < n_out; o++) {
        assert_true(isnan(want_y[o]) ? isnan(y[o]) : y[o] == want_y[o]);
        assert_int_equal(arg[o], want_i[o]);
        dy[o] = 3.0f;
        want_dx[want_i[o]] += 3.0f;
    }
    float y2[16];
    sl_k_maxpool_fwd(x, y2, NULL, 1, H, W, k, s, p, OH, OW); /* the path without arg-max */
    for (int o = 0; o < n_out; o++)
        assert_true(isnan(want_y[o]) ? isnan(y2[o]) : y2[o] == want_y[o]);
    sl_k_maxpool_bwd(dy, arg, dx, 1, H, W, OH, OW);
    tu_assert_close(dx, want_dx, H * W, 0.0, 0.0, "maxpool bwd with NaN");
}

static void test_maxpool_nan_as_torch(void **state)
{
    (void)state;
    const float a[8] = {1, NAN, 5, 6, 3, 4, NAN, NAN};
    check_pool_nan(a, 2, 4, 2, 2, 0, (const float[]){NAN, NAN}, (const int32_t[]){1, 7}, 2);
    const float b[8] = {NAN, 1, 2, 3, 4, 5, 6, NAN};
    check_pool_nan(b, 2, 4, 2, 2, 0, (const float[]){NAN, NAN}, (const int32_t[]){0, 7}, 2);
    const float c[8] = {-INFINITY, -INFINITY, INFINITY, NAN, -INFINITY, -INFINITY, NAN, INFINITY};
    check_pool_nan(c, 2, 4, 2, 2, 0, (const float[]){-INFINITY, NAN}, (const int32_t[]){0, 6}, 2);
    float d[16];
    for (int i = 0; i < 16; i++)
        d[i] = (float)(i + 1);
    d[2] = NAN;
    check_pool_nan(d, 4, 4, 3, 1, 0, (const float[]){NAN, NAN, 15, 16},
                   (const int32_t[]){2, 2, 14, 15}, 4);
    check_pool_nan(d, 4, 4, 2, 2, 1, (const float[]){1, NAN, 4, 9, 11, 12, 13, 15, 16},
                   (const int32_t[]){0, 2, 3, 8, 10, 11, 12, 14, 15}, 9);
    /* A wider plane through the 2x2 fast path: NaN in some windows only. */
    float e[2 * 8];
    for (int i = 0; i < 16; i++)
        e[i] = (float)i;
    e[3] = NAN;  /* window 1 (cols 2-3) */
    e[12] = NAN; /* window 2 (cols 4-5, row 1) */
    e[13] = NAN;
    check_pool_nan(e, 2, 8, 2, 2, 0, (const float[]){9, NAN, NAN, 15},
                   (const int32_t[]){9, 3, 13, 15}, 4);
}

static void test_avgpool(void **state)
{
    (void)state;
    const int64_t planes = 2;
    for (int t = 0; t < N_POOL_CASES; t++) {
        const pool_case *pc = &pool_cases[t];
        int OH = out_size(pc->H, pc->k, pc->stride, pc->pad);
        int OW = out_size(pc->W, pc->k, pc->stride, pc->pad);
        int64_t nin = planes * pc->H * pc->W, nout = planes * OH * OW;
        rng_reset(120 + (uint64_t)t);
        float *x = random_floats(nin, -1.0f, 1.0f);
        float *y = alloc_floats(nout);
        float *dy = random_floats(nout, -1.0f, 1.0f);
        float *dx = random_floats(nin, -1.0f, 1.0f);
        double *want_dx = calloc((size_t)nin, sizeof *want_dx);
        assert_non_null(want_dx);
        for (int64_t i = 0; i < nin; i++)
            want_dx[i] = dx[i];
        double kk = (double)pc->k * pc->k; /* the divisor counts the padding */

        sl_k_avgpool_fwd(x, y, planes, pc->H, pc->W, pc->k, pc->stride, pc->pad, OH, OW);
        for (int64_t p = 0; p < planes; p++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    int64_t o = (p * OH + oy) * OW + ox;
                    double s = 0.0;
                    for (int i = 0; i < pc->k; i++)
                        for (int j = 0; j < pc->k; j++) {
                            int iy = oy * pc->stride - pc->pad + i;
                            int ix = ox * pc->stride - pc->pad + j;
                            if (iy < 0 || iy >= pc->H || ix < 0 || ix >= pc->W)
                                continue;
                            s += x[(p * pc->H + iy) * pc->W + ix];
                            want_dx[(p * pc->H + iy) * pc->W + ix] += dy[o] / kk;
                        }
                    if (fabs((double)y[o] - s / kk) > 1e-6)
                        fail_msg("avgpool case %d y[%lld] = %.9g, expected %.9g", t,
                                 (long long)o, (double)y[o], s / kk);
                }
        sl_k_avgpool_bwd(dy, dx, planes, pc->H, pc->W, pc->k, pc->stride, pc->pad, OH, OW);
        for (int64_t i = 0; i < nin; i++)
            if (fabs((double)dx[i] - want_dx[i]) > 1e-6)
                fail_msg("avgpool_bwd case %d [%lld]: %.9g vs %.9g", t, (long long)i,
                         (double)dx[i], want_dx[i]);
        free(x);
        free(y);
        free(dy);
        free(dx);
        free(want_dx);
    }
    /* A corner window with pad 1, k 2 over a plane of ones: 1 real value of 4. */
    float ones[4] = {1, 1, 1, 1}, out[9];
    sl_k_avgpool_fwd(ones, out, 1, 2, 2, 2, 1, 1, 3, 3);
    assert_float_equal(out[0], 0.25f, 0.0f);
    assert_float_equal(out[1], 0.5f, 0.0f);
    assert_float_equal(out[4], 1.0f, 0.0f);
}

/* ---- losses ---- */

static void test_softmax_ce(void **state)
{
    (void)state;
    const int64_t N = 6, C = 11;
    rng_reset(130);
    float *z = random_floats(N * C, -5.0f, 5.0f);
    int32_t labels[6] = {0, 10, 3, 5, 7, 2};
    float *p = alloc_floats(N * C);
    float *want = alloc_floats(N * C);
    double loss = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double m = -INFINITY, s = 0.0;
        for (int64_t j = 0; j < C; j++)
            m = fmax(m, z[n * C + j]);
        for (int64_t j = 0; j < C; j++)
            s += exp(z[n * C + j] - m);
        for (int64_t j = 0; j < C; j++)
            want[n * C + j] = (float)(exp(z[n * C + j] - m) / s);
        loss += -(z[n * C + labels[n]] - m - log(s));
    }
    loss /= (double)N;
    float got = sl_k_softmax_ce_fwd(z, labels, p, N, C, 0.0f);
    assert_float_equal(got, (float)loss, 1e-5 * fabs(loss));
    tu_assert_close(p, want, N * C, 1e-7, 1e-5, "softmax probs");

    /* Backward: dlogits += scale * (p - onehot). */
    float *d = random_floats(N * C, -1.0f, 1.0f);
    float *d0 = copy_floats(d, N * C);
    const float scale = 0.7f / (float)N;
    sl_k_softmax_ce_bwd(p, labels, d, N, C, 0.0f, scale);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < C; j++) {
            double onehot = j == labels[n] ? 1.0 : 0.0;
            want[n * C + j] = (float)((double)d0[n * C + j] +
                                      (double)scale * ((double)p[n * C + j] - onehot));
        }
    tu_assert_close(d, want, N * C, 1e-6, 1e-6, "softmax_ce_bwd");
    free(z);
    free(p);
    free(want);
    free(d);
    free(d0);
}

static void test_softmax_ce_huge_logits(void **state)
{
    (void)state;
    /* exp(1e4) overflows float and double alike; a stable kernel never forms it. */
    const float z[3 * 3] = {1e4f, 0.0f, -1e4f, 1e4f, 1e4f, 0.0f, -1e4f, -1e4f, -1e4f};
    const int32_t labels[3] = {0, 2, 1};
    float p[9];
    float loss = sl_k_softmax_ce_fwd(z, labels, p, 3, 3, 0.0f);
    assert_all_finite(p, 9, "softmax probs");
    assert_true(isfinite(loss));
    /* Row 0: loss 0.  Row 1: log 2 + 1e4.  Row 2: log 3. */
    double want = (0.0 + (log(2.0) + 1e4) + log(3.0)) / 3.0;
    assert_float_equal(loss, (float)want, 1e-3);
    assert_float_equal(p[0], 1.0f, 1e-7);
    assert_float_equal(p[1], 0.0f, 1e-7);
    assert_float_equal(p[3], 0.5f, 1e-7);
    assert_float_equal(p[4], 0.5f, 1e-7);
    assert_float_equal(p[6], 1.0f / 3.0f, 1e-7);
}

/* Label smoothing: the loss is -sum_j q_j log p_j with q = (1 - eps) onehot + eps / C, formed
 * here in double from the definition; the gradient is scale * (p - q). */
static void test_softmax_ce_smoothed(void **state)
{
    (void)state;
    const int64_t N = 5, C = 7;
    const float eps = 0.1f;
    rng_reset(131);
    float *z = random_floats(N * C, -6.0f, 6.0f);
    int32_t labels[5] = {0, 6, 3, 2, 6};
    float *p = alloc_floats(N * C);
    double loss = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double s = 0.0;
        for (int64_t j = 0; j < C; j++)
            s += exp((double)z[n * C + j]);
        for (int64_t j = 0; j < C; j++) {
            double q = (j == labels[n] ? 1.0 - eps : 0.0) + (double)eps / (double)C;
            loss -= q * log(exp((double)z[n * C + j]) / s);
        }
    }
    loss /= (double)N;
    float got = sl_k_softmax_ce_fwd(z, labels, p, N, C, eps);
    assert_float_equal(got, (float)loss, 1e-5 * fabs(loss));

    float *d = alloc_floats(N * C), *want = alloc_floats(N * C);
    memset(d, 0, (size_t)(N * C) * sizeof *d); /* the kernel accumulates */
    const float scale = 1.0f / (float)N;
    sl_k_softmax_ce_bwd(p, labels, d, N, C, eps, scale);
    for (int64_t n = 0; n < N; n++)
        for (int64_t j = 0; j < C; j++) {
            double q = (j == labels[n] ? 1.0 - eps : 0.0) + (double)eps / (double)C;
            want[n * C + j] = (float)((double)scale * ((double)p[n * C + j] - q));
        }
    tu_assert_close(d, want, N * C, 1e-7, 1e-5, "smoothed softmax_ce_bwd");

    /* Huge logits stay finite: the smoothing term uses lse - mean(z), never log(0). */
    const float zh[3] = {1e4f, 0.0f, -1e4f};
    const int32_t yh[1] = {0};
    float ph[3];
    float lh = sl_k_softmax_ce_fwd(zh, yh, ph, 1, 3, 0.3f);
    assert_float_equal(lh, 0.3f * 1e4f, 1e-1); /* 0.7 * 0 + 0.3 * (1e4 - 0) */
    free(z);
    free(p);
    free(d);
    free(want);
}

static void test_mse(void **state)
{
    (void)state;
    const int64_t n = 20011; /* more than a reduction chunk */
    rng_reset(140);
    float *pred = random_floats(n, -2.0f, 2.0f);
    float *target = random_floats(n, -2.0f, 2.0f);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)pred[i] - (double)target[i];
        s += d * d;
    }
    float got = sl_k_mse_fwd(pred, target, n);
    assert_float_equal(got, (float)(s / (double)n), 1e-6 * s / (double)n);

    float *dp = random_floats(n, -1.0f, 1.0f), *dt = random_floats(n, -1.0f, 1.0f);
    float *dp0 = copy_floats(dp, n), *dt0 = copy_floats(dt, n);
    float *want = alloc_floats(n);
    const float scale = 3.0f / (float)n;
    sl_k_mse_bwd(pred, target, dp, dt, n, scale);
    for (int64_t i = 0; i < n; i++)
        want[i] = (float)((double)dp0[i] + 2.0 * scale * ((double)pred[i] - (double)target[i]));
    tu_assert_close(dp, want, n, 1e-7, 1e-6, "mse_bwd dpred");
    for (int64_t i = 0; i < n; i++)
        want[i] = (float)((double)dt0[i] - 2.0 * scale * ((double)pred[i] - (double)target[i]));
    tu_assert_close(dt, want, n, 1e-7, 1e-6, "mse_bwd dtarget");

    /* dtarget NULL: dpred alone. */
    memcpy(dp, dp0, (size_t)n * sizeof *dp);
    sl_k_mse_bwd(pred, target, dp, NULL, n, scale);
    for (int64_t i = 0; i < n; i++)
        want[i] = (float)((double)dp0[i] + 2.0 * scale * ((double)pred[i] - (double)target[i]));
    tu_assert_close(dp, want, n, 1e-7, 1e-6, "mse_bwd dpred alone");
    free(pred);
    free(target);
    free(dp);
    free(dt);
    free(dp0);
    free(dt0);
    free(want);
}

/* ---- elementwise helpers ---- */

static void test_axpy_mul_acc(void **state)
{
    (void)state;
    const int64_t n = 37;
    rng_reset(150);
    float *a = random_floats(n, -1.0f, 1.0f);
    float *b = random_floats(n, -1.0f, 1.0f);
    float *y = random_floats(n, -1.0f, 1.0f);
    float *y0 = copy_floats(y, n);
    float *want = alloc_floats(n);
    sl_k_axpy(n, -0.75f, a, y);
    for (int64_t i = 0; i < n; i++)
        want[i] = (float)((double)y0[i] - 0.75 * (double)a[i]);
    tu_assert_close(y, want, n, 1e-7, 1e-6, "axpy");
    memcpy(y, y0, (size_t)n * sizeof *y);
    sl_k_mul_acc(a, b, y, n);
    for (int64_t i = 0; i < n; i++)
        want[i] = (float)((double)y0[i] + (double)a[i] * (double)b[i]);
    tu_assert_close(y, want, n, 1e-7, 1e-6, "mul_acc");
    free(a);
    free(b);
    free(y);
    free(y0);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_all_transposes),
        cmocka_unit_test(test_bias_rows),
        cmocka_unit_test(test_bias_channels),
        cmocka_unit_test(test_im2col_reference),
        cmocka_unit_test(test_col2im_reference_and_adjoint),
        cmocka_unit_test(test_conv_via_sgemm),
        cmocka_unit_test(test_leaky_relu_fwd),
        cmocka_unit_test(test_relu_at_infinities_and_nan),
        cmocka_unit_test(test_leaky_relu_bwd),
        cmocka_unit_test(test_prelu),
        cmocka_unit_test(test_slope),
        cmocka_unit_test(test_elu_selu),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_tanh),
        cmocka_unit_test(test_gelu),
        cmocka_unit_test(test_maxpool_reference),
        cmocka_unit_test(test_maxpool_ties),
        cmocka_unit_test(test_maxpool_nan_as_torch),
        cmocka_unit_test(test_activation_nan_as_torch),
        cmocka_unit_test(test_leaky_relu_pass_bits),
        cmocka_unit_test(test_avgpool),
        cmocka_unit_test(test_softmax_ce),
        cmocka_unit_test(test_softmax_ce_huge_logits),
        cmocka_unit_test(test_softmax_ce_smoothed),
        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_axpy_mul_acc),
    };
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
