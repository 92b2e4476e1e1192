/*
 * cmd_compare.c - `slope compare CONFIG --act LIST`: the same config run
 * once per activation, with dying-neuron statistics at init and after every
 * epoch (or every stats.every steps).
 *
 * Fair comparison: every run uses the config's seed (so the same data order
 * and dropout masks), and every run starts from the same weights in every
 * layer that is not an activation.  Kaiming gains depend on the activation
 * that follows a layer, so the initial weights are drawn once, for the
 * first activation of the list, and copied by name into each run's model;
 * each run then hashes its shared parameters right before training, and
 * summary.json records the hashes and whether they all agree.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_ACTS 16
#define HIST_BINS 20

typedef struct act_choice {
    char label[64];
    sl_layer_spec spec;
} act_choice;

typedef struct stat_row {
    int run;
    int epoch;
    int64_t step;
    double progress; /* epochs, fractional */
    sl_layer_stats l;
    double test_acc; /* NAN without a test or validation split */
} stat_row;

typedef struct compare {
    cli_config_args cargs;
    const char *act_list;
    const char *out_dir;
    sl_config *cfg;
    sl_run_data data;
    const sl_dataset *eval; /* test split, else validation, else NULL */
    act_choice acts[MAX_ACTS];
    int n_acts;
    sl_model *ref; /* the initial weights every run starts from */
    stat_row *rows;
    size_t n_rows, cap_rows;
    FILE *csv;
    cJSON *summary, *runs;
    uint64_t hashes[MAX_ACTS];
    int failed[MAX_ACTS];
    char why[MAX_ACTS][96]; /* a failed run's error, up to its first ';' */
    double final_acc[MAX_ACTS];
    int64_t probe_count; /* examples in the probe set */
} compare;

static void compare_help(void)
{
    printf("usage: slope compare CONFIG --act LIST [options]\n"
           "\n"
           "Trains CONFIG once per activation in LIST (swapped into every activation layer),\n"
           "with the same seed, data order and initial weights, and measures dying neurons.\n"
           "\n"
           "  --act LIST          e.g. relu,leaky_relu:0.01,leaky_relu:0.1,prelu,prelu:channel,elu\n"
           "                      (leaky_relu:A, elu:A, prelu[:channel][:INIT], rrelu[:LO:HI],\n"
           "                      selu, sigmoid, tanh)\n"
           "  --epochs N          train N epochs (overrides train.epochs)\n"
           "  --out DIR           where to write stats.csv, summary.json, dying.png, prelu.png\n"
           "                      (default: compare-<config name>)\n"
           "  --set PATH=VALUE    override a config key (repeatable)\n"
           "  --threads N         OpenBLAS threads\n");
}

/* ---- the activation list ------------------------------------------------------------- */

static int parse_float(const char *s, float *v)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d))
        return 0;
    *v = (float)d;
    return 1;
}

/* Applies the ":"-separated arguments after the name to spec; 0 if one does not fit. */
static int parse_act_args(sl_layer_spec *spec, char *args)
{
    int n = 0;
    for (char *tok = strtok(args, ":"); tok; tok = strtok(NULL, ":"), n++) {
        float v;
        if (spec->type == SL_LAYER_PRELU && strcmp(tok, "channel") == 0)
            spec->per_channel = 1;
        else if (spec->type == SL_LAYER_PRELU && strcmp(tok, "shared") == 0)
            spec->per_channel = 0;
        else if (!parse_float(tok, &v))
            return 0;
        else if (spec->type == SL_LAYER_RRELU)
            *(n == 0 ? &spec->lower : &spec->upper) = v;
        else if (spec->type == SL_LAYER_LEAKY_RELU || spec->type == SL_LAYER_ELU ||
                 spec->type == SL_LAYER_PRELU)
            spec->alpha = v;
        else
            return 0;
    }
    return n <= 2;
}

