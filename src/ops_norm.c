/*
 * ops_norm.c - batch normalisation over dim 1, as PyTorch's batch_norm.
 *
 * Forward saves xhat (normalised input) and 1/sqrt(var + eps) per channel.
 * Training-mode backward, with M = N * inner elements per channel:
 *   dx = gamma * inv_std / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
 * Evaluation mode uses fixed statistics, so dx = gamma * inv_std * dy.
 * Channels are independent (each one's sums, outputs and gradients), so forward and backward
 * split the channels over slope's threads; every channel is computed in the same order on
 * any thread count, so the results do not depend on it.
 */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "parallel.h"

/* What backward reads: forward's normalised input, per-channel scale and mode (arena memory). */
typedef struct bn_state {
    const float *xhat;
    const float *inv_std; /* C floats */
    int training;
} bn_state;

static bn_state *bn_state_of(const sl_node *n) { return n->state; }

/* Channel c of [N, C, inner] is N runs of `inner` contiguous floats. */
#define BN_FOR_CHANNEL(x, c, N, C, inner, ptr, body)                                            \
    for (int64_t bn_n = 0; bn_n < (N); bn_n++) {                                               \
        const int64_t bn_base = (bn_n * (C) + (c)) * (inner);                                  \
        for (int64_t bn_p = 0; bn_p < (inner); bn_p++) {                                       \
            const int64_t ptr = bn_base + bn_p;                                                \
            body;                                                                              \
        }                                                                                      \
    }

/* Channels below this many values each run on one thread (a thread's wake-up costs more). */
#define BN_PAR_MIN_VALUES 16384

/* Channels per task: enough that a task holds BN_PAR_MIN_VALUES values. */
static int64_t bn_min_chunk(int64_t values_per_channel)
{
    return values_per_channel >= BN_PAR_MIN_VALUES ? 1 : BN_PAR_MIN_VALUES / values_per_channel;
}

static void bn_backward_channels(void *ctx, int64_t c0, int64_t c1)
{
    sl_node *n = ctx;
    sl_tensor *x = n->in[0], *gamma = n->in[1], *beta = n->in[2], *y = n->out;
    const bn_state *s = bn_state_of(n);
    int64_t N = x->shape[0], C = x->shape[1], inner = x->size / (N * C);
    double M = (double)(N * inner);
    int training = s->training;
    for (int64_t c = c0; c < c1; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        BN_FOR_CHANNEL(x, c, N, C, inner, i, {
            sum_dy += y->grad[i];
            sum_dy_xhat += (double)y->grad[i] * s->xhat[i];
        });
        if (gamma && sl_ag_wants_grad(n, 1))
            gamma->grad[c] += (float)sum_dy_xhat;
        if (beta && sl_ag_wants_grad(n, 2))
            beta->grad[c] += (float)sum_dy;
        if (!sl_ag_wants_grad(n, 0))
            continue;
        float scale = (gamma ? gamma->data[c] : 1.0f) * s->inv_std[c];
        if (training) {
            float mean_dy = (float)(sum_dy / M), mean_dy_xhat = (float)(sum_dy_xhat / M);
            BN_FOR_CHANNEL(x, c, N, C, inner, i, {
                x->grad[i] += scale * (y->grad[i] - mean_dy - s->xhat[i] * mean_dy_xhat);
            });
        } else {
            BN_FOR_CHANNEL(x, c, N, C, inner, i, { x->grad[i] += scale * y->grad[i]; });
        }
    }
}

static void batch_norm_backward(sl_node *n)
{
    sl_tensor *x = n->in[0];
    int64_t C = x->shape[1];
    sl_par_for(C, bn_min_chunk(x->size / C), 1, bn_backward_channels, n);
}

const sl_op_def sl_op_batch_norm_row = {SL_OP_BATCH_NORM, "batch_norm", batch_norm_backward,
                                        sizeof(bn_state), 0};

