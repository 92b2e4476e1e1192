/*
 * run.c - a whole training run (slope/run.h): setup from a config, then the
 * epoch loop: train (sl_trainer_run_epoch), evaluate, statistics, metrics,
 * checkpoints, and a clean stop when a callback asks for one.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "progress.h"
#include "run_internal.h"
#include "slope/export_model.h"
#include "slope/dist.h"

void sl_run_phase(const sl_run *r, const char *phase)
{
    if (r->opt.on_phase)
        r->opt.on_phase(phase, r->opt.user);
}

void sl_run_note(const sl_run *r, const char *note)
{
    if (r->opt.on_note)
        r->opt.on_note(note, r->opt.user);
}

/* ---- setup ------------------------------------------------------------------------ */

static sl_status open_data_and_model(sl_run *r, sl_error *err)
{
    r->data = r->opt.data;
    if (!r->data) {
        sl_run_phase(r, "loading data");
        if (sl_run_data_open(r->cfg, r->opt.datasets_dir, &r->owned_data, err) != SL_OK)
            return err->status;
        r->data = &r->owned_data;
    }
    if (!r->data->train)
        return sl_error_set(err, SL_ERR_INVALID, "sl_run_new: the data has no training split");
    r->model = r->opt.model;
    if (!r->model) {
        sl_run_phase(r, "building the model");
        r->model = r->owned_model = sl_run_build_model(r->cfg, err);
        if (!r->model)
            return err->status;
    }
    return SL_OK;
}

/* data.augment against the training samples the data really has (a descriptor's shape is
 * known only once it is open): refused with the config's path, like the parser's checks. */
static sl_status check_augment(const sl_run *r, sl_error *err)
{
    int64_t shape[SL_DATA_MAX_DIMS];
    int ndim = sl_dataset_shape(r->data->train, shape);
    sl_error local = {0};
    if (sl_augment_check(&r->cfg->data.augment, ndim, shape, &local) == SL_OK)
        return SL_OK;
    return sl_error_set(err, local.status, "%s: data.augment.%s (%s)", r->cfg->origin,
                        local.message, sl_dataset_name(r->data->train));
}

static sl_status setup(sl_run *r, sl_error *err)
{
    int threads = r->opt.threads > 0 ? r->opt.threads : r->cfg->train.threads;
    if (threads <= 0 && r->opt.threads == SL_RUN_THREADS_AUTO)
        threads = sl_default_threads();
    if (threads > 0)
        sl_set_num_threads(threads);
    r->cfg_json = sl_config_to_json(r->cfg);
    if (!r->cfg_json)
        return sl_error_set(err, SL_ERR_NOMEM, "sl_run_new: out of memory");
    r->checkpoint = r->opt.checkpoint ? r->opt.checkpoint : r->cfg->checkpoint.path;
    /* Before the data loads: a bad output path is found in a second, not after an epoch. */
    if (sl_run_check_outputs(r, err) != SL_OK)
        return err->status;
    if (open_data_and_model(r, err) != SL_OK)
        return err->status;
    if (check_augment(r, err) != SL_OK)
        return err->status;
    sl_train_options topt = sl_run_train_options(r->cfg);
    r->trainer = sl_trainer_new(r->model, r->data->train, &topt, err);
    if (!r->trainer)
        return err->status;
    if (r->opt.init_from && r->opt.resume)
        return sl_error_set(err, SL_ERR_INVALID, "init_from and resume exclude each other");
    if (r->opt.init_from && sl_model_init_from(r->model, r->opt.init_from, err) != SL_OK)
        return err->status;
    if (r->opt.resume) {
        sl_run_phase(r, "resuming");
        if (sl_trainer_load(r->trainer, r->opt.resume, err) != SL_OK ||
            sl_run_check_schedule(r, err) != SL_OK)
            return err->status;
    }
    /* After the resume (which restores the saved setting): the model says what this run's
     * data really applies, a computed mean and std included, and its checkpoints carry it. */
    const sl_run_data *d = r->data;
    if (sl_model_set_input_normalize(r->model, d->normalize, d->mean, d->std, err) != SL_OK)
        return err->status;
    if (sl_run_setup_best(r, err) != SL_OK || sl_run_metrics_open(r, err) != SL_OK)
        return err->status;
    sl_run_remove_stale_temps(r);
    if (r->cfg->stats.enabled && sl_run_stats_open(r, err) != SL_OK)
        return err->status;
    return SL_OK;
}

sl_run *sl_run_new(const sl_config *cfg, const sl_run_options *opt, sl_error *err)
{
    if (!cfg) {
        sl_error_set(err, SL_ERR_INVALID, "sl_run_new: NULL config");
        return NULL;
    }
    sl_run *r = sl_calloc(1, sizeof *r);
    if (!r) {
        sl_error_set(err, SL_ERR_NOMEM, "sl_run_new: out of memory");
        return NULL;
    }
    sl_error local = {0};
    if (!err)
        err = &local;
    r->cfg = cfg;
    if (opt)
        r->opt = *opt;
    /* Under MPI every rank sets up; all fail if one does, then they train as one. */
    sl_status st = sl_dist_agree(setup(r, err), err);
    if (st == SL_OK && sl_dist_size() > 1)
        st = sl_dist_trainer(r->trainer, err);
    if (st != SL_OK) {
        sl_run_free(r);
        return NULL;
    }
    return r;
}

