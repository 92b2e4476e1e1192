/*
 * cli_stats.c - dying-neuron statistics for the commands: a report as text
 * lines, and running gnuplot on a script a command wrote.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_stats_print(FILE *out, const sl_stats *s, int own_line)
{
    char line[256];
    if (own_line && sl_stats_step(s) == 0) /* not under an epoch's line: say when it was taken */
        fprintf(out, "stats at init (probe %lld examples):\n", (long long)sl_stats_probe_count(s));
    else if (own_line)
        fprintf(out, "stats at step %lld:\n", (long long)sl_stats_step(s));
    for (size_t i = 0; i < sl_stats_num_layers(s); i++)
        fprintf(out, "  %s\n", sl_stats_summary_line(s, i, line, sizeof line));
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
