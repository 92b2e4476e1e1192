/*
 * autograd.h - what ops need from the graph: arena memory, the tape, errors.
 *
 * An op's forward validates, takes its output from sl_ag_output, computes,
 * and, if sl_ag_record returns a node, stores what backward needs in it.
 * Backward functions ACCUMULATE into in[k]->grad for each input k with
 * sl_ag_wants_grad(node, k); the walker has made those buffers already.
 */
#ifndef SLOPE_AUTOGRAD_H
#define SLOPE_AUTOGRAD_H

#include <stddef.h>

#include "slope/graph.h"

#define SL_NODE_MAX_INPUTS 5

typedef struct sl_node sl_node;

/* One row of the op table: a name (for messages) and the backward. */
typedef struct sl_op_def {
    const char *name;
    void (*backward)(sl_node *node);
} sl_op_def;

struct sl_node {
    const sl_op_def *op;
    sl_node *prev;                         /* the node recorded before this one */
    sl_tensor *out;
    sl_tensor *in[SL_NODE_MAX_INPUTS];     /* unused entries are NULL */
    int n_in;
    void *saved;                           /* op-specific, arena memory */
    void *saved2;
    float f[4];                            /* op-specific scalars */
    int i[8];                              /* op-specific integers */
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
 * Appends a node for op when recording is on and an input requires a
 * gradient; marks out as requiring one.  Returns NULL when nothing is to be
 * recorded, or on OOM (then sl_graph_status says so and out is still valid).
 */
sl_node *sl_ag_record(sl_graph *g, const sl_op_def *op, sl_tensor *out, sl_tensor **in, int n_in);
/* Whether backward must produce a gradient for input k. */
int sl_ag_wants_grad(const sl_node *node, int k);
/* 1 if the graph has an error already (ops return NULL at once then). */
int sl_ag_failed(const sl_graph *g);

#endif
