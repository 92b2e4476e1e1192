/*
 * ops_activation.c - the activations: relu, leaky_relu (and in place),
 * prelu, rrelu, elu, selu, sigmoid, tanh, gelu.  Semantics in slope/ops.h and
 * DESIGN.md: the leaky family's derivative at 0 (and -0) is the slope a.
 */
#include "ops_common.h"
#include "parallel.h"

/* ---- leaky_relu / relu ------------------------------------------------------- */

/* Large tensors are processed in ranges on slope's threads (parallel.h). */
#define SL_PAR_ELEMWISE_MIN ((int64_t)1 << 16)

typedef struct leaky_job {
    const float *x, *dy;
    float *y;
    float a;
} leaky_job;

static void leaky_fwd_range(void *ctx, int64_t b, int64_t e)
{
    const leaky_job *j = ctx;
    sl_k_leaky_relu_fwd(j->x + b, j->y + b, e - b, j->a);
}

static void leaky_bwd_range(void *ctx, int64_t b, int64_t e)
{
    const leaky_job *j = ctx;
    sl_k_leaky_relu_bwd(j->x + b, j->dy + b, j->y + b, e - b, j->a);
}

static void leaky_bwd_inplace_range(void *ctx, int64_t b, int64_t e)
{
    const leaky_job *j = ctx;
    sl_k_leaky_relu_bwd_inplace(j->x + b, j->y + b, e - b, j->a);
}

/* y = leaky_relu(x) (y may be x); dx += dy * f'(v); g *= f'(y) in place. */
static void leaky_fwd(const float *x, float *y, int64_t n, float a)
{
    leaky_job j = {x, NULL, y, a};
    sl_par_for(n, SL_PAR_ELEMWISE_MIN, 16, leaky_fwd_range, &j);
}

static void leaky_bwd(const float *v, const float *dy, float *dx, int64_t n, float a)
{
    leaky_job j = {v, dy, dx, a};
    sl_par_for(n, SL_PAR_ELEMWISE_MIN, 16, leaky_bwd_range, &j);
}

static void leaky_bwd_inplace(const float *y, float *g, int64_t n, float a)
{
    leaky_job j = {y, NULL, g, a};
    sl_par_for(n, SL_PAR_ELEMWISE_MIN, 16, leaky_bwd_inplace_range, &j);
}

static void leaky_relu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        leaky_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size, n->f[0]);
}

static const sl_op_def op_leaky_relu = {"leaky_relu", leaky_relu_backward};

sl_tensor *sl_leaky_relu(sl_graph *g, sl_tensor *x, float alpha)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    leaky_fwd(x->data, y->data, x->size, alpha);
    sl_node *n = sl_ag_record(g, &op_leaky_relu, y, &x, 1);
    if (n)
        n->f[0] = alpha;
    return y;
}

sl_tensor *sl_relu(sl_graph *g, sl_tensor *x)
{
    return sl_leaky_relu(g, x, 0.0f);
}

/* In place: out and in are one tensor, so backward turns dL/dy into dL/dx where it lies. */
static void leaky_relu_inplace_backward(sl_node *n)
{
    leaky_bwd_inplace(n->out->data, n->out->grad, n->out->size, n->f[0]);
}

static const sl_op_def op_leaky_relu_inplace = {"leaky_relu_", leaky_relu_inplace_backward};

sl_tensor *sl_leaky_relu_(sl_graph *g, sl_tensor *x, float alpha)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!(alpha >= 0.0f))
        return sl_ag_fail(g, SL_ERR_INVALID,
                          "leaky_relu_: in place needs alpha >= 0 (got %g): backward reads the "
                          "sign of y",
                          (double)alpha);
    if (!(x->flags & SL_TENSOR_ARENA))
        return sl_ag_fail(g, SL_ERR_INVALID,
                          "leaky_relu_: in place works on a tensor made by an op this step, not "
                          "on a caller's tensor");
    leaky_fwd(x->data, x->data, x->size, alpha);
    if (x->flags & SL_TENSOR_REQUIRES_GRAD) {
        sl_node *n = sl_ag_record(g, &op_leaky_relu_inplace, x, &x, 1);
        if (n)
            n->f[0] = alpha;
    }
    return x;
}

sl_tensor *sl_relu_(sl_graph *g, sl_tensor *x)
{
    return sl_leaky_relu_(g, x, 0.0f);
}

/* ---- prelu ------------------------------------------------------------------ */

static void prelu_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *alpha = n->in[1], *y = n->out;
    int64_t N = x->shape[0], C = x->shape[1];
    sl_k_prelu_bwd(x->data, y->grad, sl_ag_wants_grad(n, 0) ? x->grad : NULL,
                   sl_ag_wants_grad(n, 1) ? alpha->grad : NULL, N, C, x->size / (N * C),
                   alpha->data, alpha->size);
}

