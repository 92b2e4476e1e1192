/*
 * cmd_compare.c - `slope compare CONFIG --act LIST [--seeds N]`: the command line of
 * sl_compare (slope/compare.h), its progress lines, the table (per run, or with seeds
 * per activation and layer over the seeds), and gnuplot.  Exit status: 0 when every
 * run was attempted, whatever the outcome (a failed or diverged run is a result: in the
 * table, seeds.csv, summary.json and stderr); 2 for a bad command line or activation;
 * else that of the error that stopped the comparison (3 bad config or data, 5 an
 * output file).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

#define MAX_ACTS 64

typedef struct compare_args {
    cli_config_args cargs;
    const char *out_dir;
    char act_list[4096];        /* a copy of --act's value, split in place at the commas */
    const char *acts[MAX_ACTS]; /* into it */
    size_t n_acts;
    int seeds;
} compare_args;

static void print_forms(void)
{
    cli_print_activation_forms(stdout, "  ");
}

static int parse_compare_args(int argc, char **argv, compare_args *a)
{
    const char *list = NULL;
    const cli_flag flags[] = {
        {"--act", "LIST", CLI_STR, &list, 0, 0, NULL,
         "e.g. relu,leaky_relu:0.01,leaky_relu:0.1,prelu,prelu:channel\n(the forms are below)"},
        {"--seeds", "N", CLI_INT, &a->seeds, 1, 100000, NULL,
         "train every activation from N seeds: the config's seed S,\n"
         "S+1, ..., S+N-1 (default 1); with N > 1 the table gives per\n"
         "activation and layer the mean and 95% interval over the\n"
         "finished runs and tests against the first activation"},
        {"--out", "DIR", CLI_STR, &a->out_dir, 0, 0, NULL,
         "where to write stats.csv, seeds.csv, summary.json, *.png\n"
         "(default: compare-<config name>)"},
        CLI_CONFIG_FLAGS(&a->cargs)};
    const cli_command cmd = {
        "compare", "CONFIG --act LIST [options]",
        "Trains CONFIG once per activation in LIST (swapped into every activation layer,\n"
        "and every rnn layer's own activation: tanh, relu, leaky_relu or prelu), with the\n"
        "same seed, data order and initial weights, and measures dying neurons.",
        NULL, print_forms, flags, sizeof flags / sizeof flags[0], "CONFIG", &a->cargs.path, 1,
        NULL};
    int rc = cli_parse(&cmd, argc, argv);
    if (rc != 0)
        return rc;
    if (!list)
        return cli_usage_error("compare", "missing --act LIST");
    if (strlen(list) >= sizeof a->act_list)
        return cli_usage_error("compare", "--act: the list is too long");
    strcpy(a->act_list, list);
    char *save = NULL;
    for (char *item = strtok_r(a->act_list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
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
    char last[32] = ""; /* "..S+N-1" with several seeds */
    if (seeds > 1)
        snprintf(last, sizeof last, "..%llu", (unsigned long long)(cfg->seed + (uint64_t)seeds - 1));
    if (run == 0) /* the probe is known once the data is open */
        printf("compare %s: %zu activations, %d epoch%s, seed%s %llu%s, probe %lld examples "
               "-> %s\n",
               cfg->name, sl_compare_num_acts(c), cfg->train.epochs,
               cfg->train.epochs == 1 ? "" : "s", seeds > 1 ? "s" : "",
               (unsigned long long)cfg->seed, last, (long long)sl_compare_probe_count(c),
               sl_compare_out_dir(c));
    if (seeds > 1)
        printf("run %zu/%zu: %s, seed %llu\n", run + 1, sl_compare_num_runs(c), r->title,
               (unsigned long long)r->seed);
    else
        printf("run %zu/%zu: %s\n", run + 1, sl_compare_num_runs(c), r->title);
    fflush(user);
}

static void on_epoch_done(const sl_compare *c, size_t run, int epoch, double acc, void *user)
{
    int w = 0; /* the labels' column, as wide as the longest */
    for (size_t i = 0; i < sl_compare_num_runs(c); i++) {
        int n = (int)strlen(sl_compare_get_run(c, i)->label);
        w = n > w ? n : w;
    }
    printf("  %-*s  epoch %d/%d  test acc %.2f%%\n", w, sl_compare_get_run(c, run)->label,
           epoch, sl_compare_config(c)->train.epochs, 100.0 * acc);
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

/* ---- the command -------------------------------------------------------------------------- */

static int finish(const sl_compare *c, sl_error *err)
{
    int any_prelu = 0;
    if (sl_compare_print_table(c, stdout, &any_prelu, err) != SL_OK ||
        sl_compare_write(c, err) != SL_OK)
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
    /* Line by line: in a log of stdout and stderr together, every line keeps its place. */
    setvbuf(stdout, NULL, _IOLBF, 0);
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
