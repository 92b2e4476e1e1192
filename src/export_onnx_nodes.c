/*
 * export_onnx_nodes.c - each slope layer as ONNX opset-13 nodes, with slope's evaluation
 * semantics (see slope/export_model.h for the table), and the input normalisation in front.
 */
#include <stdio.h>
#include <string.h>

#include "export_onnx_internal.h"
#include "slope/ops.h"

/* GELU (opset 13 has no Gelu op) is the most: Mul, Erf, Add, Mul, Mul. */
#define MAX_NODES_PER_LAYER 5

size_t sl_onnx_max_nodes_per_layer(void)
{
    return MAX_NODES_PER_LAYER;
}

sl_status sl_onnx_layer_check(const sl_layer_spec *spec, int index, sl_error *err)
{
    switch (spec->type) {
    case SL_LAYER_LINEAR: case SL_LAYER_CONV2D: case SL_LAYER_MAX_POOL2D:
    case SL_LAYER_AVG_POOL2D: case SL_LAYER_FLATTEN: case SL_LAYER_DROPOUT:
    case SL_LAYER_BATCH_NORM: case SL_LAYER_RELU: case SL_LAYER_LEAKY_RELU: case SL_LAYER_PRELU:
    case SL_LAYER_RRELU: case SL_LAYER_ELU: case SL_LAYER_SELU: case SL_LAYER_SIGMOID:
    case SL_LAYER_TANH: case SL_LAYER_GELU: case SL_LAYER_RESIDUAL:
        return SL_OK;
    case SL_LAYER_RNN:
        if (spec->act != SL_RNN_PRELU)
            return SL_OK;
        return sl_error_set(err, SL_ERR_INVALID,
                            "layer %d (rnn): the ONNX export writes an ONNX RNN node, whose "
                            "activations have no learned slopes: an rnn with the prelu "
                            "activation cannot be exported (tanh, relu and leaky_relu can)",
                            index);
    default:
        /* A layer type added to slope/nn.h without a case below. */
        return sl_error_set(err, SL_ERR_INVALID,
                            "layer %d (%s): the ONNX export cannot express this layer type",
                            index, sl_layer_type_name(spec->type));
    }
}

/* ---- parameters --------------------------------------------------------------------- */

/* Layer i's parameter slot as an initializer under its torch name ("3.weight"), with its own
 * shape or dims (ndim > 0); NULL when the layer has no such parameter (a bias turned off). */
static const char *param(sl_onnx_graph *g, const sl_model *m, size_t i, const char *slot,
                         const int64_t *dims, int ndim)
{
    char name[256], torch[256];
    snprintf(name, sizeof name, "%s.%s", sl_model_layer_name(m, i), slot);
    const sl_param *p = sl_model_find_param(m, name);
    if (!p)
        return NULL;
    const sl_tensor *t = p->tensor;
    sl_torch_name(name, torch, sizeof torch);
    return sl_onnx_init(g, torch, ndim > 0 ? dims : t->shape, ndim > 0 ? ndim : t->ndim,
                        t->data, t->size);
}

/* The slots into in[1..]: each one a layer of this type must have (an absence is a broken
 * model or no memory), then the optional bias when with_bias. */
static void slots(sl_onnx_graph *g, const sl_model *m, size_t i, const char **in,
                  const char *const *names, int n, int with_bias)
{
    for (int k = 0; k < n; k++)
        if (!(in[k + 1] = param(g, m, i, names[k], NULL, 0)))
            g->failed = 1;
    if (with_bias)
        in[n + 1] = param(g, m, i, "bias", NULL, 0);
}

/* A linear or conv layer's weight, then its bias if it has one. */
static void weights(sl_onnx_graph *g, const sl_model *m, size_t i, const char **in)
{
    static const char *const w[] = {"weight"};
    slots(g, m, i, in, w, 1, 1);
}

/* ---- layers ---------------------------------------------------------------------------- */

static void pair(int64_t *v, int a)
{
    v[0] = v[1] = a;
}

/* kernel_shape, strides and pads (the same on every side) of a conv or pool node. */
static void window_attrs(sl_onnx_graph *g, Onnx__NodeProto *n, const sl_layer_spec *s)
{
    int64_t k[2], st[2], pads[4];
    pair(k, s->kernel);
    pair(st, s->stride);
    pair(pads, s->padding);
    pair(pads + 2, s->padding);
    sl_onnx_attr_ints(g, n, "kernel_shape", k, 2);
    sl_onnx_attr_ints(g, n, "strides", st, 2);
    sl_onnx_attr_ints(g, n, "pads", pads, 4);
}

