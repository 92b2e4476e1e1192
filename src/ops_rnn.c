/*
 * ops_rnn.c - the Elman recurrence (sl_rnn, slope/ops.h), on OpenBLAS sgemm.
 *
 * Layout: everything per step lives in [N, T, H] arena arrays (batch first,
 * as the input), so step t of all N sequences is a strided [N, H] matrix with
 * leading dimension T*H, which sgemm takes as it is: no per-step copies.
 *
 * Forward: pre = X W_ih^T + (b_ih + b_hh) for all steps in one GEMM, then one
 * [N, H] x [H, H] GEMM per step adds h_{t-1} W_hh^T, and h_t = act(pre_t).
 * Backward (through the whole sequence): walking t down, dh_t = dY_t +
 * dpre_{t+1} W_hh, dpre_t = dh_t * act'(pre_t), dW_hh += dpre_t^T h_{t-1};
 * then one GEMM each for dX = dpre W_ih and dW_ih = dpre^T X, and the biases
 * sum dpre's rows.  Scratch for backward comes from the arena.
 */
#include <math.h>
#include <string.h>

#include "ops_common.h"
#include "ops_rnn_internal.h"

typedef struct rnn_state {
    float *pre;  /* [N, T, H] pre-activations */
    float *h;    /* [N, T, H] hidden states (the output itself when sequence) */
    int N, T, F, H;
    sl_rnn_act act;
    float alpha;
    int sequence;
} rnn_state;

static rnn_state *rnn_state_of(const sl_node *n) { return n->state; }

/* The slope of the activation for unit j below 0 (tanh does not use it). */
static float slope_of(sl_rnn_act act, float alpha, const sl_tensor *slope, int j)
{
    if (act == SL_RNN_RELU)
        return 0.0f;
    if (act == SL_RNN_LEAKY_RELU)
        return alpha;
    return slope->size == 1 ? slope->data[0] : slope->data[j];
}

/* h[0..H) = act(pre[0..H)) for one row. */
static void act_row(const float *pre, float *h, int H, sl_rnn_act act, float alpha,
                    const sl_tensor *slope)
{
    if (act == SL_RNN_TANH) {
        sl_k_tanh_fwd(pre, h, H);
        return;
    }
    for (int j = 0; j < H; j++) {
        float v = pre[j];
        h[j] = v > 0.0f ? v : slope_of(act, alpha, slope, j) * v;
    }
}

/* dpre = dh * act'(pre) for one row (overwrites); prelu slopes gather pre * dh below 0. */
static void act_row_bwd(const float *pre, const float *h, const float *dh, float *dpre, int H,
                        sl_rnn_act act, float alpha, const sl_tensor *slope, float *dslope)
{
    if (act == SL_RNN_TANH) {
        for (int j = 0; j < H; j++)
            dpre[j] = dh[j] * (1.0f - h[j] * h[j]);
        return;
    }
    for (int j = 0; j < H; j++) {
        /* relu's gradient at 0 is 0, the leaky family's is its slope (DESIGN.md). */
        int pos = pre[j] > 0.0f;
        dpre[j] = pos ? dh[j] : slope_of(act, alpha, slope, j) * dh[j];
        if (dslope && !pos)
            dslope[slope->size == 1 ? 0 : j] += pre[j] * dh[j];
    }
}

/* ---- backward ------------------------------------------------------------------------ */

/* dh[N, H] = dY_t (the output's gradient at step t, if it has one there). */
static void seed_dh(const rnn_state *s, const float *dy, int t, float *dh)
{
    int H = s->H, T = s->T;
    for (int n = 0; n < s->N; n++) {
        float *row = dh + (size_t)n * H;
        if (s->sequence)
            memcpy(row, dy + ((size_t)n * T + t) * H, (size_t)H * sizeof(float));
        else if (t == T - 1)
            memcpy(row, dy + (size_t)n * H, (size_t)H * sizeof(float));
        else
            memset(row, 0, (size_t)H * sizeof(float));
    }
}

/* Walks the steps down, filling dpre[N, T, H]; dW_hh and the prelu slopes accumulate. */
static void backprop_steps(sl_node *nd, float *dpre, float *dh)
{
    const rnn_state *s = rnn_state_of(nd);
    sl_tensor *w_hh = nd->in[2], *slope = nd->in[5];
    int N = s->N, T = s->T, H = s->H, ld = T * H;
    float *dslope = s->act == SL_RNN_PRELU && sl_ag_wants_grad(nd, 5) ? slope->grad : NULL;
    int want_whh = sl_ag_wants_grad(nd, 2);
    for (int t = T - 1; t >= 0; t--) {
        seed_dh(s, nd->out->grad, t, dh);
        if (t < T - 1) /* dh_t += dpre_{t+1} W_hh */
            sl_k_sgemm(0, 0, N, H, H, 1.0f, dpre + (size_t)(t + 1) * H, ld, w_hh->data, H, 1.0f,
                       dh, H);
        for (int n = 0; n < N; n++) {
            size_t off = ((size_t)n * T + t) * H;
            act_row_bwd(s->pre + off, s->h + off, dh + (size_t)n * H, dpre + off, H, s->act,
                        s->alpha, slope, dslope);
        }
        if (want_whh && t > 0) /* dW_hh += dpre_t^T h_{t-1} */
            sl_k_sgemm(1, 0, H, H, N, 1.0f, dpre + (size_t)t * H, ld,
                       s->h + (size_t)(t - 1) * H, ld, 1.0f, w_hh->grad, H);
    }
}

