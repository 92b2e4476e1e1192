/*
 * run_metrics.c - what a run appends to its metrics file (one JSON line per
 * epoch, with the dying-neuron reports taken during that epoch inside it), and
 * the probe set its statistics are measured on.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

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

/* ---- the lines ------------------------------------------------------------------------- */

/* A JSON number, or null for NaN/Inf (which JSON cannot hold). */
static void json_number(sl_text *out, const char *key, double v)
{
    if (isfinite(v))
        sl_text_printf(out, ", \"%s\": %.6g", key, v);
    else
        sl_text_printf(out, ", \"%s\": null", key);
}

/* "[{layer...}, ...]" of the last report. */
static void stats_json(sl_text *out, const sl_stats *s)
{
    sl_text_printf(out, "[");
    for (size_t i = 0; i < sl_stats_num_layers(s); i++) {
        const sl_layer_stats *l = sl_stats_layer(s, i);
        sl_text_printf(out,
                    "%s{\"layer\": %d, \"name\": \"%s\", \"type\": \"%s\", \"units\": %lld, "
                    "\"dead\": %lld, \"died\": %lld, \"revived\": %lld",
                    i ? ", " : "", l->layer, l->name, sl_layer_type_name(l->type),
                    (long long)l->units,
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
        sl_text_printf(out, "}");
    }
    sl_text_printf(out, "]");
}

/* ", \"probe\": N, \"stats\": [...]" (with_stats), ", \"reports\": [...]" (kept ones). */
static void stats_members(sl_run *r, sl_text *line, int with_stats)
{
    if ((with_stats || r->reports.len) && r->stats)
        sl_text_printf(line, ", \"probe\": %lld", (long long)sl_stats_probe_count(r->stats));
    if (with_stats && r->stats) {
        sl_text_printf(line, ", \"stats\": ");
        stats_json(line, r->stats);
    }
    if (r->reports.len)
        sl_text_printf(line, ", \"reports\": [%s]", r->reports.p);
}

/* Puts line on the file; a write error shows at the flush: then the file is closed and the
 * error named. */
static sl_status write_line(sl_run *r, sl_text *line, sl_error *err)
{
    sl_text_printf(line, "}\n");
    int failed = line->failed || r->reports.failed;
    if (!failed)
        fputs(line->p, r->metrics);
    sl_text_free(line);
    sl_text_free(&r->reports);
    if (failed)
        return sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory for a metrics line",
                            r->opt.metrics);
    if (fflush(r->metrics) != 0 || ferror(r->metrics))
        return sl_run_metrics_close(r, err);
    return SL_OK;
}

sl_status sl_run_metrics_epoch(sl_run *r, const sl_run_epoch *e, int with_stats, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    double rate = e->train.seconds > 0 ? (double)e->train.samples / e->train.seconds : 0.0;
    sl_text line = {0};
    sl_text_printf(&line,
                "{\"epoch\": %d, \"train_loss\": %.6g, \"train_acc\": %.6g, \"lr\": %.6g, "
                "\"seconds\": %.4g, \"samples_per_s\": %.6g",
                e->train.epoch + 1, e->train.loss, e->train.accuracy, (double)e->train.lr,
                e->train.seconds, rate);
    if (e->has_val)
        sl_text_printf(&line, ", \"val_loss\": %.6g, \"val_acc\": %.6g", e->val.loss,
                    e->val.accuracy);
    if (e->has_test)
        sl_text_printf(&line, ", \"test_loss\": %.6g, \"test_acc\": %.6g", e->test.loss,
                    e->test.accuracy);
    stats_members(r, &line, with_stats);
    return write_line(r, &line, err);
}

sl_status sl_run_metrics_stats(sl_run *r, sl_error *err)
{
    (void)err; /* an allocation failure shows when the line is written */
    if (!r->metrics || !r->stats)
        return SL_OK;
    sl_text_printf(&r->reports, "%s{\"step\": %lld, \"stats\": ", r->reports.len ? ", " : "",
                (long long)sl_stats_step(r->stats));
    stats_json(&r->reports, r->stats);
    sl_text_printf(&r->reports, "}");
    return SL_OK;
}

/* Closes the file, reporting what the buffered writes could not put on disk. */
static sl_status close_file(sl_run *r, sl_error *err)
{
    sl_text_free(&r->reports);
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

sl_status sl_run_metrics_close(sl_run *r, sl_error *err)
{
    if (!r->metrics)
        return SL_OK;
    if (r->reports.len || r->reports.failed) {
        /* Reports of an epoch that did not end: the epoch in progress, without results. */
        sl_text line = {0};
        sl_text_printf(&line, "{\"epoch\": %d, \"partial\": true",
                    r->trainer ? sl_trainer_epoch(r->trainer) + 1 : 1);
        stats_members(r, &line, 0);
        sl_status st = write_line(r, &line, err);
        if (st != SL_OK) { /* write_line closed the file when the write failed */
            if (r->metrics)
                close_file(r, NULL);
            return st;
        }
    }
    return close_file(r, err);
}

/* ---- the probe set ------------------------------------------------------------------ */

sl_status sl_run_stats_open(sl_run *r, sl_error *err)
{
    const sl_config *cfg = r->cfg;
    r->probe = sl_run_probe_open(cfg, r->data, err);
    if (!r->probe)
        return err->status;
    /* At the training batch in the trainer's graph: a report adds no memory to a run. */
    r->stats = sl_stats_new(r->model, r->probe, sl_run_probe_batch(cfg), cfg->loss, err);
    if (!r->stats)
        return err->status;
    return sl_stats_share_graph(r->stats, sl_trainer_graph(r->trainer), err);
}

void sl_run_stats_close(sl_run *r)
{
    sl_stats_free(r->stats);
    sl_dataset_free(r->probe);
    r->stats = NULL;
    r->probe = NULL;
}