static void linear_nodes(sl_onnx_graph *g, const sl_model *m, size_t i)
{
    const char *in[3] = {g->value, NULL, NULL};
    weights(g, m, i, in);
    Onnx__NodeProto *n = sl_onnx_node(g, "Gemm", in, 3);
    sl_onnx_attr_int(g, n, "transB", 1); /* y = x W^T + b, W as [out, in] */
}

static void conv_nodes(sl_onnx_graph *g, const sl_model *m, size_t i, const sl_layer_spec *s)
{
    const char *in[3] = {g->value, NULL, NULL};
    weights(g, m, i, in);
    window_attrs(g, sl_onnx_node(g, "Conv", in, 3), s);
}

/* Max pool pads with -inf, which is ONNX's MaxPool already. */
static void max_pool_nodes(sl_onnx_graph *g, const sl_layer_spec *s)
{
    window_attrs(g, sl_onnx_unary(g, "MaxPool"), s);
}

/* slope's avg_pool2d divides by kernel^2 everywhere: padding counts as zeros.  That is
 * AveragePool's count_include_pad = 1, but OpenCV's importer (4.6) ignores the attribute
 * (it counts the padding only for files whose producer is "pytorch"), so the zeros are an
 * explicit Pad before an unpadded AveragePool, which every reader computes alike. */
static void avg_pool_nodes(sl_onnx_graph *g, const sl_layer_spec *s)
{
    sl_layer_spec unpadded = *s;
    if (s->padding > 0) {
        const int64_t p = s->padding, pads[8] = {0, 0, p, p, 0, 0, p, p}; /* begins, ends */
        const char *in[2] = {g->value, sl_onnx_init_i64(g, "pads", pads, 8)};
        sl_onnx_node(g, "Pad", in, 2); /* mode "constant", value 0: the defaults */
        unpadded.padding = 0;
    }
    Onnx__NodeProto *n = sl_onnx_unary(g, "AveragePool");
    window_attrs(g, n, &unpadded);
    sl_onnx_attr_int(g, n, "count_include_pad", 1);
}

static void norm_nodes(sl_onnx_graph *g, const sl_model *m, size_t i, const sl_layer_spec *s)
{
    static const char *const names[] = {"weight", "bias", "running_mean", "running_var"};
    const char *in[5] = {g->value};
    slots(g, m, i, in, names, 4, 0);
    Onnx__NodeProto *n = sl_onnx_node(g, "BatchNormalization", in, 5);
    sl_onnx_attr_float(g, n, "epsilon", s->eps);
    /* ONNX weighs the running value by momentum, slope (as PyTorch) the batch's. */
    sl_onnx_attr_float(g, n, "momentum", 1.0f - s->momentum);
}

/* PRelu broadcasts its slope from the right: per channel on [N, C, H, W] is [C, 1, 1];
 * per feature on [N, F] is [F] as stored; shared is [1] as stored. */
static void prelu_nodes(sl_onnx_graph *g, const sl_model *m, size_t i, const sl_layer_spec *s)
{
    int64_t in_shape[4], dims[3] = {1, 1, 1};
    int ndim = sl_model_layer_input_shape(m, i, in_shape);
    int image = s->per_channel && ndim == 3;
    dims[0] = in_shape[0];
    const char *in[2] = {g->value, param(g, m, i, "weight", dims, image ? 3 : 0)};
    if (!in[1])
        g->failed = 1;
    sl_onnx_node(g, "PRelu", in, 2);
}

static void leaky_node(sl_onnx_graph *g, float alpha)
{
    sl_onnx_attr_float(g, sl_onnx_unary(g, "LeakyRelu"), "alpha", alpha);
}

/* x/2 (1 + erf(x / sqrt 2)), in the order slope's kernel rounds it: (0.5 x) (1 + erf). */
static void gelu_nodes(sl_onnx_graph *g)
{
    const char *x = g->value;
    const char *c[2] = {x, sl_onnx_scalar(g, "sqrt_half", 0.70710678118654752f)};
    sl_onnx_node(g, "Mul", c, 2);
    sl_onnx_unary(g, "Erf");
    const char *one[2] = {g->value, sl_onnx_scalar(g, "one", 1.0f)};
    const char *sum = sl_onnx_node(g, "Add", one, 2) ? g->value : NULL;
    const char *half[2] = {x, sl_onnx_scalar(g, "half", 0.5f)};
    sl_onnx_node(g, "Mul", half, 2);
    const char *prod[2] = {g->value, sum};
    sl_onnx_node(g, "Mul", prod, 2);
}

static void elu_node(sl_onnx_graph *g, const sl_layer_spec *s)
{
    sl_onnx_attr_float(g, sl_onnx_unary(g, "Elu"), "alpha", s->alpha);
}

static void selu_node(sl_onnx_graph *g)
{
    Onnx__NodeProto *n = sl_onnx_unary(g, "Selu");
    sl_onnx_attr_float(g, n, "alpha", SL_SELU_ALPHA);
    sl_onnx_attr_float(g, n, "gamma", SL_SELU_SCALE);
}