static void rnn_backward(sl_node *nd)
{
    const rnn_state *s = rnn_state_of(nd);
    sl_tensor *x = nd->in[0], *w_ih = nd->in[1];
    int64_t NT = (int64_t)s->N * s->T;
    /* The walker runs backward with the graph's arena still live; the state holds the
     * scratch made in forward (so backward allocates nothing). */
    float *dpre = s->pre + NT * s->H * 2, *dh = dpre + NT * s->H;
    backprop_steps(nd, dpre, dh);
    int M = (int)NT, F = s->F, H = s->H;
    if (sl_ag_wants_grad(nd, 0)) /* dX += dpre W_ih */
        sl_k_sgemm(0, 0, M, F, H, 1.0f, dpre, H, w_ih->data, F, 1.0f, x->grad, F);
    if (sl_ag_wants_grad(nd, 1)) /* dW_ih += dpre^T X */
        sl_k_sgemm(1, 0, H, F, M, 1.0f, dpre, H, x->data, F, 1.0f, w_ih->grad, F);
    for (int k = 3; k <= 4; k++)
        if (nd->in[k] && sl_ag_wants_grad(nd, k))
            sl_k_bias_grad_rows(dpre, nd->in[k]->grad, NT, H);
}

const sl_op_def sl_op_rnn_row = {SL_OP_RNN, "rnn", rnn_backward, sizeof(rnn_state), 0};

/* ---- forward ------------------------------------------------------------------------- */

static int is_vector(const sl_tensor *t, int64_t n) { return !t || (t->ndim == 1 && t->size == n); }

static sl_tensor *check_args(sl_graph *g, const sl_tensor *x, const sl_tensor *w_ih,
                             const sl_tensor *w_hh, const sl_tensor *b_ih, const sl_tensor *b_hh,
                             const sl_tensor *slope, sl_rnn_act act, float alpha)
{
    char sx[64], sw[64], sh[64];
    if (x->ndim != 3 || w_ih->ndim != 2 || w_hh->ndim != 2 || w_ih->shape[1] != x->shape[2] ||
        w_hh->shape[0] != w_ih->shape[0] || w_hh->shape[1] != w_ih->shape[0])
        return sl_ag_fail(g, SL_ERR_SHAPE,
                          "rnn: input %s, weight_ih %s and weight_hh %s do not fit (expected "
                          "[N, T, F], [H, F], [H, H])",
                          SL_SHAPE(x, sx), SL_SHAPE(w_ih, sw), SL_SHAPE(w_hh, sh));
    int64_t H = w_ih->shape[0];
    if (!is_vector(b_ih, H) || !is_vector(b_hh, H))
        return sl_ag_fail(g, SL_ERR_SHAPE, "rnn: the biases must be [%lld]", (long long)H);
    if ((int)act < SL_RNN_TANH || act > SL_RNN_PRELU)
        return sl_ag_fail(g, SL_ERR_INVALID, "rnn: unknown activation %d", (int)act);
    if (act == SL_RNN_LEAKY_RELU && !isfinite(alpha))
        return sl_ag_fail(g, SL_ERR_INVALID, "rnn: alpha must be finite, got %g", (double)alpha);
    if (act == SL_RNN_PRELU && (!slope || slope->ndim != 1 || (slope->size != 1 && slope->size != H)))
        return sl_ag_fail(g, SL_ERR_INVALID, "rnn: prelu needs a slope tensor of [1] or [%lld]",
                          (long long)H);
    if (x->size > INT32_MAX || H * x->shape[1] > INT32_MAX || x->shape[0] * x->shape[1] * H >
                                                                     INT32_MAX)
        return sl_ag_fail(g, SL_ERR_SHAPE, "rnn: a dimension exceeds INT_MAX");
    return (sl_tensor *)x;
}

/* pre = X W_ih^T + b_ih + b_hh over all N*T rows at once. */
static void project_inputs(const sl_tensor *x, const sl_tensor *w_ih, const sl_tensor *b_ih,
                           const sl_tensor *b_hh, float *pre, int M, int F, int H)
{
    for (int r = 0; r < M; r++) {
        float *row = pre + (size_t)r * H;
        for (int j = 0; j < H; j++)
            row[j] = (b_ih ? b_ih->data[j] : 0.0f) + (b_hh ? b_hh->data[j] : 0.0f);
    }
    sl_k_sgemm(0, 1, M, H, F, 1.0f, x->data, F, w_ih->data, F, 1.0f, pre, H);
}

