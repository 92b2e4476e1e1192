/* cmd_eval.c - `slope eval CONFIG --checkpoint FILE` and `slope summary CONFIG`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

int cmd_eval(int argc, char **argv)
{
    cli_config_args a = {0};
    const char *checkpoint = NULL;
    const cli_flag flags[] = {
        {"--checkpoint", "FILE", CLI_STR, &checkpoint, 0, 0, NULL, "the weights to evaluate"},
        CLI_CONFIG_FLAGS(&a)};
    const cli_command cmd = {
        "eval", "CONFIG --checkpoint FILE [options]",
        "Evaluates the checkpoint on the test split (the validation split when there is no\n"
        "test split): loss, accuracy, per-class accuracy and the confusion matrix.",
        NULL, NULL, flags, sizeof flags / sizeof flags[0], "CONFIG", &a.path, 1, NULL};
    int rc = cli_parse(&cmd, argc, argv);
    if (rc == 0 && !checkpoint)
        rc = cli_usage_error("eval", "missing --checkpoint FILE");
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    sl_run_data data = {0};
    sl_model *model = NULL;
    int64_t *confusion = NULL;
    sl_config *cfg = cli_load_config(&a, &err);
    if (cfg && sl_run_data_open(cfg, sl_datasets_dir(), &data, &err) == SL_OK)
        model = sl_run_build_model(cfg, &err);
    if (model && sl_model_load(model, checkpoint, &err) == SL_OK) {
        const sl_dataset *ds = data.test ? data.test : data.val ? data.val : data.train;
        int64_t out[4];
        sl_model_output_shape(model, out);
        confusion = calloc((size_t)(out[0] * out[0]), sizeof *confusion);
        sl_eval_result res = {.confusion = confusion};
        if (!confusion)
            sl_error_set(&err, SL_ERR_NOMEM, "out of memory");
        else if (sl_evaluate(model, ds, 256, cfg->loss, &res, &err) == SL_OK) {
            printf("%s on %s: loss %.4f  accuracy %.2f%% (%lld examples)\n", checkpoint,
                   sl_dataset_name(ds), res.loss, 100.0 * res.accuracy, (long long)res.samples);
            sl_eval_print_confusion(stdout, ds, confusion, out[0], &err);
        }
    }
    rc = err.status == SL_OK ? EXIT_OK : cli_fail(&err);
    free(confusion);
    sl_model_free(model);
    sl_run_data_close(&data);
    sl_config_free(cfg);
    return rc;
}

int cmd_summary(int argc, char **argv)
{
    cli_config_args a = {0};
    const cli_flag flags[] = {CLI_CONFIG_FLAGS(&a)};
    const cli_command cmd = {
        "summary", "CONFIG [options]",
        "Prints each layer's type, output shape (per example), parameter count and\n"
        "multiply-adds per example, then the totals.  Reads no data.",
        NULL, NULL, flags, sizeof flags / sizeof flags[0], "CONFIG", &a.path, 1, NULL};
    int rc = cli_parse(&cmd, argc, argv);
    if (rc != 0)
        return rc < 0 ? EXIT_OK : rc;
    sl_error err = {0};
    sl_config *cfg = cli_load_config(&a, &err);
    sl_model *m = cfg ? sl_config_build_model(cfg, &err) : NULL;
    if (!m) {
        rc = cli_fail(&err);
        sl_config_free(cfg);
        return rc;
    }
    rc = sl_model_print_summary(stdout, m, cfg->name, &err) == SL_OK ? EXIT_OK : cli_fail(&err);
    sl_model_free(m);
    sl_config_free(cfg);
    return rc;
}
