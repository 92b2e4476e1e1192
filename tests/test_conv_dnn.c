/*
 * test_conv_dnn.c - conv2d's two backends (src/conv_dnn.h) against each other.
 *
 * Every case runs conv2d forward and backward once on im2col + sgemm and once on oneDNN,
 * from the same inputs, with L = sum(r * y) for fixed random r (so every output's gradient
 * matters), and compares y, dx, dW and db.  The cases cover batches shorter than, equal to
 * and not a multiple of oneDNN's part (SL_DNN_PART, so the zero-padded stage runs), strides
 * 1-3, paddings 0-2, square and rectangular kernels, with and without a bias, channel counts
 * below and at oneDNN's block of 16, and inputs that need no gradient (the first layer).
 * Gradients accumulate: each input's gradient starts at a known nonzero value.
 *
 * Tolerance: both compute in float32 with different summation orders.  A float32 sum of n
 * terms is accurate to about sqrt(n) * 6e-8 times its largest partial sums, and those are
 * bounded by the largest result of the same array, not by each element (dW's elements are
 * sums of N*OH*OW ~ 12500 terms of |x * r| <= 1 that cancel to anything from 0 to ~100).
 * So each array is compared with |a - b| <= 2e-5 * max|b| + 1e-4 * |b|: ~20x the rounding
 * seen (1.8e-4 at max|dW| ~ 60), and far below a real difference (a wrong tap, image or
 * channel moves values by O(1) of their scale).
 *
 * Also: with oneDNN the results do not depend on slope's thread count (bitwise), a batch
 * below SL_DNN_MIN_BATCH runs on im2col (the fallback path: oneDNN takes every shape
 * slope's conv2d allows on x86, down to a negative right padding), and SLOPE_CONV's values.  test_reference runs the torch goldens
 * on both backends (ctest test_reference and test_reference_im2col).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_dnn.h"
#include "testutil.h"

#define ATOL_OF_MAX 2e-5
#define RTOL 1e-4

typedef struct conv_case {
    int N, C, H, W, O, kh, kw, stride, pad, bias, x_grad;
} conv_case;

static const conv_case CASES[] = {
    /* N  C   H   W   O  kh kw  s  p  b  dx */
    {64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 0},  /* fashion_cnn's layers */
    {64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1},
    {37, 3, 11, 9, 8, 3, 3, 1, 1, 1, 1},    /* 2 full parts + a short one */
    {5, 3, 9, 9, 4, 3, 3, 2, 0, 0, 1},      /* one short part, stride 2, no bias */
    {16, 16, 8, 8, 16, 1, 1, 1, 0, 1, 1},   /* 1x1, channels at the block size */
    {3, 2, 7, 6, 3, 3, 2, 2, 1, 1, 1},      /* rectangular kernel, stride 2 */
    {20, 4, 10, 10, 5, 5, 5, 1, 2, 1, 1},   /* 5x5, pad 2 */
    {18, 3, 13, 13, 6, 3, 3, 3, 1, 0, 1},   /* stride 3 */
    {17, 8, 6, 6, 24, 3, 3, 1, 0, 1, 1},    /* pad 0, channels across two blocks */
    {2, 1, 5, 5, 2, 3, 3, 1, 0, 1, 1},      /* tiny (as the torch goldens) */
    {9, 2, 6, 6, 3, 3, 3, 2, 0, 1, 1},      /* the last row unused: right padding -1 */
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

typedef struct conv_result {
    float *y, *dx, *dw, *db;
    int64_t ny, nx, nw, nb;
} conv_result;

static void result_free(conv_result *r)
{
    free(r->y);
    free(r->dx);
    free(r->dw);
    free(r->db);
}

static float *copy_of(const float *src, int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    memcpy(p, src, (size_t)n * sizeof *p);
    return p;
}

/* Gradients start at 0.5 everywhere: backward must add to them, not overwrite. */
static void preset_grad(sl_tensor *t)
{
    sl_error err = {0};
    assert_int_equal(sl_tensor_ensure_grad(t, &err), SL_OK);
    for (int64_t i = 0; i < t->size; i++)
        t->grad[i] = 0.5f;
}

/* conv2d forward + backward of sum(r * y) on backend b in precision p; the inputs come from
 * fixed seeds. */
