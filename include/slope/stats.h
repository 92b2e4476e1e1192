/*
 * slope/stats.h - dying-neuron statistics over a fixed probe set.
 *
 * A unit is one output feature ([N, F]) or one channel ([N, C, H, W]) at
 * the input of an activation layer.  Over a fixed probe set (the same
 * examples every time), a unit is DEAD when its pre-activation is <= 0 for
 * every example and every spatial position: a ReLU then outputs 0 for it and
 * passes it no gradient, whatever the input.  For other activations the
 * same count says how many units sit wholly on the negative side ("inactive"):
 * a leaky ReLU still passes them signal and gradient.
 *
 * One measurement (a "report") runs the probe set through the model in
 * batches, in evaluation mode (dropout off, batch_norm on its running
 * statistics, which are not updated), looking at each activation's input
 * and output as forward runs (activations still run in place where training
 * runs them, so a batch needs no more memory than a training step of that
 * size), and a backward pass of the training loss so that the gradient
 * arriving at each activation's input can be measured.  The figures do not
 * depend on how the probe is cut into batches (up to the rounding of the
 * products and of the double sums).  The model's gradient buffer is saved
 * before and restored after, so a report taken between two training steps
 * changes nothing in training.  When no sl_stats exists nothing is measured
 * and training pays nothing: the model is watched only during a report.
 *
 * Per activation layer a report gives: the dead units (a mask, and their
 * count and fraction), the sparsity (the fraction of all pre-activations
 * that are <= 0), how many units died and how many came back since the
 * previous report, the mean |dl/dx| arriving at the layer's input, overall
 * and per unit, for PReLU its slopes (mean, min, max, the values, and a
 * histogram), and the negative growth (below).  The activation layers are
 * those whose row of the layer table has SL_LAYER_ACTIVATION; the slopes
 * are the parameter its slope_param names (see sl_layer_def in slope/nn.h).
 *
 * Negative growth (how far activations grow negatively): over every probe
 * example, unit and position of a layer, neg_mean is the exact mean (double
 * sums) of the pre-activations x < 0, neg_p01 their 1st percentile (the
 * nearest-rank value with 1% of them below it: the k-th most negative, k =
 * ceil(n / 100)), both NAN when no x < 0, and below_minus1 the fraction of
 * the layer's OUTPUTS (the activation applied: alpha*x for leaky ReLU and
 * PReLU) that are < -1, so 0 for ReLU.  Memory stays bounded whatever the
 * probe: neg_p01 comes from a histogram of |x| with SL_STATS_NEG_BINS
 * log-spaced bins over [1e-8, 1e8) (256 a decade, each |x| ratio 10^(1/256)
 * = 1.0090 wide), plus one bin below and one above.  The percentile is its
 * bin's geometric centre, clamped to the exact [min, max] of the negative
 * values, so its relative error is at most 10^(1/512) - 1 = 0.45% when |x|
 * lies in [1e-8, 1e8); below 1e-8 it is -1e-8 clamped as above, above 1e8
 * the most negative value.  NaN pre-activations count in none of these.
 *
 * The gradient statistic is per example: l is one example's loss (its
 * share of the batch-mean loss times the batch size), so the figure does not
 * depend on the probe's batch size.  It is NAN for a layer whose input does
 * not depend on any parameter (an activation applied to the raw input).
 *
 * Ownership: the model and the probe dataset are borrowed and must outlive
 * the sl_stats.  Pointers returned by the accessors are valid until the next
 * sl_stats_measure or sl_stats_free.  Thread safety: measuring uses the
 * model, so never measure while another thread trains or runs the model.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_STATS_H
#define SLOPE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "slope/config.h"
#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The statistics of one activation layer at the last report. */
typedef struct sl_layer_stats {
    int layer;             /**< index of the activation layer in the model */
    sl_layer_type type;    /**< its type (relu, leaky_relu, prelu, ...) */
    int64_t units;         /**< features of [N, F] or channels of [N, C, H, W] */
    int64_t positions;     /**< values per unit and example: H * W, or 1 */
    int64_t dead;          /**< units <= 0 on every probe example and position */
    double dead_frac;      /**< dead / units */
    double sparsity;       /**< fraction of all pre-activations that are <= 0 */
    int64_t died;          /**< units dead now but not at the previous report (0 at the first) */
    int64_t revived;       /**< units dead at the previous report but not now */
    double grad_mean_abs;  /**< mean over examples, units, positions of |dl/dx|; NAN if none */
    double neg_mean;       /**< mean of the pre-activations < 0; NAN when there are none */
    double neg_p01;        /**< their 1st percentile (1% are below it); NAN when none */
    double below_minus1;   /**< fraction of the layer's outputs that are < -1 (0 for relu) */
    int64_t n_alpha;       /**< PReLU: number of slopes (1 or units); 0 for other types */
    double alpha_mean, alpha_min, alpha_max; /**< PReLU slopes; 0 for other types */
    int64_t born_dead;     /**< units dead at the first report and at every report since */
    /** The layer's path in the model (sl_model_layer_name): "layers.3", or
     *  "layers.1.layers.2" inside a residual block; a copy, valid with the struct. */
    char name[128];
    /** The activation whose pre-activations these are: type itself for an activation
     *  layer, an rnn's own activation (its units are the hidden units, its positions the
     *  steps: a unit is dead when its pre-activation is <= 0 at every step of every probe
     *  example).  sl_stats_unit_word takes it. */
    sl_layer_type act;
} sl_layer_stats;

