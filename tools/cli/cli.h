/* cli.h - what the `slope` command's files share. */
#ifndef SLOPE_CLI_H
#define SLOPE_CLI_H

#include <stdio.h>

#include "slope/config.h"
#include "slope/slope.h"
#include "slope/stats.h"
#include "slope/run.h"
#include "slope/train.h"

/* Exit codes (documented in README and `slope help`). */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_GENERIC = 1, /* an unexpected internal failure */
    EXIT_USAGE = 2,           /* bad command line */
    EXIT_INPUT = 3,           /* bad config, data or checkpoint file */
    EXIT_NUMERIC = 4,         /* NaN/Inf during training */
    EXIT_IO = 5,              /* could not write an output file */
    EXIT_NOMEM = 6,           /* out of memory: the data budget, ulimit -v, the machine */
    EXIT_INTERRUPTED = 130,   /* SIGINT: checkpoint saved, then stopped */
    EXIT_TERMINATED = 143     /* SIGTERM: the same */
};

/* The exit code for a library status. */
int cli_exit_code(sl_status st);
/* Prints "slope: <message>" to stderr and returns the exit code for err. */
int cli_fail(const sl_error *err);
/* Prints "slope <cmd>: <message>" for a usage error and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints the activations' short forms (leaky_relu[:alpha], ...) from the layer table. */
void cli_print_activation_forms(FILE *out, const char *indent);

/* What subcommands that take a CONFIG share: its path, --set k=v (repeatable), --epochs N,
 * --threads N (CLI_CONFIG_FLAGS in cli_args.h). */
typedef struct cli_config_args {
    const char *path;
    const char *overrides[64];
    size_t n_overrides;
    char epochs_override[64];
    int threads;
} cli_config_args;

/* Loads the config and sets the threads: --threads, else train.threads, else
 * sl_default_threads(). */
sl_config *cli_load_config(const cli_config_args *a, sl_error *err);
/* sl_run_options.threads for `slope train`: --threads, else SL_RUN_THREADS_AUTO (0 under
 * mpirun, where every rank runs on one thread). */
int cli_run_threads(const cli_config_args *a);

/* The last report: one line per activation layer (cli_stats.c), after a line saying when
 * it was taken when own_line (a report not printed under its epoch's line). */
void cli_stats_print(FILE *out, const sl_stats *s, int own_line);
/* Runs `gnuplot script`: 1 done, 0 gnuplot is not installed (says so), -1 it failed (says so). */
int cli_gnuplot(const char *script);

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_born_dead(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_predict(int argc, char **argv);

#endif
