/*
 * run_checkpoint.c - a run's checkpoints: where they go, writing them
 * (rank 0, atomically, with the config as metadata), keep_best, and the
 * file a stopped run saves to when it has no checkpoint path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"
#include "slope/dist.h"
#include "slope/slope.h"

/* checkpoint.keep_best: "run.safetensors" -> "run.best.safetensors" (else PATH.best). */
sl_status sl_run_best_name(const char *ckpt, char *buf, size_t size)
{
    size_t n = strlen(ckpt), ext = strlen(".safetensors");
    int has_ext = n > ext && strcmp(ckpt + n - ext, ".safetensors") == 0;
    int w = has_ext ? snprintf(buf, size, "%.*s.best.safetensors", (int)(n - ext), ckpt)
                    : snprintf(buf, size, "%s.best", ckpt);
    return w < 0 || (size_t)w >= size ? SL_ERR_CONFIG : SL_OK;
}

/* A resumed run continues the comparison with the best file it left, if any. */
static void read_best(sl_run *r)
{
    sl_error ignored = {0};
    sl_safetensors *best = sl_safetensors_read(r->best_path, &ignored);
    const char *acc = best ? sl_safetensors_metadata(best, "best_accuracy") : NULL;
    const char *epoch = best ? sl_safetensors_metadata(best, "best_epoch") : NULL;
    if (acc)
        r->best_acc = strtod(acc, NULL);
    if (acc && epoch)
        r->best_epoch = atoi(epoch);
    sl_safetensors_free(best);
}

/* checkpoint.keep_best: where the best checkpoint goes (sl_run_best_name). */
sl_status sl_run_setup_best(sl_run *r, sl_error *err)
{
    r->best_acc = -1.0;
    if (!r->cfg->checkpoint.keep_best)
        return SL_OK;
    const char *ckpt = r->checkpoint;
    if (!ckpt)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: checkpoint.keep_best: needs a checkpoint path (--checkpoint "
                            "FILE or checkpoint.path)",
                            r->cfg->origin);
    if (!r->data->val && !r->data->test)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: checkpoint.keep_best: needs a validation or test split to "
                            "tell which epoch is best",
                            r->cfg->origin);
    if (sl_run_best_name(ckpt, r->best_path, sizeof r->best_path) != SL_OK)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: checkpoint path too long", ckpt);
    if (r->opt.resume)
        read_best(r); /* a new run: its first epoch is its best so far */
    return SL_OK;
}

/* A resumable checkpoint; best_acc >= 0 records it as the best so far. */
static sl_status save_as(sl_run *r, const char *path, double best_acc, sl_error *err)
{
    char acc[32], epoch[16];
    snprintf(acc, sizeof acc, "%.9g", best_acc);
    snprintf(epoch, sizeof epoch, "%d", sl_trainer_epoch(r->trainer));
    sl_kv meta[4] = {{"config", r->cfg_json},
                     {"slope_version", sl_version()},
                     {"best_accuracy", acc},
                     {"best_epoch", epoch}};
    sl_run_phase(r, "saving a checkpoint");
    /* Under MPI: the same batch-norm statistics on all ranks, rank 0 writes, all agree. */
    sl_status st = sl_dist_sync_buffers(r->model, err);
    if (st == SL_OK && sl_dist_rank() == 0)
        st = sl_trainer_save(r->trainer, path, meta, best_acc >= 0.0 ? 4 : 2, err);
    return sl_dist_agree(st, err);
}

sl_status sl_run_save(sl_run *r, const char *path, sl_error *err)
{
    if (save_as(r, path, -1.0, err) != SL_OK)
        return err->status;
    snprintf(r->saved, sizeof r->saved, "%s", path);
    r->saved_step = sl_trainer_steps(r->trainer);
    return SL_OK;
}

