/*
 * slope/train.h - losses, the training loop, evaluation, prediction and
 * checkpoints of whole training runs.
 *
 * The trainer owns a graph, an optimizer and a batch iterator over a
 * caller's model and dataset (both borrowed: they must outlive it).  One
 * sl_trainer_step is one optimizer step on the next batch: forward, loss,
 * backward, NaN/Inf guard, update.  A warm step makes no heap allocation.
 * Randomness (shuffling, dropout, the augmentation's crops and flips)
 * depends only on the seed and the step number (the epoch and batch), so a
 * run resumed from a checkpoint continues bit for bit (with the same thread
 * count).
 *
 * Custom loops can skip the trainer: sl_model_forward + sl_loss +
 * sl_backward + sl_optimizer_step are the same pieces.
 *
 * Arguments: every function checks its pointers and ranges.  A NULL pointer
 * (unless the function says NULL is allowed) or an out-of-range value is
 * SL_ERR_INVALID -- NULL with the error set, from functions returning a
 * pointer; getters return 0 / NULL for a NULL handle; frees accept NULL.
 */
#ifndef SLOPE_TRAIN_H
#define SLOPE_TRAIN_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "slope/config.h"
#include "slope/data.h"
#include "slope/error.h"
#include "slope/export.h"
#include "slope/graph.h"
#include "slope/io.h"
#include "slope/nn.h"
#include "slope/optim.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sl_loss_kind and sl_loss_name come from slope/config.h. */
SL_API sl_status sl_loss_parse(const char *name, sl_loss_kind *kind, sl_error *err);

/** The loss of outputs[N, C] against N labels; NULL with the error in g. */
SL_API sl_tensor *sl_loss(sl_graph *g, sl_tensor *outputs, const int32_t *labels,
                          sl_loss_kind kind);

/** Sets the threads slope uses for the whole process (n >= 1): its own pool splits the
 *  matrix products and the conv, pooling and large elementwise work; OpenBLAS is set to one
 *  thread so the two never compete for the cores. */
SL_API void sl_set_num_threads(int n);

/** The thread count for a program that chooses none (what `slope` uses without --threads or
 *  train.threads): OMP_NUM_THREADS when it is a positive integer (the first of a list), else
 *  the CPUs this process may run on (its affinity mask); between 1 and 64.  Until a program
 *  calls sl_set_num_threads, slope runs on one thread and OpenBLAS on its own threads. */
SL_API int sl_default_threads(void);

typedef struct sl_train_options {
    int epochs;               /**< 10 */
    int64_t batch_size;       /**< 64 */
    int shuffle;              /**< 1 */
    int drop_last;            /**< 0 */
    uint64_t seed;            /**< data order and dropout: 42 */
    sl_loss_kind loss;        /**< cross-entropy */
    sl_optim_spec optim;      /**< SGD, lr 0.01 */
    sl_schedule_spec schedule; /**< constant */
    sl_augment_spec augment;  /**< training batches only (slope/data.h): none */
    float label_smoothing;    /**< training loss only, cross-entropy only, in [0, 1): 0
                                   (sl_cross_entropy_smoothed; evaluation stays plain) */
    sl_precision precision;   /**< the convolutions' arithmetic in the trainer's graph (steps,
                                   statistics probe, sl_trainer_evaluate), see
                                   sl_graph_set_precision: SL_PRECISION_FP32 */
} sl_train_options;

SL_API sl_train_options sl_train_defaults(void);

typedef struct sl_trainer sl_trainer;

/**
 * A trainer for model (initialised) on train.  Errors: SL_ERR_SHAPE when
 * the dataset's sample shape or class count does not fit the model,
 * SL_ERR_CONFIG for bad options (epochs or batch_size < 1, a loss,
 * optimizer or schedule kind outside its enum, an augment that
 * sl_augment_check refuses for train's sample shape: "augment.crop: ..."),
 * SL_ERR_NOMEM.
 *
 * With opt->augment active, every batch a step reads is augmented
 * (sl_augment_batch, padding sl_augment_pad_value(train), draws from
 * (opt->seed, epoch, batch, image)) before the forward pass; one scratch image
 * is allocated here.  Nothing else the trainer does is augmented.
 */
