/*
 * cmd_compare.c - `slope compare CONFIG --act LIST [--seeds N]`: the command line of
 * sl_compare (slope/compare.h), its progress lines, the table (per run, or with seeds
 * per activation and layer over the seeds), and gnuplot.  Exit status: 0 when every
 * run was attempted, whatever the outcome (a failed or diverged run is a result: in the
 * table, seeds.csv, summary.json and stderr); 2 for a bad command line or activation;
 * else that of the error that stopped the comparison (3 bad config or data, 5 an
 * output file).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ACTS 64

typedef struct compare_args {
    cli_config_args cargs;
    char *out_dir;
    const char *acts[MAX_ACTS]; /* --act's value, split in place at the commas */
    size_t n_acts;
    int seeds;
} compare_args;

static void compare_help(void)
{
    printf("usage: slope compare CONFIG --act LIST [options]\n\n"
           "Trains CONFIG once per activation in LIST (swapped into every activation layer),\n"
           "with the same seed, data order and initial weights, and measures dying neurons.\n\n"
           "  --act LIST          e.g. relu,leaky_relu:0.01,leaky_relu:0.1,prelu,prelu:channel\n");
    cli_print_activation_forms(stdout, "                      ");
    printf("  --seeds N           train every activation from N seeds: the config's seed S,\n"
           "                      S+1, ..., S+N-1 (default 1); with N > 1 the table gives per\n"
           "                      activation and layer the mean and 95%% interval over the\n"
           "                      finished runs and tests against the first activation\n"
           "  --epochs N          train N epochs (overrides train.epochs)\n"
           "  --out DIR           where to write stats.csv, seeds.csv, summary.json, *.png\n"
           "                      (default: compare-<config name>)\n"
           "  --set PATH=VALUE    override a config key (repeatable)\n"
           "  --threads N         slope's threads\n");
}

static int parse_compare_args(int argc, char **argv, compare_args *a)
{
    char *list = NULL;
    for (int i = 1; i < argc; i++) {
        int r = cli_config_option("compare", argc, argv, &i, &a->cargs);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        const char *opt = argv[i];
        if (strcmp(opt, "--act") == 0 || strcmp(opt, "--out") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("compare", "%s needs a value", opt);
            *(opt[2] == 'a' ? &list : &a->out_dir) = argv[++i];
        } else if (strcmp(opt, "--seeds") == 0) {
            char *end = NULL;
            long n = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (!end || *end || end == argv[i + 1] || n < 1 || n > 100000)
                return cli_usage_error("compare", "--seeds needs a count from 1 to 100000");
            a->seeds = (int)n;
            i++;
        } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            compare_help();
            return -1;
        } else if (opt[0] == '-' || a->cargs.path) {
            return cli_usage_error("compare", "unexpected argument %s", opt);
        } else {
            a->cargs.path = opt;
        }
    }
    if (!a->cargs.path)
        return cli_usage_error("compare", "missing CONFIG");
    if (!list)
        return cli_usage_error("compare", "missing --act LIST");
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (a->n_acts == MAX_ACTS)
            return cli_usage_error("compare", "--act: at most %d activations", MAX_ACTS);
        sl_layer_spec spec; /* checked now, before the config and data are loaded */
        sl_error bad = {0};
        if (sl_layer_spec_parse(item, &spec, &bad) != SL_OK)
            return cli_usage_error("compare", "--act: %s", bad.message);
        a->acts[a->n_acts++] = item;
    }
    return a->n_acts ? 0 : cli_usage_error("compare", "--act: empty list");
}

/* ---- progress ----------------------------------------------------------------------------- */

static void on_run_started(const sl_compare *c, size_t run, void *user)
{
    const sl_config *cfg = sl_compare_config(c);
    const sl_compare_run *r = sl_compare_get_run(c, run);
    int seeds = sl_compare_num_seeds(c);
    if (run == 0) /* the probe is known once the data is open */
        printf("compare %s: %zu activations, %d epochs, seed%s %llu%s%llu, probe %lld examples "
               "-> %s\n",
               cfg->name, sl_compare_num_acts(c), cfg->train.epochs, seeds > 1 ? "s" : "",
               (unsigned long long)cfg->seed, seeds > 1 ? ".." : "",
               seeds > 1 ? (unsigned long long)(cfg->seed + (uint64_t)seeds - 1) : 0ull,
               (long long)sl_compare_probe_count(c), sl_compare_out_dir(c));
    if (seeds > 1)
        printf("run %zu/%zu: %s, seed %llu\n", run + 1, sl_compare_num_runs(c), r->title,
               (unsigned long long)r->seed);
    else
        printf("run %zu/%zu: %s\n", run + 1, sl_compare_num_runs(c), r->title);
    fflush(user);
}

