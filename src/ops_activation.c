/*
 * ops_activation.c - the activations: relu, leaky_relu (and in place),
 * prelu, rrelu, elu, selu, sigmoid, tanh, gelu.  Semantics in slope/ops.h and
 * DESIGN.md: the leaky family's derivative at 0 (and -0) is the slope a.
 */
#include <math.h>

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

/* The in-place op's job: x overwritten, its pass bits (kernels_act.h) written or read. */
typedef struct leaky_pass_job {
    float *x;
    uint32_t *pass;
    float a;
} leaky_pass_job;

static void leaky_fwd_pass_range(void *ctx, int64_t b, int64_t e)
{
    const leaky_pass_job *j = ctx;
    sl_k_leaky_relu_fwd_pass(j->x + b, j->pass + b / SL_K_PASS_WORD, e - b, j->a);
}

static void leaky_bwd_pass_range(void *ctx, int64_t b, int64_t e)
{
    const leaky_pass_job *j = ctx;
    sl_k_leaky_relu_bwd_pass(j->pass + b / SL_K_PASS_WORD, j->x + b, e - b, j->a);
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

/* Ranges start at multiples of a pass word, so each writes or reads whole words. */
static void leaky_pass(sl_par_range_fn fn, float *x, uint32_t *pass, int64_t n, float a)
{
    leaky_pass_job j = {x, pass, a};
    sl_par_for(n, SL_PAR_ELEMWISE_MIN, SL_K_PASS_WORD, fn, &j);
}

/* The saved state of leaky_relu and leaky_relu_: the negative slope, and for the in-place
 * op the pass bits of its output (arena memory). */
typedef struct leaky_state {
    float alpha;
    uint32_t *pass;
} leaky_state;

static leaky_state *leaky_state_of(const sl_node *n) { return n->state; }

static void leaky_relu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        leaky_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size,
                  leaky_state_of(n)->alpha);
}

const sl_op_def sl_op_leaky_relu_row = {SL_OP_LEAKY_RELU, "leaky_relu", leaky_relu_backward,
                                        sizeof(leaky_state), SL_BWD_SKIPS_OUT};

sl_tensor *sl_leaky_relu(sl_graph *g, sl_tensor *x, float alpha)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!isfinite(alpha))
        return sl_ag_fail(g, SL_ERR_INVALID, "leaky_relu: alpha must be finite, got %g",
                          (double)alpha);
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    leaky_fwd(x->data, y->data, x->size, alpha);
    sl_node *n = sl_ag_record(g, SL_OP_LEAKY_RELU, y, &x, 1);
    if (n)
        leaky_state_of(n)->alpha = alpha;
    return y;
}

sl_tensor *sl_relu(sl_graph *g, sl_tensor *x)
{
    return sl_leaky_relu(g, x, 0.0f);
}

/* In place: out and in are one tensor, so backward turns dL/dy into dL/dx where it lies,
 * from the pass bits: it reads neither x nor y, and the gradient may lie over them. */
static void leaky_relu_inplace_backward(sl_node *n)
{
    const leaky_state *s = leaky_state_of(n);
    leaky_pass(leaky_bwd_pass_range, n->out->grad, s->pass, n->out->size, s->alpha);
}

const sl_op_def sl_op_leaky_relu_inplace_row = {SL_OP_LEAKY_RELU_INPLACE, "leaky_relu_",
                                                leaky_relu_inplace_backward, sizeof(leaky_state),
                                                SL_BWD_SKIPS_IN(0) | SL_BWD_SKIPS_OUT};

