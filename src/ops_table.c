/*
 * ops_table.c - the op table: one row per sl_op_kind, in enum order.
 *
 * The rows live beside their ops (ops_*.c); this file only ties them to the
 * enum.  The static assert catches a kind added to the enum without a row at
 * the end; sl_op_def_of's check of row->kind, and tests/test_ops.c, which
 * runs every kind, catch a row out of place or missing in the middle.
 */
#include "autograd.h"

static const sl_op_def *const op_table[] = {
    [SL_OP_MATMUL] = &sl_op_matmul_row,
    [SL_OP_LINEAR] = &sl_op_linear_row,
    [SL_OP_CONV2D] = &sl_op_conv2d_row,
    [SL_OP_MAX_POOL2D] = &sl_op_max_pool2d_row,
    [SL_OP_AVG_POOL2D] = &sl_op_avg_pool2d_row,
    [SL_OP_RESHAPE] = &sl_op_reshape_row,
    [SL_OP_ADD] = &sl_op_add_row,
    [SL_OP_MUL] = &sl_op_mul_row,
    [SL_OP_DROPOUT] = &sl_op_dropout_row,
    [SL_OP_BATCH_NORM] = &sl_op_batch_norm_row,
    [SL_OP_LEAKY_RELU] = &sl_op_leaky_relu_row,
    [SL_OP_LEAKY_RELU_INPLACE] = &sl_op_leaky_relu_inplace_row,
    [SL_OP_PRELU] = &sl_op_prelu_row,
    [SL_OP_RRELU] = &sl_op_rrelu_row,
    [SL_OP_ELU] = &sl_op_elu_row,
    [SL_OP_SIGMOID] = &sl_op_sigmoid_row,
    [SL_OP_TANH] = &sl_op_tanh_row,
    [SL_OP_GELU] = &sl_op_gelu_row,
    [SL_OP_CROSS_ENTROPY] = &sl_op_cross_entropy_row,
    [SL_OP_MSE] = &sl_op_mse_row,
};

_Static_assert(sizeof op_table / sizeof op_table[0] == SL_OP_COUNT,
               "every sl_op_kind needs a row in op_table");

const sl_op_def *sl_op_def_of(int kind)
{
    if (kind < 0 || kind >= SL_OP_COUNT)
        return NULL;
    const sl_op_def *row = op_table[kind];
    return row && (int)row->kind == kind ? row : NULL;
}

const char *sl_op_name(int kind)
{
    const sl_op_def *row = sl_op_def_of(kind);
    return row ? row->name : "?";
}
