/* ops_products.c - matmul, linear and conv2d: the sgemm-backed ops. */
#include <limits.h>
#include <string.h>

#include "conv_dnn.h"
#include "ops_common.h"
#include "parallel.h"

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

const sl_op_def sl_op_matmul_row = {SL_OP_MATMUL, "matmul", matmul_backward, 0, SL_BWD_SKIPS_OUT};

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
    sl_ag_record(g, SL_OP_MATMUL, y, in, 2);
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

const sl_op_def sl_op_linear_row = {SL_OP_LINEAR, "linear", linear_backward, 0, SL_BWD_SKIPS_OUT};

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
    sl_ag_record(g, SL_OP_LINEAR, y, inputs, 3);
    return y;
}

/* ---- conv2d ------------------------------------------------------------- */

/* Geometry of one conv, in BLAS-sized ints. */
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

/*
 * Convolution runs over groups of G images: the group's columns sit side by
 * side in one matrix cols[ckk, G*ohw] (im2col with a row stride), so each
 * layer makes a few large sgemm calls instead of one small call per image.
 * G is set by a scratch budget (columns plus one output block per thread),
 * not by the thread count, so results do not depend on the threads; groups
 * run in parallel on slope's threads (parallel.h), each with its own scratch.
 *
 * Nothing image-sized is kept for backward: it recomputes the group's
 * columns (cheap next to the products) instead of holding N*ckk*ohw floats
 * in the arena, and reuses forward's scratch.  dW and db are summed per group
 * into separate partials, then added up in group order: deterministic.
 */
#define SL_CONV_SCRATCH_BYTES ((size_t)2 << 20)

typedef struct conv_job {
    conv_geom c;
    int G, groups;
    size_t scratch_floats; /* per thread: ckk*G*ohw columns + O*G*ohw outputs */
    float *scratch;
    const float *x, *w, *b, *dy;
    float *y, *dx, *partial; /* partial: groups x (O*ckk + O) */
    int want_dw, want_db;
} conv_job;

static int conv_group_size(const conv_geom *c)
{
    size_t per = (size_t)c->ohw * (size_t)(c->ckk + c->O) * sizeof(float);
    size_t g = SL_CONV_SCRATCH_BYTES / per;
    if (g < 1)
        g = 1;
    if (g > (size_t)c->N)
        g = (size_t)c->N;
    if (g * (size_t)c->ohw > INT_MAX)
        g = INT_MAX / (size_t)c->ohw;
    return (int)g;
}

static size_t conv_scratch_floats(const conv_geom *c, int G)
{
    return (size_t)(c->ckk + c->O) * (size_t)G * (size_t)c->ohw;
}

/* im2col of images n0 .. n0+g-1 into cols[ckk, g*ohw]. */
static void conv_columns(const conv_job *j, int n0, int g, float *cols)
{
    const conv_geom *c = &j->c;
    size_t img_in = (size_t)c->C * c->H * c->W;
    int64_t ld = (int64_t)g * c->ohw;
    for (int i = 0; i < g; i++)
        sl_k_im2col_ld(j->x + (size_t)(n0 + i) * img_in, c->C, c->H, c->W, c->kh, c->kw,
                       c->stride, c->pad, c->OH, c->OW, cols + (size_t)i * c->ohw, ld);
}

/* What one task of a conv job works on: images n0 .. n0+g-1 (ld = g*ohw columns), and its
 * thread's scratch: cols[ckk, ld], then block[O, ld] (outputs, or dy regrouped). */
typedef struct conv_task {
    int n0, g, ld;
    float *cols, *block;
} conv_task;

static conv_task conv_task_of(const conv_job *j, int64_t task, int thread)
{
    const conv_geom *c = &j->c;
    conv_task t;
    t.n0 = (int)task * j->G;
    t.g = c->N - t.n0 < j->G ? c->N - t.n0 : j->G;
    t.ld = t.g * c->ohw;
    t.cols = j->scratch + (size_t)thread * j->scratch_floats;
    t.block = t.cols + (size_t)c->ckk * j->G * c->ohw;
    return t;
}

