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

#define MAX_SIZES 64

typedef struct born_args {
    int widths[MAX_SIZES], depths[MAX_SIZES];
    int n_widths, n_depths;
    sl_born_dead_spec spec;
    const char *csv, *plot;
    char act_label[64], init_label[32], bias_label[48];
} born_args;

typedef struct cell {
    int width, depth;
    sl_born_dead_result res;
    double lo, hi;
    int has_theory, theory_exact;
} cell;

static void born_help(void)
{
    printf("usage: slope born-dead --width LIST --depth LIST [options]\n\n"
           "Estimates the probability that a fully connected net of DEPTH hidden layers of WIDTH\n"
           "units is dead at initialisation (some layer is <= 0 on every input, so the output is\n"
           "constant), and prints it next to theory (Lu, Shin, Su, Karniadakis 2019).\n\n"
           "  --width LIST        e.g. 1,2,3,4 or 2-5\n"
           "  --depth LIST        hidden layers, e.g. 1,2,5,10,20 or 1-30\n"
           "  --trials N          random nets per cell (1000)\n"
           "  --seed S            (42)\n"
           "  --csv FILE          write width,depth,trials,p_dead,stderr,... to FILE\n"
           "  --plot FILE.png     plot p_dead against depth with gnuplot\n"
           "  --act A             relu (default), or another activation (then it counts layers\n"
           "                      wholly negative); see `slope compare --help` for the forms\n"
           "  --init I            he_normal (default), he_uniform, xavier_normal, xavier_uniform,\n"
           "                      pytorch\n"
           "  --input-dim D       (1)\n"
           "  --bias B            zero (default), init, normal:S, uniform:B, const:C\n"
           "  --probes K          random inputs when the two-probe test is not exact (1000)\n\n"
           "With input dim 1 and zero biases the net is positively homogeneous, so the inputs\n"
           "x = +1 and x = -1 decide exactly whether a unit is <= 0 on every input.\n");
}

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

static int parse_act(const char *text, born_args *a)
{
    if (sl_layer_spec_parse(text, &a->spec.act, NULL) != SL_OK)
        return 0;
    snprintf(a->act_label, sizeof a->act_label, "%s", text);
    return 1;
}

static int parse_init(const char *text, born_args *a)
{
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

static int parse_bias(const char *text, born_args *a)
{
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

static int parse_count(const char *opt, const char *v, int64_t *out, int64_t max)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || *end || n < 1 || n > max)
        return cli_usage_error("born-dead", "%s takes an integer in 1..%lld, got \"%s\"", opt,
                               (long long)max, v);
    *out = n;
    return 0;
}

/* One option with its value; returns 0, or a usage exit code. */
static int born_option(born_args *a, const char *opt, const char *v)
{
    int64_t n = 1;
    if (strcmp(opt, "--width") == 0)
        return parse_int_list(v, a->widths, MAX_SIZES, &a->n_widths)
                   ? 0 : cli_usage_error("born-dead", "--width: bad list \"%s\"", v);
    if (strcmp(opt, "--depth") == 0)
        return parse_int_list(v, a->depths, MAX_SIZES, &a->n_depths)
                   ? 0 : cli_usage_error("born-dead", "--depth: bad list \"%s\"", v);
    if (strcmp(opt, "--trials") == 0)
        return parse_count(opt, v, &a->spec.trials, 100000000);
    if (strcmp(opt, "--probes") == 0)
        return parse_count(opt, v, &a->spec.probes, 1000000);
    if (strcmp(opt, "--input-dim") == 0) {
        int rc = parse_count(opt, v, &n, 100000);
        a->spec.input_dim = (int)n;
        return rc;
    }
    if (strcmp(opt, "--seed") == 0) {
        char *end;
        a->spec.seed = strtoull(v, &end, 10);
        return *end || end == v ? cli_usage_error("born-dead", "--seed: bad number \"%s\"", v) : 0;
    }
    if (strcmp(opt, "--csv") == 0 || strcmp(opt, "--plot") == 0) {
        *(opt[2] == 'c' ? &a->csv : &a->plot) = v;
        return 0;
    }
    if (strcmp(opt, "--act") == 0)
        return parse_act(v, a) ? 0 : cli_usage_error("born-dead", "--act: bad activation \"%s\"", v);
    if (strcmp(opt, "--init") == 0)
        return parse_init(v, a) ? 0 : cli_usage_error("born-dead", "--init: unknown \"%s\"", v);
    if (strcmp(opt, "--bias") == 0)
        return parse_bias(v, a) ? 0 : cli_usage_error("born-dead", "--bias: bad value \"%s\"", v);
    return cli_usage_error("born-dead", "unknown option %s", opt);
}

static int parse_born_args(int argc, char **argv, born_args *a)
{
    memset(a, 0, sizeof *a);
    a->spec = sl_born_dead_defaults();
    snprintf(a->act_label, sizeof a->act_label, "relu");
    snprintf(a->init_label, sizeof a->init_label, "he_normal");
    snprintf(a->bias_label, sizeof a->bias_label, "zero");
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            born_help();
            return -1;
        }
        if (i + 1 >= argc)
            return cli_usage_error("born-dead", "%s needs a value", argv[i]);
        int rc = born_option(a, argv[i], argv[i + 1]);
        if (rc)
            return rc;
    }
    if (!a->n_widths || !a->n_depths)
        return cli_usage_error("born-dead", "--width LIST and --depth LIST are required");
    return 0;
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

