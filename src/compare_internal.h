/*
 * compare_internal.h - private parts of the compare module (slope/compare.h).
 *
 * compare.c        the object: options, activation labels, accessors
 * compare_run.c    the runs: shared initial weights, training, reports
 * compare_write.c  the files: stats.csv, summary.json, plots.gp
 */
#ifndef SLOPE_COMPARE_INTERNAL_H
#define SLOPE_COMPARE_INTERNAL_H

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
    char error[SL_ERROR_MSG_MAX];
    sl_compare_hist *hists; /* PReLU layers of a run that finished */
    size_t n_hists;
} sl_compare_entry;

struct sl_compare {
    const sl_config *cfg; /* borrowed */
    char *out_dir, *datasets_dir, *config_label;
    sl_compare_callbacks cb;
    sl_compare_entry *runs;
    size_t n_runs;
    sl_compare_row *rows;
    size_t n_rows, cap_rows;
    int ran;              /* sl_compare_run_all was called */
    int64_t probe_count;
};

/* mkdir -p (compare_write.c).  SL_ERR_IO naming the directory. */
sl_status sl_compare_make_dirs(const char *path, sl_error *err);
/* Appends a row (compare.c).  SL_ERR_NOMEM. */
sl_status sl_compare_add_row(sl_compare *c, const sl_compare_row *row, sl_error *err);

#endif
