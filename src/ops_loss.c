/* ops_loss.c - cross-entropy over logits, mean squared error, binary cross-entropy on logits. */
#include <string.h>

#include "ops_common.h"

static sl_tensor *scalar_output(sl_graph *g)
{
    int64_t one = 1;
    return sl_ag_output(g, 1, &one);
}

/* Forward's softmax, a copy of the labels (arena memory) and the label smoothing. */
typedef struct ce_state {
    const float *probs;
    const int32_t *labels;
    float smoothing;
} ce_state;

static ce_state *ce_state_of(const sl_node *n) { return n->state; }

static void cross_entropy_backward(sl_node *n)
{
    sl_tensor *logits = n->in[0];
    const ce_state *s = ce_state_of(n);
    int64_t N = logits->shape[0], C = logits->shape[1];
    if (sl_ag_wants_grad(n, 0))
        sl_k_softmax_ce_bwd(s->probs, s->labels, logits->grad, N, C, s->smoothing,
                            n->out->grad[0] / (float)N);
}

const sl_op_def sl_op_cross_entropy_row = {SL_OP_CROSS_ENTROPY, "cross_entropy",
                                           cross_entropy_backward, sizeof(ce_state), 0};

sl_tensor *sl_cross_entropy(sl_graph *g, sl_tensor *logits, const int32_t *labels)
{
    return sl_cross_entropy_smoothed(g, logits, labels, 0.0f);
}

sl_tensor *sl_cross_entropy_smoothed(sl_graph *g, sl_tensor *logits, const int32_t *labels,
                                     float smoothing)
{
    if (sl_ops_skip(g, logits))
        return NULL;
    if (!labels)
        return sl_ag_fail(g, SL_ERR_INVALID, "cross_entropy: labels are NULL");
    if (!(smoothing >= 0.0f && smoothing < 1.0f))
        return sl_ag_fail(g, SL_ERR_INVALID,
                          "cross_entropy: label smoothing must be in [0, 1), got %g",
                          (double)smoothing);
    if (logits->ndim != 2) {
        char sx[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "cross_entropy: logits must be [N, C], got %s",
                          SL_SHAPE(logits, sx));
    }
    int64_t N = logits->shape[0], C = logits->shape[1];
    for (int64_t i = 0; i < N; i++)
        if (labels[i] < 0 || labels[i] >= C)
            return sl_ag_fail(g, SL_ERR_INVALID,
                              "cross_entropy: label %d of example %lld is outside [0, %lld)",
                              labels[i], (long long)i, (long long)C);
    sl_tensor *loss = scalar_output(g);
    float *probs = loss ? sl_ag_alloc(g, (size_t)logits->size * sizeof(float)) : NULL;
    int32_t *saved_labels = probs ? sl_ag_alloc(g, (size_t)N * sizeof(int32_t)) : NULL;
    if (!saved_labels)
        return NULL;
    memcpy(saved_labels, labels, (size_t)N * sizeof(int32_t));
    loss->data[0] = sl_k_softmax_ce_fwd(logits->data, labels, probs, N, C, smoothing);
    sl_node *n = sl_ag_record(g, SL_OP_CROSS_ENTROPY, loss, &logits, 1);
    if (n)
        *ce_state_of(n) = (ce_state){probs, saved_labels, smoothing};
    return loss;
}

static void mse_backward(sl_node *n)
{
    sl_tensor *pred = n->in[0], *target = n->in[1];
    float scale = n->out->grad[0] / (float)pred->size;
    sl_k_mse_bwd(pred->data, target->data, sl_ag_wants_grad(n, 0) ? pred->grad : NULL,
                 sl_ag_wants_grad(n, 1) ? target->grad : NULL, pred->size, scale);
}

const sl_op_def sl_op_mse_row = {SL_OP_MSE, "mse", mse_backward, 0, 0};

sl_tensor *sl_mse(sl_graph *g, sl_tensor *pred, sl_tensor *target)
{
    if (sl_ops_skip(g, pred) || !target)
        return NULL;
    if (!sl_tensor_same_shape(pred, target)) {
        char sp[64], st[64];
        return sl_ag_fail(g, SL_ERR_SHAPE, "mse: prediction %s and target %s differ",
                          SL_SHAPE(pred, sp), SL_SHAPE(target, st));
    }
    sl_tensor *loss = scalar_output(g);
    if (!loss)
        return NULL;
    loss->data[0] = sl_k_mse_fwd(pred->data, target->data, pred->size);
    sl_tensor *in[2] = {pred, target};
    sl_ag_record(g, SL_OP_MSE, loss, in, 2);
    return loss;
}

static void bce_with_logits_backward(sl_node *n)
{
    sl_tensor *logits = n->in[0], *targets = n->in[1];
    int64_t step = targets->size == logits->size ? 1 : 0;
    float scale = n->out->grad[0] / (float)logits->size;
    float *dtargets = sl_ag_wants_grad(n, 1) ? targets->grad : NULL;
    sl_k_bce_logits_bwd(logits->data, targets->data, step,
                        sl_ag_wants_grad(n, 0) ? logits->grad : NULL, dtargets, logits->size,
                        scale);
}

const sl_op_def sl_op_bce_with_logits_row = {SL_OP_BCE_WITH_LOGITS, "bce_with_logits",
                                             bce_with_logits_backward, 0, 0};

sl_tensor *sl_bce_with_logits(sl_graph *g, sl_tensor *logits, sl_tensor *targets)
{
    if (sl_ops_skip(g, logits))
        return NULL;
    if (!targets)
        return sl_ag_fail(g, SL_ERR_INVALID, "bce_with_logits: targets are NULL");
    if (targets->size != 1 && !sl_tensor_same_shape(logits, targets)) {
        char sl[64], st[64];
        return sl_ag_fail(g, SL_ERR_SHAPE,
                          "bce_with_logits: targets %s must have the logits' shape %s or one "
                          "element", SL_SHAPE(targets, st), SL_SHAPE(logits, sl));
    }
    sl_tensor *loss = scalar_output(g);
    if (!loss)
        return NULL;
    int64_t step = targets->size == logits->size ? 1 : 0;
    loss->data[0] = sl_k_bce_logits_fwd(logits->data, targets->data, step, logits->size);
    sl_tensor *in[2] = {logits, targets};
    sl_ag_record(g, SL_OP_BCE_WITH_LOGITS, loss, in, 2);
    return loss;
}
