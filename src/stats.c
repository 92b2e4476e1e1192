/*
 * stats.c - dying-neuron statistics over a fixed probe set (see slope/stats.h).
 *
 * A report runs the probe through the model batch by batch, watching each
 * activation layer as forward runs (sl_nn_set_watch: the layers still run in
 * place, so a batch needs no more arena than a training step of that size),
 * and accumulates per unit: how many of its pre-activations were <= 0 (seen
 * before the activation runs), and the sum of |dl/dx| over them (after
 * backward); per layer: the sum, count, range and |x| histogram of the
 * negative pre-activations, and how many outputs were < -1.  The model's
 * gradient buffer is saved before and copied back after, so training never
 * sees the probe.  The batches run in the stats' own graph, whose arena is
 * given back after each report, or in a shared one (sl_stats_share_graph:
 * the trainer's), which is reset and has its modes put back.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "autograd.h"
#include "nn_internal.h"
#include "progress.h"
#include "slope/graph.h"
#include "slope/stats.h"
#include "slope/train.h"

typedef struct act_layer {
    sl_layer_stats st;
    uint8_t *dead, *prev_dead;  /* units each */
    uint8_t *born;              /* units: dead at every report so far */
    int64_t *nonpos;            /* per unit: pre-activations <= 0 this report */
    double *grad_sum;           /* per unit: sum of |dl/dx| this report */
    double *unit_grad;          /* per unit: the mean of the last report */
    float *alpha;               /* PReLU slopes at the last report (n_alpha) */
    const sl_tensor *slopes;    /* the model's PReLU parameter, or NULL */
    int has_grad;               /* some batch gave this layer a gradient */
    /* Where value (example e, unit u, position p) is in a watched tensor, past e's:
     * u * unit_stride + p * pos_stride ([N, C, H*W] for activations, [N, T, H] for an rnn). */
    int64_t unit_stride, pos_stride;
    const sl_tensor *pre;       /* this batch's input tensor, seen by the watch: its grad */
    int seen;                   /* the watch saw this batch's input and output */
    /* Negative growth, this report: pre-activations x < 0 and outputs < -1. */
    double neg_sum;
    int64_t neg_count, below;
    float neg_lo, neg_hi;       /* the most and the least negative x < 0 */
    int64_t *neg_hist;          /* NEG_SLOTS: |x| < 1e-8, the log bins, |x| >= 1e8 */
} act_layer;

/* The negative-growth histogram (slope/stats.h): SL_STATS_NEG_BINS log bins of |x| over
 * [1e-8, 1e8), NEG_PER_DECADE a decade, with an underflow slot first and an overflow last. */
#define NEG_SLOTS (SL_STATS_NEG_BINS + 2)
#define NEG_PER_DECADE (SL_STATS_NEG_BINS / 16)
#define NEG_LOG10_MIN (-8.0)

struct sl_stats {
    sl_model *model;            /* borrowed */
    const sl_dataset *probe;    /* borrowed */
    int64_t batch_size, count;
    sl_loss_kind loss;
    sl_graph *own_graph;        /* sl_stats_new's; NULL while sharing one */
    sl_graph *graph;            /* where reports run: own_graph or the shared graph */
    int64_t batch_n;            /* examples in the batch forward is running */
    int watch_failed;           /* the watch saw a layer tensor of another size */
    float *x;                   /* one batch of inputs */
    int32_t *labels;
    sl_tensor *input;           /* view over x */
    float *saved_grad;          /* the model's gradients during a report */
    int64_t n_grad;
    act_layer *layers;
    size_t n_layers;
    int reports, epoch;
    int64_t step;
};

/* ---- construction --------------------------------------------------------------- */

static int64_t shape_product(const int64_t *shape, int from, int ndim)
{
    int64_t n = 1;
    for (int d = from; d < ndim; d++)
        n *= shape[d];
    return n;
}

/* The layer's learnable slopes: the parameter its row names (PReLU's "weight"), or NULL. */
static const sl_tensor *find_slopes(const sl_model *m, int layer)
{
    const sl_layer_def *d = sl_layer_def_of(sl_model_layer(m, (size_t)layer)->type);
    char name[192];
    if (!d || !d->slope_param)
        return NULL;
    snprintf(name, sizeof name, "%s.%s", sl_model_layer_name(m, (size_t)layer), d->slope_param);
    const sl_param *par = sl_model_find_param(m, name);
    return par ? par->tensor : NULL;
}