static conv_result run_case_in(const conv_case *c, sl_conv_backend b, sl_precision p)
{
    assert_int_equal(sl_conv_set_backend(b), b);
    int64_t xs[4] = {c->N, c->C, c->H, c->W}, ws[4] = {c->O, c->C, c->kh, c->kw}, bs[1] = {c->O};
    sl_tensor *x = c->x_grad ? tu_param_uniform(4, xs, -1, 1, 11) : tu_tensor_uniform(4, xs, -1, 1, 11);
    sl_tensor *w = tu_param_uniform(4, ws, -0.5f, 0.5f, 12);
    sl_tensor *bias = c->bias ? tu_param_uniform(1, bs, -0.5f, 0.5f, 13) : NULL;
    if (c->x_grad)
        preset_grad(x);
    preset_grad(w);
    if (bias)
        preset_grad(bias);
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_graph_set_precision(g, p);
    sl_tensor *y = sl_conv2d(g, x, w, bias, c->stride, c->pad);
    assert_non_null(y);
    int64_t rs[2] = {y->size, 1}, flat[2] = {1, y->size};
    sl_tensor *r = tu_tensor_uniform(2, rs, -1, 1, 14);
    sl_tensor *loss = sl_matmul(g, sl_reshape(g, y, 2, flat), r);
    assert_int_equal(sl_backward(g, loss), SL_OK);
    conv_result out = {copy_of(y->data, y->size), c->x_grad ? copy_of(x->grad, x->size) : NULL,
                       copy_of(w->grad, w->size), bias ? copy_of(bias->grad, bias->size) : NULL,
                       y->size, x->size, w->size, bias ? bias->size : 0};
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_tensor_free(w);
    sl_tensor_free(bias);
    sl_tensor_free(r);
    return out;
}

static conv_result run_case(const conv_case *c, sl_conv_backend b)
{
    return run_case_in(c, b, SL_PRECISION_FP32);
}

static double g_atol_of_max = ATOL_OF_MAX, g_rtol = RTOL; /* bf16's test widens them */

/* a against b, with the absolute tolerance scaled by b's largest magnitude (see the top). */
static void assert_close_scaled(const float *a, const float *b, int64_t n, const char *name,
                                const char *array)
{
    double scale = 0.0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs((double)b[i]));
    char what[128];
    snprintf(what, sizeof what, "%s %s", name, array);
    tu_assert_close(a, b, n, g_atol_of_max * scale, g_rtol, what);
}

static void assert_results_close(const conv_result *a, const conv_result *b, const char *name)
{
    assert_close_scaled(a->y, b->y, a->ny, name, "y");
    if (a->dx)
        assert_close_scaled(a->dx, b->dx, a->nx, name, "dx");
    assert_close_scaled(a->dw, b->dw, a->nw, name, "dw");
    if (a->db)
        assert_close_scaled(a->db, b->db, a->nb, name, "db");
}

/* a and b bit for bit (two results of one case: the same arrays present). */
static void assert_results_equal(const conv_result *a, const conv_result *b)
{
    assert_memory_equal(a->y, b->y, (size_t)b->ny * sizeof(float));
    assert_true(!a->dx == !b->dx && !a->db == !b->db);
    if (b->dx)
        assert_memory_equal(a->dx, b->dx, (size_t)b->nx * sizeof(float));
    assert_memory_equal(a->dw, b->dw, (size_t)b->nw * sizeof(float));
    if (b->db)
        assert_memory_equal(a->db, b->db, (size_t)b->nb * sizeof(float));
}

static void case_name(const conv_case *c, char *buf, size_t n)
{
    snprintf(buf, n, "N%d C%d %dx%d O%d k%dx%d s%d p%d%s", c->N, c->C, c->H, c->W, c->O, c->kh,
             c->kw, c->stride, c->pad, c->bias ? " bias" : "");
}

static void test_backends_agree(void **state)
{
    (void)state;
    if (!sl_conv_dnn_built())
        skip();
    int was = sl_conv_dnn_set_min_batch(1); /* the tiny cases too */
    for (size_t i = 0; i < N_CASES; i++) {
        char name[96];
        case_name(&CASES[i], name, sizeof name);
        uint64_t before = sl_conv_dnn_count();
        conv_result dnn = run_case(&CASES[i], SL_CONV_ONEDNN);
        if (sl_conv_dnn_count() != before + 1)
            fail_msg("%s: oneDNN did not take the case", name);
        conv_result ref = run_case(&CASES[i], SL_CONV_IM2COL);
        assert_results_close(&dnn, &ref, name);
        result_free(&dnn);
        result_free(&ref);
    }
    sl_conv_dnn_set_min_batch(was);
}

