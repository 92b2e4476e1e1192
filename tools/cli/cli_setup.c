/* cli_setup.c - from a config to datasets, a model and training options. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_exit_code(sl_status st)
{
    switch (st) {
    case SL_OK: return EXIT_OK;
    case SL_ERR_CONFIG:
    case SL_ERR_FORMAT:
    case SL_ERR_SHAPE:
    case SL_ERR_INVALID:
    case SL_ERR_UNSUPPORTED: return EXIT_INPUT;
    case SL_ERR_NUMERIC: return EXIT_NUMERIC;
    case SL_ERR_IO: return EXIT_IO;
    default: return EXIT_FAILURE_GENERIC;
    }
}

int cli_fail(const sl_error *err)
{
    if (sl_dist_rank() == 0) /* under MPI every rank holds the same agreed error */
        fprintf(stderr, "slope: %s\n", err->message[0] ? err->message : sl_status_name(err->status));
    return cli_exit_code(err->status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slope %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see `slope %s --help`)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

static int is_dir(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *cli_datasets_dir(void)
{
    const char *env = getenv("SLOPE_DATASETS_DIR");
    if (env && *env)
        return env;
#ifdef SLOPE_SOURCE_DIR
    /* A build-tree binary prefers its own tree over whatever an older install left. */
    if (is_dir(SLOPE_SOURCE_DIR "/datasets"))
        return SLOPE_SOURCE_DIR "/datasets";
#endif
#ifdef SLOPE_INSTALL_DATASETS_DIR
    if (is_dir(SLOPE_INSTALL_DATASETS_DIR))
        return SLOPE_INSTALL_DATASETS_DIR;
#endif
    return "datasets";
}

static sl_dataset *open_files(const sl_config_files *f, int classes, sl_error *err)
{
    if (f->csv)
        return sl_dataset_load_csv(f->csv, classes, err);
    return sl_dataset_load_idx(f->images, f->labels, classes, err);
}

static sl_status open_splits(const sl_config *cfg, cli_data *d, sl_error *err)
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
        d->train_all = sl_dataset_open(cli_datasets_dir(), c->dataset, "train", err);
        d->test = d->train_all ? sl_dataset_open(cli_datasets_dir(), c->dataset, "test", err)
                               : NULL;
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

static sl_status apply_normalize(const sl_config *cfg, cli_data *d, sl_error *err)
{
    double mean = cfg->data.mean, std = cfg->data.std;
    if (cfg->data.normalize == SL_NORMALIZE_STANDARDIZE && !cfg->data.has_mean_std &&
        sl_dataset_mean_std(d->train_all, &mean, &std, err) != SL_OK)
        return err->status;
    sl_dataset *all[2] = {d->train_all, d->test};
    for (int i = 0; i < 2; i++)
        if (all[i] && sl_dataset_set_normalize(all[i], cfg->data.normalize, mean, std, err) != SL_OK)
            return err->status;
    return SL_OK;
}

sl_status cli_open_data(const sl_config *cfg, cli_data *d, sl_error *err)
{
    memset(d, 0, sizeof *d);
    sl_status st = open_splits(cfg, d, err);
    if (st == SL_OK)
        st = apply_normalize(cfg, d, err);
    if (st == SL_OK && cfg->data.validation > 0.0)
        st = sl_dataset_split(d->train_all, cfg->data.validation, cfg->seed, &d->train, &d->val,
                              err);
    else if (st == SL_OK)
        d->train = d->train_all;
    if (st != SL_OK)
        cli_close_data(d);
    return st;
}

void cli_close_data(cli_data *d)
{
    if (d->train != d->train_all)
        sl_dataset_free(d->train);
    sl_dataset_free(d->train_all);
    sl_dataset_free(d->val);
    sl_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

sl_model *cli_build_model(const sl_config *cfg, sl_error *err)
{
    sl_model *m = sl_config_build_model(cfg, err);
    if (m && sl_model_init(m, cfg->model.init, cfg->seed, err) != SL_OK) {
        sl_model_free(m);
        return NULL;
    }
    return m;
}

sl_train_options cli_train_options(const sl_config *cfg)
{
    sl_train_options o = sl_train_defaults();
    o.epochs = cfg->train.epochs;
    o.batch_size = cfg->train.batch_size;
    o.shuffle = cfg->train.shuffle;
    o.drop_last = cfg->train.drop_last;
    o.seed = cfg->seed;
    o.loss = cfg->loss;
    o.optim = cfg->optimizer;
    o.schedule = cfg->schedule;
    return o;
}

int cli_config_option(const char *cmd, int argc, char **argv, int *i, cli_config_args *a)
{
    const char *opt = argv[*i];
    int takes_value = strcmp(opt, "--set") == 0 || strcmp(opt, "--epochs") == 0 ||
                      strcmp(opt, "--threads") == 0;
    if (!takes_value)
        return 0;
    if (*i + 1 >= argc) {
        cli_usage_error(cmd, "%s needs a value", opt);
        return -1;
    }
    const char *value = argv[++*i];
    if (strcmp(opt, "--set") == 0) {
        if (a->n_overrides == sizeof a->overrides / sizeof a->overrides[0] || !strchr(value, '=')) {
            cli_usage_error(cmd, "--set takes path=value (at most 64 of them), got \"%s\"", value);
            return -1;
        }
        a->overrides[a->n_overrides++] = value;
        return 1;
    }
    char *end;
    long n = strtol(value, &end, 10);
    if (*end || end == value || n < 1 || n > 1000000) {
        cli_usage_error(cmd, "%s takes a positive integer, got \"%s\"", opt, value);
        return -1;
    }
    if (strcmp(opt, "--threads") == 0)
        a->threads = (int)n;
    else {
        snprintf(a->epochs_override, sizeof a->epochs_override, "train.epochs=%ld", n);
        if (a->n_overrides == sizeof a->overrides / sizeof a->overrides[0]) {
            cli_usage_error(cmd, "too many overrides");
            return -1;
        }
        a->overrides[a->n_overrides++] = a->epochs_override;
    }
    return 1;
}

sl_config *cli_load_config(const cli_config_args *a, sl_error *err)
{
    sl_config *cfg = sl_config_load(a->path, a->overrides, a->n_overrides, err);
    if (!cfg)
        return NULL;
    int threads = a->threads ? a->threads : cfg->train.threads;
    if (threads > 0)
        sl_set_num_threads(threads);
    return cfg;
}
