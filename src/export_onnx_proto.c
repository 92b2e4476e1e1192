/*
 * export_onnx_proto.c - the ONNX graph under construction and the ModelProto around it
 * (see export_onnx_internal.h).  The messages are protobuf-c's, generated at build time
 * from onnx.proto; protobuf-c packs them.
 */
#include <stdio.h>
#include <string.h>

#include "export_onnx_internal.h"
#include "slope/slope.h"

/* ---- the arena ------------------------------------------------------------------------ */

static void *take(sl_onnx_graph *g, size_t bytes)
{
    void *p = g->failed ? NULL : sl_arena_alloc(&g->arena, bytes);
    if (!p)
        g->failed = 1;
    else
        memset(p, 0, bytes);
    return p;
}

static char *text(sl_onnx_graph *g, const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = take(g, n);
    if (c)
        memcpy(c, s, n);
    return c;
}

sl_status sl_onnx_graph_init(sl_onnx_graph *g, size_t max_nodes, sl_error *err)
{
    memset(g, 0, sizeof *g);
    sl_arena_init(&g->arena);
    g->cap_nodes = g->cap_inits = max_nodes;
    g->nodes = take(g, max_nodes * sizeof *g->nodes);
    g->inits = take(g, max_nodes * sizeof *g->inits);
    g->value = SL_ONNX_INPUT;
    if (g->failed)
        return sl_error_set(err, SL_ERR_NOMEM, "sl_export_onnx: out of memory");
    return SL_OK;
}

void sl_onnx_graph_free(sl_onnx_graph *g)
{
    sl_arena_release(&g->arena);
}

void sl_onnx_graph_scope(sl_onnx_graph *g, const char *prefix)
{
    snprintf(g->prefix, sizeof g->prefix, "%s", prefix);
    g->counter = 0;
}

/* ---- nodes ------------------------------------------------------------------------------ */

/* "<prefix>.<Op>" for a layer's first node, "<prefix>.<Op>.<k>" after it. */
static char *value_name(sl_onnx_graph *g, const char *op_type)
{
    char buf[256];
    if (g->counter == 0)
        snprintf(buf, sizeof buf, "%s.%s", g->prefix, op_type);
    else
        snprintf(buf, sizeof buf, "%s.%s.%d", g->prefix, op_type, g->counter);
    g->counter++;
    return text(g, buf);
}

Onnx__NodeProto *sl_onnx_node(sl_onnx_graph *g, const char *op_type, const char *const *inputs,
                              size_t n_in)
{
    while (n_in > 0 && !inputs[n_in - 1])
        n_in--;
    Onnx__NodeProto *node = take(g, sizeof *node);
    char **in = take(g, (n_in ? n_in : 1) * sizeof *in);
    char **out = take(g, sizeof *out);
    if (g->failed || g->n_nodes == g->cap_nodes) {
        g->failed = 1;
        return NULL;
    }
    sl_onnx__node_proto__init(node);
    for (size_t i = 0; i < n_in; i++)
        in[i] = (char *)(uintptr_t)inputs[i]; /* arena strings or constants: never written */
    out[0] = value_name(g, op_type);
    node->op_type = text(g, op_type);
    node->name = out[0];
    node->n_input = n_in;
    node->input = in;
    node->n_output = 1;
    node->output = out;
    if (g->failed)
        return NULL;
    g->nodes[g->n_nodes++] = node;
    g->value = out[0];
    return node;
}

Onnx__NodeProto *sl_onnx_unary(sl_onnx_graph *g, const char *op_type)
{
    return sl_onnx_node(g, op_type, &g->value, 1);
}

/* ---- attributes --------------------------------------------------------------------------- */

static Onnx__AttributeProto *attr(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                                  Onnx__AttributeProto__AttributeType type)
{
    if (!node)
        return NULL;
    Onnx__AttributeProto *a = take(g, sizeof *a);
    Onnx__AttributeProto **list = take(g, (node->n_attribute + 1) * sizeof *list);
    char *nm = text(g, name);
    if (g->failed)
        return NULL;
    sl_onnx__attribute_proto__init(a);
    a->name = nm;
    a->has_type = 1;
    a->type = type;
    if (node->n_attribute)
        memcpy(list, node->attribute, node->n_attribute * sizeof *list);
    list[node->n_attribute++] = a;
    node->attribute = list;
    return a;
}

void sl_onnx_attr_int(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = attr(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) {
        a->has_i = 1;
        a->i = v;
    }
}

void sl_onnx_attr_float(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name, float v)
{
    Onnx__AttributeProto *a = attr(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) {
        a->has_f = 1;
        a->f = v;
    }
}

void sl_onnx_attr_ints(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                       const int64_t *v, size_t n)
{
    Onnx__AttributeProto *a = attr(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *copy = a ? take(g, n * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, v, n * sizeof *copy);
        a->n_ints = n;
        a->ints = copy;
    }
}