SL_API sl_trainer *sl_trainer_new(sl_model *model, const sl_dataset *train,
                                  const sl_train_options *opt, sl_error *err);
SL_API void sl_trainer_free(sl_trainer *t);

typedef struct sl_step_info {
    int epoch;           /**< 0-based epoch of this step */
    int64_t batch;       /**< 0-based batch within the epoch */
    int64_t batches;     /**< batches per epoch */
    int64_t step;        /**< optimizer steps taken, this one included */
    int64_t n;           /**< samples in the batch; 0 when the epoch just ended */
    float loss;          /**< mean loss of the batch */
    int64_t correct;     /**< samples whose arg-max output equals the label */
    float lr;            /**< learning rate used */
} sl_step_info;

/**
 * One optimizer step on the next batch.  When the epoch has no batch left,
 * takes no step, sets info->n = 0 and moves to the next epoch.
 * Errors: SL_ERR_NUMERIC when the loss or a gradient is NaN/Inf (the
 * message names the step and the first layer or parameter where it
 * appeared; the parameters are not updated); SL_ERR_STATE after the last
 * epoch; errors of the ops.
 */
SL_API sl_status sl_trainer_step(sl_trainer *t, sl_step_info *info, sl_error *err);

typedef struct sl_epoch_result {
    int epoch;           /**< the epoch that ended (0-based) */
    double loss;         /**< mean training loss over its samples */
    double accuracy;     /**< training accuracy, in [0, 1] */
    int64_t samples;
    double seconds;
    float lr;            /**< learning rate of its last step */
    int stopped;         /**< 1 when the step callback asked to stop before the epoch ended */
} sl_epoch_result;

/**
 * Called after every step of sl_trainer_run_epoch; may be NULL.  Return 0
 * to go on, nonzero to stop after this step (the epoch is then left
 * unfinished: a later sl_trainer_run_epoch or a checkpoint resumes it).
 */
typedef int (*sl_step_callback)(const sl_step_info *info, void *user);

/**
 * Runs the rest of the current epoch, or until the callback asks to stop
 * (result->stopped).  The result covers the steps this call took.
 */
SL_API sl_status sl_trainer_run_epoch(sl_trainer *t, sl_step_callback cb, void *user,
                                      sl_epoch_result *result, sl_error *err);

/**
 * Data-parallel training as a strategy the trainer is given: `ranks`
 * replicas of one trainer (same model, data, options and position) each
 * take part `rank` of every global batch and combine what they computed
 * through the strategy's reduce functions.  slope/dist.h's sl_dist_trainer
 * installs the MPI strategy; a program may install its own (threads,
 * another transport, a test double).
 *
 * One step with a strategy installed:
 *   1. the trainer reads its part of the next global batch of n_global
 *      samples, sl_batch_iter_next_part(iter, rank, ranks, ...): n_local
 *      samples, possibly 0 (a small last batch on many ranks);
 *   2. forward and backward of those samples (skipped when n_local == 0:
 *      then the gradients are zeroed, info->loss and info->correct are 0);
 *   3. reduce_step(ctx, local, n_global, info, grad, n_grad, err) with the
 *      status of 2 in `local` (with its message in err), info->n =
 *      n_local, info->loss this part's mean loss, info->correct its count,
 *      and grad the model's flat gradient buffer (sl_model_flat_grads: the
 *      mean gradient over this part; NULL, 0 when the model has none).
 *      It must return the same status on every replica (a failure on one
 *      fails all: the failing replica's message, naming it); on SL_OK it
 *      has made grad the mean gradient of the whole global batch and
 *      info->loss / info->correct describe the global batch;
 *   4. the trainer sets info->n = n_global and takes the optimizer step.
 * A non-SL_OK return stops the step before the update: sl_trainer_step
 * returns it with err as reduce_step left it.
 *
 * reduce_eval is sl_evaluate_sharded's: after this replica evaluated its
 * shard (status local), sums[0..2] = {loss * samples, correct, samples}
 * and counts[0..n_counts) its confusion counts (NULL, 0 without a confusion
 * matrix) are summed over the replicas in place, with the same agreement
 * on failure as reduce_step.  It may be NULL when ranks == 1.
 *
 * ctx is borrowed: it must outlive the trainer or the next
 * sl_trainer_set_strategy.  The functions run on the trainer's thread.
 */