static void entries_nodes(sl_onnx_graph *g, const sl_model *m, size_t begin, size_t end);

/* x + f(x): the body from the block's input, the shortcut (a 1x1 Conv, a Gemm, or x itself)
 * from the same input, then an Add under the block's name. */
static void residual_nodes(sl_onnx_graph *g, const sl_model *m, size_t i, const sl_layer_spec *s)
{
    const char *x = g->value;
    entries_nodes(g, m, i + 1, i + 1 + (size_t)s->body);
    const char *add[2] = {g->value, x};
    char prefix[sizeof g->prefix];
    if (s->shortcut) {
        snprintf(prefix, sizeof prefix, "%s.shortcut", sl_model_layer_name(m, i));
        sl_onnx_graph_scope(g, prefix);
        g->value = x;
        static const char *const w[] = {"shortcut.weight"};
        const char *in[3] = {x, NULL, NULL};
        slots(g, m, i, in, w, 1, 0);
        in[2] = param(g, m, i, "shortcut.bias", NULL, 0);
        int64_t in_shape[3];
        if (sl_model_layer_input_shape(m, i, in_shape) == 3) {
            sl_layer_spec one = *s; /* kernel 1, no padding, the block's stride */
            one.kernel = 1;
            one.padding = 0;
            window_attrs(g, sl_onnx_node(g, "Conv", in, 3), &one);
        } else {
            sl_onnx_attr_int(g, sl_onnx_node(g, "Gemm", in, 3), "transB", 1);
        }
        add[1] = g->value;
    }
    sl_onnx_graph_scope(g, sl_model_layer_name(m, i));
    sl_onnx_node(g, "Add", add, 2);
}

/* B of ONNX's RNN: [1, 2H], b_ih then b_hh, copied into the graph. */
static const char *rnn_bias(sl_onnx_graph *g, const sl_model *m, size_t i, int64_t H)
{
    char name[256];
    const sl_param *b[2];
    static const char *const slots[2] = {"bias_ih_l0", "bias_hh_l0"};
    float *data = sl_onnx_floats(g, (size_t)(2 * H));
    for (int k = 0; k < 2; k++) {
        snprintf(name, sizeof name, "%s.%s", sl_model_layer_name(m, i), slots[k]);
        b[k] = sl_model_find_param(m, name);
        if (!b[k] || !data) {
            g->failed = 1;
            return NULL;
        }
        memcpy(data + k * H, b[k]->tensor->data, (size_t)H * sizeof *data);
    }
    snprintf(name, sizeof name, "%s.B", g->prefix);
    const int64_t dims[2] = {1, 2 * H};
    return sl_onnx_init(g, name, dims, 2, data, 2 * H);
}

/* An rnn as ONNX's RNN node, which opset 13 has time-major only ([T, N, F] in, Y [T, 1, N, H]
 * out): a Transpose in, then the last step (Gather, Squeeze) or every step batch first again
 * (Squeeze, Transpose).  W, R and B take ONNX's leading num_directions of 1. */
static void rnn_nodes(sl_onnx_graph *g, const sl_model *m, size_t i, const sl_layer_spec *s)
{
    int64_t in_shape[2], H = s->out;
    sl_model_layer_input_shape(m, i, in_shape);
    const int64_t perm[3] = {1, 0, 2}, w_dims[3] = {1, H, in_shape[1]}, r_dims[3] = {1, H, H};
    sl_onnx_attr_ints(g, sl_onnx_unary(g, "Transpose"), "perm", perm, 3);
    const char *in[4] = {g->value, param(g, m, i, "weight_ih_l0", w_dims, 3),
                         param(g, m, i, "weight_hh_l0", r_dims, 3),
                         s->bias ? rnn_bias(g, m, i, H) : NULL};
    if (!in[1] || !in[2])
        g->failed = 1;
    Onnx__NodeProto *n = sl_onnx_node(g, "RNN", in, 4);
    sl_onnx_attr_int(g, n, "hidden_size", H);
    const char *act = s->act == SL_RNN_RELU ? "Relu" : s->act == SL_RNN_LEAKY_RELU ? "LeakyRelu"
                                                                                  : "Tanh";
    sl_onnx_attr_strings(g, n, "activations", &act, 1);
    if (s->act == SL_RNN_LEAKY_RELU)
        sl_onnx_attr_floats(g, n, "activation_alpha", &s->alpha, 1);
    if (s->sequence) {
        const int64_t axes[1] = {1};
        const char *sq[2] = {g->value, sl_onnx_init_i64(g, "axes", axes, 1)};
        sl_onnx_node(g, "Squeeze", sq, 2);
        sl_onnx_attr_ints(g, sl_onnx_unary(g, "Transpose"), "perm", perm, 3);
    } else {
        const int64_t last[1] = {in_shape[0] - 1}, axes[2] = {0, 1};
        const char *ga[2] = {g->value, sl_onnx_init_i64(g, "last", last, 1)};
        sl_onnx_attr_int(g, sl_onnx_node(g, "Gather", ga, 2), "axis", 0);
        const char *sq[2] = {g->value, sl_onnx_init_i64(g, "axes", axes, 2)};
        sl_onnx_node(g, "Squeeze", sq, 2);
    }
}