sl_run *sl_run_new_file(const char *config_path, const char *const *overrides, size_t n,
                        const sl_run_options *opt, sl_error *err)
{
    sl_error local = {0};
    if (!err)
        err = &local;
    sl_config *cfg = sl_config_load(config_path, overrides, n, err);
    /* Under MPI a config one rank cannot load stops them all, not just that one. */
    if (sl_dist_agree(cfg ? SL_OK : err->status, err) != SL_OK) {
        sl_config_free(cfg);
        return NULL;
    }
    sl_run *r = sl_run_new(cfg, opt, err);
    if (!r)
        sl_config_free(cfg);
    else
        r->owned_cfg = cfg;
    return r;
}

void sl_run_free(sl_run *r)
{
    if (!r)
        return;
    sl_run_metrics_close(r, NULL); /* a failed write was reported when it happened */
    sl_run_stats_close(r);
    sl_trainer_free(r->trainer);
    sl_model_free(r->owned_model);
    sl_run_data_close(&r->owned_data);
    free(r->cfg_json); /* libc-alloc: sl_config_to_json's text */
    sl_config_free(r->owned_cfg);
    sl_free(r);
}

/* ---- training ----------------------------------------------------------------------- */

/* A dying-neuron report now.  Without stats: nothing. */
static sl_status stats_measure(sl_run *r, sl_error *err)
{
    if (!r->stats)
        return SL_OK;
    sl_run_phase(r, "measuring statistics");
    sl_progress_hook outer = sl_progress_push(r->opt.on_progress, "measuring statistics",
                                              r->opt.user);
    sl_status st = sl_stats_measure(r->stats, sl_trainer_epoch(r->trainer),
                                    sl_trainer_steps(r->trainer), err);
    sl_progress_pop(outer);
    return st;
}

static int stats_notify(sl_run *r)
{
    return r->stats && r->opt.on_stats && r->opt.on_stats(r->stats, r->opt.user) != 0;
}

/* A report on a line of its own: the one at the start and the every-N-steps ones. */
static sl_status stats_line(sl_run *r, int *stop, sl_error *err)
{
    if (!r->stats)
        return SL_OK;
    if (stats_measure(r, err) != SL_OK)
        return err->status;
    *stop |= stats_notify(r);
    return sl_run_metrics_stats(r, err);
}

/* After every step: the caller's callback, the every-N-steps statistics, and one agreed
 * answer from all ranks, so that every rank stops at the same step. */
static int on_step(const sl_step_info *info, void *user)
{
    sl_run *r = user;
    int stop = r->opt.on_step && r->opt.on_step(info, r->opt.user) != 0;
    int64_t every = r->cfg->stats.every_steps;
    if (r->stats && every > 0 && sl_trainer_steps(r->trainer) % every == 0 &&
        stats_line(r, &stop, &r->cb_err) != SL_OK) {
        r->cb_status = r->cb_err.status;
        stop = 1;
    }
    stop = sl_dist_any(stop);
    if (stop && info->batch + 1 >= info->batches) {
        /* The epoch's steps are all taken: let it end (evaluation, metrics, checkpoint),
         * then stop, rather than leave a finished epoch unfinished. */
        r->stop_after_epoch = 1;
        return 0;
    }
    return stop;
}

/* One split in the trainer's graph at the training batch size (sl_trainer_evaluate): the
 * arena already holds a step of that size, so evaluation adds no memory (a graph of its
 * own cost the CNN 15 MiB, a larger batch 50 MiB).  Under MPI the ranks' buffers are
 * averaged first, as sl_dist_evaluate does. */
static sl_status evaluate_split(sl_run *r, const sl_dataset *ds, sl_eval_result *res,
                                sl_error *err)
{
    if (sl_dist_sync_buffers(r->model, err) != SL_OK)
        return err->status;
    return sl_trainer_evaluate(r->trainer, ds, res, err);
}

static sl_status evaluate(sl_run *r, sl_run_epoch *e, sl_error *err)
{
    const sl_run_data *d = r->data;
    sl_run_phase(r, "evaluating");
    e->has_val = d->val != NULL;
    e->has_test = d->test != NULL;
    sl_progress_hook outer = sl_progress_push(r->opt.on_progress, "evaluating", r->opt.user);
    sl_status st = SL_OK;
    if (d->val)
        st = evaluate_split(r, d->val, &e->val, err);
    if (st == SL_OK && d->test)
        st = evaluate_split(r, d->test, &e->test, err);
    sl_progress_pop(outer);
    return st;
}

