/*
 * nn_layers.c - the layer table: names, defaults, validation, shape
 * inference, initialisation gains and FLOPs.  Adding a layer type touches
 * this file (and the forward switch in nn_model.c).
 */
#include <math.h>
#include <string.h>

#include "nn_internal.h"

static const char *const layer_names[SL_LAYER_TYPE_COUNT] = {
    [SL_LAYER_LINEAR] = "linear",         [SL_LAYER_CONV2D] = "conv2d",
    [SL_LAYER_MAX_POOL2D] = "max_pool2d", [SL_LAYER_AVG_POOL2D] = "avg_pool2d",
    [SL_LAYER_FLATTEN] = "flatten",       [SL_LAYER_DROPOUT] = "dropout",
    [SL_LAYER_BATCH_NORM] = "batch_norm", [SL_LAYER_RELU] = "relu",
    [SL_LAYER_LEAKY_RELU] = "leaky_relu", [SL_LAYER_PRELU] = "prelu",
    [SL_LAYER_RRELU] = "rrelu",           [SL_LAYER_ELU] = "elu",
    [SL_LAYER_SELU] = "selu",             [SL_LAYER_SIGMOID] = "sigmoid",
    [SL_LAYER_TANH] = "tanh",
};

const char *sl_layer_type_name(sl_layer_type type)
{
    if ((int)type < 0 || type >= SL_LAYER_TYPE_COUNT)
        return "unknown";
    return layer_names[type];
}

sl_status sl_layer_type_parse(const char *name, sl_layer_type *type, sl_error *err)
{
    for (int t = 0; t < SL_LAYER_TYPE_COUNT; t++)
        if (name && strcmp(name, layer_names[t]) == 0) {
            *type = (sl_layer_type)t;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "unknown layer type \"%s\" (expected one of: linear, conv2d, max_pool2d, "
                        "avg_pool2d, flatten, dropout, batch_norm, relu, leaky_relu, prelu, "
                        "rrelu, elu, selu, sigmoid, tanh)",
                        name ? name : "(null)");
}

int sl_layer_is_activation(sl_layer_type type)
{
    return type >= SL_LAYER_RELU && type <= SL_LAYER_TANH;
}

sl_layer_spec sl_layer_defaults(sl_layer_type type)
{
    sl_layer_spec s;
    memset(&s, 0, sizeof s);
    s.type = type;
    s.bias = 1;
    s.kernel = type == SL_LAYER_CONV2D ? 3 : 2;
    s.stride = type == SL_LAYER_CONV2D ? 1 : 0; /* pools: 0 means "= kernel" */
    s.alpha = type == SL_LAYER_LEAKY_RELU ? 0.01f : type == SL_LAYER_PRELU ? 0.25f : 1.0f;
    s.p = 0.5f;
    s.lower = 1.0f / 8.0f;
    s.upper = 1.0f / 3.0f;
    s.momentum = 0.1f;
    s.eps = 1e-5f;
    return s;
}

static const char *const init_names[] = {"kaiming_uniform", "kaiming_normal", "xavier_uniform",
                                         "xavier_normal", "pytorch"};

const char *sl_init_name(sl_init_kind kind)
{
    if ((int)kind < 0 || kind > SL_INIT_PYTORCH)
        return "unknown";
    return init_names[kind];
}

sl_status sl_init_parse(const char *name, sl_init_kind *kind, sl_error *err)
{
    for (int k = 0; k <= SL_INIT_PYTORCH; k++)
        if (name && strcmp(name, init_names[k]) == 0) {
            *kind = (sl_init_kind)k;
            return SL_OK;
        }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "unknown init \"%s\" (expected one of: kaiming_uniform, kaiming_normal, "
                        "xavier_uniform, xavier_normal, pytorch)",
                        name ? name : "(null)");
}

/* ---- validation and shape inference ------------------------------------------- */

/* Kernel, stride and padding of conv2d and the pools. */
static sl_status window_problem(const sl_layer_spec *s, sl_error *err)
{
    const char *name = sl_layer_type_name(s->type);
    int min_stride = s->type == SL_LAYER_CONV2D ? 1 : 0; /* a pool's 0 means "= kernel" */
    if (s->kernel < 1 || s->stride < min_stride || s->padding < 0)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: kernel must be >= 1, stride >= 1 and padding >= 0", name);
    if (s->type != SL_LAYER_CONV2D && s->padding > s->kernel / 2)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: padding %d exceeds half the kernel (%d)",
                            name, s->padding, s->kernel);
    return SL_OK;
}