/* Sets up activation layer `index` of the model; 0 when out of memory. */
static int act_layer_init(act_layer *a, const sl_model *m, int index)
{
    int64_t shape[4];
    int ndim = sl_model_layer_input_shape(m, (size_t)index, shape);
    memset(a, 0, sizeof *a);
    a->st.layer = index;
    snprintf(a->st.name, sizeof a->st.name, "%s", sl_model_layer_name(m, (size_t)index));
    const sl_layer_spec *spec = sl_model_layer(m, (size_t)index);
    a->st.type = spec->type;
    a->st.act = sl_layer_activation_of(spec);
    a->st.units = shape[0];
    a->st.positions = shape_product(shape, 1, ndim);
    a->unit_stride = a->st.positions;
    a->pos_stride = 1;
    if (!sl_layer_is_activation(spec->type)) {
        /* A layer with its own activation (rnn): its out units, at each of its input's
         * steps, captured as [N, T, units]. */
        a->st.units = spec->out;
        a->st.positions = shape[0];
        a->unit_stride = 1;
        a->pos_stride = spec->out;
    }
    a->st.grad_mean_abs = NAN;
    a->slopes = find_slopes(m, index);
    a->st.n_alpha = a->slopes ? a->slopes->size : 0;
    size_t u = (size_t)a->st.units;
    a->dead = sl_calloc(u, 1);
    a->prev_dead = sl_calloc(u, 1);
    a->born = sl_calloc(u, 1);
    a->nonpos = sl_calloc(u, sizeof *a->nonpos);
    a->grad_sum = sl_calloc(u, sizeof *a->grad_sum);
    a->unit_grad = sl_calloc(u, sizeof *a->unit_grad);
    a->alpha = sl_calloc(a->st.n_alpha ? (size_t)a->st.n_alpha : 1, sizeof *a->alpha);
    a->neg_hist = sl_calloc(NEG_SLOTS, sizeof *a->neg_hist);
    a->st.neg_mean = NAN;
    a->st.neg_p01 = NAN;
    for (size_t k = 0; a->unit_grad && k < u; k++)
        a->unit_grad[k] = NAN;
    return a->dead && a->prev_dead && a->born && a->nonpos && a->grad_sum && a->unit_grad && a->alpha &&
           a->neg_hist;
}

static void act_layer_free(act_layer *a)
{
    sl_free(a->dead);
    sl_free(a->prev_dead);
    sl_free(a->born);
    sl_free(a->nonpos);
    sl_free(a->grad_sum);
    sl_free(a->unit_grad);
    sl_free(a->alpha);
    sl_free(a->neg_hist);
}

static sl_status check_probe(const sl_model *m, const sl_dataset *probe, sl_error *err)
{
    int64_t in[4];
    int ndim = sl_model_layer_shape(m, -1, in);
    int64_t features = shape_product(in, 0, ndim);
    if (sl_dataset_sample_size(probe) != features)
        return sl_error_set(err, SL_ERR_SHAPE,
                            "stats: probe %s has %lld features per sample but the model takes %lld",
                            sl_dataset_name(probe), (long long)sl_dataset_sample_size(probe),
                            (long long)features);
    return SL_OK;
}

/* Allocates the batch buffers and the input view [batch, model input...]. */
static sl_status alloc_batch(sl_stats *s, sl_error *err)
{
    int64_t in[4], shape[4];
    int ndim = sl_model_layer_shape(s->model, -1, in);
    int64_t sample = shape_product(in, 0, ndim);
    shape[0] = s->batch_size;
    memcpy(shape + 1, in, (size_t)ndim * sizeof *in);
    s->x = sl_malloc((size_t)(s->batch_size * sample) * sizeof *s->x);
    s->labels = sl_malloc((size_t)s->batch_size * sizeof *s->labels);
    s->saved_grad = sl_malloc((size_t)(s->n_grad ? s->n_grad : 1) * sizeof *s->saved_grad);
    if (!s->x || !s->labels || !s->saved_grad)
        return sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory for the probe buffers");
    s->input = sl_tensor_wrap(s->x, ndim + 1, shape, err);
    return s->input ? SL_OK : (err ? err->status : SL_ERR_NOMEM);
}

