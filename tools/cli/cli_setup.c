/* cli_setup.c - from a config to datasets, a model and training options. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "slope/dist.h"

int cli_exit_code(sl_status st)
{
    switch (st) {
    case SL_OK: return EXIT_OK;
    case SL_ERR_CONFIG:
    case SL_ERR_FORMAT:
    case SL_ERR_SHAPE:
    case SL_ERR_INVALID:
    case SL_ERR_UNSUPPORTED: case SL_ERR_READ: return EXIT_INPUT; /* READ: an unreadable input */
    case SL_ERR_NOMEM: return EXIT_NOMEM; /* past the data budget, ulimit -v or the machine */
    case SL_ERR_NUMERIC: return EXIT_NUMERIC;
    case SL_ERR_IO: return EXIT_IO;
    default: return EXIT_FAILURE_GENERIC;
    }
}

int cli_fail(const sl_error *err)
{
    if (sl_dist_rank() == 0) /* under MPI every rank holds the same agreed error */
        fprintf(stderr, "slope: %s\n", err->message[0] ? err->message : sl_status_name(err->status));
    return cli_exit_code(err->status);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "slope %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see `slope %s --help`)\n", cmd);
    va_end(ap);
    return EXIT_USAGE;
}

sl_config *cli_load_config(const cli_config_args *a, sl_error *err)
{
    sl_config *cfg = sl_config_load(a->path, a->overrides, a->n_overrides, err);
    if (!cfg)
        return NULL;
    int threads = a->threads ? a->threads : cfg->train.threads;
    sl_set_num_threads(threads > 0 ? threads : sl_default_threads());
    return cfg;
}

int cli_run_threads(const cli_config_args *a)
{
    if (a->threads)
        return a->threads;
    /* Under mpirun each rank already runs on one thread (cmd_train). */
    return sl_dist_size() > 1 ? 0 : SL_RUN_THREADS_AUTO;
}

void cli_print_activation_forms(FILE *out, const char *indent)
{
    const char *names[64];
    size_t n = sl_layer_activation_names(names, 64);
    fprintf(out, "%sactivations:", indent);
    size_t col = strlen(indent) + 12;
    for (size_t i = 0; i < n && i < 64; i++) {
        char form[96];
        sl_layer_short_form(sl_layer_def_find(names[i])->type, form, sizeof form);
        if (col + strlen(form) + 2 > 92) {
            fprintf(out, "\n%s ", indent);
            col = strlen(indent) + 1;
        }
        fprintf(out, " %s%s", form, i + 1 < n ? "," : "\n");
        col += strlen(form) + 2;
    }
}
