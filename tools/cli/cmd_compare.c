/*
 * cmd_compare.c - `slope compare CONFIG --act LIST`: the command line of sl_compare
 * (slope/compare.h), its progress lines, the table, and gnuplot.  Exit status: 0 when
 * every run was attempted (a failed run is a result: in the table, summary.json and
 * stderr); 2 for a bad command line or activation; else that of the error that stopped
 * the comparison before its runs (3 bad config or data, 5 an output file).
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
} compare_args;

static void compare_help(void)
{
    printf("usage: slope compare CONFIG --act LIST [options]\n"
           "\n"
           "Trains CONFIG once per activation in LIST (swapped into every activation layer),\n"
           "with the same seed, data order and initial weights, and measures dying neurons.\n"
           "\n"
           "  --act LIST          e.g. relu,leaky_relu:0.01,leaky_relu:0.1,prelu,prelu:channel\n");
    cli_print_activation_forms(stdout, "                      ");
    printf("  --epochs N          train N epochs (overrides train.epochs)\n"
           "  --out DIR           where to write stats.csv, summary.json, dying.png, prelu.png\n"
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
    if (run == 0) /* the probe is known once the data is open */
        printf("compare %s: %zu activations, %d epochs, seed %llu, probe %lld examples -> %s\n",
               cfg->name, sl_compare_num_runs(c), cfg->train.epochs,
               (unsigned long long)cfg->seed, (long long)sl_compare_probe_count(c),
               sl_compare_out_dir(c));
    printf("run %zu/%zu: %s\n", run + 1, sl_compare_num_runs(c), sl_compare_get_run(c, run)->label);
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
    fprintf(stderr, "slope compare: run %s failed: %s\n", sl_compare_get_run(c, run)->label,
            err->message);
}

/* ---- the table ---------------------------------------------------------------------------- */

static void table_line(int w, const sl_compare_run *r, const sl_compare_layer *k)
{
    const sl_layer_stats *first = &k->first, *last = &k->last;
    if (r->failed) { /* the message up to its first ';' */
        printf("%-*s %5d %7lld %8.1f%%  failed: %.*s\n", w, r->label, k->layer,
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
    printf("%-*s %5d %7lld %8.1f%% %8.1f%% %6lld %7lld %8.1f%% %9.3g %8s  %s\n", w, r->label,
           k->layer, (long long)last->units, 100.0 * first->dead_frac, 100.0 * last->dead_frac,
           (long long)k->died, (long long)k->revived, 100.0 * last->sparsity,
           last->grad_mean_abs, acc, alpha);
}

/* Per run and activation layer: the first and last report and the died/revived totals.
 * Returns whether a PReLU run finished (so prelu.png is drawn). */
static int print_table(const sl_compare *c)
{
    int w = 16, any_prelu = 0;
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        int len = (int)strlen(sl_compare_get_run(c, i)->label);
        w = len > w ? len : w;
    }
    printf("\n%-*s %5s %7s %9s %9s %6s %7s %9s %9s %8s  %s\n", w, "activation", "layer",
           "units", "dead@init", "dead@end", "died", "revived", "sparsity", "|grad|",
           "test acc", "PReLU slope");
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        const sl_compare_run *r = sl_compare_get_run(c, i);
        size_t n = sl_compare_num_layers(c, i);
        if (n == 0 && r->failed)
            printf("%-*s %5s %7s %9s  failed: %.*s\n", w, r->label, "-", "-", "-",
                   (int)strcspn(r->error, ";"), r->error);
        for (size_t k = 0; k < n; k++) {
            sl_compare_layer layer;
            sl_compare_get_layer(c, i, k, &layer, NULL);
            table_line(w, r, &layer);
            any_prelu |= !r->failed && layer.last.n_alpha > 0;
        }
    }
    printf("(died/revived: totals over all reports; sparsity and |grad| at the end)\n");
    return any_prelu;
}

/* ---- the command -------------------------------------------------------------------------- */

static int finish(const sl_compare *c, sl_error *err)
{
    int any_prelu = print_table(c);
    if (sl_compare_write(c, err) != SL_OK)
        return cli_fail(err);
    if (!sl_compare_weights_shared(c))
        fprintf(stderr, "slope compare: the runs did NOT start from the same weights\n");
    const char *dir = sl_compare_out_dir(c);
    if (!any_prelu)
        printf("no PReLU run finished: prelu.png not drawn\n");
    char script[1100];
    size_t n_rows = 0;
    snprintf(script, sizeof script, "%s/plots.gp", dir);
    if (sl_compare_rows(c, &n_rows) && n_rows > 0 && cli_gnuplot(script) > 0)
        printf("plots: %s/dying.png%s%s%s\n", dir, any_prelu ? ", " : "", any_prelu ? dir : "",
               any_prelu ? "/prelu.png" : "");
    printf("data: %s/stats.csv, %s/summary.json\n", dir, dir);
    return EXIT_OK;
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
                            .callbacks = {on_run_started, on_epoch_done, on_run_failed, stdout}};
    sl_compare *c = sl_compare_new(cfg, &o, &err);
    if (!c)
        rc = cli_fail(&err);
    else
        rc = sl_compare_run_all(c, &err) == SL_OK ? finish(c, &err) : cli_fail(&err);
    sl_compare_free(c);
    sl_config_free(cfg);
    return rc;
}
