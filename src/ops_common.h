/* ops_common.h - what the op families share: checks, and their op table rows. */
#ifndef SLOPE_OPS_COMMON_H
#define SLOPE_OPS_COMMON_H

#include "autograd.h"
#include "kernels.h"
#include "slope/ops.h"

/*
 * The rows of the op table (src/ops_table.c), one per sl_op_kind.  Each is
 * defined in its family file beside the op's forward, backward and state
 * struct, since its state_size needs the struct, which is private there.
 */
extern const sl_op_def sl_op_matmul_row, sl_op_linear_row, sl_op_conv2d_row; /* ops_products.c */
extern const sl_op_def sl_op_max_pool2d_row, sl_op_avg_pool2d_row;           /* ops_pool.c */
extern const sl_op_def sl_op_reshape_row, sl_op_add_row, sl_op_mul_row,
    sl_op_dropout_row;                                                       /* ops_shape.c */
extern const sl_op_def sl_op_batch_norm_row;                                 /* ops_norm.c */
extern const sl_op_def sl_op_leaky_relu_row, sl_op_leaky_relu_inplace_row, sl_op_prelu_row,
    sl_op_rrelu_row, sl_op_elu_row, sl_op_sigmoid_row, sl_op_tanh_row,
    sl_op_gelu_row;                                                          /* ops_activation.c */
extern const sl_op_def sl_op_cross_entropy_row, sl_op_mse_row;              /* ops_loss.c */

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