static int parse_act(const char *item, act_choice *a, sl_error *err)
{
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", item) >= (int)sizeof buf || !*item)
        return 0;
    snprintf(a->label, sizeof a->label, "%s", item);
    char *colon = strchr(buf, ':');
    if (colon)
        *colon = '\0';
    sl_layer_type type;
    if (sl_layer_type_parse(buf, &type, err) != SL_OK || !sl_layer_is_activation(type))
        return 0;
    a->spec = sl_layer_defaults(type);
    return colon ? parse_act_args(&a->spec, colon + 1) : 1;
}

static int parse_act_list(compare *c)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", c->act_list);
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        sl_error err = {0};
        if (c->n_acts == MAX_ACTS)
            return cli_usage_error("compare", "--act: at most %d activations", MAX_ACTS);
        if (!parse_act(item, &c->acts[c->n_acts], &err))
            return cli_usage_error("compare", "--act: \"%s\" is not an activation "
                                              "(relu, leaky_relu:A, prelu[:channel], elu, ...)",
                                   item);
        c->n_acts++;
    }
    return c->n_acts ? 0 : cli_usage_error("compare", "--act: empty list");
}

static int parse_compare_args(int argc, char **argv, compare *c)
{
    for (int i = 1; i < argc; i++) {
        int r = cli_config_option("compare", argc, argv, &i, &c->cargs);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        const char *opt = argv[i];
        if (strcmp(opt, "--act") == 0 || strcmp(opt, "--out") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error("compare", "%s needs a value", opt);
            *(opt[2] == 'a' ? &c->act_list : &c->out_dir) = argv[++i];
        } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            compare_help();
            return -1;
        } else if (opt[0] == '-' || c->cargs.path) {
            return cli_usage_error("compare", "unexpected argument %s", opt);
        } else {
            c->cargs.path = opt;
        }
    }
    if (!c->cargs.path)
        return cli_usage_error("compare", "missing CONFIG");
    if (!c->act_list)
        return cli_usage_error("compare", "missing --act LIST");
    return parse_act_list(c);
}

/* ---- models with shared initial weights ------------------------------------------------- */

/* The config's model with activation a in every activation layer, initialised from the seed. */
static sl_model *build_model(compare *c, const act_choice *a, sl_error *err)
{
    for (size_t i = 0; i < c->cfg->model.num_layers; i++)
        if (sl_layer_is_activation(c->cfg->model.layers[i].type))
            c->cfg->model.layers[i] = a->spec;
    return sl_run_build_model(c->cfg, err);
}

static int is_shared(const sl_param *p)
{
    return p->role != SL_PARAM_PRELU_SLOPE;
}

/* Copies every shared parameter and buffer of the reference into m, by name. */
static sl_status copy_shared(const sl_model *ref, sl_model *m, sl_error *err)
{
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (!is_shared(p))
            continue;
        const sl_param *q = sl_model_find_param(ref, p->name);
        if (!q || q->tensor->size != p->tensor->size)
            return sl_error_set(err, SL_ERR_STATE, "compare: %s has no counterpart in the "
                                                   "reference model", p->name);
        memcpy(p->tensor->data, q->tensor->data, (size_t)p->tensor->size * sizeof(float));
    }
    return SL_OK;
}

/* FNV-1a over the names and bytes of the shared parameters: equal hashes, equal weights. */
static uint64_t shared_hash(const sl_model *m, int64_t *scalars)
{
    uint64_t h = 1469598103934665603ull;
    *scalars = 0;
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (!is_shared(p))
            continue;
        const unsigned char *bytes[2] = {(const unsigned char *)p->name,
                                         (const unsigned char *)p->tensor->data};
        size_t lens[2] = {strlen(p->name), (size_t)p->tensor->size * sizeof(float)};
        for (int k = 0; k < 2; k++)
            for (size_t j = 0; j < lens[k]; j++)
                h = (h ^ bytes[k][j]) * 1099511628211ull;
        *scalars += p->tensor->size;
    }
    return h;
}

/* Number of shared parameters whose values equal the reference's exactly (the check). */
static int count_equal_to_reference(const sl_model *ref, const sl_model *m, int *shared)
{
    int equal = 0;
    *shared = 0;
    for (size_t i = 0; i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (!is_shared(p))
            continue;
        const sl_param *q = sl_model_find_param(ref, p->name);
        (*shared)++;
        equal += q && q->tensor->size == p->tensor->size &&
                 memcmp(q->tensor->data, p->tensor->data,
                        (size_t)p->tensor->size * sizeof(float)) == 0;
    }
    return equal;
}