static void conv_forward_group(void *ctx, int64_t task, int thread)
{
    const conv_job *j = ctx;
    const conv_geom *c = &j->c;
    conv_task t = conv_task_of(j, task, thread);
    int n0 = t.n0, g = t.g, ld = t.ld;
    float *cols = t.cols, *out = t.block;
    conv_columns(j, n0, g, cols);
    sl_k_sgemm(0, 0, c->O, ld, c->ckk, 1.0f, j->w, c->ckk, cols, ld, 0.0f, out, ld);
    /* out[O, g*ohw] -> y[g images][O][ohw], adding the bias on the way. */
    for (int i = 0; i < g; i++)
        for (int o = 0; o < c->O; o++) {
            const float *restrict src = out + (size_t)o * ld + (size_t)i * c->ohw;
            float *restrict dst = j->y + ((size_t)(n0 + i) * c->O + o) * c->ohw;
            const float bias = j->b ? j->b[o] : 0.0f;
            for (int p = 0; p < c->ohw; p++)
                dst[p] = src[p] + bias;
        }
}

static void conv_backward_group(void *ctx, int64_t task, int thread)
{
    const conv_job *j = ctx;
    const conv_geom *c = &j->c;
    conv_task t = conv_task_of(j, task, thread);
    int n0 = t.n0, g = t.g, ld = t.ld;
    float *cols = t.cols, *dyp = t.block;
    /* dy[g images][O][ohw] -> dyp[O, g*ohw] */
    for (int o = 0; o < c->O; o++)
        for (int i = 0; i < g; i++)
            memcpy(dyp + (size_t)o * ld + (size_t)i * c->ohw,
                   j->dy + ((size_t)(n0 + i) * c->O + o) * c->ohw, (size_t)c->ohw * sizeof(float));
    float *pw = j->partial + (size_t)task * ((size_t)c->O * c->ckk + c->O);
    if (j->want_dw) { /* dW_group[O, ckk] = dyp @ cols^T */
        conv_columns(j, n0, g, cols);
        sl_k_sgemm(0, 1, c->O, c->ckk, ld, 1.0f, dyp, ld, cols, ld, 0.0f, pw, c->ckk);
    }
    if (j->want_db) {
        float *pb = pw + (size_t)c->O * c->ckk;
        memset(pb, 0, (size_t)c->O * sizeof(float));
        sl_k_bias_grad_channels(dyp, pb, c->O, ld);
    }
    if (j->dx) { /* dcols = W^T @ dyp (into the columns' space), scattered into dx */
        sl_k_sgemm(1, 0, c->ckk, ld, c->O, 1.0f, j->w, c->ckk, dyp, ld, 0.0f, cols, ld);
        size_t img_in = (size_t)c->C * c->H * c->W;
        for (int i = 0; i < g; i++)
            sl_k_col2im_ld(cols + (size_t)i * c->ohw, c->C, c->H, c->W, c->kh, c->kw, c->stride,
                           c->pad, c->OH, c->OW, j->dx + (size_t)(n0 + i) * img_in, ld);
    }
}

/* What conv2d's backward needs from forward: the geometry the shapes do not give, the
 * group size and thread count forward ran with, and its arena buffers. */
typedef struct conv2d_state {
    int stride, pad;
    int group;    /* images per task (G) */
    int threads;  /* threads forward's scratch serves */
    float *scratch, *partial;
    const sl_dnn_conv_saved *dnn; /* set when forward ran on oneDNN (conv_dnn.h) */
} conv2d_state;

static conv2d_state *conv_state_of(const sl_node *n) { return n->state; }

static void conv2d_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *w = n->in[1], *b = n->in[2], *y = n->out;
    const conv2d_state *s = conv_state_of(n);
    if (s->dnn) {
        sl_dnn_conv_backward(s->dnn, x->data, w->data, y->grad,
                             sl_ag_wants_grad(n, 0) ? x->grad : NULL,
                             sl_ag_wants_grad(n, 1) ? w->grad : NULL,
                             b && sl_ag_wants_grad(n, 2) ? b->grad : NULL);
        return;
    }
    conv_job j;
    memset(&j, 0, sizeof j);
    j.c = geom_of(x, w, s->stride, s->pad);
    j.G = s->group;
    j.groups = (j.c.N + j.G - 1) / j.G;
    j.scratch_floats = conv_scratch_floats(&j.c, j.G);
    j.want_dw = sl_ag_wants_grad(n, 1);
    j.want_db = b && sl_ag_wants_grad(n, 2);
    j.x = x->data;
    j.w = w->data;
    j.dy = y->grad;
    j.dx = sl_ag_wants_grad(n, 0) ? x->grad : NULL;
    j.scratch = s->scratch; /* forward's scratch, for s->threads threads */
    j.partial = s->partial;
    int threads = sl_par_threads();
    if ((threads < j.groups ? threads : j.groups) <= s->threads)
        sl_par_run(j.groups, conv_backward_group, &j);
    else /* the thread count grew since forward: its scratch serves one thread */
        for (int k = 0; k < j.groups; k++)
            conv_backward_group(&j, k, 0);
    size_t per = (size_t)j.c.O * j.c.ckk + j.c.O;
    for (int k = 0; k < j.groups; k++) {
        const float *pw = j.partial + (size_t)k * per;
        if (j.want_dw)
            sl_k_axpy((int64_t)j.c.O * j.c.ckk, 1.0f, pw, w->grad);
        if (j.want_db)
            sl_k_axpy(j.c.O, 1.0f, pw + (size_t)j.c.O * j.c.ckk, b->grad);
    }
}

