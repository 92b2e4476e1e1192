/*
 * kernels.c - the raw float loops behind every op (contract in kernels.h),
 * except the pointwise activations, which are header-only in kernels_act.h.
 *
 * Style: plain loops the compiler vectorises.  Hot loops choose with
 * sl_k_pick() (kernels_act.h) rather than branches, and use restrict where the buffers cannot overlap:
 * gradient outputs never overlap the arrays they are computed from.
 * Forward activations may run in place (y == x), so their y is not restrict.
 * Reductions run in SL_LANES independent float lanes (vectorisable without
 * -ffast-math) over chunks of SL_CHUNK elements, summed into a double.
 */
#include "kernels.h"

#include "parallel.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define SL_LANES 16
#define SL_CHUNK 4096

/* ---- matrix products ---- */

static void sgemm_direct(int trans_a, int trans_b, int M, int N, int K, float alpha,
                         const float *A, int lda, const float *B, int ldb, float beta, float *C,
                         int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

/* A product worth splitting over threads: below this many multiply-adds the
 * hand-off costs more than it saves. */
#define SL_SGEMM_SPLIT_MACS (1 << 18)

typedef struct sgemm_job {
    int ta, tb, M, N, K, lda, ldb, ldc, split_n, chunk;
    float alpha, beta;
    const float *A, *B;
    float *C;
} sgemm_job;

/* Part `task` of a split product: a block of C's columns (split_n) or rows. */
static void sgemm_part(void *ctx, int64_t task, int thread)
{
    (void)thread;
    const sgemm_job *j = ctx;
    int lo = (int)task * j->chunk;
    int hi = lo + j->chunk;
    if (j->split_n) {
        hi = hi > j->N ? j->N : hi;
        if (lo >= hi)
            return;
        const float *b = j->tb ? j->B + (size_t)lo * j->ldb : j->B + lo;
        sgemm_direct(j->ta, j->tb, j->M, hi - lo, j->K, j->alpha, j->A, j->lda, b, j->ldb,
                     j->beta, j->C + lo, j->ldc);
    } else {
        hi = hi > j->M ? j->M : hi;
        if (lo >= hi)
            return;
        const float *a = j->ta ? j->A + lo : j->A + (size_t)lo * j->lda;
        sgemm_direct(j->ta, j->tb, hi - lo, j->N, j->K, j->alpha, a, j->lda, j->B, j->ldb,
                     j->beta, j->C + (size_t)lo * j->ldc, j->ldc);
    }
}

/*
 * With slope's threads (parallel.h), a large product is cut into one block of
 * C per thread along its longer side (each block is one single-threaded
 * OpenBLAS call); every element of C is computed by exactly the same call
 * sequence as unsplit, up to OpenBLAS's blocking.
 */
void sl_k_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc)
{
    int threads = sl_par_threads();
    if (threads > 1 && (double)M * N * K >= SL_SGEMM_SPLIT_MACS) {
        int split_n = N >= M, len = split_n ? N : M;
        int parts = len / 16 < threads ? len / 16 : threads;
        if (parts >= 2) {
            int chunk = (len + parts - 1) / parts;
            chunk = (chunk + 15) / 16 * 16; /* whole SIMD/kernel blocks per part */
            sgemm_job j = {trans_a, trans_b, M, N, K, lda, ldb, ldc, split_n, chunk,
                           alpha, beta, A, B, C};
            sl_par_run((len + chunk - 1) / chunk, sgemm_part, &j);
            return;
        }
    }
    sgemm_direct(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- reductions ---- */

/* Sum of x[0..n) in double: float lanes within a chunk, double across chunks. */
static double sum_f(const float *restrict x, int64_t n)
{
    double total = 0.0;
    for (int64_t start = 0; start < n; start += SL_CHUNK) {
        int64_t len = n - start < SL_CHUNK ? n - start : SL_CHUNK;
        const float *p = x + start;
        float lane[SL_LANES] = {0};
        int64_t i = 0;
        for (; i + SL_LANES <= len; i += SL_LANES)
            for (int j = 0; j < SL_LANES; j++)
                lane[j] += p[i + j];
        float tail = 0.0f;
        for (; i < len; i++)
            tail += p[i];
        double s = tail;
        for (int j = 0; j < SL_LANES; j++)
            s += lane[j];
        total += s;
    }
    return total;
}

/* ---- bias ---- */

void sl_k_add_bias_rows(float *y, const float *b, int64_t N, int64_t F)
{
    for (int64_t n = 0; n < N; n++) {
        float *restrict row = y + n * F;
        const float *restrict bb = b;
        for (int64_t j = 0; j < F; j++)
            row[j] += bb[j];
    }
}

void sl_k_bias_grad_rows(const float *dy, float *db, int64_t N, int64_t F)
{
    for (int64_t n = 0; n < N; n++) {
        const float *restrict row = dy + n * F;
        float *restrict acc = db;
        for (int64_t j = 0; j < F; j++)
            acc[j] += row[j];
    }
}

void sl_k_add_bias_channels(float *y, const float *b, int64_t C, int64_t inner)
{
    for (int64_t c = 0; c < C; c++) {
        float *restrict plane = y + c * inner;
        const float bc = b[c];
        for (int64_t p = 0; p < inner; p++)
            plane[p] += bc;
    }
}

void sl_k_bias_grad_channels(const float *dy, float *db, int64_t C, int64_t inner)
{
    for (int64_t c = 0; c < C; c++)
        db[c] += (float)sum_f(dy + c * inner, inner);
}

/* ---- im2col / col2im ---- */

/*
 * For kernel column j, output columns ox in [*lo, *hi) read input columns
 * ix = ox*stride - pad + j inside [0, W); the rest fall in the padding.
 */
static void valid_range(int j, int stride, int pad, int W, int OW, int *lo, int *hi)
{
    int first = 0; /* smallest ox with ix >= 0 */
    if (pad - j > 0)
        first = (pad - j + stride - 1) / stride;
    int last = 0; /* one past the largest ox with ix <= W - 1 */
    if (W - 1 + pad - j >= 0)
        last = (W - 1 + pad - j) / stride + 1;
    if (first > OW)
        first = OW;
    if (last > OW)
        last = OW;
    if (last < first)
        last = first;
    *lo = first;
    *hi = last;
}

void sl_k_im2col(const float *img, int C, int H, int W, int kh, int kw, int stride, int pad,
                 int OH, int OW, float *cols)
{
    sl_k_im2col_ld(img, C, H, W, kh, kw, stride, pad, OH, OW, cols, (int64_t)OH * OW);
}

/*
 * Stride 1 with "same" padding (OH == H, OW == W): row (c, i, j) of the
 * columns is the plane shifted by (i - pad) rows and (j - pad) columns, so it
 * is one bulk copy plus zeroing of the rows and edge columns that fall in
 * the padding (the bulk copy wraps neighbouring rows' values into them).
 */
static void im2col_same_s1(const float *img, int C, int H, int W, int kh, int kw, int pad,
                           float *cols, int64_t ldc)
{
    const int64_t HW = (int64_t)H * W;
    for (int c = 0; c < C; c++) {
        const float *plane = img + (int64_t)c * HW;
        for (int i = 0; i < kh; i++) {
            const int dy = i - pad;
            const int oy0 = dy < 0 ? -dy : 0, oy1 = dy > 0 ? H - dy : H;
            for (int j = 0; j < kw; j++) {
                const int dx = j - pad;
                float *restrict row = cols + (((int64_t)c * kh + i) * kw + j) * ldc;
                if (oy1 <= oy0) {
                    memset(row, 0, (size_t)HW * sizeof *row);
                    continue;
                }
                const int64_t shift = (int64_t)dy * W + dx;
                int64_t p0 = (int64_t)oy0 * W, p1 = (int64_t)oy1 * W;
                if (p0 + shift < 0)
                    p0 = -shift;
                if (p1 + shift > HW)
                    p1 = HW - shift;
                p0 = p0 > HW ? HW : p0;
                memset(row, 0, (size_t)p0 * sizeof *row);
                if (p1 > p0)
                    memcpy(row + p0, plane + p0 + shift, (size_t)(p1 - p0) * sizeof *row);
                else
                    p1 = p0;
                memset(row + p1, 0, (size_t)(HW - p1) * sizeof *row);
                const int lo = dx < 0 ? -dx : 0, hi = dx > 0 ? W - dx : W;
                for (int oy = oy0; oy < oy1; oy++) {
                    float *r = row + (int64_t)oy * W;
                    for (int ox = 0; ox < lo && ox < W; ox++)
                        r[ox] = 0.0f;
                    for (int ox = hi < 0 ? 0 : hi; ox < W; ox++)
                        r[ox] = 0.0f;
                }
            }
        }
    }
}

void sl_k_im2col_ld(const float *img, int C, int H, int W, int kh, int kw, int stride, int pad,
                    int OH, int OW, float *cols, int64_t ldc)
{
    if (stride == 1 && OH == H && OW == W) {
        im2col_same_s1(img, C, H, W, kh, kw, pad, cols, ldc);
        return;
    }
    const int64_t P = ldc;
    for (int c = 0; c < C; c++) {
        const float *plane = img + (int64_t)c * H * W;
        for (int i = 0; i < kh; i++) {
            for (int j = 0; j < kw; j++) {
                float *restrict row = cols + (((int64_t)c * kh + i) * kw + j) * P;
                int lo, hi;
                valid_range(j, stride, pad, W, OW, &lo, &hi);
                for (int oy = 0; oy < OH; oy++) {
                    float *restrict out = row + (int64_t)oy * OW;
                    int iy = oy * stride - pad + i;
                    if (iy < 0 || iy >= H) {
                        memset(out, 0, (size_t)OW * sizeof *out);
                        continue;
                    }
                    for (int ox = 0; ox < lo; ox++)
                        out[ox] = 0.0f;
                    if (hi > lo) {
                        /* src[t * stride] is input column (lo + t)*stride - pad + j. */
                        const float *restrict src =
                            plane + (int64_t)iy * W + (lo * stride - pad + j);
                        float *restrict dst = out + lo;
                        const int len = hi - lo;
                        if (stride == 1) {
                            for (int t = 0; t < len; t++)
                                dst[t] = src[t];
                        } else {
                            for (int t = 0; t < len; t++)
                                dst[t] = src[(int64_t)t * stride];
                        }
                    }
                    for (int ox = hi; ox < OW; ox++)
                        out[ox] = 0.0f;
                }
            }
        }
    }
}

void sl_k_col2im(const float *cols, int C, int H, int W, int kh, int kw, int stride, int pad,
                 int OH, int OW, float *img)
{
    sl_k_col2im_ld(cols, C, H, W, kh, kw, stride, pad, OH, OW, img, (int64_t)OH * OW);
}

void sl_k_col2im_ld(const float *cols, int C, int H, int W, int kh, int kw, int stride, int pad,
                    int OH, int OW, float *img, int64_t ldc)
{
    const int64_t P = ldc;
    for (int c = 0; c < C; c++) {
        float *plane = img + (int64_t)c * H * W;
        for (int i = 0; i < kh; i++) {
            for (int j = 0; j < kw; j++) {
                const float *restrict row = cols + (((int64_t)c * kh + i) * kw + j) * P;
                int lo, hi;
                valid_range(j, stride, pad, W, OW, &lo, &hi);
                for (int oy = 0; oy < OH; oy++) {
                    int iy = oy * stride - pad + i;
                    if (iy < 0 || iy >= H || hi <= lo)
                        continue;
                    const float *restrict src = row + (int64_t)oy * OW + lo;
                    float *restrict dst = plane + (int64_t)iy * W + (lo * stride - pad + j);
                    const int len = hi - lo;
                    if (stride == 1) {
                        for (int t = 0; t < len; t++)
                            dst[t] += src[t];
                    } else {
                        for (int t = 0; t < len; t++)
                            dst[(int64_t)t * stride] += src[t];
                    }
                }
            }
        }
    }
}

/* ---- activations (the pointwise ones are in kernels_act.h) ---- */

void sl_k_prelu_fwd(const float *x, float *y, int64_t N, int64_t C, int64_t inner,
                    const float *alpha, int64_t nalpha)
{
    if (nalpha == 1) {
        sl_k_leaky_relu_fwd(x, y, N * C * inner, alpha[0]);
        return;
    }
    if (inner == 1) { /* [N, F]: the slope varies along the contiguous dim */
        for (int64_t n = 0; n < N; n++) {
            const float *xr = x + n * C;
            float *yr = y + n * C;
            for (int64_t c = 0; c < C; c++) {
                float v = xr[c];
                yr[c] = sl_k_pick(v > 0.0f, v, alpha[c] * v);
            }
        }
        return;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t off = (n * C + c) * inner;
            sl_k_leaky_relu_fwd(x + off, y + off, inner, alpha[c]);
        }
}

/*
 * One block with one slope a: dx += dy * (x > 0 ? 1 : a) when dx is not NULL;
 * returns sum over x <= 0 of x * dy (0 when want_dalpha is 0).
 */
static double prelu_block_bwd(const float *restrict x, const float *restrict dy,
                              float *restrict dx, int64_t n, float a, int want_dalpha)
{
    if (dx)
        sl_k_leaky_relu_bwd_loop(x, dy, dx, n, a); /* NaN gets a, even for a == 0 (torch) */
    if (!want_dalpha)
        return 0.0;
    double total = 0.0;
    for (int64_t start = 0; start < n; start += SL_CHUNK) {
        int64_t len = n - start < SL_CHUNK ? n - start : SL_CHUNK;
        const float *xp = x + start;
        const float *gp = dy + start;
        float lane[SL_LANES] = {0};
        int64_t i = 0;
        for (; i + SL_LANES <= len; i += SL_LANES)
            for (int j = 0; j < SL_LANES; j++) {
                float v = xp[i + j];
                lane[j] += sl_k_pick(v > 0.0f, 0.0f, v * gp[i + j]);
            }
        float tail = 0.0f;
        for (; i < len; i++) {
            float v = xp[i];
            tail += sl_k_pick(v > 0.0f, 0.0f, v * gp[i]);
        }
        double s = tail;
        for (int j = 0; j < SL_LANES; j++)
            s += lane[j];
        total += s;
    }
    return total;
}

void sl_k_prelu_bwd(const float *x, const float *dy, float *dx, float *dalpha, int64_t N,
                    int64_t C, int64_t inner, const float *alpha, int64_t nalpha)
{
    if (nalpha == 1) {
        double s = prelu_block_bwd(x, dy, dx, N * C * inner, alpha[0], dalpha != NULL);
        if (dalpha)
            dalpha[0] += (float)s;
        return;
    }
    if (inner == 1) { /* [N, F]: vectorise along the features */
        for (int64_t n = 0; n < N; n++) {
            const float *restrict xr = x + n * C;
            const float *restrict gr = dy + n * C;
            if (dx) {
                float *restrict dr = dx + n * C;
                for (int64_t c = 0; c < C; c++)
                    dr[c] += gr[c] * sl_k_pick(xr[c] > 0.0f, 1.0f, alpha[c]);
            }
            if (dalpha) {
                float *restrict da = dalpha;
                for (int64_t c = 0; c < C; c++) {
                    float v = xr[c];
                    da[c] += sl_k_pick(v > 0.0f, 0.0f, v * gr[c]);
                }
            }
        }
        return;
    }
    for (int64_t c = 0; c < C; c++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) {
            int64_t off = (n * C + c) * inner;
            s += prelu_block_bwd(x + off, dy + off, dx ? dx + off : NULL, inner, alpha[c],
                                 dalpha != NULL);
        }
        if (dalpha)
            dalpha[c] += (float)s;
    }
}

/* ---- pooling ---- */

/*
 * A window's maximum as PyTorch 1.13 takes it: scan in row-major order, a
 * candidate replaces the best when it is strictly larger or NaN.  So ties
 * keep the first, and a NaN anywhere in the window wins: the output is NaN
 * and the arg-max is the window's LAST NaN (what torch's kernel returns, so
 * backward routes the gradient there).
 */
static inline int pool_wins(float v, float best)
{
    return (v > best) | (v != v);
}

/*
 * The common 2x2 window, stride 2, no padding: the four candidates as
 * above, chosen without branches.
 */
static void maxpool2x2(const float *x, float *y, int32_t *argmax, int64_t planes, int H, int W,
                       int OH, int OW)
{
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *in = x + pl * H * W;
        float *restrict out = y + pl * OH * OW;
        int32_t *restrict idx = argmax ? argmax + pl * OH * OW : NULL;
        for (int oy = 0; oy < OH; oy++) {
            const float *restrict r0 = in + (int64_t)(2 * oy) * W;
            const float *restrict r1 = r0 + W;
            float *restrict o = out + (int64_t)oy * OW;
            if (!idx) {
                for (int ox = 0; ox < OW; ox++) {
                    float best = r0[2 * ox], v = r0[2 * ox + 1];
                    best = sl_k_pick(pool_wins(v, best), v, best);
                    v = r1[2 * ox];
                    best = sl_k_pick(pool_wins(v, best), v, best);
                    v = r1[2 * ox + 1];
                    o[ox] = sl_k_pick(pool_wins(v, best), v, best);
                }
                continue;
            }
            int32_t *restrict id = idx + (int64_t)oy * OW;
            const int32_t base = 2 * oy * W;
            for (int ox = 0; ox < OW; ox++) {
                float best = r0[2 * ox], v = r0[2 * ox + 1];
                int32_t bi = 0, c;
                c = pool_wins(v, best);
                best = sl_k_pick(c, v, best);
                bi = c ? 1 : bi;
                v = r1[2 * ox];
                c = pool_wins(v, best);
                best = sl_k_pick(c, v, best);
                bi = c ? W : bi;
                v = r1[2 * ox + 1];
                c = pool_wins(v, best);
                best = sl_k_pick(c, v, best);
                bi = c ? W + 1 : bi;
                o[ox] = best;
                id[ox] = base + 2 * ox + bi;
            }
        }
    }
}