/* ---- one run ---------------------------------------------------------------------------- */

typedef struct run_state {
    int index;
    sl_model *model;
    sl_trainer *trainer;
    cli_stats stats;
    int64_t batches; /* per epoch */
} run_state;

static void run_state_free(run_state *r)
{
    cli_stats_close(&r->stats);
    sl_trainer_free(r->trainer);
    sl_model_free(r->model);
}

static sl_status add_row(compare *c, const stat_row *row, sl_error *err)
{
    if (c->n_rows == c->cap_rows) {
        size_t cap = c->cap_rows ? 2 * c->cap_rows : 256;
        stat_row *grown = realloc(c->rows, cap * sizeof *grown);
        if (!grown)
            return sl_error_set(err, SL_ERR_NOMEM, "out of memory for the statistics");
        c->rows = grown;
        c->cap_rows = cap;
    }
    c->rows[c->n_rows++] = *row;
    return SL_OK;
}

static void csv_optional(FILE *f, double v, int present)
{
    if (present && isfinite(v))
        fprintf(f, ",%.6g", v);
    else
        fprintf(f, ",");
}

static void csv_row(FILE *f, const char *act, const stat_row *r)
{
    const sl_layer_stats *l = &r->l;
    fprintf(f, "%s,%d,%lld,%.6g,%d,%s,%lld,%lld,%.6g,%.6g,%lld,%lld", act, r->epoch,
            (long long)r->step, r->progress, l->layer, sl_layer_type_name(l->type),
            (long long)l->units, (long long)l->dead, l->dead_frac, l->sparsity,
            (long long)l->died, (long long)l->revived);
    csv_optional(f, l->grad_mean_abs, 1);
    csv_optional(f, l->alpha_mean, l->n_alpha > 0);
    csv_optional(f, l->alpha_min, l->n_alpha > 0);
    csv_optional(f, l->alpha_max, l->n_alpha > 0);
    csv_optional(f, r->test_acc, 1);
    fprintf(f, "\n");
}

/* Measures now and records one row per activation layer. */
static sl_status report(compare *c, run_state *r, sl_error *err)
{
    int epoch = sl_trainer_epoch(r->trainer);
    int64_t step = sl_trainer_steps(r->trainer);
    if (sl_stats_measure(r->stats.stats, epoch, step, err) != SL_OK)
        return err->status;
    double acc = NAN;
    if (c->eval) {
        sl_eval_result res = {0};
        int64_t batch = c->cfg->train.batch_size > 256 ? c->cfg->train.batch_size : 256;
        if (sl_evaluate(r->model, c->eval, batch, c->cfg->loss, &res, err) != SL_OK)
            return err->status;
        acc = res.accuracy;
    }
    c->final_acc[r->index] = acc;
    for (size_t i = 0; i < sl_stats_num_layers(r->stats.stats); i++) {
        stat_row row = {r->index, epoch, step, (double)step / (double)r->batches,
                        *sl_stats_layer(r->stats.stats, i), acc};
        csv_row(c->csv, c->acts[r->index].label, &row);
        if (add_row(c, &row, err) != SL_OK)
            return err->status;
    }
    fflush(c->csv);
    return SL_OK;
}

static sl_status train_run(compare *c, run_state *r, sl_error *err)
{
    int64_t every = c->cfg->stats.every_steps;
    if (report(c, r, err) != SL_OK)
        return err->status;
    while (!sl_trainer_done(r->trainer)) {
        sl_step_info info;
        if (sl_trainer_step(r->trainer, &info, err) != SL_OK)
            return err->status;
        int epoch_end = info.n == 0;
        int due = every > 0 ? !epoch_end && sl_trainer_steps(r->trainer) % every == 0 : epoch_end;
        if (every > 0 && sl_trainer_done(r->trainer) &&
            sl_stats_step(r->stats.stats) != sl_trainer_steps(r->trainer))
            due = 1; /* the last report is at the end of training */
        if (due && report(c, r, err) != SL_OK)
            return err->status;
        if (epoch_end)
            printf("  %-16s epoch %d/%d  test acc %.2f%%\n", c->acts[r->index].label,
                   sl_trainer_epoch(r->trainer), c->cfg->train.epochs,
                   100.0 * c->final_acc[r->index]);
    }
    fflush(stdout);
    return SL_OK;
}

