/* ops_products.c - matmul, linear and conv2d: the sgemm-backed ops. */
#include <limits.h>
#include <string.h>

#include "ops_common.h"

/* BLAS takes int dimensions; a larger tensor is a shape error, not a wrap-around. */
static int fits_int(int64_t v) { return v >= 0 && v <= INT_MAX; }

/* ---- matmul --------------------------------------------------------------- */

static void matmul_backward(sl_node *n)
{
    sl_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    int M = (int)a->shape[0], K = (int)a->shape[1], N = (int)b->shape[1];
    if (sl_ag_wants_grad(n, 0)) /* da += dy @ b^T */
        sl_k_sgemm(0, 1, M, K, N, 1.0f, y->grad, N, b->data, N, 1.0f, a->grad, K);
    if (sl_ag_wants_grad(n, 1)) /* db += a^T @ dy */
        sl_k_sgemm(1, 0, K, N, M, 1.0f, a->data, K, y->grad, N, 1.0f, b->grad, N);
}

static const sl_op_def op_matmul = {"matmul", matmul_backward};

sl_tensor *sl_matmul(sl_graph *g, sl_tensor *a, sl_tensor *b)
{
    if (sl_ops_skip(g, a) || !b)
        return NULL;
    char sa[64], sb[64];
    if (a->ndim != 2 || b->ndim != 2 || a->shape[1] != b->shape[0])
        return sl_ag_fail(g, SL_ERR_SHAPE, "matmul: shapes %s and %s do not multiply",
                          SL_SHAPE(a, sa), SL_SHAPE(b, sb));
    if (!fits_int(a->shape[0]) || !fits_int(a->shape[1]) || !fits_int(b->shape[1]))
        return sl_ag_fail(g, SL_ERR_SHAPE, "matmul: a dimension exceeds INT_MAX");
    int M = (int)a->shape[0], K = (int)a->shape[1], N = (int)b->shape[1];
    int64_t shape[2] = {M, N};
    sl_tensor *y = sl_ag_output(g, 2, shape);
    if (!y)
        return NULL;
    sl_k_sgemm(0, 0, M, N, K, 1.0f, a->data, K, b->data, N, 0.0f, y->data, N);
    sl_tensor *in[2] = {a, b};
    sl_ag_record(g, &op_matmul, y, in, 2);
    return y;
}

/* ---- linear ------------------------------------------------------------- */

static void linear_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    int N = (int)x->shape[0], in = (int)x->shape[1], out = (int)w->shape[0];
    if (sl_ag_wants_grad(n, 0)) /* dx += dy @ W */
        sl_k_sgemm(0, 0, N, in, out, 1.0f, y->grad, out, w->data, in, 1.0f, x->grad, in);
    if (sl_ag_wants_grad(n, 1)) /* dW += dy^T @ x */
        sl_k_sgemm(1, 0, out, in, N, 1.0f, y->grad, out, x->data, in, 1.0f, w->grad, in);
    if (b && sl_ag_wants_grad(n, 2))
        sl_k_bias_grad_rows(y->grad, b->grad, N, out);
}

static const sl_op_def op_linear = {"linear", linear_backward};

sl_tensor *sl_linear(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b)
{
    if (sl_ops_skip(g, x) || !w)
        return NULL;
    char sx[64], sw[64], sb[64];
    if (x->ndim != 2 || w->ndim != 2 || x->shape[1] != w->shape[1])
        return sl_ag_fail(g, SL_ERR_SHAPE,
                          "linear: input %s does not fit weight %s (expected [N, %lld])",
                          SL_SHAPE(x, sx), SL_SHAPE(w, sw), (long long)w->shape[1]);
    if (b && (b->size != w->shape[0]))
        return sl_ag_fail(g, SL_ERR_SHAPE, "linear: bias %s does not match %lld outputs",
                          SL_SHAPE(b, sb), (long long)w->shape[0]);
    if (!fits_int(x->shape[0]) || !fits_int(x->shape[1]) || !fits_int(w->shape[0]))
        return sl_ag_fail(g, SL_ERR_SHAPE, "linear: a dimension exceeds INT_MAX");
    int N = (int)x->shape[0], in = (int)x->shape[1], out = (int)w->shape[0];
    int64_t shape[2] = {N, out};
    sl_tensor *y = sl_ag_output(g, 2, shape);
    if (!y)
        return NULL;
    /* The bias is fused: rows start as b and sgemm adds x W^T on top (beta = 1). */
    float beta = 0.0f;
    if (b) {
        for (int r = 0; r < N; r++)
            memcpy(y->data + (size_t)r * out, b->data, (size_t)out * sizeof(float));
        beta = 1.0f;
    }
    sl_k_sgemm(0, 1, N, out, in, 1.0f, x->data, in, w->data, in, beta, y->data, out);
    sl_tensor *inputs[3] = {x, w, b};
    sl_ag_record(g, &op_linear, y, inputs, 3);
    return y;
}

/* ---- conv2d ------------------------------------------------------------- */

/* Geometry of one conv, in BLAS-sized ints. i[]: C H W O kh kw stride pad; f unused. */
typedef struct conv_geom {
    int N, C, H, W, O, kh, kw, stride, pad, OH, OW;
    int ckk;  /* rows of the column matrix: C*kh*kw */
    int ohw;  /* columns: OH*OW */
} conv_geom;