static void layer_nodes(sl_onnx_graph *g, const sl_model *m, size_t i)
{
    const sl_layer_spec *s = sl_model_layer(m, i);
    switch (s->type) {
    case SL_LAYER_LINEAR: linear_nodes(g, m, i); break;
    case SL_LAYER_CONV2D: conv_nodes(g, m, i, s); break;
    case SL_LAYER_MAX_POOL2D: max_pool_nodes(g, s); break;
    case SL_LAYER_AVG_POOL2D: avg_pool_nodes(g, s); break;
    case SL_LAYER_FLATTEN: sl_onnx_attr_int(g, sl_onnx_unary(g, "Flatten"), "axis", 1); break;
    case SL_LAYER_DROPOUT: sl_onnx_unary(g, "Identity"); break; /* evaluation: the identity */
    case SL_LAYER_BATCH_NORM: norm_nodes(g, m, i, s); break;
    case SL_LAYER_RELU: sl_onnx_unary(g, "Relu"); break;
    case SL_LAYER_LEAKY_RELU: leaky_node(g, s->alpha); break;
    case SL_LAYER_PRELU: prelu_nodes(g, m, i, s); break;
    /* Evaluation uses the mean slope, computed as sl_rrelu computes it. */
    case SL_LAYER_RRELU: leaky_node(g, 0.5f * (s->lower + s->upper)); break;
    case SL_LAYER_ELU: elu_node(g, s); break;
    case SL_LAYER_SELU: selu_node(g); break;
    case SL_LAYER_SIGMOID: sl_onnx_unary(g, "Sigmoid"); break;
    case SL_LAYER_TANH: sl_onnx_unary(g, "Tanh"); break;
    case SL_LAYER_GELU: gelu_nodes(g); break;
    case SL_LAYER_RESIDUAL: residual_nodes(g, m, i, s); break;
    case SL_LAYER_RNN: rnn_nodes(g, m, i, s); break;
    default: break; /* refused by sl_onnx_layer_check before */
    }
}

/* Entries [begin, end) of one level, each under its own name; a block's body is its own. */
static void entries_nodes(sl_onnx_graph *g, const sl_model *m, size_t begin, size_t end)
{
    for (size_t i = begin; i < end && !g->failed; i++) {
        const sl_layer_spec *s = sl_model_layer(m, i);
        sl_onnx_graph_scope(g, sl_model_layer_name(m, i));
        layer_nodes(g, m, i);
        if (s->type == SL_LAYER_RESIDUAL)
            i += (size_t)s->body;
    }
}

/* ---- the input normalisation ------------------------------------------------------------ */

/* y = x * scale + offset in float, with the coefficients sl_normalize_values uses
 * (src/data.c): the same two float operations, so ONNX gives slope's inputs bit for bit. */
static void normalize_nodes(sl_onnx_graph *g, const sl_model *m)
{
    double mean, std;
    sl_normalize kind = sl_model_input_normalize(m, &mean, &std);
    if (kind == SL_NORMALIZE_NONE)
        return;
    sl_onnx_graph_scope(g, "input");
    float scale = kind == SL_NORMALIZE_SCALE01 ? 1.0f / 255.0f : (float)(1.0 / std);
    const char *mul[2] = {g->value, sl_onnx_scalar(g, "scale", scale)};
    sl_onnx_node(g, "Mul", mul, 2);
    if (kind == SL_NORMALIZE_STANDARDIZE) {
        const char *add[2] = {g->value, sl_onnx_scalar(g, "offset", (float)(-mean / std))};
        sl_onnx_node(g, "Add", add, 2);
    }
}

sl_status sl_onnx_build_nodes(sl_onnx_graph *g, const sl_model *m, int softmax, sl_error *err)
{
    normalize_nodes(g, m);
    entries_nodes(g, m, 0, sl_model_num_layers(m));
    if (softmax) {
        sl_onnx_graph_scope(g, "output");
        sl_onnx_attr_int(g, sl_onnx_unary(g, "Softmax"), "axis", 1);
    }
    if (g->failed)
        return sl_error_set(err, SL_ERR_NOMEM, "sl_export_onnx: out of memory");
    return SL_OK;
}
