/* ops_shape.c - reshape/flatten, add, mul and dropout. */
#include <string.h>

#include "ops_common.h"

/* ---- reshape: a view of the same data, gradient copied back ---------------- */

static void reshape_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_axpy(n->out->size, 1.0f, n->out->grad, n->in[0]->grad);
}

const sl_op_def sl_op_reshape_row = {SL_OP_RESHAPE, "reshape", reshape_backward, 0, 0};

sl_tensor *sl_reshape(sl_graph *g, sl_tensor *x, int ndim, const int64_t *shape)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!shape)
        return sl_ag_fail(g, SL_ERR_INVALID, "reshape: shape is NULL");
    sl_error err = {0};
    int64_t size;
    if (sl_shape_size(ndim, shape, &size, &err) != SL_OK)
        return sl_ag_fail(g, err.status, "reshape: %s", err.message);
    if (size != x->size) {
        char sx[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "reshape: %s has %lld elements, the new shape %lld",
                          SL_SHAPE(x, sx), (long long)x->size, (long long)size);
    }
    sl_tensor *y = sl_ag_view(g, ndim, shape, size, x->data); /* x (or the arena) owns the data */
    if (!y)
        return NULL;
    sl_ag_share(x); /* y reads x's data */
    sl_ag_record(g, SL_OP_RESHAPE, y, &x, 1);
    return y;
}

sl_tensor *sl_flatten(sl_graph *g, sl_tensor *x)
{
    if (sl_ops_skip(g, x))
        return NULL;
    int64_t shape[2] = {x->shape[0], x->size / x->shape[0]};
    return sl_reshape(g, x, 2, shape);
}

/* ---- add, mul ---------------------------------------------------------- */

static sl_tensor *binary_output(sl_graph *g, const char *name, sl_tensor *a, sl_tensor *b)
{
    if (!sl_tensor_same_shape(a, b)) {
        char sa[64], sb[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "%s: shapes %s and %s differ", name, SL_SHAPE(a, sa),
                          SL_SHAPE(b, sb));
    }
    return sl_ag_output(g, a->ndim, a->shape);
}

static void add_backward(sl_node *n)
{
    for (int k = 0; k < 2; k++)
        if (sl_ag_wants_grad(n, k))
            sl_k_axpy(n->out->size, 1.0f, n->out->grad, n->in[k]->grad);
}

const sl_op_def sl_op_add_row = {SL_OP_ADD, "add", add_backward, 0,
                                 SL_BWD_SKIPS_IN(0) | SL_BWD_SKIPS_IN(1) | SL_BWD_SKIPS_OUT};

sl_tensor *sl_add(sl_graph *g, sl_tensor *a, sl_tensor *b)
{
    if (sl_ops_skip(g, a) || !b)
        return NULL;
    sl_tensor *y = binary_output(g, "add", a, b);
    if (!y)
        return NULL;
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = a->data[i] + b->data[i];
    sl_tensor *in[2] = {a, b};
    sl_ag_record(g, SL_OP_ADD, y, in, 2);
    return y;
}

static void mul_backward(sl_node *n)
{
    sl_tensor *a = n->in[0], *b = n->in[1], *y = n->out;
    if (sl_ag_wants_grad(n, 0))
        sl_k_mul_acc(y->grad, b->data, a->grad, y->size);
    if (sl_ag_wants_grad(n, 1))
        sl_k_mul_acc(y->grad, a->data, b->grad, y->size);
}

const sl_op_def sl_op_mul_row = {SL_OP_MUL, "mul", mul_backward, 0, 0};

sl_tensor *sl_mul(sl_graph *g, sl_tensor *a, sl_tensor *b)
{
    if (sl_ops_skip(g, a) || !b)
        return NULL;
    sl_tensor *y = binary_output(g, "mul", a, b);
    if (!y)
        return NULL;
    for (int64_t i = 0; i < y->size; i++)
        y->data[i] = a->data[i] * b->data[i];
    sl_tensor *in[2] = {a, b};
    sl_ag_record(g, SL_OP_MUL, y, in, 2);
    return y;
}

/* ---- dropout: y = x * mask, mask in {0, 1/(1-p)} ------------------------------ */

/* The mask drawn in forward (arena memory). */
typedef struct dropout_state {
    const float *mask;
} dropout_state;

static dropout_state *dropout_state_of(const sl_node *n) { return n->state; }

static void dropout_backward(sl_node *n)
{
    if (sl_ag_wants_grad(n, 0))
        sl_k_mul_acc(n->out->grad, dropout_state_of(n)->mask, n->in[0]->grad, n->out->size);
}

const sl_op_def sl_op_dropout_row = {SL_OP_DROPOUT, "dropout", dropout_backward,
                                     sizeof(dropout_state), SL_BWD_SKIPS_IN(0) | SL_BWD_SKIPS_OUT};

sl_tensor *sl_dropout(sl_graph *g, sl_tensor *x, float p)
{
    if (sl_ops_skip(g, x))
        return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return sl_ag_fail(g, SL_ERR_INVALID, "dropout: p = %g is outside [0, 1)", (double)p);
    if (!sl_graph_training(g) || p == 0.0f)
        return x; /* identity: no copy, no node */
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    float *mask = y ? sl_ag_alloc(g, (size_t)x->size * sizeof(float)) : NULL;
    if (!mask)
        return NULL;
    sl_rng *rng = sl_graph_rng(g);
    float keep_scale = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < x->size; i++) {
        mask[i] = sl_rng_uniform(rng) < p ? 0.0f : keep_scale;
        y->data[i] = x->data[i] * mask[i];
    }
    sl_node *n = sl_ag_record(g, SL_OP_DROPOUT, y, &x, 1);
    if (n)
        dropout_state_of(n)->mask = mask;
    return y;
}
