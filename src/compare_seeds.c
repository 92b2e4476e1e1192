/*
 * compare_seeds.c - a comparison over its seeds (slope/compare.h): per
 * activation and activation layer, the finished and diverged runs, means and
 * 95% t-intervals over the finished ones, and the tests against the first
 * activation; and the per-report values the plots draw bands from.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "compare_internal.h"

int sl_compare_layer_list(const sl_compare *c, int *layers, int64_t *units, int max)
{
    int n = 0;
    if (!c || c->n_rows == 0)
        return 0;
    size_t run = c->rows[0].run;
    int64_t step = c->rows[0].step;
    for (size_t k = 0; k < c->n_rows && n < max; k++) {
        if (c->rows[k].step != step || c->rows[k].run != run)
            break;
        units[n] = c->rows[k].l.units;
        layers[n++] = c->rows[k].l.layer;
    }
    return n;
}

size_t sl_compare_num_act_layers(const sl_compare *c)
{
    int layers[SL_COMPARE_MAX_LAYERS];
    int64_t units[SL_COMPARE_MAX_LAYERS];
    return (size_t)sl_compare_layer_list(c, layers, units, SL_COMPARE_MAX_LAYERS);
}

size_t sl_compare_num_aggregates(const sl_compare *c)
{
    return c ? c->n_acts * sl_compare_num_act_layers(c) : 0;
}

sl_compare_estimate sl_compare_estimate_of(const double *v, int n)
{
    sl_compare_estimate e = {n, NAN, NAN, NAN, NAN};
    if (n < 1 || !v) /* no values: every estimate NaN */
        return e;
    double m, var;
    sl_compare_mean_var(v, (size_t)n, &m, &var);
    e.mean = m;
    if (n < 2)
        return e;
    e.sd = sqrt(var);
    double half = sl_compare_t_quantile(0.975, n - 1) * e.sd / sqrt((double)n);
    e.lo = m - half;
    e.hi = m + half;
    return e;
}

/* The finished runs of act, at the end, for the layer at position k: one array per measure
 * (each with room for n_seeds values).  Returns how many finished; *diverged the others. */
typedef struct end_values {
    double *dead_init, *dead, *sparsity, *died, *revived, *acc;
    double *neg_mean, *neg_p01, *below; /* negative growth (neg_*: where there were any) */
    int n, n_acc, n_neg, diverged;
} end_values;

#define END_MEASURES 9

static void collect(const sl_compare *c, size_t act, size_t k, end_values *v)
{
    v->n = v->n_acc = v->n_neg = v->diverged = 0;
    for (int s = 0; s < c->n_seeds; s++) {
        size_t run = (size_t)s * c->n_acts + act;
        const sl_compare_run *r = &c->runs[run].pub;
        sl_compare_layer l;
        if (!r->attempted)
            continue;
        if (r->failed || sl_compare_get_layer(c, run, k, &l, NULL) != SL_OK) {
            v->diverged++;
            continue;
        }
        v->dead_init[v->n] = l.first.dead_frac;
        v->dead[v->n] = l.last.dead_frac;
        v->sparsity[v->n] = l.last.sparsity;
        v->died[v->n] = (double)l.died;
        v->revived[v->n] = (double)l.revived;
        v->below[v->n] = l.last.below_minus1;
        v->n++;
        if (isfinite(l.last.neg_mean) && isfinite(l.last.neg_p01)) {
            v->neg_mean[v->n_neg] = l.last.neg_mean;
            v->neg_p01[v->n_neg++] = l.last.neg_p01;
        }
        if (isfinite(r->final_test_acc))
            v->acc[v->n_acc++] = r->final_test_acc;
    }
}

static sl_status alloc_values(end_values *v, int n)
{
    double *all = sl_calloc(END_MEASURES * (size_t)n, sizeof *all);
    if (!all)
        return SL_ERR_NOMEM;
    double **slots[END_MEASURES] = {&v->dead_init, &v->dead,     &v->sparsity,
                                    &v->died,      &v->revived,  &v->acc,
                                    &v->neg_mean,  &v->neg_p01,  &v->below};
    for (int i = 0; i < END_MEASURES; i++)
        *slots[i] = all + (size_t)i * (size_t)n;
    return SL_OK;
}