void sl_k_maxpool_fwd(const float *x, float *y, int32_t *argmax, int64_t planes, int H, int W,
                      int k, int stride, int pad, int OH, int OW)
{
    if (k == 2 && stride == 2 && pad == 0 && 2 * OH <= H && 2 * OW <= W) {
        maxpool2x2(x, y, argmax, planes, H, W, OH, OW);
        return;
    }
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *in = x + pl * H * W;
        float *out = y + pl * OH * OW;
        int32_t *idx = argmax ? argmax + pl * OH * OW : NULL;
        for (int oy = 0; oy < OH; oy++) {
            int64_t y0 = (int64_t)oy * stride - pad;
            int ya = y0 < 0 ? 0 : (int)y0;
            int yb = y0 + k > H ? H : (int)(y0 + k);
            for (int ox = 0; ox < OW; ox++) {
                int64_t x0 = (int64_t)ox * stride - pad;
                int xa = x0 < 0 ? 0 : (int)x0;
                int xb = x0 + k > W ? W : (int)(x0 + k);
                /* Padding is -inf, so it never beats a real value: start from the
                 * first real element and replace as pool_wins says. */
                int32_t best_i = ya * W + xa;
                float best = in[best_i];
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++) {
                        float v = in[iy * W + ix];
                        if (pool_wins(v, best)) {
                            best = v;
                            best_i = iy * W + ix;
                        }
                    }
                out[oy * OW + ox] = best;
                if (idx)
                    idx[oy * OW + ox] = best_i;
            }
        }
    }
}

