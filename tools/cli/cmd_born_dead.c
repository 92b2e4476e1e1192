/*
 * cmd_born_dead.c - `slope born-dead --width LIST --depth LIST`: how likely a
 * deep, narrow ReLU net is dead at initialisation, by Monte Carlo over
 * random inits, next to the bounds that follow from Lu, Shin, Su and
 * Karniadakis, "Dying ReLU and Initialization: Theory and Numerical
 * Examples" (2019).  The experiment itself is sl_born_dead (slope/stats.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

#define MAX_SIZES 64

typedef struct born_args {
    int widths[MAX_SIZES], depths[MAX_SIZES];
    int n_widths, n_depths;
    sl_born_dead_spec spec;
    const char *csv, *plot;
    char act_label[64], init_label[32], bias_label[48];
} born_args;

/* "1,2,5" or "2-5" or a mix; values in [1, 100000]. */
static int parse_int_list(const char *text, int *out, int max, int *n)
{
    const char *p = text;
    *n = 0;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            return 0;
        if (*end == '-') {
            p = end + 1;
            b = strtol(p, &end, 10);
            if (end == p)
                return 0;
        }
        if (a < 1 || b < a || b > 100000 || b - a >= max - *n)
            return 0;
        for (long v = a; v <= b; v++)
            out[(*n)++] = (int)v;
        if (*end != ',' && *end != '\0')
            return 0;
        p = *end ? end + 1 : end;
    }
    return *n > 0;
}

static int parse_widths(const char *text, void *dest)
{
    born_args *a = dest;
    return parse_int_list(text, a->widths, MAX_SIZES, &a->n_widths);
}

static int parse_depths(const char *text, void *dest)
{
    born_args *a = dest;
    return parse_int_list(text, a->depths, MAX_SIZES, &a->n_depths);
}

static int parse_seed(const char *text, void *dest)
{
    char *end;
    ((born_args *)dest)->spec.seed = strtoull(text, &end, 10);
    return !*end && end != text && text[0] != '-';
}

static int parse_act(const char *text, void *dest)
{
    born_args *a = dest;
    if (sl_layer_spec_parse(text, &a->spec.act, NULL) != SL_OK)
        return 0;
    snprintf(a->act_label, sizeof a->act_label, "%s", text);
    return 1;
}

static int parse_init(const char *text, void *dest)
{
    born_args *a = dest;
    static const struct { const char *name; sl_init_kind kind; } names[] = {
        {"he_normal", SL_INIT_KAIMING_NORMAL},   {"he_uniform", SL_INIT_KAIMING_UNIFORM},
        {"xavier_normal", SL_INIT_XAVIER_NORMAL}, {"xavier_uniform", SL_INIT_XAVIER_UNIFORM},
        {"pytorch", SL_INIT_PYTORCH}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(text, names[i].name) == 0) {
            a->spec.init = names[i].kind;
            snprintf(a->init_label, sizeof a->init_label, "%s", text);
            return 1;
        }
    if (sl_init_parse(text, &a->spec.init, NULL) != SL_OK)
        return 0;
    snprintf(a->init_label, sizeof a->init_label, "%s", text);
    return 1;
}

static int parse_bias(const char *text, void *dest)
{
    born_args *a = dest;
    static const struct { const char *name; sl_bias_init kind; } names[] = {
        {"zero", SL_BIAS_ZERO},       {"init", SL_BIAS_INIT}, {"normal", SL_BIAS_NORMAL},
        {"uniform", SL_BIAS_UNIFORM}, {"const", SL_BIAS_CONST}};
    const char *colon = strchr(text, ':');
    size_t len = colon ? (size_t)(colon - text) : strlen(text);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) != len || strncmp(text, names[i].name, len) != 0)
            continue;
        int needs_scale = names[i].kind >= SL_BIAS_NORMAL;
        if (needs_scale != (colon != NULL))
            return 0;
        if (colon) {
            char *end;
            a->spec.bias_scale = strtof(colon + 1, &end);
            if (end == colon + 1 || *end || !isfinite(a->spec.bias_scale))
                return 0;
        }
        a->spec.bias = names[i].kind;
        snprintf(a->bias_label, sizeof a->bias_label, "%s", text);
        return 1;
    }
    return 0;
}

static int parse_born_args(int argc, char **argv, born_args *a)
{
    memset(a, 0, sizeof *a);
    a->spec = sl_born_dead_defaults();
    snprintf(a->act_label, sizeof a->act_label, "relu");
    snprintf(a->init_label, sizeof a->init_label, "he_normal");
    snprintf(a->bias_label, sizeof a->bias_label, "zero");
    int trials = (int)a->spec.trials, probes = (int)a->spec.probes;
    const cli_flag flags[] = {
        {"--width", "LIST", CLI_PARSE, a, 0, 0, parse_widths, "e.g. 1,2,3,4 or 2-5"},
        {"--depth", "LIST", CLI_PARSE, a, 0, 0, parse_depths, "hidden layers, e.g. 1,2,5,10,20 or 1-30"},
        {"--trials", "N", CLI_INT, &trials, 1, 100000000, NULL, "random nets per cell (1000)"},
        {"--seed", "S", CLI_PARSE, a, 0, 0, parse_seed, "(42)"},
        {"--csv", "FILE", CLI_STR, &a->csv, 0, 0, NULL,
         "write width,depth,trials,p_dead,stderr,... to FILE"},
        {"--plot", "FILE.png", CLI_STR, &a->plot, 0, 0, NULL, "plot p_dead against depth with gnuplot"},
        {"--act", "A", CLI_PARSE, a, 0, 0, parse_act,
         "relu (default), or another activation (then it counts layers\n"
         "wholly negative); see `slope compare --help` for the forms"},
        {"--init", "I", CLI_PARSE, a, 0, 0, parse_init,
         "he_normal (default), he_uniform, xavier_normal, xavier_uniform,\npytorch"},
        {"--input-dim", "D", CLI_INT, &a->spec.input_dim, 1, 100000, NULL, "(1)"},
        {"--bias", "B", CLI_PARSE, a, 0, 0, parse_bias, "zero (default), init, normal:S, uniform:B, const:C"},
        {"--probes", "K", CLI_INT, &probes, 1, 1000000, NULL,
         "random inputs when the two-probe test is not exact (1000)"}};
    const cli_command cmd = {
        "born-dead", "--width LIST --depth LIST [options]",
        "Estimates the probability that a fully connected net of DEPTH hidden layers of WIDTH\n"
        "units is dead at initialisation (some layer is <= 0 on every input, so the output is\n"
        "constant), and prints it next to theory (Lu, Shin, Su, Karniadakis 2019).",
        "With input dim 1 and zero biases the net is positively homogeneous, so the inputs\n"
        "x = +1 and x = -1 decide exactly whether a unit is <= 0 on every input.",
        NULL, flags, sizeof flags / sizeof flags[0], NULL, NULL, 0, NULL};
    int rc = cli_parse(&cmd, argc, argv);
    a->spec.trials = trials;
    a->spec.probes = probes;
    if (rc == 0 && (!a->n_widths || !a->n_depths))
        return cli_usage_error("born-dead", "--width LIST and --depth LIST are required");
    return rc;
}