static void add_histograms(cJSON *run_obj, const sl_stats *s)
{
    cJSON *hists = cJSON_AddArrayToObject(run_obj, "alpha_histograms");
    for (size_t i = 0; i < sl_stats_num_layers(s); i++) {
        const sl_layer_stats *l = sl_stats_layer(s, i);
        if (!l->n_alpha)
            continue;
        double lo = floor(l->alpha_min * 10.0) / 10.0, hi = ceil(l->alpha_max * 10.0) / 10.0;
        if (hi <= lo)
            hi = lo + 0.1;
        int64_t counts[HIST_BINS];
        sl_stats_alpha_histogram(s, i, lo, hi, HIST_BINS, counts, NULL);
        cJSON *h = cJSON_CreateObject();
        cJSON_AddNumberToObject(h, "layer", l->layer);
        cJSON_AddNumberToObject(h, "lo", lo);
        cJSON_AddNumberToObject(h, "hi", hi);
        cJSON *arr = cJSON_AddArrayToObject(h, "counts");
        for (int b = 0; b < HIST_BINS; b++)
            cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)counts[b]));
        cJSON_AddItemToArray(hists, h);
    }
}

static sl_status setup_run(compare *c, run_state *r, cJSON *run_obj, sl_error *err)
{
    r->model = build_model(c, &c->acts[r->index], err);
    if (!r->model || copy_shared(c->ref, r->model, err) != SL_OK)
        return err->status;
    sl_train_options opt = sl_run_train_options(c->cfg);
    r->trainer = sl_trainer_new(r->model, c->data.train, &opt, err);
    if (!r->trainer || cli_stats_open(c->cfg, &c->data, r->model, &r->stats, err) != SL_OK)
        return err->status;
    int64_t n = sl_dataset_count(c->data.train), bs = c->cfg->train.batch_size;
    r->batches = c->cfg->train.drop_last ? n / bs : (n + bs - 1) / bs;
    /* The check, on the model as training receives it. */
    int shared = 0, equal = count_equal_to_reference(c->ref, r->model, &shared);
    int64_t scalars;
    char hex[20];
    c->hashes[r->index] = shared_hash(r->model, &scalars);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)c->hashes[r->index]);
    cJSON_AddStringToObject(run_obj, "initial_weights_hash", hex);
    cJSON_AddNumberToObject(run_obj, "shared_tensors", shared);
    cJSON_AddNumberToObject(run_obj, "shared_tensors_equal_to_reference", equal);
    cJSON_AddNumberToObject(run_obj, "shared_scalars", (double)scalars);
    if (equal != shared)
        return sl_error_set(err, SL_ERR_STATE, "compare: run %s does not start from the shared "
                                               "weights", c->acts[r->index].label);
    return SL_OK;
}

static void run_one(compare *c, int index)
{
    run_state r;
    memset(&r, 0, sizeof r);
    r.index = index;
    sl_error err = {0};
    cJSON *run_obj = cJSON_CreateObject();
    cJSON_AddItemToArray(c->runs, run_obj);
    cJSON_AddStringToObject(run_obj, "act", c->acts[index].label);
    c->final_acc[index] = NAN;
    printf("run %d/%d: %s\n", index + 1, c->n_acts, c->acts[index].label);
    if (setup_run(c, &r, run_obj, &err) != SL_OK || train_run(c, &r, &err) != SL_OK) {
        c->failed[index] = 1;
        snprintf(c->why[index], sizeof c->why[index], "%.*s",
                 (int)strcspn(err.message, ";"), err.message);
        fprintf(stderr, "slope compare: run %s failed: %s\n", c->acts[index].label, err.message);
        cJSON_AddStringToObject(run_obj, "error", err.message);
    } else {
        add_histograms(run_obj, r.stats.stats);
    }
    if (isfinite(c->final_acc[index]))
        cJSON_AddNumberToObject(run_obj, "final_test_acc", c->final_acc[index]);
    run_state_free(&r);
}