void sl_k_maxpool_bwd(const float *dy, const int32_t *argmax, float *dx, int64_t planes, int H,
                      int W, int OH, int OW)
{
    const int64_t P = (int64_t)OH * OW;
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *g = dy + pl * P;
        const int32_t *idx = argmax + pl * P;
        float *d = dx + pl * H * W;
        for (int64_t o = 0; o < P; o++)
            d[idx[o]] += g[o];
    }
}

void sl_k_avgpool_fwd(const float *x, float *y, int64_t planes, int H, int W, int k, int stride,
                      int pad, int OH, int OW)
{
    const float inv = 1.0f / ((float)k * (float)k); /* k * k in int overflows past 46340 */
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *in = x + pl * H * W;
        float *out = y + pl * OH * OW;
        for (int oy = 0; oy < OH; oy++) {
            int64_t y0 = (int64_t)oy * stride - pad;
            int ya = y0 < 0 ? 0 : (int)y0;
            int yb = y0 + k > H ? H : (int)(y0 + k);
            for (int ox = 0; ox < OW; ox++) {
                int64_t x0 = (int64_t)ox * stride - pad;
                int xa = x0 < 0 ? 0 : (int)x0;
                int xb = x0 + k > W ? W : (int)(x0 + k);
                float s = 0.0f;
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++)
                        s += in[iy * W + ix];
                out[oy * OW + ox] = s * inv;
            }
        }
    }
}