/** Log-spaced bins of the |x| histogram behind neg_p01: 256 a decade over [1e-8, 1e8). */
#define SL_STATS_NEG_BINS 4096

typedef struct sl_stats sl_stats;

/**
 * Statistics for model (initialised) over probe, measured in batches of
 * batch_size with the loss `loss` (the training loss, for the gradient
 * statistic).  No report is taken yet: call sl_stats_measure.
 * Errors: SL_ERR_INVALID (NULL, batch_size < 1, model not initialised),
 * SL_ERR_SHAPE (probe samples do not fit the model), SL_ERR_NOMEM.
 */
SL_API sl_stats *sl_stats_new(sl_model *model, const sl_dataset *probe, int64_t batch_size,
                              sl_loss_kind loss, sl_error *err);
/** Frees the statistics (not the model or the probe).  NULL is a no-op. */
SL_API void sl_stats_free(sl_stats *s);

/**
 * Runs the reports in g from now on: the trainer's graph (sl_trainer_graph), whose arena
 * already holds a training step, so that reports at the training batch size add no memory
 * (with a graph of its own, a report grows an arena and gives it back at its end).  g is
 * borrowed and must outlive s (or the next call); every report resets it, so never measure
 * while its arena tensors are still needed, and puts its training and gradient modes back.
 * g NULL: back to a graph of its own.  Errors: SL_ERR_INVALID (s NULL), SL_ERR_NOMEM.
 */
SL_API sl_status sl_stats_share_graph(sl_stats *s, sl_graph *g, sl_error *err);

/**
 * Takes a report now; epoch and step are the caller's labels for it (for
 * example epochs completed and optimizer steps taken).  The previous
 * report's dead masks become the reference for died/revived.  Leaves the
 * model's parameters, buffers and gradients as they were (activation
 * capture, sl_model_set_capture, is not used).  Errors: those of the ops and the probe's reading (the model
 * is left unchanged then too).
 */
SL_API sl_status sl_stats_measure(sl_stats *s, int epoch, int64_t step, sl_error *err);

/** Reports taken so far, and the labels of the last one. */
SL_API int sl_stats_reports(const sl_stats *s);
SL_API int sl_stats_epoch(const sl_stats *s);
SL_API int64_t sl_stats_step(const sl_stats *s);
/** Number of examples in the probe set. */
SL_API int64_t sl_stats_probe_count(const sl_stats *s);