/* The parts are fixed by the batch, not by the thread count: the same bits on 1 and 2. */
static void test_threads_do_not_change_results(void **state)
{
    (void)state;
    if (!sl_conv_dnn_built())
        skip();
    const conv_case *c = &CASES[2]; /* 3 parts, the last one short */
    sl_set_num_threads(1);
    conv_result one = run_case(c, SL_CONV_ONEDNN);
    sl_set_num_threads(2);
    conv_result two = run_case(c, SL_CONV_ONEDNN);
    sl_set_num_threads(1);
    assert_results_equal(&one, &two);
    result_free(&one);
    result_free(&two);
}

/* Two convolutions of different shapes in one graph, x -> conv a -> conv b: their oneDNN
 * calls share one set of per-thread buffers, which grows from a's forward to b's and again in
 * backward (b's backward runs before a's, and reads nothing a left there).  Each result must
 * match im2col's, on 1 and 2 threads. */
typedef struct chain_result {
    float *y, *dx, *dwa, *dwb;
    int64_t ny, nx, nwa, nwb;
} chain_result;

static chain_result run_chain(sl_conv_backend backend)
{
    assert_int_equal(sl_conv_set_backend(backend), backend);
    int64_t xs[4] = {37, 3, 11, 9}, was[4] = {8, 3, 3, 3}, wbs[4] = {24, 8, 3, 3};
    sl_tensor *x = tu_param_uniform(4, xs, -1, 1, 21);
    sl_tensor *wa = tu_param_uniform(4, was, -0.5f, 0.5f, 22);
    sl_tensor *wb = tu_param_uniform(4, wbs, -0.5f, 0.5f, 23);
    preset_grad(x);
    preset_grad(wa);
    preset_grad(wb);
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_tensor *h = sl_conv2d(g, x, wa, NULL, 1, 1);
    sl_tensor *y = sl_conv2d(g, h, wb, NULL, 1, 1);
    assert_non_null(y);
    int64_t rs[2] = {y->size, 1}, flat[2] = {1, y->size};
    sl_tensor *r = tu_tensor_uniform(2, rs, -1, 1, 24);
    assert_int_equal(sl_backward(g, sl_matmul(g, sl_reshape(g, y, 2, flat), r)), SL_OK);
    chain_result out = {copy_of(y->data, y->size), copy_of(x->grad, x->size),
                        copy_of(wa->grad, wa->size), copy_of(wb->grad, wb->size),
                        y->size, x->size, wa->size, wb->size};
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_tensor_free(wa);
    sl_tensor_free(wb);
    sl_tensor_free(r);
    return out;
}

static void chain_free(chain_result *c)
{
    free(c->y);
    free(c->dx);
    free(c->dwa);
    free(c->dwb);
}

static void test_chained_convs_share_buffers(void **state)
{
    (void)state;
    if (!sl_conv_dnn_built())
        skip();
    chain_result ref = run_chain(SL_CONV_IM2COL);
    for (int threads = 1; threads <= 2; threads++) {
        sl_set_num_threads(threads);
        uint64_t before = sl_conv_dnn_count();
        chain_result dnn = run_chain(SL_CONV_ONEDNN);
        assert_true(sl_conv_dnn_count() == before + 2);
        assert_close_scaled(dnn.y, ref.y, ref.ny, "chain", "y");
        assert_close_scaled(dnn.dx, ref.dx, ref.nx, "chain", "dx");
        assert_close_scaled(dnn.dwa, ref.dwa, ref.nwa, "chain", "dW of the first conv");
        assert_close_scaled(dnn.dwb, ref.dwb, ref.nwb, "chain", "dW of the second conv");
        chain_free(&dnn);
    }
    sl_set_num_threads(1);
    chain_free(&ref);
}

static int results_differ(const conv_result *a, const conv_result *b)
{
    return memcmp(a->y, b->y, (size_t)b->ny * sizeof(float)) != 0 ||
           memcmp(a->dw, b->dw, (size_t)b->nw * sizeof(float)) != 0;
}

/* y of conv2d forward alone, with gradients off (an evaluation), in precision p. */
static float *forward_only(const conv_case *c, sl_precision p)
{
    int64_t xs[4] = {c->N, c->C, c->H, c->W}, ws[4] = {c->O, c->C, c->kh, c->kw}, bs[1] = {c->O};
    sl_tensor *x = tu_tensor_uniform(4, xs, -1, 1, 11);
    sl_tensor *w = tu_param_uniform(4, ws, -0.5f, 0.5f, 12);
    sl_tensor *bias = c->bias ? tu_param_uniform(1, bs, -0.5f, 0.5f, 13) : NULL;
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    sl_graph_set_precision(g, p);
    sl_graph_set_grad_enabled(g, 0);
    sl_tensor *y = sl_conv2d(g, x, w, bias, c->stride, c->pad);
    assert_non_null(y);
    float *out = copy_of(y->data, y->size);
    sl_graph_free(g);
    sl_tensor_free(x);
    sl_tensor_free(w);
    sl_tensor_free(bias);
    return out;
}

