/*
 * train.c - losses, the trainer's step and epoch loop, its data-parallel
 * strategy (slope/train.h: the trainer reads its part of each batch and
 * hands the reduction to the strategy; dist.c provides the MPI one),
 * evaluation and prediction.  Checkpoints of a trainer are in checkpoint.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "guard.h"
#include "alloc.h"
#include "data_internal.h"
#include "nn_internal.h"
#include "parallel.h"
#include "progress.h"
#include "slope/ops.h"
#include "train_internal.h"

/* ---- losses ------------------------------------------------------------------ */

/* sl_loss_name is config.c's. */

sl_status sl_loss_parse(const char *name, sl_loss_kind *kind, sl_error *err)
{
    SL_GUARD(name, err);
    SL_GUARD(kind, err);
    if (strcmp(name, "cross_entropy") == 0)
        *kind = SL_LOSS_CROSS_ENTROPY;
    else if (strcmp(name, "mse") == 0)
        *kind = SL_LOSS_MSE;
    else
        return sl_error_set(err, SL_ERR_CONFIG,
                            "unknown loss \"%s\" (expected cross_entropy or mse)", name);
    return SL_OK;
}

sl_tensor *sl_loss(sl_graph *g, sl_tensor *outputs, const int32_t *labels, sl_loss_kind kind)
{
    if (kind == SL_LOSS_CROSS_ENTROPY || !outputs || !g)
        return sl_cross_entropy(g, outputs, labels);
    /* MSE against one-hot targets; a bad label is caught like cross-entropy's. */
    sl_tensor *target = sl_graph_tensor(g, outputs->ndim, outputs->shape);
    if (!target || outputs->ndim != 2)
        return sl_mse(g, outputs, target);
    int64_t N = outputs->shape[0], C = outputs->shape[1];
    for (int64_t i = 0; i < N; i++)
        if (labels && labels[i] >= 0 && labels[i] < C)
            target->data[i * C + labels[i]] = 1.0f;
        else
            return sl_cross_entropy(g, outputs, labels); /* reports the bad label */
    return sl_mse(g, outputs, target);
}

void sl_set_num_threads(int n)
{
    if (n >= 1)
        sl_par_set_threads(n); /* slope's threads; OpenBLAS then runs single-threaded */
}

int sl_default_threads(void) { return sl_par_default_threads(); }

int64_t sl_count_correct(const float *out, const int32_t *labels, int64_t n, int64_t classes)
{
    int64_t correct = 0;
    for (int64_t i = 0; i < n; i++)
        correct += sl_argmax(out + i * classes, classes) == labels[i];
    return correct;
}

int32_t sl_argmax(const float *v, int64_t n)
{
    int64_t best = 0;
    for (int64_t j = 1; j < n; j++)
        if (v[j] > v[best])
            best = j;
    return (int32_t)best;
}

/* ---- the trainer ------------------------------------------------------------------- */

sl_train_options sl_train_defaults(void)
{
    sl_train_options o;
    memset(&o, 0, sizeof o);
    o.epochs = 10;
    o.batch_size = 64;
    o.shuffle = 1;
    o.seed = 42;
    o.loss = SL_LOSS_CROSS_ENTROPY;
    o.optim = sl_optim_defaults(SL_OPTIM_SGD);
    o.schedule = sl_schedule_defaults(SL_SCHEDULE_CONSTANT);
    return o;
}

/* The dataset must feed the model: the input's shape (sl_nn_check_data_input), enough
 * outputs for its classes. */