/** Number of activation layers (the same at every report). */
SL_API size_t sl_stats_num_layers(const sl_stats *s);
/** Activation layer i's statistics at the last report (zeros before the first); NULL if out of range. */
SL_API const sl_layer_stats *sl_stats_layer(const sl_stats *s, size_t i);
/** units bytes: 1 for a dead unit, 0 for a live one; NULL if out of range. */
SL_API const uint8_t *sl_stats_dead_mask(const sl_stats *s, size_t i);
/** units values: each unit's mean |dl/dx| over examples and positions (NAN without a gradient). */
SL_API const double *sl_stats_unit_grad(const sl_stats *s, size_t i);
/** n_alpha values: the PReLU slopes at the last report; NULL for other layer types. */
SL_API const float *sl_stats_alpha(const sl_stats *s, size_t i);

/**
 * What a unit <= 0 on every probe example is called for an activation of this type: "dead"
 * when the activation gives 0 and no gradient there (relu: SL_LAYER_DIES in its row of the
 * layer table), "inactive" for the others (leaky_relu, prelu, rrelu, elu, selu, gelu,
 * sigmoid, tanh: such a unit still passes a signal and a gradient).  NULL for a type that is
 * not an activation.
 */
SL_API const char *sl_stats_unit_word(sl_layer_type type);

/**
 * Activation layer i's last report as one line of text (no newline), what `slope train`
 * prints per layer and report:
 *     layer 1 leaky_relu: 12/64 inactive (18.8%), 10 since init, died 2, revived 1, neg mean -0.381
 * (the units <= 0 on every probe example, called as sl_stats_unit_word says, how many of them
 * were so at every report since the first (born_dead), died and revived since the previous
 * report, the mean negative pre-activation ("-" without one), and for PReLU ", alpha MEAN"
 * or ", alpha MEAN [MIN, MAX]").  Truncated to size - 1 characters.  Returns buf, or NULL
 * for a NULL s or buf, size 0 or i out of range (buf is then untouched).
 */
SL_API char *sl_stats_summary_line(const sl_stats *s, size_t i, char *buf, size_t size);

/**
 * Counts layer i's PReLU slopes at the last report into bins equal bins over
 * [lo, hi]; a slope below lo counts in the first bin, one above hi in the
 * last.  Errors: SL_ERR_INVALID (NULL counts, bins < 1, hi <= lo, i out of
 * range or not a PReLU layer).
 */
SL_API sl_status sl_stats_alpha_histogram(const sl_stats *s, size_t i, double lo, double hi,
                                          int bins, int64_t *counts, sl_error *err);

/* ---- dead at birth ----------------------------------------------------------------------- */

/** How biases are set in a born-dead trial. */
typedef enum sl_bias_init {
    SL_BIAS_ZERO,    /**< 0 (the default, as in Lu et al.) */
    SL_BIAS_INIT,    /**< whatever the weight init draws (U(+-1/sqrt(fan_in)) for pytorch) */
    SL_BIAS_NORMAL,  /**< N(0, scale^2) */
    SL_BIAS_UNIFORM, /**< U(-scale, scale) */
    SL_BIAS_CONST    /**< scale */
} sl_bias_init;

/**
 * A born-dead experiment: trials random fully connected nets of depth
 * hidden layers of width units each (linear + activation), on inputs of
 * input_dim features, followed by a linear output.  A net is counted dead
 * when some hidden layer has every unit's pre-activation <= 0 on every input:
 * with ReLU that layer outputs zeros, so the output is constant.
 *
 * "Every input" is decided exactly when input_dim is 1 and the biases are
 * zero: such a net (ReLU or leaky ReLU) is positively homogeneous, every
 * pre-activation at x > 0 is x times its value at x = 1 and at x < 0 is |x|
 * times its value at x = -1 (and 0 at x = 0), so the two probes x = +1 and
 * x = -1 see every sign any input can give.  Otherwise `probes` inputs drawn
 * from N(0, I) stand for "every input" (a dead verdict may then be too eager).
 */