void sl_k_avgpool_bwd(const float *dy, float *dx, int64_t planes, int H, int W, int k, int stride,
                      int pad, int OH, int OW)
{
    const float inv = 1.0f / ((float)k * (float)k); /* k * k in int overflows past 46340 */
    for (int64_t pl = 0; pl < planes; pl++) {
        const float *g = dy + pl * OH * OW;
        float *d = dx + pl * H * W;
        for (int oy = 0; oy < OH; oy++) {
            int64_t y0 = (int64_t)oy * stride - pad;
            int ya = y0 < 0 ? 0 : (int)y0;
            int yb = y0 + k > H ? H : (int)(y0 + k);
            for (int ox = 0; ox < OW; ox++) {
                int64_t x0 = (int64_t)ox * stride - pad;
                int xa = x0 < 0 ? 0 : (int)x0;
                int xb = x0 + k > W ? W : (int)(x0 + k);
                float share = g[oy * OW + ox] * inv;
                for (int iy = ya; iy < yb; iy++)
                    for (int ix = xa; ix < xb; ix++)
                        d[iy * W + ix] += share;
            }
        }
    }
}

/* ---- losses ---- */

float sl_k_softmax_ce_fwd(const float *logits, const int32_t *labels, float *probs, int64_t N,
                          int64_t C, float eps)
{
    double loss = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *restrict z = logits + n * C;
        float *restrict p = probs + n * C;
        float m = z[0];
        for (int64_t j = 1; j < C; j++)
            m = z[j] > m ? z[j] : m;
        for (int64_t j = 0; j < C; j++)
            p[j] = expf(z[j] - m);
        double s = sum_f(p, C); /* >= 1: the max term is exp(0) */
        float inv = (float)(1.0 / s);
        for (int64_t j = 0; j < C; j++)
            p[j] *= inv;
        /* -log softmax(z)[j] = lse - z[j] with lse = log(s) + m; the smoothed target's
         * share eps / C of every class sums to eps (lse - mean(z)). */
        double lse = log(s) + (double)m;
        loss += (1.0 - (double)eps) * (lse - (double)z[labels[n]]);
        if (eps != 0.0f)
            loss += (double)eps * (lse - sum_f(z, C) / (double)C);
    }
    return N > 0 ? (float)(loss / (double)N) : 0.0f;
}

