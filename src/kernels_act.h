/*
 * kernels_act.h - the pointwise activation kernels, header-only.
 *
 * Each activation is a pair of static inline loops here (contracts as in
 * kernels.h: forward overwrites y, backward ACCUMULATES into dx), so adding
 * one touches this file alone on the kernel side.  Included by kernels.h;
 * include that, not this.  Kernels that reduce or walk channels (prelu,
 * pooling, losses) stay in kernels.c.
 *
 * Style as in kernels.c: plain loops the compiler vectorises, choices made
 * with sl_k_pick() instead of branches, restrict where buffers cannot
 * overlap (gradients never overlap what they are computed from; forward
 * activations may run in place, so their y is not restrict).
 */
#ifndef SLOPE_KERNELS_ACT_H
#define SLOPE_KERNELS_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/*
 * sl_k_pick(c, t, f) is c ? t : f without a branch: both values are computed
 * and one is chosen with integer masks.  GCC keeps a float ?: whose arms do
 * arithmetic as control flow under its default -ftrapping-math (it will not
 * speculate a multiply), so a loop written with ?: is not vectorised; with
 * sl_k_pick() it is.  Results are bit-identical to the ?: form.
 */
static inline float sl_k_pick(int c, float t, float f)
{
    uint32_t tb, fb, r, mask = 0u - (uint32_t)(c != 0);
    memcpy(&tb, &t, sizeof tb);
    memcpy(&fb, &f, sizeof fb);
    r = (tb & mask) | (fb & ~mask);
    float out;
    memcpy(&out, &r, sizeof out);
    return out;
}

/* ---- leaky_relu / relu ---- */

/* The in-place loop: one pointer, so no aliasing question for the vectoriser. */
static inline void sl_k_leaky_relu_inplace_loop(float *restrict x, int64_t n, float a)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = sl_k_pick(v > 0.0f, v, a * v);
    }
}

static inline void sl_k_leaky_relu_copy_loop(const float *restrict x, float *restrict y,
                                             int64_t n, float a)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = sl_k_pick(v > 0.0f, v, a * v);
    }
}

/* relu (a == 0) as PyTorch computes it: 0 for -inf, where 0 * x would be NaN; NaN stays
 * NaN.  In place and copying loops again, for the vectoriser. */
static inline void sl_k_relu_inplace_loop(float *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = sl_k_pick(!(x[i] <= 0.0f), x[i], 0.0f);
}

static inline void sl_k_relu_copy_loop(const float *restrict x, float *restrict y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = sl_k_pick(!(x[i] <= 0.0f), x[i], 0.0f);
}

/* y = x > 0 ? x : a*x (for a == 0: 0 where x is -inf, as PyTorch's relu).  x and y are the
 * same array or disjoint ones (a partial overlap is not supported). */
static inline void sl_k_leaky_relu_fwd(const float *x, float *y, int64_t n, float a)
{
    if (a == 0.0f && x == y)
        sl_k_relu_inplace_loop(y, n);
    else if (a == 0.0f)
        sl_k_relu_copy_loop(x, y, n);
    else if (x == y)
        sl_k_leaky_relu_inplace_loop(y, n, a);
    else
        sl_k_leaky_relu_copy_loop(x, y, n, a);
}

/*
 * Backward.  NaN follows PyTorch 1.13: relu's backward is threshold_backward,
 * "v <= 0 ? 0 : dy", so a NaN input passes the upstream gradient; leaky_relu's
 * is "v > 0 ? dy : a*dy", so a NaN input gets the slope a.  slope's relu is
 * leaky_relu with a == 0, and takes relu's rule (torch's leaky_relu(x, 0.0)
 * would give 0 at a NaN).  The test on a sits outside the loops.
 */
static inline void sl_k_relu_bwd_loop(const float *restrict v, const float *restrict dy,
                                      float *restrict dx, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] += sl_k_pick(!(v[i] <= 0.0f), dy[i], 0.0f);
}

static inline void sl_k_leaky_relu_bwd_loop(const float *restrict v, const float *restrict dy,
                                            float *restrict dx, int64_t n, float a)
{
    for (int64_t i = 0; i < n; i++)
        dx[i] += dy[i] * sl_k_pick(v[i] > 0.0f, 1.0f, a);
}

/* dx += dy * f'(v), where v is x, or y when a >= 0 (same sign, and NaN where x is). */
static inline void sl_k_leaky_relu_bwd(const float *v, const float *dy, float *dx, int64_t n,
                                       float a)
{
    if (a == 0.0f)
        sl_k_relu_bwd_loop(v, dy, dx, n);
    else
        sl_k_leaky_relu_bwd_loop(v, dy, dx, n, a);
}

/* g[i] *= f'(y[i]) from y, NaN as above: the rule the in-place op's pass bits keep (below),
 * and the tests' reference for them; the op itself no longer reads y. */
