/* ops_common.h - checks shared by the op families. */
#ifndef SLOPE_OPS_COMMON_H
#define SLOPE_OPS_COMMON_H

#include "autograd.h"
#include "kernels.h"
#include "slope/ops.h"

/* An op given NULL (a failed earlier op) or called on a failed graph returns NULL at once. */
static inline int sl_ops_skip(sl_graph *g, const sl_tensor *x)
{
    return !g || !x || sl_ag_failed(g);
}

/* Formats a shape for messages into a caller buffer of at least 64 bytes. */
#define SL_SHAPE(t, buf) sl_shape_str((t), (buf), sizeof(buf))

/* Elements per channel beyond dims 0 and 1 ("inner" of [N, C, ...]). */
static inline int64_t sl_ops_inner(const sl_tensor *x)
{
    int64_t inner = 1;
    for (int d = 2; d < x->ndim; d++)
        inner *= x->shape[d];
    return inner;
}

#endif
