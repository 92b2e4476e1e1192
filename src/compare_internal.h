/*
 * compare_internal.h - private parts of the compare module (slope/compare.h).
 *
 * compare.c        the object: options, activation labels, accessors
 * compare_run.c    the runs: shared initial weights, training, reports
 * compare_write.c  the files: stats.csv, seeds.csv, summary.json
 * compare_plots.c  plots.gp
 * compare_seeds.c  the aggregates over the seeds
 * compare_tests.c  the statistics: t distribution, Fisher's exact, Welch's t
 */
#ifndef SLOPE_COMPARE_INTERNAL_H
#define SLOPE_COMPARE_INTERNAL_H

#include <stdio.h>

#include "slope/compare.h"
#include "slope/run.h"

/* Bins of the PReLU slope histograms in summary.json. */
#define SL_COMPARE_HIST_BINS 20

/* One PReLU layer's slopes at the end of a run. */
typedef struct sl_compare_hist {
    int layer;
    double lo, hi;
    int64_t counts[SL_COMPARE_HIST_BINS];
} sl_compare_hist;

/* A run with the storage behind its public view. */
typedef struct sl_compare_entry {
    sl_compare_run pub; /* pub.label and pub.error point into label and error */
    char *label;
    char title[96];
    char error[SL_ERROR_MSG_MAX];
    sl_compare_hist *hists; /* PReLU layers of a run that finished */
    size_t n_hists;
} sl_compare_entry;

struct sl_compare {
    const sl_config *cfg; /* borrowed */
    char *out_dir, *datasets_dir, *config_label;
    sl_compare_callbacks cb;
    sl_compare_entry *runs;
    size_t n_runs, n_acts; /* n_runs = n_acts * n_seeds, seed-major */
    int n_seeds;
    sl_compare_row *rows;
    size_t n_rows, cap_rows;
    int ran;              /* sl_compare_run_all was called */
    int64_t probe_count;
};

/* mkdir -p (compare_write.c).  SL_ERR_IO naming the directory. */
sl_status sl_compare_make_dirs(const char *path, sl_error *err);
/* Appends a row (compare.c).  SL_ERR_NOMEM. */
sl_status sl_compare_add_row(sl_compare *c, const sl_compare_row *row, sl_error *err);

/* Most activation layers the files and plots handle. */
#define SL_COMPARE_MAX_LAYERS 64

/* The activation layers (model index and units) from the first run with rows; how many
 * (at most max) (compare_seeds.c). */
int sl_compare_layer_list(const sl_compare *c, int *layers, int64_t *units, int max);
/* The finished runs' values at report `report` of layer `layer`, for the activation act:
 * dead_frac into v (room for n_seeds), their progress into *progress; how many
 * (compare_seeds.c). */
int sl_compare_report_values(const sl_compare *c, size_t act, int layer, int report,
                             double *v, double *progress);
/* Reports a finished run of act took (the most of any), 0 if none finished. */
int sl_compare_num_reports(const sl_compare *c, size_t act, int layer);
/* Whether the activations are all leaky_relu with pairwise different slopes (>= 2). */
int sl_compare_is_alpha_sweep(const sl_compare *c);
/* plots.gp (compare_plots.c). */
sl_status sl_compare_write_plots(const sl_compare *c, sl_error *err);
/* out_dir/name opened for writing, and its closing (compare_write.c). */
FILE *sl_compare_open_out(const sl_compare *c, const char *name, char *path, size_t size,
                          sl_error *err);
sl_status sl_compare_close_out(FILE *f, const char *path, sl_error *err);

/* compare_tests.c: mean and sample variance (0 for n < 2) of x[0..n-1], n >= 1, exact for
 * a constant sample. */
void sl_compare_mean_var(const double *x, size_t n, double *mean, double *var);

#endif
