/*
 * nn_rnn.c - the rnn layer row's hooks (its row is in nn_layers.c): the Elman
 * recurrence as a layer over one sample [T, F], its shapes, multiply-adds,
 * forward (with the capture the statistics read), and its initialisation:
 * torch.nn.RNN's U(-1/sqrt(H), 1/sqrt(H)) for every tensor, or W_hh as the
 * identity (Le, Jaitly and Hinton's IRNN, biases 0) or a random orthogonal
 * matrix.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn_internal.h"
#include "ops_rnn_internal.h"
#include "slope/rng.h"

/* The rnn's activation choice, in sl_rnn_act order, as the layer types of the same name. */
static const sl_layer_type rnn_act_types[] = {SL_LAYER_TANH, SL_LAYER_RELU, SL_LAYER_LEAKY_RELU,
                                              SL_LAYER_PRELU};
#define RNN_ACTS ((int)(sizeof rnn_act_types / sizeof rnn_act_types[0]))

const char *sl_nn_rnn_check(sl_layer_spec *s, unsigned given, char *msg, size_t size)
{
    (void)given;
    (void)msg;
    (void)size;
    /* alpha is unset (-1) until now: leaky_relu's 0.01, prelu's initial 0.25 (torch's). */
    if (s->alpha < 0.0f)
        s->alpha = s->act == SL_RNN_PRELU ? 0.25f : 0.01f;
    return NULL;
}

const char *sl_nn_rnn_shape(const sl_layer_spec *s, const sl_sample_shape *in,
                            sl_sample_shape *out)
{
    if (in->ndim != 2)
        return "rnn needs a sequence input [T, F] (steps, features per step); a model input "
               "of [28, 28] reads each [1, 28, 28] image as 28 rows of 28 pixels";
    out->ndim = s->sequence ? 2 : 1;
    out->dim[0] = s->sequence ? in->dim[0] : s->out;
    out->dim[1] = s->sequence ? s->out : 0;
    return NULL;
}

int sl_nn_rnn_param(const sl_layer_spec *s, int k, const sl_sample_shape *in, int64_t *shape)
{
    shape[0] = s->out;
    switch (k) {
    case 0: shape[1] = in->dim[1]; return 2;
    case 1: shape[1] = s->out; return 2;
    case 2: case 3: return s->bias ? 1 : 0;
    default:
        if (s->act != SL_RNN_PRELU)
            return 0;
        shape[0] = s->per_channel ? s->out : 1;
        return 1;
    }
}

/* a * b + c for non-negative counts, saturating at INT64_MAX. */
static int64_t mul_add_sat(int64_t a, int64_t b, int64_t c)
{
    if (b != 0 && a > (INT64_MAX - c) / b)
        return INT64_MAX;
    return a * b + c;
}

/* Per step: x_t W_ih^T (F*H) and h_{t-1} W_hh^T (H*H). */
int64_t sl_nn_rnn_macs(const sl_layer_spec *s, const sl_sample_shape *in,
                       const sl_sample_shape *out)
{
    (void)out;
    int64_t H = s->out, per_step = mul_add_sat(H, in->dim[1] + H, 0);
    return mul_add_sat(per_step, in->dim[0], 0);
}

sl_tensor *sl_nn_rnn_forward(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                             sl_tensor *const *p, int in_place)
{
    (void)in_place;
    return sl_rnn(g, x, p[0], p[1], p[2], p[3], p[4], (sl_rnn_act)s->act, s->alpha,
                  s->sequence, NULL);
}

sl_tensor *sl_nn_rnn_forward_capture(sl_graph *g, const sl_layer_spec *s, sl_tensor *x,
                                     sl_tensor *const *p, sl_tensor **pre, sl_tensor **post)
{
    return sl_rnn_capture(g, x, p[0], p[1], p[2], p[3], p[4], (sl_rnn_act)s->act, s->alpha,
                          s->sequence, pre, post);
}

