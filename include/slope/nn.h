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
 * "layers.<i>.running_mean" / "running_var" buffers for batch_norm; an rnn
 * has torch.nn.RNN's "layers.<i>.weight_ih_l0" [H, F], "weight_hh_l0" [H, H],
 * "bias_ih_l0", "bias_hh_l0" [H] and, with the prelu activation, its slopes
 * "layers.<i>.prelu.weight" ([1] or [H]).
 * Inside a residual block the names nest as PyTorch nests modules: the
 * block's own layers are "layers.<i>.layers.<j>.<param>" (its j-th layer),
 * its projection shortcut "layers.<i>.shortcut.weight" / ".bias".
 *
 * The layers are one flat list in prefix order: a residual entry is followed
 * by the entries of its body (recursively), and its sl_layer_spec.body
 * counts them.  Layer indices (sl_model_layer, statistics, sl_param.layer)
 * are positions in that list; sl_model_layer_name gives an entry's path.
 *
 * Ownership: the model owns its parameters; sl_model_param returns views
 * valid until sl_model_free.  Thread safety: one model is used by one thread
 * at a time; separate models in separate threads are safe.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_NN_H
#define SLOPE_NN_H

#include <stddef.h>
#include <stdint.h>

#include "slope/data.h"
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
    SL_LAYER_GELU,         /**< exact erf form, as torch.nn.GELU() */
    SL_LAYER_RESIDUAL,     /**< x + f(x): a block holding its own layers (sl_model_end_block) */
    SL_LAYER_RNN,          /**< Elman recurrence over [T, F] (torch.nn.RNN), its own activation */
    SL_LAYER_TYPE_COUNT    /**< the layer table (sl_layer_def_of) has one row per type */
} sl_layer_type;

/**
 * One layer's settings.  Start from sl_layer_defaults(type) and change what
 * differs; which fields a type reads, and their ranges, are its row's keys.
 */
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
    int shortcut;           /**< residual: 0 = identity (default), 1 = projection */
    /**
     * residual: how many entries of the model's flat layer list form its body (the
     * entries right after it, nested blocks counted with their bodies).  Set by
     * sl_model_end_block and by the config reader; sl_model_add ignores it.
     */
    int body;
    int act;                /**< rnn: its activation, an sl_rnn_act (0 tanh, 1 relu, 2 leaky_relu,
                                 3 prelu) */
    int recurrent_init;     /**< rnn: W_hh's init, 0 torch's default, 1 identity, 2 orthogonal */
    int sequence;           /**< rnn: 0 returns the last state [H], 1 every state [T, H] */
} sl_layer_spec;

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

/* ---- the layer table ----------------------------------------------------------------
 *
 * Every layer type is one sl_layer_def row (src/nn_layers.c): its config name
 * and keys (with defaults, ranges and docs), shape inference, parameters,
 * init gain, forward (built from ops), multiply-adds and what the
 * statistics need.  The config reader and writer, validation, the model,
 * the statistics and the README's layer reference all read the rows, so a
 * new layer type is its enum value, its op and its row.  The table is
 * read-only; programs may walk it with sl_layer_def_of(0 .. SL_LAYER_TYPE_COUNT-1).
 */

/** The shape of one sample (no batch dimension): [F], [T, F] (a sequence) or [C, H, W]. */
typedef struct sl_sample_shape {
    int ndim;
    int64_t dim[3];
} sl_sample_shape;

/** How a key's value is stored in sl_layer_spec and spelled in a config. */
typedef enum sl_layer_key_kind {
    SL_KEY_INT,    /**< an int field; a JSON integer */
    SL_KEY_INT64,  /**< an int64_t field; a JSON integer */
    SL_KEY_FLOAT,  /**< a float field; a JSON number (finite) */
    SL_KEY_BOOL,   /**< an int field, 0 or 1; JSON true/false */
    SL_KEY_CHOICE  /**< an int field holding the index of one of the key's choices */
} sl_layer_key_kind;

/** One value of an SL_KEY_CHOICE key. */
typedef struct sl_layer_choice {
    const char *name;   /**< its token in a short spec ("channel") */
    const char *json;   /**< its JSON string, or NULL when JSON spells it as the number below */
    double number;      /**< its JSON number when json is NULL */
    const char *doc;    /**< "one per channel" */
} sl_layer_choice;

