/*
 * report_text.c - what `slope summary` and `slope eval` print, as library calls
 * (slope/train.h): a model's layer table and an evaluation's per-class accuracy
 * and confusion matrix.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "slope/data.h"
#include "slope/train.h"

/* "1x28x28" */
static void shape_text(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int d = 0; d < ndim && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, d ? "x%lld" : "%lld",
                                 (long long)shape[d]);
}

/* How many blocks hold entry i. */
static int layer_depth(const sl_model *m, size_t i)
{
    int depth = 0;
    for (int p = sl_model_layer_parent(m, i); p >= 0; p = sl_model_layer_parent(m, (size_t)p))
        depth++;
    return depth;
}

sl_status sl_model_print_summary(FILE *out, const sl_model *m, const char *name, sl_error *err)
{
    SL_GUARD(out, err);
    SL_GUARD(m, err);
    int64_t shape[4], total_params = 0, total_macs = 0;
    char text[64];
    shape_text(shape, sl_model_layer_shape(m, -1, shape), text, sizeof text);
    fprintf(out, "%s: input %s\n\n", name ? name : "model", text);
    int name_w = 8, type_w = 12; /* the widest name and (indented) type */
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        int n = (int)strlen(sl_model_layer_name(m, i)), t = 2 * layer_depth(m, i) + 12;
        name_w = n > name_w ? n : name_w;
        type_w = t > type_w ? t : type_w;
    }
    fprintf(out, "%-4s %-*s %-*s %-14s %12s %14s\n", "#", name_w, "name", type_w, "layer",
            "output", "parameters", "MACs/example");
    for (size_t i = 0; i < sl_model_num_layers(m); i++) {
        shape_text(shape, sl_model_layer_shape(m, (int)i, shape), text, sizeof text);
        int64_t params = sl_model_layer_param_count(m, i), macs = sl_model_layer_flops(m, i);
        char type[64]; /* a block's layers are indented under it */
        snprintf(type, sizeof type, "%*s%s", 2 * layer_depth(m, i), "",
                 sl_layer_type_name(sl_model_layer(m, i)->type));
        fprintf(out, "%-4zu %-*s %-*s %-14s %12lld %14lld\n", i, name_w,
                sl_model_layer_name(m, i), type_w, type, text, (long long)params,
                (long long)macs);
        total_params += params; /* at most 2^31 in all: sl_model_add checks */
        total_macs = macs > INT64_MAX - total_macs ? INT64_MAX : total_macs + macs;
    }
    fprintf(out, "\ntotal: %lld parameters (%.2f MiB), %s%lld multiply-adds per example "
                 "(%.2f MFLOP forward)\n",
            (long long)total_params, (double)total_params * 4.0 / 1048576.0,
            total_macs == INT64_MAX ? "at least " : "", (long long)total_macs,
            2.0 * (double)total_macs / 1e6);
    return SL_OK;
}

sl_status sl_eval_print_confusion(FILE *out, const sl_dataset *ds, const int64_t *confusion,
                                  int64_t classes, sl_error *err)
{
    SL_GUARD(out, err);
    SL_GUARD(confusion, err);
    if (classes < 1 || classes > 65536)
        return sl_error_set(err, SL_ERR_INVALID, "sl_eval_print_confusion: %lld classes",
                            (long long)classes);
    fprintf(out, "\nper-class accuracy:\n");
    for (int64_t c = 0; c < classes; c++) {
        int64_t total = 0;
        for (int64_t p = 0; p < classes; p++)
            total += confusion[c * classes + p];
        const char *name = ds ? sl_dataset_class_name(ds, (int)c) : NULL;
        fprintf(out, "  %3lld %-14s %6.2f%%  (%lld examples)\n", (long long)c, name ? name : "",
                total ? 100.0 * (double)confusion[c * classes + c] / (double)total : 0.0,
                (long long)total);
    }
    fprintf(out, "\nconfusion matrix (rows: label, columns: prediction):\n     ");
    for (int64_t p = 0; p < classes; p++)
        fprintf(out, "%6lld", (long long)p);
    fprintf(out, "\n");
    for (int64_t c = 0; c < classes; c++) {
        fprintf(out, "%4lld ", (long long)c);
        for (int64_t p = 0; p < classes; p++)
            fprintf(out, "%6lld", (long long)confusion[c * classes + p]);
        fprintf(out, "\n");
    }
    return SL_OK;
}