static sl_status alloc_layers(sl_stats *s, sl_error *err)
{
    size_t n = sl_model_num_layers(s->model), k = 0;
    for (size_t i = 0; i < n; i++)
        k += sl_layer_activation_of(sl_model_layer(s->model, i)) != SL_LAYER_TYPE_COUNT;
    s->layers = sl_calloc(k ? k : 1, sizeof *s->layers);
    if (!s->layers)
        return sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (sl_layer_activation_of(sl_model_layer(s->model, i)) == SL_LAYER_TYPE_COUNT)
            continue;
        int ok = act_layer_init(&s->layers[s->n_layers], s->model, (int)i);
        s->n_layers++;
        if (!ok)
            return sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory");
    }
    return SL_OK;
}

sl_stats *sl_stats_new(sl_model *model, const sl_dataset *probe, int64_t batch_size,
                       sl_loss_kind loss, sl_error *err)
{
    if (!model || !probe || batch_size < 1) {
        sl_error_set(err, SL_ERR_INVALID, "sl_stats_new: NULL model or probe, or batch_size < 1");
        return NULL;
    }
    if ((unsigned)loss > (unsigned)SL_LOSS_MSE) {
        sl_error_set(err, SL_ERR_INVALID, "sl_stats_new: unknown loss kind %d", (int)loss);
        return NULL;
    }
    if (!sl_model_flat_params(model, NULL) || sl_model_num_layers(model) == 0) {
        sl_error_set(err, SL_ERR_INVALID, "sl_stats_new: the model is not initialised");
        return NULL;
    }
    if (check_probe(model, probe, err) != SL_OK)
        return NULL;
    sl_stats *s = sl_calloc(1, sizeof *s);
    if (!s) {
        sl_error_set(err, SL_ERR_NOMEM, "stats: out of memory");
        return NULL;
    }
    s->model = model;
    s->probe = probe;
    s->count = sl_dataset_count(probe);
    s->batch_size = batch_size < s->count ? batch_size : s->count;
    s->loss = loss;
    sl_model_flat_grads(model, &s->n_grad);
    s->graph = s->own_graph = sl_graph_new(0, err);
    if (!s->graph || alloc_batch(s, err) != SL_OK || alloc_layers(s, err) != SL_OK) {
        sl_stats_free(s);
        return NULL;
    }
    return s;
}

void sl_stats_free(sl_stats *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_layers; i++)
        act_layer_free(&s->layers[i]);
    sl_free(s->layers);
    sl_tensor_free(s->input);
    sl_free(s->x);
    sl_free(s->labels);
    sl_free(s->saved_grad);
    sl_graph_free(s->own_graph);
    sl_free(s);
}

sl_status sl_stats_share_graph(sl_stats *s, sl_graph *g, sl_error *err)
{
    if (!s)
        return sl_error_set(err, SL_ERR_INVALID, "sl_stats_share_graph: stats is NULL");
    if (!g && !s->own_graph) {
        s->own_graph = sl_graph_new(0, err);
        if (!s->own_graph)
            return err ? err->status : SL_ERR_NOMEM;
    }
    if (g) {
        sl_graph_free(s->own_graph);
        s->own_graph = NULL;
    }
    s->graph = g ? g : s->own_graph;
    return SL_OK;
}

/* ---- one report ----------------------------------------------------------------- */

static void reset_accumulators(sl_stats *s)
{
    for (size_t i = 0; i < s->n_layers; i++) {
        act_layer *a = &s->layers[i];
        memset(a->nonpos, 0, (size_t)a->st.units * sizeof *a->nonpos);
        memset(a->grad_sum, 0, (size_t)a->st.units * sizeof *a->grad_sum);
        memset(a->neg_hist, 0, NEG_SLOTS * sizeof *a->neg_hist);
        a->has_grad = 0;
        a->neg_sum = 0.0;
        a->neg_count = a->below = 0;
        a->neg_lo = INFINITY;
        a->neg_hi = -INFINITY;
    }
}