/* One case in bf16 against fp32: 1 if it ran in bf16 (then close to fp32 within bf16's
 * rounding, and not fp32's bits), 0 if it fell back to fp32 (then fp32's bits exactly). */
static int check_bf16_case(const conv_case *c, const char *name)
{
    uint64_t before = sl_conv_dnn_bf16_count();
    conv_result low = run_case_in(c, SL_CONV_ONEDNN, SL_PRECISION_BF16);
    int ran = sl_conv_dnn_bf16_count() != before;
    conv_result ref = run_case(c, SL_CONV_ONEDNN);
    if (!ran) {
        assert_results_equal(&low, &ref);
    } else {
        if (!results_differ(&low, &ref))
            fail_msg("%s: the same bits as fp32", name);
        g_atol_of_max = 1.5e-2, g_rtol = 1e-2;
        assert_results_close(&low, &ref, name);
        g_atol_of_max = ATOL_OF_MAX, g_rtol = RTOL;
        /* An evaluation of the shape computes as its training forward does. */
        float *y = forward_only(c, SL_PRECISION_BF16);
        assert_memory_equal(y, low.y, (size_t)low.ny * sizeof(float));
        free(y);
    }
    result_free(&low);
    result_free(&ref);
    return ran;
}

/*
 * SL_PRECISION_BF16.  Where the CPU has bf16 kernels (sl_bf16_supported), the shape that
 * function probes must run in bf16, and every case either runs in bf16 (close to fp32, not
 * its bits, its evaluation the same as its training forward) or, where oneDNN has no native
 * bf16 kernel for that shape on this CPU, falls back to fp32's exact bits; bf16 gives the
 * same bits on 1 and 2 threads.  Where the CPU has none, every case is fp32's exact bits.
 *
 * Tolerance: bf16 keeps 8 bits of mantissa, so each product's inputs are off by up to 2^-9
 * relatively and each product by ~2^-8; summed over n terms of both signs, the error is
 * about sqrt(n) * 2^-8 of a typical term, below 2^-8 ~ 4e-3 of the array's largest value
 * (2.2e-3 seen, on fashion_cnn's first layer).  |a - b| <= 1.5e-2 * max|b| + 1e-2 * |b|
 * leaves room for that and still catches a wrong tap, image or channel (O(1) of the scale).
 */
static void test_bf16_precision(void **state)
{
    (void)state;
    if (!sl_conv_dnn_built())
        skip();
    int was = sl_conv_dnn_set_min_batch(1);
    int native = sl_bf16_supported(), ran = 0;
    const conv_case probe = {SL_DNN_PART, 16, 8, 8, 16, 3, 3, 1, 1, 1, 1}; /* as conv_dnn.c's */
    int probe_ran = check_bf16_case(&probe, "the probe's shape, bf16");
    if (probe_ran != native)
        fail_msg("the probe's shape ran in %s, sl_bf16_supported() says %d",
                 probe_ran ? "bf16" : "fp32", native);
    for (size_t i = 0; i < N_CASES; i++) {
        char name[112];
        case_name(&CASES[i], name, sizeof name);
        strcat(name, " bf16");
        ran += check_bf16_case(&CASES[i], name);
    }
    print_message("  bf16 kernels here: %s; %d of %d cases ran in bf16\n", native ? "yes" : "no",
                  ran, (int)N_CASES);
    if (!native)
        assert_int_equal(ran, 0);
    const conv_case *c = &CASES[2]; /* 3 parts, the last one short */
    sl_set_num_threads(2);
    conv_result two = run_case_in(c, SL_CONV_ONEDNN, SL_PRECISION_BF16);
    sl_set_num_threads(1);
    conv_result one = run_case_in(c, SL_CONV_ONEDNN, SL_PRECISION_BF16);
    assert_results_equal(&one, &two);
    result_free(&one);
    result_free(&two);
    /* im2col has no bf16: a bf16 graph there computes as fp32 does. */
    conv_result low = run_case_in(c, SL_CONV_IM2COL, SL_PRECISION_BF16);
    conv_result ref = run_case(c, SL_CONV_IM2COL);
    assert_results_equal(&low, &ref);
    result_free(&low);
    result_free(&ref);
    sl_conv_set_backend(SL_CONV_ONEDNN);
    sl_conv_dnn_set_min_batch(was);
}

