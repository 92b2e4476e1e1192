/*
 * predict.c - a checkpoint opened for prediction, predictions over a whole dataset in
 * batches, probabilities and the top classes (slope/predict.h).  The inputs' readers
 * and the CSV writer are in predict_io.c.
 */
#include <math.h>
#include <string.h>

#include "alloc.h"
#include "data_internal.h"
#include "guard.h"
#include "nn_internal.h"
#include "slope/export_model.h"
#include "slope/graph.h"
#include "slope/predict.h"
#include "slope/run.h"
#include "train_internal.h"

struct sl_predictor {
    sl_model *model;
    int64_t classes;
    char **names; /* n_names class names from the descriptor, or NULL */
    int n_names;
};

/* The class names of the config's descriptor, when it has them and they fit the model. */
static void load_names(sl_predictor *p, const sl_config *cfg, const char *datasets_dir)
{
    char **names = NULL;
    int count = 0;
    if (!cfg->data.dataset)
        return;
    /* Best effort: the prediction reads nothing else of the dataset, so a descriptor that
     * is not there (slope run elsewhere) only costs the names. */
    if (sl_data_descriptor_names(datasets_dir ? datasets_dir : sl_datasets_dir(),
                                 cfg->data.dataset, &names, &count, NULL) == SL_OK &&
        names && count <= p->classes) {
        p->names = names;
        p->n_names = count;
        return;
    }
    sl_data_free_names(names, count);
}

sl_predictor *sl_predictor_open(const char *checkpoint, const char *config_path,
                                const char *datasets_dir, sl_error *err)
{
    SL_GUARD_NULL(checkpoint, err);
    sl_config *cfg = NULL;
    sl_model *m = sl_checkpoint_model(checkpoint, config_path, &cfg, err);
    if (!m)
        return NULL;
    int64_t out[4];
    sl_predictor *p = NULL;
    if (sl_model_output_shape(m, out) != 1)
        sl_error_set(err, SL_ERR_SHAPE, "%s: the model's output is not flat [classes]",
                     checkpoint);
    else if ((p = sl_calloc(1, sizeof *p)) == NULL)
        sl_error_set(err, SL_ERR_NOMEM, "%s: out of memory", checkpoint);
    if (!p) {
        sl_model_free(m);
        sl_config_free(cfg);
        return NULL;
    }
    p->model = m;
    p->classes = out[0];
    load_names(p, cfg, datasets_dir);
    sl_config_free(cfg);
    return p;
}

void sl_predictor_free(sl_predictor *p)
{
    if (!p)
        return;
    sl_model_free(p->model);
    sl_data_free_names(p->names, p->n_names);
    sl_free(p);
}

sl_model *sl_predictor_model(const sl_predictor *p)
{
    return p ? p->model : NULL;
}

int64_t sl_predictor_classes(const sl_predictor *p)
{
    return p ? p->classes : 0;
}

const char *sl_predictor_class_name(const sl_predictor *p, int64_t k)
{
    return p && k >= 0 && k < p->n_names ? p->names[k] : NULL;
}

/* ---- predictions ------------------------------------------------------------------------ */

/* One batch's buffers: the inputs, a view over them shaped [n, model input...], a graph. */
typedef struct predict_batch {
    float *x;
    sl_tensor *input;
    sl_graph *graph;
} predict_batch;

static sl_status batch_init(predict_batch *b, const sl_model *m, int64_t batch,
                            int64_t sample, sl_error *err)
{
    uint64_t floats = 0;
    memset(b, 0, sizeof *b);
    if (!sl_data_mul_ok((uint64_t)batch, (uint64_t)sample, SIZE_MAX / sizeof(float), &floats))
        return sl_error_set(err, SL_ERR_NOMEM, "a batch of %lld samples is too large",
                            (long long)batch);
    int64_t shape[5] = {batch};
    int ndim = sl_model_layer_shape(m, -1, shape + 1);
    b->x = sl_malloc((size_t)floats * sizeof(float));
    if (!b->x)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a batch of %lld samples",
                            (long long)batch);
    b->input = sl_tensor_wrap(b->x, ndim + 1, shape, err);
    b->graph = b->input ? sl_graph_new(0, err) : NULL;
    if (!b->graph)
        return err ? err->status : SL_ERR_NOMEM;
    sl_graph_set_grad_enabled(b->graph, 0);
    sl_graph_set_training(b->graph, 0);
    return SL_OK;
}

