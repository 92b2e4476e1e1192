/*
 * slope/compare.h - what `slope compare CONFIG --act LIST` does, as library
 * calls: the same config trained once per activation, with dying-neuron
 * statistics at init and after every epoch (or every stats.every steps).
 *
 * A fair comparison: every activation is trained from the same seeds, and
 * a seed fixes the data order and dropout masks and the initial weights of
 * every layer that is not an activation.  With options.seeds = N the seeds
 * are cfg.seed, cfg.seed + 1, ..., cfg.seed + N - 1 (N = 0 or 1: the config's
 * seed alone).  Kaiming gains depend on the activation that follows a layer,
 * so for each seed the initial weights are drawn once, for the first
 * activation of the list, and copied by name into that seed's run of every
 * activation (PReLU slopes are the activation's own and are not shared).
 * Each run hashes its shared parameters right before training: within a
 * seed, equal hashes, equal weights; different seeds, different weights.
 * The data is opened once, from the config's own seed (the spiral set's
 * points and the validation hold-out do not change with the run's seed),
 * and the probe set is taken once: every run measures the same examples.
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
 * Runs are indexed 0..sl_compare_num_runs()-1 seed by seed, in the order of
 * the activation list within a seed: run = seed_index * n_acts + act (with
 * one seed, the order of the activation list).  A run that fails (NaN/Inf in
 * training, a model the activation does not fit, ...) is recorded as failed
 * with its message, keeps the rows it measured, and the comparison goes on
 * with the next run: a failed run is a result ("diverged" in the aggregates
 * and seeds.csv), not an error of sl_compare_run_all.
 *
 * Aggregates (sl_compare_get_aggregate), per activation and activation
 * layer, over that activation's runs: how many finished and how many
 * diverged (failed: NaN/Inf in training, or any other failure of the run,
 * whose status and message summary.json keeps), and over the finished runs
 * the mean and 95% t-interval (Student's t quantile for n - 1 degrees of
 * freedom; no interval for n < 2) of the dead fraction at init and at the
 * end, the sparsity at the end, died and revived (totals over the reports)
 * and the test accuracy at the end; and each activation against the first
 * of the list, two-sided: Fisher's exact test on the finished/diverged
 * counts, Welch's t-test on the dead fraction at the end and on the test
 * accuracy.
 *
 * Files (sl_compare_write, into the output directory, created if missing):
 *   stats.csv     one row per run, report and activation layer:
 *                 act,seed,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,
 *                 died,revived,grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc,
 *                 neg_mean,neg_p01,below_minus1
 *                 (seed: the run's seed; progress in epochs; alpha_* empty for
 *                 non-PReLU layers, test_acc empty without a test or validation split,
 *                 neg_* empty without negative pre-activations; see sl_layer_stats)
 *   seeds.csv     one row per run and activation layer, the values at the end of
 *                 training: act,seed,layer,units,dead_frac,sparsity,test_acc,diverged
 *                 (diverged 0/1; dead_frac, sparsity and test_acc empty when diverged,
 *                 test_acc also without a test or validation split)
 *   summary.json  the settings ("seeds", "seed_list"), per run its act, seed,
 *                 initial-weights hash, the shared-tensor check, its final test
 *                 accuracy, its status and error or its PReLU slope histograms,
 *                 "initial_weights_shared", and "aggregates" (one object per
 *                 activation and layer, see sl_compare_aggregate)
 *   plots.gp      a gnuplot script with the data inline, drawing dying.png (dead
 *                 units per layer over training: with several seeds, the mean over
 *                 the finished runs with a shaded 95% band), when a PReLU run
 *                 finished prelu.png (its slopes' mean and min..max band), and when
 *                 every activation is leaky_relu with different slopes alpha.png
 *                 (dead fraction per layer and test accuracy against alpha: mean
 *                 and 95% interval error bars)
 *
 * The library never prints and never runs gnuplot: progress comes through the
 * callbacks, and drawing is the caller's (`gnuplot DIR/plots.gp`).
 *
 * Ownership: the config is borrowed and must outlive the sl_compare; the
 * options' strings and arrays are copied.  Pointers returned by accessors are
 * valid until sl_compare_free.  One sl_compare is used by one thread at a time.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_COMPARE_H
#define SLOPE_COMPARE_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdio.h>

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
    /** Seeds per activation: 0 or 1, the config's seed; N, cfg.seed .. cfg.seed + N - 1. */
    int seeds;
    sl_compare_callbacks callbacks;
} sl_compare_options;