typedef struct sl_train_strategy {
    void *ctx;
    int rank;  /**< this replica, 0..ranks-1 */
    int ranks; /**< replicas, >= 1 */
    sl_status (*reduce_step)(void *ctx, sl_status local, int64_t n_global, sl_step_info *info,
                             float *grad, int64_t n_grad, sl_error *err);
    sl_status (*reduce_eval)(void *ctx, sl_status local, double sums[3], int64_t *counts,
                             int64_t n_counts, sl_error *err);
} sl_train_strategy;

/**
 * Installs s (copied) for t's next steps, or with s == NULL goes back to one
 * process.  Does not copy any state between replicas: the caller makes them
 * equal first (sl_dist_trainer does).  Errors: SL_ERR_INVALID (t NULL,
 * ranks < 1, rank out of range, reduce_step NULL, reduce_eval NULL with
 * ranks > 1); t is unchanged then.
 */
SL_API sl_status sl_trainer_set_strategy(sl_trainer *t, const sl_train_strategy *s,
                                         sl_error *err);
/** The installed strategy (owned by t), or NULL when training alone. */
SL_API const sl_train_strategy *sl_trainer_strategy(const sl_trainer *t);

/** Epochs completed, and optimizer steps taken. */
SL_API int sl_trainer_epoch(const sl_trainer *t);
SL_API int64_t sl_trainer_steps(const sl_trainer *t);
SL_API int sl_trainer_done(const sl_trainer *t);
SL_API sl_optimizer *sl_trainer_optimizer(sl_trainer *t);
/** The graph the trainer's steps run in.  It has sl_graph_set_grad_over_data on: after a
 *  backward in it, an activation no backward needed may hold its gradient instead of its
 *  values (turn it off for a graph you read intermediate tensors from after backward). */
SL_API sl_graph *sl_trainer_graph(sl_trainer *t);
/** The model, the training set and the options t was made with (NULL for a NULL t). */
SL_API sl_model *sl_trainer_model(sl_trainer *t);
SL_API const sl_dataset *sl_trainer_dataset(const sl_trainer *t);
SL_API const sl_train_options *sl_trainer_options(const sl_trainer *t);

/**
 * Saves model parameters, buffers, optimizer state and the position in
 * training to path (safetensors, written atomically), plus the caller's
 * metadata (for example the config).  Metadata keys "slope.*" are reserved.
 * The model's input normalisation goes with it (sl_model_save's keys).
 */
SL_API sl_status sl_trainer_save(const sl_trainer *t, const char *path, const sl_kv *meta,
                                 size_t n_meta, sl_error *err);
/**
 * Restores what sl_trainer_save wrote, for a trainer made with the same
 * model shape and options: the run continues where it stopped.
 *
 * All or nothing: slope.epoch, slope.steps, slope.optimizer and every
 * tensor's presence and shape are checked before anything is copied, so on
 * error the model, the optimizer state and the trainer's position are
 * exactly as they were.  The model's input normalisation is restored as
 * sl_model_load restores it.  slope.epoch must be 0..train.epochs of this
 * trainer, and slope.steps must fit it: epoch * batches-per-epoch plus
 * 0..batches-per-epoch of the epoch in progress (none once the run is
 * complete); both are plain decimal digits.
 *
 * Errors: SL_ERR_READ, SL_ERR_FORMAT (not a slope training checkpoint, a
 * missing tensor, another optimizer, slope.epoch or slope.steps missing,
 * malformed or out of range, a malformed input normalisation: the message
 * names the key and the value),
 * SL_ERR_SHAPE (a tensor of another shape: names it).  Messages start with
 * the path.
 */
