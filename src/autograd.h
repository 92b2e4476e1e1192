/*
 * autograd.h - what ops need from the graph: arena memory, the tape, errors.
 *
 * An op's forward validates, takes its output from sl_ag_output, computes,
 * and, if sl_ag_record returns a node, fills the node's typed state (its own
 * struct, reached through node->state) with what backward needs.
 * Backward functions ACCUMULATE into in[k]->grad for each input k with
 * sl_ag_wants_grad(node, k); the walker has made those buffers already.  A backward
 * function that fails (a library call it makes) records the error with sl_ag_fail on the
 * graph it kept in its state: sl_backward returns that status.
 */
#ifndef SLOPE_AUTOGRAD_H
#define SLOPE_AUTOGRAD_H

#include <stddef.h>

#include "slope/graph.h"
#include "slope/ops.h"

#define SL_NODE_MAX_INPUTS 6 /* rnn: x, two weights, two biases, prelu slope */

typedef struct sl_node sl_node;

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
    unsigned bwd_skips;              /* SL_BWD_SKIPS_* of data backward never reads; 0: reads all */
} sl_op_def;

/*
 * bwd_skips says which tensors' data an op's backward does not read (through the node or
 * through pointers in its state): a max pool reads its arg-max, not x; a convolution reads
 * x and w, not y.  A graph with sl_graph_set_grad_over_data on puts a step tensor's gradient
 * over its data when no node on the tape reads that data (see ag_grad_fits_over_data in
 * graph.c).  Leave a bit out when unsure: 0 is always correct, only less thrifty.
 */
#define SL_BWD_SKIPS_IN(k) (1u << (k))
#define SL_BWD_SKIPS_OUT (1u << SL_NODE_MAX_INPUTS)

/*
 * Tensor flags of the graph's own, above the public ones of slope/tensor.h:
 * SL_TENSOR_AG_OWN_DATA  the data is an op output's own arena buffer (sl_ag_output);
 * SL_TENSOR_AG_SHARED    something else reads the data too: a view of it (reshape), or a
 *                        caller who keeps it past backward (sl_ag_share);
 * SL_TENSOR_AG_READ      some backward on this step's tape reads it (set by sl_backward).
 */
#define SL_TENSOR_AG_OWN_DATA (1u << 16)
#define SL_TENSOR_AG_SHARED (1u << 17)
#define SL_TENSOR_AG_READ (1u << 18)

/*
 * The rows, one per kind (sl_op_<name>_row for each X(KIND, name) of
 * SL_OP_LIST in slope/ops.h), each defined in its family file beside the op,
 * because its state_size needs the op's state struct, private there.
 */
/* The row of kind, or NULL if kind is not an op kind (0 <= kind < SL_OP_COUNT). */
const sl_op_def *sl_op_def_of(int kind);

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
/* Keeps t's data as it is through backward: a view's base, a tensor a caller reads after
 * the step (the model's capture).  NULL and a caller's (non-arena) tensor are no-ops. */
void sl_ag_share(sl_tensor *t);
/* An arena tensor header over data (a valid shape of size elements; data not copied). */
sl_tensor *sl_ag_view(sl_graph *g, int ndim, const int64_t *shape, int64_t size, float *data);
/* sl_graph_reset that also frees the arena's blocks, for a graph used now and then (the
 * statistics' own): the next use grows it again.  g is not checked. */
void sl_ag_release_arena(sl_graph *g);
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
/* State an op family keeps across steps (sl_graph_reset leaves it; sl_graph_free calls
 * cache_free on it): conv2d's oneDNN primitives.  One slot per graph, NULL at first. */
void *sl_ag_cache(const sl_graph *g);
void sl_ag_set_cache(sl_graph *g, void *cache, void (*cache_free)(void *));
/* Whether backward must produce a gradient for input k. */
int sl_ag_wants_grad(const sl_node *node, int k);
/* 1 if the graph has an error already (ops return NULL at once then). */
int sl_ag_failed(const sl_graph *g);

#endif