/* ---- the table -------------------------------------------------------------------------- */

static void table_line(const compare *c, int run, const stat_row *first, const stat_row *last,
                       int64_t died, int64_t revived)
{
    if (c->failed[run]) {
        printf("%-16s %5d %7lld %8.1f%%  failed: %s\n", c->acts[run].label, first->l.layer,
               (long long)first->l.units, 100.0 * first->l.dead_frac, c->why[run]);
        return;
    }
    char alpha[64] = "-", acc[16] = "-";
    if (last->l.n_alpha == 1)
        snprintf(alpha, sizeof alpha, "%.3f", last->l.alpha_mean);
    else if (last->l.n_alpha > 1)
        snprintf(alpha, sizeof alpha, "%.3f [%.2f, %.2f]", last->l.alpha_mean, last->l.alpha_min,
                 last->l.alpha_max);
    if (isfinite(c->final_acc[run]))
        snprintf(acc, sizeof acc, "%.2f%%", 100.0 * c->final_acc[run]);
    printf("%-16s %5d %7lld %8.1f%% %8.1f%% %6lld %7lld %8.1f%% %9.3g %8s  %s\n",
           c->acts[run].label, last->l.layer, (long long)last->l.units, 100.0 * first->l.dead_frac,
           100.0 * last->l.dead_frac, (long long)died, (long long)revived,
           100.0 * last->l.sparsity, last->l.grad_mean_abs, acc, alpha);
}

/* Per run and activation layer: the first and last report and the died/revived totals. */
static void print_table(const compare *c)
{
    printf("\n%-16s %5s %7s %9s %9s %6s %7s %9s %9s %8s  %s\n", "activation", "layer", "units",
           "dead@init", "dead@end", "died", "revived", "sparsity", "|grad|", "test acc",
           "PReLU slope");
    for (int run = 0; run < c->n_acts; run++) {
        for (size_t k = 0; k < c->n_rows; k++) {
            const stat_row *first = &c->rows[k];
            if (first->run != run || first->step != 0)
                continue;
            const stat_row *last = first;
            int64_t died = 0, revived = 0;
            for (size_t j = k; j < c->n_rows; j++)
                if (c->rows[j].run == run && c->rows[j].l.layer == first->l.layer) {
                    last = &c->rows[j];
                    died += last->l.died;
                    revived += last->l.revived;
                }
            table_line(c, run, first, last, died, revived);
        }
    }
    printf("(died/revived: totals over all reports; sparsity and |grad| at the end)\n");
}

/* ---- plots ------------------------------------------------------------------------------ */

/* Whether the run has PReLU slopes worth plotting (a failed run's never moved). */
static int has_prelu(const compare *c, int run)
{
    if (c->failed[run])
        return 0;
    for (size_t k = 0; k < c->n_rows; k++)
        if (c->rows[k].run == run && c->rows[k].l.n_alpha > 0)
            return 1;
    return 0;
}