/** One config key of a layer type. */
typedef struct sl_layer_key {
    const char *name;          /**< the JSON key ("alpha") */
    sl_layer_key_kind kind;
    size_t offset;             /**< offsetof(sl_layer_spec, field) */
    double def;                /**< the default (bool: 0/1, choice: its index) */
    double lo, hi;             /**< the allowed range; +-INFINITY for none (ints: inclusive) */
    int lo_open, hi_open;      /**< floats: 1 excludes the bound */
    int required;              /**< 1: a config must give it (def is then unused) */
    const char *def_doc;       /**< non-NULL: def is a placeholder ("unset") and the row's check
                                    derives the value; this says from what ("the kernel") */
    const sl_layer_choice *choices; /**< SL_KEY_CHOICE: n_choices values */
    int n_choices;
    const char *doc;           /**< one line for the reference */
} sl_layer_key;

/** How sl_model_init fills a parameter. */
typedef enum sl_param_fill {
    SL_FILL_WEIGHT, /**< the init kind (sl_init_kind), with the gain of the next activation */
    SL_FILL_BIAS,   /**< 0, or U(+-1/sqrt(fan_in)) of the layer's weight (slot 0) for pytorch */
    SL_FILL_ZERO,
    SL_FILL_ONE,
    SL_FILL_ALPHA,  /**< the spec's alpha (PReLU's initial slope) */
    SL_FILL_OWN     /**< the row's own fill (rnn: torch.nn.RNN's uniform, or W_hh's init key),
                         whatever the model's init kind */
} sl_param_fill;

/** One parameter (or buffer) slot of a layer type: "layers.<i>.<name>". */
typedef struct sl_layer_param {
    const char *name;   /**< "weight", "bias", "running_mean", ... */
    sl_param_role role;
    sl_param_fill fill;
    const char *doc;    /**< its shape, for the reference: "[out, in]" */
} sl_layer_param;

/** The most parameter slots, and keys, a layer type has. */
#define SL_LAYER_MAX_PARAMS 5
#define SL_LAYER_MAX_KEYS 8

/** Row flags. */
#define SL_LAYER_ACTIVATION 1u      /**< an elementwise activation: its input is the
                                         pre-activation (statistics, capture), its gain goes
                                         to the weight layer before it */
#define SL_LAYER_WEIGHTED 2u        /**< its weight (slot 0) takes the gain of the next
                                         activation, and it ends the search for one */
#define SL_LAYER_OUTPUT_REUSABLE 4u /**< its backward never reads its output: an activation
                                         right after it may run in place */
#define SL_LAYER_DIES 8u            /**< an activation giving 0 and no gradient for x <= 0
                                         (relu): a unit <= 0 on every input is "dead"; of the
                                         other activations such a unit is "inactive" */
#define SL_LAYER_CONTAINER 16u      /**< a block (residual): the entries after it, up to its
                                         sl_layer_spec.body, are its own layers; its forward is
                                         the shortcut, added to the body's output */
#define SL_LAYER_OWN_ACTIVATION 32u /**< a layer applying an activation of its own (rnn): the
                                         statistics count its units from the pre-activation
                                         its capture gives, laid out [N, positions, units] */

struct sl_rng;

