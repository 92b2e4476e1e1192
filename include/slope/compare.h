/*
 * slope/compare.h - what `slope compare CONFIG --act LIST` does, as library
 * calls: the same config trained once per activation, with dying-neuron
 * statistics at init and after every epoch (or every stats.every steps).
 *
 * A fair comparison: every run uses the config's seed (so the same data
 * order and dropout masks) and starts from the same weights in every layer
 * that is not an activation.  Kaiming gains depend on the activation that
 * follows a layer, so the initial weights are drawn once, for the first
 * activation of the list, and copied by name into each run's model (PReLU
 * slopes are the activation's own and are not shared).  Each run hashes its
 * shared parameters right before training: equal hashes, equal weights.
 *
 * Use:
 *     sl_compare_options o = sl_compare_defaults();
 *     const char *acts[] = {"relu", "leaky_relu:0.1", "prelu:channel"};
 *     o.acts = acts;  o.n_acts = 3;  o.out_dir = "out";  o.seeds = 5;
 *     sl_compare *c = sl_compare_new(cfg, &o, &err);
 *     if (c && sl_compare_run_all(c, &err) == SL_OK)
 *         sl_compare_write(c, &err); // out/stats.csv, seeds.csv, summary.json, plots.gp
 *     ... sl_compare_get_run(c, i), sl_compare_get_layer(c, i, k, &layer),
 *         sl_compare_get_aggregate(c, j, &agg) ...
 *     sl_compare_free(c);
 *
 * Runs are indexed 0..sl_compare_num_runs()-1 in the order of the activation
 * list.  A run that fails (NaN/Inf in training, a model the activation does
 * not fit, ...) is recorded as failed with its message, keeps the rows it
 * measured, and the comparison goes on with the next run: a failed run is a
 * result, not an error of sl_compare_run_all.
 *
 * Files (sl_compare_write, into the output directory, created if missing):
 *   stats.csv     one row per run, report and activation layer:
 *                 act,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,
 *                 died,revived,grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc
 *                 (progress in epochs; alpha_* empty for non-PReLU layers, test_acc
 *                 empty without a test or validation split)
 *   summary.json  the settings, per run its initial-weights hash, the shared-tensor
 *                 check, its final test accuracy, its error or its PReLU slope
 *                 histograms, and "initial_weights_shared"
 *   plots.gp      a gnuplot script with the data inline, drawing dying.png (dead
 *                 units per layer over training) and, when a PReLU run finished,
 *                 prelu.png (its slopes' mean and min..max band)
 *
 * The library never prints and never runs gnuplot: progress comes through the
 * callbacks, and drawing is the caller's (`gnuplot DIR/plots.gp`).
 *
 * Ownership: the config is borrowed and must outlive the sl_compare; the
 * options' strings and arrays are copied.  Pointers returned by accessors are
 * valid until sl_compare_free.  One sl_compare is used by one thread at a time.
 */
#ifndef SLOPE_COMPARE_H
#define SLOPE_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "slope/config.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/stats.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sl_compare sl_compare;

/** Progress, for a caller that wants to show it.  Every member may be NULL. */
typedef struct sl_compare_callbacks {
    /** Run `run` is about to be set up and trained. */
    void (*run_started)(const sl_compare *c, size_t run, void *user);
    /** The run finished an epoch (epochs completed: 1, 2, ...); test_acc is the
     *  accuracy at the run's last report (NAN without a test or validation split). */
    void (*epoch_done)(const sl_compare *c, size_t run, int epoch, double test_acc, void *user);
    /** The run failed; err says why.  The comparison goes on. */
    void (*run_failed)(const sl_compare *c, size_t run, const sl_error *err, void *user);
    void *user; /**< passed to every callback */
} sl_compare_callbacks;

typedef struct sl_compare_options {
    /** Activation labels, n_acts of them, in sl_layer_spec_parse's short form
     *  ("relu", "leaky_relu:0.1", "prelu:channel", ...; every activation of the
     *  layer table: sl_layer_activation_names, sl_layer_short_form).  With specs
     *  set, acts may be NULL (labels are then the type names) or give the labels
     *  for the specs. */
    const char *const *acts;
    size_t n_acts;
    /** NULL, or n_acts activation layer specs to use instead of parsing acts. */
    const sl_layer_spec *specs;
    /** Where sl_compare_write writes; NULL: "compare-<config name>". */
    const char *out_dir;
    /** Dataset descriptors; NULL: sl_datasets_dir(). */
    const char *datasets_dir;
    /** summary.json's "config"; NULL: the config's origin (its file path). */
    const char *config_label;
    sl_compare_callbacks callbacks;
} sl_compare_options;

/** Everything NULL or zero: set acts (or specs) and n_acts. */
SL_API sl_compare_options sl_compare_defaults(void);