sl_tensor *sl_leaky_relu_(sl_graph *g, sl_tensor *x, float alpha)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!(alpha >= 0.0f) || !isfinite(alpha))
        return sl_ag_fail(g, SL_ERR_INVALID,
                          "leaky_relu_: in place needs a finite alpha >= 0 (got %g): backward reads the "
                          "sign of y",
                          (double)alpha);
    if (!(x->flags & SL_TENSOR_ARENA))
        return sl_ag_fail(g, SL_ERR_INVALID,
                          "leaky_relu_: in place works on a tensor made by an op this step, not "
                          "on a caller's tensor");
    if (!sl_graph_grad_enabled(g) || !(x->flags & SL_TENSOR_REQUIRES_GRAD)) {
        leaky_fwd(x->data, x->data, x->size, alpha);
        return x;
    }
    int64_t words = (x->size + SL_K_PASS_WORD - 1) / SL_K_PASS_WORD;
    uint32_t *pass = sl_ag_alloc(g, (size_t)words * sizeof *pass);
    if (!pass)
        return NULL;
    leaky_pass(leaky_fwd_pass_range, x->data, pass, x->size, alpha);
    sl_node *n = sl_ag_record(g, SL_OP_LEAKY_RELU_INPLACE, x, &x, 1);
    if (n) {
        leaky_state_of(n)->alpha = alpha;
        leaky_state_of(n)->pass = pass;
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

const sl_op_def sl_op_prelu_row = {SL_OP_PRELU, "prelu", prelu_backward, 0, 0};

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
    sl_ag_record(g, SL_OP_PRELU, y, in, 2);
    return y;
}

/* ---- rrelu: per-element slopes drawn in training ------------------------------- */

/* The slopes drawn in forward, one per element (arena memory). */
typedef struct rrelu_state {
    const float *slopes;
} rrelu_state;

static rrelu_state *rrelu_state_of(const sl_node *n) { return n->state; }

static void rrelu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_slope_bwd(n->in[0]->data, rrelu_state_of(n)->slopes, n->out->grad, n->in[0]->grad,
                       n->out->size);
}

const sl_op_def sl_op_rrelu_row = {SL_OP_RRELU, "rrelu", rrelu_backward, sizeof(rrelu_state), 0};

sl_tensor *sl_rrelu(sl_graph *g, sl_tensor *x, float lower, float upper)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!(lower >= 0.0f && lower <= upper) || !isfinite(upper))
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
    sl_node *n = sl_ag_record(g, SL_OP_RRELU, y, &x, 1);
    if (n)
        rrelu_state_of(n)->slopes = slopes;
    return y;
}

/* ---- elu, selu ------------------------------------------------------------- */

/* elu's constants: selu is elu with SL_SELU_ALPHA and a scale. */
typedef struct elu_state {
    float alpha, scale;
} elu_state;

static elu_state *elu_state_of(const sl_node *n) { return n->state; }

static void elu_backward(sl_node *n)
{
    const elu_state *s = elu_state_of(n);
    if (sl_ag_wants_grad(n, 0))
        sl_k_elu_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size, s->alpha,
                     s->scale);
}

const sl_op_def sl_op_elu_row = {SL_OP_ELU, "elu", elu_backward, sizeof(elu_state), 0};

static sl_tensor *scaled_elu(sl_graph *g, sl_tensor *x, float alpha, float scale)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!isfinite(alpha))
        return sl_ag_fail(g, SL_ERR_INVALID, "elu: alpha must be finite, got %g", (double)alpha);
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_elu_fwd(x->data, y->data, x->size, alpha, scale);
    sl_node *n = sl_ag_record(g, SL_OP_ELU, y, &x, 1);
    if (n)
        *elu_state_of(n) = (elu_state){alpha, scale};
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

const sl_op_def sl_op_sigmoid_row = {SL_OP_SIGMOID, "sigmoid", sigmoid_backward, 0, 0};
const sl_op_def sl_op_tanh_row = {SL_OP_TANH, "tanh", tanh_backward, 0, 0};

sl_tensor *sl_sigmoid(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_sigmoid_fwd(x->data, y->data, x->size);
    sl_ag_record(g, SL_OP_SIGMOID, y, &x, 1);
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
    sl_ag_record(g, SL_OP_TANH, y, &x, 1);
    return y;
}

/* ---- gelu: backward from x -------------------------------------------------- */

static void gelu_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_gelu_bwd(n->in[0]->data, n->out->grad, n->in[0]->grad, n->out->size);
}

const sl_op_def sl_op_gelu_row = {SL_OP_GELU, "gelu", gelu_backward, 0, 0};

sl_tensor *sl_gelu(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    if (!y)
        return NULL;
    sl_k_gelu_fwd(x->data, y->data, x->size);
    sl_ag_record(g, SL_OP_GELU, y, &x, 1);
    return y;
}