typedef struct sl_layer_def {
    sl_layer_type type;
    const char *name;             /**< the config name ("leaky_relu") */
    const char *doc;              /**< one line for the reference */
    unsigned flags;               /**< SL_LAYER_ACTIVATION | ... */
    const sl_layer_key *keys;     /**< n_keys keys, in config (and emission) order */
    int n_keys;
    const sl_layer_param *params; /**< n_params slots, in init (and rng draw) order */
    int n_params;
    const char *slope_param;      /**< statistics: the slot holding its learnable slopes, or NULL */
    const char *gain_doc;         /**< activations: the init gain it gives, as text */
    /**
     * Cross-key rules and derived defaults, after every key is in range
     * (NULL: none).  given has bit k set when key k was given explicitly.
     * Returns NULL when s is fine, else the key at fault with the reason in msg.
     */
    const char *(*check)(sl_layer_spec *s, unsigned given, char *msg, size_t size);
    /** The output shape of one sample, or a reason the input does not fit (NULL: same shape). */
    const char *(*shape)(const sl_layer_spec *s, const sl_sample_shape *in, sl_sample_shape *out);
    /** Slot k's shape into shape[4]; returns its ndim, 0 when the spec has no such parameter. */
    int (*param_shape)(const sl_layer_spec *s, int k, const sl_sample_shape *in, int64_t *shape);
    /** Activations: the init gain for the weight before it (NULL: 1). */
    double (*gain)(const sl_layer_spec *s);
    /**
     * Records the layer on x: p holds n_params tensors (NULL for an absent
     * one); in_place allows overwriting x (activations after an
     * SL_LAYER_OUTPUT_REUSABLE layer).  NULL with the error in g.
     */
    sl_tensor *(*forward)(sl_graph *g, const sl_layer_spec *s, sl_tensor *x, sl_tensor *const *p,
                          int in_place);
    /** Multiply-adds per sample (NULL: 0). */
    int64_t (*macs)(const sl_layer_spec *s, const sl_sample_shape *in, const sl_sample_shape *out);
    /**
     * SL_LAYER_OWN_ACTIVATION rows: forward that also gives the pre-activation (*pre, with
     * its gradient after backward) and the activation's output (*post), both arena tensors
     * [N, positions, units]; NULL with the error in g.
     */
    sl_tensor *(*forward_capture)(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                                  sl_tensor *const *p, sl_tensor **pre, sl_tensor **post);
    /** SL_LAYER_OWN_ACTIVATION rows: the activation it applies (SL_LAYER_TANH, ...). */
    sl_layer_type (*activation)(const sl_layer_spec *s);
    /** SL_FILL_OWN slots: fills slot k (shape in t) drawing from r. */
    void (*fill)(const sl_layer_spec *s, int k, sl_tensor *t, struct sl_rng *r);
} sl_layer_def;

/** The row of a type; NULL for a value out of range. */
SL_API const sl_layer_def *sl_layer_def_of(sl_layer_type type);
/** The row named name ("leaky_relu"); NULL when none is. */
SL_API const sl_layer_def *sl_layer_def_find(const char *name);

/** The defaults for a layer type: each key of its row at its default, other fields 0. */
SL_API sl_layer_spec sl_layer_defaults(sl_layer_type type);
/** The config name of a type ("linear", "leaky_relu", ...); "unknown" out of range. */
SL_API const char *sl_layer_type_name(sl_layer_type type);
/** Parses a config name; SL_ERR_CONFIG for an unknown one (the message lists every name). */
SL_API sl_status sl_layer_type_parse(const char *name, sl_layer_type *type, sl_error *err);
/** 1 for the activation rows (SL_LAYER_ACTIVATION), else 0. */
SL_API int sl_layer_is_activation(sl_layer_type type);
/**
 * The activation a layer applies, whose pre-activation the statistics watch: an
 * activation layer's own type, an rnn's activation (SL_LAYER_TANH, SL_LAYER_RELU,
 * SL_LAYER_LEAKY_RELU or SL_LAYER_PRELU); SL_LAYER_TYPE_COUNT for other layers and NULL.
 */
SL_API sl_layer_type sl_layer_activation_of(const sl_layer_spec *spec);

/**
 * Checks spec against its row: every key in range, then the row's check
 * (which fills derived defaults, such as a pool's stride).  SL_ERR_CONFIG
 * "<key> must be ..." for a bad one.
 */
SL_API sl_status sl_layer_spec_check(sl_layer_spec *spec, sl_error *err);

/**
 * Parses a short activation spec, "name[:value]...": "relu", "leaky_relu:0.1",
 * "elu:1.5", "prelu", "prelu:channel", "prelu:channel:0.1", "rrelu:0.1:0.3",
 * "gelu".  A token naming a choice of one of the row's choice keys
 * ("channel", "shared") sets that key; numbers fill the other keys in the
 * row's order.  Values are checked as the config checks them.  Errors:
 * SL_ERR_CONFIG naming the text, for an unknown name, a layer that is not
 * an activation, a bad token, too many values or a value out of range.
 */
