/*
 * compare_write.c - the files of a comparison (slope/compare.h): stats.csv,
 * seeds.csv and summary.json, written into the output directory (plots.gp:
 * compare_plots.c).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "compare_internal.h"

/* mkdir -p. */
sl_status sl_compare_make_dirs(const char *path, sl_error *err)
{
    char buf[1024];
    if (!path || !*path)
        return sl_error_set(err, SL_ERR_IO, "compare: the output directory name is empty");
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return sl_error_set(err, SL_ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        struct stat st;
        if (stat(buf, &st) != 0 && mkdir(buf, 0777) != 0 && errno != EEXIST)
            return sl_error_set(err, SL_ERR_IO, "%s: cannot create directory: %s", buf,
                                strerror(errno));
        *p = c;
        if (c == '\0')
            return SL_OK;
    }
}

/* out_dir/name, opened for writing. */
FILE *sl_compare_open_out(const sl_compare *c, const char *name, char *path, size_t size,
                      sl_error *err)
{
    if (snprintf(path, size, "%s/%s", c->out_dir, name) >= (int)size) {
        sl_error_set(err, SL_ERR_IO, "%s/%s: path too long", c->out_dir, name);
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        sl_error_set(err, SL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

/* Closes f; SL_ERR_IO when any write to it failed. */
sl_status sl_compare_close_out(FILE *f, const char *path, sl_error *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sl_error_set(err, SL_ERR_IO, "%s: write failed", path);
    return SL_OK;
}

#define STATS_CSV_HEADER                                                                    \
    "act,seed,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,died,revived,"     \
    "grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc,neg_mean,neg_p01,below_minus1"

/* ---- stats.csv -------------------------------------------------------------------------------- */

static void csv_optional(FILE *f, double v, int present)
{
    if (present && isfinite(v))
        fprintf(f, ",%.6g", v);
    else
        fprintf(f, ",");
}

static void csv_row(FILE *f, const sl_compare_run *run, const sl_compare_row *r)
{
    const sl_layer_stats *l = &r->l;
    fprintf(f, "%s,%llu,%d,%lld,%.6g,%d,%s,%lld,%lld,%.6g,%.6g,%lld,%lld", run->label,
            (unsigned long long)run->seed, r->epoch,
            (long long)r->step, r->progress, l->layer, sl_layer_type_name(l->type),
            (long long)l->units, (long long)l->dead, l->dead_frac, l->sparsity,
            (long long)l->died, (long long)l->revived);
    csv_optional(f, l->grad_mean_abs, 1);
    csv_optional(f, l->alpha_mean, l->n_alpha > 0);
    csv_optional(f, l->alpha_min, l->n_alpha > 0);
    csv_optional(f, l->alpha_max, l->n_alpha > 0);
    csv_optional(f, r->test_acc, 1);
    /* Negative growth: the negative pre-activations' mean and 1st percentile (empty when
     * there were none), and the fraction of outputs below -1. */
    csv_optional(f, l->neg_mean, 1);
    csv_optional(f, l->neg_p01, 1);
    csv_optional(f, l->below_minus1, 1);
    fprintf(f, "\n");
}

static sl_status write_csv(const sl_compare *c, sl_error *err)
{
    char path[1100];
    FILE *f = sl_compare_open_out(c, "stats.csv", path, sizeof path, err);
    if (!f)
        return err->status;
    fprintf(f, "%s\n", STATS_CSV_HEADER);
    for (size_t k = 0; k < c->n_rows; k++)
        csv_row(f, &c->runs[c->rows[k].run].pub, &c->rows[k]);
    return sl_compare_close_out(f, path, err);
}

/* ---- seeds.csv -------------------------------------------------------------------------------- */

/* One row per run and activation layer, at the end; a diverged run's measures empty. */
static sl_status write_seeds(const sl_compare *c, sl_error *err)
{
    char path[1100];
    FILE *f = sl_compare_open_out(c, "seeds.csv", path, sizeof path, err);
    if (!f)
        return err->status;
    int layers[SL_COMPARE_MAX_LAYERS];
    int64_t units[SL_COMPARE_MAX_LAYERS];
    int n = sl_compare_layer_list(c, layers, units, SL_COMPARE_MAX_LAYERS);
    fprintf(f, "act,seed,layer,units,dead_frac,sparsity,test_acc,diverged\n");
    for (size_t i = 0; i < c->n_runs; i++) {
        const sl_compare_run *r = &c->runs[i].pub;
        for (int k = 0; r->attempted && k < n; k++) {
            sl_compare_layer l;
            int ok = !r->failed && sl_compare_get_layer(c, i, (size_t)k, &l, NULL) == SL_OK;
            fprintf(f, "%s,%llu,%d,%lld", r->label, (unsigned long long)r->seed, layers[k],
                    (long long)units[k]);
            csv_optional(f, ok ? l.last.dead_frac : NAN, ok);
            csv_optional(f, ok ? l.last.sparsity : NAN, ok);
            csv_optional(f, r->final_test_acc, ok);
            fprintf(f, ",%d\n", !ok);
        }
    }
    return sl_compare_close_out(f, path, err);
}

/* ---- summary.json ----------------------------------------------------------------------------- */

static void add_histograms(cJSON *run_obj, const sl_compare_entry *e)
{
    cJSON *hists = cJSON_AddArrayToObject(run_obj, "alpha_histograms");
    for (size_t i = 0; i < e->n_hists; i++) {
        const sl_compare_hist *h = &e->hists[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "layer", h->layer);
        cJSON_AddNumberToObject(o, "lo", h->lo);
        cJSON_AddNumberToObject(o, "hi", h->hi);
        cJSON *arr = cJSON_AddArrayToObject(o, "counts");
        for (int b = 0; b < SL_COMPARE_HIST_BINS; b++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)h->counts[b]));
        cJSON_AddItemToArray(hists, o);
    }
}

static cJSON *run_json(const sl_compare_entry *e)
{
    const sl_compare_run *r = &e->pub;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "act", r->label);
    cJSON_AddStringToObject(o, "title", r->title);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddStringToObject(o, "status", !r->attempted ? "not attempted"
                                         : r->failed   ? "diverged"
                                                       : "finished");
    if (r->hashed) {
        char hex[20];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)r->initial_hash);
        cJSON_AddStringToObject(o, "initial_weights_hash", hex);
        cJSON_AddNumberToObject(o, "shared_tensors", r->shared_tensors);
        cJSON_AddNumberToObject(o, "shared_tensors_equal_to_reference", r->shared_equal);
        cJSON_AddNumberToObject(o, "shared_scalars", (double)r->shared_scalars);
    }
    if (r->failed)
        cJSON_AddStringToObject(o, "error", r->error);
    else if (r->attempted)
        add_histograms(o, e);
    if (isfinite(r->final_test_acc))
        cJSON_AddNumberToObject(o, "final_test_acc", r->final_test_acc);
    return o;
}