static inline void sl_k_leaky_relu_bwd_inplace(const float *y, float *g, int64_t n, float a)
{
    const float *restrict yy = y;
    float *restrict gg = g;
    if (a == 0.0f) {
        for (int64_t i = 0; i < n; i++)
            gg[i] = sl_k_pick(!(yy[i] <= 0.0f), gg[i], 0.0f);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        gg[i] *= sl_k_pick(yy[i] > 0.0f, 1.0f, a);
}

/*
 * The in-place op's record for backward, one bit per element (bit i % 32 of word i / 32):
 * set where f'(y) is 1 by the rules above (y > 0; for relu also where y is NaN).  Backward
 * then reads the bits, not y, so the graph may put the gradient over y.  A whole word runs
 * on SSE2 (x86-64's baseline: movemask makes the bits, four at a time), the rest and other
 * CPUs on the plain loops, which give the same bits and values.
 */
#define SL_K_PASS_WORD 32

/* Plain: y = leaky_relu(x) in place for n <= 32 elements, and their bits. */
static inline uint32_t sl_k_leaky_word_fwd_plain(float *x, int64_t n, float a)
{
    sl_k_leaky_relu_fwd(x, x, n, a);
    uint32_t bits = 0;
    for (int j = 0; j < n; j++)
        bits |= (uint32_t)(a == 0.0f ? !(x[j] <= 0.0f) : x[j] > 0.0f) << j;
    return bits;
}

/* Plain: g *= f'(y) for n <= 32 elements from their bits. */
static inline void sl_k_leaky_word_bwd_plain(uint32_t bits, float *g, int64_t n, float a)
{
    for (int j = 0; j < n; j++)
        g[j] = a == 0.0f ? sl_k_pick((bits >> j) & 1u, g[j], 0.0f)
                         : g[j] * sl_k_pick((bits >> j) & 1u, 1.0f, a);
}

#if defined(__SSE2__)
/* One whole word: for x > 0 (relu: !(x <= 0), true at NaN) as leaky_relu_'s y > 0 is, since
 * a >= 0 keeps the sign (and NaN) of x. */
static inline uint32_t sl_k_leaky_word_fwd(float *x, float a)
{
    const __m128 zero = _mm_setzero_ps(), av = _mm_set1_ps(a);
    uint32_t bits = 0;
    for (int k = 0; k < SL_K_PASS_WORD / 4; k++) {
        __m128 v = _mm_loadu_ps(x + 4 * k), m, y;
        if (a == 0.0f) {
            m = _mm_cmpnle_ps(v, zero);
            y = _mm_and_ps(m, v);
        } else {
            m = _mm_cmpgt_ps(v, zero);
            y = _mm_or_ps(_mm_and_ps(m, v), _mm_andnot_ps(m, _mm_mul_ps(av, v)));
        }
        _mm_storeu_ps(x + 4 * k, y);
        bits |= (uint32_t)_mm_movemask_ps(m) << (4 * k);
    }
    return bits;
}

static inline void sl_k_leaky_word_bwd(uint32_t bits, float *g, float a)
{
    const __m128 one = _mm_set1_ps(1.0f), av = _mm_set1_ps(a);
    const __m128i lane = _mm_set_epi32(8, 4, 2, 1);
    for (int k = 0; k < SL_K_PASS_WORD / 4; k++) {
        __m128i nib = _mm_set1_epi32((int)((bits >> (4 * k)) & 15u));
        __m128 m = _mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(nib, lane), lane));
        __m128 v = _mm_loadu_ps(g + 4 * k);
        v = a == 0.0f ? _mm_and_ps(m, v)
                      : _mm_mul_ps(v, _mm_or_ps(_mm_and_ps(m, one), _mm_andnot_ps(m, av)));
        _mm_storeu_ps(g + 4 * k, v);
    }
}
#else
static inline uint32_t sl_k_leaky_word_fwd(float *x, float a)
{
    return sl_k_leaky_word_fwd_plain(x, SL_K_PASS_WORD, a);
}

static inline void sl_k_leaky_word_bwd(uint32_t bits, float *g, float a)
{
    sl_k_leaky_word_bwd_plain(bits, g, SL_K_PASS_WORD, a);
}
#endif

/* x = leaky_relu(x) in place (a >= 0), and pass[] its bits; x starts a word of the whole
 * tensor (a range of the parallel loop starts at a multiple of 32). */
static inline void sl_k_leaky_relu_fwd_pass(float *x, uint32_t *pass, int64_t n, float a)
{
    int64_t i = 0;
    for (; i + SL_K_PASS_WORD <= n; i += SL_K_PASS_WORD)
        pass[i / SL_K_PASS_WORD] = sl_k_leaky_word_fwd(x + i, a);
    if (i < n)
        pass[i / SL_K_PASS_WORD] = sl_k_leaky_word_fwd_plain(x + i, n - i, a);
}

