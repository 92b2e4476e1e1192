/*
 * autograd.h - what ops need from the graph: arena memory, the tape, errors.
 *
 * An op's forward validates, takes its output from sl_ag_output, computes,
 * and, if sl_ag_record returns a node, fills the node's typed state (its own
 * struct, reached through node->state) with what backward needs.
 * Backward functions ACCUMULATE into in[k]->grad for each input k with
 * sl_ag_wants_grad(node, k); the walker has made those buffers already.
 */
#ifndef SLOPE_AUTOGRAD_H
#define SLOPE_AUTOGRAD_H

#include <stddef.h>

#include "slope/graph.h"

#define SL_NODE_MAX_INPUTS 5

typedef struct sl_node sl_node;

/*
 * Every op kind, one row each in the op table (src/ops_table.c).  Adding an
 * op: its enum value and its row's declaration here, the row itself beside
 * the op's forward, backward and state struct in its src/ops_*.c family file,
 * one line in the table.  The table's static assert and test_ops' loop over
 * every kind catch a missing piece.
 */
typedef enum sl_op_kind {
    SL_OP_MATMUL,
    SL_OP_LINEAR,
    SL_OP_CONV2D,
    SL_OP_MAX_POOL2D,
    SL_OP_AVG_POOL2D,
    SL_OP_RESHAPE,
    SL_OP_ADD,
    SL_OP_MUL,
    SL_OP_DROPOUT,
    SL_OP_BATCH_NORM,
    SL_OP_LEAKY_RELU,         /* relu is leaky_relu with alpha 0 */
    SL_OP_LEAKY_RELU_INPLACE, /* leaky_relu_ and relu_ */
    SL_OP_PRELU,
    SL_OP_RRELU,              /* training mode; evaluation records leaky_relu */
    SL_OP_ELU,                /* elu and selu (a scale) */
    SL_OP_SIGMOID,
    SL_OP_TANH,
    SL_OP_GELU,
    SL_OP_CROSS_ENTROPY,
    SL_OP_MSE,
    SL_OP_COUNT
} sl_op_kind;

/*
 * One row of the op table: what the tape needs to know about an op kind.
 * state_size is the size of the op's saved-state struct (0 for none): the
 * record call allocates that many zeroed arena bytes with the node, and the
 * op reaches them, typed, through node->state.
 */
typedef struct sl_op_def {
    sl_op_kind kind;
    const char *name;                /* for messages and tests */
    void (*backward)(sl_node *node);
    size_t state_size;
} sl_op_def;

/*
 * The rows, one per kind.  Each is defined in its family file, beside the
 * op, because its state_size needs the op's state struct, private there.
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

/* The row of kind, or NULL if kind is not an op kind (0 <= kind < SL_OP_COUNT). */
const sl_op_def *sl_op_def_of(int kind);
/* The name of kind, or "?" if kind is not an op kind. */
const char *sl_op_name(int kind);

struct sl_node {
    const sl_op_def *op;
    sl_node *prev;                         /* the node recorded before this one */
    sl_tensor *out;
    sl_tensor *in[SL_NODE_MAX_INPUTS];     /* unused entries are NULL */
    int n_in;
    void *state;                           /* op->state_size zeroed arena bytes, or NULL */
};

/* A new arena tensor, uninitialised data (forward kernels overwrite it). */
sl_tensor *sl_ag_output(sl_graph *g, int ndim, const int64_t *shape);
/* An arena tensor header over data (a valid shape of size elements; data not copied). */
sl_tensor *sl_ag_view(sl_graph *g, int ndim, const int64_t *shape, int64_t size, float *data);
/* Arena bytes; records SL_ERR_NOMEM in g and returns NULL on failure. */
void *sl_ag_alloc(sl_graph *g, size_t bytes);
/* Records an error in g (the first one wins) and returns NULL, for `return sl_ag_fail(...)`. */
void *sl_ag_fail(sl_graph *g, sl_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/*
 * Appends a node for the op of kind when recording is on and an input
 * requires a gradient, with its saved state (the row's state_size bytes,
 * zeroed) in node->state; marks out as requiring a gradient.  Returns NULL
 * when nothing is to be recorded, or on OOM (then sl_graph_status says so and
 * out is still valid).  kind must be an op kind.
 */
sl_node *sl_ag_record(sl_graph *g, sl_op_kind kind, sl_tensor *out, sl_tensor **in, int n_in);
/* The last node recorded this step (walk ->prev for earlier ones), or NULL: for tests. */
const sl_node *sl_ag_tape(const sl_graph *g);
/* Whether backward must produce a gradient for input k. */
int sl_ag_wants_grad(const sl_node *node, int k);
/* 1 if the graph has an error already (ops return NULL at once then). */
int sl_ag_failed(const sl_graph *g);

#endif
