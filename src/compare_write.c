/*
 * compare_write.c - the files of a comparison (slope/compare.h): stats.csv,
 * summary.json and plots.gp, written into the output directory.
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

#define MAX_PLOT_LAYERS 64

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
static FILE *open_out(const sl_compare *c, const char *name, char *path, size_t size,
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
static sl_status close_out(FILE *f, const char *path, sl_error *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sl_error_set(err, SL_ERR_IO, "%s: write failed", path);
    return SL_OK;
}

/* ---- stats.csv -------------------------------------------------------------------------------- */

static void csv_optional(FILE *f, double v, int present)
{
    if (present && isfinite(v))
        fprintf(f, ",%.6g", v);
    else
        fprintf(f, ",");
}

static void csv_row(FILE *f, const char *act, const sl_compare_row *r)
{
    const sl_layer_stats *l = &r->l;
    fprintf(f, "%s,%d,%lld,%.6g,%d,%s,%lld,%lld,%.6g,%.6g,%lld,%lld", act, r->epoch,
            (long long)r->step, r->progress, l->layer, sl_layer_type_name(l->type),
            (long long)l->units, (long long)l->dead, l->dead_frac, l->sparsity,
            (long long)l->died, (long long)l->revived);
    csv_optional(f, l->grad_mean_abs, 1);
    csv_optional(f, l->alpha_mean, l->n_alpha > 0);
    csv_optional(f, l->alpha_min, l->n_alpha > 0);
    csv_optional(f, l->alpha_max, l->n_alpha > 0);
    csv_optional(f, r->test_acc, 1);
    fprintf(f, "\n");
}

static sl_status write_csv(const sl_compare *c, sl_error *err)
{
    char path[1100];
    FILE *f = open_out(c, "stats.csv", path, sizeof path, err);
    if (!f)
        return err->status;
    fprintf(f, "act,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,died,"
               "revived,grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc\n");
    for (size_t k = 0; k < c->n_rows; k++)
        csv_row(f, c->runs[c->rows[k].run].label, &c->rows[k]);
    return close_out(f, path, err);
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
    cJSON_AddStringToObject(s, "initial_weights_from", c->runs[0].label);
    cJSON *runs = cJSON_AddArrayToObject(s, "runs");
    for (size_t i = 0; i < c->n_runs; i++)
        cJSON_AddItemToArray(runs, run_json(&c->runs[i]));
    cJSON_AddBoolToObject(s, "initial_weights_shared", sl_compare_weights_shared(c));
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
    FILE *f = open_out(c, "summary.json", path, sizeof path, err);
    if (f) {
        fputs(text, f);
        fputc('\n', f);
    }
    cJSON_free(text);
    return f ? close_out(f, path, err) : err->status;
}

/* ---- plots.gp --------------------------------------------------------------------------------- */

/* Whether the run has PReLU slopes worth plotting (a failed run's never moved). */
static int has_prelu(const sl_compare *c, size_t run)
{
    if (c->runs[run].pub.failed)
        return 0;
    for (size_t k = 0; k < c->n_rows; k++)
        if (c->rows[k].run == run && c->rows[k].l.n_alpha > 0)
            return 1;
    return 0;
}

/* Datablock $<name>_<layer>_<run>: progress and the chosen columns. */
static void datablock(FILE *f, const sl_compare *c, const char *name, int layer, size_t run,
                      int alpha)
{
    fprintf(f, "$%s_%d_%zu << EOD\n", name, layer, run);
    for (size_t k = 0; k < c->n_rows; k++) {
        const sl_compare_row *r = &c->rows[k];
        if (r->run != run || r->l.layer != layer)
            continue;
        if (alpha)
            fprintf(f, "%.6g %.6g %.6g %.6g\n", r->progress, r->l.alpha_mean, r->l.alpha_min,
                    r->l.alpha_max);
        else
            fprintf(f, "%.6g %.6g\n", r->progress, 100.0 * r->l.dead_frac);
    }
    fprintf(f, "EOD\n");
}