/* g[i] *= f'(y[i]) from the bits: bit for bit sl_k_leaky_relu_bwd_inplace on the y the
 * bits were taken from. */
static inline void sl_k_leaky_relu_bwd_pass(const uint32_t *pass, float *g, int64_t n, float a)
{
    int64_t i = 0;
    for (; i + SL_K_PASS_WORD <= n; i += SL_K_PASS_WORD)
        sl_k_leaky_word_bwd(pass[i / SL_K_PASS_WORD], g + i, a);
    if (i < n)
        sl_k_leaky_word_bwd_plain(pass[i / SL_K_PASS_WORD], g + i, n - i, a);
}

/* ---- per-element slopes (rrelu) ---- */

/* y = x > 0 ? x : s[i]*x. */
static inline void sl_k_slope_fwd(const float *x, const float *s, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = sl_k_pick(v > 0.0f, v, s[i] * v);
    }
}

/* dx += dy * (x > 0 ? 1 : s[i]). */
static inline void sl_k_slope_bwd(const float *x, const float *s, const float *dy, float *dx,
                                  int64_t n)
{
    const float *restrict xx = x;
    const float *restrict ss = s;
    const float *restrict gg = dy;
    float *restrict out = dx;
    for (int64_t i = 0; i < n; i++)
        out[i] += gg[i] * sl_k_pick(xx[i] > 0.0f, 1.0f, ss[i]);
}

/* ---- elu, selu ---- */

/* y = x > 0 ? scale*x : scale*alpha*(exp(x)-1);  elu is scale 1, selu uses SL_SELU_*. */
static inline void sl_k_elu_fwd(const float *x, float *y, int64_t n, float alpha, float scale)
{
    const float sa = scale * alpha;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        y[i] = v > 0.0f ? scale * v : sa * expm1f(v);
    }
}

/* dx += dy * (x <= 0 ? scale*alpha*exp(x) : scale); reads x.  Written with <= as torch's
 * elu_backward is, so a NaN input takes the linear side: dx += scale * dy (torch 1.13). */
static inline void sl_k_elu_bwd(const float *x, const float *dy, float *dx, int64_t n,
                                float alpha, float scale)
{
    const float *restrict xx = x;
    const float *restrict gg = dy;
    float *restrict out = dx;
    const float sa = scale * alpha;
    for (int64_t i = 0; i < n; i++) {
        float v = xx[i];
        out[i] += gg[i] * (!(v <= 0.0f) ? scale : sa * expf(v));
    }
}

/* ---- sigmoid, tanh: backward from y ---- */

/* Stable for large |x|: e = exp(-|x|) never overflows; sigmoid(x) = 1/(1+e) for x >= 0,
 * e/(1+e) below. */
static inline void sl_k_sigmoid_fwd(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        float e = expf(-fabsf(v));
        float r = 1.0f / (1.0f + e);
        y[i] = sl_k_pick(v >= 0.0f, r, e * r);
    }
}

/* dx += dy * y * (1 - y). */
static inline void sl_k_sigmoid_bwd(const float *y, const float *dy, float *dx, int64_t n)
{
    const float *restrict yy = y;
    const float *restrict gg = dy;
    float *restrict out = dx;
    for (int64_t i = 0; i < n; i++)
        out[i] += gg[i] * yy[i] * (1.0f - yy[i]);
}

static inline void sl_k_tanh_fwd(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = tanhf(x[i]);
}

/* dx += dy * (1 - y^2). */
static inline void sl_k_tanh_bwd(const float *y, const float *dy, float *dx, int64_t n)
{
    const float *restrict yy = y;
    const float *restrict gg = dy;
    float *restrict out = dx;
    for (int64_t i = 0; i < n; i++)
        out[i] += gg[i] * (1.0f - yy[i] * yy[i]);
}

/* ---- gelu, exact erf form (torch.nn.GELU's default): backward from x ---- */

/* y = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), Phi the standard normal CDF. */
static inline void sl_k_gelu_fwd(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
}

/* dx += dy * (Phi(x) + x * phi(x)), phi(x) = exp(-x^2/2) / sqrt(2 pi). */
static inline void sl_k_gelu_bwd(const float *x, const float *dy, float *dx, int64_t n)
{
    const float inv_sqrt_2pi = 0.3989422804014327f;
    const float *restrict xx = x;
    const float *restrict gg = dy;
    float *restrict out = dx;
    for (int64_t i = 0; i < n; i++) {
        float cdf = 0.5f * (1.0f + erff(xx[i] * 0.70710678118654752f));
        float pdf = inv_sqrt_2pi * expf(-0.5f * xx[i] * xx[i]);
        out[i] += gg[i] * (cdf + xx[i] * pdf);
    }
}

#endif