static sl_status check_fit(const sl_model *m, const sl_dataset *ds, sl_loss_kind loss,
                           sl_error *err)
{
    if ((unsigned)loss > (unsigned)SL_LOSS_MSE)
        return sl_error_set(err, SL_ERR_INVALID, "unknown loss kind %d", (int)loss);
    int64_t out[4], outputs = 1;
    int out_ndim = sl_model_output_shape(m, out);
    for (int d = 0; d < out_ndim; d++)
        outputs *= out[d];
    sl_status st = sl_nn_check_data_input(m, ds, err);
    if (st != SL_OK)
        return st;
    if (out_ndim != 1)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "the model's output must be flat [classes]; add flatten and linear");
    if (outputs < sl_dataset_num_classes(ds) || (loss == SL_LOSS_MSE && outputs != sl_dataset_num_classes(ds)))
        return sl_error_set(err, SL_ERR_SHAPE, "%s has %d classes but the model outputs %lld",
                            sl_dataset_name(ds), sl_dataset_num_classes(ds), (long long)outputs);
    return SL_OK;
}

/* The augmentation must fit the training samples (images for crop and flip). */
static sl_status check_augment(const sl_train_options *opt, const sl_dataset *ds, sl_error *err)
{
    int64_t shape[SL_DATA_MAX_DIMS];
    int ndim = sl_dataset_shape(ds, shape);
    sl_error local = {0};
    if (sl_augment_check(&opt->augment, ndim, shape, &local) == SL_OK)
        return SL_OK;
    return sl_error_set(err, local.status, "%s: augment.%s", sl_dataset_name(ds), local.message);
}

/* A heap tensor over a caller buffer, shaped [batch, model input...]; shape[0] changes per batch. */
static sl_tensor *batch_view(const sl_model *m, float *buffer, int64_t batch, sl_error *err)
{
    int64_t in[4], shape[4];
    int ndim = sl_model_layer_shape(m, -1, in);
    shape[0] = batch;
    for (int d = 0; d < ndim; d++)
        shape[d + 1] = in[d];
    return sl_tensor_wrap(buffer, ndim + 1, shape, err);
}

/* batch * sample floats, or NULL when the product overflows or memory runs out. */
static float *alloc_batch_floats(int64_t batch, int64_t sample)
{
    if (batch < 1 || sample < 1 || batch > (int64_t)(SIZE_MAX / sizeof(float)) / sample)
        return NULL;
    return sl_malloc((size_t)(batch * sample) * sizeof(float));
}

void sl_batch_view_resize(sl_tensor *x, int64_t n)
{
    x->size = x->size / x->shape[0] * n;
    x->shape[0] = n;
}

/* The options' counts and enums; the optimizer checks its own numbers. */
static sl_status check_options(const sl_train_options *opt, sl_error *err)
{
    if (opt->epochs < 1 || opt->batch_size < 1)
        return sl_error_set(err, SL_ERR_CONFIG, "epochs and batch_size must be >= 1");
    if ((int)opt->loss < (int)SL_LOSS_CROSS_ENTROPY || (int)opt->loss > (int)SL_LOSS_MSE)
        return sl_error_set(err, SL_ERR_CONFIG, "sl_trainer_new: unknown loss kind %d",
                            (int)opt->loss);
    if (!(opt->label_smoothing >= 0.0f && opt->label_smoothing < 1.0f))
        return sl_error_set(err, SL_ERR_CONFIG,
                            "sl_trainer_new: label_smoothing must be in [0, 1), got %g",
                            (double)opt->label_smoothing);
    if (opt->label_smoothing > 0.0f && opt->loss != SL_LOSS_CROSS_ENTROPY)
        return sl_error_set(err, SL_ERR_CONFIG,
                            "sl_trainer_new: label_smoothing needs the cross_entropy loss");
    if ((int)opt->optim.kind < (int)SL_OPTIM_SGD || (int)opt->optim.kind > (int)SL_OPTIM_ADAMW)
        return sl_error_set(err, SL_ERR_CONFIG, "sl_trainer_new: unknown optimizer kind %d",
                            (int)opt->optim.kind);
    if ((int)opt->schedule.kind < (int)SL_SCHEDULE_CONSTANT ||
        (int)opt->schedule.kind > (int)SL_SCHEDULE_COSINE)
        return sl_error_set(err, SL_ERR_CONFIG, "sl_trainer_new: unknown schedule kind %d",
                            (int)opt->schedule.kind);
    if ((int)opt->precision < (int)SL_PRECISION_FP32 || (int)opt->precision > (int)SL_PRECISION_BF16)
        return sl_error_set(err, SL_ERR_CONFIG, "sl_trainer_new: unknown precision %d",
                            (int)opt->precision);
    return SL_OK;
}

