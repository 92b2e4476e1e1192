/*
 * slope/nn.h - layers, the sequential model, and weight initialisation.
 *
 * A model is built in two phases: describe it (sl_model_new with the shape
 * of one sample, then sl_model_add per layer; each add infers the layer's
 * output shape and refuses one that does not fit, naming the layer), then
 * sl_model_init allocates every parameter in one contiguous buffer (and
 * every gradient in another, which optimizers and all-reduce use as flat
 * arrays) and draws the initial weights from the seed.
 *
 * Parameters are named as PyTorch's state_dict names them for an
 * nn.Sequential: "layers.<i>.weight" ([out, in] for linear, [O, C, kh, kw]
 * for conv2d), "layers.<i>.bias", "layers.<i>.weight" for PReLU slopes, and
 * "layers.<i>.running_mean" / "running_var" buffers for batch_norm.
 *
 * Ownership: the model owns its parameters; sl_model_param returns views
 * valid until sl_model_free.  Thread safety: one model is used by one thread
 * at a time; separate models in separate threads are safe.
 */
#ifndef SLOPE_NN_H
#define SLOPE_NN_H

#include <stddef.h>
#include <stdint.h>

#include "slope/error.h"
#include "slope/export.h"
#include "slope/graph.h"
#include "slope/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sl_layer_type {
    SL_LAYER_LINEAR,
    SL_LAYER_CONV2D,
    SL_LAYER_MAX_POOL2D,
    SL_LAYER_AVG_POOL2D,
    SL_LAYER_FLATTEN,
    SL_LAYER_DROPOUT,
    SL_LAYER_BATCH_NORM,   /**< 1d on [N, F], 2d on [N, C, H, W]: chosen by the input */
    SL_LAYER_RELU,
    SL_LAYER_LEAKY_RELU,
    SL_LAYER_PRELU,
    SL_LAYER_RRELU,
    SL_LAYER_ELU,
    SL_LAYER_SELU,
    SL_LAYER_SIGMOID,
    SL_LAYER_TANH,
    SL_LAYER_TYPE_COUNT
} sl_layer_type;

/** One layer's settings.  Start from sl_layer_defaults(type) and change what differs. */
typedef struct sl_layer_spec {
    sl_layer_type type;
    int64_t out;            /**< linear: output features; conv2d: output channels */
    int kernel;             /**< conv2d, pools: kernel size (square) */
    int stride;             /**< conv2d default 1; pools default = kernel */
    int padding;            /**< conv2d, pools; default 0 */
    int bias;               /**< linear, conv2d: 1 (default) for a bias */
    float alpha;            /**< leaky_relu slope (0.01), elu alpha (1.0), prelu initial slope (0.25) */
    int per_channel;        /**< prelu: 0 = one shared slope (default), 1 = one per channel */
    float p;                /**< dropout probability (0.5) */
    float lower, upper;     /**< rrelu slope range (1/8, 1/3) */
    float momentum, eps;    /**< batch_norm (0.1, 1e-5) */
} sl_layer_spec;

/** The defaults for a layer type (see the field comments). */
SL_API sl_layer_spec sl_layer_defaults(sl_layer_type type);
/** The config name of a type ("linear", "leaky_relu", ...). */
SL_API const char *sl_layer_type_name(sl_layer_type type);
/** Parses a config name; SL_ERR_CONFIG for an unknown one. */
SL_API sl_status sl_layer_type_parse(const char *name, sl_layer_type *type, sl_error *err);
/** 1 for relu, leaky_relu, prelu, rrelu, elu, selu, sigmoid, tanh. */
SL_API int sl_layer_is_activation(sl_layer_type type);

typedef enum sl_init_kind {
    SL_INIT_KAIMING_UNIFORM, /**< U(+-gain*sqrt(3/fan_in)), bias 0 */
    SL_INIT_KAIMING_NORMAL,  /**< N(0, gain/sqrt(fan_in)), bias 0 */
    SL_INIT_XAVIER_UNIFORM,  /**< U(+-gain*sqrt(6/(fan_in+fan_out))), bias 0 */
    SL_INIT_XAVIER_NORMAL,   /**< N(0, gain*sqrt(2/(fan_in+fan_out))), bias 0 */
    SL_INIT_PYTORCH          /**< PyTorch's default: weight and bias U(+-1/sqrt(fan_in)) */
} sl_init_kind;

SL_API const char *sl_init_name(sl_init_kind kind);
SL_API sl_status sl_init_parse(const char *name, sl_init_kind *kind, sl_error *err);

/** What a parameter is, for optimizer groups (no weight decay on slopes and biases by default). */
typedef enum sl_param_role {
    SL_PARAM_WEIGHT,      /**< linear and conv weights */
    SL_PARAM_BIAS,        /**< linear and conv biases */
    SL_PARAM_PRELU_SLOPE, /**< PReLU's learnable slopes */
    SL_PARAM_NORM_SCALE,  /**< batch_norm gamma */
    SL_PARAM_NORM_SHIFT,  /**< batch_norm beta */
    SL_PARAM_BUFFER       /**< running statistics: saved, never trained */
} sl_param_role;