SL_API sl_status sl_layer_spec_parse(const char *text, sl_layer_spec *spec, sl_error *err);
/** The short form of an activation for help texts ("prelu[:shared|channel][:init]") into buf. */
SL_API const char *sl_layer_short_form(sl_layer_type type, char *buf, size_t size);
/**
 * The activation names in table order: writes at most max of them to names
 * (may be NULL when max is 0) and returns how many there are.
 */
SL_API size_t sl_layer_activation_names(const char **names, size_t max);

/**
 * The layer reference (markdown: one section per row with its keys, types,
 * defaults and ranges), as the README carries it.  The caller frees it with
 * free(); NULL when out of memory.
 */
SL_API char *sl_layer_reference_markdown(void);

typedef struct sl_model sl_model;

/** The most trainable scalars (and, separately, buffer scalars) a model may have: 2^31. */
#define SL_MODEL_MAX_PARAMS ((int64_t)1 << 31)

/**
 * An empty model for samples of the given shape (without the batch
 * dimension): [F] for features, [T, F] for sequences (rnn), [C, H, W] for images.  NULL on
 * a bad shape.
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
 * Residual blocks.  Adding an SL_LAYER_RESIDUAL spec opens a block: the
 * layers added next (any types, nested blocks too) form its body and take
 * the block's input; sl_model_end_block closes the innermost open block.
 * The block's output is x + f(x), f the body, with the shortcut its spec
 * chooses:
 *   identity (shortcut 0): the body's output must have the block's input
 *     shape, else SL_ERR_SHAPE "layer <path> (residual): identity shortcut
 *     needs ...; use \"shortcut\": \"projection\"";
 *   projection (shortcut 1): on images a 1x1 conv2d with stride in_H / out_H
 *     (the body may shrink H and W by the same whole factor, else
 *     SL_ERR_SHAPE), on flat inputs a linear layer; parameters
 *     "layers.<i>.shortcut.weight" ([out C, in C, 1, 1] or [out, in]) and,
 *     with spec.bias (default 1, as torch's Conv2d/Linear), ".bias".
 * Closing fills the residual's out (output channels or features), stride
 * and body.  Errors: SL_ERR_STATE when no block is open or after init,
 * SL_ERR_CONFIG for an empty body, SL_ERR_SHAPE as above (the open block
 * stays open and the model unchanged, so a caller may stop there).
 * sl_model_init refuses (SL_ERR_STATE) a model with a block still open.
 * Blocks nest at most SL_MODEL_MAX_DEPTH deep.
 */
SL_API sl_status sl_model_end_block(sl_model *m, sl_error *err);
/** The deepest nesting of residual blocks a model accepts. */
#define SL_MODEL_MAX_DEPTH 8

/**
 * Allocates the parameters (first call) and draws them from seed: each
 * layer from its own stream (seed, layer index), so a layer's weights do not
 * depend on the layers around it.  Each slot is filled as its row says
 * (sl_layer_param.fill): linear and conv weights use the gain of the next
 * activation layer (its row's gain: sqrt(2/(1+a^2)) for leaky_relu/prelu
 * with slope a, 5/3 for tanh, 3/4 for selu, sqrt(2) for relu, elu and gelu,
 * 1 for none or sigmoid).  PReLU slopes are set to their init, batch_norm to
 * gamma 1, beta 0, mean 0, var 1.
 * Errors: SL_ERR_CONFIG for no layers or more than SL_MODEL_MAX_PARAMS
 * parameters; SL_ERR_NOMEM.
 */
SL_API sl_status sl_model_init(sl_model *m, sl_init_kind init, uint64_t seed, sl_error *err);

/**
 * Runs the model on x[N, ...sample shape] in graph g; returns the output
 * (arena tensor) or NULL with the error in g.  SL_ERR_STATE before init.
 * x must be normalised already: forward does NOT apply the model's input
 * normalisation (sl_model_set_input_normalize), because training and
 * evaluation read datasets that normalise as they are read.  sl_predict is
 * the call that takes raw inputs.
 */
SL_API sl_tensor *sl_model_forward(sl_model *m, sl_graph *g, sl_tensor *x);