sl_trainer *sl_trainer_new(sl_model *model, const sl_dataset *train, const sl_train_options *opt,
                           sl_error *err)
{
    if (!model || !train || !opt) {
        sl_error_set(err, SL_ERR_INVALID, "sl_trainer_new: model, dataset or options is NULL");
        return NULL;
    }
    if (check_options(opt, err) != SL_OK)
        return NULL;
    if (!sl_model_flat_params(model, NULL)) { /* made by sl_model_init */
        sl_error_set(err, SL_ERR_STATE, "sl_trainer_new: the model is not initialised");
        return NULL;
    }
    if (check_fit(model, train, opt->loss, err) != SL_OK ||
        check_augment(opt, train, err) != SL_OK)
        return NULL;
    sl_trainer *t = sl_calloc(1, sizeof *t);
    if (!t) {
        sl_error_set(err, SL_ERR_NOMEM, "out of memory for a trainer");
        return NULL;
    }
    t->model = model;
    t->data = train;
    t->opt = *opt;
    t->strategy.ranks = 1; /* alone until sl_trainer_set_strategy says otherwise */
    int64_t out[4];
    sl_model_output_shape(model, out);
    t->classes = out[0];
    sl_batch_options bo = {opt->batch_size, opt->shuffle, opt->seed, opt->drop_last};
    t->graph = sl_graph_new(opt->seed, err);
    /* Nothing reads a step's activations after backward here (the statistics read their
     * gradients), so gradients may lie over the activations no backward needs. */
    if (t->graph) {
        sl_graph_set_grad_over_data(t->graph, 1);
        sl_graph_set_precision(t->graph, opt->precision);
    }
    t->iter = t->graph ? sl_batch_iter_new(train, &bo, err) : NULL;
    t->optim = t->iter ? sl_optimizer_new(model_params(model), sl_model_num_params(model),
                                          &opt->optim, err)
                       : NULL;
    int64_t sample = sl_dataset_sample_size(train);
    t->x = t->optim ? alloc_batch_floats(opt->batch_size, sample) : NULL;
    t->labels = t->x ? sl_malloc((size_t)opt->batch_size * sizeof(int32_t)) : NULL;
    int augment = sl_augment_active(&opt->augment);
    t->aug_scratch = t->labels && augment ? alloc_batch_floats(1, sample) : NULL;
    t->input = t->labels && (t->aug_scratch || !augment)
                   ? batch_view(model, t->x, opt->batch_size, err)
                   : NULL;
    if (!t->input) {
        if (t->optim && (!t->x || !t->labels || (augment && !t->aug_scratch)))
            sl_error_set(err, SL_ERR_NOMEM, "out of memory for the batch buffers");
        sl_trainer_free(t);
        return NULL;
    }
    t->batches = sl_batch_iter_batches(t->iter);
    return t;
}

void sl_trainer_free(sl_trainer *t)
{
    if (!t)
        return;
    sl_tensor_free(t->input);
    sl_free(t->aug_scratch);
    sl_free(t->x);
    sl_free(t->labels);
    sl_optimizer_free(t->optim);
    sl_batch_iter_free(t->iter);
    sl_graph_free(t->graph);
    sl_free(t);
}

