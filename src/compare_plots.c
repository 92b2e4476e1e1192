/*
 * compare_plots.c - plots.gp of a comparison (slope/compare.h): a gnuplot
 * script with its data inline.  dying.png: dead units per layer over
 * training (one line per run; with several seeds, per activation the mean
 * over the finished runs and a shaded 95% t-band).  prelu.png: the learned
 * slopes of the PReLU runs (the first seed's).  alpha.png, for a sweep of
 * leaky_relu slopes: dead units per layer and test accuracy against alpha.
 */
#include <math.h>
#include <stdio.h>

#include "alloc.h"
#include "compare_internal.h"

/* Whether the run has PReLU slopes worth plotting (a failed run's never moved). */
static int has_prelu(const sl_compare *c, size_t run)
{
    if (c->runs[run].pub.failed || c->runs[run].pub.seed_index != 0)
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

/* A percentage drawn within [0, 100] (an interval of a fraction may reach past it). */
static double pct(double v)
{
    return fmin(fmax(100.0 * v, 0.0), 100.0);
}

/* "mean lo hi" in percent; lo = hi = mean without an interval. */
static void estimate_cols(FILE *f, const sl_compare_estimate *e)
{
    if (e->n == 0)
        fprintf(f, " NaN NaN NaN");
    else if (e->n < 2)
        fprintf(f, " %.6g %.6g %.6g", pct(e->mean), pct(e->mean), pct(e->mean));
    else
        fprintf(f, " %.6g %.6g %.6g", pct(e->mean), pct(e->lo), pct(e->hi));
}

/* Datablock $band_<layer>_<act>: progress, and the dead units' mean, lo, hi over the
 * finished runs of act at each report.  Returns 0 when it could not be written. */
static int band_block(FILE *f, const sl_compare *c, size_t act, int layer)
{
    double *v = sl_calloc((size_t)c->n_seeds, sizeof *v);
    if (!v)
        return 0;
    fprintf(f, "$band_%d_%zu << EOD\n", layer, act);
    int reports = sl_compare_num_reports(c, act, layer);
    for (int j = 0; j < reports; j++) {
        double progress = 0.0;
        int n = sl_compare_report_values(c, act, layer, j, v, &progress);
        sl_compare_estimate e = sl_compare_estimate_of(v, n);
        if (n == 0)
            continue;
        fprintf(f, "%.6g", progress);
        estimate_cols(f, &e);
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
    sl_free(v);
    return 1;
}

static void plot_terminal(FILE *f, int panels, int height, const char *dir, const char *png)
{
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size %d,%d font 'sans,10'\n"
               "} else {\n  set terminal png noenhanced size %d,%d\n}\n",
            panels * 420 + 60, height, panels * 420 + 60, height);
    fprintf(f, "set output '%s/%s'\nset key top left box opaque\nset grid\n", dir, png);
}

/* Finished runs of act. */
static int finished(const sl_compare *c, size_t act)
{
    int n = 0;
    for (int s = 0; s < c->n_seeds; s++) {
        const sl_compare_run *r = &c->runs[(size_t)s * c->n_acts + act].pub;
        n += r->attempted && !r->failed;
    }
    return n;
}

/* One panel's curves: a line per run (one seed), or a band per activation (seeds). */
static void dying_curves(FILE *f, const sl_compare *c, int layer)
{
    if (c->n_seeds == 1) {
        for (size_t run = 0; run < c->n_runs; run++)
            fprintf(f, "%s$dead_%d_%zu using 1:2 with linespoints pt 7 ps 0.5 lw 2 title '%s%s'",
                    run ? ", " : "", layer, run, c->runs[run].pub.title,
                    c->runs[run].pub.failed ? " (failed)" : "");
        return;
    }
    for (size_t a = 0; a < c->n_acts; a++) {
        int n = finished(c, a);
        const char *title = c->runs[a].pub.title;
        if (n == 0) { /* a key entry only */
            fprintf(f, "%s1/0 with lines lw 2 lc %zu title '%s: all %d diverged'", a ? ", " : "",
                    a + 1, title, c->n_seeds);
            continue;
        }
        fprintf(f, "%s$band_%d_%zu using 1:3:4 with filledcurves lc %zu notitle, "
                   "$band_%d_%zu using 1:2 with linespoints pt 7 ps 0.5 lw 2 lc %zu "
                   "title '%s (%d/%d finished)'",
                a ? ", " : "", layer, a, a + 1, layer, a, a + 1, title, n, c->n_seeds);
    }
}

static void plot_dying(FILE *f, const sl_compare *c, const int *layers, const int64_t *units,
                       int n)
{
    plot_terminal(f, n, c->n_seeds > 1 ? 460 + 16 * (int)c->n_acts : 420, c->out_dir,
                  "dying.png");
    if (c->n_seeds == 1)
        fprintf(f, "set multiplot layout 1,%d title 'Dead units during training: %s (probe "
                   "%lld examples)'\n",
                n, c->cfg->name, (long long)c->probe_count);
    else
        fprintf(f, "set multiplot layout 1,%d title 'Dead units during training: %s, %d seeds "
                   "(line: mean over the finished runs, band: 95%% t-interval; probe %lld "
                   "examples)'\n",
                n, c->cfg->name, c->n_seeds, (long long)c->probe_count);
    double top = 5.0;
    for (size_t k = 0; k < c->n_rows; k++)
        top = fmax(top, 110.0 * c->rows[k].l.dead_frac);
    if (c->n_seeds > 1) /* the bands set the top; the key below them */
        fprintf(f, "set key below\nset yrange [0:*]\n");
    else
        fprintf(f, "set yrange [0:%.0f]\n", fmin(top, 100.0));
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'dead units (%%)'\n"
               "set style fill transparent solid 0.2 noborder\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "set title 'activation layer %d (%lld units)'\nplot ", layers[i],
                (long long)units[i]);
        dying_curves(f, c, layers[i]);
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static void plot_prelu(FILE *f, const sl_compare *c, const int *layers, int n)
{
    plot_terminal(f, n, 420, c->out_dir, "prelu.png");
    fprintf(f, "set multiplot layout 1,%d title 'Learned PReLU slopes: %s (line: mean, band: "
               "min to max)%s'\n",
            n, c->cfg->name, c->n_seeds > 1 ? "; first seed only" : "");
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
                    c->runs[run].pub.title);
            first = 0;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

/* $sweep: alpha, then per layer the dead units' mean lo hi, then the test accuracy's. */
static int sweep_block(FILE *f, const sl_compare *c, int n)
{
    int ok = 1;
    fprintf(f, "$sweep << EOD\n");
    for (size_t a = 0; a < c->n_acts; a++) {
        sl_compare_aggregate g = {0};
        fprintf(f, "%.6g", (double)c->runs[a].pub.act.alpha);
        for (int k = 0; k < n; k++) {
            ok &= sl_compare_get_aggregate(c, a * (size_t)n + (size_t)k, &g, NULL) == SL_OK;
            estimate_cols(f, &g.dead_frac);
        }
        estimate_cols(f, &g.test_acc);
        fprintf(f, "\n");
    }
    fprintf(f, "EOD\n");
    return ok;
}

static int plot_sweep(FILE *f, const sl_compare *c, const int *layers, int n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t a = 0; a < c->n_acts; a++) {
        lo = fmin(lo, c->runs[a].pub.act.alpha);
        hi = fmax(hi, c->runs[a].pub.act.alpha);
    }
    int ok = sweep_block(f, c, n);
    plot_terminal(f, n + 1, 420, c->out_dir, "alpha.png");
    fprintf(f, "set multiplot layout 1,%d title 'leaky_relu slope sweep: %s, %d seed(s) (mean "
               "over the finished runs, error bars: 95%% t-interval)'\n"
               "set xlabel 'alpha'\nset yrange [*:*]\nset key off\n",
            n + 1, c->cfg->name, c->n_seeds);
    if (lo > 0.0) /* slopes spanning decades read best on a log axis; 0 has no place there */
        fprintf(f, "set logscale x\nset xrange [%.6g:%.6g]\n", lo / 1.5, hi * 1.5);
    else
        fprintf(f, "set xrange [%.6g:%.6g]\n", lo - 0.05 * (hi - lo + 1e-3),
                hi + 0.05 * (hi - lo + 1e-3));
    for (int k = 0; k < n; k++)
        fprintf(f, "set title 'activation layer %d'\nset ylabel 'dead units at the end (%%)'\n"
                   "plot $sweep using 1:%d:%d:%d with yerrorlines pt 7 lw 2\n",
                layers[k], 2 + 3 * k, 3 + 3 * k, 4 + 3 * k);
    fprintf(f, "set title 'test accuracy'\nset ylabel 'test accuracy (%%)'\n"
               "plot $sweep using 1:%d:%d:%d with yerrorlines pt 7 lw 2\n"
               "unset multiplot\nunset logscale x\nset xrange [*:*]\n",
            2 + 3 * n, 3 + 3 * n, 4 + 3 * n);
    return ok;
}

