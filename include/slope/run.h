/*
 * slope/run.h - what `slope train CONFIG` does, as library calls.
 *
 * The whole run, in one object:
 *
 *     sl_run *run = sl_run_new_file("models/fashion_mlp.json", NULL, 0, NULL, &err);
 *     if (run && sl_run_train(run, &err) == SL_OK)
 *         printf("%.2f%%\n", 100.0 * sl_run_last_epoch(run)->test.accuracy);
 *     sl_run_free(run);
 *
 * sl_run_new opens the datasets the config names, builds and initialises the
 * model, makes the trainer (and resumes it from a checkpoint when asked);
 * sl_run_train trains the remaining epochs, evaluating on the validation and
 * test splits after each, and writes what the config and the options ask
 * for: metrics (JSONL), checkpoints (atomic; every checkpoint.every epochs
 * and at the end; checkpoint.keep_best), dying-neuron statistics.  Callbacks
 * report progress and may stop the run; a stopped run saves a checkpoint
 * that sl_run_options.resume continues bit for bit.  The library prints
 * nothing: the callbacks and the accessors give everything there is to say.
 *
 * Under MPI (slope/dist.h, after sl_dist_init) every rank makes and trains
 * the same run: they train data-parallel, agree on every status, stop at the
 * same step, and only rank 0 writes files.
 *
 * The pieces, each usable alone:
 *   sl_run_data_open      the datasets a config names: splits, validation
 *                         fraction, normalisation (mean/std computed from
 *                         the training split when the config asks for it)
 *   sl_run_build_model    the config's model, initialised from its seed
 *   sl_run_train_options  the trainer options a config describes
 *
 * Ownership: an sl_run_data owns its datasets (close it with
 * sl_run_data_close); the config is borrowed and may be freed afterwards.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_RUN_H
#define SLOPE_RUN_H

#include <stdint.h>

#include "slope/config.h"
#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/nn.h"
#include "slope/stats.h"
#include "slope/train.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The datasets of a run.  Every handle is normalised as the config says. */
typedef struct sl_run_data {
    sl_dataset *train_all; /**< the whole training split */
    sl_dataset *train;     /**< what is trained on: train_all without the validation part */
    sl_dataset *val;       /**< the held-out part (data.validation > 0), else NULL */
    sl_dataset *test;      /**< the test split, NULL when the data has none */
    sl_normalize normalize; /**< the normalisation applied to every split */
    double mean, std;      /**< its parameters (standardize), in stored units */
} sl_run_data;

/**
 * Where dataset descriptors are looked for when a caller gives none: the
 * environment's SLOPE_DATASETS_DIR; else the first of these that is a
 * directory: the share/slope/datasets installed beside the running program
 * (<directory of /proc/self/exe>/../share/slope/datasets, so an installed
 * slope finds its own descriptors under whatever prefix it was installed
 * to), the datasets/ of the source tree slope was built from (a program run
 * from a build tree uses its own descriptors), the configured prefix's
 * share/slope/datasets; else "datasets".  The string is static (or the
 * environment's).  A descriptor that is not found is SL_ERR_READ with a
 * message naming these directories and SLOPE_DATASETS_DIR.
 */
SL_API const char *sl_datasets_dir(void);

/**
 * Opens the datasets cfg->data names: a descriptor from datasets_dir (NULL:
 * sl_datasets_dir()), the spiral set, or explicit IDX/CSV files; applies
 * the normalisation to every split and holds out the validation fraction
 * (from the config's seed).  On error nothing is left open (d is zeroed).
 * Errors: those of the loaders (SL_ERR_READ, SL_ERR_FORMAT, SL_ERR_CONFIG for
 * a missing descriptor), SL_ERR_INVALID for NULL arguments.
 */
SL_API sl_status sl_run_data_open(const sl_config *cfg, const char *datasets_dir, sl_run_data *d,
                                  sl_error *err);
/** Frees every dataset of d and zeroes it.  A zeroed d is a no-op. */
SL_API void sl_run_data_close(sl_run_data *d);

/**
 * The statistics' probe set: the first stats.probe.count examples of the
 * split stats.probe.split names (the whole training split, validation part
 * included, or the test split).  A view of d's dataset: free it with
 * sl_dataset_free before closing d.  Errors: SL_ERR_CONFIG (the data has no
 * such split), SL_ERR_INVALID (NULL), SL_ERR_NOMEM.
 */
SL_API sl_dataset *sl_run_probe_open(const sl_config *cfg, const sl_run_data *d,
                                     sl_error *err);
/** The batch size of a statistics report: train.batch_size (64, the default, for NULL).  A
 *  run's reports take place in its trainer's graph (sl_stats_share_graph), whose arena a
 *  training step of that size has grown already. */
SL_API int64_t sl_run_probe_batch(const sl_config *cfg);