/* Names where a NaN/Inf came from, for the step's error message. */
static sl_status numeric_failure(sl_trainer *t, const sl_step_info *info, sl_error *err)
{
    sl_graph_reset(t->graph);
    int layer = sl_nn_first_nonfinite_layer(t->model, t->graph, t->input);
    sl_graph_reset(t->graph);
    const char *where = "the loss";
    char buf[128];
    if (layer == -2)
        where = "the input batch";
    else if (layer >= 0) {
        snprintf(buf, sizeof buf, "the output of layer %d (%s)", layer,
                 sl_layer_type_name(sl_model_layer(t->model, (size_t)layer)->type));
        where = buf;
    }
    return sl_error_set(err, SL_ERR_NUMERIC,
                        "step %lld (epoch %d, batch %lld): the loss is %g; first non-finite "
                        "value in %s; parameters not updated",
                        (long long)info->step, info->epoch + 1, (long long)info->batch + 1,
                        (double)info->loss, where);
}

/* Forward, loss and backward of one batch already in t->x / t->labels. */
static sl_status forward_backward(sl_trainer *t, sl_step_info *info, sl_error *err)
{
    sl_graph *g = t->graph;
    sl_graph_reset(g);
    sl_graph_set_training(g, 1);
    /* Dropout and rrelu draw from a stream fixed by (seed, step): resumable. */
    sl_rng_seed(sl_graph_rng(g), t->opt.seed * 0x9E3779B97F4A7C15ull + (uint64_t)t->steps +
                                     ((uint64_t)t->strategy.rank << 40)); /* own stream per replica */
    sl_tensor *out = sl_model_forward(t->model, g, t->input);
    sl_tensor *loss = t->opt.label_smoothing > 0.0f
                          ? sl_cross_entropy_smoothed(g, out, t->labels, t->opt.label_smoothing)
                          : sl_loss(g, out, t->labels, t->opt.loss);
    if (!loss)
        return sl_graph_take_error(g, err);
    info->loss = loss->data[0];
    info->correct = sl_count_correct(out->data, t->labels, info->n, t->classes);
    if (!isfinite(info->loss))
        return numeric_failure(t, info, err);
    sl_model_zero_grad(t->model);
    if (sl_backward(g, loss) != SL_OK)
        return sl_graph_take_error(g, err);
    return SL_OK;
}

/* The strategy's gradient reduce after this replica's part (n_local = info->n, maybe 0). */
static sl_status reduce_step(sl_trainer *t, sl_status st, int64_t n_global, sl_step_info *info,
                             sl_error *err)
{
    if (st == SL_OK && info->n == 0) {
        sl_model_zero_grad(t->model); /* an empty part adds nothing */
        info->loss = 0.0f;
        info->correct = 0;
    }
    int64_t n_grad = 0;
    float *grad = sl_model_flat_grads(t->model, &n_grad);
    if (!grad)
        n_grad = 0;
    return t->strategy.reduce_step(t->strategy.ctx, st, n_global, info, grad, n_grad, err);
}

/* Augments this replica's part of the batch just read, its images numbered in the whole
 * batch (the part starts at n_global * rank / ranks), so the draws do not depend on the
 * number of replicas. */
static sl_status augment_part(sl_trainer *t, const sl_step_info *info, int64_t n_global,
                              sl_error *err)
{
    int64_t shape[SL_DATA_MAX_DIMS];
    sl_dataset_shape(t->data, shape);
    sl_augment_where w = {t->opt.seed, info->epoch, info->batch,
                          n_global * t->strategy.rank / t->strategy.ranks};
    return sl_augment_batch(&t->opt.augment, &w, t->x, info->n, shape,
                            sl_augment_pad_value(t->data), t->aug_scratch, err);
}