void sl_k_softmax_ce_bwd(const float *probs, const int32_t *labels, float *dlogits, int64_t N,
                         int64_t C, float eps, float scale)
{
    float spread = eps / (float)C;
    for (int64_t n = 0; n < N; n++) {
        const float *restrict p = probs + n * C;
        float *restrict d = dlogits + n * C;
        for (int64_t j = 0; j < C; j++)
            d[j] += scale * (p[j] - spread);
        d[labels[n]] -= scale * (1.0f - eps);
    }
}

float sl_k_mse_fwd(const float *pred, const float *target, int64_t n)
{
    double total = 0.0;
    for (int64_t start = 0; start < n; start += SL_CHUNK) {
        int64_t len = n - start < SL_CHUNK ? n - start : SL_CHUNK;
        const float *restrict p = pred + start;
        const float *restrict t = target + start;
        double lane[SL_LANES] = {0};
        int64_t i = 0;
        for (; i + SL_LANES <= len; i += SL_LANES)
            for (int j = 0; j < SL_LANES; j++) {
                double d = (double)p[i + j] - (double)t[i + j];
                lane[j] += d * d;
            }
        for (; i < len; i++) {
            double d = (double)p[i] - (double)t[i];
            lane[0] += d * d;
        }
        for (int j = 0; j < SL_LANES; j++)
            total += lane[j];
    }
    return n > 0 ? (float)(total / (double)n) : 0.0f;
}

