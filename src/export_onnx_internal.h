/*
 * export_onnx_internal.h - what the ONNX export files share (built with SLOPE_HAVE_ONNX only).
 *
 *   export_onnx.c        sl_export_onnx: arguments, then build, pack and write atomically
 *   export_onnx_proto.c  the graph under construction: nodes, attributes, initializers,
 *                        and the ModelProto around it (protobuf-c, generated from onnx.proto)
 *   export_onnx_nodes.c  each slope layer as ONNX nodes (avg_pool2d padding as a Pad node),
 *                        and the input normalisation
 *
 * Every message lives in one arena, freed with the graph.  Initializers point at the
 * model's own parameter data (nothing is copied), so the graph must not outlive the model.
 */
#ifndef SLOPE_EXPORT_ONNX_INTERNAL_H
#define SLOPE_EXPORT_ONNX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "onnx.pb-c.h"
#include "slope/export_model.h"

/* The opset the nodes follow, and the IR version that goes with it (ONNX's table). */
#define SL_ONNX_OPSET 13
#define SL_ONNX_IR_VERSION 7
/* The graph's input and output names. */
#define SL_ONNX_INPUT "input"
#define SL_ONNX_LOGITS "logits"
#define SL_ONNX_PROBABILITIES "probabilities"

typedef struct sl_onnx_graph {
    sl_arena arena;
    Onnx__NodeProto **nodes;
    size_t n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    size_t n_inits, cap_inits;
    const char *value;  /* the name of the value the next node reads */
    char prefix[192];   /* "layers.3": names the current layer's nodes and constants */
    int counter;        /* numbers the current layer's intermediate values */
    int failed;         /* an allocation failed: every later call does nothing */
} sl_onnx_graph;

/* An empty graph whose value is the input, with room for max_nodes nodes and initializers. */
sl_status sl_onnx_graph_init(sl_onnx_graph *g, size_t max_nodes, sl_error *err);
void sl_onnx_graph_free(sl_onnx_graph *g);
/* Starts naming nodes and constants after prefix ("layers.3", "input"). */
void sl_onnx_graph_scope(sl_onnx_graph *g, const char *prefix);

/* Appends op_type reading inputs (n_in names; trailing NULL entries are left out: optional
 * inputs) and writing a new value, which becomes g->value.  NULL when out of memory. */
Onnx__NodeProto *sl_onnx_node(sl_onnx_graph *g, const char *op_type, const char *const *inputs,
                              size_t n_in);
/* The node on g->value alone (an elementwise op): sl_onnx_node(g, op, &g->value, 1). */
Onnx__NodeProto *sl_onnx_unary(sl_onnx_graph *g, const char *op_type);
/* Attributes on a node (nothing when node is NULL). */
void sl_onnx_attr_int(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name, int64_t v);
void sl_onnx_attr_float(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name, float v);
void sl_onnx_attr_ints(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                       const int64_t *v, size_t n);
void sl_onnx_attr_strings(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                          const char *const *v, size_t n);
void sl_onnx_attr_floats(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                         const float *v, size_t n);
/* n floats in the graph's arena (for an initializer built from several parameters); NULL
 * when out of memory. */
float *sl_onnx_floats(sl_onnx_graph *g, size_t n);

/* A float initializer named name with dims (ndim of them) over data (size values, borrowed:
 * not copied).  Returns its name, NULL when out of memory. */
const char *sl_onnx_init(sl_onnx_graph *g, const char *name, const int64_t *dims, int ndim,
                         const float *data, int64_t size);
/* An int64 initializer "<prefix>.<what>" of shape [n], copied into the arena. */
const char *sl_onnx_init_i64(sl_onnx_graph *g, const char *what, const int64_t *v, size_t n);
/* A one-element constant "<prefix>.<what>" of shape [1] (copied into the arena). */
const char *sl_onnx_scalar(sl_onnx_graph *g, const char *what, float v);

/* export_onnx_nodes.c: the input normalisation of m, then every layer, then the optional
 * Softmax.  SL_ERR_INVALID naming the layer for one ONNX cannot express; SL_ERR_NOMEM. */
sl_status sl_onnx_build_nodes(sl_onnx_graph *g, const sl_model *m, int softmax, sl_error *err);
/* The nodes a layer of this type needs at most, for sizing the graph. */
size_t sl_onnx_max_nodes_per_layer(void);
/* Whether spec can be written: SL_OK, or SL_ERR_INVALID "layer <index> (<type>): <why>". */
sl_status sl_onnx_layer_check(const sl_layer_spec *spec, int index, sl_error *err);

/* export_onnx_proto.c: the ModelProto around g's nodes (graph input and output typed from m's
 * shapes, batch 0 meaning a symbolic "N"), packed through write(ctx, bytes, n), which returns 0
 * on success.  SL_ERR_INVALID when the file would pass protobuf's 2 GiB limit. */
typedef int (*sl_onnx_sink)(void *ctx, const uint8_t *bytes, size_t n);
sl_status sl_onnx_write_model(sl_onnx_graph *g, const sl_model *m, int64_t batch,
                              const char *output_name, sl_onnx_sink write, void *ctx,
                              const char *path, sl_error *err);
#endif