static void on_epoch_done(const sl_compare *c, size_t run, int epoch, double acc, void *user)
{
    printf("  %-16s epoch %d/%d  test acc %.2f%%\n", sl_compare_get_run(c, run)->label, epoch,
           sl_compare_config(c)->train.epochs, 100.0 * acc);
    fflush(user);
}

static void on_run_failed(const sl_compare *c, size_t run, const sl_error *err, void *user)
{
    (void)user;
    const sl_compare_run *r = sl_compare_get_run(c, run);
    if (sl_compare_num_seeds(c) > 1)
        fprintf(stderr, "slope compare: run %s, seed %llu, failed: %s\n", r->label,
                (unsigned long long)r->seed, err->message);
    else
        fprintf(stderr, "slope compare: run %s failed: %s\n", r->label, err->message);
}

/* ---- the table ---------------------------------------------------------------------------- */

static void table_line(int w, const sl_compare_run *r, const sl_compare_layer *k)
{
    const sl_layer_stats *first = &k->first, *last = &k->last;
    if (r->failed) { /* the message up to its first ';' */
        printf("%-*s %5d %7lld %8.1f%%  failed: %.*s\n", w, r->title, k->layer,
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
    printf("%-*s %5d %7lld %8.1f%% %8.1f%% %6lld %7lld %8.1f%% %9.3g %9.3g %9.3g %6.1f%% %8s  %s\n",
           w, r->title, k->layer, (long long)last->units, 100.0 * first->dead_frac,
           100.0 * last->dead_frac, (long long)k->died, (long long)k->revived,
           100.0 * last->sparsity, last->grad_mean_abs, last->neg_mean, last->neg_p01,
           100.0 * last->below_minus1, acc, alpha);
}

/* Per run and activation layer: the first and last report and the died/revived totals.
 * Returns whether a PReLU run finished (so prelu.png is drawn). */
static int print_table(const sl_compare *c)
{
    int w = 16, any_prelu = 0;
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        int len = (int)strlen(sl_compare_get_run(c, i)->title);
        w = len > w ? len : w;
    }
    printf("\n%-*s %5s %7s %9s %9s %6s %7s %9s %9s %9s %9s %7s %8s  %s\n", w, "activation",
           "layer", "units", "dead@init", "dead@end", "died", "revived", "sparsity", "|grad|",
           "neg mean", "neg p1", "y<-1", "test acc", "PReLU slope");
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        size_t n = sl_compare_num_layers(c, i);
        if (n == 0 && r->failed)
            printf("%-*s %5s %7s %9s  failed: %.*s\n", w, r->title, "-", "-", "-",
                   (int)strcspn(r->error, ";"), r->error);
        for (size_t k = 0; k < n; k++) {
            sl_compare_layer layer;
            sl_compare_get_layer(c, i, k, &layer, NULL);
            table_line(w, r, &layer);
            any_prelu |= !r->failed && layer.last.n_alpha > 0;
        }
    }
    printf("(died/revived: totals over all reports; sparsity and |grad| at the end)\n");
    printf("(neg mean, neg p1: the mean and 1st percentile of the negative pre-activations;"
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

static void seeds_line(int w, const sl_compare_aggregate *g)
{
    char b[12][32];
    printf("%-*s %5d %6lld %4d %4d %13s %13s %13s %11s %11s %13s %7s %7s %7s %9s %9s %6s\n", w,
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
static int print_seeds_table(const sl_compare *c)
{
    int w = 16, any_prelu = 0, seeds = sl_compare_num_seeds(c);
    for (size_t i = 0; i < sl_compare_num_acts(c); i++) {
        int len = (int)strlen(sl_compare_get_run(c, i)->title);
        w = len > w ? len : w;
    }
    printf("\n%-*s %5s %6s %4s %4s %13s %13s %13s %11s %11s %13s %7s %7s %7s %9s %9s %6s\n", w,
           "activation", "layer", "units", "fin", "div", "dead@init", "dead@end", "sparsity",
           "died", "revived", "test acc", "p dead", "p acc", "p div", "neg mean", "neg p1",
           "y<-1");
    for (size_t i = 0; i < sl_compare_num_aggregates(c); i++) {
        sl_compare_aggregate g;
        if (sl_compare_get_aggregate(c, i, &g, NULL) == SL_OK)
            seeds_line(w, &g);
    }
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        any_prelu |= !r->failed && r->seed_index == 0 && r->act.type == SL_LAYER_PRELU;
        if (r->failed)
            printf("%s seed %llu diverged: %.*s\n", r->title, (unsigned long long)r->seed,
                   (int)strcspn(r->error, ";"), r->error);
    }
    const sl_config *cfg = sl_compare_config(c);
    printf("(%d seeds, %llu..%llu; fin/div: runs finished/diverged; mean+-half-width of the "
           "95%% t-interval\n over the finished runs, at the end; died/revived: totals over "
           "all reports; p: two-sided,\n against %s: p dead, p acc Welch's t-test, p div "
           "Fisher's exact test)\n",
           seeds, (unsigned long long)cfg->seed,
           (unsigned long long)(cfg->seed + (uint64_t)seeds - 1), sl_compare_get_run(c, 0)->title);
    return any_prelu;
}

/* ---- the command -------------------------------------------------------------------------- */

static int finish(const sl_compare *c, sl_error *err)
{
    int any_prelu = sl_compare_num_seeds(c) > 1 ? print_seeds_table(c) : print_table(c);
    if (sl_compare_write(c, err) != SL_OK)
        return cli_fail(err);
    if (!sl_compare_weights_shared(c))
        fprintf(stderr, "slope compare: the runs did NOT start from the same weights\n");
    const char *dir = sl_compare_out_dir(c);
    if (!any_prelu)
        printf("no PReLU run finished: prelu.png not drawn\n");
    char script[1100];
    size_t n_rows = 0;
    const char *pngs[] = {"dying.png", "prelu.png", "alpha.png"};
    for (int i = 0; i < 3; i++) /* an earlier comparison's plots are not this one's */
        if (snprintf(script, sizeof script, "%s/%s", dir, pngs[i]) < (int)sizeof script)
            remove(script);
    snprintf(script, sizeof script, "%s/plots.gp", dir);
    if (sl_compare_rows(c, &n_rows) && n_rows > 0 && cli_gnuplot(script) > 0) {
        printf("plots:");
        for (int i = 0; i < 3; i++) { /* those gnuplot drew */
            FILE *png = snprintf(script, sizeof script, "%s/%s", dir, pngs[i]) > 0
                            ? fopen(script, "rb") : NULL;
            if (png)
                printf(" %s", script);
            if (png)
                fclose(png);
        }
        printf("\n");
    }
    printf("data: %s/stats.csv, %s/seeds.csv, %s/summary.json\n", dir, dir, dir);
    return EXIT_OK;
}

/* Runs the comparison; when it stops part-way (an error after some runs), the runs that
 * finished are still tabled and written before the error is reported. */
static int compare_and_finish(sl_compare *c, sl_error *err)
{
    if (sl_compare_run_all(c, err) == SL_OK)
        return finish(c, err);
    sl_error stopped = *err;
    size_t ran = 0;
    for (size_t i = 0; i < sl_compare_num_runs(c); i++)
        ran += sl_compare_get_run(c, i)->attempted != 0;
    if (ran > 0)
        (void)finish(c, err);
    return cli_fail(&stopped);
}

int cmd_compare(int argc, char **argv)
{
    compare_args a;
    memset(&a, 0, sizeof a);
    int rc = parse_compare_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    sl_config *cfg = cli_load_config(&a.cargs, &err);
    if (!cfg)
        return cli_fail(&err);
    sl_compare_options o = {.acts = a.acts, .n_acts = a.n_acts, .out_dir = a.out_dir,
                            .datasets_dir = sl_datasets_dir(), .config_label = a.cargs.path,
                            .seeds = a.seeds,
                            .callbacks = {on_run_started, on_epoch_done, on_run_failed, stdout}};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    if (!c)
        rc = cli_fail(&err);
    else
        rc = compare_and_finish(c, &err);
    sl_compare_free(c);
    sl_config_free(cfg);
    return rc;
}