static conv_geom geom_of(const sl_tensor *x, const sl_tensor *w, int stride, int pad)
{
    conv_geom c;
    c.N = (int)x->shape[0];
    c.C = (int)x->shape[1];
    c.H = (int)x->shape[2];
    c.W = (int)x->shape[3];
    c.O = (int)w->shape[0];
    c.kh = (int)w->shape[2];
    c.kw = (int)w->shape[3];
    c.stride = stride;
    c.pad = pad;
    c.OH = (c.H + 2 * pad - c.kh) / stride + 1;
    c.OW = (c.W + 2 * pad - c.kw) / stride + 1;
    c.ckk = c.C * c.kh * c.kw;
    c.ohw = c.OH * c.OW;
    return c;
}

static void conv2d_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    conv_geom c = geom_of(x, w, n->i[0], n->i[1]);
    const float *cols = n->saved;  /* every image's columns, from forward */
    float *dcols = n->saved2;      /* one image's worth of scratch */
    size_t img_in = (size_t)c.C * c.H * c.W, img_out = (size_t)c.O * c.ohw;
    size_t img_cols = (size_t)c.ckk * c.ohw;
    for (int i = 0; i < c.N; i++) {
        const float *dy = y->grad + i * img_out;
        if (sl_ag_wants_grad(n, 1)) /* dW[O, ckk] += dy[O, ohw] @ cols^T */
            sl_k_sgemm(0, 1, c.O, c.ckk, c.ohw, 1.0f, dy, c.ohw, cols + i * img_cols, c.ohw,
                       1.0f, w->grad, c.ckk);
        if (b && sl_ag_wants_grad(n, 2))
            sl_k_bias_grad_channels(dy, b->grad, c.O, c.ohw);
        if (sl_ag_wants_grad(n, 0)) { /* dcols = W^T @ dy, scattered back into dx */
            sl_k_sgemm(1, 0, c.ckk, c.ohw, c.O, 1.0f, w->data, c.ckk, dy, c.ohw, 0.0f, dcols,
                       c.ohw);
            sl_k_col2im(dcols, c.C, c.H, c.W, c.kh, c.kw, c.stride, c.pad, c.OH, c.OW,
                        x->grad + i * img_in);
        }
    }
}

static const sl_op_def op_conv2d = {"conv2d", conv2d_backward};

static const char *conv_shape_problem(const sl_tensor *x, const sl_tensor *w, const sl_tensor *b,
                                      int stride, int pad)
{
    if (x->ndim != 4)
        return "input must be [N, C, H, W]";
    if (w->ndim != 4)
        return "weight must be [O, C, kh, kw]";
    if (w->shape[1] != x->shape[1])
        return "weight's input channels differ from the input's";
    if (b && b->size != w->shape[0])
        return "bias size differs from the output channels";
    if (stride < 1 || pad < 0)
        return "stride must be >= 1 and padding >= 0";
    for (int d = 0; d < 4; d++)
        if (!fits_int(x->shape[d]) || !fits_int(w->shape[d]))
            return "a dimension exceeds INT_MAX";
    if (x->shape[2] + 2 * (int64_t)pad < w->shape[2] || x->shape[3] + 2 * (int64_t)pad < w->shape[3])
        return "the kernel is larger than the padded input";
    if ((int64_t)w->shape[1] * w->shape[2] * w->shape[3] > INT_MAX ||
        (x->shape[2] + 2 * (int64_t)pad) * (x->shape[3] + 2 * (int64_t)pad) > INT_MAX)
        return "the column matrix would exceed INT_MAX rows or columns";
    return NULL;
}

sl_tensor *sl_conv2d(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b, int stride, int pad)
{
    if (sl_ops_skip(g, x) || !w)
        return NULL;
    const char *problem = conv_shape_problem(x, w, b, stride, pad);
    if (problem) {
        char sx[64], sw[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "conv2d: input %s, weight %s, stride %d, pad %d: %s",
                          SL_SHAPE(x, sx), SL_SHAPE(w, sw), stride, pad, problem);
    }
    conv_geom c = geom_of(x, w, stride, pad);
    int64_t shape[4] = {c.N, c.O, c.OH, c.OW};
    sl_tensor *y = sl_ag_output(g, 4, shape);
    size_t img_cols = (size_t)c.ckk * c.ohw;
    float *cols = y ? sl_ag_alloc(g, (size_t)c.N * img_cols * sizeof(float)) : NULL;
    if (!cols)
        return NULL;
    size_t img_in = (size_t)c.C * c.H * c.W, img_out = (size_t)c.O * c.ohw;
    for (int i = 0; i < c.N; i++) {
        float *ci = cols + i * img_cols, *yi = y->data + i * img_out;
        sl_k_im2col(x->data + i * img_in, c.C, c.H, c.W, c.kh, c.kw, stride, pad, c.OH, c.OW, ci);
        float beta = 0.0f;
        if (b) { /* fused bias: start from b, let sgemm accumulate */
            for (int o = 0; o < c.O; o++)
                for (int p = 0; p < c.ohw; p++)
                    yi[(size_t)o * c.ohw + p] = b->data[o];
            beta = 1.0f;
        }
        sl_k_sgemm(0, 0, c.O, c.ohw, c.ckk, 1.0f, w->data, c.ckk, ci, c.ohw, beta, yi, c.ohw);
    }
    sl_tensor *inputs[3] = {x, w, b};
    sl_node *n = sl_ag_record(g, &op_conv2d, y, inputs, 3);
    if (n) {
        n->saved = cols;
        n->i[0] = stride;
        n->i[1] = pad;
        if (x->flags & SL_TENSOR_REQUIRES_GRAD) {
            n->saved2 = sl_ag_alloc(g, img_cols * sizeof(float));
            if (!n->saved2)
                return NULL;
        }
    }
    return y;
}