static const sl_op_def op_prelu = {"prelu", prelu_backward};

sl_tensor *sl_prelu(sl_graph *g, sl_tensor *x, sl_tensor *alpha)
{
    if (sl_ops_skip(g, x) || !alpha)
        return NULL;
    if (x->ndim < 2 || (alpha->size != 1 && alpha->size != x->shape[1])) {
        char sx[64], sa[64];
        return sl_ag_fail(g, SL_ERR_SHAPE,
                          "prelu: input %s needs 1 slope or one per channel (%lld), got %s",
                          SL_SHAPE(x, sx), (long long)(x->ndim >= 2 ? x->shape[1] : 0),
                          SL_SHAPE(alpha, sa));
    }
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    int64_t N = x->shape[0], C = x->shape[1];
    sl_k_prelu_fwd(x->data, y->data, N, C, x->size / (N * C), alpha->data, alpha->size);
    sl_tensor *in[2] = {x, alpha};
    sl_ag_record(g, &op_prelu, y, in, 2);
    return y;
}

/* ---- rrelu: per-element slopes drawn in training ------------------------------- */

static void rrelu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_slope_bwd(n->in[0]->data, n->saved, n->out->grad, n->in[0]->grad, n->out->size);
}

static const sl_op_def op_rrelu = {"rrelu", rrelu_backward};

sl_tensor *sl_rrelu(sl_graph *g, sl_tensor *x, float lower, float upper)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!(lower >= 0.0f && lower <= upper))
        return sl_ag_fail(g, SL_ERR_INVALID, "rrelu: need 0 <= lower <= upper, got [%g, %g]",
                          (double)lower, (double)upper);
    if (!sl_graph_training(g))
        return sl_leaky_relu(g, x, 0.5f * (lower + upper));
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    float *slopes = y ? sl_ag_alloc(g, (size_t)x->size * sizeof(float)) : NULL;
    if (!slopes)
        return NULL;
    sl_rng *rng = sl_graph_rng(g);
    for (int64_t i = 0; i < x->size; i++)
        slopes[i] = lower + (upper - lower) * sl_rng_uniform(rng);
    sl_k_slope_fwd(x->data, slopes, y->data, x->size);
    sl_node *n = sl_ag_record(g, &op_rrelu, y, &x, 1);
    if (n)
        n->saved = slopes;
    return y;
}

/* ---- elu, selu ------------------------------------------------------------- */

static void elu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_elu_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size, n->f[0],
                     n->f[1]);
}

static const sl_op_def op_elu = {"elu", elu_backward};

static sl_tensor *scaled_elu(sl_graph *g, sl_tensor *x, float alpha, float scale)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_elu_fwd(x->data, y->data, x->size, alpha, scale);
    sl_node *n = sl_ag_record(g, &op_elu, y, &x, 1);
    if (n) {
        n->f[0] = alpha;
        n->f[1] = scale;
    }
    return y;
}

sl_tensor *sl_elu(sl_graph *g, sl_tensor *x, float alpha)
{
    return scaled_elu(g, x, alpha, 1.0f);
}

sl_tensor *sl_selu(sl_graph *g, sl_tensor *x)
{
    return scaled_elu(g, x, SL_SELU_ALPHA, SL_SELU_SCALE);
}

/* ---- sigmoid, tanh: backward from y ------------------------------------------ */

static void sigmoid_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_sigmoid_bwd(n->out->data, n->out->grad, n->in[0]->grad, n->out->size);
}

static void tanh_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_tanh_bwd(n->out->data, n->out->grad, n->in[0]->grad, n->out->size);
}

static const sl_op_def op_sigmoid = {"sigmoid", sigmoid_backward};
static const sl_op_def op_tanh = {"tanh", tanh_backward};

sl_tensor *sl_sigmoid(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_sigmoid_fwd(x->data, y->data, x->size);
    sl_ag_record(g, &op_sigmoid, y, &x, 1);
    return y;
}

sl_tensor *sl_tanh(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_tanh_fwd(x->data, y->data, x->size);
    sl_ag_record(g, &op_tanh, y, &x, 1);
    return y;
}

/* ---- gelu: backward from x -------------------------------------------------- */

static void gelu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_gelu_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size);
}

static const sl_op_def op_gelu = {"gelu", gelu_backward};

sl_tensor *sl_gelu(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_gelu_fwd(x->data, y->data, x->size);
    sl_ag_record(g, &op_gelu, y, &x, 1);
    return y;
}
