/*
 * stats_born_dead_grid.c - the born-dead experiment over a grid of widths and
 * depths (slope/stats.h), and its files: the cells as CSV and a gnuplot script.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "slope/stats.h"

sl_status sl_born_dead_grid(const sl_born_dead_spec *spec, const int *widths, int n_widths,
                            const int *depths, int n_depths, sl_born_dead_cell *cells,
                            void (*on_cell)(const sl_born_dead_cell *cell, void *user),
                            void *user, sl_error *err)
{
    SL_GUARD(spec, err);
    SL_GUARD(widths, err);
    SL_GUARD(depths, err);
    SL_GUARD(cells, err);
    if (n_widths < 1 || n_depths < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_born_dead_grid: empty list of %s",
                            n_widths < 1 ? "widths" : "depths");
    sl_born_dead_spec one = *spec;
    for (int w = 0, k = 0; w < n_widths; w++)
        for (int d = 0; d < n_depths; d++, k++) {
            sl_born_dead_cell *c = &cells[k];
            memset(c, 0, sizeof *c);
            c->width = one.width = widths[w];
            c->depth = one.depth = depths[d];
            sl_status st = sl_born_dead(&one, &c->res, err);
            if (st != SL_OK)
                return st;
            c->has_theory = c->res.exact && one.act.type == SL_LAYER_RELU;
            c->theory_exact = sl_born_dead_theory(c->width, c->depth, &c->theory_lo,
                                                  &c->theory_hi);
            if (on_cell)
                on_cell(c, user);
        }
    return SL_OK;
}

static FILE *open_out(const char *path, sl_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        sl_error_set(err, SL_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    return f;
}

static sl_status close_out(FILE *f, const char *path, sl_error *err)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return sl_error_set(err, SL_ERR_IO, "%s: write failed", path);
    return SL_OK;
}

sl_status sl_born_dead_write_csv(const char *path, const sl_born_dead_cell *cells, size_t n,
                                 sl_error *err)
{
    SL_GUARD(path, err);
    SL_GUARD(cells || n == 0, err);
    FILE *f = open_out(path, err);
    if (!f)
        return SL_ERR_IO;
    fprintf(f, "width,depth,trials,p_dead,stderr,mean_dead_layers,theory_lo,theory_hi\n");
    for (size_t i = 0; i < n; i++) {
        const sl_born_dead_cell *c = &cells[i];
        fprintf(f, "%d,%d,%lld,%.6g,%.6g,%.6g", c->width, c->depth, (long long)c->res.trials,
                c->res.p_dead, c->res.std_error, c->res.mean_dead_layers);
        if (c->has_theory)
            fprintf(f, ",%.6g,%.6g\n", c->theory_lo, c->theory_hi);
        else
            fprintf(f, ",,\n");
    }
    return close_out(f, path, err);
}

/* One datablock per width, in the order the widths first appear. */
static int plot_blocks(FILE *f, const sl_born_dead_cell *cells, size_t n, int *widths, int max)
{
    int n_widths = 0;
    for (size_t i = 0; i < n && n_widths < max; i++) {
        int seen = 0;
        for (int w = 0; w < n_widths; w++)
            seen |= widths[w] == cells[i].width;
        if (!seen)
            widths[n_widths++] = cells[i].width;
    }
    for (int w = 0; w < n_widths; w++) {
        fprintf(f, "$w%d << EOD\n", w);
        for (size_t i = 0; i < n; i++)
            if (cells[i].width == widths[w])
                fprintf(f, "%d %.6g %.6g %.6g %.6g\n", cells[i].depth, cells[i].res.p_dead,
                        cells[i].res.std_error, cells[i].has_theory ? cells[i].theory_lo : NAN,
                        cells[i].has_theory ? cells[i].theory_hi : NAN);
        fprintf(f, "EOD\n");
    }
    return n_widths;
}

/* Single quotes end a gnuplot string: a title or path holding one is refused. */
static int plot_safe(const char *text)
{
    return strchr(text, '\'') == NULL && strchr(text, '\n') == NULL;
}

sl_status sl_born_dead_write_plot(const char *script, const char *png, const char *title,
                                  int relu, const sl_born_dead_cell *cells, size_t n,
                                  sl_error *err)
{
    SL_GUARD(script, err);
    SL_GUARD(png, err);
    SL_GUARD(title, err);
    SL_GUARD(cells, err);
    if (n == 0 || !plot_safe(png) || !plot_safe(title))
        return sl_error_set(err, SL_ERR_INVALID, "sl_born_dead_write_plot: %s",
                            n == 0 ? "no cells" : "a quote or newline in the title or PNG path");
    FILE *f = open_out(script, err);
    if (!f)
        return SL_ERR_IO;
    int widths[64], theory = 0;
    int n_widths = plot_blocks(f, cells, n, widths, 64);
    for (size_t i = 0; i < n; i++)
        theory |= cells[i].has_theory;
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size 900,480 font 'sans,10'\n"
               "} else {\n  set terminal png noenhanced size 900,480\n}\n"
               "set output '%s'\nset grid\nset key outside right top box\nset title '%s'\n"
               "set xlabel 'depth (hidden layers)'\nset ylabel '%s'\nset yrange [0:1.05]\n"
               "set style fill transparent solid 0.15 noborder\nplot ",
            png, title, relu ? "P(dead at init)" : "P(some layer wholly negative)");
    for (int w = 0; w < n_widths; w++) {
        if (theory)
            fprintf(f, "$w%d using 1:4:5 with filledcurves lc %d title 'theory bounds, width %d', ",
                    w, w + 1, widths[w]);
        fprintf(f, "$w%d using 1:2:3 with yerrorlines lc %d lw 2 pt 7 ps 0.6 title "
                   "'measured, width %d'%s",
                w, w + 1, widths[w], w + 1 < n_widths ? ", " : "\n");
    }
    return close_out(f, script, err);
}