typedef struct sl_born_dead_spec {
    int width;               /**< units per hidden layer (>= 1) */
    int depth;               /**< hidden layers (>= 1) */
    int input_dim;           /**< 1 */
    sl_layer_spec act;       /**< relu (default); leaky_relu, prelu, ... also work */
    sl_init_kind init;       /**< SL_INIT_KAIMING_NORMAL (He-normal, with the act's gain) */
    sl_bias_init bias;       /**< SL_BIAS_ZERO */
    float bias_scale;        /**< for SL_BIAS_NORMAL, _UNIFORM, _CONST: 0.1 */
    int64_t trials;          /**< 1000 */
    int64_t probes;          /**< sampled inputs when not exact: 1000 */
    uint64_t seed;           /**< trial t draws from (seed, t) only */
} sl_born_dead_spec;

typedef struct sl_born_dead_result {
    int64_t trials;
    int64_t dead;            /**< trials with some hidden layer wholly <= 0 on every input */
    double p_dead;           /**< dead / trials */
    double std_error;        /**< sqrt(p (1 - p) / trials) */
    double mean_dead_layers; /**< hidden layers wholly <= 0, averaged over the trials */
    int exact;               /**< 1: decided with the two probes x = +1, -1 (see above) */
} sl_born_dead_result;

SL_API sl_born_dead_spec sl_born_dead_defaults(void);

/**
 * Runs the experiment.  Errors: SL_ERR_INVALID (NULL, width, depth,
 * input_dim, trials or probes < 1, act not an activation), SL_ERR_NOMEM.
 */
SL_API sl_status sl_born_dead(const sl_born_dead_spec *spec, sl_born_dead_result *result,
                              sl_error *err);

/**
 * What theory says for ReLU, zero biases, input dimension 1 and weights
 * from any distribution symmetric about 0 with no atom (He, Xavier,
 * PyTorch's): *lo <= P(dead) <= *hi with
 *     hi = 1 - (1 - 2^-width)^depth,  lo = max(0, 1 - 2 (1 - 2^-width)^depth),
 * and *lo == *hi (the exact value) for width 1 (1 - 2^(1 - depth)) and for
 * depth <= 2 (0 for one layer, 4^-width (3 - 2^(1 - width)) for two).
 * Returns 1 when the value is exact.  See the README for the derivation.
 */
SL_API int sl_born_dead_theory(int width, int depth, double *lo, double *hi);

/** One cell of a width x depth grid: the measurement and, for ReLU with the exact test,
 *  what theory says (sl_born_dead_theory). */
typedef struct sl_born_dead_cell {
    int width, depth;
    sl_born_dead_result res;
    int has_theory;   /**< res.exact and the activation is ReLU */
    int theory_exact; /**< theory_lo == theory_hi is the exact value */
    double theory_lo, theory_hi;
} sl_born_dead_cell;

/**
 * sl_born_dead for every width (n_widths of them) and depth, widths outer, into
 * cells[n_widths * n_depths]; spec's width and depth are ignored.  on_cell (may be NULL)
 * sees each cell as it is done.  Errors: those of sl_born_dead (the cells done stay filled),
 * SL_ERR_INVALID for NULL or empty lists.
 */
SL_API sl_status sl_born_dead_grid(const sl_born_dead_spec *spec, const int *widths,
                                   int n_widths, const int *depths, int n_depths,
                                   sl_born_dead_cell *cells,
                                   void (*on_cell)(const sl_born_dead_cell *cell, void *user),
                                   void *user, sl_error *err);

/** Writes the cells as CSV: width,depth,trials,p_dead,stderr,mean_dead_layers,theory_lo,
 *  theory_hi (the theory columns empty without theory).  SL_ERR_IO, SL_ERR_INVALID. */
SL_API sl_status sl_born_dead_write_csv(const char *path, const sl_born_dead_cell *cells,
                                        size_t n, sl_error *err);

/**
 * Writes a gnuplot script to `script` that draws p_dead against depth, one curve with error
 * bars per width and the theory band where the cells have theory, into the PNG `png`
 * (pngcairo when gnuplot has it), titled `title`; `relu` chooses the y label (P(dead at
 * init), else P(some layer wholly negative)).  Running gnuplot is the caller's.
 * SL_ERR_IO, SL_ERR_INVALID.
 */
SL_API sl_status sl_born_dead_write_plot(const char *script, const char *png, const char *title,
                                         int relu, const sl_born_dead_cell *cells, size_t n,
                                         sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