static sl_status spec_problem(const sl_layer_spec *s, sl_error *err)
{
    const char *name = sl_layer_type_name(s->type);
    switch (s->type) {
    case SL_LAYER_LINEAR:
    case SL_LAYER_CONV2D:
        if (s->out < 1)
            return sl_error_set(err, SL_ERR_CONFIG, "%s: out must be >= 1, got %lld", name,
                                (long long)s->out);
        return s->type == SL_LAYER_LINEAR ? SL_OK : window_problem(s, err);
    case SL_LAYER_MAX_POOL2D:
    case SL_LAYER_AVG_POOL2D:
        return window_problem(s, err);
    case SL_LAYER_DROPOUT:
        if (!(s->p >= 0.0f && s->p < 1.0f))
            return sl_error_set(err, SL_ERR_CONFIG, "dropout: p must be in [0, 1), got %g",
                                (double)s->p);
        return SL_OK;
    case SL_LAYER_BATCH_NORM:
        if (!(s->eps > 0.0f) || !(s->momentum >= 0.0f && s->momentum <= 1.0f))
            return sl_error_set(err, SL_ERR_CONFIG,
                                "batch_norm: eps must be > 0 and momentum in [0, 1]");
        return SL_OK;
    case SL_LAYER_LEAKY_RELU:
    case SL_LAYER_PRELU:
    case SL_LAYER_ELU:
        if (!isfinite(s->alpha))
            return sl_error_set(err, SL_ERR_CONFIG, "%s: alpha must be a finite number", name);
        return SL_OK;
    case SL_LAYER_RRELU:
        if (!(s->lower >= 0.0f && s->lower <= s->upper && isfinite(s->upper)))
            return sl_error_set(err, SL_ERR_CONFIG, "rrelu: need 0 <= lower <= upper");
        return SL_OK;
    default:
        if ((int)s->type < 0 || s->type >= SL_LAYER_TYPE_COUNT)
            return sl_error_set(err, SL_ERR_CONFIG, "unknown layer type %d", (int)s->type);
        return SL_OK;
    }
}

static int64_t out_size(int64_t in, int k, int stride, int pad)
{
    return (in + 2 * (int64_t)pad - k) / stride + 1;
}

/* Output shape of one sample; the spec is valid.  Returns a reason on a misfit. */
static const char *infer_shape(sl_layer_spec *s, const sl_shape *in, sl_shape *out)
{
    *out = *in;
    switch (s->type) {
    case SL_LAYER_LINEAR:
        if (in->ndim != 1)
            return "linear needs a flat input [F]; add a flatten layer before it";
        out->dim[0] = s->out;
        return NULL;
    case SL_LAYER_CONV2D:
    case SL_LAYER_MAX_POOL2D:
    case SL_LAYER_AVG_POOL2D:
        if (in->ndim != 3)
            return "needs an image input [C, H, W]";
        if (s->stride == 0)
            s->stride = s->kernel;
        if (in->dim[1] + 2 * s->padding < s->kernel || in->dim[2] + 2 * s->padding < s->kernel)
            return "the kernel is larger than the (padded) input";
        if (s->type == SL_LAYER_CONV2D)
            out->dim[0] = s->out;
        out->dim[1] = out_size(in->dim[1], s->kernel, s->stride, s->padding);
        out->dim[2] = out_size(in->dim[2], s->kernel, s->stride, s->padding);
        return NULL;
    case SL_LAYER_FLATTEN:
        out->ndim = 1;
        out->dim[0] = in->dim[0] * (in->ndim > 1 ? in->dim[1] : 1) * (in->ndim > 2 ? in->dim[2] : 1);
        return NULL;
    default:
        return NULL; /* elementwise layers keep the shape */
    }
}

sl_status sl_nn_layer_prepare(sl_layer_spec *spec, int index, const sl_shape *in, sl_shape *out,
                              sl_error *err)
{
    sl_error inner = {0};
    if (spec_problem(spec, &inner) != SL_OK)
        return sl_error_set(err, inner.status, "layer %d (%s): %s", index,
                            sl_layer_type_name(spec->type), inner.message);
    const char *misfit = infer_shape(spec, in, out);
    if (misfit) {
        char sin[64];
        return sl_error_set(err, SL_ERR_SHAPE, "layer %d (%s): input %s: %s", index,
                            sl_layer_type_name(spec->type), sl_nn_shape_str(in, sin, sizeof sin),
                            misfit);
    }
    return SL_OK;
}

char *sl_nn_shape_str(const sl_shape *s, char *buf, size_t size)
{
    sl_tensor t;
    memset(&t, 0, sizeof t);
    t.ndim = s->ndim;
    for (int i = 0; i < s->ndim; i++)
        t.shape[i] = s->dim[i];
    return sl_shape_str(&t, buf, size);
}

/* ---- initialisation gain and FLOPs ---------------------------------------------------- */

double sl_nn_gain_for(const sl_layer_spec *act)
{
    if (!act)
        return 1.0;
    double a;
    switch (act->type) {
    case SL_LAYER_RELU:
    case SL_LAYER_ELU:
        return sqrt(2.0);
    case SL_LAYER_LEAKY_RELU:
    case SL_LAYER_PRELU:
        a = act->alpha;
        return sqrt(2.0 / (1.0 + a * a));
    case SL_LAYER_RRELU:
        a = 0.5 * (act->lower + act->upper);
        return sqrt(2.0 / (1.0 + a * a));
    case SL_LAYER_TANH:
        return 5.0 / 3.0;
    case SL_LAYER_SELU:
        return 0.75;
    default:
        return 1.0;
    }
}

/* a * b for non-negative counts, saturating at INT64_MAX. */
static int64_t mul_sat(int64_t a, int64_t b)
{
    return (b != 0 && a > INT64_MAX / b) ? INT64_MAX : a * b;
}

int64_t sl_nn_layer_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out)
{
    switch (s->type) {
    case SL_LAYER_LINEAR:
        return mul_sat(in->dim[0], out->dim[0]);
    case SL_LAYER_CONV2D: {
        int64_t per_output = mul_sat(mul_sat(in->dim[0], s->kernel), s->kernel);
        return mul_sat(mul_sat(mul_sat(out->dim[0], out->dim[1]), out->dim[2]), per_output);
    }
    default:
        return 0;
    }
}
