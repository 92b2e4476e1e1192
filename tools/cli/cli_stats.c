/*
 * cli_stats.c - dying-neuron statistics for the commands: the probe set a
 * config asks for, a report as text lines and as one JSONL object, and
 * running gnuplot on a script a command wrote.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

sl_status cli_stats_open(const sl_config *cfg, const sl_run_data *d, sl_model *model,
                         cli_stats *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    const sl_dataset *split = cfg->stats.probe_split == SL_SPLIT_TEST ? d->test : d->train_all;
    if (!split)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: stats.probe.split: the data has no %s split",
                            cfg->origin, cfg->stats.probe_split == SL_SPLIT_TEST ? "test" : "train");
    int64_t count = sl_dataset_count(split);
    if (cfg->stats.probe_count < count)
        count = cfg->stats.probe_count;
    out->probe = sl_dataset_subset(split, count, err);
    if (!out->probe)
        return err->status;
    int64_t batch = cfg->train.batch_size > 256 ? cfg->train.batch_size : 256;
    out->stats = sl_stats_new(model, out->probe, batch, cfg->loss, err);
    if (!out->stats) {
        cli_stats_close(out);
        return err->status;
    }
    return SL_OK;
}

void cli_stats_close(cli_stats *s)
{
    sl_stats_free(s->stats);
    sl_dataset_free(s->probe);
    memset(s, 0, sizeof *s);
}

/* "0.25 [0.1, 0.4]" for PReLU slopes, "-" otherwise. */
static const char *alpha_text(const sl_layer_stats *l, char *buf, size_t size)
{
    if (!l->n_alpha)
        snprintf(buf, size, "-");
    else if (l->n_alpha == 1)
        snprintf(buf, size, "%.4f", l->alpha_mean);
    else
        snprintf(buf, size, "%.4f [%.4f, %.4f]", l->alpha_mean, l->alpha_min, l->alpha_max);
    return buf;
}

void cli_stats_print(FILE *out, const sl_stats *s)
{
    fprintf(out, "  stats (epoch %d, step %lld, probe %lld examples):\n", sl_stats_epoch(s),
            (long long)sl_stats_step(s), (long long)sl_stats_probe_count(s));
    for (size_t i = 0; i < sl_stats_num_layers(s); i++) {
        const sl_layer_stats *l = sl_stats_layer(s, i);
        char alpha[96];
        fprintf(out,
                "    layer %d %-10s dead %5lld/%-5lld (%5.1f%%)  died %lld  revived %lld  "
                "sparsity %5.1f%%  |grad| %.3g  alpha %s\n",
                l->layer, sl_layer_type_name(l->type), (long long)l->dead, (long long)l->units,
                100.0 * l->dead_frac, (long long)l->died, (long long)l->revived,
                100.0 * l->sparsity, l->grad_mean_abs, alpha_text(l, alpha, sizeof alpha));
    }
    fflush(out);
}

/* A JSON number, or null for NaN/Inf (which JSON cannot hold). */
static void json_number(FILE *out, const char *key, double v)
{
    if (isfinite(v))
        fprintf(out, ", \"%s\": %.6g", key, v);
    else
        fprintf(out, ", \"%s\": null", key);
}

void cli_stats_jsonl(FILE *out, const sl_stats *s)
{
    fprintf(out, "{\"epoch\": %d, \"step\": %lld, \"probe\": %lld, \"stats\": [",
            sl_stats_epoch(s), (long long)sl_stats_step(s), (long long)sl_stats_probe_count(s));
    for (size_t i = 0; i < sl_stats_num_layers(s); i++) {
        const sl_layer_stats *l = sl_stats_layer(s, i);
        fprintf(out,
                "%s{\"layer\": %d, \"type\": \"%s\", \"units\": %lld, \"dead\": %lld, "
                "\"died\": %lld, \"revived\": %lld",
                i ? ", " : "", l->layer, sl_layer_type_name(l->type), (long long)l->units,
                (long long)l->dead, (long long)l->died, (long long)l->revived);
        json_number(out, "dead_frac", l->dead_frac);
        json_number(out, "sparsity", l->sparsity);
        json_number(out, "grad_mean_abs", l->grad_mean_abs);
        if (l->n_alpha) {
            json_number(out, "alpha_mean", l->alpha_mean);
            json_number(out, "alpha_min", l->alpha_min);
            json_number(out, "alpha_max", l->alpha_max);
        }
        fprintf(out, "}");
    }
    fprintf(out, "]}\n");
    fflush(out);
}

/* ---- gnuplot ------------------------------------------------------------- */

int cli_gnuplot(const char *script)
{
    char cmd[1200];
    if (system("command -v gnuplot > /dev/null 2>&1") != 0) {
        fprintf(stderr, "slope: gnuplot not found (Debian: apt-get install gnuplot-nox); "
                        "plots not drawn, their data and script are in %s\n", script);
        return 0;
    }
    /* Single quotes keep the shell off the path; a quote inside it would end them. */
    int n = strchr(script, '\'') ? -1 : snprintf(cmd, sizeof cmd, "gnuplot '%s'", script);
    if (n < 0 || n >= (int)sizeof cmd) {
        fprintf(stderr, "slope: cannot run gnuplot on %s (a quote in the path, or too long)\n",
                script);
        return -1;
    }
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "slope: gnuplot failed on %s\n", script);
        return -1;
    }
    return 1;
}