/* Adds one batch's pre-activations x <= 0 per unit (n examples). */
static void accumulate_nonpos(act_layer *a, const float *x, int64_t n)
{
    int64_t units = a->st.units, pos = a->st.positions;
    int64_t us = a->unit_stride, ps = a->pos_stride;
    for (int64_t e = 0; e < n; e++) {
        for (int64_t u = 0; u < units; u++) {
            int64_t off = e * units * pos + u * us, nonpos = 0;
            for (int64_t p = 0; p < pos; p++)
                nonpos += x[off + p * ps] <= 0.0f;
            a->nonpos[u] += nonpos;
        }
    }
}

/* Adds one batch's |dl/dx| per unit (n examples), scaled per example; g may be NULL. */
static void accumulate_grad(act_layer *a, const float *g, int64_t n, double scale)
{
    int64_t units = a->st.units, pos = a->st.positions;
    int64_t us = a->unit_stride, ps = a->pos_stride;
    a->has_grad |= g != NULL;
    for (int64_t e = 0; g && e < n; e++) {
        for (int64_t u = 0; u < units; u++) {
            int64_t off = e * units * pos + u * us;
            double gsum = 0.0;
            for (int64_t p = 0; p < pos; p++)
                gsum += fabs((double)g[off + p * ps]);
            a->grad_sum[u] += gsum * scale;
        }
    }
}

/* The histogram slot of a negative value v: 0 below 1e-8 in size, NEG_SLOTS - 1 from 1e8. */
static int neg_slot(float v)
{
    float m = -v;
    if (m < 1e-8f)
        return 0;
    if (!(m < 1e8f))
        return NEG_SLOTS - 1;
    int b = (int)((log10f(m) - (float)NEG_LOG10_MIN) * (float)NEG_PER_DECADE);
    b = b < 0 ? 0 : b >= SL_STATS_NEG_BINS ? SL_STATS_NEG_BINS - 1 : b;
    return 1 + b;
}

/* Adds one batch's negative pre-activations x (count values). */
static void accumulate_negative(act_layer *a, const float *x, int64_t count)
{
    double sum = 0.0;
    int64_t neg = 0;
    for (int64_t i = 0; i < count; i++) {
        float v = x[i];
        if (!(v < 0.0f))
            continue;
        sum += v;
        neg++;
        a->neg_hist[neg_slot(v)]++;
        a->neg_lo = v < a->neg_lo ? v : a->neg_lo;
        a->neg_hi = v > a->neg_hi ? v : a->neg_hi;
    }
    a->neg_sum += sum;
    a->neg_count += neg;
}

/* Adds one batch's outputs y < -1 (count values). */
static void accumulate_below(act_layer *a, const float *y, int64_t count)
{
    int64_t below = 0;
    for (int64_t i = 0; i < count; i++)
        below += y[i] < -1.0f;
    a->below += below;
}

static act_layer *layer_of(sl_stats *s, size_t model_layer)
{
    for (size_t i = 0; i < s->n_layers; i++)
        if ((size_t)s->layers[i].st.layer == model_layer)
            return &s->layers[i];
    return NULL;
}

/* The model's watch (sl_nn_set_watch): an activation's input before it runs, then its output. */
static void watch(void *user, size_t layer, const sl_tensor *t, int output)
{
    sl_stats *s = user;
    act_layer *a = layer_of(s, layer);
    if (!a)
        return;
    int64_t size = s->batch_n * a->st.units * a->st.positions;
    if (t->size != size) {
        s->watch_failed = 1;
        return;
    }
    if (!output) {
        a->pre = t;
        accumulate_nonpos(a, t->data, s->batch_n);
        accumulate_negative(a, t->data, size);
    } else if (a->pre) {
        accumulate_below(a, t->data, size);
        a->seen = 1;
    }
}