SL_API sl_status sl_trainer_load(sl_trainer *t, const char *path, sl_error *err);

/**
 * Saves only the model's parameters and buffers (atomically), with metadata
 * (keys "slope.*" are reserved: SL_ERR_INVALID) and the model's input
 * normalisation: "slope.input_normalize" ("none", "scale01" or
 * "standardize"), "slope.input_mean" and "slope.input_std" (%.17g, so the
 * doubles come back exactly).
 */
SL_API sl_status sl_model_save(const sl_model *m, const char *path, const sl_kv *meta,
                               size_t n_meta, sl_error *err);
/**
 * Loads parameters, buffers and the input normalisation saved by
 * sl_model_save or sl_trainer_save.  A file without
 * "slope.input_normalize" (saved before models kept it) leaves the model's
 * normalisation as it is; with it, standardize needs "slope.input_mean"
 * (finite) and "slope.input_std" (finite, > 0), the other kinds ignore them.
 * All or nothing: the metadata and every tensor's presence and shape are
 * checked before anything is copied, so on error the model is exactly as it
 * was.  Errors: SL_ERR_READ, SL_ERR_FORMAT (a missing tensor; an unknown
 * normalisation, a missing or malformed mean or std: names the key),
 * SL_ERR_SHAPE (a tensor of another shape: names it).
 */
SL_API sl_status sl_model_load(sl_model *m, const char *path, sl_error *err);

/**
 * A model with its optimizer's state, for loops of your own (a GAN's two models, each with
 * its optimizer): the model's tensors, the optimizer's as "optim.<param>.<slot>", the input
 * normalisation, slope.format "slope-model-optim-1", slope.optimizer and slope.steps (the
 * optimizer's), plus the caller's metadata (its epoch, say; "slope.*" keys are reserved),
 * written atomically.  opt must be the one made for m's parameters.  SL_ERR_INVALID (NULL, a
 * reserved key), SL_ERR_STATE (not initialised), SL_ERR_IO.
 */
SL_API sl_status sl_model_save_with_optimizer(const sl_model *m, const sl_optimizer *opt,
                                              const char *path, const sl_kv *meta,
                                              size_t n_meta, sl_error *err);
/**
 * Restores what sl_model_save_with_optimizer wrote into m and opt, all or nothing: the
 * format, the optimizer kind, slope.steps and every tensor's presence and shape are checked
 * before anything is copied.  The optimizer's step count is set from slope.steps, so Adam's
 * bias correction goes on where it stopped.  The caller's own metadata is read with
 * sl_safetensors_read.  Errors: SL_ERR_IO, SL_ERR_FORMAT (another format or optimizer, a
 * missing tensor or key: named), SL_ERR_SHAPE (named), SL_ERR_INVALID (NULL).
 */
SL_API sl_status sl_model_load_with_optimizer(sl_model *m, sl_optimizer *opt, const char *path,
                                              sl_error *err);

typedef struct sl_eval_result {
    double loss;
    double accuracy;
    int64_t samples;
    int64_t *confusion;  /**< optional caller buffer of C*C counts (row = label, column = prediction), or NULL */
} sl_eval_result;

/**
 * Evaluates model on ds in evaluation mode without recording gradients.
 * If result->confusion is set it is filled (zeroed first).
 */
SL_API sl_status sl_evaluate(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                             sl_loss_kind loss, sl_eval_result *result, sl_error *err);

/**
 * sl_evaluate of one shard of ds per replica of s, the contiguous samples
 * [count*rank/ranks, count*(rank+1)/ranks), with the sums reduced by
 * s->reduce_eval so that every replica gets the result for the whole of ds
 * (result->confusion too, when set).  s == NULL or ranks == 1 without
 * reduce_eval: sl_evaluate.  Every replica must call it (the reduce is
 * collective).  Errors: those of sl_evaluate, SL_ERR_INVALID (a strategy
 * sl_trainer_set_strategy would refuse).
 */
