/*
 * compare_table.c - the comparison as a text table (sl_compare_print_table):
 * per run and activation layer, or with seeds per activation and layer over
 * the seeds.  Cells are formatted first, then every column is as wide as its
 * widest cell, header included, so no label or value shifts a column.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "compare_internal.h"
#include "guard.h"

#define MAX_COLS 18
#define CELL 48

typedef struct table {
    size_t cols, rows, cap;
    int text_last;      /* the last column is text (PReLU slopes): left-aligned, unpadded */
    char (*cells)[MAX_COLS][CELL];
    size_t *filled;     /* per row: cells set (a failed run's row stops early) */
    const char **tail;  /* per row: text after the last cell, or NULL */
    int *tail_len;
} table;

static sl_status table_init(table *t, size_t cols, size_t rows, sl_error *err)
{
    memset(t, 0, sizeof *t);
    t->cols = cols;
    t->cap = rows + 1; /* the header */
    t->cells = sl_calloc(t->cap, sizeof *t->cells);
    t->filled = sl_calloc(t->cap, sizeof *t->filled);
    t->tail = sl_calloc(t->cap, sizeof *t->tail);
    t->tail_len = sl_calloc(t->cap, sizeof *t->tail_len);
    if (!t->cells || !t->filled || !t->tail || !t->tail_len)
        return sl_error_set(err, SL_ERR_NOMEM, "compare: out of memory for the table");
    return SL_OK;
}

static void table_free(table *t)
{
    sl_free(t->cells);
    sl_free(t->filled);
    sl_free(t->tail);
    sl_free(t->tail_len);
}

/* Appends a cell to the current row (the last one begun with table_row). */
static void cell(table *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void cell(table *t, const char *fmt, ...)
{
    size_t r = t->rows - 1;
    if (t->filled[r] >= t->cols)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cells[r][t->filled[r]++], CELL, fmt, ap);
    va_end(ap);
}

static void table_row(table *t)
{
    if (t->rows < t->cap)
        t->rows++;
}

/* A failed run's message up to its first ';', after the row's last cell. */
static void tail(table *t, const char *error)
{
    t->tail[t->rows - 1] = error;
    t->tail_len[t->rows - 1] = (int)strcspn(error, ";");
}

/* Column 0 (and a text_last column) left-aligned, the figures right-aligned. */
static void table_print(const table *t, FILE *out)
{
    int w[MAX_COLS] = {0};
    for (size_t r = 0; r < t->rows; r++)
        for (size_t k = 0; k < t->filled[r]; k++) {
            int n = (int)strlen(t->cells[r][k]);
            w[k] = n > w[k] ? n : w[k];
        }
    for (size_t r = 0; r < t->rows; r++) {
        for (size_t k = 0; k < t->filled[r]; k++) {
            int last = t->text_last && k + 1 == t->cols;
            const char *sep = k == 0 ? "" : last ? "  " : " ";
            if (last)
                fprintf(out, "%s%s", sep, t->cells[r][k]);
            else
                fprintf(out, k == 0 ? "%s%-*s" : "%s%*s", sep, w[k], t->cells[r][k]);
        }
        if (t->tail[r])
            fprintf(out, "  failed: %.*s", t->tail_len[r], t->tail[r]);
        fputc('\n', out);
    }
}

/* ---- one seed: a line per run and layer ----------------------------------------------------- */

static void run_cells(table *t, const sl_compare_run *r, const sl_compare_layer *k)
{
    const sl_layer_stats *first = &k->first, *last = &k->last;
    table_row(t);
    cell(t, "%s", r->title);
    if (strncmp(first->name, "layers.", 7) == 0) /* "3", or "1.layers.2" in a block */
        cell(t, "%s", first->name + 7);
    else
        cell(t, "%d", k->layer);
    cell(t, "%lld", (long long)(r->failed ? first : last)->units);
    cell(t, "%.1f%%", 100.0 * first->dead_frac);
    if (r->failed) {
        tail(t, r->error);
        return;
    }
    cell(t, "%.1f%%", 100.0 * last->dead_frac);
    cell(t, "%lld", (long long)k->died);
    cell(t, "%lld", (long long)k->revived);
    cell(t, "%.1f%%", 100.0 * last->sparsity);
    cell(t, "%.3g", last->grad_mean_abs);
    cell(t, "%.3g", last->neg_mean);
    cell(t, "%.3g", last->neg_p01);
    cell(t, "%.1f%%", 100.0 * last->below_minus1);
    cell(t, isfinite(r->final_test_acc) ? "%.2f%%" : "-", 100.0 * r->final_test_acc);
    if (last->n_alpha == 1)
        cell(t, "%.3f", last->alpha_mean);
    else if (last->n_alpha > 1)
        cell(t, "%.3f [%.2f, %.2f]", last->alpha_mean, last->alpha_min, last->alpha_max);
    else
        cell(t, "-");
}