const sl_op_def sl_op_conv2d_row = {SL_OP_CONV2D, "conv2d", conv2d_backward,
                                    sizeof(conv2d_state), SL_BWD_SKIPS_OUT};

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
    /* Each padded side fits in 33 bits, so their product fits int64; a pad past INT_MAX / 2
     * makes a side larger than INT_MAX alone. */
    if (pad > INT_MAX / 2 ||
        (int64_t)w->shape[1] * w->shape[2] * w->shape[3] > INT_MAX ||
        (x->shape[2] + 2 * (int64_t)pad) * (x->shape[3] + 2 * (int64_t)pad) > INT_MAX)
        return "the column matrix would exceed INT_MAX rows or columns";
    return NULL;
}

static int wants(const sl_tensor *t) { return t && (t->flags & SL_TENSOR_REQUIRES_GRAD); }

/* The forward on oneDNN (conv_dnn.h): 1 done (node recorded), 0 not taken, -1 failed. */
static int conv2d_dnn(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b, sl_tensor *y,
                      int stride, int pad)
{
    const conv_geom c = geom_of(x, w, stride, pad);
    sl_dnn_conv_args a = {c.N, c.C, c.H, c.W, c.O, c.kh, c.kw, stride, pad, c.OH, c.OW,
                          x->data, w->data, b ? b->data : NULL, y->data,
                          wants(x), wants(w) || wants(b),
                          sl_graph_precision(g) == SL_PRECISION_BF16};
    /* sl_ag_record records a node exactly when this holds. */
    int records = sl_graph_grad_enabled(g) && (a.need_dx || a.need_dw);
    sl_dnn_conv_saved *saved = NULL;
    int done = sl_dnn_conv_forward(g, &a, records, &saved);
    if (done != 1)
        return done;
    sl_tensor *inputs[3] = {x, w, b};
    sl_node *n = sl_ag_record(g, SL_OP_CONV2D, y, inputs, 3);
    if (n)
        *conv_state_of(n) = (conv2d_state){stride, pad, 0, 0, NULL, NULL, saved};
    return 1;
}

/* The forward on im2col + sgemm, recording the node. */
static sl_tensor *conv2d_im2col(sl_graph *g, sl_tensor *x, sl_tensor *w, sl_tensor *b,
                                sl_tensor *y, int stride, int pad)
{
    conv_job j;
    memset(&j, 0, sizeof j);
    j.c = geom_of(x, w, stride, pad);
    j.G = conv_group_size(&j.c);
    j.groups = (j.c.N + j.G - 1) / j.G;
    j.scratch_floats = conv_scratch_floats(&j.c, j.G);
    int threads = sl_par_threads();
    if (threads > j.groups)
        threads = j.groups;
    j.scratch = sl_ag_alloc(g, j.scratch_floats * (size_t)threads * sizeof(float));
    if (!j.scratch)
        return NULL;
    j.x = x->data;
    j.w = w->data;
    j.b = b ? b->data : NULL;
    j.y = y->data;
    sl_par_run(j.groups, conv_forward_group, &j);
    sl_tensor *inputs[3] = {x, w, b};
    sl_node *n = sl_ag_record(g, SL_OP_CONV2D, y, inputs, 3);
    if (n) {
        float *partial = sl_ag_alloc(g, (size_t)j.groups * ((size_t)j.c.O * j.c.ckk + j.c.O) *
                                            sizeof(float));
        if (!partial)
            return NULL;
        *conv_state_of(n) = (conv2d_state){stride, pad, j.G, threads, j.scratch, partial, NULL};
    }
    return y;
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
    if (!y)
        return NULL;
    int done = conv2d_dnn(g, x, w, b, y, stride, pad);
    if (done < 0)
        return NULL;
    return done ? y : conv2d_im2col(g, x, w, b, y, stride, pad);
}
