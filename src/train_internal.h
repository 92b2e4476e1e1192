/* train_internal.h - the trainer's state, shared by train.c and checkpoint.c. */
#ifndef SLOPE_TRAIN_INTERNAL_H
#define SLOPE_TRAIN_INTERNAL_H

#include "slope/train.h"

struct sl_trainer {
    sl_model *model;          /* borrowed */
    const sl_dataset *data;   /* borrowed */
    sl_train_options opt;
    sl_graph *graph;
    sl_optimizer *optim;
    sl_batch_iter *iter;
    float *x;                 /* one batch of inputs */
    int32_t *labels;
    sl_tensor *input;         /* view over x, resized per batch */
    float *aug_scratch;       /* one image for opt.augment, else NULL */
    int64_t classes;
    int64_t batches;          /* per epoch */
    int epoch;                /* epochs completed */
    int64_t steps;            /* optimizer steps taken */
    sl_train_strategy strategy; /* data-parallel replicas; rank 0 of 1, no reduce, alone */
};

/* The model's parameter table as the array sl_optimizer_new takes. */
static inline const sl_param *model_params(const sl_model *m)
{
    return sl_model_param(m, 0);
}

int32_t sl_argmax(const float *v, int64_t n);
int64_t sl_count_correct(const float *out, const int32_t *labels, int64_t n, int64_t classes);
void sl_batch_view_resize(sl_tensor *x, int64_t n);

#endif
