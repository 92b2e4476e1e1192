/*
 * kernels.h - raw float loops: the arithmetic of every op, and nothing else.
 *
 * No allocation, no tensors, no errors: callers validate shapes first.  All
 * arrays are row-major and contiguous.  Every backward kernel ACCUMULATES
 * into its gradient outputs (dx += ...), which is what autograd needs.
 * Sizes are int64_t for element counts and int for dimensions that BLAS takes.
 * Layout of images: [N, C, H, W]; "inner" is H*W (1 for [N, F] features).
 */
#ifndef SLOPE_KERNELS_H
#define SLOPE_KERNELS_H

#include <stdint.h>

#include "kernels_act.h"

/* C[M, N] = alpha * op(A) @ op(B) + beta * C, row-major, via cblas_sgemm.
 * op(A) is [M, K]: A is [M, K] (lda >= K) or, if trans_a, [K, M] (lda >= M). */
void sl_k_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                const float *B, int ldb, float beta, float *C, int ldc);

/* y[n, j] += b[j] for n < N, j < F. */
void sl_k_add_bias_rows(float *y, const float *b, int64_t N, int64_t F);
/* db[j] += sum_n dy[n, j]. */
void sl_k_bias_grad_rows(const float *dy, float *db, int64_t N, int64_t F);
/* y[c, p] += b[c] for c < C, p < inner (one image of a conv output). */
void sl_k_add_bias_channels(float *y, const float *b, int64_t C, int64_t inner);
/* db[c] += sum_p dy[c, p]. */
void sl_k_bias_grad_channels(const float *dy, float *db, int64_t C, int64_t inner);

/* One image img[C, H, W] -> cols[C*kh*kw, OH*OW] (row (c, i, j), column (oy, ox));
 * padded positions are 0.  OH = (H + 2*pad - kh)/stride + 1, likewise OW. */
void sl_k_im2col(const float *img, int C, int H, int W, int kh, int kw, int stride, int pad,
                 int OH, int OW, float *cols);
/* The adjoint of im2col: img[C, H, W] += scatter of cols (padding dropped). */
void sl_k_col2im(const float *cols, int C, int H, int W, int kh, int kw, int stride, int pad,
                 int OH, int OW, float *img);
/* The same with row r of cols at cols + r * ldc (ldc >= OH*OW): the columns of several
 * images side by side in one matrix, for one sgemm over a group of images. */
void sl_k_im2col_ld(const float *img, int C, int H, int W, int kh, int kw, int stride, int pad,
                    int OH, int OW, float *cols, int64_t ldc);
void sl_k_col2im_ld(const float *cols, int C, int H, int W, int kh, int kw, int stride, int pad,
                    int OH, int OW, float *img, int64_t ldc);

/* ---- activations: y = f(x) overwrite; dx += dy * f'(.) ---- */
/* The pointwise ones (leaky_relu and relu, the per-element slopes of rrelu, elu and selu,
 * sigmoid, tanh, ...) are static inline in kernels_act.h (included above). */
/* x, y: [N, C, inner]; alpha has C entries, or 1 if nalpha == 1. */
void sl_k_prelu_fwd(const float *x, float *y, int64_t N, int64_t C, int64_t inner,
                    const float *alpha, int64_t nalpha);
/* dx += dy * (x > 0 ? 1 : alpha_c) (dx may be NULL); dalpha[c or 0] += sum over x <= 0 of x*dy
 * (dalpha may be NULL). */
void sl_k_prelu_bwd(const float *x, const float *dy, float *dx, float *dalpha, int64_t N,
                    int64_t C, int64_t inner, const float *alpha, int64_t nalpha);

/* ---- pooling: x[N*C planes of H, W] -> y[N*C planes of OH, OW] ---- */
/* argmax[i] = index within the input plane (h*W + w) of the max; padding is -inf;
 * ties keep the first in row-major window order.  A window wholly in padding
 * cannot occur for pad <= k/2 (callers ensure it).  argmax may be NULL (evaluation:
 * no backward), then only y is written. */
void sl_k_maxpool_fwd(const float *x, float *y, int32_t *argmax, int64_t planes, int H, int W,
                      int k, int stride, int pad, int OH, int OW);
void sl_k_maxpool_bwd(const float *dy, const int32_t *argmax, float *dx, int64_t planes, int H,
                      int W, int OH, int OW);
/* Average with zero padding counted in the divisor k*k. */
void sl_k_avgpool_fwd(const float *x, float *y, int64_t planes, int H, int W, int k, int stride,
                      int pad, int OH, int OW);
void sl_k_avgpool_bwd(const float *dy, float *dx, int64_t planes, int H, int W, int k, int stride,
                      int pad, int OH, int OW);

/* ---- losses ---- */
/* Stable log-softmax cross-entropy over logits[N, C]; labels in [0, C), against the smoothed
 * target q = (1 - eps) onehot(label) + eps / C (eps = 0: plain cross-entropy).
 * Writes probs[N, C] = softmax (for backward) and returns the MEAN loss (double accumulation). */
float sl_k_softmax_ce_fwd(const float *logits, const int32_t *labels, float *probs, int64_t N,
                          int64_t C, float eps);
/* dlogits += scale * (probs - q), q as above; scale = dloss / N by the caller. */
void sl_k_softmax_ce_bwd(const float *probs, const int32_t *labels, float *dlogits, int64_t N,
                         int64_t C, float eps, float scale);
/* Mean squared error over n elements (double accumulation). */
float sl_k_mse_fwd(const float *pred, const float *target, int64_t n);
/* dpred += scale * 2 * (pred - target), scale = dloss / n by the caller; dtarget likewise
 * negated if not NULL. */
void sl_k_mse_bwd(const float *pred, const float *target, float *dpred, float *dtarget, int64_t n,
                  float scale);

/* Mean over n of max(x, 0) - x y + log1p(exp(-|x|)) (double accumulation); y[i] is
 * target[i * target_step] (step 0: one target for all). */
float sl_k_bce_logits_fwd(const float *x, const float *target, int64_t target_step, int64_t n);
/* dx += scale * (sigmoid(x) - y); dtarget (may be NULL) += scale * -x per element, or its one
 * element += scale * -sum(x) when target_step is 0. */
void sl_k_bce_logits_bwd(const float *x, const float *target, int64_t target_step, float *dx,
                         float *dtarget, int64_t n, float scale);

/* ---- elementwise helpers ---- */
void sl_k_axpy(int64_t n, float a, const float *x, float *y); /* y += a*x */
void sl_k_mul_acc(const float *a, const float *b, float *y, int64_t n); /* y += a*b */

#endif