void sl_k_mse_bwd(const float *pred, const float *target, float *dpred, float *dtarget, int64_t n,
                  float scale)
{
    const float *restrict p = pred;
    const float *restrict t = target;
    const float s2 = 2.0f * scale;
    if (dpred) {
        float *restrict dp = dpred;
        for (int64_t i = 0; i < n; i++)
            dp[i] += s2 * (p[i] - t[i]);
    }
    if (dtarget) {
        float *restrict dt = dtarget;
        for (int64_t i = 0; i < n; i++)
            dt[i] -= s2 * (p[i] - t[i]);
    }
}

float sl_k_bce_logits_fwd(const float *x, const float *target, int64_t target_step, int64_t n)
{
    double total = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double v = x[i], y = target[i * target_step];
        total += (v > 0.0 ? v : 0.0) - v * y + log1p(exp(-fabs(v)));
    }
    return n > 0 ? (float)(total / (double)n) : 0.0f;
}

void sl_k_bce_logits_bwd(const float *x, const float *target, int64_t target_step, float *dx,
                         float *dtarget, int64_t n, float scale)
{
    double x_sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        if (dx) {
            float sig;
            sl_k_sigmoid_fwd(&x[i], &sig, 1); /* the sigmoid op's stable kernel */
            dx[i] += scale * (sig - target[i * target_step]);
        }
        if (dtarget && target_step)
            dtarget[i] -= scale * x[i];
        x_sum += x[i];
    }
    if (dtarget && !target_step) /* one target for all: the sum of the per-element terms */
        dtarget[0] -= (float)((double)scale * x_sum);
}

/* ---- elementwise helpers ---- */

void sl_k_axpy(int64_t n, float a, const float *x, float *y)
{
    const float *restrict xx = x;
    float *restrict yy = y;
    for (int64_t i = 0; i < n; i++)
        yy[i] += a * xx[i];
}

void sl_k_mul_acc(const float *a, const float *b, float *y, int64_t n)
{
    const float *restrict aa = a;
    const float *restrict bb = b;
    float *restrict yy = y;
    for (int64_t i = 0; i < n; i++)
        yy[i] += aa[i] * bb[i];
}