/* The precision setting and its names. */
static void test_precision_setting(void **state)
{
    (void)state;
    sl_graph *g = sl_graph_new(1, NULL);
    assert_non_null(g);
    assert_int_equal(sl_graph_precision(g), SL_PRECISION_FP32);
    assert_int_equal(sl_graph_set_precision(g, SL_PRECISION_BF16), SL_PRECISION_FP32);
    assert_int_equal(sl_graph_precision(g), SL_PRECISION_BF16);
    assert_int_equal(sl_graph_set_precision(g, (sl_precision)7), SL_PRECISION_BF16);
    assert_int_equal(sl_graph_precision(g), SL_PRECISION_FP32);
    sl_graph_free(g);
    assert_int_equal(sl_graph_precision(NULL), SL_PRECISION_FP32);
    assert_string_equal(sl_precision_name(SL_PRECISION_BF16), "bf16");
    assert_string_equal(sl_precision_name((sl_precision)7), "?");
    sl_precision p = SL_PRECISION_FP32;
    sl_error err = {0};
    assert_int_equal(sl_precision_parse("bf16", &p, &err), SL_OK);
    assert_int_equal(p, SL_PRECISION_BF16);
    assert_int_equal(sl_precision_parse("fp16", &p, &err), SL_ERR_CONFIG);
    assert_non_null(strstr(err.message, "\"fp16\""));
    assert_int_equal(p, SL_PRECISION_BF16);
    if (!sl_conv_dnn_built())
        assert_int_equal(sl_bf16_supported(), 0);
}

/* A batch below the minimum runs on im2col: the same result as im2col's, bit for bit. */
static void test_small_batch_falls_back(void **state)
{
    (void)state;
    if (!sl_conv_dnn_built())
        skip();
    const conv_case c = {SL_DNN_MIN_BATCH - 1, 2, 6, 6, 3, 3, 3, 2, 0, 1, 1};
    uint64_t before = sl_conv_dnn_count();
    conv_result dnn = run_case(&c, SL_CONV_ONEDNN);
    assert_true(sl_conv_dnn_count() == before);
    conv_result ref = run_case(&c, SL_CONV_IM2COL);
    assert_results_equal(&dnn, &ref);
    result_free(&dnn);
    result_free(&ref);
    /* ... and with the minimum lowered, oneDNN takes the same case (N < one part: staged). */
    int was = sl_conv_dnn_set_min_batch(1);
    conv_result low = run_case(&c, SL_CONV_ONEDNN);
    sl_conv_dnn_set_min_batch(was);
    assert_true(sl_conv_dnn_count() == before + 1);
    ref = run_case(&c, SL_CONV_IM2COL);
    assert_results_close(&low, &ref, "below the minimum batch");
    result_free(&low);
    result_free(&ref);
}

/* Without oneDNN (or with SLOPE_CONV=im2col) every case runs on im2col: the switch says
 * so, and the cases still run (test_ops checks im2col's gradients by finite differences). */
static void test_switch(void **state)
{
    (void)state;
    assert_int_equal(sl_conv_set_backend(SL_CONV_IM2COL), SL_CONV_IM2COL);
    assert_int_equal(sl_conv_backend_get(), SL_CONV_IM2COL);
    uint64_t before = sl_conv_dnn_count();
    conv_result r = run_case(&CASES[2], SL_CONV_IM2COL);
    assert_true(sl_conv_dnn_count() == before);
    result_free(&r);
    sl_conv_backend want = sl_conv_dnn_built() ? SL_CONV_ONEDNN : SL_CONV_IM2COL;
    assert_int_equal(sl_conv_set_backend(SL_CONV_ONEDNN), want);
    assert_int_equal(sl_conv_backend_get(), want);
}

/* SLOPE_CONV as the environment gives it (ctest runs this program with it unset). */
static void test_env_default(void **state)
{
    (void)state;
    const char *v = getenv("SLOPE_CONV");
    sl_conv_backend b = sl_conv_backend_get(); /* the first call reads the environment */
    if (v && strcmp(v, "im2col") == 0)
        assert_int_equal(b, SL_CONV_IM2COL);
    else
        assert_int_equal(b, sl_conv_dnn_built() ? SL_CONV_ONEDNN : SL_CONV_IM2COL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_default), /* first: before any test sets the backend */
        cmocka_unit_test(test_backends_agree),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_chained_convs_share_buffers),
        cmocka_unit_test(test_small_batch_falls_back),
        cmocka_unit_test(test_switch),
        cmocka_unit_test(test_bf16_precision),
        cmocka_unit_test(test_precision_setting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
