/*
 * nn_layers.c - the layer table: one sl_layer_def row per layer type, and
 * the small functions the rows point to.  This is the only file that knows
 * what a layer type is; the config, the model, the statistics and the
 * layer reference read the rows (see sl_layer_def in slope/nn.h).
 *
 * Adding a layer type: its enum value (slope/nn.h), its op, its row here
 * (the _Static_assert below counts them) and its tests.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>

#include "nn_internal.h"
#include "slope/ops.h"

#define INT32_LIMIT 2147483647.0
#define KERNEL_MAX 4096.0

/* ---- keys -------------------------------------------------------------------------- */

#define SPEC_OFFSET(field) offsetof(sl_layer_spec, field)
#define INT_KEY(nm, field, d, l, h, dc)                                                           \
    {.name = nm, .kind = SL_KEY_INT, .offset = SPEC_OFFSET(field), .def = d, .lo = l, .hi = h,   \
     .doc = dc}
#define FLOAT_KEY(nm, field, d, l, h, lo_o, hi_o, dc)                                             \
    {.name = nm, .kind = SL_KEY_FLOAT, .offset = SPEC_OFFSET(field), .def = d, .lo = l,          \
     .hi = h, .lo_open = lo_o, .hi_open = hi_o, .doc = dc}
#define BIAS_KEY                                                                                  \
    {.name = "bias", .kind = SL_KEY_BOOL, .offset = SPEC_OFFSET(bias), .def = 1, .lo = 0,        \
     .hi = 1, .doc = "learn a bias"}
#define OUT_KEY(dc)                                                                               \
    {.name = "out", .kind = SL_KEY_INT64, .offset = SPEC_OFFSET(out), .def = 0, .lo = 1,         \
     .hi = INT32_LIMIT, .required = 1, .doc = dc}
#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

static const sl_layer_key linear_keys[] = {OUT_KEY("output features"), BIAS_KEY};

static const sl_layer_key conv_keys[] = {
    OUT_KEY("output channels"),
    INT_KEY("kernel", kernel, 3, 1, KERNEL_MAX, "kernel size (square)"),
    INT_KEY("stride", stride, 1, 1, KERNEL_MAX, "step between windows"),
    INT_KEY("padding", padding, 0, 0, KERNEL_MAX, "zeros added on each side"),
    BIAS_KEY,
};

/* A pool's stride defaults to its kernel: 0 in the spec until the check fills it. */
static const sl_layer_key pool_keys[] = {
    INT_KEY("kernel", kernel, 2, 1, KERNEL_MAX, "window size (square)"),
    {.name = "stride", .kind = SL_KEY_INT, .offset = SPEC_OFFSET(stride), .def = 0, .lo = 1,
     .hi = KERNEL_MAX, .def_doc = "the kernel", .doc = "step between windows"},
    INT_KEY("padding", padding, 0, 0, KERNEL_MAX, "added on each side; at most half the kernel"),
};

static const sl_layer_key dropout_keys[] = {
    FLOAT_KEY("p", p, 0.5, 0.0, 1.0, 0, 1, "probability of zeroing a value"),
};

static const sl_layer_key norm_keys[] = {
    FLOAT_KEY("momentum", momentum, 0.1, 0.0, 1.0, 0, 0, "weight of a batch in the running "
                                                         "statistics"),
    FLOAT_KEY("eps", eps, 1e-5, 0.0, INFINITY, 1, 0, "added to the variance"),
};

static const sl_layer_key leaky_keys[] = {
    FLOAT_KEY("alpha", alpha, 0.01, 0.0, 1.0, 0, 0, "slope for x < 0"),
};

static const sl_layer_choice prelu_counts[] = {
    {.name = "shared", .json = NULL, .number = 1, .doc = "one shared slope"},
    {.name = "channel", .json = "channel", .doc = "one per channel"},
};

