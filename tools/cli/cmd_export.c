/* cmd_export.c - `slope export CHECKPOINT [-o OUT.safetensors] [--onnx OUT.onnx] [--config C]`. */
#include <string.h>

#include "cli.h"
#include "slope/export_model.h"

static void export_help(void)
{
    printf("usage: slope export CHECKPOINT [-o OUT.safetensors] [--onnx OUT.onnx] [--config C]\n\n"
           "-o writes the weights only, named as torch.nn.Sequential of the same layers names\n"
           "them; --onnx the model as ONNX (opset 13), from raw inputs to logits.  The config\n"
           "is the checkpoint's own (`slope train` stores it) or --config.\n");
}

int cmd_export(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *config = NULL, *onnx = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **slot = strcmp(o, "-o") == 0 ? &out : strcmp(o, "--config") == 0 ? &config
                            : strcmp(o, "--onnx") == 0 ? &onnx : NULL;
        if (slot && i + 1 >= argc)
            return cli_usage_error("export", "%s needs a file", o);
        if (slot) {
            *slot = argv[++i];
        } else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            export_help();
            return EXIT_OK;
        } else if (o[0] == '-' || ckpt) {
            return cli_usage_error("export", "unexpected argument %s", o);
        } else
            ckpt = o;
    }
    if (!ckpt || (!out && !onnx))
        return cli_usage_error("export", "%s", ckpt ? "give -o or --onnx" : "missing CHECKPOINT");
    sl_error err = {0};
    sl_model *m = sl_checkpoint_model(ckpt, config, NULL, &err);
    if (m && out && sl_export_torch(m, out, &err) == SL_OK)
        printf("%s: the weights, named for torch.nn.Sequential\n", out);
    if (m && onnx && err.status == SL_OK && sl_export_onnx(m, NULL, onnx, &err) == SL_OK)
        printf("%s: the model as ONNX, from raw inputs to logits\n", onnx);
    sl_model_free(m);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}