static const char *bn_check(const sl_tensor *x, const sl_tensor *gamma, const sl_tensor *beta,
                            const sl_tensor *rm, const sl_tensor *rv, float momentum, float eps,
                            int training)
{
    if (x->ndim != 2 && x->ndim != 4)
        return "input must be [N, C] or [N, C, H, W]";
    int64_t C = x->shape[1];
    if ((gamma && gamma->size != C) || (beta && beta->size != C))
        return "gamma and beta must have one element per channel";
    if (!rm || !rv || rm->size != C || rv->size != C)
        return "running_mean and running_var must have one element per channel";
    if (!(eps > 0.0f) || !isfinite(eps) || !(momentum >= 0.0f && momentum <= 1.0f))
        return "eps must be finite and > 0, momentum in [0, 1]";
    if (training && x->size / C < 2)
        return "training mode needs more than one value per channel";
    return NULL;
}

/* Batch statistics of channel c; updates the running ones (unbiased variance, as PyTorch). */
static void bn_batch_stats(const sl_tensor *x, int64_t c, sl_tensor *rm, sl_tensor *rv,
                           float momentum, double *mean_out, double *var_out)
{
    int64_t N = x->shape[0], C = x->shape[1], inner = x->size / (N * C);
    double M = (double)(N * inner), sum = 0.0, sq = 0.0;
    BN_FOR_CHANNEL(x, c, N, C, inner, i, { sum += x->data[i]; });
    double mean = sum / M;
    BN_FOR_CHANNEL(x, c, N, C, inner, i, {
        double d = x->data[i] - mean;
        sq += d * d;
    });
    double var = sq / M;
    rm->data[c] = (float)((1.0 - momentum) * rm->data[c] + momentum * mean);
    rv->data[c] = (float)((1.0 - momentum) * rv->data[c] + momentum * var * M / (M - 1.0));
    *mean_out = mean;
    *var_out = var;
}

typedef struct bn_forward_job {
    const sl_tensor *x, *gamma, *beta;
    sl_tensor *rm, *rv, *y;
    float *xhat, *inv_stds;
    float momentum, eps;
    int training;
} bn_forward_job;

static void bn_forward_channels(void *ctx, int64_t c0, int64_t c1)
{
    const bn_forward_job *j = ctx;
    const sl_tensor *x = j->x;
    int64_t N = x->shape[0], C = x->shape[1], inner = x->size / (N * C);
    for (int64_t c = c0; c < c1; c++) {
        double mean, var;
        if (j->training)
            bn_batch_stats(x, c, j->rm, j->rv, j->momentum, &mean, &var);
        else {
            mean = j->rm->data[c];
            var = j->rv->data[c];
        }
        float inv_std = (float)(1.0 / sqrt(var + j->eps)), fmean = (float)mean;
        float gm = j->gamma ? j->gamma->data[c] : 1.0f, bt = j->beta ? j->beta->data[c] : 0.0f;
        j->inv_stds[c] = inv_std;
        BN_FOR_CHANNEL(x, c, N, C, inner, i, {
            j->xhat[i] = (x->data[i] - fmean) * inv_std;
            j->y->data[i] = gm * j->xhat[i] + bt;
        });
    }
}

sl_tensor *sl_batch_norm(sl_graph *g, sl_tensor *x, sl_tensor *gamma, sl_tensor *beta,
                         sl_tensor *running_mean, sl_tensor *running_var, float momentum,
                         float eps)
{
    if (sl_ops_skip(g, x))
        return NULL;
    int training = sl_graph_training(g);
    const char *problem =
        bn_check(x, gamma, beta, running_mean, running_var, momentum, eps, training);
    if (problem) {
        char sx[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "batch_norm: input %s: %s", SL_SHAPE(x, sx), problem);
    }
    int64_t C = x->shape[1];
    sl_tensor *y = sl_ag_output(g, x->ndim, x->shape);
    float *xhat = y ? sl_ag_alloc(g, (size_t)x->size * sizeof(float)) : NULL;
    float *inv_stds = xhat ? sl_ag_alloc(g, (size_t)C * sizeof(float)) : NULL;
    if (!inv_stds)
        return NULL;
    bn_forward_job j = {x, gamma, beta, running_mean, running_var, y, xhat, inv_stds,
                        momentum, eps, training};
    sl_par_for(C, bn_min_chunk(x->size / C), 1, bn_forward_channels, &j);
    sl_tensor *in[3] = {x, gamma, beta};
    sl_node *n = sl_ag_record(g, SL_OP_BATCH_NORM, y, in, 3);
    if (n)
        *bn_state_of(n) = (bn_state){xhat, inv_stds, training};
    return y;
}