/** A run's outcome. */
typedef struct sl_compare_run {
    const char *label;     /**< as given, e.g. "leaky_relu:0.1" */
    sl_layer_spec act;     /**< put into every activation layer of the config */
    uint64_t seed;         /**< the config's seed */
    int attempted;         /**< 1 once sl_compare_run_all reached the run */
    int failed;            /**< 1 when setup or training failed */
    sl_status status;      /**< SL_OK, or the failure's (SL_ERR_NUMERIC for NaN/Inf, ...) */
    const char *error;     /**< the failure's message ("" when not failed) */
    double final_test_acc; /**< test (else validation) accuracy at the last report; NAN if none */
    int hashed;            /**< 1 when the initial weights were hashed (the fields below) */
    uint64_t initial_hash; /**< FNV-1a over the shared parameters' names and bytes */
    int shared_tensors;    /**< shared parameters and buffers of the model */
    int shared_equal;      /**< how many of them equal the reference's exactly */
    int64_t shared_scalars; /**< their scalars */
} sl_compare_run;

/** One report of one activation layer of one run (a row of stats.csv). */
typedef struct sl_compare_row {
    size_t run;
    int epoch;          /**< epochs completed at the report */
    int64_t step;       /**< optimizer steps taken at the report */
    double progress;    /**< step / batches per epoch: epochs, fractional */
    sl_layer_stats l;
    double test_acc;    /**< NAN without a test or validation split */
} sl_compare_row;

/** A run's activation layer over training. */
typedef struct sl_compare_layer {
    int layer;              /**< index of the activation layer in the model */
    sl_layer_stats first;   /**< at the first report (init) */
    sl_layer_stats last;    /**< at the last report */
    int64_t died, revived;  /**< totals over all reports */
} sl_compare_layer;

/**
 * A comparison of cfg (borrowed) under the activations of opt; nothing runs
 * yet.  Errors: SL_ERR_INVALID (NULL cfg or opt, a config without a name or
 * origin, no activations, a spec that is not an activation), SL_ERR_CONFIG (a label that is not an activation or
 * has bad arguments: the message quotes it), SL_ERR_NOMEM.
 */
SL_API sl_compare *sl_compare_new(const sl_config *cfg, const sl_compare_options *opt,
                                  sl_error *err);
/** Frees everything the comparison owns (not the config).  NULL is a no-op. */
SL_API void sl_compare_free(sl_compare *c);

/**
 * Creates the output directory (so a path that cannot be written fails before
 * any training), opens the data, draws the shared initial weights, then sets
 * up and trains every run in turn.  Returns SL_OK when every run was
 * attempted, whether or not it failed (see sl_compare_run.failed).  Errors,
 * before any run starts: SL_ERR_IO (the directory), those of sl_run_data_open
 * and sl_run_build_model, SL_ERR_CONFIG (the probe split named by
 * stats.probe.split does not exist), SL_ERR_STATE (called twice),
 * SL_ERR_INVALID (NULL c), SL_ERR_NOMEM.
 */
SL_API sl_status sl_compare_run_all(sl_compare *c, sl_error *err);

/**
 * Writes stats.csv, summary.json and plots.gp into the output directory
 * (creating it and its parents if they went missing).  Errors: SL_ERR_IO (naming the path),
 * SL_ERR_STATE before sl_compare_run_all, SL_ERR_NOMEM.
 */
SL_API sl_status sl_compare_write(const sl_compare *c, sl_error *err);

/** The config compared. */
SL_API const sl_config *sl_compare_config(const sl_compare *c);
/** The output directory (the option, or its default). */
SL_API const char *sl_compare_out_dir(const sl_compare *c);
/** Examples in the probe set (known after sl_compare_run_all; 0 before). */
SL_API int64_t sl_compare_probe_count(const sl_compare *c);

SL_API size_t sl_compare_num_runs(const sl_compare *c);
/** Run i, or NULL if out of range. */
SL_API const sl_compare_run *sl_compare_get_run(const sl_compare *c, size_t i);
/** 1 when every hashed run has the same initial-weights hash (and at least one was hashed). */
SL_API int sl_compare_weights_shared(const sl_compare *c);

/** Every row so far, in the order measured (*n of them; n may not be NULL). */
SL_API const sl_compare_row *sl_compare_rows(const sl_compare *c, size_t *n);
/** Activation layers run i has rows for (0 when it failed before its first report). */
SL_API size_t sl_compare_num_layers(const sl_compare *c, size_t run);
/** Run run's k-th activation layer; SL_ERR_INVALID when out of range. */
SL_API sl_status sl_compare_get_layer(const sl_compare *c, size_t run, size_t k,
                                      sl_compare_layer *out, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