static const sl_layer_key prelu_keys[] = {
    {.name = "num_parameters", .kind = SL_KEY_CHOICE, .offset = SPEC_OFFSET(per_channel),
     .def = 0, .lo = 0, .hi = 1, .choices = prelu_counts, .n_choices = COUNT(prelu_counts),
     .doc = "how many slopes"},
    FLOAT_KEY("init", alpha, 0.25, 0.0, 1.0, 0, 0, "initial slope"),
};

static const sl_layer_key rrelu_keys[] = {
    FLOAT_KEY("lower", lower, 1.0 / 8.0, 0.0, 1.0, 0, 0, "smallest slope"),
    FLOAT_KEY("upper", upper, 1.0 / 3.0, 0.0, 1.0, 0, 0, "largest slope (>= lower)"),
};

static const sl_layer_key elu_keys[] = {
    FLOAT_KEY("alpha", alpha, 1.0, 0.0, INFINITY, 1, 0, "-alpha is the limit for x -> -inf"),
};

static const sl_layer_choice shortcut_kinds[] = {
    {.name = "identity", .json = "identity", .doc = "x itself; the body must keep its shape"},
    {.name = "projection", .json = "projection",
     .doc = "a 1x1 conv2d (strided when the body downsamples) or a linear layer"},
};

static const sl_layer_key residual_keys[] = {
    {.name = "shortcut", .kind = SL_KEY_CHOICE, .offset = SPEC_OFFSET(shortcut), .def = 0,
     .lo = 0, .hi = 1, .choices = shortcut_kinds, .n_choices = COUNT(shortcut_kinds),
     .doc = "what is added to the body's output"},
    {.name = "bias", .kind = SL_KEY_BOOL, .offset = SPEC_OFFSET(bias), .def = 1, .lo = 0,
     .hi = 1, .doc = "projection: learn a bias, as torch's Conv2d/Linear default"},
};

static const sl_layer_choice rnn_acts[] = {
    {.name = "tanh", .json = "tanh", .doc = "torch's default"},
    {.name = "relu", .json = "relu", .doc = "max(x, 0)"},
    {.name = "leaky_relu", .json = "leaky_relu", .doc = "slope alpha below 0"},
    {.name = "prelu", .json = "prelu", .doc = "learned slopes, from alpha"},
};

static const sl_layer_choice rnn_slopes[] = {
    {.name = "shared", .json = NULL, .number = 1, .doc = "one shared slope"},
    {.name = "channel", .json = "channel", .doc = "one per hidden unit"},
};

static const sl_layer_choice rnn_inits[] = {
    {.name = "default", .json = "default", .doc = "all U(+-1/sqrt(hidden)), as torch"},
    {.name = "identity", .json = "identity", .doc = "W_hh = I, biases 0 (IRNN)"},
    {.name = "orthogonal", .json = "orthogonal", .doc = "W_hh random orthogonal"},
};

static const sl_layer_choice rnn_returns[] = {
    {.name = "last", .json = "last", .doc = "the last state h_T: [hidden]"},
    {.name = "sequence", .json = "sequence", .doc = "every state: [T, hidden]"},
};

#define CHOICE_KEY(nm, field, ch, dc)                                                             \
    {.name = nm, .kind = SL_KEY_CHOICE, .offset = SPEC_OFFSET(field), .def = 0, .lo = 0,         \
     .hi = COUNT(ch) - 1, .choices = ch, .n_choices = COUNT(ch), .doc = dc}