sl_status sl_trainer_step(sl_trainer *t, sl_step_info *info, sl_error *err)
{
    if (!t || !info)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_step: NULL argument");
    if (sl_trainer_done(t))
        return sl_error_set(err, SL_ERR_STATE, "training is complete (%d epochs)", t->opt.epochs);
    memset(info, 0, sizeof *info);
    int64_t epoch;
    sl_batch_iter_position(t->iter, &epoch, &info->batch);
    info->epoch = (int)epoch;
    info->batches = t->batches;
    info->step = t->steps + 1;
    /* This replica's part of the global batch (all of it when alone). */
    int64_t n_global = 0;
    sl_status st = sl_batch_iter_next_part(t->iter, t->strategy.rank, t->strategy.ranks, t->x,
                                           t->labels, &n_global, &info->n, err);
    if (st != SL_OK)
        return st;
    if (n_global == 0) {
        t->epoch++;
        return SL_OK;
    }
    if (info->n > 0 && t->aug_scratch)
        st = augment_part(t, info, n_global, err);
    if (st == SL_OK && info->n > 0) {
        sl_batch_view_resize(t->input, info->n);
        st = forward_backward(t, info, err);
    }
    if (t->strategy.reduce_step) {
        st = reduce_step(t, st, n_global, info, err);
        if (st == SL_OK)
            info->n = n_global;
    }
    if (st != SL_OK)
        return st;
    info->lr = sl_schedule_lr(&t->opt.schedule, t->opt.optim.lr, t->steps, t->batches,
                              t->opt.epochs);
    sl_error step_err = {0};
    if (sl_optimizer_step(t->optim, info->lr, &step_err) != SL_OK)
        return sl_error_set(err, step_err.status, "step %lld (epoch %d, batch %lld): %s",
                            (long long)info->step, info->epoch + 1, (long long)info->batch + 1,
                            step_err.message);
    t->steps++;
    return SL_OK;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sl_status sl_trainer_run_epoch(sl_trainer *t, sl_step_callback cb, void *user,
                               sl_epoch_result *result, sl_error *err)
{
    if (!t)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_run_epoch: trainer is NULL");
    sl_epoch_result r;
    memset(&r, 0, sizeof r);
    r.epoch = t->epoch;
    double start = now_seconds(), loss_sum = 0.0;
    int64_t correct = 0;
    for (;;) {
        sl_step_info info;
        sl_status st = sl_trainer_step(t, &info, err);
        if (st != SL_OK)
            return st;
        if (info.n == 0)
            break;
        loss_sum += (double)info.loss * (double)info.n;
        correct += info.correct;
        r.samples += info.n;
        r.lr = info.lr;
        if (cb && cb(&info, user) != 0) {
            r.stopped = 1;
            break;
        }
    }
    r.seconds = now_seconds() - start;
    r.loss = r.samples ? loss_sum / (double)r.samples : 0.0;
    r.accuracy = r.samples ? (double)correct / (double)r.samples : 0.0;
    if (result)
        *result = r;
    return SL_OK;
}

int sl_trainer_epoch(const sl_trainer *t) { return t ? t->epoch : 0; }
int64_t sl_trainer_steps(const sl_trainer *t) { return t ? t->steps : 0; }
int sl_trainer_done(const sl_trainer *t) { return !t || t->epoch >= t->opt.epochs; }
sl_optimizer *sl_trainer_optimizer(sl_trainer *t) { return t ? t->optim : NULL; }
sl_graph *sl_trainer_graph(sl_trainer *t) { return t ? t->graph : NULL; }
sl_model *sl_trainer_model(sl_trainer *t) { return t ? t->model : NULL; }
const sl_dataset *sl_trainer_dataset(const sl_trainer *t) { return t ? t->data : NULL; }
const sl_train_options *sl_trainer_options(const sl_trainer *t) { return t ? &t->opt : NULL; }

/* ---- the data-parallel strategy ----------------------------------------------------------- */

static sl_status check_strategy(const sl_train_strategy *s, const char *who, sl_error *err)
{
    if (s->ranks < 1 || s->rank < 0 || s->rank >= s->ranks)
        return sl_error_set(err, SL_ERR_INVALID, "%s: rank %d of %d ranks", who, s->rank,
                            s->ranks);
    if (!s->reduce_step || (s->ranks > 1 && !s->reduce_eval))
        return sl_error_set(err, SL_ERR_INVALID, "%s: the strategy lacks reduce_%s", who,
                            s->reduce_step ? "eval" : "step");
    return SL_OK;
}

sl_status sl_trainer_set_strategy(sl_trainer *t, const sl_train_strategy *s, sl_error *err)
{
    if (!t)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_set_strategy: trainer is NULL");
    if (s && check_strategy(s, "sl_trainer_set_strategy", err) != SL_OK)
        return err ? err->status : SL_ERR_INVALID;
    memset(&t->strategy, 0, sizeof t->strategy);
    t->strategy.ranks = 1;
    if (s)
        t->strategy = *s;
    return SL_OK;
}

const sl_train_strategy *sl_trainer_strategy(const sl_trainer *t)
{
    return t && t->strategy.reduce_step ? &t->strategy : NULL;
}

/* ---- evaluation and prediction ---------------------------------------------------------------- */

/* A no-grad, evaluation-mode graph and one batch of buffers: evaluation's own, or a
 * trainer's (borrowed: then nothing is freed). */
typedef struct eval_buffers {
    sl_graph *graph;
    float *x;
    int32_t *labels;
    sl_tensor *input;
    int64_t batch;
} eval_buffers;

static void eval_buffers_free(eval_buffers *b)
{
    sl_tensor_free(b->input);
    sl_free(b->labels);
    sl_free(b->x);
    sl_graph_free(b->graph);
}

static sl_status eval_buffers_init(eval_buffers *b, const sl_model *m, int64_t batch,
                                   int64_t sample, sl_error *err)
{
    memset(b, 0, sizeof *b);
    b->batch = batch;
    b->graph = sl_graph_new(0, err);
    if (!b->graph)
        return err ? err->status : SL_ERR_NOMEM;
    sl_graph_set_grad_enabled(b->graph, 0);
    sl_graph_set_training(b->graph, 0);
    b->x = alloc_batch_floats(batch, sample);
    b->labels = sl_malloc((size_t)batch * sizeof(int32_t));
    if (!b->x || !b->labels)
        return sl_error_set(err, SL_ERR_NOMEM, "out of memory for a batch of %lld examples",
                            (long long)batch);
    b->input = batch_view(m, b->x, batch, err);
    return b->input ? SL_OK : (err ? err->status : SL_ERR_NOMEM);
}

static void tally(sl_eval_result *r, const float *out, const int32_t *labels, int64_t n,
                  int64_t classes, int64_t *correct)
{
    for (int64_t i = 0; i < n; i++) {
        int32_t pred = sl_argmax(out + i * classes, classes);
        *correct += pred == labels[i];
        if (r->confusion)
            r->confusion[labels[i] * classes + pred]++;
    }
}

/* The batches of ds through b (fit checked), in b->batch samples at a time. */
static sl_status evaluate_batches(sl_model *model, const sl_dataset *ds, sl_loss_kind loss_kind,
                                  eval_buffers *b, sl_eval_result *result, sl_error *err)
{
    int64_t out[4], count = sl_dataset_count(ds), batch_size = b->batch;
    sl_model_output_shape(model, out);
    int64_t classes = out[0];
    if (result->confusion)
        memset(result->confusion, 0, (size_t)(classes * classes) * sizeof(int64_t));
    sl_status st = SL_OK;
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int64_t first = 0; st == SL_OK && first < count; first += batch_size) {
        int64_t n = count - first < batch_size ? count - first : batch_size;
        st = sl_dataset_read(ds, first, n, b->x, b->labels, err);
        if (st != SL_OK)
            break;
        sl_graph_reset(b->graph);
        sl_batch_view_resize(b->input, n);
        sl_tensor *y = sl_model_forward(model, b->graph, b->input);
        sl_tensor *loss = sl_loss(b->graph, y, b->labels, loss_kind);
        if (!loss) {
            st = sl_graph_take_error(b->graph, err);
            break;
        }
        loss_sum += (double)loss->data[0] * (double)n;
        tally(result, y->data, b->labels, n, classes, &correct);
        sl_progress_report(first + n, count);
    }
    sl_graph_reset(b->graph);
    if (st == SL_OK) {
        result->samples = count;
        result->loss = loss_sum / (double)count;
        result->accuracy = (double)correct / (double)count;
    }
    return st;
}