static sl_status runs_table(const sl_compare *c, FILE *out, int *any_prelu, sl_error *err)
{
    static const char *const head[] = {"activation", "layer",    "units",  "dead@init",
                                       "dead@end",   "died",     "revived", "sparsity",
                                       "|grad|",     "neg mean", "neg p1", "y<-1",
                                       "test acc",   "PReLU slope"};
    size_t rows = 0;
    for (size_t i = 0; i < c->n_runs; i++)
        rows += sl_compare_num_layers(c, i) ? sl_compare_num_layers(c, i) : 1;
    table t;
    if (table_init(&t, 14, rows, err) != SL_OK) {
        table_free(&t);
        return err->status;
    }
    t.text_last = 1;
    table_row(&t);
    for (size_t k = 0; k < 14; k++)
        cell(&t, "%s", head[k]);
    for (size_t i = 0; i < c->n_runs; i++) {
        const sl_compare_run *r = &c->runs[i].pub;
        size_t n = sl_compare_num_layers(c, i);
        if (n == 0 && r->failed) {
            table_row(&t);
            cell(&t, "%s", r->title);
            cell(&t, "-");
            cell(&t, "-");
            cell(&t, "-");
            tail(&t, r->error);
        }
        for (size_t k = 0; k < n; k++) {
            sl_compare_layer layer;
            sl_compare_get_layer(c, i, k, &layer, NULL);
            run_cells(&t, r, &layer);
            *any_prelu |= !r->failed && layer.last.n_alpha > 0;
        }
    }
    fputc('\n', out);
    table_print(&t, out);
    table_free(&t);
    fprintf(out, "(dead@: units <= 0 on every probe example, dead for relu, inactive for the other "
                 "activations;\n died/revived: totals over all reports; sparsity and |grad| at "
                 "the end)\n");
    fprintf(out, "(neg mean, neg p1: the mean and 1st percentile of the negative "
                 "pre-activations; y<-1: outputs below -1)\n");
    return SL_OK;
}

/* ---- several seeds: a line per activation and layer ----------------------------------------- */

/* "mean+-half" of the 95% interval (scaled), "mean" for one run, "-" for none. */
static void est(table *t, const sl_compare_estimate *e, double scale, const char *unit)
{
    if (e->n == 0)
        cell(t, "-");
    else if (e->n < 2)
        cell(t, "%.1f%s", scale * e->mean, unit);
    else
        cell(t, "%.1f+-%.1f%s", scale * e->mean, scale * (e->hi - e->mean), unit);
}

/* The mean alone (scaled), "-" for none: for the negative-growth columns. */
static void mean_of(table *t, const sl_compare_estimate *e, double scale, const char *unit)
{
    if (e->n == 0)
        cell(t, "-");
    else
        cell(t, "%.3g%s", scale * e->mean, unit);
}

static void seeds_cells(table *t, const sl_compare_aggregate *g)
{
    table_row(t);
    cell(t, "%s", g->title);
    cell(t, "%d", g->layer);
    cell(t, "%lld", (long long)g->units);
    cell(t, "%d", g->finished);
    cell(t, "%d", g->diverged);
    est(t, &g->dead_init, 100.0, "%");
    est(t, &g->dead_frac, 100.0, "%");
    est(t, &g->sparsity, 100.0, "%");
    est(t, &g->died, 1.0, "");
    est(t, &g->revived, 1.0, "");
    est(t, &g->test_acc, 100.0, "%");
    const double p[3] = {g->p_dead, g->p_acc, g->p_diverged};
    for (int k = 0; k < 3; k++)
        cell(t, isfinite(p[k]) ? "%.3g" : "-", p[k]);
    mean_of(t, &g->neg_mean, 1.0, "");
    mean_of(t, &g->neg_p01, 1.0, "");
    mean_of(t, &g->below_minus1, 100.0, "%");
}

static sl_status seeds_table(const sl_compare *c, FILE *out, int *any_prelu, sl_error *err)
{
    static const char *const head[] = {"activation", "layer",    "units",    "fin",
                                       "div",        "dead@init", "dead@end", "sparsity",
                                       "died",       "revived",  "test acc", "p dead",
                                       "p acc",      "p div",    "neg mean", "neg p1",
                                       "y<-1"};
    size_t n = sl_compare_num_aggregates(c);
    table t;
    if (table_init(&t, 17, n, err) != SL_OK) {
        table_free(&t);
        return err->status;
    }
    table_row(&t);
    for (size_t k = 0; k < 17; k++)
        cell(&t, "%s", head[k]);
    for (size_t i = 0; i < n; i++) {
        sl_compare_aggregate g;
        if (sl_compare_get_aggregate(c, i, &g, NULL) == SL_OK)
            seeds_cells(&t, &g);
    }
    fputc('\n', out);
    table_print(&t, out);
    table_free(&t);
    for (size_t i = 0; i < c->n_runs; i++) {
        const sl_compare_run *r = &c->runs[i].pub;
        *any_prelu |= !r->failed && r->seed_index == 0 && r->act.type == SL_LAYER_PRELU;
        if (r->failed)
            fprintf(out, "%s seed %llu diverged: %.*s\n", r->title, (unsigned long long)r->seed,
                    (int)strcspn(r->error, ";"), r->error);
    }
    uint64_t seed = c->cfg->seed;
    fprintf(out, "(%d seeds, %llu..%llu; fin/div: runs finished/diverged; mean+-half-width of "
                 "the 95%% t-interval\n over the finished runs, at the end; dead@: units <= 0 "
                 "on every probe example (dead for relu,\n inactive for the others); "
                 "died/revived: totals over all reports; p: two-sided, against %s:\n p dead, "
                 "p acc Welch's t-test, p div Fisher's exact test)\n",
            c->n_seeds, (unsigned long long)seed,
            (unsigned long long)(seed + (uint64_t)c->n_seeds - 1), c->runs[0].pub.title);
    return SL_OK;
}

sl_status sl_compare_print_table(const sl_compare *c, FILE *out, int *any_prelu, sl_error *err)
{
    SL_GUARD(c, err);
    SL_GUARD(out, err);
    if (!c->ran)
        return sl_error_set(err, SL_ERR_STATE,
                            "sl_compare_print_table: call sl_compare_run_all first");
    int prelu = 0;
    sl_error local = {0};
    sl_status st = c->n_seeds > 1 ? seeds_table(c, out, &prelu, err ? err : &local)
                                  : runs_table(c, out, &prelu, err ? err : &local);
    if (any_prelu)
        *any_prelu = prelu;
    return st;
}