/* alpha's default depends on the activation: -1 (unset) until sl_nn_rnn_check fills it. */
static const sl_layer_key rnn_keys[] = {
    {.name = "hidden", .kind = SL_KEY_INT64, .offset = SPEC_OFFSET(out), .def = 0, .lo = 1,
     .hi = INT32_LIMIT, .required = 1, .doc = "hidden units H"},
    CHOICE_KEY("activation", act, rnn_acts, "the nonlinearity of h_t = act(pre_t)"),
    {.name = "alpha", .kind = SL_KEY_FLOAT, .offset = SPEC_OFFSET(alpha), .def = -1, .lo = 0,
     .hi = 1, .def_doc = "0.01 (leaky_relu), 0.25 (prelu)",
     .doc = "leaky_relu's slope for x < 0; prelu's initial slope"},
    CHOICE_KEY("num_parameters", per_channel, rnn_slopes, "prelu: how many slopes"),
    CHOICE_KEY("init", recurrent_init, rnn_inits, "W_hh's init; W_ih always as default"),
    CHOICE_KEY("return", sequence, rnn_returns, "what the layer outputs"),
    BIAS_KEY,
};

/* ---- cross-key rules ----------------------------------------------------------------- */

static const char *pool_check(sl_layer_spec *s, unsigned given, char *msg, size_t size)
{
    (void)given;
    if (s->stride == 0)
        s->stride = s->kernel;
    if (s->padding <= s->kernel / 2)
        return NULL;
    /* PyTorch's rule for pools. */
    snprintf(msg, size, "must be <= %d, got %d", s->kernel / 2, s->padding);
    return "padding";
}

static const char *rrelu_check(sl_layer_spec *s, unsigned given, char *msg, size_t size)
{
    if (s->lower <= s->upper)
        return NULL;
    snprintf(msg, size, "needs lower <= upper, got lower %g and upper %g", (double)s->lower,
             (double)s->upper);
    /* Blame the one the user wrote: bit 1 is rrelu_keys[1], "upper". */
    return (given & 2u) ? "upper" : "lower";
}

/* ---- shapes -------------------------------------------------------------------------- */

static const char *linear_shape(const sl_layer_spec *s, const sl_shape *in, sl_shape *out)
{
    if (in->ndim != 1)
        return "linear needs a flat input [F]; add a flatten layer before it";
    out->ndim = 1;
    out->dim[0] = s->out;
    return NULL;
}

static int64_t window_out(int64_t in, int k, int stride, int pad)
{
    return (in + 2 * (int64_t)pad - k) / stride + 1;
}

/* The pools (stride already derived), and conv2d's spatial size. */
static const char *window_shape(const sl_layer_spec *s, const sl_shape *in, sl_shape *out)
{
    if (in->ndim != 3)
        return "needs an image input [C, H, W]";
    if (in->dim[1] + 2 * s->padding < s->kernel || in->dim[2] + 2 * s->padding < s->kernel)
        return "the kernel is larger than the (padded) input";
    *out = *in;
    out->dim[1] = window_out(in->dim[1], s->kernel, s->stride, s->padding);
    out->dim[2] = window_out(in->dim[2], s->kernel, s->stride, s->padding);
    return NULL;
}

static const char *conv_shape(const sl_layer_spec *s, const sl_shape *in, sl_shape *out)
{
    const char *misfit = window_shape(s, in, out);
    out->dim[0] = s->out;
    return misfit;
}

static const char *flatten_shape(const sl_layer_spec *s, const sl_shape *in, sl_shape *out)
{
    (void)s;
    out->ndim = 1;
    out->dim[0] = in->dim[0] * (in->ndim > 1 ? in->dim[1] : 1) * (in->ndim > 2 ? in->dim[2] : 1);
    return NULL;
}

/* ---- parameters ---------------------------------------------------------------------- */

static const sl_layer_param linear_params[] = {
    {"weight", SL_PARAM_WEIGHT, SL_FILL_WEIGHT, "[out, in]"},
    {"bias", SL_PARAM_BIAS, SL_FILL_BIAS, "[out], when bias"},
};
static const sl_layer_param conv_params[] = {
    {"weight", SL_PARAM_WEIGHT, SL_FILL_WEIGHT, "[out, in channels, kernel, kernel]"},
    {"bias", SL_PARAM_BIAS, SL_FILL_BIAS, "[out], when bias"},
};
static const sl_layer_param prelu_params[] = {
    {"weight", SL_PARAM_PRELU_SLOPE, SL_FILL_ALPHA, "[1], or [channels]"},
};
static const sl_layer_param norm_params[] = {
    {"weight", SL_PARAM_NORM_SCALE, SL_FILL_ONE, "[channels] (gamma)"},
    {"bias", SL_PARAM_NORM_SHIFT, SL_FILL_ZERO, "[channels] (beta)"},
    {"running_mean", SL_PARAM_BUFFER, SL_FILL_ZERO, "[channels], not trained"},
    {"running_var", SL_PARAM_BUFFER, SL_FILL_ONE, "[channels], not trained"},
};