/* sl_evaluate in shared buffers (a trainer's), or in buffers of its own when shared is NULL. */
static sl_status evaluate_in(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                             sl_loss_kind loss_kind, eval_buffers *shared,
                             sl_eval_result *result, sl_error *err)
{
    if (!model || !ds || !result || batch_size < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_evaluate: bad argument");
    sl_status st = check_fit(model, ds, loss_kind, err);
    if (st != SL_OK || shared)
        return st != SL_OK ? st : evaluate_batches(model, ds, loss_kind, shared, result, err);
    eval_buffers b;
    st = eval_buffers_init(&b, model, batch_size, sl_dataset_sample_size(ds), err);
    if (st == SL_OK)
        st = evaluate_batches(model, ds, loss_kind, &b, result, err);
    eval_buffers_free(&b);
    return st;
}

sl_status sl_evaluate(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                      sl_loss_kind loss_kind, sl_eval_result *result, sl_error *err)
{
    return evaluate_in(model, ds, batch_size, loss_kind, NULL, result, err);
}

/* sl_evaluate of this replica's shard of ds (an empty shard: zero sums and confusion). */
static sl_status evaluate_shard(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                                sl_loss_kind loss, const sl_train_strategy *s, eval_buffers *b,
                                sl_eval_result *local, int64_t classes, sl_error *err)
{
    int64_t count = sl_dataset_count(ds);
    int64_t first = count * s->rank / s->ranks, n = count * (s->rank + 1) / s->ranks - first;
    if (n == 0) {
        if (local->confusion)
            memset(local->confusion, 0, (size_t)(classes * classes) * sizeof(int64_t));
        return SL_OK;
    }
    sl_dataset *view = sl_data_range_view(ds, first, n, err);
    sl_status st = view ? evaluate_in(model, view, batch_size, loss, b, local, err)
                        : (err ? err->status : SL_ERR_NOMEM);
    sl_dataset_free(view);
    return st;
}

/* sl_evaluate_sharded in b (shared buffers, or NULL for its own). */
static sl_status evaluate_sharded_in(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                                     sl_loss_kind loss, const sl_train_strategy *s,
                                     eval_buffers *b, sl_eval_result *result, sl_error *err)
{
    if (!s || (s->ranks == 1 && !s->reduce_eval))
        return evaluate_in(model, ds, batch_size, loss, b, result, err);
    sl_status st = check_strategy(s, "sl_evaluate_sharded", err);
    if (st == SL_OK && !s->reduce_eval)
        st = sl_error_set(err, SL_ERR_INVALID, "sl_evaluate_sharded: the strategy lacks reduce_eval");
    if (st != SL_OK)
        return st;
    if (!model || !ds || !result || batch_size < 1)
        st = sl_error_set(err, SL_ERR_INVALID, "sl_evaluate_sharded: bad argument");
    int64_t out[4] = {0}, classes = 0;
    if (st == SL_OK) {
        sl_model_output_shape(model, out);
        classes = out[0];
    }
    sl_eval_result local;
    memset(&local, 0, sizeof local);
    local.confusion = result ? result->confusion : NULL;
    if (st == SL_OK)
        st = evaluate_shard(model, ds, batch_size, loss, s, b, &local, classes, err);
    double sums[3] = {local.loss * (double)local.samples,
                      (double)llround(local.accuracy * (double)local.samples),
                      (double)local.samples};
    int64_t n_counts = local.confusion ? classes * classes : 0;
    st = s->reduce_eval(s->ctx, st, sums, n_counts ? local.confusion : NULL, n_counts, err);
    if (st != SL_OK)
        return st;
    result->samples = (int64_t)llround(sums[2]);
    result->loss = result->samples ? sums[0] / sums[2] : 0.0;
    result->accuracy = result->samples ? sums[1] / sums[2] : 0.0;
    return SL_OK;
}

sl_status sl_evaluate_sharded(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                              sl_loss_kind loss, const sl_train_strategy *s,
                              sl_eval_result *result, sl_error *err)
{
    return evaluate_sharded_in(model, ds, batch_size, loss, s, NULL, result, err);
}

sl_status sl_trainer_evaluate(sl_trainer *t, const sl_dataset *ds, sl_eval_result *result,
                              sl_error *err)
{
    if (!t)
        return sl_error_set(err, SL_ERR_INVALID, "sl_trainer_evaluate: trainer is NULL");
    eval_buffers b = {t->graph, t->x, t->labels, t->input, t->opt.batch_size};
    int grad = sl_graph_set_grad_enabled(t->graph, 0);
    int training = sl_graph_set_training(t->graph, 0);
    sl_status st = evaluate_sharded_in(t->model, ds, t->opt.batch_size, t->opt.loss,
                                       sl_trainer_strategy(t), &b, result, err);
    sl_graph_set_grad_enabled(t->graph, grad);
    sl_graph_set_training(t->graph, training);
    return st;
}

static int64_t model_sample_size(const sl_model *m)
{
    int64_t in[4], size = 1;
    int ndim = sl_model_layer_shape(m, -1, in);
    for (int d = 0; d < ndim; d++)
        size *= in[d];
    return size;
}

/* The inputs forward gets: x itself when the model has no input normalisation, else a
 * normalised copy in *scratch (the caller frees it).  x is never written. */
static const float *normalized_inputs(const sl_model *m, const float *x, int64_t n,
                                      float **scratch, sl_error *err)
{
    double mean, std;
    sl_normalize kind = sl_model_input_normalize(m, &mean, &std);
    *scratch = NULL;
    if (kind == SL_NORMALIZE_NONE)
        return x;
    int64_t sample = model_sample_size(m);
    *scratch = alloc_batch_floats(n, sample);
    if (!*scratch) {
        sl_error_set(err, SL_ERR_NOMEM, "sl_predict: out of memory for %lld normalised samples",
                     (long long)n);
        return NULL;
    }
    sl_normalize_values(kind, mean, std, x, *scratch, n * sample);
    return *scratch;
}

static void copy_predictions(const sl_tensor *y, int64_t n, float *outputs, int32_t *classes)
{
    int64_t per = y->size / n;
    if (outputs)
        memcpy(outputs, y->data, (size_t)y->size * sizeof(float));
    for (int64_t i = 0; classes && i < n; i++)
        classes[i] = sl_argmax(y->data + i * per, per);
}

sl_status sl_predict(sl_model *model, const float *x, int64_t n, float *outputs, int32_t *classes,
                     sl_error *err)
{
    if (!model || !x || n < 1)
        return sl_error_set(err, SL_ERR_INVALID, "sl_predict: bad argument");
    float *scratch;
    const float *in = normalized_inputs(model, x, n, &scratch, err);
    if (!in)
        return err ? err->status : SL_ERR_NOMEM;
    sl_graph *g = sl_graph_new(0, err);
    if (!g) {
        sl_free(scratch);
        return err ? err->status : SL_ERR_NOMEM;
    }
    sl_graph_set_grad_enabled(g, 0);
    sl_graph_set_training(g, 0);
    /* The view never writes through its buffer: forward only reads its input. */
    sl_tensor *input = batch_view(model, (float *)(uintptr_t)in, n, err);
    sl_tensor *y = input ? sl_model_forward(model, g, input) : NULL;
    sl_status st = SL_OK;
    if (!input)
        st = err ? err->status : SL_ERR_INVALID;
    else if (!y)
        st = sl_graph_take_error(g, err);
    else
        copy_predictions(y, n, outputs, classes);
    sl_tensor_free(input);
    sl_graph_free(g);
    sl_free(scratch);
    return st;
}