/* Datablock $<name>_<layer>_<run>: progress and the chosen columns. */
static void datablock(FILE *f, const compare *c, const char *name, int layer, int run, int alpha)
{
    fprintf(f, "$%s_%d_%d << EOD\n", name, layer, run);
    for (size_t k = 0; k < c->n_rows; k++) {
        const stat_row *r = &c->rows[k];
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

/* The activation layers, from run 0's first report. */
static int layer_list(const compare *c, int *layers, int64_t *units, int max)
{
    int n = 0;
    for (size_t k = 0; k < c->n_rows && n < max; k++) {
        if (c->rows[k].step != c->rows[0].step || c->rows[k].run != c->rows[0].run)
            break;
        units[n] = c->rows[k].l.units;
        layers[n++] = c->rows[k].l.layer;
    }
    return n;
}

static void plot_terminal(FILE *f, int panels, const char *png)
{
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size %d,420 font 'sans,10'\n"
               "} else {\n  set terminal png noenhanced size %d,420\n}\n",
            panels * 420 + 60, panels * 420 + 60);
    fprintf(f, "set output '%s'\nset key top left box opaque\nset grid\n", png);
}

static void plot_dying(FILE *f, const compare *c, const int *layers, const int64_t *units, int n)
{
    char png[1100];
    snprintf(png, sizeof png, "%s/dying.png", c->out_dir);
    plot_terminal(f, n, png);
    fprintf(f, "set multiplot layout 1,%d title 'Dead units during training: %s (probe %lld "
               "examples)'\n",
            n, c->cfg->name, (long long)c->probe_count);
    double top = 5.0;
    for (size_t k = 0; k < c->n_rows; k++)
        top = fmax(top, 110.0 * c->rows[k].l.dead_frac);
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'dead units (%%)'\nset yrange [0:%.0f]\n",
            fmin(top, 100.0));
    for (int i = 0; i < n; i++) {
        fprintf(f, "set title 'activation layer %d (%lld units)'\nplot ", layers[i],
                (long long)units[i]);
        for (int run = 0; run < c->n_acts; run++)
            fprintf(f, "%s$dead_%d_%d using 1:2 with linespoints pt 7 ps 0.5 lw 2 title '%s%s'",
                    run ? ", " : "", layers[i], run, c->acts[run].label,
                    c->failed[run] ? " (failed)" : "");
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static void plot_prelu(FILE *f, const compare *c, const int *layers, int n)
{
    char png[1100];
    snprintf(png, sizeof png, "%s/prelu.png", c->out_dir);
    plot_terminal(f, n, png);
    fprintf(f, "set multiplot layout 1,%d title 'Learned PReLU slopes: %s (line: mean, band: "
               "min to max)'\n",
            n, c->cfg->name);
    fprintf(f, "set xlabel 'epoch'\nset ylabel 'slope a'\nset yrange [*:*]\n"
               "set style fill transparent solid 0.2 noborder\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "set title 'activation layer %d'\nplot ", layers[i]);
        int first = 1;
        for (int run = 0; run < c->n_acts; run++) {
            if (!has_prelu(c, run))
                continue;
            fprintf(f, "%s$alpha_%d_%d using 1:3:4 with filledcurves lc %d notitle, "
                       "$alpha_%d_%d using 1:2 with lines lw 2 lc %d title '%s'",
                    first ? "" : ", ", layers[i], run, run + 1, layers[i], run, run + 1,
                    c->acts[run].label);
            first = 0;
        }
        fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\n");
}

static sl_status write_plots(const compare *c, sl_error *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/plots.gp", c->out_dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write", path);
    int layers[64], n = 0, any_prelu = 0;
    int64_t units[64];
    n = layer_list(c, layers, units, 64);
    fprintf(f, "# slope compare: %s; run `gnuplot %s`\nset datafile separator whitespace\n",
            c->cfg->name, path);
    for (int run = 0; run < c->n_acts; run++) {
        any_prelu |= has_prelu(c, run);
        for (int i = 0; i < n; i++) {
            datablock(f, c, "dead", layers[i], run, 0);
            datablock(f, c, "alpha", layers[i], run, 1);
        }
    }
    if (n > 0)
        plot_dying(f, c, layers, units, n);
    if (any_prelu)
        plot_prelu(f, c, layers, n);
    fclose(f);
    if (!any_prelu)
        printf("no PReLU run finished: prelu.png not drawn\n");
    if (n > 0 && cli_gnuplot(path) > 0)
        printf("plots: %s/dying.png%s%s%s\n", c->out_dir, any_prelu ? ", " : "",
               any_prelu ? c->out_dir : "", any_prelu ? "/prelu.png" : "");
    return SL_OK;
}

/* ---- summary.json ----------------------------------------------------------------------- */

static sl_status write_summary(compare *c, sl_error *err)
{
    int all_equal = 1;
    for (int run = 1; run < c->n_acts; run++)
        all_equal &= c->hashes[run] == c->hashes[0];
    cJSON_AddBoolToObject(c->summary, "initial_weights_shared", all_equal);
    char path[1100];
    snprintf(path, sizeof path, "%s/summary.json", c->out_dir);
    char *text = cJSON_Print(c->summary);
    FILE *f = text ? fopen(path, "w") : NULL;
    int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f)
        ok &= fclose(f) == 0;
    free(text);
    if (!ok)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write", path);
    if (!all_equal)
        fprintf(stderr, "slope compare: the runs did NOT start from the same weights\n");
    return SL_OK;
}

static void summary_header(compare *c)
{
    c->summary = cJSON_CreateObject();
    cJSON_AddStringToObject(c->summary, "config", c->cargs.path);
    cJSON_AddStringToObject(c->summary, "name", c->cfg->name);
    cJSON_AddNumberToObject(c->summary, "seed", (double)c->cfg->seed);
    cJSON_AddNumberToObject(c->summary, "epochs", c->cfg->train.epochs);
    cJSON_AddStringToObject(c->summary, "probe_split",
                            c->cfg->stats.probe_split == SL_SPLIT_TEST ? "test" : "train");
    cJSON_AddNumberToObject(c->summary, "probe_count", (double)c->probe_count);
    cJSON_AddNumberToObject(c->summary, "stats_every_steps", (double)c->cfg->stats.every_steps);
    cJSON_AddStringToObject(c->summary, "initial_weights_from", c->acts[0].label);
    c->runs = cJSON_AddArrayToObject(c->summary, "runs");
}

/* ---- the command ------------------------------------------------------------------------ */

static sl_status compare_setup(compare *c, sl_error *err)
{
    c->cfg = cli_load_config(&c->cargs, err);
    if (!c->cfg || sl_run_data_open(c->cfg, cli_datasets_dir(), &c->data, err) != SL_OK)
        return err->status;
    c->eval = c->data.test ? c->data.test : c->data.val;
    const sl_dataset *split =
        c->cfg->stats.probe_split == SL_SPLIT_TEST ? c->data.test : c->data.train_all;
    c->probe_count = split ? sl_dataset_count(split) : 0;
    if (c->cfg->stats.probe_count < c->probe_count)
        c->probe_count = c->cfg->stats.probe_count;
    if (!c->out_dir) {
        static char def[600];
        snprintf(def, sizeof def, "compare-%s", c->cfg->name);
        c->out_dir = def;
    }
    if (cli_mkdirs(c->out_dir, err) != SL_OK)
        return err->status;
    c->ref = build_model(c, &c->acts[0], err);
    if (!c->ref)
        return err->status;
    char path[1100];
    snprintf(path, sizeof path, "%s/stats.csv", c->out_dir);
    c->csv = fopen(path, "w");
    if (!c->csv)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write", path);
    fprintf(c->csv, "act,epoch,step,progress,layer,type,units,dead,dead_frac,sparsity,died,"
                    "revived,grad_mean_abs,alpha_mean,alpha_min,alpha_max,test_acc\n");
    summary_header(c);
    return SL_OK;
}

static void compare_free(compare *c)
{
    if (c->csv)
        fclose(c->csv);
    cJSON_Delete(c->summary);
    free(c->rows);
    sl_model_free(c->ref);
    sl_run_data_close(&c->data);
    sl_config_free(c->cfg);
}

int cmd_compare(int argc, char **argv)
{
    compare c;
    memset(&c, 0, sizeof c);
    int rc = parse_compare_args(argc, argv, &c);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    if (compare_setup(&c, &err) != SL_OK) {
        rc = cli_fail(&err);
        compare_free(&c);
        return rc;
    }
    printf("compare %s: %d activations, %d epochs, seed %llu, probe %lld examples -> %s\n",
           c.cfg->name, c.n_acts, c.cfg->train.epochs, (unsigned long long)c.cfg->seed,
           (long long)c.probe_count, c.out_dir);
    for (int i = 0; i < c.n_acts; i++)
        run_one(&c, i);
    fflush(c.csv);
    print_table(&c);
    rc = write_summary(&c, &err) == SL_OK && write_plots(&c, &err) == SL_OK ? EXIT_OK
                                                                             : cli_fail(&err);
    printf("data: %s/stats.csv, %s/summary.json\n", c.out_dir, c.out_dir);
    compare_free(&c);
    return rc;
}