/* torch.nn.RNN's names (one layer, "_l0"); the slopes of the prelu activation after them. */
static const sl_layer_param rnn_params[] = {
    {"weight_ih_l0", SL_PARAM_WEIGHT, SL_FILL_OWN, "[hidden, in features]"},
    {"weight_hh_l0", SL_PARAM_WEIGHT, SL_FILL_OWN, "[hidden, hidden]"},
    {"bias_ih_l0", SL_PARAM_BIAS, SL_FILL_OWN, "[hidden], when bias"},
    {"bias_hh_l0", SL_PARAM_BIAS, SL_FILL_OWN, "[hidden], when bias"},
    {"prelu.weight", SL_PARAM_PRELU_SLOPE, SL_FILL_ALPHA, "[1] or [hidden], when prelu"},
};

/* A residual's out and stride are filled when its block closes (sl_model_end_block). */
static const sl_layer_param residual_params[] = {
    {"shortcut.weight", SL_PARAM_WEIGHT, SL_FILL_WEIGHT,
     "projection: [out, in channels, 1, 1], or [out, in]"},
    {"shortcut.bias", SL_PARAM_BIAS, SL_FILL_BIAS, "[out], when projection and bias"},
};

static int vector(int64_t n, int64_t *shape)
{
    shape[0] = n;
    return 1;
}

static int linear_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape)
{
    if (k == 1)
        return s->bias ? vector(s->out, shape) : 0;
    shape[0] = s->out;
    shape[1] = in->dim[0];
    return 2;
}

static int conv_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape)
{
    if (k == 1)
        return s->bias ? vector(s->out, shape) : 0;
    shape[0] = s->out;
    shape[1] = in->dim[0];
    shape[2] = shape[3] = s->kernel;
    return 4;
}

static int residual_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape)
{
    if (!s->shortcut)
        return 0;
    if (k == 1)
        return s->bias ? vector(s->out, shape) : 0;
    shape[0] = s->out;
    shape[1] = in->dim[0];
    if (in->ndim != 3)
        return 2;
    shape[2] = shape[3] = 1;
    return 4;
}

static int prelu_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape)
{
    (void)k;
    return vector(s->per_channel ? in->dim[0] : 1, shape);
}

static int norm_param(const sl_layer_spec *s, int k, const sl_shape *in, int64_t *shape)
{
    (void)s;
    (void)k;
    return vector(in->dim[0], shape);
}

/* ---- init gains ---------------------------------------------------------------------- */

static double slope_gain(double a)
{
    return sqrt(2.0 / (1.0 + a * a));
}

static double sqrt2_gain(const sl_layer_spec *s)
{
    (void)s;
    return sqrt(2.0);
}

static double alpha_gain(const sl_layer_spec *s)
{
    return slope_gain(s->alpha);
}

static double rrelu_gain(const sl_layer_spec *s)
{
    return slope_gain(0.5 * (s->lower + s->upper));
}

static double tanh_gain(const sl_layer_spec *s)
{
    (void)s;
    return 5.0 / 3.0;
}

static double selu_gain(const sl_layer_spec *s)
{
    (void)s;
    return 0.75;
}

/* ---- forward --------------------------------------------------------------------------- */