static sl_status probe_batch(sl_stats *s, int64_t first, int64_t n, sl_error *err)
{
    sl_status st = sl_dataset_read(s->probe, first, n, s->x, s->labels, err);
    if (st != SL_OK)
        return st;
    sl_graph *g = s->graph;
    sl_graph_reset(g);
    s->input->size = s->input->size / s->input->shape[0] * n;
    s->input->shape[0] = n;
    s->batch_n = n;
    s->watch_failed = 0;
    for (size_t i = 0; i < s->n_layers; i++) {
        s->layers[i].pre = NULL;
        s->layers[i].seen = 0;
    }
    sl_tensor *out = sl_model_forward(s->model, g, s->input);
    sl_tensor *loss = sl_loss(g, out, s->labels, s->loss);
    if (!loss)
        return sl_graph_take_error(g, err);
    if ((loss->flags & SL_TENSOR_REQUIRES_GRAD) && sl_backward(g, loss) != SL_OK)
        return sl_graph_take_error(g, err);
    for (size_t i = 0; i < s->n_layers; i++) {
        act_layer *a = &s->layers[i];
        if (s->watch_failed || !a->seen)
            return sl_error_set(err, SL_ERR_STATE, "stats: layer %d was not seen in forward",
                                a->st.layer);
        accumulate_grad(a, a->pre->grad, n, (double)n);
    }
    return SL_OK;
}

/* The probe in batches; a shared graph gets its modes back, the own graph gives its arena
 * back (a report is rare: its memory is not held between reports). */
static sl_status run_probe(sl_stats *s, sl_error *err)
{
    int training = sl_graph_set_training(s->graph, 0);
    int grad = sl_graph_set_grad_enabled(s->graph, 1);
    sl_nn_set_watch(s->model, watch, s);
    sl_status st = SL_OK;
    for (int64_t first = 0; st == SL_OK && first < s->count; first += s->batch_size) {
        int64_t n = s->count - first < s->batch_size ? s->count - first : s->batch_size;
        st = probe_batch(s, first, n, err);
        if (st == SL_OK)
            sl_progress_report(first + n, s->count);
    }
    sl_nn_set_watch(s->model, NULL, NULL);
    sl_graph_reset(s->graph);
    sl_graph_set_training(s->graph, training);
    sl_graph_set_grad_enabled(s->graph, grad);
    if (s->graph == s->own_graph)
        sl_ag_release_arena(s->graph);
    return st;
}

