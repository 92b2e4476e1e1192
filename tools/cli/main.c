/* main.c - the `slope` command: dispatches to the subcommands. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

static void print_help(FILE *out)
{
    fprintf(out,
            "slope %s - train neural networks from JSON configs, with Leaky ReLU and PReLU\n\n"
            "usage: slope <command> [options]\n\n"
            "commands:\n"
            "  train CONFIG     train the model a config describes\n"
            "  eval CONFIG      evaluate a checkpoint on the test split (--checkpoint FILE)\n"
            "  summary CONFIG   per layer: type, output shape, parameters, FLOPs\n"
            "  compare CONFIG   dying neurons: the config once per activation (--act LIST)\n"
            "  export CKPT      for torch.nn.Sequential (-o FILE) or as ONNX (--onnx FILE)\n"
            "  predict INPUT... classes and probabilities of images or rows (--checkpoint FILE)\n"
            "  born-dead        probability that a deep narrow ReLU net is dead at init\n"
            "  help             this text; `slope <command> --help` for a command's options\n"
            "  --version        the version\n\n"
            "exit codes: 0 ok, 1 internal error, 2 usage, 3 bad config/data/checkpoint,\n"
            "            4 NaN or Inf in training, 5 could not write a file, 6 out of memory,\n"
            "            130 interrupted (SIGINT), 143 terminated (SIGTERM)\n",
            sl_version());
}

int main(int argc, char **argv)
{
    /* Large blocks (the dataset's read buffers) go back to the system when freed instead of
     * staying in the heap: about 20 MiB less peak memory for the CNN. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    /* Past a file-size limit (ulimit -f) a write then fails with EFBIG, which the checkpoint
     * writer reports and cleans up after, instead of SIGXFSZ killing us mid-write. */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("slope %s\n", sl_version());
        return EXIT_OK;
    }
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "summary") == 0)
        return cmd_summary(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(argc - 1, argv + 1);
    if (strcmp(cmd, "export") == 0)
        return cmd_export(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "born-dead") == 0)
        return cmd_born_dead(argc - 1, argv + 1);
    static const char *const commands[] = {"train", "eval", "summary", "compare", "export",
                                            "predict", "born-dead", "help"};
    const char *near = cli_nearest(cmd, commands, sizeof commands / sizeof commands[0]);
    if (near)
        fprintf(stderr, "slope: unknown command \"%s\"; did you mean %s? (see `slope help`)\n",
                cmd, near);
    else
        fprintf(stderr, "slope: unknown command \"%s\" (see `slope help`)\n", cmd);
    return EXIT_USAGE;
}