/* A forward that records expr; s, x, p and in_place are in scope. */
#define FORWARD(fn, expr)                                                                         \
    static sl_tensor *fn(sl_graph *g, const sl_layer_spec *s, sl_tensor *x, sl_tensor *const *p, \
                         int in_place)                                                           \
    {                                                                                             \
        (void)s, (void)p, (void)in_place;                                                         \
        return expr;                                                                              \
    }

FORWARD(linear_fwd, sl_linear(g, x, p[0], p[1]))
FORWARD(conv_fwd, sl_conv2d(g, x, p[0], p[1], s->stride, s->padding))
FORWARD(max_pool_fwd, sl_max_pool2d(g, x, s->kernel, s->stride, s->padding))
FORWARD(avg_pool_fwd, sl_avg_pool2d(g, x, s->kernel, s->stride, s->padding))
FORWARD(flatten_fwd, sl_flatten(g, x))
FORWARD(dropout_fwd, sl_dropout(g, x, s->p))
FORWARD(norm_fwd, sl_batch_norm(g, x, p[0], p[1], p[2], p[3], s->momentum, s->eps))
FORWARD(relu_fwd, in_place ? sl_relu_(g, x) : sl_relu(g, x))
/* In place, backward reads the sign of the output: only for a non-negative slope. */
FORWARD(leaky_fwd, in_place && s->alpha >= 0.0f ? sl_leaky_relu_(g, x, s->alpha)
                                                : sl_leaky_relu(g, x, s->alpha))
FORWARD(prelu_fwd, sl_prelu(g, x, p[0]))
FORWARD(rrelu_fwd, sl_rrelu(g, x, s->lower, s->upper))
FORWARD(elu_fwd, sl_elu(g, x, s->alpha))
FORWARD(selu_fwd, sl_selu(g, x))
FORWARD(sigmoid_fwd, sl_sigmoid(g, x))
FORWARD(tanh_fwd, sl_tanh(g, x))
FORWARD(gelu_fwd, sl_gelu(g, x))

/* A residual's own forward is its shortcut; the model adds the body's output to it. */
static sl_tensor *residual_fwd(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                               sl_tensor *const *p, int in_place)
{
    (void)in_place;
    if (!s->shortcut)
        return x;
    if (x->ndim == 4)
        return sl_conv2d(g, x, p[0], p[1], s->stride, 0);
    return sl_linear(g, x, p[0], p[1]);
}

/* ---- multiply-adds --------------------------------------------------------------------- */

/* a * b for non-negative counts, saturating at INT64_MAX. */
static int64_t mul_sat(int64_t a, int64_t b)
{
    return (b != 0 && a > INT64_MAX / b) ? INT64_MAX : a * b;
}

static int64_t linear_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out)
{
    (void)s;
    return mul_sat(in->dim[0], out->dim[0]);
}

static int64_t conv_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out)
{
    int64_t per_output = mul_sat(mul_sat(in->dim[0], s->kernel), s->kernel);
    return mul_sat(mul_sat(mul_sat(out->dim[0], out->dim[1]), out->dim[2]), per_output);
}

/* The projection (a 1x1 conv or a linear layer), then one addition per output value. */
static int64_t residual_macs(const sl_layer_spec *s, const sl_shape *in, const sl_shape *out)
{
    int64_t values = out->dim[0];
    for (int d = 1; d < out->ndim; d++)
        values = mul_sat(values, out->dim[d]);
    int64_t projection = s->shortcut ? mul_sat(values, in->dim[0]) : 0;
    return projection > INT64_MAX - values ? INT64_MAX : projection + values;
}

/* ---- the table ------------------------------------------------------------------------- */

#define KEYS(k) .keys = k, .n_keys = COUNT(k)
#define PARAMS(p) .params = p, .n_params = COUNT(p)
/* An activation row: elementwise, its input is the pre-activation. */
#define ACTIVATION(t, nm) .type = t, .name = nm, .flags = SL_LAYER_ACTIVATION