static void print_cell(const cell *c)
{
    char theory[64] = "";
    if (c->has_theory && c->theory_exact)
        snprintf(theory, sizeof theory, "%.4f (exact)", c->lo);
    else if (c->has_theory)
        snprintf(theory, sizeof theory, "[%.4f, %.4f]", c->lo, c->hi);
    printf("%5d %5d  %-10.4f %8.4f  %-24s %.2f\n", c->width, c->depth, c->res.p_dead,
           c->res.std_error, theory, c->res.mean_dead_layers);
}

static sl_status write_csv(const char *path, const cell *cells, int n, sl_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write", path);
    fprintf(f, "width,depth,trials,p_dead,stderr,mean_dead_layers,theory_lo,theory_hi\n");
    for (int i = 0; i < n; i++) {
        const cell *c = &cells[i];
        fprintf(f, "%d,%d,%lld,%.6g,%.6g,%.6g", c->width, c->depth, (long long)c->res.trials,
                c->res.p_dead, c->res.std_error, c->res.mean_dead_layers);
        if (c->has_theory)
            fprintf(f, ",%.6g,%.6g\n", c->lo, c->hi);
        else
            fprintf(f, ",,\n");
    }
    return fclose(f) == 0 ? SL_OK : sl_error_set(err, SL_ERR_IO, "%s: write failed", path);
}

static void plot_blocks(FILE *f, const born_args *a, const cell *cells, int n)
{
    for (int w = 0; w < a->n_widths; w++) {
        fprintf(f, "$w%d << EOD\n", w);
        for (int i = 0; i < n; i++)
            if (cells[i].width == a->widths[w])
                fprintf(f, "%d %.6g %.6g %.6g %.6g\n", cells[i].depth, cells[i].res.p_dead,
                        cells[i].res.std_error, cells[i].has_theory ? cells[i].lo : NAN,
                        cells[i].has_theory ? cells[i].hi : NAN);
        fprintf(f, "EOD\n");
    }
}

static sl_status write_plot(const born_args *a, const cell *cells, int n, int theory,
                            sl_error *err)
{
    char script[1100];
    size_t len = strlen(a->plot);
    int has_png = len > 4 && strcmp(a->plot + len - 4, ".png") == 0;
    snprintf(script, sizeof script, "%.*s.gp", (int)(has_png ? len - 4 : len), a->plot);
    FILE *f = fopen(script, "w");
    if (!f)
        return sl_error_set(err, SL_ERR_IO, "%s: cannot write", script);
    plot_blocks(f, a, cells, n);
    fprintf(f, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo noenhanced size 900,480 font 'sans,10'\n"
               "} else {\n  set terminal png noenhanced size 900,480\n}\n"
               "set output '%s'\nset grid\nset key outside right top box\n"
               "set title 'Born dead: %s net, %s weights, %s biases, input dim %d (%lld trials)'\n"
               "set xlabel 'depth (hidden layers)'\nset ylabel '%s'\nset yrange [0:1.05]\n"
               "set style fill transparent solid 0.15 noborder\n",
            a->plot, a->act_label, a->init_label, a->bias_label, a->spec.input_dim,
            (long long)a->spec.trials,
            a->spec.act.type == SL_LAYER_RELU ? "P(dead at init)" : "P(some layer wholly negative)");
    fprintf(f, "plot ");
    for (int w = 0; w < a->n_widths; w++) {
        if (theory)
            fprintf(f, "$w%d using 1:4:5 with filledcurves lc %d title 'theory bounds, width %d', ",
                    w, w + 1, a->widths[w]);
        fprintf(f, "$w%d using 1:2:3 with yerrorlines lc %d lw 2 pt 7 ps 0.6 title "
                   "'measured, width %d'%s",
                w, w + 1, a->widths[w], w + 1 < a->n_widths ? ", " : "\n");
    }
    fclose(f);
    if (cli_gnuplot(script) > 0)
        printf("plot: %s\n", a->plot);
    return SL_OK;
}

int cmd_born_dead(int argc, char **argv)
{
    born_args a;
    int rc = parse_born_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    int n = a.n_widths * a.n_depths;
    cell *cells = calloc((size_t)n, sizeof *cells);
    if (!cells)
        return EXIT_FAILURE_GENERIC;
    sl_error err = {0};
    sl_born_dead_spec probe = a.spec;
    int theory = 0;
    for (int w = 0, k = 0; w < a.n_widths; w++) {
        for (int d = 0; d < a.n_depths; d++, k++) {
            cell *c = &cells[k];
            c->width = probe.width = a.widths[w];
            c->depth = probe.depth = a.depths[d];
            if (sl_born_dead(&probe, &c->res, &err) != SL_OK) {
                free(cells);
                return cli_fail(&err);
            }
            theory = c->res.exact && probe.act.type == SL_LAYER_RELU;
            c->has_theory = theory;
            c->theory_exact = sl_born_dead_theory(c->width, c->depth, &c->lo, &c->hi);
            if (k == 0)
                print_header(&a, c->res.exact);
            print_cell(c);
            fflush(stdout);
        }
    }
    if (theory)
        printf("\ntheory: ReLU, zero biases, input dim 1, any symmetric weights: "
               "1 - 2(1 - 2^-w)^d <= p <= 1 - (1 - 2^-w)^d,\nexact for width 1 "
               "(1 - 2^(1-d)) and depth <= 2; p -> 1 as depth grows (Lu et al. 2019).\n");
    else if (a.spec.act.type != SL_LAYER_RELU)
        printf("\n%s passes signal and gradient through a wholly negative layer: the output is "
               "not constant.\n", a.act_label);
    rc = EXIT_OK;
    if (a.csv && write_csv(a.csv, cells, n, &err) != SL_OK)
        rc = cli_fail(&err);
    if (rc == EXIT_OK && a.plot && write_plot(&a, cells, n, theory, &err) != SL_OK)
        rc = cli_fail(&err);
    free(cells);
    return rc;
}
