/*
 * run_data.c - from a config to its datasets, its model and its trainer
 * options (see slope/run.h).
 */
#include <stdlib.h>
#include <string.h>

#include "slope/run.h"

/* (sl_datasets_dir is data_named.c's: the descriptors' own module says where they are.) */

static sl_dataset *open_files(const sl_config_files *f, int classes, sl_error *err)
{
    if (f->csv)
        return sl_dataset_load_csv(f->csv, classes, err);
    return sl_dataset_load_idx(f->images, f->labels, classes, err);
}

static sl_status open_splits(const sl_config *cfg, const char *dir, sl_run_data *d, sl_error *err)
{
    const sl_config_data *c = &cfg->data;
    if (c->dataset && strcmp(c->dataset, "spiral") == 0) {
        d->train_all = sl_dataset_spiral(c->spiral_classes, c->spiral_points, c->spiral_noise,
                                         cfg->seed, err);
        /* The test arms are the same curves with fresh noise. */
        d->test = d->train_all ? sl_dataset_spiral(c->spiral_classes, c->spiral_points,
                                                   c->spiral_noise, cfg->seed + 1, err)
                               : NULL;
        return d->test ? SL_OK : err->status;
    }
    if (c->dataset) {
        d->train_all = sl_dataset_open(dir, c->dataset, "train", err);
        d->test = d->train_all ? sl_dataset_open(dir, c->dataset, "test", err) : NULL;
        return d->test ? SL_OK : err->status;
    }
    d->train_all = open_files(&c->train, c->classes, err);
    if (!d->train_all)
        return err->status;
    if (c->test.csv || c->test.images) {
        d->test = open_files(&c->test, sl_dataset_num_classes(d->train_all), err);
        if (!d->test)
            return err->status;
    }
    return SL_OK;
}

static sl_status apply_normalize(const sl_config *cfg, sl_run_data *d, sl_error *err)
{
    double mean = cfg->data.mean, std = cfg->data.std;
    if (cfg->data.normalize == SL_NORMALIZE_STANDARDIZE && !cfg->data.has_mean_std &&
        sl_dataset_mean_std(d->train_all, &mean, &std, err) != SL_OK)
        return err->status;
    sl_dataset *all[2] = {d->train_all, d->test};
    for (int i = 0; i < 2; i++)
        if (all[i] && sl_dataset_set_normalize(all[i], cfg->data.normalize, mean, std, err) != SL_OK)
            return err->status;
    d->normalize = cfg->data.normalize;
    d->mean = mean;
    d->std = std;
    return SL_OK;
}

sl_status sl_run_data_open(const sl_config *cfg, const char *datasets_dir, sl_run_data *d,
                           sl_error *err)
{
    if (!d)
        return sl_error_set(err, SL_ERR_INVALID, "sl_run_data_open: NULL data");
    memset(d, 0, sizeof *d);
    if (!cfg)
        return sl_error_set(err, SL_ERR_INVALID, "sl_run_data_open: NULL config");
    sl_error local = {0};
    if (!err)
        err = &local;
    sl_status st = open_splits(cfg, datasets_dir ? datasets_dir : sl_datasets_dir(), d, err);
    if (st == SL_OK)
        st = apply_normalize(cfg, d, err);
    if (st == SL_OK && cfg->data.validation > 0.0)
        st = sl_dataset_split(d->train_all, cfg->data.validation, cfg->seed, &d->train, &d->val,
                              err);
    else if (st == SL_OK)
        d->train = d->train_all;
    if (st != SL_OK)
        sl_run_data_close(d);
    return st;
}

void sl_run_data_close(sl_run_data *d)
{
    if (!d)
        return;
    if (d->train != d->train_all)
        sl_dataset_free(d->train);
    sl_dataset_free(d->train_all);
    sl_dataset_free(d->val);
    sl_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

/* What the config alone says of the input normalisation: a mean and std computed from
 * the training split are the data's (sl_run_data_open), so standardize without a given
 * pair stays none here, and the run (or a loaded checkpoint) sets the real values. */
static sl_status config_normalize(const sl_config *cfg, sl_model *m, sl_error *err)
{
    sl_normalize kind = cfg->data.normalize;
    if (kind == SL_NORMALIZE_STANDARDIZE && !cfg->data.has_mean_std)
        return SL_OK;
    return sl_model_set_input_normalize(m, kind, cfg->data.mean, cfg->data.std, err);
}

sl_model *sl_run_build_model(const sl_config *cfg, sl_error *err)
{
    sl_model *m = sl_config_build_model(cfg, err);
    if (m && (sl_model_init(m, cfg->model.init, cfg->seed, err) != SL_OK ||
              config_normalize(cfg, m, err) != SL_OK)) {
        sl_model_free(m);
        return NULL;
    }
    return m;
}

sl_train_options sl_run_train_options(const sl_config *cfg)
{
    sl_train_options o = sl_train_defaults();
    if (!cfg)
        return o;
    o.epochs = cfg->train.epochs;
    o.batch_size = cfg->train.batch_size;
    o.shuffle = cfg->train.shuffle;
    o.drop_last = cfg->train.drop_last;
    o.seed = cfg->seed;
    o.loss = cfg->loss;
    o.label_smoothing = cfg->label_smoothing;
    o.optim = cfg->optimizer;
    o.schedule = cfg->schedule;
    o.augment = cfg->data.augment;
    o.precision = cfg->train.precision;
    return o;
}

sl_dataset *sl_run_probe_open(const sl_config *cfg, const sl_run_data *d, sl_error *err)
{
    if (!cfg || !d) {
        sl_error_set(err, SL_ERR_INVALID, "sl_run_probe_open: NULL config or data");
        return NULL;
    }
    int test = cfg->stats.probe_split == SL_SPLIT_TEST;
    const sl_dataset *train = d->train_all ? d->train_all : d->train;
    const sl_dataset *split = test ? d->test : train;
    if (!split) {
        sl_error_set(err, SL_ERR_CONFIG, "%s: stats.probe.split: the data has no %s split",
                     cfg->origin, test ? "test" : "train");
        return NULL;
    }
    int64_t count = sl_dataset_count(split);
    if (cfg->stats.probe_count < count)
        count = cfg->stats.probe_count;
    return sl_dataset_subset(split, count, err);
}

int64_t sl_run_probe_batch(const sl_config *cfg)
{
    /* The training batch: in the trainer's graph (sl_stats_share_graph) a report then needs
     * no more arena than a step.  (A batch of at least 256, as before, held 190 MiB more for
     * the CNN, in a graph of its own.) */
    return cfg && cfg->train.batch_size > 0 ? cfg->train.batch_size
                                           : sl_train_defaults().batch_size;
}