/**
 * The input normalisation the model was trained with: how raw inputs (as a
 * dataset stores them, 0..255 for uint8 images) become what forward
 * expects, by the datasets' own formula (sl_normalize_values).  Default
 * SL_NORMALIZE_NONE.  sl_predict applies it; sl_model_forward, training
 * and evaluation do not (they read normalised datasets).  sl_model_save and
 * sl_trainer_save store it, sl_model_load and sl_trainer_load restore it,
 * and sl_run_new sets it from the run's data.  mean and std are used by
 * SL_NORMALIZE_STANDARDIZE only, in stored units; for the other kinds the
 * model keeps mean 0 and std 1.  Can be set at any time (before or after
 * init).  Errors: SL_ERR_INVALID (NULL model, unknown kind, standardize
 * without a finite mean and a finite std > 0); on error nothing changes.
 */
SL_API sl_status sl_model_set_input_normalize(sl_model *m, sl_normalize kind, double mean,
                                              double std, sl_error *err);
/** The model's input normalisation; mean and std (may be NULL) receive its parameters
 *  (0 and 1 unless standardize).  SL_NORMALIZE_NONE for a NULL model. */
SL_API sl_normalize sl_model_input_normalize(const sl_model *m, double *mean, double *std);

/** Entries of the flat layer list, block entries and their bodies included. */
SL_API size_t sl_model_num_layers(const sl_model *m);
SL_API const sl_layer_spec *sl_model_layer(const sl_model *m, size_t i);
/**
 * Entry i's path, the prefix of its parameter names: "layers.3", or
 * "layers.3.layers.0" inside the block at layers.3.  NULL for a NULL model
 * or i out of range.  Valid until sl_model_free.
 */
SL_API const char *sl_model_layer_name(const sl_model *m, size_t i);
/** The flat index of the block holding entry i, -1 at the top level (or out of range). */
SL_API int sl_model_layer_parent(const sl_model *m, size_t i);
/** Input shape of one sample of entry i (a block's first layer takes the block's input);
 *  returns ndim, 0 for a NULL model or i out of range.  shape may be NULL. */
SL_API int sl_model_layer_input_shape(const sl_model *m, size_t i, int64_t *shape);
/** Output shape of one sample after layer i; returns ndim.  Layer -1: the input.  shape may be
 *  NULL (just the rank); 0 for a NULL model or i outside -1..layers-1. */
SL_API int sl_model_layer_shape(const sl_model *m, int i, int64_t *shape);
/** Output shape of one sample after the last layer; returns ndim. */
SL_API int sl_model_output_shape(const sl_model *m, int64_t *shape);
/** Multiply-adds per sample of layer i's forward pass (0 for layers that have none); a
 *  residual entry counts its shortcut and the addition, its body's layers count apart. */
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
 * Whether backward computes gradients for m's trainable parameters (on after sl_model_init).
 * Off, m still passes gradients through to its input: in a GAN's generator step the
 * discriminator is run on the generator's output with sl_model_set_trainable(d, 0), so the
 * generator gets its gradient and the discriminator's parameters and gradients are left as
 * they are (and their weight gradients are not even computed).  Buffers never train.
 */
SL_API void sl_model_set_trainable(sl_model *m, int on);
/** 1 when m's trainable parameters get gradients (sl_model_set_trainable), 0 if not or NULL. */
SL_API int sl_model_trainable(const sl_model *m);

/**
 * Activation capture (sl_born_dead uses it; the dying-neuron reports of
 * slope/stats.h look at the activations without it, in place).  When on, forward
 * keeps each activation layer's input (its pre-activation) and output, and
 * does not run activations in place; sl_model_captured returns the input's
 * arena tensor for layer i and sl_model_captured_output the output's (NULL
 * if not an activation or not captured), valid until the graph's next
 * reset.  An rnn layer keeps its pre-activations [N, T, H] (their gradient
 * after backward) and its states h_t [N, T, H] the same way.  Off by default
 * (no cost).
 */
SL_API void sl_model_set_capture(sl_model *m, int on);
SL_API sl_tensor *sl_model_captured(const sl_model *m, size_t i);
SL_API sl_tensor *sl_model_captured_output(const sl_model *m, size_t i);

#ifdef __cplusplus
}
#endif
#endif
