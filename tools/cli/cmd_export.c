/* cmd_export.c - `slope export CHECKPOINT -o OUT.safetensors [--config C]`. */
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "slope/export_model.h"

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *config = NULL;
    const cli_flag flags[] = {
        {"-o", "FILE", CLI_STR, &out, 0, 0, NULL, "the safetensors file to write"},
        {"--config", "CONFIG", CLI_STR, &config, 0, 0, NULL,
         "the model's config (default: the one the checkpoint stores)"}};
    const cli_command cmd = {
        "export", "CHECKPOINT -o OUT.safetensors [--config C]",
        "Writes the weights only, named as torch.nn.Sequential of the same layers names\n"
        "them; the config is the checkpoint's own (`slope train` stores it) or --config.",
        NULL, NULL, flags, sizeof flags / sizeof flags[0], "CHECKPOINT", &ckpt, 1, NULL};
    int rc = cli_parse(&cmd, argc, argv);
    if (rc == 0 && !out)
        rc = cli_usage_error("export", "give -o FILE");
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    sl_model *m = sl_checkpoint_model(ckpt, config, NULL, &err);
    if (m && sl_export_torch(m, out, &err) == SL_OK)
        printf("%s: the weights, named for torch.nn.Sequential\n", out);
    sl_model_free(m);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}