/** Everything NULL or zero: set acts (or specs) and n_acts. */
SL_API sl_compare_options sl_compare_defaults(void);

/** A run's outcome. */
typedef struct sl_compare_run {
    const char *label;     /**< as given, e.g. "leaky_relu:0.1" */
    /** For tables and legends: the label, and for PReLU which slopes it learns,
     *  "prelu (shared slope)" or "prelu:channel (per-channel slopes)". */
    const char *title;
    sl_layer_spec act;     /**< put into every activation layer of the config */
    size_t act_index;      /**< its place in the activation list */
    int seed_index;        /**< 0 .. seeds - 1 */
    uint64_t seed;         /**< cfg.seed + seed_index: data order, dropout, initial weights */
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
 * any training), opens the data and takes the probe set (once), then seed by
 * seed draws the shared initial weights and sets up and trains that seed's
 * run of every activation.  Returns SL_OK when every run was attempted,
 * whether or not it failed or diverged (see sl_compare_run.failed): the
 * exit status of `slope compare` is 0 then, non-zero only for bad input
 * (2: command line; 3: config, data) or I/O (5).  Errors (before any run
 * starts, or part-way when a seed's shared weights cannot be made: the runs
 * done until then stay in c, and sl_compare_write writes them): SL_ERR_IO (the directory), those of sl_run_data_open
 * and sl_run_build_model, SL_ERR_CONFIG (the probe split named by
 * stats.probe.split does not exist), SL_ERR_STATE (called twice),
 * SL_ERR_INVALID (NULL c), SL_ERR_NOMEM.
 */
SL_API sl_status sl_compare_run_all(sl_compare *c, sl_error *err);

/**
 * Writes stats.csv, seeds.csv, summary.json and plots.gp into the output directory
 * (creating it and its parents if they went missing).  Errors: SL_ERR_IO (naming the path),
 * SL_ERR_STATE before sl_compare_run_all, SL_ERR_NOMEM.
 */
SL_API sl_status sl_compare_write(const sl_compare *c, sl_error *err);

/**
 * Prints the comparison as `slope compare` does, to out: a blank line, the table, its
 * footnotes.  With one seed a line per run and activation layer (the first and last report,
 * died/revived totals, negative growth, test accuracy, PReLU slopes; a failed run's line
 * ends in "failed: " and its message up to the first ';'); with several seeds a line per
 * activation and layer over the seeds (see sl_compare_aggregate), then a line per run that
 * did not finish.  Every column is as wide as its widest cell, header included, so a long
 * label ("prelu:channel:0.1 (per-channel slopes)") or value shifts no column.  *any_prelu
 * (any_prelu may be NULL) is set to whether a PReLU run finished (prelu.png is drawn then).
 * Errors: SL_ERR_INVALID (NULL c or out), SL_ERR_STATE before sl_compare_run_all,
 * SL_ERR_NOMEM (nothing printed then).
 */
SL_API sl_status sl_compare_print_table(const sl_compare *c, FILE *out, int *any_prelu,
                                        sl_error *err);

/** The config compared. */
SL_API const sl_config *sl_compare_config(const sl_compare *c);
/** The output directory (the option, or its default). */
SL_API const char *sl_compare_out_dir(const sl_compare *c);
/** Examples in the probe set (known after sl_compare_run_all; 0 before). */
SL_API int64_t sl_compare_probe_count(const sl_compare *c);

/** Activations compared, and seeds per activation (>= 1). */
SL_API size_t sl_compare_num_acts(const sl_compare *c);
SL_API int sl_compare_num_seeds(const sl_compare *c);
/** Runs: activations times seeds. */
SL_API size_t sl_compare_num_runs(const sl_compare *c);
/** Run i, or NULL if out of range. */
SL_API const sl_compare_run *sl_compare_get_run(const sl_compare *c, size_t i);
/** 1 when, seed by seed, every hashed run has the initial-weights hash of that seed's
 *  first hashed run (and at least one run was hashed). */
SL_API int sl_compare_weights_shared(const sl_compare *c);