const sl_layer_def sl_nn_layer_table[] = {
    [SL_LAYER_LINEAR] = {.type = SL_LAYER_LINEAR, .name = "linear",
                         .doc = "Fully connected: y = x W^T + b, on a flat input [F].",
                         .flags = SL_LAYER_WEIGHTED | SL_LAYER_OUTPUT_REUSABLE, KEYS(linear_keys),
                         PARAMS(linear_params), .shape = linear_shape,
                         .param_shape = linear_param, .forward = linear_fwd,
                         .macs = linear_macs},
    [SL_LAYER_CONV2D] = {.type = SL_LAYER_CONV2D, .name = "conv2d",
                         .doc = "2-d cross-correlation over [C, H, W], square kernel, zero "
                                "padding.",
                         .flags = SL_LAYER_WEIGHTED | SL_LAYER_OUTPUT_REUSABLE, KEYS(conv_keys),
                         PARAMS(conv_params), .shape = conv_shape, .param_shape = conv_param,
                         .forward = conv_fwd, .macs = conv_macs},
    [SL_LAYER_MAX_POOL2D] = {.type = SL_LAYER_MAX_POOL2D, .name = "max_pool2d",
                             .doc = "Maximum over each window of [C, H, W] (padding is -inf).",
                             KEYS(pool_keys), .check = pool_check, .shape = window_shape,
                             .forward = max_pool_fwd},
    [SL_LAYER_AVG_POOL2D] = {.type = SL_LAYER_AVG_POOL2D, .name = "avg_pool2d",
                             .doc = "Mean over each window of [C, H, W] (padding counts as "
                                    "zeros).",
                             KEYS(pool_keys), .check = pool_check, .shape = window_shape,
                             .forward = avg_pool_fwd},
    [SL_LAYER_FLATTEN] = {.type = SL_LAYER_FLATTEN, .name = "flatten",
                          .doc = "[C, H, W] -> [C*H*W].", .shape = flatten_shape,
                          .forward = flatten_fwd},
    [SL_LAYER_DROPOUT] = {.type = SL_LAYER_DROPOUT, .name = "dropout",
                          .doc = "Training: zeroes each value with probability p and scales the "
                                 "rest by 1/(1-p); evaluation: the identity.",
                          KEYS(dropout_keys), .forward = dropout_fwd},
    [SL_LAYER_BATCH_NORM] = {.type = SL_LAYER_BATCH_NORM, .name = "batch_norm",
                             .doc = "Batch normalisation, 1d on [F] or per channel on [C, H, W], "
                                    "with running statistics for evaluation.",
                             .flags = SL_LAYER_OUTPUT_REUSABLE, KEYS(norm_keys),
                             PARAMS(norm_params), .param_shape = norm_param,
                             .forward = norm_fwd},
    [SL_LAYER_RELU] = {.type = SL_LAYER_RELU, .name = "relu",
                       .flags = SL_LAYER_ACTIVATION | SL_LAYER_DIES, .doc = "max(x, 0).",
                       .forward = relu_fwd, .gain = sqrt2_gain, .gain_doc = "sqrt(2)"},
    [SL_LAYER_LEAKY_RELU] = {ACTIVATION(SL_LAYER_LEAKY_RELU, "leaky_relu"),
                             .doc = "x for x > 0, alpha x below.", KEYS(leaky_keys),
                             .forward = leaky_fwd, .gain = alpha_gain,
                             .gain_doc = "sqrt(2 / (1 + alpha^2))"},
    [SL_LAYER_PRELU] = {ACTIVATION(SL_LAYER_PRELU, "prelu"),
                        .doc = "Leaky ReLU with learned slopes (one shared, or one per channel).",
                        KEYS(prelu_keys), PARAMS(prelu_params), .param_shape = prelu_param,
                        .slope_param = "weight", .forward = prelu_fwd, .gain = alpha_gain,
                        .gain_doc = "sqrt(2 / (1 + init^2))"},
    [SL_LAYER_RRELU] = {ACTIVATION(SL_LAYER_RRELU, "rrelu"),
                        .doc = "Leaky ReLU whose slope is drawn from [lower, upper] per value "
                               "while training, their mean in evaluation.",
                        KEYS(rrelu_keys), .check = rrelu_check, .forward = rrelu_fwd,
                        .gain = rrelu_gain,
                        .gain_doc = "sqrt(2 / (1 + a^2)), a = (lower + upper) / 2"},
    [SL_LAYER_ELU] = {ACTIVATION(SL_LAYER_ELU, "elu"), .doc = "x for x > 0, alpha (e^x - 1) below.",
                      KEYS(elu_keys), .forward = elu_fwd, .gain = sqrt2_gain,
                      .gain_doc = "sqrt(2)"},
    [SL_LAYER_SELU] = {ACTIVATION(SL_LAYER_SELU, "selu"),
                       .doc = "scale * elu(x, alpha) with the self-normalising constants.",
                       .forward = selu_fwd, .gain = selu_gain, .gain_doc = "3/4"},
    [SL_LAYER_SIGMOID] = {ACTIVATION(SL_LAYER_SIGMOID, "sigmoid"), .doc = "1 / (1 + e^-x).",
                          .forward = sigmoid_fwd, .gain = NULL, .gain_doc = "1"},
    [SL_LAYER_TANH] = {ACTIVATION(SL_LAYER_TANH, "tanh"), .doc = "tanh(x).", .forward = tanh_fwd,
                       .gain = tanh_gain, .gain_doc = "5/3"},
    /* PyTorch's calculate_gain has no GELU; GELU tends to relu away from 0, so relu's gain. */
    [SL_LAYER_GELU] = {ACTIVATION(SL_LAYER_GELU, "gelu"),
                       .doc = "x Phi(x) = x/2 (1 + erf(x / sqrt 2)), the exact form of "
                              "torch.nn.GELU().",
                       .forward = gelu_fwd, .gain = sqrt2_gain,
                       .gain_doc = "sqrt(2), as relu (GELU tends to relu away from 0)"},
    /* Its backward (an addition) never reads its output: an activation after it runs in
     * place.  Its shape is the model's business: the output of its body. */
    [SL_LAYER_RESIDUAL] = {.type = SL_LAYER_RESIDUAL, .name = "residual",
                           .doc = "x + f(x): f is the block's own \"layers\" (any types, "
                                  "nested blocks too), x goes through the shortcut.",
                           .flags = SL_LAYER_CONTAINER | SL_LAYER_OUTPUT_REUSABLE,
                           KEYS(residual_keys), PARAMS(residual_params),
                           .param_shape = residual_param, .forward = residual_fwd,
                           .macs = residual_macs},
    /* Its backward reads its states (the output itself, for "sequence"): not reusable.
     * Weighted: an activation after it is not the gain of a layer before it. */
    [SL_LAYER_RNN] = {.type = SL_LAYER_RNN, .name = "rnn",
                      .doc = "Elman recurrence over a sequence [T, F], as torch.nn.RNN "
                             "(batch_first, h_0 = 0): h_t = act(x_t W_ih^T + b_ih + h_{t-1} "
                             "W_hh^T + b_hh).",
                      .flags = SL_LAYER_WEIGHTED | SL_LAYER_OWN_ACTIVATION, KEYS(rnn_keys),
                      PARAMS(rnn_params), .slope_param = "prelu.weight",
                      .check = sl_nn_rnn_check, .shape = sl_nn_rnn_shape,
                      .param_shape = sl_nn_rnn_param, .forward = sl_nn_rnn_forward,
                      .macs = sl_nn_rnn_macs, .forward_capture = sl_nn_rnn_forward_capture,
                      .activation = sl_nn_rnn_activation, .fill = sl_nn_rnn_fill},
};

_Static_assert(sizeof sl_nn_layer_table / sizeof sl_nn_layer_table[0] == SL_LAYER_TYPE_COUNT,
               "the layer table needs one row per sl_layer_type");
