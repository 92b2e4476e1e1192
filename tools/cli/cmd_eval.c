/* cmd_eval.c - `slope eval CONFIG --checkpoint FILE` and `slope summary CONFIG`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

static void print_confusion(const sl_dataset *ds, const int64_t *conf, int64_t classes)
{
    printf("\nper-class accuracy:\n");
    for (int64_t c = 0; c < classes; c++) {
        int64_t total = 0;
        for (int64_t p = 0; p < classes; p++)
            total += conf[c * classes + p];
        const char *name = sl_dataset_class_name(ds, (int)c);
        printf("  %3lld %-14s %6.2f%%  (%lld examples)\n", (long long)c, name ? name : "",
               total ? 100.0 * (double)conf[c * classes + c] / (double)total : 0.0,
               (long long)total);
    }
    printf("\nconfusion matrix (rows: label, columns: prediction):\n     ");
    for (int64_t p = 0; p < classes; p++)
        printf("%6lld", (long long)p);
    printf("\n");
    for (int64_t c = 0; c < classes; c++) {
        printf("%4lld ", (long long)c);
        for (int64_t p = 0; p < classes; p++)
            printf("%6lld", (long long)conf[c * classes + p]);
        printf("\n");
    }
}

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
            print_confusion(ds, confusion, out[0]);
        }
    }
    rc = err.status == SL_OK ? EXIT_OK : cli_fail(&err);
    free(confusion);
    sl_model_free(model);
    sl_run_data_close(&data);
    sl_config_free(cfg);
    return rc;
}

static void shape_text(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? "x%lld" : "%lld",
                                 (long long)shape[d]);
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
    int64_t shape[4], total_params = 0, total_macs = 0;
    char text[64];
    shape_text(shape, sl_model_layer_shape(m, -1, shape), text, sizeof text);
    printf("%s: input %s\n\n", cfg->name, text);
    printf("%-4s %-12s %-14s %12s %14s\n", "#", "layer", "output", "parameters", "MACs/example");
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        shape_text(shape, sl_model_layer_shape(m, (int)i, shape), text, sizeof text);
        int64_t params = sl_model_layer_param_count(m, i), macs = sl_model_layer_flops(m, i);
        printf("%-4zu %-12s %-14s %12lld %14lld\n", i, sl_layer_type_name(sl_model_layer(m, i)->type),
               text, (long long)params, (long long)macs);
        total_params += params; /* at most 2^31 in all: sl_model_add checks */
        total_macs = macs > INT64_MAX - total_macs ? INT64_MAX : total_macs + macs;
    }
    printf("\ntotal: %lld parameters (%.2f MiB), %s%lld multiply-adds per example "
           "(%.2f MFLOP forward)\n",
           (long long)total_params, (double)total_params * 4.0 / 1048576.0,
           total_macs == INT64_MAX ? "at least " : "", (long long)total_macs,
           2.0 * (double)total_macs / 1e6);
    sl_model_free(m);
    sl_config_free(cfg);
    return EXIT_OK;
}