sl_layer_type sl_nn_rnn_activation(const sl_layer_spec *s)
{
    return s->act >= 0 && s->act < RNN_ACTS ? rnn_act_types[s->act] : SL_LAYER_TYPE_COUNT;
}

sl_status sl_nn_rnn_set_activation(sl_layer_spec *rnn, const sl_layer_spec *act, sl_error *err)
{
    for (int a = 0; a < RNN_ACTS; a++) {
        if (act->type != rnn_act_types[a])
            continue;
        rnn->act = a;
        if (act->type == SL_LAYER_LEAKY_RELU || act->type == SL_LAYER_PRELU)
            rnn->alpha = act->alpha;
        if (act->type == SL_LAYER_PRELU)
            rnn->per_channel = act->per_channel;
        return SL_OK;
    }
    return sl_error_set(err, SL_ERR_CONFIG,
                        "an rnn layer's activation is tanh, relu, leaky_relu or prelu, not %s",
                        sl_layer_type_name(act->type));
}

/* ---- initialisation ---------------------------------------------------------------------- */

static void fill_uniform(sl_tensor *t, sl_rng *r, double bound)
{
    for (int64_t i = 0; i < t->size; i++)
        t->data[i] = (float)((2.0 * sl_rng_uniform(r) - 1.0) * bound);
}

static void fill_identity(sl_tensor *w)
{
    int64_t n = w->shape[0];
    memset(w->data, 0, (size_t)w->size * sizeof *w->data);
    for (int64_t i = 0; i < n; i++)
        w->data[i * n + i] = 1.0f;
}

/* Takes the projections on rows 0..i-1 out of row i (Gram-Schmidt, dots in double); returns
 * its norm before normalising it. */
static double orthogonalise_row(float *w, int64_t n, int64_t i)
{
    float *row = w + i * n;
    for (int64_t j = 0; j < i; j++) {
        const float *q = w + j * n;
        double dot = 0.0;
        for (int64_t k = 0; k < n; k++)
            dot += (double)row[k] * q[k];
        for (int64_t k = 0; k < n; k++)
            row[k] -= (float)(dot * q[k]);
    }
    double norm = 0.0;
    for (int64_t k = 0; k < n; k++)
        norm += (double)row[k] * row[k];
    norm = sqrt(norm);
    for (int64_t k = 0; norm > 0.0 && k < n; k++)
        row[k] = (float)(row[k] / norm);
    return norm;
}

/* A Haar-random orthogonal matrix, as torch.nn.init.orthogonal_ (the Q of a Gaussian
 * matrix's QR with R's diagonal made positive): Gram-Schmidt on Gaussian rows, twice
 * per row so float keeps W W^T = I to rounding; a (never seen) degenerate row is redrawn. */
static void fill_orthogonal(sl_tensor *w, sl_rng *r)
{
    int64_t n = w->shape[0];
    for (int64_t i = 0; i < n; i++) {
        double norm = 0.0;
        while (!(norm > 1e-6)) {
            for (int64_t k = 0; k < n; k++)
                w->data[i * n + k] = sl_rng_normal(r);
            norm = orthogonalise_row(w->data, n, i);
        }
        orthogonalise_row(w->data, n, i);
    }
}

void sl_nn_rnn_fill(const sl_layer_spec *s, int k, sl_tensor *t, sl_rng *r)
{
    double bound = 1.0 / sqrt((double)s->out); /* torch.nn.RNN: every tensor U(+-1/sqrt(H)) */
    int identity = s->recurrent_init == 1;
    if (k == 1 && identity)
        fill_identity(t);
    else if (k == 1 && s->recurrent_init == 2)
        fill_orthogonal(t, r);
    else if ((k == 2 || k == 3) && identity)
        sl_tensor_fill(t, 0.0f); /* IRNN: biases 0 */
    else
        fill_uniform(t, r, bound);
}
