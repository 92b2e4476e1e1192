/*
 * compare_table.c - a comparison's table as text (slope/compare.h): per run and
 * activation layer, or with seeds per activation and layer over the seeds.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "slope/compare.h"


static void table_line(FILE *out, int w, const sl_compare_run *r, const sl_compare_layer *k)
{
    const sl_layer_stats *first = &k->first, *last = &k->last;
    if (r->failed) { /* the message up to its first ';' */
        fprintf(out, "%-*s %5d %7lld %8.1f%%  failed: %.*s\n", w, r->title, k->layer,
               (long long)first->units, 100.0 * first->dead_frac, (int)strcspn(r->error, ";"),
               r->error);
        return;
    }
    char alpha[64] = "-", acc[16] = "-";
    if (last->n_alpha == 1)
        snprintf(alpha, sizeof alpha, "%.3f", last->alpha_mean);
    else if (last->n_alpha > 1)
        snprintf(alpha, sizeof alpha, "%.3f [%.2f, %.2f]", last->alpha_mean, last->alpha_min,
                 last->alpha_max);
    if (isfinite(r->final_test_acc))
        snprintf(acc, sizeof acc, "%.2f%%", 100.0 * r->final_test_acc);
    fprintf(out, "%-*s %5d %7lld %8.1f%% %8.1f%% %6lld %7lld %8.1f%% %9.3g %9.3g %9.3g %6.1f%% %8s  %s\n",
           w, r->title, k->layer, (long long)last->units, 100.0 * first->dead_frac,
           100.0 * last->dead_frac, (long long)k->died, (long long)k->revived,
           100.0 * last->sparsity, last->grad_mean_abs, last->neg_mean, last->neg_p01,
           100.0 * last->below_minus1, acc, alpha);
}

/* Per run and activation layer: the first and last report and the died/revived totals.
 * Returns whether a PReLU run finished (so prelu.png is drawn). */
static int runs_table(const sl_compare *c, FILE *out)
{
    int w = 16, any_prelu = 0;
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        int len = (int)strlen(sl_compare_get_run(c, i)->title);
        w = len > w ? len : w;
    }
    fprintf(out, "\n%-*s %5s %7s %9s %9s %6s %7s %9s %9s %9s %9s %7s %8s  %s\n", w, "activation",
           "layer", "units", "dead@init", "dead@end", "died", "revived", "sparsity", "|grad|",
           "neg mean", "neg p1", "y<-1", "test acc", "PReLU slope");
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        size_t n = sl_compare_num_layers(c, i);
        if (n == 0 && r->failed)
            fprintf(out, "%-*s %5s %7s %9s  failed: %.*s\n", w, r->title, "-", "-", "-",
                   (int)strcspn(r->error, ";"), r->error);
        for (size_t k = 0; k < n; k++) {
            sl_compare_layer layer;
            sl_compare_get_layer(c, i, k, &layer, NULL);
            table_line(out, w, r, &layer);
            any_prelu |= !r->failed && layer.last.n_alpha > 0;
        }
    }
    fprintf(out, "(died/revived: totals over all reports; sparsity and |grad| at the end)\n");
    fprintf(out, "(neg mean, neg p1: the mean and 1st percentile of the negative pre-activations;"
           " y<-1: outputs below -1)\n");
    return any_prelu;
}

/* "mean+-half" of the 95% interval (scaled), "mean" for one run, "-" for none. */
static const char *est(char *buf, size_t size, const sl_compare_estimate *e, double scale,
                       const char *unit)
{
    if (e->n == 0)
        snprintf(buf, size, "-");
    else if (e->n < 2)
        snprintf(buf, size, "%.1f%s", scale * e->mean, unit);
    else
        snprintf(buf, size, "%.1f+-%.1f%s", scale * e->mean, scale * (e->hi - e->mean), unit);
    return buf;
}

/* The mean alone (scaled), "-" for none: for the negative-growth columns. */
static const char *mean_of(char *buf, size_t size, const sl_compare_estimate *e, double scale,
                           const char *unit)
{
    if (e->n == 0)
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.3g%s", scale * e->mean, unit);
    return buf;
}

static const char *pval(char *buf, size_t size, double p)
{
    snprintf(buf, size, isfinite(p) ? "%.3g" : "-", p);
    return buf;
}

static void seeds_line(FILE *out, int w, const sl_compare_aggregate *g)
{
    char b[12][32];
    fprintf(out, "%-*s %5d %6lld %4d %4d %13s %13s %13s %11s %11s %13s %7s %7s %7s %9s %9s %6s\n", w,
           g->title,
           g->layer, (long long)g->units, g->finished, g->diverged,
           est(b[0], 32, &g->dead_init, 100.0, "%"), est(b[1], 32, &g->dead_frac, 100.0, "%"),
           est(b[2], 32, &g->sparsity, 100.0, "%"), est(b[3], 32, &g->died, 1.0, ""),
           est(b[4], 32, &g->revived, 1.0, ""), est(b[5], 32, &g->test_acc, 100.0, "%"),
           pval(b[6], 32, g->p_dead), pval(b[7], 32, g->p_acc), pval(b[8], 32, g->p_diverged),
           mean_of(b[9], 32, &g->neg_mean, 1.0, ""), mean_of(b[10], 32, &g->neg_p01, 1.0, ""),
           mean_of(b[11], 32, &g->below_minus1, 100.0, "%"));
}

/* Per activation and layer over the seeds, then every run that did not finish.  Returns
 * whether a PReLU run finished. */
static int seeds_table(const sl_compare *c, FILE *out)
{
    int w = 16, any_prelu = 0, seeds = sl_compare_num_seeds(c);
    for (size_t i = 0; i < sl_compare_num_acts(c); i++) {
        int len = (int)strlen(sl_compare_get_run(c, i)->title);
        w = len > w ? len : w;
    }
    fprintf(out, "\n%-*s %5s %6s %4s %4s %13s %13s %13s %11s %11s %13s %7s %7s %7s %9s %9s %6s\n", w,
           "activation", "layer", "units", "fin", "div", "dead@init", "dead@end", "sparsity",
           "died", "revived", "test acc", "p dead", "p acc", "p div", "neg mean", "neg p1",
           "y<-1");
    for (size_t i = 0; i < sl_compare_num_aggregates(c); i++) {
        sl_compare_aggregate g;
        if (sl_compare_get_aggregate(c, i, &g, NULL) == SL_OK)
            seeds_line(out, w, &g);
    }
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        any_prelu |= !r->failed && r->seed_index == 0 && r->act.type == SL_LAYER_PRELU;
        if (r->failed)
            fprintf(out, "%s seed %llu diverged: %.*s\n", r->title, (unsigned long long)r->seed,
                   (int)strcspn(r->error, ";"), r->error);
    }
    const sl_config *cfg = sl_compare_config(c);
    fprintf(out, "(%d seeds, %llu..%llu; fin/div: runs finished/diverged; mean+-half-width of the "
           "95%% t-interval\n over the finished runs, at the end; died/revived: totals over "
           "all reports; p: two-sided,\n against %s: p dead, p acc Welch's t-test, p div "
           "Fisher's exact test)\n",
           seeds, (unsigned long long)cfg->seed,
           (unsigned long long)(cfg->seed + (uint64_t)seeds - 1), sl_compare_get_run(c, 0)->title);
    return any_prelu;
}

int sl_compare_print_table(const sl_compare *c, FILE *out)
{
    if (!c || !out)
        return 0;
    return sl_compare_num_seeds(c) > 1 ? seeds_table(c, out) : runs_table(c, out);
}