/** Every row so far, in the order measured (*n of them; n may not be NULL). */
SL_API const sl_compare_row *sl_compare_rows(const sl_compare *c, size_t *n);
/** Activation layers run i has rows for (0 when it failed before its first report). */
SL_API size_t sl_compare_num_layers(const sl_compare *c, size_t run);
/** Run run's k-th activation layer; SL_ERR_INVALID when out of range. */
SL_API sl_status sl_compare_get_layer(const sl_compare *c, size_t run, size_t k,
                                      sl_compare_layer *out, sl_error *err);

/* ---- over the seeds ------------------------------------------------------------------ */

/** A mean over the finished runs, with its 95% t-interval. */
typedef struct sl_compare_estimate {
    int n;          /**< values it is over */
    double mean;    /**< NAN when n == 0 */
    double sd;      /**< sample standard deviation; NAN when n < 2 */
    double lo, hi;  /**< mean -+ t(0.975, n - 1) sd / sqrt(n); NAN when n < 2 */
} sl_compare_estimate;

/** One activation and activation layer over its seeds (see the top of this file). */
typedef struct sl_compare_aggregate {
    size_t act;          /**< index in the activation list */
    const char *label, *title; /**< the activation's (as in sl_compare_run) */
    int layer;           /**< index of the activation layer in the model */
    int64_t units;
    int runs, finished, diverged;
    sl_compare_estimate dead_init, dead_frac, sparsity, died, revived, test_acc;
    /** Negative growth at the end (sl_layer_stats): the negative pre-activations' mean and
     *  1st percentile (over the finished runs that had negative values), the fraction of
     *  outputs below -1. */
    sl_compare_estimate neg_mean, neg_p01, below_minus1;
    /* Against the first activation, two-sided; NAN for the first itself, and for a
     * Welch test with fewer than 2 finished runs on either side. */
    double p_diverged;   /**< Fisher's exact test on (finished, diverged) of both */
    double t_dead, df_dead, p_dead; /**< Welch's t-test on dead_frac at the end */
    double t_acc, df_acc, p_acc;    /**< Welch's t-test on the test accuracy */
} sl_compare_aggregate;

/** Activation layers of the model (as measured; 0 when no run took a report). */
SL_API size_t sl_compare_num_act_layers(const sl_compare *c);
/** Aggregates: num_acts * num_act_layers, activation by activation. */
SL_API size_t sl_compare_num_aggregates(const sl_compare *c);
/** Aggregate i (i = act * num_act_layers + layer position); SL_ERR_INVALID out of range. */
SL_API sl_status sl_compare_get_aggregate(const sl_compare *c, size_t i,
                                          sl_compare_aggregate *out, sl_error *err);

/* ---- the tests behind the aggregates (usable alone) --------------------------------- */

/** The mean, sample standard deviation and 95% t-interval of v[0..n-1] (see
 *  sl_compare_estimate: NAN where n is too small). */
SL_API sl_compare_estimate sl_compare_estimate_of(const double *v, int n);
/** P(T <= t) for Student's t with df > 0 degrees of freedom (NAN for df <= 0 or NaN). */
SL_API double sl_compare_t_cdf(double t, double df);
/** The t with P(T <= t) = p, for 0 < p < 1 and df > 0 (NAN otherwise). */
SL_API double sl_compare_t_quantile(double p, double df);
/**
 * Fisher's exact test of the 2x2 table [[a, b], [c, d]], two-sided: the
 * probability, given the margins, of every table no more probable than this
 * one (hypergeometric; a relative tolerance of 1e-7 counts ties).  NAN for a
 * negative count or one above 2^31; 1 for an all-zero table.
 */
SL_API double sl_compare_fisher_exact(int64_t a, int64_t b, int64_t c, int64_t d);
/**
 * Welch's unequal-variance t-test of mean(x) = mean(y), two-sided: *t, the
 * Welch-Satterthwaite degrees of freedom *df and the p-value (any out pointer
 * may be NULL).  Returns the p-value; NAN (and *t, *df NAN) when nx or ny < 2.
 * Both variances 0: t = 0 and p = 1 for equal means, else t = +-INFINITY and p = 0
 * (df NAN).
 */
SL_API double sl_compare_welch(const double *x, size_t nx, const double *y, size_t ny,
                               double *t, double *df);

#ifdef __cplusplus
}
#endif
#endif