/* What follows an epoch's evaluation: callbacks, metrics, checkpoints. */
static sl_status epoch_outputs(sl_run *r, const sl_run_epoch *e, int *stop, sl_error *err)
{
    int per_epoch_stats = r->cfg->stats.every_steps == 0;
    if (per_epoch_stats && stats_measure(r, err) != SL_OK)
        return err->status;
    r->last = *e;
    r->has_last = 1;
    *stop |= r->opt.on_epoch && r->opt.on_epoch(e, r->opt.user) != 0;
    if (per_epoch_stats)
        *stop |= stats_notify(r);
    /* Only rank 0 writes the metrics: its status is everyone's. */
    if (sl_dist_agree(sl_run_metrics_epoch(r, e, per_epoch_stats, err), err) != SL_OK)
        return err->status;
    int done = sl_trainer_epoch(r->trainer);
    if (r->checkpoint && (done % r->cfg->checkpoint.every == 0 || sl_trainer_done(r->trainer)) &&
        sl_run_save(r, r->checkpoint, err) != SL_OK)
        return err->status;
    return sl_run_keep_if_best(r, e, err);
}

/* One epoch, or what remains of it; sets r->stopped when a callback asked. */
static sl_status epoch(sl_run *r, sl_error *err)
{
    sl_run_epoch e;
    memset(&e, 0, sizeof e);
    r->cb_status = SL_OK;
    r->stop_after_epoch = 0;
    /* A failed step is agreed already (the data-parallel trainer fails it on every rank);
     * the callback's own errors are this rank's. */
    if (sl_trainer_run_epoch(r->trainer, on_step, r, &e.train, err) != SL_OK)
        return err->status;
    if (r->cb_status != SL_OK)
        *err = r->cb_err;
    if (sl_dist_agree(r->cb_status, err) != SL_OK)
        return err->status;
    if (e.train.stopped) {
        r->stopped = 1;
        return SL_OK;
    }
    int stop = r->stop_after_epoch;
    if (evaluate(r, &e, err) != SL_OK || epoch_outputs(r, &e, &stop, err) != SL_OK)
        return err->status;
    r->stopped = sl_dist_any(stop) && !sl_trainer_done(r->trainer);
    return SL_OK;
}

/* A run that has all its epochs: evaluates what it holds. */
static sl_status evaluate_complete(sl_run *r, sl_error *err)
{
    sl_run_epoch e;
    memset(&e, 0, sizeof e);
    e.train.epoch = sl_trainer_epoch(r->trainer) - 1;
    r->was_complete = 1;
    if (evaluate(r, &e, err) != SL_OK)
        return err->status;
    r->last = e;
    r->has_last = 1;
    return SL_OK;
}

static sl_status train(sl_run *r, sl_error *err)
{
    r->stopped = 0;
    if (sl_trainer_done(r->trainer))
        return evaluate_complete(r, err);
    int stop = 0;
    if (sl_dist_agree(stats_line(r, &stop, err), err) != SL_OK)
        return err->status;
    r->stopped = sl_dist_any(stop);
    while (!r->stopped && !sl_trainer_done(r->trainer))
        if (epoch(r, err) != SL_OK)
            return err->status;
    if (r->stopped)
        return sl_run_save_stopped(r, err);
    return sl_dist_agree(sl_run_metrics_close(r, err), err);
}

sl_status sl_run_train(sl_run *r, sl_error *err)
{
    if (!r)
        return sl_error_set(err, SL_ERR_INVALID, "sl_run_train: NULL run");
    sl_error local = {0};
    return train(r, err ? err : &local);
}

/* ---- accessors ---------------------------------------------------------------------- */

const sl_config *sl_run_config(const sl_run *r) { return r ? r->cfg : NULL; }
sl_model *sl_run_model(const sl_run *r) { return r ? r->model : NULL; }
sl_trainer *sl_run_trainer(const sl_run *r) { return r ? r->trainer : NULL; }
const sl_run_data *sl_run_datasets(const sl_run *r) { return r ? r->data : NULL; }
sl_stats *sl_run_stats(const sl_run *r) { return r ? r->stats : NULL; }
const sl_run_epoch *sl_run_last_epoch(const sl_run *r)
{
    return r && r->has_last ? &r->last : NULL;
}
int sl_run_stopped(const sl_run *r) { return r ? r->stopped : 0; }
int sl_run_was_complete(const sl_run *r) { return r ? r->was_complete : 0; }
const char *sl_run_checkpoint_path(const sl_run *r) { return r ? r->checkpoint : NULL; }
int sl_run_checkpoint_exists(const sl_run *r)
{
    return r && r->checkpoint && access(r->checkpoint, F_OK) == 0;
}
const char *sl_run_saved_path(const sl_run *r) { return r && r->saved[0] ? r->saved : NULL; }
const char *sl_run_best_path(const sl_run *r)
{
    return r && r->best_path[0] ? r->best_path : NULL;
}
double sl_run_best_accuracy(const sl_run *r) { return r ? r->best_acc : -1.0; }
int sl_run_best_epoch(const sl_run *r) { return r ? r->best_epoch : 0; }