/* ---- output ---------------------------------------------------------------------------- */

static void print_header(const born_args *a, int exact)
{
    const sl_born_dead_spec *s = &a->spec;
    printf("born-dead: %s, %s weights, %s biases, input dim %d, %lld trials per cell, seed %llu\n",
           a->act_label, a->init_label, a->bias_label, s->input_dim, (long long)s->trials,
           (unsigned long long)s->seed);
    if (exact)
        printf("exact test: the net is positively homogeneous, so x = +1 and x = -1 decide whether "
               "a unit is <= 0 on every input\n");
    else
        printf("sampled test: %lld random inputs stand for every input\n", (long long)s->probes);
    int relu = s->act.type == SL_LAYER_RELU;
    printf("\n%5s %5s  %-10s %8s  %-24s %s\n", "width", "depth",
           relu ? "p_dead" : "p_neg_layer", "stderr", relu ? "theory" : "",
           relu ? "dead layers" : "layers wholly negative (mean)");
}

typedef struct born_ui {
    const born_args *args;
    int cells_printed;
} born_ui;

static void print_cell(const sl_born_dead_cell *c, void *user)
{
    born_ui *ui = user;
    if (ui->cells_printed++ == 0) /* now that the kind of test is known */
        print_header(ui->args, c->res.exact);
    char theory[64] = "";
    if (c->has_theory && c->theory_exact)
        snprintf(theory, sizeof theory, "%.4f (exact)", c->theory_lo);
    else if (c->has_theory)
        snprintf(theory, sizeof theory, "[%.4f, %.4f]", c->theory_lo, c->theory_hi);
    printf("%5d %5d  %-10.4f %8.4f  %-24s %.2f\n", c->width, c->depth, c->res.p_dead,
           c->res.std_error, theory, c->res.mean_dead_layers);
    fflush(stdout);
}

/* FILE.gp beside FILE.png, written by the library, drawn by gnuplot. */
static sl_status plot(const born_args *a, const sl_born_dead_cell *cells, size_t n, sl_error *err)
{
    char script[1100], title[256];
    size_t len = strlen(a->plot);
    int has_png = len > 4 && strcmp(a->plot + len - 4, ".png") == 0;
    snprintf(script, sizeof script, "%.*s.gp", (int)(has_png ? len - 4 : len), a->plot);
    snprintf(title, sizeof title, "Born dead: %s net, %s weights, %s biases, input dim %d (%lld "
             "trials)", a->act_label, a->init_label, a->bias_label, a->spec.input_dim,
             (long long)a->spec.trials);
    sl_status st = sl_born_dead_write_plot(script, a->plot, title,
                                           a->spec.act.type == SL_LAYER_RELU, cells, n, err);
    if (st == SL_OK && cli_gnuplot(script) > 0)
        printf("plot: %s\n", a->plot);
    return st;
}

static void print_footer(const born_args *a, const sl_born_dead_cell *last)
{
    if (last->has_theory)
        printf("\ntheory: ReLU, zero biases, input dim 1, any symmetric weights: "
               "1 - 2(1 - 2^-w)^d <= p <= 1 - (1 - 2^-w)^d,\nexact for width 1 "
               "(1 - 2^(1-d)) and depth <= 2; p -> 1 as depth grows (Lu et al. 2019).\n");
    else if (a->spec.act.type != SL_LAYER_RELU)
        printf("\n%s passes signal and gradient through a wholly negative layer: the output is "
               "not constant.\n", a->act_label);
}

int cmd_born_dead(int argc, char **argv)
{
    born_args a;
    int rc = parse_born_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    size_t n = (size_t)a.n_widths * (size_t)a.n_depths;
    sl_born_dead_cell *cells = calloc(n, sizeof *cells);
    if (!cells)
        return EXIT_NOMEM;
    sl_error err = {0};
    born_ui ui = {&a, 0};
    if (sl_born_dead_grid(&a.spec, a.widths, a.n_widths, a.depths, a.n_depths, cells, print_cell,
                          &ui, &err) == SL_OK) {
        print_footer(&a, &cells[n - 1]);
        if (a.csv)
            (void)sl_born_dead_write_csv(a.csv, cells, n, &err);
        if (err.status == SL_OK && a.plot)
            (void)plot(&a, cells, n, &err);
    }
    free(cells);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}
