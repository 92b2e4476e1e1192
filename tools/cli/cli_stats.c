/*
 * cli_stats.c - dying-neuron statistics for the commands: a report as text
 * lines, and running gnuplot on a script a command wrote.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* "0.25 [0.1, 0.4]" for PReLU slopes, "-" otherwise. */
static const char *alpha_text(const sl_layer_stats *l, char *buf, size_t size)
{
    if (!l->n_alpha)
        snprintf(buf, size, "-");
    else if (l->n_alpha == 1)
        snprintf(buf, size, "%.4f", l->alpha_mean);
    else
        snprintf(buf, size, "%.4f [%.4f, %.4f]", l->alpha_mean, l->alpha_min, l->alpha_max);
    return buf;
}

void cli_stats_print(FILE *out, const sl_stats *s)
{
    fprintf(out, "  stats (epoch %d, step %lld, probe %lld examples):\n", sl_stats_epoch(s),
            (long long)sl_stats_step(s), (long long)sl_stats_probe_count(s));
    for (size_t i = 0; i < sl_stats_num_layers(s); i++) {
        const sl_layer_stats *l = sl_stats_layer(s, i);
        char alpha[96];
        fprintf(out,
                "    layer %d %-10s dead %5lld/%-5lld (%5.1f%%)  died %lld  revived %lld  "
                "sparsity %5.1f%%  |grad| %.3g  neg mean %.3g p01 %.3g  <-1 %.2f%%  alpha %s\n",
                l->layer, sl_layer_type_name(l->type), (long long)l->dead, (long long)l->units,
                100.0 * l->dead_frac, (long long)l->died, (long long)l->revived,
                100.0 * l->sparsity, l->grad_mean_abs, l->neg_mean, l->neg_p01,
                100.0 * l->below_minus1, alpha_text(l, alpha, sizeof alpha));
    }
    fflush(out);
}

/* ---- gnuplot ------------------------------------------------------------- */

int cli_gnuplot(const char *script)
{
    char cmd[1200];
    if (system("command -v gnuplot > /dev/null 2>&1") != 0) {
        fprintf(stderr, "slope: gnuplot not found (Debian: apt-get install gnuplot-nox); "
                        "plots not drawn, their data and script are in %s\n", script);
        return 0;
    }
    /* Single quotes keep the shell off the path; a quote inside it would end them. */
    int n = strchr(script, '\'') ? -1 : snprintf(cmd, sizeof cmd, "gnuplot '%s'", script);
    if (n < 0 || n >= (int)sizeof cmd) {
        fprintf(stderr, "slope: cannot run gnuplot on %s (a quote in the path, or too long)\n",
                script);
        return -1;
    }
    fflush(stdout);
    if (system(cmd) != 0) {
        fprintf(stderr, "slope: gnuplot failed on %s\n", script);
        return -1;
    }
    return 1;
}
