/* cmd_predict.c - `slope predict [CONFIG] --checkpoint FILE INPUT... [-o OUT.csv] [--logits] [--top K]`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

static int run(const char *ckpt, const char *config, const char **in, size_t n_in,
               const char *out, int logits, size_t top)
{
    sl_error err = {0};
    sl_predictor *p = sl_predictor_open(ckpt, config, NULL, &err);
    sl_dataset *ds = p ? sl_predict_load_inputs(sl_predictor_model(p), in, n_in, &err) : NULL;
    int64_t n = sl_dataset_count(ds), k = sl_predictor_classes(p);
    float *v = malloc((size_t)(n * k + n + 1) * sizeof *v); /* values, then classes */
    int32_t *cls = v ? (int32_t *)(v + n * k) : NULL;
    if (ds && !v)
        sl_error_set(&err, SL_ERR_NOMEM, "out of memory for %lld predictions", (long long)n);
    else if (ds && sl_predict_dataset(sl_predictor_model(p), ds, 256, v, cls, &err) == SL_OK) {
        if (!logits)
            sl_softmax_rows(v, v, n, k);
        if (out && sl_predict_write_csv(out, v, cls, n, k, logits, &err) == SL_OK)
            printf("%s: %lld predictions\n", out, (long long)n);
        else if (!out)
            sl_predict_print(stdout, p, in, n_in, v, cls, n, top, &err);
    }
    free(v);
    sl_dataset_free(ds);
    sl_predictor_free(p);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}

int cmd_predict(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, **in = calloc((size_t)argc, sizeof *in);
    int logits = 0, top = 0, n = 0;
    const cli_flag flags[] = {
        {"--checkpoint", "FILE", CLI_STR, &ckpt, 0, 0, NULL, "the model's weights"},
        {"-o", "OUT.csv", CLI_STR, &out, 0, 0, NULL, "write CSV index,class,p0,... instead"},
        {"--logits", NULL, CLI_BOOL, &logits, 0, 0, NULL, "logits instead of probabilities"},
        {"--top", "K", CLI_INT, &top, 1, 1000000, NULL, "print the K most likely classes"}};
    const cli_command cmd = {
        "predict", "[CONFIG.json] --checkpoint FILE INPUT... [options]",
        "The class and probabilities of each input: one IDX images file, one CSV (rows of the\n"
        "model's input size, or a label and them) or PNG/PGM images of its size, raw (0-255\n"
        "pixels: the checkpoint's normalisation is applied).  CONFIG: for a checkpoint\n"
        "without its own.",
        NULL, NULL, flags, sizeof flags / sizeof flags[0], "INPUT", in, argc, &n};
    int rc = in ? cli_parse(&cmd, argc, argv) : EXIT_NOMEM;
    size_t len = n > 0 ? strlen(in[0]) : 0, first = len > 5 && !strcmp(in[0] + len - 5, ".json");
    if (rc == 0 && !ckpt)
        rc = cli_usage_error("predict", "missing --checkpoint FILE");
    else if (rc == 0 && (size_t)n <= first)
        rc = cli_usage_error("predict", "give an INPUT file");
    if (rc == 0) /* a config is JSON, which no input is */
        rc = run(ckpt, first ? in[0] : NULL, in + first, (size_t)n - first, out, logits,
                 (size_t)top);
    free(in);
    return rc < 0 ? EXIT_OK : rc;
}
