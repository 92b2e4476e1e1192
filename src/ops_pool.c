/* ops_pool.c - max and average pooling over [N, C, H, W]. */
#include <limits.h>

#include "ops_common.h"
#include "parallel.h"

typedef struct pool_geom {
    int64_t planes;
    int H, W, OH, OW;
} pool_geom;

/* Validates and fills geometry; returns a reason string on failure. */
static const char *pool_check(const sl_tensor *x, int k, int stride, int pad, pool_geom *p)
{
    if (x->ndim != 4)
        return "input must be [N, C, H, W]";
    if (k < 1 || stride < 1 || pad < 0)
        return "kernel and stride must be >= 1, padding >= 0";
    if (pad > k / 2)
        return "padding must be at most half the kernel size";
    if (x->shape[2] > INT_MAX / 2 || x->shape[3] > INT_MAX / 2)
        return "the image is too large";
    /* In int64: pad can be near INT_MAX / 2.  A padding wider than the image would make
     * windows of mostly padding (a 2^30 kernel with pad 2^29 on a 4x4 image). */
    if (pad >= x->shape[2] || pad >= x->shape[3])
        return "padding must be smaller than the input";
    if (x->shape[2] + 2 * (int64_t)pad < k || x->shape[3] + 2 * (int64_t)pad < k)
        return "the kernel is larger than the padded input";
    p->planes = x->shape[0] * x->shape[1];
    p->H = (int)x->shape[2];
    p->W = (int)x->shape[3];
    p->OH = (int)(((int64_t)p->H + 2 * (int64_t)pad - k) / stride + 1);
    p->OW = (int)(((int64_t)p->W + 2 * (int64_t)pad - k) / stride + 1);
    return NULL;
}

static sl_tensor *pool_output(sl_graph *g, const char *name, sl_tensor *x, int k, int stride,
                              int pad, pool_geom *p)
{
    const char *problem = pool_check(x, k, stride, pad, p);
    if (problem) {
        char sx[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "%s: input %s, kernel %d, stride %d, pad %d: %s", name,
                          SL_SHAPE(x, sx), k, stride, pad, problem);
    }
    int64_t shape[4] = {x->shape[0], x->shape[1], p->OH, p->OW};
    return sl_ag_output(g, 4, shape);
}

/* Pooling runs over ranges of planes on slope's threads (parallel.h). */
typedef struct pool_job {
    const float *x;
    float *y;
    int32_t *argmax;
    pool_geom p;
    int k, stride, pad;
} pool_job;

static void maxpool_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const pool_geom *p = &j->p;
    int64_t in = (int64_t)p->H * p->W, out = (int64_t)p->OH * p->OW;
    sl_k_maxpool_fwd(j->x + begin * in, j->y + begin * out, j->argmax ? j->argmax + begin * out : NULL,
                     end - begin, p->H, p->W, j->k, j->stride, j->pad, p->OH, p->OW);
}

/* Backward over ranges of planes: x is dy, y is dx here. */
static void maxpool_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const pool_geom *p = &j->p;
    int64_t in = (int64_t)p->H * p->W, out = (int64_t)p->OH * p->OW;
    sl_k_maxpool_bwd(j->x + begin * out, j->argmax + begin * out, j->y + begin * in, end - begin,
                     p->H, p->W, p->OH, p->OW);
}

/* max_pool2d keeps the arg-max of every window (arena memory); the geometry is in the shapes. */
typedef struct maxpool_state {
    int32_t *argmax;
} maxpool_state;

static maxpool_state *maxpool_state_of(const sl_node *n) { return n->state; }

static void maxpool_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *y = n->out;
    if (!sl_ag_wants_grad(n, 0))
        return;
    pool_job j = {y->grad, x->grad, maxpool_state_of(n)->argmax, {x->shape[0] * x->shape[1], (int)x->shape[2],
                                               (int)x->shape[3], (int)y->shape[2],
                                               (int)y->shape[3]}, 0, 0, 0};
    sl_par_for(j.p.planes, 16, 1, maxpool_bwd_range, &j);
}

const sl_op_def sl_op_max_pool2d_row = {SL_OP_MAX_POOL2D, "max_pool2d", maxpool_backward,
                                        sizeof(maxpool_state),
                                        SL_BWD_SKIPS_IN(0) | SL_BWD_SKIPS_OUT};

sl_tensor *sl_max_pool2d(sl_graph *g, sl_tensor *x, int k, int stride, int pad)
{
    if (sl_ops_skip(g, x))
        return NULL;
    pool_geom p;
    sl_tensor *y = pool_output(g, "max_pool2d", x, k, stride, pad, &p);
    if (!y)
        return NULL;
    /* The arg-max indices are for backward: none when nothing will be recorded. */
    int32_t *argmax = NULL;
    if (sl_graph_grad_enabled(g) && (x->flags & SL_TENSOR_REQUIRES_GRAD)) {
        argmax = sl_ag_alloc(g, (size_t)y->size * sizeof(int32_t));
        if (!argmax)
            return NULL;
    }
    pool_job j = {x->data, y->data, argmax, p, k, stride, pad};
    sl_par_for(p.planes, 16, 1, maxpool_range, &j);
    sl_node *n = sl_ag_record(g, SL_OP_MAX_POOL2D, y, &x, 1);
    if (n)
        maxpool_state_of(n)->argmax = argmax;
    return y;
}

/* avg_pool2d's window: the output shape alone does not determine it. */
typedef struct avgpool_state {
    int k, stride, pad;
} avgpool_state;

static avgpool_state *avgpool_state_of(const sl_node *n) { return n->state; }

static void avgpool_backward(sl_node *n)
{
    sl_tensor *x = n->in[0], *y = n->out;
    const avgpool_state *s = avgpool_state_of(n);
    if (sl_ag_wants_grad(n, 0))
        sl_k_avgpool_bwd(y->grad, x->grad, x->shape[0] * x->shape[1], (int)x->shape[2],
                         (int)x->shape[3], s->k, s->stride, s->pad, (int)y->shape[2],
                         (int)y->shape[3]);
}

const sl_op_def sl_op_avg_pool2d_row = {SL_OP_AVG_POOL2D, "avg_pool2d", avgpool_backward,
                                        sizeof(avgpool_state),
                                        SL_BWD_SKIPS_IN(0) | SL_BWD_SKIPS_OUT};

sl_tensor *sl_avg_pool2d(sl_graph *g, sl_tensor *x, int k, int stride, int pad)
{
    if (sl_ops_skip(g, x))
        return NULL;
    pool_geom p;
    sl_tensor *y = pool_output(g, "avg_pool2d", x, k, stride, pad, &p);
    if (!y)
        return NULL;
    sl_k_avgpool_fwd(x->data, y->data, p.planes, p.H, p.W, k, stride, pad, p.OH, p.OW);
    sl_node *n = sl_ag_record(g, SL_OP_AVG_POOL2D, y, &x, 1);
    if (n)
        *avgpool_state_of(n) = (avgpool_state){k, stride, pad};
    return y;
}
