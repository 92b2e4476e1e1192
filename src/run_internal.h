/*
 * run_internal.h - the state of an sl_run (slope/run.h), shared by run.c
 * (setup and the epoch loop), run_checkpoint.c and run_metrics.c.
 */
#ifndef SLOPE_RUN_INTERNAL_H
#define SLOPE_RUN_INTERNAL_H

#include <stdio.h>

#include "slope/run.h"

#include "text.h"

#define SL_RUN_PATH_MAX 4096


struct sl_run {
    const sl_config *cfg;
    sl_config *owned_cfg;       /* sl_run_new_file's, else NULL */
    char *cfg_json;             /* the effective config: checkpoint metadata */
    sl_run_options opt;
    sl_run_data owned_data;     /* opened here unless opt.data */
    const sl_run_data *data;    /* &owned_data or opt.data */
    sl_model *owned_model;      /* built here unless opt.model */
    sl_model *model;
    sl_trainer *trainer;
    const char *checkpoint;     /* opt.checkpoint, else cfg->checkpoint.path, else NULL */
    FILE *metrics;              /* rank 0 with opt.metrics only */
    sl_text reports;        /* the reports taken since the last metrics line, as JSON */
    sl_dataset *probe;          /* stats.enabled: the first stats.probe.count examples */
    sl_stats *stats;
    char best_path[SL_RUN_PATH_MAX]; /* keep_best: where the best checkpoint goes, else "" */
    double best_acc;            /* its validation (else test) accuracy; -1 before the first */
    int best_epoch;
    char saved[SL_RUN_PATH_MAX]; /* where the last checkpoint went, else "" */
    int64_t saved_step;         /* the step it holds */
    sl_run_epoch last;
    int has_last, stopped, was_complete;
    int stop_after_epoch;       /* a stop asked at an epoch's last step: honoured after it */
    sl_status cb_status;        /* an error inside the step callback, and its message */
    sl_error cb_err;
};

/* run.c */
void sl_run_phase(const sl_run *r, const char *phase);
/* Tells the caller something it should know that is not an error (opt.on_note). */
void sl_run_note(const sl_run *r, const char *note);

/* run_checkpoint.c: all collective under MPI (rank 0 writes, every rank agrees). */
/* "run.safetensors" -> "run.best.safetensors" (else PATH.best); SL_ERR_CONFIG if too long. */
sl_status sl_run_best_name(const char *ckpt, char *buf, size_t size);
sl_status sl_run_setup_best(sl_run *r, sl_error *err);
sl_status sl_run_save(sl_run *r, const char *path, sl_error *err);
sl_status sl_run_keep_if_best(sl_run *r, const sl_run_epoch *e, sl_error *err);
/* The checkpoint of a stopped run: the checkpoint path, else the fallback name. */
sl_status sl_run_save_stopped(sl_run *r, sl_error *err);
/* After the resume: refuses (SL_ERR_CONFIG) a train.epochs that changes the learning rates of
 * the epochs left, unless opt.allow_schedule_change (then a note). */
sl_status sl_run_check_schedule(sl_run *r, sl_error *err);

/* run_outputs.c: rank 0 only (sl_run_new makes the ranks agree). */
/* Every output a regular file or absent, writable, not an input, no two the same. */
sl_status sl_run_check_outputs(const sl_run *r, sl_error *err);
/* Removes "<checkpoint>.tmp.XXXXXX" files no live writer holds, with a note for each. */
void sl_run_remove_stale_temps(const sl_run *r);

/* run_metrics.c */
sl_status sl_run_metrics_open(sl_run *r, sl_error *err);
/* One epoch's line: with_stats puts the last statistics report inside it as "stats", and
 * the reports kept since the last line (sl_run_metrics_stats) go in as "reports". */
sl_status sl_run_metrics_epoch(sl_run *r, const sl_run_epoch *e, int with_stats, sl_error *err);
/* Keeps the last statistics report (the one at the start, an every-N-steps one) for the
 * next epoch's line. */
sl_status sl_run_metrics_stats(sl_run *r, sl_error *err);
/* Writes reports no epoch line took (a run stopped mid-epoch) on a line of their own,
 * then closes the file. */
sl_status sl_run_metrics_close(sl_run *r, sl_error *err);
sl_status sl_run_stats_open(sl_run *r, sl_error *err);
void sl_run_stats_close(sl_run *r);

#endif