sl_status sl_compare_write_plots(const sl_compare *c, sl_error *err)
{
    char path[1100];
    FILE *f = sl_compare_open_out(c, "plots.gp", path, sizeof path, err);
    if (!f)
        return err->status;
    int layers[SL_COMPARE_MAX_LAYERS], any_prelu = 0, ok = 1;
    int64_t units[SL_COMPARE_MAX_LAYERS];
    int n = sl_compare_layer_list(c, layers, units, SL_COMPARE_MAX_LAYERS);
    fprintf(f, "# slope compare: %s; run `gnuplot %s`\nset datafile separator whitespace\n"
               "set datafile missing 'NaN'\n",
            c->cfg->name, path);
    for (size_t run = 0; run < c->n_runs; run++) {
        if (c->runs[run].pub.seed_index != 0) /* per-run curves: the first seed's */
            continue;
        any_prelu |= has_prelu(c, run);
        for (int i = 0; i < n; i++) {
            datablock(f, c, "dead", layers[i], run, 0);
            datablock(f, c, "alpha", layers[i], run, 1);
        }
    }
    for (size_t a = 0; c->n_seeds > 1 && a < c->n_acts; a++)
        for (int i = 0; i < n; i++)
            ok &= band_block(f, c, a, layers[i]);
    if (n > 0)
        plot_dying(f, c, layers, units, n);
    if (any_prelu)
        plot_prelu(f, c, layers, n);
    if (n > 0 && sl_compare_is_alpha_sweep(c))
        ok &= plot_sweep(f, c, layers, n);
    if (!ok) {
        fclose(f);
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory for plots.gp");
    }
    return sl_compare_close_out(f, path, err);
}