void sl_onnx_attr_strings(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                          const char *const *v, size_t n)
{
    Onnx__AttributeProto *a = attr(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS);
    ProtobufCBinaryData *list = a ? take(g, n * sizeof *list) : NULL;
    for (size_t i = 0; list && i < n; i++) {
        char *copy = text(g, v[i]);
        list[i].data = (uint8_t *)copy;
        list[i].len = copy ? strlen(copy) : 0;
    }
    if (list && !g->failed) {
        a->n_strings = n;
        a->strings = list;
    }
}

void sl_onnx_attr_floats(sl_onnx_graph *g, Onnx__NodeProto *node, const char *name,
                         const float *v, size_t n)
{
    Onnx__AttributeProto *a = attr(g, node, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    float *copy = a ? take(g, n * sizeof *copy) : NULL;
    if (copy) {
        memcpy(copy, v, n * sizeof *copy);
        a->n_floats = n;
        a->floats = copy;
    }
}

/* ---- initializers --------------------------------------------------------------------------- */

float *sl_onnx_floats(sl_onnx_graph *g, size_t n)
{
    return take(g, n * sizeof(float));
}

const char *sl_onnx_init(sl_onnx_graph *g, const char *name, const int64_t *dims, int ndim,
                         const float *data, int64_t size)
{
    Onnx__TensorProto *t = take(g, sizeof *t);
    int64_t *d = take(g, (size_t)(ndim > 0 ? ndim : 1) * sizeof *d);
    char *nm = text(g, name);
    if (g->failed || g->n_inits == g->cap_inits) {
        g->failed = 1;
        return NULL;
    }
    sl_onnx__tensor_proto__init(t);
    memcpy(d, dims, (size_t)ndim * sizeof *d);
    t->name = nm;
    t->n_dims = (size_t)ndim;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_float_data = (size_t)size;
    t->float_data = (float *)(uintptr_t)data; /* packing only reads it */
    g->inits[g->n_inits++] = t;
    return nm;
}

const char *sl_onnx_init_i64(sl_onnx_graph *g, const char *what, const int64_t *v, size_t n)
{
    int64_t *data = take(g, n * sizeof *data);
    char full[256];
    snprintf(full, sizeof full, "%s.%s", g->prefix, what);
    /* A float initializer of one dimension, retyped. */
    const char *name = data ? sl_onnx_init(g, full, &(int64_t){0}, 1, NULL, 0) : NULL;
    if (!name)
        return NULL;
    Onnx__TensorProto *t = g->inits[g->n_inits - 1];
    memcpy(data, v, n * sizeof *data);
    t->dims[0] = (int64_t)n;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_int64_data = n;
    t->int64_data = data;
    return name;
}

const char *sl_onnx_scalar(sl_onnx_graph *g, const char *what, float v)
{
    float *data = take(g, sizeof *data);
    if (!data)
        return NULL;
    *data = v;
    char name[256];
    snprintf(name, sizeof name, "%s.%s", g->prefix, what);
    const int64_t one = 1;
    return sl_onnx_init(g, name, &one, 1, data, 1);
}

/* ---- the model --------------------------------------------------------------------------- */

/* A float tensor's type: [batch or "N", dims...]. */
static Onnx__ValueInfoProto *value_info(sl_onnx_graph *g, const char *name, int64_t batch,
                                        const int64_t *dims, int ndim)
{
    Onnx__ValueInfoProto *v = take(g, sizeof *v);
    Onnx__TypeProto *type = take(g, sizeof *type);
    Onnx__TypeProto__Tensor *tensor = take(g, sizeof *tensor);
    Onnx__TensorShapeProto *shape = take(g, sizeof *shape);
    Onnx__TensorShapeProto__Dimension *dim = take(g, (size_t)(ndim + 1) * sizeof *dim);
    Onnx__TensorShapeProto__Dimension **list = take(g, (size_t)(ndim + 1) * sizeof *list);
    if (g->failed)
        return NULL;
    sl_onnx__value_info_proto__init(v);
    sl_onnx__type_proto__init(type);
    sl_onnx__type_proto__tensor__init(tensor);
    sl_onnx__tensor_shape_proto__init(shape);
    for (int d = 0; d <= ndim; d++) {
        sl_onnx__tensor_shape_proto__dimension__init(&dim[d]);
        list[d] = &dim[d];
        dim[d].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        dim[d].dim_value = d == 0 ? batch : dims[d - 1];
    }
    if (batch == 0) {
        dim[0].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
        dim[0].dim_param = text(g, "N");
    }
    shape->n_dim = (size_t)ndim + 1;
    shape->dim = list;
    tensor->has_elem_type = 1;
    tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tensor->shape = shape;
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    type->tensor_type = tensor;
    v->name = text(g, name);
    v->type = type;
    return v;
}

/* One metadata_props entry. */
static Onnx__StringStringEntryProto *entry(sl_onnx_graph *g, const char *key, const char *value)
{
    Onnx__StringStringEntryProto *e = take(g, sizeof *e);
    if (!e)
        return NULL;
    sl_onnx__string_string_entry_proto__init(e);
    e->key = text(g, key);
    e->value = text(g, value);
    return e;
}

/* The input normalisation, as sl_model_save records it, for a reader of the file. */
static Onnx__StringStringEntryProto **metadata(sl_onnx_graph *g, const sl_model *m, size_t *n)
{
    double mean, std;
    sl_normalize kind = sl_model_input_normalize(m, &mean, &std);
    char mean_s[32], std_s[32];
    snprintf(mean_s, sizeof mean_s, "%.17g", mean);
    snprintf(std_s, sizeof std_s, "%.17g", std);
    Onnx__StringStringEntryProto **list = take(g, 3 * sizeof *list);
    if (!list)
        return NULL;
    list[0] = entry(g, "slope.input_normalize", sl_normalize_name(kind));
    list[1] = entry(g, "slope.input_mean", mean_s);
    list[2] = entry(g, "slope.input_std", std_s);
    *n = 3;
    return list;
}

static Onnx__GraphProto *graph(sl_onnx_graph *g, const sl_model *m, int64_t batch)
{
    Onnx__GraphProto *gp = take(g, sizeof *gp);
    Onnx__ValueInfoProto **io = take(g, 2 * sizeof *io);
    if (g->failed)
        return NULL;
    int64_t in[4], out[4];
    int in_dims = sl_model_layer_shape(m, -1, in);
    int out_dims = sl_model_output_shape(m, out);
    io[0] = value_info(g, SL_ONNX_INPUT, batch, in, in_dims);
    io[1] = value_info(g, g->value, batch, out, out_dims);
    sl_onnx__graph_proto__init(gp);
    gp->name = text(g, "slope");
    gp->n_node = g->n_nodes;
    gp->node = g->nodes;
    gp->n_initializer = g->n_inits;
    gp->initializer = g->inits;
    gp->n_input = 1;
    gp->input = &io[0];
    gp->n_output = 1;
    gp->output = &io[1];
    return gp;
}

static Onnx__ModelProto *model(sl_onnx_graph *g, const sl_model *m, int64_t batch)
{
    Onnx__ModelProto *mp = take(g, sizeof *mp);
    Onnx__OperatorSetIdProto *opset = take(g, sizeof *opset);
    Onnx__OperatorSetIdProto **opsets = take(g, sizeof *opsets);
    if (g->failed)
        return NULL;
    sl_onnx__model_proto__init(mp);
    sl_onnx__operator_set_id_proto__init(opset);
    opset->domain = text(g, ""); /* the default domain, ai.onnx */
    opset->has_version = 1;
    opset->version = SL_ONNX_OPSET;
    opsets[0] = opset;
    mp->has_ir_version = 1;
    mp->ir_version = SL_ONNX_IR_VERSION;
    mp->n_opset_import = 1;
    mp->opset_import = opsets;
    mp->producer_name = text(g, "slope");
    mp->producer_version = text(g, sl_version());
    mp->metadata_props = metadata(g, m, &mp->n_metadata_props);
    mp->graph = graph(g, m, batch);
    return g->failed ? NULL : mp;
}

/* protobuf-c's streaming output, into the caller's sink; the first failure sticks. */
typedef struct sink_buffer {
    ProtobufCBuffer base;
    sl_onnx_sink write;
    void *ctx;
    int failed;
} sink_buffer;

static void sink_append(ProtobufCBuffer *b, size_t n, const uint8_t *bytes)
{
    sink_buffer *s = (sink_buffer *)b;
    if (!s->failed && s->write(s->ctx, bytes, n) != 0)
        s->failed = 1;
}

/* protobuf's messages are limited to 2 GiB (readers refuse larger ones). */
#define PROTOBUF_MAX_BYTES 2147483647u

sl_status sl_onnx_write_model(sl_onnx_graph *g, const sl_model *m, int64_t batch,
                              const char *output_name, sl_onnx_sink write, void *ctx,
                              const char *path, sl_error *err)
{
    if (g->n_nodes == 0)
        return sl_error_set(err, SL_ERR_INVALID, "%s: the model has no nodes", path);
    char *out = text(g, output_name);
    if (out) {
        g->nodes[g->n_nodes - 1]->output[0] = out;
        g->value = out;
    }
    Onnx__ModelProto *mp = g->failed ? NULL : model(g, m, batch);
    if (!mp)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", path);
    size_t bytes = protobuf_c_message_get_packed_size(&mp->base);
    if (bytes > PROTOBUF_MAX_BYTES)
        return sl_error_set(err, SL_ERR_INVALID,
                            "%s: the ONNX model would take %zu bytes; one protobuf file holds "
                            "at most 2 GiB (slope does not write external data)",
                            path, bytes);
    sink_buffer sink = {{sink_append}, write, ctx, 0};
    protobuf_c_message_pack_to_buffer(&mp->base, &sink.base);
    return sink.failed ? (err && err->status ? err->status : SL_ERR_IO) : SL_OK;
}