static void batch_free(predict_batch *b)
{
    sl_graph_free(b->graph);
    sl_tensor_free(b->input);
    sl_free(b->x);
}

static sl_status check_model_fit(const sl_model *m, const sl_dataset *ds, int64_t *classes,
                                 sl_error *err)
{
    int64_t out[4];
    sl_status st = sl_nn_check_data_input(m, ds, err);
    if (st != SL_OK)
        return st;
    if (sl_model_output_shape(m, out) != 1)
        return sl_error_set(err, SL_ERR_SHAPE, "the model's output is not flat [classes]");
    *classes = out[0];
    return SL_OK;
}

/* Forward of samples [first, first + n) of raw; their logits and arg-maxes out. */
static sl_status predict_batch_run(sl_model *m, const sl_dataset *raw, predict_batch *b,
                                   int64_t first, int64_t n, int64_t k, float *outputs,
                                   int32_t *classes, sl_error *err)
{
    sl_status st = sl_dataset_read(raw, first, n, b->x, NULL, err);
    if (st != SL_OK)
        return st;
    sl_graph_reset(b->graph);
    sl_batch_view_resize(b->input, n);
    sl_tensor *y = sl_model_forward(m, b->graph, b->input);
    if (!y)
        return sl_graph_take_error(b->graph, err);
    if (outputs)
        memcpy(outputs + first * k, y->data, (size_t)(n * k) * sizeof(float));
    for (int64_t i = 0; classes && i < n; i++)
        classes[first + i] = sl_argmax(y->data + i * k, k);
    return SL_OK;
}

sl_status sl_predict_dataset(sl_model *m, const sl_dataset *ds, int64_t batch_size,
                             float *outputs, int32_t *classes, sl_error *err)
{
    SL_GUARD(m, err);
    SL_GUARD(ds, err);
    if (batch_size < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_predict_dataset: batch_size %lld < 1",
                            (long long)batch_size);
    int64_t k = 0, count = sl_dataset_count(ds);
    sl_status st = check_model_fit(m, ds, &k, err);
    if (st != SL_OK)
        return st;
    /* A copy of the handle that reads the stored values with the model's normalisation,
     * as sl_predict applies it.  It takes no reference on the storage and is never freed. */
    sl_dataset raw = *ds;
    double mean, std;
    sl_normalize kind = sl_model_input_normalize(m, &mean, &std);
    if ((st = sl_dataset_set_normalize(&raw, kind, mean, std, err)) != SL_OK)
        return st;
    int64_t batch = batch_size < count ? batch_size : count;
    predict_batch b;
    st = batch_init(&b, m, batch, sl_dataset_sample_size(ds), err);
    for (int64_t first = 0; st == SL_OK && first < count; first += batch) {
        int64_t n = count - first < batch ? count - first : batch;
        st = predict_batch_run(m, &raw, &b, first, n, k, outputs, classes, err);
    }
    batch_free(&b);
    return st;
}

/* ---- probabilities ---------------------------------------------------------------------- */

void sl_softmax_rows(const float *logits, float *probs, int64_t n, int64_t k)
{
    if (!logits || !probs || n < 1 || k < 1)
        return;
    for (int64_t i = 0; i < n; i++) {
        const float *x = logits + i * k;
        float *p = probs + i * k;
        double max = x[0], sum = 0.0;
        for (int64_t j = 1; j < k; j++)
            max = x[j] > max ? x[j] : max;
        for (int64_t j = 0; j < k; j++)
            sum += exp((double)x[j] - max);
        for (int64_t j = 0; j < k; j++)
            p[j] = (float)(exp((double)x[j] - max) / sum);
    }
}

size_t sl_predict_top(const float *scores, int64_t k, int32_t *order, size_t top)
{
    if (!scores || !order || k < 1 || top == 0)
        return 0;
    if ((uint64_t)top > (uint64_t)k)
        top = (size_t)k;
    size_t m = 0; /* order[0..m) holds the best so far, highest first */
    for (int64_t i = 0; i < k; i++) {
        size_t j = m < top ? m++ : top;
        /* Strictly greater moves up: of equal scores the lower index stays first. */
        while (j > 0 && scores[i] > scores[order[j - 1]]) {
            if (j < top)
                order[j] = order[j - 1];
            j--;
        }
        if (j < top)
            order[j] = (int32_t)i;
    }
    return top;
}