typedef struct sl_param {
    const char *name;     /**< "layers.3.weight" */
    sl_tensor *tensor;    /**< data and grad are views into the model's flat buffers */
    sl_param_role role;
    int layer;            /**< index of the owning layer */
} sl_param;

typedef struct sl_model sl_model;

/** The most trainable scalars (and, separately, buffer scalars) a model may have: 2^31. */
#define SL_MODEL_MAX_PARAMS ((int64_t)1 << 31)

/**
 * An empty model for samples of the given shape (without the batch
 * dimension): [F] for features, [C, H, W] for images.  NULL on a bad shape.
 */
SL_API sl_model *sl_model_new(int ndim, const int64_t *sample_shape, sl_error *err);
SL_API void sl_model_free(sl_model *m);

/**
 * Appends a layer and infers its output shape.  Errors: SL_ERR_CONFIG for a
 * bad setting or when the layer would take the model past SL_MODEL_MAX_PARAMS
 * trainable parameters, SL_ERR_SHAPE when the input does not fit or the output
 * has more than 2^32 values per sample (the message names "layer <i> (<type>)"
 * and both shapes), SL_ERR_STATE after sl_model_init.  Nothing is allocated
 * for the parameters yet, so a 10^12-weight layer costs nothing to refuse.
 */
SL_API sl_status sl_model_add(sl_model *m, const sl_layer_spec *spec, sl_error *err);

/**
 * Allocates the parameters (first call) and draws them from seed: each
 * layer from its own stream (seed, layer index), so a layer's weights do not
 * depend on the layers around it.  Linear and conv weights use the gain of
 * the next activation layer (sqrt(2/(1+a^2)) for leaky_relu/prelu with slope
 * a, 5/3 for tanh, 3/4 for selu, 1 for none or sigmoid).  PReLU slopes are
 * set to their init, batch_norm to gamma 1, beta 0, mean 0, var 1.
 * Errors: SL_ERR_CONFIG for no layers or more than SL_MODEL_MAX_PARAMS
 * parameters; SL_ERR_NOMEM.
 */
SL_API sl_status sl_model_init(sl_model *m, sl_init_kind init, uint64_t seed, sl_error *err);

/**
 * Runs the model on x[N, ...sample shape] in graph g; returns the output
 * (arena tensor) or NULL with the error in g.  SL_ERR_STATE before init.
 */
SL_API sl_tensor *sl_model_forward(sl_model *m, sl_graph *g, sl_tensor *x);

SL_API size_t sl_model_num_layers(const sl_model *m);
SL_API const sl_layer_spec *sl_model_layer(const sl_model *m, size_t i);
/** Output shape of one sample after layer i; returns ndim.  Layer -1: the input. */
SL_API int sl_model_layer_shape(const sl_model *m, int i, int64_t *shape);
/** Output shape of one sample after the last layer; returns ndim. */
SL_API int sl_model_output_shape(const sl_model *m, int64_t *shape);
/** Multiply-adds per sample of layer i's forward pass (0 for layers that have none). */
SL_API int64_t sl_model_layer_flops(const sl_model *m, size_t i);
/** Number of trainable scalars of layer i (buffers excluded). */
SL_API int64_t sl_model_layer_param_count(const sl_model *m, size_t i);

/**
 * Parameters and buffers, in layer order (valid after init).  The entries
 * are one array: sl_model_param(m, 0) points to sl_model_num_params(m) of
 * them, which is what sl_optimizer_new takes.
 */
SL_API size_t sl_model_num_params(const sl_model *m);
SL_API const sl_param *sl_model_param(const sl_model *m, size_t i);
/** The named parameter or NULL. */
SL_API const sl_param *sl_model_find_param(const sl_model *m, const char *name);
/** Number of trainable scalars (buffers excluded): at most SL_MODEL_MAX_PARAMS. */
SL_API int64_t sl_model_param_count(const sl_model *m);
/**
 * The flat buffers behind every trainable parameter (buffers excluded), in
 * sl_model_param order: *n floats each.  For optimizers and all-reduce.
 */
SL_API float *sl_model_flat_params(sl_model *m, int64_t *n);
SL_API float *sl_model_flat_grads(sl_model *m, int64_t *n);
/** Zero-fills every gradient. */
SL_API void sl_model_zero_grad(sl_model *m);

/**
 * Activation capture, for the dying-neuron statistics.  When on, forward
 * keeps each activation layer's input (its pre-activation) and does not run
 * activations in place; sl_model_captured returns that arena tensor for
 * layer i (NULL if not an activation or not captured), valid until the
 * graph's next reset.  Off by default (no cost).
 */
SL_API void sl_model_set_capture(sl_model *m, int on);
SL_API sl_tensor *sl_model_captured(const sl_model *m, size_t i);

#ifdef __cplusplus
}
#endif
#endif