/* After an epoch's evaluation: saves the model when it beats the best so far. */
sl_status sl_run_keep_if_best(sl_run *r, const sl_run_epoch *e, sl_error *err)
{
    if (!r->best_path[0])
        return SL_OK;
    double acc = e->has_val ? e->val.accuracy : e->test.accuracy;
    if (acc <= r->best_acc) /* ties keep the earlier epoch */
        return SL_OK;
    if (save_as(r, r->best_path, acc, err) != SL_OK)
        return err->status;
    r->best_acc = acc;
    r->best_epoch = sl_trainer_epoch(r->trainer);
    return SL_OK;
}

/* "<name>.interrupted.safetensors", the name reduced to a safe file name (it comes from
 * the config, and may hold '/' or be very long). */
static void fallback_checkpoint(const sl_run *r, char *buf, size_t size)
{
    char name[65];
    size_t n = 0;
    for (const char *p = r->cfg->name ? r->cfg->name : ""; *p && n + 1 < sizeof name; p++) {
        unsigned char c = (unsigned char)*p;
        name[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-' || c == '_' || c == '.'
                        ? (char)c
                        : '_';
    }
    name[n] = '\0';
    snprintf(buf, size, "%s.interrupted.safetensors", n && name[0] != '.' ? name : "slope");
}

sl_status sl_run_save_stopped(sl_run *r, sl_error *err)
{
    if (r->saved[0] && r->saved_step == sl_trainer_steps(r->trainer) &&
        (!r->checkpoint || strcmp(r->saved, r->checkpoint) == 0))
        return SL_OK; /* this very state is on disk already (the epoch's checkpoint) */
    char fallback[128];
    if (!r->checkpoint)
        fallback_checkpoint(r, fallback, sizeof fallback);
    return sl_run_save(r, r->checkpoint ? r->checkpoint : fallback, err);
}

/* ---- a resume's schedule ------------------------------------------------------------ */

/* Whether the learning rate of a step depends on train.epochs: only cosine's does (it runs
 * from the base rate to min_lr over all the epochs); constant and step decay do not. */
static int lr_depends_on_epochs(const sl_schedule_spec *s)
{
    return s->kind == SL_SCHEDULE_COSINE;
}

/* The config the checkpoint was written with (its "config" metadata), or NULL. */
static sl_config *saved_config(const char *path)
{
    sl_error ignored = {0};
    sl_safetensors *st = sl_safetensors_read(path, &ignored);
    const char *json = st ? sl_safetensors_metadata(st, "config") : NULL;
    sl_config *cfg = json ? sl_config_load_string(json, path, &ignored) : NULL;
    sl_safetensors_free(st);
    return cfg;
}

sl_status sl_run_check_schedule(sl_run *r, sl_error *err)
{
    sl_config *saved = saved_config(r->opt.resume);
    if (!saved)
        return SL_OK; /* nothing to compare with: not a run's checkpoint, or an older config */
    int was = saved->train.epochs, now = r->cfg->train.epochs;
    sl_config_free(saved);
    const sl_schedule_spec *s = &r->cfg->schedule;
    if (was == now || !lr_depends_on_epochs(s))
        return SL_OK;
    const char *kind = sl_schedule_name(s->kind);
    int from = sl_trainer_epoch(r->trainer) + 1;
    char keep[96] = "";
    if (from <= was) /* a finished run has nothing left to train with its own epochs */
        snprintf(keep, sizeof keep, "keep train.epochs %d, or ", was);
    if (!r->opt.allow_schedule_change)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "%s: the run was saved with train.epochs %d, this one has %d: its %s "
                            "schedule spreads the learning rate over all the epochs, so every one "
                            "from epoch %d on would differ from the run it continues; %sallow it "
                            "with --allow-schedule-change (sl_run_options.allow_schedule_change)",
                            r->opt.resume, was, now, kind, from, keep);
    char note[512];
    snprintf(note, sizeof note,
             "%s: resuming with train.epochs %d instead of %d (--allow-schedule-change): the %s "
             "schedule is recomputed for %d epochs, so the learning rate from epoch %d on is "
             "not the saved run's",
             r->opt.resume, now, was, kind, now, from);
    sl_run_note(r, note);
    return SL_OK;
}
