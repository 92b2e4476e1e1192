/*
 * dist.c - data-parallel training on top of the communication backend
 * (dist_mpi.c or dist_none.c): agreement on errors, the trainer's MPI
 * strategy (slope/train.h's sl_train_strategy: gradient and evaluation
 * reduces), sharded evaluation and buffer averaging.  See slope/dist.h.
 * Only public trainer, model and optimizer calls: no trainer internals.
 *
 * One step on R ranks, for a global batch of n samples:
 *   every rank reads the same global batch position and keeps its shard
 *   [n*r/R, n*(r+1)/R); forward and backward give the mean gradient g_r of
 *   its n_r samples; one small all-reduce sums (failed?, loss*n_r, correct);
 *   if no rank failed, g_r is scaled by n_r/n and one all-reduce over the
 *   flat gradient buffer sums it, giving every rank sum_r n_r g_r / n: the
 *   mean gradient of the whole batch, as one process would compute it.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

/* ---- agreement ---------------------------------------------------------------------- */

/* A failing rank's status and message, as sent to the others. */
typedef struct dist_message {
    int status;
    char text[SL_ERROR_MSG_MAX];
} dist_message;

sl_status sl_dist_agree(sl_status local, sl_error *err)
{
    if (sl_dist_size() <= 1)
        return local;
    int rank = sl_dist_rank(), first = local != SL_OK ? rank : INT_MAX;
    sl_error comm = {0};
    if (sl_dist_min_int(&first, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    if (first == INT_MAX)
        return SL_OK;
    dist_message msg;
    memset(&msg, 0, sizeof msg);
    if (rank == first) {
        msg.status = (int)local;
        const char *text = err && err->message[0] ? err->message : sl_status_name(local);
        snprintf(msg.text, sizeof msg.text, "%s", text);
    }
    if (sl_dist_bcast(&msg, sizeof msg, first, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    return sl_error_set(err, (sl_status)msg.status, "rank %d: %s", first, msg.text);
}

int sl_dist_any(int flag)
{
    if (sl_dist_size() <= 1)
        return flag != 0;
    int none = flag ? 0 : 1;
    if (sl_dist_min_int(&none, NULL) != SL_OK)
        return flag != 0;
    return none == 0;
}

/* ---- making a trainer data-parallel ------------------------------------------------------ */

static sl_status bcast_floats(float *data, int64_t n, sl_error *err)
{
    return n > 0 ? sl_dist_bcast(data, (size_t)n * sizeof(float), 0, err) : SL_OK;
}

/* Rank 0's parameters, buffers and optimizer state to every rank. */
static sl_status copy_rank0_state(sl_trainer *t, sl_error *err)
{
    sl_model *m = sl_trainer_model(t);
    sl_optimizer *opt = sl_trainer_optimizer(t);
    int64_t n = 0;
    float *flat = sl_model_flat_params(m, &n);
    sl_status st = flat ? bcast_floats(flat, n, err) : SL_OK;
    for (size_t i = 0; st == SL_OK && i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (p->role == SL_PARAM_BUFFER)
            st = bcast_floats(p->tensor->data, p->tensor->size, err);
    }
    for (size_t i = 0; st == SL_OK && i < sl_optimizer_state_count(opt); i++) {
        const char *name;
        sl_tensor *s = sl_optimizer_state(opt, i, &name);
        if (s)
            st = bcast_floats(s->data, s->size, err);
    }
    return st;
}

/* ---- the MPI strategy ---------------------------------------------------------------------- */

/* The global batch from every rank's part: loss and correct summed, gradients averaged. */
static sl_status mpi_reduce_step(void *ctx, sl_status st, int64_t n_global, sl_step_info *info,
                                 float *grad, int64_t n, sl_error *err)
{
    (void)ctx;
    int64_t n_local = info->n;
    double sums[3] = {st != SL_OK, st == SL_OK ? (double)info->loss * (double)n_local : 0.0,
                      (double)info->correct};
    sl_error comm = {0};
    if (sl_dist_sum_f64(sums, 3, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    if (sums[0] > 0.0)
        return sl_dist_agree(st, err); /* every rank stops, with the failing rank's message */
    info->loss = (float)(sums[1] / (double)n_global);
    info->correct = (int64_t)llround(sums[2]);
    if (!grad || n == 0)
        return SL_OK;
    if (n_local != n_global) {
        float share = (float)((double)n_local / (double)n_global);
        for (int64_t i = 0; i < n; i++)
            grad[i] *= share;
    }
    return sl_dist_sum_f32(grad, n, err);
}

/* Agreement on the shards' status, then the sums and confusion counts over the ranks. */
static sl_status mpi_reduce_eval(void *ctx, sl_status st, double sums[3], int64_t *counts,
                                 int64_t n_counts, sl_error *err)
{
    (void)ctx;
    if (sl_dist_agree(st, err) != SL_OK)
        return err ? err->status : SL_ERR_INVALID;
    st = sl_dist_sum_f64(sums, 3, err);
    if (st == SL_OK && counts)
        st = sl_dist_sum_i64(counts, n_counts, err);
    return st;
}

static sl_train_strategy mpi_strategy(void)
{
    sl_train_strategy s = {NULL, sl_dist_rank(), sl_dist_size(), mpi_reduce_step,
                           mpi_reduce_eval};
    return s;
}

sl_status sl_dist_trainer(sl_trainer *t, sl_error *err)
{
    sl_status st = t ? SL_OK : sl_error_set(err, SL_ERR_INVALID, "sl_dist_trainer: trainer is NULL");
    /* What must be equal on every rank for their steps to be one step. */
    static const char *const what[] = {
        "trainable parameters (the model)", "parameter tensors (the model)",
        "training samples (the data)",      "batch size (train.batch_size)",
        "steps taken (the --resume checkpoint)", "seed (the config's seed)",
        "shuffle (train.shuffle)",          "drop_last (train.drop_last)",
        "epochs (train.epochs)"};
    enum { N_CHECK = sizeof what / sizeof what[0] };
    int64_t mine[N_CHECK] = {0}, root[N_CHECK];
    if (t) {
        const sl_model *m = sl_trainer_model(t);
        const sl_train_options *o = sl_trainer_options(t);
        int64_t v[N_CHECK] = {sl_model_param_count(m),   (int64_t)sl_model_num_params(m),
                              sl_dataset_count(sl_trainer_dataset(t)), o->batch_size,
                              sl_trainer_steps(t),       (int64_t)o->seed,
                              o->shuffle != 0,           o->drop_last != 0,
                              o->epochs};
        memcpy(mine, v, sizeof mine);
    }
    memcpy(root, mine, sizeof root);
    sl_error comm = {0};
    if (sl_dist_bcast(root, sizeof root, 0, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    for (int i = 0; st == SL_OK && i < N_CHECK; i++)
        if (mine[i] != root[i])
            st = sl_error_set(err, SL_ERR_CONFIG, /* an input error: exit 3 in the CLI */
                              "%s: %lld here but %lld on rank 0 (every rank must load the same "
                              "config, data and checkpoint)",
                              what[i], (long long)mine[i], (long long)root[i]);
    st = sl_dist_agree(st, err);
    if (st != SL_OK || sl_dist_size() <= 1)
        return st;
    st = sl_dist_agree(copy_rank0_state(t, err), err);
    if (st == SL_OK) {
        sl_train_strategy s = mpi_strategy();
        st = sl_trainer_set_strategy(t, &s, err); /* cannot fail: a valid strategy */
    }
    return st;
}

/* ---- buffers and evaluation ----------------------------------------------------------------------- */

sl_status sl_dist_sync_buffers(sl_model *m, sl_error *err)
{
    int size = sl_dist_size();
    if (size <= 1)
        return m ? SL_OK : sl_error_set(err, SL_ERR_INVALID, "sl_dist_sync_buffers: NULL model");
    if (!m)
        return sl_dist_agree(sl_error_set(err, SL_ERR_INVALID, "sl_dist_sync_buffers: NULL model"),
                             err);
    sl_status st = SL_OK;
    for (size_t i = 0; st == SL_OK && i < sl_model_num_params(m); i++) {
        const sl_param *p = sl_model_param(m, i);
        if (p->role != SL_PARAM_BUFFER)
            continue;
        st = sl_dist_sum_f32(p->tensor->data, p->tensor->size, err);
        for (int64_t j = 0; st == SL_OK && j < p->tensor->size; j++)
            p->tensor->data[j] /= (float)size;
    }
    return st;
}

sl_status sl_dist_evaluate(sl_model *model, const sl_dataset *ds, int64_t batch_size,
                           sl_loss_kind loss, sl_eval_result *result, sl_error *err)
{
    if (sl_dist_size() <= 1)
        return sl_evaluate(model, ds, batch_size, loss, result, err);
    sl_status st = SL_OK;
    if (!model || !ds || !result || batch_size < 1)
        st = sl_error_set(err, SL_ERR_INVALID, "sl_dist_evaluate: bad argument");
    if (sl_dist_agree(st, err) != SL_OK)
        return err ? err->status : SL_ERR_INVALID;
    st = sl_dist_sync_buffers(model, err);
    if (st != SL_OK)
        return st;
    sl_train_strategy s = mpi_strategy();
    return sl_evaluate_sharded(model, ds, batch_size, loss, &s, result, err);
}