/* A number, or null when it is not one (JSON has no NaN). */
static void add_number(cJSON *o, const char *name, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, name, v);
    else
        cJSON_AddNullToObject(o, name);
}

static void add_estimate(cJSON *o, const char *name, const sl_compare_estimate *e)
{
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(x, "n", e->n);
    add_number(x, "mean", e->mean);
    add_number(x, "sd", e->sd);
    add_number(x, "ci95_lo", e->lo);
    add_number(x, "ci95_hi", e->hi);
}

static void add_test(cJSON *o, const char *name, const char *test, double t, double df,
                     double p)
{
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddStringToObject(x, "test", test);
    if (strcmp(test, "fisher_exact_two_sided") != 0) {
        add_number(x, "t", t);
        add_number(x, "df", df);
    }
    add_number(x, "p", p);
}

/* Per activation and layer over the seeds; tests against the first activation. */
static void add_aggregates(cJSON *s, const sl_compare *c)
{
    cJSON *arr = cJSON_AddArrayToObject(s, "aggregates");
    for (size_t i = 0; i < sl_compare_num_aggregates(c); i++) {
        sl_compare_aggregate g;
        if (sl_compare_get_aggregate(c, i, &g, NULL) != SL_OK)
            continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "act", g.label);
        cJSON_AddStringToObject(o, "title", g.title);
        cJSON_AddNumberToObject(o, "layer", g.layer);
        cJSON_AddNumberToObject(o, "units", (double)g.units);
        cJSON_AddNumberToObject(o, "runs", g.runs);
        cJSON_AddNumberToObject(o, "finished", g.finished);
        cJSON_AddNumberToObject(o, "diverged", g.diverged);
        add_estimate(o, "dead_frac_init", &g.dead_init);
        add_estimate(o, "dead_frac", &g.dead_frac);
        add_estimate(o, "sparsity", &g.sparsity);
        add_estimate(o, "died", &g.died);
        add_estimate(o, "revived", &g.revived);
        add_estimate(o, "test_acc", &g.test_acc);
        add_estimate(o, "neg_mean", &g.neg_mean);
        add_estimate(o, "neg_p01", &g.neg_p01);
        add_estimate(o, "below_minus1", &g.below_minus1);
        if (g.act > 0) {
            cJSON *v = cJSON_AddObjectToObject(o, "vs_first");
            cJSON_AddStringToObject(v, "against", c->runs[0].label);
            add_test(v, "diverged", "fisher_exact_two_sided", NAN, NAN, g.p_diverged);
            add_test(v, "dead_frac", "welch_t_two_sided", g.t_dead, g.df_dead, g.p_dead);
            add_test(v, "test_acc", "welch_t_two_sided", g.t_acc, g.df_acc, g.p_acc);
        }
        cJSON_AddItemToArray(arr, o);
    }
}