/**
 * sl_config_build_model, then sl_model_init with the config's init and
 * seed, and the input normalisation the config states (data.normalize, and
 * for standardize data.mean/data.std when the config gives them).  A
 * standardize config without a mean and std leaves the model at
 * SL_NORMALIZE_NONE: those are computed from the training split, which only
 * the data knows (sl_run_new sets them from its sl_run_data, and a
 * checkpoint loaded with sl_model_load brings the values it was trained with).
 */
SL_API sl_model *sl_run_build_model(const sl_config *cfg, sl_error *err);

/** The trainer options the config's train, optimizer, schedule, loss and seed describe. */
SL_API sl_train_options sl_run_train_options(const sl_config *cfg);

/* ---- the run ------------------------------------------------------------------ */

/** What one epoch gave: its training, then the evaluation of the model it left. */
typedef struct sl_run_epoch {
    sl_epoch_result train;   /**< epoch (0-based), loss, accuracy, samples, seconds, lr */
    sl_eval_result val;      /**< on the validation split, when has_val */
    sl_eval_result test;     /**< on the test split, when has_test */
    int has_val, has_test;
} sl_run_epoch;

/** sl_run_options.threads: the config's train.threads, else sl_default_threads(). */
#define SL_RUN_THREADS_AUTO (-1)

/**
 * How to run.  Zero-initialise it ({0}) for the defaults; a NULL options
 * pointer is the same.  Every pointer is borrowed for the run's lifetime.
 *
 * Callbacks (each may be NULL) get `user`.  on_step, on_epoch and on_stats
 * return 0 to go on, nonzero to stop: on_step stops after that step,
 * on_epoch and on_stats after what is under way (the epoch's metrics and
 * checkpoint are written first).  A stopped run saves a checkpoint and
 * sl_run_train returns SL_OK with sl_run_stopped() set.
 */
typedef struct sl_run_options {
    const char *checkpoint;   /**< checkpoint path; NULL: the config's checkpoint.path (or none) */
    const char *resume;       /**< continue from this checkpoint (sl_trainer_load), or NULL */
    const char *metrics;      /**< append one JSON object per epoch to this file, or NULL */
    /** Start from the weights in this file (sl_model_init_from: slope's or torch's names, every
     *  shape checked) instead of the seed's, or NULL.  Refused with resume (SL_ERR_INVALID). */
    const char *init_from;
    const char *datasets_dir; /**< where descriptors are looked for; NULL: sl_datasets_dir() */
    /** A model to train instead of the config's (borrowed, already initialised, of the shape
     *  the data needs), or NULL: sl_run_build_model(cfg). */
    sl_model *model;
    /** Datasets to use instead of opening the config's (borrowed), or NULL: sl_run_data_open. */
    const sl_run_data *data;
    /** > 0: sl_set_num_threads(threads); 0: the config's train.threads when it is > 0, else
     *  the process's setting as it is; SL_RUN_THREADS_AUTO: train.threads when it is > 0,
     *  else sl_default_threads().  The thread count is process-wide and stays set after the
     *  run. */
    int threads;
    /** After every optimizer step. */
    sl_step_callback on_step;
    /** After each epoch's evaluation (and its statistics when they are per epoch). */
    int (*on_epoch)(const sl_run_epoch *epoch, void *user);
    /** After each dying-neuron report (stats.enabled): at the start, then after each epoch
     *  or every stats.every steps.  sl_stats_epoch/sl_stats_step say when it was taken. */
    int (*on_stats)(const sl_stats *stats, void *user);
    /** What the run is doing now, for a progress display: "loading data", "building the
     *  model", "resuming", "evaluating", "measuring statistics", "saving a checkpoint". */
    void (*on_phase)(const char *phase, void *user);
    /** Within the phases "evaluating" and "measuring statistics", after every batch: done of
     *  total examples of the split being evaluated (validation, then test) or of the probe
     *  set (under MPI, of this process's share).  For a progress line: it allocates nothing
     *  and is called from the thread that called sl_run_train.  Data loading reports none. */
    void (*on_progress)(const char *phase, int64_t done, int64_t total, void *user);
    /** Something the user should be told that is not an error, e.g. "removed
     *  runs/ck.safetensors.tmp.Ab12Cd, a temporary file left by an interrupted checkpoint
     *  write".  NULL: not told. */
    void (*on_note)(const char *note, void *user);
    void *user;
    /** Resuming with a train.epochs other than the checkpoint's config has (the "config"
     *  metadata sl_run_train writes) changes a cosine schedule's learning rate for every
     *  epoch left, so it is refused (SL_ERR_CONFIG, naming both epoch counts, the schedule
     *  and this option) unless this is nonzero; then the run goes on and says so through
     *  on_note.  Constant and step schedules do not depend on the number of epochs: their
     *  resumes are never refused.  (A checkpoint without a readable config is not checked.) */
    int allow_schedule_change;
} sl_run_options;

typedef struct sl_run sl_run;