SL_API sl_status sl_evaluate_sharded(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                                     sl_loss_kind loss, const sl_train_strategy *s,
                                     sl_eval_result *result, sl_error *err);

/**
 * sl_evaluate_sharded of the trainer's model on ds with its loss, its batch size and its
 * strategy (sl_trainer_set_strategy; without one, the whole of ds), in the trainer's graph
 * and batch buffers: a forward-only batch fits in the arena a training step has grown, so
 * evaluating during training holds no memory of its own.  The graph is reset (its arena
 * tensors become invalid) and gets its modes back.  Under MPI sync the buffers first
 * (sl_dist_sync_buffers), as sl_dist_evaluate does.  Errors: those of
 * sl_evaluate_sharded, SL_ERR_INVALID for a NULL trainer.
 */
SL_API sl_status sl_trainer_evaluate(sl_trainer *t, const sl_dataset *ds, sl_eval_result *result,
                                     sl_error *err);

/**
 * Runs model on n samples x (n * sample size floats) in evaluation mode.
 * x holds RAW inputs, as the dataset stores them (0..255 for uint8 images):
 * the model's input normalisation (sl_model_set_input_normalize, restored
 * by sl_model_load / sl_trainer_load) is applied first, into a scratch copy
 * (x is not written), exactly as a dataset with that normalisation reads
 * them, so the outputs are those sl_evaluate sees.  For a model whose
 * normalisation is SL_NORMALIZE_NONE (the default) x goes to the model as
 * it is.  outputs (n * output size floats) and classes (n arg-max indices)
 * may each be NULL.  Errors: SL_ERR_INVALID (NULL model or x, n < 1),
 * SL_ERR_NOMEM, errors of the forward pass.
 */
SL_API sl_status sl_predict(sl_model *model, const float *x, int64_t n, float *outputs,
                            int32_t *classes, sl_error *err);

/**
 * What `slope summary` prints: "NAME: input 1x28x28", then per layer its index, type,
 * output shape per example, parameter count and multiply-adds per example, then the
 * totals (parameters and MiB, multiply-adds and MFLOP forward).  name may be NULL
 * ("model").  Errors: SL_ERR_INVALID (NULL out or m).
 */
SL_API sl_status sl_model_print_summary(FILE *out, const sl_model *m, const char *name,
                                        sl_error *err);
/**
 * What `slope eval` prints after the loss: per class its accuracy and example count (with
 * ds's class names when ds is not NULL and has them), then the confusion matrix
 * (rows: label, columns: prediction) from confusion[classes * classes], as sl_evaluate
 * fills it.  Errors: SL_ERR_INVALID (NULL out or confusion, classes outside 1..65536).
 */
SL_API sl_status sl_eval_print_confusion(FILE *out, const sl_dataset *ds,
                                         const int64_t *confusion, int64_t classes,
                                         sl_error *err);

/**
 * The classifier score of n samples x (raw inputs, as sl_predict takes them): with p(y|x)
 * the classifier's softmax and p(y) its mean over the samples, exp(mean_x KL(p(y|x) ||
 * p(y))) -- the Inception score's form with a classifier of one's own.  It lies in [1, C]
 * for C classes: near C when each sample is confidently one class and the classes are used
 * evenly (real Fashion-MNIST test images and slope's fashion_cnn give about 9), 1 when the
 * classifier sees nothing it can tell apart.  Runs in batches of `batch` samples; allocates
 * n * C floats.  Errors: SL_ERR_INVALID (NULL, n or batch < 1, a classifier without a flat
 * output of 2 or more classes), SL_ERR_NOMEM, those of sl_predict.
 */
SL_API sl_status sl_classifier_score(sl_model *classifier, const float *x, int64_t n,
                                     int64_t batch, double *score, sl_error *err);

#ifdef __cplusplus
}
#endif
#endif