/* The steps: pre_t += h_{t-1} W_hh^T, h_t = act(pre_t). */
static void recur(const rnn_state *s, const sl_tensor *w_hh, const sl_tensor *slope)
{
    int N = s->N, T = s->T, H = s->H, ld = T * H;
    for (int t = 0; t < T; t++) {
        if (t > 0)
            sl_k_sgemm(0, 1, N, H, H, 1.0f, s->h + (size_t)(t - 1) * H, ld, w_hh->data, H, 1.0f,
                       s->pre + (size_t)t * H, ld);
        for (int n = 0; n < N; n++) {
            size_t off = ((size_t)n * T + t) * H;
            act_row(s->pre + off, s->h + off, H, s->act, s->alpha, slope);
        }
    }
}

/* The recurrence; pre_out and hidden_out (may be NULL) receive views of the
 * pre-activations and hidden states [N, T, H]; the pre view carries the gradient
 * backward computes (zero until then). */
static sl_tensor *rnn_run(sl_graph *g, sl_tensor *x, sl_tensor *w_ih, sl_tensor *w_hh,
                          sl_tensor *b_ih, sl_tensor *b_hh, sl_tensor *slope, sl_rnn_act act,
                          float alpha, int sequence, sl_tensor **pre_out, sl_tensor **hidden_out)
{
    if (sl_ops_skip(g, x) || !w_ih || !w_hh ||
        !check_args(g, x, w_ih, w_hh, b_ih, b_hh, slope, act, alpha))
        return NULL;
    rnn_state s = {NULL, NULL, (int)x->shape[0], (int)x->shape[1], (int)x->shape[2],
                   (int)w_ih->shape[0], act, alpha, sequence != 0};
    int64_t NTH = (int64_t)s.N * s.T * s.H, seq_shape[3] = {s.N, s.T, s.H},
            last_shape[2] = {s.N, s.H};
    sl_tensor *y = sequence ? sl_ag_output(g, 3, seq_shape) : sl_ag_output(g, 2, last_shape);
    /* One block: pre, h (unless the output holds it), then backward's dpre and dh. */
    int grad = sl_graph_grad_enabled(g);
    size_t floats = (size_t)NTH * (grad ? 3 : 2) + (grad ? (size_t)s.N * s.H : 0);
    s.pre = y ? sl_ag_alloc(g, floats * sizeof(float)) : NULL;
    if (!s.pre)
        return NULL;
    s.h = sequence ? y->data : s.pre + NTH;
    project_inputs(x, w_ih, b_ih, b_hh, s.pre, s.N * s.T, s.F, s.H);
    recur(&s, w_hh, slope);
    if (!sequence)
        for (int n = 0; n < s.N; n++)
            memcpy(y->data + (size_t)n * s.H, s.h + ((size_t)n * s.T + s.T - 1) * s.H,
                   (size_t)s.H * sizeof(float));
    if (pre_out && (*pre_out = sl_ag_view(g, 3, seq_shape, NTH, s.pre)) && grad) {
        (*pre_out)->grad = s.pre + 2 * NTH; /* dpre, which backward fills */
        memset((*pre_out)->grad, 0, (size_t)NTH * sizeof(float));
    }
    if (hidden_out)
        *hidden_out = sequence ? y : sl_ag_view(g, 3, seq_shape, NTH, s.h);
    sl_tensor *in[6] = {x, w_ih, w_hh, b_ih, b_hh, act == SL_RNN_PRELU ? slope : NULL};
    sl_node *nd = sl_ag_record(g, SL_OP_RNN, y, in, 6);
    if (nd)
        *rnn_state_of(nd) = s;
    return y;
}

sl_tensor *sl_rnn(sl_graph *g, sl_tensor *x, sl_tensor *w_ih, sl_tensor *w_hh, sl_tensor *b_ih,
                  sl_tensor *b_hh, sl_tensor *slope, sl_rnn_act act, float alpha, int sequence,
                  sl_tensor **pre_out)
{
    if (pre_out)
        *pre_out = NULL;
    sl_tensor *y = rnn_run(g, x, w_ih, w_hh, b_ih, b_hh, slope, act, alpha, sequence, pre_out,
                           NULL);
    if (pre_out && *pre_out)
        (*pre_out)->grad = NULL; /* the documented view: values only */
    return y;
}

sl_tensor *sl_rnn_capture(sl_graph *g, sl_tensor *x, sl_tensor *w_ih, sl_tensor *w_hh,
                          sl_tensor *b_ih, sl_tensor *b_hh, sl_tensor *slope, sl_rnn_act act,
                          float alpha, int sequence, sl_tensor **pre, sl_tensor **hidden)
{
    *pre = *hidden = NULL;
    return rnn_run(g, x, w_ih, w_hh, b_ih, b_hh, slope, act, alpha, sequence, pre, hidden);
}
