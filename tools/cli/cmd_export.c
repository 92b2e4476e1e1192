/* cmd_export.c - `slope export CHECKPOINT [-o OUT.safetensors] [--onnx OUT.onnx] [--config C]`. */
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "slope/export_model.h"

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *config = NULL, *onnx = NULL;
    const cli_flag flags[] = {
        {"-o", "FILE", CLI_STR, &out, 0, 0, NULL, "the weights only, named for torch.nn.Sequential"},
        {"--onnx", "FILE", CLI_STR, &onnx, 0, 0, NULL,
         "the model as ONNX (opset 13), from raw inputs to logits"},
        {"--config", "CONFIG", CLI_STR, &config, 0, 0, NULL,
         "the model's config (default: the one the checkpoint stores)"}};
    const cli_command cmd = {
        "export", "CHECKPOINT [-o OUT.safetensors] [--onnx OUT.onnx] [--config C]",
        "Writes the checkpoint's model for PyTorch (-o: the weights, named as\n"
        "torch.nn.Sequential of the same layers names them) or as ONNX (--onnx), or both.",
        NULL, NULL, flags, sizeof flags / sizeof flags[0], "CHECKPOINT", &ckpt, 1, NULL};
    int rc = cli_parse(&cmd, argc, argv);
    if (rc == 0 && !out && !onnx)
        rc = cli_usage_error("export", "give -o FILE or --onnx FILE");
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    sl_model *m = sl_checkpoint_model(ckpt, config, NULL, &err);
    if (m && out && sl_export_torch(m, out, &err) == SL_OK)
        printf("%s: the weights, named for torch.nn.Sequential\n", out);
    if (m && onnx && err.status == SL_OK && sl_export_onnx(m, NULL, onnx, &err) == SL_OK)
        printf("%s: the model as ONNX, from raw inputs to logits\n", onnx);
    sl_model_free(m);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}
