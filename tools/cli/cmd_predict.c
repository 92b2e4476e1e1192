/* cmd_predict.c - `slope predict [CONFIG] --checkpoint FILE INPUT... [-o OUT.csv] [--logits] [--top K]`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void predict_help(void)
{
    printf("usage: slope predict [CONFIG.json] --checkpoint FILE INPUT... [-o OUT.csv] [--logits]\n"
           "       [--top K]\n\nThe class and probabilities of each input: one IDX images file, one\n"
           "CSV (rows of the model's input size, or a label and them) or PNG/PGM images of its size,\n"
           "raw (0-255 pixels: the checkpoint's normalisation is applied).  CONFIG: for a checkpoint\n"
           "without its own.  -o: CSV index,class,p0,...; --logits: logits; --top K: K classes.\n");
}

static void print_rows(const sl_predictor *p, const char **in, size_t n_in, const float *v,
                       const int32_t *cls, int64_t n, size_t top, int32_t *order)
{
    int64_t k = sl_predictor_classes(p);
    char id[32];
    for (int64_t i = 0; i < n; i++) { /* one file an input: named by it, else by its index */
        const char *name = sl_predictor_class_name(p, cls[i]);
        snprintf(id, sizeof id, "%lld", (long long)i);
        printf("%s: class %d%s%s%s ", (size_t)n == n_in ? in[i] : id, (int)cls[i],
               name ? " (" : "", name ? name : "", name ? ")" : "");
        for (size_t j = 0, m = sl_predict_top(v + i * k, k, order, top); j < m; j++) {
            const char *cn = sl_predictor_class_name(p, order[j]);
            snprintf(id, sizeof id, "%d", (int)order[j]);
            printf(" %s=%.4f", cn ? cn : id, (double)v[i * k + order[j]]);
        }
        printf("\n");
    }
}

static int run(const char *ckpt, const char *config, const char **in, size_t n_in,
               const char *out, int logits, size_t top)
{
    sl_error err = {0};
    sl_predictor *p = sl_predictor_open(ckpt, config, NULL, &err);
    sl_dataset *ds = p ? sl_predict_load_inputs(sl_predictor_model(p), in, n_in, &err) : NULL;
    int64_t n = sl_dataset_count(ds), k = sl_predictor_classes(p);
    float *v = malloc((size_t)(n * k + n + k + 1) * sizeof *v); /* values, classes, order */
    int32_t *cls = v ? (int32_t *)(v + n * k) : NULL;
    if (ds && !v)
        sl_error_set(&err, SL_ERR_NOMEM, "out of memory for %lld predictions", (long long)n);
    else if (ds && sl_predict_dataset(sl_predictor_model(p), ds, 256, v, cls, &err) == SL_OK) {
        if (!logits)
            sl_softmax_rows(v, v, n, k);
        if (out && sl_predict_write_csv(out, v, cls, n, k, logits, &err) == SL_OK)
            printf("%s: %lld predictions\n", out, (long long)n);
        else if (!out)
            print_rows(p, in, n_in, v, cls, n, top ? top : (size_t)k, cls + n);
    }
    free(v);
    sl_dataset_free(ds);
    sl_predictor_free(p);
    return err.status == SL_OK ? EXIT_OK : cli_fail(&err);
}

int cmd_predict(int argc, char **argv)
{
    const char *ckpt = NULL, *out = NULL, *config = NULL, *top_text = NULL, **in;
    size_t n_in = 0, len;
    int logits = 0, rc = (in = calloc((size_t)argc, sizeof *in)) ? -1 : EXIT_NOMEM;
    for (int i = 1; i < argc && rc < 0; i++) {
        const char *o = argv[i], **slot = !strcmp(o, "--checkpoint") ? &ckpt : !strcmp(o, "-o") ? &out
                                          : !strcmp(o, "--top") ? &top_text : NULL;
        if (slot && i + 1 >= argc)
            rc = cli_usage_error("predict", "%s needs a value", o);
        else if (slot)
            *slot = argv[++i];
        else if (!strcmp(o, "--logits"))
            logits = 1;
        else if (!strcmp(o, "--help") || !strcmp(o, "-h"))
            predict_help(), rc = EXIT_OK;
        else if (o[0] == '-')
            rc = cli_usage_error("predict", "unexpected argument %s", o);
        else if (!config && !n_in && (len = strlen(o)) > 5 && !strcmp(o + len - 5, ".json"))
            config = o; /* a config is JSON, which no input is */
        else
            in[n_in++] = o;
    }
    char *end = NULL;
    long top = top_text ? strtol(top_text, &end, 10) : 0;
    if (rc < 0 && (!ckpt || !n_in))
        rc = cli_usage_error("predict", "%s", ckpt ? "give an INPUT file" : "missing --checkpoint FILE");
    else if (rc < 0 && top_text && (top < 1 || *end))
        rc = cli_usage_error("predict", "--top takes a positive integer, not \"%s\"", top_text);
    if (rc < 0)
        rc = run(ckpt, config, in, n_in, out, logits, (size_t)top);
    free(in);
    return rc;
}