static void alpha_summary(act_layer *a)
{
    if (!a->slopes)
        return;
    double sum = 0.0, lo = INFINITY, hi = -INFINITY;
    for (int64_t k = 0; k < a->st.n_alpha; k++) {
        float v = a->slopes->data[k];
        a->alpha[k] = v;
        sum += v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    a->st.alpha_mean = sum / (double)a->st.n_alpha;
    a->st.alpha_min = lo;
    a->st.alpha_max = hi;
}

/*
 * The nearest-rank 1st percentile of the negative values from the histogram: the k-th most
 * negative, k = ceil(n / 100), found walking |x| down from the overflow slot; its bin's
 * geometric centre, clamped to the exact range seen.
 */
static double neg_percentile(const act_layer *a)
{
    if (a->neg_count == 0)
        return NAN;
    int64_t k = (a->neg_count + 99) / 100, seen = 0;
    int slot = NEG_SLOTS - 1;
    for (; slot > 0; slot--) {
        seen += a->neg_hist[slot];
        if (seen >= k)
            break;
    }
    double v;
    if (slot == NEG_SLOTS - 1)
        v = a->neg_lo;
    else if (slot == 0)
        v = -1e-8;
    else
        v = -pow(10.0, NEG_LOG10_MIN + ((double)(slot - 1) + 0.5) / NEG_PER_DECADE);
    v = v < a->neg_lo ? a->neg_lo : v;
    return v > a->neg_hi ? a->neg_hi : v;
}

/* Turns the accumulators into the report; first: no previous report to compare with. */
static void finish_layer(act_layer *a, int64_t count, int first)
{
    int64_t per_unit = count * a->st.positions, dead = 0, died = 0, revived = 0, nonpos = 0;
    int64_t born = 0;
    double gsum = 0.0;
    memcpy(a->prev_dead, a->dead, (size_t)a->st.units);
    for (int64_t u = 0; u < a->st.units; u++) {
        uint8_t d = a->nonpos[u] == per_unit;
        dead += d;
        died += !first && d && !a->prev_dead[u];
        revived += !first && !d && a->prev_dead[u];
        nonpos += a->nonpos[u];
        gsum += a->grad_sum[u];
        a->dead[u] = d;
        a->born[u] = (uint8_t)(d && (first || a->born[u]));
        born += a->born[u];
        a->unit_grad[u] = a->has_grad ? a->grad_sum[u] / (double)per_unit : NAN;
    }
    a->st.dead = dead;
    a->st.dead_frac = (double)dead / (double)a->st.units;
    a->st.sparsity = (double)nonpos / ((double)per_unit * (double)a->st.units);
    a->st.died = died;
    a->st.revived = revived;
    a->st.born_dead = born;
    a->st.grad_mean_abs = a->has_grad ? gsum / ((double)per_unit * (double)a->st.units) : NAN;
    a->st.neg_mean = a->neg_count ? a->neg_sum / (double)a->neg_count : NAN;
    a->st.neg_p01 = neg_percentile(a);
    a->st.below_minus1 = (double)a->below / ((double)per_unit * (double)a->st.units);
    alpha_summary(a);
}

sl_status sl_stats_measure(sl_stats *s, int epoch, int64_t step, sl_error *err)
{
    if (!s)
        return sl_error_set(err, SL_ERR_INVALID, "sl_stats_measure: stats is NULL");
    float *grads = sl_model_flat_grads(s->model, NULL);
    memcpy(s->saved_grad, grads, (size_t)s->n_grad * sizeof *grads);
    reset_accumulators(s);
    sl_status st = run_probe(s, err);
    memcpy(grads, s->saved_grad, (size_t)s->n_grad * sizeof *grads);
    if (st != SL_OK)
        return st;
    for (size_t i = 0; i < s->n_layers; i++)
        finish_layer(&s->layers[i], s->count, s->reports == 0);
    s->reports++;
    s->epoch = epoch;
    s->step = step;
    return SL_OK;
}

/* ---- queries ------------------------------------------------------------------------ */

int sl_stats_reports(const sl_stats *s) { return s ? s->reports : 0; }
int sl_stats_epoch(const sl_stats *s) { return s ? s->epoch : 0; }
int64_t sl_stats_step(const sl_stats *s) { return s ? s->step : 0; }
int64_t sl_stats_probe_count(const sl_stats *s) { return s ? s->count : 0; }
size_t sl_stats_num_layers(const sl_stats *s) { return s ? s->n_layers : 0; }

static const act_layer *layer_at(const sl_stats *s, size_t i)
{
    return s && i < s->n_layers ? &s->layers[i] : NULL;
}

const sl_layer_stats *sl_stats_layer(const sl_stats *s, size_t i)
{
    const act_layer *a = layer_at(s, i);
    return a ? &a->st : NULL;
}

const uint8_t *sl_stats_dead_mask(const sl_stats *s, size_t i)
{
    const act_layer *a = layer_at(s, i);
    return a ? a->dead : NULL;
}

const double *sl_stats_unit_grad(const sl_stats *s, size_t i)
{
    const act_layer *a = layer_at(s, i);
    return a ? a->unit_grad : NULL;
}

const float *sl_stats_alpha(const sl_stats *s, size_t i)
{
    const act_layer *a = layer_at(s, i);
    return a && a->slopes ? a->alpha : NULL;
}

sl_status sl_stats_alpha_histogram(const sl_stats *s, size_t i, double lo, double hi, int bins,
                                   int64_t *counts, sl_error *err)
{
    const act_layer *a = layer_at(s, i);
    if (!a || !a->slopes || !counts || bins < 1 || !(hi > lo))
        return sl_error_set(err, SL_ERR_INVALID,
                            "sl_stats_alpha_histogram: needs a PReLU layer, counts, bins >= 1 "
                            "and hi > lo");
    memset(counts, 0, (size_t)bins * sizeof *counts);
    for (int64_t k = 0; k < a->st.n_alpha; k++) {
        double t = ((double)a->alpha[k] - lo) / (hi - lo) * bins;
        int b = t < 0.0 ? 0 : t >= bins ? bins - 1 : (int)t;
        counts[b]++;
    }
    return SL_OK;
}