static cJSON *summary_json(const sl_compare *c)
{
    const sl_config *cfg = c->cfg;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "config", c->config_label);
    cJSON_AddStringToObject(s, "name", cfg->name);
    cJSON_AddNumberToObject(s, "seed", (double)cfg->seed);
    cJSON_AddNumberToObject(s, "epochs", cfg->train.epochs);
    cJSON_AddStringToObject(s, "probe_split",
                            cfg->stats.probe_split == SL_SPLIT_TEST ? "test" : "train");
    cJSON_AddNumberToObject(s, "probe_count", (double)c->probe_count);
    cJSON_AddNumberToObject(s, "stats_every_steps", (double)cfg->stats.every_steps);
    cJSON_AddNumberToObject(s, "seeds", c->n_seeds);
    cJSON *list = cJSON_AddArrayToObject(s, "seed_list");
    for (int i = 0; i < c->n_seeds; i++)
        cJSON_AddItemToArray(list, cJSON_CreateNumber((double)(cfg->seed + (uint64_t)i)));
    cJSON_AddStringToObject(s, "initial_weights_from", c->runs[0].label);
    cJSON *runs = cJSON_AddArrayToObject(s, "runs");
    for (size_t i = 0; i < c->n_runs; i++)
        cJSON_AddItemToArray(runs, run_json(&c->runs[i]));
    cJSON_AddBoolToObject(s, "initial_weights_shared", sl_compare_weights_shared(c));
    add_aggregates(s, c);
    return s;
}

static sl_status write_summary(const sl_compare *c, sl_error *err)
{
    cJSON *summary = summary_json(c);
    char *text = summary ? cJSON_Print(summary) : NULL;
    cJSON_Delete(summary);
    if (!text)
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory for summary.json");
    char path[1100];
    FILE *f = sl_compare_open_out(c, "summary.json", path, sizeof path, err);
    if (f) {
        fputs(text, f);
        fputc('\n', f);
    }
    cJSON_free(text);
    return f ? sl_compare_close_out(f, path, err) : err->status;
}

sl_status sl_compare_write(const sl_compare *c, sl_error *err)
{
    if (!c)
        return sl_error_set(err, SL_ERR_INVALID, "sl_compare_write: NULL comparison");
    if (!c->ran)
        return sl_error_set(err, SL_ERR_STATE, "sl_compare_write: call sl_compare_run_all first");
    sl_error local = {0};
    if (!err)
        err = &local;
    if (sl_compare_make_dirs(c->out_dir, err) != SL_OK || write_csv(c, err) != SL_OK ||
        write_seeds(c, err) != SL_OK || write_summary(c, err) != SL_OK)
        return err->status;
    return sl_compare_write_plots(c, err);
}
