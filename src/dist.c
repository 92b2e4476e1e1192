/*
 * dist.c - data-parallel training on top of the communication backend
 * (dist_mpi.c or dist_none.c): the trainer's two hooks, agreement on
 * errors, sharded evaluation and buffer averaging.  See slope/dist.h.
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

#include "data_internal.h"
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
    int64_t n = 0;
    float *flat = sl_model_flat_params(t->model, &n);
    sl_status st = flat ? bcast_floats(flat, n, err) : SL_OK;
    for (size_t i = 0; st == SL_OK && i < sl_model_num_params(t->model); i++) {
        const sl_param *p = sl_model_param(t->model, i);
        if (p->role == SL_PARAM_BUFFER)
            st = bcast_floats(p->tensor->data, p->tensor->size, err);
    }
    for (size_t i = 0; st == SL_OK && i < sl_optimizer_state_count(t->optim); i++) {
        const char *name;
        sl_tensor *s = sl_optimizer_state(t->optim, i, &name);
        if (s)
            st = bcast_floats(s->data, s->size, err);
    }
    return st;
}

sl_status sl_dist_trainer(sl_trainer *t, sl_error *err)
{
    sl_status st = t ? SL_OK : sl_error_set(err, SL_ERR_INVALID, "sl_dist_trainer: trainer is NULL");
    /* What must be equal on every rank for their steps to be one step. */
    static const char *const what[] = {"trainable parameters", "parameter tensors",
                                       "training samples",     "batch size",
                                       "steps taken",          "seed",
                                       "shuffle",              "drop_last",
                                       "epochs"};
    enum { N_CHECK = sizeof what / sizeof what[0] };
    int64_t mine[N_CHECK] = {0}, root[N_CHECK];
    if (t) {
        int64_t v[N_CHECK] = {sl_model_param_count(t->model), (int64_t)sl_model_num_params(t->model),
                              sl_dataset_count(t->data),     t->opt.batch_size,
                              t->steps,                      (int64_t)t->opt.seed,
                              t->opt.shuffle != 0,           t->opt.drop_last != 0,
                              t->opt.epochs};
        memcpy(mine, v, sizeof mine);
    }
    memcpy(root, mine, sizeof root);
    sl_error comm = {0};
    if (sl_dist_bcast(root, sizeof root, 0, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    for (int i = 0; st == SL_OK && i < N_CHECK; i++)
        if (mine[i] != root[i])
            st = sl_error_set(err, SL_ERR_STATE,
                              "%s: %lld here but %lld on rank 0 (every rank must load the same "
                              "config, data and checkpoint)",
                              what[i], (long long)mine[i], (long long)root[i]);
    st = sl_dist_agree(st, err);
    if (st != SL_OK || sl_dist_size() <= 1)
        return st;
    st = sl_dist_agree(copy_rank0_state(t, err), err);
    if (st == SL_OK) {
        t->rank = sl_dist_rank();
        t->ranks = sl_dist_size();
    }
    return st;
}

/* ---- the trainer's hooks ----------------------------------------------------------------------- */

sl_status sl_dist_next_batch(sl_trainer *t, int64_t *n_global, int64_t *n_local, sl_error *err)
{
    return sl_batch_iter_next_part(t->iter, t->rank, t->ranks, t->x, t->labels, n_global, n_local,
                                   err);
}

sl_status sl_dist_reduce_step(sl_trainer *t, sl_status st, int64_t n_global, sl_step_info *info,
                              sl_error *err)
{
    if (t->ranks <= 1)
        return st;
    int64_t n_local = info->n;
    if (st == SL_OK && n_local == 0) {
        sl_model_zero_grad(t->model); /* an empty shard adds nothing */
        info->loss = 0.0f;
        info->correct = 0;
    }
    double sums[3] = {st != SL_OK, st == SL_OK ? (double)info->loss * (double)n_local : 0.0,
                      (double)info->correct};
    sl_error comm = {0};
    if (sl_dist_sum_f64(sums, 3, &comm) != SL_OK)
        return sl_error_set(err, comm.status, "%s", comm.message);
    if (sums[0] > 0.0)
        return sl_dist_agree(st, err); /* every rank stops, with the failing rank's message */
    info->n = n_global;
    info->loss = (float)(sums[1] / (double)n_global);
    info->correct = (int64_t)llround(sums[2]);
    int64_t n = 0;
    float *grad = sl_model_flat_grads(t->model, &n);
    if (!grad || n == 0)
        return SL_OK;
    if (n_local != n_global) {
        float share = (float)((double)n_local / (double)n_global);
        for (int64_t i = 0; i < n; i++)
            grad[i] *= share;
    }
    return sl_dist_sum_f32(grad, n, err);
}

/* ---- buffers and evaluation ----------------------------------------------------------------------- */

sl_status sl_dist_sync_buffers(sl_model *m, sl_error *err)
{
    int size = sl_dist_size();
    if (size <= 1)
        return SL_OK;
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
    int rank = sl_dist_rank(), size = sl_dist_size();
    if (size <= 1)
        return sl_evaluate(model, ds, batch_size, loss, result, err);
    sl_status st = SL_OK;
    if (!model || !ds || !result || batch_size < 1)
        st = sl_error_set(err, SL_ERR_INVALID, "sl_dist_evaluate: bad argument");
    if (sl_dist_agree(st, err) != SL_OK)
        return err ? err->status : SL_ERR_INVALID;
    st = sl_dist_sync_buffers(model, err);
    if (st != SL_OK)
        return st;
    int64_t out[4], count = sl_dataset_count(ds);
    sl_model_output_shape(model, out);
    int64_t classes = out[0];
    int64_t first = count * rank / size, n = count * (rank + 1) / size - first;
    sl_eval_result local;
    memset(&local, 0, sizeof local);
    local.confusion = result->confusion;
    if (n > 0) {
        sl_dataset *view = sl_data_range_view(ds, first, n, err);
        st = view ? sl_evaluate(model, view, batch_size, loss, &local, err)
                  : (err ? err->status : SL_ERR_NOMEM);
        sl_dataset_free(view);
    } else if (result->confusion) {
        memset(result->confusion, 0, (size_t)(classes * classes) * sizeof(int64_t));
    }
    if (sl_dist_agree(st, err) != SL_OK)
        return err ? err->status : SL_ERR_INVALID;
    double sums[3] = {local.loss * (double)local.samples,
                      (double)llround(local.accuracy * (double)local.samples),
                      (double)local.samples};
    st = sl_dist_sum_f64(sums, 3, err);
    if (st == SL_OK && result->confusion)
        st = sl_dist_sum_i64(result->confusion, classes * classes, err);
    if (st != SL_OK)
        return st;
    result->samples = (int64_t)llround(sums[2]);
    result->loss = result->samples ? sums[0] / sums[2] : 0.0;
    result->accuracy = result->samples ? sums[1] / sums[2] : 0.0;
    return SL_OK;
}
