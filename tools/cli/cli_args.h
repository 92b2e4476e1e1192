/*
 * cli_args.h - every command's flags as one table: parsing (--flag VALUE or
 * --flag=VALUE), "did you mean" for a mistyped flag, and the help text, which
 * is printed from the same rows so it cannot list a flag that does not exist.
 */
#ifndef SLOPE_CLI_ARGS_H
#define SLOPE_CLI_ARGS_H

#include <stddef.h>

typedef enum cli_kind {
    CLI_BOOL,   /* int *: set to 1; takes no value */
    CLI_STR,    /* const char **: the value */
    CLI_INT,    /* int *: an integer in [min, max] */
    CLI_PARSE,  /* parse(value, dest): 1 ok, 0 bad (the flag and value are reported) */
    CLI_SET,    /* cli_config_args *: --set PATH=VALUE, repeatable */
    CLI_EPOCHS, /* cli_config_args *: --epochs N becomes the override train.epochs=N */
    CLI_THREADS /* cli_config_args *: --threads N */
} cli_kind;

typedef struct cli_flag {
    const char *name;  /* "--checkpoint" */
    const char *value; /* what the value is, for the help ("FILE"); NULL for CLI_BOOL */
    cli_kind kind;
    void *dest;
    long min, max; /* CLI_INT */
    int (*parse)(const char *value, void *dest);
    const char *help; /* lines after the first are indented under it */
} cli_flag;

/* The flags every command that reads a CONFIG takes. */
#define CLI_CONFIG_FLAGS(args)                                                                   \
    {"--set", "PATH=VALUE", CLI_SET, (args), 0, 0, NULL,                                         \
     "override a config key, e.g. --set optimizer.lr=0.1; VALUE null\n"                         \
     "removes the key (repeatable)"},                                                            \
    {"--epochs", "N", CLI_EPOCHS, (args), 0, 0, NULL, "train N epochs (overrides train.epochs)"}, \
    {"--threads", "N", CLI_THREADS, (args), 0, 0, NULL,                                          \
     "slope's worker threads, which split products, convolutions and\n"                        \
     "pooling; OpenBLAS then runs on one (overrides train.threads; default:\n"                 \
     "OMP_NUM_THREADS, else the CPUs available)"}

typedef struct cli_command {
    const char *name;  /* "train" */
    const char *usage; /* after "slope train ": "CONFIG [options]" */
    const char *about; /* the paragraph before the flags, or NULL */
    const char *notes; /* the paragraph after them, or NULL */
    void (*more_help)(void); /* prints more after the notes, or NULL */
    const cli_flag *flags;
    size_t n_flags;
    const char *usage_arg;   /* "CONFIG": the arguments that are not flags (one at least), or
                              * NULL when none is required */
    const char **positional; /* where they go */
    int max_positional;
    int *n_positional; /* how many came, or NULL */
} cli_command;

/* Parses argv[1..argc-1].  Returns 0 when parsed, -1 when --help was asked for and printed,
 * EXIT_USAGE for a bad command line (the message printed, with "did you mean" for a flag
 * that is near one of the table's). */
int cli_parse(const cli_command *cmd, int argc, char **argv);
void cli_print_help(const cli_command *cmd);
/* Of names, the one within a small edit distance of word (or that word begins), or NULL. */
const char *cli_nearest(const char *word, const char *const *names, size_t n);

#endif
