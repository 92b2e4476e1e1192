/* cli_args.c - parsing a command line against its table of flags (cli_args.h). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

/* Edit distance (insertions, deletions, substitutions, adjacent swaps), capped: names are
 * short, and only distances up to 2 matter. */
static int distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > 40 || m > 40)
        return 99;
    int d[41][41];
    for (size_t i = 0; i <= n; i++)
        for (size_t j = 0; j <= m; j++) {
            if (i == 0 || j == 0) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                best = d[i - 2][j - 2] + 1 < best ? d[i - 2][j - 2] + 1 : best;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_nearest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t len = strlen(word);
    int best_d = len > 5 ? 3 : 2;
    for (size_t i = 0; i < n; i++) {
        int d = distance(word, names[i]);
        if (len > 3 && strncmp(names[i], word, len) == 0)
            d = 1; /* --check for --checkpoint */
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best;
}

static int unknown_flag(const cli_command *cmd, const char *opt)
{
    const char *names[65];
    size_t n = 0;
    for (; n < cmd->n_flags && n < 64; n++)
        names[n] = cmd->flags[n].name;
    names[n++] = "--help";
    const char *near = cli_nearest(opt, names, n);
    if (near)
        return cli_usage_error(cmd->name, "unknown option %s; did you mean %s?", opt, near);
    return cli_usage_error(cmd->name, "unknown option %s", opt);
}

static int add_override(const cli_command *cmd, cli_config_args *a, const char *text)
{
    if (a->n_overrides == sizeof a->overrides / sizeof a->overrides[0])
        return cli_usage_error(cmd->name, "at most 64 overrides");
    a->overrides[a->n_overrides++] = text;
    return 0;
}

static int parse_count(const cli_command *cmd, const cli_flag *f, const char *v, long min,
                       long max, long *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end || n < min || n > max)
        return cli_usage_error(cmd->name, "%s takes an integer from %ld to %ld, got \"%s\"",
                               f->name, min, max, v);
    *out = n;
    return 0;
}

/* Stores the value v of flag f; 0, or EXIT_USAGE (printed). */
static int store(const cli_command *cmd, const cli_flag *f, const char *v)
{
    cli_config_args *a = f->dest;
    long n = 0;
    switch (f->kind) {
    case CLI_BOOL: *(int *)f->dest = 1; return 0;
    case CLI_STR: *(const char **)f->dest = v; return 0;
    case CLI_INT:
        if (parse_count(cmd, f, v, f->min, f->max, &n))
            return EXIT_USAGE;
        *(int *)f->dest = (int)n;
        return 0;
    case CLI_PARSE:
        return f->parse(v, f->dest) ? 0
                                    : cli_usage_error(cmd->name, "%s: bad value \"%s\"", f->name, v);
    case CLI_SET:
        if (!strchr(v, '=') || v[0] == '=')
            return cli_usage_error(cmd->name, "--set takes PATH=VALUE, got \"%s\"", v);
        return add_override(cmd, a, v);
    case CLI_EPOCHS:
        if (parse_count(cmd, f, v, 1, 1000000, &n))
            return EXIT_USAGE;
        snprintf(a->epochs_override, sizeof a->epochs_override, "train.epochs=%ld", n);
        return add_override(cmd, a, a->epochs_override);
    case CLI_THREADS:
        if (parse_count(cmd, f, v, 1, 4096, &n))
            return EXIT_USAGE;
        a->threads = (int)n;
        return 0;
    }
    return cli_usage_error(cmd->name, "%s: not handled", f->name);
}

static const cli_flag *find_flag(const cli_command *cmd, const char *opt, size_t len)
{
    for (size_t i = 0; i < cmd->n_flags; i++)
        if (strlen(cmd->flags[i].name) == len && strncmp(cmd->flags[i].name, opt, len) == 0)
            return &cmd->flags[i];
    return NULL;
}

/* One flag at argv[*i] (its value next, or after '='); 0, or EXIT_USAGE. */
static int parse_flag(const cli_command *cmd, int argc, char **argv, int *i)
{
    const char *opt = argv[*i], *eq = strchr(opt, '=');
    const cli_flag *f = find_flag(cmd, opt, eq ? (size_t)(eq - opt) : strlen(opt));
    if (!f)
        return unknown_flag(cmd, opt);
    if (f->kind == CLI_BOOL)
        return eq ? cli_usage_error(cmd->name, "%s takes no value", f->name) : store(cmd, f, NULL);
    if (eq)
        return store(cmd, f, eq + 1);
    if (*i + 1 >= argc)
        return cli_usage_error(cmd->name, "%s needs %s", f->name, f->value ? f->value : "a value");
    return store(cmd, f, argv[++*i]);
}

static int add_positional(const cli_command *cmd, int *count, const char *arg)
{
    if (*count >= cmd->max_positional) {
        if (cmd->max_positional == 1)
            return cli_usage_error(cmd->name, "one %s only (got %s and %s)", cmd->usage_arg,
                                   cmd->positional[0], arg);
        return cli_usage_error(cmd->name, "unexpected argument %s", arg);
    }
    cmd->positional[(*count)++] = arg;
    return 0;
}

int cli_parse(const cli_command *cmd, int argc, char **argv)
{
    int count = 0, rc = 0, flags_done = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *arg = argv[i];
        if (!flags_done && (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)) {
            cli_print_help(cmd);
            return -1;
        }
        if (!flags_done && strcmp(arg, "--") == 0)
            flags_done = 1; /* what follows is a file, even if it starts with '-' */
        else if (!flags_done && arg[0] == '-' && arg[1] != '\0')
            rc = parse_flag(cmd, argc, argv, &i);
        else
            rc = add_positional(cmd, &count, arg);
    }
    if (cmd->n_positional)
        *cmd->n_positional = count;
    if (rc == 0 && count == 0 && cmd->usage_arg)
        return cli_usage_error(cmd->name, "missing %s", cmd->usage_arg);
    return rc;
}

/* "  --flag VALUE        help", continuation lines of the help under its first. */
static void print_flag(const cli_flag *f)
{
    char head[64];
    snprintf(head, sizeof head, "%s%s%s", f->name, f->value ? " " : "", f->value ? f->value : "");
    const char *h = f->help;
    printf("  %-22s", head);
    if (strlen(head) > 22)
        printf("\n  %-22s", "");
    for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
        printf(" %.*s\n  %-22s", (int)(nl - h), h, "");
    printf(" %s\n", h);
}

void cli_print_help(const cli_command *cmd)
{
    printf("usage: slope %s %s\n\n", cmd->name, cmd->usage);
    if (cmd->about)
        printf("%s\n\n", cmd->about);
    for (size_t i = 0; i < cmd->n_flags; i++)
        print_flag(&cmd->flags[i]);
    if (cmd->notes)
        printf("\n%s\n", cmd->notes);
    if (cmd->more_help)
        cmd->more_help();
}