sl_status sl_compare_get_aggregate(const sl_compare *c, size_t i, sl_compare_aggregate *out,
                                   sl_error *err)
{
    size_t n_layers = sl_compare_num_act_layers(c);
    if (!out || !c || i >= c->n_acts * n_layers)
        return sl_error_set(err, SL_ERR_INVALID, "sl_compare_get_aggregate: no aggregate %zu",
                            i);
    size_t act = i / n_layers, k = i % n_layers;
    end_values v = {0}, ref = {0};
    if (alloc_values(&v, c->n_seeds) != SL_OK || alloc_values(&ref, c->n_seeds) != SL_OK) {
        sl_free(v.dead_init);
        return sl_error_set(err, SL_ERR_NOMEM, "sl_compare_get_aggregate: out of memory");
    }
    collect(c, act, k, &v);
    collect(c, 0, k, &ref);
    memset(out, 0, sizeof *out);
    int layers[SL_COMPARE_MAX_LAYERS];
    int64_t units[SL_COMPARE_MAX_LAYERS];
    sl_compare_layer_list(c, layers, units, SL_COMPARE_MAX_LAYERS);
    out->act = act;
    out->label = c->runs[act].pub.label;
    out->title = c->runs[act].pub.title;
    out->layer = layers[k];
    out->units = units[k];
    out->runs = v.n + v.diverged;
    out->finished = v.n;
    out->diverged = v.diverged;
    out->dead_init = sl_compare_estimate_of(v.dead_init, v.n);
    out->dead_frac = sl_compare_estimate_of(v.dead, v.n);
    out->sparsity = sl_compare_estimate_of(v.sparsity, v.n);
    out->died = sl_compare_estimate_of(v.died, v.n);
    out->revived = sl_compare_estimate_of(v.revived, v.n);
    out->test_acc = sl_compare_estimate_of(v.acc, v.n_acc);
    out->neg_mean = sl_compare_estimate_of(v.neg_mean, v.n_neg);
    out->neg_p01 = sl_compare_estimate_of(v.neg_p01, v.n_neg);
    out->below_minus1 = sl_compare_estimate_of(v.below, v.n);
    out->p_diverged = out->t_dead = out->df_dead = out->p_dead = NAN;
    out->t_acc = out->df_acc = out->p_acc = NAN;
    if (act > 0) {
        out->p_diverged = sl_compare_fisher_exact(ref.n, ref.diverged, v.n, v.diverged);
        out->p_dead = sl_compare_welch(v.dead, (size_t)v.n, ref.dead, (size_t)ref.n,
                                       &out->t_dead, &out->df_dead);
        out->p_acc = sl_compare_welch(v.acc, (size_t)v.n_acc, ref.acc, (size_t)ref.n_acc,
                                      &out->t_acc, &out->df_acc);
    }
    sl_free(v.dead_init);
    sl_free(ref.dead_init);
    return SL_OK;
}

/* The j-th row of (run, layer), or NULL. */
static const sl_compare_row *report_row(const sl_compare *c, size_t run, int layer, int j)
{
    for (size_t k = 0; k < c->n_rows; k++) {
        const sl_compare_row *r = &c->rows[k];
        if (r->run == run && r->l.layer == layer && j-- == 0)
            return r;
    }
    return NULL;
}

int sl_compare_report_values(const sl_compare *c, size_t act, int layer, int report, double *v,
                             double *progress)
{
    int n = 0;
    for (int s = 0; s < c->n_seeds; s++) {
        size_t run = (size_t)s * c->n_acts + act;
        const sl_compare_row *r = c->runs[run].pub.failed ? NULL
                                                          : report_row(c, run, layer, report);
        if (!r)
            continue;
        *progress = r->progress;
        v[n++] = r->l.dead_frac;
    }
    return n;
}

int sl_compare_num_reports(const sl_compare *c, size_t act, int layer)
{
    int most = 0;
    for (int s = 0; s < c->n_seeds; s++) {
        size_t run = (size_t)s * c->n_acts + act;
        if (c->runs[run].pub.failed || !c->runs[run].pub.attempted)
            continue;
        int n = 0;
        for (size_t k = 0; k < c->n_rows; k++)
            n += c->rows[k].run == run && c->rows[k].l.layer == layer;
        most = n > most ? n : most;
    }
    return most;
}

int sl_compare_is_alpha_sweep(const sl_compare *c)
{
    if (!c || c->n_acts < 2)
        return 0;
    for (size_t a = 0; a < c->n_acts; a++) {
        if (c->runs[a].pub.act.type != SL_LAYER_LEAKY_RELU)
            return 0;
        for (size_t b = 0; b < a; b++)
            if (c->runs[a].pub.act.alpha == c->runs[b].pub.act.alpha)
                return 0;
    }
    return 1;
}