/* The activation layers, from the first report. */
static int layer_list(const sl_compare *c, int *layers, int64_t *units, int max)
{
    int n = 0;
    for (size_t k = 0; k < c->n_rows && n < max; k++) {
        if (c->rows[k].step != c->rows[0].step || c->rows[k].run != c->rows[0].run)
            break;
        units[n] = c->rows[k].l.units;
        layers[n++] = c->rows[k].l.layer;
    }
    return n;
}

static void plot_terminal(FILE *f, int panels, const char *dir, const char *png)
{
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size %d,420 font 'sans,10'\n"
               "} else {\n  set terminal png noenhanced size %d,420\n}\n",
            panels * 420 + 60, panels * 420 + 60);
    fprintf(f, "set output '%s/%s'\nset key top left box opaque\nset grid\n", dir, png);
}

static void plot_dying(FILE *f, const sl_compare *c, const int *layers, const int64_t *units,
                       int n)
{
    plot_terminal(f, n, c->out_dir, "dying.png");
    fprintf(f, "set multiplot layout 1,%d title 'Dead units during training: %s (probe %lld "
               "examples)'\n",
            n, c->cfg->name, (long long)c->probe_count);
    double top = 5.0;
    for (size_t k = 0; k < c->n_rows; k++)
        top = fmax(top, 110.0 * c->rows[k].l.dead_frac);
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'dead units (%%)'\nset yrange [0:%.0f]\n",
            fmin(top, 100.0));
    for (int i = 0; i < n; i++) {
        fprintf(f, "set title 'activation layer %d (%lld units)'\nplot ", layers[i],
                (long long)units[i]);
        for (size_t run = 0; run < c->n_runs; run++)
            fprintf(f, "%s$dead_%d_%zu using 1:2 with linespoints pt 7 ps 0.5 lw 2 title '%s%s'",
                    run ? ", " : "", layers[i], run, c->runs[run].label,
                    c->runs[run].pub.failed ? " (failed)" : "");
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static void plot_prelu(FILE *f, const sl_compare *c, const int *layers, int n)
{
    plot_terminal(f, n, c->out_dir, "prelu.png");
    fprintf(f, "set multiplot layout 1,%d title 'Learned PReLU slopes: %s (line: mean, band: "
               "min to max)'\n",
            n, c->cfg->name);
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'slope a'\nset yrange [*:*]\n"
               "set style fill transparent solid 0.2 noborder\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "set title 'activation layer %d'\nplot ", layers[i]);
        int first = 1;
        for (size_t run = 0; run < c->n_runs; run++) {
            if (!has_prelu(c, run))
                continue;
            fprintf(f, "%s$alpha_%d_%zu using 1:3:4 with filledcurves lc %zu notitle, "
                       "$alpha_%d_%zu using 1:2 with lines lw 2 lc %zu title '%s'",
                    first ? "" : ", ", layers[i], run, run + 1, layers[i], run, run + 1,
                    c->runs[run].label);
            first = 0;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static sl_status write_plots(const sl_compare *c, sl_error *err)
{
    char path[1100];
    FILE *f = open_out(c, "plots.gp", path, sizeof path, err);
    if (!f)
        return err->status;
    int layers[MAX_PLOT_LAYERS], any_prelu = 0;
    int64_t units[MAX_PLOT_LAYERS];
    int n = layer_list(c, layers, units, MAX_PLOT_LAYERS);
    fprintf(f, "# slope compare: %s; run `gnuplot %s`\nset datafile separator whitespace\n",
            c->cfg->name, path);
    for (size_t run = 0; run < c->n_runs; run++) {
        any_prelu |= has_prelu(c, run);
        for (int i = 0; i < n; i++) {
            datablock(f, c, "dead", layers[i], run, 0);
            datablock(f, c, "alpha", layers[i], run, 1);
        }
    }
    if (n > 0)
        plot_dying(f, c, layers, units, n);
    if (any_prelu)
        plot_prelu(f, c, layers, n);
    return close_out(f, path, err);
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
        write_summary(c, err) != SL_OK)
        return err->status;
    return write_plots(c, err);
}