/**
 * A run of the config cfg (borrowed: it must outlive the run), ready to
 * train.  First, before any data is read, every file the run will write (the
 * checkpoint, the keep_best file, the metrics file) is checked: a non-empty
 * path, a regular file or absent (a directory, device, FIFO or dangling
 * symlink is refused), writable, in a directory that takes new files; none
 * of them an input of the run (the config, a data file, the resumed
 * checkpoint -- except that the checkpoint may replace the one it resumes
 * from), no two of them the same file.  Then: datasets open and normalised (or opt->data), the model built and
 * initialised from the seed (or opt->model), the trainer made and resumed
 * from opt->resume, the model's input normalisation set to the data's
 * (normalize, mean, std of the sl_run_data: also on a borrowed opt->model,
 * and after the resume, so checkpoints and sl_predict use what training
 * really applied), the checkpoint directory found writable, the best
 * checkpoint so far read (keep_best, resumed runs), the metrics file open
 * for appending, the statistics' probe set taken (stats.enabled), and the
 * temporary files "<checkpoint>.tmp.XXXXXX" that an interrupted write of
 * this run's checkpoints left (no live writer holds their lock) removed,
 * each one reported through opt->on_note.
 * Collective under MPI.
 * Errors: SL_ERR_INVALID (NULL cfg), those of the loaders, the model and
 * sl_trainer_new/sl_trainer_load, SL_ERR_CONFIG (keep_best without a
 * checkpoint path or without a validation or test split; stats.probe.split
 * names a missing split; a resume that would stretch or shrink a cosine schedule, see
 * allow_schedule_change), SL_ERR_INVALID (an empty output path, an output
 * that is an input of the run or another output), SL_ERR_IO (an output that
 * is not a regular file or cannot be written, a directory that cannot take
 * files, a metrics file that cannot be opened), SL_ERR_NOMEM.
 */
SL_API sl_run *sl_run_new(const sl_config *cfg, const sl_run_options *opt, sl_error *err);

/** sl_config_load(config_path, overrides, n), then sl_run_new; the run owns the config. */
SL_API sl_run *sl_run_new_file(const char *config_path, const char *const *overrides, size_t n,
                               const sl_run_options *opt, sl_error *err);

/**
 * Trains the epochs that remain.  After each: evaluation (val, test) at the
 * training batch size, statistics, on_epoch, one metrics line (with that
 * epoch's report inside as "stats": [...]), the checkpoint every
 * checkpoint.every epochs and at the end, the best one (keep_best).
 * A run that has all its epochs already (a finished checkpoint resumed)
 * trains nothing: it evaluates, and sl_run_was_complete() says so.
 * Returns SL_OK also when a callback stopped the run (sl_run_stopped(); the
 * checkpoint went to the checkpoint path, else to
 * "<config name, made a safe file name>.interrupted.safetensors" in the
 * current directory: sl_run_saved_path()).  Calling it again goes on.
 * Errors: SL_ERR_NUMERIC with the trainer's message on a NaN/Inf (the
 * checkpoint is left as it was: sl_run_checkpoint_exists() tells whether
 * there is one), SL_ERR_IO (metrics or a checkpoint could not be written),
 * SL_ERR_INVALID (NULL run), errors of evaluation and statistics.
 */
SL_API sl_status sl_run_train(sl_run *r, sl_error *err);

/** Frees the run and what it made (not a borrowed model, data or config).  NULL: no-op. */
SL_API void sl_run_free(sl_run *r);

SL_API const sl_config *sl_run_config(const sl_run *r);
SL_API sl_model *sl_run_model(const sl_run *r);
SL_API sl_trainer *sl_run_trainer(const sl_run *r);
SL_API const sl_run_data *sl_run_datasets(const sl_run *r);
/** The dying-neuron statistics (their last report), NULL when stats are off.  A caller may
 *  take a report of its own with sl_stats_measure (e.g. at the end of training). */
SL_API sl_stats *sl_run_stats(const sl_run *r);
/** The last epoch's results (for a run already complete: its evaluation, train zeroed);
 *  NULL before the first epoch ended. */
SL_API const sl_run_epoch *sl_run_last_epoch(const sl_run *r);
/** 1 when the last sl_run_train was stopped by a callback. */
SL_API int sl_run_stopped(const sl_run *r);
/** 1 when the run had all its epochs before sl_run_train (it only evaluated). */
SL_API int sl_run_was_complete(const sl_run *r);
/** The checkpoint path (option, else the config's), NULL when there is none. */
SL_API const char *sl_run_checkpoint_path(const sl_run *r);
/** 1 when a file exists at the checkpoint path (e.g. the last good one after a NaN). */
SL_API int sl_run_checkpoint_exists(const sl_run *r);
/** Where the last checkpoint was saved, NULL when none was. */
SL_API const char *sl_run_saved_path(const sl_run *r);
/** keep_best: its file (NULL without keep_best), accuracy (-1 before any) and epoch (1-based,
 *  0 before any). */
SL_API const char *sl_run_best_path(const sl_run *r);
SL_API double sl_run_best_accuracy(const sl_run *r);
SL_API int sl_run_best_epoch(const sl_run *r);

#ifdef __cplusplus
}
#endif
#endif
