/*
 * run_metrics.c - what a run appends to its metrics file (one JSON object
 * per epoch, with that epoch's dying-neuron report inside), and the probe
 * set its statistics are measured on.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "run_internal.h"
#include "slope/dist.h"

sl_status sl_run_metrics_open(sl_run *r, sl_error *err)
{
    if (!r->opt.metrics || sl_dist_rank() != 0)
        return SL_OK;
    r->metrics = fopen(r->opt.metrics, "a");
    if (!r->metrics)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot open for appending", r->opt.metrics);
    return SL_OK;
}

/* Closes the file, reporting what the buffered writes could not put on disk. */
sl_status sl_run_metrics_close(sl_run *r, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    int failed = ferror(r->metrics);
    int reason = failed ? errno : 0; /* left by the write that failed */
    if (fclose(r->metrics) != 0) {
        failed = 1;
        reason = errno;
    }
    r->metrics = NULL;
    if (failed)
        return sl_error_set(err, SL_ERR_IO, "%s: writing the metrics failed%s%s", r->opt.metrics,
                            reason ? ": " : "", reason ? strerror(reason) : "");
    return SL_OK;
}

/* A write error shows at the flush: then the file is closed and the error named. */
static sl_status flush(sl_run *r, sl_error *err)
{
    if (fflush(r->metrics) != 0 || ferror(r->metrics))
        return sl_run_metrics_close(r, err);
    return SL_OK;
}

/* A JSON number, or null for NaN/Inf (which JSON cannot hold). */
static void json_number(FILE *out, const char *key, double v)
{
    if (isfinite(v))
        fprintf(out, ", \"%s\": %.6g", key, v);
    else
        fprintf(out, ", \"%s\": null", key);
}

/* ", \"probe\": N, \"stats\": [{layer...}, ...]" of the last report. */
static void stats_json(FILE *out, const sl_stats *s)
{
    fprintf(out, ", \"probe\": %lld, \"stats\": [", (long long)sl_stats_probe_count(s));
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
        json_number(out, "neg_mean", l->neg_mean);
        json_number(out, "neg_p01", l->neg_p01);
        json_number(out, "below_minus1", l->below_minus1);
        if (l->n_alpha) {
            json_number(out, "alpha_mean", l->alpha_mean);
            json_number(out, "alpha_min", l->alpha_min);
            json_number(out, "alpha_max", l->alpha_max);
        }
        fprintf(out, "}");
    }
    fprintf(out, "]");
}

sl_status sl_run_metrics_epoch(sl_run *r, const sl_run_epoch *e, int with_stats, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    double rate = e->train.seconds > 0 ? (double)e->train.samples / e->train.seconds : 0.0;
    fprintf(r->metrics,
            "{\"epoch\": %d, \"train_loss\": %.6g, \"train_acc\": %.6g, \"lr\": %.6g, "
            "\"seconds\": %.4g, \"samples_per_s\": %.6g",
            e->train.epoch + 1, e->train.loss, e->train.accuracy, (double)e->train.lr,
            e->train.seconds, rate);
    if (e->has_val)
        fprintf(r->metrics, ", \"val_loss\": %.6g, \"val_acc\": %.6g", e->val.loss,
                e->val.accuracy);
    if (e->has_test)
        fprintf(r->metrics, ", \"test_loss\": %.6g, \"test_acc\": %.6g", e->test.loss,
                e->test.accuracy);
    if (with_stats && r->stats)
        stats_json(r->metrics, r->stats);
    fprintf(r->metrics, "}\n");
    return flush(r, err);
}

sl_status sl_run_metrics_stats(sl_run *r, sl_error *err)
{
    if (!r->metrics || !r->stats)
        return SL_OK;
    fprintf(r->metrics, "{\"epoch\": %d, \"step\": %lld", sl_stats_epoch(r->stats),
            (long long)sl_stats_step(r->stats));
    stats_json(r->metrics, r->stats);
    fprintf(r->metrics, "}\n");
    return flush(r, err);
}

/* ---- the probe set ------------------------------------------------------------------ */

sl_status sl_run_stats_open(sl_run *r, sl_error *err)
{
    const sl_config *cfg = r->cfg;
    int test = cfg->stats.probe_split == SL_SPLIT_TEST;
    const sl_dataset *train = r->data->train_all ? r->data->train_all : r->data->train;
    const sl_dataset *split = test ? r->data->test : train;
    if (!split)
        return sl_error_set(err, SL_ERR_CONFIG, "%s: stats.probe.split: the data has no %s split",
                            cfg->origin, test ? "test" : "train");
    int64_t count = sl_dataset_count(split);
    if (cfg->stats.probe_count < count)
        count = cfg->stats.probe_count;
    r->probe = sl_dataset_subset(split, count, err);
    if (!r->probe)
        return err->status;
    /* Larger than the training batch when that is small: fewer, fuller products. */
    int64_t batch = cfg->train.batch_size > 256 ? cfg->train.batch_size : 256;
    r->stats = sl_stats_new(r->model, r->probe, batch, cfg->loss, err);
    return r->stats ? SL_OK : err->status;
}

void sl_run_stats_close(sl_run *r)
{
    sl_stats_free(r->stats);
    sl_dataset_free(r->probe);
    r->stats = NULL;
    r->probe = NULL;
}
